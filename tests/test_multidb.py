"""Several databases in one project (`[databases.NAME]`), each on its own backend, and
`migrations` paths relative to the configuration file or to a module (issue 15)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import dbshift
import dbshift.aio
from dbshift.config import Config
from dbshift.errors import ConfigError
from dbshift.migrations import sumfile
from dbshift.migrations.scripts import scan
from tests.conftest import ScratchDatabases, require_backend, with_driver
from tests.helpers import Project, run_process

#: two databases on two backends, every backend in two of the pairs
PAIRS = [("sqlite", "postgresql"), ("postgresql", "mysql"), ("mysql", "sqlite")]

TABLE = "CREATE TABLE {name} (id INTEGER PRIMARY KEY)"


class Pair:
    """A project of two databases, `main` and `audit`, on the two backends of the pair:
    one folder, one dbshift.toml, a `Project` for each database's folder."""

    def __init__(self, root: Path, urls: tuple[str, str], capsys: pytest.CaptureFixture[str]):
        self.root = root
        self.main = Project(root, urls[0], capsys)
        self.audit = Project(root, urls[1], capsys)
        for name, project in (("main", self.main), ("audit", self.audit)):
            project.migrations = root / "migrations" / name
            project.migrations.mkdir(parents=True)
        (root / "dbshift.toml").write_text(
            "runner_lock_timeout = 10\n\n"
            f'[databases.main]\nurl = "{urls[0]}"\n\n'
            f'[databases.audit]\nurl = "{urls[1]}"\ntable_prefix = "audit_"\n'
        )


@pytest.fixture(params=PAIRS, ids=["-".join(p) for p in PAIRS])
def pair(
    request: pytest.FixtureRequest, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> Iterator[Pair]:
    backends: tuple[str, str] = request.param
    for backend in backends:
        require_backend(backend)
    scratch = [ScratchDatabases(b, tmp_path / f"db{i}") for i, b in enumerate(backends)]
    for databases in scratch:
        databases.tmp_path.mkdir()
    try:
        yield Pair(tmp_path / "proj", (scratch[0].create(), scratch[1].create()), capsys)
    finally:
        for databases in scratch:
            databases.drop_all()


def _audit_applied(pair: Pair) -> list[str]:
    if "audit_history" not in pair.audit.tables():
        return []
    return [r[0] for r in pair.audit.query("SELECT id FROM audit_history ORDER BY id")]


def test_upgrade_all_status_each_and_db_selects(pair: Pair) -> None:
    users = pair.main.sql("users", TABLE.format(name="users"), "DROP TABLE users")
    events = pair.audit.sql("events", TABLE.format(name="events"), "DROP TABLE events")

    status = pair.main.ok("status", "--json").json["databases"]
    assert list(status) == ["main", "audit"]  # the order configured
    assert status["main"]["pending"] == [users] and status["audit"]["pending"] == [events]

    pair.main.ok("upgrade", "--db", "audit")
    assert "events" in pair.audit.tables() and "users" not in pair.main.tables()
    pair.main.fails(1, "status", "--check")  # main is pending still

    out = pair.main.ok("upgrade").out
    assert out.index("== main ==") < out.index("== audit ==")
    assert "users" in pair.main.tables() and pair.main.applied() == [users]
    # each history is its own: audit's under its own prefix, on its own server
    assert _audit_applied(pair) == [events]
    assert "dbshift_history" not in pair.audit.tables()

    shown = pair.main.ok("status").out
    assert "== main ==" in shown and "== audit ==" in shown and "pending:  0" in shown
    plain = pair.main.ok("status", "--db", "main").out
    assert "==" not in plain and "pending:  0" in plain  # one database: as before
    pair.main.ok("--db", "audit", "status", "--check")  # the group's flag too

    checked = pair.main.ok("check", "--database", "--json").json["databases"]
    assert checked["main"]["ok"] and checked["audit"]["ok"]
    pair.main.ok("check", "--database", "--db", "main")
    as_format = pair.main.ok("check", "--format", "json").json["databases"]
    assert list(as_format) == ["main", "audit"]

    pair.main.ok("downgrade", "--db", "main", "base")
    assert pair.main.applied() == [] and _audit_applied(pair) == [events]


def test_one_failing_leaves_the_other_applied(pair: Pair) -> None:
    pair.main.sql("broken", "CREATE TABLE t (id INTEGER PRIMARY KEY);\nSELECT * FROM missing_x")
    events = pair.audit.sql("events", TABLE.format(name="events"))
    result = pair.main.fails(3, "upgrade")
    assert "error: [main]" in result.err
    assert "== audit ==" in result.out and _audit_applied(pair) == [events]
    assert pair.main.applied() == []

    status = pair.main.cli("status", "--json")
    documents = status.json["databases"]
    assert documents["audit"]["pending"] == [] and documents["main"]["pending"]


def test_commands_of_one_database_need_the_flag(pair: Pair) -> None:
    result = pair.main.fails(2, "new", "-m", "x")
    assert len(result.err.splitlines()) == 1
    assert "2 are configured (main, audit)" in result.err and "--db main" in result.err
    pair.main.fails(2, "make", "-m", "x")
    written = pair.main.ok("new", "--db", "audit", "-m", "x").out
    assert str(pair.audit.migrations) in written
    result = pair.main.fails(2, "--url", "sqlite:///x.db", "upgrade")
    assert "--url applies to one database" in result.err


def test_an_unknown_database_is_named_with_the_configured_ones(pair: Pair) -> None:
    for args in (("status", "--db", "mian"), ("--db", "mian", "new", "-m", "x")):
        result = pair.main.fails(2, *args)
        assert len(result.err.splitlines()) == 1
        assert "unknown database 'mian'" in result.err and "main, audit" in result.err


# -- configuration alone (no database) ----------------------------------------------------


def _toml(folder: Path, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "dbshift.toml").write_text(text)
    return folder / "dbshift.toml"


def test_settings_inherit_and_folders_default_per_database(tmp_path: Path) -> None:
    path = _toml(
        tmp_path,
        'migrations = "db"\ntable_prefix = "x_"\n'
        '[databases.a]\nurl = "sqlite:///a.db"\n'
        '[databases.b]\nurl = "sqlite:///b.db"\nmigrations = "other"\nschema = "s"\n'
        '[environments.prod]\ntable_prefix = "p_"\n'
        '[environments.prod.databases.b]\nurl = "sqlite:///prod_b.db"\n',
    )
    assert Config.database_names(path) == ["a", "b"]
    a, b = Config.load_all(path)
    assert (a.database, a.migrations, a.table_prefix) == ("a", tmp_path / "db" / "a", "x_")
    assert (b.migrations, b.schema, b.url) == (tmp_path / "other", "s", "sqlite:///b.db")
    prod = Config.load(path, env="prod", database="b")
    assert (prod.url, prod.table_prefix) == ("sqlite:///prod_b.db", "p_")
    with pytest.raises(ConfigError, match="several databases are configured"):
        Config.load(path)
    with pytest.raises(ConfigError, match="unknown database 'c'") as raised:
        Config.load(path, database="c")
    assert raised.value.hint is not None and "a, b" in raised.value.hint


def test_one_database_is_selected_alone_and_bad_tables_are_refused(tmp_path: Path) -> None:
    only = _toml(tmp_path / "one", '[databases.a]\nurl = "sqlite:///a.db"\n')
    assert Config.load(only).database == "a"
    single = _toml(tmp_path / "none", 'url = "sqlite:///x.db"\n')
    assert Config.load(single).database is None and Config.load_all(single)[0].database is None
    shared = _toml(tmp_path / "shared", '[databases.a]\nurl = "sqlite:///x.db"\n[databases.b]\n')
    with pytest.raises(ConfigError, match="share one history") as raised:
        Config.load_all(shared, url="sqlite:///x.db")
    assert raised.value.hint is not None and "[databases.b] a table_prefix" in raised.value.hint
    for text, match in (
        ('[databases.a]\nurll = "x"\n', "unknown key 'urll'"),
        ("[databases.a]\nurl = 3\n", "`url` must be a string"),
        ('[databases."a b"]\nurl = "x"\n', "invalid database name"),
        ("databases = 3\n", "must be a table"),
        ('[databases.a]\n[environments.e.databases.z]\nurl = "x"\n', "names no database"),
    ):
        path = _toml(tmp_path / "bad", text)
        with pytest.raises(ConfigError, match=match):
            Config.load(path, env="e" if "environments" in text else None)


def test_relative_migrations_from_the_toml_a_root_or_a_module(tmp_path: Path) -> None:
    path = _toml(tmp_path / "app", 'migrations = "db/migrations"\n')
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    cwd = os.getcwd()
    os.chdir(elsewhere)
    try:
        assert Config.load(path).migrations == tmp_path / "app" / "db" / "migrations"
        here = Config(migrations="migrations", root=str(tmp_path / "pkg" / "__init__.py"))
        assert here.migrations == tmp_path / "pkg" / "migrations"  # not a folder: a file
        package = tmp_path / "pkg"
        package.mkdir()
        (package / "__init__.py").write_text("")
        (package / "models.py").write_text("")
        by_file = Config(migrations="migrations", root=str(package / "models.py"))
        assert by_file.migrations == package / "migrations"
        assert Config(migrations="m", root=package).migrations == package / "m"
        sys.path.insert(0, str(tmp_path))
        try:
            assert Config(migrations="pkg:migrations").migrations == package / "migrations"
            assert Config(migrations="pkg.models:db").migrations == package / "db"
            with pytest.raises(ConfigError, match="no module 'nopkg_x'"):
                Config(migrations="nopkg_x:migrations")
        finally:
            sys.path.remove(str(tmp_path))
            sys.modules.pop("pkg", None)
        assert Config(migrations="C:/m").migrations.name == "m"  # a drive, not a module
    finally:
        os.chdir(cwd)


def test_an_application_finds_its_migrations_from_any_folder(tmp_path: Path) -> None:
    app = tmp_path / "app"
    (app / "migrations").mkdir(parents=True)
    (app / "run.py").write_text(
        "import dbshift\n"
        f"config = dbshift.Config(url='sqlite:///{tmp_path / 'app.db'}', "
        "migrations='migrations', root=__file__)\n"
        "print(dbshift.upgrade(config).done[0])\n"
    )
    (app / "migrations" / "20260101T000001_t.sql").write_text(
        "-- t\n-- parents:\n\n-- dbshift:up\nCREATE TABLE t (id INTEGER PRIMARY KEY)\n"
    )
    sumfile.write(app / "migrations", scan(app / "migrations"))
    other = tmp_path / "other"
    other.mkdir()
    done = subprocess.run(
        [sys.executable, str(app / "run.py")], cwd=other, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "20260101T000001_t"
    # the CLI, too, from a subfolder: the toml's folder is the root
    (app / "dbshift.toml").write_text(f'url = "sqlite:///{tmp_path / "app.db"}"\n')
    status = run_process(["status", "--check"], cwd=app / "migrations")
    assert status.returncode == 0, status.stderr
    assert dbshift.Config.load(app / "dbshift.toml").migrations == app / "migrations"


def test_rules_are_listed_once(pair: Pair) -> None:
    out = pair.main.ok("lint", "--rules").out
    assert "==" not in out and out.count("DS601") == 1


@pytest.mark.backends("sqlite", "postgresql")
def test_the_async_api_over_every_database(
    backend: str, scratch: ScratchDatabases, tmp_path: Path
) -> None:
    """`Config.load_all` and `dbshift.aio`, one database on the backend's async driver and
    one on SQLite's (aiosqlite)."""
    urls = [with_driver(scratch.create(), "async"), f"sqlite+aiosqlite:///{tmp_path / 'b.db'}"]
    root = tmp_path / "proj"
    text = "".join(f'[databases.d{i}]\nurl = "{url}"\n' for i, url in enumerate(urls))
    path = _toml(root, text)
    for name in ("d0", "d1"):
        folder = root / "migrations" / name
        folder.mkdir(parents=True)
        (folder / f"20260101T000001_{name}.sql").write_text(
            f"-- {name}\n-- parents:\n\n-- dbshift:up\n{TABLE.format(name=name)}\n"
        )
        sumfile.write(folder, scan(folder))

    async def run() -> list[list[str]]:
        done = []
        for config in Config.load_all(path):
            done.append((await dbshift.aio.upgrade(config)).done)
        return done

    assert asyncio.run(run()) == [["20260101T000001_d0"], ["20260101T000001_d1"]]
