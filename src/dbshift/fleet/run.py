"""Running one command over a fleet: threads with bounds, the failure policy, a result
per target (docs/fleet.md).

The project (files, graph, sums) is read once, before any connection, and shared by
every target's runner; so is one statement cache per key (`runner.cache.Shelf`): a
migration's statements are compiled for the first target and sent to the others
without being loaded again. The first target runs alone for that reason. Each target
has its own connection and runs under its own runner lock, so two fleet runs, or a
fleet run and one target's own `upgrade`, never apply a migration twice; its own
history is the truth of where it stands, so a stopped run run again finishes the rest.

A first SIGINT or SIGTERM (`Stop`) starts no more targets and stops each running one
between two migrations: it finishes the migration it is in, and the report says what
it applied. A second signal stops at once: the CLI exits without waiting, and each
migration that was running rolls back (or, outside a transaction, is partial as after
a crash) when its connection closes.
"""

from __future__ import annotations

import collections
import concurrent.futures
import contextlib
import dataclasses
import signal
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Protocol

import sqlalchemy as sa

from dbshift import database, jobs
from dbshift.config import Config
from dbshift.dialects import lock_for
from dbshift.errors import DbshiftError, ExitCode, Interrupted
from dbshift.fleet.report import FleetReport, TargetResult
from dbshift.fleet.settings import Policy
from dbshift.fleet.targets import Target
from dbshift.migrations.project import Project
from dbshift.runner import Runner, RunReport
from dbshift.runner.cache import Shelf
from dbshift.runner.plan import Step
from dbshift.runner.report import StepResult

#: what runs on one target's connection
Job = Callable[[Target, sa.Connection], TargetResult]


class Observer(Protocol):
    """Told as targets start and finish (the CLI's live display)."""

    def started(self, target: Target) -> None: ...

    def finished(self, result: TargetResult) -> None: ...


class _Silent:
    def started(self, target: Target) -> None:
        return None

    def finished(self, result: TargetResult) -> None:
        return None


class Stop:
    """A fleet run asked to stop: by the first SIGINT or SIGTERM (`run` listens when it
    runs in the main thread), or by whoever holds it (`request`)."""

    def __init__(self) -> None:
        self._requested = threading.Event()
        self.signal_name = "SIGINT"

    @property
    def requested(self) -> bool:
        return self._requested.is_set()

    def request(self, signal_name: str = "SIGINT") -> None:
        if not self.requested:
            self.signal_name = signal_name
            self._requested.set()


class _StopBetweenSteps:
    """A runner's listener that ends its run before the next migration once the fleet
    run is asked to stop: the migration running finishes, and no other starts."""

    def __init__(self, stop: Stop) -> None:
        self.stop = stop

    def step_started(self, step: Step, index: int, total: int) -> None:
        if self.stop.requested:
            name = self.stop.signal_name
            raise Interrupted(name, f"stopped by {name} before {step.id} ({index} of {total} done)")

    def step_finished(self, result: StepResult) -> None:
        return None


def migrate_job(
    project: Project,
    shelf: Shelf,
    command: str,
    revision: str,
    dry_run: bool = False,
    *,
    stop: Stop | None = None,
) -> Job:
    """`upgrade`, `downgrade` or `stamp` of one target, on the shared project; with
    `stop`, each target's run ends between two migrations once a stop is asked."""
    listener = _StopBetweenSteps(stop) if stop is not None else None

    def job(target: Target, conn: sa.Connection) -> TargetResult:
        runner = Runner(target.config, conn, project.scripts, project.graph, listener, shelf=shelf)
        report: RunReport
        if command == "stamp":
            report = runner.stamp(revision)
        else:
            down = command == "downgrade"
            report = runner.migrate("down" if down else "up", revision, dry_run=dry_run)
        done = tuple(report.done) if not dry_run else tuple(s.id for s in report.plan.steps)
        return TargetResult(target.name, target.identity, "done", done)

    return job


def check_revision(project: Project, command: str, revision: str) -> None:
    """Raise, once and before any target runs, what planning `revision` would raise on
    every target alike: no migrations, an unknown or ambiguous id, `-N` going up or `+N`
    going down. What depends on a target's history (`ID is not applied`) stays its own."""
    graph = project.graph
    if command == "downgrade":
        graph.plan_down(graph.ids, revision)  # all applied: only the files can refuse
    elif command == "upgrade" or not (revision == "base" or revision.startswith("-")):
        graph.plan_up((), revision)


def status_job(project: Project) -> Job:
    """Where one target stands: at its heads, behind (by how much), partial, locked."""

    def job(target: Target, conn: sa.Connection) -> TargetResult:
        config = target.config
        status = jobs.status(config, project=project)(conn)
        holder = _lock_holder(conn, config)
        pending = tuple(status.pending)
        if status.problems:
            problem = status.refusal()
            return TargetResult(
                target.name,
                target.identity,
                "failed",
                pending,
                error=problem.message if problem else "integrity problems",
                hint=problem.hint if problem else None,
                exit_code=int(ExitCode.INTEGRITY),
                behind=len(pending),
            )
        state = "at_head"
        if status.partial:
            state = "partial"
        elif holder is not None:
            state = "locked"
        elif pending:
            state = "behind"
        return TargetResult(
            target.name,
            target.identity,
            state,
            pending,
            error=f"a runner holds its lock{holder}" if state == "locked" else None,
            exit_code=ExitCode.SUCCESS,
            behind=len(pending),
        )

    return job


def survey_job(project: Project, servers: dict[str, Any]) -> Job:
    """What one target has pending and which server it is on (`fleet lint`), read as
    `dbshift lint` reads them (`linter.select`: the history, no lock taken); the
    servers to lint for (`linter.model.Target`s) kept in `servers` by the target's identity."""
    # lazy: status start-up: the linter (and sqlglot), for `fleet lint` alone
    from dbshift.linter.select import Choice, select

    def job(target: Target, conn: sa.Connection) -> TargetResult:
        found = select(target.config, project.scripts, project.graph, Choice(), connected=conn)
        servers[target.identity] = found.targets
        state = "behind" if found.ids else "at_head"
        return TargetResult(target.name, target.identity, state, found.ids, behind=len(found.ids))

    return job


def _lock_holder(conn: sa.Connection, config: Config) -> str | None:
    """` (pid …)` of the runner holding the target's lock now, or None when free."""
    lock = lock_for(conn, config.table_prefix, config.schema)
    held = lock.holder(conn)
    if conn.in_transaction():
        conn.rollback()
    return held or None


def run(
    command: str,
    targets: Sequence[Target],
    job: Job,
    policy: Policy,
    *,
    observer: Observer | None = None,
    shard: str | None = None,
    stop: Stop | None = None,
) -> FleetReport:
    """`job` on every target, at most `policy.jobs` at once and `policy.per_server` on
    one server; the first target alone, then the canaries, then the rest. With `stop`,
    a first signal ends the run between migrations and a second raises `Interrupted`
    at once (see the module's docstring)."""
    watcher = observer or _Silent()
    stop = stop or Stop()
    started = time.monotonic()
    results: dict[str, TargetResult] = {}
    stopped: str | None = None
    order = list(targets)
    canary = min(policy.canary, len(order))
    phases = [order[:1], order[1:canary], order[max(canary, 1) :]]
    failures = 0
    with _stopping_on_signals(stop):
        for number, phase in enumerate(phases):
            if not phase:
                continue
            stopped, failures = _phase(phase, job, policy, watcher, results, failures, stop)
            if stop.requested:
                stopped = f"interrupted by {stop.signal_name}"
            if stopped:
                break
            if number < 2 and canary and any(r.failed for r in results.values()):
                stopped = f"a canary failed (--canary {policy.canary})"
                break
    for target in order:
        if target.identity not in results:
            results[target.identity] = TargetResult(target.name, target.identity, "skipped")
    return FleetReport(
        command=command,
        results=tuple(results[t.identity] for t in order),
        shards=(shard,) if shard else (),
        stopped=stopped,
        duration=time.monotonic() - started,
        signal=stop.signal_name if stop.requested else None,
    )


@contextlib.contextmanager
def _stopping_on_signals(stop: Stop) -> Iterator[None]:
    """While a run runs in the main thread: the first SIGINT or SIGTERM asks `stop`,
    the second raises `Interrupted`; the handlers before are restored after."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def on_signal(number: int, _frame: object) -> None:
        name = signal.Signals(number).name
        if stop.requested:
            raise Interrupted(name, f"stopped at once by a second signal ({name})")
        stop.request(name)

    numbers = (signal.SIGINT, signal.SIGTERM)
    previous = {number: signal.signal(number, on_signal) for number in numbers}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def _phase(
    targets: list[Target],
    job: Job,
    policy: Policy,
    watcher: Observer,
    results: dict[str, TargetResult],
    failures: int,
    stop: Stop,
) -> tuple[str | None, int]:
    """Run `targets` under the bounds; stop starting new ones when the policy says, or
    when a stop is asked. Raised through (a second signal): the pool is left without
    waiting for its threads."""
    waiting = collections.deque(targets)
    per_server: collections.Counter[str] = collections.Counter()
    running: dict[concurrent.futures.Future[TargetResult], Target] = {}
    stopped: str | None = None
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=policy.jobs)
    try:
        while waiting or running:
            if stop.requested:
                waiting.clear()
            while waiting and not stopped and len(running) < policy.jobs:
                chosen = _next(waiting, per_server, policy.per_server)
                if chosen is None:
                    break
                per_server[chosen.server] += 1
                watcher.started(chosen)
                running[pool.submit(_one, chosen, job)] = chosen
            if not running:
                break
            done, _ = concurrent.futures.wait(
                running, return_when=concurrent.futures.FIRST_COMPLETED
            )
            for future in done:
                target = running.pop(future)
                per_server[target.server] -= 1
                result = future.result()
                results[target.identity] = result
                watcher.finished(result)
                if result.failed:
                    failures += 1
                    if policy.fail_fast and not stopped:
                        stopped = f"{target.name} failed (--fail-fast)"
                    elif policy.max_failures is not None and failures >= policy.max_failures:
                        stopped = stopped or f"{failures} targets failed (--max-failures)"
            if stopped:
                waiting.clear()
    except BaseException:
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown()
    return stopped, failures


def _next(
    waiting: collections.deque[Target], per_server: collections.Counter[str], limit: int
) -> Target | None:
    """The first waiting target whose server has room (`--per-server`), taken out."""
    for index, target in enumerate(waiting):
        if not limit or per_server[target.server] < limit:
            del waiting[index]
            return target
    return None


def _one(target: Target, job: Job) -> TargetResult:
    """`job` on the target's own connection, timed; an error is the target's result."""
    started = time.monotonic()
    try:
        result = database.run(target.config, lambda conn: job(target, conn))
    except Interrupted as stop:  # stopped between two migrations (`Stop`)
        result = TargetResult(
            target.name,
            target.identity,
            "interrupted",
            tuple(stop.report.done) if stop.report is not None else (),
            error=stop.message,
            hint=stop.hint,
            exit_code=int(stop.exit_code),
        )
    except DbshiftError as error:
        code = int(error.exit_code)
        applied = tuple(error.report.done) if error.report is not None else ()
        result = TargetResult(
            target.name,
            target.identity,
            "locked" if code == ExitCode.LOCK_TIMEOUT else "failed",
            applied,
            error=target.config.redact(error.message),
            hint=target.config.redact(error.hint) if error.hint else None,
            exit_code=code,
        )
    except Exception as error:  # a driver or a bug: this target's failure, not the run's
        result = TargetResult(
            target.name,
            target.identity,
            "failed",
            error=target.config.redact(f"{type(error).__name__}: {error}".splitlines()[0]),
            exit_code=int(ExitCode.ERROR),
        )
    return dataclasses.replace(result, duration=time.monotonic() - started)
