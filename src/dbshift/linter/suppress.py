"""Suppression comments: which codes are silenced on which lines of a migration file.

Python: `# dbshift: ignore[DS101]` (several: `[DS101, DS102]`) on any line of the
statement that makes the `op` call; `# dbshift: ignore-file[DS101]` anywhere for the
whole file. SQL: `-- dbshift:ignore DS101` in or directly above the statement (or at
the end of its last line); `-- dbshift:ignore-file DS101` anywhere.
"""

from __future__ import annotations

import ast
import dataclasses
import io
import re
import tokenize

_PY = re.compile(r"#\s*dbshift:\s*ignore(?P<file>-file)?\s*\[(?P<codes>[^\]]*)\]", re.IGNORECASE)
_SQL = re.compile(
    r"--\s*dbshift:\s*ignore(?P<file>-file)?\s+(?P<codes>[A-Za-z0-9_]+(?:\s*,?\s*[A-Z]{2}\d+)*)",
    re.IGNORECASE,
)


@dataclasses.dataclass(frozen=True)
class Suppression:
    code: str
    #: the line of the comment
    line: int
    #: for line suppressions: the lines of the statement it covers; empty for file-wide
    covers: frozenset[int]

    @property
    def file_wide(self) -> bool:
        return not self.covers


def _codes(text: str) -> list[str]:
    return [c.upper() for c in re.split(r"[\s,]+", text.strip()) if c]


def python_suppressions(source: str) -> list[Suppression]:
    """The suppressions in a Python migration's source."""
    spans = _statement_spans(source)
    found: list[Suppression] = []
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
    except (tokenize.TokenError, SyntaxError):
        return found
    for token in tokens:
        if token.type != tokenize.COMMENT:
            continue
        match = _PY.search(token.string)
        if not match:
            continue
        line = token.start[0]
        covers = frozenset() if match["file"] else spans.get(line, frozenset({line}))
        found.extend(Suppression(code, line, covers) for code in _codes(match["codes"]))
    return found


def _statement_spans(source: str) -> dict[int, frozenset[int]]:
    """For each line inside a simple statement, every line of that statement (a call
    spread over several lines may carry its comment on any of them)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return {}
    spans: dict[int, frozenset[int]] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.stmt) and not hasattr(node, "body"):
            end = node.end_lineno or node.lineno
            lines = frozenset(range(node.lineno, end + 1))
            for line in lines:
                spans[line] = lines
    return spans


def sql_suppressions(source: str, statements: list[tuple[int, int]]) -> list[Suppression]:
    """The suppressions in a SQL migration. `statements` are (first line, last line)
    of each statement, leading comments included."""
    found: list[Suppression] = []
    for index, text in enumerate(source.splitlines(), start=1):
        for match in _SQL.finditer(text):
            covers: frozenset[int] = frozenset()
            if not match["file"]:
                span = next(((a, b) for a, b in statements if a <= index <= b), None)
                covers = frozenset(range(span[0], span[1] + 1)) if span else frozenset({index})
            found.extend(Suppression(code, index, covers) for code in _codes(match["codes"]))
    return found
