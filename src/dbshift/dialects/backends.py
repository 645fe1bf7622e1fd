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
from dbshift.dialects.hooks import compiled_by_hook, resolved, unhooked_ddl

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
    return resolved(type_, dialect, as_written if hooks else None)


def as_written(type_: TypeEngine[Any], dialect: Dialect) -> TypeEngine[Any]:
    """A type that writes on `dialect` the DDL `type_` gets there (from a hook): the
    backend's own type read from that text when it compiles back to it, unhooked;
    otherwise a `DeclaredType` of the text."""
    # lazy: the backend lookup imports the backends' normalizers, which resolve types here
    from dbshift.dialects import backend_for
    from dbshift.schema.sqltypes import DeclaredType

    text = str(type_.compile(dialect=dialect))
    try:
        with warnings.catch_warnings():  # a reader's "could not instantiate" warning
            warnings.simplefilter("ignore", sa.exc.SAWarning)
            found = backend_for(dialect).rules.type_from_ddl(dialect, text)
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
