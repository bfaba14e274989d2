r"""The autoregressive negative log-likelihood: next-token prediction with a causal model. Notebook 05.

By the chain rule of probability, any distribution over sequences factorises as

.. math::
    p(x_{1:T}) = p(x_1) \prod_{t=2}^{T} p(x_t \mid x_{<t}),

so the negative log-likelihood of a sequence is a *sum of per-token cross-entropies*,

.. math::
    -\log p_\theta(x_{2:T} \mid x_1) = \sum_{t=2}^{T} -\log p_\theta(x_t \mid x_{<t}),

and a causal model (position :math:`t` sees only tokens :math:`\le t`) trained with teacher forcing minimises
exactly this. Its per-token average can never go below the source's entropy rate
(:meth:`mmobjectives.data.MarkovSource.entropy_rate` for a Markov source).
"""

from __future__ import annotations

import torch

from .._checks import check_int, check_same_device
from ._common import check_index_target, check_logits, kept_indices
from .cross_entropy import sequence_cross_entropy

__all__ = ["autoregressive_nll"]


def autoregressive_nll(
    logits: torch.Tensor,
    tokens: torch.Tensor,
    *,
    ignore_index: int = -100,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""Next-token NLL of (B, T, V) causal-model ``logits`` computed from (B, T) ``tokens``.

    Position :math:`t` predicts token :math:`t+1`, so the loss scores ``tokens[:, 1:]`` under ``logits[:, :-1]``:

    .. math::
        \mathcal L = -\frac{1}{|\mathcal M|} \sum_{(b, t) \in \mathcal M} \log p_\theta(x_{b,t+1} \mid x_{b,\le t}),

    with :math:`\mathcal M` the predicted positions whose target is not ``ignore_index``. Summed over a
    sequence, these per-token cross-entropies are :math:`-\log p_\theta(x_{2:T} \mid x_1)` (chain rule); the first
    token is not scored. ``exp(loss)`` is the perplexity, ``loss / ln 2`` the bits per token
    (:func:`mmobjectives.metrics.perplexity`, :func:`mmobjectives.metrics.bits_per_token`).

    Args:
        logits: (B, T, V) floating-point scores, ``logits[:, t]`` computed from ``tokens[:, :t+1]`` only.
        tokens: (B, T) integer token ids in :math:`[0, V)` (or ``ignore_index`` at padding), T >= 2.
        ignore_index: target token id that contributes nothing (padding).
        reduction: ``"mean"`` (nats per predicted, non-ignored token), ``"sum"``, or ``"none"`` ((B, T-1), 0 at
            ignored positions).

    Equal to ``sequence_cross_entropy(logits[:, :-1], tokens[:, 1:], ...)``. Notebook 05.
    """
    check_logits(logits, "logits", 3, "(B, T, V)")
    check_index_target(tokens, "tokens", tuple(logits.shape[:2]), "(B, T)", what="token ids")
    if tokens.shape[1] < 2:
        raise ValueError(
            f"tokens must have T >= 2 (one token to condition on, at least one to predict), got shape {tuple(tokens.shape)}"
        )
    check_same_device(tokens, "tokens", logits, "logits")
    # only tokens[:, 1:] are targets: the first token is context and may be an id outside the predicted
    # vocabulary (a <bos> that is never predicted, as in notebook 05's enumeration)
    kept_indices(tokens[:, 1:], "tokens", logits.shape[2], check_int(ignore_index, "ignore_index"), what="token ids")
    # −log p_θ(x_{2:T} | x_1) = Σ_t −log p_θ(x_{t+1} | x_{≤t}): position t's logits score token t + 1
    return sequence_cross_entropy(logits[:, :-1], tokens[:, 1:], ignore_index=ignore_index, reduction=reduction)
