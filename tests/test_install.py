"""Installation: the lock agrees with pyproject.toml, the package holds every subpackage and
nothing else, and the Neo4j test server's `run` command leaves nothing behind when signalled."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import tomllib
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CHECK_LOCK = ROOT / "scripts" / "check_lock.py"
SERVER = ROOT / "scripts" / "neo4j_test_server.py"
NOT_PACKAGES = {"tests", "bench", "scripts", "build"}  # top-level folders that are not installed
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _check_lock(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(CHECK_LOCK), *map(str, args)],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_check_lock_passes_on_the_repository() -> None:
    proc = _check_lock()
    assert proc.returncode == 0, proc.stdout + proc.stderr


def _pin(lock: str, name: str) -> str:
    m = re.search(rf"(?im)^{re.escape(name)}==\S+$", lock)
    assert m, f"{name} is not pinned in requirements.lock"
    return m.group(0)


@pytest.mark.parametrize(
    ("package", "edit", "says"),
    [
        ("click", lambda lock, pin: lock.replace(pin + "\n", ""), "not pinned in"),
        ("numpy", lambda lock, pin: lock.replace(pin, "numpy==1.26.4"), "outside"),
        ("rich", lambda lock, pin: lock.replace(pin, "rich>=13"), "not pinned to one version"),
    ],
    ids=["missing", "outside-range", "unpinned"],
)
def test_check_lock_names_each_disagreement(
    tmp_path: Path, package: str, edit: Callable[[str, str], str], says: str
) -> None:
    lock = (ROOT / "requirements.lock").read_text()
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    (tmp_path / "requirements.lock").write_text(edit(lock, _pin(lock, package)))
    proc = _check_lock(
        "--pyproject", tmp_path / "pyproject.toml", "--lock", tmp_path / "requirements.lock"
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    assert len(lines) == 1 and package in lines[0] and says in lines[0], proc.stdout


def test_check_lock_names_a_dependency_added_to_pyproject_only(tmp_path: Path) -> None:
    pyproject = (ROOT / "pyproject.toml").read_text()
    (tmp_path / "pyproject.toml").write_text(
        pyproject.replace("dependencies = [\n", 'dependencies = [\n    "tomli-w>=1",\n', 1)
    )
    shutil.copy(ROOT / "requirements.lock", tmp_path / "requirements.lock")
    proc = _check_lock(
        "--pyproject", tmp_path / "pyproject.toml", "--lock", tmp_path / "requirements.lock"
    )
    assert proc.returncode == 1 and proc.stdout.startswith("tomli-w: "), proc.stdout


def _configured() -> tuple[set[str], dict[str, list[str]]]:
    conf = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert conf["package-dir"] == {"graphsona": "."}
    return set(conf["packages"]), conf.get("package-data", {})


def _package_folders() -> dict[str, Path]:
    """Folders under the root that Python can import or that hold shipped .cypher files."""
    found = {"graphsona": ROOT}
    for folder, dirs, files in os.walk(ROOT):
        here = Path(folder)
        dirs[:] = [
            d
            for d in dirs
            if not d.startswith((".", "_"))
            and not d.endswith(".egg-info")
            and not (here == ROOT and d in NOT_PACKAGES)
        ]
        if here != ROOT and ("__init__.py" in files or any(f.endswith(".cypher") for f in files)):
            found["graphsona." + ".".join(here.relative_to(ROOT).parts)] = here
    return found


def test_pyproject_lists_every_package_folder_and_nothing_else() -> None:
    packages, package_data = _configured()
    folders = _package_folders()
    assert {"graphsona.jobs", "graphsona.outputs"} <= packages
    assert not sorted(set(folders) - packages), "add these to [tool.setuptools] packages"
    assert not sorted(packages - set(folders)), "listed in packages but no such folder"
    for name, folder in folders.items():
        if any(folder.glob("*.cypher")):
            assert "*.cypher" in package_data.get(name, []), f"{name}: .cypher not package-data"


def _copy_tree(dst: Path) -> Path:
    skip = shutil.ignore_patterns(
        ".*", "__pycache__", "build", "*.egg-info", "*.lbdb*", "out", "graphsona-demo"
    )
    return Path(shutil.copytree(ROOT, dst, ignore=skip))


@pytest.mark.slow
def test_wheel_builds_without_warnings_and_holds_only_the_package(tmp_path: Path) -> None:
    """setuptools (pinned in the lock) builds the wheel from a copy of the tree, offline."""
    src = _copy_tree(tmp_path / "src")
    offline = ["--no-deps", "--no-build-isolation", "--no-index"]
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", *offline, "-w", str(tmp_path / "dist"), str(src)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    output = (proc.stdout + proc.stderr).replace(str(tmp_path), "<tmp>")  # its name has "warn"
    assert proc.returncode == 0, output
    assert not [line for line in output.splitlines() if "warn" in line.lower()], output
    (wheel,) = (tmp_path / "dist").glob("graphsona-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    tops = {n.split("/")[0] for n in names}
    assert tops == {"graphsona", wheel.name.split("-py3")[0] + ".dist-info"}, tops
    for want in (
        "graphsona/jobs/__init__.py",
        "graphsona/outputs/__init__.py",
        "graphsona/queries/library/community.cypher",
        "graphsona/queries/library/neo4j/",
        "graphsona/queries/embedded/",
    ):
        assert any(n.startswith(want) for n in names), f"{want} not in the wheel"
    for unwanted in NOT_PACKAGES:
        assert not any(n.startswith(f"graphsona/{unwanted}/") for n in names), unwanted


# --- scripts/neo4j_test_server.py run: signals stop the JVM and remove the temporary home ---


def _jvms(home: Path) -> list[int]:
    """Pids of live processes started with --home-dir=<home> (a zombie has no command line)."""
    mark = f"--home-dir={home}".encode()
    pids = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                if mark in (proc / "cmdline").read_bytes().split(b"\0"):
                    pids.append(int(proc.name))
            except OSError:
                pass
    return pids


def _start_run(tmp: Path) -> subprocess.Popen[str]:
    if os.environ.get("GRAPHSONA_SKIP_NEO4J") == "1" and not IN_CI:
        pytest.skip("GRAPHSONA_SKIP_NEO4J=1: Neo4j tests skipped on request")
    tmp.mkdir()
    env = {**os.environ, "TMPDIR": str(tmp)}  # the server's temporary home goes in here
    return subprocess.Popen(
        [sys.executable, str(SERVER), "run"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def _stop_and_check(run: subprocess.Popen[str], sig: signal.Signals, home: Path) -> str:
    """Send `sig`; `run` exits 0 with no JVM left and its home removed. Returns its stdout."""
    run.send_signal(sig)
    out, err = run.communicate(timeout=90)
    assert run.returncode == 0, err
    assert f"stopped ({sig.name})" in err, err
    assert not _jvms(home), f"the JVM for {home} is still running"
    assert not home.exists(), f"{home} was not removed"
    return out


def _cleanup(run: subprocess.Popen[str], tmp: Path) -> None:
    if run.poll() is None:
        run.kill()
        run.wait(timeout=30)
    for home in tmp.glob("graphsona-neo4j-*"):
        for pid in _jvms(home):
            os.kill(pid, signal.SIGKILL)
    shutil.rmtree(tmp, ignore_errors=True)


@pytest.mark.neo4j
@pytest.mark.slow
def test_run_stops_the_jvm_and_removes_its_home_on_sigterm(tmp_path: Path) -> None:
    run = _start_run(tmp_path / "tmp")
    try:
        assert run.stdout is not None
        stdout = run.stdout
        first: list[str] = []
        reader = threading.Thread(target=lambda: first.append(stdout.readline()), daemon=True)
        reader.start()
        reader.join(timeout=300)
        line = first[0].rstrip("\n") if first else ""
        m = re.fullmatch(r"NEO4J_URI=bolt://127\.0\.0\.1:\d+ .*home (\S+); JVM pid (\d+)\)", line)
        assert m, f"no ready line within 300 s: {line!r}"
        home, jvm = Path(m[1]), int(m[2])
        assert home.parent == tmp_path / "tmp" and home.is_dir()
        assert _jvms(home) == [jvm]
        _stop_and_check(run, signal.SIGTERM, home)
    finally:
        _cleanup(run, tmp_path / "tmp")


@pytest.mark.neo4j
@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP], ids=str)
def test_run_stops_a_starting_jvm_on_signal(tmp_path: Path, sig: signal.Signals) -> None:
    """A signal before the server answers: the starting JVM is stopped and its home removed."""
    run = _start_run(tmp_path / "tmp")
    try:
        deadline = time.monotonic() + 120
        homes: list[Path] = []
        while time.monotonic() < deadline and run.poll() is None:
            homes = list((tmp_path / "tmp").glob("graphsona-neo4j-*"))
            if homes and _jvms(homes[0]):
                break
            time.sleep(0.05)
        assert homes and _jvms(homes[0]), "the JVM did not start"
        out = _stop_and_check(run, sig, homes[0])
        assert "NEO4J_URI" not in out  # it was stopped before it was ready
    finally:
        _cleanup(run, tmp_path / "tmp")
