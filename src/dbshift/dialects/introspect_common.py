"""What the per-backend introspection modules share (`schema/introspect.py` is the entry
point; it calls each backend's `Backend.read_tables`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sqlalchemy as sa

from dbshift.schema.snapshot import Sequence

#: says whether a table is read
NameFilter = Callable[[str], bool]

#: where a query takes the condition that narrows it to the wanted tables
NAMES = "/*names*/"


def named(sql: str, column: str, wanted: set[str] | None) -> sa.TextClause:
    """`sql` narrowed to the wanted tables, if any: reading one table (an operation
    restating it) should not cost the whole schema."""
    if wanted is None:
        return sa.text(sql.replace(NAMES, ""))
    clause = sa.text(sql.replace(NAMES, f" AND {column} IN :names "))
    return clause.bindparams(sa.bindparam("names", sorted(wanted), expanding=True))


def sequence(
    name: str,
    schema: str | None,
    start: int,
    increment: int,
    minvalue: int,
    maxvalue: int,
    cycle: Any,
    low: int,
    high: int,
) -> Sequence:
    """A sequence with the backend's defaults as None, as a model that names none has it."""
    default_start = low if increment > 0 else high
    return Sequence(
        name,
        schema,
        start=None if start == default_start else int(start),
        increment=None if increment == 1 else int(increment),
        minvalue=None if minvalue == low else int(minvalue),
        maxvalue=None if maxvalue == high else int(maxvalue),
        cycle=bool(cycle),
    )
