"""Keyword arguments of `op.*` calls, checked in one place for every method.

Alembic's signatures end in `**kw`, so a typo (`nulable=False`) would be swallowed and
the migration would "succeed" having recorded nothing. Every public method of the `op`
recorder (and of `batch_alter_table`'s `batch_op`) is wrapped here: a keyword the method
does not name is accepted only when it is a dialect keyword (`postgresql_where=`) that
the SQLAlchemy dialects of the supported backends declare for the construct the method
builds (`construct_arguments`), and only for methods that take `**kw` at all. The
dialect keywords dbshift itself acts on (`postgresql_concurrently`, `postgresql_not_valid`,
`postgresql_using_index`) are named parameters, whatever SQLAlchemy version declares.
Anything else raises a `MigrationError` naming the argument, with the nearest valid name; the
loader adds the migration's file and line.
"""

from __future__ import annotations

import difflib
import functools
import inspect
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from dbshift.dialects import dialect_arguments
from dbshift.errors import MigrationError

C = TypeVar("C", bound=type)
F = TypeVar("F", bound=Callable[..., Any])

#: marks the SQLAlchemy constructs whose dialect keywords a method accepts
_CONSTRUCTS = "__dbshift_dialect_constructs__"


def dialect_keywords(*constructs: type) -> Callable[[F], F]:
    """Declare that a method's `**kw` takes the dialect keywords of `constructs`."""

    def mark(fn: F) -> F:
        setattr(fn, _CONSTRUCTS, constructs)
        return fn

    return mark


def checked(prefix: str, *, forwards: type | None = None, filled: Iterable[str] = ()) -> Any:
    """Class decorator: every public method rejects keywords it does not know. A batch
    class `forwards` its calls to the same-named method of another class, which also
    says what they accept, less the arguments the batch `filled` in itself."""

    def decorate(cls: C) -> C:
        for name, fn in list(vars(cls).items()):
            if name.startswith("_") or not inspect.isfunction(fn):
                continue
            target = getattr(forwards, name, fn) if forwards is not None else fn
            passes_on = target is not fn and _takes_any(fn)
            names = _named(fn) | ((_named(target) - set(filled)) if passes_on else set())
            takes_any = _takes_any(target) and (target is fn or passes_on)
            constructs: tuple[type, ...] = getattr(target, _CONSTRUCTS, ()) if takes_any else ()
            setattr(cls, name, _wrap(fn, f"{prefix}.{name}()", frozenset(names), constructs))
        return cls

    return decorate


def _named(fn: Callable[..., Any]) -> set[str]:
    """The parameters `fn` takes by keyword, by name."""
    return {
        p.name
        for p in inspect.signature(fn).parameters.values()
        if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and p.name != "self"
    }


def _takes_any(fn: Callable[..., Any]) -> bool:
    return any(p.kind is p.VAR_KEYWORD for p in inspect.signature(fn).parameters.values())


def _wrap(
    fn: Callable[..., Any], call: str, names: frozenset[str], constructs: tuple[type, ...]
) -> Callable[..., Any]:
    @functools.cache
    def dialect_names() -> frozenset[str]:
        # asked for on the first keyword that is not the method's own: reading the
        # dialects' declarations imports every supported SQLAlchemy dialect, which a run
        # whose migrations use no dialect keyword never needs
        return frozenset().union(*(dialect_arguments(c) for c in constructs))

    @functools.wraps(fn)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        for key in kwargs:
            if key not in names and not _dialect_known(key, dialect_names()):
                raise _unknown(call, key, names, dialect_names())
        return fn(self, *args, **kwargs)

    return wrapper


@functools.cache
def _dialect_known(key: str, known: frozenset[str]) -> bool:
    """Whether `key` is a declared dialect keyword (`<dialect>_*` declares them all)."""
    if key in known:
        return True
    dialect, sep, _ = key.partition("_")
    return bool(sep) and f"{dialect}_*" in known


def _unknown(
    call: str, key: str, names: frozenset[str], dialect_names: frozenset[str]
) -> MigrationError:
    spelled = sorted(names | {n for n in dialect_names if not n.endswith("_*")})
    close = difflib.get_close_matches(key, spelled, n=1)
    if close:
        hint = f"did you mean {close[0]!r}?"
    elif names:
        hint = f"{call} takes: {', '.join(sorted(names))}"
        if dialect_names:
            hint += ", and its dialects' keywords (postgresql_..., mysql_..., sqlite_...)"
    else:
        hint = f"{call} takes no keyword arguments"
    return MigrationError(f"{call} got an unknown argument {key!r}", hint=hint)
