"""Type aliases for what the experiments accept: numbers as a tensor, an array or nested sequences."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

Numbers = torch.Tensor | np.ndarray | Sequence[float] | Sequence[Sequence[float]]
Indices = torch.Tensor | np.ndarray | Sequence[int]
