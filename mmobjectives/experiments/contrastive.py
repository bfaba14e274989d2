r"""Contrastive experiments: the InfoNCE MI staircase and its log N ceiling (notebook 01, section 2), and the
temperature of the contrastive softmax (notebook 01, section 3). Pure compute behind ``widgets.contrastive``."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from .. import losses, metrics
from .._checks import as_float_tensor, check_finite, check_int, check_positive, check_reals, describe
from ._types import Numbers

__all__ = ["ContrastiveTemperature", "MIStaircase", "contrastive_temperature", "mi_staircase"]


@dataclass(frozen=True)
class MIStaircase:
    """InfoNCE estimates of the optimal critic (scaled by 1/temperature) against the true MI, at batch size n."""

    n: int
    temperature: float
    true_mi: tuple[float, ...]
    estimates: tuple[float, ...]
    standard_errors: tuple[float, ...]
    log_n: float


def mi_staircase(
    n: int,
    temperature: float,
    *,
    mis: Sequence[float] = (2.0, 4.0, 6.0, 8.0, 10.0),
    dim: int = 20,
    n_batches: int = 20,
    seed: int = 0,
) -> MIStaircase:
    r"""The correlated-Gaussian benchmark with the *optimal* critic :math:`\log p(y|x)/p(y)` divided by
    ``temperature``: for each true MI, the estimate :math:`\log n - \mathcal L`. Shows the :math:`\log n`
    ceiling and what a mis-scaled critic (temperature ≠ 1) loses. Notebook 01, section 2 widget.
    """
    n = check_int(n, "n", minimum=2)
    temperature = check_positive(temperature, "temperature")
    mis = check_reals(mis, "mis")
    generator = torch.Generator().manual_seed(check_int(seed, "seed", minimum=0))
    results = [
        metrics.optimal_critic_estimate(
            mi, n, dim=dim, n_batches=n_batches, temperature=temperature, generator=generator
        )
        for mi in mis
    ]
    return MIStaircase(
        n=n,
        temperature=temperature,
        true_mi=tuple(float(m) for m in mis),
        estimates=tuple(r[0] for r in results),
        standard_errors=tuple(r[1] for r in results),
        log_n=math.log(n),
    )


@dataclass(frozen=True)
class ContrastiveTemperature:
    """Row softmax over candidates and the per-pair symmetric InfoNCE loss at one temperature."""

    temperature: float
    probs: np.ndarray
    per_pair_loss: np.ndarray
    mean_loss: float


def contrastive_temperature(similarity: Numbers, temperature: float) -> ContrastiveTemperature:
    r"""For an (N, N) cosine-similarity matrix :math:`\langle a_i, b_j\rangle` (true pairs on the diagonal): the
    softmax over candidates of each row, :math:`P_{ij} = e^{S_{ij}}/\sum_k e^{S_{ik}}` with the logits
    :math:`S_{ij} = \langle a_i, b_j\rangle/\tau`, and the per-pair symmetric InfoNCE loss
    (``losses.info_nce_logits(similarity / τ, reduction="none")``). Notebook 01, section 3 widget.
    """
    sim = check_finite(as_float_tensor(similarity, "similarity"), "similarity").detach().cpu()
    if sim.dim() != 2 or sim.shape[0] != sim.shape[1] or sim.shape[0] < 2:
        raise ValueError(f"similarity must be a square (N, N) matrix with N >= 2, got {describe(similarity)}")
    temperature = check_positive(temperature, "temperature")
    logits = sim / temperature
    per_pair = losses.info_nce_logits(logits, reduction="none")
    return ContrastiveTemperature(
        temperature=temperature,
        probs=torch.softmax(logits, dim=1).numpy(),
        per_pair_loss=per_pair.numpy(),
        mean_loss=float(per_pair.mean()),
    )
