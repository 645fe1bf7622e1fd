"""`dbshift lint` over a project's migrations, and `lint --baseline write`: which
migrations (`dbshift.linter.select`), their findings (`lint_scripts`), and the lint
baseline applied or rewritten. `dbshift.api.lint` and `write_lint_baseline` are the
typed entry points; importing this module imports the linter, sqlglot with it, so only
`lint`, `check` and `make` do."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import sqlalchemy as sa

from dbshift.config import Config
from dbshift.history import HistoryRow
from dbshift.linter import LintReport, Settings, lint_scripts
from dbshift.linter import baseline as lint_baseline
from dbshift.linter.select import Choice, Selection, select
from dbshift.migrations.project import Project
from dbshift.results import BaselineWritten

__all__ = ["Choice", "Selection", "lint", "lint_selection", "write_baseline"]


def lint(
    config: Config,
    choice: Choice,
    *,
    baseline: bool = True,
    project: Project | None = None,
    connected: sa.Connection | None = None,
    observed: Sequence[HistoryRow] | None = None,
) -> LintReport:
    """`dbshift.api.lint`: the chosen migrations' findings, less those the baseline
    accepts. `project` (the files already read), `connected` (the connection the
    pending migrations are read on) and `observed` (the history already read on it)
    let `check` read each once for all its items."""
    project = Project.read(config) if project is None else project.sound()
    chosen = select(
        config, project.scripts, project.graph, choice, connected=connected, observed=observed
    )
    return lint_selection(project, chosen, baseline=baseline)


def lint_selection(project: Project, chosen: Selection, *, baseline: bool = True) -> LintReport:
    """The findings of the `chosen` migrations for its servers, less those the baseline
    accepts unless `baseline=False` (`dbshift fleet lint` chooses over many databases)."""
    config = project.config
    accepted = lint_baseline.read(config.migrations_dir) if baseline else None
    report = lint_scripts(
        project.scripts,
        project.graph,
        chosen.ids,
        chosen.targets,
        settings=Settings.of(config),
        selection=chosen.description,
    )
    project.settle()
    if accepted is not None:
        checksums = {s.id: s.checksum for s in project.scripts}
        new, count = accepted.split(report.findings, checksums)
        report = dataclasses.replace(report, findings=tuple(new), baselined=count)
    return report


def write_baseline(config: Config, choice: Choice) -> BaselineWritten:
    """`dbshift.api.write_lint_baseline`: the baseline merged with every finding of the
    migrations linted (all of them unless a range or `since` is chosen), written
    atomically."""
    project = Project.read(config)
    if not (choice.range_ or choice.since):
        choice = dataclasses.replace(choice, every=True)
    older = lint_baseline.read(config.migrations_dir) or lint_baseline.Baseline()
    chosen = select(config, project.scripts, project.graph, choice)
    report = lint_selection(project, chosen, baseline=False)
    checksums = {s.id: s.checksum for s in project.scripts}
    newer = lint_baseline.Baseline.of(report.findings, checksums)
    merged = older.merged(newer, report.migrations, checksums)
    path = lint_baseline.write(config.migrations_dir, merged)
    return BaselineWritten(path, len(report.findings), report.migrations)
