r"""Split a SQL migration into statements, the way each database's own client would.

SQL migrations run statement by statement through a DB-API driver, so the split must
agree with the database's lexer: a `;` inside a string, a quoted identifier, a comment,
a dollar-quoted body or a compound body does not end a statement.

`split_sql` is a single forward pass over tokens: one anchored regex match per token
(words, runs of punctuation and whitespace are one token each), string and comment
bodies skipped with `str.find` or a one-character-class `re.search`. Nothing is
re-scanned, so time is linear in the size of the file and no regex can backtrack.

Per dialect (a SQLAlchemy dialect name; anything not listed is generic ANSI SQL):

============  =================================================================
all           '...' strings with '' doubling, "..." identifiers with "" doubling,
              ``-- ...`` line comments, ``/* ... */`` block comments
postgresql    nested block comments; E'...' strings with backslash escapes (plain
              '...' has none until ``SET standard_conforming_strings = off``, which
              is followed, as the server and psql do; U&'...', B'...', X'...' never);
              ``$$...$$`` and ``$tag$...$tag$`` dollar quoting (``$1`` is a
              parameter); ``BEGIN ATOMIC ... END`` bodies; a ``;`` inside parentheses
              ends nothing (``CREATE RULE ... DO (a; b)``), and a ``--`` comment ends
              at ``\r`` as at ``\n`` (both as psql). Refused, naming the line: a
              backslash outside quotes and comments (a psql meta-command: ``\set``,
              ``\gset``, ``\.``; never SQL) and ``COPY ... FROM STDIN`` / ``TO
              STDOUT`` (rows through the client, which a migration does not have)
mysql,        backslash escapes in '...' and in "..." (a string, not an
mariadb       identifier); ```...``` identifiers; ``#`` comments; ``--`` is a
              comment only when followed by whitespace; ``/*! ... */`` and
              ``/*M! ... */`` executable comments are code; the ``DELIMITER``
              client command; compound ``CREATE PROCEDURE/FUNCTION/TRIGGER/EVENT``
              and MariaDB ``BEGIN NOT ATOMIC`` bodies without DELIMITER; the
              ``SOURCE file`` client command is refused, naming the line
sqlite        ```...``` and ``[...]`` identifiers; ``[EXPLAIN] CREATE TRIGGER ...
              BEGIN ...; END`` (the rule of ``sqlite3_complete``: inside a trigger only the
              ``;`` of ``; END ;`` ends it, so CASE ... END in the body is harmless)
generic       ``BEGIN ATOMIC ... END`` bodies
============  =================================================================

Compound bodies are found with the heuristics the clients use, not a parser:

* PostgreSQL (and generic): after ``BEGIN ATOMIC`` a ``;`` ends the statement only once
  every ``BEGIN ATOMIC`` and ``CASE`` has met its ``END`` (as psql counts them).
* MySQL/MariaDB, best effort: a statement that starts ``CREATE [OR REPLACE]
  [DEFINER = ...] [AGGREGATE] PROCEDURE|FUNCTION|TRIGGER|EVENT`` is kept whole while
  blocks are open. ``BEGIN`` and ``CASE`` always open a block, ``END`` closes one (``END
  IF``, ``END LOOP`` ... close it once). ``IF``, ``LOOP``, ``WHILE``, ``REPEAT`` and
  ``FOR`` open a block only where a statement starts (after ``;``, ``BEGIN``, ``DO``,
  ``LOOP``, ``REPEAT``, a ``label:``, or ``THEN``/``ELSE`` outside a CASE expression;
  before the first block also after ``FOR EACH ROW``, an event's ``DO`` or the routine's
  parameter list), so ``IF(a, b, c)``, ``IF EXISTS`` and ``REPEAT('x', 3)`` do not.
  Keywords inside parentheses are not counted. A block that never closes (malformed SQL,
  or a misread such as an event body ``DO IF(a, b, c)``) keeps the rest of the input in
  one statement, which the database then rejects. The ``mysql`` client itself needs
  ``DELIMITER`` for these; with a custom delimiter only the delimiter ends a statement.

Not handled: MySQL's ``NO_BACKSLASH_ESCAPES`` and ``ANSI_QUOTES`` modes, a server whose
``standard_conforming_strings`` is off by default, other mysql client commands than
``DELIMITER`` and ``SOURCE``. How this compares with psql, the mariadb client and sqlite3
on other projects' files: docs/migrations.md and tests/corpus/sqlsplit.py.
"""

from __future__ import annotations

import dataclasses
import re

from dbshift.dialects import backend_for
from dbshift.errors import MigrationError


class SplitRefused(MigrationError):
    """Text the splitter cannot send as statements (an unterminated string, what only a
    client understands), at `line` of the file; the message starts `line N: `."""

    def __init__(self, line: int, problem: str, *, hint: str) -> None:
        super().__init__(f"line {line}: {problem}", hint=hint)
        self.line = line
        self.problem = problem


__all__ = ["SqlStatement", "split_sql"]


@dataclasses.dataclass(frozen=True)
class SqlStatement:
    """One statement of a SQL migration."""

    #: the statement without its terminator, from its leading comments (the comment
    #: lines directly above it) to the end of its last token; trailing comments dropped
    text: str
    #: 1-based source line where `text` starts (counting from `first_line`)
    line: int
    #: its first words (up to three), upper-cased: what kind of statement it is (derived
    #: from `text`, so not compared)
    keywords: tuple[str, ...] = dataclasses.field(default=(), compare=False)


def split_sql(source: str, dialect: str = "default", *, first_line: int = 1) -> list[SqlStatement]:
    """The statements of `source`, in order; comment-only fragments are dropped.

    `dialect` is a SQLAlchemy dialect name ("postgresql", "mysql", "mariadb", "sqlite";
    anything else is generic SQL); its backend's lexicon flags say how it is read.
    `first_line` is the line `source` starts on in its file. Raises `MigrationError`
    for a string, quoted identifier, dollar quote or block comment left open at the end
    of the input.
    """
    return _Splitter(source, dialect, first_line).run()


# One token per match: whitespace, a word (identifier, keyword or number), a run of
# punctuation that means nothing to the splitter, or any other single character.
_TOKEN = re.compile(r"(\s+)|(\w[\w$]*)|([^\s\w'\"`\[/$;#\-()=@:\\]+)|(.)", re.DOTALL)
_PSQL_META = re.compile(r"\\(?:[A-Za-z]+\+?|.)?")
_DOLLAR_TAG = re.compile(r"\$(?:[^\W\d]\w*)?\$")
_PG_COMMENT_MARK = re.compile(r"/\*|\*/")
_PG_LINE_END = re.compile(r"[\r\n]")
_ESCAPED_QUOTE = {"'": re.compile(r"[\\']"), '"': re.compile(r'[\\"]')}

_UNDECIDED, _PLAIN, _MYSQL_COMPOUND, _SQLITE_TRIGGER = range(4)
_CREATE_FILLERS = frozenset({"OR", "REPLACE", "DEFINER", "AGGREGATE", "TEMP", "TEMPORARY"})
_MYSQL_ROUTINES = frozenset({"PROCEDURE", "FUNCTION", "TRIGGER", "EVENT"})
_MYSQL_CONTROL = frozenset({"IF", "LOOP", "WHILE", "REPEAT", "FOR"})
_MYSQL_STATEMENT_AFTER = frozenset({";", ":", "BEGIN", "ATOMIC", "DO", "LOOP", "REPEAT"})
_CASE_EXPRESSION = "CASE expression"
_PG_STRING_PREFIXES = {"E": "'", "U": "&'", "B": "'", "X": "'"}
_SCS_SETTING = re.compile(
    r"^\s*(?:SET\s+(?:SESSION\s+|LOCAL\s+)?standard_conforming_strings\s*(?:=|TO\b)\s*'?(\w+)"
    r"|RESET\s+(?:standard_conforming_strings|ALL)\b)",
    re.IGNORECASE | re.MULTILINE,
)


class _Splitter:
    def __init__(self, source: str, dialect: str, first_line: int) -> None:
        backend = backend_for(dialect)  # its lexical rules, by the flags below
        self.source = source
        self.postgresql = backend.postgresql_lexicon
        self.mysql = backend.mysql_lexicon
        self.sqlite = backend.sqlite_lexicon
        self.first_line = first_line
        self.delimiter = ";"
        # PostgreSQL after `SET standard_conforming_strings = off`: '...' has escapes
        self.pg_backslashes = False
        self.statements: list[SqlStatement] = []
        self._counted_to = 0  # newlines before this offset are counted in _line
        self._line = first_line
        self._reset(after_terminator=False)

    def _reset(self, *, after_terminator: bool) -> None:
        """Start a new fragment (the text after a terminator)."""
        self.has_code = False
        self.start = 0  # where the statement text starts
        self.end = 0  # where its last token ends
        self.lead = -1  # start of the comment block directly above the first token
        self.lead_on_terminator_line = False
        self.on_terminator_line = after_terminator
        self.mode = _UNDECIDED
        self.header: list[str] = []
        self.keywords: list[str] = []  # the first words, whatever the mode
        self.blocks: list[str] = []  # open compound blocks, innermost last
        self.parens = 0
        self.prev = ""  # the previous token: a word upper-cased, a punctuation character
        self.prev2 = ""  # or "" for anything else (strings, identifiers, runs)

    # -- the scan ------------------------------------------------------------------------

    def run(self) -> list[SqlStatement]:
        source, size, pos = self.source, len(self.source), 0
        while pos < size:
            delimiter = self.delimiter
            if delimiter != ";" and source.startswith(delimiter, pos):
                self._finish()
                pos += len(delimiter)
                continue
            match = _TOKEN.match(source, pos)
            assert match is not None  # the last alternative matches any character
            kind, end = match.lastindex, match.end()
            if kind == 1:
                if not self.has_code:
                    self._space_before_code(pos, end)
                pos = end
            elif kind == 2:
                if delimiter != ";":
                    end = self._cut_at_delimiter(pos, end)
                pos = self._word(pos, end)
            elif kind == 3:
                if delimiter != ";":
                    end = self._cut_at_delimiter(pos, end)
                pos = self._code(pos, end, "")
            else:
                pos = self._punctuation(source[pos], pos)
        self._finish()
        return self.statements

    def _word(self, pos: int, end: int) -> int:
        source = self.source
        word = source[pos:end].upper()
        if self.postgresql and word in _PG_STRING_PREFIXES:
            body = end + len(_PG_STRING_PREFIXES[word])
            if source.startswith(_PG_STRING_PREFIXES[word], end):
                # E'...' has backslash escapes; U&'...', B'...', X'...' never do
                escapes = word == "E"
                return self._code(pos, self._skip_quoted(pos, body, "'", escapes), "")
        if word == "DELIMITER" and self.mysql and not self.has_code and self._line_start(pos):
            command_end = self._delimiter_command(end)
            if command_end is not None:
                return command_end
        if len(self.keywords) < 3:
            self.keywords.append(word)
        prev = self.prev
        self._refuse_client_command(word, prev, pos)
        if self.mode == _UNDECIDED and prev not in ("=", "@"):  # `DEFINER = user@host`
            self._header(word)
        if self.mysql:
            if self.mode == _MYSQL_COMPOUND and not self.parens:
                self._mysql_blocks(word, prev)
        elif not self.sqlite:
            if word == "ATOMIC" and prev == "BEGIN":
                self.blocks.append("BEGIN")
            elif self.blocks and word == "CASE":
                self.blocks.append("CASE")
            elif self.blocks and word == "END":
                self.blocks.pop()
        return self._code(pos, end, word)

    def _punctuation(self, char: str, pos: int) -> int:
        source = self.source
        if char == "'":
            backslashes = self.mysql or self.pg_backslashes
            return self._code(pos, self._skip_quoted(pos, pos + 1, "'", backslashes), "")
        if char == '"':
            return self._code(pos, self._skip_quoted(pos, pos + 1, '"', self.mysql), "")
        if char == "`" and (self.mysql or self.sqlite):
            return self._code(pos, self._skip_quoted(pos, pos + 1, "`", False), "")
        if char == "[" and self.sqlite:
            close = source.find("]", pos + 1)
            if close < 0:
                raise self._unterminated("[identifier]", pos, "close it with ]")
            return self._code(pos, close + 1, "")
        if char == "-" and source.startswith("-", pos + 1):
            if not self.mysql or pos + 2 >= len(source) or source[pos + 2] <= " ":
                return self._line_comment(pos)
        elif char == "#" and self.mysql:
            return self._line_comment(pos)
        elif char == "/" and source.startswith("*", pos + 1):
            end = self._skip_block_comment(pos)
            if self.mysql and source.startswith(("/*!", "/*M!"), pos):
                return self._code(pos, end, "")  # an executable comment
            return self._comment(pos, end)
        elif char == "$" and self.postgresql:
            tag = _DOLLAR_TAG.match(source, pos)
            if tag is not None:
                close = source.find(tag.group(), tag.end())
                if close < 0:
                    what = f"dollar-quoted string {tag.group()}"
                    raise self._unterminated(what, pos, f"close it with {tag.group()}")
                return self._code(pos, close + len(tag.group()), "")
        elif char == "\\" and self.postgresql:
            raise self._psql_meta_command(pos)
        elif char == ";" and self.delimiter == ";":
            return self._semicolon(pos)
        elif char == "(":
            self.parens += 1
        elif char == ")":
            self.parens = max(self.parens - 1, 0)
        return self._code(pos, pos + 1, char)

    def _semicolon(self, pos: int) -> int:
        if (
            self.blocks
            or (self.postgresql and self.parens)
            or (self.mode == _SQLITE_TRIGGER and not (self.prev == "END" and self.prev2 == ";"))
        ):
            return self._code(pos, pos + 1, ";")  # inside a compound body
        self._finish()
        return pos + 1

    # -- statement bookkeeping ---------------------------------------------------------------

    def _code(self, pos: int, end: int, token: str) -> int:
        if not self.has_code:
            self.has_code = True
            self.start = self.lead if self.lead >= 0 else pos
        self.end = end
        self.prev2, self.prev = self.prev, token
        return end

    def _comment(self, pos: int, end: int) -> int:
        if not self.has_code and self.lead < 0:
            self.lead = pos
            self.lead_on_terminator_line = self.on_terminator_line
        return end

    def _space_before_code(self, pos: int, end: int) -> None:
        """Leading comments are the block directly above: a blank line ends it, and a
        comment after the previous terminator on its line belongs to no statement."""
        newlines = self.source.count("\n", pos, end)
        if newlines:
            if self.lead >= 0 and (newlines > 1 or self.lead_on_terminator_line):
                self.lead = -1
            self.on_terminator_line = False

    def _finish(self) -> None:
        if self.has_code:
            start = self.start
            self._line += self.source.count("\n", self._counted_to, start)
            self._counted_to = start
            text = self.source[start : self.end]
            self.statements.append(SqlStatement(text, self._line, tuple(self.keywords)))
            if self.postgresql and self.keywords[:1] in (["SET"], ["RESET"]):
                self._follow_string_setting(text)
        self._reset(after_terminator=True)

    def _follow_string_setting(self, text: str) -> None:
        """The server lexes '...' with backslash escapes while
        `standard_conforming_strings` is off, and psql follows it (the server reports
        the change), so the rest of the file is split the same way."""
        setting = _SCS_SETTING.search(text)
        if setting is not None:
            value = (setting.group(1) or "on").lower()
            self.pg_backslashes = value in ("off", "false", "no", "0")

    def _header(self, word: str) -> None:
        """Decide from its first words whether a statement has a compound body."""
        header = self.header
        header.append(word)
        if self.sqlite and header[0] == "EXPLAIN":  # as sqlite3_complete: EXPLAIN CREATE
            header = header[1:]
            if not header:
                return
        if header[0] == "CREATE":
            if len(header) == 1 or word in _CREATE_FILLERS:
                return
            if self.mysql and word in _MYSQL_ROUTINES:
                self.mode = _MYSQL_COMPOUND
            elif self.sqlite and word == "TRIGGER":
                self.mode = _SQLITE_TRIGGER
            else:
                self.mode = _PLAIN
        elif header[0] == "BEGIN" and self.mysql and header[1:] in ([], ["NOT"]):
            return
        elif header == ["BEGIN", "NOT", "ATOMIC"]:  # MariaDB's anonymous block
            self.mode = _MYSQL_COMPOUND
            self.blocks.append("BEGIN")
        else:
            self.mode = _PLAIN

    def _mysql_blocks(self, word: str, prev: str) -> None:
        blocks = self.blocks
        if prev == "END":
            return  # END IF, END LOOP label, ...: the END closed the block
        if word == "END":
            if blocks:
                blocks.pop()
        elif word == "BEGIN":
            blocks.append(word)
        elif word == "CASE":
            blocks.append(word if self._mysql_statement_start(prev) else _CASE_EXPRESSION)
        elif word in _MYSQL_CONTROL and self._mysql_statement_start(prev):
            blocks.append(word)

    def _mysql_statement_start(self, prev: str) -> bool:
        """Whether a statement of a compound body may start after `prev`."""
        if prev in _MYSQL_STATEMENT_AFTER:
            return True
        if prev in ("THEN", "ELSE"):
            return bool(self.blocks) and self.blocks[-1] != _CASE_EXPRESSION
        # the body of a routine, trigger or event before any block is open
        return not self.blocks and prev in ("ROW", ")")

    # -- client commands -------------------------------------------------------------------

    def _refuse_client_command(self, word: str, prev: str, pos: int) -> None:
        """What only a client can do is refused, naming the line: a migration's statements
        go to the server through a driver, where they would fail or wait for data."""
        if self.postgresql and word in ("STDIN", "STDOUT") and prev in ("FROM", "TO"):
            if self.keywords[0] == "COPY":
                raise SplitRefused(
                    self._line_of(pos),
                    f"COPY ... {prev} {word} moves rows through "
                    "the client (psql), which a migration does not have",
                    hint="insert the rows with INSERT ... VALUES, or COPY a file on the server",
                )
        elif self.mysql and word == "SOURCE" and not self.has_code and self._line_start(pos):
            raise SplitRefused(
                self._line_of(pos),
                "SOURCE is a mysql client command, not SQL",
                hint="put the statements of that file into the migration itself",
            )

    def _psql_meta_command(self, pos: int) -> SplitRefused:
        """A backslash outside quotes and comments is never PostgreSQL SQL: psql reads it
        as one of its meta-commands (`\\set`, `\\gset`, `\\.` ending COPY data ...)."""
        match = _PSQL_META.match(self.source, pos)
        command = match.group() if match is not None else "\\"
        return SplitRefused(
            self._line_of(pos),
            f"{command} is a psql meta-command, not SQL",
            hint="dbshift sends each statement to the server itself, not through psql: "
            "write it as SQL or remove it",
        )

    # -- MySQL's DELIMITER ------------------------------------------------------------------

    def _line_start(self, pos: int) -> bool:
        line_start = self.source.rfind("\n", 0, pos) + 1
        return not self.source[line_start:pos].strip()

    def _delimiter_command(self, pos: int) -> int | None:
        """Read `DELIMITER xx` (pos is after the word); None when it is not the command."""
        source = self.source
        if pos < len(source) and source[pos] not in " \t\r\n":
            return None
        line_end = source.find("\n", pos)
        line_end = len(source) if line_end < 0 else line_end
        argument = source[pos:line_end].split()
        if not argument:
            raise SplitRefused(
                self._line_of(pos),
                "DELIMITER without a terminator",
                hint="write e.g. `DELIMITER //`, end statements with //, then `DELIMITER ;`",
            )
        delimiter = argument[0]
        if len(delimiter) > 2 and delimiter[0] == delimiter[-1] and delimiter[0] in "'\"`":
            delimiter = delimiter[1:-1]
        if "\\" in delimiter:
            raise SplitRefused(
                self._line_of(pos),
                "DELIMITER cannot contain a backslash",
                hint="choose another terminator, e.g. // or $$",
            )
        self.delimiter = delimiter
        self._reset(after_terminator=True)
        return line_end

    def _cut_at_delimiter(self, pos: int, end: int) -> int:
        """A custom delimiter ends a statement even in the middle of a word (`END$$`)."""
        found = self.source.find(self.delimiter, pos + 1, end + len(self.delimiter) - 1)
        return found if 0 <= found < end else end

    # -- strings and comments ---------------------------------------------------------------

    def _skip_quoted(self, pos: int, body: int, quote: str, backslashes: bool) -> int:
        """The end of the quoted token opened at `pos` whose body starts at `body`."""
        source, scan = self.source, body
        while True:
            if backslashes:
                found = _ESCAPED_QUOTE[quote].search(source, scan)
                close = -1 if found is None else found.start()
                if close >= 0 and source[close] == "\\":
                    scan = close + 2
                    continue
            else:
                close = source.find(quote, scan)
            if close < 0:
                raise self._unterminated_quote(pos, quote)
            if not source.startswith(quote, close + 1):
                return close + 1
            scan = close + 2  # a doubled quote

    def _unterminated_quote(self, pos: int, quote: str) -> SplitRefused:
        if quote == "'" or (self.mysql and quote == '"'):
            what, hint = "string", f"close it with {quote}; write {quote * 2} for a {quote} inside"
        else:
            what, hint = "quoted identifier", f"close it with {quote}"
        if quote in "'\"" and self.mysql:
            hint += " (or escape it with a backslash)"
        return self._unterminated(what, pos, hint)

    def _line_comment(self, pos: int) -> int:
        if self.postgresql:  # PostgreSQL's lexer ends a comment at \n or \r alike
            found = _PG_LINE_END.search(self.source, pos)
            return self._comment(pos, len(self.source) if found is None else found.start())
        newline = self.source.find("\n", pos)
        return self._comment(pos, len(self.source) if newline < 0 else newline)

    def _skip_block_comment(self, pos: int) -> int:
        source = self.source
        if not self.postgresql:
            close = source.find("*/", pos + 2)
            if close < 0:
                raise self._unterminated("block comment", pos, "close it with */")
            return close + 2
        depth, scan = 1, pos + 2
        while depth:
            mark = _PG_COMMENT_MARK.search(source, scan)
            if mark is None:
                hint = "close it with */ (PostgreSQL nests comments: each /* needs its own */)"
                raise self._unterminated("block comment", pos, hint)
            depth += 1 if mark.group() == "/*" else -1
            scan = mark.end()
        return scan

    def _line_of(self, pos: int) -> int:
        return self.first_line + self.source.count("\n", 0, pos)

    def _unterminated(self, what: str, pos: int, hint: str) -> SplitRefused:
        return SplitRefused(self._line_of(pos), f"unterminated {what}", hint=hint)
