r"""Class- and text-conditional sampling with classifier-free guidance: THE one path from a conditional ε-model
to samples. Notebook 04, section 6 (digits by class), notebook 06 (points by class), notebook 07 (digits by text).

The guided noise prediction :math:`\tilde\varepsilon = (1+w)\,\hat\varepsilon(x,t,c) - w\,\hat\varepsilon(x,t,\varnothing)`
(``model.guided_eps``) becomes the score :math:`\tilde s = -\tilde\varepsilon/\sigma_t` (:func:`eps_model_score`),
and the reverse SDE turns prior noise into samples of :math:`p(x\mid c)\,p(c\mid x)^w`.
"""

from __future__ import annotations

from typing import Any

import torch

from .. import models
from .._checks import check_generator, check_real, describe
from .diffusion import reverse_sde
from .schedules import Schedule, _check_schedule
from .scores import eps_model_score

GuidedModel = models.ConditionalEpsNet | models.TextConditionedEpsNet


def sample_guided(
    model: GuidedModel,
    cond: torch.Tensor,
    schedule: Schedule,
    *,
    w: float = 0.0,
    n_steps: int = 200,
    t_min: float = 1e-3,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    r"""One sample per row of ``cond`` from a conditional ε-model with guidance weight ``w``, in model space.

    .. math::
        \tilde s(x, t) = -\frac{(1+w)\,\hat\varepsilon(x,t,c) - w\,\hat\varepsilon(x,t,\varnothing)}{\sigma(t)},

    integrated by :func:`reverse_sde` from :math:`x_1\sim\mathcal N(0, I)` (drawn with ``generator`` on the CPU,
    then moved to the model's device) in ``n_steps`` steps. ``w = 0`` is the plain conditional model.

    Args:
        model: a ``models.ConditionalEpsNet`` (``cond``: (N,) class labels) or ``models.TextConditionedEpsNet``
            (``cond``: (N, cond_dim) text embeddings).
        cond: one condition per sample.
        schedule: the schedule the model was trained with (``VPSchedule``: prior :math:`\mathcal N(0, I)`).
        w: guidance weight :math:`w \ge 0` (diffusers' ``guidance_scale`` is :math:`1 + w`).

    Returns (N, ``model.dim``) samples in model space (images: :func:`sample_guided_images`).
    """
    if not isinstance(model, (models.ConditionalEpsNet, models.TextConditionedEpsNet)):
        raise TypeError(
            f"model must be a models.ConditionalEpsNet or models.TextConditionedEpsNet, got {describe(model)}"
        )
    if not isinstance(cond, torch.Tensor) or cond.dim() < 1 or cond.shape[0] < 1:
        raise ValueError(f"cond must be a tensor with one condition per sample (N >= 1 rows), got {describe(cond)}")
    w = check_real(w, "w")
    if w < 0:
        raise ValueError(f"w (guidance weight) must be >= 0, got {w}")
    _check_schedule(schedule)
    check_generator(generator)
    device = next(model.parameters()).device
    score_fn = eps_model_score(lambda x, t: model.guided_eps(x, t, cond, w), schedule)
    start = torch.randn(cond.shape[0], model.dim, generator=generator).to(device)
    return reverse_sde(score_fn, start, schedule, n_steps, t_min=t_min, generator=generator)


def sample_guided_images(model: GuidedModel, cond: torch.Tensor, schedule: Schedule, **options: Any) -> torch.Tensor:
    r""":func:`sample_guided` for an image model, mapped back to pixels: (N, 1, H, W) in [0, 1]
    (``model.to_pixel_space``, which clips the small overshoot of the samples). ``options`` are
    :func:`sample_guided`'s keyword options, passed on as they are: ``w``, ``n_steps``, ``t_min``, ``generator``.
    Notebooks 04 and 07."""
    if getattr(model, "data_dim", None) is not None:
        raise ValueError(
            f"model must generate images (data_dim=None), got a model of {model.data_dim}-D vectors: use sample_guided"
        )
    x = sample_guided(model, cond, schedule, **options)
    size = model.image_size
    return model.to_pixel_space(x).reshape(-1, 1, size, size)
