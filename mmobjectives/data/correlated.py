r"""Correlated Gaussians with known mutual information: the InfoNCE benchmark of Poole et al. (2019). Notebook 01.

Each of ``dim`` coordinates is an independent pair :math:`(x, y)` with correlation :math:`\rho`:

.. math::
    y = \rho\, x + \sqrt{1-\rho^2}\,\varepsilon,\quad x, \varepsilon \sim \mathcal N(0, I_d),\qquad
    I(X;Y) = -\frac d2 \log(1-\rho^2).

The optimal InfoNCE critic is the log density ratio (up to any function of :math:`x` alone):

.. math::
    \log\frac{p(y\mid x)}{p(y)} = \frac{2\rho\,x^\top y - \rho^2\|x\|^2 - \rho^2\|y\|^2}{2(1-\rho^2)}
    - \frac d2\log(1-\rho^2).
"""

from __future__ import annotations

import math

import torch

from .._checks import as_float_tensor, check_finite, check_generator, check_int, check_real, check_same_device, describe

__all__ = ["correlated_gaussians", "gaussian_log_ratio", "gaussian_log_ratio_features", "gaussian_mi", "rho_for_mi"]


def _check_rho(rho: float) -> float:
    rho = check_real(rho, "rho")
    if not -1 < rho < 1:
        raise ValueError(f"rho must be in the open interval (-1, 1), got {rho}")
    return rho


def correlated_gaussians(
    n: int, dim: int, rho: float, generator: torch.Generator | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Draw ``n`` pairs (x, y), each (n, dim) float32, with :math:`y = \rho x + \sqrt{1-\rho^2}\varepsilon`."""
    n = check_int(n, "n", minimum=1)
    dim = check_int(dim, "dim", minimum=1)
    rho = _check_rho(rho)
    check_generator(generator)
    x = torch.randn(n, dim, generator=generator)
    eps = torch.randn(n, dim, generator=generator)
    return x, rho * x + math.sqrt(1 - rho**2) * eps


def gaussian_mi(dim: int, rho: float) -> float:
    r"""The true mutual information :math:`I(X;Y) = -\frac{d}{2}\log(1-\rho^2)` in nats."""
    dim = check_int(dim, "dim", minimum=1)
    rho = _check_rho(rho)
    return -0.5 * dim * math.log1p(-(rho**2))


def rho_for_mi(dim: int, mi: float) -> float:
    r"""The correlation that gives mutual information ``mi`` nats: :math:`\rho = \sqrt{1 - e^{-2I/d}}`."""
    dim = check_int(dim, "dim", minimum=1)
    mi = check_real(mi, "mi")
    if mi < 0:
        raise ValueError(f"mi must be >= 0 nats, got {mi}")
    rho = math.sqrt(-math.expm1(-2.0 * mi / dim))
    if rho >= 1.0:  # 1 - rho^2 underflows below float64's resolution near 1: no valid rho represents this MI
        raise ValueError(
            f"mi must be small enough that rho < 1 in float64 (mi/dim below ~18 nats), got mi={mi}, dim={dim}"
        )
    return rho


def gaussian_log_ratio(x: torch.Tensor, y: torch.Tensor, rho: float) -> torch.Tensor:
    r"""The optimal critic as an (N, N) matrix: entry (i, j) is :math:`\log p(y_j\mid x_i) / p(y_j)`.

    Fed to ``losses.info_nce_logits(..., symmetric=False)`` it gives the best InfoNCE loss any critic can reach in
    expectation at this batch size — the ceiling of the MI estimate (notebook 01, section 2).
    """
    rho = _check_rho(rho)
    x = check_finite(as_float_tensor(x, "x", dtype=None), "x")
    y = check_finite(as_float_tensor(y, "y", dtype=None), "y")
    if x.dim() != 2 or x.shape != y.shape:
        raise ValueError(f"x and y must both be (N, d) with the same shape, got {describe(x)} and {describe(y)}")
    check_same_device(y, "y", x, "x")
    x, y = x.double(), y.double()
    d = x.shape[1]
    c = 1.0 - rho**2
    cross = 2 * rho * (x @ y.T)
    sq_x = (x**2).sum(dim=1, keepdim=True)
    sq_y = (y**2).sum(dim=1)[None, :]
    return (cross - rho**2 * sq_x - rho**2 * sq_y) / (2 * c) - 0.5 * d * math.log(c)


def gaussian_log_ratio_features(x: torch.Tensor, y: torch.Tensor, rho: float) -> tuple[torch.Tensor, torch.Tensor]:
    r"""The optimal critic as a dot product: features :math:`g(x_i), h(y_j)` with :math:`g(x_i)^\top h(y_j)` equal
    to entry (i, j) of :func:`gaussian_log_ratio`.

    With :math:`c = 1-\rho^2`, :math:`\log r(x,y) = \frac{\rho}{c}\,x^\top y - \frac{\rho^2\|x\|^2}{2c}
    - \frac{\rho^2\|y\|^2}{2c} - \frac d2\log c`, so

    .. math::
        g(x) = \Big(\tfrac{\rho}{c}\,x,\ -\tfrac{\rho^2\|x\|^2}{2c} - \tfrac d2\log c,\ 1\Big),\qquad
        h(y) = \Big(y,\ 1,\ -\tfrac{\rho^2\|y\|^2}{2c}\Big)

    ((N, d + 2) each, float64). ``losses.info_nce(g, h, 1.0, normalize=False, chunk_size=B)`` then evaluates the
    optimal critic on a batch whose N×N matrix would not fit in memory (notebook 01, N = 65,536).
    """
    rho = _check_rho(rho)
    x = check_finite(as_float_tensor(x, "x", dtype=None), "x").double()
    y = check_finite(as_float_tensor(y, "y", dtype=None), "y").double()
    if x.dim() != 2 or x.shape != y.shape:
        raise ValueError(f"x and y must both be (N, d) with the same shape, got {describe(x)} and {describe(y)}")
    check_same_device(y, "y", x, "x")
    d = x.shape[1]
    c = 1.0 - rho**2
    ones = torch.ones(x.shape[0], 1, dtype=torch.float64, device=x.device)
    g = torch.cat([rho / c * x, -(rho**2) * (x**2).sum(1, keepdim=True) / (2 * c) - 0.5 * d * math.log(c), ones], 1)
    h = torch.cat([y, ones, -(rho**2) * (y**2).sum(1, keepdim=True) / (2 * c)], 1)
    return g, h
