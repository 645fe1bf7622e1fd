"""Refusals made before anything runs: a run that cannot be done as asked stops with
nothing changed (--single-transaction where DDL commits, transaction control in a
transactional migration, a migration that stopped part-way and cannot resume so).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, TypeVar

import sqlalchemy as sa

from dbshift.errors import IntegrityError, UsageError
from dbshift.history import HistoryRow, StatementMark
from dbshift.integrity import edited_partial, resume_conflict, undo_or_finish
from dbshift.migrations.scripts import Script
from dbshift.runner.plan import Direction, Plan, Step

if TYPE_CHECKING:
    from dbshift.dialects import Backend
    from dbshift.ops import Operation

#: what a step runs (its operations, or its kept statements: `first_statements` reads it)
W = TypeVar("W")


def check_single_transaction(plan: Plan, backend: Backend, name: str) -> None:
    if not backend.transactional_ddl:
        raise UsageError(
            f"--single-transaction is impossible on {name}: it commits DDL implicitly",
            hint="run without --single-transaction",
        )
    for step in plan.steps:
        if not step.script.transactional:
            raise UsageError(
                f"{step.script.name} is marked non-transactional and cannot run "
                "inside --single-transaction",
                hint="run without --single-transaction",
            )


def refuse_transaction_control(
    step: Step, ops: Sequence[Operation], lines: Sequence[int], backend: str
) -> None:
    """No COMMIT/BEGIN/ROLLBACK in a migration (dbshift owns the transactions; see
    `dbshift.migrations.txcontrol`); `lines` are its statements' lines."""
    # lazy: a no-op upgrade (the check reads operations, which only pending steps load)
    from dbshift.migrations.txcontrol import check_transaction_control

    check_transaction_control(step.script.name, ops, lines, backend, step.script.transactional)


def refuse_partial(
    rows: Sequence[HistoryRow],
    scripts: Mapping[str, Script],
    backend: Backend,
    direction: Direction,
    single_transaction: bool,
) -> None:
    """A migration that stopped part-way resumes where it stopped when `upgrade` runs
    it again statement by statement (see `StatementJournal`). Refused: a downgrade or a
    --single-transaction run while one is partial, and a partial migration that would
    now run inside a transaction (its committed statements would run again)."""
    for row in rows:
        if row.applied:
            continue
        script = scripts.get(row.id)
        statement_by_statement = script is not None and (
            not script.transactional or not backend.transactional_ddl
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


def check_resumable(
    steps: Sequence[Step],
    ops: Mapping[str, W],
    rows: Mapping[str, HistoryRow],
    first_statements: Callable[[W, int], list[StatementMark]],
) -> None:
    """A partial migration whose file was edited resumes only when the statements that
    ran (its row in `rows`) are still its `first_statements`, unchanged."""
    for step in steps:
        row = rows.get(step.id)
        if step.direction != "up" or row is None or row.applied or not row.done:
            continue
        if row.checksum == step.script.checksum:
            continue  # the same file: its statements are the ones that ran
        now = first_statements(ops[step.id], len(row.done))
        conflict = resume_conflict(row.done, now)
        if conflict is not None:
            problem = edited_partial(step.script, row, conflict)
            raise IntegrityError(problem.message, migration=problem.migration, hint=problem.hint)


def first_statements(
    conn: sa.Connection, schema: str | None, ops: Sequence[Operation], count: int
) -> list[StatementMark]:
    """The first `count` statements the operations would send now, without sending
    any (tables are still read from the database where an operation needs one)."""
    # lazy: a no-op upgrade: only resuming a partial migration runs operations here
    from dbshift.ops.context import OnlineContext
    from dbshift.runner.journal import Probe

    probe = Probe(count)
    ctx = OnlineContext(conn, default_schema=schema, journal=probe)
    with contextlib.suppress(Probe.Enough):
        for op in ops:
            op.execute(ctx)
    if conn.in_transaction():
        conn.rollback()
    return probe.marks
