"""Integrity problems as data: where the files, `dbshift.sum` and the history disagree.

The commands that change the database refuse on them (the first is raised as an
`IntegrityError`, exit 4). `status` and `history` are what a user diagnosing them runs:
they report every problem, each on the migration it concerns, and the CLI still exits 4
(`refusal` is the one line it ends with).

Header and graph errors are not problems of this kind: without a graph there is no
report to mark them on, so every command still refuses on them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

from dbshift.errors import ChecksumMismatch, IntegrityError

if TYPE_CHECKING:
    from pathlib import Path

    from dbshift.history import HistoryRow, StatementMark
    from dbshift.migrations.scripts import Script

#: `sum`: `dbshift.sum` disagrees with the files; `edited`: an applied migration's file
#: is not what the history recorded; `no-file`: the history holds a migration (applied,
#: or stopped part-way) that no file in the folder has: deleted, renamed, or applied
#: from another branch; `partial`: a SQL migration that stopped part-way and that
#: `upgrade` cannot resume: its file no longer starts with the statements that ran
Kind = Literal["sum", "edited", "no-file", "partial"]


@dataclasses.dataclass(frozen=True)
class Problem:
    kind: Kind
    message: str
    hint: str | None
    #: the migration id it concerns; None for the folder as a whole (the sum file)
    migration: str | None = None

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def line(self) -> str:
        """The problem as one line of text, its hint included."""
        return f"{self.message} (hint: {self.hint})" if self.hint else self.message


def from_sums(errors: Iterable[IntegrityError]) -> list[Problem]:
    """The verdict of `sumfile.audit`, as problems (its errors name their file)."""
    return [Problem("sum", e.message, e.hint, e.migration) for e in errors]


def in_history(
    scripts: Mapping[str, Script], rows: Iterable[HistoryRow], folder: Path | None = None
) -> list[Problem]:
    """One problem per history row whose file is missing or was edited after it was
    applied (a partial row's file may change: the runner checks what ran on resume).
    With the migrations `folder`, a missing file that git has elsewhere says where."""
    rows = list(rows)
    missing = [row.id for row in rows if row.id not in scripts]
    found = _files_elsewhere(folder, missing) if folder is not None and missing else {}
    problems = []
    for row in rows:
        script = scripts.get(row.id)
        if script is None:
            what = "applied migration" if row.applied else "migration stopped part-way,"
            text = f"{what} {row.id} has no file in the migrations folder"
            where, hint = found.get(row.id, (None, _gone_hint(row.id)))
            problems.append(Problem("no-file", f"{text}; {where}" if where else text, hint, row.id))
        elif row.applied and script.checksum != row.checksum:
            problems.append(
                Problem(
                    "edited",
                    f"{script.name} was edited after it was applied",
                    "restore the file from version control, or run `dbshift repair` "
                    "to accept its current content after review",
                    row.id,
                )
            )
    return problems


def _gone_hint(migration_id: str) -> str:
    return (
        "restore the file from version control (a migration is never renamed or deleted "
        f"once applied); if it is gone for good, `dbshift repair --rolled-back {migration_id}` "
        "removes it from the history (the schema stays)"
    )


def _files_elsewhere(folder: Path, ids: Sequence[str]) -> dict[str, tuple[str, str]]:
    """For missing files that git has in a commit (the current one: deleted from the
    work tree; else a branch, a remote branch, a tag): what to say, and the hint.
    After switching branches, the database may have applied another branch's
    migrations: checking that branch out is the remedy, not `repair`."""
    # lazy: status start-up: git runs only when applied migrations' files are missing
    from dbshift import git

    names = [f"{i}{suffix}" for i in ids for suffix in (".py", ".sql")]
    refs = git.refs_holding(folder, names)
    if refs is None:
        return {}
    found = {}
    for migration_id in ids:
        for name in (f"{migration_id}.py", f"{migration_id}.sql"):
            holding = refs.get(name) or []
            if not holding:
                continue
            first = holding[0]
            if first.kind == "HEAD":
                found[migration_id] = (
                    f"{name} is in the current commit but deleted from the work tree",
                    f"restore it (`git checkout HEAD -- {folder / name}`) before running",
                )
            else:
                others = f" (and {len(holding) - 1} more)" if len(holding) > 1 else ""
                found[migration_id] = (
                    f"{name} exists on {first}{others}",
                    f"check out {first.name} (or merge it) before running: this database "
                    "has migrations from it",
                )
            break
    return found


def resume_conflict(ran: Sequence[StatementMark], now: Sequence[StatementMark]) -> str | None:
    """Why a partial migration whose file changed cannot resume: the statements that
    `ran` must still be the first of those it has `now`. None when they are."""
    for index, (done, current) in enumerate(zip(ran, now, strict=False), 1):
        if done.hash != current.hash:
            return (
                f"statement {index} differs from the one that ran: it ran `{done.text}`, "
                f"the file now has `{current.text}`"
            )
    if len(now) < len(ran):
        return f"the file now has {len(now)} statement(s), fewer than the {len(ran)} that ran"
    return None


def undo_or_finish(migration_id: str) -> str:
    """The ways out of a partial migration that cannot resume, for hints."""
    return (
        f"undo them by hand and `dbshift repair --rolled-back {migration_id}`, or finish "
        f"it by hand and `dbshift repair --applied {migration_id}`"
    )


def in_partial_rows(
    scripts: Mapping[str, Script],
    rows: Iterable[HistoryRow],
    statements: Callable[[Script], Sequence[StatementMark]],
) -> list[Problem]:
    """The partial migrations whose file changed so that it no longer starts with the
    statements that ran, which `upgrade` refuses to resume. `statements` gives a file's
    statements without importing code: () for a Python migration, whose statements are
    known only by running it (`upgrade` checks those). (A partial migration that would
    now run in a transaction is left to `upgrade` too: knowing it takes the backend's
    rules, which `status` does not load.)"""
    problems = []
    for row in rows:
        script = scripts.get(row.id)
        if row.applied or script is None:
            continue
        now = statements(script) if row.done and row.checksum != script.checksum else ()
        conflict = resume_conflict(row.done, now) if now else None
        if conflict is not None:
            problems.append(edited_partial(script, row, conflict))
    return problems


def edited_partial(script: Script, row: HistoryRow, conflict: str) -> Problem:
    """A partial migration edited so that it cannot resume (`conflict` says how)."""
    return Problem(
        "partial",
        f"{script.name} stopped part-way after {len(row.done)} statement(s) and was edited "
        f"since: {conflict}; dbshift cannot resume it",
        "restore the statements that ran and run `dbshift upgrade` again; or "
        + undo_or_finish(row.id),
        row.id,
    )


def refusal(problems: Sequence[Problem], where: str) -> IntegrityError | None:
    """The error that stands for `problems` (None when there are none): the first one,
    counting the others and saying `where` they all are. An applied migration edited or
    gone is a `ChecksumMismatch`."""
    if not problems:
        return None
    first, others = problems[0], len(problems) - 1
    more = f" (and {others} more: {where})" if others else ""
    kind = IntegrityError if first.kind == "sum" else ChecksumMismatch
    return kind(first.message + more, migration=first.migration, hint=first.hint)
