"""The shared training recipes (notebooks 01, 02, 05, 07): shapes, modes, and the multimodal training set."""

from __future__ import annotations

import pytest
import torch

from mmobjectives import data, models, recipes


@pytest.fixture(scope="module")
def pairs():
    return data.paired_digits(data.load_digits(), seed=0)


def test_fit_clip_and_captioner_return_trained_eval_models(pairs):
    g = torch.Generator().manual_seed(0)
    clip, history = recipes.fit_clip(pairs, steps=3, generator=g, device="cpu")
    assert isinstance(clip, models.DualEncoder) and not clip.training and history.steps == 3
    captioner, history = recipes.fit_captioner(pairs, steps=2, generator=g, device="cpu")
    assert isinstance(captioner, models.Captioner) and not captioner.training and history.steps == 2


def test_fit_vqa(pairs):
    qa = data.digit_questions(generator=torch.Generator().manual_seed(0))
    vqa, history = recipes.fit_vqa(qa, steps=2, generator=torch.Generator().manual_seed(0), device="cpu")
    assert isinstance(vqa, models.VQAModel) and history.steps == 2


def test_multimodal_sequences_layout(pairs):
    tok = data.ImageTokenizer(2, 8).fit(pairs.images_train[:300], seed=0)
    seqs = recipes.multimodal_sequences(pairs, tok)
    n = len(pairs.captions_train)
    vocab = seqs.vocab
    assert seqs.tokens.shape[0] == 4 * n
    assert seqs.allowed.shape == (*seqs.tokens.shape, vocab.vocab_size)
    # block 1: image first with the original images; block 2: shifted; block 3: text first; block 4: class names
    torch.testing.assert_close(vocab.image_codes_of(seqs.tokens[:n]), seqs.image_codes(pairs.images_train))
    torch.testing.assert_close(
        vocab.image_codes_of(seqs.tokens[n : 2 * n]), seqs.image_codes(pairs.images_train, (0, 1))
    )
    assert vocab.caption_of(seqs.tokens[2 * n : 2 * n + 3]) == [" ".join(c.split()) for c in pairs.captions_train[:3]]
    assert vocab.caption_of(seqs.tokens[3 * n : 3 * n + 2]) == [
        data.class_caption(int(y)) for y in pairs.labels_train[:2]
    ]
    torch.testing.assert_close(seqs.targets, vocab.targets(seqs.tokens))
    assert recipes.multimodal_sequences(pairs, tok, shifted_copy=False, class_captions=False).tokens.shape[0] == 2 * n


def test_fit_multimodal_gpt_runs_and_checks_inputs(pairs):
    tok = data.ImageTokenizer(2, 8).fit(pairs.images_train[:300], seed=0)
    seqs = recipes.multimodal_sequences(pairs, tok, shifted_copy=False, class_captions=False)
    gpt, history = recipes.fit_multimodal_gpt(
        seqs, steps=2, d_model=16, generator=torch.Generator().manual_seed(0), device="cpu"
    )
    assert gpt.max_len == seqs.max_len and history.steps == 2 and not gpt.training
    with pytest.raises(TypeError, match="sequences"):
        recipes.fit_multimodal_gpt(seqs.tokens, steps=1)
    with pytest.raises(TypeError, match="pairs"):
        recipes.fit_clip("pairs", steps=1)
    with pytest.raises(TypeError, match="image_tokenizer"):
        recipes.multimodal_sequences(pairs, data.ImageTokenizer(2, 8))


def test_caption_and_generate_with_an_untrained_gpt_are_well_formed(pairs):
    tok = data.ImageTokenizer(2, 8).fit(pairs.images_train[:300], seed=0)
    seqs = recipes.multimodal_sequences(pairs, tok, shifted_copy=False)
    gpt = models.TinyGPT(seqs.vocab.vocab_size, d_model=16, n_layers=1, n_heads=2, max_len=seqs.max_len).eval()
    captions = recipes.caption_images(gpt, seqs, pairs.images_test[:3])
    assert len(captions) == 3 and all(isinstance(c, str) for c in captions)
    assert all(w in pairs.tokenizer.token_to_id for c in captions for w in c.split())
    text = pairs.tokenizer.encode([data.class_caption(k) for k in (1, 7)])
    images = recipes.generate_images(gpt, seqs, text, generator=torch.Generator().manual_seed(0))
    assert images.shape == (2, 1, 8, 8)
    assert recipes.digits_named(["a bold seven", "a thin 3", "nothing here"]).tolist() == [7, 3, -1]
    with pytest.raises(TypeError, match="captions"):
        recipes.digits_named("a seven")


def test_fit_class_diffusion(pairs):
    from mmobjectives import sampling

    model, history = recipes.fit_class_diffusion(
        pairs.images_train[:64],
        pairs.labels_train[:64],
        sampling.VPSchedule("linear"),
        steps=2,
        hidden=16,
        n_layers=1,
        p_uncond=0.3,
        generator=torch.Generator().manual_seed(0),
        device="cpu",
    )
    assert isinstance(model, models.ConditionalEpsNet) and history.steps == 2 and not model.training
    assert model.p_uncond == 0.3  # passed on to the model (as fit_text_to_image does)
    with pytest.raises(ValueError, match="images"):
        recipes.fit_class_diffusion(
            pairs.images_train[:4, 0], pairs.labels_train[:4], sampling.VPSchedule("linear"), steps=1
        )
    with pytest.raises(ValueError, match=r"p_uncond must be in \[0, 1\], got 1.5"):
        recipes.fit_class_diffusion(
            pairs.images_train[:4], pairs.labels_train[:4], sampling.VPSchedule("linear"), steps=1, p_uncond=1.5
        )


@pytest.mark.parametrize(
    ("labels", "match"),
    [
        ([0, 1, 2, 3], r"labels must be a torch.Tensor of integer class labels \(4,\), got list"),
        (torch.rand(4), r"labels must hold integer class labels \(4,\).*float32"),
        (torch.tensor([0, 1, -1, 2]), r"labels must be class labels in \[0, 2\], got values in \[-1, 2\]"),
        (torch.tensor([0, 1, 2]), r"labels must be \(4,\) integer class labels, one per image, got .*shape \(3,\)"),
    ],
)
def test_fit_class_diffusion_names_bad_labels_before_training(pairs, labels, match, capsys):
    from mmobjectives import sampling

    with pytest.raises(ValueError, match=match):
        recipes.fit_class_diffusion(pairs.images_train[:4], labels, sampling.VPSchedule("linear"), steps=1)
    assert "conditional diffusion" not in capsys.readouterr().err  # refused before the progress bar starts


def test_text_to_image_recipe_shapes(pairs):
    from mmobjectives import sampling

    g = torch.Generator().manual_seed(0)
    clip, _ = recipes.fit_clip(pairs, steps=1, embed_dim=8, generator=g, device="cpu")
    vp = sampling.VPSchedule("linear")
    model, history = recipes.fit_text_to_image(
        clip,
        pairs.images_train[:64],
        pairs.tokens_train[:64],
        vp,
        steps=2,
        hidden=16,
        n_layers=1,
        generator=g,
        device="cpu",
    )
    assert model.cond_dim == 8 and history.steps == 2
    cond = recipes.text_embeddings(clip, pairs.tokens_test[:3])
    images = recipes.sample_text_to_image(model, cond, vp, w=1.0, n_steps=5, generator=g)
    assert images.shape == (3, 1, 8, 8) and float(images.min()) >= 0 and float(images.max()) <= 1
    with pytest.raises(ValueError, match="text_tokens"):
        recipes.fit_text_to_image(clip, pairs.images_train[:4], pairs.tokens_train[:3], vp, steps=1)
    with pytest.raises(TypeError, match="model"):
        recipes.sample_text_to_image(clip, cond, vp)


def test_generate_images_groups_captions_of_different_lengths(pairs):
    tok = data.ImageTokenizer(2, 8).fit(pairs.images_train[:300], seed=0)
    seqs = recipes.multimodal_sequences(pairs, tok, shifted_copy=False)
    gpt = models.TinyGPT(seqs.vocab.vocab_size, d_model=16, n_layers=1, n_heads=2, max_len=seqs.max_len).eval()
    text = pairs.tokenizer.encode(["the digit one", "a small bold seven slanted right", "the digit two"])
    images = recipes.generate_images(gpt, seqs, text, generator=torch.Generator().manual_seed(0))
    assert images.shape == (3, 1, 8, 8)
    # each row is what prompting with that caption alone gives (same generator state per group is not
    # guaranteed, so compare shapes and the code range only)
    assert float(images.min()) >= 0


def test_fit_judge_learns_digits_and_is_left_in_eval_mode_on_cpu() -> None:
    digits = data.load_digits()
    judge = recipes.fit_judge(
        digits.x_train, digits.y_train, steps=150, generator=torch.Generator().manual_seed(0), device="cpu"
    )
    assert not judge.training
    assert next(judge.parameters()).device.type == "cpu"
    with torch.no_grad():
        accuracy = (judge(digits.x_test).argmax(1) == digits.y_test).float().mean().item()
    assert accuracy > 0.85  # 150 steps already separate the ten digits; the notebooks train 1000


def test_fit_judge_bad_inputs() -> None:
    with pytest.raises(ValueError, match="x_train"):
        recipes.fit_judge(torch.zeros(4, 8, 8), torch.zeros(4, dtype=torch.long), steps=1)
    with pytest.raises(ValueError, match="y_train"):
        recipes.fit_judge(torch.zeros(4, 1, 8, 8), torch.zeros(3, dtype=torch.long), steps=1)
    with pytest.raises(ValueError, match="y_train"):
        recipes.fit_judge(torch.zeros(4, 1, 8, 8), torch.zeros(4), steps=1)
    # an out-of-range label is named as the caller passed it (y_train), not as the loss's ``target``
    with pytest.raises(ValueError, match=r"y_train must be class labels in \[0, 2\], got values in \[-1, 2\]"):
        recipes.fit_judge(torch.zeros(4, 1, 8, 8), torch.tensor([0, 1, 2, -1]), steps=1)
    with pytest.raises(ValueError, match="y_train"):
        recipes.fit_judge(torch.zeros(4, 1, 8, 8), torch.ones(4, dtype=torch.bool), steps=1)


def test_fit_judge_is_a_recipe_not_part_of_train() -> None:
    from mmobjectives import train

    assert not hasattr(train, "fit_judge")  # a recipe: it lives above train, in recipes
    assert recipes.fit_judge.__module__ == "mmobjectives.recipes.judge"


def test_fit_judge_is_fit_classifiers_model_and_fit_classifier_reports_its_history() -> None:
    digits = data.load_digits()
    torch.manual_seed(0)
    judge = recipes.fit_judge(digits.x_train, digits.y_train, steps=3, generator=torch.Generator().manual_seed(0))
    torch.manual_seed(0)
    model, history = recipes.fit_classifier(
        digits.x_train, digits.y_train, steps=3, generator=torch.Generator().manual_seed(0)
    )
    assert history.steps == 3 and history.seconds > 0 and not model.training
    for (name, a), b in zip(judge.state_dict().items(), model.state_dict().values()):
        assert torch.equal(a, b), name


# --- the recipes' training losses against independent formulas ----------------------------------------------------


def test_clip_loss_is_symmetric_infonce_of_the_towers_embeddings_with_its_gradient(pairs):
    torch.manual_seed(0)
    clip = models.DualEncoder(
        models.ImageEncoder(out_dim=8, image_size=pairs.images_train.shape[-1]),
        models.TextEncoder(pairs.tokenizer.vocab_size, out_dim=8),
        init_temperature=0.1,
    ).double()
    images, tokens = pairs.images_train[:12].double(), pairs.tokens_train[:12]
    got = recipes.clip_loss(clip, (images, tokens))
    params = list(clip.parameters())  # both towers and the temperature
    grads_got = torch.autograd.grad(got, params)

    # oracle: unit embeddings a_i, b_j; S_ij = <a_i, b_j>/τ; ½ mean_i (−log softmax_j S_ij[i] − log softmax_i S_ij[j])
    a = torch.nn.functional.normalize(clip.encoder_a(images), dim=1)
    b = torch.nn.functional.normalize(clip.encoder_b(tokens), dim=1)
    s = a @ b.T * clip.log_logit_scale.exp()  # 1/τ = exp(log logit scale), below its clamp here
    want = 0.5 * (-s.log_softmax(dim=1).diagonal().mean() - s.log_softmax(dim=0).diagonal().mean())
    grads_want = torch.autograd.grad(want, params)
    torch.testing.assert_close(got, want, rtol=0, atol=1e-12)
    for g_got, g_want in zip(grads_got, grads_want, strict=True):
        torch.testing.assert_close(g_got, g_want, rtol=1e-9, atol=1e-12)


def test_clip_loss_names_a_bad_model_or_batch(pairs):
    with pytest.raises(TypeError, match="model must be a models.DualEncoder, got Linear"):
        recipes.clip_loss(torch.nn.Linear(2, 2), (pairs.images_train[:2], pairs.tokens_train[:2]))
    clip = models.DualEncoder(models.ImageEncoder(out_dim=4), models.TextEncoder(pairs.tokenizer.vocab_size, out_dim=4))
    with pytest.raises(
        TypeError, match=r"batch must be a tuple \(images, tokens\) of 2 tensors, got a torch.float32 tensor"
    ):
        recipes.clip_loss(clip, pairs.images_train[:2])
    with pytest.raises(TypeError, match=r"its tokens is list"):
        recipes.clip_loss(clip, (pairs.images_train[:2], [[1, 2], [3, 4]]))


def test_multimodal_loss_is_the_masked_next_token_nll_of_the_scored_targets(pairs):
    tok = data.ImageTokenizer(2, 8).fit(pairs.images_train[:300], seed=0)
    seqs = recipes.multimodal_sequences(pairs, tok, shifted_copy=False, class_captions=False)
    vocab = seqs.vocab
    torch.manual_seed(0)
    gpt = models.TinyGPT(vocab.vocab_size, d_model=16, n_layers=1, n_heads=2, max_len=seqs.max_len, dropout=0.0)
    batch = (seqs.tokens[:6], seqs.allowed[:6], seqs.targets[:6])
    got = recipes.multimodal_loss(gpt, batch, vocab)

    # oracle: disallowed next tokens get probability 0; position t scores target t+1 unless it is ignored (−100)
    logits = gpt(batch[0])
    log_p = logits.masked_fill(~batch[1], float("-inf")).log_softmax(dim=-1)[:, :-1]  # (N, L-1, V)
    target = batch[2][:, 1:]
    scored = target != -100
    nll = -log_p.gather(-1, target.clamp(min=0)[..., None]).squeeze(-1)
    want = nll[scored].mean()
    assert 0 < int(scored.sum()) < scored.numel()  # some positions are scored, some (padding, prompts) are not
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-6)


def test_multimodal_loss_names_a_bad_vocab_or_batch(pairs):
    tok = data.ImageTokenizer(2, 8).fit(pairs.images_train[:300], seed=0)
    seqs = recipes.multimodal_sequences(pairs, tok, shifted_copy=False, class_captions=False)
    gpt = models.TinyGPT(seqs.vocab.vocab_size, d_model=16, n_layers=1, n_heads=2, max_len=seqs.max_len)
    with pytest.raises(TypeError, match="vocab must be a data.MultimodalVocabulary, got NoneType"):
        recipes.multimodal_loss(gpt, (seqs.tokens, seqs.allowed, seqs.targets), None)
    with pytest.raises(TypeError, match=r"batch must be a tuple \(tokens, allowed, targets\) of 3 tensors"):
        recipes.multimodal_loss(gpt, (seqs.tokens, seqs.targets), seqs.vocab)
    with pytest.raises(TypeError, match="model must be a torch.nn.Module"):
        recipes.multimodal_loss("gpt", (seqs.tokens, seqs.allowed, seqs.targets), seqs.vocab)
