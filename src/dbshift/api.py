"""The public Python API: everything the CLI can do, returning typed results.

Every command that needs the database is written as a function of a connection
(`_jobs`), so `dbshift.aio` runs exactly the same code on async engines.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, overload

import sqlalchemy as sa

from dbshift import database, integrity
from dbshift.config import Config, mask_url
from dbshift.errors import ConfigError, DbshiftError, IntegrityError, UsageError
from dbshift.files import write_atomic
from dbshift.history import History, HistoryRow, StatementMark
from dbshift.integrity import Problem, refusal
from dbshift.migrations.graph import Graph
from dbshift.migrations.scripts import CleanSums, Script, new_id, replace_parents, scan
from dbshift.migrations.writer import render_python, render_sql, write_new
from dbshift.runner import Listener, Runner, RunReport

if TYPE_CHECKING:
    from dbshift import autogen
    from dbshift.autogen.advice import Advice
    from dbshift.autogen.compare import RenameDecider
    from dbshift.autogen.safe import Step
    from dbshift.linter import Finding, LintReport
    from dbshift.linter.model import SchemaState
    from dbshift.ops import Operation
    from dbshift.schema.snapshot import Snapshot

T = TypeVar("T")
R = TypeVar("R")

#: repair, make and check outcomes (runs log to `dbshift.runner`; docs/api.md, "Logging")
log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class Project:
    """The migration files of a configuration, read from their headers only."""

    config: Config
    scripts: tuple[Script, ...]
    graph: Graph
    #: changes git has not committed that `dbshift.sum` does not record yet (a head
    #: being written): tolerated, and recorded by `settle` once a command succeeds
    unrecorded: tuple[tuple[str, str], ...] = ()

    @classmethod
    def read(cls, config: Config, *, check_sums: bool = True) -> Project:
        """The headers, the graph, and (unless `check_sums=False`, for the commands
        that rewrite it) the verdict of `dbshift.sum`, which raises IntegrityError."""
        if not check_sums:
            return cls._scanned(config)
        project, problems = cls.audited(config)
        error = refusal(problems, "`dbshift status` marks every one")
        if error is not None:
            raise error
        return project

    @classmethod
    def audited(cls, config: Config) -> tuple[Project, tuple[Problem, ...]]:
        """The headers, the graph, and what `dbshift.sum` finds wrong, unraised: for
        the commands that report problems rather than refuse (`status`, `history`).
        Header and graph errors still raise: without a graph there is no report."""
        project = cls._scanned(config)
        scripts, folder = project.scripts, config.migrations_dir
        if CleanSums(folder, scripts).hit():
            return project, ()
        from dbshift.migrations import sumfile

        found = sumfile.audit(folder, scripts, project.graph.heads)
        project = dataclasses.replace(project, unrecorded=found.unrecorded)
        return project, tuple(integrity.from_sums(found.errors))

    @classmethod
    def _scanned(cls, config: Config) -> Project:
        scripts = tuple(scan(config.migrations_dir))
        graph = Graph({s.id: s.parents for s in scripts}, files={s.id: s.name for s in scripts})
        return cls(config, scripts, graph)

    def settle(self) -> None:
        """Record uncommitted changes in `dbshift.sum` after a command succeeded (a
        failed command leaves every file as it was). A read-only folder is left alone."""
        if self.unrecorded:
            from dbshift.migrations import sumfile

            with contextlib.suppress(OSError):
                sumfile.write(self.config.migrations_dir, self.scripts)

    def settled(self, job: Callable[[T], R]) -> Callable[[T], R]:
        """`job`, followed by `settle` when it returns."""

        def run(arg: T) -> R:
            result = job(arg)
            self.settle()
            return result

        return run

    def write_sums(self) -> Path:
        """Rewrite `dbshift.sum` from the files as they are now."""
        from dbshift.migrations import sumfile

        return sumfile.write(self.config.migrations_dir, scan(self.config.migrations_dir))

    def script(self, ref: str) -> Script:
        wanted = self.graph.resolve(ref)
        return next(s for s in self.scripts if s.id == wanted)

    def replayed(self, dialect: sa.engine.Dialect) -> Snapshot | None:
        """The schema the migrations build, or None when one runs raw DDL."""
        from dbshift.migrations.replay import replayed

        return replayed(self.scripts, self.graph, self.config.migrations_dir, dialect)

    def runner(self, conn: sa.Connection, listener: Listener | None = None) -> Runner:
        from dbshift.runner import Runner

        return Runner(self.config, conn, self.scripts, self.graph, listener)


@dataclasses.dataclass(frozen=True)
class PartialRun:
    """A migration that stopped part-way (see `HistoryRow.done` and `.failed`).

    `statements` are the first lines of the migration's statements as its file has them
    now, when that is known without importing code: for a SQL migration, a cheap split
    of the file; for a Python migration, () (its statements exist only once it runs, so
    status shows what ran, from the history, and no total)."""

    row: HistoryRow
    statements: tuple[str, ...] = ()

    @property
    def id(self) -> str:
        return self.row.id

    @property
    def total(self) -> int | None:
        return len(self.statements) if self.statements else None

    def to_json(self) -> dict[str, Any]:
        row = self.row
        return {
            **row.to_json(),
            "statements_total": self.total,
            "interrupted": row.interrupted,
            "done": [mark.to_json() for mark in row.done],
            "failed": row.failed.to_json() if row.failed else None,
            "remaining": list(self.statements[len(row.done) :]),
        }


def _problems_json(problems: Sequence[Problem]) -> list[dict[str, Any]]:
    return [p.to_json() for p in problems]


def _by_migration(problems: Sequence[Problem]) -> dict[str | None, tuple[Problem, ...]]:
    """The problems grouped by the migration they concern, in their order."""
    grouped: dict[str | None, list[Problem]] = {}
    for problem in problems:
        grouped.setdefault(problem.migration, []).append(problem)
    return {migration: tuple(found) for migration, found in grouped.items()}


@dataclasses.dataclass(frozen=True)
class Status:
    """The database against the files. `problems` lists every integrity problem (an
    applied migration edited or gone, `dbshift.sum` disagreeing with the files), each
    naming the migration it concerns: status reports them rather than raising, and the
    CLI exits 4 when there are any (`refusal()` is the error it prints)."""

    url: str
    current: tuple[str, ...]
    heads: tuple[str, ...]
    pending: tuple[str, ...]
    applied: tuple[HistoryRow, ...]
    partial: tuple[PartialRun, ...]
    problems: tuple[Problem, ...] = ()

    @property
    def ok(self) -> bool:
        """No integrity problem (pending or partial migrations are not problems)."""
        return not self.problems

    def problems_of(self, migration_id: str) -> tuple[Problem, ...]:
        """The problems that concern one migration."""
        return self._by_migration.get(migration_id, ())

    @functools.cached_property
    def _by_migration(self) -> dict[str | None, tuple[Problem, ...]]:
        return _by_migration(self.problems)

    def refusal(self) -> IntegrityError | None:
        """The one error that stands for the problems (None when there are none)."""
        return refusal(self.problems, "every one is marked in the report")

    def to_json(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "current": list(self.current),
            "heads": list(self.heads),
            "pending": list(self.pending),
            "applied": [
                {**r.to_json(), "problems": _problems_json(self.problems_of(r.id))}
                for r in self.applied
            ],
            "partial": [
                {**r.to_json(), "problems": _problems_json(self.problems_of(r.id))}
                for r in self.partial
            ],
            "problems": _problems_json(self.problems),
        }


@dataclasses.dataclass(frozen=True)
class HistoryEntry:
    id: str
    message: str
    parents: tuple[str, ...]
    kind: str
    head: bool
    applied_at: datetime | None
    duration_ms: int | None
    #: the integrity problems that concern this migration
    problems: tuple[Problem, ...] = ()
    #: it stopped part-way (see `Status.partial`): neither applied nor pending
    partial: bool = False

    @property
    def applied(self) -> bool:
        return self.applied_at is not None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "message": self.message,
            "parents": list(self.parents),
            "kind": self.kind,
            "head": self.head,
            "applied": self.applied,
            "partial": self.partial,
            "applied_at": self.applied_at.isoformat() + "Z" if self.applied_at else None,
            "duration_ms": self.duration_ms,
            "problems": _problems_json(self.problems),
        }


@dataclasses.dataclass(frozen=True)
class HistoryReport(Sequence[HistoryEntry]):
    """Every migration in graph order (a sequence of `HistoryEntry`, as `history` always
    returned) and every integrity problem: those that concern a migration with a file
    are also on its entry; one about a history row no file has, or about `dbshift.sum`
    as a whole, is here only. Reported, not raised; the CLI exits 4 when there are any."""

    entries: tuple[HistoryEntry, ...]
    problems: tuple[Problem, ...] = ()

    def __len__(self) -> int:
        return len(self.entries)

    @overload
    def __getitem__(self, index: int) -> HistoryEntry: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[HistoryEntry]: ...

    def __getitem__(self, index: int | slice) -> HistoryEntry | Sequence[HistoryEntry]:
        return self.entries[index]

    @property
    def ok(self) -> bool:
        return not self.problems

    def refusal(self) -> IntegrityError | None:
        """The one error that stands for the problems (None when there are none)."""
        return refusal(self.problems, "every one is marked in the report")

    def to_json(self) -> dict[str, Any]:
        return {
            "migrations": [e.to_json() for e in self.entries],
            "problems": _problems_json(self.problems),
        }


@dataclasses.dataclass(frozen=True)
class MigrationInfo:
    script: Script
    children: tuple[str, ...]
    row: HistoryRow | None
    upgrade: tuple[str, ...]
    downgrade: tuple[str, ...] | None

    def to_json(self) -> dict[str, Any]:
        s = self.script
        return {
            "id": s.id,
            "message": s.message,
            "path": str(s.path),
            "kind": s.kind,
            "parents": list(s.parents),
            "children": list(self.children),
            "transactional": s.transactional,
            "checksum": s.checksum,
            "applied": self.row.to_json() if self.row else None,
            "upgrade": list(self.upgrade),
            "downgrade": list(self.downgrade) if self.downgrade is not None else None,
        }


@dataclasses.dataclass(frozen=True)
class RepairReport:
    changes: tuple[tuple[str, str], ...]  # (migration id, what was done)

    def to_json(self) -> dict[str, Any]:
        return {"changes": [{"id": i, "action": a} for i, a in self.changes]}


# -- commands that need the database -----------------------------------------------------


def upgrade(
    config: Config,
    target: str = "head",
    *,
    dry_run: bool = False,
    single_transaction: bool = False,
    listener: Listener | None = None,
) -> RunReport:
    """Apply pending migrations up to `target` (default `head`)."""
    return database.run(
        config, _jobs.upgrade(config, target, dry_run, single_transaction, listener)
    )


def downgrade(
    config: Config, target: str, *, dry_run: bool = False, listener: Listener | None = None
) -> RunReport:
    """Revert applied migrations down to `target` (`-1`, an id, or `base`)."""
    return database.run(config, _jobs.downgrade(config, target, dry_run, listener))


def stamp(config: Config, target: str) -> RunReport:
    """Record `target` as the applied state without running any migration."""
    return database.run(config, _jobs.stamp(config, target))


def status(config: Config) -> Status:
    """Applied, pending and partial migrations, and every integrity problem (reported,
    not raised: see `Status.problems`). Header and graph errors raise."""
    return database.run(config, _jobs.status(config))


def history(config: Config) -> HistoryReport:
    """The whole graph, oldest first, with what is applied and every integrity problem
    (reported, not raised: see `HistoryReport`)."""
    return database.run(config, _jobs.history(config))


def show(config: Config, ref: str) -> MigrationInfo:
    """One migration: header, place in the graph, history row and its operations."""
    if config.url:
        return database.run(config, _jobs.show(config, ref))
    return _jobs.show(config, ref)(None)


def repair(
    config: Config, *, applied: Sequence[str] = (), rolled_back: Sequence[str] = ()
) -> RepairReport:
    """Accept edited checksums, or mark migrations applied / rolled back by hand."""
    return database.run(config, _jobs.repair(config, applied, rolled_back))


@dataclasses.dataclass(frozen=True)
class VerifyReport:
    """What `verify` checked and every problem it found (empty: all is well)."""

    migrations: int
    database: str | None  # the (masked) URL whose history was checked
    problems: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": not self.problems,
            "migrations": self.migrations,
            "database": self.database,
            "problems": list(self.problems),
        }


def verify(config: Config, *, database_check: bool = True) -> VerifyReport:
    """Check the headers and graph (raising on the first error, as every command does),
    `dbshift.sum`, and, when a URL is configured, every applied checksum. Changes
    nothing: unlike other commands, it does not record an edit to an uncommitted head."""
    job = _jobs.verify(config)
    if database_check and config.url:
        return database.run(config, job)
    return job(None)


# -- commands that work on files only ---------------------------------------------------


def heads(config: Config) -> list[str]:
    project = Project.read(config)
    project.settle()
    return list(project.graph.heads)


def new(config: Config, message: str, *, sql: bool = False) -> Path:
    """Write an empty migration whose parents are the current heads; return its path."""
    project = Project.read(config)
    return _write(project, message, project.graph.heads, sql=sql)


def merge(config: Config, message: str = "merge heads") -> Path:
    """Write a migration whose parents are all current heads. It also resolves a git
    conflict in `dbshift.sum`: every file must be recorded, unchanged, on one side."""
    project = _read_merging(config)
    if len(project.graph.heads) < 2:
        raise UsageError(
            "nothing to merge: there is a single head", hint="merge joins two or more heads"
        )
    return _write(project, message, project.graph.heads, sql=False)


def _write(project: Project, message: str, parents: Sequence[str], *, sql: bool) -> Path:
    if not message.strip():
        raise UsageError("a migration needs a message", hint='pass -m "what it does"')
    migration_id = new_id(message, (s.id for s in project.scripts))
    content = render_sql(message, parents) if sql else render_python(message, parents)
    path = write_new(
        project.config.migrations_dir, migration_id, "sql" if sql else "python", content
    )
    project.write_sums()
    return path


def rehash(config: Config) -> Path:
    """Rewrite `dbshift.sum` from the migration files as they are: the user's word that
    they are the intended ones. The graph must be valid."""
    return Project.read(config, check_sums=False).write_sums()


@dataclasses.dataclass(frozen=True)
class RebaseResult:
    """`rebase` moved `branch` after `onto`; `reparented` are the migrations whose
    `parents` header changed (so did their checksums)."""

    branch: tuple[str, ...]
    onto: str
    reparented: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {"branch": list(self.branch), "onto": self.onto, "reparented": list(self.reparented)}


def rebase(config: Config, migration: str | None = None) -> RebaseResult:
    """Move the migrations only one branch has after the other branch's head, so the
    graph is a line again, and rewrite `dbshift.sum`. `migration` names the branch to
    move (any of its migrations); without it, the branch whose files `dbshift.sum` does
    not record yet is moved, when there is exactly one."""
    project = _read_merging(config)
    graph = project.graph
    if len(graph.heads) < 2:
        raise UsageError(
            "nothing to rebase: there is a single head",
            hint="rebase moves one branch's migrations after another branch's head",
        )
    branches = {
        head: graph.ancestors([head]) - graph.ancestors(set(graph.heads) - {head})
        for head in graph.heads
    }
    head = _branch_to_move(project, branches, migration)
    others = [h for h in graph.heads if h != head]
    if len(others) > 1:
        raise UsageError(
            f"{len(graph.heads)} heads: {', '.join(graph.heads)}",
            hint="rebase moves one branch onto one other head: `dbshift merge` the others "
            "first, or rebase them one by one",
        )
    onto = others[0]
    branch = graph.ancestors([head]) - graph.ancestors([onto])
    scripts = {s.id: s for s in project.scripts}
    rewritten: dict[str, str] = {}  # every new text first: a header that cannot be
    for migration_id in graph.topo_order(branch):  # rewritten leaves no file changed
        parents = graph.parents_of(migration_id)
        if all(p in branch for p in parents):
            continue
        script = scripts[migration_id]
        with open(script.location, encoding="utf-8", newline="") as handle:
            text = handle.read()
        new_parents = [p for p in parents if p in branch] + [onto]
        rewritten[migration_id] = replace_parents(text, script.kind, new_parents)
    for migration_id, text in rewritten.items():
        write_atomic(Path(scripts[migration_id].location), text)
    project.write_sums()
    return RebaseResult(tuple(graph.topo_order(branch)), onto, tuple(rewritten))


def _branch_to_move(project: Project, branches: dict[str, set[str]], ref: str | None) -> str:
    graph = project.graph
    if ref is not None:
        wanted = graph.resolve(ref)
        owners = [head for head, members in branches.items() if wanted in members]
        if len(owners) != 1:
            raise UsageError(
                f"{wanted} is shared by every branch: there is nothing to move",
                hint="name a migration that only one branch has: "
                + "; ".join(f"{h} ({len(m)} migration(s))" for h, m in branches.items()),
            )
        return owners[0]
    from dbshift.migrations import sumfile

    recorded = sumfile.read(project.config.migrations_dir)
    known = recorded.names if recorded is not None else set()
    names = {s.id: s.name for s in project.scripts}
    unrecorded = [
        head for head, members in branches.items() if any(names[m] not in known for m in members)
    ]
    if len(unrecorded) == 1:
        return unrecorded[0]
    listing = "; ".join(
        f"{head} ({len(members)} migration(s))" for head, members in branches.items()
    )
    raise UsageError(
        f"which branch moves? {listing}",
        hint="name yours (never one applied elsewhere): `dbshift rebase <id of one of its "
        "migrations>`",
    )


def _read_merging(config: Config) -> Project:
    """The project for `merge` and `rebase`, which resolve a conflicted `dbshift.sum`
    (or one that records only one side): recorded files must be unchanged."""
    project = Project.read(config, check_sums=False)
    from dbshift.migrations import sumfile

    found = sumfile.audit(config.migrations_dir, project.scripts, project.graph.heads, merging=True)
    if found.errors:
        raise IntegrityError(found.errors[0].message, hint=found.errors[0].hint)
    return project


def init(directory: str | Path = ".", *, migrations: str = "migrations") -> Path:
    """Create `dbshift.toml` and the migrations folder; return the config path."""
    root = Path(directory)
    config_path = root / "dbshift.toml"
    if config_path.exists():
        raise UsageError(f"{config_path} already exists", hint="edit it, or init elsewhere")
    root.mkdir(parents=True, exist_ok=True)
    (root / migrations).mkdir(exist_ok=True)
    write_atomic(
        config_path,
        "# dbshift configuration (all keys: README, section Configuration)\n"
        'url = "${DATABASE_URL:-sqlite:///app.db}"\n'
        f'migrations = "{migrations}"\n'
        '# models = ["myapp.models:Base"]   # for `dbshift make`\n'
        '# backends = ["sqlite", "postgresql"]   # `make` writes for each (default: the URL\'s)\n'
        "\n"
        "# [environments.production]\n"
        '# url = "${PRODUCTION_DATABASE_URL}"\n',
        exclusive=True,
    )
    return config_path


def sql(
    config: Config, range_: str | None = None, *, dialect: str | None = None, down: bool = False
) -> str:
    """The offline SQL script for a range `[FROM:]TO`, with no database connection."""
    from dbshift.offline import render_script

    return render_script(Project.read(config), range_, dialect=dialect, down=down)


# -- lint ------------------------------------------------------------------------------------


def lint(
    config: Config,
    range_: str | None = None,
    *,
    every: bool = False,
    since: str | None = None,
    dialect: str | None = None,
    server_version: str | None = None,
    baseline: bool = True,
) -> LintReport:
    """Check migrations for data loss, breaking changes, locks and hygiene (docs/lint.md).

    By default the migrations pending on the configured database, for its backend and
    server version; or `range_` (`FROM:TO`, `:TO` or one id), `every` migration, or
    those whose files were added `since` a git ref. Without a database, `dialect` and
    `server_version` (or `[lint]` in the configuration) say which server to check for;
    with neither, PostgreSQL, MySQL and SQLite are all checked. The findings the lint
    baseline accepts are left out (counted in `baselined`) unless `baseline=False`."""
    from dbshift.linter import baseline as lint_baseline

    project = Project.read(config)
    accepted = lint_baseline.read(config.migrations_dir) if baseline else None
    report = _lint(project, range_, every, since, dialect, server_version)
    if accepted is not None:
        checksums = {s.id: s.checksum for s in project.scripts}
        new, count = accepted.split(report.findings, checksums)
        report = dataclasses.replace(report, findings=tuple(new), baselined=count)
    return report


@dataclasses.dataclass(frozen=True)
class BaselineWritten:
    """What `lint --baseline write` recorded: the file, the findings it now accepts in
    the migrations linted, and those migrations."""

    path: Path
    accepted: int
    migrations: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "accepted": self.accepted,
            "migrations": list(self.migrations),
        }


def write_lint_baseline(
    config: Config,
    range_: str | None = None,
    *,
    every: bool = False,
    since: str | None = None,
    dialect: str | None = None,
    server_version: str | None = None,
) -> BaselineWritten:
    """Accept every finding of the migrations linted (all of them unless `range_` or
    `since` says otherwise) in the lint baseline, `dbshift.lint-baseline` next to
    `dbshift.sum`, written atomically. Entries of other migrations are kept while those
    migrations exist; `lint` and `check` then fail on new findings only."""
    from dbshift.linter import baseline as lint_baseline

    project = Project.read(config)
    every = every or not (range_ or since)
    older = lint_baseline.read(config.migrations_dir) or lint_baseline.Baseline()
    report = _lint(project, range_, every, since, dialect, server_version)
    checksums = {s.id: s.checksum for s in project.scripts}
    newer = lint_baseline.Baseline.of(report.findings, checksums)
    merged = older.merged(newer, report.migrations, checksums)
    path = lint_baseline.write(config.migrations_dir, merged)
    return BaselineWritten(path, len(report.findings), report.migrations)


def _lint(
    project: Project,
    range_: str | None,
    every: bool,
    since: str | None,
    dialect: str | None,
    server_version: str | None,
) -> LintReport:
    """The lint report of the chosen migrations, before any baseline."""
    from dbshift.linter import Settings, lint_scripts
    from dbshift.linter.select import select

    config = project.config
    settings = Settings.of(config)
    chosen = select(
        config,
        project.scripts,
        project.graph,
        range_,
        every=every,
        since=since,
        dialect=dialect,
        server_version=server_version,
    )
    report = lint_scripts(
        project.scripts,
        project.graph,
        chosen.ids,
        chosen.targets,
        settings=settings,
        selection=chosen.description,
    )
    project.settle()
    return report


# -- check: the one CI command ------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class CheckItem:
    """One thing `check` looked at: passed, failed (with its problems) or skipped."""

    name: str
    status: str  # "ok", "failed" or "skipped"
    detail: str
    problems: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class CheckReport:
    items: tuple[CheckItem, ...]
    lint: LintReport | None = None

    @property
    def ok(self) -> bool:
        return all(item.status != "failed" for item in self.items)

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "checks": [item.to_json() for item in self.items],
            "lint": self.lint.to_json() if self.lint is not None else None,
        }


def check(
    config: Config,
    *,
    database_check: bool = False,
    since: str | None = None,
    fail_on: str | None = None,
) -> CheckReport:
    """Everything CI should know, in one report: `dbshift.sum` and the graph intact, a
    single head, the models matching the migrations (when models are configured),
    nothing pending and every applied checksum intact on the configured database (with
    `database_check`), and no lint finding at or above `fail_on` (default: error, or
    `[lint] fail_on`) in the migrations added since the git ref `since`, or else the
    pending ones (with `database_check`), or else all of them. Usage and connection
    errors raise as in every command, and so does a `since` ref git cannot find (a
    shallow CI checkout: the error says how to fetch it); everything else is an item of
    the report."""
    if since:
        from dbshift.linter.select import require_ref

        require_ref(config.migrations_dir, since)
    items: list[CheckItem] = []

    def attempt(name: str, run: Callable[[], CheckItem]) -> None:
        try:
            items.append(run())
        except (IntegrityError, UsageError) as error:
            if isinstance(error, ConfigError):
                raise
            items.append(CheckItem(name, "failed", error.message, (str(error.hint or ""),)))

    def integrity() -> CheckItem:
        report = verify(config, database_check=database_check)
        where = "dbshift.sum, the graph" + (" and applied checksums" if report.database else "")
        status = "failed" if report.problems else "ok"
        return CheckItem("integrity", status, where, report.problems)

    def heads() -> CheckItem:
        found = Project.read(config, check_sums=False).graph.heads
        if len(found) > 1:
            return CheckItem(
                "heads", "failed", f"{len(found)} heads: run `dbshift merge`", tuple(found)
            )
        return CheckItem("heads", "ok", f"{len(found)} head(s)")

    def models() -> CheckItem:
        if not config.models:
            return CheckItem("models", "skipped", "no models configured")
        try:
            found = make_report(config, check=True)
        except _BackendsDiffer as error:  # a failed check, not a wrong command
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
        waiting = status(config).pending
        if waiting:
            return CheckItem("pending", "failed", f"{len(waiting)} pending", waiting)
        return CheckItem("pending", "ok", f"nothing pending on {mask_url(config.url)}")

    threshold = fail_on or str(config.lint.get("fail_on", "error"))
    linted: list[LintReport] = []

    def lint_findings() -> CheckItem:
        report = lint(config, every=not since and not database_check, since=since)
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
        ("lint", lint_findings),
    ):
        attempt(name, run)
    report = CheckReport(tuple(items), linted[0] if linted else None)
    for item in report.items:
        level = logging.WARNING if item.status == "failed" else logging.INFO
        log.log(level, "check %s %s: %s", item.name, item.status, config.redact(item.detail))
    return report


def _at_least(severity: str, threshold: str) -> bool:
    from dbshift.linter.model import rank

    return rank(severity) >= rank(threshold)


# -- autogenerate ---------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class MakeResult:
    """What `make` found: the operations, where the current schema came from, and the
    file written (None when there was nothing to do, or with `check=True`). With
    `safe`, `paths` lists every migration of the chain written, `path` the last one."""

    path: Path | None
    operations: tuple[Operation, ...]
    source: str
    notes: tuple[str, ...] = ()
    #: what `dbshift lint` says of the files written (docs/lint.md)
    findings: tuple[Finding, ...] = ()
    paths: tuple[Path, ...] = ()
    #: the backends the migration is (or would be) written for, the URL's first
    backends: tuple[str, ...] = ()
    #: what each backend's comparison found, in `backends` order (`check` names them)
    by_backend: tuple[tuple[str, tuple[Operation, ...]], ...] = ()
    #: the findings `dbshift check` would fail on, each with the step that avoids it
    advice: tuple[Advice, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "path": str(self.path) if self.path else None,
            "paths": [str(p) for p in self.paths],
            "source": self.source,
            "backends": list(self.backends),
            "operations": [op.describe() for op in self.operations],
            "by_backend": {b: [op.describe() for op in ops] for b, ops in self.by_backend},
            "notes": list(self.notes),
            "lint": [f.to_json() for f in self.findings],
            "fails_check": [a.to_json() for a in self.advice],
        }


def make(
    config: Config,
    message: str = "autogenerated",
    *,
    sql: bool = False,
    renames: Sequence[str] = (),
    decide: RenameDecider | None = None,
    dev_url: str | None = None,
    check: bool = False,
    safe: bool | None = None,
    allow_drop_all: bool = False,
) -> Path | None:
    """Write the migration that brings the schema to what the models declare; return
    its path, or None when the migrations already match the models. `safe` writes
    PostgreSQL changes that do not block the application, possibly as a chain of
    migrations; the path returned is the last one. It defaults to the config's `safe`,
    and when that is unset to on for Python migrations on PostgreSQL. Models with
    no tables, or a change that drops every table, are refused (exit 2) unless
    `allow_drop_all`: they are nearly always model modules that were not imported."""
    return make_report(
        config,
        message,
        sql=sql,
        renames=renames,
        decide=decide,
        dev_url=dev_url,
        check=check,
        safe=safe,
        allow_drop_all=allow_drop_all,
    ).path


SAFE_ONLY_POSTGRESQL = "--safe changes nothing on {backend}: its rewrites are for PostgreSQL"


def make_report(
    config: Config,
    message: str = "autogenerated",
    *,
    sql: bool = False,
    renames: Sequence[str] = (),
    decide: RenameDecider | None = None,
    dev_url: str | None = None,
    check: bool = False,
    safe: bool | None = None,
    allow_drop_all: bool = False,
) -> MakeResult:
    """`make` with everything it found (the CLI shows it). With several `backends`
    configured, the models are compared per backend and the one file written is right
    on each of them (docs/autogenerate.md, "One history, several backends")."""
    from dbshift import autogen
    from dbshift.autogen.advice import Written, advise
    from dbshift.autogen.safe import Step, safe_steps
    from dbshift.dialects import dialect_for
    from dbshift.linter.engine import state_from_snapshot

    if not check and not message.strip():
        raise UsageError("a migration needs a message", hint='pass -m "what it does"')
    if sql and not check and len(config.backends) > 1:
        raise UsageError(
            f"make --sql writes one dialect's SQL, and backends lists {len(config.backends)} "
            f"({', '.join(config.backends)})",
            hint="leave out --sql: a Python migration runs on every backend; or pass "
            "--backend with the URL's backend alone",
        )
    asked = config.safe if safe is None else safe
    project = Project.read(config)
    if len(project.graph.heads) > 1:
        raise UsageError(
            f"several heads: {', '.join(project.graph.heads)}",
            hint="run `dbshift merge` first, so the new migration has one parent",
        )
    dialect = _make_dialect(config)
    online = dialect_for(dialect).online_rewrites
    safe = _writes_safe(asked, online, sql)
    dialects = _backend_dialects(config, dialect)
    targets = autogen.models_targets(config, dialects, allow_empty=allow_drop_all)
    source = _current_schema(project, dialect, dev_url)
    diffs = _backend_diffs(project, source, targets, _decider(renames, decide))
    folded = autogen.reconcile(diffs)
    operations = folded.diff.operations
    if not allow_drop_all:
        autogen.refuse_dropping_everything(source.snapshot, operations)
    notes = folded.diff.notes
    names = tuple(name for name, _ in diffs)
    by_backend = tuple((name, d.operations) for name, d in diffs)
    if safe and not online:
        notes = (*notes, SAFE_ONLY_POSTGRESQL.format(backend=_backend(dialect)))
    if folded.problems and check:  # one backend needs what the others must not get
        raise _different_migrations(list(folded.problems))
    if not operations or check:
        log.info(
            "make%s: %d change(s) between the models and the %s",
            " --check" if check else "",
            len(operations),
            source.kind,
        )
        return MakeResult(
            None, operations, source.kind, notes, backends=names, by_backend=by_backend
        )
    problems = [*autogen.differences(targets), *folded.problems]
    if problems:
        raise _different_migrations(problems)
    if safe and sql and online:
        raise UsageError(
            "--safe writes Python migrations on PostgreSQL",
            hint="an invalid index left by a failed build can only be dropped online: "
            "leave out --sql",
        )
    steps = (
        safe_steps(operations, source.snapshot, dialect.name) if safe else [Step("", operations)]
    )
    backend = _backend(dialect)
    lint_state = state_from_snapshot(source.snapshot, backend)
    before = source.snapshot
    parents = list(project.graph.heads)
    taken = [s.id for s in project.scripts]
    paths: list[Path] = []
    findings: list[Finding] = []
    for step in steps:
        step_message = f"{message} {step.suffix}" if step.suffix else message
        path, before = _write_step(
            config, step, step_message, parents, taken, before, sql, dialect, names
        )
        project.write_sums()
        findings += _lint_written(config, path, dialect, lint_state)
        parents, paths = [path.stem], [*paths, path]
        taken.append(path.stem)
        log.info("make: wrote %s (%d operation(s))", path, len(step.operations))
    threshold = str(config.lint.get("fail_on", "error"))
    written = Written(message, paths, safe, online, sql)
    return MakeResult(
        paths[-1],
        operations,
        source.kind,
        notes,
        tuple(findings),
        tuple(paths),
        names,
        by_backend,
        advise(findings, threshold, written),
    )


def _writes_safe(asked: bool | None, online: bool, sql: bool) -> bool:
    """Whether `make` writes the online rewrites: as asked (`--safe/--no-safe`, the
    config's `safe`), else wherever they exist (PostgreSQL) and can be written (Python
    migrations: cleaning up after a failed concurrent build needs a live connection).
    Left to the plain form, an index on an existing table is a DS301 error that
    `dbshift check` fails on: the default must not write what the linter rejects."""
    if asked is None:
        return online and not sql
    return asked


class _BackendsDiffer(UsageError):
    """The configured backends need different migrations (exit 2)."""


def _different_migrations(problems: list[str]) -> UsageError:
    return _BackendsDiffer(
        f"the backends need different migrations ({'; '.join(problems)})",
        hint="make the models the same on every backend (types may differ), or write "
        "what only some backends get by hand, under `if op.dialect == NAME:` (see "
        "docs/autogenerate.md), or configure fewer backends",
    )


def _backend_diffs(
    project: Project,
    source: autogen.Source,
    targets: Sequence[tuple[sa.engine.Dialect, Snapshot]],
    decide: RenameDecider,
) -> list[tuple[str, autogen.Diff]]:
    """Each backend's operations towards the models (primary first, from `source`; the
    others from the migrations replayed for them), each rename asked about once."""
    from dbshift import autogen

    target = autogen.merge_targets(targets)
    decide = _remembered(decide)
    (primary, _), others = targets[0], targets[1:]
    live, portable = source.kind != "migrations", bool(others)
    first = autogen.diff(source.snapshot, target, primary, decide, live=live, portable=portable)
    diffs = [(primary.name, first)]
    for other, own in others:
        replayed = project.replayed(other) if not live else None
        if replayed is None:
            raise UsageError(
                f"comparing with the {source.kind} gives the schema on {primary.name} only, "
                f"and backends lists {', '.join(project.config.backends)}",
                hint="the migrations must replay for several backends (no raw DDL in "
                "op.execute); or pass --backend with the URL's backend alone",
            )
        mine = autogen.backend_target(target, own)
        diffs.append((other.name, autogen.diff(replayed, mine, other, decide, portable=True)))
    return diffs


def _backend_dialects(config: Config, primary: sa.engine.Dialect) -> list[sa.engine.Dialect]:
    """The dialects `make` compares for: the URL's, then the other configured backends."""
    from dbshift.dialects.backends import offline_dialect

    if not config.backends:
        return [primary]
    if primary.name not in config.backends:
        raise ConfigError(
            f"the URL's backend {primary.name} is not in backends ({', '.join(config.backends)})",
            hint=f"add {primary.name!r} to `backends`, or use a URL of one of them",
        )
    return [primary, *(offline_dialect(n) for n in config.backends if n != primary.name)]


def _remembered(decide: RenameDecider) -> RenameDecider:
    """`decide`, asking each question once however many backends are compared."""
    answers: dict[tuple[str, str, str], bool] = {}

    def ask(kind: str, old: str, new: str) -> bool:
        key = (kind, old, new)
        if key not in answers:
            answers[key] = decide(kind, old, new)
        return answers[key]

    return ask


def _backend(dialect: sa.engine.Dialect) -> str:
    from dbshift.linter import Target

    return Target.of(dialect).backend


def _write_step(
    config: Config,
    step: Step,
    message: str,
    parents: Sequence[str],
    taken: Sequence[str],
    before: Snapshot,
    sql: bool,
    dialect: sa.engine.Dialect,
    backends: Sequence[str],
) -> tuple[Path, Snapshot]:
    """Write one migration of `make`'s output, its header naming the `backends` it was
    made for; return it with the schema after it."""
    from dbshift.ops.base import inverse

    operations = step.operations
    undo = inverse(operations, before)
    after = before
    for op in operations:
        after = op.apply(after)
    if sql:
        content = render_sql(
            message,
            parents,
            _offline_sql(operations, before, dialect),
            _offline_sql(undo, after, dialect),
            backends=backends,
        )
    else:
        content = _render_python(message, parents, operations, undo, step.transactional, backends)
    migration_id = new_id(message, taken)
    path = write_new(config.migrations_dir, migration_id, "sql" if sql else "python", content)
    _post_write(config, path)
    return path, after


def _lint_written(
    config: Config, path: Path, dialect: sa.engine.Dialect, state: SchemaState
) -> tuple[Finding, ...]:
    """Lint the file `make` just wrote, as written (lines included), on the schema it
    starts from (`state`, which then moves past it), for the backend it was generated
    for."""
    from dbshift.linter import Settings, Target, lint_operations
    from dbshift.linter.facts import facts_from_operation
    from dbshift.migrations import loader
    from dbshift.migrations.scripts import read_script

    backend = _backend(dialect)
    script = read_script(path)
    code = loader.load(script, dialect.name, lines=True)
    findings = lint_operations(
        code.upgrade,
        Target(backend),
        before=state,
        transactional=script.transactional,
        migration=script.id,
        file=str(path),
        lines=code.op_lines,
        settings=Settings.of(config),
    )
    for op in code.upgrade:
        for fact in facts_from_operation(op, backend):
            state.apply(fact)
    return tuple(findings)


def diff(
    config: Config, *, against: str = "database", renames: Sequence[str] = ()
) -> list[Operation]:
    """The operations that separate the models from the live database (`against=
    "database"`) or from the replayed migrations (`against="migrations"`); `[]` when in
    sync. Against the migrations, every configured backend is compared, and the
    operations are those `make` would write; a database is one backend, and is
    compared with the models as they resolve there."""
    from dbshift import autogen

    if against not in ("database", "migrations"):
        raise UsageError(f"unknown comparison {against!r}", hint='use "database" or "migrations"')
    if against == "migrations":
        project = Project.read(config)
        dialect = _make_dialect(config)
        current = project.replayed(dialect)
        if current is None:
            raise UsageError(
                "some migration runs raw DDL, which cannot be replayed",
                hint='compare with the database instead: diff(config, against="database")',
            )
        targets = autogen.models_targets(config, _backend_dialects(config, dialect))
        source = autogen.Source(current, "migrations")
        diffs = _backend_diffs(project, source, targets, _decider(renames, None))
        return list(autogen.reconcile(diffs).diff.operations)

    def job(conn: sa.Connection) -> tuple[Snapshot, sa.engine.Dialect]:
        return autogen.database_snapshot(conn, config), conn.dialect

    current, dialect = database.run(config, job)
    target = autogen.models_snapshot(config, dialect)
    found = autogen.diff(current, target, dialect, _decider(renames, None), live=True)
    return list(found.operations)


def _make_dialect(config: Config) -> sa.engine.Dialect:
    """The dialect to generate for, without needing a database. A `mysql://` URL may
    point at MySQL or MariaDB, whose DDL differs (MariaDB has sequences): the server is
    asked when it answers."""
    dialect = database.offline_dialect(config)
    if dialect.name != "mysql":
        return dialect
    try:
        live: sa.engine.Dialect = database.run(config, lambda conn: conn.dialect)
    except DbshiftError:
        return dialect
    return live


def _decider(renames: Sequence[str], decide: RenameDecider | None) -> RenameDecider:
    """`--rename` answers first; then `decide` (a terminal prompt), else never guess."""
    from dbshift import autogen

    given = autogen.parse_renames(renames)
    if decide is None:
        return given
    return lambda kind, old, new: given(kind, old, new) or decide(kind, old, new)


def _current_schema(
    project: Project, dialect: sa.engine.Dialect, dev_url: str | None
) -> autogen.Source:
    """The replayed migrations; or, when one runs raw DDL, a database at head."""
    from dbshift import autogen

    if dev_url is None:
        snapshot = project.replayed(dialect)
        if snapshot is not None:
            return autogen.Source(snapshot, "migrations")
    config = project.config if dev_url is None else project.config.replace(url=dev_url)
    if dev_url is not None:
        upgrade(config, "heads")

    def job(conn: sa.Connection) -> Snapshot:
        pending = _jobs.status(config)(conn).pending
        if pending:
            raise UsageError(
                f"the database is not at head ({len(pending)} pending), and some migration "
                "runs raw DDL, so it is the only source of the current schema",
                hint="run `dbshift upgrade` first, or pass --dev-url to a scratch database",
            )
        return autogen.database_snapshot(conn, config)

    kind = "database" if dev_url is None else "dev database"
    return autogen.Source(database.run(config, job), kind)


def _render_python(
    message: str,
    parents: Sequence[str],
    operations: Sequence[Operation],
    undo: Sequence[Operation],
    transactional: bool = True,
    backends: Sequence[str] = (),
) -> str:
    from dbshift.autogen.render import Renderer

    renderer = Renderer()
    up, down = renderer.body(operations), renderer.body(undo)
    return render_python(
        message,
        parents,
        up,
        down,
        imports=renderer.import_lines(),
        transactional=transactional,
        backends=backends,
    )


def _offline_sql(
    operations: Sequence[Operation], before: Snapshot, dialect: sa.engine.Dialect
) -> str:
    from dbshift.ops.context import OfflineContext

    ctx = OfflineContext(dialect, before)
    for op in operations:
        ctx.run(op)
    return "".join(f"{statement};\n" for statement in ctx.take())


def _post_write(config: Config, path: Path) -> None:
    """Run the configured `format` command (e.g. "ruff format") on the new file."""
    if not config.format:
        return
    import shlex
    import subprocess

    command = [*shlex.split(config.format), str(path)]
    try:
        done = subprocess.run(command, capture_output=True, text=True, check=False)
    except OSError as error:
        raise ConfigError(
            f"format command {command[0]!r} failed to start: {error.strerror}",
            hint=f"{path.name} was written unformatted; fix `format` in dbshift.toml",
        ) from None
    if done.returncode != 0:
        first = (done.stderr or done.stdout).strip().splitlines()
        raise ConfigError(
            f"format command failed on {path.name}: {first[0] if first else done.returncode}",
            hint="the file was written; fix `format` in dbshift.toml",
        )


# -- the database jobs, shared with dbshift.aio -------------------------------------------


class _jobs:
    """Builders of `fn(connection) -> result` for each database command."""

    @staticmethod
    def upgrade(
        config: Config, target: str, dry_run: bool, single: bool, listener: Listener | None
    ) -> Callable[[sa.Connection], RunReport]:
        project = Project.read(config)
        return project.settled(
            lambda conn: project.runner(conn, listener).migrate(
                "up", target, dry_run=dry_run, single_transaction=single
            )
        )

    @staticmethod
    def downgrade(
        config: Config, target: str, dry_run: bool, listener: Listener | None
    ) -> Callable[[sa.Connection], RunReport]:
        project = Project.read(config)
        return project.settled(
            lambda conn: project.runner(conn, listener).migrate("down", target, dry_run=dry_run)
        )

    @staticmethod
    def stamp(config: Config, target: str) -> Callable[[sa.Connection], RunReport]:
        project = Project.read(config)
        return project.settled(lambda conn: project.runner(conn).stamp(target))

    @staticmethod
    def status(config: Config) -> Callable[[sa.Connection], Status]:
        project, on_files = Project.audited(config)

        def job(conn: sa.Connection) -> Status:
            rows = History(config.table_prefix, config.schema).rows(conn)
            known = {s.id: s for s in project.scripts}
            applied = [r for r in rows if r.applied]
            applied_ids = {r.id for r in applied if r.id in known}
            current = tuple(
                i
                for i in sorted(applied_ids)
                if not any(c in applied_ids for c in project.graph.children_of(i))
            )
            problems = (*on_files, *_history_problems(known, rows, conn, config.migrations_dir))
            if not problems:
                project.settle()
            return Status(
                url=mask_url(config.url),
                current=current,
                heads=project.graph.heads,
                pending=tuple(project.graph.plan_up(applied_ids, "heads")),
                applied=tuple(applied),
                partial=tuple(
                    PartialRun(
                        r,
                        tuple(m.text for m in _statement_marks(known.get(r.id), conn.dialect.name)),
                    )
                    for r in rows
                    if not r.applied
                ),
                problems=problems,
            )

        return job

    @staticmethod
    def history(config: Config) -> Callable[[sa.Connection], HistoryReport]:
        project, on_files = Project.audited(config)

        def job(conn: sa.Connection) -> HistoryReport:
            found = History(config.table_prefix, config.schema).rows(conn)
            rows = {r.id: r for r in found}
            heads = set(project.graph.heads)
            scripts = {s.id: s for s in project.scripts}
            problems = (*on_files, *_history_problems(scripts, found, conn, config.migrations_dir))
            by_migration = _by_migration(problems)
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

    @staticmethod
    def show(config: Config, ref: str) -> Callable[[sa.Connection | None], MigrationInfo]:
        project = Project.read(config)
        script = project.script(ref)

        def job(conn: sa.Connection | None) -> MigrationInfo:
            row = None
            dialect = "default"
            if conn is not None:
                row = History(config.table_prefix, config.schema).row_if_exists(conn, script.id)
                dialect = conn.dialect.name
            from dbshift.migrations import loader

            code = loader.load(script, dialect)
            return MigrationInfo(
                script,
                project.graph.children_of(script.id),
                row,
                tuple(op.describe() for op in code.upgrade),
                tuple(op.describe() for op in code.downgrade)
                if code.downgrade is not None
                else None,
            )

        return project.settled(job)

    @staticmethod
    def verify(config: Config) -> Callable[[sa.Connection | None], VerifyReport]:
        project = Project.read(config, check_sums=False)
        from dbshift.migrations import sumfile

        found = sumfile.audit(config.migrations_dir, project.scripts, project.graph.heads)
        problems = [f"{e.message} (hint: {e.hint})" for e in found.errors]
        problems += [
            f"{name} was {what} since {sumfile.NAME} was written (not committed yet: the "
            "next dbshift command records it, or run `dbshift rehash`)"
            for name, what in found.unrecorded
        ]
        known = {s.id: s for s in project.scripts}

        def job(conn: sa.Connection | None) -> VerifyReport:
            if conn is None:
                return VerifyReport(len(known), None, tuple(problems))
            rows = History(config.table_prefix, config.schema).rows(conn)
            partial = [
                f"{r.id} stopped part-way after {len(r.done)} statement(s) (`dbshift "
                "upgrade` resumes it; `dbshift status` shows them)"
                for r in rows
                if not r.applied
            ]
            found_in_db = [
                p.line() for p in integrity.in_history(known, rows, config.migrations_dir)
            ] + partial
            return VerifyReport(len(known), mask_url(config.url), (*problems, *found_in_db))

        return job

    @staticmethod
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
    from dbshift.errors import MigrationError
    from dbshift.migrations.scripts import sql_sections
    from dbshift.migrations.sqlsplit import split_sql

    try:
        (up, line), _down = sql_sections(script.path.read_text(encoding="utf-8"))
        return tuple(StatementMark.of(s.text) for s in split_sql(up, dialect, first_line=line))
    except (OSError, MigrationError):
        return ()


def _history_problems(
    scripts: Mapping[str, Script],
    rows: Sequence[HistoryRow],
    conn: sa.Connection,
    folder: Path,
) -> tuple[Problem, ...]:
    """What the history disagrees with the files on, as `status` and `history` report
    it: applied files edited or gone, and partial migrations `upgrade` cannot resume."""
    partial = integrity.in_partial_rows(
        scripts, rows, lambda script: _statement_marks(script, conn.dialect.name)
    )
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
