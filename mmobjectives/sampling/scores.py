r"""Score functions ready for a sampler: the exact score of a diffused Gaussian mixture, and the score of an
ε-prediction model. Notebook 04, sections 2–3.

Every diffusion sampler of this package calls ``score_fn(x, t)`` with ``x`` (N, D) and ``t`` an (N,) tensor of
times; these two functions build such a ``score_fn`` from what a notebook has at hand.
"""

from __future__ import annotations

import torch

from .. import data
from .._checks import check_instance, describe
from ._loop import ScoreFn
from .conversions import score_from_eps
from .schedules import Schedule, _check_schedule


def analytic_diffusion_score(mixture: data.GaussianMixture, schedule: Schedule) -> ScoreFn:
    r"""The exact score of the diffused mixture at time t, ``score_fn(x, t)`` with t an (N,) tensor of equal times:
    :math:`\nabla\log p_t` where :math:`x_t = \alpha(t)x_0 + \sigma(t)\varepsilon` (``mixture.diffused``). Lets
    notebook 04 compare samplers with no training error in the way.
    """
    check_instance(mixture, "mixture", data.GaussianMixture, "a data.GaussianMixture")
    _check_schedule(schedule)

    def score_fn(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        t0 = float(torch.as_tensor(t).reshape(-1)[0])
        alpha, sigma = schedule.marginal(t0)
        return mixture.diffused(float(alpha), float(sigma)).score(x)

    return score_fn


def eps_model_score(eps_fn: ScoreFn, schedule: Schedule) -> ScoreFn:
    r"""The score of a noise-prediction model, :math:`s(x, t) = -\hat\varepsilon(x, t)/\sigma(t)`
    (:func:`score_from_eps` at the schedule's :math:`\sigma(t)`). Notebook 04, section 2.

    ``eps_fn(x, t)`` is an unconditional ε-net, or a closure over a condition such as
    ``lambda x, t: model(x, t, labels)``; the result is the ``score_fn(x, t)`` that ``reverse_sde`` and
    ``probability_flow_ode`` take. The one place an ε-model becomes a score.
    """
    if not callable(eps_fn):
        raise TypeError(f"eps_fn must be callable (x, t) -> eps, got {describe(eps_fn)}")
    _check_schedule(schedule)

    def score_fn(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        _, sigma = schedule.marginal(t)
        return score_from_eps(eps_fn(x, t), sigma)  # s = -ε̂ / σ_t

    return score_fn
