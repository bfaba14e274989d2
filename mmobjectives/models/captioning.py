"""Image → text models trained with cross-entropy: notebook 02.

:class:`Captioner` generates a caption word by word (sequence cross-entropy with teacher forcing; greedy and beam
decoding); :class:`VQAModel` answers a question about an image by classification over a fixed answer vocabulary.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .._checks import check_choice, check_images, check_int, check_real
from ._common import check_token_ids
from .encoders import ImageEncoder, TextEncoder
from .mlp import MLP

__all__ = ["Captioner", "VQAModel"]


class Captioner(nn.Module):
    r"""An image captioner: a CNN encodes the image, a GRU decodes the caption word by word. Notebook 02.

    The image feature :math:`v = \text{ImageEncoder}(I)` (size ``hidden``) does two jobs: :math:`\tanh(v)` is
    the GRU's initial hidden state, and :math:`v` is concatenated to every input word embedding (the decoder is
    reminded of the image at every step, which makes it learn faster). A linear layer maps each hidden state to
    logits over the vocabulary: the model is :math:`p(w_{t+1} \mid w_{\le t}, I)`, trained by maximum
    likelihood (cross-entropy on the next word).

    **The shift (teacher forcing).** With ``tokens`` the full captions ``<bos> w_1 ... w_n <eos> <pad>...``
    (B, T), feed the caption without its last token and predict the caption without its first::

        logits = model(images, tokens[:, :-1])                    # (B, T-1, V)
        loss = losses.sequence_cross_entropy(logits, tokens[:, 1:], ignore_index=pad_id)

    ``logits[:, t]`` sees ``tokens_in[:, :t+1]`` only (the GRU is causal) and predicts token ``t+1`` of the full
    caption. Padding targets are ignored.

    **Decoding** (``generate``): ``"greedy"`` takes the most likely word at each step; ``"beam"`` keeps the
    ``beam_size`` prefixes of highest total log-probability. Beam search usually finds captions of higher
    ``sequence_log_prob`` than greedy decoding, but is not guaranteed to.

    Args:
        vocab_size: number of token ids (``Tokenizer().vocab_size``).
        image_size: image width, passed to :class:`ImageEncoder`.
        embed_dim: word embedding size.
        hidden: image feature size = GRU hidden size.
        pad_id, bos_id, eos_id: the special tokens (``Tokenizer``'s 0, 1, 2).
    """

    def __init__(
        self,
        vocab_size: int,
        *,
        image_size: int = 8,
        embed_dim: int = 64,
        hidden: int = 128,
        pad_id: int = 0,
        bos_id: int = 1,
        eos_id: int = 2,
    ) -> None:
        super().__init__()
        self.vocab_size = check_int(vocab_size, "vocab_size", minimum=3)
        embed_dim = check_int(embed_dim, "embed_dim", minimum=1)
        hidden = check_int(hidden, "hidden", minimum=1)
        specials = {"pad_id": pad_id, "bos_id": bos_id, "eos_id": eos_id}
        for name, value in specials.items():
            if check_int(value, name, minimum=0) >= self.vocab_size:
                raise ValueError(f"{name} must be < vocab_size = {self.vocab_size}, got {value}")
        if len(set(specials.values())) != 3:
            raise ValueError(f"pad_id, bos_id and eos_id must be three different ids, got {pad_id}, {bos_id}, {eos_id}")
        self.pad_id, self.bos_id, self.eos_id = int(pad_id), int(bos_id), int(eos_id)
        self.image_encoder = ImageEncoder(out_dim=hidden, image_size=image_size)
        self.embed = nn.Embedding(self.vocab_size, embed_dim, padding_idx=self.pad_id)
        self.decoder = nn.GRU(embed_dim + hidden, hidden, num_layers=1, batch_first=True)
        self.to_logits = nn.Linear(hidden, self.vocab_size)

    def _decode(
        self, feature: torch.Tensor, tokens_in: torch.Tensor, state: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Run the GRU over ``tokens_in`` (B, T) from ``state`` (1, B, hidden): logits (B, T, V) and the new state."""
        words = self.embed(tokens_in)  # (B, T, embed_dim)
        inputs = torch.cat([words, feature[:, None, :].expand(-1, words.shape[1], -1)], dim=-1)  # (B, T, E + hidden)
        outputs, state = self.decoder(inputs, state)  # (B, T, hidden), (1, B, hidden)
        return self.to_logits(outputs), state  # (B, T, V)

    def forward(self, images: torch.Tensor, tokens_in: torch.Tensor) -> torch.Tensor:
        """Teacher-forced logits (B, T, V): ``logits[:, t]`` predicts the token after ``tokens_in[:, t]``."""
        images = check_images(images)
        tokens_in = check_token_ids(tokens_in, "tokens_in", self.vocab_size, batch=images.shape[0])
        feature = self.image_encoder(images)
        logits, _ = self._decode(feature, tokens_in, torch.tanh(feature)[None])
        return logits

    def sequence_log_prob(self, images: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
        r"""Total log-probability (B,) of full captions ``<bos> w_1 ... <eos> <pad>...``: :math:`\sum_t \log
        p(w_{t+1} \mid w_{\le t}, I)`, padding ignored. Prepend ``<bos>`` to ``generate``'s output to score it."""
        images = check_images(images)
        tokens = check_token_ids(tokens, "tokens", self.vocab_size, batch=images.shape[0])
        if tokens.shape[1] < 2:
            raise ValueError(f"tokens must hold at least <bos> and one word per row, got shape {tuple(tokens.shape)}")
        log_probs = F.log_softmax(self(images, tokens[:, :-1]), dim=-1)
        targets = tokens[:, 1:]
        picked = log_probs.gather(-1, targets.unsqueeze(-1)).squeeze(-1)
        return (picked * (targets != self.pad_id).to(picked.dtype)).sum(dim=1)

    def generate(
        self,
        images: torch.Tensor,
        max_len: int = 16,
        strategy: str = "greedy",
        beam_size: int = 4,
        length_penalty: float = 0.0,
    ) -> torch.Tensor:
        r"""Captions (B, L) of token ids, L <= ``max_len``: without ``<bos>``, ending with ``<eos>`` where the model
        stopped (a caption cut at ``max_len`` has none), then ``pad_id``. L is the longest caption's length.

        ``strategy="greedy"`` or ``"beam"`` (``beam_size`` hypotheses per image; finished ones stay in the beam).
        The beam's winner maximises :math:`\log p(\text{caption}) / L^{\alpha}` with :math:`\alpha` =
        ``length_penalty`` and L the caption's length including ``<eos>``: 0 (default) compares total
        log-probabilities, which favours short captions; 1 compares per-token averages. ``<pad>`` and ``<bos>``
        are never generated. Runs without gradients and in eval mode; the training flag is restored after.
        """
        images = check_images(images)
        max_len = check_int(max_len, "max_len", minimum=1)
        check_choice(strategy, "strategy", ("greedy", "beam"))
        beam_size = check_int(beam_size, "beam_size", minimum=1)
        length_penalty = check_real(length_penalty, "length_penalty")
        if length_penalty < 0:
            raise ValueError(f"length_penalty must be >= 0, got {length_penalty}")
        was_training = self.training
        self.eval()
        try:
            with torch.no_grad():
                if strategy == "greedy":
                    captions = self._greedy(images, max_len)
                else:
                    captions = self._beam(images, max_len, beam_size, length_penalty)
        finally:
            self.train(was_training)
        length = int((captions != self.pad_id).sum(dim=1).max()) if captions.numel() else 0
        return captions[:, : max(length, 1)]

    def _next_log_probs(
        self, feature: torch.Tensor, token: torch.Tensor, state: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """One decoding step: log-probabilities (B, V) of the next token, with <pad> and <bos> ruled out."""
        logits, state = self._decode(feature, token[:, None], state)
        log_probs = F.log_softmax(logits[:, 0], dim=-1)
        log_probs[:, [self.pad_id, self.bos_id]] = -math.inf  # excluded, not renormalised: scores stay exact
        return log_probs, state

    def _greedy(self, images: torch.Tensor, max_len: int) -> torch.Tensor:
        feature = self.image_encoder(images)
        state = torch.tanh(feature)[None]
        token = torch.full((images.shape[0],), self.bos_id, dtype=torch.long, device=images.device)
        finished = torch.zeros_like(token, dtype=torch.bool)
        out = []
        for _ in range(max_len):
            log_probs, state = self._next_log_probs(feature, token, state)
            token = log_probs.argmax(dim=-1).masked_fill(finished, self.pad_id)
            out.append(token)
            finished = finished | (token == self.eos_id)
            if bool(finished.all()):
                break
        return torch.stack(out, dim=1)

    def _beam(self, images: torch.Tensor, max_len: int, k: int, length_penalty: float) -> torch.Tensor:
        b, v = images.shape[0], self.vocab_size
        feature = self.image_encoder(images).repeat_interleave(k, dim=0)  # (B*K, hidden): K beams per image
        state = torch.tanh(feature)[None]
        token = torch.full((b * k,), self.bos_id, dtype=torch.long, device=images.device)
        scores = torch.zeros(b, k, device=images.device)
        scores[:, 1:] = -math.inf  # all beams start equal: keep one, or the first step picks K copies
        finished = torch.zeros(b, k, dtype=torch.bool, device=images.device)
        sequences = torch.zeros(b, k, 0, dtype=torch.long, device=images.device)
        only_pad = torch.full((v,), -math.inf, device=images.device)
        only_pad[self.pad_id] = 0.0  # a finished hypothesis can only append <pad>, at no cost
        for _ in range(max_len):
            log_probs, state = self._next_log_probs(feature, token, state)
            log_probs = torch.where(finished[..., None], only_pad, log_probs.view(b, k, v))
            candidates = (scores[..., None] + log_probs).view(b, k * v)  # every one-token extension
            scores, index = candidates.topk(k, dim=1)
            parent, token = index // v, index % v  # which beam it extends, with which token
            sequences = torch.cat([sequences.gather(1, parent[..., None].expand_as(sequences)), token[..., None]], 2)
            finished = finished.gather(1, parent) | (token == self.eos_id)
            rows = (parent + k * torch.arange(b, device=images.device)[:, None]).view(-1)
            state, token = state[:, rows], token.view(-1)
            if bool(finished.all()):
                break
        lengths = (sequences != self.pad_id).sum(dim=2).clamp_min(1).to(scores.dtype)
        best = (scores / lengths**length_penalty).argmax(dim=1)
        return sequences[torch.arange(b, device=images.device), best]


class VQAModel(nn.Module):
    r"""Visual question answering as classification over a fixed answer vocabulary. Notebook 02.

    The image (:class:`ImageEncoder`) and the question (a bag-of-words :class:`TextEncoder` over its token ids)
    are each embedded in ``hidden`` dimensions, fused as :math:`[v, q, v \odot q]` (concatenation and
    elementwise product: the product lets the question gate which image features matter) and an MLP maps the
    fusion to answer logits (B, n_answers). Train it with cross-entropy against the answer index (a VQA answer
    head): ``F.cross_entropy(model(images, question_tokens), answers)``.

    A bag of words ignores word order: enough for questions told apart by their words ("what digit is it",
    "is it thick").

    Args:
        vocab_size: number of token ids of the questions.
        n_answers: size of the answer vocabulary.
        image_size: image width, passed to :class:`ImageEncoder`.
        embed_dim: word embedding size; hidden: image/question embedding size and MLP width.
        pad_id: the padding id, ignored by the question encoder.
    """

    def __init__(
        self,
        vocab_size: int,
        n_answers: int,
        *,
        image_size: int = 8,
        embed_dim: int = 64,
        hidden: int = 128,
        pad_id: int = 0,
    ) -> None:
        super().__init__()
        self.vocab_size = check_int(vocab_size, "vocab_size", minimum=1)
        self.n_answers = check_int(n_answers, "n_answers", minimum=1)
        hidden = check_int(hidden, "hidden", minimum=1)
        if check_int(pad_id, "pad_id", minimum=0) >= self.vocab_size:
            raise ValueError(f"pad_id must be < vocab_size = {self.vocab_size}, got {pad_id}")
        self.image_encoder = ImageEncoder(out_dim=hidden, image_size=image_size)
        self.question_encoder = TextEncoder(
            vocab_size, out_dim=hidden, embed_dim=embed_dim, hidden=hidden, pad_id=pad_id
        )
        self.head = MLP(3 * hidden, self.n_answers, (hidden,))

    def forward(self, images: torch.Tensor, question_tokens: torch.Tensor) -> torch.Tensor:
        """Answer logits (B, n_answers) for images (B, 1, H, W) and question token ids (B, T)."""
        images = check_images(images)
        question_tokens = check_token_ids(question_tokens, "question_tokens", self.vocab_size, batch=images.shape[0])
        v = self.image_encoder(images)  # (B, hidden)
        q = self.question_encoder(question_tokens)  # (B, hidden)
        return self.head(torch.cat([v, q, v * q], dim=-1))
