"""The notebook API: `graphsona.profile(...)` on in-memory frames, validated like files, with
the same results the store-backed job writes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
from graphsona.errors import DataValidationError
from graphsona.graph import EmbeddedStore
from graphsona.jobs import ProfileJobConfig, run_profile


def _cfg(tmp_path: Path) -> ProfileJobConfig:
    return ProfileJobConfig(embedder_kind="static", cache=tmp_path / "c.sqlite", dim=32, epochs=30)


@pytest.fixture(scope="module")
def net() -> Any:
    from graphsona.loaders import SyntheticConfig, generate

    return generate(
        SyntheticConfig(n_users=200, n_communities=3, avg_follows=8, posts_per_user=3, seed=11)
    )


def test_profile_frames_gives_every_result_frame(net: Any, tmp_path: Path) -> None:
    import graphsona

    result = graphsona.profile(
        net.users, net.follows, posts=net.posts, interactions=net.interactions,
        config=_cfg(tmp_path), k=5,
    )  # fmt: skip
    assert result.users.height == net.users.height
    for col in ("profile", "community_id", "community_name", "influence", "influence_rank"):
        assert result.users[col].null_count() == 0, col
    assert result.communities["size"].sum() == net.users.height
    per_user = result.recommendations.group_by("user_id").len()
    assert per_user.height == net.users.height and per_user["len"].max() == 5
    assert result.load_report.rows_read["users"] == net.users.height
    text = repr(result)
    assert text.startswith(f"Profiles of {net.users.height} users: ")
    assert "communities" in text and "modularity" in text
    assert "<table>" in result._repr_html_()


def test_frames_and_store_give_the_same_results(net: Any, tmp_path: Path) -> None:
    """The API runs the job's own stages: the results equal what `profile` writes to a store."""
    import graphsona
    from graphsona.loaders import load_frames

    cfg = _cfg(tmp_path)
    in_memory = graphsona.profile(
        net.users, net.follows, posts=net.posts, interactions=net.interactions, config=cfg, k=0
    )
    with EmbeddedStore(tmp_path / "g.lbdb") as store:
        store.load(
            load_frames(net.users, net.follows, posts=net.posts, interactions=net.interactions)[0]
        )
        stored = run_profile(store, cfg)
        written = store.read_users().sort("user_id")
    ours = in_memory.users.sort("user_id")
    assert in_memory.summary["run_id"] == stored.run_id
    assert ours["community_id"].to_list() == written["community_id"].to_list()
    assert np.allclose(ours["influence"].to_numpy(), written["influence"].to_numpy())


def test_bad_frames_name_table_row_and_column(net: Any) -> None:
    import graphsona

    users = net.users.with_columns(
        pl.when(pl.int_range(pl.len()) == 2).then(pl.lit("")).otherwise(pl.col("user_id"))
        .alias("user_id")
    )  # fmt: skip
    with pytest.raises(DataValidationError, match=r"<users frame>, row 3, column 'user_id'"):
        graphsona.profile(users, net.follows)
    with pytest.raises(DataValidationError, match="needs follows or interactions"):
        graphsona.profile(net.users)
    with pytest.raises(DataValidationError, match="expected a polars or pandas DataFrame"):
        graphsona.profile(net.users, [("a", "b")])


def test_pandas_frames_are_accepted(net: Any, tmp_path: Path) -> None:
    import graphsona

    result = graphsona.profile(
        net.users.to_pandas(), net.follows.to_pandas(), posts=net.posts.to_pandas(),
        config=_cfg(tmp_path), k=2,
    )  # fmt: skip
    assert result.users.height == net.users.height
