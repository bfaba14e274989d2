r"""Experiments: the pure compute behind each interactive panel, one module per objective. Layer between
``recipes`` and ``widgets``: every function here takes plain values (the controls' values, data, trained models),
returns a frozen dataclass of results, and draws nothing. Notebooks call these directly for their checks; the
panels of :mod:`mmobjectives.widgets` wire controls to them and render the results.

* :mod:`.cross_entropy` — softmax temperature (notebook 00), calibration (notebook 02);
* :mod:`.contrastive` — the MI staircase and the contrastive temperature (notebook 01);
* :mod:`.score` — density and score, the learned score's error, Langevin (notebook 03);
* :mod:`.diffusion` — the forward process, the samplers with the exact score, guidance on digits (notebook 04);
* :mod:`.autoregressive` — temperature and top-k against the true source (notebook 05);
* :mod:`.system` — text → image → text (notebook 07).

Each submodule lists what it exports in ``__all__``; the package re-exports all of it (a test checks the lists agree).
"""

from .autoregressive import SamplingTradeoff, sampling_tradeoff
from .contrastive import ContrastiveTemperature, MIStaircase, contrastive_temperature, mi_staircase
from .cross_entropy import Calibration, SoftmaxSummary, calibration, softmax_temperature
from .diffusion import (
    FORWARD_PROCESSES,
    ForwardMarginal,
    GuidedDigits,
    SamplerRun,
    forward_marginal,
    guided_digits,
    run_sampler,
)
from .score import LangevinRun, MixtureField, ScoreError, langevin_run, mixture_field, score_error
from .system import RoundTrip, System, round_trip

__all__ = [
    "FORWARD_PROCESSES",
    "Calibration",
    "ContrastiveTemperature",
    "ForwardMarginal",
    "GuidedDigits",
    "LangevinRun",
    "MIStaircase",
    "MixtureField",
    "RoundTrip",
    "SamplerRun",
    "SamplingTradeoff",
    "ScoreError",
    "SoftmaxSummary",
    "System",
    "calibration",
    "contrastive_temperature",
    "forward_marginal",
    "guided_digits",
    "langevin_run",
    "mi_staircase",
    "mixture_field",
    "round_trip",
    "run_sampler",
    "sampling_tradeoff",
    "score_error",
    "softmax_temperature",
]
