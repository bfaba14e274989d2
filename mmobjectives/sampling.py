r"""Samplers driven by a score function. Notebook 03 (Langevin); notebook 04 adds annealed Langevin, the reverse
SDE, the probability-flow ODE and DDPM; notebook 05 adds token sampling.

**Unadjusted Langevin dynamics.** With step size :math:`\eta` and :math:`z\sim\mathcal N(0, I)`,

.. math::
    x_{k+1} = x_k + \frac{\eta}{2}\, s(x_k) + \sqrt{\eta}\, z_k,

whose stationary distribution tends to :math:`p` as :math:`\eta\to0` when :math:`s = \nabla\log p`.

**Noise schedules.** A diffusion corrupts data with :math:`x_t = \alpha(t)\,x_0 + \sigma(t)\,\varepsilon`,
:math:`t\in[0,1]`, the marginal of a forward SDE :math:`dx = f(x,t)\,dt + g(t)\,dw`. Its time reversal (Anderson
1982, Song et al. 2021)

.. math::
    dx = \big[f(x,t) - g(t)^2\,\nabla_x\log p_t(x)\big]\,dt + g(t)\,d\bar w

and the probability-flow ODE :math:`\frac{dx}{dt} = f(x,t) - \tfrac12 g(t)^2\nabla_x\log p_t(x)` have the same
marginals :math:`p_t`: a model of the score is all that sampling needs. Notebook 04.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable

import torch

from ._checks import (
    as_float_tensor,
    check_choice,
    check_finite,
    check_generator,
    check_int,
    check_positive,
    check_real,
    check_same_device,
    describe,
)

__all__ = [
    "VESchedule",
    "VPSchedule",
    "annealed_langevin",
    "check_prior",
    "ddpm_alpha_bar",
    "ddpm_sample",
    "eps_from_score",
    "eps_from_x0",
    "guided_score",
    "langevin",
    "linear_betas",
    "probability_flow_ode",
    "reverse_sde",
    "next_token_probs",
    "sample_tokens",
    "score_from_eps",
    "x0_from_eps",
]


def langevin(
    score_fn: Callable[[torch.Tensor], torch.Tensor],
    x: torch.Tensor,
    step_size: float,
    n_steps: int,
    *,
    generator: torch.Generator | None = None,
    return_trajectory: bool = False,
    trajectory_every: int = 1,
) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    r"""Run unadjusted Langevin dynamics :math:`x \leftarrow x + \tfrac{\eta}{2}s(x) + \sqrt\eta\,z` from ``x``.

    Args:
        score_fn: (N, D) → (N, D), e.g. ``mixture.score`` or a trained model (called under ``torch.no_grad``).
        x: (N, D) starting points (not modified).
        step_size: :math:`\eta > 0`.
        n_steps: number of updates (>= 0).
        generator: draws the noise :math:`z` (on the CPU, moved to ``x``'s device) for reproducible chains.
        return_trajectory: also return the states every ``trajectory_every`` steps, shape (T, N, D), starting
            with ``x`` itself.

    Returns the final samples (N, D), or ``(samples, trajectory)``. A non-finite state raises
    ``FloatingPointError`` (step size too large for this score) instead of returning NaN.
    """
    if not isinstance(x, torch.Tensor) or not x.is_floating_point() or x.dim() != 2:
        raise ValueError(f"x must be a floating-point (N, D) tensor of starting points, got {describe(x)}")
    check_finite(x, "x")
    if not callable(score_fn):
        raise TypeError(f"score_fn must be callable, got {describe(score_fn)}")
    eta = check_positive(step_size, "step_size")
    n_steps = check_int(n_steps, "n_steps", minimum=0)
    every = check_int(trajectory_every, "trajectory_every", minimum=1)
    check_generator(generator)
    state = x.detach().clone()
    frames = [state.clone()] if return_trajectory else []
    with torch.no_grad():
        for k in range(n_steps):
            z = torch.randn(state.shape, generator=generator, dtype=state.dtype).to(state.device)
            s = score_fn(state)
            if not isinstance(s, torch.Tensor) or s.shape != state.shape:
                raise ValueError(f"score_fn must return scores shaped like x {tuple(state.shape)}, got {describe(s)}")
            state = state + 0.5 * eta * s.to(state.dtype) + math.sqrt(eta) * z
            if not bool(torch.isfinite(state).all()):
                raise FloatingPointError(
                    f"Langevin diverged at step {k}: step_size {eta} is too large for this score function"
                )
            if return_trajectory and (k + 1) % every == 0:
                frames.append(state.clone())
    if return_trajectory:
        return state, torch.stack(frames)
    return state


# -- notebook 04: diffusion ---------------------------------------------------------------------------------------


def _check_t(t: float | torch.Tensor, name: str = "t") -> tuple[torch.Tensor, torch.dtype]:
    """t as a float64 tensor (its own shape) validated in [0, 1], and the dtype to hand results back in."""
    if isinstance(t, torch.Tensor):
        if not t.is_floating_point():
            raise TypeError(f"{name} must be a float or a floating-point tensor of times in [0, 1], got {describe(t)}")
        out_dtype = t.dtype
        t64 = t.detach().to(torch.float64)
    elif isinstance(t, bool) or not isinstance(t, (int, float)):
        raise TypeError(f"{name} must be a float or a tensor of times in [0, 1], got {describe(t)}")
    else:
        out_dtype = torch.float64
        t64 = torch.tensor(float(t), dtype=torch.float64)
    check_finite(t64, name)
    if t64.numel() and not bool(((t64 >= 0) & (t64 <= 1)).all()):
        raise ValueError(f"{name} must lie in [0, 1], got values from {float(t64.min())} to {float(t64.max())}")
    return t64, out_dtype


def _per_row(value: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """A 0-D or (N,) coefficient reshaped to broadcast against x (N, D, ...)."""
    value = value.to(dtype=x.dtype, device=x.device)
    if value.dim() == 1 and x.dim() > 1:
        return value.reshape(-1, *([1] * (x.dim() - 1)))
    return value


class VESchedule:
    r"""Variance-exploding schedule (SMLD, Song & Ermon 2019; Song et al. 2021):

    .. math::
        \alpha(t) = 1,\qquad \sigma(t) = \sigma_{\min}\Big(\frac{\sigma_{\max}}{\sigma_{\min}}\Big)^{t},\qquad
        dx = g(t)\,dw,\quad g(t)^2 = \frac{d\sigma^2}{dt} = 2\sigma(t)^2\log\frac{\sigma_{\max}}{\sigma_{\min}}.

    The SDE started at :math:`x_0 + \sigma_{\min}\varepsilon` has exactly the marginal :math:`x_0 + \sigma(t)\varepsilon`
    (:math:`\sigma(0) = \sigma_{\min}`, not 0). Sampling starts from the prior :math:`\mathcal N(0, \sigma_{\max}^2 I)`,
    a good approximation when :math:`\sigma_{\max}` exceeds the spread of the data. Notebook 04.
    """

    def __init__(self, sigma_min: float = 0.01, sigma_max: float = 10.0) -> None:
        self.sigma_min = check_positive(sigma_min, "sigma_min")
        self.sigma_max = check_positive(sigma_max, "sigma_max")
        if not self.sigma_min < self.sigma_max:
            raise ValueError(
                f"sigma_min must be < sigma_max, got sigma_min={self.sigma_min}, sigma_max={self.sigma_max}"
            )
        self._log_ratio = math.log(self.sigma_max / self.sigma_min)

    def __repr__(self) -> str:
        return f"VESchedule(sigma_min={self.sigma_min}, sigma_max={self.sigma_max})"

    def _sigma64(self, t64: torch.Tensor) -> torch.Tensor:
        return self.sigma_min * torch.exp(t64 * self._log_ratio)

    def marginal(self, t: float | torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        r"""``(alpha, sigma)`` at time(s) ``t`` (float or tensor in [0, 1]): :math:`(1, \sigma(t))`, shaped like t."""
        t64, dtype = _check_t(t)
        sigma = self._sigma64(t64)
        return torch.ones_like(sigma).to(dtype), sigma.to(dtype)

    def drift(self, x: torch.Tensor, t: float | torch.Tensor) -> torch.Tensor:
        r"""The forward drift :math:`f(x, t) = 0`."""
        _check_t(t)
        return torch.zeros_like(x)

    def diffusion(self, t: float | torch.Tensor) -> torch.Tensor:
        r""":math:`g(t) = \sigma(t)\sqrt{2\log(\sigma_{\max}/\sigma_{\min})}`, shaped like t."""
        t64, dtype = _check_t(t)
        return (self._sigma64(t64) * math.sqrt(2 * self._log_ratio)).to(dtype)


_COSINE_ALPHA_BAR_MIN = 1e-4  # ᾱ(t) is clipped here near t = 1 (where the cosine formula reaches 0)


class VPSchedule:
    r"""Variance-preserving schedule (DDPM as an SDE, Song et al. 2021): :math:`\alpha(t)^2 + \sigma(t)^2 = 1`,
    forward SDE :math:`dx = -\tfrac12\beta(t)\,x\,dt + \sqrt{\beta(t)}\,dw`.

    * ``kind="linear"``: :math:`\beta(t) = \beta_{\min} + t(\beta_{\max} - \beta_{\min})`,
      :math:`\alpha(t) = \exp\!\big(-\tfrac12\int_0^t\beta\big) = \exp\!\big(-\tfrac12\beta_{\min}t - \tfrac14t^2(\beta_{\max}-\beta_{\min})\big)`.
    * ``kind="cosine"`` (Nichol & Dhariwal 2021):
      :math:`\bar\alpha(t) = \cos^2\!\big(\tfrac{t+s}{1+s}\tfrac\pi2\big)/\cos^2\!\big(\tfrac{s}{1+s}\tfrac\pi2\big)`,
      :math:`\alpha = \sqrt{\bar\alpha}`, :math:`\beta(t) = -\frac{d\log\bar\alpha}{dt} = \frac{\pi}{1+s}\tan\!\big(\tfrac{t+s}{1+s}\tfrac\pi2\big)`.
      The formula reaches :math:`\bar\alpha(1) = 0` with :math:`\beta\to\infty`, so :math:`\bar\alpha` is clipped
      at :math:`10^{-4}` (the last ≈0.6 % of the time, where then :math:`\beta = 0` consistently):
      :math:`\alpha(1) = 0.01`.

    In both, :math:`\sigma(t) = \sqrt{1-\alpha(t)^2}` (computed in float64), 0 at :math:`t = 0`: evaluate scores at
    :math:`t \ge t_{\min} > 0`. Sampling starts from the prior :math:`\mathcal N(0, I)`. Notebook 04.
    """

    def __init__(self, kind: str = "linear", beta_min: float = 0.1, beta_max: float = 20.0, s: float = 0.008) -> None:
        self.kind = check_choice(kind, "kind", ("linear", "cosine"))
        self.beta_min = check_positive(beta_min, "beta_min")
        self.beta_max = check_positive(beta_max, "beta_max")
        if not self.beta_min <= self.beta_max:
            raise ValueError(f"beta_min must be <= beta_max, got beta_min={self.beta_min}, beta_max={self.beta_max}")
        self.s = check_positive(s, "s")

    def __repr__(self) -> str:
        if self.kind == "linear":
            return f"VPSchedule(kind='linear', beta_min={self.beta_min}, beta_max={self.beta_max})"
        return f"VPSchedule(kind='cosine', s={self.s})"

    def _phase(self, t64: torch.Tensor) -> torch.Tensor:
        return (t64 + self.s) / (1 + self.s) * (math.pi / 2)

    def _log_alpha_bar(self, t64: torch.Tensor) -> torch.Tensor:
        if self.kind == "linear":
            return -(self.beta_min * t64 + 0.5 * t64**2 * (self.beta_max - self.beta_min))
        phase0 = torch.tensor(self.s / (1 + self.s) * (math.pi / 2), dtype=torch.float64)
        log_ab = 2 * (torch.log(torch.cos(self._phase(t64)).clamp_min(1e-300)) - torch.log(torch.cos(phase0)))
        return log_ab.clamp_min(math.log(_COSINE_ALPHA_BAR_MIN))

    def beta(self, t: float | torch.Tensor) -> torch.Tensor:
        r""":math:`\beta(t) = -\frac{d}{dt}\log\bar\alpha(t)`, shaped like t."""
        t64, dtype = _check_t(t)
        if self.kind == "linear":
            return (self.beta_min + t64 * (self.beta_max - self.beta_min)).to(dtype)
        clipped = self._log_alpha_bar(t64) <= math.log(_COSINE_ALPHA_BAR_MIN)
        slope = math.pi / (1 + self.s) * torch.tan(self._phase(t64).clamp_max(math.pi / 2 - 1e-12))
        return torch.where(clipped, torch.zeros_like(slope), slope).to(dtype)

    def marginal(self, t: float | torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        r"""``(alpha, sigma)`` at time(s) ``t``: :math:`(\sqrt{\bar\alpha(t)}, \sqrt{1-\bar\alpha(t)})`, shaped like t."""
        t64, dtype = _check_t(t)
        log_ab = self._log_alpha_bar(t64)
        alpha = torch.exp(0.5 * log_ab)
        sigma = torch.sqrt(-torch.expm1(log_ab))  # 1 - ᾱ without cancellation at small t
        return alpha.to(dtype), sigma.to(dtype)

    def drift(self, x: torch.Tensor, t: float | torch.Tensor) -> torch.Tensor:
        r"""The forward drift :math:`f(x, t) = -\tfrac12\beta(t)\,x` (``t`` a float, 0-D or (N,) tensor)."""
        return -0.5 * _per_row(self.beta(t), x) * x

    def diffusion(self, t: float | torch.Tensor) -> torch.Tensor:
        r""":math:`g(t) = \sqrt{\beta(t)}`, shaped like t."""
        return torch.sqrt(self.beta(t))


# -- conversions between the three parameterisations --------------------------------------------------------------
def _coefficient(value: float | torch.Tensor, name: str, like: torch.Tensor) -> torch.Tensor:
    """A positive float, 0-D or (N,) tensor (or anything broadcastable) ready to multiply ``like``."""
    if isinstance(value, torch.Tensor):
        coef = _per_row(value.detach() if not value.requires_grad else value, like)
        try:
            torch.broadcast_shapes(coef.shape, like.shape)
        except RuntimeError as err:
            raise ValueError(
                f"{name} must be a float, an (N,) tensor or broadcastable to {tuple(like.shape)}, got {describe(value)}"
            ) from err
    else:
        coef = torch.tensor(check_real(value, name), dtype=like.dtype, device=like.device)
    check_finite(coef, name)
    if not bool((coef > 0).all()):
        raise ValueError(f"{name} must be > 0, got min {float(coef.min())}")
    return coef


def _check_tensor(x: torch.Tensor, name: str) -> torch.Tensor:
    if not isinstance(x, torch.Tensor) or not x.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor, got {describe(x)}")
    return x


def score_from_eps(eps: torch.Tensor, sigma: float | torch.Tensor) -> torch.Tensor:
    r"""The score from a noise prediction, :math:`s = -\hat\varepsilon/\sigma` (``sigma`` float or (N,) tensor)."""
    _check_tensor(eps, "eps")
    return -eps / _coefficient(sigma, "sigma", eps)


def eps_from_score(score: torch.Tensor, sigma: float | torch.Tensor) -> torch.Tensor:
    r"""The noise prediction from a score, :math:`\hat\varepsilon = -\sigma\,s`."""
    _check_tensor(score, "score")
    return -_coefficient(sigma, "sigma", score) * score


def x0_from_eps(
    x_t: torch.Tensor, eps: torch.Tensor, alpha: float | torch.Tensor, sigma: float | torch.Tensor
) -> torch.Tensor:
    r"""The denoised estimate :math:`\hat x_0 = (x_t - \sigma\hat\varepsilon)/\alpha` (Tweedie, through ε)."""
    _check_tensor(x_t, "x_t")
    check_same_device(_check_tensor(eps, "eps"), "eps", x_t, "x_t")
    return (x_t - _coefficient(sigma, "sigma", x_t) * eps) / _coefficient(alpha, "alpha", x_t)


def eps_from_x0(
    x_t: torch.Tensor, x0: torch.Tensor, alpha: float | torch.Tensor, sigma: float | torch.Tensor
) -> torch.Tensor:
    r"""The noise implied by a clean estimate, :math:`\hat\varepsilon = (x_t - \alpha\hat x_0)/\sigma`."""
    _check_tensor(x_t, "x_t")
    check_same_device(_check_tensor(x0, "x0"), "x0", x_t, "x_t")
    return (x_t - _coefficient(alpha, "alpha", x_t) * x0) / _coefficient(sigma, "sigma", x_t)


def guided_score(score_cond: torch.Tensor, score_uncond: torch.Tensor, w: float) -> torch.Tensor:
    r"""Classifier-free guidance (Ho & Salimans 2022): :math:`\tilde s = (1+w)\,s(x,t,c) - w\,s(x,t,\varnothing)`.

    One network trained with the condition :math:`c` randomly dropped gives both scores. Since
    :math:`\nabla\log p(c\mid x) = s(x,t,c) - s(x,t,\varnothing)`, this is :math:`s(x,t,c) + w\,\nabla\log p(c\mid x)`:
    the score of :math:`p(x\mid c)\,p(c\mid x)^{w}`, sharper and more typical of :math:`c` for :math:`w > 0`
    (``w = 0``: plain conditional; ``w = -1``: unconditional). Works on ε predictions the same way.
    """
    _check_tensor(score_cond, "score_cond")
    _check_tensor(score_uncond, "score_uncond")
    if score_cond.shape != score_uncond.shape:
        raise ValueError(
            f"score_uncond must have score_cond's shape {tuple(score_cond.shape)}, got {tuple(score_uncond.shape)}"
        )
    check_same_device(score_uncond, "score_uncond", score_cond, "score_cond")
    w = check_real(w, "w")
    return (1 + w) * score_cond - w * score_uncond


# -- samplers -----------------------------------------------------------------------------------------------------
def _check_start(x: torch.Tensor, name: str) -> torch.Tensor:
    if not isinstance(x, torch.Tensor) or not x.is_floating_point() or x.dim() != 2:
        raise ValueError(f"{name} must be a floating-point (N, D) tensor of starting points, got {describe(x)}")
    return check_finite(x, name).detach().clone()


def _call(fn: Callable[..., torch.Tensor], x: torch.Tensor, arg: torch.Tensor, name: str) -> torch.Tensor:
    out = fn(x, arg)
    if not isinstance(out, torch.Tensor) or out.shape != x.shape:
        raise ValueError(f"{name} must return a tensor shaped like x {tuple(x.shape)}, got {describe(out)}")
    return out.to(x.dtype)


def _check_diverged(state: torch.Tensor, where: str) -> None:
    if not bool(torch.isfinite(state).all()):
        raise FloatingPointError(f"{where} produced a non-finite state (step too large for this score function)")


def annealed_langevin(
    score_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    x: torch.Tensor,
    sigmas: torch.Tensor | list[float],
    n_steps_each: int,
    step_lr: float,
    *,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    r"""Annealed Langevin dynamics (Song & Ermon 2019, Algorithm 1).

    For each noise level :math:`\sigma_i` of ``sigmas`` (strictly decreasing), with
    :math:`\alpha_i = \epsilon\,\sigma_i^2/\sigma_L^2` (:math:`\epsilon` = ``step_lr``, :math:`\sigma_L` the last,
    smallest level), repeat ``n_steps_each`` times

    .. math::
        x \leftarrow x + \frac{\alpha_i}{2}\, s(x, \sigma_i) + \sqrt{\alpha_i}\, z,\qquad z\sim\mathcal N(0, I).

    Large :math:`\sigma` connects the modes (so their *weights* come out right, which plain Langevin misses);
    small :math:`\sigma` sharpens them. ``score_fn(x, sigma)`` receives :math:`\sigma_i` as an (N,) tensor.
    Returns the final samples (N, D). Notebook 04.
    """
    if not callable(score_fn):
        raise TypeError(f"score_fn must be callable (x, sigma) -> score, got {describe(score_fn)}")
    state = _check_start(x, "x")
    sig = check_finite(as_float_tensor(sigmas, "sigmas"), "sigmas")
    if sig.dim() != 1 or sig.numel() < 1:
        raise ValueError(f"sigmas must be a non-empty 1-D sequence of noise levels, got {describe(sigmas)}")
    if not bool((sig > 0).all()):
        raise ValueError(f"sigmas must all be > 0, got {sig.tolist()}")
    if sig.numel() > 1 and not bool((sig[1:] < sig[:-1]).all()):
        raise ValueError(f"sigmas must be strictly decreasing (largest noise first), got {sig.tolist()}")
    n_steps_each = check_int(n_steps_each, "n_steps_each", minimum=1)
    step_lr = check_positive(step_lr, "step_lr")
    check_generator(generator)
    sigma_last = float(sig[-1])
    n = state.shape[0]
    with torch.no_grad():
        for sigma_i in sig.tolist():
            alpha_i = step_lr * sigma_i**2 / sigma_last**2
            level = torch.full((n,), sigma_i, dtype=state.dtype, device=state.device)
            for _ in range(n_steps_each):
                z = torch.randn(state.shape, generator=generator, dtype=state.dtype).to(state.device)
                state = state + 0.5 * alpha_i * _call(score_fn, state, level, "score_fn") + math.sqrt(alpha_i) * z
            _check_diverged(state, f"annealed Langevin at sigma={sigma_i:.4g}")
    return state


def _time_grid(n_steps: int, t_min: float) -> list[float]:
    n_steps = check_int(n_steps, "n_steps", minimum=1)
    t_min = check_real(t_min, "t_min")
    if not 0 < t_min < 1:
        raise ValueError(f"t_min must be in (0, 1), got {t_min}")
    return torch.linspace(1.0, t_min, n_steps + 1, dtype=torch.float64).tolist()


def _check_schedule(schedule: object) -> None:
    for method in ("marginal", "drift", "diffusion"):
        if not callable(getattr(schedule, method, None)):
            raise TypeError(
                f"schedule must have marginal, drift and diffusion methods (VESchedule, VPSchedule), "
                f"got {describe(schedule)}"
            )


def reverse_sde(
    score_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    x_T: torch.Tensor,
    schedule: VESchedule | VPSchedule,
    n_steps: int,
    *,
    t_min: float = 1e-3,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    r"""Euler–Maruyama on the reverse-time SDE, from :math:`t = 1` down to ``t_min`` in ``n_steps`` equal steps:

    .. math::
        x \leftarrow x + \big[f(x,t) - g(t)^2\, s(x,t)\big]\,\Delta t + g(t)\sqrt{|\Delta t|}\,z,
        \qquad \Delta t = -\frac{1 - t_{\min}}{n},

    with :math:`z\sim\mathcal N(0,I)` at every step. ``x_T`` (N, D) are draws of the prior (``N(0, I)`` for VP,
    ``N(0, σ_max² I)`` for VE); ``score_fn(x, t)`` gets t as an (N,) tensor. Returns the samples at ``t_min``
    (N, D). Notebook 04.
    """
    if not callable(score_fn):
        raise TypeError(f"score_fn must be callable (x, t) -> score, got {describe(score_fn)}")
    state = _check_start(x_T, "x_T")
    _check_schedule(schedule)
    grid = _time_grid(n_steps, t_min)
    check_generator(generator)
    n = state.shape[0]
    with torch.no_grad():
        for t, t_next in zip(grid[:-1], grid[1:]):
            dt = t_next - t
            t_vec = torch.full((n,), t, dtype=state.dtype, device=state.device)
            g = float(schedule.diffusion(t))
            s = _call(score_fn, state, t_vec, "score_fn")
            z = torch.randn(state.shape, generator=generator, dtype=state.dtype).to(state.device)
            state = state + (schedule.drift(state, t) - g**2 * s) * dt + g * math.sqrt(-dt) * z
        _check_diverged(state, "reverse_sde")
    return state


def probability_flow_ode(
    score_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    x_T: torch.Tensor,
    schedule: VESchedule | VPSchedule,
    n_steps: int,
    *,
    t_min: float = 1e-3,
) -> torch.Tensor:
    r"""Heun's method (2nd order) on the probability-flow ODE from :math:`t = 1` to ``t_min``:

    .. math::
        \frac{dx}{dt} = v(x, t) = f(x,t) - \tfrac12 g(t)^2\, s(x,t),\qquad
        \tilde x = x + v(x,t)\Delta t,\quad x \leftarrow x + \tfrac12\big[v(x,t) + v(\tilde x, t+\Delta t)\big]\Delta t.

    Deterministic: the same ``x_T`` always maps to the same sample (an invertible map, hence exact likelihoods
    and latent interpolation). Two score evaluations per step. Notebook 04.
    """
    if not callable(score_fn):
        raise TypeError(f"score_fn must be callable (x, t) -> score, got {describe(score_fn)}")
    state = _check_start(x_T, "x_T")
    _check_schedule(schedule)
    grid = _time_grid(n_steps, t_min)
    n = state.shape[0]

    def velocity(x: torch.Tensor, t: float) -> torch.Tensor:
        g = float(schedule.diffusion(t))
        t_vec = torch.full((n,), t, dtype=x.dtype, device=x.device)
        return schedule.drift(x, t) - 0.5 * g**2 * _call(score_fn, x, t_vec, "score_fn")

    with torch.no_grad():
        for t, t_next in zip(grid[:-1], grid[1:]):
            dt = t_next - t
            v1 = velocity(state, t)
            v2 = velocity(state + v1 * dt, t_next)
            state = state + 0.5 * (v1 + v2) * dt
        _check_diverged(state, "probability_flow_ode")
    return state


# -- discrete DDPM (Ho et al. 2020) -------------------------------------------------------------------------------
def linear_betas(T: int = 1000, beta_1: float = 1e-4, beta_T: float = 0.02) -> torch.Tensor:
    r"""DDPM's linear schedule: ``T`` values from :math:`\beta_1` to :math:`\beta_T`, float64 (T,)."""
    T = check_int(T, "T", minimum=1)
    beta_1 = check_positive(beta_1, "beta_1")
    beta_T = check_positive(beta_T, "beta_T")
    if not beta_1 <= beta_T < 1:
        raise ValueError(f"beta_T must be in [beta_1, 1), got beta_1={beta_1}, beta_T={beta_T}")
    return torch.linspace(beta_1, beta_T, T, dtype=torch.float64)


def _check_betas(betas: torch.Tensor) -> torch.Tensor:
    b = check_finite(as_float_tensor(betas, "betas"), "betas")
    if b.dim() != 1 or b.numel() < 1:
        raise ValueError(f"betas must be a non-empty 1-D (T,) schedule, got {describe(betas)}")
    if not bool(((b > 0) & (b < 1)).all()):
        raise ValueError(f"betas must all lie in (0, 1), got values from {float(b.min())} to {float(b.max())}")
    return b


def ddpm_alpha_bar(betas: torch.Tensor) -> torch.Tensor:
    r""":math:`\bar\alpha_t = \prod_{s\le t}(1-\beta_s)`, (T,) float64: :math:`x_t = \sqrt{\bar\alpha_t}x_0 + \sqrt{1-\bar\alpha_t}\,\varepsilon`."""
    return torch.cumprod(1 - _check_betas(betas), dim=0)


def check_prior(alpha_bar_T: float | torch.Tensor, threshold: float = 1e-2) -> float:
    r"""Warn (``UserWarning``) when :math:`\bar\alpha_T` > ``threshold``: :math:`x_T` would still remember
    :math:`\sqrt{\bar\alpha_T}x_0`, so starting the sampler from :math:`\mathcal N(0, I)` starts from the wrong
    prior. Returns :math:`\bar\alpha_T` as a float. (Standard linear betas over T = 1000: ≈ 4.0e-5.)
    """
    value = check_real(alpha_bar_T, "alpha_bar_T")
    threshold = check_positive(threshold, "threshold")
    if value > threshold:
        warnings.warn(
            f"alpha_bar_T = {value:.3g} > {threshold:g}: x_T is not close to N(0, I), so sampling from N(0, I) "
            "starts from the wrong prior (use more steps or larger betas)",
            UserWarning,
            stacklevel=2,
        )
    return value


def ddpm_sample(
    eps_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    shape: tuple[int, ...],
    betas: torch.Tensor,
    *,
    generator: torch.Generator | None = None,
    dtype: torch.dtype | None = None,
) -> torch.Tensor:
    r"""DDPM ancestral sampling (Ho et al. 2020, Algorithm 2): :math:`x_T\sim\mathcal N(0, I)`, then for
    :math:`t = T, \dots, 1`

    .. math::
        x_{t-1} = \frac{1}{\sqrt{1-\beta_t}}\Big(x_t - \frac{\beta_t}{\sqrt{1-\bar\alpha_t}}\,\hat\varepsilon(x_t, t)\Big)
        + \sigma_t z,\qquad \sigma_t^2 = \beta_t,\quad z\sim\mathcal N(0, I)\ (z = 0 \text{ at the last step}).

    ``eps_fn(x, t_index)`` gets 0-based integer timesteps (N,) ``torch.long`` (index ``T-1`` is the noisiest);
    ``betas`` (T,) in (0, 1). Warns through :func:`check_prior` if :math:`\bar\alpha_T > 10^{-2}`. ``dtype``
    defaults to torch's default. Returns :math:`x_0`, shaped ``shape``. Notebook 04.
    """
    if not callable(eps_fn):
        raise TypeError(f"eps_fn must be callable (x, t_index) -> eps, got {describe(eps_fn)}")
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
        for t in range(b.numel() - 1, -1, -1):
            beta_t, ab_t = float(b[t]), float(alpha_bar[t])
            t_index = torch.full((shape[0],), t, dtype=torch.long)
            eps = _call(eps_fn, state, t_index, "eps_fn")
            state = (state - beta_t / math.sqrt(1 - ab_t) * eps) / math.sqrt(1 - beta_t)
            if t > 0:
                state = state + math.sqrt(beta_t) * torch.randn(shape, generator=generator, dtype=dtype)
        _check_diverged(state, "ddpm_sample")
    return state


# -- token sampling (notebook 05) ---------------------------------------------------------------------------------
def _temper(logits: torch.Tensor, temperature: float, top_k: int | None) -> torch.Tensor:
    """``logits / temperature`` with everything outside the ``top_k`` largest set to -inf (along the last dim)."""
    z = logits / temperature
    if top_k is not None and top_k < z.shape[-1]:
        kth = torch.topk(z, top_k, dim=-1).values[..., -1:]
        z = z.masked_fill(z < kth, float("-inf"))
    return z


def next_token_probs(logits: torch.Tensor, *, temperature: float = 1.0, top_k: int | None = None) -> torch.Tensor:
    r"""The distribution ``sample_tokens`` draws from, given next-token ``logits`` (..., V). Notebook 05.

    .. math::
        q_{T,k}(v) = \frac{\exp(z_v / T)\,[v \in \text{top-}k(z)]}{\sum_{u \in \text{top-}k(z)} \exp(z_u / T)}.

    ``temperature`` :math:`T \to 0` concentrates the mass on the argmax, :math:`T = 1` leaves the model's
    distribution unchanged, :math:`T \to \infty` flattens it to uniform (over the top-k); ``top_k`` keeps the
    :math:`k` largest logits (ties at the k-th value are all kept). Returns probabilities of the same shape.
    """
    if not isinstance(logits, torch.Tensor) or not logits.is_floating_point() or logits.dim() < 1:
        raise TypeError(f"logits must be a floating-point tensor (..., V), got {describe(logits)}")
    check_finite(logits, "logits")
    temperature = check_positive(temperature, "temperature")
    if top_k is not None:
        top_k = check_int(top_k, "top_k", minimum=1)
    if logits.dtype in (torch.float16, torch.bfloat16):  # logits / T overflows float16 for small T: work in float32
        return torch.softmax(_temper(logits.float(), temperature, top_k), dim=-1).to(logits.dtype)
    return torch.softmax(_temper(logits, temperature, top_k), dim=-1)


def sample_tokens(
    model: torch.nn.Module,
    prompt: torch.Tensor,
    max_new_tokens: int,
    *,
    temperature: float = 1.0,
    top_k: int | None = None,
    generator: torch.Generator | None = None,
    logit_mask: Callable[[torch.Tensor], torch.Tensor] | torch.Tensor | None = None,
) -> torch.Tensor:
    r"""Autoregressive sampling from a causal language model such as ``models.TinyGPT``. Notebook 05.

    ``model(tokens)`` maps (B, T) ids to (B, T, V) logits. At each step the last-position logits are divided by
    ``temperature`` (small: close to greedy; large: close to uniform), restricted to the ``top_k`` largest when
    given (the rest set to :math:`-\infty`; ``top_k=1`` is greedy/argmax decoding), and one token per row is drawn
    with ``torch.multinomial(softmax(logits), 1, generator=generator)``.

    ``logit_mask`` restricts which tokens may be drawn: a bool tensor (V,) with True for allowed tokens, or a
    callable ``logit_mask(tokens_so_far) -> bool`` tensor (V,) or (B, V) of allowed tokens, called each step with
    the current (B, T) sequence (so the allowed set may depend on the context). Disallowed tokens get logit
    :math:`-\infty` and are never sampled; at least one token per row must stay allowed.

    If the sequence grows past ``model.max_len`` (when the model has that attribute), only its last ``max_len``
    tokens are fed to the model. Runs under ``torch.no_grad()`` with the model in eval mode and restores its
    training flag afterwards. Returns the (B, T_prompt + max_new_tokens) ``torch.long`` sequence, prompt first.
    """
    if not callable(model):
        raise TypeError(f"model must be callable (tokens) -> logits, got {describe(model)}")
    if (
        not isinstance(prompt, torch.Tensor)
        or prompt.dim() != 2
        or prompt.shape[1] < 1
        or prompt.is_floating_point()
        or prompt.is_complex()
        or prompt.dtype == torch.bool
    ):
        raise ValueError(f"prompt must be a (B, T) integer tensor with T >= 1, got {describe(prompt)}")
    max_new_tokens = check_int(max_new_tokens, "max_new_tokens", minimum=0)
    temperature = check_positive(temperature, "temperature")
    if top_k is not None:
        top_k = check_int(top_k, "top_k", minimum=1)
    check_generator(generator)
    if logit_mask is not None and not callable(logit_mask):
        if not isinstance(logit_mask, torch.Tensor) or logit_mask.dtype != torch.bool or logit_mask.dim() != 1:
            raise ValueError(
                f"logit_mask must be a (V,) bool tensor of allowed tokens or a callable, got {describe(logit_mask)}"
            )
    max_len = getattr(model, "max_len", None)
    tokens = prompt.long()
    was_training = getattr(model, "training", False)
    if isinstance(model, torch.nn.Module):
        model.eval()
    try:
        with torch.no_grad():
            for _ in range(max_new_tokens):
                context = tokens if max_len is None else tokens[:, -max_len:]
                logits = model(context)[:, -1, :].float()  # (B, V)
                if logit_mask is not None:
                    allowed = logit_mask(tokens) if callable(logit_mask) else logit_mask
                    allowed = torch.as_tensor(allowed, dtype=torch.bool, device=logits.device)
                    if allowed.shape[-1] != logits.shape[-1]:
                        raise ValueError(
                            f"logit_mask must cover the {logits.shape[-1]} tokens, got shape {tuple(allowed.shape)}"
                        )
                    logits = logits.masked_fill(~allowed.expand_as(logits), float("-inf"))
                logits = _temper(logits, temperature, top_k)
                if not bool(torch.isfinite(logits).any(dim=-1).all()):
                    raise ValueError("logit_mask must leave at least one allowed token in every row")
                probs = torch.softmax(logits, dim=-1)
                next_token = torch.multinomial(probs.cpu(), 1, generator=generator).to(tokens.device)
                tokens = torch.cat([tokens, next_token], dim=1)
    finally:
        if isinstance(model, torch.nn.Module):
            model.train(was_training)
    return tokens
