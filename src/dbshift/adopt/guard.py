"""Rolling deploys: while the other tool's version table is there, the runner refuses
to run if that tool moved it since `adopt` recorded it (docs/adopt.md).

Only a database with adopted history rows is checked (the runner has read the rows
already), so others pay nothing; an adopted one pays one read of the log and one of
the version table per run.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from dbshift.adopt import versions
from dbshift.errors import IntegrityError
from dbshift.history import ADOPTED_FROM, History, HistoryRow


def refuse_if_moved(conn: sa.Connection, history: History, rows: Sequence[HistoryRow]) -> None:
    """Raise IntegrityError (exit 4) when the version table `adopt` recorded now names
    other revisions; nothing when it was dropped or no adoption was recorded."""
    if not any(r.applied_by.startswith(ADOPTED_FROM) for r in rows):
        return
    event = history.last_event(conn, "adopt")
    recorded = versions.from_detail(event["detail"]) if event is not None else None
    if recorded is None:
        return
    table, heads, dropped = recorded
    if dropped:
        return
    now = table.heads(conn)
    if now is None or set(now) == set(heads):
        return
    raise IntegrityError(
        f"{table.shown} moved since `dbshift adopt` recorded it ({', '.join(heads) or 'empty'}"
        f" then, {', '.join(now) or 'empty'} now): {table.tool} ran on this database after "
        "the adoption",
        hint=f"convert and record its new revisions with `dbshift adopt` again, and once no "
        f"deploy runs {table.tool} any more, `dbshift adopt {table.drop_flag}`",
    )
