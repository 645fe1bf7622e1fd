"""SQLite's table rebuild: rows, indexes, triggers, views and foreign keys survive it."""

from __future__ import annotations

import re
import sqlite3
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
    from dbshift.dialects.sqlite_ddl import Unfaithful, read

    with pytest.raises(Unfaithful, match="cannot rebuild table docs: .* a virtual table"):
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
