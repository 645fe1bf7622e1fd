"""The lock a change takes on its table, per backend: what a finding tells the reader
beyond its message ("ACCESS EXCLUSIVE" means even reads wait)."""

from __future__ import annotations

from dbshift.facts import Fact
from dbshift.linter.model import Target

_PG = {
    "drop_table": "ACCESS EXCLUSIVE",
    "rename_table": "ACCESS EXCLUSIVE",
    "add_column": "ACCESS EXCLUSIVE",
    "drop_column": "ACCESS EXCLUSIVE",
    "rename_column": "ACCESS EXCLUSIVE",
    "alter_type": "ACCESS EXCLUSIVE",
    "set_not_null": "ACCESS EXCLUSIVE",
    "drop_not_null": "ACCESS EXCLUSIVE",
    "set_default": "ACCESS EXCLUSIVE",
    "drop_default": "ACCESS EXCLUSIVE",
    "drop_expression": "ACCESS EXCLUSIVE",
    "add_identity": "ACCESS EXCLUSIVE",
    "set_identity": "ACCESS EXCLUSIVE",
    "drop_identity": "ACCESS EXCLUSIVE",
    "set_schema": "ACCESS EXCLUSIVE",
    "rename_constraint": "ACCESS EXCLUSIVE",
    "add_check": "ACCESS EXCLUSIVE",
    "add_unique": "ACCESS EXCLUSIVE",
    "add_primary_key": "ACCESS EXCLUSIVE",
    "drop_primary_key": "ACCESS EXCLUSIVE",
    "drop_constraint": "ACCESS EXCLUSIVE",
    "truncate": "ACCESS EXCLUSIVE",
    "add_foreign_key": "SHARE ROW EXCLUSIVE",
    "create_index": "SHARE",
    "drop_index": "ACCESS EXCLUSIVE",
    "validate_constraint": "SHARE UPDATE EXCLUSIVE",
    "update": "ROW EXCLUSIVE",
    "delete": "ROW EXCLUSIVE",
    "insert": "ROW EXCLUSIVE",
    "set_enum_values": "ACCESS EXCLUSIVE",
    "cluster": "ACCESS EXCLUSIVE",
    "vacuum_full": "ACCESS EXCLUSIVE",
    "reindex": "SHARE (ACCESS EXCLUSIVE on the index)",
    "detach_partition": "ACCESS EXCLUSIVE",
}
#: changes that lock a whole existing table on PostgreSQL (rows aside)
PG_TABLE_LOCKING = frozenset(_PG) - {"update", "delete", "insert"}
_DDL = PG_TABLE_LOCKING - {"validate_constraint"}


def lock_level(fact: Fact, target: Target) -> str | None:
    """The table lock `fact` takes on `target`, or None when it takes none worth naming
    (a new table, a session setting, unknown SQL)."""
    if target.backend == "postgresql":
        if fact.concurrently and fact.kind in (
            "create_index",
            "drop_index",
            "reindex",
            "detach_partition",
        ):
            return "SHARE UPDATE EXCLUSIVE"
        return _PG.get(fact.kind)
    if target.backend in ("mysql", "mariadb"):
        if fact.kind in ("update", "delete", "insert"):
            return "row locks"
        if fact.kind in _DDL:
            return "metadata lock (exclusive while the change is applied)"
        return None
    if target.backend == "sqlite" and (fact.kind in _DDL or fact.kind in ("update", "delete")):
        return "database write lock"
    return None
