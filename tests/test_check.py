"""`dbshift check`: the one CI command. Every check passes on a healthy project, and
each kind of trouble fails exactly its own check, with exit 1 and one JSON report."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from dbshift.api import CheckItem, CheckReport
from dbshift.cli.report import Reporter
from tests.helpers import Project

USERS = 'op.create_table("users", sa.Column("id", sa.BigInteger, primary_key=True))'
MODELS = (
    "import sqlalchemy as sa\n"
    "metadata = sa.MetaData()\n"
    "sa.Table('users', metadata, sa.Column('id', sa.BigInteger, primary_key=True){extra})\n"
)


@pytest.fixture
def project(
    tmp_path: Path, db_url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> Project:
    project = Project(tmp_path / "proj", db_url, capsys)
    _models(project, "")
    toml = project.root / "dbshift.toml"
    toml.write_text(toml.read_text() + 'models = ["models:metadata"]\n')
    monkeypatch.syspath_prepend(str(project.root))
    project.python("users", USERS)
    project.ok("upgrade")
    return project


def _models(project: Project, extra: str) -> None:
    """Rewrite the models; the CLI runs in this process, so forget the imported module."""
    (project.root / "models.py").write_text(MODELS.format(extra=extra))
    sys.modules.pop("models", None)


def _statuses(project: Project, *args: str, code: int = 1) -> dict[str, str]:
    result = project.cli("check", "--json", *args)
    assert result.code == code, result.err + result.out
    report = result.json
    assert report["ok"] is (code == 0)
    return {item["name"]: item["status"] for item in report["checks"]}


def test_a_healthy_project_passes(project: Project) -> None:
    assert _statuses(project, "--database", code=0) == {
        "integrity": "ok",
        "heads": "ok",
        "models": "ok",
        "pending": "ok",
        "drift": "ok",
        "lint": "ok",
    }
    out = project.ok("check").out
    assert "skipped pending: no database checked (--database)" in out
    assert out.rstrip().endswith("check passed")


def test_each_trouble_fails_its_own_check(project: Project) -> None:
    _models(project, ", sa.Column('name', sa.String(20))")
    assert _statuses(project)["models"] == "failed"
    _models(project, "")

    project.python("pending", 'op.execute("SELECT 1")')
    assert _statuses(project, "--database")["pending"] == "failed"
    assert _statuses(project, code=0)["pending"] == "skipped"
    project.ok("upgrade")

    # NOT NULL without a default on an existing table is an error finding.
    project.python("age", 'op.add_column("users", sa.Column("age", sa.Integer, nullable=False))')
    found = project.cli("check", "--json")
    assert found.code == 1
    lint = next(item for item in found.json["checks"] if item["name"] == "lint")
    assert lint["status"] == "failed" and any("DS203" in p for p in lint["problems"])
    assert found.json["lint"]["findings"]
    github = project.cli("check", "--format", "github")
    assert github.code == 1 and "::error file=" in github.out and "DS203" in github.out


def test_integrity_and_heads_fail_without_exit_4(project: Project) -> None:
    base = project.applied()[0]
    project.python("left", 'op.execute("SELECT 1")', parents=[base])
    project.python("right", 'op.execute("SELECT 2")', parents=[base])
    statuses = _statuses(project)
    assert statuses["heads"] == "failed" and statuses["integrity"] == "ok"
    sums = project.migrations / "dbshift.sum"
    sums.write_text(sums.read_text().replace(" ", " x", 1))
    statuses = _statuses(project)
    assert statuses["integrity"] == "failed" and statuses["models"] == "failed"


def _git(cwd: Path, *args: str) -> str:
    who = ["-c", "user.email=t@example.com", "-c", "user.name=t"]
    done = subprocess.run(["git", *who, *args], cwd=cwd, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture
def shallow(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[Project, str]:
    """A CI checkout: a branch adding a migration that drops a table, cloned from a real
    repository with `git clone --depth 1`, as actions/checkout does by default."""
    url = f"sqlite:///{tmp_path / 'ci.sqlite'}"
    upstream = Project(tmp_path / "upstream", url, capsys)
    _git(upstream.root, "init", "-q", "-b", "main")
    upstream.python("users", USERS)
    _git(upstream.root, "add", "-A")
    _git(upstream.root, "commit", "-q", "-m", "users")
    _git(upstream.root, "checkout", "-q", "-b", "feature")
    added = upstream.python("drop", 'op.drop_table("users")', "pass")
    _git(upstream.root, "add", "-A")
    _git(upstream.root, "commit", "-q", "-m", "drop users")
    clone = tmp_path / "clone"
    source = f"file://{upstream.root}"
    _git(tmp_path, "clone", "-q", "--depth", "1", "--branch", "feature", source, str(clone))
    assert _git(clone, "rev-parse", "--is-shallow-repository").strip() == "true"
    return Project(clone, url, capsys), added


def _one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "(hint: " in lines[0], err
    return lines[0]


@pytest.mark.backends("sqlite")
def test_since_a_ref_a_shallow_clone_lacks(shallow: tuple[Project, str]) -> None:
    clone, added = shallow
    fetch = "git fetch --depth=1 origin main:refs/remotes/origin/main"
    for args in (["check", "--format", "github"], ["check"], ["lint"]):
        line = _one_line(clone.fails(2, *args, "--since", "origin/main").err)
        assert "--since origin/main: git has no such commit here: this clone is shallow" in line
        assert fetch in line and "fetch-depth: 0" in line
    error = clone.fails(2, "check", "--since", "origin/main", "--json").json["error"]
    assert error["exit_code"] == 2 and fetch in error["hint"]
    deepen = _one_line(clone.fails(2, "check", "--since", "HEAD~1").err)
    assert "git fetch --deepen=100" in deepen and "shallow" in deepen

    _git(clone.root, *fetch.split()[1:])  # what the hint says
    found = clone.fails(1, "check", "--since", "origin/main", "--format", "github").out
    assert "::error file=" in found and f"{added}.py" in found and "DS101" in found
    report = clone.fails(1, "check", "--since", "origin/main", "--json").json
    assert report["lint"]["migrations"] == [added]


@pytest.mark.backends("sqlite")
def test_since_outside_git_and_a_ref_nobody_has(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = Project(tmp_path / "proj", f"sqlite:///{tmp_path / 'x.sqlite'}", capsys)
    project.python("users", USERS)
    line = _one_line(project.fails(2, "check", "--since", "main").err)
    assert "not a git repository" in line and "run it in a git work tree" in line
    _git(project.root, "init", "-q")
    _git(project.root, "add", "-A")
    _git(project.root, "commit", "-q", "-m", "users")
    line = _one_line(project.fails(2, "check", "--since", "origin/nope").err)
    assert "no branch, tag or commit of this repository has that name" in line
    assert "not a git ref" in _one_line(project.fails(2, "check", "--since", "--cached").err)


def test_github_format_shows_a_lint_check_that_could_not_run(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Every failed check has its annotation, the lint check included when it failed
    before finding anything: it used to be dropped (exit 1 and no output at all)."""
    cannot = CheckItem("lint", "failed", "git diff: fatal: bad object", ("check the ref",))
    report = CheckReport((CheckItem("heads", "ok", "1 head(s)"), cannot), lint=None)
    Reporter().checked(report, "github")
    assert capsys.readouterr().out == (
        "::error title=dbshift check: lint::git diff: fatal: bad object%0Acheck the ref\n"
    )


class _Reads:
    """What one command does: connections opened (the pools' `connect` event), reads of
    the history table (statements, as the server sees them) and scans of a folder."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, folder: Path) -> None:
        self.connections = self.history_reads = self.scans = 0
        self.folder = os.path.realpath(folder)
        sa.event.listen(sa.pool.Pool, "connect", self._connected)
        sa.event.listen(sa.engine.Engine, "before_cursor_execute", self._executed)
        scandir = os.scandir

        def counted(path: Any = ".") -> Any:
            if os.path.realpath(os.fspath(path)) == self.folder:
                self.scans += 1
            return scandir(path)

        monkeypatch.setattr(os, "scandir", counted)

    def _connected(self, *_args: Any) -> None:
        self.connections += 1

    def _executed(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if re.search(r"\bFROM\s+[`\"]?dbshift_history\b", statement, re.IGNORECASE):
            self.history_reads += 1

    def close(self) -> None:
        sa.event.remove(sa.pool.Pool, "connect", self._connected)
        sa.event.remove(sa.engine.Engine, "before_cursor_execute", self._executed)


@pytest.fixture
def reads(project: Project, monkeypatch: pytest.MonkeyPatch) -> Iterator[_Reads]:
    counting = _Reads(monkeypatch, project.migrations)
    yield counting
    counting.close()


def test_check_database_connects_once_and_reads_everything_once(
    project: Project, reads: _Reads
) -> None:
    """At head, every item of `check --database` (integrity, models, pending, lint) is
    answered from one connection, one read of the history and one scan of the folder."""
    assert _statuses(project, "--database", code=0) == {
        "integrity": "ok",
        "heads": "ok",
        "models": "ok",
        "pending": "ok",
        "drift": "ok",
        "lint": "ok",
    }
    assert (reads.connections, reads.history_reads, reads.scans) == (1, 1, 1)

    project.python("pending", 'op.add_column("users", sa.Column("age", sa.Integer))')
    reads.connections = reads.history_reads = reads.scans = 0
    found = project.cli("check", "--json", "--database")
    assert found.code == 1, found.err + found.out
    pending = next(item for item in found.json["checks"] if item["name"] == "pending")
    assert pending["status"] == "failed" and len(pending["problems"]) == 1
    assert "pending on" in found.json["lint"]["selection"]
    assert found.json["lint"]["migrations"] == pending["problems"]
    assert (reads.connections, reads.history_reads, reads.scans) == (1, 1, 1)


def test_check_database_does_not_connect_when_the_files_cannot_be_read(
    project: Project, reads: _Reads
) -> None:
    """A header dbshift cannot read fails every item that needs the files, before any
    connection, as when each item read them on its own."""
    project.python("broken", "pass")
    broken = next(project.migrations.glob("*broken.py"))
    broken.write_text(broken.read_text().replace("parents =", "parents_ ="))
    statuses = _statuses(project, "--database")
    assert statuses == {
        "integrity": "failed",
        "heads": "failed",
        "models": "failed",
        "pending": "failed",
        "drift": "failed",
        "lint": "failed",
    }
    assert reads.connections == 0 and reads.history_reads == 0
