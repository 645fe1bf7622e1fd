"""yoyo's `step()` and `group()` for a converted yoyo migration (`adopt/yoyo.py`).

A converted `.py` file keeps its yoyo code; its `step`, `group` and `transaction` are
a `Steps` collector's, and `upgrade(op)` / `downgrade(op)` run the collected steps with
`op.run(steps.apply)` / `op.run(steps.rollback)`, as yoyo runs them:

- in the order declared, rollbacks in reverse (a group's members too);
- a step's SQL text through a DB-API cursor, a callable given the DB-API connection
  (yoyo's `backend.connection`), both on the migration's connection and transaction;
- `ignore_errors="apply" | "rollback" | "all"`: a database error in that direction is
  swallowed; inside a transaction the step runs under a savepoint, so what it did is
  undone and the migration goes on (yoyo nests a transaction there too).

Nothing here imports yoyo: a converted project runs without it.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import sqlalchemy as sa

#: what a step runs: SQL text, or a function of the DB-API connection
Action = str | Callable[[Any], Any] | None
_IGNORE = (None, "all", "apply", "rollback")


@dataclasses.dataclass(eq=False)
class _Step:
    apply: Action
    rollback: Action
    ignore_errors: str | None = None
    members: tuple[_Step, ...] = ()  # a group's steps

    def run(self, conn: sa.Connection, direction: str) -> None:
        if self.ignore_errors not in (direction, "all"):
            self._body(conn, direction)
            return
        dbapi_error = conn.dialect.loaded_dbapi.Error
        savepoint = conn.begin_nested() if conn.in_transaction() else None
        try:
            self._body(conn, direction)
        except (sa.exc.DBAPIError, dbapi_error):
            if savepoint is not None:
                savepoint.rollback()
            return
        if savepoint is not None:
            savepoint.commit()

    def _body(self, conn: sa.Connection, direction: str) -> None:
        if self.members:
            members = self.members if direction == "apply" else reversed(self.members)
            for member in members:
                member.run(conn, direction)
            return
        _execute(conn, self.apply if direction == "apply" else self.rollback)


def _execute(conn: sa.Connection, action: Action) -> None:
    if action is None:
        return
    raw = conn.connection.dbapi_connection
    if isinstance(action, str):
        with _cursor(raw) as cursor:
            cursor.execute(action)
        return
    action(raw)


@contextlib.contextmanager
def _cursor(raw: Any) -> Iterator[Any]:
    cursor = raw.cursor()
    try:
        yield cursor
    finally:
        cursor.close()


class Steps:
    """The steps a converted yoyo migration declares, in order (see the module)."""

    def __init__(self) -> None:
        self._steps: list[_Step] = []

    def step(
        self, apply: Action, rollback: Action = None, ignore_errors: str | None = None
    ) -> _Step:
        """yoyo's `step(apply, rollback=None, ignore_errors=None)`."""
        if ignore_errors not in _IGNORE:
            raise ValueError(f"ignore_errors must be one of {_IGNORE}, not {ignore_errors!r}")
        found = _Step(apply, rollback, ignore_errors)
        self._steps.append(found)
        return found

    def group(self, *steps: _Step | Iterable[_Step], **options: Any) -> _Step:
        """yoyo's `group(step, ..., ignore_errors=None)` (also `steps=[...]`): the steps
        leave the top level and run as one."""
        if "steps" in options and steps:
            raise ValueError("group() takes steps positionally or as steps=, not both")
        given: Iterable[Any] = options.pop("steps", steps)
        members: list[_Step] = []
        for item in given:
            members.extend([item] if isinstance(item, _Step) else item)
        for member in members:
            self._steps.remove(member)
        ignore = options.pop("ignore_errors", None)
        if ignore not in _IGNORE:
            raise ValueError(f"ignore_errors must be one of {_IGNORE}, not {ignore!r}")
        found = _Step(None, None, ignore, tuple(members))
        self._steps.append(found)
        return found

    transaction = group

    def apply(self, conn: sa.Connection) -> None:
        """Every step's apply, in order (`op.run(steps.apply)`)."""
        for found in self._steps:
            found.run(conn, "apply")

    def rollback(self, conn: sa.Connection) -> None:
        """Every step's rollback, last step first (`op.run(steps.rollback)`)."""
        for found in reversed(self._steps):
            found.run(conn, "rollback")
