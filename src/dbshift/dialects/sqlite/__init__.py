"""SQLite: what dbshift does there, in one package.

`rules.py` (the ALTERs it has, the table rebuild for the rest, what must run outside a
transaction), `ddl.py` (a table's own CREATE TABLE text read and edited for the
rebuild), `normalize.py` (how it spells what it stores), `introspect.py` (a schema from
its pragmas). Its runner lock is the write lock `BEGIN IMMEDIATE` takes
(`dbshift.database`), so it uses the base lock. This module holds the flags and limits,
and imports the rest only when asked (the lookup must stay light for `status`; see
`dbshift.dialects.backend`).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from dbshift.dialects.backend import Backend
from dbshift.dialects.limits import SchemaLimits, collations, scope

if TYPE_CHECKING:
    import sqlalchemy as sa
    from sqlalchemy.engine import Dialect

    from dbshift.dialects.base import DialectRules
    from dbshift.dialects.introspect_common import NameFilter
    from dbshift.dialects.normalize import Normalizer
    from dbshift.dialects.scratch import Scratch
    from dbshift.schema.snapshot import Table


#: SQLite's own collations; any other must be registered on the connection
#: (`create_collation`), which dbshift's connections do not do
COLLATIONS = collations("BINARY", "NOCASE", "RTRIM")


class SQLite(Backend):
    names = ("sqlite",)
    sync_driver = "pysqlite"
    async_driver = "aiosqlite"
    limits = SchemaLimits(
        backend="SQLite",
        name_scopes=(scope("schema", "table", "index"),),
        tables_need_columns=True,
        collations=COLLATIONS,
    )
    late_references = True
    write_lock_wait_argument = "timeout"
    begins_own_transactions = True
    constraints_by_rebuild = True
    integer_primary_key_is_rowid = True
    keeps_comments = False
    sqlite_lexicon = True

    def server_of(self, url: sa.URL) -> str:
        """The folder of the file: files side by side share a disk."""
        return f"sqlite:{Path(url.database or '').parent}"

    def _new_rules(self) -> DialectRules:
        # lazy: the lookup stays light for `status` (dbshift.dialects.backend's doc)
        from dbshift.dialects.sqlite.rules import SQLiteRules

        return SQLiteRules()

    def normalizer(self, dialect: Dialect) -> Normalizer:
        # lazy: the lookup stays light for `status` (dbshift.dialects.backend's doc)
        from dbshift.dialects.sqlite.normalize import SQLiteNormalizer

        return SQLiteNormalizer(dialect, self)

    def read_tables(
        self, conn: sa.Connection, schema: str | None, keep: NameFilter, wanted: set[str] | None
    ) -> list[Table]:
        # lazy: the lookup stays light for `status` (dbshift.dialects.backend's doc)
        from dbshift.dialects.sqlite.introspect import sqlite_tables

        return sqlite_tables(conn, schema, keep, wanted)

    def scratch(self) -> Scratch:
        # lazy: the lookup stays light for `status` (dbshift.dialects.backend's doc)
        from dbshift.dialects.sqlite.scratch import SQLiteScratch

        return SQLiteScratch(self.prepare_engine)


BACKEND = SQLite()
