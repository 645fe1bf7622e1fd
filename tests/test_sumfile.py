"""dbshift.sum: what it catches, what it lets through while a migration is being
written, and how two git branches that each add a migration are put back together."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dbshift.migrations import sumfile
from dbshift.migrations.scripts import Script
from tests.helpers import Project

TABLE = 'op.create_table("{0}", sa.Column("id", sa.Integer, primary_key=True))'


def _script(name: str, checksum: str) -> Script:
    stem = name.rpartition(".")[0]
    return Script(stem, name, "python", (), "", True, checksum)


names = st.lists(
    st.from_regex(r"2026[0-9]{4}T[0-9]{6}_[a-z ]{1,8}\.(py|sql)", fullmatch=True),
    min_size=1,
    max_size=12,
    unique=True,
)


@pytest.mark.slow
@settings(max_examples=200, deadline=None)
@given(names, st.data())
def test_every_single_change_names_its_file(files: list[str], data: st.DataObject) -> None:
    scripts = [_script(n, f"{i:064x}") for i, n in enumerate(files)]
    recorded = sumfile.parse(sumfile.render(scripts))
    assert not sumfile.drift(recorded, scripts)
    assert sumfile.parse(sumfile.render(reversed(scripts))) == recorded  # order-free

    victim = data.draw(st.sampled_from(scripts))
    edited = [_script(s.name, "f" * 64) if s is victim else s for s in scripts]
    assert sumfile.drift(recorded, edited) == sumfile.Drift(edited=(victim.name,))
    removed = [s for s in scripts if s is not victim]
    assert sumfile.drift(recorded, removed) == sumfile.Drift(removed=(victim.name,))
    added = [*scripts, _script("20991231T235959_late.py", "e" * 64)]
    assert sumfile.drift(recorded, added) == sumfile.Drift(added=("20991231T235959_late.py",))

    # Editing a line of the sum file by hand breaks its total.
    text = sumfile.render(scripts).splitlines()
    line = data.draw(st.integers(1, len(text) - 1))
    text[line] = text[line][:-1] + ("A" if text[line][-1] != "A" else "B")
    assert sumfile.drift(sumfile.parse("\n".join(text)), scripts).tampered


@pytest.fixture
def project(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Project:
    return Project(tmp_path / "proj", f"sqlite:///{tmp_path / 'app.db'}", capsys)


def _git(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.com",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.com",
    }
    return subprocess.run(
        ["git", *args], cwd=root, env=env, capture_output=True, text=True, check=False
    )


def _new(project: Project, message: str) -> Path:
    return Path(project.ok("new", "-m", message, "--json").json["path"])


def _fill(path: Path, table: str) -> None:
    path.write_text(path.read_text().replace("    pass", "    " + TABLE.format(table)))


def test_new_edit_upgrade_needs_no_ceremony_until_the_file_is_committed(
    project: Project,
) -> None:
    root = project.root
    _git(root, "init", "-q", "-b", "main")
    first = _new(project, "users")
    sums = project.migrations / "dbshift.sum"
    assert first.name in sums.read_text()
    _fill(first, "users")  # the everyday loop: new, edit, upgrade
    project.ok("upgrade")
    assert "users" in project.tables()
    assert project.ok("verify", "--json").json["ok"] is True  # the edit was recorded

    _git(root, "add", "-A")
    _git(root, "commit", "-qm", "users")
    first.write_text(first.read_text() + "# later edit\n")  # now shared: caught
    before = project.fingerprint()
    result = project.fails(4, "status")
    assert f"{first.name} changed since dbshift.sum recorded it" in result.err
    assert "restore it from version control" in result.err
    assert project.fingerprint() == before
    _git(root, "checkout", "--", ".")
    project.ok("status")

    # A new head edited before its commit is accepted; an edit that also touches an
    # older, committed file is not.
    second = _new(project, "posts")
    _fill(second, "posts")
    first.write_text(first.read_text() + "# sneaky\n")
    assert f"{first.name} changed" in project.fails(4, "upgrade").err
    _git(root, "checkout", "--", str(first.relative_to(root)))
    project.ok("upgrade")
    assert {"users", "posts"} <= project.tables()


@pytest.fixture
def on_server(tmp_path: Path, db_url: str, capsys: pytest.CaptureFixture[str]) -> Project:
    return Project(tmp_path / "proj", db_url, capsys)


def test_verify_reports_without_changing_anything(on_server: Project, backend: str) -> None:
    project = on_server
    first = _new(project, "users")
    _fill(first, "users")
    before = project.fingerprint()
    result = project.fails(4, "verify", "--json")
    assert project.fingerprint() == before
    [problem] = result.json["problems"]
    assert first.name in problem and "not committed yet" in problem
    project.ok("upgrade")  # records the edit
    out = project.ok("verify").out
    assert out.startswith(f"ok: 1 migration(s), dbshift.sum and the history of {backend}")

    # An applied migration edited behind dbshift's back, and its sum line accepted:
    # verify still finds it in the database.
    first.write_text(first.read_text() + "# edited\n")
    project.ok("rehash")
    result = project.fails(4, "verify")
    assert f"{first.name} was edited after it was applied" in result.err
    assert project.ok("verify", "--offline").out.startswith("ok: 1 migration(s), dbshift.sum\n")


def test_missing_or_tampered_sum_file(project: Project) -> None:
    project.python("users", TABLE.format("users"))
    sums = project.migrations / "dbshift.sum"
    lines = sums.read_text().splitlines()
    sums.write_text("\n".join([lines[0], lines[1][:-1] + "x"]) + "\n")
    before = project.fingerprint()
    assert "was edited by hand" in project.fails(4, "upgrade").err
    assert project.fingerprint() == before
    sums.unlink()
    before = project.fingerprint()
    result = project.fails(4, "upgrade")
    assert "migrations/dbshift.sum is missing (1 migration(s) in the folder)" in result.err
    assert "dbshift rehash" in result.err
    assert project.fingerprint() == before
    project.ok("rehash")
    project.ok("upgrade")


def test_a_clean_verdict_is_cached_but_never_hides_a_change(project: Project) -> None:
    first = project.python("users", TABLE.format("users"))
    project.python("posts", TABLE.format("posts"))
    project.ok("status")
    assert (project.migrations / "__pycache__" / "dbshift-sum.marshal").exists()
    project.ok("status")  # from the cache
    sums = project.migrations / "dbshift.sum"
    text = sums.read_text()
    sums.write_text(text[:-2] + ("A" if text[-2] != "A" else "B") + "\n")  # same size
    assert "was edited by hand" in project.fails(4, "status").err
    sums.write_text(text)
    project.ok("status")
    path = project.migrations / f"{first}.py"
    path.write_text(path.read_text() + "#\n")
    assert f"{first}.py changed since" in project.fails(4, "status").err


def test_line_endings_are_not_an_edit(project: Project) -> None:
    project.python("users", TABLE.format("users"))
    project.sql("posts", "CREATE TABLE posts (id INTEGER PRIMARY KEY);", "DROP TABLE posts;")
    project.ok("upgrade")
    for path in project.migrations.glob("2026*"):
        path.write_bytes(path.read_bytes().replace(b"\n", b"\r\n"))
    assert project.ok("verify").out.startswith("ok: 2 migration(s)")
    project.ok("downgrade", "base")


def test_throwing_away_a_new_migration_is_fine(project: Project) -> None:
    project.python("users", TABLE.format("users"))
    doomed = _new(project, "oops")
    doomed.unlink()
    project.ok("upgrade")
    assert doomed.name not in (project.migrations / "dbshift.sum").read_text()


def _branches(project: Project) -> tuple[str, str, str]:
    """main adds `posts`, feature adds `tags`, both on top of `users`."""
    root = project.root
    _git(root, "init", "-q", "-b", "main")
    base = project.python("users", TABLE.format("users"))
    _git(root, "add", "-A")
    _git(root, "commit", "-qm", "users")
    _git(root, "checkout", "-q", "-b", "feature")
    ours = project.python("tags", TABLE.format("tags"))
    _git(root, "add", "-A")
    _git(root, "commit", "-qm", "tags")
    _git(root, "checkout", "-q", "main")
    theirs = project.python("posts", TABLE.format("posts"), parents=[base])
    _git(root, "add", "-A")
    _git(root, "commit", "-qm", "posts")
    _git(root, "checkout", "-q", "feature")
    merged = _git(root, "merge", "main")
    assert merged.returncode != 0 and "dbshift.sum" in merged.stdout, "git saw no conflict"
    return base, ours, theirs


def test_parallel_branches_conflict_in_git_and_rebase_resolves(project: Project) -> None:
    _base, ours, theirs = _branches(project)
    result = project.fails(4, "status")
    assert "git conflict markers" in result.err and "dbshift rebase" in result.err
    # Which branch moves cannot be guessed from a conflicted file.
    assert "which branch moves?" in project.fails(2, "rebase").err

    moved = project.ok("rebase", ours, "--json").json
    assert moved == {"branch": [ours], "onto": theirs, "reparented": [ours]}
    assert f'parents = ["{theirs}"]' in (project.migrations / f"{ours}.py").read_text()
    assert project.ok("heads", "--json").json["heads"] == [ours]
    assert "<<<<<<<" not in (project.migrations / "dbshift.sum").read_text()
    _git(project.root, "add", "-A")
    assert _git(project.root, "commit", "-qm", "merge main").returncode == 0
    project.ok("upgrade")
    assert {"users", "posts", "tags"} <= project.tables()
    assert project.ok("verify").out.startswith("ok: 3 migration(s)")
    assert "nothing to rebase" in project.fails(2, "rebase").err


def test_rebase_picks_the_branch_the_sum_file_does_not_record(project: Project) -> None:
    _base, ours, _theirs = _branches(project)
    # Resolved by taking main's sum file: `tags` is the unrecorded branch.
    _git(project.root, "checkout", "--theirs", "migrations/dbshift.sum")
    assert f"{ours}.py is not recorded" in project.fails(4, "upgrade").err
    assert project.ok("rebase", "--json").json["branch"] == [ours]
    project.ok("upgrade")


def test_merge_also_resolves_the_conflict(project: Project) -> None:
    _base, _ours, _theirs = _branches(project)
    path = Path(project.ok("merge", "--json").json["path"])
    assert project.ok("heads", "--json").json["heads"] == [path.stem]
    project.ok("upgrade")
    assert {"users", "posts", "tags"} <= project.tables()


def test_merge_and_rebase_still_refuse_an_edited_recorded_file(project: Project) -> None:
    base, ours, _theirs = _branches(project)
    path = project.migrations / f"{base}.py"
    path.write_text(path.read_text() + "# edited\n")
    before = project.fingerprint()
    assert f"{base}.py changed since" in project.fails(4, "rebase", ours).err
    assert f"{base}.py changed since" in project.fails(4, "merge").err
    assert project.fingerprint() == before


def test_rebase_of_a_longer_branch_rewrites_only_its_first_migration(project: Project) -> None:
    base = project.python("users", TABLE.format("users"))
    a1 = project.python("a1", TABLE.format("a1"))
    a2 = project.python("a2", TABLE.format("a2"))
    b1 = project.python("b1", TABLE.format("b1"), parents=[base])
    project.sql("b2", "CREATE TABLE b2 (id INTEGER PRIMARY KEY);", "DROP TABLE b2;")
    b2 = sorted(p.stem for p in project.migrations.glob("*_b2.sql"))[0]
    assert "which branch moves?" in project.fails(2, "rebase").err
    assert "shared by every branch" in project.fails(2, "rebase", base).err
    result = project.ok("rebase", b1, "--json").json
    assert result == {"branch": [b1, b2], "onto": a2, "reparented": [b1]}
    assert project.ok("history", "--json").json["migrations"][1]["id"] == a1
    assert project.ok("heads", "--json").json["heads"] == [b2]
    assert f"-- parents: {b1}" in (project.migrations / f"{b2}.sql").read_text()
    project.ok("upgrade")
    assert {"a1", "a2", "b1", "b2"} <= project.tables()
