"""Table options (`sqlite_autoincrement`, `sqlite_with_rowid`, `mysql_engine`, ...): a
table's dialect keywords are part of the table, so `make` writes them, replay keeps
them, introspection reads back the ones each backend states, and a change is reported
rather than dropped (celery's models set `sqlite_autoincrement=True`)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

import dbshift
from dbshift.api import make_report
from tests.autogen_support import Loop


def models(**options: object) -> sa.MetaData:
    metadata = sa.MetaData()
    sa.Table(
        "task",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(50)),
        **options,  # type: ignore[arg-type]
    )
    return metadata


EVERY_BACKEND = {
    "sqlite_autoincrement": True,
    "mysql_engine": "MyISAM",
    "mysql_charset": "utf8mb4",
    "postgresql_tablespace": "pg_default",
}


def test_options_are_created_exactly_and_kept(loop: Loop, engine: sa.Engine) -> None:
    path = loop.step(models(**EVERY_BACKEND), "tasks")
    assert path is not None
    text = path.read_text()
    assert "sqlite_autoincrement=True" in text
    assert "mysql_engine='MyISAM'" in text
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            sql = conn.scalar(sa.text("SELECT sql FROM sqlite_master WHERE name = 'task'"))
            assert "AUTOINCREMENT" in sql
            conn.execute(sa.text("INSERT INTO task (name) VALUES ('a'), ('b')"))
            conn.execute(sa.text("DELETE FROM task WHERE id = 2"))
            conn.execute(sa.text("INSERT INTO task (name) VALUES ('c')"))
            ids = conn.scalars(sa.text("SELECT id FROM task ORDER BY id")).all()
            assert ids == [1, 3], "AUTOINCREMENT never reuses a deleted row's id"
        elif engine.dialect.name == "mysql":
            create = conn.execute(sa.text("SHOW CREATE TABLE task")).one()[1]
            assert "ENGINE=MyISAM" in create
            assert "CHARSET=utf8mb4" in create


@pytest.mark.backends("sqlite")
def test_a_rebuild_keeps_autoincrement(loop: Loop, engine: sa.Engine) -> None:
    """A change SQLite makes by rebuilding the table rebuilds it with its options."""
    loop.step(models(sqlite_autoincrement=True), "tasks")
    changed = sa.MetaData()
    sa.Table(
        "task",
        changed,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(50), nullable=False),
        sqlite_autoincrement=True,
    )
    loop.step(changed, "name required")
    with engine.connect() as conn:
        sql = conn.scalar(sa.text("SELECT sql FROM sqlite_master WHERE name = 'task'"))
    assert "AUTOINCREMENT" in sql


@pytest.mark.backends("sqlite")
def test_without_rowid(loop: Loop, engine: sa.Engine) -> None:
    metadata = sa.MetaData()
    sa.Table(
        "pair",
        metadata,
        sa.Column("a", sa.String(10), primary_key=True),
        sa.Column("b", sa.String(10), primary_key=True),
        sqlite_with_rowid=False,
    )
    loop.step(metadata, "pairs")
    with engine.connect() as conn:
        sql = conn.scalar(sa.text("SELECT sql FROM sqlite_master WHERE name = 'pair'"))
    assert "WITHOUT ROWID" in sql


def test_a_changed_option_is_a_note_not_silence(backend: str, loop: Loop) -> None:
    loop.step(models(sqlite_autoincrement=True, mysql_engine="MyISAM"), "tasks")
    config = loop.config(models(mysql_engine="InnoDB"))
    report = make_report(config, check=True)
    assert report.operations == ()
    assert dbshift.diff(config) == []  # nor against the database
    expected = {"sqlite": "sqlite_autoincrement", "mysql": "mysql_engine"}.get(backend)
    changed = [note for note in report.notes if " changes " in note]
    if expected is None:  # PostgreSQL states neither option
        assert changed == []
    else:
        assert len(changed) == 1 and expected in changed[0], report.notes


def test_introspection_reads_the_options_back(backend: str, engine: sa.Engine) -> None:
    from dbshift.schema.introspect import introspect

    models(**EVERY_BACKEND).create_all(engine)
    with engine.connect() as conn:
        options = dict(introspect(conn).tables["task"].options)
    expected = {
        "sqlite": {"sqlite_autoincrement": True},
        "mysql": {"mysql_engine": "MyISAM"},
        "postgresql": {},
    }[backend]
    assert options == expected


def test_a_keyword_with_a_space_is_rendered(backend: str, loop: Loop, engine: sa.Engine) -> None:
    """MySQL's reflection spells some options with a space; the file must still run."""
    path = loop.step(models(**{"mysql_default charset": "latin1"}), "tasks")
    assert path is not None and "**{'mysql_default charset': 'latin1'}" in path.read_text()
    if backend == "mysql":
        with engine.connect() as conn:
            create = conn.execute(sa.text("SHOW CREATE TABLE task")).one()[1]
        assert "CHARSET=latin1" in create
