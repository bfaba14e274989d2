"""Tests for mmobjectives.metrics: the InfoNCE MI bound, alignment/uniformity and retrieval recall."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from mmobjectives import metrics
from mmobjectives.metrics import alignment, infonce_mi_bound, recall_at_k, uniformity, uniformity_optimum

# ---------------------------------------------------------------------------------------------------------------
# infonce_mi_bound
# ---------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("loss", "n"), [(0.0, 1), (0.0, 64), (1.5, 64), (4.0, 2), (0.25, 1000)])
def test_infonce_mi_bound_formula(loss, n) -> None:
    assert infonce_mi_bound(loss, n) == pytest.approx(math.log(n) - loss, rel=1e-15, abs=1e-15)
    assert isinstance(infonce_mi_bound(loss, n), float)
    out = infonce_mi_bound(torch.tensor(loss, dtype=torch.float64), n)
    assert isinstance(out, torch.Tensor)
    assert float(out) == pytest.approx(math.log(n) - loss, rel=1e-15, abs=1e-15)
    assert infonce_mi_bound(loss, np.int64(n)) == pytest.approx(math.log(n) - loss)


def test_infonce_mi_bound_perfect_loss_is_log_n_and_keeps_gradient() -> None:
    assert infonce_mi_bound(0.0, 64) == pytest.approx(math.log(64))  # the ceiling, however large the true MI
    loss = torch.tensor(1.0, requires_grad=True)
    infonce_mi_bound(loss, 8).backward()
    assert float(loss.grad) == -1.0


@pytest.mark.parametrize(
    ("loss", "n", "error", "name"),
    [
        (1.0, 0, ValueError, "n"),
        (1.0, -3, ValueError, "n"),
        (1.0, 2.0, TypeError, "n"),
        (1.0, True, TypeError, "n"),
        (float("nan"), 4, ValueError, "loss"),
        (float("inf"), 4, ValueError, "loss"),
        (torch.tensor(float("nan")), 4, ValueError, "loss"),
        ("1.0", 4, TypeError, "loss"),
    ],
)
def test_infonce_mi_bound_bad_inputs(loss, n, error, name) -> None:
    with pytest.raises(error, match=name):
        infonce_mi_bound(loss, n)


# ---------------------------------------------------------------------------------------------------------------
# alignment
# ---------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("alpha", [2.0, 1.0, 0.5, 3])
@pytest.mark.parametrize(("n", "d"), [(1, 3), (7, 2), (20, 5)])
def test_alignment_matches_loop(alpha, n, d) -> None:
    g = torch.Generator().manual_seed(n * d)
    z_a = torch.randn(n, d, generator=g, dtype=torch.float64)
    z_b = torch.randn(n, d, generator=g, dtype=torch.float64)
    total = 0.0
    for i in range(n):
        dist = math.sqrt(sum((float(z_a[i, k]) - float(z_b[i, k])) ** 2 for k in range(d)))
        total += dist**alpha
    assert float(alignment(z_a, z_b, alpha)) == pytest.approx(total / n, rel=1e-12)


def test_alignment_known_values() -> None:
    z = F.normalize(torch.randn(10, 4, generator=torch.Generator().manual_seed(0)), dim=1)
    assert float(alignment(z, z)) == 0.0
    assert float(alignment(z, -z)) == pytest.approx(4.0, rel=1e-5)  # antipodal unit vectors: |a - b|^2 = 4
    assert float(alignment(z, -z, alpha=1.0)) == pytest.approx(2.0, rel=1e-5)


@pytest.mark.parametrize(
    ("z_a", "z_b", "alpha", "error", "name"),
    [
        (torch.randn(3, 2), torch.randn(4, 2), 2.0, ValueError, "z_a and z_b"),
        (torch.randn(3), torch.randn(3), 2.0, ValueError, "z_a"),
        (torch.randn(0, 2), torch.randn(0, 2), 2.0, ValueError, "z_a"),
        (torch.ones(3, 2, dtype=torch.long), torch.randn(3, 2), 2.0, TypeError, "z_a"),
        (torch.randn(3, 2), torch.full((3, 2), float("nan")), 2.0, ValueError, "z_b"),
        (torch.randn(3, 2), torch.randn(3, 2), 0.0, ValueError, "alpha"),
        (torch.randn(3, 2), torch.randn(3, 2), -1.0, ValueError, "alpha"),
        (torch.randn(3, 2), torch.randn(3, 2), float("inf"), ValueError, "alpha"),
    ],
)
def test_alignment_bad_inputs(z_a, z_b, alpha, error, name) -> None:
    with pytest.raises(error, match=name):
        alignment(z_a, z_b, alpha)


# ---------------------------------------------------------------------------------------------------------------
# uniformity
# ---------------------------------------------------------------------------------------------------------------


def _uniformity_double_loop(z: torch.Tensor, t: float) -> float:
    rows = [[float(v) for v in row] for row in z.double()]
    n = len(rows)
    total, count = 0.0, 0
    for i in range(n):
        for j in range(i + 1, n):
            sq = sum((a - b) ** 2 for a, b in zip(rows[i], rows[j]))
            total += math.exp(-t * sq)
            count += 1
    return math.log(total / count)


@pytest.mark.parametrize("t", [0.5, 2.0, 5.0])
@pytest.mark.parametrize(("n", "d", "normalize"), [(2, 3, True), (9, 2, True), (16, 4, False), (25, 3, True)])
def test_uniformity_matches_double_loop(t, n, d, normalize) -> None:
    z = torch.randn(n, d, generator=torch.Generator().manual_seed(n + d), dtype=torch.float64)
    if normalize:
        z = F.normalize(z, dim=1)
    assert float(uniformity(z, t)) == pytest.approx(_uniformity_double_loop(z, t), rel=1e-10, abs=1e-12)


def test_uniformity_default_t_is_2() -> None:
    z = F.normalize(torch.randn(12, 3, generator=torch.Generator().manual_seed(2), dtype=torch.float64), dim=1)
    assert float(uniformity(z)) == pytest.approx(_uniformity_double_loop(z, 2.0), rel=1e-10)


def test_uniformity_finite_where_naive_underflows() -> None:
    z = torch.tensor([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]], dtype=torch.float64)  # squared distances 2, 4, 2
    t = 500.0
    sq = torch.pdist(z).pow(2)
    naive = torch.log(torch.exp(-t * sq).mean())
    assert naive == -math.inf  # exp(-1000) underflows to 0 even in float64
    ours = uniformity(z, t)
    assert torch.isfinite(ours)
    # exactly: log((2 e^{-1000} + e^{-2000}) / 3) = -1000 + log(2/3) + log1p(e^{-1000}/2)
    assert float(ours) == pytest.approx(-2 * t + math.log(2 / 3), rel=1e-12)
    # float32 as well, and gradients stay finite
    z32 = z.float().requires_grad_(True)
    out = uniformity(z32, t)
    out.backward()
    assert torch.isfinite(out) and bool(torch.isfinite(z32.grad).all())


def test_uniformity_lower_when_more_spread() -> None:
    g = torch.Generator().manual_seed(3)
    spread = F.normalize(torch.randn(200, 3, generator=g, dtype=torch.float64), dim=1)
    cap = F.normalize(torch.randn(200, 3, generator=g, dtype=torch.float64) + torch.tensor([3.0, 0, 0]), dim=1)
    assert float(uniformity(spread)) < float(uniformity(cap)) - 0.5
    collapsed = torch.ones(5, 3, dtype=torch.float64)
    assert float(uniformity(collapsed)) == 0.0  # log E e^0


@pytest.mark.parametrize(
    ("z", "t", "error", "name"),
    [
        (torch.randn(1, 3), 2.0, ValueError, "z"),
        (torch.randn(0, 3), 2.0, ValueError, "z"),
        (torch.randn(5), 2.0, ValueError, "z"),
        (torch.ones(4, 2, dtype=torch.int64), 2.0, TypeError, "z"),
        (torch.tensor([[0.0, float("inf")], [1.0, 0.0]]), 2.0, ValueError, "z"),
        (torch.randn(4, 2), 0.0, ValueError, "t"),
        (torch.randn(4, 2), -2.0, ValueError, "t"),
        (torch.randn(4, 2), float("nan"), ValueError, "t"),
    ],
)
def test_uniformity_bad_inputs(z, t, error, name) -> None:
    with pytest.raises(error, match=name):
        uniformity(z, t)


# ---------------------------------------------------------------------------------------------------------------
# uniformity_optimum
# ---------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("t", [0.1, 0.5, 1.0, 2.0, 5.0, 20.0])
def test_uniformity_optimum_closed_form_circle(t) -> None:
    # d = 2 (the circle): -2t + log I0(2t)
    assert uniformity_optimum(2, t) == pytest.approx(-2 * t + math.log(float(np.i0(2 * t))), rel=1e-9, abs=1e-12)


@pytest.mark.parametrize("t", [0.1, 0.5, 1.0, 2.0, 5.0, 20.0])
def test_uniformity_optimum_closed_form_sphere(t) -> None:
    # d = 3 (the 2-sphere): -2t + log(sinh(2t) / 2t)
    expected = -2 * t + math.log(math.sinh(2 * t) / (2 * t))
    assert uniformity_optimum(3, t) == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize("t", [0.5, 2.0, 5.0])
def test_uniformity_optimum_closed_form_d5(t) -> None:
    # d = 5: density of c is prop. to 1 - c^2, so E e^{2tc} = 3 (a cosh a - sinh a) / a^3 with a = 2t
    a = 2 * t
    expected = -2 * t + math.log(3 * (a * math.cosh(a) - math.sinh(a)) / a**3)
    assert uniformity_optimum(5, t) == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize("t", [0.5, 2.0])
def test_uniformity_optimum_monte_carlo_d5(t) -> None:
    g = torch.Generator().manual_seed(5)
    m = 400_000
    u = F.normalize(torch.randn(m, 5, generator=g, dtype=torch.float64), dim=1)
    v = F.normalize(torch.randn(m, 5, generator=g, dtype=torch.float64), dim=1)
    w = torch.exp(-t * (u - v).pow(2).sum(dim=1))
    mean = float(w.mean())
    se_log = float(w.std()) / (mean * math.sqrt(m))  # delta method: SE of log(mean)
    assert abs(math.log(mean) - uniformity_optimum(5, t)) < 5 * se_log


def test_uniform_sample_on_sphere_approaches_optimum() -> None:
    g = torch.Generator().manual_seed(11)
    z = F.normalize(torch.randn(2000, 3, generator=g, dtype=torch.float64), dim=1)
    optimum = uniformity_optimum(3)
    assert abs(float(uniformity(z)) - optimum) < 0.015
    # a sample from a non-uniform distribution stays well above it
    cap = F.normalize(torch.randn(2000, 3, generator=g, dtype=torch.float64) + torch.tensor([2.0, 0, 0]), dim=1)
    assert float(uniformity(cap)) > optimum + 0.3


def test_uniformity_optimum_properties() -> None:
    # more room in higher dimensions: the optimum decreases with d, towards -2t (orthogonal vectors, |u - v|^2 = 2)
    values = [uniformity_optimum(d) for d in (2, 3, 5, 10, 50, 500)]
    assert all(a > b for a, b in zip(values, values[1:]))
    assert values[-1] > -4.0 and values[-1] == pytest.approx(-4.0 + 0.5 * 16 / 500, abs=0.01)
    # a finer grid changes nothing visible
    assert uniformity_optimum(7, 1.5, n_grid=2001) == pytest.approx(uniformity_optimum(7, 1.5), rel=1e-8)


@pytest.mark.parametrize(
    ("kwargs", "error", "name"),
    [
        ({"dim": 1}, ValueError, "dim"),
        ({"dim": 0}, ValueError, "dim"),
        ({"dim": 3.0}, TypeError, "dim"),
        ({"dim": 3, "t": 0.0}, ValueError, "t"),
        ({"dim": 3, "t": -1.0}, ValueError, "t"),
        ({"dim": 3, "t": float("inf")}, ValueError, "t"),
        ({"dim": 3, "n_grid": 10}, ValueError, "n_grid"),
    ],
)
def test_uniformity_optimum_bad_inputs(kwargs, error, name) -> None:
    with pytest.raises(error, match=name):
        uniformity_optimum(**kwargs)


# ---------------------------------------------------------------------------------------------------------------
# recall_at_k
# ---------------------------------------------------------------------------------------------------------------


def _recall_reference(sim: torch.Tensor, k: int) -> float:
    n = sim.shape[0]
    hits = 0
    for i in range(n):
        # pessimistic rank: 1 + number of other candidates scoring at least as high as the match
        rank = 1 + sum(1 for j in range(n) if j != i and float(sim[i, j]) >= float(sim[i, i]))
        hits += rank <= k
    return hits / n


def test_recall_perfect_diagonal() -> None:
    sim = torch.eye(5)
    for k in (1, 2, 5):
        assert recall_at_k(sim, k) == 1.0
    assert recall_at_k(torch.ones(1, 1)) == 1.0


def test_recall_match_ranked_second() -> None:
    # each row's best candidate is the next one (cyclically), the match is second
    sim = torch.tensor(
        [
            [0.5, 0.9, 0.1, 0.0],
            [0.0, 0.5, 0.9, 0.1],
            [0.1, 0.0, 0.5, 0.9],
            [0.9, 0.1, 0.0, 0.5],
        ]
    )
    assert recall_at_k(sim, 1) == 0.0
    assert recall_at_k(sim, 2) == 1.0
    assert recall_at_k(sim, 3) == 1.0


def test_recall_partial_and_direction() -> None:
    sim = torch.tensor(
        [
            [1.0, 0.0, 0.0],  # match first
            [0.0, 0.2, 0.9],  # match second
            [0.5, 0.8, 0.3],  # match third
        ]
    )
    assert recall_at_k(sim, 1) == 1 / 3  # exactly hits / N
    assert recall_at_k(sim, 2) == 2 / 3
    assert recall_at_k(sim, 3) == 1.0
    # the other direction (columns): column 1 has 0.8 above its match 0.2; column 2 has 0.9 above 0.3
    assert recall_at_k(sim.T, 1) == pytest.approx(1 / 3)
    assert recall_at_k(sim.T, 2) == 1.0


def test_recall_ties_count_against() -> None:
    assert recall_at_k(torch.ones(4, 4), 1) == 0.0
    assert recall_at_k(torch.ones(4, 4), 3) == 0.0
    assert recall_at_k(torch.ones(4, 4), 4) == 1.0
    sim = torch.tensor([[1.0, 1.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])  # row 0: match tied with candidate 1
    assert recall_at_k(sim, 1) == pytest.approx(2 / 3)
    assert recall_at_k(sim, 2) == 1.0


@pytest.mark.parametrize("n", [1, 2, 5, 9])
def test_recall_k_at_least_n_is_one(n) -> None:
    sim = torch.randn(n, n, generator=torch.Generator().manual_seed(n))
    assert recall_at_k(sim, n) == 1.0
    assert recall_at_k(sim, n + 10) == 1.0
    assert recall_at_k(-torch.eye(n) if n > 1 else sim, n) == 1.0


@settings(max_examples=60, deadline=None)
@given(
    values=st.integers(1, 7).flatmap(
        lambda n: st.lists(st.lists(st.integers(-2, 2), min_size=n, max_size=n), min_size=n, max_size=n)
    ),
    k=st.integers(1, 8),
)
def test_recall_matches_reference(values, k) -> None:
    sim = torch.tensor(values, dtype=torch.float32)  # small integers: plenty of ties
    expected = _recall_reference(sim, k)
    assert recall_at_k(sim, k) == pytest.approx(expected, abs=1e-12)
    assert 0.0 <= recall_at_k(sim, k) <= 1.0
    assert recall_at_k(sim, k) <= recall_at_k(sim, k + 1)  # monotone in k


@pytest.mark.parametrize(
    ("sim", "k", "error", "name"),
    [
        (torch.randn(3, 4), 1, ValueError, "similarity"),
        (torch.randn(3), 1, ValueError, "similarity"),
        (torch.randn(0, 0), 1, ValueError, "similarity"),
        (torch.randn(2, 2, 2), 1, ValueError, "similarity"),
        (torch.eye(3, dtype=torch.long), 1, TypeError, "similarity"),
        ([[1.0, 0.0], [0.0, 1.0]], 1, TypeError, "similarity"),
        (torch.tensor([[1.0, float("nan")], [0.0, 1.0]]), 1, ValueError, "similarity"),
        (torch.eye(3), 0, ValueError, "k"),
        (torch.eye(3), -1, ValueError, "k"),
        (torch.eye(3), 1.0, TypeError, "k"),
        (torch.eye(3), True, TypeError, "k"),
    ],
)
def test_recall_bad_inputs(sim, k, error, name) -> None:
    with pytest.raises(error, match=name):
        recall_at_k(sim, k)


# -- optimal_critic_estimate streamed; the quality log ------------------------------------------------------------
def test_optimal_critic_estimate_streamed_equals_dense() -> None:
    dense = metrics.optimal_critic_estimate(6.0, 200, n_batches=4, generator=torch.Generator().manual_seed(3))
    streamed = metrics.optimal_critic_estimate(
        6.0, 200, n_batches=4, generator=torch.Generator().manual_seed(3), chunk_size=33
    )
    assert streamed[0] == pytest.approx(dense[0], abs=1e-5)  # the streamed path computes in float32
    assert streamed[1] == pytest.approx(dense[1], rel=1e-3)
    with pytest.raises(ValueError, match="chunk_size"):
        metrics.optimal_critic_estimate(6.0, 20, n_batches=2, chunk_size=0)


def test_record_quality_computes_distances_and_whether_the_target_is_met() -> None:
    metrics.quality_log(clear=True)
    ce = metrics.record_quality("CE - H", 0.53, optimum=0.50, target=0.05)
    assert ce["distance"] == pytest.approx(0.03) and ce["met"] is True
    mi = metrics.record_quality("MI", 8.0, optimum=8.5, target=0.3, better="higher")
    assert mi["distance"] == pytest.approx(0.5) and mi["met"] is False
    acc = metrics.record_quality("accuracy", 0.91, target=0.90, better="higher", unit="")
    assert acc["distance"] is None and acc["met"] is True
    smoke = metrics.record_quality("no target", 1.0, optimum=0.0)
    assert smoke["met"] is None
    rows = metrics.quality_log(clear=True)
    assert [r["measure"] for r in rows] == ["CE - H", "MI", "accuracy", "no target"]
    assert metrics.quality_log() == []
    with pytest.raises(ValueError, match="better"):
        metrics.record_quality("x", 1.0, better="up")
    with pytest.raises(TypeError, match="measure"):
        metrics.record_quality("", 1.0)
    with pytest.raises((TypeError, ValueError), match="value"):
        metrics.record_quality("x", float("nan"))


def test_more_negatives_lift_the_optimal_critic_above_a_small_batch_ceiling() -> None:
    """Notebook 01's streamed staircase step, at N = 4096 instead of 65,536: at 10 nats of true MI the optimal
    critic's estimate clears log 256 (the largest small batch's ceiling) by over a nat and stays below
    min(I, log N)."""
    est, se = metrics.optimal_critic_estimate(
        10.0, 4096, n_batches=2, generator=torch.Generator().manual_seed(0), chunk_size=512
    )
    assert math.log(256) + 1.0 < est <= min(10.0, math.log(4096)) + 3 * se
