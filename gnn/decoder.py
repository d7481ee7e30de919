"""The link decoder: one definition used by training, ranking and recommendations.

``logit(u -> v) = cos(z_u, z_v) / T + b_v``: profiles are unit vectors (a dot product would let
hubs look similar to everyone) and ``b_v`` is ``v``'s learned follow bias (how followable ``v``
is to anyone), which a symmetric similarity cannot express. ``T`` is :data:`DECODER_TEMPERATURE`.
"""

from __future__ import annotations

from typing import TypeVar

__all__ = ["DECODER_TEMPERATURE", "link_logit"]

DECODER_TEMPERATURE = 0.2

A = TypeVar("A")


def link_logit(cos: A, target_bias: A, temperature: float = DECODER_TEMPERATURE) -> A:
    """Decoder logits from cosines and the targets' biases (torch tensors or numpy arrays)."""
    return cos / temperature + target_bias  # type: ignore[operator, return-value]
