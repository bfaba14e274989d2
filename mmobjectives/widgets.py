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

from . import config, data, losses, metrics, recipes, sampling, viz
from ._checks import as_float_tensor, check_finite, check_int, check_positive, describe

__all__ = [
    "RoundTrip",
    "round_trip",
    "round_trip_panel",
    "SamplingTradeoff",
    "sampling_panel",
    "sampling_tradeoff",
    "GuidedDigits",
    "guidance_panel",
    "guided_digits",
    "ForwardMarginal",
    "SamplerRun",
    "analytic_diffusion_score",
    "forward_marginal",
    "forward_process_panel",
    "run_sampler",
    "sampler_panel",
    "Calibration",
    "calibration",
    "calibration_panel",
    "LangevinRun",
    "MixtureField",
    "ScoreError",
    "langevin_panel",
    "langevin_run",
    "mixture_field",
    "noise_level_panel",
    "score_error",
    "score_field_panel",
    "ContrastiveTemperature",
    "MIStaircase",
    "Panel",
    "contrastive_temperature",
    "contrastive_temperature_panel",
    "mi_staircase",
    "mi_staircase_panel",
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
            from IPython.core.pylabtools import print_figure
            from IPython.display import Image, display

            self.output.clear_output(wait=True)
            with self.output:
                # a PNG, not the Figure object: IPython only knows how to draw a Figure after pyplot was used
                display(Image(data=print_figure(figure, "png")))
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


# -- notebook 01: the MI staircase at batch size N ------------------------------------------------------------------
@dataclass(frozen=True)
class MIStaircase:
    """InfoNCE estimates of the optimal critic (scaled by 1/temperature) against the true MI, at batch size n."""

    n: int
    temperature: float
    true_mi: tuple[float, ...]
    estimates: tuple[float, ...]
    standard_errors: tuple[float, ...]
    log_n: float


def mi_staircase(
    n: int,
    temperature: float,
    *,
    mis: Sequence[float] = (2.0, 4.0, 6.0, 8.0, 10.0),
    dim: int = 20,
    n_batches: int = 20,
    seed: int = 0,
) -> MIStaircase:
    r"""The correlated-Gaussian benchmark with the *optimal* critic :math:`\log p(y|x)/p(y)` divided by
    ``temperature``: for each true MI, the estimate :math:`\log n - \mathcal L`. Shows the :math:`\log n`
    ceiling and what a mis-scaled critic (temperature ≠ 1) loses. Notebook 01, section 2 widget.
    """
    n = check_int(n, "n", minimum=2)
    temperature = check_positive(temperature, "temperature")
    generator = torch.Generator().manual_seed(int(seed))
    results = [
        metrics.optimal_critic_estimate(
            mi, n, dim=dim, n_batches=n_batches, temperature=temperature, generator=generator
        )
        for mi in mis
    ]
    return MIStaircase(
        n=n,
        temperature=temperature,
        true_mi=tuple(float(m) for m in mis),
        estimates=tuple(r[0] for r in results),
        standard_errors=tuple(r[1] for r in results),
        log_n=math.log(n),
    )


def _render_mi(result: MIStaircase, figure: Figure) -> str:
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
        label=f"optimal critic / T (T = {result.temperature:.2f})",
    )
    ax.set(
        xlabel="true mutual information (nats)", ylabel="InfoNCE estimate (nats)", title=f"batch size N = {result.n}"
    )
    ax.set_ylim(0, max(truth.max(), result.log_n) + 0.5)
    ax.legend(fontsize=8, loc="upper left")
    ax.grid(alpha=0.3)
    best = max(result.estimates)
    return (
        f"N = {result.n}, T = {result.temperature:.2f}: highest estimate {best:.2f} nats "
        f"(never above log N = {result.log_n:.2f}); at true MI {result.true_mi[-1]:.0f} the estimate is "
        f"{result.estimates[-1]:.2f}"
    )


def mi_staircase_panel(*, n_batches: int = 20, strict: bool | None = None) -> Panel:
    """Notebook 01's MI widget: batch size N and critic temperature T → estimates vs truth and the log N ceiling."""
    controls = {
        "n": w.SelectionSlider(options=[4, 16, 64, 256, 1024], value=64, description="batch N"),
        "temperature": w.FloatLogSlider(
            value=1.0, base=10, min=-0.7, max=0.7, step=0.05, description="T", readout_format=".2f"
        ),
    }
    return Panel(
        mi_staircase,
        _render_mi,
        controls,
        fixed={"n_batches": n_batches},
        title="InfoNCE can never certify more than log N nats",
        strict=strict,
    )


# -- notebook 01: temperature of the contrastive softmax ------------------------------------------------------------
@dataclass(frozen=True)
class ContrastiveTemperature:
    """Row softmax over candidates and the per-pair symmetric InfoNCE loss at one temperature."""

    temperature: float
    probs: np.ndarray
    per_pair_loss: np.ndarray
    mean_loss: float


def contrastive_temperature(similarity: Any, temperature: float) -> ContrastiveTemperature:
    r"""For an (N, N) cosine-similarity matrix (true pairs on the diagonal): the softmax over candidates of each
    row, :math:`p_{ij} = e^{s_{ij}/\tau}/\sum_k e^{s_{ik}/\tau}`, and the per-pair symmetric InfoNCE loss
    (``losses.info_nce_logits(S/τ, reduction="none")``). Notebook 01, section 3 widget.
    """
    sim = check_finite(as_float_tensor(similarity, "similarity"), "similarity").detach().cpu()
    if sim.dim() != 2 or sim.shape[0] != sim.shape[1] or sim.shape[0] < 2:
        raise ValueError(f"similarity must be a square (N, N) matrix with N >= 2, got {describe(similarity)}")
    temperature = check_positive(temperature, "temperature")
    logits = sim / temperature
    per_pair = losses.info_nce_logits(logits, reduction="none")
    return ContrastiveTemperature(
        temperature=temperature,
        probs=torch.softmax(logits, dim=1).numpy(),
        per_pair_loss=per_pair.numpy(),
        mean_loss=float(per_pair.mean()),
    )


def _render_contrastive(result: ContrastiveTemperature, figure: Figure, names: Sequence[str]) -> str:
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
    similarity: Any, names: Sequence[str] | None = None, *, temperature: float = 0.1, strict: bool | None = None
) -> Panel:
    """Notebook 01's temperature widget: τ → the softmax over candidates and the per-pair loss for ``similarity``."""
    sim = as_float_tensor(similarity, "similarity")
    labels = [str(i) for i in range(sim.shape[0])] if names is None else [str(n) for n in names]
    controls = {
        "temperature": w.FloatLogSlider(
            value=temperature, base=10, min=-3, max=0.5, step=0.05, description="τ", readout_format=".3f"
        )
    }
    return Panel(
        contrastive_temperature,
        lambda result, figure: _render_contrastive(result, figure, labels),
        controls,
        fixed={"similarity": sim},
        figsize=(10.0, 3.8),
        title="Temperature of the contrastive softmax",
        strict=strict,
    )


# -- notebook 03: a mixture's density and score field --------------------------------------------------------------
@dataclass(frozen=True)
class MixtureField:
    """A two-mode mixture and its exact score at the origin."""

    mixture: data.GaussianMixture
    score_at_origin: np.ndarray


def mixture_field(weight_left: float, distance: float, std: float) -> MixtureField:
    r"""``data.two_modes(weight_left, distance, std)`` and its score :math:`\nabla\log p` at the origin.

    Notebook 03, section 1 widget: the score depends on the weights only through the responsibilities, which is why
    the field far from the modes hardly tells the weights apart (the problem annealing solves, notebook 04).
    """
    mixture = data.two_modes(weight_left=weight_left, distance=distance, std=std)
    return MixtureField(mixture, mixture.score(torch.zeros(1, 2, dtype=torch.float64))[0].numpy())


def _render_mixture(result: MixtureField, figure: Figure) -> str:
    ax_d, ax_s = figure.subplots(1, 2)
    lim = 1.6 * float(result.mixture.means.abs().max()) + 3 * float(result.mixture.stds.max())
    viz.plot_density_2d(result.mixture, ax=ax_d, lim=lim, title="density $p(x)$")
    viz.plot_score_field(result.mixture, density=result.mixture, ax=ax_s, lim=lim, title=r"score $\nabla_x\log p(x)$")
    w_left = float(result.mixture.weights[0])
    sx, sy = result.score_at_origin
    return (
        f"weights {w_left:.2f} / {1 - w_left:.2f}, std {float(result.mixture.stds[0]):.2f}: "
        f"score at the origin = ({sx:.2f}, {sy:.2f}) — it points to the heavier mode"
    )


def score_field_panel(*, strict: bool | None = None) -> Panel:
    """Notebook 03's first widget: mixture weight, distance and spread → density and score field side by side."""
    controls = {
        "weight_left": w.FloatSlider(value=0.2, min=0.05, max=0.95, step=0.05, description="weight left"),
        "distance": w.FloatSlider(value=3.0, min=1.0, max=6.0, step=0.5, description="distance"),
        "std": w.FloatSlider(value=1.0, min=0.3, max=2.0, step=0.1, description="std"),
    }
    return Panel(
        mixture_field, _render_mixture, controls, figsize=(10.0, 4.2), title="Density and score", strict=strict
    )


# -- notebook 03: learned vs analytic score at a noise level -------------------------------------------------------
@dataclass(frozen=True)
class ScoreError:
    """Analytic and learned scores of the noised mixture on a grid, their error, and the relative Fisher divergence."""

    sigma: float
    noised: data.GaussianMixture
    xx: np.ndarray
    yy: np.ndarray
    true_field: np.ndarray
    learned_field: np.ndarray
    error: np.ndarray
    relative_fisher: float


def score_error(
    score_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    mixture: data.GaussianMixture,
    sigma: float,
    *,
    lim: float = 6.0,
    n_grid: int = 41,
    n_samples: int = 4000,
    seed: int = 0,
) -> ScoreError:
    r"""Compare a noise-conditional model ``score_fn(x, sigma)`` with the exact score of ``mixture.noised(sigma)``:
    on a grid (fields and the error :math:`\|s_\theta - s^*\|`) and, on samples of :math:`q_\sigma`, the relative
    Fisher divergence. Notebook 03, section 6 widget.
    """
    sigma = check_positive(sigma, "sigma")
    noised = mixture.noised(sigma)
    xx, yy, grid = viz.grid_2d(lim, n_grid)
    generator = torch.Generator().manual_seed(int(seed))
    samples = noised.sample(check_int(n_samples, "n_samples", minimum=2), generator=generator)

    def learned(x: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return score_fn(x.float(), torch.full((x.shape[0],), sigma)).double()

    true_field = noised.score(grid).numpy()
    learned_field = learned(grid).numpy()
    return ScoreError(
        sigma=sigma,
        noised=noised,
        xx=xx,
        yy=yy,
        true_field=true_field,
        learned_field=learned_field,
        error=np.linalg.norm(learned_field - true_field, axis=1).reshape(xx.shape),
        relative_fisher=metrics.relative_fisher_divergence(learned, noised.score, samples),
    )


def _render_score_error(result: ScoreError, figure: Figure) -> str:
    ax_t, ax_l, ax_e = figure.subplots(1, 3)
    lim = float(result.xx.max())
    viz.plot_score_field(
        result.noised.score, density=result.noised, ax=ax_t, lim=lim, title=f"analytic score, σ = {result.sigma:g}"
    )
    viz.plot_density_2d(result.noised, ax=ax_l, lim=lim, title=None)
    viz.plot_vector_field(result.xx, result.yy, result.learned_field, ax=ax_l, title="learned score")
    image = ax_e.contourf(result.xx, result.yy, np.log10(result.error + 1e-3), levels=20, cmap="magma")
    figure.colorbar(image, ax=ax_e, label=r"$\log_{10}\|s_\theta - s^*\|$", shrink=0.8)
    log_q = result.noised.log_prob(torch.as_tensor(np.stack([result.xx.ravel(), result.yy.ravel()], 1)))
    ax_e.contour(result.xx, result.yy, log_q.exp().numpy().reshape(result.xx.shape), levels=5, colors="white")
    ax_e.set(aspect="equal", title="error (white: density contours)", xlabel="$x_1$", ylabel="$x_2$")
    return (
        f"σ = {result.sigma:g}: relative Fisher divergence on samples of q_σ = {result.relative_fisher:.4f}; "
        f"error where the data are: {np.percentile(result.error, 5):.2f}, far from them: {result.error.max():.1f}"
    )


def noise_level_panel(
    score_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    mixture: data.GaussianMixture,
    sigmas: Sequence[float] = (0.1, 0.2, 0.5, 1.0, 2.0),
    *,
    value: float | None = None,
    lim: float = 6.0,
    strict: bool | None = None,
) -> Panel:
    """Notebook 03's σ widget: the noised density, analytic field, learned field and their error at each σ."""
    options = [float(s) for s in sigmas]
    controls = {"sigma": w.SelectionSlider(options=options, value=value or options[len(options) // 2], description="σ")}
    return Panel(
        score_error,
        _render_score_error,
        controls,
        fixed={"score_fn": score_fn, "mixture": mixture, "lim": lim},
        figsize=(14.0, 4.2),
        title="Where is the learned score wrong?",
        strict=strict,
    )


# -- notebook 03: Langevin step size --------------------------------------------------------------------------------
@dataclass(frozen=True)
class LangevinRun:
    """Samples after Langevin dynamics with the exact score, and their mean log-density against the truth's."""

    step_size: float
    n_steps: int
    samples: np.ndarray
    mean_log_p: float
    reference_log_p: float
    mixture: data.GaussianMixture


def langevin_run(
    step_size: float,
    n_steps: int,
    mixture: data.GaussianMixture,
    *,
    n_chains: int = 1000,
    start_lim: float = 8.0,
    seed: int = 0,
) -> LangevinRun:
    r"""Langevin from uniform noise on :math:`[-L, L]^2` with ``mixture.score``; returns the samples and the mean
    :math:`\log p` of the samples next to that of exact samples (equal when the sampler is right). Notebook 03.
    """
    generator = torch.Generator().manual_seed(int(seed))
    n_chains = check_int(n_chains, "n_chains", minimum=2)
    start = (torch.rand(n_chains, mixture.dim, generator=generator, dtype=torch.float64) * 2 - 1) * start_lim
    samples = sampling.langevin(mixture.score, start, step_size, n_steps, generator=generator)
    assert isinstance(samples, torch.Tensor)
    reference = mixture.sample(n_chains, generator=generator)
    return LangevinRun(
        step_size=float(step_size),
        n_steps=int(n_steps),
        samples=samples.numpy(),
        mean_log_p=float(mixture.log_prob(samples).mean()),
        reference_log_p=float(mixture.log_prob(reference).mean()),
        mixture=mixture,
    )


def _render_langevin(result: LangevinRun, figure: Figure) -> str:
    ax = figure.add_subplot(1, 1, 1)
    viz.plot_density_2d(
        result.mixture,
        result.samples,
        ax=ax,
        title=f"Langevin: η = {result.step_size:.3g}, {result.n_steps} steps",
        sample_label="Langevin samples",
    )
    return (
        f"η = {result.step_size:.3g}, {result.n_steps} steps: mean log p of the samples {result.mean_log_p:.3f} "
        f"vs {result.reference_log_p:.3f} for exact samples"
    )


def langevin_panel(mixture: data.GaussianMixture, *, n_chains: int = 1000, strict: bool | None = None) -> Panel:
    """Notebook 03's Langevin widget: step size and number of steps → where the chains end up."""
    controls = {
        "step_size": w.FloatLogSlider(value=0.01, base=10, min=-4, max=-0.5, step=0.1, description="η"),
        "n_steps": w.IntSlider(value=200, min=10, max=600, step=10, description="steps"),
    }
    return Panel(
        langevin_run,
        _render_langevin,
        controls,
        fixed={"mixture": mixture, "n_chains": n_chains},
        figsize=(5.5, 5.0),
        title="Langevin dynamics with the exact score",
        strict=strict,
    )


# -- notebook 02: temperature and label smoothing against calibration ----------------------------------------------
@dataclass(frozen=True)
class Calibration:
    """A classifier's held-out predictions after temperature scaling, with its loss, confidence and ECE."""

    temperature: float
    smoothing: float
    example: int
    probs: np.ndarray
    label: int
    loss: float
    mean_test_loss: float
    confidence: float
    accuracy: float
    ece: float


def calibration(
    logits: Any, labels: Any, temperature: float, smoothing: float, example: int = 0, *, n_bins: int = 15
) -> Calibration:
    r"""Softmax of held-out ``logits / temperature``: one example's distribution and its cross-entropy with label
    smoothing ``smoothing`` (``losses.cross_entropy(..., label_smoothing=ε)``), the mean test loss, the mean
    confidence, the accuracy and the expected calibration error. Notebook 02, section 4 widget.
    """
    z = check_finite(as_float_tensor(logits, "logits"), "logits").detach().cpu()
    y = torch.as_tensor(labels).long().cpu()
    if z.dim() != 2 or y.shape != (z.shape[0],):
        raise ValueError(f"logits must be (N, K) and labels (N,), got {describe(logits)} and {describe(labels)}")
    temperature = check_positive(temperature, "temperature")
    example = check_int(example, "example", minimum=0)
    if example >= z.shape[0]:
        raise ValueError(f"example must index a row of logits (< {z.shape[0]}), got {example}")
    scaled = z / temperature
    probs = torch.softmax(scaled, dim=1)
    per_example = losses.cross_entropy(scaled, y, label_smoothing=float(smoothing), reduction="none")
    return Calibration(
        temperature=temperature,
        smoothing=float(smoothing),
        example=example,
        probs=probs[example].numpy(),
        label=int(y[example]),
        loss=float(per_example[example]),
        mean_test_loss=float(per_example.mean()),
        confidence=float(probs.max(dim=1).values.mean()),
        accuracy=float((probs.argmax(dim=1) == y).float().mean()),
        ece=metrics.expected_calibration_error(probs, y, n_bins=n_bins),
    )


def _render_calibration(result: Calibration, figure: Figure, probs_all: torch.Tensor, labels: torch.Tensor) -> str:
    ax_p, ax_r = figure.subplots(1, 2)
    viz.plot_probability_bars(
        result.probs,
        [str(k) for k in range(len(result.probs))],
        highlight=result.label,
        ax=ax_p,
        title=f"example {result.example}: p(y | x) at T = {result.temperature:.2f} (orange: true class)",
    )
    ax_p.set_xlabel("class")
    viz.plot_reliability_diagram(
        torch.softmax(probs_all / result.temperature, dim=1), labels, ax=ax_r, title="held-out reliability"
    )
    return (
        f"T = {result.temperature:.2f}, ε = {result.smoothing:.2f}: this example's loss {result.loss:.3f} nats; "
        f"held-out mean loss {result.mean_test_loss:.3f}, mean confidence {result.confidence:.3f} vs accuracy "
        f"{result.accuracy:.3f}, ECE {result.ece:.4f}"
    )


def calibration_panel(logits: Any, labels: Any, *, strict: bool | None = None) -> Panel:
    """Notebook 02's calibration widget: temperature T, label smoothing ε and an example index."""
    z = as_float_tensor(logits, "logits").detach().cpu()
    y = torch.as_tensor(labels).long().cpu()
    controls = {
        "temperature": w.FloatLogSlider(value=1.0, base=10, min=-1, max=1, step=0.05, description="T"),
        "smoothing": w.FloatSlider(value=0.0, min=0.0, max=0.5, step=0.05, description="ε"),
        "example": w.IntSlider(value=0, min=0, max=min(z.shape[0] - 1, 49), description="example"),
    }
    return Panel(
        calibration,
        lambda result, figure: _render_calibration(result, figure, z, y),
        controls,
        fixed={"logits": z, "labels": y},
        figsize=(11.0, 4.0),
        title="Temperature, label smoothing and calibration",
        strict=strict,
    )


# -- notebook 04: the forward process and the samplers, with analytic scores ----------------------------------------
_SCHEDULES = {
    "VP linear": lambda: sampling.VPSchedule("linear"),
    "VP cosine": lambda: sampling.VPSchedule("cosine"),
    "VE": lambda: sampling.VESchedule(0.01, 10.0),
}


def analytic_diffusion_score(
    mixture: data.GaussianMixture, schedule: sampling.VESchedule | sampling.VPSchedule
) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    r"""The exact score of the diffused mixture at time t, ``score_fn(x, t)`` with t an (N,) tensor of equal times:
    :math:`\nabla\log p_t` where :math:`x_t = \alpha(t)x_0 + \sigma(t)\varepsilon` (``mixture.diffused``). Lets
    notebook 04 compare samplers with no training error in the way.
    """

    def score_fn(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        t0 = float(torch.as_tensor(t).reshape(-1)[0])
        alpha, sigma = schedule.marginal(t0)
        return mixture.diffused(float(alpha), float(sigma)).score(x)

    return score_fn


@dataclass(frozen=True)
class ForwardMarginal:
    """The data distribution diffused to time t: its coefficients and the exact mixture."""

    t: float
    kind: str
    alpha: float
    sigma: float
    marginal: data.GaussianMixture


def forward_marginal(t: float, kind: str, mixture: data.GaussianMixture) -> ForwardMarginal:
    r"""The exact marginal :math:`p_t` of :math:`x_t = \alpha(t)x_0 + \sigma(t)\varepsilon` for ``kind`` in
    ``"VP linear"``, ``"VP cosine"``, ``"VE"``. Notebook 04, section 1 widget."""
    if kind not in _SCHEDULES:
        raise ValueError(f"kind must be one of {tuple(_SCHEDULES)}, got {kind!r}")
    alpha, sigma = _SCHEDULES[kind]().marginal(float(t))
    return ForwardMarginal(float(t), kind, float(alpha), float(sigma), mixture.diffused(float(alpha), float(sigma)))


def _render_forward(result: ForwardMarginal, figure: Figure) -> str:
    ax = figure.add_subplot(1, 1, 1)
    lim = max(6.0, 3.0 * result.sigma + 5.0 * result.alpha)
    viz.plot_score_field(
        result.marginal,
        density=result.marginal,
        lim=lim,
        ax=ax,
        title=f"{result.kind}: $p_t$ and its score at t = {result.t:.2f}",
    )
    return (
        f"{result.kind}, t = {result.t:.2f}: α(t) = {result.alpha:.3f}, σ(t) = {result.sigma:.3f} — "
        f"x_t = {result.alpha:.3f}·x₀ + {result.sigma:.3f}·ε"
    )


def forward_process_panel(mixture: data.GaussianMixture, *, strict: bool | None = None) -> Panel:
    """Notebook 04's forward-process widget: time t and the noising process → the diffused density and score."""
    controls = {
        "t": w.FloatSlider(value=0.3, min=0.0, max=1.0, step=0.02, description="t"),
        "kind": w.Dropdown(options=list(_SCHEDULES), value="VP linear", description="process"),
    }
    return Panel(
        forward_marginal,
        _render_forward,
        controls,
        fixed={"mixture": mixture},
        figsize=(5.8, 5.0),
        title="The forward (noising) process",
        strict=strict,
    )


@dataclass(frozen=True)
class SamplerRun:
    """Samples from one sampler with the exact score, and their energy distance to true samples."""

    sampler: str
    n_steps: int
    samples: np.ndarray
    energy: float
    floor: float
    mixture: data.GaussianMixture


SAMPLERS = ("annealed Langevin", "reverse SDE", "probability-flow ODE", "DDPM")


def run_sampler(
    sampler: str, n_steps: int, mixture: data.GaussianMixture, *, n: int = 1000, seed: int = 0
) -> SamplerRun:
    r"""Sample ``mixture`` with one of :data:`SAMPLERS` using its exact diffused score (no training), in
    ``n_steps`` network evaluations (annealed Langevin: 10 levels from σ = 10 to 0.1, ``n_steps/10`` each), and
    measure the energy distance to ``n`` true samples against the two-sample floor. Notebook 04, section 3.
    """
    if sampler not in SAMPLERS:
        raise ValueError(f"sampler must be one of {SAMPLERS}, got {sampler!r}")
    n_steps = check_int(n_steps, "n_steps", minimum=1)
    n = check_int(n, "n", minimum=2)
    g = torch.Generator().manual_seed(int(seed))
    dim = mixture.dim
    if sampler == "annealed Langevin":
        sigmas = torch.logspace(1.0, -1.0, 10, dtype=torch.float64).tolist()
        start = (torch.rand(n, dim, generator=g, dtype=torch.float64) * 2 - 1) * 8
        out = sampling.annealed_langevin(
            lambda x, s: mixture.noised(float(s[0])).score(x), start, sigmas, max(n_steps // 10, 1), 0.01, generator=g
        )
    elif sampler == "DDPM":
        scale = 1000 / n_steps  # keep the total noise of the T = 1000 linear schedule (beta_t * T fixed)
        betas = sampling.linear_betas(n_steps, min(1e-4 * scale, 0.5), min(0.02 * scale, 0.999))
        alpha_bar = sampling.ddpm_alpha_bar(betas)

        def eps_fn(x: torch.Tensor, step: torch.Tensor) -> torch.Tensor:
            ab = float(alpha_bar[int(step[0])])
            a, s = math.sqrt(ab), math.sqrt(1 - ab)
            return -s * mixture.diffused(a, s).score(x)

        out = sampling.ddpm_sample(eps_fn, (n, dim), betas, generator=g, dtype=torch.float64)
    else:
        schedule = sampling.VPSchedule("linear")
        x_T = torch.randn(n, dim, generator=g, dtype=torch.float64)
        score_fn = analytic_diffusion_score(mixture, schedule)
        if sampler == "reverse SDE":
            out = sampling.reverse_sde(score_fn, x_T, schedule, n_steps, generator=g)
        else:
            out = sampling.probability_flow_ode(score_fn, x_T, schedule, max(n_steps // 2, 1))  # Heun: 2 evals/step
    truth = mixture.sample(n, generator=g)
    floor, _ = metrics.energy_distance_floor(mixture.sample, n, n_repeats=3, generator=g)
    return SamplerRun(sampler, n_steps, out.numpy(), metrics.energy_distance(out, truth), floor, mixture)


def _render_sampler(result: SamplerRun, figure: Figure) -> str:
    ax = figure.add_subplot(1, 1, 1)
    viz.plot_density_2d(
        result.mixture,
        result.samples,
        ax=ax,
        title=f"{result.sampler}, {result.n_steps} score evaluations",
        sample_label="samples",
    )
    return (
        f"{result.sampler}, {result.n_steps} score evaluations: energy distance {result.energy:.4f} = "
        f"{result.energy / result.floor:.2f}× the two-sample floor ({result.floor:.4f})"
    )


def sampler_panel(mixture: data.GaussianMixture, *, n: int = 1000, strict: bool | None = None) -> Panel:
    """Notebook 04's sampler widget: which sampler and how many steps → samples and energy distance / floor."""
    controls = {
        "sampler": w.Dropdown(options=list(SAMPLERS), value="reverse SDE", description="sampler"),
        "n_steps": w.SelectionSlider(options=[10, 20, 50, 100, 200, 500], value=100, description="steps"),
    }
    return Panel(
        run_sampler,
        _render_sampler,
        controls,
        fixed={"mixture": mixture, "n": n},
        figsize=(5.8, 5.0),
        title="Samplers with the exact score",
        strict=strict,
    )


# -- notebook 04: classifier-free guidance on digits ---------------------------------------------------------------
@dataclass(frozen=True)
class GuidedDigits:
    """Guided samples per prompted digit and how often an independent classifier agrees with the prompt."""

    w: float
    images: torch.Tensor
    prompts: torch.Tensor
    predicted: torch.Tensor
    accuracy: float


def guided_digits(
    w: float,
    model: Any,
    classifier: torch.nn.Module,
    schedule: sampling.VPSchedule,
    *,
    n_per_class: int = 8,
    n_steps: int = 100,
    seed: int = 0,
) -> GuidedDigits:
    r"""Sample ``n_per_class`` images of every digit from a ``models.ConditionalEpsNet`` with classifier-free
    guidance scale ``w`` (:math:`\tilde\varepsilon = (1+w)\hat\varepsilon(x,t,c) - w\hat\varepsilon(x,t,\varnothing)`,
    reverse SDE), and grade them with ``classifier``. Notebook 04, section 6 widget."""
    w = float(w)
    if w < 0:
        raise ValueError(f"w (guidance scale) must be >= 0, got {w}")
    n_per_class = check_int(n_per_class, "n_per_class", minimum=1)
    g = torch.Generator().manual_seed(int(seed))
    n_classes = model.n_classes
    prompts = torch.arange(n_classes).repeat_interleave(n_per_class)
    dim = model.image_size**2

    def score_fn(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        _, sigma = schedule.marginal(t)
        return sampling.score_from_eps(model.guided_eps(x, t, prompts, w), sigma)

    with torch.no_grad():
        x = sampling.reverse_sde(score_fn, torch.randn(len(prompts), dim, generator=g), schedule, n_steps, generator=g)
        images = model.to_pixel_space(x).reshape(len(prompts), 1, model.image_size, model.image_size)
        predicted = classifier(images).argmax(dim=1)
    return GuidedDigits(w, images, prompts, predicted, float((predicted == prompts).float().mean()))


def _render_guided(result: GuidedDigits, figure: Figure) -> str:
    n_classes = int(result.prompts.max()) + 1
    per_class = len(result.prompts) // n_classes
    axes = figure.subplots(n_classes, per_class)
    for i, ax in enumerate(np.asarray(axes).ravel()):
        ax.imshow(result.images[i, 0].numpy(), cmap="gray_r", vmin=0, vmax=1)
        ax.set_xticks([])
        ax.set_yticks([])
        if int(result.predicted[i]) != int(result.prompts[i]):
            for spine in ax.spines.values():
                spine.set_edgecolor(viz.PALETTE[6])
                spine.set_linewidth(2)
        if i % per_class == 0:
            ax.set_ylabel(f"'{int(result.prompts[i])}'", rotation=0, labelpad=12, fontsize=8)
    figure.suptitle(
        f"guidance w = {result.w:g}: one row per prompt (red frame: classified as another digit)", fontsize=9
    )
    return f"w = {result.w:g}: {result.accuracy:.3f} of the samples are classified as the prompted digit"


def guidance_panel(
    model: Any,
    classifier: torch.nn.Module,
    schedule: sampling.VPSchedule,
    *,
    n_per_class: int = 8,
    strict: bool | None = None,
) -> Panel:
    """Notebook 04's guidance widget: the guidance scale w → a grid of samples per prompt and their accuracy."""
    controls = {"w": w.FloatSlider(value=2.0, min=0.0, max=5.0, step=0.5, description="guidance w")}
    return Panel(
        guided_digits,
        _render_guided,
        controls,
        fixed={"model": model, "classifier": classifier, "schedule": schedule, "n_per_class": n_per_class},
        figsize=(0.55 * n_per_class + 1, 6.0),
        title="Classifier-free guidance",
        strict=strict,
    )


# -- notebook 05: temperature and top-k, scored by the true source --------------------------------------------------
@dataclass(frozen=True)
class SamplingTradeoff:
    r"""Samples of a next-token model at one (temperature, top-k), scored by the *true* source.

    ``true_nll``: mean :math:`-\log p_{\text{source}}(x_t \mid x_{<t})` over the sampled tokens 2..T (quality: low
    means the source finds the samples likely). ``entropy``: mean entropy of the reshaped next-token distributions
    the sampler drew from (diversity: nats of randomness per token). ``probs``/``true_probs``: the reshaped model
    distribution and the source's row after the context symbol ``context``.
    """

    temperature: float
    top_k: int | None
    true_nll: float
    entropy: float
    entropy_rate: float
    context: int
    probs: np.ndarray
    true_probs: np.ndarray
    samples: torch.Tensor


def sampling_tradeoff(
    model: torch.nn.Module,
    source: data.MarkovSource,
    temperature: float,
    top_k: int | None = None,
    *,
    n: int = 256,
    length: int = 32,
    context: int = 0,
    seed: int = 0,
) -> SamplingTradeoff:
    r"""Draw ``n`` sequences of ``length`` tokens from ``model`` (first token from the source's stationary
    distribution, the rest with ``sampling.sample_tokens``) and score them with the true ``source``. Notebook 05.

    ``top_k`` of 0 or None keeps every token. At ``temperature = 1`` without top-k, a model that has learned the
    source samples from it: ``true_nll`` and ``entropy`` both approach the entropy rate.
    """
    if not isinstance(source, data.MarkovSource):
        raise TypeError(f"source must be a data.MarkovSource, got {describe(source)}")
    temperature = check_positive(temperature, "temperature")
    if top_k is not None:
        top_k = check_int(top_k, "top_k", minimum=0) or None
    n = check_int(n, "n", minimum=1)
    length = check_int(length, "length", minimum=2)
    context = check_int(context, "context", minimum=0)
    if context >= source.vocab_size:
        raise ValueError(f"context must be a symbol in [0, {source.vocab_size - 1}], got {context}")
    g = torch.Generator().manual_seed(int(seed))
    first = source.sample(n, 1, generator=g)
    samples = sampling.sample_tokens(model, first, length - 1, temperature=temperature, top_k=top_k, generator=g)
    true_nll = float(-(source.log_prob(samples) - source.log_prob(samples[:, :1])).mean()) / (length - 1)
    with torch.no_grad():
        logits = model(samples)[:, :-1].float()
        probs = sampling.next_token_probs(logits, temperature=temperature, top_k=top_k)
        entropy = float(-(probs * probs.clamp_min(1e-30).log()).sum(-1).mean())
        at_context = sampling.next_token_probs(
            model(torch.tensor([[context]]))[0, -1].float(), temperature=temperature, top_k=top_k
        )
    row = source.transition[(context,) * source.order] if source.order > 1 else source.transition[context]
    return SamplingTradeoff(
        temperature=temperature,
        top_k=top_k,
        true_nll=true_nll,
        entropy=max(entropy, 0.0) + 0.0,  # + 0.0 turns -0.0 into 0.0
        entropy_rate=source.entropy_rate(),
        context=context,
        probs=at_context.numpy(),
        true_probs=row.numpy(),
        samples=samples,
    )


def _render_sampling(result: SamplingTradeoff, figure: Figure, curve: Sequence[SamplingTradeoff]) -> str:
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
            f"T={c.temperature:g}", (c.entropy, c.true_nll), fontsize=6, xytext=(3, -8), textcoords="offset points"
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
        f"T = {result.temperature:.2f}, top-k {k}: samples cost {result.true_nll:.3f} nats/token under the true "
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
) -> Panel:
    """Notebook 05's sampling widget: temperature and top-k → the next-token distribution and the quality /
    diversity point of the samples, on the curve traced by temperature alone."""
    curve = [sampling_tradeoff(model, source, t, None, n=n, length=length) for t in temperatures]
    controls = {
        "temperature": w.FloatLogSlider(
            value=1.0,
            base=10,
            min=-1.0,
            max=0.6,
            step=0.05,
            description="temperature",
            readout_format=".2f",
            style={"description_width": "initial"},
        ),
        "top_k": w.IntSlider(
            value=0,
            min=0,
            max=source.vocab_size,
            description="top-k (0=off)",
            style={"description_width": "initial"},
        ),
    }
    return Panel(
        sampling_tradeoff,
        lambda result, figure: _render_sampling(result, figure, curve),
        controls,
        fixed={"model": model, "source": source, "n": n, "length": length},
        figsize=(9.0, 3.6),
        title="Sampling: temperature and top-k",
        strict=strict,
    )


# -- notebook 07: a caption → images from diffusion and from the multimodal GPT → captions back ---------------------
@dataclass(frozen=True)
class RoundTrip:
    """One caption turned into images two ways, each image captioned back and scored by CLIP."""

    caption: str
    w: float
    diffusion_images: torch.Tensor
    gpt_images: torch.Tensor
    diffusion_captions: list[str]
    gpt_captions: list[str]
    diffusion_clip: float
    gpt_clip: float


def round_trip(
    caption: str,
    w: float,
    seed: int,
    *,
    clip: Any,
    diffusion: Any,
    schedule: sampling.VPSchedule,
    gpt: Any,
    sequences: Any,
    captioner: Any,
    n: int = 4,
    n_steps: int = 200,
) -> RoundTrip:
    r"""Text → image → text (notebook 07's widget): ``n`` images from the CLIP-conditioned diffusion model (guidance
    ``w``) and ``n`` from the multimodal GPT, each captioned back by the CE captioner, and the mean CLIP score
    (``metrics.clip_score``) of each set of images against the caption."""
    if not isinstance(caption, str) or not caption.strip():
        raise ValueError(f"caption must be a non-empty str, got {caption!r}")
    w = float(w)
    if not math.isfinite(w) or w < 0:
        raise ValueError(f"w (guidance scale) must be a finite number >= 0, got {w}")
    n = check_int(n, "n", minimum=1)
    g = torch.Generator().manual_seed(check_int(seed, "seed", minimum=0))
    tokenizer = sequences.vocab.text
    tokens = tokenizer.encode([caption])
    with torch.no_grad():
        cond = recipes.text_embeddings(clip, tokens).expand(n, -1)
        diffusion_images = recipes.sample_text_to_image(diffusion, cond, schedule, w=w, n_steps=n_steps, generator=g)
        gpt_images = recipes.generate_images(gpt, sequences, tokens.expand(n, -1), generator=g)
        back = [tokenizer.decode(captioner.generate(x, max_len=16)) for x in (diffusion_images, gpt_images)]
        scores = [float(metrics.clip_score(clip.encode_a(x), cond).mean()) for x in (diffusion_images, gpt_images)]
    return RoundTrip(
        caption=tokenizer.normalize(caption),
        w=w,
        diffusion_images=diffusion_images,
        gpt_images=gpt_images,
        diffusion_captions=back[0],
        gpt_captions=back[1],
        diffusion_clip=scores[0],
        gpt_clip=scores[1],
    )


def _render_round_trip(result: RoundTrip, figure: Figure) -> str:
    import textwrap

    n = result.diffusion_images.shape[0]
    axes = np.asarray(figure.subplots(2, n, squeeze=False))
    rows = [
        ("diffusion", result.diffusion_images, result.diffusion_captions),
        ("multimodal GPT", result.gpt_images, result.gpt_captions),
    ]
    for r, (name, images, captions) in enumerate(rows):
        for i in range(n):
            ax = axes[r, i]
            ax.imshow(images[i, 0].numpy(), cmap="gray_r", vmin=0, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_title(textwrap.fill(captions[i], 22), fontsize=7)
            if i == 0:
                ax.set_ylabel(name, fontsize=9)
    figure.suptitle(f"'{result.caption}' → images → captions back (titles)", fontsize=9)
    return (
        f"'{html.escape(result.caption)}': CLIP score {result.diffusion_clip:.3f} (diffusion, w = {result.w:g}) vs "
        f"{result.gpt_clip:.3f} (multimodal GPT), out of 2.5"
    )


def round_trip_panel(
    captions: Sequence[str],
    *,
    clip: Any,
    diffusion: Any,
    schedule: sampling.VPSchedule,
    gpt: Any,
    sequences: Any,
    captioner: Any,
    n: int = 4,
    n_steps: int = 200,
    strict: bool | None = None,
) -> Panel:
    """Notebook 07's widget: pick a caption, a guidance scale and a seed → images from both generators, captioned
    back, with their CLIP scores."""
    options = [str(c) for c in captions]
    if not options:
        raise ValueError("captions must hold at least one caption to pick from, got none")
    controls = {
        "caption": w.Dropdown(options=options, value=options[0], description="caption"),
        "w": w.FloatSlider(value=2.0, min=0.0, max=4.0, step=0.5, description="guidance w"),
        "seed": w.IntSlider(value=0, min=0, max=9, description="seed"),
    }
    fixed = {
        "clip": clip,
        "diffusion": diffusion,
        "schedule": schedule,
        "gpt": gpt,
        "sequences": sequences,
        "captioner": captioner,
        "n": n,
        "n_steps": n_steps,
    }
    return Panel(
        round_trip,
        _render_round_trip,
        controls,
        fixed=fixed,
        figsize=(1.9 * n + 0.5, 4.6),
        title="Text → image → text",
        strict=strict,
    )
