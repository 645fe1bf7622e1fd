"""Writing converted migrations: all of them or none, then `dbshift.sum`.

Every file is checked before the first is written: a converted file already in the
folder must be the same text (re-running `adopt` on an unchanged project writes
nothing; after more revisions were added to the other tool, only theirs are new); an
id taken by another migration, or a converted file edited since, is refused. Each new
file is created through `dbshift.files.write_atomic` (never over an existing one);
should a write fail, those already written are removed again, and the sum file is
rewritten last, so a failure leaves the folder as it was.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
from collections.abc import Sequence
from pathlib import Path

from dbshift.adopt.alembic import AdoptError, Converted
from dbshift.errors import DbshiftError
from dbshift.files import write_atomic
from dbshift.migrations import sumfile
from dbshift.migrations.graph import Graph
from dbshift.migrations.scripts import python_parents, require_folder, scan, script_of


@dataclasses.dataclass(frozen=True)
class Written:
    """What writing the converted files did."""

    written: tuple[Path, ...]  # new files
    unchanged: tuple[Path, ...]  # converted before, the same text now


def write_all(
    folder: Path,
    converted: Sequence[Converted],
    forbidden: Sequence[Path],
    *,
    tool: str = "Alembic",
    dry_run: bool = False,
) -> Written:
    """Write `converted` into `folder` (see the module's docstring). `forbidden`: the
    other tool's folders, which must not be the dbshift migrations folder (a
    Flask-Migrate project's `migrations/` is Alembic's). `dry_run`: every check, no
    write (`written` is then what would be written)."""
    refuse_overlap(folder, forbidden, tool)
    scripts = scan(folder) if folder.exists() else []
    existing = {s.id: s for s in scripts}
    if scripts:  # rewriting dbshift.sum must not bless an edit made meanwhile
        heads = Graph({s.id: s.parents for s in scripts}).heads
        found = sumfile.audit(folder, scripts, heads)
        if found.errors:
            raise found.errors[0]
    new: list[Converted] = []
    same: list[Path] = []
    for item in sorted(converted, key=lambda c: c.id):
        path = folder / item.name
        script = existing.get(item.id)
        if script is None and not path.exists():
            new.append(item)
            continue
        current = path.read_text(encoding="utf-8") if path.is_file() else None
        if current == item.text:
            same.append(path)
            continue
        raise AdoptError(
            f"{path.name}: already in {folder} with other content than the conversion "
            f"of {item.source.name}",
            hint="a converted migration is never edited: restore it from version control, "
            "or move the other file away",
        )
    ids = {s.id: s.parents for s in existing.values()}
    _check_graph(folder, ids, new, tool)
    if dry_run:
        return Written(tuple(folder / item.name for item in new), tuple(same))
    written: list[Path] = []
    folder.mkdir(parents=True, exist_ok=True)
    require_folder(folder)
    try:
        for item in new:
            path = folder / item.name
            write_atomic(path, item.text, exclusive=True)
            written.append(path)
        if new or sumfile.read(folder) is None:
            sumfile.write(folder, scan(folder))
    except BaseException:
        for path in written:
            with contextlib.suppress(OSError):
                os.unlink(path)
        raise
    return Written(tuple(written), tuple(same))


def refuse_overlap(folder: Path, forbidden: Sequence[Path], tool: str = "Alembic") -> None:
    """The dbshift migrations folder is none of the other tool's folders, nor inside one."""
    target = folder.resolve()
    for other in forbidden:
        if target == other.resolve() or other.resolve() in target.parents:
            raise AdoptError(
                f"the dbshift migrations folder {folder} is inside the {tool} folder {other}",
                hint="give dbshift another folder: --migrations db/migrations "
                '(or migrations = "..." in dbshift.toml)',
            )


def _check_graph(
    folder: Path, existing: dict[str, tuple[str, ...]], new: Sequence[Converted], tool: str
) -> None:
    """The folder's graph with the new files in it is valid (no missing parent, no
    cycle): checked from their text before any is written."""
    parents = dict(existing)
    for item in new:
        if item.suffix == ".py":
            parents[item.id] = python_parents(item.text, item.name)
        else:
            parents[item.id] = script_of(item.name, item.name, item.text.encode()).parents
    files = {key: f"{key}.py" for key in parents}
    try:
        Graph(parents, files)
    except DbshiftError as error:
        raise AdoptError(
            f"{folder}: the converted revisions do not form a valid graph: {error}",
            hint="check down_revision and depends_on in the Alembic revisions"
            if tool == "Alembic"
            else f"check the depends of the {tool} migrations",
        ) from None
