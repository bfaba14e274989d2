"""Numerics at the extremes (issue 11): finite losses and gradients where a naive formula overflows, half precision
close to float32, float64 supported throughout.

* Logits up to ±1e4, τ = 1e-3, σ from 1e-4 to 1e3: every loss and its gradient stay finite (float32 and float64).
* float16 / bfloat16 inputs: finite losses and gradients, close to the float32 loss of the same (unrounded) inputs.
  Tolerances, for inputs of order 1: **float16 rtol = atol = 1e-2**, **bfloat16 rtol = atol = 5e-2** (an input
  rounds by up to 2**-11 ≈ 4.9e-4 in float16 and 2**-8 ≈ 3.9e-3 in bfloat16; a loss summing a few dozen such
  terms moves by a few times that). Where an intermediate term can exceed float16's range (logits / τ, the 1/σ²
  of a denoising loss) or has no half-precision kernel (``torch.pdist`` in ``uniformity``), the package computes in
  float32: losses return float32, ``next_token_probs`` returns probabilities in the input's dtype.
* float64 inputs give float64 losses and gradients, equal to float32 within float32's precision.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch

from mmobjectives import data, losses, metrics, models, sampling

HALF_TOLERANCE = {torch.float16: 1e-2, torch.bfloat16: 5e-2}
SIGMAS = [1e-4, 1e-3, 1e-2, 1e-1, 1.0, 10.0, 1e2, 1e3]


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _randn(*shape: int, seed: int = 0, scale: float = 1.0, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    return (torch.randn(*shape, generator=_gen(seed), dtype=torch.float64) * scale).to(dtype)


def _assert_finite(*tensors: torch.Tensor | None) -> None:
    for t in tensors:
        assert t is not None, "a gradient is missing"
        assert bool(torch.isfinite(t).all()), f"non-finite values in {t}"


def _extreme_logits(*shape: int, dtype: torch.dtype) -> torch.Tensor:
    """Logits with entries at ±1e4 and everything in between (a saturated, over-confident model)."""
    z = _randn(*shape, seed=1, scale=1e4, dtype=torch.float64).clamp(-1e4, 1e4)
    z.view(-1)[0], z.view(-1)[-1] = 1e4, -1e4
    return z.to(dtype).requires_grad_(True)


# -- logits up to ±1e4 --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float32, torch.float64])
def test_classification_losses_with_logits_of_1e4(dtype: torch.dtype) -> None:
    z = _extreme_logits(8, 6, dtype=dtype)
    y = torch.randint(0, 6, (8,), generator=_gen())
    p = torch.softmax(_randn(8, 6, seed=2), dim=1).to(dtype)
    seq = _extreme_logits(2, 5, 6, dtype=dtype)
    tokens = torch.randint(0, 6, (2, 5), generator=_gen())
    critic = _extreme_logits(6, 6, dtype=dtype)
    for loss, leaf in (
        (losses.cross_entropy(z, y), z),
        (losses.cross_entropy(z, y, label_smoothing=0.1), z),
        (losses.cross_entropy(z, p), z),
        (losses.sequence_cross_entropy(seq, tokens), seq),
        (losses.autoregressive_nll(seq, tokens), seq),
        (losses.info_nce_logits(critic), critic),
        (losses.info_nce_logits(critic, symmetric=False), critic),
    ):
        leaf.grad = None
        loss.backward()
        _assert_finite(loss, leaf.grad, metrics.bits_per_token(loss.detach()))
        assert float(loss.detach()) >= 0


def test_next_token_probs_at_logits_1e4_and_temperature_1e_3() -> None:
    for dtype in (torch.float16, torch.bfloat16, torch.float32, torch.float64):
        z = _extreme_logits(3, 7, dtype=dtype).detach()
        probs = sampling.next_token_probs(z, temperature=1e-3, top_k=3)
        _assert_finite(probs)
        assert probs.dtype == dtype
        torch.testing.assert_close(probs.double().sum(-1), torch.ones(3, dtype=torch.float64), atol=1e-2, rtol=0)
        assert bool((probs.argmax(-1) == z.float().argmax(-1)).all())  # T -> 0 is greedy


# -- τ = 1e-3 -------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float32, torch.float64])
@pytest.mark.parametrize("normalize", [True, False])
def test_contrastive_losses_at_temperature_1e_3(dtype: torch.dtype, normalize: bool) -> None:
    z_a = _randn(16, 8, seed=3, dtype=dtype).requires_grad_(True)
    z_b = _randn(16, 8, seed=4, dtype=dtype).requires_grad_(True)
    tau = torch.tensor(1e-3, requires_grad=True)  # a learnable temperature at its extreme
    for loss in (
        losses.info_nce(z_a, z_b, 1e-3, normalize=normalize),
        losses.info_nce(z_a, z_b, tau, normalize=normalize, symmetric=False),
        losses.sigmoid_contrastive(z_a, z_b, 1e-3, -10.0, normalize=normalize),
    ):
        z_a.grad = z_b.grad = tau.grad = None
        loss.backward()
        _assert_finite(loss, z_a.grad, z_b.grad)
        if tau.grad is not None:
            _assert_finite(tau.grad)


# -- σ from 1e-4 to 1e3 ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("weighting", ["sigma2", "none"])
def test_denoising_score_matching_for_sigma_from_1e_4_to_1e3(dtype: torch.dtype, weighting: str) -> None:
    torch.manual_seed(0)
    net = models.ScoreNet(dim=2, hidden=16, n_layers=1, noise_conditional=True).to(dtype)
    x0 = _randn(32, 2, seed=5, dtype=dtype)
    for sigma in SIGMAS:
        net.zero_grad()
        loss = losses.denoising_score_matching(net, x0, sigma, weighting=weighting, generator=_gen())
        loss.backward()
        _assert_finite(loss, *(p.grad for p in net.parameters()))
        assert float(loss.detach()) >= 0
    # and every noise level at once (noise-conditional training), one per example
    net.zero_grad()
    sigmas = torch.logspace(-4, 3, 32, dtype=dtype)
    loss = losses.denoising_score_matching(net, x0, sigmas, weighting=weighting, generator=_gen())
    loss.backward()
    _assert_finite(loss, *(p.grad for p in net.parameters()))


@pytest.mark.parametrize("weighting", ["sigma2", "none"])
def test_noise_conditional_losses_on_a_schedule_from_1e_4_to_1e3(weighting: str) -> None:
    schedule = sampling.VESchedule(sigma_min=1e-4, sigma_max=1e3)
    weight = torch.tensor(0.5, requires_grad=True)

    def score_fn(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        _, sigma = schedule.marginal(t)
        return -weight * x / (1 + sigma[:, None] ** 2)  # the exact score of N(0, I) data, scaled by a parameter

    x0 = _randn(32, 2, seed=6)
    for t in (0.0, 0.5, 1.0, torch.linspace(0, 1, 32)):
        weight.grad = None
        loss = losses.noise_conditional_dsm(score_fn, x0, schedule, t=t, weighting=weighting, generator=_gen())
        loss.backward()
        _assert_finite(loss, weight.grad)
        weight.grad = None
        eps = losses.eps_prediction_loss(lambda x, t: -score_fn(x, t), x0, schedule, t=t, generator=_gen())
        eps.backward()
        _assert_finite(eps, weight.grad)


def test_mixture_score_and_density_for_widths_from_1e_4_to_1e3() -> None:
    base = data.GaussianMixture([[-3.0, 0.0], [3.0, 1.0]], [1e-4, 0.5])
    x = torch.tensor([[-3.0, 1e-5], [0.0, 0.0], [2.0, 2.0], [1e3, -1e3]], dtype=torch.float64)
    for sigma in [0.0, *SIGMAS]:
        mixture = base.noised(sigma)
        _assert_finite(mixture.score(x), mixture.log_prob(x), mixture.responsibilities(x))


# -- half precision close to float32 --------------------------------------------------------------------------------
def _ce(z: torch.Tensor) -> torch.Tensor:
    return losses.cross_entropy(z, torch.arange(z.shape[0]) % z.shape[1])


def _ce_probs(z: torch.Tensor) -> torch.Tensor:
    p = torch.softmax(_randn(*z.shape, seed=9), dim=1).to(z.dtype)
    return losses.cross_entropy(z, p, label_smoothing=0.1)


def _ar(z: torch.Tensor) -> torch.Tensor:
    logits = z.reshape(2, 8, 8)
    return losses.autoregressive_nll(logits, torch.randint(0, 8, (2, 8), generator=_gen(1)))


def _info_nce(z: torch.Tensor) -> torch.Tensor:
    return losses.info_nce(z[:, :4], z[:, 4:], 0.07)


def _info_nce_small_tau(z: torch.Tensor) -> torch.Tensor:
    return losses.info_nce(z[:, :4], z[:, 4:] + z[:, :4], 1e-3, symmetric=False)


def _siglip(z: torch.Tensor) -> torch.Tensor:
    return losses.sigmoid_contrastive(z[:, :4], z[:, 4:], 0.1, -5.0)


def _critic(z: torch.Tensor) -> torch.Tensor:
    return losses.info_nce_logits(z[:8] * 30)


def _dsm(sigma: float, weighting: str) -> Callable[[torch.Tensor], torch.Tensor]:
    def loss(z: torch.Tensor) -> torch.Tensor:
        x0, eps = z[:, :2], z[:, 2:4].detach()  # the noise is data: gradients go to x0 (and a model)

        def score_fn(
            x: torch.Tensor, s: torch.Tensor
        ) -> torch.Tensor:  # a model computing in float32, output in x's dtype
            return (-x.float() / (1 + s.float()[:, None] ** 2)).to(x.dtype)

        return losses.denoising_score_matching(score_fn, x0, sigma, noise=eps, weighting=weighting)

    return loss


def _ncdsm(z: torch.Tensor) -> torch.Tensor:
    t = torch.linspace(1e-3, 1, z.shape[0])
    return losses.noise_conditional_dsm(
        lambda x, t: -x, z[:, :4], sampling.VPSchedule(), t=t, noise=z[:, 4:].detach(), weighting="none"
    )


def _eps_loss(z: torch.Tensor) -> torch.Tensor:
    t = torch.linspace(1e-3, 1, z.shape[0])
    return losses.eps_prediction_loss(
        lambda x, t: 0.9 * x, z[:, :4], sampling.VPSchedule(), t=t, noise=z[:, 4:].detach()
    )


def _uniformity(z: torch.Tensor) -> torch.Tensor:
    return metrics.uniformity(torch.nn.functional.normalize(z, dim=1))


HALF_CASES: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "cross_entropy": _ce,
    "cross_entropy-probs-smoothing": _ce_probs,
    "autoregressive_nll": _ar,
    "info_nce": _info_nce,
    "info_nce-tau-1e-3": _info_nce_small_tau,
    "sigmoid_contrastive": _siglip,
    "info_nce_logits": _critic,
    "noise_conditional_dsm": _ncdsm,
    "eps_prediction_loss": _eps_loss,
    "uniformity": _uniformity,
    **{f"dsm-{w}-sigma-{s:g}": _dsm(s, w) for w in ("sigma2", "none") for s in SIGMAS},
}


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16], ids=["float16", "bfloat16"])
@pytest.mark.parametrize("name", list(HALF_CASES))
def test_half_precision_is_finite_and_close_to_float32(name: str, dtype: torch.dtype) -> None:
    fn = HALF_CASES[name]
    z32 = _randn(16, 8, seed=11).requires_grad_(True)
    z_half = z32.detach().to(dtype).requires_grad_(True)
    reference = fn(z32)
    got = fn(z_half)
    _assert_finite(got)
    assert got.dtype in (dtype, torch.float32)
    tol = HALF_TOLERANCE[dtype]
    torch.testing.assert_close(got.float(), reference.detach(), rtol=tol, atol=tol)
    if got.requires_grad:
        got.backward()
        _assert_finite(z_half.grad)
        assert z_half.grad.dtype == dtype


# -- float64 --------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", list(HALF_CASES))
def test_float64_is_supported_and_agrees_with_float32(name: str) -> None:
    fn = HALF_CASES[name]
    z64 = _randn(16, 8, seed=11, dtype=torch.float64).requires_grad_(True)
    got = fn(z64)
    assert got.dtype == torch.float64, f"{name} returned {got.dtype} for float64 inputs"
    got.backward()
    assert z64.grad is not None and z64.grad.dtype == torch.float64
    _assert_finite(got, z64.grad)
    reference = fn(z64.detach().float())
    torch.testing.assert_close(got.float(), reference, rtol=1e-4, atol=1e-5)
