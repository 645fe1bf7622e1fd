"""Configuration: `dbshift.toml` or `[tool.dbshift]` in `pyproject.toml`, flags, environment.

Precedence, lowest first: built-in defaults, the file's top level, the selected
`[environments.NAME]` table, then explicit overrides (CLI flags or `Config(...)` keywords).
`${VAR}` and `${VAR:-default}` are expanded from the environment in every string value.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import math
import os
import re
import tomllib
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias, TypeVar
from urllib.parse import quote_plus, unquote

from dbshift.errors import ConfigError

if TYPE_CHECKING:  # annotations only: the configuration is read before SQLAlchemy loads
    import sqlalchemy as sa
    from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

    #: what `Config(url=...)` takes besides a URL string: an application's own engine
    #: or connection (docs/api.md, "Handing over an engine or a connection")
    Bind: TypeAlias = sa.Engine | sa.Connection | AsyncEngine | AsyncConnection

CONFIG_FILE = "dbshift.toml"
#: how long a runner waits for the runner lock another runner holds
DEFAULT_RUNNER_LOCK_TIMEOUT = 60.0
#: how long one migration statement waits for a table lock (PostgreSQL, MariaDB/MySQL)
DEFAULT_TABLE_LOCK_TIMEOUT = 3.0
DEFAULT_LOCK_RETRIES = 5
DEFAULT_LOCK_RETRY_DELAY = 0.5

_KEYS = frozenset(
    {
        "url",
        "migrations",
        "models",
        "table_prefix",
        "schema",
        "runner_lock_timeout",
        "table_lock_timeout",
        "statement_timeout",
        "lock_retries",
        "lock_retry_delay",
        "format",
        "lint",
        "safe",
        "backends",
        "statement_cache",
        "fleet",
    }
)
#: the backends a history can be generated for: SQLAlchemy's dialect names, which are
#: what `with_variant(type, name)` matches (see dbshift/dialects/backends.py)
BACKENDS = ("sqlite", "postgresql", "mysql", "mariadb")
#: keys of the `[lint]` table (see docs/lint.md)
LINT_KEYS = frozenset({"disable", "enable", "severity", "fail_on", "server_version", "dialect"})
_LEVELS = ("info", "warning", "error")
_VAR = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?::-(?P<default>[^}]*))?\}")
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
#: what a database of `[databases.NAME]` (or a Flask bind key) may be named
DATABASE_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_-]*$")
#: `package:folder` or `package.module:folder` (a folder beside that module); a single
#: letter before the colon is a Windows drive, not a package
_MODULE_PATH = re.compile(
    r"^(?P<module>[A-Za-z_]\w+(?:\.[A-Za-z_]\w*)*|[A-Za-z_](?:\.[A-Za-z_]\w*)+):(?P<folder>[^\\/].*|)$"
)
_DURATION = re.compile(r"^\s*(?P<number>\d+(?:\.\d*)?|\.\d+)\s*(?P<unit>ms|s|min|h)?\s*$")
_UNITS = {"ms": 0.001, "s": 1.0, "min": 60.0, "h": 3600.0, None: 1.0}

#: keys (and `Config` keywords and attributes) under their old names, which read
#: backwards: `lock_timeout` was the wait for *another runner*, while a migration's own
#: `lock_timeout` header (PostgreSQL's setting of that name) is the wait for a *table*
#: lock, which the configuration called `migration_lock_timeout`. The old names still
#: work, with a `RenamedSetting` warning, and giving a setting under both is an error.
RENAMED = {
    "lock_timeout": "runner_lock_timeout",
    "migration_lock_timeout": "table_lock_timeout",
}


class RenamedSetting(DeprecationWarning):
    """A setting was given under its old name (see `RENAMED`); the CLI prints it as a
    one-line note on stderr."""


def renamed(values: Mapping[str, Any], where: str, *, stacklevel: int = 2) -> dict[str, Any]:
    """`values` with every old key (`RENAMED`) under its new name, warning once for each;
    a ConfigError when a setting is given under both names. `where` names the place the
    values come from, `stacklevel` the caller the warning points at (as `warnings.warn`)."""
    result = dict(values)
    for old, new in RENAMED.items():
        if old not in result:
            continue
        if new in result:
            raise ConfigError(
                f"{where}: both `{old}` and `{new}` are given",
                hint=f"keep `{new}` alone: `{old}` is its old, deprecated name",
            )
        _warn_renamed(f"{where}: `{old}`", new, stacklevel + 1)
        result = {new if key == old else key: value for key, value in result.items()}
    return result


def _warn_renamed(what: str, new: str, stacklevel: int) -> None:
    warnings.warn(
        f"{what} is deprecated, use `{new}` (the same setting, renamed)",
        RenamedSetting,
        stacklevel=stacklevel + 1,
    )


_C = TypeVar("_C")


def _accept_renamed_keywords(cls: type[_C]) -> type[_C]:
    """`cls(...)` also takes the old keywords of `RENAMED`, with a warning."""
    generated: Callable[..., None] = cls.__init__

    @functools.wraps(generated)
    def __init__(self: _C, *args: Any, **keywords: Any) -> None:
        generated(self, *args, **renamed(keywords, f"{cls.__name__}()", stacklevel=2))

    setattr(cls, "__init__", __init__)  # noqa: B010 (mypy refuses assigning a method)
    return cls


@_accept_renamed_keywords
@dataclasses.dataclass(frozen=True)
class Config:
    """Everything a dbshift command needs to know about a project.

    `models` names SQLAlchemy metadata for autogenerate: `"pkg.models:Base"` strings,
    `MetaData` objects, declarative bases, or a list of these.
    """

    #: a URL string, or an application's own SQLAlchemy `Engine` or `Connection` (sync or
    #: async), used as it is: see `bind` and docs/api.md
    url: str | Bind | None = None
    migrations: Path | str = "migrations"
    models: Any = ()
    table_prefix: str = "dbshift_"
    schema: str | None = None
    #: seconds a runner waits for the runner lock held by *another runner* (formerly
    #: `lock_timeout`)
    runner_lock_timeout: float = DEFAULT_RUNNER_LOCK_TIMEOUT
    #: seconds a migration statement waits for a *table* lock before it gives up (and is
    #: retried): `lock_timeout` on PostgreSQL, `lock_wait_timeout` on MariaDB/MySQL; 0 is
    #: no limit. A file's `lock_timeout` header overrides it. Formerly
    #: `migration_lock_timeout`.
    table_lock_timeout: float = DEFAULT_TABLE_LOCK_TIMEOUT
    #: seconds a migration statement may run (PostgreSQL, MariaDB); 0 is no limit, and
    #: None (the default) leaves the server's setting alone
    statement_timeout: float | None = None
    #: how many times a migration whose statement hit `table_lock_timeout` is retried
    lock_retries: int = DEFAULT_LOCK_RETRIES
    #: the first pause before a retry, in seconds; it doubles (with jitter) up to 10 s
    lock_retry_delay: float = DEFAULT_LOCK_RETRY_DELAY
    #: a command run on each file `make` writes, e.g. "ruff format"
    format: str | None = None
    #: `make` writes PostgreSQL changes the non-blocking way (docs/autogenerate.md);
    #: None (unset): it does where it can (PostgreSQL, Python migrations), False: never
    safe: bool | None = None
    #: the backends `make` writes migrations for, e.g. ("sqlite", "postgresql"); empty:
    #: the URL's backend alone
    backends: tuple[str, ...] = ()
    #: `upgrade` keeps the statements of migrations whose SQL does not depend on the
    #: database, and sends them again without loading the file (`dbshift.runner.cache`)
    statement_cache: bool = True
    #: the `[lint]` table: disable, severity, fail_on, server_version, dialect
    lint: Mapping[str, Any] = dataclasses.field(default_factory=dict, hash=False)
    #: the `[fleet]` table, as read: `dbshift.fleet.settings` checks and reads it
    fleet: Mapping[str, Any] = dataclasses.field(default_factory=dict, hash=False)
    #: schemas put first on PostgreSQL's `search_path` of every connection (a fleet's
    #: tenant schema, then the rest of its path; docs/fleet.md); empty: left alone
    search_path: tuple[str, ...] = ()
    env: str | None = None
    source: Path | None = None  # the file this configuration was read from, if any
    #: what a relative `migrations` path is relative to: a folder, or a file (`__file__`;
    #: any path that is not a folder) whose folder it is; default: the configuration
    #: file's folder, else the working directory
    root: str | Path | None = None
    #: the `[databases.NAME]` table this configuration was read from, if any
    database: str | None = None

    def __post_init__(self) -> None:
        _check_url(self.url)
        object.__setattr__(self, "migrations", _migrations_folder(self))
        if not _IDENTIFIER.match(self.table_prefix):
            raise ConfigError(
                f"invalid table_prefix {self.table_prefix!r}",
                hint="use letters, digits and underscores, starting with a letter",
            )
        try:
            timeout = float(self.runner_lock_timeout)
        except (TypeError, ValueError):
            raise ConfigError(
                f"invalid runner_lock_timeout {self.runner_lock_timeout!r}",
                hint="give a number of seconds",
            ) from None
        if timeout < 0:
            raise ConfigError(
                "runner_lock_timeout must not be negative", hint="give a number of seconds"
            )
        if not math.isfinite(timeout):
            raise ConfigError(
                f"runner_lock_timeout must be a finite number, not {self.runner_lock_timeout!r}",
                hint="give a number of seconds, e.g. 3600 to wait an hour",
            )
        object.__setattr__(self, "runner_lock_timeout", timeout)
        for key in ("table_lock_timeout", "statement_timeout", "lock_retry_delay"):
            value = getattr(self, key)
            if value is not None or key != "statement_timeout":
                object.__setattr__(self, key, _duration_setting(key, value))
        retries: Any = self.lock_retries
        if isinstance(retries, str) and retries.strip().isdigit():
            retries = int(retries)
        if not isinstance(retries, int) or isinstance(retries, bool) or retries < 0:
            raise ConfigError(
                f"invalid lock_retries {self.lock_retries!r}",
                hint="give a whole number of retries, e.g. 5 (0 never retries)",
            )
        object.__setattr__(self, "lock_retries", retries)
        object.__setattr__(self, "backends", _backends(self.backends, self.source))
        check_lint_table(self.lint, self.source)
        check_fleet_table(self.fleet, self.source)

    def __repr__(self) -> str:
        """Like the dataclass's, with the URL's password masked (a handed-over engine or
        connection is shown as its kind and its masked URL)."""
        fields = (f"{f.name}={self._shown(f.name)}" for f in dataclasses.fields(self))
        return redact(f"{type(self).__name__}({', '.join(fields)})", self.url_text)

    def _shown(self, name: str) -> str:
        if name == "url" and self.bind is not None:
            return f"<{type(self.bind).__name__} {mask_url(self.url_text)}>"
        return repr(getattr(self, name))

    @property
    def bind(self) -> Bind | None:
        """The engine or connection handed over as `url`, or None for a URL string."""
        return None if self.url is None or isinstance(self.url, str) else self.url

    @property
    def url_text(self) -> str | None:
        """The database URL as text: the string given, or the URL of the engine or
        connection handed over, with its password (to mask it: print `mask_url` of it)."""
        if self.url is None or isinstance(self.url, str):
            return self.url
        return self.url.engine.url.render_as_string(hide_password=False)

    @property
    def migrations_dir(self) -> Path:
        assert isinstance(self.migrations, Path)
        return self.migrations

    def require_url(self) -> str:
        url = self.url_text
        if not url:
            raise ConfigError(
                "no database URL configured",
                hint='pass --url, or set `url` in dbshift.toml (e.g. url = "${DATABASE_URL}")',
            )
        return url

    @property
    def lock_timeout(self) -> float:
        """Deprecated: the old name of `runner_lock_timeout`."""
        _warn_renamed("`Config.lock_timeout`", "runner_lock_timeout", stacklevel=2)
        return self.runner_lock_timeout

    @property
    def migration_lock_timeout(self) -> float:
        """Deprecated: the old name of `table_lock_timeout`."""
        _warn_renamed("`Config.migration_lock_timeout`", "table_lock_timeout", stacklevel=2)
        return self.table_lock_timeout

    def replace(self, **changes: Any) -> Config:
        return dataclasses.replace(self, **renamed(changes, "Config.replace()", stacklevel=2))

    def redact(self, text: str) -> str:
        """Mask this configuration's password wherever it appears in `text`."""
        return redact(text, self.url_text)

    @classmethod
    def load(
        cls,
        path: str | Path | None = None,
        *,
        env: str | None = None,
        cwd: str | Path | None = None,
        database: str | None = None,
        **overrides: Any,
    ) -> Config:
        """Read the configuration file (found by walking up from `cwd` unless `path` is
        given), select an environment and, in a project of several databases
        (`[databases.NAME]` tables), the database `database` (which may be left out when
        only one is configured), and apply `overrides` (None values are ignored)."""
        env = env or os.environ.get("DBSHIFT_ENV") or None
        source = _find_source(path, cwd)
        values: dict[str, Any] = _read_table(source) if source is not None else {}
        where = str(source or "configuration")
        environments = values.pop("environments", {})
        if not isinstance(environments, dict):
            raise ConfigError(
                f"{source}: `environments` must be a table",
                hint="write [environments.NAME] tables",
            )
        selected: dict[str, Any] = {}
        if env is not None:
            if env not in environments:
                known = ", ".join(sorted(environments)) or "none defined"
                raise ConfigError(
                    f"unknown environment {env!r}",
                    hint=f"environments in {source or 'the configuration'}: {known}",
                )
            if not isinstance(environments[env], dict):
                raise ConfigError(
                    f"{source}: [environments.{env}] must be a table",
                    hint=f"write [environments.{env}] with url = ... under it",
                )
            selected = dict(environments[env])
        databases = _databases(values.pop("databases", {}), source, "databases")
        env_databases = _databases(
            selected.pop("databases", {}), source, f"environments.{env}.databases"
        )
        for name in env_databases:
            if name not in databases:
                raise ConfigError(
                    f"{source}: [environments.{env}.databases.{name}] names no database",
                    hint=f"add a [databases.{name}] table, or fix the name; "
                    f"databases: {_listed(databases)}",
                )
        database = _select_database(database, list(databases), source)
        _check_keys(values, source)
        _check_types(values, source)
        values = renamed(values, where, stacklevel=2)
        if env is not None:
            _check_keys(selected, source)
            _check_types(selected, source)
            values.update(renamed(selected, f"{where}: [environments.{env}]", stacklevel=2))
        if database is not None:
            own = databases[database] | env_databases.get(database, {})
            if "migrations" not in own:
                # the top-level folder holds one folder per database
                own["migrations"] = str(Path(values.get("migrations", "migrations")) / database)
            values.update(renamed(own, f"{where}: [databases.{database}]", stacklevel=2))
        values = {key: _interpolate(value) for key, value in values.items()}
        given = {k: v for k, v in overrides.items() if v is not None}
        values.update(renamed(given, "Config.load()", stacklevel=2))
        if source is None and cwd is not None and "source" not in values:
            values.setdefault("migrations", Path(cwd) / str(values.get("migrations", "migrations")))
        return cls(**values, env=env, source=source, database=database)

    @classmethod
    def database_names(
        cls, path: str | Path | None = None, *, cwd: str | Path | None = None
    ) -> list[str]:
        """The databases of the configuration file (its `[databases.NAME]` tables), in
        the order it lists them; empty for a project of one database."""
        source = _find_source(path, cwd)
        values = _read_table(source) if source is not None else {}
        return list(_databases(values.get("databases", {}), source, "databases"))

    @classmethod
    def load_all(
        cls,
        path: str | Path | None = None,
        *,
        env: str | None = None,
        cwd: str | Path | None = None,
        **overrides: Any,
    ) -> list[Config]:
        """The configuration of every database, in the order configured (one `Config`,
        whose `database` is None, for a project of one database)."""
        names: list[str | None] = [*cls.database_names(path, cwd=cwd)] or [None]
        configs = [cls.load(path, env=env, cwd=cwd, database=name, **overrides) for name in names]
        _one_history_each(configs)
        return configs


def _one_history_each(configs: list[Config]) -> None:
    """Refuse two databases whose bookkeeping tables are the same ones: one URL, schema
    and table prefix (each would take the other's migrations for unknown ones)."""
    seen: dict[tuple[str, str | None, str], str | None] = {}
    for config in configs:
        url = config.url_text
        if not url:
            continue
        key = (url, config.schema, config.table_prefix)
        if key in seen:
            raise ConfigError(
                f"databases {seen[key]} and {config.database} share one history "
                f"({mask_url(url)}, table_prefix {config.table_prefix!r})",
                hint=f"give [databases.{config.database}] a table_prefix (or schema) of its own",
            )
        seen[key] = config.database


def _find_source(path: str | Path | None, cwd: str | Path | None) -> Path | None:
    if path is None:
        return find_config(Path(cwd) if cwd else Path.cwd())
    source = Path(path).resolve()
    if not source.is_file():
        raise ConfigError(f"configuration file not found: {path}", hint="check the --config path")
    return source


def _listed(names: Mapping[str, Any] | list[str]) -> str:
    return ", ".join(names) or "none configured"


def _databases(table: Any, source: Path | None, where: str) -> dict[str, dict[str, Any]]:
    """The `[databases.NAME]` tables, checked: each a table of known keys and types."""
    if not isinstance(table, dict):
        raise ConfigError(
            f"{source}: `{where}` must be a table", hint="write [databases.NAME] tables"
        )
    found: dict[str, dict[str, Any]] = {}
    for name, settings in table.items():
        if not DATABASE_NAME.match(name):
            raise ConfigError(
                f"{source}: invalid database name {name!r} in [{where}]",
                hint="use letters, digits, `_` and `-`, starting with a letter",
            )
        if not isinstance(settings, dict):
            raise ConfigError(
                f"{source}: [{where}.{name}] must be a table",
                hint=f"write [{where}.{name}] with url = ... under it",
            )
        _check_keys(settings, source)
        _check_types(settings, source)
        found[name] = dict(settings)
    return found


def _select_database(database: str | None, names: list[str], source: Path | None) -> str | None:
    """The database a command runs on: the one named (which must be configured), or the
    only one; None in a project of one database (no `[databases.NAME]` tables)."""
    if database is not None:
        if database not in names:
            raise ConfigError(
                f"unknown database {database!r}",
                hint=f"databases in {source or 'the configuration'}: {_listed(names)}",
            )
        return database
    if len(names) > 1:
        raise ConfigError(
            f"several databases are configured ({_listed(names)}): this needs one",
            hint="name it with --db NAME (Config.load(database=NAME) in Python)",
        )
    return names[0] if names else None


def _migrations_folder(config: Config) -> Path:
    """`migrations` as an absolute path: `package.module:folder` beside that module, a
    relative path under `root` (a file's folder), else the configuration file's folder,
    else the working directory."""
    text = str(config.migrations)
    match = _MODULE_PATH.match(text) if isinstance(config.migrations, str) else None
    if match is not None:
        return _module_folder(match.group("module")) / match.group("folder")
    if config.root is not None:
        root = Path(os.path.expanduser(str(config.root))).absolute()
        base = root if root.is_dir() else root.parent
    else:
        base = config.source.parent if config.source else Path.cwd()
    folder = Path(os.path.expanduser(text))
    return folder if folder.is_absolute() else base / folder


def _module_folder(module: str) -> Path:
    """The folder of a package, or the one holding a module, found without importing
    the module itself (its parent packages are imported, as `import` would)."""
    # lazy: importlib.util, only for a `package:folder` migrations setting
    import importlib.util

    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError) as error:
        spec, reason = None, f" ({error})"
    else:
        reason = ""
    if spec is None or (spec.origin is None and not spec.submodule_search_locations):
        raise ConfigError(
            f"migrations {module}:...: no module {module!r} to find the folder by{reason}",
            hint="name an importable package or module (is it installed, or on sys.path?)",
        )
    if spec.submodule_search_locations:
        return Path(next(iter(spec.submodule_search_locations)))
    assert spec.origin is not None
    return Path(spec.origin).parent


def _check_url(url: object) -> None:
    """A URL string, None, or a SQLAlchemy engine or connection (sync or async); anything
    else is refused here, not with a TypeError deep inside a command."""
    if url is None or isinstance(url, str):
        return
    kinds = type(url).__mro__
    names = {(kind.__module__, kind.__name__) for kind in kinds}
    if names & _BIND_CLASSES:
        return
    raise ConfigError(
        f"invalid url {type(url).__name__} object: expected a URL string or a SQLAlchemy "
        "Engine or Connection",
        hint="pass url='postgresql+psycopg://...', an Engine, a Connection, an AsyncEngine "
        "or an AsyncConnection",
    )


#: the classes `Config(url=...)` accepts besides a string, by module and name, so that
#: reading a configuration does not import SQLAlchemy (see `_secrets`)
_BIND_CLASSES = frozenset(
    {
        ("sqlalchemy.engine.base", "Engine"),
        ("sqlalchemy.engine.base", "Connection"),
        ("sqlalchemy.ext.asyncio.engine", "AsyncEngine"),
        ("sqlalchemy.ext.asyncio.engine", "AsyncConnection"),
    }
)


def parse_duration(value: float | str) -> float:
    """Seconds from a number, or text such as "2s", "500ms", "1min", "1h" or "off"
    (which is 0: no limit). Raises ValueError."""
    if isinstance(value, bool):
        raise ValueError(value)
    if isinstance(value, int | float):
        seconds = float(value)
    elif value.strip().lower() in ("off", "none"):
        return 0.0
    else:
        match = _DURATION.match(value)
        if match is None:
            raise ValueError(value)
        seconds = float(match.group("number")) * _UNITS[match.group("unit")]
    if seconds < 0 or not math.isfinite(seconds):
        raise ValueError(value)
    return seconds


def _duration_setting(key: str, value: Any) -> float:
    try:
        return parse_duration(value)
    except (TypeError, ValueError):
        raise ConfigError(
            f"invalid {key} {value!r}",
            hint='give seconds (a number, or text such as "3s", "500ms", "2min"), or 0 for none',
        ) from None


def _backends(value: Any, source: Path | None) -> tuple[str, ...]:
    """The `backends` setting as a tuple of known names, in order, each once."""
    names = [value] if isinstance(value, str) else value
    where = source or "configuration"
    valid = ", ".join(BACKENDS)
    if not isinstance(names, list | tuple) or not all(isinstance(n, str) for n in names):
        raise ConfigError(
            f"{where}: `backends` must be a list of backend names, not {value!r}",
            hint=f'e.g. backends = ["sqlite", "postgresql"]; valid names: {valid}',
        )
    for name in names:
        if name not in BACKENDS:
            raise ConfigError(
                f"{where}: unknown backend {name!r} in `backends`",
                hint=f"valid names: {valid} (a MariaDB server behind a mysql:// URL is mysql)",
            )
    return tuple(dict.fromkeys(names))


def find_config(start: Path) -> Path | None:
    """The nearest `dbshift.toml`, or `pyproject.toml` with a `[tool.dbshift]` table."""
    for folder in (start.resolve(), *start.resolve().parents):
        candidate = folder / CONFIG_FILE
        if candidate.is_file():
            return candidate
        pyproject = folder / "pyproject.toml"
        if pyproject.is_file() and "[tool.dbshift" in pyproject.read_text(errors="replace"):
            return pyproject
    return None


def _read_table(source: Path) -> dict[str, Any]:
    """The file's dbshift table. A command reads it more than once (the databases it
    names, then each one's settings): the text is read each time, parsed once per text,
    and each caller given its own copy."""
    try:
        text = source.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(
            f"{source}: cannot read: {exc.strerror}",
            hint="check the file's permissions, or point --config at another file",
        ) from None
    key = (source, text)
    parsed = _PARSED.get(key)
    if parsed is None:
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{source}: invalid TOML: {exc}", hint="fix the syntax") from None
        if source.name == "pyproject.toml":
            data = data.get("tool", {}).get("dbshift", {})
        parsed = dict(data)
        _PARSED.clear()  # one file at a time is all a run reads
        _PARSED[key] = parsed
    return copy.deepcopy(parsed)


#: the last file parsed: (path, text) -> its table
_PARSED: dict[tuple[Path, str], dict[str, Any]] = {}


def _check_keys(values: Mapping[str, Any], source: Path | None) -> None:
    unknown = sorted(set(values) - _KEYS - set(RENAMED))
    if unknown:
        raise ConfigError(
            f"{source or 'configuration'}: unknown key {unknown[0]!r}",
            hint="known keys: " + ", ".join(sorted(_KEYS | {"environments", "databases"})),
        )


_TYPES: dict[str, tuple[tuple[type, ...], str]] = {
    "url": ((str,), "a string"),
    "migrations": ((str,), "a string (a folder path)"),
    "models": ((str, list), 'a string or a list of strings ("pkg.models:Base")'),
    "table_prefix": ((str,), "a string"),
    "schema": ((str,), "a string"),
    # a string too: "${LOCK_TIMEOUT:-60}" is converted after interpolation
    "runner_lock_timeout": ((int, float, str), "a number of seconds"),
    "table_lock_timeout": ((int, float, str), 'seconds, a number or text such as "3s"'),
    "statement_timeout": ((int, float, str), 'seconds, a number or text such as "15min"'),
    "lock_retries": ((int, str), "a whole number"),
    "lock_retry_delay": ((int, float, str), 'seconds, a number or text such as "500ms"'),
    "format": ((str,), 'a string (a command, e.g. "ruff format")'),
    "lint": ((dict,), "a table ([lint])"),
    "safe": ((bool,), "true or false"),
    "statement_cache": ((bool,), "true or false"),
    "backends": ((list,), "a list of backend names among " + ", ".join(BACKENDS)),
    "fleet": ((dict,), "a table ([fleet], docs/fleet.md)"),
}
_TYPES.update({old: _TYPES[new] for old, new in RENAMED.items()})


def _check_types(values: Mapping[str, Any], source: Path | None) -> None:
    """Values read from a file have the types the keys take (TOML has more)."""
    for key, value in values.items():
        types, expected = _TYPES[key]
        wrong = not isinstance(value, types) or (isinstance(value, bool) and bool not in types)
        if key == "models" and isinstance(value, list):
            wrong = not all(isinstance(item, str) for item in value)
        if wrong:
            where = source or "configuration"
            raise ConfigError(
                redact(f"{where}: `{key}` must be {expected}, not {value!r}", None),
                hint=f"fix `{key}` in the configuration file",
            )


#: the keys of `[fleet]`, each a field of `fleet.settings.Sources` or `Policy`, or `search_path`
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

_FLEET_STRINGS = ("schemas", "databases", "sqlite", "query", "control_url")
_FLEET_LISTS = ("urls", "exclude", "search_path")
_FLEET_COUNTS = {"jobs": 1, "per_server": 0, "max_failures": 1, "canary": 0}


def check_fleet_table(table: Any, source: Path | None, *, where: str | None = None) -> None:
    """The shape of `[fleet]` (or of the flags over it): one line naming the culprit."""
    place = where or f"{source or 'configuration'}: [fleet]"
    if not isinstance(table, Mapping):
        raise ConfigError(f"{place} must be a table", hint="write [fleet] with keys under it")
    unknown = sorted(set(table) - FLEET_KEYS)
    if unknown:
        raise ConfigError(f"{place}: unknown key {unknown[0]!r}", hint=_known_fleet_keys())
    for key in _FLEET_STRINGS:
        value = table.get(key)
        if value is not None and (not isinstance(value, str) or not value.strip()):
            raise ConfigError(
                f"{place}: `{key}` must be a non-empty string", hint=f"e.g. {_FLEET_EXAMPLES[key]}"
            )
    for key in _FLEET_LISTS:
        value = table.get(key, [])
        if not isinstance(value, list | tuple) or not all(
            isinstance(item, str) and item for item in value
        ):
            raise ConfigError(
                f"{place}: `{key}` must be a list of strings", hint=f"e.g. {_FLEET_EXAMPLES[key]}"
            )
    for key, least in _FLEET_COUNTS.items():
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


_FLEET_EXAMPLES = {
    "schemas": 'schemas = "tenant_*"',
    "databases": 'databases = "shop_*"',
    "sqlite": 'sqlite = "tenants/*.db"',
    "query": 'query = "SELECT url FROM tenants WHERE active"',
    "control_url": 'control_url = "${CONTROL_DATABASE_URL}"',
    "urls": 'urls = ["${TENANT_A_URL}", "${TENANT_B_URL}"]',
    "exclude": 'exclude = ["tenant_archive_*"]',
    "search_path": 'search_path = ["public"] (what follows the tenant schema)',
}


def _known_fleet_keys() -> str:
    return "known keys: " + ", ".join(sorted(FLEET_KEYS))


def check_lint_table(table: Any, source: Path | None) -> None:
    """The shape of `[lint]`; rule codes are checked by the linter, which knows them."""
    where = f"{source or 'configuration'}: [lint]"
    if not isinstance(table, Mapping):
        raise ConfigError(f"{where} must be a table", hint="write [lint] with keys under it")
    unknown = sorted(set(table) - LINT_KEYS)
    if unknown:
        raise ConfigError(
            f"{where}: unknown key {unknown[0]!r}",
            hint="known keys: " + ", ".join(sorted(LINT_KEYS)),
        )
    for key, example in (("disable", '["DS312"]'), ("enable", '["DS619"]')):
        codes = table.get(key, [])
        if not isinstance(codes, list) or not all(isinstance(c, str) for c in codes):
            raise ConfigError(
                f"{where}: `{key}` must be a list of rule codes", hint=f"e.g. {example}"
            )
    severity = table.get("severity", {})
    if not isinstance(severity, Mapping) or not all(v in _LEVELS for v in severity.values()):
        raise ConfigError(
            f"{where}: `severity` must map rule codes to info, warning or error",
            hint='e.g. severity = { DS601 = "error" }',
        )
    if table.get("fail_on", "error") not in _LEVELS:
        raise ConfigError(
            f"{where}: `fail_on` must be info, warning or error", hint='e.g. fail_on = "warning"'
        )
    version = table.get("server_version")
    if version is not None and (
        isinstance(version, bool) or not isinstance(version, str | int | float)
    ):
        raise ConfigError(
            f'{where}: `server_version` must be a version such as "15" or "10.11"',
            hint='write it as text: server_version = "10.11"',
        )
    dialect = table.get("dialect")
    if dialect is not None and dialect not in ("postgresql", "mysql", "mariadb", "sqlite"):
        raise ConfigError(
            f"{where}: `dialect` must be postgresql, mysql, mariadb or sqlite, not {dialect!r}",
            hint="fix `dialect` under [lint], or leave it out to lint for the URL's backend",
        )


def _interpolate(value: Any) -> Any:
    if isinstance(value, str):
        return _VAR.sub(_expand, value)
    if isinstance(value, list):
        return [_interpolate(item) for item in value]
    if isinstance(value, dict):  # [fleet] urls, [lint] (no variables there in practice)
        return {key: _interpolate(item) for key, item in value.items()}
    return value


def _expand(match: re.Match[str]) -> str:
    name, default = match.group("name"), match.group("default")
    if name in os.environ:
        return os.environ[name]
    if default is not None:
        return default
    raise ConfigError(
        f"environment variable {name} is not set",
        hint=f"export {name}, or write ${{{name}:-default}} in the configuration",
    )


_PASSWORD_IN_URL = re.compile(r"(?P<head>[a-zA-Z][\w+.-]*://[^:/@\s]*:)(?P<password>[^@\s]*)@")
_PASSWORD_IN_QUERY = re.compile(r"(?P<head>[?&]password=)(?P<password>[^&\s]*)", re.IGNORECASE)


#: the password of one whole URL: up to its last `@` before any `?`, so that one with an
#: unencoded `@` or space is masked whole (SQLAlchemy would stop at the first `@`); the
#: user name may hold a raw `@` too, as SQLAlchemy reads it (`u@x:pw@host`)
_URL_PASSWORD = re.compile(r"^(?P<head>[a-zA-Z][\w+.-]*://[^:/]*:)(?P<password>[^?]*)@")


#: `user:password@` in a malformed URL (no `scheme://`: `postgres//u:pw@h/db`, `u:pw@h`),
#: which no driver reads but a message may repeat
_LOOSE_PASSWORD = re.compile(r"(?P<head>(?:^|[/\s])[^:/@\s]*:)(?P<password>[^@\s/]*)@")


def mask_url(url: str | None) -> str:
    """The URL with its password replaced by `***`; safe to print, also when the text
    is not a URL SQLAlchemy can read."""
    if not url:
        return ""
    masked = _URL_PASSWORD.sub(lambda m: m.group("head") + "***@", url, count=1)
    if masked == url and "://" not in url:  # a well-formed one without a password (a
        # SQLite path may hold `a:b@c`) is left as it is
        masked = _LOOSE_PASSWORD.sub(lambda m: m.group("head") + "***@", url, count=1)
    return _PASSWORD_IN_QUERY.sub(lambda m: m.group("head") + "***", masked)


def redact(text: str, url: str | None) -> str:
    """Mask every URL password in `text`, and the password of `url` wherever it appears.

    The password of `url` is taken as SQLAlchemy parses it, so one with characters the
    pattern for other URLs stops at (a space, say) is masked too, raw and encoded. It is
    masked where it stands as a word of its own: a password `postgres` leaves the word
    `postgresql` alone."""
    secrets = _secrets(url)
    if secrets is not None:
        text = secrets.sub("***", text)
    text = _PASSWORD_IN_URL.sub(lambda m: m.group("head") + "***@", text)
    return _PASSWORD_IN_QUERY.sub(lambda m: m.group("head") + "***", text)


@functools.lru_cache(maxsize=16)
def _secrets(url: str | None) -> re.Pattern[str] | None:
    """A pattern matching the password of `url` in every spelling it may be printed in."""
    if not url:
        return None
    found: set[str] = set()
    for pattern in (_URL_PASSWORD, _PASSWORD_IN_URL):
        match = pattern.search(url)
        if match:
            found.add(match.group("password"))
    found.update(m.group("password") for m in _PASSWORD_IN_QUERY.finditer(url))
    try:
        # lazy: SQLAlchemy, only once a URL is masked (the configuration is read by every
        # command, `new` and `--help` too, before anything connects)
        import sqlalchemy as sa

        parsed = sa.make_url(url)
    except Exception:  # an unparsable URL: the patterns above are all we have
        parsed = None
    if parsed is not None:
        if parsed.password:
            found.add(str(parsed.password))
        value = parsed.query.get("password")
        found.update([value] if isinstance(value, str) else list(value or ()))
    # A password with a raw `@` is split there by SQLAlchemy, so a driver may echo any
    # piece of it (`hunter22@host` of `sec@hunter22`): mask every piece too.
    found.update(piece for secret in list(found) for piece in secret.split("@"))
    spellings = {s for secret in found for s in (secret, unquote(secret), quote_plus(secret))}
    words = sorted((s for s in spellings if len(s) >= 3), key=len, reverse=True)
    if not words:
        return None
    either = "|".join(re.escape(word) for word in words)
    return re.compile(f"(?<![A-Za-z0-9])(?:{either})(?![A-Za-z0-9])")
