"""`Backend`: everything dbshift knows about one database, in one object.

Each supported database is a package under `dialects/` (`postgresql/`, `mysql/`,
`sqlite/`) whose `__init__` defines a `Backend` subclass: the capability flags that
code elsewhere reads instead of the backend's name, its limits, and methods giving its
DDL rules, runner lock, normalizer and introspection. `dbshift.dialects.backend_for`
finds it from a dialect or a dialect name; anything it does not know gets this base,
standard SQL read through SQLAlchemy's inspector.

Importing a backend package stays light: `status` and `history` look the backend up
(the history's timestamp type) and must not import DDL rules, introspection or the
normalizers, so those modules are imported the first time they are asked for.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

from dbshift.dialects.limits import SchemaLimits

if TYPE_CHECKING:
    import sqlalchemy as sa
    from sqlalchemy.engine import Dialect
    from sqlalchemy.types import TypeEngine

    from dbshift.dialects.base import DialectRules
    from dbshift.dialects.introspect_common import NameFilter
    from dbshift.dialects.locking import DatabaseLock
    from dbshift.dialects.normalize import Normalizer
    from dbshift.dialects.scratch import Scratch
    from dbshift.schema.snapshot import Column, Enum, Sequence, Table


class Backend:
    """A database as dbshift sees it; this base is standard SQL. A backend overrides
    the flags that differ and the methods that give its own rules, lock, normalizer and
    introspection."""

    #: the SQLAlchemy dialect names it serves (the first is its own name)
    names: tuple[str, ...] = ()
    #: what the backend refuses to create (`make` checks the models against it)
    limits: SchemaLimits = SchemaLimits()

    # -- capability flags: read these, never the backend's name --------------------------

    #: DDL is transactional: a migration and its history row commit together
    transactional_ddl = True
    #: enums are named schema objects (`CREATE TYPE ... AS ENUM`); elsewhere they live
    #: inline in the column type, and a live database reports none to compare
    has_enum_types = False
    #: foreign keys are checked when used, not when created: a table may refer to one
    #: that does not exist yet, and be dropped while others still refer to it
    late_references = False
    #: `make` has online rewrites for this backend (`make --safe`: indexes built
    #: concurrently, constraints added NOT VALID then validated), written by default
    online_rewrites = False
    #: a constraint can be added `NOT VALID` and its rows checked later by
    #: `VALIDATE CONSTRAINT` (without it, `not_valid` is ignored and validating is nothing)
    not_valid_constraints = False
    #: a unique constraint can be made from an existing unique index (`ADD ... UNIQUE
    #: USING INDEX`)
    unique_from_index = False
    #: indexes can be built `CONCURRENTLY`, and a failed build leaves an INVALID index
    #: behind that the catalog shows
    concurrent_indexes = False
    #: `DROP INDEX` must name the table (index names are per table)
    drop_index_needs_table = False
    #: constraints are added and dropped by rebuilding the table, which needs its
    #: definition (SQLite has no ALTER for constraints)
    constraints_by_rebuild = False
    #: a data-modifying statement can ride in another one's WITH: the runner writes a
    #: history row and its log event in one statement
    writes_in_cte = False
    #: a column type change may take a `USING` expression converting the old values
    alter_type_using = False
    #: columns can be `GENERATED ... AS IDENTITY`, and an identity is changed by DDL of
    #: its own (`ADD/DROP IDENTITY`) that `make` does not write
    identity_columns = False
    #: a single-column `INTEGER PRIMARY KEY` is the rowid, never NULL whatever it declares
    integer_primary_key_is_rowid = False
    #: unique constraints are unique indexes (there is no other kind)
    unique_is_index = False
    #: the server keeps one of several unique constraints on the same columns (the
    #: first name given winning)
    merges_duplicate_uniques = False
    #: the server keeps comments on tables and columns
    keeps_comments = True
    #: the catalog reports foreign keys' DEFERRABLE / INITIALLY, so they compare
    reports_deferrable = False

    # -- connecting (`dbshift.database`) -------------------------------------------------

    #: the driver's connect argument for how long a connection waits for the database's
    #: write lock (SQLite's `timeout`), given `lock_timeout`; None: no such argument
    write_lock_wait_argument: str | None = None
    #: the driver leaves DDL outside transactions: dbshift turns the driver's own
    #: transaction handling off and emits BEGIN itself (`BEGIN IMMEDIATE` for the
    #: runner's writes, which is the runner lock there)
    begins_own_transactions = False

    # -- drivers (the pytest plugin's engines, `dbshift.testing`) ------------------------

    #: the synchronous driver a URL gets where the given one is async, None: the
    #: dialect's default
    sync_driver: str | None = None
    #: the async driver an async engine gets where the given URL is synchronous, None:
    #: dbshift supports none for this backend
    async_driver: str | None = None

    # -- how SQL text is cut into statements (`migrations/sqlsplit.py`) ------------------
    # Each names a family of lexical rules a backend follows (a PostgreSQL-compatible
    # server sets `postgresql_lexicon`); none of them: standard SQL.

    #: dollar quotes, `E'...'` strings, psql meta-commands, `COPY ... FROM STDIN` data,
    #: `standard_conforming_strings`, nested block comments
    postgresql_lexicon = False
    #: backslash escapes and double-quoted strings, backtick names, `#` and `/*! */`
    #: comments, the client's `DELIMITER` and `SOURCE`, compound statements
    mysql_lexicon = False
    #: backtick and bracket names, `CREATE TRIGGER ... BEGIN ... END`, `EXPLAIN`
    sqlite_lexicon = False

    @property
    def name(self) -> str:
        """The backend's own name (`postgresql`), "default" for standard SQL."""
        return self.names[0] if self.names else "default"

    def __repr__(self) -> str:
        return f"<Backend {self.name}>"

    # -- per-dialect facts -----------------------------------------------------------

    def server_name(self, dialect: Dialect) -> str:
        """The server `dialect` talks to, as the linter and messages name it; differs
        from `dialect.name` where one dialect serves several servers (MariaDB behind a
        `mysql://` URL)."""
        return str(dialect.name)

    def limits_for(self, dialect: Dialect) -> SchemaLimits:
        """What the server `dialect` talks to refuses (`limits`, unless one dialect
        serves servers that differ: MariaDB keeps long unique keys MySQL refuses)."""
        return self.limits

    def key_part_bytes(
        self, table: Table, column: Column, prefix: int | None, dialect: Dialect
    ) -> int | None:
        """How many bytes `column` of `table` takes in an index key (the first `prefix`
        characters of it, when given), where `limits.key_bytes` is set; None when not
        known (the part is then not counted: a key is refused only when surely too
        long)."""
        return None

    def needs_live_dialect(self, dialect: Dialect) -> bool:
        """Whether DDL generated with `dialect` made without a server may differ from
        DDL for the server the URL reaches (a `mysql://` URL may reach MariaDB)."""
        return False

    def prepare_engine(self, engine: sa.Engine) -> None:
        """Adjust how a new engine connects (`dbshift.database.create_engine`, on the
        synchronous engine behind an async one too); nothing by default."""
        return None

    def search_path_statement(
        self, dialect: Dialect, schemas: tuple[str, ...], *, local: bool = False
    ) -> str | None:
        """The statement that puts `schemas` first on the path of unqualified names
        (`Config.search_path`: a fleet's tenant schema), each name quoted: for the rest
        of the transaction when `local`, else for the session; None where the backend
        has none (a URL names the database there)."""
        return None

    def database_names(self, conn: sa.Connection) -> list[str] | None:
        """The databases of the server `conn` is on that a fleet may target (none of
        the server's own); None where there is no server to list them (SQLite: a file
        is a database)."""
        return None

    def tenant_schemas(self, conn: sa.Connection) -> list[str] | None:
        """The schemas of `conn`'s database that a fleet may target, one tenant each
        (none of the server's own); None where a database has no schemas of its own
        beside it (on MariaDB/MySQL a schema is a database)."""
        return None

    def server_of(self, url: sa.URL) -> str:
        """The server a URL reaches, as a fleet's `--per-server` counts targets."""
        return f"{url.get_backend_name()}://{url.host or ''}:{url.port or ''}"

    def compiled_for(self, dialect: Dialect) -> tuple[object, ...]:
        """What of a connected dialect the SQL compiled for it depends on, beside the
        operation: the backend, the dialect and its driver, the server's version, how it
        quotes names and whether strings escape backslashes. The runner's statement
        cache (`dbshift.runner.cache`) keeps compiled statements under it."""
        preparer = dialect.identifier_preparer
        return (
            self.name,
            str(dialect.name),
            str(dialect.driver),
            tuple(getattr(dialect, "server_version_info", None) or ()),
            preparer.initial_quote,
            preparer.final_quote,
            preparer.escape_quote,
            bool(getattr(dialect, "_backslash_escapes", False)),
        )

    def history_timestamp(self, dialect: Dialect) -> TypeEngine[Any]:
        """The column type of the history's timestamps: UTC with microseconds (the
        order of applies needs them)."""
        # lazy: the lookup stays light for `status` (dbshift.dialects.backend's doc)
        import sqlalchemy as sa

        return dialect.type_descriptor(sa.DateTime())

    # -- the backend's parts, imported when first asked for (see the module's doc) --------

    def scratch(self) -> Scratch:
        """How throwaway databases are created, cloned and dropped on this backend (the
        pytest plugin's per-test databases; `dbshift.dialects.scratch`)."""
        # lazy: the lookup stays light for `status` (dbshift.dialects.backend's doc)
        from dbshift.dialects.scratch import Scratch

        return Scratch(self.prepare_engine)

    @functools.cached_property
    def rules(self) -> DialectRules:
        """The backend's DDL rules (one instance: they hold no state)."""
        return self._new_rules()

    def _new_rules(self) -> DialectRules:
        # lazy: the lookup stays light for `status` (dbshift.dialects.backend's doc)
        from dbshift.dialects.base import DialectRules

        return DialectRules()

    def lock(self, name: str) -> DatabaseLock:
        """The runner lock called `name` (see `dbshift.dialects.locking`)."""
        # lazy: the lookup stays light for `status` (dbshift.dialects.backend's doc)
        from dbshift.dialects.locking import DatabaseLock

        return DatabaseLock(name)

    def normalizer(self, dialect: Dialect) -> Normalizer:
        """A normalizer for one comparison (its type cache lives as long as it does)."""
        # lazy: the lookup stays light for `status` (dbshift.dialects.backend's doc)
        from dbshift.dialects.normalize import Normalizer

        return Normalizer(dialect, self)

    def read_tables(
        self, conn: sa.Connection, schema: str | None, keep: NameFilter, wanted: set[str] | None
    ) -> list[Table]:
        """Every table of `schema` that `keep` takes, read in a few bulk queries;
        `wanted` (when not None) narrows the queries to those names."""
        # lazy: the lookup stays light for `status` (dbshift.dialects.backend's doc)
        from dbshift.dialects.inspector import inspected_tables

        return inspected_tables(conn, schema, keep, wanted)

    def read_enums(self, conn: sa.Connection, schema: str | None) -> list[Enum]:
        """The named enum types of `schema` (where `has_enum_types`)."""
        return []

    def read_sequences(self, conn: sa.Connection, schema: str | None) -> list[Sequence]:
        """The explicit sequences of `schema`."""
        return []
