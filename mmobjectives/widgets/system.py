"""The composed system's panel (notebook 07): text → image → text."""

from __future__ import annotations

import html
import textwrap
from collections.abc import Sequence

import ipywidgets as ipw
import torch
from matplotlib.figure import Figure

from .. import viz
from .._checks import describe
from ..experiments import system as experiment
from .panel import Panel


def _render_round_trip(result: experiment.RoundTrip, figure: Figure) -> str:
    n = result.diffusion_images.shape[0]
    captions = result.diffusion_captions + result.gpt_captions
    viz.plot_image_grid(
        torch.cat([result.diffusion_images, result.gpt_images]),
        titles=[textwrap.fill(c, 22) for c in captions],
        ncols=n,
        suptitle=f"'{result.caption}' → images (top: diffusion, bottom: multimodal GPT) → captions back (titles)",
        figure=figure,
    )
    return (
        f"'{html.escape(result.caption)}': CLIP score {result.diffusion_clip:.3f} (diffusion, w = {result.w:g}) vs "
        f"{result.gpt_clip:.3f} (multimodal GPT), out of 2.5"
    )


def round_trip_panel(
    captions: Sequence[str],
    system: experiment.System,
    *,
    n: int = 4,
    n_steps: int = 200,
    strict: bool | None = None,
) -> Panel[experiment.RoundTrip]:
    """Notebook 07's widget: pick a caption, a guidance weight w and a seed → images from both generators, captioned
    back, with their CLIP scores."""
    options = [str(c) for c in captions]
    if not options:
        raise ValueError("captions must hold at least one caption to pick from, got none")
    controls = {
        "caption": ipw.Dropdown(options=options, value=options[0], description="caption"),
        "w": ipw.FloatSlider(value=2.0, min=0.0, max=4.0, step=0.5, description="guidance w"),
        "seed": ipw.IntSlider(value=0, min=0, max=9, description="seed"),
    }
    if not isinstance(system, experiment.System):
        raise TypeError(f"system must be an experiments.System (the trained parts), got {describe(system)}")
    fixed = {"system": system, "n": n, "n_steps": n_steps}
    return Panel(
        experiment.round_trip,
        _render_round_trip,
        controls,
        fixed=fixed,
        figsize=(1.9 * n + 0.5, 4.6),
        title="Text → image → text",
        strict=strict,
    )
