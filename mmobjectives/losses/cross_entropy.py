r"""Cross-entropy for classifiers and, token by token, for sequence models with teacher forcing. Notebook 02.

A model turns logits :math:`o \in \mathbb R^K` into its distribution :math:`p_\theta = \operatorname{softmax}(o)`
over the :math:`K` classes. Its cross-entropy against a target distribution :math:`p` splits into a KL divergence
and an entropy:

.. math::
    \mathrm{CE}(p, p_\theta) = -\sum_{y} p(y)\log p_\theta(y)
    = \underbrace{\sum_y p(y)\log\frac{p(y)}{p_\theta(y)}}_{\mathrm{KL}(p\,\|\,p_\theta)\ \ge\ 0}
    + \underbrace{\Big(-\sum_y p(y)\log p(y)\Big)}_{H(p)},

so minimising CE over :math:`\theta` minimises the KL divergence, and the lowest reachable value is :math:`H(p)`
(the Bayes floor, :math:`H(Y\mid X)` when averaged over inputs). With a class index :math:`y` (a one-hot
:math:`p`) it is :math:`-\log p_\theta(y)`. The log-probabilities are computed with log-sum-exp,
:math:`\log p_\theta(k) = o_k - \log\sum_j e^{o_j}`, so logits of size :math:`10^4` give a finite loss, and the
gradient with respect to the logits is the famous

.. math::
    \frac{\partial\, \mathrm{CE}}{\partial o} = \operatorname{softmax}(o) - p
    \qquad(\operatorname{softmax}(o) - \operatorname{onehot}(y) \text{ for a class index}).

Notebook 02 derives both (sections "CE = KL + H" and "the Bayes floor"), adds label smoothing in the
calibration section, scores a digit captioner with :func:`sequence_cross_entropy` (teacher forcing) and trains a
VQA answer head with :func:`cross_entropy`; notebook 05 reuses :func:`sequence_cross_entropy` as the
autoregressive NLL.
"""

from __future__ import annotations

import torch

from .._checks import check_finite, check_int, check_real, check_reduction, check_same_device, describe, reduce
from ._common import check_index_target, check_logits, kept_indices, upcast_half

__all__ = ["cross_entropy", "sequence_cross_entropy"]

# how far a probability row may be from summing to 1 (and how negative an entry may be), by the target's dtype:
# rounding softmax outputs to float16 moves a row sum by up to 2**-11 ≈ 5e-4, to bfloat16 by up to 2**-9 ≈ 2e-3
_PROB_TOL = {torch.float16: 1e-3, torch.bfloat16: 1e-2}
_PROB_TOL_DEFAULT = 1e-4


def _check_probability_target(target: torch.Tensor, name: str) -> None:
    check_finite(target, name)
    tol = _PROB_TOL.get(target.dtype, _PROB_TOL_DEFAULT)
    wide = target.detach().double()
    if bool((wide < -tol).any()):
        raise ValueError(
            f"{name} holds probability rows, which must be >= 0; got minimum entry {float(wide.min()):.3g} "
            f"in {int((wide < -tol).sum())} place(s)"
        )
    sums = wide.sum(dim=1)
    off = (sums - 1).abs()
    if bool((off > tol).any()):
        row = int(off.argmax())
        raise ValueError(
            f"{name} holds probability rows, which must sum to 1 (tolerance {tol:g} for {target.dtype}); "
            f"got {int((off > tol).sum())} row(s) that do not, e.g. row {row} sums to {float(sums[row]):.6g}"
        )


def _check_cross_entropy(
    logits: torch.Tensor, target: torch.Tensor, label_smoothing: float, ignore_index: int, reduction: str
) -> tuple[float, int, bool]:
    """Validate :func:`cross_entropy`'s arguments; return (ε, ignore_index, whether ``target`` is probability rows)."""
    check_logits(logits, "logits", 2, "(N, K): one row of class scores per example")
    n, k = logits.shape
    if not isinstance(target, torch.Tensor):
        raise TypeError(
            f"target must be a torch.Tensor: (N,) integer class indices or (N, K) probability rows, got {describe(target)}"
        )
    smoothing = check_real(label_smoothing, "label_smoothing")
    if not 0.0 <= smoothing <= 1.0:
        raise ValueError(f"label_smoothing must be in [0, 1], got {smoothing}")
    ignore_index = check_int(ignore_index, "ignore_index")
    check_reduction(reduction)
    check_same_device(target, "target", logits, "logits")
    if target.is_floating_point() and target.dim() == 2:
        if tuple(target.shape) != (n, k):
            raise ValueError(
                f"target probability rows must have shape (N, K) = {(n, k)} like the logits, got shape {tuple(target.shape)}"
            )
        _check_probability_target(target, "target")
        return smoothing, ignore_index, True
    check_index_target(target, "target", (n,), "(N,)", hint=", or pass one probability row per example instead")
    kept_indices(target, "target", k, ignore_index)
    return smoothing, ignore_index, False


def cross_entropy(
    logits: torch.Tensor,
    target: torch.Tensor,
    *,
    label_smoothing: float = 0.0,
    ignore_index: int = -100,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""Cross-entropy of (N, K) logits against class indices (N,) or probability rows (N, K).

    With logits :math:`o_i` of row :math:`i` and the model's probabilities
    :math:`\log p_\theta(k\mid x_i) = o_{ik} - \log\sum_j e^{o_{ij}}` (log-sum-exp, never a log of a softmax):

    .. math::
        \ell_i = -\log p_\theta(y_i\mid x_i) \quad\text{(class index } y_i\text{)}, \qquad
        \ell_i = -\sum_k p_{ik}\log p_\theta(k\mid x_i) = \mathrm{KL}\big(p_i\,\|\,p_\theta(\cdot\mid x_i)\big) + H(p_i)
        \quad\text{(probability row } p_i\text{)},

    and :math:`\partial\ell_i/\partial o_i = p_\theta(\cdot\mid x_i) - \operatorname{onehot}(y_i)` (resp.
    :math:`p_\theta(\cdot\mid x_i) - p_i`).

    Args:
        logits: (N, K) floating-point, finite. float16 / bfloat16 logits are upcast to float32 inside the loss
            and the result is float32.
        target: either (N,) integer class indices in :math:`[0, K)` (or ``ignore_index``), or (N, K) floating
            probability rows (each >= 0 and summing to 1 within 1e-4; 1e-3 for float16 and 1e-2 for bfloat16
            targets, whose rounding alone moves a row sum that far).
        label_smoothing: :math:`\varepsilon \in [0, 1]`. For class indices
            :math:`\ell_i = (1-\varepsilon)\big(-\log p_\theta(y_i\mid x_i)\big) + \varepsilon\,\tfrac1K\sum_k\big(-\log p_\theta(k\mid x_i)\big)`; for
            probability rows the target becomes :math:`(1-\varepsilon)\,p_i + \varepsilon/K`. Both are the
            cross-entropy against the target mixed with the uniform distribution (notebook 02, calibration section).
        ignore_index: class-index targets equal to it contribute nothing (padding, unanswerable questions);
            not used with probability rows.
        reduction: ``"mean"`` (over the kept rows), ``"sum"`` (over the kept rows) or ``"none"`` ((N,), 0 at
            ignored rows).

    Same values and gradients as ``torch.nn.functional.cross_entropy`` (without class weights), with one
    deliberate difference: **when every target equals** ``ignore_index`` **the "mean" is 0, not NaN** — the loss
    is still a tensor connected to ``logits``, so ``.backward()`` runs and gives a zero gradient (PyTorch divides
    0 by 0 kept rows). A batch of pure padding then cannot poison a training run.

    Notebook 02: sections "CE = KL + H", "the Bayes floor", calibration and label smoothing, the VQA answer head.
    """
    eps, ignore_index, probability_rows = _check_cross_entropy(logits, target, label_smoothing, ignore_index, reduction)
    k = logits.shape[1]
    (o,) = upcast_half(logits)
    log_p_theta = o - torch.logsumexp(o, dim=1, keepdim=True)  # log p_θ(k | x_i) = o_ik − log Σ_j e^{o_ij}

    if probability_rows:
        p = target.to(o.dtype)
        if eps > 0:
            p = (1.0 - eps) * p + eps / k  # p_i ← (1 − ε) p_i + ε/K
        return reduce(-(p * log_p_theta).sum(dim=1), reduction)  # ℓ_i = −Σ_k p_ik log p_θ(k | x_i)

    kept = target != ignore_index
    y = torch.where(kept, target, 0).long()  # any class at ignored rows; they are zeroed below
    per_row = -log_p_theta.gather(1, y[:, None]).squeeze(1)  # ℓ_i = −log p_θ(y_i | x_i)
    if eps > 0:
        # (1 − ε) ℓ_i + ε (1/K) Σ_k −log p_θ(k | x_i)
        per_row = (1.0 - eps) * per_row + eps * (-log_p_theta.mean(dim=1))
    # where (not a multiplication by the mask): an ignored row gets exactly 0 and passes no gradient back
    per_row = torch.where(kept, per_row, 0.0)
    # all rows ignored: 0 / 1 = 0 (still connected to logits), where F.cross_entropy returns 0 / 0 = NaN
    return reduce(per_row, reduction, count=kept.sum().clamp(min=1))


def sequence_cross_entropy(
    logits: torch.Tensor,
    targets: torch.Tensor,
    *,
    ignore_index: int = -100,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""Token-level cross-entropy of a sequence model trained with teacher forcing.

    ``logits[:, t]`` is the model's prediction for ``targets[:, t]`` (the caller has already shifted the inputs:
    position :math:`t` sees tokens :math:`< t`), so with the model's next-token distribution
    :math:`\log p_\theta(\cdot\mid y_{b,<t}) = \operatorname{log\,softmax}(o_{bt})` of the logits :math:`o_{bt}`

    .. math::
        \mathcal L = -\frac{1}{|\mathcal M|}\sum_{(b,t)\in\mathcal M} \log p_\theta(y_{bt}\mid y_{b,<t}),
        \qquad \mathcal M = \{(b, t) : y_{bt} \ne \texttt{ignore\_index}\},

    the average negative log-likelihood per (non-padding) token, in nats; :math:`e^{\mathcal L}` is the perplexity.
    The gradient with respect to each position's logits is :math:`\operatorname{softmax}(o_{bt}) -
    \operatorname{onehot}(y_{bt})` divided by :math:`|\mathcal M|`.

    Args:
        logits: (B, T, V) floating-point scores over a vocabulary of V tokens.
        targets: (B, T) integer token ids in :math:`[0, V)`, or ``ignore_index`` at padding.
        ignore_index: token id that marks padding; those positions contribute nothing.
        reduction: ``"mean"`` over non-ignored tokens, ``"sum"`` over them, or ``"none"`` ((B, T), 0 at ignored
            positions).

    Computed as :func:`cross_entropy` on the (B·T, V) reshaped logits, so a batch of pure padding gives 0 (not
    NaN) with a zero gradient, and float16 / bfloat16 logits give a float32 loss. Notebook 02 (the digit
    captioner with teacher forcing); notebook 05 (the autoregressive NLL).
    """
    check_logits(logits, "logits", 3, "(B, T, V): one row of token scores per position")
    b, t, v = logits.shape
    check_index_target(targets, "targets", (b, t), "(B, T)")
    ignore_index = check_int(ignore_index, "ignore_index")
    check_reduction(reduction)
    check_same_device(targets, "targets", logits, "logits")
    kept_indices(targets, "targets", v, ignore_index)
    per_token = cross_entropy(
        logits.reshape(b * t, v), targets.reshape(b * t), ignore_index=ignore_index, reduction=reduction
    )
    return per_token.reshape(b, t) if reduction == "none" else per_token
