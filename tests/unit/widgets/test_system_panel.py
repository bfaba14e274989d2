"""Notebook 07's round trip (text → image → text) and its panel, on tiny untrained models: shapes, the CLIP score
as the mean of ``metrics.clip_score``, and clear errors for the wrong parts."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from mmobjectives import data, experiments, metrics, models, recipes, sampling, widgets


@pytest.fixture(scope="module")
def system() -> experiments.System:
    pairs = data.paired_digits(data.load_digits(), seed=0)
    g = torch.Generator().manual_seed(0)
    clip = models.DualEncoder(
        models.ImageEncoder(out_dim=8, image_size=8), models.TextEncoder(pairs.tokenizer.vocab_size, out_dim=8)
    ).eval()
    diffusion = models.TextConditionedEpsNet(image_size=8, cond_dim=8, hidden=16, n_layers=1).eval()
    tok = data.ImageTokenizer(2, 8).fit(pairs.images_train[:300], seed=0)
    seqs = recipes.multimodal_sequences(pairs, tok, shifted_copy=False)
    gpt = models.TinyGPT(seqs.vocab.vocab_size, d_model=16, n_layers=1, n_heads=2, max_len=seqs.max_len).eval()
    captioner, _ = recipes.fit_captioner(pairs, steps=1, generator=g, device="cpu")
    return experiments.System(clip, diffusion, sampling.VPSchedule("linear"), gpt, seqs, captioner)


def test_round_trip_shapes_and_scores(system: experiments.System) -> None:
    out = experiments.round_trip("the digit 7", 1.0, 0, system=system, n=2, n_steps=4)
    assert out.diffusion_images.shape == out.gpt_images.shape == (2, 1, 8, 8)
    assert len(out.diffusion_captions) == len(out.gpt_captions) == 2
    cond = recipes.text_embeddings(system.clip, system.sequences.vocab.text.encode(["the digit 7"])).expand(2, -1)
    with torch.no_grad():
        expected = float(metrics.clip_score(system.clip.encode_a(out.diffusion_images), cond).mean())
    assert out.diffusion_clip == pytest.approx(expected, abs=1e-6)
    again = experiments.round_trip("the digit 7", 1.0, 0, system=system, n=2, n_steps=4)
    assert torch.equal(again.diffusion_images, out.diffusion_images), "one seed, one result"


def test_system_and_round_trip_name_the_wrong_part(system: experiments.System) -> None:
    with pytest.raises(TypeError, match="gpt must be a"):
        dataclasses.replace(system, gpt=system.captioner)
    with pytest.raises(TypeError, match="system"):
        experiments.round_trip("the digit 7", 1.0, 0, system=system.clip)
    with pytest.raises(ValueError, match="caption"):
        experiments.round_trip("  ", 1.0, 0, system=system)
    with pytest.raises(TypeError, match="system"):
        widgets.round_trip_panel(["the digit 7"], {"clip": system.clip})


def test_round_trip_panel_reacts_to_its_controls(system: experiments.System) -> None:
    panel = widgets.round_trip_panel(["the digit 1", "the digit 7"], system, n=1, n_steps=3, strict=True)
    panel.controls["caption"].value = "the digit 7"
    panel.controls["w"].value = 0.5
    assert panel.result.caption == "the digit 7" and panel.result.w == 0.5
    assert "the digit 7" in panel.summary.value and "w = 0.5" in panel.summary.value
