"""Bad input: one line naming the culprit with a hint, the documented exit code, no
traceback unless --debug, and the database and files exactly as they were."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.helpers import Project, run_process

TABLE = 'op.create_table("t", sa.Column("id", sa.Integer, primary_key=True))'


@pytest.fixture
def project(tmp_path: Path, db_url: str, capsys: pytest.CaptureFixture[str]) -> Project:
    project = Project(tmp_path / "proj", db_url, capsys)
    project.python("base", TABLE)
    project.ok("upgrade")
    return project


def _write(name: str, text: str) -> Callable[[Project], None]:
    return lambda p: (p.migrations / name).write_text(text)


# (setup, command, exit code, text the one-line message must contain)
CASES: dict[str, tuple[Callable[[Project], None], list[str], int, str]] = {
    "header without parents": (
        _write("20270101T000000_x.py", '"""x"""\ndef upgrade(op):\n    pass\n'),
        ["upgrade"],
        4,
        "20270101T000000_x.py:1: no `parents",
    ),
    "unreadable parents": (
        _write("20270101T000000_x.py", '"""x"""\nparents = get()\n'),
        ["status"],
        4,
        "20270101T000000_x.py:2: cannot read parents",
    ),
    "missing parent": (
        _write("20270101T000000_x.py", '"""x"""\nparents = ["20200101T000000_gone"]\n'),
        ["upgrade"],
        4,
        "20200101T000000_gone",
    ),
    "cycle": (
        lambda p: (
            _write("20270101T000000_a.py", '"""a"""\nparents = ["20270101T000001_b"]\n')(p),
            _write("20270101T000001_b.py", '"""b"""\nparents = ["20270101T000000_a"]\n')(p),
        ),
        ["upgrade"],
        4,
        "cycle",
    ),
    "duplicate id": (
        _write("20260101T000001_base.sql", "-- dup\n-- parents:\n-- dbshift:up\nSELECT 1;\n"),
        ["heads"],
        4,
        "duplicate migration id 20260101T000001_base",
    ),
    "ambiguous prefix": (
        lambda p: p.python("other", 'op.execute("SELECT 1")'),
        ["upgrade", "2026"],
        2,
        "ambiguous",
    ),
    "unknown target": (lambda p: None, ["upgrade", "nonexistent"], 2, "nonexistent"),
    "downgrade needs a target": (lambda p: None, ["downgrade"], 2, "TARGET"),
    "several heads": (
        lambda p: (
            p.python("l", 'op.execute("SELECT 1")', parents=["20260101T000001_base"]),
            p.python("r", 'op.execute("SELECT 1")', parents=["20260101T000001_base"]),
        ),
        ["upgrade", "head"],
        2,
        "heads",
    ),
    "sql syntax error": (
        lambda p: p.sql("bad", "CREATE TABEL oops (id INTEGER);"),
        ["upgrade"],
        3,
        "CREATE TABEL oops",
    ),
    "python exception": (
        lambda p: p.python("boom", "raise ValueError('no good')"),
        ["upgrade"],
        3,
        "ValueError: no good",
    ),
    "missing import": (
        lambda p: p.python("imp", "import not_a_module_anywhere"),
        ["upgrade"],
        3,
        "not_a_module_anywhere",
    ),
    "python syntax error": (
        lambda p: p.python("syn", "op.create_table(("),
        ["upgrade"],
        3,
        "syntax error",
    ),
    "no upgrade function": (
        _write("20270101T000000_x.py", '"""x"""\nparents = ["20260101T000001_base"]\n'),
        ["upgrade"],
        3,
        "no `def upgrade(op)`",
    ),
    "unterminated sql string": (
        lambda p: p.sql("q", "INSERT INTO t VALUES ('oops);"),
        ["upgrade"],
        3,
        "unterminated",
    ),
    "edited applied migration": (
        lambda p: (p.migrations / "20260101T000001_base.py").write_text(
            (p.migrations / "20260101T000001_base.py").read_text() + "# x\n"
        ),
        ["upgrade"],
        4,
        "was edited after it was applied",
    ),
    "deleted applied migration": (
        lambda p: (p.migrations / "20260101T000001_base.py").unlink(),
        ["upgrade"],
        4,
        "has no file",
    ),
    "invalid toml": (
        lambda p: (p.root / "dbshift.toml").write_text("url = ["),
        ["status"],
        2,
        "invalid TOML",
    ),
    "unknown environment": (
        lambda p: None,
        ["--env", "nope", "status"],
        2,
        "unknown environment 'nope'",
    ),
    "missing migrations folder": (
        lambda p: None,
        ["--migrations", "nowhere", "status"],
        2,
        "migrations folder not found",
    ),
    "new without message": (lambda p: None, ["new"], 2, "--message"),
    "merge with one head": (lambda p: None, ["merge"], 2, "nothing to merge"),
    "malformed url": (lambda p: None, ["--url", "not a url", "status"], 2, "invalid database URL"),
    "missing driver": (
        lambda p: None,
        ["--url", "postgresql+pg8000://u:pw123@localhost/x", "status"],
        2,
        "driver",
    ),
    "unreachable server": (
        lambda p: None,
        ["--url", "postgresql+psycopg://u:hunter22@127.0.0.1:1/x", "status"],
        3,
        "u:***@127.0.0.1:1",
    ),
    "unknown command": (lambda p: None, ["upgrad"], 2, "upgrad"),
    "repair of an unrecorded migration": (
        lambda p: None,
        ["repair", "--rolled-back", "nothing_like_it"],
        2,
        "is not recorded",
    ),
    "single transaction with a non-transactional migration": (
        lambda p: p.python("ix", 'op.execute("SELECT 1")', header="transactional = False\n"),
        ["upgrade", "--single-transaction"],
        2,
        "--single-transaction",
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input(project: Project, case: str) -> None:
    setup, args, code, fragment = CASES[case]
    setup(project)
    before = project.fingerprint()
    result = project.fails(code, *args)
    message = result.err.strip()
    assert fragment in message, message
    assert "hunter22" not in result.err + result.out
    if not message.startswith("Error:") and not message.startswith(
        "Usage:"
    ):  # click's own usage errors
        assert len(message.splitlines()) == 1, message
        assert message.startswith("error: ") and "(hint: " in message, message
    assert project.fingerprint() == before


@pytest.mark.backends("sqlite")
def test_traceback_only_with_debug(project: Project) -> None:
    project.python("boom", "raise ValueError('no good')")
    quiet = run_process(["upgrade"], project.root)
    assert quiet.returncode == 3 and "Traceback" not in quiet.stderr
    loud = run_process(["--debug", "upgrade"], project.root)
    assert loud.returncode == 3 and "Traceback" in loud.stderr and "ValueError" in loud.stderr


@pytest.mark.backends("sqlite")
def test_json_errors(project: Project) -> None:
    result = project.fails(2, "--json", "upgrade", "nonexistent")
    error = result.json["error"]
    assert error["exit_code"] == 2 and "nonexistent" in error["message"] and error["hint"]


@pytest.mark.backends("mysql")
def test_wrong_password(project: Project) -> None:
    url = project.url.replace("root@", "root:wrong-secret@")
    result = project.fails(3, "--url", url, "status")
    assert "wrong-secret" not in result.err and "***" in result.err
