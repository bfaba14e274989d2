r"""Samplers driven by a score function, and what they need. Notebook 03 (Langevin); notebook 04 adds the noise
schedules, annealed Langevin, the reverse SDE, the probability-flow ODE, DDPM and classifier-free guidance;
notebook 05 adds token sampling.

* :mod:`.schedules` — VE/VP noise schedules, DDPM betas and the prior check;
* :mod:`.conversions` — score ↔ ε ↔ :math:`x_0`, and classifier-free guidance;
* :mod:`.scores` — a ``score_fn(x, t)`` from a Gaussian mixture (exact) or from an ε-model;
* :mod:`.langevin` — Langevin and annealed Langevin dynamics;
* :mod:`.diffusion` — reverse SDE, probability-flow ODE, DDPM ancestral sampling;
* :mod:`.guided` — class/text-conditional sampling with guidance (the one path for every notebook);
* :mod:`.dispatch` — the four samplers behind one name, with their step policy (notebook 04's comparison);
* :mod:`.tokens` — next-token sampling with temperature and top-k.
"""

from .conversions import eps_from_score, eps_from_x0, guided_score, score_from_eps, x0_from_eps, x0_from_score
from .diffusion import ddpm_sample, probability_flow_ode, reverse_sde
from .dispatch import SAMPLERS, sample_mixture
from .guided import sample_guided, sample_guided_images
from .langevin import annealed_langevin, langevin
from .schedules import VESchedule, VPSchedule, check_prior, ddpm_alpha_bar, linear_betas
from .scores import analytic_diffusion_score, eps_model_score
from .tokens import next_token_probs, sample_tokens

__all__ = [
    "SAMPLERS",
    "VESchedule",
    "VPSchedule",
    "analytic_diffusion_score",
    "annealed_langevin",
    "check_prior",
    "ddpm_alpha_bar",
    "ddpm_sample",
    "eps_from_score",
    "eps_from_x0",
    "eps_model_score",
    "guided_score",
    "langevin",
    "linear_betas",
    "next_token_probs",
    "probability_flow_ode",
    "reverse_sde",
    "sample_guided",
    "sample_guided_images",
    "sample_mixture",
    "sample_tokens",
    "score_from_eps",
    "x0_from_eps",
    "x0_from_score",
]
