"""Schema objects that are not tables: PostgreSQL enum types and explicit sequences.

Backends without them (enums on MySQL and SQLite live inline in the column type;
SQLite has no sequences) keep them in the snapshot only, so a migration written once
replays and runs everywhere.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence

import sqlalchemy as sa

from dbshift.dialects import backend_for
from dbshift.dialects.base import qualified
from dbshift.facts import Fact, SQLReader
from dbshift.ops.base import ExecutionContext, Operation, irreversible, quoted
from dbshift.ops.rendering import RenderContext, py_int, py_list, py_opt, py_str
from dbshift.schema import snapshot as s
from dbshift.schema.models import named_enum


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _has_enum_types(ctx: ExecutionContext) -> bool:
    return backend_for(ctx.dialect).has_enum_types


# `create_table` and `add_column` create the named enum types their columns need that
# are not there yet, as SQLAlchemy's `create_all` does and as Alembic's `create_table`
# does (so an Alembic migration that relies on it runs unchanged). A type that is there
# already (an `op.create_enum` before, as `make` writes it) is left alone. Undone, they
# drop the types they created.


def column_enums(columns: Iterable[s.Column]) -> list[s.Enum]:
    """The named native enum types `columns` use, each once, in column order."""
    found: dict[str, s.Enum] = {}
    for column in columns:
        enum = named_enum(column.type)
        if enum is not None:
            found.setdefault(enum.key, enum)
    return list(found.values())


def with_column_enums(snapshot: s.Snapshot, columns: Iterable[s.Column]) -> s.Snapshot:
    """`snapshot` with the enum types `columns` need that it does not have."""
    for enum in column_enums(columns):
        if enum.key not in snapshot.enums:
            snapshot = snapshot.with_enum(enum)
    return snapshot


def create_column_enums(ctx: ExecutionContext, columns: Iterable[s.Column]) -> None:
    """Create the enum types `columns` need that `ctx` does not have (where the backend
    has enum types: elsewhere an enum is part of the column type)."""
    if not _has_enum_types(ctx):
        return
    existing: dict[str | None, dict[str, s.Enum]] = {}  # by schema, each read once
    for enum in column_enums(columns):
        if enum.schema not in existing:
            existing[enum.schema] = ctx.enums(enum.schema)
        if enum.name not in existing[enum.schema]:
            CreateEnum(enum).execute(ctx)


def drop_column_enums(before: s.Snapshot, columns: Iterable[s.Column]) -> list[Operation]:
    """What undoes `create_column_enums` on the schema `before`: the types it created."""
    return [
        DropEnum(enum.name, enum.schema)
        for enum in column_enums(columns)
        if enum.key not in before.enums
    ]


@dataclasses.dataclass(frozen=True)
class CreateEnum(Operation):
    enum: s.Enum

    static_sql = True

    def apply(self, snapshot: s.Snapshot) -> s.Snapshot:
        return snapshot.with_enum(self.enum)

    def execute(self, ctx: ExecutionContext) -> None:
        if _has_enum_types(ctx):
            name = qualified(ctx.dialect, self.enum.name, self.enum.schema)
            values = ", ".join(_literal(v) for v in self.enum.values)
            ctx.emit(f"CREATE TYPE {name} AS ENUM ({values})")

    def reverse(self, before: s.Snapshot) -> Sequence[Operation]:
        return [DropEnum(self.enum.name, self.enum.schema)]

    def describe(self) -> str:
        return f"create enum {quoted(self.enum.schema, self.enum.name)}"

    def render_python(self, py: RenderContext) -> list[str]:
        e = self.enum
        return py.call("create_enum", py_str(e.name), py_list(e.values), schema=py_opt(e.schema))

    def lint_facts(self, read_sql: SQLReader) -> list[Fact]:
        e = self.enum
        return [Fact("create_enum", schema=e.schema, name=e.name, values=e.values)]


@dataclasses.dataclass(frozen=True)
class DropEnum(Operation):
    name: str
    schema: str | None = None

    static_sql = True

    def apply(self, snapshot: s.Snapshot) -> s.Snapshot:
        return snapshot.without_enum(self.name, self.schema)

    def execute(self, ctx: ExecutionContext) -> None:
        if _has_enum_types(ctx):
            ctx.emit(f"DROP TYPE {qualified(ctx.dialect, self.name, self.schema)}")

    def reverse(self, before: s.Snapshot) -> Sequence[Operation]:
        enum = before.enums.get(s.table_key(self.name, self.schema))
        if enum is None:
            raise irreversible(
                f"drop enum {quoted(self.schema, self.name)}: its values are unknown"
            )
        return [CreateEnum(enum)]

    def describe(self) -> str:
        return f"drop enum {quoted(self.schema, self.name)}"

    def render_python(self, py: RenderContext) -> list[str]:
        return py.call("drop_enum", py_str(self.name), schema=py_opt(self.schema))

    def lint_facts(self, read_sql: SQLReader) -> list[Fact]:
        return [Fact("drop_enum", schema=self.schema, name=self.name)]


@dataclasses.dataclass(frozen=True)
class AddEnumValue(Operation):
    """`ALTER TYPE ... ADD VALUE`. PostgreSQL 12 and later run it in the migration's
    transaction (the new value is usable once that commits); older servers need the
    migration marked `transactional = False`."""

    name: str
    value: str
    schema: str | None = None
    #: the existing value it goes before; None appends it
    before: str | None = None

    static_sql = True

    def apply(self, snapshot: s.Snapshot) -> s.Snapshot:
        enum = snapshot.enums.get(s.table_key(self.name, self.schema))
        if enum is None or self.value in enum.values:
            return snapshot
        values = list(enum.values)
        at = values.index(self.before) if self.before in values else len(values)
        values.insert(at, self.value)
        return snapshot.with_enum(dataclasses.replace(enum, values=tuple(values)))

    def execute(self, ctx: ExecutionContext) -> None:
        if not _has_enum_types(ctx):
            return
        name = qualified(ctx.dialect, self.name, self.schema)
        where = f" BEFORE {_literal(self.before)}" if self.before is not None else ""
        ctx.emit(f"ALTER TYPE {name} ADD VALUE IF NOT EXISTS {_literal(self.value)}{where}")

    def reverse(self, before: s.Snapshot) -> Sequence[Operation]:
        enum = before.enums.get(s.table_key(self.name, self.schema))
        if enum is None:
            raise irreversible(f"add value to enum {quoted(self.schema, self.name)}")
        return [SetEnumValues(self.name, enum.values, self.schema)]

    def describe(self) -> str:
        return f"add value {_literal(self.value)} to enum {quoted(self.schema, self.name)}"

    def render_python(self, py: RenderContext) -> list[str]:
        return py.call(
            "add_enum_value",
            py_str(self.name),
            py_str(self.value),
            schema=py_opt(self.schema),
            before=py_opt(self.before),
        )

    def lint_facts(self, read_sql: SQLReader) -> list[Fact]:
        return [
            Fact(
                "add_enum_value",
                schema=self.schema,
                name=self.name,
                position=self.before,
                values=(self.value,),
            )
        ]


@dataclasses.dataclass(frozen=True)
class SetEnumValues(Operation):
    """Give an enum type exactly these values (PostgreSQL cannot drop a value): the type
    is renamed, recreated, every column using it converted through text, and the old
    type dropped. Rows holding a removed value make it fail, and nothing changes."""

    name: str
    values: tuple[str, ...]
    schema: str | None = None

    static_sql = True

    def apply(self, snapshot: s.Snapshot) -> s.Snapshot:
        return snapshot.with_enum(s.Enum(self.name, self.values, self.schema))

    def execute(self, ctx: ExecutionContext) -> None:
        if not _has_enum_types(ctx):
            return
        dialect = ctx.dialect
        name = qualified(dialect, self.name, self.schema)
        old_name = f"{self.name}__dbshift_old"
        old = qualified(dialect, old_name, self.schema)
        values = ", ".join(_literal(v) for v in self.values)
        ctx.emit(f"ALTER TYPE {name} RENAME TO {dialect.identifier_preparer.quote(old_name)}")
        ctx.emit(f"CREATE TYPE {name} AS ENUM ({values})")
        # Every column of the old type, found by the server itself (works offline too).
        target = name.replace("'", "''").replace("%", "%%")
        body = (
            "DECLARE r record; BEGIN FOR r IN SELECT n.nspname, c.relname, a.attname "
            "FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            f"WHERE a.atttypid = {_literal(old)}::regtype AND a.attnum > 0 "
            "AND NOT a.attisdropped AND c.relkind IN ('r', 'p') LOOP "
            "EXECUTE format('ALTER TABLE %I.%I ALTER COLUMN %I TYPE "
            + target
            + " USING %I::text::"
            + target
            + "', r.nspname, r.relname, r.attname, r.attname); END LOOP; END"
        )
        ctx.emit(f"DO $dbshift$ {body} $dbshift$")
        ctx.emit(f"DROP TYPE {old}")

    def reverse(self, before: s.Snapshot) -> Sequence[Operation]:
        enum = before.enums.get(s.table_key(self.name, self.schema))
        if enum is None:
            raise irreversible(f"change the values of enum {quoted(self.schema, self.name)}")
        return [SetEnumValues(self.name, enum.values, self.schema)]

    def describe(self) -> str:
        values = ", ".join(self.values)
        return f"set the values of enum {quoted(self.schema, self.name)} to {values}"

    def render_python(self, py: RenderContext) -> list[str]:
        args = (py_str(self.name), py_list(self.values))
        return py.call("set_enum_values", *args, schema=py_opt(self.schema))

    def lint_facts(self, read_sql: SQLReader) -> list[Fact]:
        return [Fact("set_enum_values", schema=self.schema, name=self.name, values=self.values)]


def _sa_sequence(sequence: s.Sequence) -> sa.Sequence:
    return sa.Sequence(
        sequence.name,
        start=sequence.start,
        increment=sequence.increment,
        minvalue=sequence.minvalue,
        maxvalue=sequence.maxvalue,
        cycle=sequence.cycle or None,
        schema=sequence.schema,
    )


@dataclasses.dataclass(frozen=True)
class CreateSequence(Operation):
    sequence: s.Sequence

    static_sql = True

    def apply(self, snapshot: s.Snapshot) -> s.Snapshot:
        return snapshot.with_sequence(self.sequence)

    def execute(self, ctx: ExecutionContext) -> None:
        if ctx.dialect.supports_sequences:
            ctx.emit(sa.schema.CreateSequence(_sa_sequence(self.sequence)))

    def reverse(self, before: s.Snapshot) -> Sequence[Operation]:
        return [DropSequence(self.sequence.name, self.sequence.schema)]

    def describe(self) -> str:
        return f"create sequence {quoted(self.sequence.schema, self.sequence.name)}"

    def render_python(self, py: RenderContext) -> list[str]:
        q = self.sequence
        return py.call(
            "create_sequence",
            py_str(q.name),
            schema=py_opt(q.schema),
            start=py_int(q.start),
            increment=py_int(q.increment),
            minvalue=py_int(q.minvalue),
            maxvalue=py_int(q.maxvalue),
            cycle="True" if q.cycle else None,
        )

    def lint_facts(self, read_sql: SQLReader) -> list[Fact]:
        return [Fact("other", name=self.describe())]  # no rule is about new sequences


@dataclasses.dataclass(frozen=True)
class DropSequence(Operation):
    name: str
    schema: str | None = None

    static_sql = True

    def apply(self, snapshot: s.Snapshot) -> s.Snapshot:
        return snapshot.without_sequence(self.name, self.schema)

    def execute(self, ctx: ExecutionContext) -> None:
        if ctx.dialect.supports_sequences:
            ctx.emit(f"DROP SEQUENCE {qualified(ctx.dialect, self.name, self.schema)}")

    def reverse(self, before: s.Snapshot) -> Sequence[Operation]:
        sequence = before.sequences.get(s.table_key(self.name, self.schema))
        if sequence is None:
            raise irreversible(f"drop sequence {quoted(self.schema, self.name)}")
        return [CreateSequence(sequence)]

    def describe(self) -> str:
        return f"drop sequence {quoted(self.schema, self.name)}"

    def render_python(self, py: RenderContext) -> list[str]:
        return py.call("drop_sequence", py_str(self.name), schema=py_opt(self.schema))

    def lint_facts(self, read_sql: SQLReader) -> list[Fact]:
        return [Fact("drop_sequence", schema=self.schema, name=self.name)]
