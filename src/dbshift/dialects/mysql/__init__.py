"""MariaDB and MySQL: what dbshift does there, in one package.

`rules.py` (DDL: `MODIFY`, InnoDB's foreign-key indexes; implicit commits, error codes,
timeouts), `lock.py` (the runner's `GET_LOCK`), `normalize.py` (how the server rewrites
what it is given), `introspect.py` (a schema from `information_schema`). This module
holds the flags and limits, and imports the rest only when asked (the lookup must stay
light for `status`; see `dbshift.dialects.backend`).

SQLAlchemy names a MariaDB server reached through `mysql://` `mysql` (with
`is_mariadb`), through `mariadb://` `mariadb`: one backend serves both names.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from dbshift.dialects.backend import Backend
from dbshift.dialects.limits import SchemaLimits, scope
from dbshift.dialects.mysql.charsets import COLLATIONS
from dbshift.dialects.mysql.flavour import is_mariadb

if TYPE_CHECKING:
    import sqlalchemy as sa
    from sqlalchemy.engine import Dialect
    from sqlalchemy.types import TypeEngine

    from dbshift.dialects.base import DialectRules
    from dbshift.dialects.introspect_common import NameFilter
    from dbshift.dialects.locking import DatabaseLock
    from dbshift.dialects.normalize import Normalizer
    from dbshift.dialects.scratch import Scratch
    from dbshift.schema.snapshot import Column, Sequence, Table


_SYSTEM_DATABASES = frozenset({"mysql", "information_schema", "performance_schema", "sys"})


class MySQL(Backend):
    names = ("mysql", "mariadb")
    sync_driver = "pymysql"
    limits = SchemaLimits(
        backend="MariaDB/MySQL",
        name_scopes=(
            scope("schema", "table", "sequence"),  # a MariaDB sequence is a table
            scope("schema", "foreign_key"),
            scope("table", "index", "unique"),
            scope("table", "check", "unique"),
            scope("table", "check", "foreign_key"),
        ),
        identifier_length=64,
        foreign_key_target="indexed",
        foreign_key_target_exists=True,
        foreign_key_integers_match=True,
        tables_need_columns=True,
        deferrable_foreign_keys=False,
        collations=COLLATIONS,
        key_bytes=3072,  # InnoDB, DYNAMIC rows (the default) and 16 KiB pages
    )
    #: MariaDB builds a longer unique key as a hash of its columns and cuts a one-column
    #: index to the prefix that fits; MySQL refuses both
    mariadb_limits = dataclasses.replace(
        limits, long_keys_kept=frozenset({"unique", "one_column_index"})
    )
    transactional_ddl = False
    drop_index_needs_table = True
    unique_is_index = True  # MySQL has no other kind
    mysql_lexicon = True

    def server_name(self, dialect: Dialect) -> str:
        return "mariadb" if is_mariadb(dialect) else str(dialect.name)

    def limits_for(self, dialect: Dialect) -> SchemaLimits:
        return self.mariadb_limits if is_mariadb(dialect) else self.limits

    def key_part_bytes(
        self, table: Table, column: Column, prefix: int | None, dialect: Dialect
    ) -> int | None:
        # lazy: the lookup stays light for `status` (dbshift.dialects.backend's doc)
        from dbshift.dialects.mysql.keys import key_part_bytes

        return key_part_bytes(table, column, prefix, dialect)

    def needs_live_dialect(self, dialect: Dialect) -> bool:
        """A `mysql://` URL may reach MySQL or MariaDB, whose DDL differs (MariaDB has
        sequences); `mariadb://` says which."""
        return str(dialect.name) == "mysql"

    def prepare_engine(self, engine: sa.Engine) -> None:
        """PyMySQL connects through `connect.py`'s connection, which asked for no TLS
        does not load the system's CA bundle only to turn verification off. asyncmy
        (the async driver) needs nothing: it makes no TLS context unless asked, and
        asked it requires TLS (tests/test_mysql_tls.py)."""
        if engine.dialect.driver != "pymysql":
            return
        # lazy: the lookup stays light for `status` (dbshift.dialects.backend's doc)
        from sqlalchemy import event

        from dbshift.dialects.mysql.connect import connect

        @event.listens_for(engine, "do_connect")
        def _connect(dialect: Dialect, record: Any, cargs: Any, cparams: Any) -> Any:
            return connect(*cargs, **cparams)

    def database_names(self, conn: sa.Connection) -> list[str] | None:
        """The server's databases but its own (`mysql`, the schemas of `SHOW DATABASES`
        that hold the server's catalog and statistics)."""
        rows = conn.exec_driver_sql("SHOW DATABASES")
        names = (str(row[0]) for row in rows)
        return sorted(n for n in names if n.lower() not in _SYSTEM_DATABASES)

    def compiled_for(self, dialect: Dialect) -> tuple[object, ...]:
        """Also which server a `mysql://` URL reached (their DDL differs)."""
        return (*super().compiled_for(dialect), is_mariadb(dialect))

    def history_timestamp(self, dialect: Dialect) -> TypeEngine[Any]:
        """`DATETIME(6)`: DATETIME drops fractions unless asked. (Imported here, so that
        reading the history elsewhere never imports the MySQL dialect.)"""
        # lazy: the lookup stays light for `status` (dbshift.dialects.backend's doc)
        from sqlalchemy.dialects.mysql import DATETIME

        return dialect.type_descriptor(DATETIME(fsp=6))

    def _new_rules(self) -> DialectRules:
        # lazy: the lookup stays light for `status` (dbshift.dialects.backend's doc)
        from dbshift.dialects.mysql.rules import MySQLRules

        return MySQLRules()

    def lock(self, name: str) -> DatabaseLock:
        # lazy: the lookup stays light for `status` (dbshift.dialects.backend's doc)
        from dbshift.dialects.mysql.lock import MySQLLock

        return MySQLLock(name)

    def normalizer(self, dialect: Dialect) -> Normalizer:
        # lazy: the lookup stays light for `status` (dbshift.dialects.backend's doc)
        from dbshift.dialects.mysql.normalize import MySQLNormalizer

        return MySQLNormalizer(dialect, self)

    def read_tables(
        self, conn: sa.Connection, schema: str | None, keep: NameFilter, wanted: set[str] | None
    ) -> list[Table]:
        # lazy: the lookup stays light for `status` (dbshift.dialects.backend's doc)
        from dbshift.dialects.mysql.introspect import mysql_tables

        return mysql_tables(conn, schema, keep, wanted)

    def read_sequences(self, conn: sa.Connection, schema: str | None) -> list[Sequence]:
        # lazy: the lookup stays light for `status` (dbshift.dialects.backend's doc)
        from dbshift.dialects.mysql.introspect import mysql_sequences

        return mysql_sequences(conn, schema)

    def scratch(self) -> Scratch:
        # lazy: the lookup stays light for `status` (dbshift.dialects.backend's doc)
        from dbshift.dialects.mysql.scratch import MySQLScratch

        return MySQLScratch(self.prepare_engine)


BACKEND = MySQL()
