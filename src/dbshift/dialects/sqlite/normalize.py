"""How SQLite spells what it stores (see `dbshift.dialects.normalize`)."""

from __future__ import annotations

from typing import Any

from dbshift.dialects.normalize import Normalizer


class SQLiteNormalizer(Normalizer):
    #: the table options SQLite's CREATE TABLE text states, and their values when not
    _TABLE_OPTIONS = {
        "sqlite_autoincrement": False,
        "sqlite_with_rowid": True,
        "sqlite_strict": False,
    }

    def table_option(self, key: str, value: Any) -> Any:
        if key not in self._TABLE_OPTIONS:
            return None
        return self._TABLE_OPTIONS[key] if value is None else bool(value)

    index_prefix = "sqlite_"

    def type_alias(self, text: str) -> str:
        # a declared DOUBLE PRECISION is read back by its affinity, REAL
        return "REAL" if text == "DOUBLE PRECISION" else text
