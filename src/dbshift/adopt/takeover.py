"""Taking over the database: the other tool's version table read, every ancestor of
its heads recorded in dbshift's history (`applied_by` = `adopted from <tool>`, the
checksum of the converted file), one `adopt` event logged; under the runner lock and in
one transaction, so two deploys adopting at once record it once.

Idempotent: a migration already recorded with the same checksum is left alone, and an
adoption that records nothing new, with the version table as the last one found it,
logs nothing. A row with another checksum is refused (exit 4), as `upgrade` would.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

import sqlalchemy as sa

from dbshift.errors import IntegrityError, UsageError
from dbshift.history import History
from dbshift.migrations.project import Project
from dbshift.runner.adopted import VersionTable, from_detail


@dataclasses.dataclass(frozen=True)
class Takeover:
    """What the takeover found and did."""

    version_table: str
    heads: tuple[str, ...]  # the other tool's heads (its ids), as its table said
    recorded: tuple[str, ...]  # dbshift ids recorded now, parents first
    already: tuple[str, ...]  # dbshift ids that were recorded before
    dropped: bool  # the version table was dropped now
    logged: bool  # an `adopt` event was written


def take_over(
    conn: sa.Connection,
    project: Project,
    table: VersionTable,
    origins: Mapping[str, str],
    *,
    drop: bool,
) -> Takeover:
    """`origins`: the dbshift id of every converted migration, by the other tool's id."""
    runner = project.runner(conn)

    def work(conn: sa.Connection, history: History) -> Takeover:
        last = history.last_event(conn, "adopt")
        before = from_detail(last["detail"]) if last is not None else None
        heads = table.heads(conn)
        if heads is None:
            if before is not None and before[2]:  # dropped by an earlier adopt
                return Takeover(table.shown, before[1], (), (), False, False)
            raise UsageError(
                f"no {table.shown} table in the database: nothing to take over from {table.tool}",
                hint="point --url at the database the project's upgrades ran on (a new "
                "database needs no adoption: `dbshift upgrade`), or pass --version-table",
            )
        unknown = [h for h in heads if h not in origins]
        if unknown:
            noun = "migration" if table.lists_all else "revision"
            raise IntegrityError(
                f"{table.shown} names {noun} {unknown[0]}, which no converted migration "
                f"in {project.config.migrations_dir.name}/ comes from",
                hint=f"run `dbshift adopt` with the {table.tool} project that has it, so "
                f"its {noun}s are converted too",
            )
        wanted = project.graph.ancestors([origins[h] for h in heads]) if heads else set()
        if table.lists_all:  # every applied migration listed: dbshift's parents must be
            _refuse_gap(table, heads, origins, wanted, project)
        rows = {r.id: r for r in history.rows(conn)}
        scripts = {s.id: s for s in project.scripts}
        recorded, already = [], []
        for migration_id in project.graph.topo_order(wanted):
            script, row = scripts[migration_id], rows.get(migration_id)
            if row is not None and row.applied and row.checksum == script.checksum:
                already.append(migration_id)
                continue
            if row is not None:
                state = "another checksum" if row.applied else "a partial run"
                raise IntegrityError(
                    f"{script.name} is recorded in the history with {state}",
                    migration=migration_id,
                    hint="see `dbshift status`; `dbshift repair` corrects the history",
                )
            history.record_adopted(conn, migration_id, script.checksum, table.tool)
            recorded.append(migration_id)
        moved = before is None or set(before[1]) != set(heads)
        logged = bool(recorded) or moved or drop
        if logged:
            detail = table.detail(heads, drop)
            conn.execute(history.log_event("adopt", None, None, detail))
        if drop:
            table.drop(conn)
        return Takeover(table.shown, heads, tuple(recorded), tuple(already), drop, logged)

    return runner.under_lock(work)


def _refuse_gap(
    table: VersionTable,
    applied: tuple[str, ...],
    origins: Mapping[str, str],
    wanted: set[str],
    project: Project,
) -> None:
    """A table that lists every applied migration (yoyo) must list every dbshift parent
    of them too: dbshift cannot record a migration applied while one it applies first
    is not (yoyo applies such a migration later; dbshift would never)."""
    listed = {origins[a] for a in applied}
    missing = [m for m in project.graph.topo_order(wanted) if m not in listed]
    if not missing:
        return
    by_id = {v: k for k, v in origins.items()}
    gap = missing[0]
    later = next(m for m in project.graph.topo_order(listed) if gap in project.graph.ancestors([m]))
    raise IntegrityError(
        f"{table.shown} names {by_id.get(later, later)} as applied but not "
        f"{by_id.get(gap, gap)}, which dbshift applies before it",
        hint=f"apply the missing one with {table.tool} first (`{table.tool} apply`), then "
        "adopt again",
    )
