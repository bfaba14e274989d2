"""Small ``nn.Module``s the notebooks train: each readable in one sitting.

Notebook 00 introduces :class:`MLP`; later notebooks add a dual encoder (01), a captioner (02), score networks
(03, 04) and a tiny causal transformer (05).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ._checks import check_choice, check_int, check_positive, check_real, describe

__all__ = [
    "MLP",
    "Captioner",
    "ConditionalEpsNet",
    "DualEncoder",
    "ImageEncoder",
    "NGramModel",
    "ScoreNet",
    "SeparableCritic",
    "TextConditionedEpsNet",
    "TextEncoder",
    "TinyGPT",
    "VQAModel",
]

_ACTIVATIONS = {"silu": nn.SiLU, "relu": nn.ReLU, "gelu": nn.GELU, "tanh": nn.Tanh}


class MLP(nn.Module):
    """A multilayer perceptron ``in_dim → hidden... → out_dim`` with an activation between layers.

    Args:
        in_dim: input features.
        out_dim: output features.
        hidden: widths of the hidden layers, e.g. ``(128, 128)``; empty for a linear model.
        activation: ``"silu"`` (smooth, good for score models whose derivative matters), ``"relu"``, ``"gelu"``
            or ``"tanh"``.
    """

    def __init__(self, in_dim: int, out_dim: int, hidden: Sequence[int] = (128, 128), activation: str = "silu") -> None:
        super().__init__()
        in_dim = check_int(in_dim, "in_dim", minimum=1)
        out_dim = check_int(out_dim, "out_dim", minimum=1)
        widths = [check_int(h, "hidden[i]", minimum=1) for h in hidden]
        if activation not in _ACTIVATIONS:
            raise ValueError(f"activation must be one of {tuple(_ACTIVATIONS)}, got {activation!r}")
        layers: list[nn.Module] = []
        sizes = [in_dim, *widths, out_dim]
        for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
            layers.append(nn.Linear(a, b))
            if i < len(sizes) - 2:
                layers.append(_ACTIVATIONS[activation]())
        self.net = nn.Sequential(*layers)
        self.in_dim, self.out_dim = in_dim, out_dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"x must be a tensor, got {describe(x)}")
        if x.shape[-1] != self.in_dim:
            raise ValueError(f"x must have {self.in_dim} features in its last dimension, got shape {tuple(x.shape)}")
        return self.net(x)


class DualEncoder(nn.Module):
    r"""Two encoders into one embedding space, with a (learnable) temperature, as in CLIP. Notebook 01.

    ``forward(a, b)`` returns ``(z_a, z_b, temperature)``: L2-normalised embeddings of both modalities and
    :math:`\tau`, ready for ``losses.info_nce(z_a, z_b, temperature)``.

    The temperature is stored as CLIP stores it, as the log of the logit scale, :math:`\log(1/\tau)`, so it stays
    positive and is learned on a log scale. The logit scale :math:`1/\tau` is clamped at ``max_logit_scale`` = 100
    (CLIP's clamp): without it the scale can grow until training becomes unstable.

    Args:
        encoder_a, encoder_b: modules mapping each modality to (N, D) features (same D).
        init_temperature: :math:`\tau` at initialisation (CLIP: 0.07).
        learn_temperature: make :math:`\log(1/\tau)` a parameter; otherwise a fixed buffer.
        max_logit_scale: the clamp on :math:`1/\tau`.
    """

    def __init__(
        self,
        encoder_a: nn.Module,
        encoder_b: nn.Module,
        init_temperature: float = 0.07,
        learn_temperature: bool = True,
        max_logit_scale: float = 100.0,
    ) -> None:
        super().__init__()
        if not isinstance(encoder_a, nn.Module) or not isinstance(encoder_b, nn.Module):
            raise TypeError(
                f"encoder_a and encoder_b must be nn.Modules, got {describe(encoder_a)} and {describe(encoder_b)}"
            )
        init_temperature = check_positive(init_temperature, "init_temperature")
        self.max_logit_scale = check_positive(max_logit_scale, "max_logit_scale")
        if 1.0 / init_temperature > self.max_logit_scale:
            raise ValueError(
                f"init_temperature must be >= 1/max_logit_scale = {1 / self.max_logit_scale:g}, got {init_temperature}"
            )
        self.encoder_a = encoder_a
        self.encoder_b = encoder_b
        log_scale = torch.tensor(math.log(1.0 / init_temperature))
        if learn_temperature:
            self.log_logit_scale = nn.Parameter(log_scale)
        else:
            self.register_buffer("log_logit_scale", log_scale)

    @property
    def logit_scale(self) -> torch.Tensor:
        """:math:`1/\tau`, clamped at ``max_logit_scale`` (zero gradient while clamped, as in CLIP)."""
        return self.log_logit_scale.exp().clamp(max=self.max_logit_scale)

    @property
    def temperature(self) -> torch.Tensor:
        """:math:`\tau = 1/\text{logit scale}`, a 0-dim tensor in the graph."""
        return 1.0 / self.logit_scale

    def encode_a(self, a: torch.Tensor) -> torch.Tensor:
        """Normalised embeddings of modality a."""
        return F.normalize(self.encoder_a(a), dim=-1)

    def encode_b(self, b: torch.Tensor) -> torch.Tensor:
        """Normalised embeddings of modality b."""
        return F.normalize(self.encoder_b(b), dim=-1)

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        z_a, z_b = self.encode_a(a), self.encode_b(b)
        if z_a.shape[-1] != z_b.shape[-1]:
            raise ValueError(
                f"encoder_a and encoder_b must map to the same embedding size, got {z_a.shape[-1]} and {z_b.shape[-1]}"
            )
        return z_a, z_b, self.temperature


class ImageEncoder(nn.Module):
    """A small CNN for (N, 1, H, W) digit images (8×8 or 28×28) → (N, out_dim) features. Notebooks 01, 02.

    Two 3×3 convolutions (32 and 64 channels; the second with stride 2 when the image is at least 16 pixels
    wide) and an adaptive average pool to 4×4, then an MLP head. Small enough to train in seconds on a CPU.
    """

    def __init__(self, out_dim: int = 64, image_size: int = 8, channels: int = 32, hidden: int = 128) -> None:
        super().__init__()
        out_dim = check_int(out_dim, "out_dim", minimum=1)
        image_size = check_int(image_size, "image_size", minimum=4)
        channels = check_int(channels, "channels", minimum=1)
        hidden = check_int(hidden, "hidden", minimum=1)
        stride = 2 if image_size >= 16 else 1
        self.image_size = image_size
        self.features = nn.Sequential(
            nn.Conv2d(1, channels, 3, padding=1),
            nn.SiLU(),
            nn.Conv2d(channels, 2 * channels, 3, padding=1, stride=stride),
            nn.SiLU(),
            nn.AdaptiveAvgPool2d(4),
            nn.Flatten(),
        )
        self.head = MLP(2 * channels * 16, out_dim, (hidden,))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        if not isinstance(images, torch.Tensor) or images.dim() != 4 or images.shape[1] != 1:
            raise ValueError(f"images must be a (N, 1, H, W) tensor, got {describe(images)}")
        return self.head(self.features(images))


class TextEncoder(nn.Module):
    """Token ids (N, T) → (N, out_dim): word embeddings averaged over non-padding tokens, then an MLP.

    A bag of words — enough for captions whose words each carry one attribute ("a thick seven slanted right").
    Notebook 01's text tower.
    """

    def __init__(self, vocab_size: int, out_dim: int = 64, embed_dim: int = 64, hidden: int = 128, pad_id: int = 0):
        super().__init__()
        vocab_size = check_int(vocab_size, "vocab_size", minimum=1)
        self.pad_id = check_int(pad_id, "pad_id", minimum=0)
        self.embed = nn.Embedding(vocab_size, check_int(embed_dim, "embed_dim", minimum=1), padding_idx=pad_id)
        self.head = MLP(embed_dim, check_int(out_dim, "out_dim", minimum=1), (check_int(hidden, "hidden", minimum=1),))

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        if not isinstance(tokens, torch.Tensor) or tokens.dim() != 2 or tokens.is_floating_point():
            raise ValueError(f"tokens must be a (N, T) integer tensor of token ids, got {describe(tokens)}")
        if tokens.numel() and (int(tokens.min()) < 0 or int(tokens.max()) >= self.embed.num_embeddings):
            raise ValueError(
                f"tokens must be ids in [0, {self.embed.num_embeddings - 1}], got values in "
                f"[{int(tokens.min())}, {int(tokens.max())}]"
            )
        mask = (tokens != self.pad_id).unsqueeze(-1).to(self.embed.weight.dtype)
        summed = (self.embed(tokens) * mask).sum(dim=1)
        return self.head(summed / mask.sum(dim=1).clamp_min(1.0))


class SeparableCritic(nn.Module):
    r"""A critic for InfoNCE's mutual-information estimate: :math:`f(x_i, y_j) = g(x_i)^\top h(y_j)`. Notebook 01.

    ``forward(x, y)`` with x (N, dim_x), y (N, dim_y) returns the (N, N) matrix of scores, ready for
    ``losses.info_nce_logits``. Separable critics cost O(N) network evaluations per batch (a concatenating critic
    costs O(N²)), which is what lets CLIP-style training use large batches (Poole et al. 2019).
    """

    def __init__(self, dim_x: int, dim_y: int, embed_dim: int = 32, hidden: int = 256, activation: str = "relu"):
        super().__init__()
        self.g = MLP(dim_x, embed_dim, (hidden, hidden), activation)
        self.h = MLP(dim_y, embed_dim, (hidden, hidden), activation)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        if x.shape[0] != y.shape[0]:
            raise ValueError(f"x and y must hold the same number of pairs, got {x.shape[0]} and {y.shape[0]}")
        return self.g(x) @ self.h(y).T


class ScoreNet(nn.Module):
    r"""An MLP score model :math:`s_\theta(x) \approx \nabla_x\log p(x)` for low-dimensional data. Notebooks 03, 04.

    Unconditional: ``forward(x)``. Noise-conditional (``noise_conditional=True``): ``forward(x, sigma)`` with
    :math:`\sigma` a float or an (N,) tensor, fed in as Fourier features of :math:`\log\sigma`; the output is
    divided by :math:`\sigma` (the score of noise of scale :math:`\sigma` is of order :math:`1/\sigma`, so the
    network itself predicts an O(1) quantity, like :math:`-\varepsilon`). SiLU activations keep :math:`s_\theta`
    smooth, which Hyvärinen's objective (it differentiates :math:`s_\theta`) needs.
    """

    def __init__(
        self,
        dim: int = 2,
        hidden: int = 128,
        n_layers: int = 3,
        *,
        noise_conditional: bool = False,
        n_fourier: int = 8,
    ) -> None:
        super().__init__()
        self.dim = check_int(dim, "dim", minimum=1)
        self.noise_conditional = bool(noise_conditional)
        n_layers = check_int(n_layers, "n_layers", minimum=1)
        self.n_fourier = check_int(n_fourier, "n_fourier", minimum=1)
        extra = 2 * self.n_fourier if self.noise_conditional else 0
        if self.noise_conditional:
            self.register_buffer("frequencies", torch.arange(1, self.n_fourier + 1, dtype=torch.float32) * 0.5)
        self.net = MLP(self.dim + extra, self.dim, (check_int(hidden, "hidden", minimum=1),) * n_layers, "silu")

    def forward(self, x: torch.Tensor, sigma: float | torch.Tensor | None = None) -> torch.Tensor:
        if not isinstance(x, torch.Tensor) or x.dim() != 2 or x.shape[1] != self.dim:
            raise ValueError(f"x must be a (N, {self.dim}) tensor, got {describe(x)}")
        if not self.noise_conditional:
            return self.net(x)
        if sigma is None:
            raise ValueError("sigma is required: this ScoreNet is noise-conditional (forward(x, sigma))")
        sig = torch.as_tensor(sigma, dtype=x.dtype, device=x.device)
        if sig.dim() == 0:
            sig = sig.expand(x.shape[0])
        if sig.shape != (x.shape[0],):
            raise ValueError(f"sigma must be a float or an ({x.shape[0]},) tensor, got {describe(sigma)}")
        if not bool((sig > 0).all()) or not bool(torch.isfinite(sig).all()):
            raise ValueError(f"sigma must be finite and > 0, got values in [{float(sig.min())}, {float(sig.max())}]")
        angles = torch.log(sig)[:, None] * self.frequencies.to(x.dtype)
        features = torch.cat([x, torch.sin(angles), torch.cos(angles)], dim=1)
        return self.net(features) / sig[:, None]


def _check_token_ids(tokens: torch.Tensor, name: str, vocab_size: int, batch: int | None = None) -> torch.Tensor:
    """A (B, T) integer tensor of ids in ``[0, vocab_size)`` with T >= 1, and B == ``batch`` when given."""
    if not isinstance(tokens, torch.Tensor) or tokens.dim() != 2 or tokens.is_floating_point() or tokens.is_complex():
        raise ValueError(f"{name} must be a (B, T) integer tensor of token ids, got {describe(tokens)}")
    if tokens.dtype == torch.bool:
        raise ValueError(f"{name} must hold integer token ids, got {describe(tokens)}")
    if tokens.shape[1] == 0:
        raise ValueError(f"{name} must hold at least one token per row, got shape {tuple(tokens.shape)}")
    if batch is not None and tokens.shape[0] != batch:
        raise ValueError(f"{name} must hold one row per image ({batch} images), got {tokens.shape[0]} rows")
    if tokens.numel() and (int(tokens.min()) < 0 or int(tokens.max()) >= vocab_size):
        raise ValueError(
            f"{name} must be ids in [0, {vocab_size - 1}], got values in [{int(tokens.min())}, {int(tokens.max())}]"
        )
    return tokens


def _check_images(images: torch.Tensor, name: str = "images") -> torch.Tensor:
    """A floating (B, 1, H, W) tensor."""
    if not isinstance(images, torch.Tensor) or images.dim() != 4 or images.shape[1] != 1:
        raise ValueError(f"{name} must be a (B, 1, H, W) tensor, got {describe(images)}")
    if not images.is_floating_point():
        raise ValueError(f"{name} must be a floating tensor of pixel intensities, got {describe(images)}")
    return images


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
        words = self.embed(tokens_in)
        inputs = torch.cat([words, feature[:, None, :].expand(-1, words.shape[1], -1)], dim=-1)
        outputs, state = self.decoder(inputs, state)
        return self.to_logits(outputs), state

    def forward(self, images: torch.Tensor, tokens_in: torch.Tensor) -> torch.Tensor:
        """Teacher-forced logits (B, T, V): ``logits[:, t]`` predicts the token after ``tokens_in[:, t]``."""
        images = _check_images(images)
        tokens_in = _check_token_ids(tokens_in, "tokens_in", self.vocab_size, batch=images.shape[0])
        feature = self.image_encoder(images)
        logits, _ = self._decode(feature, tokens_in, torch.tanh(feature)[None])
        return logits

    def sequence_log_prob(self, images: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
        r"""Total log-probability (B,) of full captions ``<bos> w_1 ... <eos> <pad>...``: :math:`\sum_t \log
        p(w_{t+1} \mid w_{\le t}, I)`, padding ignored. Prepend ``<bos>`` to ``generate``'s output to score it."""
        images = _check_images(images)
        tokens = _check_token_ids(tokens, "tokens", self.vocab_size, batch=images.shape[0])
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
        images = _check_images(images)
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
        images = _check_images(images)
        question_tokens = _check_token_ids(question_tokens, "question_tokens", self.vocab_size, batch=images.shape[0])
        v = self.image_encoder(images)
        q = self.question_encoder(question_tokens)
        return self.head(torch.cat([v, q, v * q], dim=-1))


def _time_frequencies(time_features: int) -> tuple[int, torch.Tensor]:
    r"""The checked width of the Fourier time features and their frequencies :math:`\pi k`, k = 1..width/2."""
    time_features = check_int(time_features, "time_features", minimum=2)
    if time_features % 2:
        raise ValueError(f"time_features must be even (a sine and a cosine per frequency), got {time_features}")
    return time_features, math.pi * torch.arange(1, time_features // 2 + 1, dtype=torch.float32)


def _check_p_uncond(p_uncond: float) -> float:
    """The classifier-free-guidance drop probability, in [0, 1]."""
    p_uncond = check_real(p_uncond, "p_uncond")
    if not 0 <= p_uncond <= 1:
        raise ValueError(f"p_uncond must be in [0, 1], got {p_uncond}")
    return p_uncond


def _diffusion_times(t: float | torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """``t`` (a float or (N,) tensor in [0, 1]) as an (N,) tensor of x's dtype and device, N = ``len(x)``."""
    n = x.shape[0]
    tt = torch.as_tensor(t, dtype=x.dtype, device=x.device)
    if tt.dim() == 0:
        tt = tt.expand(n)
    if tt.shape != (n,):
        raise ValueError(f"t must be a float or an ({n},) tensor of times in [0, 1], got {describe(t)}")
    if not bool(torch.isfinite(tt).all()) or (n and not bool(((tt >= 0) & (tt <= 1)).all())):
        raise ValueError(f"t must lie in [0, 1], got values in [{float(tt.min())}, {float(tt.max())}]")
    return tt


class ConditionalEpsNet(nn.Module):
    r"""A class-conditional noise predictor :math:`\hat\varepsilon_\theta(x_t, t, c)` for small images, trained
    for classifier-free guidance: "text-to-image in miniature" with the prompt a digit class. Notebook 04.

    An MLP (SiLU, ``n_layers`` hidden layers of width ``hidden``) over the concatenation of

    * the flattened noisy image (``image_size``² numbers),
    * Fourier features of the diffusion time :math:`t\in[0, 1]`: :math:`\sin(\pi k t), \cos(\pi k t)`,
      :math:`k = 1, \dots,` ``time_features``/2,
    * a learned embedding of the class label :math:`c\in\{0, \dots, n-1\}` — or of the extra **null label**
      :math:`\varnothing` = ``n_classes`` (index :math:`n`), which stands for "no prompt".

    **Classifier-free guidance** (Ho & Salimans 2022). Train one network on both tasks by replacing the label
    with :math:`\varnothing` with probability ``p_uncond`` (:meth:`drop_labels`); at sampling time combine
    :math:`\tilde\varepsilon = (1+w)\,\hat\varepsilon(x,t,c) - w\,\hat\varepsilon(x,t,\varnothing)`
    (``sampling.guided_score`` works on ε as on scores; :meth:`guided_eps` does it in one call).

    **Pixel scaling.** Diffuse in model space :math:`[-1, 1]`, not in pixel space :math:`[0, 1]`: the VP prior
    :math:`\mathcal N(0, I)` then matches the data's scale and the blank background (0 → -1) is as far from the
    mean as the ink. Use :meth:`to_model_space` before training and :meth:`to_pixel_space` (which clips to
    [0, 1]) on samples.

    ``data_dim=D`` turns it into a conditional noise predictor for (N, D) vectors instead of images (notebook 06
    trains one on 2-D points with ``data_dim=2``; ``image_size`` is then ignored).

    ``forward(x, t, labels)``: ``x`` either (N, 1, H, W) images or (N, H·W) flattened images (what
    ``losses.eps_prediction_loss`` and the samplers of ``mmobjectives.sampling`` hand over); ``t`` a float or
    an (N,) tensor in [0, 1]; ``labels`` (N,) integers in ``[0, n_classes]``. Returns ε̂ shaped like ``x``.
    """

    def __init__(
        self,
        image_size: int = 8,
        n_classes: int = 10,
        hidden: int = 256,
        n_layers: int = 3,
        time_features: int = 16,
        p_uncond: float = 0.1,
        *,
        embed_dim: int = 32,
        data_dim: int | None = None,
    ) -> None:
        super().__init__()
        self.image_size = check_int(image_size, "image_size", minimum=1)
        self.data_dim = None if data_dim is None else check_int(data_dim, "data_dim", minimum=1)
        self.n_classes = check_int(n_classes, "n_classes", minimum=1)
        hidden = check_int(hidden, "hidden", minimum=1)
        n_layers = check_int(n_layers, "n_layers", minimum=1)
        time_features, frequencies = _time_frequencies(time_features)
        self.p_uncond = _check_p_uncond(p_uncond)
        self.dim = self.image_size**2 if self.data_dim is None else self.data_dim
        self.null_label = self.n_classes  # the extra embedding row: "no prompt"
        self.register_buffer("frequencies", frequencies)
        self.embed = nn.Embedding(self.n_classes + 1, check_int(embed_dim, "embed_dim", minimum=1))
        self.net = MLP(self.dim + time_features + embed_dim, self.dim, (hidden,) * n_layers, "silu")

    @staticmethod
    def to_model_space(pixels: torch.Tensor) -> torch.Tensor:
        """Pixels in [0, 1] → model space [-1, 1]: ``2 * pixels - 1``."""
        return 2 * pixels - 1

    @staticmethod
    def to_pixel_space(x: torch.Tensor) -> torch.Tensor:
        """Model space → pixels: ``(x + 1) / 2`` clipped to [0, 1] (samples overshoot a little)."""
        return ((x + 1) / 2).clamp(0, 1)

    def null_labels(self, n: int, device: torch.device | str | None = None) -> torch.Tensor:
        """``n`` copies of the null label :math:`\\varnothing` = ``n_classes``, as a (n,) long tensor."""
        n = check_int(n, "n", minimum=0)
        return torch.full((n,), self.null_label, dtype=torch.long, device=device)

    def drop_labels(self, labels: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """A copy of ``labels`` with each entry replaced by the null label with probability ``p_uncond``."""
        labels = self._check_labels(labels)
        if generator is not None and not isinstance(generator, torch.Generator):
            raise TypeError(f"generator must be a torch.Generator or None, got {describe(generator)}")
        drop = torch.rand(labels.shape, generator=generator) < self.p_uncond
        return torch.where(drop.to(labels.device), torch.full_like(labels, self.null_label), labels)

    def _check_labels(self, labels: torch.Tensor, n: int | None = None) -> torch.Tensor:
        if not isinstance(labels, torch.Tensor) or labels.dim() != 1 or labels.is_floating_point():
            raise ValueError(f"labels must be an (N,) integer tensor of classes, got {describe(labels)}")
        if labels.dtype == torch.bool or labels.is_complex():
            raise ValueError(f"labels must hold integer classes, got {describe(labels)}")
        if n is not None and labels.shape[0] != n:
            raise ValueError(f"labels must hold one class per image ({n} images), got {labels.shape[0]}")
        if labels.numel() and (int(labels.min()) < 0 or int(labels.max()) > self.n_classes):
            raise ValueError(
                f"labels must be classes in [0, {self.n_classes - 1}] or the null label {self.n_classes}, "
                f"got values in [{int(labels.min())}, {int(labels.max())}]"
            )
        return labels.long()

    def forward(self, x: torch.Tensor, t: float | torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        size = self.image_size
        shapes = ((self.dim,),) if self.data_dim is not None else ((1, size, size), (self.dim,))
        expected = " or ".join("(N, " + ", ".join(map(str, shape)) + ")" for shape in shapes)
        if not isinstance(x, torch.Tensor) or not x.is_floating_point():
            raise ValueError(f"x must be a floating {expected} tensor, got {describe(x)}")
        if tuple(x.shape[1:]) not in shapes:
            raise ValueError(f"x must be a {expected} tensor, got {describe(x)}")
        n = x.shape[0]
        tt = _diffusion_times(t, x)
        labels = self._check_labels(labels, n).to(x.device)
        angles = tt[:, None] * self.frequencies.to(x.dtype)
        features = torch.cat([x.reshape(n, self.dim), torch.sin(angles), torch.cos(angles), self.embed(labels)], 1)
        return self.net(features).reshape(x.shape)

    def guided_eps(
        self, x: torch.Tensor, t: float | torch.Tensor, labels: torch.Tensor, w: float = 0.0
    ) -> torch.Tensor:
        r"""Classifier-free guided noise prediction :math:`(1+w)\,\hat\varepsilon(x,t,c) - w\,\hat\varepsilon(x,t,\varnothing)`
        (``w = 0``: plain conditional; one batched call of the network for both terms)."""
        w = check_real(w, "w")
        labels = self._check_labels(labels, x.shape[0] if isinstance(x, torch.Tensor) else None)
        if w == 0:
            return self(x, t, labels)
        n = x.shape[0]
        tt = torch.as_tensor(t, dtype=x.dtype, device=x.device)
        tt = tt.expand(n) if tt.dim() == 0 else tt
        both = self(torch.cat([x, x]), torch.cat([tt, tt]), torch.cat([labels, self.null_labels(n, labels.device)]))
        cond, uncond = both[:n], both[n:]
        return (1 + w) * cond - w * uncond


class _CausalSelfAttention(nn.Module):
    """Multi-head self-attention in which position t attends only to positions <= t. Part of :class:`TinyGPT`."""

    def __init__(self, d_model: int, n_heads: int, dropout: float) -> None:
        super().__init__()
        self.n_heads, self.d_head = n_heads, d_model // n_heads
        self.q = nn.Linear(d_model, d_model)
        self.k = nn.Linear(d_model, d_model)
        self.v = nn.Linear(d_model, d_model)
        self.out = nn.Linear(d_model, d_model)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        b, t, d = x.shape

        def heads(z: torch.Tensor) -> torch.Tensor:  # (B, T, D) -> (B, H, T, D/H)
            return z.view(b, t, self.n_heads, self.d_head).transpose(1, 2)

        q, k, v = heads(self.q(x)), heads(self.k(x)), heads(self.v(x))
        scores = q @ k.transpose(-2, -1) / math.sqrt(self.d_head)  # (B, H, T, T)
        future = torch.triu(torch.ones(t, t, dtype=torch.bool, device=x.device), diagonal=1)
        scores = scores.masked_fill(future, float("-inf"))  # no peeking at later tokens
        weights = torch.softmax(scores, dim=-1)
        mixed = (self.dropout(weights) @ v).transpose(1, 2).reshape(b, t, d)
        return self.out(mixed), weights


class _Block(nn.Module):
    """A pre-LayerNorm transformer block: ``x + attn(ln(x))`` then ``x + mlp(ln(x))``. Part of :class:`TinyGPT`."""

    def __init__(self, d_model: int, n_heads: int, dropout: float) -> None:
        super().__init__()
        self.ln1 = nn.LayerNorm(d_model)
        self.attn = _CausalSelfAttention(d_model, n_heads, dropout)
        self.ln2 = nn.LayerNorm(d_model)
        self.mlp = nn.Sequential(
            nn.Linear(d_model, 4 * d_model), nn.GELU(), nn.Linear(4 * d_model, d_model), nn.Dropout(dropout)
        )

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        attended, weights = self.attn(self.ln1(x))
        x = x + attended
        x = x + self.mlp(self.ln2(x))
        return x, weights


class TinyGPT(nn.Module):
    """A tiny causal transformer language model (nanoGPT-like). Notebook 05.

    Token ids (B, T) → next-token logits (B, T, vocab_size): token + learned position embeddings, ``n_layers``
    pre-LayerNorm blocks (causal multi-head self-attention, then a 4×-wide GELU MLP, each with a residual
    connection), a final LayerNorm and a linear head. The logits at position t depend only on tokens 0..t.

    ``forward(tokens, return_attention=True)`` also returns the attention weights, a list with one
    (B, n_heads, T, T) tensor per layer (rows sum to 1, zero above the diagonal).

    Initialisation: weights N(0, 0.02²) as in GPT-2, so the initial logits are small and the initial
    cross-entropy is close to ln(vocab_size) — the loss of a uniform guess.

    Args:
        vocab_size: number of token ids.
        d_model: embedding width (divisible by ``n_heads``).
        n_layers: number of transformer blocks.
        n_heads: attention heads per block.
        max_len: the longest sequence (context) the model accepts.
        dropout: dropout probability on attention weights, MLP output and embeddings (0 = off).
    """

    def __init__(
        self,
        vocab_size: int,
        d_model: int = 64,
        n_layers: int = 2,
        n_heads: int = 4,
        max_len: int = 64,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        self.vocab_size = check_int(vocab_size, "vocab_size", minimum=1)
        self.d_model = check_int(d_model, "d_model", minimum=1)
        self.n_layers = check_int(n_layers, "n_layers", minimum=1)
        self.n_heads = check_int(n_heads, "n_heads", minimum=1)
        self.max_len = check_int(max_len, "max_len", minimum=1)
        dropout = check_real(dropout, "dropout")
        if not 0 <= dropout < 1:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        if d_model % n_heads:
            raise ValueError(f"d_model must be divisible by n_heads={n_heads}, got {d_model}")
        self.token_embed = nn.Embedding(vocab_size, d_model)
        self.pos_embed = nn.Embedding(max_len, d_model)
        self.dropout = nn.Dropout(dropout)
        self.blocks = nn.ModuleList(_Block(d_model, n_heads, dropout) for _ in range(n_layers))
        self.ln_f = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, vocab_size)
        self.apply(self._init_weights)

    @staticmethod
    def _init_weights(module: nn.Module) -> None:
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)
        if isinstance(module, nn.Linear) and module.bias is not None:
            nn.init.zeros_(module.bias)

    def forward(
        self, tokens: torch.Tensor, return_attention: bool = False
    ) -> torch.Tensor | tuple[torch.Tensor, list[torch.Tensor]]:
        if (
            not isinstance(tokens, torch.Tensor)
            or tokens.dim() != 2
            or tokens.is_floating_point()
            or tokens.is_complex()
            or tokens.dtype == torch.bool
        ):
            raise ValueError(f"tokens must be a (B, T) integer tensor of token ids, got {describe(tokens)}")
        t = tokens.shape[1]
        if t > self.max_len:
            raise ValueError(f"tokens must have at most max_len={self.max_len} positions, got T={t}")
        if tokens.numel() and (int(tokens.min()) < 0 or int(tokens.max()) >= self.vocab_size):
            raise ValueError(
                f"tokens must be ids in [0, {self.vocab_size - 1}], got values in "
                f"[{int(tokens.min())}, {int(tokens.max())}]"
            )
        positions = torch.arange(t, device=tokens.device)
        x = self.dropout(self.token_embed(tokens.long()) + self.pos_embed(positions))
        attentions = []
        for block in self.blocks:
            x, weights = block(x)
            attentions.append(weights)
        logits = self.head(self.ln_f(x))
        return (logits, attentions) if return_attention else logits


class NGramModel(nn.Module):
    r"""A count model that sees only the last ``context`` tokens: the classical baseline of notebook 05.

    ``fit(seqs)`` counts, for every context length :math:`j \le c` (``c = context``), how often each token
    follows each :math:`j` tokens, and estimates with add-``alpha`` smoothing

    .. math::
        q(b \mid a_{1:j}) = \frac{N(a_{1:j}, b) + \alpha}{N(a_{1:j}) + \alpha V}.

    ``forward(tokens)`` returns (B, T, V) log-probabilities laid out like a causal model's logits: position
    :math:`t` predicts token :math:`t+1` from the last :math:`\min(t+1, c)` tokens, so it plugs into
    ``losses.autoregressive_nll`` and ``sampling.sample_tokens`` like ``TinyGPT``. With enough data its NLL
    approaches the source's ``conditional_entropy(c)``; no amount of data takes it below that.

    Args:
        vocab_size: number of token ids.
        context: :math:`c`, how many previous tokens the model sees (0 = unigram).
        alpha: add-alpha smoothing (> 0, so no test token gets probability 0).
    """

    def __init__(self, vocab_size: int, context: int, alpha: float = 0.1) -> None:
        super().__init__()
        self.vocab_size = check_int(vocab_size, "vocab_size", minimum=1)
        self.context = check_int(context, "context", minimum=0)
        self.alpha = check_positive(alpha, "alpha")
        if self.vocab_size ** (self.context + 1) > 2**22:
            raise ValueError(
                f"vocab_size ** (context + 1) must be at most 2**22 count cells, got "
                f"{self.vocab_size}^{self.context + 1}"
            )
        for j in range(self.context + 1):
            self.register_buffer(f"counts_{j}", torch.zeros(self.vocab_size**j, self.vocab_size, dtype=torch.float64))

    def _counts(self, j: int) -> torch.Tensor:
        return getattr(self, f"counts_{j}")

    def fit(self, seqs: torch.Tensor) -> NGramModel:
        """Add the counts of every (context, next token) pair in (N, T) ``seqs``; returns ``self``."""
        s = _check_token_ids(seqs, "seqs", self.vocab_size).cpu()
        v = self.vocab_size
        for j in range(self.context + 1):
            for t in range(j, s.shape[1]):
                index = torch.zeros(s.shape[0], dtype=torch.long)
                for i in range(t - j, t):
                    index = index * v + s[:, i]
                flat = self._counts(j).view(-1)
                flat.index_add_(0, index * v + s[:, t], torch.ones(s.shape[0], dtype=flat.dtype))
        return self

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        tokens = _check_token_ids(tokens, "tokens", self.vocab_size)
        b, t = tokens.shape
        v = self.vocab_size
        out = torch.empty(b, t, v, dtype=torch.float64, device=tokens.device)
        for pos in range(t):
            j = min(pos + 1, self.context)
            index = torch.zeros(b, dtype=torch.long, device=tokens.device)
            for i in range(pos + 1 - j, pos + 1):
                index = index * v + tokens[:, i]
            counts = self._counts(j).to(tokens.device)[index]
            out[:, pos] = torch.log(counts + self.alpha) - torch.log(counts.sum(dim=1, keepdim=True) + self.alpha * v)
        return out.to(torch.get_default_dtype())


class TextConditionedEpsNet(nn.Module):
    r"""A noise predictor :math:`\hat\varepsilon_\theta(x_t, t, e)` conditioned on a text **embedding** :math:`e`
    (a vector, e.g. the CLIP text tower's output) instead of a class label. Notebook 07.

    This is the conditioning adapter of text-to-image diffusion in miniature: Stable Diffusion feeds the frozen
    CLIP text encoder's output to its denoiser; here the (N, ``cond_dim``) embedding is concatenated to the
    flattened noisy image and Fourier features of :math:`t` and fed to an MLP (as in
    :class:`ConditionalEpsNet`). The "no prompt" condition :math:`\varnothing` is the zero vector, so
    classifier-free guidance works as before: :meth:`drop_conditions` zeroes each row with probability
    ``p_uncond`` during training, and :meth:`guided_eps` computes
    :math:`(1+w)\,\hat\varepsilon(x,t,e) - w\,\hat\varepsilon(x,t,0)`.

    ``forward(x, t, cond)``: ``x`` (N, 1, H, W) or (N, H·W) in model space [-1, 1]
    (:meth:`ConditionalEpsNet.to_model_space`), ``t`` a float or (N,) times in [0, 1], ``cond`` (N, cond_dim).
    """

    def __init__(
        self,
        cond_dim: int,
        image_size: int = 8,
        hidden: int = 256,
        n_layers: int = 3,
        time_features: int = 16,
        p_uncond: float = 0.1,
    ) -> None:
        super().__init__()
        self.cond_dim = check_int(cond_dim, "cond_dim", minimum=1)
        self.image_size = check_int(image_size, "image_size", minimum=1)
        hidden = check_int(hidden, "hidden", minimum=1)
        n_layers = check_int(n_layers, "n_layers", minimum=1)
        time_features, frequencies = _time_frequencies(time_features)
        self.p_uncond = _check_p_uncond(p_uncond)
        self.dim = self.image_size**2
        self.register_buffer("frequencies", frequencies)
        self.net = MLP(self.dim + time_features + self.cond_dim, self.dim, (hidden,) * n_layers, "silu")

    to_model_space = staticmethod(ConditionalEpsNet.to_model_space)
    to_pixel_space = staticmethod(ConditionalEpsNet.to_pixel_space)

    def _check_cond(self, cond: torch.Tensor, n: int | None = None) -> torch.Tensor:
        if not isinstance(cond, torch.Tensor) or not cond.is_floating_point() or cond.dim() != 2:
            raise ValueError(f"cond must be a floating (N, {self.cond_dim}) tensor of embeddings, got {describe(cond)}")
        if cond.shape[1] != self.cond_dim or (n is not None and cond.shape[0] != n):
            expected = f"({'N' if n is None else n}, {self.cond_dim})"
            raise ValueError(f"cond must have shape {expected}, one embedding per image, got {describe(cond)}")
        if not bool(torch.isfinite(cond).all()):
            raise ValueError("cond must be finite, got NaN or inf values")
        return cond

    def drop_conditions(self, cond: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """A copy of ``cond`` with each row replaced by the null condition (zeros) with probability ``p_uncond``."""
        cond = self._check_cond(cond)
        if generator is not None and not isinstance(generator, torch.Generator):
            raise TypeError(f"generator must be a torch.Generator or None, got {describe(generator)}")
        keep = (torch.rand(cond.shape[0], generator=generator) >= self.p_uncond).to(cond.device, cond.dtype)
        return cond * keep[:, None]

    def forward(self, x: torch.Tensor, t: float | torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        size = self.image_size
        if not isinstance(x, torch.Tensor) or not x.is_floating_point():
            raise ValueError(
                f"x must be a floating (N, 1, {size}, {size}) or (N, {self.dim}) tensor, got {describe(x)}"
            )
        if tuple(x.shape[1:]) not in ((1, size, size), (self.dim,)):
            raise ValueError(f"x must be a (N, 1, {size}, {size}) or (N, {self.dim}) tensor, got {describe(x)}")
        n = x.shape[0]
        tt = _diffusion_times(t, x)
        cond = self._check_cond(cond, n).to(x.device, x.dtype)
        angles = tt[:, None] * self.frequencies.to(x.dtype)
        features = torch.cat([x.reshape(n, self.dim), torch.sin(angles), torch.cos(angles), cond], 1)
        return self.net(features).reshape(x.shape)

    def guided_eps(self, x: torch.Tensor, t: float | torch.Tensor, cond: torch.Tensor, w: float = 0.0) -> torch.Tensor:
        r"""Classifier-free guidance :math:`(1+w)\,\hat\varepsilon(x,t,e) - w\,\hat\varepsilon(x,t,0)` in one batched call."""
        w = check_real(w, "w")
        if w == 0:
            return self(x, t, cond)
        n = x.shape[0]
        cond = self._check_cond(cond, n)
        tt = torch.as_tensor(t, dtype=x.dtype, device=x.device)
        tt = tt.expand(n) if tt.dim() == 0 else tt
        both = self(torch.cat([x, x]), torch.cat([tt, tt]), torch.cat([cond, torch.zeros_like(cond)]))
        return (1 + w) * both[:n] - w * both[n:]
