"""Replay: walking migrations in memory, the one loop the runner, offline SQL, `make` and
the linter share.

`Replay.walk` takes migration ids in the order the caller chose and yields, for each,
the operations it runs in that direction (its upgrade; its written downgrade; or, when
none is written, the inverse of its upgrade, derived from the schema its upgrade starts
from) and, when the walk tracks a snapshot, the schema before and after them. Each
migration's code is loaded once per `Replay`. What the callers do with a step is theirs:
the runner executes the operations, offline SQL renders them, `make` keeps the snapshot;
the linter reads the facts of the loaded upgrades and asks for the downgrade (written or
derived) of the migrations it judges.
docs/architecture.md ("Replay") states the rules.

`replayed` is `make`'s use: the schema the whole history builds, cached in
`__pycache__` (`ReplayCache`), or None when a migration runs raw DDL.

Migration code (the loader, the operations) is imported on first use: a runner with
nothing to run, and every reading command, never load it.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, overload

from dbshift.errors import IrreversibleMigration
from dbshift.migrations.graph import Direction, Graph
from dbshift.migrations.scripts import Script, write_cache
from dbshift.schema.snapshot import Snapshot

if TYPE_CHECKING:
    from sqlalchemy.engine import Dialect

    from dbshift.migrations.loader import MigrationCode
    from dbshift.ops import Operation
    from dbshift.ops.context import Compiled


@dataclasses.dataclass(frozen=True)
class Replayed:
    """One migration of a walk, in the walk's direction."""

    script: Script
    direction: Direction
    #: what it runs: the upgrade, the written downgrade, or the derived inverse
    operations: tuple[Operation, ...]
    #: the operations are the upgrade's inverse (no downgrade is written)
    derived: bool
    #: going up, without a snapshot, for a walk given kept statements (`Replay`'s
    #: `compiled`): the upgrade's statements, compiled; `operations` is then empty (the
    #: file was not loaded)
    compiled: Compiled | None = dataclasses.field(default=None, kw_only=True)

    @property
    def id(self) -> str:
        return self.script.id

    @property
    def raw_ddl(self) -> bool:
        """Raw SQL among the operations changes the schema (see `raw_ddl`): a snapshot
        tracked past it misses what that SQL did. Asked for by `make` only (it renders
        SQLAlchemy statements as text)."""
        return raw_ddl(self.operations)


@dataclasses.dataclass(frozen=True)
class Tracked(Replayed):
    """A migration of a walk that tracks a snapshot: the schema before its operations,
    and after them (`op.apply` of each, in order)."""

    before: Snapshot
    after: Snapshot


class Replay:
    """Walks migrations for one backend (`backend` is the dialect name the migrations'
    `op.dialect` reads); each migration's code is loaded at most once. With `op_lines`,
    loading also notes the line of each Python `op.` call (`MigrationCode.op_lines`, for
    the linter's findings; runs and replays do without: it costs a frame walk per call).

    `compiled` (the runner's, `dbshift.runner.cache`) gives a migration's upgrade as the
    statements it compiled to when it ran before, or None: a walk going up without a
    snapshot yields those instead of loading the file."""

    def __init__(
        self,
        scripts: Mapping[str, Script],
        graph: Graph,
        backend: str,
        *,
        op_lines: bool = False,
        compiled: Callable[[Script], Compiled | None] | None = None,
    ) -> None:
        self.scripts = scripts
        self.graph = graph
        self.backend = backend
        self.op_lines = op_lines
        self.compiled = compiled
        self._code: dict[str, MigrationCode] = {}
        self._hits: dict[str, Compiled] = {}  # the kept statements a walk yielded, by id
        #: the schema of a migration and its ancestors (see `schema_before`), by id
        self._built: dict[str, Snapshot] = {}

    def code(self, migration_id: str) -> MigrationCode:
        """The migration's loaded code (loaded now if it was not yet)."""
        code = self._code.get(migration_id)
        if code is None:
            # lazy: the loader imports migration code; status and history never reach it
            from dbshift.migrations import loader

            code = loader.load(self.scripts[migration_id], self.backend, lines=self.op_lines)
            self._code[migration_id] = code
        return code

    def lines(self, migration_id: str, direction: Direction) -> tuple[int, ...]:
        """The source line of each statement a walk found for the migration going
        `direction`, as far as its code tells (SQL migrations do); () when no walk
        loaded it (nothing is loaded here)."""
        code = self._code.get(migration_id)
        if code is None:
            hit = self._hits.get(migration_id) if direction == "up" else None
            return hit.lines if hit is not None else ()
        return code.up_lines if direction == "up" else code.down_lines

    @overload
    def walk(
        self, ids: Iterable[str], direction: Direction, start: Snapshot
    ) -> Iterator[Tracked]: ...

    @overload
    def walk(
        self, ids: Iterable[str], direction: Direction, start: None = None
    ) -> Iterator[Replayed]: ...

    def walk(
        self, ids: Iterable[str], direction: Direction, start: Snapshot | None = None
    ) -> Iterator[Replayed]:
        """Each migration of `ids`, in the order given, with what it runs going
        `direction`. The caller orders them (parents first going up, children first
        going down); a walk loads each migration when it reaches it, so a caller that
        stops early loads no more. With a `start` snapshot each step is `Tracked`: its
        `before` is `start` moved past the operations of the steps before it. Going up
        without one, a migration whose statements are kept (`compiled`) is yielded with
        them, not loaded."""
        snapshot = start
        for migration_id in ids:
            script = self.scripts[migration_id]
            if direction == "up" and snapshot is None and migration_id not in self._code:
                hit = self._kept(script)
                if hit is not None:
                    yield Replayed(script, direction, (), False, compiled=hit)
                    continue
            code = self.code(migration_id)
            derived = False
            if direction == "up":
                operations = code.upgrade
            elif code.downgrade is not None:
                operations = code.downgrade
            else:
                if script.kind == "sql":  # never derived: no need for the schema before
                    raise _no_down_section(code)
                operations = derive_downgrade(code, self.schema_before(migration_id))
                derived = True
            if snapshot is None:
                yield Replayed(script, direction, operations, derived)
                continue
            after = snapshot
            for op in operations:
                after = op.apply(after)
            yield Tracked(script, direction, operations, derived, snapshot, after)
            snapshot = after

    def _kept(self, script: Script) -> Compiled | None:
        hit = self._hits.get(script.id)
        if hit is None and self.compiled is not None:
            hit = self.compiled(script)
            if hit is not None:
                self._hits[script.id] = hit
        return hit

    def schema(self, ids: Iterable[str], start: Snapshot | None = None) -> Snapshot:
        """The schema the upgrades of `ids` build on `start` (default: an empty
        schema), applied in the graph's order."""
        snapshot = Snapshot() if start is None else start
        for step in self.walk(self.graph.topo_order(ids), "up", snapshot):
            snapshot = step.after
        return snapshot

    def schema_before(self, migration_id: str) -> Snapshot:
        """The schema a migration's upgrade starts from, as its derived downgrade sees
        it: its ancestors' upgrades replayed on an empty schema in the graph's order
        (migrations of other branches are not in it).

        Along a chain this is the parent's schema plus the parent's upgrade, so each
        schema is kept (`_built`) and a downgrade of many migrations replays each
        ancestor once; a merge's ancestors are replayed anew."""
        chain: list[str] = []  # ancestors whose schema is not known yet, nearest first
        node = migration_id
        while True:
            parents = self.graph.parents_of(node)
            if len(parents) != 1:
                ancestors = self.graph.ancestors([node], inclusive=False) if parents else ()
                snapshot = self.schema(ancestors)  # the schema `node` starts from
                break
            (node,) = parents
            if node in self._built:
                snapshot = self._built[node]
                break
            chain.append(node)
        for step in self.walk(reversed(chain), "up", snapshot):
            snapshot = self._built[step.id] = step.after
        return snapshot


def derive_downgrade(code: MigrationCode, before: Snapshot) -> tuple[Operation, ...]:
    """The inverse of a migration's upgrade, last operation first, given the schema
    `before` it; IrreversibleMigration when one cannot be undone, or for a SQL
    migration (its downgrade is its `-- dbshift:down` section, never derived)."""
    if code.script.kind == "sql":
        raise _no_down_section(code)
    # lazy: operation code, which status and history never load
    from dbshift.ops.base import inverse

    name = code.script.name
    try:
        return tuple(inverse(code.upgrade, before))
    except IrreversibleMigration as error:
        raise IrreversibleMigration(
            f"{name}: {error.message}",
            migration=code.script.id,
            hint=error.hint or "write a downgrade(op) function in the migration",
        ) from None


def _no_down_section(code: MigrationCode) -> IrreversibleMigration:
    name, migration_id = code.script.name, code.script.id
    by_hand = (
        f", or revert it by hand and record that with `dbshift repair --rolled-back {migration_id}`"
    )
    if code.empty_down:
        return IrreversibleMigration(
            f"the `-- dbshift:down` section of {name} is empty",
            migration=migration_id,
            hint="write the statements that undo the up section under it" + by_hand,
        )
    return IrreversibleMigration(
        f"{name} has no `-- dbshift:down` section",
        migration=migration_id,
        hint="add `-- dbshift:down` after the up section, with the statements that undo it"
        + by_hand,
    )


#: statements that change the schema: raw SQL that starts with one cannot be replayed
_DDL = re.compile(r"^\s*(create|alter|drop|rename|comment)\b", re.IGNORECASE)
_LEADING_COMMENTS = re.compile(r"^(\s*(--[^\n]*\n|/\*.*?\*/))*", re.DOTALL)


def raw_ddl(operations: Sequence[Operation]) -> bool:
    """Whether raw SQL among `operations` changes the schema (CREATE, ALTER, DROP,
    RENAME, COMMENT, after any leading comments), or a body that reads the database as
    it runs (`op.get_bind()`, `Operation.schema_unknown`) may: replay cannot follow it.
    Raw data statements, bulk inserts and `op.run` functions are taken not to change it."""
    # lazy: operation code, which status and history never load
    from dbshift.ops import ExecuteSQL

    for op in operations:
        if op.schema_unknown:  # a body that reads the database as it runs (ops/live.py)
            return True
        if isinstance(op, ExecuteSQL):
            text = op.sql if isinstance(op.sql, str) else str(op.sql)
            if _DDL.match(_LEADING_COMMENTS.sub("", text, count=1)):
                return True
    return False


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
    walk = Replay(by_id, graph, dialect.name).walk(
        graph.topo_order(by_id.keys() - done), "up", snapshot
    )
    for step in walk:
        if step.raw_ddl:
            return None
        snapshot = step.after
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

    VERSION = 3  # 2: columns remember `persisted`; 3: tables and columns add their enum types

    def __init__(self, folder: Path, dialect: str) -> None:
        self.path = folder / "__pycache__" / f"dbshift-replay-{dialect}.pickle"

    def load(self, scripts: dict[str, Script]) -> tuple[Snapshot, set[str]]:
        # lazy: only make reads and writes the replay cache
        import pickle

        from dbshift._version import __version__

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
        # lazy: only make reads and writes the replay cache
        import pickle

        from dbshift._version import __version__

        covered = {i: s.checksum for i, s in scripts.items()}
        try:
            data = pickle.dumps((self.VERSION, __version__, covered, snapshot))
        except (pickle.PicklingError, TypeError, AttributeError):
            return  # a type that cannot be pickled: replay every time
        write_cache(self.path, data)
