"""`make --safe`: the same change, split into steps that do not block a busy PostgreSQL.

The operations `diff` found are sorted into up to four migrations, run in this order:

1. `drop_concurrently` (non-transactional): indexes of existing tables dropped
   `CONCURRENTLY`, before anything else touches their tables;
2. the main migration: everything else, with foreign keys and checks on existing tables
   added `NOT VALID`, and `SET NOT NULL` replaced by a `CHECK (col IS NOT NULL) NOT VALID`;
3. `concurrently` (non-transactional): indexes of existing tables, and the unique indexes
   that unique constraints will adopt, built `CONCURRENTLY`, each after dropping an
   invalid index of the same name left by a failed attempt;
4. `validate`: `VALIDATE CONSTRAINT` of what step 2 added `NOT VALID` (first: these
   scans let writes go on); then `SET NOT NULL` (which PostgreSQL 12+ proves from the
   validated check without a scan) and the helper check dropped, and unique constraints
   added `USING INDEX`.

Replaying all steps gives the snapshot the plain migration gives, so `make` again finds
nothing to do. Tables created in the same change are empty and unused: their indexes
and constraints stay as they are.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

from dbshift.dialects.base import ColumnChange
from dbshift.ops import (
    AddCheckConstraint,
    AddForeignKey,
    AddUniqueConstraint,
    AlterColumn,
    CreateIndex,
    CreateTable,
    DropConstraint,
    DropIndex,
    DropInvalidIndex,
    Operation,
    ValidateConstraint,
)
from dbshift.schema.snapshot import Check, Index, Snapshot, Unique, table_key

#: PostgreSQL's limit on identifier length, in bytes
_MAX_NAME = 63


@dataclasses.dataclass(frozen=True)
class ChainedMigration:
    """One migration of the chain: a suffix for its message, its operations, and
    whether it runs in a transaction."""

    suffix: str
    operations: tuple[Operation, ...]
    transactional: bool = True


@dataclasses.dataclass
class _Phases:
    drops: list[Operation] = dataclasses.field(default_factory=list)
    main: list[Operation] = dataclasses.field(default_factory=list)
    builds: list[Operation] = dataclasses.field(default_factory=list)
    validate: list[Operation] = dataclasses.field(default_factory=list)
    #: after every validation: these take ACCESS EXCLUSIVE (briefly), held to the
    #: commit, so a validation scan after them would block the table
    finish: list[Operation] = dataclasses.field(default_factory=list)


def safe_chain(
    operations: Sequence[Operation], before: Snapshot, online: bool
) -> list[ChainedMigration]:
    """The migrations that make the change of `operations` (run on `before`) without
    long locks; a single step, unchanged, where the backend has no online rewrites
    (`online`: `Backend.online_rewrites`, PostgreSQL's)."""
    if not online:
        return [ChainedMigration("", tuple(operations))]
    created = {
        table_key(op.table.name, op.table.schema)
        for op in operations
        if isinstance(op, CreateTable)
    }

    def existing(table: str | None, schema: str | None) -> bool:
        return (
            table is not None
            and table_key(table, schema) not in created
            and before.table(table, schema) is not None
        )

    steps = _Phases()
    for op in operations:
        if isinstance(op, DropIndex) and _drop_first(op, before, created):
            steps.drops.append(dataclasses.replace(op, concurrently=True))
        elif isinstance(op, CreateIndex) and existing(op.table, op.schema):
            steps.builds += _build(op)
        elif isinstance(op, AddForeignKey | AddCheckConstraint) and _named_on(op, existing):
            steps.main.append(dataclasses.replace(op, not_valid=True))
            steps.validate.append(ValidateConstraint(op.constraint.name or "", op.table, op.schema))
        elif (
            isinstance(op, AddUniqueConstraint)
            and isinstance(op.constraint, Unique)
            and _named_on(op, existing)
        ):
            index = Index(op.constraint.name or "", op.constraint.columns, unique=True)
            steps.builds += _build(CreateIndex(op.table, index, op.schema))
            steps.finish.append(dataclasses.replace(op, using_index=index.name))
        elif isinstance(op, AlterColumn) and op.nullable is False and existing(op.table, op.schema):
            _set_not_null(op, steps)
        else:
            steps.main.append(op)
    chain = [
        ChainedMigration("drop concurrently", tuple(steps.drops), transactional=False),
        ChainedMigration("", tuple(steps.main)),
        ChainedMigration("concurrently", tuple(steps.builds), transactional=False),
        ChainedMigration("validate", tuple(_with_current_columns(steps, before))),
    ]
    return [step for step in chain if step.operations]


def _drop_first(op: DropIndex, before: Snapshot, created: set[str]) -> bool:
    """Whether the index exists before the change, on a table the change keeps: then it
    can be dropped concurrently ahead of the rest (it is gone at the end either way)."""
    if op.table is None:
        return False
    table = before.table(op.table, op.schema)
    return (
        table is not None
        and table_key(op.table, op.schema) not in created
        and any(i.name == op.name for i in table.indexes)
    )


def _named_on(
    op: AddForeignKey | AddCheckConstraint | AddUniqueConstraint,
    existing: Callable[[str | None, str | None], bool],
) -> bool:
    """Only a named constraint can be validated (or adopt an index) in a later step."""
    return op.constraint.name is not None and existing(op.table, op.schema)


def _build(op: CreateIndex) -> list[Operation]:
    return [
        DropInvalidIndex(op.index.name, op.schema),
        dataclasses.replace(op, concurrently=True),
    ]


def _set_not_null(op: AlterColumn, steps: _Phases) -> None:
    """SET NOT NULL through `CHECK (col IS NOT NULL) NOT VALID`, validated later."""
    rest = dataclasses.replace(op, nullable=None)
    if rest.type is not None or rest.wanted != ColumnChange(using=rest.postgresql_using):
        steps.main.append(rest)
    helper = _helper_name(op.table, op.column)
    check = Check(helper, f"{_quote(op.column)} IS NOT NULL")
    steps.main.append(AddCheckConstraint(op.table, check, op.schema, not_valid=True))
    steps.validate.append(ValidateConstraint(helper, op.table, op.schema))
    steps.finish += [
        AlterColumn(op.table, op.column, op.schema, nullable=False),
        DropConstraint(helper, op.table, "check", op.schema),
    ]


def _with_current_columns(steps: _Phases, before: Snapshot) -> list[Operation]:
    """The validate step's `SET NOT NULL`s state the column as the earlier steps leave
    it (`existing_*`), as the plain migration states it as it was."""
    state = before
    for op in (*steps.drops, *steps.main, *steps.builds):
        state = op.apply(state)
    result: list[Operation] = []
    for op in (*steps.validate, *steps.finish):
        if isinstance(op, AlterColumn):
            table = state.table(op.table, op.schema)
            column = table.column(op.column) if table is not None else None
            op = dataclasses.replace(op, existing=column)
        result.append(op)
        state = op.apply(state)
    return result


def _helper_name(table: str, column: str) -> str:
    name = f"{table}_{column}_not_null"
    while len(name.encode()) > _MAX_NAME:
        name = name[:-1]
    return name


def _quote(column: str) -> str:
    if column.isidentifier() and column == column.lower():
        return column
    return '"' + column.replace('"', '""') + '"'
