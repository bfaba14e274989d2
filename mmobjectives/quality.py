"""The quality log: each notebook records its distances to the known optima where it asserts its targets, and
``make bench`` (``tools/bench.py``) reads them back from the executed kernel into the quality table
(benchmarks/README.md). Benchmark plumbing, kept apart from the measurements in :mod:`mmobjectives.metrics`
(which re-exports :func:`record_quality` and :func:`quality_log`, the names the notebooks call).
"""

from __future__ import annotations

from ._checks import check_real, describe

__all__ = ["quality_log", "record_quality"]

_QUALITY: list[dict] = []


def record_quality(
    measure: str,
    value: float,
    *,
    optimum: float | None = None,
    target: float | None = None,
    better: str = "lower",
    unit: str = "nats",
) -> dict:
    r"""Record one measured quality against its known optimum, for the benchmark's quality table; return the row.

    With an ``optimum`` the row's ``distance`` is how far ``value`` is on the wrong side of it (``value − optimum``
    when lower is better, e.g. a cross-entropy above :math:`H(Y\mid X)`; ``optimum − value`` when higher is better,
    e.g. an MI estimate below its ceiling) and ``target`` bounds that distance. Without one (an accuracy judged by
    a classifier) ``target`` bounds the value itself. ``met`` is None when the budget sets no target. Notebooks call
    it where they assert their targets; the values are the ones asserted. Cleared by :func:`quality_log`
    ``(clear=True)``.
    """
    if not isinstance(measure, str) or not measure:
        raise TypeError(f"measure must be a non-empty str naming what was measured, got {describe(measure)}")
    if better not in ("lower", "higher"):
        raise ValueError(f"better must be 'lower' or 'higher', got {better!r}")
    value = float(check_real(value, "value"))
    optimum = None if optimum is None else float(check_real(optimum, "optimum"))
    target = None if target is None else float(check_real(target, "target"))
    distance = None
    if optimum is not None:
        distance = value - optimum if better == "lower" else optimum - value
    if target is None:
        met = None
    elif distance is not None:
        met = distance <= target
    else:
        met = value <= target if better == "lower" else value >= target
    row = {
        "measure": measure,
        "value": value,
        "optimum": optimum,
        "distance": distance,
        "target": target,
        "better": better,
        "unit": unit,
        "met": met,
    }
    _QUALITY.append(row)
    return row


def quality_log(*, clear: bool = False) -> list[dict]:
    """The rows recorded by :func:`record_quality` in this process, oldest first (a copy); ``clear`` empties it."""
    rows = [dict(row) for row in _QUALITY]
    if clear:
        _QUALITY.clear()
    return rows
