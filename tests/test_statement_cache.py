"""The compiled-statement cache: a migration applied once is sent again, to another
database, from the statements it compiled to, without importing its file.

Each test upgrades one database from a migrations folder, then a second, fresh one from
the same folder, and looks at what the second run loaded (`loader.load`, the one place
that reads migration code, is watched), at the schema it built (introspected) and at
the history it wrote.
"""

from __future__ import annotations

import marshal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from dbshift.dialects import backend_for
from dbshift.migrations import loader
from dbshift.migrations.scripts import Script, scan
from dbshift.runner.cache import StatementCache, cache_key
from dbshift.schema.introspect import introspect
from tests.conftest import ScratchDatabases, with_driver
from tests.helpers import Project

TABLES = """
op.create_table(
    "account",
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(40), nullable=False, server_default="50% 'off'"),
    sa.Column("note", sa.Text, comment="100% free: :not_a_param"),
    sa.UniqueConstraint("name", name="uq_account_name"),
)
op.create_index("ix_account_note", "account", ["name", "id"])
"""
MORE = """
op.create_table(
    "payment",
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("account_id", sa.Integer, sa.ForeignKey("account.id"), nullable=False),
    sa.Column("amount", sa.Numeric(10, 2)),
)
op.add_column("account", sa.Column("email", sa.String(80)))
op.rename_column("account", "email", "mail")
"""
RAW = "CREATE TABLE raw_t (id INTEGER PRIMARY KEY, label VARCHAR(20) DEFAULT '5%');\n"
RAW += "CREATE INDEX ix_raw_label ON raw_t (label);\n"


class Loads:
    """Counts the migrations `loader.load` reads, by id."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.ids: list[str] = []
        real = loader.load

        def load(script: Script, *args: Any, **kwargs: Any) -> loader.MigrationCode:
            self.ids.append(script.id)
            return real(script, *args, **kwargs)

        monkeypatch.setattr(loader, "load", load)

    def take(self) -> list[str]:
        taken, self.ids = self.ids, []
        return taken


@pytest.fixture
def loads(monkeypatch: pytest.MonkeyPatch) -> Loads:
    return Loads(monkeypatch)


def _cache_files(project: Project) -> list[Path]:
    return sorted((project.migrations / "__pycache__").glob("dbshift-statements-*.marshal"))


def _kept(project: Project) -> dict[str, str]:
    """What the cache files hold: migration id -> checksum."""
    found: dict[str, str] = {}
    for path in _cache_files(project):
        _, _, entries = marshal.loads(path.read_bytes())
        found.update({i: entry[0] for i, entry in entries.items()})
    return found


def _schema(url: str) -> str:
    """The database's schema as introspection reads it, bookkeeping left out (as text:
    SQLAlchemy types compare by identity)."""
    engine = sa.create_engine(url, poolclass=sa.NullPool)
    try:
        with engine.connect() as conn:
            return repr(introspect(conn, exclude=lambda name: name.startswith("dbshift_")))
    finally:
        engine.dispose()


def _history(project: Project, url: str) -> list[tuple[Any, ...]]:
    engine = sa.create_engine(url, poolclass=sa.NullPool)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                sa.text("SELECT id, checksum, state, progress FROM dbshift_history ORDER BY id")
            )
            log = conn.execute(
                sa.text(
                    "SELECT migration_id, event, checksum, detail FROM dbshift_log ORDER BY seq"
                )
            )
            return [tuple(r) for r in rows] + [tuple(r) for r in log]
    finally:
        engine.dispose()


def _tables(url: str) -> set[str]:
    engine = sa.create_engine(url, poolclass=sa.NullPool)
    try:
        return set(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()


def _log(url: str, migration: str) -> list[tuple[Any, ...]]:
    engine = sa.create_engine(url, poolclass=sa.NullPool)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                sa.text(
                    "SELECT event, detail FROM dbshift_log WHERE migration_id = :m ORDER BY seq"
                ),
                {"m": migration},
            )
            return [tuple(r) for r in rows]
    finally:
        engine.dispose()


def _script(project: Project, migration: str) -> Script:
    return next(s for s in scan(project.migrations) if s.id == migration)


def _upgrade(project: Project, url: str, *args: str) -> Any:
    return project.ok("--url", url, "upgrade", "--json", *args).json


def test_second_upgrade_sends_the_kept_statements(
    project: Project, scratch: ScratchDatabases, loads: Loads, driver: str
) -> None:
    """Into a fresh database, migrations applied once before load nothing, and build the
    same schema with the same history and log as the first run (through the async
    driver too, which has a cache of its own)."""
    ids = [
        project.python("tables", TABLES),
        project.python("more", MORE),
        project.sql("raw", RAW, down="DROP TABLE raw_t;"),
    ]
    first = _upgrade(project, with_driver(project.url, driver))
    assert sorted(loads.take()) == sorted(ids)
    assert set(_kept(project)) == set(ids)

    second_url = scratch.create()
    second = _upgrade(project, with_driver(second_url, driver))
    assert loads.take() == []
    assert _schema(second_url) == _schema(project.url)
    assert _history(project, second_url) == _history(project, project.url)
    statements = [(r["id"], r["status"], r["statements"]) for r in second["results"]]
    assert statements == [(r["id"], r["status"], r["statements"]) for r in first["results"]]

    # going down loads the files: nothing is kept for downgrades
    project.ok("--url", with_driver(second_url, driver), "downgrade", "base")
    assert sorted(loads.take()) == sorted(ids)
    assert not {"account", "payment", "raw_t"} & _tables(second_url)


def test_what_is_not_static_is_never_kept(
    project: Project, scratch: ScratchDatabases, loads: Loads, backend: str
) -> None:
    """Python code, bound values, rows, and an operation that reads the table it changes
    on this backend (SQLite rebuilds, MySQL restates the column) are loaded every time."""
    base = project.python("base", TABLES)
    code = project.python(
        "code", 'op.run(lambda conn: conn.execute(sa.text("UPDATE account SET note = NULL")))'
    )
    bound = project.python(
        "bound", 'op.execute("UPDATE account SET note = :n WHERE id = 0", params={"n": "x"})'
    )
    rows = project.python(
        "rows",
        'op.bulk_insert(sa.table("account", sa.column("id"), sa.column("name")), '
        '[{"id": 1, "name": "a"}])',
    )
    altered = project.python(
        "altered",
        'op.alter_column("account", "note", type_=sa.String(200), existing_nullable=True)',
    )
    _upgrade(project, project.url)
    # PostgreSQL compiles ALTER COLUMN ... TYPE from the operation alone
    reads_table = backend != "postgresql"
    assert set(_kept(project)) == ({base} if reads_table else {base, altered})
    loads.take()

    second_url = scratch.create()
    _upgrade(project, second_url)
    expected = [code, bound, rows, altered] if reads_table else [code, bound, rows]
    assert loads.take() == expected
    assert _schema(second_url) == _schema(project.url)
    assert project.query("SELECT id, name FROM account") == [(1, "a")]


def test_an_edited_file_is_loaded_again(
    project: Project, scratch: ScratchDatabases, loads: Loads
) -> None:
    first = project.python("tables", TABLES)
    last = project.python("more", MORE)
    _upgrade(project, project.url)
    path = project.migrations / f"{last}.py"
    path.write_text(path.read_text().replace('"amount"', '"total"'))
    project.record_sums()
    loads.take()

    second_url = scratch.create()
    _upgrade(project, second_url)
    assert loads.take() == [last]
    assert "name='total'" in _schema(second_url)
    kept = _kept(project)
    assert set(kept) == {first, last}
    assert kept[last] == _script(project, last).checksum


def test_another_server_version_misses(
    project: Project, scratch: ScratchDatabases, loads: Loads, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The server's version is part of the key: the same files on another version are
    loaded and kept apart."""
    migration = project.python("tables", TABLES)
    _upgrade(project, project.url)
    loads.take()
    dialect_class = type(sa.create_engine(project.url).dialect)
    real = dialect_class._get_server_version_info

    def newer(self: Any, connection: Any) -> tuple[int, ...]:
        return (*real(self, connection), 99)

    monkeypatch.setattr(dialect_class, "_get_server_version_info", newer)
    _upgrade(project, scratch.create())
    assert loads.take() == [migration]
    assert len(_cache_files(project)) == 2


def test_another_schema_or_backend_has_another_key(project: Project, engine: sa.Engine) -> None:
    """The configured schema and the backend are part of the key; so are the versions."""
    migration = project.python("tables", TABLES)
    project.ok("upgrade")
    with engine.connect() as conn:
        own = cache_key(conn, None)
        elsewhere = cache_key(conn, "elsewhere")
    other = sa.create_engine(
        "sqlite://" if engine.dialect.name != "sqlite" else "postgresql+psycopg://"
    ).dialect
    assert backend_for(other).compiled_for(other) not in own
    script = _script(project, migration)
    kept, moved = (
        StatementCache(project.migrations, own),
        StatementCache(project.migrations, elsewhere),
    )
    assert kept.get(script) is not None
    assert moved.get(script) is None and moved.path != kept.path


@pytest.mark.backends("postgresql", "mysql")
def test_another_backend_misses(project: Project, tmp_path: Path, loads: Loads) -> None:
    migration = project.python("tables", TABLES)
    _upgrade(project, f"sqlite:///{tmp_path / 'first.sqlite'}")
    assert loads.take() == [migration]
    _upgrade(project, project.url)
    assert loads.take() == [migration]
    assert len(_cache_files(project)) == 2


def test_a_damaged_or_foreign_cache_file_is_ignored_and_rewritten(
    project: Project, scratch: ScratchDatabases, loads: Loads
) -> None:
    first = project.python("tables", TABLES)
    second = project.python("more", MORE)
    _upgrade(project, project.url)
    (path,) = _cache_files(project)
    good = path.read_bytes()
    version, key, entries = marshal.loads(good)
    broken = (entries[second][0], (("x",),), ())
    damaged_entry = marshal.dumps((version, key, {**entries, second: broken}))
    for content in (
        b"\x00garbage",
        good[: len(good) // 2],
        marshal.dumps((version, "another key", entries)),
        marshal.dumps(["not", "a", "cache"]),
        damaged_entry,
    ):
        path.write_bytes(content)
        loads.take()
        url = scratch.create()
        _upgrade(project, url)
        if content == damaged_entry:
            assert loads.take() == [second]
        else:
            assert loads.take() == [first, second]
        assert _schema(url) == _schema(project.url)
        assert marshal.loads(path.read_bytes()) == (version, key, entries)


def test_a_failed_statement_resumes_from_the_kept_statements(
    project: Project, scratch: ScratchDatabases, loads: Loads, backend: str
) -> None:
    """Statement by statement (MariaDB always; elsewhere `transactional = False`), a
    migration sent from kept statements records each one, stops at the one that fails
    and resumes after the ones that ran."""
    header = "transactional = False" if backend != "mysql" else ""
    four = project.python(
        "four",
        "\n".join(
            f'op.create_table("r{n}", sa.Column("id", sa.Integer, primary_key=True))'
            for n in range(1, 5)
        ),
        header=header,
    )
    _upgrade(project, project.url)
    loads.take()

    url = scratch.create()
    engine = sa.create_engine(url, poolclass=sa.NullPool)
    try:
        with engine.begin() as conn:  # in the way of statement 3
            conn.exec_driver_sql("CREATE TABLE r3 (other INTEGER)")
        failed = project.fails(3, "--url", url, "upgrade")
        assert "CREATE TABLE r3" in failed.err
        assert loads.take() == []
        status = project.fails(1, "--url", url, "status", "--check", "--json").json
        (partial,) = status["partial"]
        assert partial["id"] == four and partial["statements_done"] == 2
        with engine.begin() as conn:
            conn.exec_driver_sql("DROP TABLE r3")
        done = _upgrade(project, url)
        assert loads.take() == []
        assert done["results"][0]["statements"] == 2
    finally:
        engine.dispose()
    assert _log(url, four) == [
        ("failed", "statement 3 failed; 2 statement(s) completed"),
        ("upgrade", "resumed after statement 2"),
    ]
    assert _schema(url) == _schema(project.url)


SLOW = "CREATE TABLE k2 AS SELECT SLEEP(1) AS slept"
RUNNING = (
    "SELECT COUNT(*) FROM information_schema.processlist "
    "WHERE db = DATABASE() AND info LIKE 'CREATE TABLE k2%%'"
)


@pytest.mark.slow
@pytest.mark.backends("mysql")
def test_killed_run_from_kept_statements_resumes(
    project: Project, scratch: ScratchDatabases, loads: Loads
) -> None:
    """A runner sending kept statements, killed while MariaDB runs one (which the server
    finishes): the next run resumes after it, from the kept statements, and settles it.
    Neither imports the file (it leaves a mark when imported)."""
    marks = project.root / "imported"
    migration = project.python(
        "slow",
        'op.create_table("k1", sa.Column("id", sa.Integer, primary_key=True))\n'
        f'op.execute("{SLOW}")\n'
        'op.create_table("k3", sa.Column("id", sa.Integer, primary_key=True))',
        header=f"open({str(marks)!r}, 'a').write('x')",
    )
    _upgrade(project, project.url)
    assert marks.read_text() == "x"
    loads.take()

    url = scratch.create()
    runner = subprocess.Popen(
        [sys.executable, "-m", "dbshift", "--url", url, "upgrade"],
        cwd=project.root,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    engine = sa.create_engine(url, poolclass=sa.NullPool)
    try:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            deadline = time.monotonic() + 30
            while not conn.exec_driver_sql(RUNNING).scalar():
                assert time.monotonic() < deadline and runner.poll() is None
                time.sleep(0.01)
        runner.kill()
        runner.communicate()
        with engine.connect() as conn:  # the server finishes the statement
            deadline = time.monotonic() + 30
            while conn.exec_driver_sql(RUNNING).scalar():
                assert time.monotonic() < deadline
                time.sleep(0.05)
    finally:
        engine.dispose()
    status = project.ok("--url", url, "status", "--json").json
    (partial,) = status["partial"]
    assert partial["id"] == migration and partial["interrupted"] is True
    assert partial["statements_done"] == 1

    done = _upgrade(project, url)
    assert done["results"][0]["statements"] == 1
    assert loads.take() == [] and marks.read_text() == "x"
    settled = "resumed after statement 1; statement 2 had completed in the interrupted run"
    assert _log(url, migration) == [("upgrade", settled)]
    assert _schema(url) == _schema(project.url)


def test_the_cache_follows_the_folder(project: Project, loads: Loads) -> None:
    """Entries of files that are gone are dropped when the cache is written again."""
    first = project.python("tables", TABLES)
    _upgrade(project, project.url)
    assert set(_kept(project)) == {first}
    project.ok("downgrade", "base")
    (project.migrations / f"{first}.py").unlink()
    project.record_sums()
    second = project.python("again", TABLES, parents=[])
    _upgrade(project, project.url)
    assert set(_kept(project)) == {second}


def test_statement_cache_false_loads_every_file(
    project: Project, scratch: ScratchDatabases, loads: Loads
) -> None:
    config = project.root / "dbshift.toml"
    config.write_text(config.read_text() + "statement_cache = false\n")
    migration = project.python("tables", TABLES)
    _upgrade(project, project.url)
    _upgrade(project, scratch.create())
    assert loads.take() == [migration, migration]
    assert _cache_files(project) == []
