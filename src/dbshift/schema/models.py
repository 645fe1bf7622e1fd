"""Snapshot objects from SQLAlchemy schema objects (`Table`, `Column`, constraints).

Migrations hand `op` SQLAlchemy objects, and models are SQLAlchemy `MetaData`; both
become dialect-neutral snapshot objects here, without resolving foreign keys (the
table they point at may not exist in this metadata).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Sequence
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.engine import Dialect
from sqlalchemy.engine.default import DefaultDialect
from sqlalchemy.sql.elements import _truncated_label
from sqlalchemy.sql.schema import DefaultClause
from sqlalchemy.types import TypeEngine

from dbshift.dialects.backends import BACKENDS, resolve_type
from dbshift.errors import ConfigError, UsageError
from dbshift.schema.snapshot import (
    Check,
    Column,
    Enum,
    ForeignKey,
    Index,
    PrimaryKey,
    Snapshot,
    Table,
    Unique,
)
from dbshift.schema.snapshot import Sequence as SnapshotSequence


def clause_sql(clause: Any, dialect: str = "default") -> str:
    """The SQL of an expression written in a model or a migration (`sa.text(...)`,
    `t.c.x > 0`, `sa.func.lower(t.c.name)`) for the named dialect: identifiers quoted the
    way it quotes them (`order` on MySQL, "order" elsewhere), values inlined and column
    names without their table, as a backend prints an index, check or default back."""
    if isinstance(clause, sa.TextClause):
        return clause.text
    if isinstance(clause, sa.ClauseElement):
        kwargs = {"literal_binds": True, "include_table": False}
        return str(clause.compile(dialect=_writing_for(dialect), compile_kwargs=kwargs))
    return str(clause)


@functools.cache
def _writing_for(name: str) -> Dialect:
    """The dialect to write expressions with. Named parameters: with `format` ones
    (MySQL, psycopg) a literal `%` would be written doubled."""
    if name == "default":
        return DefaultDialect()
    cls: Any = sa.make_url(f"{name}://").get_dialect()
    dialect: Dialect = cls(paramstyle="named")
    return dialect


def server_default_sql(value: Any, dialect: str = "default") -> str | None:
    """SQL text for a server default given as a string, `text()`, expression or clause."""
    if value is None or value is False or isinstance(value, (sa.Identity, sa.Computed)):
        return None  # an identity or a computed column is not a default
    if isinstance(value, DefaultClause):
        value = value.arg
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    return clause_sql(value, dialect)


def column_from_sqlalchemy(
    column: sa.Column[Any],
    autoincrement: bool | str | None = None,
    dialect: str = "default",
    type_: TypeEngine[Any] | None = None,
) -> Column:
    """`column` as a snapshot column; `type_`, when given, is its type (resolved for a
    backend, say) instead of the column's own."""
    computed = column.computed
    return Column(
        name=column.name,
        type=column.type if type_ is None else type_,
        nullable=bool(column.nullable),
        server_default=server_default_sql(column.server_default, dialect),
        autoincrement=column.autoincrement if autoincrement is None else autoincrement,
        comment=column.comment,
        computed=str(computed.sqltext) if computed is not None else None,
        identity=identity_options(column.identity),
        persisted=computed.persisted if computed is not None else None,
    )


_IDENTITY_OPTIONS = ("always", "start", "increment", "minvalue", "maxvalue", "cycle", "cache")


def identity_options(identity: sa.Identity | None) -> tuple[tuple[str, Any], ...] | None:
    """An `Identity`'s options that are set, as sorted pairs (`always` always there)."""
    if identity is None:
        return None
    options = {k: getattr(identity, k, None) for k in _IDENTITY_OPTIONS}
    options["always"] = bool(options["always"])
    return tuple(sorted((k, v) for k, v in options.items() if v is not None))


def foreign_key_from_sqlalchemy(
    constraint: sa.ForeignKeyConstraint, dialect: str = "default", order: int | None = None
) -> ForeignKey:
    targets = [element.target_fullname.split(".") for element in constraint.elements]
    ref_schema = ".".join(targets[0][:-2]) or None
    return ForeignKey(
        name=stored_name(constraint, dialect),
        columns=tuple(element.parent.name for element in constraint.elements),
        ref_table=targets[0][-2],
        ref_columns=tuple(t[-1] for t in targets),
        ref_schema=ref_schema,
        ondelete=constraint.ondelete,
        onupdate=constraint.onupdate,
        deferrable=constraint.deferrable,
        initially=constraint.initially,
        order=order,
    )


def index_from_sqlalchemy(index: sa.Index, dialect: str = "default") -> Index:
    columns, expressions = [], []
    for expression in index.expressions:
        if isinstance(expression, sa.Column):
            columns.append(expression.name)
            continue
        sql = clause_sql(expression, dialect)
        columns.append(sql)
        expressions.append(sql)
    # CONCURRENTLY is how the statement runs, not part of the index (see CreateIndex)
    kwargs = {k: v for k, v in index.kwargs.items() if k != "postgresql_concurrently"}
    if kwargs.get("postgresql_ops"):
        kwargs["postgresql_ops"] = _ops_by_entry(index, columns, kwargs["postgresql_ops"])
    options = tuple(
        sorted((k, option_value(v, dialect, k)) for k, v in kwargs.items() if v is not None)
    )
    name = stored_name(index, dialect) or ""
    return Index(name, tuple(columns), bool(index.unique), options, tuple(expressions))


def _ops_by_entry(index: sa.Index, entries: list[str], ops: dict[str, str]) -> dict[str, str]:
    """`postgresql_ops` keyed by the entries it applies to (a column's name, an
    expression's SQL) rather than by SQLAlchemy's keys (a column's key, an expression's
    label), which the database cannot know; an operator class SQLAlchemy would not
    write (its key names no entry) is left out, as CREATE INDEX leaves it out."""
    found = {}
    for expression, entry in zip(index.expressions, entries, strict=True):
        key = getattr(expression, "key", None)
        if key is not None and key in ops:
            found[entry] = ops[key]
    return found


def option_value(value: Any, dialect: str = "default", key: str = "") -> Any:
    """A dialect option as plain data: SQL (`postgresql_where=t.c.x > 0`) as its text,
    written for the backend the option is for (only that backend reads it), whatever
    backend the model is read for."""
    if not isinstance(value, sa.ClauseElement):
        return value
    owner = key.partition("_")[0]
    return clause_sql(value, owner if owner in BACKENDS else dialect)


def table_from_sqlalchemy(
    table: sa.Table,
    columns: tuple[Column, ...] | None = None,
    dialect: str = "default",
    created: Callable[[sa.Index | sa.Constraint], bool] | None = None,
) -> Table:
    """`table` as a snapshot table, its SQL expressions written for the named dialect;
    `columns`, when given, are its columns already made; `created`, when given, says
    which indexes and constraints the backend gets (`ddl_if`)."""
    pk = table.primary_key
    foreign_keys, uniques, checks = [], [], []
    column_checks = [c for column in table.columns for c in column.constraints]
    everything = [*table.constraints, *column_checks]
    if created is not None:
        everything = [c for c in everything if c is pk or created(c)]
    indexes = [i for i in table.indexes if created is None or created(i)]
    # in the order create_all writes them (creation order): the order the server numbers
    # unnamed ones in (c_ibfk_1, c_ibfk_2, ...), and the one PostgreSQL keeps of several
    # unique constraints on the same columns is the first
    # and their places among each other (`order`): MariaDB names keys in that order
    place = {id(c): i for i, c in enumerate(sorted(everything, key=_creation_order))}
    for constraint in sorted(everything, key=_constraint_order):
        name = stored_name(constraint, dialect)
        order = place[id(constraint)]
        if isinstance(constraint, sa.ForeignKeyConstraint):
            foreign_keys.append(foreign_key_from_sqlalchemy(constraint, dialect, order))
        elif isinstance(constraint, sa.UniqueConstraint):
            on = tuple(c.name for c in constraint.columns)
            uniques.append(Unique(name, on, constraint_options(constraint, dialect), order))
        elif isinstance(constraint, sa.CheckConstraint) and not _type_generated(constraint):
            checks.append(Check(name, clause_sql(constraint.sqltext, dialect)))
    return Table(
        name=table.name,
        schema=table.schema,
        columns=columns
        if columns is not None
        else tuple(column_from_sqlalchemy(c, dialect=dialect) for c in table.columns),
        primary_key=PrimaryKey(
            tuple(c.name for c in pk.columns),
            stored_name(pk, dialect),
            constraint_options(pk, dialect),
        )
        if pk is not None and len(pk.columns)
        else None,
        indexes=tuple(
            index_from_sqlalchemy(i, dialect) for i in sorted(indexes, key=lambda i: str(i.name))
        ),
        foreign_keys=tuple(foreign_keys),
        uniques=tuple(uniques),
        checks=tuple(checks),
        comment=table.comment,
        options=table_options(table, dialect),
    )


def table_options(table: sa.Table, dialect: str = "default") -> tuple[tuple[str, Any], ...]:
    """The dialect keywords `table` was given (`sqlite_autoincrement=True`, ...), as
    sorted pairs of plain data."""
    return tuple(
        sorted((k, option_value(v, dialect, k)) for k, v in table.kwargs.items() if v is not None)
    )


def constraint_options(
    constraint: sa.Constraint, dialect: str = "default"
) -> tuple[tuple[str, Any], ...]:
    """The dialect keywords `constraint` was given (`sqlite_on_conflict="IGNORE"`), as
    sorted pairs of plain data."""
    return tuple(
        sorted(
            (k, option_value(v, dialect, k)) for k, v in constraint.kwargs.items() if v is not None
        )
    )


def add_referenced_stubs(table: sa.Table) -> None:
    """Give `table`'s foreign keys the columns they point at, so that `REFERENCES`
    compiles without the whole model.

    A target already in `table`'s metadata (the table itself) gets a stand-in column
    when it lacks one. Any other target is a lightweight `sa.table()` clause holding
    the referenced columns, set as the key's target column the way SQLAlchemy sets one
    it resolved: `REFERENCES` reads only the target's name, schema and column names,
    and building a `Table` (with its events and constraints) for each migration's
    target cost more than compiling the statement does. The compiled DDL is the same
    as with a stand-in `Table` (tests/test_reference_stubs.py, on every dialect)."""
    metadata = table.metadata
    wanted: dict[tuple[str | None, str], dict[str, list[sa.ForeignKey]]] = {}
    for fk in table.foreign_keys:
        *schema, ref_table, ref_column = fk.target_fullname.split(".")
        key = ".".join([*schema, ref_table])
        target = metadata.tables.get(key)
        if target is not None:
            if ref_column not in target.c:
                target.append_column(sa.Column(ref_column, sa.Integer))
            continue
        by_column = wanted.setdefault((".".join(schema) or None, ref_table), {})
        by_column.setdefault(ref_column, []).append(fk)
    for (schema_name, ref_table), by_column in wanted.items():
        clause = sa.table(
            ref_table, *(sa.column(name, sa.Integer()) for name in by_column), schema=schema_name
        )
        for name, fks in by_column.items():
            for fk in fks:
                # SQLAlchemy's own step once a key's target is found (the referencing
                # column takes the target's type when it has none, as with a stand-in)
                fk._set_target_column(clause.c[name])  # type: ignore[arg-type]


def _creation_order(constraint: sa.Constraint) -> tuple[int, str]:
    return (getattr(constraint, "_creation_order", 0), str(constraint.name))


def _constraint_order(constraint: sa.Constraint) -> tuple[str, int, str]:
    order = getattr(constraint, "_creation_order", 0)
    return (type(constraint).__name__, order, str(constraint.name))


def stored_name(item: sa.Constraint | sa.Index, dialect: str = "default") -> str | None:
    """The name the server keeps: one made by a naming convention is cut to the
    backend's limit (64 characters on MySQL, 63 on PostgreSQL) with a hash suffix, as
    `create_all` cuts it. A name given in full is kept whole (the server refuses a
    name that is too long, as it does under `create_all`)."""
    name = _name(item.name)
    if name is None or not isinstance(item.name, _truncated_label):
        return name
    preparer = _writing_for(dialect).identifier_preparer
    if isinstance(item, sa.Index):
        return str(preparer.truncate_and_render_index_name(item.name, _alembic_quote=False))
    return str(preparer.truncate_and_render_constraint_name(item.name, _alembic_quote=False))


def _name(name: Any) -> str | None:
    """Constraint names; SQLAlchemy's placeholder for "no name" becomes None."""
    if name is None or type(name).__name__ == "_NoneName":
        return None
    return str(name)


def _type_generated(constraint: sa.CheckConstraint) -> bool:
    """Checks SQLAlchemy adds for Boolean/Enum types are part of the column type."""
    return bool(getattr(constraint, "_type_bound", False))


# -- a whole model ------------------------------------------------------------------------


def metadata_of(obj: Any) -> sa.MetaData:
    """The `MetaData` behind a declarative base, a registry, SQLModel or a MetaData."""
    if isinstance(obj, sa.MetaData):
        return obj
    metadata = getattr(obj, "metadata", None)
    if isinstance(metadata, sa.MetaData):
        return metadata
    raise TypeError(f"{obj!r} is not SQLAlchemy MetaData, a declarative base or a registry")


def snapshot_from_metadata(
    metadatas: Sequence[sa.MetaData], dialect: Dialect, schema: str | None = None
) -> Snapshot:
    """What `metadata.create_all()` would create on `dialect`, as a snapshot.

    Only tables in `schema` are taken. Column types are what they resolve to on
    `dialect` (variants, `TypeDecorator.load_dialect_impl`). Named native enums are
    recorded on every backend (a no-op to create where enums are inline);
    explicit `Sequence` objects become sequences where the backend has them, and the
    column they feed is not autoincrementing (no SERIAL or AUTO_INCREMENT)."""
    tables: list[Table] = []
    enums: dict[str, Enum] = {}
    sequences: dict[str, SnapshotSequence] = {}
    for metadata in metadatas:
        for sa_table in metadata.tables.values():
            if sa_table.schema != schema:
                continue
            autoincrement = sa_table.autoincrement_column
            columns = []
            for sa_column in sa_table.columns:
                fed = isinstance(sa_column.default, sa.Sequence) and _add_sequence(
                    sequences, sa_column.default, dialect
                )
                serial = sa_column is autoincrement and not fed
                type_ = resolve_type(sa_column.type, dialect)
                try:
                    column = column_from_sqlalchemy(sa_column, serial, dialect.name, type_)
                except sa.exc.CompileError as error:
                    raise _unwritable(f"{sa_table.name}.{sa_column.name}", dialect, error) from None
                columns.append(column)
                enum = named_enum(column.type)
                if enum is not None:
                    enums[enum.key] = enum
            try:
                tables.append(
                    table_from_sqlalchemy(
                        sa_table,
                        tuple(columns),
                        dialect.name,
                        functools.partial(created_on, dialect=dialect, table=sa_table),
                    )
                )
            except sa.exc.CompileError as error:
                raise _unwritable(sa_table.name, dialect, error) from None
        for sequence in metadata._sequences.values():
            _add_sequence(sequences, sequence, dialect)
    return Snapshot.of(tables, enums.values(), sequences.values())


def compile_error(error: sa.exc.CompileError) -> str:
    """SQLAlchemy's compile error in a line, without the compiler object's repr."""
    text = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    text = re.sub(r"Compiler <[^>]*> ", "", text)
    return re.sub(r"\s*\(Background on this error at: [^)]*\)", "", text)


def _unwritable(where: str, dialect: Dialect, error: sa.exc.CompileError) -> UsageError:
    """A default, check or index expression of the models that SQLAlchemy cannot write
    for `dialect` (a project's `FunctionElement` with no compilation for it)."""
    return UsageError(
        f"{where}: SQLAlchemy cannot write it for {dialect.name}: {compile_error(error)}",
        hint="give the construct a compilation for this backend (@compiles), or leave "
        "the backend out",
    )


def created_on(item: sa.Index | sa.Constraint, dialect: Dialect, table: sa.Table) -> bool:
    """Whether `create_all` creates `item` on `dialect`, by its `ddl_if(dialect=...,
    callable_=...)` rule evaluated as SQLAlchemy does. dbshift reads models without a
    database: a callable gets the dialect and a DDL compiler but no connection (`bind`
    is None, as for constraints inside CREATE TABLE); one that needs it is refused."""
    rule = getattr(item, "_ddl_if", None)
    if rule is None:
        return True
    compiler = dialect.ddl_compiler(dialect, cast(Any, None))
    try:
        if isinstance(item, sa.Index):  # as SchemaGenerator asks before CREATE INDEX
            create: Any = sa.schema.CreateIndex(item)
            return bool(create._should_execute(item, None, compiler=compiler))
        # as CREATE TABLE asks of its constraints (AddConstraint would detach `item`)
        return bool(item._should_create_for_compiler(compiler))
    except Exception as error:
        kind = "index" if isinstance(item, sa.Index) else "constraint"
        name = _name(item.name) or "(unnamed)"
        raise ConfigError(
            f"the ddl_if rule of {kind} {name} on table {table.fullname} failed without a "
            f"database connection: {type(error).__name__}: {error}",
            hint="dbshift reads models offline: decide by the `dialect` keyword the "
            "callable is given, not by `bind`",
        ) from None


def named_enum(type_: Any) -> Enum | None:
    """The named native enum type of a column of `type_` (through a `TypeDecorator` to
    its implementation), on every backend: the snapshot is the same everywhere, and
    creating one does nothing where enums are not schema objects (ops/types.py)."""
    while isinstance(type_, sa.TypeDecorator):
        type_ = type_.impl_instance
    if not isinstance(type_, sa.Enum) or not type_.native_enum:
        return None
    if not type_.name:
        return None
    return Enum(type_.name, tuple(type_.enums), type_.schema)


def _add_sequence(
    found: dict[str, SnapshotSequence], sequence: sa.Sequence, dialect: Dialect
) -> bool:
    """Record `sequence` if the backend will create it; whether it did."""
    if not dialect.supports_sequences or sequence.optional:
        return False
    item = SnapshotSequence(
        sequence.name,
        sequence.schema,
        sequence.start,
        sequence.increment,
        sequence.minvalue,
        sequence.maxvalue,
        bool(sequence.cycle),
    )
    found[item.key] = item
    return True
