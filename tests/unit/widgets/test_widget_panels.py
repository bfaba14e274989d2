"""Panels of notebooks 02 and 03: their compute functions against independent formulas, and the UI wiring."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import torch

from mmobjectives import data, experiments, losses, metrics, models, sampling, widgets


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    import matplotlib.pyplot as plt

    plt.close("all")


# -- calibration (notebook 02) -------------------------------------------------------------------------------------
def _logits(n=200, k=5, seed=0):
    g = torch.Generator().manual_seed(seed)
    return 3 * torch.randn(n, k, generator=g), torch.randint(0, k, (n,), generator=g)


def test_calibration_matches_independent_formulas():
    z, y = _logits()
    result = experiments.calibration(z, y, temperature=2.0, smoothing=0.1, example=3)
    probs = torch.softmax(z / 2.0, dim=1)
    assert np.allclose(result.probs, probs[3].numpy(), atol=1e-6)
    expected = torch.nn.functional.cross_entropy(z / 2.0, y, label_smoothing=0.1, reduction="none")
    assert result.loss == pytest.approx(float(expected[3]), abs=1e-5)
    assert result.mean_test_loss == pytest.approx(float(expected.mean()), abs=1e-5)
    assert result.accuracy == pytest.approx(float((z.argmax(1) == y).float().mean()))
    assert result.confidence == pytest.approx(float(probs.max(1).values.mean()), abs=1e-6)
    assert result.ece == pytest.approx(metrics.expected_calibration_error(probs, y), abs=1e-9)
    assert result.label == int(y[3])


def test_calibration_temperature_never_changes_accuracy_but_changes_confidence():
    z, y = _logits()
    cold, hot = experiments.calibration(z, y, 0.5, 0.0), experiments.calibration(z, y, 5.0, 0.0)
    assert cold.accuracy == hot.accuracy
    assert cold.confidence > hot.confidence


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"temperature": 0.0}, "temperature"),
        ({"temperature": -1.0}, "temperature"),
        ({"example": 10_000}, "example"),
        ({"smoothing": 1.5}, "smoothing"),
    ],
)
def test_calibration_bad_input(kwargs, match):
    z, y = _logits()
    args = {"temperature": 1.0, "smoothing": 0.0, "example": 0} | kwargs
    with pytest.raises(ValueError, match=match):
        experiments.calibration(z, y, **args)


def test_calibration_rejects_float_labels_instead_of_truncating_them():
    z, y = _logits()
    with pytest.raises(TypeError, match=r"^labels must hold class indices"):
        experiments.calibration(z, y.float() + 0.5, 1.0, 0.0)
    with pytest.raises(TypeError, match=r"^labels"):
        experiments.calibration(z, y.numpy().astype(float), 1.0, 0.0)
    with pytest.raises(TypeError, match=r"^labels"):
        widgets.calibration_panel(z, y.float(), strict=True)
    with pytest.raises(ValueError, match=r"^labels"):
        experiments.calibration(z, torch.full_like(y, 5), 1.0, 0.0)  # 5 classes: indices 0..4
    # integer labels as a list or a numpy array are fine, and give the tensor's result
    expected = experiments.calibration(z, y, 1.5, 0.1, example=2)
    for labels in (y.tolist(), y.numpy(), y.int()):
        assert experiments.calibration(z, labels, 1.5, 0.1, example=2).loss == expected.loss


def test_calibration_carries_what_the_reliability_diagram_draws():
    z, y = _logits()
    result = experiments.calibration(z, y, 2.0, 0.0)
    assert np.allclose(result.all_probs, torch.softmax(z / 2.0, dim=1).numpy())
    assert np.array_equal(result.all_labels, y.numpy())


def test_calibration_panel_reacts_to_each_control():
    z, y = _logits()
    panel = widgets.calibration_panel(z, y, strict=True)
    before = panel.summary.value
    panel.controls["temperature"].value = 3.0
    assert panel.result.temperature == pytest.approx(3.0)
    assert panel.summary.value != before and "τ = 3.00" in panel.summary.value
    panel.controls["smoothing"].value = 0.2
    assert panel.result.smoothing == pytest.approx(0.2)
    panel.controls["example"].value = 7
    assert panel.result.example == 7
    assert panel.exercise() >= 7


# -- mixture field (notebook 03) -----------------------------------------------------------------------------------
def test_mixture_field_score_at_origin_is_the_exact_score():
    result = experiments.mixture_field(0.3, 4.0, 1.5)
    mix = data.two_modes(0.3, 4.0, 1.5)
    assert np.allclose(result.score_at_origin, mix.score(torch.zeros(1, 2, dtype=torch.float64))[0].numpy())
    # the heavier mode is at (+4, +4): the score at the origin points towards it
    assert result.score_at_origin[0] > 0 and result.score_at_origin[1] > 0


def test_mixture_field_bad_weight():
    with pytest.raises(ValueError, match="weight_left"):
        experiments.mixture_field(1.5, 4.0, 1.0)


def test_score_field_panel_reacts():
    panel = widgets.score_field_panel(strict=True)
    panel.controls["weight_left"].value = 0.9
    assert float(panel.result.mixture.weights[0]) == pytest.approx(0.9)
    assert "0.90 / 0.10" in panel.summary.value
    assert panel.result.score_at_origin[0] < 0  # now the left mode is heavier


# -- learned vs analytic score (notebook 03) -----------------------------------------------------------------------
def test_score_error_of_the_exact_score_is_zero_and_of_zero_is_one():
    ring = data.ring()

    def exact(x, sigma):
        return ring.noised(float(sigma[0])).score(x.double()).float()

    def zero(x, sigma):
        return torch.zeros_like(x)

    good = experiments.score_error(exact, ring, 0.5, n_grid=11, n_samples=500)
    assert good.relative_fisher < 1e-10
    assert good.error.max() < 1e-3
    bad = experiments.score_error(zero, ring, 0.5, n_grid=11, n_samples=500)
    assert bad.relative_fisher == pytest.approx(1.0)
    assert bad.true_field.shape == (121, 2) and bad.error.shape == (11, 11)


def test_noise_level_panel_switches_sigma():
    ring = data.ring()
    net = models.ScoreNet(2, 16, 1, noise_conditional=True)
    panel = widgets.noise_level_panel(net, ring, sigmas=(0.2, 1.0), value=0.2, strict=True)
    panel.controls["sigma"].value = 1.0
    assert panel.result.sigma == 1.0
    assert "σ = 1" in panel.summary.value


# -- Langevin (notebook 03) ----------------------------------------------------------------------------------------
def test_langevin_run_reaches_the_target_with_a_good_step_and_not_with_a_tiny_one():
    target = data.GaussianMixture([[0.0, 0.0]], 1.0)
    good = experiments.langevin_run(0.05, 300, target, n_chains=2000, start_lim=6.0)
    tiny = experiments.langevin_run(1e-4, 10, target, n_chains=2000, start_lim=6.0)
    assert abs(good.mean_log_p - good.reference_log_p) < 0.1
    assert tiny.mean_log_p < good.mean_log_p - 1.0
    assert good.samples.shape == (2000, 2)
    # the reference is the mean log-density of exact samples: -log(2π) - 1 for a standard 2-D Gaussian
    assert good.reference_log_p == pytest.approx(-math.log(2 * math.pi) - 1.0, abs=0.1)


def test_langevin_panel_reacts():
    panel = widgets.langevin_panel(data.ring(), n_chains=100, strict=True)
    panel.controls["n_steps"].value = 20
    assert panel.result.n_steps == 20
    assert "20 steps" in panel.summary.value


def test_losses_used_by_the_calibration_widget_is_the_package_ce():
    z, y = _logits(n=10)
    result = experiments.calibration(z, y, 1.0, 0.0, example=0)
    assert result.loss == pytest.approx(float(losses.cross_entropy(z, y, reduction="none")[0]), abs=1e-6)


# -- notebook 04 ---------------------------------------------------------------------------------------------------
def test_forward_marginal_is_the_diffused_mixture():
    ring = data.ring()
    out = experiments.forward_marginal(0.4, "VP linear", ring)
    alpha, sigma = sampling.VPSchedule("linear").marginal(0.4)
    assert out.alpha == pytest.approx(float(alpha)) and out.sigma == pytest.approx(float(sigma))
    assert torch.allclose(out.marginal.means, float(alpha) * ring.means)
    assert torch.allclose(out.marginal.stds, torch.sqrt(float(alpha) ** 2 * ring.stds**2 + float(sigma) ** 2))
    with pytest.raises(ValueError, match="kind"):
        experiments.forward_marginal(0.4, "VX", ring)


def test_analytic_diffusion_score_matches_the_diffused_mixture():
    ring = data.ring()
    vp = sampling.VPSchedule("cosine")
    score = sampling.analytic_diffusion_score(ring, vp)
    x = torch.randn(7, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    alpha, sigma = vp.marginal(0.6)
    assert torch.allclose(
        score(x, torch.full((7,), 0.6, dtype=torch.float64)), ring.diffused(float(alpha), float(sigma)).score(x)
    )
    # a float32 time differs from 0.6 in the 8th digit: the score then agrees to single precision only
    assert torch.allclose(
        score(x, torch.full((7,), 0.6)), ring.diffused(float(alpha), float(sigma)).score(x), rtol=1e-5
    )


@pytest.mark.parametrize("sampler", sampling.SAMPLERS)
def test_every_sampler_with_the_exact_score_lands_near_the_floor_and_few_steps_do_worse(sampler):
    target = data.GaussianMixture([[2.0, -1.0]], 0.5)  # not the N(0, I) prior, so one step cannot be exact
    good = experiments.run_sampler(sampler, 200, target, n=600, seed=0)
    assert good.samples.shape == (600, 2)
    assert good.energy / good.floor < 4.0
    assert abs(good.samples.mean(0) - [2.0, -1.0]).max() < 0.15 and abs(good.samples.std(0) - 0.5).max() < 0.1
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # one DDPM step does not reach the N(0, I) prior: it warns
        bad = experiments.run_sampler(sampler, 1, target, n=600, seed=0)
    assert bad.energy > good.energy


def test_run_sampler_rejects_unknown_sampler():
    with pytest.raises(ValueError, match="sampler"):
        experiments.run_sampler("Euler", 10, data.ring())


def test_sampler_and_forward_panels_react():
    ring = data.ring()
    panel = widgets.sampler_panel(ring, n=200, strict=True)
    panel.controls["sampler"].value = "DDPM"
    assert panel.result.sampler == "DDPM" and "DDPM" in panel.summary.value
    forward = widgets.forward_process_panel(ring, strict=True)
    forward.controls["t"].value = 1.0
    assert forward.result.t == 1.0 and "t = 1.00" in forward.summary.value


def test_guided_digits_shapes_accuracy_and_panel():
    model = models.ConditionalEpsNet(image_size=8, n_classes=3, hidden=16, n_layers=1)
    classifier = models.ImageEncoder(out_dim=3, image_size=8)
    vp = sampling.VPSchedule("linear")
    out = experiments.guided_digits(1.0, model, classifier, vp, n_per_class=2, n_steps=5)
    assert out.images.shape == (6, 1, 8, 8) and float(out.images.min()) >= 0 and float(out.images.max()) <= 1
    assert out.prompts.tolist() == [0, 0, 1, 1, 2, 2]
    assert out.accuracy == pytest.approx(float((out.predicted == out.prompts).float().mean()))
    with pytest.raises(ValueError, match="w"):
        experiments.guided_digits(-1.0, model, classifier, vp)
    panel = widgets.guidance_panel(model, classifier, vp, n_per_class=1, strict=True)
    panel.controls["w"].value = 0.0
    assert panel.result.w == 0.0 and "w = 0" in panel.summary.value
