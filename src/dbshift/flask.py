"""Flask: `Migrate(app, db)` and the `flask db` commands (docs/flask.md).

The extension hands dbshift the application's own engine (`db.engine`, from
`SQLALCHEMY_DATABASE_URI`: a `sqlite://` in-memory database and Flask-SQLAlchemy's
`instance/` paths are the application's database) and `db.metadata` (the models the
application imported) as a `Config`, and adds a `flask db` group whose commands are
dbshift's own click commands (`dbshift.cli`), run on that configuration. Only the
defaults Flask-Migrate users know differ: `downgrade` defaults to `-1`, `migrate` is
`make` with a default message, `revision` is `new`, `init` creates the migrations
folder alone.

`SQLALCHEMY_BINDS`: each bind is a database of its own. `Migrate.binds()` lists them;
the commands migrate the default database, and `flask db --bind NAME` refuses until
several databases per project are supported (`Migrate.config(bind=...)` is the seam).
"""

from __future__ import annotations

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
    make_command,
    pass_state,
    reporting,
    shared_commands,
)
from dbshift.cli.report import Reporter
from dbshift.config import Config, mask_url
from dbshift.errors import ConfigError, UsageError

__all__ = ["EXTENSION", "Migrate"]

#: the key of `app.extensions` the extension is registered under
EXTENSION = "dbshift"


class Migrate:
    """dbshift for a Flask application and its Flask-SQLAlchemy `db`.

    `Migrate(app, db)`, or `Migrate()` then `init_app(app, db)` in an application
    factory. `directory` is the migrations folder (relative to the working directory,
    as Flask-Migrate's); other keywords are `dbshift.Config` settings
    (`table_prefix`, `backends`, `lint`, `runner_lock_timeout`, ...; `models` replaces
    `db.metadata`). `command` names the CLI group (`flask db`)."""

    def __init__(
        self,
        app: flask.Flask | None = None,
        db: Any = None,
        directory: str | Path = "migrations",
        *,
        command: str = "db",
        **config: Any,
    ) -> None:
        self.db = db
        self.directory = directory
        self.command = command
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
        application context): its engine, its models and this extension's settings, to
        call `dbshift.upgrade(...)` and the rest of the API with."""
        return _registered(app).config(bind)

    def binds(self, app: flask.Flask | None = None) -> dict[str, sa.Engine]:
        """The databases of `SQLALCHEMY_BINDS`, by bind key (the default database is not
        one): each is a database of its own, which the commands do not migrate yet."""
        return _registered(app).binds()


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
        if bind is not None:
            known = ", ".join(sorted(self.binds())) or "none configured"
            raise UsageError(
                f"--bind {bind}: migrating a bind's own database is not supported yet: "
                "dbshift migrates the default database (SQLALCHEMY_DATABASE_URI)",
                hint=f"leave out --bind (binds: {known}); several databases per project "
                "are planned (docs/flask.md, Binds)",
            )
        engines = self.db.engines
        if None not in engines:
            raise ConfigError(
                "the application has no default database",
                hint="set SQLALCHEMY_DATABASE_URI: dbshift migrates the default database",
            )
        settings = {"models": self.db.metadata} | self.settings
        return Config(url=engines[None], migrations=self.directory, **settings)

    def binds(self) -> dict[str, sa.Engine]:
        return {key: engine for key, engine in self.db.engines.items() if key is not None}

    def bound_models(self) -> list[str]:
        """The binds whose models hold tables: what `migrate` and `check` leave out."""
        metadatas: dict[str | None, sa.MetaData] = getattr(self.db, "metadatas", {})
        return sorted(key for key, meta in metadatas.items() if key is not None and meta.tables)


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
    help="A database of SQLALCHEMY_BINDS (not supported yet: the default database).",
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
    reads_models = ctx.invoked_subcommand in ("migrate", "check")
    reporter = Reporter(quiet=quiet)

    def configure() -> Config:
        config = registered.config(bind)
        secrets.add(config.url_text)
        left_out = registered.bound_models() if reads_models else []
        if left_out:
            reporter.note(
                f"the models of bind(s) {', '.join(left_out)} are left out: dbshift "
                f"migrates the default database {mask_url(config.url_text)} alone for now"
            )
        return config

    ctx.obj = State({}, None, None, reporter, secrets, configure=configure)


@group.command("init")
@reporting
@pass_state
def init(state: State) -> None:
    """Create the migrations folder (the app's settings are the configuration)."""
    config = state.config()
    state.reporter.written(api.init_migrations(config.migrations_dir))


_shared = shared_commands()
group.add_command(_shared.pop("new"), "revision")
for _name, _command in _shared.items():
    group.add_command(_command, _name)
group.add_command(downgrade_command(default="-1"))
group.add_command(make_command("migrate", message="autogenerated"))
