"""`dbshift current` (the status line Flask-Migrate and Alembic users look for) and
`dbshift downgrade` without a target (one line with a hint, exit 2)."""

from __future__ import annotations

from tests.helpers import Project


def test_current_names_what_the_database_is_at(project: Project) -> None:
    first = project.python(
        "a", "op.create_table('a', sa.Column('id', sa.Integer, primary_key=True))"
    )
    second = project.python(
        "b", "op.create_table('b', sa.Column('id', sa.Integer, primary_key=True))"
    )
    assert project.ok("current").out.splitlines() == ["(none)", "2 pending: `upgrade` applies them"]
    project.ok("upgrade", first)
    assert project.ok("current").out.splitlines() == [first, "1 pending: `upgrade` applies them"]
    project.ok("upgrade")
    assert project.ok("current").out.splitlines() == [f"{second} (head)"]
    assert project.ok("current", "--json").json == {"current": [second], "heads": [second]}
    assert project.ok("status").out.count(f"current:  {second}") == 1


def test_current_exits_4_on_an_integrity_problem(project: Project) -> None:
    migration = project.python(
        "a", "op.create_table('a', sa.Column('id', sa.Integer, primary_key=True))"
    )
    project.ok("upgrade")
    path = project.migrations / f"{migration}.py"
    path.write_text(path.read_text() + "\n# edited\n")
    project.record_sums()
    result = project.fails(4, "current")
    assert f"{migration} (head)" in result.out and "INTEGRITY" in result.out


def test_downgrade_without_a_target_is_explained(project: Project) -> None:
    project.python("a", "op.create_table('a', sa.Column('id', sa.Integer, primary_key=True))")
    project.ok("upgrade")
    result = project.fails(2, "downgrade")
    assert result.err.splitlines() == [
        "error: downgrade needs a TARGET: how far down to go (hint: `dbshift downgrade -1` "
        "reverts the latest migration, `base` all of them, an id down to that one)"
    ]
    assert project.ok("status").out.count("applied:  1") == 1, "nothing was reverted"
    project.ok("downgrade", "-1")
