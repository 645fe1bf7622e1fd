"""Schema reads through every supported driver: `make` after raw DDL, `make --dev-url`,
`check` and `diff(against="database")` see through asyncpg and aiosqlite exactly what
they see through the default drivers."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

import dbshift
from tests.conftest import ScratchDatabases, with_driver
from tests.helpers import Project

RAW = (
    "CREATE TABLE item (id INTEGER PRIMARY KEY, code VARCHAR(20) NOT NULL,"
    " parent_id INTEGER, CONSTRAINT uq_item_code UNIQUE (code),"
    " CONSTRAINT fk_item_parent FOREIGN KEY (parent_id) REFERENCES item (id)"
    " ON DELETE CASCADE ON UPDATE SET NULL, CONSTRAINT ck_item_id CHECK (id > 0));"
)

MODELS = """
import sqlalchemy as sa

metadata = sa.MetaData()
sa.Table(
    "item",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("code", sa.String(20), nullable=False),
    sa.Column("parent_id", sa.Integer),
    sa.Column("note", sa.String(50)),
    sa.UniqueConstraint("code", name="uq_item_code"),
    sa.ForeignKeyConstraint(
        ["parent_id"], ["item.id"], name="fk_item_parent", ondelete="CASCADE", onupdate="SET NULL"
    ),
    sa.CheckConstraint("id > 0", name="ck_item_id"),
)
"""


def _project(tmp_path: Path, url: str, capsys: pytest.CaptureFixture[str]) -> Project:
    """A project whose one migration is raw DDL (so `make` must read a database), and
    whose models add a column to it."""
    module = f"models_{uuid.uuid4().hex[:8]}"
    (tmp_path / f"{module}.py").write_text(MODELS)
    project = Project(tmp_path, url, capsys)
    with (tmp_path / "dbshift.toml").open("a") as toml:
        toml.write(f'models = ["{module}:metadata"]\n')
    project.sql("raw", RAW)
    return project


def _described(url: str, project: Project) -> list[str]:
    config = dbshift.Config.load(project.root / "dbshift.toml").replace(url=url)
    return [op.describe() for op in dbshift.diff(config, against="database")]


def test_make_check_and_diff_after_raw_ddl(
    backend: str,
    driver: str,
    db_url: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.syspath_prepend(str(tmp_path))
    url = with_driver(db_url, driver)
    project = _project(tmp_path, url, capsys)
    project.ok("upgrade")
    # the default driver is the oracle: the driver under test must see the same
    expected = _described(db_url, project)
    assert expected and any("note" in change for change in expected), expected
    assert _described(url, project) == expected
    assert project.fails(1, "check").code == 1
    made = project.ok("make", "-m", "note", "--no-input")
    assert "note" in made.out, made.out
    project.ok("upgrade")
    assert _described(url, project) == _described(db_url, project) == []
    assert project.ok("make", "--check").code == 0
    assert project.ok("check").code == 0


def test_make_with_a_dev_database(
    backend: str,
    driver: str,
    db_url: str,
    scratch: ScratchDatabases,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.syspath_prepend(str(tmp_path))
    project = _project(tmp_path, db_url, capsys)
    dev = with_driver(scratch.create(), driver)
    made = project.ok("make", "--dev-url", dev, "-m", "note", "--no-input")
    assert "note" in made.out and "dev database" in made.out, made.out
    written = sorted(project.migrations.glob("*_note.py"))
    assert len(written) == 1 and "op.add_column" in written[0].read_text()


def test_make_after_raw_ddl_refuses_a_database_not_at_head(
    db_url: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With a migration that runs raw DDL, the database is the only source of the
    current schema: one with pending migrations is refused, counting them."""
    monkeypatch.syspath_prepend(str(tmp_path))
    project = _project(tmp_path, db_url, capsys)
    line = project.fails(2, "make", "-m", "more").err.strip()
    assert "the database is not at head (1 pending)" in line, line
    project.ok("upgrade")
    project.ok("make", "-m", "more")
