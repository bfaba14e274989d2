"""Tests for mmobjectives.distributed: ``all_gather_with_grad`` and the multi-process ``run_gather_demo``."""

from __future__ import annotations

import pickle
import socket
import time
from datetime import timedelta

import pytest
import torch
import torch.distributed as dist
import torch.nn.functional as F

from mmobjectives.distributed import _gather_worker, all_gather_with_grad, gather_features, run_gather_demo
from mmobjectives.losses import info_nce


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# The timeouts of the multi-process tests are generous on purpose: spawning two processes that import torch can
# take 20 s or more on a loaded 2-core machine, and a shorter timeout turns "rank 1 failed" into "timed out" (a
# flaky test). What the failure tests check is that the parent reports the failure as soon as it arrives, long
# before the timeout.
SPAWN_TIMEOUT = 120.0


# --- without a process group --------------------------------------------------------------------------------------


def test_not_initialised_returns_the_tensor_itself_and_gradients_flow() -> None:
    assert not dist.is_initialized()
    t = torch.randn(4, 3, requires_grad=True)
    out = all_gather_with_grad(t)
    assert out is t
    (2 * out).sum().backward()
    torch.testing.assert_close(t.grad, torch.full((4, 3), 2.0))


def test_gather_features_without_a_group_is_the_identity() -> None:
    a, b = torch.randn(3, 2), torch.randn(3, 2)
    got_a, got_b = gather_features(a, b)
    assert got_a is a and got_b is b


def test_world_size_one_group_returns_the_tensor_unchanged() -> None:
    dist.init_process_group(
        "gloo", init_method=f"tcp://127.0.0.1:{_free_port()}", rank=0, world_size=1, timeout=timedelta(seconds=20)
    )
    try:
        t = torch.randn(5, 2, requires_grad=True)
        assert all_gather_with_grad(t) is t
    finally:
        dist.destroy_process_group()


@pytest.mark.parametrize(
    ("value", "error", "match"),
    [
        ([1.0, 2.0], TypeError, "t must be a torch.Tensor"),
        (torch.tensor(1.0), ValueError, "at least 1 dimension"),
    ],
)
def test_all_gather_with_grad_rejects_bad_input(value, error, match) -> None:
    with pytest.raises(error, match=match):
        all_gather_with_grad(value)


def _clip_loss(z_a: torch.Tensor, z_b: torch.Tensor, temperature: float) -> torch.Tensor:
    """Oracle: S = ẑ_a ẑ_bᵀ/τ; mean_i ½(−log softmax_j S_ij [j=i] − log softmax_j S_ji [j=i])."""
    logits = F.normalize(z_a, dim=1) @ F.normalize(z_b, dim=1).T / temperature
    return 0.5 * (-torch.log_softmax(logits, dim=1).diagonal() - torch.log_softmax(logits, dim=0).diagonal()).mean()


def test_the_demo_loss_is_the_clip_loss_in_float64() -> None:
    g = torch.Generator().manual_seed(1)
    z_a, z_b = torch.randn(6, 4, generator=g, dtype=torch.float64), torch.randn(6, 4, generator=g, dtype=torch.float64)
    got = info_nce(z_a, z_b, 0.2)
    assert got.dtype == torch.float64
    torch.testing.assert_close(got, _clip_loss(z_a, z_b, 0.2), rtol=0, atol=1e-12)


def test_worker_is_picklable_for_spawn_from_a_notebook() -> None:
    assert pickle.loads(pickle.dumps(_gather_worker)) is _gather_worker


# --- argument validation ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"world_size": 0}, ValueError, "world_size must be >= 1, got 0"),
        ({"world_size": 2.0}, TypeError, "world_size must be an int"),
        ({"n_per_rank": 0}, ValueError, "n_per_rank must be >= 1"),
        ({"dim": 0}, ValueError, "dim must be >= 1"),
        ({"temperature": 0.0}, ValueError, "temperature must be > 0"),
        ({"temperature": "hot"}, TypeError, "temperature must be a real number"),
        ({"seed": -1}, ValueError, "seed must be >= 0"),
        ({"timeout": -5}, ValueError, "timeout must be > 0"),
        ({"_fail_rank": 2}, ValueError, "_fail_rank must be None or a rank"),
        ({"_fail": "crash"}, ValueError, "_fail must be 'raise' or 'shape'"),
    ],
)
def test_run_gather_demo_validates_arguments(kwargs, error, match) -> None:
    with pytest.raises(error, match=match):
        run_gather_demo(**kwargs)


# --- real processes (gloo on localhost) ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("world_size", "n_per_rank"), [(2, 8), (3, 4)]
)  # 2 ranks as the issue asks; 3: a middle shard too
def test_gathered_loss_and_grads_match_the_single_process_full_batch(world_size: int, n_per_rank: int) -> None:
    out = run_gather_demo(
        world_size=world_size, n_per_rank=n_per_rank, dim=8, temperature=0.1, seed=3, timeout=SPAWN_TIMEOUT
    )
    assert out["world_size"] == world_size and out["batch_size"] == world_size * n_per_rank
    assert len(out["gathered_losses"]) == world_size
    for loss in out["gathered_losses"]:
        assert loss == pytest.approx(out["single_loss"], abs=1e-6)
    assert out["max_loss_diff"] < 1e-6
    assert out["max_grad_diff"] < 1e-6  # shard grad / W == single-process grad of the same rows
    assert out["seconds"] > 0


def test_a_failing_rank_surfaces_as_runtime_error_naming_it_long_before_the_timeout() -> None:
    start = time.perf_counter()
    with pytest.raises(RuntimeError, match=r"rank 1 of 2 failed(.|\n)*asked to fail"):
        run_gather_demo(world_size=2, n_per_rank=2, dim=4, timeout=SPAWN_TIMEOUT, _fail_rank=1, _fail="raise")
    assert time.perf_counter() - start < SPAWN_TIMEOUT / 2


def test_mismatched_shard_shapes_raise_a_clear_error_in_the_parent() -> None:
    start = time.perf_counter()
    with pytest.raises(RuntimeError, match=r"same shape and dtype(.|\n)*\(1, 4\)"):
        run_gather_demo(world_size=2, n_per_rank=2, dim=4, timeout=SPAWN_TIMEOUT, _fail_rank=0, _fail="shape")
    assert time.perf_counter() - start < SPAWN_TIMEOUT / 2
