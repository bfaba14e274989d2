"""Tests for the shared validation layer (mmobjectives._checks): reductions and integer index tensors, and that the
losses use it instead of private copies (issue 16)."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pytest
import torch

from mmobjectives._checks import (
    REDUCTIONS,
    check_class_labels,
    check_images,
    check_index_range,
    check_index_tensor,
    check_instance,
    check_reals,
    check_reduction,
    reduce,
)

LOSSES = Path(__file__).resolve().parents[2] / "mmobjectives" / "losses"


# -- check_reduction / reduce ----------------------------------------------------------------------------------
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_check_reduction_returns_the_valid_names(reduction: str) -> None:
    assert check_reduction(reduction) == reduction


@pytest.mark.parametrize("bad", ["avg", "Mean", "", None, 0])
def test_check_reduction_names_the_argument_and_the_choices(bad: object) -> None:
    with pytest.raises(ValueError, match="reduction") as info:
        check_reduction(bad)
    message = str(info.value)
    assert all(name in message for name in REDUCTIONS) and repr(bad) in message


def test_reduce_matches_torch() -> None:
    values = torch.tensor([1.0, 2.0, 4.0, 8.0], requires_grad=True)
    assert reduce(values, "mean").item() == pytest.approx(3.75)
    assert reduce(values, "sum").item() == pytest.approx(15.0)
    assert reduce(values, "none") is values


def test_reduce_mean_over_a_count_divides_the_sum() -> None:
    values = torch.tensor([[1.0, 0.0], [3.0, 0.0]])  # zeros at two ignored positions
    assert reduce(values, "mean", count=2).item() == pytest.approx(2.0)
    assert reduce(values, "mean", count=torch.tensor(2)).item() == pytest.approx(2.0)
    assert reduce(values, "sum", count=2).item() == pytest.approx(4.0)  # count only changes the mean
    assert reduce(values, "none", count=2) is values


def test_reduce_keeps_the_graph() -> None:
    values = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
    reduce(values, "mean", count=torch.tensor(3)).backward()
    torch.testing.assert_close(values.grad, torch.full((3,), 1 / 3))


# -- check_index_tensor ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [torch.int64, torch.int32, torch.int16, torch.uint8])
def test_check_index_tensor_accepts_integer_dtypes(dtype: torch.dtype) -> None:
    ids = torch.zeros(2, 3, dtype=dtype)
    assert check_index_tensor(ids, "tokens", ndim=2) is ids


@pytest.mark.parametrize(
    ("value", "given"),
    [
        (torch.zeros(3), "float32"),
        (torch.zeros(3, dtype=torch.bool), "bool"),
        (torch.zeros(3, dtype=torch.complex64), "complex64"),
        ([0, 1, 2], "list"),
        (np.zeros(3, dtype=np.int64), "numpy"),
    ],
)
def test_check_index_tensor_rejects_what_is_not_an_integer_tensor(value: object, given: str) -> None:
    with pytest.raises(TypeError, match="labels") as info:
        check_index_tensor(value, "labels", what="class indices", layout="(N,)")
    message = str(info.value)
    assert "class indices" in message and "(N,)" in message and given in message


def test_check_index_tensor_error_type_is_configurable() -> None:
    with pytest.raises(ValueError, match="codes"):
        check_index_tensor(torch.zeros(3), "codes", error=ValueError)


def test_check_index_tensor_checks_the_number_of_dimensions() -> None:
    with pytest.raises(ValueError, match=r"tokens must be 2-D \(B, T\), got shape \(3,\)"):
        check_index_tensor(torch.zeros(3, dtype=torch.long), "tokens", layout="(B, T)", ndim=2)


# -- check_index_range -----------------------------------------------------------------------------------------
def test_check_index_range_accepts_the_half_open_interval() -> None:
    ids = torch.tensor([[0, 4], [2, 3]])
    assert check_index_range(ids, "ids", 5) is ids
    assert check_index_range(torch.tensor([2, 4]), "ids", 5, low=2) is not None
    check_index_range(torch.zeros(0, dtype=torch.long), "ids", 1)  # empty: nothing to check


@pytest.mark.parametrize(
    ("values", "low", "shown"), [([0, 5], 0, "[0, 5]"), ([-1, 2], 0, "[-1, 2]"), ([1, 3], 2, "[1, 3]")]
)
def test_check_index_range_names_the_range_and_the_values_given(values: list[int], low: int, shown: str) -> None:
    with pytest.raises(ValueError) as info:
        check_index_range(torch.tensor(values), "codes", 5, low=low, what="codebook entries")
    assert str(info.value) == f"codes must be codebook entries in [{low}, 4], got values in {shown}"


# -- the losses use this layer ---------------------------------------------------------------------------------
def test_check_class_labels_returns_the_number_of_classes() -> None:
    assert check_class_labels(torch.tensor([0, 3, 1]), "y", 3) == 4
    assert check_class_labels(torch.tensor([2, 2], dtype=torch.int32), "y", 2) == 3
    assert check_class_labels(torch.zeros(0, dtype=torch.long), "y", 0) == 1


@pytest.mark.parametrize(
    ("labels", "n", "shown"),
    [
        ([0, 1], 2, "got list"),
        (torch.tensor([0.0, 1.0]), 2, "float32"),
        (torch.tensor([True, False]), 2, "bool"),
        (torch.zeros(2, 1, dtype=torch.long), 2, "1-D"),
        (torch.tensor([0, 1, 2]), 2, "one per image"),
        (torch.tensor([0, -3]), 2, r"\[-3, 0\]"),
    ],
)
def test_check_class_labels_names_the_argument(labels: object, n: int, shown: str) -> None:
    with pytest.raises(ValueError, match=rf"^y_train must .*{shown}"):
        check_class_labels(labels, "y_train", n)


def test_check_images_accepts_floating_one_channel_batches_only() -> None:
    x = torch.rand(2, 1, 5, 5)
    assert check_images(x) is x
    for bad, shown in ((torch.rand(2, 5, 5), "shape"), (torch.rand(2, 3, 5, 5), "shape"), ("img", "str")):
        with pytest.raises(ValueError, match=rf"^pixels must be a \(B, 1, H, W\) tensor, got .*{shown}"):
            check_images(bad, "pixels")
    with pytest.raises(ValueError, match="pixels must be a floating tensor"):
        check_images(torch.zeros(2, 1, 5, 5, dtype=torch.uint8), "pixels")


def test_check_instance_returns_the_value_or_names_what_was_expected() -> None:
    value = torch.zeros(1)
    assert check_instance(value, "x", torch.Tensor, "a tensor") is value
    assert check_instance(3, "x", (int, float), "a number") == 3
    with pytest.raises(TypeError, match=r"^mixture must be a data.GaussianMixture, got str 'ring'$"):
        check_instance("ring", "mixture", torch.Tensor, "a data.GaussianMixture")


def test_check_reals_accepts_sequences_of_finite_numbers() -> None:
    assert check_reals([1, 2.5], "mis") == (1.0, 2.5)
    assert check_reals(np.array([0.5]), "mis") == (0.5,)
    assert check_reals(torch.tensor([3.0, 4.0]), "mis") == (3.0, 4.0)


@pytest.mark.parametrize(
    ("values", "error", "match"),
    [
        ("2, 4", TypeError, r"mis must be a sequence of real numbers, got str '2, 4'"),
        (2.0, TypeError, r"mis must be a sequence of real numbers, got float 2.0"),
        ([], ValueError, r"mis must hold at least one number, got an empty list"),
        ([1.0, float("inf")], ValueError, r"mis\[1\] must be finite, got inf"),
        ([1.0, "two"], TypeError, r"mis\[1\] must be a real number, got str 'two'"),
    ],
)
def test_check_reals_names_the_bad_entry(values: object, error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        check_reals(values, "mis")


def test_no_loss_file_reaches_into_another_loss_files_private_names() -> None:
    """Shared loss helpers live in ``losses/_common.py``; a loss file imports public names of a sibling, never its
    underscore names, and defines no reduction of its own."""
    for path in sorted(LOSSES.glob("*.py")):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.level == 1 and node.module not in (None, "_common"):
                private = [alias.name for alias in node.names if alias.name.startswith("_")]
                assert not private, f"{path.name} imports {private} from .{node.module}"
            if isinstance(node, ast.FunctionDef | ast.Assign):
                names = [node.name] if isinstance(node, ast.FunctionDef) else [ast.unparse(t) for t in node.targets]
                assert not {"_reduce", "_REDUCTIONS"} & set(names), f"{path.name} defines its own {names}"
