"""Score matching objectives (implicit, sliced, denoising), the Fisher-divergence metrics and ScoreNet.

Every statistical check uses a fixed seed and a tolerance derived from the sample's own standard error, and each
identity is paired with a wrong variant that the same check rejects, so a test cannot pass vacuously.
"""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from mmobjectives import data, metrics
from mmobjectives.losses import denoising_score_matching, score_matching, sliced_score_matching
from mmobjectives.models import MLP, ScoreNet

REDUCTIONS = ("mean", "sum", "none")


def _reduce(values: torch.Tensor, reduction: str) -> torch.Tensor:
    return {"mean": values.mean(), "sum": values.sum(), "none": values}[reduction]


def _linear(dim: int = 3, seed: int = 0) -> nn.Linear:
    torch.manual_seed(seed)
    lin = nn.Linear(dim, dim).double()
    with torch.no_grad():  # random A (trace far from 0) and b, not the default init scale
        lin.weight.copy_(torch.randn(dim, dim, dtype=torch.float64))
        lin.bias.copy_(torch.randn(dim, dtype=torch.float64))
    return lin


def _mlp(dim: int = 2, seed: int = 0, activation: str = "tanh") -> MLP:
    torch.manual_seed(seed)
    return MLP(dim, dim, (16, 16), activation).double()


def _points(n: int, dim: int, seed: int = 1) -> torch.Tensor:
    return torch.randn(n, dim, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def _jacobian_traces(fn, x: torch.Tensor) -> torch.Tensor:
    """tr(d s / d x) at each row of x, one full Jacobian per example."""
    traces = []
    for xi in x:
        jac = torch.autograd.functional.jacobian(lambda v: fn(v[None])[0], xi)
        traces.append(torch.diagonal(jac).sum())
    return torch.stack(traces)


def _assert_all_params_get_grad(module: nn.Module) -> None:
    for name, p in module.named_parameters():
        assert p.grad is not None, f"{name} got no gradient"
        assert bool(torch.isfinite(p.grad).all()), name
        assert float(p.grad.abs().sum()) > 0, f"{name} got an all-zero gradient"


# -- implicit (Hyvärinen) score matching ---------------------------------------------------------------------------
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_score_matching_linear_model_closed_form(reduction):
    lin = _linear(3)
    x = _points(50, 3)
    a, b = lin.weight.detach(), lin.bias.detach()
    per_example = 0.5 * ((x @ a.T + b) ** 2).sum(dim=1) + torch.trace(a)
    got = score_matching(lin, x, reduction=reduction)
    expected = _reduce(per_example, reduction)
    assert got.shape == expected.shape
    torch.testing.assert_close(got, expected, rtol=1e-10, atol=1e-10)


def test_score_matching_linear_closed_form_rejects_missing_trace():
    # the same comparison without tr A must fail: the test above actually sees the trace term
    lin = _linear(3)
    x = _points(50, 3)
    a, b = lin.weight.detach(), lin.bias.detach()
    assert abs(float(torch.trace(a))) > 0.1
    no_trace = 0.5 * ((x @ a.T + b) ** 2).sum(dim=1)
    assert not torch.allclose(score_matching(lin, x, reduction="none"), no_trace, rtol=1e-6, atol=1e-6)


def test_score_matching_nonlinear_trace_equals_jacobian_trace():
    net = _mlp(3, seed=2)
    x = _points(8, 3, seed=3)
    with torch.no_grad():
        s = net(x)
    expected = 0.5 * (s**2).sum(dim=1) + _jacobian_traces(net, x)
    torch.testing.assert_close(score_matching(net, x, reduction="none"), expected, rtol=1e-10, atol=1e-10)


def test_score_matching_trace_is_per_example_not_cross_example():
    # a score whose output mixes examples would break the per-dimension trick; a per-example net must not leak:
    # perturbing one row changes only that row's loss
    net = _mlp(2, seed=4)
    x = _points(6, 2, seed=5)
    base = score_matching(net, x, reduction="none").detach()
    x2 = x.clone()
    x2[2] += 0.5
    moved = score_matching(net, x2, reduction="none").detach()
    changed = (moved - base).abs() > 1e-12
    assert changed.tolist() == [False, False, True, False, False, False]


@pytest.mark.parametrize("model", ["linear", "mlp"])
def test_score_matching_gradients_reach_every_parameter(model):
    net = _linear(2) if model == "linear" else _mlp(2, seed=6)
    x = _points(32, 2, seed=7)
    loss = score_matching(net, x)
    assert loss.requires_grad
    loss.backward()
    _assert_all_params_get_grad(net)


def test_score_matching_linear_gradient_matches_closed_form():
    # d/dA [mean ½||Ax+b||² + tr A] = mean (Ax+b) xᵀ + I ; d/db = mean (Ax+b)
    lin = _linear(2, seed=8)
    x = _points(40, 2, seed=9)
    score_matching(lin, x).backward()
    a, b = lin.weight.detach(), lin.bias.detach()
    r = x @ a.T + b
    torch.testing.assert_close(lin.weight.grad, r.T @ x / len(x) + torch.eye(2, dtype=torch.float64))
    torch.testing.assert_close(lin.bias.grad, r.mean(dim=0))


def test_score_matching_does_not_touch_input():
    net = _mlp(2)
    x = _points(5, 2)
    before = x.clone()
    score_matching(net, x)
    assert torch.equal(x, before)
    assert not x.requires_grad


def test_score_matching_under_no_grad_still_computes_the_trace():
    # validation loops run under torch.no_grad(); the trace needs autograd w.r.t. x regardless
    net = _mlp(2, seed=10)
    x = _points(7, 2, seed=11)
    expected = score_matching(net, x, reduction="none").detach()
    with torch.no_grad():
        got = score_matching(net, x, reduction="none")
    torch.testing.assert_close(got.detach(), expected)
    sliced = sliced_score_matching(net, x, n_projections=3, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        sliced_no_grad = sliced_score_matching(net, x, n_projections=3, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(sliced_no_grad.detach(), sliced.detach())


@pytest.mark.parametrize("mixture", ["two_modes", "ring3"])
def test_hyvarinen_identity_on_gaussian_mixture(mixture):
    # E_p[ISM(s)] = ½ E_p||s - ∇log p||² - ½ E_p||∇log p||²  (integration by parts, any smooth s)
    mix = data.two_modes() if mixture == "two_modes" else data.ring(k=3)
    torch.manual_seed(12)
    mlp = MLP(2, 2, (32, 32), "silu").double()

    def s(x: torch.Tensor) -> torch.Tensor:  # smooth, arbitrary; the linear part guarantees tr ∇s is far from 0
        return mlp(x / 4.0) - 0.7 * x

    x = mix.sample(20000, generator=torch.Generator().manual_seed(13))
    ism = score_matching(s, x, reduction="none").detach()
    with torch.no_grad():
        g = mix.score(x)
        sx = s(x)
    half_g2 = 0.5 * (g**2).sum(dim=1)
    explicit = 0.5 * ((sx - g) ** 2).sum(dim=1)

    diff = ism + half_g2 - explicit
    se = float(diff.std() / math.sqrt(len(diff)))
    assert abs(float(diff.mean())) < 3 * se, (float(diff.mean()), se)

    # dropping the trace is a wrong "identity": the same check rejects it by a wide margin
    trace = ism - 0.5 * (sx**2).sum(dim=1)
    wrong = ism - trace + half_g2 - explicit
    wrong_se = float(wrong.std() / math.sqrt(len(wrong)))
    assert abs(float(wrong.mean())) > 10 * wrong_se, (float(wrong.mean()), wrong_se)


def test_score_matching_is_minimised_by_the_true_score():
    # ISM(∇log p) < ISM(s) for a perturbed score, on the same samples (explicit objective differs by a constant)
    mix = data.two_modes()
    x = mix.sample(5000, generator=torch.Generator().manual_seed(14))
    true_loss = score_matching(mix.score, x).detach()
    perturbed = score_matching(lambda v: 0.8 * mix.score(v), x).detach()
    assert float(true_loss) < float(perturbed)


def test_score_matching_rejects_bad_arguments():
    net = _mlp(2)
    x = _points(4, 2)
    with pytest.raises(TypeError, match="x"):
        score_matching(net, [[0.0, 1.0]])
    with pytest.raises(TypeError, match="x"):
        score_matching(net, torch.zeros(4, 2, dtype=torch.long))
    with pytest.raises(ValueError, match="x"):
        score_matching(net, torch.zeros(4, dtype=torch.float64))
    with pytest.raises(ValueError, match="x"):
        score_matching(net, torch.zeros(0, 2, dtype=torch.float64))
    bad = x.clone()
    bad[1, 0] = float("nan")
    with pytest.raises(ValueError, match="x must be finite"):
        score_matching(net, bad)
    with pytest.raises(ValueError, match="reduction"):
        score_matching(net, x, reduction="avg")
    with pytest.raises(TypeError, match="score_fn"):
        score_matching("not a function", x)
    with pytest.raises(ValueError, match="score_fn"):
        score_matching(lambda v: v[:, :1] ** 2, x)


# -- sliced score matching -------------------------------------------------------------------------------------------
def _per_projection(net, x: torch.Tensor, m: int, seed: int, variance_reduction: bool) -> torch.Tensor:
    """(m, N): one-projection estimates drawn from the same stream as ``n_projections=m`` (row j*N+i = v_j at x_i)."""
    values = sliced_score_matching(
        net,
        x.repeat(m, 1),
        n_projections=1,
        variance_reduction=variance_reduction,
        generator=torch.Generator().manual_seed(seed),
        reduction="none",
    ).detach()
    return values.reshape(m, len(x))


def test_sliced_linear_model_matches_formula_with_the_same_projections():
    # v_jᵀ A v_j + ½ (v_jᵀ s)², averaged over j; v drawn as randn(M, N, D) from the generator
    lin = _linear(3, seed=15)
    x = _points(4, 3, seed=16)
    m = 5
    v = torch.randn(m, 4, 3, generator=torch.Generator().manual_seed(17), dtype=torch.float64)
    a = lin.weight.detach()
    with torch.no_grad():
        s = lin(x)
    for vr in (False, True):
        quad = torch.einsum("mni,ij,mnj->mn", v, a, v)
        norm = 0.5 * (s**2).sum(dim=1).expand(m, -1) if vr else 0.5 * (v * s).sum(dim=2) ** 2
        expected = (quad + norm).mean(dim=0)
        got = sliced_score_matching(
            lin,
            x,
            n_projections=m,
            variance_reduction=vr,
            generator=torch.Generator().manual_seed(17),
            reduction="none",
        )
        torch.testing.assert_close(got, expected, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("variance_reduction", [False, True])
def test_sliced_is_unbiased_for_the_implicit_objective(variance_reduction):
    net = _mlp(2, seed=18)
    x = _points(5, 2, seed=19)
    m, seed = 2000, 20
    exact = score_matching(net, x, reduction="none").detach()
    estimate = sliced_score_matching(
        net,
        x,
        n_projections=m,
        variance_reduction=variance_reduction,
        generator=torch.Generator().manual_seed(seed),
        reduction="none",
    ).detach()
    samples = _per_projection(net, x, m, seed, variance_reduction)
    # the n_projections average is exactly the mean of the single-projection draws of the same stream
    torch.testing.assert_close(estimate, samples.mean(dim=0), rtol=1e-9, atol=1e-9)
    se = samples.std(dim=0) / math.sqrt(m)
    assert bool((se > 0).all())
    assert bool(((estimate - exact).abs() < 4 * se).all()), ((estimate - exact) / se).tolist()
    # a biased estimator (trace term counted twice) is rejected by the same tolerance
    trace = exact - 0.5 * (net(x) ** 2).sum(dim=1).detach()
    assert bool(((estimate + trace - exact).abs() > 4 * se).any())


def test_sliced_reductions_and_determinism():
    net = _mlp(2, seed=21)
    x = _points(6, 2, seed=22)

    def run(seed: int, reduction: str = "none") -> torch.Tensor:
        g = torch.Generator().manual_seed(seed)
        return sliced_score_matching(net, x, n_projections=3, generator=g, reduction=reduction).detach()

    per = run(0)
    assert per.shape == (6,)
    assert torch.equal(per, run(0))
    assert not torch.allclose(per, run(1))
    torch.testing.assert_close(run(0, "mean"), per.mean())
    torch.testing.assert_close(run(0, "sum"), per.sum())


@pytest.mark.parametrize("variance_reduction", [False, True])
def test_sliced_gradients_reach_every_parameter(variance_reduction):
    net = _mlp(2, seed=23)
    x = _points(16, 2, seed=24)
    loss = sliced_score_matching(
        net, x, n_projections=2, variance_reduction=variance_reduction, generator=torch.Generator().manual_seed(0)
    )
    loss.backward()
    _assert_all_params_get_grad(net)


def test_sliced_rejects_bad_arguments():
    net = _mlp(2)
    x = _points(4, 2)
    with pytest.raises(ValueError, match="n_projections"):
        sliced_score_matching(net, x, n_projections=0)
    with pytest.raises(TypeError, match="n_projections"):
        sliced_score_matching(net, x, n_projections=2.0)
    with pytest.raises(TypeError, match="generator"):
        sliced_score_matching(net, x, generator=0)
    with pytest.raises(ValueError, match="reduction"):
        sliced_score_matching(net, x, reduction="max")
    with pytest.raises(TypeError, match="score_fn"):
        sliced_score_matching(None, x)
    with pytest.raises(ValueError, match="score_fn"):
        sliced_score_matching(lambda v: v.sum(dim=1), x)
    with pytest.raises(ValueError, match="x"):
        sliced_score_matching(net, torch.zeros(2, 2, 2, dtype=torch.float64))


# -- denoising score matching ----------------------------------------------------------------------------------------
class _Recorder:
    """A noise-conditional score ``s(x, σ) = tanh(W x) · (1 + σ)`` that records the σ it was given."""

    def __init__(self, dim: int = 2) -> None:
        self.w = torch.randn(dim, dim, generator=torch.Generator().manual_seed(25), dtype=torch.float64)
        self.sigmas: list[torch.Tensor] = []

    def __call__(self, x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        self.sigmas.append(sigma.detach().clone())
        return torch.tanh(x @ self.w.T) * (1 + sigma[:, None])


@pytest.mark.parametrize("weighting", ["sigma2", "none"])
@pytest.mark.parametrize("sigma_kind", ["float", "tensor"])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_dsm_matches_formula_with_given_noise(weighting, sigma_kind, reduction):
    n = 12
    x0 = _points(n, 2, seed=26)
    eps = _points(n, 2, seed=27)
    sig = torch.full((n,), 0.7, dtype=torch.float64) if sigma_kind == "float" else torch.linspace(0.1, 2.0, n).double()
    sigma = 0.7 if sigma_kind == "float" else sig.clone()
    fn = _Recorder()
    got = denoising_score_matching(fn, x0, sigma, noise=eps, weighting=weighting, reduction=reduction)

    assert len(fn.sigmas) == 1
    received = fn.sigmas[0]
    assert isinstance(received, torch.Tensor) and received.shape == (n,) and received.dtype == torch.float64
    torch.testing.assert_close(received, sig)

    x_tilde = x0 + sig[:, None] * eps
    s = torch.tanh(x_tilde @ fn.w.T) * (1 + sig[:, None])
    if weighting == "sigma2":
        per = 0.5 * ((sig[:, None] * s + eps) ** 2).sum(dim=1)
    else:
        per = 0.5 * ((s + eps / sig[:, None]) ** 2).sum(dim=1)
    expected = _reduce(per, reduction)
    assert got.shape == expected.shape
    torch.testing.assert_close(got, expected, rtol=1e-12, atol=1e-12)


def test_dsm_weightings_differ_by_sigma_squared():
    x0, eps = _points(9, 2, seed=28), _points(9, 2, seed=29)
    sig = torch.linspace(0.2, 3.0, 9).double()
    fn = _Recorder()
    w2 = denoising_score_matching(fn, x0, sig, noise=eps, weighting="sigma2", reduction="none")
    w1 = denoising_score_matching(fn, x0, sig, noise=eps, weighting="none", reduction="none")
    torch.testing.assert_close(w2, sig**2 * w1)
    assert not torch.allclose(w2, w1)


def test_dsm_zero_dim_tensor_sigma_is_broadcast():
    x0, eps = _points(5, 2, seed=30), _points(5, 2, seed=31)
    fn = _Recorder()
    a = denoising_score_matching(fn, x0, torch.tensor(0.5), noise=eps, reduction="none")
    b = denoising_score_matching(fn, x0, 0.5, noise=eps, reduction="none")
    torch.testing.assert_close(a, b)
    torch.testing.assert_close(fn.sigmas[0], torch.full((5,), 0.5, dtype=torch.float64))


def test_dsm_generator_reproducible_and_draws_standard_noise():
    x0 = _points(20, 2, seed=32)
    fn = _Recorder()

    def run(seed: int) -> torch.Tensor:
        return denoising_score_matching(fn, x0, 0.3, generator=torch.Generator().manual_seed(seed), reduction="none")

    assert torch.equal(run(5), run(5))
    assert not torch.allclose(run(5), run(6))
    # the drawn noise is randn(x0.shape) from the generator: same as passing it explicitly
    eps = torch.randn(x0.shape, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    torch.testing.assert_close(run(5), denoising_score_matching(fn, x0, 0.3, noise=eps, reduction="none"))


def test_dsm_gradients_reach_noise_conditional_scorenet():
    torch.manual_seed(33)
    net = ScoreNet(2, hidden=16, n_layers=2, noise_conditional=True).double()
    x0 = _points(32, 2, seed=34)
    sig = torch.exp(torch.linspace(math.log(0.05), math.log(2.0), 32)).double()
    loss = denoising_score_matching(net, x0, sig, generator=torch.Generator().manual_seed(0))
    loss.backward()
    _assert_all_params_get_grad(net)


def test_dsm_rejects_bad_arguments():
    n = 4
    x0 = _points(n, 2)
    fn = _Recorder()
    for bad in (0.0, -1.0, torch.tensor([0.5, 0.0, 0.5, 0.5]), torch.tensor([0.5, -0.1, 0.5, 0.5])):
        with pytest.raises(ValueError, match="sigma"):
            denoising_score_matching(fn, x0, bad)
    for bad in (float("nan"), float("inf"), torch.tensor([0.5, float("nan"), 0.5, 0.5])):
        with pytest.raises(ValueError, match="sigma"):
            denoising_score_matching(fn, x0, bad)
    for bad in (torch.ones(n + 1), torch.ones(n, 1), torch.ones(1, n)):
        with pytest.raises(ValueError, match="sigma"):
            denoising_score_matching(fn, x0, bad)
    for bad in ("0.5", None, True, [0.5] * n):
        with pytest.raises(TypeError, match="sigma"):
            denoising_score_matching(fn, x0, bad)
    for bad in (torch.zeros(n, 3), torch.zeros(n + 1, 2), torch.zeros(n * 2), [[0.0, 0.0]] * n):
        with pytest.raises(ValueError, match="noise"):
            denoising_score_matching(fn, x0, 0.5, noise=bad)
    nan_noise = torch.zeros(n, 2, dtype=torch.float64)
    nan_noise[0, 0] = float("nan")
    with pytest.raises(ValueError, match="noise"):
        denoising_score_matching(fn, x0, 0.5, noise=nan_noise)
    with pytest.raises(TypeError, match="score_fn"):
        denoising_score_matching(42, x0, 0.5)
    with pytest.raises(ValueError, match="score_fn"):
        denoising_score_matching(lambda x, s: x[:, :1], x0, 0.5)
    with pytest.raises(ValueError, match="score_fn"):
        denoising_score_matching(lambda x, s: x.tolist(), x0, 0.5)
    with pytest.raises(ValueError, match="weighting"):
        denoising_score_matching(fn, x0, 0.5, weighting="sigma")
    with pytest.raises(ValueError, match="reduction"):
        denoising_score_matching(fn, x0, 0.5, reduction="avg")
    with pytest.raises(TypeError, match="generator"):
        denoising_score_matching(fn, x0, 0.5, generator=1)
    with pytest.raises(ValueError, match="x0"):
        denoising_score_matching(fn, torch.zeros(3, dtype=torch.float64), 0.5)


@pytest.mark.parametrize("alternative", ["scaled", "unnoised"])
def test_vincent_equivalence_with_analytic_noised_score(alternative):
    # DSM_σ²(s) - DSM_σ²(q) = ½σ² E||s(x̃) - ∇log q_σ(x̃)||², paired on the same x0 and ε
    mix = data.two_modes()
    sigma = 1.5
    q = mix.noised(sigma)
    n = 20000
    x0 = mix.sample(n, generator=torch.Generator().manual_seed(35))
    eps = torch.randn(n, 2, generator=torch.Generator().manual_seed(36), dtype=torch.float64)
    x_tilde = x0 + sigma * eps

    def alt(x: torch.Tensor) -> torch.Tensor:
        return 0.9 * q.score(x) if alternative == "scaled" else mix.score(x)

    dsm_s = denoising_score_matching(lambda x, s: alt(x), x0, sigma, noise=eps, reduction="none")
    dsm_q = denoising_score_matching(lambda x, s: q.score(x), x0, sigma, noise=eps, reduction="none")
    gap = 0.5 * sigma**2 * ((alt(x_tilde) - q.score(x_tilde)) ** 2).sum(dim=1)

    paired = dsm_s - dsm_q - gap
    se = float(paired.std() / math.sqrt(n))
    assert abs(float(paired.mean())) < 4 * se, (float(paired.mean()), se)

    # a wrong weighting of the right-hand side (dropping σ²) is rejected by the same check
    wrong = dsm_s - dsm_q - gap / sigma**2
    assert abs(float(wrong.mean())) > 4 * float(wrong.std() / math.sqrt(n))

    # the analytic noised score has the lower loss, by many standard errors of the paired difference
    diff = dsm_s - dsm_q
    assert float(diff.mean()) > 10 * float(diff.std() / math.sqrt(n))


# -- Fisher divergence metrics -------------------------------------------------------------------------------------
def test_fisher_divergences_match_direct_formulas():
    mix = data.ring(k=3)
    x = mix.sample(500, generator=torch.Generator().manual_seed(37))
    truth = mix.score(x)
    approx = 0.8 * truth + 0.3 * torch.sin(x)
    fd = 0.5 * float(((approx - truth) ** 2).sum(dim=1).mean())
    rel = float(((approx - truth) ** 2).sum(dim=1).mean() / (truth**2).sum(dim=1).mean())
    assert fd > 0 and 0 < rel < 1

    def approx_fn(v: torch.Tensor) -> torch.Tensor:
        return 0.8 * mix.score(v) + 0.3 * torch.sin(v)

    for s_arg in (approx, approx_fn):
        for t_arg in (truth, mix.score):
            got_fd = metrics.fisher_divergence(s_arg, t_arg, x)
            got_rel = metrics.relative_fisher_divergence(s_arg, t_arg, x)
            assert isinstance(got_fd, float) and isinstance(got_rel, float)
            assert got_fd == pytest.approx(fd, rel=1e-12)
            assert got_rel == pytest.approx(rel, rel=1e-12)


def test_fisher_divergence_special_cases():
    mix = data.two_modes()
    x = mix.sample(300, generator=torch.Generator().manual_seed(38))
    assert metrics.fisher_divergence(mix.score, mix.score, x) == 0.0
    assert metrics.relative_fisher_divergence(mix.score, mix.score, x) == 0.0
    assert metrics.relative_fisher_divergence(torch.zeros_like, mix.score, x) == pytest.approx(1.0, rel=1e-12)
    # zero score: the Fisher divergence is ½ E||∇log p||²
    assert metrics.fisher_divergence(torch.zeros_like, mix.score, x) == pytest.approx(
        0.5 * float((mix.score(x) ** 2).sum(dim=1).mean()), rel=1e-12
    )
    # scale-free: doubling both scores leaves the relative divergence unchanged
    a = metrics.relative_fisher_divergence(lambda v: 0.5 * mix.score(v), mix.score, x)
    b = metrics.relative_fisher_divergence(lambda v: mix.score(v), lambda v: 2 * mix.score(v), x)
    assert a == pytest.approx(0.25, rel=1e-12) and b == pytest.approx(0.25, rel=1e-12)


def test_fisher_divergence_works_with_a_model_needing_grad_and_float32():
    torch.manual_seed(39)
    net = ScoreNet(2, hidden=8, n_layers=1)
    x = torch.randn(10, 2)
    value = metrics.fisher_divergence(net, torch.zeros(10, 2), x)
    with torch.no_grad():
        out = net(x).double()
    assert value == pytest.approx(0.5 * float((out**2).sum(dim=1).mean()), rel=1e-6)


def test_fisher_divergence_rejects_bad_arguments():
    x = _points(6, 2)
    for fn in (metrics.fisher_divergence, metrics.relative_fisher_divergence):
        with pytest.raises(ValueError, match="score_fn"):
            fn(torch.zeros(5, 2), torch.ones(6, 2), x)
        with pytest.raises(ValueError, match="true_score"):
            fn(torch.zeros(6, 2), torch.ones(6, 3), x)
        with pytest.raises(ValueError, match="score_fn"):
            fn(lambda v: v[:, 0], torch.ones(6, 2), x)
        with pytest.raises(ValueError, match="x"):
            fn(torch.zeros(6), torch.ones(6), x[:, 0])
        nan = torch.ones(6, 2)
        nan[0, 0] = float("nan")
        with pytest.raises(ValueError, match="score_fn"):
            fn(nan, torch.ones(6, 2), x)
    with pytest.raises(ValueError, match="true_score"):
        metrics.relative_fisher_divergence(torch.ones(6, 2), torch.zeros(6, 2), x)


# -- ScoreNet ----------------------------------------------------------------------------------------------------------
def test_scorenet_unconditional_shapes():
    torch.manual_seed(40)
    for dim in (1, 2, 5):
        net = ScoreNet(dim, hidden=16, n_layers=2)
        assert net(torch.randn(7, dim)).shape == (7, dim)
        assert not net.noise_conditional
    with pytest.raises(ValueError, match="x"):
        ScoreNet(2)(torch.randn(7, 3))
    with pytest.raises(ValueError, match="x"):
        ScoreNet(2)(torch.randn(7))


def _features(net: ScoreNet, x: torch.Tensor, sig: torch.Tensor) -> torch.Tensor:
    angles = torch.log(sig)[:, None] * net.frequencies.to(x.dtype)
    return torch.cat([x, torch.sin(angles), torch.cos(angles)], dim=1)


def test_scorenet_noise_conditional_output_is_net_output_over_sigma():
    torch.manual_seed(41)
    net = ScoreNet(2, hidden=16, n_layers=2, noise_conditional=True, n_fourier=4).double()
    x = _points(6, 2, seed=42)
    sig = torch.tensor([0.01, 0.1, 0.5, 1.0, 3.0, 50.0], dtype=torch.float64)
    out = net(x, sig)
    assert out.shape == (6, 2)
    with torch.no_grad():
        raw = net.net(_features(net, x, sig))
    torch.testing.assert_close(out.detach() * sig[:, None], raw)
    # σ enters through the features too: the raw output changes with σ, not just the 1/σ factor
    with torch.no_grad():
        raw_other = net.net(_features(net, x, sig * 2))
    assert not torch.allclose(raw, raw_other)


def test_scorenet_float_sigma_equals_constant_tensor():
    torch.manual_seed(43)
    net = ScoreNet(3, hidden=16, n_layers=1, noise_conditional=True)
    x = torch.randn(5, 3)
    a = net(x, 0.25)
    b = net(x, torch.full((5,), 0.25))
    c = net(x, torch.tensor(0.25))
    torch.testing.assert_close(a, b)
    torch.testing.assert_close(a, c)
    assert not torch.allclose(a, net(x, 0.5))


def test_scorenet_noise_conditional_rejects_bad_sigma():
    torch.manual_seed(44)
    net = ScoreNet(2, hidden=8, n_layers=1, noise_conditional=True)
    x = torch.randn(4, 2)
    with pytest.raises(ValueError, match="sigma"):
        net(x)
    for bad in (0.0, -0.5, torch.tensor([0.5, 0.0, 0.5, 0.5]), float("nan")):
        with pytest.raises(ValueError, match="sigma"):
            net(x, bad)
    for bad in (torch.ones(5), torch.ones(4, 1)):
        with pytest.raises(ValueError, match="sigma"):
            net(x, bad)
