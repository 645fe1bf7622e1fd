"""Rule examples written as real migration files and linted (no database needed)."""

from __future__ import annotations

from pathlib import Path

from dbshift.linter import Finding, Settings, Target, lint_scripts, load_rules
from dbshift.linter.model import Example
from dbshift.linter.rules import EXAMPLE_BASE
from dbshift.migrations import sumfile
from dbshift.migrations.graph import Graph
from dbshift.migrations.scripts import scan

BASE_ID = "20260101T000001_base"


def _indent(code: str) -> str:
    return "".join(f"    {line}\n" for line in code.strip("\n").splitlines())


def write_base(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    body = '"""base"""\n\nparents = []\n\nimport sqlalchemy as sa\n\n\ndef upgrade(op):\n'
    body += _indent(EXAMPLE_BASE) + "\n\ndef downgrade(op):\n    pass\n"
    (folder / f"{BASE_ID}.py").write_text(body)


def write_example(folder: Path, example: Example, form: str, backend: str) -> str:
    """Write `example` as the second migration (Python or SQL) and return its id."""
    migration_id = "20260101T000002_example"
    if form == "python":
        assert example.python is not None
        header = "" if example.transactional else "transactional = False\n"
        text = f'"""example"""\n\nparents = ["{BASE_ID}"]\n{header}\nimport sqlalchemy as sa\n\n\n'
        text += "def upgrade(op):\n" + _indent(example.python)
        if example.downgrade:
            text += "\n\ndef downgrade(op):\n    pass\n"
        (folder / f"{migration_id}.py").write_text(text)
    else:
        sql = example.sql_for(backend)
        assert sql is not None
        header = "" if example.transactional else "-- transactional: false\n"
        text = f"-- example\n-- parents: {BASE_ID}\n{header}\n-- dbshift:up\n{sql}\n"
        if example.downgrade:
            text += "-- dbshift:down\nSELECT 1;\n"
        (folder / f"{migration_id}.sql").write_text(text)
    sumfile.write(folder, scan(folder))
    return migration_id


def lint_folder(
    folder: Path, backend: str, version: tuple[int, ...] | None, ids: list[str]
) -> list[Finding]:
    scripts = scan(folder)
    graph = Graph({s.id: s.parents for s in scripts})
    every = Settings(enable=frozenset(load_rules()))  # opt-in rules too: examples test them
    report = lint_scripts(scripts, graph, ids, [Target(backend, version)], settings=every)
    return list(report.findings)
