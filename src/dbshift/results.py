"""What the API's commands return: typed, immutable, each with `to_json` (the CLI's
`--json` documents). `dbshift.api` and `dbshift` re-export every one; they live here so
the commands, the database jobs (`dbshift.jobs`) and `make` (`dbshift.autogen.make`)
share them without importing one another."""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, overload

from dbshift.errors import IntegrityError
from dbshift.history import HistoryRow
from dbshift.integrity import Problem, refusal
from dbshift.migrations.scripts import Kind, Script

if TYPE_CHECKING:
    from dbshift.autogen import SourceKind
    from dbshift.autogen.advice import Advice
    from dbshift.linter import Finding, LintReport
    from dbshift.ops import Operation


@dataclasses.dataclass(frozen=True)
class PartialRun:
    """A migration that stopped part-way (see `HistoryRow.done` and `.failed`).

    `statements` are the first lines of the migration's statements as its file has them
    now, when that is known without importing code: for a SQL migration, a cheap split
    of the file; for a Python migration, () (its statements exist only once it runs, so
    status shows what ran, from the history, and no total)."""

    row: HistoryRow
    statements: tuple[str, ...] = ()

    @property
    def id(self) -> str:
        return self.row.id

    @property
    def total(self) -> int | None:
        return len(self.statements) if self.statements else None

    def to_json(self) -> dict[str, Any]:
        row = self.row
        return {
            **row.to_json(),
            "statements_total": self.total,
            "interrupted": row.interrupted,
            "done": [mark.to_json() for mark in row.done],
            "failed": row.failed.to_json() if row.failed else None,
            "remaining": list(self.statements[len(row.done) :]),
        }


def _problems_json(problems: Sequence[Problem]) -> list[dict[str, Any]]:
    return [p.to_json() for p in problems]


def problems_by_migration(problems: Sequence[Problem]) -> dict[str | None, tuple[Problem, ...]]:
    """The problems grouped by the migration they concern, in their order."""
    grouped: dict[str | None, list[Problem]] = {}
    for problem in problems:
        grouped.setdefault(problem.migration, []).append(problem)
    return {migration: tuple(found) for migration, found in grouped.items()}


@dataclasses.dataclass(frozen=True)
class Status:
    """The database against the files. `problems` lists every integrity problem (an
    applied migration edited or gone, `dbshift.sum` disagreeing with the files), each
    naming the migration it concerns: status reports them rather than raising, and the
    CLI exits 4 when there are any (`refusal()` is the error it prints)."""

    url: str
    current: tuple[str, ...]
    heads: tuple[str, ...]
    pending: tuple[str, ...]
    applied: tuple[HistoryRow, ...]
    partial: tuple[PartialRun, ...]
    problems: tuple[Problem, ...] = ()

    @property
    def ok(self) -> bool:
        """No integrity problem (pending or partial migrations are not problems)."""
        return not self.problems

    def problems_of(self, migration_id: str) -> tuple[Problem, ...]:
        """The problems that concern one migration."""
        return self._by_migration.get(migration_id, ())

    @functools.cached_property
    def _by_migration(self) -> dict[str | None, tuple[Problem, ...]]:
        return problems_by_migration(self.problems)

    def refusal(self) -> IntegrityError | None:
        """The one error that stands for the problems (None when there are none)."""
        return refusal(self.problems, "every one is marked in the report")

    def to_json(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "current": list(self.current),
            "heads": list(self.heads),
            "pending": list(self.pending),
            "applied": [
                {**r.to_json(), "problems": _problems_json(self.problems_of(r.id))}
                for r in self.applied
            ],
            "partial": [
                {**r.to_json(), "problems": _problems_json(self.problems_of(r.id))}
                for r in self.partial
            ],
            "problems": _problems_json(self.problems),
        }


@dataclasses.dataclass(frozen=True)
class HistoryEntry:
    id: str
    message: str
    parents: tuple[str, ...]
    kind: Kind
    head: bool
    applied_at: datetime | None
    duration_ms: int | None
    #: the integrity problems that concern this migration
    problems: tuple[Problem, ...] = ()
    #: it stopped part-way (see `Status.partial`): neither applied nor pending
    partial: bool = False

    @property
    def applied(self) -> bool:
        return self.applied_at is not None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "message": self.message,
            "parents": list(self.parents),
            "kind": self.kind,
            "head": self.head,
            "applied": self.applied,
            "partial": self.partial,
            "applied_at": self.applied_at.isoformat() + "Z" if self.applied_at else None,
            "duration_ms": self.duration_ms,
            "problems": _problems_json(self.problems),
        }


@dataclasses.dataclass(frozen=True)
class HistoryReport(Sequence[HistoryEntry]):
    """Every migration in graph order (a sequence of `HistoryEntry`, as `history` always
    returned) and every integrity problem: those that concern a migration with a file
    are also on its entry; one about a history row no file has, or about `dbshift.sum`
    as a whole, is here only. Reported, not raised; the CLI exits 4 when there are any."""

    entries: tuple[HistoryEntry, ...]
    problems: tuple[Problem, ...] = ()

    def __len__(self) -> int:
        return len(self.entries)

    @overload
    def __getitem__(self, index: int) -> HistoryEntry: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[HistoryEntry]: ...

    def __getitem__(self, index: int | slice) -> HistoryEntry | Sequence[HistoryEntry]:
        return self.entries[index]

    @property
    def ok(self) -> bool:
        return not self.problems

    def refusal(self) -> IntegrityError | None:
        """The one error that stands for the problems (None when there are none)."""
        return refusal(self.problems, "every one is marked in the report")

    def to_json(self) -> dict[str, Any]:
        return {
            "migrations": [e.to_json() for e in self.entries],
            "problems": _problems_json(self.problems),
        }


@dataclasses.dataclass(frozen=True)
class MigrationInfo:
    script: Script
    children: tuple[str, ...]
    row: HistoryRow | None
    upgrade: tuple[str, ...]
    downgrade: tuple[str, ...] | None

    def to_json(self) -> dict[str, Any]:
        s = self.script
        return {
            "id": s.id,
            "message": s.message,
            "path": str(s.path),
            "kind": s.kind,
            "parents": list(s.parents),
            "children": list(self.children),
            "transactional": s.transactional,
            "checksum": s.checksum,
            "applied": self.row.to_json() if self.row else None,
            "upgrade": list(self.upgrade),
            "downgrade": list(self.downgrade) if self.downgrade is not None else None,
        }


@dataclasses.dataclass(frozen=True)
class RepairReport:
    changes: tuple[tuple[str, str], ...]  # (migration id, what was done)

    def to_json(self) -> dict[str, Any]:
        return {"changes": [{"id": i, "action": a} for i, a in self.changes]}


@dataclasses.dataclass(frozen=True)
class VerifyReport:
    """What `verify` checked and every problem it found (empty: all is well)."""

    migrations: int
    database: str | None  # the (masked) URL whose history was checked
    problems: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": not self.problems,
            "migrations": self.migrations,
            "database": self.database,
            "problems": list(self.problems),
        }


@dataclasses.dataclass(frozen=True)
class RebaseResult:
    """`rebase` moved `branch` after `onto`; `reparented` are the migrations whose
    `parents` header changed (so did their checksums)."""

    branch: tuple[str, ...]
    onto: str
    reparented: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {"branch": list(self.branch), "onto": self.onto, "reparented": list(self.reparented)}


@dataclasses.dataclass(frozen=True)
class BaselineWritten:
    """What `lint --baseline write` recorded: the file, the findings it now accepts in
    the migrations linted, and those migrations."""

    path: Path
    accepted: int
    migrations: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "accepted": self.accepted,
            "migrations": list(self.migrations),
        }


#: what became of one thing `check` looked at
CheckStatus = Literal["ok", "failed", "skipped"]


@dataclasses.dataclass(frozen=True)
class CheckItem:
    """One thing `check` looked at: passed, failed (with its problems) or skipped."""

    name: str
    status: CheckStatus
    detail: str
    problems: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class CheckReport:
    items: tuple[CheckItem, ...]
    lint: LintReport | None = None

    @property
    def ok(self) -> bool:
        return all(item.status != "failed" for item in self.items)

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "checks": [item.to_json() for item in self.items],
            "lint": self.lint.to_json() if self.lint is not None else None,
        }


@dataclasses.dataclass(frozen=True)
class MakeResult:
    """What `make` found: the operations, where the current schema came from, and the
    file written (None when there was nothing to do, or with `check=True`). With
    `safe`, `paths` lists every migration of the chain written, `path` the last one."""

    path: Path | None
    operations: tuple[Operation, ...]
    source: SourceKind
    notes: tuple[str, ...] = ()
    #: what `dbshift lint` says of the files written (docs/lint.md)
    findings: tuple[Finding, ...] = ()
    paths: tuple[Path, ...] = ()
    #: the backends the migration is (or would be) written for, the URL's first
    backends: tuple[str, ...] = ()
    #: what each backend's comparison found, in `backends` order (`check` names them)
    by_backend: tuple[tuple[str, tuple[Operation, ...]], ...] = ()
    #: the findings `dbshift check` would fail on, each with the step that avoids it
    advice: tuple[Advice, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "path": str(self.path) if self.path else None,
            "paths": [str(p) for p in self.paths],
            "source": self.source,
            "backends": list(self.backends),
            "operations": [op.describe() for op in self.operations],
            "by_backend": {b: [op.describe() for op in ops] for b, ops in self.by_backend},
            "notes": list(self.notes),
            "lint": [f.to_json() for f in self.findings],
            "fails_check": [a.to_json() for a in self.advice],
        }


@dataclasses.dataclass(frozen=True)
class AdoptReport:
    """What `dbshift adopt` did (docs/adopt.md): the files it converted, and, when it
    took over a database, what the other tool's version table said and what it
    recorded."""

    tool: str  # "alembic" or "yoyo"
    source: Path | None  # the other tool's configuration (None: the converted files alone)
    migrations: Path  # the dbshift migrations folder
    written: tuple[Path, ...]  # converted files written now
    unchanged: tuple[Path, ...]  # converted files already there, the same
    #: the database part; None when no database was taken over (no URL, --files-only)
    url: str | None = None
    version_table: str | None = None
    heads: tuple[str, ...] = ()  # the other tool's heads, as its table said
    recorded: tuple[str, ...] = ()  # dbshift ids recorded as applied now
    already: tuple[str, ...] = ()  # ids that were recorded before
    dropped: bool = False
    logged: bool = False  # an `adopt` event was written

    @property
    def took_over(self) -> bool:
        return self.url is not None

    def to_json(self) -> dict[str, Any]:
        return {
            "tool": self.tool,
            "source": str(self.source) if self.source else None,
            "migrations": str(self.migrations),
            "written": [str(p) for p in self.written],
            "unchanged": [str(p) for p in self.unchanged],
            "database": None
            if self.url is None
            else {
                "url": self.url,
                "version_table": self.version_table,
                "heads": list(self.heads),
                "recorded": list(self.recorded),
                "already": list(self.already),
                "dropped": self.dropped,
                "logged": self.logged,
            },
        }


@dataclasses.dataclass(frozen=True)
class SchemaBaseline:
    """What `dbshift baseline` did (docs/drift.md): the first migration written from the
    database's own schema, recorded as applied without running it."""

    path: Path  # the migration written
    migration: str  # its id, recorded as applied
    url: str  # the database it was read from, masked
    #: what it creates: tables, then enums and sequences, by name
    tables: tuple[str, ...]
    enums: tuple[str, ...] = ()
    sequences: tuple[str, ...] = ()
    #: what the database has that the migration does not recreate (views, say)
    notes: tuple[str, ...] = ()
    #: the existing migrations the baseline was written after (`after_existing`), recorded too
    after: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "migration": self.migration,
            "url": self.url,
            "tables": list(self.tables),
            "enums": list(self.enums),
            "sequences": list(self.sequences),
            "after": list(self.after),
            "notes": list(self.notes),
        }


#: what the live database was compared with: the applied migrations replayed, the models
DriftSource = Literal["migrations", "models"]


@dataclasses.dataclass(frozen=True)
class Difference:
    """One way the live database differs from what `source` says it should be: the
    object (`table "users"`, `column "users"."email"`, `index "ix_x" on "users"`) and
    what differs, said from the database's side."""

    source: DriftSource
    object: str
    difference: str

    def line(self) -> str:
        return f"{self.object}: {self.difference}"

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class DriftReport:
    """What `dbshift drift` found (docs/drift.md): every difference between the live
    database and the schema the applied migrations build (and the models, when they are
    configured). `unknown` names the applied migrations replay cannot follow (raw DDL,
    a body that reads the database) with what that leaves out of the comparison."""

    url: str
    differences: tuple[Difference, ...]
    #: what was compared with the database, in order
    compared: tuple[DriftSource, ...]
    #: applied migrations replay could not follow, each "ID: what is left out"
    unknown: tuple[str, ...] = ()
    #: tables left out of the comparison with the migrations (touched by raw SQL)
    skipped_tables: tuple[str, ...] = ()
    #: the comparison with the migrations could not be made at all (see `unknown`)
    migrations_unknown: bool = False

    @property
    def drifted(self) -> bool:
        return bool(self.differences)

    def to_json(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "drift": self.drifted,
            "compared": list(self.compared),
            "differences": [d.to_json() for d in self.differences],
            "unknown": list(self.unknown),
            "skipped_tables": list(self.skipped_tables),
            "migrations_unknown": self.migrations_unknown,
        }
