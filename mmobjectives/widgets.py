r"""Interactive panels: a pure compute function plus a thin ipywidgets wrapper.

Every panel is built the same way, so each part can be tested on its own:

* a **compute function** (plain Python, no widgets) turns the controls' values into a result — unit-tested like
  any other function;
* a **render function** draws the result into a matplotlib ``Figure`` and returns one line of text (HTML) that
  the panel shows above the figure;
* :class:`Panel` connects them to controls (sliders, dropdowns). Tests set ``control.value`` and read
  ``panel.result`` and ``panel.summary.value``.

**Errors are never swallowed in CI.** ipywidgets catches exceptions raised inside an ``Output`` area and shows them
there, so a notebook run would not notice a broken widget. A :class:`Panel` therefore computes *outside* the
output area; in ``strict`` mode (the default in the smoke budget) an exception propagates, and at construction it
also *exercises* every control (each slider at its min, middle and max; each option of a dropdown) so that a
callback that fails for some value fails the notebook run. Outside strict mode the error is shown in the panel.
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import ipywidgets as w
import numpy as np
import torch
from matplotlib.figure import Figure

from . import config, viz
from ._checks import as_float_tensor, check_finite, check_int, check_positive, describe

__all__ = [
    "Panel",
    "SoftmaxSummary",
    "control_values",
    "softmax_temperature",
    "softmax_temperature_panel",
]


def _in_ipython() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython comes with ipywidgets
        return False
    return get_ipython() is not None


def control_values(control: w.ValueWidget, n: int = 3) -> list[Any]:
    """The values :meth:`Panel.exercise` tries for a control: slider min/middle/max, each option, both booleans."""
    if isinstance(control, (w.IntSlider, w.FloatSlider, w.BoundedIntText, w.BoundedFloatText)):
        lo, hi = control.min, control.max
        mid = (lo + hi) / 2
        if isinstance(control, (w.IntSlider, w.BoundedIntText)):
            mid = int(round(mid))
        return list(dict.fromkeys([lo, mid, hi]))
    if isinstance(control, (w.FloatLogSlider,)):
        return [control.base**control.min, control.base ** ((control.min + control.max) / 2), control.base**control.max]
    if isinstance(control, w.Checkbox | w.ToggleButton):
        return [False, True]
    if hasattr(control, "options") and control.options:
        options = list(control.options)
        values = [o[1] if isinstance(o, tuple) and len(o) == 2 else o for o in options]
        if len(values) <= n + 1:
            return values
        idx = np.linspace(0, len(values) - 1, n + 1).round().astype(int)
        return [values[i] for i in dict.fromkeys(idx.tolist())]
    return [control.value]


class Panel:
    """Controls → ``compute(**values)`` → ``render(result, figure)`` → a figure and a line of text.

    Args:
        compute: pure function of the controls' values (keyword arguments named like ``controls``).
        render: ``render(result, figure) -> str`` draws into the given ``matplotlib.figure.Figure`` and returns the
            summary text (HTML allowed) shown above it.
        controls: name → ipywidgets control; each change re-runs compute and render.
        fixed: extra keyword arguments passed to ``compute`` unchanged (data, a trained model...).
        figsize: size of the figure in inches.
        strict: re-raise errors instead of showing them; ``None`` means "in the smoke budget".
        exercise: try every control's values once at construction; ``None`` means "when strict".

    Attributes tests read: ``result`` (the last successful compute), ``summary`` (an HTML widget), ``figure``
    (the last figure drawn), ``error`` (the last exception, or None), ``n_updates``.
    """

    def __init__(
        self,
        compute: Callable[..., Any],
        render: Callable[[Any, Figure], str],
        controls: Mapping[str, w.ValueWidget],
        *,
        fixed: Mapping[str, Any] | None = None,
        title: str | None = None,
        figsize: tuple[float, float] = (6.0, 3.5),
        strict: bool | None = None,
        exercise: bool | None = None,
    ) -> None:
        if not callable(compute) or not callable(render):
            raise TypeError(f"compute and render must be callables, got {describe(compute)} and {describe(render)}")
        if not controls:
            raise ValueError("controls must name at least one widget, got none")
        for name, control in controls.items():
            if not isinstance(control, w.ValueWidget):
                raise TypeError(f"controls[{name!r}] must be an ipywidgets value widget, got {describe(control)}")
        self.compute = compute
        self.render = render
        self.controls = dict(controls)
        self.fixed = dict(fixed or {})
        self.figsize = figsize
        self.strict = config.budget().is_smoke if strict is None else bool(strict)
        self.result: Any = None
        self.figure: Figure | None = None
        self.error: BaseException | None = None
        self.n_updates = 0
        self.summary = w.HTML(layout=w.Layout(min_height="1.5em"))
        self.summary.add_class("mmo-summary")
        self.output = w.Output()
        header = [w.HTML(f"<b>{html.escape(title)}</b>")] if title else []
        self.widget = w.VBox([*header, w.HBox(list(self.controls.values())), self.summary, self.output])
        for control in self.controls.values():
            control.observe(self._on_change, names="value")
        self.update()
        if self.strict if exercise is None else exercise:
            self.exercise()

    def values(self) -> dict[str, Any]:
        """The controls' current values, by name."""
        return {name: control.value for name, control in self.controls.items()}

    def update(self) -> Any:
        """Recompute and redraw from the controls' current values; return the result."""
        try:
            result = self.compute(**self.fixed, **self.values())
            figure = Figure(figsize=self.figsize, layout="constrained")
            text = self.render(result, figure)
        except Exception as err:
            self.error = err
            self.summary.value = (
                f"<span style='color:#D55E00'><b>{html.escape(type(err).__name__)}:</b> {html.escape(str(err))}</span>"
            )
            if self.strict:
                raise
            return None
        self.error = None
        self.result = result
        self.figure = figure
        self.n_updates += 1
        self.summary.value = text
        if _in_ipython():
            from IPython.display import display

            self.output.clear_output(wait=True)
            with self.output:
                display(figure)
        return result

    def _on_change(self, change: Mapping[str, Any]) -> None:
        self.update()

    def exercise(self) -> int:
        """Set every control to each of its test values (one control at a time), then restore; return the count.

        In strict mode the first failure raises, naming the control and the value.
        """
        tried = 0
        for name, control in self.controls.items():
            original = control.value
            try:
                for value in control_values(control):
                    try:
                        if control.value == value:  # setting it would fire no change event
                            self.update()
                        else:
                            control.value = value
                    except Exception as err:
                        raise RuntimeError(f"widget control {name!r} failed at value {value!r}: {err}") from err
                    tried += 1
            finally:
                control.value = original
        self.update()
        return tried

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)


# -- notebook 00: temperature of a softmax ------------------------------------------------------------------------
@dataclass(frozen=True)
class SoftmaxSummary:
    r"""The softmax at temperature :math:`T`: :math:`p_k = e^{z_k/T}/\sum_j e^{z_j/T}`, its entropy, a label's CE."""

    logits: np.ndarray
    temperature: float
    label: int
    probs: np.ndarray
    entropy: float
    max_entropy: float
    cross_entropy: float


def softmax_temperature(logits: Any, temperature: float, label: int) -> SoftmaxSummary:
    r"""Softmax of ``logits / temperature``, its entropy :math:`H(p) = -\sum_k p_k \log p_k` (nats) and the
    cross-entropy of ``label``, :math:`-\log p_{\text{label}}` — computed with log-softmax so that a tiny
    temperature gives 0·log 0 = 0 rather than NaN. Notebook 00, section "a first widget".
    """
    z = check_finite(as_float_tensor(logits, "logits"), "logits").detach().cpu()
    if z.dim() != 1 or z.numel() < 2:
        raise ValueError(f"logits must be a 1-D vector of at least 2 class scores, got {describe(logits)}")
    temperature = check_positive(temperature, "temperature")
    label = check_int(label, "label", minimum=0)
    if label >= z.numel():
        raise ValueError(f"label must be a class index in [0, {z.numel() - 1}], got {label}")
    log_p = torch.log_softmax(check_finite(z / temperature, "logits / temperature"), dim=0)
    p = log_p.exp()
    entropy = float(-(p * log_p).sum())  # p·log p → 0 as p → 0: exp(log_p) * log_p is finite for finite log_p
    return SoftmaxSummary(
        logits=z.numpy(),
        temperature=temperature,
        label=label,
        probs=p.numpy(),
        entropy=max(entropy, 0.0) + 0.0,  # + 0.0 turns -0.0 into 0.0
        max_entropy=math.log(z.numel()),
        cross_entropy=float(-log_p[label]),
    )


def _render_softmax(result: SoftmaxSummary, figure: Figure, class_names: Sequence[str]) -> str:
    ax = figure.add_subplot(1, 1, 1)
    viz.plot_probability_bars(
        result.probs,
        class_names,
        highlight=result.label,
        ax=ax,
        title=f"softmax(z / T) at T = {result.temperature:.2f}   (orange: the chosen label)",
        ylabel="$p_k$",
    )
    ax.set_xlabel("class $k$")
    name = html.escape(str(class_names[result.label]))
    return (
        f"T = {result.temperature:.2f}: entropy H(p) = {result.entropy:.3f} nats "
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
) -> Panel:
    """Notebook 00's first widget: a temperature slider and a label picker over a fixed vector of logits."""
    names = [str(c) for c in class_names]
    if len(names) != len(logits):
        raise ValueError(f"class_names must have one name per logit ({len(logits)}), got {len(names)}")
    controls = {
        "temperature": w.FloatLogSlider(
            value=temperature, base=10, min=-1.5, max=1.0, step=0.05, description="T", readout_format=".2f"
        ),
        "label": w.Dropdown(options=[(n, i) for i, n in enumerate(names)], value=label, description="label"),
    }
    return Panel(
        softmax_temperature,
        lambda result, figure: _render_softmax(result, figure, names),
        controls,
        fixed={"logits": list(logits)},
        title="Temperature of a softmax",
        strict=strict,
    )
