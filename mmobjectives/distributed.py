"""Negatives across processes: ``all_gather_with_grad`` and a two-process demo (notebook 01, section 5).

A contrastive loss gets better with more negatives, and with data parallelism each process holds only its shard of
the batch. CLIP's fix: every process all-gathers the embeddings of every other process, so each one computes the
loss over the *full* batch of N = W·n pairs (W processes, n pairs each). ``dist.all_gather`` alone cuts the
autograd graph; ``all_gather_with_grad`` is the version that lets gradients flow back to each local shard.

``run_gather_demo`` checks it on your CPU: W gloo processes, each with its shard, reproduce the single-process
full-batch loss and gradients. Nothing here reads environment variables: the rendezvous is an explicit
``tcp://127.0.0.1:<port>``, never ``env://``.
"""

from __future__ import annotations

import os
import queue as queue_module
import socket
import time
import traceback
from datetime import timedelta
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from ._checks import check_int, check_positive, describe
from .losses import info_nce

__all__ = ["all_gather_with_grad", "gather_features", "run_gather_demo"]


class _AllGatherWithGrad(torch.autograd.Function):
    """forward: concatenate every rank's shard; backward: sum the full gradient over ranks, keep this rank's rows."""

    @staticmethod
    def forward(ctx: Any, t: torch.Tensor) -> torch.Tensor:
        world_size, rank = dist.get_world_size(), dist.get_rank()
        shards = [torch.empty_like(t) for _ in range(world_size)]
        dist.all_gather(shards, t.contiguous())
        ctx.rank, ctx.n = rank, t.shape[0]
        return torch.cat(shards, dim=0)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> torch.Tensor:
        grad = grad.contiguous().clone()
        dist.all_reduce(grad, op=dist.ReduceOp.SUM)
        return grad[ctx.rank * ctx.n : (ctx.rank + 1) * ctx.n]


def all_gather_with_grad(t: torch.Tensor) -> torch.Tensor:
    """Concatenate ``t`` from every process along dim 0, with gradients flowing back to each local shard.

    Every rank gets the same ``(W·n, ...)`` tensor ``[z_0; z_1; ...; z_{W-1}]`` (rank order). Every shard must have
    the same shape and dtype; a mismatch raises ``ValueError`` on every rank, listing the shapes.

    Gradient convention: the backward all-reduces (sums) the gradient of the gathered tensor over ranks and returns
    rank r's rows. When every rank computes the same full-batch loss L on the gathered features, the W identical
    contributions add up, so rank r's shard receives

        W · ∂L/∂z_r        (not ∂L/∂z_r).

    DistributedDataParallel averages parameter gradients over ranks (divides by W), which restores exactly
    ∂L/∂θ of the single-process full batch. Without DDP, divide by W yourself (``run_gather_demo`` does).

    With world size 1, or when ``torch.distributed`` is not initialised, ``t`` itself is returned unchanged.
    """
    if not isinstance(t, torch.Tensor):
        raise TypeError(f"t must be a torch.Tensor, got {describe(t)}")
    if t.dim() < 1:
        raise ValueError(
            f"t must have at least 1 dimension (rows are gathered along dim 0), got shape {tuple(t.shape)}"
        )
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return t
    layouts: list[Any] = [None] * dist.get_world_size()
    dist.all_gather_object(layouts, (tuple(t.shape), str(t.dtype)))
    if any(layout != layouts[0] for layout in layouts):
        listing = ", ".join(f"rank {r}: {shape} {dtype}" for r, (shape, dtype) in enumerate(layouts))
        raise ValueError(
            f"all_gather_with_grad needs every rank's shard to have the same shape and dtype, got {listing}"
        )
    return _AllGatherWithGrad.apply(t)


def gather_features(z_a: torch.Tensor, z_b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``all_gather_with_grad`` on both modalities: the full-batch ``(z_a, z_b)`` for a contrastive loss."""
    return all_gather_with_grad(z_a), all_gather_with_grad(z_b)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _gather_worker(
    rank: int,
    world_size: int,
    port: int,
    shard_a: np.ndarray,
    shard_b: np.ndarray,
    temperature: float,
    timeout: float,
    results: Any,
    fail: str | None = None,
) -> None:
    """One process of ``run_gather_demo`` (module-level so a notebook can spawn it): put its loss and shard grads.

    ``fail`` is for tests only: ``"raise"`` raises before the rendezvous, ``"shape"`` drops one row of the shard,
    ``"exit"`` kills the process right after the rendezvous (no traceback, no message: a crash), ``"hang"`` stalls
    it there (a stuck rank). The process group's ``timeout`` bounds how long the other ranks then wait.
    """
    torch.set_num_threads(1)
    initialised = False
    try:
        if fail == "raise":
            raise RuntimeError(f"rank {rank} was asked to fail (test)")
        dist.init_process_group(
            "gloo",
            init_method=f"tcp://127.0.0.1:{port}",
            rank=rank,
            world_size=world_size,
            timeout=timedelta(seconds=timeout),
        )
        initialised = True
        if fail == "exit":
            os._exit(3)
        if fail == "hang":
            time.sleep(10 * timeout + 60)
        z_a = torch.from_numpy(shard_a[:-1] if fail == "shape" else shard_a).requires_grad_(True)
        z_b = torch.from_numpy(shard_b).requires_grad_(True)
        full_a, full_b = gather_features(z_a, z_b)
        loss = info_nce(full_a, full_b, temperature)
        loss.backward()
        results.put(("ok", rank, float(loss.detach()), z_a.grad.numpy(), z_b.grad.numpy()))
    except BaseException:  # everything goes back to the parent, which raises RuntimeError
        results.put(("error", rank, traceback.format_exc()))
    finally:
        if initialised:
            dist.destroy_process_group()


def run_gather_demo(
    world_size: int = 2,
    n_per_rank: int = 8,
    dim: int = 16,
    temperature: float = 0.1,
    seed: int = 0,
    timeout: float = 60.0,
    *,
    _fail_rank: int | None = None,
    _fail: str = "raise",
) -> dict[str, Any]:
    """Check ``all_gather_with_grad`` with ``world_size`` CPU processes against one process on the full batch.

    A full batch of N = world_size·n_per_rank float64 pairs ``(z_a, z_b)`` is drawn from ``seed``. One process
    computes the CLIP loss L = ``losses.info_nce(z_a, z_b, temperature)`` (rows L2-normalised) and ∂L/∂z_a,
    ∂L/∂z_b. Then ``world_size`` spawned gloo processes each hold rows ``[r·n, (r+1)·n)``, all-gather both
    modalities, compute L on the gathered batch and backpropagate. Each rank's loss should equal the single-process
    L, and its shard gradient divided by world_size should equal the single-process gradient of the same rows (see
    ``all_gather_with_grad`` for why W appears). Notebook 01, section 5 ("negatives across processes").

    Returns a dict: ``single_loss``, ``gathered_losses`` (one per rank), ``max_loss_diff``, ``max_grad_diff``,
    ``world_size``, ``batch_size`` (N) and ``seconds``. ``timeout`` bounds the whole run (spawning, rendezvous,
    collectives): a rank that fails or hangs stops every process and raises ``RuntimeError`` with its traceback.
    """
    world_size = check_int(world_size, "world_size", minimum=1)
    n_per_rank = check_int(n_per_rank, "n_per_rank", minimum=1)
    dim = check_int(dim, "dim", minimum=1)
    temperature = check_positive(temperature, "temperature")
    seed = check_int(seed, "seed", minimum=0)
    timeout = check_positive(timeout, "timeout")
    if _fail_rank is not None and not 0 <= _fail_rank < world_size:
        raise ValueError(f"_fail_rank must be None or a rank in [0, {world_size}), got {_fail_rank!r}")
    if _fail not in ("raise", "shape", "exit", "hang"):
        raise ValueError(f"_fail must be 'raise' or 'shape', 'exit' or 'hang' (tests only), got {_fail!r}")

    start = time.perf_counter()
    gen = torch.Generator().manual_seed(seed)
    n = world_size * n_per_rank
    z_a = torch.randn(n, dim, generator=gen, dtype=torch.float64)
    z_b = z_a + 0.5 * torch.randn(n, dim, generator=gen, dtype=torch.float64)
    z_a.requires_grad_(True)
    z_b.requires_grad_(True)
    single = info_nce(z_a, z_b, temperature)
    grad_a, grad_b = torch.autograd.grad(single, (z_a, z_b))

    ctx = mp.get_context("spawn")
    results = ctx.Queue()
    port = _free_port()
    procs = []
    for rank in range(world_size):
        rows = slice(rank * n_per_rank, (rank + 1) * n_per_rank)
        args = (rank, world_size, port, z_a.detach()[rows].numpy().copy(), z_b.detach()[rows].numpy().copy())
        fail = _fail if rank == _fail_rank else None
        procs.append(ctx.Process(target=_gather_worker, args=(*args, temperature, timeout, results, fail), daemon=True))
    outputs: dict[int, tuple[float, np.ndarray, np.ndarray]] = {}
    try:
        for proc in procs:
            proc.start()
        deadline = start + timeout
        while len(outputs) < world_size:
            try:
                message = results.get(timeout=0.1)
            except queue_module.Empty:
                dead = [r for r, p in enumerate(procs) if not p.is_alive() and r not in outputs]
                if dead and results.empty():
                    time.sleep(0.5)  # a message may still be in flight from a rank that just exited
                    if results.empty():
                        code = procs[dead[0]].exitcode
                        raise RuntimeError(f"rank {dead[0]} exited with code {code} without a result") from None
                if time.perf_counter() > deadline:
                    missing = sorted(set(range(world_size)) - set(outputs))
                    raise RuntimeError(
                        f"run_gather_demo timed out after {timeout} s; ranks {missing} did not finish"
                    ) from None
                continue
            if message[0] == "error":
                raise RuntimeError(f"rank {message[1]} of {world_size} failed:\n{message[2]}")
            outputs[message[1]] = message[2:]
    finally:
        for proc in procs:
            if proc.is_alive() and proc.pid is not None:
                proc.terminate()
        for proc in procs:
            if proc.pid is not None:
                proc.join(timeout=5)
                if proc.is_alive():
                    proc.kill()
                    proc.join(timeout=5)
        results.close()

    losses, single_loss = [outputs[r][0] for r in range(world_size)], float(single.detach())
    max_grad_diff = 0.0
    for rank in range(world_size):
        rows = slice(rank * n_per_rank, (rank + 1) * n_per_rank)
        for got, want in ((outputs[rank][1], grad_a[rows]), (outputs[rank][2], grad_b[rows])):
            diff = (torch.from_numpy(got) / world_size - want).abs().max()
            max_grad_diff = max(max_grad_diff, float(diff))
    return {
        "single_loss": single_loss,
        "gathered_losses": losses,
        "max_loss_diff": max(abs(loss - single_loss) for loss in losses),
        "max_grad_diff": max_grad_diff,
        "world_size": world_size,
        "batch_size": n,
        "seconds": time.perf_counter() - start,
    }
