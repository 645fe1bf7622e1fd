"""PostgreSQL: what dbshift does there, in one package.

`rules.py` (DDL, transaction blocks, error codes, what the catalog shows after a cut),
`lock.py` (the runner's advisory lock), `normalize.py` (how it spells what it stores),
`introspect.py` (a schema from the catalog), `opclasses.py` (default operator classes).
This module holds the flags and limits, and imports the rest only when asked (the
lookup must stay light for `status`; see `dbshift.dialects.backend`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dbshift.dialects import sqlite
from dbshift.dialects.backend import Backend
from dbshift.dialects.limits import SchemaLimits, scope
from dbshift.dialects.mysql import charsets as mysql

if TYPE_CHECKING:
    import sqlalchemy as sa
    from sqlalchemy.engine import Dialect

    from dbshift.dialects.base import DialectRules
    from dbshift.dialects.introspect_common import NameFilter
    from dbshift.dialects.locking import DatabaseLock
    from dbshift.dialects.normalize import Normalizer
    from dbshift.dialects.scratch import Scratch
    from dbshift.schema.snapshot import Enum, Sequence, Table


class PostgreSQL(Backend):
    names = ("postgresql",)
    sync_driver = "psycopg"
    async_driver = "asyncpg"
    limits = SchemaLimits(
        backend="PostgreSQL",
        name_scopes=(
            # tables, sequences and indexes (those behind unique and primary keys too) are
            # relations; a table's row type shares the type namespace with enums
            scope("schema", "table", "sequence", "index", "unique", "primary_key"),
            scope("schema", "table", "enum"),
            scope("table", "primary_key", "unique", "foreign_key", "check"),
        ),
        identifier_length=63,
        identifier_in_bytes=True,
        long_names="truncates it, so the database never matches the models",
        foreign_key_target="unique",
        foreign_key_target_exists=True,
        # its collations are its locales' (libc, ICU) and those CREATE COLLATION made:
        # only other backends' names are surely not among them
        foreign_collations=mysql.COLLATIONS | sqlite.COLLATIONS,
    )
    has_enum_types = True
    writes_in_cte = True
    online_rewrites = True
    not_valid_constraints = True
    unique_from_index = True
    concurrent_indexes = True
    alter_type_using = True
    identity_columns = True
    merges_duplicate_uniques = True  # CREATE TABLE keeps the first of several
    reports_deferrable = True
    postgresql_lexicon = True

    def search_path_statement(
        self, dialect: Dialect, schemas: tuple[str, ...], *, local: bool = False
    ) -> str | None:
        quote = dialect.identifier_preparer.quote_identifier
        scope = "SET LOCAL" if local else "SET"
        return f"{scope} search_path TO " + ", ".join(quote(schema) for schema in schemas)

    def database_names(self, conn: sa.Connection) -> list[str] | None:
        rows = conn.exec_driver_sql(
            "SELECT datname FROM pg_database WHERE datallowconn AND NOT datistemplate"
        )
        return sorted(str(row[0]) for row in rows)

    def tenant_schemas(self, conn: sa.Connection) -> list[str] | None:
        """The database's schemas but the server's own (`pg_catalog`, `pg_toast`, any
        `pg_*`, `information_schema`)."""
        rows = conn.exec_driver_sql("SELECT nspname FROM pg_namespace")
        names = (str(row[0]) for row in rows)
        return sorted(n for n in names if not n.startswith("pg_") and n != "information_schema")

    def _new_rules(self) -> DialectRules:
        # lazy: the lookup stays light for `status` (dbshift.dialects.backend's doc)
        from dbshift.dialects.postgresql.rules import PostgreSQLRules

        return PostgreSQLRules()

    def lock(self, name: str) -> DatabaseLock:
        # lazy: the lookup stays light for `status` (dbshift.dialects.backend's doc)
        from dbshift.dialects.postgresql.lock import PostgresLock

        return PostgresLock(name)

    def normalizer(self, dialect: Dialect) -> Normalizer:
        # lazy: the lookup stays light for `status` (dbshift.dialects.backend's doc)
        from dbshift.dialects.postgresql.normalize import PostgreSQLNormalizer

        return PostgreSQLNormalizer(dialect, self)

    def read_tables(
        self, conn: sa.Connection, schema: str | None, keep: NameFilter, wanted: set[str] | None
    ) -> list[Table]:
        # lazy: the lookup stays light for `status` (dbshift.dialects.backend's doc)
        from dbshift.dialects.postgresql.introspect import pg_tables

        return pg_tables(conn, schema, keep, wanted)

    def read_enums(self, conn: sa.Connection, schema: str | None) -> list[Enum]:
        # lazy: the lookup stays light for `status` (dbshift.dialects.backend's doc)
        from dbshift.dialects.postgresql.introspect import pg_enums

        return pg_enums(conn, schema)

    def read_sequences(self, conn: sa.Connection, schema: str | None) -> list[Sequence]:
        # lazy: the lookup stays light for `status` (dbshift.dialects.backend's doc)
        from dbshift.dialects.postgresql.introspect import pg_sequences

        return pg_sequences(conn, schema)

    def scratch(self) -> Scratch:
        # lazy: the lookup stays light for `status` (dbshift.dialects.backend's doc)
        from dbshift.dialects.postgresql.scratch import PostgreSQLScratch

        return PostgreSQLScratch(self.prepare_engine)


BACKEND = PostgreSQL()
