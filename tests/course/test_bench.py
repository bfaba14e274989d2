"""``make bench`` end to end on the smallest case: one notebook in the smoke budget, its quality rows read back from
the kernel, and the report regenerated; the microbenchmark helpers on tiny inputs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tools import bench

ROOT = Path(__file__).resolve().parents[2]


def test_bench_runs_a_notebook_and_reads_its_quality_rows_back(tmp_path: Path) -> None:
    results = tmp_path / "results.json"
    subprocess.run(
        [sys.executable, "-m", "tools.bench", "--only", "notebooks", "--budgets", "smoke"]
        + ["--notebooks", "00_overview.ipynb", "--results", str(results)],
        check=True,
        capture_output=True,
        text=True,
        timeout=600,
        cwd=ROOT,
    )
    data = json.loads(results.read_text())
    (run,) = data["runs"].values()
    row = run["notebooks"]["00_overview.ipynb"]
    assert run["budget"] == "smoke" and row["budget"] == "smoke"
    assert row["seconds"] > 0 and row["peak_rss_mib"] > 50  # the kernel imported torch: far above 50 MiB
    (quality,) = row["quality"]
    assert quality["measure"].startswith("classifier: CE − H(Y|X)") and quality["met"] is None  # no smoke target
    assert quality["distance"] == quality["value"] - quality["optimum"]
    # measured twice against one fresh checkpoint folder: cold, then warm (00 trains no recipe: nothing to load)
    assert row["cache_hits"] == 0 and row["warm"]["cache_hits"] == 0
    assert row["warm"]["seconds"] > 0 and row["warm"]["same_quality"] is True
    readme = (tmp_path / "README.md").read_text()
    assert "| `00_overview.ipynb` |" in readme and "classifier: CE − H(Y\\|X)" in readme  # | escaped in a table
    assert "smoke on " in readme and ", cold cache | " in readme and ", warm cache |" in readme


def _row(seconds: float, warm_seconds: float, hits: int = 3, same: bool = True) -> dict:
    warm = {"seconds": warm_seconds, "peak_rss_mib": 900.0, "cache_hits": hits, "same_quality": same}
    return {"seconds": seconds, "peak_rss_mib": 1000.0, "quality": [], "warm": warm}


def test_the_report_shows_cold_and_warm_columns_and_flags_misses() -> None:
    machine = {"device": "cpu", "name": "CPU (2 cores)", "torch": "2", "python": "3"}
    notebooks = {"01_infonce.ipynb": _row(200.0, 30.0), "07_multimodal_system.ipynb": _row(100.0, 50.0, 5, False)}
    old = {"00_overview.ipynb": {"seconds": 7.0, "peak_rss_mib": 900.0, "quality": []}}  # measured before: cold only
    runs = {
        "default @ cpu": {"budget": "default", "machine": machine, "date": "d", "notebooks": notebooks},
        "smoke @ cpu": {"budget": "smoke", "machine": machine, "date": "d", "notebooks": old},
    }
    table = bench.report({"runs": runs, "micro": {}})
    header = next(line for line in table.splitlines() if line.startswith("| notebook |"))
    assert header.count("|") == 5  # smoke (one column), default cold, default warm
    assert "| `01_infonce.ipynb` | — | 200 s, 1000 MiB ⚠ | 30 s, 900 MiB, 3 loaded |" in table
    assert "| `07_multimodal_system.ipynb` | — | 100 s, 1000 MiB | 50 s, 900 MiB ⚠, 5 loaded ≠ |" in table
    assert "| **whole series** | 0.1 min | 5.0 min | 1.3 min |" in table


def test_interleaved_timing_returns_a_median_per_variant() -> None:
    calls = []
    med = bench._interleaved({"a": lambda: calls.append("a"), "b": lambda: calls.append("b")}, repeats=3, warmup=1)
    assert set(med) == {"a", "b"} and all(v >= 0 for v in med.values())
    assert calls == ["a", "b"] * 4  # warm-up + 3 repeats, in turn
