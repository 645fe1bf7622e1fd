"""Count what a tool sends to the database: connections, statements, round trips.

Tool-agnostic, so that dbshift, Alembic, yoyo and raw are counted the same way:

- PostgreSQL and MariaDB: `Proxy`, a TCP proxy between the tool and the server. It reads
  the client's protocol messages (PostgreSQL: Query, Parse, Bind, Execute, Sync, ...;
  MariaDB: COM_QUERY and the other COM_* packets) and forwards every byte unchanged. A
  *round trip* is a burst of client data that the server answered (however many
  messages the burst held: a pipeline of several statements, sent before the server's
  first answer, is one round trip). The proxy
  answers PostgreSQL's SSLRequest / GSSENCRequest with "no" itself, so that the session
  stays readable (the benchmark's servers run without TLS anyway).
- SQLite has no server: a `sitecustomize` module (`sqlite_tracer_env`) wraps
  `sqlite3.connect` in every measured Python process and records each statement SQLite
  runs (`set_trace_callback`, which also sees the implicit BEGINs of the sqlite3 module).
  There, a round trip is a statement: each is one call into the library.

Counting goes through the proxy or the tracer, never in the timed runs.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import socket
import struct
import threading
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path

import sqlalchemy as sa

# -- what was sent --------------------------------------------------------------------


@dataclasses.dataclass
class Traffic:
    """What one or more processes sent to the database."""

    connections: int = 0
    round_trips: int = 0
    #: round trips spent before a connection's first command (TLS refusal, start-up, auth)
    connect_round_trips: int = 0
    #: the SQL text of every statement, in the order sent (a multi-statement Query split)
    statements: list[str] = dataclasses.field(default_factory=list)
    #: protocol messages by type: PostgreSQL's type letters, MariaDB's COM_* names
    messages: Counter[str] = dataclasses.field(default_factory=Counter)
    #: PostgreSQL: the statements the server reported done or failed (CommandComplete,
    #: EmptyQueryResponse, ErrorResponse), a check of `statements`; None elsewhere
    server_statements: int | None = None

    def add(self, other: Traffic) -> None:
        if other.server_statements is not None:
            self.server_statements = (self.server_statements or 0) + other.server_statements
        self.connections += other.connections
        self.round_trips += other.round_trips
        self.connect_round_trips += other.connect_round_trips
        self.statements += other.statements
        self.messages.update(other.messages)


def split_sql(text: str) -> list[str]:
    """The statements of a multi-statement string: split at semicolons outside quotes,
    dollar quotes and comments; empty statements dropped."""
    out: list[str] = []
    start = i = 0
    n = len(text)
    while i < n:
        c = text[i]
        if c in "'\"`":
            i += 1
            while i < n and text[i] != c:
                i += 2 if text[i] == "\\" and c != '"' else 1
        elif c == "-" and text.startswith("--", i):
            i = text.find("\n", i)
            i = n if i < 0 else i
        elif c == "/" and text.startswith("/*", i):
            i = text.find("*/", i + 2)
            i = n if i < 0 else i + 1
        elif c == "$":
            tag = re.match(r"\$[A-Za-z_0-9]*\$", text[i:])
            if tag:
                end = text.find(tag.group(), i + len(tag.group()))
                i = n if end < 0 else end + len(tag.group()) - 1
        elif c == ";":
            out.append(text[start:i])
            start = i + 1
        i += 1
    out.append(text[start:])
    return [s.strip() for s in out if s.strip()]


_COMMENTS = re.compile(r"^(\s+|--[^\n]*\n?|/\*.*?\*/)+", re.S)


def kind(sql: str, prefix: str = "dbshift_") -> str:
    """What a statement is for, in the terms of issue 14's optimisation targets: the
    bookkeeping tables are dbshift's (`prefix`); other tools' own tables count as
    `other` (or `DDL` when created)."""
    text = _COMMENTS.sub("", sql)
    up = text.upper()
    word = up.split(None, 1)[0] if up.split() else ""
    table = re.search(rf"\b{re.escape(prefix.upper())}(HISTORY|LOG|LOCK)\b", up)
    if word in ("COMMIT", "END"):
        return "commit"
    if word == "ROLLBACK":
        return "rollback"
    if re.match(r"BEGIN\s+(IMMEDIATE|EXCLUSIVE)\b", up):
        return "lock (BEGIN IMMEDIATE)"  # SQLite: the transaction that takes the write lock
    if word == "BEGIN" or up.startswith("START TRANSACTION"):
        return "begin"
    if "ADVISORY_" in up or "GET_LOCK(" in up or "RELEASE_LOCK(" in up or word == "LOCK":
        return "lock"  # PostgreSQL's lock statement also sets application_name
    if word == "SELECT" and "SET_CONFIG(" in up and table is not None:
        return "history read + SET LOCAL"  # PostgreSQL: the timeouts set by the re-check
    if word in ("SET", "RESET") or "SET_CONFIG(" in up:
        return "SET"
    log_too = re.search(rf"\b{re.escape(prefix.upper())}LOG\b", up)
    if word == "WITH" and table is not None and table.group(1) == "HISTORY" and log_too:
        return "history + log write"  # PostgreSQL: the row and its event in one statement
    if table is not None:
        name = table.group(1).lower()
        if word in ("CREATE", "ALTER", "DROP"):
            return "bookkeeping DDL"
        if name == "lock":
            return "lease"
        what = {"SELECT": "read", "INSERT": "insert", "UPDATE": "update", "DELETE": "delete"}
        if word in what:
            if name == "history" and word == "UPDATE" and "'APPLIED'" in up:
                return "history update (applied)"  # literal SQL (MariaDB): the final row
            if name == "history" and word == "UPDATE":
                return "journal update"
            if name == "history" and word == "INSERT" and "'PARTIAL'" in up:
                return "partial row insert"  # literal SQL (MariaDB): before the first statement
            return f"{name} {what[word]}"
        return f"{name} other"
    if word in ("CREATE", "ALTER", "DROP"):
        return "DDL"
    if word in ("SELECT", "SHOW", "PRAGMA", "WITH"):
        return "other read"
    return "other"


# -- SQLite: a tracer in every measured process ---------------------------------------------

TRACER = '''\
"""Installed by dbshift's bench/roundtrips.py (PYTHONPATH): records every SQLite statement."""
import atexit, json, os, sqlite3, sqlite3.dbapi2

_out = os.environ.get("DBSHIFT_BENCH_TRACE")
if _out:
    _statements = []
    _connections = [0]
    _connect = sqlite3.dbapi2.connect

    def _traced(*args, **kwargs):
        conn = _connect(*args, **kwargs)
        _connections[0] += 1
        conn.set_trace_callback(_statements.append)
        return conn

    sqlite3.connect = sqlite3.dbapi2.connect = _traced

    @atexit.register
    def _save():
        with open(f"{_out}.{os.getpid()}.json", "w") as f:
            json.dump({"connections": _connections[0], "statements": _statements}, f)
'''


def sqlite_tracer_env(root: Path, env: dict[str, str], name: str) -> tuple[dict[str, str], Path]:
    """(the environment of a traced process, the prefix of the files its processes
    write); `read_sqlite_traces` reads them."""
    site = root / "sqlite_tracer"
    site.mkdir(exist_ok=True)
    (site / "sitecustomize.py").write_text(TRACER)
    prefix = root / "traces" / name
    prefix.parent.mkdir(exist_ok=True)
    for old in prefix.parent.glob(prefix.name + ".*.json"):
        old.unlink()
    traced = dict(env)
    traced["PYTHONPATH"] = os.pathsep.join(filter(None, [str(site), env.get("PYTHONPATH")]))
    traced["DBSHIFT_BENCH_TRACE"] = str(prefix)
    return traced, prefix


def read_sqlite_traces(prefix: Path) -> Traffic:
    traffic = Traffic()
    files = sorted(prefix.parent.glob(prefix.name + ".*.json"))
    if not files:
        raise RuntimeError(f"no SQLite trace written at {prefix}.*: was the tracer imported?")
    for file in files:
        data = json.loads(file.read_text())
        traffic.connections += data["connections"]
        # The trace reports each statement as it runs: a statement is one call into SQLite.
        traffic.statements += [" ".join(s.split()) for s in data["statements"]]
    traffic.round_trips = len(traffic.statements)
    traffic.messages["statement"] = len(traffic.statements)
    return traffic


# -- PostgreSQL and MariaDB: a counting proxy -----------------------------------------------


class _Session:
    """One proxied connection: parses the client's stream, counts the round trips."""

    def __init__(self, backend: str) -> None:
        self.backend = backend
        self.traffic = Traffic(connections=1)
        self.lock = threading.Lock()
        self.waiting = False  # the client sent something the server has not answered yet
        self.commands = 0  # commands seen so far (0: still connecting)
        self.buffer = b""
        self.startup = backend == "postgresql"  # PostgreSQL's first messages have no type
        self.prepared: dict[bytes, str] = {}
        self.portals: dict[bytes, str] = {}
        self.server_buffer = b""
        if backend == "postgresql":
            self.traffic.server_statements = 0

    def client_data(self, data: bytes, client: socket.socket) -> bytes:
        """Record data from the client; what to forward to the server."""
        with self.lock:
            self.waiting = True
            self.buffer += data
            forward, reply = (
                self._postgresql() if self.backend == "postgresql" else self._mariadb(data)
            )
            if reply:  # answered by the proxy itself
                self.waiting = False
                self._round_trip()
        if reply:
            client.sendall(reply)
        return forward

    def server_data(self, data: bytes) -> None:
        with self.lock:
            if self.waiting:
                self.waiting = False
                self._round_trip()
            if self.backend == "postgresql":
                self._postgresql_server(data)

    def _postgresql_server(self, data: bytes) -> None:
        """Count the statements the server completed (its messages are all typed: the
        proxy answers the untyped SSL refusal itself)."""
        buffer = self.server_buffer + data
        at = 0
        while len(buffer) - at >= 5:
            (length,) = struct.unpack("!i", buffer[at + 1 : at + 5])
            if len(buffer) - at < 1 + length:
                break
            if buffer[at : at + 1] in (b"C", b"I", b"E"):
                self.traffic.server_statements = (self.traffic.server_statements or 0) + 1
            at += 1 + length
        self.server_buffer = buffer[at:]

    def _round_trip(self) -> None:
        self.traffic.round_trips += 1
        if not self.commands:
            self.traffic.connect_round_trips += 1

    def _postgresql(self) -> tuple[bytes, bytes]:
        forward = b""
        while True:
            if self.startup:
                if len(self.buffer) < 8:
                    return forward, b""
                length, code = struct.unpack("!ii", self.buffer[:8])
                if len(self.buffer) < length:
                    return forward, b""
                message, self.buffer = self.buffer[:length], self.buffer[length:]
                if code in (80877103, 80877104):  # SSLRequest, GSSENCRequest: say no
                    self.traffic.messages["SSLRequest" if code == 80877103 else "GSSENC"] += 1
                    return forward, b"N"
                self.startup = False
                self.traffic.messages["startup"] += 1
                forward += message
                continue
            if len(self.buffer) < 5:
                return forward, b""
            (length,) = struct.unpack("!i", self.buffer[1:5])
            if len(self.buffer) < 1 + length:
                return forward, b""
            message, self.buffer = self.buffer[: 1 + length], self.buffer[1 + length :]
            forward += message
            self._postgresql_message(chr(message[0]), message[5:])

    def _postgresql_message(self, type_: str, body: bytes) -> None:
        self.traffic.messages[type_] += 1
        if type_ in "QPBESH":
            self.commands += 1
        if type_ == "Q":
            self.traffic.statements += split_sql(body.rstrip(b"\0").decode(errors="replace"))
        elif type_ == "P":
            name, _, rest = body.partition(b"\0")
            self.prepared[name] = rest.partition(b"\0")[0].decode(errors="replace")
        elif type_ == "B":
            portal, _, rest = body.partition(b"\0")
            self.portals[portal] = self.prepared.get(rest.partition(b"\0")[0], "?")
        elif type_ == "E":
            self.traffic.statements.append(self.portals.get(body.partition(b"\0")[0], "?"))

    def _mariadb(self, _data: bytes) -> tuple[bytes, bytes]:
        forward = b""
        while len(self.buffer) >= 4:
            length = int.from_bytes(self.buffer[:3], "little")
            if len(self.buffer) < 4 + length:
                break
            packet, self.buffer = self.buffer[: 4 + length], self.buffer[4 + length :]
            forward += packet
            if packet[3] == 0 and length:  # sequence 0: a command (the handshake is 1, 3, ...)
                self.commands += 1
                command = _MARIADB_COMMANDS.get(packet[4], f"COM_0x{packet[4]:02x}")
                self.traffic.messages[command] += 1
                if command == "COM_QUERY":
                    self.traffic.statements += split_sql(packet[5:].decode(errors="replace"))
                elif command == "COM_STMT_EXECUTE":
                    self.traffic.statements.append("<prepared statement>")
        return forward, b""


_MARIADB_COMMANDS = {
    0x01: "COM_QUIT",
    0x02: "COM_INIT_DB",
    0x03: "COM_QUERY",
    0x0E: "COM_PING",
    0x11: "COM_CHANGE_USER",
    0x16: "COM_STMT_PREPARE",
    0x17: "COM_STMT_EXECUTE",
    0x19: "COM_STMT_CLOSE",
    0x1B: "COM_SET_OPTION",
    0x1F: "COM_RESET_CONNECTION",
}


class Proxy:
    """A counting TCP proxy on 127.0.0.1 in front of one server (threads, one pair per
    connection). `take()` returns what went through since the last call."""

    def __init__(self, backend: str, host: str, port: int) -> None:
        self.backend, self.upstream = backend, (host, port)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self.listener.getsockname()[1]
        self.sessions: list[_Session] = []
        self.lock = threading.Lock()
        self.threads: list[threading.Thread] = []
        self.closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def url(self, url: str) -> str:
        """`url` pointed at the proxy instead of the server."""
        return sa.make_url(url).set(host="127.0.0.1", port=self.port).render_as_string(False)

    def _accept(self) -> None:
        while not self.closed:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            try:
                server = socket.create_connection(self.upstream, timeout=10)
                server.settimeout(None)
            except OSError:
                client.close()  # the tool sees the connection fail, as without the proxy
                continue
            for s in (client, server):
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            session = _Session(self.backend)
            with self.lock:
                self.sessions.append(session)
                for target in (self._upstream, self._downstream):
                    thread = threading.Thread(
                        target=target, args=(session, client, server), daemon=True
                    )
                    thread.start()
                    self.threads.append(thread)

    @staticmethod
    def _upstream(session: _Session, client: socket.socket, server: socket.socket) -> None:
        try:
            while data := client.recv(65536):
                forward = session.client_data(data, client)
                if forward:
                    server.sendall(forward)
        except OSError:
            pass
        finally:
            _shut(server)

    @staticmethod
    def _downstream(session: _Session, client: socket.socket, server: socket.socket) -> None:
        try:
            while data := server.recv(65536):
                session.server_data(data)
                client.sendall(data)
        except OSError:
            pass
        finally:
            _shut(client)

    def take(self) -> Traffic:
        """Everything counted since the last `take`, once its connections have closed."""
        with self.lock:
            threads, self.threads = self.threads, []
            sessions, self.sessions = self.sessions, []
        for thread in threads:
            thread.join(timeout=10)
        total = Traffic()
        for session in sessions:
            total.add(session.traffic)
        return total

    def close(self) -> None:
        self.closed = True
        self.listener.close()


def _shut(sock: socket.socket) -> None:
    with suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()


@contextmanager
def proxy(backend: str, url: str) -> Iterator[Proxy]:
    """A counting proxy in front of the server of `url`, closed afterwards."""
    parsed = sa.make_url(url)
    default = 5432 if backend == "postgresql" else 3306
    p = Proxy(backend, parsed.host or "127.0.0.1", parsed.port or default)
    try:
        yield p
    finally:
        p.close()


# -- per migration --------------------------------------------------------------------------


@dataclasses.dataclass
class PerMigration:
    """Counts per migration (the difference between two runs of different sizes, so the
    fixed part drops out) and the fixed part (what a run costs besides its migrations)."""

    statements: float
    round_trips: float
    fixed_statements: float
    fixed_round_trips: float
    connections: int
    kinds: dict[str, float]
    messages: dict[str, float]


def per_migration(small: Traffic, large: Traffic, n_small: int, n_large: int) -> PerMigration:
    span = n_large - n_small

    def per(a: float, b: float) -> float:
        return (b - a) / span

    s = per(len(small.statements), len(large.statements))
    r = per(small.round_trips, large.round_trips)
    kinds_small = Counter(kind(x) for x in small.statements)
    kinds_large = Counter(kind(x) for x in large.statements)
    return PerMigration(
        statements=s,
        round_trips=r,
        fixed_statements=len(small.statements) - s * n_small,
        fixed_round_trips=small.round_trips - r * n_small,
        connections=large.connections,
        kinds={
            k: per(kinds_small[k], kinds_large[k])
            for k in sorted(set(kinds_small) | set(kinds_large))
        },
        messages={
            k: per(small.messages[k], large.messages[k])
            for k in sorted(set(small.messages) | set(large.messages))
        },
    )


def number(value: float) -> str:
    """A count per migration: whole numbers bare, others with two decimals."""
    return f"{value:.0f}" if abs(value - round(value)) < 0.005 else f"{value:.2f}"


def kinds_text(kinds: dict[str, float], order: Sequence[str] = ()) -> str:
    keys = [k for k in order if kinds.get(k)] + sorted(
        k for k in kinds if k not in order and abs(kinds[k]) >= 0.005
    )
    return ", ".join(f"{k} {number(kinds[k])}" for k in keys) or "none"
