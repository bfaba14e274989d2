"""Properties of the objectives, checked with hypothesis on random inputs (issue 11).

Already covered elsewhere, and not repeated here:

* InfoNCE from embeddings (``tests/unit/losses/test_contrastive.py``): invariant to permuting the pairs jointly
  (``test_info_nce_invariant_to_joint_permutation``), >= 0 with its MI bound <= log N
  (``test_info_nce_nonnegative_and_mi_bound_capped``), symmetric = mean of both directions
  (``test_symmetric_is_mean_of_both_directions``), all for τ in [1e-2, 2].

This file extends them to InfoNCE from an arbitrary critic's logit matrix (``info_nce_logits``, logits up to
±1e4) and to τ down to 1e-3, and adds, as properties over random inputs: cross-entropy invariant to a constant
added to a row of logits and equal to KL + H for probability targets; the autoregressive NLL >= 0, equal to the
shifted sequence cross-entropy and, with the true source's conditionals, to the chain rule
:math:`-\\log p(x_{2:T}\\mid x_1)`; denoising score matching (three variants) >= 0; the score of a Gaussian
mixture equal to the autograd gradient of its log-density, far from the modes too.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from mmobjectives import data, losses, metrics, sampling

SETTINGS = settings(max_examples=40, deadline=None)
SEEDS = st.integers(0, 2**31 - 1)


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _logits(seed: int, *shape: int, scale: float = 1.0) -> torch.Tensor:
    return torch.randn(*shape, generator=_gen(seed), dtype=torch.float64) * scale


def _probability_rows(seed: int, n: int, k: int, zeros: bool) -> torch.Tensor:
    """Random probability rows (Dirichlet-like), some entries exactly 0 when ``zeros``."""
    g = _gen(seed + 1)
    p = -torch.log(torch.rand(n, k, generator=g, dtype=torch.float64))  # Exp(1) draws
    if zeros and k > 1:
        p[torch.rand(n, k, generator=g) < 0.3] = 0.0
        p[:, 0] += 1e-3  # every row keeps some mass
    return p / p.sum(dim=1, keepdim=True)


# -- InfoNCE from a critic's logits ---------------------------------------------------------------------------------
@SETTINGS
@given(seed=SEEDS, n=st.integers(1, 10), scale=st.sampled_from([1e-2, 1.0, 30.0, 1e4]), data_=st.data())
def test_info_nce_logits_properties(seed: int, n: int, scale: float, data_: st.DataObject) -> None:
    s = _logits(seed, n, n, scale=scale).clamp(-1e4, 1e4)
    per_pair = losses.info_nce_logits(s, reduction="none")
    row = losses.info_nce_logits(s, symmetric=False, reduction="none")
    col = losses.info_nce_logits(s.T, symmetric=False, reduction="none")
    # >= 0, and the MI estimate log N - L never exceeds log N
    assert bool(torch.isfinite(per_pair).all()) and bool((row >= 0).all()) and bool((col >= 0).all())
    assert float(metrics.infonce_mi_bound(per_pair.mean(), n)) <= math.log(n) + 1e-12
    # symmetric = mean of the a->b (rows) and b->a (columns) directions
    torch.testing.assert_close(per_pair, (row + col) / 2, rtol=1e-12, atol=1e-12)
    # permuting the pairs jointly (rows and columns of the critic matrix) permutes the per-pair losses
    perm = torch.tensor(data_.draw(st.permutations(range(n))), dtype=torch.long)
    permuted = losses.info_nce_logits(s[perm][:, perm], reduction="none")
    torch.testing.assert_close(permuted, per_pair[perm], rtol=1e-12, atol=1e-12)


@SETTINGS
@given(seed=SEEDS, n=st.integers(1, 10), d=st.integers(1, 6), tau=st.floats(1e-3, 1e-2))
def test_info_nce_bound_holds_at_small_temperature(seed: int, n: int, d: int, tau: float) -> None:
    z_a = _logits(seed, n, d)
    z_b = z_a + 0.3 * _logits(seed + 7, n, d)
    per_pair = losses.info_nce(z_a, z_b, tau, reduction="none")
    assert bool(torch.isfinite(per_pair).all()) and bool((per_pair >= 0).all())
    assert float(metrics.infonce_mi_bound(per_pair.mean(), n)) <= math.log(n) + 1e-12


# -- cross-entropy --------------------------------------------------------------------------------------------------
@SETTINGS
@given(
    seed=SEEDS,
    n=st.integers(1, 8),
    k=st.integers(2, 7),
    scale=st.sampled_from([0.1, 3.0, 1e3]),
    shift_scale=st.sampled_from([1.0, 1e2, 1e4]),
    smoothing=st.sampled_from([0.0, 0.1, 1.0]),
    probs=st.booleans(),
)
def test_cross_entropy_invariant_to_a_constant_per_row(seed, n, k, scale, shift_scale, smoothing, probs) -> None:
    logits = _logits(seed, n, k, scale=scale)
    shift = _logits(seed + 3, n, 1, scale=shift_scale)
    target = _probability_rows(seed, n, k, zeros=True) if probs else torch.randint(0, k, (n,), generator=_gen(seed))
    before = losses.cross_entropy(logits, target, label_smoothing=smoothing, reduction="none")
    after = losses.cross_entropy(logits + shift, target, label_smoothing=smoothing, reduction="none")
    assert bool((before >= 0).all())
    # float64 rounding of (z + c) - logsumexp(z + c) is about |c| * 2**-52
    torch.testing.assert_close(after, before, rtol=1e-9, atol=1e-9 + 4 * shift_scale * 2**-52 * 10)


@SETTINGS
@given(
    seed=SEEDS, n=st.integers(1, 8), k=st.integers(1, 7), scale=st.sampled_from([0.1, 3.0, 50.0]), zeros=st.booleans()
)
def test_cross_entropy_is_kl_plus_entropy(seed: int, n: int, k: int, scale: float, zeros: bool) -> None:
    logits = _logits(seed, n, k, scale=scale)
    p = _probability_rows(seed, n, k, zeros=zeros)
    ce = losses.cross_entropy(logits, p, reduction="none").numpy()
    z, pn = logits.numpy(), p.numpy()
    top = z.max(axis=1, keepdims=True)
    log_q = z - top - np.log(np.exp(z - top).sum(axis=1, keepdims=True))  # independent log-softmax
    with np.errstate(divide="ignore", invalid="ignore"):
        log_p = np.where(pn > 0, np.log(pn), 0.0)
    kl = (pn * (log_p - log_q)).sum(axis=1)
    entropy = -(pn * log_p).sum(axis=1)  # 0 log 0 = 0
    assert (kl >= -1e-12).all()
    np.testing.assert_allclose(ce, kl + entropy, rtol=1e-10, atol=1e-10)
    assert (ce >= entropy - 1e-12).all()  # the Bayes floor: CE is never below H(p)


# -- autoregressive NLL ---------------------------------------------------------------------------------------------
@SETTINGS
@given(
    seed=SEEDS,
    b=st.integers(1, 4),
    t=st.integers(2, 9),
    v=st.integers(2, 6),
    scale=st.sampled_from([0.1, 2.0, 100.0]),
    reduction=st.sampled_from(["mean", "sum", "none"]),
    pad=st.booleans(),
)
def test_autoregressive_nll_is_the_shifted_sequence_cross_entropy(seed, b, t, v, scale, reduction, pad) -> None:
    logits = _logits(seed, b, t, v, scale=scale)
    tokens = torch.randint(0, v, (b, t), generator=_gen(seed))
    if pad:
        tokens[0, t // 2 + 1 :] = -100  # a padded tail
    got = losses.autoregressive_nll(logits, tokens, reduction=reduction)
    shifted = losses.sequence_cross_entropy(logits[:, :-1], tokens[:, 1:], reduction=reduction)
    torch.testing.assert_close(got, shifted, rtol=1e-12, atol=1e-12)
    assert bool((got >= 0).all())
    # summed, it is the sum over predicted positions of -log softmax(logits[:, i])[tokens[:, i + 1]]
    log_q = torch.log_softmax(logits[:, :-1], dim=-1)
    nxt = tokens[:, 1:]
    kept = nxt != -100
    by_hand = -(log_q.gather(-1, nxt.clamp_min(0)[..., None]).squeeze(-1) * kept).sum()
    torch.testing.assert_close(losses.autoregressive_nll(logits, tokens, reduction="sum"), by_hand)


@SETTINGS
@given(seed=st.integers(0, 10_000), v=st.integers(2, 6), t=st.integers(2, 12), concentration=st.floats(0.3, 5.0))
def test_autoregressive_nll_of_the_true_conditionals_is_the_chain_rule(seed, v, t, concentration) -> None:
    source = data.MarkovSource.random(v, concentration, seed=seed)
    tokens = source.sample(5, t, generator=_gen(seed))
    # the exact next-token logits: log P[x_t, .] at every position (the source is order 1)
    logits = torch.log(source.transition.clamp_min(1e-300))[tokens]
    nll = losses.autoregressive_nll(logits, tokens, reduction="sum")
    log_first = torch.log(source.initial[tokens[:, 0]])
    chain_rule = -(source.log_prob(tokens) - log_first).sum()  # -log p(x_{2:T} | x_1), summed over sequences
    torch.testing.assert_close(nll, chain_rule, rtol=1e-9, atol=1e-9)
    assert float(nll) >= 0


# -- denoising score matching ---------------------------------------------------------------------------------------
_log_sigmas = st.floats(math.log10(1e-4), math.log10(1e3))


@SETTINGS
@given(
    seed=SEEDS,
    n=st.integers(1, 8),
    d=st.integers(1, 4),
    log_sigma=_log_sigmas,
    per_example=st.booleans(),
    weighting=st.sampled_from(["sigma2", "none"]),
    scale=st.floats(-3.0, 3.0),
)
def test_denoising_score_matching_is_nonnegative(seed, n, d, log_sigma, per_example, weighting, scale) -> None:
    x0 = _logits(seed, n, d, scale=2.0)
    weight = _logits(seed + 1, d, d)

    def score_fn(x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:  # any affine field, scaled by 1/sigma
        return scale * (x @ weight) / sigma[:, None]

    sigma = 10.0**log_sigma
    sig = sigma * torch.exp(_logits(seed + 2, n)) if per_example else sigma
    per = losses.denoising_score_matching(
        score_fn, x0, sig, weighting=weighting, generator=_gen(seed), reduction="none"
    )
    assert bool(torch.isfinite(per).all()) and bool((per >= 0).all())
    other = "none" if weighting == "sigma2" else "sigma2"
    again = losses.denoising_score_matching(score_fn, x0, sig, weighting=other, generator=_gen(seed), reduction="none")
    sig2 = torch.as_tensor(sig, dtype=torch.float64).expand(n) ** 2
    sigma2, plain = (per, again) if weighting == "sigma2" else (again, per)
    torch.testing.assert_close(sigma2, sig2 * plain, rtol=1e-9, atol=1e-12)  # lambda(sigma) = sigma^2


@SETTINGS
@given(seed=SEEDS, n=st.integers(1, 8), d=st.integers(1, 4), kind=st.sampled_from(["VP", "VE"]), scale=st.floats(-3, 3))
def test_noise_conditional_losses_are_nonnegative(seed: int, n: int, d: int, kind: str, scale: float) -> None:
    schedule = sampling.VPSchedule() if kind == "VP" else sampling.VESchedule(1e-4, 1e3)
    x0 = _logits(seed, n, d, scale=2.0)

    def fn(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return scale * torch.sin(x) * (1 + t[:, None])

    for weighting in ("sigma2", "none"):
        per = losses.noise_conditional_dsm(
            fn, x0, schedule, weighting=weighting, generator=_gen(seed), reduction="none"
        )
        assert bool(torch.isfinite(per).all()) and bool((per >= 0).all())
    eps = losses.eps_prediction_loss(fn, x0, schedule, generator=_gen(seed), reduction="none")
    assert bool(torch.isfinite(eps).all()) and bool((eps >= 0).all())


# -- the score of a Gaussian mixture --------------------------------------------------------------------------------
@SETTINGS
@given(
    seed=SEEDS,
    k=st.integers(1, 4),
    d=st.integers(1, 3),
    log_radius=st.floats(0.0, 3.0),
    noise=st.sampled_from([0.0, 0.5, 3.0]),
)
def test_mixture_score_is_the_gradient_of_its_log_density(seed, k, d, log_radius, noise) -> None:
    g = _gen(seed)
    means = torch.randn(k, d, generator=g, dtype=torch.float64) * 3
    stds = 0.3 + 2.7 * torch.rand(k, generator=g, dtype=torch.float64)
    weights = torch.rand(k, generator=g, dtype=torch.float64) + 0.05
    mixture = data.GaussianMixture(means, stds, weights / weights.sum()).noised(noise)
    # points from near the modes (radius 1) to 1000 units away from the mixture's mean, in random directions
    direction = torch.nn.functional.normalize(torch.randn(6, d, generator=g, dtype=torch.float64), dim=1)
    x = (mixture.mean() + 10.0**log_radius * direction).requires_grad_(True)
    (grad,) = torch.autograd.grad(mixture.log_prob(x).sum(), x)
    score = mixture.score(x.detach())
    assert bool(torch.isfinite(score).all())
    scale = 1.0 + score.abs().max()
    torch.testing.assert_close(score, grad, rtol=1e-9, atol=1e-11 * float(scale) * 10.0**log_radius)
