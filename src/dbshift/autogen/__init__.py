"""Autogenerate: the migration that takes the schema where the migrations leave it to
what the models declare.

Three snapshots meet here: the models (`schema/models.py`), the migrations replayed in
memory (no database needed), and a live database (`schema/introspect.py`), used when
some migration is raw DDL that cannot be replayed.
"""

from __future__ import annotations

import dataclasses
import importlib
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect

from dbshift.autogen.compare import Diff, RenameDecider, diff, never
from dbshift.config import Config
from dbshift.errors import ConfigError, IrreversibleMigration, UsageError
from dbshift.ops import ExecuteSQL, Operation
from dbshift.schema.models import metadata_of, snapshot_from_metadata
from dbshift.schema.snapshot import Snapshot

if TYPE_CHECKING:
    from dbshift.api import Project

#: statements that change the schema: raw SQL that starts with one cannot be replayed
_DDL = re.compile(r"^\s*(create|alter|drop|rename|comment)\b", re.IGNORECASE)


@dataclasses.dataclass(frozen=True)
class Source:
    """The schema the models are compared with, and where it came from."""

    snapshot: Snapshot
    #: "migrations" (replayed), "database" (at head) or "dev database"
    kind: str


def load_models(config: Config) -> list[sa.MetaData]:
    """The `MetaData` of every entry in `config.models` ("pkg.module:attr" or objects)."""
    specs = config.models
    if not specs:
        raise ConfigError(
            "no models configured",
            hint='set models = ["myapp.models:Base"] in dbshift.toml, or pass --models',
        )
    if isinstance(specs, (str, sa.MetaData)) or not isinstance(specs, (list, tuple)):
        specs = [specs]
    root = str(config.source.parent if config.source else Path.cwd())
    if root not in sys.path:
        sys.path.insert(0, root)
    return [_metadata(spec) for spec in specs]


def _metadata(spec: Any) -> sa.MetaData:
    if not isinstance(spec, str):
        try:
            return metadata_of(spec)
        except TypeError as error:
            raise ConfigError(str(error), hint="pass MetaData or a declarative base") from None
    module_name, _, attr = spec.partition(":")
    try:
        module = importlib.import_module(module_name)
    except Exception as error:
        raise ConfigError(
            f"cannot import models {module_name!r}: {type(error).__name__}: {error}",
            hint="check `models` in dbshift.toml; run dbshift from the project's root",
        ) from None
    if not attr:
        candidates = [v for v in vars(module).values() if isinstance(v, sa.MetaData)]
        candidates += [
            v.metadata
            for v in vars(module).values()
            if isinstance(getattr(v, "metadata", None), sa.MetaData)
        ]
        if not candidates:
            raise ConfigError(
                f"no MetaData found in {module_name}",
                hint=f'name it: models = ["{module_name}:Base"]',
            )
        return candidates[0]
    obj: Any = module
    for part in attr.split("."):
        obj = getattr(obj, part, None)
    if obj is None:
        raise ConfigError(f"{module_name} has no attribute {attr!r}", hint="check `models`")
    try:
        return metadata_of(obj)
    except TypeError as error:
        raise ConfigError(
            f"{spec}: {error}", hint="point at MetaData or a declarative base"
        ) from None


def models_snapshot(config: Config, dialect: Dialect) -> Snapshot:
    return snapshot_from_metadata(load_models(config), dialect, config.schema)


def replayed(project: Project, dialect: Dialect) -> Snapshot | None:
    """The schema the migrations build, or None when one of them runs raw DDL (which
    cannot be replayed). Raw data statements and `op.run` do not change the schema.

    The result is cached (see `ReplayCache`): only migrations added since the last
    replay are imported."""
    from dbshift.migrations.loader import load

    by_id = {s.id: s for s in project.scripts}
    cache = ReplayCache(project.config.migrations_dir, dialect.name)
    snapshot, done = cache.load(by_id)
    for migration_id in project.graph.topo_order(set(by_id) - done):
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

    VERSION = 1

    def __init__(self, folder: Path, dialect: str) -> None:
        self.path = folder / "__pycache__" / f"dbshift-replay-{dialect}.pickle"

    def load(self, scripts: dict[str, Any]) -> tuple[Snapshot, set[str]]:
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

    def save(self, snapshot: Snapshot, scripts: dict[str, Any]) -> None:
        import os
        import pickle

        from dbshift import __version__

        covered = {i: s.checksum for i, s in scripts.items()}
        temporary = self.path.with_name(f"{self.path.name}.{os.getpid()}.tmp")
        try:
            data = pickle.dumps((self.VERSION, __version__, covered, snapshot))
            self.path.parent.mkdir(exist_ok=True)
            temporary.write_bytes(data)
            os.replace(temporary, self.path)
        except (OSError, pickle.PicklingError, TypeError, AttributeError):
            pass  # read-only, or a type that cannot be pickled: replay every time


def _sql_text(op: ExecuteSQL) -> str:
    text = op.sql if isinstance(op.sql, str) else str(op.sql)
    return re.sub(r"^(\s*(--[^\n]*\n|/\*.*?\*/))*", "", text, flags=re.DOTALL)


def database_snapshot(conn: sa.Connection, config: Config) -> Snapshot:
    from dbshift.schema.introspect import introspect

    prefix = config.table_prefix
    bookkeeping = {f"{prefix}history", f"{prefix}log"}
    return introspect(conn, config.schema, exclude=lambda name: name in bookkeeping)


def inverse(operations: Sequence[Operation], before: Snapshot) -> list[Operation]:
    """The operations that undo `operations`, last first."""
    states = [before]
    for op in operations:
        states.append(op.apply(states[-1]))
    undo: list[Operation] = []
    for op, state in zip(reversed(operations), reversed(states[:-1]), strict=True):
        undo.extend(op.reverse(state))
    return undo


def parse_renames(values: Sequence[str]) -> RenameDecider:
    """`--rename old=new` (a table) and `--rename table.old=new` (a column)."""
    wanted: set[tuple[str, str, str]] = set()
    for value in values:
        old, sep, new = value.partition("=")
        if not sep or not old or not new:
            raise UsageError(
                f"invalid --rename {value!r}",
                hint="write --rename old_table=new_table or --rename table.old=new",
            )
        kind = "column" if "." in old else "table"
        wanted.add((kind, old, new.rpartition(".")[2] if kind == "column" else new))

    def decide(kind: str, old: str, new: str) -> bool:
        return (kind, old, new) in wanted

    return decide


__all__ = [
    "Diff",
    "IrreversibleMigration",
    "RenameDecider",
    "Source",
    "database_snapshot",
    "diff",
    "inverse",
    "load_models",
    "models_snapshot",
    "never",
    "parse_renames",
    "replayed",
]
