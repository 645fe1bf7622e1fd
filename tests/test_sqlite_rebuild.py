"""SQLite's table rebuild: rows, indexes, triggers, views and foreign keys survive it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa

from dbshift.config import Config
from dbshift.database import create_engine
from dbshift.errors import MigrationError
from dbshift.ops.context import OfflineContext
from dbshift.schema.reflect import reflect_table
from dbshift.schema.snapshot import Snapshot
from tests.test_ops import SETUP, record, run, schema

pytestmark = pytest.mark.backends("sqlite")


@pytest.fixture
def db(db_url: str) -> Iterator[sa.Engine]:
    engine: sa.Engine = create_engine(Config(url=db_url))
    yield engine
    engine.dispose()


@pytest.fixture
def fk_db(db: sa.Engine) -> sa.Engine:
    """The runner's engine with `PRAGMA foreign_keys = ON`, as many applications set it."""

    @sa.event.listens_for(db, "connect")
    def _on(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.execute("PRAGMA foreign_keys = ON")

    return db


def sql(engine: sa.Engine, *statements: str) -> None:
    with engine.begin() as conn:
        for statement in statements:
            conn.exec_driver_sql(statement)


def rows(engine: sa.Engine, query: str) -> list[tuple[Any, ...]]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.exec_driver_sql(query)]


def master(engine: sa.Engine) -> set[str]:
    return {r[0] for r in rows(engine, "SELECT name FROM sqlite_master")}


def test_rows_indexes_triggers_and_foreign_keys_survive(db: sa.Engine, backend: str) -> None:
    run(db, record(SETUP))
    sql(
        db,
        "INSERT INTO parent (id, code) VALUES (1, 'a'), (2, 'b')",
        "INSERT INTO child (id, parent_id, name) VALUES (1, 1, 'x'), (2, 2, 'y')",
        "CREATE TABLE audit (n INTEGER)",
        "CREATE TRIGGER child_audit AFTER INSERT ON child BEGIN INSERT INTO audit VALUES (NEW.id); END",
        "CREATE INDEX ix_child_lower ON child (lower(name)) WHERE name IS NOT NULL",
    )
    run(db, record('op.alter_column("child", "name", type_=sa.Text(), nullable=True)'))
    run(db, record('op.create_unique_constraint("uq_child_name", "child", ["name"])'))
    run(db, record('op.drop_column("child", "parent_id")'))  # indexed, and in a foreign key
    run(db, record('op.create_foreign_key("fk_self", "child", "child", ["id"], ["id"])'))
    assert rows(db, "SELECT id, name, note FROM child ORDER BY id") == [
        (1, "x", "n/a"),
        (2, "y", "n/a"),
    ]
    assert {"child_audit", "ix_child_lower"} <= master(db)
    assert "ix_child_parent_id" not in master(db)  # went with its column
    sql(db, "INSERT INTO child (id, name) VALUES (3, 'z')")
    assert rows(db, "SELECT n FROM audit") == [(3,)]  # the trigger survived
    with db.connect() as conn:
        table = reflect_table(conn, "child")
    assert table is not None
    assert [c.name for c in table.columns] == ["id", "name", "note"]
    assert table.column("name").nullable  # type: ignore[union-attr]
    assert [(f.name, f.ref_table) for f in table.foreign_keys] == [("fk_self", "child")]
    assert [u.columns for u in table.uniques] == [("name",)]
    assert not rows(db, "PRAGMA foreign_key_check")


def test_drop_constraint_rebuilds_and_keeps_rows(db: sa.Engine, backend: str) -> None:
    run(db, record(SETUP))
    run(db, record('op.create_check_constraint("ck_name", "child", "length(name) > 1")'))
    sql(db, "INSERT INTO child (id, name) VALUES (1, 'xy')")
    with pytest.raises(sa.exc.IntegrityError):
        sql(db, "INSERT INTO child (id, name) VALUES (2, 'x')")
    run(db, record('op.drop_constraint("ck_name", "child")'))  # kind looked up
    sql(db, "INSERT INTO child (id, name) VALUES (2, 'x')")
    assert rows(db, "SELECT id, name FROM child ORDER BY id") == [(1, "xy"), (2, "x")]
    assert "ix_child_parent_id" in master(db)


def test_a_new_foreign_key_that_rows_break_is_refused(db: sa.Engine, backend: str) -> None:
    run(db, record(SETUP))
    sql(db, "INSERT INTO child (id, name, note) VALUES (1, 'x', '99')")
    before = schema(db, "child")
    add_fk = 'op.create_foreign_key("fk_note", "child", "parent", ["note"], ["id"])'
    with pytest.raises(MigrationError, match="1 more row"):
        run(db, record(add_fk))
    assert schema(db, "child") == before  # rolled back with the transaction
    assert rows(db, "SELECT id FROM child") == [(1,)]


def test_rows_that_broke_foreign_keys_before_do_not_block(db: sa.Engine, backend: str) -> None:
    """Foreign keys are off by default in SQLite: old orphans are not this change's doing."""
    run(db, record(SETUP))
    sql(db, "INSERT INTO child (id, parent_id, name) VALUES (1, 99, 'orphan')")
    run(db, record('op.alter_column("child", "name", nullable=True)'))
    assert rows(db, "SELECT id, parent_id FROM child") == [(1, 99)]


def test_referenced_table_with_foreign_keys_enforced(fk_db: sa.Engine, backend: str) -> None:
    """DROP TABLE would delete the parent's rows; the rebuild must not leave the
    referencing rows counted as violations (the commit would fail) nor lose them."""
    run(fk_db, record(SETUP))
    sql(
        fk_db,
        "INSERT INTO parent (id, code) VALUES (1, 'a')",
        "INSERT INTO child (id, parent_id, name) VALUES (1, 1, 'x')",
    )
    run(fk_db, record('op.alter_column("parent", "code", nullable=False)'))
    assert rows(fk_db, "SELECT id, parent_id FROM child") == [(1, 1)]
    assert rows(fk_db, "PRAGMA foreign_keys") == [(1,)]
    with pytest.raises(sa.exc.IntegrityError):  # still enforced against the new table
        sql(fk_db, "INSERT INTO child (id, parent_id, name) VALUES (2, 42, 'y')")


def test_cascading_references_with_foreign_keys_enforced_refuse(
    fk_db: sa.Engine, backend: str
) -> None:
    sql(
        fk_db,
        "CREATE TABLE parent (id INTEGER PRIMARY KEY, code VARCHAR(10))",
        "CREATE TABLE child (id INTEGER PRIMARY KEY, "
        "parent_id INTEGER REFERENCES parent (id) ON DELETE CASCADE)",
        "INSERT INTO parent VALUES (1, 'a')",
        "INSERT INTO child VALUES (1, 1)",
    )
    with pytest.raises(MigrationError, match="ON DELETE CASCADE would change rows of child"):
        run(fk_db, record('op.alter_column("parent", "code", nullable=False)'))
    assert rows(fk_db, "SELECT * FROM child") == [(1, 1)]


def test_views_on_the_table_survive(db: sa.Engine, backend: str) -> None:
    run(db, record(SETUP))
    sql(db, "INSERT INTO parent VALUES (1, 'a')", "CREATE VIEW codes AS SELECT code FROM parent")
    run(db, record('op.alter_column("parent", "code", type_=sa.String(20))'))
    assert rows(db, "SELECT code FROM codes") == [("a",)]


def test_hostile_names_survive_a_rebuild(db: sa.Engine, backend: str) -> None:
    table, column = 'x"; DROP TABLE canary; --', 'we"ird`col'
    sql(db, "CREATE TABLE canary (id INTEGER)")
    op_calls = f"""
op.create_table({table!r}, sa.Column("id", sa.Integer, primary_key=True), sa.Column({column!r}, sa.String(5)))
op.create_index("ix;1", {table!r}, [{column!r}])
op.execute(sa.text('INSERT INTO "x""; DROP TABLE canary; --" VALUES (1, :v)').bindparams(v="a"))
op.alter_column({table!r}, {column!r}, nullable=False, type_=sa.String(9))
op.create_check_constraint("c'k", {table!r}, "id > 0")
"""
    run(db, record(op_calls))
    assert sorted(sa.inspect(db).get_table_names()) == sorted(["canary", table])
    with db.connect() as conn:
        reflected = reflect_table(conn, table)
    assert reflected is not None
    assert [(c.name, c.nullable) for c in reflected.columns] == [("id", False), (column, False)]
    assert [i.name for i in reflected.indexes] == ["ix;1"]
    assert [c.name for c in reflected.checks] == ["c'k"]


def test_offline_rebuild_parks_rows_in_a_temporary_table() -> None:
    dialect = sa.make_url("sqlite://").get_dialect()()
    ctx = OfflineContext(dialect, Snapshot())
    for operation in record(SETUP + '\nop.alter_column("parent", "code", nullable=False)'):
        ctx.run(operation)
    statements = ctx.take()
    text = "\n".join(statements)
    parked = '"temp"._dbshift_rebuild_parent'
    assert f"CREATE TEMPORARY TABLE {parked} AS SELECT rowid AS rowid, id, code FROM parent" in text
    assert f"INSERT INTO parent (rowid, id, code) SELECT rowid, id, code FROM {parked}" in text
    assert statements[-1] == f"DROP TABLE {parked}"
    parent = ctx.snapshot.table("parent")
    assert parent is not None and parent.column("code").nullable is False  # type: ignore[union-attr]
