"""``recipes.fit_cached`` — a notebook's own ``train.fit``, trained once — and ``checkpoints.fingerprint``, which keys
it by what the loss and the data compute."""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch

from mmobjectives import checkpoints, config, data, models, recipes, train
from mmobjectives.checkpoints import CheckpointWarning, fingerprint


@pytest.fixture(autouse=True)
def cache_in(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The cache on, in a fresh folder (the suite runs with MMO_CACHE=0); the global RNG put back afterwards."""
    monkeypatch.setenv("MMO_CACHE", "1")
    monkeypatch.setenv("MMO_DATA", str(tmp_path))
    state = random.getstate(), np.random.get_state(), torch.get_rng_state()
    yield config.checkpoint_dir()
    random.setstate(state[0])
    np.random.set_state(state[1])
    torch.set_rng_state(state[2])


# -- fingerprint -----------------------------------------------------------------------------------------------------
SCALE = 1.0
GEN = torch.Generator().manual_seed(0)


def _scaled(m, x):
    return SCALE * m(x).square().mean()


def _make(power: float, weight: torch.Tensor):
    def loss(m, x):
        return (weight * m(x)).abs().pow(power).mean()

    return loss


def test_fingerprint_is_stable_for_the_same_computation() -> None:
    w = torch.ones(2)
    assert fingerprint(_make(2.0, w))[0] == fingerprint(_make(2.0, w.clone()))[0]  # a new closure, equal values
    assert fingerprint(lambda m, x: m(x).sum())[0] == fingerprint(lambda m, x: m(x).sum())[0]


def test_fingerprint_changes_with_the_code_every_value_it_reads_and_the_functions_it_calls(monkeypatch) -> None:
    w = torch.ones(2)
    base = fingerprint(_make(2.0, w))[0]
    assert fingerprint(_make(3.0, w))[0] != base, "a closure value"
    assert fingerprint(_make(2.0, torch.tensor([1.0, 1.5])))[0] != base, "a tensor's bytes"
    assert fingerprint(lambda m, x: m(x).mean())[0] != fingerprint(lambda m, x: m(x).sum())[0], "the code"
    assert fingerprint(lambda n=3: n)[0] != fingerprint(lambda n=4: n)[0], "a default argument"
    before = fingerprint(_scaled)[0]
    monkeypatch.setitem(globals(), "SCALE", 2.0)
    assert fingerprint(_scaled)[0] != before, "a global the function reads"
    calls = fingerprint(lambda m, x: _scaled(m, x))[0]
    monkeypatch.setitem(globals(), "SCALE", 3.0)
    assert fingerprint(lambda m, x: _scaled(m, x))[0] != calls, "a global read by a function it calls"
    ring, other = data.ring(), data.ring(radius=5.0)
    assert fingerprint(lambda: ring.sample(8))[0] != fingerprint(lambda: other.sample(8))[0], "an object's tensors"
    net = models.MLP(2, 2, (4,))
    frozen = fingerprint(lambda x: net(x))[0]
    with torch.no_grad():
        next(net.parameters()).add_(1.0)
    assert fingerprint(lambda x: net(x))[0] != frozen, "a module's parameters"


def test_fingerprint_returns_the_generators_it_meets_once_each_and_survives_cycles() -> None:
    other = torch.Generator().manual_seed(1)

    def draw(n, generator=GEN):
        return torch.randn(n, generator=generator) + torch.randn(n, generator=other)

    digest, generators = fingerprint((lambda: draw(3), lambda: torch.randn(2, generator=GEN)))
    assert generators == (GEN, other)
    before = GEN.get_state()
    GEN.manual_seed(5)
    try:
        assert fingerprint((lambda: draw(3), lambda: torch.randn(2, generator=GEN)))[0] == digest, (
            "a generator counts by its place, its state is keyed by the caller"
        )
    finally:
        GEN.set_state(before)
    cycle: list = []
    cycle.append(cycle)
    assert len(fingerprint(cycle)[0]) == 64


# -- fit_cached ------------------------------------------------------------------------------------------------------
RING = data.ring()


class _Counting(models.MLP):
    """An MLP that counts its forward calls in a class attribute (which no key sees)."""

    calls = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        type(self).calls += 1
        return super().forward(x)


def _counting_loss(m, x):
    return m(x).square().mean()


def _run(loss=_counting_loss, steps: int = 20, name: str = "ring net", tensors: bool = False):
    """One notebook cell: the same seeds on entry, a model, fit_cached, then the draws the next cells would make."""
    torch.manual_seed(0)
    g, batches = torch.Generator().manual_seed(0), torch.Generator().manual_seed(1)
    net = _Counting(2, 2, (8,))
    source = RING.sample(64, generator=torch.Generator().manual_seed(2)).float()
    batch = source if tensors else (lambda: RING.sample(32, generator=batches).float())
    history = recipes.fit_cached(name, net, loss, batch, steps=steps, batch_size=16, lr=1e-2, generator=g, device="cpu")
    return {
        "state": {k: v.clone() for k, v in net.state_dict().items()},
        "history": history,
        "training": net.training,
        "draws": (torch.randn(3, generator=g), torch.randn(3, generator=batches), torch.randn(3)),
    }


def _same(a: dict, b: dict) -> None:
    assert all(torch.equal(a["state"][k], b["state"][k]) for k in a["state"])
    assert a["history"].loss == b["history"].loss and a["training"] == b["training"]
    assert all(torch.equal(x, y) for x, y in zip(a["draws"], b["draws"])), "a generator ends elsewhere"


@pytest.mark.parametrize("tensors", [False, True], ids=["callable-data", "tensor-data"])
def test_cold_then_warm_is_the_same_run_without_training(tensors: bool, cache_in: Path, capsys) -> None:
    _Counting.calls = 0
    cold = _run(tensors=tensors)
    assert _Counting.calls == 20 and "loaded from cache" not in capsys.readouterr().out
    warm = _run(tensors=tensors)
    assert _Counting.calls == 20, "the warm run trained"
    assert "ring net: loaded from cache, trained in " in capsys.readouterr().out
    _same(warm, cold)
    assert isinstance(warm["history"], train.History) and warm["training"]
    assert len(list(cache_in.glob("fit_cached-ring_net-*.pt"))) == 1


def test_an_edited_loss_or_setting_trains_again(cache_in: Path, capsys) -> None:
    _run()
    capsys.readouterr()
    for changed in ({"loss": lambda m, x: m(x).abs().mean()}, {"steps": 21}, {"name": "another run"}):
        _run(**changed)
        assert "loaded from cache" not in capsys.readouterr().out, changed
    assert len(list(cache_in.glob("*.pt"))) == 4


def test_a_damaged_file_is_reported_and_retrained(cache_in: Path, capsys) -> None:
    cold = _run()
    (path,) = cache_in.glob("*.pt")
    path.write_bytes(path.read_bytes()[:100])
    with pytest.warns(CheckpointWarning, match="is unreadable.*deleting it and training again"):
        again = _run()
    assert "loaded from cache" not in capsys.readouterr().out
    _same(again, cold)


def test_mmo_cache_0_neither_writes_nor_reads(cache_in: Path, monkeypatch) -> None:
    monkeypatch.setenv("MMO_CACHE", "0")
    _Counting.calls = 0
    _run()
    _run()
    assert _Counting.calls == 40
    assert not (cache_in.exists() and list(cache_in.glob("*.pt")))


def test_bad_inputs_name_the_argument() -> None:
    net = models.MLP(2, 2, (4,))
    x = torch.zeros(4, 2)
    with pytest.raises(TypeError, match="name"):
        recipes.fit_cached("", net, _counting_loss, x, steps=1)
    with pytest.raises(TypeError, match="model"):
        recipes.fit_cached("n", "net", _counting_loss, x, steps=1)
    with pytest.raises(TypeError, match="loss_fn"):
        recipes.fit_cached("n", net, 3, x, steps=1)
    with pytest.raises(TypeError, match="data"):
        recipes.fit_cached("n", net, _counting_loss, [1, 2], steps=1)
    with pytest.raises(ValueError, match="steps"):
        recipes.fit_cached("n", net, _counting_loss, x, steps=-1)
    with pytest.raises(TypeError, match="callback"):
        recipes.fit_cached("n", net, _counting_loss, x, steps=1, callback=print)
    with pytest.raises(TypeError, match="optimizer"):
        recipes.fit_cached("n", net, _counting_loss, x, steps=1, optimizer=torch.optim.SGD(net.parameters(), 0.1))
    with pytest.raises(TypeError, match="train.fit's keyword arguments.*learning_rate"):
        recipes.fit_cached("n", net, _counting_loss, x, steps=1, learning_rate=0.1)
    with pytest.raises(TypeError, match="steps"):
        recipes.fit_cached("n", net, _counting_loss, x)
    assert checkpoints.fingerprint  # the key's half that reads code is public, for the curious


FINGERPRINT_SCRIPT = """
import torch
from mmobjectives import checkpoints, config, data, losses, models, sampling
GEN = config.seed_everything(0)
ring, vp = data.ring(), sampling.VPSchedule("linear")
net = models.ScoreNet(dim=2, hidden=8, n_layers=1, noise_conditional=True)
def score_fn(x, t, net=net):
    return net(x, vp.marginal(t)[1].to(x.dtype))
loss = lambda m, x: losses.noise_conditional_dsm(score_fn, x, vp, generator=GEN) if x.dim() in {1, 2} else None
print(checkpoints.fingerprint((loss, lambda: ring.sample(8, generator=GEN), object()))[0])
"""


def test_fingerprint_is_the_same_in_another_process_with_another_hash_seed() -> None:
    """A restarted kernel must find what the last one stored: no memory addresses, no set order by string hash."""
    import os
    import subprocess
    import sys

    digests = {
        subprocess.run(
            [sys.executable, "-c", FINGERPRINT_SCRIPT],
            env={**os.environ, "PYTHONHASHSEED": seed},
            capture_output=True,
            text=True,
            check=True,
            timeout=120,
        ).stdout.strip()
        for seed in ("1", "2")
    }
    assert len(digests) == 1 and len(digests.pop()) == 64


A_VALUE, B_VALUE = 1.0, 2.0


def _reads_a(x):
    return x * A_VALUE


def _reads_b(x):
    return x * B_VALUE


def test_fingerprint_reads_every_function_of_a_tuple(monkeypatch) -> None:
    """Each function's globals are gathered in a temporary dict. Before a fix, a freed temporary's id, reused by
    the next object, made that object count as already seen, so that a cold-then-warm run missed the cache after
    some other tests had run (Python 3.10); the fingerprint now keeps what it has seen alive."""
    before = fingerprint((_reads_a, _reads_b))[0]
    monkeypatch.setitem(globals(), "B_VALUE", 3.0)
    assert fingerprint((_reads_a, _reads_b))[0] != before
