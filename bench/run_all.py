"""Run the quick benchmarks in bench/ one after another (``make bench``).

Each script writes its own ``bench/results/<bench>-<UTC time>.json``; this runner writes
``bench/results/run_all-<UTC time>.json`` listing the scripts it ran, their exit codes and wall
times and the results files each produced. The children record this run's file stem as
``BENCH_RUN_GROUP`` in their provenance, so the files of one ``make bench`` can be found together.

Run: ``python bench/run_all.py [--results-dir DIR] [-- extra args for every script]``.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import _provenance  # noqa: E402

SCRIPTS = ("bench_generate.py", "bench_stores.py")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    _provenance.add_results_dir_option(ap)
    ap.add_argument("--only", choices=SCRIPTS, action="append", help="run only these scripts")
    ap.add_argument("extra", nargs="*", help="arguments passed to every script (after --)")
    args = ap.parse_args()
    run = _provenance.start("run_all", args.results_dir)
    results_dir = run.results_dir
    group = f"run_all-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime(run.started))}"
    env = {**os.environ, "BENCH_RUN_GROUP": group, "BENCH_RESULTS_DIR": str(results_dir)}
    done: list[dict[str, object]] = []
    failed = False
    for script in args.only or SCRIPTS:
        print(f"== {script}", flush=True)
        before = set(results_dir.glob("*.json")) if results_dir.is_dir() else set()
        t = time.perf_counter()
        proc = subprocess.run([sys.executable, str(HERE / script), *args.extra], env=env)
        after = set(results_dir.glob("*.json")) if results_dir.is_dir() else set()
        done.append(
            {
                "script": script,
                "returncode": proc.returncode,
                "wall_seconds": round(time.perf_counter() - t, 2),
                "results_files": sorted(p.name for p in after - before),
            }
        )
        run.write({"run_group": group, "scripts": done}, complete=False)
        if proc.returncode != 0:
            failed = True
            break
    run.write({"run_group": group, "scripts": done})
    if failed:
        raise SystemExit(f"{done[-1]['script']} exited with {done[-1]['returncode']}")


if __name__ == "__main__":
    main()
