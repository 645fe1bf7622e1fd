"""SQLite: the ALTERs it cannot do go through its documented table-rebuild procedure.

SQLite alters little in place (add, rename and drop of an unindexed column). Anything
else rebuilds the table (https://www.sqlite.org/lang_altertable.html#otheralter): create
the new definition under a temporary name, copy the rows, drop the old table, rename,
then recreate its indexes and triggers and check foreign keys. It runs inside the
migration's transaction and never commits: `defer_foreign_keys` replaces
`foreign_keys=OFF` (which cannot change inside a transaction), and `legacy_alter_table`
keeps the rename from checking or rewriting references in other tables, views and
triggers (which name the table, not its temporary name).

The new table is the old one's own CREATE TABLE text with the change made in place
(`ddl.py`), not a restatement from the snapshot model, which knows nothing of
COLLATE, AUTOINCREMENT, STRICT, conflict clauses or comments. The copy keeps rowids, and
an AUTOINCREMENT table's sqlite_sequence value is carried over (the copy alone would
lower it to the largest id copied, handing out deleted ids again).

With `foreign_keys` on and other tables referencing the rebuilt one, DROP TABLE first
deletes every row: referencing rows become deferred violations that the rename never
clears, and ON DELETE actions run. The rows are then parked in a temporary table and
copied back into the table under its final name (clearing the violations), and ON
DELETE CASCADE / SET NULL / SET DEFAULT references make the rebuild refuse. Offline
scripts use the parking order too, since the client's setting is unknown.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeEngine

from dbshift.dialects.base import (
    ColumnChange,
    Commit,
    Constraint,
    DialectRules,
    InDoubt,
    TableEdit,
    Unchanged,
    is_drop,
    leading_words,
    qualified,
    quote,
    upper,
)
from dbshift.dialects.sqlite import ddl as sqlite_ddl
from dbshift.dialects.sqlite.introspect import declared_type
from dbshift.errors import MigrationError
from dbshift.schema.snapshot import Column, Table, index_to_sqlalchemy, table_key

if TYPE_CHECKING:
    from dbshift.ops.base import ExecutionContext

#: statements SQLite refuses (or, for the PRAGMAs, ignores) inside a transaction
_OUTSIDE = (
    ["VACUUM"],
    ["ATTACH"],
    ["DETACH"],
    ["PRAGMA", "FOREIGN_KEYS"],
    ["PRAGMA", "JOURNAL_MODE"],
)

_CONSTANT_DEFAULT = re.compile(
    r"^\s*(?:'(?:[^']|'')*'|[-+]?\d+(?:\.\d+)?|NULL|TRUE|FALSE)\s*$", re.I
)


class SQLiteRules(DialectRules):
    plain_indexes = True

    def type_from_ddl(self, dialect: Dialect, text: str) -> TypeEngine[Any] | None:
        return declared_type(dialect, text)

    def commit_of(self, sql: str, server_version: tuple[int, ...] = ()) -> Commit:
        """Everything commits with its record but `VACUUM`, `ATTACH`, `DETACH` and the
        `foreign_keys` and `journal_mode` PRAGMAs, which need autocommit mode."""
        words = upper(leading_words(sql, 2))
        outside = any(words[: len(start)] == start for start in _OUTSIDE)
        return Commit.OUTSIDE if outside else Commit.WITH_RECORD

    def in_doubt(self, conn: sa.Connection, sql: str) -> InDoubt:
        """Each of those can run again: VACUUM rebuilds, and ATTACH and the PRAGMAs
        hold for the connection only (the run that was cut off had another)."""
        return InDoubt("run")

    def already_exists(self, error: BaseException) -> bool:
        """sqlite3 raises a bare OperationalError: its message is all there is."""
        text = str(error)
        return "already exists" in text or "duplicate column name" in text

    def already_applied(self, sql: str, error: BaseException) -> bool:
        if self.already_exists(error):
            return True
        text = str(error)
        return is_drop(sql) and ("no such table" in text or "no such index" in text)

    def add_column(self, edit: TableEdit, column: Column) -> None:
        default = column.server_default
        if column.computed is None and (default is None or _CONSTANT_DEFAULT.match(default)):
            super().add_column(edit, column)
        else:  # SQLite's ADD COLUMN takes constant defaults only
            self.rebuild(edit)

    def drop_column(self, edit: TableEdit, column: str) -> None:
        current = self.current_table(edit.ctx, edit.table, edit.schema)
        used = [i.columns for i in current.indexes] + [u.columns for u in current.uniques]
        used += [f.columns for f in current.foreign_keys]
        in_pk = current.primary_key is not None and column in current.primary_key.columns
        if in_pk or any(column in columns for columns in used) or current.checks:
            self.rebuild(edit)
        else:
            super().drop_column(edit, column)

    def alter_column(
        self, edit: TableEdit, column: str, wanted: ColumnChange, existing: Column | None
    ) -> None:
        if (
            wanted.type is None
            and wanted.nullable is None
            and isinstance(wanted.server_default, Unchanged)
        ):
            return  # a comment only: SQLite keeps no comments
        self.rebuild(edit)

    def set_table_comment(
        self, ctx: ExecutionContext, table: str, schema: str | None, comment: str | None
    ) -> None:
        return None  # SQLite keeps no comments

    def add_constraint(self, edit: TableEdit, constraint: Constraint) -> None:
        """SQLite has no ALTER for constraints: adding or dropping one rebuilds."""
        self.rebuild(edit)

    drop_constraint = add_constraint

    def rebuild(self, edit: TableEdit) -> None:
        """SQLite's 12-step procedure, inside the migration's transaction. The new table
        is the table's own CREATE TABLE text with the change made (`ddl.py`), its
        rows keep their rowids, and an AUTOINCREMENT table keeps its sqlite_sequence."""
        ctx, table, schema = edit.ctx, edit.table, edit.schema
        old = self.current_table(ctx, table, schema)
        new = edit.change(old)
        d = ctx.dialect
        parsed = sqlite_ddl.read(_create_sql(ctx, old), old.key)
        edited = sqlite_ddl.edit(parsed, old, new, d)  # refuses before anything runs
        saved = _saved_sql(ctx, table, schema)
        conn = ctx.connection
        referencing = _referencing(conn, table, schema) if conn is not None else {}
        if conn is not None and referencing and _enforced(conn):
            _refuse_cascades(table, schema, referencing)
            park = True
        else:
            park = conn is None
        if conn is not None:  # counted before the first change, checked after the last
            audit: _ForeignKeyAudit = ctx.at_end(
                f"sqlite foreign keys {schema}", lambda: _ForeignKeyAudit(ctx, schema)
            )
            audit.before([table, *sorted(referencing)])
        copied = [
            c.name
            for c in new.columns
            if c.computed is None and (o := old.column(c.name)) and not o.computed
        ]
        rowid = _rowid(parsed, [c.name for c in (*old.columns, *new.columns)])
        names = ", ".join(quote(d, c) for c in copied)
        into = f"{rowid}, {names}" if rowid else names
        scratch = f"_dbshift_rebuild_{table}"
        source, target = qualified(d, table, schema), qualified(d, scratch, schema)
        sequence = _Sequence(d, schema, table) if parsed.autoincrement else None
        ctx.emit("PRAGMA defer_foreign_keys = ON")
        if park:
            # Other tables reference this one and foreign keys are enforced (offline: may
            # be). DROP TABLE then deletes every row first, and each referencing row counts
            # as a deferred violation that only an INSERT into a table of that name clears:
            # park the rows in a temporary table, then copy them into the final table.
            parked = qualified(d, scratch, "temp")
            kept = f"rowid AS {rowid}, {names}" if rowid else names
            ctx.emit(f"CREATE TEMPORARY TABLE {parked} AS SELECT {kept} FROM {source}")
            if sequence is not None:
                ctx.emit(sequence.park())
            ctx.emit(f"DROP TABLE {source}")
            name = qualified(d, table, schema) if schema else parsed.name_text()
            ctx.emit(edited.creating(name))
            ctx.emit(f"INSERT INTO {source} ({into}) SELECT {into} FROM {parked}")
            ctx.emit(f"DROP TABLE {parked}")
            if sequence is not None:
                for statement in sequence.unpark():
                    ctx.emit(statement)
        else:  # the documented order: new table under a scratch name, copy, drop, rename
            ctx.emit(edited.creating(target))
            ctx.emit(f"INSERT INTO {target} ({into}) SELECT {into} FROM {source}")
            if sequence is not None:
                for statement in sequence.copy_to(scratch):
                    ctx.emit(statement)
            ctx.emit(f"DROP TABLE {source}")
            ctx.emit("PRAGMA legacy_alter_table = ON")
            ctx.emit(f"ALTER TABLE {target} RENAME TO {quote(d, table)}")
            ctx.emit("PRAGMA legacy_alter_table = OFF")
        sa_table = new.to_sqlalchemy()
        old_indexes = {i.name: i for i in old.indexes}
        for index in new.indexes:
            kept_index = old_indexes.get(index.name) == index and ("index", index.name) in saved
            ctx.emit(
                saved[("index", index.name)]
                if kept_index
                else sa.schema.CreateIndex(index_to_sqlalchemy(index, sa_table))
            )
        for (kind, name), sql in saved.items():
            if kind == "trigger" or (kind == "index" and name not in old_indexes):
                ctx.emit(sql)  # triggers, and indexes reflection cannot describe


def _create_sql(ctx: ExecutionContext, table: Table) -> str:
    """The table's CREATE TABLE text: SQLite's own (sqlite_schema) on a connection;
    offline, the migrations' snapshot of the table as SQLAlchemy writes it, which is
    what a table created by `op.create_table` has (raw SQL's changes it cannot know)."""
    conn = ctx.connection
    if conn is None:
        try:
            return str(sa.schema.CreateTable(table.to_sqlalchemy()).compile(dialect=ctx.dialect))
        except sa.exc.CompileError as error:
            raise MigrationError(
                f"cannot rebuild table {table.key} offline: {error}",
                hint="run the migration online, where SQLite has the table's text",
            ) from error
    master = _master(ctx.dialect, table.schema)
    sql = conn.execute(
        sa.text(f"SELECT sql FROM {master} WHERE type = 'table' AND name = :t COLLATE NOCASE"),
        {"t": table.name},
    ).scalar()
    return str(sql or "")


def _rowid(parsed: sqlite_ddl.CreateTable, columns: list[str]) -> str | None:
    """A name the copy can use for the rowid: rows keep theirs (external-content FTS
    and `SELECT rowid` users rely on them). None for WITHOUT ROWID, or when columns
    take all three names."""
    taken = {c.lower() for c in columns}
    if parsed.without_rowid:
        return None
    return next((n for n in ("rowid", "_rowid_", "oid") if n not in taken), None)


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


class _Sequence:
    """An AUTOINCREMENT table's row of sqlite_sequence, carried over the rebuild. The
    copy would set it to the largest id copied, so the ids of deleted rows above that
    would be handed out again."""

    def __init__(self, dialect: Dialect, schema: str | None, table: str) -> None:
        self.sequences = qualified(dialect, "sqlite_sequence", schema)
        self.name = table
        self.parked = qualified(dialect, f"_dbshift_sequence_{table}", "temp")

    def copy_to(self, scratch: str) -> list[str]:
        """The table's sequence value, given to the scratch table before the rename."""
        return [
            f"DELETE FROM {self.sequences} WHERE name = {_literal(scratch)}",
            f"INSERT INTO {self.sequences} (name, seq) SELECT {_literal(scratch)}, seq "
            f"FROM {self.sequences} WHERE name = {_literal(self.name)}",
        ]

    def park(self) -> str:
        return (
            f"CREATE TEMPORARY TABLE {self.parked} AS SELECT seq FROM {self.sequences} "
            f"WHERE name = {_literal(self.name)}"
        )

    def unpark(self) -> list[str]:
        return [
            f"DELETE FROM {self.sequences} WHERE name = {_literal(self.name)}",
            f"INSERT INTO {self.sequences} (name, seq) SELECT {_literal(self.name)}, seq "
            f"FROM {self.parked}",
            f"DROP TABLE {self.parked}",
        ]


def _enforced(conn: sa.Connection) -> bool:
    return bool(conn.exec_driver_sql("PRAGMA foreign_keys").scalar())


def _refuse_cascades(table: str, schema: str | None, referencing: dict[str, set[str]]) -> None:
    """With foreign keys enforced, DROP TABLE runs the referencing tables' ON DELETE
    actions (not deferrable): a rebuild would delete or null their rows."""
    for name, actions in referencing.items():
        acting = actions - {"NO ACTION", "RESTRICT"}
        if acting:
            raise MigrationError(
                f"cannot rebuild table {table_key(table, schema)} while PRAGMA foreign_keys "
                f"is on: ON DELETE {sorted(acting)[0]} would change rows of {name}",
                hint="run migrations with foreign keys off (SQLite's default): "
                "dbshift's connection does not turn them on",
            )


def _master(ctx_dialect: sa.engine.Dialect, schema: str | None) -> str:
    return qualified(ctx_dialect, "sqlite_master", schema)


def _referencing(conn: sa.Connection, table: str, schema: str | None) -> dict[str, set[str]]:
    """Other tables whose foreign keys point at `table`, with their ON DELETE actions."""
    rows = conn.execute(
        sa.text(
            f"SELECT m.name, upper(f.on_delete) FROM {_master(conn.dialect, schema)} AS m, "
            "pragma_foreign_key_list(m.name, :schema) AS f "
            "WHERE m.type = 'table' AND f.\"table\" = :table COLLATE NOCASE "
            "AND m.name <> :table"
        ),
        {"table": table, "schema": schema or "main"},
    )
    found: dict[str, set[str]] = {}
    for name, action in rows:
        found.setdefault(str(name), set()).add(str(action))
    return found


class _ForeignKeyAudit:
    """The procedure's last step, over a whole migration: fail if its rebuilds broke
    foreign keys. Each table a rebuild touches (the rebuilt one and those referencing
    it) is counted before the migration first changes it and again once its operations
    are all done: one step may leave a state the next one mends (a parent's primary
    key widened, then the child's foreign key, as mlflow's revisions do), as SQLite's
    own procedure checks after the whole change. Rows that broke foreign keys before
    (SQLite enforces nothing unless `PRAGMA foreign_keys` is on) are not this
    migration's doing and do not stop it."""

    def __init__(self, ctx: ExecutionContext, schema: str | None) -> None:
        self.ctx, self.schema = ctx, schema
        self.counts: dict[str, int | None] = {}

    def before(self, tables: list[str]) -> None:
        for name in tables:
            if name not in self.counts:
                self.counts[name] = self._violations(name)

    def finish(self) -> None:
        conn = self.ctx.connection
        assert conn is not None
        master = _master(self.ctx.dialect, self.schema)
        present = {
            str(name)
            for (name,) in conn.exec_driver_sql(f"SELECT name FROM {master} WHERE type = 'table'")
        }
        for name, before in self.counts.items():
            if name not in present:
                continue  # dropped or renamed later in the migration
            after = self._violations(name)
            where = table_key(name, self.schema)
            if after is None and before is not None:
                raise MigrationError(
                    f"the migration leaves a foreign key of table {where} naming columns "
                    "that are no primary key or unique constraint of the table they "
                    "reference (SQLite: foreign key mismatch)",
                    hint="change or drop that foreign key in the same migration, or keep "
                    "the referenced table's key",
                )
            if after is not None and before is not None and after > before:
                raise MigrationError(
                    f"the migration leaves {after - before} more row(s) of table {where} "
                    "violating foreign keys",
                    hint="fix the data before this migration, or in an op.run() step before it",
                )

    def _violations(self, table: str) -> int | None:
        """Foreign-key violations where `table` is the referencing one; None when a
        foreign key of it names columns that are not a key (SQLite cannot check)."""
        conn = self.ctx.connection
        assert conn is not None
        prefix = f"{quote(self.ctx.dialect, self.schema)}." if self.schema else ""
        sql = f"PRAGMA {prefix}foreign_key_check({quote(self.ctx.dialect, table)})"
        try:  # a failed statement leaves SQLite's transaction as it was
            return len(conn.exec_driver_sql(sql).fetchall())
        except sa.exc.OperationalError as error:
            if "foreign key mismatch" not in str(error.orig):
                raise
            return None


def _saved_sql(ctx: ExecutionContext, table: str, schema: str | None) -> dict[tuple[str, str], str]:
    """The SQL of the table's own indexes and triggers, to restore them verbatim."""
    conn = ctx.connection
    if conn is None:
        return {}
    rows = conn.execute(
        sa.text(
            f"SELECT type, name, sql FROM {_master(ctx.dialect, schema)} "
            "WHERE tbl_name = :table AND type IN ('index', 'trigger') AND sql IS NOT NULL"
        ),
        {"table": table},
    )
    return {(kind, name): sql for kind, name, sql in rows}
