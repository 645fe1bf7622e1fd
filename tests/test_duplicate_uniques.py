"""Two unique constraints on the same columns, one unnamed (`unique=True`) and one named
(found by the corpus: Galaxy's `dataset.uuid`). SQLite keeps both in its CREATE TABLE
text behind one index, MariaDB keeps two keys, PostgreSQL's CREATE TABLE keeps one under
the given name: the result must be what create_all makes, with nothing left to change
against the migrations or the database."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

import dbshift
import dbshift.errors
from tests.autogen_support import Loop


def models(*extra: sa.SchemaItem) -> sa.MetaData:
    metadata = sa.MetaData()
    sa.Table(
        "dataset",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("uuid", sa.String(32), unique=True),
        *extra,
    )
    return metadata


def test_an_unnamed_and_a_named_unique_on_one_column(loop: Loop) -> None:
    assert loop.step(models(sa.UniqueConstraint("uuid", name="uq_uuid_column")), "d")


def test_a_named_unique_added_to_a_unique_column(loop: Loop, backend: str) -> None:
    """Where the server keeps both, the named one is added; on PostgreSQL create_all keeps
    only the named one, so the unnamed one would have to go, and an unnamed constraint's
    name is not known: make refuses rather than guess it."""
    loop.step(models(), "plain")
    named = models(sa.UniqueConstraint("uuid", name="uq_uuid_column"))
    if backend == "postgresql":
        with pytest.raises(dbshift.errors.UsageError, match="unnamed unique constraint"):
            loop.step(named, "named")
        return
    assert loop.step(named, "named")
    loop.back(models())


def test_the_named_one_is_kept_whatever_the_order(loop: Loop, engine: sa.Engine) -> None:
    metadata = sa.MetaData()
    sa.Table(
        "dataset",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("uuid", sa.String(32)),
        sa.UniqueConstraint("uuid", name="uq_b"),
        sa.UniqueConstraint("uuid"),
    )
    loop.step(metadata, "d")
    catalog = {
        "sqlite": "SELECT sql FROM sqlite_master WHERE name = 'dataset'",
        "postgresql": "SELECT string_agg(conname, ' ') FROM pg_constraint WHERE contype = 'u'",
        "mysql": "SELECT group_concat(index_name) FROM information_schema.statistics"
        " WHERE table_schema = database() AND table_name = 'dataset'",
    }
    with engine.connect() as conn:
        assert "uq_b" in conn.scalar(sa.text(catalog[engine.dialect.name]))


def test_under_a_naming_convention_the_first_declared_is_kept(loop: Loop) -> None:
    """Galaxy's case: a convention names the `unique=True` one too; PostgreSQL keeps the
    first in CREATE TABLE order, so `make` writes them in the order create_all does."""
    metadata = sa.MetaData(naming_convention={"uq": "%(table_name)s_%(column_0_name)s_key"})
    # made before the table, as declarative makes __table_args__ (created first)
    named = sa.UniqueConstraint("uuid", name="uq_uuid_column")
    sa.Table(
        "dataset",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("uuid", sa.String(32), unique=True),
        named,
    )
    assert loop.step(metadata, "d")
