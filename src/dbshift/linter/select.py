"""Which migrations `dbshift lint` checks, and for which server.

By default those not yet applied to the configured database (whose server version is
then read too); or a range of the graph, every migration, or those whose files were
added since a git ref (what a pull request adds).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from dbshift.config import Config, mask_url
from dbshift.errors import ConfigError, DatabaseError, UsageError
from dbshift.linter.model import BACKENDS, Target, parse_version
from dbshift.migrations.graph import Graph
from dbshift.migrations.scripts import Script

#: what is linted when neither a database nor --dialect says which backend
DEFAULT_BACKENDS = ("postgresql", "mysql", "sqlite")


@dataclasses.dataclass(frozen=True)
class Selection:
    ids: tuple[str, ...]
    targets: tuple[Target, ...]
    #: how the migrations were chosen, for the report
    description: str


def select(
    config: Config,
    scripts: Sequence[Script],
    graph: Graph,
    range_: str | None = None,
    *,
    every: bool = False,
    since: str | None = None,
    dialect: str | None = None,
    server_version: str | None = None,
) -> Selection:
    settings: Mapping[str, Any] = config.lint
    version_text = server_version or _text(settings.get("server_version"))
    version = _version(version_text) if version_text else None
    backend = dialect or _text(settings.get("dialect"))
    if backend is None and config.url:
        backend = _backend_of_url(config.url)
    if sum(bool(x) for x in (range_, every, since)) > 1:
        raise UsageError("give one of RANGE, --all and --since")
    if every:
        ids, description = graph.topo_order(), "all migrations"
    elif since:
        ids, description = (
            _added_since(since, config.migrations_dir, scripts),
            f"added since {since}",
        )
    elif range_:
        ids, description = _range(graph, range_), range_
    else:
        ids, live = _pending(config, graph)
        description = f"pending on {mask_url(config.url)}"
        if live.backend and not dialect:
            backend = live.backend
        if live.version and not server_version and backend == live.backend:
            version = live.version
    if backend is not None and backend not in BACKENDS:
        raise UsageError(
            f"unknown dialect {backend!r}", hint="use postgresql, mysql, mariadb or sqlite"
        )
    targets = (
        (Target(backend, version),) if backend else tuple(Target(b, None) for b in DEFAULT_BACKENDS)
    )
    return Selection(tuple(ids), targets, description)


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _version(text: str) -> tuple[int, ...]:
    try:
        return parse_version(text)
    except ValueError:
        raise UsageError(
            f"invalid server version {text!r}", hint="write it as 15, 10.11 or 8.0.36"
        ) from None


def _backend_of_url(url: str) -> str | None:
    try:
        name = sa.make_url(url).get_backend_name()
    except Exception:
        return None
    return name if name in BACKENDS else None


def _range(graph: Graph, range_: str) -> list[str]:
    """`FROM:TO` (what comes after FROM up to TO), `:TO`, or one migration id."""
    if ":" not in range_:
        return [graph.resolve(range_)]
    start, _, target = range_.partition(":")
    applied = graph.ancestors([graph.resolve(start)]) if start else set()
    return graph.plan_up(applied, target or "head")


@dataclasses.dataclass(frozen=True)
class _Server:
    backend: str | None
    version: tuple[int, ...] | None


def _pending(config: Config, graph: Graph) -> tuple[list[str], _Server]:
    """The migrations not applied yet, read from the history as `status` reads it, and
    the server they will run on."""
    from dbshift import database
    from dbshift.history import History

    if not config.url:
        raise ConfigError(
            "no database URL configured: `dbshift lint` checks the migrations pending on it",
            hint="pass --url, or lint without a database: --all, --since REF or a range",
        )

    known = set(graph.topo_order())

    def job(conn: sa.Connection) -> tuple[list[str], _Server]:
        rows = History(config.table_prefix, config.schema).rows(conn)
        applied = {r.id for r in rows if r.applied and r.id in known}
        live = Target.of(conn.dialect, live=True)
        backend = live.backend if live.backend in BACKENDS else None
        return graph.plan_up(applied, "heads"), _Server(backend, live.version)

    try:
        return database.run(config, job)
    except DatabaseError as error:
        raise DatabaseError(
            f"cannot read the pending migrations: {error.message}",
            hint="lint without a database with --all, --since REF or a range",
        ) from error


def _added_since(ref: str, folder: Path, scripts: Sequence[Script]) -> list[str]:
    """Migrations whose files git shows as added since `ref` (committed or not)."""
    names = _git(folder, "diff", "--name-only", "--diff-filter=A", ref, "--", ".")
    names += _git(folder, "ls-files", "--others", "--exclude-standard", "--", ".")
    added = {Path(n).name for n in names}
    return [s.id for s in scripts if s.name in added]


def _git(folder: Path, *args: str) -> list[str]:
    from dbshift import git

    try:
        done = git.run(folder, *args, timeout=60)
    except git.GitFailed as error:
        raise UsageError(f"--since needs git: {error.reason}") from None
    if done.returncode != 0:
        first = (done.stderr.strip().splitlines() or ["git failed"])[0]
        raise UsageError(f"git {args[0]}: {first}", hint="check the ref given to --since")
    return [line for line in done.stdout.splitlines() if line.strip()]
