"""Export to PyG: contiguous indices in user-id order, typed and weighted edges, HeteroData."""

from __future__ import annotations

from datetime import UTC, datetime

import polars as pl
import torch
from graphsona.graph import EmbeddedStore, GraphStore, to_pyg
from graphsona.graph.export import DEFAULT_KIND_WEIGHTS, OTHER_KIND_WEIGHT
from graphsona.loaders import Dataset
from graphsona.loaders.dataset import SCHEMAS

TIME = pl.Datetime("us", "UTC")


def tiny() -> Dataset:
    """4 users: d follows a, a and b follow c; interactions b->a (reply x2), c->d (boost)."""
    users = pl.DataFrame({"user_id": ["d", "a", "c", "b"]})
    follows = pl.DataFrame({"src": ["d", "a", "b"], "dst": ["a", "c", "c"]}).with_columns(
        pl.lit(None, TIME).alias("created_at")
    )
    inter = pl.DataFrame(
        {
            "src": ["b", "c"],
            "dst": ["a", "d"],
            "kind": ["reply", "boost"],
            "weight": [2.0, 1.0],
            "count": [2, 1],
        }
    ).with_columns(pl.lit(None, TIME).alias("created_at"), pl.lit(None, TIME).alias("last_at"))
    posts = pl.DataFrame(schema=SCHEMAS["posts"])
    return Dataset(users, posts, follows, inter)


def test_tiny_graph_exports_exactly(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with EmbeddedStore(tmp_path / "g.lbdb") as store:
        store.load(tiny())
        g = to_pyg(store)
    assert g.ids["user_id"].to_list() == ["a", "b", "c", "d"]
    assert g.ids["index"].to_list() == [0, 1, 2, 3]
    assert g.relations == ["follows", "boost", "reply"]
    edges = {
        (int(s), int(d), int(t), round(float(w), 4))
        for s, d, t, w in zip(*g.data.edge_index, g.data.edge_type, g.data.edge_weight, strict=True)
    }
    assert edges == {
        (3, 0, 0, 1.0),
        (0, 2, 0, 1.0),
        (1, 2, 0, 1.0),  # follows: d->a, a->c, b->c
        (2, 3, 1, OTHER_KIND_WEIGHT * 1.0),  # c->d boost (unknown kind)
        (1, 0, 2, DEFAULT_KIND_WEIGHTS["reply"] * 2.0),  # b->a two replies
    }
    assert g.data.num_nodes == 4
    h = g.hetero()
    assert h["user", "follows", "user"].edge_index.shape == (2, 3)
    assert torch.equal(h["user", "reply", "user"].edge_index, torch.tensor([[1], [0]]))
    assert g.index_of(["c", "a"]).tolist() == [2, 0]


def test_kind_weights_and_relation_selection(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with EmbeddedStore(tmp_path / "g.lbdb") as store:
        store.load(tiny())
        g = to_pyg(store, kind_weights={"reply": 0.25}, include_follows=False)
    assert g.relations == ["boost", "reply"]
    w = dict(zip(g.data.edge_type.tolist(), g.data.edge_weight.tolist(), strict=True))
    assert w[1] == 0.5  # reply weight 0.25 * summed weight 2


def test_follow_times_are_exported_on_request(store: GraphStore, small_dataset: Dataset) -> None:
    store.load(small_dataset)
    plain = to_pyg(store)
    timed = to_pyg(store, follow_times=True)
    follows = timed.data.edge_type == 0
    assert (plain.data.edge_time[follows] == -1).all()
    assert (timed.data.edge_time[follows] > 1_700_000_000).all()  # 2025 times, in seconds
    assert torch.equal(plain.data.edge_index, timed.data.edge_index)


def test_edge_list_round_trip_and_upsert_match_a_graph_built_from_all_the_frames() -> None:
    """A saved edge list plus a delta with new users, a new interaction kind, a re-sent link
    with a new weight and an unknown time gives the graph built from the merged frames."""
    from graphsona.graph.export import edge_list, graph_from_edges, to_pyg_frames, upsert_edges

    t0, t1 = datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 2, tzinfo=UTC)
    ids = pl.Series(["a", "b", "c"])
    follows = pl.DataFrame({"src": ["a", "b"], "dst": ["b", "c"]})
    inter = pl.DataFrame(
        {"src": ["a"], "dst": ["c"], "kind": ["like"], "weight": [2.0], "created_at": [t0]}
    )
    base = to_pyg_frames(ids, follows, inter)
    saved = edge_list(base)
    again = graph_from_edges(ids, saved)
    for k in ("edge_index", "edge_weight", "edge_type", "edge_time"):
        assert torch.equal(getattr(again.data, k), getattr(base.data, k))
    assert again.relations == base.relations

    all_ids = pl.Series(["a", "b", "c", "0new"])  # a new user sorting first shifts every row
    d_follows = pl.DataFrame({"src": ["0new", "a"], "dst": ["a", "b"]})  # a->b re-sent
    d_inter = pl.DataFrame(
        {
            "src": ["a", "0new"],
            "dst": ["c", "b"],
            "kind": ["like", "reply"],  # like re-sent with a new weight and no time
            "weight": [5.0, 1.0],
            "created_at": [None, t1],
        },
        schema={**inter.schema},
    )
    merged = graph_from_edges(
        all_ids, upsert_edges(saved, edge_list(to_pyg_frames(all_ids, d_follows, d_inter)))
    )
    # what the store holds after the upsert: the like keeps its time and takes the new weight
    store_follows = pl.DataFrame({"src": ["a", "b", "0new"], "dst": ["b", "c", "a"]})
    store_inter = pl.DataFrame(
        {
            "src": ["a", "0new"],
            "dst": ["c", "b"],
            "kind": ["like", "reply"],
            "weight": [5.0, 1.0],
            "created_at": [t0, t1],
        }
    )
    expected = to_pyg_frames(all_ids, store_follows, store_inter)
    assert merged.relations == expected.relations == ["follows", "like", "reply"]
    for k in ("edge_index", "edge_weight", "edge_type", "edge_time"):
        assert torch.equal(getattr(merged.data, k), getattr(expected.data, k))
