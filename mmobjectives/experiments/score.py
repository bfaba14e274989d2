r"""Score-matching experiments (notebook 03): a mixture's density and score, the learned score's error at a
noise level, and Langevin dynamics with the exact score. Pure compute behind ``widgets.score``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from .. import data, metrics, sampling, viz
from .._checks import check_instance, check_int, check_positive, describe

__all__ = ["LangevinRun", "MixtureField", "ScoreError", "langevin_run", "mixture_field", "score_error"]


@dataclass(frozen=True)
class MixtureField:
    """A two-mode mixture and its exact score at the origin."""

    mixture: data.GaussianMixture
    score_at_origin: np.ndarray


def mixture_field(weight_left: float, distance: float, std: float) -> MixtureField:
    r"""``data.two_modes(weight_left, distance, std)`` and its score :math:`\nabla\log p` at the origin.

    Notebook 03, section 1 widget: the score depends on the weights only through the responsibilities, which is why
    the field far from the modes hardly tells the weights apart (the problem annealing solves, notebook 04).
    """
    mixture = data.two_modes(weight_left=weight_left, distance=distance, std=std)
    return MixtureField(mixture, mixture.score(torch.zeros(1, 2, dtype=torch.float64))[0].numpy())


@dataclass(frozen=True)
class ScoreError:
    """Analytic and learned scores of the noised mixture on a grid, their error, and the relative Fisher divergence."""

    sigma: float
    noised: data.GaussianMixture
    xx: np.ndarray
    yy: np.ndarray
    true_field: np.ndarray
    learned_field: np.ndarray
    error: np.ndarray
    relative_fisher: float


def score_error(
    score_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    mixture: data.GaussianMixture,
    sigma: float,
    *,
    lim: float = 6.0,
    n_grid: int = 41,
    n_samples: int = 4000,
    seed: int = 0,
) -> ScoreError:
    r"""Compare a noise-conditional model ``score_fn(x, sigma)`` with the exact score of ``mixture.noised(sigma)``:
    on a grid (fields and the error :math:`\|s_\theta - s^*\|`) and, on samples of :math:`q_\sigma`, the relative
    Fisher divergence. Notebook 03, section 6 widget.
    """
    if not callable(score_fn):
        raise TypeError(f"score_fn must be callable (x, sigma) -> score, got {describe(score_fn)}")
    check_instance(mixture, "mixture", data.GaussianMixture, "a data.GaussianMixture")
    sigma = check_positive(sigma, "sigma")
    noised = mixture.noised(sigma)
    xx, yy, grid = viz.grid_2d(check_positive(lim, "lim"), check_int(n_grid, "n_grid", minimum=2))
    generator = torch.Generator().manual_seed(check_int(seed, "seed", minimum=0))
    samples = noised.sample(check_int(n_samples, "n_samples", minimum=2), generator=generator)

    def learned(x: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return score_fn(x.float(), torch.full((x.shape[0],), sigma)).double()

    true_field = noised.score(grid).numpy()
    learned_field = learned(grid).numpy()
    return ScoreError(
        sigma=sigma,
        noised=noised,
        xx=xx,
        yy=yy,
        true_field=true_field,
        learned_field=learned_field,
        error=np.linalg.norm(learned_field - true_field, axis=1).reshape(xx.shape),
        relative_fisher=metrics.relative_fisher_divergence(learned, noised.score, samples),
    )


@dataclass(frozen=True)
class LangevinRun:
    """Samples after Langevin dynamics with the exact score, and their mean log-density against the truth's."""

    step_size: float
    n_steps: int
    samples: np.ndarray
    mean_log_p: float
    reference_log_p: float
    mixture: data.GaussianMixture


def langevin_run(
    step_size: float,
    n_steps: int,
    mixture: data.GaussianMixture,
    *,
    n_chains: int = 1000,
    start_lim: float = 8.0,
    seed: int = 0,
) -> LangevinRun:
    r"""Langevin from uniform noise on :math:`[-L, L]^2` with ``mixture.score``; returns the samples and the mean
    :math:`\log p` of the samples next to that of exact samples (equal when the sampler is right). Notebook 03.
    """
    # step_size and n_steps are checked once, by sampling.langevin
    check_instance(mixture, "mixture", data.GaussianMixture, "a data.GaussianMixture")
    n_chains = check_int(n_chains, "n_chains", minimum=2)
    start_lim = check_positive(start_lim, "start_lim")
    generator = torch.Generator().manual_seed(check_int(seed, "seed", minimum=0))
    start = (torch.rand(n_chains, mixture.dim, generator=generator, dtype=torch.float64) * 2 - 1) * start_lim
    samples = sampling.langevin(mixture.score, start, step_size, n_steps, generator=generator)
    assert isinstance(samples, torch.Tensor)
    reference = mixture.sample(n_chains, generator=generator)
    return LangevinRun(
        step_size=float(step_size),
        n_steps=int(n_steps),
        samples=samples.numpy(),
        mean_log_p=float(mixture.log_prob(samples).mean()),
        reference_log_p=float(mixture.log_prob(reference).mean()),
        mixture=mixture,
    )
