"""Tests for mmobjectives.exercises: compare's verdicts and check_function's messages for each kind of mistake."""

from __future__ import annotations

import warnings

import pytest
import torch

from mmobjectives import exercises
from mmobjectives.exercises import ExerciseNotDone, check_function, compare


def _square(x: torch.Tensor) -> torch.Tensor:
    return x**2


def _cases(n: int = 3) -> list[dict[str, torch.Tensor]]:
    g = torch.Generator().manual_seed(0)
    return [{"x": torch.randn(4, 3, generator=g, dtype=torch.float64)} for _ in range(n)]


# -- compare --------------------------------------------------------------------------------------------------------
def test_compare_exact(capsys: pytest.CaptureFixture[str]) -> None:
    x = torch.randn(3, 2)
    assert compare("dlogits", x, x.clone()) is True
    out = capsys.readouterr().out
    assert "dlogits" in out and "exact" in out and "DIFFERENT" not in out


def test_compare_allclose(capsys: pytest.CaptureFixture[str]) -> None:
    x = torch.randn(3, 2, dtype=torch.float64)
    assert compare("grad", x + 1e-9, x) is True
    out = capsys.readouterr().out
    assert "allclose" in out and "exact" not in out
    assert "1e-09" in out  # the max |diff| is reported


def test_compare_different(capsys: pytest.CaptureFixture[str]) -> None:
    x = torch.zeros(3)
    assert compare("grad", x + torch.tensor([0.0, 0.5, 0.0]), x) is False
    out = capsys.readouterr().out
    assert "DIFFERENT" in out and "0.5" in out


def test_compare_tolerances_are_used(capsys: pytest.CaptureFixture[str]) -> None:
    x = torch.ones(2)
    assert compare("a", x + 1e-3, x) is False
    assert compare("a", x + 1e-3, x, atol=1e-2) is True
    assert "allclose" in capsys.readouterr().out.splitlines()[-1]


def test_compare_shape_mismatch(capsys: pytest.CaptureFixture[str]) -> None:
    assert compare("a", torch.zeros(3), torch.zeros(3, 1)) is False
    assert "shape" in capsys.readouterr().out


def test_compare_accepts_tensors_that_require_grad_and_arrays(capsys: pytest.CaptureFixture[str]) -> None:
    x = torch.randn(3, requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "converting a tensor with requires_grad=True" warning
        assert compare("a", x * 1, x.detach().numpy()) is True
    assert "exact" in capsys.readouterr().out


# -- check_function ---------------------------------------------------------------------------------------------
def test_check_function_passes_and_counts(capsys: pytest.CaptureFixture[str]) -> None:
    def mine(x: torch.Tensor) -> torch.Tensor:
        return x * x

    assert check_function(mine, _square, _cases(3)) == 3
    out = capsys.readouterr().out
    assert "mine" in out and "3 case(s)" in out and "gradients" in out


def test_check_function_passes_with_non_tensor_arguments() -> None:
    def mine(x: torch.Tensor, p: int) -> torch.Tensor:
        return x.abs() ** p

    cases = [{"x": c["x"], "p": 2} for c in _cases(2)]
    assert check_function(mine, lambda x, p: x**p, cases, name="power") == 2


def test_check_function_does_not_modify_the_cases() -> None:
    cases = _cases(1)
    before = cases[0]["x"].clone()

    def in_place(x: torch.Tensor) -> torch.Tensor:
        out = x**2
        with torch.no_grad():
            x.zero_()  # scribbles on its argument: must be a copy
        return out

    assert check_function(in_place, _square, cases, check_grad=False) == 1
    assert torch.equal(cases[0]["x"], before)
    assert not cases[0]["x"].requires_grad


def test_check_function_reports_wrong_values() -> None:
    with pytest.raises(AssertionError, match="different values") as info:
        check_function(lambda x: 2 * x**2, _square, _cases())
    assert "case 1" in str(info.value) and "max |diff|" in str(info.value)


def test_check_function_reports_nan_values_as_different() -> None:
    def nan_at_one(x: torch.Tensor) -> torch.Tensor:
        out = x**2
        return torch.where(torch.arange(out.numel()).reshape(out.shape) == 4, torch.nan, out)

    with pytest.raises(AssertionError, match="different values") as info:
        check_function(nan_at_one, _square, _cases())
    assert "(1, 1)" in str(info.value)  # flat index 4 of a (4, 3) output


def test_check_function_reports_the_index_of_the_largest_difference() -> None:
    def off_at_one(x: torch.Tensor) -> torch.Tensor:
        bump = torch.zeros_like(x)
        bump[2, 1] = 1.0
        return x**2 + bump

    with pytest.raises(AssertionError, match=r"at index \(2, 1\)"):
        check_function(off_at_one, _square, _cases())


def test_check_function_reports_wrong_shape() -> None:
    with pytest.raises(AssertionError, match="shape"):
        check_function(lambda x: (x**2).sum(dim=1), _square, _cases())


def test_check_function_reports_non_tensor_results() -> None:
    with pytest.raises(AssertionError, match="tensor"):
        check_function(lambda x: (x**2).tolist(), _square, _cases())


def test_check_function_reports_a_broken_gradient() -> None:
    def detached(x: torch.Tensor) -> torch.Tensor:
        return x.detach() ** 2 + (x - x.detach())  # value x², gradient 1 instead of 2x

    with pytest.raises(AssertionError, match="gradient") as info:
        check_function(detached, _square, _cases())
    assert "'x'" in str(info.value)


def test_check_function_reports_a_fully_detached_output() -> None:
    with pytest.raises(AssertionError, match="gradient"):
        check_function(lambda x: x.detach() ** 2, _square, _cases())


def test_check_function_without_gradients_skips_the_gradient_check(capsys: pytest.CaptureFixture[str]) -> None:
    def detached(x: torch.Tensor) -> torch.Tensor:
        return x.detach() ** 2 + (x - x.detach())

    assert check_function(detached, _square, _cases(2), check_grad=False) == 2
    assert check_function(lambda x: x.detach() ** 2, _square, _cases(1), check_grad=False) == 1
    assert "gradients" not in capsys.readouterr().out


def test_check_function_not_implemented_raises_exercise_not_done() -> None:
    def stub(x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError("compute x squared")

    with pytest.raises(ExerciseNotDone, match="stub") as info:
        check_function(stub, _square, _cases())
    assert isinstance(info.value, AssertionError)
    assert "compute x squared" in str(info.value)


def test_exercise_not_done_is_an_assertion_error() -> None:
    assert issubclass(exercises.ExerciseNotDone, AssertionError)


def test_check_function_other_errors_propagate() -> None:
    def broken(x: torch.Tensor) -> torch.Tensor:
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        check_function(broken, _square, _cases())


def test_check_function_rejects_no_cases() -> None:
    with pytest.raises(ValueError, match="at least one case"):
        check_function(_square, _square, [])


def test_check_function_tolerances_are_used() -> None:
    def slightly_off(x: torch.Tensor) -> torch.Tensor:
        return x**2 + 1e-4

    with pytest.raises(AssertionError, match="different values"):
        check_function(slightly_off, _square, _cases(1))
    assert check_function(slightly_off, _square, _cases(1), atol=1e-3) == 1


def test_module_exports() -> None:
    assert set(exercises.__all__) == {"ExerciseNotDone", "check_function", "compare"}
    for name in exercises.__all__:
        assert hasattr(exercises, name)
