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
from collections.abc import Callable, Mapping
from typing import Generic, TypeVar

import ipywidgets as ipw
import numpy as np
from matplotlib.figure import Figure

from .. import config
from .._checks import describe

R = TypeVar("R")  # what a panel's compute function returns


def _in_ipython() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython comes with ipywidgets
        return False
    return get_ipython() is not None


def control_values(control: ipw.ValueWidget, n: int = 3) -> list[object]:
    """The values :meth:`Panel.exercise` tries for a control: slider min/middle/max, each option, both booleans."""
    if isinstance(control, (ipw.IntSlider, ipw.FloatSlider, ipw.BoundedIntText, ipw.BoundedFloatText)):
        lo, hi = control.min, control.max
        mid = (lo + hi) / 2
        if isinstance(control, (ipw.IntSlider, ipw.BoundedIntText)):
            mid = int(round(mid))
        return list(dict.fromkeys([lo, mid, hi]))
    if isinstance(control, (ipw.FloatLogSlider,)):
        return [control.base**control.min, control.base ** ((control.min + control.max) / 2), control.base**control.max]
    if isinstance(control, ipw.Checkbox | ipw.ToggleButton):
        return [False, True]
    if hasattr(control, "options") and control.options:
        options = list(control.options)
        values = [o[1] if isinstance(o, tuple) and len(o) == 2 else o for o in options]
        if len(values) <= n + 1:
            return values
        idx = np.linspace(0, len(values) - 1, n + 1).round().astype(int)
        return [values[i] for i in dict.fromkeys(idx.tolist())]
    return [control.value]


class Panel(Generic[R]):
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
        compute: Callable[..., R],
        render: Callable[[R, Figure], str],
        controls: Mapping[str, ipw.ValueWidget],
        *,
        fixed: Mapping[str, object] | None = None,
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
            if not isinstance(control, ipw.ValueWidget):
                raise TypeError(f"controls[{name!r}] must be an ipywidgets value widget, got {describe(control)}")
        self.compute = compute
        self.render = render
        self.controls = dict(controls)
        self.fixed = dict(fixed or {})
        self.figsize = figsize
        self.strict = config.budget().is_smoke if strict is None else bool(strict)
        self.result: R | None = None
        self.figure: Figure | None = None
        self.error: BaseException | None = None
        self.n_updates = 0
        self.summary = ipw.HTML(layout=ipw.Layout(min_height="1.5em"))
        self.summary.add_class("mmo-summary")
        self.output = ipw.Output()
        header = [ipw.HTML(f"<b>{html.escape(title)}</b>")] if title else []
        self.widget = ipw.VBox([*header, ipw.HBox(list(self.controls.values())), self.summary, self.output])
        for control in self.controls.values():
            control.observe(self._on_change, names="value")
        self.update()
        if self.strict if exercise is None else exercise:
            self.exercise()

    def values(self) -> dict[str, object]:
        """The controls' current values, by name."""
        return {name: control.value for name, control in self.controls.items()}

    def update(self) -> R | None:
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
            from IPython.core.pylabtools import print_figure
            from IPython.display import Image, display

            self.output.clear_output(wait=True)
            with self.output:
                # a PNG, not the Figure object: IPython only knows how to draw a Figure after pyplot was used
                display(Image(data=print_figure(figure, "png")))
        return result

    def _on_change(self, change: Mapping[str, object]) -> None:
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
