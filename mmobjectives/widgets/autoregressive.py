"""Autoregressive panel (notebook 05): sampling temperature and top-k."""

from __future__ import annotations

from collections.abc import Sequence

import ipywidgets as ipw
import numpy as np
import torch
from matplotlib.figure import Figure

from .. import data, viz
from ..experiments import autoregressive as experiment
from .panel import Panel


def _render_sampling(
    result: experiment.SamplingTradeoff, figure: Figure, curve: Sequence[experiment.SamplingTradeoff]
) -> str:
    left, right = figure.subplots(1, 2)
    v = len(result.probs)
    xs = np.arange(v)
    left.bar(xs - 0.2, result.true_probs, width=0.4, color=viz.PALETTE[0], label="true source $P(\\cdot\\mid a)$")
    left.bar(xs + 0.2, result.probs, width=0.4, color=viz.PALETTE[5], label="what the sampler draws from")
    left.set(
        xlabel="next symbol",
        ylabel="probability",
        title=f"after symbol a = {result.context}",
        xticks=xs,
        ylim=(0, 1.05),
    )
    left.legend(fontsize=7, loc="upper right")
    h = result.entropy_rate
    right.plot(
        [c.entropy for c in curve], [c.true_nll for c in curve], "o-", color=viz.PALETTE[4], ms=3, label="top-k off"
    )
    for c in curve:
        right.annotate(
            f"τ={c.temperature:g}", (c.entropy, c.true_nll), fontsize=6, xytext=(3, -8), textcoords="offset points"
        )
    right.plot([result.entropy], [result.true_nll], "*", color=viz.PALETTE[6], ms=14, label="current setting")
    right.axhline(h, color="grey", ls="--", lw=0.8)
    right.axvline(h, color="grey", ls="--", lw=0.8, label=f"entropy rate H = {h:.2f}")
    right.set(
        xlabel="diversity: sampler entropy (nats/token)",
        ylabel="quality: true-source NLL (nats/token)",
        title="quality vs diversity",
    )
    right.legend(fontsize=7, loc="upper left")
    k = "off" if result.top_k is None else str(result.top_k)
    return (
        f"τ = {result.temperature:.2f}, top-k {k}: samples cost {result.true_nll:.3f} nats/token under the true "
        f"source and the sampler injects {result.entropy:.3f} nats/token (entropy rate H = {h:.3f})"
    )


def sampling_panel(
    model: torch.nn.Module,
    source: data.MarkovSource,
    *,
    n: int = 256,
    length: int = 32,
    temperatures: Sequence[float] = (0.25, 0.5, 0.75, 1.0, 1.5, 2.5),
    strict: bool | None = None,
) -> Panel[experiment.SamplingTradeoff]:
    """Notebook 05's sampling widget: temperature and top-k → the next-token distribution and the quality /
    diversity point of the samples, on the curve traced by temperature alone."""
    curve = [experiment.sampling_tradeoff(model, source, t, None, n=n, length=length) for t in temperatures]
    controls = {
        "temperature": ipw.FloatLogSlider(
            value=1.0,
            base=10,
            min=-1.0,
            max=0.6,
            step=0.05,
            description="temperature",
            readout_format=".2f",
            style={"description_width": "initial"},
        ),
        "top_k": ipw.IntSlider(
            value=0, min=0, max=source.vocab_size, description="top-k (0=off)", style={"description_width": "initial"}
        ),
    }
    return Panel(
        experiment.sampling_tradeoff,
        lambda result, figure: _render_sampling(result, figure, curve),
        controls,
        fixed={"model": model, "source": source, "n": n, "length": length},
        figsize=(9.0, 3.6),
        title="Sampling: temperature and top-k",
        strict=strict,
    )
