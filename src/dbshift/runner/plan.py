"""What a run will do, worked out from the files and the history: pure, no I/O.

A `Plan` is the ordered `Step`s that take the history from what it records to a target;
`verify` refuses a history whose applied files were edited or are gone.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from dbshift.history import HistoryRow
from dbshift.integrity import in_history, refusal
from dbshift.migrations.graph import Direction as Direction  # the runner modules import it here
from dbshift.migrations.graph import Graph
from dbshift.migrations.scripts import Script


@dataclasses.dataclass(frozen=True)
class Step:
    script: Script
    direction: Direction

    @property
    def id(self) -> str:
        return self.script.id

    def describe(self) -> str:
        verb = "apply" if self.direction == "up" else "revert"
        return f"{verb} {self.id}" + (f"  {self.script.message}" if self.script.message else "")


@dataclasses.dataclass(frozen=True)
class Plan:
    direction: Direction
    target: str
    steps: tuple[Step, ...]

    def to_json(self) -> list[dict[str, Any]]:
        return [
            {"id": s.id, "direction": s.direction, "message": s.script.message} for s in self.steps
        ]


def make_plan(
    graph: Graph,
    scripts: Mapping[str, Script],
    rows: Sequence[HistoryRow],
    direction: Direction,
    target: str,
) -> Plan:
    applied = [r.id for r in rows if r.applied and r.id in scripts]
    if direction == "up":
        ids = graph.plan_up(applied, target)
    else:
        ids = graph.plan_down(applied, target, applied_order=applied)
    return Plan(direction, target, tuple(Step(scripts[i], direction) for i in ids))


def stamp_plan(
    graph: Graph, scripts: Mapping[str, Script], rows: Sequence[HistoryRow], target: str
) -> Plan:
    """What `stamp target` records: up when the target needs migrations that are not
    applied, down when it is already applied (everything after it is unrecorded)."""
    direction: Direction = "down" if target == "base" or target.startswith("-") else "up"
    plan = make_plan(graph, scripts, rows, direction, target)
    already_there = direction == "up" and not plan.steps
    if already_there and target not in ("head", "heads") and not target.startswith("+"):
        plan = make_plan(graph, scripts, rows, "down", target)
    return plan


def other_backend(plan: Plan, backend: str) -> str | None:
    """One warning for the upgrade steps whose files `make` wrote for other backends
    than `backend` (their column types may not be what the models give here); files
    that name no backends (hand-written ones) are trusted."""
    if plan.direction != "up":
        return None
    foreign = [
        s.script
        for s in plan.steps
        if s.script.backends is not None and backend not in s.script.backends
    ]
    if not foreign:
        return None
    first = foreign[0]
    more = f" and {len(foreign) - 1} more were" if len(foreign) > 1 else " was"
    return (
        f"{first.name}{more} generated for {', '.join(first.backends or ())}, not "
        f"{backend}: column types may differ from what the models give on {backend} "
        "(configure backends in dbshift.toml so `make` writes for every backend)"
    )


def verify(
    scripts: Mapping[str, Script], rows: Iterable[HistoryRow], folder: Path | None = None
) -> None:
    """Refuse to run on a history whose applied files were edited or are gone; with the
    migrations `folder`, a missing file that a git branch has says so."""
    error = refusal(in_history(scripts, rows, folder), "`dbshift status` marks every one")
    if error is not None:
        raise error


def revisions(graph: Graph, applied: Collection[str]) -> str:
    """The applied migrations none of whose children is applied, or `base`."""
    leaves = sorted(i for i in applied if not any(c in applied for c in graph.children_of(i)))
    return ", ".join(leaves) or "base"


def after(plan: Plan, applied: Collection[str]) -> set[str]:
    """The migrations applied once `plan` has run, from those `applied` before."""
    done = set(applied)
    if plan.direction == "up":
        done.update(s.id for s in plan.steps)
    else:
        done.difference_update(s.id for s in plan.steps)
    return done
