"""`dbshift check`, the one CI command: integrity, heads, models, pending migrations,
drift (with `--database`) and lint, each an item of one report. `dbshift.api.check` is
the typed entry point; this module is imported only when it runs (it brings the linter
and the autogenerate)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import sqlalchemy as sa

from dbshift import database, jobs
from dbshift.autogen.drift import drift_on
from dbshift.autogen.make import BackendsDiffer, Request, make_report
from dbshift.config import Config, mask_url
from dbshift.errors import ConfigError, DbshiftError, IntegrityError, UsageError
from dbshift.linter import LintReport
from dbshift.linter import run as linting
from dbshift.linter.model import rank
from dbshift.linter.select import Choice, require_ref
from dbshift.migrations.project import Project
from dbshift.results import CheckItem, CheckReport, CheckStatus, DriftReport

#: each item is logged under the name docs/api.md documents, `dbshift.api`
log = logging.getLogger("dbshift.api")


def check(
    config: Config,
    *,
    database_check: bool = False,
    since: str | None = None,
    fail_on: str | None = None,
) -> CheckReport:
    """`dbshift.api.check`: each item run in turn; a usage or integrity error in one
    is that item failing, a configuration error raises. The folder is read once and,
    with `database_check`, one connection is opened and the history read once, for
    every item (none when the files cannot be read: every item that needs them fails)."""
    if since:
        require_ref(config.migrations_dir, since)
    files = _Files(config)
    if database_check and config.url and files.readable():

        def job(conn: sa.Connection) -> CheckReport:
            return _check(config, files, database_check, since, fail_on, conn)

        report = database.run(config, job)
    else:
        report = _check(config, files, database_check, since, fail_on, None)
    for item in report.items:
        level = logging.WARNING if item.status == "failed" else logging.INFO
        log.log(level, "check %s %s: %s", item.name, item.status, config.redact(item.detail))
    return report


class _Files:
    """The migrations folder, read once for every item: scanned, then `dbshift.sum`
    audited. An error is remembered and raised again in each item that needs the
    files, as when each item read them itself."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self._scanned: Project | DbshiftError | None = None
        self._audited: Project | DbshiftError | None = None

    def scanned(self) -> Project:
        if self._scanned is None:
            self._scanned = _attempted(lambda: Project.read(self.config, check_sums=False))
        return _given(self._scanned)

    def audited(self) -> Project:
        if self._audited is None:
            self._audited = _attempted(lambda: self.scanned().with_sums())
        return _given(self._audited)

    def readable(self) -> bool:
        """Whether the files were read (their `dbshift.sum` may still disagree)."""
        try:
            self.audited()
        except (IntegrityError, UsageError) as error:
            if isinstance(error, ConfigError):
                raise
            return False
        return True


def _attempted(read: Callable[[], Project]) -> Project | DbshiftError:
    try:
        return read()
    except (IntegrityError, UsageError) as error:
        return error


def _given(found: Project | DbshiftError) -> Project:
    if isinstance(found, DbshiftError):
        raise found
    return found


def _check(
    config: Config,
    files: _Files,
    database_check: bool,
    since: str | None,
    fail_on: str | None,
    conn: sa.Connection | None,
) -> CheckReport:
    """The items, on `conn` when the database is checked and the files could be read."""
    observed = jobs.history_rows(config, conn) if conn is not None else None
    items: list[CheckItem] = []

    def attempt(name: str, run: Callable[[], CheckItem]) -> None:
        try:
            items.append(run())
        except (IntegrityError, UsageError) as error:
            if isinstance(error, ConfigError):
                raise
            items.append(CheckItem(name, "failed", error.message, (str(error.hint or ""),)))

    def integrity() -> CheckItem:
        report = jobs.verify_now(
            config,
            database_check=database_check,
            project=files.audited(),
            connected=conn,
            observed=observed,
        )
        where = "dbshift.sum, the graph" + (" and applied checksums" if report.database else "")
        status: CheckStatus = "failed" if report.problems else "ok"
        return CheckItem("integrity", status, where, report.problems)

    def heads() -> CheckItem:
        found = files.scanned().graph.heads
        if len(found) > 1:
            return CheckItem(
                "heads", "failed", f"{len(found)} heads: run `dbshift merge`", tuple(found)
            )
        return CheckItem("heads", "ok", f"{len(found)} head(s)")

    def models() -> CheckItem:
        if not config.models:
            return CheckItem("models", "skipped", "no models configured")
        try:
            found = make_report(
                config,
                Request(check=True),
                project=files.audited(),
                connected=conn,
                observed=observed,
            )
        except BackendsDiffer as error:  # a failed check, not a wrong command
            return CheckItem("models", "failed", error.message, (error.hint or "",))
        several = len(found.backends) > 1
        on = f" on {', '.join(found.backends)}" if several else ""
        where: dict[str, list[str]] = {}  # each change, with the backends that need it
        for backend, ops in found.by_backend:
            for op in ops:
                where.setdefault(op.describe(), []).append(backend)
        if where:
            changes = tuple(
                f"{', '.join(backends)}: {change}" if several else change
                for change, backends in where.items()
            )
            failing = [b for b, ops in found.by_backend if ops]
            detail = f"{len(changes)} change(s)" + (f" on {', '.join(failing)}" if several else "")
            return CheckItem("models", "failed", f"{detail}: run `dbshift make`", changes)
        return CheckItem("models", "ok", f"the models match the {found.source}{on}")

    def pending() -> CheckItem:
        if not database_check:
            return CheckItem("pending", "skipped", "no database checked (--database)")
        job = jobs.status(config, project=files.audited(), observed=observed)
        waiting = (job(conn) if conn is not None else database.run(config, job)).pending
        if waiting:
            return CheckItem("pending", "failed", f"{len(waiting)} pending", waiting)
        return CheckItem("pending", "ok", f"nothing pending on {mask_url(config.url_text)}")

    def drift() -> CheckItem:
        if not database_check:
            return CheckItem("drift", "skipped", "no database checked (--database)")
        project = files.audited()

        def job(on: sa.Connection) -> DriftReport:
            # the database against the migrations only: the models item compares the
            # models with the migrations (the models again here reported it twice)
            return drift_on(on, config, project, models=False, observed=observed)

        found = job(conn) if conn is not None else database.run(config, job)
        against = " and ".join(found.compared) or "nothing"
        if found.differences:
            return CheckItem(
                "drift",
                "failed",
                f"{len(found.differences)} difference(s) between {found.url} and the "
                f"{against}: run `dbshift drift`",
                tuple(f"{d.source}: {d.line()}" for d in found.differences),
            )
        unknown = f"; not replayed: {'; '.join(found.unknown)}" if found.unknown else ""
        return CheckItem("drift", "ok", f"{found.url} matches the {against}{unknown}")

    threshold = fail_on or str(config.lint.get("fail_on", "error"))
    linted: list[LintReport] = []

    def lint_findings() -> CheckItem:
        report = linting.lint(
            config,
            Choice(every=not since and not database_check, since=since),
            project=files.audited(),
            connected=conn,
            observed=observed,
        )
        linted.append(report)
        failing = tuple(
            f"{Path(f.file).name}:{f.line}: {f.severity} {f.code} {f.message}"
            for f in report.findings
            if _at_least(f.severity, threshold)
        )
        accepted = f"; {report.baselined} accepted by the baseline" if report.baselined else ""
        return CheckItem(
            "lint",
            "failed" if failing else "ok",
            f"{len(report.findings)} finding(s) in {len(report.migrations)} migration(s) "
            f"({report.selection}){accepted}; fails at {threshold}",
            failing,
        )

    for name, run in (
        ("integrity", integrity),
        ("heads", heads),
        ("models", models),
        ("pending", pending),
        ("drift", drift),
        ("lint", lint_findings),
    ):
        attempt(name, run)
    return CheckReport(tuple(items), linted[0] if linted else None)


def _at_least(severity: str, threshold: str) -> bool:
    return rank(severity) >= rank(threshold)
