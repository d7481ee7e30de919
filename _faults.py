"""Crash points for the crash-safety tests: ``GRAPHSONA_CRASH_AT=<point>`` kills the process
with SIGKILL when it reaches that point (nothing is flushed or cleaned up, as in a power cut).

Points: ``load:<table>`` after a table's rows are written (users, posts, follows),
``compact:copied`` when compaction has filled the new store file (before its swap),
``profile:<stage>`` after a stage's output is saved (embed, train, communities),
``write_back:users`` after the first batch of user properties is written. Unset (the
default), :func:`crash_point` does nothing.
"""

from __future__ import annotations

import os
import signal

__all__ = ["crash_point"]


def crash_point(name: str) -> None:
    if os.environ.get("GRAPHSONA_CRASH_AT") == name:
        os.kill(os.getpid(), signal.SIGKILL)
