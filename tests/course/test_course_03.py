"""Notebook 03's course pass: the package pieces its exercises and checks rely on."""

from __future__ import annotations

import pytest
import torch

from mmobjectives import losses


def _net(x: torch.Tensor) -> torch.Tensor:
    return torch.tanh(x @ torch.tensor([[1.0, 0.5], [-0.3, 2.0]], dtype=x.dtype)) - x**3


def test_sliced_score_matching_with_given_projections_equals_the_generator_draw() -> None:
    x = torch.randn(7, 2, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    v = torch.randn(3, 7, 2, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    drawn = losses.sliced_score_matching(
        _net, x, n_projections=3, generator=torch.Generator().manual_seed(5), reduction="none"
    )
    given = losses.sliced_score_matching(_net, x, n_projections=3, noise=v, reduction="none")
    torch.testing.assert_close(given, drawn, rtol=0, atol=0)


def test_sliced_score_matching_with_given_projections_is_the_formula() -> None:
    """vᵀ(∇ₓs)v + ½(vᵀs)², averaged over projections, for a linear score s(x) = Ax whose Jacobian is A."""
    A = torch.tensor([[-1.0, 0.4], [0.2, -2.0]], dtype=torch.float64)
    x = torch.randn(5, 2, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    v = torch.randn(2, 5, 2, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    s = x @ A.T
    expected = (torch.einsum("mni,ij,mnj->mn", v, A, v) + 0.5 * (v * s).sum(-1) ** 2).mean(0)
    got = losses.sliced_score_matching(lambda y: y @ A.T, x, n_projections=2, noise=v, reduction="none")
    torch.testing.assert_close(got, expected)


def test_sliced_score_matching_rejects_projections_of_the_wrong_shape() -> None:
    x = torch.zeros(4, 2, dtype=torch.float64)
    with pytest.raises(ValueError, match=r"noise must be a floating-point tensor of shape \(n_projections, N, D\)"):
        losses.sliced_score_matching(_net, x, noise=torch.zeros(4, 2, dtype=torch.float64))
    with pytest.raises(ValueError, match="noise must be"):
        losses.sliced_score_matching(_net, x, n_projections=2, noise=torch.zeros(1, 4, 2))
    with pytest.raises(ValueError, match="noise must be finite"):
        losses.sliced_score_matching(_net, x, noise=torch.full((1, 4, 2), float("nan")))
