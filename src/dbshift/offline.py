"""Offline SQL: the script a DBA applies by hand, rendered with no database connection.

It comes from the same operations as online execution, rendered through the dialect,
and carries the bookkeeping statements, so a database migrated by the script is
indistinguishable from one migrated by `dbshift upgrade`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import sqlalchemy as sa

from dbshift import database
from dbshift._version import __version__
from dbshift.dialects import backend_for
from dbshift.errors import UsageError
from dbshift.history import Event, History, utcnow
from dbshift.migrations.replay import Replay
from dbshift.ops.context import OfflineContext, render_statement

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
    replay = Replay({s.id: s for s in project.scripts}, graph, sa_dialect.name)
    history = History(config.table_prefix, config.schema)
    transactional = backend_for(sa_dialect).transactional_ddl
    direction: Event = "downgrade" if down else "upgrade"
    out = [
        f"-- dbshift {__version__} offline {direction} script for {sa_dialect.name}",
        f"-- generated {utcnow():%Y-%m-%d %H:%M:%S} UTC; {len(ids)} migration(s)",
        "",
    ]
    out += [render_statement(s, sa_dialect) + ";" for s in history.create_statements()]
    applied = replay.schema(start_ids)  # the schema the script starts on
    ctx = OfflineContext(sa_dialect, applied, default_schema=config.schema)
    for step in replay.walk(ids, "down" if down else "up", applied):
        script, migration_id = step.script, step.id
        wrap = transactional and script.transactional
        out += ["", f"-- {migration_id}" + (f": {script.message}" if script.message else "")]
        if wrap:
            out.append("BEGIN;")
        ctx.snapshot = step.before  # and `ctx.run` moves it past each operation, as the walk did
        for op in step.operations:
            ctx.run(op)
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
