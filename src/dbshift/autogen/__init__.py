"""Autogenerate: the migration that takes the schema where the migrations leave it to
what the models declare.

Three snapshots meet here: the models (`schema/models.py`), the migrations replayed in
memory (no database needed), and a live database (`schema/introspect.py`), used when
some migration is raw DDL that cannot be replayed.
"""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import importlib
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import sqlalchemy as sa
from sqlalchemy.engine import Dialect

from dbshift import database
from dbshift.autogen.backends import (
    Reconciled,
    backend_target,
    differences,
    merge_targets,
    reconcile,
    with_backend_sql,
)
from dbshift.autogen.compare import Diff, RenameDecider, diff, never
from dbshift.autogen.validate import refuse_dropping_everything, validate_models
from dbshift.config import Config
from dbshift.dialects import backend_for
from dbshift.errors import ConfigError, UsageError
from dbshift.history import History
from dbshift.schema.introspect import introspect
from dbshift.schema.models import metadata_of, snapshot_from_metadata
from dbshift.schema.snapshot import Snapshot

if TYPE_CHECKING:
    from dbshift.ops import Operation

#: where the schema the models are compared with came from: the migrations replayed,
#: the database at head, or the `--dev-url` scratch database
SourceKind = Literal["migrations", "database", "dev database"]


@dataclasses.dataclass(frozen=True)
class Source:
    """The schema the models are compared with, and where it came from."""

    snapshot: Snapshot
    kind: SourceKind


def load_models(config: Config, *, allow_empty: bool = False) -> list[sa.MetaData]:
    """The `MetaData` of every entry in `config.models` ("pkg.module:attr" or objects).
    An entry without tables is an error unless `allow_empty`: its models' modules were
    most likely never imported, and comparing would propose dropping every table."""
    specs = config.models
    if not specs:
        raise ConfigError(
            "no models configured",
            hint='set models = ["myapp.models:Base"] in dbshift.toml, or pass --models',
        )
    if isinstance(specs, (str, sa.MetaData)) or not isinstance(specs, (list, tuple)):
        specs = [specs]
    root = str(config.source.parent if config.source else Path.cwd())
    with importable(root):
        found = [_metadata(spec) for spec in specs]
    for spec, metadata in zip(specs, found, strict=True):
        if not metadata.tables and not allow_empty:
            raise _no_tables(spec)
    return found


@contextlib.contextmanager
def importable(root: str) -> Iterator[None]:
    """`root` (the project's folder) first on `sys.path` for the duration of the block,
    and taken off again afterwards, also when an import fails: `make` and `diff` leave
    the importing process's path as they found it. The modules imported meanwhile stay
    in `sys.modules`, as any import does. A `root` already on the path is left alone."""
    if root in sys.path:
        yield
        return
    sys.path.insert(0, root)
    try:
        yield
    finally:
        with contextlib.suppress(ValueError):
            sys.path.remove(root)


def _no_tables(spec: Any) -> ConfigError:
    if isinstance(spec, str):
        module = spec.partition(":")[0]
        return ConfigError(
            f"{spec} has no tables",
            hint=f"import the modules that define the models in {module}, "
            'or list them in `models` (models = ["app.models:Base"])',
        )
    return ConfigError(
        f"the models given ({type(spec).__name__}) have no tables",
        hint="import the modules that define the models before passing their MetaData",
    )


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


def models_snapshot(config: Config, dialect: Dialect, *, allow_empty: bool = False) -> Snapshot:
    """What the models declare for `dialect` (see `models_targets`)."""
    return models_targets(config, [dialect], allow_empty=allow_empty)[0][1]


def models_targets(
    config: Config, dialects: Sequence[Dialect], *, allow_empty: bool = False
) -> list[tuple[Dialect, Snapshot]]:
    """The models as they resolve on each of `dialects`, each refused (exit 2) when its
    backend could not create it (`validate.py`) or, unless `allow_empty`, when there are
    no models; `merge_targets` makes one snapshot of them that is right on each (the
    first's types plain, the others' as variants where they differ)."""
    metadatas = load_models(config, allow_empty=allow_empty)
    targets = []
    for dialect in dialects:
        snapshot = snapshot_from_metadata(metadatas, dialect, config.schema)
        if not snapshot.tables and not allow_empty:
            theirs = sorted({str(t.schema) for md in metadatas for t in md.tables.values()})
            wanted = repr(config.schema) if config.schema else "the default schema"
            raise ConfigError(
                f"the models have no tables in {wanted}, only in schema {', '.join(theirs)}",
                hint="set `schema` in dbshift.toml to the schema the models are in",
            )
        validate_models(snapshot, backend_for(dialect).limits_for(dialect), dialect)
        targets.append((dialect, snapshot))
    return with_backend_sql(targets)


def database_snapshot(conn: sa.Connection, config: Config) -> Snapshot:
    history = History(config.table_prefix, config.schema)
    bookkeeping = set(history.names)
    return introspect(conn, config.schema, exclude=lambda name: name in bookkeeping)


def database_diff(config: Config, renames: Sequence[str] = ()) -> list[Operation]:
    """`dbshift.api.diff(config, against="database")`: the operations that take the
    configured database to the models, as they resolve on its backend. Imports only
    what comparing needs (not the renderer, the linter or the migrations' loader)."""

    def job(conn: sa.Connection) -> tuple[Snapshot, Dialect]:
        return database_snapshot(conn, config), conn.dialect

    with collector_paused():
        current, dialect = database.run(config, job)
        target = models_snapshot(config, dialect)
        found = diff(current, target, dialect, parse_renames(renames), live=True)
    return list(found.operations)


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """Python's cyclic garbage collector off for the block, and back as it was after.

    Reading a schema and the models makes tens of thousands of small objects that live
    until the comparison ends, and none of them is garbage in a cycle; each of them
    counts towards the collector's next run, whose full collections walk every object
    of the process (SQLAlchemy, the models: 70 ms for 300 tables, a third of a diff).
    Reference counting still frees what is dropped meanwhile; a cycle made meanwhile is
    collected at the collector's next run after the block."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


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
    "Reconciled",
    "RenameDecider",
    "Source",
    "backend_target",
    "collector_paused",
    "database_diff",
    "database_snapshot",
    "diff",
    "differences",
    "load_models",
    "merge_targets",
    "models_snapshot",
    "models_targets",
    "never",
    "parse_renames",
    "reconcile",
    "refuse_dropping_everything",
    "validate_models",
]
