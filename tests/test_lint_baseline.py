"""The lint baseline: findings of migrations merged before the linter ran are accepted
once, `lint` and `check` then fail on new findings only, and an edited migration is
linted afresh."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

import dbshift
from dbshift.linter import Finding
from dbshift.linter.baseline import FILENAME, Baseline, parse
from tests.helpers import Project

BASE = """
op.create_table("users", sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
                sa.Column("name", sa.Text))
"""


@pytest.fixture
def offline(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Project:
    return Project(tmp_path, "postgresql+psycopg://postgres@127.0.0.1:1/none", capsys)


@pytest.fixture
def project(tmp_path: Path, db_url: str, capsys: pytest.CaptureFixture[str]) -> Project:
    return Project(tmp_path, db_url, capsys)


def _legacy(project: Project) -> str:
    """A history from before the linter: a base, then a drop (DS102, an error)."""
    project.python("base", BASE, "pass")
    return project.python("drop_name", 'op.drop_column("users", "name")', "pass")


def test_write_then_only_new_findings_fail(offline: Project) -> None:
    legacy = _legacy(offline)
    offline.fails(1, "lint", "--all")
    written = offline.ok("lint", "--baseline", "write").out  # all migrations, no database
    baseline = offline.migrations / FILENAME
    assert f"wrote {baseline}" in written and "2 migration(s)" in written
    assert any(line.startswith(f"{legacy} DS102 1 ") for line in baseline.read_text().splitlines())
    out = offline.ok("lint", "--all").out
    assert "accepted by the baseline" in out
    report = offline.cli("lint", "--all", "--json").json
    assert "DS102" not in {f["code"] for f in report["findings"]} and report["baselined"] >= 1
    # --baseline ignore reports everything
    offline.fails(1, "lint", "--all", "--baseline", "ignore")
    # a new migration's findings still fail
    new = offline.python("drop_users", 'op.drop_table("users")', "pass")
    report = offline.fails(1, "lint", "--all", "--json").json
    assert {f["migration"] for f in report["findings"] if f["severity"] == "error"} == {new}


def test_an_edited_migration_is_linted_afresh(offline: Project) -> None:
    legacy = _legacy(offline)
    offline.ok("lint", "--baseline", "write")
    path = offline.migrations / f"{legacy}.py"
    path.write_text(path.read_text().replace('"name")', '"name")  # edited'))
    offline.ok("rehash")
    report = offline.fails(1, "lint", "--all", "--json").json
    assert "DS102" in {f["code"] for f in report["findings"]}


def test_rewriting_keeps_other_migrations_and_drops_removed_ones(offline: Project) -> None:
    legacy = _legacy(offline)
    offline.ok("lint", "--baseline", "write")
    new = offline.python("drop_users", 'op.drop_table("users")', "pass")
    offline.ok("lint", new, "--baseline", "write")  # one migration: the others are kept
    text = (offline.migrations / FILENAME).read_text()
    assert f"{legacy} DS102" in text and f"{new} DS101" in text
    offline.ok("lint", "--all")
    (offline.migrations / f"{new}.py").unlink()
    offline.ok("rehash")
    offline.ok("lint", "--baseline", "write")
    assert new not in (offline.migrations / FILENAME).read_text()


def test_a_broken_baseline_is_one_line_and_exit_2(offline: Project) -> None:
    _legacy(offline)
    offline.ok("lint", "--baseline", "write")
    baseline = offline.migrations / FILENAME
    before = baseline.read_text()
    baseline.write_text(before + "garbage here\n")
    sums = (offline.migrations / "dbshift.sum").read_text()
    result = offline.fails(2, "lint", "--all")
    assert f"{FILENAME}:" in result.err and "garbage" in result.err
    assert "--baseline write" in result.err and len(result.err.strip().splitlines()) == 1
    offline.fails(2, "lint", "--baseline", "write")  # refuses to build on it, writes nothing
    assert baseline.read_text() == before + "garbage here\n"
    assert (offline.migrations / "dbshift.sum").read_text() == sums


def test_check_and_the_api_read_the_baseline(
    offline: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    _legacy(offline)
    monkeypatch.chdir(offline.root)
    config = dbshift.Config.load(offline.root / "dbshift.toml")
    assert not dbshift.check(config).ok
    written = dbshift.api.write_lint_baseline(config)
    assert written.path.name == FILENAME and written.accepted >= 1
    assert dbshift.check(config).ok
    report = dbshift.lint(config, every=True)
    assert report.baselined == written.accepted and not report.fails("error")
    assert dbshift.lint(config, every=True, baseline=False).fails("error")
    check = offline.ok("check", "--json").json
    lint = next(item for item in check["checks"] if item["name"] == "lint")
    assert "accepted by the baseline" in lint["detail"]


def test_pending_migrations_on_each_backend_honour_the_baseline(project: Project) -> None:
    """The default selection (pending on the database) reads the baseline too."""
    _legacy(project)
    project.fails(1, "lint")
    project.ok("lint", "--baseline", "write")
    report = project.ok("lint", "--json").json
    assert len(report["migrations"]) == 2 and report["baselined"] >= 1
    project.ok("upgrade")
    project.python("drop_users", 'op.drop_table("users")', "pass")
    report = project.fails(1, "lint", "--json").json
    assert report["baselined"] == 0 and {f["code"] for f in report["findings"]} >= {"DS101"}


_CODES = st.sampled_from(["DS101", "DS102", "DS301"])
_IDS = st.sampled_from(["m1", "m2"])


def _finding(migration: str, code: str) -> Finding:
    return Finding(code, "error", "data-loss", migration, f"{migration}.py", 1, "x", "sqlite", "r")


@given(
    old=st.lists(st.tuples(_IDS, _CODES), max_size=8),
    new=st.lists(st.tuples(_IDS, _CODES), max_size=8),
)
def test_accepted_findings_are_counted_not_just_named(
    old: list[tuple[str, str]], new: list[tuple[str, str]]
) -> None:
    """Recorded from `old`, the baseline accepts `old` exactly; from `old + new` it lets
    through as many findings of each (migration, rule) as `new` adds; and it survives
    its own text."""
    checksums = {"m1": "a" * 64, "m2": "b" * 64}
    before = [_finding(*pair) for pair in old]
    after = before + [_finding(*pair) for pair in new]
    baseline = Baseline.of(before, checksums)
    assert parse(baseline.render(), Path("x")) == baseline
    assert baseline.split(before, checksums) == ([], len(before))
    left, accepted = baseline.split(after, checksums)
    assert accepted == len(before)
    assert sorted((f.migration, f.code) for f in left) == sorted(new)
