"""Indexes and constraints."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

import sqlalchemy as sa

from dbshift.dialects import backend_for, dialect_for
from dbshift.dialects.base import (
    Constraint,
    TableEdit,
    plain_index_sql,
    qualified,
    quote,
    sa_constraint,
    stub_table,
)
from dbshift.errors import MigrationError
from dbshift.facts import Fact, SQLReader, reference_from_snapshot
from dbshift.ops.base import ExecutionContext, Operation, irreversible, quoted
from dbshift.ops.rendering import (
    RenderContext,
    pk_name,
    py_list,
    py_opt,
    py_option,
    py_sql,
    py_str,
)
from dbshift.schema.models import stored_name
from dbshift.schema.snapshot import (
    Check,
    ForeignKey,
    Index,
    PrimaryKey,
    Snapshot,
    Table,
    Unique,
    index_to_sqlalchemy,
    table_key,
)

_C = TypeVar("_C", ForeignKey, Unique, Check, PrimaryKey)
KINDS = {"foreignkey": ForeignKey, "unique": Unique, "check": Check, "primary": PrimaryKey}


def with_constraint(table: Table, constraint: Constraint) -> Table:
    if isinstance(constraint, PrimaryKey):
        return table.replace(primary_key=constraint)
    if isinstance(constraint, ForeignKey):
        return table.replace(foreign_keys=(*table.foreign_keys, constraint))
    if isinstance(constraint, Unique):
        return table.replace(uniques=(*table.uniques, constraint))
    return table.replace(checks=(*table.checks, constraint))


def find_constraint(table: Table, name: str) -> Constraint | None:
    everything: list[Constraint] = [*table.foreign_keys, *table.uniques, *table.checks]
    everything += [Unique(i.name, i.columns) for i in table.indexes if i.unique]
    if table.primary_key is not None:
        everything.append(table.primary_key)
    return next((c for c in everything if c.name == name), None)


def named_by_convention(
    table: Table, name: str, convention: Mapping[str, str]
) -> ForeignKey | Unique | Check | None:
    """The unnamed constraint of `table` that `convention` names `name` (Alembic's
    batch mode names a reflected table's unnamed constraints so, and a revision drops
    them by that name), if one is."""
    unnamed: list[ForeignKey | Unique | Check] = [
        *(c for c in table.foreign_keys if c.name is None),
        *(c for c in table.uniques if c.name is None),
        *(c for c in table.checks if c.name is None),
    ]
    for item in unnamed:
        alone = table.replace(
            primary_key=None,
            foreign_keys=(item,) if isinstance(item, ForeignKey) else (),
            uniques=(item,) if isinstance(item, Unique) else (),
            checks=(item,) if isinstance(item, Check) else (),
            indexes=(),
        )
        try:
            sa_table = alone.to_sqlalchemy(sa.MetaData(naming_convention=dict(convention)))
            names = {
                stored_name(c)
                for c in sa_table.constraints
                if not isinstance(c, sa.PrimaryKeyConstraint)
            }
        except (sa.exc.SQLAlchemyError, KeyError):  # a template this kind cannot fill
            continue
        if name in names:
            return item
    return None


def without_constraint(table: Table, name: str, kind: str | None = None) -> Table:
    """`table` minus the named constraint. A table has one primary key, and backends name
    it their own way (`t_pkey`, `PRIMARY`, none): `kind="primary"` drops it by kind."""
    pk = table.primary_key
    return table.replace(
        primary_key=None if pk is not None and (pk.name == name or kind == "primary") else pk,
        foreign_keys=tuple(c for c in table.foreign_keys if c.name != name),
        uniques=tuple(c for c in table.uniques if c.name != name),
        checks=tuple(c for c in table.checks if c.name != name),
        indexes=tuple(i for i in table.indexes if not (i.unique and i.name == name)),
    )


@dataclasses.dataclass(frozen=True)
class CreateIndex(Operation):
    """Create an index. `concurrently` (PostgreSQL) is about the statement, not the
    index, so it is kept out of the snapshot: a table recreated later gets a plain index."""

    table: str
    index: Index
    schema: str | None = None
    concurrently: bool = False
    if_not_exists: bool = False

    static_sql = True

    def apply(self, snapshot: Snapshot) -> Snapshot:
        return snapshot.update_table(
            self.table, self.schema, lambda t: t.replace(indexes=(*t.indexes, self.index))
        )

    def execute(self, ctx: ExecutionContext) -> None:
        if not self.concurrently and dialect_for(ctx.dialect).plain_indexes:
            text = plain_index_sql(
                ctx.dialect, self.index, self.table, self.schema, self.if_not_exists
            )
            if text is not None:
                ctx.emit(text)
                return
        plain = [c for c in self.index.columns if c not in self.index.expressions]
        # INCLUDE columns are named through the table too
        include = dict(self.index.options).get("postgresql_include") or ()
        plain += [c for c in include if c not in plain]
        extra = {"postgresql_concurrently": True} if self.concurrently else {}
        sa_index = index_to_sqlalchemy(
            self.index, stub_table(self.table, self.schema, plain), **extra
        )
        ctx.emit(sa.schema.CreateIndex(sa_index, if_not_exists=self.if_not_exists))

    @property
    def transactional(self) -> bool:
        return not self.concurrently

    def reverse(self, before: Snapshot) -> Sequence[Operation]:
        return [DropIndex(self.index.name, self.table, self.schema, self.concurrently)]

    def describe(self) -> str:
        unique = "unique " if self.index.unique else ""
        where = quoted(self.schema, self.table)
        return f"create {unique}index {quoted(self.index.name)} on {where}"

    def render_python(self, py: RenderContext) -> list[str]:
        index = self.index
        entries = ", ".join(
            f"sa.text({py_sql(c)})" if c in index.expressions else py_str(c) for c in index.columns
        )
        options = {key: py_option(key, value) for key, value in index.options}
        return py.call(
            "create_index",
            py_str(index.name),
            py_str(self.table),
            f"[{entries}]",
            schema=py_opt(self.schema),
            unique="True" if index.unique else None,
            **options,
            postgresql_concurrently="True" if self.concurrently else None,
        )

    def lint_facts(self, read_sql: SQLReader) -> list[Fact]:
        return [
            Fact(
                "create_index",
                self.table,
                self.schema,
                name=self.index.name,
                concurrently=self.concurrently,
                unique=self.index.unique,
                on_columns=self.index.columns,
            )
        ]


@dataclasses.dataclass(frozen=True)
class DropIndex(Operation):
    name: str
    table: str | None = None
    schema: str | None = None
    concurrently: bool = False
    if_exists: bool = False

    static_sql = True

    def _owner(self, snapshot: Snapshot) -> Table | None:
        if self.table is not None:
            return snapshot.table(self.table, self.schema)
        return next(
            (t for t in snapshot.tables.values() if any(i.name == self.name for i in t.indexes)),
            None,
        )

    def apply(self, snapshot: Snapshot) -> Snapshot:
        table = self._owner(snapshot)
        if table is None:
            return snapshot
        return snapshot.with_table(
            table.replace(indexes=tuple(i for i in table.indexes if i.name != self.name))
        )

    def execute(self, ctx: ExecutionContext) -> None:
        if self.table is None and backend_for(ctx.dialect).drop_index_needs_table:
            raise MigrationError(
                f"drop_index({self.name!r}) needs the table name on MySQL/MariaDB",
                hint=f'write op.drop_index("{self.name}", "<table>")',
            )
        extra: dict[str, Any] = {"postgresql_concurrently": True} if self.concurrently else {}
        stub = stub_table(self.table or "unknown", self.schema)
        index = sa.Index(self.name, _table=stub, **extra)
        dialect_for(ctx.dialect).drop_index(ctx, self.table, self.schema, index, self.if_exists)

    @property
    def transactional(self) -> bool:
        return not self.concurrently

    def reverse(self, before: Snapshot) -> Sequence[Operation]:
        table = self._owner(before)
        index = next((i for i in table.indexes if i.name == self.name), None) if table else None
        if table is None or index is None:
            where = f" on {quoted(self.schema, self.table)}" if self.table else ""
            raise irreversible(
                f"drop index {quoted(self.name)}{where}: its definition is unknown",
                hint="create it in an earlier migration with op.create_index, "
                "or write downgrade(op)",
            )
        return [CreateIndex(table.name, index, table.schema, self.concurrently)]

    def describe(self) -> str:
        where = f" on {quoted(self.schema, self.table)}" if self.table else ""
        return f"drop index {quoted(self.name)}{where}"

    def render_python(self, py: RenderContext) -> list[str]:
        return py.call(
            "drop_index",
            py_str(self.name),
            table_name=py_opt(self.table),
            schema=py_opt(self.schema),
            postgresql_concurrently="True" if self.concurrently else None,
        )

    def lint_facts(self, read_sql: SQLReader) -> list[Fact]:
        return [
            Fact(
                "drop_index",
                self.table,
                self.schema,
                name=self.name,
                concurrently=self.concurrently,
            )
        ]


@dataclasses.dataclass(frozen=True)
class AddConstraint(Operation):
    """Add a constraint: abstract, the operation is the subclass named for the kind of
    constraint (`add_constraint` picks it), which renders and lints as that kind.

    Two PostgreSQL options are about the statement, not the constraint, so they stay out
    of the snapshot (like `CreateIndex.concurrently`): `not_valid` (foreign keys and
    checks: existing rows are checked later, by `ValidateConstraint`) and `using_index`
    (unique constraints: adopt a unique index built beforehand, typically
    `CONCURRENTLY`). Other backends ignore both."""

    table: str
    constraint: Constraint
    schema: str | None = None
    not_valid: bool = False
    using_index: str | None = None

    static_sql = True

    def apply(self, snapshot: Snapshot) -> Snapshot:
        return snapshot.update_table(self.table, self.schema, self._change)

    def _change(self, table: Table) -> Table:
        if self.using_index is not None:
            kept = tuple(i for i in table.indexes if i.name != self.using_index)
            table = table.replace(indexes=kept)
        return with_constraint(table, self.constraint)

    def execute(self, ctx: ExecutionContext) -> None:
        backend = backend_for(ctx.dialect)
        if (self.not_valid and backend.not_valid_constraints) or (
            self.using_index and backend.unique_from_index
        ):
            ctx.emit(self._postgresql_sql(ctx))
            return
        edit = TableEdit(
            ctx, self.table, self.schema, lambda t: with_constraint(t, self.constraint)
        )
        dialect_for(ctx.dialect).add_constraint(edit, self.constraint)

    def _postgresql_sql(self, ctx: ExecutionContext) -> str:
        quote = ctx.dialect.identifier_preparer.quote
        if self.using_index is not None:
            where = qualified(ctx.dialect, self.table, self.schema)
            name = f"CONSTRAINT {quote(self.constraint.name)} " if self.constraint.name else ""
            return f"ALTER TABLE {where} ADD {name}UNIQUE USING INDEX {quote(self.using_index)}"
        statement = sa.schema.AddConstraint(sa_constraint(self.table, self.schema, self.constraint))
        return f"{statement.compile(dialect=ctx.dialect)} NOT VALID"

    def reverse(self, before: Snapshot) -> Sequence[Operation]:
        kind = next(k for k, v in KINDS.items() if isinstance(self.constraint, v))
        if self.constraint.name is None and kind != "primary":
            raise irreversible(
                f"{self.describe()}: the constraint has no name, so it cannot be dropped",
                hint="give the constraint a name",
            )
        undo: list[Operation] = [
            DropConstraint(self.constraint.name or "", self.table, kind, self.schema)
        ]
        table = before.table(self.table, self.schema)
        adopted = next(
            (i for i in (table.indexes if table else ()) if i.name == self.using_index), None
        )
        if adopted is not None:  # dropping the constraint dropped the index it adopted
            undo.append(CreateIndex(self.table, adopted, self.schema))
        return undo

    def describe(self) -> str:
        name = f" {quoted(self.constraint.name)}" if self.constraint.name else ""
        return (
            f"add {_KIND_WORDS[type(self.constraint)]}{name} to {quoted(self.schema, self.table)}"
        )

    def constraint_as(self, kind: type[_C]) -> _C:
        """`constraint`, of the kind the subclass is named for (`add_constraint`)."""
        assert isinstance(self.constraint, kind), self.constraint
        return self.constraint


class AddForeignKey(AddConstraint):
    """`op.create_foreign_key`; `constraint` is a `ForeignKey`."""

    def render_python(self, py: RenderContext) -> list[str]:
        c = self.constraint_as(ForeignKey)
        return py.call(
            "create_foreign_key",
            py_opt(c.name) or "None",
            py_str(self.table),
            py_str(c.ref_table),
            py_list(c.columns),
            py_list(c.ref_columns),
            ondelete=py_opt(c.ondelete),
            onupdate=py_opt(c.onupdate),
            deferrable=repr(c.deferrable) if c.deferrable is not None else None,
            initially=py_opt(c.initially),
            source_schema=py_opt(self.schema),
            referent_schema=py_opt(c.ref_schema),
            postgresql_not_valid="True" if self.not_valid else None,
        )

    def lint_facts(self, read_sql: SQLReader) -> list[Fact]:
        c = self.constraint_as(ForeignKey)
        return [
            Fact(
                "add_foreign_key",
                self.table,
                self.schema,
                name=c.name,
                on_columns=c.columns,
                not_valid=self.not_valid,
                references=(reference_from_snapshot(c),),
            )
        ]


class AddUniqueConstraint(AddConstraint):
    """`op.create_unique_constraint`; `constraint` is a `Unique`."""

    def render_python(self, py: RenderContext) -> list[str]:
        c = self.constraint_as(Unique)
        return py.call(
            "create_unique_constraint",
            py_opt(c.name) or "None",
            py_str(self.table),
            py_list(c.columns),
            schema=py_opt(self.schema),
            postgresql_using_index=py_opt(self.using_index),
        )

    def lint_facts(self, read_sql: SQLReader) -> list[Fact]:
        c = self.constraint_as(Unique)
        return [
            Fact(
                "add_unique",
                self.table,
                self.schema,
                name=c.name,
                on_columns=c.columns,
                using_index=self.using_index is not None,
            )
        ]


class AddCheckConstraint(AddConstraint):
    """`op.create_check_constraint`; `constraint` is a `Check`."""

    def render_python(self, py: RenderContext) -> list[str]:
        c = self.constraint_as(Check)
        return py.call(
            "create_check_constraint",
            py_opt(c.name) or "None",
            py_str(self.table),
            py_sql(c.sqltext),
            schema=py_opt(self.schema),
            postgresql_not_valid="True" if self.not_valid else None,
        )

    def lint_facts(self, read_sql: SQLReader) -> list[Fact]:
        c = self.constraint_as(Check)
        return [
            Fact(
                "add_check",
                self.table,
                self.schema,
                name=c.name,
                condition=c.sqltext,
                not_valid=self.not_valid,
            )
        ]


class AddPrimaryKey(AddConstraint):
    """`op.create_primary_key`; `constraint` is a `PrimaryKey`."""

    def render_python(self, py: RenderContext) -> list[str]:
        c = self.constraint_as(PrimaryKey)
        args = (py_opt(pk_name(c)) or "None", py_str(self.table), py_list(c.columns))
        return py.call("create_primary_key", *args, schema=py_opt(self.schema))

    def lint_facts(self, read_sql: SQLReader) -> list[Fact]:
        c = self.constraint_as(PrimaryKey)
        return [Fact("add_primary_key", self.table, self.schema, name=c.name, on_columns=c.columns)]


_KIND_WORDS: dict[type, str] = {
    ForeignKey: "foreign key",
    Unique: "unique constraint",
    Check: "check constraint",
    PrimaryKey: "primary key",
}
_OPERATION_FOR: dict[type, type[AddConstraint]] = {
    ForeignKey: AddForeignKey,
    Unique: AddUniqueConstraint,
    Check: AddCheckConstraint,
    PrimaryKey: AddPrimaryKey,
}


def add_constraint(table: str, constraint: Constraint, schema: str | None = None) -> AddConstraint:
    """The operation adding `constraint`, of the class named for its kind."""
    return _OPERATION_FOR[type(constraint)](table, constraint, schema)


@dataclasses.dataclass(frozen=True)
class DropConstraint(Operation):
    name: str
    table: str
    kind: str | None = None  # foreignkey, unique, check, primary; looked up when None
    schema: str | None = None
    #: the naming convention of the `batch_alter_table` it was called in: an unnamed
    #: constraint it names `name` is the one dropped (Alembic's batch mode)
    convention: tuple[tuple[str, str], ...] = ()

    static_sql = True

    def apply(self, snapshot: Snapshot) -> Snapshot:
        return snapshot.update_table(self.table, self.schema, self._without)

    def execute(self, ctx: ExecutionContext) -> None:
        backend = backend_for(ctx.dialect)
        rules = backend.rules
        rebuilt = backend.constraints_by_rebuild
        needs_table = self.kind in (None, "primary") or rebuilt
        current = ctx.table(self.table, self.schema) if needs_table else None
        edit = TableEdit(ctx, self.table, self.schema, self._without)
        rules.drop_constraint(edit, self.resolve(current, known=rebuilt))

    def _find(self, table: Table) -> Constraint | None:
        found = find_constraint(table, self.name)
        if found is None:
            found = self._unnamed(table)
        if found is None and self.kind == "primary":
            found = table.primary_key  # under the name the backend gave it
        return found

    def _unnamed(self, table: Table) -> ForeignKey | Unique | Check | None:
        """The unnamed constraint the batch's naming convention names so (the table has
        none of that name: callers look by name first)."""
        if not self.convention:
            return None
        return named_by_convention(table, self.name, dict(self.convention))

    def _without(self, table: Table) -> Table:
        unnamed = None if find_constraint(table, self.name) else self._unnamed(table)
        if unnamed is None:
            return without_constraint(table, self.name, self.kind)
        return table.replace(
            foreign_keys=tuple(c for c in table.foreign_keys if c is not unnamed),
            uniques=tuple(c for c in table.uniques if c is not unnamed),
            checks=tuple(c for c in table.checks if c is not unnamed),
        )

    def resolve(self, table: Table | None, known: bool = False) -> Constraint:
        """The constraint being dropped: from the table's definition, or from `kind`.
        `known`: the definition is every constraint the table has (a table SQLite
        rebuilds), so a name it lacks is an error here, as the server's would be."""
        found = self._find(table) if table is not None else None
        if found is not None:
            return found
        if self.kind not in KINDS or (known and table is not None):
            where = table_key(self.table, self.schema)
            hint = (
                "pass type_= ('foreignkey', 'unique', 'check' or 'primary')"
                if self.kind not in KINDS
                else "check the name; an unnamed constraint is dropped by the name a "
                "batch_alter_table(naming_convention=...) gives it, as in Alembic"
            )
            raise MigrationError(f"constraint {self.name} not found on {where}", hint=hint)
        return _placeholder(self.kind, self.name)

    def reverse(self, before: Snapshot) -> Sequence[Operation]:
        table = before.table(self.table, self.schema)
        found = self._find(table) if table else None
        if found is None:
            raise irreversible(
                f"{self.describe()}: its definition is unknown",
                hint="create it in an earlier migration with op.create_*, or write downgrade(op)",
            )
        return [add_constraint(self.table, found, self.schema)]

    def describe(self) -> str:
        return f"drop constraint {quoted(self.name)} from {quoted(self.schema, self.table)}"

    def render_python(self, py: RenderContext) -> list[str]:
        return py.call(
            "drop_constraint",
            py_str(self.name),
            py_str(self.table),
            type_=py_opt(self.kind),
            schema=py_opt(self.schema),
        )

    def lint_facts(self, read_sql: SQLReader) -> list[Fact]:
        return [Fact("drop_constraint", self.table, self.schema, name=self.name)]


@dataclasses.dataclass(frozen=True)
class ValidateConstraint(Operation):
    """PostgreSQL's `VALIDATE CONSTRAINT`: check the rows of a constraint added
    `NOT VALID`, under a lock that lets reads and writes go on. Validity is not part of
    the snapshot, so this changes nothing there and undoing it is nothing; other
    backends have nothing to validate."""

    name: str
    table: str
    schema: str | None = None

    static_sql = True

    def apply(self, snapshot: Snapshot) -> Snapshot:
        return snapshot

    def execute(self, ctx: ExecutionContext) -> None:
        if not backend_for(ctx.dialect).not_valid_constraints:
            return
        where = qualified(ctx.dialect, self.table, self.schema)
        ctx.emit(f"ALTER TABLE {where} VALIDATE CONSTRAINT {quote(ctx.dialect, self.name)}")

    def reverse(self, before: Snapshot) -> Sequence[Operation]:
        return []

    def describe(self) -> str:
        return f"validate constraint {quoted(self.name)} on {quoted(self.schema, self.table)}"

    def render_python(self, py: RenderContext) -> list[str]:
        return py.call(
            "validate_constraint", py_str(self.name), py_str(self.table), schema=py_opt(self.schema)
        )

    def lint_facts(self, read_sql: SQLReader) -> list[Fact]:
        return [Fact("validate_constraint", self.table, self.schema, name=self.name)]


@dataclasses.dataclass(frozen=True)
class DropInvalidIndex(Operation):
    """Drop the index `name` only if PostgreSQL marks it invalid: what a failed
    `CREATE INDEX CONCURRENTLY` leaves behind, which would make a new attempt fail with
    "already exists". An invalid index is not part of any schema the migrations
    describe, so this changes nothing in the snapshot. It needs the live catalog:
    offline SQL and other backends get nothing."""

    name: str
    schema: str | None = None

    def apply(self, snapshot: Snapshot) -> Snapshot:
        return snapshot

    def execute(self, ctx: ExecutionContext) -> None:
        connection = ctx.connection
        if not backend_for(ctx.dialect).concurrent_indexes or connection is None:
            return
        invalid = connection.execute(
            sa.text(
                "SELECT NOT i.indisvalid FROM pg_index i "
                "JOIN pg_class c ON c.oid = i.indexrelid "
                "JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE c.relname = :name AND n.nspname = coalesce(:schema, current_schema())"
            ),
            {"name": self.name, "schema": self.schema or ctx.default_schema},
        ).scalar()
        if invalid:
            DropIndex(self.name, None, self.schema or ctx.default_schema, True, True).execute(ctx)

    @property
    def transactional(self) -> bool:
        return False

    def reverse(self, before: Snapshot) -> Sequence[Operation]:
        return []

    def describe(self) -> str:
        return f"drop index {quoted(self.schema, self.name)} if a failed build left it invalid"

    def render_python(self, py: RenderContext) -> list[str]:
        return py.call("drop_invalid_index", py_str(self.name), schema=py_opt(self.schema))

    def lint_facts(self, read_sql: SQLReader) -> list[Fact]:
        return [Fact("drop_index", schema=self.schema, name=self.name, concurrently=True)]


def _placeholder(kind: str, name: str) -> Constraint:
    if kind == "foreignkey":
        return ForeignKey(name, ("x",), "unknown", ("x",))
    if kind == "unique":
        return Unique(name, ("x",))
    if kind == "primary":
        return PrimaryKey(("x",), name)
    return Check(name, "1 = 1")
