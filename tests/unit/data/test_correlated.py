"""Tests for mmobjectives.data.correlated: correlated Gaussians with known MI, and the optimal InfoNCE critic."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.distributions import Independent, Normal

from mmobjectives.data import (
    correlated_gaussians,
    gaussian_log_ratio,
    gaussian_log_ratio_features,
    gaussian_mi,
    rho_for_mi,
)
from mmobjectives.losses import info_nce_logits
from mmobjectives.metrics import infonce_mi_bound

# ---------------------------------------------------------------------------------------------------------------
# sampling
# ---------------------------------------------------------------------------------------------------------------


def test_correlated_gaussians_shapes_dtype_and_reproducibility() -> None:
    x, y = correlated_gaussians(7, 3, 0.5, generator=torch.Generator().manual_seed(0))
    assert x.shape == y.shape == (7, 3)
    assert x.dtype == y.dtype == torch.float32
    x2, y2 = correlated_gaussians(7, 3, 0.5, generator=torch.Generator().manual_seed(0))
    assert torch.equal(x, x2) and torch.equal(y, y2)
    x3, _ = correlated_gaussians(7, 3, 0.5, generator=torch.Generator().manual_seed(1))
    assert not torch.equal(x, x3)
    # rho = 0: y independent of x; rho near 1: y nearly x
    x, y = correlated_gaussians(5, 2, 0.999999, generator=torch.Generator().manual_seed(2))
    torch.testing.assert_close(y, x, atol=1e-2, rtol=0)


@pytest.mark.parametrize("rho", [-0.8, 0.0, 0.3, 0.9])
def test_correlated_gaussians_moments(rho) -> None:
    n, dim = 20_000, 4
    x, y = correlated_gaussians(n, dim, rho, generator=torch.Generator().manual_seed(42))
    x, y = x.double(), y.double()
    se_corr = (1 - rho**2) / math.sqrt(n)  # large-n SE of a sample correlation
    se_var = math.sqrt(2 / n)  # SE of a unit-variance Gaussian's sample variance
    for k in range(dim):
        corr = float(torch.corrcoef(torch.stack([x[:, k], y[:, k]]))[0, 1])
        assert abs(corr - rho) < 5 * se_corr + 1e-12
        assert abs(float(x[:, k].var()) - 1) < 5 * se_var
        assert abs(float(y[:, k].var()) - 1) < 5 * se_var  # y has unit variance for every rho
        assert abs(float(y[:, k].mean())) < 5 / math.sqrt(n)
    # different coordinates are independent
    cross = torch.corrcoef(torch.cat([x, y], dim=1).T)
    for k in range(dim):
        for m in range(dim):
            if k != m:
                assert abs(float(cross[k, dim + m])) < 5 / math.sqrt(n)
                assert abs(float(cross[k, m])) < 5 / math.sqrt(n)


@pytest.mark.parametrize(
    ("args", "error", "name"),
    [
        ((10, 2, 1.0), ValueError, "rho"),
        ((10, 2, -1.0), ValueError, "rho"),
        ((10, 2, 1.5), ValueError, "rho"),
        ((10, 2, -2.0), ValueError, "rho"),
        ((10, 2, float("nan")), ValueError, "rho"),
        ((10, 2, float("inf")), ValueError, "rho"),
        ((10, 2, "0.5"), TypeError, "rho"),
        ((0, 2, 0.5), ValueError, "n"),
        ((10, 0, 0.5), ValueError, "dim"),
        ((10.0, 2, 0.5), TypeError, "n"),
    ],
)
def test_correlated_gaussians_bad_inputs(args, error, name) -> None:
    with pytest.raises(error, match=name):
        correlated_gaussians(*args)


def test_correlated_gaussians_bad_generator() -> None:
    with pytest.raises(TypeError, match="generator"):
        correlated_gaussians(3, 2, 0.5, generator=0)


# ---------------------------------------------------------------------------------------------------------------
# gaussian_mi and rho_for_mi
# ---------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("dim", "rho"), [(1, 0.0), (1, 0.5), (20, 0.5), (3, -0.9), (7, 0.999)])
def test_gaussian_mi_formula(dim, rho) -> None:
    expected = -dim / 2 * math.log(1 - rho**2)
    assert gaussian_mi(dim, rho) == pytest.approx(expected, rel=1e-12, abs=1e-15)
    assert gaussian_mi(dim, -rho) == gaussian_mi(dim, rho)
    assert gaussian_mi(dim, rho) >= 0


def test_gaussian_mi_known_value() -> None:
    # rho = sqrt(3)/2: 1 - rho^2 = 1/4, so I = d/2 * log 4 = d log 2
    assert gaussian_mi(5, math.sqrt(3) / 2) == pytest.approx(5 * math.log(2), rel=1e-12)
    assert rho_for_mi(5, 5 * math.log(2)) == pytest.approx(math.sqrt(3) / 2, rel=1e-12)
    assert rho_for_mi(4, 0.0) == 0.0


@settings(max_examples=50, deadline=None)
@given(dim=st.integers(1, 64), mi_per_dim=st.floats(0.0, 5.0))
def test_rho_for_mi_round_trip(dim, mi_per_dim) -> None:
    # up to 5 nats per coordinate, 1 - rho^2 >= e^-10, so rho near 1 still carries ~11 significant digits of it
    mi = mi_per_dim * dim
    rho = rho_for_mi(dim, mi)
    assert 0.0 <= rho < 1.0
    assert gaussian_mi(dim, rho) == pytest.approx(mi, rel=1e-9, abs=1e-12)


@settings(max_examples=50, deadline=None)
@given(dim=st.integers(1, 64), rho=st.floats(-0.99, 0.99))
def test_gaussian_mi_round_trip(dim, rho) -> None:
    assert rho_for_mi(dim, gaussian_mi(dim, rho)) == pytest.approx(abs(rho), rel=1e-9, abs=1e-12)


def test_rho_for_mi_large_mi_stays_valid_or_raises() -> None:
    # rho = sqrt(1 - e^{-2 I / d}) rounds to exactly 1.0 in float64 once I/d exceeds ~18.7 nats: never return it
    rho = rho_for_mi(1, 15.0)
    assert rho < 1.0 and gaussian_mi(1, rho) == pytest.approx(15.0, rel=1e-3)
    rho = rho_for_mi(200, 10.0)
    assert gaussian_mi(200, rho) == pytest.approx(10.0, rel=1e-12)
    for dim, mi in [(1, 19.0), (1, 40.0), (2, 100.0)]:
        with pytest.raises(ValueError, match="mi"):
            rho_for_mi(dim, mi)


@pytest.mark.parametrize(
    ("fn", "args", "error", "name"),
    [
        (gaussian_mi, (2, 1.0), ValueError, "rho"),
        (gaussian_mi, (2, -1.0), ValueError, "rho"),
        (gaussian_mi, (2, 1.01), ValueError, "rho"),
        (gaussian_mi, (2, float("nan")), ValueError, "rho"),
        (gaussian_mi, (0, 0.5), ValueError, "dim"),
        (gaussian_mi, (2.5, 0.5), TypeError, "dim"),
        (rho_for_mi, (2, -0.1), ValueError, "mi"),
        (rho_for_mi, (2, -1e-12), ValueError, "mi"),
        (rho_for_mi, (2, float("nan")), ValueError, "mi"),
        (rho_for_mi, (2, float("inf")), ValueError, "mi"),
        (rho_for_mi, (0, 1.0), ValueError, "dim"),
    ],
)
def test_mi_helpers_bad_inputs(fn, args, error, name) -> None:
    with pytest.raises(error, match=name):
        fn(*args)


# ---------------------------------------------------------------------------------------------------------------
# gaussian_log_ratio: the optimal critic
# ---------------------------------------------------------------------------------------------------------------


def _log_ratio_distributions(x: torch.Tensor, y: torch.Tensor, rho: float) -> torch.Tensor:
    """log N(y_j; rho x_i, (1 - rho^2) I) - log N(y_j; 0, I), with torch.distributions."""
    x, y = x.double(), y.double()
    cond = Independent(Normal(rho * x[:, None, :], math.sqrt(1 - rho**2)), 1)  # batch (N, 1), event d
    marginal = Independent(Normal(torch.zeros_like(y), torch.ones_like(y)), 1)
    return cond.log_prob(y[None, :, :]) - marginal.log_prob(y)[None, :]


@pytest.mark.parametrize(("n", "dim", "rho"), [(1, 1, 0.5), (6, 3, 0.7), (10, 20, -0.4), (5, 2, 0.0), (8, 4, 0.99)])
def test_gaussian_log_ratio_matches_distributions(n, dim, rho) -> None:
    x, y = correlated_gaussians(n, dim, rho, generator=torch.Generator().manual_seed(n))
    result = gaussian_log_ratio(x, y, rho)
    assert result.shape == (n, n)
    assert result.dtype == torch.float64
    torch.testing.assert_close(result, _log_ratio_distributions(x, y, rho), rtol=1e-10, atol=1e-9)
    # rows are x, columns y: swapping the arguments transposes (the ratio is symmetric in x and y)
    torch.testing.assert_close(gaussian_log_ratio(y, x, rho), result.T, rtol=1e-10, atol=1e-9)


def test_gaussian_log_ratio_diagonal_mean_is_mi() -> None:
    # E[log p(y|x) / p(y)] over true pairs is exactly the mutual information
    dim, rho, n = 5, 0.8, 4000
    x, y = correlated_gaussians(n, dim, rho, generator=torch.Generator().manual_seed(8))
    diag = gaussian_log_ratio(x, y, rho).diagonal()
    se = float(diag.std()) / math.sqrt(n)
    assert abs(float(diag.mean()) - gaussian_mi(dim, rho)) < 5 * se


def test_gaussian_log_ratio_accepts_lists_and_rejects_bad_inputs() -> None:
    x = [[0.0, 1.0], [1.0, 0.0]]
    out = gaussian_log_ratio(x, x, 0.5)
    torch.testing.assert_close(out, _log_ratio_distributions(torch.tensor(x), torch.tensor(x), 0.5))
    with pytest.raises(ValueError, match="x and y"):
        gaussian_log_ratio(torch.randn(3, 2), torch.randn(4, 2), 0.5)
    with pytest.raises(ValueError, match="x and y"):
        gaussian_log_ratio(torch.randn(3), torch.randn(3), 0.5)
    with pytest.raises(ValueError, match="x"):
        gaussian_log_ratio(torch.tensor([[float("nan")]]), torch.zeros(1, 1), 0.5)
    with pytest.raises(ValueError, match="y"):
        gaussian_log_ratio(torch.zeros(1, 1), torch.tensor([[float("inf")]]), 0.5)
    for rho in (1.0, -1.0, 2.0):
        with pytest.raises(ValueError, match="rho"):
            gaussian_log_ratio(torch.zeros(2, 2), torch.zeros(2, 2), rho)


@pytest.mark.parametrize(("n", "dim", "rho"), [(1, 1, 0.5), (6, 3, 0.7), (10, 20, -0.4), (5, 2, 0.0)])
def test_log_ratio_features_reproduce_the_matrix_as_a_dot_product(n, dim, rho) -> None:
    x, y = correlated_gaussians(n, dim, rho, generator=torch.Generator().manual_seed(n))
    g, h = gaussian_log_ratio_features(x, y, rho)
    assert g.shape == h.shape == (n, dim + 2) and g.dtype == torch.float64
    torch.testing.assert_close(g @ h.T, _log_ratio_distributions(x, y, rho), rtol=1e-10, atol=1e-9)
    with pytest.raises(ValueError, match="x and y"):
        gaussian_log_ratio_features(torch.randn(3, 2), torch.randn(4, 2), 0.5)
    with pytest.raises(ValueError, match="rho"):
        gaussian_log_ratio_features(x, y, 1.0)


# ---------------------------------------------------------------------------------------------------------------
# the InfoNCE ceiling: the optimal critic at N = 64 (Poole et al. 2019)
# ---------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("mi", "expected"), [(2, 1.83), (4, 3.08), (6, 3.75), (8, 4.02), (10, 4.12)])
def test_optimal_critic_infonce_estimate(mi, expected) -> None:
    n, dim, batches = 64, 20, 300
    rho = rho_for_mi(dim, mi)
    x_all, y_all = correlated_gaussians(n * batches, dim, rho, generator=torch.Generator().manual_seed(1000 + mi))
    estimates = []
    for x, y in zip(x_all.view(batches, n, dim), y_all.view(batches, n, dim)):  # independent batches of N pairs
        loss = info_nce_logits(gaussian_log_ratio(x, y, rho), symmetric=False)
        bound = float(infonce_mi_bound(loss, n))
        assert bound <= math.log(n) + 1e-12  # never above log N, batch by batch
        estimates.append(bound)
    mean = sum(estimates) / batches
    se = math.sqrt(sum((e - mean) ** 2 for e in estimates) / (batches - 1) / batches)
    assert se < 0.015  # the tolerance below is several standard errors
    assert abs(mean - expected) < 0.06
    assert mean <= math.log(n)
    assert mean <= mi + 5 * se  # a lower bound on the true MI
