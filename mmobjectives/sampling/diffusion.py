r"""Samplers of a diffusion: the reverse-time SDE, the probability-flow ODE and DDPM's ancestral sampler.
Notebook 04, section 3.

A diffusion corrupts data with :math:`x_t = \alpha(t)\,x_0 + \sigma(t)\,\varepsilon`, :math:`t\in[0,1]`, the
marginal of a forward SDE :math:`dx = f(x,t)\,dt + g(t)\,dw`. Its time reversal (Anderson 1982, Song et al. 2021)

.. math::
    dx = \big[f(x,t) - g(t)^2\,\nabla_x\log p_t(x)\big]\,dt + g(t)\,d\bar w

and the probability-flow ODE :math:`\frac{dx}{dt} = f(x,t) - \tfrac12 g(t)^2\nabla_x\log p_t(x)` have the same
marginals :math:`p_t`: a model of the score is all that sampling needs.
"""

from __future__ import annotations

import math

import torch

from .._checks import check_generator, check_int, check_real, describe
from ._loop import ScoreFn, _call, _check_diverged, _check_start
from .schedules import Schedule, _check_betas, _check_schedule, check_prior


def _reverse_time_start(
    score_fn: ScoreFn, x_1: torch.Tensor, schedule: Schedule, n_steps: int, t_min: float
) -> tuple[torch.Tensor, list[float]]:
    """What both reverse-time integrators check on entry; returns the starting state (a copy of ``x_1``) and
    ``n_steps + 1`` equally spaced times from 1 down to ``t_min`` (Python floats: no device work per step)."""
    if not callable(score_fn):
        raise TypeError(f"score_fn must be callable (x, t) -> score, got {describe(score_fn)}")
    state = _check_start(x_1, "x_1")
    _check_schedule(schedule)
    n_steps = check_int(n_steps, "n_steps", minimum=1)
    t_min = check_real(t_min, "t_min")
    if not 0 < t_min < 1:
        raise ValueError(f"t_min must be in (0, 1), got {t_min}")
    return state, torch.linspace(1.0, t_min, n_steps + 1, dtype=torch.float64).tolist()


def reverse_sde(
    score_fn: ScoreFn,
    x_1: torch.Tensor,
    schedule: Schedule,
    n_steps: int,
    *,
    t_min: float = 1e-3,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    r"""Euler–Maruyama on the reverse-time SDE, from :math:`t = 1` down to ``t_min`` in ``n_steps`` equal steps:

    .. math::
        x \leftarrow x + \big[f(x,t) - g(t)^2\, s(x,t)\big]\,\Delta t + g(t)\sqrt{|\Delta t|}\,\varepsilon,
        \qquad \Delta t = -\frac{1 - t_{\min}}{n},

    with a fresh :math:`\varepsilon\sim\mathcal N(0,I)` at every step. ``x_1`` (N, D) are draws of the prior at
    :math:`t = 1` (``N(0, I)`` for VP, ``N(0, σ_max² I)`` for VE); ``score_fn(x, t)`` gets t as an (N,) tensor.
    Returns the samples at ``t_min`` (N, D). Notebook 04.
    """
    state, grid = _reverse_time_start(score_fn, x_1, schedule, n_steps, t_min)
    check_generator(generator)
    n = state.shape[0]
    with torch.no_grad():
        for t, t_next in zip(grid[:-1], grid[1:]):
            dt = t_next - t
            t_vec = torch.full((n,), t, dtype=state.dtype, device=state.device)
            g = float(schedule.diffusion(t))
            s = _call(score_fn, "score_fn", state, t_vec)
            eps = torch.randn(state.shape, generator=generator, dtype=state.dtype).to(state.device)
            state = state + (schedule.drift(state, t) - g**2 * s) * dt + g * math.sqrt(-dt) * eps
        _check_diverged(state, "reverse_sde")
    return state


def probability_flow_ode(
    score_fn: ScoreFn, x_1: torch.Tensor, schedule: Schedule, n_steps: int, *, t_min: float = 1e-3
) -> torch.Tensor:
    r"""Heun's method (2nd order) on the probability-flow ODE from :math:`t = 1` to ``t_min``:

    .. math::
        \frac{dx}{dt} = v(x, t) = f(x,t) - \tfrac12 g(t)^2\, s(x,t),\qquad
        \tilde x = x + v(x,t)\Delta t,\quad x \leftarrow x + \tfrac12\big[v(x,t) + v(\tilde x, t+\Delta t)\big]\Delta t.

    Deterministic: the same ``x_1`` always maps to the same sample (an invertible map, hence exact likelihoods
    and latent interpolation). Two score evaluations per step. Notebook 04.
    """
    state, grid = _reverse_time_start(score_fn, x_1, schedule, n_steps, t_min)
    n = state.shape[0]

    def velocity(x: torch.Tensor, t: float) -> torch.Tensor:
        g = float(schedule.diffusion(t))
        t_vec = torch.full((n,), t, dtype=x.dtype, device=x.device)
        return schedule.drift(x, t) - 0.5 * g**2 * _call(score_fn, "score_fn", x, t_vec)

    with torch.no_grad():
        for t, t_next in zip(grid[:-1], grid[1:]):
            dt = t_next - t
            v1 = velocity(state, t)
            v2 = velocity(state + v1 * dt, t_next)
            state = state + 0.5 * (v1 + v2) * dt
        _check_diverged(state, "probability_flow_ode")
    return state


def ddpm_sample(
    eps_fn: ScoreFn,
    shape: tuple[int, ...],
    betas: torch.Tensor,
    *,
    generator: torch.Generator | None = None,
    dtype: torch.dtype | None = None,
) -> torch.Tensor:
    r"""DDPM ancestral sampling (Ho et al. 2020, Algorithm 2) on :math:`K` discrete steps:
    :math:`x_K\sim\mathcal N(0, I)`, then for :math:`k = K, \dots, 1`

    .. math::
        x_{k-1} = \frac{1}{\sqrt{1-\beta_k}}\Big(x_k - \frac{\beta_k}{\sqrt{1-\bar\alpha_k}}\,\hat\varepsilon(x_k, k)\Big)
        + \sqrt{\beta_k}\,\varepsilon,\qquad \varepsilon\sim\mathcal N(0, I)\ (\text{none at the last step}).

    The per-step noise std is :math:`\sqrt{\beta_k}`; the *marginal* noise std at step :math:`k` is
    :math:`\sigma_{t_k} = \sqrt{1-\bar\alpha_k}` (the course's :math:`\sigma_t`). The steps discretise the VP SDE:
    :math:`\beta_k \approx \beta(t_k)/K` with :math:`t_k = k/K`, so :math:`\bar\alpha_k\approx\alpha_{t_k}^2`.
    ``eps_fn(x, k_index)`` gets 0-based integer steps (N,) ``torch.long`` (index ``K-1`` is the noisiest);
    ``betas`` (K,) in (0, 1). Warns through :func:`check_prior` if :math:`\bar\alpha_K > 10^{-2}`. ``dtype``
    defaults to torch's default. Returns :math:`x_0`, shaped ``shape``. Notebook 04, section 3.
    """
    if not callable(eps_fn):
        raise TypeError(f"eps_fn must be callable (x, k_index) -> eps, got {describe(eps_fn)}")
    if not isinstance(shape, (tuple, list, torch.Size)) or len(shape) < 1:
        raise ValueError(f"shape must be a non-empty tuple of ints such as (N, D), got {describe(shape)}")
    shape = tuple(check_int(s, "shape", minimum=1) for s in shape)
    b = _check_betas(betas)
    check_generator(generator)
    dtype = dtype if dtype is not None else torch.get_default_dtype()
    alpha_bar = torch.cumprod(1 - b, dim=0)
    check_prior(float(alpha_bar[-1]))
    state = torch.randn(shape, generator=generator, dtype=dtype)
    with torch.no_grad():
        for k in range(b.numel() - 1, -1, -1):  # 0-based: index k is step k + 1 of K
            beta_k, ab_k = float(b[k]), float(alpha_bar[k])
            k_index = torch.full((shape[0],), k, dtype=torch.long)
            eps_hat = _call(eps_fn, "eps_fn", state, k_index)  # the predicted noise ε̂
            state = (state - beta_k / math.sqrt(1 - ab_k) * eps_hat) / math.sqrt(1 - beta_k)
            if k > 0:  # + √β_k ε, none at the last step
                state = state + math.sqrt(beta_k) * torch.randn(shape, generator=generator, dtype=dtype)
        _check_diverged(state, "ddpm_sample")
    return state
