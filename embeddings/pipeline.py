"""Embed every user's posts (and bio) and pool them into one feature vector per user.

Speed, all on by default: identical texts are embedded once (content hash), cached vectors are
reused (:class:`~graphsona.embeddings.cache.VectorCache`), texts are sorted by token count and
batched by a token budget so batches carry little padding, models run under
``torch.inference_mode`` (bfloat16 on CUDA), and posts stream through in chunks so a large
corpus never sits in memory at once.

Example:
    >>> emb = load_embedder("default")                                    # doctest: +SKIP
    >>> users_vec, report = embed_users(dataset.users, dataset.posts, emb,
    ...                                 cache=VectorCache("out/cache.sqlite"))  # doctest: +SKIP
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import polars as pl
import torch
from graphsona.embeddings._base import Embedder
from graphsona.embeddings.cache import NullCache, VectorCache, text_keys
from graphsona.embeddings.pooling import PoolingOptions, recency_weights
from graphsona.errors import ConfigError

__all__ = ["EmbedOptions", "EmbedReport", "Encode", "embed_texts", "embed_users", "encode_texts"]


@dataclass(frozen=True)
class EmbedOptions:
    """Args:
    batch_tokens: token budget of one model batch (padding included).
    chunk_posts: posts handled per streaming chunk.
    pooling: how post vectors become a user vector.
    progress: show a progress bar (posts/s).
    center_languages: take each language's mean post vector out of its posts before pooling
        (a multilingual model's vectors of one language share a direction that would
        otherwise make users of one language look alike whatever they write about); the
        language of a post is its ``lang`` when given, else detected. ``None``: on for a
        multilingual embedder. Languages with fewer than :data:`MIN_LANGUAGE_POSTS` posts are
        left as they are.
    language_means: the means to take out (``{lang: vector}``, from an earlier run: an
        incremental update must centre as its full run did); ``None``: computed from these
        posts (:attr:`EmbedReport.language_means`).
    """

    batch_tokens: int = 16_384
    chunk_posts: int = 100_000
    pooling: PoolingOptions = field(default_factory=PoolingOptions)
    progress: bool = False
    center_languages: bool | None = None
    language_means: dict[str, list[float]] | None = None


@dataclass
class EmbedReport:
    """What happened: posts seen, skipped, deduplicated, served from cache, embedded, truncated."""

    posts: int = 0
    empty_skipped: int = 0
    unknown_user_skipped: int = 0
    unique_texts: int = 0
    cache_hits: int = 0
    embedded: int = 0
    truncated: int = 0
    # language -> mean post vector taken out before pooling (empty when not centred)
    language_means: dict[str, list[float]] = field(default_factory=dict)
    # image posts (graphsona.embeddings.images.ImageReport, or only counts without a model)
    images: dict[str, int] = field(default_factory=dict)
    users: int = 0
    users_without_text: int = 0
    seconds: float = 0.0

    @property
    def posts_per_second(self) -> float:
        return self.posts / self.seconds if self.seconds else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "posts_per_second": round(self.posts_per_second, 1)}

    def __str__(self) -> str:
        return (
            f"{self.posts} posts ({self.posts_per_second:,.0f}/s): {self.unique_texts} distinct texts, "
            f"{self.cache_hits} from cache, {self.embedded} embedded, {self.truncated} truncated, "
            f"{self.empty_skipped} empty skipped; {self.users} users, {self.users_without_text} without text"
        )


MIN_LANGUAGE_POSTS = 20  # a language with fewer posts gets no mean of its own (too noisy)
_UNPADDED_SLICE = 20_000  # texts per call for models without padding (bounds temporaries)
_PREPARED_SLICE = 100_000  # texts tokenised ahead at a time for length-sorted batching

Encode = Callable[[list[str]], tuple[np.ndarray, int]]  # texts -> (vectors, number truncated)


def _batches(order: np.ndarray, tokens: np.ndarray, budget: int) -> Iterator[np.ndarray]:
    """Consecutive runs of ``order`` (sorted by length) whose padded size fits ``budget``."""
    start = 0
    while start < len(order):
        end = start + 1
        while end < len(order) and tokens[order[end]] * (end - start + 1) <= budget:
            end += 1
        yield order[start:end]
        start = end


def encode_texts(
    texts: list[str], embedder: Embedder, *, batch_tokens: int = 16_384
) -> tuple[np.ndarray, int]:
    """The model's vectors of ``texts`` (no cache) and how many were truncated: texts sorted
    by token count and batched by a token budget (models that pad), else fixed-size slices."""
    vecs = np.zeros((len(texts), embedder.dimension), dtype=np.float32)
    truncated = 0
    if not embedder.pads:  # cost linear in tokens: fixed-size slices, one tokenisation each
        for start in range(0, len(texts), _UNPADDED_SLICE):
            part = texts[start : start + _UNPADDED_SLICE]
            vecs[start : start + len(part)], counts = embedder.encode_counted(part)
            truncated += int((counts > embedder.max_tokens).sum())
    else:  # slices bound the memory of tokens prepared ahead (an embedder's prepare)
        for first in range(0, len(texts), _PREPARED_SLICE):
            items, capped, cut = embedder.prepare(texts[first : first + _PREPARED_SLICE])
            truncated += int(cut.sum())
            order = np.argsort(capped, kind="stable")
            for batch in _batches(order, capped, max(batch_tokens, embedder.max_tokens)):
                vecs[first + batch] = embedder.encode_prepared([items[i] for i in batch])
    return vecs, truncated


def embed_texts(
    texts: list[str],
    embedder: Embedder,
    *,
    cache: VectorCache | NullCache | None = None,
    batch_tokens: int = 16_384,
    report: EmbedReport | None = None,
    encode: Encode | None = None,
) -> np.ndarray:
    """Vectors for distinct ``texts`` (cache first, then the model in length-sorted batches).

    ``encode``: what embeds the texts the cache does not hold (``texts -> (vectors, number
    truncated)``); ``None``: :func:`encode_texts` here, in this process. The Ray backend
    (:class:`graphsona.scale.RayEmbedding`) runs the same function on a pool of actors."""
    cache = cache if cache is not None else NullCache()  # an empty cache is falsy (len 0)
    report = report if report is not None else EmbedReport()
    out = np.zeros((len(texts), embedder.dimension), dtype=np.float32)
    keys = text_keys(embedder.model_id, texts)
    hits = cache.get_many(keys, embedder.dimension)
    missing = []
    for i, k in enumerate(keys):
        v = hits.get(k)
        if v is None:
            missing.append(i)
        else:
            out[i] = v
    report.cache_hits += len(texts) - len(missing)
    if not missing:
        return out
    todo = [texts[i] for i in missing]
    if encode is None:
        vecs, truncated = encode_texts(todo, embedder, batch_tokens=batch_tokens)
    else:
        vecs, truncated = encode(todo)
    report.truncated += truncated
    out[missing] = vecs
    cache.put_many([keys[i] for i in missing], vecs, model_id=embedder.model_id)
    report.embedded += len(todo)
    return out


def _chunks(posts: pl.DataFrame | Iterable[pl.DataFrame], size: int) -> Iterator[pl.DataFrame]:
    if isinstance(posts, pl.DataFrame):
        for start in range(0, posts.height, size):
            yield posts.slice(start, size)
    else:
        for frame in posts:
            for start in range(0, frame.height, size):
                yield frame.slice(start, size)


def embed_users(
    users: pl.DataFrame,
    posts: pl.DataFrame | Iterable[pl.DataFrame],
    embedder: Embedder,
    *,
    cache: VectorCache | NullCache | None = None,
    options: EmbedOptions | None = None,
    encode: Encode | None = None,
) -> tuple[pl.DataFrame, EmbedReport]:
    """One pooled vector per user.

    Args:
        users: ``user_id`` (and ``bio``, used when ``options.pooling.include_bio``).
        posts: a frame or an iterator of frames with ``user_id``, ``text`` and optionally
            ``created_at`` (e.g. ``store.iter_posts()``), streamed in chunks.
        encode: see :func:`embed_texts` (the Ray backend); the vectors do not depend on it.

    Returns:
        A frame ``user_id, embedding (Array(Float32, d)), n_posts, has_text`` in ``user_id``
        order, and an :class:`EmbedReport`. Users with no text get the zero vector and
        ``has_text = False`` (a flag the GNN can see).
    """
    opts = options or EmbedOptions()
    if opts.batch_tokens < 1 or opts.chunk_posts < 1:
        raise ConfigError("batch_tokens and chunk_posts must be >= 1")
    t0 = time.perf_counter()
    report = EmbedReport()
    ids = users.select("user_id").sort("user_id").with_row_index("uidx")
    n, d = ids.height, embedder.dimension
    sums = torch.zeros((n, d), dtype=torch.float64)
    wsum = torch.zeros(n, dtype=torch.float64)
    counts = np.zeros(n, dtype=np.int64)
    # centring per language is linear: mean_i(v_i - mu[lang_i]) = pooled - sum_l share_l mu_l,
    # so one pass gathers each user's weight per language and each language's vector sum
    center = embedder.multilingual if opts.center_languages is None else opts.center_languages
    lang_index: dict[str, int] = {}
    lang_w: list[torch.Tensor] = []  # per language: each user's pooling weight on it
    lang_sum: list[torch.Tensor] = []  # per language: sum of its post vectors
    lang_n: list[int] = []

    def feed(chunk: pl.DataFrame, dated: bool, is_post: bool = True) -> None:
        if is_post:
            report.posts += chunk.height
        chunk = chunk.with_columns(pl.col("text").cast(pl.String))
        keep = chunk.filter(pl.col("text").is_not_null() & (pl.col("text").str.strip_chars() != ""))
        if is_post:
            report.empty_skipped += chunk.height - keep.height
        joined = keep.join(ids, on="user_id", how="inner")
        report.unknown_user_skipped += keep.height - joined.height
        if joined.height == 0:
            return
        uniq = joined.select(pl.col("text").unique(maintain_order=True)).with_row_index("tid")
        joined = joined.join(uniq, on="text", how="left")
        report.unique_texts += uniq.height
        vec = embed_texts(
            uniq["text"].to_list(),
            embedder,
            cache=cache,
            batch_tokens=opts.batch_tokens,
            report=report,
            encode=encode,
        )
        uidx = joined["uidx"].to_numpy().astype(np.int64)
        w = np.ones(joined.height)
        hl = opts.pooling.half_life_days
        if dated and hl and "created_at" in joined.columns:
            t = (
                joined["created_at"]
                .dt.epoch("s")
                .cast(pl.Float64)
                .fill_null(float("nan"))
                .to_numpy()
            )
            w = recency_weights(uidx, t, hl, n)
        post_vec = (
            torch.from_numpy(vec[joined["tid"].to_numpy()]).double() * torch.from_numpy(w)[:, None]
        )
        sums.index_add_(0, torch.from_numpy(uidx), post_vec)
        wsum.index_add_(0, torch.from_numpy(uidx), torch.from_numpy(w))
        if center:
            from graphsona.text.language import post_languages

            langs = post_languages(
                joined.select("text", *(["lang"] if "lang" in joined.columns else []))
            )
            raw = torch.from_numpy(vec[joined["tid"].to_numpy()]).double()
            for code, rows in langs.to_frame("l").with_row_index("i").group_by("l"):
                key = str(code[0])
                if key not in lang_index:
                    lang_index[key] = len(lang_index)
                    lang_w.append(torch.zeros(n, dtype=torch.float64))
                    lang_sum.append(torch.zeros(d, dtype=torch.float64))
                    lang_n.append(0)
                j, idx = lang_index[key], rows["i"].to_numpy().astype(np.int64)
                lang_w[j].index_add_(0, torch.from_numpy(uidx[idx]), torch.from_numpy(w[idx]))
                lang_sum[j] += raw[idx].sum(0)
                lang_n[j] += len(idx)
        if is_post:
            np.add.at(counts, uidx, 1)

    progress = _progress(opts.progress)
    with progress as bar:
        task = bar.add_task("embedding posts", total=None)
        if opts.pooling.include_bio and "bio" in users.columns:
            feed(users.select("user_id", pl.col("bio").alias("text")), dated=False, is_post=False)
        if opts.pooling.half_life_days:
            # Recency needs each user's newest post: materialise posts (frames, not vectors).
            frames = list(_chunks(posts, opts.chunk_posts))
            all_posts = (
                pl.concat(frames)
                if frames
                else pl.DataFrame(schema={"user_id": pl.String, "text": pl.String})
            )
            posts_iter: Iterable[pl.DataFrame] = [all_posts]
            chunk_size = max(all_posts.height, 1)
        else:
            posts_iter, chunk_size = (
                ([posts] if isinstance(posts, pl.DataFrame) else posts),
                opts.chunk_posts,
            )
        for chunk in _chunks(posts_iter, chunk_size):
            feed(chunk, dated=True)
            bar.update(
                task,
                advance=chunk.height,
                description=f"embedding posts ({report.posts / max(time.perf_counter() - t0, 1e-9):,.0f}/s)",
            )
    has_text = (wsum > 0).numpy()
    if center and lang_index:
        given = opts.language_means
        for key, j in lang_index.items():
            if given is not None:
                if key not in given:
                    continue  # a language the full run did not centre: left as it is
                mu = torch.tensor(given[key], dtype=torch.float64)
            elif lang_n[j] >= MIN_LANGUAGE_POSTS and key != "und":
                mu = lang_sum[j] / lang_n[j]
            else:
                continue
            report.language_means[key] = [float(x) for x in mu]
            sums -= lang_w[j][:, None] * mu[None, :]
    pooled = (sums / wsum.clamp(min=1e-12)[:, None]).float().numpy()
    pooled[~has_text] = 0.0
    report.users = n
    report.users_without_text = int((~has_text).sum())
    report.seconds = time.perf_counter() - t0
    frame = ids.select("user_id").with_columns(
        pl.Series("embedding", pooled).cast(pl.Array(pl.Float32, d)),
        pl.Series("n_posts", counts),
        pl.Series("has_text", has_text),
    )
    return frame, report


class _NoBar:
    def __enter__(self) -> _NoBar:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def add_task(self, *a: Any, **k: Any) -> int:
        return 0

    def update(self, *a: Any, **k: Any) -> None:
        return None


def _progress(show: bool) -> Any:
    if not show:
        return _NoBar()
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    return Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TextColumn("{task.completed:,} posts"),
        TimeElapsedColumn(),
    )
