"""Configuration: discovery, environments, interpolation, overrides, masking."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from dbshift.config import RENAMED, Config, RenamedSetting, find_config, mask_url, redact
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
        'url = "sqlite:///dev.db"\nrunner_lock_timeout = 5\n'
        '[environments.prod]\nurl = "${PROD_URL}"\nrunner_lock_timeout = 30\n',
    )
    monkeypatch.setenv("PROD_URL", "postgresql://u:secret@db/app")
    assert Config.load(cwd=tmp_path).url == "sqlite:///dev.db"
    prod = Config.load(cwd=tmp_path, env="prod")
    assert prod.url == "postgresql://u:secret@db/app"
    assert prod.runner_lock_timeout == 30
    monkeypatch.setenv("DBSHIFT_ENV", "prod")
    assert Config.load(cwd=tmp_path).env == "prod"


def test_flags_override_file(tmp_path: Path) -> None:
    write(tmp_path / "dbshift.toml", 'url = "sqlite:///dev.db"\n')
    config = Config.load(cwd=tmp_path, url="sqlite:///other.db", runner_lock_timeout=None)
    assert config.url == "sqlite:///other.db"
    assert config.runner_lock_timeout == 60


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
        ('runner_lock_timeout = "soon"', None, "invalid runner_lock_timeout"),
        ('table_lock_timeout = "soon"', None, "invalid table_lock_timeout"),
        ("lock_timeout = 1\nrunner_lock_timeout = 2", None, "both `lock_timeout` and"),
        (
            'migration_lock_timeout = "1s"\ntable_lock_timeout = "2s"',
            None,
            "both `migration_lock_timeout` and `table_lock_timeout` are given",
        ),
        (
            'url = "sqlite://"\n[environments.prod]\nlock_timeout = 1\nrunner_lock_timeout = 2',
            "prod",
            "[environments.prod]: both `lock_timeout` and `runner_lock_timeout`",
        ),
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


# -- settings under their old names (RENAMED) -------------------------------------------


def test_the_old_keys_in_a_file_still_work_with_a_warning(tmp_path: Path) -> None:
    write(
        tmp_path / "dbshift.toml",
        'lock_timeout = 7\nmigration_lock_timeout = "2s"\n[environments.prod]\nlock_timeout = 9\n',
    )
    with pytest.warns(RenamedSetting) as caught:
        config = Config.load(cwd=tmp_path)
    assert (config.runner_lock_timeout, config.table_lock_timeout) == (7.0, 2.0)
    messages = [str(w.message) for w in caught]
    assert messages == [
        f"{tmp_path / 'dbshift.toml'}: `lock_timeout` is deprecated, use `runner_lock_timeout`"
        " (the same setting, renamed)",
        f"{tmp_path / 'dbshift.toml'}: `migration_lock_timeout` is deprecated, use "
        "`table_lock_timeout` (the same setting, renamed)",
    ]
    assert all(w.filename == __file__ for w in caught)  # they point at the caller
    with pytest.warns(RenamedSetting) as caught:
        assert Config.load(cwd=tmp_path, env="prod").runner_lock_timeout == 9.0
    assert [str(w.message) for w in caught][:2] == messages
    assert [str(w.message).partition(": ")[2] for w in caught[2:]] == [
        "[environments.prod]: `lock_timeout` is deprecated, use `runner_lock_timeout` (the "
        "same setting, renamed)"
    ]


def test_an_environment_overrides_an_old_key_with_the_new_one(tmp_path: Path) -> None:
    """Each table is read on its own: a new key in an environment is no clash with the
    old one at the top level, it overrides it like any other key."""
    write(
        tmp_path / "dbshift.toml",
        "lock_timeout = 7\n[environments.prod]\nrunner_lock_timeout = 9\n",
    )
    with pytest.warns(RenamedSetting):
        assert Config.load(cwd=tmp_path, env="prod").runner_lock_timeout == 9.0


def test_the_new_keys_give_no_warning(tmp_path: Path, recwarn: pytest.WarningsRecorder) -> None:
    write(tmp_path / "dbshift.toml", 'runner_lock_timeout = 7\ntable_lock_timeout = "2s"\n')
    config = Config.load(cwd=tmp_path, runner_lock_timeout=8)
    assert (config.runner_lock_timeout, config.table_lock_timeout) == (8.0, 2.0)
    config = Config(runner_lock_timeout=1, table_lock_timeout=0).replace(runner_lock_timeout=2)
    assert (config.runner_lock_timeout, config.table_lock_timeout) == (2.0, 0.0)
    assert [w for w in recwarn if issubclass(w.category, DeprecationWarning)] == []


def test_the_old_keywords_still_work_with_a_warning(tmp_path: Path) -> None:
    with pytest.warns(RenamedSetting) as old:
        config = Config(lock_timeout=5, migration_lock_timeout="250ms")  # type: ignore[call-arg]
    assert [str(w.message).split(" is ")[0] for w in old] == [
        "Config(): `lock_timeout`",
        "Config(): `migration_lock_timeout`",
    ]
    assert all(w.filename == __file__ for w in old)
    assert config == Config(runner_lock_timeout=5, table_lock_timeout=0.25)
    with pytest.warns(RenamedSetting, match=r"Config.load\(\): `migration_lock_timeout`"):
        loaded = Config.load(cwd=tmp_path, migration_lock_timeout=1, lock_timeout=None)
    assert loaded.table_lock_timeout == 1.0 and loaded.runner_lock_timeout == 60.0
    with pytest.warns(RenamedSetting, match=r"Config.replace\(\): `lock_timeout`"):
        assert config.replace(lock_timeout=9).runner_lock_timeout == 9.0
    with pytest.warns(RenamedSetting, match=r"`Config.lock_timeout` is deprecated") as read:
        assert config.lock_timeout == 5.0
    assert read[0].filename == __file__
    with pytest.warns(RenamedSetting, match=r"`Config.migration_lock_timeout` is deprecated"):
        assert config.migration_lock_timeout == 0.25
    # the old keyword's value goes through the same checks as the new one's
    with pytest.warns(RenamedSetting), pytest.raises(ConfigError, match="must not be negative"):
        Config(lock_timeout=-1)  # type: ignore[call-arg]


@pytest.mark.parametrize(
    "call",
    [
        lambda: Config(lock_timeout=1, runner_lock_timeout=2),  # type: ignore[call-arg]
        lambda: Config.load(lock_timeout=1, runner_lock_timeout=2),
        lambda: Config().replace(migration_lock_timeout=1, table_lock_timeout=2),
    ],
    ids=["Config", "load", "replace"],
)
def test_a_setting_under_both_names_is_refused(call: Callable[[], object]) -> None:
    with pytest.raises(ConfigError, match=r"both `\w+` and `\w+` are given") as caught:
        call()
    assert caught.value.exit_code == 2 and "old, deprecated name" in str(caught.value.hint)


def test_renamed_setting_is_a_deprecation_warning() -> None:
    assert issubclass(RenamedSetting, DeprecationWarning)
    assert RENAMED == {
        "lock_timeout": "runner_lock_timeout",
        "migration_lock_timeout": "table_lock_timeout",
    }
