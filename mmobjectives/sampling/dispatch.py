r"""One call that samples a Gaussian mixture with any of the four diffusion samplers and its exact score, at a
given budget of score evaluations. Notebook 04, section 3 (the sampler comparison and its widget).

**Step policy.** ``n_steps`` counts score evaluations, so the samplers are compared at equal cost:

* annealed Langevin: 10 noise levels :math:`\sigma_i` from 10 down to 0.1 (log-spaced), ``max(n_steps // 10, 1)``
  steps at each, step size :math:`\epsilon = 0.01`; started from uniform noise on :math:`[-8, 8]^D`;
* reverse SDE: ``n_steps`` Euler–Maruyama steps of the VP (linear) schedule;
* probability-flow ODE: ``max(n_steps // 2, 1)`` Heun steps (two score evaluations each);
* DDPM: :math:`K` = ``n_steps`` ancestral steps, the betas of the standard K = 1000 linear schedule rescaled by
  ``1000 / n_steps`` (so :math:`\sum_k\beta_k` and the prior :math:`\bar\alpha_K` stay those of K = 1000).
"""

from __future__ import annotations

import math

import torch

from .. import data
from .._checks import check_choice, check_generator, check_instance, check_int
from .conversions import eps_from_score
from .diffusion import ddpm_sample, probability_flow_ode, reverse_sde
from .langevin import annealed_langevin
from .schedules import VPSchedule, ddpm_alpha_bar, linear_betas
from .scores import analytic_diffusion_score

SAMPLERS: tuple[str, ...] = ("annealed Langevin", "reverse SDE", "probability-flow ODE", "DDPM")

_LANGEVIN_LEVELS = 10  # σ from 10 to 0.1
_LANGEVIN_STEP_LR = 0.01
_LANGEVIN_START = 8.0  # uniform start on [-8, 8]^D
_DDPM_K = 1000  # the reference number of steps whose betas (1e-4 ... 0.02) are rescaled


def sample_mixture(
    sampler: str,
    n_steps: int,
    mixture: data.GaussianMixture,
    *,
    n: int = 1000,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    r"""``n`` samples (n, D) float64 of ``mixture`` drawn by ``sampler`` (one of :data:`SAMPLERS`) with the exact
    diffused score (no training error), in about ``n_steps`` score evaluations (the step policy in the module
    docstring). Notebook 04, section 3."""
    sampler = check_choice(sampler, "sampler", SAMPLERS)
    n_steps = check_int(n_steps, "n_steps", minimum=1)
    n = check_int(n, "n", minimum=1)
    check_instance(mixture, "mixture", data.GaussianMixture, "a data.GaussianMixture")
    check_generator(generator)
    dim = mixture.dim
    if sampler == "annealed Langevin":
        sigmas = torch.logspace(1.0, -1.0, _LANGEVIN_LEVELS, dtype=torch.float64).tolist()
        start = (torch.rand(n, dim, generator=generator, dtype=torch.float64) * 2 - 1) * _LANGEVIN_START

        def noised_score(x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
            return mixture.noised(float(sigma[0])).score(x)

        each = max(n_steps // _LANGEVIN_LEVELS, 1)
        return annealed_langevin(noised_score, start, sigmas, each, _LANGEVIN_STEP_LR, generator=generator)
    if sampler == "DDPM":
        scale = _DDPM_K / n_steps  # keep the total noise of the K = 1000 linear schedule (beta_k * K fixed)
        betas = linear_betas(n_steps, min(1e-4 * scale, 0.5), min(0.02 * scale, 0.999))
        alpha_bar = ddpm_alpha_bar(betas)

        def eps_fn(x: torch.Tensor, step: torch.Tensor) -> torch.Tensor:
            ab = float(alpha_bar[int(step[0])])
            alpha, sigma = math.sqrt(ab), math.sqrt(1 - ab)
            return eps_from_score(mixture.diffused(alpha, sigma).score(x), sigma)  # ε = -σ s

        return ddpm_sample(eps_fn, (n, dim), betas, generator=generator, dtype=torch.float64)
    schedule = VPSchedule("linear")
    x_1 = torch.randn(n, dim, generator=generator, dtype=torch.float64)  # the prior N(0, I) at t = 1
    score_fn = analytic_diffusion_score(mixture, schedule)
    if sampler == "reverse SDE":
        return reverse_sde(score_fn, x_1, schedule, n_steps, generator=generator)
    return probability_flow_ode(score_fn, x_1, schedule, max(n_steps // 2, 1))  # Heun: 2 evaluations per step
