"""`dbshift baseline` and `dbshift drift` on real databases (SQLite, PostgreSQL,
MariaDB): a schema made by hand-written DDL taken over, the baseline recreating it
exactly on a fresh database, and changes made behind dbshift's back found."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import dbshift
from dbshift import aio, api
from dbshift.autogen import baseline as taking
from dbshift.autogen.drift import differences_between
from dbshift.schema.introspect import introspect
from dbshift.schema.snapshot import Snapshot
from tests.conftest import ScratchDatabases, require_backend, with_driver
from tests.helpers import Project
from tests.test_introspect import varied_metadata

# -- a schema written by hand --------------------------------------------------------------


def handmade(backend: str) -> list[str]:
    """Several tables, foreign keys, indexes, uniques, defaults; an enum on PostgreSQL
    (a type of its own) and MariaDB (inline); a view."""
    if backend == "postgresql":
        key, status = "SERIAL PRIMARY KEY", "status"
        head = ["CREATE TYPE status AS ENUM ('new', 'active')"]
    elif backend == "mysql":
        key, status, head = "INTEGER AUTO_INCREMENT PRIMARY KEY", "ENUM('new', 'active')", []
    else:
        key, status, head = "INTEGER PRIMARY KEY", "VARCHAR(6)", []
    return [
        *head,
        f"CREATE TABLE users (id {key}, email VARCHAR(100) NOT NULL, "
        f"name VARCHAR(50) DEFAULT 'anon', state {status} NOT NULL, "
        "CONSTRAINT uq_users_email UNIQUE (email))",
        f"CREATE TABLE posts (id {key}, user_id INTEGER NOT NULL, "
        "title VARCHAR(200) NOT NULL, score INTEGER DEFAULT 0, "
        "CONSTRAINT fk_posts_user FOREIGN KEY (user_id) REFERENCES users (id), "
        "CONSTRAINT uq_posts_user_title UNIQUE (user_id, title))",
        "CREATE INDEX ix_posts_title ON posts (title)",
        "CREATE INDEX ix_posts_score ON posts (score)",
        f"CREATE TABLE tags (id {key}, name VARCHAR(30) NOT NULL)",
        "CREATE TABLE post_tags (post_id INTEGER NOT NULL, tag_id INTEGER NOT NULL, "
        "PRIMARY KEY (post_id, tag_id), "
        "CONSTRAINT fk_pt_post FOREIGN KEY (post_id) REFERENCES posts (id), "
        "CONSTRAINT fk_pt_tag FOREIGN KEY (tag_id) REFERENCES tags (id))",
        "CREATE VIEW user_emails AS SELECT id, email FROM users",
    ]


def run_ddl(url: str, statements: list[str]) -> None:
    engine = sa.create_engine(url, poolclass=sa.NullPool)
    try:
        with engine.begin() as conn:
            for statement in statements:
                conn.exec_driver_sql(statement)
    finally:
        engine.dispose()


def schema_of(url: str) -> dict[str, Any]:
    """The introspected schema as data (types by their repr), bookkeeping left out."""
    engine = sa.create_engine(url, poolclass=sa.NullPool)
    try:
        with engine.connect() as conn:
            found = introspect(conn, exclude=lambda name: name.startswith("dbshift_"))
    finally:
        engine.dispose()
    data: dict[str, Any] = json.loads(found.to_json())
    return data


def drift_between(url: str, other: str) -> list[str]:
    """What the comparison of drift finds between two databases' schemas."""
    engine = sa.create_engine(url, poolclass=sa.NullPool)
    engine2 = sa.create_engine(other, poolclass=sa.NullPool)
    try:
        with engine.connect() as a, engine2.connect() as b:
            skip = lambda name: name.startswith("dbshift_")  # noqa: E731
            mine, theirs = introspect(a, exclude=skip), introspect(b, exclude=skip)
            return [d.line() for d in differences_between(mine, theirs, a.dialect, "migrations")]
    finally:
        engine.dispose()
        engine2.dispose()


# -- baseline ------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["python", "sql"])
def test_baseline_recreates_a_handmade_schema_exactly(
    project: Project, backend: str, scratch: ScratchDatabases, kind: str
) -> None:
    run_ddl(project.url, handmade(backend))
    before = schema_of(project.url)
    done = project.ok("baseline", *(["--sql"] if kind == "sql" else []), "--json").json
    path = Path(done["path"])
    assert path.suffix == (".sql" if kind == "sql" else ".py") and path.is_file()
    assert sorted(done["tables"]) == ["post_tags", "posts", "tags", "users"]
    assert any("user_emails" in note for note in done["notes"])  # the view is noted
    assert done["enums"] == (["status"] if backend == "postgresql" else [])
    # recorded, not run: the schema is untouched, the row and its event are there
    assert schema_of(project.url) == before
    assert project.applied() == [done["migration"]]
    events = project.query("SELECT event, migration_id FROM dbshift_log")
    assert ("baseline", done["migration"]) in events
    assert project.ok("status", "--check")
    assert project.cli("drift").out.startswith("no drift")

    fresh = scratch.create()
    project.ok("--url", fresh, "upgrade")
    assert schema_of(fresh) == before
    assert drift_between(project.url, fresh) == []
    assert project.ok("--url", fresh, "drift").out.startswith("no drift")


def test_baseline_of_a_varied_schema_round_trips(
    project: Project, backend: str, scratch: ScratchDatabases
) -> None:
    """Every kind of object introspection reads (computed columns, partial and
    expression indexes, deferrable keys, comments, collations, cycles, hostile names)."""
    engine = project.engine()
    varied_metadata(backend).create_all(engine)
    engine.dispose()
    before = schema_of(project.url)
    project.ok("baseline")
    fresh = scratch.create()
    project.ok("--url", fresh, "upgrade")
    assert schema_of(fresh) == before
    assert project.cli("--url", fresh, "drift").code == 0


def test_baseline_refuses_what_it_must_not_take_over(
    project: Project, backend: str, scratch: ScratchDatabases
) -> None:
    # an empty database
    found = project.fails(2, "baseline")
    assert "is empty" in found.err and "hint:" in found.err
    assert not list(project.migrations.glob("*.py"))
    # a folder with migrations already
    run_ddl(project.url, ["CREATE TABLE t (id INTEGER PRIMARY KEY)"])
    first = project.python("first", 'op.create_table("u", sa.Column("id", sa.Integer))')
    print_before = project.fingerprint()
    found = project.fails(2, "baseline")
    assert "already holds 1 migration" in found.err and "--after-existing" in found.err
    assert project.fingerprint() == print_before
    # a database with dbshift history
    (project.migrations / f"{first}.py").unlink()
    (project.migrations / "dbshift.sum").unlink()
    project.ok("baseline")
    other = Project(project.root.parent / "other", project.url, project.capsys)
    print_before = other.fingerprint()
    found = other.fails(2, "baseline")
    assert "already has dbshift history" in found.err and "dbshift drift" in found.err
    assert other.fingerprint() == print_before


def test_baseline_after_existing_holds_what_the_migrations_lack(
    project: Project, scratch: ScratchDatabases
) -> None:
    first = project.python(
        "first", 'op.create_table("a", sa.Column("id", sa.Integer, primary_key=True))'
    )
    run_ddl(
        project.url,
        [
            "CREATE TABLE a (id INTEGER PRIMARY KEY, extra INTEGER)",
            "CREATE TABLE b (id INTEGER PRIMARY KEY)",
        ],
    )
    done = project.ok("baseline", "--after-existing", "--json").json
    assert done["after"] == [first]
    text = Path(done["path"]).read_text()
    assert "op.create_table(" in text and '"b"' in text and 'op.add_column("a"' in text
    assert 'op.create_table("a"' not in text  # a itself comes from `first`
    assert project.applied() == sorted([first, done["migration"]])
    assert project.ok("drift").out.startswith("no drift")
    fresh = scratch.create()
    project.ok("--url", fresh, "upgrade")
    assert drift_between(project.url, fresh) == []


def test_a_failed_history_write_leaves_no_file(
    project: Project, backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The log table exists but is not dbshift's (a real failure of the event's INSERT):
    the baseline's file is removed again, dbshift.sum put back, no row stays."""
    run_ddl(
        project.url,
        ["CREATE TABLE t (id INTEGER PRIMARY KEY)", "CREATE TABLE dbshift_log (x INTEGER)"],
    )
    before = project.fingerprint()
    found = project.cli("baseline")
    assert found.code == 3, found.err
    assert not list(project.migrations.glob("*.py"))
    assert not (project.migrations / "dbshift.sum").exists()
    assert project.query("SELECT COUNT(*) FROM dbshift_history") == [(0,)]
    assert project.fingerprint()[2] == before[2]


def test_a_failed_file_write_leaves_no_row(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    run_ddl(project.url, ["CREATE TABLE t (id INTEGER PRIMARY KEY)"])

    def refuse(*_args: Any) -> Path:
        raise dbshift.ConfigError("cannot write the file", hint="the disk is full")

    monkeypatch.setattr(taking, "write_new", refuse)
    found = project.fails(2, "baseline")
    assert "cannot write the file" in found.err
    assert project.applied() == []
    assert not list(project.migrations.glob("*.py"))


def test_baseline_runs_the_format_command_before_recording_it(project: Project) -> None:
    """`format` in dbshift.toml runs on the baseline's file as on `make`'s (it was left
    out), before its checksum is recorded: `verify` passes on the formatted file."""
    run_ddl(project.url, ["CREATE TABLE t (id INTEGER PRIMARY KEY)"])
    formatter = project.root / "fmt.py"
    formatter.write_text("import sys\nopen(sys.argv[1], 'a').write('# formatted\\n')\n")
    toml = project.root / "dbshift.toml"
    command = json.dumps(f"{sys.executable} {formatter}")
    toml.write_text(toml.read_text() + f"format = {command}\n")
    project.ok("baseline")
    (written,) = project.migrations.glob("*.py")
    assert written.read_text().endswith("# formatted\n")
    project.ok("verify")


MODELS = """
import sqlalchemy as sa

md = sa.MetaData()
users = sa.Table(
    "users", md,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("email", sa.String(100), nullable=False),
    sa.Column("nickname", sa.String(40)),
)
"""


def test_make_after_baseline_writes_the_models_difference(project: Project) -> None:
    run_ddl(
        project.url, ["CREATE TABLE users (id INTEGER PRIMARY KEY, email VARCHAR(100) NOT NULL)"]
    )
    project.ok("baseline")
    (project.root / "app_models.py").write_text(MODELS)
    drifted = project.fails(1, "--models", "app_models:md", "drift", "--json").json
    assert drifted["compared"] == ["migrations", "models"]
    assert drifted["differences"] == [
        {
            "source": "models",
            "object": 'column "users"."nickname"',
            "difference": "missing in the database (the models have it)",
        }
    ]
    made = project.ok("--models", "app_models:md", "make", "-m", "nickname", "--json").json
    assert made["operations"] == ['add column "users"."nickname"']
    project.ok("upgrade")
    assert "nickname" in project.columns("users")
    assert project.ok("--models", "app_models:md", "drift").out.startswith("no drift")


# -- drift ---------------------------------------------------------------------------------


def behind_the_back(backend: str) -> list[str]:
    """An added column, a dropped index, a changed nullability, a changed type."""
    if backend == "postgresql":
        return [
            "ALTER TABLE posts ADD COLUMN extra INTEGER",
            "DROP INDEX ix_posts_title",
            "ALTER TABLE tags ALTER COLUMN name DROP NOT NULL",
            "ALTER TABLE users ALTER COLUMN name TYPE VARCHAR(80)",
        ]
    if backend == "mysql":
        return [
            "ALTER TABLE posts ADD COLUMN extra INTEGER",
            "DROP INDEX ix_posts_title ON posts",
            "ALTER TABLE tags MODIFY name VARCHAR(30) NULL",
            "ALTER TABLE users MODIFY name VARCHAR(80) DEFAULT 'anon'",
        ]
    return [  # SQLite changes a column by rebuilding its table
        "ALTER TABLE posts ADD COLUMN extra INTEGER",
        "DROP INDEX ix_posts_title",
        "CREATE TABLE tags_new (id INTEGER PRIMARY KEY, name VARCHAR(30))",
        "DROP TABLE tags",
        "ALTER TABLE tags_new RENAME TO tags",
        "DROP VIEW user_emails",
        "CREATE TABLE users_new (id INTEGER PRIMARY KEY, email VARCHAR(100) NOT NULL, "
        "name VARCHAR(80) DEFAULT 'anon', state VARCHAR(6) NOT NULL, "
        "CONSTRAINT uq_users_email UNIQUE (email))",
        "DROP TABLE users",
        "ALTER TABLE users_new RENAME TO users",
    ]


def test_drift_finds_what_was_changed_behind_dbshifts_back(project: Project, backend: str) -> None:
    run_ddl(project.url, handmade(backend))
    project.ok("baseline")
    assert project.ok("drift").out.startswith("no drift")
    run_ddl(project.url, behind_the_back(backend))

    found = project.fails(1, "drift")
    lines = found.out.splitlines()
    assert '  column "posts"."extra": in the database only (not in the migrations)' in lines
    assert (
        '  index "ix_posts_title" on "posts": missing in the database (the migrations have it)'
        in lines
    )
    assert any(
        line.startswith('  column "tags"."name": NULL in the database, NOT NULL') for line in lines
    )
    assert any(
        line.startswith('  column "users"."name": type VARCHAR(80) in the database, VARCHAR(50)')
        for line in lines
    ), lines
    assert lines[-1].startswith("drift in ")

    document = project.fails(1, "drift", "--json").json
    assert document["drift"] is True and document["compared"] == ["migrations"]
    objects = {d["object"] for d in document["differences"]}
    assert {'column "posts"."extra"', 'column "tags"."name"', 'column "users"."name"'} <= objects
    assert len(document["differences"]) == 4, document["differences"]

    github = project.fails(1, "drift", "--format", "github").out.splitlines()
    assert len(github) == 4 and all(
        line.startswith("::error title=dbshift drift") for line in github
    )
    assert "check failed" in project.fails(1, "check", "--database").out


def test_no_drift_right_after_upgrade(project: Project) -> None:
    project.python(
        "users",
        'op.create_table("users", sa.Column("id", sa.Integer, primary_key=True), '
        'sa.Column("email", sa.String(100), nullable=False))\n'
        'op.create_index("ix_users_email", "users", ["email"], unique=True)',
    )
    project.ok("upgrade")
    found = project.ok("drift")
    assert (
        found.out.strip()
        == f"no drift: {dbshift.config.mask_url(project.url)} matches the migrations"
    )
    pending = project.python("more", 'op.add_column("users", sa.Column("age", sa.Integer))')
    assert pending  # a pending migration is not drift: only applied ones are replayed
    assert project.ok("drift").out.startswith("no drift")


def test_raw_ddl_is_named_and_left_out(project: Project) -> None:
    project.python(
        "typed",
        'op.create_table("kept", sa.Column("id", sa.Integer, primary_key=True))\n'
        'op.execute("CREATE TABLE raw_made (id INTEGER)")',
    )
    project.ok("upgrade")
    run_ddl(project.url, ["ALTER TABLE raw_made ADD COLUMN other INTEGER"])
    document = project.ok("drift", "--json").json
    assert document["skipped_tables"] == ["raw_made"]
    assert document["unknown"] and "raw_made" in document["unknown"][0]
    run_ddl(project.url, ["ALTER TABLE kept ADD COLUMN other INTEGER"])
    document = project.fails(1, "drift", "--json").json
    assert [d["object"] for d in document["differences"]] == ['column "kept"."other"']


def test_sql_replay_cannot_read_is_said(project: Project) -> None:
    project.python(
        "live",
        'bind = op.get_bind()\nbind.execute(sa.text("SELECT 1"))\n'
        'op.create_table("t", sa.Column("id", sa.Integer, primary_key=True))',
    )
    project.ok("upgrade")
    found = project.ok("drift")
    assert "cannot be known: nothing was compared" in found.err
    assert "not replayed:" in found.err


# -- the scenario of the issue -------------------------------------------------------------

SCENARIO = """
import sqlalchemy as sa

md = sa.MetaData()
accounts = sa.Table(
    "accounts", md,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("email", sa.String(100), nullable=False),
    sa.Column("state", sa.Enum("new", "active", "banned", name="state"), nullable=False),
    sa.Index("ix_accounts_email", "email"),
    sa.Index("ix_accounts_state", "state"),
)
"""


def scenario_ddl(backend: str) -> list[str]:
    """The real database: the enum lacks 'banned', email is nullable, no indexes."""
    if backend == "postgresql":
        return [
            "CREATE TYPE state AS ENUM ('new', 'active')",
            "CREATE TABLE accounts (id SERIAL PRIMARY KEY, email VARCHAR(100), "
            "state state NOT NULL)",
        ]
    if backend == "mysql":
        return [
            "CREATE TABLE accounts (id INTEGER AUTO_INCREMENT PRIMARY KEY, "
            "email VARCHAR(100), state ENUM('new', 'active') NOT NULL)"
        ]
    return [
        "CREATE TABLE accounts (id INTEGER PRIMARY KEY, email VARCHAR(100), "
        "state VARCHAR(6) NOT NULL)"
    ]


def test_a_baseline_recorded_from_the_models_does_not_pass_check(
    project: Project, backend: str
) -> None:
    """Migrations written from the models and stamped as applied on a database that
    differs from them: `check --database` must fail, naming each difference."""
    run_ddl(project.url, scenario_ddl(backend))
    (project.root / "scenario_models.py").write_text(SCENARIO)
    models = ("--models", "scenario_models:md")
    # written against an empty replay (no migrations yet), then stamped
    project.ok(*models, "make", "-m", "baseline from models", "--no-safe")
    project.ok("stamp", "head")
    found = project.fails(1, *models, "check", "--database", "--json").json
    items = {item["name"]: item for item in found["checks"]}
    assert items["models"]["status"] == "ok" and items["pending"]["status"] == "ok"
    problems = "\n".join(items["drift"]["problems"])
    assert items["drift"]["status"] == "failed", items
    assert 'column "accounts"."email": NULL in the database, NOT NULL' in problems
    assert 'index "ix_accounts_email" on "accounts": missing' in problems
    assert 'index "ix_accounts_state" on "accounts": missing' in problems
    if backend == "postgresql":
        assert "enum \"state\": value 'banned' missing" in problems
    if backend == "mysql":
        assert 'column "accounts"."state": type ' in problems
    assert found["ok"] is False


# -- the Python API ------------------------------------------------------------------------


def test_api_baseline_and_drift(db_url: str, backend: str, tmp_path: Path) -> None:
    run_ddl(db_url, handmade(backend))
    folder = tmp_path / "migrations"
    folder.mkdir()
    config = dbshift.Config(url=db_url, migrations=str(folder))
    done = api.baseline(config, "take over")
    assert isinstance(done, dbshift.SchemaBaseline) and done.path.parent == folder
    assert "take_over" in done.migration
    report = api.drift(config)
    assert isinstance(report, dbshift.DriftReport) and not report.drifted
    assert report.to_json()["differences"] == []
    run_ddl(db_url, ["ALTER TABLE posts ADD COLUMN extra INTEGER"])
    report = api.drift(config)
    assert report.drifted and [d.object for d in report.differences] == ['column "posts"."extra"']
    assert json.dumps(report.to_json())


def test_aio_baseline_and_drift(backend: str, driver: str, db_url: str, tmp_path: Path) -> None:
    run_ddl(db_url, handmade(backend))
    folder = tmp_path / "migrations"
    folder.mkdir()
    config = dbshift.Config(url=with_driver(db_url, driver), migrations=str(folder))

    async def both() -> tuple[dbshift.SchemaBaseline, dbshift.DriftReport]:
        return await aio.baseline(config), await aio.drift(config)

    done, report = asyncio.run(both())
    assert done.path.is_file() and not report.drifted


# -- property: whatever the schema, the baseline recreates it ------------------------------

_TYPES = {
    "int": sa.Integer(),
    "big": sa.BigInteger(),
    "str": sa.String(40),
    "text": sa.Text(),
    "num": sa.Numeric(8, 2),
    "bool": sa.Boolean(),
    "date": sa.Date(),
}


@st.composite
def schemas(draw: st.DrawFn) -> sa.MetaData:
    md = sa.MetaData()
    count = draw(st.integers(1, 3))
    for number in range(count):
        columns = draw(
            st.lists(
                st.tuples(st.sampled_from(sorted(_TYPES)), st.booleans(), st.booleans()),
                min_size=1,
                max_size=4,
            )
        )
        table = sa.Table(f"t{number}", md, sa.Column("id", sa.Integer, primary_key=True))
        for at, (kind, nullable, indexed) in enumerate(columns):
            column = sa.Column(f"c{at}", _TYPES[kind], nullable=nullable)
            table.append_column(column)
            if indexed and kind not in ("text",):
                sa.Index(f"ix_t{number}_c{at}", column)
        if number and draw(st.booleans()):
            table.append_column(sa.Column("up", sa.Integer, sa.ForeignKey("t0.id")))
    return md


@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(metadata=schemas())
def test_any_schema_baselined_is_recreated(
    tmp_path_factory: pytest.TempPathFactory, metadata: sa.MetaData
) -> None:
    require_backend("sqlite")
    root = tmp_path_factory.mktemp("prop")
    first, second = f"sqlite:///{root / 'a.db'}", f"sqlite:///{root / 'b.db'}"
    engine = sa.create_engine(first, poolclass=sa.NullPool)
    metadata.create_all(engine)
    engine.dispose()
    folder = root / "migrations"
    folder.mkdir()
    config = dbshift.Config(url=first, migrations=str(folder))
    api.baseline(config)
    assert not api.drift(config).drifted
    api.upgrade(config.replace(url=second))
    assert schema_of(second) == schema_of(first)
    assert not api.drift(config.replace(url=second)).drifted


def test_differences_between_empty_and_one_table() -> None:
    """Pure: the wording of each side."""
    md = sa.MetaData()
    sa.Table("t", md, sa.Column("id", sa.Integer, primary_key=True))
    from dbshift.schema.models import snapshot_from_metadata

    dialect = sa.create_engine("sqlite://").dialect
    one = snapshot_from_metadata([md], dialect, None)
    assert [d.line() for d in differences_between(Snapshot(), one, dialect, "models")] == [
        'table "t": missing in the database (the models have it)'
    ]
    assert [d.line() for d in differences_between(one, Snapshot(), dialect, "migrations")] == [
        'table "t": in the database only (not in the migrations)'
    ]
