"""What a fleet run returns: one `TargetResult` per target and the `FleetReport` of
them all, as JSON, and merged from the reports of several shards."""

from __future__ import annotations

import collections
import dataclasses
import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from dbshift.errors import ExitCode, Interrupted, UsageError

#: what happened to a target. upgrade, downgrade, stamp: done, failed, locked (the
#: runner lock was not had in time), interrupted (a signal stopped it between two
#: migrations), skipped (the run stopped first); status: at_head, behind, partial,
#: locked, failed
FAILED = frozenset({"failed", "locked"})
#: what a stopped run leaves undone, for a re-run to finish
UNFINISHED = frozenset({"interrupted", "skipped"})
REPORT_VERSION = 1


@dataclasses.dataclass(frozen=True)
class TargetResult:
    name: str
    #: the target's masked URL, and `#schema` for a tenant schema (no password)
    identity: str
    status: str
    #: the migrations it applied (reverted, stamped); on `status`, those pending
    migrations: tuple[str, ...] = ()
    #: seconds the target took
    duration: float = 0.0
    error: str | None = None
    hint: str | None = None
    #: the exit code `dbshift upgrade` alone would have exited with on this target
    exit_code: int = ExitCode.SUCCESS
    #: `status`: how many migrations it is behind its heads
    behind: int = 0

    @property
    def failed(self) -> bool:
        return self.status in FAILED

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "identity": self.identity,
            "status": self.status,
            "migrations": list(self.migrations),
            "behind": self.behind,
            "duration": round(self.duration, 4),
            "error": self.error,
            "hint": self.hint,
            "exit_code": self.exit_code,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TargetResult:
        return cls(
            name=str(data["name"]),
            identity=str(data["identity"]),
            status=str(data["status"]),
            migrations=tuple(str(m) for m in data.get("migrations", ())),
            duration=float(data.get("duration", 0.0)),
            error=data.get("error"),
            hint=data.get("hint"),
            exit_code=int(data.get("exit_code", 0)),
            behind=int(data.get("behind", 0)),
        )


@dataclasses.dataclass(frozen=True)
class FleetReport:
    command: str
    results: tuple[TargetResult, ...]
    #: the shards the report covers ("0/4"; several when merged)
    shards: tuple[str, ...] = ()
    #: why the run stopped starting targets (fail-fast, max-failures, canary), if it did
    stopped: str | None = None
    #: seconds the whole run took (merged: the longest shard's)
    duration: float = 0.0
    #: the signal that stopped the run (SIGINT, SIGTERM), if one did
    signal: str | None = None

    @property
    def counts(self) -> dict[str, int]:
        return dict(collections.Counter(r.status for r in self.results))

    @property
    def failures(self) -> list[TargetResult]:
        return [r for r in self.results if r.failed]

    @property
    def exit_code(self) -> int:
        """0 when no target failed; else the failed targets' exit code when they share
        one (5 when each was locked), else 3; 1 for `check` with targets behind; 130
        or 143 when a signal (SIGINT, SIGTERM) stopped the run."""
        if self.signal:
            return int(Interrupted(self.signal).exit_code)
        # a status command's locked target is no failure of its own (exit 0, as a
        # plain `status` with the lock held); `check` then fails on it below
        codes = {r.exit_code for r in self.failures if r.exit_code}
        if len(codes) == 1:
            return codes.pop()
        if codes:
            return int(ExitCode.ERROR)
        if self.command == "check" and any(r.status != "at_head" for r in self.results):
            return int(ExitCode.CHECK_FAILED)
        if self.stopped:
            return int(ExitCode.ERROR)
        return 0

    def slowest(self, count: int = 5) -> list[TargetResult]:
        done = [r for r in self.results if r.status != "skipped"]
        return sorted(done, key=lambda r: r.duration, reverse=True)[:count]

    def to_json(self) -> dict[str, Any]:
        return {
            "version": REPORT_VERSION,
            "command": self.command,
            "shards": list(self.shards),
            "stopped": self.stopped,
            "signal": self.signal,
            "duration": round(self.duration, 4),
            "counts": self.counts,
            "exit_code": self.exit_code,
            "targets": [r.to_json() for r in self.results],
        }

    @classmethod
    def from_json(cls, data: Any, where: str = "report") -> FleetReport:
        if not isinstance(data, dict) or data.get("version") != REPORT_VERSION:
            raise UsageError(
                f"{where}: not a fleet report",
                hint="give files written by `dbshift fleet ... --json`",
            )
        try:
            return cls(
                command=str(data["command"]),
                results=tuple(TargetResult.from_json(t) for t in data["targets"]),
                shards=tuple(str(s) for s in data.get("shards", ())),
                stopped=data.get("stopped"),
                duration=float(data.get("duration", 0.0)),
                signal=data.get("signal"),
            )
        except (KeyError, TypeError, ValueError):
            raise UsageError(
                f"{where}: a fleet report with missing or mistyped fields",
                hint="give files written by `dbshift fleet ... --json`, unedited",
            ) from None


def merge(reports: Sequence[FleetReport]) -> FleetReport:
    """The reports of several shards (or runs) as one: each target once, the last
    report's word on it winning (a re-run after a fix reports after the first run)."""
    if not reports:
        raise UsageError("no reports to merge", hint="give the JSON files of the shards")
    commands = {r.command for r in reports}
    if len(commands) > 1:
        raise UsageError(
            f"the reports are of different commands: {', '.join(sorted(commands))}",
            hint="merge the reports of one command (e.g. every shard's upgrade)",
        )
    by_identity: dict[str, TargetResult] = {}
    for report in reports:
        for result in report.results:
            by_identity[result.identity] = result
    results = tuple(sorted(by_identity.values(), key=lambda r: r.identity))
    # a stop (a policy's, a signal's) stays the merged report's word while a target it
    # left undone is still undone: a re-run that finished them ends it
    unfinished = any(r.status in UNFINISHED for r in results)
    stops = [r.stopped for r in reports if r.stopped] if unfinished else []
    signals = [r.signal for r in reports if r.signal] if unfinished else []
    return FleetReport(
        command=reports[0].command,
        results=results,
        shards=tuple(dict.fromkeys(s for r in reports for s in r.shards)),
        stopped="; ".join(stops) if stops else None,
        duration=max(r.duration for r in reports),
        signal=signals[-1] if signals else None,
    )


def read_reports(paths: Iterable[str | Path]) -> list[FleetReport]:
    reports = []
    for path in paths:
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except OSError as error:
            raise UsageError(
                f"{path}: cannot read: {error.strerror}", hint="check the report's path"
            ) from None
        except json.JSONDecodeError:
            raise UsageError(f"{path}: not JSON", hint="give files written with --json") from None
        reports.append(FleetReport.from_json(data, str(path)))
    return reports
