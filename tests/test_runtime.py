"""Locking, concurrent runners, offline SQL, async URLs and the Python API, on three backends."""

from __future__ import annotations

import asyncio
import inspect
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import sqlalchemy as sa

import dbshift
import dbshift.aio
import dbshift.api
from dbshift.history import who
from dbshift.migrations.sqlsplit import split_sql
from tests.conftest import with_driver
from tests.helpers import Project, run_process


def _tables(project: Project, count: int) -> list[str]:
    return [
        project.python(
            f"t{n}",
            f'op.create_table("t{n}", sa.Column("id", sa.Integer, primary_key=True))\n'
            f'op.create_index("ix_t{n}", "t{n}", ["id"])',
        )
        for n in range(count)
    ]


def _hold_lock(backend: str, url: str) -> tuple[sa.Engine, sa.Connection]:
    """Take the lock the way another runner would, in another connection."""
    engine = sa.create_engine(url, poolclass=sa.NullPool)
    conn = engine.connect()
    if backend == "sqlite":
        conn.connection.driver_connection.isolation_level = None  # type: ignore[union-attr]
        conn.exec_driver_sql("BEGIN IMMEDIATE")
        return engine, conn
    from dbshift.dialects import lock_for

    lock = lock_for(conn, "dbshift_", None)
    if lock.exclusive:  # a session lock (MySQL)
        lock.acquire(conn, 1)
    else:  # a transaction lock (PostgreSQL), held until this transaction ends
        conn.begin()
        assert lock.guard(conn, "dbshift holder@test pid 1")
    return engine, conn


def test_lock_timeout_exits_5_and_names_the_holder(project: Project, backend: str) -> None:
    _tables(project, 1)
    engine, holder = _hold_lock(backend, project.url)
    try:
        result = project.fails(5, "--runner-lock-timeout", "0.5", "upgrade")
    finally:
        holder.close()
        engine.dispose()
    assert "gave up after 0.5 s" in result.err
    if backend == "postgresql":
        assert "dbshift holder@test pid 1, server pid" in result.err
    if backend == "mysql":
        assert "connection" in result.err
    project.ok("upgrade")
    assert len(project.applied()) == 1


def test_the_old_lock_timeout_flag_and_key_still_bound_the_wait(
    project: Project, backend: str
) -> None:
    """`--lock-timeout` and `lock_timeout`, the old names of `--runner-lock-timeout` and
    `runner_lock_timeout`, still work, each with a one-line note naming the new one."""
    _tables(project, 1)
    config = project.root / "dbshift.toml"
    engine, holder = _hold_lock(backend, project.url)
    try:
        flag = project.fails(5, "--lock-timeout", "0.5", "upgrade")
        config.write_text(f'url = "{project.url}"\nlock_timeout = 0.5\n')
        key = project.fails(5, "upgrade")
    finally:
        holder.close()
        engine.dispose()
    note, error = flag.err.strip().splitlines()
    assert note == "note: --lock-timeout is deprecated, use --runner-lock-timeout"
    assert error.startswith("error: ") and "gave up after 0.5 s" in error
    note, error = key.err.strip().splitlines()
    assert note == (
        f"note: {config}: `lock_timeout` is deprecated, use `runner_lock_timeout` (the same "
        "setting, renamed)"
    )
    assert error.startswith("error: ") and "gave up after 0.5 s" in error
    assert "--runner-lock-timeout" in error  # the hint names the new flag
    project.ok("upgrade")
    assert len(project.applied()) == 1


@pytest.mark.backends("mysql")
def test_a_waiting_runner_names_the_holder_after_its_first_migration(
    project: Project, backend: str
) -> None:
    """The session lock's holder signs the lease row for the whole run, not only while
    its first migration runs: a runner that gives up later still says who holds it."""
    first = project.sql("first", "CREATE TABLE w1 (id INTEGER PRIMARY KEY);")
    project.sql("slow", "DO SLEEP(4);")
    holder = subprocess.Popen(
        [sys.executable, "-m", "dbshift", "upgrade"],
        cwd=project.root,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while first not in project.applied():
            assert holder.poll() is None and time.monotonic() < deadline, holder.stderr
            time.sleep(0.05)
        waiting = project.fails(5, "--runner-lock-timeout", "0.5", "upgrade")
    finally:
        holder.communicate(timeout=60)
    assert holder.returncode == 0
    assert f"dbshift {who()} pid {holder.pid}, since " in waiting.err, waiting.err


def test_concurrent_runners_apply_each_migration_once(project: Project, backend: str) -> None:
    ids = _tables(project, 12)
    config = dbshift.Config(url=project.url, migrations=project.migrations, runner_lock_timeout=60)
    start = threading.Barrier(4)

    def run() -> dbshift.RunReport:
        start.wait()
        return dbshift.upgrade(config)

    with ThreadPoolExecutor(4) as pool:
        reports = list(pool.map(lambda _: run(), range(4)))
    done = [i for r in reports for i in r.done]
    assert sorted(done) == ids  # every migration applied exactly once
    assert project.applied() == ids
    assert sum(len(r.skipped) for r in reports) + len(done) >= len(ids)
    events = project.query("SELECT migration_id FROM dbshift_log WHERE event = 'upgrade'")
    assert sorted(e for (e,) in events) == ids


@pytest.mark.slow
def test_processes_at_once(project: Project) -> None:
    ids = _tables(project, 5)
    with ThreadPoolExecutor(4) as pool:
        procs = list(pool.map(lambda _: run_process(["upgrade"], project.root), range(4)))
    assert [p.returncode for p in procs] == [0] * 4, [p.stderr for p in procs]
    assert project.applied() == ids
    outputs = "".join(p.stdout for p in procs)
    assert outputs.count("applied ") - outputs.count("applied 0") >= 1


def test_offline_sql_builds_the_same_database(
    project: Project, backend: str, scratch: object
) -> None:
    ids = _tables(project, 3)
    project.python(
        "col", 'op.add_column("t0", sa.Column("note", sa.String(20), server_default="x"))'
    )
    project.sql("plain", "CREATE TABLE plain (id INTEGER PRIMARY KEY);", "DROP TABLE plain;")
    script = project.ok("sql").out
    assert "CREATE TABLE" in script and "dbshift_history" in script
    # Apply the script by hand to a second database and compare with an online upgrade.
    other_url = scratch.create()  # type: ignore[attr-defined]
    engine = sa.create_engine(other_url, poolclass=sa.NullPool)
    with engine.connect() as conn:
        if backend == "sqlite":
            conn.connection.driver_connection.isolation_level = None  # type: ignore[union-attr]
        for statement in split_sql(script, engine.dialect.name):
            conn.exec_driver_sql(statement.text)
        conn.commit()
    project.ok("upgrade")
    online, offline = sa.inspect(project.engine()), sa.inspect(engine)
    assert sorted(online.get_table_names()) == sorted(offline.get_table_names())
    for table in online.get_table_names():
        if not table.startswith("dbshift_"):
            assert [c["name"] for c in online.get_columns(table)] == [
                c["name"] for c in offline.get_columns(table)
            ]
    other = Project(project.root.parent / "other", other_url, project.capsys)
    for path in project.migrations.glob("*.*"):
        (other.migrations / path.name).write_bytes(path.read_bytes())
    status = other.ok("status", "--json").json
    assert status["pending"] == [] and len(status["applied"]) == len(ids) + 2
    engine.dispose()


def test_offline_sql_without_any_database(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = Project(tmp_path, "postgresql://app:secret@nowhere.invalid/app", capsys)
    _tables(project, 2)
    down = project.ok("sql", "--down").out
    assert "DROP TABLE t1" in down and down.index("DROP TABLE t1") < down.index("DROP TABLE t0")
    mysql = project.ok("sql", "--dialect", "mysql").out
    assert "CREATE TABLE t0" in mysql and "secret" not in mysql


def test_python_api(project: Project) -> None:
    config = dbshift.Config(url=project.url, migrations=project.migrations)
    path = dbshift.new(config, "create users")
    assert path.exists() and path.parent == project.migrations
    report = dbshift.upgrade(config)
    assert report.done == [path.stem]
    status = dbshift.status(config)
    assert status.pending == () and status.current == (path.stem,)
    assert dbshift.downgrade(config, "-1").done == [path.stem]
    assert dbshift.heads(config) == [path.stem]


def test_async_urls(project: Project, backend: str) -> None:
    url = with_driver(project.url, "async")
    ids = _tables(project, 2)
    config = dbshift.Config(url=url, migrations=project.migrations)
    assert dbshift.upgrade(config).done == ids  # the sync API drives the async engine
    assert project.applied() == ids

    async def app_start_up() -> None:
        assert (await dbshift.aio.status(config)).pending == ()
        assert (await dbshift.aio.downgrade(config, "base")).done == ids[::-1]
        assert (await dbshift.aio.upgrade(config)).done == ids
        assert (await dbshift.aio.verify(config)).problems == ()
        assert (await dbshift.aio.verify(config)).database is not None
        history = await dbshift.aio.history(config)
        assert [e.id for e in history] == ids and all(e.applied_at for e in history)
        assert (await dbshift.aio.stamp(config, ids[0])).done == ids[1:]
        assert (await dbshift.aio.status(config)).pending == tuple(ids[1:])
        assert (await dbshift.aio.stamp(config, "head")).done == ids[1:]

    asyncio.run(app_start_up())
    assert project.applied() == ids
    project.ok("--url", url, "status")


def test_aio_with_a_sync_url(project: Project) -> None:
    ids = _tables(project, 1)
    config = dbshift.Config(url=project.url, migrations=project.migrations)
    assert asyncio.run(dbshift.aio.upgrade(config)).done == ids


def test_aio_verify_reads_the_history_only_when_asked(project: Project) -> None:
    """As `dbshift.verify`: the history is checked when `database_check` and a URL; a
    database that cannot be reached is not touched without them."""
    ids = _tables(project, 1)
    config = dbshift.Config(url=project.url, migrations=project.migrations)
    dbshift.upgrade(config)
    with project.engine().begin() as conn:
        conn.execute(
            sa.text("UPDATE dbshift_history SET checksum = 'x' WHERE id = :id"), {"id": ids[0]}
        )

    async def verify(config: dbshift.Config, **kw: bool) -> dbshift.VerifyReport:
        return await dbshift.aio.verify(config, **kw)

    checked = asyncio.run(verify(config))
    assert checked.database is not None and checked.problems
    assert checked == dbshift.verify(config)
    files_only = asyncio.run(verify(config, database_check=False))
    assert files_only == dbshift.verify(config, database_check=False)
    assert files_only.database is None and files_only.problems == ()
    unreachable = config.replace(url="postgresql+psycopg://nobody@127.0.0.1:9/nowhere")
    assert asyncio.run(verify(unreachable, database_check=False)) == files_only
    assert asyncio.run(verify(config.replace(url=None))) == files_only


# Where a function of `dbshift.aio` takes other arguments than its namesake in
# `dbshift.api`, the difference is named here and in docs/api.md ("Async"); none today.
AIO_DIFFERENCES: dict[str, str] = {}


def test_aio_functions_take_the_api_s_arguments() -> None:
    public = {
        name
        for name, fn in vars(dbshift.aio).items()
        if inspect.iscoroutinefunction(fn) and not name.startswith("_")
    }
    assert public == set(dbshift.aio.__all__)
    differ = {
        name: (inspect.signature(getattr(dbshift.api, name)), inspect.signature(fn))
        for name in sorted(public)
        if inspect.signature(getattr(dbshift.api, name))
        != inspect.signature(fn := getattr(dbshift.aio, name))
    }
    assert set(differ) == set(AIO_DIFFERENCES), differ


@pytest.mark.parametrize("transactional", [True, False])
def test_a_percent_sign_in_ddl_reaches_the_database_as_written(
    project: Project, backend: str, transactional: bool
) -> None:
    """A `%` in a default and in index and column names arrives single: the DDL sent as
    the journal's compiled text (issue 14) escapes it for the driver as SQLAlchemy does,
    and a plain index written without SQLAlchemy is left to it when a name holds one."""
    header = "" if transactional else "transactional = False\n"
    project.python(
        "pct",
        'op.create_table("pct", sa.Column("id", sa.Integer, primary_key=True), '
        'sa.Column("rate%", sa.String(20), server_default="50%"))\n'
        'op.create_index("ix_rate%", "pct", ["rate%"])\n'
        'op.create_index("ix_id", "pct", ["id"])',
        header=header,
    )
    project.ok("upgrade")
    engine = project.engine()
    try:
        inspector = sa.inspect(engine)
        default = next(c["default"] for c in inspector.get_columns("pct") if c["name"] == "rate%")
        indexes = {i["name"]: i["column_names"] for i in inspector.get_indexes("pct")}
    finally:
        engine.dispose()
    assert "50%" in str(default) and "50%%" not in str(default)
    assert indexes["ix_rate%"] == ["rate%"] and indexes["ix_id"] == ["id"]
