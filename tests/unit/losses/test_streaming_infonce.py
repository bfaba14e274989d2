"""Streaming InfoNCE (``info_nce(..., chunk_size=B)``): the dense loss and gradients, in O(N·B) memory.

The reference is the dense path (the N×N logit matrix and autograd through ``log_softmax``), itself tested against
``F.cross_entropy`` in tests/unit/losses/test_contrastive.py; the custom backward is also checked by ``torch.autograd.gradcheck``.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest
import torch

from mmobjectives import losses

CASES = [
    # n, d, chunk, symmetric, normalize
    (1, 3, 1, True, True),
    (7, 5, 3, True, True),
    (64, 16, 64, True, True),  # one chunk
    (300, 16, 64, False, True),  # chunks that do not divide N, rows only
    (300, 16, 1000, True, True),  # chunk larger than N
    (257, 8, 17, True, False),  # unnormalised features
    (1000, 64, 128, True, True),
]


def _loss_and_grads(a, b, tau, weights, **kwargs):
    a = a.detach().clone().requires_grad_(True)
    b = b.detach().clone().requires_grad_(True)
    learn = isinstance(tau, torch.Tensor)
    if learn:
        tau = tau.detach().clone().requires_grad_(True)
    per_pair = losses.info_nce(a, b, tau, reduction="none", **kwargs)
    (per_pair * weights).sum().backward()
    return per_pair.detach(), a.grad, b.grad, tau.grad if learn else None


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["float32", "float64"])
@pytest.mark.parametrize(("n", "d", "chunk", "symmetric", "normalize"), CASES)
def test_streamed_loss_and_gradients_equal_the_dense_ones(n, d, chunk, symmetric, normalize, dtype) -> None:
    g = torch.Generator().manual_seed(n + d)
    a = torch.randn(n, d, generator=g, dtype=torch.float64)
    b = a + 0.5 * torch.randn(n, d, generator=g, dtype=torch.float64)
    weights = torch.rand(n, generator=g, dtype=torch.float64)  # any upstream gradient, not only the mean's
    if not normalize:
        a, b = a / d**0.5, b / d**0.5
    tau = torch.tensor(0.07, dtype=torch.float64)  # learnable: its gradient is compared too
    options = {"symmetric": symmetric, "normalize": normalize}
    truth = _loss_and_grads(a, b, tau, weights, **options)  # dense, float64
    a, b, tau, weights = (t.to(dtype) for t in (a, b, tau, weights))
    dense = _loss_and_grads(a, b, tau, weights, **options)
    streamed = _loss_and_grads(a, b, tau, weights, chunk_size=chunk, **options)
    # 1e-5 absolute for values of order one (normalised features: every case with normalize), relative beyond
    tol = 1e-5 if dtype == torch.float32 else 1e-10
    for name, x, y in zip(("loss", "grad z_a", "grad z_b"), dense, streamed, strict=False):
        err = float((x - y).abs().max())
        assert err <= tol * max(1.0, float(x.abs().max())), f"{name}: streamed differs from dense by {err:.2e}"
    # dL/dtau sums N^2 terms S_ij/tau (here up to ~1e3 in size): in float32 both paths carry their own rounding of
    # that sum, so the streamed value must be as close to the float64 truth as the dense one is (or within 1e-6)
    err_dense, err_streamed = (float((x[3].double() - truth[3]).abs()) for x in (dense, streamed))
    assert err_streamed <= 2 * err_dense + 1e-6 * float(truth[3].abs()), (
        f"grad tau: streamed is {err_streamed:.2e} from the float64 value, dense {err_dense:.2e}"
    )


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_streamed_reductions_and_a_float_temperature_match_dense(reduction: str) -> None:
    g = torch.Generator().manual_seed(1)
    a, b = torch.randn(50, 4, generator=g), torch.randn(50, 4, generator=g)
    dense = losses.info_nce(a, b, 0.2, reduction=reduction)
    streamed = losses.info_nce(a, b, 0.2, reduction=reduction, chunk_size=8)
    assert streamed.shape == dense.shape
    torch.testing.assert_close(streamed, dense, rtol=1e-6, atol=1e-6)


def test_custom_backward_passes_gradcheck_in_float64() -> None:
    g = torch.Generator().manual_seed(2)
    a = torch.randn(9, 3, generator=g, dtype=torch.float64, requires_grad=True)
    b = torch.randn(9, 3, generator=g, dtype=torch.float64, requires_grad=True)
    tau = torch.tensor(0.5, dtype=torch.float64, requires_grad=True)
    for symmetric in (True, False):

        def f(a, b, tau, symmetric=symmetric):
            return losses.info_nce(a, b, tau, symmetric=symmetric, reduction="none", chunk_size=4)

        assert torch.autograd.gradcheck(f, (a, b, tau))


def test_streamed_loss_stays_finite_at_a_tiny_temperature() -> None:
    g = torch.Generator().manual_seed(3)
    a, b = torch.randn(40, 8, generator=g), torch.randn(40, 8, generator=g)
    a.requires_grad_(True)
    dense = losses.info_nce(a, b, 1e-3)
    streamed = losses.info_nce(a, b, 1e-3, chunk_size=7)
    streamed.backward()
    assert torch.isfinite(streamed) and torch.isfinite(a.grad).all()
    torch.testing.assert_close(streamed, dense, rtol=1e-6, atol=1e-4)


@pytest.mark.parametrize(
    ("chunk_size", "error"), [(0, ValueError), (-3, ValueError), (2.5, TypeError), (True, TypeError)]
)
def test_a_bad_chunk_size_is_named(chunk_size, error) -> None:
    a = torch.randn(4, 2)
    with pytest.raises(error, match="chunk_size"):
        losses.info_nce(a, a, chunk_size=chunk_size)


def test_streamed_memory_is_a_few_blocks_not_the_n_by_n_matrix() -> None:
    """N = 8192: one N×N float32 matrix is 256 MiB (dense forward+backward holds several); B = 256 blocks are 8 MiB.

    Run in a fresh process and read its peak resident memory before and after one forward+backward.
    """
    script = textwrap.dedent(
        """
        import json, resource, torch
        from mmobjectives import losses
        torch.set_num_threads(2)
        n, d, chunk = 8192, 32, 256
        g = torch.Generator().manual_seed(0)
        a = torch.randn(n, d, generator=g, requires_grad=True)
        b = torch.randn(n, d, generator=g, requires_grad=True)
        losses.info_nce(a[:512], b[:512], chunk_size=chunk).backward()  # warm-up: allocator, thread pools
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        losses.info_nce(a, b, chunk_size=chunk).backward()
        after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        print(json.dumps({"extra_mib": (after - before) / 1024}))
        """
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300, check=True)
    extra = json.loads(out.stdout.strip().splitlines()[-1])["extra_mib"]
    matrix_mib = 8192 * 8192 * 4 / 2**20
    assert extra < 64, f"streaming used {extra:.0f} MiB extra at N = 8192 (one N×N matrix: {matrix_mib:.0f} MiB)"
