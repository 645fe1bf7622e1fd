"""How PostgreSQL spells what it stores (see `dbshift.dialects.normalize`)."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy.sql import sqltypes
from sqlalchemy.types import TypeEngine

from dbshift.dialects.normalize import Normalizer
from dbshift.dialects.postgresql.opclasses import DEFAULT_OPCLASSES
from dbshift.schema.snapshot import Index, Table

_FLOAT = re.compile(r"FLOAT\((\d+)\)")  # FLOAT(p): single precision up to p = 24


def _opclass(name: str) -> str:
    """An operator class's name without quotes and without `pg_catalog.`."""
    name = name.replace('"', "").lower()
    return name.removeprefix("pg_catalog.")


class PostgreSQLNormalizer(Normalizer):
    index_prefix = "postgresql_"
    _CAST = re.compile(
        r'::(?:"(?:[^"]|"")+"|character varying|double precision|bit varying'
        r"|(?:timestamp|time)(?:\(\d+\))? with(?:out)? time zone|[\w.]+)"
        r"(?:\(\d+(?:,\s*\d+)?\))?(?:\[\])*",
        re.IGNORECASE,
    )

    def type_alias(self, text: str) -> str:
        if text == "FLOAT":
            return "DOUBLE PRECISION"
        match = _FLOAT.fullmatch(text)
        if match:
            return "REAL" if int(match.group(1)) <= 24 else "DOUBLE PRECISION"
        if text == "CHAR":
            return "CHAR(1)"
        text = re.sub(r"^DECIMAL\b", "NUMERIC", text)
        text = re.sub(r"^NUMERIC\((\d+)\)$", r"NUMERIC(\1,0)", text)  # stored with scale 0
        return {"INT": "INTEGER"}.get(text, text)

    def strip_casts(self, text: str) -> str:
        # 'abc'::character varying, (0)::numeric, '{}'::jsonb[]
        return self._CAST.sub("", text)

    #: storage parameters' boolean values, as the server accepts them
    _ON_OFF = dict.fromkeys(("on", "true", "yes"), "true") | dict.fromkeys(
        ("off", "false", "no"), "false"
    )

    def index_option(self, name: str, value: Any, index: Index, table: Table) -> Any:
        """The server keeps an access method, operator class, tablespace or storage
        parameter by its lower-case name; the defaults (btree, the database's default
        tablespace) are not kept. Operator classes compare by the position of the entry
        they apply to (the server knows no labels, and spells expressions its own way),
        without the `pg_catalog` schema every built-in one lives in, and a class that
        is its type's default is no class (the server reports none). Storage parameters
        compare as text, as `reloptions` holds them (`fillfactor=70`, `fastupdate=off`)."""
        if name == "postgresql_using" and str(value).lower() == "btree":
            return None  # the default
        if name == "postgresql_concurrently":
            return None  # how the statement runs, not what it makes
        if name == "postgresql_tablespace" and isinstance(value, str):
            value = value.strip('"').lower()
            return None if value == "pg_default" else value
        if name == "postgresql_ops" and isinstance(value, dict):
            method = str(dict(index.options).get("postgresql_using") or "btree").lower()
            defaults = DEFAULT_OPCLASSES.get(method, frozenset())
            value = {
                index.columns.index(entry): _opclass(opclass)
                for entry, opclass in value.items()
                if entry in index.columns and _opclass(opclass) not in defaults
            }
        if name == "postgresql_with" and isinstance(value, dict):
            value = {
                str(k).lower(): self._ON_OFF.get(str(v).lower(), str(v).lower())
                for k, v in value.items()
            }
        return super().index_option(name, value, index, table)

    _BOOLEANS = dict.fromkeys(("0", "'0'", "'f'", "'false'", "'n'", "'no'", "'off'"), "false")
    _BOOLEANS.update(dict.fromkeys(("1", "'1'", "'t'", "'true'", "'y'", "'yes'", "'on'"), "true"))

    def default(self, text: str | None, type_: TypeEngine[Any] | None = None) -> str | None:
        if text is not None and text.startswith("nextval("):
            return None  # the sequence of a SERIAL column: part of autoincrement
        text = super().default(text, type_)
        if text is not None and isinstance(type_, sqltypes.Boolean):
            return self._BOOLEANS.get(text.strip().lower(), text)  # stored as false / true
        return text
