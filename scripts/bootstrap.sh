#!/usr/bin/env bash
# Create or update graphsona's virtual environment, then install this checkout into it.
#
# The environment lives outside the checkout ($GRAPHSONA_VENV, default ~/.cache/graphsona/venv)
# so that the multi-GB PyTorch wheel is installed once per machine and reused by every clone,
# CI included. A stamp file records the pyproject.toml hash and the checkout path: when neither
# changed, this script does nothing.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV=${GRAPHSONA_VENV:-$HOME/.cache/graphsona/venv}
PYTHON=${PYTHON:-python3}

if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
  echo "graphsona needs Python >= 3.11 (PYTHON=$PYTHON is $("$PYTHON" -V 2>&1))" >&2
  exit 1
fi
if [ ! -x "$VENV/bin/python" ]; then
  echo "creating virtual environment in $VENV" >&2
  "$PYTHON" -m venv "$VENV"
fi
stamp="$VENV/.graphsona-stamp"
want="$(sha256sum "$ROOT/pyproject.toml" | cut -d' ' -f1) $ROOT"
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "installing graphsona and its dependencies into $VENV (first time: several minutes)" >&2
  "$VENV/bin/python" -m pip install -q --upgrade pip
  "$VENV/bin/python" -m pip install -q -e "$ROOT[dev]"
  echo "$want" > "$stamp"
fi
