"""The errors dbshift raises: each carries its exit code and a hint for the user.

Exit codes are part of the interface (scripts and CI read them): `ExitCode` holds them
all, each with its meaning; the tables in README.md and docs/cli.md ("Exit codes") list
the same codes (tests/test_exit_codes.py compares them).
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dbshift.runner import RunReport


class ExitCode(enum.IntEnum):
    """The exit status of the `dbshift` command; `meaning` says what each one means."""

    SUCCESS = 0
    CHECK_FAILED = 1
    USAGE = 2
    ERROR = 3
    INTEGRITY = 4
    LOCK_TIMEOUT = 5
    INTERRUPTED = 130
    TERMINATED = 143

    @property
    def meaning(self) -> str:
        """The start of the meaning the documented tables give."""
        return _MEANINGS[self]


_MEANINGS = {
    ExitCode.SUCCESS: "success",
    ExitCode.CHECK_FAILED: "a check found something",
    ExitCode.USAGE: "usage or configuration error",
    ExitCode.ERROR: "a migration or database error",
    ExitCode.INTEGRITY: "an integrity error",
    ExitCode.LOCK_TIMEOUT: "the migration lock could not be had in time",
    ExitCode.INTERRUPTED: "interrupted by Ctrl-C (SIGINT)",
    ExitCode.TERMINATED: "stopped by SIGTERM",
}


class DbshiftError(Exception):
    """Base of every error dbshift reports to a user."""

    #: the `ExitCode` the CLI exits with (an int: a subclass may pick its own)
    exit_code: int = ExitCode.ERROR
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

    exit_code = ExitCode.USAGE


class ConfigError(UsageError):
    """The configuration is missing or invalid (exit 2)."""


class DatabaseError(DbshiftError):
    """The database could not be reached or refused a statement (exit 3)."""

    exit_code = ExitCode.ERROR


class MigrationError(DbshiftError):
    """A migration failed to load or to run (exit 3)."""

    exit_code = ExitCode.ERROR

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

    exit_code = ExitCode.INTEGRITY

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

    exit_code = ExitCode.LOCK_TIMEOUT


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
        self.exit_code = ExitCode.TERMINATED if signal_name == "SIGTERM" else ExitCode.INTERRUPTED
        self.message = message or f"interrupted by {signal_name}"
        self.hint = "run the command again: it finishes what was left"
        super().__init__(self.message)


def mask_error(error: DbshiftError, redact: Callable[[str], str]) -> None:
    """Mask passwords in an error's message and hint, in place, so that the very error
    (its type, exit code and cause) can be re-raised or reported."""
    error.message = redact(error.message)
    error.hint = redact(error.hint) if error.hint else error.hint
    error.args = (error.message, *error.args[1:])
