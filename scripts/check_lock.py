#!/usr/bin/env python3
"""Check that requirements.lock pins every requirement of pyproject.toml within its range.

Reads ``[project].dependencies`` and the ``dev`` extra of pyproject.toml (the set that
scripts/bootstrap.sh installs from the lock) and, for the supported platform (Linux x86_64,
CPython 3.11), checks that:

* each requirement whose marker applies is pinned in the lock (``name==version``), at a version
  its specifier allows;
* every line of the lock is an exact pin (no ranges, URLs, editables or options), once per name,
  and the project itself is not in it.

Each disagreement is printed on one line; the exit status is then 1 (0 when all agree, 2 when a
file cannot be read). Usage::

    python scripts/check_lock.py [--pyproject PATH] [--lock PATH]

Fix a disagreement with ``make upgrade`` (refreshes the whole lock), or by pinning the one
package in requirements.lock at a version within the range.
"""

from __future__ import annotations

import argparse
import sys
import tomllib
from pathlib import Path

try:
    from packaging import markers, requirements, utils, version
except ImportError:  # a bare interpreter (CI before the venv exists): pip's copy is the same code
    try:
        from pip._vendor.packaging import (  # type: ignore[no-redef]
            markers,
            requirements,
            utils,
            version,
        )
    except ImportError:
        print(
            "check_lock: needs the `packaging` module (or pip, which has a copy)", file=sys.stderr
        )
        sys.exit(2)

ROOT = Path(__file__).resolve().parent.parent
EXTRA = "dev"
# Markers are evaluated for the platform the lock is made for, not for the machine running this.
PLATFORM = {
    "os_name": "posix",
    "sys_platform": "linux",
    "platform_system": "Linux",
    "platform_machine": "x86_64",
    "platform_python_implementation": "CPython",
    "implementation_name": "cpython",
    "python_version": "3.11",
    "python_full_version": "3.11.7",
    "implementation_version": "3.11.7",
}


def project_requirements(pyproject: Path) -> tuple[str, list[tuple[str, requirements.Requirement]]]:
    """The project's name and its requirements plus those of the ``dev`` extra (text, parsed)."""
    data = tomllib.loads(pyproject.read_text())
    project = data.get("project", {})
    raw = list(project.get("dependencies", []))
    extras = project.get("optional-dependencies", {})
    if EXTRA not in extras:
        raise ValueError(f"{pyproject}: no [project.optional-dependencies] {EXTRA}")
    raw += extras[EXTRA]
    return str(project.get("name", "")), [(r, requirements.Requirement(r)) for r in raw]


def read_lock(lock: Path) -> tuple[dict[str, version.Version], set[str], list[str]]:
    """Pins by canonical name, names on lines that are not exact pins, and one problem line for
    each such line."""
    pins: dict[str, version.Version] = {}
    unpinned: set[str] = set()
    problems: list[str] = []
    for n, line in enumerate(lock.read_text().splitlines(), 1):
        text = line.split(" #", 1)[0].strip()
        if not text or text.startswith("#"):
            continue
        where = f"{lock.name}:{n}"
        try:
            req = requirements.Requirement(text)
        except requirements.InvalidRequirement:
            problems.append(f"{where}: not an exact pin: {text!r}")
            continue
        specs = list(req.specifier)
        name = utils.canonicalize_name(req.name)
        exact = (
            len(specs) == 1 and specs[0].operator in ("==", "===") and "*" not in specs[0].version
        )
        if req.url or not exact:
            unpinned.add(name)
            problems.append(f"{where}: {req.name} is not pinned to one version: {text!r}")
            continue
        try:
            pinned = version.Version(specs[0].version)
        except version.InvalidVersion:
            unpinned.add(name)
            problems.append(f"{where}: {req.name} has an invalid version: {text!r}")
            continue
        if name in pins:
            problems.append(f"{where}: {req.name} is pinned twice ({pins[name]} and {pinned})")
            continue
        pins[name] = pinned
    return pins, unpinned, problems


def check(pyproject: Path, lock: Path) -> list[str]:
    """Every disagreement between pyproject.toml and the lock, one line each."""
    name, reqs = project_requirements(pyproject)
    pins, unpinned, problems = read_lock(lock)
    if name and utils.canonicalize_name(name) in pins:
        problems.append(f"{lock.name}: pins the project itself ({name}); it is installed -e")
    env = {**{k: str(v) for k, v in markers.default_environment().items()}, **PLATFORM}
    for wanted, req in reqs:
        if req.marker is not None and not req.marker.evaluate({**env, "extra": EXTRA}):
            continue  # not installed on the supported platform
        key = utils.canonicalize_name(req.name)
        if key in unpinned:
            continue  # already reported with its lock line
        if key not in pins:
            problems.append(
                f"{req.name}: required by {pyproject.name} ({wanted}) but not pinned in {lock.name}"
            )
        elif not req.specifier.contains(pins[key], prereleases=True):
            problems.append(
                f"{req.name}: {lock.name} pins {pins[key]}, outside {pyproject.name}'s {wanted}"
            )
    return problems


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pyproject", type=Path, default=ROOT / "pyproject.toml")
    ap.add_argument("--lock", type=Path, default=ROOT / "requirements.lock")
    args = ap.parse_args(argv)
    try:
        problems = check(args.pyproject, args.lock)
    except (OSError, ValueError, tomllib.TOMLDecodeError, requirements.InvalidRequirement) as e:
        print(f"check_lock: {e}", file=sys.stderr)
        return 2
    for line in problems:
        print(line)
    if problems:
        print(
            f"check_lock: {len(problems)} disagreement(s) between {args.pyproject} and "
            f"{args.lock}; `make upgrade` refreshes the lock",
            file=sys.stderr,
        )
        return 1
    print(f"check_lock: {args.lock.name} agrees with {args.pyproject.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
