"""bench/_provenance.py: every results file says which code, machine and command produced it,
and each run gets its own file (never merged with or written over an earlier run's)."""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench"
NAME = re.compile(r"^(?P<bench>[a-z_]+)-\d{8}T\d{6}Z(-\d+)?\.json$")
ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


@pytest.fixture(scope="module")
def prov() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_provenance", BENCH / "_provenance.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look the module up while the class is built
    spec.loader.exec_module(module)
    return module


def test_results_file_carries_provenance(prov: ModuleType, tmp_path: Path) -> None:
    run = prov.start("fake", tmp_path)
    path = run.write({"users": 10, "seconds": 0.1})
    assert path.parent == tmp_path and NAME.match(path.name)
    assert NAME.match(path.name)["bench"] == "fake"  # type: ignore[index]
    doc = json.loads(path.read_text())
    assert doc["users"] == 10 and doc["seconds"] == 0.1
    p = doc["provenance"]
    assert p["bench"] == "fake" and p["complete"] is True
    if p["source"] == "git":
        assert re.fullmatch(r"[0-9a-f]{40}", p["commit"])
        assert isinstance(p["dirty"], bool)
        assert not p["dirty"] or (p["changed_paths"] and len(p["diff_sha256"]) == 64)
    else:  # a copy of the tree without .git
        assert p["commit"] is None and p["dirty"] is None
    assert ISO.match(p["started_utc"]) and ISO.match(p["finished_utc"])
    assert p["started_utc"] <= p["finished_utc"]
    assert isinstance(p["wall_seconds"], float) and p["wall_seconds"] >= 0
    assert p["argv"][0] == sys.executable and p["command"].startswith(sys.executable)
    m = p["machine"]
    for key in ("cpu", "cores", "memory_gib", "gpus", "os", "python", "packages"):
        assert key in m, key
    assert m["cores"] >= 1 and m["memory_gib"] > 0 and isinstance(m["gpus"], list)
    assert {"torch", "polars"} <= set(m["packages"])


def test_one_file_per_run_even_in_the_same_second(prov: ModuleType, tmp_path: Path) -> None:
    first, second = prov.start("fake", tmp_path), prov.start("fake", tmp_path)
    second.started = first.started  # the same UTC second: the names would clash
    a = first.write({"run": 1})
    b = second.write({"run": 2})
    assert a != b and NAME.match(a.name) and NAME.match(b.name)
    assert json.loads(a.read_text())["run"] == 1 and json.loads(b.read_text())["run"] == 2
    third = prov.start("fake", tmp_path)
    c = third.write({"run": 3})
    assert len({a, b, c}) == 3 and len(list(tmp_path.glob("fake-*.json"))) == 3


def test_a_run_rewrites_only_its_own_file(prov: ModuleType, tmp_path: Path) -> None:
    run = prov.start("fake", tmp_path)
    partial = run.write({"sizes": [1]}, complete=False)
    doc = json.loads(partial.read_text())
    assert doc["provenance"]["complete"] is False and doc["provenance"]["finished_utc"] is None
    final = run.write({"sizes": [1, 2]})
    assert final == partial and list(tmp_path.iterdir()) == [final]
    doc = json.loads(final.read_text())
    assert doc["sizes"] == [1, 2] and doc["provenance"]["complete"] is True


def test_results_cannot_hide_the_provenance(prov: ModuleType, tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        prov.start("fake", tmp_path).write({"provenance": "mine"})
    with pytest.raises(ValueError):
        prov.start("../escape", tmp_path)


def test_commit_from_the_environment_without_git(
    prov: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(prov, "_git", lambda *args: None)
    monkeypatch.setenv("BENCH_COMMIT", "0123456789abcdef0123456789abcdef01234567")
    p = json.loads(prov.start("fake", tmp_path).write({}).read_text())["provenance"]
    assert p["commit"].startswith("0123") and p["source"] == "env" and p["dirty"] is None
    monkeypatch.delenv("BENCH_COMMIT")
    p = json.loads(prov.start("fake", tmp_path).write({}).read_text())["provenance"]
    assert p["commit"] is None and p["source"] is None


def test_results_dir_from_the_environment(
    prov: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BENCH_RESULTS_DIR", str(tmp_path / "elsewhere"))
    assert prov.start("fake").write({}).parent == tmp_path / "elsewhere"


def test_every_bench_script_writes_through_the_helper() -> None:
    scripts = sorted(p for p in BENCH.glob("*.py") if p.name != "_provenance.py")
    assert {p.name for p in scripts} >= {
        "bench_communities.py",
        "bench_e2e.py",
        "bench_embed.py",
        "bench_generate.py",
        "bench_gnn.py",
        "bench_stores.py",
        "gpu_embed.py",
        "gpu_train.py",
        "run_all.py",
    }
    for p in scripts:
        text = p.read_text()
        assert "_provenance.start(" in text and ".write(" in text, p.name
        assert "write_text(" not in text, f"{p.name} writes a results file by itself"
    sh = (BENCH / "gpu_e2e.sh").read_text()
    assert sh.count("--results-dir") == 3


def test_a_bench_script_writes_its_file(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, BENCH / "bench_generate.py", "--users", "300", "--results-dir", tmp_path],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    (path,) = tmp_path.glob("generate-*.json")
    doc = json.loads(path.read_text())
    assert doc["users"] == 300 and doc["provenance"]["argv"][1].endswith("bench_generate.py")
    assert "--users" in doc["provenance"]["command"]
