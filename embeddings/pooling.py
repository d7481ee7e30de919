"""Pool post vectors into one vector per user (mean, optionally recency-weighted)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["PoolingOptions", "recency_weights"]


@dataclass(frozen=True)
class PoolingOptions:
    """How posts become a user vector.

    Args:
        half_life_days: when set and posts have ``created_at``, a post's weight halves every
            ``half_life_days`` before the user's newest post; ``None``: plain mean.
        include_bio: the user's bio counts as one more post (weight 1, no date).
    """

    half_life_days: float | None = None
    include_bio: bool = True

    @property
    def id(self) -> str:
        return f"mean:hl={self.half_life_days}:bio={int(self.include_bio)}"


def recency_weights(
    user_idx: np.ndarray, t_seconds: np.ndarray, half_life_days: float, n_users: int
) -> np.ndarray:
    """``0.5 ** (age / half_life)`` with age measured from each user's newest post; NaN time -> 1."""
    newest = np.full(n_users, -np.inf)
    valid = ~np.isnan(t_seconds)
    np.maximum.at(newest, user_idx[valid], t_seconds[valid])
    age_days = (newest[user_idx] - t_seconds) / 86400.0
    w = np.power(0.5, age_days / half_life_days)
    return np.where(valid, w, 1.0)
