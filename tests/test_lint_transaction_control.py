"""DS611's account of a non-transactional migration is what the runner does, on every
backend: each statement commits with its progress record, so a BEGIN in the file groups
nothing and a ROLLBACK undoes nothing."""

from __future__ import annotations

import pytest

from tests.helpers import Project

NON_TRANSACTIONAL = "-- transactional: false"


def _ds611(project: Project) -> list[str]:
    report = project.cli("lint", "--all", "--json").json
    return [f["message"] for f in report["findings"] if f["code"] == "DS611"]


@pytest.mark.backends("mysql", "postgresql", "sqlite")
def test_begin_groups_nothing(project: Project, backend: str) -> None:
    project.sql(
        "grouped",
        "CREATE TABLE g1 (id INTEGER PRIMARY KEY);\nBEGIN;\nINSERT INTO g1 VALUES (1);\n"
        "INSERT INTO no_such_table VALUES (1);\nCOMMIT;",
        header=NON_TRANSACTIONAL,
    )
    project.fails(3, "upgrade")
    assert project.query("SELECT id FROM g1") == [
        (1,)
    ]  # committed, though its "transaction" failed
    messages = _ds611(project)
    assert any("`BEGIN` groups nothing" in m for m in messages), messages


@pytest.mark.backends("mysql", "postgresql")
def test_rollback_undoes_nothing(project: Project, backend: str) -> None:
    project.sql(
        "undo",
        "CREATE TABLE u1 (id INTEGER PRIMARY KEY);\nROLLBACK;",
        header=NON_TRANSACTIONAL,
    )
    project.ok("upgrade")
    assert "u1" in project.tables()
    (message,) = _ds611(project)
    assert "ROLLBACK" in message and "undoes nothing" in message


@pytest.mark.backends("mysql", "postgresql", "sqlite")
def test_a_commit_is_redundant_except_on_sqlite_where_it_fails(
    project: Project, backend: str
) -> None:
    project.sql(
        "commit",
        "CREATE TABLE c1 (id INTEGER PRIMARY KEY);\nCOMMIT;",
        header=NON_TRANSACTIONAL,
    )
    findings = _ds611(project)
    if backend == "sqlite":
        assert "no transaction is active" in project.fails(3, "upgrade").err
        (message,) = findings
        assert "COMMIT" in message and "fails" in message
    else:
        project.ok("upgrade")
        assert findings == []
