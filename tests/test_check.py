"""`dbshift check`: the one CI command. Every check passes on a healthy project, and
each kind of trouble fails exactly its own check, with exit 1 and one JSON report."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

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
