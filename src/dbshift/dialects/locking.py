"""Who may write the bookkeeping now: the database's own locks, per backend.

Each backend's lock is in its package (`postgresql/lock.py`, `mysql/lock.py`) and is
given by its `Backend.lock` (`dbshift.dialects.lock_for` names it):

- PostgreSQL: a *transaction* advisory lock (`pg_try_advisory_xact_lock`), taken at the
  start of every transaction in which a runner writes (a migration with its history
  row, stamp, repair, creating the tables). It lives exactly as long as the transaction,
  so it is correct behind PgBouncer in transaction pooling mode, where a session lock
  would be taken on one server connection and released (or leaked) on another. The
  server frees it when the transaction ends for any reason, a killed runner included.
  (Migrations that must run outside a transaction use a lease row instead, see
  `dbshift.lease`.)
- MySQL/MariaDB: `GET_LOCK`, a session lock held for the whole run. Every migration runs
  in autocommit mode there (DDL commits implicitly), so no transaction could carry the
  lock; the server frees it when the connection drops. PgBouncer is PostgreSQL-only, and
  ProxySQL pins a connection that calls `GET_LOCK` to its client.
- SQLite: `BEGIN IMMEDIATE` (see `database.py`) takes the database's write lock at the
  start of each writing transaction.

Locks that are not `exclusive` exclude other runners one transaction at a time, so the
runner re-reads a migration's history row inside its transaction.

Waiting for another runner is logged to `dbshift.lock` (see docs/api.md, "Logging").
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

import sqlalchemy as sa

from dbshift.errors import LockTimeout

#: the name `Runner` logs its lock waits under too (not this module's: one concept)
log = logging.getLogger("dbshift.lock")


class DatabaseLock:
    """The runner lock on one connection; this base serves SQLite, whose write lock
    is taken by `BEGIN IMMEDIATE`."""

    #: True when the lock is a session lock held for the whole run (`acquire` and
    #: `release`); otherwise `guard` is called inside each writing transaction
    exclusive = False

    def __init__(self, name: str) -> None:
        self.name = name

    def acquire(
        self, conn: sa.Connection, timeout: float, name: Callable[[str], str] | None = None
    ) -> None:
        """Take a session lock, waiting up to `timeout`. On timeout, `name(session)` may
        name the runner behind the holder's database session."""
        return None

    def session(self, conn: sa.Connection) -> str | None:
        """This connection's id as the database shows it to others (for `name`)."""
        return None

    def release(self, conn: sa.Connection) -> None:
        return None

    def guard(self, conn: sa.Connection, me: str) -> bool:
        """Inside a transaction: take the lock until the transaction ends, without
        waiting. False when another runner holds it. `me` names this runner."""
        return True

    def guard_and_read(
        self, conn: sa.Connection, me: str, query: sa.Select[Any], params: dict[str, Any]
    ) -> Mapping[Any, Any] | None:
        """`guard`, then `query`'s one row, read in a statement of its own once the lock
        is taken (so that under READ COMMITTED it sees what the previous holder
        committed); None, and nothing read, when another runner holds the lock. A
        backend whose driver can pipeline sends both in one round trip."""
        if not self.guard(conn, me):
            return None
        return conn.execute(query, params).mappings().one()

    def _wait(
        self,
        conn: sa.Connection,
        timeout: float,
        attempt: Callable[[], bool],
        name: Callable[[str], str] | None = None,
    ) -> None:
        """Poll `attempt` with a growing pause until it succeeds or `timeout` passes."""
        started = time.monotonic()
        deadline = started + timeout
        pause = 0.02
        waiting = False
        while True:
            got = attempt()
            if conn.in_transaction():
                conn.commit()  # never hold a snapshot open while waiting
            if got:
                if waiting:
                    log.info("took the migration lock after %.1f s", time.monotonic() - started)
                return
            if time.monotonic() >= deadline:
                gave_up = LockTimeout(
                    f"the migration lock is held by another runner{self.holder(conn, name)}; "
                    f"gave up after {timeout:g} s",
                    hint="wait for the other run to finish, or raise --runner-lock-timeout",
                )
                log.error("%s", gave_up.message)
                raise gave_up
            if not waiting and log.isEnabledFor(logging.INFO):  # holder() is a query
                log.info(
                    "waiting up to %g s for the migration lock, held by another runner%s",
                    timeout,
                    self.holder(conn, name),
                )
            waiting = True
            time.sleep(min(pause, max(0.0, deadline - time.monotonic())))
            pause = min(pause * 2, 0.5)

    def holder(self, conn: sa.Connection, name: Callable[[str], str] | None = None) -> str:
        """` (pid …, host …, since …)` of the lock holder where the database tells;
        called outside any transaction."""
        return ""
