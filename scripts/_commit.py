"""The short commit of this checkout, for the provenance the model-building scripts record."""

from __future__ import annotations

import subprocess
from pathlib import Path


def short_commit() -> str:
    """``git rev-parse --short HEAD`` of the tree these scripts are in, or ``unknown``."""
    try:
        return subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True,
            cwd=Path(__file__).resolve().parent,
        ).stdout.strip()  # fmt: skip
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
