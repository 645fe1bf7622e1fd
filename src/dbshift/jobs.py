"""The commands that need the database, each a builder of `fn(connection) -> result`.

The files are read (and refused, when `dbshift.sum` disagrees) when the job is built,
before any connection; the job itself only talks to the database. `dbshift.api` runs
the jobs on a sync engine, `dbshift.aio` on an async one (or a worker thread): one
implementation for both.

`status` and `history` come through here on every start-up: the migration loader
(`show`) and the SQL splitter (a partial SQL migration's statements) are imported by the
code that needs them, so reading the history imports no migration code."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import sqlalchemy as sa

from dbshift import database, integrity
from dbshift.config import Config, mask_url
from dbshift.errors import MigrationError, UsageError
from dbshift.history import History, HistoryRow, StatementMark
from dbshift.integrity import Problem
from dbshift.migrations.project import Project
from dbshift.migrations.scripts import SUM_FILE, Script, sql_sections
from dbshift.results import (
    HistoryEntry,
    HistoryReport,
    MigrationInfo,
    PartialRun,
    RepairReport,
    Status,
    VerifyReport,
    problems_by_migration,
)

if TYPE_CHECKING:
    from dbshift.runner import Listener, RunReport  # annotations only: status stays light

#: `repair` logs its changes under the name docs/api.md documents, `dbshift.api`,
#: whichever module does the work
log = logging.getLogger("dbshift.api")


def upgrade(
    config: Config, target: str, dry_run: bool, single: bool, listener: Listener | None
) -> Callable[[sa.Connection], RunReport]:
    project = Project.read(config)
    return project.settled(
        lambda conn: project.runner(conn, listener).migrate(
            "up", target, dry_run=dry_run, single_transaction=single
        )
    )


def downgrade(
    config: Config, target: str, dry_run: bool, listener: Listener | None
) -> Callable[[sa.Connection], RunReport]:
    project = Project.read(config)
    return project.settled(
        lambda conn: project.runner(conn, listener).migrate("down", target, dry_run=dry_run)
    )


def stamp(config: Config, target: str) -> Callable[[sa.Connection], RunReport]:
    project = Project.read(config)
    return project.settled(lambda conn: project.runner(conn).stamp(target))


def status(
    config: Config,
    *,
    project: Project | None = None,
    observed: Sequence[HistoryRow] | None = None,
) -> Callable[[sa.Connection], Status]:
    """`project`: the files already read (`check` reads them once for every item);
    `observed`: the history already read on the same connection."""
    if project is None:
        project, on_files = Project.audited(config)
    else:
        project = project.with_sums()
        on_files = project.sum_problems()

    def job(conn: sa.Connection) -> Status:
        rows = _rows(config, conn, observed)
        known = {s.id: s for s in project.scripts}
        applied = [r for r in rows if r.applied]
        applied_ids = {r.id for r in applied if r.id in known}
        current = tuple(
            i
            for i in sorted(applied_ids)
            if not any(c in applied_ids for c in project.graph.children_of(i))
        )
        # a partial SQL migration's statements: split once, for its problems and its report
        marks = {
            r.id: _statement_marks(known.get(r.id), conn.dialect.name)
            for r in rows
            if not r.applied
        }

        def statements(script: Script) -> Sequence[StatementMark]:
            return marks.get(script.id, ())

        problems = (*on_files, *_history_problems(known, rows, statements, config.migrations_dir))
        if not problems:
            project.settle()
        return Status(
            url=mask_url(config.url_text),
            current=current,
            heads=project.graph.heads,
            pending=tuple(project.graph.plan_up(applied_ids, "heads")),
            applied=tuple(applied),
            partial=tuple(
                PartialRun(r, tuple(m.text for m in marks[r.id])) for r in rows if not r.applied
            ),
            problems=problems,
        )

    return job


def history(config: Config) -> Callable[[sa.Connection], HistoryReport]:
    project, on_files = Project.audited(config)

    def job(conn: sa.Connection) -> HistoryReport:
        found = History(config.table_prefix, config.schema).rows(conn)
        rows = {r.id: r for r in found}
        heads = set(project.graph.heads)
        scripts = {s.id: s for s in project.scripts}
        problems = (
            *on_files,
            *_history_problems(
                scripts,
                found,
                lambda script: _statement_marks(script, conn.dialect.name),
                config.migrations_dir,
            ),
        )
        by_migration = problems_by_migration(problems)
        entries = []
        for migration_id in project.graph.topo_order():
            s, row = scripts[migration_id], rows.get(migration_id)
            applied = row if row is not None and row.applied else None
            entries.append(
                HistoryEntry(
                    s.id,
                    s.message,
                    s.parents,
                    s.kind,
                    s.id in heads,
                    applied.applied_at if applied else None,
                    applied.duration_ms if applied else None,
                    by_migration.get(s.id, ()),
                    partial=row is not None and not row.applied,
                )
            )
        if not problems:
            project.settle()
        return HistoryReport(tuple(entries), problems)

    return job


def show(config: Config, ref: str) -> Callable[[sa.Connection | None], MigrationInfo]:
    project = Project.read(config)
    script = project.script(ref)

    def job(conn: sa.Connection | None) -> MigrationInfo:
        row = None
        dialect = "default"
        if conn is not None:
            row = History(config.table_prefix, config.schema).row_if_exists(conn, script.id)
            dialect = conn.dialect.name
        # lazy: status start-up: `show` alone imports migration code
        from dbshift.migrations import loader

        code = loader.load(script, dialect)
        return MigrationInfo(
            script,
            project.graph.children_of(script.id),
            row,
            tuple(op.describe() for op in code.upgrade),
            tuple(op.describe() for op in code.downgrade) if code.downgrade is not None else None,
        )

    return project.settled(job)


def verify(
    config: Config,
    *,
    project: Project | None = None,
    observed: Sequence[HistoryRow] | None = None,
) -> Callable[[sa.Connection | None], VerifyReport]:
    """`project`: the files already read; `observed`: the history already read on the
    connection the job is given (`check` reads both once for every item)."""
    found = (project or Project.read(config, check_sums=False)).with_sums()
    problems = [f"{e.message} (hint: {e.hint})" for e in found.sum_errors or ()]
    problems += [
        f"{name} was {what} since {SUM_FILE} was written (not committed yet: the "
        "next dbshift command records it, or run `dbshift rehash`)"
        for name, what in found.unrecorded
    ]
    known = {s.id: s for s in found.scripts}

    def job(conn: sa.Connection | None) -> VerifyReport:
        if conn is None:
            return VerifyReport(len(known), None, tuple(problems))
        rows = _rows(config, conn, observed)
        partial = [
            f"{r.id} stopped part-way after {len(r.done)} statement(s) (`dbshift "
            "upgrade` resumes it; `dbshift status` shows them)"
            for r in rows
            if not r.applied
        ]
        found_in_db = [
            p.line() for p in integrity.in_history(known, rows, config.migrations_dir)
        ] + partial
        return VerifyReport(len(known), mask_url(config.url_text), (*problems, *found_in_db))

    return job


def verify_now(
    config: Config,
    *,
    database_check: bool,
    project: Project | None = None,
    connected: sa.Connection | None = None,
    observed: Sequence[HistoryRow] | None = None,
) -> VerifyReport:
    """`verify` run at once: on the configured database when asked and there is a URL
    (on `connected` when given, else on a connection of its own), else on the files
    alone (no connection)."""
    job = verify(config, project=project, observed=observed)
    if database_check and config.url:
        return job(connected) if connected is not None else database.run(config, job)
    return job(None)


def history_rows(config: Config, conn: sa.Connection) -> list[HistoryRow]:
    """The history as every command reads it (`check` once, for all its items)."""
    return History(config.table_prefix, config.schema).rows(conn)


def _rows(
    config: Config, conn: sa.Connection, observed: Sequence[HistoryRow] | None
) -> Sequence[HistoryRow]:
    return observed if observed is not None else history_rows(config, conn)


def repair(
    config: Config, applied: Sequence[str], rolled_back: Sequence[str]
) -> Callable[[sa.Connection], RepairReport]:
    project = Project.read(config)
    mark_applied = [project.script(ref) for ref in applied]

    def job(conn: sa.Connection) -> RepairReport:
        runner = project.runner(conn)
        rows = {r.id: r for r in runner.rows()}
        forget = [_row_id(ref, rows) for ref in rolled_back]
        changes = runner.repair(mark_applied, forget, rows)
        for migration_id, change in changes:
            log.info("repair: %s %s", migration_id, change)
        return RepairReport(tuple(changes))

    return job


def _statement_marks(script: Script | None, dialect: str) -> tuple[StatementMark, ...]:
    """A SQL migration's up statements as the history records them (a text split, no
    import); () for a Python migration or a file that cannot be split."""
    if script is None or script.kind != "sql":
        return ()
    # lazy: status start-up: only a partial SQL migration is split
    from dbshift.migrations.sqlsplit import split_sql

    try:
        (up, line), _down = sql_sections(script.path.read_text(encoding="utf-8"))
        return tuple(StatementMark.of(s.text) for s in split_sql(up, dialect, first_line=line))
    except (OSError, MigrationError):
        return ()


def _history_problems(
    scripts: Mapping[str, Script],
    rows: Sequence[HistoryRow],
    statements: Callable[[Script], Sequence[StatementMark]],
    folder: Path,
) -> tuple[Problem, ...]:
    """What the history disagrees with the files on, as `status` and `history` report
    it: applied files edited or gone, and partial migrations `upgrade` cannot resume
    (`statements` gives a SQL file's statements, split without importing it)."""
    partial = integrity.in_partial_rows(scripts, rows, statements)
    return (*integrity.in_history(scripts, rows, folder), *partial)


def _row_id(ref: str, rows: dict[str, HistoryRow]) -> str:
    """A history row's id from an id or prefix; the file may already be gone."""
    matches = [ref] if ref in rows else [i for i in rows if i.startswith(ref)]
    if len(matches) == 1:
        return matches[0]
    if matches:
        raise UsageError(
            f"ambiguous migration {ref!r}: {', '.join(sorted(matches))}",
            hint="give more characters of the id",
        )
    raise UsageError(
        f"{ref} is not recorded in the history; nothing to mark rolled back",
        hint="see `dbshift status` for what is applied",
    )
