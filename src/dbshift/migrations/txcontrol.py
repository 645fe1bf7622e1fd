"""Statements that end or start a transaction, refused in every migration.

dbshift owns the transactions. It runs a transactional migration inside one transaction
with its history row: a `COMMIT` in it commits the first half early, and when a later
statement fails that half stays, no history row is written, and every re-run fails on
what already exists. It runs a non-transactional migration statement by statement, each
statement in a transaction of its own with its progress record: there a `BEGIN` groups
nothing (SQLite refuses it outright), a `COMMIT` commits dbshift's transaction before
its record, and a `ROLLBACK` undoes nothing. So such statements are found before
anything runs, with the splitter's view of the SQL.

What ends or starts a transaction, by backend:

* ``COMMIT``, ``END`` (PostgreSQL, SQLite), ``ABORT`` (PostgreSQL) and ``ROLLBACK``
  without ``TO [SAVEPOINT]`` end it; so do ``COMMIT/ROLLBACK PREPARED`` and ``PREPARE
  TRANSACTION`` (PostgreSQL).
* ``BEGIN`` / ``START TRANSACTION``: a no-op with a warning on PostgreSQL, an error on
  SQLite, an implicit commit on MySQL/MariaDB; never what the author meant.
* Not refused: ``SAVEPOINT``, ``RELEASE [SAVEPOINT]``, ``ROLLBACK TO`` (they stay inside
  the transaction; dbshift's own transaction starts with BEGIN, so a RELEASE cannot end
  it on SQLite either), ``BEGIN ATOMIC`` and MariaDB's ``BEGIN NOT ATOMIC`` (bodies).

MySQL/MariaDB run no migration in one transaction (DDL commits implicitly), but each
data statement runs in a transaction with its progress record: the file's BEGIN/COMMIT
could not group statements there either, so the rule is the same on every backend.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import sqlalchemy as sa

from dbshift.errors import MigrationError
from dbshift.migrations.sqlsplit import SqlStatement, split_sql
from dbshift.ops.raw import ExecuteSQL

__all__ = ["check_transaction_control", "is_transaction_control", "transaction_statements"]

_ENDS = frozenset({"COMMIT", "END", "ABORT"})


def is_transaction_control(keywords: Sequence[str]) -> bool:
    """Whether a statement with these first words ends or starts a transaction."""
    if not keywords:
        return False
    first, rest = keywords[0], list(keywords[1:3])
    if first in _ENDS:
        return True
    if first == "ROLLBACK":
        return "TO" not in rest  # ROLLBACK [WORK | TRANSACTION] TO [SAVEPOINT] x
    if first == "BEGIN":
        return not rest or rest[0] not in ("ATOMIC", "NOT")
    if first in ("START", "PREPARE"):
        return rest[:1] == ["TRANSACTION"]
    return False


def transaction_statements(sql: str, dialect: str) -> Iterator[SqlStatement]:
    """The statements of `sql` that end or start a transaction."""
    for statement in split_sql(sql, dialect):
        if is_transaction_control(statement.keywords):
            yield statement


def _sql_of(op: object) -> str | None:
    """The SQL text of a raw-SQL operation (a string or `sa.text`), else None."""
    if not isinstance(op, ExecuteSQL):
        return None
    if isinstance(op.sql, str):
        return op.sql
    if isinstance(op.sql, sa.TextClause):
        return op.sql.text
    return None


def check_transaction_control(
    name: str,
    operations: Sequence[object],
    lines: Sequence[int],
    dialect: str,
    transactional: bool = True,
) -> None:
    """Raise `MigrationError` when a migration's operations hold a statement that ends
    or starts a transaction. `lines` is each operation's line."""
    for index, op in enumerate(operations):
        sql = _sql_of(op)
        if sql is None:
            continue
        for statement in transaction_statements(sql, dialect):
            where = f"{name}:{lines[index]}" if index < len(lines) else name
            words = " ".join(statement.text.split())
            shown = words if len(words) <= 60 else words[:57] + "..."
            raise MigrationError(
                f"{where}: `{shown}` {_WHY[transactional]}; nothing was run", hint=_HINT
            )


_WHY = {
    True: "ends or starts a transaction inside a transactional migration (a later "
    "failure would leave it half-applied)",
    False: "in a non-transactional migration groups or undoes nothing: each statement "
    "commits on its own, with its progress record",
}
_HINT = (
    "remove it: dbshift commits each migration (or, with `transactional = False`, each "
    "statement); statements that must commit together belong in a transactional "
    "migration of their own, the ones that cannot run in a transaction in another"
)
