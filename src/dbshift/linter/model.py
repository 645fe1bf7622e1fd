"""The linter's vocabulary: the server a migration is checked for, rules, findings."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal

from dbshift.dialects import backend_for
from dbshift.facts import ColumnFact, Fact

if TYPE_CHECKING:
    from sqlalchemy.engine import Dialect

    from dbshift.migrations.scripts import Kind

Severity = Literal["error", "warning", "info"]
SEVERITIES: tuple[Severity, ...] = ("info", "warning", "error")
Category = Literal["data-loss", "backward-incompatible", "locking", "hygiene"]
BACKENDS = ("postgresql", "mysql", "mariadb", "sqlite")
ALL = frozenset(BACKENDS)
MYSQL = frozenset({"mysql", "mariadb"})
PG = frozenset({"postgresql"})
SERVERS = frozenset({"postgresql", "mysql", "mariadb"})


def rank(severity: str) -> int:
    return SEVERITIES.index(severity)


@dataclasses.dataclass(frozen=True)
class Target:
    """The server the migrations are checked for. `version` None means "unknown":
    version-aware rules then assume a current server (PostgreSQL 16, MariaDB 10.11,
    MySQL 8.0); set `[lint] server_version` to check for an older one."""

    backend: str
    version: tuple[int, ...] | None = None

    @classmethod
    def of(cls, dialect: Dialect, *, live: bool = False) -> Target:
        """The target a SQLAlchemy dialect names (MariaDB is `mysql` to SQLAlchemy); with
        `live`, the version its connection reported."""
        backend = backend_for(dialect).server_name(dialect)
        info = dialect.server_version_info if live else None
        version = tuple(int(p) for p in info if isinstance(p, int)) if info else None
        return cls(backend, version)

    def at_least(self, *version: int) -> bool:
        return self.version is None or self.version >= version

    @property
    def label(self) -> str:
        if self.version is None:
            return self.backend
        return f"{self.backend} {'.'.join(map(str, self.version))}"


def parse_version(text: str) -> tuple[int, ...]:
    """`"15"`, `"10.11.6-MariaDB"`, `"8.0.36"` -> a tuple of ints."""
    numbers = re.findall(r"\d+", text.split("-")[0])
    if not numbers:
        raise ValueError(f"not a version: {text!r}")
    return tuple(int(n) for n in numbers[:3])


@dataclasses.dataclass
class SchemaState:
    """What the linter knows of the schema: tables with their columns, enum types, and
    the NOT NULL checks that make `SET NOT NULL` cheap. Built from facts, so raw SQL
    migrations contribute as much as `op` calls do."""

    tables: dict[str, dict[str, ColumnFact]] = dataclasses.field(default_factory=dict)
    enums: dict[str, tuple[str, ...]] = dataclasses.field(default_factory=dict)
    #: (table key, column) pairs with a validated `CHECK (col IS NOT NULL)`
    not_null_checks: set[tuple[str, str]] = dataclasses.field(default_factory=set)
    #: `CHECK (col IS NOT NULL) NOT VALID` not validated yet: (table key, name) -> column.
    #: A later migration's `VALIDATE CONSTRAINT` moves it to `not_null_checks`.
    pending_checks: dict[tuple[str, str], str] = dataclasses.field(default_factory=dict)
    #: every named `CHECK (col IS NOT NULL)`, validated or not: (table key, name) -> column
    named_not_null_checks: dict[tuple[str, str], str] = dataclasses.field(default_factory=dict)
    #: functions the migrations created (`name` and `schema.name`, lower case) -> their
    #: declared volatility: a default calling one declared STABLE rewrites nothing
    functions: dict[str, str] = dataclasses.field(default_factory=dict)

    def column(self, fact: Fact) -> ColumnFact | None:
        key = fact.key
        if key is None or fact.column is None:
            return None
        return self.tables.get(key, {}).get(fact.column)

    def copy(self) -> SchemaState:
        return SchemaState(
            {k: dict(v) for k, v in self.tables.items()},
            dict(self.enums),
            set(self.not_null_checks),
            dict(self.pending_checks),
            dict(self.named_not_null_checks),
            dict(self.functions),
        )

    def apply(self, fact: Fact) -> None:
        key = fact.key
        if fact.kind == "create_table" and key:
            self.tables[key] = {c.name: c for c in fact.columns}
        elif fact.kind == "drop_table" and key:
            self.tables.pop(key, None)
        elif fact.kind == "rename_table" and key and fact.new_name:
            new_key = f"{fact.schema}.{fact.new_name}" if fact.schema else fact.new_name
            self.tables[new_key] = self.tables.pop(key, {})
        elif key and key in self.tables:
            columns = self.tables[key]
            if fact.kind == "add_column" and fact.columns:
                columns[fact.columns[0].name] = fact.columns[0]
            elif fact.kind == "drop_column" and fact.column:
                columns.pop(fact.column, None)
            elif fact.kind == "rename_column" and fact.column and fact.new_name:
                if fact.column in columns:
                    columns[fact.new_name] = dataclasses.replace(
                        columns.pop(fact.column), name=fact.new_name
                    )
            elif fact.kind == "alter_type" and fact.column in columns and fact.new_type:
                assert fact.column is not None
                columns[fact.column] = dataclasses.replace(columns[fact.column], type=fact.new_type)
            elif fact.kind in ("set_not_null", "drop_not_null") and fact.column in columns:
                assert fact.column is not None
                nullable = fact.kind == "drop_not_null"
                columns[fact.column] = dataclasses.replace(columns[fact.column], nullable=nullable)
            elif fact.column in columns and fact.kind in _COLUMN_CHANGES:
                assert fact.column is not None
                columns[fact.column] = _COLUMN_CHANGES[fact.kind](columns[fact.column], fact)
        if fact.kind == "set_schema" and fact.scope == "TABLE" and key and fact.new_name:
            assert fact.table is not None
            self.tables[f"{fact.new_name}.{fact.table}"] = self.tables.pop(key, {})
        if fact.kind == "add_check" and key:
            column = _not_null_column(fact.condition)
            if column is not None and not fact.not_valid:
                self.not_null_checks.add((key, column))
            elif column is not None and fact.name:
                self.pending_checks[(key, fact.name)] = column
            if column is not None and fact.name:
                self.named_not_null_checks[(key, fact.name)] = column
        if fact.kind == "drop_constraint" and key and fact.name:
            self.named_not_null_checks.pop((key, fact.name), None)
        if fact.kind == "validate_constraint" and key and fact.name:
            validated = self.pending_checks.pop((key, fact.name), None)
            if validated is not None:
                self.not_null_checks.add((key, validated))
        if fact.kind in ("create_enum", "set_enum_values") and fact.name:
            self.enums[fact.name] = fact.values
        elif fact.kind == "add_enum_value" and fact.name in self.enums and fact.values:
            assert fact.name is not None
            self.enums[fact.name] = _with_value(self.enums[fact.name], fact.values[0], fact)
        elif fact.kind == "drop_enum" and fact.name:
            self.enums.pop(fact.name, None)
        elif fact.kind == "rename_enum_value" and fact.name in self.enums:
            assert fact.name is not None
            old, new = fact.values
            self.enums[fact.name] = tuple(new if v == old else v for v in self.enums[fact.name])
        elif fact.kind == "rename_object" and fact.scope == "TYPE" and fact.name in self.enums:
            assert fact.name is not None
            self.enums[fact.new_name or fact.name] = self.enums.pop(fact.name)
        if fact.kind == "create_function" and fact.name and fact.volatility:
            self.functions[fact.name.lower()] = fact.volatility
            if fact.schema:
                self.functions[f"{fact.schema}.{fact.name}".lower()] = fact.volatility


#: how a column fact changes under the ALTER COLUMN forms that keep its type
_COLUMN_CHANGES: dict[str, Callable[[ColumnFact, Fact], ColumnFact]] = {
    "set_default": lambda c, f: dataclasses.replace(c, default=f.default),
    "drop_default": lambda c, f: dataclasses.replace(c, default=None),
    "drop_expression": lambda c, f: dataclasses.replace(c, computed=None, stored=None),
    "add_identity": lambda c, f: dataclasses.replace(c, generated=True, identity=True),
    "drop_identity": lambda c, f: dataclasses.replace(c, generated=False, identity=False),
}


def _with_value(values: tuple[str, ...], value: str, fact: Fact) -> tuple[str, ...]:
    """`values` with `value` where `ALTER TYPE ... ADD VALUE` puts it: before (or with
    AFTER, after) its neighbour `fact.position`, else at the end."""
    if value in values:
        return values
    at = len(values)
    if fact.position in values:
        at = values.index(fact.position) + (1 if fact.after else 0)
    return (*values[:at], value, *values[at:])


def _not_null_column(condition: str | None) -> str | None:
    """The column of a `col IS NOT NULL` condition, else None."""
    match = re.fullmatch(
        r"\(?\s*\"?(\w+)\"?\s+IS\s+NOT\s+NULL\s*\)?", condition or "", re.IGNORECASE
    )
    return match.group(1) if match else None


@dataclasses.dataclass(frozen=True)
class MigrationFacts:
    """One migration as the rules see it."""

    id: str
    file: str
    kind: Kind
    transactional: bool
    #: every fact with its source line (0 when unknown)
    facts: tuple[tuple[Fact, int], ...]
    #: False when the migration has no downgrade and none can be derived
    reversible: bool = True
    has_downgrade: bool = True
    #: the file's own `statement_timeout` header in seconds (0: none), None without one
    statement_timeout: float | None = None


@dataclasses.dataclass
class Context:
    """What a rule may look at besides the fact itself."""

    target: Target
    migration: MigrationFacts
    #: the schema just before this fact
    state: SchemaState
    #: keys of the tables created earlier in the same migration
    created: set[str]
    #: the facts of this migration before this one
    earlier: list[Fact]

    def existing(self, fact: Fact) -> bool:
        """Whether the fact's table existed before this migration (so it may hold rows
        and be in use). Unknown tables count as existing: better a finding too many."""
        return fact.key is not None and fact.key not in self.created


Check = Callable[[Fact, Context], str | None]
MigrationCheck = Callable[[MigrationFacts, Target], list[tuple[int, str]]]


@dataclasses.dataclass(frozen=True)
class Example:
    """A change that fires a rule, or a near miss that must not. `python` is the body of
    `upgrade(op)`, `sql` the up section (`mysql_sql` where MySQL spells it otherwise).
    Examples run against `EXAMPLE_BASE` (see `dbshift.linter.rules`)."""

    python: str | None = None
    sql: str | None = None
    mysql_sql: str | None = None
    transactional: bool = True
    #: the server version the example is checked for
    version: tuple[int, ...] | None = None
    #: a downgrade section / function is written
    downgrade: bool = True
    #: the backends the example is for, when not all those of its rule
    only: frozenset[str] | None = None

    def for_backend(self, backend: str) -> bool:
        return self.only is None or backend in self.only

    def sql_for(self, backend: str) -> str | None:
        if backend in MYSQL and self.mysql_sql is not None:
            return self.mysql_sql
        return self.sql


@dataclasses.dataclass(frozen=True)
class Rule:
    code: str
    name: str
    severity: Severity
    category: Category
    backends: frozenset[str]
    #: which server versions it applies to, in words
    versions: str
    #: the one-line message
    summary: str
    why: str
    instead: str
    fires: tuple[Example, ...]
    passes: tuple[Example, ...]
    check: Check | None = None
    check_migration: MigrationCheck | None = None
    #: off unless `[lint] enable` lists it: a house style, not a hazard
    opt_in: bool = False

    def applies_to(self, target: Target) -> bool:
        return target.backend in self.backends

    def to_json(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "name": self.name,
            "severity": self.severity,
            "category": self.category,
            "backends": sorted(self.backends),
            "versions": self.versions,
            "message": self.summary,
            "why": self.why,
            "instead": self.instead,
            "opt_in": self.opt_in,
        }


@dataclasses.dataclass(frozen=True)
class Finding:
    code: str
    severity: Severity
    category: Category
    migration: str
    file: str
    line: int
    message: str
    backend: str
    rule: str
    #: the table lock the change takes on `backend`, when it takes one
    lock: str | None = None

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class LintReport:
    """What `dbshift lint` found in the migrations it looked at."""

    migrations: tuple[str, ...]
    targets: tuple[Target, ...]
    findings: tuple[Finding, ...]
    #: how the migrations were chosen, in words ("pending on ...", "all", ...)
    selection: str = ""
    #: findings left out because the lint baseline accepts them (docs/lint.md, Baseline)
    baselined: int = 0

    def worst(self) -> Severity | None:
        if not self.findings:
            return None
        return max((f.severity for f in self.findings), key=rank)

    def failing(self, threshold: str) -> list[Finding]:
        """The findings at `threshold` or above."""
        return [f for f in self.findings if rank(f.severity) >= rank(threshold)]

    def fails(self, threshold: str) -> bool:
        return bool(self.failing(threshold))

    def to_json(self) -> dict[str, Any]:
        return {
            "migrations": list(self.migrations),
            "targets": [t.label for t in self.targets],
            "selection": self.selection,
            "findings": [f.to_json() for f in self.findings],
            "counts": {s: sum(f.severity == s for f in self.findings) for s in SEVERITIES},
            "baselined": self.baselined,
        }
