r"""Samplers driven by a score function. Notebook 03 (Langevin); notebook 04 adds annealed Langevin, the reverse
SDE, the probability-flow ODE and DDPM; notebook 05 adds token sampling.

**Unadjusted Langevin dynamics.** With step size :math:`\eta` and :math:`z\sim\mathcal N(0, I)`,

.. math::
    x_{k+1} = x_k + \frac{\eta}{2}\, s(x_k) + \sqrt{\eta}\, z_k,

whose stationary distribution tends to :math:`p` as :math:`\eta\to0` when :math:`s = \nabla\log p`.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from ._checks import check_finite, check_generator, check_int, check_positive, describe

__all__ = ["langevin"]


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
