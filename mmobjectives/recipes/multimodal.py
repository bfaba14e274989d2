"""One TinyGPT over image tokens and caption words in both orders (notebooks 05 and 07): its training set, its
loss, its training, and captioning and drawing with it."""

from __future__ import annotations

import functools
from dataclasses import dataclass

import torch
from torch import nn

from .. import data, losses, models, sampling, train
from .._checks import check_int, describe
from ._train import _check_batch, _check_pairs, _Run, _train


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


def _check_sequences(sequences: object) -> MultimodalSequences:
    if not isinstance(sequences, MultimodalSequences):
        raise TypeError(f"sequences must come from recipes.multimodal_sequences, got {describe(sequences)}")
    return sequences


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
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module (a models.TinyGPT), got {describe(model)}")
    if not isinstance(vocab, data.MultimodalVocabulary):
        raise TypeError(f"vocab must be a data.MultimodalVocabulary, got {describe(vocab)}")
    seqs, allowed, targets = _check_batch(batch, ("tokens", "allowed", "targets"))
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
    vocab = _check_sequences(sequences).vocab
    check_int(steps, "steps", minimum=0)
    gpt = models.TinyGPT(
        vocab.vocab_size,
        d_model=d_model,
        n_layers=n_layers,
        n_heads=n_heads,
        max_len=sequences.max_len,
        dropout=dropout,
    )
    run = _Run(steps, batch_size, lr, generator, device, desc="multimodal TinyGPT", settings={"dropout": dropout})
    loss_fn = functools.partial(multimodal_loss, vocab=vocab)
    return _train("fit_multimodal_gpt", gpt, loss_fn, (sequences.tokens, sequences.allowed, sequences.targets), run)


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
    vocab = _check_sequences(sequences).vocab
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
    _check_sequences(sequences)
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
