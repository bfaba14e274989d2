"""Tests for mmobjectives.data.questions: every answer re-derived from the question text, label and attributes."""

from __future__ import annotations

import math

import pytest
import torch

from mmobjectives import data
from mmobjectives.data import questions as qmod
from mmobjectives.data.attributes import AttributeThresholds
from mmobjectives.data.image_dataset import ImageDataset
from mmobjectives.data.images import load_digits
from mmobjectives.data.paired import PairedDigits, paired_digits
from mmobjectives.data.questions import MAX_QUESTION_TOKENS, DigitQuestions, digit_questions
from mmobjectives.data.tokenizer import Tokenizer

# Written out here, independently of the module, so a wrong answer (or a reworded question) fails the checks.
DIGIT_WORDS = "zero one two three four five six seven eight nine".split()
SLANT_WORDS = ["left", "upright", "right"]


def expected_answer(question: str, label: int, thickness: int, size: int, slant: int) -> str:
    yes_no = {True: "yes", False: "no"}
    if question == "what digit is this?":
        return DIGIT_WORDS[label]
    if question == "is it even?":
        return yes_no[label in (0, 2, 4, 6, 8)]
    if question == "is it greater than five?":
        return yes_no[label in (6, 7, 8, 9)]
    if question == "is it written thick?":
        return yes_no[thickness == 1]
    if question == "is it large?":
        return yes_no[size == 1]
    if question == "which way does it lean?":
        return SLANT_WORDS[slant]
    raise AssertionError(f"unexpected question {question!r}")


QUESTION_OF_TYPE = {
    "digit": "what digit is this?",
    "even": "is it even?",
    "greater_than_five": "is it greater than five?",
    "thick": "is it written thick?",
    "large": "is it large?",
    "slant": "which way does it lean?",
}


@pytest.fixture(scope="module")
def digits() -> ImageDataset:
    return load_digits()


@pytest.fixture(scope="module")
def paired(digits: ImageDataset) -> PairedDigits:
    return paired_digits(digits, seed=0)


@pytest.fixture(scope="module")
def vqa(paired: PairedDigits) -> DigitQuestions:
    return digit_questions(paired, seed=0)


def test_shapes_and_dtypes(vqa: DigitQuestions, paired: PairedDigits) -> None:
    assert vqa.questions_per_image == 4
    for split in ("train", "test"):
        n_images = len(getattr(paired, f"labels_{split}"))
        rows = 4 * n_images
        images = getattr(vqa, f"images_{split}")
        assert images.shape == (rows, 1, 8, 8) and images.dtype == torch.float32
        questions = getattr(vqa, f"questions_{split}")
        assert isinstance(questions, list) and len(questions) == rows and all(isinstance(q, str) for q in questions)
        tokens = getattr(vqa, f"question_tokens_{split}")
        assert tokens.shape == (rows, MAX_QUESTION_TOKENS) and tokens.dtype == torch.int64
        for name in ("answers", "question_type", "labels", "index"):
            field = getattr(vqa, f"{name}_{split}")
            assert field.shape == (rows,) and field.dtype == torch.int64, name
        for a, v in getattr(vqa, f"attributes_{split}").items():
            assert v.shape == (rows,) and v.dtype == torch.int64, a
    assert "zero" in vqa.answer_vocab and "nine" in vqa.answer_vocab
    assert "yes" in vqa.answer_vocab and "no" in vqa.answer_vocab
    assert len(set(vqa.answer_vocab)) == len(vqa.answer_vocab)
    assert set(vqa.question_types) == set(QUESTION_OF_TYPE)


@pytest.mark.parametrize("split", ["train", "test"])
def test_every_answer_follows_from_the_question_label_and_attributes(
    vqa: DigitQuestions, paired: PairedDigits, split: str
) -> None:
    index = getattr(vqa, f"index_{split}")
    # the source's own labels and attributes, looked up through the image index (not the vqa's copies)
    labels = getattr(paired, f"labels_{split}")[index].tolist()
    attrs = {a: v[index].tolist() for a, v in getattr(paired, f"attributes_{split}").items()}
    assert torch.equal(getattr(vqa, f"images_{split}"), getattr(paired, f"images_{split}")[index])
    assert getattr(vqa, f"labels_{split}").tolist() == labels
    answers = getattr(vqa, f"answers_{split}").tolist()
    assert all(0 <= a < len(vqa.answer_vocab) for a in answers)
    questions = getattr(vqa, f"questions_{split}")
    types = getattr(vqa, f"question_type_{split}").tolist()
    seen = set()
    for i, question in enumerate(questions):
        want = expected_answer(question, labels[i], attrs["thickness"][i], attrs["size"][i], attrs["slant"][i])
        assert vqa.answer_vocab[answers[i]] == want, (i, question, labels[i])
        assert QUESTION_OF_TYPE[vqa.question_types[types[i]]] == question
        seen.add(question)
    assert seen == set(QUESTION_OF_TYPE.values())
    assert vqa.answer_words(getattr(vqa, f"answers_{split}")[:5]) == [vqa.answer_vocab[a] for a in answers[:5]]


def test_attribute_answers_are_not_given_away_by_the_digit(vqa: DigitQuestions) -> None:
    words = vqa.answer_words(vqa.answers_train)
    for name in ("thick", "large"):
        t = vqa.question_types.index(name)
        chosen = [w for w, ty in zip(words, vqa.question_type_train.tolist()) if ty == t]
        assert 0.4 < chosen.count("yes") / len(chosen) < 0.6, name  # class-median splits: about half yes
    t = vqa.question_types.index("slant")
    slants = {w for w, ty in zip(words, vqa.question_type_train.tolist()) if ty == t}
    assert slants == set(SLANT_WORDS)


def test_question_types_are_distinct_per_image_and_balanced(vqa: DigitQuestions) -> None:
    n_types = len(vqa.question_types)
    for split in ("train", "test"):
        types = getattr(vqa, f"question_type_{split}").reshape(-1, 4)
        index = getattr(vqa, f"index_{split}").reshape(-1, 4)
        assert bool((index == index[:, :1]).all()) and torch.equal(index[:, 0], torch.arange(len(index)))
        assert all(len(set(row)) == 4 for row in types.tolist())
        n_images = len(types)
        counts = torch.bincount(types.reshape(-1), minlength=n_types).double()
        p = 4 / n_types  # each type is in a uniformly random 4-subset with probability 4/6
        tolerance = 5 * math.sqrt(n_images * p * (1 - p))
        assert bool(((counts - n_images * p).abs() < tolerance).all()), counts


def test_all_types_once_per_image_and_one_question(paired: PairedDigits) -> None:
    full = digit_questions(paired, questions_per_image=6, seed=1)
    types = full.question_type_train.reshape(-1, 6)
    assert bool((types == torch.arange(6)).all())
    one = digit_questions(paired, questions_per_image=1, seed=1)
    assert len(one.questions_train) == len(paired.labels_train)


def test_determinism(paired: PairedDigits, vqa: DigitQuestions) -> None:
    again = digit_questions(paired, seed=0)
    with_generator = digit_questions(paired, generator=torch.Generator().manual_seed(0))
    for other in (again, with_generator):
        assert other.questions_train == vqa.questions_train and other.questions_test == vqa.questions_test
        assert torch.equal(other.answers_train, vqa.answers_train)
        assert torch.equal(other.question_tokens_test, vqa.question_tokens_test)
    different = digit_questions(paired, seed=1)
    assert not torch.equal(different.question_type_train, vqa.question_type_train)


def test_tokenizer_covers_every_question_and_answer(vqa: DigitQuestions) -> None:
    tok = vqa.tokenizer
    assert isinstance(tok, Tokenizer)
    for split in ("train", "test"):
        tokens = getattr(vqa, f"question_tokens_{split}")
        assert not bool((tokens == tok.unk_id).any())
        assert bool((tokens[:, 0] == tok.bos_id).all())
        assert tok.decode(tokens) == getattr(vqa, f"questions_{split}")
        assert torch.equal(tokens, tok.encode(getattr(vqa, f"questions_{split}"), max_len=MAX_QUESTION_TOKENS))
    answers = tok.encode(list(vqa.answer_vocab))
    assert not bool((answers == tok.unk_id).any())
    # the caption words are still there, so one tokenizer reads captions and questions
    assert not bool((tok.encode(["a small thick seven slanted right"]) == tok.unk_id).any())


def test_image_dataset_and_repeated_captions_give_the_same_questions(digits: ImageDataset, vqa: DigitQuestions) -> None:
    from_images = digit_questions(digits, seed=0)
    from_two_captions = digit_questions(paired_digits(digits, captions_per_image=2, seed=0), seed=0)
    for other in (from_images, from_two_captions):
        assert other.questions_train == vqa.questions_train
        assert torch.equal(other.answers_train, vqa.answers_train) and torch.equal(other.answers_test, vqa.answers_test)
        assert torch.equal(other.images_test, vqa.images_test)
    thresholds = AttributeThresholds.fit(digits.x_train, digits.y_train)
    attrs = thresholds.indices(digits.x_test, digits.y_test)
    for a, v in from_images.attributes_test.items():
        assert torch.equal(v, attrs[a][from_images.index_test])


def test_limits_and_describe(paired: PairedDigits, vqa: DigitQuestions) -> None:
    small = digit_questions(paired, seed=0, n_train=10, n_test=5)
    assert len(small.questions_train) == 40 and len(small.questions_test) == 20
    assert int(small.index_train.max()) == 9
    text = vqa.describe()
    assert "digits" in text and str(len(vqa.questions_train)) in text and "slant" in text
    assert repr(vqa).startswith("DigitQuestions(")


def test_default_dataset(monkeypatch: pytest.MonkeyPatch, digits: ImageDataset) -> None:
    calls = []

    def fake_load(**kwargs: object) -> ImageDataset:
        calls.append(kwargs)
        return digits

    monkeypatch.setattr(qmod, "load_image_dataset", fake_load)
    result = data.digit_questions(n_train=20, n_test=20)
    assert calls == [{"verbose": False}] and result.dataset_name == "digits"


def test_bad_inputs_name_the_argument(paired: PairedDigits, vqa: DigitQuestions) -> None:
    with pytest.raises(ValueError, match="questions_per_image"):
        digit_questions(paired, questions_per_image=0)
    with pytest.raises(ValueError, match="questions_per_image"):
        digit_questions(paired, questions_per_image=7)
    with pytest.raises(TypeError, match="paired"):
        digit_questions("digits")
    with pytest.raises(TypeError, match="generator"):
        digit_questions(paired, generator=0)
    with pytest.raises(ValueError, match="seed"):
        digit_questions(paired, seed=-1)
    with pytest.raises(ValueError, match="n_train"):
        digit_questions(paired, n_train=0)
    with pytest.raises(ValueError, match="answers"):
        vqa.answer_words(torch.tensor([len(vqa.answer_vocab)]))
    with pytest.raises(TypeError, match="answers"):
        vqa.answer_words(torch.tensor([0.5]))
