#!/usr/bin/env bash
# The `full` budget of every notebook on a GPU machine, with the microbenchmarks; writes results under $OUT.
#
# Here, first:   ../shared/gpu/wheels.sh build/gpu-wheels      (build/ is git-ignored; carry it: "build/gpu-wheels")
# On the GPU:    bash tools/gpu_full_run.sh                       (the device tool runs it in the repository root)
# Back here:     copy $OUT/results.json over benchmarks/results.json (it holds this machine's runs too), then
#                python -m tools.bench --report, and commit both with the device named (it is in the file).
#
# Each notebook runs in a fresh kernel (nbclient) exactly as `make bench` runs it; the series' wall time, each
# notebook's time and peak memory, the device name and the quality table land in results.json and the README.
# BENCH_BUDGETS / BENCH_NOTEBOOKS / BENCH_MICRO_ARGS narrow it for a dry run on a CPU, e.g.
#   BENCH_BUDGETS=smoke BENCH_NOTEBOOKS=00_overview.ipynb BENCH_MICRO_ARGS=--no-huge OUT=/tmp/gpu-dry bash tools/gpu_full_run.sh
set -euo pipefail
OUT=${OUT:-build/gpu-out}
BUDGETS=${BENCH_BUDGETS:-full}
PYTHON=${PYTHON:-python3}
NOTEBOOKS=${BENCH_NOTEBOOKS:+--notebooks $BENCH_NOTEBOOKS}
mkdir -p "$OUT"
if ! "$PYTHON" -c "import nbclient, ipykernel, ipywidgets" 2>/dev/null; then
  "$PYTHON" -m pip install -q --no-index --no-deps --no-compile --target /tmp/site build/gpu-wheels/*.whl
  export PYTHONPATH=/tmp/site:$PWD
else
  export PYTHONPATH=$PWD:${PYTHONPATH:-}
fi
cp benchmarks/results.json "$OUT/results.json" 2>/dev/null || true
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader | tee "$OUT/gpu.txt" || true
start=$(date +%s)
# shellcheck disable=SC2086
"$PYTHON" -m tools.bench --budgets $BUDGETS $NOTEBOOKS --results "$OUT/results.json" --only notebooks 2>&1 | tee "$OUT/notebooks.log"
echo "full series: $(( $(date +%s) - start )) s" | tee -a "$OUT/notebooks.log"
# shellcheck disable=SC2086
"$PYTHON" -m tools.bench --only micro ${BENCH_MICRO_ARGS:-} --results "$OUT/results.json" 2>&1 | tee "$OUT/micro.log"
