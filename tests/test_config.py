"""Configuration: discovery, environments, interpolation, overrides, masking."""

from __future__ import annotations

from pathlib import Path

import pytest

from dbshift.config import Config, find_config, mask_url, redact
from dbshift.errors import ConfigError


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_found_by_walking_up(tmp_path: Path) -> None:
    write(tmp_path / "dbshift.toml", 'url = "sqlite:///a.db"\nmigrations = "db/migrations"\n')
    deep = tmp_path / "src" / "pkg"
    deep.mkdir(parents=True)
    config = Config.load(cwd=deep)
    assert config.url == "sqlite:///a.db"
    assert config.migrations_dir == tmp_path / "db" / "migrations"


def test_pyproject_tool_table(tmp_path: Path) -> None:
    write(tmp_path / "pyproject.toml", '[project]\nname="x"\n[tool.dbshift]\nurl = "sqlite://"\n')
    assert find_config(tmp_path) == tmp_path / "pyproject.toml"
    assert Config.load(cwd=tmp_path).url == "sqlite://"


def test_pyproject_without_table_is_skipped(tmp_path: Path) -> None:
    write(tmp_path / "pyproject.toml", '[project]\nname="x"\n')
    found = find_config(tmp_path)
    assert found is None or not found.is_relative_to(tmp_path)


def test_environment_overrides_and_env_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(
        tmp_path / "dbshift.toml",
        'url = "sqlite:///dev.db"\nlock_timeout = 5\n'
        '[environments.prod]\nurl = "${PROD_URL}"\nlock_timeout = 30\n',
    )
    monkeypatch.setenv("PROD_URL", "postgresql://u:secret@db/app")
    assert Config.load(cwd=tmp_path).url == "sqlite:///dev.db"
    prod = Config.load(cwd=tmp_path, env="prod")
    assert prod.url == "postgresql://u:secret@db/app"
    assert prod.lock_timeout == 30
    monkeypatch.setenv("DBSHIFT_ENV", "prod")
    assert Config.load(cwd=tmp_path).env == "prod"


def test_flags_override_file(tmp_path: Path) -> None:
    write(tmp_path / "dbshift.toml", 'url = "sqlite:///dev.db"\n')
    config = Config.load(cwd=tmp_path, url="sqlite:///other.db", lock_timeout=None)
    assert config.url == "sqlite:///other.db"
    assert config.lock_timeout == 60


def test_default_interpolation(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    write(tmp_path / "dbshift.toml", 'url = "${DATABASE_URL:-sqlite:///app.db}"\n')
    assert Config.load(cwd=tmp_path).url == "sqlite:///app.db"
    monkeypatch.setenv("DATABASE_URL", "sqlite:///env.db")
    assert Config.load(cwd=tmp_path).url == "sqlite:///env.db"


@pytest.mark.parametrize(
    ("content", "env", "fragment"),
    [
        ("url = [", None, "invalid TOML"),
        ('url = "${NOPE_NOT_SET}"', None, "NOPE_NOT_SET is not set"),
        ('url = "sqlite://"\n[environments.dev]\nurl = "x"', "prod", "unknown environment 'prod'"),
        ('uri = "sqlite://"', None, "unknown key 'uri'"),
        ('table_prefix = "a-b"', None, "invalid table_prefix"),
        ('lock_timeout = "soon"', None, "invalid lock_timeout"),
    ],
)
def test_bad_configuration(tmp_path: Path, content: str, env: str | None, fragment: str) -> None:
    write(tmp_path / "dbshift.toml", content)
    with pytest.raises(ConfigError) as caught:
        Config.load(cwd=tmp_path, env=env)
    assert fragment in caught.value.message
    assert caught.value.exit_code == 2
    assert "\n" not in caught.value.message


def test_missing_explicit_config(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="configuration file not found"):
        Config.load(tmp_path / "nope.toml")


def test_missing_url_is_reported_when_needed() -> None:
    with pytest.raises(ConfigError, match="no database URL"):
        Config().require_url()


@pytest.mark.parametrize(
    ("url", "masked"),
    [
        ("postgresql://user:s3cret@host/db", "postgresql://user:***@host/db"),
        (
            "mysql+pymysql://root:p%40ss@127.0.0.1:3306/x",
            "mysql+pymysql://root:***@127.0.0.1:3306/x",
        ),
        ("postgresql://user@host/db", "postgresql://user@host/db"),
        ("sqlite:///app.db", "sqlite:///app.db"),
    ],
)
def test_mask_url(url: str, masked: str) -> None:
    assert mask_url(url) == masked


def test_redact_removes_password_anywhere() -> None:
    url = "postgresql://app:hunter22@db/app"
    text = 'connection failed for "hunter22" at postgresql://app:hunter22@db/app'
    assert "hunter22" not in redact(text, url)
