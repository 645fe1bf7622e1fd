"""`dbshift adopt` on real Alembic projects (docs/adopt.md): made with Alembic's own
`alembic init` / `revision` / `merge`, upgraded with real Alembic, then adopted; on
every backend. Alembic is a test dependency only (the `test` extra)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.helpers import Project

#: every test runs Alembic (or Flask) in subprocesses: seconds each
pytestmark = pytest.mark.slow

pytest.importorskip("alembic", reason="Alembic is in the test extra: pip install -e '.[test]'")

UPGRADE_STUB = '    """Upgrade schema."""\n    pass\n'
DOWNGRADE_STUB = '    """Downgrade schema."""\n    pass\n'

MODELS = """\
import sqlalchemy as sa

metadata = sa.MetaData()

users = sa.Table(
    "users",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(50), nullable=False),
    sa.Column("email", sa.String(100), nullable=True),
    sa.Index("ix_users_name", "name"),
)

posts = sa.Table(
    "posts",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id"), nullable=True),
    sa.Column("title", sa.String(100), nullable=False),
    sa.Index("ix_posts_title", "title"),
)
"""


def alembic(root: Path, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "alembic", *args], cwd=root, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr + done.stdout
    return done.stdout


class AlembicApp:
    """A real Alembic project in `root/alembic`, on `url`, with dbshift beside it."""

    def __init__(self, project: Project) -> None:
        self.project = project
        self.root = project.root
        alembic(self.root, "init", "alembic")
        ini = self.root / "alembic.ini"
        text = ini.read_text()
        text = re.sub(
            r"^sqlalchemy\.url = .*$", f"sqlalchemy.url = {project.url}", text, flags=re.M
        )
        ini.write_text(text)
        (self.root / "models.py").write_text(MODELS)
        with (self.root / "dbshift.toml").open("a") as toml:
            toml.write('models = ["models:metadata"]\n')

    @property
    def versions(self) -> Path:
        return self.root / "alembic" / "versions"

    def revision(self, rev: str, message: str, upgrade: str, downgrade: str, *extra: str) -> Path:
        alembic(self.root, "revision", "-m", message, "--rev-id", rev, *extra)
        (path,) = self.versions.glob(f"{rev}_*.py")
        fill(path, upgrade, downgrade)
        return path

    def upgrade(self, target: str = "heads") -> None:
        alembic(self.root, "upgrade", target)

    def version_rows(self) -> set[str]:
        engine = sa.create_engine(self.project.url, poolclass=sa.NullPool)
        try:
            with engine.connect() as conn:
                if not sa.inspect(conn).has_table("alembic_version"):
                    return set()
                return {
                    r[0] for r in conn.execute(sa.text("SELECT version_num FROM alembic_version"))
                }
        finally:
            engine.dispose()


def fill(path: Path, upgrade: str, downgrade: str) -> None:
    text = path.read_text()
    assert UPGRADE_STUB in text and DOWNGRADE_STUB in text, text
    text = text.replace(UPGRADE_STUB, _indent(upgrade)).replace(DOWNGRADE_STUB, _indent(downgrade))
    path.write_text(text)


def _indent(body: str) -> str:
    return "".join(f"    {line}\n" if line else "\n" for line in body.strip("\n").splitlines())


def build_history(app: AlembicApp) -> None:
    """users -> posts, and a labelled branch from users (email), merged, then a batch
    mode revision: five revisions, one merge, one branch label."""
    app.revision(
        "a1b2c3d4e5f6",
        "create users",
        """
op.create_table(
    "users",
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(50), nullable=False),
)
op.create_index("ix_users_name", "users", ["name"])
""",
        """
op.drop_index("ix_users_name", table_name="users")
op.drop_table("users")
""",
    )
    app.revision(
        "b2",
        "create posts",
        """
op.create_table(
    "posts",
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id"), nullable=True),
    sa.Column("title", sa.String(100), nullable=True),
)
""",
        'op.drop_table("posts")',
    )
    app.revision(
        "c3",
        "add email",
        'op.add_column("users", sa.Column("email", sa.String(100), nullable=True))',
        """
with op.batch_alter_table("users") as batch_op:
    batch_op.drop_column("email")
""",
        "--head",
        "a1b2c3d4e5f6",
        "--splice",
        "--branch-label",
        "email",
    )
    alembic(app.root, "merge", "-m", "merge email", "--rev-id", "d4", "b2", "c3")
    app.revision(
        "e5",
        "posts need a title",
        """
with op.batch_alter_table("posts") as batch_op:
    batch_op.alter_column("title", existing_type=sa.String(100), nullable=False)
    batch_op.create_index("ix_posts_title", ["title"])
""",
        """
with op.batch_alter_table("posts") as batch_op:
    batch_op.drop_index("ix_posts_title")
    batch_op.alter_column("title", existing_type=sa.String(100), nullable=True)
""",
    )


@pytest.fixture
def app(project: Project) -> AlembicApp:
    return AlembicApp(project)


def test_adopt_a_real_alembic_project_and_its_database(app: AlembicApp) -> None:
    build_history(app)
    app.upgrade()
    assert app.version_rows() == {"e5"}
    project = app.project
    with app.project.engine().begin() as conn:
        conn.execute(sa.text("INSERT INTO users (id, name) VALUES (1, 'ann')"))

    adopted = project.ok("--json", "adopt").json
    assert sorted(Path(p).name for p in adopted["written"]) == [
        "a1b2c3d4e5f6.py",
        "b2.py",
        "c3.py",
        "d4.py",
        "e5.py",
    ]
    database = adopted["database"]
    assert database["heads"] == ["e5"] and database["version_table"] == "alembic_version"
    assert database["recorded"] == ["a1b2c3d4e5f6", "b2", "c3", "d4", "e5"]

    # the files: Alembic's ids, parents from down_revision (a tuple for the merge)
    merge = (project.migrations / "d4.py").read_text()
    assert 'parents = ["b2", "c3"]' in merge
    assert merge.startswith('"""merge email')
    labelled = (project.migrations / "c3.py").read_text()
    assert "# alembic revision: c3 (converted from versions/c3_add_email.py)" in labelled
    assert "# alembic branch_labels: email" in labelled
    assert "def upgrade(op):" in labelled and "from alembic" not in labelled

    status = project.ok("--json", "status").json
    assert status["pending"] == [] and not status["problems"]
    assert sorted(r["id"] for r in status["applied"]) == ["a1b2c3d4e5f6", "b2", "c3", "d4", "e5"]
    assert {r["applied_by"] for r in status["applied"]} == {"adopted from alembic"}
    project.ok("make", "--check")

    # again: nothing to write, nothing to record, no event
    again = project.ok("--json", "adopt").json
    assert again["written"] == [] and len(again["unchanged"]) == 5
    assert again["database"]["recorded"] == [] and not again["database"]["logged"]
    assert app.version_rows() == {"e5"}  # left in place

    # a new dbshift migration applies on top, then downgrade walks the converted ones
    project.python(
        "tags",
        'op.create_table("tags", sa.Column("id", sa.Integer, primary_key=True))',
        parents=["e5"],
    )
    project.ok("upgrade")
    assert "tags" in project.tables()
    project.ok("downgrade", "d4")
    assert "ix_posts_title" not in {i["name"] for i in _indexes(project, "posts")}
    project.ok("downgrade", "base")
    assert project.tables() & {"users", "posts", "tags"} == set()
    project.ok("upgrade")
    assert {"users", "posts", "tags"} <= project.tables()


def _indexes(project: Project, table: str) -> list[dict[str, object]]:
    engine = project.engine()
    try:
        return list(sa.inspect(engine).get_indexes(table))  # type: ignore[arg-type]
    finally:
        engine.dispose()


def test_alembic_moving_its_table_after_adoption_stops_dbshift(app: AlembicApp) -> None:
    """Rolling deploys: an old release upgrades with Alembic after `adopt`; dbshift then
    refuses to run until the new revision is adopted too, and once the table is dropped
    it no longer looks."""
    build_history(app)
    app.upgrade("d4")
    project = app.project
    first = project.ok("--json", "adopt").json
    assert first["database"]["recorded"] == ["a1b2c3d4e5f6", "b2", "c3", "d4"]
    app.upgrade()  # Alembic applies e5 behind dbshift's back
    moved = project.fails(4, "upgrade")
    assert "alembic_version moved since `dbshift adopt` recorded it (d4 then, e5 now)" in moved.err
    assert "dbshift adopt" in moved.err
    second = project.ok("--json", "adopt").json
    assert second["written"] == [] and second["database"]["recorded"] == ["e5"]
    assert project.ok("--json", "upgrade").json is not None
    dropped = project.ok("--json", "adopt", "--drop-alembic-version").json
    assert dropped["database"]["dropped"] and "alembic_version" not in project.tables()
    events = _adopt_events(project)
    assert [json.loads(e)["heads"] for e in events] == [["d4"], ["e5"], ["e5"]]
    assert json.loads(events[-1])["dropped"] is True
    assert not project.ok("--json", "adopt").json["database"]["logged"]
    project.ok("upgrade")


def _adopt_events(project: Project) -> list[str]:
    engine = project.engine()
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                sa.text("SELECT detail FROM dbshift_log WHERE event = 'adopt' ORDER BY seq")
            )
            return [r[0] for r in rows]
    finally:
        engine.dispose()


@pytest.mark.backends("sqlite")
def test_a_revision_it_cannot_convert_is_refused_and_nothing_is_written(app: AlembicApp) -> None:
    build_history(app)
    bad = app.revision(
        "f6",
        "reads the context",
        'if context.is_offline_mode():\n    op.execute("SELECT 1")',
        "pass",
    )
    bad.write_text(
        bad.read_text().replace("from alembic import op", "from alembic import context, op")
    )
    project = app.project
    failed = project.fails(2, "adopt", "--files-only")
    assert f"{bad}:" in failed.err and "alembic.context" in failed.err and "hint:" in failed.err
    assert list(project.migrations.iterdir()) == []


HELPERS = """

def _create(name):
    op.create_table(name, sa.Column("id", sa.Integer, primary_key=True))


def _rows(name):
    return op.get_bind().execute(sa.text(f"SELECT count(*) FROM {name}")).scalar()
"""


def test_helpers_using_the_global_op_run_unchanged(app: AlembicApp) -> None:
    """Found adopting mlflow 3.18.0: its revisions' helpers use Alembic's global `op`
    (one reads the database to find a constraint's name). They run as they are, recorded
    or against the database, up and down, as under Alembic."""
    first = app.revision("a1", "helper", '_create("t")', 'op.drop_table("t")')
    first.write_text(first.read_text() + HELPERS)
    second = app.revision(
        "b2", "reads", "op.execute(f\"INSERT INTO t (id) VALUES ({_rows('t') + 7})\")", "pass"
    )
    second.write_text(second.read_text() + HELPERS)
    project = app.project
    project.ok("adopt", "--files-only")
    converted = (project.migrations / "a1.py").read_text()
    assert "from dbshift.ops.current import op\n" in converted and "def upgrade(op):" in converted
    project.ok("upgrade")
    assert project.query("SELECT id FROM t") == [(7,)]
    assert "create table t" in project.ok("sql", "a1").out.lower()  # recorded: offline too
    project.ok("downgrade", "base")
    assert "t" not in project.tables()


@pytest.mark.backends("sqlite")
def test_depends_on_becomes_a_parent(app: AlembicApp) -> None:
    app.revision(
        "a1",
        "one",
        'op.create_table("one", sa.Column("id", sa.Integer, primary_key=True))',
        'op.drop_table("one")',
    )
    app.revision(
        "b1",
        "two",
        'op.create_table("two", sa.Column("id", sa.Integer, primary_key=True))',
        'op.drop_table("two")',
        "--head",
        "base",
        "--branch-label",
        "other",
    )
    app.revision(
        "c1",
        "three",
        'op.create_table("three", sa.Column("id", sa.Integer, primary_key=True))',
        'op.drop_table("three")',
        "--head",
        "a1",
        "--splice",
        "--depends-on",
        "other",
    )
    app.upgrade()
    project = app.project
    project.ok("adopt")
    text = (project.migrations / "c1.py").read_text()
    assert 'parents = ["a1", "b1"]' in text and "# alembic depends_on: other" in text
    status = project.ok("--json", "status").json
    assert status["pending"] == [] and sorted(r["id"] for r in status["applied"]) == [
        "a1",
        "b1",
        "c1",
    ]


@pytest.mark.backends("sqlite")
def test_the_migrations_folder_must_not_be_alembics(app: AlembicApp) -> None:
    app.revision("a1", "one", "pass", "pass")
    failed = app.project.fails(2, "--migrations", "alembic", "adopt", "--files-only")
    assert "inside the Alembic folder" in failed.err and "--migrations" in failed.err


@pytest.mark.backends("sqlite")
def test_a_converted_file_edited_since_is_refused(app: AlembicApp) -> None:
    app.revision(
        "a1",
        "one",
        'op.create_table("one", sa.Column("id", sa.Integer, primary_key=True))',
        'op.drop_table("one")',
    )
    project = app.project
    project.ok("adopt", "--files-only")
    converted = project.migrations / "a1.py"
    converted.write_text(converted.read_text() + "\n# edited\n")
    failed = project.fails(2, "adopt", "--files-only")
    assert "a1.py: already in" in failed.err


def test_op_f_and_get_bind_in_a_revision(app: AlembicApp) -> None:
    """Real revisions name things with op.f() and read the database with op.get_bind()."""
    app.revision(
        "a1",
        "users",
        """
op.create_table(
    "users",
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(50), nullable=False),
)
op.create_index(op.f("ix_users_name"), "users", ["name"])
""",
        'op.drop_table("users")',
    )
    app.revision(
        "b1",
        "data",
        """
bind = op.get_bind()
if not bind.execute(sa.text("SELECT count(*) FROM users")).scalar():
    op.execute("INSERT INTO users (id, name) VALUES (1, 'root')")
""",
        'op.execute("DELETE FROM users")',
    )
    app.upgrade()
    project = app.project
    project.ok("adopt")
    assert project.ok("--json", "status").json["pending"] == []
    project.ok("downgrade", "base")
    project.ok("upgrade")


FLASK_APP = """\
from flask import Flask
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy

app = Flask(__name__)
app.config["SQLALCHEMY_DATABASE_URI"] = {url!r}
db = SQLAlchemy(app)
migrate = Migrate(app, db)
"""


def flask(root: Path, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "app", "db", *args],
        cwd=root,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr + done.stdout
    return done.stdout


def test_adopt_a_flask_migrate_project(project: Project) -> None:
    """Flask-Migrate's `migrations/` is an Alembic folder (alembic.ini inside, no
    script_location): dbshift needs a folder of its own beside it."""
    pytest.importorskip("flask_migrate", reason="Flask-Migrate is in the test extra")
    root = project.root
    project.migrations.rmdir()  # `flask db init` makes migrations/ itself
    (root / "app.py").write_text(FLASK_APP.format(url=project.url))
    (root / "models.py").write_text(MODELS)
    flask(root, "init")
    versions = root / "migrations" / "versions"
    for rev, parent_args, up, down in (
        (
            "u1",
            (),
            MODELS_UP_USERS,
            'op.drop_index("ix_users_name", table_name="users")\nop.drop_table("users")',
        ),
        ("p2", (), MODELS_UP_POSTS, 'op.drop_table("posts")'),
    ):
        flask(root, "revision", "-m", f"rev {rev}", "--rev-id", rev, *parent_args)
        (path,) = versions.glob(f"{rev}_*.py")
        text = path.read_text()
        stub_up, stub_down = "def upgrade():\n    pass\n", "def downgrade():\n    pass\n"
        assert stub_up in text and stub_down in text, text
        text = text.replace(stub_up, "def upgrade():\n" + _indent(up))
        path.write_text(text.replace(stub_down, "def downgrade():\n" + _indent(down)))
    flask(root, "upgrade")
    with (root / "dbshift.toml").open("a") as toml:
        toml.write('models = ["models:metadata"]\n')

    refused = project.fails(2, "adopt")
    assert "inside the Alembic folder" in refused.err and "--migrations" in refused.err
    adopted = project.ok("--json", "--migrations", "db", "adopt").json
    assert adopted["source"] == str(root / "migrations" / "alembic.ini")
    assert adopted["database"]["recorded"] == ["u1", "p2"]
    status = project.ok("--json", "--migrations", "db", "status").json
    assert status["pending"] == [] and not status["problems"]
    project.ok("--migrations", "db", "make", "--check")
    project.ok("--migrations", "db", "downgrade", "base")
    assert project.tables() & {"users", "posts"} == set()


MODELS_UP_USERS = """
op.create_table(
    "users",
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(50), nullable=False),
    sa.Column("email", sa.String(100), nullable=True),
)
op.create_index("ix_users_name", "users", ["name"])
"""

MODELS_UP_POSTS = """
op.create_table(
    "posts",
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id"), nullable=True),
    sa.Column("title", sa.String(100), nullable=False),
)
op.create_index("ix_posts_title", "posts", ["title"])
"""


AUTOGEN_MODELS = """\
import sqlalchemy as sa

metadata = sa.MetaData()

users = sa.Table(
    "users",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(50), nullable=False, index=True),
    sa.Column("bio", sa.Text, nullable=True, comment="about"),
)
"""


def test_an_autogenerated_revision(app: AlembicApp) -> None:
    """What `alembic revision --autogenerate` writes (`op.f()` names from the naming
    convention, `unique=False`, comments), converted and run by dbshift."""
    root = app.root
    # a module name of its own: `make` runs in this process, where `models` may be
    # another test's module already imported
    (root / "autogen_models.py").write_text(AUTOGEN_MODELS)
    toml = root / "dbshift.toml"
    toml.write_text(toml.read_text().replace('"models:metadata"', '"autogen_models:metadata"'))
    env = root / "alembic" / "env.py"
    env.write_text(
        env.read_text().replace(
            "target_metadata = None",
            "import autogen_models\ntarget_metadata = autogen_models.metadata",
        )
    )
    alembic(root, "revision", "--autogenerate", "-m", "users", "--rev-id", "a1")
    (path,) = app.versions.glob("a1_*.py")
    assert "op.f(" in path.read_text()
    app.upgrade()
    project = app.project
    project.ok("adopt")
    assert project.ok("--json", "status").json["pending"] == []
    project.ok("make", "--check")
    project.ok("downgrade", "base")
    assert "users" not in project.tables()
    project.ok("upgrade")
    assert "users" in project.tables()
