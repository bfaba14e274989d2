"""Contrastive panels (notebook 01): the MI staircase and the temperature of the contrastive softmax."""

from __future__ import annotations

import html
from collections.abc import Sequence

import ipywidgets as ipw
import numpy as np
from matplotlib.figure import Figure

from .. import viz
from .._checks import as_float_tensor
from ..experiments import contrastive as experiment
from ..experiments._types import Numbers
from .panel import Panel


def _render_mi(result: experiment.MIStaircase, figure: Figure) -> str:
    ax = figure.add_subplot(1, 1, 1)
    truth = np.array(result.true_mi)
    ax.plot(truth, truth, color=viz.PALETTE[0], linestyle=":", label="true MI")
    ax.axhline(result.log_n, color=viz.PALETTE[6], linestyle="--", label=f"log N = {result.log_n:.2f}")
    ax.errorbar(
        truth,
        result.estimates,
        yerr=2 * np.array(result.standard_errors),
        marker="o",
        color=viz.PALETTE[5],
        label=f"optimal critic / τ (τ = {result.temperature:.2f})",
    )
    ax.set(
        xlabel="true mutual information (nats)", ylabel="InfoNCE estimate (nats)", title=f"batch size N = {result.n}"
    )
    ax.set_ylim(0, max(truth.max(), result.log_n) + 0.5)
    ax.legend(fontsize=8, loc="upper left")
    ax.grid(alpha=0.3)
    best = max(result.estimates)
    return (
        f"N = {result.n}, τ = {result.temperature:.2f}: highest estimate {best:.2f} nats "
        f"(never above log N = {result.log_n:.2f}); at true MI {result.true_mi[-1]:.0f} the estimate is "
        f"{result.estimates[-1]:.2f}"
    )


def mi_staircase_panel(*, n_batches: int = 20, strict: bool | None = None) -> Panel[experiment.MIStaircase]:
    """Notebook 01's MI widget: batch size N and critic temperature τ → estimates vs truth and the log N ceiling."""
    controls = {
        "n": ipw.SelectionSlider(options=[4, 16, 64, 256, 1024], value=64, description="batch N"),
        "temperature": ipw.FloatLogSlider(
            value=1.0, base=10, min=-0.7, max=0.7, step=0.05, description="τ", readout_format=".2f"
        ),
    }
    return Panel(
        experiment.mi_staircase,
        _render_mi,
        controls,
        fixed={"n_batches": n_batches},
        title="InfoNCE can never certify more than log N nats",
        strict=strict,
    )


def _render_contrastive(result: experiment.ContrastiveTemperature, figure: Figure, names: Sequence[str]) -> str:
    ax_p, ax_l = figure.subplots(1, 2, gridspec_kw={"width_ratios": [1.3, 1]})
    viz.plot_similarity_matrix(
        result.probs,
        row_labels=names,
        col_labels=names,
        ax=ax_p,
        vmin=0,
        vmax=1,
        colorbar_label="p(candidate j | query i)",
        title=f"softmax over candidates, τ = {result.temperature:.3f}",
    )
    ax_p.set(xlabel="candidate j", ylabel="query i")
    ax_l.barh(list(names), result.per_pair_loss, color=viz.PALETTE[5])
    ax_l.invert_yaxis()
    ax_l.set(xlabel="per-pair loss (nats)", title="symmetric InfoNCE per pair")
    hardest = int(np.argmax(result.per_pair_loss))
    return (
        f"τ = {result.temperature:.3f}: mean loss {result.mean_loss:.3f} nats; "
        f"diagonal mass {np.mean(np.diag(result.probs)):.2f}; hardest pair: {html.escape(str(names[hardest]))} "
        f"({result.per_pair_loss[hardest]:.3f} nats)"
    )


def contrastive_temperature_panel(
    similarity: Numbers, names: Sequence[str] | None = None, *, temperature: float = 0.1, strict: bool | None = None
) -> Panel[experiment.ContrastiveTemperature]:
    """Notebook 01's temperature widget: τ → the softmax over candidates and the per-pair loss for ``similarity``."""
    sim = as_float_tensor(similarity, "similarity")
    labels = [str(i) for i in range(sim.shape[0])] if names is None else [str(n) for n in names]
    controls = {
        "temperature": ipw.FloatLogSlider(
            value=temperature, base=10, min=-3, max=0.5, step=0.05, description="τ", readout_format=".3f"
        )
    }
    return Panel(
        experiment.contrastive_temperature,
        lambda result, figure: _render_contrastive(result, figure, labels),
        controls,
        fixed={"similarity": sim},
        figsize=(10.0, 3.8),
        title="Temperature of the contrastive softmax",
        strict=strict,
    )
