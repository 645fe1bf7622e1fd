"""Migrations that stop part-way outside a transaction resume where they stopped.

MariaDB commits every DDL statement implicitly, so each migration runs statement by
statement there and the history records each statement as it completes; a migration
marked `transactional = False` runs the same way on PostgreSQL and SQLite.
"""

from __future__ import annotations

import pytest

from tests.helpers import BACKEND_LOOKUP, Project, run_process

FOUR = (
    "CREATE TABLE r1 (id INTEGER PRIMARY KEY);\n"
    "CREATE TABLE r2 (id INTEGER PRIMARY KEY);\n"
    "CREATE TABLE r3 (id INTEGER PRIMARY KEY, oops INTEGR);\n"
    "CREATE TABLE r4 (id INTEGER PRIMARY KEY);\n"
)
NON_TRANSACTIONAL = "-- transactional: false"


def _edit(project: Project, migration_id: str, old: str, new: str) -> None:
    """Fix a migration that has not been applied in place (the last one)."""
    path = next(project.migrations.glob(f"{migration_id}.*"))
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


def _broken_sql(project: Project, backend: str) -> str:
    """A 4-statement SQL migration whose third statement is wrong on every backend:
    SQLite accepts any type name, so there the third one names a missing table."""
    up = FOUR if backend != "sqlite" else FOUR.replace("oops INTEGR", "oops INTEGER REFERENCES")
    header = NON_TRANSACTIONAL if backend != "mysql" else ""
    return project.sql("four", up, header=header)


def _fix_third(project: Project, migration_id: str, backend: str) -> None:
    wrong = "oops INTEGR" if backend != "sqlite" else "oops INTEGER REFERENCES"
    _edit(project, migration_id, wrong, "oops INTEGER")


def _progress(project: Project, migration_id: str) -> tuple[str, str]:
    ((state, progress),) = project.query(
        f"SELECT state, progress FROM dbshift_history WHERE id = '{migration_id}'"
    )
    return state, progress


@pytest.mark.backends("mysql", "postgresql", "sqlite")
def test_failed_statement_is_fixed_and_the_run_resumes_there(
    project: Project, backend: str
) -> None:
    first = project.sql("first", "CREATE TABLE r0 (id INTEGER PRIMARY KEY);")
    four = _broken_sql(project, backend)

    failed = project.fails(3, "upgrade")
    assert f"{four}.sql:" in failed.err and "CREATE TABLE r3" in failed.err
    assert "resume" in failed.err
    assert {"r0", "r1", "r2"} <= project.tables() and not {"r3", "r4"} & project.tables()
    assert project.applied() == [first]

    status = project.fails(1, "status", "--check", "--json").json
    (partial,) = status["partial"]
    assert partial["id"] == four and partial["state"] == "partial"
    assert partial["statements_done"] == 2 and partial["statements_total"] == 4
    assert [d["statement"] for d in partial["done"]] == [
        "CREATE TABLE r1 (id INTEGER PRIMARY KEY);"[:-1],
        "CREATE TABLE r2 (id INTEGER PRIMARY KEY);"[:-1],
    ]
    assert partial["failed"]["statement"].startswith("CREATE TABLE r3")
    assert partial["interrupted"] is False
    assert partial["remaining"][-1] == "CREATE TABLE r4 (id INTEGER PRIMARY KEY)"
    text = project.ok("status").out
    assert f"PARTIAL: {four}: 2 of 4 statement(s) ran" in text
    assert "statement 3 of 4 failed" in text
    assert "done      1  CREATE TABLE r1" in text and "failed    3  CREATE TABLE r3" in text
    assert "to run    4  CREATE TABLE r4" in text

    # The same file again: it fails at the same statement, after running nothing.
    assert "CREATE TABLE r3" in project.fails(3, "upgrade").err
    assert _progress(project, four)[1].count("\n") == 2

    _fix_third(project, four, backend)
    done = project.ok("upgrade", "--json").json
    # Statement 1 (CREATE TABLE r1) would fail if it ran again: only 3 and 4 ran.
    assert done["results"] == [
        {
            "id": four,
            "direction": "up",
            "status": "applied",
            "duration_ms": done["results"][0]["duration_ms"],
            "statements": 2,
        }
    ]
    assert {"r0", "r1", "r2", "r3", "r4"} <= project.tables()
    assert project.applied() == [first, four]
    assert _progress(project, four) == ("applied", None)
    assert project.ok("status", "--json").json["partial"] == []
    events = project.query(
        f"SELECT event, detail FROM dbshift_log WHERE migration_id = '{four}' ORDER BY seq"
    )
    assert events == [
        ("failed", "statement 3 failed; 2 statement(s) completed"),
        ("failed", "statement 3 failed; 2 statement(s) completed"),
        ("upgrade", "resumed after statement 2"),
    ]


@pytest.mark.backends("mysql", "postgresql")
def test_edited_statement_that_already_ran_is_refused(project: Project, backend: str) -> None:
    four = _broken_sql(project, backend)
    project.fails(3, "upgrade")
    _fix_third(project, four, backend)
    _edit(project, four, "CREATE TABLE r1 (id INTEGER PRIMARY KEY)", "CREATE TABLE r1 (id INT)")
    before = project.fingerprint()

    refused = project.fails(4, "upgrade")
    assert "statement 1 differs from the one that ran" in refused.err
    assert "CREATE TABLE r1 (id INT)" in refused.err and "repair" in refused.err
    assert project.fingerprint() == before

    # Restoring the statement that ran makes it resumable again.
    _edit(project, four, "CREATE TABLE r1 (id INT)", "CREATE TABLE r1 (id INTEGER PRIMARY KEY)")
    project.ok("upgrade")
    assert {"r1", "r2", "r3", "r4"} <= project.tables()


@pytest.mark.backends("mysql")
def test_fewer_statements_than_ran_is_refused(project: Project) -> None:
    four = project.sql("four", FOUR)
    project.fails(3, "upgrade")
    _edit(project, four, FOUR, "CREATE TABLE r1 (id INTEGER PRIMARY KEY);\n")
    before = project.fingerprint()
    refused = project.fails(4, "upgrade")
    assert "now has 1 statement(s), fewer than the 2 that ran" in refused.err
    assert project.fingerprint() == before


PYTHON_UP = """
op.create_table("p1", sa.Column("id", sa.Integer, primary_key=True))
op.bulk_insert(sa.table("p1", sa.column("id")), [{"id": 1}, {"id": 2}])
op.execute("UPDATE p1 SET id = id + 10")
op.execute("INSERT INTO nowhere VALUES (1)")
op.add_column("p1", sa.Column("note", sa.String(20)))
"""


@pytest.mark.backends("mysql")
def test_python_migration_resumes_without_repeating_data_changes(project: Project) -> None:
    migration = project.python("python", PYTHON_UP)
    project.fails(3, "upgrade")
    status = project.ok("status", "--json").json
    (partial,) = status["partial"]
    assert partial["statements_done"] == 3 and partial["statements_total"] is None
    assert partial["done"][0]["statement"].startswith("CREATE TABLE p1")
    assert partial["failed"]["statement"] == "INSERT INTO nowhere VALUES (1)"
    text = project.ok("status").out
    assert "3 statement(s) ran and stayed committed; statement 4 failed" in text
    assert "a Python migration" in text

    _edit(project, migration, "INSERT INTO nowhere VALUES (1)", "UPDATE p1 SET id = id + 100")
    assert project.ok("upgrade", "--json").json["results"][0]["statements"] == 2
    # The insert and the first update ran once each.
    assert project.query("SELECT id FROM p1 ORDER BY id") == [(111,), (112,)]
    assert project.columns("p1") == ["id", "note"]


@pytest.mark.backends("mysql")
def test_repair_rolled_back_after_undoing_by_hand(project: Project) -> None:
    four = project.sql("four", FOUR)
    project.fails(3, "upgrade")
    engine = project.engine()  # the statements that ran are undone by hand
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE r1")
        conn.exec_driver_sql("DROP TABLE r2")
    engine.dispose()
    assert project.ok("repair", "--rolled-back", four, "--json").json["changes"] == [
        {"id": four, "action": "marked rolled back"}
    ]
    status = project.ok("status", "--json").json
    assert status["partial"] == [] and status["pending"] == [four]

    # A fresh run starts from statement 1.
    _edit(project, four, "oops INTEGR", "oops INTEGER")
    assert project.ok("upgrade", "--json").json["results"][0]["statements"] == 4
    assert {"r1", "r2", "r3", "r4"} <= project.tables()


@pytest.mark.backends("mysql")
def test_repair_applied_after_finishing_by_hand(project: Project) -> None:
    four = project.sql("four", FOUR)
    after = project.sql("after", "CREATE TABLE r5 (id INTEGER PRIMARY KEY);")
    project.fails(3, "upgrade")
    engine = project.engine()
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE r3 (id INTEGER PRIMARY KEY, oops INTEGER)")
        conn.exec_driver_sql("CREATE TABLE r4 (id INTEGER PRIMARY KEY)")
    engine.dispose()
    # The file is fixed too, so that it says what the database now has. It is not a head
    # (and, outside git, dbshift cannot tell it was never shared): the edit is accepted
    # deliberately.
    _edit(project, four, "oops INTEGR", "oops INTEGER")
    assert "changed since dbshift.sum recorded it" in project.fails(4, "status").err
    project.ok("rehash")
    project.ok("repair", "--applied", four)
    status = project.ok("status", "--json").json
    assert status["partial"] == [] and status["pending"] == [after]
    assert [r["id"] for r in status["applied"]] == [four]
    project.ok("upgrade")
    assert project.applied() == [four, after]
    events = project.query(f"SELECT event, detail FROM dbshift_log WHERE migration_id = '{four}'")
    assert ("repair", "applied") in events


@pytest.mark.backends("mysql")
def test_downgrade_waits_for_the_partial_migration(project: Project) -> None:
    project.sql("first", "CREATE TABLE r0 (id INTEGER PRIMARY KEY);", "DROP TABLE r0;")
    four = project.sql("four", FOUR)
    project.fails(3, "upgrade")
    refused = project.fails(4, "downgrade", "base")
    assert f"{four} stopped part-way" in refused.err and "repair" in refused.err


class _DriverError(Exception):
    """What a driver raises: PyMySQL's (code, message) args, psycopg's `sqlstate`."""

    def __init__(self, *args: object, sqlstate: str | None = None) -> None:
        super().__init__(*args)
        self.sqlstate = sqlstate


def test_what_counts_as_already_done_after_an_interruption() -> None:
    from dbshift.dialects.mysql.rules import MySQLRules
    from dbshift.dialects.postgresql.rules import PostgreSQLRules
    from dbshift.dialects.sqlite.rules import SQLiteRules

    mysql, pg, sqlite = MySQLRules(), PostgreSQLRules(), SQLiteRules()
    exists = _DriverError(1050, "Table 't' already exists")
    assert mysql.already_applied("CREATE TABLE t (id INT)", exists)
    assert mysql.already_applied("ALTER TABLE t ADD c INT", _DriverError(1060, "Duplicate"))
    gone = _DriverError(1091, "Can't DROP COLUMN `c`; check that it exists")
    assert mysql.already_applied("ALTER TABLE t DROP COLUMN c", gone)
    assert not mysql.already_applied("ALTER TABLE t ADD c INT", _DriverError(1054, "Unknown"))
    assert not mysql.already_applied("INSERT INTO t VALUES (1)", _DriverError(1062, "Dup"))

    assert pg.already_applied("CREATE TABLE t (id int)", _DriverError(sqlstate="42P07"))
    assert pg.already_applied("DROP TABLE t", _DriverError(sqlstate="42P01"))
    assert not pg.already_applied("ALTER TABLE t ADD c int", _DriverError(sqlstate="42P01"))
    # A concurrent index build that was cut off leaves an INVALID index that "exists".
    concurrently = "CREATE INDEX CONCURRENTLY ix ON t (c)"
    assert not pg.already_applied(concurrently, _DriverError(sqlstate="42P07"))

    assert sqlite.already_applied("CREATE TABLE t (id)", _DriverError("table t already exists"))
    assert sqlite.already_applied("DROP INDEX ix", _DriverError("no such index: ix"))
    assert not sqlite.already_applied("SELECT * FROM t", _DriverError("no such table: t"))


@pytest.mark.backends("mysql")
def test_status_of_a_partial_migration_stays_light(project: Project) -> None:
    """Status reads progress from the history and splits SQL files as text: it imports
    no operation, schema, dialect or autogenerate code. Of `dbshift.dialects` it may
    import only the backend lookup, whose modules hold flags and limits and import a
    backend's rules, lock, normalizer and introspection when first asked for (the
    history's timestamp type and the splitter's lexicon are looked up there)."""
    project.sql("four", FOUR)
    project.fails(3, "upgrade")
    done = run_process(["status"], project.root, env={"PYTHONPROFILEIMPORTTIME": "1"})
    assert done.returncode == 0 and "PARTIAL:" in done.stdout
    imported = {line.split("|")[-1].strip() for line in done.stderr.splitlines() if "|" in line}
    assert "dbshift.migrations.sqlsplit" in imported
    heavy = ("dbshift.ops", "dbshift.schema", "dbshift.dialects", "dbshift.autogen")
    loaded = [n for n in imported if n.startswith(heavy) and n not in BACKEND_LOOKUP]
    assert not loaded, loaded
