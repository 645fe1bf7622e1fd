"""The server did what a statement asked, and the answer never reached dbshift.

A small TCP proxy stands between the runner and the server (PostgreSQL, MariaDB). It
forwards everything until the runner has sent the statements it waits for, then drops
the server's answer to the last one and cuts both connections: the statement ran, and
the runner cannot know whether it committed. On SQLite, the runner's process dies at
the same moment instead (right after the statement returned).

In a `transactional = False` migration each statement that can run in a transaction
runs in one with its progress record: the re-run must find it either committed and
recorded, or neither, and never run it twice. A statement that cannot run in one
(`CREATE INDEX CONCURRENTLY`) is checked on the server when the run resumes.
"""

from __future__ import annotations

import contextlib
import dataclasses
import re
import socket
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence

import pytest
import sqlalchemy as sa
from hypothesis import given
from hypothesis import strategies as st

from dbshift.dialects.base import Commit
from dbshift.dialects.mysql.rules import MySQLRules
from dbshift.dialects.postgresql.rules import PostgreSQLRules
from dbshift.dialects.sqlite.rules import SQLiteRules
from tests.helpers import Project, run_process


def _recv_exactly(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise ConnectionError("closed")
        data += chunk
    return data


class _PostgresWire:
    """PostgreSQL's protocol: after the untyped startup message, a type byte and a
    length; the server's CommandComplete ('C') ends each command."""

    @staticmethod
    def client_messages(sock: socket.socket) -> Iterator[tuple[bytes, bytes | None]]:
        (length,) = struct.unpack("!i", _recv_exactly(sock, 4))
        yield struct.pack("!i", length) + _recv_exactly(sock, length - 4), None
        while True:
            kind = _recv_exactly(sock, 1)
            head = _recv_exactly(sock, 4)
            body = _recv_exactly(sock, struct.unpack("!i", head)[0] - 4)
            sql = None
            if kind == b"Q":
                sql = body.split(b"\0")[0]
            elif kind == b"P":  # Parse: statement name, then the SQL
                sql = body.split(b"\0")[1]
            yield kind + head + body, sql

    @staticmethod
    def server_messages(sock: socket.socket) -> Iterator[tuple[bytes, bool]]:
        while True:
            kind = _recv_exactly(sock, 1)
            head = _recv_exactly(sock, 4)
            body = _recv_exactly(sock, struct.unpack("!i", head)[0] - 4)
            yield kind + head + body, kind == b"C"


class _MySQLWire:
    """MySQL's protocol: packets of a 3-byte length and a sequence number; a command
    (sequence 0) is answered by the server's next packet (an OK packet for UPDATE and
    COMMIT)."""

    @staticmethod
    def _packets(sock: socket.socket) -> Iterator[tuple[bytes, bytes]]:
        while True:
            head = _recv_exactly(sock, 4)
            length = int.from_bytes(head[:3], "little")
            yield head, _recv_exactly(sock, length)

    @classmethod
    def client_messages(cls, sock: socket.socket) -> Iterator[tuple[bytes, bytes | None]]:
        for head, body in cls._packets(sock):
            query = head[3] == 0 and body[:1] == b"\x03"  # COM_QUERY
            yield head + body, body[1:] if query else None

    @classmethod
    def server_messages(cls, sock: socket.socket) -> Iterator[tuple[bytes, bool]]:
        for head, body in cls._packets(sock):
            yield head + body, True


@dataclasses.dataclass
class _Progress:
    """One proxied connection: how many of the awaited statements it sent, and whether
    the server's next command-ending answer is to be dropped."""

    seen: int = 0
    armed: bool = False


class CuttingProxy:
    """Forwards connections to `upstream` until a client has sent statements starting
    with each of `after`, in order; then drops the server's answer to the last one and
    closes both sockets of that connection (once: later connections pass)."""

    def __init__(self, upstream: int, wire: type[_PostgresWire | _MySQLWire], after: Sequence[str]):
        self.upstream = upstream
        self.wire = wire
        self.after = [text.encode() for text in after]
        self.cut = threading.Event()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._sockets: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self) -> None:
        self._listener.close()
        for sock in self._sockets:
            with contextlib.suppress(OSError):
                sock.close()

    def _accept(self) -> None:
        with contextlib.suppress(OSError):
            while True:
                client, _ = self._listener.accept()
                server = socket.create_connection(("127.0.0.1", self.upstream))
                self._sockets += [client, server]
                state = _Progress()
                threading.Thread(
                    target=self._client_to_server, args=(client, server, state), daemon=True
                ).start()
                threading.Thread(
                    target=self._server_to_client, args=(client, server, state), daemon=True
                ).start()

    def _client_to_server(
        self, client: socket.socket, server: socket.socket, state: _Progress
    ) -> None:
        with contextlib.suppress(OSError, ConnectionError):
            for message, sql in self.wire.client_messages(client):
                waiting = not self.cut.is_set() and state.seen < len(self.after)
                if waiting and sql is not None and re.match(self.after[state.seen], sql.lstrip()):
                    state.seen += 1
                    state.armed = state.seen == len(self.after)  # before the server answers
                server.sendall(message)

    def _server_to_client(
        self, client: socket.socket, server: socket.socket, state: _Progress
    ) -> None:
        with contextlib.suppress(OSError, ConnectionError):
            for message, ends_command in self.wire.server_messages(server):
                if state.armed and ends_command and not self.cut.is_set():
                    self.cut.set()
                    for sock in (client, server):
                        sock.shutdown(socket.SHUT_RDWR)
                        sock.close()
                    return
                client.sendall(message)


PORTS = {"postgresql": 5432, "mysql": 3306}
WIRES: dict[str, type[_PostgresWire | _MySQLWire]] = {
    "postgresql": _PostgresWire,
    "mysql": _MySQLWire,
}


@contextlib.contextmanager
def proxied(project: Project, backend: str, after: Sequence[str]) -> Iterator[CuttingProxy]:
    url = sa.make_url(project.url)
    proxy = CuttingProxy(url.port or PORTS[backend], WIRES[backend], after)
    try:
        yield proxy
    finally:
        proxy.close()


def _proxy_url(project: Project, proxy: CuttingProxy) -> str:
    url = sa.make_url(project.url).set(host="127.0.0.1", port=proxy.port)
    if url.get_backend_name() == "postgresql":  # plain messages, to read them
        url = url.update_query_dict({"sslmode": "disable", "gssencmode": "disable"})
    return url.render_as_string(hide_password=False)


def _counter_project(project: Project) -> tuple[str, str]:
    first = project.sql(
        "counter", "CREATE TABLE counter (n INTEGER NOT NULL);\nINSERT INTO counter VALUES (0);"
    )
    bump = project.sql(
        "bump",
        "UPDATE counter SET n = n + 1;\nCREATE TABLE after_it (id INTEGER PRIMARY KEY);",
        header="-- transactional: false",
    )
    project.ok("upgrade", first)
    return first, bump


def _check_resumed(project: Project, bump: str, committed: bool) -> None:
    """After the cut: recorded exactly when committed; the re-run finishes it once."""
    assert project.query("SELECT n FROM counter") == [(1 if committed else 0,)]
    (partial,) = project.ok("status", "--json").json["partial"]
    assert partial["id"] == bump and partial["interrupted"] is True
    assert partial["statements_done"] == (1 if committed else 0)

    done = project.ok("upgrade", "--json").json
    assert done["results"][0]["statements"] == (1 if committed else 2)
    assert project.query("SELECT n FROM counter") == [(1,)]
    assert "after_it" in project.tables()
    assert project.ok("status", "--json").json["partial"] == []
    events = project.query(
        f"SELECT event, detail FROM dbshift_log WHERE migration_id = '{bump}' "
        "AND event <> 'lease' ORDER BY seq"  # the cut runner's lease was taken over
    )
    assert events == [("upgrade", "resumed after statement 1" if committed else None)]


#: the journal's UPDATE, its table qualified with the bookkeeping schema
RECORD = r"UPDATE (\S+\.)?dbshift_history"
#: where the answer is lost (patterns matched at the start of each statement): the
#: statement's own, its record's, or the commit's
CUTS = {
    "statement": (["UPDATE counter"], False),
    "record": (["UPDATE counter", RECORD], False),
    "commit": (["UPDATE counter", "COMMIT"], True),
}


@pytest.mark.slow
@pytest.mark.backends("postgresql", "mysql")
@pytest.mark.parametrize("cut", sorted(CUTS))
def test_lost_answer_never_runs_a_statement_twice(project: Project, backend: str, cut: str) -> None:
    _, bump = _counter_project(project)
    after, committed = CUTS[cut]
    with proxied(project, backend, after) as proxy:
        lost = run_process(["--url", _proxy_url(project, proxy), "upgrade"], project.root)
        assert proxy.cut.is_set(), f"the proxy never saw {after}: {lost.stderr}"
    assert lost.returncode == 3, lost.stderr
    (line,) = lost.stderr.strip().splitlines()
    assert line.startswith(f"error: {bump}.sql:") and "lost the database connection" in line
    assert ("committing `UPDATE counter" in line) == (cut != "statement"), line
    _check_resumed(project, bump, committed)


@pytest.mark.slow
@pytest.mark.backends("postgresql", "mysql")
def test_lost_answer_to_the_last_commit_finds_the_migration_applied(
    project: Project, backend: str
) -> None:
    """The last statement's record is the applied row, written and committed with the
    log event: when the answer to that commit is lost, the error names the statement
    being committed, and the server has the migration applied, once."""
    _, bump = _counter_project(project)
    with proxied(project, backend, ["CREATE TABLE after_it", "COMMIT"]) as proxy:
        lost = run_process(["--url", _proxy_url(project, proxy), "upgrade"], project.root)
        assert proxy.cut.is_set(), lost.stderr
    assert lost.returncode == 3, lost.stderr
    (line,) = lost.stderr.strip().splitlines()
    assert line.startswith(f"error: {bump}.sql:") and "lost the database connection" in line
    assert "committing `CREATE TABLE after_it" in line, line
    assert project.applied()[-1] == bump
    assert project.ok("status", "--json").json["partial"] == []
    assert project.ok("upgrade", "--json").json["results"] == []
    assert project.query("SELECT n FROM counter") == [(1,)]
    events = project.query(
        f"SELECT event, detail FROM dbshift_log WHERE migration_id = '{bump}' "
        "AND event <> 'lease' ORDER BY seq"
    )
    assert events == [("upgrade", None)]


#: a runner whose process dies right after a statement starting with the last of
#: argv[1:] returned (and after the others, in order): as if the machine went away
_DIES_AFTER = """
import os, re, sys
import sqlalchemy as sa
from dbshift.cli import main

wanted = sys.argv[1:]

@sa.event.listens_for(sa.engine.Engine, "after_cursor_execute")
def _die(conn, cursor, statement, parameters, context, executemany):
    if wanted and re.match(wanted[0], statement.lstrip()):
        wanted.pop(0)
        if not wanted:
            os._exit(9)

sys.argv = ["dbshift", "upgrade"]
main()
"""


@pytest.mark.slow
@pytest.mark.parametrize("cut", ["statement", "record"])
def test_runner_dying_after_the_statement_never_runs_it_twice(project: Project, cut: str) -> None:
    _, bump = _counter_project(project)
    after, committed = CUTS[cut]
    died = subprocess.run(
        [sys.executable, "-c", _DIES_AFTER, *after],
        cwd=project.root,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert died.returncode == 9, died.stderr
    _check_resumed(project, bump, committed)


# -- a statement that cannot run in a transaction ---------------------------------------

INDEX = "CREATE INDEX CONCURRENTLY ix_t_v ON t (v)"


def _index_project(project: Project) -> str:
    project.sql(
        "table", "CREATE TABLE t (id INTEGER PRIMARY KEY, v INTEGER);\nINSERT INTO t VALUES (1, 1);"
    )
    index = project.sql(
        "index",
        f"{INDEX};\nCREATE TABLE after_it (id INTEGER PRIMARY KEY);",
        header="-- transactional: false",
    )
    return index


def _index_valid(project: Project) -> bool | None:
    rows = project.query("SELECT indisvalid FROM pg_index WHERE indexrelid = to_regclass('ix_t_v')")
    return rows[0][0] if rows else None


@pytest.mark.slow
@pytest.mark.backends("postgresql")
def test_concurrent_index_built_before_the_cut_counts_as_done(
    project: Project, backend: str
) -> None:
    index = _index_project(project)
    with proxied(project, backend, ["CREATE INDEX CONCURRENTLY"]) as proxy:
        lost = run_process(["--url", _proxy_url(project, proxy), "upgrade"], project.root)
        assert proxy.cut.is_set(), lost.stderr
    assert lost.returncode == 3, lost.stderr
    assert _index_valid(project) is True
    assert project.ok("status", "--json").json["partial"][0]["interrupted"] is True

    done = project.ok("upgrade", "--json").json
    assert done["results"][-1]["statements"] == 1  # only CREATE TABLE after_it ran
    assert "after_it" in project.tables() and project.applied()[-1] == index
    ((detail,),) = project.query(
        f"SELECT detail FROM dbshift_log WHERE migration_id = '{index}' AND event = 'upgrade'"
    )
    assert detail == "resumed after statement 0; statement 1 had completed in the interrupted run"


@pytest.mark.slow
@pytest.mark.backends("postgresql")
def test_invalid_index_left_by_a_cut_build_stops_the_run(project: Project, backend: str) -> None:
    """A writer's open transaction holds the concurrent build after it created the
    index (INVALID until the build ends); the build's connection is then killed."""
    index = _index_project(project)
    engine = project.engine()
    runner = None
    try:
        with (
            engine.connect() as writer,
            engine.connect().execution_options(isolation_level="AUTOCOMMIT") as watcher,
        ):
            project.ok("upgrade", _first_id(project))
            writer.exec_driver_sql("INSERT INTO t VALUES (2, 2)")  # open, not committed
            runner = subprocess.Popen(
                [sys.executable, "-m", "dbshift", "upgrade"],
                cwd=project.root,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            pid = _wait_for(
                watcher,
                "SELECT a.pid FROM pg_stat_activity a JOIN pg_index i "
                "ON i.indexrelid = to_regclass('ix_t_v') WHERE a.datname = current_database() "
                "AND a.query LIKE 'CREATE INDEX CONCURRENTLY%%' AND a.wait_event_type = 'Lock'",
                runner,
            )
            watcher.exec_driver_sql(f"SELECT pg_terminate_backend({pid})")
            _, err = runner.communicate(timeout=60)
            writer.rollback()
    finally:
        engine.dispose()
        if runner is not None and runner.poll() is None:
            runner.kill()
    assert runner.returncode == 3 and "lost the database connection" in err, err
    assert _index_valid(project) is False
    before = project.fingerprint()

    stopped = project.fails(4, "upgrade")
    (line,) = stopped.err.strip().splitlines()
    assert line.startswith(f"error: {index}.sql: the previous run was cut off while statement 1")
    assert f"`{INDEX}`" in line and "index ix_t_v exists but is INVALID" in line
    assert "DROP INDEX CONCURRENTLY ix_t_v" in line and "dbshift upgrade" in line
    assert project.fingerprint() == before
    assert _index_valid(project) is False

    engine = project.engine()
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("DROP INDEX CONCURRENTLY ix_t_v")
    engine.dispose()
    assert project.ok("upgrade", "--json").json["results"][-1]["statements"] == 2
    assert _index_valid(project) is True and project.applied()[-1] == index


def _first_id(project: Project) -> str:
    return sorted(p.stem for p in project.migrations.glob("*.sql"))[0]


def _wait_for(conn: sa.Connection, sql: str, runner: subprocess.Popen[str]) -> int:
    deadline = time.monotonic() + 30
    while (found := conn.exec_driver_sql(sql).scalar()) is None:
        assert runner.poll() is None, runner.communicate()
        assert time.monotonic() < deadline, "the build never waited"
        time.sleep(0.05)
    return int(found)


# -- which statements commit with their record ----------------------------------------------


POSTGRESQL_STATEMENTS = [
    ("UPDATE counter SET n = n + 1", Commit.WITH_RECORD),
    ("CREATE INDEX ix ON t (v)", Commit.WITH_RECORD),
    ("CREATE INDEX concurrently_named ON t (v)", Commit.WITH_RECORD),
    ("-- a comment\nCREATE INDEX CONCURRENTLY ix ON t (v)", Commit.OUTSIDE),
    ("create unique index concurrently if not exists ix on t (v)", Commit.OUTSIDE),
    ("DROP INDEX CONCURRENTLY IF EXISTS ix", Commit.OUTSIDE),
    ("REINDEX INDEX CONCURRENTLY ix", Commit.OUTSIDE),
    ("REINDEX (VERBOSE, CONCURRENTLY) TABLE t", Commit.OUTSIDE),
    ("REINDEX TABLE t", Commit.WITH_RECORD),
    ("VACUUM (ANALYZE) t", Commit.OUTSIDE),
    ("ANALYZE t", Commit.WITH_RECORD),
    ("CLUSTER", Commit.OUTSIDE),
    ("CLUSTER t USING ix", Commit.WITH_RECORD),
    ("CREATE DATABASE other", Commit.OUTSIDE),
    ("ALTER SYSTEM SET work_mem = '64MB'", Commit.OUTSIDE),
    ("ALTER DATABASE d SET TABLESPACE s", Commit.OUTSIDE),
    ("ALTER DATABASE d SET work_mem = '64MB'", Commit.WITH_RECORD),
    ("ALTER TABLE p DETACH PARTITION p1 CONCURRENTLY", Commit.OUTSIDE),
    ("ALTER TABLE p DETACH PARTITION p1", Commit.WITH_RECORD),
    ("ALTER TYPE mood ADD VALUE 'calm'", Commit.WITH_RECORD),  # PostgreSQL 12 and later
    ("CALL backfill()", Commit.OUTSIDE),
    ("DO $$ BEGIN PERFORM 1; END $$", Commit.WITH_RECORD),
    ("DO $body$ BEGIN UPDATE t SET v = 0; COMMIT; END $body$", Commit.OUTSIDE),
    ("-- python: backfill()", Commit.WITH_RECORD),
]


@pytest.mark.parametrize(("sql", "commit"), POSTGRESQL_STATEMENTS)
def test_postgresql_statements_that_cannot_run_in_a_transaction(sql: str, commit: Commit) -> None:
    assert PostgreSQLRules().commit_of(sql, (15, 4)) is commit


@pytest.mark.slow
@given(
    case=st.sampled_from(POSTGRESQL_STATEMENTS),
    spaces=st.lists(st.sampled_from([" ", "\n", "\t  ", " /* c */ ", " -- c\n"]), min_size=40),
    upper=st.lists(st.booleans(), min_size=40),
    lead=st.sampled_from(["", "\n\n", "-- a comment\n", "/* a\ncomment */ "]),
)
def test_how_a_statement_is_written_does_not_change_how_it_commits(
    case: tuple[str, Commit], spaces: list[str], upper: list[bool], lead: str
) -> None:
    """Case, line breaks and comments between words: the same statement to the server
    (strings, quoted names and dollar-quote tags keep their case: it is part of them)."""
    sql, commit = case
    if sql.startswith("--"):
        return  # a marker, not a statement
    words = sql.split(" ")  # the statements above have single spaces between words
    cased = [
        w if w.startswith(("'", '"', "$")) else w.upper() if up else w.lower()
        for w, up in zip(words, upper, strict=False)
    ]
    text = lead + "".join(w + gap for w, gap in zip(cased, spaces, strict=False))
    assert PostgreSQLRules().commit_of(text, (15, 4)) is commit, text


def test_add_value_cannot_run_in_a_transaction_before_postgresql_12() -> None:
    assert (
        PostgreSQLRules().commit_of("ALTER TYPE mood ADD VALUE 'calm'", (11, 9)) is Commit.OUTSIDE
    )


def test_mysql_and_sqlite_statements() -> None:
    mysql, sqlite = MySQLRules(), SQLiteRules()
    assert mysql.commit_of("UPDATE counter SET n = n + 1") is Commit.WITH_RECORD
    assert mysql.commit_of("insert into t values (1)") is Commit.WITH_RECORD
    assert mysql.commit_of("CREATE TABLE t (id INT)") is Commit.ITSELF
    assert mysql.commit_of("LOCK TABLES t WRITE") is Commit.ITSELF
    assert sqlite.commit_of("CREATE TABLE t (id INTEGER)") is Commit.WITH_RECORD
    assert sqlite.commit_of("VACUUM") is Commit.OUTSIDE
    assert sqlite.commit_of("pragma foreign_keys = on") is Commit.OUTSIDE
    assert sqlite.commit_of("PRAGMA foreign_key_check") is Commit.WITH_RECORD


@pytest.mark.backends("postgresql")
def test_what_the_catalog_shows_of_a_statement_in_doubt(engine: sa.Engine, backend: str) -> None:
    """`in_doubt` on a real server, for each kind of check it makes."""
    rules = PostgreSQLRules()
    with engine.connect() as conn:
        conn.exec_driver_sql("CREATE TABLE t (v INTEGER)")
        conn.exec_driver_sql("CREATE INDEX ix_there ON t (v)")
        conn.exec_driver_sql("CREATE TYPE mood AS ENUM ('sad', 'it''s fine')")
        conn.commit()
        database = conn.exec_driver_sql("SELECT current_database()").scalar()

        def verdict(sql: str) -> str:
            return rules.in_doubt(conn, sql).verdict

        assert verdict("CREATE INDEX CONCURRENTLY ix_there ON t (v)") == "done"
        assert verdict('CREATE INDEX CONCURRENTLY IF NOT EXISTS "ix_there" ON t (v)') == "done"
        assert verdict("CREATE INDEX CONCURRENTLY ix_missing ON t (v)") == "run"
        assert verdict("CREATE INDEX CONCURRENTLY ON t (v)") == "ask"  # no name to look for
        assert verdict("DROP INDEX CONCURRENTLY IF EXISTS ix_missing") == "done"
        assert verdict("DROP INDEX CONCURRENTLY ix_there") == "run"
        assert verdict(f"CREATE DATABASE {database}") == "done"
        assert verdict("CREATE DATABASE dbshift_never_made") == "run"
        assert verdict("DROP DATABASE IF EXISTS dbshift_never_made") == "done"
        assert verdict("ALTER TYPE mood ADD VALUE 'sad'") == "done"
        assert verdict("ALTER TYPE mood ADD VALUE IF NOT EXISTS 'it''s fine' AFTER 'sad'") == "done"
        assert verdict("ALTER TYPE mood ADD VALUE 'calm'") == "run"
        assert verdict("VACUUM t") == "run"
        assert verdict("REINDEX INDEX CONCURRENTLY ix_there") == "run"
        found = rules.in_doubt(conn, "CALL backfill()")
        assert found.verdict == "ask" and "cannot tell" in found.reason


@pytest.mark.slow
@pytest.mark.backends("postgresql")
def test_a_cut_call_stops_the_run_and_names_it(project: Project, backend: str) -> None:
    """A procedure may commit part of its work: nothing shows how far it got."""
    project.sql(
        "procedure",
        "CREATE TABLE after_it (id INTEGER PRIMARY KEY);\n"
        "CREATE PROCEDURE slow() LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(30); END $$;",
    )
    call = project.sql("call", "CALL slow();", header="-- transactional: false")
    project.ok("upgrade", _first_id(project))
    runner = subprocess.Popen(
        [sys.executable, "-m", "dbshift", "upgrade"],
        cwd=project.root,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    engine = project.engine()
    try:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as watcher:
            pid = _wait_for(
                watcher,
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                "AND query LIKE 'CALL slow%%'",
                runner,
            )
            watcher.exec_driver_sql(f"SELECT pg_terminate_backend({pid})")
        _, err = runner.communicate(timeout=60)
    finally:
        engine.dispose()
        if runner.poll() is None:
            runner.kill()
    assert runner.returncode == 3 and "lost the database connection" in err, err
    before = project.fingerprint()

    stopped = project.fails(4, "upgrade")
    (line,) = stopped.err.strip().splitlines()
    assert line.startswith(f"error: {call}.sql: the previous run was cut off while statement 1")
    assert "`CALL slow()`" in line and "the database cannot tell whether it completed" in line
    assert f"dbshift repair --applied {call}" in line
    assert project.fingerprint() == before

    project.ok("repair", "--applied", call)
    assert project.ok("status", "--json").json["partial"] == [] and project.applied()[-1] == call
