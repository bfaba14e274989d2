r"""Langevin dynamics: sampling with nothing but a score function. Notebook 03 (Langevin), notebook 04 (annealed).

**Unadjusted Langevin dynamics.** With step size :math:`\eta` and a fresh :math:`\varepsilon_k\sim\mathcal N(0, I)`
at every step,

.. math::
    x_{k+1} = x_k + \frac{\eta}{2}\, s(x_k) + \sqrt{\eta}\, \varepsilon_k,

whose stationary distribution tends to :math:`p` as :math:`\eta\to0` when :math:`s = \nabla\log p`.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from .._checks import as_float_tensor, check_finite, check_generator, check_int, check_positive, describe
from ._loop import _call, _check_diverged, _check_start, _is_check_step


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
    r"""Run unadjusted Langevin dynamics :math:`x \leftarrow x + \tfrac{\eta}{2}s(x) + \sqrt\eta\,\varepsilon` from ``x``.

    Args:
        score_fn: (N, D) → (N, D), e.g. ``mixture.score`` or a trained model (called under ``torch.no_grad``).
        x: (N, D) starting points (not modified).
        step_size: :math:`\eta > 0`.
        n_steps: number of updates (>= 0).
        generator: draws the noise :math:`\varepsilon` (on the CPU, moved to ``x``'s device) for reproducible chains.
        return_trajectory: also return the states every ``trajectory_every`` steps, shape (T, N, D), starting
            with ``x`` itself.

    Returns the final samples (N, D), or ``(samples, trajectory)``. A non-finite state raises
    ``FloatingPointError`` (step size too large for this score) instead of returning NaN; the state is checked
    about every 10 % of the steps and at the end, not at every step (each check waits for the device).
    """
    state = _check_start(x, "x")
    if not callable(score_fn):
        raise TypeError(f"score_fn must be callable, got {describe(score_fn)}")
    eta = check_positive(step_size, "step_size")
    n_steps = check_int(n_steps, "n_steps", minimum=0)
    every = check_int(trajectory_every, "trajectory_every", minimum=1)
    check_generator(generator)
    frames = [state.clone()] if return_trajectory else []
    with torch.no_grad():
        for k in range(n_steps):
            eps = torch.randn(state.shape, generator=generator, dtype=state.dtype).to(state.device)
            state = state + 0.5 * eta * _call(score_fn, "score_fn", state) + math.sqrt(eta) * eps  # x + η/2 s(x) + √η ε
            if _is_check_step(k, n_steps) and not bool(torch.isfinite(state).all()):
                raise FloatingPointError(
                    f"Langevin diverged by step {k + 1}: step_size {eta} is too large for this score function"
                )
            if return_trajectory and (k + 1) % every == 0:
                frames.append(state.clone())
    if return_trajectory:
        return state, torch.stack(frames)
    return state


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
        x \leftarrow x + \frac{\alpha_i}{2}\, s(x, \sigma_i) + \sqrt{\alpha_i}\, \varepsilon,\qquad \varepsilon\sim\mathcal N(0, I).

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
    n_total, k = sig.numel() * n_steps_each, 0
    with torch.no_grad():
        for sigma_i in sig.tolist():
            alpha_i = step_lr * sigma_i**2 / sigma_last**2  # α_i = step_lr · σ_i² / σ_L²
            level = torch.full((n,), sigma_i, dtype=state.dtype, device=state.device)
            for _ in range(n_steps_each):
                eps = torch.randn(state.shape, generator=generator, dtype=state.dtype).to(state.device)
                state = state + 0.5 * alpha_i * _call(score_fn, "score_fn", state, level) + math.sqrt(alpha_i) * eps
                if _is_check_step(k, n_total):
                    _check_diverged(state, f"annealed Langevin at sigma={sigma_i:.4g}")
                k += 1
    return state
