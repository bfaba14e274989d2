"""Tests for mmobjectives.viz: every figure function returns its Axes, draws what it says and checks its input."""

from __future__ import annotations

import math

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402
from matplotlib.collections import PathCollection  # noqa: E402
from matplotlib.colors import to_hex  # noqa: E402
from matplotlib.quiver import Quiver  # noqa: E402

from mmobjectives import viz  # noqa: E402
from mmobjectives.data.toy2d import ring, two_modes  # noqa: E402
from mmobjectives.train import History  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture
def mixture():
    return ring(k=4, radius=2.0, std=0.5)


def _samples(n: int = 100) -> torch.Tensor:
    return ring(k=4, radius=2.0, std=0.5).sample(n, generator=torch.Generator().manual_seed(0))


# -- grid_2d ----------------------------------------------------------------------------------------------------
def test_grid_2d_shapes_and_bounds() -> None:
    xx, yy, points = viz.grid_2d(3.0, n=5)
    assert xx.shape == yy.shape == (5, 5)
    assert points.shape == (25, 2) and points.dtype == torch.float64
    np.testing.assert_array_equal(xx[0], np.linspace(-3, 3, 5))
    np.testing.assert_array_equal(yy[:, 0], np.linspace(-3, 3, 5))
    np.testing.assert_array_equal(points[:, 0].numpy(), xx.ravel())
    np.testing.assert_array_equal(points[:, 1].numpy(), yy.ravel())
    assert points.min() == -3.0 and points.max() == 3.0


def test_grid_2d_explicit_limits_and_default() -> None:
    xx, yy, points = viz.grid_2d((0.0, 1.0, -2.0, 2.0), n=3)
    np.testing.assert_array_equal(xx[0], [0.0, 0.5, 1.0])
    np.testing.assert_array_equal(yy[:, 0], [-2.0, 0.0, 2.0])
    xx, _, points = viz.grid_2d()
    assert xx.shape == (100, 100) and points.shape == (10_000, 2)
    assert float(points.abs().max()) == 6.0
    _, _, points = viz.grid_2d(2, n=4)  # an int limit works
    assert float(points.abs().max()) == 2.0


@pytest.mark.parametrize("lim", [-1.0, 0.0, (1.0, 0.0, 0.0, 1.0), (0.0, 1.0, 1.0, 1.0), (0.0, 1.0, 2.0)])
def test_grid_2d_rejects_bad_limits(lim) -> None:
    with pytest.raises(ValueError, match="lim"):
        viz.grid_2d(lim, n=3)


@pytest.mark.parametrize(("n", "exc"), [(1, ValueError), (0, ValueError), (2.5, TypeError)])
def test_grid_2d_rejects_bad_n(n, exc: type) -> None:
    with pytest.raises(exc, match=r"\bn\b"):
        viz.grid_2d(1.0, n=n)


# -- plot_density_2d ----------------------------------------------------------------------------------------------
def test_plot_density_2d_labels_and_limits(mixture) -> None:
    ax = viz.plot_density_2d(mixture, n_grid=30)
    assert isinstance(ax, Axes)
    assert ax.get_title() == "density $p(x)$"
    assert ax.get_xlabel() == "$x_1$" and ax.get_ylabel() == "$x_2$"
    assert ax.get_xlim() == (-6.0, 6.0) and ax.get_ylim() == (-6.0, 6.0)
    assert ax.get_legend() is None  # no samples, no legend


def test_plot_density_2d_with_samples_and_given_ax(mixture) -> None:
    fig, ax = plt.subplots()
    samples = _samples(300)
    out = viz.plot_density_2d(mixture, samples, ax=ax, lim=(-3, 3, -4, 4), n_grid=20, title="mine", max_points=120)
    assert out is ax
    assert len(fig.axes) == 1
    assert ax.get_title() == "mine"
    assert ax.get_xlim() == (-3.0, 3.0) and ax.get_ylim() == (-4.0, 4.0)
    scatters = [c for c in ax.collections if isinstance(c, PathCollection)]
    assert len(scatters) == 1
    np.testing.assert_allclose(scatters[0].get_offsets(), samples[:120].numpy())
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["samples"]


def test_plot_density_2d_accepts_a_callable_and_colorbar(mixture) -> None:
    ax = viz.plot_density_2d(mixture.log_prob, n_grid=20, title=None, colorbar=True)
    assert ax.get_title() == ""
    assert len(ax.figure.axes) == 2  # the colour bar


def test_plot_density_2d_density_values(mixture) -> None:
    """The filled contours span the density's range on the grid."""
    ax = viz.plot_density_2d(mixture, n_grid=40, lim=4.0)
    _, _, points = viz.grid_2d(4.0, 40)
    p_max = float(mixture.log_prob(points).exp().max())
    contour = next(c for c in ax.collections if hasattr(c, "levels"))
    assert contour.levels[-1] >= p_max
    assert contour.levels[0] <= 1e-3


def test_plot_density_2d_rejects_bad_input(mixture) -> None:
    with pytest.raises(TypeError, match="density"):
        viz.plot_density_2d(object(), n_grid=10)
    with pytest.raises(TypeError, match="density"):
        viz.plot_density_2d(np.zeros(3), n_grid=10)
    for bad in (torch.zeros(10, 3), torch.zeros(10), np.zeros((2, 2, 2))):
        with pytest.raises(ValueError, match="samples"):
            viz.plot_density_2d(mixture, bad, n_grid=10)
    with pytest.raises(TypeError, match="samples"):
        viz.plot_density_2d(mixture, "points", n_grid=10)
    with pytest.raises(TypeError, match="ax"):
        viz.plot_density_2d(mixture, n_grid=10, ax="axes")


# -- plot_score_field -----------------------------------------------------------------------------------------------
def test_plot_score_field_quiver_normalised(mixture) -> None:
    ax = viz.plot_score_field(mixture, n_arrows=9)
    assert isinstance(ax, Axes)
    assert ax.get_title() == r"score $\nabla_x \log p(x)$"
    assert ax.get_xlabel() == "$x_1$" and ax.get_ylabel() == "$x_2$"
    quivers = [c for c in ax.collections if isinstance(c, Quiver)]
    assert len(quivers) == 1
    q = quivers[0]
    assert q.N == 81
    np.testing.assert_allclose(np.hypot(q.U, q.V), 1.0, rtol=1e-12)
    # colours carry the true magnitude of the score
    _, _, points = viz.grid_2d(6.0, 9)
    np.testing.assert_allclose(q.get_array(), mixture.score(points).norm(dim=1).numpy(), rtol=1e-12)
    assert len(ax.figure.axes) == 2  # colour bar


def test_plot_score_field_unnormalised_and_direction(mixture) -> None:
    ax = viz.plot_score_field(mixture.score, n_arrows=5, normalize=False, title=None, lim=3.0)
    q = next(c for c in ax.collections if isinstance(c, Quiver))
    _, _, points = viz.grid_2d(3.0, 5)
    expected = mixture.score(points).numpy()
    np.testing.assert_allclose(np.asarray(q.U).ravel(), expected[:, 0], rtol=1e-12)
    np.testing.assert_allclose(np.asarray(q.V).ravel(), expected[:, 1], rtol=1e-12)
    assert ax.get_title() == ""


def test_plot_score_field_stream_over_density_on_given_ax() -> None:
    fig, ax = plt.subplots()
    gm = two_modes()
    out = viz.plot_score_field(gm, density=gm, kind="stream", n_arrows=10, ax=ax, lim=8.0, title="field")
    assert out is ax
    assert ax.get_title() == "field"
    assert ax.get_xlim() == (-8.0, 8.0)
    assert any(hasattr(c, "levels") for c in ax.collections)  # the density underneath
    assert len(fig.axes) == 2


@pytest.mark.parametrize("kind", ["arrows", "Quiver", "", None])
def test_plot_score_field_rejects_bad_kind(mixture, kind) -> None:
    with pytest.raises(ValueError, match="kind"):
        viz.plot_score_field(mixture, kind=kind)


def test_plot_score_field_rejects_bad_score() -> None:
    with pytest.raises(ValueError, match="score"):
        viz.plot_score_field(lambda x: x[:, :1], n_arrows=4)
    with pytest.raises(TypeError, match="score"):
        viz.plot_score_field(42, n_arrows=4)


# -- plot_loss_curve --------------------------------------------------------------------------------------------
def test_plot_loss_curve_from_list() -> None:
    values = [float(v) for v in np.linspace(3.0, 1.0, 40)]
    ax = viz.plot_loss_curve(values, smooth=5)
    assert isinstance(ax, Axes)
    assert ax.get_title() == "loss during training"
    assert ax.get_xlabel() == "step" and ax.get_ylabel() == "loss (nats)"
    raw, running = ax.get_lines()
    np.testing.assert_array_equal(raw.get_xdata(), np.arange(1, 41))
    np.testing.assert_array_equal(raw.get_ydata(), values)
    # a trailing mean over the last 5 steps, over fewer at the start so the curve begins at step 1
    expected = [np.mean(values[max(0, i - 4) : i + 1]) for i in range(40)]
    np.testing.assert_array_equal(running.get_xdata(), np.arange(1, 41))
    np.testing.assert_allclose(running.get_ydata(), expected, rtol=1e-12)
    texts = [t.get_text() for t in ax.get_legend().get_texts()]
    assert texts == ["training loss (running mean)"]


def test_plot_loss_curve_from_history_with_floor_on_given_ax() -> None:
    fig, ax = plt.subplots()
    hist = History(loss=[2.0, 1.5, 1.2, 1.1])
    out = viz.plot_loss_curve(hist, floor=1.0, floor_label="entropy", ax=ax, ylabel="CE", title=None, smooth=100)
    assert out is ax
    assert ax.get_ylabel() == "CE" and ax.get_title() == ""
    lines = ax.get_lines()
    assert len(lines) == 3
    # the window is longer than the history: the running mean is the mean so far
    np.testing.assert_allclose(lines[1].get_ydata(), [2.0, 1.75, 4.7 / 3, 1.45], rtol=1e-12)
    floor = lines[2]
    assert floor.get_linestyle() == "--"
    np.testing.assert_array_equal(floor.get_ydata(), [1.0, 1.0])
    assert "entropy = 1.000" in [t.get_text() for t in ax.get_legend().get_texts()]


@pytest.mark.parametrize("loss", [[], np.zeros((3, 2)), History()])
def test_plot_loss_curve_rejects_empty_or_2d(loss) -> None:
    with pytest.raises(ValueError, match="loss"):
        viz.plot_loss_curve(loss)


def test_plot_loss_curve_rejects_bad_smooth() -> None:
    with pytest.raises(ValueError, match="smooth"):
        viz.plot_loss_curve([1.0, 2.0], smooth=0)


# -- plot_probability_bars ---------------------------------------------------------------------------------------
def test_plot_probability_bars() -> None:
    probs = [0.1, 0.6, 0.3]
    ax = viz.plot_probability_bars(probs, ["a", "b", "c"], highlight=1, title="p")
    assert isinstance(ax, Axes)
    assert ax.get_title() == "p" and ax.get_ylabel() == "probability"
    bars = ax.patches
    assert len(bars) == 3
    np.testing.assert_allclose([b.get_height() for b in bars], probs)
    assert [t.get_text() for t in ax.get_xticklabels()] == ["a", "b", "c"]
    colours = [to_hex(b.get_facecolor()) for b in bars]
    assert colours[1] == viz.PALETTE[1].lower()
    assert colours[0] == colours[2] == viz.PALETTE[5].lower()
    assert [t.get_text() for t in ax.texts] == ["0.10", "0.60", "0.30"]
    assert ax.get_ylim() == (0.0, 1.08)


def test_plot_probability_bars_default_labels_tensor_and_ax() -> None:
    fig, ax = plt.subplots()
    out = viz.plot_probability_bars(torch.tensor([0.25, 0.25, 0.5]), ax=ax, ylabel="$p_k$")
    assert out is ax
    assert [t.get_text() for t in ax.get_xticklabels()] == ["0", "1", "2"]
    assert ax.get_ylabel() == "$p_k$" and ax.get_title() == ""
    assert len({to_hex(b.get_facecolor()) for b in ax.patches}) == 1  # no highlight


@pytest.mark.parametrize("probs", [[[0.5, 0.5]], np.ones((2, 2)) / 4, [], 0.5])
def test_plot_probability_bars_rejects_non_vectors(probs) -> None:
    with pytest.raises(ValueError, match="probs"):
        viz.plot_probability_bars(probs)


def test_plot_probability_bars_rejects_wrong_label_count() -> None:
    with pytest.raises(ValueError, match="labels"):
        viz.plot_probability_bars([0.5, 0.5], ["a", "b", "c"])
    with pytest.raises(ValueError, match="labels"):
        viz.plot_probability_bars([0.2, 0.3, 0.5], ["a"])


def test_palette() -> None:
    assert len(viz.PALETTE) == 8
    assert len(set(viz.PALETTE)) == 8
    assert all(len(c) == 7 and c.startswith("#") for c in viz.PALETTE)


# -- class_colors -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("n", [1, 3, 8])
def test_class_colors_okabe_ito_prefix(n: int) -> None:
    assert viz.class_colors(n) == list(viz.PALETTE[:n])


@pytest.mark.parametrize("n", [9, 10, 15])
def test_class_colors_beyond_the_palette_are_distinct(n: int) -> None:
    colours = viz.class_colors(n)
    assert len(colours) == n
    assert all(isinstance(c, str) and c.startswith("#") for c in colours)
    assert len({to_hex(c) for c in colours}) == n


@pytest.mark.parametrize("n", [0, -2])
def test_class_colors_rejects_n_below_one(n: int) -> None:
    with pytest.raises(ValueError, match="n"):
        viz.class_colors(n)


def test_class_colors_rejects_non_integers() -> None:
    with pytest.raises(TypeError):
        viz.class_colors(2.5)


# -- plot_circle_embeddings -----------------------------------------------------------------------------------------
def _circle_points(n: int = 12) -> torch.Tensor:
    angle = torch.linspace(0, 2 * math.pi, n + 1)[:-1]
    return torch.stack([angle.cos(), angle.sin()], dim=1)


def test_plot_circle_embeddings_without_labels() -> None:
    z = _circle_points()
    ax = viz.plot_circle_embeddings(z, title="my title")
    assert isinstance(ax, Axes)
    assert ax.get_title() == "my title"
    scatters = [c for c in ax.collections if isinstance(c, PathCollection)]
    assert len(scatters) == 1
    np.testing.assert_allclose(scatters[0].get_offsets(), z.numpy(), atol=1e-6)
    assert ax.get_xlim() == pytest.approx((-1.25, 1.25))
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("$a_1$", "$a_2$")  # unit embeddings are a, b (notation page)
    ax = viz.plot_circle_embeddings(z, torch.zeros(12, dtype=torch.long), symbol="b", legend_title="digit")
    assert (ax.get_xlabel(), ax.get_legend().get_title().get_text()) == ("$b_1$", "digit")


def test_plot_circle_embeddings_one_collection_per_class() -> None:
    z = _circle_points(12)
    labels = torch.tensor([0, 1, 2] * 4)
    fig, given = plt.subplots()
    ax = viz.plot_circle_embeddings(z, labels, ax=given, label_names=["zero", "one", "two"])
    assert ax is given
    assert ax.get_title() == "embeddings on the unit circle"
    scatters = [c for c in ax.collections if isinstance(c, PathCollection)]
    assert len(scatters) == 3
    for c, scatter in enumerate(scatters):
        np.testing.assert_allclose(scatter.get_offsets(), z[labels == c].numpy(), atol=1e-6)
        assert to_hex(scatter.get_facecolor()[0]) == to_hex(viz.PALETTE[c])
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["zero", "one", "two"]


def test_plot_circle_embeddings_colours_stay_with_their_class() -> None:
    # classes 1 and 3 only: each keeps its own colour, as in a plot of all classes
    ax = viz.plot_circle_embeddings(_circle_points(4), np.array([1, 3, 1, 3]), title=None)
    scatters = [c for c in ax.collections if isinstance(c, PathCollection)]
    assert [to_hex(s.get_facecolor()[0]) for s in scatters] == [to_hex(viz.PALETTE[1]), to_hex(viz.PALETTE[3])]
    assert ax.get_title() == ""


@pytest.mark.parametrize("z", [torch.zeros(4, 3), torch.zeros(4), torch.zeros(2, 4, 2)])
def test_plot_circle_embeddings_rejects_wrong_shapes(z: torch.Tensor) -> None:
    with pytest.raises(ValueError, match="z"):
        viz.plot_circle_embeddings(z)


# -- plot_similarity_matrix -----------------------------------------------------------------------------------------
def test_plot_similarity_matrix_shows_the_matrix() -> None:
    sim = torch.tensor([[1.0, 0.2, -0.3], [0.1, 0.9, 0.0], [0.4, -0.5, 0.8]])
    ax = viz.plot_similarity_matrix(sim, row_labels=["a", "b", "c"], col_labels=["x", "y", "z"], title="S")
    assert isinstance(ax, Axes)
    assert ax.get_title() == "S"
    (image,) = ax.get_images()
    np.testing.assert_allclose(np.asarray(image.get_array()), sim.numpy())
    assert [t.get_text() for t in ax.get_yticklabels()] == ["a", "b", "c"]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["x", "y", "z"]


def test_plot_similarity_matrix_rectangular_with_limits_and_given_ax() -> None:
    mat = np.arange(6, dtype=float).reshape(2, 3) / 6
    fig, given = plt.subplots()
    ax = viz.plot_similarity_matrix(mat, ax=given, vmin=0, vmax=1)
    assert ax is given
    (image,) = ax.get_images()
    np.testing.assert_allclose(np.asarray(image.get_array()), mat)
    assert image.get_clim() == (0, 1)


@pytest.mark.parametrize(("rows", "cols"), [(["a", "b"], None), (None, ["x", "y", "z", "w"])])
def test_plot_similarity_matrix_rejects_wrong_tick_label_counts(rows, cols) -> None:
    with pytest.raises(ValueError, match="tick labels"):
        viz.plot_similarity_matrix(np.eye(3), row_labels=rows, col_labels=cols)


@pytest.mark.parametrize("similarity", [[0.1, 0.2, 0.3], np.zeros((2, 2, 2))])
def test_plot_similarity_matrix_rejects_non_matrices(similarity) -> None:
    with pytest.raises(ValueError, match="similarity"):
        viz.plot_similarity_matrix(similarity)


def test_plot_image_grid_titles_frames_and_errors():
    import matplotlib.pyplot as plt

    from mmobjectives import viz

    images = torch.rand(5, 1, 8, 8)
    fig = viz.plot_image_grid(
        images, titles=list("abcde"), ncols=3, wrong=[False, True, False, False, True], suptitle="x"
    )
    axes = fig.axes
    assert len(axes) == 6 and [a.get_title() for a in axes[:5]] == list("abcde")
    assert not axes[5].axison
    assert axes[1].spines["top"].get_edgecolor()[:3] != axes[0].spines["top"].get_edgecolor()[:3]
    plt.close(fig)
    with pytest.raises(ValueError, match="titles"):
        viz.plot_image_grid(images, titles=["a"])
    with pytest.raises(ValueError, match="images"):
        viz.plot_image_grid(torch.rand(2, 3, 8, 8))
    with pytest.raises(ValueError, match="wrong"):
        viz.plot_image_grid(images, wrong=[True])
