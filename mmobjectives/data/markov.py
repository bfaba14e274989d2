r"""A Markov chain of order k over V symbols with exact log-probabilities and entropy rate. Notebook 05.

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

**Order k.** With a transition tensor :math:`P[a_1, \dots, a_k, b] = p(x_{t+1} = b \mid x_{t-k+1:t} = a_{1:k})`
the next symbol depends on the last :math:`k` symbols. The pairs of consecutive k-tuples form an order-1 chain
over :math:`V^k` states, whose stationary distribution :math:`\pi_k` gives the entropy rate
:math:`H = -\sum_s \pi_k(s) \sum_b P[s, b] \log P[s, b]`. A model that sees only the last :math:`c < k`
symbols can do no better than the conditional entropy
:math:`H(X_t \mid X_{t-c:t-1}) = H(X_{1:c+1}) - H(X_{1:c})` of the stationary chain
(:meth:`MarkovSource.conditional_entropy`): what context buys, in nats.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from .._checks import (
    as_float_tensor,
    check_finite,
    check_generator,
    check_index_range,
    check_index_tensor,
    check_int,
    check_positive,
    describe,
)

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
    r"""A Markov chain of order ``k`` (default 1) over ``V`` symbols ``0 .. V-1``.

    Args:
        transition: for order 1 a (V, V) matrix, entry ``[a, b]`` = :math:`P(x_{t+1} = b \mid x_t = a)`; for
            order k a tensor of k+1 dimensions of size V, entry ``[a_1, …, a_k, b]`` =
            :math:`P(x_{t+1} = b \mid x_{t-k+1}, \dots, x_t = a_1, \dots, a_k)`. Entries >= 0 and every
            distribution over the last index summing to 1 within 1e-6. The order is ``transition.dim() - 1``.
        initial: optional distribution of the first ``k`` symbols, of shape (V,) * k (>= 0, summing to 1 within
            1e-6). When None the chain starts from its stationary distribution, computed in float64 by solving
            :math:`\pi(P - I) = 0` with :math:`\sum \pi = 1` for the chain of k-tuples; a ValueError is raised if
            that solution is not unique (a reducible chain with several closed classes): pass ``initial``.

    Example::

        source = MarkovSource.random(8, concentration=0.3, seed=0)
        seqs = source.sample(256, 32, generator=torch.Generator().manual_seed(0))
        nll = -source.log_prob(seqs).sum() / seqs.numel()   # ≈ source.sequence_floor(32, score_first=True)
    """

    _MAX_STATES = 4096  # V ** k: the stationary solve is a dense (V^k × V^k) system
    _MAX_BLOCK = 1 << 18  # V ** n: block_entropy enumerates every sequence of n symbols

    def __init__(self, transition: Any, initial: Any = None) -> None:
        p = check_finite(as_float_tensor(transition, "transition"), "transition")
        if p.dim() < 2 or len(set(p.shape)) != 1 or p.shape[0] < 1:
            raise ValueError(
                "transition must be a square (V, V) matrix (order 1) or a (V, ..., V) tensor with k+1 dimensions "
                f"(order k), V >= 1, got {describe(transition)}"
            )
        v, order = p.shape[0], p.dim() - 1
        if v**order > self._MAX_STATES:
            raise ValueError(
                f"transition has V^k = {v}^{order} = {v**order} contexts; at most {self._MAX_STATES} are supported "
                "(the stationary distribution is solved densely)"
            )
        if bool((p < 0).any()):
            raise ValueError(
                f"transition must have entries >= 0, got minimum entry {float(p.min()):.3g} "
                f"in {int((p < 0).sum())} place(s)"
            )
        flat = p.reshape(-1, v)
        sums = flat.sum(dim=1)
        off = (sums - 1).abs()
        if bool((off > _ROW_TOL).any()):
            row = int(off.argmax())
            context = tuple(int(i) for i in np.unravel_index(row, (v,) * order))
            where = f"row {row}" if order == 1 else f"context {context}"
            raise ValueError(
                f"transition rows must each sum to 1 (tolerance {_ROW_TOL:g}); got {int((off > _ROW_TOL).sum())} "
                f"row(s) that do not, e.g. {where} sums to {float(sums[row]):.6g}"
            )
        self.vocab_size = v
        self.order = order
        self._flat = flat / sums[:, None]  # (V^k, V), context index in row-major (base-V) order
        self.transition = self._flat.reshape(p.shape)
        self._stationary = _stationary(self._lifted()) if order > 1 else _stationary(self._flat)
        if initial is None:
            if self._stationary is None:
                raise ValueError(
                    "initial is None, but transition has no unique stationary distribution to start from "
                    f"(the chain is reducible); pass initial={self._initial_shape_text()} probabilities"
                )
            self.initial = self._stationary.reshape((v,) * order)
        else:
            mu = check_finite(as_float_tensor(initial, "initial"), "initial")
            if tuple(mu.shape) != (v,) * order:
                raise ValueError(
                    f"initial must be a {self._initial_shape_text()} distribution of the first {order} symbol(s), "
                    f"got {describe(initial)}"
                )
            if bool((mu < 0).any()):
                raise ValueError(f"initial must have entries >= 0, got minimum entry {float(mu.min()):.3g}")
            if abs(float(mu.sum()) - 1) > _ROW_TOL:
                raise ValueError(f"initial must sum to 1 (tolerance {_ROW_TOL:g}), got sum {float(mu.sum()):.6g}")
            self.initial = mu / mu.sum()

    def _initial_shape_text(self) -> str:
        return "(" + ", ".join([str(self.vocab_size)] * self.order) + ("," if self.order == 1 else "") + ")"

    def _lifted(self) -> torch.Tensor:
        """The order-1 chain over k-tuples: (V^k, V^k), state (a_1..a_k) -> (a_2..a_k, b) with P[a, b]."""
        v, k = self.vocab_size, self.order
        states = v**k
        lifted = torch.zeros(states, states, dtype=self._flat.dtype)
        rows = torch.arange(states)
        for b in range(v):
            lifted[rows, (rows * v) % states + b] += self._flat[:, b]
        return lifted

    def __repr__(self) -> str:
        order = "" if self.order == 1 else f", order={self.order}"
        return f"MarkovSource(vocab_size={self.vocab_size}{order})"

    @property
    def stationary(self) -> torch.Tensor:
        r"""The stationary distribution, float64: :math:`\pi` (V,) with :math:`\pi P = \pi` for order 1; for
        order k the stationary distribution of k consecutive symbols, shape (V,) * k."""
        if self._stationary is None:
            raise ValueError("transition has no unique stationary distribution (the chain is reducible)")
        return self._stationary.reshape((self.vocab_size,) * self.order).clone()

    @classmethod
    def random(
        cls, vocab_size: int, concentration: float = 1.0, seed: int | None = None, *, order: int = 1
    ) -> MarkovSource:
        r"""A chain whose rows (one per context) are independent Dirichlet(concentration · 1) draws, started from
        its stationary distribution.

        Lower ``concentration`` gives sharper rows and a lower entropy rate (about :math:`\log V` for large
        concentration). The rows are drawn with ``numpy.random.default_rng(seed).dirichlet`` — a ``seed: int``
        rather than a ``torch.Generator``, because torch's Gamma / Dirichlet samplers ignore generators.
        ``order=k`` draws one row per context of k symbols.
        """
        v = check_int(vocab_size, "vocab_size", minimum=1)
        alpha = check_positive(concentration, "concentration")
        order = check_int(order, "order", minimum=1)
        if seed is not None:
            seed = check_int(seed, "seed", minimum=0)
        if v**order > cls._MAX_STATES:
            raise ValueError(f"vocab_size ** order must be at most {cls._MAX_STATES}, got {v}^{order} = {v**order}")
        rows = np.random.default_rng(seed).dirichlet(np.full(v, alpha), size=v**order)
        return cls(torch.as_tensor(rows, dtype=torch.float64).reshape((v,) * (order + 1)))

    def _context_index(self, seqs: torch.Tensor, t: int) -> torch.Tensor:
        """Row of ``_flat`` for the k symbols before position t (t >= k)."""
        index = torch.zeros(seqs.shape[0], dtype=torch.long)
        for j in range(t - self.order, t):
            index = index * self.vocab_size + seqs[:, j]
        return index

    def sample(self, n: int, length: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """``n`` sequences of ``length`` symbols, an (n, length) int64 tensor (reproducible with ``generator``)."""
        n = check_int(n, "n", minimum=1)
        length = check_int(length, "length", minimum=1)
        check_generator(generator)
        v, k = self.vocab_size, self.order
        out = torch.empty(n, max(length, k), dtype=torch.int64)
        first = torch.multinomial(self.initial.reshape(-1), n, replacement=True, generator=generator)
        for j in range(k - 1, -1, -1):  # the k-tuple's base-V digits, last symbol first
            out[:, j] = first % v
            first = first // v
        for t in range(k, length):
            rows = self._flat[self._context_index(out, t)]
            out[:, t] = torch.multinomial(rows, 1, generator=generator).squeeze(1)
        return out[:, :length]

    def log_prob(self, seqs: torch.Tensor) -> torch.Tensor:
        r"""Exact :math:`\log p(x_{1:T}) = \log\mu(x_{1:k}) + \sum_{t>k} \log P[x_{t-k:t-1}, x_t]` of (n, T)
        sequences → (n,) (for T < k, the marginal of :math:`\mu` on the first T symbols)."""
        check_index_tensor(seqs, "seqs", what="symbols", layout="(n, T)")
        if seqs.dim() != 2 or seqs.shape[1] < 1:
            raise ValueError(f"seqs must be 2-D (n, T) with T >= 1, got shape {tuple(seqs.shape)}")
        check_index_range(seqs, "seqs", self.vocab_size, what="symbols")
        s = seqs.long().cpu()
        k, length = self.order, s.shape[1]
        m = min(k, length)
        head = self.initial.sum(dim=tuple(range(m, k))) if m < k else self.initial
        log_p = head.log()[tuple(s[:, j] for j in range(m))]
        log_flat = self._flat.log()
        for t in range(k, length):
            log_p = log_p + log_flat[self._context_index(s, t), s[:, t]]
        return log_p

    def entropy_rate(self) -> float:
        r"""Exact :math:`H = -\sum_s \pi(s) \sum_b P[s, b]\log P[s, b]` in nats per symbol (:math:`0\log 0 = 0`),
        :math:`s` running over the contexts of k symbols."""
        return float((self.stationary.reshape(-1) * _entropy(self._flat, dim=1)).sum())

    def conditional_entropy(self, context: int) -> float:
        r""":math:`H(X_t \mid X_{t-c}, \dots, X_{t-1})` in nats for a stationary sequence, ``c = context``.

        The best per-token NLL of a model that sees only the last ``c`` symbols. ``c = 0`` gives
        :math:`H(\pi)`; every ``c >= k`` gives the entropy rate; in between
        :math:`H(X_{1:c+1}) - H(X_{1:c})`, from the stationary distribution of k-tuples
        (:meth:`block_entropy` recomputes every one of them by enumeration).
        """
        c = check_int(context, "context", minimum=0)
        k = self.order
        if c >= k:
            return self.entropy_rate()
        pi_k = self.stationary
        joint = pi_k.sum(dim=tuple(range(c + 1, k))) if c + 1 < k else pi_k  # X_{1:c+1}
        marginal = joint.sum(dim=-1)  # X_{1:c}
        h_joint = float(_entropy(joint.reshape(-1)))
        h_marginal = float(_entropy(marginal.reshape(-1))) if c > 0 else 0.0
        return h_joint - h_marginal

    def block_entropy(self, length: int) -> float:
        r"""The block entropy :math:`H(X_{1:n}) = -\sum_{x_{1:n}} p(x_{1:n}) \log p(x_{1:n})` in nats, ``n = length``.

        Computed by brute force: all :math:`V^n` sequences are enumerated and scored with :meth:`log_prob` (the
        chain rule from ``initial``), so nothing about the order of the chain is assumed (:math:`H(X_{1:0}) = 0`).
        For a stationary chain the differences are the conditional entropies,
        :math:`H(X_{1:c+1}) - H(X_{1:c}) = H(X_t \mid X_{t-c:t-1})` — an independent check of
        :meth:`conditional_entropy`, which for :math:`c \ge k` returns the entropy rate by construction
        (notebook 05, section 2, "What context buys"). At most ``2**18`` sequences (:math:`V^n \le 262144`).
        """
        n = check_int(length, "length", minimum=0)
        v = self.vocab_size
        if v**n > self._MAX_BLOCK:
            raise ValueError(
                f"length must keep V^length <= {self._MAX_BLOCK} sequences to enumerate, got {v}^{n} = {v**n}"
            )
        if n == 0:
            return 0.0
        index = torch.arange(v**n)
        seqs = torch.stack([(index // v ** (n - 1 - j)) % v for j in range(n)], dim=1)  # every x_{1:n}, base-V digits
        log_p = self.log_prob(seqs).double()
        p = log_p.exp()
        return float(-torch.where(p > 0, p * log_p, torch.zeros_like(p)).sum())

    def first_token_entropy(self) -> float:
        r""":math:`H(X_1)` in nats: the cost of the first symbol of a stationary sequence (:math:`H(\pi)`)."""
        return self.conditional_entropy(0)

    def sequence_floor(self, length: int, score_first: bool = False) -> float:
        r"""The lowest reachable per-token NLL (nats) on stationary sequences of ``length`` symbols.

        Token :math:`t` costs at least :math:`H(X_t \mid X_{<t})`, the conditional entropy with context
        :math:`\min(t-1, k)`. An autoregressive model that does not score the first token
        (:func:`~mmobjectives.losses.autoregressive_nll` predicts tokens 2..T) averages tokens 2..T: for order 1
        that is exactly :math:`H`. Scoring the first token too averages tokens 1..T: for order 1
        :math:`[H(\pi) + (T-1) H] / T`.
        """
        length = check_int(length, "length", minimum=1)
        if not score_first and length < 2:
            raise ValueError(f"length must be >= 2 when the first token is not scored, got {length}")
        first = 1 if score_first else 2
        costs = [self.conditional_entropy(min(t - 1, self.order)) for t in range(first, length + 1)]
        return sum(costs) / len(costs)
