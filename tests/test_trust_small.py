"""Small trust fixes: rare label classes, evidence-free recommendations, stable run ids,
string-valued mapping lists, and one clear error on a store that was never profiled."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest
from click.testing import CliRunner
from graphsona.cli import main
from graphsona.errors import ConfigError, StoreError
from graphsona.gnn.heads import predict_labels
from graphsona.graph import EmbeddedStore
from graphsona.graph.mapping import SchemaMapping
from graphsona.jobs.runner import fingerprint as _hash
from graphsona.jobs.stages import _rounded
from graphsona.loaders import Dataset
from graphsona.loaders.dataset import SCHEMAS
from graphsona.outputs.recommend import RecContext, who_to_follow
from graphsona.outputs.summary import NO_PROFILES

TIME = pl.Datetime("us", "UTC")


# ---------------------------------------------------------------- 1. label heads, thin classes
def _features(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, 6))


def test_a_class_with_one_example_does_not_crash_and_is_reported() -> None:
    labels = pl.DataFrame({"label_kind": ["a"] * 60 + ["b"]})
    (head,) = predict_labels(labels, _features(61))
    # one class left once "b" is set aside: nothing to learn, said so
    assert head.kind == "skipped" and head.metrics["dropped_rare_classes"] == ["b"]
    assert "1 class" in str(head.metrics["reason"])
    assert head.frame().height == 61


def test_rare_class_rows_are_left_out_of_training_but_still_predicted() -> None:
    x = _features(61)
    x[:30, 0] += 3.0  # "a" is learnable
    labels = pl.DataFrame({"label_kind": ["a"] * 30 + ["c"] * 30 + ["b"]})
    (head,) = predict_labels(labels, x)
    assert head.kind == "classification"
    assert head.metrics["dropped_rare_classes"] == ["b"] and head.metrics["dropped_rows"] == 1
    assert head.metrics["classes"] == 2 and head.metrics["labelled"] == 61
    pred = head.prediction.to_list()
    assert None not in pred and set(pred) <= {"a", "c"}  # "b"'s row gets a prediction too
    assert head.probability is not None and head.probability.null_count() == 0
    assert 0.0 <= float(head.metrics["accuracy"]) < 1.0  # the "b" row counts as an error


def test_one_class_and_single_row_are_skipped_with_a_reason() -> None:
    (one,) = predict_labels(pl.DataFrame({"label_kind": ["a"] * 40}), _features(40))
    assert one.kind == "skipped" and "1 class" in str(one.metrics["reason"])
    assert "dropped_rare_classes" not in one.metrics
    single = pl.DataFrame({"label_kind": ["a"], "label_score": [2.0]})
    for min_labelled in (20, 0):
        heads = predict_labels(single, _features(1), min_labelled=min_labelled)
        assert [h.kind for h in heads] == ["skipped", "skipped"]
        assert all(h.metrics["reason"] for h in heads) and heads[0].frame().height == 1


# ---------------------------------------------------------------- 2. no evidence, no similarity
def _tiny_store(path: Path) -> EmbeddedStore:
    """a, b, d follow c; c follows a; b replied to a. ``lone`` has no edges and no text; ``writer`` has no
    edges but wrote a post. ``lone``'s profile sits at cosine 0.9 to ``c``'s."""
    users = pl.DataFrame(
        {
            "user_id": ["a", "b", "c", "d", "lone", "writer"],
            "bio": ["cats", "dogs", "", None, None, None],
        }
    )
    follows = pl.DataFrame({"src": ["a", "b", "d", "c"], "dst": ["c", "c", "c", "a"]}).with_columns(
        pl.lit(None, TIME).alias("created_at")
    )
    posts = pl.DataFrame(
        {
            "post_id": ["p1", "p2", "p3"],
            "user_id": ["a", "c", "writer"],
            "text": ["cats are great", "dogs and cats", "cats, cats"],
        }
    ).with_columns(pl.lit(None, TIME).alias("created_at"), pl.lit(None, pl.String).alias("lang"))
    inter = pl.DataFrame(
        {"src": ["b"], "dst": ["a"], "kind": ["reply"], "weight": [1.0], "count": [1]}
    ).with_columns(pl.lit(None, TIME).alias("created_at"), pl.lit(None, TIME).alias("last_at"))
    store = EmbeddedStore(path)
    store.load(Dataset(users, posts.select(SCHEMAS["posts"].keys()), follows, inter))
    c = np.array([1.0, 0.0, 0.0, 0.0])
    lone = np.array([0.9, np.sqrt(1 - 0.81), 0.0, 0.0])
    z = np.stack([[0, 1, 0, 0], [0, 0, 1, 0], c, [0, 0, 0, 1], lone, [0.5, 0.5, 0.5, 0.5]])
    store.write_user_properties(
        pl.DataFrame(
            {
                "user_id": ["a", "b", "c", "d", "lone", "writer"],
                "profile": pl.Series(z.astype(np.float32)).cast(pl.Array(pl.Float32, 4)),
                "follow_bias": [0.5, -1.0, 2.0, -1.0, -3.0, -3.0],
                "community_id": [0, 0, 0, 0, 1, 2],
                "community_name": ["pets"] * 4 + ["x", "y"],
            }
        )
    )
    return store


def test_isolated_user_without_text_gets_popular_accounts_not_similar_interests(
    tmp_path: Path,
) -> None:
    with _tiny_store(tmp_path / "g.lbdb") as store:
        ctx = RecContext.from_store(store)
    assert ctx.has_text is not None
    assert dict(zip(ctx.ids, ctx.has_text.tolist(), strict=True)) == {
        "a": True, "b": True, "c": True, "d": False, "lone": False, "writer": True
    }  # fmt: skip
    recs = who_to_follow(ctx, ["lone"], k=3)
    assert recs["candidate_id"].to_list() == ["c", "a", "b"]  # learned bias, then followers
    assert (recs["basis"] == "popular").all() and recs["similarity"].null_count() == 3
    assert not recs["reason"].str.contains("similar").any()
    assert recs["reason"][0] == "popular (3 followers)"
    assert recs["score"].is_between(0, 1).all() and (recs["mutual_follows"] == 0).all()
    # a user without edges who wrote something still gets text-only recommendations
    writer = who_to_follow(ctx, ["writer"], k=2)
    assert (writer["basis"] == "text-only").all() and writer["similarity"].null_count() == 0
    # batch: rows stay in the order asked for, with popular rows in place
    both = who_to_follow(ctx, ["writer", "lone", "a"], k=2)
    assert both["user_id"].to_list() == ["writer", "writer", "lone", "lone", "a", "a"]
    assert both["rank"].to_list() == [1, 2] * 3
    assert "lone" not in who_to_follow(ctx, k=5)["candidate_id"].to_list()


# ---------------------------------------------------------------- 3. a run id that ignores noise
def test_run_id_ignores_float_noise_but_not_real_changes() -> None:
    base = pl.DataFrame(
        {
            "user_id": ["a", "b", "c"],
            "influence": [0.123456789012, 3.3e-5, 0.7],
            "follow_bias": [0.0, -1.25, 2.5],
            "profile": pl.Series(np.eye(3, dtype=np.float32)).cast(pl.Array(pl.Float32, 3)),
        }
    )

    def run_id(frame: pl.DataFrame) -> str:
        return _hash("run", _rounded(frame))

    noisy = base.with_columns(
        pl.col("influence") + 1e-14, pl.Series("follow_bias", [1e-17, -1.25, 2.5])
    )
    assert run_id(noisy) == run_id(base)
    assert _hash("run", noisy) != _hash("run", base)  # what the raw hash did
    assert run_id(base.with_columns(pl.col("influence") + 1e-3)) != run_id(base)
    assert run_id(base.with_columns(pl.col("user_id").reverse())) != run_id(base)
    assert _rounded(base)["profile"].dtype == pl.Array(pl.Float64, 3)


# ---------------------------------------------------------------- 4. mapping lists and types
def test_a_string_is_one_relationship_type(tmp_path: Path) -> None:
    assert SchemaMapping.from_dict({"follows": "KNOWS"}).follows == ("KNOWS",)
    assert SchemaMapping(follows="KNOWS").follows == ("KNOWS",)  # type: ignore[arg-type]
    assert SchemaMapping.from_dict({"follows": ["A", "B"]}).follows == ("A", "B")
    (tmp_path / "job.toml").write_text('[mapping]\nuser_label = "Person"\nfollows = "KNOWS"\n')
    result = CliRunner().invoke(main, ["validate", str(tmp_path / "job.toml")])
    assert result.exit_code == 0, result.output
    from graphsona.jobs.config import load_config

    mapping = load_config(tmp_path / "job.toml").mapping
    assert mapping is not None and mapping.follows == ("KNOWS",)


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("follows", 5),
        ("follows", ["KNOWS", 3]),
        ("follows", {"KNOWS": "x"}),
        ("user_label", ["Person"]),
        ("user_id", 7),
        ("interactions", ["REPLIED_TO"]),
        ("interactions", {"REPLIED_TO": 1}),
        ("post_rel_outgoing", "yes"),
    ],
)
def test_wrong_types_are_a_config_error_naming_the_key(
    key: str, value: object, tmp_path: Path
) -> None:
    with pytest.raises(ConfigError, match=f"'{key}'"):
        SchemaMapping.from_dict({key: value})


def test_validate_rejects_a_wrong_type(tmp_path: Path) -> None:
    (tmp_path / "job.toml").write_text("[mapping]\nfollows = 5\n")
    result = CliRunner().invoke(main, ["validate", str(tmp_path / "job.toml")])
    assert result.exit_code == 1 and "'follows'" in result.stderr
    assert "Traceback" not in result.output


# ---------------------------------------------------------------- 5. unprofiled store
@pytest.fixture(scope="module")
def loaded_store(small_dataset_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("unprofiled") / "g.lbdb"
    result = CliRunner().invoke(main, ["load", str(small_dataset_dir), "--store", str(path)])
    assert result.exit_code == 0, result.output
    return path


@pytest.mark.parametrize(
    "args",
    [
        ["communities"],
        ["communities", "--json"],
        ["recommend", "u0000001"],
        ["recommend", "--all"],
        ["similar", "u0000001"],
        ["export", "--out", "{tmp}/out"],
        ["report", "--out", "{tmp}/r.html"],
    ],
    ids=lambda a: "-".join(x for x in a if not x.startswith("{")),
)
def test_unprofiled_store_is_one_clear_error(
    args: list[str], loaded_store: Path, tmp_path: Path
) -> None:
    argv = [a.format(tmp=tmp_path) for a in args] + ["--store", str(loaded_store)]
    result = CliRunner().invoke(main, argv)
    assert result.exit_code == 1, result.output
    assert result.stderr.splitlines() == [f"error: {NO_PROFILES}"]
    assert "Traceback" not in result.output and "Binder" not in result.output
    assert NO_PROFILES == "the store has no profiles yet: run graphsona profile first"
    assert not (tmp_path / "out").exists() and not (tmp_path / "r.html").exists()


def test_library_calls_raise_store_error(loaded_store: Path, tmp_path: Path) -> None:
    from graphsona.outputs.export import export_results
    from graphsona.outputs.report import write_report
    from graphsona.outputs.summary import profile_card

    with EmbeddedStore(loaded_store, read_only=True) as store:
        for call in (
            lambda: RecContext.from_store(store),
            lambda: export_results(store, tmp_path / "x"),
            lambda: write_report(store, tmp_path / "r.html"),
            lambda: profile_card(store, "u0000001"),
        ):
            with pytest.raises(StoreError, match="no profiles yet"):
                call()
