r"""Digit images with captions that say more than the label: "a small bold seven leaning right".

Used by notebook 01 (CLIP: image–caption pairs, and ``class_caption`` prompts for zero-shot classification and
the false-negative experiment), notebook 02 (captioner and VQA: ``parse_caption`` scores a generated caption)
and notebook 05 (multimodal autoregression: ``tokens_*`` are ready-made ``<bos> ... <eos>`` sequences).

One call gives everything::

    from mmobjectives.data.captions import paired_digits
    pairs = paired_digits(seed=0)           # MNIST if cached, else scikit-learn's 8×8 digits
    pairs.captions_train[0]                 # 'a small thick seven slanted right'
    pairs.tokens_train.shape                # (N, T), T the same for every dataset and seed

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

**The grammar**: digit names ``zero``..``nine`` (or, one time in five when sampled, the numeral ``7``),
synonyms for each attribute word (``SYNONYMS``) and eight ``TEMPLATES``, six naming all three attributes and
two naming only two. Captions are lower-case words with the comma as a word, separated by single spaces, so
``Tokenizer.decode(Tokenizer.encode(captions))`` gives them back unchanged. The vocabulary is fixed by the
grammar, hence identical for every dataset and seed.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, ClassVar

import numpy as np
import torch

from .._checks import as_image_batch, check_generator, check_int, check_real, describe
from .images import ImageDataset, load_image_dataset

__all__ = [
    "ATTRIBUTE_VALUES",
    "DIGIT_NAMES",
    "FULL_TEMPLATES",
    "MAX_CAPTION_TOKENS",
    "NUMERALS",
    "NUMERAL_PROBABILITY",
    "SPECIAL_TOKENS",
    "SYNONYMS",
    "TEMPLATES",
    "VOCABULARY",
    "AttributeThresholds",
    "PairedDigits",
    "Tokenizer",
    "caption_for",
    "class_caption",
    "describe_attributes",
    "measure_attributes",
    "paired_digits",
    "parse_caption",
    "sample_captions",
]

# --------------------------------------------------------------------------------------------------
# The grammar
# --------------------------------------------------------------------------------------------------

DIGIT_NAMES: tuple[str, ...] = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
NUMERALS: tuple[str, ...] = tuple(str(d) for d in range(10))
NUMERAL_PROBABILITY = 0.2
"""How often a sampled caption writes the digit as a numeral ("a big bold 7") instead of its name."""

ATTRIBUTE_VALUES: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "thickness": ("thin", "thick"),
        "size": ("small", "large"),
        "slant": ("left", "upright", "right"),
    }
)
"""Attribute -> its values, in index order: ``attributes["slant"] == 2`` means ``"right"``."""

SYNONYMS: Mapping[str, Mapping[str, tuple[str, ...]]] = MappingProxyType(
    {
        "thickness": MappingProxyType({"thin": ("thin", "light", "fine"), "thick": ("thick", "bold", "heavy")}),
        "size": MappingProxyType({"small": ("small", "little", "tiny"), "large": ("large", "big")}),
        "slant": MappingProxyType(
            {
                "left": ("slanted left", "leaning left"),
                "upright": ("upright", "straight"),
                "right": ("slanted right", "leaning right"),
            }
        ),
    }
)
"""Attribute -> value -> the phrases that may express it; the first phrase is the canonical one."""

TEMPLATES: tuple[str, ...] = (
    "a {size} {thickness} {digit} {slant}",
    "the digit {digit} , written {thickness} and {size} , {slant}",
    "a {size} handwritten {digit} {slant} , {thickness}",
    "{digit} , {thickness} , {size} , {slant}",
    "a {digit} written in {thickness} strokes , {size} and {slant}",
    "a {size} {thickness} {digit}",
    "a {thickness} {digit} {slant}",
    "a {size} {digit} , drawn {thickness} and {slant}",
)
"""Caption templates; ``{digit}``, ``{thickness}``, ``{size}``, ``{slant}`` are the slots. "a" becomes "an"
before "eight" or "8"."""

_SLOT_RE = re.compile(r"\{(digit|thickness|size|slant)\}")
_TEMPLATE_SLOTS: tuple[frozenset[str], ...] = tuple(frozenset(_SLOT_RE.findall(t)) - {"digit"} for t in TEMPLATES)
FULL_TEMPLATES: tuple[int, ...] = tuple(i for i, s in enumerate(_TEMPLATE_SLOTS) if s == set(ATTRIBUTE_VALUES))
"""Indices of the templates that name all three attributes."""

_CLASS_TEMPLATE = "the digit {digit}"
_DEFAULT_TEMPLATE = "a {size} {thickness} {digit} {slant}"  # slots left empty are dropped
_AN_WORDS = frozenset({"eight", "8"})
_TOKEN_RE = re.compile(r"[a-z0-9]+|[^\sa-z0-9]")

SPECIAL_TOKENS: tuple[str, ...] = ("<pad>", "<bos>", "<eos>", "<unk>")


def _split(text: str) -> list[str]:
    """Lower-case and cut into words: runs of letters/digits, and each punctuation mark (the comma) alone."""
    return _TOKEN_RE.findall(text.lower())


def _grammar_words() -> tuple[str, ...]:
    words: set[str] = set(DIGIT_NAMES) | set(NUMERALS) | {"an"}
    for template in (*TEMPLATES, _CLASS_TEMPLATE):
        words.update(_split(_SLOT_RE.sub(" ", template)))
    for by_value in SYNONYMS.values():
        for phrases in by_value.values():
            for phrase in phrases:
                words.update(_split(phrase))
    return tuple(sorted(words))


VOCABULARY: tuple[str, ...] = _grammar_words()
"""Every word the grammar can produce, sorted: the tokenizer's ids 4, 5, ... in this order."""

# word -> (attribute, value) for parsing; "left"/"right" decide the slant whatever verb precedes them.
_WORD_MEANING: dict[str, tuple[str, Any]] = {}
for _d in range(10):
    _WORD_MEANING[DIGIT_NAMES[_d]] = ("digit", _d)
    _WORD_MEANING[NUMERALS[_d]] = ("digit", _d)
for _attr in ("thickness", "size"):
    for _value, _phrases in SYNONYMS[_attr].items():
        for _phrase in _phrases:
            _WORD_MEANING[_phrase] = (_attr, _value)
_WORD_MEANING.update(
    {
        "left": ("slant", "left"),
        "right": ("slant", "right"),
        "upright": ("slant", "upright"),
        "straight": ("slant", "upright"),
    }
)


def _longest_caption_words() -> int:
    longest_phrase = {a: max(len(_split(p)) for ps in SYNONYMS[a].values() for p in ps) for a in SYNONYMS}
    lengths = [len(_split(_CLASS_TEMPLATE.format(digit="x")))]
    for template in TEMPLATES:
        filled = template.format(digit="x", **{a: " ".join(["x"] * n) for a, n in longest_phrase.items()})
        lengths.append(len(_split(filled)))
    return max(lengths)


MAX_CAPTION_TOKENS: int = _longest_caption_words() + 2
"""The longest caption the grammar can make, in tokens including ``<bos>`` and ``<eos>``: the width of
``PairedDigits.tokens_*`` for every dataset and seed."""


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
    if y.dtype == torch.bool or y.is_floating_point() or y.is_complex():
        raise TypeError(f"{name} must hold ints in 0..9, got {describe(labels)}")
    if y.dim() != 1:
        raise ValueError(f"{name} must be 1-D (N,), got shape {tuple(y.shape)}")
    if n is not None and len(y) != n:
        raise ValueError(f"{name} must hold one label per image ({n} in {images_name}), got {len(y)} labels")
    y = y.to(torch.int64)
    if len(y) and (int(y.min()) < 0 or int(y.max()) > 9):
        raise ValueError(f"{name} must be in 0..9, got values from {int(y.min())} to {int(y.max())}")
    return y


def _check_digit(digit: Any, name: str = "digit") -> int:
    if isinstance(digit, torch.Tensor) and digit.numel() == 1 and not digit.is_floating_point():
        digit = int(digit.item())
    d = check_int(digit, name, minimum=0)
    if d > 9:
        raise ValueError(f"{name} must be in 0..9, got {d}")
    return d


def _check_templates(templates: Any) -> tuple[int, ...]:
    if templates is None:
        return tuple(range(len(TEMPLATES)))
    if isinstance(templates, (str, bytes)) or not isinstance(templates, Iterable):
        raise TypeError(f"templates must be a sequence of template indices or None, got {describe(templates)}")
    chosen = tuple(templates)
    if not chosen:
        raise ValueError("templates must name at least one template index, got an empty sequence")
    for t in chosen:
        if isinstance(t, bool) or not isinstance(t, (int, np.integer)) or not 0 <= int(t) < len(TEMPLATES):
            raise ValueError(f"templates must hold indices in 0..{len(TEMPLATES) - 1}, got {t!r}")
    return tuple(int(t) for t in chosen)


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


def measure_attributes(images: Any, *, threshold: float = 0.3) -> dict[str, torch.Tensor]:
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
    pixel_threshold: float = 0.3

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
        pixel_threshold: float = 0.3,
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


# --------------------------------------------------------------------------------------------------
# Captions
# --------------------------------------------------------------------------------------------------


def _fix_articles(caption: str) -> str:
    words = caption.split()
    for i in range(len(words) - 1):
        if words[i] == "a" and words[i + 1] in _AN_WORDS:
            words[i] = "an"
    return " ".join(words)


def _phrase(attribute: str, value: Any) -> str | None:
    """The phrase for a canonical value (its first synonym) or a synonym itself; None stays None."""
    if value is None:
        return None
    by_value = SYNONYMS[attribute]
    if isinstance(value, str):
        text = " ".join(_split(value))
        if text in by_value:
            return by_value[text][0]
        if any(text in phrases for phrases in by_value.values()):
            return text
    allowed = [p for phrases in by_value.values() for p in phrases]
    raise ValueError(f"{attribute} must be None, one of {tuple(by_value)} or a synonym in {allowed}, got {value!r}")


def class_caption(digit: int) -> str:
    """The caption of a whole class, e.g. ``"the digit seven"`` (zero-shot prompts, false-negative experiment)."""
    return _CLASS_TEMPLATE.format(digit=DIGIT_NAMES[_check_digit(digit)])


def caption_for(
    digit: int,
    thickness: str | None = None,
    size: str | None = None,
    slant: str | None = None,
    *,
    template: int | None = None,
    numeral: bool = False,
) -> str:
    """Build one specific caption.

    Attribute values are canonical (``"thick"``, ``"small"``, ``"right"``: rendered with their first synonym)
    or a synonym used as written (``"bold"``, ``"big"``, ``"leaning right"``). ``template=None`` gives
    ``class_caption(digit)`` when no attribute is set, else ``"a {size} {thickness} {digit} {slant}"`` with
    the unset slots dropped (``caption_for(8, slant="left")`` is ``"an eight slanted left"``). An index into
    ``TEMPLATES`` uses that template, which needs exactly its slots. ``numeral=True`` writes ``"7"``::

        caption_for(7, "bold", "big", template=5, numeral=True)   # 'a big bold 7'
    """
    d = _check_digit(digit)
    if not isinstance(numeral, (bool, np.bool_)):
        raise TypeError(f"numeral must be True or False, got {describe(numeral)}")
    phrases = {"thickness": _phrase("thickness", thickness), "size": _phrase("size", size)}
    phrases["slant"] = _phrase("slant", slant)
    digit_word = NUMERALS[d] if numeral else DIGIT_NAMES[d]
    given = {a for a, p in phrases.items() if p is not None}
    if template is None:
        if not given:
            return _CLASS_TEMPLATE.format(digit=digit_word)
        text = _DEFAULT_TEMPLATE.format(digit=digit_word, **{a: p or "" for a, p in phrases.items()})
        return _fix_articles(text)
    if isinstance(template, bool) or not isinstance(template, (int, np.integer)):
        raise TypeError(f"template must be an int index into TEMPLATES or None, got {describe(template)}")
    if not 0 <= int(template) < len(TEMPLATES):
        raise ValueError(f"template must be in 0..{len(TEMPLATES) - 1}, got {template}")
    slots = _TEMPLATE_SLOTS[int(template)]
    missing, extra = sorted(slots - given), sorted(given - slots)
    if missing:
        raise ValueError(f"template {template} ({TEMPLATES[template]!r}) needs {', '.join(missing)}; got None")
    if extra:
        raise ValueError(f"template {template} ({TEMPLATES[template]!r}) has no slot for {', '.join(extra)}")
    return _fix_articles(TEMPLATES[template].format(digit=digit_word, **phrases))


def _as_attribute_indices(attributes: Any, n: int) -> dict[str, torch.Tensor]:
    if not isinstance(attributes, Mapping):
        raise TypeError(f"attributes must be a dict of index tensors, got {describe(attributes)}")
    out = {}
    for a, values in ATTRIBUTE_VALUES.items():
        if a not in attributes:
            raise ValueError(f"attributes must have the keys {tuple(ATTRIBUTE_VALUES)}, missing {a!r}")
        idx = torch.as_tensor(attributes[a]).detach().cpu()
        if idx.is_floating_point() or idx.dtype == torch.bool or idx.dim() != 1 or len(idx) != n:
            raise ValueError(f"attributes[{a!r}] must be a 1-D int tensor of length {n}, got {describe(idx)}")
        if len(idx) and (int(idx.min()) < 0 or int(idx.max()) >= len(values)):
            raise ValueError(
                f"attributes[{a!r}] must be in 0..{len(values) - 1} ({values}), got {idx.unique().tolist()}"
            )
        out[a] = idx.to(torch.int64)
    return out


def _sample(
    labels: torch.Tensor,
    attributes: dict[str, torch.Tensor],
    generator: torch.Generator | None,
    templates: tuple[int, ...],
) -> tuple[list[str], torch.Tensor]:
    """Captions and the template index of each; all randomness in one (N, 5) draw."""
    n = len(labels)
    u = torch.rand(n, 5, generator=generator, dtype=torch.float64)
    pick = (u[:, 0] * len(templates)).long().clamp(max=len(templates) - 1)
    template_ids = torch.tensor(templates, dtype=torch.int64)[pick] if n else torch.zeros(0, dtype=torch.int64)
    use_numeral = (u[:, 1] < NUMERAL_PROBABILITY).tolist()
    columns = {a: attributes[a].tolist() for a in ATTRIBUTE_VALUES}
    u_rows = u[:, 2:].tolist()
    captions = []
    for i, (d, t) in enumerate(zip(labels.tolist(), template_ids.tolist())):
        fill = {"digit": NUMERALS[d] if use_numeral[i] else DIGIT_NAMES[d]}
        for j, a in enumerate(ATTRIBUTE_VALUES):
            options = SYNONYMS[a][ATTRIBUTE_VALUES[a][columns[a][i]]]
            fill[a] = options[min(int(u_rows[i][j] * len(options)), len(options) - 1)]
        captions.append(_fix_articles(TEMPLATES[t].format(**fill)))
    return captions, template_ids


def sample_captions(
    labels: Any,
    attributes: Mapping[str, Any],
    *,
    generator: torch.Generator | None = None,
    templates: Sequence[int] | None = None,
) -> list[str]:
    """One random caption per image: a random template from ``templates`` (default all), random synonyms.

    ``attributes`` are word indices as from ``AttributeThresholds.indices``. Deterministic for a seeded
    ``generator``. Partial templates (5 and 6) leave one attribute out; ``templates=FULL_TEMPLATES`` never does.
    """
    check_generator(generator)
    y = _as_labels(labels, None)
    return _sample(y, _as_attribute_indices(attributes, len(y)), generator, _check_templates(templates))[0]


def parse_caption(caption: str) -> dict[str, Any]:
    """Read a caption back: ``{"digit": 7, "thickness": "thick", "size": None, "slant": "right"}``.

    Each entry is the value the caption names, or None when it names none or contradicts itself
    ("a thick thin seven"). Use it to score a generated caption against an image's attributes.
    """
    if not isinstance(caption, str):
        raise TypeError(f"caption must be a str, got {describe(caption)}")
    found: dict[str, set[Any]] = {"digit": set(), **{a: set() for a in ATTRIBUTE_VALUES}}
    for word in _split(caption):
        if word in _WORD_MEANING:
            attribute, value = _WORD_MEANING[word]
            found[attribute].add(value)
    return {a: next(iter(v)) if len(v) == 1 else None for a, v in found.items()}


# --------------------------------------------------------------------------------------------------
# Tokenizer
# --------------------------------------------------------------------------------------------------


class Tokenizer:
    """Word-level tokenizer with a fixed vocabulary: ``<pad>``=0, ``<bos>``=1, ``<eos>``=2, ``<unk>``=3, then
    the grammar's words (``VOCABULARY``) plus any ``extra_words``, sorted.

    Text is lower-cased and split into words and punctuation marks (the comma is a word); unknown words
    become ``<unk>``. ``Tokenizer()`` is the same for every dataset and seed.
    """

    pad_id: ClassVar[int] = 0
    bos_id: ClassVar[int] = 1
    eos_id: ClassVar[int] = 2
    unk_id: ClassVar[int] = 3

    def __init__(self, extra_words: Iterable[str] = ()) -> None:
        if isinstance(extra_words, str) or not isinstance(extra_words, Iterable):
            raise TypeError(f"extra_words must be an iterable of words, got {describe(extra_words)}")
        extra = set()
        for word in extra_words:
            if not isinstance(word, str) or _split(word) != [word]:
                raise ValueError(f"extra_words must hold single lower-case words or punctuation marks, got {word!r}")
            extra.add(word)
        self._id_to_token: tuple[str, ...] = SPECIAL_TOKENS + tuple(sorted(set(VOCABULARY) | extra))
        self._token_to_id = MappingProxyType({t: i for i, t in enumerate(self._id_to_token)})

    @property
    def vocab_size(self) -> int:
        return len(self._id_to_token)

    def __len__(self) -> int:
        return self.vocab_size

    @property
    def token_to_id(self) -> Mapping[str, int]:
        """Read-only word -> id mapping."""
        return self._token_to_id

    @property
    def id_to_token(self) -> tuple[str, ...]:
        """id -> word, as a tuple indexed by id."""
        return self._id_to_token

    @staticmethod
    def split(text: str) -> list[str]:
        """Lower-case words and punctuation marks: ``"The digit 7, bold"`` -> ``['the', 'digit', '7', ',', 'bold']``."""
        if not isinstance(text, str):
            raise TypeError(f"text must be a str, got {describe(text)}")
        return _split(text)

    @staticmethod
    def normalize(text: str) -> str:
        """The caption as ``decode`` gives it back: its words joined by single spaces."""
        return " ".join(Tokenizer.split(text))

    def encode(self, captions: Sequence[str], max_len: int | None = None) -> torch.Tensor:
        """``<bos> words <eos>`` per caption, right-padded with ``<pad>``: int64 (B, T).

        T is the longest caption's length, or ``max_len`` (which must fit every caption: a caption is never
        cut silently).
        """
        if isinstance(captions, str) or not isinstance(captions, Sequence):
            raise TypeError(
                f"captions must be a list of strings (wrap one caption in a list), got {describe(captions)}"
            )
        rows = []
        for i, caption in enumerate(captions):
            if not isinstance(caption, str):
                raise TypeError(f"captions[{i}] must be a str, got {describe(caption)}")
            ids = [self._token_to_id.get(w, self.unk_id) for w in _split(caption)]
            rows.append([self.bos_id, *ids, self.eos_id])
        longest = max((len(r) for r in rows), default=2)
        if max_len is None:
            length = longest
        else:
            length = check_int(max_len, "max_len", minimum=2)
            if longest > length:
                raise ValueError(
                    f"max_len must fit the longest caption, which needs {longest} tokens with <bos> and <eos>, "
                    f"got {length}"
                )
        out = torch.full((len(rows), length), self.pad_id, dtype=torch.int64)
        for i, row in enumerate(rows):
            out[i, : len(row)] = torch.tensor(row, dtype=torch.int64)
        return out

    def decode(self, tokens: Any) -> list[str]:
        """Captions from ids (B, T) (or one sequence (T,), giving a list of one): skips ``<pad>``/``<bos>``,
        stops at ``<eos>``; ``<unk>`` is written as ``<unk>``."""
        t = torch.as_tensor(tokens).detach().cpu() if not isinstance(tokens, torch.Tensor) else tokens.detach().cpu()
        if t.is_floating_point() or t.is_complex() or t.dtype == torch.bool:
            raise TypeError(f"tokens must hold int ids, got {describe(tokens)}")
        if t.dim() == 1:
            t = t[None]
        if t.dim() != 2:
            raise ValueError(f"tokens must be 2-D (B, T) or 1-D (T,), got shape {tuple(t.shape)}")
        if t.numel() and (int(t.min()) < 0 or int(t.max()) >= self.vocab_size):
            raise ValueError(
                f"tokens must be ids in 0..{self.vocab_size - 1}, got values from {int(t.min())} to {int(t.max())}"
            )
        captions = []
        for row in t.tolist():
            words = []
            for i in row:
                if i == self.eos_id:
                    break
                if i not in (self.pad_id, self.bos_id):
                    words.append(self._id_to_token[i])
            captions.append(" ".join(words))
        return captions

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Tokenizer) and other._id_to_token == self._id_to_token

    def __hash__(self) -> int:
        return hash(self._id_to_token)

    def __repr__(self) -> str:
        return f"Tokenizer(vocab_size={self.vocab_size}, specials={SPECIAL_TOKENS})"


# --------------------------------------------------------------------------------------------------
# Paired image–caption data
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False, repr=False)
class PairedDigits:
    """Image–caption pairs for notebooks 01, 02 and 05; row ``j`` of every ``*_train`` field is one pair.

    With ``captions_per_image = k``, image ``i`` of the dataset's split fills rows ``i*k .. i*k+k-1`` (its
    images, labels and attributes repeated, each row with its own caption); ``index_*`` gives that ``i``, so
    two rows of one image can be told apart from two images of one class. ``tokens_*`` are int64
    ``(rows, MAX_CAPTION_TOKENS)``; ``attributes_*`` map ``thickness``/``size``/``slant`` to word indices
    (``ATTRIBUTE_VALUES`` order); ``template_*`` is the template of each caption (5 and 6 omit an attribute).
    Thresholds were fit on the training split and reused on the test split.
    """

    images_train: torch.Tensor
    tokens_train: torch.Tensor
    captions_train: list[str]
    labels_train: torch.Tensor
    attributes_train: dict[str, torch.Tensor]
    index_train: torch.Tensor
    template_train: torch.Tensor
    images_test: torch.Tensor
    tokens_test: torch.Tensor
    captions_test: list[str]
    labels_test: torch.Tensor
    attributes_test: dict[str, torch.Tensor]
    index_test: torch.Tensor
    template_test: torch.Tensor
    tokenizer: Tokenizer
    thresholds: AttributeThresholds
    dataset_name: str
    captions_per_image: int = 1
    source: str = field(default="")

    def describe(self) -> str:
        """One line, e.g. ``digits: 1437 train / 360 test pairs (1 caption per image), 41 tokens, T=14``."""
        return (
            f"{self.dataset_name}: {len(self.captions_train)} train / {len(self.captions_test)} test image–caption "
            f"pairs ({self.captions_per_image} caption(s) per image), vocabulary of {self.tokenizer.vocab_size} "
            f"tokens, captions padded to {self.tokens_train.shape[1]} tokens"
        )

    def __repr__(self) -> str:
        return f"PairedDigits({self.describe()})"


def paired_digits(
    dataset: ImageDataset | None = None,
    *,
    captions_per_image: int = 1,
    generator: torch.Generator | None = None,
    seed: int = 0,
    templates: Sequence[int] | None = None,
) -> PairedDigits:
    """Caption every image of ``dataset`` (default ``load_image_dataset(verbose=False)``).

    Attribute thresholds are fit on the training split and reused on the test split. Captions are sampled
    with ``generator``, or a fresh one seeded with ``seed`` when None: train first, then test. ``templates``
    restricts the templates used (e.g. ``FULL_TEMPLATES``). See ``PairedDigits`` for the layout.
    """
    if dataset is None:
        dataset = load_image_dataset(verbose=False)
    elif not isinstance(dataset, ImageDataset):
        raise TypeError(f"dataset must be an ImageDataset or None, got {describe(dataset)}")
    k = check_int(captions_per_image, "captions_per_image", minimum=1)
    check_generator(generator)
    seed = check_int(seed, "seed", minimum=0)
    chosen = _check_templates(templates)
    if generator is None:
        generator = torch.Generator().manual_seed(seed)

    measured = {split: _measure(_as_images(getattr(dataset, f"x_{split}")), 0.3) for split in ("train", "test")}
    _, h, w = dataset.image_shape
    thresholds = AttributeThresholds._fit_measured(measured["train"], dataset.y_train, (h, w), 0.3, None)
    tokenizer = Tokenizer()
    parts: dict[str, Any] = {}
    for split in ("train", "test"):
        images, labels = getattr(dataset, f"x_{split}"), getattr(dataset, f"y_{split}")
        attributes = thresholds._indices_measured(measured[split], labels)
        index = torch.arange(len(labels)).repeat_interleave(k)
        rep_labels = labels[index]
        rep_attributes = {a: v[index] for a, v in attributes.items()}
        captions, template_ids = _sample(rep_labels, rep_attributes, generator, chosen)
        parts[f"images_{split}"] = images if k == 1 else images[index]
        parts[f"tokens_{split}"] = tokenizer.encode(captions, max_len=MAX_CAPTION_TOKENS)
        parts[f"captions_{split}"] = captions
        parts[f"labels_{split}"] = rep_labels
        parts[f"attributes_{split}"] = rep_attributes
        parts[f"index_{split}"] = index
        parts[f"template_{split}"] = template_ids
    return PairedDigits(
        **parts,
        tokenizer=tokenizer,
        thresholds=thresholds,
        dataset_name=dataset.name,
        captions_per_image=k,
        source=dataset.source,
    )
