r"""Token sampling from a next-token model: temperature and top-k. Notebook 05.

A causal model gives :math:`p_\theta(x_t\mid x_{<t})`; sampling draws one token at a time from a reshaped version
of it and appends it to the context (the chain rule run forwards).
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from .._checks import check_finite, check_generator, check_int, check_positive, describe


def _temper(logits: torch.Tensor, temperature: float, top_k: int | None) -> torch.Tensor:
    """``logits / temperature`` with everything outside the ``top_k`` largest set to -inf (along the last dim)."""
    o = logits / temperature  # o / τ
    if top_k is not None and top_k < o.shape[-1]:
        kth = torch.topk(o, top_k, dim=-1).values[..., -1:]
        o = o.masked_fill(o < kth, float("-inf"))
    return o


def next_token_probs(logits: torch.Tensor, *, temperature: float = 1.0, top_k: int | None = None) -> torch.Tensor:
    r"""The distribution ``sample_tokens`` draws from, given next-token ``logits`` (..., V). Notebook 05.

    .. math::
        p_{\tau,k}(v) = \frac{\exp(o_v / \tau)\,[v \in \text{top-}k(o)]}{\sum_{u \in \text{top-}k(o)} \exp(o_u / \tau)},

    with :math:`o` the logits. ``temperature`` :math:`\tau \to 0` concentrates the mass on the argmax,
    :math:`\tau = 1` leaves the model's distribution :math:`p_\theta` unchanged, :math:`\tau \to \infty` flattens it
    to uniform (over the top-k); ``top_k`` keeps the :math:`k` largest logits (ties at the k-th value are all
    kept). Returns probabilities of the same shape.
    """
    if not isinstance(logits, torch.Tensor) or not logits.is_floating_point() or logits.dim() < 1:
        raise TypeError(f"logits must be a floating-point tensor (..., V), got {describe(logits)}")
    check_finite(logits, "logits")
    temperature = check_positive(temperature, "temperature")
    if top_k is not None:
        top_k = check_int(top_k, "top_k", minimum=1)
    if logits.dtype in (torch.float16, torch.bfloat16):  # logits / τ overflows float16 for small τ: work in float32
        return torch.softmax(_temper(logits.float(), temperature, top_k), dim=-1).to(logits.dtype)
    return torch.softmax(_temper(logits, temperature, top_k), dim=-1)


def sample_tokens(
    model: torch.nn.Module,
    prompt: torch.Tensor,
    max_new_tokens: int,
    *,
    temperature: float = 1.0,
    top_k: int | None = None,
    generator: torch.Generator | None = None,
    logit_mask: Callable[[torch.Tensor], torch.Tensor] | torch.Tensor | None = None,
) -> torch.Tensor:
    r"""Autoregressive sampling from a causal language model such as ``models.TinyGPT``. Notebook 05.

    ``model(tokens)`` maps (B, T) ids to (B, T, V) logits. At each step the last-position logits are divided by
    ``temperature`` (small: close to greedy; large: close to uniform), restricted to the ``top_k`` largest when
    given (the rest set to :math:`-\infty`; ``top_k=1`` is greedy/argmax decoding), and one token per row is drawn
    with ``torch.multinomial(softmax(logits), 1, generator=generator)``.

    ``logit_mask`` restricts which tokens may be drawn: a bool tensor (V,) with True for allowed tokens, or a
    callable ``logit_mask(tokens_so_far) -> bool`` tensor (V,) or (B, V) of allowed tokens, called each step with
    the current (B, T) sequence (so the allowed set may depend on the context). Disallowed tokens get logit
    :math:`-\infty` and are never sampled; at least one token per row must stay allowed.

    If the sequence grows past ``model.max_len`` (when the model has that attribute), only its last ``max_len``
    tokens are fed to the model. Runs under ``torch.no_grad()`` with the model in eval mode and restores its
    training flag afterwards. Returns the (B, T_prompt + max_new_tokens) ``torch.long`` sequence, prompt first.
    """
    if not callable(model):
        raise TypeError(f"model must be callable (tokens) -> logits, got {describe(model)}")
    if (
        not isinstance(prompt, torch.Tensor)
        or prompt.dim() != 2
        or prompt.shape[1] < 1
        or prompt.is_floating_point()
        or prompt.is_complex()
        or prompt.dtype == torch.bool
    ):
        raise ValueError(f"prompt must be a (B, T) integer tensor with T >= 1, got {describe(prompt)}")
    max_new_tokens = check_int(max_new_tokens, "max_new_tokens", minimum=0)
    temperature = check_positive(temperature, "temperature")
    if top_k is not None:
        top_k = check_int(top_k, "top_k", minimum=1)
    check_generator(generator)
    if logit_mask is not None and not callable(logit_mask):
        if not isinstance(logit_mask, torch.Tensor) or logit_mask.dtype != torch.bool or logit_mask.dim() != 1:
            raise ValueError(
                f"logit_mask must be a (V,) bool tensor of allowed tokens or a callable, got {describe(logit_mask)}"
            )
    max_len = getattr(model, "max_len", None)
    tokens = prompt.long()
    was_training = getattr(model, "training", False)
    if isinstance(model, torch.nn.Module):
        model.eval()
    try:
        with torch.no_grad():
            for _ in range(max_new_tokens):
                context = tokens if max_len is None else tokens[:, -max_len:]
                logits = model(context)[:, -1, :].float()  # (B, V)
                if logit_mask is not None:
                    allowed = logit_mask(tokens) if callable(logit_mask) else logit_mask
                    allowed = torch.as_tensor(allowed, dtype=torch.bool, device=logits.device)
                    if allowed.shape[-1] != logits.shape[-1]:
                        raise ValueError(
                            f"logit_mask must cover the {logits.shape[-1]} tokens, got shape {tuple(allowed.shape)}"
                        )
                    logits = logits.masked_fill(~allowed.expand_as(logits), float("-inf"))
                # the one host transfer per token: the CPU generator draws, so runs match across devices
                probs = torch.softmax(_temper(logits, temperature, top_k), dim=-1).cpu()
                if not bool(torch.isfinite(probs).all()):  # a row whose every logit is -inf has NaN probabilities
                    raise ValueError("logit_mask must leave at least one allowed token (with a finite logit) per row")
                next_token = torch.multinomial(probs, 1, generator=generator).to(tokens.device)
                tokens = torch.cat([tokens, next_token], dim=1)
    finally:
        if isinstance(model, torch.nn.Module):
            model.train(was_training)
    return tokens
