"""`dbshift.sum`: the migrations folder's integrity file.

The first line holds a total over every other line; then one line per migration file,
sorted by id, with a hash chained over the lines before it::

    total 4mY0m0y...
    20260101T000000_create_users.py Xq1...
    20260102T093000_add_email.sql 9bA...

A line's hash covers the previous line's hash, the file's name and its content (line
endings normalized, see `scripts.checksum`). Any edit, addition or removal that did not
go through dbshift shows; and two git branches that each add a migration both change
the total line and append at the same place, so git reports a conflict instead of
merging two histories silently. The file detects accidents and tampering by people who
do not run dbshift; it is not a signature (anyone can rewrite it with `dbshift rehash`).

`drift` compares the file with the scripts and says what differs; `audit` decides what
is an error and what dbshift records by itself (a change git has not committed).
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
from collections.abc import Iterable, Sequence
from pathlib import Path

from dbshift import git
from dbshift.errors import IntegrityError
from dbshift.files import write_atomic
from dbshift.migrations.scripts import SUM_FILE, CleanSums, Script

NAME = SUM_FILE
_TOTAL = "total"
_CONFLICT = ("<<<<<<<", "=======", ">>>>>>>", "|||||||")


def _digest(data: str) -> str:
    raw = hashlib.sha256(data.encode()).digest()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _link(previous: str, name: str, checksum: str) -> str:
    return _digest(f"{previous}\n{name}\n{checksum}")


def render(scripts: Iterable[Script]) -> str:
    """The sum file for these scripts (any order: lines are sorted by id)."""
    lines, previous = [], ""
    for script in sorted(scripts, key=lambda s: s.id):
        previous = _link(previous, script.name, script.checksum)
        lines.append(f"{script.name} {previous}")
    body = "".join(f"{line}\n" for line in lines)
    return f"{_TOTAL} {_digest(body)}\n{body}"


def write(folder: Path, scripts: Iterable[Script]) -> Path:
    """Write the sum file atomically (a reader never sees half of it)."""
    path = folder / NAME
    text = render(scripts)
    write_atomic(path, text)
    return path


@dataclasses.dataclass(frozen=True)
class Recorded:
    """One side of a sum file: its lines as (name, hash), and whether the total holds."""

    entries: tuple[tuple[str, str], ...]
    total_ok: bool

    @property
    def names(self) -> set[str]:
        return {name for name, _ in self.entries}

    def edited(self, checksums: dict[str, str]) -> list[str]:
        """Names whose file exists with other content than was recorded. Each line is
        checked against the recorded line before it, so one edit names one file."""
        found, previous = [], ""
        for name, recorded in self.entries:
            current = checksums.get(name)
            if current is not None and _link(previous, name, current) != recorded:
                found.append(name)
            previous = recorded
        return found


@dataclasses.dataclass(frozen=True)
class SumFile:
    """A parsed sum file. After a git merge it may hold two sides (ours, theirs)
    between conflict markers; each side is checked on its own."""

    sides: tuple[Recorded, ...]
    conflicted: bool
    malformed: str | None = None  # the first line that is not `name hash`

    @property
    def names(self) -> set[str]:
        return set().union(*(side.names for side in self.sides))


def read(folder: Path) -> SumFile | None:
    """The folder's sum file, or None when there is none."""
    try:
        text = (folder / NAME).read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except UnicodeDecodeError:
        return SumFile((), False, malformed="not UTF-8 text")
    return parse(text)


def parse(text: str) -> SumFile:
    ours: list[str] = []
    theirs: list[str] = []
    state = "both"  # both, ours, base (diff3 style), theirs
    conflicted = False
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith(_CONFLICT):
            conflicted = True
            marker = line[:7]
            state = {"<<<<<<<": "ours", "|||||||": "base", "=======": "theirs"}.get(marker, "both")
            continue
        if not line or state == "base":
            continue
        if state in ("both", "ours"):
            ours.append(line)
        if state in ("both", "theirs"):
            theirs.append(line)
    sides = [_side(ours)] + ([_side(theirs)] if conflicted else [])
    malformed = next((side for side in sides if isinstance(side, str)), None)
    if malformed is not None:
        return SumFile((), conflicted, malformed=malformed)
    return SumFile(tuple(s for s in sides if isinstance(s, Recorded)), conflicted)


def _side(lines: Sequence[str]) -> Recorded | str:
    if not lines:
        return "empty"
    head, *body = lines
    key, _, total = head.partition(" ")
    if key != _TOTAL or not total:
        return head
    entries = []
    for line in body:
        name, _, recorded = line.rpartition(" ")  # names may hold spaces, hashes never
        if not name or not recorded:
            return line
        entries.append((name, recorded))
    text = "".join(f"{line}\n" for line in body)
    return Recorded(tuple(entries), _digest(text) == total.strip())


# -- what differs ------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Drift:
    """How the files differ from the sum file (empty lists: they agree)."""

    added: tuple[str, ...] = ()  # files the sum file does not record
    removed: tuple[str, ...] = ()  # recorded files that are gone
    edited: tuple[str, ...] = ()  # files whose content changed
    tampered: bool = False  # a total that does not match its lines

    def __bool__(self) -> bool:
        return bool(self.added or self.removed or self.edited or self.tampered)


def drift(recorded: SumFile, scripts: Sequence[Script]) -> Drift:
    checksums = {s.name: s.checksum for s in scripts}
    names = recorded.names
    edited: dict[str, None] = {}
    for side in recorded.sides:
        edited.update(dict.fromkeys(side.edited(checksums)))
    return Drift(
        added=tuple(sorted(set(checksums) - names)),
        removed=tuple(sorted(names - set(checksums))),
        edited=tuple(edited),
        tampered=not all(side.total_ok for side in recorded.sides),
    )


# -- policy ------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Audit:
    """The verdict on a folder: errors to report, and changes dbshift records itself
    because git has not committed them yet (a head still being written, added or
    thrown away): `(file name, "changed" | "added" | "removed")`."""

    errors: tuple[IntegrityError, ...]
    unrecorded: tuple[tuple[str, str], ...]


def audit(
    folder: Path, scripts: Sequence[Script], heads: Iterable[str], *, merging: bool = False
) -> Audit:
    """`merging`: conflict markers and files from the other branch that the sum file
    does not record are expected (`merge` and `rebase` resolve them); recorded files
    must still be unchanged."""
    clean = CleanSums(folder, scripts)
    if clean.hit():
        return Audit((), ())
    found = _audit(folder, scripts, heads, merging)
    if not (found.errors or found.unrecorded):
        clean.save()
    return found


def _audit(folder: Path, scripts: Sequence[Script], heads: Iterable[str], merging: bool) -> Audit:
    recorded = read(folder)
    where = f"{folder.name}/{NAME}"
    if recorded is None:
        if not scripts:
            return Audit((), ())
        return Audit(
            (
                IntegrityError(
                    f"{where} is missing ({len(scripts)} migration(s) in the folder)",
                    hint="restore it from version control, or write it with `dbshift rehash` "
                    "after checking the migrations are the ones you expect",
                ),
            ),
            (),
        )
    if recorded.malformed is not None:
        return Audit(
            (
                IntegrityError(
                    f"{where}: cannot read line {recorded.malformed[:60]!r}",
                    hint=_RESTORE_OR_REHASH,
                ),
            ),
            (),
        )
    found = drift(recorded, scripts)
    head_names = {s.name for s in scripts if s.id in set(heads)}
    candidates = {
        **{name: "changed" for name in found.edited if name in head_names},
        **{name: "added" for name in found.added if name in head_names},
        **{name: "removed" for name in found.removed},
    }
    shared = git.committed(folder, sorted(candidates)) if candidates else set()
    fresh = {n: what for n, what in candidates.items() if shared is None or n not in shared}
    drifted = (
        (found.edited, True, _EDITED),
        (found.removed, True, _REMOVED),
        (found.added, not merging, _ADDED),
    )
    errors = [
        IntegrityError(message.format(name=name, sums=NAME), migration=_id(name), hint=hint)
        for names, reported, (message, hint) in drifted
        if reported
        for name in names
        if name not in fresh
    ]
    if recorded.conflicted and not merging:
        errors.append(
            IntegrityError(
                f"{where} has git conflict markers: two branches each added migrations",
                hint="run `dbshift rebase` to put this branch's migrations after the other "
                "branch's (or `dbshift merge`); either rewrites the file",
            )
        )
    if found.tampered and not errors:
        errors.append(
            IntegrityError(
                f"{where} was edited by hand: its total does not match its lines",
                hint=_RESTORE_OR_REHASH,
            )
        )
    return Audit(tuple(errors), tuple(fresh.items()))


#: the error (message, hint) of a file whose sum drifted: edited, gone, or not recorded
_EDITED = (
    "{name} changed since {sums} recorded it",
    "restore it from version control: a migration others may have applied is never "
    "edited, write a new one. If it is applied nowhere, `dbshift rehash`",
)
_REMOVED = (
    "{name} is recorded in {sums} but the file is gone",
    "restore it from version control; if removing it is intended (it must be applied "
    "nowhere), `dbshift rehash`",
)
_ADDED = (
    "{name} is not recorded in {sums}",
    "create migrations with `dbshift new` or `make`; if this file belongs, `dbshift rehash`",
)


def _id(name: str) -> str:
    """The migration id of a file name in the sum file (its name without the suffix)."""
    return name.rsplit(".", 1)[0]


_RESTORE_OR_REHASH = (
    "restore it from version control, or rewrite it with `dbshift rehash` after checking "
    "the migrations are the ones you expect"
)
