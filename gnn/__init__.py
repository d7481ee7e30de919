"""GNN profiling (issue 4): models, the training recipe, communities, influence.

Nothing is exported yet; this room takes tensors and frames (never a store) and gives profiles,
memberships and scores.
"""

__all__: list[str] = []
