r"""Score matching objectives: Hyvärinen's implicit score matching, sliced score matching, denoising score
matching. Notebook 03 derives each one; notebook 04 makes the noise level a variable.

A score model :math:`s_\theta(x) \approx \nabla_x \log p(x)` never needs the normalising constant of :math:`p`.

* **Implicit (Hyvärinen 2005)** — integration by parts removes the unknown :math:`\nabla\log p`:
  :math:`J(\theta) = \mathbb E_p\big[\tfrac12\|s_\theta(x)\|^2 + \operatorname{tr}\nabla_x s_\theta(x)\big]`.
* **Sliced (Song et al. 2019)** — the trace estimated with random projections :math:`v\sim\mathcal N(0,I)`:
  :math:`\mathbb E_v\big[v^\top \nabla_x s_\theta\, v + \tfrac12 (v^\top s_\theta)^2\big]`.
* **Denoising (Vincent 2011)** — regress onto the score of the noising kernel,
  :math:`\tfrac12\lambda(\sigma)\,\|s_\theta(\tilde x, \sigma) + \varepsilon/\sigma\|^2` with
  :math:`\tilde x = x + \sigma\varepsilon`; its minimiser is the score of the *noised marginal* :math:`q_\sigma`.
"""

from __future__ import annotations

import torch

from .._checks import check_choice, check_finite, check_generator, check_int, check_reduction, describe, reduce
from ._common import (
    ScoreFn,
    call_score,
    check_points,
    draw_noise,
    dsm_per_example,
    upcast_half,  # noqa: F401 - importable from here as before
)

__all__ = ["denoising_score_matching", "score_matching", "sliced_score_matching"]


def score_matching(score_fn: ScoreFn, x: torch.Tensor, *, reduction: str = "mean") -> torch.Tensor:
    r"""Hyvärinen's implicit score matching, :math:`\tfrac12\|s(x)\|^2 + \operatorname{tr}\nabla_x s(x)` per example.

    The trace is exact: one backward pass per dimension (cost grows linearly with D — notebook 03 times it), with
    ``create_graph=True`` so the loss still trains the parameters of ``score_fn``. ``score_fn``: (N, D) → (N, D).
    Equals the explicit objective :math:`\tfrac12\mathbb E\|s - \nabla\log p\|^2` minus a constant that does not
    depend on :math:`s` (notebook 03, section 2).
    """
    check_points(x)
    check_reduction(reduction)
    with torch.enable_grad():  # the trace needs d s / d x even when called under torch.no_grad() (validation)
        x = x.detach().requires_grad_(True)
        s = call_score(score_fn, x)
        trace = torch.zeros(x.shape[0], dtype=s.dtype, device=s.device)
        for d in range(x.shape[1] if s.requires_grad else 0):  # a score that ignores x has zero trace
            (grad_d,) = torch.autograd.grad(s[:, d].sum(), x, create_graph=True, allow_unused=True)
            if grad_d is not None:  # None: s_d does not depend on x at all (its derivative is 0)
                trace = trace + grad_d[:, d]  # d s_d / d x_d
        per_example = 0.5 * (s**2).sum(dim=1) + trace  # ½‖s(x)‖² + tr ∇ₓs(x)
    return reduce(per_example, reduction)


def sliced_score_matching(
    score_fn: ScoreFn,
    x: torch.Tensor,
    *,
    n_projections: int = 1,
    variance_reduction: bool = False,
    noise: torch.Tensor | None = None,
    generator: torch.Generator | None = None,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""Sliced score matching: :math:`\mathbb E_v\big[v^\top(\nabla_x s)\,v + \tfrac12(v^\top s)^2\big]`,
    :math:`v\sim\mathcal N(0, I)`.

    One backward pass per projection instead of one per dimension; unbiased for the implicit objective because
    :math:`\mathbb E[vv^\top] = I`. With ``variance_reduction`` (SSM-VR), :math:`\tfrac12\|s\|^2` replaces its
    unbiased estimate :math:`\tfrac12(v^\top s)^2`. The projections :math:`v` are ``noise`` when given, shape
    (n_projections, N, D) (row i of ``noise[m]`` projects example i), else drawn with ``generator`` (on the CPU,
    then moved to ``x``'s device). Notebook 03, section 4.
    """
    check_points(x)
    n_projections = check_int(n_projections, "n_projections", minimum=1)
    check_generator(generator)
    check_reduction(reduction)
    with torch.enable_grad():  # as in score_matching: the Jacobian term needs autograd w.r.t. x
        x = x.detach().requires_grad_(True)
        s = call_score(score_fn, x)
        v_all = _projections(noise, n_projections, x, generator)
        per_example = torch.zeros(x.shape[0], dtype=s.dtype, device=s.device)
        for v in v_all:
            grad_sv = (
                torch.autograd.grad((s * v).sum(), x, create_graph=True, allow_unused=True)[0]
                if s.requires_grad
                else None
            )
            # row i of grad_sv: v_i^T (d s / d x); None when s does not depend on x
            jacobian_term = (grad_sv * v).sum(dim=1) if grad_sv is not None else torch.zeros_like(per_example)
            norm_term = 0.5 * (s**2).sum(dim=1) if variance_reduction else 0.5 * (s * v).sum(dim=1) ** 2
            per_example = per_example + jacobian_term + norm_term  # vᵀ(∇ₓs)v + ½(vᵀs)²
    return reduce(per_example / n_projections, reduction)


def _projections(
    noise: torch.Tensor | None, n_projections: int, x: torch.Tensor, generator: torch.Generator | None
) -> torch.Tensor:
    """The (n_projections, N, D) directions v of sliced score matching: ``noise`` (validated) or a normal draw."""
    shape = (n_projections, *x.shape)
    if noise is None:
        return torch.randn(shape, generator=generator, dtype=x.dtype).to(x.device)
    if not isinstance(noise, torch.Tensor) or tuple(noise.shape) != shape or not noise.is_floating_point():
        raise ValueError(
            f"noise must be a floating-point tensor of shape (n_projections, N, D) = {shape} (the projections v), "
            f"got {describe(noise)}"
        )
    return check_finite(noise, "noise").to(dtype=x.dtype, device=x.device)


def _sigma_vector(sigma: float | torch.Tensor, n: int, like: torch.Tensor) -> torch.Tensor:
    """(N,) noise levels > 0 in ``like``'s dtype and device: a float broadcast, or an (N,) / 0-dim tensor."""
    if isinstance(sigma, torch.Tensor):
        if sigma.dim() == 0:
            sigma = sigma.expand(n)
        if sigma.shape != (n,):
            raise ValueError(f"sigma must be a float or an ({n},) tensor (one per example), got {describe(sigma)}")
        sig = sigma.to(dtype=like.dtype, device=like.device)
    elif isinstance(sigma, bool) or not isinstance(sigma, (int, float)):
        raise TypeError(f"sigma must be a float or an (N,) tensor, got {describe(sigma)}")
    else:
        sig = torch.full((n,), float(sigma), dtype=like.dtype, device=like.device)
    check_finite(sig, "sigma")
    if not bool((sig > 0).all()):
        raise ValueError(f"sigma must be > 0 (a noise level), got min {float(sig.min())}")
    return sig


def denoising_score_matching(
    score_fn: ScoreFn,
    x0: torch.Tensor,
    sigma: float | torch.Tensor,
    *,
    noise: torch.Tensor | None = None,
    weighting: str = "sigma2",
    generator: torch.Generator | None = None,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""Denoising score matching at noise level :math:`\sigma`:

    .. math::
        \tilde x = x_0 + \sigma\varepsilon,\qquad
        \ell = \tfrac12\,\lambda(\sigma)\,\big\|s(\tilde x, \sigma) + \varepsilon/\sigma\big\|^2,

    with :math:`\lambda(\sigma) = \sigma^2` for ``weighting="sigma2"`` (so :math:`\ell = \tfrac12\|\sigma s + \varepsilon\|^2`,
    the same scale at every noise level) and :math:`\lambda = 1` for ``"none"``.

    float16 / bfloat16 ``x0``: ``score_fn`` sees half-precision inputs, the loss is computed and returned in
    float32 (``"none"`` at :math:`\sigma = 10^{-4}` is about :math:`10^8`, far beyond float16's range).

    ``score_fn(x_tilde, sigma)`` receives :math:`\sigma` as an (N,) tensor. ``sigma`` is a float or an (N,) tensor
    (noise-conditional training); :math:`\varepsilon` is ``noise`` when given, else drawn with ``generator``.
    The minimiser over all functions is :math:`\nabla\log q_\sigma`, the score of the noised marginal — but the
    loss at the minimiser is not zero (notebook 03, section 5).
    """
    check_points(x0, "x0")
    check_choice(weighting, "weighting", ("sigma2", "none"))
    check_reduction(reduction)
    check_generator(generator)
    sig = _sigma_vector(sigma, x0.shape[0], x0)
    eps = draw_noise(noise, x0, generator)
    x_tilde = x0 + sig[:, None] * eps  # x̃ = x₀ + σε
    s = call_score(score_fn, x_tilde, sig)
    return reduce(dsm_per_example(s, eps, sig, weighting), reduction)  # ½λ(σ)‖s(x̃, σ) + ε/σ‖²
