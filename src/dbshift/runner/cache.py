"""The compiled-statement cache: what a migration sent, kept to send again.

The same migrations are applied to many databases (CI runs, test databases, tenants).
A migration whose statements do not depend on the database it runs on (every operation
`static_sql`, and none of them read a table, queried or ran code as it ran: see
`dbshift.ops.context.Capture`) sends the same statements everywhere the key below is the
same, so the runner keeps them, compiled, after it applied the migration once; the next
`upgrade` that runs it sends them without importing the file, recording its operations or
compiling anything (`Replay.walk` yields them instead of operations). Everything else the
runner does around a migration (the lock and re-check, the timeouts, the history and log
rows, MariaDB's statement journal and its resume) is the same for both.

The key: the file's id and checksum, and, per cache file, the backend, the dialect and
driver, the server's version, what else of the connection compiled SQL depends on
(`Backend.compiled_for`), the configured schema, and the versions of dbshift and
SQLAlchemy. One file per such key, `__pycache__/dbshift-statements-<hash>.marshal`
beside the header cache, written atomically; entries of files gone or changed are
dropped when it is written again. A file that cannot be read, is not one of these, or
was written for another key is ignored (and replaced by the next run that keeps
something); a read-only folder just has no cache.
"""

from __future__ import annotations

import hashlib
import marshal
import threading
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from dbshift._version import __version__
from dbshift.dialects import backend_for
from dbshift.migrations.scripts import Script, write_cache
from dbshift.ops.context import Compiled, DriverSQL
from dbshift.runner.report import log

#: one entry: the file's checksum, its statements per operation as (text, ddl) pairs, and
#: the source lines of its operations
Entry = tuple[str, tuple[tuple[tuple[str, bool], ...], ...], tuple[int, ...]]


def cache_key(
    conn: sa.Connection, schema: str | None, search_path: tuple[str, ...] = ()
) -> tuple[Any, ...]:
    """What, beside the file, the statements a migration compiles to depend on.

    With a `search_path` (a fleet's tenant schema first, docs/fleet.md) the path is part
    of the key, its first schema as a placeholder when it is the bookkeeping `schema`:
    the statements are unqualified, so tenants on paths of the same shape share them
    (compiled once per fleet run), and a path of another shape has a key of its own."""
    dialect = conn.dialect
    where: Any = schema
    if search_path:
        tenant = tenant_of(schema, search_path)
        where = tuple(TENANT if name == tenant else name for name in (schema, *search_path))
    return (
        StatementCache.VERSION,
        __version__,
        sa.__version__,
        backend_for(dialect).compiled_for(dialect),
        where,
    )


#: the placeholder for a fleet tenant's own schema in a statement cache key
TENANT = "<tenant>"


def tenant_of(schema: str | None, search_path: tuple[str, ...]) -> str | None:
    """The tenant schema `cache_key` keys by its placeholder: the bookkeeping `schema`
    when it comes first on the path; else None."""
    return schema if search_path and search_path[0] == schema else None


def names_tenant(compiled: Compiled, tenant: str | None, dialect: sa.Dialect) -> bool:
    """Whether a statement of `compiled` names the `tenant` schema (bare or quoted):
    kept under the key's placeholder, it would be sent to the next tenant as it is and
    reach this one's schema, so it is not kept. (A migration's SQL cannot see which
    tenant it runs for, but its code could: an environment variable set per tenant.)"""
    if tenant is None:
        return False
    spellings = (tenant, dialect.identifier_preparer.quote_identifier(tenant))
    return any(name in s.text for s in compiled.flat() for name in spellings)


class Shelf:
    """The statement caches of one fleet run, one per key, shared by the runners of
    every target (each in its own thread): a migration compiled for one tenant is sent
    to the next without being loaded again, and each cache file is read once."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._caches: dict[tuple[Path, str], StatementCache] = {}

    def cache(self, folder: Path, key: tuple[Any, ...]) -> StatementCache:
        with self._lock:
            found = self._caches.get((folder, repr(key)))
            if found is None:
                found = self._caches[(folder, repr(key))] = StatementCache(folder, key)
            return found


class StatementCache:
    """The compiled statements of migrations for one key (see the module's doc)."""

    VERSION = 1

    def __init__(self, folder: Path, key: tuple[Any, ...]) -> None:
        self.key = repr(key)
        digest = hashlib.sha256(self.key.encode()).hexdigest()[:16]
        self.path = folder / "__pycache__" / f"dbshift-statements-{digest}.marshal"
        self.entries: dict[str, Entry] = {}
        self.dirty = False
        #: runners in several threads may share one cache (`Shelf`)
        self._lock = threading.RLock()
        try:
            version, key_text, entries = marshal.loads(self.path.read_bytes())
            if version == self.VERSION and key_text == self.key and isinstance(entries, dict):
                self.entries = entries
        except (OSError, ValueError, EOFError, TypeError):
            pass  # missing, unreadable or not ours: as if empty

    def get(self, script: Script) -> Compiled | None:
        """The migration's statements, when kept for this very file; else None."""
        with self._lock:
            return self._get(script)

    def _get(self, script: Script) -> Compiled | None:
        entry = self.entries.get(script.id)
        if entry is None:
            return None
        try:
            checksum, groups, lines = entry
            if checksum != script.checksum:
                return None
            compiled = Compiled(
                tuple(tuple(DriverSQL(text, ddl) for text, ddl in group) for group in groups),
                tuple(lines),
            )
            if not all(
                isinstance(s.text, str) and isinstance(s.ddl, bool) for s in compiled.flat()
            ) or not all(isinstance(line, int) for line in compiled.lines):
                raise TypeError("not statements")
        except (TypeError, ValueError):  # a damaged entry: forget it
            del self.entries[script.id]
            self.dirty = True
            return None
        log.debug("%s: its statements are kept compiled (%s)", script.id, self.path.name)
        return compiled

    def put(self, script: Script, compiled: Compiled) -> None:
        groups = tuple(tuple((s.text, s.ddl) for s in group) for group in compiled.statements)
        entry: Entry = (script.checksum, groups, compiled.lines)
        with self._lock:
            if self.entries.get(script.id) != entry:
                self.entries[script.id] = entry
                self.dirty = True

    def save(self, scripts: dict[str, Script]) -> None:
        """Write the cache if it changed, without the entries of files that are gone or
        were edited since (like the header cache)."""
        with self._lock:
            self._save(scripts)

    def _save(self, scripts: dict[str, Script]) -> None:
        stale = [
            i
            for i, entry in self.entries.items()
            if i not in scripts
            or not isinstance(entry, tuple)
            or entry[:1] != (scripts[i].checksum,)
        ]
        if not (self.dirty or stale):
            return
        for migration_id in stale:
            del self.entries[migration_id]
        try:
            data = marshal.dumps((self.VERSION, self.key, self.entries))
        except ValueError:  # something unmarshallable came in a damaged file
            data = marshal.dumps((self.VERSION, self.key, {}))
        write_cache(self.path, data)
        self.dirty = False
