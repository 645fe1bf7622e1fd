"""Real databases for tests: every test that asks for `db_url` gets a database of its own.

Servers come from `DBSHIFT_TEST_POSTGRESQL_URL` and `DBSHIFT_TEST_MYSQL_URL` (defaults: the
local PostgreSQL and MariaDB). Without a server those tests skip with the reason; with
`DBSHIFT_REQUIRE_SERVERS=1` (CI) a missing server fails them instead. `--backends sqlite`
(any comma-separated subset) runs only those backends: the fast loop in README "Tests".
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import sqlalchemy as sa

from tests.helpers import Project

pytest_plugins = ["pytester"]

if TYPE_CHECKING:
    from tests.autogen_support import Loop

SERVER_URLS = {
    "postgresql": os.environ.get(
        "DBSHIFT_TEST_POSTGRESQL_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
    ),
    "mysql": os.environ.get("DBSHIFT_TEST_MYSQL_URL", "mysql+pymysql://root@127.0.0.1:3306/test"),
}
BACKENDS = ("sqlite", "postgresql", "mysql")
#: the async driver dbshift supports per backend (the `async` extra: asyncpg, aiosqlite,
#: asyncmy)
ASYNC_DRIVERS = {"sqlite": "aiosqlite", "postgresql": "asyncpg", "mysql": "asyncmy"}
REQUIRE_SERVERS = os.environ.get("DBSHIFT_REQUIRE_SERVERS") == "1"

_server_errors: dict[str, str | None] = {}


def _server_error(backend: str) -> str | None:
    """Why the server for `backend` cannot be used, or None when it can."""
    if backend not in _server_errors:
        try:
            engine = sa.create_engine(SERVER_URLS[backend], poolclass=sa.NullPool)
            with engine.connect() as conn:
                conn.execute(sa.text("SELECT 1"))
            _server_errors[backend] = None
        except Exception as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            _server_errors[backend] = f"{backend} server unavailable: {first}"
    return _server_errors[backend]


#: the backends this run covers (`--backends`, default all); set by pytest_configure
_selected_backends: tuple[str, ...] = BACKENDS


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--backends",
        default=",".join(BACKENDS),
        help=(
            "comma-separated backends to run on (default all: "
            f"{','.join(BACKENDS)}); tests for the others are deselected"
        ),
    )


def pytest_configure(config: pytest.Config) -> None:
    global _selected_backends
    chosen = tuple(name.strip() for name in config.getoption("backends").split(",") if name.strip())
    unknown = sorted(set(chosen) - set(BACKENDS))
    if unknown or not chosen:
        raise pytest.UsageError(
            f"--backends: unknown backend {', '.join(unknown) or '(none given)'}; "
            f"choose from {', '.join(BACKENDS)}"
        )
    _selected_backends = chosen


def require_backend(backend: str) -> None:
    if backend not in _selected_backends:
        pytest.skip(f"{backend} not selected (--backends {','.join(_selected_backends)})")
    if backend == "sqlite":
        return
    error = _server_error(backend)
    if error:
        if REQUIRE_SERVERS:
            pytest.fail(f"{error} (DBSHIFT_REQUIRE_SERVERS=1)")
        pytest.skip(error)


class ScratchDatabases:
    """Creates uniquely named databases on a server and drops them afterwards."""

    def __init__(self, backend: str, tmp_path: Path) -> None:
        self.backend = backend
        self.tmp_path = tmp_path
        self.created: list[str] = []

    def create(self) -> str:
        if self.backend == "sqlite":
            path = self.tmp_path / f"db_{uuid.uuid4().hex[:8]}.sqlite"
            return f"sqlite:///{path}"
        name = f"dbshift_t_{uuid.uuid4().hex[:12]}"
        admin = sa.create_engine(SERVER_URLS[self.backend], poolclass=sa.NullPool)
        with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(sa.text(f"CREATE DATABASE {name}"))
        admin.dispose()
        self.created.append(name)
        return (
            sa.make_url(SERVER_URLS[self.backend])
            .set(database=name)
            .render_as_string(hide_password=False)
        )

    def drop_all(self) -> None:
        if not self.created:
            return
        admin = sa.create_engine(SERVER_URLS[self.backend], poolclass=sa.NullPool)
        with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            for name in self.created:
                if self.backend == "postgresql":
                    conn.execute(sa.text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                else:
                    conn.execute(sa.text(f"DROP DATABASE IF EXISTS {name}"))
        admin.dispose()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """`@pytest.mark.backends(...)` tests run only on the backends they name, and a
    `--backends` run only on the backends it names."""
    keep: list[pytest.Item] = []
    drop: list[pytest.Item] = []
    for item in items:
        marker = item.get_closest_marker("backends")
        callspec = getattr(item, "callspec", None)
        name = callspec.params.get("backend") if callspec is not None else None
        relevant = marker is None or name is None or name in marker.args
        relevant = relevant and (name is None or name in _selected_backends)
        if callspec is not None and callspec.params.get("driver") == "async":
            relevant = relevant and name in ASYNC_DRIVERS
        (keep if relevant else drop).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """Parametrizes a test over SQLite, PostgreSQL and MariaDB/MySQL."""
    name: str = request.param
    require_backend(name)
    return name


@pytest.fixture(params=("sync", "async"))
def driver(request: pytest.FixtureRequest, backend: str) -> str:
    """Parametrizes a test over the backend's default driver and its async one (only
    backends with an async driver dbshift supports get the "async" run)."""
    name: str = request.param
    return name


def with_driver(url: str, driver: str) -> str:
    """`url` with the backend's async driver when `driver` is "async"."""
    if driver != "async":
        return url
    parsed = sa.make_url(url)
    async_driver = ASYNC_DRIVERS[parsed.get_backend_name()]
    return parsed.set(drivername=f"{parsed.get_backend_name()}+{async_driver}").render_as_string(
        hide_password=False
    )


@pytest.fixture
def scratch(backend: str, tmp_path: Path) -> Iterator[ScratchDatabases]:
    databases = ScratchDatabases(backend, tmp_path)
    yield databases
    databases.drop_all()


@pytest.fixture
def db_url(scratch: ScratchDatabases) -> str:
    """A URL to an empty database of its own on the current backend."""
    return scratch.create()


@pytest.fixture
def engine(db_url: str) -> Iterator[sa.Engine]:
    eng = sa.create_engine(db_url, poolclass=sa.NullPool)
    yield eng
    eng.dispose()


@pytest.fixture
def project(tmp_path: Path, db_url: str, capsys: pytest.CaptureFixture[str]) -> Project:
    """An empty project in `tmp_path/proj` on the current backend's database; files that
    need a project set up further define a `project` of their own."""
    return Project(tmp_path / "proj", db_url, capsys)


@pytest.fixture
def loop(db_url: str, tmp_path: Path, scratch: ScratchDatabases) -> Loop:
    """The autogenerate round trip (models -> make -> upgrade -> compare) on this backend."""
    # imported here: tests.autogen_support imports this module for ScratchDatabases
    from tests.autogen_support import Loop

    return Loop(db_url, tmp_path, scratch)
