"""Encoders into a shared embedding space, and the critics built from them: notebook 01 (InfoNCE, CLIP).

:class:`ImageEncoder` and :class:`TextEncoder` are the two towers, :class:`DualEncoder` joins them with a learnable
temperature, :class:`SeparableCritic` scores every pair of a batch for the mutual-information estimate.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .._checks import check_images, check_int, check_positive, describe
from ._common import check_token_ids
from .mlp import MLP

__all__ = ["DualEncoder", "ImageEncoder", "SeparableCritic", "TextEncoder"]


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
        images = check_images(images)  # (N, 1, H, W)
        return self.head(self.features(images))  # (N, 2·channels·16) -> (N, out_dim)


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
        tokens = check_token_ids(tokens, "tokens", self.embed.num_embeddings, allow_empty=True)  # (N, T)
        mask = (tokens != self.pad_id).unsqueeze(-1).to(self.embed.weight.dtype)  # (N, T, 1)
        summed = (self.embed(tokens) * mask).sum(dim=1)  # (N, embed_dim)
        return self.head(summed / mask.sum(dim=1).clamp_min(1.0))  # mean over real words -> (N, out_dim)


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
        z_a, z_b = self.encode_a(a), self.encode_b(b)  # (N, D) each, unit norm
        if z_a.shape[-1] != z_b.shape[-1]:
            raise ValueError(
                f"encoder_a and encoder_b must map to the same embedding size, got {z_a.shape[-1]} and {z_b.shape[-1]}"
            )
        return z_a, z_b, self.temperature


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
        return self.g(x) @ self.h(y).T  # (N, E) @ (E, N) -> (N, N)
