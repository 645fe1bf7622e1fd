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
class Collations:
    """A set of collation names, given whole and by how they start, compared without
    regard to case (`utf8mb3_bin` is one of MariaDB's by its `utf8mb3_`)."""

    names: frozenset[str] = frozenset()
    prefixes: tuple[str, ...] = ()

    def __contains__(self, name: object) -> bool:
        if not isinstance(name, str):
            return False
        lowered = name.lower()
        return lowered in self.names or lowered.startswith(self.prefixes)

    def __or__(self, other: Collations) -> Collations:
        return Collations(self.names | other.names, self.prefixes + other.prefixes)


def collations(*names: str, prefixes: tuple[str, ...] = ()) -> Collations:
    return Collations(frozenset(n.lower() for n in names), tuple(p.lower() for p in prefixes))


#: which keys longer than `SchemaLimits.key_bytes` the server builds anyway, and how:
#: "unique" (MariaDB keeps a hash of the columns, `USING HASH`), "one_column_index" (a
#: plain index on one column is cut to the prefix that fits, with a note)
LongKey = Literal["unique", "one_column_index"]


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
    #: every collation the server has, where that is known without asking it (SQLite's
    #: three, MariaDB's by character set): any other is refused; None where the set is
    #: the server's own (PostgreSQL's come from its operating system's locales)
    collations: Collations | None = None
    #: collations the server surely has not where `collations` is None: other
    #: backends' (`utf8mb3_bin` on PostgreSQL)
    foreign_collations: Collations = Collations()
    #: the longest key an index, unique or primary key can have, in bytes (InnoDB: 3072
    #: with its default DYNAMIC rows); None: no limit when the index is created
    #: (PostgreSQL and SQLite check an entry's size only when a row is written)
    key_bytes: int | None = None
    #: the longer keys the server builds anyway instead of refusing them
    long_keys_kept: frozenset[LongKey] = frozenset()
