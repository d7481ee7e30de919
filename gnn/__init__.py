"""GNN profiling: models, the training recipe, (later) communities and influence.

Takes tensors and frames (never a store) and gives profiles. Issue 4 is in progress: the
profile encoder and its link-prediction recipe are here; communities, influence, supervised
heads and write-back come next.
"""

from graphsona.gnn.profiles import ProfileModel, TrainHistory, structural_features

__all__ = ["ProfileModel", "TrainHistory", "structural_features"]
