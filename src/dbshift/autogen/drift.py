"""`dbshift drift`: the live database compared with the schema the applied migrations
build (replayed in memory, `migrations/replay.py`) and with the models, when they are
configured. `dbshift.api.drift` and `dbshift.aio.drift` are the typed entry points;
`check --database` runs `drift_on` on the connection and history it read once.

A migration replay cannot follow (raw DDL, a body that reads the database as it runs)
is named in the report: where its SQL names the tables it touches (parsed as the linter
parses it, `linter/sqlfacts.py`), those tables are left out of the comparison with the
migrations and the rest is compared; where it does not (SQL that cannot be parsed, a
live body), the comparison with the migrations is not made at all, and the report says
so. The comparison with the models does not depend on replay and is always made.

The differences come from the comparison `make` runs (`autogen/compare.py`): the
operations that would take the database to the expected schema, each turned into the
object it concerns and what differs, said from the database's side."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect

from dbshift import autogen, jobs
from dbshift.autogen.compare import diff, never
from dbshift.config import Config, mask_url
from dbshift.dialects import backend_for
from dbshift.dialects.base import Unchanged
from dbshift.history import HistoryRow
from dbshift.migrations.project import Project
from dbshift.migrations.replay import Replay
from dbshift.ops import (
    AddColumn,
    AddConstraint,
    AddEnumValue,
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
    ExecuteSQL,
    Operation,
    SetEnumValues,
    SetTableComment,
)
from dbshift.ops.base import quoted
from dbshift.results import Difference, DriftReport, DriftSource
from dbshift.schema.snapshot import Column, Snapshot, table_key


@dataclasses.dataclass(frozen=True)
class Prepared:
    """What drift needs before a connection: the files read, the models imported."""

    config: Config
    project: Project
    models: bool  # models are configured and were loaded


def prepare(config: Config, project: Project | None = None) -> Prepared:
    """Read the migrations (refused when `dbshift.sum` disagrees) and import the models
    (when configured), before any connection: a job on an async engine does no import."""
    project = Project.read(config) if project is None else project
    models = bool(config.models)
    if models:
        autogen.load_models(config)
    return Prepared(config, project, models)


def job(prepared: Prepared) -> Callable[[sa.Connection], DriftReport]:
    def run(conn: sa.Connection) -> DriftReport:
        return drift_on(conn, prepared.config, prepared.project, models=prepared.models)

    return run


def drift_on(
    conn: sa.Connection,
    config: Config,
    project: Project,
    *,
    models: bool,
    observed: Sequence[HistoryRow] | None = None,
) -> DriftReport:
    """The drift of the database on `conn` (its history `observed`, when read already)."""
    rows = jobs.history_rows(config, conn) if observed is None else observed
    dialect = conn.dialect
    with autogen.collector_paused():
        live = autogen.database_snapshot(conn, config)
        expected = _expected(project, rows, dialect.name)
        differences: list[Difference] = []
        compared: list[DriftSource] = []
        if expected.snapshot is not None:
            mine, theirs = (_without(s, expected.skipped) for s in (live, expected.snapshot))
            compared.append("migrations")
            differences += differences_between(mine, theirs, dialect, "migrations")
        if models:
            target = autogen.models_snapshot(config, dialect)
            compared.append("models")
            differences += differences_between(live, target, dialect, "models")
    return DriftReport(
        mask_url(config.url_text),
        tuple(differences),
        tuple(compared),
        expected.unknown,
        tuple(sorted(expected.skipped)),
        expected.snapshot is None,
    )


@dataclasses.dataclass(frozen=True)
class _Expected:
    """The schema the applied migrations build (None: it cannot be known), the tables
    left out because raw SQL touched them, and the migrations replay could not follow."""

    snapshot: Snapshot | None
    skipped: frozenset[str]
    unknown: tuple[str, ...]


def _expected(project: Project, rows: Sequence[HistoryRow], dialect: str) -> _Expected:
    known = {s.id: s for s in project.scripts}
    applied = {r.id for r in rows if r.applied and r.id in known}
    replay = Replay(known, project.graph, dialect)
    snapshot = Snapshot()
    skipped: set[str] = set()
    unknown: list[str] = []
    whole = False
    for step in replay.walk(project.graph.topo_order(applied), "up", snapshot):
        snapshot = step.after
        if not step.raw_ddl:
            continue
        tables = _touched(step.operations, dialect)
        if tables is None:
            whole = True
            unknown.append(f"{step.id}: its schema changes cannot be read without running it")
        else:
            skipped |= tables
            names = ", ".join(sorted(tables)) or "no table"  # enums read "enum NAME"
            unknown.append(f"{step.id}: runs raw DDL on {names}, left out of the comparison")
    return _Expected(None if whole else snapshot, frozenset(skipped), tuple(unknown))


def _touched(operations: Sequence[Operation], dialect: str) -> set[str] | None:
    """The tables (keys) raw SQL among `operations` names, its enums (`ENUM` + key) and
    `SEQUENCES` for statements not followed further, or None when that cannot be known
    (SQL the parser does not recognise, a body that reads the database)."""
    # lazy: sqlglot, through the linter's SQL parser, only for a migration of raw DDL
    from dbshift.linter.facts import facts_from_operation

    tables: set[str] = set()
    for op in operations:
        if op.schema_unknown:
            return None
        if not isinstance(op, ExecuteSQL):
            continue
        for fact in facts_from_operation(op, dialect):  # its SQL text or construct
            if fact.kind in ("unparsable", "unknown_sql"):
                return None
            if fact.table is not None:
                tables.add(table_key(fact.table, fact.schema))
            elif "enum" in fact.kind and fact.name:
                tables.add(ENUM + table_key(fact.name, fact.schema))
            elif fact.kind == "other":  # CREATE SEQUENCE, say: not followed by name
                tables.add(SEQUENCES)
            if fact.kind == "rename_table" and fact.new_name:
                tables.add(table_key(fact.new_name, fact.schema))
    return tables


#: in the keys `_touched` gives: an enum's (beside tables'), and all sequences
ENUM, SEQUENCES = "enum ", "sequences"


def _without(snapshot: Snapshot, left_out: frozenset[str]) -> Snapshot:
    """`snapshot` without the tables, enums (and sequences) raw SQL touched."""
    if not left_out:
        return snapshot
    return dataclasses.replace(
        snapshot,
        tables={k: t for k, t in snapshot.tables.items() if k not in left_out},
        enums={k: e for k, e in snapshot.enums.items() if ENUM + k not in left_out},
        sequences={} if SEQUENCES in left_out else snapshot.sequences,
    )


def differences_between(
    live: Snapshot, expected: Snapshot, dialect: Dialect, source: DriftSource
) -> list[Difference]:
    """How `live` (read from the database) differs from `expected`, one entry per
    object and aspect."""
    ops = diff(live, expected, dialect, never, live=True).operations
    found: list[Difference] = []
    for op in ops:
        found += _described(op, live, expected, dialect, source)
    return found


def _described(
    op: Operation, live: Snapshot, expected: Snapshot, dialect: Dialect, source: DriftSource
) -> list[Difference]:
    missing = f"missing in the database (the {source} have it)"
    extra = f"in the database only (not in the {source})"

    def one(obj: str, what: str) -> list[Difference]:
        return [Difference(source, obj, what)]

    if isinstance(op, CreateTable):
        return one(f"table {quoted(op.table.schema, op.table.name)}", missing)
    if isinstance(op, DropTable):
        return one(f"table {quoted(op.schema, op.name)}", extra)
    if isinstance(op, AddColumn):
        return one(f"column {quoted(op.schema, op.table, op.column.name)}", missing)
    if isinstance(op, DropColumn):
        return one(f"column {quoted(op.schema, op.table, op.column)}", extra)
    if isinstance(op, AlterColumn):
        return _altered(op, live, expected, dialect, source)
    if isinstance(op, CreateIndex):
        where = quoted(op.schema, op.table)
        unique = "unique index" if op.index.unique else "index"
        return one(f"{unique} {quoted(op.index.name)} on {where}", missing)
    if isinstance(op, DropIndex):
        where = f" on {quoted(op.schema, op.table)}" if op.table else ""
        return one(f"index {quoted(op.name)}{where}", extra)
    if isinstance(op, AddConstraint):
        return one(op.describe().removeprefix("add "), missing)
    if isinstance(op, DropConstraint):
        return one(f"constraint {quoted(op.name)} on {quoted(op.schema, op.table)}", extra)
    if isinstance(op, CreateEnum):
        return one(f"enum {quoted(op.enum.schema, op.enum.name)}", missing)
    if isinstance(op, DropEnum):
        return one(f"enum {quoted(op.schema, op.name)}", extra)
    if isinstance(op, AddEnumValue):
        return one(f"enum {quoted(op.schema, op.name)}", f"value {op.value!r} {missing}")
    if isinstance(op, SetEnumValues):
        now = live.enums.get(table_key(op.name, op.schema))
        had = list(now.values) if now is not None else []
        return one(
            f"enum {quoted(op.schema, op.name)}",
            f"values {had} in the database, {list(op.values)} in the {source}",
        )
    if isinstance(op, CreateSequence):
        return one(f"sequence {quoted(op.sequence.schema, op.sequence.name)}", missing)
    if isinstance(op, DropSequence):
        return one(f"sequence {quoted(op.schema, op.name)}", extra)
    if isinstance(op, SetTableComment):
        return one(f"table {quoted(op.schema, op.table)}", f"comment differs from the {source}")
    return one("schema", f"differs from the {source}: to match, {op.describe()}")


def _altered(
    op: AlterColumn, live: Snapshot, expected: Snapshot, dialect: Dialect, source: DriftSource
) -> list[Difference]:
    obj = f"column {quoted(op.schema, op.table, op.column)}"
    now = _column(live, op.table, op.schema, op.column)
    wanted = _column(expected, op.table, op.schema, op.column)
    found: list[Difference] = []

    def add(what: str, here: Any, there: Any) -> None:
        found.append(
            Difference(source, obj, f"{what} {here} in the database, {there} in the {source}")
        )

    if op.type is not None:
        add("type", _type(now, dialect), _type(wanted, dialect))
    if op.nullable is not None:
        add("", _null(now), "NULL" if op.nullable else "NOT NULL")
    norm = backend_for(dialect).normalizer(dialect)
    if not isinstance(op.server_default, Unchanged) and (
        now is None
        or wanted is None
        or norm.default(now.server_default, now.type)
        != norm.default(wanted.server_default, wanted.type)
    ):  # a type change restates the default: reported only when it differs
        add("default", now.server_default if now else None, op.server_default)
    if not isinstance(op.comment, Unchanged):
        add("comment", repr(now.comment) if now else None, repr(op.comment))
    if not found:
        found.append(Difference(source, obj, f"differs from the {source}: {op.describe()}"))
    return [dataclasses.replace(d, difference=d.difference.strip()) for d in found]


def _column(snapshot: Snapshot, table: str, schema: str | None, name: str) -> Column | None:
    found = snapshot.table(table, schema)
    return found.column(name) if found is not None else None


def _type(column: Column | None, dialect: Dialect) -> str:
    if column is None:
        return "?"
    try:
        return str(column.type.compile(dialect=dialect))
    except Exception:  # a type the dialect cannot compile: its Python form
        return repr(column.type)


def _null(column: Column | None) -> str:
    if column is None:
        return "?"
    return "NULL" if column.nullable else "NOT NULL"
