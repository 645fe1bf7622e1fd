"""Retrying a migration whose statement gave up waiting for a table lock.

A migration statement waits for its table lock at most `table_lock_timeout` (or the
file's `lock_timeout`), so the application's queries queued behind it are never held up
for longer. When the wait times out, the runner rolls the migration back (on MariaDB/
MySQL: the statement; the ones before it stay committed and recorded) and tries again
after a pause that doubles each time, with jitter so that many runners do not retry in
step. This module holds the pieces that are not the runner's own: the pause, recognising
the error, and asking the database, from a second connection, who holds the lock.
"""

from __future__ import annotations

import contextlib
import random
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from sqlalchemy import exc

if TYPE_CHECKING:
    from dbshift.dialects.base import DialectRules

#: the longest pause between two attempts, in seconds
MAX_DELAY = 10.0


def backoff(attempt: int, base: float) -> float:
    """The pause after failed attempt number `attempt` (1 is the first): `base` doubled
    per attempt, capped at `MAX_DELAY`, then scaled by a random factor in [0.5, 1]."""
    return min(MAX_DELAY, base * 2.0 ** (attempt - 1)) * random.uniform(0.5, 1.0)


def lock_timed_out(error: BaseException, dialect: DialectRules) -> bool:
    """Whether `error`, or an error it was raised from, is a lock wait timing out."""
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, exc.DBAPIError) and dialect.lock_timed_out(seen.orig or seen):
            return True
        seen = seen.__cause__
    return False


class BlockerWatch:
    """While an attempt runs, a timer that, once the statement has waited a while, asks
    the database on a connection of its own what it waits for (`DialectRules.blocker`).
    Only retries are watched: the first attempt costs nothing extra. Best effort: any
    failure leaves `found` None."""

    def __init__(self, ask: Callable[[], str | None], after: float) -> None:
        self.found: str | None = None
        self._ask = ask
        self._timer = threading.Timer(after, self._run)
        self._timer.daemon = True

    def __enter__(self) -> BlockerWatch:
        self._timer.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._timer.cancel()
        self._timer.join()

    def _run(self) -> None:
        with contextlib.suppress(Exception):
            self.found = self._ask()
