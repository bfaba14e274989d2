r"""Captions of digit images that say more than the label: "a small bold seven leaning right".

Used by notebook 01 (CLIP: image–caption pairs, and ``class_caption`` prompts for zero-shot classification and
the false-negative experiment), notebook 02 (captioner and VQA: ``parse_caption`` scores a generated caption)
and notebook 05 (multimodal autoregression). The words come from ``attributes`` (a digit's class name and its
measured thickness, size and slant, re-exported here); ``tokenizer`` turns captions into ids and ``paired``
captions whole datasets.

**The grammar**: digit names ``zero``..``nine`` (or, one time in five when sampled, the numeral ``7``),
synonyms for each attribute word (``SYNONYMS``) and eight ``TEMPLATES``, six naming all three attributes and
two naming only two. Captions are lower-case words separated by single spaces, a comma written against the word
before it as in English ("a small seven, drawn thick"); the tokenizer reads the comma as a word of its own, and
``Tokenizer.decode(Tokenizer.encode(captions))`` gives the captions back unchanged. The vocabulary is fixed by the
grammar, hence identical for every dataset and seed::

    caption_for(7, "thick", "small", "right")   # 'a small thick seven slanted right'
    class_caption(7)                            # 'the digit seven'
    parse_caption("a big bold 7")               # {'digit': 7, 'thickness': 'thick', 'size': 'large', 'slant': None}
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Any

import numpy as np
import torch

from .._checks import check_index_tensor, check_int, describe
from .attributes import ATTRIBUTE_VALUES, DIGIT_NAMES, AttributeThresholds, describe_attributes, measure_attributes

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
    "caption_for",
    "class_caption",
    "describe_attributes",
    "measure_attributes",
    "parse_caption",
]

# --------------------------------------------------------------------------------------------------
# The grammar
# --------------------------------------------------------------------------------------------------

NUMERALS: tuple[str, ...] = tuple(str(d) for d in range(10))
NUMERAL_PROBABILITY = 0.2
"""How often a sampled caption writes the digit as a numeral ("a big bold 7") instead of its name."""

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
    "the digit {digit}, written {thickness} and {size}, {slant}",
    "a {size} handwritten {digit} {slant}, {thickness}",
    "{digit}, {thickness}, {size}, {slant}",
    "a {digit} written in {thickness} strokes, {size} and {slant}",
    "a {size} {thickness} {digit}",
    "a {thickness} {digit} {slant}",
    "a {size} {digit}, drawn {thickness} and {slant}",
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


_CLOSING_MARKS = frozenset(",.;:?!")


def _split(text: str) -> list[str]:
    """Lower-case and cut into words: runs of letters/digits, and each punctuation mark (the comma) alone."""
    return _TOKEN_RE.findall(text.lower())


def _join(words: Iterable[str]) -> str:
    """Words back into text, as ``_split`` cut it: single spaces, but a closing mark (``,`` ``?`` …) written
    against the word before it: ``["seven", ",", "bold"]`` → ``"seven, bold"``."""
    text = ""
    for word in words:
        if text and word not in _CLOSING_MARKS:
            text += " "
        text += word
    return text


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


def _check_digit(digit: Any, name: str = "digit") -> int:
    """A digit class 0..9: an int, or a one-element integer tensor."""
    if isinstance(digit, torch.Tensor) and digit.numel() == 1:
        digit = check_index_tensor(digit, name, what="a digit class 0..9").item()
    d = check_int(digit, name, minimum=0)
    if d >= len(DIGIT_NAMES):
        raise ValueError(f"{name} must be in 0..{len(DIGIT_NAMES) - 1}, got {d}")
    return d


# --------------------------------------------------------------------------------------------------
# Captions
# --------------------------------------------------------------------------------------------------


def _fix_articles(caption: str) -> str:
    """Write "an" for "a" before "eight" or "8" (also "a eight, …"), with single spaces (dropped slots leave two)."""
    words = caption.split()
    for i in range(len(words) - 1):
        if words[i] == "a" and words[i + 1].rstrip("".join(_CLOSING_MARKS)) in _AN_WORDS:
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
