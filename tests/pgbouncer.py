"""A private PgBouncer in transaction pooling mode in front of a test's PostgreSQL
database: many clients share a few server connections, and each transaction may run
on another one (what a session setting does not survive)."""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.conftest import REQUIRE_SERVERS


@contextlib.contextmanager
def pgbouncer(db_url: str, *, pool_size: int) -> Iterator[str]:
    """The URL of a PgBouncer (`pool_mode = transaction`, `pool_size` server connections
    for any number of clients) in front of `db_url`'s server, stopped afterwards."""
    binary = shutil.which("pgbouncer", path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin")
    if binary is None:
        message = "pgbouncer is not installed (apt-get install pgbouncer)"
        if REQUIRE_SERVERS:
            pytest.fail(f"{message} (DBSHIFT_REQUIRE_SERVERS=1)")
        pytest.skip(message)
    server = sa.make_url(db_url)
    work = Path(tempfile.mkdtemp(prefix="dbshift-pgbouncer-"))
    port = _free_port()
    (work / "users.txt").write_text(f'"{server.username}" ""\n')
    ini = work / "pgbouncer.ini"
    ini.write_text(
        textwrap.dedent(
            f"""\
            [databases]
            * = host={server.host or "127.0.0.1"} port={server.port or 5432}
            [pgbouncer]
            listen_addr = 127.0.0.1
            listen_port = {port}
            unix_socket_dir =
            auth_type = trust
            auth_file = {work / "users.txt"}
            pool_mode = transaction
            max_client_conn = 200
            default_pool_size = {pool_size}
            reserve_pool_size = 0
            ignore_startup_parameters = extra_float_digits,options
            log_connections = 0
            log_disconnections = 0
            pidfile = {work / "pgbouncer.pid"}
            """
        )
    )
    command = [binary, str(ini)]
    if os.geteuid() == 0:  # pgbouncer refuses to run as root
        user = pwd.getpwnam("postgres")
        for path in (work, *work.iterdir()):
            os.chown(path, user.pw_uid, user.pw_gid)
        command = [binary, "-u", "postgres", str(ini)]
    output = (work / "output.txt").open("w")  # a file: a full pipe would stall it
    proc = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT)
    url = server.set(port=port).render_as_string(hide_password=False)
    try:
        _wait_ready(url, proc, work / "output.txt")
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        output.close()
        shutil.rmtree(work, ignore_errors=True)


def _wait_ready(url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 15
    while True:
        if proc.poll() is not None:
            pytest.fail(f"pgbouncer exited at start: {log.read_text()}")
        engine = sa.create_engine(url, poolclass=sa.NullPool)
        try:
            with engine.connect() as conn:
                conn.execute(sa.text("SELECT 1"))
            return
        except sa.exc.OperationalError:
            if time.monotonic() > deadline:
                pytest.fail("pgbouncer did not accept connections within 15 s")
            time.sleep(0.1)
        finally:
            engine.dispose()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port
