"""End-to-end benchmark: load -> embed -> train -> communities -> influence -> write-back.

One synthetic network per size (default 10k, 100k and 1M users). Like a user running
``graphsona load`` then ``graphsona profile``, each size runs in two fresh processes: one
generates and loads the data into the embedded store, the other runs the profiling job on it, so
memory figures do not mix. Every stage's wall time and its process's peak resident memory (a
high-water mark: it only grows) are recorded, then how time grows with size.

Settings: the embedded store; the fast static text model (the default transformer would take
hours for the 1M network's 6.8M posts on 2 cores: its cost is in the embedding benchmark);
the job's defaults otherwise, except ``--epochs`` per size (training is capped at 1M users on
this CPU and the per-epoch time recorded, so the uncapped time can be read off).

Run: ``python bench/bench_e2e.py [--sizes 10000,100000,1000000] [--epochs 100,100,3]
[--results-dir DIR]``. Writes ``bench/results/e2e-<UTC time>.json`` with the run's provenance,
rewritten after each size (``complete: false`` until the last).
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

import _provenance  # noqa: E402


def _memory_gib(field: str) -> float:
    """A memory figure of this process from /proc (VmHWM: high-water mark, VmRSS: now)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) / 2**20
    return float("nan")


def _hwm_gib() -> float:
    return _memory_gib("VmHWM")


def _rss_gib() -> float:
    return _memory_gib("VmRSS")


def _say(message: str) -> None:
    """Live progress on stderr (the parent lets it through)."""
    print(
        f"[{time.strftime('%H:%M:%S')}] {message} (rss {_rss_gib():.1f} GiB)",
        file=sys.stderr,
        flush=True,
    )


def load_phase(n_users: int, tmp: Path) -> dict[str, Any]:
    """Child process 1, like ``graphsona generate`` + ``graphsona load``."""
    from graphsona.graph import EmbeddedStore
    from graphsona.loaders import SyntheticConfig, generate, load_dataset, write_dataset

    out: dict[str, Any] = {"stages": {}}
    t = time.perf_counter()
    net = generate(SyntheticConfig(n_users=n_users, seed=7))
    write_dataset(net, tmp / "data")
    out["posts"], out["follows"], out["interactions"] = (
        net.posts.height,
        net.follows.height,
        net.interactions.height,
    )
    del net
    out["stages"]["generate"] = {"seconds": time.perf_counter() - t, "peak_rss_gib": _hwm_gib()}
    _say(f"generated {out['posts']} posts")
    t = time.perf_counter()
    ds, _ = load_dataset(tmp / "data")
    with EmbeddedStore(tmp / "g.lbdb") as store:
        store.load(ds)
    out["stages"]["validate_and_load"] = {
        "seconds": time.perf_counter() - t,
        "peak_rss_gib": _hwm_gib(),
    }
    _say("loaded")
    return out


def job_phase(tmp: Path, epochs: int, cache: bool, embedder_kind: str) -> dict[str, Any]:
    """Child process 2, like ``graphsona profile`` on the loaded store."""
    from graphsona.graph import EmbeddedStore
    from graphsona.jobs.profile import ProfileJobConfig, run_profile

    out: dict[str, Any] = {"stages": {}}
    cfg = ProfileJobConfig(
        embedder_kind=embedder_kind,
        cache=tmp / "vectors.sqlite" if cache else None,
        epochs=epochs,
        work_dir=tmp / "runs",
    )
    marks: dict[str, float] = {}

    def progress(stage: str, message: str) -> None:
        marks.setdefault(stage, _hwm_gib())
        _say(f"{stage}: {message}")

    with EmbeddedStore(tmp / "g.lbdb") as store:
        result = run_profile(store, cfg, progress=progress)
    for stage, secs in result.seconds.items():
        # the high-water mark when the stage started: the peak of everything before it
        out["stages"][stage] = {"seconds": secs, "peak_rss_gib_at_start": marks.get(stage)}
    out["stages"]["write_back"]["peak_rss_gib"] = _hwm_gib()
    out["train"] = json.loads((tmp / "runs" / "manifest.json").read_text())["train"]
    out["peak_rss_gib"] = _hwm_gib()
    return out


def _child(args: list[str]) -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, __file__, *args],
        stdout=subprocess.PIPE,  # stderr passes through: the child's live progress
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        return {"error": f"child {args[:2]} exited with {proc.returncode}"}
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--sizes", default="10000,100000,1000000")
    ap.add_argument("--epochs", default="100,100,3")
    ap.add_argument("--load-child", type=int, default=None, help=argparse.SUPPRESS)
    ap.add_argument("--job-child", type=int, default=None, help=argparse.SUPPRESS)
    ap.add_argument("--dir", type=Path, default=None, help=argparse.SUPPRESS)
    ap.add_argument(
        "--no-cache", action="store_true", help="Run without the on-disk text-vector cache."
    )
    ap.add_argument(
        "--embedder-kind",
        default="static",
        help="The job's text model kind: static (the fast CPU mode, default here) or "
        "sentence-transformers (the job's own default: the transformer, on the GPU when there "
        "is one).",
    )
    _provenance.add_results_dir_option(ap)
    args = ap.parse_args()
    if args.load_child is not None:
        print(json.dumps(load_phase(args.load_child, args.dir)))
        return
    if args.job_child is not None:
        print(
            json.dumps(
                job_phase(
                    args.dir,
                    args.job_child,
                    cache=not args.no_cache,
                    embedder_kind=args.embedder_kind,
                )
            )
        )
        return
    run = _provenance.start("e2e", args.results_dir)
    sizes = [int(s) for s in args.sizes.split(",")]
    epochs = [int(e) for e in args.epochs.split(",")]
    runs = []
    config = {
        "sizes": sizes,
        "epochs": epochs,
        "cache": not args.no_cache,
        "seed": 7,
        "embedder_kind": args.embedder_kind,
    }
    for i, (n, ep) in enumerate(zip(sizes, epochs, strict=True)):
        print(f"== {n:,} users (epochs <= {ep})", flush=True)
        res: dict[str, Any] = {"users": n, "epochs_cap": ep, "cache": not args.no_cache}
        with tempfile.TemporaryDirectory() as tmp:
            loaded = _child(["--load-child", str(n), "--dir", tmp])
            job = (
                _child(
                    ["--job-child", str(ep), "--dir", tmp, "--embedder-kind", args.embedder_kind]
                    + (["--no-cache"] if args.no_cache else [])
                )
                if "error" not in loaded
                else {}
            )
        if "error" in loaded or "error" in job:
            res["error"] = loaded.get("error") or job.get("error")
        else:
            res.update({k: v for k, v in loaded.items() if k != "stages"})
            res["stages"] = {**loaded["stages"], **job["stages"]}
            res["train"], res["peak_rss_gib"] = job["train"], job["peak_rss_gib"]
            res["load_peak_rss_gib"] = loaded["stages"]["validate_and_load"]["peak_rss_gib"]
            res["total_seconds"] = sum(s["seconds"] for s in res["stages"].values())
        runs.append(res)
        print(json.dumps(res, indent=2), flush=True)
        run.write({"config": config, "runs": runs}, complete=i == len(sizes) - 1)


if __name__ == "__main__":
    main()
