"""What a run tells: the caller (`RunReport` of `StepResult`s), a `Listener` (progress,
retries, warnings) and the log (`dbshift.runner`: the plan and each migration's result).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from typing import Any, Literal, Protocol

from dbshift.config import mask_url
from dbshift.history import HistoryRow
from dbshift.migrations.graph import Graph
from dbshift.runner.plan import Direction, Plan, Step, after, revisions

#: every module of the runner logs here (docs/api.md, "Logging")
log = logging.getLogger("dbshift.runner")


#: what became of a step: applied, reverted, stamped, or skipped (another runner had
#: already done it)
StepStatus = Literal["applied", "reverted", "stamped", "skipped"]
#: the command a run report is of
Command = Literal["upgrade", "downgrade", "stamp"]


@dataclasses.dataclass(frozen=True)
class StepResult:
    id: str
    direction: Direction
    status: StepStatus
    duration_ms: int = 0
    statements: int = 0

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class RunReport:
    command: Command
    plan: Plan
    results: tuple[StepResult, ...]
    dry_run: bool = False
    #: things the user should know about the run (listeners were told as well)
    warnings: tuple[str, ...] = ()

    @property
    def done(self) -> list[str]:
        return [r.id for r in self.results if r.status != "skipped"]

    @property
    def skipped(self) -> list[str]:
        return [r.id for r in self.results if r.status == "skipped"]

    def to_json(self) -> dict[str, Any]:
        return {
            "command": self.command,
            "target": self.plan.target,
            "direction": self.plan.direction,
            "dry_run": self.dry_run,
            "plan": self.plan.to_json(),
            "results": [r.to_json() for r in self.results],
            "warnings": list(self.warnings),
        }


class Listener(Protocol):
    """Told about progress; the CLI draws a progress bar from it. A listener with a
    `warned(text)` method is told warnings before the run starts (it is optional)."""

    def step_started(self, step: Step, index: int, total: int) -> None: ...

    def step_finished(self, result: StepResult) -> None: ...


@dataclasses.dataclass(frozen=True)
class Retry:
    """A migration is about to be tried again after its statement's lock wait timed out.
    A listener with a `step_retrying(retry)` method is told (it is optional)."""

    step: Step
    attempt: int  # the attempt about to start (2 is the first retry)
    attempts: int  # the most there will be
    delay: float  # seconds before it starts
    #: what the statement waited for, when the database told (retries are watched)
    blocker: str | None = None

    @property
    def reason(self) -> str:
        return f"lock timeout, attempt {self.attempt} of {self.attempts}, in {self.delay:.1f} s"

    def describe(self) -> str:
        text = f"retrying {self.step.id} ({self.reason})"
        return text + (f": waited for {self.blocker}" if self.blocker else "")


class Silent:
    """The listener of a run nobody watches."""

    def step_started(self, step: Step, index: int, total: int) -> None:
        pass

    def step_finished(self, result: StepResult) -> None:
        pass


def log_plan(
    command: Command,
    plan: Plan,
    rows: Sequence[HistoryRow],
    graph: Graph,
    backend: str,
    url: str | None,
    dry_run: bool = False,
) -> None:
    """INFO: what a run is about to do, from which revisions to which, and where (the
    backend, and the URL with its password masked). Built once per run, and only when
    someone listens."""
    if not log.isEnabledFor(logging.INFO):
        return
    applied = {r.id for r in rows if r.applied and r.id in graph}
    if command == "stamp":
        verb = "record" if plan.direction == "up" else "unrecord"
    else:
        verb = "apply" if plan.direction == "up" else "revert"
    log.info(
        "%s%s on %s (%s): %d migration(s) to %s, from %s to %s (target %s)",
        command,
        " (dry run)" if dry_run else "",
        backend,
        mask_url(url),
        len(plan.steps),
        verb,
        revisions(graph, applied),
        revisions(graph, after(plan, applied)),
        plan.target,
    )


def log_result(result: StepResult) -> None:
    if result.status == "skipped":
        log.info("skipped %s: another runner did it meanwhile", result.id)
    else:
        log.info(
            "%s %s in %d ms (%d statement(s))",
            result.status,
            result.id,
            result.duration_ms,
            result.statements,
        )
