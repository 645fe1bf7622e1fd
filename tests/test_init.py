"""`dbshift init` writes the global flags it is given into dbshift.toml (it ignored
them: `dbshift --url X init` wrote the SQLite default), refuses a URL with a password
and the flags that do not apply to it, and the file it writes is one dbshift reads."""

from __future__ import annotations

from pathlib import Path

import pytest

import dbshift
from tests.helpers import run_process

pytestmark = pytest.mark.backends("sqlite")


def test_the_flags_given_are_written(tmp_path: Path) -> None:
    done = run_process(
        [
            "--url",
            "sqlite:///other.db",
            "--models",
            "app.models:Base",
            "--schema",
            'o"ps',
            "--migrations",
            "db/migrations",
            "--runner-lock-timeout",
            "90",
            "init",
            "proj",
        ],
        tmp_path,
    )
    assert done.returncode == 0, done.stderr
    config = dbshift.Config.load(tmp_path / "proj" / "dbshift.toml")
    assert config.url == "sqlite:///other.db"
    assert config.models == ["app.models:Base"]
    assert config.schema == 'o"ps'
    assert config.migrations_dir == tmp_path / "proj" / "db" / "migrations"
    assert config.migrations_dir.is_dir()
    assert config.runner_lock_timeout == 90


def test_without_flags_the_sqlite_default(tmp_path: Path) -> None:
    assert run_process(["init"], tmp_path).returncode == 0
    assert dbshift.Config.load(tmp_path / "dbshift.toml").url == "sqlite:///app.db"


@pytest.mark.parametrize(
    ("flags", "culprit"),
    [
        (["--url", "postgresql://app:s3cret@db/app"], "password"),
        (["--env", "production"], "--env does not apply"),
        (["--db", "main"], "--db does not apply"),
    ],
)
def test_refused_in_one_line_writing_nothing(
    tmp_path: Path, flags: list[str], culprit: str
) -> None:
    done = run_process([*flags, "init", "proj"], tmp_path)
    assert done.returncode == 2
    assert culprit in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert "s3cret" not in done.stderr
    assert not (tmp_path / "proj").exists()
