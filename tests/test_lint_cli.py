"""`dbshift lint` end to end: on real servers for the pending range and the server
version, and on files alone for the other ranges, formats and suppressions."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

import dbshift
import dbshift.api
from tests.helpers import Project


@pytest.fixture
def project(tmp_path: Path, db_url: str, capsys: pytest.CaptureFixture[str]) -> Project:
    return Project(tmp_path, db_url, capsys)


@pytest.fixture
def offline(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Project:
    """A project whose URL points at a server that is not there."""
    return Project(tmp_path, "postgresql+psycopg://postgres@127.0.0.1:1/none", capsys)


BASE = """
op.create_table(
    "users",
    sa.Column("id", sa.BigInteger, primary_key=True),
    sa.Column("name", sa.String(100)),
)
"""


def test_default_lints_only_pending_migrations_for_the_live_server(
    project: Project, backend: str
) -> None:
    project.python("base", BASE, "op.drop_table('users')")
    project.ok("upgrade")
    project.python("drop_name", 'op.drop_column("users", "name")', "pass")
    result = project.fails(1, "lint", "--format", "json")
    report = result.json
    assert report["migrations"] == [sorted(p.stem for p in project.migrations.glob("*.py"))[-1]]
    assert len(report["targets"]) == 1
    expected = {"sqlite": "sqlite", "postgresql": "postgresql", "mysql": "mariadb"}[backend]
    assert report["targets"][0].startswith(expected + " ")  # with the server's version
    finding = next(f for f in report["findings"] if f["code"] == "DS102")
    assert finding["severity"] == "error" and finding["category"] == "data-loss"
    assert finding["line"] == 9 and finding["file"].endswith("_drop_name.py")
    assert {"code", "severity", "category", "migration", "file", "line", "message"} <= set(finding)
    project.ok("upgrade")
    assert project.ok("lint").out.startswith("ok: 0 migration(s)")


@pytest.mark.backends("postgresql")
def test_live_server_version_drives_version_aware_rules(project: Project) -> None:
    project.python("base", BASE, "pass")
    project.python(
        "level",
        'op.add_column("users", sa.Column("level", sa.Integer, server_default="1"))',
        "pass",
    )
    live = project.cli("lint", "--format", "json").json  # PostgreSQL 15: constant default
    assert "DS308" not in {f["code"] for f in live["findings"]}
    old = project.cli("lint", "--all", "--server-version", "10", "--format", "json").json
    assert "DS308" in {f["code"] for f in old["findings"]}
    assert old["targets"] == ["postgresql 10"]


def test_no_database_says_so(offline: Project) -> None:
    offline.python("base", BASE)
    result = offline.fails(3, "lint")
    assert "cannot read the pending migrations" in result.err
    assert "--all" in result.err
    assert "DS601" not in offline.ok("lint", "--all", "--dialect", "postgresql").out


def test_no_url_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    project = Project(tmp_path, "", capsys)
    (tmp_path / "dbshift.toml").write_text("")
    project.python("base", BASE)
    result = project.fails(2, "lint")
    assert "no database URL configured" in result.err


def test_range_and_single_id(offline: Project) -> None:
    first = offline.python("base", BASE, "pass")
    second = offline.python("drop", 'op.drop_table("users")', "pass")
    third = offline.python("more", 'op.execute("SELECT 1")', "pass")
    report = offline.cli("lint", f"{first}:{second}", "--dialect", "sqlite", "--format", "json")
    assert report.json["migrations"] == [second]
    assert offline.cli("lint", third, "--dialect", "sqlite", "--json").json["migrations"] == [third]
    assert offline.cli("lint", f":{second}", "--dialect", "sqlite", "--json").json[
        "migrations"
    ] == [first, second]


def test_fail_on_threshold(offline: Project) -> None:
    offline.python(
        "base",
        'op.create_table("t", sa.Column("id", sa.Integer, primary_key=True))',
        "pass",
    )
    args = ("lint", "--all", "--dialect", "postgresql")
    assert "DS601" in offline.ok(*args).out  # a warning: below the default threshold
    offline.fails(1, *args, "--fail-on", "warning")
    (offline.root / "dbshift.toml").write_text('[lint]\nfail_on = "warning"\n')
    offline.fails(1, *args)


def test_github_annotations(offline: Project) -> None:
    offline.python("base", BASE, "pass")
    migration = offline.python("drop", 'op.drop_table("users")', "pass")
    out = offline.fails(1, "lint", "--all", "--dialect", "postgresql", "--format", "github").out
    line = next(x for x in out.splitlines() if "DS101" in x)
    assert line.startswith("::error file=")
    assert f"migrations/{migration}.py,line=9," in line
    assert line.endswith('::drop table "users": its rows are lost')


def test_sarif_is_a_valid_2_1_0_log(offline: Project) -> None:
    offline.python("base", BASE, "pass")
    offline.sql("drop", "DROP TABLE users;\nCREATE INDEX ix ON t (a);", "SELECT 1;")
    out = offline.fails(1, "lint", "--all", "--dialect", "postgresql", "--format", "sarif").out
    log = json.loads(out)
    assert log["version"] == "2.1.0" and "sarif-2.1.0" in log["$schema"]
    run = log["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    assert run["tool"]["driver"]["name"] == "dbshift"
    ids = [r["id"] for r in rules]
    for result in run["results"]:
        assert ids[result["ruleIndex"]] == result["ruleId"]
        assert result["level"] in ("error", "warning", "note")
        assert result["message"]["text"]
        region = result["locations"][0]["physicalLocation"]["region"]
        assert region["startLine"] >= 1
    assert {"DS101", "DS301"} <= {r["ruleId"] for r in run["results"]}


def test_since_git_ref(offline: Project) -> None:
    def git(*args: str) -> None:
        subprocess.run(["git", *args], cwd=offline.root, check=True, capture_output=True)

    git("init", "-q")
    git("-c", "user.email=t@t", "-c", "user.name=t", "commit", "-q", "--allow-empty", "-m", "0")
    offline.python("base", BASE, "pass")
    git("add", "-A")
    git("-c", "user.email=t@t", "-c", "user.name=t", "commit", "-q", "-m", "base")
    committed = offline.python("drop", 'op.drop_table("users")', "pass")
    git("add", "-A")
    git("-c", "user.email=t@t", "-c", "user.name=t", "commit", "-q", "-m", "drop")
    untracked = offline.sql("idx", "CREATE INDEX ix_users_name ON users (name);", "SELECT 1;")
    report = offline.cli("lint", "--since", "HEAD~1", "--dialect", "postgresql", "--json").json
    assert report["migrations"] == [committed, untracked]
    assert {f["code"] for f in report["findings"]} >= {"DS101", "DS301"}
    bad = offline.fails(2, "lint", "--since", "no-such-ref", "--dialect", "postgresql")
    assert "--since" in bad.err


def test_suppressions_and_unused_ones(offline: Project) -> None:
    offline.python("base", BASE, "pass")
    offline.python(
        "drops",
        'op.drop_column("users", "name")  # dbshift: ignore[DS102]\n'
        'op.rename_table(\n    "users",  # dbshift: ignore[DS201, DS202]\n    "people",\n)',
        "pass",
    )
    offline.sql(
        "sqlfile",
        "-- dbshift:ignore-file DS601\n"
        "CREATE TABLE t (id INTEGER PRIMARY KEY);\n"
        "-- dbshift:ignore DS301\nCREATE INDEX ix ON t (id);\n"
        "DROP TABLE people; -- dbshift:ignore DS101",
        "SELECT 1;",
    )
    report = offline.cli("lint", "--all", "--dialect", "postgresql", "--json").json
    codes = [(f["code"], f["message"]) for f in report["findings"]]
    assert not any(c in ("DS101", "DS102", "DS201", "DS601") for c, _ in codes)
    unused = [m for c, m in codes if c == "DS609"]
    assert len(unused) == 2  # DS202 and DS301 (the index is on a table made in the file)
    assert any("DS202" in m for m in unused) and any("DS301" in m for m in unused)


def test_configuration_disables_and_changes_severity(offline: Project) -> None:
    offline.python("base", BASE, "pass")
    offline.python("drop", 'op.drop_table("users")', "pass")
    toml = offline.root / "dbshift.toml"
    # DS312 (no lock_timeout) runs only when the runner does not set one itself.
    report = offline.cli("lint", "--all", "--dialect", "postgresql", "--json").json
    assert "DS312" not in {f["code"] for f in report["findings"]}
    toml.write_text(
        'table_lock_timeout = "off"\n[lint]\ndisable = ["DS101"]\nseverity = { DS312 = "error" }\n'
    )
    report = offline.cli("lint", "--all", "--dialect", "postgresql", "--json").json
    codes = {f["code"]: f["severity"] for f in report["findings"]}
    assert "DS101" not in codes and codes["DS312"] == "error"
    toml.write_text('[lint]\ndisable = ["DS999"]\n')
    assert "DS999" in offline.fails(2, "lint", "--all").err
    toml.write_text('[lint]\nseverity = { DS101 = "fatal" }\n')
    offline.fails(2, "lint", "--all")
    toml.write_text("[lint]\nfoo = 1\n")
    assert "unknown key 'foo'" in offline.fails(2, "lint", "--all").err


def test_unparsable_sql_is_reported(offline: Project) -> None:
    offline.sql("broken", "CREATE TABLE t (id BIGINT);\nCREATE TABLE (;", "SELECT 1;")
    result = offline.fails(1, "lint", "--all", "--dialect", "mysql")
    assert "DS606" in result.out and ":6:" in result.out


def test_rules_listing() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "dbshift", "lint", "--rules", "--json"],
        capture_output=True,
        text=True,
        check=True,
    )
    rules = json.loads(done.stdout)
    assert len(rules) >= 30
    assert {"code", "severity", "category", "backends", "message", "why", "instead"} <= set(
        rules[0]
    )


def test_status_and_upgrade_do_not_import_sqlglot(tmp_path: Path) -> None:
    (tmp_path / "dbshift.toml").write_text(f'url = "sqlite:///{tmp_path}/db.sqlite"\n')
    (tmp_path / "migrations").mkdir()
    code = (
        "import sys\nfrom dbshift.cli import main\n"
        "for args in (['upgrade'], ['status']):\n"
        "    try:\n        main(args)\n    except SystemExit:\n        pass\n"
        "assert 'sqlglot' not in sys.modules, 'sqlglot imported'\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr


def test_without_url_or_dialect_every_backend_is_checked_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = Project(tmp_path, "", capsys)
    (tmp_path / "dbshift.toml").write_text("")
    project.python("base", BASE, "pass")
    project.python("drop", 'op.drop_table("users")', "pass")
    report = project.fails(1, "lint", "--all", "--json").json
    assert report["targets"] == ["postgresql", "mysql", "sqlite"]
    drops = [f for f in report["findings"] if f["code"] == "DS101"]
    assert len(drops) == 1 and drops[0]["backend"] == "postgresql, mysql, sqlite"
    text = project.fails(1, "lint", "--all").out
    assert "[postgresql, mysql, sqlite]" in text


@pytest.mark.parametrize("as_sql", [False, True])
def test_make_lints_the_migration_it_wrote(tmp_path: Path, as_sql: bool) -> None:
    """`make` lints what it generated, on the schema it starts from: an index on an
    existing table is a locking finding on PostgreSQL, a new table's index is not."""
    metadata = sa.MetaData()
    users = sa.Table(
        "users", metadata, sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True)
    )
    config = dbshift.Config(
        url="postgresql+psycopg://nobody@nowhere/db", migrations=tmp_path, models=[metadata]
    )
    first = dbshift.api.make_report(config, "users")
    assert first.path is not None and first.findings == ()
    users.append_column(sa.Column("email", sa.String(200)))
    sa.Index("ix_users_email", users.c.email)
    # the plain form (PostgreSQL's default is the online one, see test_make_advice.py)
    second = dbshift.api.make_report(config, "email index", sql=as_sql, safe=False)
    assert second.path is not None
    codes = {f.code for f in second.findings}
    assert "DS301" in codes, second.findings  # CREATE INDEX without CONCURRENTLY
    (index,) = [f for f in second.findings if f.code == "DS301"]
    text = second.path.read_text().splitlines()
    assert "ix_users_email" in text[index.line - 1] or "index" in text[index.line - 1].lower()
    assert second.to_json()["lint"][0]["code"] in codes


def test_a_down_section_the_splitter_refuses_does_not_stop_the_lint(offline: Project) -> None:
    """Only the up section is linted; a down section holding what only psql understands
    (or an unterminated string) counts as a downgrade, and every migration is linted."""
    offline.sql("first", "CREATE TABLE t (id BIGINT PRIMARY KEY);", down="\\set x 1\nDROP TABLE t;")
    offline.sql("second", "DELETE FROM t;", down="SELECT 'unterminated")
    report = offline.fails(1, "lint", "--all", "--dialect", "postgresql", "--json").json
    codes = {f["code"] for f in report["findings"]}
    assert "DS106" in codes and "DS604" not in codes, codes
    assert len(report["migrations"]) == 2
