"""A database `dbshift adopt` took over from another tool: that tool's version table
(read, described in the `adopt` event, dropped), and the runner's guard for rolling
deploys.

`adopt` (above the runner) records what the table said (`VersionTable.detail`); while
the table is there, `refuse_if_moved` rebuilds it from that record (`from_detail`) and
reads it again before each run: the runner refuses to run if the other tool moved it
since. Only a database with adopted history rows is checked (the runner has read the
rows already), so others pay nothing; an adopted one pays one read of the log and one of
the version table per run. One class per tool, found by the tool's name in `READERS`.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from typing import Any, ClassVar

import sqlalchemy as sa

from dbshift.errors import IntegrityError
from dbshift.history import ADOPTED_FROM, History, HistoryRow


@dataclasses.dataclass(frozen=True)
class VersionTable:
    """Alembic's `alembic_version` (or the `version_table` env.py names): one row per
    head, its `version_num`."""

    tool: ClassVar[str] = "alembic"
    #: the `adopt` flag that drops it
    drop_flag: ClassVar[str] = "--drop-alembic-version"
    #: True when the table names every applied migration (yoyo), not the heads alone
    lists_all: ClassVar[bool] = False
    name: str = "alembic_version"
    schema: str | None = None

    @property
    def shown(self) -> str:
        return f"{self.schema}.{self.name}" if self.schema else self.name

    def _table(self) -> sa.Table:
        return sa.Table(
            self.name, sa.MetaData(), sa.Column("version_num", sa.String(255)), schema=self.schema
        )

    def heads(self, conn: sa.Connection) -> tuple[str, ...] | None:
        """The revisions the table names, sorted; None when there is no such table."""
        if not sa.inspect(conn).has_table(self.name, schema=self.schema):
            return None
        rows = conn.execute(sa.select(self._table().c.version_num))
        return tuple(sorted(str(r[0]) for r in rows))

    def drop(self, conn: sa.Connection) -> None:
        conn.execute(sa.schema.DropTable(self._table()))

    def detail(self, heads: Sequence[str], dropped: bool) -> str:
        """The `adopt` event's detail: which table, what it said, whether it was dropped."""
        return json.dumps(
            {
                "from": self.tool,
                "version_table": self.name,
                "schema": self.schema,
                "heads": list(heads),
                "dropped": dropped,
            },
            sort_keys=True,
        )


def from_detail(detail: str | None) -> tuple[VersionTable, tuple[str, ...], bool] | None:
    """(table, heads recorded, dropped) from an `adopt` event's detail; None if it is
    not one this version writes."""
    try:
        found: Any = json.loads(detail or "")
        reader = READERS[found["from"]]
        table = reader(found["version_table"], found.get("schema"))
        return table, tuple(found["heads"]), bool(found.get("dropped"))
    except (ValueError, KeyError, TypeError):
        return None


@dataclasses.dataclass(frozen=True)
class YoyoTable(VersionTable):
    """yoyo's `_yoyo_migration` (or the `migration_table` yoyo.ini names): one row per
    applied migration (`migration_hash`, `migration_id`, `applied_at_utc`). Dropping it
    drops yoyo's other tables too (`_yoyo_log`, `_yoyo_version`, `yoyo_lock`)."""

    tool: ClassVar[str] = "yoyo"
    drop_flag: ClassVar[str] = "--drop-yoyo-tables"
    lists_all: ClassVar[bool] = True
    #: yoyo's bookkeeping tables beside the migration table, fixed names
    others: ClassVar[tuple[str, ...]] = ("_yoyo_log", "_yoyo_version", "yoyo_lock")
    name: str = "_yoyo_migration"
    schema: str | None = None

    def _table(self) -> sa.Table:
        return sa.Table(
            self.name,
            sa.MetaData(),
            sa.Column("migration_hash", sa.String(64)),
            sa.Column("migration_id", sa.String(255)),
            sa.Column("applied_at_utc", sa.DateTime),
            schema=self.schema,
        )

    def heads(self, conn: sa.Connection) -> tuple[str, ...] | None:
        """Every migration the table names as applied, sorted; None without the table."""
        if not sa.inspect(conn).has_table(self.name, schema=self.schema):
            return None
        rows = conn.execute(sa.select(self._table().c.migration_id))
        return tuple(sorted(str(r[0]) for r in rows))

    def drop(self, conn: sa.Connection) -> None:
        conn.execute(sa.schema.DropTable(self._table()))
        inspector = sa.inspect(conn)
        for name in self.others:
            if name != self.name and inspector.has_table(name, schema=self.schema):
                table = sa.Table(name, sa.MetaData(), schema=self.schema)
                conn.execute(sa.schema.DropTable(table))


#: the version table of each tool `adopt` takes over from, by name
READERS: dict[str, type[VersionTable]] = {
    VersionTable.tool: VersionTable,
    YoyoTable.tool: YoyoTable,
}


def refuse_if_moved(conn: sa.Connection, history: History, rows: Sequence[HistoryRow]) -> None:
    """Raise IntegrityError (exit 4) when the version table `adopt` recorded now names
    other revisions; nothing when it was dropped or no adoption was recorded."""
    if not any(r.applied_by.startswith(ADOPTED_FROM) for r in rows):
        return
    event = history.last_event(conn, "adopt")
    recorded = from_detail(event["detail"]) if event is not None else None
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
