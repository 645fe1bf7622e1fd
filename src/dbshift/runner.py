"""Plan (pure, no I/O) -> lock -> verify -> execute -> record.

Each migration runs in its own transaction together with its history row. On a backend
without transactional DDL (MySQL/MariaDB), or for a migration marked
`transactional = False`, it runs statement by statement, each in a transaction of its
own with the history's record of it (see `_Journal`), so a failure part-way is reported
honestly and a lost connection never makes a statement run twice. A statement waits for
a table lock only briefly; when it gives up, the migration is retried (see `retry`).

What a run does is logged to `dbshift.runner` (the plan, each migration, retries,
failures) and `dbshift.lock` (waiting for another runner); see docs/api.md, "Logging".
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import logging
import random
import time
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol, TypeVar

import sqlalchemy as sa
from sqlalchemy import exc

from dbshift.config import Config, mask_url
from dbshift.database import WRITER
from dbshift.errors import (
    DatabaseError,
    DbshiftError,
    IntegrityError,
    Interrupted,
    IrreversibleMigration,
    LockTimeout,
    MigrationError,
    UsageError,
)
from dbshift.history import History, HistoryRow, LeaseRow, StatementMark
from dbshift.integrity import (
    edited_partial,
    in_history,
    refusal,
    resume_conflict,
    undo_or_finish,
)
from dbshift.migrations.graph import Graph
from dbshift.migrations.scripts import Script

if TYPE_CHECKING:
    from dbshift.dialects.base import DialectRules, Timeouts
    from dbshift.lease import Busy, Heartbeat
    from dbshift.migrations.loader import MigrationCode
    from dbshift.ops import Operation
    from dbshift.ops.context import Journal
    from dbshift.retry import BlockerWatch
    from dbshift.schema.snapshot import Snapshot

# Listing, status and history never execute operations: the modules that do are
# imported on first use (see `Runner.dialect` and `_load`), keeping start-up short.

Direction = Literal["up", "down"]
T = TypeVar("T")

log = logging.getLogger(__name__)
#: waiting for, taking and giving up on the runner lock (also `dialects/locking.py`)
lock_log = logging.getLogger("dbshift.lock")
_DOING = {"up": "applying", "down": "reverting"}


@dataclasses.dataclass(frozen=True)
class Step:
    script: Script
    direction: Direction

    @property
    def id(self) -> str:
        return self.script.id

    def describe(self) -> str:
        verb = "apply" if self.direction == "up" else "revert"
        return f"{verb} {self.id}" + (f"  {self.script.message}" if self.script.message else "")


@dataclasses.dataclass(frozen=True)
class Plan:
    direction: Direction
    target: str
    steps: tuple[Step, ...]

    def to_json(self) -> list[dict[str, Any]]:
        return [
            {"id": s.id, "direction": s.direction, "message": s.script.message} for s in self.steps
        ]


@dataclasses.dataclass(frozen=True)
class StepResult:
    id: str
    direction: Direction
    #: applied, reverted, stamped, or skipped (another runner had already done it)
    status: str
    duration_ms: int = 0
    statements: int = 0

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class RunReport:
    command: str
    plan: Plan
    results: tuple[StepResult, ...]
    dry_run: bool = False
    #: things the user should know about the run (listeners were told as well)
    warnings: tuple[str, ...] = ()

    @property
    def done(self) -> list[str]:
        return [r.id for r in self.results if r.status != "skipped"]

    @property
    def skipped(self) -> list[str]:
        return [r.id for r in self.results if r.status == "skipped"]

    def to_json(self) -> dict[str, Any]:
        return {
            "command": self.command,
            "target": self.plan.target,
            "direction": self.plan.direction,
            "dry_run": self.dry_run,
            "plan": self.plan.to_json(),
            "results": [r.to_json() for r in self.results],
            "warnings": list(self.warnings),
        }


class Listener(Protocol):
    """Told about progress; the CLI draws a progress bar from it. A listener with a
    `warned(text)` method is told warnings before the run starts (it is optional)."""

    def step_started(self, step: Step, index: int, total: int) -> None: ...

    def step_finished(self, result: StepResult) -> None: ...


@dataclasses.dataclass(frozen=True)
class Retry:
    """A migration is about to be tried again after its statement's lock wait timed out.
    A listener with a `step_retrying(retry)` method is told (it is optional)."""

    step: Step
    attempt: int  # the attempt about to start (2 is the first retry)
    attempts: int  # the most there will be
    delay: float  # seconds before it starts
    #: what the statement waited for, when the database told (retries are watched)
    blocker: str | None = None

    @property
    def reason(self) -> str:
        return f"lock timeout, attempt {self.attempt} of {self.attempts}, in {self.delay:.1f} s"

    def describe(self) -> str:
        text = f"retrying {self.step.id} ({self.reason})"
        return text + (f": waited for {self.blocker}" if self.blocker else "")


class _Silent:
    def step_started(self, step: Step, index: int, total: int) -> None:
        pass

    def step_finished(self, result: StepResult) -> None:
        pass


# -- pure planning and verification ---------------------------------------------------


def make_plan(
    graph: Graph,
    scripts: Mapping[str, Script],
    rows: Sequence[HistoryRow],
    direction: Direction,
    target: str,
) -> Plan:
    applied = [r.id for r in rows if r.applied and r.id in scripts]
    if direction == "up":
        ids = graph.plan_up(applied, target)
    else:
        ids = graph.plan_down(applied, target, applied_order=applied)
    return Plan(direction, target, tuple(Step(scripts[i], direction) for i in ids))


def other_backend(plan: Plan, backend: str) -> str | None:
    """One warning for the upgrade steps whose files `make` wrote for other backends
    than `backend` (their column types may not be what the models give here); files
    that name no backends (hand-written ones) are trusted."""
    if plan.direction != "up":
        return None
    foreign = [
        s.script
        for s in plan.steps
        if s.script.backends is not None and backend not in s.script.backends
    ]
    if not foreign:
        return None
    first = foreign[0]
    more = f" and {len(foreign) - 1} more were" if len(foreign) > 1 else " was"
    return (
        f"{first.name}{more} generated for {', '.join(first.backends or ())}, not "
        f"{backend}: column types may differ from what the models give on {backend} "
        "(configure backends in dbshift.toml so `make` writes for every backend)"
    )


def verify(
    scripts: Mapping[str, Script], rows: Iterable[HistoryRow], folder: Path | None = None
) -> None:
    """Refuse to run on a history whose applied files were edited or are gone; with the
    migrations `folder`, a missing file that a git branch has says so."""
    error = refusal(in_history(scripts, rows, folder), "`dbshift status` marks every one")
    if error is not None:
        raise error


# -- execution --------------------------------------------------------------------------


class Runner:
    """Executes plans on one connection. Holds the database lock while it works."""

    def __init__(
        self,
        config: Config,
        conn: sa.Connection,
        scripts: Sequence[Script],
        graph: Graph,
        listener: Listener | None = None,
    ) -> None:
        self.config = config
        self.conn = conn
        self.scripts = {s.id: s for s in scripts}
        self.graph = graph
        self.listener = listener or _Silent()
        self.history = History(config.table_prefix, config.schema)
        self._code: dict[str, MigrationCode] = {}
        self._held: _Held | None = None  # set while the lock is held
        self._rows: dict[str, HistoryRow] = {}  # the history as read under the lock

    @property
    def dialect(self) -> DialectRules:
        from dbshift.dialects import dialect_for

        return dialect_for(self.conn.dialect)

    def rows(self) -> list[HistoryRow]:
        rows = self.history.rows(self.conn)
        self.conn.commit()
        return rows

    def pin_bookkeeping(self) -> None:
        """Name the bookkeeping tables with the schema (database, on MySQL) they are in
        now, before any migration runs: one that sets `search_path` or runs `USE` must
        not make dbshift write its history elsewhere, or fail to find it."""
        schema = self.history.schema
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
        command = "upgrade" if direction == "up" else "downgrade"
        rows = self.rows()
        verify(self.scripts, rows, self.config.migrations_dir)
        self._refuse_partial(rows, direction, single_transaction)
        plan = make_plan(self.graph, self.scripts, rows, direction, target)
        self._log_plan(command, plan, rows, dry_run)
        warnings = self._warn(other_backend(plan, self.conn.dialect.name))
        if dry_run or not plan.steps:
            return RunReport(command, plan, (), dry_run, warnings)
        if single_transaction:
            self._check_single_transaction(plan)
        operations = {step.id: self._operations(step) for step in plan.steps}
        for step in plan.steps:
            self._refuse_transaction_control(step, operations[step.id])
        results: list[StepResult] = []  # what stays done, whatever happens next

        def so_far() -> RunReport:
            return RunReport(command, plan, tuple(results), warnings=warnings)

        with self._reporting(so_far), self._locked():
            rows = self.rows()
            self._rows = {r.id: r for r in rows}
            verify(self.scripts, rows, self.config.migrations_dir)
            self._refuse_partial(rows, direction, single_transaction)
            current = make_plan(self.graph, self.scripts, rows, direction, target)
            pending = {s.id for s in current.steps}
            results += [
                StepResult(s.id, direction, "skipped") for s in plan.steps if s.id not in pending
            ]
            for skipped in results:
                log.info("skipped %s: another runner did it meanwhile", skipped.id)
            for step in current.steps:
                if step.id not in operations:
                    operations[step.id] = self._operations(step)
                    self._refuse_transaction_control(step, operations[step.id])
            if single_transaction:
                ran: list[StepResult] = []  # done only once the transaction commits
                with self._locked_transaction():
                    self._run_steps(current.steps, operations, ran, in_transaction=True)
                results += ran
            else:
                self._run_steps(current.steps, operations, results, in_transaction=False)
        return RunReport(command, plan, tuple(results), warnings=warnings)

    def stamp(self, target: str) -> RunReport:
        """Record the target state in the history without running anything.

        Stamping moves up when the target needs migrations that are not applied, and
        down when it is already applied (everything after it is unrecorded). The plan is
        made again under the lock: what another runner recorded meanwhile is skipped."""

        def plan_for(rows: Sequence[HistoryRow]) -> Plan:
            direction: Direction = "down" if target == "base" or target.startswith("-") else "up"
            plan = make_plan(self.graph, self.scripts, rows, direction, target)
            already_there = direction == "up" and not plan.steps
            if already_there and target not in ("head", "heads") and not target.startswith("+"):
                plan = make_plan(self.graph, self.scripts, rows, "down", target)
            return plan

        rows = self.rows()
        plan = plan_for(rows)
        self._log_plan("stamp", plan, rows)
        results = []
        with self._locked(), self._locked_transaction():
            current = plan_for(self.history.rows(self.conn))
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

    # -- internals -----------------------------------------------------------------

    def _log_plan(
        self, command: str, plan: Plan, rows: Sequence[HistoryRow], dry_run: bool = False
    ) -> None:
        """INFO: what a run is about to do, from which revisions to which, and where (the
        URL with its password masked). Built once per run, and only when someone listens."""
        if not log.isEnabledFor(logging.INFO):
            return
        graph = self.graph
        applied = {r.id for r in rows if r.applied and r.id in graph}
        after = set(applied)
        if plan.direction == "up":
            after.update(s.id for s in plan.steps)
        else:
            after.difference_update(s.id for s in plan.steps)
        if command == "stamp":
            verb = "record" if plan.direction == "up" else "unrecord"
        else:
            verb = "apply" if plan.direction == "up" else "revert"
        log.info(
            "%s%s on %s (%s): %d migration(s) to %s, from %s to %s (target %s)",
            command,
            " (dry run)" if dry_run else "",
            self.conn.dialect.name,
            mask_url(self.config.url),
            len(plan.steps),
            verb,
            _revisions(graph, applied),
            _revisions(graph, after),
            plan.target,
        )

    def _warn(self, *texts: str | None) -> tuple[str, ...]:
        found = tuple(t for t in texts if t)
        for text in found:
            log.warning("%s", text)
        told = getattr(self.listener, "warned", None)
        if callable(told):
            for text in found:
                told(text)
        return found

    def _locked(self) -> _Held:
        return _Held(self)

    def _locked_transaction(self) -> contextlib.AbstractContextManager[sa.RootTransaction]:
        """Inside `_locked()`: a transaction in which this runner alone writes."""
        assert self._held is not None
        return self._held.transaction()

    def _check_single_transaction(self, plan: Plan) -> None:
        if not self.dialect.transactional_ddl:
            raise UsageError(
                f"--single-transaction is impossible on {self.conn.dialect.name}: "
                "it commits DDL implicitly",
                hint="run without --single-transaction",
            )
        for step in plan.steps:
            if not step.script.transactional:
                raise UsageError(
                    f"{step.script.name} is marked non-transactional and cannot run "
                    "inside --single-transaction",
                    hint="run without --single-transaction",
                )

    def _refuse_transaction_control(self, step: Step, ops: Sequence[Operation]) -> None:
        """Before anything runs: no COMMIT/BEGIN/ROLLBACK in a migration (dbshift owns the
        transactions; see `dbshift.migrations.txcontrol`)."""
        from dbshift.migrations.txcontrol import check_transaction_control

        code = self._code.get(step.id)
        lines = (code.up_lines if step.direction == "up" else code.down_lines) if code else ()
        check_transaction_control(
            step.script.name, ops, lines, self.conn.dialect.name, step.script.transactional
        )

    def _refuse_partial(
        self, rows: Sequence[HistoryRow], direction: Direction, single_transaction: bool
    ) -> None:
        """A migration that stopped part-way resumes where it stopped when `upgrade` runs
        it again statement by statement (see `_Journal`). Refused: a downgrade or a
        --single-transaction run while one is partial, and a partial migration that
        would now run inside a transaction (its committed statements would run again)."""
        for row in rows:
            if row.applied:
                continue
            script = self.scripts.get(row.id)
            statement_by_statement = script is not None and (
                not script.transactional or not self.dialect.transactional_ddl
            )
            if direction == "up" and not single_transaction and statement_by_statement:
                continue
            if not statement_by_statement:
                first = "it would now run in a transaction, repeating what ran; "
            elif single_transaction:
                first = "run `dbshift upgrade` without --single-transaction to resume it; "
            else:
                first = "resume it with `dbshift upgrade` first; "
            raise IntegrityError(
                f"{row.id} stopped part-way: {len(row.done)} statement(s) ran and were committed",
                migration=row.id,
                hint=first + "or " + undo_or_finish(row.id),
            )

    def _check_resumable(
        self, steps: Sequence[Step], ops: Mapping[str, Sequence[Operation]]
    ) -> None:
        """Before anything runs: a partial migration whose file was edited resumes only
        when the statements that ran are still its first statements, unchanged."""
        for step in steps:
            row = self._rows.get(step.id)
            if step.direction != "up" or row is None or row.applied or not row.done:
                continue
            if row.checksum == step.script.checksum:
                continue  # the same file: its statements are the ones that ran
            now = self._first_statements(ops[step.id], len(row.done))
            conflict = resume_conflict(row.done, now)
            if conflict is not None:
                raise _differs(step, row, conflict)

    def _first_statements(self, ops: Sequence[Operation], count: int) -> list[StatementMark]:
        """The first `count` statements the operations would send now, without sending
        any (tables are still read from the database where an operation needs one)."""
        from dbshift.ops.context import OnlineContext

        probe = _Probe(count)
        ctx = OnlineContext(self.conn, default_schema=self.config.schema, journal=probe)
        with contextlib.suppress(_Probe.Enough):
            for op in ops:
                op.execute(ctx)
        if self.conn.in_transaction():
            self.conn.rollback()
        return probe.marks

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
        operations: Mapping[str, Sequence[Operation]],
        results: list[StepResult],
        *,
        in_transaction: bool,
    ) -> None:
        """Run `steps` in order, appending each one's result to `results` as it
        completes (so that a failure leaves there what was done before it)."""
        self._check_resumable(steps, operations)
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
                raise self._interrupted(step, stop, in_transaction) from None
            except DbshiftError as error:
                self._log_failure(step, error, in_transaction)
                raise
            _log_result(result)
            results.append(result)
            self.listener.step_finished(result)

    def _interrupted(
        self, step: Step, stop: KeyboardInterrupt | Interrupted, in_transaction: bool
    ) -> Interrupted:
        """A signal stopped `step`: which migration, and the state the history shows."""
        signal_name = stop.signal_name if isinstance(stop, Interrupted) else "SIGINT"
        if in_transaction:
            state = "rolled back with the whole run (--single-transaction)"
        else:
            state = self._state_after_stop(step)
        stopped = Interrupted(
            signal_name, f"{step.script.name} interrupted by {signal_name}: {state}"
        )
        log.error("%s", stopped.message)
        return stopped

    def _log_failure(self, step: Step, error: DbshiftError, in_transaction: bool) -> None:
        """ERROR: the migration that failed, why, and the state it left. A transaction
        rolled back; a statement-by-statement run's state is read back from the history
        (a query, so only when someone listens)."""
        if not log.isEnabledFor(logging.ERROR):
            return
        if in_transaction:
            state = "rolled back with the whole run (--single-transaction)"
        elif self._in_one_transaction(step):
            state = "rolled back"
        else:
            state = self._state_after_stop(step)
        verb = "upgrade" if step.direction == "up" else "downgrade"
        message = self.config.redact(error.message)
        log.error("%s of %s failed: %s; state: %s", verb, step.id, message, state)

    def _state_after_stop(self, step: Step) -> str:
        try:
            if self.conn.in_transaction():
                self.conn.rollback()
            row = self.history.row(self.conn, step.id)
            self.conn.commit()
        except Exception:  # the connection is gone: the history says (`dbshift status`)
            return "its state is unknown (see `dbshift status`)"
        if step.direction == "down":
            return "reverted" if row is None else "rolled back (still applied)"
        if row is None:
            return "rolled back (nothing ran)"
        if row.applied:
            return "applied"
        return (
            f"partial with {len(row.done)} statement(s) committed and recorded "
            "(`dbshift upgrade` resumes it)"
        )

    def _run_step(self, step: Step, ops: Sequence[Operation], in_transaction: bool) -> StepResult:
        if in_transaction:
            return self._execute(step, ops)
        if self._in_one_transaction(step):
            with self.conn.begin():
                return self._execute(step, ops)
        return self._execute_by_statement(step, ops)

    def _recorded(self, step: Step) -> HistoryRow | None:
        """The step's history row, called first in the step's transaction. Under an
        exclusive lock (MySQL) the history read at locking is current. Otherwise this
        transaction takes the lock (or raises `Busy`, and the step is retried) and reads
        the row again: another runner may have done the work since the plan was made. A
        step that will run outside a transaction takes the lease here."""
        if self._exclusive:
            return self._rows.get(step.id)
        held = self._held
        assert held is not None
        held.guard(check_lease=False)
        row, lease = self.history.row_with_lease(self.conn, step.id, held.lease.name)
        held.check_lease(lease)
        outside = not self._in_one_transaction(step)
        if outside and not self._already_done(step, row):
            held.take_lease(step.id)
        return row

    def _retrying(self, step: Step, run: Callable[[], StepResult]) -> StepResult:
        """`run()`, tried again after a growing pause while a statement's lock wait
        times out, at most `lock_retries` times. Each retry is logged (a `retry` event)
        and told to the listener; after the last, the error says what it waited for."""
        from dbshift.retry import backoff, lock_timed_out

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
                    gave_up = self._gave_up(step, error, attempts, blocker)
                    if self._in_one_transaction(step):  # else `_stopped` logged it
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
        from dbshift.dialects.base import Timeouts

        script, config = step.script, self.config
        lock = script.lock_timeout
        statement = script.statement_timeout
        return Timeouts(
            lock=config.migration_lock_timeout if lock is None else lock,
            statement=config.statement_timeout if statement is None else statement,
        )

    def _blocker_watch(self, step: Step) -> BlockerWatch | None:
        """On a retry: a watch that asks, from a second connection, what the step's
        statement waits for, shortly before its lock wait would time out."""
        from dbshift import database
        from dbshift.retry import BlockerWatch

        dialect, lock = self.dialect, self._timeouts(step).lock
        if dialect.session_query is None or lock <= 0:
            return None
        session = str(self.conn.execute(sa.text(dialect.session_query)).scalar())
        self.conn.commit()
        config = self.config
        return BlockerWatch(
            lambda: database.run(config, lambda c: dialect.blocker(c, session)), lock * 0.7
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

    def _log(self, step: Step, event: str, detail: str) -> None:
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
        return step.script.transactional and self.dialect.transactional_ddl

    def _gave_up(
        self, step: Step, error: MigrationError, attempts: int, blocker: str | None
    ) -> MigrationError:
        lock = self._timeouts(step).lock
        waited = f" for {blocker}" if blocker else " for a table lock"
        state = (
            "the migration was rolled back"
            if self._in_one_transaction(step)
            else "the statements before it stay committed and recorded"
        )
        return MigrationError(
            self.config.redact(
                f"{step.script.name}: gave up after {attempts} attempt(s), each waiting "
                f"{lock:g} s{waited} (at `{_short(error.statement or '')}`); {state}"
            ),
            migration=step.id,
            statement=error.statement,
            hint="find what holds the lock (a long transaction, often `idle in transaction`), "
            "let it finish or end it, and run the command again; or raise "
            "lock_retries or migration_lock_timeout (a file's `lock_timeout`)",
        )

    def _attempt(self, step: Callable[[], StepResult]) -> StepResult:
        if self._held is None:
            with busy_as_lock_timeout(self.config.lock_timeout):
                return step()
        try:
            return self._held.attempt(step)
        finally:
            self._held.free_lease()

    @property
    def _exclusive(self) -> bool:
        return self._held is not None and self._held.lock.exclusive

    @staticmethod
    def _already_done(step: Step, row: HistoryRow | None) -> bool:
        return (row is not None and row.applied) if step.direction == "up" else row is None

    def _execute(self, step: Step, ops: Sequence[Operation]) -> StepResult:
        """Run one migration inside the caller's transaction, with its history row."""
        row = self._recorded(step)
        if self._already_done(step, row):
            return StepResult(step.id, step.direction, "skipped")
        self.dialect.set_timeouts(self.conn, self._timeouts(step), local=True)
        started = time.perf_counter()
        count = self._emit(step, ops, on_statement=None)
        duration = int((time.perf_counter() - started) * 1000)
        self._record(step, duration, replace=row is not None)
        return StepResult(step.id, step.direction, _done(step), duration, count)

    def _execute_by_statement(self, step: Step, ops: Sequence[Operation]) -> StepResult:
        """Run one migration statement by statement, outside a migration-wide transaction.

        Going up, the history follows the run: a `partial` row is written before the
        first statement and updated after each one (`_Journal`), so a failure, a kill or
        a lost connection leaves an exact record, and the next `upgrade` resumes after
        the last recorded statement."""
        if self._exclusive:  # no query to make: no transaction to open
            row = self._recorded(step)
        else:
            with self.conn.begin():
                row = self._recorded(step)
        if self._already_done(step, row):
            return StepResult(step.id, step.direction, "skipped")
        journal = _Journal(self, step, row) if step.direction == "up" else None
        # Going up, each statement runs in a transaction with its progress record (the
        # journal runs one that cannot run in a transaction in autocommit mode). Going
        # down nothing is recorded until the end: with transactional DDL, each statement
        # commits on its own, as it runs.
        autocommit = journal is None and self.dialect.transactional_ddl
        default_level = self.conn.default_isolation_level
        if autocommit:
            self.conn.execution_options(isolation_level="AUTOCOMMIT")
        restore = self.dialect.set_timeouts(self.conn, self._timeouts(step), local=False)
        if self.conn.in_transaction():  # the session's settings outlive a failed statement
            self.conn.commit()
        succeeded = False
        started = time.perf_counter()
        try:
            if journal is not None and row is None:
                self.history.start_partial(self.conn, step.id, step.script.checksum)
                self.conn.commit()
            count = self._emit(step, ops, on_statement=None, journal=journal)
            self.conn.commit()
            succeeded = True
        except MigrationError as error:
            self._stopped(step, journal, error)
            if journal is not None and journal.in_doubt:
                raise MigrationError(
                    error.message,
                    migration=step.id,
                    statement=error.statement,
                    hint="the previous run stopped while this statement ran, so it may have "
                    "completed: if it did not, fix it and run `dbshift upgrade`; if it did, "
                    "finish the migration by hand and run `dbshift repair --applied "
                    f"{step.id}`",
                ) from error
            raise
        except BaseException as error:
            self._stopped(step, journal, error)
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
        duration = int((time.perf_counter() - started) * 1000)
        with self.conn.begin():
            restore()
            self._record(
                step,
                duration,
                replace=row is not None or journal is not None,
                detail=journal.summary() if journal is not None else None,
            )
        return StepResult(step.id, step.direction, _done(step), duration, count)

    def _stopped(self, step: Step, journal: _Journal | None, error: BaseException) -> None:
        """After a statement-by-statement run stopped: a statement the database refused
        is recorded as the one that failed. When the run was cut off (connection lost,
        interrupted) the history stays as the journal left it: the statement in flight
        may have completed on the server."""
        try:
            if self.conn.in_transaction():
                self.conn.rollback()
        except (exc.DBAPIError, exc.InvalidRequestError):
            return
        failed = journal.running if journal is not None else None
        if failed is None or self.conn.invalidated or _connection_lost(error):
            return
        if not isinstance(error, MigrationError):
            return
        assert journal is not None
        try:
            with self.conn.begin():
                if journal.marks:
                    self.history.record_progress(
                        self.conn, step.id, step.script.checksum, journal.marks, failed
                    )
                else:  # nothing ran: nothing to remember but the event
                    self.history.remove(self.conn, step.id)
                self.conn.execute(
                    self.history.log_event(
                        "failed",
                        step.id,
                        step.script.checksum,
                        f"statement {len(journal.marks) + 1} failed; "
                        f"{len(journal.marks)} statement(s) completed",
                    )
                )
        except exc.DBAPIError:
            pass  # the original error says what went wrong; the journal's row stands

    def _emit(
        self,
        step: Step,
        ops: Sequence[Operation],
        on_statement: Callable[[str], None] | None,
        journal: Journal | None = None,
    ) -> int:
        """Execute a migration's operations; the number of statements that ran."""
        from dbshift.ops.context import CodeFailed, OnlineContext

        ctx = OnlineContext(
            self.conn,
            default_schema=self.config.schema,
            on_statement=on_statement,
            journal=journal,
        )
        for index, op in enumerate(ops):
            try:
                op.execute(ctx)
            except exc.DBAPIError as error:
                committing = journal.committing if isinstance(journal, _Journal) else None
                raise self._failure(step, index, error, ctx.executed, committing) from error
            except CodeFailed as failed:
                done = len(journal.marks) if isinstance(journal, _Journal) else ctx.executed
                raise self._code_failure(step, done, failed.error) from failed.error
            except IntegrityError:
                raise
            except DbshiftError as error:
                raise MigrationError(
                    f"{step.script.name}: {error.message}", migration=step.id, hint=error.hint
                ) from error
        return ctx.executed

    def _code_failure(self, step: Step, executed: int, error: BaseException) -> MigrationError:
        """An `op.run` callable raised: the migration failed, with the state it left."""
        from dbshift.migrations.loader import code_failed

        failure = code_failed(step.script.path, step.id, error)
        if self._in_one_transaction(step):
            state = "the migration was rolled back"
        else:
            state = f"the {executed} statement(s) before it stay committed and recorded"
        failure.message = self.config.redact(f"{failure.message}; {state}")
        failure.args = (failure.message,)
        return failure

    def _failure(
        self,
        step: Step,
        index: int,
        error: exc.DBAPIError,
        executed: int = 0,
        committing: StatementMark | None = None,
    ) -> MigrationError:
        """`error` from a statement (`executed` ran before it in this run), or from
        recording and committing the statement `committing` (the error's statement is
        then the journal's, or none)."""
        from dbshift.database import driver_message

        code = self._code.get(step.id)
        lines = (code.up_lines if step.direction == "up" else code.down_lines) if code else ()
        where = step.script.name + (f":{lines[index]}" if index < len(lines) else "")
        statement = " ".join(str(error.statement or "").split())
        at = f"at `{_short(statement)}`"
        if committing is not None:
            at = f"committing `{committing.text}`"
        verb = "upgrade" if step.direction == "up" else "downgrade"
        in_transaction = self._in_one_transaction(step)
        lost = _connection_lost(error)
        if lost:
            problem = f"lost the database connection ({driver_message(error)})"
            hint = (
                "the migration was rolled back; run the command again"
                if in_transaction
                else "completed statements stay committed and recorded (`dbshift status`); "
                "run the command again to resume"
            )
        elif self._schema_already_there(step, executed, error):
            problem = driver_message(error)
            hint = (
                "the database seems to have this schema already (made by another tool or "
                f"by hand): if it matches the migrations up to {step.id}, record them as "
                f"applied without running them: `dbshift stamp {step.id}`"
            )
        else:
            problem = driver_message(error)
            hint = (
                "the migration was rolled back; fix it and run again"
                if in_transaction
                else "statements before this one stay committed (`dbshift status` lists "
                "them); fix this one and run `dbshift upgrade` to resume here"
            )
        return MigrationError(
            self.config.redact(f"{where}: {verb} failed {at}: {problem}"),
            migration=step.id,
            statement=statement,
            hint=hint,
        )

    def _schema_already_there(self, step: Step, executed: int, error: exc.DBAPIError) -> bool:
        """Whether the first statement of an upgrade (`executed` ran before it) failed
        because what it creates exists, on a database dbshift never migrated or in a
        root migration: the schema was made some other way, and the history should be
        stamped, not the migration fixed. Not for a migration an earlier run started."""
        if step.direction != "up" or executed or step.id in self._rows:
            return False
        if not self.dialect.already_exists(error.orig or error):
            return False
        never_migrated = not any(r.applied for r in self._rows.values())
        return never_migrated or not step.script.parents

    def _record(
        self, step: Step, duration_ms: int, replace: bool, detail: str | None = None
    ) -> None:
        checksum = step.script.checksum
        if step.direction == "up":
            if replace:  # the partial row of a statement-by-statement run
                self.history.remove(self.conn, step.id)
            self.conn.execute(self.history.insert_applied(step.id, checksum, duration_ms))
            self.conn.execute(self.history.log_event("upgrade", step.id, checksum, detail))
        else:
            self.history.remove(self.conn, step.id)
            self.conn.execute(self.history.log_event("downgrade", step.id, checksum))

    # -- operations: loaded, or derived for downgrades ----------------------------------

    def _load(self, script: Script) -> MigrationCode:
        from dbshift.migrations import loader

        code = self._code.get(script.id)
        if code is None:
            code = self._code[script.id] = loader.load(script, self.conn.dialect.name)
        return code

    def _operations(self, step: Step) -> Sequence[Operation]:
        code = self._load(step.script)
        if step.direction == "up":
            return code.upgrade
        if code.downgrade is not None:
            return code.downgrade
        return derive_downgrade(code, self.replay(self.graph.ancestors([step.id], inclusive=False)))

    def replay(self, ids: Collection[str]) -> Snapshot:
        """The schema the given migrations build, replayed in memory."""
        from dbshift.schema.snapshot import Snapshot

        snapshot = Snapshot()
        for migration_id in self.graph.topo_order(ids):
            for op in self._load(self.scripts[migration_id]).upgrade:
                snapshot = op.apply(snapshot)
        return snapshot


def derive_downgrade(code: MigrationCode, before: Snapshot) -> tuple[Operation, ...]:
    """The inverse of a migration's operations, last first, or IrreversibleMigration."""
    name = code.script.name
    if code.script.kind == "sql":
        by_hand = (
            f", or revert it by hand and record that with `dbshift repair --rolled-back "
            f"{code.script.id}`"
        )
        if code.empty_down:
            raise IrreversibleMigration(
                f"the `-- dbshift:down` section of {name} is empty",
                migration=code.script.id,
                hint="write the statements that undo the up section under it" + by_hand,
            )
        raise IrreversibleMigration(
            f"{name} has no `-- dbshift:down` section",
            migration=code.script.id,
            hint="add `-- dbshift:down` after the up section, with the statements that undo "
            "it" + by_hand,
        )
    from dbshift.ops.base import inverse

    try:
        return tuple(inverse(code.upgrade, before))
    except IrreversibleMigration as error:
        raise IrreversibleMigration(
            f"{name}: {error.message}",
            migration=code.script.id,
            hint=error.hint or "write a downgrade(op) function in the migration",
        ) from None


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
            hint="wait for the other run to finish, or raise --lock-timeout",
        )
        lock_log.error("%s", gave_up.message)
        raise gave_up from None


def _since(started: float) -> float:
    return time.monotonic() - started


def _short(statement: str, width: int = 120) -> str:
    """A statement on one line, cut to `width` characters."""
    text = " ".join(statement.split())
    return text if len(text) <= width else text[: width - 3] + "..."


def _done(step: Step) -> str:
    return "applied" if step.direction == "up" else "reverted"


_STAMPED = {"up": "applied", "down": "not applied"}


def _revisions(graph: Graph, applied: Collection[str]) -> str:
    """The applied migrations none of whose children is applied, or `base`."""
    leaves = sorted(i for i in applied if not any(c in applied for c in graph.children_of(i)))
    return ", ".join(leaves) or "base"


def _log_result(result: StepResult) -> None:
    if result.status == "skipped":
        log.info("skipped %s: another runner did it meanwhile", result.id)
    else:
        log.info(
            "%s %s in %d ms (%d statement(s))",
            result.status,
            result.id,
            result.duration_ms,
            result.statements,
        )


def _connection_lost(error: BaseException) -> bool:
    """Whether `error` (or what caused it) is the database connection going away."""
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, exc.DBAPIError) and seen.connection_invalidated:
            return True
        seen = seen.__cause__
    return False


def _differs(step: Step, row: HistoryRow, conflict: str) -> IntegrityError:
    problem = edited_partial(step.script, row, conflict)
    return IntegrityError(problem.message, migration=problem.migration, hint=problem.hint)


class _Journal:
    """The history's record of one migration run statement by statement (see
    `dbshift.ops.context.Journal`).

    Starting from the statements a partial row says ran, it skips them, then records
    each completed statement with one UPDATE. A statement that can run in a transaction
    runs in one with that UPDATE (`Commit.WITH_RECORD`): it is recorded exactly when it
    commits, so a run cut off at any moment leaves an exact record. One that cannot
    (`CREATE INDEX CONCURRENTLY`) runs in autocommit mode, and one that commits by
    itself (MySQL's DDL) commits before its record: when the earlier run was cut off
    during such a statement, the re-run asks the database whether it completed
    (`DialectRules.in_doubt`) and, for the same file, counts it as done, runs it (its
    error may still show that it had completed: `already_applied`), or stops and asks
    a person."""

    def __init__(self, runner: Runner, step: Step, row: HistoryRow | None) -> None:
        from dbshift.dialects.base import server_version

        self.runner = runner
        self.step = step
        self.rules = runner.dialect
        self.server_version = server_version(runner.conn)
        # `row` is None, or the partial row of an earlier run (an applied one is skipped)
        self.marks: list[StatementMark] = list(row.done) if row is not None else []
        self.resume_at = len(self.marks)
        self.position = 0  # statements met so far, skipped or run
        self.running: StatementMark | None = None
        self.uncertain = (
            row is not None and row.interrupted and row.checksum == step.script.checksum
        )
        self.settled_at: int | None = None
        #: the statement whose record `done` is writing and committing, meanwhile
        self.committing: StatementMark | None = None

    def skip(self, sql: str) -> bool:
        if self.position < self.resume_at:
            self.position += 1
            return True
        self.running = StatementMark.of(sql)
        if self.uncertain and self.position == self.resume_at:
            return self._completed_before(sql)
        return False

    def _completed_before(self, sql: str) -> bool:
        """The statement the cut-off run was in: True when it had completed (it is
        recorded now); False to run it; an IntegrityError when nobody can tell."""
        from dbshift.dialects.base import Commit

        if self.rules.commit_of(sql, self.server_version) is Commit.WITH_RECORD:
            self.uncertain = False  # it committed with its record, or not at all
            return False
        conn = self.runner.conn
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
            f"{self.position + 1} (`{_short(sql, 80)}`) ran outside a transaction, and "
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
        from dbshift.dialects.base import Commit

        if self.rules.commit_of(sql, self.server_version) is not Commit.OUTSIDE:
            yield
            return
        conn = self.runner.conn
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
        """Record the statement and commit: with it, unless it committed by itself or
        ran in autocommit mode. Until that commit succeeds it is still `running` (a
        deferred constraint fails at the commit, and then the statement did not run)."""
        mark = self.running = self.committing = self.running or StatementMark.of(sql)
        conn = self.runner.conn
        self.runner.history.record_progress(
            conn, self.step.id, self.step.script.checksum, [*self.marks, mark]
        )
        conn.commit()
        self.running = self.committing = None
        self.position += 1
        self.marks.append(mark)

    def settled(self, sql: str, error: exc.DBAPIError) -> bool:
        if not self.uncertain or self.position != self.resume_at:
            return False
        if not self.rules.already_applied(sql, error.orig or error):
            return False
        if self.runner.conn.in_transaction():
            self.runner.conn.rollback()
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


class _Probe:
    """A journal that runs nothing: it collects the first statements a migration sends."""

    class Enough(Exception):
        pass

    def __init__(self, count: int) -> None:
        self.count = count
        self.marks: list[StatementMark] = []

    def skip(self, sql: str) -> bool:
        if len(self.marks) >= self.count:
            raise _Probe.Enough
        self.marks.append(StatementMark.of(sql))
        return True

    def executing(self, sql: str) -> contextlib.AbstractContextManager[None]:
        return contextlib.nullcontext()

    def done(self, sql: str) -> None:
        pass

    def settled(self, sql: str, error: exc.DBAPIError) -> bool:
        return False


class _Held:
    """The runner lock for the duration of a `with` block; the tables exist inside.

    A session lock (MySQL) is held for the whole block. Otherwise every writing
    transaction takes the lock itself (`guard`, through `transaction` or `_recorded`)
    and checks the lease; when another runner has either, the transaction is rolled back
    and tried again after a pause, outside any transaction, until `lock_timeout`."""

    def __init__(self, runner: Runner) -> None:
        from dbshift.dialects.locking import lock_for
        from dbshift.lease import Lease

        self.runner = runner
        self.lock = lock_for(runner.conn, runner.config.table_prefix, runner.config.schema)
        self.lease = Lease("migrations")
        self._heartbeat: Heartbeat | None = None
        self._signed = False  # this runner's name is in the lease row (session locks)

    def __enter__(self) -> _Held:
        conn = self.runner.conn
        self.runner.pin_bookkeeping()
        if conn.in_transaction():
            conn.commit()
        self.lock.acquire(conn, self.runner.config.lock_timeout, self._signed_by)
        self.runner._held = self
        conn.execution_options(**{WRITER: True})
        try:
            with self.transaction(check_lease=False):
                self.runner.history.ensure(conn)
            if self.lock.exclusive:
                self._sign()
        except BaseException:
            self._release()
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._release()

    def guard(self, check_lease: bool = True) -> None:
        """Inside a transaction: make it the only writing one, or raise `Busy`."""
        from dbshift.lease import Busy

        conn = self.runner.conn
        if not self.lock.guard(conn, self.lease.me):
            raise Busy(lambda: self.lock.holder(conn))
        if check_lease:
            self.check_lease(self.runner.history.lease_row(conn, self.lease.name))

    def check_lease(self, row: LeaseRow | None) -> None:
        """Raise `Busy` when another runner's live lease is `row`."""
        from dbshift.lease import Busy, describe

        if not self.lock.exclusive and self.lease.blocks(row):
            assert row is not None
            raise Busy(lambda: describe(row))

    @contextlib.contextmanager
    def transaction(self, check_lease: bool = True) -> Iterator[sa.RootTransaction]:
        """A transaction in which this runner alone writes (see `guard`)."""
        conn = self.runner.conn

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
        from dbshift.lease import Busy

        timeout = self.runner.config.lock_timeout
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
                if self.runner.conn.in_transaction():
                    self.runner.conn.rollback()
                if time.monotonic() >= deadline:
                    gave_up = LockTimeout(
                        f"the migration lock is held by another runner{busy.holder()}; "
                        f"gave up after {timeout:g} s",
                        hint="wait for the other run to finish, or raise --lock-timeout",
                    )
                    lock_log.error("%s", gave_up.message)
                    raise gave_up from None
                if waiting_since is None:
                    waiting_since = time.monotonic()
                    self._log_waiting(busy, timeout)
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
                self.runner.conn.rollback()
        lock_log.info(
            "waiting up to %g s for the migration lock, held by another runner%s", timeout, holder
        )

    def take_lease(self, migration_id: str) -> None:
        """Inside a guarded transaction: take the lease for a step that runs outside
        one; the heartbeat keeps it alive from the commit on until `free_lease`."""
        from dbshift.lease import Busy, Heartbeat, describe

        conn, history = self.runner.conn, self.runner.history
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
        from dbshift import database

        def renew(conn: sa.Connection) -> bool:
            with conn.begin():
                return self.runner.history.renew_lease(conn, self.lease.name, self.lease.token)

        return database.run(self.runner.config, renew)

    def _sign(self) -> None:
        """Under a session lock (MySQL), name this runner in the lease row, so that a
        runner that times out waiting can say who holds the lock (see `_signed_by`)."""
        conn, history = self.runner.conn, self.runner.history
        with conn.begin():
            mine = self.lease.mine(None, self.lock.session(conn))
            history.take_lease(conn, mine, history.lease_row(conn, self.lease.name), 0)
        self._signed = True

    def _signed_by(self, session: str) -> str:
        """The runner that signed the lease row from database session `session`."""
        from dbshift.lease import signature

        conn = self.runner.conn
        try:
            row = self.runner.history.lease_row(conn, self.lease.name)
        except exc.SQLAlchemyError:  # no table yet
            row = None
        conn.rollback()
        signed = row is not None and row.token is not None and row.session == session
        return signature(row) if signed and row is not None else ""

    def free_lease(self) -> None:
        if self._heartbeat is None and not self._signed:
            return
        if self._heartbeat is not None:
            self._heartbeat.stop()
        self._heartbeat = None
        self._signed = False
        conn = self.runner.conn
        try:
            if conn.in_transaction():
                conn.rollback()
            with conn.begin():
                self.runner.history.free_lease(conn, self.lease.name, self.lease.token)
        except exc.SQLAlchemyError:
            pass  # the connection is gone or broken (the step's error is raised): it expires

    def _release(self) -> None:
        conn = self.runner.conn
        self.free_lease()
        self.runner._held = None
        conn.execution_options(**{WRITER: False})
        try:
            conn.rollback()  # also the transaction a lost connection left pending
            self.lock.release(conn)
        except (exc.DBAPIError, exc.InvalidRequestError):
            pass  # the connection is gone, and the server dropped the lock with it
