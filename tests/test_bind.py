"""`Config(url=engine_or_connection)`: an application's own engine or connection, sync
or async, handed over to dbshift and used as it is (docs/api.md, "Handing over an engine
or a connection")."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import StaticPool

import dbshift
from dbshift import aio, database
from dbshift.errors import ConfigError, UsageError
from tests.conftest import with_driver
from tests.helpers import Project


def _project(tmp_path: Path, url: str, capsys: pytest.CaptureFixture[str]) -> Project:
    project = Project(tmp_path / "proj", url, capsys)
    project.python(
        "users",
        "op.create_table('users', sa.Column('id', sa.Integer, primary_key=True))",
    )
    project.python(
        "items", "op.create_table('items', sa.Column('id', sa.Integer, primary_key=True))"
    )
    return project


def _tables(conn: sa.Connection) -> set[str]:
    return set(sa.inspect(conn).get_table_names())


def test_an_engine_is_used_and_not_disposed(
    tmp_path: Path, db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    project = _project(tmp_path, db_url, capsys)
    engine = sa.create_engine(db_url, pool_size=2)
    disposed: list[object] = []
    sa.event.listen(engine.pool, "close", lambda *_: disposed.append(1))
    checked_out: list[object] = []
    sa.event.listen(engine, "checkout", lambda *_: checked_out.append(1))
    config = dbshift.Config(url=engine, migrations=project.migrations)
    report = dbshift.upgrade(config)
    assert len(report.done) == 2
    assert checked_out, "dbshift took its connection from the engine's pool"
    status = dbshift.status(config)
    assert status.pending == () and len(status.applied) == 2
    dbshift.downgrade(config, "-1")
    # the engine still works and its pooled connections were never closed by dbshift
    with engine.connect() as conn:
        assert {"users"} <= _tables(conn) and "items" not in _tables(conn)
    assert disposed == []
    assert engine.pool.checkedout() == 0
    engine.dispose()


def test_sqlite_in_memory_engine_is_the_applications_database(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = _project(tmp_path, "sqlite://", capsys)
    engine = sa.create_engine(
        "sqlite://", poolclass=StaticPool, connect_args={"check_same_thread": False}
    )
    config = dbshift.Config(url=engine, migrations=project.migrations)
    dbshift.upgrade(config)
    with engine.connect() as conn:
        assert {"users", "items", "dbshift_history"} <= _tables(conn)
        # the app's connection keeps the driver's own transaction handling afterwards
        assert conn.connection.dbapi_connection.isolation_level == ""  # type: ignore[union-attr]
    dbshift.downgrade(config, "base")
    with engine.connect() as conn:
        assert not {"users", "items"} & _tables(conn)


def test_sqlite_ddl_is_transactional_on_a_handed_over_engine(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A failing migration leaves none of its DDL behind on the app's engine either."""
    project = Project(tmp_path / "proj", "sqlite://", capsys)
    project.python(
        "half",
        "op.create_table('a', sa.Column('id', sa.Integer, primary_key=True))\n"
        "op.execute('CREATE TABLE a (id INTEGER)')",
    )
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'app.db'}")
    with pytest.raises(dbshift.DbshiftError):
        dbshift.upgrade(dbshift.Config(url=engine, migrations=project.migrations))
    with engine.connect() as conn:
        assert "a" not in _tables(conn)
    engine.dispose()


def test_a_connection_is_used_as_it_is(
    tmp_path: Path, db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    project = _project(tmp_path, db_url, capsys)
    engine = sa.create_engine(db_url)
    with engine.connect() as conn:
        config = dbshift.Config(url=conn, migrations=project.migrations)
        dbshift.upgrade(config)
        assert not conn.in_transaction(), "handed back outside a transaction"
        assert {"users", "items"} <= _tables(conn)
        conn.rollback()
        assert len(dbshift.status(config).applied) == 2
        assert not conn.closed
    # committed: another connection sees the tables
    with engine.connect() as other:
        assert {"users", "items"} <= _tables(other)
    engine.dispose()


def test_a_connection_inside_a_transaction_is_refused(
    tmp_path: Path, db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    project = _project(tmp_path, db_url, capsys)
    engine = sa.create_engine(db_url)
    with engine.connect() as conn:
        conn.execute(sa.text("SELECT 1"))  # autobegins
        config = dbshift.Config(url=conn, migrations=project.migrations)
        with pytest.raises(UsageError, match="inside a transaction") as raised:
            dbshift.upgrade(config)
        assert "commit or roll back" in (raised.value.hint or "")
        assert conn.in_transaction(), "the caller's transaction is left alone"
        conn.rollback()
        with engine.connect() as other:
            assert "users" not in _tables(other)
    engine.dispose()


def test_async_engine_and_connection(
    tmp_path: Path, db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    project = _project(tmp_path, db_url, capsys)
    url = with_driver(db_url, "async")

    async def main() -> tuple[int, int, set[str]]:
        engine = create_async_engine(url)
        try:
            config = dbshift.Config(url=engine, migrations=project.migrations)
            first = await aio.upgrade(config, project_first_id(project))
            async with engine.connect() as conn:
                config = dbshift.Config(url=conn, migrations=project.migrations)
                second = await aio.upgrade(config)
                assert not conn.in_transaction()
                tables = await conn.run_sync(_tables)
                await conn.rollback()
            return len(first.done), len(second.done), tables
        finally:
            await engine.dispose()

    first, second, tables = asyncio.run(main())
    assert (first, second) == (1, 1)
    assert {"users", "items"} <= tables


def test_an_async_connection_inside_a_transaction_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = _project(tmp_path, "sqlite://", capsys)

    async def main() -> bool:
        engine = create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 'a.db'}")
        try:
            async with engine.connect() as conn:
                await conn.execute(sa.text("SELECT 1"))
                with pytest.raises(UsageError, match="inside a transaction"):
                    await aio.upgrade(dbshift.Config(url=conn, migrations=project.migrations))
                return conn.in_transaction()
        finally:
            await engine.dispose()

    assert asyncio.run(main()), "the caller's transaction is left alone"


def project_first_id(project: Project) -> str:
    return sorted(p.stem for p in project.migrations.glob("*.py"))[0]


def test_the_sync_api_refuses_an_async_engine(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = _project(tmp_path, "sqlite://", capsys)
    engine = create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 'a.db'}")
    with pytest.raises(UsageError, match="async AsyncEngine") as raised:
        dbshift.upgrade(dbshift.Config(url=engine, migrations=project.migrations))
    assert "dbshift.aio" in (raised.value.hint or "")
    asyncio.run(engine.dispose())


def test_a_sync_engine_through_aio(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    project = _project(tmp_path, "sqlite://", capsys)
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'a.db'}")
    report = asyncio.run(aio.upgrade(dbshift.Config(url=engine, migrations=project.migrations)))
    assert len(report.done) == 2
    engine.dispose()
    memory = sa.create_engine("sqlite://")  # SingletonThreadPool: a database per thread
    with memory.connect() as conn:
        config = dbshift.Config(url=conn, migrations=project.migrations)
        assert len(asyncio.run(aio.upgrade(config)).done) == 2
        assert {"users", "items"} <= _tables(conn)


def test_repr_and_messages_mask_the_engines_password(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = _project(tmp_path, "sqlite://", capsys)
    engine = sa.create_engine(
        "postgresql+psycopg://someone:s3cretpass@127.0.0.1:1/nowhere",
        connect_args={"connect_timeout": 2},
    )
    config = dbshift.Config(url=engine, migrations=project.migrations)
    assert "s3cretpass" not in repr(config)
    assert "<Engine postgresql+psycopg://someone:***@127.0.0.1:1/nowhere>" in repr(config)
    with pytest.raises(dbshift.DbshiftError) as raised:
        dbshift.status(config)
    text = f"{raised.value} {raised.value.hint}"
    assert "s3cretpass" not in text and "someone:***@127.0.0.1:1/nowhere" in text


def test_anything_else_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="expected a URL string or a SQLAlchemy Engine"):
        dbshift.Config(url=42)  # type: ignore[arg-type]
    with pytest.raises(ConfigError):
        dbshift.Config(url=sa.make_url("sqlite://"))  # type: ignore[arg-type]


def test_replace_with_a_string_drops_the_engine(tmp_path: Path) -> None:
    engine = sa.create_engine("sqlite://")
    config = dbshift.Config(url=engine, migrations=tmp_path)
    assert config.bind is engine
    other = config.replace(url="sqlite:///x.db")
    assert other.bind is None and other.url_text == "sqlite:///x.db"


def test_a_second_connection_is_not_taken_from_a_handed_over_engine(db_url: str) -> None:
    """The lease's heartbeat and the blocker report run on another thread: they get a
    connection of their own on the same database, not one of the application's."""
    engine = sa.create_engine(db_url)
    checkouts: list[object] = []
    sa.event.listen(engine, "checkout", lambda *_: checkouts.append(1))
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE marker (id INTEGER)"))
    checkouts.clear()
    seen = database.run_aside(dbshift.Config(url=engine), _tables)
    assert "marker" in seen and checkouts == []
    assert database.run(dbshift.Config(url=engine), _tables) == seen and checkouts == [1]
    engine.dispose()
