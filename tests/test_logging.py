"""What the API writes to `logging`: an application that migrates at start-up sees which
migrations ran, what waited, what was retried and what failed, under `dbshift.*`, with
no password in any record. The CLI keeps its own output: it attaches no handler (only
`--debug` routes the records to stderr).

Every run goes through `dbshift` (sync) and `dbshift.aio`: with the backend's async
driver where dbshift supports one (aiosqlite, asyncpg), else (MariaDB) a sync URL in a
worker thread, which is how `dbshift.aio` runs it there.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

import dbshift
import dbshift.aio
from dbshift.config import mask_url
from dbshift.dialects import lock_for
from dbshift.dialects.mysql.lock import MySQLLock
from dbshift.dialects.postgresql.lock import PostgresLock
from dbshift.errors import Interrupted
from tests.conftest import ASYNC_DRIVERS, with_driver
from tests.helpers import Project, connected, run_process
from tests.test_security import SECRET, secret_url

__all__ = ["secret_url"]  # the fixture: a URL whose password is SECRET

SERVERS = pytest.mark.backends("postgresql", "mysql")
#: the logger names docs/api.md documents
NAMES = {"dbshift.runner", "dbshift.lock", "dbshift.api"}


@pytest.fixture(params=("sync", "aio"))
def api(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


@pytest.fixture
def logged(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG, logger="dbshift")
    return caplog


@pytest.fixture
def project(tmp_path: Path, secret_url: str, capsys: pytest.CaptureFixture[str]) -> Project:
    return Project(tmp_path / "proj", secret_url, capsys)


def config_of(project: Project, api: str, **settings: Any) -> dbshift.Config:
    url = project.url
    if api == "aio" and sa.make_url(url).get_backend_name() in ASYNC_DRIVERS:
        url = with_driver(url, "async")
    return dbshift.Config(url=url, migrations=str(project.migrations), **settings)


def call(api: str, name: str, config: dbshift.Config, *args: Any, **kwargs: Any) -> Any:
    """`dbshift.NAME(config, ...)`, or `await dbshift.aio.NAME(config, ...)`."""
    if api == "sync":
        return getattr(dbshift, name)(config, *args, **kwargs)
    return asyncio.run(getattr(dbshift.aio, name)(config, *args, **kwargs))


def records(caplog: pytest.LogCaptureFixture) -> list[tuple[str, str, str]]:
    """(logger, level, message) of every dbshift record, checked: documented names
    only, and no password anywhere."""
    found = [
        (r.name, r.levelname, r.getMessage())
        for r in caplog.records
        if r.name.split(".")[0] == "dbshift"
    ]
    for name, _level, message in found:
        assert name in NAMES, name
        assert SECRET not in message, message
    return found


def messages(caplog: pytest.LogCaptureFixture, name: str, level: str) -> list[str]:
    return [m for n, lv, m in records(caplog) if n == name and lv == level]


def test_upgrade_downgrade_stamp_and_repair_are_logged(
    project: Project, backend: str, api: str, logged: pytest.LogCaptureFixture
) -> None:
    a = project.python("a", 'op.create_table("a", sa.Column("id", sa.Integer))')
    b = project.python("b", 'op.create_table("b", sa.Column("id", sa.Integer))')
    config = config_of(project, api)
    dialect = connected(project.url, lambda conn: conn.dialect.name)

    call(api, "upgrade", config)
    info = messages(logged, "dbshift.runner", "INFO")
    assert info[0] == (
        f"upgrade on {dialect} ({mask_url(config.url)}): 2 migration(s) to apply, "
        f"from base to {b} (target head)"
    )
    assert info[1] == f"applying {a} (1 of 2)"
    assert info[2].startswith(f"applied {a} in ") and info[2].endswith(" ms (1 statement(s))")
    assert info[3] == f"applying {b} (2 of 2)"
    assert info[4].startswith(f"applied {b} in ")
    if backend != "sqlite":
        assert "***" in info[0]

    logged.clear()
    call(api, "downgrade", config, "-1")
    info = messages(logged, "dbshift.runner", "INFO")
    assert info[0].endswith(f"1 migration(s) to revert, from {b} to {a} (target -1)")
    assert info[0].startswith(f"downgrade on {dialect} (")
    assert info[1] == f"reverting {b} (1 of 1)"
    assert info[2].startswith(f"reverted {b} in ")

    logged.clear()
    call(api, "stamp", config, "head")
    info = messages(logged, "dbshift.runner", "INFO")
    assert info[0].endswith(f"1 migration(s) to record, from {a} to {b} (target head)")
    assert info[1] == f"stamped {b} as applied"

    logged.clear()
    call(api, "repair", config, rolled_back=(b,))
    assert messages(logged, "dbshift.api", "INFO") == [f"repair: {b} marked rolled back"]

    logged.clear()
    call(api, "upgrade", config, dry_run=True)
    (plan,) = messages(logged, "dbshift.runner", "INFO")
    assert plan.startswith(f"upgrade (dry run) on {dialect} (")
    assert plan.endswith(f"1 migration(s) to apply, from {a} to {b} (target head)")
    assert not [r for r in records(logged) if r[1] in ("WARNING", "ERROR")]


def test_nothing_to_do_is_one_line_naming_the_revision(
    project: Project, backend: str, logged: pytest.LogCaptureFixture
) -> None:
    a = project.python("a", 'op.create_table("a", sa.Column("id", sa.Integer))')
    config = config_of(project, "sync")
    dbshift.upgrade(config)
    logged.clear()
    dbshift.upgrade(config)
    (plan,) = records(logged)
    assert plan[:2] == ("dbshift.runner", "INFO")
    assert plan[2].endswith(f": 0 migration(s) to apply, from {a} to {a} (target head)")


@pytest.mark.parametrize("transactional", [True, False], ids=["transactional", "statements"])
def test_a_failing_migration_is_an_error_naming_it_and_the_state_left(
    project: Project,
    backend: str,
    api: str,
    transactional: bool,
    logged: pytest.LogCaptureFixture,
) -> None:
    bad = project.sql(
        "bad",
        "CREATE TABLE made (id INTEGER);\nINSERT INTO missing VALUES (1);",
        header="" if transactional else "-- transactional: false",
    )
    config = config_of(project, api)
    with pytest.raises(dbshift.MigrationError):
        call(api, "upgrade", config)
    (error,) = messages(logged, "dbshift.runner", "ERROR")
    assert error.startswith(f"upgrade of {bad} failed: {bad}.sql:")
    assert "INSERT INTO missing VALUES (1)" in error
    if transactional and backend != "mysql":  # MariaDB commits DDL: statement by statement
        assert error.endswith("; state: rolled back")
    else:
        assert error.endswith(
            "; state: partial with 1 statement(s) committed and recorded "
            "(`dbshift upgrade` resumes it)"
        )
    assert messages(logged, "dbshift.runner", "INFO")[-1] == f"applying {bad} (1 of 1)"


def test_a_migration_stopped_by_a_signal_is_an_error_naming_it_and_the_state(
    project: Project, backend: str, logged: pytest.LogCaptureFixture
) -> None:
    stop = project.python("stop", "def stop(conn):\n    raise KeyboardInterrupt\n\nop.run(stop)")
    with pytest.raises(Interrupted):
        dbshift.upgrade(config_of(project, "sync"))
    (error,) = messages(logged, "dbshift.runner", "ERROR")
    assert error.startswith(f"{stop}.py interrupted by SIGINT: ")
    assert error.removeprefix(f"{stop}.py interrupted by SIGINT: ") in (
        "rolled back (nothing ran)",
        "partial with 0 statement(s) committed and recorded (`dbshift upgrade` resumes it)",
    )


# -- waiting for locks ------------------------------------------------------------------


@contextlib.contextmanager
def runner_lock_held(url: str) -> Iterator[sa.Connection]:
    """Another runner's lock on a server: PostgreSQL's transaction advisory lock in an
    open transaction, MariaDB's GET_LOCK; closing the connection releases it."""
    engine = sa.create_engine(url, poolclass=sa.NullPool)
    conn = engine.connect()
    try:
        lock = lock_for(conn, "dbshift_", None)
        if isinstance(lock, PostgresLock):
            keys = {"a": lock.keys[0], "b": lock.keys[1]}
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(:a, :b)"), keys)
        else:
            assert isinstance(lock, MySQLLock)
            conn.execute(sa.text("SELECT GET_LOCK(:name, 0)"), {"name": lock.name})
        yield conn
    finally:
        conn.close()
        engine.dispose()


@contextlib.contextmanager
def sqlite_write_lock(url: str) -> Iterator[None]:
    """Another writer on SQLite: a transaction that took the write lock at BEGIN."""
    path = sa.make_url(url).database
    assert path
    held = sqlite3.connect(path, isolation_level=None)
    try:
        held.execute("BEGIN IMMEDIATE")
        yield
    finally:
        held.close()


def test_giving_up_on_the_runner_lock_is_an_error(
    project: Project, backend: str, api: str, logged: pytest.LogCaptureFixture
) -> None:
    project.python("a", 'op.create_table("a", sa.Column("id", sa.Integer))')
    config = config_of(project, api, runner_lock_timeout=0.5)
    dbshift.status(config_of(project, "sync"))  # the database file exists
    held = sqlite_write_lock if backend == "sqlite" else runner_lock_held
    with held(project.url), pytest.raises(dbshift.LockTimeout):
        call(api, "upgrade", config)
    (error,) = messages(logged, "dbshift.lock", "ERROR")
    if backend == "sqlite":  # the driver waits: who holds the lock is unknown
        assert error == "the database is locked by another writer; gave up after 0.5 s"
        return
    assert error.startswith("the migration lock is held by another runner (")
    assert error.endswith("; gave up after 0.5 s")
    (waiting,) = messages(logged, "dbshift.lock", "INFO")
    assert waiting.startswith(
        "waiting up to 0.5 s for the migration lock, held by another runner ("
    )


@SERVERS
def test_waiting_for_the_runner_lock_says_who_holds_it_and_how_long_it_took(
    project: Project, backend: str, api: str, logged: pytest.LogCaptureFixture
) -> None:
    a = project.python("a", 'op.create_table("a", sa.Column("id", sa.Integer))')
    config = config_of(project, api, runner_lock_timeout=20)
    with runner_lock_held(project.url) as holder:
        session = holder.execute(
            sa.text(
                "SELECT pg_backend_pid()" if backend == "postgresql" else "SELECT CONNECTION_ID()"
            )
        ).scalar()
        release = threading.Timer(1.0, holder.close)
        release.start()
        call(api, "upgrade", config)
        release.join()
    waiting, took = messages(logged, "dbshift.lock", "INFO")
    held_by = f"server pid {session}," if backend == "postgresql" else f"connection {session},"
    assert waiting.startswith("waiting up to 20 s for the migration lock, held by another runner")
    assert held_by in waiting
    assert took.startswith("took the migration lock after ")
    assert f"applied {a}" in " ".join(messages(logged, "dbshift.runner", "INFO"))


@pytest.mark.slow
@pytest.mark.backends("postgresql", "sqlite")
def test_waiting_for_a_lease_names_its_holder_then_its_takeover(
    project: Project, backend: str, api: str, logged: pytest.LogCaptureFixture
) -> None:
    """A migration outside a transaction waits for another runner's live lease (on
    SQLite too), and takes it over once it expired."""
    project.python("first", 'op.create_table("first", sa.Column("id", sa.Integer))')
    dbshift.upgrade(config_of(project, "sync"))
    index = project.python(
        "index", 'op.create_index("ix_first", "first", ["id"])', header="transactional = False\n"
    )
    clock = {
        "postgresql": "extract(epoch from clock_timestamp())",
        "sqlite": "(julianday('now') - 2440587.5) * 86400.0",
    }[backend]
    engine = project.engine()
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO dbshift_lock (name, token, holder, pid, process, migration_id, "
                f"since, renewed, ttl) VALUES ('migrations', 'elsewhere', 'ops@pod-7', 42, "
                f"'another-machine', :index, {clock}, {clock}, 1)"
            ),
            {"index": index},
        )
    engine.dispose()
    logged.clear()
    call(api, "upgrade", config_of(project, api, runner_lock_timeout=10))
    waiting, taken_over, took = messages(logged, "dbshift.lock", "INFO")
    assert waiting.startswith(
        "waiting up to 10 s for the migration lock, held by another runner "
        f"(lease of ops@pod-7 pid 42, applying {index}, since "
    )
    assert took.startswith("took the migration lock after ")
    assert taken_over.startswith("took over a stale lease (lease of ops@pod-7 pid 42")


@SERVERS
def test_a_retry_is_a_warning_with_the_attempt_and_the_reason(
    project: Project, backend: str, api: str, logged: pytest.LogCaptureFixture
) -> None:
    project.python("t", 'op.create_table("t", sa.Column("id", sa.Integer, primary_key=True))')
    dbshift.upgrade(config_of(project, "sync"))
    alter = project.python("alter", 'op.add_column("t", sa.Column("x", sa.Integer))')
    config = config_of(project, api, table_lock_timeout=0.3, lock_retry_delay=0.1)
    logged.clear()
    engine = sa.create_engine(project.url, poolclass=sa.NullPool)
    with engine.connect() as reader:  # its open transaction holds a lock the ALTER needs
        reader.execute(sa.text("SELECT * FROM t"))
        release = threading.Timer(2.5, reader.rollback)  # MariaDB waits whole seconds
        release.start()
        call(api, "upgrade", config)
        release.join()
    engine.dispose()
    warnings = messages(logged, "dbshift.runner", "WARNING")
    assert warnings, "the migration was not retried"
    assert warnings[0].startswith(f"retrying {alter} (lock timeout, attempt 2 of 6, in ")
    assert f"; {alter}.py" in warnings[0]  # the error that made it retry
    assert messages(logged, "dbshift.runner", "INFO")[-1].startswith(f"applied {alter} in ")
    assert not messages(logged, "dbshift.runner", "ERROR")


# -- outcomes of commands without a run, and the library's manners -------------------


@pytest.mark.backends("sqlite")
def test_check_logs_each_item_a_failed_one_as_a_warning(
    project: Project, backend: str, logged: pytest.LogCaptureFixture
) -> None:
    a = project.python("a", "pass")
    project.python("b", "pass", parents=[a])
    project.python("c", "pass", parents=[a])
    report = dbshift.check(config_of(project, "sync"))
    assert not report.ok
    assert messages(logged, "dbshift.api", "WARNING") == [
        "check heads failed: 2 heads: run `dbshift merge`"
    ]
    info = messages(logged, "dbshift.api", "INFO")
    assert "check models skipped: no models configured" in info
    assert any(m.startswith("check integrity ok: ") for m in info)


@pytest.mark.backends("sqlite")
def test_make_logs_the_file_it_wrote_or_that_nothing_changed(
    project: Project,
    backend: str,
    logged: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    module = f"logmodels_{uuid.uuid4().hex[:8]}"
    (project.root / f"{module}.py").write_text(
        "import sqlalchemy as sa\nmetadata = sa.MetaData()\n"
        "sa.Table('m', metadata, sa.Column('id', sa.Integer, primary_key=True))\n"
    )
    monkeypatch.syspath_prepend(str(project.root))
    config = config_of(project, "sync", models=[f"{module}:metadata"])
    path = dbshift.make(config, "add m")
    assert messages(logged, "dbshift.api", "INFO") == [f"make: wrote {path} (1 operation(s))"]
    logged.clear()
    assert dbshift.make(config, "again") is None
    assert messages(logged, "dbshift.api", "INFO") == [
        "make: 0 change(s) between the models and the migrations"
    ]


def test_the_library_adds_a_null_handler_and_configures_nothing(tmp_path: Path) -> None:
    code = (
        "import logging, dbshift\n"
        "root, lib = logging.getLogger(), logging.getLogger('dbshift')\n"
        "print(root.handlers, root.level, [type(h).__name__ for h in lib.handlers], lib.level)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=tmp_path
    )
    assert done.stdout.strip() == "[] 30 ['NullHandler'] 0"


# -- the CLI --------------------------------------------------------------------------------


def test_the_cli_prints_each_line_once_and_no_log_records(project: Project, backend: str) -> None:
    """In real processes, where no handler is configured: without the NullHandler,
    Python's last-resort handler would print the ERROR record next to the CLI's error."""
    a = project.python("a", 'op.create_table("a", sa.Column("id", sa.Integer))')
    done = run_process(["upgrade"], project.root)
    assert done.returncode == 0 and done.stderr == ""
    lines = done.stdout.strip().splitlines()
    assert lines[0].startswith(f"applied {a} in ") and len(lines) == len(set(lines)) == 2
    bad = project.sql("bad", "INSERT INTO missing VALUES (1);")
    failed = run_process(["upgrade"], project.root)
    assert failed.returncode == 3 and failed.stdout == ""
    (error,) = failed.stderr.strip().splitlines()
    assert error.startswith(f"error: {bad}.sql:")
    for name in NAMES:
        assert name not in done.stdout + failed.stderr


@pytest.mark.backends("sqlite")
def test_cli_debug_routes_the_log_to_stderr_and_leaves_stdout_alone(
    project: Project, backend: str
) -> None:
    a = project.python("a", 'op.create_table("a", sa.Column("id", sa.Integer))')
    quiet = project.ok("upgrade", "--dry-run")
    loud = project.ok("--debug", "upgrade", "--dry-run")
    assert loud.out == quiet.out and quiet.err == ""
    assert loud.err.startswith("dbshift.runner: upgrade (dry run) on sqlite (sqlite:///")
    assert f"from base to {a} (target head)" in loud.err
    attached = [h.get_name() for h in logging.getLogger("dbshift").handlers]
    assert "dbshift --debug" not in attached  # main() leaves no trace in the process
