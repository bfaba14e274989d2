r"""The autoregressive negative log-likelihood: next-token prediction with a causal model. Notebook 05.

By the chain rule of probability, any distribution over sequences factorises as

.. math::
    p(x_{1:T}) = p(x_1) \prod_{t=2}^{T} p(x_t \mid x_{<t}),

so the negative log-likelihood of a sequence is a *sum of per-token cross-entropies*,

.. math::
    -\log p_\theta(x_{2:T} \mid x_1) = \sum_{t=2}^{T} -\log q_\theta(x_t \mid x_{<t}),

and a causal model (position :math:`t` sees only tokens :math:`\le t`) trained with teacher forcing minimises
exactly this. Its per-token average can never go below the source's entropy rate
(:meth:`mmobjectives.data.MarkovSource.entropy_rate` for a Markov source).
"""

from __future__ import annotations

import torch

from .._checks import check_int, check_same_device, describe
from ..data import MultimodalVocabulary
from .cross_entropy import _check_index_range, sequence_cross_entropy

__all__ = ["autoregressive_nll", "nll_by_modality"]


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
        \mathcal L = -\frac{1}{|\mathcal M|} \sum_{(b, t) \in \mathcal M} \log q_\theta(x_{b,t+1} \mid x_{b,\le t}),

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
    if not isinstance(logits, torch.Tensor) or logits.dim() != 3:
        raise ValueError(f"logits must be a 3-D (B, T, V) tensor, got {describe(logits)}")
    if not isinstance(tokens, torch.Tensor) or tokens.dim() != 2:
        raise ValueError(f"tokens must be a 2-D (B, T) integer tensor, got {describe(tokens)}")
    if tuple(tokens.shape) != tuple(logits.shape[:2]):
        raise ValueError(
            f"tokens must have shape (B, T) = {tuple(logits.shape[:2])} to match the logits, "
            f"got shape {tuple(tokens.shape)}"
        )
    if tokens.shape[1] < 2:
        raise ValueError(
            f"tokens must have T >= 2 (one token to condition on, at least one to predict), got shape {tuple(tokens.shape)}"
        )
    if tokens.is_floating_point() or tokens.is_complex() or tokens.dtype == torch.bool:
        raise TypeError(f"tokens must hold integer token ids (e.g. torch.long), got {describe(tokens)}")
    check_same_device(tokens, "tokens", logits, "logits")
    # only tokens[:, 1:] are targets: the first token is context and may be an id outside the predicted
    # vocabulary (a <bos> that is never predicted, as in notebook 05's enumeration)
    _check_index_range(tokens[:, 1:], "tokens", logits.shape[2], check_int(ignore_index, "ignore_index"))
    return sequence_cross_entropy(logits[:, :-1], tokens[:, 1:], ignore_index=ignore_index, reduction=reduction)


def nll_by_modality(
    logits: torch.Tensor, tokens: torch.Tensor, targets: torch.Tensor, vocab: MultimodalVocabulary
) -> dict[str, float]:
    r"""Mean next-token NLL (nats) separately over the scored **text** targets (words and ``</txt>``) and the scored
    **image** targets (codes) of multimodal sequences. Notebook 05.

    ``logits`` (B, T, V) from ``tokens`` (B, T); ``targets`` is ``vocab.targets(tokens)`` (ignored positions are
    ``-100``). Markers the format forces (``</img>`` after the last code, ``<txt>`` after ``</img>``, ...) cost 0
    nats under the logit mask and are counted in neither. Returns ``{"text": ..., "image": ..., "all": ...}``, where
    ``"all"`` is the mean over every scored target; NaN for a modality with no scored target.
    """
    if not isinstance(vocab, MultimodalVocabulary):
        raise TypeError(f"vocab must be a data.MultimodalVocabulary, got {describe(vocab)}")
    if not isinstance(targets, torch.Tensor) or tuple(targets.shape) != tuple(tokens.shape):
        raise ValueError(f"targets must have the shape of tokens {tuple(tokens.shape)}, got {describe(targets)}")
    per_token = autoregressive_nll(logits, targets, reduction="none").detach()  # (B, T-1), 0 where ignored
    nxt = tokens[:, 1:]
    scored = targets[:, 1:] != -100
    image = scored & (nxt >= vocab.image_offset)
    text = scored & ((nxt < vocab.text.vocab_size) | (nxt == vocab.end_txt))
    nan = float("nan")
    return {
        "text": float(per_token[text].mean()) if bool(text.any()) else nan,
        "image": float(per_token[image].mean()) if bool(image.any()) else nan,
        "all": float(per_token[scored].mean()) if bool(scored.any()) else nan,
    }
