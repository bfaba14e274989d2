r"""Noise schedules of a diffusion: the continuous VE and VP processes and DDPM's discrete betas. Notebook 04.

A diffusion corrupts data with :math:`x_t = \alpha(t)\,x_0 + \sigma(t)\,\varepsilon`, :math:`t\in[0,1]`, the
marginal of a forward SDE :math:`dx = f(x,t)\,dt + g(t)\,dw`. A schedule gives :math:`\alpha`, :math:`\sigma`,
:math:`f` and :math:`g`; the samplers of :mod:`mmobjectives.sampling.diffusion` only need those.
"""

from __future__ import annotations

import math
import warnings

import torch

from .._checks import as_float_tensor, check_choice, check_finite, check_int, check_positive, check_real, describe


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
    if t64.numel() and not bool((torch.isfinite(t64) & (t64 >= 0) & (t64 <= 1)).all()):  # one host sync
        check_finite(t64, name)
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


Schedule = VESchedule | VPSchedule  # what every diffusion sampler takes


def _check_schedule(schedule: object) -> None:
    """Raise TypeError unless ``schedule`` has what the samplers call (duck typing: any VE/VP-like object)."""
    for method in ("marginal", "drift", "diffusion"):
        if not callable(getattr(schedule, method, None)):
            raise TypeError(
                f"schedule must have marginal, drift and diffusion methods (VESchedule, VPSchedule), "
                f"got {describe(schedule)}"
            )


# -- discrete DDPM (Ho et al. 2020) -------------------------------------------------------------------------------
def linear_betas(K: int = 1000, beta_1: float = 1e-4, beta_K: float = 0.02) -> torch.Tensor:
    r"""DDPM's linear schedule over :math:`K` discrete steps: ``K`` values :math:`\beta_k`, :math:`k = 1..K`, from
    :math:`\beta_1` to :math:`\beta_K`, float64, shape (K,)."""
    K = check_int(K, "K", minimum=1)
    beta_1 = check_positive(beta_1, "beta_1")
    beta_K = check_positive(beta_K, "beta_K")
    if not beta_1 <= beta_K < 1:
        raise ValueError(f"beta_K must be in [beta_1, 1), got beta_1={beta_1}, beta_K={beta_K}")
    return torch.linspace(beta_1, beta_K, K, dtype=torch.float64)


def _check_betas(betas: torch.Tensor) -> torch.Tensor:
    b = check_finite(as_float_tensor(betas, "betas"), "betas")
    if b.dim() != 1 or b.numel() < 1:
        raise ValueError(f"betas must be a non-empty 1-D (K,) schedule, got {describe(betas)}")
    if not bool(((b > 0) & (b < 1)).all()):
        raise ValueError(f"betas must all lie in (0, 1), got values from {float(b.min())} to {float(b.max())}")
    return b


def ddpm_alpha_bar(betas: torch.Tensor) -> torch.Tensor:
    r""":math:`\bar\alpha_k = \prod_{j\le k}(1-\beta_j)`, shape (K,) float64, for (K,) ``betas``:
    :math:`x_k = \sqrt{\bar\alpha_k}\,x_0 + \sqrt{1-\bar\alpha_k}\,\varepsilon`."""
    return torch.cumprod(1 - _check_betas(betas), dim=0)


def check_prior(alpha_bar_K: float | torch.Tensor, threshold: float = 1e-2) -> float:
    r"""Warn (``UserWarning``) when :math:`\bar\alpha_K` > ``threshold``: :math:`x_K`, the state after the last of
    the :math:`K` steps, would still remember :math:`\sqrt{\bar\alpha_K}\,x_0`, so starting the sampler from
    :math:`\mathcal N(0, I)` starts from the wrong prior. Returns :math:`\bar\alpha_K` as a float. (Standard
    linear betas over K = 1000 steps: ≈ 4.0e-5.)
    """
    value = check_real(alpha_bar_K, "alpha_bar_K")
    if not 0 <= value <= 1:  # a product of factors 1 − β_k in [0, 1]
        raise ValueError(f"alpha_bar_K must be in [0, 1] (a product of 1 - beta_k), got {value}")
    threshold = check_positive(threshold, "threshold")
    if value > threshold:
        warnings.warn(
            f"alpha_bar_K = {value:.3g} > {threshold:g}: x_K (after the last step) is not close to N(0, I), so "
            "sampling from N(0, I) starts from the wrong prior (use more steps or larger betas)",
            UserWarning,
            stacklevel=2,
        )
    return value
