"""Hints that send the user the right way (issue 11, item 11): an empty down section is
not a missing one, a schema made by hand asks for `stamp`, a migration that moves the
session's search path does not lose the history, and a file on another git branch is
checked out rather than repaired away."""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.conftest import SERVER_URLS, with_driver
from tests.helpers import Project, Result

USERS = "CREATE TABLE users (id INTEGER PRIMARY KEY, name VARCHAR(40));"


def _hint(result: Result) -> str:
    message = result.err.strip()
    assert len(message.splitlines()) == 1 and "(hint: " in message, message
    return message.split("(hint: ", 1)[1]


# -- a) an empty `-- dbshift:down` section -------------------------------------------------


def test_downgrade_of_an_empty_down_section_says_it_is_empty(project: Project) -> None:
    """`new --sql` writes an empty down section: downgrading it says the section is
    there and empty, not missing, and names the file; nothing changes."""
    path = Path(project.ok("new", "-m", "users", "--sql").out.split()[-1])
    path.write_text(path.read_text().replace("-- dbshift:up\n", f"-- dbshift:up\n{USERS}\n"))
    project.record_sums()
    project.ok("upgrade")
    before = project.fingerprint()
    result = project.fails(3, "downgrade", "base")
    assert f"error: the `-- dbshift:down` section of {path.name} is empty" in result.err
    hint = _hint(result)
    assert hint.startswith("write the statements that undo the up section under it")
    assert f"`dbshift repair --rolled-back {path.stem}`" in hint
    assert "has no" not in result.err
    assert project.fingerprint() == before


def test_a_down_section_of_comments_only_is_empty_too(project: Project) -> None:
    project.sql("users", USERS, down="-- TODO: drop the table\n\n")
    project.ok("upgrade")
    result = project.fails(3, "downgrade", "base")
    assert "section of 20260101T000001_users.sql is empty" in result.err


def test_a_missing_down_section_is_still_called_missing(project: Project) -> None:
    migration = project.sql("users", USERS)
    project.ok("upgrade")
    result = project.fails(3, "downgrade", "base")
    assert f"error: {migration}.sql has no `-- dbshift:down` section" in result.err
    assert _hint(result).startswith("add `-- dbshift:down` after the up section")


@pytest.mark.backends("sqlite")
def test_offline_down_script_tells_the_two_apart(project: Project) -> None:
    project.sql("users", USERS, down="")
    assert "section of 20260101T000001_users.sql is empty" in project.fails(3, "sql", "--down").err


@pytest.mark.backends("sqlite")
def test_show_and_lint_know_an_empty_down_section_reverts_nothing(project: Project) -> None:
    """`show` used to call it "derived from upgrade" and the linter counted it as a
    downgrade (DS604 stayed silent), though `downgrade` refuses it."""
    empty = project.sql("users", USERS, down="")
    show = project.ok("show", empty).out
    assert "downgrade: none (no statement under `-- dbshift:down`" in show
    assert "derived" not in show
    findings = project.cli("lint", "--all", "--json", "--dialect", "sqlite").json["findings"]
    assert [f["code"] for f in findings if f["migration"] == empty] == ["DS604"]
    written = project.sql("more", "CREATE TABLE t (id INTEGER);", down="DROP TABLE t;")
    findings = project.cli("lint", "--all", "--json", "--dialect", "sqlite").json["findings"]
    assert not [f for f in findings if f["migration"] == written]


# -- b) a schema that was there before dbshift ---------------------------------------------


def _create_by_hand(url: str, sql: str) -> None:
    engine = sa.create_engine(url, poolclass=sa.NullPool)
    with engine.begin() as conn:
        conn.exec_driver_sql(sql)
    engine.dispose()


def test_a_baseline_over_an_existing_schema_points_at_stamp(
    tmp_path: Path, db_url: str, driver: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """The database was made by another tool: the first migration's CREATE TABLE
    fails with "already exists", and the hint names `dbshift stamp ID` (which then
    works), not "fix it and run again". On every backend and driver, through each
    backend's classification of the error."""
    _create_by_hand(db_url, USERS)
    project = Project(tmp_path / "proj", db_url, capsys)
    url = ("--url", with_driver(db_url, driver))
    baseline = project.sql("baseline", USERS + "\nCREATE INDEX ix_users_name ON users (name);")
    later = project.python("more", 'op.add_column("users", sa.Column("age", sa.Integer))')
    result = project.fails(3, *url, "upgrade")
    assert f"{baseline}.sql:5: upgrade failed at `CREATE TABLE users" in result.err
    hint = _hint(result)
    assert "seems to have this schema already" in hint, hint
    assert f"`dbshift stamp {baseline}`" in hint and "fix it" not in hint
    assert project.applied() == [] and project.columns("users") == ["id", "name"]
    project.ok(*url, "stamp", baseline)
    project.ok(*url, "upgrade")
    assert project.applied() == [baseline, later]


def test_a_python_baseline_too(project: Project) -> None:
    _create_by_hand(project.url, USERS)
    baseline = project.python(
        "baseline", 'op.create_table("users", sa.Column("id", sa.Integer, primary_key=True))'
    )
    assert f"`dbshift stamp {baseline}`" in _hint(project.fails(3, "upgrade"))


def test_already_exists_later_in_a_history_is_a_mistake_to_fix(project: Project) -> None:
    """Past the first migration of a database dbshift migrated, "already exists" is a
    migration that repeats another: no stamp hint. Nor for a later statement."""
    project.sql("users", USERS)
    project.ok("upgrade")
    again = project.sql("again", USERS)
    hint = _hint(project.fails(3, "upgrade"))
    assert "stamp" not in hint and "fix" in hint, hint
    (project.migrations / f"{again}.sql").unlink()
    project.sql("second", "CREATE TABLE other (id INTEGER);\n" + USERS)
    hint = _hint(project.fails(3, "upgrade"))
    assert "stamp" not in hint, hint


def test_already_exists_after_the_first_statement_is_a_mistake_to_fix(project: Project) -> None:
    """A first migration whose first statement ran: the schema was not there before."""
    _create_by_hand(project.url, USERS)
    project.python(
        "baseline",
        'op.create_table("fresh", sa.Column("id", sa.Integer, primary_key=True))\n'
        'op.create_table("users", sa.Column("id", sa.Integer, primary_key=True))',
    )
    hint = _hint(project.fails(3, "upgrade"))
    assert "stamp" not in hint and "fix" in hint, hint


@pytest.mark.backends("sqlite", "postgresql")
def test_already_exists_in_the_second_statement_of_one_operation(project: Project) -> None:
    """One `op.create_table` sends CREATE TABLE, then CREATE INDEX: the index name is
    taken (index names are per schema here), but the table was new."""
    _create_by_hand(project.url, "CREATE TABLE other (name VARCHAR(10))")
    _create_by_hand(project.url, "CREATE INDEX ix_fresh_name ON other (name)")
    project.python(
        "baseline",
        'op.create_table("fresh", sa.Column("id", sa.Integer, primary_key=True), '
        'sa.Column("name", sa.String(10), index=True))',
    )
    result = project.fails(3, "upgrade")
    assert "CREATE INDEX ix_fresh_name" in result.err
    assert "stamp" not in _hint(result)


def test_a_root_migration_over_existing_tables_points_at_stamp(project: Project) -> None:
    """A second root (another history joined to this one) whose tables exist."""
    project.sql("users", "CREATE TABLE t (id INTEGER);")
    project.ok("upgrade")
    _create_by_hand(project.url, USERS)
    root = project.sql("billing", USERS, parents=[])
    assert f"`dbshift stamp {root}`" in _hint(project.fails(3, "upgrade", "heads"))


# -- c) a migration that moves the session's search path -----------------------------------


def _history(project: Project, where: str) -> list[tuple[str, str]]:
    return [
        (str(i), str(s)) for i, s in project.query(f"SELECT id, state FROM {where} ORDER BY id")
    ]


@pytest.mark.backends("postgresql")
def test_clearing_the_search_path_does_not_lose_the_history(project: Project, driver: str) -> None:
    url = ("--url", with_driver(project.url, driver))
    first = project.sql("a", "CREATE TABLE a (id INTEGER PRIMARY KEY);")
    cleared = project.sql("clear", "SET search_path = '';")
    after = project.sql("b", "CREATE TABLE public.b (id INTEGER PRIMARY KEY);")
    slow = project.sql(
        "ix", "CREATE INDEX CONCURRENTLY ix_b ON public.b (id);", header="-- transactional: false"
    )
    project.ok(*url, "upgrade")
    ids = [first, cleared, after, slow]
    assert _history(project, "public.dbshift_history") == [(i, "applied") for i in ids]
    events = project.query("SELECT migration_id FROM public.dbshift_log WHERE event = 'upgrade'")
    assert sorted(e for (e,) in events) == ids
    assert project.ok("status", "--check", "--json").json["pending"] == []


@pytest.mark.backends("postgresql")
def test_a_search_path_moved_to_another_schema(project: Project) -> None:
    """Unqualified names in later migrations follow the session's search path (it is
    the migration's to set); dbshift's own tables stay where they were created."""
    moved = project.sql(
        "other", "CREATE SCHEMA other;\nSET search_path = other;\nCREATE TABLE c (id INTEGER);"
    )
    later = project.sql("d", "CREATE TABLE d (id INTEGER);")
    slow = project.sql(
        "ix", "CREATE INDEX CONCURRENTLY ix_d ON d (id);", header="-- transactional: false"
    )
    project.ok("upgrade")
    assert _history(project, "public.dbshift_history") == [
        (moved, "applied"),
        (later, "applied"),
        (slow, "applied"),
    ]
    located = project.query(
        "SELECT table_schema, table_name FROM information_schema.tables "
        "WHERE table_schema IN ('public', 'other') ORDER BY 1, 2"
    )
    assert located == [
        ("other", "c"),
        ("other", "d"),
        ("public", "dbshift_history"),
        ("public", "dbshift_lock"),
        ("public", "dbshift_log"),
    ]


@pytest.mark.backends("postgresql")
def test_the_history_is_found_where_the_search_path_finds_it(project: Project) -> None:
    """The schema is resolved as an unqualified name would be: the history created in
    `public` before `app` existed is still the one used when the search path now
    starts with `app` (a fresh CREATE TABLE would go to `app`)."""
    first = project.sql("a", "CREATE TABLE a (id INTEGER);")
    project.ok("upgrade")
    database = sa.make_url(project.url).database
    _create_by_hand(project.url, "CREATE SCHEMA app")
    _create_by_hand(project.url, f"ALTER DATABASE {database} SET search_path = app, public")
    second = project.sql("b", "CREATE TABLE b (id INTEGER);")
    project.ok("upgrade")
    assert _history(project, "public.dbshift_history") == [(first, "applied"), (second, "applied")]
    assert project.query("SELECT count(*) FROM pg_tables WHERE schemaname = 'app'") == [(1,)]


@pytest.fixture
def other_database(backend: str) -> Iterator[str]:
    """A second database on the MariaDB server, for a migration to `USE`."""
    name = f"dbshift_o_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(SERVER_URLS["mysql"], poolclass=sa.NullPool)
    yield name
    with admin.begin() as conn:
        conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name}")
    admin.dispose()


@pytest.mark.backends("mysql")
def test_use_of_another_database_does_not_lose_the_history(
    project: Project, other_database: str
) -> None:
    moved = project.sql(
        "use",
        f"CREATE DATABASE {other_database};\nUSE {other_database};\nCREATE TABLE c (id INT);",
    )
    later = project.sql("d", "CREATE TABLE d (id INT);")
    project.ok("upgrade")
    assert _history(project, "dbshift_history") == [(moved, "applied"), (later, "applied")]
    database = sa.make_url(project.url).database
    located = project.query(
        "SELECT table_schema, table_name FROM information_schema.tables "
        f"WHERE table_schema IN ('{database}', '{other_database}') ORDER BY 1 = '{database}', 2"
    )
    assert located == [
        (other_database, "c"),
        (other_database, "d"),
        (database, "dbshift_history"),
        (database, "dbshift_lock"),
        (database, "dbshift_log"),
    ]
    assert project.ok("status", "--check", "--json").json["pending"] == []


# -- d) an applied migration whose file is on another git branch ----------------------------


def _git(root: Path, *args: str) -> None:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.com",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.com",
    }
    subprocess.run(["git", *args], cwd=root, env=env, check=True, capture_output=True)


def _on_a_branch(project: Project) -> str:
    """A migration applied from branch `feature`, then `main` checked out without it."""
    project.sql("base", "CREATE TABLE t (id INTEGER);")
    (project.root / ".gitignore").write_text("__pycache__/\n")
    _git(project.root, "init", "-q", "-b", "main")
    _git(project.root, "add", "-A")
    _git(project.root, "commit", "-qm", "base")
    _git(project.root, "checkout", "-qb", "feature")
    feature = project.sql("feature", "CREATE TABLE f (id INTEGER);")
    _git(project.root, "add", "-A")
    _git(project.root, "commit", "-qm", "feature")
    project.ok("upgrade")
    _git(project.root, "checkout", "-q", "main")
    assert not (project.migrations / f"{feature}.sql").exists()
    return feature


def test_a_file_on_another_branch_is_checked_out_not_repaired(project: Project) -> None:
    feature = _on_a_branch(project)
    before = project.fingerprint()
    result = project.fails(4, "upgrade")
    assert (
        f"applied migration {feature} has no file in the migrations folder; "
        f"{feature}.sql exists on branch feature" in result.err
    )
    hint = _hint(result)
    assert hint.startswith("check out feature (or merge it) before running"), hint
    assert "repair" not in hint
    assert project.fingerprint() == before
    status = project.fails(4, "status").out
    assert f"INTEGRITY: {feature}: applied migration {feature} has no file" in status
    assert "exists on branch feature" in status
    _git(project.root, "checkout", "-q", "feature")
    project.ok("upgrade")


def test_a_file_deleted_from_the_work_tree_is_restored_from_the_commit(
    project: Project,
) -> None:
    feature = _on_a_branch(project)
    _git(project.root, "checkout", "-q", "feature")
    (project.migrations / f"{feature}.sql").unlink()
    project.ok("rehash")  # else dbshift.sum says the file is gone first
    result = project.fails(4, "upgrade")
    assert "is in the current commit but deleted from the work tree" in result.err
    assert "git checkout HEAD -- " in _hint(result)


def test_a_file_gone_from_every_branch_suggests_repair(project: Project) -> None:
    feature = _on_a_branch(project)
    _git(project.root, "branch", "-qD", "feature")
    result = project.fails(4, "upgrade")
    assert "exists on branch" not in result.err
    hint = _hint(result)
    assert hint.startswith("restore the file from version control"), hint
    assert f"`dbshift repair --rolled-back {feature}`" in hint
    project.ok("repair", "--rolled-back", feature)
    project.ok("upgrade")


@pytest.mark.backends("sqlite")
def test_outside_git_a_missing_file_suggests_repair(project: Project) -> None:
    gone = project.sql("gone", "CREATE TABLE g (id INTEGER);")
    project.ok("upgrade")
    (project.migrations / f"{gone}.sql").unlink()
    hint = _hint(project.fails(4, "upgrade"))
    assert f"`dbshift repair --rolled-back {gone}`" in hint and "branch" not in hint


def test_refs_holding_names_branches_then_remote_branches_then_tags(tmp_path: Path) -> None:
    from dbshift import git

    root = tmp_path / "repo"
    (root / "migrations").mkdir(parents=True)
    (root / "migrations" / "a.sql").write_text("-- a\n")
    (root / "migrations" / "keep.sql").write_text("-- keep\n")
    _git(root, "init", "-q", "-b", "main")
    _git(root, "add", "-A")
    _git(root, "commit", "-qm", "a")
    _git(root, "tag", "v1")
    _git(root, "update-ref", "refs/remotes/origin/main", "HEAD")
    _git(root, "symbolic-ref", "refs/remotes/origin/HEAD", "refs/remotes/origin/main")
    _git(root, "checkout", "-qb", "work")
    _git(root, "rm", "-q", "migrations/a.sql")
    _git(root, "commit", "-qm", "no a")
    found = git.refs_holding(root / "migrations", ["a.sql", "b.sql"])
    assert found is not None
    assert [str(ref) for ref in found["a.sql"]] == [
        "branch main",
        "remote branch origin/main",
        "tag v1",
    ]
    assert found["b.sql"] == []
    outside = tmp_path / "plain"
    outside.mkdir()
    assert git.refs_holding(outside, ["a.sql"]) is None
