"""Post embeddings (issue 3): embedders, the on-disk vector cache, pooling per user.

Nothing is exported yet; this room takes texts with user ids and gives a user-id -> vector
matrix. See ARCHITECTURE in the README.
"""

__all__: list[str] = []
