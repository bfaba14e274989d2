r"""Diffusion experiments (notebook 04): the forward process's exact marginal, the four samplers with the exact
score scored by the energy distance, and classifier-free guidance on digits. Pure compute behind
``widgets.diffusion``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from .. import data, metrics, models, sampling
from .._checks import check_choice, check_instance, check_int, check_real, describe

__all__ = [
    "FORWARD_PROCESSES",
    "ForwardMarginal",
    "GuidedDigits",
    "SamplerRun",
    "forward_marginal",
    "guided_digits",
    "run_sampler",
]

_FORWARD_PROCESSES: dict[str, Callable[[], sampling.VESchedule | sampling.VPSchedule]] = {
    "VP linear": lambda: sampling.VPSchedule("linear"),
    "VP cosine": lambda: sampling.VPSchedule("cosine"),
    "VE": lambda: sampling.VESchedule(0.01, 10.0),
}
FORWARD_PROCESSES: tuple[str, ...] = tuple(_FORWARD_PROCESSES)


# -- section 1: the forward process -------------------------------------------------------------------------------
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
    :data:`FORWARD_PROCESSES` (``"VP linear"``, ``"VP cosine"``, ``"VE"``). Notebook 04, section 1 widget."""
    kind = check_choice(kind, "kind", FORWARD_PROCESSES)
    t = check_real(t, "t")
    check_instance(mixture, "mixture", data.GaussianMixture, "a data.GaussianMixture")
    alpha, sigma = (float(v) for v in _FORWARD_PROCESSES[kind]().marginal(t))
    return ForwardMarginal(t, kind, alpha, sigma, mixture.diffused(alpha, sigma))


# -- section 3: the samplers with the exact score -----------------------------------------------------------------
@dataclass(frozen=True)
class SamplerRun:
    """Samples from one sampler with the exact score, and their energy distance to true samples."""

    sampler: str
    n_steps: int
    samples: np.ndarray
    energy: float
    floor: float
    mixture: data.GaussianMixture


def run_sampler(
    sampler: str, n_steps: int, mixture: data.GaussianMixture, *, n: int = 1000, seed: int = 0
) -> SamplerRun:
    r"""Sample ``mixture`` with one of ``sampling.SAMPLERS`` using its exact diffused score
    (``sampling.sample_mixture``: ``n_steps`` score evaluations, its step policy), and measure the energy distance
    to ``n`` true samples against the two-sample floor. Notebook 04, section 3."""
    n = check_int(n, "n", minimum=2)
    g = torch.Generator().manual_seed(check_int(seed, "seed", minimum=0))
    out = sampling.sample_mixture(sampler, n_steps, mixture, n=n, generator=g)
    truth = mixture.sample(n, generator=g)
    floor, _ = metrics.energy_distance_floor(mixture.sample, n, n_repeats=3, generator=g)
    return SamplerRun(sampler, int(n_steps), out.numpy(), metrics.energy_distance(out, truth), floor, mixture)


# -- section 6: classifier-free guidance on digits ----------------------------------------------------------------
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
    model: models.ConditionalEpsNet,
    classifier: torch.nn.Module,
    schedule: sampling.VPSchedule,
    *,
    n_per_class: int = 8,
    n_steps: int = 100,
    seed: int = 0,
) -> GuidedDigits:
    r"""Sample ``n_per_class`` images of every digit from a ``models.ConditionalEpsNet`` with classifier-free
    guidance weight ``w`` (``sampling.sample_guided_images``:
    :math:`\tilde\varepsilon = (1+w)\hat\varepsilon(x,t,c) - w\hat\varepsilon(x,t,\varnothing)`, reverse SDE), and
    grade them with ``classifier``. Notebook 04, section 6 widget."""
    if not isinstance(model, models.ConditionalEpsNet):
        raise TypeError(f"model must be a models.ConditionalEpsNet, got {describe(model)}")
    if not callable(classifier):
        raise TypeError(f"classifier must be callable (images) -> logits, got {describe(classifier)}")
    n_per_class = check_int(n_per_class, "n_per_class", minimum=1)
    g = torch.Generator().manual_seed(check_int(seed, "seed", minimum=0))
    prompts = torch.arange(model.n_classes).repeat_interleave(n_per_class)
    with torch.no_grad():
        images = sampling.sample_guided_images(model, prompts, schedule, w=w, n_steps=n_steps, generator=g)
        predicted = classifier(images).argmax(dim=1).cpu()
    accuracy = float((predicted == prompts).float().mean())
    return GuidedDigits(float(w), images.cpu(), prompts, predicted, accuracy)
