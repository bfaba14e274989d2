"""Score-matching panels (notebook 03): density and score, the learned score's error, Langevin."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import ipywidgets as ipw
import numpy as np
import torch
from matplotlib.figure import Figure

from .. import data, viz
from ..experiments import score as experiment
from .panel import Panel


def _render_mixture(result: experiment.MixtureField, figure: Figure) -> str:
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


def score_field_panel(*, strict: bool | None = None) -> Panel[experiment.MixtureField]:
    """Notebook 03's first widget: mixture weight, distance and spread → density and score field side by side."""
    controls = {
        "weight_left": ipw.FloatSlider(value=0.2, min=0.05, max=0.95, step=0.05, description="weight left"),
        "distance": ipw.FloatSlider(value=3.0, min=1.0, max=6.0, step=0.5, description="distance"),
        "std": ipw.FloatSlider(value=1.0, min=0.3, max=2.0, step=0.1, description="std"),
    }
    return Panel(
        experiment.mixture_field,
        _render_mixture,
        controls,
        figsize=(10.0, 4.2),
        title="Density and score",
        strict=strict,
    )


def _render_score_error(result: experiment.ScoreError, figure: Figure) -> str:
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
) -> Panel[experiment.ScoreError]:
    """Notebook 03's σ widget: the noised density, analytic field, learned field and their error at each σ."""
    options = [float(s) for s in sigmas]
    controls = {
        "sigma": ipw.SelectionSlider(options=options, value=value or options[len(options) // 2], description="σ")
    }
    return Panel(
        experiment.score_error,
        _render_score_error,
        controls,
        fixed={"score_fn": score_fn, "mixture": mixture, "lim": lim},
        figsize=(14.0, 4.2),
        title="Where is the learned score wrong?",
        strict=strict,
    )


def _render_langevin(result: experiment.LangevinRun, figure: Figure) -> str:
    run = f"η = {result.step_size:.3g}, {result.n_steps} steps"
    title = f"Langevin: {run}"
    viz.plot_density_2d(
        result.mixture, result.samples, ax=figure.add_subplot(), title=title, sample_label="Langevin samples"
    )
    return f"{run}: mean log p of the samples {result.mean_log_p:.3f} vs {result.reference_log_p:.3f} for exact samples"


def langevin_panel(
    mixture: data.GaussianMixture, *, n_chains: int = 1000, strict: bool | None = None
) -> Panel[experiment.LangevinRun]:
    """Notebook 03's Langevin widget: step size and number of steps → where the chains end up."""
    controls = {
        "step_size": ipw.FloatLogSlider(value=0.01, base=10, min=-4, max=-0.5, step=0.1, description="η"),
        "n_steps": ipw.IntSlider(value=200, min=10, max=600, step=10, description="steps"),
    }
    return Panel(
        experiment.langevin_run,
        _render_langevin,
        controls,
        fixed={"mixture": mixture, "n_chains": n_chains},
        figsize=(5.5, 5.0),
        title="Langevin dynamics with the exact score",
        strict=strict,
    )
