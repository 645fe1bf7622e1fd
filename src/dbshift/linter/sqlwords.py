"""PostgreSQL statements read word by word, where sqlglot's parser cannot help.

sqlglot does not model some statements (CLUSTER, VACUUM, REINDEX, domains, extensions,
DETACH PARTITION, identity and generated-column ALTERs, RENAME TO / SET SCHEMA of types,
sequences, functions and schemas), and fails on valid PostgreSQL it has no grammar for
(`DROP INDEX a, b`, a `bit varying` column, `INSERT INTO k (a.x)`). Reporting those as
unparsable (DS606, an error) would lose the real check, so this module reads them word
by word (with a small tokenizer of PostgreSQL's lexical rules): the statement kind, its
table, and the clauses rules look at (CONCURRENTLY, NOT VALID, CASCADE, a column's NOT
NULL / DEFAULT / UNIQUE).

The reading is strict about the shape it accepts: every reader returns None when a word
is not where the grammar puts it, so SQL that really is invalid stays unparsable.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Sequence
from typing import Any

from dbshift.facts import ColumnFact, Fact
from dbshift.linter.typetext import type_from_text

_NAME = re.compile(r"[^\W\d][\w$]*\Z")


@dataclasses.dataclass(frozen=True)
class Word:
    """One token: its text (a quoted identifier without its quotes), where it is in the
    statement, and whether it was quoted (a quoted word is never a keyword)."""

    text: str
    start: int
    end: int
    quoted: bool = False
    string: bool = False

    def is_(self, *keywords: str) -> bool:
        return not self.quoted and not self.string and self.text.upper() in keywords

    @property
    def is_name(self) -> bool:
        return self.quoted or (not self.string and bool(_NAME.match(self.text)))

    def is_symbol(self, symbol: str) -> bool:
        return not self.quoted and not self.string and self.text == symbol

    @property
    def depth(self) -> int:
        """+1 for an opening bracket, -1 for a closing one, else 0."""
        if self.quoted or self.string:
            return 0
        return (self.text in ("(", "[")) - (self.text in (")", "]"))


class Reader:
    """A cursor over a statement's words with the few moves the grammar readers need."""

    def __init__(self, text: str, words: list[Word]) -> None:
        self.text = text
        self.words = words
        self.at = 0

    def at_end(self) -> bool:
        """Whether every word has been read (a method: the cursor moves under it)."""
        return self.at >= len(self.words)

    def peek(self, ahead: int = 0) -> Word | None:
        index = self.at + ahead
        return self.words[index] if index < len(self.words) else None

    def accept(self, *keywords: str) -> bool:
        """Step over the keywords if they come next, in this order."""
        for offset, keyword in enumerate(keywords):
            word = self.peek(offset)
            if word is None or not word.is_(keyword):
                return False
        self.at += len(keywords)
        return True

    def take(self, *keywords: str) -> str | None:
        """The next word, upper case, when it is one of `keywords` (the cursor after it)."""
        word = self.peek()
        if word is None or not word.is_(*keywords):
            return None
        self.at += 1
        return word.text.upper()

    def symbol(self, symbol: str) -> bool:
        """Step over `symbol` (a comma, a dot) if it comes next."""
        word = self.peek()
        if word is None or not word.is_symbol(symbol):
            return False
        self.at += 1
        return True

    def name(self) -> tuple[str | None, str] | None:
        """A possibly schema-qualified name: (schema, name), or None when none is next."""
        parts: list[str] = []
        while True:
            word = self.peek()
            if word is None or not word.is_name:
                return None
            parts.append(word.text)
            self.at += 1
            if not self.symbol("."):
                break
        schema = parts[-2] if len(parts) > 1 else None
        return schema, parts[-1]

    def group(self) -> str | None:
        """A parenthesised group: its inner text, with the cursor after it."""
        word = self.peek()
        if word is None or not word.is_symbol("("):
            return None
        depth = 0
        for index in range(self.at, len(self.words)):
            depth += self.words[index].depth
            if depth == 0:
                inner = self.text[word.end + 1 : self.words[index].start]
                self.at = index + 1
                return inner.strip()
        return None

    def until(self, stop: Callable[[Word], bool]) -> str:
        """The text up to (not including) the first word at depth 0 that `stop` accepts
        (or the end), with the cursor there."""
        first = self.at
        depth = 0
        while not self.at_end():
            word = self.words[self.at]
            if depth == 0 and stop(word):
                break
            depth += word.depth
            self.at += 1
        if self.at == first:
            return ""
        return self.text[self.words[first].start : self.words[self.at - 1].end + 1].strip()

    def split(self) -> list[Reader] | None:
        """The rest, split at commas outside parentheses: one reader per part."""
        parts: list[list[Word]] = [[]]
        depth = 0
        for word in self.words[self.at :]:
            depth += word.depth
            if depth == 0 and word.is_symbol(","):
                parts.append([])
            else:
                parts[-1].append(word)
        self.at = len(self.words)
        if any(not part for part in parts):
            return None
        return [Reader(self.text, part) for part in parts]


# PostgreSQL's lexical structure, as far as the readers need it. sqlglot's tokenizer
# will not do: it folds the rest of a statement it keeps as a command into one string
# (`REINDEX` + `'TABLE users'`) and joins some keyword pairs (`PRIMARY KEY`).
_TOKEN = re.compile(
    r"""(?P<space>\s+|--[^\n]*|/\*.*?\*/)
    |(?P<string>[Ee]'(?:[^'\\]|\\.|'')*'|(?:[BbXxNn]|[Uu]&)?'(?:[^']|'')*'
        |\$(?P<tag>(?:[^\W\d]\w*)?)\$.*?\$(?P=tag)\$)
    |(?P<quoted>(?:[Uu]&)?"(?:[^"]|"")+")
    |(?P<number>\d+(?:\.\d*)?(?:[eE][+-]?\d+)?|\.\d+)
    |(?P<word>[^\W\d][\w$]*)
    |(?P<symbol>::|[^\s\w'"$])""",
    re.VERBOSE | re.DOTALL,
)


def words_of(text: str) -> list[Word] | None:
    """The statement's words, or None when it cannot be read (an unterminated string
    or quoted name) or its parentheses do not balance."""
    words: list[Word] = []
    at = 0
    while at < len(text):
        match = _TOKEN.match(text, at)
        if match is None:
            return None
        at = match.end()
        if match["space"] is not None or match.group() == ";":
            continue
        start, end = match.start(), match.end() - 1
        if match["quoted"] is not None:
            inner = match.group().split('"', 1)[1][:-1].replace('""', '"')
            words.append(Word(inner, start, end, quoted=True))
        else:
            words.append(Word(match.group(), start, end, string=match["string"] is not None))
    depth = 0
    for word in words:
        depth += word.depth
        if depth < 0:
            return None
    return words if depth == 0 else None


# -- statements sqlglot does not model (read before it is asked) ----------------------------


_Readers = tuple[tuple[tuple[str, ...], Callable[["Reader", str], list[Fact] | None]], ...]


def read_unmodelled(text: str, first: Sequence[str] = ()) -> list[Fact] | None:
    """Facts of a statement sqlglot keeps opaque or misreads, or None for any other.
    `first`: the statement's first words as the splitter read them, upper case (a
    statement no reader starts with is then not tokenized at all)."""
    return _read(text, _UNMODELLED, first)


def read_fallback(text: str, first: Sequence[str] = ()) -> list[Fact] | None:
    """Facts of a statement sqlglot could not parse (or kept as a command), read word by
    word; None when the words do not make a statement these readers know."""
    return _read(text, _FALLBACK, first)


def _read(text: str, readers: _Readers, first: Sequence[str] = ()) -> list[Fact] | None:
    """The facts of the first reader whose leading keywords start `text`."""
    if first and not any(tuple(first[: len(start)]) == start for start, _ in readers):
        return None  # most statements: INSERTs, CREATE INDEX, ... need no words here
    words = words_of(text)
    if not words:
        return None
    reader = Reader(text, words)
    for keywords, read in readers:
        if reader.accept(*keywords):
            return read(reader, text)
    return None


def _end(reader: Reader, *allowed: str) -> bool:
    """Whether only the `allowed` keywords are left (each at most once, any order)."""
    seen: set[str] = set()
    while not reader.at_end():
        word = reader.peek()
        assert word is not None
        if not word.is_(*allowed) or word.text.upper() in seen:
            return False
        seen.add(word.text.upper())
        reader.at += 1
    return True


def _options(reader: Reader) -> set[str]:
    """A `(FULL, VERBOSE true, ...)` option list, as upper-case option names that are on."""
    inner = reader.group()
    if inner is None:
        return set()
    on = set()
    for part in inner.split(","):
        bits = part.split()
        if bits and (len(bits) == 1 or bits[1].lower() not in ("false", "off", "0")):
            on.add(bits[0].upper())
    return on


def _cluster(reader: Reader, text: str) -> list[Fact] | None:
    """CLUSTER [(options)] [VERBOSE] [table [USING index]], or the pre-8.3 spelling
    PostgreSQL still accepts, CLUSTER [VERBOSE] index ON table"""
    _options(reader)
    reader.accept("VERBOSE")
    if reader.at_end():
        return [Fact("cluster", sql=text)]
    name = reader.name()
    if name is None:
        return None
    index = None
    if name[0] is None and reader.accept("ON"):
        index, name = name[1], reader.name()
        if name is None or not reader.at_end():
            return None
        return [Fact("cluster", name[1], name[0], name=index, sql=text)]
    if reader.accept("USING"):
        index_name = reader.name()
        if index_name is None:
            return None
        index = index_name[1]
    if not reader.at_end():
        return None
    return [Fact("cluster", name[1], name[0], name=index, sql=text)]


def _vacuum(reader: Reader, text: str) -> list[Fact] | None:
    """VACUUM [(options)] [FULL] [FREEZE] [VERBOSE] [ANALYZE] [table [(cols)], ...]"""
    options = _options(reader)
    while (option := reader.take("FULL", "FREEZE", "VERBOSE", "ANALYZE", "ANALYSE")) is not None:
        options.add(option)
    kind = "vacuum_full" if "FULL" in options else "vacuum"
    if reader.at_end():
        return [Fact(kind, sql=text)]
    parts = reader.split()
    if parts is None:
        return None
    facts = []
    for part in parts:
        name = part.name()
        if name is None:
            return None
        part.group()  # the column list of VACUUM ANALYZE t (a, b)
        if not part.at_end():
            return None
        facts.append(Fact(kind, name[1], name[0], sql=text))
    return facts


def _reindex(reader: Reader, text: str) -> list[Fact] | None:
    """REINDEX [(options)] {INDEX | TABLE | SCHEMA | DATABASE | SYSTEM} [CONCURRENTLY] name
    (CONCURRENTLY may be an option too, from PostgreSQL 14)"""
    options = _options(reader)
    what = reader.take("INDEX", "TABLE", "SCHEMA", "DATABASE", "SYSTEM")
    if what is None:
        return None
    concurrently = reader.accept("CONCURRENTLY") or "CONCURRENTLY" in options
    name = reader.name()
    if name is None and what in ("INDEX", "TABLE", "SCHEMA"):
        return None
    if not reader.at_end():
        return None
    schema, bare = name if name is not None else (None, None)
    common: dict[str, Any] = {"concurrently": concurrently, "scope": what, "sql": text}
    if what == "TABLE":
        return [Fact("reindex", bare, schema, **common)]
    return [Fact("reindex", schema=schema, name=bare, **common)]


def _create_domain(reader: Reader, text: str) -> list[Fact] | None:
    """CREATE DOMAIN name [AS] type [COLLATE c] [DEFAULT e] [constraint ...]"""
    name = reader.name()
    if name is None:
        return None
    checks = []
    while not reader.at_end():
        word = reader.peek()
        assert word is not None
        reader.at += 1
        if word.is_("CHECK"):
            condition = reader.group()
            if condition is None:
                return None
            checks.append(condition)
    condition = " AND ".join(f"({c})" for c in checks) if checks else None
    return [Fact("create_domain", schema=name[0], name=name[1], condition=condition, sql=text)]


def _alter_domain(reader: Reader, text: str) -> list[Fact] | None:
    """ALTER DOMAIN name {ADD [CONSTRAINT c] {CHECK (e) | NOT NULL} [NOT VALID] | SET NOT
    NULL}: both check every column using the domain; the other forms check no rows."""
    name = reader.name()
    if name is None or reader.at_end():
        return None
    if reader.accept("SET", "NOT", "NULL") and reader.at_end():  # checks every column too
        return [
            Fact(
                "add_domain_constraint",
                schema=name[0],
                name=name[1],
                condition="VALUE IS NOT NULL",
                sql=text,
            )
        ]
    if (moved := _rename_or_move(reader, text, "DOMAIN", name)) is not None:
        return moved
    if not reader.accept("ADD"):
        return [Fact("other_ddl", schema=name[0], name=name[1], sql=text)]
    constraint = None
    if reader.accept("CONSTRAINT"):
        constraint_name = reader.name()
        if constraint_name is None:
            return None
        constraint = constraint_name[1]
    if reader.accept("CHECK"):
        condition = reader.group()
    elif reader.accept("NOT", "NULL"):
        condition = "VALUE IS NOT NULL"
    else:
        return None
    if condition is None:
        return None
    not_valid = reader.accept("NOT", "VALID")
    if not reader.at_end():
        return None
    return [
        Fact(
            "add_domain_constraint",
            schema=name[0],
            name=name[1],
            new_name=constraint,
            condition=condition,
            not_valid=not_valid,
            sql=text,
        )
    ]


def _create_function(reader: Reader, text: str) -> list[Fact] | None:
    """CREATE [OR REPLACE] FUNCTION name (args) ...: its declared volatility (VOLATILE
    unless it says IMMUTABLE or STABLE, as PostgreSQL assumes)."""
    name = reader.name()
    if name is None or reader.group() is None:
        return None
    volatility = "volatile"
    while not reader.at_end():
        word = reader.peek()
        assert word is not None
        if word.is_("IMMUTABLE", "STABLE", "VOLATILE"):
            volatility = word.text.lower()
        if word.is_symbol("("):
            reader.group()
        else:
            reader.at += 1
    return [Fact("create_function", schema=name[0], name=name[1], volatility=volatility, sql=text)]


def _create_or_replace(reader: Reader, text: str) -> list[Fact] | None:
    if reader.accept("FUNCTION"):
        return _create_function(reader, text)
    return None


def _drop_domain(reader: Reader, text: str) -> list[Fact] | None:
    """DROP DOMAIN [IF EXISTS] name [, ...] [CASCADE | RESTRICT]"""
    return _drop_list(reader, text, "drop_domain")


def _drop_extension(reader: Reader, text: str) -> list[Fact] | None:
    """DROP EXTENSION [IF EXISTS] name [, ...] [CASCADE | RESTRICT] (an extension's name
    is never schema-qualified)"""
    facts = _drop_list(reader, text, "drop_extension")
    return None if facts is None or any(f.schema for f in facts) else facts


def _rename_or_move(
    reader: Reader, text: str, scope: str, name: tuple[str | None, str]
) -> list[Fact] | None:
    """The rest of `ALTER <scope> name`: `RENAME TO new` or `SET SCHEMA s` (a schema has
    none, an index moves with its table), else None with the cursor where it was."""
    start = reader.at
    if reader.accept("RENAME", "TO"):
        kind = "rename_object"
    elif scope not in ("SCHEMA", "INDEX") and reader.accept("SET", "SCHEMA"):
        kind = "set_schema"
    else:
        return None
    target = reader.name()
    if target is None or target[0] is not None or not reader.at_end():
        reader.at = start
        return None
    return [Fact(kind, schema=name[0], name=name[1], new_name=target[1], scope=scope, sql=text)]


def _alter_object(
    scope: str, *, if_exists: bool = False, arguments: bool = False
) -> Callable[[Reader, str], list[Fact] | None]:
    """A reader of `ALTER <scope> [IF EXISTS] name [(arguments)] {RENAME TO new | SET
    SCHEMA s}`: `if_exists` where the grammar allows IF EXISTS, `arguments` for the
    argument list that picks a function among its overloads."""

    def read(reader: Reader, text: str) -> list[Fact] | None:
        if if_exists:
            reader.accept("IF", "EXISTS")
        name = reader.name()
        if name is None or (scope == "SCHEMA" and name[0] is not None):
            return None
        opening = reader.peek()
        if arguments and opening is not None and opening.is_symbol("("):
            reader.group()
        if scope == "TYPE" and reader.accept("RENAME", "VALUE"):
            return _rename_value(reader, text, name)
        return _rename_or_move(reader, text, scope, name)

    return read


def _rename_value(reader: Reader, text: str, name: tuple[str | None, str]) -> list[Fact] | None:
    """The rest of ALTER TYPE name RENAME VALUE 'old' TO 'new'."""
    old = _string(reader)
    if old is None or not reader.accept("TO"):
        return None
    new = _string(reader)
    if new is None or not reader.at_end():
        return None
    return [Fact("rename_enum_value", schema=name[0], name=name[1], values=(old, new), sql=text)]


def _string(reader: Reader) -> str | None:
    """A plain string constant ('it''s'), unquoted; None for any other word."""
    word = reader.peek()
    if word is None or not word.string or not word.text.startswith("'"):
        return None
    reader.at += 1
    return word.text[1:-1].replace("''", "'")


def _detach_partition(reader: Reader, text: str) -> list[Fact] | None:
    return _alter_table(reader, text, detach_only=True)


_UNMODELLED: _Readers = (
    (("CLUSTER",), _cluster),
    (("VACUUM",), _vacuum),
    (("REINDEX",), _reindex),
    (("CREATE", "DOMAIN"), _create_domain),
    (("ALTER", "DOMAIN"), _alter_domain),
    (("DROP", "DOMAIN"), _drop_domain),
    (("DROP", "EXTENSION"), _drop_extension),
    (("CREATE", "FUNCTION"), _create_function),
    (("CREATE", "OR", "REPLACE"), _create_or_replace),
    (("ALTER", "TABLE"), _detach_partition),
)


# -- statements sqlglot failed on -------------------------------------------------------------


def _drop_index(reader: Reader, text: str) -> list[Fact] | None:
    """DROP INDEX [CONCURRENTLY] [IF EXISTS] name [, ...] [CASCADE | RESTRICT]"""
    concurrently = reader.accept("CONCURRENTLY")
    return _drop_list(reader, text, "drop_index", concurrently=concurrently)


def _drop_sequence(reader: Reader, text: str) -> list[Fact] | None:
    """DROP SEQUENCE [IF EXISTS] name [, ...] [CASCADE | RESTRICT]"""
    return _drop_list(reader, text, "drop_sequence")


def _drop_list(reader: Reader, text: str, kind: str, **common: Any) -> list[Fact] | None:
    """The rest of a DROP of a list of named objects: one fact each."""
    found = _dropped_names(reader, arguments=False)
    if found is None:
        return None
    names, cascade = found
    return [Fact(kind, schema=s, name=n, sql=text, cascade=cascade, **common) for s, n in names]


def _drop_routines(scope: str) -> Callable[[Reader, str], list[Fact] | None]:
    """A reader of DROP {FUNCTION | PROCEDURE} [IF EXISTS] name [(args)] [, ...]
    [CASCADE | RESTRICT] (sqlglot reads one function, without a list)."""

    def read(reader: Reader, text: str) -> list[Fact] | None:
        found = _dropped_names(reader, arguments=True)
        if found is None:
            return None
        names, cascade = found
        return [
            Fact("drop_object", schema=s, name=n, scope=scope, cascade=cascade, sql=text)
            for s, n in names
        ]

    return read


def _dropped_names(
    reader: Reader, *, arguments: bool
) -> tuple[list[tuple[str | None, str]], bool] | None:
    """`[IF EXISTS] name [, ...] [CASCADE | RESTRICT]`, the rest of a DROP of a list of
    objects (each name followed by an optional `(args)` where `arguments`): the names
    and whether CASCADE is given; None if the statement does not read so."""
    reader.accept("IF", "EXISTS")
    names = []
    while True:
        name = reader.name()
        if name is None:
            return None
        opening = reader.peek() if arguments else None
        if opening is not None and opening.is_symbol("("):
            reader.group()
        names.append(name)
        if not reader.symbol(","):
            break
    cascade = reader.take("CASCADE") is not None
    if not cascade:
        reader.accept("RESTRICT")
    if not reader.at_end():  # one of CASCADE and RESTRICT at most
        return None
    return names, cascade


def _dml_target(reader: Reader) -> tuple[str | None, str] | None:
    reader.accept("ONLY")
    return reader.name()


def _insert(reader: Reader, text: str) -> list[Fact] | None:
    """INSERT INTO name ...: the table is what rules need."""
    name = _dml_target(reader)
    if name is None or reader.at_end():
        return None
    return [Fact("insert", name[1], name[0], sql=text)]


def _has_where(reader: Reader) -> bool:
    reader.until(lambda w: w.is_("WHERE"))
    return not reader.at_end()


def _update(reader: Reader, text: str) -> list[Fact] | None:
    """UPDATE [ONLY] name [[AS] alias] SET ... [WHERE ...]"""
    name = _dml_target(reader)
    if name is None:
        return None
    reader.until(lambda w: w.is_("SET"))
    if reader.at_end():
        return None
    return [Fact("update", name[1], name[0], has_where=_has_where(reader), sql=text)]


def _delete(reader: Reader, text: str) -> list[Fact] | None:
    """DELETE FROM [ONLY] name ... [WHERE ...]"""
    name = _dml_target(reader)
    if name is None:
        return None
    return [Fact("delete", name[1], name[0], has_where=_has_where(reader), sql=text)]


def _create_table(reader: Reader, text: str) -> list[Fact] | None:
    """CREATE [TEMP | UNLOGGED] TABLE [IF NOT EXISTS] name (element, ...) [options]"""
    reader.accept("IF", "NOT", "EXISTS")
    name = reader.name()
    if name is None:
        return None
    body = reader.group()
    if body is None:
        return None
    elements = Reader(body, words_of(body) or []).split()
    if elements is None:
        return None
    pk_cols: set[str] = set()
    defs: list[Reader] = []
    for element in elements:
        named = element.accept("CONSTRAINT")
        if named and element.name() is None:
            return None
        if element.accept("PRIMARY", "KEY"):
            cols = element.group()
            if cols is None:
                return None
            pk_cols.update(c.strip().strip('"') for c in cols.split(","))
        elif element.take(*_TABLE_CONSTRAINTS) is None:
            if named:
                return None
            defs.append(element)
    columns = []
    for element in defs:
        column = _column(element, pk_cols)
        if column is None:
            return None
        columns.append(column)
    return [Fact("create_table", name[1], name[0], columns=tuple(columns), sql=text)]


_TABLE_CONSTRAINTS = ("UNIQUE", "CHECK", "FOREIGN", "EXCLUDE", "LIKE")
_COLUMN_CONSTRAINTS = (
    "CONSTRAINT",
    "NOT",
    "NULL",
    "DEFAULT",
    "PRIMARY",
    "UNIQUE",
    "REFERENCES",
    "CHECK",
    "GENERATED",
    "COLLATE",
    "COMPRESSION",
    "STORAGE",
    "DEFERRABLE",
    "INITIALLY",
)


_IDENT = r'(?:"(?:[^"]|"")+"|[^\W\d][\w$]*)'
#: a type as PostgreSQL's grammar allows it: the multi-word names, or a (qualified) name,
#: then modifiers and array bounds; anything else is not a type
_TYPE = re.compile(
    rf"""(?:(?:bit|character|char|national\s+character|national\s+char|nchar)\s+varying
        |double\s+precision
        |(?:time|timestamp)(?:\s*\(\s*\d+\s*\))?\s+with(?:out)?\s+time\s+zone
        |interval(?:\s+(?:year|month|day|hour|minute|second)
            (?:\s+to\s+(?:month|hour|minute|second))?)?
        |{_IDENT}(?:\s*\.\s*{_IDENT})*)
    (?:\s*\([^()]*\))?
    (?:\s*\[\s*\d*\s*\])*
    (?:\s+array(?:\s*\[\s*\d*\s*\])?)?""",
    re.IGNORECASE | re.VERBOSE | re.DOTALL,
)


def _column(reader: Reader, pk_cols: set[str]) -> ColumnFact | None:
    """name type [constraint ...] of CREATE TABLE and ADD COLUMN."""
    word = reader.peek()
    if word is None or not word.is_name:
        return None
    reader.at += 1
    type_text = reader.until(lambda w: w.is_(*_COLUMN_CONSTRAINTS))
    if not _TYPE.fullmatch(type_text):
        return None
    column: dict[str, Any] = {"primary_key": word.text in pk_cols}
    while not reader.at_end():
        if reader.accept("CONSTRAINT"):
            if reader.name() is None:
                return None
        elif reader.accept("NOT", "NULL"):
            column["nullable"] = False
        elif reader.accept("NULL"):
            column["nullable"] = True
        elif reader.accept("DEFAULT"):
            column["default"] = reader.until(lambda w: w.is_(*_COLUMN_CONSTRAINTS))
        elif reader.accept("PRIMARY", "KEY"):
            column["primary_key"] = True
        elif reader.accept("UNIQUE"):
            column["unique"] = True
            if not reader.accept("NULLS", "NOT", "DISTINCT"):
                reader.accept("NULLS", "DISTINCT")
        elif reader.accept("REFERENCES"):
            column["inline_reference"] = True
            if not _references(reader):
                return None
        elif reader.accept("CHECK"):
            if reader.group() is None:
                return None
        elif reader.accept("GENERATED"):
            if not _generated(reader, column):
                return None
        elif reader.accept("COLLATE") or reader.accept("COMPRESSION") or reader.accept("STORAGE"):
            if reader.name() is None:
                return None
        elif reader.accept("DEFERRABLE") or reader.accept("NOT", "DEFERRABLE"):
            pass
        elif reader.accept("INITIALLY"):
            if reader.take("DEFERRED", "IMMEDIATE") is None:
                return None
        else:
            return None
    if column["primary_key"]:
        column["nullable"] = False
    type_ = type_from_text(type_text)
    if type_.name in ("integer", "bigint", "smallint") and type_text.upper().endswith("SERIAL"):
        column["generated"] = True
    return ColumnFact(word.text, type_, **column)


def _references(reader: Reader) -> bool:
    """The rest of an inline REFERENCES: table [(column)] [MATCH ...] [ON DELETE/UPDATE
    action] ... (SET NULL and SET DEFAULT there are no column constraints)."""
    if reader.name() is None:
        return False
    reader.group()
    while True:
        if reader.accept("MATCH"):
            if reader.take("FULL", "PARTIAL", "SIMPLE") is None:
                return False
        elif reader.accept("ON"):
            if reader.take("DELETE", "UPDATE") is None:
                return False
            if reader.accept("SET"):
                if reader.take("NULL", "DEFAULT") is None:
                    return False
                reader.group()
            elif not (
                reader.accept("NO", "ACTION") or reader.take("RESTRICT", "CASCADE") is not None
            ):
                return False
        else:
            return True


def _generated(reader: Reader, column: dict[str, Any]) -> bool:
    """GENERATED {ALWAYS | BY DEFAULT} AS IDENTITY [(...)], or
    GENERATED ALWAYS AS (expression) [STORED | VIRTUAL]"""
    if not (reader.accept("ALWAYS") or reader.accept("BY", "DEFAULT")):
        return False
    if not reader.accept("AS"):
        return False
    if reader.accept("IDENTITY"):
        column["generated"] = True
        reader.group()
        return True
    expression = reader.group()
    if expression is None:
        return False
    column["computed"] = expression
    if reader.accept("STORED"):
        column["stored"] = True
    elif reader.accept("VIRTUAL"):
        column["stored"] = False
    return True


def _alter_table(reader: Reader, text: str, *, detach_only: bool = False) -> list[Fact] | None:
    """ALTER TABLE [IF EXISTS] [ONLY] name action [, ...] for the actions rules read;
    with `detach_only`, only DETACH PARTITION (sqlglot reads the others)."""
    reader.accept("IF", "EXISTS")
    reader.accept("ONLY")
    name = reader.name()
    if name is None or reader.at_end():
        return None
    common: dict[str, Any] = {"table": name[1], "schema": name[0], "sql": text}
    if reader.accept("DETACH", "PARTITION"):
        return _detach(reader, common)
    if detach_only:
        return None
    if reader.accept("SET", "SCHEMA"):
        target = reader.name()
        if target is None or target[0] is not None or not reader.at_end():
            return None
        return [Fact("set_schema", scope="TABLE", new_name=target[1], **common)]
    if reader.accept("RENAME", "CONSTRAINT"):
        return _rename_constraint(reader, common)
    parts = reader.split()
    if parts is None:
        return None
    facts: list[Fact] = []
    for part in parts:
        fact = _action(part, common)
        if fact is None:
            return None
        facts.append(fact)
    return facts


def _detach(reader: Reader, common: dict[str, Any]) -> list[Fact] | None:
    partition = reader.name()
    if partition is None:
        return None
    concurrently = reader.accept("CONCURRENTLY")
    finalize = not concurrently and reader.accept("FINALIZE")
    if not reader.at_end():
        return None
    if finalize:  # ends a concurrent detach that was interrupted
        return [Fact("other_ddl", name=partition[1], **common)]
    return [Fact("detach_partition", name=partition[1], concurrently=concurrently, **common)]


def _rename_constraint(reader: Reader, common: dict[str, Any]) -> list[Fact] | None:
    """The rest of ALTER TABLE name RENAME CONSTRAINT old TO new."""
    old = reader.name()
    if old is None or old[0] is not None or not reader.accept("TO"):
        return None
    new = reader.name()
    if new is None or new[0] is not None or not reader.at_end():
        return None
    return [Fact("rename_constraint", name=old[1], new_name=new[1], **common)]


def _generation(reader: Reader) -> str | None:
    """ALWAYS or BY DEFAULT, as "always" / "by default"."""
    if reader.accept("ALWAYS"):
        return "always"
    return "by default" if reader.accept("BY", "DEFAULT") else None


_SEQUENCE_OPTIONS = ("INCREMENT", "MINVALUE", "MAXVALUE", "NO", "START", "CACHE", "CYCLE")


def _identity_options(reader: Reader) -> bool:
    """The rest of an identity column's ALTER: `SET <sequence option>` and `RESTART [[WITH]
    n]`, any number of them; False when something else is there."""
    while not reader.at_end():
        if reader.accept("RESTART"):
            reader.accept("WITH")
            value = reader.until(lambda w: w.is_("SET", "RESTART"))
            if value and not _INTEGER.fullmatch(value):
                return False
            continue
        if not reader.accept("SET"):
            return False
        word = reader.peek()
        if word is None or not word.is_(*_SEQUENCE_OPTIONS):
            return False
        reader.until(lambda w: w.is_("SET", "RESTART"))
    return True


_INTEGER = re.compile(r"[+-]?\s*\d+")


def _identity(reader: Reader, column: str, common: dict[str, Any]) -> Fact | None:
    """ALTER COLUMN c {ADD GENERATED ... AS IDENTITY [(options)] | SET GENERATED ...
    [options] | DROP IDENTITY [IF EXISTS] | options}, the cursor after the column."""
    if reader.accept("ADD", "GENERATED"):
        generation = _generation(reader)
        if generation is None or not reader.accept("AS", "IDENTITY"):
            return None
        reader.group()
        if not reader.at_end():
            return None
        return Fact("add_identity", column=column, generation=generation, **common)
    if reader.accept("DROP", "IDENTITY"):
        reader.accept("IF", "EXISTS")
        return Fact("drop_identity", column=column, **common) if reader.at_end() else None
    if reader.accept("SET", "GENERATED"):
        generation = _generation(reader)
        if generation is None or not _identity_options(reader):
            return None
        return Fact("set_identity", column=column, generation=generation, **common)
    if reader.peek() is not None and _identity_options(reader):
        return Fact("other_ddl", column=column, **common)  # RESTART, SET INCREMENT ...
    return None


def _action(reader: Reader, common: dict[str, Any]) -> Fact | None:
    if reader.accept("ADD"):
        reader.accept("COLUMN")
        reader.accept("IF", "NOT", "EXISTS")
        column = _column(reader, set())
        if column is None:
            return None
        return Fact("add_column", column=column.name, columns=(column,), **common)
    if reader.accept("DROP"):
        reader.accept("COLUMN")
        reader.accept("IF", "EXISTS")
        name = reader.name()
        if name is None or not _end(reader, "CASCADE", "RESTRICT"):
            return None
        return Fact("drop_column", column=name[1], **common)
    if reader.accept("ALTER"):
        reader.accept("COLUMN")
        name = reader.name()
        if name is None:
            return None
        target = name[1]
        if reader.accept("SET", "DATA", "TYPE") or reader.accept("TYPE"):
            type_text = reader.until(lambda w: w.is_("COLLATE", "USING"))
            return Fact("alter_type", column=target, new_type=type_from_text(type_text), **common)
        if reader.accept("SET", "NOT", "NULL") and reader.at_end():
            return Fact("set_not_null", column=target, **common)
        if reader.accept("DROP", "NOT", "NULL") and reader.at_end():
            return Fact("drop_not_null", column=target, **common)
        if reader.accept("DROP", "DEFAULT") and reader.at_end():
            return Fact("drop_default", column=target, **common)
        if reader.accept("SET", "DEFAULT"):
            default = reader.until(lambda w: False)
            return Fact("set_default", column=target, default=default, **common)
        if reader.accept("DROP", "EXPRESSION"):
            reader.accept("IF", "EXISTS")
            return Fact("drop_expression", column=target, **common) if reader.at_end() else None
        return _identity(reader, target, common)
    return None


_FALLBACK: _Readers = (
    (("DROP", "INDEX"), _drop_index),
    (("DROP", "SEQUENCE"), _drop_sequence),
    (("DROP", "FUNCTION"), _drop_routines("FUNCTION")),
    (("DROP", "PROCEDURE"), _drop_routines("PROCEDURE")),
    (("INSERT", "INTO"), _insert),
    (("UPDATE",), _update),
    (("DELETE", "FROM"), _delete),
    (("CREATE", "TABLE"), _create_table),
    (("CREATE", "UNLOGGED", "TABLE"), _create_table),
    (("CREATE", "TEMP", "TABLE"), _create_table),
    (("CREATE", "TEMPORARY", "TABLE"), _create_table),
    (("ALTER", "TABLE"), _alter_table),
    (("ALTER", "TYPE"), _alter_object("TYPE")),
    (("ALTER", "SEQUENCE"), _alter_object("SEQUENCE", if_exists=True)),
    (("ALTER", "VIEW"), _alter_object("VIEW", if_exists=True)),
    (("ALTER", "MATERIALIZED", "VIEW"), _alter_object("MATERIALIZED VIEW", if_exists=True)),
    (("ALTER", "INDEX"), _alter_object("INDEX", if_exists=True)),
    (("ALTER", "FUNCTION"), _alter_object("FUNCTION", arguments=True)),
    (("ALTER", "PROCEDURE"), _alter_object("PROCEDURE", arguments=True)),
    (("ALTER", "SCHEMA"), _alter_object("SCHEMA")),
)
