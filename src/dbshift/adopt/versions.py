"""The other tool's version table: read, described in the `adopt` event, dropped.

`adopt` records what the table said (`VersionTable.detail`); the runner's guard
(`adopt/guard.py`) rebuilds the table from that record (`from_detail`) and reads it
again before each run. One class per tool, found by the tool's name in `READERS`.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from typing import Any, ClassVar

import sqlalchemy as sa


@dataclasses.dataclass(frozen=True)
class VersionTable:
    """Alembic's `alembic_version` (or the `version_table` env.py names): one row per
    head, its `version_num`."""

    tool: ClassVar[str] = "alembic"
    #: the `adopt` flag that drops it
    drop_flag: ClassVar[str] = "--drop-alembic-version"
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


#: the version table of each tool `adopt` takes over from, by name (yoyo: not yet)
READERS: dict[str, type[VersionTable]] = {VersionTable.tool: VersionTable}
