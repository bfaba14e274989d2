r"""Contrastive objectives: InfoNCE / the CLIP loss, and SigLIP's pairwise sigmoid loss. Notebook 01.

A batch of :math:`N` true pairs :math:`(x_i, y_i)` is embedded as :math:`a_i = f(x_i)`, :math:`b_i = g(y_i)`.
With temperature :math:`\tau` the logits are :math:`S_{ij} = \langle a_i, b_j\rangle/\tau`, and the InfoNCE loss
of pair :math:`i` is a cross-entropy over the :math:`N` candidates of the batch, the right one on the diagonal:

.. math::
    \ell_i^{a\to b} = -\log \frac{e^{S_{ii}}}{\sum_j e^{S_{ij}}}, \qquad
    \ell_i^{b\to a} = -\log \frac{e^{S_{ii}}}{\sum_j e^{S_{ji}}}, \qquad
    \ell_i = \tfrac12\big(\ell_i^{a\to b} + \ell_i^{b\to a}\big) \text{ (symmetric, CLIP)}.

Both directions are computed with log-sum-exp (``torch.log_softmax``), so the loss and its gradient stay finite at
:math:`\tau = 10^{-3}` where a naive :math:`\log\sum\exp` overflows.

**Streaming** (``info_nce(..., chunk_size=B)``): the same loss and gradients without ever holding the N×N logit
matrix. The forward pass visits B rows of logits at a time, keeping each row's log-sum-exp and a running
log-sum-exp per column; the backward pass recomputes each block. With :math:`g^r_i, g^c_i` the upstream
gradients of the row and column terms of pair :math:`i`, the gradient of the loss with respect to one logit is

.. math::
    \frac{\partial\mathcal L}{\partial S_{ij}} = g^r_i\,(P^{\text{row}}_{ij} - \delta_{ij}) + g^c_j\,(P^{\text{col}}_{ij} - \delta_{ij}),
    \qquad P^{\text{row}}_{ij} = e^{S_{ij} - \operatorname{lse}_k S_{ik}},\quad
    P^{\text{col}}_{ij} = e^{S_{ij} - \operatorname{lse}_k S_{kj}},

and :math:`\partial\mathcal L/\partial a_i = \sum_j \frac{\partial\mathcal L}{\partial S_{ij}}\, b_j/\tau`,
:math:`\partial\mathcal L/\partial b_j = \sum_i \frac{\partial\mathcal L}{\partial S_{ij}}\, a_i/\tau`,
:math:`\partial\mathcal L/\partial\tau = -\sum_{ij}\frac{\partial\mathcal L}{\partial S_{ij}}\, S_{ij}/\tau`.
Extra memory: a few B×N blocks, O(N·B) instead of O(N²).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .._checks import (
    check_finite,
    check_int,
    check_positive,
    check_real,
    check_reduction,
    check_same_device,
    describe,
    reduce,
)
from ._common import upcast_half

__all__ = ["info_nce", "info_nce_logits", "sigmoid_contrastive"]


def _check_features(z: torch.Tensor, name: str) -> torch.Tensor:
    if not isinstance(z, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor of shape (N, D), got {describe(z)}")
    if not z.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor (embeddings), got {describe(z)}")
    if z.dim() != 2:
        raise ValueError(f"{name} must be 2-D (N, D): one embedding per row, got shape {tuple(z.shape)}")
    if z.shape[0] < 1 or z.shape[1] < 1:
        raise ValueError(f"{name} must hold at least one pair (N >= 1) of dimension D >= 1, got shape {tuple(z.shape)}")
    return check_finite(z, name)


def _check_flags(**flags: object) -> None:
    for name, flag in flags.items():
        if not isinstance(flag, bool):
            raise TypeError(f"{name} must be a bool, got {describe(flag)}")


def _check_pairs(
    z_a: torch.Tensor, z_b: torch.Tensor, temperature: float | torch.Tensor, reduction: str, **flags: object
) -> float | torch.Tensor:
    """Validate N pairs of embeddings (two finite (N, D) floating tensors of one shape, on one device), the
    temperature, ``reduction`` and the bool ``flags``; return τ (a float, or a 0-dim tensor that keeps a
    learnable temperature's gradient)."""
    _check_features(z_a, "z_a")
    _check_features(z_b, "z_b")
    if z_a.shape != z_b.shape:
        raise ValueError(
            f"z_a and z_b must have the same shape (N pairs of D-dim embeddings), got {tuple(z_a.shape)} and "
            f"{tuple(z_b.shape)}"
        )
    check_same_device(z_b, "z_b", z_a, "z_a")
    check_reduction(reduction)
    _check_flags(**flags)
    check_positive(temperature, "temperature")  # a float, or a one-element tensor
    return temperature.reshape(()) if isinstance(temperature, torch.Tensor) else float(temperature)


def _check_square_logits(logits: torch.Tensor, reduction: str, symmetric: object) -> None:
    if not isinstance(logits, torch.Tensor) or not logits.is_floating_point():
        raise TypeError(f"logits must be a floating-point tensor of shape (N, N), got {describe(logits)}")
    if logits.dim() != 2 or logits.shape[0] != logits.shape[1] or logits.shape[0] < 1:
        raise ValueError(f"logits must be a square (N, N) matrix with N >= 1, got shape {tuple(logits.shape)}")
    check_finite(logits, "logits")
    check_reduction(reduction)
    _check_flags(symmetric=symmetric)


def info_nce_logits(logits: torch.Tensor, *, symmetric: bool = True, reduction: str = "mean") -> torch.Tensor:
    r"""InfoNCE from an (N, N) logit matrix whose positives are on the diagonal.

    Row loss :math:`\ell_i = -\log\operatorname{softmax}_j(S_{i\cdot})_i`; with ``symmetric`` the per-pair loss is
    :math:`\tfrac12(\ell_i^{\text{row}} + \ell_i^{\text{col}})`. ``reduction``: ``"mean"`` (scalar), ``"sum"`` or
    ``"none"`` ((N,) per pair). Identical to ``F.cross_entropy(logits, arange(N))`` (averaged with the transposed
    matrix when symmetric). Notebook 01, section 1; a learned critic's scores go here in section 2.
    """
    _check_square_logits(logits, reduction, symmetric)
    (S,) = upcast_half(logits)
    row = -torch.log_softmax(S, dim=1).diagonal()  # ℓ_i^{a→b} = −log e^{S_ii} / Σ_j e^{S_ij}
    if not symmetric:
        return reduce(row, reduction)
    col = -torch.log_softmax(S, dim=0).diagonal()  # ℓ_i^{b→a} = −log e^{S_ii} / Σ_j e^{S_ji}
    return reduce(0.5 * (row + col), reduction)  # ℓ_i = ½(ℓ_i^{a→b} + ℓ_i^{b→a})


class _StreamingInfoNCE(torch.autograd.Function):
    """Per-pair InfoNCE terms from embeddings, B rows of logits at a time (see the module docstring).

    Each log-sum-exp is kept as a pair (m, r): the maximum and the log of the sum of exp(S_ij - m), so that
    exp(S_ij - lse) is computed as exp((S_ij - m) - r), as ``log_softmax`` does, and never loses the low bits of a large
    log-sum-exp rounded to float32.
    """

    @staticmethod
    def forward(ctx, a, b, tau, chunk_size, symmetric):  # noqa: ANN001 - autograd.Function signature
        n = a.shape[0]
        inv_tau = 1.0 / tau
        row_max, row_log = torch.empty(n, dtype=a.dtype, device=a.device), torch.empty_like(a[:, 0])
        col_max = torch.full((n,), -torch.inf, dtype=a.dtype, device=a.device)
        col_log = torch.zeros(n, dtype=a.dtype, device=a.device)
        for start in range(0, n, chunk_size):
            stop = min(start + chunk_size, n)
            block = torch.mm(a[start:stop], b.T).mul_(inv_tau)  # S_ij for i in the block, every j
            m = block.amax(dim=1)
            row_max[start:stop] = m
            row_log[start:stop] = torch.sub(block, m[:, None]).exp_().sum(dim=1).log_()
            if symmetric:  # merge this block's column log-sum-exps into the running ones
                m_block = block.amax(dim=0)
                log_block = block.sub_(m_block[None, :]).exp_().sum(dim=0).log_()
                new_max = torch.maximum(col_max, m_block)
                col_log = torch.logaddexp(col_max - new_max + col_log, m_block - new_max + log_block)
                col_max = new_max
        diag = (a * b).sum(dim=1).mul_(inv_tau)  # S_ii
        ctx.save_for_backward(a, b, tau, row_max, row_log, col_max, col_log)
        ctx.chunk_size, ctx.symmetric = chunk_size, symmetric
        row = (row_max - diag) + row_log
        if not symmetric:
            return row
        return 0.5 * (row + ((col_max - diag) + col_log))

    @staticmethod
    def backward(ctx, grad):  # noqa: ANN001 - autograd.Function signature
        a, b, tau, row_max, row_log, col_max, col_log = ctx.saved_tensors
        chunk_size, symmetric = ctx.chunk_size, ctx.symmetric
        g_row = 0.5 * grad if symmetric else grad
        g_col = 0.5 * grad if symmetric else None
        g_diag = g_row + g_col if symmetric else g_row  # the -delta_ij terms: pair i's own logit S_ii
        inv_tau = 1.0 / tau
        grad_a = torch.empty_like(a)
        grad_b = torch.zeros_like(b)
        want_tau = ctx.needs_input_grad[2]
        tau_sum = torch.zeros((), dtype=a.dtype, device=a.device)
        for start in range(0, a.shape[0], chunk_size):
            stop = min(start + chunk_size, a.shape[0])
            rows = slice(start, stop)
            block = torch.mm(a[rows], b.T).mul_(inv_tau)
            # dL/dS_ij = g_row_i (P_row_ij - delta_ij) + g_col_j (P_col_ij - delta_ij), for the block's rows
            d_block = torch.sub(block, row_max[rows, None]).sub_(row_log[rows, None]).exp_().mul_(g_row[rows, None])
            if symmetric:
                d_block.add_(torch.sub(block, col_max[None, :]).sub_(col_log[None, :]).exp_().mul_(g_col[None, :]))
            d_block[:, rows].diagonal().sub_(g_diag[rows])
            if want_tau:
                tau_sum += (d_block * block).sum()
            grad_a[rows] = torch.mm(d_block, b)
            grad_b.addmm_(d_block.T, a[rows])
        grad_tau = -tau_sum * inv_tau if want_tau else None
        return grad_a.mul_(inv_tau), grad_b.mul_(inv_tau), grad_tau, None, None


def info_nce(
    z_a: torch.Tensor,
    z_b: torch.Tensor,
    temperature: float | torch.Tensor = 0.07,
    *,
    symmetric: bool = True,
    normalize: bool = True,
    reduction: str = "mean",
    chunk_size: int | None = None,
) -> torch.Tensor:
    r"""The InfoNCE / CLIP loss of N pairs of embeddings (row i of ``z_a`` matches row i of ``z_b``).

    .. math::
        S_{ij} = \frac{\langle a_i, b_j\rangle}{\tau},\qquad
        \ell_i = -\log\frac{e^{S_{ii}}}{\sum_j e^{S_{ij}}}\ \ (\text{averaged with } -\log\tfrac{e^{S_{ii}}}{\sum_j e^{S_{ji}}}
        \text{ when symmetric})

    Args:
        z_a, z_b: (N, D) embeddings; with ``normalize`` rows are L2-normalised first (cosine similarity).
        temperature: :math:`\tau > 0`, a float or a 0-dim tensor (learnable, as in :class:`~mmobjectives.models.DualEncoder`).
        symmetric: average the a→b and b→a directions (CLIP). Without it, only a→b (rows).
        normalize: L2-normalise rows of ``z_a`` and ``z_b``.
        reduction: ``"mean"`` (scalar), ``"sum"`` or ``"none"`` ((N,), one loss per pair).
        chunk_size: ``None`` (default) builds the N×N logit matrix; an int B streams it B rows at a time with a
            custom backward that recomputes each block — the same loss and gradients (to float rounding) in
            O(N·B) extra memory, for batches whose N×N matrix would not fit (N = 65,536 needs 17 GB per matrix).

    For unit-norm features it equals OpenCLIP's ``ClipLoss`` with ``logit_scale = 1/τ``. The mutual-information
    view: :math:`I(X;Y) \ge \log N - \mathbb E[\mathcal L]` (``metrics.infonce_mi_bound``). Notebook 01, sections 1–2;
    streaming (``chunk_size``): section 6.
    """
    tau = _check_pairs(z_a, z_b, temperature, reduction, symmetric=symmetric, normalize=normalize)
    chunk_size = None if chunk_size is None else check_int(chunk_size, "chunk_size", minimum=1)
    a, b = upcast_half(z_a, z_b)
    if normalize:
        a, b = F.normalize(a, dim=1), F.normalize(b, dim=1)  # a_i ← a_i / ‖a_i‖, b_j ← b_j / ‖b_j‖
    if chunk_size is None:
        logits = (a @ b.T) / tau  # S_ij = ⟨a_i, b_j⟩ / τ
        return info_nce_logits(logits, symmetric=symmetric, reduction=reduction)
    tau_tensor = torch.as_tensor(tau).to(dtype=a.dtype, device=a.device)
    per_pair = _StreamingInfoNCE.apply(a, b, tau_tensor, chunk_size, symmetric)  # the same ℓ_i, B rows at a time
    return reduce(check_finite(per_pair, "the InfoNCE loss (streamed)"), reduction)


def sigmoid_contrastive(
    z_a: torch.Tensor,
    z_b: torch.Tensor,
    temperature: float | torch.Tensor,
    bias: float | torch.Tensor,
    *,
    normalize: bool = True,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""SigLIP's pairwise sigmoid loss: every (i, j) is an independent binary classification "is this a pair?".

    .. math::
        \mathcal L = -\frac1N \sum_{i=1}^N \sum_{j=1}^N \log \sigma\big((2\delta_{ij} - 1)\,(S_{ij} + \mathrm{bias})\big),
        \qquad S_{ij} = \langle a_i, b_j\rangle/\tau,

    with :math:`2\delta_{ij} - 1 = +1` for a true pair (:math:`i = j`) and :math:`-1` otherwise: a binary
    cross-entropy over the N² entries of the logit matrix, normalised by N as in Zhai et al. (2023); no softmax
    over the batch, so no batch-wide normaliser. ``reduction="none"`` returns the (N,) row sums.
    The bridge from contrastive learning to binary cross-entropy (notebook 01, section 3; notebook 02).
    """
    tau = _check_pairs(z_a, z_b, temperature, reduction, normalize=normalize)
    check_real(bias, "bias")  # a finite float, or a one-element tensor (learnable, as in SigLIP)
    bias = bias.reshape(()) if isinstance(bias, torch.Tensor) else float(bias)
    a, b = upcast_half(z_a, z_b)
    if normalize:
        a, b = F.normalize(a, dim=1), F.normalize(b, dim=1)
    logits = (a @ b.T) / tau + bias  # S_ij + bias, S_ij = ⟨a_i, b_j⟩ / τ
    signs = 2 * torch.eye(logits.shape[0], dtype=logits.dtype, device=logits.device) - 1  # 2δ_ij − 1 = ±1
    return reduce(-F.logsigmoid(signs * logits).sum(dim=1), reduction)  # Σ_j −log σ((2δ_ij − 1)(S_ij + bias))
