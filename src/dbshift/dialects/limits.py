"""What a backend refuses to create, as data the make pipeline checks models against.

Each fact was checked on the real servers (PostgreSQL 15, MariaDB 10.11, SQLite 3):
a model that breaks one makes a migration that fails at upgrade, on MariaDB after
part of it ran, so `make` refuses such models before writing anything
(`autogen/validate.py`). Each backend's limits are its `Backend.limits`, in its
package.
"""

from __future__ import annotations

import dataclasses
from typing import Literal

#: what a name can belong to
Kind = Literal[
    "table", "sequence", "enum", "index", "unique", "primary_key", "foreign_key", "check"
]


@dataclasses.dataclass(frozen=True)
class NameScope:
    """Kinds of object whose names must differ from each other within one schema or
    within one table (PostgreSQL: a unique constraint's index is a relation, so its
    name may not be an index's or a table's anywhere in the schema)."""

    kinds: frozenset[Kind]
    per: Literal["schema", "table"]


def scope(per: Literal["schema", "table"], *kinds: Kind) -> NameScope:
    return NameScope(frozenset(kinds), per)


@dataclasses.dataclass(frozen=True)
class SchemaLimits:
    """The backend's limits on a schema; the defaults refuse nothing but what no
    database creates (an index over no column)."""

    #: the backend's name in messages
    backend: str = "the database"
    #: names that must be distinct
    name_scopes: tuple[NameScope, ...] = ()
    #: longest identifier the server takes as written (None: no practical limit), in
    #: UTF-8 bytes (PostgreSQL's NAMEDATALEN) or in characters (MariaDB)
    identifier_length: int | None = None
    identifier_in_bytes: bool = False
    #: what happens to a longer one, in words
    long_names: str = "refuses it"
    #: what a foreign key's referenced columns must be: "unique" (exactly a primary
    #: key or unique constraint), "indexed" (the leading columns of some index), None
    foreign_key_target: Literal["unique", "indexed"] | None = None
    #: whether the referenced table and columns must exist when the key is created
    foreign_key_target_exists: bool = False
    #: whether an integer column may only reference an integer of the same size and
    #: sign (InnoDB: INT to BIGINT, or to INT UNSIGNED, is "incorrectly formed")
    foreign_key_integers_match: bool = False
    #: whether a table must have at least one column
    tables_need_columns: bool = False
    #: whether a foreign key may be DEFERRABLE / INITIALLY ... (MariaDB: a syntax error)
    deferrable_foreign_keys: bool = True
