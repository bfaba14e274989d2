"""Tests for mmobjectives.models: the Captioner (teacher forcing, greedy and beam decoding) and the VQAModel."""

from __future__ import annotations

import copy
import itertools

import pytest
import torch
import torch.nn.functional as F

from mmobjectives.models import Captioner, VQAModel

PAD, BOS, EOS = 0, 1, 2
VOCAB = 14  # 4 special ids (pad, bos, eos, unk) + 10 words


def _toy_captions(n: int = 20, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """n random 8×8 images, each with its own caption of 2 to 4 random words: (n, 1, 8, 8), (n, 6)."""
    gen = torch.Generator().manual_seed(seed)
    images = torch.rand(n, 1, 8, 8, generator=gen)
    tokens = torch.full((n, 6), PAD, dtype=torch.long)
    for i in range(n):
        length = int(torch.randint(2, 5, (), generator=gen))
        tokens[i, 0] = BOS
        tokens[i, 1 : length + 1] = torch.randint(4, VOCAB, (length,), generator=gen)
        tokens[i, length + 1] = EOS
    return images, tokens


def _words(row: torch.Tensor) -> list[int]:
    """A caption's ids without <bos> and padding."""
    return [t for t in row.tolist() if t not in (PAD, BOS)]


def _with_bos(generated: torch.Tensor) -> torch.Tensor:
    return torch.cat([torch.full((len(generated), 1), BOS, dtype=torch.long), generated], dim=1)


@pytest.fixture(scope="module")
def trained() -> dict:
    """A Captioner trained on the toy captions with the documented shift, and a copy taken after 30 steps."""
    torch.manual_seed(0)
    images, tokens = _toy_captions()
    model = Captioner(VOCAB, embed_dim=32, hidden=64)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    partly = None
    for step in range(100):
        logits = model(images, tokens[:, :-1])  # predict token t+1 from tokens <= t
        loss = F.cross_entropy(logits.reshape(-1, VOCAB), tokens[:, 1:].reshape(-1), ignore_index=PAD)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if step == 29:
            partly = copy.deepcopy(model)
    return {"model": model, "partly": partly, "images": images, "tokens": tokens, "loss": loss.item()}


# ------------------------------------------------------------------------------------------------------------
# Captioner: teacher forcing
# ------------------------------------------------------------------------------------------------------------


def test_captioner_forward_shapes() -> None:
    torch.manual_seed(0)
    model = Captioner(VOCAB, embed_dim=16, hidden=32)
    assert model(torch.rand(3, 1, 8, 8), torch.randint(0, VOCAB, (3, 7))).shape == (3, 7, VOCAB)
    assert model(torch.rand(1, 1, 8, 8), torch.tensor([[BOS]])).shape == (1, 1, VOCAB)
    big = Captioner(VOCAB, image_size=28, embed_dim=16, hidden=32)
    assert big(torch.rand(2, 1, 28, 28), torch.randint(0, VOCAB, (2, 5))).shape == (2, 5, VOCAB)
    assert isinstance(model.decoder, torch.nn.GRU) and model.decoder.num_layers == 1


def test_teacher_forcing_is_causal() -> None:
    """logits[:, t] depend on tokens_in[:, :t+1] only: changing later tokens leaves them unchanged."""
    torch.manual_seed(1)
    model = Captioner(VOCAB, embed_dim=16, hidden=32)
    images, tokens = torch.rand(4, 1, 8, 8), torch.randint(0, VOCAB, (4, 8))
    logits = model(images, tokens)
    for t in range(8):
        changed = tokens.clone()
        changed[:, t + 1 :] = (tokens[:, t + 1 :] + 1) % VOCAB  # every later token different
        other = model(images, changed)
        torch.testing.assert_close(other[:, : t + 1], logits[:, : t + 1])
        if t < 7:
            assert not torch.allclose(other[:, t + 1 :], logits[:, t + 1 :])


def test_sequence_log_prob_is_minus_the_summed_cross_entropy() -> None:
    torch.manual_seed(2)
    model = Captioner(VOCAB, embed_dim=16, hidden=32)
    images, tokens = _toy_captions(5, seed=3)
    logits = model(images, tokens[:, :-1])
    ce = F.cross_entropy(logits.transpose(1, 2), tokens[:, 1:], ignore_index=PAD, reduction="none").sum(dim=1)
    torch.testing.assert_close(model.sequence_log_prob(images, tokens), -ce)
    # padding is ignored: extra <pad> columns change nothing
    padded = torch.cat([tokens, torch.full((5, 3), PAD)], dim=1)
    torch.testing.assert_close(model.sequence_log_prob(images, padded), -ce)


def test_shift_convention_learns_the_training_captions(trained: dict) -> None:
    """Trained on model(images, tokens[:, :-1]) vs tokens[:, 1:], greedy decoding gives the captions back."""
    assert trained["loss"] < 0.05
    generated = trained["model"].generate(trained["images"], max_len=8)
    exact = [_words(g) == _words(t) for g, t in zip(generated, trained["tokens"])]
    assert sum(exact) >= 18, f"only {sum(exact)}/20 captions reproduced"


# ------------------------------------------------------------------------------------------------------------
# Captioner: decoding
# ------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("strategy", ["greedy", "beam"])
def test_generated_captions_stop_at_eos_and_are_padded(trained: dict, strategy: str) -> None:
    generated = trained["model"].generate(trained["images"], max_len=8, strategy=strategy)
    assert generated.dtype == torch.long and generated.shape[0] == 20 and 1 <= generated.shape[1] <= 8
    lengths = set()
    for row in generated.tolist():
        assert EOS in row, "a trained model stops before max_len"
        stop = row.index(EOS)
        assert all(t not in (PAD, BOS) for t in row[:stop])  # never <pad> or <bos> inside the caption
        assert all(t == PAD for t in row[stop + 1 :])  # only padding after <eos>
        lengths.add(stop + 1)
    assert len(lengths) > 1  # captions of different lengths, so some rows are padded
    assert generated.shape[1] == max(lengths)  # no all-padding columns


def test_generate_respects_max_len_and_cuts_without_eos() -> None:
    torch.manual_seed(3)
    model = Captioner(VOCAB, embed_dim=16, hidden=32)
    with torch.no_grad():
        model.to_logits.bias[EOS] = -1e4  # the model never stops by itself
    images = torch.rand(3, 1, 8, 8)
    for strategy in ("greedy", "beam"):
        generated = model.generate(images, max_len=5, strategy=strategy)
        assert generated.shape == (3, 5)
        assert not (generated == EOS).any() and not (generated == PAD).any()
        assert model.generate(images, max_len=1, strategy=strategy).shape == (3, 1)


@pytest.mark.parametrize("which", ["untrained", "partly", "model"])
def test_beam_size_one_is_greedy(trained: dict, which: str) -> None:
    torch.manual_seed(4)
    model = Captioner(VOCAB, embed_dim=32, hidden=64) if which == "untrained" else trained[which]
    images = torch.cat([trained["images"], torch.rand(10, 1, 8, 8)])
    greedy = model.generate(images, max_len=8)
    beam = model.generate(images, max_len=8, strategy="beam", beam_size=1)
    assert torch.equal(beam, greedy)


@pytest.mark.parametrize("which", ["untrained", "partly", "model"])
def test_beam_search_scores_at_least_greedy(trained: dict, which: str) -> None:
    torch.manual_seed(5)
    model = Captioner(VOCAB, embed_dim=32, hidden=64) if which == "untrained" else trained[which]
    images = torch.cat([trained["images"], torch.rand(20, 1, 8, 8)])
    with torch.no_grad():
        greedy = model.sequence_log_prob(images, _with_bos(model.generate(images, max_len=8)))
        beam = model.sequence_log_prob(images, _with_bos(model.generate(images, max_len=8, strategy="beam")))
    assert (beam >= greedy - 1e-5).all()
    if which == "partly":  # a half-trained model is uncertain: the beam finds better captions for some images
        assert (beam > greedy + 1e-3).any()


@pytest.mark.parametrize("length_penalty", [0.0, 1.0])
def test_wide_beam_finds_the_exhaustive_optimum(length_penalty: float) -> None:
    """With two words and a beam wider than every possible prefix set, beam search is exhaustive search."""
    torch.manual_seed(6)
    vocab, max_len = 5, 4  # pad, bos, eos and the words 3, 4
    model = Captioner(vocab, embed_dim=8, hidden=16)
    images = torch.rand(6, 1, 8, 8)
    candidates = []  # every caption: words then <eos>, or max_len words cut without <eos>
    for n in range(max_len + 1):
        for words in itertools.product((3, 4), repeat=n):
            caption = [*words, EOS] if n < max_len else list(words)
            candidates.append(caption + [PAD] * (max_len - len(caption)))
    candidates = torch.tensor(candidates)
    with torch.no_grad():
        scores = torch.stack([model.sequence_log_prob(images, _with_bos(c.expand(6, -1))) for c in candidates], 1)
        lengths = (candidates != PAD).sum(dim=1).to(scores.dtype)
        best = (scores / lengths**length_penalty).argmax(dim=1)
        beam = model.generate(images, max_len=max_len, strategy="beam", beam_size=27, length_penalty=length_penalty)
    for i in range(6):
        assert _words(beam[i]) == _words(candidates[best[i]])


def test_generate_restores_the_training_flag_and_tracks_no_gradient() -> None:
    torch.manual_seed(7)
    model = Captioner(VOCAB, embed_dim=16, hidden=32)
    images = torch.rand(2, 1, 8, 8, requires_grad=True)
    for training in (True, False):
        model.train(training)
        for strategy in ("greedy", "beam"):
            generated = model.generate(images, max_len=4, strategy=strategy)
            assert model.training is training
            assert all(m.training is training for m in model.modules())
            assert not generated.requires_grad


# ------------------------------------------------------------------------------------------------------------
# VQAModel
# ------------------------------------------------------------------------------------------------------------


def test_vqa_shapes() -> None:
    torch.manual_seed(8)
    model = VQAModel(VOCAB, 7, embed_dim=16, hidden=32)
    assert model(torch.rand(5, 1, 8, 8), torch.randint(0, VOCAB, (5, 6))).shape == (5, 7)
    big = VQAModel(VOCAB, 3, image_size=28)
    assert big(torch.rand(2, 1, 28, 28), torch.randint(0, VOCAB, (2, 4))).shape == (2, 3)


def test_vqa_fits_question_dependent_answers() -> None:
    """The same image asked two different questions must learn two different answers."""
    torch.manual_seed(9)
    n, n_answers = 12, 5
    images = torch.rand(n, 1, 8, 8)
    questions = torch.tensor([[BOS, 4, 5, 6, EOS], [BOS, 7, 8, EOS, PAD]])  # "what digit", "how thick"
    first = torch.randint(0, n_answers, (n,))
    second = (first + torch.randint(1, n_answers, (n,))) % n_answers  # always a different answer
    x = torch.cat([images, images])
    q = torch.cat([questions[0].expand(n, -1), questions[1].expand(n, -1)])
    answers = torch.cat([first, second])
    model = VQAModel(VOCAB, n_answers, embed_dim=16, hidden=64)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(150):
        loss = F.cross_entropy(model(x, q), answers)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    predicted = model(x, q).argmax(dim=1)
    assert torch.equal(predicted, answers)
    assert (predicted[:n] != predicted[n:]).all()


# ------------------------------------------------------------------------------------------------------------
# Validation
# ------------------------------------------------------------------------------------------------------------


def test_captioner_constructor_validation() -> None:
    with pytest.raises(ValueError, match="vocab_size"):
        Captioner(2)
    with pytest.raises(TypeError, match="embed_dim"):
        Captioner(VOCAB, embed_dim=1.5)
    with pytest.raises(ValueError, match="eos_id must be < vocab_size"):
        Captioner(VOCAB, eos_id=VOCAB)
    with pytest.raises(ValueError, match="three different ids"):
        Captioner(VOCAB, bos_id=0)
    with pytest.raises(ValueError, match="n_answers"):
        VQAModel(VOCAB, 0)
    with pytest.raises(ValueError, match="pad_id"):
        VQAModel(VOCAB, 3, pad_id=VOCAB)


@pytest.mark.parametrize(
    ("call", "error", "pattern"),
    [
        (lambda m, x, t: m(x[:, 0], t), ValueError, r"images must be a \(B, 1, H, W\)"),
        (lambda m, x, t: m(x.long(), t), ValueError, "images must be a floating"),
        (lambda m, x, t: m(x, t.float()), ValueError, r"tokens_in must hold token ids \(B, T\) \(an integer dtype"),
        (lambda m, x, t: m(x, t[0]), ValueError, r"tokens_in must be 2-D \(B, T\)"),
        (lambda m, x, t: m(x, t + VOCAB), ValueError, r"tokens_in must be ids in \[0, 13\]"),
        (lambda m, x, t: m(x, t[:1]), ValueError, "tokens_in must hold one row per image"),
        (lambda m, x, t: m(x, t[:, :0]), ValueError, "tokens_in must hold at least one token"),
        (lambda m, x, t: m.sequence_log_prob(x, t - 1), ValueError, "tokens must be ids"),
        (lambda m, x, t: m.sequence_log_prob(x, t[:, :1]), ValueError, "tokens must hold at least <bos>"),
        (lambda m, x, t: m.generate(x, strategy="sample"), ValueError, "strategy must be one of"),
        (lambda m, x, t: m.generate(x, strategy="beam", beam_size=0), ValueError, "beam_size must be >= 1"),
        (lambda m, x, t: m.generate(x, beam_size=2.0), TypeError, "beam_size must be an int"),
        (lambda m, x, t: m.generate(x, max_len=0), ValueError, "max_len must be >= 1"),
        (lambda m, x, t: m.generate(x, length_penalty=-1.0), ValueError, "length_penalty must be >= 0"),
        (lambda m, x, t: m.generate(x[0]), ValueError, "images must be"),
    ],
)
def test_captioner_input_validation(call, error: type, pattern: str) -> None:
    model = Captioner(VOCAB, embed_dim=8, hidden=16)
    images, tokens = _toy_captions(3)
    with pytest.raises(error, match=pattern):
        call(model, images, tokens)


def test_vqa_input_validation() -> None:
    model = VQAModel(VOCAB, 3, embed_dim=8, hidden=16)
    images, tokens = _toy_captions(3)
    with pytest.raises(ValueError, match="question_tokens must be ids"):
        model(images, tokens + VOCAB)
    with pytest.raises(ValueError, match="question_tokens must hold one row per image"):
        model(images, tokens[:2])
    with pytest.raises(ValueError, match=r"question_tokens must hold token ids \(B, T\) \(an integer dtype"):
        model(images, tokens.float())
    with pytest.raises(ValueError, match="images must be"):
        model(images[:, 0], tokens)
