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
from dbshift.dialects.limits import SchemaLimits, collations, scope
from dbshift.dialects.mysql.flavour import is_mariadb

if TYPE_CHECKING:
    import sqlalchemy as sa
    from sqlalchemy.engine import Dialect
    from sqlalchemy.types import TypeEngine

    from dbshift.dialects.base import DialectRules
    from dbshift.dialects.introspect_common import NameFilter
    from dbshift.dialects.locking import DatabaseLock
    from dbshift.dialects.normalize import Normalizer
    from dbshift.schema.snapshot import Column, Sequence, Table

#: the character sets of MariaDB 10.11 and MySQL 8, with the most bytes a character takes
#: (`information_schema.character_sets.maxlen`; `utf8` is `utf8mb3` on both)
_ONE_BYTE = (
    "armscii8 ascii binary cp1250 cp1251 cp1256 cp1257 cp850 cp852 cp866 dec8 geostd8 greek "
    "hebrew hp8 keybcs2 koi8r koi8u latin1 latin2 latin5 latin7 macce macroman swe7 tis620"
)
CHARSET_BYTES = {
    **dict.fromkeys(_ONE_BYTE.split(" "), 1),
    **dict.fromkeys(("big5", "cp932", "euckr", "gb2312", "gbk", "sjis", "ucs2"), 2),
    **dict.fromkeys(("eucjpms", "ujis", "utf8", "utf8mb3"), 3),
    **dict.fromkeys(("gb18030", "utf16", "utf16le", "utf32", "utf8mb4"), 4),
}
#: every collation is named after its character set (`utf8mb4_unicode_ci`), but
#: `binary` and MariaDB's `uca1400_*`, which serve several sets
COLLATIONS = collations(
    "binary", prefixes=(*(f"{charset}_" for charset in CHARSET_BYTES), "uca1400_")
)
#: the character set a column has when neither it nor its table names one: the server's
#: default, utf8mb4 on MySQL 8 and on MariaDB as distributions configure it (a model for
#: a latin1 server says so: `mysql_charset="latin1"`)
DEFAULT_CHARSET = "utf8mb4"


class MySQL(Backend):
    names = ("mysql", "mariadb")
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


BACKEND = MySQL()
