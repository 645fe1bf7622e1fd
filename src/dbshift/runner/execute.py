"""The `Runner`: upgrade, downgrade, stamp and repair on one connection, under the
runner lock, each migration with its history row.

A migration runs in one transaction with its row where the backend has transactional
DDL and the file does not say `transactional = False`; otherwise statement by statement,
each recorded as it completes (`StatementJournal`). A statement whose lock wait times
out makes the migration run again, a few times (`Runner._retrying`).
"""

from __future__ import annotations

import contextlib
import functools
import time
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, TypeVar

import sqlalchemy as sa
from sqlalchemy import exc

from dbshift import database
from dbshift.config import Config
from dbshift.dialects import backend_for
from dbshift.errors import (
    DatabaseError,
    DbshiftError,
    IntegrityError,
    Interrupted,
    MigrationError,
)
from dbshift.history import Event, History, HistoryRow, StatementMark
from dbshift.migrations.graph import Graph
from dbshift.migrations.scripts import Script
from dbshift.retry import BlockerWatch, backoff, lock_timed_out
from dbshift.runner import checks, failures
from dbshift.runner.adopted import refuse_if_moved
from dbshift.runner.lock import Held, busy_as_lock_timeout
from dbshift.runner.plan import Direction, Plan, Step, make_plan, other_backend, stamp_plan, verify
from dbshift.runner.report import (
    Command,
    Listener,
    Retry,
    RunReport,
    Silent,
    StepResult,
    StepStatus,
    log,
    log_plan,
    log_result,
)

if TYPE_CHECKING:
    from dbshift.dialects import Backend
    from dbshift.dialects.base import DialectRules, Restore, Timeouts
    from dbshift.migrations.replay import Replay
    from dbshift.ops import Operation
    from dbshift.ops.context import Capture, Compiled, DriverSQL, Journal, OnlineContext
    from dbshift.runner.cache import Shelf, StatementCache
    from dbshift.runner.journal import StatementJournal
    from dbshift.schema.snapshot import Snapshot

    #: what one step runs: its operations, or its upgrade's kept statements
    Work = tuple[Operation, ...] | Compiled

# Listing, status and history never execute operations, and an upgrade with nothing
# pending (what every pod runs at every start) never loads one: the modules that load,
# run and record them are imported on first use (the imports marked `# lazy:`, and
# `Runner.dialect`, `Replay.code`), keeping start-up short.

T = TypeVar("T")

_DOING = {"up": "applying", "down": "reverting"}
_STAMPED = {"up": "applied", "down": "not applied"}


class Runner:
    """Executes plans on one connection. Holds the database lock while it works."""

    def __init__(
        self,
        config: Config,
        conn: sa.Connection,
        scripts: Sequence[Script],
        graph: Graph,
        listener: Listener | None = None,
        *,
        lease_ttl: float | None = None,
        shelf: Shelf | None = None,
    ) -> None:
        self.config = config
        #: the statement caches shared with other runners of one fleet run, if any
        self.shelf = shelf
        #: seconds the lease of a step outside a transaction lives unrenewed (`lease.TTL`)
        self.lease_ttl = lease_ttl
        self.conn = conn
        self.scripts = {s.id: s for s in scripts}
        self.graph = graph
        self.listener = listener or Silent()
        self.history = History(config.table_prefix, config.schema)
        self._cache: StatementCache | None = None  # opened by the first upgrade step
        #: the statements a step sent, to keep once it succeeded (`_keep`)
        self._captures: dict[str, Capture] = {}
        self._held: Held | None = None  # set while the lock is held (`_locked`)
        self._pinned = False  # the bookkeeping tables' schema is resolved (`pin_bookkeeping`)
        self._rows: dict[str, HistoryRow] = {}  # the history as read under the lock
        #: the session timeouts kept between steps, and what restores the session's own
        self._kept: tuple[Timeouts, Restore] | None = None

    @functools.cached_property
    def _replay(self) -> Replay:
        """What each step runs, loaded on first use; going up, kept statements
        (`runner/cache.py`) are not loaded."""
        # lazy: a no-op upgrade replays nothing
        from dbshift.migrations.replay import Replay

        kept = self._kept_statements if self.config.statement_cache else None
        return Replay(self.scripts, self.graph, self.conn.dialect.name, compiled=kept)

    @property
    def backend(self) -> Backend:
        return backend_for(self.conn.dialect)

    @property
    def dialect(self) -> DialectRules:
        """The backend's DDL rules: how statements commit, fail and wait."""
        return self.backend.rules

    def rows(self) -> list[HistoryRow]:
        rows = self.history.rows(self.conn)
        self.conn.commit()
        return rows

    def pin_bookkeeping(self) -> None:
        """Name the bookkeeping tables with the schema (database, on MySQL) they are in
        now, before any migration runs: one that sets `search_path` or runs `USE` must
        not make dbshift write its history elsewhere, or fail to find it."""
        if self._pinned:  # a second lock in one run (stamp, repair) finds them pinned
            return
        self._pinned = True
        schema = self.config.schema
        if schema is None:
            found = self.dialect.bookkeeping_schema(self.conn, self.history.table.name)
            self.history = self.history.in_schema(found)
        elif not sa.inspect(self.conn).has_schema(schema):
            raise DatabaseError(
                f"the schema of the bookkeeping tables, {schema!r}, does not exist",
                hint="create it, or correct --schema (`schema` in the configuration)",
            )

    def migrate(
        self,
        direction: Direction,
        target: str,
        *,
        dry_run: bool = False,
        single_transaction: bool = False,
    ) -> RunReport:
        command: Command = "upgrade" if direction == "up" else "downgrade"
        rows = self.rows()
        verify(self.scripts, rows, self.config.migrations_dir)
        refuse_if_moved(self.conn, self.history, rows)
        self.conn.commit()
        checks.refuse_partial(rows, self.scripts, self.backend, direction, single_transaction)
        plan = make_plan(self.graph, self.scripts, rows, direction, target)
        self._log_plan(command, plan, rows, dry_run)
        warnings = self._warn(other_backend(plan, self.conn.dialect.name))
        if dry_run or not plan.steps:
            return RunReport(command, plan, (), dry_run, warnings)
        if single_transaction:
            checks.check_single_transaction(plan, self.backend, self.conn.dialect.name)
        try:
            return self._migrate(command, plan, direction, target, single_transaction, warnings)
        finally:
            if self._cache is not None:
                self._cache.save(self.scripts)

    def _migrate(
        self,
        command: Command,
        plan: Plan,
        direction: Direction,
        target: str,
        single_transaction: bool,
        warnings: tuple[str, ...],
    ) -> RunReport:
        walk = self._replay.walk([step.id for step in plan.steps], direction)
        operations: dict[str, Work] = {r.id: r.compiled or r.operations for r in walk}
        for step in plan.steps:
            self._refuse_transaction_control(step, operations[step.id])
        results: list[StepResult] = []  # what stays done, whatever happens next

        def so_far() -> RunReport:
            return RunReport(command, plan, tuple(results), warnings=warnings)

        with self._reporting(so_far), self._locked():
            rows = self.rows()
            self._rows = {r.id: r for r in rows}
            verify(self.scripts, rows, self.config.migrations_dir)
            checks.refuse_partial(rows, self.scripts, self.backend, direction, single_transaction)
            current = make_plan(self.graph, self.scripts, rows, direction, target)
            pending = {s.id for s in current.steps}
            results += [
                StepResult(s.id, direction, "skipped") for s in plan.steps if s.id not in pending
            ]
            for skipped in results:
                log.info("skipped %s: another runner did it meanwhile", skipped.id)
            new = [step for step in current.steps if step.id not in operations]
            walk = self._replay.walk([step.id for step in new], direction)
            for step, replayed in zip(new, walk, strict=True):
                operations[step.id] = replayed.compiled or replayed.operations
                self._refuse_transaction_control(step, operations[step.id])
            if single_transaction:
                ran: list[StepResult] = []  # done only once the transaction commits
                with self._locked_transaction():
                    self._run_steps(current.steps, operations, ran, in_transaction=True)
                results += ran
            else:
                with self._session():
                    self._run_steps(current.steps, operations, results, in_transaction=False)
        return RunReport(command, plan, tuple(results), warnings=warnings)

    def stamp(self, target: str) -> RunReport:
        """Record the target state in the history without running anything (see
        `stamp_plan`). The plan is made again under the lock: what another runner
        recorded meanwhile is skipped."""
        rows = self.rows()
        plan = stamp_plan(self.graph, self.scripts, rows, target)
        self._log_plan("stamp", plan, rows)
        results = []
        with self._locked(), self._locked_transaction():
            current = stamp_plan(self.graph, self.scripts, self.history.rows(self.conn), target)
            pending = {(s.id, s.direction) for s in current.steps}
            results += [
                StepResult(s.id, s.direction, "skipped")
                for s in plan.steps
                if (s.id, s.direction) not in pending
            ]
            for step in current.steps:
                if step.direction == "up":
                    self.history.record_applied(self.conn, step.id, step.script.checksum, 0)
                else:
                    self.history.remove(self.conn, step.id)
                self.conn.execute(
                    self.history.log_event("stamp", step.id, step.script.checksum, step.direction)
                )
                results.append(StepResult(step.id, step.direction, "stamped"))
                log.info("stamped %s as %s", step.id, _STAMPED[step.direction])
        return RunReport("stamp", plan, tuple(results))

    def under_lock(self, work: Callable[[sa.Connection, History], T]) -> T:
        """`work(connection, history)` in one transaction under the runner lock, on the
        bookkeeping tables pinned (`dbshift adopt`: its history rows and event)."""
        with self._locked(), self._locked_transaction():
            return work(self.conn, self.history)

    def repair(
        self,
        applied: Sequence[Script],
        rolled_back: Sequence[str],
        rows: Mapping[str, HistoryRow],
    ) -> list[tuple[str, str]]:
        """Correct the history by hand, under the lock and in one transaction: forget
        the `rolled_back` migrations, record the `applied` ones without running them;
        given neither, accept the new checksum of each applied file that changed since
        `rows` (the history, by id) were read. Returns (migration id, what changed)."""
        history, conn = self.history, self.conn
        changes: list[tuple[str, str]] = []
        with self._locked(), self._locked_transaction():
            for migration_id in rolled_back:
                history.remove(conn, migration_id)
                conn.execute(history.log_event("repair", migration_id, None, "rolled back"))
                changes.append((migration_id, "marked rolled back"))
            for script in applied:
                history.record_applied(conn, script.id, script.checksum, 0)
                conn.execute(history.log_event("repair", script.id, script.checksum, "applied"))
                changes.append((script.id, "marked applied"))
            if not applied and not rolled_back:
                for script in self.scripts.values():
                    row = rows.get(script.id)
                    if row is not None and row.applied and row.checksum != script.checksum:
                        history.update_checksum(conn, script.id, script.checksum)
                        conn.execute(
                            history.log_event(
                                "repair",
                                script.id,
                                script.checksum,
                                f"checksum {row.checksum[:12]} -> {script.checksum[:12]}",
                            )
                        )
                        changes.append((script.id, "accepted new checksum"))
        return changes

    def replay(self, ids: Collection[str]) -> Snapshot:
        """The schema the given migrations build, replayed in memory."""
        return self._replay.schema(ids)

    # -- internals -----------------------------------------------------------------

    def _log_plan(
        self, command: Command, plan: Plan, rows: Sequence[HistoryRow], dry_run: bool = False
    ) -> None:
        backend = self.conn.dialect.name
        log_plan(command, plan, rows, self.graph, backend, self.config.url_text, dry_run)

    def _warn(self, *texts: str | None) -> tuple[str, ...]:
        found = tuple(t for t in texts if t)
        for text in found:
            log.warning("%s", text)
        told = getattr(self.listener, "warned", None)
        if callable(told):
            for text in found:
                told(text)
        return found

    @contextlib.contextmanager
    def _locked(self) -> Iterator[Held]:
        """The runner lock for the block (`Held`), on bookkeeping tables pinned to the
        schema they are in; the runner keeps it as `_held` until the block ends."""
        self.pin_bookkeeping()
        with Held(self.conn, self.config, self.history, self.lease_ttl) as held:
            self._held = held
            try:
                yield held
            finally:
                self._held = None

    def _locked_transaction(self) -> contextlib.AbstractContextManager[sa.RootTransaction]:
        """Inside `_locked()`: a transaction in which this runner alone writes."""
        assert self._held is not None
        return self._held.transaction()

    def _refuse_transaction_control(self, step: Step, work: Work) -> None:
        if not isinstance(work, tuple):  # kept statements: refused before they were kept
            return
        lines = self._replay.lines(step.id, step.direction)
        checks.refuse_transaction_control(step, work, lines, self.conn.dialect.name)

    def _kept_statements(self, script: Script) -> Compiled | None:
        """The upgrade's statements as kept from an earlier run (`runner/cache.py`)."""
        return self._statement_cache().get(script)

    def _statement_cache(self) -> StatementCache:
        if self._cache is None:
            # lazy: a no-op upgrade keeps no statements
            from dbshift.runner.cache import StatementCache, cache_key

            key = cache_key(self.conn, self.config.schema, self.config.search_path)
            folder = self.config.migrations_dir
            shelf = self.shelf
            self._cache = shelf.cache(folder, key) if shelf else StatementCache(folder, key)
        return self._cache

    def _keep(self, step: Step, result: StepResult) -> None:
        """After a step applied: keep the statements it sent, if they may be kept."""
        capture = self._captures.pop(step.id, None)
        if capture is None or result.status != "applied":
            return
        compiled = capture.result(self._replay.lines(step.id, "up"))
        if compiled is None:
            log.debug("%s: its statements are not kept: %s", step.id, capture.live)
            return
        # lazy: a no-op upgrade keeps no statements
        from dbshift.runner.cache import names_tenant, tenant_of

        tenant = tenant_of(self.config.schema, self.config.search_path)
        if names_tenant(compiled, tenant, self.conn.dialect):
            log.debug("%s: its statements are not kept: they name the schema %s", step.id, tenant)
            return
        self._statement_cache().put(step.script, compiled)

    @staticmethod
    @contextlib.contextmanager
    def _reporting(so_far: Callable[[], RunReport]) -> Iterator[None]:
        """An error that stops a run carries the report of what the run did before it
        (`error.report`): those migrations stay applied (or reverted), and whoever
        called must be able to tell the user so."""
        try:
            yield
        except (DbshiftError, Interrupted) as error:
            error.report = so_far()
            raise

    def _run_steps(
        self,
        steps: Sequence[Step],
        operations: Mapping[str, Work],
        results: list[StepResult],
        *,
        in_transaction: bool,
    ) -> None:
        """Run `steps` in order, appending each one's result to `results` as it
        completes (so that a failure leaves there what was done before it)."""

        def first_statements(work: Work, count: int) -> list[StatementMark]:
            if not isinstance(work, tuple):
                return [StatementMark.of(sql.text) for sql in work.flat()[:count]]
            return checks.first_statements(self.conn, self.config.schema, work, count)

        checks.check_resumable(steps, operations, self._rows, first_statements)
        for index, step in enumerate(steps):
            log.info("%s %s (%d of %d)", _DOING[step.direction], step.id, index + 1, len(steps))
            self.listener.step_started(step, index, len(steps))
            ops = operations[step.id]
            run = functools.partial(self._run_step, step, ops, in_transaction)
            try:
                if in_transaction:  # one step cannot be retried inside the run's transaction
                    result = self._attempt(run)
                else:
                    result = self._retrying(step, functools.partial(self._attempt, run))
            except (KeyboardInterrupt, Interrupted) as stop:
                if in_transaction:
                    state = failures.ROLLED_BACK_WITH_RUN
                else:
                    state = failures.state_after_stop(self.conn, self.history, step)
                raise failures.interrupted(step, stop, state) from None
            except DbshiftError as error:
                self._log_failure(step, error, in_transaction)
                raise
            log_result(result)
            results.append(result)
            self._keep(step, result)
            self.listener.step_finished(result)

    def _log_failure(self, step: Step, error: DbshiftError, in_transaction: bool) -> None:
        """ERROR: the failure and the state it left. A transaction rolled back; a
        statement-by-statement run's state is read back from the history."""

        def state() -> str:
            if in_transaction:
                return failures.ROLLED_BACK_WITH_RUN
            if self._in_one_transaction(step):
                return "rolled back"
            return failures.state_after_stop(self.conn, self.history, step)

        failures.log_failure(step, error, state, self.config.redact)

    def _run_step(self, step: Step, ops: Work, in_transaction: bool) -> StepResult:
        if in_transaction:
            return self._execute(step, ops)
        if self._in_one_transaction(step):
            with self.conn.begin():
                return self._execute(step, ops)
        return self._execute_by_statement(step, ops)

    def _recorded(self, step: Step, local: Timeouts | None = None) -> HistoryRow | None:
        """The step's history row, called first in the step's transaction. Under an
        exclusive lock (MySQL) the history read at locking is current. Otherwise this
        transaction takes the lock (or raises `Busy`, and the step is retried) and reads
        the row again: another runner may have done the work since the plan was made. A
        step that will run outside a transaction takes the lease here. `local`: the
        step's timeouts, set for the rest of the transaction by the same read where the
        backend can (`DialectRules.local_timeouts`), else by a statement of their own."""
        if self._exclusive:
            row = self._rows.get(step.id)
            if local is not None:
                self.dialect.set_timeouts(self.conn, local, local=True)
            return row
        held = self._held
        assert held is not None
        settings, params = self.dialect.local_timeouts(local) if local is not None else ((), {})
        row, lease = self.history.row_with_lease(
            self.conn, step.id, held.lease.name, settings, params, read=held.guarded_read
        )
        if local is not None and not settings:
            self.dialect.set_timeouts(self.conn, local, local=True)
        held.check_lease(lease)
        outside = not self._in_one_transaction(step)
        if outside and not self._already_done(step, row):
            held.take_lease(step.id)
        return row

    def _retrying(self, step: Step, run: Callable[[], StepResult]) -> StepResult:
        """`run()`, tried again after a growing pause while a statement's lock wait
        times out, at most `lock_retries` times. Each retry is logged (a `retry` event)
        and told to the listener; after the last, the error says what it waited for."""
        attempts = self.config.lock_retries + 1
        blocker: str | None = None
        for attempt in range(1, attempts + 1):
            watch = self._blocker_watch(step) if attempt > 1 else None
            try:
                with watch or contextlib.nullcontext():
                    return run()
            except MigrationError as error:
                if not lock_timed_out(error, self.dialect):
                    raise
                blocker = (watch.found if watch else None) or blocker
                if attempt == attempts:
                    in_transaction = self._in_one_transaction(step)
                    gave_up = failures.gave_up(
                        step,
                        error,
                        attempts,
                        blocker,
                        lock_timeout=self._timeouts(step).lock,
                        in_transaction=in_transaction,
                        redact=self.config.redact,
                    )
                    if in_transaction:  # else `_stopped` logged it
                        self._log(step, "failed", f"lock timeout; {gave_up.message}")
                    raise gave_up from error
                retry = Retry(
                    step,
                    attempt + 1,
                    attempts,
                    backoff(attempt, self.config.lock_retry_delay),
                    blocker,
                )
                self._log(step, "retry", f"{retry.reason}; {error.message}")
                log.warning("%s; %s", retry.describe(), self.config.redact(error.message))
                self._reread(step)
                told = getattr(self.listener, "step_retrying", None)
                if callable(told):
                    told(retry)
                time.sleep(retry.delay)
        raise AssertionError("unreachable: the last attempt returns or raises")

    def _timeouts(self, step: Step) -> Timeouts:
        """The step's own header settings, else the configuration's."""
        # lazy: a no-op upgrade sets no timeouts
        from dbshift.dialects.base import Timeouts

        script, config = step.script, self.config
        lock = script.lock_timeout
        statement = script.statement_timeout
        return Timeouts(
            lock=config.table_lock_timeout if lock is None else lock,
            statement=config.statement_timeout if statement is None else statement,
        )

    def _blocker_watch(self, step: Step) -> BlockerWatch | None:
        """On a retry: a watch that asks, from a second connection, what the step's
        statement waits for, shortly before its lock wait would time out."""
        dialect, lock = self.dialect, self._timeouts(step).lock
        if dialect.session_query is None or lock <= 0:
            return None
        session = str(self.conn.execute(sa.text(dialect.session_query)).scalar())
        self.conn.commit()
        config = self.config
        return BlockerWatch(
            lambda: database.run_aside(config, lambda c: dialect.blocker(c, session)), lock * 0.7
        )

    def _reread(self, step: Step) -> None:
        """Under an exclusive lock (MySQL) `_recorded` answers from the history read at
        locking; a failed attempt changed the step's row (its completed statements)."""
        if not self._exclusive:
            return
        self._rows.pop(step.id, None)
        row = self.history.row(self.conn, step.id)
        self.conn.commit()
        if row is not None:
            self._rows[step.id] = row

    def _log(self, step: Step, event: Event, detail: str) -> None:
        """A log event in a transaction of its own (the log is append-only, so it needs
        no runner lock); best effort: the run's own error says what went wrong."""
        with contextlib.suppress(exc.DBAPIError):
            if self.conn.in_transaction():
                self.conn.rollback()
            with self.conn.begin():
                self.conn.execute(
                    self.history.log_event(event, step.id, step.script.checksum, detail[:1000])
                )

    def _in_one_transaction(self, step: Step) -> bool:
        """Whether the step runs in one transaction (else statement by statement)."""
        return step.script.transactional and self.backend.transactional_ddl

    def _attempt(self, step: Callable[[], StepResult]) -> StepResult:
        if self._held is None:
            with busy_as_lock_timeout(self.config.runner_lock_timeout):
                return step()
        try:
            return self._held.attempt(step)
        finally:
            self._held.free_lease()

    @property
    def _exclusive(self) -> bool:
        return self._held is not None and self._held.exclusive

    @staticmethod
    def _already_done(step: Step, row: HistoryRow | None) -> bool:
        return (row is not None and row.applied) if step.direction == "up" else row is None

    def _execute(self, step: Step, ops: Work) -> StepResult:
        """Run one migration inside the caller's transaction, with its history row."""
        row = self._recorded(step, local=self._timeouts(step))
        if self._already_done(step, row):
            return StepResult(step.id, step.direction, "skipped")
        started = time.perf_counter()
        count = self._emit(step, ops, on_statement=None)
        duration = int((time.perf_counter() - started) * 1000)
        self._record(step, duration, replace=row is not None)
        return StepResult(step.id, step.direction, _done(step), duration, count)

    def _execute_by_statement(self, step: Step, ops: Work) -> StepResult:
        """Run one migration statement by statement, outside a migration-wide transaction.

        Going up, the history follows the run: a `partial` row is written before the
        first statement and updated after each one (`StatementJournal`), so a failure, a
        kill or a lost connection leaves an exact record, and the next `upgrade` resumes
        after the last recorded statement. The last statement's update is the row
        turned applied (`_finish`)."""
        if self._exclusive:  # no query to make: no transaction to open
            row = self._recorded(step)
        else:
            with self.conn.begin():
                row = self._recorded(step)
        if self._already_done(step, row):
            return StepResult(step.id, step.direction, "skipped")
        # lazy: a no-op upgrade runs no statement
        from dbshift.runner.journal import StatementJournal

        journal = (
            StatementJournal(self.conn, self.history, self.dialect, step, row)
            if step.direction == "up"
            else None
        )
        # Going up, each statement runs in a transaction with its progress record (the
        # journal runs one that cannot run in a transaction in autocommit mode). Going
        # down nothing is recorded until the end: with transactional DDL, each statement
        # commits on its own, as it runs.
        autocommit = journal is None and self.backend.transactional_ddl
        default_level = self.conn.default_isolation_level
        if autocommit:
            self.conn.execution_options(isolation_level="AUTOCOMMIT")
        restore = self._session_timeouts(step)
        # the session's settings outlive a failed statement (PostgreSQL: once committed;
        # a session lock's backend, MySQL, does not roll a SET back: it goes with what
        # follows)
        if self.conn.in_transaction() and not self._exclusive:
            self.conn.commit()
        succeeded = False
        started = time.perf_counter()
        try:
            if journal is not None and row is None:
                journal.start()
            count = self._emit(step, ops, on_statement=None, journal=journal)
            duration = int((time.perf_counter() - started) * 1000)
            if journal is None:
                self.conn.commit()
            else:  # the last statement's record is the applied row
                self._finish(step, ops, duration, journal, restore, count)
            succeeded = True
        except MigrationError as error:
            self._stopped(journal, error)
            if journal is not None and journal.in_doubt:
                raise failures.in_doubt(step, error) from error
            raise
        except BaseException as error:
            self._stopped(journal, error)
            raise
        finally:
            if not succeeded:  # else restored with the history row, saving a commit
                with contextlib.suppress(exc.DBAPIError, exc.InvalidRequestError):
                    restore()
                    if self.conn.in_transaction():
                        self.conn.commit()
            if autocommit:
                with contextlib.suppress(exc.DBAPIError, exc.InvalidRequestError):
                    self.conn.execution_options(isolation_level=default_level)
        if journal is None:
            with self.conn.begin():
                restore()
                self._record(step, duration, replace=False)
        return StepResult(step.id, step.direction, _done(step), duration, count)

    def _finish(
        self,
        step: Step,
        ops: Work,
        duration_ms: int,
        journal: StatementJournal,
        restore: Restore,
        count: int,
    ) -> None:
        """A statement-by-statement migration's partial row turned applied, with its log
        event, in the transaction of its last statement's record: one commit for both.
        A failure is the last statement's, as its record's would be."""
        history, conn, script = self.history, self.conn, step.script

        def write() -> None:
            restore()
            history.write_applied(
                conn,
                step.id,
                script.checksum,
                duration_ms,
                "upgrade",
                journal.summary(),
                update=True,
                together=self.backend.writes_in_cte,
            )

        try:
            journal.commit_with(write)
        except exc.DBAPIError as error:
            if journal.committing is None:  # nothing ran: the row's own write failed
                raise
            last = (len(ops) if isinstance(ops, tuple) else len(ops.statements)) - 1
            raise self._statement_failure(step, last, error, count, journal.committing) from error

    @contextlib.contextmanager
    def _session(self) -> Iterator[None]:
        """The run's statement-by-statement steps: under a session lock (MySQL) the
        session is this runner's for the whole run, so the timeouts one step sets stay
        for the next that wants the same (`_session_timeouts`); restored at the end."""
        try:
            yield
        finally:
            kept, self._kept = self._kept, None
            if kept is not None:
                with contextlib.suppress(exc.DBAPIError, exc.InvalidRequestError):
                    kept[1]()
                    if self.conn.in_transaction():
                        self.conn.commit()

    def _session_timeouts(self, step: Step) -> Restore:
        """`set_timeouts` for a step outside a transaction; what undoes it. Under a
        session lock the settings are kept for the run (see `_session`): nothing to
        undo here, and nothing to set when the previous step set the same."""
        wanted = self._timeouts(step)
        if not self._exclusive:
            return self.dialect.set_timeouts(self.conn, wanted, local=False)
        if self._kept is None or self._kept[0] != wanted:
            if self._kept is not None:
                self._kept[1]()
            self._kept = (wanted, self.dialect.set_timeouts(self.conn, wanted, local=False))
        return _nothing

    def _stopped(self, journal: StatementJournal | None, error: BaseException) -> None:
        """After a statement-by-statement run stopped: end its transaction, and let the
        journal record the statement that failed (`StatementJournal.record_stop`)."""
        if journal is not None:
            journal.flush_stopped()
        try:
            if self.conn.in_transaction():
                self.conn.rollback()
        except (exc.DBAPIError, exc.InvalidRequestError):
            return
        if journal is not None:
            journal.record_stop(error)

    def _emit(
        self,
        step: Step,
        work: Work,
        on_statement: Callable[[str], None] | None,
        journal: Journal | None = None,
    ) -> int:
        """Execute a migration's operations, or send its kept statements (one group per
        operation, in the same way); the number of statements that ran. Going up, the
        statements of operations that are all `static_sql` are captured, for `_keep`."""
        # lazy: a no-op upgrade runs no operation
        from dbshift.ops.context import Capture, CodeFailed, OnlineContext
        from dbshift.runner.journal import StatementJournal

        capture = None
        units: list[Callable[[OnlineContext], None]]
        if isinstance(work, tuple):
            units = [op.execute for op in work]
            if (
                step.direction == "up"
                and self.config.statement_cache
                and all(op.static_sql for op in work)
            ):
                capture = Capture()
        else:
            units = [functools.partial(_send_kept, group) for group in work.statements]
        self._captures.pop(step.id, None)
        ctx = OnlineContext(
            self.conn,
            default_schema=self.config.schema,
            on_statement=on_statement,
            journal=journal,
            capture=capture,
        )
        recorded = journal if isinstance(journal, StatementJournal) else None
        for index, unit in enumerate(units):
            if recorded is not None and recorded.pending is not None:
                try:  # the previous operation's last statement: recorded before this one
                    recorded.flush()
                except exc.DBAPIError as error:
                    failure = self._statement_failure(
                        step, index - 1, error, ctx.executed, recorded.committing
                    )
                    raise failure from error
            try:
                unit(ctx)
            except exc.DBAPIError as error:
                committing = recorded.committing if recorded is not None else None
                failure = self._statement_failure(step, index, error, ctx.executed, committing)
                raise failure from error
            except CodeFailed as failed:
                done = len(recorded.marks) if recorded is not None else ctx.executed
                raise failures.code_failure(
                    step,
                    done,
                    failed.error,
                    in_transaction=self._in_one_transaction(step),
                    redact=self.config.redact,
                ) from failed.error
            except IntegrityError:
                raise
            except DbshiftError as error:
                raise _in_file(step, error) from error
            if capture is not None:
                capture.next_operation()
        try:
            ctx.finish()  # the checks of the state the whole migration leaves
        except DbshiftError as error:
            raise _in_file(step, error) from error
        if capture is not None:
            self._captures[step.id] = capture
        return ctx.executed

    def _statement_failure(
        self,
        step: Step,
        index: int,
        error: exc.DBAPIError,
        executed: int,
        committing: StatementMark | None,
    ) -> MigrationError:
        """`error` from operation `index` of the step (`executed` statements ran before
        it in this run), or from committing the statement `committing`."""
        lines = self._replay.lines(step.id, step.direction)
        # (a lost connection outranks it: `statement_failure` checks that first)
        schema_there = failures.schema_already_there(
            step, executed, error, self._rows, self.dialect
        )
        return failures.statement_failure(
            step,
            error,
            line=lines[index] if index < len(lines) else None,
            in_transaction=self._in_one_transaction(step),
            schema_there=schema_there,
            committing=committing,
            redact=self.config.redact,
        )

    def _record(self, step: Step, duration_ms: int, replace: bool) -> None:
        """The step's history row and log event, in the caller's transaction (one
        statement where the backend can: `Backend.writes_in_cte`)."""
        checksum, together = step.script.checksum, self.backend.writes_in_cte
        if step.direction == "up":
            self.history.write_applied(
                self.conn,
                step.id,
                checksum,
                duration_ms,
                "upgrade",
                update=replace,
                together=together,
            )
        else:
            self.history.write_removed(self.conn, step.id, checksum, "downgrade", together=together)


def _in_file(step: Step, error: DbshiftError) -> MigrationError:
    """An operation's error, said of the migration file it came from."""
    return MigrationError(
        f"{step.script.name}: {error.message}", migration=step.id, hint=error.hint
    )


def _nothing() -> None:
    return None


def _send_kept(statements: Sequence[DriverSQL], ctx: OnlineContext) -> None:
    """One operation's kept statements, sent as it sent them."""
    for sql in statements:
        ctx.emit_driver(sql)


def _done(step: Step) -> StepStatus:
    return "applied" if step.direction == "up" else "reverted"
