"""The public Python API: everything the CLI can do, returning typed results.

This module is the typed surface; the work lives with the concept it belongs to:
`dbshift.migrations.project` (the files a configuration describes), `dbshift.results`
(what the commands return, re-exported here), `dbshift.jobs` (each command that needs
the database, as a function of a connection, so `dbshift.aio` runs the same code on
async engines), `dbshift.migrations.edit` (`new`, `merge`, `rebase`),
`dbshift.linter.run` (`lint`), `dbshift.checks` (`check`) and `dbshift.autogen.make`
(`make` and `diff`).

`dbshift status` and `history` start here, so the top imports only what they need: the
linter (and sqlglot), the autogenerate, the migration loader and the offline renderer
are imported inside the commands that use them.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from dbshift import database, jobs
from dbshift.config import Config, mask_url
from dbshift.errors import UsageError
from dbshift.files import write_atomic
from dbshift.migrations import edit
from dbshift.migrations.project import Project
from dbshift.results import (
    AdoptReport,
    BaselineWritten,
    CheckItem,
    CheckReport,
    Difference,
    DriftReport,
    HistoryEntry,
    HistoryReport,
    MakeResult,
    MigrationInfo,
    PartialRun,
    RebaseResult,
    RepairReport,
    SchemaBaseline,
    Status,
    VerifyReport,
)

if TYPE_CHECKING:
    from dbshift.autogen.compare import RenameDecider
    from dbshift.linter import LintReport
    from dbshift.ops import Operation
    from dbshift.runner import Listener, RunReport  # annotations only: status stays light


__all__ = [
    "AdoptReport",
    "BaselineWritten",
    "CheckItem",
    "CheckReport",
    "Difference",
    "DriftReport",
    "HistoryEntry",
    "HistoryReport",
    "MakeResult",
    "MigrationInfo",
    "PartialRun",
    "Project",
    "RebaseResult",
    "RepairReport",
    "SchemaBaseline",
    "Status",
    "VerifyReport",
    "adopt",
    "baseline",
    "check",
    "diff",
    "downgrade",
    "drift",
    "heads",
    "history",
    "init",
    "init_migrations",
    "lint",
    "make",
    "make_report",
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
    "write_lint_baseline",
]


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
    return database.run(config, jobs.upgrade(config, target, dry_run, single_transaction, listener))


def downgrade(
    config: Config, target: str, *, dry_run: bool = False, listener: Listener | None = None
) -> RunReport:
    """Revert applied migrations down to `target` (`-1`, an id, or `base`)."""
    return database.run(config, jobs.downgrade(config, target, dry_run, listener))


def stamp(config: Config, target: str) -> RunReport:
    """Record `target` as the applied state without running any migration."""
    return database.run(config, jobs.stamp(config, target))


def status(config: Config) -> Status:
    """Applied, pending and partial migrations, and every integrity problem (reported,
    not raised: see `Status.problems`). Header and graph errors raise."""
    return database.run(config, jobs.status(config))


def history(config: Config) -> HistoryReport:
    """The whole graph, oldest first, with what is applied and every integrity problem
    (reported, not raised: see `HistoryReport`)."""
    return database.run(config, jobs.history(config))


def show(config: Config, ref: str) -> MigrationInfo:
    """One migration: header, place in the graph, history row and its operations."""
    if config.url:
        return database.run(config, jobs.show(config, ref))
    return jobs.show(config, ref)(None)


def repair(
    config: Config, *, applied: Sequence[str] = (), rolled_back: Sequence[str] = ()
) -> RepairReport:
    """Accept edited checksums, or mark migrations applied / rolled back by hand."""
    return database.run(config, jobs.repair(config, applied, rolled_back))


def verify(config: Config, *, database_check: bool = True) -> VerifyReport:
    """Check the headers and graph (raising on the first error, as every command does),
    `dbshift.sum`, and, when a URL is configured, every applied checksum. Changes
    nothing: unlike other commands, it does not record an edit to an uncommitted head."""
    return jobs.verify_now(config, database_check=database_check)


def adopt(
    config: Config,
    source: str | Path | None = None,
    *,
    files_only: bool = False,
    drop_alembic_version: bool = False,
    drop_yoyo_tables: bool = False,
    version_table: str | None = None,
    version_table_schema: str | None = None,
    tool: str | None = None,
) -> AdoptReport:
    """Take over an Alembic, Flask-Migrate or yoyo-migrations project (docs/adopt.md):
    convert its migrations into the migrations folder (all or none, with `dbshift.sum`),
    then, when a URL is configured and not `files_only`, record in the history what its
    version table says is applied. `source`: the alembic.ini, pyproject.toml, yoyo.ini
    or their folder, or a folder of yoyo migrations (default: the working directory);
    without one there, the converted files already in the folder are used. `tool`:
    "alembic" or "yoyo" (default: whichever is found). Running it again changes nothing
    that is already done."""
    # lazy: status start-up: the converter parses Python with ast
    from dbshift.adopt import run

    write = files_only or not config.url
    prepared = run.prepare(
        config,
        source,
        version_table=version_table,
        version_table_schema=version_table_schema,
        tool=tool,
        write=write,
        drop_alembic_version=drop_alembic_version,
        drop_yoyo_tables=drop_yoyo_tables,
    )
    if write:
        return prepared.report()
    job = run.database_job(prepared, drop_version_table=prepared.drop)
    return database.run(config, job)


# -- baseline and drift (docs/drift.md) -----------------------------------------------


def baseline(
    config: Config,
    message: str = "baseline",
    *,
    sql: bool = False,
    after_existing: bool = False,
) -> SchemaBaseline:
    """Take over a database no tool manages: write the first migration, which recreates
    its schema as it is (Python, or with `sql` the URL's dialect's SQL), and record it as
    applied without running it; file and history row all or none. Refused (exit 2) on
    a database with dbshift history, an empty one, or a migrations folder that already
    holds migrations, unless `after_existing` (the baseline then holds what the database
    has beyond them, and they are recorded as applied too)."""
    # lazy: status start-up: introspection and the renderer
    from dbshift.autogen import baseline as taking

    request = taking.Request(message=message, sql=sql, after_existing=after_existing)
    project = taking.prepare(config, request)
    return database.run(config, taking.job(config, project, request))


def drift(config: Config) -> DriftReport:
    """How the live database differs from the schema its applied migrations build
    (replayed in memory) and from the models, when they are configured; `drifted` is
    False when it matches both. Changes nothing."""
    # lazy: status start-up: introspection, the replay and the models comparison
    from dbshift.autogen import drift as drifting

    prepared = drifting.prepare(config)
    return database.run(config, drifting.job(prepared))


# -- commands that work on files only ---------------------------------------------------


def heads(config: Config) -> list[str]:
    project = Project.read(config)
    project.settle()
    return list(project.graph.heads)


def new(config: Config, message: str, *, sql: bool = False) -> Path:
    """Write an empty migration whose parents are the current heads; return its path."""
    project = Project.read(config)
    return edit.write_empty(project, message, project.graph.heads, sql=sql)


def merge(config: Config, message: str = "merge heads") -> Path:
    """Write a migration whose parents are all current heads. It also resolves a git
    conflict in `dbshift.sum`: every file must be recorded, unchanged, on one side."""
    project = edit.read_merging(config)
    if len(project.graph.heads) < 2:
        raise UsageError(
            "nothing to merge: there is a single head", hint="merge joins two or more heads"
        )
    return edit.write_empty(project, message, project.graph.heads, sql=False)


def rehash(config: Config) -> Path:
    """Rewrite `dbshift.sum` from the migration files as they are: the user's word that
    they are the intended ones. The graph must be valid."""
    return Project.read(config, check_sums=False).write_sums()


def rebase(config: Config, migration: str | None = None) -> RebaseResult:
    """Move the migrations only one branch has after the other branch's head, so the
    graph is a line again, and rewrite `dbshift.sum`. `migration` names the branch to
    move (any of its migrations); without it, the branch whose files `dbshift.sum` does
    not record yet is moved, when there is exactly one."""
    return edit.rebase(edit.read_merging(config), migration)


def init(
    directory: str | Path = ".",
    *,
    migrations: str = "migrations",
    url: str | None = None,
    models: Sequence[str] = (),
    **settings: str | float | None,
) -> Path:
    """Create `dbshift.toml` and the migrations folder; return the config path. `url`,
    `models` and `settings` (`schema`, `table_prefix`, `runner_lock_timeout`: the CLI's
    global flags) are written into the file; a URL with a password is refused (the file
    is committed: give it through `${DATABASE_URL}`)."""
    unknown = sorted(set(settings) - _INIT_SETTINGS)
    if unknown:
        raise UsageError(f"init does not write {', '.join(unknown)}", hint="edit dbshift.toml")
    if url is not None and mask_url(url) != url:
        raise UsageError(
            "a URL with a password does not belong in dbshift.toml (it is committed)",
            hint='write url = "${DATABASE_URL}" and set DATABASE_URL in the environment',
        )
    root = Path(directory)
    config_path = root / "dbshift.toml"
    if config_path.exists():
        raise UsageError(f"{config_path} already exists", hint="edit it, or init elsewhere")
    default = url or "sqlite:///app.db"
    lines = [
        "# dbshift configuration (all keys: README, section Configuration)",
        f"url = {_toml_str('${DATABASE_URL:-' + default + '}')}",
        f"migrations = {_toml_str(migrations)}",
        f"models = [{', '.join(_toml_str(m) for m in models)}]   # for `dbshift make`"
        if models
        else '# models = ["myapp.models:Base"]   # for `dbshift make`',
        '# backends = ["sqlite", "postgresql"]   # `make` writes for each (default: the URL\'s)',
        *(
            f"{key} = {_toml_str(value) if isinstance(value, str) else value}"
            for key, value in settings.items()
            if value is not None
        ),
        "",
        "# [environments.production]",
        '# url = "${PRODUCTION_DATABASE_URL}"',
    ]
    root.mkdir(parents=True, exist_ok=True)
    (root / migrations).mkdir(parents=True, exist_ok=True)
    write_atomic(config_path, "\n".join(lines) + "\n", exclusive=True)
    return config_path


_INIT_SETTINGS = frozenset({"schema", "table_prefix", "runner_lock_timeout"})


def _toml_str(value: str) -> str:
    """A TOML basic string (JSON's escapes are TOML's for these characters)."""
    return json.dumps(value, ensure_ascii=False)


def init_migrations(folder: str | Path) -> Path:
    """Create an empty migrations folder (for configurations that live elsewhere: the
    `flask db init` of dbshift.flask); refuses one that exists and holds files."""
    path = Path(folder)
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        raise UsageError(
            f"{path} already exists and is not an empty folder",
            hint="it is set up already; `upgrade` applies its migrations",
        )
    path.mkdir(parents=True, exist_ok=True)
    return path


def sql(
    config: Config, range_: str | None = None, *, dialect: str | None = None, down: bool = False
) -> str:
    """The offline SQL script for a range `[FROM:]TO`, with no database connection."""
    # lazy: status start-up: the loader and the SQL renderer
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
    # lazy: status start-up: the linter (and sqlglot)
    from dbshift.linter import run as linting

    choice = linting.Choice(
        range_=range_,
        every=every,
        since=since,
        dialect=dialect,
        server_version=server_version,
    )
    return linting.lint(config, choice, baseline=baseline)


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
    # lazy: status start-up: the linter (and sqlglot)
    from dbshift.linter import run as linting

    choice = linting.Choice(
        range_=range_,
        every=every,
        since=since,
        dialect=dialect,
        server_version=server_version,
    )
    return linting.write_baseline(config, choice)


# -- check: the one CI command ------------------------------------------------------------


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
    # lazy: status start-up: the linter and the autogenerate
    from dbshift import checks

    return checks.check(config, database_check=database_check, since=since, fail_on=fail_on)


# -- autogenerate ---------------------------------------------------------------------------


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
    # lazy: status start-up: the models comparison
    from dbshift.autogen import make as pipeline

    request = pipeline.Request(
        message=message,
        sql=sql,
        renames=renames,
        decide=decide,
        dev_url=dev_url,
        check=check,
        safe=safe,
        allow_drop_all=allow_drop_all,
    )
    return pipeline.make_report(config, request)


def diff(
    config: Config, *, against: str = "database", renames: Sequence[str] = ()
) -> list[Operation]:
    """The operations that separate the models from the live database (`against=
    "database"`) or from the replayed migrations (`against="migrations"`); `[]` when in
    sync. Against the migrations, every configured backend is compared, and the
    operations are those `make` would write; a database is one backend, and is
    compared with the models as they resolve there."""
    if against == "database":  # the comparison alone: no renderer, linter or loader
        # lazy: status start-up: the models comparison
        from dbshift import autogen

        return autogen.database_diff(config, renames)
    # lazy: status start-up: the models comparison
    from dbshift.autogen import make as pipeline

    return pipeline.diff(config, against=against, renames=renames)


def __getattr__(name: str) -> str:
    """`SAFE_ONLY_POSTGRESQL`, the note `make --safe` adds where it changes nothing, read
    from `dbshift.autogen.make` on first use (importing it here would bring the models
    comparison into every command's start-up)."""
    if name == "SAFE_ONLY_POSTGRESQL":
        # lazy: status start-up: the models comparison
        from dbshift.autogen import make as pipeline

        return pipeline.SAFE_ONLY_POSTGRESQL
    raise AttributeError(f"module 'dbshift.api' has no attribute {name!r}")
