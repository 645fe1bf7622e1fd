"""The history's record of a migration that runs statement by statement (`StatementJournal`),
and a journal that runs nothing (`Probe`): both are `dbshift.ops.context.Journal`s.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

import sqlalchemy as sa
from sqlalchemy import exc

from dbshift.dialects.base import Commit, DialectRules, server_version
from dbshift.errors import IntegrityError, MigrationError
from dbshift.history import History, HistoryRow, StatementMark
from dbshift.runner.failures import connection_lost, short
from dbshift.runner.plan import Step


class StatementJournal:
    """The history's record of one migration run statement by statement (see
    `dbshift.ops.context.Journal`).

    Starting from the statements a partial row says ran, it skips them, then records
    each completed statement with one UPDATE, committed before the next statement or
    operation starts (`flush`); the migration's last statement is recorded by its
    applied row instead (one write for both, `commit_with`). A statement that can run
    in a transaction
    runs in one with that UPDATE (`Commit.WITH_RECORD`): it is recorded exactly when it
    commits, so a run cut off at any moment leaves an exact record. One that cannot
    (`CREATE INDEX CONCURRENTLY`) runs in autocommit mode, and one that commits by
    itself (MySQL's DDL) commits before its record: when the earlier run was cut off
    during such a statement, the re-run asks the database whether it completed
    (`DialectRules.in_doubt`) and, for the same file, counts it as done, runs it (its
    error may still show that it had completed: `already_applied`), or stops and asks
    a person."""

    def __init__(
        self,
        conn: sa.Connection,
        history: History,
        rules: DialectRules,
        step: Step,
        row: HistoryRow | None,
    ) -> None:
        self.conn = conn
        self.history = history
        self.step = step
        self.rules = rules
        self.server_version = server_version(conn)
        # `row` is None, or the partial row of an earlier run (an applied one is skipped)
        self.marks: list[StatementMark] = list(row.done) if row is not None else []
        self.resume_at = len(self.marks)
        self.position = 0  # statements met so far, skipped or run
        self.running: StatementMark | None = None
        self.uncertain = (
            row is not None and row.interrupted and row.checksum == step.script.checksum
        )
        self.settled_at: int | None = None
        #: the statement whose record `flush` is writing and committing, meanwhile
        self.committing: StatementMark | None = None
        #: a completed statement whose record is not written yet (`flush` writes it)
        self.pending: StatementMark | None = None
        #: the partial row `start` wrote, not committed yet
        self._unsaved = False

    def start(self) -> None:
        """Write the partial row of a migration that has none. It commits before the
        first statement runs, or with it when that statement commits by itself (MySQL
        commits the open transaction before DDL; another such statement commits it
        with its record): the row is there whenever any of the migration may be."""
        self.history.start_partial(self.conn, self.step.id, self.step.script.checksum)
        self._unsaved = True

    def skip(self, sql: str) -> bool:
        if self.position < self.resume_at:
            self.position += 1
            return True
        self.flush()
        self.running = StatementMark.of(sql)
        if self.uncertain and self.position == self.resume_at:
            return self._completed_before(sql)
        return False

    def _completed_before(self, sql: str) -> bool:
        """The statement the cut-off run was in: True when it had completed (it is
        recorded now); False to run it; an IntegrityError when nobody can tell."""
        if self.rules.commit_of(sql, self.server_version) is Commit.WITH_RECORD:
            self.uncertain = False  # it committed with its record, or not at all
            return False
        conn = self.conn
        found = self.rules.in_doubt(conn, sql)
        if conn.in_transaction():
            conn.rollback()
        if found.verdict == "run":
            return False
        if found.verdict == "ask":
            raise self._cannot_tell(sql, found.reason, found.hint)
        self.settled_at = self.position + 1
        self.done(sql)
        return True

    def _cannot_tell(self, sql: str, reason: str, hint: str | None) -> IntegrityError:
        step = self.step
        return IntegrityError(
            f"{step.script.name}: the previous run was cut off while statement "
            f"{self.position + 1} (`{short(sql, 80)}`) ran outside a transaction, and "
            f"{reason}; dbshift cannot resume it",
            hint=hint
            or "look at the database: if the statement completed, finish the migration by "
            f"hand and run `dbshift repair --applied {step.id}`; if it did not, undo "
            f"the statements before it and run `dbshift repair --rolled-back {step.id}`",
        )

    @contextlib.contextmanager
    def executing(self, sql: str) -> Iterator[None]:
        """In autocommit mode for a statement that cannot run in a transaction; else in
        the transaction `done` commits with the statement's record."""
        commit = self.rules.commit_of(sql, self.server_version)
        if self._unsaved:
            self._unsaved = False
            if commit is Commit.WITH_RECORD:  # it commits with its record: the row first
                self.conn.commit()
        if commit is not Commit.OUTSIDE:
            yield
            return
        conn = self.conn
        level = conn.default_isolation_level
        if conn.in_transaction():  # what the operation read first (a reflected table)
            conn.commit()
        conn.execution_options(isolation_level="AUTOCOMMIT")
        try:
            yield
        finally:
            # SQLAlchemy keeps the level while it holds a transaction (even an autocommit
            # one): end it first, or the rest of the run stays in autocommit mode
            with contextlib.suppress(exc.DBAPIError, exc.InvalidRequestError):
                if conn.in_transaction():
                    conn.rollback()
                conn.execution_options(isolation_level=level)

    def done(self, sql: str) -> None:
        """The statement completed: its record waits in `pending` for `flush` (or for
        the migration's applied row). A statement run in autocommit mode is recorded
        at once: a cut-off run may leave it in doubt, and then only the catalog can
        tell."""
        self.pending = self.running or StatementMark.of(sql)
        self.running = None
        if self.rules.commit_of(sql, self.server_version) is Commit.OUTSIDE:
            self.flush()

    def flush(self) -> None:
        """Record the pending statement and commit: with it, unless it committed by
        itself or ran in autocommit mode. Until that commit succeeds it is still
        `running` (a deferred constraint fails at the commit, and then the statement
        did not run)."""
        mark = self.pending
        if mark is None:
            return
        step = self.step
        self.commit_with(
            lambda: self.history.record_progress(
                self.conn, step.id, step.script.checksum, [*self.marks, mark]
            )
        )

    def commit_with(self, write: Callable[[], None]) -> None:
        """`write()` (the pending statement's record, or the applied row that records
        it too) and commit, the pending statement `running` and `committing` meanwhile."""
        mark = self.pending
        self.running = self.committing = mark
        write()
        self.conn.commit()
        self.running = self.committing = self.pending = None
        if mark is not None:
            self.position += 1
            self.marks.append(mark)

    def flush_stopped(self) -> None:
        """After the run stopped outside a statement (an operation's own query failed,
        a signal): record the pending statement if the database still takes it (it
        committed by itself, or its transaction is intact); else it stays unrecorded,
        rolled back or in doubt, and not `running` (it did not fail). When the stop
        came from committing that record (`committing`), the statement stays `running`:
        its commit failed, or its answer was lost."""
        if self.pending is None or self.committing is not None:
            return
        try:
            if self.conn.invalidated:
                raise exc.InvalidRequestError("the connection is gone")
            self.flush()
        except (exc.DBAPIError, exc.InvalidRequestError):
            self.running = self.committing = self.pending = None

    def settled(self, sql: str, error: exc.DBAPIError) -> bool:
        if not self.uncertain or self.position != self.resume_at:
            return False
        if not self.rules.already_applied(sql, error.orig or error):
            return False
        if self.conn.in_transaction():
            self.conn.rollback()
        self.settled_at = self.position + 1
        return True

    @property
    def in_doubt(self) -> bool:
        """The statement that just failed is the one an interrupted run may have done."""
        return self.uncertain and self.running is not None and self.position == self.resume_at

    def summary(self) -> str | None:
        if not self.resume_at and self.settled_at is None:
            return None
        text = f"resumed after statement {self.resume_at}"
        if self.settled_at is not None:
            text += f"; statement {self.settled_at} had completed in the interrupted run"
        return text

    def record_stop(self, error: BaseException) -> None:
        """After the run stopped on `error`, outside any transaction: a statement the
        database refused is recorded as the one that failed. When the run was cut off
        (connection lost, interrupted) the history stays as the journal left it: the
        statement in flight may have completed on the server."""
        failed = self.running
        if failed is None or self.conn.invalidated or connection_lost(error):
            return
        if not isinstance(error, MigrationError):
            return
        step, conn, history = self.step, self.conn, self.history
        try:
            with conn.begin():
                if self.marks:
                    history.record_progress(conn, step.id, step.script.checksum, self.marks, failed)
                else:  # nothing ran: nothing to remember but the event
                    history.remove(conn, step.id)
                conn.execute(
                    history.log_event(
                        "failed",
                        step.id,
                        step.script.checksum,
                        f"statement {len(self.marks) + 1} failed; "
                        f"{len(self.marks)} statement(s) completed",
                    )
                )
        except exc.DBAPIError:
            pass  # the original error says what went wrong; the journal's row stands


class Probe:
    """A journal that runs nothing: it collects the first statements a migration sends."""

    class Enough(Exception):
        pass

    def __init__(self, count: int) -> None:
        self.count = count
        self.marks: list[StatementMark] = []

    def skip(self, sql: str) -> bool:
        if len(self.marks) >= self.count:
            raise Probe.Enough
        self.marks.append(StatementMark.of(sql))
        return True

    def executing(self, sql: str) -> contextlib.AbstractContextManager[None]:
        return contextlib.nullcontext()

    def done(self, sql: str) -> None:
        pass

    def settled(self, sql: str, error: exc.DBAPIError) -> bool:
        return False
