"""Notebook 05's sampling widget: the compute function against the source it samples, and the UI wiring."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mmobjectives import data, experiments, widgets


class _Oracle(torch.nn.Module):
    """A causal 'model' whose logits are the true source's log transition probabilities."""

    def __init__(self, source: data.MarkovSource) -> None:
        super().__init__()
        self.register_buffer("log_p", source.transition.log().float())

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.log_p[tokens]


@pytest.fixture(scope="module")
def source():
    return data.MarkovSource.random(5, concentration=0.5, seed=3)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    import matplotlib.pyplot as plt

    plt.close("all")


def test_at_temperature_one_the_oracle_reproduces_the_entropy_rate(source):
    result = experiments.sampling_tradeoff(_Oracle(source), source, 1.0, None, n=2000, length=20)
    h = source.entropy_rate()
    assert abs(result.true_nll - h) < 0.03
    assert abs(result.entropy - h) < 0.03
    assert np.allclose(result.probs, source.transition[0].numpy(), atol=1e-6)
    assert np.allclose(result.true_probs, source.transition[0].numpy())
    assert result.samples.shape == (2000, 20)


def test_temperature_and_top_k_trade_diversity_for_likelihood(source):
    oracle = _Oracle(source)
    cold, warm, hot = (experiments.sampling_tradeoff(oracle, source, t, None, n=500) for t in (0.3, 1.0, 3.0))
    assert cold.entropy < warm.entropy < hot.entropy
    assert cold.true_nll < warm.true_nll < hot.true_nll
    greedy = experiments.sampling_tradeoff(oracle, source, 1.0, 1, n=200)
    assert greedy.entropy == pytest.approx(0.0, abs=1e-6)
    assert int((greedy.probs > 0).sum()) == 1
    top2 = experiments.sampling_tradeoff(oracle, source, 1.0, 2, n=50)
    assert int((top2.probs > 0).sum()) == 2
    assert experiments.sampling_tradeoff(oracle, source, 1.0, 0, n=50).top_k is None


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"temperature": 0.0}, "temperature"), ({"top_k": -1}, "top_k"), ({"context": 9}, "context")],
)
def test_sampling_tradeoff_bad_input(source, kwargs, match):
    args = {"temperature": 1.0, "top_k": None} | kwargs
    with pytest.raises(ValueError, match=match):
        experiments.sampling_tradeoff(_Oracle(source), source, n=10, **args)
    with pytest.raises(TypeError, match="source"):
        experiments.sampling_tradeoff(_Oracle(source), "source", 1.0)


def test_sampling_panel_reacts_to_its_controls(source):
    panel = widgets.sampling_panel(_Oracle(source), source, n=64, length=12, strict=True)
    assert panel.error is None and panel.n_updates > 1
    panel.controls["temperature"].value = 0.2
    low = panel.result.entropy
    panel.controls["temperature"].value = 3.0
    assert panel.result.entropy > low
    panel.controls["top_k"].value = 1
    assert panel.result.entropy == pytest.approx(0.0, abs=1e-6)
    assert "top-k 1" in panel.summary.value
