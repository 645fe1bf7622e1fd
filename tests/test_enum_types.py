"""Enum columns as the backends create them: a VARCHAR where the backend has no enum type
(non-native, or SQLite) is as long as the model says, not just the longest value (found by the corpus:
Airflow's `Enum(..., native_enum=False, length=50)`)."""

from __future__ import annotations

import sqlalchemy as sa

from tests.autogen_support import Loop


def models(*columns: sa.Column[object]) -> sa.MetaData:
    metadata = sa.MetaData()
    sa.Table("run", metadata, sa.Column("id", sa.Integer, primary_key=True), *columns)
    return metadata


def test_a_longer_enum_is_created_as_long(loop: Loop, engine: sa.Engine) -> None:
    kind = sa.Enum("CLI", "UI", name="trigger", native_enum=False, length=50)
    path = loop.step(models(sa.Column("triggered_by", kind)), "runs")
    assert path is not None and "length=50" in path.read_text()
    with engine.connect() as conn:
        conn.execute(sa.text("INSERT INTO run (id, triggered_by) VALUES (1, :v)"), {"v": "x" * 50})
        assert conn.scalar(sa.text("SELECT triggered_by FROM run")) == "x" * 50


def test_a_native_enum_with_a_length(loop: Loop) -> None:
    """Native where the backend has enums; a VARCHAR(20) on SQLite."""
    loop.step(models(sa.Column("mood", sa.Enum("ok", "bad", name="mood", length=20))), "m")


def test_a_changed_length_is_a_change(loop: Loop) -> None:
    loop.step(models(sa.Column("k", sa.Enum("a", "b", name="k", native_enum=False))), "k")
    longer = sa.Enum("a", "b", name="k", native_enum=False, length=30)
    path = loop.step(models(sa.Column("k", longer)), "longer")
    assert path is not None and "length=30" in path.read_text()
