"""How `dbshift fleet ...` shows a run: a live display on a terminal (done, failed,
running, the slowest), a plain line per target in a pipe, the report as JSON."""

from __future__ import annotations

import collections
import json
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, TextIO

from dbshift.files import write_atomic
from dbshift.fleet.report import FleetReport, TargetResult
from dbshift.fleet.targets import Target

if TYPE_CHECKING:
    from rich.live import Live


class Display:
    """The `Observer` of a fleet run (`dbshift.fleet.run`), and the summary after it."""

    def __init__(
        self,
        out: TextIO,
        *,
        tty: bool,
        as_json: bool,
        quiet: bool,
        seen: Callable[[str], None] | None = None,
    ) -> None:
        self.out = out
        #: told each target's URL as it starts, so that its password is masked
        self.seen = seen
        self.tty = tty and not as_json
        self.as_json = as_json
        self.quiet = quiet
        self._lock = threading.Lock()
        self._running: dict[str, tuple[str, float]] = {}
        self._done: list[TargetResult] = []
        self._live: Live | None = None

    def __enter__(self) -> Display:
        if self.tty and not self.quiet:
            # lazy: rich, only for a terminal: output in a pipe never imports it
            from rich.console import Console
            from rich.live import Live

            self._live = Live(
                get_renderable=self._render,
                console=Console(file=self.out, highlight=False),
                refresh_per_second=4,
                transient=True,
            )
            self._live.__enter__()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._live is not None:
            self._live.__exit__(kind, error, tb)
            self._live = None

    def started(self, target: Target) -> None:
        if self.seen is not None and target.config.url_text:
            self.seen(target.config.url_text)
        with self._lock:
            self._running[target.identity] = (target.name, time.monotonic())

    def finished(self, result: TargetResult) -> None:
        with self._lock:
            self._running.pop(result.identity, None)
            self._done.append(result)
        if not self.tty and not self.as_json and not self.quiet:
            print(line_of(result), file=self.out, flush=True)

    def _render(self) -> Any:
        # lazy: rich, only for a terminal (see __enter__)
        from rich.text import Text

        with self._lock:
            done = [r for r in self._done if not r.failed]
            failed = [r for r in self._done if r.failed]
            now = time.monotonic()
            running = sorted(
                ((name, now - since) for name, since in self._running.values()),
                key=lambda item: -item[1],
            )
        text = Text()
        text.append(f"done {len(done)}", style="green")
        text.append(" · ")
        text.append(f"failed {len(failed)}", style="red" if failed else "")
        text.append(f" · running {len(running)}")
        for name, seconds in running[:5]:
            text.append(f"\n  {name}  {seconds:.1f} s", style="yellow")
        for result in failed[-3:]:
            text.append(f"\n  {result.name}: {result.error}", style="red")
        return text

    def summary(self, report: FleetReport) -> None:
        if self.as_json:
            print(json.dumps(report.to_json(), indent=2), file=self.out)
            return
        if self.tty and not self.quiet:  # the live display showed the rest
            for result in report.results:
                if result.status not in ("done", "at_head", "skipped"):
                    print(line_of(result), file=self.out)
        counts = ", ".join(f"{n} {shown(status)}" for status, n in sorted(report.counts.items()))
        targets = len(report.results)
        print(
            f"{report.command}: {targets} targets ({counts or 'none'}) in {report.duration:.1f} s",
            file=self.out,
        )
        behind = collections.Counter(r.behind for r in report.results if r.status == "behind")
        if behind:
            by = ", ".join(f"{n} by {count}" for count, n in sorted(behind.items()))
            print(f"behind: {by}", file=self.out)
        if report.stopped:
            print(f"stopped: {report.stopped}", file=self.out)
        slow = report.slowest(3)
        if slow and targets > 3 and not self.quiet:
            slowest = ", ".join(f"{r.name} {r.duration:.2f} s" for r in slow)
            print(f"slowest: {slowest}", file=self.out)


def line_of(result: TargetResult) -> str:
    """One target in one line, as a pipe shows it."""
    if result.failed:
        text = f"{result.name}: {shown(result.status)} (exit {result.exit_code}): {result.error}"
        return text + (f" (hint: {result.hint})" if result.hint else "")
    if result.status == "behind":
        return f"{result.name}: behind by {result.behind}"
    if result.status in ("done", "interrupted"):
        what = f"{len(result.migrations)} migration" + ("" if len(result.migrations) == 1 else "s")
        if result.status == "interrupted":
            return f"{result.name}: interrupted after {what}: {result.error}"
        return f"{result.name}: done, {what} ({result.duration:.2f} s)"
    return f"{result.name}: {shown(result.status)}"


def shown(status: str) -> str:
    """A status as a person reads it (`at head`); JSON keeps the key (`at_head`)."""
    return status.replace("_", " ")


def write_report(path: str, report: FleetReport) -> None:
    """The JSON report to a file (`--report`), beside what the command prints."""
    write_atomic(Path(path), json.dumps(report.to_json(), indent=2) + "\n")
