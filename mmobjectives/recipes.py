r"""Training recipes that more than one notebook runs: each is the few lines a notebook derives once, kept here so
that a later notebook reuses the same model instead of a copy of the code.

* :func:`fit_clip` — the dual encoder on paired digits (notebook 01; the judge and text tower of notebook 07);
* :func:`fit_captioner` — the CE captioner with teacher forcing (notebooks 02 and 07);
* :func:`fit_vqa` — the VQA answer head (notebooks 02 and 07);
* :func:`multimodal_sequences` and :func:`fit_multimodal_gpt` — one TinyGPT over image tokens and caption words in
  both orders (notebooks 05 and 07).

Every recipe takes the step count from the caller (notebooks pick it with ``BUDGET.pick``), a ``generator`` for
the minibatch order and a ``device``, and returns the model in eval mode on the CPU with its ``train.History``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from . import data, losses, models, sampling, train
from ._checks import check_int, describe

__all__ = [
    "MultimodalSequences",
    "caption_images",
    "digits_named",
    "fit_captioner",
    "fit_class_diffusion",
    "fit_clip",
    "fit_multimodal_gpt",
    "fit_text_to_image",
    "fit_vqa",
    "generate_images",
    "multimodal_loss",
    "multimodal_sequences",
    "sample_text_to_image",
    "text_embeddings",
]


def _check_pairs(pairs: object) -> data.PairedDigits:
    if not isinstance(pairs, data.PairedDigits):
        raise TypeError(f"pairs must be a data.PairedDigits (from data.paired_digits), got {describe(pairs)}")
    return pairs


def clip_loss(model: nn.Module, batch: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
    """Symmetric InfoNCE of a ``models.DualEncoder`` on a batch ``(images, tokens)``."""
    z_a, z_b, temperature = model(batch[0], batch[1])
    return losses.info_nce(z_a, z_b, temperature)


def fit_clip(
    pairs: data.PairedDigits,
    *,
    steps: int,
    embed_dim: int = 64,
    batch_size: int = 256,
    lr: float = 2e-3,
    generator: torch.Generator | None = None,
    device: torch.device | str | None = None,
) -> tuple[models.DualEncoder, train.History]:
    """CLIP on digits (notebook 01, section 5): an ``ImageEncoder`` and a bag-of-words ``TextEncoder`` into one
    ``embed_dim``-dimensional space, learnable temperature from 0.07, symmetric InfoNCE, AdamW with cosine decay."""
    pairs = _check_pairs(pairs)
    clip = models.DualEncoder(
        models.ImageEncoder(out_dim=embed_dim, image_size=pairs.images_train.shape[-1]),
        models.TextEncoder(pairs.tokenizer.vocab_size, out_dim=embed_dim),
        init_temperature=0.07,
    )
    history = train.fit(
        clip,
        clip_loss,
        (pairs.images_train, pairs.tokens_train),
        steps=steps,
        batch_size=batch_size,
        lr=lr,
        scheduler="cosine",
        generator=generator,
        device=device,
        desc="CLIP on digits",
    )
    return clip.cpu().eval(), history


def fit_captioner(
    pairs: data.PairedDigits,
    *,
    steps: int,
    batch_size: int = 128,
    lr: float = 3e-3,
    generator: torch.Generator | None = None,
    device: torch.device | str | None = None,
) -> tuple[models.Captioner, train.History]:
    """The CE captioner (notebook 02, section 5): teacher forcing, ``sequence_cross_entropy`` of
    ``tokens[:, 1:]`` given ``tokens[:, :-1]`` and the image, padding ignored."""
    pairs = _check_pairs(pairs)
    pad = pairs.tokenizer.pad_id
    captioner = models.Captioner(pairs.tokenizer.vocab_size, image_size=pairs.images_train.shape[-1])

    def caption_loss(model: nn.Module, batch: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        images, tokens = batch
        return losses.sequence_cross_entropy(model(images, tokens[:, :-1]), tokens[:, 1:], ignore_index=pad)

    history = train.fit(
        captioner,
        caption_loss,
        (pairs.images_train, pairs.tokens_train),
        steps=steps,
        batch_size=batch_size,
        lr=lr,
        scheduler="cosine",
        generator=generator,
        device=device,
        desc="captioner",
    )
    return captioner.cpu().eval(), history


def fit_vqa(
    qa: data.DigitQuestions,
    *,
    steps: int,
    batch_size: int = 128,
    lr: float = 2e-3,
    generator: torch.Generator | None = None,
    device: torch.device | str | None = None,
) -> tuple[models.VQAModel, train.History]:
    """The VQA answer head (notebook 02, section 6): cross-entropy over the answer vocabulary."""
    if not isinstance(qa, data.DigitQuestions):
        raise TypeError(f"qa must be a data.DigitQuestions (from data.digit_questions), got {describe(qa)}")
    vqa = models.VQAModel(qa.tokenizer.vocab_size, len(qa.answer_vocab), image_size=qa.images_train.shape[-1])
    history = train.fit(
        vqa,
        lambda m, b: losses.cross_entropy(m(b[0], b[1]), b[2]),
        (qa.images_train, qa.question_tokens_train, qa.answers_train),
        steps=steps,
        batch_size=batch_size,
        lr=lr,
        scheduler="cosine",
        generator=generator,
        device=device,
        desc="VQA",
    )
    return vqa.cpu().eval(), history


@dataclass
class MultimodalSequences:
    """Training sequences for the multimodal GPT: ids, the allowed-next mask and the scored targets, all (N, L)
    (the mask (N, L, V)), plus the vocabulary and image tokenizer that made them."""

    tokens: torch.Tensor
    allowed: torch.Tensor
    targets: torch.Tensor
    vocab: data.MultimodalVocabulary
    image_tokenizer: data.ImageTokenizer

    @property
    def max_len(self) -> int:
        return int(self.tokens.shape[1])

    def image_codes(self, images: torch.Tensor, shift: tuple[int, int] = (0, 0)) -> torch.Tensor:
        """Raster-order codes of (optionally shifted by whole pixels) images: (N, n)."""
        tok = self.image_tokenizer
        return tok.flatten(tok.encode(torch.roll(images, shift, dims=(2, 3))))


def multimodal_sequences(
    pairs: data.PairedDigits,
    image_tokenizer: data.ImageTokenizer,
    *,
    shifted_copy: bool = True,
    class_captions: bool = True,
) -> MultimodalSequences:
    """The training set of notebook 05, section 5.2: every training pair image-first (and, with ``shifted_copy``,
    once more with the image shifted one pixel right), every pair text-first, and (with ``class_captions``)
    every image text-first after the plain caption "the digit k", all right-padded to one length.

    Image codes of image-first sequences are not scored (``vocab.targets``), so those sequences teach
    p(caption | image) and the text-first ones p(image | caption).
    """
    pairs = _check_pairs(pairs)
    if not isinstance(image_tokenizer, data.ImageTokenizer) or image_tokenizer.codebook is None:
        raise TypeError(f"image_tokenizer must be a fitted data.ImageTokenizer, got {describe(image_tokenizer)}")
    vocab = data.MultimodalVocabulary(
        pairs.tokenizer, image_tokenizer.codebook_size, image_tokens=image_tokenizer.tokens_per_image
    )
    out = MultimodalSequences(torch.empty(0), torch.empty(0), torch.empty(0), vocab, image_tokenizer)
    images, tokens = pairs.images_train, pairs.tokens_train
    parts = [vocab.image_first(out.image_codes(images), tokens)]
    if shifted_copy:
        parts.append(vocab.image_first(out.image_codes(images, (0, 1)), tokens))
    parts.append(vocab.text_first(tokens, out.image_codes(images)))
    if class_captions:
        first = torch.unique(pairs.index_train, sorted=True, return_inverse=False)
        rows = torch.searchsorted(pairs.index_train, first)  # one row per image
        names = pairs.tokenizer.encode([data.class_caption(int(y)) for y in pairs.labels_train[rows]])
        parts.append(vocab.text_first(names, out.image_codes(images[rows])))
    length = max(p.shape[1] for p in parts)
    seqs = torch.cat([nn.functional.pad(p, (0, length - p.shape[1]), value=vocab.pad) for p in parts])
    out.tokens, out.allowed, out.targets = seqs, vocab.allowed_next(seqs), vocab.targets(seqs)
    return out


def multimodal_loss(
    model: nn.Module, batch: tuple[torch.Tensor, torch.Tensor, torch.Tensor], vocab: data.MultimodalVocabulary
) -> torch.Tensor:
    """The multimodal GPT's loss on a batch ``(tokens, allowed, targets)``: next-token NLL of the scored targets
    under the format's logit mask (notebook 05, section 5.2)."""
    seqs, allowed, targets = batch
    return losses.autoregressive_nll(vocab.mask_logits(model(seqs), seqs, allowed), targets)


def fit_multimodal_gpt(
    sequences: MultimodalSequences,
    *,
    steps: int,
    d_model: int = 64,
    n_layers: int = 2,
    n_heads: int = 4,
    dropout: float = 0.1,
    batch_size: int = 128,
    lr: float = 3e-3,
    generator: torch.Generator | None = None,
    device: torch.device | str | None = None,
) -> tuple[models.TinyGPT, train.History]:
    """One TinyGPT on both orders (notebook 05, section 5.2): next-token NLL of the scored targets under the
    format's logit mask."""
    if not isinstance(sequences, MultimodalSequences):
        raise TypeError(f"sequences must come from recipes.multimodal_sequences, got {describe(sequences)}")
    check_int(steps, "steps", minimum=0)
    vocab = sequences.vocab
    gpt = models.TinyGPT(
        vocab.vocab_size,
        d_model=d_model,
        n_layers=n_layers,
        n_heads=n_heads,
        max_len=sequences.max_len,
        dropout=dropout,
    )
    history = train.fit(
        gpt,
        functools.partial(multimodal_loss, vocab=vocab),
        (sequences.tokens, sequences.allowed, sequences.targets),
        steps=steps,
        batch_size=batch_size,
        lr=lr,
        scheduler="cosine",
        generator=generator,
        device=device,
        desc="multimodal TinyGPT",
    )
    return gpt.cpu().eval(), history


def digits_named(captions: list[str]) -> torch.Tensor:
    """The digit each caption names (``data.parse_caption``), or -1 when it names none: (N,) int64."""
    if isinstance(captions, str) or not isinstance(captions, (list, tuple)):
        raise TypeError(f"captions must be a list of str, got {describe(captions)}")
    return torch.tensor(
        [-1 if (d := data.parse_caption(c)["digit"]) is None else d for c in captions], dtype=torch.long
    )


def caption_images(gpt: nn.Module, sequences: MultimodalSequences, images: torch.Tensor) -> list[str]:
    """Captioning with the multimodal GPT: prompt ``<img> codes </img> <txt>``, greedy decoding under the logit
    mask until ``</txt>`` (notebook 05, section 5.3). Returns one caption per image."""
    if not isinstance(sequences, MultimodalSequences):
        raise TypeError(f"sequences must come from recipes.multimodal_sequences, got {describe(sequences)}")
    vocab = sequences.vocab
    prompt = vocab.image_prompt(sequences.image_codes(images))
    out = sampling.sample_tokens(
        gpt, prompt, sequences.max_len - prompt.shape[1], top_k=1, logit_mask=vocab.next_token_mask
    )
    return vocab.caption_of(out)


def generate_images(
    gpt: nn.Module,
    sequences: MultimodalSequences,
    text_tokens: torch.Tensor,
    *,
    temperature: float = 1.0,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Text-to-image with the multimodal GPT: prompt ``<txt> words </txt> <img>``, sample the image codes under the
    logit mask and decode them with the codebook (notebook 05, section 5.4). ``text_tokens`` (N, L) from
    ``Tokenizer.encode``; captions of different lengths are prompted in batches of equal length. Returns
    (N, 1, H, W) images in the order of the captions."""
    if not isinstance(sequences, MultimodalSequences):
        raise TypeError(f"sequences must come from recipes.multimodal_sequences, got {describe(sequences)}")
    if not isinstance(text_tokens, torch.Tensor) or text_tokens.dim() != 2 or text_tokens.shape[0] == 0:
        raise ValueError(f"text_tokens must be (N, L) caption tokens with N >= 1, got {describe(text_tokens)}")
    vocab, tok = sequences.vocab, sequences.image_tokenizer
    specials = torch.tensor([data.Tokenizer.pad_id, data.Tokenizer.bos_id, data.Tokenizer.eos_id])
    lengths = (~torch.isin(text_tokens, specials)).sum(dim=1)
    codes = torch.empty(text_tokens.shape[0], tok.tokens_per_image, dtype=torch.long)
    for length in torch.unique(lengths).tolist():
        rows = torch.nonzero(lengths == length).flatten()
        out = sampling.sample_tokens(
            gpt,
            vocab.text_prompt(text_tokens[rows]),
            tok.tokens_per_image,
            temperature=temperature,
            generator=generator,
            logit_mask=vocab.next_token_mask,
        )
        codes[rows] = vocab.image_codes_of(out)
    return tok.decode(codes)


def _fit_eps(
    model: nn.Module,
    images: torch.Tensor,
    conditions: torch.Tensor,
    drop: Callable[..., torch.Tensor],
    schedule: sampling.VPSchedule,
    *,
    steps: int,
    batch_size: int,
    lr: float,
    generator: torch.Generator | None,
    device: torch.device | str | None,
    desc: str,
) -> tuple[nn.Module, train.History]:
    """ε-prediction on ``images`` (pixels) in model space, each with its condition, dropped for classifier-free
    guidance by ``drop(conditions, generator=...)``: the loop shared by class- and text-conditional diffusion."""
    x0 = models.ConditionalEpsNet.to_model_space(images).reshape(len(images), -1)

    def eps_loss(net: nn.Module, batch: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        x0_batch, c = batch
        c = drop(c, generator=generator)
        return losses.eps_prediction_loss(lambda x, t: net(x, t, c), x0_batch, schedule, generator=generator)

    history = train.fit(
        model,
        eps_loss,
        (x0, conditions),
        steps=steps,
        batch_size=batch_size,
        lr=lr,
        scheduler="cosine",
        generator=generator,
        device=device,
        desc=desc,
    )
    return model.cpu().eval(), history


def fit_class_diffusion(
    images: torch.Tensor,
    labels: torch.Tensor,
    schedule: sampling.VPSchedule,
    *,
    steps: int,
    hidden: int = 256,
    n_layers: int = 3,
    batch_size: int = 256,
    lr: float = 2e-3,
    generator: torch.Generator | None = None,
    device: torch.device | str | None = None,
) -> tuple[models.ConditionalEpsNet, train.History]:
    """Class-conditional diffusion on digits (notebook 04, section 6): ε-prediction on images in model space
    [-1, 1], labels dropped to the null label with probability ``p_uncond`` (0.1) for classifier-free guidance."""
    if not isinstance(images, torch.Tensor) or images.dim() != 4:
        raise ValueError(f"images must be (N, 1, H, W), got {describe(images)}")
    n_classes = int(labels.max()) + 1
    model = models.ConditionalEpsNet(image_size=images.shape[-1], n_classes=n_classes, hidden=hidden, n_layers=n_layers)
    return _fit_eps(
        model,
        images,
        labels,
        model.drop_labels,
        schedule,
        steps=steps,
        batch_size=batch_size,
        lr=lr,
        generator=generator,
        device=device,
        desc="conditional diffusion",
    )


@torch.no_grad()
def text_embeddings(clip: models.DualEncoder, text_tokens: torch.Tensor) -> torch.Tensor:
    """The CLIP text tower's normalised embeddings of (N, L) caption tokens: the condition of text-to-image."""
    if not isinstance(clip, models.DualEncoder):
        raise TypeError(f"clip must be a models.DualEncoder, got {describe(clip)}")
    return clip.encode_b(text_tokens)


def fit_text_to_image(
    clip: models.DualEncoder,
    images: torch.Tensor,
    text_tokens: torch.Tensor,
    schedule: sampling.VPSchedule,
    *,
    steps: int,
    hidden: int = 256,
    n_layers: int = 3,
    p_uncond: float = 0.1,
    batch_size: int = 256,
    lr: float = 2e-3,
    generator: torch.Generator | None = None,
    device: torch.device | str | None = None,
) -> tuple[models.TextConditionedEpsNet, train.History]:
    """Text-to-image diffusion conditioned on the frozen CLIP text tower (notebook 07, section 1): ε-prediction on
    images in model space, the condition being ``clip.encode_b(text_tokens)`` of each image's caption, zeroed with
    probability ``p_uncond`` for classifier-free guidance. The CLIP model is not trained further."""
    if not isinstance(images, torch.Tensor) or images.dim() != 4:
        raise ValueError(f"images must be (N, 1, H, W), got {describe(images)}")
    if not isinstance(text_tokens, torch.Tensor) or text_tokens.dim() != 2 or text_tokens.shape[0] != images.shape[0]:
        raise ValueError(
            f"text_tokens must be ({images.shape[0]}, L), one caption per image, got {describe(text_tokens)}"
        )
    cond = text_embeddings(clip.cpu().eval(), text_tokens)
    model = models.TextConditionedEpsNet(
        cond.shape[1], image_size=images.shape[-1], hidden=hidden, n_layers=n_layers, p_uncond=p_uncond
    )
    return _fit_eps(
        model,
        images,
        cond,
        model.drop_conditions,
        schedule,
        steps=steps,
        batch_size=batch_size,
        lr=lr,
        generator=generator,
        device=device,
        desc="text-to-image diffusion",
    )


@torch.no_grad()
def sample_text_to_image(
    model: models.TextConditionedEpsNet,
    cond: torch.Tensor,
    schedule: sampling.VPSchedule,
    *,
    w: float = 2.0,
    n_steps: int = 200,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """One image per row of ``cond`` (N, D) text embeddings: the reverse SDE with the guided score
    :math:`-\\tilde\\varepsilon/\\sigma_t`, :math:`\\tilde\\varepsilon = (1+w)\\hat\\varepsilon(x,t,e) - w\\hat\\varepsilon(x,t,0)`.
    Returns (N, 1, H, W) pixels in [0, 1]."""
    if not isinstance(model, models.TextConditionedEpsNet):
        raise TypeError(f"model must be a models.TextConditionedEpsNet, got {describe(model)}")

    def score_fn(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        _, sigma = schedule.marginal(t)
        return sampling.score_from_eps(model.guided_eps(x, t, cond, w), sigma)

    start = torch.randn(cond.shape[0], model.dim, generator=generator)
    x = sampling.reverse_sde(score_fn, start, schedule, n_steps, generator=generator)
    size = model.image_size
    return models.ConditionalEpsNet.to_pixel_space(x).reshape(-1, 1, size, size)
