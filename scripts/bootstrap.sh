#!/usr/bin/env bash
# Create or update graphsona's virtual environment from requirements.lock, then install this
# checkout into it.
#
#   scripts/bootstrap.sh                 install (what `make env` runs before demo/test/lint)
#   scripts/bootstrap.sh --upgrade-lock  re-resolve pyproject.toml into requirements.lock
#                                        (what `make upgrade` runs before the test suite)
#
# The environment lives outside the checkout ($GRAPHSONA_VENV, default ~/.cache/graphsona/venv)
# so that the multi-GB PyTorch wheel is installed once per machine and reused by every clone,
# CI included. Installing is two steps: `pip install -r requirements.lock` (exact versions for
# Linux x86_64 + CPython 3.11; pip moves each package to its pinned version, up or down), then
# `pip install --no-deps -e .` (graphsona itself; its dependencies come from the lock only).
# Before the first step scripts/check_lock.py checks that the lock and pyproject.toml agree.
#
# A stamp file in the venv records the sha256 of requirements.lock and of pyproject.toml, and
# the checkout path: when none changed, this script does nothing. A changed lock (a pull,
# `make upgrade`, `git checkout requirements.lock`) gets a fresh environment on the next make
# command (CI's cached environment is keyed by the lock the same way); a changed pyproject.toml
# or checkout path re-installs graphsona into the same one. Packages installed by hand into an
# environment are left alone (and named) until the lock changes.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV=${GRAPHSONA_VENV:-$HOME/.cache/graphsona/venv}
PYTHON=${PYTHON:-python3}
LOCK="$ROOT/requirements.lock"

if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
  echo "graphsona needs Python >= 3.11 (PYTHON=$PYTHON is $("$PYTHON" -V 2>&1))" >&2
  exit 1
fi

# requirements.lock is made for (and by) this platform; elsewhere pip may not find every pin.
platform=$("$PYTHON" -c 'import platform, sys; print(f"{sys.platform}-{platform.machine()}-py{sys.version_info[0]}.{sys.version_info[1]}")')
SUPPORTED=linux-x86_64-py3.11

# setuptools says, on every editable install of a package mapped to a folder, that folders named
# like the package may shadow it. That is this layout by design; only that notice is filtered.
quiet_editable() { PYTHONWARNINGS="ignore:Editable installation" "$@"; }

lock_header() {
  cat <<'EOF'
# Exact versions of graphsona's dependencies (pyproject.toml: `dependencies` + the `dev` extra)
# for the supported platform: Linux x86_64, CPython 3.11. scripts/bootstrap.sh installs this
# file (`pip install -r requirements.lock`), then graphsona itself with `--no-deps -e`.
#
# Produced by `make upgrade`: a fresh temporary venv, `pip install -e '.[dev]'` unpinned, then
# `pip freeze --all --exclude-editable --exclude pip` (setuptools is kept: torch needs it at run
# time). pip freeze rather than pip-compile/uv: no extra tool to install, and the pins are what
# pip really installed on the supported platform, CUDA wheels included, not a cross-platform
# resolution. Do not edit by hand except to pin one package; scripts/check_lock.py (run by CI)
# fails when this file and pyproject.toml disagree.
EOF
}

if [ "${1:-}" = "--upgrade-lock" ]; then
  if [ "$platform" != "$SUPPORTED" ]; then
    echo "requirements.lock is made on $SUPPORTED (PYTHON=$PYTHON is $platform)" >&2
    exit 1
  fi
  tmp=$(mktemp -d "${TMPDIR:-/tmp}/graphsona-upgrade.XXXXXX")
  trap 'rm -rf "$tmp"' EXIT
  echo "resolving pyproject.toml's ranges in a fresh venv ($tmp/venv): several minutes" >&2
  "$PYTHON" -m venv "$tmp/venv"
  # Python 3.11 seeds venvs with an old setuptools: drop it, so that setuptools is in the lock
  # only when a dependency needs it (torch does), at the version pip chose for it.
  if "$tmp/venv/bin/python" -c 'import setuptools' 2>/dev/null; then
    "$tmp/venv/bin/python" -m pip uninstall -q -y setuptools
  fi
  quiet_editable "$tmp/venv/bin/python" -m pip install -q -e "$ROOT[dev]"
  {
    lock_header
    "$tmp/venv/bin/python" -m pip freeze --all --exclude-editable --exclude pip
  } >"$tmp/requirements.lock"
  "$tmp/venv/bin/python" "$ROOT/scripts/check_lock.py" --lock "$tmp/requirements.lock" >/dev/null
  if [ -f "$LOCK" ]; then
    "$tmp/venv/bin/python" - "$LOCK" "$tmp/requirements.lock" >&2 <<'EOF'
import re, sys
def pins(path):
    lines = (l.split("==", 1) for l in open(path) if "==" in l and not l.startswith("#"))
    return {re.sub(r"[-_.]+", "-", n).lower(): (n, v.strip()) for n, v in lines}
old, new = pins(sys.argv[1]), pins(sys.argv[2])
changes = [f"  {new[k][0]} {old[k][1]} -> {new[k][1]}" for k in sorted(old.keys() & new.keys())
           if old[k][1] != new[k][1]]
changes += [f"  + {new[k][0]} {new[k][1]}" for k in sorted(new.keys() - old.keys())]
changes += [f"  - {old[k][0]} {old[k][1]}" for k in sorted(old.keys() - new.keys())]
print("pins changed:" if changes else "no pin changed", *changes, sep="\n")
EOF
  fi
  cp "$tmp/requirements.lock" "$LOCK"
  echo "wrote $LOCK" >&2
  exit 0
fi

if [ ! -f "$LOCK" ]; then
  echo "no $LOCK: run \`make upgrade\` to create it" >&2
  exit 1
fi
stamp="$VENV/.graphsona-stamp"
lock_hash="lock=$(sha256sum "$LOCK" | cut -d' ' -f1)"
want="$lock_hash pyproject=$(sha256sum "$ROOT/pyproject.toml" | cut -d' ' -f1) $ROOT"
# The environment is keyed by the lock: one built from another lock (or before there was one) is
# replaced by a fresh one, so nothing installed for an older lock lingers. A changed checkout
# path or pyproject.toml alone only re-installs graphsona itself into the same environment.
if [ -x "$VENV/bin/python" ] && [ "$(cut -d' ' -f1 "$stamp" 2>/dev/null)" != "$lock_hash" ]; then
  echo "requirements.lock changed since $VENV was built: building a fresh environment" >&2
  rm -rf "$VENV"
fi
if [ ! -x "$VENV/bin/python" ]; then
  echo "creating virtual environment in $VENV" >&2
  "$PYTHON" -m venv "$VENV"
fi
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  # check_lock.py runs on a bare venv too (pip's copy of `packaging`)
  if ! "$VENV/bin/python" "$ROOT/scripts/check_lock.py" >/dev/null 2>&1; then
    "$VENV/bin/python" "$ROOT/scripts/check_lock.py" 2>/dev/null | sed 's/^/  /' >&2 || true
    echo "pyproject.toml and requirements.lock disagree: run \`make upgrade\`, or pin the" \
      "package(s) above in requirements.lock within pyproject.toml's range" >&2
    exit 1
  fi
  echo "installing requirements.lock and graphsona into $VENV (first time: several minutes)" >&2
  if [ "$platform" != "$SUPPORTED" ]; then
    echo "note: requirements.lock is made for $SUPPORTED, this is $platform" >&2
  fi
  "$VENV/bin/python" -m pip install -q -r "$LOCK"
  quiet_editable "$VENV/bin/python" -m pip install -q --no-deps -e "$ROOT"
  norm() { sed -e '/^#/d' -e '/^$/d' -e 's/[ =@;].*//' -e 's/[_.]/-/g' | tr '[:upper:]' '[:lower:]' | sort -u; }
  extra=$(comm -23 \
    <("$VENV/bin/python" -m pip freeze --all --exclude-editable --exclude pip | norm) \
    <(norm <"$LOCK") | xargs)
  if [ -n "$extra" ]; then
    echo "note: installed in $VENV but not in requirements.lock (left as they are): $extra" >&2
  fi
  echo "$want" >"$stamp"
fi
