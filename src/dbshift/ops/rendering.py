"""Writing schema objects as the Python of a migration: the pieces every operation's
`render_python` is made of (`dbshift.autogen.render` puts the calls together).

Every value is rendered as a literal or an import from SQLAlchemy, so a generated file
always imports and runs: a project's `TypeDecorator` becomes the type it stores as
(its `impl`), named in a comment, because that is all the DDL depends on.
"""

from __future__ import annotations

import ast
import importlib
import inspect
from collections.abc import Iterable
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.types import TypeEngine

from dbshift.schema.snapshot import BackendSQL, Column, ForeignKey, PrimaryKey, Table

INDENT = "    "


class RenderContext:
    """What operations render into: the imports the code needs, collected as it is
    written, and the pieces (calls, columns, types) operations are written with."""

    def __init__(self) -> None:
        self.imports: set[str] = {"import sqlalchemy as sa"}

    def call(self, name: str, *args: str, **kwargs: str | None) -> list[str]:
        """`op.<name>(...)` on one line when it fits, else one argument a line;
        keywords given None are left out."""
        parts = [*args, *(f"{k}={v}" for k, v in kwargs.items() if v is not None)]
        one_line = f"op.{name}({', '.join(parts)})"
        if len(one_line) <= 88 - len(INDENT):
            return [one_line]
        return [f"op.{name}(", *(f"{INDENT}{p}," for p in parts), ")"]

    def column(self, column: Column, table: Table | None) -> str:
        in_pk = bool(table and table.primary_key and column.name in table.primary_key.columns)
        inline_pk = (
            in_pk
            and table is not None
            and table.primary_key is not None
            and not pk_name(table.primary_key)
            and not table.primary_key.options
        )
        parts = [py_str(column.name), self.type_code(column.type)]
        if column.computed:
            persisted = "" if column.persisted is None else f", persisted={column.persisted}"
            parts.append(f"sa.Computed({py_str(column.computed)}{persisted})")
        if column.identity is not None:
            options = ", ".join(f"{k}={v!r}" for k, v in column.identity)
            parts.append(f"sa.Identity({options})")
        if inline_pk:
            parts.append("primary_key=True")
        if in_pk and column.autoincrement is False:
            parts.append("autoincrement=False")
        if not column.nullable and not inline_pk:
            parts.append("nullable=False")
        if in_pk and column.nullable:  # SQLite's catalog: a key column declared without NOT NULL
            parts.append("nullable=True")
        if column.server_default is not None:
            parts.append(f"server_default={py_default(column.server_default)}")
        if column.comment is not None:
            parts.append(f"comment={py_str(column.comment)}")
        return f"sa.Column({', '.join(parts)})"

    def foreign_key_item(self, fk: ForeignKey) -> str:
        prefix = f"{fk.ref_schema}." if fk.ref_schema else ""
        targets = [f"{prefix}{fk.ref_table}.{c}" for c in fk.ref_columns]
        parts = [py_list(fk.columns), py_list(targets)]
        for key in ("name", "ondelete", "onupdate", "initially"):
            value = getattr(fk, key)
            if value is not None:
                parts.append(f"{key}={py_str(value)}")
        if fk.deferrable is not None:
            parts.append(f"deferrable={fk.deferrable!r}")
        return f"sa.ForeignKeyConstraint({', '.join(parts)})"

    def type_code(self, type_: TypeEngine[Any]) -> str:
        """Code that builds `type_`, its variants as `.with_variant(type, "name", ...)`
        (one call per distinct type); a project's `TypeDecorator` as its `impl` (`make`
        resolves them per backend before they get here)."""
        if type_._variant_mapping:
            base = type_.copy()
            base._variant_mapping = sa.util.immutabledict()
            names: dict[str, list[str]] = {}
            for name, variant in sorted(type_._variant_mapping.items()):
                names.setdefault(self.type_code(variant), []).append(py_str(name))
            calls = (f".with_variant({code}, {', '.join(n)})" for code, n in names.items())
            return self.type_code(base) + "".join(calls)
        if isinstance(type_, sa.types.TypeDecorator):
            return self.type_code(type_.impl_instance)
        if isinstance(type_, sa.Enum):
            args = [py_str(v) for v in type_.enums]
            if type_.name:
                args.append(f"name={py_str(type_.name)}")
            if type_.schema:
                args.append(f"schema={py_str(type_.schema)}")
            if not type_.native_enum:
                args.append("native_enum=False")
            # a VARCHAR where the backend has no enum type: longer than the longest value
            # when the model says so (Airflow's dag_run.triggered_by, length=50)
            if type_.length != getattr(type_, "_default_length", type_.length):
                args.append(f"length={type_.length!r}")
            return f"sa.Enum({', '.join(args)})"
        cls = _public_class(type(type_))
        return f"{self._type_class(cls)}({', '.join(self._type_args(type_, cls))})"

    def _type_class(self, cls: type) -> str:
        module = cls.__module__
        if module.startswith("sqlalchemy.dialects."):
            dialect = module.split(".")[2]
            package = importlib.import_module(f"sqlalchemy.dialects.{dialect}")
            if getattr(package, cls.__name__, None) is cls:
                self.imports.add(f"from sqlalchemy.dialects import {dialect}")
                return f"{dialect}.{cls.__name__}"
        if getattr(sa, cls.__name__, None) is cls:
            return f"sa.{cls.__name__}"
        if getattr(sa.types, cls.__name__, None) is cls:
            return f"sa.types.{cls.__name__}"
        # A type of the project's own (UserDefinedType): import it where it lives.
        self.imports.add(f"import {module}")
        return f"{module}.{cls.__qualname__}"

    def _type_args(
        self, type_: TypeEngine[Any], cls: type[TypeEngine[Any]] | None = None
    ) -> list[str]:
        """Constructor arguments (of `cls`, by default the type's class) that differ
        from their defaults, read back from the attributes of the same name
        (SQLAlchemy's own convention)."""
        args: list[str] = []
        try:
            owner = cls or type(type_)
            parameters = inspect.signature(owner.__init__).parameters.values()
        except (TypeError, ValueError):
            parameters = []  # type: ignore[assignment]
        for parameter in list(parameters)[1:]:
            if parameter.kind == parameter.VAR_POSITIONAL:  # MySQL's SET(*values)
                args[:0] = [self._value(v) for v in getattr(type_, parameter.name, ())]
                continue
            if parameter.kind == parameter.VAR_KEYWORD:
                continue
            value = getattr(type_, parameter.name, parameter.default)
            if value is parameter.default or value == parameter.default:
                continue
            args.append(f"{parameter.name}={self._value(value)}")
        # MySQL's types take these as **kw: numbers' flags, strings' character set
        for flag in ("unsigned", "zerofill", "binary", "ascii", "unicode", "national"):
            if getattr(type_, flag, False) is True and not _is_argument(parameters, flag):
                args.append(f"{flag}=True")
        for name in ("charset", "collation"):
            value = getattr(type_, name, None)
            if isinstance(value, str) and not _is_argument(parameters, name):
                args.append(f"{name}={value!r}")
        return args

    def _value(self, value: Any) -> str:
        if isinstance(value, TypeEngine):
            return self.type_code(value)
        if isinstance(value, type) and issubclass(value, TypeEngine):
            return self.type_code(value())
        if isinstance(value, (list, tuple)):
            items = ", ".join(self._value(v) for v in value)
            return f"[{items}]" if isinstance(value, list) else f"({items}{',' if value else ''})"
        return repr(value)


def _public_class(cls: type[TypeEngine[Any]]) -> type[TypeEngine[Any]]:
    """The class to write for a type: itself, or for a driver's adaptation (what a
    `load_dialect_impl` using `dialect.type_descriptor` returns, such as psycopg's
    private UUID class) the nearest base SQLAlchemy exports."""
    if not cls.__module__.startswith("sqlalchemy."):
        return cls
    for base in cls.__mro__:
        module = base.__module__
        public = getattr(sa.types, base.__name__, None)
        if module.startswith("sqlalchemy.dialects."):
            package = importlib.import_module(".".join(module.split(".")[:3]))
            public = getattr(package, base.__name__, None)
        if public is base:
            return cast("type[TypeEngine[Any]]", base)
    return cls


def _is_argument(parameters: Iterable[inspect.Parameter], name: str) -> bool:
    return any(p.name == name for p in parameters)


def pk_name(pk: PrimaryKey | None) -> str | None:
    """A primary key's name worth restating (MySQL calls every one PRIMARY)."""
    if pk is None or pk.name in (None, "PRIMARY"):
        return None
    return pk.name


def constraint_call(
    kind: str,
    columns: Iterable[str],
    name: str | None,
    options: Iterable[tuple[str, Any]] = (),
) -> str:
    """`sa.UniqueConstraint("a", "b", name="uq", sqlite_on_conflict="IGNORE")`."""
    parts = [py_str(c) for c in columns] + ([f"name={py_str(name)}"] if name else [])
    parts += [f"{key}={value!r}" for key, value in options]
    return f"{kind}({', '.join(parts)})"


def py_str(value: str) -> str:
    """A Python string literal for any text (quotes, backslashes, newlines escaped)."""
    text = repr(str(value))
    return '"' + text[1:-1].replace('"', '\\"').replace("\\'", "'") + '"'


def py_sql(value: str) -> str:
    """SQL text; one spelled differently per backend as `op.sql(...)`, which gives
    each backend its own when the migration runs or replays there."""
    if not isinstance(value, BackendSQL):
        return py_str(value)
    others = [f"{name}={py_str(text)}" for name, text in value.by_backend if text != value]
    return f"op.sql({', '.join([py_str(value), *others])})"


def py_opt(value: str | None) -> str | None:
    return py_str(value) if value is not None else None


def py_int(value: int | None) -> str | None:
    return str(value) if value is not None else None


def py_list(values: Iterable[str]) -> str:
    return "[" + ", ".join(py_str(v) for v in values) + "]"


def py_default(sql: str | None) -> str | None:
    return f"sa.text({py_str(sql)})" if sql is not None else None


def py_option(key: str, value: Any) -> str:
    if key.endswith("_where") and isinstance(value, str):
        return f"sa.text({py_str(value)})"
    return repr(value)


def py_literal(value: Any) -> str | None:
    """A plain value (numbers, strings, lists, dicts of them) as a Python literal, None
    for None; TypeError for a value no literal reads back as."""
    if value is None:
        return None
    text = repr(value)
    try:
        same = ast.literal_eval(text) == value
    except (ValueError, SyntaxError):
        same = False
    if not same:
        raise TypeError(f"cannot render {type(value).__name__} {text} as a Python literal")
    return text


def not_renderable(what: object, why: str) -> TypeError:
    """The error of `render_python` for an operation `make` never writes and no call
    could restate (a Python function, a SQLAlchemy statement)."""
    return TypeError(f"cannot render {type(what).__name__} as Python: {why}")
