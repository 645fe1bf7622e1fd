"""`op` for code outside `upgrade(op)` and `downgrade(op)`: Alembic's module-level `op`.

An Alembic revision's helper functions use the `op` of `from alembic import op`, a proxy
to the migration running now. A converted revision whose helpers do imports this one
instead (`dbshift adopt`): each attribute is the one of the `op` dbshift passed to the
migration function running now (recording it, running it against the database, or
rendering it offline), so the helpers run unchanged. Used outside a running migration
function (at import, say), it is an error that says so.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable
from typing import Any, TypeVar

from dbshift.errors import MigrationError

T = TypeVar("T")

_running: contextvars.ContextVar[Any] = contextvars.ContextVar("dbshift_op", default=None)


def call(fn: Callable[[Any], T], op: Any) -> T:
    """`fn(op)`, with `op` what this module's `op` stands for while it runs."""
    token = _running.set(op)
    try:
        return fn(op)
    finally:
        _running.reset(token)


class _Current:
    """The running migration function's `op`, attribute by attribute."""

    def __getattr__(self, name: str) -> Any:
        op = _running.get()
        if op is None:
            raise MigrationError(
                f"op.{name} was used outside a running upgrade(op) or downgrade(op)",
                hint="call it from code that upgrade(op) or downgrade(op) runs, not at import",
            )
        return getattr(op, name)

    def __repr__(self) -> str:
        return "<the running migration's op (dbshift.ops.current)>"


op: Any = _Current()
