"""Digit images paired with sampled captions: the image–caption data of notebooks 01, 02 and 05.

One call gives everything::

    from mmobjectives.data import paired_digits
    pairs = paired_digits(seed=0)           # MNIST if cached, else scikit-learn's 8×8 digits
    pairs.captions_train[0]                 # 'a small thick seven slanted right'
    pairs.tokens_train.shape                # (N, T), T = MAX_CAPTION_TOKENS for every dataset and seed

Each image's attributes are measured and put into words by ``attributes`` (thresholds fit on the training split),
each caption is sampled from the grammar of ``captions`` (random template, random synonyms) and encoded by
``tokenizer.Tokenizer``; ``tokens_*`` are ready-made ``<bos> ... <eos>`` sequences.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from .._checks import check_generator, check_index_range, check_index_tensor, check_int, describe
from .attributes import (
    _PIXEL_THRESHOLD,
    ATTRIBUTE_VALUES,
    DIGIT_NAMES,
    AttributeThresholds,
    _as_images,
    _as_labels,
    _measure,
)
from .captions import MAX_CAPTION_TOKENS, NUMERAL_PROBABILITY, NUMERALS, SYNONYMS, TEMPLATES, _fix_articles
from .image_dataset import ImageDataset
from .images import load_image_dataset
from .tokenizer import Tokenizer

__all__ = ["PairedDigits", "paired_digits", "sample_captions"]


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


def _as_attribute_indices(attributes: Any, n: int) -> dict[str, torch.Tensor]:
    if not isinstance(attributes, Mapping):
        raise TypeError(f"attributes must be a dict of index tensors, got {describe(attributes)}")
    out = {}
    for a, values in ATTRIBUTE_VALUES.items():
        if a not in attributes:
            raise ValueError(f"attributes must have the keys {tuple(ATTRIBUTE_VALUES)}, missing {a!r}")
        name, what = f"attributes[{a!r}]", f"indices of {values}"
        idx = check_index_tensor(torch.as_tensor(attributes[a]).detach().cpu(), name, what=what, layout="(N,)", ndim=1)
        if len(idx) != n:
            raise ValueError(f"{name} must hold one index per label ({n} labels), got {len(idx)}")
        out[a] = check_index_range(idx, name, len(values), what=what).to(torch.int64)
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

    measured = {
        split: _measure(_as_images(getattr(dataset, f"x_{split}")), _PIXEL_THRESHOLD) for split in ("train", "test")
    }
    _, h, w = dataset.image_shape
    thresholds = AttributeThresholds._fit_measured(measured["train"], dataset.y_train, (h, w), _PIXEL_THRESHOLD, None)
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
