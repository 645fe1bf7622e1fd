"""PostgreSQL with psycopg: a migration's runner lock and history re-check go to the
server in one round trip (psycopg's pipeline mode), and give what the two statements
sent one by one give. The server's own protocol trace (libpq's, of the
connection) is the oracle for the round trips. PostgreSQL only: the other backends
have no pipeline, and their path is the one the fallback takes."""

from __future__ import annotations

import dataclasses
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from dbshift.config import Config
from dbshift.database import create_engine
from dbshift.dialects import lock_for
from dbshift.dialects.base import Timeouts
from dbshift.dialects.locking import DatabaseLock
from dbshift.dialects.postgresql.lock import PostgresLock
from dbshift.dialects.postgresql.rules import PostgreSQLRules
from dbshift.history import History
from tests.conftest import ScratchDatabases, require_backend


@pytest.fixture
def pg_url(tmp_path: Path) -> Iterator[str]:
    require_backend("postgresql")
    scratch = ScratchDatabases("postgresql", tmp_path)
    yield scratch.create()
    scratch.drop_all()


@pytest.fixture
def engine(pg_url: str) -> Iterator[sa.Engine]:
    """The engine dbshift makes for the URL (psycopg, nothing prepared)."""
    engine = create_engine(Config(url=pg_url))
    yield engine
    engine.dispose()


def ready(engine: sa.Engine) -> History:
    """The bookkeeping tables, with a history row and a lease to read back."""
    history = History()
    with engine.begin() as conn:
        history.ensure(conn)
        history.write_applied(conn, "m1", "c" * 64, 12, "upgrade", update=False, together=True)
        conn.execute(
            history.lease.insert().values(
                name="migrations",
                token="t",
                holder="h",
                pid=1,
                process="p",
                since=1.5,
                renewed=2.5,
                ttl=30.0,
            )
        )
    return history


def read_both_ways(engine: sa.Engine, history: History, migration_id: str) -> tuple[Any, Any]:
    """The row, the lease and the local settings, pipelined and the base's way."""
    settings, params = PostgreSQLRules().local_timeouts(Timeouts(lock=2.5, statement=0))
    found = []
    for guard_and_read in (PostgresLock.guard_and_read, DatabaseLock.guard_and_read):
        with engine.connect() as conn, conn.begin():
            lock = lock_for(conn, "dbshift_", None)

            def read(query: sa.Select[Any], bound: dict[str, Any]) -> Any:
                mapping = guard_and_read(lock, conn, "me", query, bound)  # noqa: B023
                assert mapping is not None
                return mapping

            row, lease = history.row_with_lease(
                conn, migration_id, "migrations", settings, params, read=read
            )
            timeout = conn.execute(sa.text("SHOW lock_timeout")).scalar()
            name = conn.execute(sa.text("SHOW application_name")).scalar()
            found.append((row, lease and dataclasses.replace(lease, now=0.0), timeout, name))
    return found[0], found[1]


def test_the_pipelined_read_gives_what_the_statements_one_by_one_give(
    engine: sa.Engine,
) -> None:
    history = ready(engine)
    for migration_id in ("m1", "absent"):
        pipelined, one_by_one = read_both_ways(engine, history, migration_id)
        assert pipelined == one_by_one
        assert [type(v) for v in pipelined[0] or ()] == [type(v) for v in one_by_one[0] or ()]
    assert pipelined[2] == "2500ms" and pipelined[3] == "me"


def round_trips(trace: str) -> int:
    """The times the client waited for the server, from libpq's trace of the
    connection: each Sync (extended protocol) and each Query (simple protocol) the
    client sends is answered by a ReadyForQuery it waits for; the messages of a
    pipeline before its Sync are not waited on one by one."""
    sent = [line.split("\t") for line in trace.splitlines() if "\tF\t" in line]
    return sum(1 for fields in sent if fields[3].split()[0] in ("Sync", "Query"))


def traced(engine: sa.Engine, run: Any) -> int:
    with engine.connect() as conn:
        driver = conn.connection.driver_connection
        assert driver is not None
        with tempfile.TemporaryFile("w+") as out:
            driver.pgconn.trace(out.fileno())
            try:
                with conn.begin():
                    run(conn)
            finally:
                driver.pgconn.untrace()
            out.seek(0)
            text = out.read()
    return round_trips(text)


def test_begin_lock_and_read_are_one_round_trip(engine: sa.Engine) -> None:
    history = ready(engine)

    def guarded(guard_and_read: Any) -> Any:
        def run(conn: sa.Connection) -> None:
            lock = lock_for(conn, "dbshift_", None)
            query = history._row_with_lease(())
            bound = {"migration_id": "m1", "lease_name": "migrations"}
            assert guard_and_read(lock, conn, "me", query, bound) is not None

        return run

    # psycopg waits for BEGIN's answer before it sends more (it syncs after it, even
    # in a pipeline); then the lock and the read together; the COMMIT is one more
    assert traced(engine, guarded(PostgresLock.guard_and_read)) == 1 + 1 + 1
    assert traced(engine, guarded(DatabaseLock.guard_and_read)) == 1 + 2 + 1


def test_a_held_lock_reads_nothing_and_the_transaction_is_open(engine: sa.Engine) -> None:
    history = ready(engine)
    with engine.connect() as holder, holder.begin():
        assert lock_for(holder, "dbshift_", None).guard(holder, "other")
        with engine.connect() as conn, conn.begin():
            lock = lock_for(conn, "dbshift_", None)
            query = history._row_with_lease(())
            bound = {"migration_id": "m1", "lease_name": "migrations"}
            assert lock.guard_and_read(conn, "me", query, bound) is None
            assert conn.execute(sa.text("SELECT 1")).scalar() == 1


def test_a_failing_read_is_sqlalchemys_error_and_nothing_is_left_open(
    engine: sa.Engine,
) -> None:
    history = ready(engine)
    missing = History(prefix="nothere_")  # its tables were never created
    query = missing._row_with_lease(())
    with engine.connect() as conn:
        with pytest.raises(sa.exc.ProgrammingError, match="nothere_history"), conn.begin():
            lock_for(conn, "dbshift_", None).guard_and_read(
                conn, "me", query, {"migration_id": "m1", "lease_name": "migrations"}
            )
        # the connection goes on: the next transaction pipelines again
        with conn.begin():
            row, _ = history.row_with_lease(conn, "m1", "migrations")
        assert row is not None and row.id == "m1"


def test_inside_an_open_transaction_it_is_the_statements_one_by_one(engine: sa.Engine) -> None:
    """The pipeline begins the transaction; in one begun already (earlier statements of
    it) nothing it did could be undone on a failure, so the base's way is taken."""
    history = ready(engine)

    def run(conn: sa.Connection) -> None:
        conn.execute(sa.text("SELECT 1"))
        lock = lock_for(conn, "dbshift_", None)
        query = history._row_with_lease(())
        bound = {"migration_id": "m1", "lease_name": "migrations"}
        assert lock.guard_and_read(conn, "me", query, bound) is not None

    assert traced(engine, run) == 2 + 2 + 1  # BEGIN, SELECT 1; lock; read; COMMIT
