"""`dbshift.flask`: a real Flask application with Flask-SQLAlchemy, driven through
Flask's own CLI runner (`app.test_cli_runner()`) and once through a real `flask`
process; on SQLite (a file, and `sqlite://` in memory shared with the application),
PostgreSQL and MariaDB."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskCliRunner
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy.orm import Mapped, mapped_column

import dbshift
from dbshift.flask import Migrate, group


class App:
    """A Flask application, its `db` and its models, made the plain way (`Migrate(app,
    db)`) or by an application factory (`init_app`); `model(name)` declares one more
    model class on `db`, as an application that grows would."""

    def __init__(self, url: str, migrations: Path, *, factory: bool, root: Path) -> None:
        self.db = db = SQLAlchemy()
        self.migrations = migrations

        class User(db.Model):  # type: ignore[name-defined,misc]
            __tablename__ = "users"
            id: Mapped[int] = mapped_column(primary_key=True)
            name: Mapped[str] = mapped_column(db.String(80))

        self.User = User
        if factory:
            migrate = Migrate(directory=migrations)

            def create_app() -> Flask:
                app = Flask("flaskapp", root_path=str(root), instance_path=str(root / "instance"))
                app.config["SQLALCHEMY_DATABASE_URI"] = url
                db.init_app(app)
                migrate.init_app(app, db)
                return app

            self.app = create_app()
        else:
            self.app = Flask("flaskapp", root_path=str(root), instance_path=str(root / "instance"))
            self.app.config["SQLALCHEMY_DATABASE_URI"] = url
            db.init_app(self.app)
            Migrate(self.app, db, migrations)
        self.runner: FlaskCliRunner = self.app.test_cli_runner()

    def model(self, table: str) -> Any:
        db = self.db
        return type(
            table.title(),
            (db.Model,),
            {
                "__tablename__": table,
                "id": mapped_column(sa.Integer, primary_key=True),
                "title": mapped_column(sa.String(50), nullable=True),
            },
        )

    def flask(self, *args: str, code: int = 0) -> str:
        result = self.runner.invoke(args=["db", *args])
        assert result.exit_code == code, (
            f"flask db {' '.join(args)} exited {result.exit_code}: {result.output}"
            f"{result.exception!r}"
        )
        assert "Traceback" not in result.output
        return result.output

    def tables(self) -> set[str]:
        with self.app.app_context():
            return set(sa.inspect(self.db.engine).get_table_names())

    def dispose(self) -> None:
        with self.app.app_context():
            for engine in self.db.engines.values():
                engine.dispose()


@pytest.fixture
def make_app(tmp_path: Path) -> Iterator[Any]:
    made: list[App] = []

    def make(url: str, *, factory: bool = True) -> App:
        app = App(url, tmp_path / "migrations", factory=factory, root=tmp_path)
        made.append(app)
        return app

    yield make
    for app in made:
        app.dispose()


def _ids(app: App) -> list[str]:
    return sorted(p.stem for p in app.migrations.glob("*.py"))


def test_the_flask_migrate_workflow(make_app: Any, db_url: str) -> None:
    """init, migrate (from the models), upgrade, current, history, downgrade (-1 by
    default), check: each through `flask db`, on the application's own engine."""
    app = make_app(db_url)
    assert "created" in app.flask("init")
    assert app.migrations.is_dir()
    out = app.flask("migrate", "-m", "users")
    assert 'create table "users"' in out
    assert "already exists" in app.flask("init", code=2)  # a folder with migrations
    (users,) = _ids(app)
    assert "users" not in app.tables()
    app.flask("upgrade")
    assert {"users", "dbshift_history"} <= app.tables()
    assert app.flask("current").splitlines()[0] == f"{users} (head)"
    assert "no drift" in app.flask("drift")

    app.model("posts")
    app.flask("migrate", "-m", "posts")
    posts = next(i for i in _ids(app) if i != users)
    app.flask("upgrade")
    history = app.flask("history")
    assert users in history and posts in history
    assert "posts" in app.tables()

    out = app.flask("downgrade")  # -1, as Flask-Migrate's
    assert f"reverted {posts}" in out
    assert users not in out.replace(f"reverted {posts}", "")
    assert "posts" not in app.tables() and "users" in app.tables()
    assert app.flask("current").splitlines() == [users, "1 pending: `upgrade` applies them"]

    assert "check passed" in app.flask("check")
    app.model("comments")  # a model with no migration: check fails, exit 1
    out = app.flask("check", code=1)
    assert "models" in out
    assert 'table "comments"' in app.flask("drift", code=1)  # the models have it, not the database
    assert app.flask("heads").split() == [posts]


@pytest.mark.backends("sqlite")
def test_show_stamp_merge_lint_and_json(make_app: Any, db_url: str) -> None:
    app = make_app(db_url)
    app.flask("init")
    app.flask("migrate", "-m", "users")
    (users,) = _ids(app)
    assert f"id:            {users}" in app.flask("show", users)
    assert f"stamped {users}" in app.flask("stamp", users)
    assert "users" not in app.tables(), "stamp ran nothing"
    assert json.loads(app.flask("current", "--json")) == {"current": [users], "heads": [users]}
    assert "no findings" in app.flask("lint", "--all")
    assert "single head" in app.flask("merge", code=2)
    assert "created" in app.flask("revision", "-m", "backfill")
    assert len(_ids(app)) == 2
    app.flask("downgrade", "base", "--dry-run")
    assert app.flask("history", "--json")


def test_sqlite_in_memory_is_the_applications_database(make_app: Any) -> None:
    """`sqlite://` in tests: the migrated database is the one the application uses."""
    app = make_app("sqlite://")
    app.flask("init")
    app.flask("migrate", "-m", "users")
    app.flask("upgrade")
    with app.app.app_context():
        app.db.session.add(app.User(name="ada"))
        app.db.session.commit()
        names = app.db.session.scalars(sa.select(app.User.name)).all()
    assert names == ["ada"]
    assert app.flask("current").endswith("(head)\n")


def test_a_plain_app_and_the_instance_folder(make_app: Any, tmp_path: Path) -> None:
    """`Migrate(app, db)` without a factory; a relative SQLite path is Flask-SQLAlchemy's
    `instance/` one, the file the application opens."""
    app = make_app("sqlite:///app.db", factory=False)
    app.flask("init")
    app.flask("migrate")  # no -m: Flask-Migrate's default works too
    (only,) = _ids(app)
    assert only.endswith("_autogenerated")
    app.flask("upgrade")
    assert (tmp_path / "instance" / "app.db").is_file()
    assert not (tmp_path / "app.db").exists()
    assert "users" in app.tables()


def test_the_config_and_binds_for_the_api(make_app: Any, tmp_path: Path) -> None:
    app = make_app(f"sqlite:///{tmp_path / 'main.db'}")
    app.app.config["SQLALCHEMY_BINDS"] = {}
    with app.app.app_context():
        config = app.app.extensions["dbshift"].migrate.config()
        assert config.bind is app.db.engine
        assert config.models is app.db.metadata
        assert app.app.extensions["dbshift"].migrate.binds() == {}


def _bound_app(tmp_path: Path, bind_url: str, **settings: Any) -> tuple[Flask, Any, Migrate]:
    db = SQLAlchemy()

    class User(db.Model):  # type: ignore[name-defined,misc]
        __tablename__ = "users"
        id: Mapped[int] = mapped_column(primary_key=True)

    class Report(db.Model):  # type: ignore[name-defined,misc]
        __tablename__ = "reports"
        __bind_key__ = "reports"
        id: Mapped[int] = mapped_column(primary_key=True)

    app = Flask("flaskapp", root_path=str(tmp_path))
    app.config["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{tmp_path / 'main.db'}"
    app.config["SQLALCHEMY_BINDS"] = {"reports": bind_url}
    db.init_app(app)
    return app, db, Migrate(app, db, tmp_path / "migrations", **settings)


def test_each_bind_is_a_database_of_its_own(tmp_path: Path, db_url: str) -> None:
    app, db, migrate = _bound_app(tmp_path, db_url)
    runner = app.test_cli_runner()

    def flask(*args: str, code: int = 0) -> str:
        result = runner.invoke(args=["db", *args])
        assert result.exit_code == code, result.output
        assert "Traceback" not in result.output
        return result.output

    with app.app_context():
        assert list(migrate.binds()) == ["reports"]
        assert migrate.databases() == ["default", "reports"]
        bound = migrate.config(bind="reports")
        assert (
            bound.database == "reports" and bound.migrations == tmp_path / "migrations" / "reports"
        )
        assert bound.models is db.metadatas["reports"]
        assert migrate.config().models is db.metadata
    flask("init")
    assert (tmp_path / "migrations" / "reports").is_dir()
    refused = flask("migrate", "-m", "x", code=2)
    assert "2 are configured (default, reports)" in refused
    flask("migrate", "--db", "default")
    flask("--bind", "reports", "migrate", "-m", "reports")
    out = flask("upgrade")
    assert out.index("== default ==") < out.index("== reports ==")
    with app.app_context():
        assert set(sa.inspect(db.engine).get_table_names()) >= {"users"}
        tables = set(sa.inspect(db.engines["reports"]).get_table_names())
        assert "reports" in tables and "users" not in tables
    assert "nothing pending" in flask("check", "--database")  # models = migrations, each
    unknown = flask("--bind", "nope", "current", code=2)
    assert "unknown database 'nope'" in unknown and "default, reports" in unknown
    assert len(unknown.splitlines()) == 1
    flask("downgrade", "--db", "reports", "base")
    with app.app_context():
        assert "reports" not in sa.inspect(db.engines["reports"]).get_table_names()
        assert "users" in sa.inspect(db.engine).get_table_names()
        for engine in db.engines.values():
            engine.dispose()


def test_binds_false_migrates_the_default_database_alone(tmp_path: Path) -> None:
    app, db, migrate = _bound_app(tmp_path, f"sqlite:///{tmp_path / 'r.db'}", binds=False)
    runner = app.test_cli_runner()
    with app.app_context():
        assert migrate.databases() == []
        assert migrate.config().database is None
    assert runner.invoke(args=["db", "init"]).exit_code == 0
    assert not (tmp_path / "migrations" / "reports").exists()
    result = runner.invoke(args=["db", "migrate", "-m", "x"])
    assert result.exit_code == 0, result.output
    assert "note: the models of bind(s) reports are left out" in result.output
    result = runner.invoke(args=["db", "current"])
    assert result.exit_code == 0 and "note:" not in result.output
    assert "new" not in group.commands and group.commands["revision"].name == "new"
    with app.app_context():
        for engine in db.engines.values():
            engine.dispose()


def test_errors_are_one_line_with_their_exit_code(tmp_path: Path) -> None:
    app = Flask("flaskapp", root_path=str(tmp_path))
    app.config["SQLALCHEMY_DATABASE_URI"] = "postgresql+psycopg://u:s3cretpass@127.0.0.1:1/x"
    db = SQLAlchemy(app)
    Migrate(app, db, tmp_path / "migrations")
    (tmp_path / "migrations").mkdir()
    result = app.test_cli_runner().invoke(args=["db", "current"])
    assert result.exit_code == 3, result.output
    assert result.output.startswith("error: ") and len(result.output.splitlines()) == 1
    assert "s3cretpass" not in result.output and "u:***@127.0.0.1:1" in result.output
    result = app.test_cli_runner().invoke(args=["db", "downgrade", "--bogus"])
    assert result.exit_code == 2


def test_without_the_extension_the_app_is_told(tmp_path: Path) -> None:
    app = Flask("flaskapp", root_path=str(tmp_path))
    app.cli.add_command(group, "db")
    result = app.test_cli_runner().invoke(args=["db", "current"])
    assert result.exit_code == 2
    assert "dbshift is not set up on the Flask application" in result.output


EXAMPLE = Path(__file__).parent.parent / "examples" / "flask"


@pytest.mark.slow
def test_a_real_flask_process_on_the_example(tmp_path: Path) -> None:
    """The steps of examples/flask/README.md, in a real `flask` process."""
    (tmp_path / "notes.py").write_text((EXAMPLE / "notes.py").read_text())
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FLASK_", "NOTES_"))}
    flask = Path(sys.executable).with_name("flask")

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(flask), "--app", "notes", "db", *args],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
        )

    for args in (("init",), ("migrate", "-m", "notes"), ("upgrade",)):
        done = run(*args)
        assert done.returncode == 0, done.stderr + done.stdout
    current = run("current")
    assert current.returncode == 0 and current.stdout.strip().endswith("_notes (head)")
    assert "check passed" in run("check").stdout
    database = tmp_path / "instance" / "notes.db"
    status = dbshift.status(
        dbshift.Config(url=f"sqlite:///{database}", migrations=tmp_path / "migrations")
    )
    assert status.pending == () and len(status.applied) == 1
    engine = sa.create_engine(f"sqlite:///{database}")
    with engine.connect() as conn:
        assert "notes" in sa.inspect(conn).get_table_names()
    engine.dispose()
    done = run("downgrade")
    assert done.returncode == 0 and "reverted" in done.stdout
    bad = run("downgrade", "nosuch")
    assert bad.returncode == 2 and bad.stderr.startswith("error: ")
    assert "Traceback" not in bad.stderr


def test_dbshift_imports_without_flask() -> None:
    """Flask is an extra: dbshift and its CLI import with Flask blocked, and
    `dbshift.flask` says which extra to install."""
    code = (
        "import sys; sys.modules['flask'] = None\n"
        "import dbshift, dbshift.cli, dbshift.aio, dbshift.api\n"
        "assert 'flask' not in [m for m in sys.modules if sys.modules[m] is not None]\n"
        "try:\n"
        "    import dbshift.flask\n"
        "except ImportError as error:\n"
        "    print(error)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "pip install 'dbshift[flask]'" in done.stdout


def test_settings_reach_the_config_and_url_is_refused(tmp_path: Path) -> None:
    db = SQLAlchemy()
    app = Flask("flaskapp", root_path=str(tmp_path))
    app.config["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{tmp_path / 'main.db'}"
    db.init_app(app)
    migrate = Migrate(app, db, tmp_path / "m", table_prefix="shift_", backends=["sqlite"])
    with app.app_context():
        config = migrate.config()
        assert (config.table_prefix, config.backends) == ("shift_", ("sqlite",))
        assert config.migrations_dir == tmp_path / "m"
        db.engine.dispose()
    with pytest.raises(dbshift.DbshiftError, match="no `url` or `migrations`"):
        Migrate(Flask("other"), db, url="sqlite://")


def test_beside_flask_migrate_under_another_name(tmp_path: Path) -> None:
    """Flask-Migrate adds its own `db` group in its `init_app`: named `dbshift`, ours
    stays reachable beside it (docs/flask.md, "Beside Flask-Migrate")."""
    flask_migrate = pytest.importorskip("flask_migrate")
    db = SQLAlchemy()
    app = Flask("flaskapp", root_path=str(tmp_path))
    app.config["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{tmp_path / 'main.db'}"
    db.init_app(app)
    flask_migrate.Migrate(app, db, directory=str(tmp_path / "alembic"))
    Migrate(app, db, tmp_path / "migrations", command="dbshift")
    assert app.cli.commands["dbshift"] is group and app.cli.commands["db"] is not group
    result = app.test_cli_runner().invoke(args=["dbshift", "init"])
    assert result.exit_code == 0 and (tmp_path / "migrations").is_dir()
    with app.app_context():
        db.engine.dispose()
