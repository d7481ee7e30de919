"""The TOML job config: defaults, validation of everything at once, --set overrides."""

from __future__ import annotations

from pathlib import Path

import pytest
from graphsona.errors import ConfigError
from graphsona.jobs.config import load_config


def test_empty_config_is_all_defaults(tmp_path: Path) -> None:
    (tmp_path / "job.toml").write_text("")
    cfg = load_config(tmp_path / "job.toml")
    assert cfg.job.dim == 128 and cfg.uri is None and cfg.mapping is None and cfg.keys == set()


def test_values_and_overrides(tmp_path: Path) -> None:
    path = tmp_path / "job.toml"
    path.write_text(
        '[store]\nuri = "bolt://db:7687"\n[training]\nlr = 1\nepochs = 10\n'
        '[mapping]\nuser_label = "Person"\nfollows = ["KNOWS"]\n'
    )
    cfg = load_config(path, ["training.epochs=20", "model.kind=static", "output.work_dir=runs"])
    assert cfg.uri == "bolt://db:7687" and cfg.job.lr == 1.0 and isinstance(cfg.job.lr, float)
    assert cfg.job.epochs == 20 and cfg.job.embedder_kind == "static"
    assert cfg.work_dir == Path("runs") and cfg.mapping is not None
    assert cfg.mapping.user_label == "Person" and cfg.mapping.follows == ("KNOWS",)
    assert {"training.epochs", "model.kind", "store.uri"} <= cfg.keys


def test_overrides_are_validated_like_the_file() -> None:
    with pytest.raises(ConfigError) as e:
        load_config(
            None, ["training.epochs=0", "training.lr=fast", "nope.x=1", "model.precision=fp8"]
        )
    msg = str(e.value)
    assert msg.startswith("options: 4 problem(s)") and "precision) must be one of" in msg
    assert "epochs must be >= 1" in msg and "lr must be number" in msg and "[nope]" in msg
    with pytest.raises(ConfigError, match=r"section\.key=value"):
        load_config(None, ["epochs=3"])


def test_scale_section_sets_ray_and_checks_workers(tmp_path: Path) -> None:
    path = tmp_path / "job.toml"
    path.write_text('[scale]\nray = "auto"\nworkers = 4\nstall_timeout = 1800\n')
    job = load_config(path).job
    assert job.ray == "auto" and job.ray_workers == 4
    options = job.ray_options()
    assert options.address == "auto" and options.workers == 4 and options.stall_timeout_s == 1800
    assert load_config(None).job.ray_options() is None  # no [scale]: one process, as before
    with pytest.raises(ConfigError, match="ray_workers must be >= 1"):
        load_config(None, ["scale.ray=local", "scale.workers=0"])
    with pytest.raises(ConfigError, match="ray_workers needs ray"):
        load_config(None, ["scale.workers=2"])
    with pytest.raises(ConfigError, match="ray_stall_timeout must be > 0"):
        load_config(None, ["scale.ray=local", "scale.stall_timeout=0"])


def test_missing_and_broken_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such config file"):
        load_config(tmp_path / "absent.toml")
    (tmp_path / "bad.toml").write_text("[training\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(tmp_path / "bad.toml")
