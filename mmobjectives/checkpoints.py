"""Trained models kept on disk, so that a restarted kernel loads what an identical call already trained.

The cache is content-addressed: :func:`checkpoint_key` hashes the recipe's name and every argument that changes
its result (the data tensors' bytes, steps, sizes, learning rate, the random generators' states at entry, the
budget, the device kind) together with the package's version and source code, so a key names exactly one
training run. A :class:`Checkpoint` holds what that run produced: the model's ``state_dict``, the loss history,
how long it took and where, and the random generators' states after training — so that loading it leaves every
generator exactly where training would have, and the cells after it draw the same numbers.

Files live in ``config.checkpoint_dir()`` (``<data folder>/checkpoints/``), are written atomically (a temporary
file in the same folder, then ``os.replace``) and read with ``torch.load(..., weights_only=True)``. A file that
cannot be read, or that does not fit the model it is meant for, is reported (a :class:`CheckpointWarning`),
deleted and ignored, never half-used. ``MMO_CACHE=0`` turns the cache off. ``recipes`` is its one user.
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
import tempfile
import types
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

import mmobjectives

from . import config
from ._checks import describe

__all__ = [
    "Checkpoint",
    "CheckpointWarning",
    "checkpoint_key",
    "checkpoint_path",
    "fingerprint",
    "load",
    "rng_states",
    "save",
]

FORMAT = 1
_FIELDS = {"format", "recipe", "key", "state", "loss", "seconds", "device", "rng"}


class CheckpointWarning(UserWarning):
    """A cached model was unreadable or did not fit: it was deleted, and the model is trained again."""


@functools.cache
def _source_fingerprint() -> str:
    """A hash of the package's source files: a changed loss or model invalidates what the old code trained."""
    digest = hashlib.sha256()
    root = Path(__file__).resolve().parent
    for path in sorted(root.rglob("*.py")):
        digest.update(path.relative_to(root).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def _feed(digest: hashlib._Hash, value: object) -> None:
    """Feed one argument into ``digest``, unambiguously (type tags and lengths before contents)."""
    if isinstance(value, torch.Generator):
        value = value.get_state()
    if isinstance(value, torch.Tensor):
        tensor = value.detach().cpu().contiguous()
        digest.update(f"tensor{tensor.dtype}{tuple(tensor.shape)}:".encode())
        digest.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes() if tensor.numel() else b"")
    elif isinstance(value, Mapping):
        digest.update(f"map{len(value)}:".encode())
        for name in sorted(value, key=str):
            _feed(digest, str(name))
            _feed(digest, value[name])
    elif isinstance(value, (list, tuple)):
        digest.update(f"seq{len(value)}:".encode())
        for item in value:
            _feed(digest, item)
    elif value is None or isinstance(value, (bool, int, float, str, np.integer, np.floating, torch.device)):
        text = f"{type(value).__name__}:{value!r}"
        digest.update(f"{len(text)}:{text}".encode())
    else:
        raise TypeError(f"checkpoint_key cannot hash {describe(value)}: pass tensors, numbers, strings or sequences")


def checkpoint_key(recipe: str, **arguments: object) -> str:
    """The cache key of one training run: a SHA-256 (hex) of ``recipe``, each keyword argument (tensors by their
    dtype, shape and bytes; a ``torch.Generator`` by its state; numbers, strings, None, and lists, tuples and dicts
    of them), ``mmobjectives.__version__`` and the package's source. Equal keys mean identical runs."""
    if not isinstance(recipe, str) or not recipe:
        raise TypeError(f"recipe must be a non-empty str, got {describe(recipe)}")
    digest = hashlib.sha256()
    _feed(digest, {"recipe": recipe, "version": mmobjectives.__version__, "source": _source_fingerprint()})
    _feed(digest, arguments)
    return digest.hexdigest()


_MAX_DEPTH = 6  # how far fingerprint follows references (functions → their globals → their attributes ...)


def fingerprint(value: object) -> tuple[str, tuple[torch.Generator, ...]]:
    """A hash of what ``value`` computes, and the random generators it draws from, for keying a notebook's own
    training run (``recipes.fit_cached``): a function by its bytecode, constants, default arguments, closure and
    the globals it names — followed into the functions, objects, tensors and numbers they hold (a module by its
    name: the package's own code is in every key already); a tensor by its bytes; an object by its type and
    attributes. A ``torch.Generator`` is not hashed but returned, in the order first met, so that the caller can
    key its state at entry and restore its state after training. References deeper than a few levels count by
    their type only."""
    digest = hashlib.sha256()
    generators: list[torch.Generator] = []
    _fingerprint(digest, value, generators, depth=0, seen={})
    return digest.hexdigest(), tuple(generators)


def _code_names(code: types.CodeType) -> set[str]:
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= _code_names(const)
    return names


def _feed_code(digest: hashlib._Hash, code: types.CodeType) -> None:
    digest.update(b"code:" + code.co_code)
    _feed(digest, list(code.co_names))
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            _feed_code(digest, const)
        elif isinstance(const, frozenset):  # its repr's order depends on the process's string-hash seed
            _feed(digest, sorted(map(repr, const)))
        else:
            _feed(digest, repr(const))


def _fingerprint(
    digest: hashlib._Hash, value: object, generators: list[torch.Generator], depth: int, seen: dict[int, object]
) -> None:
    if isinstance(value, torch.Generator):
        index = next((i for i, g in enumerate(generators) if g is value), None)
        if index is None:
            generators.append(value)
            index = len(generators) - 1
        _feed(digest, f"generator#{index}")
        return
    if value is None or isinstance(value, (bool, int, float, str, np.integer, np.floating, torch.device)):
        _feed(digest, value)
        return
    if isinstance(value, torch.Tensor):
        _feed(digest, value)
        return
    if isinstance(value, np.ndarray) and value.dtype != object:
        _feed(digest, torch.from_numpy(np.ascontiguousarray(value)))
        return
    if isinstance(value, types.ModuleType):
        _feed(digest, f"module:{value.__name__}")
        return
    if isinstance(value, (type, types.BuiltinFunctionType)) or callable(value) and not hasattr(value, "__dict__"):
        _feed(digest, f"{type(value).__name__}:{getattr(value, '__module__', '')}.{getattr(value, '__qualname__', '')}")
        return
    if id(value) in seen or depth > _MAX_DEPTH:
        _feed(digest, f"ref:{type(value).__qualname__}")
        return
    seen[id(value)] = value  # kept alive: a freed temporary's id could be reused by the next object
    deeper = functools.partial(_fingerprint, digest, generators=generators, depth=depth + 1, seen=seen)
    if isinstance(value, (list, tuple, set, frozenset)):
        items = sorted(value, key=repr) if isinstance(value, (set, frozenset)) else value
        _feed(digest, f"{type(value).__name__}{len(items)}")
        for item in items:
            deeper(item)
    elif isinstance(value, Mapping):
        _feed(digest, f"map{len(value)}")
        for name in sorted(value, key=str):
            _feed(digest, str(name))
            deeper(value[name])
    elif isinstance(value, types.MethodType):
        _feed(digest, "method")
        deeper(value.__func__)
        deeper(value.__self__)
    elif isinstance(value, functools.partial):
        _feed(digest, "partial")
        deeper(value.func)
        deeper(value.args)
        deeper(value.keywords)
    elif isinstance(value, types.FunctionType):
        _feed_code(digest, value.__code__)
        deeper(value.__defaults__)
        deeper(value.__kwdefaults__)
        deeper([cell.cell_contents for cell in value.__closure__ or () if _cell_is_set(cell)])
        names = sorted(name for name in _code_names(value.__code__) if name in value.__globals__)
        deeper({name: value.__globals__[name] for name in names})
    elif isinstance(value, nn.Module):
        _feed(digest, f"module-object:{type(value).__qualname__}")
        _feed(digest, dict(value.state_dict()))
    else:
        _feed(digest, f"object:{type(value).__module__}.{type(value).__qualname__}")
        attributes = getattr(value, "__dict__", None)
        if attributes is None and hasattr(value, "__slots__"):
            attributes = {name: getattr(value, name) for name in value.__slots__ if hasattr(value, name)}
        if attributes is not None:
            deeper(dict(attributes))
        else:  # without the memory address a default repr carries, which differs from one process to the next
            _feed(digest, re.sub(r" at 0x[0-9a-fA-F]+", "", repr(value)))


def _cell_is_set(cell: types.CellType) -> bool:
    try:
        cell.cell_contents  # noqa: B018 - an empty cell raises ValueError
    except ValueError:
        return False
    return True


def checkpoint_path(recipe: str, key: str) -> Path:
    """Where the run ``key`` of ``recipe`` is stored: ``config.checkpoint_dir() / "<recipe>-<key>.pt"``."""
    return config.checkpoint_dir() / f"{recipe}-{key[:32]}.pt"


def rng_states(generators: Sequence[torch.Generator], device: torch.device) -> dict[str, torch.Tensor | None]:
    """The states of every random generator a training run draws from: ``generators`` (minibatch order, noise,
    a notebook's own generator; the first is stored as ``"generator"``, any others as ``"generator_1"``...),
    torch's global CPU generator (parameter initialisation, dropout on the CPU) and, on CUDA, the device's."""
    states: dict[str, torch.Tensor | None] = {"generator": generators[0].get_state() if generators else None}
    states.update({f"generator_{i}": g.get_state() for i, g in enumerate(generators[1:], start=1)})
    states["rng"] = torch.get_rng_state()
    states["cuda_rng"] = torch.cuda.get_rng_state(device) if device.type == "cuda" else None
    return states


@dataclass
class Checkpoint:
    """What one training run produced: the trained parameters, the loss at every step, its duration and device,
    and the random generators' states after it (:func:`rng_states`)."""

    state: dict[str, torch.Tensor]
    loss: list[float]
    seconds: float
    device: str
    rng: dict[str, torch.Tensor | None]

    def restore(self, model: nn.Module, generators: Sequence[torch.Generator]) -> None:
        """Load the parameters into ``model`` and put the generators (as passed to :func:`rng_states`) where
        training left them."""
        model.load_state_dict(self.state)
        for index, generator in enumerate(generators):
            generator.set_state(self.rng["generator" if index == 0 else f"generator_{index}"])
        torch.set_rng_state(self.rng["rng"])
        if self.rng.get("cuda_rng") is not None:
            torch.cuda.set_rng_state(self.rng["cuda_rng"], self.device)


def save(recipe: str, key: str, checkpoint: Checkpoint) -> Path | None:
    """Write ``checkpoint`` for ``key`` atomically; return its path (None when the cache is off, or when the folder
    cannot be written, which is warned about and otherwise harmless)."""
    if not config.cache_enabled():
        return None
    path = checkpoint_path(recipe, key)
    record = {
        "format": FORMAT,
        "recipe": recipe,
        "key": key,
        "state": {name: t.detach().cpu().clone() for name, t in checkpoint.state.items()},
        "loss": torch.tensor(checkpoint.loss, dtype=torch.float64),
        "seconds": float(checkpoint.seconds),
        "device": str(checkpoint.device),
        "rng": checkpoint.rng,
    }
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as err:
        warnings.warn(f"cannot cache the trained model in {path.parent} ({err}); it is not saved", CheckpointWarning, 2)
        return None
    try:
        with os.fdopen(fd, "wb") as file:
            torch.save(record, file)
            file.flush()
            os.fsync(file.fileno())
        os.replace(tmp, path)
    except OSError as err:
        Path(tmp).unlink(missing_ok=True)
        warnings.warn(f"cannot cache the trained model as {path} ({err}); it is not saved", CheckpointWarning, 2)
        return None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _shape_of(value: object) -> tuple[int, ...] | None:
    return tuple(value.shape) if isinstance(value, torch.Tensor) else None


def _problem(
    record: object, key: str, model: nn.Module, steps: int, rng: Mapping[str, torch.Tensor | None]
) -> str | None:
    """Why ``record`` cannot serve as the run ``key`` of ``model``, or None when every part fits."""
    if not isinstance(record, dict) or not _FIELDS <= record.keys():
        return f"lacks fields {sorted(_FIELDS - set(record))}" if isinstance(record, dict) else "is not a record"
    if record["format"] != FORMAT or record["key"] != key:
        return "belongs to another run (its key or format differs)"
    state, expected = record["state"], model.state_dict()
    if not isinstance(state, dict) or state.keys() != expected.keys():
        return "does not hold this model's parameters (their names differ)"
    for name, tensor in expected.items():
        if _shape_of(state[name]) != tuple(tensor.shape) or state[name].dtype != tensor.dtype:
            return f"holds {name} as {describe(state[name])}, the model has {describe(tensor)}"
    loss = record["loss"]
    if _shape_of(loss) != (steps,) or loss.dtype != torch.float64:
        return f"holds a loss history of {describe(loss)}, expected {steps} float64 values"
    if not isinstance(record["seconds"], float) or not isinstance(record["device"], str):
        return "holds no training time or device"
    stored = record["rng"]
    if not isinstance(stored, dict) or stored.keys() != rng.keys():
        return "holds no generator states"
    for name, now in rng.items():
        if _shape_of(stored[name]) != _shape_of(now) or (now is not None and stored[name].dtype != now.dtype):
            return f"holds the {name} state as {describe(stored[name])}, expected {describe(now)}"
    return None


def load(
    recipe: str, key: str, model: nn.Module, *, steps: int, rng: Mapping[str, torch.Tensor | None]
) -> Checkpoint | None:
    """The stored run ``key`` of ``recipe``, checked against ``model`` (the same parameter names, shapes and dtypes),
    ``steps`` (that many losses) and ``rng`` (:func:`rng_states` at entry: the same generators); None when the cache
    is off or holds no such run. An unreadable or mismatched file is reported (:class:`CheckpointWarning`) and
    deleted, and None is returned: the caller trains again. Nothing is loaded into ``model`` here
    (:meth:`Checkpoint.restore` does that)."""
    if not config.cache_enabled():
        return None
    path = checkpoint_path(recipe, key)
    if not path.is_file():
        return None
    try:
        record = torch.load(path, map_location="cpu", weights_only=True)
        problem = _problem(record, key, model, steps, rng)
    except Exception as err:  # noqa: BLE001 - any failure to read means: not usable
        problem = f"is unreadable ({type(err).__name__}: {str(err).splitlines()[0] if str(err) else 'no detail'})"
    if problem is not None:
        warnings.warn(f"cached model {path} {problem}: deleting it and training again", CheckpointWarning, stacklevel=3)
        path.unlink(missing_ok=True)
        return None
    return Checkpoint(
        state=record["state"],
        loss=record["loss"].tolist(),
        seconds=record["seconds"],
        device=record["device"],
        rng=record["rng"],
    )
