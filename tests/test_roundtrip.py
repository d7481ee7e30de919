"""Property-based round trip: any valid frame -> store -> frame gives the same data back."""

from __future__ import annotations

from pathlib import Path

import polars as pl
from graphsona.graph import EmbeddedStore
from graphsona.loaders import Dataset
from graphsona.loaders.dataset import SCHEMAS
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

TIME = pl.Datetime("us", "UTC")
ids = (
    st.text(
        alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")),
        min_size=1,
        max_size=12,
    )
    .map(str.strip)
    .filter(bool)
)
texts = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=40
)


@st.composite
def datasets(draw: st.DrawFn) -> Dataset:
    users = draw(st.lists(ids, min_size=2, max_size=12, unique=True))
    bios = draw(st.lists(st.none() | texts, min_size=len(users), max_size=len(users)))
    scores = draw(
        st.lists(
            st.none() | st.floats(allow_nan=False, allow_infinity=False, width=64),
            min_size=len(users),
            max_size=len(users),
        )
    )
    pairs = draw(
        st.lists(
            st.tuples(st.sampled_from(users), st.sampled_from(users)), max_size=30, unique=True
        )
    )
    pairs = [(a, b) for a, b in pairs if a != b]
    posts = draw(st.lists(st.tuples(st.sampled_from(users), texts), max_size=15))
    return Dataset(
        users=pl.DataFrame(
            {"user_id": users, "bio": bios, "score": scores},
            schema={"user_id": pl.String, "bio": pl.String, "score": pl.Float64},
        ),
        posts=pl.DataFrame(
            {
                "post_id": [f"p{i}" for i in range(len(posts))],
                "user_id": [u for u, _ in posts],
                "text": [t for _, t in posts],
            },
            schema={"post_id": pl.String, "user_id": pl.String, "text": pl.String},
        ).with_columns(pl.lit(None, TIME).alias("created_at"), pl.lit("en").alias("lang")),
        follows=pl.DataFrame(
            {"src": [a for a, _ in pairs], "dst": [b for _, b in pairs]},
            schema={"src": pl.String, "dst": pl.String},
        ).with_columns(pl.lit(None, TIME).alias("created_at")),
        interactions=pl.DataFrame(schema=SCHEMAS["interactions"]),
    )


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(ds=datasets())
def test_frame_store_frame_round_trip(tmp_path_factory: object, ds: Dataset) -> None:
    tmp = Path(tmp_path_factory.mktemp("rt"))  # type: ignore[attr-defined]
    with EmbeddedStore(tmp / "g.lbdb") as store:
        store.load(ds)
        assert (
            store.read_users()
            .select("user_id", "bio", "score")
            .sort("user_id")
            .equals(ds.users.sort("user_id"))
        )
        assert (
            store.read_follows()
            .sort("src", "dst")
            .equals(ds.follows.select("src", "dst").sort("src", "dst"))
        )
        got = store.read_posts().sort("post_id").select("post_id", "user_id", "text")
        assert got.equals(ds.posts.sort("post_id").select("post_id", "user_id", "text"))
