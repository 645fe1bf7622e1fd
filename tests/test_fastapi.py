"""examples/fastapi: a FastAPI and SQLModel application that applies its migrations at
start-up (its lifespan, `dbshift.aio.upgrade` on the app's own async engine), driven
through an ASGI client in this process and as a real `uvicorn --workers 4`, on SQLite
(aiosqlite), PostgreSQL (asyncpg) and MariaDB (asyncmy)."""

from __future__ import annotations

import asyncio
import importlib.util
import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import StaticPool

import dbshift
from tests.conftest import with_driver
from tests.helpers import connected

EXAMPLE = Path(__file__).parent.parent / "examples" / "fastapi"
MIGRATIONS = sorted(p.stem for p in (EXAMPLE / "migrations").glob("*.py"))
WORKERS = 4

#: examples/fastapi/models.py, imported once per process: its tables are SQLModel's
#: global metadata's, which refuses a second definition of the same table
_models: list[ModuleType] = []


def _copy(tmp_path: Path) -> Path:
    """The example in a folder of its own (dbshift writes its caches beside the files)."""
    folder = tmp_path / "heroes"
    shutil.copytree(EXAMPLE, folder, ignore=shutil.ignore_patterns("__pycache__", "*.db"))
    return folder


def _load(path: Path, name: str, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, name, module)  # pydantic reads annotations there
    spec.loader.exec_module(module)
    return module


def _app(folder: Path, engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch) -> FastAPI:
    """The example application of `folder` (its migrations) on `engine`."""
    if not _models:
        _models.append(_load(EXAMPLE / "models.py", "models", monkeypatch))
    monkeypatch.setitem(sys.modules, "models", _models[0])
    module = _load(folder / "app.py", f"heroes_app_{uuid.uuid4().hex[:8]}", monkeypatch)
    app: FastAPI = module.create_app(engine)
    return app


def _history(url: str) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """(id, state) of every history row, and (migration id, count) of upgrade events."""

    def read(conn: sa.Connection) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
        rows = conn.execute(sa.text("SELECT id, state FROM dbshift_history ORDER BY id"))
        events = conn.execute(
            sa.text(
                "SELECT migration_id, COUNT(*) FROM dbshift_log WHERE event = 'upgrade' "
                "GROUP BY migration_id ORDER BY migration_id"
            )
        )
        return [tuple(r) for r in rows], [tuple(r) for r in events]

    return connected(url, read)


def _applied_once(url: str, migrations: list[str]) -> None:
    rows, events = _history(url)
    assert rows == [(m, "applied") for m in migrations], rows
    assert events == [(m, 1) for m in migrations], events


async def _exercise(client: httpx.AsyncClient, head: str = MIGRATIONS[-1]) -> None:
    health = (await client.get("/health")).json()
    assert health == {"schema": head, "pending": "0"}, health
    team = await client.post("/teams", json={"name": "Avengers", "headquarters": "NYC"})
    assert team.status_code == 201, team.text
    team_id = team.json()["id"]
    hero = await client.post(
        "/heroes",
        json={
            "name": "Thor",
            "secret_name": "Donald Blake",
            "power": "flight",
            "rating": "4.5",
            "team_id": team_id,
        },
    )
    assert hero.status_code == 201, hero.text
    made = hero.json()
    assert made["rating"] == "4.50" and made["power"] == "flight" and made["created_at"]
    assert (await client.get(f"/heroes/{made['id']}")).json() == made
    assert (await client.get("/heroes", params={"team_id": team_id})).json() == [made]
    assert (await client.get("/heroes/999")).status_code == 404
    missing = await client.post("/heroes", json={"name": "x", "secret_name": "y", "team_id": 999})
    assert missing.status_code == 404
    invalid = await client.post("/heroes", json={"name": "x", "secret_name": "y", "power": "no"})
    assert invalid.status_code == 422


def test_the_example_migrates_at_start_up_and_serves(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = with_driver(db_url, "async")
    app = _app(_copy(tmp_path), create_async_engine(url), monkeypatch)

    async def main() -> None:
        for _ in range(2):  # a second start finds nothing to apply
            async with (
                LifespanManager(app) as manager,
                httpx.AsyncClient(
                    transport=httpx.ASGITransport(app=manager.app), base_url="http://heroes"
                ) as client,
            ):
                if _ == 0:
                    await _exercise(client)
                else:
                    assert len((await client.get("/heroes")).json()) == 1

    asyncio.run(main())
    _applied_once(url, MIGRATIONS)


def test_an_in_memory_database_through_fastapis_test_client(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """docs/fastapi.md's test set-up: one in-memory SQLite database (StaticPool) handed
    to the app, migrated by the lifespan that `with TestClient(app)` runs."""
    engine = create_async_engine("sqlite+aiosqlite://", poolclass=StaticPool)
    app = _app(_copy(tmp_path), engine, monkeypatch)
    with TestClient(app) as client:
        assert client.get("/health").json() == {"schema": MIGRATIONS[-1], "pending": "0"}
        team = client.post("/teams", json={"name": "X-Men", "headquarters": "Westchester"})
        assert team.status_code == 201 and client.get("/heroes").json() == []
    not_started = _app(
        _copy(tmp_path / "again"),
        create_async_engine("sqlite+aiosqlite://", poolclass=StaticPool),
        monkeypatch,
    )
    with pytest.raises(sa.exc.OperationalError, match="no such table"):
        TestClient(not_started).get("/heroes")  # not entered: no lifespan, no tables


def test_a_failing_migration_stops_the_start_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The lifespan raises dbshift's error, so the server does not start (uvicorn logs
    it and exits); the failed migration left nothing behind (SQLite: one transaction)."""
    folder = _copy(tmp_path)
    config = dbshift.Config.load(folder / "dbshift.toml")
    broken = folder / "migrations" / "20991231T000000_broken.sql"
    broken.write_text(
        f"-- broken\n-- parents: {MIGRATIONS[-1]}\n-- dbshift:up\nSELECT * FROM nowhere;\n"
    )
    dbshift.rehash(config)
    url = f"sqlite+aiosqlite:///{tmp_path / 'heroes.db'}"
    app = _app(folder, create_async_engine(url), monkeypatch)

    async def main() -> None:
        async with LifespanManager(app):
            raise AssertionError("the application started")

    with pytest.raises(dbshift.DbshiftError, match="20991231T000000_broken"):
        asyncio.run(main())
    _applied_once(url, MIGRATIONS)


def test_the_examples_migrations_match_its_models(tmp_path: Path) -> None:
    """`dbshift make --check` on the example as shipped: SQLModel's types (AutoString,
    its DateTime, Enum, Numeric) compare equal to what the migration wrote, on every
    backend it is written for."""
    folder = _copy(tmp_path)
    done = subprocess.run(
        [sys.executable, "-m", "dbshift", "make", "--check"],
        cwd=folder,
        capture_output=True,
        text=True,
        env={**os.environ, "DATABASE_URL": f"sqlite:///{folder / 'x.db'}"},
    )
    assert done.returncode == 0, done.stderr + done.stdout
    assert "No changes" in done.stdout
    config = dbshift.Config.load(folder / "dbshift.toml")
    assert set(config.backends) == {"sqlite", "postgresql", "mysql", "mariadb"}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.mark.slow
def test_several_uvicorn_workers_start_at_once_on_an_empty_database(
    db_url: str, tmp_path: Path
) -> None:
    """`uvicorn --workers 4`: every worker runs the lifespan at the same time against a
    database with no tables at all; each comes up, each migration is applied once (its
    history row, one upgrade event), and the application serves. The models gain a
    column first, and `dbshift make` its migration, as README.md's steps do."""
    url = with_driver(db_url, "async")
    folder = _copy(tmp_path)
    models = folder / "models.py"
    field = "    secret_name: str\n"
    assert field in models.read_text()
    models.write_text(
        models.read_text().replace(
            field, field + "    nickname: str | None = Field(default=None, max_length=50)\n"
        )
    )
    made = subprocess.run(
        [sys.executable, "-m", "dbshift", "make", "-m", "nickname", "--no-input"],
        cwd=folder,
        capture_output=True,
        text=True,
    )
    assert made.returncode == 0 and '"nickname"' in made.stdout, made.stderr + made.stdout
    migrations = sorted(p.stem for p in (folder / "migrations").glob("*.py"))
    assert len(migrations) == len(MIGRATIONS) + 1
    port = _free_port()
    log = (tmp_path / "uvicorn.log").open("w+")
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "app:app",
            "--workers",
            str(WORKERS),
            "--port",
            str(port),
        ],
        cwd=folder,
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "DATABASE_URL": url, "PYTHONPATH": str(folder)},
    )
    try:
        text = ""
        deadline = time.monotonic() + 120  # a bound on a hang, not a measurement
        while text.count("Application startup complete.") < WORKERS:
            assert server.poll() is None, f"uvicorn exited {server.returncode}:\n{text}"
            assert time.monotonic() < deadline, f"not every worker came up:\n{text}"
            time.sleep(0.2)
            log.seek(0)
            text = log.read()
        assert "Traceback" not in text and "startup failed" not in text.lower(), text
        assert text.count("Started server process") == WORKERS, text

        async def serve() -> None:
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
                await _exercise(client, migrations[-1])
                answers = await asyncio.gather(*(client.get("/health") for _ in range(20)))
                assert {a.status_code for a in answers} == {200}

        asyncio.run(serve())
        _applied_once(url, migrations)
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()
