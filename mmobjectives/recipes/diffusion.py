"""ε-prediction diffusion on digits: class-conditional (notebook 04) and text-conditional on the frozen CLIP text
tower (notebook 07), and sampling the latter with classifier-free guidance."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import torch
from torch import nn

from .. import losses, models, sampling, train
from .._checks import check_class_labels, check_images, describe
from ._train import _Run, _train
from .contrastive import text_embeddings


def _fit_eps(
    recipe: str,
    model: models.ConditionalEpsNet | models.TextConditionedEpsNet,
    images: torch.Tensor,
    conditions: torch.Tensor,
    drop: Callable[..., torch.Tensor],
    schedule: sampling.VPSchedule,
    run: _Run,
) -> tuple[models.ConditionalEpsNet | models.TextConditionedEpsNet, train.History]:
    """ε-prediction on ``images`` (pixels) in model space, each with its condition, dropped for classifier-free
    guidance by ``drop(conditions, generator=...)`` with the model's ``p_uncond``: the loop shared by class- and
    text-conditional diffusion."""
    x0 = models.ConditionalEpsNet.to_model_space(images).reshape(len(images), -1)
    generator = run.generator

    def eps_loss(net: nn.Module, batch: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        x0_batch, c = batch
        c = drop(c, generator=generator)
        return losses.eps_prediction_loss(lambda x, t: net(x, t, c), x0_batch, schedule, generator=generator)

    schedule_key = (schedule.kind, schedule.beta_min, schedule.beta_max, schedule.s)
    run = dataclasses.replace(run, settings={"p_uncond": model.p_uncond, "schedule": schedule_key})
    return _train(recipe, model, eps_loss, (x0, conditions), run)


def fit_class_diffusion(
    images: torch.Tensor,
    labels: torch.Tensor,
    schedule: sampling.VPSchedule,
    *,
    steps: int,
    hidden: int = 256,
    n_layers: int = 3,
    p_uncond: float = 0.1,
    batch_size: int = 256,
    lr: float = 2e-3,
    generator: torch.Generator | None = None,
    device: torch.device | str | None = None,
) -> tuple[models.ConditionalEpsNet, train.History]:
    """Class-conditional diffusion on digits (notebook 04, section 6): ε-prediction on images in model space
    [-1, 1], labels in [0, K) dropped to the null label K with probability ``p_uncond`` for classifier-free
    guidance."""
    check_images(images)
    n_classes = check_class_labels(labels, "labels", images.shape[0])
    model = models.ConditionalEpsNet(
        image_size=images.shape[-1], n_classes=n_classes, hidden=hidden, n_layers=n_layers, p_uncond=p_uncond
    )
    run = _Run(steps, batch_size, lr, generator, device, desc="conditional diffusion")
    return _fit_eps("fit_class_diffusion", model, images, labels, model.drop_labels, schedule, run)


def fit_text_to_image(
    clip: models.DualEncoder,
    images: torch.Tensor,
    text_tokens: torch.Tensor,
    schedule: sampling.VPSchedule,
    *,
    steps: int,
    hidden: int = 256,
    n_layers: int = 3,
    p_uncond: float = 0.1,
    batch_size: int = 256,
    lr: float = 2e-3,
    generator: torch.Generator | None = None,
    device: torch.device | str | None = None,
) -> tuple[models.TextConditionedEpsNet, train.History]:
    """Text-to-image diffusion conditioned on the frozen CLIP text tower (notebook 07, section 1): ε-prediction on
    images in model space, the condition being ``clip.encode_b(text_tokens)`` of each image's caption, zeroed with
    probability ``p_uncond`` for classifier-free guidance. The CLIP model is not trained further."""
    check_images(images)
    if not isinstance(text_tokens, torch.Tensor) or text_tokens.dim() != 2 or text_tokens.shape[0] != images.shape[0]:
        raise ValueError(
            f"text_tokens must be ({images.shape[0]}, L), one caption per image, got {describe(text_tokens)}"
        )
    cond = text_embeddings(clip.cpu().eval(), text_tokens)
    model = models.TextConditionedEpsNet(
        cond.shape[1], image_size=images.shape[-1], hidden=hidden, n_layers=n_layers, p_uncond=p_uncond
    )
    run = _Run(steps, batch_size, lr, generator, device, desc="text-to-image diffusion")
    return _fit_eps("fit_text_to_image", model, images, cond, model.drop_conditions, schedule, run)


@torch.no_grad()
def sample_text_to_image(
    model: models.TextConditionedEpsNet,
    cond: torch.Tensor,
    schedule: sampling.VPSchedule,
    *,
    w: float = 2.0,
    n_steps: int = 200,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """One image per row of ``cond`` (N, D) text embeddings: the reverse SDE with the guided score
    :math:`-\\tilde\\varepsilon/\\sigma_t`, :math:`\\tilde\\varepsilon = (1+w)\\hat\\varepsilon(x,t,e) - w\\hat\\varepsilon(x,t,0)`
    (``sampling.sample_guided_images``). Returns (N, 1, H, W) pixels in [0, 1]."""
    if not isinstance(model, models.TextConditionedEpsNet):
        raise TypeError(f"model must be a models.TextConditionedEpsNet, got {describe(model)}")
    return sampling.sample_guided_images(model, cond, schedule, w=w, n_steps=n_steps, generator=generator)
