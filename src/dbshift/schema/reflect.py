"""Reading one table's definition from a live database.

Used where an operation must restate a table or column (SQLite rebuilds, MySQL
`MODIFY`). It is whole-schema introspection narrowed to one table, so that an operation
and `introspect` never disagree about what a table looks like.
"""

from __future__ import annotations

import sqlalchemy as sa

from dbshift.schema.introspect import read_tables
from dbshift.schema.snapshot import Table


def reflect_table(conn: sa.Connection, name: str, schema: str | None = None) -> Table | None:
    """The table `name` as the database has it, or None when there is none."""
    found = read_tables(conn, schema, tables=[name])
    return found[0] if found else None
