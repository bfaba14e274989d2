r"""Gaussian classes with an exact posterior: the floor under every classifier's test cross-entropy (notebook 02).

Class :math:`k` has prior :math:`\pi_k` and features
:math:`x \mid y=k \sim \mathcal N(\mu_k,\ \sigma_{\text{data},k}^2 I_D)` (the data's standard deviation
:math:`\sigma_{\text{data},k}`; :math:`\sigma` is kept for noise), so Bayes' rule gives the true posterior in
closed form,

.. math::
    p(k \mid x) = \operatorname{softmax}_k\big(\log \pi_k
        + \log \mathcal N(x;\ \mu_k,\ \sigma_{\text{data},k}^2 I_D)\big),

computed with log-sum-exp so that it stays finite far from every class. The test cross-entropy of any model
:math:`p_\theta` splits as :math:`\mathbb E[-\log p_\theta(y\mid x)] = H(Y\mid X) + \mathbb E_x\,\mathrm{KL}(p(\cdot\mid x)\,\|\,p_\theta(\cdot\mid x))`,
so the conditional entropy

.. math::
    H(Y\mid X) = \mathbb E_x\Big[-\sum_k p(k\mid x)\log p(k\mid x)\Big]

is the lowest test cross-entropy any model can reach, and :math:`\mathbb E_x[\max_k p(k\mid x)]` the highest
accuracy. Both are estimated by Monte Carlo over fresh samples of :math:`x` (with the exact posterior inside the
expectation, which has a far smaller variance than averaging :math:`-\log p(y\mid x)`)::

    task = GaussianClasses.default_2d()     # 5 overlapping classes in 2-D, H(Y|X) ≈ 0.46 nats
    x, y = task.sample(1000, generator=torch.Generator().manual_seed(0))
    floor, se = task.conditional_entropy()  # ≈ (0.459, 0.001)
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from .._checks import check_generator, check_int, check_positive
from .toy2d import GaussianMixture, mixture_parameters

__all__ = ["GaussianClasses"]

_CHUNK = 65_536


class GaussianClasses:
    r"""K classes in D dimensions, :math:`y \sim \pi`,
    :math:`x \mid y=k \sim \mathcal N(\mu_k, \sigma_{\text{data},k}^2 I_D)`.

    Args:
        means: (K, D) class means (any array-like), K >= 1, D >= 1.
        std: one float for all classes, or (K,) per-class standard deviations, all > 0.
        priors: (K,) class probabilities, all > 0, summing to 1; uniform when None.

    Parameters are stored as float64 tensors (``means``, ``stds``, ``priors``). Methods taking ``x`` accept
    array-likes or tensors of shape (n, D) and compute in float64; a floating tensor gets its own dtype back.
    """

    def __init__(self, means: Any, std: Any, priors: Any = None) -> None:
        self.means, self.stds, self.priors = mixture_parameters(
            means, std, priors, names=("means", "std", "priors"), unit="class", positive_weights=True
        )
        # p(x, y=k) = pi_k N(x; mu_k, std_k^2 I) are the components of the marginal mixture: reuse its exact math
        self._joint = GaussianMixture(self.means, self.stds, self.priors)

    # -- presets -------------------------------------------------------------------------------------------------
    @classmethod
    def default_2d(cls, n_classes: int = 5, radius: float = 2.25, std: float = 1.0) -> GaussianClasses:
        r"""``n_classes`` equally likely classes of standard deviation ``std``, evenly spaced on a circle (2-D).

        The default (5 classes, radius 2.25, std 1) overlaps enough that no classifier is sure everywhere:
        :math:`H(Y\mid X) \approx 0.459` nats (against :math:`\log 5 \approx 1.609` for the prior) and a Bayes
        accuracy of about 0.816. Move the classes apart (larger ``radius``) and the floor drops towards 0.
        """
        n_classes = check_int(n_classes, "n_classes", minimum=1)
        radius = check_positive(radius, "radius")
        std = check_positive(std, "std")
        angles = np.pi / 2 + 2 * np.pi * np.arange(n_classes) / n_classes  # the first class at the top
        return cls(radius * np.stack([np.cos(angles), np.sin(angles)], axis=1), std)

    # -- basic properties ----------------------------------------------------------------------------------------
    @property
    def n_classes(self) -> int:
        """K, the number of classes."""
        return int(self.means.shape[0])

    @property
    def dim(self) -> int:
        """D, the dimension of the features."""
        return int(self.means.shape[1])

    def prior_entropy(self) -> float:
        r""":math:`H(Y) = -\sum_k \pi_k \log \pi_k` (nats): the best cross-entropy of a model that ignores ``x``."""
        return float(-(self.priors * torch.log(self.priors)).sum())

    def marginal(self) -> GaussianMixture:
        r"""The law of the features alone, :math:`p(x) = \sum_k \pi_k \mathcal N(\mu_k, \sigma_{\text{data},k}^2 I)`
        (e.g. to plot)."""
        return GaussianMixture(self.means.clone(), self.stds.clone(), self.priors.clone())

    def __repr__(self) -> str:
        return (
            f"GaussianClasses(K={self.n_classes}, D={self.dim}, "
            f"stds={[round(v, 4) for v in self.stds.tolist()]}, "
            f"priors={[round(v, 4) for v in self.priors.tolist()]})"
        )

    # -- sampling ------------------------------------------------------------------------------------------------
    def sample(self, n: int, generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Draw ``n`` labelled points: ``x`` (n, D) float64 and ``y`` (n,) int64 (classes drawn from ``priors``)."""
        n = check_int(n, "n", minimum=0)
        check_generator(generator)
        if n == 0:
            return torch.empty(0, self.dim, dtype=torch.float64), torch.empty(0, dtype=torch.int64)
        return self._joint.sample_with_components(n, generator=generator)

    # -- the exact answers ---------------------------------------------------------------------------------------
    def _prepare(self, x: Any) -> tuple[torch.Tensor, torch.dtype]:
        x64, out_dtype, _ = self._joint._prepare(x)
        return x64, out_dtype

    def _log_joint(self, x64: torch.Tensor) -> torch.Tensor:
        """(n, K) float64: log pi_k + log N(x; mu_k, std_k^2 I)."""
        return self._joint._component_log_probs(x64)

    def log_joint(self, x: Any) -> torch.Tensor:
        r""":math:`\log p(x, y=k) = \log\pi_k + \log\mathcal N(x;\mu_k, \sigma_{\text{data},k}^2 I)`, shape (n, K)."""
        x64, out_dtype = self._prepare(x)
        return self._log_joint(x64).to(out_dtype)

    def log_posterior(self, x: Any) -> torch.Tensor:
        r""":math:`\log p(k\mid x)`, shape (n, K): ``log_joint`` minus its log-sum-exp over classes."""
        x64, out_dtype = self._prepare(x)
        return torch.log_softmax(self._log_joint(x64), dim=1).to(out_dtype)

    def posterior(self, x: Any) -> torch.Tensor:
        r"""The exact posterior :math:`p(k\mid x)` by Bayes' rule, shape (n, K); rows sum to 1 and stay finite
        far from every class (where the widest class, or for equal widths the nearest direction, takes over)."""
        x64, out_dtype = self._prepare(x)
        return torch.softmax(self._log_joint(x64), dim=1).to(out_dtype)

    def _monte_carlo(self, statistic: str, n: Any, generator: Any) -> tuple[float, float]:
        n = check_int(n, "n", minimum=2)
        check_generator(generator)
        total, total_sq, left = 0.0, 0.0, n
        while left > 0:
            m = min(left, _CHUNK)
            x, _ = self.sample(m, generator=generator)
            log_post = torch.log_softmax(self._log_joint(x), dim=1)
            post = log_post.exp()
            if statistic == "entropy":
                values = -(post * log_post).sum(dim=1)  # log_post is finite, so 0 · log 0 never occurs
            else:
                values = post.amax(dim=1)
            total += float(values.sum())
            total_sq += float((values**2).sum())
            left -= m
        mean = total / n
        variance = max(total_sq / n - mean**2, 0.0) * n / (n - 1)
        return mean, math.sqrt(variance / n)

    def conditional_entropy(self, n: int = 100_000, generator: torch.Generator | None = None) -> tuple[float, float]:
        r"""Monte Carlo estimate of :math:`H(Y\mid X) = \mathbb E_x[-\sum_k p(k\mid x)\log p(k\mid x)]` in nats.

        Returns ``(estimate, standard_error)`` from ``n`` fresh samples. This is the lowest expected test
        cross-entropy any classifier can reach (the Bayes posterior reaches it); it lies in
        :math:`[0, H(Y)]`: 0 for separated classes, :math:`H(Y)` when the features say nothing.
        """
        return self._monte_carlo("entropy", n, generator)

    def bayes_accuracy(self, n: int = 100_000, generator: torch.Generator | None = None) -> tuple[float, float]:
        r"""Monte Carlo estimate of the Bayes accuracy :math:`\mathbb E_x[\max_k p(k\mid x)]`, the highest
        accuracy any classifier can reach; returns ``(estimate, standard_error)`` from ``n`` fresh samples."""
        return self._monte_carlo("accuracy", n, generator)

    # -- a discretised view: the floor of a token model ----------------------------------------------------------
    def _check_edges(self, edges: Any) -> torch.Tensor:
        e = torch.as_tensor(edges, dtype=torch.float64) if not isinstance(edges, torch.Tensor) else edges.double()
        if e.dim() != 1 or e.numel() < 2 or not bool(torch.isfinite(e).all()) or not bool((e[1:] > e[:-1]).all()):
            raise ValueError(f"edges must be a 1-D increasing sequence of at least 2 finite bin edges, got {edges!r}")
        return e

    def bin_index(self, x: Any, edges: Any) -> torch.Tensor:
        r"""The bin of every coordinate of ``x`` (n, D): ``b = j`` when :math:`e_j \le x < e_{j+1}`, with the two
        outer bins extended to :math:`\pm\infty` (``B = len(edges) - 1`` bins, ids ``0 .. B-1``). int64 (n, D)."""
        e = self._check_edges(edges)
        x64, _ = self._prepare(x)
        inner = e[1:-1].contiguous()
        return torch.bucketize(x64.contiguous(), inner, right=True)

    def bin_probabilities(self, edges: Any) -> torch.Tensor:
        r""":math:`P(b \mid y=k)` per coordinate, shape (K, D, B), from the Gaussian CDF :math:`\Phi`:

        .. math::
            P(b = j \mid y = k) = \Phi\Big(\frac{e_{j+1} - \mu_{kd}}{\sigma_{\text{data},k}}\Big)
                - \Phi\Big(\frac{e_j - \mu_{kd}}{\sigma_{\text{data},k}}\Big),

        with the outer edges at :math:`\pm\infty`. Coordinates are independent given the class (isotropic
        Gaussians), so :math:`P(b_1, \dots, b_D \mid k) = \prod_d P(b_d \mid k)`.
        """
        e = self._check_edges(edges).clone()
        e[0], e[-1] = -math.inf, math.inf
        z = (e[None, None, :] - self.means[:, :, None]) / self.stds[:, None, None]  # (K, D, B+1)
        cdf = 0.5 * torch.erfc(-z / math.sqrt(2))
        return (cdf[..., 1:] - cdf[..., :-1]).clamp_min(0.0)

    def binned_entropies(self, edges: Any) -> dict[str, float]:
        r"""Exact entropies (nats) of the class and the binned features :math:`B = (b_1, \dots, b_D)`, D <= 3:

        ``joint`` :math:`H(Y, B)`, ``features`` :math:`H(B)`, ``label_given_features`` :math:`H(Y \mid B) =
        H(Y, B) - H(B)` (at least :math:`H(Y\mid X)`: binning throws information away) and
        ``features_given_label`` :math:`H(B \mid Y)`. A token model of ``(y, b_1, …, b_D)`` cannot average
        below ``joint`` nats per sequence. Notebook 06.
        """
        if self.dim > 3:
            raise ValueError(f"binned_entropies enumerates B^D cells and supports D <= 3, got D = {self.dim}")
        per_coord = self.bin_probabilities(edges)  # (K, D, B)
        joint = self.priors.clone()
        for d in range(self.dim):
            joint = joint[..., None] * per_coord[(slice(None),) + (None,) * d + (d,)]
        # joint: (K, B, ..., B)
        features = joint.sum(dim=0)

        def entropy(p: torch.Tensor) -> float:
            p = p.reshape(-1)
            p = p[p > 0]
            return float(-(p * p.log()).sum())

        h_joint, h_features = entropy(joint), entropy(features)
        return {
            "joint": h_joint,
            "features": h_features,
            "label_given_features": h_joint - h_features,
            "features_given_label": h_joint - self.prior_entropy(),
        }
