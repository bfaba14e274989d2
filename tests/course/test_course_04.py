"""Notebook 04's course pass: Tweedie's denoiser from a score (``sampling.x0_from_score``), the last step of a
noise-level sampler (section 4) and the estimate drawn in section 6's film strip."""

from __future__ import annotations

import math

import pytest
import torch

from mmobjectives import data, sampling


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_x0_from_score_is_x_plus_sigma_squared_score_over_alpha() -> None:
    x = torch.randn(6, 3, generator=_gen(), dtype=torch.float64)
    score = torch.randn(6, 3, generator=_gen(1), dtype=torch.float64)
    assert torch.allclose(sampling.x0_from_score(x, score, 0.8, 0.6), (x + 0.36 * score) / 0.8, atol=1e-14)
    alpha, sigma = torch.linspace(0.2, 0.9, 6, dtype=torch.float64), torch.linspace(0.1, 1.5, 6, dtype=torch.float64)
    expected = (x + sigma[:, None] ** 2 * score) / alpha[:, None]
    assert torch.allclose(sampling.x0_from_score(x, score, alpha, sigma), expected, atol=1e-14)


def test_x0_from_score_is_the_posterior_mean_of_a_gaussian() -> None:
    """x_0 ~ N(mu, s^2 I), x = x_0 + sigma eps: E[x_0 | x] = mu + s^2/(s^2 + sigma^2) (x - mu)."""
    mu, s, sigma = torch.tensor([[1.0, -2.0]], dtype=torch.float64), 0.7, 1.3
    noised = data.GaussianMixture(mu, math.sqrt(s**2 + sigma**2))
    x = noised.sample(50, generator=_gen(2))
    posterior_mean = mu + s**2 / (s**2 + sigma**2) * (x - mu)
    assert torch.allclose(sampling.x0_from_score(x, noised.score(x), 1.0, sigma), posterior_mean, atol=1e-12)


def test_x0_from_score_agrees_with_x0_from_eps_on_the_vp_schedule() -> None:
    ring, vp = data.ring(), sampling.VPSchedule("linear")
    score_fn = sampling.analytic_diffusion_score(ring, vp)
    alpha, sigma = (float(v) for v in vp.marginal(0.4))
    x_t = ring.diffused(alpha, sigma).sample(100, generator=_gen(3))
    score = score_fn(x_t, torch.full((100,), 0.4, dtype=torch.float64))
    via_eps = sampling.x0_from_eps(x_t, sampling.eps_from_score(score, sigma), alpha, sigma)
    assert torch.allclose(sampling.x0_from_score(x_t, score, alpha, sigma), via_eps, atol=1e-12)


def test_tweedie_narrows_annealed_samples_by_the_predicted_factor() -> None:
    """Samples of q_sigma (what annealed Langevin ends at) have spread sqrt(s^2 + sigma^2) per mode; the denoised
    ones s^2 / sqrt(s^2 + sigma^2) (notebook 04, section 4), drawn here exactly rather than by Langevin."""
    two, sigma = data.two_modes(), 1.0
    noisy = two.noised(sigma).sample(40_000, generator=_gen(4))
    denoised = sampling.x0_from_score(noisy, two.noised(sigma).score(noisy), 1.0, sigma)
    own_mode = two.means[torch.cdist(denoised, two.means).argmin(1)]
    spread = float((denoised - own_mode).std(0).mean())
    assert spread == pytest.approx(1.0 / math.sqrt(2.0), rel=0.02)


@pytest.mark.parametrize(
    ("call", "error", "name"),
    [
        (lambda: sampling.x0_from_score(torch.zeros(3, 2), [[0.0, 0.0]] * 3, 1.0, 0.5), TypeError, "score"),
        (lambda: sampling.x0_from_score(torch.zeros(3, 2), torch.zeros(3, 2), 1.0, 0.0), ValueError, "sigma"),
        (lambda: sampling.x0_from_score(torch.zeros(3, 2), torch.zeros(3, 2), -1.0, 0.5), ValueError, "alpha"),
    ],
)
def test_x0_from_score_names_the_bad_argument(call, error, name) -> None:
    with pytest.raises(error, match=name):
        call()
