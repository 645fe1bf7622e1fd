"""dbshift: schema migrations for Python, versioned, exact, safe and fast.

import dbshift
config = dbshift.Config(url="sqlite:///app.db", migrations="migrations")
dbshift.upgrade(config, "head")
"""

import logging
from typing import TYPE_CHECKING, Any

from dbshift._version import __version__
from dbshift.api import (
    AdoptReport,
    CheckReport,
    DriftReport,
    HistoryEntry,
    HistoryReport,
    MakeResult,
    MigrationInfo,
    RebaseResult,
    RepairReport,
    SchemaBaseline,
    Status,
    VerifyReport,
    adopt,
    baseline,
    check,
    diff,
    downgrade,
    drift,
    heads,
    history,
    init,
    lint,
    make,
    merge,
    new,
    rebase,
    rehash,
    repair,
    show,
    sql,
    stamp,
    status,
    upgrade,
    verify,
)
from dbshift.config import Config
from dbshift.errors import (
    ChecksumMismatch,
    ConfigError,
    DatabaseError,
    DbshiftError,
    GraphError,
    IntegrityError,
    IrreversibleMigration,
    LockTimeout,
    MigrationError,
    UsageError,
)
from dbshift.integrity import Problem

if TYPE_CHECKING:
    from dbshift.runner import Plan, RunReport, Step, StepResult

# The library logs under `dbshift` (docs/api.md, "Logging") and configures nothing: the
# application decides where records go. Without a handler of its own anywhere, Python
# would print WARNING and above to stderr (`logging.lastResort`).
logging.getLogger("dbshift").addHandler(logging.NullHandler())

_RUNNER_TYPES = frozenset({"Plan", "RunReport", "Step", "StepResult"})


def __getattr__(name: str) -> Any:
    """The runner's result types, imported on first use (keeps `status` start-up short)."""
    if name in _RUNNER_TYPES:
        # lazy: status start-up: the runner loads on first use
        from dbshift import runner

        return getattr(runner, name)
    raise AttributeError(f"module 'dbshift' has no attribute {name!r}")


__all__ = [
    "AdoptReport",
    "CheckReport",
    "ChecksumMismatch",
    "Config",
    "ConfigError",
    "DatabaseError",
    "DbshiftError",
    "DriftReport",
    "GraphError",
    "HistoryEntry",
    "HistoryReport",
    "IntegrityError",
    "IrreversibleMigration",
    "LockTimeout",
    "MakeResult",
    "MigrationError",
    "MigrationInfo",
    "Plan",
    "Problem",
    "RebaseResult",
    "RepairReport",
    "RunReport",
    "SchemaBaseline",
    "Status",
    "Step",
    "StepResult",
    "UsageError",
    "VerifyReport",
    "__version__",
    "adopt",
    "baseline",
    "check",
    "diff",
    "downgrade",
    "drift",
    "heads",
    "history",
    "init",
    "lint",
    "make",
    "merge",
    "new",
    "rebase",
    "rehash",
    "repair",
    "show",
    "sql",
    "stamp",
    "status",
    "upgrade",
    "verify",
]
