"""A fleet's targets: found from its sources (docs/fleet.md), each with a configuration
of its own, and sliced into shards by a hash of its identity."""

from __future__ import annotations

import dataclasses
import fnmatch
import hashlib
from pathlib import Path

import sqlalchemy as sa

from dbshift import database
from dbshift.config import Config, mask_url
from dbshift.dialects import backend_for
from dbshift.errors import ConfigError, UsageError
from dbshift.fleet.settings import FleetSettings


@dataclasses.dataclass(frozen=True)
class Target:
    """One database (or PostgreSQL schema) of a fleet."""

    #: how reports name it: the schema, the database, the file, or the masked URL
    name: str
    #: the target's own configuration: its URL, and for a schema its bookkeeping schema
    #: and search path
    config: Config

    @property
    def identity(self) -> str:
        """What the target is, whatever its list: the masked URL, and its schema. Shards
        are cut by its hash; reports carry it (no password)."""
        url = mask_url(self.config.url_text)
        return f"{url}#{self.config.schema}" if self.config.schema else url

    @property
    def server(self) -> str:
        """The server the target is on (`--per-server` counts by it)."""
        url = sa.make_url(self.config.require_url())
        return backend_for(url.get_backend_name()).server_of(url)


def discover(config: Config, settings: FleetSettings) -> list[Target]:
    """Every target of the sources, in a stable order (by identity), each once."""
    sources = settings.sources
    if sources.empty:
        raise UsageError(
            "no fleet targets configured",
            hint="set urls, schemas, databases, sqlite or query under [fleet] "
            "(or pass --schemas, --databases, --sqlite, --target-url, --query)",
        )
    found: list[Target] = [Target(mask_url(url), config.replace(url=url)) for url in sources.urls]
    if sources.schemas is not None:
        found += _schemas(config, sources.schemas, settings.search_path)
    if sources.databases is not None:
        found += _databases(config, sources.databases)
    if sources.sqlite is not None:
        found += _sqlite_files(config, sources.sqlite)
    if sources.query is not None:
        found += _queried(config, sources.query, sources.control_url, settings.search_path)
    kept = [t for t in found if not any(fnmatch.fnmatchcase(t.name, p) for p in sources.exclude)]
    for target in kept:  # before any target runs: one bad URL is the run's usage error
        try:
            sa.make_url(target.config.require_url())
        except sa.exc.ArgumentError:
            raise UsageError(
                f"fleet target {target.name}: not a database URL",
                hint="write it as dialect+driver://user:password@host/database",
            ) from None
    return sorted({t.identity: t for t in kept}.values(), key=lambda t: t.identity)


def shard(targets: list[Target], spec: str | None) -> list[Target]:
    """The targets of shard `I/N` (I from 0 to N-1): those whose identity hashes to I,
    so a target stays in its shard however the list around it changes."""
    if spec is None:
        return targets
    index, count = parse_shard(spec)
    return [t for t in targets if shard_of(t.identity, count) == index]


def parse_shard(spec: str) -> tuple[int, int]:
    index_text, _, count_text = spec.partition("/")
    try:
        index, count = int(index_text), int(count_text)
    except ValueError:
        index, count = -1, 0
    if count < 1 or not 0 <= index < count:
        raise UsageError(
            f"invalid shard {spec!r}",
            hint="give I/N with 0 <= I < N, e.g. --shard 0/4 (a Kubernetes completion index)",
        )
    return index, count


def shard_of(identity: str, count: int) -> int:
    digest = hashlib.sha256(identity.encode()).digest()
    return int.from_bytes(digest[:8], "big") % count


def tenant(config: Config, url: str, schema: str, tail: tuple[str, ...]) -> Config:
    """The configuration of one tenant schema: its bookkeeping there, and the schema
    first on the search path, so that the migrations' unqualified names land in it."""
    return config.replace(url=url, schema=schema, search_path=(schema, *tail))


def _schemas(config: Config, pattern: str, tail: tuple[str, ...]) -> list[Target]:
    url = config.require_url()

    def names(conn: sa.Connection) -> list[str]:
        found = backend_for(conn.dialect).tenant_schemas(conn)
        if found is None:
            raise ConfigError(
                f"fleet `schemas` needs PostgreSQL, not {conn.dialect.name}",
                hint="on MariaDB/MySQL a schema is a database: use `databases` instead",
            )
        return found

    schemas = database.run(config.replace(schema=None, search_path=()), names)
    chosen = [s for s in schemas if fnmatch.fnmatchcase(s, pattern)]
    return [Target(s, tenant(config, url, s, tail)) for s in chosen]


def _databases(config: Config, pattern: str) -> list[Target]:
    url = sa.make_url(config.require_url())

    def names(conn: sa.Connection) -> list[str] | None:
        return backend_for(conn.dialect).database_names(conn)

    every = database.run(config, names)
    if every is None:
        raise ConfigError(
            f"fleet `databases` needs a server, not {url.get_backend_name()}",
            hint='for SQLite files use `sqlite` (a glob), e.g. sqlite = "tenants/*.db"',
        )
    return [
        Target(name, config.replace(url=url.set(database=name).render_as_string(False)))
        for name in every
        if fnmatch.fnmatchcase(name, pattern)
    ]


def _sqlite_files(config: Config, pattern: str) -> list[Target]:
    path = Path(pattern).expanduser()
    if path.is_absolute():
        root, glob = Path(path.anchor), str(path.relative_to(path.anchor))
    else:
        root, glob = (config.source.parent if config.source else Path.cwd()), pattern
    files = sorted(found for found in root.glob(glob) if found.is_file())
    return [
        Target(
            str(file if path.is_absolute() else file.relative_to(root)),
            config.replace(url=f"sqlite:///{file.resolve()}"),
        )
        for file in files
    ]


def _queried(
    config: Config, query: str, control: str | None, tail: tuple[str, ...]
) -> list[Target]:
    where = config.replace(url=control) if control else config

    def rows(conn: sa.Connection) -> list[tuple[str, str | None]]:
        found = conn.exec_driver_sql(query, execution_options={"no_parameters": True})
        return [(str(row[0]), str(row[1]) if len(row) > 1 and row[1] else None) for row in found]

    targets = []
    for url, schema in database.run(where, rows):
        if schema is None:
            targets.append(Target(mask_url(url), config.replace(url=url)))
        else:
            targets.append(Target(schema, tenant(config, url, schema, tail)))
    return targets
