r"""Conversions between the three parameterisations of a diffusion model (score, noise ε, clean image
:math:`x_0`) and classifier-free guidance. Notebook 04, sections 2 and 6.

With :math:`x_t = \alpha x_0 + \sigma\varepsilon`, Tweedie's formula ties them together:

.. math::
    s(x_t) = \nabla\log p_t(x_t) = -\frac{\mathbb E[\varepsilon\mid x_t]}{\sigma},\qquad
    \mathbb E[x_0\mid x_t] = \frac{x_t - \sigma\,\mathbb E[\varepsilon\mid x_t]}{\alpha}.
"""

from __future__ import annotations

import torch

from .. import models
from .._checks import check_finite, check_real, check_same_device, describe
from .schedules import _per_row


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
    if coef.device.type != "meta" and not bool((torch.isfinite(coef) & (coef > 0)).all()):  # one host sync
        check_finite(coef, name)
        raise ValueError(f"{name} must be > 0, got min {float(coef.min())}")
    return coef


def _check_tensor(x: torch.Tensor, name: str) -> torch.Tensor:
    """Raise TypeError unless ``x`` is a floating-point tensor."""
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


def _unmix(
    x_t: torch.Tensor,
    value: torch.Tensor,
    coef: float | torch.Tensor,
    divisor: float | torch.Tensor,
    *,
    names: tuple[str, str, str],
) -> torch.Tensor:
    r"""Solve :math:`x_t = a\,u + b\,v` for the other component, :math:`v = (x_t - a\,u)/b`, with :math:`u` =
    ``value``, :math:`a` = ``coef``, :math:`b` = ``divisor``; ``names`` are theirs in error messages. The one line
    behind :func:`x0_from_eps` and :func:`eps_from_x0`."""
    value_name, coef_name, divisor_name = names
    _check_tensor(x_t, "x_t")
    check_same_device(_check_tensor(value, value_name), value_name, x_t, "x_t")
    return (x_t - _coefficient(coef, coef_name, x_t) * value) / _coefficient(divisor, divisor_name, x_t)


def x0_from_eps(
    x_t: torch.Tensor, eps: torch.Tensor, alpha: float | torch.Tensor, sigma: float | torch.Tensor
) -> torch.Tensor:
    r"""The denoised estimate :math:`\hat x_0 = (x_t - \sigma\hat\varepsilon)/\alpha` (Tweedie, through ε)."""
    return _unmix(x_t, eps, sigma, alpha, names=("eps", "sigma", "alpha"))  # (x_t − σ ε̂) / α


def x0_from_score(
    x_t: torch.Tensor, score: torch.Tensor, alpha: float | torch.Tensor, sigma: float | torch.Tensor
) -> torch.Tensor:
    r"""Tweedie's denoiser from a score: :math:`\hat x_0 = \mathbb E[x_0\mid x_t] = (x_t + \sigma^2 s)/\alpha`.

    ``score`` is :math:`\nabla\log p_t(x_t)` (shaped like ``x_t``); ``alpha`` and ``sigma`` are floats or (N,)
    tensors. With :math:`\alpha = 1` it is the last step a noise-level sampler such as annealed Langevin needs,
    :math:`x + \sigma^2 s(x)`: its samples follow the data noised at the last level :math:`\sigma`, and this step
    maps each to its posterior mean (less spread than a sample). Notebook 04, sections 2 and 4.
    """
    _check_tensor(score, "score")
    return x0_from_eps(x_t, eps_from_score(score, sigma), alpha, sigma)  # (x_t − σ(−σ s)) / α


def eps_from_x0(
    x_t: torch.Tensor, x0: torch.Tensor, alpha: float | torch.Tensor, sigma: float | torch.Tensor
) -> torch.Tensor:
    r"""The noise implied by a clean estimate, :math:`\hat\varepsilon = (x_t - \alpha\hat x_0)/\sigma`."""
    return _unmix(x_t, x0, alpha, sigma, names=("x0", "alpha", "sigma"))  # (x_t − α x̂₀) / σ


def guided_score(score_cond: torch.Tensor, score_uncond: torch.Tensor, w: float) -> torch.Tensor:
    r"""Classifier-free guidance (Ho & Salimans 2022) on scores: :math:`\tilde s = (1+w)\,s(x,t,c) - w\,s(x,t,\varnothing)`.

    Since :math:`\nabla\log p(c\mid x) = s(x,t,c) - s(x,t,\varnothing)`, this is :math:`s(x,t,c) + w\,\nabla\log p(c\mid x)`:
    the score of :math:`p(x\mid c)\,p(c\mid x)^{w}` (``w = 0``: plain conditional; ``w = -1``: unconditional).
    The formula lives once, in ``models.classifier_free_guidance`` (which works on ε predictions the same way).
    A ``w`` that is not a number raises TypeError naming ``w``. Notebook 04, section 6.
    """
    return models.classifier_free_guidance(score_cond, score_uncond, w, names=("score_cond", "score_uncond"))
