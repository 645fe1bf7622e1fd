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
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

from dbshift.errors import ChecksumMismatch, IntegrityError

if TYPE_CHECKING:
    from dbshift.history import HistoryRow
    from dbshift.migrations.scripts import Script

#: `sum`: `dbshift.sum` disagrees with the files; `edited`: an applied migration's file
#: is not what the history recorded; `no-file`: the history holds a migration (applied,
#: or stopped part-way) that no file in the folder has: deleted, renamed, or applied
#: from another branch
Kind = Literal["sum", "edited", "no-file"]


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


def in_history(scripts: Mapping[str, Script], rows: Iterable[HistoryRow]) -> list[Problem]:
    """One problem per history row whose file is missing or was edited after it was
    applied (a partial row's file may change: the runner checks what ran on resume)."""
    problems = []
    for row in rows:
        script = scripts.get(row.id)
        if script is None:
            what = "applied migration" if row.applied else "migration stopped part-way,"
            problems.append(
                Problem(
                    "no-file",
                    f"{what} {row.id} has no file in the migrations folder",
                    "restore the file from version control (a migration is never renamed "
                    f"or deleted once applied); if it was undone by hand, `dbshift repair "
                    f"--rolled-back {row.id}`",
                    row.id,
                )
            )
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
