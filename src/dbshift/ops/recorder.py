"""`op`: what a migration's `upgrade(op)` / `downgrade(op)` receives.

Each call records an operation; nothing touches the database while the migration
function runs. Names and signatures follow Alembic's, so Alembic migrations convert
mechanically (`batch_alter_table` included; dbshift needs no batch mode on SQLite).
A keyword argument a method does not know is an error, not ignored (`ops/arguments.py`).
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from types import FrameType
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect
from sqlalchemy.sql.elements import conv

from dbshift.dialects.base import UNCHANGED, Unchanged
from dbshift.errors import MigrationError
from dbshift.ops.arguments import checked, dialect_keywords
from dbshift.ops.base import Operation
from dbshift.ops.columns import AddColumn, AlterColumn, DropColumn, RenameColumn
from dbshift.ops.constraints import (
    AddCheckConstraint,
    AddForeignKey,
    AddPrimaryKey,
    AddUniqueConstraint,
    CreateIndex,
    DropConstraint,
    DropIndex,
    DropInvalidIndex,
    ValidateConstraint,
)
from dbshift.ops.raw import BulkInsert, ExecuteSQL, RunPython
from dbshift.ops.tables import CreateTable, DropTable, RenameTable, SetTableComment
from dbshift.ops.types import (
    AddEnumValue,
    CreateEnum,
    CreateSequence,
    DropEnum,
    DropSequence,
    SetEnumValues,
)
from dbshift.schema import snapshot
from dbshift.schema.models import (
    add_referenced_stubs,
    clause_sql,
    column_from_sqlalchemy,
    foreign_key_from_sqlalchemy,
    option_value,
    server_default_sql,
    stored_name,
    table_from_sqlalchemy,
)
from dbshift.schema.snapshot import Check, Column, ForeignKey, Index, PrimaryKey, Unique


class NeedsDatabase(BaseException):
    """Raised while a migration is recorded, where its body asks the database something
    (a query on `op.get_bind()`, `op.get_context().as_sql`): the loader then records the
    whole body as one `RunLive` operation (`ops/live.py`). A BaseException, so that the
    body's own `except Exception:` does not swallow it."""

    def __init__(self, asked: str) -> None:
        super().__init__(asked)
        self.asked = asked


class MigrationContext:
    """What `op.get_context()` gives a body that runs (Alembic's `MigrationContext`, the
    parts a migration can use): `dialect`, `bind` and `connection` (None offline),
    `as_sql` (True offline) and `version_table_schema` (the configured `schema`, where
    dbshift's history lives; None without one, as Alembic's default)."""

    def __init__(
        self,
        dialect: Dialect,
        connection: sa.Connection | None,
        *,
        as_sql: bool,
        transactional: bool = True,
        live: bool = True,
        version_table_schema: str | None = None,
    ) -> None:
        self.dialect = dialect
        self.connection = self.bind = connection
        self.as_sql = as_sql
        self.version_table_schema = version_table_schema
        self.opts: dict[str, Any] = {"as_sql": as_sql}
        self._transactional = transactional
        self._live = live

    def autocommit_block(self) -> contextlib.AbstractContextManager[None]:
        """Alembic commits the migration's transaction here and runs the block in
        autocommit mode. dbshift owns the transactions: in a `transactional = False`
        migration (each statement commits on its own) the block is the same statements;
        elsewhere it is refused, before anything runs."""
        if self._transactional or self._live:
            raise MigrationError(
                "op.get_context().autocommit_block() would commit in the middle of a "
                "migration dbshift runs in one transaction",
                hint="set `transactional = False` at the top of the migration (each "
                "statement then commits on its own), and keep the block's operations "
                "out of any code that reads the database",
            )
        return contextlib.nullcontext()

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        raise MigrationError(
            f"op.get_context().{name} is not available in dbshift",
            hint="a migration's context has dialect, bind, connection, as_sql, opts, "
            "version_table_schema and autocommit_block()",
        )


class _RecordingDialect:
    """The stand-in connection's dialect: its `name` is known (`op.dialect`, the name the
    live connection's dialect has); anything else (`server_version_info`, `is_mariadb`,
    compiling with it) is asked of the database when the body runs (`NeedsDatabase`)."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        raise NeedsDatabase(f"op.get_bind().dialect.{name}")


class _RecordingBind:
    """`op.get_bind()` while a body is recorded: `dialect.name` (and `engine.name`) are
    known; anything else needs the database (`NeedsDatabase`)."""

    def __init__(self, dialect: _RecordingDialect) -> None:
        self.dialect = dialect
        self.engine = _RecordingEngine(dialect)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        raise NeedsDatabase(f"op.get_bind().{name}")


class _RecordingEngine:
    def __init__(self, dialect: _RecordingDialect) -> None:
        self.dialect = dialect
        self.name = dialect.name

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        raise NeedsDatabase(f"op.get_bind().engine.{name}")


class _RecordingContext(MigrationContext):
    """`op.get_context()` while a body is recorded: `as_sql`, `opts` and the rest are
    known only when it runs (`NeedsDatabase`)."""

    def __init__(self, bind: _RecordingBind, transactional: bool) -> None:
        self.__dict__.update(
            dialect=bind.dialect,
            bind=bind,
            connection=bind,
            _transactional=transactional,
            _live=False,
        )

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        raise NeedsDatabase(f"op.get_context().{name}")


@checked("op")
class Op:
    """Records operations: `op.add_column(...)` appends an `AddColumn` to `op.operations`."""

    def __init__(
        self,
        dialect: str = "default",
        source: str | None = None,
        *,
        transactional: bool = True,
        naming_convention: Mapping[str, Any] | None = None,
    ) -> None:
        self.operations: list[Operation] = []
        #: the dialect SQL expressions are written for (quoting differs per backend)
        self.dialect = dialect
        #: the migration file: when given, `lines` records where each operation was called
        self.source = source
        self.lines: list[int] = []
        #: the migration's `transactional` header (`autocommit_block()` needs it)
        self.transactional = transactional
        #: set when the body was handed a stand-in connection or context (recording)
        self.handed: str | None = None
        #: the migration's `naming_convention` (Alembic's target metadata's): applied to
        #: the names of what the calls create or drop, as Alembic applies it
        self.naming_convention = dict(naming_convention) if naming_convention else None

    def _metadata(self) -> sa.MetaData:
        if self.naming_convention is None:
            return sa.MetaData()
        return sa.MetaData(naming_convention=self.naming_convention)

    def _converted(
        self,
        make: Callable[[], sa.Constraint | sa.Index],
        given: str | None,
        table_name: str,
        schema: str | None,
        columns: Sequence[Any] = (),
    ) -> str | None:
        """The name `item` (a constraint or index given by name) gets under the naming
        convention, as Alembic names it: a `conv` name (`op.f`) is kept, a plain one is
        converted where the convention's template has `%(constraint_name)s`, and an
        unnamed one is named. Without a convention, the name as given."""
        if self.naming_convention is None:
            return _plain(given)
        item = make()  # built only under a convention, as Alembic builds it
        names = [c for c in columns if isinstance(c, str)]
        table = sa.Table(
            table_name,
            self._metadata(),
            *(sa.Column(c, sa.types.NullType()) for c in dict.fromkeys(names)),
            schema=schema,
        )
        try:
            if isinstance(item, sa.Index):  # built on the table, as Alembic builds it
                item = sa.Index(given, *(table.c[c] for c in names), _table=table)
            else:
                table.append_constraint(item)
            if isinstance(item, sa.ForeignKeyConstraint):
                add_referenced_stubs(table)
        except (sa.exc.SQLAlchemyError, KeyError) as error:
            raise MigrationError(
                f"the naming convention cannot name {type(item).__name__} "
                f"{given!r} on {table_name!r}: {error}",
                hint="pass the final name through op.f(...)",
            ) from None
        return stored_name(item, self.dialect)

    def f(self, name: str) -> str:
        """Alembic's `op.f(name)`: `name` is final, already converted by a naming
        convention, and is never converted again (dbshift's operations apply no naming
        convention to the names they are given: this returns SQLAlchemy's `conv(name)`,
        which a SQLAlchemy object built with a convention also leaves alone)."""
        return conv(name)

    def inline_literal(self, value: Any, type_: Any = None) -> sa.BindParameter[Any]:
        """A value rendered into the SQL text itself rather than bound (Alembic's
        `op.inline_literal`): for `op.execute(table.update()...)` statements that must
        also render as offline SQL."""
        return sa.literal(value, type_, literal_execute=True)

    def sql(
        self,
        default: str,
        *,
        sqlite: str | None = None,
        postgresql: str | None = None,
        mysql: str | None = None,
        mariadb: str | None = None,
    ) -> str:
        """SQL text for the backend the migration runs on (`op.dialect`): the one given
        for it, else `default`. `make` writes it for a history of several backends where
        an expression quotes a name differently on each. The backends are named
        parameters, so a misspelt one is an error like any unknown argument."""
        given = {"sqlite": sqlite, "postgresql": postgresql, "mysql": mysql, "mariadb": mariadb}
        text = given.get(self.dialect)
        return default if text is None else text

    def _add(self, operation: Operation) -> None:
        self.operations.append(operation)
        if self.source is not None:
            self.lines.append(self._caller_line())

    def _caller_line(self) -> int:
        """The line of `source` that made the current call (0 when it is not on the
        stack): the linter points its findings there. A few frames, so cheap."""
        frame: FrameType | None = sys._getframe(2)
        while frame is not None and frame.f_code.co_filename != self.source:
            frame = frame.f_back
        return frame.f_lineno if frame is not None else 0

    # -- tables ----------------------------------------------------------------------

    @dialect_keywords(sa.Table)
    def create_table(
        self,
        table_name: str,
        *columns: Any,
        schema: str | None = None,
        comment: str | None = None,
        **kw: Any,
    ) -> sa.Table:
        """Create a table; returns it as a SQLAlchemy `Table` (handy for bulk_insert)."""
        table = sa.Table(
            table_name, self._metadata(), *columns, schema=schema, comment=comment, **kw
        )
        add_referenced_stubs(table)
        self._add(CreateTable(table_from_sqlalchemy(table, dialect=self.dialect), source=table))
        return table

    @dialect_keywords(sa.Table)
    def drop_table(self, table_name: str, schema: str | None = None, **kw: Any) -> None:
        self._add(DropTable(table_name, schema))

    def rename_table(
        self, old_table_name: str, new_table_name: str, schema: str | None = None
    ) -> None:
        self._add(RenameTable(old_table_name, new_table_name, schema))

    # -- columns ---------------------------------------------------------------------

    def add_column(
        self, table_name: str, column: sa.Column[Any], schema: str | None = None
    ) -> None:
        table = sa.Table(table_name, self._metadata(), column, schema=schema)
        column_snapshot = column_from_sqlalchemy(column, dialect=self.dialect)
        self._add(AddColumn(table_name, column_snapshot, schema))
        for constraint in table.constraints:
            if isinstance(constraint, sa.ForeignKeyConstraint):
                self._add(
                    AddForeignKey(table_name, foreign_key_from_sqlalchemy(constraint), schema)
                )
            elif isinstance(constraint, sa.UniqueConstraint):
                self._add(
                    AddUniqueConstraint(
                        table_name, Unique(_name(constraint.name), (column.name,)), schema
                    )
                )
        for index in table.indexes:
            self._add(
                CreateIndex(
                    table_name, Index(str(index.name), (column.name,), bool(index.unique)), schema
                )
            )

    def drop_column(
        self, table_name: str, column_name: str, schema: str | None = None, **kw: Any
    ) -> None:
        self._add(DropColumn(table_name, column_name, schema))

    def rename_column(
        self, table_name: str, old_column_name: str, new_column_name: str, schema: str | None = None
    ) -> None:
        self._add(RenameColumn(table_name, old_column_name, new_column_name, schema))

    def alter_column(
        self,
        table_name: str,
        column_name: str,
        nullable: bool | None = None,
        comment: str | bool | None = False,
        server_default: Any = False,
        new_column_name: str | None = None,
        type_: Any = None,
        existing_type: Any = None,
        existing_server_default: Any = False,
        existing_nullable: bool | None = None,
        existing_comment: str | None = None,
        schema: str | None = None,
        postgresql_using: str | None = None,
        existing_autoincrement: bool | None = None,
        **kw: Any,
    ) -> None:
        """`existing_*` describe the column as it is (Alembic's migrations pass them);
        they change nothing, so a call that passes nothing else is an error."""
        default: str | Unchanged | None = (
            UNCHANGED
            if server_default is False
            else server_default_sql(server_default, self.dialect)
        )
        new_comment: str | Unchanged | None
        new_comment = UNCHANGED if comment is False else comment  # type: ignore[assignment]
        existing = None
        if existing_type is not None:
            existing = Column(
                column_name,
                sa.types.to_instance(existing_type),
                nullable=True if existing_nullable is None else existing_nullable,
                server_default=server_default_sql(existing_server_default, self.dialect),
                comment=existing_comment,
            )
        new_type = sa.types.to_instance(type_) if type_ is not None else None
        renamed = new_column_name is not None and new_column_name != column_name
        changes = (
            new_type is not None
            or nullable is not None
            or default is not UNCHANGED
            or new_comment is not UNCHANGED
        )
        if not changes and not renamed:
            # the existing_* arguments only describe the column: nothing would be recorded
            raise MigrationError(
                f"op.alter_column({table_name!r}, {column_name!r}) changes nothing",
                hint="pass what changes: type_=, nullable=, server_default=, comment= "
                "or new_column_name=",
            )
        if changes:
            self._add(
                AlterColumn(
                    table_name,
                    column_name,
                    schema,
                    type=new_type,
                    nullable=nullable,
                    server_default=default,
                    comment=new_comment,
                    existing=existing,
                    postgresql_using=postgresql_using,
                )
            )
        if renamed and new_column_name is not None:
            self._add(RenameColumn(table_name, column_name, new_column_name, schema))

    # -- indexes and constraints -------------------------------------------------------

    @dialect_keywords(sa.Index)
    def create_index(
        self,
        index_name: str,
        table_name: str,
        columns: Sequence[Any],
        schema: str | None = None,
        unique: bool = False,
        if_not_exists: bool | None = None,
        postgresql_concurrently: bool = False,
        **kw: Any,
    ) -> None:
        """`columns`: names, or SQL expressions (`sa.text("lower(name)")`). Dialect keywords
        (`postgresql_where=`, `postgresql_using=`, `mysql_length=`, ...) are kept with the
        index; `postgresql_concurrently=True` makes the migration non-transactional."""
        if isinstance(columns, str):
            columns = [columns]
        entries = tuple(c if isinstance(c, str) else clause_sql(c, self.dialect) for c in columns)
        expressions = tuple(clause_sql(c, self.dialect) for c in columns if not isinstance(c, str))
        concurrently = bool(postgresql_concurrently)
        options = tuple(
            sorted((k, option_value(v, self.dialect, k)) for k, v in kw.items() if v is not None)
        )
        if self.naming_convention is not None and not expressions:
            name = self._converted(
                lambda: sa.Index(index_name), index_name, table_name, schema, columns
            )
        else:
            name = _plain(index_name)
        index = Index(name or "", entries, unique, options, expressions)
        self._add(CreateIndex(table_name, index, schema, concurrently, bool(if_not_exists)))

    @dialect_keywords(sa.Index)
    def drop_index(
        self,
        index_name: str,
        table_name: str | None = None,
        schema: str | None = None,
        if_exists: bool | None = None,
        postgresql_concurrently: bool = False,
        **kw: Any,
    ) -> None:
        concurrently = bool(postgresql_concurrently)
        name = index_name
        if self.naming_convention is not None and table_name is not None:
            made = self._converted(lambda: sa.Index(index_name), index_name, table_name, schema)
            name = made or index_name
        self._add(DropIndex(_plain(name) or "", table_name, schema, concurrently, bool(if_exists)))

    @dialect_keywords(sa.ForeignKeyConstraint)
    def create_foreign_key(
        self,
        constraint_name: str | None,
        source_table: str,
        referent_table: str,
        local_cols: Sequence[str],
        remote_cols: Sequence[str],
        onupdate: str | None = None,
        ondelete: str | None = None,
        deferrable: bool | None = None,
        initially: str | None = None,
        match: str | None = None,
        source_schema: str | None = None,
        referent_schema: str | None = None,
        postgresql_not_valid: bool = False,
        **dialect_kw: Any,
    ) -> None:
        if match is not None:
            raise MigrationError(
                f"op.create_foreign_key({constraint_name!r}): match= is not supported",
                hint="remove match= (MATCH SIMPLE is every backend's default)",
            )
        prefix = f"{referent_schema}.{referent_table}" if referent_schema else referent_table
        fk = ForeignKey(
            self._converted(
                lambda: sa.ForeignKeyConstraint(
                    list(local_cols), [f"{prefix}.{c}" for c in remote_cols], name=constraint_name
                ),
                constraint_name,
                source_table,
                source_schema,
                local_cols,
            ),
            tuple(local_cols),
            referent_table,
            tuple(remote_cols),
            referent_schema,
            ondelete,
            onupdate,
            deferrable,
            initially,
        )
        self._add(AddForeignKey(source_table, fk, source_schema, bool(postgresql_not_valid)))

    @dialect_keywords(sa.UniqueConstraint)
    def create_unique_constraint(
        self,
        constraint_name: str | None,
        table_name: str,
        columns: Sequence[str],
        schema: str | None = None,
        postgresql_using_index: str | None = None,
        **kw: Any,
    ) -> None:
        """`postgresql_using_index="ix"` adopts the unique index `ix` (built beforehand,
        e.g. concurrently) instead of building one under lock."""
        name = self._converted(
            lambda: sa.UniqueConstraint(*columns, name=constraint_name),
            constraint_name,
            table_name,
            schema,
            columns,
        )
        unique = Unique(name, tuple(columns))
        using = postgresql_using_index
        self._add(AddUniqueConstraint(table_name, unique, schema, using_index=using))

    @dialect_keywords(sa.CheckConstraint)
    def create_check_constraint(
        self,
        constraint_name: str | None,
        table_name: str,
        condition: Any,
        schema: str | None = None,
        postgresql_not_valid: bool = False,
        **kw: Any,
    ) -> None:
        text = condition if isinstance(condition, str) else clause_sql(condition, self.dialect)
        name = self._converted(
            lambda: sa.CheckConstraint(sa.text(text), name=constraint_name),
            constraint_name,
            table_name,
            schema,
        )
        check = Check(name, text)
        self._add(AddCheckConstraint(table_name, check, schema, bool(postgresql_not_valid)))

    def validate_constraint(
        self, constraint_name: str, table_name: str, schema: str | None = None
    ) -> None:
        """PostgreSQL's `VALIDATE CONSTRAINT` of a constraint added `postgresql_not_valid`."""
        self._add(ValidateConstraint(constraint_name, table_name, schema))

    def drop_invalid_index(self, index_name: str, schema: str | None = None) -> None:
        """Drop `index_name` concurrently if a failed concurrent build left it invalid
        (PostgreSQL); the migration must be `transactional = False`."""
        self._add(DropInvalidIndex(index_name, schema))

    def create_primary_key(
        self,
        constraint_name: str | None,
        table_name: str,
        columns: Sequence[str],
        schema: str | None = None,
    ) -> None:
        name = self._converted(
            lambda: sa.PrimaryKeyConstraint(*columns, name=constraint_name),
            constraint_name,
            table_name,
            schema,
            columns,
        )
        self._add(AddPrimaryKey(table_name, PrimaryKey(tuple(columns), name), schema))

    def drop_constraint(
        self,
        constraint_name: str,
        table_name: str,
        type_: str | None = None,
        schema: str | None = None,
    ) -> None:
        """With a naming convention, the name is converted as Alembic converts it, by
        `type_` (`foreignkey`, `unique`, `check`, `primary`); without `type_`, as given."""
        self._drop_constraint(constraint_name, table_name, type_, schema)

    def _drop_constraint(
        self,
        constraint_name: str,
        table_name: str,
        type_: str | None,
        schema: str | None,
        batch_convention: Mapping[str, str] | None = None,
    ) -> None:
        name: str | None = constraint_name
        kind = _CONSTRAINT_KINDS.get(type_ or "")
        if self.naming_convention is not None and kind is not None:
            name = self._converted(
                lambda: kind(constraint_name), constraint_name, table_name, schema
            )
        convention = tuple(sorted(batch_convention.items())) if batch_convention else ()
        final = _plain(name) or constraint_name
        self._add(DropConstraint(final, table_name, type_, schema, convention))

    # -- enum types and sequences -------------------------------------------------------

    def create_enum(self, name: str, values: Sequence[str], schema: str | None = None) -> None:
        """A PostgreSQL enum type (`CREATE TYPE ... AS ENUM`); a no-op on other backends,
        where enums are part of the column type."""
        self._add(CreateEnum(snapshot.Enum(name, tuple(values), schema)))

    def drop_enum(self, name: str, schema: str | None = None) -> None:
        self._add(DropEnum(name, schema))

    def add_enum_value(
        self, name: str, value: str, schema: str | None = None, before: str | None = None
    ) -> None:
        self._add(AddEnumValue(name, value, schema, before))

    def set_enum_values(self, name: str, values: Sequence[str], schema: str | None = None) -> None:
        """Give an enum type exactly `values` (removing values recreates the type)."""
        self._add(SetEnumValues(name, tuple(values), schema))

    def create_sequence(
        self,
        name: str,
        schema: str | None = None,
        start: int | None = None,
        increment: int | None = None,
        minvalue: int | None = None,
        maxvalue: int | None = None,
        cycle: bool = False,
    ) -> None:
        """An explicit sequence (PostgreSQL, MariaDB); a no-op where there are none."""
        sequence = snapshot.Sequence(name, schema, start, increment, minvalue, maxvalue, cycle)
        self._add(CreateSequence(sequence))

    def drop_sequence(self, name: str, schema: str | None = None) -> None:
        self._add(DropSequence(name, schema))

    # -- data and code -------------------------------------------------------------------

    def create_table_comment(
        self,
        table_name: str,
        comment: str,
        existing_comment: str | None = None,
        schema: str | None = None,
    ) -> None:
        self._add(SetTableComment(table_name, comment, schema, existing_comment))

    def drop_table_comment(
        self, table_name: str, existing_comment: str | None = None, schema: str | None = None
    ) -> None:
        self._add(SetTableComment(table_name, None, schema, existing_comment))

    def execute(
        self,
        sqltext: str | sa.Executable,
        params: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None = None,
        *,
        execution_options: Mapping[str, Any] | None = None,
    ) -> None:
        """Raw SQL. A string runs as written (no `:name` parsing) unless `params` are
        given; note that Alembic's second positional argument is `execution_options`."""
        options = tuple(sorted(execution_options.items())) if execution_options else ()
        self._add(ExecuteSQL(sqltext, params, options))

    def bulk_insert(
        self, table: sa.TableClause, rows: Sequence[dict[str, Any]], multiinsert: bool = True
    ) -> None:
        self._add(BulkInsert(table, tuple(dict(r) for r in rows), multiinsert))

    def run(self, fn: Callable[[sa.Connection], Any]) -> None:
        """Call `fn(connection)` at this point of the migration, in its transaction."""
        self._add(RunPython(fn))

    def get_bind(self) -> Any:
        """The migration's connection (Alembic's `op.get_bind()`), for data work and
        inspection inside the body. While the body is recorded it is a stand-in whose
        `dialect.name` is known; using it further makes the migration run its body
        against the database (`ops/live.py`)."""
        self.handed = self.handed or "op.get_bind()"
        return _RecordingBind(_RecordingDialect(self.dialect))

    def get_context(self) -> MigrationContext:
        """Alembic's `op.get_context()`: `dialect`, `bind`, `connection`, `as_sql`,
        `opts`, `autocommit_block()` (see `MigrationContext`)."""
        self.handed = self.handed or "op.get_context()"
        bind = _RecordingBind(_RecordingDialect(self.dialect))
        return _RecordingContext(bind, self.transactional)

    @contextmanager
    def batch_alter_table(
        self,
        table_name: str,
        schema: str | None = None,
        recreate: str = "auto",
        partial_reordering: Sequence[Any] | None = None,
        copy_from: sa.Table | None = None,
        table_args: Sequence[Any] = (),
        table_kwargs: Mapping[str, Any] | None = None,
        reflect_args: Sequence[Any] = (),
        reflect_kwargs: Mapping[str, Any] | None = None,
        naming_convention: Mapping[str, str] | None = None,
    ) -> Iterator[_Batch]:
        """Alembic's batch mode, for converted migrations: the same calls on one table.
        dbshift rebuilds a SQLite table when, and only when, a change needs it, from the
        table's own `CREATE TABLE` text: what steers Alembic's copy (`recreate`,
        `copy_from`, `table_args`, `table_kwargs`, `reflect_args`, `reflect_kwargs`) is
        accepted and has no effect. `naming_convention` names the table's unnamed
        constraints as Alembic's reflection does, so that `drop_constraint` finds one by
        that name. `partial_reordering` is refused: dbshift does not reorder columns."""
        if recreate not in ("auto", "always", "never"):
            raise MigrationError(
                f"batch_alter_table(recreate={recreate!r}): not one of 'auto', 'always', 'never'",
                hint="leave recreate= out: dbshift rebuilds a SQLite table when a change needs it",
            )
        if partial_reordering:
            raise MigrationError(
                "batch_alter_table(partial_reordering=...) is not supported: dbshift does "
                "not reorder a table's columns",
                hint="remove partial_reordering=; added columns go last",
            )
        yield _Batch(self, table_name, schema, naming_convention)


@checked(
    "batch_op",
    forwards=Op,
    filled=("table_name", "source_table", "schema", "source_schema"),
)
class _Batch:
    def __init__(
        self,
        op: Op,
        table: str,
        schema: str | None,
        convention: Mapping[str, str] | None = None,
    ) -> None:
        self._op, self._table, self._schema = op, table, schema
        #: names the table's unnamed constraints, for drop_constraint (as in Alembic)
        self._convention = convention

    def add_column(
        self,
        column: sa.Column[Any],
        insert_before: str | None = None,
        insert_after: str | None = None,
        **kw: Any,
    ) -> None:
        """`insert_before`/`insert_after` (Alembic's column order in a rebuilt SQLite
        table) are accepted and have no effect: added columns go last."""
        self._op.add_column(self._table, column, schema=self._schema, **kw)

    def drop_column(self, column_name: str, **kw: Any) -> None:
        self._op.drop_column(self._table, column_name, schema=self._schema, **kw)

    def alter_column(
        self,
        column_name: str,
        insert_before: str | None = None,
        insert_after: str | None = None,
        **kw: Any,
    ) -> None:
        self._op.alter_column(self._table, column_name, schema=self._schema, **kw)

    def create_index(self, index_name: str, columns: Sequence[Any], **kw: Any) -> None:
        self._op.create_index(index_name, self._table, columns, schema=self._schema, **kw)

    def drop_index(self, index_name: str, **kw: Any) -> None:
        self._op.drop_index(index_name, self._table, schema=self._schema, **kw)

    def create_foreign_key(
        self,
        constraint_name: str | None,
        referent_table: str,
        local_cols: Sequence[str],
        remote_cols: Sequence[str],
        **kw: Any,
    ) -> None:
        self._op.create_foreign_key(
            constraint_name,
            self._table,
            referent_table,
            local_cols,
            remote_cols,
            source_schema=self._schema,
            **kw,
        )

    # the parameters have Alembic's names: converted revisions pass them as keywords
    # (mlflow's `batch_op.drop_constraint(constraint_name=..., type_=...)`)

    def create_unique_constraint(
        self, constraint_name: str | None, columns: Sequence[str], **kw: Any
    ) -> None:
        self._op.create_unique_constraint(
            constraint_name, self._table, columns, schema=self._schema, **kw
        )

    def create_check_constraint(
        self, constraint_name: str | None, condition: Any, **kw: Any
    ) -> None:
        self._op.create_check_constraint(
            constraint_name, self._table, condition, schema=self._schema, **kw
        )

    def drop_constraint(self, constraint_name: str, type_: str | None = None) -> None:
        self._op._drop_constraint(
            constraint_name, self._table, type_, self._schema, self._convention
        )

    def create_primary_key(self, constraint_name: str | None, columns: Sequence[str]) -> None:
        self._op.create_primary_key(constraint_name, self._table, columns, schema=self._schema)

    def create_table_comment(self, comment: str, existing_comment: str | None = None) -> None:
        self._op.create_table_comment(self._table, comment, existing_comment, self._schema)

    def drop_table_comment(self, existing_comment: str | None = None) -> None:
        self._op.drop_table_comment(self._table, existing_comment, self._schema)

    def execute(self, sqltext: str | sa.Executable, **kw: Any) -> None:
        self._op.execute(sqltext, **kw)

    def f(self, name: str) -> str:
        return self._op.f(name)

    def inline_literal(self, value: Any, type_: Any = None) -> sa.BindParameter[Any]:
        return self._op.inline_literal(value, type_)

    def get_bind(self) -> Any:
        return self._op.get_bind()

    def get_context(self) -> MigrationContext:
        return self._op.get_context()


def _name(name: Any) -> str | None:
    return None if name is None or type(name).__name__ == "_NoneName" else str(name)


def _plain(name: Any) -> str | None:
    """A name as a plain `str` (not SQLAlchemy's `conv`, which `op.f` returns)."""
    return None if name is None else str.__str__(name)


def _empty_check(name: str) -> sa.CheckConstraint:
    return sa.CheckConstraint(sa.text("1 = 1"), name=name)


def _empty_foreign_key(name: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint([], [], name=name)


#: the constraint each `drop_constraint(type_=...)` names, for the naming convention
_CONSTRAINT_KINDS: dict[str, Callable[[str], sa.Constraint]] = {
    "check": _empty_check,
    "foreignkey": _empty_foreign_key,
    "unique": lambda name: sa.UniqueConstraint(name=name),
    "primary": lambda name: sa.PrimaryKeyConstraint(name=name),
}
