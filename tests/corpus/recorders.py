"""Servers that only record: what `psql` and `mariadb` send, one query per message.

A client decides where a statement ends and sends each one as its own protocol message
(a PostgreSQL `Query`, a MySQL `COM_QUERY`). These listeners speak just enough of each
wire protocol for the real client to connect, then answer every query with "OK" and
keep its text: the client's own statement boundaries, exactly, without running a
regression file's `CREATE ROLE`, `ALTER SYSTEM` or `sys.` procedures on a shared server
(and without its load). They listen on 127.0.0.1 only, on a free port, and trust anyone.

The one thing a real PostgreSQL server says back that changes how psql reads the rest of
a file is `standard_conforming_strings` (psql then lexes `'...'` with or without
backslash escapes), so `SET standard_conforming_strings` is answered with the
`ParameterStatus` the server would send.
"""

from __future__ import annotations

import re
import socket
import socketserver
import struct
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress

_SCS = re.compile(
    r"\s*(?:SET\s+(?:SESSION\s+|LOCAL\s+)?standard_conforming_strings\s*(?:=|TO)\s*'?(\w+)"
    r"|RESET\s+standard_conforming_strings\b)",
    re.IGNORECASE,
)


def _read(stream: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = stream.recv(size - len(data))
        if not chunk:
            raise ConnectionError("client closed the connection")
        data += chunk
    return data


# -- PostgreSQL (protocol 3.0) ------------------------------------------------------------


def _pg_message(kind: bytes, body: bytes = b"") -> bytes:
    return kind + struct.pack("!I", len(body) + 4) + body


def _pg_parameter(name: str, value: str) -> bytes:
    return _pg_message(b"S", f"{name}\0{value}\0".encode())


def _pg_session(stream: socket.socket, queries: list[str]) -> None:
    while True:  # SSLRequest / GSSENCRequest are declined, then the real startup
        (length,) = struct.unpack("!I", _read(stream, 4))
        (code,) = struct.unpack("!I", _read(stream, length - 4)[:4])
        if code in (80877103, 80877104):
            stream.sendall(b"N")
            continue
        break
    greeting = _pg_message(b"R", struct.pack("!I", 0))
    for name, value in [
        ("server_version", "15.0"),
        ("server_encoding", "UTF8"),
        ("client_encoding", "UTF8"),
        ("standard_conforming_strings", "on"),
        ("DateStyle", "ISO, MDY"),
        ("integer_datetimes", "on"),
    ]:
        greeting += _pg_parameter(name, value)
    greeting += _pg_message(b"K", struct.pack("!II", 1, 1)) + _pg_message(b"Z", b"I")
    stream.sendall(greeting)
    while True:
        kind = _read(stream, 1)
        (length,) = struct.unpack("!I", _read(stream, 4))
        body = _read(stream, length - 4)
        if kind == b"X":
            return
        if kind != b"Q":
            continue
        query = body[:-1].decode("utf-8", "surrogateescape")
        queries.append(query)
        reply = b""
        scs = _SCS.match(query)
        if scs is not None:
            value = (scs.group(1) or "on").lower()
            on = value in ("on", "true", "yes", "1", "default")
            reply += _pg_parameter("standard_conforming_strings", "on" if on else "off")
        reply += _pg_message(b"C", b"SELECT 0\0") + _pg_message(b"Z", b"I")
        stream.sendall(reply)


# -- MySQL / MariaDB ----------------------------------------------------------------------

_MYSQL_CAPABILITIES = (
    0x1  # CLIENT_LONG_PASSWORD (a MySQL server: MariaDB's extended flags unused)
    | 0x8  # CLIENT_CONNECT_WITH_DB
    | 0x200  # CLIENT_PROTOCOL_41
    | 0x2000  # CLIENT_TRANSACTIONS
    | 0x8000  # CLIENT_SECURE_CONNECTION
    | 0x10000  # CLIENT_MULTI_STATEMENTS
    | 0x20000  # CLIENT_MULTI_RESULTS
    | 0x80000  # CLIENT_PLUGIN_AUTH
)
_MYSQL_OK = b"\x00\x00\x00" + struct.pack("<HH", 0x0002, 0)  # autocommit, no warnings


def _mysql_packet(sequence: int, payload: bytes) -> bytes:
    return struct.pack("<I", len(payload))[:3] + bytes([sequence & 0xFF]) + payload


def _mysql_read(stream: socket.socket) -> tuple[int, bytes]:
    header = _read(stream, 4)
    length = int.from_bytes(header[:3], "little")
    return header[3], _read(stream, length)


def _mysql_session(stream: socket.socket, queries: list[str]) -> None:
    greeting = (
        b"\x0a5.5.5-10.11.0-MariaDB-recorder\0"
        + struct.pack("<I", 1)
        + b"abcdefgh\0"
        + struct.pack("<H", _MYSQL_CAPABILITIES & 0xFFFF)
        + bytes([45])  # utf8mb4_general_ci
        + struct.pack("<H", 0x0002)
        + struct.pack("<H", _MYSQL_CAPABILITIES >> 16)
        + bytes([21])
        + b"\0" * 10
        + b"ijklmnopqrst\0"
        + b"mysql_native_password\0"
    )
    stream.sendall(_mysql_packet(0, greeting))
    sequence, _ = _mysql_read(stream)  # the handshake response: anyone is let in
    stream.sendall(_mysql_packet(sequence + 1, _MYSQL_OK))
    while True:
        sequence, payload = _mysql_read(stream)
        if not payload or payload[0] == 0x01:  # COM_QUIT
            return
        if payload[0] == 0x03:  # COM_QUERY
            queries.append(payload[1:].decode("utf-8", "surrogateescape"))
        elif payload[0] == 0x02:  # COM_INIT_DB: the client's `USE db`, kept as that
            queries.append("USE " + payload[1:].decode("utf-8", "surrogateescape"))
        stream.sendall(_mysql_packet(sequence + 1, _MYSQL_OK))


# -- the listener -------------------------------------------------------------------------


@contextmanager
def recording(protocol: str) -> Iterator[tuple[int, list[str]]]:
    """Listen for `protocol` ("postgresql" or "mysql"); yield (port, received queries)."""
    session: Callable[[socket.socket, list[str]], None] = (
        _pg_session if protocol == "postgresql" else _mysql_session
    )
    queries: list[str] = []

    class Handler(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            with suppress(ConnectionError):
                session(self.request, queries)

    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    try:
        yield server.server_address[1], queries
    finally:
        server.shutdown()
        server.server_close()
