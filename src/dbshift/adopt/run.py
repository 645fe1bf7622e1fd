"""`dbshift adopt` put together: the files converted (when the other tool's project
is there), then the database taken over (when a URL is configured), as the API's
`adopt` and `dbshift.aio.adopt` run it (the files on the caller's thread, the database
part as a job on a connection, sync or async)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

import sqlalchemy as sa

from dbshift.adopt import alembic
from dbshift.adopt.files import Written, refuse_overlap, write_all
from dbshift.adopt.takeover import take_over
from dbshift.autogen import load_models
from dbshift.config import Config, mask_url
from dbshift.errors import UsageError
from dbshift.migrations.project import Project
from dbshift.migrations.scripts import scan
from dbshift.results import AdoptReport
from dbshift.runner.adopted import VersionTable


@dataclasses.dataclass(frozen=True)
class Prepared:
    """The files side done: what the database side needs."""

    config: Config
    source: Path | None
    written: Written
    project: Project
    table: VersionTable
    #: dbshift id of each converted migration, by the other tool's revision id
    origins: dict[str, str]

    def report(self) -> AdoptReport:
        """The report of the files side alone."""
        w = self.written
        return AdoptReport(
            alembic.TOOL, self.source, self.config.migrations_dir, w.written, w.unchanged
        )


def prepare(
    config: Config,
    source: str | Path | None = None,
    *,
    version_table: str | None = None,
    version_table_schema: str | None = None,
) -> Prepared:
    """Convert the Alembic project at `source` (alembic.ini, pyproject.toml, or a folder
    holding one; default: the working directory) into the migrations folder. Without
    one, the converted files already there are what the database is taken over with."""
    folder = config.migrations_dir
    found = alembic.find(Path(source) if source is not None else None)
    if source is not None and found is None:
        raise UsageError(
            f"no Alembic project at {source}",
            hint="give the alembic.ini (Flask-Migrate: migrations/alembic.ini) or its folder",
        )
    written = Written((), ())
    table = VersionTable(version_table or alembic.DEFAULT_VERSION_TABLE, version_table_schema)
    if found is not None:
        project = alembic.read_project(
            found, version_table=version_table, version_table_schema=version_table_schema
        )
        table = VersionTable(project.version_table, project.version_table_schema)
        forbidden = [project.script_location, *project.version_locations]
        refuse_overlap(folder, forbidden)
        convention = alembic.models_convention(load_models(config)) if config.models else None
        converted = alembic.convert(project, _not_converted(folder), convention)
        written = write_all(folder, converted, forbidden)
    elif not folder.is_dir() or not _origins(folder):
        raise UsageError(
            "no Alembic project found (alembic.ini, migrations/alembic.ini, or "
            "[tool.alembic] in pyproject.toml) and no converted migrations in "
            f"{folder}",
            hint="run dbshift adopt where alembic.ini is, or give its path: "
            "dbshift adopt path/to/alembic.ini",
        )
    project_files = Project.read(config)
    return Prepared(config, found, written, project_files, table, _origins(folder))


def database_job(
    prepared: Prepared, *, drop_version_table: bool
) -> Callable[[sa.Connection], AdoptReport]:
    def job(conn: sa.Connection) -> AdoptReport:
        done = take_over(
            conn, prepared.project, prepared.table, prepared.origins, drop=drop_version_table
        )
        return dataclasses.replace(
            prepared.report(),
            url=mask_url(prepared.config.require_url()),
            version_table=done.version_table,
            heads=done.heads,
            recorded=done.recorded,
            already=done.already,
            dropped=done.dropped,
            logged=done.logged,
        )

    return job


def _texts(folder: Path) -> dict[str, str]:
    if not folder.is_dir():
        return {}
    return {s.id: s.path.read_text(encoding="utf-8") for s in scan(folder) if s.kind == "python"}


def _origins(folder: Path) -> dict[str, str]:
    """The other tool's id -> dbshift id, from the converted files' headers."""
    return {origin: mid for mid, origin in alembic.origins(_texts(folder)).items()}


def _not_converted(folder: Path) -> set[str]:
    """Ids of the folder's migrations that no conversion wrote (a mapped id avoids them)."""
    if not folder.is_dir():
        return set()
    converted = set(alembic.origins(_texts(folder)))
    return {s.id for s in scan(folder)} - converted
