"""The one training call behind every recipe, with the checkpoint cache in front of it (``checkpoints``)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TypeVar

import torch
from torch import nn

from .. import checkpoints, config, data, train
from .._checks import check_generator, describe

M = TypeVar("M", bound=nn.Module)


@dataclass(frozen=True)
class _Run:
    """How a recipe trains: the knobs every recipe takes from its caller, the progress bar's label, and the
    recipe's other settings that change the result without changing the parameters' shapes (``p_uncond``...)."""

    steps: int
    batch_size: int
    lr: float
    generator: torch.Generator | None
    device: torch.device | str | None
    desc: str
    settings: Mapping[str, object] = field(default_factory=dict)


def _check_pairs(pairs: object) -> data.PairedDigits:
    if not isinstance(pairs, data.PairedDigits):
        raise TypeError(f"pairs must be a data.PairedDigits (from data.paired_digits), got {describe(pairs)}")
    return pairs


def _check_batch(batch: object, names: tuple[str, ...]) -> tuple[torch.Tensor, ...]:
    """A training loss's ``batch``: a tuple or list of ``len(names)`` tensors; a TypeError naming the layout."""
    layout = "(" + ", ".join(names) + ")"
    if not isinstance(batch, (tuple, list)) or len(batch) != len(names):
        raise TypeError(f"batch must be a tuple {layout} of {len(names)} tensors, got {describe(batch)}")
    for name, value in zip(names, batch):
        if not isinstance(value, torch.Tensor):
            raise TypeError(f"batch must be a tuple {layout} of tensors; its {name} is {describe(value)}")
    return tuple(batch)


def _train(
    recipe: str,
    model: M,
    loss_fn: Callable[[nn.Module, tuple[torch.Tensor, ...]], torch.Tensor],
    tensors: tuple[torch.Tensor, ...],
    run: _Run,
) -> tuple[M, train.History]:
    """``train.fit`` with AdamW and cosine decay on minibatches of ``tensors``, or — when an identical call
    already ran (``checkpoints.checkpoint_key``: same data, knobs, settings, initial parameters and generator
    states, budget, device kind, package) — its stored result, announced by one printed line. Either way the
    generators end where training leaves them. Returns the model in eval mode on the CPU and its history."""
    check_generator(run.generator)
    device = torch.device(run.device) if run.device is not None else config.get_device()
    arguments = {
        "data": tensors,
        "steps": run.steps,
        "batch_size": run.batch_size,
        "lr": run.lr,
        "settings": dict(run.settings),
    }
    generators = () if run.generator is None else (run.generator,)
    history = _cached(
        recipe, model, arguments, generators, device, run.desc, lambda: _fit(model, loss_fn, tensors, run, device)
    )
    return model.cpu().eval(), history


def _cached(
    recipe: str,
    model: nn.Module,
    arguments: dict[str, object],
    generators: tuple[torch.Generator, ...],
    device: torch.device,
    desc: str,
    fit: Callable[[], train.History],
) -> train.History:
    """``fit()`` once: its result is stored under a key of ``recipe``, ``arguments``, the model's initial
    parameters, the states of ``generators`` and torch's global generators at entry, the budget and the device
    kind; an identical call later loads the parameters into ``model``, puts every generator where training left
    it, prints one line and returns the stored history. With ``MMO_CACHE=0``: ``fit()``, nothing stored."""
    if not config.cache_enabled():
        return fit()
    steps = arguments["steps"]
    rng = checkpoints.rng_states(generators, device)
    key = checkpoints.checkpoint_key(
        recipe, initial=model.state_dict(), budget=config.budget().name, device=device.type, **arguments, **rng
    )
    stored = checkpoints.load(recipe, key, model, steps=steps, rng=rng)
    if stored is not None:
        stored.restore(model, generators)
        print(f"{desc}: loaded from cache, trained in {stored.seconds:.1f} s on {stored.device}")
        return train.History(loss=stored.loss, seconds=stored.seconds, device=stored.device)
    history = fit()
    after = checkpoints.rng_states(generators, device)
    checkpoints.save(
        recipe, key, checkpoints.Checkpoint(model.state_dict(), history.loss, history.seconds, history.device, after)
    )
    return history


def _fit(
    model: M,
    loss_fn: Callable[[nn.Module, tuple[torch.Tensor, ...]], torch.Tensor],
    tensors: tuple[torch.Tensor, ...],
    run: _Run,
    device: torch.device,
) -> train.History:
    return train.fit(
        model,
        loss_fn,
        tensors,
        steps=run.steps,
        batch_size=run.batch_size,
        lr=run.lr,
        scheduler="cosine",
        generator=run.generator,
        device=device,
        desc=run.desc,
    )
