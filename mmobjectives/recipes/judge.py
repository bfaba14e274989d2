"""The digit classifier, and the independent judge that grades generated digits (notebooks 04, 05, 06 and 07)."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from .. import data, losses, models, train
from .._checks import check_class_labels, check_images
from ._train import _Run, _train


def fit_classifier(
    x_train: torch.Tensor,
    y_train: torch.Tensor,
    *,
    steps: int = 1000,
    batch_size: int = 128,
    lr: float = 2e-3,
    generator: torch.Generator | None = None,
    device: torch.device | str | None = None,
    desc: str = "digit classifier",
) -> tuple[nn.Module, train.History]:
    """Train a digit classifier with cross-entropy: the **independent judge** of notebooks 04 to 07
    (:func:`fit_judge`), and notebook 06's cross-entropy model, whose training cost goes in its table.

    A small CNN (``models.ImageEncoder`` with one output per class) trained with cross-entropy on real
    (N, 1, H, W) images, each batch shifted by up to one pixel (``data.random_shift``) so that it generalises past
    the training digits. It never sees a generated image, so its verdict on one is independent of the generator.
    Class labels are ``y_train`` in [0, K); the judge has K = ``y_train.max() + 1`` outputs.
    Returns the model in eval mode on the CPU and its ``train.History``.
    """
    check_images(x_train, "x_train")
    n_classes = check_class_labels(y_train, "y_train", x_train.shape[0])
    judge = models.ImageEncoder(out_dim=n_classes, image_size=x_train.shape[-1])

    def loss_fn(model: nn.Module, batch: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        return losses.cross_entropy(model(data.random_shift(batch[0], 1, generator=generator)), batch[1])

    run = _Run(steps, batch_size, lr, generator, device, desc=desc)
    return _train("fit_classifier", judge, loss_fn, (x_train, y_train), run)


def fit_judge(x_train: torch.Tensor, y_train: torch.Tensor, **options: Any) -> nn.Module:
    """The **independent judge** that grades generated digits in notebooks 04 to 07: the model of
    :func:`fit_classifier` (same arguments; the progress bar says "judge classifier"), trained on real digits
    only. It never sees a generated image, so its verdict on one is independent of the generator. Returns the
    model in eval mode on the CPU."""
    return fit_classifier(x_train, y_train, **{"desc": "judge classifier", **options})[0]
