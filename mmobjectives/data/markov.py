r"""An order-1 Markov chain over V symbols with exact log-probabilities and entropy rate. Notebook 05.

A sequence :math:`x_1, \dots, x_T` from the chain with initial distribution :math:`\mu` and transition matrix
:math:`P` (row :math:`a` is the distribution of the next symbol after :math:`a`) has, by the chain rule,

.. math::
    \log p(x_{1:T}) = \log \mu_{x_1} + \sum_{t=2}^{T} \log P_{x_{t-1} x_t}.

Started from the stationary distribution :math:`\pi` (:math:`\pi P = \pi`, :math:`\sum_a \pi_a = 1`), the chain
is stationary and its entropy rate is

.. math::
    H = -\sum_a \pi_a \sum_b P_{ab} \log P_{ab} \quad \text{(nats per symbol, } 0 \log 0 = 0\text{)},

the lowest per-token negative log-likelihood any next-token model can reach on long sequences: the floor that
notebook 05 compares a trained autoregressive model against (see :meth:`MarkovSource.sequence_floor`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from .._checks import as_float_tensor, check_finite, check_generator, check_int, check_positive, describe

__all__ = ["MarkovSource"]

_ROW_TOL = 1e-6
# above this condition number the stationary system is treated as singular (the stationary distribution is
# not unique: the chain is reducible, e.g. two closed classes)
_MAX_COND = 1e12


def _stationary(transition: torch.Tensor) -> torch.Tensor | None:
    r"""Solve :math:`\pi(P - I) = 0`, :math:`\sum\pi = 1` in float64; None when the solution is not unique.

    :math:`(P - I)^\top \pi^\top = 0` has one redundant equation (the columns of :math:`P - I` sum to zero), so
    the last equation is replaced by :math:`\sum_a \pi_a = 1`. The resulting matrix is invertible exactly when
    :math:`P - I` has rank :math:`V - 1`, i.e. when the stationary distribution is unique.
    """
    p = transition.detach().cpu().numpy().astype(np.float64)
    v = p.shape[0]
    a = (p - np.eye(v)).T
    a[-1, :] = 1.0
    if not np.isfinite(np.linalg.cond(a)) or np.linalg.cond(a) > _MAX_COND:
        return None
    rhs = np.zeros(v)
    rhs[-1] = 1.0
    pi = np.linalg.solve(a, rhs)
    pi = np.clip(pi, 0.0, None)
    return torch.as_tensor(pi / pi.sum(), dtype=torch.float64)


def _entropy(probs: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """Shannon entropy in nats along ``dim`` with 0 log 0 = 0."""
    logs = torch.where(probs > 0, probs.log(), torch.zeros_like(probs))
    return -(probs * logs).sum(dim=dim)


class MarkovSource:
    r"""An order-1 Markov chain over ``V`` symbols ``0 .. V-1``.

    Args:
        transition: (V, V) matrix, entry ``[a, b]`` = :math:`P(x_{t+1} = b \mid x_t = a)`; entries >= 0 and
            every row summing to 1 within 1e-6.
        initial: optional (V,) distribution of the first symbol (>= 0, summing to 1 within 1e-6). When None the
            chain starts from its stationary distribution :math:`\pi`, computed in float64 by solving
            :math:`\pi(P - I) = 0` with :math:`\sum_a \pi_a = 1`; a ValueError is raised if that solution is
            not unique (a reducible chain with several closed classes), in which case pass ``initial``.

    Example::

        source = MarkovSource.random(8, concentration=0.3, seed=0)
        seqs = source.sample(256, 32, generator=torch.Generator().manual_seed(0))
        nll = -source.log_prob(seqs).sum() / seqs.numel()   # ≈ source.sequence_floor(32, score_first=True)
    """

    def __init__(self, transition: Any, initial: Any = None) -> None:
        p = check_finite(as_float_tensor(transition, "transition"), "transition")
        if p.dim() != 2 or p.shape[0] != p.shape[1] or p.shape[0] < 1:
            raise ValueError(f"transition must be a square (V, V) matrix with V >= 1, got {describe(transition)}")
        if bool((p < 0).any()):
            raise ValueError(
                f"transition must have entries >= 0, got minimum entry {float(p.min()):.3g} "
                f"in {int((p < 0).sum())} place(s)"
            )
        sums = p.sum(dim=1)
        off = (sums - 1).abs()
        if bool((off > _ROW_TOL).any()):
            row = int(off.argmax())
            raise ValueError(
                f"transition rows must each sum to 1 (tolerance {_ROW_TOL:g}); got {int((off > _ROW_TOL).sum())} "
                f"row(s) that do not, e.g. row {row} sums to {float(sums[row]):.6g}"
            )
        self.transition = p / sums[:, None]
        self.vocab_size = p.shape[0]
        self._stationary = _stationary(self.transition)
        if initial is None:
            if self._stationary is None:
                raise ValueError(
                    "initial is None, but transition has no unique stationary distribution to start from "
                    "(the chain is reducible); pass initial=(V,) probabilities"
                )
            self.initial = self._stationary
        else:
            mu = check_finite(as_float_tensor(initial, "initial"), "initial")
            v = self.vocab_size
            if tuple(mu.shape) != (v,):
                raise ValueError(
                    f"initial must be a ({v},) distribution (one entry per symbol), got {describe(initial)}"
                )
            if bool((mu < 0).any()):
                raise ValueError(f"initial must have entries >= 0, got minimum entry {float(mu.min()):.3g}")
            if abs(float(mu.sum()) - 1) > _ROW_TOL:
                raise ValueError(f"initial must sum to 1 (tolerance {_ROW_TOL:g}), got sum {float(mu.sum()):.6g}")
            self.initial = mu / mu.sum()

    def __repr__(self) -> str:
        return f"MarkovSource(vocab_size={self.vocab_size})"

    @property
    def stationary(self) -> torch.Tensor:
        r"""The stationary distribution :math:`\pi` (V,) float64 with :math:`\pi P = \pi`."""
        if self._stationary is None:
            raise ValueError("transition has no unique stationary distribution (the chain is reducible)")
        return self._stationary.clone()

    @classmethod
    def random(cls, vocab_size: int, concentration: float = 1.0, seed: int | None = None) -> MarkovSource:
        r"""A chain whose rows are independent Dirichlet(concentration · 1) draws, started from :math:`\pi`.

        Lower ``concentration`` gives sharper rows and a lower entropy rate (about :math:`\log V` for large
        concentration). The rows are drawn with ``numpy.random.default_rng(seed).dirichlet`` — a ``seed: int``
        rather than a ``torch.Generator``, because torch's Gamma / Dirichlet samplers ignore generators.
        """
        v = check_int(vocab_size, "vocab_size", minimum=1)
        alpha = check_positive(concentration, "concentration")
        if seed is not None:
            seed = check_int(seed, "seed", minimum=0)
        rows = np.random.default_rng(seed).dirichlet(np.full(v, alpha), size=v)
        return cls(torch.as_tensor(rows, dtype=torch.float64))

    def sample(self, n: int, length: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """``n`` sequences of ``length`` symbols, an (n, length) int64 tensor (reproducible with ``generator``)."""
        n = check_int(n, "n", minimum=1)
        length = check_int(length, "length", minimum=1)
        check_generator(generator)
        out = torch.empty(n, length, dtype=torch.int64)
        out[:, 0] = torch.multinomial(self.initial, n, replacement=True, generator=generator)
        for t in range(1, length):
            out[:, t] = torch.multinomial(self.transition[out[:, t - 1]], 1, generator=generator).squeeze(1)
        return out

    def log_prob(self, seqs: torch.Tensor) -> torch.Tensor:
        r"""Exact :math:`\log p(x_{1:T}) = \log\mu_{x_1} + \sum_t \log P_{x_{t-1}x_t}` of (n, T) sequences → (n,)."""
        if not isinstance(seqs, torch.Tensor) or seqs.is_floating_point() or seqs.dtype == torch.bool:
            raise TypeError(f"seqs must be an integer tensor (n, T) of symbols, got {describe(seqs)}")
        if seqs.dim() != 2 or seqs.shape[1] < 1:
            raise ValueError(f"seqs must be 2-D (n, T) with T >= 1, got shape {tuple(seqs.shape)}")
        if bool(((seqs < 0) | (seqs >= self.vocab_size)).any()):
            raise ValueError(f"seqs must hold symbols in [0, {self.vocab_size - 1}], got {describe(seqs)}")
        s = seqs.long().cpu()
        log_p = self.initial.log()[s[:, 0]]
        if s.shape[1] > 1:
            log_p = log_p + self.transition.log()[s[:, :-1], s[:, 1:]].sum(dim=1)
        return log_p

    def entropy_rate(self) -> float:
        r"""Exact :math:`H = -\sum_a \pi_a \sum_b P_{ab}\log P_{ab}` in nats per symbol (:math:`0\log 0 = 0`)."""
        return float((self.stationary * _entropy(self.transition, dim=1)).sum())

    def first_token_entropy(self) -> float:
        r""":math:`H(\pi)` in nats: the cost of the first symbol of a stationary sequence."""
        return float(_entropy(self.stationary))

    def sequence_floor(self, length: int, score_first: bool = False) -> float:
        r"""The lowest reachable per-token NLL (nats) on stationary sequences of ``length`` symbols.

        An autoregressive model that does not score the first token (:func:`~mmobjectives.losses.autoregressive_nll`
        predicts tokens 2..T) averages over :math:`T-1` transitions, floor :math:`H`; scoring the first token
        too gives :math:`[H(\pi) + (T-1) H] / T`.
        """
        length = check_int(length, "length", minimum=1)
        if not score_first:
            if length < 2:
                raise ValueError(f"length must be >= 2 when the first token is not scored, got {length}")
            return self.entropy_rate()
        return (self.first_token_entropy() + (length - 1) * self.entropy_rate()) / length
