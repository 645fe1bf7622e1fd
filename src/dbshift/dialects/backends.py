"""The backends a migration history can be generated for, and what a column type is on
each of them.

Backends are named as SQLAlchemy names dialects, because those are the names
`with_variant(type, name)` matches: `sqlite`, `postgresql`, `mysql` and `mariadb`. A
MariaDB server reached through a `mysql://` URL is `mysql` (SQLAlchemy gives it the
MySQL dialect, and `"mysql"` variants apply); through `mariadb://` it is `mariadb`, where
only `"mariadb"` variants do.
"""

from __future__ import annotations

import copy
import functools
import warnings
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeEngine

from dbshift.config import BACKENDS

__all__ = [
    "BACKENDS",
    "as_written",
    "compiled_by_hook",
    "offline_dialect",
    "resolve_type",
    "type_ddl",
    "unhooked_ddl",
]


@functools.cache
def offline_dialect(name: str) -> Dialect:
    """A dialect of the backend `name` that needs no server (one per process)."""
    cls: Any = sa.make_url(f"{name}://").get_dialect()
    dialect: Dialect = cls()
    return dialect


def resolve_type(
    type_: TypeEngine[Any], dialect: Dialect, *, hooks: bool = True
) -> TypeEngine[Any]:
    """The type `metadata.create_all()` gives a column of `type_` on `dialect`: a variant
    through its mapping, a `TypeDecorator` through `load_dialect_impl(dialect)`, until a
    plain type is left. The result carries no variants of its own.

    A type whose DDL on `dialect` comes from a project's `@compiles` hook becomes a type
    that writes that DDL by itself (`as_written`): a migration file runs where the
    project's code is not imported. With `hooks=False` such a type is left as it is
    (comparing a migration's types: `unhooked_ddl` compiles them as it runs)."""
    for _ in range(20):  # a decorator whose impl is a decorator, and so on
        variant = type_._variant_mapping.get(dialect.name)
        if variant is not None:
            type_ = variant
        elif hooks and compiled_by_hook(type_, dialect):
            return as_written(type_, dialect)
        elif isinstance(type_, sa.types.TypeDecorator):
            type_ = type_.load_dialect_impl(dialect)
        else:
            break
    if type_._variant_mapping:
        type_ = type_.copy()
        type_._variant_mapping = sa.util.immutabledict()
    return type_


def compiled_by_hook(type_: TypeEngine[Any], dialect: Dialect) -> bool:
    """Whether compiling `type_` on `dialect` runs a function registered with
    `sqlalchemy.ext.compiler.compiles` that a migration writing `type_` does not import:
    for the dialect's name or as "default", on the type's class or the base class it
    inherits its compilation from. (`compiles` puts a
    dispatcher on the class; for the dialects it was not given, its "default" is the
    class's own compilation, which is no hook.)"""
    for cls in type(type_).__mro__:
        if "_compiler_dispatch" not in cls.__dict__:
            continue  # compiled as a base class is
        dispatcher = cls.__dict__.get("_compiler_dispatcher")
        if dispatcher is None:
            return False
        specs: dict[str, Any] = dispatcher.specs
        hook = specs.get(dialect.name) or specs.get("default")
        return hook is not None and not _original_compilation(hook) and not _travels(type_, hook)
    return False


def _travels(type_: TypeEngine[Any], hook: Any) -> bool:
    """Whether a migration that writes `type_` brings `hook` along: a `UserDefinedType`
    of a library or the project is written as itself, imported from its module, and a
    hook from that type's own package comes with it (geoalchemy2's, say). Other types
    are written as SQLAlchemy's own, which carry no hook."""
    home = type(type_).__module__
    if home.startswith("sqlalchemy") or not isinstance(type_, sa.types.UserDefinedType):
        return False
    return str(getattr(hook, "__module__", "")).partition(".")[0] == home.partition(".")[0]


def unhooked_ddl(type_: TypeEngine[Any], dialect: Dialect) -> str:
    """The DDL of `type_` in a process without the project's `@compiles` hooks, such as
    a migration run from CI: the dialect's own `visit_<name>` for a hooked type."""
    if not compiled_by_hook(type_, dialect):
        return str(type_.compile(dialect=dialect))
    compiler: Any = dialect.type_compiler_instance
    return str(getattr(compiler, f"visit_{type_.__visit_name__}")(type_))


def _original_compilation(fn: Any) -> bool:
    """The "default" `compiles` keeps for a class's own compilation."""
    return bool(
        getattr(fn, "__module__", "") == "sqlalchemy.ext.compiler"
        and getattr(fn, "__name__", "") == "_wrap_existing_dispatch"
    )


def as_written(type_: TypeEngine[Any], dialect: Dialect) -> TypeEngine[Any]:
    """A type that writes on `dialect` the DDL `type_` gets there (from a hook): the
    backend's own type read from that text when it compiles back to it, unhooked;
    otherwise a `DeclaredType` of the text."""
    from dbshift.dialects import dialect_for
    from dbshift.schema.sqltypes import DeclaredType

    text = str(type_.compile(dialect=dialect))
    try:
        with warnings.catch_warnings():  # a reader's "could not instantiate" warning
            warnings.simplefilter("ignore", sa.exc.SAWarning)
            found = dialect_for(dialect).type_from_ddl(dialect, text)
    except Exception:  # a text the backend's type reader does not take
        found = None
    unhooked = found is not None and not compiled_by_hook(found, dialect)
    if found is not None and unhooked and _same_ddl(type_ddl(found, dialect), text):
        return copy.copy(found)  # readers cache; enums and booleans hold table state
    return DeclaredType(text)


def _same_ddl(a: str, b: str) -> bool:
    def canonical(text: str) -> str:
        return " ".join(text.upper().replace(", ", ",").split())

    return canonical(a) == canonical(b)


def type_ddl(type_: TypeEngine[Any], dialect: Dialect) -> str:
    """The type as `dialect` writes it in DDL (its repr when the dialect cannot)."""
    try:
        return str(type_.compile(dialect=dialect))
    except Exception:
        return repr(type_)
