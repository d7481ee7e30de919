"""End-to-end benchmark: load -> embed -> train -> communities -> influence -> write-back.

One synthetic network per size (default 10k, 100k and 1M users), each in a fresh subprocess so
memory figures do not mix. Every stage's wall time and the process's peak resident memory after
the stage (a high-water mark: it only grows) are recorded, then how time grows with size.

Settings: the embedded store; the fast static text model (the default transformer would take
~2 hours for the 1M network's 2.3M posts on 2 cores: its cost is in the embedding benchmark);
the job's defaults otherwise, except ``--epochs`` per size (training is capped at 1M users on
this CPU and the per-epoch time recorded, so the uncapped time can be read off).

Run: ``python bench/bench_e2e.py [--sizes 10000,100000,1000000] [--epochs 100,100,3]``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def _hwm_gib() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 2**20
    return float("nan")


def one(n_users: int, epochs: int, cache: bool = True) -> dict[str, Any]:
    """Runs inside the child process."""
    from graphsona.graph import EmbeddedStore
    from graphsona.job import ProfileJobConfig, run_profile
    from graphsona.loaders import SyntheticConfig, generate, load_dataset, write_dataset

    out: dict[str, Any] = {"users": n_users, "epochs_cap": epochs, "cache": cache, "stages": {}}
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        net = generate(SyntheticConfig(n_users=n_users, seed=7))
        write_dataset(net, Path(tmp) / "data")
        out["posts"], out["follows"], out["interactions"] = (
            net.posts.height,
            net.follows.height,
            net.interactions.height,
        )
        del net
        out["stages"]["generate"] = {"seconds": time.perf_counter() - t, "peak_rss_gib": _hwm_gib()}
        print(
            f"[{time.strftime('%H:%M:%S')}] generated {out['posts']} posts",
            file=sys.stderr,
            flush=True,
        )
        t = time.perf_counter()
        ds, _ = load_dataset(Path(tmp) / "data")
        with EmbeddedStore(Path(tmp) / "g.lbdb") as store:
            store.load(ds)
            del ds
            out["stages"]["validate_and_load"] = {
                "seconds": time.perf_counter() - t,
                "peak_rss_gib": _hwm_gib(),
            }
            cfg = ProfileJobConfig(
                embedder_kind="static",
                cache=Path(tmp) / "vectors.sqlite" if cache else None,
                epochs=epochs,
                work_dir=Path(tmp) / "runs",
            )
            marks: dict[str, float] = {}

            def progress(stage: str, message: str) -> None:
                marks.setdefault(stage, _hwm_gib())
                # live progress on stderr (the parent lets it through)
                print(
                    f"[{time.strftime('%H:%M:%S')}] {stage}: {message}", file=sys.stderr, flush=True
                )

            result = run_profile(store, cfg, progress=progress)
        for stage, secs in result.seconds.items():
            # the high-water mark when the stage started: the peak of everything before it
            out["stages"][stage] = {"seconds": secs, "peak_rss_gib_at_start": marks.get(stage)}
        out["stages"]["write_back"]["peak_rss_gib"] = _hwm_gib()
        train = json.loads((Path(tmp) / "runs" / "manifest.json").read_text())["train"]
        out["train"] = train
        out["peak_rss_gib"] = _hwm_gib()
    out["total_seconds"] = sum(s["seconds"] for s in out["stages"].values())
    return out


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--sizes", default="10000,100000,1000000")
    ap.add_argument("--epochs", default="100,100,3")
    ap.add_argument("--child", type=int, default=None, help=argparse.SUPPRESS)
    ap.add_argument("--child-epochs", type=int, default=100, help=argparse.SUPPRESS)
    ap.add_argument(
        "--no-cache", action="store_true", help="Run without the on-disk text-vector cache."
    )
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "e2e.json")
    args = ap.parse_args()
    if args.child is not None:
        print(json.dumps(one(args.child, args.child_epochs, cache=not args.no_cache)))
        return
    from bench_stores import machine

    sizes = [int(s) for s in args.sizes.split(",")]
    epochs = [int(e) for e in args.epochs.split(",")]
    runs = []
    for n, ep in zip(sizes, epochs, strict=True):
        print(f"== {n:,} users (epochs <= {ep})", flush=True)
        proc = subprocess.run(
            [sys.executable, __file__, "--child", str(n), "--child-epochs", str(ep)]
            + (["--no-cache"] if args.no_cache else []),
            stdout=subprocess.PIPE,  # stderr passes through: the child's live progress
            text=True,
            check=False,
        )
        if proc.returncode != 0:
            runs.append({"users": n, "error": f"child exited with {proc.returncode}"})
            continue
        res = json.loads(proc.stdout.strip().splitlines()[-1])
        runs.append(res)
        print(json.dumps(res, indent=2), flush=True)
    out = {"machine": machine(), "runs": runs}
    args.out.write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
