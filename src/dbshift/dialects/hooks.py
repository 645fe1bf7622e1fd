"""Types as a dialect compiles them: variants, decorators, and the project's
`@compiles` hooks (`backends.py` builds on these; the normalizers compare with them)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeEngine


def resolved(
    type_: TypeEngine[Any],
    dialect: Dialect,
    written: Callable[[TypeEngine[Any], Dialect], TypeEngine[Any]] | None = None,
) -> TypeEngine[Any]:
    """The type `metadata.create_all()` gives a column of `type_` on `dialect`: a variant
    through its mapping, a `TypeDecorator` through `load_dialect_impl(dialect)`, until a
    plain type is left. The result carries no variants of its own.

    A type whose DDL on `dialect` comes from a project's `@compiles` hook becomes
    `written(type_, dialect)` when `written` is given (`backends.resolve_type`), and is
    left as it is otherwise."""
    if (
        not type_._variant_mapping
        and not isinstance(type_, _DECORATOR)
        and (written is None or not compiled_by_hook(type_, dialect))
    ):
        return type_  # a plain type, the usual case: what the loop below would return
    for _ in range(20):  # a decorator whose impl is a decorator, and so on
        variant = type_._variant_mapping.get(dialect.name)
        if variant is not None:
            type_ = variant
        elif written is not None and compiled_by_hook(type_, dialect):
            return written(type_, dialect)
        elif isinstance(type_, sa.types.TypeDecorator):
            type_ = type_.load_dialect_impl(dialect)
        else:
            break
    if type_._variant_mapping:
        type_ = type_.copy()
        type_._variant_mapping = sa.util.immutabledict()
    return type_


_DECORATOR = sa.types.TypeDecorator


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
