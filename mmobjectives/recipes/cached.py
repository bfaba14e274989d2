"""``train.fit`` for a notebook's own models, trained once: a restarted kernel loads what an identical cell trained."""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import nn

from .. import checkpoints, config, train
from .._checks import check_generator, describe
from ._train import _cached

__all__ = ["fit_cached"]

# train.fit's arguments that do not change what is trained (the device's kind is keyed separately, the generator
# by its state), and those a cached run cannot honour
_NOT_KEYED = {"model", "loss_fn", "data", "device", "generator", "progress", "desc"}
_REFUSED = {
    "callback": "a cached run cannot replay what a callback records; use train.fit where the steps are the lesson",
    "optimizer": "an optimiser object cannot be keyed; fit_cached trains with train.fit's AdamW (lr, weight_decay)",
}


def fit_cached(
    name: str,
    model: nn.Module,
    loss_fn: Callable[[nn.Module, Any], torch.Tensor],
    data: torch.Tensor | Sequence[torch.Tensor] | Callable[[], Any],
    **options: Any,
) -> train.History:
    """``train.fit(model, loss_fn, data, **options)`` — the same keyword arguments (``steps``, ``batch_size``,
    ``lr``, ``scheduler``, ``device``, ``generator``...) — remembered on disk under ``name``.

    The first call trains and stores the parameters, the loss history and where every random generator ended.
    A later call with the same ``name``, model (class and initial parameters), ``loss_fn``, ``data``, options,
    generator states, budget, device kind and package loads them instead, prints "loaded from cache, trained in
    N s on DEVICE" and leaves every generator where training did — so the cells after it draw the same numbers
    and a notebook's second run gives the first run's results. ``loss_fn`` and a callable ``data`` are keyed by
    what they compute (``checkpoints.fingerprint``: their code and every value they read, the generators they
    draw from by their state), so editing the loss, or a number it uses, trains again. Like ``train.fit``, the
    model is left on the device in train mode. ``MMO_CACHE=0``: always trains.

    ``callback`` and ``optimizer`` are refused: a cached run could not replay what a callback records, nor key an
    optimiser object. Use ``train.fit`` where the lesson is the training itself, step by step."""
    if not isinstance(name, str) or not name.strip():
        raise TypeError(f"name must be a non-empty str naming the run, got {describe(name)}")
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {describe(model)}")
    if not callable(loss_fn):
        raise TypeError(f"loss_fn must be callable as loss_fn(model, batch), got {describe(loss_fn)}")
    for option, why in _REFUSED.items():
        if option in options:
            raise TypeError(f"fit_cached does not take {option}: {why}")
    try:
        bound = inspect.signature(train.fit).bind(model, loss_fn, data, **options)
    except TypeError as err:
        raise TypeError(f"fit_cached takes train.fit's keyword arguments: {err}") from None
    bound.apply_defaults()
    check_generator(options.get("generator"))
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
    explicit = [options["generator"]] if options.get("generator") is not None else []
    generators = tuple(dict.fromkeys(explicit + list(captured)))
    device = torch.device(options["device"]) if options.get("device") is not None else config.get_device()
    desc = options.get("desc", name)
    keyed = {k: v for k, v in bound.arguments.items() if k not in _NOT_KEYED | set(_REFUSED)}
    arguments = {"data": tensors, "code": code, "model": type(model).__qualname__, **keyed}

    def fit() -> train.History:
        return train.fit(model, loss_fn, data, **(options | {"device": device, "desc": desc}))

    recipe = "fit_cached-" + re.sub(r"[^A-Za-z0-9_.=-]+", "_", name.strip())[:80]
    history = _cached(recipe, model, arguments, generators, device, desc, fit)
    model.to(device).train()
    return history
