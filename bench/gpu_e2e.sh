#!/usr/bin/env bash
# The GPU checks, sized for one H200 lease (15 minutes of device time in all). Run from the repo
# root on the device machine; results land in $OUT. Each step has its own time limit so one slow
# step cannot eat the budget. Each Python step writes its own <bench>-<UTC time>.json with a
# provenance block (commit, machine, command, wall time) into $OUT. A copy of the tree without
# .git cannot name its commit: pass it in, e.g. BENCH_COMMIT=$(git rev-parse HEAD).
#
# Usage: bash bench/gpu_e2e.sh [train] [embed] [e2e]   (no step named: all three)
#
# The device machine has PyTorch, PyG, transformers and sentence-transformers but none of
# graphsona's other packages, and cannot download. Where the environment is not installed,
# carry the missing packages as xz tar archives of unpacked cp312 wheels in .gpuA/site.tar.xz and
# .gpuB/site.tar.xz (each call carries at most 64 MiB, so they may come in two calls to one warm
# machine): this script unpacks whichever is there into /tmp/site and puts graphsona on the path.
# (Made here with `pip download --python-version 3.12 ...`; the all-MiniLM-L6-v2 weights went as
# fp16 to fit, so the GPU runs use fp16-rounded weights.)
set -uo pipefail
OUT=${OUT:-bench/results/gpu}
mkdir -p "$OUT"
export OUT HF_HUB_OFFLINE=1 BENCH_RUN_GROUP="gpu_e2e-$(date -u +%Y%m%dT%H%M%SZ)"
PY=${PY:-python3}
for a in .gpuA/site.tar.xz .gpuB/site.tar.xz; do
  stamp=/tmp/site/.unpacked-$(dirname "$a" | tr -d .)-$(stat -c %s "$a" 2>/dev/null)
  [ -f "$a" ] && [ ! -f "$stamp" ] && mkdir -p /tmp/site && tar -C /tmp/site -xJf "$a" \
    && touch "$stamp" && echo "unpacked $a"
done
if [ -d /tmp/site ]; then
  mkdir -p /tmp/gsview && ln -sfn "$PWD" /tmp/gsview/graphsona
  export PYTHONPATH=/tmp/site:/tmp/gsview${PYTHONPATH:+:$PYTHONPATH}
fi
steps=${*:-train embed e2e}
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv > "$OUT/gpu.txt" 2>&1
for step in $steps; do
  case $step in
    # GNN training at 1M users / 50M edges: epoch time and peak memory, then the served
    # profiles' inference over the whole graph and an update's around 1,000 users
    train) timeout "${TRAIN_S:-150}" "$PY" bench/gpu_train.py --users 1000000 --edges 50000000 \
             --epochs "${TRAIN_EPOCHS:-6}" --results-dir "$OUT" > "$OUT/gpu_train.log" 2>&1 ;;
    # post embedding through graphsona's pipeline, bf16 (issue 3's aim: >= 100k posts/s)
    embed) timeout "${EMBED_S:-150}" "$PY" bench/gpu_embed.py --posts "${EMBED_POSTS:-1000000}" \
             --results-dir "$OUT" > "$OUT/gpu_embed.log" 2>&1 ;;
    # the whole job at 100k users on the GPU with the job's own text model (the transformer)
    e2e) timeout "${E2E_S:-330}" "$PY" bench/bench_e2e.py --sizes 100000 --epochs 100 \
           --embedder-kind sentence-transformers --results-dir "$OUT" > "$OUT/gpu_e2e.log" 2>&1 ;;
    *) echo "unknown step $step" >&2 ;;
  esac
  echo "$step exited $?"
done
tail -n 5 "$OUT"/*.log
ls -1 "$OUT"/*.json 2>/dev/null
