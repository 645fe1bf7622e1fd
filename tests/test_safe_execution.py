"""Safe execution: a migration waits for a table lock only briefly, and is retried.

Another connection holds a lock that the migration's ALTER conflicts with; the
migration's statement gives up after `table_lock_timeout`, is rolled back and
retried with a growing pause, and succeeds once the lock is released, or exits 3 naming
what it waited for. Meanwhile the application's writes queued behind the ALTER wait no
longer than the lock timeout.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from dbshift.config import Config, parse_duration
from dbshift.errors import ConfigError
from dbshift.migrations.scripts import read_script
from dbshift.retry import MAX_DELAY, backoff
from tests.helpers import Project

SERVERS = pytest.mark.backends("postgresql", "mysql")


def project_with(
    root: Path, url: str, capsys: pytest.CaptureFixture[str], **keys: object
) -> Project:
    project = Project(root, url, capsys)
    with (root / "dbshift.toml").open("a") as config:
        for key, value in keys.items():
            config.write(f"{key} = {value!r}\n".replace("'", '"'))
    project.python("t", 'op.create_table("t", sa.Column("id", sa.Integer, primary_key=True))')
    project.ok("upgrade")
    return project


@contextlib.contextmanager
def holding(project: Project, backend: str) -> Iterator[sa.Connection]:
    """A connection whose open transaction has read `t`: it holds a lock (PostgreSQL
    ACCESS SHARE, MariaDB a shared metadata lock) that an ALTER of `t` must wait for."""
    engine = project.engine()
    conn = engine.connect()
    try:
        conn.execute(sa.text("SELECT * FROM t"))
        yield conn
    finally:
        conn.close()
        engine.dispose()


def start_upgrade(project: Project) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "dbshift", "upgrade"],
        cwd=project.root,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def events(project: Project, kind: str) -> list[tuple[str, str]]:
    return [
        (str(r[0]), str(r[1]))
        for r in project.query(
            f"SELECT migration_id, detail FROM dbshift_log WHERE event = '{kind}' ORDER BY seq"
        )
    ]


def wait_for_retries(project: Project, count: int, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while len(events(project, "retry")) < count:
        assert time.monotonic() < deadline, "the migration was not retried"
        time.sleep(0.05)


@SERVERS
def test_a_migration_waiting_for_a_lock_is_retried_until_it_is_released(
    backend: str, db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = project_with(
        tmp_path, db_url, capsys, table_lock_timeout="300ms", lock_retry_delay=0.1
    )
    alter = project.python("alter", 'op.add_column("t", sa.Column("x", sa.Integer))')
    with holding(project, backend):
        run = start_upgrade(project)
        wait_for_retries(project, 2)  # attempts 1 and 2 timed out
    out, err = run.communicate(timeout=60)
    assert run.returncode == 0, err
    assert f"retrying {alter} (lock timeout, attempt 2 of 6, in " in out
    assert f"retrying {alter} (lock timeout, attempt 3 of 6, in " in out
    assert f"applied {alter}" in out
    assert "x" in project.columns("t")
    retries = events(project, "retry")
    assert len(retries) >= 2 and {m for m, _ in retries} == {alter}
    assert retries[0][1].startswith("lock timeout, attempt 2 of 6, in ")
    assert project.applied()[-1] == alter


@SERVERS
def test_after_the_last_retry_the_run_exits_3_naming_the_lock(
    backend: str, db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = project_with(
        tmp_path,
        db_url,
        capsys,
        table_lock_timeout="400ms",
        lock_retries=2,
        lock_retry_delay=0.05,
    )
    alter = project.python("alter", 'op.add_column("t", sa.Column("x", sa.Integer))')
    with holding(project, backend) as holder:
        pid = holder.execute(
            sa.text(
                "SELECT pg_backend_pid()" if backend == "postgresql" else "SELECT CONNECTION_ID()"
            )
        ).scalar()
        run = start_upgrade(project)
        out, err = run.communicate(timeout=60)
    assert run.returncode == 3, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err
    assert lines[0].startswith(f"error: {alter}.py: gave up after 3 attempt(s), each waiting ")
    assert "hint: find what holds the lock" in lines[0]
    if backend == "postgresql":
        assert f"waited for a lock on t held by pid {pid}" in out
        assert f"for a lock on t held by pid {pid}" in lines[0]
    else:
        assert f"likely held by the oldest open transaction: connection {pid} (" in lines[0]
    assert out.count(f"retrying {alter}") == 2
    assert "x" not in project.columns("t")
    assert alter not in project.applied()
    assert len(events(project, "retry")) == 2
    if backend == "postgresql":  # on MariaDB the statement's failure is logged (resume)
        ((migration, detail),) = events(project, "failed")
        assert migration == alter and detail.startswith("lock timeout; ")


@pytest.mark.backends("postgresql")
def test_application_writes_queued_behind_the_migration_wait_at_most_the_lock_timeout(
    backend: str, db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without a lock timeout, the ALTER would queue for the reader's lock and every
    INSERT would queue behind the ALTER until the reader finished (here 2.5 s)."""
    lock_timeout = 0.5
    project = project_with(
        tmp_path, db_url, capsys, table_lock_timeout=lock_timeout, lock_retry_delay=0.2
    )
    project.python("alter", 'op.add_column("t", sa.Column("x", sa.Integer))')
    waits: list[float] = []
    stop = threading.Event()

    def writer() -> None:
        engine = project.engine()
        with engine.connect() as conn:
            while not stop.is_set():
                started = time.monotonic()
                conn.execute(sa.text("INSERT INTO t DEFAULT VALUES"))
                conn.commit()
                waits.append(time.monotonic() - started)
                time.sleep(0.01)
        engine.dispose()

    thread = threading.Thread(target=writer)
    with holding(project, backend) as reader:
        thread.start()
        release = threading.Timer(2.5, reader.rollback)
        release.start()
        try:
            project.ok("upgrade")
        finally:
            release.join()
            stop.set()
            thread.join()
    assert len(events(project, "retry")) >= 2
    assert "x" in project.columns("t")
    assert len(waits) > 20
    assert max(waits) < lock_timeout + 0.4, f"a write waited {max(waits):.2f} s"


@SERVERS
def test_a_statement_by_statement_migration_retries_only_the_statement_that_waited(
    backend: str, db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Every migration on MariaDB; a `transactional = False` one on PostgreSQL (there
    the timeout is a session setting)."""
    project = project_with(tmp_path, db_url, capsys, table_lock_timeout=1, lock_retry_delay=0.1)
    two = project.sql(
        "two",
        "INSERT INTO t (id) VALUES (1);\nALTER TABLE t ADD COLUMN x INTEGER;",
        header="-- transactional: false",
    )
    with holding(project, backend):
        run = start_upgrade(project)
        wait_for_retries(project, 1)
    _, err = run.communicate(timeout=60)
    assert run.returncode == 0, err
    assert project.query("SELECT id FROM t") == [(1,)]  # the INSERT ran once
    assert "x" in project.columns("t")
    assert events(project, "failed")[0] == (two, "statement 2 failed; 1 statement(s) completed")
    (applied,) = events(project, "upgrade")[-1:]
    assert applied == (two, "resumed after statement 1")


@pytest.mark.backends("postgresql")
def test_header_settings_override_the_configuration_on_postgresql(
    backend: str, db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = project_with(tmp_path, db_url, capsys, statement_timeout="15min")
    seen = "SELECT current_setting('lock_timeout') AS l, current_setting('statement_timeout') AS s"
    project.sql("default", f"CREATE TABLE a AS {seen};")
    project.python(
        "own", f'op.execute("CREATE TABLE b AS {seen}")', header='lock_timeout = "200ms"\n'
    )
    project.sql(
        "outside",
        f"CREATE TABLE c AS {seen};",
        header="-- transactional: false\n-- lock_timeout: 1s\n-- statement_timeout: off",
    )
    project.ok("upgrade")
    assert project.query("SELECT * FROM a") == [("3s", "15min")]
    assert project.query("SELECT * FROM b") == [("200ms", "15min")]
    assert project.query("SELECT * FROM c") == [("1s", "0")]


@pytest.mark.backends("mysql")
def test_header_settings_override_the_configuration_on_mariadb(
    backend: str, db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = project_with(tmp_path, db_url, capsys, table_lock_timeout=7)
    seen = "SELECT @@SESSION.lock_wait_timeout AS w"
    project.sql("default", f"CREATE TABLE a AS {seen};")
    project.sql("own", f"CREATE TABLE b AS {seen};", header="-- lock_timeout: 1500ms")
    project.ok("upgrade")
    assert project.query("SELECT w FROM a") == [(7,)]
    assert project.query("SELECT w FROM b") == [(2,)]  # whole seconds, rounded up


@pytest.mark.backends("mysql")
def test_statement_timeout_reaches_mariadb_through_a_mysql_url(
    backend: str, db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A MariaDB server reached through `mysql://` (SQLAlchemy's MySQL dialect, told
    MariaDB on connecting) gets `max_statement_time` as one reached by `mariadb://` does."""
    project = project_with(tmp_path, db_url, capsys, statement_timeout="90s")
    project.sql("seen", "CREATE TABLE a AS SELECT @@SESSION.max_statement_time AS s;")
    project.ok("upgrade")
    assert project.query("SELECT s FROM a") == [(90.0,)]


@SERVERS
@pytest.mark.parametrize("key", ["table_lock_timeout", "migration_lock_timeout"])
def test_the_old_name_of_table_lock_timeout_sets_the_same_wait(
    backend: str, db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], key: str
) -> None:
    """`migration_lock_timeout`, the old name of `table_lock_timeout`, still sets the
    wait, with a one-line note naming the new key."""
    project = project_with(tmp_path, db_url, capsys, **{key: "2s"})
    postgresql = backend == "postgresql"
    seen = "current_setting('lock_timeout')" if postgresql else "@@SESSION.lock_wait_timeout"
    project.sql("seen", f"CREATE TABLE a AS SELECT {seen} AS w;")
    result = project.ok("upgrade")
    assert project.query("SELECT w FROM a") == [("2s",) if postgresql else (2,)]
    notes = [line for line in result.err.splitlines() if line.startswith("note: ")]
    if key == "table_lock_timeout":
        assert notes == []
    else:
        assert notes == [
            f"note: {project.root / 'dbshift.toml'}: `migration_lock_timeout` is deprecated, "
            "use `table_lock_timeout` (the same setting, renamed)"
        ]


@pytest.mark.backends("sqlite")
def test_sqlite_has_no_lock_queue_and_ignores_the_settings(
    backend: str, db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = project_with(tmp_path, db_url, capsys, statement_timeout="1s")
    project.sql("own", "CREATE TABLE b (id INTEGER);", header="-- lock_timeout: 2s")
    project.ok("upgrade")
    assert "b" in project.tables()


def test_durations() -> None:
    assert [parse_duration(v) for v in ("2s", "500ms", "1.5", "2min", "1h", "off", 3)] == [
        2.0,
        0.5,
        1.5,
        120.0,
        3600.0,
        0.0,
        3.0,
    ]
    for bad in ("soon", "-1s", "2 days", "nan"):
        with pytest.raises(ValueError):
            parse_duration(bad)


def test_configuration_keys(tmp_path: Path) -> None:
    defaults = Config()
    assert (defaults.table_lock_timeout, defaults.statement_timeout) == (3.0, None)
    assert (defaults.lock_retries, defaults.lock_retry_delay) == (5, 0.5)
    (tmp_path / "dbshift.toml").write_text(
        'table_lock_timeout = "2s"\nstatement_timeout = "${ST:-10min}"\n'
        "lock_retries = 0\nlock_retry_delay = 1\n"
    )
    config = Config.load(cwd=tmp_path)
    assert (config.table_lock_timeout, config.statement_timeout) == (2.0, 600.0)
    assert (config.lock_retries, config.lock_retry_delay) == (0, 1.0)
    with pytest.raises(ConfigError, match="invalid table_lock_timeout 'soon'"):
        Config(table_lock_timeout="soon")
    with pytest.raises(ConfigError, match="invalid lock_retries -1"):
        Config(lock_retries=-1)
    (tmp_path / "dbshift.toml").write_text("lock_retries = 1.5\n")
    with pytest.raises(ConfigError, match="`lock_retries` must be a whole number"):
        Config.load(cwd=tmp_path)


def test_header_settings_are_read_as_text(tmp_path: Path) -> None:
    python = tmp_path / "20260101T000001_a.py"
    python.write_text(
        'parents = []\nlock_timeout = "2s"  # short\nstatement_timeout = 60\n\n'
        "def upgrade(op):\n    raise AssertionError('never imported')\n"
    )
    script = read_script(python)
    assert (script.lock_timeout, script.statement_timeout) == (2.0, 60.0)
    sql = tmp_path / "20260101T000002_b.sql"
    sql.write_text("-- parents:\n-- LOCK_TIMEOUT: 250ms\n-- dbshift:up\nSELECT 1;\n")
    assert (read_script(sql).lock_timeout, read_script(sql).statement_timeout) == (0.25, None)
    sql.write_text("-- parents:\n-- lock_timeout: soon\n-- dbshift:up\nSELECT 1;\n")
    with pytest.raises(Exception, match=r"b.sql:2: lock_timeout must be a duration"):
        read_script(sql)


def test_backoff_doubles_with_jitter_up_to_the_cap() -> None:
    for attempt, full in ((1, 0.5), (2, 1.0), (3, 2.0), (6, MAX_DELAY), (20, MAX_DELAY)):
        delays = [backoff(attempt, 0.5) for _ in range(50)]
        assert all(full / 2 <= d <= full for d in delays)
        assert len(set(delays)) > 1


@SERVERS
def test_session_settings_come_back_after_a_migration_outside_a_transaction(
    backend: str, engine: sa.Engine
) -> None:
    from dbshift.dialects import dialect_for
    from dbshift.dialects.base import Timeouts

    show = {
        "postgresql": "SELECT current_setting('lock_timeout')",
        "mysql": "SELECT @@SESSION.lock_wait_timeout",
    }[backend]
    with engine.connect() as conn:
        before = conn.execute(sa.text(show)).scalar()
        restore = dialect_for(conn.dialect).set_timeouts(conn, Timeouts(2.0, 5.0), local=False)
        assert conn.execute(sa.text(show)).scalar() in ("2s", 2)
        restore()
        assert conn.execute(sa.text(show)).scalar() == before


@pytest.mark.backends("postgresql")
def test_with_json_the_retries_go_to_stderr(
    backend: str, db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = project_with(tmp_path, db_url, capsys, table_lock_timeout="200ms", lock_retries=1)
    alter = project.python("alter", 'op.add_column("t", sa.Column("x", sa.Integer))')
    with holding(project, backend):
        run = subprocess.run(
            [sys.executable, "-m", "dbshift", "--json", "upgrade"],
            cwd=project.root,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert run.returncode == 3
    error = json.loads(run.stdout)["error"]
    assert error["message"].startswith(f"{alter}.py: gave up after 2 attempt(s)")
    assert run.stderr.startswith(f"retrying {alter} (lock timeout, attempt 2 of 2, in ")
