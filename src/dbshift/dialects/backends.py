"""The backends a migration history can be generated for, and what a column type is on
each of them.

Backends are named as SQLAlchemy names dialects, because those are the names
`with_variant(type, name)` matches: `sqlite`, `postgresql`, `mysql` and `mariadb`. A
MariaDB server reached through a `mysql://` URL is `mysql` (SQLAlchemy gives it the
MySQL dialect, and `"mysql"` variants apply); through `mariadb://` it is `mariadb`, where
only `"mariadb"` variants do.
"""

from __future__ import annotations

import functools
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeEngine

from dbshift.config import BACKENDS

__all__ = ["BACKENDS", "offline_dialect", "resolve_type", "type_ddl"]


@functools.cache
def offline_dialect(name: str) -> Dialect:
    """A dialect of the backend `name` that needs no server (one per process)."""
    cls: Any = sa.make_url(f"{name}://").get_dialect()
    dialect: Dialect = cls()
    return dialect


def resolve_type(type_: TypeEngine[Any], dialect: Dialect) -> TypeEngine[Any]:
    """The type `metadata.create_all()` gives a column of `type_` on `dialect`: a variant
    through its mapping, a `TypeDecorator` through `load_dialect_impl(dialect)`, until a
    plain type is left. The result carries no variants of its own."""
    for _ in range(20):  # a decorator whose impl is a decorator, and so on
        variant = type_._variant_mapping.get(dialect.name)
        if variant is not None:
            type_ = variant
        elif isinstance(type_, sa.types.TypeDecorator):
            type_ = type_.load_dialect_impl(dialect)
        else:
            break
    if type_._variant_mapping:
        type_ = type_.copy()
        type_._variant_mapping = sa.util.immutabledict()
    return type_


def type_ddl(type_: TypeEngine[Any], dialect: Dialect) -> str:
    """The type as `dialect` writes it in DDL (its repr when the dialect cannot)."""
    try:
        return str(type_.compile(dialect=dialect))
    except Exception:
        return repr(type_)
