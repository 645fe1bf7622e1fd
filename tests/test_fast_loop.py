"""The fast inner loop (README "Tests") stays a filter on the one suite CI runs whole."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _collect(*args: str) -> subprocess.CompletedProcess[str]:
    """`pytest --co -q ARGS` in a process of its own (no xdist), from the project root."""
    return subprocess.run(
        [sys.executable, "-m", "pytest", "--co", "-q", "-p", "no:xdist", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _ids(result: subprocess.CompletedProcess[str]) -> list[str]:
    return [line for line in result.stdout.splitlines() if "::" in line]


def test_ci_runs_the_readme_command_which_filters_nothing() -> None:
    readme = (ROOT / "README.md").read_text()
    readme_command = re.search(r"pip install -e \"\.\[test\]\" && (pytest[^\n]*)", readme)
    assert readme_command is not None
    ci_commands = [
        line.strip()
        for line in (ROOT / ".ci" / "run").read_text().splitlines()
        if line.strip().startswith("pytest")
    ]
    assert ci_commands == [readme_command.group(1)]
    for narrowing in ("-m", "-k", "--backends", "slow"):
        assert narrowing not in readme_command.group(1).split()


@pytest.mark.slow  # a pytest process of its own
def test_backends_option_keeps_only_the_named_backends_runs() -> None:
    everything = _ids(_collect("tests/test_enum_types.py"))
    sqlite_only = _ids(_collect("--backends", "sqlite", "tests/test_enum_types.py"))
    assert {re.sub(r".*\[(\w+)\]$", r"\1", i) for i in everything} == {
        "sqlite",
        "postgresql",
        "mysql",
    }
    assert sqlite_only == [i for i in everything if i.endswith("[sqlite]")]


@pytest.mark.slow  # a pytest process of its own
def test_an_unknown_backend_is_a_usage_error_naming_it() -> None:
    result = _collect("--backends", "sqlite,oracle", "tests/test_enum_types.py")
    assert result.returncode == 4  # pytest's usage error
    assert "--backends: unknown backend oracle; choose from sqlite, postgresql, mysql" in (
        result.stderr
    )
