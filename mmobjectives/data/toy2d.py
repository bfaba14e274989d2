r"""Toy distributions with analytic answers: Gaussian mixtures with exact density, score and noised marginal.

Used from notebook 00 (score field), 03 (score matching: the known target :math:`\nabla_x \log p`) and 04
(diffusion: ``noised(sigma)`` is the exact marginal of :math:`x + \sigma\varepsilon` at every noise level).

A mixture of isotropic Gaussians,

.. math::
    p(x) = \sum_k w_k\, \mathcal N(x;\ \mu_k,\ \sigma_{\text{data},k}^2 I_D),

has the closed-form score

.. math::
    \nabla_x \log p(x) = \sum_k r_k(x)\, \frac{\mu_k - x}{\sigma_{\text{data},k}^2},\qquad
    r_k(x) = \operatorname{softmax}_k\big(\log w_k + \log \mathcal N(x;\mu_k, \sigma_{\text{data},k}^2 I)\big),

computed with log-sum-exp so that it stays finite far from every mode, and adding independent noise
:math:`\sigma\varepsilon` convolves each component:
:math:`\sigma_{\text{data},k}^2 \to \sigma_{\text{data},k}^2 + \sigma^2`. (The course writes a component's
standard deviation :math:`\sigma_{\text{data},k}`, the data's, and keeps :math:`\sigma` for noise.)
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from .._checks import (
    as_float_tensor,
    check_finite,
    check_generator,
    check_int,
    check_ndim,
    check_positive,
    check_real,
    describe,
)

__all__ = [
    "GaussianMixture",
    "mixture_parameters",
    "checkerboard",
    "ring",
    "swiss_roll",
    "two_modes",
    "two_moons",
]

_WEIGHT_TOL = 1e-6


def mixture_parameters(
    means: Any,
    stds: Any,
    weights: Any = None,
    *,
    names: tuple[str, str, str] = ("means", "stds", "weights"),
    unit: str = "component",
    positive_weights: bool = False,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Validate (K, D) means, a float or (K,) stds and (K,) weights summing to 1 (uniform when None).

    Returns float64 tensors ``(means, stds, weights)``. Shared by :class:`GaussianMixture` and
    ``GaussianClasses`` (which calls its arguments ``std`` and ``priors``: ``names`` sets what errors say).
    """
    m_name, s_name, w_name = names
    mu = check_finite(as_float_tensor(means, m_name), m_name)
    if mu.dim() != 2 or mu.shape[0] < 1 or mu.shape[1] < 1:
        raise ValueError(f"{m_name} must be a 2-D (K, D) array with K, D >= 1, got shape {tuple(mu.shape)}")
    k = mu.shape[0]
    s = check_finite(as_float_tensor(stds, s_name), s_name)
    if s.dim() == 0:
        s = s.expand(k).clone()
    if s.shape != (k,):
        raise ValueError(f"{s_name} must be a float or a ({k},) array (one per {unit}), got {describe(stds)}")
    if not bool((s > 0).all()):
        raise ValueError(f"{s_name} must all be > 0, got {s.tolist()}")
    if weights is None:
        return mu, s, torch.full((k,), 1.0 / k, dtype=torch.float64)
    w = check_finite(as_float_tensor(weights, w_name), w_name)
    if w.shape != (k,):
        raise ValueError(f"{w_name} must have shape ({k},) (one per {unit}), got {describe(weights)}")
    if positive_weights and not bool((w > 0).all()):
        raise ValueError(f"{w_name} must all be > 0 (drop a {unit} that never occurs), got {w.tolist()}")
    if bool((w < 0).any()):
        raise ValueError(f"{w_name} must be >= 0, got {w.tolist()}")
    total = float(w.sum())
    if abs(total - 1.0) > _WEIGHT_TOL:
        raise ValueError(f"{w_name} must sum to 1 (within {_WEIGHT_TOL}), got sum {total:.8g}")
    return mu, s, w / w.sum()


class GaussianMixture:
    r"""A mixture of isotropic Gaussians :math:`\sum_k w_k \mathcal N(\mu_k, \sigma_{\text{data},k}^2 I)` with exact
    answers.

    Args:
        means: (K, D) component means (any array-like).
        stds: one float for all components, or (K,) standard deviations, all > 0.
        weights: (K,) non-negative mixture weights summing to 1; uniform when None.

    Parameters are stored as float64 tensors. Methods accept array-likes or tensors ``x`` of shape (n, D) and
    compute in float64; a floating tensor input gets its own dtype and device back.
    """

    def __init__(self, means: Any, stds: Any, weights: Any = None) -> None:
        self.means, self.stds, self.weights = mixture_parameters(means, stds, weights)

    # -- basic properties --------------------------------------------------------------------------------------
    @property
    def n_components(self) -> int:
        """K, the number of components."""
        return int(self.means.shape[0])

    @property
    def dim(self) -> int:
        """D, the dimension of the data."""
        return int(self.means.shape[1])

    def mean(self) -> torch.Tensor:
        r"""The mixture mean :math:`\sum_k w_k \mu_k`, shape (D,)."""
        return self.weights @ self.means

    def covariance(self) -> torch.Tensor:
        r"""The mixture covariance, (D, D):
        :math:`\sum_k w_k (\sigma_{\text{data},k}^2 I + \mu_k\mu_k^\top) - \bar\mu\bar\mu^\top`."""
        eye = torch.eye(self.dim, dtype=torch.float64)
        second = sum(w * (s**2 * eye + torch.outer(m, m)) for w, s, m in zip(self.weights, self.stds, self.means))
        mbar = self.mean()
        return second - torch.outer(mbar, mbar)

    def __repr__(self) -> str:
        return (
            f"GaussianMixture(K={self.n_components}, D={self.dim}, "
            f"stds={[round(v, 4) for v in self.stds.tolist()]}, "
            f"weights={[round(v, 4) for v in self.weights.tolist()]})"
        )

    # -- the exact answers ---------------------------------------------------------------------------------------
    def _prepare(self, x: Any) -> tuple[torch.Tensor, torch.dtype, torch.device]:
        if isinstance(x, torch.Tensor) and x.is_floating_point():
            out_dtype, device = x.dtype, x.device
        else:
            out_dtype, device = torch.float64, (x.device if isinstance(x, torch.Tensor) else torch.device("cpu"))
        x64 = as_float_tensor(x, "x", dtype=torch.float64, device=device)
        check_ndim(x64, "x", 2, f"(n, D) with D = {self.dim}")
        if x64.shape[1] != self.dim:
            raise ValueError(f"x must have D = {self.dim} columns, got shape {tuple(x64.shape)}")
        check_finite(x64, "x")
        return x64, out_dtype, device

    def _component_log_probs(self, x64: torch.Tensor) -> torch.Tensor:
        """(n, K): log w_k + log N(x; mu_k, std_k^2 I)."""
        mu = self.means.to(x64.device)
        s = self.stds.to(x64.device)
        sq = ((x64[:, None, :] - mu[None]) ** 2).sum(-1)  # ||x - mu_k||^2, (n, K); exact (cdist rounds near 0)
        log_norm = -self.dim * torch.log(s) - 0.5 * self.dim * math.log(2 * math.pi)
        return torch.log(self.weights.to(x64.device)) + log_norm - sq / (2 * s**2)

    def log_prob(self, x: Any) -> torch.Tensor:
        r"""The log density, shape (n,):
        :math:`\log p(x) = \operatorname{logsumexp}_k [\log w_k + \log\mathcal N(x;\mu_k,\sigma_{\text{data},k}^2 I)]`.
        """
        x64, out_dtype, _ = self._prepare(x)
        return torch.logsumexp(self._component_log_probs(x64), dim=1).to(out_dtype)

    def responsibilities(self, x: Any) -> torch.Tensor:
        r"""Posterior component probabilities :math:`r_k(x) = p(k \mid x)`, shape (n, K)."""
        x64, out_dtype, _ = self._prepare(x)
        return torch.softmax(self._component_log_probs(x64), dim=1).to(out_dtype)

    def score(self, x: Any) -> torch.Tensor:
        r"""The exact score :math:`\nabla_x \log p(x) = \sum_k r_k(x)(\mu_k - x)/\sigma_{\text{data},k}^2`,
        shape (n, D)."""
        x64, out_dtype, _ = self._prepare(x)
        r = torch.softmax(self._component_log_probs(x64), dim=1)  # (n, K)
        mu = self.means.to(x64.device)
        inv_var = 1.0 / self.stds.to(x64.device) ** 2  # (K,)
        # sum_k r_k (mu_k - x) / std_k^2  =  (r / std^2) @ mu  -  x * sum_k r_k / std_k^2
        weighted = r * inv_var
        return (weighted @ mu - x64 * weighted.sum(dim=1, keepdim=True)).to(out_dtype)

    def diffused(self, alpha: float, sigma: float) -> GaussianMixture:
        r"""The exact law of :math:`\alpha x + \sigma\varepsilon` (a diffusion's marginal at one time, notebook 04).

        Means scale by :math:`\alpha`, standard deviations become
        :math:`\sqrt{\alpha^2 \sigma_{\text{data},k}^2 + \sigma^2}`.
        """
        alpha = check_real(alpha, "alpha")
        sigma = check_real(sigma, "sigma")
        if alpha <= 0:
            raise ValueError(f"alpha must be > 0, got {alpha}")
        if sigma < 0:
            raise ValueError(f"sigma must be >= 0, got {sigma}")
        return GaussianMixture(alpha * self.means, torch.sqrt(alpha**2 * self.stds**2 + sigma**2), self.weights.clone())

    def noised(self, sigma: float) -> GaussianMixture:
        r"""The exact law of :math:`x + \sigma\varepsilon`, :math:`\varepsilon\sim\mathcal N(0, I)`.

        Each component's variance grows by :math:`\sigma^2`:
        :math:`\sigma_{\text{data},k} \to \sqrt{\sigma_{\text{data},k}^2 + \sigma^2}`.
        ``sigma = 0`` returns an equal copy.
        """
        sigma = check_real(sigma, "sigma")
        if sigma < 0:
            raise ValueError(f"sigma must be >= 0, got {sigma}")
        return GaussianMixture(self.means.clone(), torch.sqrt(self.stds**2 + sigma**2), self.weights.clone())

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """Draw ``n`` samples, shape (n, D), float64; pass a seeded ``generator`` to make them reproducible."""
        n = check_int(n, "n", minimum=0)
        check_generator(generator)
        component = torch.multinomial(self.weights, n, replacement=True, generator=generator) if n else None
        if component is None:
            return torch.empty(0, self.dim, dtype=torch.float64)
        eps = torch.randn(n, self.dim, generator=generator, dtype=torch.float64)
        return self.means[component] + self.stds[component, None] * eps

    def sample_with_components(
        self, n: int, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Like :meth:`sample`, and also return which component (n,) each sample came from."""
        n = check_int(n, "n", minimum=1)
        check_generator(generator)
        component = torch.multinomial(self.weights, n, replacement=True, generator=generator)
        eps = torch.randn(n, self.dim, generator=generator, dtype=torch.float64)
        return self.means[component] + self.stds[component, None] * eps, component


# -- presets -----------------------------------------------------------------------------------------------------
def ring(k: int = 8, radius: float = 4.0, std: float = 0.3) -> GaussianMixture:
    """``k`` equal Gaussians of standard deviation ``std`` evenly spaced on a circle of ``radius`` (2-D)."""
    k = check_int(k, "k", minimum=1)
    radius = check_positive(radius, "radius")
    std = check_positive(std, "std")
    angles = 2 * np.pi * np.arange(k) / k
    means = radius * np.stack([np.cos(angles), np.sin(angles)], axis=1)
    return GaussianMixture(means, std)


def two_modes(weight_left: float = 0.2, distance: float = 5.0, std: float = 1.0) -> GaussianMixture:
    """Song & Ermon (2019)'s example: ``0.2·N((-5,-5), I) + 0.8·N((5,5), I)`` by default.

    Plain Langevin dynamics with the exact score gets the two weights wrong; annealed Langevin recovers them
    (notebook 04).
    """
    weight_left = check_real(weight_left, "weight_left")
    if not 0 < weight_left < 1:
        raise ValueError(f"weight_left must be in (0, 1), got {weight_left}")
    distance = check_positive(distance, "distance")
    std = check_positive(std, "std")
    return GaussianMixture([[-distance, -distance], [distance, distance]], std, [weight_left, 1 - weight_left])


# -- sample-only toy sets (no closed-form density) ----------------------------------------------------------------
def _check_noise(noise: float) -> float:
    noise = check_real(noise, "noise")
    if noise < 0:
        raise ValueError(f"noise must be >= 0, got {noise}")
    return noise


def two_moons(n: int, noise: float = 0.08, generator: torch.Generator | None = None) -> torch.Tensor:
    """Two interleaved half circles (like scikit-learn's ``make_moons``), scaled by 2: x in about [-3, 3], y in about [-1.5, 1.5]."""
    n = check_int(n, "n", minimum=1)
    noise = _check_noise(noise)
    check_generator(generator)
    upper = torch.rand(n, generator=generator) < 0.5
    angle = torch.rand(n, generator=generator, dtype=torch.float64) * math.pi
    x = torch.where(upper, torch.cos(angle), 1 - torch.cos(angle))
    y = torch.where(upper, torch.sin(angle), 0.5 - torch.sin(angle))
    points = torch.stack([x - 0.5, y - 0.25], dim=1) * 2.0
    return points + noise * 2.0 * torch.randn(n, 2, generator=generator, dtype=torch.float64)


def swiss_roll(n: int, noise: float = 0.05, generator: torch.Generator | None = None) -> torch.Tensor:
    """A 2-D spiral ``t (cos t, sin t)``, ``t ∈ [1.5π, 4.5π]``, scaled to about [-3, 3]^2."""
    n = check_int(n, "n", minimum=1)
    noise = _check_noise(noise)
    check_generator(generator)
    t = 1.5 * math.pi * (1 + 2 * torch.rand(n, generator=generator, dtype=torch.float64))
    points = torch.stack([t * torch.cos(t), t * torch.sin(t)], dim=1) / 4.5
    return points + noise * torch.randn(n, 2, generator=generator, dtype=torch.float64)


def checkerboard(n: int, squares: int = 4, size: float = 4.0, generator: torch.Generator | None = None) -> torch.Tensor:
    """Uniform on the dark squares of a ``squares``×``squares`` board covering ``[-size/2, size/2]^2``."""
    n = check_int(n, "n", minimum=1)
    squares = check_int(squares, "squares", minimum=2)
    if squares % 2:
        raise ValueError(f"squares must be even (so every column has as many dark squares), got {squares}")
    size = check_positive(size, "size")
    check_generator(generator)
    cell = size / squares
    # pick a column uniformly, then a row of matching parity (dark squares: (row + col) even)
    col = torch.randint(0, squares, (n,), generator=generator)
    row = 2 * torch.randint(0, squares // 2, (n,), generator=generator) + (col % 2)
    offset = torch.rand(n, 2, generator=generator, dtype=torch.float64)
    x = (col.double() + offset[:, 0]) * cell - size / 2
    y = (row.double() + offset[:, 1]) * cell - size / 2
    return torch.stack([x, y], dim=1)
