r"""Diffusion training objectives: denoising score matching at a random time of a noise schedule, and the DDPM
"simple" noise-prediction loss. Notebook 04.

With :math:`x_t = \alpha(t)x_0 + \sigma(t)\varepsilon` and :math:`t\sim\mathcal U(t_{\min}, 1)`:

* **Noise-conditional DSM** (Song et al. 2021):
  :math:`\tfrac12\lambda(t)\,\|s(x_t, t) + \varepsilon/\sigma(t)\|^2`, with :math:`\lambda = \sigma^2` by default.
  Its minimiser is the score :math:`\nabla\log p_t` of the noised marginal at every t.
* **ε-prediction** (Ho et al. 2020): :math:`\|\hat\varepsilon(x_t, t) - \varepsilon\|^2`. With
  :math:`s = -\hat\varepsilon/\sigma` it is exactly twice the :math:`\lambda=\sigma^2` DSM loss.

A ``schedule`` is any object with a ``marginal(t)`` method returning ``(alpha, sigma)`` tensors shaped like t
(e.g. ``mmobjectives.sampling.VPSchedule``; losses sit below sampling in the layers and never import it).
"""

from __future__ import annotations

import torch

from .._checks import check_choice, check_finite, check_generator, check_real, check_reduction, describe, reduce
from ._common import ScoreFn, call_score, check_points, draw_noise, dsm_per_example, upcast_half

__all__ = ["eps_prediction_loss", "noise_conditional_dsm"]


def _times(
    t: float | torch.Tensor | None, n: int, x0: torch.Tensor, t_min: float, generator: torch.Generator | None
) -> torch.Tensor:
    """(N,) times in x0's dtype: ``t`` broadcast, or drawn uniformly on [t_min, 1)."""
    t_min = check_real(t_min, "t_min")
    if not 0 <= t_min < 1:
        raise ValueError(f"t_min must be in [0, 1), got {t_min}")
    if t is None:
        u = torch.rand(n, generator=generator, dtype=torch.float64)
        return (t_min + (1 - t_min) * u).to(dtype=x0.dtype, device=x0.device)
    if isinstance(t, torch.Tensor):
        if not t.is_floating_point():
            raise TypeError(f"t must be a float or a floating-point (N,) tensor, got {describe(t)}")
        tt = t.detach()
        if tt.dim() == 0:
            tt = tt.expand(n)
        if tt.shape != (n,):
            raise ValueError(f"t must be a float or an ({n},) tensor (one time per example), got {describe(t)}")
        tt = tt.to(dtype=x0.dtype, device=x0.device)
    else:
        tt = torch.full((n,), check_real(t, "t"), dtype=x0.dtype, device=x0.device)
    check_finite(tt, "t")
    if not bool(((tt >= 0) & (tt <= 1)).all()):
        raise ValueError(f"t must lie in [0, 1], got values from {float(tt.min())} to {float(tt.max())}")
    return tt


def _noised(
    x0: torch.Tensor,
    schedule: object,
    t: float | torch.Tensor | None,
    noise: torch.Tensor | None,
    t_min: float,
    generator: torch.Generator | None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """(x_t, t, sigma (N,), eps) for x_t = alpha x0 + sigma eps."""
    check_points(x0, "x0")
    if not callable(getattr(schedule, "marginal", None)):
        raise TypeError(
            f"schedule must have a marginal(t) method returning (alpha, sigma), e.g. sampling.VPSchedule(), "
            f"got {describe(schedule)}"
        )
    check_generator(generator)
    n = x0.shape[0]
    tt = _times(t, n, x0, t_min, generator)
    alpha, sigma = schedule.marginal(tt)
    alpha = torch.as_tensor(alpha).to(dtype=x0.dtype, device=x0.device).expand(n)
    sigma = torch.as_tensor(sigma).to(dtype=x0.dtype, device=x0.device).expand(n)
    if not bool((sigma > 0).all()):
        raise ValueError(
            f"t must give sigma(t) > 0 (the noise level is 0 at t = 0 for a VP schedule), got min sigma "
            f"{float(sigma.min())} at t = {float(tt[sigma.argmin()])}"
        )
    eps = draw_noise(noise, x0, generator)
    x_t = alpha[:, None] * x0 + sigma[:, None] * eps  # x_t = α(t) x₀ + σ(t) ε
    return x_t, tt, sigma, eps


def noise_conditional_dsm(
    score_fn: ScoreFn,
    x0: torch.Tensor,
    schedule: object,
    *,
    t: float | torch.Tensor | None = None,
    noise: torch.Tensor | None = None,
    weighting: str = "sigma2",
    t_min: float = 1e-3,
    generator: torch.Generator | None = None,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""Denoising score matching across a noise schedule:

    .. math::
        t\sim\mathcal U(t_{\min}, 1),\quad x_t = \alpha(t)x_0 + \sigma(t)\varepsilon,\qquad
        \ell = \tfrac12\,\lambda(t)\,\big\|s(x_t, t) + \varepsilon/\sigma(t)\big\|^2,

    :math:`\lambda = \sigma(t)^2` for ``weighting="sigma2"`` (so :math:`\ell = \tfrac12\|\sigma s + \varepsilon\|^2`,
    one scale at every t) and :math:`\lambda = 1` for ``"none"``. ``t`` (float or (N,) tensor in [0, 1]) and
    ``noise`` (shaped like ``x0``) are drawn with ``generator`` when not given. ``score_fn(x_t, t)`` receives t
    as an (N,) tensor. ``schedule``: any object with ``marginal(t) -> (alpha, sigma)``. float16 / bfloat16 ``x0``:
    the loss is computed and returned in float32. Notebook 04.
    """
    check_choice(weighting, "weighting", ("sigma2", "none"))
    check_reduction(reduction)
    x_t, tt, sigma, eps = _noised(x0, schedule, t, noise, t_min, generator)
    s = call_score(score_fn, x_t, tt)
    return reduce(dsm_per_example(s, eps, sigma, weighting), reduction)  # ½λ(t)‖s(x_t, t) + ε/σ(t)‖²


def eps_prediction_loss(
    eps_fn: ScoreFn,
    x0: torch.Tensor,
    schedule: object,
    *,
    t: float | torch.Tensor | None = None,
    noise: torch.Tensor | None = None,
    t_min: float = 1e-3,
    generator: torch.Generator | None = None,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""The DDPM "simple" loss (Ho et al. 2020): :math:`\|\hat\varepsilon(x_t, t) - \varepsilon\|^2`, summed over
    features (mean over examples for ``reduction="mean"``), with :math:`x_t`, t and :math:`\varepsilon` as in
    :func:`noise_conditional_dsm`.

    With :math:`s = -\hat\varepsilon/\sigma`, :math:`\tfrac12\sigma^2\|s + \varepsilon/\sigma\|^2
    = \tfrac12\|\varepsilon - \hat\varepsilon\|^2`: this loss is exactly **2 × noise_conditional_dsm** with
    :math:`\lambda = \sigma^2`, so ε-prediction is score matching with a particular weighting. ``eps_fn(x_t, t)``
    receives t as an (N,) tensor. Notebook 04.
    """
    check_reduction(reduction)
    x_t, tt, _, eps = _noised(x0, schedule, t, noise, t_min, generator)
    eps_hat = call_score(eps_fn, x_t, tt, name="eps_fn", maps="mapping (x_t, t) to the predicted noise")
    eps_hat, eps = upcast_half(eps_hat, eps)  # float16 / bfloat16: the loss in float32
    return reduce(((eps_hat - eps) ** 2).sum(dim=1), reduction)  # ‖ε̂(x_t, t) − ε‖²
