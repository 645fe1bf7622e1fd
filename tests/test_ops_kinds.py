"""Each kind of operation on a real database: executed, compared with its replay, reversed."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import pytest
import sqlalchemy as sa

from dbshift.config import Config
from dbshift.database import create_engine
from dbshift.dialects import backend_for
from dbshift.ops import Operation
from dbshift.ops.context import OnlineContext
from dbshift.ops.recorder import Op
from dbshift.schema.reflect import reflect_table
from dbshift.schema.snapshot import Snapshot, Table
from tests.test_ops import record


@pytest.fixture
def db(db_url: str) -> Iterator[sa.Engine]:
    engine: sa.Engine = create_engine(Config(url=db_url))
    yield engine
    engine.dispose()


def run(engine: sa.Engine, operations: Sequence[Operation]) -> list[str]:
    """Execute like the runner (autocommit where DDL is not transactional, or where an
    operation refuses a transaction); returns the SQL each statement sent."""
    sent: list[str] = []
    with engine.connect() as conn:
        if not backend_for(conn.dialect).transactional_ddl or not all(
            o.transactional for o in operations
        ):
            conn.execution_options(isolation_level="AUTOCOMMIT")
        ctx = OnlineContext(conn, on_statement=sent.append)
        with conn.begin():
            for operation in operations:
                operation.execute(ctx)
    return sent


def reflect(engine: sa.Engine, *names: str) -> Snapshot:
    with engine.connect() as conn:
        return Snapshot.of(t for n in names if (t := reflect_table(conn, n)) is not None)


def facts(table: Table | None) -> Any:
    """What every backend reflects reliably: columns, keys, indexes, named constraints."""
    if table is None:
        return None
    uniques = {u.columns for u in table.uniques} | {i.columns for i in table.indexes if i.unique}
    return {
        "columns": [(c.name, c.type._type_affinity.__name__, c.nullable) for c in table.columns],  # type: ignore[attr-defined]
        "pk": table.primary_key.columns if table.primary_key else (),
        "indexes": sorted((i.name, i.columns) for i in table.indexes if not i.unique),
        "uniques": sorted(uniques),
        "fks": sorted((f.columns, f.ref_table, f.ref_columns) for f in table.foreign_keys),
        "checks": sorted(c.name or "" for c in table.checks),
    }


def check_replay_and_reverse(engine: sa.Engine, setup: str, step: str, *names: str) -> None:
    """`step` does to the server what its replay says, and its reverse undoes it."""
    run(engine, record(setup))
    before = reflect(engine, *names)
    operations = record(step)
    run(engine, operations)
    replayed, states = before, []
    for operation in operations:
        states.append(replayed)
        replayed = operation.apply(replayed)
    after = reflect(engine, *names)
    for name in names:
        assert facts(after.table(name)) == facts(replayed.table(name)), name
    inverse = [
        r for o, s in reversed(list(zip(operations, states, strict=True))) for r in o.reverse(s)
    ]
    run(engine, inverse)
    restored = reflect(engine, *names)
    for name in names:
        assert facts(restored.table(name)) == facts(before.table(name)), name


TABLES = """
op.create_table("p", sa.Column("code", sa.String(10), primary_key=True), sa.Column("n", sa.Integer))
op.create_table(
    "c",
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("p_code", sa.String(10)),
    sa.Column("qty", sa.Integer, nullable=False, server_default="1"),
    sa.CheckConstraint("qty >= 0", name="ck_qty"),
)
"""

CONSTRAINT_STEPS = {
    "check": 'op.create_check_constraint("ck_n", "p", "n > 0")',
    "drop check by kind": 'op.drop_constraint("ck_qty", "c", type_="check")',
    "drop check looked up": 'op.drop_constraint("ck_qty", "c")',
    "unique": 'op.create_unique_constraint("uq_n", "p", ["n"])',
    "foreign key": 'op.create_foreign_key("fk_c_p", "c", "p", ["p_code"], ["code"], ondelete="CASCADE")',
    "drop primary key": 'op.drop_constraint("pk_whatever", "p", type_="primary")',
    "primary key": 'op.drop_constraint("x", "p", type_="primary")\nop.create_primary_key("pk_p2", "p", ["code"])',
    "drop column used by a check": 'op.drop_column("c", "qty")',
}


@pytest.mark.parametrize("step", CONSTRAINT_STEPS.values(), ids=CONSTRAINT_STEPS.keys())
def test_constraints(db: sa.Engine, step: str) -> None:
    check_replay_and_reverse(db, TABLES, step, "p", "c")


def test_drop_foreign_key_and_unique_by_kind(db: sa.Engine) -> None:
    setup = TABLES + (
        'op.create_foreign_key("fk_c_p", "c", "p", ["p_code"], ["code"])\n'
        'op.create_unique_constraint("uq_c", "c", ["p_code", "qty"])'
    )
    step = 'op.drop_constraint("fk_c_p", "c", type_="foreignkey")\nop.drop_constraint("uq_c", "c", type_="unique")'
    check_replay_and_reverse(db, setup, step, "p", "c")


def test_rename_column_referenced_by_a_foreign_key(db: sa.Engine) -> None:
    setup = TABLES + 'op.create_foreign_key("fk_c_p", "c", "p", ["p_code"], ["code"])'
    check_replay_and_reverse(db, setup, 'op.rename_column("p", "code", "key")', "p", "c")
    # the reverse renamed it back; the replay agreed with the server's FK both ways


def test_rename_table_referenced_by_a_foreign_key(db: sa.Engine) -> None:
    setup = TABLES + 'op.create_foreign_key("fk_c_p", "c", "p", ["p_code"], ["code"])'
    run(db, record(setup))
    before = reflect(db, "p", "c")
    (rename,) = record('op.rename_table("p", "parent")')
    run(db, [rename])
    after = reflect(db, "parent", "c")
    assert facts(after.table("c")) == facts(rename.apply(before).table("c"))
    assert [f.ref_table for f in after.table("c").foreign_keys] == ["parent"]  # type: ignore[union-attr]


def test_server_default_and_type_changes(db: sa.Engine) -> None:
    step = (
        'op.alter_column("c", "qty", server_default="7", existing_type=sa.Integer(), existing_nullable=False)\n'
        'op.alter_column("p", "n", type_=sa.BigInteger(), existing_type=sa.Integer())'
    )
    check_replay_and_reverse(db, TABLES, step, "p", "c")
    run(db, record('op.alter_column("c", "qty", server_default="7", existing_type=sa.Integer())'))
    with db.begin() as conn:
        conn.execute(sa.text("INSERT INTO c (id) VALUES (1)"))
        assert conn.execute(sa.text("SELECT qty FROM c")).scalar() == 7
    run(db, record('op.alter_column("c", "qty", server_default=None, existing_type=sa.Integer())'))
    assert reflect(db, "c").table("c").column("qty").server_default is None  # type: ignore[union-attr]


@pytest.mark.backends("postgresql", "mysql")
def test_comments(db: sa.Engine) -> None:
    run(db, record(TABLES))
    run(
        db,
        record(
            'op.create_table_comment("p", "parents")\n'
            'op.alter_column("p", "n", comment="how many", existing_type=sa.Integer())'
        ),
    )
    p = reflect(db, "p").table("p")
    assert p is not None and p.comment == "parents"
    assert p.column("n").comment == "how many"  # type: ignore[union-attr]
    operations = record('op.drop_table_comment("p")\nop.alter_column("p", "n", comment=None)')
    before = reflect(db, "p")
    run(db, operations)
    p = reflect(db, "p").table("p")
    assert p is not None and p.comment is None and p.column("n").comment is None  # type: ignore[union-attr]
    run(db, [r for o in reversed(operations) for r in o.reverse(before)])
    p = reflect(db, "p").table("p")
    assert p is not None and p.comment == "parents" and p.column("n").comment == "how many"  # type: ignore[union-attr]


@pytest.mark.backends("sqlite")
def test_sqlite_keeps_no_comments(db: sa.Engine) -> None:
    run(db, record(TABLES))
    operations = record(
        'op.create_table_comment("p", "parents")\n'
        'op.alter_column("p", "n", comment="how many", existing_type=sa.Integer())'
    )
    assert run(db, operations) == []
    replayed = operations[1].apply(operations[0].apply(reflect(db, "p")))
    assert replayed.table("p").comment == "parents"  # type: ignore[union-attr]


@pytest.mark.backends("postgresql")
def test_postgresql_partial_index_concurrently(db: sa.Engine) -> None:
    run(db, record(TABLES))
    step = 'op.create_index("ix_n", "p", ["n"], postgresql_where=sa.text("n > 0"), postgresql_concurrently=True)'
    (create,) = record(step)
    assert not create.transactional
    sent = run(db, [create])
    assert [s.strip() for s in sent] == ["CREATE INDEX CONCURRENTLY ix_n ON p (n) WHERE n > 0"]
    (drop,) = create.reverse(reflect(db, "p"))
    assert [s.strip() for s in run(db, [drop])] == ["DROP INDEX CONCURRENTLY ix_n"]
    assert reflect(db, "p").table("p").indexes == ()  # type: ignore[union-attr]


@pytest.mark.backends("mysql")
def test_mysql_prefix_index(db: sa.Engine) -> None:
    run(db, record(TABLES))
    sent = run(db, record('op.create_index("ix_code", "c", ["p_code"], mysql_length=4)'))
    assert [s.strip() for s in sent] == ["CREATE INDEX ix_code ON c (p_code(4))"]


@pytest.mark.backends("sqlite", "postgresql")
def test_expression_index(db: sa.Engine) -> None:
    run(db, record(TABLES))
    run(db, record('op.create_index("ix_lower", "p", [sa.text("lower(code)")], unique=True)'))
    with pytest.raises(sa.exc.IntegrityError), db.begin() as conn:
        conn.execute(sa.text("INSERT INTO p (code) VALUES ('A'), ('a')"))


def test_data_operations(db: sa.Engine) -> None:
    seen: list[Any] = []
    calls = (
        TABLES
        + """
p = sa.table("p", sa.column("code", sa.String), sa.column("n", sa.Integer))
op.bulk_insert(p, [{"code": "a", "n": 1}, {"code": "b", "n": 2}])
op.bulk_insert(p, [{"code": "c", "n": 3}], multiinsert=False)
op.execute("UPDATE p SET n = n * 10 WHERE code LIKE '%a%'")
op.execute("UPDATE p SET n = :n WHERE code = :code", {"n": 5, "code": "b"})
op.execute(sa.update(p).where(p.c.code == "c").values(n=0))
op.run(lambda conn: seen.append(conn.execute(sa.text("SELECT count(*) FROM p")).scalar()))
"""
    )
    op = Op()
    exec(calls, {"op": op, "sa": sa, "seen": seen})
    op_list = op.operations
    assert all(o.apply(Snapshot()) == Snapshot() for o in op_list[2:])  # opaque: no schema change
    run(db, op_list)
    assert seen == [3]
    with db.connect() as conn:
        rows = conn.execute(sa.text("SELECT code, n FROM p ORDER BY code")).all()
    assert [tuple(r) for r in rows] == [("a", 10), ("b", 5), ("c", 0)]


def test_on_statement_receives_each_statement_as_text(db: sa.Engine) -> None:
    sent = run(db, record('op.create_table("t", sa.Column("id", sa.Integer, primary_key=True))'))
    assert len(sent) == 1 and sent[0].strip().startswith("CREATE TABLE t")
    sent = run(db, record('op.execute("DELETE FROM t")\nop.drop_table("t")'))
    assert sent == ["DELETE FROM t", "DROP TABLE t"]
