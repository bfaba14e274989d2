"""``train.fit`` for a notebook's own models, trained once: a restarted kernel loads what an identical cell trained."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

import torch
from torch import nn

from .. import checkpoints, config, train
from .._checks import check_generator, check_int, describe
from ._train import _cached

__all__ = ["fit_cached"]


def fit_cached(
    name: str,
    model: nn.Module,
    loss_fn: Callable[[nn.Module, object], torch.Tensor],
    data: torch.Tensor | Sequence[torch.Tensor] | Callable[[], object],
    *,
    steps: int,
    batch_size: int = 256,
    lr: float = 1e-3,
    weight_decay: float = 0.0,
    grad_clip: float | None = None,
    scheduler: str | None = None,
    device: torch.device | str | None = None,
    generator: torch.Generator | None = None,
    progress: bool | None = None,
    desc: str | None = None,
) -> train.History:
    """``train.fit(model, loss_fn, data, ...)`` with the same arguments, remembered on disk under ``name``.

    The first call trains and stores the parameters, the loss history and where every random generator ended.
    A later call with the same ``name``, model (class and initial parameters), ``loss_fn``, ``data``, settings,
    generator states, budget, device kind and package loads them instead, prints "loaded from cache, trained in
    N s on DEVICE" and leaves every generator where training did — so the cells after it draw the same numbers
    and a notebook's second run gives the first run's results. ``loss_fn`` and a callable ``data`` are keyed by
    what they compute (``checkpoints.fingerprint``: their code and every value they read, the generators they
    draw from by their state), so editing the loss, or a number it uses, trains again. Like ``train.fit``, the
    model is left on ``device`` in train mode. ``MMO_CACHE=0``: always trains.

    There is no ``callback``: a cached run could not replay what a callback records. Use ``train.fit`` where the
    lesson is the training itself, step by step."""
    if not isinstance(name, str) or not name.strip():
        raise TypeError(f"name must be a non-empty str naming the run, got {describe(name)}")
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {describe(model)}")
    if not callable(loss_fn):
        raise TypeError(f"loss_fn must be callable as loss_fn(model, batch), got {describe(loss_fn)}")
    steps = check_int(steps, "steps", minimum=0)
    check_generator(generator)
    if isinstance(data, torch.Tensor) or (
        isinstance(data, Sequence) and data and all(isinstance(t, torch.Tensor) for t in data)
    ):
        tensors: object = data if isinstance(data, torch.Tensor) else tuple(data)
    elif callable(data):
        tensors = None
    else:
        raise TypeError(
            f"data must be a tensor, a tuple of tensors or a callable returning a batch, got {describe(data)}"
        )
    code, captured = checkpoints.fingerprint((loss_fn, None if tensors is not None else data))
    generators = tuple(dict.fromkeys(([generator] if generator is not None else []) + list(captured)))
    device = torch.device(device) if device is not None else config.get_device()
    desc = name if desc is None else desc
    arguments = {
        "data": tensors,
        "code": code,
        "model": type(model).__qualname__,
        "steps": steps,
        "batch_size": batch_size,
        "lr": lr,
        "weight_decay": weight_decay,
        "grad_clip": grad_clip,
        "scheduler": scheduler,
    }

    def fit() -> train.History:
        return train.fit(
            model,
            loss_fn,
            data,
            steps=steps,
            batch_size=batch_size,
            lr=lr,
            weight_decay=weight_decay,
            grad_clip=grad_clip,
            scheduler=scheduler,
            device=device,
            generator=generator,
            progress=progress,
            desc=desc,
        )

    recipe = "fit_cached-" + re.sub(r"[^A-Za-z0-9_.=-]+", "_", name.strip())[:80]
    history = _cached(recipe, model, arguments, generators, device, desc, fit)
    model.to(device).train()
    return history
