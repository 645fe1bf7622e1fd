"""The commands that write migration files rather than run them: an empty migration
(`new`, `merge`), and `rebase`, which moves one branch's migrations after another's
head. Each rewrites `dbshift.sum` when it is done.

`dbshift.api` imports this module at start-up: the sum file's parser, which `status`
needs only when its cached verdict is stale, is imported by the functions that use it."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from dbshift import integrity
from dbshift.config import Config
from dbshift.errors import UsageError
from dbshift.files import write_atomic
from dbshift.migrations.project import Project
from dbshift.migrations.scripts import new_id, replace_parents
from dbshift.migrations.writer import render_python, render_sql, write_new
from dbshift.results import RebaseResult


def write_empty(project: Project, message: str, parents: Sequence[str], *, sql: bool) -> Path:
    """A migration with no operations after `parents`, and `dbshift.sum` rewritten."""
    if not message.strip():
        raise UsageError("a migration needs a message", hint='pass -m "what it does"')
    migration_id = new_id(message, (s.id for s in project.scripts))
    content = render_sql(message, parents) if sql else render_python(message, parents)
    path = write_new(
        project.config.migrations_dir, migration_id, "sql" if sql else "python", content
    )
    project.write_sums()
    return path


def read_merging(config: Config) -> Project:
    """The project for `merge` and `rebase`, which resolve a conflicted `dbshift.sum`
    (or one that records only one side): recorded files must be unchanged."""
    project = Project.read(config, check_sums=False)
    # lazy: status start-up (the API imports this module)
    from dbshift.migrations import sumfile

    found = sumfile.audit(config.migrations_dir, project.scripts, project.graph.heads, merging=True)
    error = integrity.refusal(integrity.from_sums(found.errors), "`dbshift verify` lists them")
    if error is not None:
        raise error
    return project


def rebase(project: Project, migration: str | None) -> RebaseResult:
    """`dbshift.api.rebase` on a project read by `read_merging`: every new header is
    computed before any file is written."""
    graph = project.graph
    if len(graph.heads) < 2:
        raise UsageError(
            "nothing to rebase: there is a single head",
            hint="rebase moves one branch's migrations after another branch's head",
        )
    branches = {
        head: graph.ancestors([head]) - graph.ancestors(set(graph.heads) - {head})
        for head in graph.heads
    }
    head = _branch_to_move(project, branches, migration)
    others = [h for h in graph.heads if h != head]
    if len(others) > 1:
        raise UsageError(
            f"{len(graph.heads)} heads: {', '.join(graph.heads)}",
            hint="rebase moves one branch onto one other head: `dbshift merge` the others "
            "first, or rebase them one by one",
        )
    onto = others[0]
    branch = graph.ancestors([head]) - graph.ancestors([onto])
    scripts = {s.id: s for s in project.scripts}
    rewritten: dict[str, str] = {}  # every new text first: a header that cannot be
    for migration_id in graph.topo_order(branch):  # rewritten leaves no file changed
        parents = graph.parents_of(migration_id)
        if all(p in branch for p in parents):
            continue
        script = scripts[migration_id]
        with open(script.location, encoding="utf-8", newline="") as handle:
            text = handle.read()
        new_parents = [p for p in parents if p in branch] + [onto]
        rewritten[migration_id] = replace_parents(text, script.kind, new_parents)
    for migration_id, text in rewritten.items():
        write_atomic(Path(scripts[migration_id].location), text)
    project.write_sums()
    return RebaseResult(tuple(graph.topo_order(branch)), onto, tuple(rewritten))


def _branch_to_move(project: Project, branches: dict[str, set[str]], ref: str | None) -> str:
    """The head whose branch `rebase` moves: the one holding `ref`, else the only one
    with files `dbshift.sum` does not record yet (the user's own work)."""
    graph = project.graph
    if ref is not None:
        wanted = graph.resolve(ref)
        owners = [head for head, members in branches.items() if wanted in members]
        if len(owners) != 1:
            raise UsageError(
                f"{wanted} is shared by every branch: there is nothing to move",
                hint="name a migration that only one branch has: "
                + "; ".join(f"{h} ({len(m)} migration(s))" for h, m in branches.items()),
            )
        return owners[0]
    # lazy: status start-up (the API imports this module)
    from dbshift.migrations import sumfile

    recorded = sumfile.read(project.config.migrations_dir)
    known = recorded.names if recorded is not None else set()
    names = {s.id: s.name for s in project.scripts}
    unrecorded = [
        head for head, members in branches.items() if any(names[m] not in known for m in members)
    ]
    if len(unrecorded) == 1:
        return unrecorded[0]
    listing = "; ".join(
        f"{head} ({len(members)} migration(s))" for head, members in branches.items()
    )
    raise UsageError(
        f"which branch moves? {listing}",
        hint="name yours (never one applied elsewhere): `dbshift rebase <id of one of its "
        "migrations>`",
    )
