"""Column types dbshift itself reads back from a database."""

from __future__ import annotations

from typing import Any

from sqlalchemy.types import UserDefinedType


class DeclaredType(UserDefinedType[Any]):
    """A type known only by the text it was declared with (SQLite keeps any name:
    `NUMBER(3)`, `STRING`), compiled back to that text so that comparing it with a model
    compares what the database stores, and a file that restates it restates the text."""

    cache_ok = True

    def __init__(self, text: str) -> None:
        self.text = text

    def get_col_spec(self, **kw: Any) -> str:
        return self.text

    def __repr__(self) -> str:
        return f"DeclaredType({self.text!r})"
