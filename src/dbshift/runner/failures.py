"""How a migration's failure is told: the error (a `MigrationError` naming the file,
line and statement), the state the database was left in, and what to do about it.

Everything here builds text from what it is given: only `state_after_stop` reads the
history, and `interrupted` and `log_failure` log (to `dbshift.runner`). A message built
from a driver's error passes through `redact` (the configuration's: it hides the
password).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy import exc

from dbshift.database import driver_message
from dbshift.errors import DbshiftError, Interrupted, MigrationError
from dbshift.history import History, HistoryRow, StatementMark
from dbshift.runner.plan import Step
from dbshift.runner.report import log

if TYPE_CHECKING:
    from dbshift.dialects.base import DialectRules

Redact = Callable[[str], str]

#: the state of a step stopped in a --single-transaction run
ROLLED_BACK_WITH_RUN = "rolled back with the whole run (--single-transaction)"


def short(statement: str, width: int = 120) -> str:
    """A statement on one line, cut to `width` characters."""
    text = " ".join(statement.split())
    return text if len(text) <= width else text[: width - 3] + "..."


def connection_lost(error: BaseException) -> bool:
    """Whether `error` (or what caused it) is the database connection going away."""
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, exc.DBAPIError) and seen.connection_invalidated:
            return True
        seen = seen.__cause__
    return False


def statement_failure(
    step: Step,
    error: exc.DBAPIError,
    *,
    line: int | None,
    in_transaction: bool,
    schema_there: bool,
    committing: StatementMark | None,
    redact: Redact,
) -> MigrationError:
    """`error` from a statement at `line` of the file (None when unknown), or from
    recording and committing the statement `committing` (the error's statement is then
    the journal's, or none). `in_transaction`: the step ran in one transaction;
    `schema_there`: see `schema_already_there`."""
    where = step.script.name + (f":{line}" if line is not None else "")
    statement = " ".join(str(error.statement or "").split())
    at = f"at `{short(statement)}`"
    if committing is not None:
        at = f"committing `{committing.text}`"
    verb = "upgrade" if step.direction == "up" else "downgrade"
    if connection_lost(error):
        problem = f"lost the database connection ({driver_message(error)})"
        hint = (
            "the migration was rolled back; run the command again"
            if in_transaction
            else "completed statements stay committed and recorded (`dbshift status`); "
            "run the command again to resume"
        )
    elif schema_there:
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
        redact(f"{where}: {verb} failed {at}: {problem}"),
        migration=step.id,
        statement=statement,
        hint=hint,
    )


def schema_already_there(
    step: Step,
    executed: int,
    error: exc.DBAPIError,
    rows: Mapping[str, HistoryRow],
    rules: DialectRules,
) -> bool:
    """Whether the first statement of an upgrade (`executed` ran before it) failed
    because what it creates exists, on a database dbshift never migrated or in a root
    migration: the schema was made some other way, and the history (`rows`, as read
    under the lock) should be stamped, not the migration fixed. Not for a migration an
    earlier run started."""
    if step.direction != "up" or executed or step.id in rows:
        return False
    if not rules.already_exists(error.orig or error):
        return False
    never_migrated = not any(r.applied for r in rows.values())
    return never_migrated or not step.script.parents


def code_failure(
    step: Step, executed: int, error: BaseException, *, in_transaction: bool, redact: Redact
) -> MigrationError:
    """An `op.run` callable raised (`executed` statements committed before it, when
    the step ran outside a transaction): the migration failed, with the state it left."""
    # lazy: a no-op upgrade imports no migration loader
    from dbshift.migrations.loader import code_failed

    failure = code_failed(step.script.path, step.id, error)
    if in_transaction:
        state = "the migration was rolled back"
    else:
        state = f"the {executed} statement(s) before it stay committed and recorded"
    failure.message = redact(f"{failure.message}; {state}")
    failure.args = (failure.message,)
    return failure


def in_doubt(step: Step, error: MigrationError) -> MigrationError:
    """`error` from the statement an interrupted run was in: it may have completed."""
    return MigrationError(
        error.message,
        migration=step.id,
        statement=error.statement,
        hint="the previous run stopped while this statement ran, so it may have "
        "completed: if it did not, fix it and run `dbshift upgrade`; if it did, "
        "finish the migration by hand and run `dbshift repair --applied "
        f"{step.id}`",
    )


def gave_up(
    step: Step,
    error: MigrationError,
    attempts: int,
    blocker: str | None,
    *,
    lock_timeout: float,
    in_transaction: bool,
    redact: Redact,
) -> MigrationError:
    """The last of `attempts` waited `lock_timeout` seconds for a table lock (held by
    `blocker`, when the database told) and timed out as well."""
    waited = f" for {blocker}" if blocker else " for a table lock"
    state = (
        "the migration was rolled back"
        if in_transaction
        else "the statements before it stay committed and recorded"
    )
    return MigrationError(
        redact(
            f"{step.script.name}: gave up after {attempts} attempt(s), each waiting "
            f"{lock_timeout:g} s{waited} (at `{short(error.statement or '')}`); {state}"
        ),
        migration=step.id,
        statement=error.statement,
        hint="find what holds the lock (a long transaction, often `idle in transaction`), "
        "let it finish or end it, and run the command again; or raise "
        "lock_retries or table_lock_timeout (a file's `lock_timeout`)",
    )


def state_after_stop(conn: sa.Connection, history: History, step: Step) -> str:
    """The state a stopped step left, as the history tells it now."""
    try:
        if conn.in_transaction():
            conn.rollback()
        row = history.row(conn, step.id)
        conn.commit()
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


def interrupted(step: Step, stop: KeyboardInterrupt | Interrupted, state: str) -> Interrupted:
    """A signal stopped `step`, leaving `state`: which migration, logged as an ERROR."""
    signal_name = stop.signal_name if isinstance(stop, Interrupted) else "SIGINT"
    stopped = Interrupted(signal_name, f"{step.script.name} interrupted by {signal_name}: {state}")
    log.error("%s", stopped.message)
    return stopped


def log_failure(step: Step, error: DbshiftError, state: Callable[[], str], redact: Redact) -> None:
    """ERROR: the migration that failed, why, and the `state()` it left (called only
    when someone listens: it may read the history)."""
    if not log.isEnabledFor(logging.ERROR):
        return
    verb = "upgrade" if step.direction == "up" else "downgrade"
    log.error("%s of %s failed: %s; state: %s", verb, step.id, redact(error.message), state())
