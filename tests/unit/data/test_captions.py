"""Tests for mmobjectives.data.attributes, .captions, .tokenizer and .paired: measured attributes, per-class words,
the grammar, the tokenizer, image–caption pairs."""

from __future__ import annotations

import re

import pytest
import torch

from mmobjectives.data import captions as cap
from mmobjectives.data import paired
from mmobjectives.data.attributes import ATTRIBUTE_VALUES, AttributeThresholds, describe_attributes, measure_attributes
from mmobjectives.data.captions import (
    FULL_TEMPLATES,
    MAX_CAPTION_TOKENS,
    TEMPLATES,
    VOCABULARY,
    caption_for,
    class_caption,
    parse_caption,
)
from mmobjectives.data.image_dataset import ImageDataset
from mmobjectives.data.images import load_digits
from mmobjectives.data.paired import PairedDigits, paired_digits, sample_captions
from mmobjectives.data.questions import QUESTIONS
from mmobjectives.data.tokenizer import Tokenizer

H = W = 28

# Written out here, independently of the module, so a caption with a wrong word fails the check below.
DIGIT_WORDS = {
    **{w: d for d, w in enumerate("zero one two three four five six seven eight nine".split())},
    **{str(d): d for d in range(10)},
}
THICKNESS_WORDS = {"thin": 0, "light": 0, "fine": 0, "thick": 1, "bold": 1, "heavy": 1}
SIZE_WORDS = {"small": 0, "little": 0, "tiny": 0, "large": 1, "big": 1}
SLANT_WORDS = {"left": 0, "upright": 1, "straight": 1, "right": 2}


def words_of(caption: str) -> dict[str, list[int]]:
    """Every attribute index that a caption's words name."""
    found: dict[str, list[int]] = {"digit": [], "thickness": [], "size": [], "slant": []}
    for word in caption.replace(",", " ").split():  # the comma stands against its word
        for key, table in (
            ("digit", DIGIT_WORDS),
            ("thickness", THICKNESS_WORDS),
            ("size", SIZE_WORDS),
            ("slant", SLANT_WORDS),
        ):
            if word in table:
                found[key].append(table[word])
    return found


def check_caption(caption: str, label: int, attributes: dict[str, int], template: int) -> None:
    """The caption names the right digit once, and each attribute its template has, with the right word."""
    found = words_of(caption)
    assert found["digit"] == [label], caption
    slots = set(cap._SLOT_RE.findall(TEMPLATES[template])) - {"digit"}
    for name in ATTRIBUTE_VALUES:
        expected = [attributes[name]] if name in slots else []
        assert found[name] == expected, (caption, name, attributes)


def blank(n: int = 1) -> torch.Tensor:
    return torch.zeros(n, 1, H, W)


def vertical_bar(width: int, col: int = 12) -> torch.Tensor:
    x = blank()
    x[0, 0, 4:24, col : col + width] = 1.0
    return x


def leaning_bar(direction: int) -> torch.Tensor:
    """A 3-pixel-wide bar over rows 4..23 whose top is shifted right (+1) or left (-1) of its bottom."""
    x = blank()
    for r in range(4, 24):
        shift = (23 - r) // 2  # 0 at the bottom row, 9 at the top row
        c = 9 + shift if direction > 0 else 18 - shift
        x[0, 0, r, c : c + 3] = 1.0
    return x


@pytest.fixture(scope="module")
def digits() -> ImageDataset:
    return load_digits()


@pytest.fixture(scope="module")
def pairs(digits: ImageDataset) -> PairedDigits:
    return paired_digits(digits, captions_per_image=2, seed=0)


# --------------------------------------------------------------------------------------------------
# measure_attributes
# --------------------------------------------------------------------------------------------------


def test_thick_bar_has_more_ink_than_thin_bar() -> None:
    m = measure_attributes(torch.cat([vertical_bar(5), vertical_bar(2)]))
    assert m["ink"][0] > m["ink"][1]
    assert m["ink"][1] == pytest.approx(2 * 20 / (H * W))
    assert m["height"].tolist() == [20.0, 20.0]
    assert m["width"].tolist() == [5.0, 2.0]
    assert set(m) == {"ink", "height", "width", "slant"}
    assert all(v.dtype == torch.float32 and v.shape == (2,) for v in m.values())


def test_slant_sign_convention() -> None:
    images = torch.cat([leaning_bar(+1), leaning_bar(-1), vertical_bar(3)])
    slant = measure_attributes(images)["slant"]
    assert slant[0] > 0.3  # top leans right: positive
    assert slant[1] < -0.3  # top leans left: negative
    assert slant[0] == pytest.approx(-slant[1])
    assert abs(float(slant[2])) < 1e-6  # upright


def test_blank_and_flat_images_give_zeros_not_nan() -> None:
    flat = blank()
    flat[0, 0, 10, 3:20] = 1.0  # a horizontal line: no vertical spread, slant defined as 0
    m = measure_attributes(torch.cat([blank(), flat]))
    for v in m.values():
        assert torch.isfinite(v).all()
    assert [float(m[k][0]) for k in ("ink", "height", "width", "slant")] == [0.0, 0.0, 0.0, 0.0]
    assert m["slant"][1] == 0.0 and m["height"][1] == 1.0 and m["width"][1] == 17.0


def test_bounding_box_of_a_known_rectangle_ignores_faint_pixels() -> None:
    x = torch.full((1, H, W), 0.2)  # below the 0.3 threshold everywhere
    x[0, 3:10, 5:9] = 0.9  # rows 3..9, columns 5..8
    m = measure_attributes(x)  # (N, H, W) is accepted too
    assert (m["height"].item(), m["width"].item()) == (7.0, 4.0)
    assert measure_attributes(x, threshold=0.1)["height"].item() == float(H)
    assert torch.equal(measure_attributes(x[:, None])["slant"], m["slant"])


# --------------------------------------------------------------------------------------------------
# Words relative to each class, thresholds fit on train
# --------------------------------------------------------------------------------------------------


def test_per_class_split_is_about_half_within_each_class(digits: ImageDataset) -> None:
    thresholds = AttributeThresholds.fit(digits.x_train, digits.y_train)
    train = thresholds.indices(digits.x_train, digits.y_train)
    test = thresholds.indices(digits.x_test, digits.y_test)
    for c in range(10):
        in_train, in_test = digits.y_train == c, digits.y_test == c
        assert 0.45 <= train["thickness"][in_train].double().mean() <= 0.55
        assert 0.45 <= train["size"][in_train].double().mean() <= 0.55
        assert 0.25 <= test["thickness"][in_test].double().mean() <= 0.75
        assert 0.2 <= test["size"][in_test].double().mean() <= 0.8
    slant_share = torch.bincount(train["slant"], minlength=3).double() / len(digits.y_train)
    assert torch.allclose(slant_share, torch.full((3,), 1 / 3, dtype=torch.float64), atol=0.02)


def test_thresholds_fit_on_train_are_reused_on_test(digits: ImageDataset) -> None:
    thresholds = AttributeThresholds.fit(digits.x_train, digits.y_train)
    # A "test set" of the thickest training sevens: thick by the train medians, half thin by its own.
    sevens = digits.x_train[digits.y_train == 7]
    ink = measure_attributes(sevens)["ink"]
    heavy = sevens[ink > ink.median()]
    labels = torch.full((len(heavy),), 7)
    assert thresholds.indices(heavy, labels)["thickness"].all()
    own = AttributeThresholds.fit(heavy, labels).indices(heavy, labels)["thickness"].double().mean()
    assert 0.4 <= own <= 0.6
    # paired_digits fits on the training split only and reuses the thresholds on the test split.
    pairs = paired_digits(digits, seed=0)
    assert pairs.thresholds == thresholds
    expected = thresholds.indices(digits.x_test, digits.y_test)
    for name in ATTRIBUTE_VALUES:
        assert torch.equal(pairs.attributes_test[name], expected[name])


def test_slant_cuts_can_be_fixed(digits: ImageDataset) -> None:
    thresholds = AttributeThresholds.fit(digits.x_train, digits.y_train, slant_cuts=(-0.1, 0.1))
    assert thresholds.slant_cuts == (-0.1, 0.1)
    slant = measure_attributes(digits.x_test)["slant"]
    words = thresholds.indices(digits.x_test, digits.y_test)["slant"]
    assert torch.equal(words == 2, slant > 0.1) and torch.equal(words == 0, slant < -0.1)


def test_describe_attributes_gives_words_matching_indices(digits: ImageDataset) -> None:
    thresholds = AttributeThresholds.fit(digits.x_train, digits.y_train)
    words = describe_attributes(digits.x_test, digits.y_test, thresholds)
    idx = thresholds.indices(digits.x_test, digits.y_test)
    assert len(words) == len(digits.y_test)
    for i in (0, 1, 100, 359):
        assert words[i]["digit"] == cap.DIGIT_NAMES[int(digits.y_test[i])]
        for name, values in ATTRIBUTE_VALUES.items():
            assert words[i][name] == values[int(idx[name][i])]
    assert thresholds.words(digits.x_test, digits.y_test) == words


# --------------------------------------------------------------------------------------------------
# Captions
# --------------------------------------------------------------------------------------------------


def test_grammar_examples() -> None:
    assert len(TEMPLATES) >= 5 and len(FULL_TEMPLATES) >= 5
    assert class_caption(7) == "the digit seven" == caption_for(7)
    assert caption_for(7, "bold", "big", template=5, numeral=True) == "a big bold 7"
    assert caption_for(8, slant="left") == "an eight slanted left"
    assert caption_for(7, "thick", slant="right", template=6) == "a thick seven slanted right"
    assert caption_for(7, "thin", "small", "upright", template=3) == "seven, thin, small, upright"
    assert caption_for(1, "heavy", "tiny", "leaning left", template=1) == (
        "the digit one, written heavy and tiny, leaning left"
    )


def test_caption_words_agree_with_attributes(pairs: PairedDigits) -> None:
    for split in ("train", "test"):
        captions = getattr(pairs, f"captions_{split}")
        labels = getattr(pairs, f"labels_{split}").tolist()
        templates = getattr(pairs, f"template_{split}").tolist()
        attrs = {k: v.tolist() for k, v in getattr(pairs, f"attributes_{split}").items()}
        for i, caption in enumerate(captions):
            row = {k: v[i] for k, v in attrs.items()}
            check_caption(caption, labels[i], row, templates[i])
            parsed = parse_caption(caption)
            assert parsed["digit"] == labels[i]
            assert parsed["thickness"] == ATTRIBUTE_VALUES["thickness"][row["thickness"]] or (
                "thickness" not in TEMPLATES[templates[i]]
            )
    assert set(pairs.template_train.tolist()) == set(range(len(TEMPLATES)))


def test_checker_catches_a_wrong_digit_or_thickness() -> None:
    right = {"thickness": 1, "size": 0, "slant": 2}
    caption = caption_for(7, "bold", "small", "right", template=0)
    check_caption(caption, 7, right, 0)
    with pytest.raises(AssertionError):
        check_caption(caption, 1, right, 0)
    with pytest.raises(AssertionError):
        check_caption(caption, 7, {**right, "thickness": 0}, 0)
    with pytest.raises(AssertionError):
        check_caption(caption.replace("bold", "bold light"), 7, right, 0)


def test_parse_caption() -> None:
    assert parse_caption("A big bold 7") == {"digit": 7, "thickness": "thick", "size": "large", "slant": None}
    assert parse_caption("the digit two, leaning left")["slant"] == "left"
    assert parse_caption("a thick thin seven")["thickness"] is None  # contradicts itself


def test_full_templates_name_every_attribute(digits: ImageDataset) -> None:
    thresholds = AttributeThresholds.fit(digits.x_train, digits.y_train)
    idx = thresholds.indices(digits.x_test, digits.y_test)
    texts = sample_captions(digits.y_test, idx, generator=torch.Generator().manual_seed(1), templates=FULL_TEMPLATES)
    for text in texts:
        assert None not in parse_caption(text).values(), text


def test_captions_are_deterministic_given_a_generator(digits: ImageDataset) -> None:
    a = paired_digits(digits, generator=torch.Generator().manual_seed(3))
    b = paired_digits(digits, seed=3)
    c = paired_digits(digits, seed=4)
    assert a.captions_train == b.captions_train and a.captions_test == b.captions_test
    assert torch.equal(a.tokens_train, b.tokens_train)
    assert a.captions_train != c.captions_train
    assert torch.equal(a.attributes_train["slant"], c.attributes_train["slant"])  # words don't depend on seed


# --------------------------------------------------------------------------------------------------
# Tokenizer
# --------------------------------------------------------------------------------------------------


def test_tokenizer_special_ids_and_padding() -> None:
    tok = Tokenizer()
    assert (tok.pad_id, tok.bos_id, tok.eos_id, tok.unk_id) == (0, 1, 2, 3)
    assert tok.id_to_token[:4] == ("<pad>", "<bos>", "<eos>", "<unk>")
    assert tok.vocab_size == 4 + len(VOCABULARY) == len(tok.token_to_id)
    assert list(VOCABULARY) == sorted(VOCABULARY)
    out = tok.encode(["the digit seven", "a big bold 7 leaning right"])
    assert out.dtype == torch.int64 and out.shape == (2, 8)
    assert out[0].tolist() == [1, *(tok.token_to_id[w] for w in ("the", "digit", "seven")), 2, 0, 0, 0]
    assert out[1, 0] == 1 and out[1, -1] == 2
    assert tok.encode(["the digit seven"], max_len=10).shape == (1, 10)
    with pytest.raises(ValueError, match="max_len"):
        tok.encode(["the digit seven"], max_len=4)


def test_tokenizer_round_trip(pairs: PairedDigits) -> None:
    tok = pairs.tokenizer
    assert tok.decode(pairs.tokens_train) == pairs.captions_train
    assert tok.decode(tok.encode(pairs.captions_test[:50])) == pairs.captions_test[:50]
    messy = "The Digit SEVEN,bold"
    assert Tokenizer.normalize(messy) == "the digit seven, bold"
    assert tok.decode(tok.encode([messy])) == [Tokenizer.normalize(messy)]
    assert tok.decode(torch.tensor([1, 5, 2, 9, 9])) == [tok.id_to_token[5]]  # stops at <eos>


def test_captions_and_questions_are_written_as_english(pairs: PairedDigits) -> None:
    """A comma or question mark stands against the word before it, yet is a token of its own: written with a
    space before it, as the grammar once wrote it, a caption has the same ids."""
    texts = [*pairs.captions_train, *QUESTIONS.values()]
    assert sum("," in c for c in pairs.captions_train) > len(pairs.captions_train) // 4  # the templates with commas
    assert not [t for t in texts if " ," in t or " ?" in t or "  " in t or t != t.strip()]
    tok = pairs.tokenizer
    spaced = [re.sub(r"([,?])", r" \1", c) for c in pairs.captions_train[:300]]
    assert any(" , " in c for c in spaced)
    assert torch.equal(tok.encode(spaced, max_len=pairs.tokens_train.shape[1]), pairs.tokens_train[:300])
    assert Tokenizer.normalize("what digit is this ?") == QUESTIONS["digit"]
    assert Tokenizer.join(["seven", ",", "bold", "?"]) == "seven, bold?" and Tokenizer.join([]) == ""
    question_tok = Tokenizer(extra_words=sorted({w for q in QUESTIONS.values() for w in Tokenizer.split(q)}))
    assert question_tok.decode(question_tok.encode(list(QUESTIONS.values()))) == list(QUESTIONS.values())


def test_unknown_words_map_to_unk() -> None:
    tok = Tokenizer()
    ids = tok.encode(["a purple seven"])[0].tolist()
    assert ids[2] == tok.unk_id and ids[3] == tok.token_to_id["seven"]
    assert tok.decode([ids]) == ["a <unk> seven"]
    assert tok.unk_id not in tok.encode([caption_for(d, "fine", "little", "straight", template=2) for d in range(10)])


def test_vocabulary_is_the_same_for_every_dataset_and_seed(digits: ImageDataset, pairs: PairedDigits) -> None:
    other = paired_digits(load_digits(test_fraction=0.3, seed=5), seed=9)
    assert other.tokenizer == pairs.tokenizer == Tokenizer()
    assert other.tokenizer.id_to_token == pairs.tokenizer.id_to_token
    assert other.tokens_train.shape[1] == pairs.tokens_test.shape[1] == MAX_CAPTION_TOKENS
    assert not (pairs.tokens_train == Tokenizer.unk_id).any()
    assert Tokenizer(extra_words=["yes", "?"]).vocab_size == Tokenizer().vocab_size + 2


# --------------------------------------------------------------------------------------------------
# paired_digits
# --------------------------------------------------------------------------------------------------


def test_paired_digits_shapes(digits: ImageDataset) -> None:
    p = paired_digits(digits)
    assert p.dataset_name == "digits" and p.captions_per_image == 1
    assert p.images_train.shape == (1437, 1, 8, 8) and p.images_test.shape == (360, 1, 8, 8)
    assert p.tokens_train.shape == (1437, MAX_CAPTION_TOKENS) and p.tokens_train.dtype == torch.int64
    assert len(p.captions_train) == 1437 and len(p.captions_test) == 360
    assert torch.equal(p.labels_train, digits.y_train)
    assert set(p.attributes_train) == set(ATTRIBUTE_VALUES)
    for name, values in ATTRIBUTE_VALUES.items():
        a = p.attributes_test[name]
        assert a.shape == (360,) and a.dtype == torch.int64 and int(a.max()) < len(values)
    assert "digits" in repr(p)


def test_several_captions_per_image(digits: ImageDataset, pairs: PairedDigits) -> None:
    assert len(pairs.captions_train) == 2 * 1437 and pairs.images_train.shape == (2 * 1437, 1, 8, 8)
    assert torch.equal(pairs.index_train, torch.arange(1437).repeat_interleave(2))
    assert torch.equal(pairs.images_train[1::2], digits.x_train)
    assert torch.equal(pairs.attributes_train["size"][0::2], pairs.attributes_train["size"][1::2])
    differ = sum(a != b for a, b in zip(pairs.captions_train[0::2], pairs.captions_train[1::2]))
    assert differ > 0.7 * 1437


def test_paired_digits_default_dataset(monkeypatch: pytest.MonkeyPatch, digits: ImageDataset) -> None:
    calls = []

    def fake_load(**kwargs: object) -> ImageDataset:
        calls.append(kwargs)
        return digits

    monkeypatch.setattr(paired, "load_image_dataset", fake_load)
    p = paired_digits()
    assert calls == [{"verbose": False}] and p.dataset_name == "digits"


# --------------------------------------------------------------------------------------------------
# Bad inputs
# --------------------------------------------------------------------------------------------------


def test_bad_inputs_name_the_argument(digits: ImageDataset) -> None:
    x, y = digits.x_train[:50], digits.y_train[:50]
    with pytest.raises(ValueError, match="images"):
        measure_attributes(torch.zeros(8, 8))
    with pytest.raises(ValueError, match="images"):
        measure_attributes(torch.zeros(2, 3, 8, 8))
    with pytest.raises(ValueError, match="images"):
        measure_attributes(-torch.ones(2, 8, 8))
    with pytest.raises(ValueError, match="labels"):
        AttributeThresholds.fit(x, y[:-1])
    with pytest.raises(ValueError, match="labels"):
        AttributeThresholds.fit(x, y + 10)
    with pytest.raises(ValueError, match="captions_per_image"):
        paired_digits(digits, captions_per_image=0)
    thresholds = AttributeThresholds.fit(x, y)
    with pytest.raises(ValueError, match="images"):
        thresholds.indices(torch.zeros(1, 1, 28, 28), torch.tensor([3]))
    with pytest.raises(ValueError, match="labels"):
        AttributeThresholds.fit(x[y != 3], y[y != 3]).indices(x, y)  # class 3 never seen
    with pytest.raises(ValueError, match="digit"):
        caption_for(12)
    with pytest.raises(ValueError, match="thickness"):
        caption_for(7, thickness="purple")
    with pytest.raises(ValueError, match="slant"):
        caption_for(7, "thick", "small", template=0)
    with pytest.raises(TypeError, match="captions"):
        Tokenizer().encode("the digit seven")
    with pytest.raises(TypeError, match="dataset"):
        paired_digits(dataset="digits")
