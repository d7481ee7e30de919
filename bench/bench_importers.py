"""Importer benchmark: ``graphsona load --format reddit`` on a Reddit-style dump.

Writes a synthetic dump of ``--records`` records in Pushshift's NDJSON shape, zstandard
compressed like the published monthly files: one submission in ten (``RS_bench.zst``), the
rest comments (``RC_bench.zst``) replying to a random earlier submission or comment, by
``--authors`` authors, with 1% deleted authors and 1% removed bodies. Then, in a fresh child
process for each size in ``--sizes`` (the first N records of each file, so the dump is written
once), reads it with the reddit importer and validates it (``import_platform``), sampling the
process's resident memory every 0.2 s. Recorded per size: records, seconds for reading (the
importer) and for validation, records per second, peak resident memory, and the memory after
the read relative to the tables' own size (``estimated_size``): a flat reader costs the tables
plus a constant, not a Python object per record.

Then, the same sizes through ``graphsona convert --format reddit`` (posts and edges spilled to
Parquet as they are read), each in a fresh process: seconds and the process's peak resident
memory (kernel high-water mark).

Run: ``python bench/bench_importers.py [--records 1000000] [--sizes 250000,500000,1000000]
[--convert-only]``;
writes ``bench/results/importers-<UTC time>.json`` with the run's provenance.
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

import _provenance  # noqa: E402

WORDS = [
    "compost",
    "soil",
    "garden",
    "seed",
    "water",
    "tomato",
    "basil",
    "harvest",
    "rain",
    "sun",
    "bread",
    "yeast",
    "oven",
    "flour",
    "crust",
    "dough",
    "python",
    "code",
    "bug",
    "test",
    "deploy",
    "server",
    "cache",
    "query",
    "graph",
    "model",
]


def _rss_mib(field: str = "VmRSS") -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _write_dump(folder: Path, records: int, authors: int, seed: int) -> dict[str, Any]:
    import zstandard

    rng = random.Random(seed)
    names = [f"user_{i:06d}" for i in range(authors)]
    t0 = 1_700_000_000
    subs: list[str] = []
    seen: list[str] = []
    n_sub = n_com = 0
    with (  # one compressor per stream: a compressor holds one stream's state
        (folder / "RS_bench.zst").open("wb") as rs_raw,
        (folder / "RC_bench.zst").open("wb") as rc_raw,
        zstandard.ZstdCompressor(level=3).stream_writer(rs_raw) as rs,
        zstandard.ZstdCompressor(level=3).stream_writer(rc_raw) as rc,
    ):
        for i in range(records):
            author = "[deleted]" if rng.random() < 0.01 else rng.choice(names)
            words = " ".join(rng.choices(WORDS, k=rng.randint(5, 30)))
            when = t0 + i
            if i % 10 == 0 or not seen:
                rid = f"s{i:x}"
                rec = {"id": rid, "author": author, "title": words[:60], "selftext": words,
                       "created_utc": when, "subreddit": "bench", "score": rng.randint(0, 50)}  # fmt: skip
                subs.append("t3_" + rid)
                seen.append("t3_" + rid)
                rs.write((json.dumps(rec) + "\n").encode())
                n_sub += 1
            else:
                rid = f"c{i:x}"
                body = "[removed]" if rng.random() < 0.01 else words
                rec = {"id": rid, "author": author, "body": body, "created_utc": str(when),
                       "parent_id": rng.choice(seen[-5000:]), "link_id": rng.choice(subs[-500:]),
                       "subreddit": "bench", "score": rng.randint(-5, 50)}  # fmt: skip
                seen.append("t1_" + rid)
                rc.write((json.dumps(rec) + "\n").encode())
                n_com += 1
    return {
        "submissions": n_sub,
        "comments": n_com,
        "compressed_bytes": sum(f.stat().st_size for f in folder.iterdir()),
    }


def _part(folder: str, size: int) -> Path:
    """A dump of the first ``size`` records (both files in proportion)."""
    import zstandard

    src = Path(folder)
    part = Path(tempfile.mkdtemp(prefix="dump_part_"))
    for name, share in (("RS_bench.zst", 0.1), ("RC_bench.zst", 0.9)):  # the first records
        want = int(size * share)
        with (
            (src / name).open("rb") as raw,
            zstandard.ZstdDecompressor().stream_reader(raw) as r,
            (part / name).open("wb") as out_raw,
            zstandard.ZstdCompressor(level=3).stream_writer(out_raw) as w,
        ):
            buf = b""
            n = 0
            while n < want:
                chunk = r.read(1 << 20)
                if not chunk:
                    break
                buf += chunk
                lines = buf.split(b"\n")
                buf = lines.pop()
                take = lines[: want - n]
                w.write(b"".join(x + b"\n" for x in take))
                n += len(take)
    return part


def _child_convert(folder: str, size: int) -> None:
    """``graphsona convert --format reddit`` of the first ``size`` records: seconds and the
    process's peak resident memory (the kernel's high-water mark)."""
    import shutil

    from graphsona.loaders.platforms import convert_platform

    part = _part(folder, size)
    out = Path(tempfile.mkdtemp(prefix="converted_")) / "data"
    base = _rss_mib("VmHWM")
    t = time.perf_counter()
    counts, _ = convert_platform("reddit", part, out)
    seconds = time.perf_counter() - t
    print(
        json.dumps(
            {
                "records": size,
                "convert_seconds": round(seconds, 2),
                "records_per_second_convert": round(size / seconds),
                "peak_rss_before_mib": round(base, 1),
                "peak_rss_mib": round(_rss_mib("VmHWM"), 1),
                "parquet_mib": round(sum(f.stat().st_size for f in out.iterdir()) / 2**20, 1),
                "rows": counts,
            }
        )
    )
    shutil.rmtree(out.parent)
    shutil.rmtree(part)


def _child(folder: str, size: int) -> None:
    """Read the first ``size`` records of the dump (both files in proportion) and report."""
    from graphsona.loaders.platforms import import_platform, read_platform

    part = _part(folder, size)
    base = _rss_mib()
    peak = [base]
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            peak[0] = max(peak[0], _rss_mib())
            time.sleep(0.2)

    threading.Thread(target=sample, daemon=True).start()
    t = time.perf_counter()
    collected = read_platform("reddit", part)
    read_s = time.perf_counter() - t
    tables = collected.tables()
    after_read = _rss_mib()
    table_mib = sum(f.estimated_size() for f in tables.values()) / 2**20
    t = time.perf_counter()
    _ds, report = import_platform("reddit", part)
    total_s = time.perf_counter() - t
    stop.set()
    peak[0] = max(peak[0], _rss_mib(), _rss_mib("VmHWM"))
    print(
        json.dumps(
            {
                "records": size,
                "read_seconds": round(read_s, 2),
                "records_per_second_read": round(size / read_s),
                "import_and_validate_seconds": round(total_s, 2),
                "records_per_second_import_and_validate": round(size / total_s),
                "rss_before_mib": round(base, 1),
                "rss_after_read_mib": round(after_read, 1),
                "tables_estimated_mib": round(table_mib, 1),
                "peak_rss_mib": round(peak[0], 1),
                "rows": {k: v.height for k, v in tables.items()},
                "issues": report.issues,
            }
        )
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--records", type=int, default=1_000_000)
    ap.add_argument("--sizes", default="250000,500000,1000000")
    ap.add_argument("--authors", type=int, default=50_000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--child", nargs=2, metavar=("FOLDER", "SIZE"), help=argparse.SUPPRESS)
    ap.add_argument("--child-convert", nargs=2, help=argparse.SUPPRESS)
    ap.add_argument("--convert-only", action="store_true", help="only the convert sizes")
    _provenance.add_results_dir_option(ap)
    args = ap.parse_args()
    if args.child:
        _child(args.child[0], int(args.child[1]))
        return
    if args.child_convert:
        _child_convert(args.child_convert[0], int(args.child_convert[1]))
        return
    run = _provenance.start("importers", args.results_dir)
    folder = Path(tempfile.mkdtemp(prefix="bench_importers_"))
    t = time.perf_counter()
    out: dict[str, Any] = {"dump": _write_dump(folder, args.records, args.authors, args.seed)}
    out["dump"]["write_seconds"] = round(time.perf_counter() - t, 1)
    for key, flag in (("sizes", "--child"), ("convert", "--child-convert")):
        if key == "sizes" and args.convert_only:
            continue
        out[key] = []
        for size in [int(s) for s in args.sizes.split(",")]:
            child = subprocess.run(
                [sys.executable, __file__, flag, str(folder), str(size)],
                capture_output=True,
                text=True,
                check=True,
            )
            out[key].append(json.loads(child.stdout.strip().splitlines()[-1]))
            print(out[key][-1], file=sys.stderr, flush=True)
            run.write(out, complete=False)
    run.write(out)
    for f in folder.iterdir():
        f.unlink()
    folder.rmdir()


if __name__ == "__main__":
    main()
