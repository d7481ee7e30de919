"""GNN profiling: the profile encoder and its training recipe, communities, influence, heads.

Takes tensors and frames (never a store) and gives results: profiles (:mod:`.profiles`, with
:mod:`.encoder`, :mod:`.sampler`, :mod:`.checkpoints` and the link :mod:`.decoder`),
communities with stable ids (:mod:`.communities`) and names (:mod:`.naming`), influence
(PageRank + learned engagement, :mod:`.influence`), supervised ``label_*`` heads (:mod:`.heads`).

Names are imported on first use, so importing a light module (e.g. :mod:`.decoder`) does not
load torch.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from graphsona.gnn.communities import (
        Partition,
        leiden,
        match_ids,
        modularity,
        text_aware_communities,
        text_coherence,
    )
    from graphsona.gnn.encoder import structural_features
    from graphsona.gnn.heads import LabelHead, label_columns, predict_labels
    from graphsona.gnn.influence import (
        InfluenceResult,
        influence_scores,
        pagerank,
        scale_scores,
        spearman,
    )
    from graphsona.gnn.naming import name_communities
    from graphsona.gnn.profiles import ProfileModel, TrainHistory

_HOME = {
    "Partition": "communities",
    "leiden": "communities",
    "match_ids": "communities",
    "modularity": "communities",
    "text_aware_communities": "communities",
    "text_coherence": "communities",
    "LabelHead": "heads",
    "label_columns": "heads",
    "predict_labels": "heads",
    "InfluenceResult": "influence",
    "influence_scores": "influence",
    "pagerank": "influence",
    "scale_scores": "influence",
    "spearman": "influence",
    "name_communities": "naming",
    "ProfileModel": "profiles",
    "TrainHistory": "profiles",
    "structural_features": "encoder",
}

__all__ = [
    "InfluenceResult",
    "LabelHead",
    "Partition",
    "ProfileModel",
    "TrainHistory",
    "influence_scores",
    "label_columns",
    "leiden",
    "match_ids",
    "modularity",
    "name_communities",
    "pagerank",
    "predict_labels",
    "scale_scores",
    "spearman",
    "structural_features",
    "text_aware_communities",
    "text_coherence",
]


def __getattr__(name: str) -> Any:
    if name in _HOME:
        return getattr(import_module(f"graphsona.gnn.{_HOME[name]}"), name)
    raise AttributeError(f"module 'graphsona.gnn' has no attribute {name!r}")
