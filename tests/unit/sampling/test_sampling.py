"""Unadjusted Langevin dynamics (``mmobjectives.sampling.langevin``)."""

from __future__ import annotations

import math

import pytest
import torch

from mmobjectives import data
from mmobjectives.sampling import langevin

MU = torch.tensor([1.0, -1.0], dtype=torch.float64)
SIGMA = torch.tensor([[0.5, 0.3], [0.3, 0.4]], dtype=torch.float64)  # non-diagonal, eigenvalues ≈ 0.754, 0.146
PRECISION = torch.linalg.inv(SIGMA)


def gaussian_score(x: torch.Tensor) -> torch.Tensor:
    """∇log N(x; μ, Σ) = -Σ⁻¹(x - μ), row-wise (broadcast by hand: a (N, 2) @ (2, 2) float64 matmul is slow)."""
    d = x - MU.to(x.dtype)
    p = PRECISION.to(x.dtype)
    return -(d[:, :1] * p[0] + d[:, 1:] * p[1])  # PRECISION is symmetric


def _start(n: int, seed: int = 0) -> torch.Tensor:
    return torch.randn(n, 2, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def test_langevin_samples_a_correlated_gaussian():
    # ULA on N(μ, Σ): x' = x - (η/2)Σ⁻¹(x - μ) + √η z is itself Gaussian with stationary mean μ exactly and, per
    # eigenvalue λ of Σ, stationary variance c = λ / (1 - η/(4λ)), i.e. Σ_η = Σ (I - (η/4)Σ⁻¹)⁻¹, a bias of ≈ η/4.
    # With η = 0.01 the bias is ≈ 0.0025 (0.0026 on the larger eigenvalue): far inside the 0.05 tolerance.
    # Mixing: the slowest mode contracts by 1 - η/(2·0.754) per step (time constant ≈ 150 steps); covariance twice
    # as fast. 1000 steps is 6.6 time constants, so the start (chains near 0, mean off by |μ| ≈ 1.4) decays to ≈ 0.002.
    # Monte Carlo: 10000 independent chains; the standard error of a covariance entry is ≲ 0.5·√2/√10000 ≈ 0.007
    # on the diagonal and smaller off it, of the mean ≤ √(0.5/10000) ≈ 0.007: 0.05 is ≥ 7 standard errors.
    eta = 0.01
    stationary = SIGMA @ torch.linalg.inv(torch.eye(2, dtype=torch.float64) - eta / 4 * PRECISION)
    assert float((stationary - SIGMA).abs().max()) < 0.004  # the bias claimed above

    x0 = 0.1 * _start(10000, seed=1)
    samples = langevin(gaussian_score, x0, eta, 1000, generator=torch.Generator().manual_seed(2))
    mean = samples.mean(dim=0)
    cov = torch.cov(samples.T)
    assert float((mean - MU).abs().max()) < 0.05, mean
    assert float((cov - SIGMA).abs().max()) < 0.05, cov
    # and the correlation is really there (a sampler ignoring the off-diagonal term would give ≈ 0)
    assert float(cov[0, 1]) == pytest.approx(0.3, abs=0.05)
    # a too-short run is detectably wrong by the same check: it has not forgotten its start
    short = langevin(gaussian_score, x0, eta, 50, generator=torch.Generator().manual_seed(2))
    assert float((short.mean(dim=0) - MU).abs().max()) > 0.05


def test_langevin_single_step_formula():
    # x1 = x + (η/2) s(x) + √η z with z = randn(x.shape) from the generator
    x = _start(7, seed=3)
    eta = 0.3
    got = langevin(gaussian_score, x, eta, 1, generator=torch.Generator().manual_seed(4))
    z = torch.randn(x.shape, generator=torch.Generator().manual_seed(4), dtype=torch.float64)
    torch.testing.assert_close(got, x + 0.5 * eta * gaussian_score(x) + math.sqrt(eta) * z)


def test_langevin_zero_score_is_a_scaled_random_walk():
    x = _start(5, seed=5)
    eta, n = 0.04, 6
    got = langevin(torch.zeros_like, x, eta, n, generator=torch.Generator().manual_seed(6))
    g = torch.Generator().manual_seed(6)
    walk = sum(torch.randn(x.shape, generator=g, dtype=torch.float64) for _ in range(n))
    torch.testing.assert_close(got, x + math.sqrt(eta) * walk)


@pytest.mark.parametrize(("n_steps", "every"), [(10, 1), (10, 3), (9, 3), (0, 1), (4, 10)])
def test_langevin_trajectory(n_steps, every):
    x = _start(4, seed=7)
    final, traj = langevin(
        gaussian_score,
        x,
        0.05,
        n_steps,
        generator=torch.Generator().manual_seed(8),
        return_trajectory=True,
        trajectory_every=every,
    )
    assert traj.shape == (n_steps // every + 1, 4, 2)
    assert torch.equal(traj[0], x)
    assert final.shape == x.shape
    # the saved frames are the states after steps every, 2·every, ... of the very same run
    plain = langevin(gaussian_score, x, 0.05, n_steps, generator=torch.Generator().manual_seed(8))
    assert torch.equal(final, plain)
    for t in range(1, traj.shape[0]):
        partial = langevin(gaussian_score, x, 0.05, t * every, generator=torch.Generator().manual_seed(8))
        assert torch.equal(traj[t], partial)
    if n_steps % every == 0:
        assert torch.equal(traj[-1], final)


def test_langevin_reproducible_and_does_not_modify_x():
    mix = data.ring(k=3)
    x = _start(50, seed=9)
    x.requires_grad_(True)
    before = x.detach().clone()
    a = langevin(mix.score, x, 0.01, 20, generator=torch.Generator().manual_seed(10))
    b = langevin(mix.score, x, 0.01, 20, generator=torch.Generator().manual_seed(10))
    c = langevin(mix.score, x, 0.01, 20, generator=torch.Generator().manual_seed(11))
    assert torch.equal(a, b)
    assert not torch.allclose(a, c)
    assert torch.equal(x.detach(), before)
    assert not a.requires_grad
    # n_steps = 0 returns the start, as a new tensor
    zero = langevin(mix.score, x, 0.01, 0)
    assert torch.equal(zero, before) and zero.data_ptr() != x.data_ptr()


def test_langevin_keeps_float32():
    x = _start(6, seed=12).float()
    out = langevin(lambda v: -v, x, 0.1, 3, generator=torch.Generator().manual_seed(0))
    assert out.dtype == torch.float32 and out.shape == (6, 2)


def test_langevin_too_large_step_on_stiff_score_raises():
    # score -1000 x: each step multiplies x by (1 - 500 η); η = 1 overflows float64 within ~120 steps
    x = _start(3, seed=13)
    with pytest.raises(FloatingPointError, match="step_size"):
        langevin(lambda v: -1000.0 * v, x, 1.0, 1000, generator=torch.Generator().manual_seed(0))
    # the same score with a step inside the stability region (η < 4/1000) stays finite
    out = langevin(lambda v: -1000.0 * v, x, 1e-3, 1000, generator=torch.Generator().manual_seed(0))
    assert bool(torch.isfinite(out).all())


def test_langevin_rejects_bad_arguments():
    x = _start(3)
    g = torch.Generator().manual_seed(0)
    for bad in ([[0.0, 0.0]], torch.zeros(3, 2, dtype=torch.long), torch.zeros(3), torch.zeros(2, 3, 2)):
        with pytest.raises(ValueError, match="x"):
            langevin(gaussian_score, bad, 0.1, 1)
    nan = x.clone()
    nan[0, 1] = float("inf")
    with pytest.raises(ValueError, match="x must be finite"):
        langevin(gaussian_score, nan, 0.1, 1)
    with pytest.raises(TypeError, match="score_fn"):
        langevin("score", x, 0.1, 1)
    for bad in (0.0, -0.1, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="step_size"):
            langevin(gaussian_score, x, bad, 1)
    with pytest.raises(TypeError, match="step_size"):
        langevin(gaussian_score, x, "0.1", 1)
    with pytest.raises(ValueError, match="n_steps"):
        langevin(gaussian_score, x, 0.1, -1)
    with pytest.raises(TypeError, match="n_steps"):
        langevin(gaussian_score, x, 0.1, 10.0)
    with pytest.raises(ValueError, match="trajectory_every"):
        langevin(gaussian_score, x, 0.1, 1, return_trajectory=True, trajectory_every=0)
    with pytest.raises(TypeError, match="generator"):
        langevin(gaussian_score, x, 0.1, 1, generator=0)
    with pytest.raises(ValueError, match="score_fn"):
        langevin(lambda v: v[:, 0], x, 0.1, 1, generator=g)
    with pytest.raises(ValueError, match="score_fn"):
        langevin(lambda v: v.tolist(), x, 0.1, 1, generator=g)


# -- no host sync per step: the state is checked about every 10 % of the steps and at the end --------------------------
@pytest.mark.parametrize(
    ("n_steps", "checked"),
    [(100, list(range(9, 100, 10))), (5, [0, 1, 2, 3, 4]), (25, [1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 24])],
)
def test_samplers_check_for_divergence_every_tenth_of_the_run(n_steps, checked):
    from mmobjectives.sampling._loop import _is_check_step

    assert [k for k in range(n_steps) if _is_check_step(k, n_steps)] == checked


def test_langevin_divergence_is_caught_at_the_next_check_not_at_every_step():
    x = _start(3, seed=14)
    calls = []

    def score(v):  # finite for two steps, then NaN
        calls.append(1)
        return torch.full_like(v, float("nan")) if len(calls) > 2 else -v

    with pytest.raises(FloatingPointError, match=r"diverged by step 10: step_size"):
        langevin(score, x, 0.1, 100, generator=torch.Generator().manual_seed(0))
    assert len(calls) == 10  # ran on to the first check (step 10 of 100), not to the end
