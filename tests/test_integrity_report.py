"""`status` and `history` on a project with integrity problems: the whole report, every
problem marked on the migration it concerns (text and JSON), exit 4; the API returns
the problems on its result instead of raising; `upgrade` still refuses."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import dbshift
import dbshift.aio
from dbshift.history import StatementMark
from dbshift.integrity import resume_conflict
from tests.conftest import with_driver
from tests.helpers import Project

TABLE = 'op.create_table("{0}", sa.Column("id", sa.Integer, primary_key=True))'
STATUS_KEYS = {"url", "current", "heads", "pending", "applied", "partial", "problems"}


def _applied_pair(project: Project) -> tuple[str, str]:
    """Two applied migrations, base then top."""
    base = project.python("base", TABLE.format("t1"))
    top = project.python("top", TABLE.format("t2"))
    project.ok("upgrade")
    return base, top


def _edit(project: Project, migration_id: str) -> None:
    path = next(project.migrations.glob(f"{migration_id}.*"))
    path.write_text(path.read_text() + "# edited\n")


def _kinds(problems: list[dict[str, Any]]) -> list[tuple[str | None, str]]:
    return [(p["migration"], p["kind"]) for p in problems]


def _assert_one_error_line(err: str, fragment: str) -> None:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert fragment in lines[0] and "(hint: " in lines[0], err


def test_an_edited_applied_migration_is_marked_where_it_is(project: Project) -> None:
    base, top = _applied_pair(project)
    _edit(project, base)
    project.ok("rehash")  # dbshift.sum accepts the edit: the history still knows
    before = project.fingerprint()

    text = project.fails(4, "status")
    assert "applied:  2" in text.out and f"current:  {top}" in text.out
    assert f"INTEGRITY: {base}: {base}.py was edited after it was applied" in text.out
    _assert_one_error_line(text.err, f"{base}.py was edited after it was applied")

    document = project.fails(4, "status", "--json").json
    assert set(document) >= STATUS_KEYS and document["current"] == [top]
    assert _kinds(document["problems"]) == [(base, "edited")]
    marked = {row["id"]: _kinds(row["problems"]) for row in document["applied"]}
    assert marked == {base: [(base, "edited")], top: []}
    assert document["error"]["exit_code"] == 4 and document["error"]["type"] == "ChecksumMismatch"

    history = project.fails(4, "history")
    lines = history.out.splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith(f"applied {base}"))
    assert lines[at + 1].startswith(f"  INTEGRITY: {base}.py was edited after it was applied")
    assert lines[at + 2].startswith(f"applied {top} (head)")
    _assert_one_error_line(history.err, "was edited after it was applied")
    entries = project.fails(4, "history", "--json").json
    assert [_kinds(e["problems"]) for e in entries["migrations"]] == [[(base, "edited")], []]
    assert _kinds(entries["problems"]) == [(base, "edited")]

    assert "was edited after it was applied" in project.fails(4, "upgrade").err
    assert project.fingerprint() == before


def test_files_that_are_gone_and_ids_no_file_has(
    project: Project, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A deleted applied file, and a migration another branch applied to the same
    database: both are history rows without a file, marked with their ids."""
    base, top = _applied_pair(project)
    elsewhere = Project(tmp_path / "branch", project.url, capsys)
    for path in sorted(project.migrations.glob("*.py")):
        (elsewhere.migrations / path.name).write_text(path.read_text())
    other = elsewhere.python("other", TABLE.format("t3"))
    elsewhere.ok("upgrade")
    next(project.migrations.glob(f"{top}.py")).unlink()
    project.ok("rehash")

    text = project.fails(4, "status")
    assert f"INTEGRITY: {top}: applied migration {top} has no file" in text.out
    assert f"INTEGRITY: {other}: applied migration {other} has no file" in text.out
    assert "(and 1 more: every one is marked in the report)" in text.err
    document = project.fails(4, "status", "--json").json
    assert sorted(_kinds(document["problems"])) == sorted([(top, "no-file"), (other, "no-file")])
    assert document["current"] == [base] and document["pending"] == []

    history = project.fails(4, "--json", "history").json
    assert [e["id"] for e in history["migrations"]] == [base]
    assert {p["migration"] for p in history["problems"]} == {top, other}
    out = project.fails(4, "history").out
    assert f"INTEGRITY: {other}: applied migration {other} has no file" in out


def test_dbshift_sum_problems_are_reported_too(project: Project) -> None:
    """An older migration edited: `dbshift.sum` and the history both say so, on it; a
    tampered sum file concerns the folder (no migration)."""
    base, _top = _applied_pair(project)
    pending = project.python("later", TABLE.format("t3"))
    _edit(project, base)
    before = project.fingerprint()
    document = project.fails(4, "status", "--json").json
    assert _kinds(document["problems"]) == [(base, "sum"), (base, "edited")]
    assert document["pending"] == [pending] and document["heads"] == [pending]
    assert document["error"]["message"].startswith(f"{base}.py changed since dbshift.sum")
    history = project.fails(4, "history", "--json").json
    first = history["migrations"][0]
    assert first["id"] == base and _kinds(first["problems"]) == [(base, "sum"), (base, "edited")]
    assert "changed since dbshift.sum recorded it" in project.fails(4, "upgrade").err
    assert project.fingerprint() == before  # status records nothing while problems stand

    project.ok("rehash")
    project.ok("repair")
    sums = project.migrations / "dbshift.sum"
    sums.write_text(sums.read_text().replace(" ", " x", 1))
    text = project.fails(4, "status")
    assert "INTEGRITY: migrations/dbshift.sum was edited by hand" in text.out
    assert _kinds(project.fails(4, "status", "--json").json["problems"]) == [(None, "sum")]
    assert "migrations/dbshift.sum was edited by hand" in project.fails(4, "history").out


def test_a_partial_migration_whose_file_is_gone(project: Project, backend: str) -> None:
    project.python("base", TABLE.format("t1"))
    header = "-- transactional: false" if backend != "mysql" else ""
    statements = "CREATE TABLE a (id INTEGER);\nINSERT INTO nowhere VALUES (1);"
    half = project.sql("half", statements, header=header)
    path = project.migrations / f"{half}.sql"
    project.fails(3, "upgrade")

    history = project.ok("history", "--json").json  # partial is no integrity problem
    assert [(e["id"], e["partial"], e["applied"]) for e in history["migrations"]][-1] == (
        half,
        True,
        False,
    )
    assert project.ok("history").out.splitlines()[-1].startswith(f"partial {half} (head)")

    path.unlink()
    project.ok("rehash")
    document = project.fails(4, "status", "--json").json
    (partial,) = document["partial"]
    assert partial["id"] == half and _kinds(partial["problems"]) == [(half, "no-file")]
    assert "stopped part-way," in partial["problems"][0]["message"]
    text = project.fails(4, "status")
    assert f"PARTIAL: {half}" in text.out and f"INTEGRITY: {half}: migration stopped" in text.out
    assert f"--rolled-back {half}" in text.err
    assert _kinds(project.fails(4, "history", "--json").json["problems"]) == [(half, "no-file")]


def test_status_json_has_every_key_before_anything_exists(project: Project) -> None:
    """No migration and no history table; then a migration, still no history table."""
    empty = project.ok("status", "--json").json
    assert set(empty) >= STATUS_KEYS and empty["applied"] == [] and empty["current"] == []
    assert project.ok("history", "--json").json == {"migrations": [], "problems": []}
    first = project.python("base", TABLE.format("t1"))
    (project.migrations / "dbshift.sum").unlink()
    document = project.fails(4, "status", "--json").json
    assert set(document) >= STATUS_KEYS and document["pending"] == [first]
    assert document["heads"] == [first] and document["applied"] == [] == document["current"]
    assert _kinds(document["problems"]) == [(None, "sum")]
    assert "dbshift_history" not in project.tables()


def test_the_api_returns_problems(project: Project, driver: str) -> None:
    base, top = _applied_pair(project)
    _edit(project, top)
    project.ok("rehash")
    config = dbshift.Config(url=with_driver(project.url, driver), migrations=project.migrations)

    def check(status: dbshift.Status, history: dbshift.HistoryReport) -> None:
        assert not status.ok and [p.kind for p in status.problems] == ["edited"]
        assert status.problems_of(top) == status.problems and status.problems_of(base) == ()
        error = status.refusal()
        assert isinstance(error, dbshift.ChecksumMismatch) and error.migration == top
        assert [e.id for e in history] == [base, top] and len(history) == 2
        assert history[1].problems == history.problems == status.problems
        assert isinstance(history.problems[0], dbshift.Problem)

    check(dbshift.status(config), dbshift.history(config))

    async def from_the_event_loop() -> None:
        check(await dbshift.aio.status(config), await dbshift.aio.history(config))

    asyncio.run(from_the_event_loop())
    with pytest.raises(dbshift.ChecksumMismatch, match="was edited after it was applied"):
        dbshift.upgrade(config)
    project.ok("repair")
    assert dbshift.status(config).ok and dbshift.history(config).ok


def test_a_partial_migration_upgrade_cannot_resume(project: Project) -> None:
    """Status says, without importing anything, what `upgrade` would refuse: a partial
    migration whose file no longer starts with the statements that ran. An edit after
    those statements (the fix of the one that failed) is no problem."""
    project.python("base", TABLE.format("t1"))
    header = "-- transactional: false"
    ran, bad, left = "CREATE TABLE a (id INTEGER);", "INSERT INTO nowhere VALUES (1);", "SELECT 1;"
    half = project.sql("half", f"{ran}\n{bad}\n{left}", header=header)
    path = project.migrations / f"{half}.sql"
    original = path.read_text()
    project.fails(3, "upgrade")
    assert project.ok("status", "--json").json["problems"] == []

    path.write_text(original.replace(bad, "CREATE TABLE b (id INTEGER);"))  # the fix
    assert project.ok("status", "--json").json["problems"] == []

    path.write_text(original.replace(ran, "CREATE TABLE a2 (id INTEGER);"))
    document = project.fails(4, "status", "--json").json
    (partial,) = document["partial"]
    assert _kinds(partial["problems"]) == [(half, "partial")] == _kinds(document["problems"])
    message = partial["problems"][0]["message"]
    assert "statement 1 differs from the one that ran: it ran `CREATE TABLE a (id" in message
    assert message in project.fails(4, "upgrade").err  # the very refusal upgrade makes
    assert _kinds(project.fails(4, "history", "--json").json["migrations"][-1]["problems"]) == [
        (half, "partial")
    ]


_MARKS = st.lists(st.sampled_from(["SELECT 1", "SELECT 2", "CREATE TABLE a (id INT)"]), max_size=5)


@given(ran=_MARKS, now=_MARKS)
def test_a_partial_migration_resumes_exactly_when_it_still_starts_with_what_ran(
    ran: list[str], now: list[str]
) -> None:
    """`resume_conflict`, which status and upgrade share: no conflict exactly when the
    file's statements begin with those that ran (whitespace aside); else it names the
    first statement that differs, or says the file is shorter."""
    done = [StatementMark.of(sql) for sql in ran]
    current = [StatementMark.of("  " + sql.replace(" ", "\n  ")) for sql in now]
    conflict = resume_conflict(done, current)
    assert (conflict is None) == (now[: len(ran)] == ran)
    first = next((i for i, (a, b) in enumerate(zip(ran, now, strict=False)) if a != b), None)
    if first is not None:
        assert conflict is not None and conflict.startswith(f"statement {first + 1} differs")
    elif conflict is not None:
        assert f"the file now has {len(now)} statement(s)" in conflict
