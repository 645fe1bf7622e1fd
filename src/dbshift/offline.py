"""Offline SQL: the script a DBA applies by hand, rendered with no database connection.

It comes from the same operations as online execution, rendered through the dialect,
and carries the bookkeeping statements, so a database migrated by the script is
indistinguishable from one migrated by `dbshift upgrade`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import sqlalchemy as sa

from dbshift import database
from dbshift._version import __version__
from dbshift.dialects import dialect_for
from dbshift.errors import UsageError
from dbshift.history import Event, History, utcnow
from dbshift.migrations import loader
from dbshift.ops import Operation
from dbshift.ops.context import OfflineContext, render_statement
from dbshift.runner import derive_downgrade
from dbshift.schema.snapshot import Snapshot

if TYPE_CHECKING:
    from dbshift.migrations.project import Project


def render_script(
    project: Project, range_: str | None, *, dialect: str | None = None, down: bool = False
) -> str:
    """`range_` is `[FROM:]TO`: the state the database is in (default: nothing applied, or
    every head for `down`) and the target (default: `head`, or `base` for `down`)."""
    config = project.config
    sa_dialect = database.offline_dialect(config, dialect) if dialect or config.url else None
    if sa_dialect is None:
        raise UsageError(
            "offline SQL needs a dialect", hint="pass --dialect postgresql (or mysql, sqlite)"
        )
    graph = project.graph
    start, _, target = (range_ or "").rpartition(":")
    if down:
        start_ids = (
            graph.ancestors([graph.resolve(start)]) if start else set(graph.ancestors(graph.heads))
        )
        ids = graph.plan_down(start_ids, target or "base")
    else:
        start_ids = graph.ancestors([graph.resolve(start)]) if start else set()
        ids = graph.plan_up(start_ids, target or "head")
    scripts = {s.id: s for s in project.scripts}
    codes = {
        i: loader.load(scripts[i], sa_dialect.name) for i in graph.ancestors(set(ids) | start_ids)
    }

    def replay(upto: set[str]) -> Snapshot:
        snapshot = Snapshot()
        for migration_id in graph.topo_order(upto):
            for op in codes[migration_id].upgrade:
                snapshot = op.apply(snapshot)
        return snapshot

    history = History(config.table_prefix, config.schema)
    transactional = dialect_for(sa_dialect).transactional_ddl
    direction: Event = "downgrade" if down else "upgrade"
    out = [
        f"-- dbshift {__version__} offline {direction} script for {sa_dialect.name}",
        f"-- generated {utcnow():%Y-%m-%d %H:%M:%S} UTC; {len(ids)} migration(s)",
        "",
    ]
    out += [render_statement(s, sa_dialect) + ";" for s in history.create_statements()]
    ctx = OfflineContext(sa_dialect, replay(start_ids), default_schema=config.schema)
    for migration_id in ids:
        script = scripts[migration_id]
        code = codes[migration_id]
        ops: Sequence[Operation]
        if down:
            before = replay(graph.ancestors([migration_id], inclusive=False))
            ops = code.downgrade if code.downgrade is not None else derive_downgrade(code, before)
        else:
            ops = code.upgrade
        wrap = transactional and script.transactional
        out += ["", f"-- {migration_id}" + (f": {script.message}" if script.message else "")]
        if wrap:
            out.append("BEGIN;")
        for op in ops:
            ctx.run(op)  # renders, and moves the offline snapshot past the operation
        out += [_terminated(s) for s in ctx.take()]
        if down:
            bookkeeping: list[sa.Executable] = [history.delete(migration_id)]
        else:
            bookkeeping = [
                history.insert_applied(migration_id, script.checksum, 0, at=history.now_sql())
            ]
        bookkeeping.append(
            history.log_event(
                direction, migration_id, script.checksum, "offline script", at=history.now_sql()
            )
        )
        out += [render_statement(s, sa_dialect) + ";" for s in bookkeeping]
        if wrap:
            out.append("COMMIT;")
    return "\n".join(out) + "\n"


def _terminated(statement: str) -> str:
    text = statement.rstrip()
    return text if text.endswith(";") else text + ";"
