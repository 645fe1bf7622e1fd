"""dbshift: schema migrations for Python, versioned, exact, safe and fast.

import dbshift
config = dbshift.Config(url="sqlite:///app.db", migrations="migrations")
dbshift.upgrade(config, "head")
"""

from dbshift._version import __version__
from dbshift.api import (
    HistoryEntry,
    MigrationInfo,
    RepairReport,
    Status,
    downgrade,
    heads,
    history,
    init,
    merge,
    new,
    repair,
    show,
    sql,
    stamp,
    status,
    upgrade,
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
from dbshift.runner import Plan, RunReport, Step, StepResult

__all__ = [
    "ChecksumMismatch",
    "Config",
    "ConfigError",
    "DatabaseError",
    "DbshiftError",
    "GraphError",
    "HistoryEntry",
    "IntegrityError",
    "IrreversibleMigration",
    "LockTimeout",
    "MigrationError",
    "MigrationInfo",
    "Plan",
    "RepairReport",
    "RunReport",
    "Status",
    "Step",
    "StepResult",
    "UsageError",
    "__version__",
    "downgrade",
    "heads",
    "history",
    "init",
    "merge",
    "new",
    "repair",
    "show",
    "sql",
    "stamp",
    "status",
    "upgrade",
]
