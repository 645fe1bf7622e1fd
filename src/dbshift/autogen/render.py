"""Operations as the Python a person would write in a migration: one `op` call each.

Every value is rendered as a literal or an import from SQLAlchemy, so a generated file
always imports and runs: a project's `TypeDecorator` becomes the type it stores as
(its `impl`), named in a comment, because that is all the DDL depends on.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Iterable, Sequence
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.types import TypeEngine

from dbshift.dialects.base import Keep
from dbshift.ops import (
    AddColumn,
    AddConstraint,
    AddEnumValue,
    AlterColumn,
    CreateEnum,
    CreateIndex,
    CreateSequence,
    CreateTable,
    DropColumn,
    DropConstraint,
    DropEnum,
    DropIndex,
    DropInvalidIndex,
    DropSequence,
    DropTable,
    Operation,
    RenameColumn,
    RenameTable,
    SetEnumValues,
    SetTableComment,
    ValidateConstraint,
)
from dbshift.schema.snapshot import (
    BackendSQL,
    Check,
    Column,
    ForeignKey,
    PrimaryKey,
    Table,
    Unique,
)

INDENT = "    "


class Renderer:
    """Renders operations; collects the imports they need."""

    def __init__(self) -> None:
        self.imports: set[str] = {"import sqlalchemy as sa"}

    def body(self, operations: Sequence[Operation]) -> str:
        if not operations:
            return INDENT + "pass"
        return "\n".join(self.operation(op) for op in operations)

    def import_lines(self) -> list[str]:
        plain = sorted(i for i in self.imports if i.startswith("import "))
        froms = sorted(i for i in self.imports if i.startswith("from "))
        return plain + froms

    # -- one operation -------------------------------------------------------------------

    def operation(self, op: Operation) -> str:
        for kind, method in _METHODS:
            if isinstance(op, kind):
                return "\n".join(INDENT + line for line in method(self, op))
        raise TypeError(f"cannot render {type(op).__name__} as Python")

    def _call(self, name: str, *args: str, **kwargs: str | None) -> list[str]:
        parts = [*args, *(f"{k}={v}" for k, v in kwargs.items() if v is not None)]
        one_line = f"op.{name}({', '.join(parts)})"
        if len(one_line) <= 88 - len(INDENT):
            return [one_line]
        return [f"op.{name}(", *(f"{INDENT}{p}," for p in parts), ")"]

    def create_table(self, op: CreateTable) -> list[str]:
        table = op.table
        items = [self.column(c, table) for c in table.columns]
        pk = table.primary_key
        if pk is not None and _pk_name(pk):
            items.append(_constraint_call("sa.PrimaryKeyConstraint", pk.columns, pk.name))
        items += [self.foreign_key_item(fk) for fk in table.foreign_keys]
        items += [_constraint_call("sa.UniqueConstraint", u.columns, u.name) for u in table.uniques]
        items += [
            f"sa.CheckConstraint({_sql(c.sqltext)}"
            + (f", name={_str(c.name)}" if c.name else "")
            + ")"
            for c in table.checks
        ]
        # options are keywords; MySQL's spelled with a space (`mysql_default charset`) not
        spaced = {key: value for key, value in table.options if not key.isidentifier()}
        lines = self._call(
            "create_table",
            _str(table.name),
            *items,
            *([f"**{spaced!r}"] if spaced else []),
            schema=_opt(table.schema),
            comment=_opt(table.comment),
            **{key: repr(value) for key, value in table.options if key.isidentifier()},
        )
        for index in table.indexes:
            lines += self.create_index(CreateIndex(table.name, index, table.schema))
        return lines

    def drop_table(self, op: DropTable) -> list[str]:
        return self._call("drop_table", _str(op.name), schema=_opt(op.schema))

    def rename_table(self, op: RenameTable) -> list[str]:
        return self._call("rename_table", _str(op.old), _str(op.new), schema=_opt(op.schema))

    def add_column(self, op: AddColumn) -> list[str]:
        column = self.column(op.column, None)
        return self._call("add_column", _str(op.table), column, schema=_opt(op.schema))

    def drop_column(self, op: DropColumn) -> list[str]:
        return self._call("drop_column", _str(op.table), _str(op.column), schema=_opt(op.schema))

    def rename_column(self, op: RenameColumn) -> list[str]:
        return self._call(
            "rename_column", _str(op.table), _str(op.old), _str(op.new), schema=_opt(op.schema)
        )

    def alter_column(self, op: AlterColumn) -> list[str]:
        old = op.existing
        kwargs: dict[str, str | None] = {}
        if op.type is not None:
            kwargs["type_"] = self.type_code(op.type)
        if op.nullable is not None:
            kwargs["nullable"] = repr(op.nullable)
        if not isinstance(op.server_default, Keep):
            kwargs["server_default"] = _default(op.server_default) or "None"
        if not isinstance(op.comment, Keep):
            kwargs["comment"] = _str(op.comment) if op.comment is not None else "None"
        if old is not None:
            kwargs["existing_type"] = self.type_code(old.type)
            kwargs["existing_nullable"] = repr(old.nullable)
            kwargs["existing_server_default"] = _default(old.server_default)
            kwargs["existing_comment"] = _opt(old.comment)
        kwargs["postgresql_using"] = _opt(op.postgresql_using)
        return self._call(
            "alter_column", _str(op.table), _str(op.column), schema=_opt(op.schema), **kwargs
        )

    def create_index(self, op: CreateIndex) -> list[str]:
        index = op.index
        entries = ", ".join(
            f"sa.text({_sql(c)})" if c in index.expressions else _str(c) for c in index.columns
        )
        options = {key: _option(key, value) for key, value in index.options}
        return self._call(
            "create_index",
            _str(index.name),
            _str(op.table),
            f"[{entries}]",
            schema=_opt(op.schema),
            unique="True" if index.unique else None,
            **options,
            postgresql_concurrently="True" if op.concurrently else None,
        )

    def drop_index(self, op: DropIndex) -> list[str]:
        return self._call(
            "drop_index",
            _str(op.name),
            table_name=_opt(op.table),
            schema=_opt(op.schema),
            postgresql_concurrently="True" if op.concurrently else None,
        )

    def drop_invalid_index(self, op: DropInvalidIndex) -> list[str]:
        return self._call("drop_invalid_index", _str(op.name), schema=_opt(op.schema))

    def validate_constraint(self, op: ValidateConstraint) -> list[str]:
        return self._call(
            "validate_constraint", _str(op.name), _str(op.table), schema=_opt(op.schema)
        )

    def add_constraint(self, op: AddConstraint) -> list[str]:
        c = op.constraint
        table, schema = _str(op.table), _opt(op.schema)
        if isinstance(c, ForeignKey):
            return self._call(
                "create_foreign_key",
                _opt(c.name) or "None",
                table,
                _str(c.ref_table),
                _list(c.columns),
                _list(c.ref_columns),
                ondelete=_opt(c.ondelete),
                onupdate=_opt(c.onupdate),
                deferrable=repr(c.deferrable) if c.deferrable is not None else None,
                initially=_opt(c.initially),
                source_schema=schema,
                referent_schema=_opt(c.ref_schema),
                postgresql_not_valid="True" if op.not_valid else None,
            )
        if isinstance(c, Unique):
            args = (_opt(c.name) or "None", table, _list(c.columns))
            using = _opt(op.using_index)
            return self._call(
                "create_unique_constraint", *args, schema=schema, postgresql_using_index=using
            )
        if isinstance(c, Check):
            args = (_opt(c.name) or "None", table, _sql(c.sqltext))
            not_valid = "True" if op.not_valid else None
            return self._call(
                "create_check_constraint", *args, schema=schema, postgresql_not_valid=not_valid
            )
        assert isinstance(c, PrimaryKey)
        args = (_opt(_pk_name(c)) or "None", table, _list(c.columns))
        return self._call("create_primary_key", *args, schema=schema)

    def drop_constraint(self, op: DropConstraint) -> list[str]:
        return self._call(
            "drop_constraint",
            _str(op.name),
            _str(op.table),
            type_=_opt(op.kind),
            schema=_opt(op.schema),
        )

    def table_comment(self, op: SetTableComment) -> list[str]:
        if op.comment is None:
            return self._call(
                "drop_table_comment",
                _str(op.table),
                existing_comment=_opt(op.existing),
                schema=_opt(op.schema),
            )
        return self._call(
            "create_table_comment",
            _str(op.table),
            _str(op.comment),
            existing_comment=_opt(op.existing),
            schema=_opt(op.schema),
        )

    def create_enum(self, op: CreateEnum) -> list[str]:
        e = op.enum
        return self._call("create_enum", _str(e.name), _list(e.values), schema=_opt(e.schema))

    def drop_enum(self, op: DropEnum) -> list[str]:
        return self._call("drop_enum", _str(op.name), schema=_opt(op.schema))

    def add_enum_value(self, op: AddEnumValue) -> list[str]:
        return self._call(
            "add_enum_value",
            _str(op.name),
            _str(op.value),
            schema=_opt(op.schema),
            before=_opt(op.before),
        )

    def set_enum_values(self, op: SetEnumValues) -> list[str]:
        args = (_str(op.name), _list(op.values))
        return self._call("set_enum_values", *args, schema=_opt(op.schema))

    def create_sequence(self, op: CreateSequence) -> list[str]:
        s = op.sequence
        return self._call(
            "create_sequence",
            _str(s.name),
            schema=_opt(s.schema),
            start=_int(s.start),
            increment=_int(s.increment),
            minvalue=_int(s.minvalue),
            maxvalue=_int(s.maxvalue),
            cycle="True" if s.cycle else None,
        )

    def drop_sequence(self, op: DropSequence) -> list[str]:
        return self._call("drop_sequence", _str(op.name), schema=_opt(op.schema))

    # -- pieces ----------------------------------------------------------------------------

    def column(self, column: Column, table: Table | None) -> str:
        in_pk = bool(table and table.primary_key and column.name in table.primary_key.columns)
        inline_pk = in_pk and table is not None and not _pk_name(table.primary_key)
        parts = [_str(column.name), self.type_code(column.type)]
        if column.computed:
            parts.append(f"sa.Computed({_str(column.computed)})")
        if column.identity is not None:
            options = ", ".join(f"{k}={v!r}" for k, v in column.identity)
            parts.append(f"sa.Identity({options})")
        if inline_pk:
            parts.append("primary_key=True")
        if in_pk and column.autoincrement is False:
            parts.append("autoincrement=False")
        if not column.nullable and not inline_pk:
            parts.append("nullable=False")
        if column.server_default is not None:
            parts.append(f"server_default={_default(column.server_default)}")
        if column.comment is not None:
            parts.append(f"comment={_str(column.comment)}")
        return f"sa.Column({', '.join(parts)})"

    def foreign_key_item(self, fk: ForeignKey) -> str:
        prefix = f"{fk.ref_schema}." if fk.ref_schema else ""
        targets = [f"{prefix}{fk.ref_table}.{c}" for c in fk.ref_columns]
        parts = [_list(fk.columns), _list(targets)]
        for key in ("name", "ondelete", "onupdate", "initially"):
            value = getattr(fk, key)
            if value is not None:
                parts.append(f"{key}={_str(value)}")
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
                names.setdefault(self.type_code(variant), []).append(_str(name))
            calls = (f".with_variant({code}, {', '.join(n)})" for code, n in names.items())
            return self.type_code(base) + "".join(calls)
        if isinstance(type_, sa.types.TypeDecorator):
            return self.type_code(type_.impl_instance)
        if isinstance(type_, sa.Enum):
            args = [_str(v) for v in type_.enums]
            if type_.name:
                args.append(f"name={_str(type_.name)}")
            if type_.schema:
                args.append(f"schema={_str(type_.schema)}")
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


def _pk_name(pk: PrimaryKey | None) -> str | None:
    """A primary key's name worth restating (MySQL calls every one PRIMARY)."""
    if pk is None or pk.name in (None, "PRIMARY"):
        return None
    return pk.name


def _constraint_call(kind: str, columns: Iterable[str], name: str | None) -> str:
    parts = [_str(c) for c in columns] + ([f"name={_str(name)}"] if name else [])
    return f"{kind}({', '.join(parts)})"


def _str(value: str) -> str:
    """A Python string literal for any text (quotes, backslashes, newlines escaped)."""
    text = repr(str(value))
    return '"' + text[1:-1].replace('"', '\\"').replace("\\'", "'") + '"'


def _sql(value: str) -> str:
    """SQL text; one spelled differently per backend as `op.sql(...)`, which gives
    each backend its own when the migration runs or replays there."""
    if not isinstance(value, BackendSQL):
        return _str(value)
    others = [f"{name}={_str(text)}" for name, text in value.by_backend if text != value]
    return f"op.sql({', '.join([_str(value), *others])})"


def _opt(value: str | None) -> str | None:
    return _str(value) if value is not None else None


def _int(value: int | None) -> str | None:
    return str(value) if value is not None else None


def _list(values: Iterable[str]) -> str:
    return "[" + ", ".join(_str(v) for v in values) + "]"


def _default(sql: str | None) -> str | None:
    return f"sa.text({_str(sql)})" if sql is not None else None


def _option(key: str, value: Any) -> str:
    if key.endswith("_where") and isinstance(value, str):
        return f"sa.text({_str(value)})"
    return repr(value)


_METHODS: tuple[tuple[type, Any], ...] = (
    (CreateTable, Renderer.create_table),
    (DropTable, Renderer.drop_table),
    (RenameTable, Renderer.rename_table),
    (AddColumn, Renderer.add_column),
    (DropColumn, Renderer.drop_column),
    (RenameColumn, Renderer.rename_column),
    (AlterColumn, Renderer.alter_column),
    (CreateIndex, Renderer.create_index),
    (DropIndex, Renderer.drop_index),
    (DropInvalidIndex, Renderer.drop_invalid_index),
    (ValidateConstraint, Renderer.validate_constraint),
    (AddConstraint, Renderer.add_constraint),
    (DropConstraint, Renderer.drop_constraint),
    (SetTableComment, Renderer.table_comment),
    (CreateEnum, Renderer.create_enum),
    (DropEnum, Renderer.drop_enum),
    (AddEnumValue, Renderer.add_enum_value),
    (SetEnumValues, Renderer.set_enum_values),
    (CreateSequence, Renderer.create_sequence),
    (DropSequence, Renderer.drop_sequence),
)
