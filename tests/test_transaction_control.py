"""COMMIT / ROLLBACK / BEGIN in a transactional migration: refused before anything runs,
reported by `dbshift lint`, and run as written in a `transactional = False` migration.
Which statements end a transaction is checked against the databases themselves."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from dbshift.config import Config
from dbshift.database import create_engine
from dbshift.migrations.sqlsplit import split_sql
from dbshift.migrations.txcontrol import is_transaction_control
from tests.helpers import Project

TABLE = 'op.create_table("t", sa.Column("id", sa.Integer, primary_key=True))'

#: statements, per backend that runs migrations in a transaction, and whether the
#: database ends the transaction on them (the oracle below runs each one)
ENDS = {
    "COMMIT": True,
    "END": True,
    "END TRANSACTION": True,
    "ROLLBACK": True,
    "ROLLBACK TRANSACTION": True,
    "SAVEPOINT s": False,
    "RELEASE SAVEPOINT s": False,
    "ROLLBACK TO SAVEPOINT s": False,
    "ROLLBACK TRANSACTION TO SAVEPOINT s": False,
    "SELECT 'COMMIT'": False,
    "/* COMMIT */ SELECT 1": False,
}
PG_ONLY = {
    "ABORT": True,
    "commit work": True,
    "COMMIT AND CHAIN": True,
    "ROLLBACK WORK TO s": False,
}


@pytest.fixture
def project(tmp_path: Path, db_url: str, capsys: pytest.CaptureFixture[str]) -> Project:
    project = Project(tmp_path / "proj", db_url, capsys)
    project.python("base", TABLE)
    project.ok("upgrade")
    return project


def _keywords(statement: str, dialect: str) -> tuple[str, ...]:
    (only,) = split_sql(statement, dialect)
    return only.keywords


@pytest.mark.backends("sqlite", "postgresql")
def test_the_statements_refused_are_those_that_end_the_transaction(db_url: str) -> None:
    """Oracle: in dbshift's own transaction, create a table, run the statement, roll
    back. The table survives (or the transaction is gone) exactly when the statement
    is one dbshift refuses."""
    engine = create_engine(Config(url=db_url))
    dialect = engine.dialect.name
    cases = dict(ENDS, **(PG_ONLY if dialect == "postgresql" else {}))
    try:
        for number, (statement, ends) in enumerate(cases.items()):
            table = f"probe_{number}"
            with engine.connect() as conn:
                conn.begin()
                conn.exec_driver_sql(f"CREATE TABLE {table} (id INTEGER)")
                if {"TO", "RELEASE"} & set(statement.split()):
                    conn.exec_driver_sql("SAVEPOINT s")
                conn.exec_driver_sql(statement)
                rolled_back = not sa.inspect(conn).has_table(table)
                conn.rollback()
                committed = sa.inspect(conn).has_table(table)
                conn.rollback()
            assert (rolled_back or committed) == ends, statement
            assert is_transaction_control(_keywords(statement, dialect)) == ends, statement
    finally:
        engine.dispose()


@pytest.mark.parametrize(
    ("statement", "dialect", "refused"),
    [
        ("BEGIN", "postgresql", True),
        ("BEGIN TRANSACTION ISOLATION LEVEL SERIALIZABLE", "postgresql", True),
        ("BEGIN IMMEDIATE", "sqlite", True),
        ("START TRANSACTION", "mysql", True),
        ("PREPARE TRANSACTION 'x'", "postgresql", True),
        ("PREPARE q AS SELECT 1", "postgresql", False),
        ("BEGIN NOT ATOMIC SELECT 1; END", "mariadb", False),
        (
            "CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; END",
            "postgresql",
            False,
        ),
        ("DO $$ BEGIN COMMIT; END $$", "postgresql", False),
        ("-- COMMIT\nSELECT 1", "sqlite", False),
        ("CREATE TRIGGER g AFTER INSERT ON t BEGIN SELECT 1; END", "sqlite", False),
    ],
)
def test_words_decide_not_their_place(statement: str, dialect: str, refused: bool) -> None:
    """Only a statement's own first words count: not a body, a string or a comment."""
    assert is_transaction_control(_keywords(statement, dialect)) == refused


def test_sql_migration_is_refused_before_anything_runs(project: Project) -> None:
    project.sql("half", "CREATE TABLE half_a (id INTEGER);\nCOMMIT;\nCREATE TABLE half_b (x);")
    before = project.fingerprint()
    result = project.fails(3, "upgrade")
    assert "_half.sql:6: `COMMIT` ends or starts a transaction" in result.err
    assert "transactional = False" in result.err
    assert project.fingerprint() == before


def test_python_migration_with_several_statements_is_refused(project: Project) -> None:
    project.python("raw", 'op.execute(sa.text("CREATE TABLE raw_a (id INTEGER); END"))')
    before = project.fingerprint()
    result = project.fails(3, "upgrade")
    assert "_raw.py: `END` ends or starts a transaction" in result.err
    assert project.fingerprint() == before


@pytest.mark.backends("sqlite", "postgresql")  # MySQL refuses --single-transaction itself
def test_single_transaction_run_refuses_it_too(project: Project) -> None:
    project.sql("ok", "CREATE TABLE fine (id INTEGER);")
    project.sql("half", "CREATE TABLE half_a (id INTEGER);\nROLLBACK;")
    before = project.fingerprint()
    result = project.fails(3, "upgrade", "--single-transaction")
    assert "`ROLLBACK` ends or starts a transaction" in result.err
    assert project.fingerprint() == before


def test_a_non_transactional_migration_is_refused_too(project: Project) -> None:
    """There each statement runs in a transaction of its own with its history record:
    the COMMIT would commit before the record, so it is refused the same way
    (tests/test_lint_transaction_control.py covers BEGIN and ROLLBACK)."""
    migration = project.sql(
        "own", "CREATE TABLE own_a (id INTEGER);\nCOMMIT;", header="-- transactional: false"
    )
    line = project.fails(3, "upgrade").err.strip()
    assert line.startswith(f"error: {migration}.sql:") and "nothing was run" in line, line
    assert "own_a" not in project.tables()


def test_lint_reports_it(project: Project) -> None:
    project.sql("half", "CREATE TABLE half_a (id BIGINT);\nCOMMIT;")
    project.python("py", 'op.execute("ROLLBACK")\nop.execute(sa.text("SELECT 1; END"))')
    project.python("fine", 'op.execute("SAVEPOINT s")', header="transactional = False")
    result = project.fails(1, "lint")
    out = result.out + result.err
    assert out.count("DS611") == 3, out
    assert "`END`" in out and "`ROLLBACK`" in out and "`COMMIT`" in out, out
