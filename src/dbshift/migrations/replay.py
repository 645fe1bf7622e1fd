"""The schema the migrations build, replayed in memory with no database.

`make` compares the models with it. Each migration is imported and its operations are
applied to a snapshot; a cache in `__pycache__` keeps the result, so only migrations
added since the last replay are imported.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from sqlalchemy.engine import Dialect

from dbshift.migrations.graph import Graph
from dbshift.migrations.loader import load
from dbshift.migrations.scripts import Script, write_cache
from dbshift.ops import ExecuteSQL
from dbshift.schema.snapshot import Snapshot

#: statements that change the schema: raw SQL that starts with one cannot be replayed
_DDL = re.compile(r"^\s*(create|alter|drop|rename|comment)\b", re.IGNORECASE)


def replayed(
    scripts: Sequence[Script], graph: Graph, folder: Path, dialect: Dialect
) -> Snapshot | None:
    """The schema the migrations build, or None when one of them runs raw DDL (which
    cannot be replayed). Raw data statements and `op.run` do not change the schema.

    The result is cached (see `ReplayCache`): only migrations added since the last
    replay are imported."""
    by_id = {s.id: s for s in scripts}
    cache = ReplayCache(folder, dialect.name)
    snapshot, done = cache.load(by_id)
    for migration_id in graph.topo_order(set(by_id) - done):
        for op in load(by_id[migration_id], dialect.name).upgrade:
            if isinstance(op, ExecuteSQL) and _DDL.match(_sql_text(op)):
                return None
            snapshot = op.apply(snapshot)
    if len(done) < len(by_id):
        cache.save(snapshot, by_id)
    return snapshot


class ReplayCache:
    """The replayed schema of a set of migrations, kept in `__pycache__` beside the
    header cache and keyed by each migration's id and checksum.

    It is reused when every migration it covers is still there, unchanged, with all its
    parents covered too: replaying the rest after it is then a valid order. Like the
    migrations themselves it is trusted code (a pickle); a read-only folder or any
    unreadable cache just means a full replay."""

    VERSION = 2  # 2: columns remember `persisted`

    def __init__(self, folder: Path, dialect: str) -> None:
        self.path = folder / "__pycache__" / f"dbshift-replay-{dialect}.pickle"

    def load(self, scripts: dict[str, Script]) -> tuple[Snapshot, set[str]]:
        import pickle

        from dbshift import __version__

        try:
            version, made_by, covered, snapshot = pickle.loads(self.path.read_bytes())
        except Exception:  # missing, unreadable, or from another version of anything
            return Snapshot(), set()
        usable = (
            version == self.VERSION
            and made_by == __version__
            and isinstance(snapshot, Snapshot)
            and all(
                i in scripts
                and scripts[i].checksum == checksum
                and set(scripts[i].parents) <= covered.keys()
                for i, checksum in covered.items()
            )
        )
        return (snapshot, set(covered)) if usable else (Snapshot(), set())

    def save(self, snapshot: Snapshot, scripts: dict[str, Script]) -> None:
        import pickle

        from dbshift import __version__

        covered = {i: s.checksum for i, s in scripts.items()}
        try:
            data = pickle.dumps((self.VERSION, __version__, covered, snapshot))
        except (pickle.PicklingError, TypeError, AttributeError):
            return  # a type that cannot be pickled: replay every time
        write_cache(self.path, data)


def _sql_text(op: ExecuteSQL) -> str:
    text = op.sql if isinstance(op.sql, str) else str(op.sql)
    return re.sub(r"^(\s*(--[^\n]*\n|/\*.*?\*/))*", "", text, flags=re.DOTALL)
