"""Self-checks for the coding exercises: compare a student's function with the package's on random inputs.

Every exercise in the notebooks follows one pattern (Neuromatch-style): a stub to fill in — in the instructor
version a cell tagged ``solution`` — followed by a self-check cell::

    exercises.check_function(my_info_nce, reference, cases)

which calls both functions on each case, and raises an ``AssertionError`` that says *what* differs (shape, dtype,
values with the largest difference and where, gradients) — or prints a one-line pass. :func:`compare` is the
one-off version used right after a hand derivation (Karpathy's ``cmp``): exact / allclose / max difference.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

import torch

from ._checks import describe

__all__ = ["ExerciseNotDone", "check_function", "compare"]


class ExerciseNotDone(AssertionError):
    """The exercise's function still raises ``NotImplementedError``: fill it in, then rerun the check."""


def compare(name: str, mine: torch.Tensor, reference: torch.Tensor, *, atol: float = 1e-6, rtol: float = 1e-5) -> bool:
    """Print whether ``mine`` equals ``reference`` exactly, approximately (with the max difference) or not at all.

    Returns True when they agree within ``atol``/``rtol``. Shapes must match.
    """
    mine_t, ref_t = torch.as_tensor(mine).detach(), torch.as_tensor(reference).detach()
    if mine_t.shape != ref_t.shape:
        print(f"{name:<28} shape differs: {tuple(mine_t.shape)} vs reference {tuple(ref_t.shape)}")
        return False
    exact = bool(torch.equal(mine_t, ref_t.to(mine_t.dtype)))
    diff = (mine_t.double() - ref_t.double()).abs()
    max_diff = float(diff.max()) if diff.numel() else 0.0
    close = bool(torch.allclose(mine_t.double(), ref_t.double(), atol=atol, rtol=rtol))
    verdict = "exact" if exact else ("allclose" if close else "DIFFERENT")
    print(f"{name:<28} {verdict:<10} max |diff| = {max_diff:.3g}")
    return close


def _clone_case(case: Mapping[str, Any], grad: bool) -> dict[str, Any]:
    out = {}
    for key, value in case.items():
        if isinstance(value, torch.Tensor):
            value = value.detach().clone()
            if grad and value.is_floating_point():
                value.requires_grad_(True)
        out[key] = value
    return out


def _describe_case(case: Mapping[str, Any]) -> str:
    return ", ".join(f"{k}={describe(v) if isinstance(v, torch.Tensor) else repr(v)}" for k, v in case.items())


def check_function(
    mine: Callable[..., torch.Tensor],
    reference: Callable[..., torch.Tensor],
    cases: Iterable[Mapping[str, Any]],
    *,
    name: str | None = None,
    atol: float = 1e-6,
    rtol: float = 1e-5,
    check_grad: bool = True,
) -> int:
    """Call ``mine(**case)`` and ``reference(**case)`` on every case; raise ``AssertionError`` saying what differs.

    With ``check_grad``, floating-point tensor arguments require grad and the gradients of the summed outputs are
    compared too. Returns the number of cases checked and prints a one-line pass.
    """
    label = name or getattr(mine, "__name__", "your function")
    n = 0
    for case in cases:
        n += 1
        mine_case, ref_case = _clone_case(case, check_grad), _clone_case(case, check_grad)
        try:
            got = mine(**mine_case)
        except NotImplementedError as err:
            raise ExerciseNotDone(f"{label} is not implemented yet ({err}); fill it in and rerun this cell") from None
        want = reference(**ref_case)
        where = f"on case {n} ({_describe_case(case)})"
        if not isinstance(got, torch.Tensor):
            raise AssertionError(f"{label} must return a tensor, got {describe(got)} {where}")
        if got.shape != want.shape:
            raise AssertionError(f"{label} returned shape {tuple(got.shape)}, expected {tuple(want.shape)} {where}")
        if not torch.allclose(got.double(), want.double(), atol=atol, rtol=rtol):
            diff = (got.detach().double() - want.detach().double()).abs().nan_to_num(nan=float("inf"))
            at = tuple(int(i) for i in torch.nonzero(diff == diff.max())[0]) if diff.dim() else ()
            raise AssertionError(
                f"{label} returned different values {where}: max |diff| = {float(diff.max()):.3g} at index {at} "
                f"(yours {got.detach().reshape(-1)[:4].tolist()}..., expected {want.detach().reshape(-1)[:4].tolist()}...)"
            )
        if check_grad and want.requires_grad:  # a detached output leaves every gradient None: reported below
            if got.requires_grad:
                got.sum().backward()
            want.sum().backward()
            for key, value in mine_case.items():
                if isinstance(value, torch.Tensor) and value.requires_grad:
                    g_mine, g_ref = value.grad, ref_case[key].grad
                    if g_ref is None:
                        continue
                    if g_mine is None or not torch.allclose(g_mine, g_ref, atol=atol * 10, rtol=rtol * 10):
                        raise AssertionError(
                            f"{label}: the gradient with respect to {key!r} differs {where}; values agree, so look "
                            "for a detach(), .item() or an in-place operation that breaks autograd"
                        )
    if n == 0:
        raise ValueError("cases must hold at least one case, got none")
    print(f"✓ {label} agrees with the reference on {n} case(s)" + (" (values and gradients)" if check_grad else ""))
    return n
