r"""Cross-entropy experiments: the softmax at a temperature (notebook 00) and calibration under temperature
scaling and label smoothing (notebook 02, section 4). Pure compute behind the panels of ``widgets.cross_entropy``."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from .. import losses, metrics
from .._checks import (
    as_float_tensor,
    check_finite,
    check_index_range,
    check_index_tensor,
    check_int,
    check_positive,
    check_real,
    describe,
)
from ._types import Indices, Numbers

__all__ = ["Calibration", "SoftmaxSummary", "calibration", "softmax_temperature"]


@dataclass(frozen=True)
class SoftmaxSummary:
    r"""The softmax at temperature :math:`\tau` of logits :math:`o`: :math:`p_k = e^{o_k/\tau}/\sum_j e^{o_j/\tau}`,
    its entropy, a label's CE."""

    logits: np.ndarray
    temperature: float
    label: int
    probs: np.ndarray
    entropy: float
    max_entropy: float
    cross_entropy: float


def softmax_temperature(logits: Numbers, temperature: float, label: int) -> SoftmaxSummary:
    r"""Softmax of ``logits / temperature``, its entropy :math:`H(p) = -\sum_k p_k \log p_k` (nats) and the
    cross-entropy of ``label``, :math:`-\log p_{\text{label}}` — computed with log-softmax so that a tiny
    temperature gives 0·log 0 = 0 rather than NaN. Notebook 00, section "a first widget".
    """
    z = check_finite(as_float_tensor(logits, "logits"), "logits").detach().cpu()
    if z.dim() != 1 or z.numel() < 2:
        raise ValueError(f"logits must be a 1-D vector of at least 2 class scores, got {describe(logits)}")
    temperature = check_positive(temperature, "temperature")
    label = check_int(label, "label", minimum=0)
    if label >= z.numel():
        raise ValueError(f"label must be a class index in [0, {z.numel() - 1}], got {label}")
    log_p = torch.log_softmax(check_finite(z / temperature, "logits / temperature"), dim=0)
    p = log_p.exp()
    entropy = float(-(p * log_p).sum())  # p·log p → 0 as p → 0: exp(log_p) * log_p is finite for finite log_p
    return SoftmaxSummary(
        logits=z.numpy(),
        temperature=temperature,
        label=label,
        probs=p.numpy(),
        entropy=max(entropy, 0.0) + 0.0,  # + 0.0 turns -0.0 into 0.0
        max_entropy=math.log(z.numel()),
        cross_entropy=float(-log_p[label]),
    )


def _class_indices(labels: Indices) -> torch.Tensor:
    """(N,) class indices as a long CPU tensor; a list or array is converted, float labels raise TypeError."""
    if not isinstance(labels, torch.Tensor):
        try:
            labels = torch.as_tensor(np.asarray(labels))
        except (TypeError, ValueError, RuntimeError) as err:
            raise TypeError(f"labels must be (N,) integer class indices, got {describe(labels)}") from err
    return check_index_tensor(labels, "labels", what="class indices", layout="(N,)").detach().cpu().long()


@dataclass(frozen=True)
class Calibration:
    """A classifier's held-out predictions after temperature scaling, with its loss, confidence and ECE."""

    temperature: float
    smoothing: float
    example: int
    probs: np.ndarray
    label: int
    loss: float
    mean_test_loss: float
    confidence: float
    accuracy: float
    ece: float
    all_probs: np.ndarray  # (N, K) every held-out example's p(y | x) at this temperature (the reliability diagram)
    all_labels: np.ndarray  # (N,) their labels


def calibration(
    logits: Numbers, labels: Indices, temperature: float, smoothing: float, example: int = 0, *, n_bins: int = 15
) -> Calibration:
    r"""Softmax of held-out ``logits / temperature``: one example's distribution and its cross-entropy with label
    smoothing ``smoothing`` (``losses.cross_entropy(..., label_smoothing=ε)``), the mean test loss, the mean
    confidence, the accuracy and the expected calibration error. Notebook 02, section 4 widget.

    ``labels`` are (N,) class indices (an integer tensor, array or list); float labels raise TypeError rather
    than being silently truncated.
    """
    z = check_finite(as_float_tensor(logits, "logits"), "logits").detach().cpu()
    y = _class_indices(labels)
    if z.dim() != 2 or y.shape != (z.shape[0],):
        raise ValueError(f"logits must be (N, K) and labels (N,), got {describe(logits)} and {describe(labels)}")
    check_index_range(y, "labels", z.shape[1], what="class indices")
    temperature = check_positive(temperature, "temperature")
    smoothing = check_real(smoothing, "smoothing")
    example = check_int(example, "example", minimum=0)
    if example >= z.shape[0]:
        raise ValueError(f"example must index a row of logits (< {z.shape[0]}), got {example}")
    scaled = z / temperature
    probs = torch.softmax(scaled, dim=1)
    per_example = losses.cross_entropy(scaled, y, label_smoothing=smoothing, reduction="none")
    return Calibration(
        temperature=temperature,
        smoothing=smoothing,
        example=example,
        probs=probs[example].numpy(),
        label=int(y[example]),
        loss=float(per_example[example]),
        mean_test_loss=float(per_example.mean()),
        confidence=float(probs.max(dim=1).values.mean()),
        accuracy=float((probs.argmax(dim=1) == y).float().mean()),
        ece=metrics.expected_calibration_error(probs, y, n_bins=n_bins),
        all_probs=probs.numpy(),
        all_labels=y.numpy(),
    )
