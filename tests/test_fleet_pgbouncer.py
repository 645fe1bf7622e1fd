"""A tenant schema's search path (docs/fleet.md) is set in every transaction, never left
in the session: schema targets behind a transaction-pooling PgBouncer land in their own
schema and leave no path behind for other clients; a handed-over engine gets it too;
statements that name the tenant are not kept for the next one."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from dbshift import aio, api
from dbshift.config import Config
from tests.conftest import ScratchDatabases
from tests.helpers import Project
from tests.pgbouncer import pgbouncer

pytestmark = pytest.mark.backends("postgresql")

DEFAULT_PATH = '"$user", public'


def tenant_database(scratch: ScratchDatabases, count: int) -> tuple[str, list[str]]:
    url = scratch.create()
    schemas = [f"tenant_{i:02d}" for i in range(count)]
    engine = sa.create_engine(url, poolclass=sa.NullPool)
    with engine.begin() as conn:
        for schema in schemas:
            conn.execute(sa.text(f"CREATE SCHEMA {schema}"))
    engine.dispose()
    return url, schemas


def tables(url: str, schema: str) -> set[str]:
    engine = sa.create_engine(url, poolclass=sa.NullPool)
    try:
        with engine.connect() as conn:
            return set(sa.inspect(conn).get_table_names(schema=schema))
    finally:
        engine.dispose()


def paths_seen(url: str, clients: int) -> set[str]:
    """`SHOW search_path` on `clients` connections, each in a transaction held open
    until all have answered: with as many clients as the pool has server connections,
    every server connection answers once."""
    engines = [sa.create_engine(url, poolclass=sa.NullPool) for _ in range(clients)]
    conns = [engine.connect() for engine in engines]
    try:
        return {str(conn.exec_driver_sql("SHOW search_path").scalar()) for conn in conns}
    finally:
        for conn in conns:
            conn.close()
        for engine in engines:
            engine.dispose()


def project_on(root: Path, url: str, capsys: Any, jobs: int) -> tuple[Project, list[str]]:
    project = Project(root, url, capsys)
    (project.root / "dbshift.toml").write_text(
        f'url = "{url}"\n[fleet]\nschemas = "tenant_*"\njobs = {jobs}\n'
    )
    ids = [
        project.python(
            "items",
            'op.create_table("items", sa.Column("id", sa.Integer, primary_key=True))',
        ),
        project.python("price", 'op.add_column("items", sa.Column("price", sa.Integer))'),
        project.python(
            "raw",
            'op.execute("CREATE TABLE raw_things (id INTEGER)")',
            'op.execute("DROP TABLE raw_things")',
        ),
    ]
    return project, ids


@pytest.mark.slow
def test_schema_targets_through_a_transaction_pooler(
    tmp_path: Path, scratch: ScratchDatabases, capsys: Any
) -> None:
    direct, schemas = tenant_database(scratch, 8)
    with pgbouncer(direct, pool_size=2) as pooled:  # 4 runners share 2 server connections
        project, ids = project_on(tmp_path / "proj", pooled, capsys, jobs=4)
        report = project.ok("fleet", "upgrade", "--json").json
        assert {t["name"]: t["migrations"] for t in report["targets"]} == dict.fromkeys(
            schemas, ids
        )
        for schema in schemas:
            assert {"items", "raw_things"} <= tables(direct, schema), schema
        assert not {"items", "raw_things"} & tables(direct, "public")
        assert paths_seen(pooled, 2) == {DEFAULT_PATH}  # nothing left for other clients

        project.ok("fleet", "downgrade", "base")
        for schema in schemas:
            assert not {"items", "raw_things"} & tables(direct, schema), schema
        project.ok("fleet", "upgrade")
        for schema in schemas:
            assert {"items", "raw_things"} <= tables(direct, schema), schema
        assert not {"items", "raw_things"} & tables(direct, "public")
        assert paths_seen(pooled, 2) == {DEFAULT_PATH}


def test_a_statement_outside_a_transaction_runs_in_the_tenant_schema(
    tmp_path: Path, scratch: ScratchDatabases, capsys: Any
) -> None:
    url, schemas = tenant_database(scratch, 2)
    project, ids = project_on(tmp_path / "proj", url, capsys, jobs=2)
    index = project.python(
        "index",
        'op.execute("CREATE INDEX CONCURRENTLY items_price ON items (price)")',
        'op.execute("DROP INDEX CONCURRENTLY items_price")',
        header="transactional = False\n",
    )
    project.ok("fleet", "upgrade")
    engine = sa.create_engine(url, poolclass=sa.NullPool)
    with engine.connect() as conn:
        for schema in schemas:
            names = {i["name"] for i in sa.inspect(conn).get_indexes("items", schema=schema)}
            assert names == {"items_price"}, schema
    engine.dispose()
    project.ok("fleet", "downgrade", ids[-1])
    with engine.connect() as conn:
        for schema in schemas:
            assert sa.inspect(conn).get_indexes("items", schema=schema) == [], (schema, index)
    engine.dispose()


def test_a_handed_over_engine_gets_the_tenant_path_and_keeps_its_own(
    tmp_path: Path, scratch: ScratchDatabases, capsys: Any
) -> None:
    url, schemas = tenant_database(scratch, 1)
    project, _ = project_on(tmp_path / "proj", url, capsys, jobs=1)
    engine = sa.create_engine(url)  # the application's, pooled
    try:
        config = Config(
            url=engine, migrations=project.migrations, schema=schemas[0], search_path=schemas
        )
        assert len(api.upgrade(config).done) == 3
        assert {"items", "raw_things"} <= tables(url, schemas[0])
        assert not {"items", "raw_things"} & tables(url, "public")
        with engine.connect() as conn:  # the pooled connection dbshift used
            assert conn.exec_driver_sql("SHOW search_path").scalar() == DEFAULT_PATH
    finally:
        engine.dispose()


def test_a_handed_over_async_engine_gets_the_tenant_path(
    tmp_path: Path, scratch: ScratchDatabases, capsys: Any
) -> None:
    pytest.importorskip("asyncpg")
    # lazy: the async extension is for this test alone
    from sqlalchemy.ext.asyncio import create_async_engine

    url, schemas = tenant_database(scratch, 1)
    project, _ = project_on(tmp_path / "proj", url, capsys, jobs=1)

    async def main() -> tuple[int, str]:
        engine = create_async_engine(sa.make_url(url).set(drivername="postgresql+asyncpg"))
        try:
            config = Config(
                url=engine, migrations=project.migrations, schema=schemas[0], search_path=schemas
            )
            done = len((await aio.upgrade(config)).done)
            async with engine.connect() as conn:
                path = (await conn.exec_driver_sql("SHOW search_path")).scalar()
            return done, str(path)
        finally:
            await engine.dispose()

    assert asyncio.run(main()) == (3, DEFAULT_PATH)
    assert {"items", "raw_things"} <= tables(url, schemas[0])
    assert not {"items", "raw_things"} & tables(url, "public")


def test_statements_naming_the_tenant_are_not_kept_for_the_next(
    tmp_path: Path, scratch: ScratchDatabases, capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    url, schemas = tenant_database(scratch, 2)
    project = Project(tmp_path / "proj", url, capsys)
    project.python(
        "marker",  # e.g. a per-tenant Job that sets the tenant in its environment
        "op.execute(f\"CREATE TABLE {os.environ['TENANT']}_marker (id INTEGER)\")",
        header="import os\n",
    )
    for schema in schemas:  # one after the other, sharing the statement cache
        monkeypatch.setenv("TENANT", schema)
        config = Config(url=url, migrations=project.migrations, schema=schema, search_path=schemas)
        api.upgrade(config.replace(search_path=(schema, "public")))
        assert f"{schema}_marker" in tables(url, schema)
    kept = list((project.migrations / "__pycache__").glob("dbshift-statements-*"))
    assert not kept or all(b"_marker" not in path.read_bytes() for path in kept)


def test_the_pooler_sees_no_session_state_from_a_plain_command(
    tmp_path: Path, scratch: ScratchDatabases, capsys: Any
) -> None:
    """A command without a search path sets none (the listener is only for tenants)."""
    url = scratch.create()
    project = Project(tmp_path / "proj", url, capsys)
    project.python("items", 'op.create_table("items", sa.Column("id", sa.Integer))')
    statements: list[str] = []
    engine = sa.create_engine(url, poolclass=sa.NullPool)
    sa.event.listen(engine, "before_cursor_execute", lambda *args: statements.append(str(args[2])))
    try:
        api.upgrade(Config(url=engine, migrations=project.migrations))
    finally:
        engine.dispose()
    assert not [s for s in statements if "search_path" in s.lower()]
