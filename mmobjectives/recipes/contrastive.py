"""CLIP on paired digits (notebook 01, section 4; the judge and text tower of notebook 07)."""

from __future__ import annotations

import torch
from torch import nn

from .. import data, losses, models, train
from .._checks import describe
from ._train import _check_batch, _check_pairs, _Run, _train


def clip_loss(model: nn.Module, batch: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
    """Symmetric InfoNCE of a ``models.DualEncoder`` on a batch ``(images, tokens)``."""
    if not isinstance(model, models.DualEncoder):
        raise TypeError(f"model must be a models.DualEncoder, got {describe(model)}")
    images, tokens = _check_batch(batch, ("images", "tokens"))
    z_a, z_b, temperature = model(images, tokens)
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
    """CLIP on digits (notebook 01, section 4): an ``ImageEncoder`` and a bag-of-words ``TextEncoder`` into one
    ``embed_dim``-dimensional space, learnable temperature from 0.07, symmetric InfoNCE, AdamW with cosine decay."""
    pairs = _check_pairs(pairs)
    clip = models.DualEncoder(
        models.ImageEncoder(out_dim=embed_dim, image_size=pairs.images_train.shape[-1]),
        models.TextEncoder(pairs.tokenizer.vocab_size, out_dim=embed_dim),
        init_temperature=0.07,
    )
    run = _Run(steps, batch_size, lr, generator, device, desc="CLIP on digits")
    return _train("fit_clip", clip, clip_loss, (pairs.images_train, pairs.tokens_train), run)


@torch.no_grad()
def text_embeddings(clip: models.DualEncoder, text_tokens: torch.Tensor) -> torch.Tensor:
    """The CLIP text tower's normalised embeddings of (N, L) caption tokens: the condition of text-to-image."""
    if not isinstance(clip, models.DualEncoder):
        raise TypeError(f"clip must be a models.DualEncoder, got {describe(clip)}")
    return clip.encode_b(text_tokens)
