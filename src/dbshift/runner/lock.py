"""The runner lock: taking it, waiting for it (logged to `dbshift.lock`), and the lease
that a migration running outside a transaction holds (taken over when its runner died).
"""

from __future__ import annotations

import contextlib
import logging
import random
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy import exc

from dbshift import database
from dbshift.config import Config
from dbshift.database import WRITER
from dbshift.dialects import lock_for
from dbshift.errors import LockTimeout
from dbshift.history import History, LeaseRow
from dbshift.lease import Busy, Heartbeat, Lease, describe, signature

T = TypeVar("T")

#: waiting for, taking and giving up on the runner lock (also `dialects/locking.py`)
lock_log = logging.getLogger("dbshift.lock")


class Held:
    """The runner lock for the duration of a `with` block; the tables exist inside.

    Entered on `conn`, with the bookkeeping tables of `history` (pinned to their
    schema: see `Runner.pin_bookkeeping`), it touches nothing but them and `conn`: the
    runner asks it for guarded transactions (`transaction`, `guard`), retries while
    busy (`attempt`), the lease of a step that runs outside a transaction
    (`take_lease`, `free_lease`) and whether the lock is `exclusive`.

    A session lock (MySQL) is held for the whole block. Otherwise every writing
    transaction takes the lock itself (`guard`, through `transaction` or the runner's
    `_recorded`)
    and checks the lease; when another runner has either, the transaction is rolled back
    and tried again after a pause, outside any transaction, until `runner_lock_timeout`."""

    def __init__(
        self,
        conn: sa.Connection,
        config: Config,
        history: History,
        lease_ttl: float | None = None,
    ) -> None:
        self.conn = conn
        self.config = config
        self.history = history
        self.lock = lock_for(conn, config.table_prefix, config.schema)
        self.lease = Lease("migrations", lease_ttl)
        self._heartbeat: Heartbeat | None = None
        self._signed = False  # this runner's name is in the lease row (session locks)

    def __enter__(self) -> Held:
        conn = self.conn
        if conn.in_transaction():
            conn.commit()
        self.lock.acquire(conn, self.config.runner_lock_timeout, self._signed_by)
        conn.execution_options(**{WRITER: True})
        try:
            with self.transaction(check_lease=False):
                self.history.ensure(conn)
            if self.lock.exclusive:
                self._sign()
        except BaseException:
            self._release()
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._release()

    @property
    def exclusive(self) -> bool:
        """A session lock (MySQL): no other runner writes until the block ends."""
        return self.lock.exclusive

    def guard(self, check_lease: bool = True) -> None:
        """Inside a transaction: make it the only writing one, or raise `Busy`."""
        conn = self.conn
        if not self.lock.guard(conn, self.lease.me):
            raise Busy(lambda: self.lock.holder(conn))
        if check_lease:
            self.check_lease(self.history.lease_row(conn, self.lease.name))

    def guarded_read(self, query: sa.Select[Any], params: dict[str, Any]) -> Mapping[Any, Any]:
        """Inside a transaction: `guard` (without the lease check), then `query`'s one
        row, read after the lock is taken; in one round trip where the driver can
        pipeline (`DatabaseLock.guard_and_read`)."""
        conn = self.conn
        found = self.lock.guard_and_read(conn, self.lease.me, query, params)
        if found is None:
            raise Busy(lambda: self.lock.holder(conn))
        return found

    def check_lease(self, row: LeaseRow | None) -> None:
        """Raise `Busy` when another runner's live lease is `row`."""
        if not self.lock.exclusive and self.lease.blocks(row):
            assert row is not None
            raise Busy(lambda: describe(row))

    @contextlib.contextmanager
    def transaction(self, check_lease: bool = True) -> Iterator[sa.RootTransaction]:
        """A transaction in which this runner alone writes (see `guard`)."""
        conn = self.conn

        def begin() -> sa.RootTransaction:
            transaction = conn.begin()
            try:
                self.guard(check_lease)
            except BaseException:
                transaction.rollback()
                raise
            return transaction

        transaction = self.attempt(begin)
        with transaction:
            yield transaction

    def attempt(self, fn: Callable[[], T]) -> T:
        """`fn()`, called again after a growing pause while it raises `Busy`."""
        timeout = self.config.runner_lock_timeout
        deadline = time.monotonic() + timeout
        pause = 0.02
        waiting_since: float | None = None
        while True:
            try:
                with busy_as_lock_timeout(timeout):
                    done = fn()
                if waiting_since is not None:
                    lock_log.info("took the migration lock after %.1f s", _since(waiting_since))
                return done
            except Busy as busy:
                if self.conn.in_transaction():
                    self.conn.rollback()
                # said at the first refusal, even when it is also the last: the attempt
                # itself waited (the server's lock timeout), up to the whole deadline on
                # a slow server, and the log shows who held the lock meanwhile
                if waiting_since is None:
                    waiting_since = time.monotonic()
                    self._log_waiting(busy, timeout)
                if time.monotonic() >= deadline:
                    gave_up = LockTimeout(
                        f"the migration lock is held by another runner{busy.holder()}; "
                        f"gave up after {timeout:g} s",
                        hint="wait for the other run to finish, or raise --runner-lock-timeout",
                    )
                    lock_log.error("%s", gave_up.message)
                    raise gave_up from None
            time.sleep(min(pause * random.uniform(0.5, 1.0), max(0.0, deadline - time.monotonic())))
            pause = min(pause * 2, 0.5)

    def _log_waiting(self, busy: Busy, timeout: float) -> None:
        """INFO, once per wait: who holds the lock (a query on PostgreSQL, so only
        when someone listens; outside any transaction)."""
        if not lock_log.isEnabledFor(logging.INFO):
            return
        try:
            holder = busy.holder()
        except exc.SQLAlchemyError:
            holder = ""
            with contextlib.suppress(exc.SQLAlchemyError):
                self.conn.rollback()
        lock_log.info(
            "waiting up to %g s for the migration lock, held by another runner%s", timeout, holder
        )

    def take_lease(self, migration_id: str) -> None:
        """Inside a guarded transaction: take the lease for a step that runs outside
        one; the heartbeat keeps it alive from the commit on until `free_lease`."""
        conn, history = self.conn, self.history
        before = history.lease_row(conn, self.lease.name)
        if self.lease.blocks(before):  # only after a heartbeat renewed meanwhile
            assert before is not None
            raise Busy(lambda: describe(before))
        if not history.take_lease(conn, self.lease.mine(migration_id), before, self.lease.ttl):
            raise Busy(lambda: "")
        if before is not None and before.token is not None and before.token != self.lease.token:
            conn.execute(
                history.log_event("lease", migration_id, None, "took over from" + describe(before))
            )
            lock_log.info("took over a stale lease%s", describe(before))
        if self._heartbeat is None:
            self._heartbeat = Heartbeat(self._renew, self.lease.ttl / 3)

    def _renew(self) -> bool:
        def renew(conn: sa.Connection) -> bool:
            with conn.begin():
                return self.history.renew_lease(conn, self.lease.name, self.lease.token)

        return database.run_aside(self.config, renew)

    def _sign(self) -> None:
        """Under a session lock (MySQL), name this runner in the lease row, so that a
        runner that times out waiting can say who holds the lock (see `_signed_by`)."""
        conn, history = self.conn, self.history
        with conn.begin():
            mine = self.lease.mine(None, self.lock.session(conn))
            history.take_lease(conn, mine, history.lease_row(conn, self.lease.name), 0)
        self._signed = True

    def _signed_by(self, session: str) -> str:
        """The runner that signed the lease row from database session `session`."""
        conn = self.conn
        try:
            row = self.history.lease_row(conn, self.lease.name)
        except exc.SQLAlchemyError:  # no table yet
            row = None
        conn.rollback()
        signed = row is not None and row.token is not None and row.session == session
        return signature(row) if signed and row is not None else ""

    def free_lease(self, signature: bool = False) -> None:
        """Free the lease a step took (after each step); with `signature`, also the
        session lock's signature (when the lock is released: it names this runner to
        the runners that wait, for the whole run)."""
        signed = signature and self._signed
        if self._heartbeat is None and not signed:
            return
        if self._heartbeat is not None:
            self._heartbeat.stop()
        self._heartbeat = None
        self._signed = self._signed and not signature
        conn = self.conn
        try:
            if conn.in_transaction():
                conn.rollback()
            with conn.begin():
                self.history.free_lease(conn, self.lease.name, self.lease.token)
        except exc.SQLAlchemyError:
            pass  # the connection is gone or broken (the step's error is raised): it expires

    def _release(self) -> None:
        conn = self.conn
        self.free_lease(signature=True)
        conn.execution_options(**{WRITER: False})
        try:
            conn.rollback()  # also the transaction a lost connection left pending
            self.lock.release(conn)
        except (exc.DBAPIError, exc.InvalidRequestError):
            pass  # the connection is gone, and the server dropped the lock with it


@contextlib.contextmanager
def busy_as_lock_timeout(timeout: float) -> Iterator[None]:
    """SQLite's "database is locked" after its busy timeout is our lock timeout."""
    try:
        yield
    except exc.OperationalError as error:
        if "database is locked" not in str(error.orig):
            raise
        gave_up = LockTimeout(
            f"the database is locked by another writer; gave up after {timeout:g} s",
            hint="wait for the other run to finish, or raise --runner-lock-timeout",
        )
        lock_log.error("%s", gave_up.message)
        raise gave_up from None


def _since(started: float) -> float:
    return time.monotonic() - started
