"""The difference between two snapshots, as operations that run on every backend.

One small comparer per kind of object; each returns operations sorted into phases, and
`diff` concatenates the phases in the order that works everywhere: renames, then what
must go before a drop (foreign keys before the indexes they rely on, MariaDB insists),
drops (referring tables before the ones they refer to), creations (referred tables
first; foreign keys in a cycle added afterwards), then constraints and indexes.
Reversing that list is a valid downgrade, which is how `make` writes one.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy.engine import Dialect

from dbshift.dialects import backend_for
from dbshift.dialects.base import UNCHANGED
from dbshift.dialects.normalize import Normalizer
from dbshift.errors import UsageError
from dbshift.ops import (
    AddColumn,
    AddEnumValue,
    AddForeignKey,
    AlterColumn,
    CreateEnum,
    CreateIndex,
    CreateSequence,
    CreateTable,
    DropColumn,
    DropConstraint,
    DropEnum,
    DropIndex,
    DropSequence,
    DropTable,
    Operation,
    RenameColumn,
    RenameTable,
    SetEnumValues,
    SetTableComment,
    add_constraint,
)
from dbshift.ops.base import quoted
from dbshift.schema.snapshot import (
    Check,
    Column,
    ForeignKey,
    Index,
    Snapshot,
    Table,
    Unique,
    table_key,
)

#: asked "is this a rename?" with ("table", old, new) or ("column", "table.old", new)
RenameDecider = Callable[[str, str, str], bool]

# Phases, in execution order.
RENAME, TYPES, DROP_FK, DROP_KEY, DROP_TABLE, DROP_COLUMN = range(6)
CREATE_TABLE, ADD_COLUMN, ALTER, ADD_KEY, ADD_FK, DROP_TYPES = range(6, 12)


@dataclasses.dataclass(frozen=True)
class Diff:
    operations: tuple[Operation, ...]
    #: drops that may be renames nobody confirmed, and other things the user should see
    notes: tuple[str, ...] = ()
    #: the phase of each operation (RENAME ... DROP_TYPES), to merge diffs of backends
    phases: tuple[int, ...] = ()


class _Phases:
    def __init__(self) -> None:
        self.ops: dict[int, list[Operation]] = defaultdict(list)
        self.notes: list[str] = []

    def add(self, phase: int, *operations: Operation) -> None:
        self.ops[phase].extend(operations)

    def result(self) -> Diff:
        ordered = tuple(op for phase in sorted(self.ops) for op in self.ops[phase])
        phases = tuple(phase for phase in sorted(self.ops) for _ in self.ops[phase])
        return Diff(ordered, tuple(self.notes), phases)


def never(kind: str, old: str, new: str) -> bool:
    return False


def diff(
    current: Snapshot,
    target: Snapshot,
    dialect: Dialect,
    renames: RenameDecider = never,
    *,
    live: bool = False,
    portable: bool = False,
) -> Diff:
    """Operations that turn `current` into `target` on `dialect`. `live`: `current`
    was read from a database, which has no enums to compare where enums are inline in
    the column type (the models' snapshot records them on every backend). `portable`:
    the file is for other backends too, so SQLite's shortcuts (a foreign key cycle
    created inline, dropped with its tables) are not taken."""
    backend = backend_for(dialect)
    norm = backend.normalizer(dialect)
    out = _Phases()
    current, created, dropped = _match_tables(current, target, norm, renames, out)
    current = _rename_columns(current, target, norm, renames, out)
    for key, new in sorted(target.tables.items()):
        if key in current.tables:
            _compare_table(current.tables[key], new, norm, out)
    shortcuts = backend.late_references and not portable
    _create_tables(created, shortcuts, out)
    _drop_tables(dropped, shortcuts, out)
    if not live or backend.has_enum_types:
        _compare_enums(current, target, out)
    _compare_sequences(current, target, out)
    return out.result()


# -- tables -----------------------------------------------------------------------------


def _signature(table: Table, norm: Normalizer) -> frozenset[tuple[str, str]]:
    return frozenset((c.name, norm.type(c.type)) for c in table.columns)


def _match_tables(
    current: Snapshot,
    target: Snapshot,
    norm: Normalizer,
    renames: RenameDecider,
    out: _Phases,
) -> tuple[Snapshot, list[Table], list[Table]]:
    """Tables only in `target` and only in `current`, less confirmed renames; returns
    `current` with those renames applied (foreign keys to a renamed table follow)."""
    gone = [t for k, t in sorted(current.tables.items()) if k not in target.tables]
    new = [t for k, t in sorted(target.tables.items()) if k not in current.tables]
    for old in list(gone):
        for candidate in new:
            if old.schema != candidate.schema:
                continue
            if _signature(old, norm) != _signature(candidate, norm):
                continue
            if renames("table", old.key, candidate.name):
                rename = RenameTable(old.name, candidate.name, old.schema)
                out.add(RENAME, rename)
                current = rename.apply(current)  # foreign keys to it follow, as in the database
                gone.remove(old)
                new.remove(candidate)
                break
            out.notes.append(
                f"table {quoted(old.schema, old.name)} is dropped and "
                f"{quoted(candidate.name)} created with the same columns; if it is a rename, "
                f"pass --rename {old.name}={candidate.name}"
            )
    return current, new, gone


def _rename_columns(
    current: Snapshot, target: Snapshot, norm: Normalizer, renames: RenameDecider, out: _Phases
) -> Snapshot:
    """A column dropped and one of the same type added to the same table may be a
    rename; confirmed ones are applied to `current` (foreign keys to it follow)."""
    for key, new in sorted(target.tables.items()):
        old = current.tables.get(key)
        if old is None:
            continue
        old_names = {c.name for c in old.columns}
        new_names = {c.name for c in new.columns}
        gone = [c for c in old.columns if c.name not in new_names]
        added = [c for c in new.columns if c.name not in old_names]
        for column in gone:
            for candidate in added:
                if not norm.same_type(column.type, candidate.type):
                    continue
                if renames("column", f"{old.name}.{column.name}", candidate.name):
                    rename = RenameColumn(new.name, column.name, candidate.name, new.schema)
                    out.add(RENAME, rename)
                    current = rename.apply(current)
                    added.remove(candidate)
                    break
                out.notes.append(
                    f"column {quoted(old.schema, old.name, column.name)} is dropped and "
                    f"{quoted(candidate.name)} added with the same type; if it is a rename, "
                    f"pass --rename {old.name}.{column.name}={candidate.name}"
                )
    return current


def _references(table: Table) -> set[str]:
    """The other tables `table`'s foreign keys point at."""
    return {_target(table, fk) for fk in table.foreign_keys} - {table.key}


def _create_tables(tables: list[Table], inline_cycles: bool, out: _Phases) -> None:
    """Referred tables first. A foreign key to a table not created yet (a cycle) is
    added afterwards, except with `inline_cycles` (SQLite checks references only when
    used)."""
    keys = {t.key for t in tables}
    done: set[str] = set()
    by_key = {t.key: t for t in tables}
    ordered: list[Table] = []

    def visit(table: Table, path: set[str]) -> None:
        if table.key in done or table.key in path:
            return
        path.add(table.key)
        for ref in sorted(_references(table) & keys):
            visit(by_key[ref], path)
        path.discard(table.key)
        done.add(table.key)
        ordered.append(table)

    for table in tables:
        visit(table, set())
    created: set[str] = set()
    for table in ordered:
        not_yet = keys - created - {table.key}
        later = [
            fk for fk in table.foreign_keys if not inline_cycles and _target(table, fk) in not_yet
        ]
        inline = tuple(fk for fk in table.foreign_keys if fk not in later)
        out.add(CREATE_TABLE, CreateTable(table.replace(foreign_keys=inline)))
        out.add(ADD_FK, *(AddForeignKey(table.name, fk, table.schema) for fk in later))
        created.add(table.key)


def _drop_tables(tables: list[Table], keep_cycles: bool, out: _Phases) -> None:
    """Referring tables first; a cycle among them is broken by dropping one foreign key
    first (not with `keep_cycles`: on SQLite dropping its table is enough)."""
    remaining = {t.key: t for t in tables}
    while remaining:
        referred = {ref for t in remaining.values() for ref in _references(t) & remaining.keys()}
        free = [t for k, t in sorted(remaining.items()) if k not in referred]
        if not free:  # a cycle: cut one of its foreign keys
            table = next(iter(sorted(remaining.items())))[1]
            fk = next(f for f in table.foreign_keys if _target(table, f) in remaining)
            if not keep_cycles:
                out.add(DROP_FK, _drop(table, fk, "foreignkey"))
            remaining[table.key] = table.replace(
                foreign_keys=tuple(f for f in table.foreign_keys if f is not fk)
            )
            continue
        for table in free:
            out.add(DROP_TABLE, DropTable(table.name, table.schema))
            del remaining[table.key]


def _target(table: Table, fk: ForeignKey) -> str:
    return table_key(fk.ref_table, fk.ref_schema or table.schema)


def _drop(table: Table, constraint: ForeignKey | Unique | Check, kind: str) -> DropConstraint:
    """Dropping needs the constraint's name, which an unnamed constraint created by a
    migration (and any unnamed one on SQLite) does not have."""
    if not constraint.name:
        what = {"foreignkey": "foreign key", "unique": "unique constraint", "check": "check"}
        detail = f" on {', '.join(constraint.columns)}" if hasattr(constraint, "columns") else ""
        raise UsageError(
            f"cannot drop the unnamed {what[kind]}{detail} of "
            f"{quoted(table.schema, table.name)}: its name is unknown",
            hint="name constraints (MetaData(naming_convention=...)), or compare with a "
            "database that has them: a database at head, or --dev-url",
        )
    return DropConstraint(constraint.name, table.name, kind, table.schema)


# -- one table ---------------------------------------------------------------------------


def _compare_table(old: Table, new: Table, norm: Normalizer, out: _Phases) -> None:
    _compare_columns(old, new, norm, out)
    _compare_primary_key(old, new, out)
    _compare_foreign_keys(old, new, norm, out)
    _compare_uniques(old, new, norm, out)
    _compare_indexes(old, new, norm, out)
    _compare_checks(old, new, norm, out)
    _compare_table_options(old, new, norm, out)
    if norm.backend.keeps_comments and (old.comment or None) != (new.comment or None):
        out.add(ALTER, SetTableComment(new.name, new.comment or None, new.schema, old.comment))


def _compare_table_options(old: Table, new: Table, norm: Normalizer, out: _Phases) -> None:
    """Table options (`sqlite_autoincrement`, `mysql_engine`, ...) are created exactly but
    not altered: a change is a note naming it, never silently dropped."""
    if not old.options and not new.options:
        return
    before, after = dict(old.options), dict(new.options)
    for key in sorted(before.keys() | after.keys()):
        was, now = norm.table_option(key, before.get(key)), norm.table_option(key, after.get(key))
        if was is not None and now is not None and was != now:
            out.notes.append(
                f"table {quoted(new.schema, new.name)} changes {key} from {was!r} to {now!r}, "
                "which make does not write: change the table by hand (op.execute)"
            )


def _compare_columns(old: Table, new: Table, norm: Normalizer, out: _Phases) -> None:
    old_names = {c.name for c in old.columns}
    new_names = {c.name for c in new.columns}
    gone = [c for c in old.columns if c.name not in new_names]
    added = [c for c in new.columns if c.name not in old_names]
    for column in gone:
        out.add(DROP_COLUMN, DropColumn(new.name, column.name, new.schema))
    for column in added:
        out.add(ADD_COLUMN, AddColumn(new.name, column, new.schema))
    before_by_name = {c.name: c for c in old.columns}
    for column in new.columns:
        before = before_by_name.get(column.name)
        if before is None:
            continue
        change = _alter(new, before, column, norm)
        if change is not None:
            out.add(ALTER, change)
        if _identity(before) != _identity(column) and norm.backend.identity_columns:
            out.notes.append(
                f"column {quoted(new.schema, new.name, column.name)} changes its identity "
                "(GENERATED ... AS IDENTITY), which make does not write: add "
                "op.execute('ALTER TABLE ... ALTER COLUMN ... ADD/DROP IDENTITY') by hand"
            )


def _identity(column: Column) -> bool | None:
    """None for no identity, else whether it is GENERATED ALWAYS."""
    return None if column.identity is None else bool(dict(column.identity).get("always"))


def _alter(table: Table, old: Column, new: Column, norm: Normalizer) -> AlterColumn | None:
    changes: dict[str, Any] = {}
    if not norm.same_type(old.type, new.type):
        changes["type"] = new.type
        if norm.backend.alter_type_using:
            type_sql = new.type.compile(dialect=norm.dialect)
            column = norm.dialect.identifier_preparer.quote(new.name)
            changes["postgresql_using"] = f"{column}::{type_sql}"
    if old.nullable != new.nullable and not _rowid(table, new, norm):
        changes["nullable"] = new.nullable
    retyped = "type" in changes and new.server_default is not None
    before, after = (
        norm.default(old.server_default, old.type),
        norm.default(new.server_default, new.type),
    )
    if retyped or before != after:
        # a type change restates the default, which PostgreSQL keeps cast to the old type
        changes["server_default"] = new.server_default
    if norm.backend.keeps_comments and (old.comment or None) != (new.comment or None):
        changes["comment"] = new.comment or None
    if not changes:
        return None
    changes.setdefault("server_default", UNCHANGED)
    changes.setdefault("comment", UNCHANGED)
    return AlterColumn(table.name, new.name, table.schema, existing=old, **changes)


def _rowid(table: Table, column: Column, norm: Normalizer) -> bool:
    """SQLite's `INTEGER PRIMARY KEY` is the rowid: never NULL, whatever it declares."""
    pk = table.primary_key.columns if table.primary_key else ()
    return (
        norm.backend.integer_primary_key_is_rowid
        and pk == (column.name,)
        and norm.type(column.type) == "INTEGER"
    )


def _compare_primary_key(old: Table, new: Table, out: _Phases) -> None:
    before = old.primary_key.columns if old.primary_key else ()
    after = new.primary_key.columns if new.primary_key else ()
    if before == after:
        return
    if old.primary_key is not None:
        name = old.primary_key.name or "PRIMARY"
        out.add(DROP_KEY, DropConstraint(name, new.name, "primary", new.schema))
    if new.primary_key is not None:
        out.add(ADD_KEY, add_constraint(new.name, new.primary_key, new.schema))


def _pair(
    olds: Sequence[Any],
    news: Sequence[Any],
    key: Callable[[Any], Any],
) -> tuple[list[Any], list[Any]]:
    """Items only in `olds`, items only in `news`, matching by `key` and by name where
    the new side names it (an unnamed one matches whatever name the backend chose, of
    those the named ones leave: Galaxy declares `unique=True` and a named
    `UniqueConstraint` on one column)."""
    remaining = list(olds)
    missing = []
    for item in sorted(news, key=lambda n: not n.name):
        match = next(
            (
                o
                for o in remaining
                if key(o) == key(item) and (not item.name or o.name == item.name)
            ),
            None,
        )
        if match is None:
            missing.append(item)
        else:
            remaining.remove(match)
    return remaining, missing


def _compare_foreign_keys(old: Table, new: Table, norm: Normalizer, out: _Phases) -> None:
    def key(fk: ForeignKey) -> tuple[Any, ...]:
        deferrable = (
            (bool(fk.deferrable), (fk.initially or "").upper())
            if norm.backend.reports_deferrable
            else ()
        )
        return (
            fk.columns,
            fk.ref_table,
            fk.ref_columns,
            fk.ref_schema if fk.ref_schema != new.schema else None,
            norm.fk_action(fk.ondelete),
            norm.fk_action(fk.onupdate),
            deferrable,
        )

    extra, missing = _pair(old.foreign_keys, new.foreign_keys, key)
    for fk in extra:
        out.add(DROP_FK, _drop(new, fk, "foreignkey"))
    for fk in missing:
        out.add(ADD_FK, AddForeignKey(new.name, fk, new.schema))


def _index_options(index: Index, table: Table, norm: Normalizer) -> tuple[Any, ...]:
    options = []
    for name, value in index.options:
        value = norm.index_option(name, value, index, table)
        if value is not None:
            options.append((name, repr(value)))
    return tuple(sorted(options))


def _compare_indexes(old: Table, new: Table, norm: Normalizer, out: _Phases) -> None:
    def key(index: Index) -> tuple[Any, ...]:
        entries = tuple(norm.sql(c) if c in index.expressions else c for c in index.columns)
        return (entries, index.unique, _index_options(index, new, norm))

    extra, missing = _pair(old.indexes, new.indexes, key)
    for index in extra:
        if norm.owned_index(index, new):
            continue
        out.add(DROP_KEY, DropIndex(index.name, new.name, new.schema))
    for index in missing:
        out.add(ADD_KEY, CreateIndex(new.name, index, new.schema))


def _compare_uniques(old: Table, new: Table, norm: Normalizer, out: _Phases) -> None:
    def key(unique: Unique) -> tuple[str, ...]:
        return unique.columns

    olds, news = list(old.uniques), list(new.uniques)
    if norm.backend.merges_duplicate_uniques:
        olds, news = _merged(olds), _merged(news)
    if norm.backend.unique_is_index:
        # the model's unique constraints match the unique indexes
        olds += [Unique(i.name, i.columns) for i in old.indexes if i.unique and not i.expressions]
    extra, missing = _pair(olds, news, key)
    for unique in extra:
        if unique in old.uniques:
            out.add(DROP_KEY, _drop(new, unique, "unique"))
    for unique in missing:
        out.add(ADD_KEY, add_constraint(new.name, unique, new.schema))


def _merged(uniques: list[Unique]) -> list[Unique]:
    """One unique constraint per column list, named by the first one given a name."""
    kept: dict[tuple[str, ...], Unique] = {}
    for unique in uniques:
        first = kept.get(unique.columns)
        if first is None or (first.name is None and unique.name):
            kept[unique.columns] = unique
    return list(kept.values())


def _compare_checks(old: Table, new: Table, norm: Normalizer, out: _Phases) -> None:
    """Checks are matched by name (servers rewrite their SQL); a check the model leaves
    unnamed by its SQL, loosely, and failing that by being one of as many unnamed ones."""
    olds = [c for c in old.checks if not norm.owned_check(c, old)]
    named = [c for c in new.checks if c.name]

    def columns(check: Check) -> frozenset[str]:
        """What a check is about survives the server's rewriting of its SQL."""
        return frozenset(c.name for c in new.columns if check.uses(c.name))

    extra, missing = _pair(olds, named, columns)
    unnamed = [c for c in new.checks if not c.name]
    extra, missing_unnamed = _pair(extra, unnamed, lambda c: norm.sql(c.sqltext))
    if len(missing_unnamed) == len(extra) and not missing:
        return  # the server named (and rewrote) the model's unnamed checks
    missing += missing_unnamed
    for check in extra:
        out.add(DROP_KEY, _drop(new, check, "check"))
    for check in missing:
        out.add(ADD_KEY, add_constraint(new.name, check, new.schema))


# -- enum types and sequences -------------------------------------------------------------


def _compare_enums(current: Snapshot, target: Snapshot, out: _Phases) -> None:
    for key, enum in sorted(target.enums.items()):
        old = current.enums.get(key)
        if old is None:
            out.add(TYPES, CreateEnum(enum))
        elif old.values != enum.values:
            if list(old.values) == [v for v in enum.values if v in old.values]:
                for i, value in enumerate(enum.values):
                    if value not in old.values:
                        following = next((v for v in enum.values[i:] if v in old.values), None)
                        out.add(TYPES, AddEnumValue(enum.name, value, enum.schema, following))
            else:
                out.add(TYPES, SetEnumValues(enum.name, enum.values, enum.schema))
    for key, enum in sorted(current.enums.items()):
        if key not in target.enums:
            out.add(DROP_TYPES, DropEnum(enum.name, enum.schema))


def _compare_sequences(current: Snapshot, target: Snapshot, out: _Phases) -> None:
    for key, sequence in sorted(target.sequences.items()):
        if key not in current.sequences:
            out.add(TYPES, CreateSequence(sequence))
    for key, sequence in sorted(current.sequences.items()):
        if key not in target.sequences:
            out.add(DROP_TYPES, DropSequence(sequence.name, sequence.schema))
