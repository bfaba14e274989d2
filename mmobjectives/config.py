"""Budgets, devices and seeds: the one module that reads environment variables.

Every notebook starts with the same cell::

    from mmobjectives import config
    DEVICE = config.get_device()
    BUDGET = config.budget()
    GEN = config.seed_everything(0)

and then asks the budget for sizes instead of branching on it::

    n_steps = BUDGET.pick(smoke=50, default=2000, full=20000)

Environment variables (read here and nowhere else):

``MMO_BUDGET``   ``smoke`` (CI, seconds per notebook), ``default`` (a laptop CPU, minutes) or ``full`` (a GPU).
                 Unset: ``full`` when CUDA is available, else ``default``.
``MMO_DEVICE``   ``cpu``, ``cuda``, ``cuda:1``, ``mps``... Unset: cuda, then mps, then cpu.
``MMO_DATA``     the data cache folder (MNIST, and trained models under ``checkpoints/``). Unset: the user cache
                 folder (``~/.cache/mmobjectives``).
``MMO_OFFLINE``  ``1``/``true``: never touch the network.
``MMO_PROGRESS`` ``0``/``false``: hide progress bars (they are always hidden in the smoke budget).
``MMO_CACHE``    ``0``/``false``: never load or save trained models (``recipes`` keeps each one it trains under
                 ``<data folder>/checkpoints/`` and loads it on the next identical call). Unset: on. The test suite
                 runs with it off, so that no test can pass on a stale model.
"""

from __future__ import annotations

import os
import random
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import torch

__all__ = [
    "BUDGET_NAMES",
    "Budget",
    "budget",
    "cache_enabled",
    "checkpoint_dir",
    "data_dir",
    "describe",
    "get_device",
    "offline",
    "progress_enabled",
    "seed_everything",
    "setup_message",
]

BUDGET_NAMES: tuple[str, ...] = ("smoke", "default", "full")
# What a run of one notebook takes on a laptop CPU, per budget (the README's table says the same).
CPU_MINUTES: dict[str, str] = {
    "smoke": "under a minute",
    "default": "up to 3 minutes (measured on a 2-core laptop CPU: benchmarks/README.md)",
    "full": "far longer (it is meant for a GPU)",
}
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}

T = TypeVar("T")


@dataclass(frozen=True)
class Budget:
    """The active compute budget. Immutable; compare by ``.name``.

    ``pick(smoke=..., default=..., full=...)`` returns the value for this budget, so a notebook never writes an
    ``if`` chain on the budget's name. ``full`` falls back to ``default`` when omitted, and ``default`` to ``full``.
    """

    name: str

    def __post_init__(self) -> None:
        if self.name not in BUDGET_NAMES:
            raise ValueError(f"budget name must be one of {BUDGET_NAMES}, got {self.name!r}")

    def pick(self, *, smoke: T, default: T | None = None, full: T | None = None) -> T:
        """The value for the active budget: ``smoke`` in CI, ``default`` on a laptop, ``full`` on a GPU."""
        if default is None and full is None:
            raise ValueError("pick() needs at least one of default= or full= besides smoke=")
        if self.name == "smoke":
            return smoke
        if self.name == "default":
            return default if default is not None else full  # type: ignore[return-value]
        return full if full is not None else default  # type: ignore[return-value]

    @property
    def is_smoke(self) -> bool:
        """True in CI's budget, where loops are tiny and targets are not the teaching ones."""
        return self.name == "smoke"

    def __str__(self) -> str:
        return self.name


def _env(environ: Mapping[str, str] | None) -> Mapping[str, str]:
    return os.environ if environ is None else environ


def _flag(name: str, environ: Mapping[str, str] | None, default: bool) -> bool:
    raw = _env(environ).get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ValueError(f"environment variable {name} must be one of 1/0/true/false/yes/no/on/off, got {raw!r}")


def budget(environ: Mapping[str, str] | None = None) -> Budget:
    """The active budget from ``MMO_BUDGET``; unset → ``full`` with CUDA available, else ``default``."""
    raw = _env(environ).get("MMO_BUDGET")
    if raw is None or raw.strip() == "":
        return Budget("full" if torch.cuda.is_available() else "default")
    name = raw.strip().lower()
    if name not in BUDGET_NAMES:
        raise ValueError(f"environment variable MMO_BUDGET must be one of {BUDGET_NAMES}, got {raw!r}")
    return Budget(name)


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def get_device(environ: Mapping[str, str] | None = None) -> torch.device:
    """The device to train on: ``MMO_DEVICE`` if set, else CUDA, then Apple MPS, then the CPU."""
    raw = _env(environ).get("MMO_DEVICE")
    if raw is not None and raw.strip():
        try:
            device = torch.device(raw.strip())
        except RuntimeError as err:
            raise ValueError(
                f"environment variable MMO_DEVICE must name a torch device such as 'cpu' or 'cuda:0', got {raw!r}"
            ) from err
        if device.type == "cuda" and not torch.cuda.is_available():
            raise ValueError(f"MMO_DEVICE={raw!r} asks for CUDA, but torch.cuda.is_available() is False")
        if device.type == "mps" and not _mps_available():
            raise ValueError(f"MMO_DEVICE={raw!r} asks for MPS, but torch.backends.mps.is_available() is False")
        return device
    if torch.cuda.is_available():
        return torch.device("cuda")
    if _mps_available():
        return torch.device("mps")
    return torch.device("cpu")


def seed_everything(seed: int = 0) -> torch.Generator:
    """Seed Python, NumPy and torch (all devices); return a CPU ``torch.Generator`` seeded with ``seed``.

    Pass the generator to samplers and data functions (``generator=``) to make a cell reproducible on its own.
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"seed must be an int, got {type(seed).__name__}")
    if not 0 <= int(seed) < 2**63:
        raise ValueError(f"seed must be in [0, 2**63), got {seed}")
    seed = int(seed)
    random.seed(seed)
    np.random.seed(seed % 2**32)  # noqa: NPY002 - seeding the legacy global generator is the point
    torch.manual_seed(seed)
    generator = torch.Generator()
    generator.manual_seed(seed)
    return generator


def data_dir(environ: Mapping[str, str] | None = None) -> Path:
    """The data cache folder: ``MMO_DATA``, else ``$XDG_CACHE_HOME/mmobjectives`` or ``~/.cache/mmobjectives``."""
    env = _env(environ)
    raw = env.get("MMO_DATA")
    if raw:
        return Path(raw).expanduser()
    xdg = env.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "mmobjectives"


def checkpoint_dir(environ: Mapping[str, str] | None = None) -> Path:
    """Where trained models are cached: the ``checkpoints`` folder inside :func:`data_dir`."""
    return data_dir(environ) / "checkpoints"


def cache_enabled(environ: Mapping[str, str] | None = None) -> bool:
    """Whether recipes load and save trained models (:func:`checkpoint_dir`): yes unless ``MMO_CACHE=0``."""
    return _flag("MMO_CACHE", environ, default=True)


def offline(environ: Mapping[str, str] | None = None) -> bool:
    """True when ``MMO_OFFLINE`` says never to touch the network."""
    return _flag("MMO_OFFLINE", environ, default=False)


def progress_enabled(environ: Mapping[str, str] | None = None) -> bool:
    """Whether long loops show a progress bar: never in the smoke budget, else unless ``MMO_PROGRESS=0``."""
    if budget(environ).is_smoke:
        return False
    return _flag("MMO_PROGRESS", environ, default=True)


def describe(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """What a notebook's first cell prints: versions, device, budget, data folder and network mode."""
    device = get_device(environ)
    info: dict[str, Any] = {
        "torch": torch.__version__,
        "device": str(device),
        "budget": budget(environ).name,
        "data_dir": str(data_dir(environ)),
        "offline": offline(environ),
    }
    if device.type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(device)
    return info


def setup_message(environ: Mapping[str, str] | None = None) -> str:
    """What a notebook's first cell prints: device and budget, and on a CPU how long the budget takes and how to
    switch it. The budget is only ever read here, so switching means: set ``MMO_BUDGET``, rerun the notebook."""
    info = describe(environ)
    device = info["device"] + (f" ({info['gpu']})" if "gpu" in info else "")
    network = "offline" if info["offline"] else "online"
    lines = [f"device {device} · budget {info['budget']} · torch {info['torch']} · data {info['data_dir']} ({network})"]
    if get_device(environ).type == "cpu":
        times = "; ".join(f"{name!r}: {minutes}" for name, minutes in CPU_MINUTES.items())
        lines.append(f"On a CPU, one notebook takes {CPU_MINUTES[info['budget']]} in this budget ({times}).")
        lines.append(
            "To switch, set MMO_BUDGET=smoke|default|full and run the notebook again from the top: "
            "`MMO_BUDGET=smoke make lab` before starting JupyterLab, or `%env MMO_BUDGET=smoke` in a cell above "
            "this one (Colab)."
        )
    return "\n".join(lines)
