"""BEGIN, COMMIT and ROLLBACK in a migration, transactional or not, on every backend:
`upgrade` refuses them before anything runs (dbshift owns the transactions: a
non-transactional migration commits each statement with its progress record, so a
BEGIN there groups nothing), and DS611 says so in the same words."""

from __future__ import annotations

import pytest

from tests.helpers import Project

NON_TRANSACTIONAL = "-- transactional: false"


def _ds611(project: Project) -> list[str]:
    report = project.cli("lint", "--all", "--json").json
    return [f["message"] for f in report["findings"] if f["code"] == "DS611"]


CASES = {
    "begin": ("BEGIN;\nINSERT INTO g1 VALUES (1);\nCOMMIT;", "groups nothing"),
    "rollback": ("INSERT INTO g1 VALUES (1);\nROLLBACK;", "undoes nothing"),
    "commit": ("INSERT INTO g1 VALUES (1);\nCOMMIT;", "commits dbshift's transaction"),
}


@pytest.mark.backends("mysql", "postgresql", "sqlite")
@pytest.mark.parametrize("case", sorted(CASES))
def test_transaction_control_in_a_non_transactional_migration_is_refused(
    project: Project, backend: str, case: str
) -> None:
    body, lint_words = CASES[case]
    project.sql("table", "CREATE TABLE g1 (id INTEGER PRIMARY KEY);")
    migration = project.sql("tx", body, header=NON_TRANSACTIONAL)
    before = project.fingerprint()
    line = project.fails(3, "upgrade").err.strip()
    assert line.startswith(f"error: {migration}.sql:") and "nothing was run" in line, line
    assert "groups or undoes nothing" in line
    assert project.fingerprint() == before  # the first migration neither: all or nothing
    messages = _ds611(project)
    assert any(lint_words in m for m in messages), messages
