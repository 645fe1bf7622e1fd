"""A computed column's STORED / VIRTUAL (`persisted=`) survives the round trips: `make`
writes what the models say, the introspection of every backend reads what the database
has, and `baseline` writes that back (before, `make` wrote `sa.Computed(...)` without
it: a STORED column of the models became VIRTUAL on MariaDB and SQLite)."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

import dbshift
from dbshift.schema.introspect import introspect
from tests.autogen_support import Loop
from tests.conftest import ScratchDatabases


def _persisted(url: str) -> dict[str, bool | None]:
    engine = sa.create_engine(url, poolclass=sa.NullPool)
    try:
        with engine.connect() as conn:
            table = introspect(conn, exclude=lambda name: name != "gen").tables["gen"]
    finally:
        engine.dispose()
    return {c.name: c.persisted for c in table.columns if c.computed}


def _models(backend: str) -> tuple[sa.MetaData, dict[str, bool | None]]:
    md = sa.MetaData()
    columns = [sa.Column("stored", sa.Integer, sa.Computed("a * 2", persisted=True))]
    expected: dict[str, bool | None] = {"stored": True}
    if backend != "postgresql":  # PostgreSQL before 18 has STORED columns only
        columns.append(sa.Column("virtual", sa.Integer, sa.Computed("a * 3", persisted=False)))
        expected["virtual"] = False
    sa.Table(
        "gen",
        md,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("a", sa.Integer),
        *columns,
    )
    return md, expected


def test_make_writes_and_introspection_reads_persisted(loop: Loop, backend: str) -> None:
    md, expected = _models(backend)
    path = loop.step(md, "gen")
    assert path is not None
    assert "persisted=True" in path.read_text()
    assert _persisted(loop.url) == expected


def test_baseline_keeps_persisted(scratch: ScratchDatabases, backend: str, tmp_path: Path) -> None:
    md, expected = _models(backend)
    source, fresh = scratch.create(), scratch.create()
    engine = sa.create_engine(source, poolclass=sa.NullPool)
    md.create_all(engine)
    engine.dispose()
    folder = tmp_path / "migrations"
    folder.mkdir()
    dbshift.api.baseline(dbshift.Config(url=source, migrations=folder))
    dbshift.upgrade(dbshift.Config(url=fresh, migrations=folder))
    assert _persisted(fresh) == _persisted(source) == expected
