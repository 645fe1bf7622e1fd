"""`Migrator`: a database of its own walked migration by migration, for testing data
migrations: migrate to the one before, insert rows, migrate to the one under test,
look at the rows."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa

from dbshift import api
from dbshift.config import Config
from dbshift.migrations.project import Project
from dbshift.testing.databases import sync_engine


class Migrator:
    """Moves one database (empty when given) to any migration and back. `config` is
    the project's configuration with the database's URL (the `dbshift_migrator`
    fixture makes both)."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self._engine: sa.Engine | None = None

    @property
    def url(self) -> str:
        """The database's URL (with its password: give it to an engine, never print it)."""
        return self.config.require_url()

    @property
    def engine(self) -> sa.Engine:
        """A synchronous engine on the database, without a pool; disposed by `close`."""
        if self._engine is None:
            self._engine = sync_engine(self.url)
        return self._engine

    @property
    def applied(self) -> tuple[str, ...]:
        """The ids of the applied migrations, in the order they were applied."""
        return tuple(row.id for row in api.status(self.config).applied)

    def migrate_to(self, target: str) -> tuple[str, ...]:
        """Bring the database to `target` (an id or a unique prefix of one, `head`,
        `base`): upgrading when it is not applied, else reverting what was applied after
        it. The ids of the migrations that ran."""
        if target == "base":
            return self.migrate_down("base")
        if target != "head":
            wanted = Project.read(self.config).graph.resolve(target)
            if wanted in self.applied:
                return self.migrate_down(wanted)
            target = wanted
        return tuple(api.upgrade(self.config, target).done)

    def migrate_up(self, target: str = "+1") -> tuple[str, ...]:
        """Apply migrations up to `target` (default: the next one)."""
        return tuple(api.upgrade(self.config, target).done)

    def migrate_down(self, target: str = "-1") -> tuple[str, ...]:
        """Revert migrations down to `target` (default: the last one applied; an id
        keeps that migration; `base` reverts everything)."""
        return tuple(api.downgrade(self.config, target).done)

    def insert(self, table: str, *rows: Mapping[str, Any]) -> None:
        """Insert `rows` (column -> value) into `table` as the schema is now, in one
        transaction."""
        if not rows:
            return
        schema = self.config.schema
        reflected = sa.Table(table, sa.MetaData(), autoload_with=self.engine, schema=schema)
        with self.engine.begin() as conn:
            conn.execute(reflected.insert(), [dict(row) for row in rows])

    def rows(self, sql: str, **params: Any) -> list[sa.Row[Any]]:
        """The rows of a query (`:name` parameters from `params`)."""
        with self.engine.connect() as conn:
            return list(conn.execute(sa.text(sql), params))

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None
