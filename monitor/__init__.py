"""Opinion monitoring over time: series per community and topic, change points, alerts.

* :mod:`.series`: bucketed series (volume, mean sentiment, share negative) per community and per
  topic, with empty buckets filled;
* :mod:`.alerts`: change points (``ruptures``' PELT over standardised residuals) turned into
  alerts with their evidence: an **emerging topic** (a topic's volume jumps) or a **sentiment
  swing** (a community's share of negative posts jumps).

Takes frames (timed per-post labels, memberships, influence), never a store (see ARCHITECTURE).
"""

from __future__ import annotations

__all__: list[str] = []
