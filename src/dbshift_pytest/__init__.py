"""The dbshift pytest plugin (entry point `pytest11`; docs/pytest.md).

Opt-in and light: importing it imports nothing but pytest, and it does nothing until
a test asks for one of its `dbshift_*` fixtures or the checks are turned on
(`--dbshift-checks`, the `dbshift_checks` ini option). It lives outside the `dbshift`
package because importing that package brings SQLAlchemy; what runs is in
`dbshift.testing`, imported by the fixtures that need it.

Fixtures: `dbshift_url`, `dbshift_config`, `dbshift_engine` and `dbshift_async_engine`
give each test a database of its own migrated to head (a clone of one migrated once
per session), dropped after it; `dbshift_migrator` a database to walk migration by
migration; `dbshift_databases` empty ones; `dbshift_project` the project's
configuration (its own `url` unused: the plugin's databases are on `--dbshift-url`).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import pytest

if TYPE_CHECKING:
    import sqlalchemy as sa
    from sqlalchemy.ext.asyncio import AsyncEngine

    from dbshift.config import Config
    from dbshift.testing.databases import Databases, Server, Template
    from dbshift.testing.migrator import Migrator

#: the built-in checks, by the names `dbshift_checks` takes (each `test_<name>` in
#: `dbshift.testing.checks`)
CHECKS = (
    "single_head",
    "upgrade",
    "models_match",
    "up_down_consistency",
    "downgrade_to_base",
    "lint",
)
#: the environment variable the server URL may come from
#: dbshift.linter.model.SEVERITIES, written out: the plugin imports nothing of dbshift
#: until asked (tests/test_pytest_plugin.py holds the two equal)
_SEVERITIES = ("info", "warning", "error")
URL_VARIABLE = "DBSHIFT_TEST_URL"
_DEFAULT_URL = "sqlite://"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("dbshift", "dbshift migrations (docs/pytest.md)")
    group.addoption(
        "--dbshift-url",
        default=None,
        help=(
            "server the dbshift fixtures make their databases on (its own database is "
            f"never migrated); default: ini dbshift_url, ${URL_VARIABLE}, else SQLite files"
        ),
    )
    group.addoption(
        "--dbshift-config",
        default=None,
        help="the project's dbshift.toml or pyproject.toml (default: found from the rootdir)",
    )
    group.addoption(
        "--dbshift-checks",
        action="store_true",
        default=False,
        help=f"run dbshift's built-in checks ({', '.join(CHECKS)})",
    )
    group.addoption(
        "--dbshift-lint-fail-on",
        default=None,
        choices=_SEVERITIES,
        help="the lint check fails at this severity (default: [lint] fail_on, else error)",
    )
    parser.addini("dbshift_url", "default of --dbshift-url", default=None)
    parser.addini("dbshift_config", "default of --dbshift-config", default=None)
    parser.addini(
        "dbshift_checks",
        f"built-in checks to run: 'all' or some of {', '.join(CHECKS)}",
        type="linelist",
        default=[],
    )
    parser.addini("dbshift_lint_fail_on", "default of --dbshift-lint-fail-on", default=None)


def selected_checks(config: pytest.Config) -> tuple[str, ...]:
    """The checks this run collects: all with `--dbshift-checks`, else the ini list."""
    if config.getoption("dbshift_checks"):
        return CHECKS
    names = [name for line in config.getini("dbshift_checks") for name in line.split(",")]
    names = [name.strip() for name in names if name.strip()]
    if "all" in names:
        return CHECKS
    unknown = sorted(set(names) - set(CHECKS))
    if unknown:
        raise pytest.UsageError(
            f"dbshift_checks: unknown check {', '.join(unknown)}; choose from all, "
            + ", ".join(CHECKS)
        )
    return tuple(name for name in CHECKS if name in names)


class DbshiftChecks(pytest.Collector):
    """The built-in checks as test items (`dbshift-checks::test_<name>`)."""

    def __init__(self, *args: object, checks: tuple[str, ...] = (), **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.checks = checks

    def collect(self) -> list[pytest.Item]:
        # lazy: the plugin imports nothing of dbshift until the checks are asked for
        from dbshift.testing import checks

        return [
            pytest.Function.from_parent(
                self, name=f"test_{name}", callobj=getattr(checks, f"test_{name}")
            )
            for name in self.checks
        ]


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
) -> None:
    """Add the selected checks, before `-k` and `-m` select among the items."""
    chosen = selected_checks(config)
    if not chosen:
        return
    collector = DbshiftChecks.from_parent(
        session, name="dbshift-checks", nodeid="dbshift-checks", checks=chosen
    )
    items.extend(collector.collect())


# -- fixtures ------------------------------------------------------------------------------


def _fail_setup(what: str, message: str, hint: str | None) -> NoReturn:
    """Fail the test asking for a fixture with one message (no traceback into dbshift)."""
    shown = f"\n  hint: {hint}" if hint else ""
    pytest.fail(f"dbshift: {what}: {message}{shown}", pytrace=False)


def _setting(config: pytest.Config, option: str) -> str | None:
    given = config.getoption(option)
    if given:
        return str(given)
    value = config.getini(option)
    return str(value) if value else None


@pytest.fixture(scope="session")
def dbshift_project(pytestconfig: pytest.Config) -> Config:
    """The project's configuration (`--dbshift-config`, else the dbshift.toml or
    pyproject.toml found from the rootdir); its `url` is not used by the fixtures."""
    # lazy: the plugin imports nothing of dbshift until a fixture is asked for
    from dbshift.config import Config
    from dbshift.errors import DbshiftError

    path = _setting(pytestconfig, "dbshift_config")
    if path is not None and not Path(path).is_absolute():
        path = str(pytestconfig.rootpath / path)
    try:
        return Config.load(path, cwd=pytestconfig.rootpath)
    except DbshiftError as error:
        failed = error
    _fail_setup("the project's configuration", failed.message, failed.hint)


@pytest.fixture(scope="session")
def dbshift_server(pytestconfig: pytest.Config) -> Iterator[Server]:
    """Where the databases are made: `--dbshift-url`, ini `dbshift_url`,
    `$DBSHIFT_TEST_URL`, else SQLite files in a temporary folder."""
    # lazy: the plugin imports nothing of dbshift until a fixture is asked for
    from dbshift.config import mask_url
    from dbshift.errors import DbshiftError
    from dbshift.testing.databases import Server

    url = _setting(pytestconfig, "dbshift_url") or os.environ.get(URL_VARIABLE) or _DEFAULT_URL
    with tempfile.TemporaryDirectory(prefix="dbshift-") as folder:
        try:
            server = Server(url, Path(folder))
        except DbshiftError as error:
            failed = error
        else:
            yield server
            return
    _fail_setup(f"--dbshift-url {mask_url(url)}", failed.message, failed.hint)


@pytest.fixture(scope="session")
def dbshift_template(dbshift_server: Server, dbshift_project: Config) -> Iterator[Template]:
    """The project's migrations applied once per session (on first use), on the
    database every `dbshift_url` copies; dropped at the end of the session."""
    # lazy: the plugin imports nothing of dbshift until a fixture is asked for
    from dbshift.testing.databases import Template

    template = Template(dbshift_server, dbshift_project)
    yield template
    template.close()


@pytest.fixture(scope="session")
def dbshift_lint_fail_on(pytestconfig: pytest.Config) -> str | None:
    """The severity the lint check fails at, when given to the plugin (the ini value is
    checked here: the option's own `choices` check only the command line)."""
    value = _setting(pytestconfig, "dbshift_lint_fail_on")
    if value is not None and value not in _SEVERITIES:
        raise pytest.UsageError(
            f"dbshift_lint_fail_on = {value!r}: not one of {', '.join(_SEVERITIES)}"
        )
    return value


@pytest.fixture
def dbshift_databases(dbshift_server: Server) -> Iterator[Databases]:
    """Databases for this test alone (`empty()`), dropped when it ends."""
    # lazy: the plugin imports nothing of dbshift until a fixture is asked for
    from dbshift.testing.databases import Databases

    databases = Databases(dbshift_server)
    yield databases
    databases.close()


@pytest.fixture
def dbshift_url(dbshift_template: Template, dbshift_databases: Databases) -> str:
    """The URL of a database of this test's own at head (with its password: give it to
    an engine, never print it); dropped when the test ends."""
    # lazy: the plugin imports nothing of dbshift until a fixture is asked for
    from dbshift.errors import DbshiftError

    try:
        return dbshift_databases.keep(dbshift_template.fresh())
    except DbshiftError as error:
        failed = error
    redact = dbshift_template.redact
    _fail_setup("no migrated database", redact(failed.message), redact(failed.hint or ""))


@pytest.fixture
def dbshift_config(dbshift_project: Config, dbshift_url: str) -> Config:
    """The project's configuration on this test's database (`dbshift_url`)."""
    return dbshift_project.replace(url=dbshift_url)


@pytest.fixture
def dbshift_engine(dbshift_url: str) -> Iterator[sa.Engine]:
    """A synchronous engine on this test's database, without a pool."""
    # lazy: the plugin imports nothing of dbshift until a fixture is asked for
    from dbshift.testing.databases import engine_for

    with engine_for(dbshift_url) as engine:
        yield engine


@pytest.fixture
def dbshift_async_engine(dbshift_url: str) -> Iterator[AsyncEngine]:
    """An async engine on this test's database (the backend's async driver where the
    URL's is synchronous), without a pool. The fixture itself is synchronous, so it
    serves tests run by any async plugin (pytest-asyncio, anyio) or `asyncio.run`:
    without a pool, nothing of the engine outlives the connections the test closes."""
    # lazy: the plugin imports nothing of dbshift until a fixture is asked for
    import sqlalchemy as sa
    from sqlalchemy.ext.asyncio import create_async_engine

    from dbshift.errors import DbshiftError
    from dbshift.testing.databases import async_url

    try:
        url = async_url(sa.make_url(dbshift_url))
    except DbshiftError as error:
        failed = error
    else:
        engine = create_async_engine(url, poolclass=sa.NullPool)
        yield engine
        engine.sync_engine.dispose()
        return
    _fail_setup("dbshift_async_engine", failed.message, failed.hint)


@pytest.fixture
def dbshift_migrator(dbshift_project: Config, dbshift_databases: Databases) -> Iterator[Migrator]:
    """A `Migrator` on an empty database of this test's own: `migrate_to(id)`, insert
    rows, `migrate_to(next)`, assert; `migrate_down()`."""
    # lazy: the plugin imports nothing of dbshift until a fixture is asked for
    from dbshift.testing.migrator import Migrator

    migrator = Migrator(dbshift_project.replace(url=dbshift_databases.empty()))
    yield migrator
    migrator.close()
