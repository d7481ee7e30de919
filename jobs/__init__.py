"""Jobs: the profiling job, evaluation and their config, each a list of stages run by one runner.

:func:`run_profile` profiles every user of a store and writes the results back;
:func:`~graphsona.jobs.evaluate.evaluate` measures quality against baselines on held-out
follows; :func:`~graphsona.jobs.config.load_config` reads a TOML job config. The stage protocol
and its runner live in :mod:`graphsona.jobs.stages`.

Names are imported on first use, so ``import graphsona.jobs.config`` does not load torch.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

__all__ = ["STAGES", "ProfileJobConfig", "ProfileResult", "run_profile"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        return getattr(import_module("graphsona.jobs.profile"), name)
    raise AttributeError(f"module 'graphsona.jobs' has no attribute {name!r}")
