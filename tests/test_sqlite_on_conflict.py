"""SQLite's conflict clauses on a table's primary key and unique constraints
(`sqlite_on_conflict=`), found by the corpus: Galaxy's `history_audit` has
`PRIMARY KEY (...) ON CONFLICT IGNORE`. The clause is part of the table on SQLite and
nothing elsewhere: `make` + `upgrade` must give what `create_all` gives on every
backend, and SQLite's table rebuilds must keep it."""

from __future__ import annotations

import sqlalchemy as sa

from tests.autogen_support import Loop


def models(*extra: sa.SchemaItem) -> sa.MetaData:
    metadata = sa.MetaData()
    sa.Table(
        "history_audit",
        metadata,
        sa.Column("history_id", sa.Integer, nullable=False),
        sa.Column("update_time", sa.DateTime, nullable=False),
        sa.Column("code", sa.String(20)),
        *extra,
        sa.PrimaryKeyConstraint("history_id", "update_time", sqlite_on_conflict="IGNORE"),
        sa.UniqueConstraint("code", name="uq_code", sqlite_on_conflict="REPLACE"),
    )
    return metadata


def _table_sql(engine: sa.Engine) -> str:
    with engine.connect() as conn:
        return str(
            conn.scalar(sa.text("SELECT sql FROM sqlite_master WHERE name = 'history_audit'"))
        )


def test_the_conflict_clauses_are_created_as_create_all_does(
    loop: Loop, backend: str, engine: sa.Engine
) -> None:
    path = loop.step(models(), "audit")
    assert path is not None and "sqlite_on_conflict='IGNORE'" in path.read_text()
    if backend == "sqlite":
        sql = _table_sql(engine)
        assert "ON CONFLICT IGNORE" in sql and "ON CONFLICT REPLACE" in sql, sql
        with engine.begin() as conn:  # the clause works: a second row is ignored
            for _ in range(2):
                conn.execute(
                    sa.text("INSERT INTO history_audit VALUES (1, '2026-01-01 00:00:00', 'a')")
                )
            assert conn.scalar(sa.text("SELECT count(*) FROM history_audit")) == 1


def test_a_rebuild_keeps_them(loop: Loop, backend: str, engine: sa.Engine) -> None:
    """A new NOT NULL column with a server default and a check rebuild the table on
    SQLite: the clauses stay; back down, the table is as it was."""
    loop.step(models(), "audit")
    column = sa.Column("n", sa.Integer, server_default="0")
    loop.step(models(column, sa.CheckConstraint("n >= 0", name="ck_n")), "rebuilt")
    if backend == "sqlite":
        sql = _table_sql(engine)
        assert "ON CONFLICT IGNORE" in sql and "ON CONFLICT REPLACE" in sql, sql
    loop.back(models())
