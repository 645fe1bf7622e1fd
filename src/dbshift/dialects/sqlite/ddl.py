"""A SQLite table's own CREATE TABLE text, read into spans and edited in place.

A rebuild must create the table that exists, with one change. SQLite keeps most of a
table's definition only in that text (`COLLATE`, `AUTOINCREMENT`, `STRICT`, `WITHOUT
ROWID`, `GENERATED ... STORED`, conflict clauses, an `INT PRIMARY KEY` that is no rowid
alias, a column without a type, comments), so the rebuild does not restate the table
from a model: it reads the text into its definitions and clauses (the grammar of
https://www.sqlite.org/lang_createtable.html), and `edit` rewrites only the spans the
change touches. Everything else is copied character for character.

`edit` compares the table before and after the change (the snapshot model): a column
dropped removes its definition, a column added is appended after the last one, a
changed type, nullability or default rewrites that clause of that column, a constraint
dropped removes its clause (inline or table-level), a constraint added is appended as a
table constraint. What it cannot do faithfully it refuses, naming the table and what
would be lost, before anything runs.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect

from dbshift.dialects.base import Constraint, column_spec, sa_constraint, type_sql
from dbshift.dialects.sqlite.introspect import (
    _CONSTRAINT_WORDS,
    _closing,
    _Token,
    _tokens,
    _unquote,
)
from dbshift.errors import MigrationError
from dbshift.schema.snapshot import Check, Column, ForeignKey, PrimaryKey, Table, Unique

#: the only column types a STRICT table accepts (https://www.sqlite.org/stricttables.html)
STRICT_TYPES = frozenset({"INT", "INTEGER", "REAL", "TEXT", "BLOB", "ANY"})

#: words that end a column's type name and start one of its constraints
_CLAUSE_START = frozenset(
    {
        "CONSTRAINT",
        "PRIMARY",
        "NOT",
        "NULL",
        "UNIQUE",
        "CHECK",
        "DEFAULT",
        "COLLATE",
        "REFERENCES",
        "GENERATED",
        "AS",
    }
)
_LITERAL = re.compile(
    r"[+-]?\s*(?:0[xX][0-9a-fA-F]+|(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?)(?![\w$])"
    r"|[xX]'[0-9a-fA-F]*'"
)


class Unfaithful(MigrationError):
    """The rebuild would change the table beyond what was asked, or cannot read it."""


@dataclasses.dataclass
class Clause:
    """One constraint of a column, or one table constraint, with its span in the text
    (a `CONSTRAINT name` before it included)."""

    kind: str  # primary, notnull, null, unique, check, default, collate, references, generated
    start: int
    end: int
    name: str | None = None
    #: the columns it is about: its own column inline, the listed ones in a table constraint
    columns: tuple[str, ...] = ()
    #: a CHECK's or generated column's expression, a default's value
    text: str = ""
    ref_table: str | None = None
    autoincrement: bool = False
    stored: bool = False


@dataclasses.dataclass
class Definition:
    """One comma-separated item of the table's body: a column, or table constraints."""

    start: int
    end: int
    clauses: list[Clause]
    column: str | None = None  # None for table constraints
    name_end: int = 0
    type_span: tuple[int, int] | None = None


@dataclasses.dataclass
class CreateTable:
    """The text of one CREATE TABLE statement, read into spans."""

    sql: str
    name_span: tuple[int, int]
    body_start: int  # just after "("
    body_end: int  # at ")"
    items: list[Definition]
    strict: bool
    without_rowid: bool

    @property
    def columns(self) -> list[Definition]:
        return [i for i in self.items if i.column is not None]

    def column(self, name: str) -> Definition | None:
        wanted = name.lower()
        return next((c for c in self.columns if (c.column or "").lower() == wanted), None)

    @property
    def autoincrement(self) -> bool:
        return any(c.autoincrement for i in self.items for c in i.clauses)

    def name_text(self) -> str:
        """The table's name as the text writes it."""
        return self.sql[self.name_span[0] : self.name_span[1]]


@dataclasses.dataclass(frozen=True)
class Edited:
    """A CREATE TABLE text after `edit`: edits never touch the head, so the table's
    name is where it was in the text read."""

    sql: str
    name_span: tuple[int, int]

    def creating(self, name_sql: str) -> str:
        """The statement creating the table under `name_sql` (quoted, maybe qualified)."""
        start, end = self.name_span
        return f"{self.sql[:start]}{name_sql}{self.sql[end:]}"


def read(sql: str, table: str) -> CreateTable:
    """`sql` read into definitions and clauses; `Unfaithful` when it is no plain
    CREATE TABLE (a virtual table, say) or has a clause this reader does not know."""
    sql = sql.strip().rstrip(";").rstrip()
    tokens = _tokens(sql)
    words = [t.word() for t in tokens]
    if words[:2] != ["CREATE", "TABLE"] and words[:3] not in (
        ["CREATE", "TEMP", "TABLE"],
        ["CREATE", "TEMPORARY", "TABLE"],
    ):
        what = "a virtual table" if "VIRTUAL" in words[:3] else "not a plain CREATE TABLE"
        raise _unreadable(table, what)
    at = words.index("TABLE") + 1
    if words[at : at + 3] == ["IF", "NOT", "EXISTS"]:
        at += 3
    open_at = next((i for i in range(at, len(tokens)) if tokens[i].text == "("), None)
    if open_at is None or open_at == at:
        raise _unreadable(table, "no column list")
    close_at = _closing(tokens, open_at)
    if tokens[close_at].text != ")":
        raise _unreadable(table, "an unclosed column list")
    parts = _parts(tokens[open_at + 1 : close_at])
    items = [_definition(sql, part, table) for part in parts]
    # each item ends before the next one's comma, the last one before ")"
    limits = [*(p[0].start for p in parts[1:] if p), tokens[close_at].start]
    for item, limit in zip(items, limits, strict=False):
        item.end = _with_comments(sql, item.end, limit)
    if not items or any(not i.clauses and i.column is None for i in items):
        raise _unreadable(table, "an empty definition")
    options = {t.word() for t in tokens[close_at + 1 :]}
    return CreateTable(
        sql=sql,
        name_span=(tokens[at].start, tokens[open_at - 1].end),
        body_start=tokens[open_at].end,
        body_end=tokens[close_at].start,
        items=items,
        strict="STRICT" in options,
        without_rowid="ROWID" in options,
    )


_BLOCK_COMMENT = re.compile(r"\s*/\*.*?(?:\*/|$)", re.DOTALL)


def _with_comments(sql: str, end: int, limit: int) -> int:
    """An item's end moved past the /* comments */ that close it, so that what is
    appended to the item comes after them; never past a -- comment, which would
    swallow it."""
    while (comment := _BLOCK_COMMENT.match(sql, end, limit)) is not None:
        end = comment.end()
    return end


def _unreadable(table: str, what: str) -> Unfaithful:
    return Unfaithful(
        f"cannot rebuild table {table}: its CREATE TABLE text has {what}",
        hint="SQLite can only make this change by rebuilding the table; "
        "write the rebuild with op.execute()",
    )


def _parts(tokens: list[_Token]) -> list[list[_Token]]:
    parts: list[list[_Token]] = [[]]
    depth = 0
    for token in tokens:
        if token.text == "," and depth == 0:
            parts.append([])
            continue
        depth += (token.text == "(") - (token.text == ")")
        parts[-1].append(token)
    return parts


class _Reader:
    """Reads the clauses of one definition, token by token."""

    def __init__(self, sql: str, tokens: list[_Token], table: str) -> None:
        self.sql, self.tokens, self.table, self.i = sql, tokens, table, 0

    def word(self, ahead: int = 0) -> str:
        at = self.i + ahead
        return self.tokens[at].word() if at < len(self.tokens) else ""

    def text(self, ahead: int = 0) -> str:
        at = self.i + ahead
        return self.tokens[at].text if at < len(self.tokens) else ""

    def done(self) -> bool:
        return self.i >= len(self.tokens)

    def take(self, *words: str) -> bool:
        """Consume `words` if they come next."""
        if all(self.word(k) == w for k, w in enumerate(words)):
            self.i += len(words)
            return True
        return False

    def expect(self, *words: str) -> None:
        if not self.take(*words):
            raise self.unknown()

    def unknown(self) -> Unfaithful:
        near = self.text() or "the end"
        return _unreadable(self.table, f"a clause this rebuild does not know (at {near!r})")

    def group(self) -> tuple[str, tuple[str, ...]]:
        """A parenthesized group: its inner text and the first token of each item."""
        if self.text() != "(":
            raise self.unknown()
        close = _closing(self.tokens, self.i)
        inner = self.tokens[self.i + 1 : close]
        text = self.sql[inner[0].start : inner[-1].end].strip() if inner else ""
        names = tuple(_unquote(p[0]) for p in _parts(inner) if p)
        self.i = close + 1
        return text, names

    def name(self) -> str:
        """The next token, unquoted: a name, or the one word after a keyword."""
        if self.done():
            raise self.unknown()
        self.i += 1
        return _unquote(self.tokens[self.i - 1])

    def constraint_name(self) -> str | None:
        """The name of `CONSTRAINT name`, if that comes next."""
        return self.name() if self.take("CONSTRAINT") else None

    def conflict(self) -> None:
        if self.take("ON", "CONFLICT"):
            self.name()

    def last_end(self) -> int:
        return self.tokens[self.i - 1].end

    def default_value(self) -> None:
        """`(expr)`, a signed number or blob literal (several tokens), or one token."""
        if self.text() == "(":
            self.group()
            return
        if self.done():
            raise self.unknown()
        literal = _LITERAL.match(self.sql, self.tokens[self.i].start)
        if literal is None:
            self.i += 1
            return
        while not self.done() and self.tokens[self.i].start < literal.end():
            self.i += 1

    def references(self, clause: Clause) -> None:
        """`REFERENCES t [(cols)]` and its actions, MATCH and deferrability."""
        self.expect("REFERENCES")
        clause.ref_table = self.name().lower()
        if self.text() == "(":
            self.group()
        while not self.done():
            if self.take("ON"):
                if not (self.take("DELETE") or self.take("UPDATE")):
                    raise self.unknown()
                if not any(self.take(*action) for action in _ACTIONS):
                    raise self.unknown()
            elif self.take("MATCH"):
                self.name()
            elif self.take("NOT", "DEFERRABLE") or self.take("DEFERRABLE"):
                if self.take("INITIALLY"):
                    self.name()
            else:
                return


_ACTIONS = (("SET", "NULL"), ("SET", "DEFAULT"), ("CASCADE",), ("RESTRICT",), ("NO", "ACTION"))


def _definition(sql: str, tokens: list[_Token], table: str) -> Definition:
    if not tokens:
        return Definition(0, 0, [])
    reader = _Reader(sql, tokens, table)
    if tokens[0].word() in _CONSTRAINT_WORDS:
        return Definition(tokens[0].start, tokens[-1].end, _table_clauses(reader))
    column = _unquote(tokens[0])
    reader.i = 1
    type_start = reader.i
    while not reader.done() and reader.word() not in _CLAUSE_START:
        if reader.text() == "(":
            reader.group()
        else:
            reader.i += 1
    type_span = (tokens[type_start].start, reader.last_end()) if reader.i > type_start else None
    return Definition(
        tokens[0].start,
        tokens[-1].end,
        _column_clauses(reader, column),
        column=column,
        name_end=tokens[0].end,
        type_span=type_span,
    )


def _column_clauses(reader: _Reader, column: str) -> list[Clause]:
    clauses: list[Clause] = []
    while not reader.done():
        start = reader.tokens[reader.i].start
        name = reader.constraint_name()
        if reader.done():  # a name alone: SQLite accepts it and ignores it
            break
        clause = Clause("", start, 0, name, (column,))
        if reader.take("PRIMARY", "KEY"):
            clause.kind = "primary"
            _ = reader.take("ASC") or reader.take("DESC")
            reader.conflict()
            clause.autoincrement = reader.take("AUTOINCREMENT")
        elif reader.take("NOT", "NULL"):
            clause.kind = "notnull"
            reader.conflict()
        elif reader.take("NULL"):
            clause.kind = "null"
            reader.conflict()
        elif reader.take("UNIQUE"):
            clause.kind = "unique"
            reader.conflict()
        elif reader.take("CHECK"):
            clause.kind = "check"
            clause.text = reader.group()[0]
        elif reader.take("DEFAULT"):
            clause.kind = "default"
            value_at = reader.i
            reader.default_value()
            clause.text = reader.sql[reader.tokens[value_at].start : reader.last_end()]
        elif reader.take("COLLATE"):
            clause.kind = "collate"
            reader.name()
        elif reader.word() == "REFERENCES":
            clause.kind = "references"
            reader.references(clause)
        elif reader.take("GENERATED", "ALWAYS", "AS") or reader.take("AS"):
            clause.kind = "generated"
            clause.text = reader.group()[0]
            clause.stored = reader.take("STORED")
            reader.take("VIRTUAL")
        else:
            raise reader.unknown()
        clause.end = reader.last_end()
        clauses.append(clause)
    return clauses


def _table_clauses(reader: _Reader) -> list[Clause]:
    """Table constraints; SQLite accepts several without a comma between them."""
    clauses: list[Clause] = []
    while not reader.done():
        start = reader.tokens[reader.i].start
        name = reader.constraint_name()
        if reader.done():
            break
        clause = Clause("", start, 0, name)
        if reader.take("PRIMARY", "KEY") or reader.take("UNIQUE"):
            clause.kind = "primary" if reader.word(-1) == "KEY" else "unique"
            text, clause.columns = reader.group()
            clause.autoincrement = re.search(r"\bAUTOINCREMENT\b", text, re.I) is not None
            reader.conflict()
        elif reader.take("CHECK"):
            clause.kind = "check"
            clause.text = reader.group()[0]
            reader.conflict()
        elif reader.take("FOREIGN", "KEY"):
            clause.kind = "references"
            clause.columns = reader.group()[1]
            reader.references(clause)
        else:
            raise reader.unknown()
        clause.end = reader.last_end()
        clauses.append(clause)
    return clauses


# -- editing -------------------------------------------------------------------------


@dataclasses.dataclass(order=True)
class _Edit:
    start: int
    end: int
    order: int  # insertions at one place keep the order they were made in
    text: str = dataclasses.field(compare=False)


class _Editor:
    def __init__(self, parsed: CreateTable, table: str, dialect: Dialect) -> None:
        self.parsed, self.table, self.dialect = parsed, table, dialect
        self.edits: list[_Edit] = []
        self.removed: set[int] = set()  # indexes of items removed whole
        self.removed_clauses: set[int] = set()  # id() of clauses removed

    def put(self, start: int, end: int, text: str) -> None:
        self.edits.append(_Edit(start, end, len(self.edits), text))

    def refuse(self, what: str, hint: str) -> Unfaithful:
        return Unfaithful(f"cannot rebuild table {self.table}: {what}", hint=hint)

    def remove_clause(self, item: Definition, clause: Clause) -> None:
        """Remove one clause; a table-constraint item left with none goes whole."""
        if id(clause) in self.removed_clauses:
            return
        self.removed_clauses.add(id(clause))
        if item.column is None and all(id(c) in self.removed_clauses for c in item.clauses):
            self.removed.add(self.parsed.items.index(item))
            return
        # the spaces before it go with it (never a newline, which may end a -- comment);
        # first on its line, the spaces after it instead, so the indentation stays
        sql, start, end = self.parsed.sql, clause.start, clause.end
        while start > 0 and sql[start - 1] in " \t":
            start -= 1
        if start == 0 or sql[start - 1] in "\r\n(,":
            start = clause.start
            while end < item.end and sql[end] in " \t":
                end += 1
        self.put(start, end, "")

    def append(self, after: Definition, text: str) -> None:
        """A new item after `after`, spaced as the items before it are."""
        index = self.parsed.items.index(after)
        begin = self.parsed.items[index - 1].end if index else self.parsed.body_start
        lead = self.parsed.sql[begin : after.start].lstrip(",")
        lead = lead if lead and not lead.strip() else " "
        self.put(after.end, after.end, f",{lead}{text}")

    def render(self) -> str:
        """The text with every edit made; edits inside a removed item are moot."""
        items, sql = self.parsed.items, self.parsed.sql
        edits = [
            e
            for e in self.edits
            if not any(items[r].start <= e.start and e.end <= items[r].end for r in self.removed)
        ]
        kept = [i for i in range(len(items)) if i not in self.removed]
        if kept[0]:  # the leading items go, up to the first one kept
            edits.append(_Edit(items[0].start, items[kept[0]].start, -1, ""))
        edits += [
            _Edit(items[r - 1].end, items[r].end, -1, "") for r in self.removed if r > kept[0]
        ]
        out, at = [], 0
        for change in sorted(edits):
            assert change.start >= at, "overlapping edits"
            out += [sql[at : change.start], change.text]
            at = change.end
        out.append(sql[at:])
        return "".join(out)


def edit(parsed: CreateTable, old: Table, new: Table, dialect: Dialect) -> Edited:
    """The CREATE TABLE text of `parsed` with the change from `old` to `new` made: the
    same statement (table name included) but for the spans that change touches."""
    editor = _Editor(parsed, old.key, dialect)
    if old.options != new.options:
        raise editor.refuse(
            "its table options would change", hint="dbshift does not change table options"
        )
    _check_columns(editor, parsed, old, new)
    _edit_columns(editor, parsed, old, new)
    _edit_constraints(editor, parsed, old, new)
    return Edited(editor.render(), parsed.name_span)


def _check_columns(editor: _Editor, parsed: CreateTable, old: Table, new: Table) -> None:
    if not new.columns:
        raise editor.refuse("it would have no column", hint="drop the table instead")
    for column in old.columns:
        if parsed.column(column.name) is None:
            raise editor.refuse(
                f"column {column.name} is not in its CREATE TABLE text",
                hint="write the rebuild with op.execute()",
            )
    dropped = [c.name for c in old.columns if new.column(c.name) is None]
    for item in parsed.columns:
        for clause in item.clauses:
            if clause.kind != "generated" or item.column in dropped:
                continue
            uses = [d for d in dropped if Check(None, clause.text).uses(d)]
            if uses:
                raise editor.refuse(
                    f"generated column {item.column} uses column {uses[0]}",
                    hint=f"drop or change column {item.column} first",
                )
    if parsed.without_rowid and new.primary_key is None:
        raise editor.refuse(
            "a WITHOUT ROWID table needs a primary key", hint="keep a primary key on the table"
        )


def _edit_columns(editor: _Editor, parsed: CreateTable, old: Table, new: Table) -> None:
    items = parsed.items
    for column in old.columns:
        if new.column(column.name) is None:
            item = parsed.column(column.name)
            assert item is not None
            if any(c.autoincrement for c in item.clauses):
                raise _autoincrement_lost(editor, f"column {column.name} holds it")
            editor.removed.add(items.index(item))
    for column in new.columns:
        before = old.column(column.name)
        if before is None:
            _add_column(editor, parsed, new, column)
        elif before != column:
            item = parsed.column(column.name)
            assert item is not None
            _change_column(editor, parsed, item, before, column)


def _add_column(editor: _Editor, parsed: CreateTable, new: Table, column: Column) -> None:
    spec = column_spec(editor.dialect, Table(new.name, (column,), schema=new.schema), column.name)
    _check_strict(editor, parsed, column.name, type_sql(editor.dialect, column.type))
    last = [i for i in parsed.columns if parsed.items.index(i) not in editor.removed][-1]
    editor.append(last, spec)


def _check_strict(editor: _Editor, parsed: CreateTable, column: str, type_text: str) -> None:
    base = re.split(r"\s+COLLATE\s+", type_text, flags=re.I)[0].strip().upper()
    if parsed.strict and base not in STRICT_TYPES:
        raise editor.refuse(
            f"STRICT allows no type {base} (column {column})",
            hint="a STRICT table takes INT, INTEGER, REAL, TEXT, BLOB or ANY "
            "(sa.Integer, sa.REAL, sa.Text, sa.LargeBinary)",
        )


def _change_column(
    editor: _Editor, parsed: CreateTable, item: Definition, old: Column, new: Column
) -> None:
    name = new.name
    if old.computed != new.computed or old.identity != new.identity:
        raise editor.refuse(
            f"column {name} would change how it is generated",
            hint="drop the column and add it again",
        )
    if new.type is not old.type:
        _change_type(editor, parsed, item, new)
    if new.nullable != old.nullable:
        if new.nullable:
            found = [c for c in item.clauses if c.kind == "notnull"]
            if not found:
                raise editor.refuse(
                    f"column {name} is NOT NULL without a NOT NULL of its own "
                    "(a WITHOUT ROWID primary key)",
                    hint="keep the column NOT NULL",
                )
            for clause in found:
                editor.remove_clause(item, clause)
        else:
            editor.put(item.end, item.end, " NOT NULL")
    if new.server_default != old.server_default:
        _change_default(editor, item, new)


def _change_type(editor: _Editor, parsed: CreateTable, item: Definition, new: Column) -> None:
    text = type_sql(editor.dialect, new.type)
    _check_strict(editor, parsed, new.name, text)
    if item.type_span is not None:
        pk = next((c for c in item.clauses if c.autoincrement), None)
        if pk is not None and text.upper() != "INTEGER":
            raise _autoincrement_lost(editor, f"column {new.name} would no longer be INTEGER")
        editor.put(*item.type_span, text)
    else:
        editor.put(item.name_end, item.name_end, f" {text}")
    if getattr(new.type, "collation", None):
        for clause in item.clauses:
            if clause.kind == "collate":
                editor.remove_clause(item, clause)


def _change_default(editor: _Editor, item: Definition, new: Column) -> None:
    """Rewrite the DEFAULT clause in place (SQLAlchemy's spelling of the new one), add
    it at the end of the column when there was none, or remove it."""
    found = [c for c in item.clauses if c.kind == "default"]
    text = ""
    if new.server_default is not None:
        spec = column_spec(editor.dialect, Table("t", (new,)), new.name)
        shell = read(f"CREATE TABLE t ({spec})", editor.table)
        default = next(c for c in shell.items[0].clauses if c.kind == "default")
        text = shell.sql[default.start : default.end]
    if not found:
        editor.put(item.end, item.end, f" {text}" if text else "")
        return
    if text:
        editor.put(found[0].start, found[0].end, text)
    else:
        editor.remove_clause(item, found[0])
    for clause in found[1:]:
        editor.remove_clause(item, clause)


def _autoincrement_lost(editor: _Editor, why: str) -> Unfaithful:
    return editor.refuse(
        f"it would lose AUTOINCREMENT ({why})",
        hint="AUTOINCREMENT needs an INTEGER PRIMARY KEY column: keep it, "
        "or create a new table and copy the rows with op.execute()",
    )


def _edit_constraints(editor: _Editor, parsed: CreateTable, old: Table, new: Table) -> None:
    gone: list[Constraint] = []
    added: list[Constraint] = []
    if old.primary_key != new.primary_key:
        gone += [old.primary_key] if old.primary_key else []
        added += [new.primary_key] if new.primary_key else []
    for before, after in (
        (old.uniques, new.uniques),
        (old.checks, new.checks),
        (old.foreign_keys, new.foreign_keys),
    ):
        gone += _missing(before, after)
        added += _missing(after, before)
    dropped = {c.name.lower() for c in old.columns if new.column(c.name) is None}
    for constraint in gone:
        _remove_constraint(editor, parsed, constraint, dropped)
    _remove_users(editor, parsed, dropped)
    last = parsed.items[max(i for i in range(len(parsed.items)) if i not in editor.removed)]
    for constraint in added:
        editor.append(last, _constraint_sql(editor, new, constraint))


def _remove_users(editor: _Editor, parsed: CreateTable, dropped: set[str]) -> None:
    """Constraints the text has on a dropped column, whether or not the model knew them
    (a constraint after another without a comma, say): they go with the column."""
    for item in parsed.items:
        for clause in item.clauses:
            if clause.kind not in ("unique", "references", "check") or not dropped:
                continue
            if clause.kind == "check":
                uses = any(Check(None, clause.text).uses(d) for d in dropped)
            else:
                uses = any(c.lower() in dropped for c in clause.columns)
            if uses:
                editor.remove_clause(item, clause)


def _missing(these: tuple[Any, ...], others: tuple[Any, ...]) -> list[Any]:
    rest = list(others)
    missing = []
    for item in these:
        if item in rest:
            rest.remove(item)
        else:
            missing.append(item)
    return missing


def _remove_constraint(
    editor: _Editor, parsed: CreateTable, constraint: Constraint, dropped: set[str]
) -> None:
    for index, item in enumerate(parsed.items):
        for clause in item.clauses:
            if _is(clause, constraint):
                if isinstance(constraint, PrimaryKey) and clause.autoincrement:
                    raise _autoincrement_lost(editor, "its primary key would change")
                if index not in editor.removed:
                    editor.remove_clause(item, clause)
                return
    if any(c.lower() in dropped for c in getattr(constraint, "columns", ())):
        return  # it went with its column
    what = _KIND_WORDS[type(constraint)] + (f" {constraint.name}" if constraint.name else "")
    raise editor.refuse(
        f"its {what} is not in its CREATE TABLE text",
        hint="write the rebuild with op.execute()",
    )


_KIND_WORDS = {
    PrimaryKey: "primary key",
    Unique: "unique constraint",
    Check: "check constraint",
    ForeignKey: "foreign key",
}


def _lower(names: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(n.lower() for n in names)


def _is(clause: Clause, constraint: Constraint) -> bool:
    """Whether `clause` is the text of the model's `constraint`."""
    if constraint.name is not None and clause.name != constraint.name:
        return False
    if isinstance(constraint, PrimaryKey):
        return clause.kind == "primary"
    if isinstance(constraint, Check):
        return clause.kind == "check" and clause.text.strip() == constraint.sqltext.strip()
    same = _lower(clause.columns) == _lower(constraint.columns)
    if isinstance(constraint, Unique):
        return clause.kind == "unique" and same
    assert isinstance(constraint, ForeignKey)
    return clause.kind == "references" and same and clause.ref_table == constraint.ref_table.lower()


def _constraint_sql(editor: _Editor, new: Table, constraint: Constraint) -> str:
    """A table constraint as SQLAlchemy's SQLite dialect writes it."""
    compiled = sa_constraint(new.name, new.schema, constraint)
    compiler = editor.dialect.ddl_compiler(editor.dialect, None)  # type: ignore[arg-type]
    text = compiler.process(compiled)
    if not text and isinstance(compiled, sa.PrimaryKeyConstraint):
        raise editor.refuse("its new primary key cannot be written", hint="name its columns")
    return str(text).strip()
