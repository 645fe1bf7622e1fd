"""SQLite's table rebuild: rows, indexes, triggers, views and foreign keys survive it."""

from __future__ import annotations

import dataclasses
import re
import sqlite3
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dbshift.config import Config
from dbshift.database import create_engine
from dbshift.errors import MigrationError
from dbshift.ops.context import OfflineContext
from dbshift.ops.recorder import Op
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


WIDEN = """
op.create_table("parent", sa.Column("name", sa.String(20), nullable=False),
    sa.Column("version", sa.Integer, nullable=False), sa.PrimaryKeyConstraint("name", "version"))
op.create_table("child", sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(20)), sa.Column("version", sa.Integer),
    sa.ForeignKeyConstraint(["name", "version"], ["parent.name", "parent.version"]))
"""


def test_a_key_widened_then_the_reference_to_it_is_one_change(db: sa.Engine, backend: str) -> None:
    """mlflow 3.18.0's workspaces revision widens a parent's primary key, then the
    child's foreign key to match: in between, the child references columns that are no
    key (SQLite: "foreign key mismatch"). The foreign keys are checked once the
    migration's operations are all done, as SQLite's procedure checks after the change."""
    run(db, record(WIDEN))
    sql(db, "INSERT INTO parent VALUES ('a', 1)", "INSERT INTO child VALUES (1, 'a', 1)")
    widen = """
op.add_column("parent", sa.Column("space", sa.String(10), nullable=False, server_default="d"))
op.drop_constraint("pk", "parent", type_="primary")
op.create_primary_key("pk_parent", "parent", ["space", "name", "version"])
op.add_column("child", sa.Column("space", sa.String(10), nullable=False, server_default="d"))
op.drop_constraint("fk_old", "child", type_="foreignkey")
"""
    # the child's foreign key is unnamed: dropped by the name a batch's convention gives
    op = Op()
    exec(
        widen.replace('op.drop_constraint("fk_old", "child", type_="foreignkey")\n', ""),
        {"op": op, "sa": sa},
    )
    with op.batch_alter_table(
        "child", naming_convention={"fk": "fk_%(table_name)s_%(referred_table_name)s"}
    ) as batch_op:
        batch_op.drop_constraint("fk_child_parent", type_="foreignkey")
        batch_op.create_foreign_key(
            "fk_child_parent", "parent", ["space", "name", "version"], ["space", "name", "version"]
        )
    run(db, op.operations)
    assert rows(db, "SELECT space, name, version FROM child") == [("d", "a", 1)]
    fks = rows(db, 'SELECT "from", "table" FROM pragma_foreign_key_list(\'child\')')
    assert sorted(fks) == [("name", "parent"), ("space", "parent"), ("version", "parent")]


def test_a_migration_that_leaves_a_reference_to_no_key_is_refused(
    db: sa.Engine, backend: str
) -> None:
    """What PostgreSQL refuses outright (dropping a key a foreign key needs) is refused
    here when the migration's last operation leaves it so, and nothing changes."""
    run(db, record(WIDEN))
    before = schema(db, "parent")
    widen = (
        'op.add_column("parent", sa.Column("space", sa.String(10), nullable=False, '
        'server_default="d"))\n'
        'op.drop_constraint("pk", "parent", type_="primary")\n'
        'op.create_primary_key("pk_parent", "parent", ["space", "name", "version"])\n'
    )
    with pytest.raises(MigrationError, match="foreign key of table child naming columns"):
        run(db, record(widen))
    assert schema(db, "parent") == before


def test_dropping_a_constraint_the_table_does_not_have_is_an_error(
    db: sa.Engine, backend: str
) -> None:
    """Not a rebuild that changes nothing: the server would say so elsewhere."""
    run(db, record(SETUP))
    with pytest.raises(MigrationError, match="constraint fk_nope not found on child"):
        run(db, record('op.drop_constraint("fk_nope", "child", type_="foreignkey")'))


def test_a_unique_on_the_primary_key_columns_is_read_and_dropped(
    db: sa.Engine, backend: str
) -> None:
    """SQLite makes no index for it (the key's serves): it is in the table all the same
    (mlflow's `registered_models`), and a batch's convention names it."""
    sql(
        db,
        "CREATE TABLE reg (name VARCHAR(9) NOT NULL, CONSTRAINT pk_reg PRIMARY KEY (name), "
        "UNIQUE (name))",
    )
    with db.connect() as conn:
        assert [u.columns for u in reflect_table(conn, "reg").uniques] == [("name",)]
    op = Op()
    with op.batch_alter_table(
        "reg", naming_convention={"uq": "uq_%(table_name)s_%(column_0_name)s"}
    ) as b:
        b.drop_constraint("uq_reg_name", type_="unique")
    run(db, op.operations)
    assert "UNIQUE" not in table_sql(db, "reg")


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


# -- the table that exists, rebuilt: every option SQLite has survives ----------------

RICH = 'we"ird'
RICH_SQL = '''CREATE TABLE "we""ird" (
  id INTEGER PRIMARY KEY AUTOINCREMENT, -- the id
  email TEXT COLLATE NOCASE CONSTRAINT uq_email UNIQUE ON CONFLICT ABORT,
  n INT NOT NULL ON CONFLICT FAIL DEFAULT -1.5e3 CONSTRAINT ck_n CHECK (n < 10),
  g INT GENERATED ALWAYS AS (n * 2) STORED,
  v INT AS (n + 1),
  raw ANY,
  "odd ""col""" TEXT DEFAULT (lower('X')),
  p INTEGER REFERENCES other (id) ON DELETE SET NULL DEFERRABLE INITIALLY DEFERRED,
  CONSTRAINT ck CHECK (email <> '') /* c */ UNIQUE (raw, n)
) STRICT'''
RICH_SETUP = (
    "CREATE TABLE other (id INTEGER PRIMARY KEY)",
    "INSERT INTO other VALUES (1), (2), (3)",
    RICH_SQL,
    "CREATE TABLE log (what TEXT)",
    'CREATE INDEX "ix we""ird" ON "we""ird" (email COLLATE BINARY DESC) WHERE n > 0',
    'CREATE TRIGGER "we""ird_log" AFTER INSERT ON "we""ird" BEGIN INSERT INTO log VALUES (NEW.email); END',
    'INSERT INTO "we""ird" (email, n, raw, "odd ""col""", p) VALUES '
    "('ann@x.org', 1, 1, 'a', 1), ('bob@x.org', 2, 2, 'b', 2), ('cy@x.org', 3, 3, 'c', 3)",
    'DELETE FROM "we""ird" WHERE id = 3',  # AUTOINCREMENT: id 3 is never handed out again
)
Q = "'we\"ird'"

#: (change, text it replaces in RICH_SQL, replacement): only that span may differ after
RICH_CHANGES = [
    (f'op.alter_column({Q}, "raw", nullable=False)', "raw ANY,", "raw ANY NOT NULL,"),
    (
        f'op.alter_column({Q}, "n", nullable=True)',
        "n INT NOT NULL ON CONFLICT FAIL DEFAULT",
        "n INT DEFAULT",
    ),
    (f'op.alter_column({Q}, "raw", type_=sa.Integer())', "raw ANY,", "raw INTEGER,"),
    (f'op.alter_column({Q}, "n", server_default="5")', "DEFAULT -1.5e3", "DEFAULT '5'"),
    (
        f"op.alter_column({Q}, 'odd \"col\"', server_default=None)",
        " DEFAULT (lower('X'))",
        "",
    ),
    (
        f"op.add_column({Q}, sa.Column('added', sa.Text, server_default=sa.text(\"(upper('y'))\")))",
        "DEFERRED,\n",
        "DEFERRED,\n  added TEXT DEFAULT (upper('y')),\n",
    ),
    (f'op.drop_column({Q}, "raw")', "\n  raw ANY,", ""),  # and UNIQUE (raw, n), below
    (
        f'op.create_unique_constraint("uq_p", {Q}, ["p"])',
        "UNIQUE (raw, n)\n",
        "UNIQUE (raw, n),\n  CONSTRAINT uq_p UNIQUE (p)\n",
    ),
    (f'op.drop_constraint("uq_email", {Q})', " CONSTRAINT uq_email UNIQUE ON CONFLICT ABORT", ""),
    (
        f'op.create_check_constraint("ck_raw", {Q}, "raw IS NOT \'x\'")',
        "UNIQUE (raw, n)\n",
        "UNIQUE (raw, n),\n  CONSTRAINT ck_raw CHECK (raw IS NOT 'x')\n",
    ),
    (f'op.drop_constraint("ck", {Q})', "CONSTRAINT ck CHECK (email <> '') ", ""),
    (f'op.drop_constraint("ck_n", {Q})', " CONSTRAINT ck_n CHECK (n < 10)", ""),
    (
        f'op.create_foreign_key("fk_raw", {Q}, "other", ["raw"], ["id"], ondelete="CASCADE")',
        "UNIQUE (raw, n)\n",
        "UNIQUE (raw, n),\n  CONSTRAINT fk_raw FOREIGN KEY(raw) REFERENCES other (id) ON DELETE CASCADE\n",
    ),
]


def table_sql(engine: sa.Engine, name: str) -> str:
    found = rows(
        engine,
        f"SELECT sql FROM sqlite_master WHERE type = 'table' AND name = '{name.replace(chr(39), chr(39) * 2)}'",
    )
    return str(found[0][0])


def without_head(sql: str) -> str:
    """The text after the table's name: the rename SQLite's procedure ends with writes
    the name quoted (`CREATE TABLE "t"`), which is the same name."""
    assert sql.startswith("CREATE TABLE ")
    return (
        sql[sql.index("(") :]
        if sql[13] != '"'
        else sql[sql.index("(", sql.rindex('"', 0, sql.index("(") + 1)) :]
    )


def facts(engine: sa.Engine, name: str) -> dict[str, Any]:
    """What SQLite itself says about a table, and what hangs on it."""
    literal = "'" + name.replace("'", "''") + "'"
    autoindexes = sorted(
        (
            u,
            tuple(
                rows(
                    engine, f"SELECT name, coll, \"desc\" FROM pragma_index_xinfo('{i}') WHERE key"
                )
            ),
        )
        for i, u in rows(
            engine, f"SELECT name, \"unique\" FROM pragma_index_list({literal}) WHERE origin <> 'c'"
        )
    )
    return {
        "xinfo": {
            r[1]: r[2:] for r in rows(engine, f"SELECT * FROM pragma_table_xinfo({literal})")
        },
        "fks": rows(engine, f"SELECT * FROM pragma_foreign_key_list({literal})"),
        "autoindexes": autoindexes,
        "attached": sorted(
            rows(
                engine,
                f"SELECT type, name, sql FROM sqlite_master WHERE tbl_name = {literal} AND type IN ('index', 'trigger') AND sql IS NOT NULL",
            )
        ),
        "sequence": rows(engine, "SELECT name, seq FROM sqlite_sequence")
        if "sqlite_sequence" in master(engine)
        else [],
    }


def rich_rows(
    engine: sa.Engine, columns: str = 'id, email, n, g, v, "odd ""col""", p'
) -> list[tuple[Any, ...]]:
    return rows(engine, f'SELECT rowid, {columns} FROM "we""ird" ORDER BY id')


@pytest.mark.parametrize(
    ("change", "old", "new"), RICH_CHANGES, ids=[c[0][3:40] for c in RICH_CHANGES]
)
def test_the_table_that_exists_is_rebuilt_with_one_change(
    db: sa.Engine, backend: str, change: str, old: str, new: str
) -> None:
    sql(db, *RICH_SETUP)
    before, before_rows = facts(db, RICH), rich_rows(db)
    assert RICH_SQL.count(old) == 1
    run(db, record(change))
    expected = RICH_SQL.replace(old, new)
    if "drop_column" in change:  # the unique constraint on it goes with it
        expected = expected.replace(" UNIQUE (raw, n)", "")
    assert without_head(table_sql(db, RICH)) == without_head(expected)
    after = facts(db, RICH)
    touched = {"raw"} if "raw" in change else {"n"} if '"n"' in change else set()
    touched |= {'odd "col"'} if "odd" in change else set()
    kept = lambda xinfo: {k: v[1:] for k, v in xinfo.items() if k not in touched | {"added"}}  # noqa: E731
    assert kept(after["xinfo"]) == kept(before["xinfo"])  # cid aside, when a column went
    assert after["attached"] == before["attached"]  # index and trigger recreated verbatim
    assert after["sequence"] == before["sequence"] == [(RICH, 3)]
    if "fk_raw" not in change:
        assert after["fks"] == before["fks"]
    if "uq_email" not in change and "drop_column" not in change and "uq_p" not in change:
        assert after["autoindexes"] == before["autoindexes"]
    assert rich_rows(db) == before_rows

    # behaviour: the options are still in force
    def insert(email: str, n: int, raw: int, p: Any) -> None:
        if "drop_column" in change:
            sql(db, f'INSERT INTO "we""ird" (email, n, p) VALUES (\'{email}\', {n}, {p!r})')
        else:
            sql(
                db,
                f'INSERT INTO "we""ird" (email, n, raw, p) VALUES (\'{email}\', {n}, {raw}, {p!r})',
            )

    insert("dee@x.org", 4, 3, 3)
    assert rows(db, 'SELECT max(id) FROM "we""ird"') == [(4,)]  # 3 is not handed out again
    assert rows(db, "SELECT what FROM log") == [
        ("ann@x.org",),
        ("bob@x.org",),
        ("cy@x.org",),
        ("dee@x.org",),
    ]
    assert rows(db, 'SELECT g, v FROM "we""ird" WHERE id = 4') == [(8, 5)]
    assert [after["xinfo"]["g"][-1], after["xinfo"]["v"][-1]] == [3, 2]  # stored, virtual
    if "uq_email" not in change:
        with pytest.raises(sa.exc.IntegrityError, match="UNIQUE"):  # COLLATE NOCASE
            insert("ANN@X.org", 5, 1, 1)
    with pytest.raises(sa.exc.IntegrityError, match="cannot store TEXT value in INTEGER"):
        insert("eve@x.org", 6, 2, "abc")  # STRICT


def test_int_primary_key_typeless_columns_and_without_rowid_survive(
    db: sa.Engine, backend: str
) -> None:
    """`INT PRIMARY KEY` is no rowid alias: its text keys copy as they are. A column
    without a type stays without one. WITHOUT ROWID stays, and so do rowids."""
    kv = "CREATE TABLE kv (k INT PRIMARY KEY, v, w TEXT)"
    wr = "CREATE TABLE wr (k TEXT PRIMARY KEY, v INTEGER NOT NULL, w) WITHOUT ROWID"
    sql(
        db,
        kv,
        wr,
        "INSERT INTO kv VALUES ('a-key', 1, 'x'), (7, 'two', 'y')",
        "INSERT INTO wr VALUES ('k', 1, 2)",
    )
    sql(db, "DELETE FROM kv WHERE k = 'a-key'", "INSERT INTO kv VALUES ('b', 3, 'z')")
    before = rows(db, "SELECT rowid, * FROM kv ORDER BY rowid")
    assert before == [(2, 7, "two", "y"), (3, "b", 3, "z")]
    run(db, record('op.alter_column("kv", "w", nullable=False)'))
    run(db, record('op.create_check_constraint("ck_v", "wr", "v > 0")'))
    assert table_sql(db, "kv") == 'CREATE TABLE "kv" (k INT PRIMARY KEY, v, w TEXT NOT NULL)'
    assert without_head(table_sql(db, "wr")) == without_head(
        wr.replace(", w)", ", w, CONSTRAINT ck_v CHECK (v > 0))")
    )
    assert rows(db, "SELECT rowid, * FROM kv ORDER BY rowid") == before  # rowids kept too
    assert rows(db, "SELECT typeof(k) FROM kv ORDER BY rowid") == [("integer",), ("text",)]


REFUSALS = [
    (
        f'op.alter_column({Q}, "raw", type_=sa.String(20))',
        "STRICT allows no type VARCHAR(20) (column raw)",
    ),
    (
        f'op.alter_column({Q}, "id", type_=sa.Text())',
        "lose AUTOINCREMENT (column id would no longer be INTEGER)",
    ),
    (
        f'op.drop_constraint("pk", {Q}, type_="primary")',
        "lose AUTOINCREMENT (its primary key would change)",
    ),
    (f'op.drop_column({Q}, "n")', "generated column g uses column n"),
    (
        'op.drop_constraint("pk", "wr", type_="primary")',
        "a WITHOUT ROWID table needs a primary key",
    ),
    (
        'op.alter_column("wr", "k", nullable=True)',
        "column k is NOT NULL without a NOT NULL of its own",
    ),
]


@pytest.mark.parametrize(("change", "message"), REFUSALS, ids=[m for _, m in REFUSALS])
def test_what_cannot_be_rebuilt_faithfully_is_refused_before_anything_runs(
    db: sa.Engine, backend: str, change: str, message: str
) -> None:
    sql(db, *RICH_SETUP, "CREATE TABLE wr (k TEXT PRIMARY KEY, v INTEGER NOT NULL) WITHOUT ROWID")
    everything = "SELECT type, name, sql FROM sqlite_master ORDER BY name"
    before, before_rows = rows(db, everything), rich_rows(db)
    with pytest.raises(MigrationError, match=re.escape(message)) as refused:
        run(db, record(change))
    assert refused.value.hint and "cannot rebuild table" in str(refused.value)
    assert rows(db, everything) == before and rich_rows(db) == before_rows


def test_a_virtual_table_is_refused(db: sa.Engine, backend: str) -> None:
    from dbshift.dialects.sqlite.ddl import Unfaithful, read

    with pytest.raises(Unfaithful, match=r"cannot rebuild table docs: .* a virtual table"):
        read("CREATE VIRTUAL TABLE docs USING fts5(body)", "docs")


def test_offline_script_builds_what_the_online_rebuild_builds(tmp_path: Any) -> None:
    """Offline, the table's text is the migrations' snapshot as SQLAlchemy writes it,
    which is what `op.create_table` wrote: the script and the online run agree."""
    calls = """
op.create_table("u", sa.Column("id", sa.Integer, primary_key=True), sa.Column("email", sa.String(50, collation="NOCASE"), unique=True), sa.Column("n", sa.Integer, nullable=False), sqlite_autoincrement=True)
op.execute("INSERT INTO u (email, n) VALUES ('a', 1), ('b', 2), ('c', 3)")
op.execute("DELETE FROM u WHERE id = 3")
op.alter_column("u", "n", nullable=True)
op.create_check_constraint("ck_n", "u", "n > 0")
"""
    online = create_engine(Config(url=f"sqlite:///{tmp_path / 'online.db'}"))
    run(online, record(calls))
    ctx = OfflineContext(sa.make_url("sqlite://").get_dialect()(), Snapshot())
    for operation in record(calls):
        ctx.run(operation)
    path = tmp_path / "offline.db"
    connection = sqlite3.connect(path)
    connection.executescript(";\n".join(ctx.take()) + ";")
    connection.close()
    offline = create_engine(Config(url=f"sqlite:///{path}"))
    assert without_head(table_sql(offline, "u")) == without_head(table_sql(online, "u"))
    assert "COLLATE" in table_sql(online, "u") and "AUTOINCREMENT" in table_sql(online, "u")
    for query in ("SELECT rowid, * FROM u", "SELECT * FROM sqlite_sequence"):
        assert rows(offline, query) == rows(online, query)
    assert rows(online, "SELECT * FROM sqlite_sequence") == [("u", 3)]
    online.dispose()
    offline.dispose()


# -- random tables, random single changes --------------------------------------------

STRICT_TYPES = ["INTEGER", "INT", "TEXT", "REAL", "BLOB", "ANY"]
LOOSE_TYPES = [*STRICT_TYPES, "", "VARCHAR(20)", "numeric(5, 2)"]
ODD_NAMES = {
    "a": "a",
    "Mixed": "Mixed",
    '"odd ""x"""': 'odd "x"',
    "`back tick`": "back tick",
    "[br ack]": "br ack",
}


@dataclasses.dataclass
class RandomTable:
    """A table as the test writes it: items of the body, each a list of words."""

    columns: list[tuple[str, str, str, list[str]]]  # (as written, name, type, clauses)
    constraints: list[str]
    options: list[str]
    text_key: bool
    fk_column: str | None

    def items(self) -> list[str]:
        cols = [" ".join(w for w in (q, t, *c) if w) for q, _, t, c in self.columns]
        return [*cols, *self.constraints]

    def sql(self) -> str:
        tail = f" {', '.join(self.options)}" if self.options else ""
        return f"CREATE TABLE t ({', '.join(self.items())}){tail}"

    def value(self, type_: str, row: int) -> str:
        if type_ in ("TEXT", "VARCHAR(20)"):
            return f"'v{row}'"
        return f"X'0{row}'" if type_ == "BLOB" else str(row)


@st.composite
def random_tables(draw: st.DrawFn) -> RandomTable:
    strict, without_rowid = draw(st.booleans()), draw(st.booleans())
    key = draw(st.sampled_from(["INTEGER", "INT", "TEXT"]))
    autoincrement = key == "INTEGER" and not without_rowid and draw(st.booleans())
    pk = ["PRIMARY KEY AUTOINCREMENT" if autoincrement else "PRIMARY KEY"]
    columns = [("id", "id", key, pk)]
    written = draw(
        st.lists(st.sampled_from(sorted(ODD_NAMES)), min_size=1, max_size=3, unique=True)
    )
    for k, quoted in enumerate(written):
        type_ = draw(st.sampled_from(STRICT_TYPES if strict else LOOSE_TYPES))
        clauses = []
        if draw(st.booleans()):
            clauses.append(
                draw(st.sampled_from(["NOT NULL", f"CONSTRAINT nn_{k} NOT NULL ON CONFLICT FAIL"]))
            )
        if draw(st.booleans()):
            clauses.append(
                draw(
                    st.sampled_from(
                        ["DEFAULT 0", "DEFAULT -1.5", "DEFAULT (abs(-2))", "DEFAULT X'00'"]
                    )
                )
            )
        if type_ in ("TEXT", "VARCHAR(20)", "") and draw(st.booleans()):
            clauses.append("COLLATE NOCASE")
        if draw(st.booleans()):
            clauses.append(f"CONSTRAINT uq_{k} UNIQUE")
        if draw(st.booleans()):
            clauses.append(f"CHECK ({quoted} IS NOT 'forbidden')")
        if draw(st.booleans()):
            clauses.append("/* note */")
        columns.append((quoted, ODD_NAMES[quoted], type_, clauses))
    if draw(st.booleans()):
        stored = draw(st.sampled_from(["STORED", "VIRTUAL"]))
        columns.append(("g", "g", "INTEGER", [f"GENERATED ALWAYS AS (length(id)) {stored}"]))
    constraints = ["CONSTRAINT ck_t CHECK (length(id) > 0)"] if draw(st.booleans()) else []
    fk_column = None
    if draw(st.booleans()):
        fk_column = columns[1][1]
        constraints.append(
            f"FOREIGN KEY ({columns[1][0]}) REFERENCES other (id) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED"
        )
    options = [o for o, on in (("STRICT", strict), ("WITHOUT ROWID", without_rowid)) if on]
    return RandomTable(columns, constraints, options, key == "TEXT", fk_column)


def _changes(table: RandomTable) -> list[tuple[str, Any]]:
    plain = [c for c in table.columns[1:] if c[1] != "g"]
    found: list[tuple[str, Any]] = [("add", None), ("check", None)]
    found += [(kind, c) for c in plain for kind in ("nullable", "default", "drop", "unique")]
    found += [("type", c) for c in plain if not ("STRICT" in table.options and c[2] == "BLOB")]
    named = [w.split()[1] for _, _, _, cl in plain for w in cl if w.startswith("CONSTRAINT uq_")]
    found += [
        ("drop_constraint", n)
        for n in [
            *named,
            *(
                ["ck_t"]
                if table.constraints[:1] == ["CONSTRAINT ck_t CHECK (length(id) > 0)"]
                else []
            ),
        ]
    ]
    return found


def _apply(table: RandomTable, kind: str, target: Any, quote_: Any) -> tuple[str, RandomTable]:
    """The op call for a change, and the table as the test expects it after."""
    columns = [(q, n, t, list(c)) for q, n, t, c in table.columns]
    constraints = list(table.constraints)
    expected = dataclasses.replace(table, columns=columns, constraints=constraints)
    at = next(
        (i for i, c in enumerate(columns) if isinstance(target, tuple) and c[1] == target[1]), -1
    )
    if kind == "add":
        columns.append(("added", "added", "TEXT", ["DEFAULT (upper('y'))"]))
        return (
            "op.add_column('t', sa.Column('added', sa.Text, server_default=sa.text(\"(upper('y'))\")))",
            expected,
        )
    if kind == "check":
        constraints.append("CONSTRAINT ck_new CHECK (length(id) < 100)")
        return "op.create_check_constraint('ck_new', 't', 'length(id) < 100')", expected
    if kind == "drop_constraint":
        if target == "ck_t":
            constraints.remove("CONSTRAINT ck_t CHECK (length(id) > 0)")
        for _, _, _, clauses in columns:
            if f"CONSTRAINT {target} UNIQUE" in clauses:
                clauses.remove(f"CONSTRAINT {target} UNIQUE")
        return f"op.drop_constraint({target!r}, 't')", expected
    quoted, name, _, clauses = columns[at]
    if kind == "nullable":
        nulls = [c for c in clauses if "NOT NULL" in c]
        for clause in nulls:
            clauses.remove(clause)
        if not nulls:
            clauses.append("NOT NULL")
        return f"op.alter_column('t', {name!r}, nullable={bool(nulls)})", expected
    if kind == "default":
        defaults = [i for i, c in enumerate(clauses) if c.startswith("DEFAULT")]
        if defaults:
            clauses[defaults[0]] = "DEFAULT 'z'"
        else:
            clauses.append("DEFAULT 'z'")
        return f"op.alter_column('t', {name!r}, server_default='z')", expected
    if kind == "type":
        columns[at] = (quoted, name, "TEXT", clauses)
        return f"op.alter_column('t', {name!r}, type_=sa.Text())", expected
    if kind == "unique":
        constraints.append(f"CONSTRAINT uq_new UNIQUE ({quote_(name)})")
        return f"op.create_unique_constraint('uq_new', 't', [{name!r}])", expected
    assert kind == "drop"
    del columns[at]
    if table.fk_column == name:
        constraints[:] = [c for c in constraints if not c.startswith("FOREIGN KEY")]
    return f"op.drop_column('t', {name!r})", expected


def body_items(sql_text: str) -> tuple[list[str], str]:
    """The top-level items of a CREATE TABLE body (whitespace normalized), and the tail."""
    items, depth, quote_end, current = [], 0, "", ""
    start = sql_text.index("(")
    for at, char in enumerate(sql_text[start + 1 :], start + 1):
        if quote_end:
            quote_end = "" if char == quote_end else quote_end
        elif char in "'\"`[":
            quote_end = "]" if char == "[" else char
        elif char == "(":
            depth += 1
        elif char == ")" and depth == 0:
            items.append(current)
            return [" ".join(i.split()) for i in items], sql_text[at + 1 :].strip()
        elif char == ")":
            depth -= 1
        elif char == "," and depth == 0:
            items.append(current)
            current = ""
            continue
        current += char
    raise AssertionError(sql_text)


@settings(
    max_examples=60,
    deadline=None,
    derandomize=True,  # the same examples on every run; explore with a larger max_examples
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(table=random_tables(), pick=st.integers(0, 10_000))
def test_random_tables_keep_everything_but_the_change(
    tmp_path: Any, backend: str, table: RandomTable, pick: int
) -> None:
    engine = create_engine(Config(url=f"sqlite:///{tmp_path / uuid.uuid4().hex}.db"))
    try:
        _check_one_random_change(engine, table, pick)
    finally:
        engine.dispose()


def _check_one_random_change(engine: sa.Engine, table: RandomTable, pick: int) -> None:
    ids = ["'k1'", "'k2'", "'k3'"] if table.text_key else ["1", "2", "3"]
    plain = [c for c in table.columns if c[1] != "g"]
    names = ", ".join(q for q, *_ in plain)
    values = [
        "(" + ", ".join([ids[r], *(table.value(t, r + 1) for _, _, t, _ in plain[1:])]) + ")"
        for r in range(3)
    ]
    sql(
        engine,
        "CREATE TABLE other (id INTEGER PRIMARY KEY)",
        table.sql(),
        "CREATE INDEX ix_t ON t (id DESC)",
        "CREATE TABLE log (n)",
        "CREATE TRIGGER t_log AFTER DELETE ON t BEGIN INSERT INTO log VALUES (OLD.id); END",
        f"INSERT INTO t ({names}) VALUES {', '.join(values)}",
        f"DELETE FROM t WHERE id = {ids[2]}",
    )
    kind, target = (changes := _changes(table))[pick % len(changes)]
    quote_ = engine.dialect.identifier_preparer.quote
    call, expected = _apply(table, kind, target, quote_)
    before = facts(engine, "t")
    untouched = [n for _, n, _, _ in plain if not (isinstance(target, tuple) and n == target[1])]
    selected = ", ".join(quote_(n) for n in untouched)
    rowid = "" if "WITHOUT ROWID" in table.options else "rowid, "
    before_rows = rows(engine, f"SELECT {rowid}{selected} FROM t ORDER BY id")
    run(engine, record(call))
    after = facts(engine, "t")
    assert body_items(table_sql(engine, "t")) == body_items(expected.sql()), call
    assert rows(engine, f"SELECT {rowid}{selected} FROM t ORDER BY id") == before_rows
    assert {k: v[1:] for k, v in after["xinfo"].items() if k in untouched} == {
        k: v[1:] for k, v in before["xinfo"].items() if k in untouched
    }
    assert after["attached"] == before["attached"]
    assert after["sequence"] == before["sequence"]


def test_constraints_without_a_comma_between_are_all_seen(db: sa.Engine, backend: str) -> None:
    """SQLite takes table constraints one after another without commas: introspection
    reads each, so the second can be dropped by name."""
    sql(db, "CREATE TABLE t2 (a INT, b INT, CHECK (a > 0) CONSTRAINT uq_b UNIQUE (b))")
    with db.connect() as conn:
        table = reflect_table(conn, "t2")
    assert table is not None and [(u.name, u.columns) for u in table.uniques] == [("uq_b", ("b",))]
    run(db, record('op.drop_constraint("uq_b", "t2")'))
    assert table_sql(db, "t2") == 'CREATE TABLE "t2" (a INT, b INT, CHECK (a > 0))'


def test_parked_rebuild_keeps_the_text_the_sequence_and_rowids(
    fk_db: sa.Engine, backend: str
) -> None:
    """With foreign keys enforced and a referencing table, the rows are parked in a
    temporary table: the sequence value is parked with them."""
    parent = (
        "CREATE TABLE parent (id INTEGER PRIMARY KEY AUTOINCREMENT, "
        "code TEXT COLLATE NOCASE UNIQUE, note TEXT)"
    )
    sql(
        fk_db,
        parent,
        "CREATE TABLE child (id INTEGER PRIMARY KEY, parent_id INTEGER REFERENCES parent (id))",
        "INSERT INTO parent (code, note) VALUES ('a', 'n'), ('b', 'n'), ('c', 'n')",
        "DELETE FROM parent WHERE id = 3",
        "INSERT INTO child VALUES (1, 2)",
    )
    run(fk_db, record('op.alter_column("parent", "note", nullable=False, server_default="-")'))
    assert table_sql(fk_db, "parent") == parent.replace(
        "note TEXT)", "note TEXT NOT NULL DEFAULT '-')"
    )
    assert rows(fk_db, "SELECT name, seq FROM sqlite_sequence") == [("parent", 3)]
    assert rows(fk_db, "SELECT rowid, id, code FROM parent") == [(1, 1, "a"), (2, 2, "b")]
    assert not {"_dbshift_rebuild_parent", "_dbshift_sequence_parent"} & {
        r[0] for r in rows(fk_db, "SELECT name FROM sqlite_temp_master")
    }
    sql(fk_db, "INSERT INTO parent (code, note) VALUES ('d', 'x')")
    assert rows(fk_db, "SELECT max(id) FROM parent") == [(4,)]
    with pytest.raises(sa.exc.IntegrityError, match="UNIQUE"):
        sql(fk_db, "INSERT INTO parent (code, note) VALUES ('A', 'y')")


def test_a_table_in_an_attached_database(db: sa.Engine, backend: str, tmp_path: Any) -> None:
    other = tmp_path / f"{uuid.uuid4().hex}.db"

    @sa.event.listens_for(db, "connect")
    def _attach(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.execute(f"ATTACH DATABASE '{other}' AS aux")

    db.dispose()
    text = "CREATE TABLE t (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT COLLATE NOCASE)"
    sql(db, text.replace("TABLE t", "TABLE aux.t"), "INSERT INTO aux.t (name) VALUES ('a'), ('b')")
    sql(db, "DELETE FROM aux.t WHERE id = 2")
    run(db, record('op.alter_column("t", "name", nullable=False, schema="aux")'))
    assert rows(db, "SELECT sql FROM aux.sqlite_master WHERE name = 't'") == [
        (
            'CREATE TABLE "t" (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT COLLATE NOCASE NOT NULL)',
        )
    ]
    assert rows(db, "SELECT name, seq FROM aux.sqlite_sequence") == [("t", 2)]


CLAUSE_FORMS = [
    "CREATE TABLE f (a INTEGER, z INT, PRIMARY KEY (a AUTOINCREMENT))",
    "CREATE TABLE f (a INT CONSTRAINT lonely, z INT)",  # a name alone, which SQLite ignores
    "CREATE TABLE f (a DEFAULT X'0aF0', b DEFAULT - 1, c DEFAULT +.5e-3, d DEFAULT CURRENT_TIMESTAMP, z INT)",
    'CREATE TABLE f (a "quoted type" DEFAULT "ident", b UNSIGNED BIG INT, c DOUBLE PRECISION, z INT)',
    "CREATE TABLE f (a PRIMARY KEY DESC ON CONFLICT REPLACE, b NULL ON CONFLICT IGNORE, z INT)",
    "CREATE TABLE f (a INTEGER PRIMARY KEY REFERENCES f MATCH SIMPLE ON UPDATE NO ACTION NOT DEFERRABLE, z INT)",
    "CREATE TABLE f (\n  a TEXT, -- a line comment\n  b TEXT /* block */, /* between */ z INT -- last\n)",
    "CREATE TABLE [f] (`a` TEXT COLLATE RTRIM, 'b' INT, [c d] INT, z INT)",
    "CREATE TABLE f (a INT, z INT, CHECK (a > 0) UNIQUE (a) FOREIGN KEY (a) REFERENCES f (a))",
]


@pytest.mark.parametrize("ddl", CLAUSE_FORMS)
def test_every_clause_form_is_read_and_kept(db: sa.Engine, backend: str, ddl: str) -> None:
    sql(db, ddl)
    run(db, record('op.alter_column("f", "z", nullable=False)'))
    expected = ddl.replace("z INT", "z INT NOT NULL", 1)
    assert without_head(table_sql(db, "f")) == without_head(expected)


def test_stored_generated_columns_stay_stored_online_and_offline(
    db: sa.Engine, backend: str, tmp_path: Any
) -> None:
    """An added `Computed(persisted=True)` column is STORED (SQLite's ADD COLUMN cannot
    add one: it is a rebuild); offline, the snapshot remembers `persisted` too."""
    calls = """
op.create_table("gen", sa.Column("id", sa.Integer, primary_key=True), sa.Column("a", sa.Integer), sa.Column("s", sa.Integer, sa.Computed("a * 2", persisted=True)))
op.add_column("gen", sa.Column("t", sa.Integer, sa.Computed("a * 3", persisted=True)))
op.alter_column("gen", "a", nullable=False)
"""
    run(db, record(calls))
    stored = "SELECT name, hidden FROM pragma_table_xinfo('gen') WHERE hidden"
    assert rows(db, stored) == [("s", 3), ("t", 3)]
    ctx = OfflineContext(sa.make_url("sqlite://").get_dialect()(), Snapshot())
    for operation in record(calls):
        ctx.run(operation)
    connection = sqlite3.connect(tmp_path / "offline.db")
    connection.executescript(";\n".join(ctx.take()) + ";")
    assert connection.execute(stored).fetchall() == [("s", 3), ("t", 3)]
    connection.close()
