"""GNN profiling: the profile encoder and its training recipe, communities, influence, heads.

Takes tensors and frames (never a store) and gives results: profiles (:mod:`.profiles`),
communities with stable ids (:mod:`.communities`) and names (:mod:`.naming`), influence
(PageRank + learned engagement, :mod:`.influence`), supervised ``label_*`` heads (:mod:`.heads`).
"""

from graphsona.gnn.communities import (
    Partition,
    leiden,
    match_ids,
    modularity,
    text_aware_communities,
    text_coherence,
)
from graphsona.gnn.heads import LabelHead, label_columns, predict_labels
from graphsona.gnn.influence import (
    InfluenceResult,
    influence_scores,
    pagerank,
    scale_scores,
    spearman,
)
from graphsona.gnn.naming import name_communities
from graphsona.gnn.profiles import ProfileModel, TrainHistory, structural_features

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
