"""The lease: the runner lock for a migration that runs outside a transaction.

A transaction lock (`dialects/locking.py`) ends with its transaction, so it cannot cover
`CREATE INDEX CONCURRENTLY` and other statements that run in autocommit mode, and a
session lock is unusable behind PgBouncer in transaction pooling mode. So the runner
writes a lease row (`<prefix>lock`: holder, pid, since, renewed, ttl) inside a locked
transaction before such a migration, renews it from a heartbeat thread on connections
of its own while the statements run, and frees it afterwards. Every locked transaction
of every other runner reads the row and waits while the lease is live.

A lease is live until it was not renewed for `ttl` seconds of the database's clock. A
holder that died on this machine (same boot, same pid namespace, pid gone) is known to
be dead at once, so a re-run after a crash does not wait for the expiry.
"""

from __future__ import annotations

import contextlib
import os
import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from functools import cache

from dbshift.history import LeaseRow, who

#: seconds a lease lives without renewal unless the runner is given another
#: (`Runner(lease_ttl=...)`, `Lease(name, ttl)`); the heartbeat renews it every third
TTL = 30.0


class Busy(Exception):
    """Another runner holds the lock or a live lease; the caller retries later."""

    def __init__(self, holder: Callable[[], str]) -> None:
        super().__init__("busy")
        self.holder = holder


@cache
def process_identity() -> str:
    """This machine's boot and this process's pid namespace: a pid means the same
    process only when both are equal (containers share hostnames and pid numbers)."""
    parts = []
    with contextlib.suppress(OSError), open("/proc/sys/kernel/random/boot_id") as boot:
        parts.append(boot.read().strip())
    with contextlib.suppress(OSError):
        parts.append(os.readlink("/proc/self/ns/pid"))
    return ":".join(parts) if len(parts) == 2 else ""


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists, owned by someone else
        return True
    return True


class Lease:
    """This runner's identity and its rules for reading and taking the lease row."""

    def __init__(self, name: str, ttl: float | None = None) -> None:
        self.name = name
        self.ttl = TTL if ttl is None else ttl
        self.token = uuid.uuid4().hex
        self.me = f"dbshift {who()} pid {os.getpid()}"

    def mine(self, migration_id: str | None, session: str | None = None) -> LeaseRow:
        return LeaseRow(
            name=self.name,
            token=self.token,
            holder=who(),
            pid=os.getpid(),
            process=process_identity(),
            migration_id=migration_id,
            since=0.0,
            renewed=0.0,
            ttl=self.ttl,
            session=session,
        )

    def blocks(self, row: LeaseRow | None) -> bool:
        """True when `row` is another runner's live lease."""
        if row is None or row.token is None or row.token == self.token or row.expired:
            return False
        return not self.holder_is_dead(row)

    @staticmethod
    def holder_is_dead(row: LeaseRow) -> bool:
        here = process_identity()
        return bool(here) and row.process == here and not _pid_alive(row.pid)


def signature(row: LeaseRow) -> str:
    """`dbshift user@host pid N since …`: the runner behind a session lock (MySQL)."""
    since = datetime.fromtimestamp(row.since, UTC)
    return f"dbshift {row.holder} pid {row.pid}, since {since:%Y-%m-%d %H:%M:%S} UTC"


def describe(row: LeaseRow) -> str:
    """` (lease of user@host pid N, applying ID, since …, renewed N s ago)`."""
    since = datetime.fromtimestamp(row.since, UTC)
    doing = f", applying {row.migration_id}" if row.migration_id else ""
    return (
        f" (lease of {row.holder} pid {row.pid}{doing}, since {since:%Y-%m-%d %H:%M:%S} UTC, "
        f"renewed {max(0.0, row.now - row.renewed):.0f} s ago, expires after {row.ttl:g} s)"
    )


class Heartbeat:
    """Calls `renew` every `every` seconds on a thread until stopped or until `renew`
    returns False (the lease was taken over)."""

    def __init__(self, renew: Callable[[], bool], every: float) -> None:
        self._renew = renew
        self._every = every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="dbshift-lease", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self._every):
            try:
                if not self._renew():
                    return
            except Exception:  # a failed renewal is retried; expiry is the limit
                continue

    def stop(self) -> None:
        """Stop renewing; a renewal stuck on an unreachable server is left behind (the
        thread is a daemon), not waited for."""
        self._stop.set()
        self._thread.join(timeout=self._every)
