"""Tests for mmobjectives.data.classes: Bayes' rule by hand, the conditional-entropy floor by quadrature."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from mmobjectives import data
from mmobjectives.data import GaussianClasses

MEANS = [[0.0, 0.0, 0.0], [2.0, -1.0, 0.5], [-1.5, 1.0, 3.0]]
STDS = [1.0, 0.7, 1.6]
PRIORS = [0.5, 0.3, 0.2]


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def hand_log_joint(x: np.ndarray, means: np.ndarray, stds: np.ndarray, priors: np.ndarray) -> np.ndarray:
    """log pi_k + log N(x; mu_k, std_k^2 I) from the density (2 pi std^2)^(-D/2) exp(-|x - mu|^2 / (2 std^2))."""
    d = x.shape[1]
    out = np.empty((x.shape[0], len(means)))
    for k in range(len(means)):
        sq = np.sum((x - means[k]) ** 2, axis=1)
        out[:, k] = math.log(priors[k]) - 0.5 * d * math.log(2 * math.pi * stds[k] ** 2) - sq / (2 * stds[k] ** 2)
    return out


def hand_posterior(x: np.ndarray, means: np.ndarray, stds: np.ndarray, priors: np.ndarray) -> np.ndarray:
    """Bayes' rule with plain densities: pi_k N(x; mu_k) / sum_j pi_j N(x; mu_j) (fine near the classes)."""
    d = x.shape[1]
    joint = np.empty((x.shape[0], len(means)))
    for k in range(len(means)):
        sq = np.sum((x - means[k]) ** 2, axis=1)
        joint[:, k] = priors[k] * np.exp(-sq / (2 * stds[k] ** 2)) / (2 * math.pi * stds[k] ** 2) ** (d / 2)
    return joint / joint.sum(axis=1, keepdims=True)


# --------------------------------------------------------------------------------------------------
# Construction, sampling
# --------------------------------------------------------------------------------------------------


def test_construction_accepts_array_likes_and_stores_float64() -> None:
    task = GaussianClasses(np.array(MEANS), torch.tensor(STDS, dtype=torch.float32), PRIORS)
    assert task.n_classes == 3 and task.dim == 3
    assert task.means.dtype == task.stds.dtype == task.priors.dtype == torch.float64
    uniform = GaussianClasses([[0, 0], [1, 1]], 2)  # ints, a scalar std, uniform priors
    assert torch.allclose(uniform.priors, torch.tensor([0.5, 0.5], dtype=torch.float64))
    assert torch.equal(uniform.stds, torch.tensor([2.0, 2.0], dtype=torch.float64))
    assert "K=2" in repr(uniform)


def test_sample_shapes_dtypes_and_determinism() -> None:
    task = GaussianClasses(MEANS, STDS, PRIORS)
    x, y = task.sample(500, generator=gen(1))
    assert x.shape == (500, 3) and x.dtype == torch.float64
    assert y.shape == (500,) and y.dtype == torch.int64
    x2, y2 = task.sample(500, generator=gen(1))
    assert torch.equal(x, x2) and torch.equal(y, y2)
    x0, y0 = task.sample(0)
    assert x0.shape == (0, 3) and y0.shape == (0,)


def test_sample_class_frequencies_match_priors_and_class_means() -> None:
    task = GaussianClasses(MEANS, STDS, PRIORS)
    n = 40_000
    x, y = task.sample(n, generator=gen(2))
    freq = torch.bincount(y, minlength=3).double() / n
    p = torch.tensor(PRIORS, dtype=torch.float64)
    tolerance = 5 * torch.sqrt(p * (1 - p) / n)  # five binomial standard errors
    assert bool(((freq - p).abs() < tolerance).all()), (freq, p)
    for k in range(3):
        xk = x[y == k]
        se = STDS[k] / math.sqrt(len(xk))
        assert torch.allclose(xk.mean(0), torch.tensor(MEANS[k], dtype=torch.float64), atol=5 * se)
        assert abs(float(xk.std(0).mean()) - STDS[k]) < 0.05 * STDS[k]


# --------------------------------------------------------------------------------------------------
# Bayes' rule
# --------------------------------------------------------------------------------------------------


def test_log_joint_and_posterior_match_bayes_rule_by_hand() -> None:
    task = GaussianClasses(MEANS, STDS, PRIORS)
    rng = np.random.default_rng(0)
    x = rng.normal(scale=3.0, size=(200, 3))
    m, s, p = np.array(MEANS), np.array(STDS), np.array(PRIORS)
    np.testing.assert_allclose(task.log_joint(x).numpy(), hand_log_joint(x, m, s, p), rtol=1e-12, atol=1e-12)
    post = task.posterior(torch.as_tensor(x))
    assert post.shape == (200, 3) and post.dtype == torch.float64
    np.testing.assert_allclose(post.numpy(), hand_posterior(x, m, s, p), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(post.sum(1).numpy(), 1.0, atol=1e-12)
    np.testing.assert_allclose(task.log_posterior(x).exp().numpy(), post.numpy(), atol=1e-12)


def test_posterior_is_stable_far_from_every_class() -> None:
    task = GaussianClasses(MEANS, STDS, PRIORS)
    rng = np.random.default_rng(1)
    direction = rng.normal(size=(50, 3))
    far = direction / np.linalg.norm(direction, axis=1, keepdims=True) * rng.uniform(50, 1e4, size=(50, 1))
    m, s, p = np.array(MEANS), np.array(STDS), np.array(PRIORS)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore", under="ignore"):
        naive = hand_posterior(far, m, s, p)
    assert np.isnan(naive).any(), "the naive formula should break here, or this test checks nothing"
    post = task.posterior(far).numpy()
    assert np.isfinite(post).all()
    np.testing.assert_allclose(post.sum(1), 1.0, atol=1e-12)
    # the same Bayes' rule by hand, in log space: subtract each row's largest log joint before exponentiating
    log_joint = hand_log_joint(far, m, s, p)
    shifted = np.exp(log_joint - log_joint.max(1, keepdims=True))
    np.testing.assert_allclose(post, shifted / shifted.sum(1, keepdims=True), atol=1e-12)
    # far away the widest class (std 1.6) takes all the probability
    assert (post[:, 2] > 1 - 1e-9).all()


def test_equal_widths_give_linear_log_odds_even_far_away() -> None:
    # log p(j|x) - log p(k|x) = log(pi_j/pi_k) + (mu_j - mu_k).x / s^2 - (|mu_j|^2 - |mu_k|^2) / (2 s^2)
    m, s, p = np.array([[0.0, 0.0], [1.0, 0.5]]), 0.8, np.array([0.3, 0.7])
    task = GaussianClasses(m, s, p)
    rng = np.random.default_rng(2)
    x = rng.normal(size=(100, 2)) * np.concatenate([np.full(50, 2.0), np.full(50, 40.0)])[:, None]
    expected = math.log(p[1] / p[0]) + x @ (m[1] - m[0]) / s**2 - (m[1] @ m[1] - m[0] @ m[0]) / (2 * s**2)
    log_post = task.log_posterior(x).numpy()
    assert np.isfinite(log_post).all() and np.isfinite(task.posterior(x).numpy()).all()
    np.testing.assert_allclose(log_post[:, 1] - log_post[:, 0], expected, rtol=1e-9, atol=1e-9)


def test_float32_input_gives_float32_back() -> None:
    task = GaussianClasses.default_2d()
    x = torch.randn(10, 2, generator=gen(0))
    assert task.posterior(x).dtype == torch.float32
    assert task.log_joint(x).dtype == torch.float32


def test_marginal_is_the_log_sum_exp_of_the_joint() -> None:
    task = GaussianClasses(MEANS, STDS, PRIORS)
    mixture = task.marginal()
    assert isinstance(mixture, data.GaussianMixture)
    x = torch.randn(30, 3, generator=gen(3), dtype=torch.float64)
    np.testing.assert_allclose(
        mixture.log_prob(x).numpy(), torch.logsumexp(task.log_joint(x), dim=1).numpy(), rtol=1e-12
    )


# --------------------------------------------------------------------------------------------------
# The floor: conditional entropy and Bayes accuracy
# --------------------------------------------------------------------------------------------------


def grid_answers(task: GaussianClasses, lim: float = 9.0, n: int = 401) -> tuple[float, float]:
    """H(Y|X) = -∫ Σ_k p(x, k) log p(k|x) dx and E[max_k p(k|x)] by a Riemann sum on a fine 2-D grid."""
    xs = np.linspace(-lim, lim, n)
    xx, yy = np.meshgrid(xs, xs)
    pts = np.stack([xx.ravel(), yy.ravel()], axis=1)
    m, s, p = task.means.numpy(), task.stds.numpy(), task.priors.numpy()
    log_joint = hand_log_joint(pts, m, s, p)
    top = log_joint.max(1, keepdims=True)
    log_evidence = top + np.log(np.exp(log_joint - top).sum(1, keepdims=True))
    joint, log_post = np.exp(log_joint), log_joint - log_evidence
    area = (xs[1] - xs[0]) ** 2
    assert abs(joint.sum() * area - 1) < 1e-6, "the grid must hold all the probability"
    is_best = log_post == log_post.max(1, keepdims=True)
    return float(-(joint * log_post).sum() * area), float((joint * is_best).sum() * area)


def test_default_2d_conditional_entropy_matches_a_grid_integral() -> None:
    task = GaussianClasses.default_2d()
    assert task.n_classes == 5 and task.dim == 2
    h_grid, acc_grid = grid_answers(task)
    assert 0.3 < h_grid < 0.6 and abs(h_grid - 0.459) < 0.002  # the value the docstring states
    h, se = task.conditional_entropy(n=200_000, generator=gen(4))
    assert 0 < se < 0.005
    assert abs(h - h_grid) < 4 * se, (h, se, h_grid)
    acc, acc_se = task.bayes_accuracy(n=200_000, generator=gen(5))
    assert abs(acc - acc_grid) < 4 * acc_se, (acc, acc_se, acc_grid)
    assert 1 / 5 < acc < 1


def test_true_posterior_cross_entropy_on_fresh_samples_reaches_the_floor() -> None:
    task = GaussianClasses.default_2d()
    x, y = task.sample(100_000, generator=gen(6))
    nll = -task.log_posterior(x).gather(1, y[:, None])[:, 0]
    h, se = task.conditional_entropy(n=100_000, generator=gen(7))
    nll_se = float(nll.std()) / math.sqrt(len(nll))
    assert abs(float(nll.mean()) - h) < 4 * math.hypot(se, nll_se)


def test_well_separated_classes_have_no_uncertainty() -> None:
    task = GaussianClasses.default_2d(n_classes=4, radius=60.0, std=1.0)
    h, se = task.conditional_entropy(n=5_000, generator=gen(8))
    assert 0 <= h < 1e-8 and se < 1e-8
    acc, _ = task.bayes_accuracy(n=5_000, generator=gen(9))
    assert acc > 1 - 1e-8


def test_identical_means_leave_the_prior_entropy() -> None:
    task = GaussianClasses([[1.0, 2.0]] * 3, 1.5, PRIORS)
    h_prior = -sum(p * math.log(p) for p in PRIORS)
    assert task.prior_entropy() == pytest.approx(h_prior, abs=1e-12)
    h, se = task.conditional_entropy(n=1_000, generator=gen(10))
    assert h == pytest.approx(h_prior, abs=1e-9) and se < 1e-9
    acc, _ = task.bayes_accuracy(n=1_000, generator=gen(11))
    assert acc == pytest.approx(max(PRIORS), abs=1e-9)


def test_standard_error_shrinks_like_one_over_root_n() -> None:
    task = GaussianClasses.default_2d()
    _, se_small = task.conditional_entropy(n=4_000, generator=gen(12))
    _, se_large = task.conditional_entropy(n=64_000, generator=gen(13))
    assert 3.0 < se_small / se_large < 5.3  # sqrt(16) = 4


def test_monte_carlo_is_reproducible_with_a_generator() -> None:
    task = GaussianClasses.default_2d()
    assert task.conditional_entropy(n=1_000, generator=gen(3)) == task.conditional_entropy(n=1_000, generator=gen(3))
    assert task.bayes_accuracy(n=1_000, generator=gen(3)) == task.bayes_accuracy(n=1_000, generator=gen(3))


# --------------------------------------------------------------------------------------------------
# Bad inputs
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs,name",
    [
        ({"means": [0.0, 1.0], "std": 1.0}, "means"),
        ({"means": [[0.0, float("nan")]], "std": 1.0}, "means"),
        ({"means": [[0.0], [1.0]], "std": -1.0}, "std"),
        ({"means": [[0.0], [1.0]], "std": [1.0, 0.0]}, "std"),
        ({"means": [[0.0], [1.0]], "std": [1.0, 1.0, 1.0]}, "std"),
        ({"means": [[0.0], [1.0]], "std": 1.0, "priors": [0.5, 0.6]}, "priors"),
        ({"means": [[0.0], [1.0]], "std": 1.0, "priors": [1.0, 0.0]}, "priors"),
        ({"means": [[0.0], [1.0]], "std": 1.0, "priors": [1.2, -0.2]}, "priors"),
        ({"means": [[0.0], [1.0]], "std": 1.0, "priors": [1.0]}, "priors"),
    ],
)
def test_bad_construction_names_the_argument(kwargs: dict, name: str) -> None:
    with pytest.raises(ValueError, match=name):
        GaussianClasses(**kwargs)


def test_bad_method_arguments_name_the_argument() -> None:
    task = GaussianClasses.default_2d()
    with pytest.raises(ValueError, match="x"):
        task.posterior(torch.zeros(4, 3))
    with pytest.raises(ValueError, match="x"):
        task.log_joint(torch.zeros(4))
    with pytest.raises(ValueError, match="x"):
        task.posterior([[0.0, float("inf")]])
    with pytest.raises(ValueError, match="n"):
        task.sample(-1)
    with pytest.raises(ValueError, match="n"):
        task.conditional_entropy(n=1)
    with pytest.raises(TypeError, match="n"):
        task.bayes_accuracy(n=1.5)
    with pytest.raises(TypeError, match="generator"):
        task.sample(3, generator=0)
    with pytest.raises(ValueError, match="radius"):
        GaussianClasses.default_2d(radius=0.0)
    with pytest.raises(TypeError, match="means"):
        GaussianClasses([["a", "b"]], 1.0)


# -- the binned view (notebook 06) ----------------------------------------------------------------------------
def test_bin_probabilities_match_sampled_frequencies():
    task = GaussianClasses.default_2d()
    edges = torch.linspace(-5, 5, 9)
    p = task.bin_probabilities(edges)
    assert p.shape == (5, 2, 8)
    torch.testing.assert_close(p.sum(-1), torch.ones(5, 2, dtype=torch.float64))
    x, y = task.sample(200_000, generator=torch.Generator().manual_seed(0))
    b = task.bin_index(x, edges)
    for k in (0, 3):
        freq = torch.bincount(b[y == k, 0], minlength=8).double() / int((y == k).sum())
        assert float((freq - p[k, 0]).abs().max()) < 0.01


def test_binned_entropies_are_consistent_and_bound_the_continuous_floor():
    task = GaussianClasses.default_2d()
    h = task.binned_entropies(torch.linspace(-5, 5, 17))
    assert h["joint"] == pytest.approx(h["features"] + h["label_given_features"])
    assert h["joint"] == pytest.approx(task.prior_entropy() + h["features_given_label"])
    floor, se = task.conditional_entropy(n=50_000, generator=torch.Generator().manual_seed(1))
    assert h["label_given_features"] >= floor - 3 * se  # binning loses information: H(Y|B) >= H(Y|X)
    assert h["label_given_features"] <= task.prior_entropy()
    coarse = task.binned_entropies(torch.linspace(-5, 5, 3))
    assert coarse["label_given_features"] > h["label_given_features"]  # coarser bins, less information


def test_binned_entropy_joint_matches_monte_carlo():
    task = GaussianClasses.default_2d()
    edges = torch.linspace(-5, 5, 11)
    p = task.bin_probabilities(edges)
    x, y = task.sample(100_000, generator=torch.Generator().manual_seed(2))
    b = task.bin_index(x, edges)
    log_p = torch.log(task.priors[y] * p[y, 0, b[:, 0]] * p[y, 1, b[:, 1]])
    assert float(-log_p.mean()) == pytest.approx(task.binned_entropies(edges)["joint"], abs=0.02)


def test_binned_bad_inputs():
    task = GaussianClasses.default_2d()
    with pytest.raises(ValueError, match="edges"):
        task.bin_probabilities(torch.tensor([1.0, 0.0]))
    with pytest.raises(ValueError, match="edges"):
        task.bin_index(torch.zeros(3, 2), [0.0])
    with pytest.raises(ValueError, match="D <= 3"):
        GaussianClasses(torch.zeros(2, 4), 1.0).binned_entropies([0.0, 1.0])
