r"""Interactive panels: ipywidgets controls wired to the compute of the layers below, one module per objective.

* :mod:`.panel` — :class:`Panel` (controls → compute → render → a figure and a line of text) and
  :func:`control_values`;
* :mod:`.cross_entropy` (notebooks 00, 02), :mod:`.contrastive` (01), :mod:`.score` (03), :mod:`.diffusion` (04),
  :mod:`.autoregressive` (05), :mod:`.system` (07) — the panels; each only builds controls and renders with
  ``viz``. The compute behind them lives in :mod:`mmobjectives.experiments` (and ``sampling``): notebooks call it
  from there. Older code that reaches it through ``widgets`` (``widgets.score_error``, ``widgets.SAMPLERS``) keeps working:
  a module ``__getattr__`` forwards those names to where they live now.
"""

from typing import Any

from .. import experiments, sampling
from .autoregressive import sampling_panel
from .contrastive import contrastive_temperature_panel, mi_staircase_panel
from .cross_entropy import calibration_panel, softmax_temperature_panel
from .diffusion import forward_process_panel, guidance_panel, sampler_panel
from .panel import Panel, control_values
from .score import langevin_panel, noise_level_panel, score_field_panel
from .system import round_trip_panel

__all__ = [
    "Panel",
    "calibration_panel",
    "contrastive_temperature_panel",
    "control_values",
    "forward_process_panel",
    "guidance_panel",
    "langevin_panel",
    "mi_staircase_panel",
    "noise_level_panel",
    "round_trip_panel",
    "sampler_panel",
    "sampling_panel",
    "score_field_panel",
    "softmax_temperature_panel",
]


_MOVED = {name: experiments for name in experiments.__all__} | {
    name: sampling for name in ("SAMPLERS", "analytic_diffusion_score")
}


def __getattr__(name: str) -> Any:
    """``widgets.<compute name>`` for code written before the compute moved to ``experiments`` / ``sampling``."""
    if name in _MOVED:
        return getattr(_MOVED[name], name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
