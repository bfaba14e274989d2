"""The input check that several model modules share: token ids for the encoders, the captioner and the language
models (images: ``_checks.check_images``)."""

from __future__ import annotations

from typing import Any

import torch

from .._checks import check_index_range, check_index_tensor


def check_token_ids(
    tokens: Any, name: str, vocab_size: int, *, batch: int | None = None, allow_empty: bool = False
) -> torch.Tensor:
    """A (B, T) integer tensor of ids in ``[0, vocab_size)``; T >= 1 unless ``allow_empty``, B == ``batch`` when
    given. Every problem is a ValueError naming ``name``."""
    check_index_tensor(tokens, name, what="token ids", layout="(B, T)", ndim=2, error=ValueError)
    if not allow_empty and tokens.shape[1] == 0:
        raise ValueError(f"{name} must hold at least one token per row, got shape {tuple(tokens.shape)}")
    if batch is not None and tokens.shape[0] != batch:
        raise ValueError(f"{name} must hold one row per image ({batch} images), got {tokens.shape[0]} rows")
    return check_index_range(tokens, name, vocab_size, what="ids")
