#!/usr/bin/env bash
# The GPU checks in one script, sized for under 8 minutes on one H200 (run from the repo root
# on the device machine; results land in $OUT). Assumes the environment is installed
# (`make env`); each step has its own time limit so one slow step cannot eat the budget.
# Each Python step writes its own <bench>-<UTC time>.json with a provenance block (commit,
# machine, command, wall time) into $OUT. A copy of the tree without .git cannot name its
# commit: pass it in, e.g. BENCH_COMMIT=$(git rev-parse HEAD) in the command that starts this.
set -uo pipefail
OUT=${OUT:-bench/results/gpu}
mkdir -p "$OUT"
export OUT HF_HUB_OFFLINE=1 BENCH_RUN_GROUP="gpu_e2e-$(date -u +%Y%m%dT%H%M%SZ)"
PY=${PY:-python}
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv > "$OUT/gpu.txt" 2>&1
# 1) post embedding: 2M posts, bf16 (issue 3's aim: >= 100k posts/s)
timeout 200 "$PY" bench/gpu_embed.py --posts 2000000 --results-dir "$OUT" > "$OUT/gpu_embed.log" 2>&1
# 2) GNN training at 1M users / 50M edges: epoch time and peak memory (issue 4)
timeout 150 "$PY" bench/gpu_train.py --users 1000000 --edges 50000000 --epochs 10 --results-dir "$OUT" > "$OUT/gpu_train.log" 2>&1
# 3) end to end at 100k users on the GPU (issue 6)
timeout 120 "$PY" bench/bench_e2e.py --sizes 100000 --epochs 100 --results-dir "$OUT" > "$OUT/gpu_e2e.log" 2>&1
tail -n 3 "$OUT"/*.log
ls -1 "$OUT"/*.json 2>/dev/null
