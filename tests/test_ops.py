"""Operations on real databases: a sequence of steps, each replayed and reversed; hostile names."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dbshift.config import Config
from dbshift.database import create_engine
from dbshift.dialects import backend_for
from dbshift.ops import Operation
from dbshift.ops.context import OfflineContext, OnlineContext
from dbshift.ops.recorder import Op
from dbshift.schema.reflect import reflect_table
from dbshift.schema.snapshot import Snapshot, Table


@pytest.fixture
def db(db_url: str) -> Iterator[sa.Engine]:
    """An engine configured exactly as the runner's (SQLite: transactional DDL)."""
    engine: sa.Engine = create_engine(Config(url=db_url))
    yield engine
    engine.dispose()


def run(engine: sa.Engine, operations: Sequence[Operation]) -> None:
    """Execute like the runner: one transaction, or statement by statement on MySQL."""
    with engine.connect() as conn:
        if not backend_for(conn.dialect).transactional_ddl:
            conn.execution_options(isolation_level="AUTOCOMMIT")
        ctx = OnlineContext(conn)
        with conn.begin():
            for operation in operations:
                operation.execute(ctx)
            ctx.finish()  # the checks of what the whole migration leaves


def record(calls: str) -> list[Operation]:
    op = Op()
    exec(calls, {"op": op, "sa": sa})
    return op.operations


def shape(table: Table | None, dialect: sa.engine.Dialect) -> Any:
    """What a test compares: columns, keys, indexes and constraints, as the server has them."""
    if table is None:
        return None
    return (
        sorted((c.name, _type(c.type), c.nullable) for c in table.columns),
        table.primary_key.columns if table.primary_key else (),
        sorted((i.name, i.columns) for i in table.indexes if not i.unique),
        sorted((f.columns, f.ref_table, f.ref_columns) for f in table.foreign_keys),
        # MySQL reports unique indexes as unique constraints: compare them as one
        sorted({u.columns for u in table.uniques} | {i.columns for i in table.indexes if i.unique}),
    )


def _type(type_: Any) -> tuple[str, Any]:
    """Type family and length: reflection spells types its own way (INTEGER(11))."""
    return type_._type_affinity.__name__, getattr(type_, "length", None)


def schema(engine: sa.Engine, *names: str) -> Any:
    with engine.connect() as conn:
        return {n: shape(reflect_table(conn, n), conn.dialect) for n in names}


def current(engine: sa.Engine, *names: str) -> Snapshot:
    with engine.connect() as conn:
        return Snapshot.of(t for n in names if (t := reflect_table(conn, n)) is not None)


SETUP = """
op.create_table("parent", sa.Column("id", sa.Integer, primary_key=True), sa.Column("code", sa.String(10)))
op.create_table(
    "child",
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("parent_id", sa.Integer, sa.ForeignKey("parent.id"), index=True),
    sa.Column("name", sa.String(50), nullable=False),
    sa.Column("note", sa.String(20), server_default="n/a"),
)
"""

STEPS = [
    'op.add_column("child", sa.Column("extra", sa.Integer, nullable=True))',
    'op.alter_column("child", "name", type_=sa.String(100), existing_type=sa.String(50), existing_nullable=False)',
    'op.alter_column("child", "note", nullable=False, existing_type=sa.String(20))',
    'op.rename_column("child", "extra", "bonus")',
    'op.create_index("ix_child_name", "child", ["name"], unique=True)',
    'op.drop_index("ix_child_name", "child")',
    'op.create_index("ix_child_multi", "child", ["name", "note"])',
    'op.create_unique_constraint("uq_parent_code", "parent", ["code"])',
    'op.create_check_constraint("ck_child_name", "child", "length(name) > 0")',
    'op.drop_column("child", "note")',
    'op.rename_table("parent", "mother")',
    'op.create_foreign_key("fk_child_mother", "child", "mother", ["bonus"], ["id"])',
    'op.drop_constraint("uq_parent_code", "mother", type_="unique")',
    'op.drop_table("child")',
]


@pytest.mark.parametrize("step", STEPS)
def test_operation_replay_and_reverse(db: sa.Engine, step: str) -> None:
    run(db, record(SETUP))
    for previous in STEPS[: STEPS.index(step)]:
        run(db, record(previous))
    names = ("parent", "mother", "child")
    before = current(db, *names)
    before_shape = schema(db, *names)
    operations = record(step)
    run(db, operations)
    replayed = before
    for operation in operations:
        replayed = operation.apply(replayed)
    with db.connect() as conn:
        expected = {n: shape(replayed.table(n), conn.dialect) for n in names}
    assert schema(db, *names) == expected  # replay in memory agrees with the server
    inverse = [r for o, s in _befores(operations, before) for r in o.reverse(s)]
    run(db, inverse)
    assert schema(db, *names) == before_shape  # the derived reverse restores the schema


def _befores(operations: Sequence[Operation], start: Snapshot) -> list[tuple[Operation, Snapshot]]:
    states, state = [], start
    for operation in operations:
        states.append((operation, state))
        state = operation.apply(state)
    return states[::-1]


HOSTILE = 'x"; DROP TABLE canary; --'


def test_hostile_names_are_quoted(db: sa.Engine, backend: str) -> None:
    column = 'we`ird"col' if backend == "mysql" else 'we"ird`col'
    with db.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE canary (id INTEGER)")
    op = Op()
    op.create_table(
        HOSTILE, sa.Column("id", sa.Integer, primary_key=True), sa.Column(column, sa.String(20))
    )
    op.add_column(HOSTILE, sa.Column("o'brien", sa.Integer))
    op.create_index("ix;drop", HOSTILE, [column])
    op.alter_column(HOSTILE, "o'brien", nullable=False, existing_type=sa.Integer())
    op.rename_column(HOSTILE, "o'brien", "o'neil")
    op.execute(sa.text(f"SELECT 1 FROM {db.dialect.identifier_preparer.quote(HOSTILE)}"))
    run(db, op.operations)
    inspector = sa.inspect(db)
    assert sorted(inspector.get_table_names()) == sorted(["canary", HOSTILE])
    with db.connect() as conn:
        table = reflect_table(conn, HOSTILE)
    assert table is not None and [c.name for c in table.columns] == ["id", column, "o'neil"]
    assert [i.columns for i in table.indexes] == [(column,)]
    run(db, record(f"op.drop_table({HOSTILE!r})"))
    assert sa.inspect(db).get_table_names() == ["canary"]


@pytest.mark.parametrize("dialect_name", ["sqlite", "postgresql", "mysql"])
def test_offline_rendering(dialect_name: str) -> None:
    dialect = sa.make_url(f"{dialect_name}://").get_dialect()()
    ctx = OfflineContext(dialect, Snapshot())
    for operation in record(
        SETUP + '\nop.alter_column("child", "name", type_=sa.Text(), existing_type=sa.String(50))'
    ):
        ctx.run(operation)
    sql = "\n".join(ctx.take())
    assert "CREATE TABLE parent" in sql and "CREATE INDEX ix_child_parent_id" in sql
    expected = {
        "sqlite": "INSERT INTO child (rowid, id, parent_id, name, note) SELECT",
        "postgresql": "ALTER COLUMN name TYPE TEXT",
        "mysql": "MODIFY COLUMN name TEXT NOT NULL",
    }[dialect_name]
    assert expected in sql
    assert ctx.snapshot.table("child") is not None


def test_reverse_needs_what_it_drops() -> None:
    from dbshift.errors import IrreversibleMigration

    (drop,) = record('op.drop_column("ghost", "x")')
    with pytest.raises(IrreversibleMigration, match="definition is unknown"):
        drop.reverse(Snapshot())
    (raw,) = record('op.execute("DELETE FROM t")')
    with pytest.raises(IrreversibleMigration, match="raw SQL"):
        raw.reverse(Snapshot())


COLUMN_CHANGES = st.lists(
    st.sampled_from(
        [
            'op.add_column("t", sa.Column("a", sa.Integer))',
            'op.add_column("t", sa.Column("b", sa.String(30), server_default="x"))',
            'op.drop_column("t", "v")',
            'op.alter_column("t", "v", type_=sa.String(80), existing_type=sa.String(40))',
            'op.alter_column("t", "v", nullable=False, existing_type=sa.String(40))',
            'op.rename_column("t", "v", "w")',
            'op.create_index("ix_t_v", "t", ["v"])',
        ]
    ),
    min_size=1,
    max_size=4,
    unique=True,
)


@pytest.mark.slow
@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(changes=COLUMN_CHANGES)
def test_random_column_changes_reverse_to_the_start(db: sa.Engine, changes: list[str]) -> None:
    run(db, record('op.drop_table("t")') if sa.inspect(db).has_table("t") else [])
    run(
        db,
        record(
            'op.create_table("t", sa.Column("id", sa.Integer, primary_key=True), sa.Column("v", sa.String(40)))'
        ),
    )
    start = schema(db, "t")
    applied: list[tuple[Operation, Snapshot]] = []
    for change in changes:
        (operation,) = record(change)
        before = current(db, "t")
        if not _possible(change, before.table("t")):
            continue  # e.g. renaming a column an earlier step dropped
        run(db, [operation])
        applied.append((operation, before))
    for operation, before in reversed(applied):
        run(db, operation.reverse(before))
    assert schema(db, "t") == start


def _possible(change: str, table: Table | None) -> bool:
    assert table is not None
    names = {c.name for c in table.columns}
    if change.startswith('op.add_column("t", sa.Column("'):
        return change.split('"')[3] not in names
    if '"ix_t_v"' in change:
        return "v" in names and all(i.name != "ix_t_v" for i in table.indexes)
    return "v" in names
