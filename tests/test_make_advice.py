"""`make` never leaves a red `dbshift check` without a next step: by default on
PostgreSQL it writes the online form of a change to an existing table (the form the
locking rules accept), and whatever `check` would still fail on is printed with the
exact command or comment that avoids or accepts it. Followed, `check` passes."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

import dbshift
from tests.helpers import Project

MODELS = (
    "import sqlalchemy as sa\n"
    "metadata = sa.MetaData()\n"
    "users = sa.Table('users', metadata,\n"
    "    sa.Column('id', sa.BigInteger, sa.Identity(), primary_key=True),\n"
    "    sa.Column('email', sa.Text),\n"
    "{extra})\n"
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
    project.ok("make", "-m", "users")
    project.ok("upgrade")
    return project


def _models(project: Project, extra: str) -> None:
    (project.root / "models.py").write_text(MODELS.format(extra=extra))
    sys.modules.pop("models", None)


def _check(project: Project) -> dict[str, str]:
    result = project.cli("check", "--json")
    return {item["name"]: item["status"] for item in result.json["checks"]}


def _new_files(project: Project, before: set[Path]) -> list[Path]:
    return sorted(set(project.migrations.glob("*.py")) - before)


def test_the_default_make_passes_its_own_check(project: Project, backend: str) -> None:
    """An index on a table that exists: on PostgreSQL the concurrent chain by default,
    elsewhere the plain index (and no note about --safe); `check` passes on each."""
    before = set(project.migrations.glob("*.py"))
    _models(project, "    sa.Index('ix_users_email', 'email'),\n")
    made = project.ok("make", "-m", "email index")
    assert "fails on" not in made.out and "--safe" not in made.err
    written = _new_files(project, before)
    if backend == "postgresql":
        assert [p.stem.split("_", 1)[1] for p in written] == ["email_index_concurrently"]
        assert "postgresql_concurrently=True" in written[0].read_text()
    else:
        assert len(written) == 1 and "concurrently" not in written[0].read_text()
    assert _check(project)["lint"] == "ok"
    project.ok("upgrade")
    assert project.ok("make", "--check").code == 0


@pytest.mark.backends("postgresql")
def test_no_safe_prints_the_command_that_avoids_the_lock(project: Project) -> None:
    before = set(project.migrations.glob("*.py"))
    _models(project, "    sa.Index('ix_users_email', 'email'),\n")
    made = project.ok("make", "--no-safe", "-m", "email index")
    [written] = _new_files(project, before)
    assert "error DS301" in made.out
    assert "`dbshift check` fails on 1 of these" in made.out
    command = "dbshift make --safe -m 'email index'"
    assert f"remove {written.name} and run `{command}`" in made.out
    assert _check(project)["lint"] == "failed"
    # the advice, followed
    written.unlink()
    project.ok("rehash")
    project.ok(*command.replace("'email index'", "email index").split(" ", 1)[1].split(" ", 3))
    assert _check(project)["lint"] == "ok"


@pytest.mark.backends("postgresql")
def test_sql_output_keeps_the_plain_form_and_says_what_to_run(project: Project) -> None:
    """`--sql` cannot write the chain (cleaning up a failed build needs a connection): by
    default it writes the plain SQL, and the advice names the Python command."""
    _models(project, "    sa.Index('ix_users_email', 'email'),\n")
    result = dbshift.api.make_report(
        dbshift.Config.load(project.root / "dbshift.toml"), "email index", sql=True
    )
    assert result.path is not None and result.path.suffix == ".sql"
    [advice] = result.advice
    assert advice.finding.code == "DS301"
    assert "dbshift make --safe -m 'email index'" in advice.hint and "Python" in advice.hint
    assert result.to_json()["fails_check"][0]["hint"] == advice.hint


def test_config_safe_false_is_plain_make(project: Project, backend: str) -> None:
    toml = project.root / "dbshift.toml"
    toml.write_text(toml.read_text() + "safe = false\n")
    _models(project, "    sa.Index('ix_users_email', 'email'),\n")
    config = dbshift.Config.load(toml)
    result = dbshift.api.make_report(config, "email index")
    assert len(result.paths) == 1
    codes = [a.finding.code for a in result.advice]
    assert codes == (["DS301"] if backend == "postgresql" else [])


def test_a_drop_is_advised_to_be_accepted_by_a_comment(project: Project) -> None:
    """Nothing rewrites a drop away: the advice is the suppression comment, on the line
    the finding names; with it, `check` passes."""
    (project.root / "models.py").write_text(
        "import sqlalchemy as sa\nmetadata = sa.MetaData()\n"
        "sa.Table('users', metadata, sa.Column('id', sa.BigInteger, sa.Identity(), "
        "primary_key=True))\n"
    )
    sys.modules.pop("models", None)
    made = project.ok("make", "-m", "drop email")
    assert "error DS102" in made.out
    [line] = [ln for ln in made.out.splitlines() if "DS102: " in ln]
    assert "`# dbshift: ignore[DS102]` to line" in line
    number = int(line.split("to line ")[1].split()[0])
    path = max(project.migrations.glob("*_drop_email.py"))
    lines = path.read_text().splitlines()
    lines[number - 1] += "  # dbshift: ignore[DS102]"
    path.write_text("\n".join(lines) + "\n")
    project.ok("rehash")
    assert _check(project)["lint"] == "ok"


def test_the_default_is_plain_make_on_a_new_table(tmp_path: Path) -> None:
    """A new table is empty: its index is written in the same migration on PostgreSQL
    too (no chain, no finding)."""
    metadata = sa.MetaData()
    sa.Table(
        "t",
        metadata,
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("n", sa.Text, index=True),
    )
    config = dbshift.Config(
        url="postgresql+psycopg://nobody@nowhere/db", migrations=tmp_path, models=[metadata]
    )
    result = dbshift.api.make_report(config, "t")
    assert len(result.paths) == 1 and result.advice == ()
    assert not result.notes
