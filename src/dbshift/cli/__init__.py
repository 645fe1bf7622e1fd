"""The `dbshift` command: parse flags, call the API, hand results to the reporter."""

from __future__ import annotations

import contextlib
import dataclasses
import difflib
import functools
import gc
import logging
import os
import signal
import sys
import threading
import traceback
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn, TextIO, TypeVar

import click

from dbshift import api
from dbshift._version import __version__
from dbshift.cli.report import Reporter
from dbshift.config import Config, RenamedSetting, redact
from dbshift.errors import (
    ConfigError,
    DbshiftError,
    ExitCode,
    Interrupted,
    UsageError,
    mask_error,
)
from dbshift.files import write_atomic

F = TypeVar("F", bound=Callable[..., Any])


@dataclasses.dataclass
class Secrets:
    """The URLs this run has seen: whatever it prints is masked with their passwords
    (errors, `--debug` tracebacks, `-v` log lines), whichever layer wrote the text."""

    urls: list[str] = dataclasses.field(default_factory=list)

    def add(self, url: str | None) -> None:
        if url and url not in self.urls:
            self.urls.append(url)

    def redact(self, text: str) -> str:
        text = redact(text, None)
        for url in self.urls:
            text = redact(text, url)
        return text


@dataclasses.dataclass
class Outside:
    """What `main()` hands the commands: the run's secrets and the stdout that is the
    command's own (with --json, sys.stdout is stderr while commands run: see `main`)."""

    secrets: Secrets = dataclasses.field(default_factory=Secrets)
    stdout: TextIO = dataclasses.field(default_factory=lambda: sys.stdout)


_SQL_LOG = logging.getLogger("sqlalchemy.engine")
_SQL_LOG_HANDLER = "dbshift -v"
#: the library's own records (docs/api.md, "Logging"): the CLI prints its own output
#: from results and listeners, so they reach stderr only with --debug
_DBSHIFT_LOG = logging.getLogger("dbshift")
_DBSHIFT_LOG_HANDLER = "dbshift --debug"


def _log_to_stderr(logger: logging.Logger, name: str, level: int, secrets: Secrets) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(name)s: %(message)s"))
    handler.addFilter(_RedactingFilter(secrets))
    handler.set_name(name)
    logger.addHandler(handler)
    logger.setLevel(level)


def _stop_logs() -> None:
    """Detach what `-v` and `--debug` attached, so that `main()` called in a process
    leaves no trace."""
    for logger, name in ((_SQL_LOG, _SQL_LOG_HANDLER), (_DBSHIFT_LOG, _DBSHIFT_LOG_HANDLER)):
        for handler in [h for h in logger.handlers if h.get_name() == name]:
            logger.removeHandler(handler)
            logger.setLevel(logging.NOTSET)


class _RedactingFilter(logging.Filter):
    def __init__(self, secrets: Secrets) -> None:
        super().__init__()
        self.secrets = secrets

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg, record.args = self.secrets.redact(record.getMessage()), None
        return True


@dataclasses.dataclass
class State:
    overrides: dict[str, Any]
    config_path: str | None
    env: str | None
    reporter: Reporter
    secrets: Secrets = dataclasses.field(default_factory=Secrets)
    #: where the configuration comes from when it is not the file and the flags: the
    #: commands embedded in another CLI (`flask db`, dbshift/flask.py) build it, for
    #: the database named (None: the only one)
    configure: Callable[[str | None], Config] | None = None
    #: the names of the databases when `configure` builds the configuration
    names: Callable[[], list[str]] | None = None
    #: the database `--db` named (before or after the command), if any
    db: str | None = None
    #: the database a command over several is running on now
    database: str | None = None

    def config(self) -> Config:
        """The configuration; a key under its old name costs a note on stderr."""
        database = self.database or self.db
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", RenamedSetting)
            if self.configure is not None:
                config = self.configure(database)
            else:
                config = Config.load(
                    self.config_path, env=self.env, database=database, **self.overrides
                )
        for warning in caught:
            if issubclass(warning.category, RenamedSetting):
                print(f"note: {warning.message}", file=sys.stderr)
            else:
                warnings.warn_explicit(
                    warning.message, warning.category, warning.filename, warning.lineno
                )
        self.secrets.add(config.url_text)
        return config

    def database_names(self) -> list[str]:
        """The databases configured, in order; empty for a project of one."""
        if self.names is not None:
            return self.names()
        return Config.database_names(self.config_path)

    def selected(self, command: str, *, several: bool) -> list[str]:
        """The databases `command` runs on: the one `--db` names, else all of them (a
        command that works on one, `several=False`, needs `--db` when there are more)."""
        names = self.database_names()
        if self.db is not None:
            if self.db not in names:
                if self.names is None:  # the file's own error, which names the file
                    Config.load(self.config_path, env=self.env, database=self.db)
                raise ConfigError(
                    f"unknown database {self.db!r}",
                    hint=f"databases: {', '.join(names) or 'none configured'}",
                )
            return [self.db]
        if len(names) > 1 and not several:
            raise UsageError(
                f"`{command}` works on one database and {len(names)} are configured "
                f"({', '.join(names)})",
                hint=f"name one: `{command} --db {names[0]}`",
            )
        given = [f"--{key}" for key in ("url", "migrations") if self.overrides.get(key)]
        if len(names) > 1 and given:
            raise UsageError(
                f"{' and '.join(given)} {'apply' if len(given) > 1 else 'applies'} to one "
                f"database and {len(names)} are configured",
                hint=f"name the one with --db NAME ({', '.join(names)})",
            )
        if len(names) > 1 and self.configure is None:  # each read, two sharing refused
            Config.load_all(self.config_path, env=self.env, **self.overrides)
        return names

    def each(self, names: list[str], call: Callable[[], Any]) -> None:
        """`call` once for each database in turn, each reported under its name; one
        failing does not stop the others, and the run exits with the first failure's
        code."""
        failed: int = 0
        with self.reporter.databases():
            for name in names:
                self.database = name
                with self.reporter.database(name):
                    try:
                        call()
                    except _Exit as done:
                        failed = failed or int(done.code)
                    except DbshiftError as error:
                        mask_error(error, self.secrets.redact)
                        self.reporter.error(error)
                        failed = failed or int(error.exit_code)
                    finally:
                        self.database = None
        if failed:
            raise _Exit(ExitCode(failed))


pass_state = click.make_pass_decorator(State)


def _db_flag(ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
    if value is not None:
        state = ctx.find_object(State)
        assert state is not None
        state.db = value


#: `--db NAME`, not `--database`: `check --database` is the flag (older) that also
#: checks the live database
_DB_HELP = "The database of [databases.NAME] to work on (default: every one, in order)."


def _over_databases(fn: F, several: bool) -> F:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        ctx = click.get_current_context()
        state = ctx.find_object(State)
        assert state is not None
        names = state.selected(ctx.info_name or ctx.command.name or "", several=several)
        if any(kwargs.get(flag) for flag in _NO_DATABASE):
            names = []  # `lint --rules`: once, whatever the databases
        if len(names) <= 1:
            state.database = names[0] if names else None
            try:
                return fn(*args, **kwargs)
            finally:
                state.database = None
        # `--format json` (lint, check): the one document too, as with --json
        as_json = state.reporter.as_json or kwargs.get("fmt") == "json"
        before, state.reporter.as_json = state.reporter.as_json, as_json
        try:
            state.each(names, lambda: fn(*args, **kwargs))
        finally:
            state.reporter.as_json = before
        return None

    help_text = _DB_HELP if several else "The database of [databases.NAME] to work on."
    option = click.option(
        "--db", metavar="NAME", expose_value=False, callback=_db_flag, help=help_text
    )
    return option(wrapper)  # type: ignore[return-value]


#: the flags with which a command reads no configuration, so runs once
_NO_DATABASE = ("list_rules",)


def each_database(fn: F) -> F:
    """A command run on every configured database in turn, or on the one `--db NAME`
    names (a project of one database: on it, as before)."""
    return _over_databases(fn, several=True)


def one_database(fn: F) -> F:
    """A command run on one database: `--db NAME`, needed when several are configured."""
    return _over_databases(fn, several=False)


def _json_flag(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value:
        state = ctx.find_object(State)
        assert state is not None
        state.reporter.as_json, state.reporter.tty = True, False


def reporting(fn: F) -> F:
    """A command whose result can be printed as JSON: `--json` also works after it."""
    option = click.option(
        "--json",
        "as_json",
        is_flag=True,
        expose_value=False,
        callback=_json_flag,
        help="Machine-readable output.",
    )
    return option(fn)


# Targets like -1 must not be taken for options.
TARGETS = {"ignore_unknown_options": True}


def _target(ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    """Targets may start with '-' (`-1`), so options a command lacks land here."""
    if value is not None and value.startswith("--"):
        known = [opt for param in ctx.command.params for opt in param.opts if opt.startswith("--")]
        close = difflib.get_close_matches(value.split("=")[0], known, n=1)
        raise click.NoSuchOption(value, possibilities=close, ctx=ctx)
    return value


class _Signalled(BaseException):
    """Carries an `Interrupted` (a KeyboardInterrupt) past click, which would turn it into
    a bare `Abort` after printing a newline."""

    def __init__(self, stop: Interrupted) -> None:
        self.stop = stop


class _Group(click.Group):
    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except Interrupted as stop:
            raise _Signalled(stop) from None


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="dbshift")
@click.option(
    "-c",
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    help="Configuration file (default: dbshift.toml or pyproject.toml, found upwards).",
)
@click.option("--url", help="Database URL (overrides the configuration).")
@click.option("--migrations", help="Migrations folder.")
@click.option(
    "--models",
    multiple=True,
    metavar="MODULE:ATTR",
    help="SQLAlchemy MetaData or declarative base, for autogenerate (repeatable).",
)
@click.option("--schema", help="Schema holding the bookkeeping tables.")
@click.option("--table-prefix", help="Prefix of the bookkeeping tables (default dbshift_).")
@click.option(
    "--runner-lock-timeout",
    type=float,
    help="Seconds to wait for another runner's lock (default 60).",
)
@click.option("--lock-timeout", "old_lock_timeout", type=float, hidden=True)
@click.option("--env", help="Environment from [environments.NAME] (or DBSHIFT_ENV).")
@click.option("--db", metavar="NAME", help="The database of [databases.NAME] to work on.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--debug", is_flag=True, help="Show tracebacks and dbshift's log on stderr.")
@click.option("-q", "--quiet", is_flag=True, help="Print errors only.")
@click.option("-v", "--verbose", count=True, help="Log every SQL statement to stderr.")
@click.pass_context
def cli(
    ctx: click.Context,
    config_path: str | None,
    url: str | None,
    migrations: str | None,
    models: tuple[str, ...],
    schema: str | None,
    table_prefix: str | None,
    runner_lock_timeout: float | None,
    old_lock_timeout: float | None,
    env: str | None,
    db: str | None,
    as_json: bool,
    debug: bool,
    quiet: bool,
    verbose: int,
) -> None:
    """dbshift: versioned, exact, safe schema migrations."""
    outside = ctx.obj if isinstance(ctx.obj, Outside) else Outside()
    secrets = outside.secrets
    secrets.add(url)
    if verbose:
        _log_to_stderr(_SQL_LOG, _SQL_LOG_HANDLER, logging.INFO, secrets)
    if debug:
        _log_to_stderr(_DBSHIFT_LOG, _DBSHIFT_LOG_HANDLER, logging.DEBUG, secrets)
    if old_lock_timeout is not None:
        if runner_lock_timeout is not None:
            raise UsageError(
                "both --lock-timeout and --runner-lock-timeout are given",
                hint="keep --runner-lock-timeout alone: --lock-timeout is its old name",
            )
        print("note: --lock-timeout is deprecated, use --runner-lock-timeout", file=sys.stderr)
        runner_lock_timeout = old_lock_timeout
    overrides = {
        "url": url,
        "migrations": migrations,
        "models": list(models) or None,
        "schema": schema,
        "table_prefix": table_prefix,
        "runner_lock_timeout": runner_lock_timeout,
    }
    reporter = Reporter(as_json=as_json, quiet=quiet, out=outside.stdout)
    ctx.obj = State(overrides, config_path, env, reporter, secrets, db=db)


@cli.command()
@click.argument("directory", default=".", type=click.Path(file_okay=False))
@pass_state
def init(state: State, directory: str) -> None:
    """Create dbshift.toml and a migrations folder; the global --url, --migrations,
    --models, --schema, --table-prefix and --runner-lock-timeout are written into it."""
    given = [
        flag
        for flag, value in (
            ("-c/--config", state.config_path),
            ("--env", state.env),
            ("--db", state.db),
        )
        if value
    ]
    if given:
        raise UsageError(
            f"{' and '.join(given)} {'does' if len(given) == 1 else 'do'} not apply to `init`",
            hint="init writes DIRECTORY/dbshift.toml; leave them out",
        )
    settings = dict(state.overrides)
    settings["migrations"] = settings.get("migrations") or "migrations"
    settings["models"] = settings.get("models") or ()
    path = api.init(directory, **settings)
    state.reporter.written(path)


@cli.command()
@one_database
@click.option("-m", "--message", required=True, help="What the migration does.")
@click.option("--sql", "as_sql", is_flag=True, help="Write a SQL migration instead of Python.")
@reporting
@pass_state
def new(state: State, message: str, as_sql: bool) -> None:
    """Write an empty migration on top of the current heads."""
    state.reporter.written(api.new(state.config(), message, sql=as_sql))


@cli.command()
@one_database
@click.option("-m", "--message", default="merge heads", show_default=True)
@reporting
@pass_state
def merge(state: State, message: str) -> None:
    """Write a migration that joins all current heads."""
    state.reporter.written(api.merge(state.config(), message))


@cli.command()
@each_database
@click.option("--offline", is_flag=True, help="Check the files only, not the database.")
@reporting
@pass_state
def verify(state: State, offline: bool) -> None:
    """Check dbshift.sum, the graph and applied checksums; change nothing."""
    report = api.verify(state.config(), database_check=not offline)
    state.reporter.verified(report)
    if report.problems:
        raise _Exit(ExitCode.INTEGRITY)


@cli.command()
@each_database
@reporting
@pass_state
def rehash(state: State) -> None:
    """Rewrite dbshift.sum from the migration files as they are."""
    state.reporter.written(api.rehash(state.config()), "wrote")


@cli.command()
@one_database
@click.argument("migration", required=False)
@reporting
@pass_state
def rebase(state: State, migration: str | None) -> None:
    """Move one branch's migrations after the other head (e.g. after a git merge)."""
    state.reporter.rebased(api.rebase(state.config(), migration))


@cli.command(context_settings=TARGETS)
@each_database
@click.argument("target", default="head", callback=_target)
@click.option("--dry-run", is_flag=True, help="Print the plan and stop.")
@click.option("--single-transaction", is_flag=True, help="Run the whole plan in one transaction.")
@reporting
@pass_state
def upgrade(state: State, target: str, dry_run: bool, single_transaction: bool) -> None:
    """Apply migrations up to TARGET (default: head)."""
    with state.reporter.progress(single_transaction=single_transaction) as listener:
        report = api.upgrade(
            state.config(),
            target,
            dry_run=dry_run,
            single_transaction=single_transaction,
            listener=listener,
        )
    state.reporter.run(report)


def downgrade_command(default: str | None = None) -> click.Command:
    """`downgrade`, whose TARGET defaults to `default`; without one (the `dbshift`
    command) a missing TARGET is a usage error that says which to give (exit 2)."""

    @click.command("downgrade", context_settings=TARGETS)
    @one_database
    @click.argument("target", required=False, default=default, callback=_target)
    @click.option("--dry-run", is_flag=True, help="Print the plan and stop.")
    @reporting
    @pass_state
    def downgrade(state: State, target: str | None, dry_run: bool) -> None:
        if target is None:
            raise UsageError(
                "downgrade needs a TARGET: how far down to go",
                hint="`dbshift downgrade -1` reverts the latest migration, `base` all of "
                "them, an id down to that one",
            )
        with state.reporter.progress() as listener:
            report = api.downgrade(state.config(), target, dry_run=dry_run, listener=listener)
        state.reporter.run(report)

    shown = f" (default: {default})" if default else ""
    downgrade.help = f"Revert migrations down to TARGET{shown}: -1, an id, or base."
    return downgrade


cli.add_command(downgrade_command())


@cli.command()
@each_database
@click.option("--check", is_flag=True, help="Exit 1 when migrations are pending.")
@click.option(
    "--fleet",
    "over_fleet",
    is_flag=True,
    help="Every target of [fleet] instead, summarized (as `dbshift fleet status`).",
)
@reporting
@pass_state
def status(state: State, check: bool, over_fleet: bool) -> None:
    """Applied, pending and head migrations."""
    if over_fleet:  # `--check`: exit 1 unless every target is at head
        unflagged = {"shard": None, "report_path": None}
        _fleet_run(state, "fleet_status", unflagged, command="check" if check else "status")
        return
    result = api.status(state.config())
    state.reporter.status(result)
    if result.problems:  # the report marks each one; the reporter printed its error
        raise _Exit(ExitCode.INTEGRITY)
    if check and (result.pending or result.partial):
        raise _Exit(ExitCode.CHECK_FAILED)


@cli.command()
@each_database
@reporting
@pass_state
def current(state: State) -> None:
    """The migrations the database is at (the `current:` line of status), marked (head)."""
    result = api.status(state.config())
    state.reporter.current(result)
    if result.problems:
        raise _Exit(ExitCode.INTEGRITY)


@cli.command()
@each_database
@reporting
@pass_state
def history(state: State) -> None:
    """Every migration, oldest first, with applied marks, durations and integrity problems."""
    report = api.history(state.config())
    state.reporter.history(report)
    if report.problems:
        raise _Exit(ExitCode.INTEGRITY)


@cli.command()
@each_database
@reporting
@pass_state
def heads(state: State) -> None:
    """The current head migrations."""
    state.reporter.ids(api.heads(state.config()), "heads")


@cli.command()
@one_database
@click.argument("migration")
@reporting
@pass_state
def show(state: State, migration: str) -> None:
    """One migration: header, place in the graph, operations."""
    state.reporter.show(api.show(state.config(), migration))


@cli.command(context_settings=TARGETS)
@one_database
@click.argument("target", callback=_target)
@reporting
@pass_state
def stamp(state: State, target: str) -> None:
    """Record TARGET as applied without running migrations."""
    state.reporter.run(api.stamp(state.config(), target))


@cli.command()
@one_database
@click.argument("source", required=False, type=click.Path(exists=True))
@click.option("--url", help="The database to take over (overrides the configuration).")
@click.option("--files-only", is_flag=True, help="Convert the files; take over no database.")
@click.option(
    "--from",
    "tool",
    type=click.Choice(["alembic", "yoyo"]),
    help="The tool to adopt from (default: whichever SOURCE is).",
)
@click.option(
    "--drop-alembic-version",
    is_flag=True,
    help="Drop Alembic's version table once the history is recorded.",
)
@click.option(
    "--drop-yoyo-tables",
    is_flag=True,
    help="Drop yoyo's tables (_yoyo_migration, _yoyo_log, ...) once the history is recorded.",
)
@click.option(
    "--version-table",
    help="Alembic's version table (default: as env.py says), or yoyo's migration table "
    "(default: as yoyo.ini says, else _yoyo_migration).",
)
@click.option("--version-table-schema", help="The schema of that table.")
@reporting
@pass_state
def adopt(
    state: State,
    source: str | None,
    url: str | None,
    files_only: bool,
    tool: str | None,
    drop_alembic_version: bool,
    drop_yoyo_tables: bool,
    version_table: str | None,
    version_table_schema: str | None,
) -> None:
    """Take over an Alembic, Flask-Migrate or yoyo-migrations project and its database.

    SOURCE: alembic.ini, pyproject.toml or their folder (default: here, or
    migrations/alembic.ini); or yoyo.ini, its folder, or a folder of yoyo migrations
    (default: ./yoyo.ini).
    """
    if url is not None:
        state.overrides["url"] = url
        state.secrets.add(url)
    report = api.adopt(
        state.config(),
        source,
        files_only=files_only,
        drop_alembic_version=drop_alembic_version,
        drop_yoyo_tables=drop_yoyo_tables,
        version_table=version_table,
        version_table_schema=version_table_schema,
        tool=tool,
    )
    state.reporter.adopted(report)


@cli.command("sql")
@one_database
@click.argument("range_", metavar="[FROM:]TO", required=False)
@click.option("--dialect", help="postgresql, mysql or sqlite (default: from the URL).")
@click.option("--down", is_flag=True, help="A downgrade script (FROM defaults to the heads).")
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write to a file.")
@pass_state
def sql_command(
    state: State, range_: str | None, dialect: str | None, down: bool, output: str | None
) -> None:
    """Offline SQL for a range of migrations, with no database connection."""
    script = api.sql(state.config(), range_, dialect=dialect, down=down)
    if output:
        write_atomic(Path(output), script)
        state.reporter.written(Path(output), "wrote")
    else:
        state.reporter.out.write(script)


@cli.command()
@one_database
@click.option(
    "--applied",
    "applied",
    multiple=True,
    metavar="ID",
    help="Mark a migration as applied (its statements were run by hand).",
)
@click.option(
    "--rolled-back",
    "rolled_back",
    multiple=True,
    metavar="ID",
    help="Mark a migration as not applied (it was undone by hand).",
)
@reporting
@pass_state
def repair(state: State, applied: tuple[str, ...], rolled_back: tuple[str, ...]) -> None:
    """Accept edited migrations' checksums, or fix the history after manual work."""
    state.reporter.repair(api.repair(state.config(), applied=applied, rolled_back=rolled_back))


def make_command(name: str = "make", message: str = "") -> click.Command:
    """`make` under `name`, with `message` as the default of -m (`flask db migrate` has
    one, as Flask-Migrate's has; `dbshift make` requires -m to write)."""
    needed = "" if message else " (required to write)"

    def make(state: State, /, **options: Any) -> None:
        _make(state, **options)

    decorated: Callable[..., None] = one_database(reporting(pass_state(make)))
    for option in reversed(_MAKE_OPTIONS):
        decorated = option(decorated)
    decorated = click.option(
        "-m", "--message", default=message, help=f"What the migration does{needed}."
    )(decorated)
    command = click.command(name, help=_make.__doc__)(decorated)
    return command


#: the options of `make` after -m, in the order --help shows them
_MAKE_OPTIONS: tuple[Callable[[F], F], ...] = (
    click.option(
        "--sql", "as_sql", is_flag=True, help="Write a SQL migration for the URL's dialect."
    ),
    click.option(
        "--rename",
        "renames",
        multiple=True,
        metavar="OLD=NEW",
        help="A drop and an add that are a rename: table OLD=NEW or column TABLE.OLD=NEW.",
    ),
    click.option("--no-input", is_flag=True, help="Never ask; a possible rename stays drop+add."),
    click.option("--check", is_flag=True, help="Write nothing; exit 1 if there are changes."),
    click.option(
        "--dev-url",
        metavar="URL",
        help="A scratch database to upgrade and compare with when migrations run raw DDL.",
    ),
    click.option(
        "--safe/--no-safe",
        default=None,
        help="PostgreSQL: write changes that do not block the application (concurrent "
        "indexes, NOT VALID then VALIDATE), possibly as several migrations. Default: the "
        "config's `safe`.",
    ),
    click.option(
        "--backend",
        "backends",
        multiple=True,
        metavar="NAME",
        help="A backend the migrations must be right on (repeatable): sqlite, postgresql, "
        "mysql, mariadb. Default: the config's `backends`, else the URL's backend.",
    ),
    click.option(
        "--allow-drop-all",
        is_flag=True,
        help="Accept models with no tables, and a migration that drops every table.",
    ),
)


def _make(
    state: State,
    message: str,
    as_sql: bool,
    renames: tuple[str, ...],
    no_input: bool,
    check: bool,
    dev_url: str | None,
    safe: bool | None,
    backends: tuple[str, ...],
    allow_drop_all: bool,
) -> None:
    """Write the migration that brings the schema to what the models declare."""
    reporter = state.reporter
    state.secrets.add(dev_url)
    ask = reporter.tty and not no_input and sys.stdin.isatty() and not check
    config = state.config()
    result = api.make_report(
        config.replace(backends=backends) if backends else config,
        message,
        sql=as_sql,
        renames=renames,
        decide=_ask_rename if ask else None,
        dev_url=dev_url,
        check=check,
        safe=safe,
        allow_drop_all=allow_drop_all,
    )
    reporter.made(result)
    if check and result.operations:
        raise _Exit(ExitCode.CHECK_FAILED)


cli.add_command(make_command())


def _lint_output(fn: F) -> F:
    """`--format` and `--fail-on` of `lint` and `fleet lint`."""
    fn = click.option(
        "--fail-on",
        type=click.Choice(["info", "warning", "error"]),
        default=None,
        help="Exit 1 when a finding at or above this severity exists (default: error, or "
        "[lint] fail_on).",
    )(fn)
    return click.option(
        "--format",
        "fmt",
        type=click.Choice(["text", "json", "github", "sarif"]),
        default="text",
        show_default=True,
        help="Output format.",
    )(fn)


@cli.command()
@each_database
@click.argument("range_", metavar="[RANGE]", required=False)
@click.option("--all", "every", is_flag=True, help="Every migration, not only the pending ones.")
@click.option("--since", metavar="GIT_REF", help="The migrations whose files were added since REF.")
@_lint_output
@click.option("--dialect", help="postgresql, mysql, mariadb or sqlite (default: from the URL).")
@click.option("--server-version", help="The server version to check for, e.g. 11 or 10.4.")
@click.option("--rules", "list_rules", is_flag=True, help="List every rule and exit.")
@click.option(
    "--baseline",
    type=click.Choice(["read", "write", "ignore"]),
    default="read",
    show_default=True,
    help="read: leave out the findings the lint baseline accepts; write: accept every "
    "finding of the migrations linted (default: all) in it; ignore: report everything.",
)
@reporting
@pass_state
def lint(
    state: State,
    range_: str | None,
    every: bool,
    since: str | None,
    fmt: str,
    fail_on: str | None,
    dialect: str | None,
    server_version: str | None,
    list_rules: bool,
    baseline: str,
) -> None:
    """Check migrations for data loss, breaking changes and locks (default: the pending ones).

    RANGE is FROM:TO, :TO or one migration id."""
    if list_rules:
        # lazy: status start-up: the linter, for `lint --list-rules` alone
        from dbshift.linter import load_rules

        state.reporter.rules(list(load_rules().values()))
        return
    config = state.config()
    if baseline == "write":
        written = api.write_lint_baseline(
            config, range_, every=every, since=since, dialect=dialect, server_version=server_version
        )
        state.reporter.baseline_written(written)
        return
    report = api.lint(
        config,
        range_,
        every=every,
        since=since,
        dialect=dialect,
        server_version=server_version,
        baseline=baseline == "read",
    )
    state.reporter.linted(report, fmt)
    if report.fails(fail_on or str(config.lint.get("fail_on", "error"))):
        raise _Exit(ExitCode.CHECK_FAILED)


@cli.command("check")
@each_database
@click.option(
    "--database",
    "database_check",
    is_flag=True,
    help="Also check the configured database: nothing pending, applied checksums intact.",
)
@click.option("--since", metavar="GIT_REF", help="Lint the migrations added since REF.")
@click.option(
    "--fail-on",
    type=click.Choice(["info", "warning", "error"]),
    default=None,
    help="Lint severity that fails the check (default: error, or [lint] fail_on).",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "github"]),
    default="text",
    show_default=True,
    help="Output format.",
)
@click.option(
    "--backend",
    "backends",
    multiple=True,
    metavar="NAME",
    help="A backend the models must match the migrations on (repeatable). Default: the "
    "config's `backends`, else the URL's backend.",
)
@reporting
@pass_state
def check_command(
    state: State,
    database_check: bool,
    since: str | None,
    fail_on: str | None,
    fmt: str,
    backends: tuple[str, ...],
) -> None:
    """The CI command: integrity, one head, models = migrations, pending, lint. Exit 0 or 1."""
    config = state.config()
    config = config.replace(backends=backends) if backends else config
    report = api.check(config, database_check=database_check, since=since, fail_on=fail_on)
    state.reporter.checked(report, fmt)
    if not report.ok:
        raise _Exit(ExitCode.CHECK_FAILED)


# -- baseline and drift (docs/drift.md) ---------------------------------------------------


@cli.command("baseline")
@one_database
@click.option("-m", "--message", default="baseline", show_default=True, help="Its message.")
@click.option("--sql", "as_sql", is_flag=True, help="Write a SQL migration for the URL's dialect.")
@click.option(
    "--after-existing",
    is_flag=True,
    help="The folder has migrations already: write the baseline on top of them, holding "
    "what the database has beyond them, and record them as applied too.",
)
@reporting
@pass_state
def baseline_command(state: State, message: str, as_sql: bool, after_existing: bool) -> None:
    """Take over a database no tool manages: write the migration that recreates its
    schema and record it as applied without running it."""
    result = api.baseline(state.config(), message, sql=as_sql, after_existing=after_existing)
    state.reporter.baselined(result)


@cli.command("drift")
@each_database
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "github"]),
    default="text",
    show_default=True,
    help="Output format.",
)
@reporting
@pass_state
def drift_command(state: State, fmt: str) -> None:
    """Compare the database with what its applied migrations build (and the models).
    Exit 1 on any difference."""
    report = api.drift(state.config())
    state.reporter.drifted(report, fmt)
    if report.drifted:
        raise _Exit(ExitCode.CHECK_FAILED)


def _ask_rename(kind: str, old: str, new: str) -> bool:
    return click.confirm(f"Was {kind} {old} renamed to {new}?", default=False, err=True)


def _usage_error(error: click.ClickException) -> UsageError:
    """Click's own usage errors in our one-line form: the culprit, then where to look."""
    ctx = getattr(error, "ctx", None)
    where = ctx.command_path if isinstance(ctx, click.Context) else "dbshift"
    message = " ".join(error.format_message().split())
    return UsageError(message, hint=f"see `{where} --help`")


class _Exit(Exception):
    def __init__(self, code: ExitCode) -> None:
        self.code = code


def run() -> NoReturn:
    """The `dbshift` program (the console script and `python -m dbshift`): `main`,
    with what the imports built (SQLAlchemy, click, dbshift: most of the objects the
    process will ever hold) frozen out of the cyclic garbage collector's reach, so the
    collections the command's own allocations trigger (thousands of migration headers)
    do not walk them again. Only here: a library importing dbshift keeps its collector
    as it is."""
    gc.freeze()
    main()


def main(argv: list[str] | None = None) -> NoReturn:
    """Run the CLI and exit with the documented code."""
    args = sys.argv[1:] if argv is None else argv
    debug = "--debug" in args
    as_json = "--json" in args
    secrets = Secrets()
    # With --json, stdout carries the JSON document alone: whatever else writes to
    # sys.stdout while a command runs (migration code's print()) goes to stderr.
    outside = Outside(secrets, sys.stdout)
    # Ctrl-C and SIGTERM (a deployment stopping the runner) stop the run with one line
    # naming what they stopped (see `Runner._interrupted`)
    in_main = threading.current_thread() is threading.main_thread()
    previous = {number: signal.signal(number, _on_signal) for number in _SIGNALS} if in_main else {}
    aside = contextlib.redirect_stdout(sys.stderr) if as_json else contextlib.nullcontext()
    try:
        with aside:
            cli.main(args=args, prog_name="dbshift", standalone_mode=False, obj=outside)
    except _Exit as done:
        sys.exit(done.code)
    except DbshiftError as error:
        sys.exit(report_error(error, as_json=as_json, debug=debug, secrets=secrets))
    except click.exceptions.Abort:
        print("aborted", file=sys.stderr)
        sys.exit(ExitCode.INTERRUPTED)
    except click.ClickException as error:
        if debug:
            sys.stderr.write(secrets.redact(traceback.format_exc()))
        usage = _usage_error(error)
        mask_error(usage, secrets.redact)
        Reporter(as_json=as_json).error(usage)
        sys.exit(UsageError.exit_code)
    except _Signalled as signalled:
        _stopped(signalled.stop, as_json, secrets.redact)
    except Interrupted as stop:  # a signal outside a command (while click parses)
        _stopped(stop, as_json, secrets.redact)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(ExitCode.INTERRUPTED)
    except Exception as error:
        if debug:
            sys.stderr.write(secrets.redact(traceback.format_exc()))
        first = str(error).strip().splitlines()[0] if str(error).strip() else ""
        internal = DbshiftError(
            f"internal error: {type(error).__name__}: {first}",
            hint="run with --debug for the traceback and report it",
        )
        mask_error(internal, secrets.redact)
        Reporter(as_json=as_json).error(internal)
        sys.exit(DbshiftError.exit_code)
    finally:
        _stop_logs()
        for number, handler in previous.items():
            signal.signal(number, handler)
    sys.exit(ExitCode.SUCCESS)


def report_error(error: DbshiftError, *, as_json: bool, debug: bool, secrets: Secrets) -> int:
    """Print `error` as the one masked line (or the JSON document; with `debug`, the
    traceback first) and return its exit code: `main` and `EmbeddedGroup` end so."""
    if debug:
        sys.stderr.write(secrets.redact(traceback.format_exc()))
    mask_error(error, secrets.redact)
    Reporter(as_json=as_json).error(error)
    return int(error.exit_code)


class EmbeddedGroup(click.Group):
    """A group holding dbshift's commands inside another program's CLI (`flask db`):
    its callback puts a `State` in its context (with `configure`), and a command ends
    as under `main`: a dbshift error is its one line and its documented exit code, a
    failed check its exit code, never a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except _Exit as done:
            ctx.exit(done.code)
        except DbshiftError as error:
            state = ctx.find_object(State)
            secrets = state.secrets if state is not None else Secrets()
            as_json = state is not None and state.reporter.as_json
            ctx.exit(report_error(error, as_json=as_json, debug=False, secrets=secrets))


def shared_commands() -> dict[str, click.Command]:
    """The `dbshift` commands another CLI embeds as they are (`flask db`: dbshift/flask.py),
    by name; `downgrade_command` and `make_command` build the ones whose defaults differ."""
    names = [
        "upgrade",
        "current",
        "history",
        "heads",
        "show",
        "stamp",
        "merge",
        "check",
        "lint",
        "new",
        "baseline",
        "drift",
    ]
    return {name: cli.commands[name] for name in names}


# -- fleet: one command over many databases and tenant schemas (docs/fleet.md) ----------
# (one self-contained block: the group, its shared options, and its commands)


@cli.group()
def fleet() -> None:
    """Run a command over every target of the fleet (docs/fleet.md)."""


def _fleet_options(fn: F) -> F:
    """The targets, the bounds and the failure policy of a fleet command (each over
    the `[fleet]` table), the shard, and where the JSON report goes."""
    options = [
        click.option("--target-url", "urls", multiple=True, help="A target URL (repeatable)."),
        click.option("--schemas", help="PostgreSQL schemas matching this pattern (tenant_*)."),
        click.option("--databases", help="Databases on the server matching this pattern."),
        click.option("--sqlite", help="SQLite files matching this glob."),
        click.option("--query", help="SQL giving each target's URL (and schema)."),
        click.option("--control-url", help="The database --query runs on."),
        click.option("--exclude", multiple=True, help="Leave out targets named so (pattern)."),
        click.option("--jobs", type=int, help="Targets at once (default 4)."),
        click.option("--per-server", type=int, help="Targets at once on one server."),
        click.option("--fail-fast", is_flag=True, default=None, help="Stop at the first failure."),
        click.option("--max-failures", type=int, help="Stop after K failures."),
        click.option("--canary", type=int, help="Run N targets first; stop if one fails."),
        click.option("--shard", metavar="I/N", help="Only the I-th of N stable slices (0-based)."),
        click.option("--report", "report_path", metavar="FILE", help="Also write the JSON report."),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


def _fleet_run(state: State, function: str, flags: dict[str, Any], *args: Any, **more: Any) -> None:
    """`dbshift.fleet.<function>(config, *args, shard=, observer=, **more, **flags)`,
    displayed; exit with its report's code."""
    # lazy: status start-up: the fleet brings the runner
    from dbshift import fleet as fleets
    from dbshift.cli.fleet import Display, write_report

    call = getattr(fleets, function)

    shard, report_path = flags.pop("shard"), flags.pop("report_path")
    config = _fleet_config(state, flags)
    reporter = state.reporter
    display = Display(
        reporter.out,
        tty=reporter.tty,
        as_json=reporter.as_json,
        quiet=reporter.quiet,
        seen=state.secrets.add,
    )
    try:
        with display:
            report = call(config, *args, shard=shard, observer=display, **more, **flags)
    except Interrupted as stop:  # a second signal: the running targets are not awaited
        _abandoned(stop, reporter.as_json, state.secrets.redact)
    if report_path:
        write_report(report_path, report)
    display.summary(report)
    if report.exit_code:
        raise _Exit(ExitCode(report.exit_code))


def _fleet_config(state: State, flags: dict[str, Any]) -> Config:
    """The configuration, with every URL a fleet run may echo registered to be masked:
    the flags', the table's (each target's as it starts: the display is told)."""
    config = state.config()
    for url in (*flags.get("urls", ()), *config.fleet.get("urls", ())):
        state.secrets.add(url)
    for control in (flags.get("control_url"), config.fleet.get("control_url")):
        state.secrets.add(control)
    return config


def _abandoned(stop: Interrupted, as_json: bool, redact: Callable[[str], str]) -> NoReturn:
    """Say so and exit now, leaving the fleet's threads: `sys.exit` would wait for them
    (each target's connection closes with the process, and what was running rolls
    back, or is left partial outside a transaction, as after a crash)."""
    with contextlib.suppress(SystemExit):
        _stopped(stop, as_json, redact)
    _stop_logs()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(int(stop.exit_code))


@fleet.command("upgrade", context_settings=TARGETS)
@click.argument("revision", default="head", callback=_target)
@click.option("--dry-run", is_flag=True, help="Plan each target and stop.")
@_fleet_options
@reporting
@pass_state
def fleet_upgrade_command(state: State, /, revision: str, dry_run: bool, **flags: Any) -> None:
    """Apply migrations up to REVISION (default: head) on every target."""
    _fleet_run(state, "fleet_upgrade", flags, revision, dry_run=dry_run)


@fleet.command("downgrade", context_settings=TARGETS)
@click.argument("revision", callback=_target)
@click.option("--dry-run", is_flag=True, help="Plan each target and stop.")
@_fleet_options
@reporting
@pass_state
def fleet_downgrade_command(state: State, /, revision: str, dry_run: bool, **flags: Any) -> None:
    """Revert migrations down to REVISION (-1, an id, base) on every target."""
    _fleet_run(state, "fleet_downgrade", flags, revision, dry_run=dry_run)


@fleet.command("stamp", context_settings=TARGETS)
@click.argument("revision", callback=_target)
@_fleet_options
@reporting
@pass_state
def fleet_stamp_command(state: State, /, revision: str, **flags: Any) -> None:
    """Record REVISION as applied on every target, running nothing."""
    _fleet_run(state, "fleet_stamp", flags, revision)


@fleet.command("status")
@_fleet_options
@reporting
@pass_state
def fleet_status_command(state: State, /, **flags: Any) -> None:
    """How many targets are at head, behind (by how much), partial, locked, failed."""
    _fleet_run(state, "fleet_status", flags)


@fleet.command("check")
@click.option("--since", metavar="GIT_REF", help="Lint the migrations added since REF.")
@_fleet_options
@reporting
@pass_state
def fleet_check_command(state: State, /, since: str | None, **flags: Any) -> None:
    """`check` on the files once (sums, graph, models, lint), then exit 1 unless every
    target is at head with intact checksums."""
    files = api.check(state.config(), since=since)
    if not files.ok:
        state.reporter.checked(files)
        raise _Exit(ExitCode.CHECK_FAILED)
    _fleet_run(state, "fleet_status", flags, command="check")


@fleet.command("verify")
@_fleet_options
@reporting
@pass_state
def fleet_verify_command(state: State, /, **flags: Any) -> None:
    """`verify` every target's applied checksums against the files."""
    _fleet_run(state, "fleet_status", flags, command="verify")


@fleet.command("lint")
@click.argument("range_", metavar="[RANGE]", required=False, callback=_target)
@click.option("--all", "every", is_flag=True, help="Lint every migration.")
@click.option("--since", metavar="GIT_REF", help="Lint the migrations added since REF.")
@_lint_output
@click.option(
    "--baseline",
    type=click.Choice(["read", "ignore"]),
    default="read",
    show_default=True,
    help="read: leave out the findings the lint baseline accepts; ignore: report all.",
)
@_fleet_options
@reporting
@pass_state
def fleet_lint_command(
    state: State,
    /,
    range_: str | None,
    every: bool,
    since: str | None,
    fmt: str,
    fail_on: str | None,
    baseline: str,
    **flags: Any,
) -> None:
    """Lint once what the fleet will run: the migrations pending on any target (or
    RANGE, --all, --since), for each server version among the targets."""
    # lazy: status start-up: the fleet brings the runner
    from dbshift import fleet as fleets
    from dbshift.cli.fleet import Display, line_of, write_report

    shard, report_path = flags.pop("shard"), flags.pop("report_path")
    config = _fleet_config(state, flags)
    reporter = state.reporter
    # stdout is the lint's (text, JSON, SARIF): the targets that could not be read
    # are said on stderr
    display = Display(sys.stderr, tty=False, as_json=True, quiet=True, seen=state.secrets.add)
    found = fleets.fleet_lint(
        config,
        range_,
        every=every,
        since=since,
        baseline=baseline == "read",
        shard=shard,
        observer=display,
        **flags,
    )
    if report_path:
        write_report(report_path, found.targets)
    for failed in found.targets.failures:
        print(f"error: {line_of(failed)}", file=sys.stderr)
    reporter.linted(found.lint, fmt)
    code = found.exit_code(fail_on or str(config.lint.get("fail_on", "error")))
    if code:
        raise _Exit(ExitCode(code))


@fleet.command("report")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--report", "report_path", metavar="FILE", help="Write the merged JSON report.")
@reporting
@pass_state
def fleet_report_command(state: State, /, files: tuple[str, ...], report_path: str | None) -> None:
    """Merge the JSON reports of several shards (or runs) into one."""
    # lazy: status start-up: the fleet brings the runner
    from dbshift.cli.fleet import Display, write_report
    from dbshift.fleet.report import merge, read_reports

    report = merge(read_reports(files))
    if report_path:
        write_report(report_path, report)
    reporter = state.reporter
    Display(reporter.out, tty=False, as_json=reporter.as_json, quiet=False).summary(report)
    for failed in report.failures if not reporter.as_json else ():
        reporter.line(f"  {failed.name}: {failed.status} (exit {failed.exit_code}): {failed.error}")
    if report.exit_code:
        raise _Exit(ExitCode(report.exit_code))


# -- end of fleet ------------------------------------------------------------------------


_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def _on_signal(signum: int, _frame: object) -> None:
    raise Interrupted(signal.Signals(signum).name)


def _stopped(stop: Interrupted, as_json: bool, redact: Callable[[str], str]) -> NoReturn:
    """One line: what the signal stopped and the state it left; exit 130 or 143. Masked
    like every other error: the state comes from a driver that may echo the URL."""
    shown = DbshiftError(stop.message, hint=stop.hint)
    shown.exit_code, shown.report = stop.exit_code, stop.report
    mask_error(shown, redact)
    Reporter(as_json=as_json).error(shown)
    sys.exit(stop.exit_code)


__all__ = [
    "EmbeddedGroup",
    "State",
    "cli",
    "downgrade_command",
    "main",
    "make_command",
    "report_error",
    "shared_commands",
]
