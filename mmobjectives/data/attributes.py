r"""What a digit image shows, in words: its class name and three attributes measured from its pixels.

The words that captions (``captions``), caption pairs (``paired``, notebooks 01, 02 and 05) and visual questions
(``questions``) talk about.

**Attributes measured from the pixels** (``measure_attributes``), for each image :math:`I` with pixel
coordinates :math:`x` = column (pointing right) and :math:`y` = row counted from the bottom (pointing up):

* ``ink`` = :math:`\sum I / (H W)`, the mean intensity: ink mass, a proxy for stroke thickness;
* ``height``, ``width``: the bounding box of the pixels brighter than ``threshold`` (0.3), in pixels;
* ``slant`` = :math:`\mu_{11} / \mu_{02}` with intensity-weighted central moments
  :math:`\mu_{pq} = \sum I\,(x-\bar x)^p (y-\bar y)^q`: how many pixels the stroke moves right per pixel up.
  **Positive: the top leans right** (``/``); negative: the top leans left (``\``); 0 for an upright stroke,
  a blank image, or an image with no vertical extent.

**Words** (``AttributeThresholds``) are relative to the digit's own class, so that "thick" does not just mean
"an eight":

* thickness ``thin``/``thick``: ``ink`` above the class median of the fitting set is thick;
* size ``small``/``large``: bounding-box area above the class median is large. Areas are whole numbers and
  tie often (on the 8×8 digits nearly every image is 8 pixels tall), so ties are broken by the radius of
  gyration :math:`\sqrt{(\mu_{20}+\mu_{02})/\sum I}`, which never reorders two different areas;
* slant ``left``/``upright``/``right``: class-independent cuts, by default the tertiles of ``slant`` over the
  fitting set (a third of that set in each word), or fixed values passed as ``slant_cuts``. The cuts are
  shared by all classes, so some classes lean one way by their shape (an 8×8 "six" is mostly ``left``,
  a "seven" mostly ``right``).

Fit the thresholds on the training split and reuse them on the test split (``paired_digits`` does)::

    thresholds = AttributeThresholds.fit(data.x_train, data.y_train)
    thresholds.indices(data.x_test, data.y_test)   # {'thickness': 0/1, 'size': 0/1, 'slant': 0/1/2}
    thresholds.words(data.x_test, data.y_test)     # [{'digit': 'seven', 'thickness': 'thick', ...}, ...]
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, ClassVar

import numpy as np
import torch

from .._checks import as_image_batch, check_index_range, check_index_tensor, check_real, describe

__all__ = [
    "ATTRIBUTE_VALUES",
    "DIGIT_NAMES",
    "AttributeThresholds",
    "describe_attributes",
    "measure_attributes",
]

DIGIT_NAMES: tuple[str, ...] = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
"""The name of each class, in label order: ``DIGIT_NAMES[7] == "seven"``."""

ATTRIBUTE_VALUES: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "thickness": ("thin", "thick"),
        "size": ("small", "large"),
        "slant": ("left", "upright", "right"),
    }
)
"""Attribute -> its values, in index order: ``attributes["slant"] == 2`` means ``"right"``."""

_PIXEL_THRESHOLD = 0.3  # a pixel brighter than this is ink for the bounding box (height, width)

# --------------------------------------------------------------------------------------------------
# Argument checks
# --------------------------------------------------------------------------------------------------


def _as_images(images: Any, name: str = "images") -> torch.Tensor:
    """(N, 1, H, W) or (N, H, W) non-negative finite intensities -> float (N, H, W) (``_checks.as_image_batch``)."""
    x = as_image_batch(images, name)
    if x.numel() and float(x.min()) < 0:
        raise ValueError(
            f"{name} must hold non-negative intensities (e.g. in [0, 1]), got a minimum of {float(x.min())}"
        )
    return x


def _as_labels(labels: Any, n: int | None, name: str = "labels", images_name: str = "images") -> torch.Tensor:
    """A 1-D int64 tensor of class labels in 0..9, ``n`` of them unless ``n`` is None."""
    if isinstance(labels, torch.Tensor):
        y = labels.detach().cpu()
    else:
        try:
            y = torch.as_tensor(np.asarray(labels))
        except (TypeError, ValueError, RuntimeError) as err:
            raise TypeError(f"{name} must be a 1-D array-like of ints in 0..9, got {describe(labels)}") from err
    check_index_tensor(y, name, what="digit classes 0..9", layout="(N,)", ndim=1)
    if n is not None and len(y) != n:
        raise ValueError(f"{name} must hold one label per image ({n} in {images_name}), got {len(y)} labels")
    return check_index_range(y, name, len(DIGIT_NAMES), what="digit classes").to(torch.int64)


# --------------------------------------------------------------------------------------------------
# Measuring
# --------------------------------------------------------------------------------------------------

_CHUNK = 4096
_MOMENT_EPS = 1e-9


def _extent(mask: torch.Tensor) -> torch.Tensor:
    """Length of the span from the first to the last True along dim 1 of a (N, L) mask; 0 when none."""
    length = mask.shape[1]
    idx = torch.arange(length)
    first = torch.where(mask, idx, length).amin(1)
    last = torch.where(mask, idx, -1).amax(1)
    return (last - first + 1).clamp(min=0).to(torch.float64)


def _measure(x: torch.Tensor, threshold: float) -> dict[str, torch.Tensor]:
    """Float64 measurements of (N, H, W) images, plus the size score used for the size split.

    Pixels are reduced to row and column marginals by matrix products in the images' own dtype, chunk by
    chunk (fast and light on memory for MNIST); the moments are then taken in float64.
    """
    n, h, w = x.shape
    ones_w, ones_h = torch.ones(w, dtype=x.dtype), torch.ones(h, dtype=x.dtype)
    cols = torch.arange(w, dtype=torch.float64)  # x: left to right
    ups = torch.arange(h - 1, -1, -1, dtype=torch.float64)  # y: row 0 is the top, so it has the largest y
    parts: dict[str, list[torch.Tensor]] = {k: [] for k in ("ink", "height", "width", "slant", "gyration")}
    for start in range(0, n, _CHUNK):
        img = x[start : start + _CHUNK]
        row_mass = (img @ ones_w).double()  # (n, H)
        col_mass = (ones_h @ img).double()  # (n, W)
        row_x = (img @ cols.to(x.dtype)).double()  # (n, H): sum over each row of I * x
        mass = row_mass.sum(1)
        safe = torch.where(mass > 0, mass, torch.ones_like(mass))
        x_bar = col_mass @ cols / safe
        y_bar = row_mass @ ups / safe
        mu20 = col_mass @ cols**2 / safe - x_bar**2  # all moments normalised by the mass
        mu02 = row_mass @ ups**2 / safe - y_bar**2
        mu11 = row_x @ ups / safe - x_bar * y_bar
        upright = mu02 <= _MOMENT_EPS
        slant = torch.where(upright, torch.zeros_like(mu11), mu11 / torch.where(upright, 1.0, mu02))
        parts["ink"].append(mass / (h * w))
        parts["height"].append(_extent(img.amax(2) > threshold))
        parts["width"].append(_extent(img.amax(1) > threshold))
        parts["slant"].append(slant)
        parts["gyration"].append(torch.sqrt((mu20 + mu02).clamp(min=0)))
    out = {k: torch.cat(v) if v else torch.zeros(0, dtype=torch.float64) for k, v in parts.items()}
    # Bounding-box area, ties broken by the radius of gyration: gyration < (H + W) / 2, so the added term is
    # < 1/2 and never reorders two different (whole-number) areas.
    out["size_score"] = out["height"] * out["width"] + out.pop("gyration") / (h + w)
    return out


def _check_threshold(threshold: Any) -> float:
    value = check_real(threshold, "threshold")
    if value < 0:
        raise ValueError(f"threshold must be >= 0 (a pixel intensity), got {value}")
    return value


def _check_slant_cuts(slant_cuts: Any) -> tuple[float, float] | None:
    if slant_cuts is None:
        return None
    if isinstance(slant_cuts, (str, bytes)) or not isinstance(slant_cuts, Sequence) or len(slant_cuts) != 2:
        raise ValueError(f"slant_cuts must be a pair (lo, hi) or None, got {describe(slant_cuts)}")
    lo, hi = check_real(slant_cuts[0], "slant_cuts[0]"), check_real(slant_cuts[1], "slant_cuts[1]")
    if lo > hi:
        raise ValueError(f"slant_cuts must be (lo, hi) with lo <= hi, got {(lo, hi)}")
    return lo, hi


def measure_attributes(images: Any, *, threshold: float = _PIXEL_THRESHOLD) -> dict[str, torch.Tensor]:
    r"""Per-image ``ink``, ``height``, ``width`` and ``slant``, measured from the pixels (float32, shape (N,)).

    ``images`` are non-negative intensities shaped (N, 1, H, W) or (N, H, W). ``ink`` is the total intensity
    divided by H·W; ``height``/``width`` span the pixels brighter than ``threshold`` (0 for a blank image);
    ``slant`` is :math:`\mu_{11}/\mu_{02}` with x = column and y = row pointing **up**, so a positive slant
    means the top of the stroke leans right. A blank image, or one with no vertical spread, has slant 0.
    """
    x = _as_images(images)
    m = _measure(x, _check_threshold(threshold))
    return {k: m[k].to(torch.float32) for k in ("ink", "height", "width", "slant")}


# --------------------------------------------------------------------------------------------------
# Thresholds: fit on the training split, reuse on the test split
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AttributeThresholds:
    """Where each attribute word starts; fit with ``AttributeThresholds.fit(images, labels)``.

    ``ink_median[c]`` and ``size_median[c]`` are the medians of class ``c`` in the fitting set (NaN when
    it held no image of ``c``); ``slant_cuts = (lo, hi)``: slant < lo is ``left``, > hi is ``right``, else
    ``upright``. ``image_shape`` is the (H, W) the thresholds were fit on (areas only compare at one size);
    ``pixel_threshold`` is the bounding-box intensity threshold.
    """

    ink_median: tuple[float, ...]
    size_median: tuple[float, ...]
    slant_cuts: tuple[float, float]
    image_shape: tuple[int, int]
    pixel_threshold: float = _PIXEL_THRESHOLD

    n_classes: ClassVar[int] = 10

    def __post_init__(self) -> None:
        for name in ("ink_median", "size_median"):
            value = getattr(self, name)
            if len(value) != self.n_classes:
                raise ValueError(f"{name} must hold {self.n_classes} per-class values, got {len(value)}")
        lo, hi = self.slant_cuts
        if not lo <= hi:
            raise ValueError(f"slant_cuts must be (lo, hi) with lo <= hi, got {self.slant_cuts}")

    @classmethod
    def fit(
        cls,
        images: Any,
        labels: Any,
        *,
        slant_cuts: tuple[float, float] | None = None,
        pixel_threshold: float = _PIXEL_THRESHOLD,
    ) -> AttributeThresholds:
        """Per-class medians of ink and size, and the slant tertiles (or the given ``slant_cuts``)."""
        x = _as_images(images)
        y = _as_labels(labels, len(x))
        threshold = _check_threshold(pixel_threshold)
        cuts = _check_slant_cuts(slant_cuts)
        return cls._fit_measured(_measure(x, threshold), y, (int(x.shape[1]), int(x.shape[2])), threshold, cuts)

    @classmethod
    def _fit_measured(
        cls,
        m: dict[str, torch.Tensor],
        y: torch.Tensor,
        image_shape: tuple[int, int],
        threshold: float,
        slant_cuts: tuple[float, float] | None,
    ) -> AttributeThresholds:
        if len(y) == 0:
            raise ValueError("images must hold at least one image to fit thresholds on, got 0")
        ink, size = [], []
        for c in range(cls.n_classes):
            chosen = y == c
            ink.append(float(torch.quantile(m["ink"][chosen], 0.5)) if chosen.any() else math.nan)
            size.append(float(torch.quantile(m["size_score"][chosen], 0.5)) if chosen.any() else math.nan)
        if slant_cuts is None:
            lo, hi = torch.quantile(m["slant"], torch.tensor([1 / 3, 2 / 3], dtype=torch.float64)).tolist()
            slant_cuts = (float(lo), float(hi))
        return cls(
            ink_median=tuple(ink),
            size_median=tuple(size),
            slant_cuts=slant_cuts,
            image_shape=image_shape,
            pixel_threshold=threshold,
        )

    def indices(self, images: Any, labels: Any) -> dict[str, torch.Tensor]:
        """Word indices per image: ``thickness`` 0 thin / 1 thick, ``size`` 0 small / 1 large, ``slant``
        0 left / 1 upright / 2 right (int64, shape (N,); the order of ``ATTRIBUTE_VALUES``)."""
        x = _as_images(images)
        y = _as_labels(labels, len(x))
        if tuple(x.shape[1:]) != self.image_shape:
            h, w = self.image_shape
            raise ValueError(
                f"images must be {h}×{w} like the images these thresholds were fit on, "
                f"got {x.shape[1]}×{x.shape[2]}; fit new thresholds on images of this size"
            )
        return self._indices_measured(_measure(x, self.pixel_threshold), y)

    def _indices_measured(self, m: dict[str, torch.Tensor], y: torch.Tensor) -> dict[str, torch.Tensor]:
        ink_median = torch.tensor(self.ink_median, dtype=torch.float64)
        size_median = torch.tensor(self.size_median, dtype=torch.float64)
        unseen = sorted({int(c) for c in y[torch.isnan(ink_median[y])]})
        if unseen:
            raise ValueError(
                f"labels holds class(es) {unseen}, but the set these thresholds were fit on had no image of them"
            )
        lo, hi = self.slant_cuts
        slant = torch.ones(len(y), dtype=torch.int64)
        slant[m["slant"] < lo] = 0
        slant[m["slant"] > hi] = 2
        return {
            "thickness": (m["ink"] > ink_median[y]).to(torch.int64),
            "size": (m["size_score"] > size_median[y]).to(torch.int64),
            "slant": slant,
        }

    def words(self, images: Any, labels: Any) -> list[dict[str, str]]:
        """Per image ``{"digit": "seven", "thickness": "thick", "size": "small", "slant": "right"}``."""
        idx = self.indices(images, labels)
        y = _as_labels(labels, len(idx["slant"]))
        names = {a: ATTRIBUTE_VALUES[a] for a in ATTRIBUTE_VALUES}
        columns = {a: idx[a].tolist() for a in names}
        return [
            {"digit": DIGIT_NAMES[d], **{a: names[a][columns[a][i]] for a in names}} for i, d in enumerate(y.tolist())
        ]


def describe_attributes(
    images: Any, labels: Any, thresholds: AttributeThresholds | None = None
) -> list[dict[str, str]]:
    """Attribute words per image, relative to each digit's class; fits ``thresholds`` on these images if None.

    Pass thresholds fit on the training split to describe a test split: ``describe_attributes(x_test, y_test,
    AttributeThresholds.fit(x_train, y_train))``.
    """
    if thresholds is None:
        thresholds = AttributeThresholds.fit(images, labels)
    elif not isinstance(thresholds, AttributeThresholds):
        raise TypeError(f"thresholds must be an AttributeThresholds or None, got {describe(thresholds)}")
    return thresholds.words(images, labels)
