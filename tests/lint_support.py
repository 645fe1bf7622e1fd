"""Rule examples written as real migration files and linted (no database needed)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from dbshift.linter import Finding, Settings, Target, lint_scripts, load_rules
from dbshift.linter.model import Example
from dbshift.linter.rules import EXAMPLE_BASE
from dbshift.migrations import sumfile
from dbshift.migrations.graph import Graph
from dbshift.migrations.scripts import scan

if TYPE_CHECKING:
    from tests.lint_cases import Case

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


# -- the squawk-intent cases (tests/lint_cases.py) ------------------------------------

GIVEN_ID = "20260101T000002_given"
CASE_ID = "20260101T000003_case"
PG16 = Target("postgresql", (16,))
#: a project's defaults: dbshift sets the lock timeout itself, so DS312 is off
DEFAULTS = Settings(disable=frozenset({"DS312"}))


def _sql_migration(folder: Path, migration_id: str, parent: str, sql: str, tx: bool) -> None:
    header = "" if tx else "-- transactional: false\n"
    text = f"-- {migration_id}\n-- parents: {parent}\n{header}\n-- dbshift:up\n{sql}\n"
    text += "-- dbshift:down\nSELECT 1;\n"
    (folder / f"{migration_id}.sql").write_text(text)


def write_case(folder: Path, case: Case, form: str) -> None:
    """The base, the case's `given` migration if any (non-transactional when it builds an
    index concurrently), and the case itself in `form` ("sql" or "python")."""
    write_base(folder)
    parent = BASE_ID
    if case.given is not None:
        _sql_migration(folder, GIVEN_ID, BASE_ID, case.given, "CONCURRENTLY" not in case.given)
        parent = GIVEN_ID
    if form == "sql":
        _sql_migration(folder, CASE_ID, parent, case.sql, case.transactional)
    else:
        assert case.python is not None
        header = "" if case.transactional else "transactional = False\n"
        text = f'"""case"""\n\nparents = ["{parent}"]\n{header}\nimport sqlalchemy as sa\n\n\n'
        text += "def upgrade(op):\n" + _indent(case.python)
        text += "\n\ndef downgrade(op):\n    pass\n"
        (folder / f"{CASE_ID}.py").write_text(text)
    sumfile.write(folder, scan(folder))


def lint_case(folder: Path, case: Case, form: str) -> list[Finding]:
    """The findings of the case's migration on PostgreSQL 16, with a project's defaults."""
    write_case(folder, case, form)
    scripts = scan(folder)
    graph = Graph({s.id: s.parents for s in scripts})
    return list(lint_scripts(scripts, graph, [CASE_ID], [PG16], settings=DEFAULTS).findings)
