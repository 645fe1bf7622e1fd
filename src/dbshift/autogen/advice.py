"""What to do about a finding in a migration `make` just wrote that `dbshift check`
would fail on: the exact command that writes the change without it, or how to accept
it. `make` never leaves a team with a red `check` and no next step."""

from __future__ import annotations

import dataclasses
import shlex
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from dbshift.linter import Finding
from dbshift.linter.model import rank

#: the locking findings `make --safe` writes the change without (docs/autogenerate.md,
#: "Safe output"); the chain it writes is clean for each of them
REWRITTEN = frozenset({"DS301", "DS302", "DS303", "DS304", "DS305", "DS306", "DS309", "DS314"})


@dataclasses.dataclass(frozen=True)
class Advice:
    """A finding `check` fails on, and the next step that avoids or accepts it."""

    finding: Finding
    hint: str

    def to_json(self) -> dict[str, Any]:
        return {**self.finding.to_json(), "hint": self.hint}


@dataclasses.dataclass(frozen=True)
class Written:
    """How `make` was asked to write, as far as the advice depends on it."""

    message: str
    paths: Sequence[Path]
    #: the online rewrites were written (`--safe`, or the PostgreSQL default)
    safe: bool
    #: the backend has online rewrites (PostgreSQL)
    online: bool
    sql: bool


def advise(findings: Sequence[Finding], threshold: str, written: Written) -> tuple[Advice, ...]:
    """One piece of advice per finding at or above `threshold` (what `check` fails on)."""
    return tuple(
        Advice(f, _hint(f, written)) for f in findings if rank(f.severity) >= rank(threshold)
    )


def _hint(finding: Finding, written: Written) -> str:
    remove = "remove " + ", ".join(p.name for p in written.paths)
    if finding.code in REWRITTEN and written.online and not written.safe:
        command = f"dbshift make --safe -m {shlex.quote(written.message)}"
        why = " (Python migrations: the SQL form cannot clean up a failed build)"
        return f"{remove} and run `{command}`: it writes this change without the lock" + (
            why if written.sql else ""
        )
    if finding.code in REWRITTEN and written.safe:
        command = f"dbshift make -m {shlex.quote(written.message)}"
        return (
            "only a named constraint can be added NOT VALID and validated later: give the "
            f"models' MetaData a naming_convention, {remove} and run `{command}`"
        )
    name = Path(finding.file).name
    comment = (
        f"`-- dbshift:ignore {finding.code}` above line {finding.line}"
        if name.endswith(".sql")
        else f"`# dbshift: ignore[{finding.code}]` to line {finding.line}"
    )
    return (
        f"see docs/lint.md#{finding.code.lower()} for the alternative; when the change is "
        f"meant, add {comment} of {name}"
    )
