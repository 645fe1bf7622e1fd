"""Many runners at once, runners killed while they hold the lock, and lock timeouts: real
`python -m dbshift` processes on SQLite, PostgreSQL, MariaDB, and PostgreSQL behind a
real PgBouncer in transaction pooling mode."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from subprocess import Popen

import pytest
import sqlalchemy as sa

from tests.helpers import Project, run_process
from tests.pgbouncer import pgbouncer

# many processes at once, leases that must expire, PgBouncer: the whole file is slow
pytestmark = pytest.mark.slow

RUNNERS = 16

# `python -m dbshift ARGS`, started when the file `go` appears: the slow imports are done
# before, so that every process reaches the database at the same moment.
_AT_THE_BARRIER = textwrap.dedent(
    """
    import runpy, sys, time
    from pathlib import Path
    import sqlalchemy, dbshift.cli, dbshift.runner, dbshift.dialects, dbshift.ops
    ready, go = Path(sys.argv[1]), Path(sys.argv[2])
    ready.touch()
    while not go.exists():
        time.sleep(0.002)
    sys.argv = ["dbshift", *sys.argv[3:]]
    runpy.run_module("dbshift", run_name="__main__", alter_sys=True)
    """
)


@contextlib.contextmanager
def started_together(count: int, cwd: Path, args: list[str]) -> Iterator[list[Popen]]:
    """`count` processes of `dbshift ARGS`, released at once; killed if still running
    when the block ends."""
    sync = Path(tempfile.mkdtemp(prefix="dbshift-barrier-"))
    go = sync / "go"
    procs: list[Popen] = []
    try:
        for i in range(count):
            ready = str(sync / f"ready{i}")
            procs.append(
                subprocess.Popen(
                    [sys.executable, "-c", _AT_THE_BARRIER, ready, str(go), *args],
                    cwd=cwd,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                )
            )
        deadline = time.monotonic() + 90
        while not all((sync / f"ready{i}").exists() for i in range(count)):
            assert all(p.poll() is None for p in procs), "a runner died before the barrier"
            assert time.monotonic() < deadline, "the runners did not reach the barrier"
            time.sleep(0.01)
        go.touch()
        yield procs
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
            proc.communicate()
        shutil.rmtree(sync, ignore_errors=True)


def connect(url: str) -> sa.Engine:
    """An engine for `url`; without prepared statements, which PgBouncer in transaction
    pooling mode cannot keep (psycopg prepares a query it ran five times)."""
    extra = {"prepare_threshold": None} if url.startswith("postgresql+psycopg") else {}
    return sa.create_engine(url, poolclass=sa.NullPool, connect_args=extra)


def query(url: str, sql: str) -> list[tuple[object, ...]]:
    engine = connect(url)
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(sa.text(sql))]
    finally:
        engine.dispose()


def twenty_migrations(project: Project, backend: str) -> list[str]:
    """Tables with rows, and one migration outside a transaction (PostgreSQL:
    CREATE INDEX CONCURRENTLY). Applying any of them twice fails or shows in `ledger`."""
    ids = [
        project.python(
            "ledger",
            'op.create_table("ledger", sa.Column("n", sa.Integer, nullable=False))\n'
            'op.execute("INSERT INTO ledger (n) VALUES (0)")',
        )
    ]
    for n in range(1, 20):
        if n == 10:
            concurrently = ", postgresql_concurrently=True" if backend == "postgresql" else ""
            ids.append(
                project.python(
                    "index_outside_a_transaction",
                    f'op.create_index("ix_t5_v", "t5", ["v"]{concurrently})\n'
                    'op.execute("INSERT INTO ledger (n) VALUES (10)")',
                    header="transactional = False\n",
                )
            )
            continue
        ids.append(
            project.python(
                f"t{n}",
                f'op.create_table("t{n}", sa.Column("id", sa.Integer, primary_key=True), '
                'sa.Column("v", sa.Integer))\n'
                f'op.execute("INSERT INTO t{n} (id, v) VALUES (1, {n})")\n'
                f'op.execute("INSERT INTO ledger (n) VALUES ({n})")',
            )
        )
    return ids


def upgrade_at_once(project: Project, backend: str, check_url: str) -> None:
    ids = twenty_migrations(project, backend)
    started = time.monotonic()
    with started_together(
        RUNNERS, project.root, ["--runner-lock-timeout", "60", "upgrade"]
    ) as procs:
        released = time.monotonic()
        outputs = [p.communicate(timeout=120) for p in procs]
    elapsed = time.monotonic() - started
    after_release = time.monotonic() - released
    codes = [p.returncode for p in procs]
    assert codes == [0] * RUNNERS, "\n".join(err for _, err in outputs)

    history = query(check_url, "SELECT id, state, COUNT(*) FROM dbshift_history GROUP BY id, state")
    assert sorted(history) == [(i, "applied", 1) for i in ids]
    events = query(
        check_url,
        "SELECT migration_id, COUNT(*) FROM dbshift_log WHERE event = 'upgrade' "
        "GROUP BY migration_id",
    )
    assert sorted(events) == [(i, 1) for i in ids]
    assert sorted(n for (n,) in query(check_url, "SELECT n FROM ledger")) == list(range(20))
    for n in range(1, 20):
        if n != 10:
            assert query(check_url, f"SELECT id, v FROM t{n}") == [(1, n)]
    inspector_engine = sa.create_engine(check_url, poolclass=sa.NullPool)
    try:
        indexes = sa.inspect(inspector_engine).get_indexes("t5")
    finally:
        inspector_engine.dispose()
    assert [i["name"] for i in indexes] == ["ix_t5_v"]

    # Every migration was applied by exactly one process; the others said so.
    applied_lines = [
        line for out, _ in outputs for line in out.splitlines() if line.startswith("applied 2026")
    ]
    assert len(applied_lines) == len(ids)
    for out, _ in outputs:
        if "skipped" in out:
            assert "already applied by another runner" in out
        if not any(line.startswith("applied 2026") for line in out.splitlines()):
            assert (
                "nothing to do: all" in out and "already applied by another runner" in out
            ) or "nothing to do: already at the target" in out, out
    print(
        f"{RUNNERS} runners x {len(ids)} migrations on {backend}: {elapsed:.1f} s, "
        f"{after_release:.1f} s of them after the barrier"
    )


def test_sixteen_processes_upgrade_at_once(project: Project, backend: str, db_url: str) -> None:
    upgrade_at_once(project, backend, db_url)


def test_concurrent_downgrades_and_stamps_each_record_once(
    project: Project, backend: str, db_url: str
) -> None:
    import dbshift

    ids = [
        project.python(
            f"t{n}",
            f'op.create_table("t{n}", sa.Column("id", sa.Integer))',
            f'op.drop_table("t{n}")',
        )
        for n in range(8)
    ]
    project.ok("upgrade")
    config = dbshift.Config(url=db_url, migrations=project.migrations, runner_lock_timeout=30)

    def six_at_once(command: Callable[[], dbshift.RunReport]) -> list[dbshift.RunReport]:
        start = threading.Barrier(6)

        def run(_: int) -> dbshift.RunReport:
            start.wait()
            return command()

        with ThreadPoolExecutor(6) as pool:
            return list(pool.map(run, range(6)))

    reports = six_at_once(lambda: dbshift.downgrade(config, "base"))
    assert sorted(i for r in reports for i in r.done) == ids
    assert project.applied() == []
    reports = six_at_once(lambda: dbshift.stamp(config, "head"))
    assert sorted(i for r in reports for i in r.done) == ids
    assert project.applied() == ids
    events = project.query("SELECT event, COUNT(*) FROM dbshift_log GROUP BY event ORDER BY 1")
    assert events == [("downgrade", 8), ("stamp", 8), ("upgrade", 8)]


# -- a runner that holds the lock: others time out naming it; killed, it leaves nothing ---

_HOLD = """\
def hold(conn):
    import os, pathlib, time
    flag = pathlib.Path(os.environ.get("DBSHIFT_TEST_HOLD", "/nonexistent"))
    if flag.exists():
        (flag.parent / "holding").write_text(str(os.getpid()))
        time.sleep(120)
op.run(hold)
op.create_table("slow", sa.Column("id", sa.Integer, primary_key=True))
"""


def holder_killed_then_rerun(
    project: Project, backend: str, check_url: str, *, transactional: bool
) -> None:
    project.python("first", 'op.create_table("first", sa.Column("id", sa.Integer))')
    project.ok("upgrade")
    slow = project.python("slow", _HOLD, header="" if transactional else "transactional = False\n")
    flag = project.root / "hold"
    flag.touch()
    holder = subprocess.Popen(
        [sys.executable, "-m", "dbshift", "upgrade"],
        cwd=project.root,
        env={**os.environ, "DBSHIFT_TEST_HOLD": str(flag)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not (project.root / "holding").exists():
            assert holder.poll() is None, holder.communicate()
            assert time.monotonic() < deadline
            time.sleep(0.02)

        started = time.monotonic()
        waiter = run_process(["--runner-lock-timeout", "1", "upgrade"], project.root)
        waited = time.monotonic() - started
        assert waiter.returncode == 5, waiter.stderr + waiter.stdout
        assert "gave up after 1 s" in waiter.stderr
        assert "Traceback" not in waiter.stderr
        if backend != "sqlite" or not transactional:
            assert f"pid {holder.pid}" in waiter.stderr  # names the runner, not a connection
            assert "since " in waiter.stderr
        if backend == "mysql":
            assert ", connection " in waiter.stderr and "host " in waiter.stderr
        if not transactional and backend != "mysql":
            assert "lease of " in waiter.stderr and f"applying {slow}" in waiter.stderr
        print(f"{backend}: gave up after {waited:.1f} s: {waiter.stderr.strip()}")
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.communicate()
    assert holder.returncode == -signal.SIGKILL

    flag.unlink()
    started = time.monotonic()
    rerun = run_process(["--runner-lock-timeout", "5", "upgrade"], project.root)
    elapsed = time.monotonic() - started
    assert rerun.returncode == 0, rerun.stderr + rerun.stdout
    assert f"applied {slow}" in rerun.stdout  # a lock left behind would exit 5 after 5 s
    history = query(check_url, "SELECT id, state FROM dbshift_history ORDER BY id")
    assert [state for _, state in history] == ["applied", "applied"]
    assert history[-1][0] == slow
    if not transactional and backend != "mysql":  # the dead runner's lease was taken over
        detail = query(check_url, "SELECT detail FROM dbshift_log WHERE event = 'lease'")
        assert len(detail) == 1 and f"pid {holder.pid}" in str(detail[0][0])
    print(f"{backend}: re-run after SIGKILL took {elapsed:.1f} s")


@pytest.mark.parametrize("transactional", [True, False], ids=["in_transaction", "autocommit"])
def test_killed_holder_blocks_nobody(
    project: Project, backend: str, db_url: str, transactional: bool
) -> None:
    holder_killed_then_rerun(project, backend, db_url, transactional=transactional)


@pytest.mark.backends("postgresql", "sqlite")
def test_an_expired_lease_of_another_machine_is_taken_over(
    project: Project, backend: str, db_url: str
) -> None:
    """A lease is live while renewed: a holder elsewhere is waited for, then its expired
    lease is taken over and logged."""
    project.python("first", 'op.create_table("first", sa.Column("id", sa.Integer))')
    project.ok("upgrade")
    later = project.python(
        "index", 'op.create_index("ix_first", "first", ["id"])', header="transactional = False\n"
    )
    clock = {
        "postgresql": "extract(epoch from clock_timestamp())",
        "sqlite": "(julianday('now') - 2440587.5) * 86400.0",
    }[backend]
    engine = connect(db_url)
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO dbshift_lock (name, token, holder, pid, process, migration_id, "
                f"since, renewed, ttl) VALUES ('migrations', 'elsewhere', 'ops@pod-7', 42, "
                f"'another-machine', :later, {clock}, {clock}, 4)"
            ),
            {"later": later},
        )
    engine.dispose()
    waiting = project.fails(5, "--runner-lock-timeout", "0.5", "upgrade")
    assert "lease of ops@pod-7 pid 42, applying" in waiting.err
    started = time.monotonic()
    project.ok("--runner-lock-timeout", "10", "upgrade")
    assert 1.5 < time.monotonic() - started < 8  # waited for the expiry, not longer
    assert project.applied()[-1] == later
    detail = project.query("SELECT detail FROM dbshift_log WHERE event = 'lease'")
    assert "took over from (lease of ops@pod-7 pid 42" in str(detail[0][0])


@pytest.mark.backends("postgresql", "sqlite")
def test_a_working_holder_keeps_its_lease_alive(project: Project, db_url: str) -> None:
    """The heartbeat renews the lease while a long statement runs outside a transaction:
    nobody takes it over after `ttl` seconds."""
    import dbshift
    from dbshift import database
    from dbshift.migrations.project import Project as Migrations
    from dbshift.runner import Runner

    project.python("first", 'op.create_table("first", sa.Column("id", sa.Integer))')
    project.python(
        "long",
        'op.run(lambda conn: __import__("time").sleep(6))\n'
        'op.create_index("ix_first", "first", ["id"])',
        header="transactional = False\n",
    )
    project.ok("upgrade", "+1")
    config = dbshift.Config(url=db_url, migrations=project.migrations, runner_lock_timeout=10)
    found = Migrations.read(config)

    def upgrade(conn: sa.Connection) -> None:
        # a short lease, but renewals survive a busy CI box
        runner = Runner(config, conn, found.scripts, found.graph, lease_ttl=1.5)
        runner.migrate("up", "head")

    holder = threading.Thread(target=database.run, args=(config, upgrade))
    holder.start()
    try:
        deadline = time.monotonic() + 10
        while not project.query("SELECT token FROM dbshift_lock WHERE token IS NOT NULL"):
            assert time.monotonic() < deadline and holder.is_alive()
            time.sleep(0.05)
        assert project.query("SELECT ttl FROM dbshift_lock WHERE token IS NOT NULL") == [(1.5,)]
        time.sleep(2.0)  # the holder took the lease; without renewal it expired by now
        waiting = project.fails(5, "--runner-lock-timeout", "1", "upgrade")
        assert "lease of " in waiting.err
    finally:
        holder.join()
    assert len(project.applied()) == 2
    assert project.query("SELECT detail FROM dbshift_log WHERE event = 'lease'") == []


# -- PgBouncer in transaction pooling mode ---------------------------------------------


@pytest.fixture
def pgbouncer_url(backend: str, db_url: str) -> Iterator[str]:
    """A private PgBouncer (transaction pooling, 3 server connections for any number of
    clients) in front of this test's PostgreSQL database."""
    assert backend == "postgresql"
    with pgbouncer(db_url, pool_size=3) as url:
        yield url


def advisory_locks(db_url: str) -> int:
    rows = query(
        db_url,
        "SELECT COUNT(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database "
        "WHERE l.locktype = 'advisory' AND d.datname = current_database()",
    )
    return int(str(rows[0][0]))


@pytest.mark.backends("postgresql")
def test_sixteen_processes_through_pgbouncer(
    tmp_path: Path,
    backend: str,
    db_url: str,
    pgbouncer_url: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    project = Project(tmp_path / "proj", pgbouncer_url, capsys)
    upgrade_at_once(project, backend, db_url)
    assert advisory_locks(db_url) == 0


@pytest.mark.backends("postgresql")
@pytest.mark.parametrize("transactional", [True, False], ids=["in_transaction", "autocommit"])
def test_killed_holder_behind_pgbouncer_blocks_nobody(
    tmp_path: Path,
    backend: str,
    db_url: str,
    pgbouncer_url: str,
    capsys: pytest.CaptureFixture[str],
    transactional: bool,
) -> None:
    project = Project(tmp_path / "proj", pgbouncer_url, capsys)
    holder_killed_then_rerun(project, backend, db_url, transactional=transactional)
    assert advisory_locks(db_url) == 0


@contextlib.contextmanager
def other_clients(url: str, count: int = 2) -> Iterator[None]:
    """Clients of the same PgBouncer pool running short transactions, so that one
    client's consecutive transactions land on different server connections."""
    stop = threading.Event()
    errors: list[BaseException] = []

    def busy() -> None:
        engine = connect(url)
        try:
            with engine.connect() as conn:
                while not stop.is_set():
                    conn.execute(sa.text("SELECT pg_sleep(0.002)"))
                    conn.commit()
        except BaseException as error:
            errors.append(error)
        engine.dispose()

    threads = [threading.Thread(target=busy) for _ in range(count)]
    for thread in threads:
        thread.start()
    try:
        yield
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    assert not errors, errors


@pytest.mark.backends("postgresql")
def test_runs_through_pgbouncer_leave_no_lock_behind(
    tmp_path: Path,
    backend: str,
    db_url: str,
    pgbouncer_url: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """With a session lock, a run's unlock could reach another server connection than its
    lock: the lock stayed on a pooled connection and the next runs waited for it until
    they timed out (exit 5)."""
    project = Project(tmp_path / "proj", pgbouncer_url, capsys)
    with other_clients(pgbouncer_url):
        for n in range(6):
            project.python(f"t{n}", f'op.create_table("t{n}", sa.Column("id", sa.Integer))')
            project.ok("--runner-lock-timeout", "2", "upgrade")  # a leaked lock: exit 5
            assert advisory_locks(db_url) == 0
        project.ok("--runner-lock-timeout", "2", "stamp", "base")
        project.ok("--runner-lock-timeout", "2", "stamp", "head")
        assert advisory_locks(db_url) == 0
    assert len(query(db_url, "SELECT id FROM dbshift_history")) == 6
