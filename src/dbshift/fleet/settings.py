"""The `[fleet]` table of the configuration, checked, with the command line's flags over
it (docs/fleet.md). `dbshift.config` keeps the table as read (`Config.fleet`); this
module reads it (`dbshift.config` checks its shape as it loads)."""

from __future__ import annotations

import dataclasses
from typing import Any

from dbshift.config import FLEET_KEYS, Config, check_fleet_table
from dbshift.errors import ConfigError

DEFAULT_JOBS = 4
#: the keys naming where targets come from: a flag naming one replaces them all
_SOURCES = ("urls", "schemas", "databases", "sqlite", "query")


@dataclasses.dataclass(frozen=True)
class Sources:
    """Where the targets come from; several kinds add up (each target once)."""

    #: database URLs, one target each
    urls: tuple[str, ...] = ()
    #: a pattern (`fnmatch`) over the schemas of the configured PostgreSQL database
    schemas: str | None = None
    #: a pattern over the databases of the configured URL's server
    databases: str | None = None
    #: a glob of SQLite files, relative to the configuration file's folder
    sqlite: str | None = None
    #: a query on the control database (`control_url`, default the configured URL)
    #: whose rows give a URL, and optionally a schema, per target
    query: str | None = None
    control_url: str | None = None
    #: patterns of target names to leave out
    exclude: tuple[str, ...] = ()

    @property
    def empty(self) -> bool:
        return not (self.urls or self.schemas or self.databases or self.sqlite or self.query)


@dataclasses.dataclass(frozen=True)
class Policy:
    """How a fleet run goes: how many at once, and when it stops."""

    jobs: int = DEFAULT_JOBS
    #: at most this many targets at once on one database server; 0: only `jobs` bounds it
    per_server: int = 0
    fail_fast: bool = False
    #: stop starting targets once this many failed; None: never
    max_failures: int | None = None
    #: run this many targets first, and stop if any of them fails
    canary: int = 0


@dataclasses.dataclass(frozen=True)
class FleetSettings:
    sources: Sources = Sources()
    policy: Policy = Policy()
    #: what follows a tenant schema on its `search_path` (default: `public`)
    search_path: tuple[str, ...] = ("public",)


def read(config: Config, **flags: Any) -> FleetSettings:
    """`[fleet]` from `config`, then the `flags` given (None: not given). A flag naming
    a source replaces every source of the table: `--schemas 'acme_*'` runs those alone."""
    table = dict(config.fleet)  # checked by `Config` as it was loaded
    given = {key: value for key, value in flags.items() if value not in (None, ())}
    unknown = sorted(set(given) - FLEET_KEYS)
    if unknown:  # a programming error of the caller, said as plainly
        raise ConfigError(
            f"unknown fleet setting {unknown[0]!r}",
            hint="known keys: " + ", ".join(sorted(FLEET_KEYS)),
        )
    if any(key in given for key in _SOURCES):
        for key in _SOURCES:
            table.pop(key, None)
    table.update({key: list(v) if isinstance(v, tuple) else v for key, v in given.items()})
    check_fleet_table(table, config.source, where="fleet options")
    sources = Sources(
        urls=tuple(table.get("urls", ())),
        schemas=table.get("schemas"),
        databases=table.get("databases"),
        sqlite=table.get("sqlite"),
        query=table.get("query"),
        control_url=table.get("control_url"),
        exclude=tuple(table.get("exclude", ())),
    )
    policy = Policy(
        jobs=table.get("jobs", DEFAULT_JOBS),
        per_server=table.get("per_server", 0),
        fail_fast=table.get("fail_fast", False),
        max_failures=table.get("max_failures"),
        canary=table.get("canary", 0),
    )
    return FleetSettings(sources, policy, tuple(table.get("search_path", ("public",))))
