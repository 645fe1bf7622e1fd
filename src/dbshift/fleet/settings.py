"""The `[fleet]` table of the configuration, checked, with the command line's flags over
it (docs/fleet.md). `dbshift.config` keeps the table as read (`Config.fleet`); this
module alone knows its keys."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from dbshift.config import Config
from dbshift.errors import ConfigError

#: the keys of `[fleet]`, each a field of `Sources` or `Policy`, or `search_path`
FLEET_KEYS = frozenset(
    {
        "urls",
        "schemas",
        "databases",
        "sqlite",
        "query",
        "control_url",
        "exclude",
        "search_path",
        "jobs",
        "per_server",
        "fail_fast",
        "max_failures",
        "canary",
    }
)
DEFAULT_JOBS = 4


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


_STRINGS = ("schemas", "databases", "sqlite", "query", "control_url")
_LISTS = ("urls", "exclude", "search_path")
_COUNTS = {"jobs": 1, "per_server": 0, "max_failures": 1, "canary": 0}


def read(config: Config, **flags: Any) -> FleetSettings:
    """`[fleet]` from `config`, then the `flags` given (None: not given). A flag naming
    a source replaces every source of the table: `--schemas 'acme_*'` runs those alone."""
    table = dict(check_table(config.fleet, config))
    given = {key: value for key, value in flags.items() if value not in (None, ())}
    unknown = sorted(set(given) - FLEET_KEYS)
    if unknown:  # a programming error of the caller, said as plainly
        raise ConfigError(f"unknown fleet setting {unknown[0]!r}", hint=_known())
    if any(key in given for key in (*_STRINGS[:4], "urls")):
        for key in ("urls", "schemas", "databases", "sqlite", "query"):
            table.pop(key, None)
    table.update({key: list(v) if isinstance(v, tuple) else v for key, v in given.items()})
    check_table(table, config, where="fleet options")
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


def check_table(table: Any, config: Config, *, where: str | None = None) -> Mapping[str, Any]:
    """The shape of `[fleet]` (or of the flags over it): one line naming the culprit."""
    place = where or f"{config.source or 'configuration'}: [fleet]"
    if not isinstance(table, Mapping):
        raise ConfigError(f"{place} must be a table", hint="write [fleet] with keys under it")
    unknown = sorted(set(table) - FLEET_KEYS)
    if unknown:
        raise ConfigError(f"{place}: unknown key {unknown[0]!r}", hint=_known())
    for key in _STRINGS:
        value = table.get(key)
        if value is not None and (not isinstance(value, str) or not value.strip()):
            raise ConfigError(
                f"{place}: `{key}` must be a non-empty string", hint=f"e.g. {_EXAMPLES[key]}"
            )
    for key in _LISTS:
        value = table.get(key, [])
        if not isinstance(value, list | tuple) or not all(
            isinstance(item, str) and item for item in value
        ):
            raise ConfigError(
                f"{place}: `{key}` must be a list of strings", hint=f"e.g. {_EXAMPLES[key]}"
            )
    for key, least in _COUNTS.items():
        value = table.get(key)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int) or value < least:
            raise ConfigError(
                f"{place}: `{key}` must be a whole number of at least {least}, not {value!r}",
                hint=f"e.g. {key} = {max(least, 4)}",
            )
    if not isinstance(table.get("fail_fast", False), bool):
        raise ConfigError(f"{place}: `fail_fast` must be true or false", hint="fail_fast = true")
    return table


_EXAMPLES = {
    "schemas": 'schemas = "tenant_*"',
    "databases": 'databases = "shop_*"',
    "sqlite": 'sqlite = "tenants/*.db"',
    "query": 'query = "SELECT url FROM tenants WHERE active"',
    "control_url": 'control_url = "${CONTROL_DATABASE_URL}"',
    "urls": 'urls = ["${TENANT_A_URL}", "${TENANT_B_URL}"]',
    "exclude": 'exclude = ["tenant_archive_*"]',
    "search_path": 'search_path = ["public"] (what follows the tenant schema)',
}


def _known() -> str:
    return "known keys: " + ", ".join(sorted(FLEET_KEYS))
