"""Input validation shared by the package: every public function explains a student's mistake in one line.

Messages follow one pattern: the argument's name, what was expected, what was given.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch


def describe(value: Any) -> str:
    """A short description of a value for error messages: type, shape and dtype where they exist."""
    if isinstance(value, torch.Tensor):
        return f"a {value.dtype} tensor of shape {tuple(value.shape)} on {value.device}"
    if isinstance(value, np.ndarray):
        return f"a {value.dtype} numpy array of shape {value.shape}"
    text = repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{type(value).__name__} {text}"


def as_float_tensor(
    value: Any,
    name: str,
    *,
    dtype: torch.dtype | None = torch.float64,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """Convert an array-like of real numbers to a floating tensor; raise TypeError naming ``name`` otherwise."""
    if isinstance(value, torch.Tensor):
        tensor = value
        if tensor.is_complex() or tensor.dtype == torch.bool:
            raise TypeError(f"{name} must hold real numbers, got {describe(value)}")
        if not tensor.is_floating_point():
            tensor = tensor.to(torch.get_default_dtype())
    else:
        try:
            array = np.asarray(value)
        except (TypeError, ValueError) as err:
            raise TypeError(f"{name} must be an array-like of numbers, got {describe(value)}") from err
        if array.dtype == object or not (
            np.issubdtype(array.dtype, np.floating) or np.issubdtype(array.dtype, np.integer)
        ):
            raise TypeError(f"{name} must be an array-like of real numbers, got {describe(value)}")
        tensor = torch.as_tensor(array.astype(np.float64))
    if dtype is not None or device is not None:
        tensor = tensor.to(dtype=dtype if dtype is not None else tensor.dtype, device=device)
    return tensor


def as_image_batch(images: Any, name: str = "images") -> torch.Tensor:
    """(N, 1, H, W) or (N, H, W) finite real numbers -> a float (N, H, W) tensor on the CPU (float64 stays float64,
    any other type becomes float32); a ValueError naming ``name`` for another shape or a NaN."""
    x = as_float_tensor(images, name, dtype=None, device="cpu")
    if x.dtype not in (torch.float32, torch.float64):
        x = x.to(torch.float32)
    if x.dim() == 4:
        if x.shape[1] != 1:
            raise ValueError(f"{name} must have one channel, shape (N, 1, H, W), got shape {tuple(x.shape)}")
        x = x[:, 0]
    elif x.dim() != 3:
        raise ValueError(f"{name} must be 4-D (N, 1, H, W) or 3-D (N, H, W), got shape {tuple(x.shape)}")
    return check_finite(x, name)


def check_images(images: Any, name: str = "images") -> torch.Tensor:
    """A floating (B, 1, H, W) tensor of pixel intensities; a ValueError naming ``name`` otherwise."""
    if not isinstance(images, torch.Tensor) or images.dim() != 4 or images.shape[1] != 1:
        raise ValueError(f"{name} must be a (B, 1, H, W) tensor, got {describe(images)}")
    if not images.is_floating_point():
        raise ValueError(f"{name} must be a floating tensor of pixel intensities, got {describe(images)}")
    return images


def check_finite(tensor: torch.Tensor, name: str) -> torch.Tensor:
    """Raise ValueError if ``tensor`` holds NaN or ±inf (never let a NaN slip through silently).

    A tensor on the ``meta`` device has a shape but no values: there is nothing to check, so it passes (and the
    caller's shape and device checks still run on it)."""
    if tensor.is_floating_point() and tensor.device.type != "meta" and not bool(torch.isfinite(tensor).all()):
        n_bad = int((~torch.isfinite(tensor)).sum())
        raise ValueError(
            f"{name} must be finite, got {n_bad} NaN/inf value(s) in a tensor of shape {tuple(tensor.shape)}"
        )
    return tensor


def check_same_device(tensor: torch.Tensor, name: str, reference: torch.Tensor, reference_name: str) -> torch.Tensor:
    """Raise ValueError unless ``tensor`` is on the device of ``reference`` (both tensors; a GPU/CPU mix-up)."""
    if tensor.device != reference.device:
        raise ValueError(
            f"{name} must be on the same device as {reference_name} ({reference.device}), got {tensor.device}; "
            f"move it with {name}.to({reference_name}.device)"
        )
    return tensor


def check_ndim(tensor: torch.Tensor, name: str, ndim: int, layout: str) -> torch.Tensor:
    """Raise ValueError unless ``tensor`` has ``ndim`` dimensions; ``layout`` names them, e.g. ``"(N, D)"``."""
    if tensor.dim() != ndim:
        raise ValueError(f"{name} must be {ndim}-D {layout}, got shape {tuple(tensor.shape)}")
    return tensor


def check_positive(value: float, name: str) -> float:
    """A finite real number > 0, as a Python float."""
    number = check_real(value, name)
    if not number > 0:
        raise ValueError(f"{name} must be > 0, got {number}")
    return number


def check_real(value: Any, name: str) -> float:
    """A finite real number (Python or numpy scalar, or a one-element tensor), as a Python float."""
    if isinstance(value, torch.Tensor):
        if value.numel() != 1:
            raise ValueError(f"{name} must be a single number, got {describe(value)}")
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a real number, got {describe(value)}")
    number = float(value)
    if not np.isfinite(number):
        raise ValueError(f"{name} must be finite, got {number}")
    return number


def check_int(value: Any, name: str, *, minimum: int | None = None) -> int:
    """An integer (not a bool), optionally ``>= minimum``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an int, got {describe(value)}")
    number = int(value)
    if minimum is not None and number < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {number}")
    return number


def check_instance(value: Any, name: str, cls: type | tuple[type, ...], what: str) -> Any:
    """``value`` itself when it is an instance of ``cls``; otherwise a TypeError: "``name`` must be ``what``, got ..."
    (``what`` as the user would write it, e.g. ``"a data.GaussianMixture"``)."""
    if not isinstance(value, cls):
        raise TypeError(f"{name} must be {what}, got {describe(value)}")
    return value


def check_reals(values: Any, name: str) -> tuple[float, ...]:
    """A non-empty sequence (list, tuple, 1-D array or tensor) of finite real numbers, as a tuple of floats."""
    if isinstance(values, (str, bytes)) or not hasattr(values, "__len__") or not hasattr(values, "__iter__"):
        raise TypeError(f"{name} must be a sequence of real numbers, got {describe(values)}")
    if len(values) == 0:
        raise ValueError(f"{name} must hold at least one number, got an empty {type(values).__name__}")
    return tuple(check_real(v, f"{name}[{i}]") for i, v in enumerate(values))


def check_choice(value: Any, name: str, choices: Sequence[str]) -> str:
    """One of a fixed set of strings."""
    if value not in choices:
        raise ValueError(f"{name} must be one of {tuple(choices)}, got {value!r}")
    return value


def check_generator(generator: Any, name: str = "generator") -> torch.Generator | None:
    """None or a ``torch.Generator``."""
    if generator is not None and not isinstance(generator, torch.Generator):
        raise TypeError(f"{name} must be a torch.Generator or None, got {describe(generator)}")
    return generator


def check_index_tensor(
    value: Any,
    name: str,
    *,
    what: str = "integer indices",
    layout: str = "",
    ndim: int | None = None,
    error: type[Exception] = TypeError,
) -> torch.Tensor:
    """A ``torch.Tensor`` of integers (not bool, float or complex), optionally with ``ndim`` dimensions.

    ``what`` says what the integers are ("class indices", "token ids"), ``layout`` names the dimensions, e.g.
    ``"(B, T)"``. A non-tensor or a wrong dtype raises ``error`` (TypeError by default); a wrong ``ndim`` raises
    ValueError. The one check behind every "integer tensor, not bool" in the package."""
    shape_text = f" {layout}" if layout else ""
    if not isinstance(value, torch.Tensor):
        raise error(f"{name} must be a torch.Tensor of {what}{shape_text}, got {describe(value)}")
    if value.is_floating_point() or value.is_complex() or value.dtype == torch.bool:
        raise error(f"{name} must hold {what}{shape_text} (an integer dtype such as torch.long), got {describe(value)}")
    if ndim is not None and value.dim() != ndim:
        raise ValueError(f"{name} must be {ndim}-D{shape_text}, got shape {tuple(value.shape)}")
    return value


def check_index_range(tensor: torch.Tensor, name: str, high: int, *, low: int = 0, what: str = "ids") -> torch.Tensor:
    """Raise ValueError unless every entry of the integer ``tensor`` lies in ``[low, high)`` (one host sync)."""
    if tensor.numel():
        lo, hi = int(tensor.min()), int(tensor.max())
        if lo < low or hi >= high:
            raise ValueError(f"{name} must be {what} in [{low}, {high - 1}], got values in [{lo}, {hi}]")
    return tensor


def check_class_labels(labels: Any, name: str, n: int) -> int:
    """(``n``,) integer class labels in [0, K), one per example; returns K = ``labels.max() + 1`` (1 when ``n`` is
    0). A non-tensor, a float or bool tensor, another shape or a negative label is a ValueError naming ``name``."""
    check_index_tensor(labels, name, what="integer class labels", layout=f"({n},)", ndim=1, error=ValueError)
    if labels.shape[0] != n:
        raise ValueError(f"{name} must be ({n},) integer class labels, one per image, got {describe(labels)}")
    n_classes = int(labels.max()) + 1 if n else 1
    check_index_range(labels, name, n_classes, what="class labels")
    return n_classes


REDUCTIONS = ("mean", "sum", "none")


def check_reduction(reduction: Any) -> str:
    """``"mean"``, ``"sum"`` or ``"none"``, as in ``torch.nn.functional``."""
    return check_choice(reduction, "reduction", REDUCTIONS)


def reduce(values: torch.Tensor, reduction: str, *, count: torch.Tensor | int | None = None) -> torch.Tensor:
    """Apply ``reduction`` to per-item losses: their mean (``sum / count`` when ``count`` is given, e.g. the number
    of kept tokens), their sum, or the values themselves (``"none"``)."""
    if reduction == "sum":
        return values.sum()
    if reduction == "mean":
        return values.mean() if count is None else values.sum() / count
    return values
