"""Notebook 07's new parts: the text-embedding-conditioned noise predictor and the CLIP score."""

from __future__ import annotations

import pytest
import torch

from mmobjectives import metrics
from mmobjectives.models import TextConditionedEpsNet


def test_text_conditioned_eps_shapes_and_condition_matters():
    torch.manual_seed(0)
    net = TextConditionedEpsNet(cond_dim=4, image_size=8, hidden=32, n_layers=2)
    x = torch.randn(5, 1, 8, 8)
    cond = torch.randn(5, 4)
    out = net(x, torch.rand(5), cond)
    assert out.shape == x.shape
    assert net(x.reshape(5, 64), 0.3, cond).shape == (5, 64)
    assert not torch.allclose(net(x, 0.3, cond), net(x, 0.3, cond + 1.0))


def test_guidance_formula_and_null_condition():
    torch.manual_seed(1)
    net = TextConditionedEpsNet(cond_dim=3, image_size=4, hidden=16, n_layers=1)
    x, cond = torch.randn(6, 16), torch.randn(6, 3)
    expected = 3.0 * net(x, 0.5, cond) - 2.0 * net(x, 0.5, torch.zeros_like(cond))
    torch.testing.assert_close(net.guided_eps(x, 0.5, cond, w=2.0), expected)
    torch.testing.assert_close(net.guided_eps(x, 0.5, cond, w=0.0), net(x, 0.5, cond))


def test_drop_conditions_zeroes_a_fraction_of_rows():
    net = TextConditionedEpsNet(cond_dim=2, p_uncond=0.3)
    cond = torch.ones(10_000, 2)
    dropped = net.drop_conditions(cond, generator=torch.Generator().manual_seed(0))
    zero_rows = (dropped == 0).all(1)
    assert abs(zero_rows.float().mean().item() - 0.3) < 0.02
    assert bool((dropped[~zero_rows] == 1).all())


def test_text_conditioned_eps_bad_inputs():
    net = TextConditionedEpsNet(cond_dim=3, image_size=4, hidden=8, n_layers=1)
    with pytest.raises(ValueError, match="cond"):
        net(torch.randn(2, 16), 0.5, torch.randn(2, 4))
    with pytest.raises(ValueError, match="cond"):
        net(torch.randn(2, 16), 0.5, torch.randn(3, 3))
    with pytest.raises(ValueError, match="cond"):
        net(torch.randn(2, 16), 0.5, torch.ones(2, 3, dtype=torch.long))
    with pytest.raises(ValueError, match="x"):
        net(torch.randn(2, 9), 0.5, torch.randn(2, 3))
    with pytest.raises(ValueError, match="t"):
        net(torch.randn(2, 16), 1.5, torch.randn(2, 3))
    with pytest.raises(ValueError, match="cond_dim"):
        TextConditionedEpsNet(cond_dim=0)
    with pytest.raises(ValueError, match="p_uncond"):
        TextConditionedEpsNet(cond_dim=2, p_uncond=1.5)


def test_clip_score_is_clipped_scaled_cosine():
    a = torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 2.0]])
    b = torch.tensor([[2.0, 0.0], [-1.0, 0.0], [1.0, 1.0]])
    got = metrics.clip_score(a, b)
    torch.testing.assert_close(got, torch.tensor([2.5, 0.0, 2.5 / 2**0.5]))
    torch.testing.assert_close(metrics.clip_score(a, b, w=1.0), got / 2.5)
    with pytest.raises(ValueError, match="z_text"):
        metrics.clip_score(a, b[:2])
    with pytest.raises(ValueError, match="w"):
        metrics.clip_score(a, b, w=0.0)
