"""The exit codes: one `ExitCode` enum, the same table in README.md and docs/cli.md."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from dbshift import errors
from dbshift.errors import ExitCode

ROOT = Path(__file__).resolve().parent.parent
ROW = re.compile(r"^\| (?P<code>\d+) \| (?P<meaning>.+) \|$")


def documented(path: Path) -> list[tuple[int, str]]:
    """The rows of the table under the "Exit codes" heading of `path`."""
    text = path.read_text(encoding="utf-8")
    heading = re.search(r"^#+ Exit codes$", text, re.MULTILINE)
    assert heading is not None, f"{path.name} has no 'Exit codes' heading"
    rows = []
    for line in text[heading.end() :].lstrip("\n").splitlines()[2:]:
        match = ROW.match(line)
        if match is None:
            break
        rows.append((int(match["code"]), match["meaning"]))
    return rows


@pytest.mark.parametrize("document", ["README.md", "docs/cli.md"])
def test_the_documented_exit_codes_are_the_enum(document: str) -> None:
    rows = documented(ROOT / document)
    assert [code for code, _ in rows] == [member.value for member in ExitCode]
    for (_, meaning), member in zip(rows, ExitCode, strict=True):
        assert meaning.startswith(member.meaning), (document, member, meaning)


def test_every_error_exits_with_a_member() -> None:
    classes = [
        value
        for value in vars(errors).values()
        if isinstance(value, type) and issubclass(value, errors.DbshiftError)
    ]
    assert len(classes) >= 9
    for cls in classes:
        assert isinstance(cls.exit_code, ExitCode), cls
    assert errors.LockTimeout.exit_code == ExitCode.LOCK_TIMEOUT == 5
    assert errors.Interrupted().exit_code is ExitCode.INTERRUPTED
    assert errors.Interrupted("SIGTERM").exit_code is ExitCode.TERMINATED


def test_no_exit_code_is_a_bare_number_in_the_cli() -> None:
    """`sys.exit`, `_Exit` and `exit_code =` in the source take an `ExitCode` member."""
    source = ROOT / "src" / "dbshift"
    bare = re.compile(r"(?:sys\.exit|_Exit)\(\d+\)|exit_code(?:: int)? = \d+")
    found = [
        f"{path.relative_to(source)}:{number}"
        for path in sorted(source.rglob("*.py"))
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if bare.search(line)
    ]
    assert found == []
