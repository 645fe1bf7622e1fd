"""Flask: `Migrate(app, db)` and the `flask db` commands (docs/flask.md).

The extension hands dbshift the application's own engine (`db.engine`, from
`SQLALCHEMY_DATABASE_URI`: a `sqlite://` in-memory database and Flask-SQLAlchemy's
`instance/` paths are the application's database) and `db.metadata` (the models the
application imported) as a `Config`, and adds a `flask db` group whose commands are
dbshift's own click commands (`dbshift.cli`), run on that configuration. Only the
defaults Flask-Migrate users know differ: `downgrade` defaults to `-1`, `migrate` is
`make` with a default message, `revision` is `new`, `init` creates the migrations
folder alone.

`SQLALCHEMY_BINDS`: each bind is a database of its own, as a `[databases.NAME]` table is
for the `dbshift` command: the default database is named `default` and keeps `directory`,
each bind its own folder `directory/KEY`, its models (`db.metadatas[KEY]`) and history.
The commands run on every one in turn, or on the one `flask db --bind NAME` (or a
command's `--db NAME`) names; `Migrate(binds=False)` migrates the default one alone.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import click
import sqlalchemy as sa

try:
    import flask
    from flask.cli import ScriptInfo
except ImportError as missing:  # dbshift itself never imports this module
    raise ImportError(
        f"dbshift.flask needs Flask and Flask-SQLAlchemy ({missing}): pip install 'dbshift[flask]'"
    ) from missing

from dbshift import api
from dbshift.cli import (
    EmbeddedGroup,
    Secrets,
    State,
    downgrade_command,
    each_database,
    make_command,
    pass_state,
    reporting,
    shared_commands,
)
from dbshift.cli.report import Reporter
from dbshift.config import DATABASE_NAME as _NAME
from dbshift.config import Config, mask_url
from dbshift.errors import ConfigError, UsageError

__all__ = ["DEFAULT", "EXTENSION", "Migrate"]

#: the key of `app.extensions` the extension is registered under
EXTENSION = "dbshift"
#: the name of the default database (`SQLALCHEMY_DATABASE_URI`) beside the binds
DEFAULT = "default"


class Migrate:
    """dbshift for a Flask application and its Flask-SQLAlchemy `db`.

    `Migrate(app, db)`, or `Migrate()` then `init_app(app, db)` in an application
    factory. `directory` is the migrations folder (relative to the working directory,
    as Flask-Migrate's, or to `root=__file__`, or `"package:folder"`); other keywords
    are `dbshift.Config` settings (`table_prefix`, `backends`, `lint`,
    `runner_lock_timeout`, `root`, ...; `models` replaces `db.metadata` for the default
    database). `binds` says which `SQLALCHEMY_BINDS` are migrated too: True (all), False
    (none: the default database alone) or their keys. `command` names the CLI group
    (`flask db`)."""

    def __init__(
        self,
        app: flask.Flask | None = None,
        db: Any = None,
        directory: str | Path = "migrations",
        *,
        command: str = "db",
        binds: bool | Iterable[str] = True,
        **config: Any,
    ) -> None:
        self.db = db
        self.directory = directory
        self.command = command
        self.migrated_binds: bool | tuple[str, ...] = (
            binds if isinstance(binds, bool) else tuple(binds)
        )
        self.settings = config
        if app is not None:
            self.init_app(app, db)

    def init_app(
        self,
        app: flask.Flask,
        db: Any = None,
        directory: str | Path | None = None,
        **config: Any,
    ) -> None:
        """Register the extension on `app` and add the `flask db` group to its CLI;
        `db`, `directory` and settings given here override the constructor's."""
        db = db if db is not None else self.db
        if db is None:
            raise UsageError(
                "dbshift.flask.Migrate needs the Flask-SQLAlchemy `db`",
                hint="Migrate(app, db), or migrate.init_app(app, db)",
            )
        settings = self.settings | config
        if "url" in settings or "migrations" in settings:
            raise UsageError(
                "dbshift.flask.Migrate takes no `url` or `migrations` setting",
                hint="the database is the app's SQLALCHEMY_DATABASE_URI (db.engine); "
                "the folder is `directory`",
            )
        app.extensions[EXTENSION] = _Registered(
            self, db, directory if directory is not None else self.directory, settings
        )
        app.cli.add_command(group, self.command)

    def config(self, app: flask.Flask | None = None, bind: str | None = None) -> Config:
        """The `dbshift.Config` of `app` (default: the current one; inside its
        application context) for the database `bind` (a bind key, or None or `default`
        for the default database): its engine, its models and this extension's
        settings, to call `dbshift.upgrade(...)` and the rest of the API with."""
        return _registered(app).config(bind)

    def binds(self, app: flask.Flask | None = None) -> dict[str, sa.Engine]:
        """The databases of `SQLALCHEMY_BINDS`, by bind key (the default database is not
        one): each is a database of its own."""
        return _registered(app).binds()

    def databases(self, app: flask.Flask | None = None) -> list[str]:
        """The names of the databases the commands migrate, in order: `default` (when
        `SQLALCHEMY_DATABASE_URI` is set), then the migrated binds."""
        return _registered(app).databases()


class _Registered:
    """What `init_app` recorded for one application."""

    def __init__(
        self, migrate: Migrate, db: Any, directory: str | Path, settings: dict[str, Any]
    ) -> None:
        self.migrate = migrate
        self.db = db
        self.directory = directory
        self.settings = settings

    def config(self, bind: str | None = None) -> Config:
        engines = self.db.engines
        if bind is None or bind == DEFAULT:
            if None not in engines:
                raise ConfigError(
                    "the application has no default database",
                    hint="set SQLALCHEMY_DATABASE_URI"
                    + (f", or name a bind: --bind {self.databases()[0]}" if engines else ""),
                )
            settings = {"models": self.db.metadata} | self.settings
            database = DEFAULT if self.migrated() else None
            return Config(
                url=engines[None], migrations=self.directory, database=database, **settings
            )
        if bind not in self.databases():
            raise ConfigError(
                f"unknown database {bind!r}",
                hint=f"databases of the application: {', '.join(self.databases()) or 'none'}",
            )
        metadatas: dict[str | None, sa.MetaData] = getattr(self.db, "metadatas", {})
        settings = self.settings | {"models": metadatas.get(bind, ())}
        folder = self.directory
        if isinstance(folder, str) and ":" in folder and not Path(folder).is_absolute():
            folder = f"{folder}/{bind}"  # `package:folder` stays one
        else:
            folder = Path(folder) / bind
        return Config(url=engines[bind], migrations=folder, database=bind, **settings)

    def migrated(self) -> list[str]:
        """The binds the commands migrate, in the order of SQLALCHEMY_BINDS."""
        wanted = self.migrate.migrated_binds
        keys = [key for key in self.db.engines if key is not None]
        if wanted is True:
            chosen = keys
        elif wanted is False:
            chosen = []
        else:
            missing = [key for key in wanted if key not in keys]
            if missing:
                raise ConfigError(
                    f"Migrate(binds=...) names {missing[0]!r}, which is not a bind",
                    hint=f"SQLALCHEMY_BINDS: {', '.join(keys) or 'none'}",
                )
            chosen = [key for key in keys if key in wanted]
        for key in chosen:
            if key == DEFAULT or not _NAME.match(key):
                raise ConfigError(
                    f"the bind key {key!r} cannot name a database of its own",
                    hint=f"use letters, digits, `_` and `-` (not {DEFAULT!r}), or leave it "
                    "out with Migrate(binds=[...])",
                )
        return chosen

    def databases(self) -> list[str]:
        if not self.migrated():
            return []
        return ([DEFAULT] if None in self.db.engines else []) + self.migrated()

    def binds(self) -> dict[str, sa.Engine]:
        return {key: engine for key, engine in self.db.engines.items() if key is not None}

    def bound_models(self) -> list[str]:
        """The binds not migrated whose models hold tables: what `migrate` and `check`
        leave out."""
        metadatas: dict[str | None, sa.MetaData] = getattr(self.db, "metadatas", {})
        migrated = self.migrated()
        return sorted(
            key
            for key, meta in metadatas.items()
            if key is not None and meta.tables and key not in migrated
        )


def _registered(app: flask.Flask | None) -> _Registered:
    app = app if app is not None else flask.current_app
    registered = app.extensions.get(EXTENSION)
    if not isinstance(registered, _Registered):
        raise UsageError(
            f"dbshift is not set up on the Flask application {app.name!r}",
            hint="call dbshift.flask.Migrate(app, db) (or init_app) in the application",
        )
    return registered


@click.group(cls=EmbeddedGroup)
@click.option(
    "--bind",
    metavar="NAME",
    help=f"The database to work on: a key of SQLALCHEMY_BINDS, or {DEFAULT!r} "
    "(default: every one, in order).",
)
@click.option("-q", "--quiet", is_flag=True, help="Print errors only.")
@click.pass_context
def group(ctx: click.Context, bind: str | None, quiet: bool) -> None:
    """dbshift migrations for the application's database."""
    if flask.current_app:
        app = flask.current_app._get_current_object()  # type: ignore[attr-defined]
    else:  # added with app.cli.add_command, so not wrapped in an app context by Flask
        app = ctx.ensure_object(ScriptInfo).load_app()
        ctx.with_resource(app.app_context())
    registered = _registered(app)
    secrets = Secrets()
    reads_models = ctx.invoked_subcommand in ("migrate", "check", "drift")
    reporter = Reporter(quiet=quiet)

    def configure(database: str | None) -> Config:
        config = registered.config(database)
        secrets.add(config.url_text)
        left_out = registered.bound_models() if reads_models else []
        if left_out and database in (None, DEFAULT):
            reporter.note(
                f"the models of bind(s) {', '.join(left_out)} are left out: they are not "
                f"migrated (Migrate(binds=...)), the default database "
                f"{mask_url(config.url_text)} is"
            )
        return config

    ctx.obj = State(
        {}, None, None, reporter, secrets, configure=configure, names=registered.databases, db=bind
    )


@group.command("init")
@each_database
@reporting
@pass_state
def init(state: State) -> None:
    """Create the migrations folder of each database (the app's settings are the
    configuration)."""
    config = state.config()
    state.reporter.written(api.init_migrations(config.migrations_dir))


_shared = shared_commands()
group.add_command(_shared.pop("new"), "revision")
for _name, _command in _shared.items():
    group.add_command(_command, _name)
group.add_command(downgrade_command(default="-1"))
group.add_command(make_command("migrate", message="autogenerated"))
