"""Split SQL migration text into statements, the way each database's own client does.

A single pass over tokens (a compiled regex finds each next token; string and comment
bodies are skipped with `str.find`), so it is linear in the size of the file. It knows
quoted strings and identifiers per dialect, line and block comments (nested on
PostgreSQL), PostgreSQL dollar quoting and `BEGIN ATOMIC ... END` bodies, SQLite
`CREATE TRIGGER ... BEGIN ... END`, and MySQL/MariaDB `DELIMITER` and compound
statements (`BEGIN ... END`, `IF ... END IF`, `CASE`, `LOOP`, `WHILE`, `REPEAT`).
"""

from __future__ import annotations

import dataclasses
import re

from dbshift.errors import MigrationError

_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<line_comment>--[^\n]*)
  | (?P<block_comment>/\*)
  | (?P<dollar>\$(?:[A-Za-z_][A-Za-z0-9_]*)?\$)
  | (?P<quote>[eE]'|'|"|`|\[)
  | (?P<word>[A-Za-z_][A-Za-z0-9_$]*)
  | (?P<semicolon>;)
  | (?P<hash>\#)
  | (?P<other>[^\s\-'"`\[/$;A-Za-z_\#]+|.)
    """,
    re.VERBOSE | re.DOTALL,
)
_DELIMITER_LINE = re.compile(r"[ \t]*DELIMITER[ \t]+(\S+)[ \t]*(?:\r?\n|$)", re.IGNORECASE)
_COMPOUND_KINDS = frozenset({"TRIGGER", "PROCEDURE", "FUNCTION", "EVENT"})
_MYSQL_BLOCKS = frozenset({"IF", "LOOP", "WHILE", "REPEAT", "CASE"})


@dataclasses.dataclass(frozen=True)
class SqlStatement:
    text: str
    line: int


def split_sql(source: str, dialect: str = "default", *, first_line: int = 1) -> list[SqlStatement]:
    return _Splitter(source, dialect, first_line).run()


class _Splitter:
    def __init__(self, source: str, dialect: str, first_line: int) -> None:
        self.source = source
        self.mysql = dialect in ("mysql", "mariadb")
        self.postgresql = dialect == "postgresql"
        self.sqlite = dialect == "sqlite"
        self.first_line = first_line
        self.statements: list[SqlStatement] = []
        self._line, self._counted = first_line, 0

    def run(self) -> list[SqlStatement]:
        source, pos, end = self.source, 0, len(self.source)
        delimiter = ";"
        start = 0  # where the current fragment began
        has_code = False
        words: list[str] = []  # the first words of the current statement
        depth = 0  # open BEGIN/CASE/... blocks of a compound body
        previous = ""  # the previous word, upper-cased
        while pos < end:
            if not has_code and self.mysql:
                line_start = pos == 0 or source[pos - 1] == "\n"
                match = _DELIMITER_LINE.match(source, pos) if line_start else None
                if match:
                    self._emit(start, pos, has_code)
                    delimiter = match.group(1)
                    pos = start = match.end()
                    continue
            if delimiter != ";" and source.startswith(delimiter, pos):
                self._emit(start, pos, has_code)
                pos = start = pos + len(delimiter)
                has_code, words, depth, previous = False, [], 0, ""
                continue
            token = _TOKEN.match(source, pos)
            assert token is not None  # `other` matches any character
            kind, text = token.lastgroup, token.group()
            if kind == "space":
                pos = token.end()
            elif kind == "line_comment" or (kind == "hash" and self.mysql):
                newline = source.find("\n", pos)
                pos = end if newline == -1 else newline
            elif kind == "block_comment":
                executable = self.mysql and source.startswith("/*!", pos)
                pos = self._skip_block_comment(pos)
                has_code = has_code or executable
            elif kind == "dollar" and self.postgresql and not _after_word(source, pos):
                close = source.find(text, pos + len(text))
                if close == -1:
                    raise self._unterminated("dollar-quoted string", pos, f"close it with {text}")
                pos, has_code = close + len(text), True
            elif kind == "quote":
                pos, has_code = self._skip_quoted(pos, text), True
            elif kind == "semicolon" and delimiter == ";" and depth == 0:
                self._emit(start, pos, has_code)
                pos = start = token.end()
                has_code, words, depth, previous = False, [], 0, ""
            elif kind == "word":
                word = text.upper()
                if len(words) < 8:
                    words.append(word)
                depth = self._track_blocks(word, previous, words, depth, token.end())
                previous, pos, has_code = word, token.end(), True
            else:
                pos, has_code = token.end(), True
        self._emit(start, end, has_code)
        return self.statements

    def _track_blocks(
        self, word: str, previous: str, words: list[str], depth: int, after: int
    ) -> int:
        """Nesting of compound bodies, inside which `;` does not end the statement."""
        if previous == "END" and word in _MYSQL_BLOCKS:
            return depth  # END IF, END LOOP, END CASE ...: the END closed it already
        if word == "END":
            return max(depth - 1, 0)
        if word == "CASE":
            return depth + 1 if depth else depth
        if self.postgresql:
            return depth + 1 if word == "ATOMIC" and previous == "BEGIN" else depth
        if word == "BEGIN" and _is_compound(words):
            return depth + 1
        if not self.mysql:
            return depth
        if word == "ATOMIC" and words[:3] == ["BEGIN", "NOT", "ATOMIC"]:
            return depth + 1  # MariaDB's anonymous block
        if depth and (
            word in ("LOOP", "WHILE", "REPEAT") or (word == "IF" and _opens_if(self.source, after))
        ):
            return depth + 1
        return depth

    def _skip_block_comment(self, pos: int) -> int:
        source, level, scan = self.source, 1, pos + 2
        while level:
            close = source.find("*/", scan)
            if close == -1:
                raise self._unterminated("block comment", pos, "close it with */")
            if self.postgresql:
                nested = source.find("/*", scan, close)
                if nested != -1:
                    level, scan = level + 1, nested + 2
                    continue
            level, scan = level - 1, close + 2
        return scan

    def _skip_quoted(self, pos: int, opener: str) -> int:
        source = self.source
        if opener == "[":
            if not self.sqlite:
                return pos + 1
            close = source.find("]", pos + 1)
            if close == -1:
                raise self._unterminated("[identifier]", pos, "close it with ]")
            return close + 1
        quote = opener[-1]
        backslashes = (self.mysql and quote in "'\"") or (self.postgresql and len(opener) == 2)
        scan = pos + len(opener)
        while True:
            close = source.find(quote, scan)
            if close == -1:
                what = "identifier" if quote in '`"' and not self.mysql else "string"
                raise self._unterminated(f"quoted {what}", pos, f"close it with {quote}")
            if backslashes and _escaped(source, scan, close):
                scan = close + 1
                continue
            if source.startswith(quote, close + 1):  # doubled quote
                scan = close + 2
                continue
            return close + 1

    def _emit(self, start: int, stop: int, has_code: bool) -> None:
        if not has_code:
            return
        fragment = self.source[start:stop]
        text = fragment.strip()
        leading = len(fragment) - len(fragment.lstrip())
        at = start + leading
        self._line += self.source.count("\n", self._counted, at)
        self._counted = at
        self.statements.append(SqlStatement(text, self._line))

    def _unterminated(self, what: str, pos: int, hint: str) -> MigrationError:
        line = self.first_line + self.source.count("\n", 0, pos)
        return MigrationError(f"line {line}: unterminated {what}", hint=hint)


def _after_word(source: str, pos: int) -> bool:
    return pos > 0 and (source[pos - 1].isalnum() or source[pos - 1] == "_")


def _escaped(source: str, start: int, close: int) -> bool:
    """True when the quote at `close` is preceded by an odd run of backslashes."""
    run = 0
    index = close - 1
    while index >= start and source[index] == "\\":
        run += 1
        index -= 1
    return run % 2 == 1


def _is_compound(words: list[str]) -> bool:
    return bool(words) and words[0] == "CREATE" and any(w in _COMPOUND_KINDS for w in words)


def _opens_if(source: str, after: int) -> bool:
    """`IF cond THEN` opens a block; `IF EXISTS`, `IF NOT EXISTS` and `IF(` do not."""
    rest = source[after : after + 16].lstrip().upper()
    return not rest.startswith(("EXISTS", "NOT ", "NOT\n", "("))
