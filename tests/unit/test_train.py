"""Tests for mmobjectives.train: the shared ``fit`` loop, ``History`` and ``minibatches``."""

from __future__ import annotations

import functools
import io
import math
import time

import numpy as np
import pytest
import torch
from torch import nn
from tqdm import std as tqdm_std

from mmobjectives import train as train_module
from mmobjectives.models import MLP
from mmobjectives.train import History, fit, minibatches

W_TRUE = torch.tensor([1.5, -2.0, 0.5])
B_TRUE = 0.3


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _regression_data(n: int = 256, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = _gen(seed)
    x = torch.randn(n, 3, generator=g)
    y = x @ W_TRUE + B_TRUE + 0.01 * torch.randn(n, generator=g)
    return x, y


def _mse(model: nn.Module, batch: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
    x, y = batch
    return ((model(x).squeeze(-1) - y) ** 2).mean()


def _linear(seed: int = 0) -> MLP:
    torch.manual_seed(seed)
    return MLP(3, 1, hidden=())


def _run(**kwargs) -> History:
    kwargs.setdefault("device", "cpu")
    kwargs.setdefault("progress", False)
    return fit(**kwargs)


# -- fit on a linear regression -------------------------------------------------------------------------------------
def test_fit_tensor_data_recovers_linear_regression() -> None:
    x, y = _regression_data()
    model = _linear()
    hist = _run(model=model, loss_fn=_mse, data=(x, y), steps=300, batch_size=64, lr=0.05, generator=_gen(1))
    assert isinstance(hist, History)
    assert hist.steps == 300
    assert hist.final(20) < 1e-2 * hist.loss[0]
    assert hist.final(20) < 5e-3
    linear = model.net[0]
    torch.testing.assert_close(linear.weight.detach().squeeze(0), W_TRUE, rtol=0, atol=0.05)
    assert abs(float(linear.bias.detach()) - B_TRUE) < 0.05


def test_fit_single_tensor_data_yields_tensor_batches() -> None:
    x, y = _regression_data()
    data = torch.cat([x, y[:, None]], dim=1)
    shapes = []

    def loss_fn(model: nn.Module, batch: torch.Tensor) -> torch.Tensor:
        assert isinstance(batch, torch.Tensor)
        shapes.append(tuple(batch.shape))
        return ((model(batch[:, :3]).squeeze(-1) - batch[:, 3]) ** 2).mean()

    hist = _run(model=_linear(), loss_fn=loss_fn, data=data, steps=5, batch_size=32, generator=_gen(0))
    assert hist.steps == 5
    assert shapes == [(32, 4)] * 5


def test_fit_list_of_tensors_is_minibatched() -> None:
    x, y = _regression_data(n=40)
    seen = []

    def loss_fn(model: nn.Module, batch) -> torch.Tensor:
        seen.append(type(batch))
        return _mse(model, batch)

    _run(model=_linear(), loss_fn=loss_fn, data=[x, y], steps=3, batch_size=8, generator=_gen(0))
    assert seen == [tuple] * 3


def test_fit_callable_data_is_called_every_step() -> None:
    g = _gen(2)
    calls = []

    def make_batch() -> tuple[torch.Tensor, torch.Tensor]:
        calls.append(1)
        xb = torch.randn(64, 3, generator=g)
        return xb, xb @ W_TRUE + B_TRUE

    model = _linear()
    hist = _run(model=model, loss_fn=_mse, data=make_batch, steps=250, lr=0.05)
    assert len(calls) == 250
    assert hist.final(20) < 1e-2 * hist.loss[0]
    torch.testing.assert_close(model.net[0].weight.detach().squeeze(0), W_TRUE, rtol=0, atol=0.05)


def test_fit_iterable_data_is_cycled() -> None:
    x, y = _regression_data(n=30)
    batches = [(x[i * 10 : (i + 1) * 10], y[i * 10 : (i + 1) * 10]) for i in range(3)]
    order = []

    def loss_fn(model: nn.Module, batch) -> torch.Tensor:
        order.append(next(i for i, b in enumerate(batches) if torch.equal(b[0], batch[0])))
        return _mse(model, batch)

    hist = _run(model=_linear(), loss_fn=loss_fn, data=batches, steps=7)
    assert hist.steps == 7
    assert order == [0, 1, 2, 0, 1, 2, 0]


def test_fit_custom_iterable_is_cycled() -> None:
    class Batches:
        def __init__(self) -> None:
            self.n_iters = 0

        def __iter__(self):
            self.n_iters += 1
            yield from (torch.full((4, 3), float(i)) for i in range(2))

    data = Batches()
    values = []

    def loss_fn(model: nn.Module, batch: torch.Tensor) -> torch.Tensor:
        values.append(float(batch[0, 0]))
        return model(batch).pow(2).mean()

    _run(model=_linear(), loss_fn=loss_fn, data=data, steps=5)
    assert values == [0.0, 1.0, 0.0, 1.0, 0.0]
    assert data.n_iters == 3


def test_fit_empty_iterable_raises() -> None:
    with pytest.raises(ValueError, match="empty"):
        _run(model=_linear(), loss_fn=_mse, data=[], steps=1)


def test_fit_dict_batches_are_passed_through() -> None:
    x, y = _regression_data(n=16)

    def loss_fn(model: nn.Module, batch: dict) -> torch.Tensor:
        return ((model(batch["x"]).squeeze(-1) - batch["y"]) ** 2).mean()

    hist = _run(model=_linear(), loss_fn=loss_fn, data=lambda: {"x": x, "y": y}, steps=3)
    assert hist.steps == 3


# -- History ----------------------------------------------------------------------------------------------------
def test_history_fields_after_fit() -> None:
    x, y = _regression_data(n=64)
    steps_seen = []
    hist = _run(
        model=_linear(),
        loss_fn=_mse,
        data=(x, y),
        steps=40,
        batch_size=16,
        generator=_gen(0),
        callback=lambda step, loss: steps_seen.append((step, loss)),
    )
    assert hist.steps == 40 == len(hist.loss)
    assert all(isinstance(v, float) and math.isfinite(v) for v in hist.loss)
    assert [s for s, _ in steps_seen] == list(range(40))
    assert [v for _, v in steps_seen] == hist.loss
    assert hist.seconds > 0
    assert hist.steps_per_second == pytest.approx(40 / hist.seconds)
    assert hist.device == "cpu"


def test_history_final_and_smoothed() -> None:
    values = [float(v) for v in np.arange(1, 101)]
    hist = History(loss=values, seconds=2.0)
    assert hist.steps == 100
    assert hist.steps_per_second == 50.0
    assert hist.final() == pytest.approx(np.mean(values[-50:]))
    assert hist.final(10) == pytest.approx(np.mean(values[-10:]))
    assert hist.final(1) == 100.0
    assert hist.final(0) == 100.0  # at least one value
    assert hist.final(1000) == pytest.approx(np.mean(values))
    window = 7
    smoothed = hist.smoothed(window)
    expected = [np.mean(values[max(0, i - window + 1) : i + 1]) for i in range(len(values))]
    np.testing.assert_allclose(smoothed, expected, rtol=1e-12)
    assert hist.smoothed(1) == values
    with pytest.raises(ValueError, match="window"):
        hist.smoothed(0)


def test_history_empty() -> None:
    hist = History()
    assert hist.steps == 0
    assert hist.steps_per_second == 0.0
    assert hist.smoothed() == []
    with pytest.raises(ValueError, match="final"):
        hist.final()


def test_fit_zero_steps() -> None:
    model = _linear()
    before = [p.detach().clone() for p in model.parameters()]
    hist = _run(model=model, loss_fn=_mse, data=_regression_data(n=8), steps=0, scheduler="cosine")
    assert hist.steps == 0 and hist.loss == []
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))


def test_fit_leaves_model_in_train_mode() -> None:
    model = _linear()
    model.eval()
    _run(model=model, loss_fn=_mse, data=_regression_data(n=8), steps=1)
    assert model.training


# -- scheduler, clipping, optimizer ----------------------------------------------------------------------------------
def test_cosine_scheduler_decays_learning_rate_to_zero() -> None:
    model = _linear()
    lr0, steps = 0.1, 10
    optimizer = torch.optim.SGD(model.parameters(), lr=lr0)
    lrs = []
    _run(
        model=model,
        loss_fn=_mse,
        data=_regression_data(n=32),
        steps=steps,
        optimizer=optimizer,
        scheduler="cosine",
        callback=lambda step, loss: lrs.append(optimizer.param_groups[0]["lr"]),
    )
    expected = [lr0 * 0.5 * (1 + math.cos(math.pi * (k + 1) / steps)) for k in range(steps)]
    np.testing.assert_allclose(lrs, expected, rtol=1e-12, atol=1e-15)
    assert lrs[-1] == pytest.approx(0.0, abs=1e-15)


def test_no_scheduler_keeps_learning_rate_constant() -> None:
    model = _linear()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    lrs = []
    _run(
        model=model,
        loss_fn=_mse,
        data=_regression_data(n=32),
        steps=5,
        optimizer=optimizer,
        callback=lambda step, loss: lrs.append(optimizer.param_groups[0]["lr"]),
    )
    assert lrs == [0.01] * 5


def test_default_optimizer_uses_lr() -> None:
    """AdamW's first step moves every parameter by about lr (its update is sign-like)."""
    model = _linear()
    before = torch.cat([p.detach().flatten().clone() for p in model.parameters()])
    _run(model=model, loss_fn=_mse, data=_regression_data(n=32), steps=1, lr=0.01)
    after = torch.cat([p.detach().flatten() for p in model.parameters()])
    torch.testing.assert_close((after - before).abs(), torch.full_like(before, 0.01), rtol=1e-3, atol=1e-6)


def _one_sgd_step_change(grad_clip: float | None) -> float:
    model = _linear()
    before = torch.cat([p.detach().flatten().clone() for p in model.parameters()])
    optimizer = torch.optim.SGD(model.parameters(), lr=1.0)
    x, y = _regression_data(n=32)
    _run(
        model=model,
        loss_fn=lambda m, b: 1e3 * _mse(m, b),
        data=lambda: (x, y),
        steps=1,
        optimizer=optimizer,
        grad_clip=grad_clip,
    )
    after = torch.cat([p.detach().flatten() for p in model.parameters()])
    return float((after - before).norm())


def test_grad_clip_bounds_the_update() -> None:
    assert _one_sgd_step_change(None) > 10.0  # the unclipped gradient is large
    assert _one_sgd_step_change(0.01) == pytest.approx(0.01, rel=1e-4)


@pytest.mark.parametrize("grad_clip", [0.0, -1.0, float("nan")])
def test_grad_clip_must_be_positive(grad_clip: float) -> None:
    with pytest.raises(ValueError, match="grad_clip"):
        _run(model=_linear(), loss_fn=_mse, data=_regression_data(n=8), steps=1, grad_clip=grad_clip)


def test_bad_scheduler() -> None:
    with pytest.raises(ValueError, match="scheduler"):
        _run(model=_linear(), loss_fn=_mse, data=_regression_data(n=8), steps=1, scheduler="linear")


# -- failures ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_non_finite_loss_raises_naming_the_step(bad: float) -> None:
    calls = []

    def loss_fn(model: nn.Module, batch) -> torch.Tensor:
        calls.append(1)
        loss = _mse(model, batch)
        return loss * bad if len(calls) == 4 else loss

    with pytest.raises(FloatingPointError, match="step 3"):
        _run(model=_linear(), loss_fn=loss_fn, data=_regression_data(n=16), steps=10)
    assert len(calls) == 4


def test_non_finite_loss_does_not_update_the_model() -> None:
    model = _linear()
    before = [p.detach().clone() for p in model.parameters()]
    with pytest.raises(FloatingPointError, match="step 0"):
        _run(model=model, loss_fn=lambda m, b: _mse(m, b) * float("nan"), data=_regression_data(n=8), steps=3)
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))


@pytest.mark.parametrize(
    "loss_fn",
    [
        lambda m, b: (m(b[0]).squeeze(-1) - b[1]) ** 2,  # a vector
        lambda m, b: _mse(m, b).detach().item(),  # a float, not a tensor
        lambda m, b: None,
    ],
)
def test_non_scalar_loss_raises_type_error(loss_fn) -> None:
    with pytest.raises(TypeError, match="scalar"):
        _run(model=_linear(), loss_fn=loss_fn, data=_regression_data(n=8), steps=2)


@pytest.mark.parametrize(
    ("kwargs", "exc", "name"),
    [
        ({"steps": -1}, ValueError, "steps"),
        ({"steps": 2.5}, TypeError, "steps"),
        ({"steps": True}, TypeError, "steps"),
        ({"lr": 0.0}, ValueError, "lr"),
        ({"lr": -1e-3}, ValueError, "lr"),
        ({"lr": "0.1"}, TypeError, "lr"),
        ({"data": 5}, TypeError, "data"),
        ({"data": None}, TypeError, "data"),
        ({"model": "model"}, TypeError, "model"),
        ({"model": lambda x: x}, TypeError, "model"),
        ({"loss_fn": 3}, TypeError, "loss_fn"),
        ({"generator": 0}, TypeError, "generator"),
        ({"batch_size": 0}, ValueError, "batch_size"),
    ],
)
def test_fit_rejects_bad_arguments(kwargs: dict, exc: type, name: str) -> None:
    args = {"model": _linear(), "loss_fn": _mse, "data": _regression_data(n=8), "steps": 3}
    args.update(kwargs)
    with pytest.raises(exc, match=name):
        _run(**args)


def test_fit_mismatched_tensor_lengths() -> None:
    x, y = _regression_data(n=16)
    with pytest.raises(ValueError, match="first dimension"):
        _run(model=_linear(), loss_fn=_mse, data=(x, y[:10]), steps=1)


# -- minibatches --------------------------------------------------------------------------------------------------
def test_minibatches_cover_each_epoch_once() -> None:
    n, size = 12, 4
    x = torch.arange(n)
    y = 10 * torch.arange(n)
    it = minibatches((x, y), size, generator=_gen(0))
    epochs = []
    for _ in range(3):
        seen = []
        for _ in range(n // size):
            bx, by = next(it)
            assert bx.shape == (size,)
            assert torch.equal(by, 10 * bx)  # rows stay aligned
            seen.extend(bx.tolist())
        assert sorted(seen) == list(range(n))
        epochs.append(seen)
    assert epochs[0] != epochs[1] or epochs[1] != epochs[2]  # a new permutation per epoch


def test_minibatches_drop_the_remainder_and_cap_batch_size() -> None:
    x = torch.arange(10)
    it = minibatches(x, 4, generator=_gen(1))
    first_epoch = [next(it) for _ in range(2)]
    assert all(isinstance(b, torch.Tensor) and b.shape == (4,) for b in first_epoch)
    assert len(set(torch.cat(first_epoch).tolist())) == 8
    whole = minibatches(x, 100, generator=_gen(1))
    for _ in range(3):
        batch = next(whole)
        assert sorted(batch.tolist()) == list(range(10))


def test_minibatches_reproducible() -> None:
    x = torch.arange(20)
    a = [next(it).tolist() for it in [minibatches(x, 5, generator=_gen(3))] for _ in range(8)]
    b = [next(it).tolist() for it in [minibatches(x, 5, generator=_gen(3))] for _ in range(8)]
    c = [next(it).tolist() for it in [minibatches(x, 5, generator=_gen(4))] for _ in range(8)]
    assert a == b
    assert a != c


def test_minibatches_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="first dimension"):
        next(minibatches((torch.zeros(5), torch.zeros(4)), 2))
    with pytest.raises(ValueError, match="at least one"):
        next(minibatches(torch.zeros(0, 3), 2))
    with pytest.raises(TypeError, match="tensors"):
        next(minibatches([torch.zeros(3), [1, 2, 3]], 2))
    with pytest.raises(TypeError, match="tensors"):
        next(minibatches((), 2))
    with pytest.raises(ValueError, match="batch_size"):
        next(minibatches(torch.zeros(3), 0))
    with pytest.raises(TypeError, match="generator"):
        next(minibatches(torch.zeros(3), 1, generator=1))


# -- determinism and output -------------------------------------------------------------------------------------------
def _seeded_run(data_seed: int) -> list[float]:
    x, y = _regression_data(n=64)
    model = _linear(seed=5)
    hist = _run(model=model, loss_fn=_mse, data=(x, y), steps=30, batch_size=8, lr=0.01, generator=_gen(data_seed))
    return hist.loss


def test_fit_is_deterministic_with_seeds() -> None:
    first, second = _seeded_run(0), _seeded_run(0)
    assert first == second
    assert _seeded_run(1) != first  # the generator does drive the shuffling


def test_progress_false_prints_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    _run(model=_linear(), loss_fn=_mse, data=_regression_data(n=8), steps=25, progress=False)
    captured = capsys.readouterr()
    assert captured.err == ""
    assert captured.out == ""


def test_progress_true_shows_a_bar(capsys: pytest.CaptureFixture[str]) -> None:
    _run(model=_linear(), loss_fn=_mse, data=_regression_data(n=8), steps=5, progress=True, desc="my-run")
    assert "my-run" in capsys.readouterr().err


def test_progress_none_follows_the_budget(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("MMO_BUDGET", "smoke")
    _run(model=_linear(), loss_fn=_mse, data=_regression_data(n=8), steps=5, progress=None, desc="smoke-run")
    assert capsys.readouterr().err == ""
    monkeypatch.setenv("MMO_BUDGET", "default")
    monkeypatch.delenv("MMO_PROGRESS", raising=False)
    _run(model=_linear(), loss_fn=_mse, data=_regression_data(n=8), steps=5, progress=None, desc="default-run")
    assert "default-run" in capsys.readouterr().err


def test_fit_default_device_from_config(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MMO_DEVICE", "cpu")
    hist = fit(_linear(), _mse, _regression_data(n=8), steps=1, progress=False)
    assert hist.device == "cpu"


def test_progress_bar_redraws_a_few_times_a_second_however_fast_the_steps(monkeypatch: pytest.MonkeyPatch) -> None:
    """A redraw is a kernel message in a notebook: a fast loop must not send one per loss update (issue 18)."""
    draws: list[float] = []

    class CountingBar(tqdm_std.tqdm):
        def display(self, *args, **kwargs):
            draws.append(time.perf_counter())
            return super().display(*args, **kwargs)

    monkeypatch.setattr(train_module, "tqdm", functools.partial(CountingBar, file=io.StringIO()))
    started = time.perf_counter()
    hist = _run(model=_linear(), loss_fn=_mse, data=_regression_data(n=64), steps=1000, batch_size=8, progress=True)
    elapsed = time.perf_counter() - started
    assert hist.steps == 1000
    # before: a forced redraw with every set_postfix, 50 of them for 1000 steps, whatever the time they took
    assert len(draws) <= 4 + elapsed / 0.5, f"{len(draws)} redraws in {elapsed:.2f} s"


def test_history_steps_to_threshold() -> None:
    h = History(loss=[5.0, 4.0, 3.0, 2.0, 1.0, 1.0, 1.0])
    assert h.steps_to(2.0, window=1) == 4
    assert h.steps_to(2.0, window=2) == 5  # running means 5, 4.5, 3.5, 2.5, 1.5 ...
    assert h.steps_to(0.5, window=1) is None
    assert History(loss=[0.1]).steps_to(1.0, window=50) == 1  # a window longer than the run uses what ran
    with pytest.raises(ValueError, match="threshold"):
        h.steps_to(float("nan"))
    with pytest.raises(ValueError, match="window"):
        h.steps_to(1.0, window=0)
