r"""Questions about digit images, answered from the label and the measured attributes: a tiny VQA (notebook 02).

One call gives everything::

    from mmobjectives.data.questions import digit_questions
    vqa = digit_questions(seed=0)              # MNIST if cached, else scikit-learn's 8×8 digits
    vqa.questions_train[0], vqa.answer_vocab[vqa.answers_train[0]]   # ('is it even?', 'no')
    vqa.question_tokens_train.shape            # (N, MAX_QUESTION_TOKENS), the same for every dataset and seed

**Question types** (``QUESTION_TYPES``; one fixed question each, ``QUESTIONS``) and where the answer comes from:

===================== ============================ ==================================================
type                  question                     answer
===================== ============================ ==================================================
``digit``             what digit is this?         the label's name, ``zero`` .. ``nine``
``even``              is it even?                 ``yes`` when the label is even
``greater_than_five`` is it greater than five?    ``yes`` when the label is 6, 7, 8 or 9
``thick``             is it written thick?        ``yes`` when the measured thickness is ``thick``
``large``             is it large?                ``yes`` when the measured size is ``large``
``slant``             which way does it lean?     ``left``, ``upright`` or ``right`` (measured slant)
===================== ============================ ==================================================

The attributes are those of :mod:`mmobjectives.data.attributes`: relative to the digit's own class (thickness and
size split at the class median of the training split) and slant cut at the training tertiles, so a "thick"
question cannot be answered from the digit alone. Each image is asked ``questions_per_image`` *distinct*
types, a uniformly random subset drawn with the generator, so every type is asked of the same expected share
of the images. Answers are ids into one shared ``ANSWER_VOCAB``, so a single classifier head (or a decoder)
answers every type; ``question_type_*`` says which type a row is, to report accuracy per type.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np
import torch

from .._checks import check_generator, check_index_range, check_index_tensor, check_int, describe
from .attributes import ATTRIBUTE_VALUES, DIGIT_NAMES, AttributeThresholds
from .image_dataset import ImageDataset
from .images import load_image_dataset
from .paired import PairedDigits
from .tokenizer import Tokenizer

__all__ = [
    "ANSWER_VOCAB",
    "MAX_QUESTION_TOKENS",
    "QUESTIONS",
    "QUESTION_TYPES",
    "DigitQuestions",
    "digit_questions",
]

QUESTION_TYPES: tuple[str, ...] = ("digit", "even", "greater_than_five", "thick", "large", "slant")
"""The question types, in id order: ``question_type_* == 3`` means ``"thick"``."""

QUESTIONS: Mapping[str, str] = MappingProxyType(
    {
        "digit": "what digit is this?",
        "even": "is it even?",
        "greater_than_five": "is it greater than five?",
        "thick": "is it written thick?",
        "large": "is it large?",
        "slant": "which way does it lean?",
    }
)
"""Question type -> its question: lower-case words separated by single spaces, the ``?`` against the last word (the
tokenizer reads it as a word of its own)."""

ANSWER_VOCAB: tuple[str, ...] = (*DIGIT_NAMES, "yes", "no", *ATTRIBUTE_VALUES["slant"])
"""Every answer, in id order: ``zero`` .. ``nine`` (ids 0-9, so a digit's id is the digit), ``yes``, ``no``,
``left``, ``upright``, ``right``."""

_ANSWER_ID = {a: i for i, a in enumerate(ANSWER_VOCAB)}
_YES, _NO = _ANSWER_ID["yes"], _ANSWER_ID["no"]
_SLANT_IDS = torch.tensor([_ANSWER_ID[v] for v in ATTRIBUTE_VALUES["slant"]], dtype=torch.int64)
_QUESTION_WORDS: tuple[str, ...] = tuple(
    sorted({w for q in QUESTIONS.values() for w in Tokenizer.split(q)} | set(ANSWER_VOCAB))
)
MAX_QUESTION_TOKENS: int = max(len(Tokenizer.split(q)) for q in QUESTIONS.values()) + 2
"""The width of ``question_tokens_*`` (the longest question with ``<bos>`` and ``<eos>``), for every dataset."""


@dataclass(frozen=True, eq=False, repr=False)
class DigitQuestions:
    """Image–question–answer triples for notebook 02; row ``j`` of every ``*_train`` field is one question.

    With ``questions_per_image = q``, image ``i`` of the split fills rows ``i*q .. i*q+q-1`` (the image and its
    label repeated, each row a different question type, in type order); ``index_*`` gives that ``i``.
    ``images_*`` are float32 (rows, 1, H, W); ``question_tokens_*`` int64 (rows, ``MAX_QUESTION_TOKENS``)
    encoded by ``tokenizer`` (``<bos> ... ? <eos>``, padded); ``answers_*`` int64 ids into ``answer_vocab``;
    ``question_type_*`` int64 ids into ``question_types``; ``labels_*`` the digits; ``attributes_*`` the
    attribute indices (``thickness`` 0/1, ``size`` 0/1, ``slant`` 0/1/2) the answers were read from.
    """

    images_train: torch.Tensor
    questions_train: list[str]
    question_tokens_train: torch.Tensor
    answers_train: torch.Tensor
    question_type_train: torch.Tensor
    labels_train: torch.Tensor
    attributes_train: dict[str, torch.Tensor]
    index_train: torch.Tensor
    images_test: torch.Tensor
    questions_test: list[str]
    question_tokens_test: torch.Tensor
    answers_test: torch.Tensor
    question_type_test: torch.Tensor
    labels_test: torch.Tensor
    attributes_test: dict[str, torch.Tensor]
    index_test: torch.Tensor
    tokenizer: Tokenizer
    dataset_name: str
    questions_per_image: int
    answer_vocab: tuple[str, ...] = ANSWER_VOCAB
    question_types: tuple[str, ...] = QUESTION_TYPES
    source: str = field(default="")

    def answer_words(self, answers: Any) -> list[str]:
        """Answer ids (e.g. ``answers_test`` or a model's argmax) -> their words."""
        ids = check_index_tensor(torch.as_tensor(answers).detach().cpu(), "answers", what="answer ids", ndim=1)
        check_index_range(ids, "answers", len(self.answer_vocab), what="answer ids")
        return [self.answer_vocab[i] for i in ids.tolist()]

    def describe(self) -> str:
        """One line: the dataset, rows per split, question types and the answer vocabulary size."""
        return (
            f"{self.dataset_name}: {len(self.questions_train)} train / {len(self.questions_test)} test questions "
            f"({self.questions_per_image} per image, {len(self.question_types)} types: "
            f"{', '.join(self.question_types)}), {len(self.answer_vocab)} answers, questions padded to "
            f"{self.question_tokens_train.shape[1]} tokens"
        )

    def __repr__(self) -> str:
        return f"DigitQuestions({self.describe()})"


def _answers(types: torch.Tensor, labels: torch.Tensor, attributes: Mapping[str, torch.Tensor]) -> torch.Tensor:
    """The answer id of each row, from its question type, label and attribute indices."""

    def yes_no(condition: torch.Tensor) -> torch.Tensor:
        return torch.where(condition, _YES, _NO)

    by_type = torch.stack(
        [
            labels,  # digit: ids 0..9 are the digit names
            yes_no(labels % 2 == 0),
            yes_no(labels > 5),
            yes_no(attributes["thickness"] == 1),
            yes_no(attributes["size"] == 1),
            _SLANT_IDS[attributes["slant"]],
        ],
        dim=1,
    )  # (rows, n_types)
    return by_type.gather(1, types[:, None])[:, 0]


def _split_of(paired: PairedDigits, split: str) -> tuple[torch.Tensor, torch.Tensor, dict[str, torch.Tensor]]:
    """(images, labels, attributes) of one split of ``paired``, one row per image (repeated captions dropped)."""
    index = getattr(paired, f"index_{split}")
    _, first = np.unique(index.numpy(), return_index=True)  # the first row of each image
    rows = torch.as_tensor(first, dtype=torch.int64)
    attributes = {a: v[rows] for a, v in getattr(paired, f"attributes_{split}").items()}
    return getattr(paired, f"images_{split}")[rows], getattr(paired, f"labels_{split}")[rows], attributes


def _check_count(value: Any, name: str) -> int | None:
    return None if value is None else check_int(value, name, minimum=1)


def digit_questions(
    paired: PairedDigits | ImageDataset | None = None,
    *,
    generator: torch.Generator | None = None,
    seed: int = 0,
    questions_per_image: int = 4,
    n_train: int | None = None,
    n_test: int | None = None,
) -> DigitQuestions:
    """Ask ``questions_per_image`` distinct questions of every image and answer them (see the module docstring).

    ``paired`` supplies the images, labels and attributes: a ``PairedDigits`` (its attributes are used; rows
    repeated for several captions count once), an ``ImageDataset`` (attributes measured with thresholds fit on
    its training split), or None for ``load_image_dataset(verbose=False)``. ``n_train`` / ``n_test`` keep only
    the first images of each split (all when None): with MNIST and 4 questions per image the training images
    alone take about 750 MB. The question types of each image are drawn with ``generator``, or a fresh one
    seeded with ``seed`` when None: train first, then test.
    """
    check_generator(generator)
    seed = check_int(seed, "seed", minimum=0)
    q = check_int(questions_per_image, "questions_per_image", minimum=1)
    if q > len(QUESTION_TYPES):
        raise ValueError(
            f"questions_per_image must be <= {len(QUESTION_TYPES)} (the number of question types, each asked at "
            f"most once per image), got {q}"
        )
    limits = {"train": _check_count(n_train, "n_train"), "test": _check_count(n_test, "n_test")}
    if paired is None:
        paired = load_image_dataset(verbose=False)
    if isinstance(paired, ImageDataset):
        thresholds = AttributeThresholds.fit(paired.x_train, paired.y_train)
        splits = {
            s: (
                getattr(paired, f"x_{s}"),
                getattr(paired, f"y_{s}"),
                thresholds.indices(getattr(paired, f"x_{s}"), getattr(paired, f"y_{s}")),
            )
            for s in ("train", "test")
        }
    elif isinstance(paired, PairedDigits):
        splits = {s: _split_of(paired, s) for s in ("train", "test")}
    else:
        raise TypeError(f"paired must be a PairedDigits, an ImageDataset or None, got {describe(paired)}")
    if generator is None:
        generator = torch.Generator().manual_seed(seed)

    tokenizer = Tokenizer(extra_words=_QUESTION_WORDS)
    encoded = tokenizer.encode(list(QUESTIONS.values()), max_len=MAX_QUESTION_TOKENS)  # (n_types, T)
    parts: dict[str, Any] = {}
    for split in ("train", "test"):
        images, labels, attributes = splits[split]
        if limits[split] is not None:
            images, labels = images[: limits[split]], labels[: limits[split]]
            attributes = {a: v[: limits[split]] for a, v in attributes.items()}
        n = len(labels)
        # a uniformly random q-subset of the types per image: the first q of a random permutation, sorted
        keys = torch.rand(n, len(QUESTION_TYPES), generator=generator)
        types = keys.argsort(dim=1)[:, :q].sort(dim=1).values.reshape(-1)
        index = torch.arange(n).repeat_interleave(q)
        rep_labels = labels[index]
        rep_attributes = {a: v[index] for a, v in attributes.items()}
        parts[f"images_{split}"] = images[index]
        parts[f"questions_{split}"] = [QUESTIONS[QUESTION_TYPES[t]] for t in types.tolist()]
        parts[f"question_tokens_{split}"] = encoded[types]
        parts[f"answers_{split}"] = _answers(types, rep_labels, rep_attributes)
        parts[f"question_type_{split}"] = types
        parts[f"labels_{split}"] = rep_labels
        parts[f"attributes_{split}"] = rep_attributes
        parts[f"index_{split}"] = index
    name = paired.dataset_name if isinstance(paired, PairedDigits) else paired.name
    return DigitQuestions(
        **parts,
        tokenizer=tokenizer,
        dataset_name=name,
        questions_per_image=q,
        source=paired.source,
    )
