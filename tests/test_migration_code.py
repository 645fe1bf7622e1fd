"""Migration code that misbehaves: it exits the process, raises a BaseException, or
prints. Whatever it does is that migration's failure or output, never the run's end."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import uuid

import pytest

from tests.helpers import Project

QUITS = """\
def quit_now(conn):
    import sys

    sys.exit(0)


op.create_table("t1", sa.Column("id", sa.Integer, primary_key=True))
op.run(quit_now)
op.create_table("t2", sa.Column("id", sa.Integer, primary_key=True))
"""


@pytest.mark.parametrize("transactional", [True, False])
def test_sys_exit_in_op_run_is_the_migrations_failure(
    project: Project, transactional: bool
) -> None:
    header = "" if transactional else "transactional = False\n"
    migration = project.python("quits", QUITS, header=header)
    result = project.fails(3, "upgrade")
    message = result.err.strip()
    assert len(message.splitlines()) == 1, message
    assert message.startswith(f"error: {migration}.py:") and "called sys.exit(0)" in message
    status = project.ok("status", "--json").json
    assert status["applied"] == []
    partial = status["partial"]
    # MariaDB commits DDL implicitly: there every migration runs statement by statement
    assert bool(partial) == (not transactional or project.url.startswith("mysql"))
    if not partial:  # the migration ran in one transaction (SQLite, PostgreSQL)
        assert "the migration was rolled back" in message
        assert "t1" not in project.tables()
    else:  # statement by statement (MariaDB, or transactional = False)
        assert "the 1 statement(s) before it stay committed and recorded" in message
        (row,) = partial
        assert row["id"] == migration and row["statements_done"] == 1
        assert row["failed"]["statement"] == "-- python: quit_now()"
        assert "t1" in project.tables() and "t2" not in project.tables()
    # Fixed, it runs (and, where it stopped part-way, resumes after the table it made).
    path = project.migrations / f"{migration}.py"
    path.write_text(path.read_text().replace("sys.exit(0)", "pass"))
    project.record_sums()
    project.ok("upgrade")
    assert project.applied() == [migration]
    assert {"t1", "t2"} <= project.tables()


def test_the_run_goes_on_to_report_after_sys_exit_at_import(project: Project) -> None:
    """sys.exit(0) at import once made `upgrade` exit 0 with nothing applied."""
    project.python("fine", 'op.create_table("a", sa.Column("id", sa.Integer, primary_key=True))')
    project.python("quits", "pass", header="import sys\nsys.exit(0)\n")
    result = project.fails(3, "upgrade", "--json")
    assert "called sys.exit(0)" in json.loads(result.out)["error"]["message"]
    assert project.applied() == [] and "a" not in project.tables()


PRINTS = """\
print("in upgrade")


def talk(conn):
    print("in op.run")


op.create_table("p", sa.Column("id", sa.Integer, primary_key=True))
op.run(talk)
"""


def _printing_project(project: Project) -> str:
    """A migration that prints at import, in upgrade(op) and in op.run, and models for
    `make` that add a table to what it creates."""
    migration = project.python("talks", PRINTS, header='print("at import")\n')
    module = f"talk_models_{uuid.uuid4().hex[:8]}"
    (project.root / f"{module}.py").write_text(
        "import sqlalchemy as sa\n\ndb = sa.MetaData()\n"
        'sa.Table("p", db, sa.Column("id", sa.Integer, primary_key=True))\n'
        'sa.Table("q", db, sa.Column("id", sa.Integer, primary_key=True))\n'
    )
    with (project.root / "dbshift.toml").open("a") as toml:
        toml.write(f'models = ["{module}:db"]\n')
    return migration


@pytest.mark.parametrize("where", ["before", "after"])
def test_migration_output_goes_to_stderr_with_json(project: Project, where: str) -> None:
    """With --json, stdout is the JSON document alone; what migration code prints is on
    stderr, whether it prints at import, in upgrade(op) or in an op.run function."""
    migration = _printing_project(project)

    def run(*args: str) -> tuple[dict[str, object], str]:
        flags = ["--json", *args] if where == "before" else [*args, "--json"]
        result = project.ok(*flags)
        return json.loads(result.out), result.err

    document, err = run("upgrade")
    assert [r["id"] for r in document["results"]] == [migration]  # type: ignore[index]
    assert err.splitlines() == ["at import", "in upgrade", "in op.run"]
    document, err = run("make", "-m", "add q", "--no-input")
    assert "q" in json.dumps(document)
    assert "at import" in err and "in upgrade" in err
    document, _ = run("status")
    assert [r["id"] for r in document["applied"]] == [migration]  # type: ignore[index]
    document, err = run("show", migration)
    assert "at import" in err


SLOW = """\
def wait(conn):
    import pathlib
    import time

    pathlib.Path("started").write_text("")
    time.sleep(60)


op.create_table("s1", sa.Column("id", sa.Integer, primary_key=True))
op.run(wait)
op.create_table("s2", sa.Column("id", sa.Integer, primary_key=True))
"""


@pytest.mark.slow
@pytest.mark.parametrize("transactional", [True, False])
@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_names_the_migration_and_its_state(
    project: Project, signum: int, code: int, transactional: bool
) -> None:
    """A real `dbshift upgrade` stopped by SIGINT or SIGTERM in a slow migration: the
    documented exit code, one line naming the migration and the state it left, and a
    re-run (the sleep edited out) that finishes."""
    header = "" if transactional else "transactional = False\n"
    migration = project.python("slow", SLOW, header=header)
    marker = project.root / "started"
    process = subprocess.Popen(
        [sys.executable, "-m", "dbshift", "upgrade"],
        cwd=project.root,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while not marker.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    process.send_signal(signum)
    _, err = process.communicate(timeout=60)
    assert process.returncode == code, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    name = signal.Signals(signum).name
    assert lines[0].startswith(f"error: {migration}.py interrupted by {name}: "), err
    # statement by statement: MariaDB, and transactional = False
    partial = not transactional or project.url.startswith("mysql")
    if partial:
        assert "partial with 1 statement(s) committed and recorded" in lines[0], err
        assert project.ok("status", "--json").json["partial"][0]["statements_done"] == 1
    else:
        assert "rolled back (nothing ran)" in lines[0], err
        assert "s1" not in project.tables()
    assert project.applied() == []
    path = project.migrations / f"{migration}.py"
    path.write_text(path.read_text().replace("time.sleep(60)", "pass"))
    project.record_sums()
    project.ok("upgrade")
    assert project.applied() == [migration] and {"s1", "s2"} <= project.tables()


@pytest.mark.parametrize("where", ["import", "upgrade", "op.run"])
def test_api_callers_see_a_keyboard_interrupt_naming_the_migration(
    project: Project, where: str
) -> None:
    """An application calling the API gets the KeyboardInterrupt it expects from a Ctrl-C
    (so its own shutdown handling runs), carrying the migration and the state it left."""
    import dbshift
    from dbshift.config import Config
    from dbshift.errors import Interrupted

    body = {
        "import": 'raise KeyboardInterrupt\nop.create_table("t", sa.Column("id", sa.Integer))',
        "upgrade": 'op.create_table("t", sa.Column("id", sa.Integer))\nraise KeyboardInterrupt',
        "op.run": "def stop(conn):\n    raise KeyboardInterrupt\n\n\nop.run(stop)",
    }[where]
    migration = project.python("stops", body)
    with pytest.raises(KeyboardInterrupt) as raised:
        dbshift.upgrade(Config.load(project.root / "dbshift.toml"))
    assert isinstance(raised.value, Interrupted)
    assert raised.value.signal_name == "SIGINT" and raised.value.exit_code == 130
    assert migration in raised.value.message
    assert project.ok("status", "--json").json["applied"] == []


@pytest.mark.backends("sqlite")
def test_migrations_are_run_from_source_without_bytecode_files(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each file is compiled and run as a module with its own `__file__`, tracebacks
    and source lines; no `.pyc` is looked for or written beside the migrations (even
    where Python would write bytecode)."""
    monkeypatch.setattr(sys, "dont_write_bytecode", False)
    monkeypatch.setattr(sys, "pycache_prefix", None)
    project.python(
        "first",
        "import inspect, pathlib\n"
        "assert inspect.getsource(upgrade).startswith('def upgrade(op):')\n"
        "assert Row(1).n == 1\n"
        "name = pathlib.Path(__file__).stem.rpartition('_')[2]\n"
        'op.create_table(name, sa.Column("id", sa.Integer, primary_key=True))',
        header="import dataclasses\n\n\n@dataclasses.dataclass\nclass Row:\n    n: int\n",
    )
    project.ok("upgrade")
    assert "first" in project.tables()
    failing = project.python("second", "raise ValueError('no')")
    failed = project.fails(3, "upgrade")
    assert f"{failing}.py:9: ValueError: no" in failed.err
    cache = project.migrations / "__pycache__"
    assert not list(cache.glob("*.pyc")) and not list(project.migrations.glob("*.pyc"))
