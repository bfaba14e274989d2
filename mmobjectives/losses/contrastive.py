r"""Contrastive objectives: InfoNCE / the CLIP loss, and SigLIP's pairwise sigmoid loss. Notebook 01.

A batch of :math:`N` true pairs :math:`(x_i, y_i)` is embedded as :math:`a_i = f(x_i)`, :math:`b_i = g(y_i)`.
With temperature :math:`\tau` the logits are :math:`s_{ij} = \langle a_i, b_j\rangle/\tau`, and the InfoNCE loss
of pair :math:`i` is a cross-entropy over the :math:`N` candidates of the batch, the right one on the diagonal:

.. math::
    \ell_i^{a\to b} = -\log \frac{e^{s_{ii}}}{\sum_j e^{s_{ij}}}, \qquad
    \ell_i^{b\to a} = -\log \frac{e^{s_{ii}}}{\sum_j e^{s_{ji}}}, \qquad
    \ell_i = \tfrac12\big(\ell_i^{a\to b} + \ell_i^{b\to a}\big) \text{ (symmetric, CLIP)}.

Both directions are computed with log-sum-exp (``torch.log_softmax``), so the loss and its gradient stay finite at
:math:`\tau = 10^{-3}` where a naive :math:`\log\sum\exp` overflows.

**Streaming** (``info_nce(..., chunk_size=B)``): the same loss and gradients without ever holding the N×N logit
matrix. The forward pass visits B rows of logits at a time, keeping each row's log-sum-exp and a running
log-sum-exp per column; the backward pass recomputes each block. With :math:`g^r_i, g^c_i` the upstream
gradients of the row and column terms of pair :math:`i`, the gradient of the loss with respect to one logit is

.. math::
    \frac{\partial\mathcal L}{\partial s_{ij}} = g^r_i\,(P^{\text{row}}_{ij} - \delta_{ij}) + g^c_j\,(P^{\text{col}}_{ij} - \delta_{ij}),
    \qquad P^{\text{row}}_{ij} = e^{s_{ij} - \operatorname{lse}_k s_{ik}},\quad
    P^{\text{col}}_{ij} = e^{s_{ij} - \operatorname{lse}_k s_{kj}},

and :math:`\partial\mathcal L/\partial a_i = \sum_j \frac{\partial\mathcal L}{\partial s_{ij}}\, b_j/\tau`,
:math:`\partial\mathcal L/\partial b_j = \sum_i \frac{\partial\mathcal L}{\partial s_{ij}}\, a_i/\tau`,
:math:`\partial\mathcal L/\partial\tau = -\sum_{ij}\frac{\partial\mathcal L}{\partial s_{ij}}\, s_{ij}/\tau`.
Extra memory: a few B×N blocks, O(N·B) instead of O(N²).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .._checks import check_choice, check_finite, check_int, check_same_device, describe

__all__ = ["info_nce", "info_nce_logits", "sigmoid_contrastive"]

_REDUCTIONS = ("mean", "sum", "none")


def _reduce(per_item: torch.Tensor, reduction: str) -> torch.Tensor:
    if reduction == "mean":
        return per_item.mean()
    if reduction == "sum":
        return per_item.sum()
    return per_item


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


def _temperature(temperature: float | torch.Tensor) -> float | torch.Tensor:
    if isinstance(temperature, torch.Tensor):
        if temperature.numel() != 1:
            raise ValueError(f"temperature must be a float or a 0-dim tensor, got {describe(temperature)}")
        value = float(temperature.detach())
        if not value > 0 or value != value or value == float("inf"):
            raise ValueError(f"temperature must be a finite number > 0, got {value}")
        return temperature.reshape(())
    if isinstance(temperature, bool) or not isinstance(temperature, (int, float)):
        raise TypeError(f"temperature must be a float or a 0-dim tensor, got {describe(temperature)}")
    if not temperature > 0 or temperature == float("inf"):
        raise ValueError(f"temperature must be a finite number > 0, got {temperature}")
    return float(temperature)


def info_nce_logits(logits: torch.Tensor, *, symmetric: bool = True, reduction: str = "mean") -> torch.Tensor:
    r"""InfoNCE from an (N, N) logit matrix whose positives are on the diagonal.

    Row loss :math:`\ell_i = -\log\operatorname{softmax}_j(s_{i\cdot})_i`; with ``symmetric`` the per-pair loss is
    :math:`\tfrac12(\ell_i^{\text{row}} + \ell_i^{\text{col}})`. ``reduction``: ``"mean"`` (scalar), ``"sum"`` or
    ``"none"`` ((N,) per pair). Identical to ``F.cross_entropy(logits, arange(N))`` (averaged with the transposed
    matrix when symmetric). Notebook 01, section 1; a learned critic's scores go here in section 2.
    """
    if not isinstance(logits, torch.Tensor) or not logits.is_floating_point():
        raise TypeError(f"logits must be a floating-point tensor of shape (N, N), got {describe(logits)}")
    if logits.dim() != 2 or logits.shape[0] != logits.shape[1] or logits.shape[0] < 1:
        raise ValueError(f"logits must be a square (N, N) matrix with N >= 1, got shape {tuple(logits.shape)}")
    check_finite(logits, "logits")
    check_choice(reduction, "reduction", _REDUCTIONS)
    if not isinstance(symmetric, bool):
        raise TypeError(f"symmetric must be a bool, got {describe(symmetric)}")
    work = logits.float() if logits.dtype in (torch.float16, torch.bfloat16) else logits
    row = -torch.log_softmax(work, dim=1).diagonal()
    if symmetric:
        col = -torch.log_softmax(work, dim=0).diagonal()
        per_pair = 0.5 * (row + col)
    else:
        per_pair = row
    return _reduce(per_pair, reduction)


class _StreamingInfoNCE(torch.autograd.Function):
    """Per-pair InfoNCE terms from embeddings, B rows of logits at a time (see the module docstring).

    Each log-sum-exp is kept as a pair (m, r): the maximum and the log of the sum of exp(s - m), so that
    exp(s - lse) is computed as exp((s - m) - r), as ``log_softmax`` does, and never loses the low bits of a large
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
            block = torch.mm(a[start:stop], b.T).mul_(inv_tau)  # s_ij for i in the block, every j
            m = block.amax(dim=1)
            row_max[start:stop] = m
            row_log[start:stop] = torch.sub(block, m[:, None]).exp_().sum(dim=1).log_()
            if symmetric:  # merge this block's column log-sum-exps into the running ones
                m_block = block.amax(dim=0)
                log_block = block.sub_(m_block[None, :]).exp_().sum(dim=0).log_()
                new_max = torch.maximum(col_max, m_block)
                col_log = torch.logaddexp(col_max - new_max + col_log, m_block - new_max + log_block)
                col_max = new_max
        diag = (a * b).sum(dim=1).mul_(inv_tau)  # s_ii
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
        g_diag = g_row + g_col if symmetric else g_row  # the -delta_ij terms: pair i's own logit s_ii
        inv_tau = 1.0 / tau
        grad_a = torch.empty_like(a)
        grad_b = torch.zeros_like(b)
        want_tau = ctx.needs_input_grad[2]
        tau_sum = torch.zeros((), dtype=a.dtype, device=a.device)
        for start in range(0, a.shape[0], chunk_size):
            stop = min(start + chunk_size, a.shape[0])
            rows = slice(start, stop)
            block = torch.mm(a[rows], b.T).mul_(inv_tau)
            # dL/ds_ij = g_row_i (P_row_ij - delta_ij) + g_col_j (P_col_ij - delta_ij), for the block's rows
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
        s_{ij} = \frac{\langle a_i, b_j\rangle}{\tau},\qquad
        \ell_i = -\log\frac{e^{s_{ii}}}{\sum_j e^{s_{ij}}}\ \ (\text{averaged with } -\log\tfrac{e^{s_{ii}}}{\sum_j e^{s_{ji}}}
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
    view: :math:`I(X;Y) \ge \log N - \mathcal L` (``metrics.infonce_mi_bound``). Notebook 01, sections 1–2.
    """
    _check_features(z_a, "z_a")
    _check_features(z_b, "z_b")
    if z_a.shape != z_b.shape:
        raise ValueError(
            f"z_a and z_b must have the same shape (N pairs of D-dim embeddings), got {tuple(z_a.shape)} and {tuple(z_b.shape)}"
        )
    if z_a.device != z_b.device:
        raise ValueError(f"z_a and z_b must be on the same device, got {z_a.device} and {z_b.device}")
    tau = _temperature(temperature)
    check_choice(reduction, "reduction", _REDUCTIONS)
    if not isinstance(normalize, bool):
        raise TypeError(f"normalize must be a bool, got {describe(normalize)}")
    if z_a.dtype in (torch.float16, torch.bfloat16):
        z_a, z_b = z_a.float(), z_b.float()
    if chunk_size is not None:
        chunk_size = check_int(chunk_size, "chunk_size", minimum=1)
    if normalize:
        z_a, z_b = F.normalize(z_a, dim=1), F.normalize(z_b, dim=1)
    if chunk_size is None:
        logits = (z_a @ z_b.T) / tau
        return info_nce_logits(logits, symmetric=symmetric, reduction=reduction)
    if not isinstance(symmetric, bool):
        raise TypeError(f"symmetric must be a bool, got {describe(symmetric)}")
    if isinstance(tau, torch.Tensor):
        tau_tensor = tau.to(dtype=z_a.dtype, device=z_a.device)
    else:
        tau_tensor = torch.tensor(tau, dtype=z_a.dtype, device=z_a.device)
    per_pair = _StreamingInfoNCE.apply(z_a, z_b, tau_tensor, chunk_size, symmetric)
    check_finite(per_pair, "the InfoNCE loss (streamed)")
    return _reduce(per_pair, reduction)


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
        \mathcal L = -\frac1N \sum_{i=1}^N \sum_{j=1}^N \log \sigma\big(z_{ij}\,(\langle a_i, b_j\rangle/\tau + b)\big),
        \qquad z_{ij} = \begin{cases} +1 & i = j\\ -1 & i \ne j\end{cases}

    — a binary cross-entropy over the N² entries of the logit matrix, normalised by N as in Zhai et al. (2023); no
    softmax over the batch, so no batch-wide normaliser. ``reduction="none"`` returns the (N,) row sums.
    The bridge from contrastive learning to binary cross-entropy (notebook 01, section 3; notebook 02).
    """
    _check_features(z_a, "z_a")
    _check_features(z_b, "z_b")
    if z_a.shape != z_b.shape:
        raise ValueError(f"z_a and z_b must have the same shape, got {tuple(z_a.shape)} and {tuple(z_b.shape)}")
    check_same_device(z_b, "z_b", z_a, "z_a")
    tau = _temperature(temperature)
    if isinstance(bias, torch.Tensor):
        if bias.numel() != 1:
            raise ValueError(f"bias must be a float or a 0-dim tensor, got {describe(bias)}")
        check_finite(bias, "bias")
        bias = bias.reshape(())
    elif isinstance(bias, bool) or not isinstance(bias, (int, float)):
        raise TypeError(f"bias must be a float or a 0-dim tensor, got {describe(bias)}")
    elif bias != bias or abs(bias) == float("inf"):
        raise ValueError(f"bias must be finite, got {bias}")
    check_choice(reduction, "reduction", _REDUCTIONS)
    if z_a.dtype in (torch.float16, torch.bfloat16):
        z_a, z_b = z_a.float(), z_b.float()
    if normalize:
        z_a, z_b = F.normalize(z_a, dim=1), F.normalize(z_b, dim=1)
    logits = (z_a @ z_b.T) / tau + bias
    signs = 2 * torch.eye(logits.shape[0], dtype=logits.dtype, device=logits.device) - 1
    per_row = -F.logsigmoid(signs * logits).sum(dim=1)
    return _reduce(per_row, reduction)
