"""The multilayer perceptron every other model is built from. Notebook 00 introduces it."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from .._checks import check_choice, check_int, describe

__all__ = ["MLP"]

_ACTIVATIONS = {"silu": nn.SiLU, "relu": nn.ReLU, "gelu": nn.GELU, "tanh": nn.Tanh}


class MLP(nn.Module):
    """A multilayer perceptron ``in_dim → hidden... → out_dim`` with an activation between layers.

    Args:
        in_dim: input features.
        out_dim: output features.
        hidden: widths of the hidden layers, e.g. ``(128, 128)``; empty for a linear model.
        activation: ``"silu"`` (smooth, good for score models whose derivative matters), ``"relu"``, ``"gelu"``
            or ``"tanh"``.
    """

    def __init__(self, in_dim: int, out_dim: int, hidden: Sequence[int] = (128, 128), activation: str = "silu") -> None:
        super().__init__()
        in_dim = check_int(in_dim, "in_dim", minimum=1)
        out_dim = check_int(out_dim, "out_dim", minimum=1)
        widths = [check_int(h, "hidden[i]", minimum=1) for h in hidden]
        check_choice(activation, "activation", tuple(_ACTIVATIONS))
        layers: list[nn.Module] = []
        sizes = [in_dim, *widths, out_dim]
        for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
            layers.append(nn.Linear(a, b))
            if i < len(sizes) - 2:  # no activation after the output layer
                layers.append(_ACTIVATIONS[activation]())
        self.net = nn.Sequential(*layers)
        self.in_dim, self.out_dim = in_dim, out_dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"x must be a tensor, got {describe(x)}")
        if x.shape[-1] != self.in_dim:
            raise ValueError(f"x must have {self.in_dim} features in its last dimension, got shape {tuple(x.shape)}")
        return self.net(x)  # (..., in_dim) -> (..., out_dim)
