"""The exactness loop every autogenerate test runs, on a real database.

make + upgrade must give what `metadata.create_all()` gives (both read back by
introspection), `make` right afterwards must find nothing (from the replayed migrations
and from the database), and downgrading must give back the schema before.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import sqlalchemy as sa

import dbshift
import dbshift.api
from dbshift.schema.introspect import introspect
from tests.conftest import ScratchDatabases

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s",
    "pk": "pk_%(table_name)s",
}


def schema_of(url: str) -> str:
    """The database's schema as canonical JSON, dbshift's own tables left out."""
    engine = sa.create_engine(url, poolclass=sa.NullPool)
    try:
        with engine.connect() as conn:
            snapshot = introspect(conn, exclude=lambda name: name.startswith("dbshift_"))
    finally:
        engine.dispose()
    # ADD COLUMN appends: column order is the one thing a migration cannot match.
    data = json.loads(snapshot.to_json())
    for table in data["tables"].values():
        table["columns"].sort(key=lambda column: column["name"])
    return json.dumps(data, sort_keys=True)


def created_schema(metadata: sa.MetaData, scratch: ScratchDatabases) -> str:
    """What `create_all` makes of `metadata` on a fresh database of the same backend."""
    url = scratch.create()
    engine = sa.create_engine(url, poolclass=sa.NullPool)
    try:
        metadata.create_all(engine)
    finally:
        engine.dispose()
    return schema_of(url)


class Loop:
    """One project evolving through model states on one database."""

    def __init__(self, url: str, folder: Path, scratch: ScratchDatabases) -> None:
        self.url = url
        self.scratch = scratch
        self.folder = folder / "migrations"
        self.folder.mkdir(parents=True, exist_ok=True)
        self.states: list[str] = [schema_of(url)]
        #: how many migrations each step wrote (PostgreSQL's online form may be a chain)
        self.written: list[int] = []

    def config(self, metadata: sa.MetaData, **extra: Any) -> dbshift.Config:
        return dbshift.Config(url=self.url, migrations=self.folder, models=[metadata], **extra)

    def step(self, metadata: sa.MetaData, message: str = "step", **make: Any) -> Path | None:
        """make + upgrade to `metadata`, then check it is exact; return the file."""
        config = self.config(metadata)
        made = dbshift.api.make_report(config, message=message, **make)
        path = made.path
        dbshift.upgrade(config, "head")
        after = schema_of(self.url)
        expected = created_schema(metadata, self.scratch)
        assert after == expected, _source(path) + _difference(after, expected)
        assert dbshift.make(config, message="again") is None, "make found changes right after"
        assert dbshift.diff(config) == [], "the database differs from the models"
        self.states.append(after)
        self.written.append(len(made.paths))
        return path

    def back(self, metadata: sa.MetaData) -> None:
        """Downgrade one step (if it wrote a migration): the schema must be the one
        before it."""
        count = self.written.pop()
        if count:
            dbshift.downgrade(self.config(metadata), f"-{count}")
        self.states.pop()
        assert schema_of(self.url) == self.states[-1]


def _source(path: Path | None) -> str:
    return path.read_text() if path else "(no file written)"


def _difference(actual: str, expected: str) -> str:
    import difflib
    import json

    def lines(text: str) -> list[str]:
        return json.dumps(json.loads(text), indent=1, sort_keys=True).splitlines()

    diff = difflib.unified_diff(lines(expected), lines(actual), "create_all", "make+upgrade")
    return "\n" + "\n".join(diff)
