"""GNN profiling: models, the training recipe, (later) communities and influence.

Takes tensors and frames (never a store) and gives profiles. Issue 4 is in progress: the
profile encoder with its link-prediction recipe, and communities (Leiden reference and
text-aware Leiden, minimum size, stable ids), community names (c-TF-IDF) and PageRank influence
are here; the learned influence component, supervised heads, checkpoints and the job that
writes it all back come next.
"""

from graphsona.gnn.communities import (
    Partition,
    leiden,
    match_ids,
    modularity,
    text_aware_communities,
    text_coherence,
)
from graphsona.gnn.influence import pagerank, scale_scores
from graphsona.gnn.naming import name_communities
from graphsona.gnn.profiles import ProfileModel, TrainHistory, structural_features

__all__ = [
    "Partition",
    "ProfileModel",
    "TrainHistory",
    "leiden",
    "match_ids",
    "modularity",
    "name_communities",
    "pagerank",
    "scale_scores",
    "structural_features",
    "text_aware_communities",
    "text_coherence",
]
