"""The container every image loader returns: a fixed train/test split of 10-class, single-channel images.

``images.load_digits`` (scikit-learn's 8×8 digits, offline) and ``mnist.load_mnist`` (28×28, downloaded and cached)
both return an ``ImageDataset``, so notebooks 00 and 02 never branch on which one they got.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch

__all__ = ["DATASET_NAMES", "ImageDataset"]

DATASET_NAMES: tuple[str, ...] = ("digits", "mnist")
_ORIGIN = {
    "digits": "from scikit-learn (offline)",
    "mnist": "from the original MNIST IDX files",
}

# --------------------------------------------------------------------------------------------------
# The dataset container
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False, repr=False)
class ImageDataset:
    """A fixed train/test split of 10-class, single-channel images (used by notebooks 00 and 02).

    ``x_train``/``x_test`` are float32 tensors in ``[0, 1]`` shaped ``(N, 1, H, W)``; ``y_train``/``y_test``
    are int64 class labels in ``0..9``. ``name`` is ``"digits"`` or ``"mnist"``; ``source`` is a sentence
    saying where the images came from (and, from ``load_image_dataset``, why this dataset was chosen).
    """

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    name: str
    source: str

    n_classes: ClassVar[int] = 10

    def __post_init__(self) -> None:
        if self.name not in DATASET_NAMES:
            raise ValueError(f"name must be one of {DATASET_NAMES}, got {self.name!r}")
        if not isinstance(self.source, str):
            raise TypeError(f"source must be a str, got {type(self.source).__name__}")
        for split in ("train", "test"):
            x, y = getattr(self, f"x_{split}"), getattr(self, f"y_{split}")
            if not isinstance(x, torch.Tensor) or not isinstance(y, torch.Tensor):
                raise TypeError(
                    f"x_{split} and y_{split} must be torch tensors, got {type(x).__name__} and {type(y).__name__}"
                )
            if x.dtype != torch.float32 or x.dim() != 4:
                raise ValueError(
                    f"x_{split} must be a float32 tensor shaped (N, C, H, W), got {x.dtype} {tuple(x.shape)}"
                )
            if y.dtype != torch.int64 or y.dim() != 1:
                raise ValueError(f"y_{split} must be a 1-D int64 tensor, got {y.dtype} {tuple(y.shape)}")
            if x.shape[0] != y.shape[0]:
                raise ValueError(
                    f"x_{split} and y_{split} must hold the same number of examples, "
                    f"got {x.shape[0]} images and {y.shape[0]} labels"
                )
        if self.x_train.shape[1:] != self.x_test.shape[1:]:
            raise ValueError(
                "x_train and x_test must have the same image shape, "
                f"got {tuple(self.x_train.shape[1:])} and {tuple(self.x_test.shape[1:])}"
            )

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """``(C, H, W)`` of one image: ``(1, 8, 8)`` for digits, ``(1, 28, 28)`` for MNIST."""
        c, h, w = self.x_train.shape[1:]
        return int(c), int(h), int(w)

    def describe(self) -> str:
        """One line, e.g. ``digits: 1437 train / 360 test images of 1×8×8, from scikit-learn (offline)``."""
        shape = "×".join(str(d) for d in self.image_shape)
        return (
            f"{self.name}: {len(self.y_train)} train / {len(self.y_test)} test images of {shape}, {_ORIGIN[self.name]}"
        )

    def __repr__(self) -> str:
        return f"ImageDataset({self.describe()})"
