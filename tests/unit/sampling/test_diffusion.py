"""Diffusion (notebook 04): schedules, conversions, samplers, losses and the energy distance.

Samplers are checked against the analytic score of Gaussian data N(μ, σ_data² I) (σ_data = S): the noised
marginal at t is N(α μ, (α² σ_data² + σ²) I), so score(x, t) = -(x - α μ)/(α² σ_data² + σ²). With N = 4000 samples
the standard error of a mean coordinate is σ_data/√N ≈ 0.008 and of a variance σ_data²√(2/N) ≈ 0.006; tolerances (0.05 on means, 0.03 on the
covariance) leave ≥ 5 standard errors plus the discretisation error measured for these step counts (< 0.01).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from mmobjectives import data, experiments, losses, metrics, models
from mmobjectives.sampling import (
    SAMPLERS,
    VESchedule,
    VPSchedule,
    analytic_diffusion_score,
    annealed_langevin,
    check_prior,
    ddpm_alpha_bar,
    ddpm_sample,
    eps_from_score,
    eps_from_x0,
    eps_model_score,
    guided_score,
    linear_betas,
    probability_flow_ode,
    reverse_sde,
    sample_guided,
    sample_guided_images,
    sample_mixture,
    score_from_eps,
    x0_from_eps,
)

MU = torch.tensor([1.0, -2.0], dtype=torch.float64)
S = 0.5  # data standard deviation
N = 4000
SCHEDULES = [VESchedule(), VPSchedule("linear"), VPSchedule("cosine")]
IDS = ["ve", "vp-linear", "vp-cosine"]


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def gaussian_score(schedule):
    def score(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        assert t.shape == (x.shape[0],)
        alpha, sigma = schedule.marginal(t)
        alpha, sigma = alpha[:, None], sigma[:, None]
        return -(x - alpha * MU) / (alpha**2 * S**2 + sigma**2)

    return score


def _marginal_sample(schedule, t: float, n: int, seed: int) -> torch.Tensor:
    alpha, sigma = (float(v) for v in schedule.marginal(t))
    std = math.sqrt(alpha**2 * S**2 + sigma**2)
    return alpha * MU + std * torch.randn(n, 2, generator=_gen(seed), dtype=torch.float64)


def _assert_gaussian(x: torch.Tensor, mean_tol: float = 0.05, cov_tol: float = 0.03) -> None:
    assert x.shape == (N, 2)
    assert torch.allclose(x.mean(0), MU, atol=mean_tol), x.mean(0)
    cov = torch.cov(x.T)
    assert torch.allclose(cov, S**2 * torch.eye(2, dtype=torch.float64), atol=cov_tol), cov


# -- schedules ------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["linear", "cosine"])
def test_vp_is_variance_preserving(kind):
    t = torch.linspace(0, 1, 101, dtype=torch.float64)
    alpha, sigma = VPSchedule(kind).marginal(t)
    assert torch.allclose(alpha**2 + sigma**2, torch.ones_like(t), atol=1e-12)
    assert float(sigma[0]) == 0.0 and float(alpha[0]) == 1.0
    assert 0 < float(alpha[-1]) < 0.02  # nearly pure noise at t = 1, but alpha(1) > 0
    assert bool((alpha[1:] <= alpha[:-1]).all())  # the signal only decays (cosine: flat where clipped near t = 1)


def test_ve_endpoints_and_float_input():
    schedule = VESchedule(0.01, 10.0)
    alpha, sigma = schedule.marginal(0.0)
    assert float(alpha) == 1.0 and float(sigma) == pytest.approx(0.01, rel=1e-12)
    assert float(schedule.marginal(1.0)[1]) == pytest.approx(10.0, rel=1e-12)
    assert float(schedule.marginal(0.5)[1]) == pytest.approx(math.sqrt(0.1), rel=1e-12)  # geometric midpoint
    x = torch.randn(3, 2)
    assert torch.equal(schedule.drift(x, 0.3), torch.zeros_like(x))
    assert schedule.marginal(torch.tensor([0.2, 0.4], dtype=torch.float32))[1].dtype == torch.float32


@pytest.mark.parametrize("schedule", SCHEDULES, ids=IDS)
def test_g_squared_is_the_derivative_of_the_schedule(schedule):
    t = torch.linspace(0.05, 0.95, 19, dtype=torch.float64)
    h = 1e-6
    g2 = schedule.diffusion(t) ** 2
    if isinstance(schedule, VESchedule):  # g² = dσ²/dt
        expected = (schedule.marginal(t + h)[1] ** 2 - schedule.marginal(t - h)[1] ** 2) / (2 * h)
    else:  # β = -d log ᾱ / dt
        expected = -(torch.log(schedule.marginal(t + h)[0] ** 2) - torch.log(schedule.marginal(t - h)[0] ** 2)) / (
            2 * h
        )
    assert torch.allclose(g2, expected, rtol=1e-6)
    if isinstance(schedule, VPSchedule) and schedule.kind == "linear":
        assert torch.allclose(g2, 0.1 + t * (20.0 - 0.1), rtol=1e-12)


@pytest.mark.parametrize("schedule", SCHEDULES, ids=IDS)
def test_forward_sde_reproduces_the_marginal_variance(schedule):
    # For dx = -½β x dt + √β dw (VP) / dx = g dw (VE), var' = 2·(drift coefficient)·var + g², integrated with RK4
    # from var(0) = α(0)²v0 + σ(0)², must land on α(t)² v0 + σ(t)² at every t.
    v0 = S**2
    m = 4000
    grid = torch.linspace(0, 1, 2 * m + 1, dtype=torch.float64)  # nodes and midpoints
    g2 = (schedule.diffusion(grid) ** 2).tolist()
    x_probe = torch.ones(2 * m + 1, 1, dtype=torch.float64)
    rate = (2 * schedule.drift(x_probe, grid)[:, 0]).tolist()  # 2 f(x,t)/x
    alpha, sigma = schedule.marginal(grid)
    var = float(alpha[0]) ** 2 * v0 + float(sigma[0]) ** 2
    h = 1.0 / m
    for k in range(m):
        i = 2 * k
        k1 = rate[i] * var + g2[i]
        k2 = rate[i + 1] * (var + 0.5 * h * k1) + g2[i + 1]
        k3 = rate[i + 1] * (var + 0.5 * h * k2) + g2[i + 1]
        k4 = rate[i + 2] * (var + h * k3) + g2[i + 2]
        var += h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
        if (k + 1) % 500 == 0:
            expected = float(alpha[i + 2]) ** 2 * v0 + float(sigma[i + 2]) ** 2
            assert var == pytest.approx(expected, rel=1e-5), (float(grid[i + 2]), var, expected)


# -- conversions ----------------------------------------------------------------------------------------------------
def test_conversions_round_trip():
    g = _gen(1)
    x0 = torch.randn(5, 3, generator=g, dtype=torch.float64)
    eps = torch.randn(5, 3, generator=g, dtype=torch.float64)
    alpha, sigma = VPSchedule().marginal(torch.rand(5, generator=g, dtype=torch.float64) * 0.9 + 0.05)
    x_t = alpha[:, None] * x0 + sigma[:, None] * eps
    assert torch.allclose(x0_from_eps(x_t, eps, alpha, sigma), x0, atol=1e-10)
    assert torch.allclose(eps_from_x0(x_t, x0, alpha, sigma), eps, atol=1e-10)
    score = score_from_eps(eps, sigma)
    assert torch.allclose(score, -eps / sigma[:, None])
    assert torch.allclose(eps_from_score(score, sigma), eps, atol=1e-12)
    assert torch.allclose(score_from_eps(eps, 2.0), -eps / 2)  # float sigma
    assert torch.allclose(eps_from_score(score_from_eps(eps, 0.3), 0.3), eps)


def test_guided_score():
    cond, uncond = torch.tensor([[1.0, 2.0]]), torch.tensor([[0.5, -1.0]])
    assert torch.allclose(guided_score(cond, uncond, 0.0), cond)
    assert torch.allclose(guided_score(cond, uncond, -1.0), uncond)
    assert torch.allclose(guided_score(cond, uncond, 2.0), 3 * cond - 2 * uncond)
    with pytest.raises(ValueError, match="score_uncond"):
        guided_score(cond, torch.zeros(2, 2), 1.0)


def test_guided_score_is_the_models_guidance_formula_and_w_must_be_a_number():
    g = _gen(30)
    cond, uncond = torch.randn(4, 3, generator=g), torch.randn(4, 3, generator=g)
    for w in (0.0, 0.5, 3.0):
        assert torch.equal(guided_score(cond, uncond, w), models.classifier_free_guidance(cond, uncond, w))
    for bad in ("2", None, [1.0], True):
        with pytest.raises(TypeError, match=r"^w\b"):
            guided_score(cond, uncond, bad)
    with pytest.raises(TypeError, match="score_cond"):
        guided_score(cond.long(), uncond, 1.0)


# -- DDPM schedule ------------------------------------------------------------------------------------------------
def test_standard_linear_betas_reach_the_prior():
    betas = linear_betas()
    assert betas.shape == (1000,) and float(betas[0]) == pytest.approx(1e-4) and float(betas[-1]) == 0.02
    alpha_bar = ddpm_alpha_bar(betas)
    assert float(alpha_bar[-1]) == pytest.approx(4.04e-5, rel=0.01)
    assert torch.allclose(alpha_bar, torch.cumprod(1 - betas, 0))


def test_short_schedule_warns_about_the_prior(recwarn):
    betas = linear_betas(K=50)
    assert float(ddpm_alpha_bar(betas)[-1]) > 1e-2
    with pytest.warns(UserWarning, match="alpha_bar_K"):
        check_prior(float(ddpm_alpha_bar(betas)[-1]))
    with pytest.warns(UserWarning, match="wrong prior"):
        ddpm_sample(lambda x, t: torch.zeros_like(x), (4, 2), betas, generator=_gen())
    check_prior(4e-5)
    assert not [w for w in recwarn if issubclass(w.category, UserWarning)]


# -- samplers on Gaussian data -------------------------------------------------------------------------------------
@pytest.mark.parametrize("schedule", SCHEDULES, ids=IDS)
def test_reverse_sde_recovers_gaussian_data(schedule):
    x_1 = _marginal_sample(schedule, 1.0, N, seed=2)
    x = reverse_sde(gaussian_score(schedule), x_1, schedule, 400, generator=_gen(3))
    _assert_gaussian(x)


@pytest.mark.parametrize("schedule", SCHEDULES, ids=IDS)
def test_probability_flow_ode_recovers_gaussian_data(schedule):
    x_1 = _marginal_sample(schedule, 1.0, N, seed=4)
    x = probability_flow_ode(gaussian_score(schedule), x_1, schedule, 200)
    _assert_gaussian(x)
    assert torch.equal(x, probability_flow_ode(gaussian_score(schedule), x_1, schedule, 200))  # deterministic


def test_reverse_sde_from_the_standard_vp_prior():
    schedule = VPSchedule()
    x_1 = torch.randn(N, 2, generator=_gen(5), dtype=torch.float64)  # N(0, I), not the exact marginal
    _assert_gaussian(reverse_sde(gaussian_score(schedule), x_1, schedule, 400, generator=_gen(6)))


def test_ddpm_sample_with_the_exact_eps_recovers_gaussian_data():
    betas = linear_betas()
    alpha_bar = ddpm_alpha_bar(betas)

    def eps_fn(x: torch.Tensor, k_index: torch.Tensor) -> torch.Tensor:
        assert k_index.dtype == torch.long and k_index.shape == (x.shape[0],)
        ab = alpha_bar[k_index][:, None]
        score = -(x - ab.sqrt() * MU) / (ab * S**2 + 1 - ab)
        return -torch.sqrt(1 - ab) * score

    x = ddpm_sample(eps_fn, (N, 2), betas, generator=_gen(7), dtype=torch.float64)
    _assert_gaussian(x)


def test_annealed_langevin_gets_the_mode_weights_right():
    mixture = data.two_modes()  # 0.2 N((-5,-5), I) + 0.8 N((5,5), I)
    sigmas = torch.logspace(math.log10(20.0), 0.0, 10, dtype=torch.float64)
    cache: dict[float, data.GaussianMixture] = {}

    def score(x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        assert sigma.shape == (x.shape[0],)
        level = float(sigma[0])
        return cache.setdefault(level, mixture.noised(level)).score(x)

    n = 2000
    x = 16 * torch.rand(n, 2, generator=_gen(8), dtype=torch.float64) - 8
    out = annealed_langevin(score, x, sigmas, 100, 0.1, generator=_gen(9))
    left = float((out.sum(1) < 0).float().mean())
    # binomial standard error √(0.2·0.8/2000) ≈ 0.009; ±0.04 is > 4 of them
    assert left == pytest.approx(0.2, abs=0.04), left


# -- losses ---------------------------------------------------------------------------------------------------------
def test_noise_conditional_dsm_matches_the_formula():
    g = _gen(10)
    schedule = VPSchedule()
    x0 = torch.randn(6, 2, generator=g, dtype=torch.float64)
    eps = torch.randn(6, 2, generator=g, dtype=torch.float64)
    t = torch.linspace(0.1, 0.9, 6, dtype=torch.float64)

    def score(x: torch.Tensor, tt: torch.Tensor) -> torch.Tensor:
        return -0.7 * x + tt[:, None]

    alpha, sigma = schedule.marginal(t)
    x_t = alpha[:, None] * x0 + sigma[:, None] * eps
    s = score(x_t, t)
    per = 0.5 * sigma**2 * ((s + eps / sigma[:, None]) ** 2).sum(1)
    got = losses.noise_conditional_dsm(score, x0, schedule, t=t, noise=eps, reduction="none")
    assert torch.allclose(got, per, rtol=1e-12)
    flat = losses.noise_conditional_dsm(score, x0, schedule, t=t, noise=eps, weighting="none", reduction="sum")
    assert float(flat) == pytest.approx(float((per / sigma**2).sum()), rel=1e-12)


@pytest.mark.parametrize("schedule", SCHEDULES, ids=IDS)
def test_noise_conditional_dsm_is_lowest_at_the_true_score(schedule):
    g = _gen(11)
    x0 = MU + S * torch.randn(20000, 2, generator=g, dtype=torch.float64)
    true = gaussian_score(schedule)
    kwargs = {"noise": torch.randn(x0.shape, generator=g, dtype=torch.float64), "t": None, "generator": _gen(12)}
    at_truth = losses.noise_conditional_dsm(true, x0, schedule, **kwargs)
    kwargs["generator"] = _gen(12)  # same t
    for delta in (lambda x, t: 0.3 * torch.ones_like(x), lambda x, t: 0.2 * x):
        perturbed = losses.noise_conditional_dsm(lambda x, t, d=delta: true(x, t) + d(x, t), x0, schedule, **kwargs)
        kwargs["generator"] = _gen(12)
        assert float(at_truth) < float(perturbed)


def test_eps_prediction_is_twice_dsm_with_sigma2_weighting():
    g = _gen(13)
    schedule = VPSchedule("cosine")
    x0 = torch.randn(50, 3, generator=g, dtype=torch.float64)

    def eps_fn(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return torch.tanh(x) * t[:, None]

    def score_fn(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return -eps_fn(x, t) / schedule.marginal(t)[1][:, None]

    eps_loss = losses.eps_prediction_loss(eps_fn, x0, schedule, generator=_gen(14))
    dsm = losses.noise_conditional_dsm(score_fn, x0, schedule, generator=_gen(14))
    assert float(eps_loss) == pytest.approx(2 * float(dsm), rel=1e-10)
    # and by hand: mean over examples of the feature-summed squared error
    t = torch.full((50,), 0.4, dtype=torch.float64)
    eps = torch.randn(50, 3, generator=g, dtype=torch.float64)
    alpha, sigma = schedule.marginal(t)
    manual = ((eps_fn(alpha[:, None] * x0 + sigma[:, None] * eps, t) - eps) ** 2).sum(1).mean()
    assert float(losses.eps_prediction_loss(eps_fn, x0, schedule, t=0.4, noise=eps)) == pytest.approx(float(manual))


def test_eps_prediction_floor_of_gaussian_data_is_the_conditional_variance_of_the_noise():
    """Notebook 06's floor: for data N(μ, σ_data² I) the best noise predictor is E[ε | x_t] = -σ_t ∇log p_t(x_t)
    (Tweedie), and its loss at time t is C(t) = D α_t² σ_data² / (α_t² σ_data² + σ_t²), not 0; scaling it either way
    costs more (paired: the same x_0 and ε)."""
    schedule = VPSchedule("linear")
    clean = data.GaussianMixture(MU[None], S)
    x0 = clean.sample(20000, generator=_gen(31))
    for t in (0.1, 0.3, 0.7):
        alpha, sigma = (float(v) for v in schedule.marginal(torch.tensor(t, dtype=torch.float64)))
        noised = clean.diffused(alpha, sigma)

        def best(
            x: torch.Tensor, tt: torch.Tensor, scale: float = 1.0, noised=noised, sigma=sigma
        ) -> torch.Tensor:  # the law and σ_t of this t, bound now
            return scale * eps_from_score(noised.score(x), sigma)

        per_example = losses.eps_prediction_loss(best, x0, schedule, t=t, generator=_gen(32), reduction="none")
        c_t = 2 * alpha**2 * S**2 / (alpha**2 * S**2 + sigma**2)  # D = 2
        se = float(per_example.std()) / math.sqrt(len(per_example))
        assert abs(float(per_example.mean()) - c_t) < 4 * se, (t, float(per_example.mean()), c_t, se)
        for scale in (0.7, 1.3):
            other = losses.eps_prediction_loss(
                lambda x, tt, scale=scale: best(x, tt, scale), x0, schedule, t=t, generator=_gen(32)
            )
            assert float(other) > float(per_example.mean()), (t, scale)


# -- energy distance ------------------------------------------------------------------------------------------------
def test_energy_distance_against_a_double_loop():
    g = _gen(15)
    x = torch.randn(4, 3, generator=g, dtype=torch.float64)
    y = torch.randn(5, 3, generator=g, dtype=torch.float64) + 0.5

    def mean_dist(a: torch.Tensor, b: torch.Tensor) -> float:
        return sum(float((ai - bj).norm()) for ai in a for bj in b) / (len(a) * len(b))

    expected = 2 * mean_dist(x, y) - mean_dist(x, x) - mean_dist(y, y)
    assert metrics.energy_distance(x, y) == pytest.approx(expected, rel=1e-12)
    assert metrics.energy_distance(y, x) == pytest.approx(expected, rel=1e-12)
    assert metrics.energy_distance(x, x) == 0.0


def test_energy_distance_floor_and_shift():
    mixture = data.two_modes()
    n = 500
    floor, spread = metrics.energy_distance_floor(mixture.sample, n, n_repeats=5, generator=_gen(16))
    assert floor > 0
    same = metrics.energy_distance(mixture.sample(n, _gen(17)), mixture.sample(n, _gen(18)))
    assert 0 <= same < floor + 5 * spread
    shifted = metrics.energy_distance(mixture.sample(n, _gen(19)), mixture.sample(n, _gen(20)) + 2.0)
    assert shifted > 10 * floor
    # the V-statistic floor is about 2 E||X - X'|| / n
    x = mixture.sample(4000, _gen(21))
    assert floor == pytest.approx(2 * float(torch.pdist(x).mean()) / n, rel=0.5)


# -- bad inputs -----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "call,name",
    [
        (lambda: VESchedule(sigma_min=10.0, sigma_max=1.0), "sigma_min"),
        (lambda: VESchedule(sigma_min=-1.0), "sigma_min"),
        (lambda: VPSchedule(kind="quadratic"), "kind"),
        (lambda: VPSchedule(beta_min=5.0, beta_max=1.0), "beta_min"),
        (lambda: VPSchedule().marginal(1.5), "t"),
        (lambda: VESchedule().diffusion(torch.tensor([-0.1, 0.5])), "t"),
        (lambda: reverse_sde(lambda x, t: x, torch.zeros(3, 2), VPSchedule(), 0), "n_steps"),
        (lambda: probability_flow_ode(lambda x, t: x, torch.zeros(3, 2), VPSchedule(), 10, t_min=0.0), "t_min"),
        (lambda: reverse_sde(lambda x, t: x, torch.zeros(3), VPSchedule(), 10), "x_1"),
        (lambda: annealed_langevin(lambda x, s: x, torch.zeros(3, 2), [1.0, 2.0], 5, 0.1), "sigmas"),
        (lambda: annealed_langevin(lambda x, s: x, torch.zeros(3, 2), [2.0, 1.0], 0, 0.1), "n_steps_each"),
        (lambda: annealed_langevin(lambda x, s: x, torch.zeros(3, 2), [2.0, 1.0], 5, 0.0), "step_lr"),
        (lambda: linear_betas(K=0), "K"),
        (lambda: ddpm_sample(lambda x, t: x, (3, 2), torch.tensor([0.1, 1.5])), "betas"),
        (lambda: score_from_eps(torch.zeros(3, 2), 0.0), "sigma"),
        (lambda: x0_from_eps(torch.zeros(3, 2), torch.zeros(3, 2), torch.ones(4), 1.0), "alpha"),
        (lambda: losses.noise_conditional_dsm(lambda x, t: x, torch.zeros(3, 2), VPSchedule(), t=1.2), "t"),
        (lambda: losses.noise_conditional_dsm(lambda x, t: x, torch.zeros(3, 2), VPSchedule(), t=0.0), "t"),
        (lambda: losses.noise_conditional_dsm(lambda x, t: x, torch.zeros(3, 2), VPSchedule(), t_min=1.0), "t_min"),
        (
            lambda: losses.noise_conditional_dsm(lambda x, t: x, torch.zeros(3, 2), VPSchedule(), weighting="x"),
            "weighting",
        ),
        (lambda: losses.eps_prediction_loss(lambda x, t: x[:, :1], torch.zeros(3, 2), VPSchedule()), "eps_fn"),
        (lambda: metrics.energy_distance(torch.zeros(3, 2), torch.zeros(3, 3)), "y"),
    ],
)
def test_bad_inputs_name_the_argument(call, name):
    with pytest.raises(ValueError, match=rf"\b{name}\b"):
        call()


def test_schedule_must_be_duck_typed():
    with pytest.raises(TypeError, match="schedule"):
        losses.noise_conditional_dsm(lambda x, t: x, torch.zeros(3, 2), schedule=0.5)
    with pytest.raises(TypeError, match="schedule"):
        reverse_sde(lambda x, t: x, torch.zeros(3, 2), object(), 10)


@pytest.mark.parametrize("schedule", SCHEDULES[:2], ids=IDS[:2])
def test_probability_flow_ode_is_second_order(schedule):
    # Heun: halving the step divides the error by ≈ 4 (Euler would give ≈ 2); measured 4.2 (VE), 3.9 (VP).
    x_1 = _marginal_sample(schedule, 1.0, 200, seed=22)
    score = gaussian_score(schedule)
    reference = probability_flow_ode(score, x_1, schedule, 1000)
    errors = [float((probability_flow_ode(score, x_1, schedule, n) - reference).abs().max()) for n in (50, 100)]
    assert errors[0] / errors[1] > 3.0, errors


# -- score functions for the samplers: an ε-model's score, the exact score of a mixture ----------------------------
@pytest.mark.parametrize("schedule", SCHEDULES, ids=IDS)
def test_eps_model_score_is_score_from_eps_at_sigma_t(schedule):
    g = _gen(31)
    x = torch.randn(6, 2, generator=g, dtype=torch.float64)
    t = torch.rand(6, generator=g, dtype=torch.float64) * 0.9 + 0.05

    def eps_fn(x, t):
        return torch.sin(x) * (1 + t[:, None])

    _, sigma = schedule.marginal(t)
    expected = score_from_eps(eps_fn(x, t), sigma)
    assert torch.equal(eps_model_score(eps_fn, schedule)(x, t), expected)
    assert torch.allclose(expected, -eps_fn(x, t) / sigma[:, None])
    with pytest.raises(TypeError, match="eps_fn"):
        eps_model_score("model", schedule)
    with pytest.raises(TypeError, match="schedule"):
        eps_model_score(eps_fn, "vp")


def test_eps_model_score_of_the_exact_eps_is_the_exact_score():
    # ε̂ = -σ s  ⇒  -ε̂/σ = s: a round trip through the ε parameterisation
    ring, vp = data.ring(), VPSchedule()
    exact = analytic_diffusion_score(ring, vp)
    t = torch.full((5,), 0.4, dtype=torch.float64)
    x = torch.randn(5, 2, generator=_gen(32), dtype=torch.float64)
    sigma = float(vp.marginal(0.4)[1])
    score = eps_model_score(lambda x, t: eps_from_score(exact(x, t), sigma), vp)
    assert torch.allclose(score(x, t), exact(x, t), atol=1e-12)
    with pytest.raises(TypeError, match="mixture"):
        analytic_diffusion_score("ring", vp)


# -- guided sampling: THE one class/text-conditional path -----------------------------------------------------------
def _class_model(data_dim=None):
    torch.manual_seed(0)
    return models.ConditionalEpsNet(image_size=4, n_classes=3, hidden=16, n_layers=1, data_dim=data_dim).eval()


def test_sample_guided_at_w_zero_is_the_plain_conditional_sampler():
    model, vp = _class_model(data_dim=2), VPSchedule()
    labels = torch.tensor([0, 1, 2, 2])
    got = sample_guided(model, labels, vp, w=0.0, n_steps=20, generator=_gen(33))

    def score_fn(x, t):  # what notebook 06 used to write by hand
        return score_from_eps(model(x, t, labels), vp.marginal(t)[1][:, None])

    g = _gen(33)
    with torch.no_grad():
        expected = reverse_sde(score_fn, torch.randn(4, 2, generator=g), vp, 20, generator=g)
    assert got.shape == (4, 2)
    assert torch.equal(got, expected)
    # w > 0 mixes in the unconditional prediction: a different path from the same noise
    guided = sample_guided(model, labels, vp, w=2.0, n_steps=20, generator=_gen(33))
    assert not torch.allclose(guided, got)


def test_sample_guided_uses_the_guided_eps():
    model, vp, w = _class_model(data_dim=2), VPSchedule(), 1.5
    labels = torch.tensor([1, 0])
    got = sample_guided(model, labels, vp, w=w, n_steps=10, generator=_gen(34))
    score_fn = eps_model_score(lambda x, t: model.guided_eps(x, t, labels, w), vp)
    g = _gen(34)
    with torch.no_grad():
        expected = reverse_sde(score_fn, torch.randn(2, 2, generator=g), vp, 10, generator=g)
    assert torch.equal(got, expected)


def test_sample_guided_images_are_pixels_and_bad_arguments_are_named():
    model, vp = _class_model(), VPSchedule()
    images = sample_guided_images(model, torch.tensor([0, 2, 1]), vp, w=1.0, n_steps=5, generator=_gen(35))
    assert images.shape == (3, 1, 4, 4) and float(images.min()) >= 0 and float(images.max()) <= 1
    with pytest.raises(ValueError, match=r"^w \(guidance weight\)"):
        sample_guided(model, torch.tensor([0]), vp, w=-1.0, n_steps=2)
    with pytest.raises(TypeError, match=r"^w\b"):
        sample_guided(model, torch.tensor([0]), vp, w="2", n_steps=2)
    with pytest.raises(TypeError, match="model"):
        sample_guided(lambda x, t, c: x, torch.tensor([0]), vp)
    with pytest.raises(ValueError, match="cond"):
        sample_guided(model, torch.tensor([], dtype=torch.long), vp)
    with pytest.raises(ValueError, match="n_steps"):
        sample_guided(model, torch.tensor([0]), vp, n_steps=0)
    with pytest.raises(ValueError, match="data_dim"):
        sample_guided_images(_class_model(data_dim=2), torch.tensor([0]), vp, n_steps=2)


# -- the sampler dispatch of notebook 04 and its step policy ---------------------------------------------------------
class _CountingMixture(data.GaussianMixture):
    """A mixture that counts how often a sampler asks for the score of a noised or diffused copy of it."""

    calls = 0

    def noised(self, sigma):
        type(self).calls += 1
        return super().noised(sigma)

    def diffused(self, alpha, sigma):
        type(self).calls += 1
        return super().diffused(alpha, sigma)


@pytest.mark.parametrize(
    ("sampler", "n_steps", "evaluations"),
    [
        ("annealed Langevin", 200, 200),  # 10 levels x 20 steps
        ("annealed Langevin", 25, 20),  # 10 levels x max(25 // 10, 1)
        ("annealed Langevin", 3, 10),  # at least one step per level
        ("reverse SDE", 37, 37),
        ("probability-flow ODE", 200, 200),  # 100 Heun steps x 2 evaluations
        ("probability-flow ODE", 7, 6),  # 3 Heun steps
        ("probability-flow ODE", 1, 2),  # at least one Heun step
        ("DDPM", 50, 50),
    ],
)
def test_sample_mixture_step_policy_counts_score_evaluations(sampler, n_steps, evaluations):
    target = _CountingMixture([[2.0, -1.0]], 0.5)
    _CountingMixture.calls = 0
    out = sample_mixture(sampler, n_steps, target, n=8, generator=_gen(36))
    assert out.shape == (8, 2) and out.dtype == torch.float64
    assert _CountingMixture.calls == evaluations


def test_sample_mixture_ddpm_keeps_the_prior_of_the_long_schedule(monkeypatch):
    # DDPM at n_steps: betas of the K = 1000 linear schedule scaled by 1000 / n_steps (same total noise)
    from mmobjectives.sampling import dispatch

    seen = {}

    def spy(eps_fn, shape, betas, **kwargs):
        seen["betas"] = betas
        return ddpm_sample(eps_fn, shape, betas, **kwargs)

    monkeypatch.setattr(dispatch, "ddpm_sample", spy)
    sample_mixture("DDPM", 100, data.ring(), n=4, generator=_gen(37))
    torch.testing.assert_close(seen["betas"], linear_betas(100, 1e-3, 0.2))
    assert float(ddpm_alpha_bar(seen["betas"])[-1]) < 1e-2  # still starts from (close to) N(0, I)


def test_sample_mixture_is_what_run_sampler_scores():
    ring = data.ring()
    for sampler in SAMPLERS:
        run = experiments.run_sampler(sampler, 20, ring, n=50, seed=4)
        direct = sample_mixture(sampler, 20, ring, n=50, generator=_gen(4))
        assert np.array_equal(run.samples, direct.numpy()), sampler
    with pytest.raises(ValueError, match=r"^sampler must be one of"):
        sample_mixture("Euler", 10, ring)
    with pytest.raises(ValueError, match=r"^n_steps\b"):
        sample_mixture("DDPM", 0, ring)
    with pytest.raises(TypeError, match="mixture"):
        sample_mixture("DDPM", 10, "ring")
