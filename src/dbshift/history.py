"""The bookkeeping tables: the only code that reads or writes them.

`<prefix>history` holds one row per applied migration (a full history, not only the
head); `<prefix>log` is an append-only journal of every event. A migration that failed
part-way on a backend without transactional DDL (MySQL/MariaDB), or a non-transactional
migration anywhere, keeps a row in state `partial` while it runs: its `progress` gets one
line per completed statement, `<hash> <first line of the statement>`, written with the
statement (in its transaction, where it can run in one), and a last line `!<hash> <first
line>` when a statement failed. A partial row without that last line was interrupted
(the runner was killed or lost its connection): the statement after the recorded ones
did not commit, unless it commits apart from its record (MySQL's DDL, `CREATE INDEX
CONCURRENTLY`; see `dbshift.dialects.base.Commit`).
`<prefix>lock` holds the lease of a runner applying a migration outside a transaction
(see `dbshift.lease`).
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import socket
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from functools import cache
from typing import Any, Final, Literal, NamedTuple

import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler

from dbshift._version import __version__
from dbshift.dialects import backend_for


class _Timestamp(sa.TypeDecorator[datetime]):
    """UTC timestamps with microseconds: the order of applies needs them, and MySQL's
    DATETIME drops fractions unless asked. (Resolved per dialect by the backend, so
    that reading the history never imports the MySQL dialect elsewhere.)"""

    impl = sa.DateTime
    cache_ok = True

    def load_dialect_impl(self, dialect: sa.engine.Dialect) -> sa.types.TypeEngine[Any]:
        return backend_for(dialect).history_timestamp(dialect)


_TIMESTAMP = _Timestamp()


class utc_now(sa.sql.functions.FunctionElement[datetime]):
    """The database's current UTC time, for offline scripts (rendered per dialect)."""

    type = sa.DateTime()
    inherit_cache = True


@compiles(utc_now)
def _utc_now_default(element: utc_now, compiler: SQLCompiler, **kw: Any) -> str:
    return "CURRENT_TIMESTAMP"


@compiles(utc_now, "postgresql")
def _utc_now_pg(element: utc_now, compiler: SQLCompiler, **kw: Any) -> str:
    return "(now() AT TIME ZONE 'utc')"


@compiles(utc_now, "mysql")
@compiles(utc_now, "mariadb")
def _utc_now_mysql(element: utc_now, compiler: SQLCompiler, **kw: Any) -> str:
    return "UTC_TIMESTAMP(6)"


@compiles(utc_now, "sqlite")
def _utc_now_sqlite(element: utc_now, compiler: SQLCompiler, **kw: Any) -> str:
    return "strftime('%Y-%m-%d %H:%M:%f', 'now')"


class db_epoch(sa.sql.functions.FunctionElement[float]):
    """The database's clock in seconds since 1970: leases are timed by one clock, not by
    the clocks of the machines that run dbshift."""

    type = sa.Double()
    inherit_cache = True


@compiles(db_epoch, "postgresql")
def _db_epoch_pg(element: db_epoch, compiler: SQLCompiler, **kw: Any) -> str:
    return "CAST(extract(epoch from clock_timestamp()) AS double precision)"


@compiles(db_epoch, "mysql")
@compiles(db_epoch, "mariadb")
def _db_epoch_mysql(element: db_epoch, compiler: SQLCompiler, **kw: Any) -> str:
    return "(UNIX_TIMESTAMP(NOW(6)) + 0E0)"  # a double, not a decimal


@compiles(db_epoch, "sqlite")
def _db_epoch_sqlite(element: db_epoch, compiler: SQLCompiler, **kw: Any) -> str:
    return "((julianday('now') - 2440587.5) * 86400.0)"


#: the `state` of a history row: applied, or stopped part-way (see the module's docstring)
State = Literal["applied", "partial"]
APPLIED: Final = "applied"
PARTIAL: Final = "partial"
#: the `event` of a log row (docs/runs.md): a migration applied, reverted or stamped, a
#: `repair`, a statement that `failed`, a lock-timeout `retry`, a `lease` taken over, a
#: database taken over from another tool (`adopt`, docs/adopt.md)
Event = Literal[
    "upgrade", "downgrade", "stamp", "repair", "failed", "retry", "lease", "adopt", "baseline"
]

#: the `applied_by` of the rows `dbshift adopt` writes: `adopted from <tool>`
ADOPTED_FROM = "adopted from "

#: characters of a statement's first line kept in the history
_SHOWN = 80


@dataclasses.dataclass(frozen=True)
class StatementMark:
    """One statement of a migration as the history remembers it: the hash of its whole
    text (whitespace-normalized) and its first line, for people to read."""

    hash: str
    text: str

    @classmethod
    def of(cls, sql: str) -> StatementMark:
        return cls(statement_hash(sql), first_line(sql))

    def to_json(self) -> dict[str, str]:
        return {"hash": self.hash, "statement": self.text}


def first_line(sql: str) -> str:
    """A statement's first non-blank line, shortened for display."""
    line = next((part.strip() for part in sql.strip().splitlines() if part.strip()), "")
    return line if len(line) <= _SHOWN else line[: _SHOWN - 3] + "..."


class HistoryRow(NamedTuple):
    """One row of the history table (a named tuple: `status` builds thousands)."""

    id: str
    checksum: str
    state: State
    applied_at: datetime
    duration_ms: int
    applied_by: str
    dbshift_version: str
    #: the statements a partial migration completed, in order
    done: tuple[StatementMark, ...] = ()
    #: the statement that failed; None for a partial row whose run was interrupted
    failed: StatementMark | None = None

    @property
    def applied(self) -> bool:
        return self.state == APPLIED

    @property
    def progress(self) -> tuple[str, ...]:
        """The hashes of the completed statements."""
        return tuple(mark.hash for mark in self.done)

    @property
    def interrupted(self) -> bool:
        """A partial row with no recorded failure: the run stopped without seeing one
        (killed, connection lost), so the next statement may have completed if it
        commits apart from its record."""
        return not self.applied and self.failed is None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "checksum": self.checksum,
            "state": self.state,
            "applied_at": self.applied_at.isoformat() + "Z",
            "duration_ms": self.duration_ms,
            "applied_by": self.applied_by,
            "dbshift_version": self.dbshift_version,
            "statements_done": len(self.done),
        }


@cache
def who() -> str:
    """`user@host` of this process, recorded with every change."""
    # lazy: status start-up: only the commands that write name their user
    import getpass

    try:
        user = getpass.getuser()
    except Exception:
        user = "unknown"
    return f"{user}@{socket.gethostname()}"


def statement_hash(sql: str) -> str:
    return hashlib.sha256(" ".join(sql.split()).encode()).hexdigest()[:16]


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


class History:
    """The bookkeeping tables for one prefix and schema."""

    def __init__(self, prefix: str = "dbshift_", schema: str | None = None) -> None:
        self.metadata = sa.MetaData(schema=schema)
        self.prefix = prefix
        self.schema = schema
        self.table = sa.Table(
            f"{prefix}history",
            self.metadata,
            sa.Column("id", sa.String(255), primary_key=True),
            sa.Column("checksum", sa.String(64), nullable=False),
            sa.Column("state", sa.String(16), nullable=False),
            sa.Column("applied_at", _TIMESTAMP, nullable=False),
            sa.Column("duration_ms", sa.Integer(), nullable=False),
            sa.Column("applied_by", sa.String(255), nullable=False),
            sa.Column("dbshift_version", sa.String(32), nullable=False),
            sa.Column("progress", sa.Text(), nullable=True),
        )
        self.log = sa.Table(
            f"{prefix}log",
            self.metadata,
            sa.Column("seq", sa.Integer(), primary_key=True, autoincrement=True),
            sa.Column("event", sa.String(16), nullable=False),
            sa.Column("migration_id", sa.String(255), nullable=True),
            sa.Column("checksum", sa.String(64), nullable=True),
            sa.Column("at", _TIMESTAMP, nullable=False),
            sa.Column("by", sa.String(255), nullable=False),
            sa.Column("dbshift_version", sa.String(32), nullable=False),
            sa.Column("detail", sa.Text(), nullable=True),
        )

        self._together: dict[str, sa.Insert] = {}  # `_with_event`
        self._reads: dict[tuple[sa.ColumnElement[Any], ...], sa.Select[Any]] = {}
        self.lease = sa.Table(
            f"{prefix}lock",
            self.metadata,
            sa.Column("name", sa.String(64), primary_key=True),
            sa.Column("token", sa.String(64), nullable=True),  # None: free
            sa.Column("holder", sa.String(255), nullable=False),
            sa.Column("pid", sa.Integer(), nullable=False),
            sa.Column("process", sa.String(128), nullable=False),
            sa.Column("migration_id", sa.String(255), nullable=True),
            sa.Column("since", sa.Double(), nullable=False),
            sa.Column("renewed", sa.Double(), nullable=False),
            sa.Column("ttl", sa.Double(), nullable=False),
            # the holder's connection id under a session lock (MySQL), to name it
            sa.Column("session", sa.String(64), nullable=True),
        )

    def in_schema(self, schema: str | None) -> History:
        """The same tables, named with `schema` (this one when it is already)."""
        return self if schema == self.schema else History(self.prefix, schema)

    # -- schema of the bookkeeping tables -------------------------------------------

    @property
    def names(self) -> tuple[str, ...]:
        """The bookkeeping tables' names (not part of the user's schema)."""
        return (self.table.name, self.log.name, self.lease.name)

    def exists(self, conn: sa.Connection) -> bool:
        return sa.inspect(conn).has_table(self.table.name, schema=self.schema)

    def ensure(self, conn: sa.Connection) -> None:
        """Create the tables that are missing, each checked on its own: where DDL
        commits implicitly (MySQL), a runner killed between two CREATEs leaves only the
        first. The caller holds the runner lock inside this transaction, so concurrent
        runners create them one after the other (a bare CREATE TABLE IF NOT EXISTS races
        on PostgreSQL's catalog)."""
        present = set(sa.inspect(conn).get_table_names(schema=self.schema))
        for table in (self.table, self.log, self.lease):
            if table.name not in present:
                conn.execute(sa.schema.CreateTable(table, if_not_exists=True))

    def create_statements(self) -> list[sa.schema.CreateTable]:
        tables = (self.table, self.log, self.lease)
        return [sa.schema.CreateTable(t, if_not_exists=True) for t in tables]

    # -- reads -------------------------------------------------------------------------

    def rows(self, conn: sa.Connection) -> list[HistoryRow]:
        """Every row, in the order the migrations were applied."""
        if not self.exists(conn):
            return []
        t = self.table
        result = conn.execute(sa.select(t).order_by(t.c.applied_at, t.c.id))
        return [
            HistoryRow(id_, checksum, state, at, ms, by, version, *parse_progress(progress))
            for id_, checksum, state, at, ms, by, version, progress in result
        ]

    def row(self, conn: sa.Connection, migration_id: str) -> HistoryRow | None:
        found = conn.execute(sa.select(self.table).where(self.table.c.id == migration_id))
        mapping = found.mappings().first()
        return _row(mapping) if mapping is not None else None

    def row_if_exists(self, conn: sa.Connection, migration_id: str) -> HistoryRow | None:
        return self.row(conn, migration_id) if self.exists(conn) else None

    def events(self, conn: sa.Connection) -> list[dict[str, Any]]:
        if not self.exists(conn):
            return []
        return [
            dict(r) for r in conn.execute(sa.select(self.log).order_by(self.log.c.seq)).mappings()
        ]

    # -- writes ------------------------------------------------------------------------

    def record_applied(
        self, conn: sa.Connection, migration_id: str, checksum: str, duration_ms: int
    ) -> None:
        conn.execute(self.table.delete().where(self.table.c.id == migration_id))
        conn.execute(self.insert_applied(migration_id, checksum, duration_ms))

    def record_adopted(
        self, conn: sa.Connection, migration_id: str, checksum: str, tool: str
    ) -> None:
        """A migration another tool applied, recorded as `adopted from <tool>`."""
        values = self.applied_values(migration_id, checksum, 0, by=f"{ADOPTED_FROM}{tool}")
        conn.execute(self.table.insert().values(values))

    def last_event(self, conn: sa.Connection, event: Event) -> dict[str, Any] | None:
        """The latest log row of `event`, or None (also when there is no log)."""
        if not sa.inspect(conn).has_table(self.log.name, schema=self.schema):
            return None
        found = conn.execute(
            sa.select(self.log)
            .where(self.log.c.event == event)
            .order_by(self.log.c.seq.desc())
            .limit(1)
        )
        row = found.mappings().first()
        return dict(row) if row is not None else None

    def applied_values(
        self,
        migration_id: str,
        checksum: str,
        duration_ms: int,
        state: str = APPLIED,
        progress: Sequence[str] = (),
        at: Any = None,
        by: str | None = None,
    ) -> dict[str, Any]:
        """A history row's values: the one definition behind the literal statements
        (`insert_applied`, for offline scripts and stamps) and the prebuilt ones the
        runner executes with them as parameters (`write_applied`). `by`: who applied
        it, when not this process's user (`adopted from alembic`)."""
        return {
            "id": migration_id,
            "checksum": checksum,
            "state": state,
            "applied_at": utcnow() if at is None else at,
            "duration_ms": duration_ms,
            "applied_by": who() if by is None else by,
            "dbshift_version": __version__,
            "progress": "\n".join(progress) if progress else None,
        }

    def event_values(
        self,
        event: Event,
        migration_id: str | None = None,
        checksum: str | None = None,
        detail: str | None = None,
        at: Any = None,
    ) -> dict[str, Any]:
        """A log row's values (see `applied_values`)."""
        return {
            "event": event,
            "migration_id": migration_id,
            "checksum": checksum,
            "at": utcnow() if at is None else at,
            "by": who(),
            "dbshift_version": __version__,
            "detail": detail,
        }

    def insert_applied(
        self,
        migration_id: str,
        checksum: str,
        duration_ms: int,
        state: State = APPLIED,
        progress: Sequence[str] = (),
        at: Any = None,
    ) -> sa.Insert:
        values = self.applied_values(migration_id, checksum, duration_ms, state, progress, at)
        return self.table.insert().values(values)

    # Prebuilt statements: built once per History, so SQLAlchemy finds their compiled
    # form in its cache, and executed with `applied_values` / `event_values` as
    # parameters (`h_<column>`, `l_<column>`; `h_key` names the row to update).

    @functools.cached_property
    def _history_values(self) -> dict[str, sa.BindParameter[Any]]:
        return {c.name: sa.bindparam(f"h_{c.name}", type_=c.type) for c in self.table.c}

    @functools.cached_property
    def _insert_row(self) -> sa.Insert:
        return self.table.insert().values(self._history_values)

    @functools.cached_property
    def _update_row(self) -> sa.Update:
        values = {k: v for k, v in self._history_values.items() if k != "id"}
        return self.table.update().where(self.table.c.id == sa.bindparam("h_key")).values(values)

    @functools.cached_property
    def _delete_row(self) -> sa.Delete:
        return self.table.delete().where(self.table.c.id == sa.bindparam("h_key"))

    @functools.cached_property
    def _insert_event(self) -> sa.Insert:
        values = {c.name: sa.bindparam(f"l_{c.name}", type_=c.type) for c in self.log.c}
        del values["seq"]
        return self.log.insert().inline().values(values)

    def _with_event(self, write: str) -> sa.Insert:
        """The log insert carrying the history write `write` (a key of `_writes`) as a
        data-modifying CTE: both in one statement (PostgreSQL)."""
        found = self._together.get(write)
        if found is None:
            cte = self._writes[write].cte(f"dbshift_{write}")
            found = self._together[write] = self._insert_event.add_cte(cte)
        return found

    @property
    def _writes(self) -> dict[str, sa.Insert | sa.Update | sa.Delete]:
        return {"insert": self._insert_row, "update": self._update_row, "delete": self._delete_row}

    def _write(
        self,
        conn: sa.Connection,
        write: str,
        params: dict[str, Any],
        event: dict[str, Any],
        together: bool,
    ) -> None:
        logged = _prefixed("l", event)
        if together:
            conn.execute(self._with_event(write), {**params, **logged})
        else:
            conn.execute(self._writes[write], params)
            conn.execute(self._insert_event, logged)

    def write_applied(
        self,
        conn: sa.Connection,
        migration_id: str,
        checksum: str,
        duration_ms: int,
        event: Event,
        detail: str | None = None,
        *,
        update: bool,
        together: bool,
    ) -> None:
        """Record a migration applied, with its log event, in the caller's transaction:
        its partial row turned applied (`update`), else a new row. `together`: one
        statement (`Backend.writes_in_cte`), else two."""
        values = self.applied_values(migration_id, checksum, duration_ms)
        params = _prefixed("h", values)
        if update:
            params["h_key"] = params.pop("h_id")
        logged = self.event_values(event, migration_id, checksum, detail)
        self._write(conn, "update" if update else "insert", params, logged, together)

    def write_removed(
        self,
        conn: sa.Connection,
        migration_id: str,
        checksum: str,
        event: Event,
        detail: str | None = None,
        *,
        together: bool,
    ) -> None:
        """Forget a migration's row, with its log event (see `write_applied`)."""
        logged = self.event_values(event, migration_id, checksum, detail)
        self._write(conn, "delete", {"h_key": migration_id}, logged, together)

    def start_partial(self, conn: sa.Connection, migration_id: str, checksum: str) -> None:
        """The row of a migration about to run statement by statement, which has none:
        partial, with nothing done yet (a kill during its first statement leaves this
        trace)."""
        values = self.applied_values(migration_id, checksum, 0, PARTIAL)
        conn.execute(self._insert_row, _prefixed("h", values))

    @functools.cached_property
    def _update_progress(self) -> sa.Update:
        names = ("checksum", "state", "applied_at", "applied_by", "progress")
        values = {name: self._history_values[name] for name in names}
        return self.table.update().where(self.table.c.id == sa.bindparam("h_key")).values(values)

    def record_progress(
        self,
        conn: sa.Connection,
        migration_id: str,
        checksum: str,
        done: Sequence[StatementMark],
        failed: StatementMark | None = None,
    ) -> None:
        """Rewrite a partial row's progress: one small UPDATE per completed statement,
        in the caller's transaction (the statement's own, where it has one)."""
        conn.execute(
            self._update_progress,
            {
                "h_key": migration_id,
                "h_checksum": checksum,
                "h_state": PARTIAL,
                "h_applied_at": utcnow(),
                "h_applied_by": who(),
                "h_progress": format_progress(done, failed),
            },
        )

    @staticmethod
    def now_sql() -> utc_now:
        return utc_now()

    def remove(self, conn: sa.Connection, migration_id: str) -> None:
        conn.execute(self.delete(migration_id))

    def delete(self, migration_id: str) -> sa.Delete:
        return self.table.delete().where(self.table.c.id == migration_id)

    def update_checksum(self, conn: sa.Connection, migration_id: str, checksum: str) -> None:
        conn.execute(
            self.table.update().where(self.table.c.id == migration_id).values(checksum=checksum)
        )

    def log_event(
        self,
        event: Event,
        migration_id: str | None = None,
        checksum: str | None = None,
        detail: str | None = None,
        at: Any = None,
    ) -> sa.Insert:
        values = self.event_values(event, migration_id, checksum, detail, at)
        return self.log.insert().inline().values(values)

    # -- the lease (see dbshift.lease) ----------------------------------------------------

    def row_with_lease(
        self,
        conn: sa.Connection,
        migration_id: str,
        lease_name: str,
        settings: tuple[sa.ColumnElement[Any], ...] = (),
        params: dict[str, Any] | None = None,
        read: Callable[[sa.Select[Any], dict[str, Any]], Mapping[Any, Any]] | None = None,
    ) -> tuple[HistoryRow | None, LeaseRow | None]:
        """A migration's history row and the lease, in one round trip (every migration
        of a run asks for both, under the runner lock). `settings`: more columns for
        the same query, evaluated once, bound from `params` (the migration's local
        timeouts: `DialectRules.local_timeouts`). `read(query, params)`, when given,
        runs the query and returns its row (the runner's takes the lock first:
        `Held.guarded_read`)."""
        bound = {"migration_id": migration_id, "lease_name": lease_name, **(params or {})}
        query = self._row_with_lease(settings)
        found = (
            read(query, bound) if read is not None else conn.execute(query, bound).mappings().one()
        )
        h, t = self.table, self.lease
        row = _row({c.name: found[f"h_{c.name}"] for c in h.c}) if found["h_id"] else None
        lease = (
            LeaseRow(**{c.name: found[f"l_{c.name}"] for c in t.c}, now=found["now"])
            if found["l_name"] is not None
            else None
        )
        return row, lease

    def _row_with_lease(self, settings: tuple[sa.ColumnElement[Any], ...]) -> sa.Select[Any]:
        """Built once (per set of extra columns): SQLAlchemy reuses its compiled form
        for every migration."""
        found = self._reads.get(settings)
        if found is not None:
            return found
        h, t = self.table, self.lease
        one = sa.select(sa.literal(1).label("one")).subquery("one")
        joined = one.outerjoin(h, h.c.id == sa.bindparam("migration_id")).outerjoin(
            t, t.c.name == sa.bindparam("lease_name")
        )
        labelled = [c.label(f"h_{c.name}") for c in h.c] + [c.label(f"l_{c.name}") for c in t.c]
        select = sa.select(*labelled, db_epoch().label("now"), *settings).select_from(joined)
        self._reads[settings] = select
        return select

    def lease_row(self, conn: sa.Connection, name: str) -> LeaseRow | None:
        """The lease and the database's clock now."""
        t = self.lease
        found = conn.execute(sa.select(t, db_epoch().label("now")).where(t.c.name == name))
        mapping = found.mappings().first()
        if mapping is None:
            return None
        return LeaseRow(**{k: v for k, v in mapping.items()})

    def take_lease(
        self, conn: sa.Connection, lease: LeaseRow, before: LeaseRow | None, ttl: float
    ) -> bool:
        """Write `lease` (holder fields) if the row is still `before`; False otherwise.
        The compare-and-set loses to a holder's heartbeat that renewed meanwhile."""
        t = self.lease
        values = {
            "token": lease.token,
            "holder": lease.holder,
            "pid": lease.pid,
            "process": lease.process,
            "migration_id": lease.migration_id,
            "since": db_epoch(),
            "renewed": db_epoch(),
            "ttl": ttl,
            "session": lease.session,
        }
        if before is None:
            conn.execute(t.insert().values(name=lease.name, **values))
            return True
        same = t.c.token.is_(None) if before.token is None else t.c.token == before.token
        result = conn.execute(
            t.update()
            .where(t.c.name == lease.name, same, t.c.renewed == before.renewed)
            .values(**values)
        )
        return result.rowcount == 1

    def renew_lease(self, conn: sa.Connection, name: str, token: str) -> bool:
        t = self.lease
        result = conn.execute(
            t.update().where(t.c.name == name, t.c.token == token).values(renewed=db_epoch())
        )
        return result.rowcount == 1

    def free_lease(self, conn: sa.Connection, name: str, token: str) -> None:
        t = self.lease
        conn.execute(t.update().where(t.c.name == name, t.c.token == token).values(token=None))


@dataclasses.dataclass(frozen=True)
class LeaseRow:
    name: str
    token: str | None
    holder: str
    pid: int
    process: str
    migration_id: str | None
    since: float
    renewed: float
    ttl: float
    session: str | None = None
    now: float = 0.0  # the database's clock when the row was read

    @property
    def expired(self) -> bool:
        return self.now - self.renewed > self.ttl


def _row(mapping: Any) -> HistoryRow:
    done, failed = parse_progress(mapping["progress"])
    return HistoryRow(
        id=mapping["id"],
        checksum=mapping["checksum"],
        state=mapping["state"],
        applied_at=mapping["applied_at"],
        duration_ms=mapping["duration_ms"],
        applied_by=mapping["applied_by"],
        dbshift_version=mapping["dbshift_version"],
        done=done,
        failed=failed,
    )


def format_progress(done: Sequence[StatementMark], failed: StatementMark | None = None) -> str:
    lines = [f"{mark.hash} {mark.text}" for mark in done]
    if failed is not None:
        lines.append(f"!{failed.hash} {failed.text}")
    return "\n".join(lines)


def parse_progress(text: str | None) -> tuple[tuple[StatementMark, ...], StatementMark | None]:
    """`(done, failed)` from a progress column (older rows hold bare hashes)."""
    if not text:  # every applied migration: thousands per status
        return (), None
    done: list[StatementMark] = []
    failed = None
    for line in (text or "").split("\n"):
        if not line:
            continue
        hash_, _, shown = line.partition(" ")
        if hash_.startswith("!"):
            failed = StatementMark(hash_[1:], shown)
        else:
            done.append(StatementMark(hash_, shown))
    return tuple(done), failed


def _prefixed(prefix: str, values: dict[str, Any]) -> dict[str, Any]:
    """Row values as the parameters of the prebuilt statements: `h_<column>` for the
    history, `l_<column>` for the log (see `History._history_values`)."""
    return {f"{prefix}_{key}": value for key, value in values.items()}
