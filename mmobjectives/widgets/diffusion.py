"""Diffusion panels (notebook 04): the forward process, the samplers, classifier-free guidance."""

from __future__ import annotations

import ipywidgets as ipw
import torch
from matplotlib.figure import Figure

from .. import data, models, sampling, viz
from ..experiments import diffusion as experiment
from .panel import Panel


def _render_forward(result: experiment.ForwardMarginal, figure: Figure) -> str:
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


def forward_process_panel(
    mixture: data.GaussianMixture, *, strict: bool | None = None
) -> Panel[experiment.ForwardMarginal]:
    """Notebook 04's forward-process widget: time t and the noising process → the diffused density and score."""
    controls = {
        "t": ipw.FloatSlider(value=0.3, min=0.0, max=1.0, step=0.02, description="t"),
        "kind": ipw.Dropdown(options=list(experiment.FORWARD_PROCESSES), value="VP linear", description="process"),
    }
    return Panel(
        experiment.forward_marginal,
        _render_forward,
        controls,
        fixed={"mixture": mixture},
        figsize=(5.8, 5.0),
        title="The forward (noising) process",
        strict=strict,
    )


def _render_sampler(result: experiment.SamplerRun, figure: Figure) -> str:
    run = f"{result.sampler}, {result.n_steps} score evaluations"
    viz.plot_density_2d(result.mixture, result.samples, ax=figure.add_subplot(), title=run, sample_label="samples")
    ratio = result.energy / result.floor
    return f"{run}: energy distance {result.energy:.4f} = {ratio:.2f}× the two-sample floor ({result.floor:.4f})"


def sampler_panel(
    mixture: data.GaussianMixture, *, n: int = 1000, strict: bool | None = None
) -> Panel[experiment.SamplerRun]:
    """Notebook 04's sampler widget: which sampler and how many steps → samples and energy distance / floor."""
    controls = {
        "sampler": ipw.Dropdown(options=list(sampling.SAMPLERS), value="reverse SDE", description="sampler"),
        "n_steps": ipw.SelectionSlider(options=[10, 20, 50, 100, 200, 500], value=100, description="steps"),
    }
    return Panel(
        experiment.run_sampler,
        _render_sampler,
        controls,
        fixed={"mixture": mixture, "n": n},
        figsize=(5.8, 5.0),
        title="Samplers with the exact score",
        strict=strict,
    )


def _render_guided(result: experiment.GuidedDigits, figure: Figure) -> str:
    per_class = int((result.prompts == result.prompts[0]).sum())  # prompts come in blocks, one block per digit
    viz.plot_image_grid(
        result.images,
        titles=[f"'{int(p)}'" if i % per_class == 0 else "" for i, p in enumerate(result.prompts)],
        ncols=per_class,
        wrong=result.predicted != result.prompts,
        suptitle=f"guidance w = {result.w:g}: one row per prompt (red frame: classified as another digit)",
        figure=figure,
    )
    return f"w = {result.w:g}: {result.accuracy:.3f} of the samples are classified as the prompted digit"


def guidance_panel(
    model: models.ConditionalEpsNet,
    classifier: torch.nn.Module,
    schedule: sampling.VPSchedule,
    *,
    n_per_class: int = 8,
    strict: bool | None = None,
) -> Panel[experiment.GuidedDigits]:
    """Notebook 04's guidance widget: the guidance weight w → a grid of samples per prompt and their accuracy."""
    controls = {"w": ipw.FloatSlider(value=2.0, min=0.0, max=5.0, step=0.5, description="guidance w")}
    return Panel(
        experiment.guided_digits,
        _render_guided,
        controls,
        fixed={"model": model, "classifier": classifier, "schedule": schedule, "n_per_class": n_per_class},
        figsize=(0.55 * n_per_class + 1, 6.0),
        title="Classifier-free guidance",
        strict=strict,
    )
