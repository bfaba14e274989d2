"""Tests for the calibration metrics (metrics.expected_calibration_error, reliability_curve) and their figure."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402

from mmobjectives import metrics, viz  # noqa: E402

# Four predictions, two bins (0, 0.5] and (0.5, 1]:
#   conf 0.9 correct, conf 0.7 wrong  -> bin 1: accuracy 0.5, confidence 0.8, gap 0.3
#   conf 0.4 correct, conf 0.4 wrong  -> bin 0: accuracy 0.5, confidence 0.4, gap 0.1
# ECE = 2/4 * 0.3 + 2/4 * 0.1 = 0.2
HAND_PROBS = np.array(
    [
        [0.9, 0.05, 0.05],
        [0.2, 0.7, 0.1],
        [0.4, 0.3, 0.3],
        [0.3, 0.3, 0.4],
    ]
)
HAND_LABELS = np.array([0, 0, 0, 1])


def calibrated_sample(n: int, k: int, seed: int, overconfidence: float = 0.0) -> tuple[torch.Tensor, torch.Tensor]:
    """Probabilities whose top class is right with probability exactly its confidence (minus ``overconfidence``)."""
    g = torch.Generator().manual_seed(seed)
    conf = 1 / k + (1 - 1 / k) * torch.rand(n, generator=g, dtype=torch.float64)
    probs = torch.empty(n, k, dtype=torch.float64)
    probs[:] = ((1 - conf) / (k - 1))[:, None]
    top = torch.randint(0, k, (n,), generator=g)
    probs[torch.arange(n), top] = conf
    correct = torch.rand(n, generator=g, dtype=torch.float64) < (conf - overconfidence)
    wrong = (top + torch.randint(1, k, (n,), generator=g)) % k  # any class but the top one
    return probs, torch.where(correct, top, wrong)


def test_hand_computed_example() -> None:
    conf, acc, count = metrics.reliability_curve(HAND_PROBS, HAND_LABELS, n_bins=2)
    np.testing.assert_allclose(conf, [0.4, 0.8])
    np.testing.assert_allclose(acc, [0.5, 0.5])
    assert count.tolist() == [2, 2] and count.dtype == np.int64
    ece = metrics.expected_calibration_error(torch.as_tensor(HAND_PROBS), torch.as_tensor(HAND_LABELS), n_bins=2)
    assert isinstance(ece, float) and ece == pytest.approx(0.2, abs=1e-12)


def test_bins_are_closed_on_the_right() -> None:
    # confidence 0.5 belongs to (0, 0.5], confidence 1.0 to the last bin; ties predict the first class
    probs = np.array([[0.5, 0.5], [1.0, 0.0], [0.25, 0.75]])
    labels = np.array([0, 0, 1])
    conf, acc, count = metrics.reliability_curve(probs, labels, n_bins=4)
    assert count.tolist() == [0, 1, 1, 1]
    np.testing.assert_allclose(conf[1:], [0.5, 0.75, 1.0])
    np.testing.assert_allclose(acc[1:], [1.0, 1.0, 1.0])


def test_curve_shapes_and_nan_for_empty_bins() -> None:
    conf, acc, count = metrics.reliability_curve(HAND_PROBS, HAND_LABELS)  # 15 bins by default
    assert conf.shape == acc.shape == count.shape == (15,)
    assert isinstance(conf, np.ndarray) and isinstance(acc, np.ndarray) and isinstance(count, np.ndarray)
    empty = count == 0
    assert empty.sum() == 12  # 0.4 (twice), 0.7, 0.9 fill three bins
    assert np.isnan(conf[empty]).all() and np.isnan(acc[empty]).all()
    assert np.isfinite(conf[~empty]).all() and np.isfinite(acc[~empty]).all()
    assert count.sum() == 4


def test_calibrated_predictions_have_small_ece() -> None:
    probs, labels = calibrated_sample(100_000, k=4, seed=0)
    ece = metrics.expected_calibration_error(probs, labels)
    assert ece < 0.01  # sampling noise alone: about 0.003 here
    conf, acc, count = metrics.reliability_curve(probs, labels, n_bins=10)
    full = count > 1000
    assert np.abs(acc[full] - conf[full]).max() < 0.03


def test_overconfident_predictions_have_large_ece() -> None:
    probs, labels = calibrated_sample(20_000, k=4, seed=1, overconfidence=0.3)
    assert metrics.expected_calibration_error(probs, labels) == pytest.approx(0.3, abs=0.02)
    # always 99 % sure, right 60 % of the time
    n = 10_000
    probs = torch.full((n, 2), 0.01, dtype=torch.float64)
    probs[:, 0] = 0.99
    labels = (torch.arange(n) % 5 >= 3).long()  # class 0 for 3 in 5
    assert metrics.expected_calibration_error(probs, labels) == pytest.approx(0.39, abs=1e-9)


def test_float32_softmax_rows_are_accepted() -> None:
    logits = torch.randn(1000, 10, generator=torch.Generator().manual_seed(0)) * 3
    labels = torch.randint(0, 10, (1000,), generator=torch.Generator().manual_seed(1))
    ece = metrics.expected_calibration_error(logits.softmax(dim=1), labels)
    assert 0 <= ece <= 1


@pytest.mark.parametrize(
    "probs,labels,n_bins,error,name",
    [
        (np.array([0.5, 0.5]), np.array([0]), 15, ValueError, "probs"),
        (np.array([[1.0], [1.0]]), np.array([0, 0]), 15, ValueError, "probs"),
        (np.array([[2.0, -1.0]]), np.array([0]), 15, ValueError, "probs"),
        (np.array([[0.3, 0.3]]), np.array([0]), 15, ValueError, "probs"),
        (np.array([[np.nan, 0.5]]), np.array([0]), 15, ValueError, "probs"),
        (np.array([["a", "b"]]), np.array([0]), 15, TypeError, "probs"),
        (HAND_PROBS, HAND_LABELS.astype(float), 15, TypeError, "labels"),
        (HAND_PROBS, HAND_LABELS[:3], 15, ValueError, "labels"),
        (HAND_PROBS, np.array([0, 1, 2, 3]), 15, ValueError, "labels"),
        (HAND_PROBS, HAND_LABELS, 0, ValueError, "n_bins"),
        (HAND_PROBS, HAND_LABELS, 2.5, TypeError, "n_bins"),
    ],
)
def test_bad_inputs_name_the_argument(probs, labels, n_bins, error, name) -> None:
    with pytest.raises(error, match=name):
        metrics.expected_calibration_error(probs, labels, n_bins=n_bins)
    with pytest.raises(error, match=name):
        metrics.reliability_curve(probs, labels, n_bins=n_bins)
    with pytest.raises(error, match=name):
        viz.plot_reliability_diagram(probs, labels, n_bins=n_bins)
    plt.close("all")


def test_reliability_diagram() -> None:
    probs, labels = calibrated_sample(5_000, k=3, seed=2, overconfidence=0.2)
    ax = viz.plot_reliability_diagram(probs, labels, n_bins=10, title="overconfident", label="net")
    assert isinstance(ax, Axes)
    assert ax.get_xlabel() == "confidence" and ax.get_ylabel() == "accuracy"
    assert ax.get_title() == "overconfident"
    legend = " ".join(t.get_text() for t in ax.get_legend().get_texts())
    ece = metrics.expected_calibration_error(probs, labels, n_bins=10)
    assert "ECE" in legend and f"{ece:.3f}" in legend and "net" in legend
    plt.close("all")
    _, given = plt.subplots()
    assert viz.plot_reliability_diagram(HAND_PROBS, HAND_LABELS, n_bins=2, ax=given) is given
    legend = " ".join(t.get_text() for t in given.get_legend().get_texts())
    assert "0.200" in legend
    with pytest.raises(TypeError, match="ax"):
        viz.plot_reliability_diagram(HAND_PROBS, HAND_LABELS, ax="axes")
    plt.close("all")


@pytest.mark.parametrize("n_bins", [2, 10, 15])
def test_reliability_diagram_draws_what_reliability_curve_computes(n_bins: int) -> None:
    probs, labels = calibrated_sample(2_000, k=4, seed=3, overconfidence=0.1)
    conf, acc, count = metrics.reliability_curve(probs, labels, n_bins=n_bins)
    ax = viz.plot_reliability_diagram(probs, labels, n_bins=n_bins)
    accuracy_bars, gap_bars = ax.containers
    full = count > 0
    lefts = np.arange(n_bins)[full] / n_bins
    np.testing.assert_allclose([bar.get_x() for bar in accuracy_bars], lefts)
    np.testing.assert_allclose([bar.get_height() for bar in accuracy_bars], acc[full])
    np.testing.assert_allclose([bar.get_width() for bar in accuracy_bars], 1 / n_bins)
    np.testing.assert_allclose([bar.get_y() for bar in gap_bars], acc[full])  # the gap starts at the accuracy
    np.testing.assert_allclose([bar.get_y() + bar.get_height() for bar in gap_bars], conf[full])  # ... ends at conf
    plt.close("all")
