"""Regressions from a review of the trust and hardening work: secrets with reserved characters,
stage outputs from an older graphsona, CSV rows after blank lines, file clauses on a read-only
embedded store."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from graphsona.cli import main
from graphsona.errors import DataValidationError, StoreError
from graphsona.graph import EmbeddedStore
from graphsona.graph._uri import redact, split_userinfo
from graphsona.jobs.runner import Context, Progress, Runner, Stage
from graphsona.loaders._read import _csv_short_rows


@pytest.mark.parametrize("password", ["Xy9/Qz+w==", "a?b", "c#d", "e/f@g"])
def test_passwords_with_reserved_characters_never_print(
    password: str, tmp_path: Path, small_dataset_dir: Path
) -> None:
    uri = f"bolt://neo4j:{password}@127.0.0.1:1"
    assert split_userinfo(uri) == ("bolt://127.0.0.1:1", "neo4j", password)
    assert password not in redact(f"cannot reach {uri}")
    for args in (["stats"], ["load", str(small_dataset_dir)]):
        result = CliRunner().invoke(main, [*args, "--store", uri])
        assert result.exit_code == 1
        assert password not in result.output
        if len(password.split("/")[0]) > 2:  # what a URL parser would call the port
            assert password.split("/")[0] not in result.output
        assert "Traceback" not in result.output


class _Once(Stage):
    """A stage whose saved output can be made unreadable."""

    name = "once"
    files = ("once.txt",)

    def __init__(self) -> None:
        self.runs = 0

    def fingerprint(self, ctx: Context) -> str:
        return "same"

    def run(self, ctx: Context, say: Progress) -> Context:
        self.runs += 1
        return {"value": 42}

    def save(self, out: Context, folder: Path) -> dict[str, Any]:
        (folder / "once.txt").write_text(str(out["value"]))
        return {}

    def load(self, folder: Path, info: dict[str, Any], ctx: Context) -> Context:
        return {"value": int((folder / "once.txt").read_text())}


def test_runner_reruns_a_stage_whose_saved_output_is_unreadable(tmp_path: Path) -> None:
    """Work dirs written by an older graphsona (another file layout) are recomputed, not a
    crash of the whole job."""
    stage = _Once()
    Runner(tmp_path).run([stage], {})
    again = Runner(tmp_path).run([stage], ctx := {})
    assert again.skipped == ["once"] and ctx["value"] == 42 and stage.runs == 1
    (tmp_path / "once.txt").write_text("not a number")
    third = Runner(tmp_path).run([stage], ctx := {})
    assert third.skipped == [] and ctx["value"] == 42 and stage.runs == 2


def test_runner_forgets_a_stage_before_rerunning_it(tmp_path: Path) -> None:
    """A crash after a stage wrote new files but before it recorded their fingerprint must not
    leave the old fingerprint next to the new files."""

    class Crashing(_Once):
        def fingerprint(self, ctx: Context) -> str:
            return str(ctx["setting"])

        def run(self, ctx: Context, say: Progress) -> Context:
            if ctx["setting"] == "new":
                raise KeyboardInterrupt  # the crash
            return super().run(ctx, say)

    Runner(tmp_path).run([Crashing()], {"setting": "old"})
    with pytest.raises(KeyboardInterrupt):
        Runner(tmp_path).run([Crashing()], {"setting": "new"})
    assert "once" not in Runner(tmp_path).manifest


def test_short_csv_row_after_blank_lines_is_named_by_its_row() -> None:
    with pytest.raises(DataValidationError, match="row 4: malformed CSV: 2 fields"):
        _csv_short_rows(Path("f.csv"), b"a,b,c\n1,2,3\n\n4,5,6\n7,8\n")


def test_read_only_store_refuses_file_clauses(
    embedded_store: EmbeddedStore, small_dataset: Any, tmp_path: Path
) -> None:
    embedded_store.load(small_dataset)
    path = embedded_store.path
    embedded_store.close()
    victim = tmp_path / "out.csv"
    with EmbeddedStore(path, read_only=True) as ro:
        with pytest.raises(StoreError, match="COPY"):
            ro.run(f"COPY (MATCH (u:User) RETURN u.user_id) TO '{victim}'", read_only=True)
        with pytest.raises(StoreError, match="LOAD"):
            ro.run("LOAD FROM '/etc/passwd' (header=false) RETURN * LIMIT 1", read_only=True)
    assert not victim.exists()
