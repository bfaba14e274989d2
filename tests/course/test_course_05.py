"""Notebook 05 (course pass): block entropies by enumeration against their closed forms.

``MarkovSource.block_entropy(n)`` sums over all V^n sequences; notebook 05 (section 2, "What context buys") takes
differences H(X_{1:c+1}) - H(X_{1:c}) to test that the conditional entropy stops falling at the source's order.
"""

from __future__ import annotations

import math

import pytest
import torch

from mmobjectives.data import MarkovSource


def _entropy(probs: torch.Tensor) -> float:
    p = probs.double().reshape(-1)
    p = p[p > 0]
    return float(-(p * p.log()).sum())


def test_block_entropy_of_an_order_1_chain_is_first_token_plus_rate_per_step() -> None:
    source = MarkovSource.random(5, concentration=0.5, seed=11)
    h_pi, rate = _entropy(source.stationary), source.entropy_rate()
    assert source.block_entropy(0) == 0.0
    for n in range(1, 6):
        assert source.block_entropy(n) == pytest.approx(h_pi + (n - 1) * rate, abs=1e-10)


@pytest.mark.parametrize("order", [2, 3])
def test_block_entropy_of_an_order_k_chain_matches_the_closed_form(order: int) -> None:
    source = MarkovSource.random(3, concentration=0.4, seed=order, order=order)
    pi_k, rate = source.stationary, source.entropy_rate()
    for n in range(1, order + 1):  # the marginal of the stationary k-tuple on its first n symbols
        marginal = pi_k.sum(dim=tuple(range(n, order))) if n < order else pi_k
        assert source.block_entropy(n) == pytest.approx(_entropy(marginal), abs=1e-10)
    for n in range(order + 1, order + 4):  # each symbol after the k-th adds exactly the entropy rate
        assert source.block_entropy(n) == pytest.approx(_entropy(pi_k) + (n - order) * rate, abs=1e-10)


@pytest.mark.parametrize("order", [1, 2, 3])
def test_block_entropy_differences_are_the_conditional_entropies(order: int) -> None:
    source = MarkovSource.random(4, concentration=0.3, seed=20 + order, order=order)
    blocks = [source.block_entropy(n) for n in range(order + 4)]
    for c in range(order + 3):
        assert blocks[c + 1] - blocks[c] == pytest.approx(source.conditional_entropy(c), abs=1e-10)
    drops = [blocks[c + 1] - blocks[c] - (blocks[c + 2] - blocks[c + 1]) for c in range(order + 2)]
    assert all(d > 1e-6 for d in drops[:order])  # context up to the order buys something (generic random chain)
    assert all(abs(d) < 1e-10 for d in drops[order:])  # beyond it, nothing


def test_block_entropy_of_independent_symbols_is_n_times_the_symbol_entropy() -> None:
    row = torch.tensor([0.5, 0.25, 0.125, 0.125], dtype=torch.float64)
    source = MarkovSource(row.repeat(4, 1))
    for n in range(4):
        assert source.block_entropy(n) == pytest.approx(n * 1.75 * math.log(2), abs=1e-12)


def test_block_entropy_follows_a_non_stationary_start_and_zero_probabilities() -> None:
    source = MarkovSource([[0.5, 0.5], [0.0, 1.0]], initial=[1.0, 0.0])  # x_1 = 0 surely; 1 is absorbing
    assert source.block_entropy(1) == 0.0
    assert source.block_entropy(2) == pytest.approx(math.log(2), abs=1e-12)
    # x_{1:3}: 000 and 001 with 1/4 each, 011 with 1/2
    assert source.block_entropy(3) == pytest.approx(1.5 * math.log(2), abs=1e-12)


def test_block_entropy_bad_lengths() -> None:
    source = MarkovSource.random(8, seed=0)
    with pytest.raises(ValueError, match="length must be >= 0, got -1"):
        source.block_entropy(-1)
    with pytest.raises(TypeError, match="length must be an int"):
        source.block_entropy(2.0)
    with pytest.raises(ValueError, match=r"length must keep V\^length <= 262144 sequences.*8\^7"):
        source.block_entropy(7)
