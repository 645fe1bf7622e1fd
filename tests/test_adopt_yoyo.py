"""`dbshift adopt` from yoyo-migrations (docs/adopt.md#coming-from-yoyo): real yoyo
projects (SQL steps with depends and rollbacks, a Python step with callables and a
group, a non-transactional step) applied with yoyo's own API, then adopted, upgraded
on top, downgraded through the converted steps, and guarded; on every backend. The
conversion and the refusals are checked without a database. yoyo is a test dependency
only (the `test` extra)."""

from __future__ import annotations

import asyncio
import contextlib
import re
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import given
from hypothesis import strategies as st

import dbshift.aio
from dbshift.adopt import yoyo as converter
from dbshift.config import Config
from tests.conftest import with_driver
from tests.helpers import Project

yoyo = pytest.importorskip("yoyo", reason="yoyo is in the test extra: pip install -e '.[test]'")

#: yoyo's MySQL backend passes PyMySQL its deprecated `db=`
pytestmark = pytest.mark.filterwarnings("ignore:'db' is deprecated:DeprecationWarning")

USERS = """\
-- create the users table
-- and its index
CREATE TABLE users (id INTEGER PRIMARY KEY, name VARCHAR(50) NOT NULL);
CREATE INDEX ix_users_name ON users (name);
"""
USERS_ROLLBACK = "DROP INDEX ix_users_name ON users;\nDROP TABLE users;\n"
POSTS = """\
-- create posts
-- depends: 0001_users
CREATE TABLE posts (
    id INTEGER PRIMARY KEY,
    user_id INTEGER REFERENCES users (id),
    title VARCHAR(100)
);
"""
SEED = '''\
"""seed the first user, and the tags table"""
from yoyo import group, step

__depends__ = {"0001_users"}


def seed(conn):
    cursor = conn.cursor()
    cursor.execute("INSERT INTO users (id, name) VALUES (1, 'ann')")
    cursor.close()


def unseed(conn):
    cursor = conn.cursor()
    cursor.execute("DELETE FROM users WHERE id = 1")
    cursor.close()


step(seed, unseed)
group(
    step("CREATE TABLE tags (id INTEGER PRIMARY KEY, label VARCHAR(20))", "DROP TABLE tags"),
    step("INSERT INTO users (id, name) VALUES (1, 'duplicate')", ignore_errors="apply"),
)
'''
INDEX = """\
-- index the titles, outside a transaction
-- depends: 0002_posts 0003_seed
-- transactional: false
CREATE INDEX ix_posts_title ON posts (title);
"""
INDEX_ROLLBACK = "DROP INDEX ix_posts_title ON posts;\n"
ALL = ["0001_users", "0002_posts", "0003_seed", "0004_index"]


def _portable(sql: str, backend: str) -> str:
    """`DROP INDEX name ON table` is MariaDB's; the others drop an index by name. On
    PostgreSQL the non-transactional step builds its index CONCURRENTLY, which only
    runs outside a transaction."""
    if backend == "mysql":
        return sql
    sql = re.sub(r"(DROP INDEX \w+) ON \w+", r"\1", sql)
    if backend == "postgresql":
        sql = re.sub(r"(CREATE|DROP) INDEX (ix_posts_title)", r"\1 INDEX CONCURRENTLY \2", sql)
    return sql


def yoyo_url(url: str) -> str:
    parsed = sa.make_url(url)
    name = {"sqlite": "sqlite", "postgresql": "postgresql+psycopg", "mysql": "mysql"}
    return parsed.set(drivername=name[parsed.get_backend_name()]).render_as_string(
        hide_password=False
    )


class YoyoApp:
    """A real yoyo project in `root/yoyo` with its yoyo.ini, dbshift beside it."""

    def __init__(self, project: Project, backend: str, table: str = "_yoyo_migration") -> None:
        self.project = project
        self.backend = backend
        self.table = table
        self.root = project.root
        self.steps = self.root / "yoyo"
        self.steps.mkdir()
        (self.root / "yoyo.ini").write_text(
            "[DEFAULT]\nsources = %(here)s/yoyo\n"
            f"database = {yoyo_url(project.url)}\nbatch_mode = on\nverbosity = 0\n"
            + (f"migration_table = {table}\n" if table != "_yoyo_migration" else "")
        )

    def write(self, name: str, text: str) -> Path:
        path = self.steps / name
        path.write_text(_portable(text, self.backend))
        return path

    def build(self) -> None:
        self.write("0001_users.sql", USERS)
        self.write("0001_users.rollback.sql", USERS_ROLLBACK)
        self.write("0002_posts.sql", POSTS)
        self.write("0002_posts.rollback.sql", "DROP TABLE posts;\n")
        self.write("0003_seed.py", SEED)
        self.write("0004_index.sql", INDEX)
        self.write("0004_index.rollback.sql", INDEX_ROLLBACK)

    @contextlib.contextmanager
    def _backend(self, url: str | None = None) -> Iterator[Any]:
        backend = yoyo.get_backend(yoyo_url(url or self.project.url), self.table)
        try:
            yield backend
        finally:
            backend.connection.close()

    def apply(self, ids: list[str] | None = None, url: str | None = None) -> None:
        """yoyo apply (of `ids` and what they depend on only, like `yoyo apply -r`)."""
        with self._backend(url) as backend:
            migrations = yoyo.read_migrations(str(self.steps))
            if ids is not None:
                migrations = migrations.filter(lambda m: m.id in ids)
            with backend.lock():
                backend.apply_migrations(backend.to_apply(migrations))

    def rollback(self, ids: list[str], url: str) -> None:
        with self._backend(url) as backend:
            migrations = yoyo.read_migrations(str(self.steps)).filter(lambda m: m.id in ids)
            with backend.lock():
                backend.rollback_migrations(backend.to_rollback(migrations))

    def applied(self) -> set[str]:
        engine = self.project.engine()
        try:
            with engine.connect() as conn:
                rows = conn.execute(sa.text(f"SELECT migration_id FROM {self.table}"))
                return {r[0] for r in rows}
        finally:
            engine.dispose()


def schema(url: str) -> dict[str, tuple[list[str], list[str]]]:
    """Each table but the tools' own: its columns and index names."""
    engine = sa.create_engine(url, poolclass=sa.NullPool)
    try:
        inspector = sa.inspect(engine)
        return {
            t: (
                sorted(c["name"] for c in inspector.get_columns(t)),
                sorted(str(i["name"]) for i in inspector.get_indexes(t)),
            )
            for t in inspector.get_table_names()
            if not t.startswith(("dbshift_", "_yoyo", "yoyo_"))
        }
    finally:
        engine.dispose()


@pytest.fixture
def app(project: Project, backend: str) -> YoyoApp:
    return YoyoApp(project, backend)


# -- on a real database ---------------------------------------------------------------------


@pytest.mark.slow
def test_adopt_a_real_yoyo_project_and_its_database(
    app: YoyoApp, project: Project, scratch: object
) -> None:
    app.build()
    app.apply()
    assert app.applied() == set(ALL)

    adopted = project.ok("--json", "adopt").json
    assert adopted["tool"] == "yoyo"
    assert sorted(Path(p).name for p in adopted["written"]) == [
        "0001_users.sql",
        "0002_posts.sql",
        "0003_seed.py",
        "0004_index.sql",
    ]
    database = adopted["database"]
    assert database["version_table"] == "_yoyo_migration"
    assert database["recorded"] == ALL and sorted(database["heads"]) == ALL
    status = project.ok("--json", "status").json
    assert status["pending"] == [] and len(status["applied"]) == 4
    with project.engine().connect() as conn:
        by = conn.execute(sa.text("SELECT DISTINCT applied_by FROM dbshift_history"))
        assert [r[0] for r in by] == ["adopted from yoyo"]
    assert (project.root / "migrations" / "dbshift.sum").is_file()
    assert app.applied() == set(ALL)  # yoyo's table is left alone

    # a new dbshift migration on top of the converted ones
    project.python(
        "bio",
        'op.add_column("users", sa.Column("bio", sa.String(200)))',
        'op.drop_column("users", "bio")',
        parents=["0004_index"],
    )
    project.ok("upgrade")
    assert "bio" in schema(project.url)["users"][0]
    again = project.ok("--json", "adopt").json
    assert again["written"] == [] and again["database"]["recorded"] == []

    # downgrading through the converted steps leaves what yoyo's rollback leaves
    twin = scratch.create()  # type: ignore[attr-defined]
    app.apply(url=twin)
    app.rollback(["0004_index", "0003_seed"], url=twin)
    project.ok("downgrade", "0002_posts")
    assert schema(project.url) == schema(twin)
    with project.engine().connect() as conn:  # the Python step's rollback ran
        assert conn.execute(sa.text("SELECT COUNT(*) FROM users")).scalar() == 0
    app.rollback(ALL, url=twin)
    project.ok("downgrade", "base")
    assert schema(project.url) == schema(twin) == {}
    project.ok("upgrade")  # and up again, converted steps and all
    with project.engine().connect() as conn:
        assert conn.execute(sa.text("SELECT name FROM users")).scalar() == "ann"
    assert "ix_posts_title" in schema(project.url)["posts"][1]


@pytest.mark.slow
def test_a_partly_applied_yoyo_project_leaves_the_rest_to_dbshift(
    app: YoyoApp, project: Project
) -> None:
    app.build()
    app.apply(["0001_users", "0002_posts"])
    assert app.applied() == {"0001_users", "0002_posts"}
    adopted = project.ok("--json", "adopt").json
    assert adopted["database"]["recorded"] == ["0001_users", "0002_posts"]
    status = project.ok("--json", "status").json
    assert status["pending"] == ["0003_seed", "0004_index"]
    project.ok("upgrade")
    tables = schema(project.url)
    assert "tags" in tables and "ix_posts_title" in tables["posts"][1]
    assert app.applied() == {"0001_users", "0002_posts"}  # yoyo's table as adopt found it
    project.ok("upgrade")  # the guard: yoyo did not move, nothing to refuse


@pytest.mark.slow
def test_the_guard_refuses_after_yoyo_applied_something_new(app: YoyoApp, project: Project) -> None:
    app.build()
    app.apply()
    project.ok("adopt")
    app.write("0005_notes.sql", "-- depends: 0004_index\nCREATE TABLE notes (id INTEGER);\n")
    app.apply()  # a deploy still running yoyo
    failed = project.fails(4, "upgrade")
    assert "_yoyo_migration moved since `dbshift adopt`" in failed.err
    assert "--drop-yoyo-tables" in failed.err
    assert len(failed.err.strip().splitlines()) == 1
    adopted = project.ok("--json", "adopt").json  # converts and records the new one
    assert adopted["database"]["recorded"] == ["0005_notes"]
    project.ok("upgrade")
    dropped = project.ok("--json", "adopt", "--drop-yoyo-tables").json
    assert dropped["database"]["dropped"] is True
    engine = project.engine()
    try:
        left = set(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()
    assert not left & {"_yoyo_migration", "_yoyo_log", "_yoyo_version", "yoyo_lock"}
    project.ok("upgrade")
    assert project.ok("--json", "status").json["pending"] == []


@pytest.mark.slow
def test_the_migration_table_yoyo_ini_names(project: Project, backend: str) -> None:
    app = YoyoApp(project, backend, table="app_yoyo")
    app.write("0001_a.sql", "CREATE TABLE a (id INTEGER);\n")
    app.apply()
    adopted = project.ok("--json", "adopt").json
    assert adopted["database"]["version_table"] == "app_yoyo"
    assert adopted["database"]["recorded"] == ["0001_a"]
    project.ok("adopt", "--drop-yoyo-tables")
    engine = project.engine()
    try:
        left = set(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()
    assert left == {"a", "dbshift_history", "dbshift_log", "dbshift_lock"}


@pytest.mark.slow
def test_a_yoyo_table_naming_a_missing_migration_writes_nothing(
    app: YoyoApp, project: Project
) -> None:
    app.build()
    app.apply()
    (app.steps / "0004_index.sql").unlink()
    (app.steps / "0004_index.rollback.sql").unlink()
    failed = project.fails(4, "adopt")
    assert "_yoyo_migration names migration 0004_index, which no converted" in failed.err
    assert "hint:" in failed.err and len(failed.err.strip().splitlines()) == 1
    assert list((project.root / "migrations").iterdir()) == []
    engine = project.engine()
    try:
        assert not sa.inspect(engine).has_table("dbshift_history")
    finally:
        engine.dispose()


@pytest.mark.slow
def test_a_gap_yoyo_would_fill_later_is_refused(app: YoyoApp, project: Project) -> None:
    """No depends: dbshift chains the files by name; a migration added later with an
    earlier name, which yoyo would apply next, cannot be recorded as skipped."""
    app.write("0001_a.sql", "CREATE TABLE a (id INTEGER);\n")
    app.write("0003_c.sql", "CREATE TABLE c (id INTEGER);\n")
    app.apply()
    app.write("0002_b.sql", "CREATE TABLE b (id INTEGER);\n")
    failed = project.fails(4, "adopt")
    assert "names 0003_c as applied but not 0002_b" in failed.err
    assert "yoyo apply" in failed.err


# -- the conversion, without a database --------------------------------------------------


def _steps(tmp_path: Path, files: dict[str, str]) -> Path:
    folder = tmp_path / "steps"
    folder.mkdir()
    for name, text in files.items():
        (folder / name).write_text(text)
    return folder


def test_yoyo_order_is_yoyos_own(tmp_path: Path) -> None:
    """The converted parents give dbshift yoyo's apply order, with and without depends."""
    folder = _steps(
        tmp_path,
        {
            "a.sql": "CREATE TABLE a (id INT);",
            "b.sql": "-- depends: d\nCREATE TABLE b (id INT);",
            "c.py": "from yoyo import step\nstep('CREATE TABLE c (id INT)')\n",
            "d.sql": "CREATE TABLE d (id INT);",
            "e.sql": "-- depends: a\nCREATE TABLE e (id INT);",
        },
    )
    project = converter.read_project(folder)
    ours = [s.id for s in converter.order(converter.read_steps(project))]
    theirs = [m.id for m in yoyo.migrations.topological_sort(yoyo.read_migrations(str(folder)))]
    assert ours == theirs
    parents = {c.id: c.text for c in converter.convert(project)}
    assert "-- parents: d\n" in parents["b"]  # its depends
    assert "-- parents: a\n" in parents["e"]
    assert "# yoyo migration: c (converted from steps/c.py)" in parents["c"]


def test_a_sql_step_converts_with_its_rollback_and_directives(tmp_path: Path) -> None:
    folder = _steps(
        tmp_path,
        {
            "0001_x.sql": "-- make x\n-- transactional: false\nCREATE TABLE x (id INT);",
            "0001_x.rollback.sql": "DROP TABLE x;",
            "20240101_01_AbCd-add-y.sql": "-- depends: 0001_x\nCREATE TABLE y (id INT);",
        },
    )
    converted = {c.origin: c for c in converter.convert(converter.read_project(folder))}
    assert converted["0001_x"].text == (
        "-- make x\n-- yoyo migration: 0001_x (converted from steps/0001_x.sql)\n"
        "-- parents:\n-- transactional: false\n\n-- dbshift:up\nCREATE TABLE x (id INT);\n"
        "\n-- dbshift:down\nDROP TABLE x;\n"
    )
    mapped = converted["20240101_01_AbCd-add-y"]
    assert mapped.id == "20240101_01_AbCd_add_y" and mapped.name.endswith(".sql")
    assert "-- dbshift:down" not in mapped.text  # no rollback file: no downgrade
    assert converter.origins({mapped.id: mapped.text}) == {mapped.id: "20240101_01_AbCd-add-y"}


def test_files_only_from_a_folder_on_the_command_line(tmp_path: Path, capsys: object) -> None:
    root = tmp_path / "proj"
    project = Project(root, f"sqlite:///{tmp_path / 'unused.sqlite'}", capsys)  # type: ignore[arg-type]
    steps = root / "db" / "yoyo"
    steps.mkdir(parents=True)
    (steps / "0001_x.sql").write_text("CREATE TABLE x (id INT);")
    (steps / "0002_y.py").write_text(
        "'''make \"y\"'''\nfrom __future__ import annotations\nfrom yoyo import step\n"
        "__transactional__ = False\nstep('CREATE TABLE y (id INT)')\n"
    )
    done = project.ok("--json", "adopt", "db/yoyo", "--files-only").json
    assert done["tool"] == "yoyo" and len(done["written"]) == 2
    text = (root / "migrations" / "0002_y.py").read_text()
    assert 'parents = ["0001_x"]\ntransactional = False\n' in text
    assert "def downgrade" not in text  # no step has a rollback
    assert text.startswith("'''make \"y\"'''\nfrom __future__ import annotations\n")
    shown = project.ok("--json", "show", "0002_y").json
    assert shown["message"] == 'make "y"'
    assert project.ok("--json", "adopt", "db/yoyo", "--files-only").json["written"] == []
    assert "yoyo" in project.ok("adopt", "--help").out
    assert "converted 0 yoyo migration(s)" in project.ok("adopt", "db/yoyo", "--files-only").out
    wrong = project.fails(2, "adopt", "db/yoyo", "--files-only", "--drop-alembic-version")
    assert "pass --drop-yoyo-tables instead" in wrong.err
    # refused before anything is written (the files were written, then the flag refused)
    (root / "other").mkdir()
    project.fails(
        2, "--migrations", "other", "adopt", "db/yoyo", "--files-only", "--drop-alembic-version"
    )
    assert list((root / "other").iterdir()) == []


BAD: list[tuple[str, dict[str, str], str]] = [
    ("post-apply.sql", {"post-apply.sql": "SELECT 1;"}, "post-apply hook"),
    ("missing depends", {"a.sql": "-- depends: zz\nSELECT 1;"}, "depends on zz"),
    (
        "a cycle",
        {"a.sql": "-- depends: b\nSELECT 1;", "b.sql": "-- depends: a\nSELECT 1;"},
        "circular depends among a, b",
    ),
    ("syntax", {"a.py": "from yoyo import step\nstep(\n"}, "cannot parse"),
    (
        "other yoyo",
        {"a.py": "from yoyo.migrations import step\nstep('SELECT 1')\n"},
        "beyond yoyo's step()",
    ),
    ("computed", {"a.py": "from yoyo import step\n__depends__ = set('b')\n"}, "not a literal"),
    ("marker", {"a.sql": "SELECT 1;\n-- dbshift:down\n"}, "dbshift section marker"),
    (
        "reserved",
        {"a.py": "from yoyo import step\ndef upgrade(conn):\n    pass\nstep(upgrade)\n"},
        "defines upgrade",
    ),
]


@pytest.mark.parametrize(("files", "expected"), [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_a_step_that_cannot_be_converted_is_refused(
    tmp_path: Path, capsys: object, files: dict[str, str], expected: str
) -> None:
    root = tmp_path / "proj"
    project = Project(root, f"sqlite:///{tmp_path / 'x.sqlite'}", capsys)  # type: ignore[arg-type]
    steps = root / "steps"
    steps.mkdir()
    for name, text in files.items():
        (steps / name).write_text(text)
    failed = project.fails(2, "adopt", "--from", "yoyo", "steps")
    assert expected in failed.err and "hint:" in failed.err
    assert str(steps) in failed.err  # names the file
    assert len(failed.err.strip().splitlines()) == 1
    assert list((root / "migrations").iterdir()) == []


@pytest.mark.parametrize(
    ("ini", "expected"),
    [
        ("[DEFAULT\nsources = x\n", "cannot read it"),
        ("[DEFAULT]\nsources = %(nope)s\n", "cannot read it"),
        ("[DEFAULT]\ndatabase = sqlite://\n", "no sources"),
        ("[DEFAULT]\nsources = missing\n", "does not exist"),
        ("[DEFAULT]\n%inherit = base.ini\nsources = x\n", "%include / %inherit"),
    ],
)
def test_an_unreadable_yoyo_ini_is_refused(
    tmp_path: Path, capsys: object, ini: str, expected: str
) -> None:
    root = tmp_path / "proj"
    project = Project(root, f"sqlite:///{tmp_path / 'x.sqlite'}", capsys)  # type: ignore[arg-type]
    (root / "yoyo.ini").write_text(ini)
    (root / "x").mkdir()
    failed = project.fails(2, "adopt")
    assert "yoyo.ini" in failed.err and expected in failed.err
    assert len(failed.err.strip().splitlines()) == 1


def test_the_steps_collector_runs_groups_and_rollbacks_in_yoyos_order() -> None:
    from dbshift.adopt.steps import Steps

    done: list[str] = []

    def record(name: str) -> Callable[[object], None]:
        return lambda conn: done.append(name)

    steps = Steps()
    steps.step(record("a"), record("-a"))
    first, second = steps.step(record("b"), record("-b")), steps.step(record("c"), record("-c"))
    steps.group(first, second)
    steps.step(record("d"))
    engine = sa.create_engine("sqlite://")
    with engine.begin() as conn:
        steps.apply(conn)
        steps.rollback(conn)
    assert done == ["a", "b", "c", "d", "-c", "-b", "-a"]


@pytest.mark.slow
def test_aio_adopt_and_a_converted_python_step_on_the_async_driver(
    app: YoyoApp, project: Project, backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The takeover through an async engine, then the Python step (callables given the
    driver's connection, a group, ignore_errors) run by dbshift on the async driver;
    then a deploy with the converted files alone (no yoyo folder) takes over from
    their headers."""
    app.build()
    app.apply(["0001_users", "0002_posts"])
    config = Config(url=with_driver(project.url, "async"), migrations=project.migrations)
    report = asyncio.run(dbshift.aio.adopt(config, app.root / "yoyo.ini"))
    assert report.tool == "yoyo" and report.recorded == ("0001_users", "0002_posts")
    ran = asyncio.run(dbshift.aio.upgrade(config))
    assert ran.done == ["0003_seed", "0004_index"]
    with project.engine().connect() as conn:
        assert conn.execute(sa.text("SELECT name FROM users")).scalar() == "ann"
    asyncio.run(dbshift.aio.downgrade(config, "0002_posts"))
    assert "tags" not in schema(project.url)

    app.write("0005_notes.sql", "-- depends: 0004_index\nCREATE TABLE notes (id INTEGER);\n")
    app.apply()  # yoyo applies everything, the new one too
    shutil.rmtree(app.steps)
    (app.root / "yoyo.ini").unlink()
    monkeypatch.chdir(project.root)
    failed = project.fails(4, "adopt")  # 0005_notes was never converted
    assert "names migration 0005_notes" in failed.err


def test_yoyos_migrations_folder_is_not_dbshifts(tmp_path: Path, capsys: object) -> None:
    """yoyo's folder is often `migrations/`, dbshift's default too: refused, with a hint."""
    root = tmp_path / "proj"
    project = Project(root, f"sqlite:///{tmp_path / 'x.sqlite'}", capsys)  # type: ignore[arg-type]
    (root / "migrations" / "0001_x.sql").write_text("CREATE TABLE x (id INT);")
    (root / "yoyo.ini").write_text("[DEFAULT]\nsources = migrations\n")
    failed = project.fails(2, "adopt", "--files-only")
    assert "is inside the yoyo folder" in failed.err and "--migrations" in failed.err
    assert sorted(p.name for p in (root / "migrations").iterdir()) == ["0001_x.sql"]


def test_a_source_that_is_neither_is_refused(tmp_path: Path, capsys: object) -> None:
    root = tmp_path / "proj"
    project = Project(root, f"sqlite:///{tmp_path / 'x.sqlite'}", capsys)  # type: ignore[arg-type]
    (root / "empty").mkdir()
    failed = project.fails(2, "adopt", "empty")
    assert "no Alembic or yoyo project at empty" in failed.err and "yoyo.ini" in failed.err
    failed = project.fails(2, "adopt", "--from", "yoyo", "empty")
    assert "no yoyo project at empty" in failed.err


@given(st.lists(st.sets(st.integers(0, 7), max_size=3), min_size=1, max_size=8))
def test_the_order_is_yoyos_topological_sort_on_any_graph(depends: list[set[int]]) -> None:
    """yoyo's own sort (yoyo.topologicalsort) and ours agree on every small graph in
    file order, cycles included (both refuse)."""
    from yoyo.topologicalsort import CycleError, topological_sort

    n = len(depends)
    ids = [f"m{i}" for i in range(n)]
    graph = {ids[i]: {ids[d] for d in deps if d < n} for i, deps in enumerate(depends)}
    steps = [
        converter.Step(Path(f"{i}.sql"), i, tuple(sorted(graph[i])), True, "", "") for i in ids
    ]
    try:
        theirs: list[str] | None = list(topological_sort(ids, graph))
    except CycleError:
        theirs = None
    try:
        ours: list[str] | None = [s.id for s in converter.order(steps)]
    except converter.AdoptError:
        ours = None
    assert ours == theirs


@pytest.mark.slow
@pytest.mark.backends("sqlite")
def test_a_deploy_with_the_converted_files_alone_takes_over_from_their_headers(
    app: YoyoApp, project: Project
) -> None:
    app.build()
    app.apply()
    (app.root / "yoyo.ini").rename(app.root / "prod.ini")
    assert project.ok("--json", "adopt", "--from", "yoyo", "prod.ini", "--files-only").json[
        "written"
    ]
    shutil.rmtree(app.steps)
    (app.root / "prod.ini").unlink()
    adopted = project.ok("--json", "adopt").json
    assert adopted["tool"] == "yoyo" and adopted["source"] is None
    assert adopted["database"]["recorded"] == ALL
    assert project.ok("--json", "status").json["pending"] == []
