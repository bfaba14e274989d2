"""What every sampler loop shares: the starting-point check, the checked call of the score (or ε) function, and
the divergence check. Validation happens once on entry; inside the loop only the cheap shape check runs, and the
state is checked for NaN/inf a few times per run (each check waits for the device), never at every step."""

from __future__ import annotations

from collections.abc import Callable

import torch

from .._checks import check_finite, describe

ScoreFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]  # fn(x, t) -> shaped like x: a score or an ε-model
_CHECKS_PER_RUN = 10  # a sampler looks for a non-finite state about this many times per run (and at the end)


def _check_start(x: torch.Tensor, name: str) -> torch.Tensor:
    """A finite floating (N, D) tensor of starting points, detached and copied (the caller's is never modified)."""
    if not isinstance(x, torch.Tensor) or not x.is_floating_point() or x.dim() != 2:
        raise ValueError(f"{name} must be a floating-point (N, D) tensor of starting points, got {describe(x)}")
    return check_finite(x, name).detach().clone()


def _call(fn: Callable[..., torch.Tensor], name: str, x: torch.Tensor, *args: torch.Tensor) -> torch.Tensor:
    """``fn(x, *args)``, checked to be a tensor shaped like ``x`` (a shape check: no host sync) in ``x``'s dtype."""
    out = fn(x, *args)
    if not isinstance(out, torch.Tensor) or out.shape != x.shape:
        raise ValueError(f"{name} must return a tensor shaped like x {tuple(x.shape)}, got {describe(out)}")
    return out.to(x.dtype)


def _is_check_step(k: int, n_steps: int) -> bool:
    """Whether step ``k`` (0-based) of ``n_steps`` is one where the state is checked: every ~10 % and the last."""
    every = max(n_steps // _CHECKS_PER_RUN, 1)
    return (k + 1) % every == 0 or k + 1 == n_steps


def _check_diverged(state: torch.Tensor, where: str) -> None:
    """Raise FloatingPointError if the sampler's state holds NaN or inf (one host sync)."""
    if not bool(torch.isfinite(state).all()):
        raise FloatingPointError(f"{where} produced a non-finite state (step too large for this score function)")
