"""Tests for mmobjectives.data.toy2d: exact density, score and noised marginal of Gaussian mixtures; toy sets."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from mmobjectives.data.toy2d import (
    GaussianMixture,
    checkerboard,
    ring,
    swiss_roll,
    two_modes,
    two_moons,
)


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _random_mixture(k: int, d: int, seed: int = 0) -> GaussianMixture:
    """K components in D dimensions with unequal stds and unequal weights."""
    g = _gen(seed)
    means = 3.0 * torch.randn(k, d, generator=g, dtype=torch.float64)
    stds = 0.4 + torch.rand(k, generator=g, dtype=torch.float64)
    weights = 0.2 + torch.rand(k, generator=g, dtype=torch.float64)
    weights = weights / weights.sum()
    return GaussianMixture(means.numpy(), stds.numpy(), weights.numpy())


def _test_points(gm: GaussianMixture, seed: int = 1) -> torch.Tensor:
    """Samples, uniform points in a box, points at norm 50, and the means themselves."""
    g = _gen(seed)
    d = gm.dim
    far = torch.randn(20, d, generator=g, dtype=torch.float64)
    far = 50.0 * far / far.norm(dim=1, keepdim=True)
    return torch.cat(
        [
            gm.sample(30, generator=g),
            8.0 * torch.rand(20, d, generator=g, dtype=torch.float64) - 4.0,
            far,
            gm.means.clone(),
        ]
    )


def _np_log_prob(x: np.ndarray, means: np.ndarray, stds: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """log sum_k w_k N(x; mu_k, std_k^2 I), one component at a time, accumulated with logaddexp."""
    d = means.shape[1]
    total = np.full(x.shape[0], -np.inf)
    for mu, s, w in zip(means, stds, weights):
        sq = ((x - mu) ** 2).sum(axis=1)
        log_comp = np.log(w) - 0.5 * d * np.log(2 * np.pi * s**2) - sq / (2 * s**2)
        total = np.logaddexp(total, log_comp)
    return total


def _np_density(x: np.ndarray, means: np.ndarray, stds: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """The plain density sum_k w_k (2 pi std_k^2)^(-D/2) exp(-|x - mu_k|^2 / (2 std_k^2)) (no log tricks)."""
    d = means.shape[1]
    total = np.zeros(x.shape[0])
    for mu, s, w in zip(means, stds, weights):
        sq = ((x - mu) ** 2).sum(axis=1)
        total += w * (2 * np.pi * s**2) ** (-d / 2) * np.exp(-sq / (2 * s**2))
    return total


# -- exact answers -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("k", [1, 3])
@pytest.mark.parametrize("d", [1, 2, 5])
def test_score_equals_autograd_of_log_prob(k: int, d: int) -> None:
    gm = _random_mixture(k, d, seed=10 * k + d)
    x = _test_points(gm).requires_grad_(True)
    assert x.norm(dim=1).max() > 49.0  # far points included
    gm.log_prob(x).sum().backward()
    analytic = gm.score(x.detach())
    assert analytic.dtype == torch.float64 and analytic.shape == x.shape
    torch.testing.assert_close(x.grad, analytic, rtol=1e-8, atol=1e-8)


@pytest.mark.parametrize("k", [1, 3])
@pytest.mark.parametrize("d", [1, 2, 5])
def test_log_prob_matches_independent_formula(k: int, d: int) -> None:
    gm = _random_mixture(k, d, seed=100 + 10 * k + d)
    x = _test_points(gm, seed=2)
    expected = _np_log_prob(x.numpy(), gm.means.numpy(), gm.stds.numpy(), gm.weights.numpy())
    got = gm.log_prob(x)
    assert got.shape == (x.shape[0],) and got.dtype == torch.float64
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-10, atol=1e-10)


def test_log_prob_matches_plain_density_near_the_data() -> None:
    gm = _random_mixture(3, 2, seed=5)
    x = gm.sample(200, generator=_gen(3))
    expected = _np_density(x.numpy(), gm.means.numpy(), gm.stds.numpy(), gm.weights.numpy())
    np.testing.assert_allclose(gm.log_prob(x).exp().numpy(), expected, rtol=1e-10)


def test_log_prob_accepts_lists_and_numpy() -> None:
    gm = two_modes()
    pts = [[0.0, 0.0], [5.0, 5.0]]
    from_list = gm.log_prob(pts)
    from_numpy = gm.log_prob(np.array(pts))
    from_int = gm.log_prob(np.array([[0, 0], [5, 5]]))
    assert from_list.dtype == torch.float64
    torch.testing.assert_close(from_list, from_numpy, rtol=0, atol=0)
    torch.testing.assert_close(from_list, from_int, rtol=0, atol=0)


def test_ring_log_prob_integrates_to_one() -> None:
    gm = ring()
    h = 0.025
    xs = np.arange(-7.0, 7.0 + h / 2, h)
    xx, yy = np.meshgrid(xs, xs)
    pts = torch.as_tensor(np.stack([xx.ravel(), yy.ravel()], axis=1))
    total = float(gm.log_prob(pts).exp().sum()) * h * h
    assert abs(total - 1.0) < 1e-3


@pytest.mark.parametrize("sigma", [0.5, 1.5])
def test_noised_log_prob_matches_monte_carlo_convolution(sigma: float) -> None:
    gm = GaussianMixture([[-2.0, 0.0], [1.5, 1.0], [0.0, -2.5]], [0.4, 0.8, 0.6], [0.5, 0.3, 0.2])
    noisy = gm.noised(sigma)
    x = torch.tensor([[-2.0, 0.2], [0.0, 0.0], [1.0, 1.5], [-0.5, -2.0]], dtype=torch.float64)
    n = 200_000
    eps = torch.randn(n, 2, generator=_gen(7), dtype=torch.float64)
    exact = noisy.log_prob(x)
    for i in range(x.shape[0]):
        values = gm.log_prob(x[i] - sigma * eps).exp()  # p(x - s eps)
        mean = float(values.mean())
        se_log = float(values.std()) / math.sqrt(n) / mean  # delta method: SE(log m) = SE(m) / m
        assert abs(math.log(mean) - float(exact[i])) < 4 * se_log, (i, math.log(mean), float(exact[i]), se_log)
        assert se_log < 0.02  # the check is sharp enough to catch a wrong variance


def test_noised_stds_are_added_in_quadrature() -> None:
    gm = _random_mixture(3, 2, seed=4)
    for sigma in (0.1, 1.0, 3.0):
        noisy = gm.noised(sigma)
        torch.testing.assert_close(noisy.stds, torch.sqrt(gm.stds**2 + sigma**2), rtol=1e-15, atol=0)
        assert torch.equal(noisy.means, gm.means)
        assert torch.equal(noisy.weights, gm.weights)
    assert gm.noised(np.float64(0.5)).stds.shape == (3,)


def test_noised_zero_equals_original_and_is_a_copy() -> None:
    gm = _random_mixture(3, 2, seed=6)
    same = gm.noised(0)
    assert same is not gm
    assert torch.equal(same.means, gm.means)
    assert torch.equal(same.stds, gm.stds)
    assert torch.equal(same.weights, gm.weights)
    x = _test_points(gm)
    assert torch.equal(same.log_prob(x), gm.log_prob(x))
    same.means[0, 0] = 1e3  # not shared storage
    assert gm.means[0, 0] != 1e3


def test_sample_moments_match_mean_and_covariance() -> None:
    gm = GaussianMixture([[-2.0, 1.0], [3.0, 0.5], [0.0, -3.0]], [0.5, 1.0, 0.7], [0.2, 0.5, 0.3])
    n = 100_000
    x = gm.sample(n, generator=_gen(11))
    assert x.shape == (n, 2) and x.dtype == torch.float64
    centred = x - x.mean(dim=0)
    # mean: 5 standard errors
    se_mean = x.std(dim=0) / math.sqrt(n)
    assert bool(((x.mean(dim=0) - gm.mean()).abs() < 5 * se_mean).all())
    # covariance entries: 5 standard errors of the mean of the products
    products = centred[:, :, None] * centred[:, None, :]
    se_cov = products.std(dim=0) / math.sqrt(n)
    sample_cov = products.mean(dim=0)
    assert bool(((sample_cov - gm.covariance()).abs() < 5 * se_cov).all()), (sample_cov, gm.covariance())


def test_mean_and_covariance_closed_forms() -> None:
    gm = GaussianMixture([[0.0, 0.0], [2.0, 4.0]], [1.0, 2.0], [0.75, 0.25])
    torch.testing.assert_close(gm.mean(), torch.tensor([0.5, 1.0], dtype=torch.float64))
    # E[x x^T] = 0.75 * I + 0.25 * (4 I + m m^T), m = (2, 4)
    second = 0.75 * np.eye(2) + 0.25 * (4 * np.eye(2) + np.outer([2.0, 4.0], [2.0, 4.0]))
    expected = second - np.outer([0.5, 1.0], [0.5, 1.0])
    np.testing.assert_allclose(gm.covariance().numpy(), expected, rtol=1e-14)
    assert gm.n_components == 2 and gm.dim == 2


def test_sample_is_reproducible_with_a_generator() -> None:
    gm = _random_mixture(3, 2)
    a = gm.sample(50, generator=_gen(1))
    b = gm.sample(50, generator=_gen(1))
    c = gm.sample(50, generator=_gen(2))
    assert torch.equal(a, b)
    assert not torch.equal(a, c)
    assert gm.sample(0).shape == (0, 2)


def test_sample_with_components() -> None:
    gm = GaussianMixture([[-10.0, 0.0], [10.0, 0.0]], 0.5, [0.3, 0.7])
    x, comp = gm.sample_with_components(2000, generator=_gen(3))
    assert x.shape == (2000, 2) and comp.shape == (2000,)
    assert set(comp.unique().tolist()) == {0, 1}
    # components far apart: the sign of x_1 reveals the component
    assert torch.equal((x[:, 0] > 0).long(), comp)
    frac = float(comp.double().mean())
    assert abs(frac - 0.7) < 5 * math.sqrt(0.21 / 2000)


def test_responsibilities_rows_sum_to_one() -> None:
    gm = _random_mixture(3, 2, seed=8)
    x = _test_points(gm)
    r = gm.responsibilities(x)
    assert r.shape == (x.shape[0], 3)
    assert bool((r >= 0).all()) and bool(torch.isfinite(r).all())
    torch.testing.assert_close(r.sum(dim=1), torch.ones(x.shape[0], dtype=torch.float64), rtol=0, atol=1e-12)


def test_responsibilities_match_bayes_rule() -> None:
    gm = _random_mixture(3, 2, seed=9)
    x = gm.sample(50, generator=_gen(4))
    means, stds, weights = gm.means.numpy(), gm.stds.numpy(), gm.weights.numpy()
    joint = np.stack(
        [_np_density(x.numpy(), means[k : k + 1], stds[k : k + 1], np.ones(1)) * weights[k] for k in range(3)], axis=1
    )
    np.testing.assert_allclose(gm.responsibilities(x).numpy(), joint / joint.sum(axis=1, keepdims=True), rtol=1e-9)


def test_score_far_away_points_to_the_nearest_mode() -> None:
    s = 0.7
    gm = GaussianMixture([[-3.0, 0.0], [2.0, 2.0], [1.0, -3.0]], s, [0.5, 0.3, 0.2])
    angles = torch.tensor([0.1, 0.9, 2.0, 3.0, 4.0, 5.2], dtype=torch.float64)
    x = 1e3 * torch.stack([torch.cos(angles), torch.sin(angles)], dim=1)
    d2 = torch.cdist(x, gm.means) ** 2
    top2 = d2.topk(2, dim=1, largest=False).values
    assert bool((top2[:, 1] - top2[:, 0] > 200).all())  # the nearest mode is unambiguous
    nearest = gm.means[d2.argmin(dim=1)]
    score = gm.score(x)
    assert bool(torch.isfinite(score).all())
    torch.testing.assert_close(score, (nearest - x) / s**2, rtol=1e-9, atol=1e-9)


def test_score_and_log_prob_finite_very_far_with_unequal_stds() -> None:
    gm = _random_mixture(3, 2, seed=12)
    x = torch.tensor([[1e3, 0.0], [0.0, -1e3], [7e2, 7e2], [1e5, -1e5]], dtype=torch.float64)
    assert bool(torch.isfinite(gm.score(x)).all())
    assert bool(torch.isfinite(gm.log_prob(x)).all())
    assert bool(torch.isfinite(gm.responsibilities(x)).all())
    # far away the widest component dominates: score ~ (mu_widest - x) / s_widest^2
    widest = int(gm.stds.argmax())
    expected = (gm.means[widest] - x[:3]) / gm.stds[widest] ** 2
    torch.testing.assert_close(gm.score(x[:3]), expected, rtol=1e-6, atol=1e-6)


def test_float32_input_returns_float32() -> None:
    gm = ring()
    x64 = gm.sample(20, generator=_gen(0))
    x32 = x64.float()
    for method in (gm.log_prob, gm.score, gm.responsibilities):
        out32, out64 = method(x32), method(x64)
        assert out32.dtype == torch.float32
        assert out64.dtype == torch.float64
        torch.testing.assert_close(out32, method(x32.double()).float())
        torch.testing.assert_close(out32.double(), out64, rtol=1e-5, atol=1e-5)


def test_repr_mentions_sizes() -> None:
    text = repr(two_modes())
    assert "K=2" in text and "D=2" in text


# -- presets ------------------------------------------------------------------------------------------------------
def test_ring_preset() -> None:
    gm = ring()
    assert gm.n_components == 8 and gm.dim == 2
    torch.testing.assert_close(gm.means.norm(dim=1), torch.full((8,), 4.0, dtype=torch.float64))
    torch.testing.assert_close(gm.stds, torch.full((8,), 0.3, dtype=torch.float64))
    torch.testing.assert_close(gm.weights, torch.full((8,), 1 / 8, dtype=torch.float64))
    torch.testing.assert_close(gm.means[0], torch.tensor([4.0, 0.0], dtype=torch.float64))
    angles = torch.atan2(gm.means[:, 1], gm.means[:, 0]) % (2 * math.pi)
    torch.testing.assert_close(angles, torch.arange(8, dtype=torch.float64) * (2 * math.pi / 8))
    small = ring(k=3, radius=2.0, std=0.1)
    assert small.n_components == 3
    torch.testing.assert_close(small.means.norm(dim=1), torch.full((3,), 2.0, dtype=torch.float64))
    with pytest.raises(ValueError, match="radius"):
        ring(radius=0.0)
    with pytest.raises(ValueError, match="std"):
        ring(std=-1.0)
    with pytest.raises(ValueError, match="k"):
        ring(k=0)


def test_two_modes_preset() -> None:
    gm = two_modes()
    torch.testing.assert_close(gm.weights, torch.tensor([0.2, 0.8], dtype=torch.float64))
    torch.testing.assert_close(gm.means, torch.tensor([[-5.0, -5.0], [5.0, 5.0]], dtype=torch.float64))
    torch.testing.assert_close(gm.stds, torch.ones(2, dtype=torch.float64))
    # at each mode the density ratio is the weight ratio
    lp = gm.log_prob([[-5.0, -5.0], [5.0, 5.0]])
    assert abs(float(lp[1] - lp[0]) - math.log(4.0)) < 1e-12
    with pytest.raises(ValueError, match="weight_left"):
        two_modes(weight_left=1.0)
    with pytest.raises(ValueError, match="distance"):
        two_modes(distance=0.0)


@pytest.mark.parametrize("maker", [two_moons, swiss_roll, checkerboard])
def test_toy_sets_shape_finite_reproducible(maker) -> None:
    a = maker(500, generator=_gen(1))
    b = maker(500, generator=_gen(1))
    c = maker(500, generator=_gen(2))
    assert a.shape == (500, 2) and a.dtype == torch.float64
    assert bool(torch.isfinite(a).all())
    assert torch.equal(a, b)
    assert not torch.equal(a, c)
    assert maker(1).shape == (1, 2)


def test_two_moons_lie_on_two_arcs_without_noise() -> None:
    x = two_moons(2000, noise=0.0, generator=_gen(3))
    # upper arc: circle of radius 2 around (-1, -0.5), y >= -0.5; lower: radius 2 around (1, 0.5), y <= 0.5
    r_upper = (x - torch.tensor([-1.0, -0.5], dtype=torch.float64)).norm(dim=1)
    r_lower = (x - torch.tensor([1.0, 0.5], dtype=torch.float64)).norm(dim=1)
    on_upper = (r_upper - 2).abs() < 1e-9
    on_lower = (r_lower - 2).abs() < 1e-9
    assert bool((on_upper | on_lower).all())
    assert bool((x[on_upper, 1] >= -0.5 - 1e-9).all()) and bool((x[on_lower, 1] <= 0.5 + 1e-9).all())
    assert 0.45 < float(on_upper.double().mean()) < 0.55
    # centred
    assert float(x.mean(dim=0).abs().max()) < 0.1
    noisy = two_moons(2000, noise=0.1, generator=_gen(3))
    assert not bool(((noisy - torch.tensor([-1.0, -0.5], dtype=torch.float64)).norm(dim=1) - 2).abs().lt(1e-9).all())


def test_swiss_roll_is_a_spiral_without_noise() -> None:
    x = swiss_roll(1000, noise=0.0, generator=_gen(4))
    t = 4.5 * x.norm(dim=1)
    assert bool((t >= 1.5 * math.pi - 1e-9).all()) and bool((t <= 4.5 * math.pi + 1e-9).all())
    torch.testing.assert_close(x, torch.stack([t * torch.cos(t), t * torch.sin(t)], dim=1) / 4.5)
    assert float(x.abs().max()) <= math.pi + 1e-9


@pytest.mark.parametrize(("squares", "size"), [(4, 4.0), (2, 1.0), (6, 3.0)])
def test_checkerboard_only_dark_squares(squares: int, size: float) -> None:
    n = 4000
    x = checkerboard(n, squares=squares, size=size, generator=_gen(5))
    half = size / 2
    assert bool((x >= -half).all()) and bool((x < half).all())
    cell = size / squares
    ix = torch.floor(x[:, 0] / cell).long()
    iy = torch.floor(x[:, 1] / cell).long()
    assert bool(((ix + iy) % 2 == 0).all())
    # every dark square is used, about equally
    col = torch.floor((x[:, 0] + half) / cell).long()
    row = torch.floor((x[:, 1] + half) / cell).long()
    counts = torch.bincount(col * squares + row, minlength=squares * squares)
    dark = counts[counts > 0]
    assert dark.numel() == squares * squares // 2
    expected = n / dark.numel()
    assert bool(((dark - expected).abs() < 5 * math.sqrt(expected)).all())


# -- bad input -----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("kwargs", "exc", "name"),
    [
        ({"means": [1.0, 2.0], "stds": 1.0}, ValueError, "means"),
        ({"means": [[[1.0, 2.0]]], "stds": 1.0}, ValueError, "means"),
        ({"means": np.zeros((0, 2)), "stds": 1.0}, ValueError, "means"),
        ({"means": [[0.0, float("nan")]], "stds": 1.0}, ValueError, "means"),
        ({"means": [[0.0, float("inf")]], "stds": 1.0}, ValueError, "means"),
        ({"means": "abc", "stds": 1.0}, TypeError, "means"),
        ({"means": [[0.0, 0.0], [1.0, 1.0]], "stds": -1.0}, ValueError, "stds"),
        ({"means": [[0.0, 0.0], [1.0, 1.0]], "stds": 0.0}, ValueError, "stds"),
        ({"means": [[0.0, 0.0], [1.0, 1.0]], "stds": [1.0, -0.5]}, ValueError, "stds"),
        ({"means": [[0.0, 0.0], [1.0, 1.0]], "stds": [1.0, 1.0, 1.0]}, ValueError, "stds"),
        ({"means": [[0.0, 0.0], [1.0, 1.0]], "stds": [[1.0, 1.0]]}, ValueError, "stds"),
        ({"means": [[0.0, 0.0], [1.0, 1.0]], "stds": float("nan")}, ValueError, "stds"),
        ({"means": [[0.0, 0.0], [1.0, 1.0]], "stds": 1.0, "weights": [0.5, 0.6]}, ValueError, "weights"),
        ({"means": [[0.0, 0.0], [1.0, 1.0]], "stds": 1.0, "weights": [1.5, -0.5]}, ValueError, "weights"),
        ({"means": [[0.0, 0.0], [1.0, 1.0]], "stds": 1.0, "weights": [1.0]}, ValueError, "weights"),
        ({"means": [[0.0, 0.0], [1.0, 1.0]], "stds": 1.0, "weights": [0.2, 0.3, 0.5]}, ValueError, "weights"),
        ({"means": [[0.0, 0.0], [1.0, 1.0]], "stds": 1.0, "weights": [float("nan"), 1.0]}, ValueError, "weights"),
    ],
)
def test_constructor_rejects_bad_input(kwargs: dict, exc: type, name: str) -> None:
    with pytest.raises(exc, match=name):
        GaussianMixture(**kwargs)


def test_weights_are_renormalised_within_tolerance() -> None:
    gm = GaussianMixture([[0.0], [1.0]], 1.0, [0.5 + 4e-7, 0.5])
    assert abs(float(gm.weights.sum()) - 1.0) < 1e-15


@pytest.mark.parametrize(
    ("x", "exc"),
    [
        ([[0.0, 0.0, 0.0]], ValueError),  # wrong D
        ([0.0, 0.0], ValueError),  # 1-D
        ([[0.0, float("nan")]], ValueError),
        ([[0.0, float("inf")]], ValueError),
        (np.zeros((2, 2, 2)), ValueError),
        ("not numbers", TypeError),
        ([["a", "b"]], TypeError),
        (torch.zeros(2, 2, dtype=torch.complex64), TypeError),
    ],
)
@pytest.mark.parametrize("method", ["log_prob", "score", "responsibilities"])
def test_methods_reject_bad_x(x, exc: type, method: str) -> None:
    gm = two_modes()
    with pytest.raises(exc, match=r"\bx\b"):
        getattr(gm, method)(x)


def test_noised_rejects_bad_sigma() -> None:
    gm = two_modes()
    with pytest.raises(ValueError, match="sigma"):
        gm.noised(-0.1)
    with pytest.raises(ValueError, match="sigma"):
        gm.noised(float("nan"))
    with pytest.raises(TypeError, match="sigma"):
        gm.noised("1.0")  # type: ignore[arg-type]


def test_sample_rejects_bad_n_and_generator() -> None:
    gm = two_modes()
    with pytest.raises(ValueError, match=r"\bn\b"):
        gm.sample(-1)
    with pytest.raises(TypeError, match=r"\bn\b"):
        gm.sample(2.0)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="generator"):
        gm.sample(3, generator=0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"\bn\b"):
        gm.sample_with_components(0)


@pytest.mark.parametrize("maker", [two_moons, swiss_roll, checkerboard])
def test_toy_sets_reject_bad_n(maker) -> None:
    with pytest.raises(ValueError, match=r"\bn\b"):
        maker(-1)
    with pytest.raises(ValueError, match=r"\bn\b"):
        maker(0)
    with pytest.raises(TypeError, match=r"\bn\b"):
        maker("10")


@pytest.mark.parametrize("maker", [two_moons, swiss_roll])
def test_toy_sets_reject_negative_noise(maker) -> None:
    with pytest.raises(ValueError, match="noise"):
        maker(10, noise=-0.1)


@pytest.mark.parametrize("squares", [3, 5, 7])
def test_checkerboard_rejects_odd_squares(squares: int) -> None:
    with pytest.raises(ValueError, match="squares"):
        checkerboard(10, squares=squares)


def test_checkerboard_rejects_bad_size_and_too_few_squares() -> None:
    with pytest.raises(ValueError, match="squares"):
        checkerboard(10, squares=0)
    with pytest.raises(ValueError, match="size"):
        checkerboard(10, size=-1.0)


def test_diffused_is_the_exact_law_of_alpha_x_plus_sigma_eps():
    mix = GaussianMixture([[1.0, -2.0], [3.0, 0.5]], [0.5, 1.5], [0.3, 0.7])
    out = mix.diffused(0.6, 0.8)
    assert torch.allclose(out.means, 0.6 * mix.means)
    assert torch.allclose(out.stds, torch.sqrt(0.36 * mix.stds**2 + 0.64))
    assert torch.allclose(out.weights, mix.weights)
    # Monte Carlo: moments of alpha x + sigma eps match
    g = torch.Generator().manual_seed(0)
    x = 0.6 * mix.sample(200_000, generator=g) + 0.8 * torch.randn(200_000, 2, generator=g, dtype=torch.float64)
    assert torch.allclose(x.mean(0), out.mean(), atol=0.02)
    assert torch.allclose(torch.cov(x.T), out.covariance(), atol=0.03)
    assert torch.allclose(mix.diffused(1.0, 0.7).stds, mix.noised(0.7).stds)
    with pytest.raises(ValueError, match="alpha"):
        mix.diffused(0.0, 1.0)
    with pytest.raises(ValueError, match="sigma"):
        mix.diffused(1.0, -1.0)
