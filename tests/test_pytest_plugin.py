"""The pytest plugin (`dbshift_pytest`, docs/pytest.md), run for real: each test writes a
small project and runs pytest on it with `pytester` (in-process unless said), on
SQLite, PostgreSQL and MariaDB, the plugin loaded through its `pytest11` entry point."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.conftest import ASYNC_DRIVERS, SERVER_URLS, with_driver
from tests.helpers import Project

ITEMS = """op.create_table(
    "items",
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(50), nullable=False),
)"""
MODELS = """
import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase


class Base(DeclarativeBase):
    pass


class Item(Base):
    __tablename__ = "items"
    id = sa.Column(sa.Integer, primary_key=True)
    name = sa.Column(sa.String(50), nullable=False)
"""

NOTED = MODELS.replace("nullable=False)", "nullable=False)\n    note = sa.Column(sa.Text)")


def server_url(backend: str) -> str:
    return SERVER_URLS.get(backend, "sqlite://")


def project_in(pytester: pytest.Pytester, capsys: pytest.CaptureFixture[str]) -> Project:
    """A project in pytester's folder; its own URL is never used by the plugin."""
    return Project(pytester.path, "sqlite:///not-used.db", capsys)


def with_models(project: Project, models: str = MODELS) -> None:
    (project.root / "models.py").write_text(models)
    toml = project.root / "dbshift.toml"
    toml.write_text(toml.read_text() + 'models = ["models:Base"]\n')


def run(pytester: pytest.Pytester, backend: str, *args: str) -> pytest.RunResult:
    """pytest in this process on the project in pytester's folder; a top-level `models`
    another test imported (the examples') is set aside, so the project's own is found."""
    with pytest.MonkeyPatch.context() as patch:
        patch.delitem(sys.modules, "models", raising=False)
        return pytester.runpytest(
            "-p", "no:cacheprovider", "--dbshift-url", server_url(backend), *args
        )


def database_exists(backend: str, url: str) -> bool:
    parsed = sa.make_url(url)
    if backend == "sqlite":
        return Path(parsed.database or "").exists()
    engine = sa.create_engine(SERVER_URLS[backend], poolclass=sa.NullPool)
    query = {
        "postgresql": "SELECT 1 FROM pg_database WHERE datname = :name",
        "mysql": "SELECT 1 FROM information_schema.schemata WHERE schema_name = :name",
    }[backend]
    try:
        with engine.connect() as conn:
            return conn.execute(sa.text(query), {"name": parsed.database}).first() is not None
    finally:
        engine.dispose()


# -- opt-in and light ----------------------------------------------------------------------


def test_installed_it_imports_nothing_and_adds_nothing(tmp_path: Path) -> None:
    """A project that does not use it: a real pytest process loads the plugin (the entry
    point), which imports neither dbshift nor SQLAlchemy and adds no test."""
    (tmp_path / "test_plain.py").write_text(
        textwrap.dedent(
            """
            import sys

            def test_plain():
                assert "dbshift_pytest" in sys.modules
                loaded = [m for m in sys.modules if m.split(".")[0] in ("dbshift", "sqlalchemy")]
                assert loaded == []
            """
        )
    )
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-v", str(tmp_path)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={k: v for k, v in os.environ.items() if k != "PYTEST_ADDOPTS"},
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 passed" in done.stdout
    assert "dbshift-checks" not in done.stdout


def test_without_the_option_a_dbshift_project_gets_no_checks(
    pytester: pytest.Pytester, capsys: pytest.CaptureFixture[str]
) -> None:
    project = project_in(pytester, capsys)
    project.python("items", ITEMS, "op.drop_table('items')")
    pytester.makepyfile(test_mine="def test_mine():\n    pass\n")
    result = pytester.runpytest("-p", "no:cacheprovider", "--collect-only", "-q")
    result.assert_outcomes()
    assert "test_mine.py::test_mine" in result.stdout.str()
    assert "dbshift-checks" not in result.stdout.str()


def test_ini_selects_checks_and_refuses_unknown_ones(
    pytester: pytest.Pytester, capsys: pytest.CaptureFixture[str]
) -> None:
    project = project_in(pytester, capsys)
    project.python("items", ITEMS, "op.drop_table('items')")
    pytester.makeini("[pytest]\ndbshift_checks =\n    single_head\n    lint\n")
    result = pytester.runpytest("-p", "no:cacheprovider", "-v")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["*dbshift-checks::test_single_head PASSED*", "*test_lint PASSED*"])
    result = pytester.runpytest(
        "-p", "no:cacheprovider", "--dbshift-checks", "-k", "not lint and not up_down", "-q"
    )
    result.assert_outcomes(passed=3, skipped=1, deselected=2)  # no models: skipped
    pytester.makeini("[pytest]\ndbshift_checks = single_head, upgrades\n")
    result = pytester.runpytest("-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*dbshift_checks: unknown check upgrades; choose from all*"])


def test_checks_imported_into_a_test_module_run_there(
    pytester: pytest.Pytester, capsys: pytest.CaptureFixture[str]
) -> None:
    project = project_in(pytester, capsys)
    project.python("items", ITEMS, "op.drop_table('items')")
    pytester.makepyfile(
        test_migrations="from dbshift.testing.checks import test_single_head, test_up_down_consistency\n"
    )
    result = pytester.runpytest("-p", "no:cacheprovider", "-v")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["*test_migrations.py::test_single_head PASSED*"])
    assert "dbshift-checks" not in result.stdout.str()


# -- the checks ----------------------------------------------------------------------------


@pytest.mark.slow
def test_checks_pass_on_a_sound_project(
    pytester: pytest.Pytester, capsys: pytest.CaptureFixture[str], backend: str
) -> None:
    project = project_in(pytester, capsys)
    project.python("items", ITEMS, "op.drop_table('items')")
    project.python(
        "note",
        "op.add_column('items', sa.Column('note', sa.Text))",
        "op.drop_column('items', 'note')",
    )
    with_models(project, NOTED)
    result = run(pytester, backend, "--dbshift-checks", "-v")
    result.assert_outcomes(passed=6)
    for name in ("single_head", "upgrade", "models_match", "up_down_consistency"):
        result.stdout.fnmatch_lines([f"*dbshift-checks::test_{name} PASSED*"])


@pytest.mark.slow
def test_checks_name_the_migration_and_the_fault(
    pytester: pytest.Pytester, capsys: pytest.CaptureFixture[str]
) -> None:
    """Two heads, a downgrade that undoes nothing, models ahead of the migrations, a
    dropped column: each check that fails says which migration and what."""
    project = project_in(pytester, capsys)
    with_models(project, NOTED)
    first = project.python("items", ITEMS, "op.drop_table('items')")
    lazy = project.python(
        "tags",
        "op.create_table('tags', sa.Column('id', sa.Integer, primary_key=True))",
        "pass",
    )
    other = project.python(
        "drop_name",
        "op.drop_column('items', 'name')",
        "op.add_column('items', sa.Column('name', sa.String(50)))",
        parents=[first],
    )
    result = run(pytester, "sqlite", "--dbshift-checks")
    result.assert_outcomes(passed=1, failed=5)
    out = result.stdout.str()
    assert f"2 heads: {lazy}, {other}" in out or f"2 heads: {other}, {lazy}" in out
    assert "dbshift merge" in out
    assert f"{lazy}: after its downgrade, the schema differs" in out
    assert 'drop table "tags"' in out
    assert f"downgraded to base, the database still holds table tags (made by {lazy})" in out
    assert f"{other} (line " in out and "error DS102 drop column" in out
    assert "test_models_match" in out
    assert "Traceback" not in out


@pytest.mark.slow
def test_models_behind_the_migrations_are_named(
    pytester: pytest.Pytester, capsys: pytest.CaptureFixture[str]
) -> None:
    project = project_in(pytester, capsys)
    with_models(project, NOTED)
    project.python("items", ITEMS, "op.drop_table('items')")
    toml = project.root / "dbshift.toml"
    toml.write_text(toml.read_text() + 'backends = ["sqlite", "postgresql", "mariadb"]\n')
    pytester.makeini("[pytest]\ndbshift_checks = models_match\n")
    result = run(pytester, "sqlite")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*the models differ from what the migrations build (on sqlite, postgresql, mariadb):*",
            '*add column "items"."note"*',
            "*dbshift make*",
        ]
    )


@pytest.mark.slow
def test_models_against_raw_sql_migrations_compare_the_database_at_head(
    pytester: pytest.Pytester, capsys: pytest.CaptureFixture[str], backend: str
) -> None:
    """A raw SQL migration cannot be replayed: the models are compared with the test
    database the migrations built (before, the check failed on any SQL migration)."""
    project = project_in(pytester, capsys)
    with_models(project)
    project.sql("items", "CREATE TABLE items (id INTEGER PRIMARY KEY, name VARCHAR(50) NOT NULL);")
    pytester.makeini("[pytest]\ndbshift_checks = models_match\n")
    run(pytester, backend).assert_outcomes(passed=1)
    (project.root / "models.py").write_text(NOTED)
    result = run(pytester, backend)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            f"*the models differ from what the migrations build (on the {backend} test database at head):*",
            '*add column "items"."note"*',
        ]
    )


@pytest.mark.slow
def test_a_broken_migration_is_reported_by_name(
    pytester: pytest.Pytester, capsys: pytest.CaptureFixture[str], backend: str
) -> None:
    project = project_in(pytester, capsys)
    project.python("items", ITEMS, "op.drop_table('items')")
    broken = project.sql("broken", "INSERT INTO no_such_table VALUES (1);", "SELECT 1;")
    pytester.makeini("[pytest]\ndbshift_checks = upgrade\n")
    pytester.makepyfile(test_uses="def test_uses(dbshift_url):\n    pass\n")
    result = run(pytester, backend)
    result.assert_outcomes(failed=1, errors=1)
    out = result.stdout.str()
    assert broken in out and "no_such_table" in out
    assert "dbshift: no migrated database:" in out  # the fixture's failure, once per test
    assert "Traceback" not in out and "exception" not in out


# -- the fixtures --------------------------------------------------------------------------

ISOLATION = """
import sqlalchemy as sa
import pytest

from dbshift import api


@pytest.mark.parametrize("n", range(3))
def test_own_database(n, dbshift_engine, dbshift_url, dbshift_config, pytestconfig):
    with (pytestconfig.rootpath / "seen.txt").open("a") as seen:
        seen.write(dbshift_url + "\\n")
    with dbshift_engine.begin() as conn:
        assert conn.execute(sa.text("SELECT COUNT(*) FROM items")).scalar() == 1
        conn.execute(sa.text("INSERT INTO items (name) VALUES ('mine')"))
        assert conn.execute(sa.text("SELECT COUNT(*) FROM items")).scalar() == 2
    status = api.status(dbshift_config)
    assert status.pending == () and len(status.applied) == 2


def test_clones(dbshift_template):
    assert dbshift_template.cloned
"""


@pytest.mark.slow
def test_each_test_gets_its_own_migrated_database(
    pytester: pytest.Pytester, capsys: pytest.CaptureFixture[str], backend: str
) -> None:
    """A clone of the template per test: the schema, the template's rows (a seeded row
    and the history) and nothing another test wrote; every database dropped after."""
    project = project_in(pytester, capsys)
    project.python("items", ITEMS, "op.drop_table('items')")
    project.python(
        "seed",
        "op.execute(\"INSERT INTO items (name) VALUES ('seed')\")",
        "op.execute('DELETE FROM items')",
    )
    pytester.makepyfile(test_isolation=ISOLATION)
    result = run(pytester, backend)
    result.assert_outcomes(passed=4)
    seen = (pytester.path / "seen.txt").read_text().split()
    assert len(set(seen)) == 3
    assert not [url for url in seen if database_exists(backend, url)]


@pytest.mark.slow
@pytest.mark.backends("sqlite", "postgresql")
def test_async_engine(
    pytester: pytest.Pytester, capsys: pytest.CaptureFixture[str], backend: str
) -> None:
    """`dbshift_async_engine` on the backend's async driver, whether the plugin's URL
    names a synchronous driver or an async one."""
    project = project_in(pytester, capsys)
    project.python("items", ITEMS, "op.drop_table('items')")
    pytester.makepyfile(
        test_async="""
        import asyncio
        import sqlalchemy as sa


        def test_async(dbshift_async_engine):
            async def count():
                async with dbshift_async_engine.begin() as conn:
                    await conn.execute(sa.text("INSERT INTO items (name) VALUES ('a')"))
                    return (await conn.execute(sa.text("SELECT COUNT(*) FROM items"))).scalar()

            assert dbshift_async_engine.dialect.is_async
            assert asyncio.run(count()) == 1
        """
    )
    # imported out here: pytester's in-process runs forget the modules each imported,
    # and asyncpg's extension modules crash when imported a second time
    importlib.import_module("sqlalchemy.ext.asyncio")
    importlib.import_module(ASYNC_DRIVERS[backend])
    sync = server_url(backend)
    for url in (sync, "sqlite+aiosqlite://" if backend == "sqlite" else with_driver(sync, "async")):
        result = pytester.runpytest("-p", "no:cacheprovider", "--dbshift-url", url)
        result.assert_outcomes(passed=1)


MIGRATOR = """
def test_fills_the_new_column(dbshift_migrator):
    dbshift_migrator.migrate_to("{first}")
    dbshift_migrator.insert("people", {{"name": "Ada Lovelace"}}, {{"name": "Alan Turing"}})
    assert dbshift_migrator.migrate_to("{second}") == ("{second}",)
    rows = dbshift_migrator.rows("SELECT first_name FROM people ORDER BY id")
    assert [r.first_name for r in rows] == ["Ada", "Alan"]
    assert dbshift_migrator.applied == ("{first}", "{second}")
    assert dbshift_migrator.migrate_down() == ("{second}",)
    assert dbshift_migrator.rows("SELECT COUNT(*) AS n FROM people")[0].n == 2
    dbshift_migrator.migrate_to("head")
    dbshift_migrator.migrate_to("{first}")
    assert dbshift_migrator.applied == ("{first}",)
    dbshift_migrator.migrate_to("base")
    assert dbshift_migrator.applied == ()
"""


@pytest.mark.slow
def test_migrator_walks_a_data_migration(
    pytester: pytest.Pytester, capsys: pytest.CaptureFixture[str], backend: str
) -> None:
    project = project_in(pytester, capsys)
    first = project.python(
        "people",
        "op.create_table('people', sa.Column('id', sa.Integer, primary_key=True), sa.Column('name', sa.String(100)))",
        "op.drop_table('people')",
    )
    second = project.python(
        "first_name",
        "op.add_column('people', sa.Column('first_name', sa.String(100)))\n"
        "op.execute(\"UPDATE people SET first_name = SUBSTR(name, 1, INSTR(name, ' ') - 1)\")"
        if backend != "postgresql"
        else "op.add_column('people', sa.Column('first_name', sa.String(100)))\n"
        "op.execute(\"UPDATE people SET first_name = split_part(name, ' ', 1)\")",
        "op.drop_column('people', 'first_name')",
    )
    pytester.makepyfile(test_data=MIGRATOR.format(first=first, second=second))
    result = run(pytester, backend)
    result.assert_outcomes(passed=1)


def test_a_bad_server_url_or_configuration_fails_in_one_line(
    pytester: pytest.Pytester, capsys: pytest.CaptureFixture[str]
) -> None:
    project = project_in(pytester, capsys)
    project.python("items", ITEMS, "op.drop_table('items')")
    pytester.makepyfile(test_uses="def test_uses(dbshift_url):\n    pass\n")
    result = pytester.runpytest(
        "-p", "no:cacheprovider", "--dbshift-url", "nosuchdb://u:hunter22@host/x"
    )
    result.assert_outcomes(errors=1)
    out = result.stdout.str()
    assert "dbshift: --dbshift-url nosuchdb://u:***@host/x:" in out
    assert "hunter22" not in out and "Traceback" not in out
    # a server that does not answer: the driver's error as one masked line too
    result = pytester.runpytest(
        "-p", "no:cacheprovider", "--dbshift-url",
        "postgresql+psycopg://u:hunter22@127.0.0.1:9/x?connect_timeout=2",
    )  # fmt: skip
    result.assert_outcomes(errors=1)
    out = result.stdout.str()
    assert "dbshift: " in out and "u:***@127.0.0.1:9" in out
    assert "hunter22" not in out and "Traceback" not in out and "OperationalError" not in out
    (project.root / "dbshift.toml").write_text('url = "${DBSHIFT_PLUGIN_UNSET_VARIABLE}"\n')
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        [
            "*dbshift: the project's configuration: environment variable DBSHIFT_PLUGIN_UNSET_VARIABLE is not set*"
        ]
    )


@pytest.mark.slow
@pytest.mark.backends("mysql")
def test_mariadb_with_a_view_migrates_each_database(
    pytester: pytest.Pytester, capsys: pytest.CaptureFixture[str], backend: str
) -> None:
    """A template the backend cannot copy: each test's database is migrated from empty,
    and is just as much its own."""
    project = project_in(pytester, capsys)
    project.python("items", ITEMS, "op.drop_table('items')")
    project.sql("names", "CREATE VIEW names AS SELECT name FROM items;", "DROP VIEW names;")
    pytester.makepyfile(
        test_view="""
        import sqlalchemy as sa
        import pytest


        @pytest.mark.parametrize("n", range(2))
        def test_view(n, dbshift_engine, dbshift_template):
            assert not dbshift_template.cloned
            with dbshift_engine.begin() as conn:
                conn.execute(sa.text("INSERT INTO items (name) VALUES ('a')"))
                assert conn.execute(sa.text("SELECT COUNT(*) FROM names")).scalar() == 1
        """
    )
    result = run(pytester, backend)
    result.assert_outcomes(passed=2)


@pytest.mark.slow
def test_under_xdist_each_worker_has_its_own_databases(
    pytester: pytest.Pytester, capsys: pytest.CaptureFixture[str]
) -> None:
    project = project_in(pytester, capsys)
    project.python("items", ITEMS, "op.drop_table('items')")
    project.python(
        "seed",
        "op.execute(\"INSERT INTO items (name) VALUES ('seed')\")",
        "op.execute('DELETE FROM items')",
    )
    pytester.makepyfile(test_isolation=ISOLATION)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-n", "2")
    result.assert_outcomes(passed=4)


@pytest.mark.slow
@pytest.mark.backends("mysql")
def test_no_async_driver_is_one_line(
    pytester: pytest.Pytester, capsys: pytest.CaptureFixture[str], backend: str
) -> None:
    project = project_in(pytester, capsys)
    project.python("items", ITEMS, "op.drop_table('items')")
    pytester.makepyfile(test_async="def test_async(dbshift_async_engine):\n    pass\n")
    result = run(pytester, backend)
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*dbshift: dbshift_async_engine: no async driver for mysql*"])
    assert "Traceback" not in result.stdout.str()


@pytest.mark.slow
@pytest.mark.backends("postgresql")
def test_the_server_comes_from_the_option_the_ini_or_the_environment(
    pytester: pytest.Pytester,
    capsys: pytest.CaptureFixture[str],
    backend: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    project = project_in(pytester, capsys)
    project.python("items", ITEMS, "op.drop_table('items')")
    pytester.makepyfile(
        test_where="""
        import os

        def test_where(dbshift_url):
            assert dbshift_url.split(":")[0] == os.environ["EXPECTED_SCHEME"]
        """
    )
    url = SERVER_URLS[backend]
    monkeypatch.setenv("EXPECTED_SCHEME", "sqlite")
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=1)
    monkeypatch.setenv("EXPECTED_SCHEME", sa.make_url(url).drivername)
    monkeypatch.setenv("DBSHIFT_TEST_URL", url)
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=1)
    monkeypatch.delenv("DBSHIFT_TEST_URL")
    pytester.makeini(f"[pytest]\ndbshift_url = {url}\n")
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=1)
    monkeypatch.setenv("EXPECTED_SCHEME", "sqlite")  # the option wins over the ini
    pytester.runpytest("-p", "no:cacheprovider", "--dbshift-url", "sqlite://").assert_outcomes(
        passed=1
    )


def test_the_lint_threshold_is_checked_in_the_ini_too(
    pytester: pytest.Pytester, capsys: pytest.CaptureFixture[str]
) -> None:
    """A misspelled `dbshift_lint_fail_on` is one usage error, not a ValueError from
    inside the lint check; the plugin's list of severities is the linter's."""
    import dbshift_pytest
    from dbshift.linter.model import SEVERITIES

    assert dbshift_pytest._SEVERITIES == SEVERITIES
    project = project_in(pytester, capsys)
    project.python("items", ITEMS, "op.drop_table('items')")
    pytester.makeini("[pytest]\ndbshift_checks = lint\ndbshift_lint_fail_on = warn\n")
    result = run(pytester, "sqlite")
    assert result.ret != pytest.ExitCode.OK
    assert "not one of info, warning, error" in result.stdout.str() + result.stderr.str()
    assert "ValueError" not in result.stdout.str()
