r"""Autoregressive experiments (notebook 05): samples at a temperature and top-k, scored by the true Markov source
(quality) and by the sampler's entropy (diversity). Pure compute behind ``widgets.autoregressive``."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .. import data, sampling
from .._checks import check_int, check_positive, describe

__all__ = ["SamplingTradeoff", "sampling_tradeoff"]


@dataclass(frozen=True)
class SamplingTradeoff:
    r"""Samples of a next-token model at one (temperature, top-k), scored by the *true* source.

    ``true_nll``: mean :math:`-\log p_{\text{source}}(x_t \mid x_{<t})` over the sampled tokens 2..T (quality: low
    means the source finds the samples likely). ``entropy``: mean entropy of the reshaped next-token distributions
    the sampler drew from (diversity: nats of randomness per token). ``probs``/``true_probs``: the reshaped model
    distribution and the source's row after the context symbol ``context``.
    """

    temperature: float
    top_k: int | None
    true_nll: float
    entropy: float
    entropy_rate: float
    context: int
    probs: np.ndarray
    true_probs: np.ndarray
    samples: torch.Tensor


def sampling_tradeoff(
    model: torch.nn.Module,
    source: data.MarkovSource,
    temperature: float,
    top_k: int | None = None,
    *,
    n: int = 256,
    length: int = 32,
    context: int = 0,
    seed: int = 0,
) -> SamplingTradeoff:
    r"""Draw ``n`` sequences of ``length`` tokens from ``model`` (first token from the source's stationary
    distribution, the rest with ``sampling.sample_tokens``) and score them with the true ``source``. Notebook 05.

    ``top_k`` of 0 or None keeps every token. At ``temperature = 1`` without top-k, a model that has learned the
    source samples from it: ``true_nll`` and ``entropy`` both approach the entropy rate.
    """
    if not isinstance(source, data.MarkovSource):
        raise TypeError(f"source must be a data.MarkovSource, got {describe(source)}")
    temperature = check_positive(temperature, "temperature")
    if top_k is not None:
        top_k = check_int(top_k, "top_k", minimum=0) or None
    n = check_int(n, "n", minimum=1)
    length = check_int(length, "length", minimum=2)
    context = check_int(context, "context", minimum=0)
    if context >= source.vocab_size:
        raise ValueError(f"context must be a symbol in [0, {source.vocab_size - 1}], got {context}")
    g = torch.Generator().manual_seed(check_int(seed, "seed", minimum=0))
    first = source.sample(n, 1, generator=g)
    samples = sampling.sample_tokens(model, first, length - 1, temperature=temperature, top_k=top_k, generator=g)
    true_nll = float(-(source.log_prob(samples) - source.log_prob(samples[:, :1])).mean()) / (length - 1)
    with torch.no_grad():
        logits = model(samples)[:, :-1].float()
        probs = sampling.next_token_probs(logits, temperature=temperature, top_k=top_k)
        entropy = float(-(probs * probs.clamp_min(1e-30).log()).sum(-1).mean())
        at_context = sampling.next_token_probs(
            model(torch.tensor([[context]]))[0, -1].float(), temperature=temperature, top_k=top_k
        )
    row = source.transition[(context,) * source.order] if source.order > 1 else source.transition[context]
    return SamplingTradeoff(
        temperature=temperature,
        top_k=top_k,
        true_nll=true_nll,
        entropy=max(entropy, 0.0) + 0.0,  # + 0.0 turns -0.0 into 0.0
        entropy_rate=source.entropy_rate(),
        context=context,
        probs=at_context.numpy(),
        true_probs=row.numpy(),
        samples=samples,
    )
