"""Figures every notebook shares: 2-D densities with samples, score fields, loss curves, probability bars.

Each function draws into ``ax`` when given (so widgets and multi-panel figures can compose them) and otherwise
creates a new pyplot figure; it returns the ``Axes`` it drew on. Colours come from the Okabe–Ito palette, which
stays distinguishable under the common forms of colour blindness.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.colors import to_hex
from matplotlib.figure import Figure

from . import metrics
from ._checks import as_float_tensor, check_int, check_positive, check_reals, describe

__all__ = [
    "PALETTE",
    "class_colors",
    "grid_2d",
    "plot_density_2d",
    "plot_image_grid",
    "plot_loss_curve",
    "plot_probability_bars",
    "plot_reliability_diagram",
    "plot_circle_embeddings",
    "plot_score_field",
    "plot_similarity_matrix",
    "plot_vector_field",
]

#: Okabe & Ito (2008): black, orange, sky blue, bluish green, yellow, blue, vermillion, reddish purple.
PALETTE: tuple[str, ...] = (
    "#000000",
    "#E69F00",
    "#56B4E9",
    "#009E73",
    "#F0E442",
    "#0072B2",
    "#D55E00",
    "#CC79A7",
)
DENSITY_CMAP = "Blues"
MAGNITUDE_CMAP = "viridis"

ArrayFn = Callable[[torch.Tensor], torch.Tensor]


def _axes(ax: Axes | None, figsize: tuple[float, float] = (5.0, 5.0)) -> Axes:
    if ax is None:
        _, ax = plt.subplots(figsize=figsize)
    elif not isinstance(ax, Axes):
        raise TypeError(f"ax must be a matplotlib Axes or None, got {describe(ax)}")
    return ax


def _limits(lim: float | Sequence[float]) -> tuple[float, float, float, float]:
    if isinstance(lim, (int, float, np.integer, np.floating)):
        half = check_positive(lim, "lim")
        return (-half, half, -half, half)
    if isinstance(lim, (str, bytes)) or not hasattr(lim, "__iter__"):
        raise TypeError(f"lim must be a positive number or (xmin, xmax, ymin, ymax), got {describe(lim)}")
    values = check_reals(lim, "lim")
    if len(values) != 4 or values[0] >= values[1] or values[2] >= values[3]:
        raise ValueError(f"lim must be a positive number or (xmin, xmax, ymin, ymax) with min < max, got {lim!r}")
    return values  # type: ignore[return-value]


def grid_2d(lim: float | Sequence[float] = 6.0, n: int = 100) -> tuple[np.ndarray, np.ndarray, torch.Tensor]:
    """A regular ``n``×``n`` grid over ``[-lim, lim]^2`` (or ``(xmin, xmax, ymin, ymax)``).

    Returns ``(xx, yy, points)``: the two (n, n) coordinate arrays for contour plots and the (n·n, 2) float64
    tensor of grid points to evaluate a density or score on.
    """
    n = check_int(n, "n", minimum=2)
    x0, x1, y0, y1 = _limits(lim)
    xs, ys = np.linspace(x0, x1, n), np.linspace(y0, y1, n)
    xx, yy = np.meshgrid(xs, ys)
    points = torch.as_tensor(np.stack([xx.ravel(), yy.ravel()], axis=1), dtype=torch.float64)
    return xx, yy, points


def _as_fn(obj: Any, method: str, name: str, what: str) -> ArrayFn:
    """``obj.<method>`` when ``obj`` has that method (a distribution of ``data``), else ``obj`` itself if callable."""
    fn = getattr(obj, method, None)
    if callable(fn):
        return fn
    if callable(obj):
        return obj
    raise TypeError(f"{name} must have a .{method} method or be a callable {what}, got {describe(obj)}")


@torch.no_grad()
def _evaluate(fn: ArrayFn, points: torch.Tensor) -> np.ndarray:
    out = fn(points)
    return out.detach().to("cpu", torch.float64).numpy() if isinstance(out, torch.Tensor) else np.asarray(out)


def plot_density_2d(
    density: Any,
    samples: Any = None,
    *,
    lim: float | Sequence[float] = 6.0,
    n_grid: int = 150,
    ax: Axes | None = None,
    title: str | None = "density $p(x)$",
    max_points: int = 2000,
    sample_label: str = "samples",
    colorbar: bool = False,
) -> Axes:
    """Filled contours of :math:`p(x)` (from ``density.log_prob`` or a callable ``log p``), with samples on top."""
    ax = _axes(ax)
    xx, yy, points = grid_2d(lim, n_grid)
    log_p = _evaluate(_as_fn(density, "log_prob", "density", "x -> log p(x)"), points).reshape(xx.shape)
    filled = ax.contourf(xx, yy, np.exp(log_p), levels=20, cmap=DENSITY_CMAP)
    if colorbar:
        ax.figure.colorbar(filled, ax=ax, label="$p(x)$")
    if samples is not None:
        pts = as_float_tensor(samples, "samples").detach().cpu().numpy()
        if pts.ndim != 2 or pts.shape[1] != 2:
            raise ValueError(f"samples must be (n, 2), got {describe(samples)}")
        pts = pts[:max_points]
        ax.scatter(pts[:, 0], pts[:, 1], s=4, color=PALETTE[6], alpha=0.6, label=sample_label, rasterized=True)
        ax.legend(loc="upper right", fontsize=8, framealpha=0.8)
    x0, x1, y0, y1 = _limits(lim)
    ax.set(xlim=(x0, x1), ylim=(y0, y1), xlabel="$x_1$", ylabel="$x_2$", aspect="equal")
    if title:
        ax.set_title(title)
    return ax


def plot_score_field(
    score: Any,
    *,
    density: Any = None,
    lim: float | Sequence[float] = 6.0,
    n_arrows: int = 21,
    kind: str = "quiver",
    ax: Axes | None = None,
    title: str | None = r"score $\nabla_x \log p(x)$",
    normalize: bool = True,
) -> Axes:
    r"""The vector field :math:`s(x)` (``score.score`` or a callable) as arrows or streamlines over a density.

    With ``normalize`` (the default) arrows have equal length and their colour shows :math:`\|s(x)\|`, so the
    field stays readable where the score is huge (far from the data) and where it is tiny (at the modes).
    """
    if kind not in ("quiver", "stream"):
        raise ValueError(f"kind must be 'quiver' or 'stream', got {kind!r}")
    ax = _axes(ax)
    if density is not None:
        plot_density_2d(density, lim=lim, ax=ax, title=None)
    xx, yy, points = grid_2d(lim, n_arrows if kind == "quiver" else max(n_arrows, 40))
    field = _evaluate(_as_fn(score, "score", "score", "x -> s(x)"), points)
    if field.shape != (points.shape[0], 2):
        raise ValueError(f"score must map (n, 2) points to (n, 2) vectors, got output of shape {field.shape}")
    return plot_vector_field(xx, yy, field, ax=ax, kind=kind, title=title, normalize=normalize)


def plot_vector_field(
    xx: np.ndarray,
    yy: np.ndarray,
    field: Any,
    *,
    ax: Axes | None = None,
    kind: str = "quiver",
    title: str | None = None,
    normalize: bool = True,
) -> Axes:
    """Draw a precomputed 2-D vector field: ``field`` is (n·n, 2) on the grid ``xx, yy`` from :func:`grid_2d`."""
    if kind not in ("quiver", "stream"):
        raise ValueError(f"kind must be 'quiver' or 'stream', got {kind!r}")
    xx = as_float_tensor(xx, "xx").detach().cpu().numpy()
    yy = as_float_tensor(yy, "yy").detach().cpu().numpy()
    if xx.ndim != 2 or xx.shape != yy.shape:
        raise ValueError(f"xx and yy must be the two (n, n) grids of grid_2d, got shapes {xx.shape} and {yy.shape}")
    values = as_float_tensor(field, "field").detach().cpu().numpy()
    if values.shape != (xx.size, 2):
        raise ValueError(f"field must be ({xx.size}, 2) for a grid of shape {xx.shape}, got shape {values.shape}")
    ax = _axes(ax)
    u, v = values[:, 0].reshape(xx.shape), values[:, 1].reshape(xx.shape)
    magnitude = np.hypot(u, v)
    if kind == "quiver":
        if normalize:
            safe = np.where(magnitude > 0, magnitude, 1.0)
            u, v = u / safe, v / safe
        arrows = ax.quiver(xx, yy, u, v, magnitude, cmap=MAGNITUDE_CMAP, angles="xy", pivot="mid", width=0.004)
        ax.figure.colorbar(arrows, ax=ax, label=r"$\|s(x)\|$", shrink=0.8)
    else:
        stream = ax.streamplot(xx, yy, u, v, color=magnitude, cmap=MAGNITUDE_CMAP, density=1.2, linewidth=0.8)
        ax.figure.colorbar(stream.lines, ax=ax, label=r"$\|s(x)\|$", shrink=0.8)
    ax.set(xlim=(xx.min(), xx.max()), ylim=(yy.min(), yy.max()), xlabel="$x_1$", ylabel="$x_2$", aspect="equal")
    if title:
        ax.set_title(title)
    return ax


def plot_loss_curve(
    loss: Any,
    *,
    floor: float | None = None,
    floor_label: str = "optimum",
    smooth: int = 25,
    ax: Axes | None = None,
    label: str = "training loss",
    ylabel: str = "loss (nats)",
    title: str | None = "loss during training",
    color: str = PALETTE[5],
) -> Axes:
    """A loss curve (raw and running mean) with the known optimum as a dashed line when ``floor`` is given.

    ``loss`` is a ``train.History`` or a sequence of numbers.
    """
    values = as_float_tensor(getattr(loss, "loss", loss), "loss").detach().cpu().numpy()
    if values.ndim != 1 or values.size == 0:
        raise ValueError(f"loss must be a non-empty 1-D sequence of numbers, got {describe(loss)}")
    smooth = check_int(smooth, "smooth", minimum=1)
    ax = _axes(ax, figsize=(6.0, 3.5))
    steps = np.arange(1, values.size + 1)
    ax.plot(steps, values, color=color, alpha=0.3, linewidth=0.8)
    # running mean over the last `smooth` steps (fewer at the start, so the curve begins at step 1)
    cumulative = np.concatenate([[0.0], np.cumsum(values)])
    lo = np.maximum(np.arange(values.size) + 1 - smooth, 0)
    running = (cumulative[1:] - cumulative[lo]) / (np.arange(values.size) + 1 - lo)
    ax.plot(steps, running, color=color, label=f"{label} (running mean)")
    if floor is not None:
        ax.axhline(float(floor), color=PALETTE[6], linestyle="--", label=f"{floor_label} = {float(floor):.3f}")
    ax.set(xlabel="step", ylabel=ylabel)
    if title:
        ax.set_title(title)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return ax


def plot_probability_bars(
    probs: Any,
    labels: Sequence[str] | None = None,
    *,
    highlight: int | None = None,
    ax: Axes | None = None,
    title: str | None = None,
    ylabel: str = "probability",
) -> Axes:
    """A bar chart of a categorical distribution; the ``highlight`` bar (e.g. the true label) in another colour."""
    p = as_float_tensor(probs, "probs").detach().cpu().numpy()
    if p.ndim != 1 or p.size == 0:
        raise ValueError(f"probs must be a non-empty 1-D vector, got {describe(probs)}")
    names = [str(i) for i in range(p.size)] if labels is None else [str(s) for s in labels]
    if len(names) != p.size:
        raise ValueError(f"labels must have one name per probability ({p.size}), got {len(names)}")
    ax = _axes(ax, figsize=(5.0, 3.0))
    colours = [PALETTE[1] if i == highlight else PALETTE[5] for i in range(p.size)]
    bars = ax.bar(names, p, color=colours)
    for bar, value in zip(bars, p):
        ax.annotate(f"{value:.2f}", (bar.get_x() + bar.get_width() / 2, value), ha="center", va="bottom", fontsize=8)
    ax.set(ylim=(0, 1.08), ylabel=ylabel)
    if title:
        ax.set_title(title)
    return ax


def class_colors(n: int) -> list[str]:
    """``n`` distinguishable colours: the Okabe–Ito palette up to 8 classes, matplotlib's tab10/tab20 beyond."""
    n = check_int(n, "n", minimum=1)
    if n <= len(PALETTE):
        return list(PALETTE[:n])
    cmap = matplotlib.colormaps["tab10" if n <= 10 else "tab20"]
    return [to_hex(cmap(i % cmap.N)) for i in range(n)]  # "#rrggbb" strings, like PALETTE


def plot_circle_embeddings(
    z: Any,
    labels: Any = None,
    *,
    ax: Axes | None = None,
    title: str | None = "embeddings on the unit circle",
    label_names: Sequence[str] | None = None,
    marker: str = "o",
    size: float = 12.0,
    symbol: str = "a",
    legend_title: str = "class",
) -> Axes:
    """2-D unit-norm embeddings on the unit circle, coloured by class (notebook 01's geometry section).

    The axes are the two coordinates of ``symbol``: unit embeddings are :math:`a` (first modality, the default)
    and :math:`b` (second) in the course's notation. The legend of the classes is titled ``legend_title``."""
    pts = as_float_tensor(z, "z").detach().cpu().numpy()
    if pts.ndim != 2 or pts.shape[1] != 2:
        raise ValueError(f"z must be (N, 2) embeddings, got {describe(z)}")
    ax = _axes(ax)
    angle = np.linspace(0, 2 * np.pi, 200)
    ax.plot(np.cos(angle), np.sin(angle), color="0.8", linewidth=1, zorder=0)
    if labels is None:
        ax.scatter(pts[:, 0], pts[:, 1], s=size, color=PALETTE[5], marker=marker)
    else:
        lab = np.asarray(torch.as_tensor(labels).cpu())
        classes = np.unique(lab)
        colours = class_colors(int(classes.max()) + 1)
        for c in classes:
            sel = lab == c
            name = label_names[int(c)] if label_names is not None else str(int(c))
            ax.scatter(pts[sel, 0], pts[sel, 1], s=size, color=colours[int(c)], marker=marker, label=name, alpha=0.8)
        ax.legend(fontsize=7, loc="center", ncol=2, frameon=False, title=legend_title, title_fontsize=8)
    ax.set(xlim=(-1.25, 1.25), ylim=(-1.25, 1.25), aspect="equal", xlabel=f"${symbol}_1$", ylabel=f"${symbol}_2$")
    if title:
        ax.set_title(title)
    return ax


def plot_similarity_matrix(
    similarity: Any,
    *,
    row_labels: Sequence[str] | None = None,
    col_labels: Sequence[str] | None = None,
    ax: Axes | None = None,
    title: str | None = "similarity",
    cmap: str = "viridis",
    colorbar_label: str = "similarity",
    vmin: float | None = None,
    vmax: float | None = None,
) -> Axes:
    """A heatmap of a similarity (or probability) matrix; the true pairs sit on the diagonal."""
    mat = as_float_tensor(similarity, "similarity").detach().cpu().numpy()
    if mat.ndim != 2:
        raise ValueError(f"similarity must be a 2-D matrix, got {describe(similarity)}")
    ax = _axes(ax, figsize=(5.5, 4.5))
    image = ax.imshow(mat, cmap=cmap, vmin=vmin, vmax=vmax, aspect="auto")
    ax.figure.colorbar(image, ax=ax, label=colorbar_label, shrink=0.85)
    for labels, setter, n in ((row_labels, ax.set_yticks, mat.shape[0]), (col_labels, ax.set_xticks, mat.shape[1])):
        if labels is not None:
            if len(labels) != n:
                raise ValueError(f"got {len(labels)} tick labels for {n} rows/columns")
            setter(range(n), labels, fontsize=7)
    if col_labels is not None:
        ax.tick_params(axis="x", labelrotation=60)
    if title:
        ax.set_title(title)
    return ax


def plot_reliability_diagram(
    probs: Any,
    labels: Any,
    n_bins: int = 15,
    ax: Axes | None = None,
    title: str | None = "reliability diagram",
    label: str = "model",
) -> Axes:
    """Accuracy per confidence bin as bars against the diagonal of perfect calibration; the gap to each bin's mean
    confidence is shaded and the expected calibration error is in the legend (notebook 02).

    ``probs`` (N, K) are predicted class probabilities, ``labels`` (N,) the true classes; the bins are those of
    ``metrics.reliability_curve``. Bars below the diagonal mean over-confidence, above it under-confidence.
    """
    conf, acc, count = metrics.reliability_curve(probs, labels, n_bins)  # validates probs, labels and n_bins
    ece = metrics.expected_calibration_error(probs, labels, n_bins)
    full = count > 0
    ax = _axes(ax, figsize=(4.5, 4.5))
    width = 1.0 / n_bins
    lefts = np.arange(n_bins) * width
    ax.plot([0, 1], [0, 1], linestyle="--", color=PALETTE[0], linewidth=1, label="perfect calibration")
    ax.bar(
        lefts[full],
        acc[full],
        width=width,
        align="edge",
        color=PALETTE[5],
        edgecolor="white",
        linewidth=0.5,
        label=f"{label} (ECE = {ece:.3f})",
    )
    ax.bar(
        lefts[full],
        conf[full] - acc[full],
        bottom=acc[full],
        width=width,
        align="edge",
        color=PALETTE[6],
        alpha=0.3,
        hatch="//",
        edgecolor=PALETTE[6],
        linewidth=0.5,
        label="gap to confidence",
    )
    ax.set(xlim=(0, 1), ylim=(0, 1), xlabel="confidence", ylabel="accuracy", aspect="equal")
    if title:
        ax.set_title(title)
    ax.legend(loc="upper left", fontsize=8)
    return ax


def plot_image_grid(
    images: Any,
    *,
    titles: Sequence[str] | None = None,
    ncols: int = 8,
    wrong: Any = None,
    suptitle: str | None = None,
    figure: Figure | None = None,
    title_size: float = 7.0,
) -> Figure:
    """Grayscale (N, 1, H, W) or (N, H, W) images in a grid, ink dark on white, one optional title each.

    ``wrong`` (N,) bool draws a vermillion frame around the images marked True (e.g. misclassified samples).
    Returns the figure (a new one unless ``figure`` is given).
    """
    x = as_float_tensor(images, "images", dtype=torch.float32, device="cpu").detach()
    if x.dim() == 4 and x.shape[1] == 1:
        x = x[:, 0]
    if x.dim() != 3 or x.shape[0] == 0:
        raise ValueError(f"images must be (N, 1, H, W) or (N, H, W) with N >= 1, got {describe(images)}")
    n = x.shape[0]
    if titles is not None and len(titles) != n:
        raise ValueError(f"titles must have one entry per image ({n}), got {len(titles)}")
    flags = None if wrong is None else np.asarray(torch.as_tensor(wrong).cpu(), dtype=bool).reshape(-1)
    if flags is not None and flags.size != n:
        raise ValueError(f"wrong must have one flag per image ({n}), got {flags.size}")
    ncols = min(check_int(ncols, "ncols", minimum=1), n)
    nrows = math.ceil(n / ncols)
    if figure is None:
        figure = plt.figure(figsize=(1.1 * ncols, 1.2 * nrows + (0.3 if suptitle else 0)), layout="constrained")
    axes = np.atleast_1d(figure.subplots(nrows, ncols, squeeze=False)).ravel()
    hi = max(float(x.max()), 1e-12)
    for i, ax in enumerate(axes):
        ax.set_xticks([])
        ax.set_yticks([])
        if i >= n:
            ax.axis("off")
            continue
        ax.imshow(x[i].numpy(), cmap="gray_r", vmin=0, vmax=hi)
        if titles is not None:
            ax.set_title(titles[i], fontsize=title_size)
        if flags is not None and flags[i]:
            for spine in ax.spines.values():
                spine.set_edgecolor(PALETTE[6])
                spine.set_linewidth(2.5)
    if suptitle:
        figure.suptitle(suptitle, fontsize=10)
    return figure
