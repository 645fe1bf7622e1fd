"""`dbshift upgrade` killed with SIGKILL at random moments, many times over.

A 100-migration project (tables, columns, indexes, rows; Python and SQL migrations) is
upgraded by a real process that is killed after a seeded random delay; after every
kill the history must agree with the schema, and a plain re-run finishes the job with
the schema an uninterrupted run builds.

PostgreSQL and SQLite run each migration in a transaction with its history row: after
a kill, exactly the recorded migrations exist. MariaDB commits DDL implicitly: a kill
may leave one migration `partial`, whose recorded statements exist; the statement that
was in flight may also exist, because the server finishes a DDL statement whose client
died. The re-run resumes that migration and settles the in-flight statement.

`DBSHIFT_CRASH_KILLS` sets the number of kills per backend (default 12) and
`DBSHIFT_CRASH_SEED` the seed (default 20261129).
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import random
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from tests.conftest import ScratchDatabases
from tests.helpers import Project

MIGRATIONS = 100
KILLS = int(os.environ.get("DBSHIFT_CRASH_KILLS", "12"))
SEED = int(os.environ.get("DBSHIFT_CRASH_SEED", "20261129"))

Effect = tuple[str, ...]  # ("table", t) | ("column", t, c) | ("index", t, i) | ("rows", t, n)


@dataclasses.dataclass(frozen=True)
class Statement:
    sql: str
    python: str
    effects: tuple[Effect, ...]


@dataclasses.dataclass(frozen=True)
class Migration:
    id: str
    statements: tuple[Statement, ...]


def _statements(rng: random.Random, n: int) -> list[Statement]:
    """What migration `n` does, one statement per change on every backend."""
    table = f"t{n:03d}"
    found = [
        Statement(
            f"CREATE TABLE {table} (id INTEGER PRIMARY KEY, name VARCHAR(40))",
            f'op.create_table("{table}", sa.Column("id", sa.Integer, primary_key=True), '
            'sa.Column("name", sa.String(40)))',
            (("table", table), ("column", table, "id"), ("column", table, "name")),
        )
    ]
    if n and rng.random() < 0.6:
        other, column = f"t{rng.randrange(n):03d}", f"c{n:03d}"
        found.append(
            Statement(
                f"ALTER TABLE {other} ADD COLUMN {column} INTEGER",
                f'op.add_column("{other}", sa.Column("{column}", sa.Integer))',
                (("column", other, column),),
            )
        )
    if rng.random() < 0.5:
        index = f"ix_{table}"
        found.append(
            Statement(
                f"CREATE INDEX {index} ON {table} (name)",
                f'op.create_index("{index}", "{table}", ["name"])',
                (("index", table, index),),
            )
        )
    if rng.random() < 0.5:
        rows = rng.randint(1, 5)
        values = ", ".join(f"({i}, 'row {i}')" for i in range(1, rows + 1))
        dicts = ", ".join(f'{{"id": {i}, "name": "row {i}"}}' for i in range(1, rows + 1))
        found.append(
            Statement(
                f"INSERT INTO {table} (id, name) VALUES {values}",
                f'op.bulk_insert(sa.table("{table}", sa.column("id"), sa.column("name")), '
                f"[{dicts}])",
                (("rows", table, str(rows)),),
            )
        )
    return found


def _write_project(project: Project, rng: random.Random) -> list[Migration]:
    migrations = []
    for n in range(MIGRATIONS):
        statements = _statements(rng, n)
        if rng.random() < 0.5:
            migration_id = project.sql(f"m{n:03d}", "".join(f"{s.sql};\n" for s in statements))
        else:
            migration_id = project.python(f"m{n:03d}", "\n".join(s.python for s in statements))
        migrations.append(Migration(migration_id, tuple(statements)))
    return migrations


# -- what the database has -------------------------------------------------------------


COLUMNS = {
    "postgresql": "SELECT table_name, column_name FROM information_schema.columns "
    "WHERE table_schema = 'public'",
    "mysql": "SELECT table_name, column_name FROM information_schema.columns "
    "WHERE table_schema = DATABASE()",
    "sqlite": "SELECT m.name, p.name FROM sqlite_master m, pragma_table_info(m.name) p "
    "WHERE m.type = 'table'",
}
INDEXES = {
    "postgresql": "SELECT tablename, indexname FROM pg_indexes WHERE schemaname = 'public' "
    "AND indexname NOT LIKE '%%_pkey'",
    "mysql": "SELECT DISTINCT table_name, index_name FROM information_schema.statistics "
    "WHERE table_schema = DATABASE() AND index_name <> 'PRIMARY'",
    "sqlite": "SELECT tbl_name, name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL",
}


TYPED_COLUMNS = {
    "postgresql": "SELECT table_name, column_name, data_type, is_nullable "
    "FROM information_schema.columns WHERE table_schema = 'public' "
    "ORDER BY table_name, ordinal_position",
    "mysql": "SELECT table_name, column_name, column_type, is_nullable "
    "FROM information_schema.columns WHERE table_schema = DATABASE() "
    "ORDER BY table_name, ordinal_position",
    "sqlite": 'SELECT m.name, p.name, p.type, p."notnull" '
    "FROM sqlite_master m, pragma_table_info(m.name) p WHERE m.type = 'table' "
    "ORDER BY m.name, p.cid",
}


def _schema(backend: str, url: str) -> dict[str, Any]:
    """Tables with their columns and indexes, and every row (bookkeeping excluded), in
    bulk catalog queries."""
    engine = sa.create_engine(url, poolclass=sa.NullPool)
    tables: dict[str, Any] = {}
    try:
        with engine.connect() as conn:
            columns: dict[str, list[tuple[Any, ...]]] = {}
            for table, *column in conn.exec_driver_sql(TYPED_COLUMNS[backend]):
                if not table.startswith("dbshift_"):
                    columns.setdefault(table, []).append(tuple(column))
            indexes: dict[str, list[str]] = {}
            for table, index in conn.exec_driver_sql(INDEXES[backend]):
                indexes.setdefault(table, []).append(index)
            for table in sorted(columns):
                rows = conn.exec_driver_sql(f"SELECT * FROM {table} ORDER BY id")
                tables[table] = (
                    tuple(columns[table]),
                    tuple(sorted(indexes.get(table, ()))),
                    tuple(tuple(r) for r in rows),
                )
    finally:
        engine.dispose()
    return tables


def _effects(backend: str, url: str) -> set[Effect]:
    """What exists, in a few bulk catalog queries (cheap enough to run after every kill)."""
    engine = sa.create_engine(url, poolclass=sa.NullPool)
    found: set[Effect] = set()
    try:
        with engine.connect() as conn:
            columns = [
                (t, c)
                for t, c in conn.exec_driver_sql(COLUMNS[backend])
                if not t.startswith("dbshift_")
            ]
            tables = sorted({t for t, _ in columns})
            found.update(("table", t) for t in tables)
            found.update(("column", t, c) for t, c in columns)
            found.update(
                ("index", t, i)
                for t, i in conn.exec_driver_sql(INDEXES[backend])
                if not t.startswith("dbshift_")
            )
            if tables:
                counts = " UNION ALL ".join(f"SELECT '{t}', COUNT(*) FROM {t}" for t in tables)
                found.update(("rows", t, str(n)) for t, n in conn.exec_driver_sql(counts) if n)
    finally:
        engine.dispose()
    return found


def _effects_of(schema: dict[str, Any]) -> set[Effect]:
    found: set[Effect] = set()
    for table, (columns, indexes, rows) in schema.items():
        found.add(("table", table))
        found.update(("column", table, c[0]) for c in columns)
        found.update(("index", table, i) for i in indexes)
        if rows:
            found.add(("rows", table, str(len(rows))))
    return found


def _history(url: str) -> list[tuple[str, str, str | None]]:
    engine = sa.create_engine(url, poolclass=sa.NullPool)
    try:
        if not sa.inspect(engine).has_table("dbshift_history"):
            return []
        with engine.connect() as conn:
            return [
                (r[0], r[1], r[2])
                for r in conn.exec_driver_sql("SELECT id, state, progress FROM dbshift_history")
            ]
    finally:
        engine.dispose()


def _applied_between(url: str) -> tuple[datetime, datetime]:
    engine = sa.create_engine(url, poolclass=sa.NullPool)
    try:
        with engine.connect() as conn:
            first, last = conn.exec_driver_sql(
                "SELECT MIN(at), MAX(at) FROM dbshift_log WHERE event = 'upgrade'"
            ).one()
    finally:
        engine.dispose()
    if isinstance(first, str):  # SQLite
        first, last = datetime.fromisoformat(first), datetime.fromisoformat(last)
    return first, last


def _wait_for_the_dead(backend: str, url: str) -> None:
    """Wait until no other session on the test database is running a statement: the
    server has then finished what the killed runner's connection was doing (a statement
    in flight completes on the server after its client died)."""
    if backend == "sqlite":
        return
    others = {
        "postgresql": "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = "
        "current_database() AND pid <> pg_backend_pid() AND state <> 'idle'",
        "mysql": "SELECT COUNT(*) FROM information_schema.processlist "
        "WHERE db = DATABASE() AND id <> CONNECTION_ID() AND command <> 'Sleep'",
    }[backend]
    engine = sa.create_engine(url, poolclass=sa.NullPool)
    deadline = time.monotonic() + 30
    try:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            while conn.exec_driver_sql(others).scalar():
                assert time.monotonic() < deadline, "the killed runner's session lives on"
                time.sleep(0.02)
    finally:
        engine.dispose()


# -- the check after each kill ---------------------------------------------------------


@dataclasses.dataclass
class Tally:
    kills: int = 0
    finished: int = 0  # runs that ended before their kill
    partial: int = 0  # kills that left a migration part-way (MariaDB)
    in_flight_done: int = 0  # ... whose in-flight statement had completed on the server
    applied_at_kill: list[int] = dataclasses.field(default_factory=list)


def _check_agreement(
    backend: str, url: str, migrations: list[Migration], tally: Tally, when: str
) -> None:
    """History and schema agree; returns nothing, asserts everything."""
    by_id = {m.id: m for m in migrations}
    rows = _history(url)
    applied = {i for i, state, _ in rows if state == "applied"}
    partial = [(i, progress) for i, state, progress in rows if state != "applied"]
    expected: set[Effect] = {e for i in applied for s in by_id[i].statements for e in s.effects}
    actual = _effects(backend, url)
    tally.applied_at_kill.append(len(applied))
    if backend != "mysql":
        assert partial == [], f"{when}: a partial row on {backend}: {partial}"
        assert actual == expected, f"{when}: schema and history disagree: {actual ^ expected}"
        return
    assert len(partial) <= 1, f"{when}: several partial rows: {partial}"
    if not partial:
        assert actual == expected, f"{when}: schema and history disagree: {actual ^ expected}"
        return
    tally.partial += 1
    migration_id, progress = partial[0]
    lines = [line for line in (progress or "").split("\n") if line]
    assert not any(line.startswith("!") for line in lines), f"{when}: a failure recorded"
    statements = by_id[migration_id].statements
    done = len(lines)
    recorded = expected | {e for s in statements[:done] for e in s.effects}
    if actual == recorded:
        return
    # The statement in flight when the runner died may have completed on the server.
    ahead = recorded | {e for s in statements[done : done + 1] for e in s.effects}
    assert actual == ahead, (
        f"{when}: {migration_id} recorded {done} statement(s) done; "
        f"schema differs by {actual ^ recorded}"
    )
    tally.in_flight_done += 1


# -- the test --------------------------------------------------------------------------


@pytest.fixture
def reference(scratch: ScratchDatabases) -> str:
    """A second database, for the uninterrupted run."""
    return scratch.create()


def _upgrade(root: Path, url: str | None = None) -> subprocess.Popen[str]:
    args = [sys.executable, "-m", "dbshift", *(["--url", url] if url else []), "upgrade"]
    return subprocess.Popen(
        args, cwd=root, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def _timed(process: subprocess.Popen[str]) -> float:
    started = time.monotonic()
    out, err = process.communicate(timeout=300)
    assert process.returncode == 0, err + out
    return time.monotonic() - started


#: `WorkStarted._recorded` of a SQLite file a writer holds: the runner works
_WRITING = 1 << 30


class WorkStarted:
    """Tells, without getting in the runner's way, that it has begun to work: it holds
    the lock (PostgreSQL, MariaDB) or has written to the file (SQLite). Start-up time
    (imports, loading 100 migrations, connecting) varies too much on a loaded machine to
    aim kills from the moment the process starts."""

    def __init__(self, backend: str, url: str) -> None:
        self.backend = backend
        self.url = url
        timeout = {"timeout": 0} if backend == "sqlite" else {}
        self.engine = sa.create_engine(url, poolclass=sa.NullPool, connect_args=timeout)
        self.conn: sa.Connection | None = None
        if backend != "sqlite":
            from dbshift.dialects import lock_for

            self.conn = self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
            self.query = {
                "postgresql": "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' "
                "AND granted AND database = (SELECT oid FROM pg_database "
                "WHERE datname = current_database())",
                "mysql": "SELECT IS_USED_LOCK('{}') IS NOT NULL",
            }[backend].format(lock_for(self.conn, "dbshift_", None).name)

    def _recorded(self) -> int:
        """SQLite: migrations recorded so far (a kill can leave a hot journal behind,
        and the next runner's first read rolls it back: the file tells nothing); -1
        before the table exists; `_WRITING` while a writer holds the file's lock. The
        read never waits for that lock: sqlite3's busy handler would sleep through the
        runner's short gaps between migrations while it applies all of them."""
        try:
            with self.engine.connect() as conn:
                return int(conn.exec_driver_sql("SELECT COUNT(*) FROM dbshift_log").scalar_one())
        except sa.exc.OperationalError as error:
            return _WRITING if "locked" in str(error) else -1

    def wait(self, runner: subprocess.Popen[str], timeout: float = 60) -> bool:
        """True once the runner works; False when it exited first."""
        before = self._recorded() if self.conn is None else 0
        if before == _WRITING:
            return True
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if runner.poll() is not None:
                return False
            if self.conn is not None:
                if self.conn.exec_driver_sql(self.query).scalar():
                    return True
            elif (recorded := self._recorded()) == _WRITING or recorded > max(before, 0):
                return True
            time.sleep(0.005)
        raise AssertionError("the runner never started to work")

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
        self.engine.dispose()


@pytest.mark.slow
def test_sigkill_at_random_moments(
    tmp_path: Path,
    db_url: str,
    reference: str,
    backend: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    rng = random.Random(f"{SEED}:{backend}")
    project = Project(tmp_path / "proj", db_url, capsys)
    migrations = _write_project(project, rng)
    total_statements = sum(len(m.statements) for m in migrations)

    # The uninterrupted run sets the pace of the kills: its log says when the first
    # migration was applied (start-up: imports, loading 100 migrations, connecting)
    # and how long the rest took.
    spawned = datetime.now(UTC).replace(tzinfo=None)
    _timed(_upgrade(project.root, reference))
    first, last = _applied_between(reference)
    startup = (first - spawned).total_seconds()
    work = max((last - first).total_seconds(), 0.5)
    assert len(_history(reference)) == MIGRATIONS
    wanted = _schema(backend, reference)
    assert (
        _effects(backend, reference)
        == _effects_of(wanted)
        == {e for m in migrations for s in m.statements for e in s.effects}
    )

    # Each kill comes at a random moment after the runner began to work, on average
    # after its share of what is left of the uninterrupted run's time: together they
    # walk through the whole project. One in five kills comes instead at a random moment of the start-up
    # (imports, connecting, waiting for the lock, creating the history tables).
    tally = Tally()
    started = WorkStarted(backend, db_url)
    try:
        for attempt in range(KILLS * 3):
            if tally.kills >= KILLS:
                break
            runner = _upgrade(project.root)
            spawned_at = time.monotonic()
            if attempt == 0 or rng.random() < 0.2:
                delay, phase = rng.uniform(0.0, startup), "start-up"
            else:
                applied = tally.applied_at_kill[-1] if tally.applied_at_kill else 0
                remaining = work * (MIGRATIONS - applied) / MIGRATIONS
                delay = rng.uniform(0.0, 2 * remaining / (KILLS - tally.kills))
                phase = "work"
                if not started.wait(runner):
                    delay = 0.0
            with contextlib.suppress(subprocess.TimeoutExpired):
                runner.wait(delay)
            runner.kill()
            _, err = runner.communicate()
            when = (
                f"kill {attempt + 1} ({phase}, {delay:.3f} s; "
                f"{time.monotonic() - spawned_at:.2f} s after start)"
            )
            if runner.returncode == 0:
                tally.finished += 1
            else:
                assert runner.returncode == -9, f"{when}: exited {runner.returncode}: {err}"
                tally.kills += 1
            _wait_for_the_dead(backend, db_url)
            _check_agreement(backend, db_url, migrations, tally, when)
            if runner.returncode == 0:
                break  # nothing left to interrupt
    finally:
        started.close()

    final = _upgrade(project.root)
    _timed(final)
    history = _history(db_url)
    assert len(history) == MIGRATIONS and {s for _, s, _ in history} == {"applied"}
    assert _schema(backend, db_url) == wanted
    # Every migration was applied once: a kill never made one run twice.
    assert sorted(
        project.query("SELECT migration_id FROM dbshift_log WHERE event = 'upgrade'")
    ) == (sorted((m.id,) for m in migrations))
    assert project.ok("status", "--json").json["pending"] == []

    thirds = {min(2, 3 * n // MIGRATIONS) for n in tally.applied_at_kill[: tally.kills]}
    report = (
        f"{backend}: {tally.kills} kills ({tally.finished} runs finished first), "
        f"applied at each kill: {tally.applied_at_kill}, {tally.partial} left a partial "
        f"migration, {tally.in_flight_done} of them with the in-flight statement done; "
        f"{MIGRATIONS} migrations, {total_statements} statements, start-up {startup:.2f} s, "
        f"run {work:.2f} s"
    )
    sys.__stdout__.write(f"\n{report}\n") if os.environ.get("DBSHIFT_CRASH_REPORT") else None
    assert tally.kills >= KILLS // 2, report
    assert len(thirds) >= 2, report


SLOW_DDL = {
    "mysql": "CREATE TABLE k2 AS SELECT SLEEP(1) AS slept",
    "postgresql": "CREATE TABLE k2 AS SELECT 1 AS slept FROM pg_sleep(1)",
}
RUNNING = {
    "mysql": "SELECT COUNT(*) FROM information_schema.processlist "
    "WHERE db = DATABASE() AND info LIKE 'CREATE TABLE k2%%'",
    "postgresql": "SELECT COUNT(*) FROM pg_stat_activity "
    "WHERE datname = current_database() AND query LIKE 'CREATE TABLE k2%%'",
}


@pytest.mark.slow
@pytest.mark.backends("mysql", "postgresql")
def test_statement_in_flight_at_the_kill_is_settled_on_resume(
    tmp_path: Path, db_url: str, backend: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """MariaDB finishes a DDL statement whose client was killed (it commits by itself);
    the history cannot know: it says the run was interrupted after statement 1. The
    re-run finds that what statement 2 creates exists, counts it as done, and goes on.
    PostgreSQL ran statement 2 in a transaction with its record (`transactional =
    False` runs each statement in one): the kill rolled both back, and the re-run
    runs it."""
    project = Project(tmp_path / "proj", db_url, capsys)
    migration = project.sql(
        "slow",
        f"CREATE TABLE k1 (id INTEGER PRIMARY KEY);\n{SLOW_DDL[backend]};\n"
        "CREATE TABLE k3 (id INTEGER PRIMARY KEY);\n",
        header="-- transactional: false" if backend == "postgresql" else "",
    )
    runner = _upgrade(project.root)
    engine = project.engine()
    try:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            deadline = time.monotonic() + 30
            while not conn.exec_driver_sql(RUNNING[backend]).scalar():
                assert time.monotonic() < deadline and runner.poll() is None
                time.sleep(0.01)
        runner.kill()
        runner.communicate()
    finally:
        engine.dispose()
    _wait_for_the_dead(backend, db_url)
    completed = backend == "mysql"
    assert "k1" in project.tables() and "k3" not in project.tables()
    assert ("k2" in project.tables()) == completed
    (partial,) = project.ok("status", "--json").json["partial"]
    assert partial["id"] == migration and partial["statements_done"] == 1
    assert partial["interrupted"] is True and partial["failed"] is None
    assert "interrupted after statement 1 of 3" in project.ok("status").out

    ran = project.ok("upgrade", "--json").json["results"][0]["statements"]
    assert ran == (1 if completed else 2)
    assert {"k1", "k2", "k3"} <= project.tables()
    ((detail,),) = project.query(
        f"SELECT detail FROM dbshift_log WHERE migration_id = '{migration}' AND event = 'upgrade'"
    )
    settled = "; statement 2 had completed in the interrupted run" if completed else ""
    assert detail == "resumed after statement 1" + settled


@pytest.mark.backends("mysql")
def test_edited_file_is_not_settled_by_guessing(
    tmp_path: Path, db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """After an interruption, an edited migration resumes at the statement in flight
    and runs it: an error is an error (the guess is only made for the same file)."""
    project = Project(tmp_path / "proj", db_url, capsys)
    migration = project.sql(
        "slow", f"CREATE TABLE k1 (id INTEGER PRIMARY KEY);\n{SLOW_DDL['mysql']};\n"
    )
    runner = _upgrade(project.root)
    engine = project.engine()
    try:
        with engine.connect() as conn:
            deadline = time.monotonic() + 30
            while not conn.exec_driver_sql(RUNNING["mysql"]).scalar():
                assert time.monotonic() < deadline and runner.poll() is None
                time.sleep(0.01)
        runner.kill()
        runner.communicate()
    finally:
        engine.dispose()
    _wait_for_the_dead("mysql", db_url)
    path = project.migrations / f"{migration}.sql"
    path.write_text(path.read_text() + "CREATE TABLE k3 (id INTEGER PRIMARY KEY);\n")
    failed = project.fails(3, "upgrade")
    assert "Table 'k2' already exists" in failed.err
    assert "k3" not in project.tables()


@pytest.mark.backends("mysql")
def test_killed_between_the_two_bookkeeping_tables(
    tmp_path: Path, db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """MariaDB commits each CREATE TABLE: a runner killed right after creating the
    history table leaves no log table, and the next run creates it."""
    project = Project(tmp_path / "proj", db_url, capsys)
    project.sql("first", "CREATE TABLE b1 (id INTEGER PRIMARY KEY);")
    project.ok("upgrade")
    engine = project.engine()
    with engine.begin() as conn:  # back to the state such a kill leaves
        conn.exec_driver_sql("DROP TABLE b1")
        conn.exec_driver_sql("DROP TABLE dbshift_log")
        conn.exec_driver_sql("DELETE FROM dbshift_history")
    engine.dispose()
    project.ok("upgrade")
    assert {"b1", "dbshift_log"} <= project.tables()
    assert project.query("SELECT event FROM dbshift_log") == [("upgrade",)]
