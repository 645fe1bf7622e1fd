"""The errors dbshift raises: each carries its exit code and a hint for the user.

Exit codes are part of the interface (scripts and CI read them):

====  =========================================================================
0     success
1     a check found something (pending migrations, differences, lint findings)
2     usage or configuration error
3     a migration or database error
4     an integrity error (checksum, sum file, graph)
5     the database lock could not be had in time
130   interrupted by Ctrl-C (SIGINT)
143   stopped by SIGTERM
====  =========================================================================
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dbshift.runner import RunReport


class DbshiftError(Exception):
    """Base of every error dbshift reports to a user."""

    exit_code = 3
    #: set when the error stopped an upgrade or downgrade part-way: what the run did
    #: before it (`report.done`: the migrations that stay applied, or reverted)
    report: RunReport | None = None

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message


class UsageError(DbshiftError):
    """The command line or API call is wrong (exit 2)."""

    exit_code = 2


class ConfigError(UsageError):
    """The configuration is missing or invalid (exit 2)."""


class DatabaseError(DbshiftError):
    """The database could not be reached or refused a statement (exit 3)."""

    exit_code = 3


class MigrationError(DbshiftError):
    """A migration failed to load or to run (exit 3)."""

    exit_code = 3

    def __init__(
        self,
        message: str,
        *,
        migration: str | None = None,
        statement: str | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message, hint=hint)
        self.migration = migration
        self.statement = statement


class IrreversibleMigration(MigrationError):
    """A downgrade was asked of a migration that cannot be reversed (exit 3)."""


class IntegrityError(DbshiftError):
    """Files and database disagree, or the graph is broken (exit 4). `migration` is the
    id of the migration it concerns, when there is one (`status` marks it there)."""

    exit_code = 4

    def __init__(
        self, message: str, *, migration: str | None = None, hint: str | None = None
    ) -> None:
        super().__init__(message, hint=hint)
        self.migration = migration


class GraphError(IntegrityError):
    """The revision graph is invalid: cycle, missing parent, duplicate id (exit 4)."""


class ChecksumMismatch(IntegrityError):
    """An applied migration was edited or deleted (exit 4)."""


class LockTimeout(DbshiftError):
    """Another runner held the database lock for longer than the timeout (exit 5)."""

    exit_code = 5


class Interrupted(KeyboardInterrupt):
    """The run was stopped by a signal: SIGINT (Ctrl-C, or migration code raising
    KeyboardInterrupt: exit 130) or SIGTERM (exit 143). A KeyboardInterrupt, so that an
    application calling the API sees the Ctrl-C it expects (and no `except Exception`
    swallows it); the runner names the migration it stopped and the state it left
    (`message`). The CLI reports it in one line (click wraps it in `Abort`)."""

    #: as `DbshiftError.report`: what the run did before the signal
    report: RunReport | None = None

    def __init__(self, signal_name: str = "SIGINT", message: str | None = None) -> None:
        self.signal_name = signal_name
        self.exit_code = 143 if signal_name == "SIGTERM" else 130
        self.message = message or f"interrupted by {signal_name}"
        self.hint = "run the command again: it finishes what was left"
        super().__init__(self.message)


def mask_error(error: DbshiftError, redact: Callable[[str], str]) -> None:
    """Mask passwords in an error's message and hint, in place, so that the very error
    (its type, exit code and cause) can be re-raised or reported."""
    error.message = redact(error.message)
    error.hint = redact(error.hint) if error.hint else error.hint
    error.args = (error.message, *error.args[1:])
