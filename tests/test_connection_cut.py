"""The server drops the runner's connection while a migration runs."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from tests.helpers import Project

# each test cuts a live connection mid-migration (seconds of waiting per backend)
pytestmark = pytest.mark.slow

#: a statement the test can see running, and then cut
SLEEP = {"postgresql": "SELECT pg_sleep(3)", "mysql": "SELECT SLEEP(3)"}
#: the server's id of the connection running it
FIND = {
    "postgresql": "SELECT pid FROM pg_stat_activity "
    "WHERE datname = current_database() AND query LIKE 'SELECT pg_sleep%%' "
    "AND pid <> pg_backend_pid()",
    "mysql": "SELECT id FROM information_schema.processlist "
    "WHERE db = DATABASE() AND info LIKE 'SELECT SLEEP%%' AND id <> CONNECTION_ID()",
}
CUT = {"postgresql": "SELECT pg_terminate_backend({})", "mysql": "KILL {}"}


def _cut_while_sleeping(
    project: Project, backend: str, *options: str
) -> subprocess.CompletedProcess[str]:
    """Run `upgrade` as a process, and kill its connection from the server side."""
    runner = subprocess.Popen(
        [sys.executable, "-m", "dbshift", *options, "upgrade"],
        cwd=project.root,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    engine = project.engine()
    try:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            deadline = time.monotonic() + 20
            while (found := conn.exec_driver_sql(FIND[backend]).scalar()) is None:
                assert time.monotonic() < deadline and runner.poll() is None, runner.stderr
                time.sleep(0.05)
            conn.exec_driver_sql(CUT[backend].format(int(found)))
        out, err = runner.communicate(timeout=30)
    finally:
        engine.dispose()
        if runner.poll() is None:
            runner.kill()
    return subprocess.CompletedProcess(runner.args, runner.returncode, out, err)


@pytest.mark.backends("postgresql", "mysql")
def test_connection_cut_mid_migration(project: Project, backend: str) -> None:
    first = project.sql("first", "CREATE TABLE c0 (id INTEGER PRIMARY KEY);")
    cut = project.sql(
        "sleeper",
        "CREATE TABLE c1 (id INTEGER PRIMARY KEY);\n"
        f"{SLEEP[backend]};\n"
        "CREATE TABLE c2 (id INTEGER PRIMARY KEY);\n",
    )
    project.sql("last", "CREATE TABLE c3 (id INTEGER PRIMARY KEY);")

    done = _cut_while_sleeping(project, backend)
    assert done.returncode == 3, done.stderr
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith(f"error: {cut}.sql:")
    assert "lost the database connection" in line and "run the command again" in line
    assert "Traceback" not in done.stderr
    assert done.stdout.splitlines()[0].startswith(f"applied {first} in ")
    assert done.stdout.splitlines()[1:] == [
        f"stopped part-way: 1 of 3 migration(s) applied: {first}"
    ]

    assert project.applied() == [first]
    status = project.ok("status", "--json").json
    if backend == "postgresql":  # rolled back with the transaction
        assert "c1" not in project.tables() and status["partial"] == []
    else:  # MariaDB committed CREATE TABLE c1 and the history says so
        assert "c1" in project.tables()
        (partial,) = status["partial"]
        assert partial["id"] == cut and partial["statements_done"] == 1
        assert partial["interrupted"] is True
    assert "c2" not in project.tables()

    project.ok("upgrade")  # the lock went with the connection
    assert {"c0", "c1", "c2", "c3"} <= project.tables()
    assert len(project.applied()) == 3
    assert project.ok("status", "--json").json["partial"] == []


@pytest.mark.backends("postgresql", "mysql")
def test_connection_cut_with_debug_shows_the_traceback(project: Project, backend: str) -> None:
    project.sql("sleeper", f"{SLEEP[backend]};")
    done = _cut_while_sleeping(project, backend, "--debug")
    assert done.returncode == 3 and "Traceback" in done.stderr
