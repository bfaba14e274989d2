"""``make bench`` end to end on the smallest case: one notebook in the smoke budget, its quality rows read back from
the kernel, and the report regenerated; the microbenchmark helpers on tiny inputs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))

import bench  # noqa: E402


def test_bench_runs_a_notebook_and_reads_its_quality_rows_back(tmp_path: Path) -> None:
    results = tmp_path / "results.json"
    subprocess.run(
        [sys.executable, str(ROOT / "tools" / "bench.py"), "--only", "notebooks", "--budgets", "smoke"]
        + ["--notebooks", "00_overview.ipynb", "--results", str(results)],
        check=True,
        capture_output=True,
        text=True,
        timeout=600,
    )
    data = json.loads(results.read_text())
    (run,) = data["runs"].values()
    row = run["notebooks"]["00_overview.ipynb"]
    assert run["budget"] == "smoke" and row["budget"] == "smoke"
    assert row["seconds"] > 0 and row["peak_rss_mib"] > 50  # the kernel imported torch: far above 50 MiB
    (quality,) = row["quality"]
    assert quality["measure"].startswith("classifier: CE − H(K|X)") and quality["met"] is None  # no smoke target
    assert quality["distance"] == quality["value"] - quality["optimum"]
    readme = (tmp_path / "README.md").read_text()
    assert "| `00_overview.ipynb` |" in readme and "classifier: CE − H(K\\|X)" in readme  # | escaped in a table


def test_interleaved_timing_returns_a_median_per_variant() -> None:
    calls = []
    med = bench._interleaved({"a": lambda: calls.append("a"), "b": lambda: calls.append("b")}, repeats=3, warmup=1)
    assert set(med) == {"a", "b"} and all(v >= 0 for v in med.values())
    assert calls == ["a", "b"] * 4  # warm-up + 3 repeats, in turn
