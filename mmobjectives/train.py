"""One small training loop, shared by every notebook: ``fit``.

A loss function is a plain callable ``loss_fn(model, batch) -> scalar tensor``, so the same loop trains a critic
with InfoNCE (notebook 01), a classifier with cross-entropy (02), a score model with DSM (03, 04) and a tiny GPT
(05). ``fit`` moves batches to the device, steps the optimiser, shows a ``tqdm`` progress bar (hidden in the smoke
budget) and returns the loss history.
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn
from tqdm.auto import tqdm

from . import config
from ._checks import check_generator, check_int, check_positive, describe

__all__ = ["History", "fit", "minibatches"]

Batch = Any
_REDRAW_SECONDS = 0.5  # the progress bar's least interval between redraws


@dataclass
class History:
    """What ``fit`` returns: the loss at every step, and how long it took."""

    loss: list[float] = field(default_factory=list)
    seconds: float = 0.0
    device: str = "cpu"

    @property
    def steps(self) -> int:
        """How many optimiser steps were taken."""
        return len(self.loss)

    @property
    def steps_per_second(self) -> float:
        """Training speed (0 when nothing ran)."""
        return self.steps / self.seconds if self.seconds > 0 else 0.0

    def final(self, last: int = 50) -> float:
        """The mean loss over the last ``last`` steps: a less noisy 'final loss' than the last value."""
        if not self.loss:
            raise ValueError("final() needs a history with at least one step, got an empty one")
        tail = self.loss[-max(1, int(last)) :]
        return sum(tail) / len(tail)

    def smoothed(self, window: int = 25) -> list[float]:
        """A running mean over ``window`` steps, for plotting noisy minibatch losses."""
        window = check_int(window, "window", minimum=1)
        out, total = [], 0.0
        for i, value in enumerate(self.loss):
            total += value
            if i >= window:
                total -= self.loss[i - window]
            out.append(total / min(i + 1, window))
        return out

    def steps_to(self, threshold: float, window: int = 50) -> int | None:
        """The first step (1-based) at which the running mean over ``window`` steps is <= ``threshold``; None if
        training never got there. "Steps to reach the target" in notebook 06's cost table."""
        threshold = float(threshold)
        if math.isnan(threshold):
            raise ValueError("threshold must be a number, got nan")
        window = check_int(window, "window", minimum=1)
        for i, value in enumerate(self.smoothed(window)):
            if i + 1 >= min(window, self.steps) and value <= threshold:
                return i + 1
        return None


def _to_device(batch: Batch, device: torch.device) -> Batch:
    if isinstance(batch, torch.Tensor):
        return batch.to(device, non_blocking=True)
    if isinstance(batch, (tuple, list)):
        return type(batch)(_to_device(b, device) for b in batch)
    if isinstance(batch, dict):
        return {k: _to_device(v, device) for k, v in batch.items()}
    return batch


def minibatches(
    tensors: torch.Tensor | Sequence[torch.Tensor],
    batch_size: int,
    *,
    generator: torch.Generator | None = None,
) -> Iterator[Batch]:
    """Endless shuffled minibatches over tensors that share their first dimension (a new permutation per epoch).

    A single tensor yields tensors; a tuple of tensors yields tuples. When ``batch_size`` exceeds the data size,
    each batch is the whole (shuffled) data set.
    """
    single = isinstance(tensors, torch.Tensor)
    items = (tensors,) if single else tuple(tensors)
    if not items or not all(isinstance(t, torch.Tensor) for t in items):
        raise TypeError(f"tensors must be a tensor or a sequence of tensors, got {describe(tensors)}")
    n = items[0].shape[0]
    if n == 0:
        raise ValueError("tensors must hold at least one example, got an empty first dimension")
    for i, t in enumerate(items):
        if t.shape[0] != n:
            raise ValueError(
                f"tensors must share their first dimension; tensor 0 has {n} rows, tensor {i} has {t.shape[0]}"
            )
    batch_size = check_int(batch_size, "batch_size", minimum=1)
    check_generator(generator)
    return _endless_batches(items, single, min(batch_size, n), generator)


def _endless_batches(
    items: tuple[torch.Tensor, ...], single: bool, size: int, generator: torch.Generator | None
) -> Iterator[Batch]:
    n = items[0].shape[0]
    while True:
        order = torch.randperm(n, generator=generator)
        for start in range(0, n - size + 1, size):
            idx = order[start : start + size]
            picked = tuple(t[idx.to(t.device)] for t in items)
            yield picked[0] if single else picked


def fit(
    model: nn.Module,
    loss_fn: Callable[[nn.Module, Batch], torch.Tensor],
    data: Iterable[Batch] | Callable[[], Batch] | torch.Tensor | Sequence[torch.Tensor],
    *,
    steps: int,
    batch_size: int = 256,
    lr: float = 1e-3,
    optimizer: torch.optim.Optimizer | None = None,
    weight_decay: float = 0.0,
    grad_clip: float | None = None,
    scheduler: str | None = None,
    device: torch.device | str | None = None,
    generator: torch.Generator | None = None,
    progress: bool | None = None,
    desc: str = "training",
    callback: Callable[[int, float], None] | None = None,
) -> History:
    """Train ``model`` for ``steps`` optimiser steps on ``loss_fn(model, batch)`` and return the loss history.

    Args:
        model: the module to train; it is moved to ``device`` and left in train mode.
        loss_fn: ``loss_fn(model, batch) -> scalar tensor``; the batch is already on ``device``.
        data: where batches come from — a tensor or tuple of tensors (shuffled minibatches of ``batch_size``),
            a callable returning a fresh batch each step (e.g. ``lambda: mixture.sample(512, generator=g)``),
            or any iterable of batches (cycled when it runs out).
        steps: number of optimiser steps (>= 0).
        lr, weight_decay: for the default optimiser, AdamW.
        optimizer: use this optimiser instead of creating AdamW.
        grad_clip: clip the global gradient norm to this value when given.
        scheduler: ``None`` (constant learning rate) or ``"cosine"`` (cosine decay to 0 over ``steps``).
        device: defaults to ``config.get_device()``.
        generator: shuffles tensor data reproducibly.
        progress: show a tqdm bar; ``None`` asks ``config.progress_enabled()`` (hidden in the smoke budget).
        desc: the progress bar's label.
        callback: called as ``callback(step, loss)`` after every step.

    A non-finite loss stops training with a ``FloatingPointError`` naming the step, instead of silently training
    on NaN.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {describe(model)}")
    if not callable(loss_fn):
        raise TypeError(f"loss_fn must be callable as loss_fn(model, batch), got {describe(loss_fn)}")
    steps = check_int(steps, "steps", minimum=0)
    lr = check_positive(lr, "lr")
    if grad_clip is not None:
        grad_clip = check_positive(grad_clip, "grad_clip")
    if scheduler not in (None, "cosine"):
        raise ValueError(f"scheduler must be None or 'cosine', got {scheduler!r}")
    device = torch.device(device) if device is not None else config.get_device()
    show = config.progress_enabled() if progress is None else bool(progress)

    if isinstance(data, torch.Tensor) or (
        isinstance(data, (tuple, list)) and data and all(isinstance(t, torch.Tensor) for t in data)
    ):
        next_batch: Callable[[], Batch] = functools.partial(next, minibatches(data, batch_size, generator=generator))
    elif callable(data):
        next_batch = data
    elif isinstance(data, Iterable):
        state = {"it": iter(data)}

        def next_batch() -> Batch:
            try:
                return next(state["it"])
            except StopIteration:
                state["it"] = iter(data)
                try:
                    return next(state["it"])
                except StopIteration:
                    raise ValueError("data is an empty iterable: it yielded no batch") from None

    else:
        raise TypeError(
            "data must be a tensor, a tuple of tensors, a callable returning a batch, or an iterable of batches, "
            f"got {describe(data)}"
        )

    model.to(device)
    model.train()
    if optimizer is None:
        optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    lr_schedule = (
        torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: 0.5 * (1 + math.cos(math.pi * min(s, steps) / steps)))
        if scheduler == "cosine" and steps > 0
        else None
    )

    history = History(device=str(device))
    start = time.perf_counter()
    # at most two redraws a second: a notebook's progress widget is a kernel message per redraw, and thousands of
    # them crowd out the kernel's own (nbval then misses its idle message)
    bar = tqdm(range(steps), desc=desc, disable=not show, leave=False, mininterval=_REDRAW_SECONDS)
    for step in bar:
        batch = _to_device(next_batch(), device)
        loss = loss_fn(model, batch)
        if not isinstance(loss, torch.Tensor) or loss.dim() != 0:
            raise TypeError(f"loss_fn must return a scalar tensor, got {describe(loss)}")
        value = float(loss.detach())
        if not math.isfinite(value):
            raise FloatingPointError(
                f"the loss became {value} at step {step}; lower lr (now {lr}), set grad_clip, or check the data"
            )
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if grad_clip is not None:
            nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
        optimizer.step()
        if lr_schedule is not None:
            lr_schedule.step()
        history.loss.append(value)
        if callback is not None:
            callback(step, value)
        if show and step % 20 == 0:
            bar.set_postfix(loss=f"{value:.4f}", refresh=False)  # shown at the next redraw, which mininterval paces
    bar.close()
    history.seconds = time.perf_counter() - start
    return history
