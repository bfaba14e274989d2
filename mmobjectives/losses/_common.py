r"""What several loss files share, written once: point batches, score-function calls, noise, logits and class-index
targets, half-precision upcasting, and the denoising score matching term. Private to ``losses``; a loss file
imports these, never another loss file's private names.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from .._checks import check_finite, check_index_tensor, describe

ScoreFn = Callable[..., torch.Tensor]
HALF = (torch.float16, torch.bfloat16)


def upcast_half(*tensors: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """float16 / bfloat16 tensors as float32, others unchanged: a loss reduces over many terms (a log-sum-exp, a
    squared 1/sigma, which overflows float16's 65504 at sigma ~ 1e-2), so its arithmetic runs in float32."""
    return tuple(t.float() if t.dtype in HALF else t for t in tensors)


def check_points(x: torch.Tensor, name: str = "x") -> torch.Tensor:
    """A finite floating-point (N, D) batch of points with N, D >= 1 (the input of a score-matching loss)."""
    if not isinstance(x, torch.Tensor) or not x.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor of shape (N, D), got {describe(x)}")
    if x.dim() != 2 or x.shape[0] < 1 or x.shape[1] < 1:
        raise ValueError(f"{name} must be 2-D (N, D) with N, D >= 1, got shape {tuple(x.shape)}")
    return check_finite(x, name)


def call_score(
    fn: ScoreFn,
    x: torch.Tensor,
    *args: torch.Tensor,
    name: str = "score_fn",
    maps: str = "mapping (N, D) points to (N, D) scores",
) -> torch.Tensor:
    """``fn(x, *args)``, checked to be a tensor shaped like ``x``; ``name`` and ``maps`` word the errors."""
    if not callable(fn):
        raise TypeError(f"{name} must be callable, {maps}, got {describe(fn)}")
    out = fn(x, *args)
    if not isinstance(out, torch.Tensor) or out.shape != x.shape:
        raise ValueError(f"{name} must return a tensor of the input's shape {tuple(x.shape)}, got {describe(out)}")
    return out


def draw_noise(noise: torch.Tensor | None, x0: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    r"""The :math:`\varepsilon` of a denoising loss: ``noise`` when given (validated, shaped like ``x0``), else a
    standard normal draw with ``generator`` (on the CPU, moved to ``x0``'s device)."""
    if noise is None:
        return torch.randn(x0.shape, generator=generator, dtype=x0.dtype).to(x0.device)
    if not isinstance(noise, torch.Tensor) or noise.shape != x0.shape:
        raise ValueError(f"noise must be a tensor shaped like x0 {tuple(x0.shape)}, got {describe(noise)}")
    return check_finite(noise, "noise").to(dtype=x0.dtype, device=x0.device)


def dsm_per_example(s: torch.Tensor, eps: torch.Tensor, sigma: torch.Tensor, weighting: str) -> torch.Tensor:
    r"""The denoising score matching term of each example, :math:`\tfrac12\lambda(\sigma)\|s + \varepsilon/\sigma\|^2`
    for (N, D) scores ``s`` and noise ``eps`` at (N,) noise levels ``sigma``; half precision is upcast to float32.

    ``weighting="sigma2"``: :math:`\lambda = \sigma^2`, i.e. :math:`\tfrac12\|\sigma s + \varepsilon\|^2` (one scale
    at every noise level); ``"none"``: :math:`\lambda = 1`."""
    s, eps, sigma = upcast_half(s, eps, sigma)
    sig = sigma[:, None]
    if weighting == "sigma2":
        return 0.5 * ((sig * s + eps) ** 2).sum(dim=1)  # ½‖σ s + ε‖²
    return 0.5 * ((s + eps / sig) ** 2).sum(dim=1)  # ½‖s + ε/σ‖²


def check_logits(logits: torch.Tensor, name: str, ndim: int, layout: str) -> torch.Tensor:
    """Finite, non-empty floating-point scores with ``ndim`` dimensions named by ``layout``, e.g. ``"(N, K)"``."""
    if not isinstance(logits, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor of shape {layout}, got {describe(logits)}")
    if not logits.is_floating_point():
        raise TypeError(
            f"{name} must be a floating-point tensor (unnormalised log-probabilities), got {describe(logits)}"
        )
    if logits.dim() != ndim:
        raise ValueError(f"{name} must be {ndim}-D {layout}, got shape {tuple(logits.shape)}")
    if logits.numel() == 0:
        raise ValueError(
            f"{name} must be non-empty (every dimension of {layout} >= 1), got shape {tuple(logits.shape)}"
        )
    return check_finite(logits, name)


def check_index_target(
    target: torch.Tensor,
    name: str,
    shape: tuple[int, ...],
    layout: str,
    *,
    what: str = "class indices",
    hint: str = "",
) -> torch.Tensor:
    """An integer tensor of ``what`` with the given ``shape`` (the range is :func:`kept_indices`'s job).

    A floating tensor of the right rank is the usual slip (labels stored as floats): its error says how to
    convert, followed by ``hint``."""
    if isinstance(target, torch.Tensor) and target.is_floating_point() and target.dim() == len(shape):
        raise TypeError(
            f"{name}: {what} must be integers (e.g. torch.long), got {describe(target)}; convert with {name}.long(){hint}"
        )
    if isinstance(target, torch.Tensor) and tuple(target.shape) != shape:
        raise ValueError(
            f"{name} must have shape {layout} = {shape} to match the logits, got shape {tuple(target.shape)}"
        )
    return check_index_tensor(target, name, what=what, layout=layout)


def kept_indices(
    target: torch.Tensor, name: str, n_classes: int, ignore_index: int, *, what: str = "class indices"
) -> torch.Tensor:
    """The mask of entries other than ``ignore_index``; ValueError listing the kept indices outside [0, K)."""
    kept = target != ignore_index
    bad = kept & ((target < 0) | (target >= n_classes))
    if bool(bad.any()):
        values = sorted({int(v) for v in target[bad].flatten()[:1000].tolist()})
        shown = ", ".join(str(v) for v in values[:5]) + (", ..." if len(values) > 5 else "")
        raise ValueError(
            f"{name} must hold {what} in [0, {n_classes - 1}] (or ignore_index={ignore_index}), "
            f"got {int(bad.sum())} out-of-range value(s): {shown}"
        )
    return kept
