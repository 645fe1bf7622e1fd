"""One migration for several backends: the models' schema as one snapshot whose column
types are right on each backend, and the per-backend diffs folded into one list.

The models are read once per backend (a `TypeDecorator` or a variant resolves to a
different type on each). The target keeps the first (primary) backend's type and adds
`.with_variant(type, name)` for each other backend whose type writes different DDL,
so the one file `make` renders creates on every backend what `create_all` creates
there. Each backend's diff against that target must then ask for the same operations;
where they differ in something other than types (or changes a backend does not
compare, such as comments on SQLite), `make` says so instead of writing a file that is
wrong on one of them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeEngine

from dbshift.autogen.compare import Diff
from dbshift.dialects import backend_for
from dbshift.dialects.backends import compiled_by_hook, type_ddl
from dbshift.dialects.base import Unchanged
from dbshift.ops import AlterColumn, CreateTable, Operation, SetTableComment
from dbshift.schema.snapshot import BackendSQL, Snapshot, Table


def merged_type(
    primary: TypeEngine[Any], others: Sequence[tuple[Dialect, TypeEngine[Any]]]
) -> TypeEngine[Any]:
    """`primary` with a variant for each other backend where it would write other DDL
    than that backend's own type (`others`: resolved types, no variants of their own), or
    would write it only through a project's `@compiles` hook, absent where the file runs."""
    merged = primary
    for dialect, type_ in others:
        hooked = compiled_by_hook(primary, dialect)
        if hooked or type_ddl(primary, dialect) != type_ddl(type_, dialect):
            merged = merged.with_variant(type_, dialect.name)
    return merged


def with_backend_sql(
    targets: Sequence[tuple[Dialect, Snapshot]],
) -> list[tuple[Dialect, Snapshot]]:
    """`targets` with each check's and index expression's SQL a `BackendSQL` where the
    backends write it differently (quoting), so that one file can restate it for each
    while each backend's target keeps its own text. Objects are matched by name."""
    if len(targets) < 2:
        return list(targets)
    names = [dialect.name for dialect, _ in targets]
    result: list[list[Table]] = [[] for _ in targets]
    for key in targets[0][1].tables:
        tables = [snapshot.tables[key] for _, snapshot in targets]
        checks = _aligned(
            names,
            [dict(zip(_check_keys(t), (c.sqltext for c in t.checks), strict=True)) for t in tables],
        )
        entries = _aligned(names, [_expressions(t) for t in tables])
        for at, table in enumerate(tables):
            new_checks = tuple(
                dataclasses.replace(c, sqltext=checks[k].on(names[at])) if k in checks else c
                for k, c in zip(_check_keys(table), table.checks, strict=True)
            )
            indexes = []
            for index in table.indexes:
                columns = tuple(
                    entries[(index.name, n)].on(names[at]) if (index.name, n) in entries else c
                    for n, c in enumerate(index.columns)
                )
                expressions = tuple(
                    new
                    for new, old in zip(columns, index.columns, strict=True)
                    if old in index.expressions
                )
                indexes.append(dataclasses.replace(index, columns=columns, expressions=expressions))
            result[at].append(table.replace(checks=new_checks, indexes=tuple(indexes)))
    return [
        (dialect, Snapshot.of(tables, snapshot.enums.values(), snapshot.sequences.values()))
        for (dialect, snapshot), tables in zip(targets, result, strict=True)
    ]


def _check_keys(table: Table) -> list[Any]:
    """A key per check: its name, or its place among the unnamed ones (the models are
    the same on every backend, and read in the same order)."""
    unnamed = iter(range(len(table.checks)))
    return [c.name if c.name else ("unnamed", next(unnamed)) for c in table.checks]


def _expressions(table: Table) -> dict[Any, str]:
    return {
        (index.name, n): entry
        for index in table.indexes
        for n, entry in enumerate(index.columns)
        if entry in index.expressions
    }


def _aligned(names: list[str], per_backend: list[dict[Any, str]]) -> dict[Any, BackendSQL]:
    """The texts whose spelling differs between backends, by key, as `BackendSQL` (of
    the first backend that has it; `.on(name)` gives another's)."""
    found: dict[Any, BackendSQL] = {}
    for key in {k for texts in per_backend for k in texts}:
        spelled = [
            (n, texts[key]) for n, texts in zip(names, per_backend, strict=True) if key in texts
        ]
        if len({text for _, text in spelled}) > 1:
            found[key] = BackendSQL(spelled[0][1], spelled)
    return found


def merge_targets(targets: Sequence[tuple[Dialect, Snapshot]]) -> Snapshot:
    """One snapshot of the models, right on every backend of `targets` (primary first;
    each is the models as they resolve on that backend). Enums and sequences are the
    union: creating them does nothing where a backend has none."""
    (_, primary), others = targets[0], targets[1:]
    if not others:
        return primary
    tables = []
    for key, table in primary.tables.items():
        columns = []
        for column in table.columns:
            per_backend = []
            for dialect, snapshot in others:
                twin = snapshot.tables[key].column(column.name)
                assert twin is not None, "every backend reads the same models"
                per_backend.append((dialect, twin.type))
            columns.append(dataclasses.replace(column, type=merged_type(column.type, per_backend)))
        tables.append(table.replace(columns=tuple(columns)))
    enums = {k: e for _, s in reversed(targets) for k, e in s.enums.items()}
    sequences = {k: q for _, s in reversed(targets) for k, q in s.sequences.items()}
    return Snapshot.of(tables, enums.values(), sequences.values())


#: what a column is besides its type, which every backend must agree on
_COLUMN_FIELDS = ("nullable", "autoincrement", "computed", "identity", "comment")


def differences(targets: Sequence[tuple[Dialect, Snapshot]]) -> list[str]:
    """How the models differ between backends other than in column types (a sequence
    feeding a column where the backend has sequences, say): one migration cannot be
    right on all of them then. Defaults are compared as each backend reads them
    (`func.now()` is `now()` on one and `CURRENT_TIMESTAMP` on another)."""
    (first, primary), others = targets[0], targets[1:]
    found = []
    for dialect, snapshot in others:
        norm = backend_for(dialect).normalizer(dialect)
        for key, table in primary.tables.items():
            for column in table.columns:
                twin = snapshot.tables[key].column(column.name)
                assert twin is not None, "every backend reads the same models"
                fields = [f for f in _COLUMN_FIELDS if getattr(column, f) != getattr(twin, f)]
                if norm.default(column.server_default) != norm.default(twin.server_default):
                    fields.append("server_default")
                found += [
                    f"{key}.{column.name}: {f} is {getattr(column, f)!r} on {first.name}, "
                    f"{getattr(twin, f)!r} on {dialect.name}"
                    for f in fields
                ]
    return found


def backend_target(merged: Snapshot, own: Snapshot) -> Snapshot:
    """The target one backend is diffed against: `merged` (columns with their variants)
    with this backend's own indexes and constraints: those it gets (`ddl_if`), with
    SQL as it writes them. Its diff then asks for exactly what it lacks, and
    `reconcile` names what only some backends get."""
    tables = []
    for key, table in merged.tables.items():
        mine = own.tables[key]
        tables.append(
            table.replace(
                indexes=mine.indexes,
                uniques=mine.uniques,
                checks=mine.checks,
                foreign_keys=mine.foreign_keys,
            )
        )
    return Snapshot.of(tables, merged.enums.values(), merged.sequences.values())


@dataclasses.dataclass(frozen=True)
class Reconciled:
    """The backends' diffs as one: the operations to write, and, when the backends ask
    for different things, what differs (`make` refuses to write then)."""

    diff: Diff
    problems: tuple[str, ...] = ()


def reconcile(diffs: Sequence[tuple[str, Diff]]) -> Reconciled:
    """Fold each backend's diff (primary first) into one. Operations match when they
    are equal but for types; an `alter_column` one backend needs and another does not
    (a type that changes on one backend only, a comment SQLite does not keep) is
    merged in, since restating a column's type or comment is harmless where it holds
    already. Anything else one backend asks for and another does not is a problem."""
    (_, first), rest = diffs[0], diffs[1:]
    result: list[tuple[int, Operation]] = list(zip(first.phases, first.operations, strict=True))
    notes = list(first.notes)
    problems: list[str] = []
    for backend, found in rest:
        notes += [n for n in found.notes if n not in notes]
        matched: set[int] = set()
        for phase, op in zip(found.phases, found.operations, strict=True):
            at = _find(result, matched, op)
            if at is not None:
                matched.add(at)
                result[at] = (result[at][0], _merge(result[at][1], op))
            elif _harmless(op):
                matched.add(len(result))
                result.append((phase, op))
            elif (twin := _same_table(result, matched, op)) is not None:
                matched.add(twin)
                problems += _table_objects_differ(result[twin][1], op, backend)
            else:
                problems.append(f"only on {backend}: {op.describe()}")
        for at, (_, op) in enumerate(result):
            if at not in matched and not _harmless(op):
                problems.append(f"not on {backend}: {op.describe()}")
    result.sort(key=lambda item: item[0])  # stable: each phase keeps its order
    phases = tuple(phase for phase, _ in result)
    operations = tuple(op for _, op in result)
    return Reconciled(Diff(operations, tuple(notes), phases), tuple(problems))


def _find(result: list[tuple[int, Operation]], matched: set[int], op: Operation) -> int | None:
    shape = _shape(op)
    for at, (_, mine) in enumerate(result):
        if at not in matched and _shape(mine) == shape:
            return at
    if isinstance(op, AlterColumn):  # the same column, other changes on this backend
        for at, (_, mine) in enumerate(result):
            if at not in matched and isinstance(mine, AlterColumn) and _same_column(mine, op):
                return at
    return None


def _same_table(
    result: list[tuple[int, Operation]], matched: set[int], op: Operation
) -> int | None:
    """The other backend's `create_table` of the table `op` creates, when they differ."""
    if not isinstance(op, CreateTable):
        return None
    for at, (_, mine) in enumerate(result):
        if at not in matched and isinstance(mine, CreateTable) and mine.table.key == op.table.key:
            return at
    return None


def _table_objects_differ(mine: Operation, other: Operation, backend: str) -> list[str]:
    """Why two backends create one table differently, object by object (an index with
    `ddl_if(dialect=...)` exists on some backends only)."""
    assert isinstance(mine, CreateTable) and isinstance(other, CreateTable)
    ours, theirs = _objects(mine.table), _objects(other.table)
    where = mine.table.key
    found = [f"table {where}: {what} only on {backend}" for what in sorted(theirs - ours)]
    found += [f"table {where}: {what} not on {backend}" for what in sorted(ours - theirs)]
    if not found:  # the columns themselves differ
        found.append(f"table {where} is created differently on {backend}")
    return found


def _objects(table: Table) -> set[str]:
    """A table's indexes and constraints by what a message calls them."""
    found: set[str] = set()
    kinds: tuple[tuple[str, Sequence[Any]], ...] = (
        ("index", table.indexes),
        ("unique constraint", table.uniques),
        ("check constraint", table.checks),
        ("foreign key", table.foreign_keys),
    )
    for kind, items in kinds:
        for item in items:
            label = item.name or "(unnamed) on " + ", ".join(getattr(item, "columns", ()))
            found.add(f"{kind} {label}")
    return found


def _same_column(a: AlterColumn, b: AlterColumn) -> bool:
    return (a.table, a.column, a.schema) == (b.table, b.column, b.schema)


def _harmless(op: Operation) -> bool:
    """Operations that do no harm on a backend whose diff did not ask for them."""
    return isinstance(op, AlterColumn | SetTableComment)


def _merge(mine: Operation, other: Operation) -> Operation:
    """Two backends' `alter_column` of one column: every change either asks for (the
    type is the merged target's on both; PostgreSQL's `USING` comes from its diff)."""
    if not isinstance(mine, AlterColumn) or not isinstance(other, AlterColumn):
        return mine
    changes: dict[str, Any] = {}
    for name in ("type", "nullable", "postgresql_using"):
        if getattr(mine, name) is None and getattr(other, name) is not None:
            changes[name] = getattr(other, name)
    for name in ("server_default", "comment"):
        theirs = getattr(other, name)
        if isinstance(getattr(mine, name), Unchanged) and not isinstance(theirs, Unchanged):
            changes[name] = theirs
    return dataclasses.replace(mine, **changes) if changes else mine


def _shape(value: Any) -> Any:
    """An operation with its types (and PostgreSQL's `USING`, part of a type change)
    left out: what must be the same on every backend."""
    if isinstance(value, TypeEngine):
        return "<type>"
    if isinstance(value, BackendSQL):  # one expression, spelled for each backend
        return ("<sql>", value.by_backend)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return (
            type(value).__name__,
            tuple(
                (f.name, _shape(getattr(value, f.name)))
                for f in dataclasses.fields(value)
                if f.name != "postgresql_using"
            ),
        )
    if isinstance(value, list | tuple):
        return tuple(_shape(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((k, _shape(v)) for k, v in value.items()))
    return value
