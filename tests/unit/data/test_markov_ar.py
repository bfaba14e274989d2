"""Notebook 05: the autoregressive NLL, bits / perplexity, and the Markov source with an exact entropy rate."""

from __future__ import annotations

import itertools
import math

import pytest
import torch

from mmobjectives import metrics
from mmobjectives.data import MarkovSource
from mmobjectives.losses import autoregressive_nll, sequence_cross_entropy


def _loop_nll(logits, tokens, ignore_index=-100):
    """Per-token next-token NLL with plain Python loops: (B, T-1) values and a kept mask."""
    b, t, _ = logits.shape
    values = torch.zeros(b, t - 1, dtype=logits.dtype)
    kept = torch.zeros(b, t - 1, dtype=torch.bool)
    for i in range(b):
        for j in range(t - 1):
            target = int(tokens[i, j + 1])
            if target == ignore_index:
                continue
            values[i, j] = -torch.log_softmax(logits[i, j], dim=0)[target]
            kept[i, j] = True
    return values, kept


def _batch(seed=0, b=3, t=6, v=5):
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(b, t, v, generator=g, dtype=torch.float64)
    tokens = torch.randint(0, v, (b, t), generator=g)
    return logits, tokens


# --------------------------------------------------------------------------- autoregressive_nll


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_autoregressive_nll_matches_loop_and_shifted_sequence_ce(reduction):
    logits, tokens = _batch()
    values, kept = _loop_nll(logits, tokens)
    expected = {"mean": values.sum() / kept.sum(), "sum": values.sum(), "none": values}[reduction]
    got = autoregressive_nll(logits, tokens, reduction=reduction)
    torch.testing.assert_close(got, expected)
    shifted = sequence_cross_entropy(logits[:, :-1], tokens[:, 1:], reduction=reduction)
    torch.testing.assert_close(got, shifted)
    if reduction == "none":
        assert got.shape == (3, 5)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_autoregressive_nll_ignore_index(reduction):
    logits, tokens = _batch(seed=1)
    tokens[0, 3:] = -1
    tokens[2, 1] = -1
    values, kept = _loop_nll(logits, tokens, ignore_index=-1)
    expected = {"mean": values.sum() / kept.sum(), "sum": values.sum(), "none": values}[reduction]
    got = autoregressive_nll(logits, tokens, ignore_index=-1, reduction=reduction)
    torch.testing.assert_close(got, expected)


def test_autoregressive_nll_first_token_is_never_scored():
    logits, tokens = _batch(seed=2)
    other = tokens.clone()
    other[:, 0] = (other[:, 0] + 1) % 5
    torch.testing.assert_close(autoregressive_nll(logits, tokens), autoregressive_nll(logits, other))
    changed = logits.clone()
    changed[:, -1] += 10.0  # the last position predicts nothing
    torch.testing.assert_close(autoregressive_nll(logits, tokens), autoregressive_nll(changed, tokens))


def test_autoregressive_nll_sum_is_sequence_log_likelihood_under_a_markov_model():
    # a causal "model" that outputs log P[x_t] exactly: the summed NLL is -log p(x_{2:T} | x_1)
    source = MarkovSource.random(4, seed=3)
    seqs = source.sample(5, 7, generator=torch.Generator().manual_seed(3))
    logits = source.transition.log()[seqs]
    expected = -(source.log_prob(seqs) - source.initial.log()[seqs[:, 0]]).sum()
    torch.testing.assert_close(autoregressive_nll(logits, seqs, reduction="sum"), expected)


def test_autoregressive_nll_bad_shapes():
    logits, tokens = _batch()
    with pytest.raises(ValueError, match="tokens"):
        autoregressive_nll(logits[:, :1], tokens[:, :1])
    with pytest.raises(ValueError, match="tokens"):
        autoregressive_nll(logits, tokens[:, :-1])
    with pytest.raises(ValueError, match="tokens"):
        autoregressive_nll(logits, tokens[:2])
    with pytest.raises(ValueError, match="logits"):
        autoregressive_nll(logits[0], tokens)


# --------------------------------------------------------------------------- bits / perplexity


def test_bits_and_perplexity_floats_and_tensors():
    assert metrics.bits_per_token(math.log(2)) == pytest.approx(1.0)
    assert isinstance(metrics.bits_per_token(1.0), float)
    assert metrics.perplexity(math.log(7.0)) == pytest.approx(7.0)
    assert metrics.perplexity(0.0) == 1.0
    t = torch.tensor([0.0, math.log(4.0)])
    torch.testing.assert_close(metrics.bits_per_token(t), torch.tensor([0.0, 2.0]))
    torch.testing.assert_close(metrics.perplexity(t), torch.tensor([1.0, 4.0]))


@pytest.mark.parametrize("fn", [metrics.bits_per_token, metrics.perplexity])
@pytest.mark.parametrize("bad", [-0.5, float("nan"), float("inf"), torch.tensor([0.1, -1.0])])
def test_bits_and_perplexity_reject_bad_values(fn, bad):
    with pytest.raises(ValueError, match="nats"):
        fn(bad)


# --------------------------------------------------------------------------- MarkovSource


def _binary_entropy(x):
    return -(x * math.log(x) + (1 - x) * math.log(1 - x))


def test_two_state_chain_closed_form():
    p, q = 0.3, 0.1
    source = MarkovSource([[1 - p, p], [q, 1 - q]])
    torch.testing.assert_close(source.stationary, torch.tensor([q, p], dtype=torch.float64) / (p + q))
    expected = (q * _binary_entropy(p) + p * _binary_entropy(q)) / (p + q)
    assert source.entropy_rate() == pytest.approx(expected, rel=1e-12)
    assert source.first_token_entropy() == pytest.approx(_binary_entropy(q / (p + q)), rel=1e-12)
    assert source.sequence_floor(10) == pytest.approx(expected)
    floor = (source.first_token_entropy() + 9 * expected) / 10
    assert source.sequence_floor(10, score_first=True) == pytest.approx(floor)


def test_deterministic_rows_have_zero_entropy():
    source = MarkovSource([[0.0, 1.0], [1.0, 0.0]])
    assert source.entropy_rate() == 0.0
    torch.testing.assert_close(source.stationary, torch.tensor([0.5, 0.5], dtype=torch.float64))


def test_stationary_is_fixed_point():
    for seed in range(3):
        source = MarkovSource.random(6, concentration=0.5, seed=seed)
        pi = source.stationary
        torch.testing.assert_close(pi @ source.transition, pi, atol=1e-12, rtol=0)
        assert float(pi.sum()) == pytest.approx(1.0)
        assert bool((pi >= 0).all())


def test_log_prob_sums_to_one_over_all_sequences():
    source = MarkovSource.random(3, seed=4)
    seqs = torch.tensor(list(itertools.product(range(3), repeat=3)))
    assert float(source.log_prob(seqs).exp().sum()) == pytest.approx(1.0, abs=1e-12)
    custom = MarkovSource(source.transition, initial=[0.2, 0.5, 0.3])
    assert float(custom.log_prob(seqs).exp().sum()) == pytest.approx(1.0, abs=1e-12)


def test_empirical_nll_matches_entropy_rate():
    source = MarkovSource.random(5, concentration=0.7, seed=5)
    seqs = source.sample(400, 51, generator=torch.Generator().manual_seed(5))
    per_seq = -(source.log_prob(seqs) - source.log_prob(seqs[:, :1]))  # transitions only: 50 per sequence
    per_token = per_seq / 50
    se = float(per_token.std()) / math.sqrt(len(per_token))
    assert abs(float(per_token.mean()) - source.entropy_rate()) < 4 * se + 1e-3


def test_sample_reproducible_shape_dtype():
    source = MarkovSource.random(4, seed=6)
    a = source.sample(10, 8, generator=torch.Generator().manual_seed(1))
    b = source.sample(10, 8, generator=torch.Generator().manual_seed(1))
    assert a.shape == (10, 8) and a.dtype == torch.int64
    assert torch.equal(a, b)
    assert int(a.min()) >= 0 and int(a.max()) < 4


def test_first_token_frequencies_match_stationary():
    source = MarkovSource.random(4, seed=7)
    n = 20000
    first = source.sample(n, 1, generator=torch.Generator().manual_seed(7))[:, 0]
    freq = torch.bincount(first, minlength=4).double() / n
    pi = source.stationary
    se = (pi * (1 - pi) / n).sqrt()
    assert bool(((freq - pi).abs() < 5 * se + 1e-9).all())


def test_initial_is_used_for_the_first_token():
    source = MarkovSource([[0.5, 0.5], [0.5, 0.5]], initial=[1.0, 0.0])
    first = source.sample(50, 3, generator=torch.Generator().manual_seed(0))[:, 0]
    assert bool((first == 0).all())


def test_random_rows_and_concentration_orders_entropy_rate():
    sharp = [MarkovSource.random(6, concentration=0.1, seed=s) for s in range(5)]
    flat = [MarkovSource.random(6, concentration=10.0, seed=s) for s in range(5)]
    for source in sharp + flat:
        torch.testing.assert_close(source.transition.sum(dim=1), torch.ones(6, dtype=torch.float64))
    mean_sharp = sum(s.entropy_rate() for s in sharp) / 5
    mean_flat = sum(s.entropy_rate() for s in flat) / 5
    assert mean_sharp < mean_flat <= math.log(6)
    assert torch.equal(MarkovSource.random(6, seed=1).transition, MarkovSource.random(6, seed=1).transition)


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"transition": [[0.5, 0.4], [0.5, 0.5]]}, "transition"),
        ({"transition": [[1.5, -0.5], [0.5, 0.5]]}, "transition"),
        ({"transition": [[0.5, 0.5, 0.0], [0.5, 0.5, 0.0]]}, "transition"),
        ({"transition": [[0.5, 0.5], [0.5, 0.5]], "initial": [0.2, 0.3, 0.5]}, "initial"),
        ({"transition": [[0.5, 0.5], [0.5, 0.5]], "initial": [1.2, -0.2]}, "initial"),
        ({"transition": [[1.0, 0.0], [0.0, 1.0]]}, "initial"),  # reducible: no unique stationary distribution
    ],
)
def test_markov_bad_inputs(kwargs, name):
    with pytest.raises(ValueError, match=name):
        MarkovSource(**kwargs)


def test_markov_bad_sample_and_floor_arguments():
    source = MarkovSource.random(3, seed=0)
    with pytest.raises(ValueError, match="length"):
        source.sample(4, 0)
    with pytest.raises(ValueError, match="n"):
        source.sample(0, 4)
    with pytest.raises(ValueError, match="length"):
        source.sequence_floor(1)
    with pytest.raises(ValueError, match="seqs"):
        source.log_prob(torch.tensor([[0, 3]]))
    with pytest.raises(ValueError, match="concentration"):
        MarkovSource.random(3, concentration=0.0)


# --------------------------------------------------------------------------- order-k sources


def _order1_as_order2(source: MarkovSource) -> MarkovSource:
    """The same chain written as order 2: the next symbol ignores the older of its two context symbols."""
    v = source.vocab_size
    return MarkovSource(source.transition[None].expand(v, v, v).clone())


def test_order2_log_prob_sums_to_one_over_all_sequences():
    source = MarkovSource.random(3, concentration=0.7, seed=11, order=2)
    assert source.order == 2 and source.transition.shape == (3, 3, 3)
    for length in (1, 2, 4):
        seqs = torch.tensor(list(itertools.product(range(3), repeat=length)))
        total = source.log_prob(seqs).exp().sum()
        assert abs(float(total) - 1) < 1e-10


def test_order2_stationary_is_fixed_point_of_the_pair_chain():
    source = MarkovSource.random(4, seed=5, order=2)
    pi = source.stationary  # (V, V): P(x_1 = a, x_2 = b)
    # next pair (b, c) has probability sum_a pi[a, b] P[a, b, c]
    moved = torch.einsum("ab,abc->bc", pi, source.transition)
    torch.testing.assert_close(moved, pi)
    # the two one-symbol marginals agree (stationarity)
    torch.testing.assert_close(pi.sum(0), pi.sum(1))


def test_order1_written_as_order2_has_the_same_entropies():
    one = MarkovSource.random(4, concentration=0.5, seed=2)
    two = _order1_as_order2(one)
    assert math.isclose(two.entropy_rate(), one.entropy_rate(), abs_tol=1e-9)
    for c in range(4):
        assert math.isclose(two.conditional_entropy(c), one.conditional_entropy(c), abs_tol=1e-9)
    seqs = one.sample(6, 5, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(two.log_prob(seqs), one.log_prob(seqs))


def test_conditional_entropy_decreases_to_the_entropy_rate():
    source = MarkovSource.random(3, concentration=0.3, seed=4, order=3)
    h = [source.conditional_entropy(c) for c in range(6)]
    assert all(a >= b - 1e-12 for a, b in zip(h, h[1:]))
    assert h[0] > h[3] + 0.05  # context buys something for this sharp source
    assert h[3] == h[4] == h[5] == source.entropy_rate()
    assert math.isclose(h[0], float(-(source.stationary.sum((1, 2)) * source.stationary.sum((1, 2)).log()).sum()))


def test_conditional_entropy_by_counting_sampled_sequences():
    # plug-in estimate of H(X_t | X_{t-1}) from long samples of an order-2 source
    source = MarkovSource.random(3, concentration=0.5, seed=8, order=2)
    seqs = source.sample(4000, 12, generator=torch.Generator().manual_seed(1))
    pairs = torch.zeros(3, 3, dtype=torch.float64)
    pairs.view(-1).index_add_(
        0, (seqs[:, :-1] * 3 + seqs[:, 1:]).reshape(-1), torch.ones(seqs[:, 1:].numel(), dtype=torch.float64)
    )
    joint = pairs / pairs.sum()
    estimate = float(-(joint * joint.log()).sum() + (joint.sum(1) * joint.sum(1).log()).sum())
    assert abs(estimate - source.conditional_entropy(1)) < 0.01


def test_order2_empirical_nll_matches_sequence_floor():
    source = MarkovSource.random(4, concentration=0.5, seed=6, order=2)
    length = 10
    seqs = source.sample(6000, length, generator=torch.Generator().manual_seed(2))
    first = source.initial.sum(1).log()[seqs[:, 0]]
    nll = -(source.log_prob(seqs) - first).sum() / (seqs.shape[0] * (length - 1))
    floor = source.sequence_floor(length)
    expected = (source.conditional_entropy(1) + (length - 2) * source.entropy_rate()) / (length - 1)
    assert math.isclose(floor, expected, rel_tol=1e-12)
    assert abs(float(nll) - floor) < 0.02


def test_order_k_bad_inputs():
    with pytest.raises(ValueError, match="transition"):
        MarkovSource(torch.full((3, 3, 2), 0.5))
    with pytest.raises(ValueError, match="context"):
        MarkovSource(torch.full((2, 2, 2), 0.4))
    with pytest.raises(ValueError, match="initial"):
        MarkovSource(torch.full((2, 2, 2), 0.5), initial=torch.full((2,), 0.5))
    with pytest.raises(ValueError, match="order"):
        MarkovSource.random(3, order=0)
    with pytest.raises(ValueError, match="vocab_size"):
        MarkovSource.random(10, order=4)
    with pytest.raises(ValueError, match="context"):
        MarkovSource.random(3).conditional_entropy(-1)


# --------------------------------------------------------------------------- n-gram count model


def test_ngram_counts_match_a_hand_count():
    from mmobjectives.models import NGramModel

    seqs = torch.tensor([[0, 1, 0, 1, 1], [1, 1, 0, 0, 1]])
    model = NGramModel(2, context=1, alpha=0.5).fit(seqs)
    # bigrams after 0: (0,1) (0,1) (0,0) (0,1) -> N(0,·) = [1, 3]
    torch.testing.assert_close(model.counts_1[0], torch.tensor([1.0, 3.0], dtype=torch.float64))
    logp = model(torch.tensor([[0]]))[0, 0]
    torch.testing.assert_close(logp.double(), torch.log(torch.tensor([1.5, 3.5], dtype=torch.float64) / 5.0))
    torch.testing.assert_close(model.counts_0.sum(), torch.tensor(10.0, dtype=torch.float64))


def test_ngram_rows_are_normalised_and_causal():
    from mmobjectives.models import NGramModel

    source = MarkovSource.random(4, seed=1, order=2)
    seqs = source.sample(300, 9, generator=torch.Generator().manual_seed(0))
    model = NGramModel(4, context=2).fit(seqs)
    out = model(seqs[:5])
    torch.testing.assert_close(out.exp().sum(-1), torch.ones(5, 9))
    changed = seqs[:5].clone()
    changed[:, 6:] = (changed[:, 6:] + 1) % 4
    torch.testing.assert_close(model(changed)[:, :6], out[:, :6])


@pytest.mark.parametrize("context", [0, 1, 2])
def test_ngram_nll_approaches_the_conditional_entropy_of_its_context(context):
    from mmobjectives.models import NGramModel

    source = MarkovSource.random(3, concentration=0.4, seed=9, order=2)
    g = torch.Generator().manual_seed(3)
    model = NGramModel(3, context=context, alpha=0.01).fit(source.sample(3000, 20, generator=g))
    test = source.sample(3000, 20, generator=g)
    # score only positions that see a full context of `context` symbols, so the floor is one number
    per_token = autoregressive_nll(model(test).double(), test, reduction="none")[:, max(context, 2) :]
    assert abs(float(per_token.mean()) - source.conditional_entropy(context)) < 0.02


def test_ngram_bad_inputs():
    from mmobjectives.models import NGramModel

    with pytest.raises(ValueError, match="context"):
        NGramModel(3, context=-1)
    with pytest.raises(ValueError, match="alpha"):
        NGramModel(3, context=1, alpha=0.0)
    with pytest.raises(ValueError, match="seqs"):
        NGramModel(3, context=1).fit(torch.tensor([[0, 3]]))
    with pytest.raises(ValueError, match="tokens"):
        NGramModel(3, context=1)(torch.zeros(2, 3))
