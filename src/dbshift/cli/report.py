"""The one reporter: rich in a terminal, plain lines in a pipe, JSON on request.

Library code never prints; the CLI hands every result here.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from dbshift.errors import DbshiftError, Interrupted

if TYPE_CHECKING:  # rich, the results and the linter are imported where they are used
    # lazy: rich, only for a terminal: output in a pipe never imports it
    from rich.console import Console
    from rich.progress import Progress, TaskID

    from dbshift.integrity import Problem
    from dbshift.linter import LintReport, Rule
    from dbshift.results import (
        AdoptReport,
        BaselineWritten,
        CheckReport,
        DriftReport,
        HistoryEntry,
        HistoryReport,
        MakeResult,
        MigrationInfo,
        PartialRun,
        RebaseResult,
        RepairReport,
        SchemaBaseline,
        Status,
        VerifyReport,
    )
    from dbshift.runner import Listener, Retry, RunReport, Step, StepResult
    from dbshift.runner.report import Command


class Reporter:
    def __init__(
        self, *, as_json: bool = False, quiet: bool = False, out: TextIO | None = None
    ) -> None:
        self.as_json = as_json
        self.quiet = quiet
        self.out: TextIO = sys.stdout if out is None else out
        self.tty = self.out.isatty() and not as_json
        self._live = False  # a listener printed each migration as it completed
        #: the database whose part of a run over several is being reported, and, with
        #: --json, each one's document by name (`databases`)
        self._database: str | None = None
        self._documents: dict[str, Any] | None = None

    # -- primitives ------------------------------------------------------------------

    def line(self, text: str = "") -> None:
        if not self.quiet:
            print(text, file=self.out)

    def json(self, data: Any) -> None:
        if self._database is not None and self._documents is not None:
            before = self._documents.get(self._database)
            both = isinstance(before, dict) and isinstance(data, dict)
            self._documents[self._database] = before | data if both else data
            return
        print(json.dumps(data, indent=2, default=str), file=self.out)

    @contextmanager
    def databases(self) -> Iterator[None]:
        """A run over several databases: with --json, one document holding each one's
        under its name, `{"databases": {NAME: ...}}`, printed at the end."""
        self._documents = {}
        try:
            yield
        finally:  # not printed when a signal stops the run: its error is the document
            documents, self._documents = self._documents, None
        if self.as_json:
            self.json({"databases": documents})

    @contextmanager
    def database(self, name: str) -> Iterator[None]:
        """One database's part of a run over several: a heading line before its output
        (as text), its errors named by it."""
        if not self.as_json:
            self.line(f"== {name} ==")
        self._database = name
        try:
            yield
        finally:
            self._database = None
            if not self.as_json:
                self.line()

    def _console(self) -> Console:
        # lazy: rich, only for a terminal: output in a pipe never imports it
        from rich.console import Console

        return Console(file=self.out, highlight=False)

    def error(self, error: DbshiftError) -> None:
        """One line on stderr; with --json, the error document on stdout, which names
        the migrations a run stopped part-way had applied (or reverted) before it."""
        if self.as_json:
            document: dict[str, Any] = {"error": _error_json(error)}
            if error.report is not None:
                document |= _so_far(error.report)
            self.json(document)
            return
        where = f"[{self._database}] " if self._database is not None else ""
        text = f"error: {where}{error.message}"
        if error.hint:
            text += f" (hint: {error.hint})"
        print(text, file=sys.stderr)

    # -- results ---------------------------------------------------------------------

    def written(self, path: Path, what: str = "created") -> None:
        if self.as_json:
            self.json({"path": str(path)})
        else:
            self.line(f"{what} {path}")

    def note(self, text: str) -> None:
        """A note beside the output, on stderr (stdout stays the report, or JSON)."""
        print(f"note: {text}", file=sys.stderr)

    def made(self, result: MakeResult) -> None:
        """`make`: the file written and every operation in it (drops stand out)."""
        if self.as_json:
            self.json(result.to_json())
            return
        for note in result.notes:
            self.note(note)
        if not result.operations:
            self.line(f"No changes (compared with the {result.source})")
            return
        if result.path is not None:
            for path in result.paths or (result.path,):
                self.line(f"created {path} (compared with the {result.source})")
        else:
            self.line(f"{len(result.operations)} change(s) (compared with the {result.source})")
        for op in result.operations:
            mark, tail = ("!", "  (loses data)") if op.loses_data else ("-", "")
            self.line(f"  {mark} {op.describe()}{tail}")
        if len(result.backends) > 1:
            found = {b: len(ops) for b, ops in result.by_backend}
            each = ", ".join(f"{b}: {n} change(s)" for b, n in found.items())
            self.line(f"compared on {len(result.backends)} backends ({each})")
        if result.findings:
            self.line("lint (see docs/lint.md; silence a finding with # dbshift: ignore[CODE]):")
        for f in result.findings:
            lock = f" (lock: {f.lock})" if f.category == "locking" and f.lock else ""
            self.line(f"  {Path(f.file).name}:{f.line}: {f.severity} {f.code} {f.message}{lock}")
        if result.advice:
            self.line(f"`dbshift check` fails on {len(result.advice)} of these; next step:")
        for advice in result.advice:
            f = advice.finding
            self.line(f"  {Path(f.file).name}:{f.line} {f.code}: {advice.hint}")

    def ids(self, ids: Sequence[str], key: str) -> None:
        if self.as_json:
            self.json({key: list(ids)})
        else:
            for i in ids:
                self.line(i)

    def run(self, report: RunReport) -> None:
        if self.as_json:
            self.json(report.to_json())
            return
        if report.dry_run:
            if not report.plan.steps:
                self.line("nothing to do")
            for step in report.plan.steps:
                self.line(f"would {step.describe()}")
            return
        if not report.results:
            self.line("nothing to do: already at the target")
            return
        for result in report.results:
            if not (self._live and result.status != "skipped"):  # else printed as it ended
                self.line(_result_line(result))
        done, skipped = report.done, report.skipped
        verb = _VERBS[report.command]
        if skipped and not done:
            summary = (
                f"nothing to do: all {len(skipped)} migration(s) already {verb} by another runner"
            )
        else:
            summary = f"{verb} {len(done)} migration(s)"
            if skipped:
                summary += f"; {len(skipped)} already {verb} by another runner"
        self.line(summary)

    @contextmanager
    def progress(self, *, single_transaction: bool = False) -> Iterator[Listener]:
        """A line for each migration as it completes (under a progress bar in a
        terminal), so that a run that stops part-way has shown what it did; then, when
        an error stops it after one of them, a line saying what stays done (the error
        follows on stderr: alone when it came first)."""
        listener: _BarListener | _LineListener
        if self.tty and not self.quiet:
            listener = _BarListener(self._console())
        else:
            shown = None if self.as_json else self._result_now
            listener = _LineListener(self._retry_line, shown)
        self._live = True
        try:
            yield listener
        except (DbshiftError, Interrupted) as error:
            listener.close()
            if error.report is not None and listener.finished and not self.as_json:
                self.line(_stopped_line(error.report, single_transaction))
            raise
        finally:
            listener.close()

    def _result_now(self, result: StepResult) -> None:
        self.line(_result_line(result))
        self.out.flush()

    def _retry_line(self, text: str) -> None:
        """A retry as it happens: on stdout with the other lines, on stderr when stdout
        carries JSON or is quiet."""
        stream = sys.stderr if self.as_json or self.quiet else self.out
        print(text, file=stream, flush=True)

    def _refused(self, document: dict[str, Any], error: DbshiftError | None) -> None:
        """A report that also stands for an error (integrity problems in `status` and
        `history`): with --json, the error is a key of the one document; as text, its
        one line follows the report, on stderr."""
        if self.as_json:
            self.json({**document, "error": _error_json(error)} if error else document)
        elif error is not None:
            self.error(error)

    def _integrity(self, problems: Sequence[Problem]) -> None:
        for problem in problems:
            where = f"{problem.migration}: " if problem.migration else ""
            self.line(f"INTEGRITY: {where}{problem.line()}")

    def status(self, status: Status) -> None:
        if self.as_json:
            self._refused(status.to_json(), status.refusal())
            return
        self.line(f"database: {status.url}")
        self.line(f"applied:  {len(status.applied)}")
        self.line(f"current:  {', '.join(status.current) or '(none)'}")
        self.line(f"heads:    {', '.join(status.heads) or '(none)'}")
        self.line(f"pending:  {len(status.pending)}")
        for migration_id in status.pending:
            self.line(f"  - {migration_id}")
        for run in status.partial:
            self._partial(run)
        self._integrity(status.problems)
        self._refused({}, status.refusal())

    def current(self, status: Status) -> None:
        """`current`: each migration the database is at, `(head)` when it is a head;
        `(none)` when nothing is applied; then the integrity problems, as `status`."""
        if self.as_json:
            data = {"current": list(status.current), "heads": list(status.heads)}
            self._refused(data, status.refusal())
            return
        for migration_id in status.current:
            self.line(f"{migration_id} (head)" if migration_id in status.heads else migration_id)
        if not status.current:
            self.line("(none)")
        if status.pending:
            self.line(f"{len(status.pending)} pending: `upgrade` applies them")
        self._integrity(status.problems)
        self._refused({}, status.refusal())

    def _partial(self, run: PartialRun) -> None:
        """A migration that stopped part-way: what ran, what failed, what is left."""
        row = run.row
        done = len(row.done)
        of = f" of {run.total}" if run.total is not None else ""
        if row.failed is not None:
            what = f"statement {done + 1}{of} failed"
        else:
            what = (
                f"interrupted after statement {done}{of} (`dbshift upgrade` checks whether "
                "the next one completed)"
            )
        self.line(f"PARTIAL: {row.id}: {done}{of} statement(s) ran and stayed committed; {what}")
        for number, mark in enumerate(row.done, 1):
            self.line(f"  done    {number:>3}  {mark.text}")
        if row.failed is not None:
            self.line(f"  failed  {done + 1:>3}  {row.failed.text}")
        first_left = done + (2 if row.failed is not None else 1)
        for number, text in enumerate(run.statements[first_left - 1 :], first_left):
            self.line(f"  to run  {number:>3}  {text}")
        if run.total is None and row.done:
            self.line("  (a Python migration: its statements are known when it runs)")
        self.line(
            "  `dbshift upgrade` resumes it (after you fix the failing statement); "
            f"or `dbshift repair --rolled-back {row.id}` / `--applied {row.id}` after "
            "undoing / finishing it by hand"
        )

    def history(self, report: HistoryReport) -> None:
        if self.as_json:
            self._refused(report.to_json(), report.refusal())
            return
        if self.tty:
            # lazy: rich, only for a terminal: output in a pipe never imports it
            from rich.markup import escape
            from rich.table import Table

            table = Table("", "id", "message", "parents", "applied at", "ms", box=None)
            for e in report:  # text from the files is printed as written, never as markup
                table.add_row(
                    _history_mark(e),
                    escape(e.id + (" (head)" if e.head else "")),
                    escape(e.message),
                    escape(", ".join(e.parents) if len(e.parents) != 1 else ""),
                    f"{e.applied_at:%Y-%m-%d %H:%M:%S}" if e.applied_at else "",
                    str(e.duration_ms) if e.duration_ms is not None else "",
                )
            self._console().print(table)
            self._integrity(report.problems)
        else:
            for e in report:
                mark = "applied" if e.applied else "partial" if e.partial else "pending"
                extra = f" parents={','.join(e.parents)}" if len(e.parents) > 1 else ""
                when = (
                    f" at={e.applied_at:%Y-%m-%dT%H:%M:%S} ms={e.duration_ms}"
                    if e.applied_at
                    else ""
                )
                head = " (head)" if e.head else ""
                self.line(f"{mark} {e.id}{head}{extra}{when}  {e.message}")
                for problem in e.problems:
                    self.line(f"  INTEGRITY: {problem.line()}")
            marked = {e.id for e in report}
            self._integrity([p for p in report.problems if p.migration not in marked])
        self._refused({}, report.refusal())

    def show(self, info: MigrationInfo) -> None:
        if self.as_json:
            self.json(info.to_json())
            return
        s = info.script
        self.line(f"id:            {s.id}")
        self.line(f"message:       {s.message}")
        self.line(f"file:          {s.path}")
        self.line(f"parents:       {', '.join(s.parents) or '(root)'}")
        self.line(f"children:      {', '.join(info.children) or '(head)'}")
        self.line(f"transactional: {s.transactional}")
        self.line(f"checksum:      {s.checksum}")
        applied = (
            f"{info.row.applied_at:%Y-%m-%d %H:%M:%S} UTC by {info.row.applied_by}"
            if info.row
            else "no"
        )
        self.line(f"applied:       {applied}")
        self.line("upgrade:")
        for op in info.upgrade:
            self.line(f"  {op}")
        self.line("downgrade:" + _downgrade_source(info))
        for op in info.downgrade or ():
            self.line(f"  {op}")

    def repair(self, report: RepairReport) -> None:
        if self.as_json:
            self.json(report.to_json())
            return
        if not report.changes:
            self.line("nothing to repair")
        for migration_id, action in report.changes:
            self.line(f"{migration_id}: {action}")

    def adopted(self, report: AdoptReport) -> None:
        if self.as_json:
            self.json(report.to_json())
            return
        folder = report.migrations
        if report.source is not None:
            self.line(
                f"converted {len(report.written)} {report.tool} "
                f"{'revision' if report.tool == 'alembic' else 'migration'}(s) into {folder}"
                + (f" ({len(report.unchanged)} already converted)" if report.unchanged else "")
            )
        if not report.took_over:
            self.line("no database taken over (no URL, or --files-only)")
            return
        heads = ", ".join(report.heads) or "empty"
        self.line(f"{report.version_table} in {report.url}: {heads}")
        if report.recorded:
            self.line(f"recorded {len(report.recorded)} migration(s) as applied")
        elif report.logged:
            self.line("nothing new to record; the adoption is logged")
        else:
            self.line("already adopted: nothing to do")
        if report.dropped:
            self.line(f"dropped {report.version_table}")

    def verified(self, report: VerifyReport) -> None:
        if self.as_json:
            self.json(report.to_json())
            return
        checked = f" and the history of {report.database}" if report.database else ""
        if not report.problems:
            self.line(f"ok: {report.migrations} migration(s), dbshift.sum{checked}")
            return
        for problem in report.problems:
            print(f"problem: {problem}", file=sys.stderr)

    def rebased(self, result: RebaseResult) -> None:
        if self.as_json:
            self.json(result.to_json())
            return
        self.line(f"moved {len(result.branch)} migration(s) after {result.onto}:")
        for migration_id in result.branch:
            mark = "  (parents rewritten)" if migration_id in result.reparented else ""
            self.line(f"  {migration_id}{mark}")
        self.line(
            "rewrote dbshift.sum; a database that applied the moved migrations before needs "
            "`dbshift repair` (their checksums changed)"
        )

    def linted(self, report: LintReport, fmt: str = "text") -> None:
        """`lint`: findings as text (a rich table in a terminal), JSON, GitHub Actions
        annotations or SARIF."""
        # lazy: status start-up: the linter's output formats, for `lint` alone
        from dbshift.linter import formats

        if self.as_json or fmt == "json":
            self.json(report.to_json())
            return
        if fmt == "github":
            text = formats.github(report)
            if text:
                print(text, file=self.out)
            return
        if fmt == "sarif":
            self.json(formats.sarif(report))
            return
        targets = ", ".join(t.label for t in report.targets)
        summary = f"{len(report.migrations)} migration(s) ({report.selection}) for {targets}"
        if report.baselined:
            summary += f"; {report.baselined} accepted by the baseline"
        if not report.findings:
            self.line(f"ok: {summary}, no findings")
            return
        if self.tty:
            # lazy: rich, only for a terminal: output in a pipe never imports it
            from rich.markup import escape
            from rich.table import Table

            table = Table("severity", "code", "where", "message", box=None)
            colour = {"error": "red", "warning": "yellow", "info": "cyan"}
            for f in report.findings:  # names in messages are the files', never markup
                table.add_row(
                    f"[{colour[f.severity]}]{f.severity}[/]",
                    f.code,
                    escape(f"{Path(f.file).name}:{f.line}"),
                    escape(f.message)
                    + (f" [dim](lock: {f.lock})[/]" if f.category == "locking" and f.lock else "")
                    + (f" [dim]({f.backend})[/]" if len(report.targets) > 1 else ""),
                )
            self._console().print(table)
        else:
            for f in report.findings:
                backend = f" [{f.backend}]" if len(report.targets) > 1 else ""
                lock = f" (lock: {f.lock})" if f.category == "locking" and f.lock else ""
                where = f"{Path(f.file).name}:{f.line}"
                self.line(f"{where}: {f.severity} {f.code} {f.message}{lock}{backend}")
        counts = ", ".join(
            f"{n} {s}(s)"
            for s in ("error", "warning", "info")
            if (n := sum(f.severity == s for f in report.findings))
        )
        self.line(f"{counts} in {summary}")

    def baseline_written(self, result: BaselineWritten) -> None:
        """`lint --baseline write`: the file and what it now accepts."""
        if self.as_json:
            self.json(result.to_json())
            return
        self.line(
            f"wrote {result.path}: {result.accepted} finding(s) accepted in "
            f"{len(result.migrations)} migration(s) linted"
        )

    def checked(self, report: CheckReport, fmt: str = "text") -> None:
        """`check`: one line per check, then its problems; lint findings as annotations
        with `--format github`."""
        if self.as_json or fmt == "json":
            self.json(report.to_json())
            return
        if fmt == "github":
            # lazy: status start-up: the linter's output formats, for `lint` alone
            from dbshift.linter import formats

            lines = [
                f"::error title=dbshift check: {item.name}::{item.detail}"
                + "".join(f"%0A{p}" for p in item.problems if p)
                for item in report.items
                # failed lint findings are annotated one by one, below; a lint check that
                # could not run at all has no report and gets its line here
                if item.status == "failed" and not (item.name == "lint" and report.lint)
            ]
            if report.lint is not None and report.lint.findings:
                lines.append(formats.github(report.lint))
            if lines:
                print("\n".join(lines), file=self.out)
            return
        for item in report.items:
            self.line(f"{item.status:<7} {item.name}: {item.detail}")
            if item.status == "failed":
                for problem in item.problems:
                    if problem:
                        self.line(f"          {problem}")
        self.line("check passed" if report.ok else "check failed")

    def baselined(self, result: SchemaBaseline) -> None:
        """`baseline`: the file written and recorded, what it creates, the notes."""
        if self.as_json:
            self.json(result.to_json())
            return
        for note in result.notes:
            self.note(note)
        made = f"{len(result.tables)} table(s)"
        if result.enums:
            made += f", {len(result.enums)} enum(s)"
        if result.sequences:
            made += f", {len(result.sequences)} sequence(s)"
        self.line(f"created {result.path} ({made}, read from {result.url})")
        after = f" (and the {len(result.after)} migration(s) before it)" if result.after else ""
        self.line(f"recorded {result.migration} as applied{after}, without running it")

    def drifted(self, report: DriftReport, fmt: str = "text") -> None:
        """`drift`: every difference (object: what differs), or one "no drift" line;
        JSON, or GitHub Actions annotations with `--format github`."""
        if self.as_json or fmt == "json":
            self.json(report.to_json())
            return
        if fmt == "github":
            # lazy: status start-up: the linter's output formats, for `lint` alone
            from dbshift.linter import formats

            lines = [
                formats.annotation(f"dbshift drift: {d.object}", f"{d.difference} ({d.source})")
                for d in report.differences
            ]
            lines += [
                formats.annotation("dbshift drift: not replayed", text, "warning")
                for text in report.unknown
            ]
            if lines:
                print("\n".join(lines), file=self.out)
            return
        for text in report.unknown:
            self.note(f"not replayed: {text}")
        if report.migrations_unknown:
            rest = "only the models were compared" if report.compared else "nothing was compared"
            self.note(f"the schema the applied migrations build cannot be known: {rest}")
        against = " and ".join(report.compared) or "nothing"
        if not report.differences:
            self.line(f"no drift: {report.url} matches the {against}")
            return
        for source in report.compared:
            found = [d for d in report.differences if d.source == source]
            if found:
                self.line(f"{len(found)} difference(s) from the {source}:")
            for d in found:
                self.line(f"  {d.object}: {d.difference}")
        self.line(f"drift in {report.url}")

    def rules(self, rules: Sequence[Rule]) -> None:
        """`lint --rules`: every rule with its code, severity and category."""
        if self.as_json:
            self.json([r.to_json() for r in rules])
            return
        for r in rules:
            backends = ", ".join(sorted(r.backends))
            self.line(f"{r.code} {r.severity:<7} {r.category:<21} {r.name} [{backends}]")


def _error_json(error: DbshiftError) -> dict[str, Any]:
    return {
        "message": error.message,
        "hint": error.hint,
        "exit_code": error.exit_code,
        "type": type(error).__name__,
    }


def _history_mark(entry: HistoryEntry) -> str:
    """The first column of `history` in a terminal: a problem outranks the state."""
    if entry.problems:
        return "[red]✗[/]"
    if entry.applied:
        return "[green]✓[/]"
    return "[yellow]~[/]" if entry.partial else "·"


def _downgrade_source(info: MigrationInfo) -> str:
    """What `show` says above the downgrade's operations: nothing when written; a SQL
    migration's is never derived (there is no downgrade to run)."""
    if info.downgrade is not None:
        return ""
    if info.script.kind == "sql":
        return " none (no statement under `-- dbshift:down`: `downgrade` refuses it)"
    return " derived from upgrade"


_VERBS: dict[Command, str] = {"upgrade": "applied", "downgrade": "reverted", "stamp": "stamped"}


def _so_far(report: RunReport) -> dict[str, Any]:
    """The error document's account of a run stopped part-way: the ids it applied (or
    reverted) and every step's result, as in the document of a run that finished."""
    return {
        "command": report.command,
        _VERBS[report.command]: report.done,
        "results": [r.to_json() for r in report.results],
    }


def _stopped_line(report: RunReport, single_transaction: bool) -> str:
    """How far a run got before the error that stopped it: what stays done."""
    verb = _VERBS[report.command]
    if single_transaction:
        return f"stopped: nothing {verb}, the whole run rolled back (--single-transaction)"
    done = report.done
    ids = f": {', '.join(done)}" if done else ""
    return f"stopped part-way: {len(done)} of {len(report.plan.steps)} migration(s) {verb}{ids}"


def _result_line(result: StepResult) -> str:
    if result.status == "skipped":
        verb = "applied" if result.direction == "up" else "reverted"
        return f"skipped {result.id} (already {verb} by another runner)"
    timing = f" in {result.duration_ms} ms" if result.status != "stamped" else ""
    return f"{result.status} {result.id}{timing}"


class _LineListener:
    """No bar: each result as a plain line (unless stdout carries JSON), and retries."""

    def __init__(
        self, line: Callable[[str], None], shown: Callable[[StepResult], None] | None
    ) -> None:
        self.line = line
        self.shown = shown
        self.finished = 0

    def step_started(self, step: Step, index: int, total: int) -> None:
        pass

    def step_finished(self, result: StepResult) -> None:
        self.finished += 1
        if self.shown is not None:
            self.shown(result)

    def step_retrying(self, retry: Retry) -> None:
        self.line(retry.describe())

    def warned(self, text: str) -> None:
        print(f"warning: {text}", file=sys.stderr, flush=True)

    def close(self) -> None:
        pass


class _BarListener:
    def __init__(self, console: Console) -> None:
        self.console = console
        #: the progress bar and its task, from the first step on
        self.bar: tuple[Progress, TaskID] | None = None
        self.finished = 0

    def step_started(self, step: Step, index: int, total: int) -> None:
        if self.bar is None:
            # lazy: rich, only for a terminal: output in a pipe never imports it
            from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

            progress = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                TextColumn("{task.completed}/{task.total}"),
                TimeElapsedColumn(),
                console=self.console,
            )
            progress.start()
            self.bar = progress, progress.add_task("migrating", total=total)
        progress, task = self.bar
        progress.update(task, description=step.id)

    def _started(self) -> tuple[Progress, TaskID]:
        assert self.bar is not None, "the runner tells a step's start first"
        return self.bar

    def step_finished(self, result: StepResult) -> None:
        self.finished += 1
        progress, task = self._started()
        progress.advance(task)
        progress.console.print(_result_line(result), markup=False)

    def step_retrying(self, retry: Retry) -> None:
        self._started()[0].console.print(retry.describe(), markup=False)

    def warned(self, text: str) -> None:
        print(f"warning: {text}", file=sys.stderr, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar[0].stop()
            self.bar = None
