"""SQLite keeps a column's declared type text, whatever the name. Reading it back by
affinity alone made `BINARY(16)` a `NUMERIC(16)`, so a model with a binary key (the
common UUID type's `impl`) differed from its own database on every `make`."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy.dialects import sqlite

import dbshift
from dbshift.dialects.sqlite.introspect import declared_type
from dbshift.schema.introspect import introspect

pytestmark = pytest.mark.backends("sqlite")

DECLARED = [
    "BINARY(16)",
    "VARBINARY(8)",
    "UUID",
    "NUMBER(3)",
    "STRING",
    "DOUBLE PRECISION",
    "MEDIUMTEXT",
    "CHAR(32)",
    "VARCHAR(50)",
]


def test_declared_types_read_back_as_declared(engine: sa.Engine) -> None:
    columns = ", ".join(f'"c{i}" {t}' for i, t in enumerate(DECLARED))
    with engine.begin() as conn:
        conn.execute(sa.text(f"CREATE TABLE t (id INTEGER PRIMARY KEY, {columns})"))
    with engine.connect() as conn:
        table = introspect(conn).tables["t"]
    for i, declared in enumerate(DECLARED):
        column = table.column(f"c{i}")
        assert column is not None
        assert str(column.type.compile(dialect=engine.dialect)) == declared


def test_a_binary_key_matches_its_database(db_url: str, tmp_path: Path) -> None:
    metadata = sa.MetaData()
    sa.Table(
        "item",
        metadata,
        sa.Column("id", sa.BINARY(16), primary_key=True),
        sa.Column("code", sa.types.VARBINARY(8)),
        sa.Column("token", sa.types.UUID()),
    )
    (tmp_path / "migrations").mkdir()
    config = dbshift.Config(url=db_url, migrations=tmp_path / "migrations", models=[metadata])
    assert dbshift.make(config, message="items") is not None
    dbshift.upgrade(config, "head")
    assert dbshift.diff(config) == []
    assert dbshift.diff(config, against="migrations") == []


def test_a_table_of_unknown_types_survives_a_rebuild(db_url: str, tmp_path: Path) -> None:
    """A rebuild restates the column types SQLite holds, not their affinity."""
    engine = sa.create_engine(db_url)
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE t (id INTEGER PRIMARY KEY, n NUMBER(3), b BINARY(4))"))
    folder = tmp_path / "migrations"
    folder.mkdir()
    (folder / "20260101T000000_tighten.py").write_text(
        '"""tighten"""\n\nparents = []\n\n\ndef upgrade(op):\n'
        '    op.alter_column("t", "n", nullable=False, existing_nullable=True)\n'
    )
    config = dbshift.Config(url=db_url, migrations=folder)
    dbshift.rehash(config)
    dbshift.upgrade(config, "head")
    with engine.connect() as conn:
        sql = conn.scalar(sa.text("SELECT sql FROM sqlite_master WHERE name = 't'"))
    engine.dispose()
    assert "NUMBER(3)" in sql and "BINARY(4)" in sql and "NOT NULL" in sql


NAMES = st.from_regex(r"[A-Za-z][A-Za-z_]{0,11}", fullmatch=True)


@given(
    NAMES,
    st.lists(st.integers(min_value=0, max_value=999), max_size=2),
)
def test_any_declared_type_compiles_back_to_its_text(name: str, args: list[int]) -> None:
    dialect = sqlite.dialect()
    text = name + (f"({','.join(map(str, args))})" if args else "")
    type_ = declared_type(dialect, text)
    if name.upper() in dialect.ischema_names:  # SQLAlchemy's SQLite names keep their type
        return
    assert str(type_.compile(dialect=dialect)).replace(", ", ",") == text.upper() or (
        str(type_.compile(dialect=dialect)) == text
    )


def test_a_column_collation_is_read_from_the_table_text(db_url: str, tmp_path: Path) -> None:
    """The pragmas do not report `COLLATE`: the introspection reads it from the CREATE
    TABLE text (quoted or not, beside other clauses), so a model's collation matches its
    own database (`drift` and `diff` against the database reported every collated
    column) and `baseline` writes it back."""
    engine = sa.create_engine(db_url)
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "CREATE TABLE t (id INTEGER PRIMARY KEY, a TEXT NOT NULL COLLATE NOCASE UNIQUE, "
                'b VARCHAR(20) COLLATE "RTRIM", c TEXT)'
            )
        )
    with engine.connect() as conn:
        columns = {c.name: c.type for c in introspect(conn).tables["t"].columns}
    engine.dispose()
    assert [getattr(columns[n], "collation", None) for n in "abc"] == ["NOCASE", "RTRIM", None]
    md = sa.MetaData()
    sa.Table(
        "t",
        md,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("a", sa.Text(collation="NOCASE"), nullable=False, unique=True),
        sa.Column("b", sa.VARCHAR(20, collation="RTRIM")),
        sa.Column("c", sa.Text),
    )
    folder = tmp_path / "migrations"
    folder.mkdir()
    config = dbshift.Config(url=db_url, migrations=folder, models=[md])
    dbshift.api.baseline(config)
    assert "collation='NOCASE'" in next(folder.glob("*.py")).read_text()
    assert not dbshift.api.drift(config).drifted
    assert dbshift.diff(config) == []
