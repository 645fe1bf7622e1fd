"""`dbshift baseline`: a database no migration tool manages taken over as it is. Its
schema is read (`schema/introspect.py`), the first migration written from it (the
comparison of `make`, from an empty schema to the one read, rendered as `make` renders:
Python, or with `sql` the URL's dialect's SQL) and recorded as applied without running
it: a history row and a `baseline` event. On a fresh database, `upgrade` runs it and
builds the same schema.

All or none: under the runner lock and in one transaction, the file is written (through
`dbshift.files`, never over another), then `dbshift.sum`, then the history row and the
event; should anything fail after the file was written (the row, the commit), the file
is removed and `dbshift.sum` put back, and the transaction rolls back; should the file
fail to be written, no row is written.

Refused (exit 2, nothing written): a database with dbshift history (it is managed
already: `drift` and `make`), an empty one, and a migrations folder that already holds
migrations, unless `after_existing`: then the baseline goes on top of them, holding
what the database has beyond what they build, and they are recorded as applied too."""

from __future__ import annotations

import contextlib
import dataclasses
import os
from collections.abc import Callable, Sequence
from pathlib import Path

import sqlalchemy as sa

from dbshift import autogen
from dbshift.autogen.compare import diff, never
from dbshift.autogen.render import Renderer, sql_body
from dbshift.config import Config, mask_url
from dbshift.dialects import backend_for
from dbshift.errors import UsageError
from dbshift.files import write_atomic
from dbshift.history import History
from dbshift.migrations.project import Project
from dbshift.migrations.scripts import SUM_FILE, new_id, read_script
from dbshift.migrations.writer import render_python, render_sql, run_format, write_new
from dbshift.ops import Operation
from dbshift.ops.base import inverse
from dbshift.results import SchemaBaseline
from dbshift.schema.snapshot import Snapshot


@dataclasses.dataclass(frozen=True)
class Request:
    """`dbshift.api.baseline`'s arguments after the config (documented there)."""

    message: str = "baseline"
    sql: bool = False
    after_existing: bool = False


def prepare(config: Config, request: Request) -> Project:
    """The files side, before any connection: the folder read and, unless
    `after_existing`, refused when it already holds migrations."""
    if not request.message.strip():
        raise UsageError("a migration needs a message", hint='pass -m "what it does"')
    project = Project.read(config)
    if project.scripts and not request.after_existing:
        folder = config.migrations_dir
        raise UsageError(
            f"{folder.name}/ already holds {len(project.scripts)} migration(s): a baseline "
            "is the first one",
            hint="pass --after-existing to write it on top of them (recording them as "
            "applied too), or point --migrations at an empty folder",
        )
    if request.after_existing and len(project.graph.heads) > 1:
        raise UsageError(
            f"several heads: {', '.join(project.graph.heads)}",
            hint="run `dbshift merge` first, so the baseline has one parent",
        )
    return project


def job(
    config: Config, project: Project, request: Request
) -> Callable[[sa.Connection], SchemaBaseline]:
    def run(conn: sa.Connection) -> SchemaBaseline:
        return baseline_on(conn, config, project, request)

    return run


def baseline_on(
    conn: sa.Connection, config: Config, project: Project, request: Request
) -> SchemaBaseline:
    history = History(config.table_prefix, config.schema)
    _refuse_managed(conn, history)
    dialect = conn.dialect
    live = autogen.database_snapshot(conn, config)
    if not (live.tables or live.enums or live.sequences):
        where = f"schema {config.schema!r}" if config.schema else "the database"
        raise UsageError(
            f"{where} is empty: there is no schema to baseline",
            hint="a new database needs no baseline: `dbshift make` (or `new`), then "
            "`dbshift upgrade`",
        )
    live = _as_declared(live, dialect)
    before = Snapshot()
    if request.after_existing and project.scripts:
        replayed = project.replayed(dialect)
        if replayed is None:
            raise UsageError(
                "some migration runs raw DDL, so the schema the migrations build is unknown",
                hint="baseline into an empty migrations folder instead",
            )
        before = replayed
    operations = tuple(diff(before, live, dialect, never, live=True).operations)
    if not operations:
        raise UsageError(
            "the database is exactly what the migrations build: there is nothing to baseline",
            hint="record them as applied with `dbshift stamp heads`",
        )
    parents = list(project.graph.heads)
    content = _content(request, parents, operations, before, dialect)
    taken = [s.id for s in project.scripts]
    migration_id = new_id(request.message, taken)
    kind = "sql" if request.sql else "python"
    notes = tuple(_views(conn, config.schema))
    earlier = tuple(project.graph.topo_order({s.id for s in project.scripts}))
    folder = config.migrations_dir
    written: list[Path] = []
    old_sums = _read_sums(folder)

    def work(conn: sa.Connection, history: History) -> Path:
        _refuse_managed(conn, history)  # another baseline may have won the lock first
        path = write_new(folder, migration_id, kind, content)
        written.append(path)
        run_format(config.format, path)  # before its checksum is taken
        project.write_sums()
        for earlier_id in earlier:
            script = project.script(earlier_id)
            history.record_applied(conn, script.id, script.checksum, 0)
        checksum = read_script(path).checksum
        history.record_applied(conn, migration_id, checksum, 0)
        detail = f"baseline of {len(live.tables)} table(s)"
        conn.execute(history.log_event("baseline", migration_id, checksum, detail))
        return path

    try:
        path = project.runner(conn).under_lock(work)
    except BaseException:
        _undo(written, folder, old_sums)
        raise
    return SchemaBaseline(
        path,
        migration_id,
        mask_url(config.url_text),
        tuple(t.name for t in live.tables.values()),
        tuple(e.name for e in live.enums.values()),
        tuple(s.name for s in live.sequences.values()),
        notes,
        earlier,
    )


def _as_declared(snapshot: Snapshot, dialect: sa.engine.Dialect) -> Snapshot:
    """The schema as a migration declares it: a default the backend's normalizer reads
    as none (PostgreSQL's `nextval(...)` of a SERIAL column, which is autoincrement and
    whose sequence `CREATE TABLE` makes) is left out, else the table would name a
    sequence that does not exist yet."""
    norm = backend_for(dialect).normalizer(dialect)
    tables = {}
    for key, table in snapshot.tables.items():
        columns = tuple(
            dataclasses.replace(c, server_default=None)
            if c.server_default is not None and norm.default(c.server_default, c.type) is None
            else c
            for c in table.columns
        )
        tables[key] = table if columns == table.columns else table.replace(columns=columns)
    return dataclasses.replace(snapshot, tables=tables)


def _refuse_managed(conn: sa.Connection, history: History) -> None:
    if not history.exists(conn):
        return
    rows = history.rows(conn)
    if rows:
        raise UsageError(
            f"the database already has dbshift history ({len(rows)} migration(s) recorded)",
            hint="it is managed already: `dbshift drift` shows what differs from the "
            "migrations, `dbshift make` writes the next one",
        )


def _content(
    request: Request,
    parents: Sequence[str],
    operations: Sequence[Operation],
    before: Snapshot,
    dialect: sa.engine.Dialect,
) -> str:
    undo = inverse(operations, before)
    backends = (dialect.name,)
    if request.sql:
        after = before
        for op in operations:
            after = op.apply(after)
        return render_sql(
            request.message,
            parents,
            sql_body(operations, before, dialect),
            sql_body(undo, after, dialect),
            backends=backends,
        )
    renderer = Renderer()
    up, down = renderer.body(operations), renderer.body(undo)
    return render_python(
        request.message,
        parents,
        up,
        down,
        imports=renderer.import_lines(),
        backends=backends,
    )


def _views(conn: sa.Connection, schema: str | None) -> list[str]:
    """A note for the views the database has, which a baseline does not recreate."""
    try:
        names = sorted(sa.inspect(conn).get_view_names(schema))
    except NotImplementedError:
        return []
    if not names:
        return []
    shown = ", ".join(names[:5]) + (", ..." if len(names) > 5 else "")
    return [
        f"{len(names)} view(s) not recreated by the baseline ({shown}): add their "
        "CREATE VIEW to it by hand (op.execute) if a fresh database needs them"
    ]


def _read_sums(folder: Path) -> bytes | None:
    try:
        return (folder / SUM_FILE).read_bytes()
    except OSError:
        return None


def _undo(written: Sequence[Path], folder: Path, old_sums: bytes | None) -> None:
    """The folder as it was: the new file removed, `dbshift.sum` put back."""
    for path in written:
        with contextlib.suppress(OSError):
            os.unlink(path)
    with contextlib.suppress(OSError):
        if old_sums is None:
            os.unlink(folder / SUM_FILE)
        else:
            write_atomic(folder / SUM_FILE, old_sums)
