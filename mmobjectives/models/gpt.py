"""Autoregressive language models of notebook 05: a tiny causal transformer and the n-gram count baseline.

:class:`TinyGPT` is nanoGPT in miniature (causal self-attention → block → model, read top to bottom);
:class:`NGramModel` sees only the last ``context`` tokens and, with enough data, reaches the source's
``conditional_entropy(context)`` but never goes below it. Both map token ids (B, T) to next-token scores
(B, T, V), so ``losses.autoregressive_nll`` and ``sampling.sample_tokens`` take either.

Shapes: B batch, T positions, V vocabulary, D = ``d_model``, H heads of width D/H.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from .._checks import check_int, check_positive, check_real
from ._common import check_token_ids

__all__ = ["NGramModel", "TinyGPT"]


class _CausalSelfAttention(nn.Module):
    r"""Multi-head self-attention in which position t attends only to positions <= t. Part of :class:`TinyGPT`.

    Per head: :math:`\operatorname{softmax}\big(QK^\top/\sqrt{d_h} + M\big)V` with :math:`M_{ts} = -\infty` for
    :math:`s > t` (the causal mask), :math:`d_h = D/H`.
    """

    def __init__(self, d_model: int, n_heads: int, dropout: float) -> None:
        super().__init__()
        self.n_heads, self.d_head = n_heads, d_model // n_heads
        self.q = nn.Linear(d_model, d_model)
        self.k = nn.Linear(d_model, d_model)
        self.v = nn.Linear(d_model, d_model)
        self.out = nn.Linear(d_model, d_model)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        b, t, d = x.shape  # (B, T, D)

        def heads(z: torch.Tensor) -> torch.Tensor:  # (B, T, D) -> (B, H, T, D/H)
            return z.view(b, t, self.n_heads, self.d_head).transpose(1, 2)

        q, k, v = heads(self.q(x)), heads(self.k(x)), heads(self.v(x))  # (B, H, T, D/H) each
        scores = q @ k.transpose(-2, -1) / math.sqrt(self.d_head)  # (B, H, T, T)
        future = torch.triu(torch.ones(t, t, dtype=torch.bool, device=x.device), diagonal=1)  # (T, T)
        scores = scores.masked_fill(future, float("-inf"))  # no peeking at later tokens
        weights = torch.softmax(scores, dim=-1)  # (B, H, T, T), rows sum to 1
        mixed = (self.dropout(weights) @ v).transpose(1, 2).reshape(b, t, d)  # (B, H, T, D/H) -> (B, T, D)
        return self.out(mixed), weights


class _Block(nn.Module):
    """A pre-LayerNorm transformer block: ``x + attn(ln(x))`` then ``x + mlp(ln(x))``. Part of :class:`TinyGPT`."""

    def __init__(self, d_model: int, n_heads: int, dropout: float) -> None:
        super().__init__()
        self.ln1 = nn.LayerNorm(d_model)
        self.attn = _CausalSelfAttention(d_model, n_heads, dropout)
        self.ln2 = nn.LayerNorm(d_model)
        self.mlp = nn.Sequential(
            nn.Linear(d_model, 4 * d_model), nn.GELU(), nn.Linear(4 * d_model, d_model), nn.Dropout(dropout)
        )

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        attended, weights = self.attn(self.ln1(x))  # (B, T, D), (B, H, T, T)
        x = x + attended  # (B, T, D)
        x = x + self.mlp(self.ln2(x))  # (B, T, D)
        return x, weights


class TinyGPT(nn.Module):
    """A tiny causal transformer language model (nanoGPT-like). Notebook 05.

    Token ids (B, T) → next-token logits (B, T, vocab_size): token + learned position embeddings, ``n_layers``
    pre-LayerNorm blocks (causal multi-head self-attention, then a 4×-wide GELU MLP, each with a residual
    connection), a final LayerNorm and a linear head. The logits at position t depend only on tokens 0..t.

    ``forward(tokens, return_attention=True)`` also returns the attention weights, a list with one
    (B, n_heads, T, T) tensor per layer (rows sum to 1, zero above the diagonal).

    Initialisation: weights N(0, 0.02²) as in GPT-2, so the initial logits are small and the initial
    cross-entropy is close to ln(vocab_size) — the loss of a uniform guess.

    Args:
        vocab_size: number of token ids.
        d_model: embedding width (divisible by ``n_heads``).
        n_layers: number of transformer blocks.
        n_heads: attention heads per block.
        max_len: the longest sequence (context) the model accepts.
        dropout: dropout probability on attention weights, MLP output and embeddings (0 = off).
    """

    def __init__(
        self,
        vocab_size: int,
        d_model: int = 64,
        n_layers: int = 2,
        n_heads: int = 4,
        max_len: int = 64,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        self.vocab_size = check_int(vocab_size, "vocab_size", minimum=1)
        self.d_model = check_int(d_model, "d_model", minimum=1)
        self.n_layers = check_int(n_layers, "n_layers", minimum=1)
        self.n_heads = check_int(n_heads, "n_heads", minimum=1)
        self.max_len = check_int(max_len, "max_len", minimum=1)
        dropout = check_real(dropout, "dropout")
        if not 0 <= dropout < 1:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        if d_model % n_heads:
            raise ValueError(f"d_model must be divisible by n_heads={n_heads}, got {d_model}")
        self.token_embed = nn.Embedding(vocab_size, d_model)
        self.pos_embed = nn.Embedding(max_len, d_model)
        self.dropout = nn.Dropout(dropout)
        self.blocks = nn.ModuleList(_Block(d_model, n_heads, dropout) for _ in range(n_layers))
        self.ln_f = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, vocab_size)
        self.apply(self._init_weights)

    @staticmethod
    def _init_weights(module: nn.Module) -> None:
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)
        if isinstance(module, nn.Linear) and module.bias is not None:
            nn.init.zeros_(module.bias)

    def forward(
        self, tokens: torch.Tensor, return_attention: bool = False
    ) -> torch.Tensor | tuple[torch.Tensor, list[torch.Tensor]]:
        tokens = check_token_ids(tokens, "tokens", self.vocab_size, allow_empty=True)  # (B, T)
        t = tokens.shape[1]
        if t > self.max_len:
            raise ValueError(f"tokens must have at most max_len={self.max_len} positions, got T={t}")
        positions = torch.arange(t, device=tokens.device)  # (T,)
        x = self.dropout(self.token_embed(tokens.long()) + self.pos_embed(positions))  # (B, T, D)
        attentions = []
        for block in self.blocks:
            x, weights = block(x)  # (B, T, D), (B, H, T, T)
            attentions.append(weights)
        logits = self.head(self.ln_f(x))  # (B, T, V)
        return (logits, attentions) if return_attention else logits


class NGramModel(nn.Module):
    r"""A count model that sees only the last ``context`` tokens: the classical baseline of notebook 05.

    ``fit(seqs)`` counts, for every context length :math:`j \le c` (``c = context``), how often each token
    follows each :math:`j` tokens, and estimates with add-``alpha`` smoothing

    .. math::
        p_\theta(b \mid a_{1:j}) = \frac{N(a_{1:j}, b) + \alpha}{N(a_{1:j}) + \alpha V}.

    ``forward(tokens)`` returns (B, T, V) log-probabilities laid out like a causal model's logits: position
    :math:`t` predicts token :math:`t+1` from the last :math:`\min(t+1, c)` tokens, so it plugs into
    ``losses.autoregressive_nll`` and ``sampling.sample_tokens`` like ``TinyGPT``. With enough data its NLL
    approaches the source's ``conditional_entropy(c)``; no amount of data takes it below that.

    Args:
        vocab_size: number of token ids.
        context: :math:`c`, how many previous tokens the model sees (0 = unigram).
        alpha: add-alpha smoothing (> 0, so no test token gets probability 0).
    """

    def __init__(self, vocab_size: int, context: int, alpha: float = 0.1) -> None:
        super().__init__()
        self.vocab_size = check_int(vocab_size, "vocab_size", minimum=1)
        self.context = check_int(context, "context", minimum=0)
        self.alpha = check_positive(alpha, "alpha")
        if self.vocab_size ** (self.context + 1) > 2**22:
            raise ValueError(
                f"vocab_size ** (context + 1) must be at most 2**22 count cells, got "
                f"{self.vocab_size}^{self.context + 1}"
            )
        for j in range(self.context + 1):  # counts_j[a_1..a_j as a base-V number, b] = N(a_{1:j}, b)
            self.register_buffer(f"counts_{j}", torch.zeros(self.vocab_size**j, self.vocab_size, dtype=torch.float64))

    def _counts(self, j: int) -> torch.Tensor:
        return getattr(self, f"counts_{j}")  # (V**j, V)

    def fit(self, seqs: torch.Tensor) -> NGramModel:
        """Add the counts of every (context, next token) pair in (N, T) ``seqs``; returns ``self``."""
        s = check_token_ids(seqs, "seqs", self.vocab_size).cpu()  # (N, T)
        v = self.vocab_size
        for j in range(self.context + 1):
            for t in range(j, s.shape[1]):
                index = torch.zeros(s.shape[0], dtype=torch.long)  # (N,) the context s[:, t-j:t] in base V
                for i in range(t - j, t):
                    index = index * v + s[:, i]
                flat = self._counts(j).view(-1)
                flat.index_add_(0, index * v + s[:, t], torch.ones(s.shape[0], dtype=flat.dtype))
        return self

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        tokens = check_token_ids(tokens, "tokens", self.vocab_size)  # (B, T)
        b, t = tokens.shape
        v = self.vocab_size
        out = torch.empty(b, t, v, dtype=torch.float64, device=tokens.device)  # (B, T, V)
        for pos in range(t):
            j = min(pos + 1, self.context)
            index = torch.zeros(b, dtype=torch.long, device=tokens.device)  # (B,) the last j tokens in base V
            for i in range(pos + 1 - j, pos + 1):
                index = index * v + tokens[:, i]
            counts = self._counts(j).to(tokens.device)[index]  # (B, V)
            # p_θ(b | a_{1:j}) = (N(a_{1:j}, b) + α) / (N(a_{1:j}) + αV)
            out[:, pos] = torch.log(counts + self.alpha) - torch.log(counts.sum(dim=1, keepdim=True) + self.alpha * v)
        return out.to(torch.get_default_dtype())
