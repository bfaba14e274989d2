"""Notebook 05: the k-means image tokenizer and the shared image + text vocabulary."""

from __future__ import annotations

import pytest
import torch

from mmobjectives import data
from mmobjectives.data import ImageTokenizer, MultimodalVocabulary, Tokenizer


@pytest.fixture(scope="module")
def digits():
    return data.load_digits()


@pytest.fixture(scope="module")
def tokenizer(digits):
    return ImageTokenizer(patch_size=2, codebook_size=32).fit(digits.x_train, seed=0)


def test_patches_are_the_image_cut_into_blocks():
    x = torch.arange(16.0).reshape(1, 1, 4, 4)
    tok = ImageTokenizer(2, 2)
    u = tok.patches(x)
    assert u.shape == (1, 2, 2, 4)
    torch.testing.assert_close(u[0, 0, 1], torch.tensor([2.0, 3.0, 6.0, 7.0]))
    torch.testing.assert_close(u[0, 1, 0], torch.tensor([8.0, 9.0, 12.0, 13.0]))


def test_encode_decode_shapes_and_codes(tokenizer, digits):
    codes = tokenizer.encode(digits.x_test)
    assert codes.shape == (len(digits.x_test), 4, 4) and codes.dtype == torch.int64
    assert int(codes.min()) >= 0 and int(codes.max()) < 32
    images = tokenizer.decode(codes)
    assert images.shape == digits.x_test.shape
    torch.testing.assert_close(tokenizer.decode(tokenizer.flatten(codes)), images)
    torch.testing.assert_close(tokenizer.unflatten(tokenizer.flatten(codes)), codes)
    assert tokenizer.tokens_per_image == 16 and tokenizer.grid_shape == (4, 4)
    # decoding gives centroids, and encoding them gives the same codes back
    torch.testing.assert_close(tokenizer.encode(images), codes)


def test_encode_is_the_nearest_centroid(tokenizer, digits):
    u = tokenizer.patches(digits.x_test[:20]).reshape(-1, 4)
    brute = torch.stack([((u - c) ** 2).sum(1) for c in tokenizer.codebook], dim=1).argmin(1)
    torch.testing.assert_close(tokenizer.encode(digits.x_test[:20]).reshape(-1), brute)


def test_reconstruction_error_bound(tokenizer, digits):
    # 32 codes for 2x2 patches: the mean squared error per pixel stays under 0.012 on held-out digits, under a
    # tenth of the pixel variance (0.14), and a bigger codebook does better
    err = tokenizer.reconstruction_error(digits.x_test)
    assert err < 0.012
    assert err < 0.1 * float(digits.x_test.var())
    bigger = ImageTokenizer(2, 128).fit(digits.x_train, seed=0).reconstruction_error(digits.x_test)
    assert bigger < err


def test_codes_are_ordered_by_intensity(tokenizer):
    means = tokenizer.codebook.mean(1)
    assert bool((means[1:] >= means[:-1]).all())


def test_fit_is_reproducible(digits):
    a = ImageTokenizer(2, 16).fit(digits.x_train[:300], seed=3)
    b = ImageTokenizer(2, 16).fit(digits.x_train[:300], seed=3)
    torch.testing.assert_close(a.codebook, b.codebook)


def test_image_tokenizer_bad_inputs(tokenizer):
    with pytest.raises(ValueError, match="patch_size"):
        ImageTokenizer(0, 8)
    with pytest.raises(ValueError, match="call fit"):
        ImageTokenizer(2, 8).encode(torch.zeros(1, 1, 8, 8))
    with pytest.raises(ValueError, match="divisible by patch_size=3"):
        ImageTokenizer(3, 2).fit(torch.rand(4, 1, 8, 8))
    with pytest.raises(ValueError, match="8×8"):
        tokenizer.encode(torch.zeros(2, 1, 6, 6))
    with pytest.raises(ValueError, match="codebook_size"):
        ImageTokenizer(2, 8).fit(torch.zeros(3, 1, 4, 4))
    with pytest.raises(ValueError, match="one channel"):
        tokenizer.encode(torch.zeros(2, 3, 8, 8))
    with pytest.raises(ValueError, match="finite"):
        tokenizer.encode(torch.full((1, 1, 8, 8), float("nan")))
    with pytest.raises(ValueError, match=r"codes in \[0, 31\]"):
        tokenizer.decode(torch.full((1, 4, 4), 32))
    with pytest.raises(TypeError, match="integer"):
        tokenizer.decode(torch.zeros(1, 4, 4))
    with pytest.raises(ValueError, match=r"\(N, 4, 4\) or \(N, 16\)"):
        tokenizer.decode(torch.zeros(1, 5, dtype=torch.long))


# --------------------------------------------------------------------------- the shared vocabulary


@pytest.fixture()
def vocab():
    return MultimodalVocabulary(Tokenizer(), codebook_size=5, image_tokens=3)


def _text(words):
    return Tokenizer().encode(words)


def test_vocabulary_layout(vocab):
    t = Tokenizer().vocab_size
    assert (vocab.img, vocab.end_img, vocab.txt, vocab.end_txt) == (t, t + 1, t + 2, t + 3)
    assert vocab.vocab_size == t + 4 + 5
    codes = torch.tensor([[0, 4, 2]])
    seq = vocab.image_first(codes, _text(["a bold seven"]))
    assert vocab.token_names(seq[0]) == ["<img>", "#0", "#4", "#2", "</img>", "<txt>", "a", "bold", "seven", "</txt>"]
    seq = vocab.text_first(_text(["a bold seven"]), codes)
    assert vocab.token_names(seq[0]) == ["<txt>", "a", "bold", "seven", "</txt>", "<img>", "#0", "#4", "#2", "</img>"]
    assert vocab.modality(seq[0]).tolist() == [3, 1, 1, 1, 3, 3, 2, 2, 2, 3]


def test_sequences_are_padded_and_read_back(vocab):
    codes = torch.tensor([[0, 1, 2], [3, 4, 0]])
    captions = ["a seven", "the digit one, thin"]
    seqs = vocab.image_first(codes, _text(captions))
    assert seqs.shape == (2, 3 + 4 + 5)
    assert seqs[0, -3:].tolist() == [0, 0, 0]
    assert vocab.caption_of(seqs) == captions
    torch.testing.assert_close(vocab.image_codes_of(seqs), codes)
    seqs = vocab.text_first(_text(captions), codes)
    assert vocab.caption_of(seqs) == captions
    torch.testing.assert_close(vocab.image_codes_of(seqs), codes)


def test_prompts_are_prefixes_of_the_sequences(vocab):
    codes = torch.tensor([[0, 1, 2], [3, 4, 0]])
    text = _text(["a seven", "a three"])
    full = vocab.image_first(codes, text)
    prompt = vocab.image_prompt(codes)
    torch.testing.assert_close(full[:, : prompt.shape[1]], prompt)
    full = vocab.text_first(text, codes)
    prompt = vocab.text_prompt(text)
    torch.testing.assert_close(full[:, : prompt.shape[1]], prompt)
    with pytest.raises(ValueError, match="one length"):
        vocab.text_prompt(_text(["a seven", "a big seven"]))


def test_allowed_next_follows_the_format(vocab):
    codes = torch.tensor([[0, 1, 2]])
    seq = vocab.image_first(codes, _text(["a seven"]))  # <img> #0 #1 #2 </img> <txt> a seven </txt>
    allowed = vocab.allowed_next(seq)[0]
    image_ids = set(range(vocab.image_offset, vocab.vocab_size))
    for t in range(3):  # after <img>, #0, #1: any code
        assert set(allowed[t].nonzero().flatten().tolist()) == image_ids
    assert allowed[3].nonzero().flatten().tolist() == [vocab.end_img]
    assert allowed[4].nonzero().flatten().tolist() == [vocab.txt]
    for t in (5, 6, 7):  # inside the caption: words or </txt>, no markers, codes, or specials
        ids = set(allowed[t].nonzero().flatten().tolist())
        assert vocab.end_txt in ids and vocab.txt not in ids and not ids & image_ids
        assert not ids & {Tokenizer.pad_id, Tokenizer.bos_id, Tokenizer.eos_id, Tokenizer.unk_id}
        assert len(ids) == Tokenizer().vocab_size - 4 + 1
    assert allowed[8].nonzero().flatten().tolist() == [vocab.pad]
    # every real next token is allowed
    nxt = seq[0, 1:]
    assert bool(allowed[torch.arange(len(nxt)), nxt].all())
    seq = vocab.text_first(_text(["a seven"]), codes)
    allowed = vocab.allowed_next(seq)[0]
    assert allowed[3].nonzero().flatten().tolist() == [vocab.img]
    assert allowed[-1].nonzero().flatten().tolist() == [vocab.pad]
    nxt = seq[0, 1:]
    assert bool(allowed[torch.arange(len(nxt)), nxt].all())


def test_mask_logits_gives_disallowed_tokens_zero_probability(vocab):
    codes = torch.tensor([[0, 1, 2]])
    seq = vocab.image_first(codes, _text(["a seven"]))
    logits = torch.randn(1, seq.shape[1], vocab.vocab_size)
    masked = vocab.mask_logits(logits, seq)
    assert bool(torch.isfinite(masked).all())
    probs = masked.softmax(-1)
    allowed = vocab.allowed_next(seq)
    assert float(probs[~allowed].abs().max()) == 0.0
    torch.testing.assert_close(probs.sum(-1), torch.ones(1, seq.shape[1]))
    torch.testing.assert_close(vocab.next_token_mask(seq[:, :4]), allowed[:, 3])


def test_vocabulary_bad_inputs(vocab):
    with pytest.raises(TypeError, match="text_tokenizer"):
        MultimodalVocabulary("words", 5, 3)
    with pytest.raises(ValueError, match="image_codes"):
        vocab.image_first(torch.tensor([[0, 1]]), _text(["a seven"]))
    with pytest.raises(ValueError, match="image_codes"):
        vocab.image_first(torch.tensor([[0, 1, 5]]), _text(["a seven"]))
    with pytest.raises(ValueError, match="image_codes"):
        vocab.image_first(torch.tensor([[0, 1, 2]]), _text(["a seven", "a one"]))
    with pytest.raises(TypeError, match="tokens"):
        vocab.allowed_next(torch.zeros(1, 3))
    with pytest.raises(ValueError, match="tokens"):
        vocab.allowed_next(torch.full((1, 3), vocab.vocab_size))
    with pytest.raises(ValueError, match="no <img>"):
        vocab.image_codes_of(vocab.text_prompt(_text(["a seven"]))[:, :-1])
    with pytest.raises(ValueError, match="logits"):
        vocab.mask_logits(torch.zeros(1, 2, 3), torch.zeros(1, 2, dtype=torch.long))


def test_targets_ignore_padding_and_unprompted_images(vocab):
    codes = torch.tensor([[0, 1, 2]])
    img_first = vocab.image_first(codes, _text(["a seven"]))
    img_first = torch.cat([img_first, torch.zeros(1, 2, dtype=torch.long)], dim=1)  # two pads
    t = vocab.targets(img_first)
    assert t[0, -2:].tolist() == [-100, -100]
    assert t[0, 1:4].tolist() == [-100, -100, -100]  # the codes of an image-first sequence
    assert t[0, 4:-2].tolist() == img_first[0, 4:-2].tolist()
    t = vocab.targets(img_first, score_unprompted_images=True)
    assert t[0, 1:4].tolist() == img_first[0, 1:4].tolist()
    txt_first = vocab.text_first(_text(["a seven"]), codes)
    assert vocab.targets(txt_first).tolist() == txt_first.tolist()  # nothing to ignore


def test_nll_by_modality_against_a_hand_count(vocab):
    from mmobjectives.losses import autoregressive_nll
    from mmobjectives.metrics import nll_by_modality

    codes = torch.tensor([[0, 1, 2], [3, 4, 0]])
    seqs = torch.cat([vocab.image_first(codes[:1], _text(["a seven"])), vocab.text_first(_text(["a one"]), codes[1:])])
    logits = vocab.mask_logits(torch.randn(2, seqs.shape[1], vocab.vocab_size, dtype=torch.float64), seqs)
    targets = vocab.targets(seqs)
    got = nll_by_modality(logits, seqs, targets, vocab)
    per = -torch.log_softmax(logits[:, :-1], -1).gather(2, seqs[:, 1:, None])[..., 0]
    # text: 'a', 'seven', '</txt>' of row 0 and 'a', 'one', '</txt>' of row 1; image: the 3 codes of row 1
    text = torch.cat([per[0, 5:8], per[1, 0:3]])
    image = per[1, 4:7]
    assert got["text"] == pytest.approx(float(text.mean()))
    assert got["image"] == pytest.approx(float(image.mean()))
    assert got["all"] == pytest.approx(float(autoregressive_nll(logits, targets)))
    # the forced markers cost nothing under the mask
    assert float(per[0, 3]) == pytest.approx(0.0, abs=1e-12)  # </img> after the last code
    with pytest.raises(TypeError, match="vocab"):
        nll_by_modality(logits, seqs, targets, "vocab")
