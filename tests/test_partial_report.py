"""A run that fails part-way says what it did before the error.

Migrations 1 and 2 of 5 are applied and committed when 3 fails: the user must learn
that they stay applied, from the text output, the JSON error document and the error the
Python API raises (`error.report`)."""

from __future__ import annotations

import asyncio
import io
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import dbshift
import dbshift.aio
from dbshift import api
from dbshift.cli.report import Reporter
from dbshift.errors import Interrupted, LockTimeout, MigrationError
from tests.conftest import with_driver
from tests.helpers import Project
from tests.test_runtime import _hold_lock

BROKEN = "SELECT * FROM no_such_table"


@pytest.fixture
def project(tmp_path: Path, db_url: str, capsys: pytest.CaptureFixture[str]) -> Project:
    return Project(tmp_path, db_url, capsys)


def _five_with_the_third_broken(project: Project) -> list[str]:
    """Five SQL migrations, each creating a table; the third fails on upgrade."""
    ids = []
    for n in range(1, 6):
        up = BROKEN if n == 3 else f"CREATE TABLE t{n} (id INTEGER PRIMARY KEY)"
        ids.append(project.sql(f"m{n}", up, f"DROP TABLE t{n}"))
    return ids


def _three_applied_the_second_failing_to_revert(project: Project) -> list[str]:
    """Three applied migrations; reverting the second fails."""
    ids = [
        project.sql(f"m{n}", f"CREATE TABLE t{n} (id INTEGER PRIMARY KEY)", down)
        for n, down in ((1, "DROP TABLE t1"), (2, BROKEN), (3, "DROP TABLE t3"))
    ]
    project.ok("upgrade")
    return ids


def test_upgrade_text_names_what_was_applied_before_the_failure(project: Project) -> None:
    ids = _five_with_the_third_broken(project)
    failed = project.fails(3, "upgrade")
    lines = failed.out.splitlines()
    assert lines[:2] == [line for line in lines if line.startswith("applied ")]
    assert [line.split()[1] for line in lines[:2]] == ids[:2]
    assert lines[2:] == [f"stopped part-way: 2 of 5 migration(s) applied: {ids[0]}, {ids[1]}"]
    [error] = failed.err.splitlines()
    assert error.startswith("error: ") and ids[2] in error
    assert project.applied() == ids[:2]


def test_upgrade_json_error_names_what_was_applied(project: Project) -> None:
    ids = _five_with_the_third_broken(project)
    document = project.fails(3, "upgrade", "--json").json
    assert document["error"]["type"] == "MigrationError"
    assert document["error"]["exit_code"] == 3
    assert ids[2] in document["error"]["message"]
    assert set(document["error"]) == {"message", "hint", "exit_code", "type"}
    assert document["command"] == "upgrade"
    assert document["applied"] == ids[:2]
    assert [(r["id"], r["status"]) for r in document["results"]] == [
        (ids[0], "applied"),
        (ids[1], "applied"),
    ]


def test_downgrade_names_what_was_reverted_before_the_failure(project: Project) -> None:
    ids = _three_applied_the_second_failing_to_revert(project)
    failed = project.fails(3, "downgrade", "base")
    assert failed.out.splitlines()[0].startswith(f"reverted {ids[2]} in ")
    assert (
        failed.out.splitlines()[-1] == f"stopped part-way: 1 of 3 migration(s) reverted: {ids[2]}"
    )
    assert len(failed.err.splitlines()) == 1
    assert project.applied() == ids[:2]

    document = project.fails(3, "downgrade", "base", "--json").json
    assert document["command"] == "downgrade"
    assert document["reverted"] == []  # nothing more was reverted on the second try
    assert document["error"]["type"] == "MigrationError"


def test_a_failure_of_the_first_migration_is_the_error_line_alone(project: Project) -> None:
    broken = project.sql("broken", BROKEN)
    project.sql("after", "CREATE TABLE t2 (id INTEGER PRIMARY KEY)")
    failed = project.fails(3, "upgrade")
    assert failed.out == "" and len(failed.err.splitlines()) == 1
    assert broken in failed.err
    assert project.fails(3, "upgrade", "--json").json["applied"] == []


def test_quiet_prints_the_error_only(project: Project) -> None:
    _five_with_the_third_broken(project)
    failed = project.fails(3, "-q", "upgrade")
    assert failed.out == "" and len(failed.err.splitlines()) == 1


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.backends("sqlite")
def test_a_terminal_shows_the_same_lines_under_its_progress_bar(project: Project) -> None:
    ids = _five_with_the_third_broken(project)
    config = dbshift.Config(url=project.url, migrations=project.migrations)
    terminal = _Terminal()
    reporter = Reporter(out=terminal)
    with pytest.raises(MigrationError), reporter.progress() as listener:
        api.upgrade(config, listener=listener)
    shown = terminal.getvalue()
    assert f"applied {ids[0]} in " in shown and f"applied {ids[1]} in " in shown
    assert shown.rstrip().endswith(
        f"stopped part-way: 2 of 5 migration(s) applied: {ids[0]}, {ids[1]}"
    )


def test_the_api_error_carries_the_partial_report(project: Project) -> None:
    ids = _five_with_the_third_broken(project)
    config = dbshift.Config(url=project.url, migrations=project.migrations)
    with pytest.raises(MigrationError) as raised:
        dbshift.upgrade(config)
    report = raised.value.report
    assert report is not None
    assert report.command == "upgrade" and report.done == ids[:2]
    assert [s.id for s in report.plan.steps] == ids
    assert raised.value.migration == ids[2]


def test_the_api_error_carries_what_a_downgrade_reverted(project: Project) -> None:
    ids = _three_applied_the_second_failing_to_revert(project)
    config = dbshift.Config(url=project.url, migrations=project.migrations)
    with pytest.raises(MigrationError) as raised:
        dbshift.downgrade(config, "base")
    assert raised.value.report is not None
    assert raised.value.report.command == "downgrade"
    assert raised.value.report.done == [ids[2]]


def test_the_aio_error_carries_the_partial_report(
    project: Project, driver: str, backend: str
) -> None:
    ids = _five_with_the_third_broken(project)
    config = dbshift.Config(url=with_driver(project.url, driver), migrations=project.migrations)
    with pytest.raises(MigrationError) as raised:
        asyncio.run(dbshift.aio.upgrade(config))
    assert raised.value.report is not None and raised.value.report.done == ids[:2]
    assert project.applied() == ids[:2]


def test_an_error_before_the_run_carries_no_report(project: Project) -> None:
    config = dbshift.Config(url=project.url, migrations=project.migrations)
    project.sql("m1", "CREATE TABLE t1 (id INTEGER PRIMARY KEY)")
    with pytest.raises(dbshift.DbshiftError) as raised:
        dbshift.upgrade(config, "no_such_target")
    assert raised.value.report is None


@pytest.mark.backends("sqlite", "postgresql")
def test_single_transaction_says_nothing_stays_applied(project: Project) -> None:
    ids = _five_with_the_third_broken(project)
    failed = project.fails(3, "upgrade", "--single-transaction")
    assert failed.out.splitlines()[-1] == (
        "stopped: nothing applied, the whole run rolled back (--single-transaction)"
    )
    assert project.applied() == []
    assert project.fails(3, "upgrade", "--single-transaction", "--json").json["applied"] == []

    config = dbshift.Config(url=project.url, migrations=project.migrations)
    with pytest.raises(MigrationError) as raised:
        dbshift.upgrade(config, single_transaction=True)
    assert raised.value.report is not None and raised.value.report.done == []
    assert ids[2] in raised.value.message


def _applied_then_interrupted(project: Project) -> list[str]:
    """Three migrations; the second's code raises KeyboardInterrupt as it runs."""
    table = 'op.create_table("t{}", sa.Column("id", sa.Integer, primary_key=True))'
    stop = "def stop(conn):\n    raise KeyboardInterrupt\n\nop.run(stop)"
    return [
        project.python("m1", table.format(1)),
        project.python("stop", stop),
        project.python("m3", table.format(3)),
    ]


def test_an_interrupted_run_names_what_was_applied(project: Project) -> None:
    ids = _applied_then_interrupted(project)
    failed = project.fails(130, "upgrade")
    assert failed.out.splitlines()[-1] == (
        f"stopped part-way: 1 of 3 migration(s) applied: {ids[0]}"
    )
    assert ids[1] in failed.err and len(failed.err.splitlines()) == 1

    config = dbshift.Config(url=project.url, migrations=project.migrations)
    with pytest.raises(Interrupted) as raised:
        dbshift.upgrade(config)
    assert raised.value.report is not None and raised.value.report.done == []


def test_an_interrupted_run_json_names_what_was_applied(project: Project) -> None:
    ids = _applied_then_interrupted(project)
    document = project.fails(130, "upgrade", "--json").json
    assert document["applied"] == [ids[0]] and document["error"]["exit_code"] == 130


def test_a_lock_timeout_carries_the_report_of_a_run_that_did_nothing(
    project: Project, backend: str
) -> None:
    """The lock wait is part of the run: its LockTimeout says nothing was applied."""
    ids = _five_with_the_third_broken(project)
    config = dbshift.Config(url=project.url, migrations=project.migrations, runner_lock_timeout=0.5)
    engine, holder = _hold_lock(backend, project.url)
    try:
        with pytest.raises(LockTimeout) as raised:
            dbshift.upgrade(config)
        document = project.fails(5, "--runner-lock-timeout", "0.5", "upgrade", "--json").json
    finally:
        holder.close()
        engine.dispose()
    assert raised.value.report is not None and raised.value.report.done == []
    assert [s.id for s in raised.value.report.plan.steps] == ids
    assert document["applied"] == [] and document["error"]["type"] == "LockTimeout"


@st.composite
def _runs(draw: st.DrawFn) -> tuple[int, int | None, str]:
    """How many migrations, which one fails (None: none), and the direction."""
    count = draw(st.integers(1, 6))
    failing = draw(st.one_of(st.none(), st.integers(1, count)))
    return count, failing, draw(st.sampled_from(["upgrade", "downgrade"]))


@pytest.mark.backends("sqlite")
@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(run=_runs())
def test_what_a_run_reports_is_what_the_history_holds(
    run: tuple[int, int | None, str], capsys: pytest.CaptureFixture[str]
) -> None:
    """Whichever migration fails, in either direction: the error's report, the text and
    the JSON name exactly the migrations the history shows done by this run."""
    count, failing, command = run
    with tempfile.TemporaryDirectory() as root:
        project = Project(Path(root), f"sqlite:///{root}/db.sqlite", capsys)
        ids = []
        for n in range(1, count + 1):
            up = f"CREATE TABLE t{n} (id INTEGER PRIMARY KEY)"
            down = f"DROP TABLE t{n}"
            if n == failing:
                up, down = (BROKEN, down) if command == "upgrade" else (up, BROKEN)
            ids.append(project.sql(f"m{n}", up, down))
        if command == "downgrade":
            project.ok("upgrade")
        args = ("upgrade",) if command == "upgrade" else ("downgrade", "base")
        order = ids if command == "upgrade" else ids[::-1]
        expected = order if failing is None else order[: order.index(ids[failing - 1])]
        before = project.applied()

        shown = project.cli(*args)
        changed = set(before) ^ set(project.applied())
        assert sorted(changed) == sorted(expected)
        verb = "applied" if command == "upgrade" else "reverted"
        lines = [
            line.split()[1] for line in shown.out.splitlines() if line.startswith(f"{verb} 2026")
        ]
        assert lines == expected
        if failing is not None and expected:
            assert shown.out.splitlines()[-1].endswith(", ".join(expected))
        if failing is None:
            return
        assert shown.code == 3 and len(shown.err.splitlines()) == 1
        assert project.cli(*args, "--json").json[verb] == []  # the second try: nothing more

        config = dbshift.Config(url=project.url, migrations=project.migrations)
        with pytest.raises(MigrationError) as raised:
            (dbshift.upgrade if command == "upgrade" else dbshift.downgrade)(config, *args[1:])
        assert raised.value.report is not None and raised.value.report.done == []
