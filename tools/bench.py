"""``make bench``: every notebook's wall time, peak memory and quality per budget, and loss microbenchmarks.

    python -m tools.bench                          # smoke + default budgets on this machine, and the microbenchmarks
    python -m tools.bench --budgets full           # the GPU run (make bench-full; tools/gpu_full_run.sh on the GPU box)
    python -m tools.bench --only micro             # only the microbenchmarks
    python -m tools.bench --only notebooks --budgets smoke --notebooks 00_overview.ipynb
    python -m tools.bench --report                 # only regenerate benchmarks/README.md from results.json

Notebooks are executed as the tests execute them: in an ipykernel of this Python, cell after cell (nbclient, as
``tools/course_run.py`` and nbval do), offline, without progress bars — each in a fresh process, whose largest
child (the kernel) gives the peak resident memory. After the last cell, the kernel is asked for
``metrics.quality_log()``: the distances to the known optima that the notebook recorded where it asserted its
targets. Microbenchmarks print ratios of variants timed in the same run, interleaved, never a bare time compared
across runs.

Each budget's series runs twice against one fresh, empty checkpoint folder (``MMO_DATA`` in a temporary folder,
``MMO_CACHE=1``): *cold*, where every recipe trains and saves what it trained, then *warm*, a student's second run,
where every recipe loads it (``--cold-only`` skips the second). A warm run must reproduce the cold run's quality
rows exactly: a cached model is the model that training produced.

Results are merged into ``benchmarks/results.json`` (a run replaces only its own budget × machine entries and the
microbenchmarks of its machine), and ``benchmarks/README.md`` is regenerated from it.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
OUT = ROOT / "benchmarks"
RESULTS = OUT / "results.json"
DEFAULT_LIMIT_S = 180  # the default budget's target per notebook on a laptop CPU
WARM_LIMIT_S = 45  # ... and with every recipe's model already in the checkpoint cache
CACHE_HIT = "loaded from cache, trained in"  # the line a recipe prints when it loads instead of training
MARK = "MMO-BENCH "

PROBE = f"""
import json as _json, os as _os, platform as _platform
import torch as _torch
from mmobjectives import config as _config, metrics as _metrics
_device = _config.get_device()
_name = _torch.cuda.get_device_name(_device) if _device.type == "cuda" else (_platform.processor() or _platform.machine())
print({MARK!r} + _json.dumps({{
    "quality": _metrics.quality_log(),
    "device": str(_device),
    "device_name": _name,
    "budget": _config.budget().name,
    "torch": _torch.__version__,
}}))
"""


# -- one notebook, in a fresh process ----------------------------------------------------------------------------
def execute_one(path: Path, budget: str, data_dir: Path) -> dict:
    """Run ``path`` in ``budget`` in a kernel whose data folder (and so checkpoint cache) is ``data_dir``; return
    seconds, the kernel's peak RSS, quality rows, device, and how many models it loaded from the cache."""
    import nbformat

    from tools.course_run import notebook_client

    nb = nbformat.read(path, as_version=4)
    env = {k: v for k, v in os.environ.items() if k != "MPLBACKEND"}
    env.update({"MMO_BUDGET": budget, "MMO_OFFLINE": "1", "MMO_PROGRESS": "0", "PYTHONHASHSEED": "0"})
    env.update({"MMO_DATA": str(data_dir), "MMO_CACHE": "1"})
    client = notebook_client(nb, path, timeout=3600, allow_errors=False)
    hits = 0
    with client.setup_kernel(env=env):
        start = time.perf_counter()
        for index, cell in enumerate(nb.cells):
            done = client.execute_cell(cell, index)
            hits += sum(o.get("text", "").count(CACHE_HIT) for o in done.get("outputs", []) if "text" in o)
        seconds = time.perf_counter() - start
        probe = nbformat.v4.new_code_cell(PROBE)
        nb.cells.append(probe)
        done = client.execute_cell(probe, len(nb.cells) - 1)
    text = "".join(o.get("text", "") for o in done.outputs if o.get("output_type") == "stream")
    found = [line[len(MARK) :] for line in text.splitlines() if line.startswith(MARK)]
    if not found:
        raise RuntimeError(f"{path.name}: the probe printed no results: {done.outputs}")
    info = json.loads(found[-1])
    # the kernel has exited and been waited for: the largest child's peak resident set (kB on Linux)
    peak_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return {"seconds": round(seconds, 2), "peak_rss_mib": round(peak_mib, 1), "cache_hits": hits, **info}


def run_notebooks(budget: str, names: list[str] | None, data_dir: Path, label: str = "") -> dict:
    paths = sorted(NOTEBOOKS.glob("*.ipynb"))
    if names:
        paths = [p for p in paths if p.name in names]
    rows: dict[str, dict] = {}
    for path in paths:
        print(f"[{budget}{label}] {path.name} ...", end=" ", flush=True)
        out = subprocess.run(  # noqa: S603 - this script, on a notebook of this repository
            [sys.executable, "-m", "tools.bench", "--execute", str(path), "--budget", budget]
            + ["--data-dir", str(data_dir)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
        )
        if out.returncode != 0:
            print("FAILED")
            raise SystemExit(f"{path.name} failed in the {budget} budget:\n{out.stderr[-4000:]}")
        row = json.loads(out.stdout.strip().splitlines()[-1])
        rows[path.name] = row
        print(
            f"{row['seconds']:.1f} s, peak {row['peak_rss_mib']:.0f} MiB, {len(row['quality'])} quality rows, "
            f"{row['cache_hits']} models loaded from the cache"
        )
    return rows


def run_cold_and_warm(budget: str, names: list[str] | None, warm: bool = True) -> dict:
    """The series in ``budget`` with an empty checkpoint cache, then (``warm``) again with the one it filled: each
    notebook's cold row, with the warm run's time, peak memory, cache hits and whether its quality rows matched."""
    with tempfile.TemporaryDirectory(prefix="mmo-bench-cache-") as data_dir:
        rows = run_notebooks(budget, names, Path(data_dir), " cold" if warm else "")
        if warm:
            for name, again in run_notebooks(budget, names, Path(data_dir), " warm").items():
                rows[name]["warm"] = {
                    "seconds": again["seconds"],
                    "peak_rss_mib": again["peak_rss_mib"],
                    "cache_hits": again["cache_hits"],
                    "same_quality": again["quality"] == rows[name]["quality"],
                }
    return rows


# -- microbenchmarks -----------------------------------------------------------------------------------------------
def _interleaved(fns: dict, repeats: int, warmup: int = 1) -> dict[str, float]:
    """Median seconds of each callable, timed in turn (a, b, c, a, b, c, ...) so drifts hit all alike."""
    times: dict[str, list[float]] = {k: [] for k in fns}
    for r in range(warmup + repeats):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            if r >= warmup:
                times[name].append(time.perf_counter() - start)
    return {k: statistics.median(v) for k, v in times.items()}


def micro_info_nce(device: str) -> list[dict]:
    import torch
    import torch.nn.functional as F

    from mmobjectives import losses

    rows = []
    d, tau = 256, 0.07
    for n, repeats in [(256, 40), (1024, 15), (4096, 7)]:
        g = torch.Generator().manual_seed(n)
        a0, b0 = torch.randn(n, d, generator=g).to(device), torch.randn(n, d, generator=g).to(device)
        target = torch.arange(n, device=device)
        chunk = min(n, 1024)

        def step(loss_fn, a0=a0, b0=b0):
            a, b = a0.clone().requires_grad_(True), b0.clone().requires_grad_(True)
            loss_fn(a, b).backward()
            if a.is_cuda:
                torch.cuda.synchronize()

        def reference(a, b, target=target):
            logits = F.normalize(a, dim=1) @ F.normalize(b, dim=1).T / tau
            return 0.5 * (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target))

        med = _interleaved(
            {
                "reference": lambda: step(reference),
                "dense": lambda: step(lambda a, b: losses.info_nce(a, b, tau)),
                "streamed": lambda chunk=chunk: step(lambda a, b: losses.info_nce(a, b, tau, chunk_size=chunk)),
            },
            repeats,
        )
        rows.append(
            {
                "n": n,
                "d": d,
                "chunk_size": chunk,
                "ms": {k: round(1000 * v, 2) for k, v in med.items()},
                "dense_over_reference": round(med["dense"] / med["reference"], 3),
                "streamed_over_dense": round(med["streamed"] / med["dense"], 3),
            }
        )
        print(f"info_nce N={n}: {rows[-1]}")
    return rows


HUGE = """
import json, resource, sys, time, torch
from mmobjectives import losses
n, d, chunk, device = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
g = torch.Generator().manual_seed(0)
a = torch.randn(n, d, generator=g).to(device).requires_grad_(True)
b = torch.randn(n, d, generator=g).to(device).requires_grad_(True)
losses.info_nce(a[:1024], b[:1024], chunk_size=chunk).backward()  # warm-up
cuda = a.is_cuda
if cuda:
    torch.cuda.synchronize(); torch.cuda.reset_peak_memory_stats(); base = torch.cuda.memory_allocated()
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
start = time.perf_counter()
loss = losses.info_nce(a, b, 0.07, chunk_size=chunk)
loss.backward()
if cuda:
    torch.cuda.synchronize()
seconds = time.perf_counter() - start
extra = (torch.cuda.max_memory_allocated() - base) / 2**20 if cuda else (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
print(json.dumps({"seconds": round(seconds, 2), "extra_peak_mib": round(extra, 1), "loss": float(loss.detach())}))
"""


def micro_streaming_huge(device: str, n: int = 65_536, d: int = 256, chunk: int = 256) -> dict:
    out = subprocess.run(  # noqa: S603 - our own script text
        [sys.executable, "-c", HUGE, str(n), str(d), str(chunk), device], capture_output=True, text=True, check=True
    )
    row = json.loads(out.stdout.strip().splitlines()[-1])
    row.update(n=n, d=d, chunk_size=chunk, dense_matrix_mib=round(n * n * 4 / 2**20, 1))
    print(f"streamed info_nce N={n}: {row}")
    return row


def micro_score_matching(device: str) -> list[dict]:
    import torch

    from mmobjectives import losses, models

    rows = []
    for d in (2, 8, 32, 128):
        torch.manual_seed(d)
        net = models.MLP(d, d, (128, 128)).to(device)
        x = torch.randn(512, d, device=device)
        g = torch.Generator(device=device).manual_seed(0)

        def step(loss_fn, net=net, x=x):
            net.zero_grad()
            loss_fn(net, x).backward()
            if x.is_cuda:
                torch.cuda.synchronize()

        med = _interleaved(
            {
                "exact": lambda: step(losses.score_matching),
                "sliced": lambda g=g: step(lambda m, inputs: losses.sliced_score_matching(m, inputs, generator=g)),
            },
            repeats=10,
        )
        rows.append(
            {
                "d": d,
                "ms": {k: round(1000 * v, 2) for k, v in med.items()},
                "exact_over_sliced": round(med["exact"] / med["sliced"], 2),
            }
        )
        print(f"score matching D={d}: {rows[-1]}")
    return rows


# -- results and the report -----------------------------------------------------------------------------------------
def machine() -> dict:
    import torch

    from mmobjectives import config

    device = config.get_device()
    if device.type == "cuda":
        name = torch.cuda.get_device_name(device)
    else:
        name = f"CPU ({os.cpu_count()} cores, {platform.processor() or platform.machine()})"
    return {"device": str(device), "name": name, "torch": torch.__version__, "python": platform.python_version()}


def machine_key(info: dict) -> str:
    return "gpu: " + info["name"] if info["device"].startswith("cuda") else f"cpu: {os.cpu_count()} cores"


def _cell(text: str) -> str:
    """Text for a Markdown table cell: a bare | would end the cell (e.g. in H(Y|X))."""
    return text.replace("|", "\\|")


def _fmt(value, fmt: str = ".3f") -> str:
    return "—" if value is None else format(value, fmt)


def _has_warm(run: dict) -> bool:
    return any("warm" in row for row in run["notebooks"].values())


def _timed(row: dict | None, part: str | None) -> dict | None:
    """The cold (or only) measurement of a notebook's row, or its warm one."""
    if row is None:
        return None
    return row.get("warm") if part == "warm" else row


def _time_cell(budget: str, row: dict | None, part: str | None) -> str:
    timed = _timed(row, part)
    if timed is None:
        return "—"
    limit = WARM_LIMIT_S if part == "warm" else DEFAULT_LIMIT_S
    flag = " ⚠" if budget == "default" and timed["seconds"] > limit else ""
    cell = f"{timed['seconds']:.0f} s, {timed['peak_rss_mib']:.0f} MiB{flag}"
    if part == "warm":
        cell += f", {timed['cache_hits']} loaded" + ("" if timed["same_quality"] else " ≠")
    return cell


def report(results: dict) -> str:
    lines = [
        "# Benchmarks",
        "",
        "Generated by `make bench` (`tools/bench.py`) from `results.json`; do not edit by hand. Each notebook is",
        "executed as the tests execute it (an ipykernel, cell after cell, offline); *peak* is the kernel's peak",
        "resident memory. Microbenchmark rows are ratios of variants timed in the same run, interleaved.",
        "",
        "## Notebook wall time and peak memory",
        "",
    ]
    runs = results.get("runs", {})
    if runs:
        keys = sorted(
            runs, key=lambda k: (runs[k]["machine"]["device"], ["smoke", "default", "full"].index(runs[k]["budget"]))
        )
        names = sorted({n for k in keys for n in runs[k]["notebooks"]})
        # a run measured cold and warm (checkpoint cache empty, then filled) gets two columns
        columns = [(k, part) for k in keys for part in ((None,) if not _has_warm(runs[k]) else ("cold", "warm"))]
        lines.append(
            "| notebook | "
            + " | ".join(
                f"{runs[k]['budget']} on {runs[k]['machine']['name']}" + (f", {part} cache" if part else "")
                for k, part in columns
            )
            + " |"
        )
        lines.append("|---" * (len(columns) + 1) + "|")
        for name in names:
            cells = [_time_cell(runs[k]["budget"], runs[k]["notebooks"].get(name), part) for k, part in columns]
            lines.append(f"| `{name}` | " + " | ".join(cells) + " |")
        totals = [
            f"{sum(_timed(r, part)['seconds'] for r in runs[k]['notebooks'].values() if _timed(r, part)) / 60:.1f} min"
            for k, part in columns
        ]
        lines.append("| **whole series** | " + " | ".join(totals) + " |")
        lines += [
            "",
            f"Target: each notebook ≤ {DEFAULT_LIMIT_S} s in `default` on a 2-core laptop CPU (⚠ marks a miss);",
        ]
        lines += ["the whole series ≤ 10 min in `full` on one H100/H200."]
        if any(part for _, part in columns):
            lines += [
                "",
                "*cold cache*: a first run, every recipe trains (and saves its model); *warm cache*: the second run,",
                "every recipe loads the model the first one saved (*n loaded*). Target warm: each notebook",
                f"≤ {WARM_LIMIT_S} s in `default`, the series ≤ 4 min. ≠ would mark a warm run whose quality rows differ",
                "from the cold run's (a cached model is the trained one, so they must not).",
            ]
        if not any(runs[k]["budget"] == "full" for k in keys):
            lines += [
                "",
                "No `full` run on a GPU yet: `make bench-full` there, or `tools/gpu_full_run.sh` (see its header).",
            ]
        lines += ["", "Runs:", ""]
        for k in keys:
            m = runs[k]["machine"]
            lines.append(
                f"- {runs[k]['budget']} on {m['name']} (torch {m['torch']}, Python {m['python']}), {runs[k]['date']}"
            )
        lines += ["", "## Quality: distance to the known optimum", ""]
        lines.append(
            "Recorded by each notebook (`metrics.record_quality`) where it asserts its targets. *distance*: how"
        )
        lines.append("far the value is on the wrong side of the optimum; *target* bounds the distance (or, without an")
        lines.append("optimum, the value); smoke sets no targets.")
        for k in keys:
            lines += ["", f"### {runs[k]['budget']} on {runs[k]['machine']['name']}", ""]
            lines.append("| notebook | measure | value | optimum | distance | target | met |")
            lines.append("|---|---|---|---|---|---|---|")
            for name in names:
                for q in runs[k]["notebooks"].get(name, {}).get("quality", []):
                    met = {True: "yes", False: "**no**", None: "—"}[q["met"]]
                    unit = f" {q['unit']}" if q["unit"] else ""
                    lines.append(
                        f"| {name[:2]} | {_cell(q['measure'])} | {_fmt(q['value'], '.4f')}{unit} | {_fmt(q['optimum'], '.4f')} | "
                        f"{_fmt(q['distance'], '+.4f')} | {_fmt(q['target'], '.3g')} | {met} |"
                    )
    else:
        lines.append("No notebook runs yet: `make bench`.")
    for _, micro in sorted(results.get("micro", {}).items()):
        lines += ["", f"## Microbenchmarks on {micro['machine']['name']} ({micro['date']})", ""]
        lines += [
            "`info_nce` forward + backward, D = 256, against `F.cross_entropy` on the same logits (both",
            "directions averaged), and the streamed version (`chunk_size`) against the dense one:",
            "",
        ]
        lines.append("| N | reference ms | dense ms | streamed ms (chunk) | dense / reference | streamed / dense |")
        lines.append("|---|---|---|---|---|---|")
        for r in micro["info_nce"]:
            lines.append(
                f"| {r['n']} | {r['ms']['reference']:.1f} | {r['ms']['dense']:.1f} | {r['ms']['streamed']:.1f} ({r['chunk_size']}) | "
                f"{r['dense_over_reference']:.2f} | {r['streamed_over_dense']:.2f} |"
            )
        lines += ["", "Targets: dense ≤ 1.1× the reference at N = 4096; streamed ≤ 1.5× dense at N = 4096."]
        huge = micro.get("streaming_huge")
        if huge:
            lines += [
                "",
                f"Streamed `info_nce` at N = {huge['n']:,}, D = {huge['d']}, chunk {huge['chunk_size']}: forward + backward in "
                f"{huge['seconds']:.0f} s with {huge['extra_peak_mib']:.0f} MiB extra peak memory (one dense N×N float32 "
                f"matrix: {huge['dense_matrix_mib']:,.0f} MiB). Target: < 1.5 GB (1536 MiB).",
            ]
        lines += [
            "",
            "Exact (Hyvärinen, one backward per dimension) vs sliced score matching (one projection), MLP 128-128, batch 512:",
            "",
        ]
        lines.append("| D | exact ms | sliced ms | exact / sliced |")
        lines.append("|---|---|---|---|")
        for r in micro["score_matching"]:
            lines.append(
                f"| {r['d']} | {r['ms']['exact']:.1f} | {r['ms']['sliced']:.1f} | {r['exact_over_sliced']:.1f} |"
            )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budgets", nargs="+", default=["smoke", "default"], choices=["smoke", "default", "full"])
    parser.add_argument("--only", choices=["notebooks", "micro"])
    parser.add_argument("--notebooks", nargs="+", help="file names, e.g. 01_infonce.ipynb (default: all)")
    parser.add_argument("--no-huge", action="store_true", help="skip the N = 65,536 streaming run")
    parser.add_argument("--report", action="store_true", help="only regenerate benchmarks/README.md")
    parser.add_argument("--results", type=Path, default=RESULTS, help="the results file to merge into")
    parser.add_argument("--cold-only", action="store_true", help="skip the second (warm cache) run of each series")
    parser.add_argument("--data-dir", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--execute", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--budget", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.execute:
        print(json.dumps(execute_one(args.execute, args.budget, args.data_dir)))
        return
    results = json.loads(args.results.read_text()) if args.results.exists() else {"runs": {}, "micro": {}}
    if not args.report:
        info = machine()
        key = machine_key(info)
        date = datetime.date.today().isoformat()
        if args.only in (None, "notebooks"):
            for budget in args.budgets:
                rows = run_cold_and_warm(budget, args.notebooks, warm=not args.cold_only)
                entry = results["runs"].setdefault(
                    f"{budget} @ {key}", {"budget": budget, "machine": info, "notebooks": {}}
                )
                entry.update(machine=info, date=date)
                entry["notebooks"].update(rows)
                args.results.parent.mkdir(parents=True, exist_ok=True)
                args.results.write_text(json.dumps(results, indent=1) + "\n")  # after each budget: nothing lost
        if args.only in (None, "micro"):
            import torch

            torch.set_num_threads(os.cpu_count() or 1)
            device = info["device"]
            micro = {"machine": info, "date": date, "info_nce": micro_info_nce(device)}
            if not args.no_huge:
                micro["streaming_huge"] = micro_streaming_huge(device)
            micro["score_matching"] = micro_score_matching(device)
            results["micro"][key] = micro
        args.results.parent.mkdir(parents=True, exist_ok=True)
        args.results.write_text(json.dumps(results, indent=1) + "\n")
    readme = args.results.parent / "README.md"
    readme.write_text(report(results))
    print(f"wrote {args.results.relative_to(ROOT) if args.results.is_relative_to(ROOT) else args.results} and {readme}")


if __name__ == "__main__":
    main()
