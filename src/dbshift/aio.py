"""Awaitable versions of the API, for applications that migrate at start-up.

With an async URL (`postgresql+asyncpg://`, `sqlite+aiosqlite://`, `mysql+asyncmy://`)
the work runs on the event loop through SQLAlchemy's `run_sync`; with a sync URL it runs
in a worker thread. Either way it is the same code as the synchronous API, and each
function takes the same arguments as its namesake in `dbshift.api` (a test compares the
signatures).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import sqlalchemy as sa

from dbshift import database, jobs
from dbshift.config import Config
from dbshift.results import (
    AdoptReport,
    DriftReport,
    HistoryReport,
    RepairReport,
    SchemaBaseline,
    Status,
    VerifyReport,
)

if TYPE_CHECKING:
    from dbshift.runner import Listener, RunReport  # annotations only

__all__ = [
    "adopt",
    "baseline",
    "downgrade",
    "drift",
    "history",
    "repair",
    "stamp",
    "status",
    "upgrade",
    "verify",
]

T = TypeVar("T")


async def _run(config: Config, job: Callable[[sa.Connection], T]) -> T:
    if database.is_async_config(config):
        return await database.run_async(config, job)
    if config.bind is not None:
        # a handed-over sync engine or connection stays on the caller's thread: SQLite's
        # connections belong to theirs (and `sqlite://` is one database per thread)
        return database.run(config, job)
    return await asyncio.to_thread(database.run, config, job)


async def upgrade(
    config: Config,
    target: str = "head",
    *,
    dry_run: bool = False,
    single_transaction: bool = False,
    listener: Listener | None = None,
) -> RunReport:
    return await _run(config, jobs.upgrade(config, target, dry_run, single_transaction, listener))


async def downgrade(
    config: Config, target: str, *, dry_run: bool = False, listener: Listener | None = None
) -> RunReport:
    return await _run(config, jobs.downgrade(config, target, dry_run, listener))


async def stamp(config: Config, target: str) -> RunReport:
    return await _run(config, jobs.stamp(config, target))


async def status(config: Config) -> Status:
    return await _run(config, jobs.status(config))


async def history(config: Config) -> HistoryReport:
    return await _run(config, jobs.history(config))


async def repair(
    config: Config, *, applied: Sequence[str] = (), rolled_back: Sequence[str] = ()
) -> RepairReport:
    return await _run(config, jobs.repair(config, applied, rolled_back))


async def verify(config: Config, *, database_check: bool = True) -> VerifyReport:
    """`dbshift.verify`, with the history read through the async engine when asked
    (`database_check`) and a URL is configured; else on the files alone."""
    job = jobs.verify(config)
    if database_check and config.url:
        return await _run(config, job)
    return job(None)


async def adopt(
    config: Config,
    source: str | Path | None = None,
    *,
    files_only: bool = False,
    drop_alembic_version: bool = False,
    drop_yoyo_tables: bool = False,
    version_table: str | None = None,
    version_table_schema: str | None = None,
    tool: str | None = None,
) -> AdoptReport:
    """`dbshift.api.adopt`: the files converted in a worker thread, the database taken
    over through the async engine (or a worker thread, for a sync URL)."""
    # lazy: status start-up: the converter parses Python with ast
    from dbshift.adopt import run

    write = files_only or not config.url
    prepared = await asyncio.to_thread(
        run.prepare,
        config,
        source,
        version_table=version_table,
        version_table_schema=version_table_schema,
        tool=tool,
        write=write,
        drop_alembic_version=drop_alembic_version,
        drop_yoyo_tables=drop_yoyo_tables,
    )
    if write:
        return prepared.report()
    return await _run(config, run.database_job(prepared, drop_version_table=prepared.drop))


async def baseline(
    config: Config,
    message: str = "baseline",
    *,
    sql: bool = False,
    after_existing: bool = False,
) -> SchemaBaseline:
    """`dbshift.api.baseline`: the folder read in a worker thread, the database read,
    the file written and the history recorded through the async engine (or a worker
    thread, for a sync URL)."""
    # lazy: status start-up: introspection and the renderer
    from dbshift.autogen import baseline as taking

    request = taking.Request(message=message, sql=sql, after_existing=after_existing)
    project = await asyncio.to_thread(taking.prepare, config, request)
    return await _run(config, taking.job(config, project, request))


async def drift(config: Config) -> DriftReport:
    """`dbshift.api.drift`: the files read and the models imported in a worker thread,
    the database compared through the async engine (or a worker thread)."""
    # lazy: status start-up: introspection, the replay and the models comparison
    from dbshift.autogen import drift as drifting

    prepared = await asyncio.to_thread(drifting.prepare, config)
    return await _run(config, drifting.job(prepared))
