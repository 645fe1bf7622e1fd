"""`dbshift adopt` put together: the files converted (when the other tool's project
is there), then the database taken over (when a URL is configured), as the API's
`adopt` and `dbshift.aio.adopt` run it (the files on the caller's thread, the database
part as a job on a connection, sync or async).

With a database, the conversion is checked in full first and written inside the job,
after the other tool's table was read: a table naming a migration that neither the
project nor the folder has is refused before any file is written."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from pathlib import Path

import sqlalchemy as sa

from dbshift.adopt import alembic, yoyo
from dbshift.adopt.alembic import Converted
from dbshift.adopt.files import Written, refuse_overlap, write_all
from dbshift.adopt.takeover import take_over
from dbshift.autogen import load_models
from dbshift.config import Config, mask_url
from dbshift.errors import IntegrityError, UsageError
from dbshift.migrations.project import Project
from dbshift.migrations.scripts import scan
from dbshift.results import AdoptReport
from dbshift.runner.adopted import VersionTable, YoyoTable

#: the tools `adopt` converts from (`--from`)
TOOLS = (alembic.TOOL, yoyo.TOOL)
_SHOWN = {alembic.TOOL: "Alembic", yoyo.TOOL: "yoyo"}


@dataclasses.dataclass(frozen=True)
class Prepared:
    """The files side checked (and written, once `write` ran): what the database side
    needs."""

    config: Config
    tool: str
    source: Path | None
    written: Written
    table: VersionTable
    #: dbshift id of each converted migration, by the other tool's id (those to be
    #: written included)
    origins: dict[str, str]
    converted: tuple[Converted, ...] = ()
    forbidden: tuple[Path, ...] = ()
    done: bool = True  # the files are written
    #: drop the other tool's table(s) after the takeover (its flag was given)
    drop: bool = False

    def write(self) -> Prepared:
        """The converted files written (all or none), if they were not yet."""
        if self.done:
            return self
        written = write_all(
            self.config.migrations_dir, self.converted, self.forbidden, tool=_SHOWN[self.tool]
        )
        return dataclasses.replace(self, written=written, done=True)

    def report(self) -> AdoptReport:
        """The report of the files side alone."""
        w = self.written
        return AdoptReport(
            self.tool, self.source, self.config.migrations_dir, w.written, w.unchanged
        )


def prepare(
    config: Config,
    source: str | Path | None = None,
    *,
    version_table: str | None = None,
    version_table_schema: str | None = None,
    tool: str | None = None,
    write: bool = True,
    drop_alembic_version: bool = False,
    drop_yoyo_tables: bool = False,
) -> Prepared:
    """Convert the project at `source` (Alembic: alembic.ini, pyproject.toml, or a
    folder holding one; yoyo: yoyo.ini, its folder, or the folder of migrations;
    default: the working directory) into the migrations folder. Without one, the
    converted files already there are what the database is taken over with. `tool`:
    "alembic" or "yoyo" (default: whichever is found). `write=False`: checked, not
    written (`Prepared.write` does it). A drop flag for the other tool is refused
    before anything is written (`Prepared.drop`: the one given for this tool)."""
    folder = config.migrations_dir
    start = Path(source) if source is not None else None
    kind, found = _find(start, tool)
    if source is not None and found is None:
        hints = {
            yoyo.TOOL: "the yoyo.ini, its folder, or the folder of yoyo migrations",
            alembic.TOOL: "the alembic.ini (Flask-Migrate: migrations/alembic.ini) or its folder",
        }
        shown = _SHOWN[tool] if tool else "Alembic or yoyo"
        hint = hints[tool] if tool else f"{hints[alembic.TOOL]}; or {hints[yoyo.TOOL]}"
        raise UsageError(f"no {shown} project at {source}", hint=f"give {hint}")
    if found is None:
        known = _origins(folder)
        if not known:
            raise UsageError(
                "no Alembic project found (alembic.ini, migrations/alembic.ini, or "
                "[tool.alembic] in pyproject.toml), no yoyo.ini, and no converted "
                f"migrations in {folder}",
                hint="run dbshift adopt where alembic.ini or yoyo.ini is, or give its "
                "path: dbshift adopt path/to/alembic.ini (or a yoyo migrations folder)",
            )
        kind = known[0]
        drop = drop_flag(kind, drop_alembic_version, drop_yoyo_tables)
        table: VersionTable = _table(kind, version_table, version_table_schema)
        return Prepared(config, kind, None, Written((), ()), table, known[1], drop=drop)
    drop = drop_flag(kind, drop_alembic_version, drop_yoyo_tables)
    converted: Sequence[Converted]
    if kind == yoyo.TOOL:
        project = yoyo.read_project(found, migration_table=version_table)
        table = YoyoTable(project.migration_table, version_table_schema)
        forbidden: tuple[Path, ...] = project.sources
        refuse_overlap(folder, forbidden, "yoyo")
        converted = yoyo.convert(project, _not_converted(folder))
    else:
        project_a = alembic.read_project(
            found, version_table=version_table, version_table_schema=version_table_schema
        )
        table = VersionTable(project_a.version_table, project_a.version_table_schema)
        forbidden = (project_a.script_location, *project_a.version_locations)
        refuse_overlap(folder, forbidden)
        convention = alembic.models_convention(load_models(config)) if config.models else None
        converted = alembic.convert(project_a, _not_converted(folder), convention)
    shown = _SHOWN[kind]
    written = write_all(folder, converted, forbidden, tool=shown, dry_run=not write)
    origins = {c.origin: c.id for c in converted}
    return Prepared(
        config, kind, found, written, table, origins, tuple(converted), forbidden, write, drop
    )


def _find(start: Path | None, tool: str | None) -> tuple[str, Path | None]:
    if tool == yoyo.TOOL:  # --from yoyo: any file given is its ini
        return tool, start if start is not None and start.is_file() else yoyo.find(start)
    if tool == alembic.TOOL:
        return tool, alembic.find(start)
    if start is not None:
        # a folder: Alembic's files say so (alembic.ini, [tool.alembic]); a file: any
        # file is Alembic's configuration to alembic.find, so yoyo's is asked first
        first = (alembic, yoyo) if start.is_dir() else (yoyo, alembic)
        for module in first:
            found = module.find(start)
            if found is not None:
                return module.TOOL, found
        return alembic.TOOL, None
    found_alembic, found_yoyo = alembic.find(None), yoyo.find(None)
    if found_alembic is not None and found_yoyo is not None:
        raise UsageError(
            "both an Alembic project and a yoyo.ini are here",
            hint="say which to adopt: dbshift adopt --from alembic (or --from yoyo)",
        )
    if found_yoyo is not None:
        return yoyo.TOOL, found_yoyo
    return alembic.TOOL, found_alembic


def _table(tool: str, name: str | None, schema: str | None) -> VersionTable:
    if tool == yoyo.TOOL:
        return YoyoTable(name or yoyo.DEFAULT_MIGRATION_TABLE, schema)
    return VersionTable(name or alembic.DEFAULT_VERSION_TABLE, schema)


def database_job(
    prepared: Prepared, *, drop_version_table: bool
) -> Callable[[sa.Connection], AdoptReport]:
    def job(conn: sa.Connection) -> AdoptReport:
        if not prepared.done:
            _refuse_unknown(conn, prepared)
        ready = prepared.write()
        project = Project.read(ready.config)
        origins = {**_origins(ready.config.migrations_dir)[1], **ready.origins}
        done = take_over(conn, project, ready.table, origins, drop=drop_version_table)
        return dataclasses.replace(
            ready.report(),
            url=mask_url(ready.config.require_url()),
            version_table=done.version_table,
            heads=done.heads,
            recorded=done.recorded,
            already=done.already,
            dropped=done.dropped,
            logged=done.logged,
        )

    return job


def _refuse_unknown(conn: sa.Connection, prepared: Prepared) -> None:
    """Before any file is written: the other tool's table names no migration that
    neither the conversion nor the folder has (`take_over` checks again, under the
    lock)."""
    began = not conn.in_transaction()
    heads = prepared.table.heads(conn)
    if began and conn.in_transaction():  # the read began one: take_over runs its own
        conn.rollback()
    if not heads:
        return
    known = {**_origins(prepared.config.migrations_dir)[1], **prepared.origins}
    unknown = [h for h in heads if h not in known]
    if unknown:
        noun = "revision" if prepared.tool == alembic.TOOL else "migration"
        folder = prepared.config.migrations_dir.name
        more = f" (and {len(unknown) - 1} more)" if len(unknown) > 1 else ""
        raise IntegrityError(
            f"{prepared.table.shown} names {noun} {unknown[0]}{more}, which no converted "
            f"migration in {folder}/ comes from, nor {prepared.source}",
            hint=f"adopt from the {_SHOWN[prepared.tool]} project that has it (the code "
            "the database runs); nothing was written",
        )


def _texts(folder: Path) -> dict[str, str]:
    if not folder.is_dir():
        return {}
    return {s.id: s.path.read_text(encoding="utf-8") for s in scan(folder)}


def _origins(folder: Path) -> tuple[str, dict[str, str]]:
    """(the tool, the other tool's id -> dbshift id), from the converted files'
    headers; Alembic's where both are there."""
    texts = _texts(folder)
    for tool, read in ((alembic.TOOL, alembic.origins), (yoyo.TOOL, yoyo.origins)):
        found = {origin: mid for mid, origin in read(texts).items()}
        if found:
            return tool, found
    return alembic.TOOL, {}


def _not_converted(folder: Path) -> set[str]:
    """Ids of the folder's migrations that no conversion wrote (a mapped id avoids them)."""
    if not folder.is_dir():
        return set()
    texts = _texts(folder)
    converted = set(alembic.origins(texts)) | set(yoyo.origins(texts))
    return {s.id for s in scan(folder)} - converted


def drop_flag(tool: str, drop_alembic_version: bool, drop_yoyo_tables: bool) -> bool:
    """Whether to drop `tool`'s table(s); the other tool's flag is refused."""
    mine, other = (
        (drop_yoyo_tables, drop_alembic_version)
        if tool == yoyo.TOOL
        else (drop_alembic_version, drop_yoyo_tables)
    )
    if other:
        wrong, right = (
            (VersionTable.drop_flag, YoyoTable.drop_flag)
            if tool == yoyo.TOOL
            else (YoyoTable.drop_flag, VersionTable.drop_flag)
        )
        raise UsageError(
            f"{wrong} is for another tool: this is a {_SHOWN[tool]} project",
            hint=f"pass {right} instead",
        )
    return mine
