"""Cross-entropy panels: softmax temperature (notebook 00) and calibration (notebook 02)."""

from __future__ import annotations

import html
from collections.abc import Sequence

import ipywidgets as ipw
from matplotlib.figure import Figure

from .. import viz
from .._checks import as_float_tensor
from ..experiments import cross_entropy as experiment
from ..experiments._types import Indices, Numbers
from .panel import Panel


def _render_softmax(result: experiment.SoftmaxSummary, figure: Figure, class_names: Sequence[str]) -> str:
    ax = figure.add_subplot(1, 1, 1)
    viz.plot_probability_bars(
        result.probs,
        class_names,
        highlight=result.label,
        ax=ax,
        title=f"softmax(o / τ) at τ = {result.temperature:.2f}   (orange: the chosen label)",
        ylabel="$p_k$",
    )
    ax.set_xlabel("class $k$")
    name = html.escape(str(class_names[result.label]))
    return (
        f"τ = {result.temperature:.2f}: entropy H(p) = {result.entropy:.3f} nats "
        f"(max log K = {result.max_entropy:.3f}); cross-entropy of label <b>{name}</b> = "
        f"−log p = {result.cross_entropy:.3f} nats (p = {result.probs[result.label]:.3f})"
    )


def softmax_temperature_panel(
    logits: Sequence[float] = (2.0, 1.0, 0.5, 0.0, -1.0),
    class_names: Sequence[str] = ("cat", "dog", "bird", "fish", "frog"),
    *,
    temperature: float = 1.0,
    label: int = 0,
    strict: bool | None = None,
) -> Panel[experiment.SoftmaxSummary]:
    """Notebook 00's first widget: a temperature slider and a label picker over a fixed vector of logits."""
    names = [str(c) for c in class_names]
    if len(names) != len(logits):
        raise ValueError(f"class_names must have one name per logit ({len(logits)}), got {len(names)}")
    controls = {
        "temperature": ipw.FloatLogSlider(
            value=temperature, base=10, min=-1.5, max=1.0, step=0.05, description="τ", readout_format=".2f"
        ),
        "label": ipw.Dropdown(options=[(n, i) for i, n in enumerate(names)], value=label, description="label"),
    }
    return Panel(
        experiment.softmax_temperature,
        lambda result, figure: _render_softmax(result, figure, names),
        controls,
        fixed={"logits": list(logits)},
        title="Temperature of a softmax",
        strict=strict,
    )


def _render_calibration(result: experiment.Calibration, figure: Figure) -> str:
    ax_p, ax_r = figure.subplots(1, 2)
    viz.plot_probability_bars(
        result.probs,
        [str(k) for k in range(len(result.probs))],
        highlight=result.label,
        ax=ax_p,
        title=rf"example {result.example}: $p_\theta(y\mid x)$ at τ = {result.temperature:.2f} (orange: true class)",
    )
    ax_p.set_xlabel("class")
    viz.plot_reliability_diagram(result.all_probs, result.all_labels, ax=ax_r, title="held-out reliability")
    return (
        f"τ = {result.temperature:.2f}, ε = {result.smoothing:.2f}: this example's loss {result.loss:.3f} nats; "
        f"held-out mean loss {result.mean_test_loss:.3f}, mean confidence {result.confidence:.3f} vs accuracy "
        f"{result.accuracy:.3f}, ECE {result.ece:.4f}"
    )


def calibration_panel(logits: Numbers, labels: Indices, *, strict: bool | None = None) -> Panel[experiment.Calibration]:
    """Notebook 02's calibration widget: temperature τ, label smoothing ε and an example index."""
    z = as_float_tensor(logits, "logits").detach().cpu()
    controls = {
        "temperature": ipw.FloatLogSlider(value=1.0, base=10, min=-1, max=1, step=0.05, description="τ"),
        "smoothing": ipw.FloatSlider(value=0.0, min=0.0, max=0.5, step=0.05, description="ε"),
        "example": ipw.IntSlider(value=0, min=0, max=min(z.shape[0] - 1, 49), description="example"),
    }
    return Panel(
        experiment.calibration,
        _render_calibration,
        controls,
        fixed={"logits": z, "labels": labels},
        figsize=(11.0, 4.0),
        title="Temperature, label smoothing and calibration",
        strict=strict,
    )
