"""An immutable, dialect-neutral model of a database schema.

A snapshot is what the migrations leave behind (replayed in memory), what a live
database holds (introspected), or what the models declare. Comparing two of them is
autogenerate, drift detection and `check`.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.types import TypeEngine


class BackendSQL(str):
    """SQL text of a model expression that each backend writes its own way (`"order"`
    on SQLite and PostgreSQL, `` `order` `` on MySQL). As a string it is the text of one
    backend; `by_backend` holds every backend's, so a migration for several can restate
    each (`op.sql(...)`) and backends compare it by what it is on all of them."""

    by_backend: tuple[tuple[str, str], ...]

    def __new__(cls, text: str, by_backend: Iterable[tuple[str, str]]) -> BackendSQL:
        made = super().__new__(cls, text)
        made.by_backend = tuple(sorted(by_backend))
        return made

    def on(self, backend: str) -> BackendSQL:
        """The same expression as `backend` writes it."""
        return BackendSQL(dict(self.by_backend)[backend], self.by_backend)

    def __reduce__(self) -> tuple[Any, ...]:
        return (BackendSQL, (str(self), self.by_backend))


@dataclasses.dataclass(frozen=True)
class Column:
    name: str
    type: TypeEngine[Any]
    nullable: bool = True
    server_default: str | None = None
    autoincrement: bool | str = "auto"
    comment: str | None = None
    computed: str | None = None
    #: an identity column (`GENERATED ... AS IDENTITY`): its options as sorted pairs,
    #: `always` among them; None for other columns
    identity: tuple[tuple[str, Any], ...] | None = None
    #: a computed column's `persisted=` (True: STORED), kept so that DDL written from
    #: the snapshot (an offline SQLite rebuild, an added column) says what the migration
    #: said; not compared, as autogenerate neither reads nor changes it
    persisted: bool | None = dataclasses.field(default=None, compare=False)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "type": _type_repr(self.type),
            "nullable": self.nullable,
            "server_default": self.server_default,
            "autoincrement": self.autoincrement,
            "comment": self.comment,
            "computed": self.computed,
            "identity": dict(self.identity) if self.identity is not None else None,
        }


#: a constraint's dialect keywords (`sqlite_on_conflict="IGNORE"`) as sorted pairs of
#: plain data: written into the DDL (each backend reads its own), read back by the
#: introspection of the backend that keeps them, not compared (a change of them alone is
#: not detected), so not part of equality
def _constraint_options() -> Any:
    return dataclasses.field(default=(), compare=False)


#: a unique constraint's or foreign key's place among the table's in the CREATE TABLE
#: `create_all` writes (creation order), None when unknown (read from a database, added
#: later): MariaDB names an unnamed unique key, and the index it makes for a foreign key,
#: after the first column in that order (`user_id`, then `user_id_2`); not compared
def _order() -> Any:
    return dataclasses.field(default=None, compare=False)


@dataclasses.dataclass(frozen=True)
class PrimaryKey:
    columns: tuple[str, ...]
    name: str | None = None
    options: tuple[tuple[str, Any], ...] = _constraint_options()


@dataclasses.dataclass(frozen=True)
class Index:
    name: str
    #: column names, and SQL expressions for the entries listed in `expressions`
    columns: tuple[str, ...]
    unique: bool = False
    #: dialect-specific keywords such as `postgresql_where`, as (key, value) pairs
    options: tuple[tuple[str, Any], ...] = ()
    #: the entries of `columns` that are SQL expressions rather than column names
    expressions: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True)
class ForeignKey:
    name: str | None
    columns: tuple[str, ...]
    ref_table: str
    ref_columns: tuple[str, ...]
    ref_schema: str | None = None
    ondelete: str | None = None
    onupdate: str | None = None
    deferrable: bool | None = None
    initially: str | None = None
    order: int | None = _order()


@dataclasses.dataclass(frozen=True)
class Unique:
    name: str | None
    columns: tuple[str, ...]
    options: tuple[tuple[str, Any], ...] = _constraint_options()
    order: int | None = _order()


@dataclasses.dataclass(frozen=True)
class Check:
    name: str | None
    sqltext: str

    def uses(self, column: str) -> bool:
        """Whether the SQL names `column` (as a whole word, quoted or not): a best guess,
        used to drop the check with the column as PostgreSQL does."""
        pattern = rf"(?<![\w$]){re.escape(column)}(?![\w$])"
        return re.search(pattern, self.sqltext, re.IGNORECASE) is not None


@dataclasses.dataclass(frozen=True)
class Table:
    name: str
    columns: tuple[Column, ...]
    schema: str | None = None
    primary_key: PrimaryKey | None = None
    indexes: tuple[Index, ...] = ()
    foreign_keys: tuple[ForeignKey, ...] = ()
    uniques: tuple[Unique, ...] = ()
    checks: tuple[Check, ...] = ()
    comment: str | None = None
    #: dialect keywords of the table (`sqlite_autoincrement`, `mysql_engine`,
    #: `postgresql_partition_by`, ...) as sorted (key, value) pairs of plain data; each
    #: backend's DDL uses its own and ignores the others'
    options: tuple[tuple[str, Any], ...] = ()

    @property
    def key(self) -> str:
        return table_key(self.name, self.schema)

    def column(self, name: str) -> Column | None:
        return next((c for c in self.columns if c.name == name), None)

    def replace(self, **changes: Any) -> Table:
        return dataclasses.replace(self, **changes)

    def to_sqlalchemy(self, metadata: sa.MetaData | None = None) -> sa.Table:
        """This table as a SQLAlchemy `Table`, for DDL compilation.

        Tables its foreign keys point at are added to the metadata as stubs holding
        just the referenced columns, so that `REFERENCES` compiles."""
        metadata = metadata if metadata is not None else sa.MetaData()
        pk = set(self.primary_key.columns) if self.primary_key else set()
        items: list[Any] = [
            sa.Column(
                col.name,
                col.type,
                *(
                    [sa.Computed(sa.text(col.computed), persisted=col.persisted)]
                    if col.computed
                    else []
                ),
                *([sa.Identity(**dict(col.identity))] if col.identity is not None else []),
                nullable=col.nullable,
                server_default=sa.text(col.server_default)
                if col.server_default is not None
                else None,
                autoincrement=col.autoincrement,  # type: ignore[arg-type]
                comment=col.comment,
                primary_key=col.name in pk,
            )
            for col in self.columns
        ]
        if self.primary_key and (self.primary_key.name or self.primary_key.options):
            items.append(
                sa.PrimaryKeyConstraint(
                    *self.primary_key.columns,
                    name=self.primary_key.name,
                    **dict(self.primary_key.options),
                )
            )
        for item in in_create_order(self.foreign_keys, self.uniques):
            if isinstance(item, Unique):
                items.append(
                    sa.UniqueConstraint(*item.columns, name=item.name, **dict(item.options))
                )
                continue
            fk = item
            if (fk.ref_table, fk.ref_schema) != (self.name, self.schema):
                _stub(metadata, fk.ref_table, fk.ref_schema, fk.ref_columns)
            prefix = f"{fk.ref_schema}." if fk.ref_schema else ""
            items.append(
                sa.ForeignKeyConstraint(
                    list(fk.columns),
                    [f"{prefix}{fk.ref_table}.{c}" for c in fk.ref_columns],
                    name=fk.name,
                    ondelete=fk.ondelete,
                    onupdate=fk.onupdate,
                    deferrable=fk.deferrable,
                    initially=fk.initially,
                )
            )
        items += [sa.CheckConstraint(sa.text(ck.sqltext), name=ck.name) for ck in self.checks]
        key = table_key(self.name, self.schema)
        if key in metadata.tables:  # a stub made for another table's foreign key
            metadata.remove(metadata.tables[key])
        table = sa.Table(
            self.name,
            metadata,
            *items,
            schema=self.schema,
            comment=self.comment,
            **dict(self.options),
        )
        for ix in self.indexes:
            index_to_sqlalchemy(ix, table)
        return table


def in_create_order(
    foreign_keys: Iterable[ForeignKey], uniques: Iterable[Unique]
) -> list[ForeignKey | Unique]:
    """A table's foreign keys and unique constraints in the order `create_all` writes
    them (their `order`; those of unknown order after, foreign keys first)."""
    items: list[ForeignKey | Unique] = [*foreign_keys, *uniques]
    return sorted(items, key=lambda item: (item.order is None, item.order or 0))


def index_to_sqlalchemy(index: Index, table: sa.Table, **extra: Any) -> sa.Index:
    """`index` on `table`; entries that are not column names are SQL expressions.

    `extra` are dialect keywords about the statement rather than the index, such as
    `postgresql_concurrently`."""
    ops = dict(index.options).get("postgresql_ops") or {}
    # an expression with an operator class needs a key naming it, as a column has
    parts: list[Any] = [
        (sa.literal_column(c) if c in ops else sa.text(c)) if c in index.expressions else table.c[c]
        for c in index.columns
    ]
    options: dict[str, Any] = {
        key: sa.text(value) if key.endswith("_where") and isinstance(value, str) else value
        for key, value in index.options
    }
    return sa.Index(index.name, *parts, unique=index.unique, _table=table, **options, **extra)


def _stub(metadata: sa.MetaData, name: str, schema: str | None, columns: tuple[str, ...]) -> None:
    key = table_key(name, schema)
    existing = metadata.tables.get(key)
    if existing is None:
        sa.Table(name, metadata, *[sa.Column(c, sa.Integer) for c in columns], schema=schema)
        return
    for column in columns:
        if column not in existing.c:
            existing.append_column(sa.Column(column, sa.Integer))


def table_key(name: str, schema: str | None = None) -> str:
    return f"{schema}.{name}" if schema else name


@dataclasses.dataclass(frozen=True)
class Enum:
    """A named enum type (PostgreSQL's `CREATE TYPE ... AS ENUM`); other backends declare
    enums inline in the column type and have none of these."""

    name: str
    values: tuple[str, ...]
    schema: str | None = None

    @property
    def key(self) -> str:
        return table_key(self.name, self.schema)


@dataclasses.dataclass(frozen=True)
class Sequence:
    """An explicit sequence (PostgreSQL, MariaDB), not one owned by a SERIAL or identity
    column. None means the backend's default."""

    name: str
    schema: str | None = None
    start: int | None = None
    increment: int | None = None
    minvalue: int | None = None
    maxvalue: int | None = None
    cycle: bool = False

    @property
    def key(self) -> str:
        return table_key(self.name, self.schema)


@dataclasses.dataclass(frozen=True)
class Snapshot:
    """A whole schema. Treat as immutable: every change returns a new snapshot."""

    tables: Mapping[str, Table] = dataclasses.field(default_factory=dict)
    enums: Mapping[str, Enum] = dataclasses.field(default_factory=dict)
    sequences: Mapping[str, Sequence] = dataclasses.field(default_factory=dict)

    @classmethod
    def of(
        cls,
        tables: Iterable[Table],
        enums: Iterable[Enum] = (),
        sequences: Iterable[Sequence] = (),
    ) -> Snapshot:
        return cls(
            {t.key: t for t in tables},
            {e.key: e for e in enums},
            {s.key: s for s in sequences},
        )

    def table(self, name: str, schema: str | None = None) -> Table | None:
        return self.tables.get(table_key(name, schema))

    def with_table(self, table: Table) -> Snapshot:
        return dataclasses.replace(self, tables={**self.tables, table.key: table})

    def update_table(
        self, name: str, schema: str | None, change: Callable[[Table], Table]
    ) -> Snapshot:
        """The snapshot with `change` applied to one table; unchanged when the table is
        unknown (created by raw SQL, say), so replay goes on without inventing it."""
        table = self.table(name, schema)
        return self if table is None else self.with_table(change(table))

    def without_table(self, name: str, schema: str | None = None) -> Snapshot:
        key = table_key(name, schema)
        return dataclasses.replace(self, tables={k: v for k, v in self.tables.items() if k != key})

    def with_enum(self, enum: Enum) -> Snapshot:
        return dataclasses.replace(self, enums={**self.enums, enum.key: enum})

    def without_enum(self, name: str, schema: str | None = None) -> Snapshot:
        key = table_key(name, schema)
        return dataclasses.replace(self, enums={k: v for k, v in self.enums.items() if k != key})

    def with_sequence(self, sequence: Sequence) -> Snapshot:
        return dataclasses.replace(self, sequences={**self.sequences, sequence.key: sequence})

    def without_sequence(self, name: str, schema: str | None = None) -> Snapshot:
        key = table_key(name, schema)
        sequences = {k: v for k, v in self.sequences.items() if k != key}
        return dataclasses.replace(self, sequences=sequences)

    def to_json(self) -> str:
        """Canonical JSON: sorted keys, stable across runs."""
        return json.dumps(
            {
                "tables": {key: _table_json(self.tables[key]) for key in sorted(self.tables)},
                "enums": {k: dataclasses.asdict(self.enums[k]) for k in sorted(self.enums)},
                "sequences": {
                    k: dataclasses.asdict(self.sequences[k]) for k in sorted(self.sequences)
                },
            },
            sort_keys=True,
            default=str,
        )


def _table_json(table: Table) -> dict[str, Any]:
    data = dataclasses.asdict(table)
    data["columns"] = [c.to_json() for c in table.columns]
    return data


def _type_repr(type_: TypeEngine[Any]) -> str:
    return repr(type_)
