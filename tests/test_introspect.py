"""Whole-schema introspection: equal to SQLAlchemy's per-table reflection, and a fixed
number of queries however many tables there are."""

from __future__ import annotations

import dataclasses
import json
import warnings
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import mysql

from dbshift.schema.introspect import introspect
from dbshift.schema.reflect import reflect_table
from dbshift.schema.snapshot import (
    Check,
    Column,
    Enum,
    ForeignKey,
    Index,
    PrimaryKey,
    Sequence,
    Snapshot,
    Table,
    Unique,
)
from tests.conftest import with_driver
from tests.helpers import connected

HOSTILE = 'x"; DROP TABLE y; --'
BACKTICK = "b`tick"


def varied_metadata(backend: str) -> sa.MetaData:
    """Most of what a schema holds: types, defaults, keys of every kind, odd names."""
    md = sa.MetaData()
    now = sa.func.now() if backend != "sqlite" else sa.text("CURRENT_TIMESTAMP")
    parent = sa.Table(
        "parent",
        md,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("code", sa.String(20), nullable=False),
        sa.Column("name", sa.String(50), nullable=False, server_default="anon"),
        sa.Column("created", sa.DateTime, server_default=now),
        sa.Column("amount", sa.Numeric(10, 2), server_default=sa.text("0")),
        sa.Column("doubled", sa.Numeric(12, 2), sa.Computed("amount * 2", persisted=True)),
        sa.Column("flag", sa.Boolean, nullable=False, server_default=sa.true()),
        sa.Column("note", sa.Text, comment="free text"),
        sa.Column("data", sa.JSON),
        sa.Column("kind", sa.Enum("a", "b'c", name="kind")),
        sa.Column("ratio", sa.Float),
        sa.Column("big", sa.BigInteger),
        sa.Column("day", sa.Date),
        sa.Column("blob", sa.LargeBinary),
        sa.Column("label", sa.Unicode(30)),
        sa.Column(
            "exact",
            sa.String(20)
            .with_variant(mysql.VARCHAR(20, collation="utf8mb4_bin"), "mysql")
            .with_variant(sa.String(20, collation="C"), "postgresql"),
        ),
        sa.UniqueConstraint("code", name="uq_parent_code"),
        comment="the parents",
    )
    sa.Index(
        "ix_parent_partial",
        parent.c.name,
        postgresql_where=parent.c.big > 0,
        sqlite_where=parent.c.big > 0,
    )
    sa.Index("ix_parent_big", parent.c.big, unique=True)
    if backend == "mysql":
        sa.Index("ix_parent_note", parent.c.note, mysql_length=10)
    else:
        sa.Index("ix_parent_lower", sa.func.lower(parent.c.name), parent.c.day)
    sa.Table(
        "multi",
        md,
        sa.Column("a", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("b", sa.String(10), primary_key=True),
        sa.Column("x", sa.Integer),
        sa.Column("y", sa.Integer),
        sa.UniqueConstraint("x", "y"),
        sa.CheckConstraint("x > 0", name="ck_multi_x"),
        sa.CheckConstraint("y < 100"),
    )
    sa.Table(
        "child",
        md,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("ma", sa.Integer),
        sa.Column("mb", sa.String(10)),
        sa.Column("parent_id", sa.Integer, index=True),
        sa.ForeignKeyConstraint(
            ["ma", "mb"],
            ["multi.a", "multi.b"],
            name="fk_child_multi",
            ondelete="CASCADE",
            onupdate="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["parent_id"],
            ["parent.id"],
            name="fk_child_parent",
            ondelete="SET NULL",
            **({"deferrable": True, "initially": "DEFERRED"} if backend != "mysql" else {}),
        ),
    )
    sa.Table(
        "node",
        md,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("up", sa.Integer, sa.ForeignKey("node.id", name="fk_node_up")),
    )
    sa.Table(
        "hen",
        md,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("egg_id", sa.Integer, sa.ForeignKey("egg.id", name="fk_hen_egg", use_alter=True)),
    )
    sa.Table(
        "egg",
        md,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("hen_id", sa.Integer, sa.ForeignKey("hen.id", name="fk_egg_hen")),
    )
    hostile = sa.Table(
        HOSTILE,
        md,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("o'brien", sa.String(20), server_default="it's"),
    )
    sa.Index("ix;drop", hostile.c["o'brien"])
    tick = sa.Table(
        BACKTICK,
        md,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("c`ol", sa.Integer, nullable=False),
    )
    sa.Index("ix_tick", tick.c["c`ol"])
    if backend != "sqlite":
        sa.Sequence("seq_explicit", start=5, increment=2, metadata=md)
    return md


# --- the oracle: SQLAlchemy's reflection, one table at a time --------------------------

_OPTIONS = ("postgresql_where", "postgresql_using", "postgresql_nulls_not_distinct")


def sqlalchemy_table(conn: sa.Connection, name: str) -> Table:
    """A table as SQLAlchemy's own per-table reflection describes it, normalized as
    dbshift does (MySQL: unique keys are unique indexes, no implicit FK indexes)."""
    inspector = sa.inspect(conn)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pk = inspector.get_pk_constraint(name)
        uniques = [
            Unique(u["name"], tuple(u["column_names"]))
            for u in inspector.get_unique_constraints(name)
        ]
        indexes = [
            _oracle_index(ix)
            for ix in inspector.get_indexes(name)
            if ix["name"] not in {u.name for u in uniques} and not ix.get("duplicates_constraint")
        ]
        fks = [
            ForeignKey(
                fk["name"],
                tuple(fk["constrained_columns"]),
                fk["referred_table"],
                tuple(fk["referred_columns"]),
                None,
                *(
                    fk.get("options", {}).get(k)
                    for k in ("ondelete", "onupdate", "deferrable", "initially")
                ),
            )
            for fk in inspector.get_foreign_keys(name)
        ]
        checks = [Check(c["name"], c["sqltext"]) for c in inspector.get_check_constraints(name)]
        columns = [
            Column(
                c["name"],
                c["type"],
                bool(c["nullable"]),
                None if c.get("computed") else c.get("default"),
                c.get("autoincrement", "auto"),
                c.get("comment"),
                c["computed"]["sqltext"] if c.get("computed") else None,
                _identity(c.get("identity")),
            )
            for c in inspector.get_columns(name)
        ]
        try:
            comment = inspector.get_table_comment(name).get("text")
        except NotImplementedError:
            comment = None
        # dbshift reads back the engine; the character set and collation are per column
        options = tuple(
            (k, v) for k, v in inspector.get_table_options(name).items() if k == "mysql_engine"
        )
    if conn.dialect.name in ("mysql", "mariadb"):
        implicit = {(f.name, f.columns) for f in fks}
        indexes = [i for i in indexes if i.unique or (i.name, i.columns) not in implicit]
        indexes += [Index(u.name or "", u.columns, unique=True) for u in uniques]
        uniques = []

    def by_name(item: Any) -> tuple[bool, str, tuple[str, ...]]:
        return (item.name is None, item.name or "", item.columns)

    return Table(
        name,
        tuple(columns),
        None,
        PrimaryKey(tuple(pk["constrained_columns"]), pk.get("name"))
        if pk["constrained_columns"]
        else None,
        tuple(sorted(indexes, key=by_name)),
        tuple(sorted(fks, key=by_name)),
        tuple(sorted(uniques, key=by_name)),
        tuple(sorted(checks, key=lambda c: (c.name is None, c.name or "", c.sqltext))),
        comment,
        options,
    )


def _undoubled(table: Table) -> Table:
    def names(items: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(i.replace("``", "`") for i in items)

    pk = table.primary_key
    return table.replace(
        columns=tuple(
            dataclasses.replace(c, name=c.name.replace("``", "`")) for c in table.columns
        ),
        primary_key=dataclasses.replace(pk, columns=names(pk.columns)) if pk else None,
        indexes=tuple(
            dataclasses.replace(
                i,
                name=i.name.replace("``", "`"),
                columns=names(i.columns),
                options=tuple(
                    (k, {n.replace("``", "`"): x for n, x in v.items()}) for k, v in i.options
                ),
            )
            for i in table.indexes
        ),
        foreign_keys=tuple(
            dataclasses.replace(f, columns=names(f.columns), ref_columns=names(f.ref_columns))
            for f in table.foreign_keys
        ),
    )


def _oracle_index(info: Any) -> Index:
    """SQLAlchemy's `column_sorting` becomes part of the entry (`num DESC NULLS LAST`),
    an expression as a model writes it with `sa.desc(...)`."""
    names = info["column_names"]
    sql = info.get("expressions") or [None] * len(names)
    sorting = info.get("column_sorting") or {}
    entries_list, expressions_list = [], []
    for n, e in zip(names, sql, strict=False):
        order = sorting.get(n if n is not None else e, ())
        if n is not None and not order:
            entries_list.append(n)
            continue
        entry = " ".join([n if n is not None else e, *(o.upper().replace("_", " ") for o in order)])
        entries_list.append(entry)
        expressions_list.append(entry)
    entries, expressions = tuple(entries_list), tuple(expressions_list)
    opts = info.get("dialect_options") or {}
    options = [(k, opts[k]) for k in _OPTIONS if opts.get(k)]
    options += [(k, str(opts[k])) for k in ("sqlite_where",) if opts.get(k) is not None]
    if opts.get("mysql_length"):
        options.append(("mysql_length", opts["mysql_length"]))
    if opts.get("postgresql_include"):
        options.append(("postgresql_include", tuple(opts["postgresql_include"])))
    return Index(
        info["name"], entries, bool(info.get("unique")), tuple(sorted(options)), expressions
    )


def _readable(engine: sa.Engine, backend: str) -> None:
    md = varied_metadata(backend)
    md.create_all(engine)
    if backend == "postgresql":
        with engine.begin() as conn:
            conn.exec_driver_sql(
                "CREATE TABLE ident (id INTEGER GENERATED ALWAYS AS IDENTITY PRIMARY KEY, s SERIAL)"
            )
            for statement in PG_TYPES_SQL:
                conn.exec_driver_sql(statement)


#: PostgreSQL types and index/key forms beyond what the models above declare
PG_TYPES_SQL = (
    "CREATE SCHEMA other",
    "CREATE TYPE other.mood AS ENUM ('sad', 'ok')",
    "CREATE DOMAIN posint AS integer DEFAULT 1 NOT NULL CONSTRAINT posint_check CHECK (VALUE > 0)",
    "CREATE DOMAIN word AS varchar(10)",
    "CREATE TABLE typed ("
    " id bigserial PRIMARY KEY, tags text[], grid integer[][], num numeric, num4 numeric(4),"
    " ts3 timestamptz(3), ts timestamp(0), t time(2) with time zone, span interval,"
    " span_ds interval day to second(3), span_ym interval year to month, u uuid, j jsonb,"
    " vc varchar, ch char(3), bits bit varying(8), small smallint DEFAULT 7, real_ real,"
    " dbl double precision, ip inet, money_ money, pos posint, w word, m other.mood,"
    ' ms other.mood[], coll text COLLATE "C", arr_coll varchar(5)[] COLLATE "POSIX",'
    " g integer GENERATED ALWAYS AS (small * 2) STORED,"
    " ref integer, ref2 integer,"
    " CONSTRAINT uq_typed_inc UNIQUE (num4) INCLUDE (ch),"
    " CONSTRAINT uq_typed_nnd UNIQUE NULLS NOT DISTINCT (u), CHECK (small > 0))",
    "ALTER TABLE typed ADD CONSTRAINT ck_typed_nv CHECK (small < 100) NOT VALID",
    "ALTER TABLE typed ADD CONSTRAINT fk_typed_multi FOREIGN KEY (ref) REFERENCES node (id)"
    " ON DELETE SET NULL (ref) ON UPDATE RESTRICT",
    "ALTER TABLE typed ADD CONSTRAINT fk_typed_default FOREIGN KEY (ref2) REFERENCES node (id)"
    " ON DELETE SET DEFAULT DEFERRABLE",
    "CREATE INDEX ix_typed_gin ON typed USING gin (tags)",
    "CREATE INDEX ix_typed_desc ON typed (num DESC NULLS LAST, ts)",
    "CREATE INDEX ix_typed_include ON typed (u) INCLUDE (j, vc)",
    "CREATE UNIQUE INDEX ix_typed_nnd ON typed (ch) NULLS NOT DISTINCT",
    "CREATE INDEX ix_typed_expr ON typed ((small + 1), lower(vc), ts) WHERE small > 1",
    "CREATE TABLE empty_cols ()",
    "COMMENT ON TABLE typed IS 'typed''s table'",
    "COMMENT ON COLUMN typed.j IS 'json'",
)


def as_json(table: Table | None) -> Any:
    """What equality means here: type objects compare by identity, their reprs by value."""
    assert table is not None
    return json.loads(Snapshot.of([table]).to_json())


# --- tests -------------------------------------------------------------------------------


def test_introspect_equals_per_table_reflection(
    backend: str, driver: str, db_url: str, engine: sa.Engine
) -> None:
    _readable(engine, backend)

    def read(conn: sa.Connection) -> tuple[Snapshot, dict[str, Table]]:
        names = sa.inspect(conn).get_table_names()
        return introspect(conn), {name: sqlalchemy_table(conn, name) for name in names}

    # the catalog queries go through the driver under test; the oracle stays on the
    # default driver, so a driver's own types (asyncpg's bytes for "char") show up
    snapshot = connected(with_driver(db_url, driver), lambda conn: read(conn)[0])
    expected = connected(db_url, lambda conn: read(conn)[1])
    assert set(snapshot.tables) == set(expected) >= {HOSTILE, BACKTICK, "parent", "child"}
    for name, table in expected.items():
        got = snapshot.tables[name]
        if backend == "sqlite":  # SQLAlchemy skips expression indexes on SQLite; we keep them
            assert name != "parent" or any(i.expressions for i in got.indexes)
            got = got.replace(indexes=tuple(i for i in got.indexes if not i.expressions))
            # SQLAlchemy's SQLite pattern for generated columns stops at the comma in
            # NUMERIC(12, 2) and reports '': we read the expression
            table = table.replace(
                columns=tuple(
                    dataclasses.replace(c, computed="amount * 2") if c.computed == "" else c
                    for c in table.columns
                )
            )
        if backend == "mysql":  # SQLAlchemy leaves backticks doubled in names
            table = _undoubled(table)
        assert as_json(got) == as_json(table), name


def test_what_per_table_reflection_lacks(
    backend: str, driver: str, db_url: str, engine: sa.Engine
) -> None:
    _readable(engine, backend)

    def read(conn: sa.Connection) -> tuple[Snapshot, Table | None, Table | None]:
        snapshot = introspect(conn, exclude=lambda n: n in ("node", "egg"))
        return snapshot, reflect_table(conn, "parent"), reflect_table(conn, "nothing")

    snapshot, reflected, nothing = connected(with_driver(db_url, driver), read)
    parent = snapshot.tables["parent"]
    child = snapshot.tables["child"]
    assert as_json(reflected) == as_json(parent)
    assert nothing is None
    assert "node" not in snapshot.tables and "egg" not in snapshot.tables
    indexes = {i.name: i for i in parent.indexes}
    fk = next(f for f in child.foreign_keys if f.name == "fk_child_parent")
    if backend == "mysql":
        assert indexes["ix_parent_note"].options == (("mysql_length", {"note": 10}),)
        assert fk.deferrable is None
    else:
        assert indexes["ix_parent_partial"].options[0][1] in ("big > 0", "(big > 0)")
        assert indexes["ix_parent_lower"].expressions == (indexes["ix_parent_lower"].columns[0],)
        assert "lower" in indexes["ix_parent_lower"].columns[0]
        assert (fk.deferrable, fk.initially) == (True, "DEFERRED")
    if backend == "postgresql":
        assert parent.column("exact").type.collation == "C"
        assert snapshot.enums["kind"] == Enum("kind", ("a", "b'c"))
        assert set(snapshot.sequences) == {"seq_explicit"}
    if backend != "sqlite":
        assert snapshot.sequences["seq_explicit"] == Sequence("seq_explicit", start=5, increment=2)
    else:
        assert not snapshot.sequences


def test_tables_limits_what_is_read(
    backend: str, driver: str, db_url: str, engine: sa.Engine
) -> None:
    _readable(engine, backend)
    snapshot = connected(
        with_driver(db_url, driver),
        lambda conn: introspect(conn, tables=["child", HOSTILE, "missing"]),
    )
    assert set(snapshot.tables) == {"child", HOSTILE}


def _many(engine: sa.Engine, start: int, stop: int) -> None:
    md = sa.MetaData()
    for i in range(start, stop):
        sa.Table(
            f"t{i}",
            md,
            sa.Column("id", sa.Integer, primary_key=True),
            sa.Column("name", sa.String(20), unique=True),
            sa.Column("other", sa.Integer, sa.ForeignKey(f"t{i}.id"), index=True),
            sa.CheckConstraint("other > 0", name=f"ck_t{i}"),
        )
    md.create_all(engine)


def _queries(url: str) -> int:
    def count(conn: sa.Connection) -> int:
        queries = 0

        def counted(*_: Any) -> None:
            nonlocal queries
            queries += 1

        conn.execute(sa.text("SELECT 1"))  # connection set-up queries are not ours
        introspect(conn)  # SQLAlchemy's PostgreSQL dialect looks up btree's oid once
        sa.event.listen(conn, "before_cursor_execute", counted)
        introspect(conn)
        sa.event.remove(conn, "before_cursor_execute", counted)
        return queries

    return connected(url, count)


def test_query_count_does_not_grow_with_tables(
    backend: str, driver: str, db_url: str, engine: sa.Engine
) -> None:
    url = with_driver(db_url, driver)
    _many(engine, 0, 3)
    few = _queries(url)
    _many(engine, 3, 30)
    many = _queries(url)
    assert few == many
    assert many <= 12


def _identity(info: dict[str, object] | None) -> tuple[tuple[str, object], ...] | None:
    """SQLAlchemy's reflected identity, as the snapshot keeps it."""
    if not info:
        return None
    return (
        ("always", bool(info["always"])),
        ("increment", info["increment"]),
        ("start", info["start"]),
    )
