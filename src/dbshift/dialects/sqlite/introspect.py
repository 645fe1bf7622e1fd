"""SQLite: a whole schema from its table-valued pragmas joined with `sqlite_master`, plus
what only the CREATE statements say (see `introspect.py`)."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterator, Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.sqlite.base import SQLiteDialect
from sqlalchemy.types import TypeEngine

from dbshift.dialects.introspect_common import NAMES, NameFilter, named
from dbshift.schema.snapshot import Check, Column, ForeignKey, Index, PrimaryKey, Table, Unique
from dbshift.schema.sqltypes import DeclaredType


def sqlite_tables(
    conn: sa.Connection, schema: str | None, keep: NameFilter, wanted: set[str] | None
) -> list[Table]:
    master = (
        f"{conn.dialect.identifier_preparer.quote(schema)}.sqlite_master"
        if schema
        else "sqlite_master"
    )
    arg = ", :schema" if schema else ""
    params = {"schema": schema}
    tables: dict[str, dict[str, Any]] = {}
    for name, sql in conn.execute(
        named(
            f"SELECT name, sql FROM {master} WHERE type = 'table' {NAMES}"
            "AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'",
            "name",
            wanted,
        ),
        params,
    ):
        if keep(name):
            tables[name] = {"parsed": _parse_create_table(sql or ""), "columns": [], "pk": []}
    if not tables:
        return []
    for table, name, type_text, notnull, default, pk, hidden in conn.execute(
        named(
            'SELECT m.name, p.name, p.type, p."notnull", p.dflt_value, p.pk, p.hidden '
            f"FROM {master} m JOIN pragma_table_xinfo(m.name{arg}) p WHERE m.type = 'table' "
            f"{NAMES}ORDER BY m.name, p.cid",
            "m.name",
            wanted,
        ),
        params,
    ):
        info = tables.get(table)
        if info is None or hidden == 1:  # 1: a virtual table's hidden column
            continue
        computed = info["parsed"].generated.get(name) if hidden in (2, 3) else None
        if hidden in (2, 3):
            type_text = re.sub(r"\b(generated|always)\b", "", type_text, flags=re.I).strip()
        type_ = declared_type(conn.dialect, type_text)
        collation = info["parsed"].collations.get(name)
        if collation is not None:
            type_ = _collated(type_, collation)
        info["columns"].append(
            Column(
                name=name,
                type=type_,
                nullable=not notnull,
                server_default=None if computed is not None or default is None else str(default),
                computed=computed,
                persisted=(hidden == 3) if computed is not None else None,  # 3: STORED
            )
        )
        if pk:
            info["pk"].append((pk, name))
    # each index's CREATE INDEX text, by name (unique in a schema): read apart, as a join
    # to sqlite_master would look it up again for every column of every index
    index_sql: dict[str, str | None] = dict(
        conn.execute(
            named(
                f"SELECT name, sql FROM {master} WHERE type = 'index' {NAMES}", "tbl_name", wanted
            ),
            params,
        ).all()
    )
    index_parts: dict[tuple[str, str], list[Any]] = defaultdict(list)
    for table, index, unique, origin, partial, cid, column, desc in conn.execute(
        named(
            'SELECT m.name, il.name, il."unique", il.origin, il.partial, x.cid, x.name, x.desc '
            f"FROM {master} m JOIN pragma_index_list(m.name{arg}) il "
            f"JOIN pragma_index_xinfo(il.name{arg}) x "
            f"WHERE m.type = 'table' AND x.key = 1 {NAMES}ORDER BY m.name, il.name, x.seqno",
            "m.name",
            wanted,
        ),
        params,
    ):
        if table in tables:
            part = (unique, origin, partial, cid, column, index_sql.get(index), desc)
            index_parts[(table, index)].append(part)
    fk_parts: dict[tuple[str, int], list[Any]] = defaultdict(list)
    for table, fk_id, ref_table, column, ref_column, on_update, on_delete in conn.execute(
        named(
            'SELECT m.name, f.id, f."table", f."from", f."to", f.on_update, f.on_delete '
            f"FROM {master} m JOIN pragma_foreign_key_list(m.name{arg}) f "
            f"WHERE m.type = 'table' {NAMES}ORDER BY m.name, f.id, f.seq",
            "m.name",
            wanted,
        ),
        params,
    ):
        if table in tables:
            fk_parts[(table, fk_id)].append((ref_table, column, ref_column, on_update, on_delete))
    pk_columns = {name: tuple(c for _, c in sorted(info["pk"])) for name, info in tables.items()}
    by_table_indexes: dict[str, list[tuple[str, list[Any]]]] = defaultdict(list)
    for (table, index), parts in index_parts.items():
        by_table_indexes[table].append((index, parts))
    by_table_fks: dict[str, list[list[Any]]] = defaultdict(list)
    for (table, _), parts in sorted(fk_parts.items()):
        by_table_fks[table].append(parts)
    return [
        _sqlite_table(
            name,
            schema,
            info,
            by_table_indexes[name],
            by_table_fks[name],
            pk_columns,
        )
        for name, info in tables.items()
    ]


def _sqlite_table(
    name: str,
    schema: str | None,
    info: dict[str, Any],
    indexes: list[tuple[str, list[Any]]],
    fks: list[list[Any]],
    pk_columns: Mapping[str, tuple[str, ...]],
) -> Table:
    parsed: _CreateTable = info["parsed"]
    auto_unique = [tuple(p[4] for p in parts) for _, parts in indexes if parts[0][1] == "u"]
    uniques: list[Unique] = []
    own_pk = pk_columns[name]
    for unique_name, columns, unique_options in parsed.uniques:
        # SQLite made an index for it: a real constraint; a second one on the same
        # columns shares the first one's index, and one on the primary key's columns
        # that key's (mlflow's `UNIQUE (name)` beside `PRIMARY KEY (name)`)
        if (
            columns in auto_unique
            or any(u.columns == columns for u in uniques)
            or (own_pk and columns == own_pk)
        ):
            if columns in auto_unique:
                auto_unique.remove(columns)
            uniques.append(Unique(unique_name, columns, unique_options))
    own = []
    for index_name, parts in indexes:
        if parts[0][1] != "c":  # indexes behind PRIMARY KEY and UNIQUE constraints
            continue
        unique, _, partial, _, _, sql, _ = parts[0]
        plain = not partial and all(p[3] >= 0 for p in parts)
        entries, where = ([], None) if plain else _parse_create_index(sql or "")
        columns = tuple(
            (p[4] if p[3] >= 0 else (entries[i] if i < len(entries) else ""))
            + (" DESC" if p[6] else "")  # as a model writes sa.desc(column)
            for i, p in enumerate(parts)
        )
        expressions = tuple(c for c, p in zip(columns, parts, strict=True) if p[3] < 0 or p[6])
        options = (("sqlite_where", where),) if partial and where else ()
        own.append(Index(index_name, columns, bool(unique), options, expressions))
    foreign_keys = []
    for parts in fks:
        ref_table = parts[0][0]
        columns = tuple(p[1] for p in parts)
        ref_columns = tuple(p[2] for p in parts)
        if any(c is None for c in ref_columns):  # REFERENCES t: its primary key
            ref_columns = pk_columns.get(ref_table, ())
        fk_name, deferrable, initially = parsed.foreign_keys.get(
            (columns, ref_table.lower()), (None, None, None)
        )
        foreign_keys.append(
            ForeignKey(
                fk_name,
                columns,
                ref_table,
                ref_columns,
                ondelete=_sqlite_rule(parts[0][4]),
                onupdate=_sqlite_rule(parts[0][3]),
                deferrable=deferrable,
                initially=initially,
            )
        )
    pk = pk_columns[name]
    return Table(
        name=name,
        columns=tuple(info["columns"]),
        schema=schema,
        primary_key=PrimaryKey(pk, parsed.primary_key_name, parsed.primary_key_options)
        if pk
        else None,
        indexes=tuple(own),
        foreign_keys=tuple(foreign_keys),
        uniques=tuple(uniques),
        checks=tuple(Check(n, t) for n, t in parsed.checks),
        options=tuple(sorted(parsed.options.items())),
    )


_TYPE_NAME = re.compile(r"\s*([A-Za-z_]\w*)\s*(?:\(\s*(\d+)\s*(?:,\s*(\d+)\s*)?\))?\s*$")


def declared_type(dialect: sa.engine.Dialect, text: str) -> TypeEngine[Any]:
    """The column type SQLite keeps: the declared text. A name SQLAlchemy's SQLite dialect
    knows is its type; SQLAlchemy's own name for another (`BINARY(16)`, `UUID`, which it
    would read by affinity as `NUMERIC(16)`) is that type; anything else keeps its text."""
    resolved: TypeEngine[Any] = dialect._resolve_type_affinity(text)  # type: ignore[attr-defined]
    match = _TYPE_NAME.match(text)
    name = match.group(1).upper() if match else ""
    if not text.strip() or name in dialect.ischema_names:  # type: ignore[attr-defined]
        return resolved
    wanted = " ".join(text.upper().split()).replace("( ", "(").replace(" )", ")")
    generic = getattr(sa.types, name, None) if match else None
    if isinstance(generic, type) and issubclass(generic, TypeEngine) and match:
        args = [int(a) for a in match.groups()[1:] if a is not None]
        try:
            candidate = generic(*args)
            if str(candidate.compile(dialect=dialect)).replace(", ", ",") == wanted:
                return candidate
        except Exception:  # a name SQLAlchemy has, with arguments it does not take
            pass
    return DeclaredType(text.strip())


def _collated(type_: TypeEngine[Any], collation: str) -> TypeEngine[Any]:
    """`type_` with the column's `COLLATE`, as SQLAlchemy's `collation=` of a string
    type (SQLite takes COLLATE on a column of any type, which no other SQLAlchemy type
    carries: such a column's collation is not read)."""
    if isinstance(type_, sa.String):
        copied = type_.copy()
        copied.collation = collation
        return copied
    return type_


def _sqlite_rule(rule: str | None) -> str | None:
    return None if rule in (None, "NO ACTION") else rule


# A small tokenizer for CREATE TABLE / CREATE INDEX text: what the pragmas do not tell
# (constraint names, CHECK text, generated-column and partial-index expressions).

_TOKEN = re.compile(
    r"""\s+|--[^\n]*|/\*.*?\*/
    |(?P<quoted>"(?:[^"]|"")*"|`(?:[^`]|``)*`|\[[^\]]*\]|'(?:[^']|'')*')
    |(?P<word>[\w$]+)
    |(?P<other>.)""",
    re.VERBOSE | re.DOTALL,
)


class _Token:
    __slots__ = ("end", "kind", "start", "text")

    def __init__(self, kind: str, text: str, start: int, end: int) -> None:
        self.kind, self.text, self.start, self.end = kind, text, start, end

    def word(self) -> str:
        return self.text.upper() if self.kind == "word" else ""


def _tokens(sql: str, start: int = 0, end: int | None = None) -> list[_Token]:
    """The tokens of `sql[start:end]`, positions in `sql`; `start` and `end` must be
    token boundaries (`_structure` gives such)."""
    found = []
    for m in _TOKEN.finditer(sql, start, len(sql) if end is None else end):
        kind = m.lastgroup
        if kind is not None:
            found.append(_Token(kind, m.group(), m.start(), m.end()))
    return found


# The tokens that give a statement its shape, found without tokenizing the rest: the
# same comment and quoted-text rules in the same order as `_TOKEN` (the characters that
# start them never occur inside a word), so the parentheses and commas found are the
# tokenizer's, at the same places.
_STRUCTURE = re.compile(
    r"""--[^\n]*|/\*.*?\*/|"(?:[^"]|"")*"|`(?:[^`]|``)*`|\[[^\]]*\]|'(?:[^']|'')*'|([(),])""",
    re.DOTALL,
)
#: the words that make a column definition or table constraint worth tokenizing: each
#: clause `_column_constraints` and `_table_constraint` read starts with one of them
_CLAUSE_WORDS = re.compile(
    r"\b(?:CONSTRAINT|PRIMARY|UNIQUE|CHECK|FOREIGN|AS|REFERENCES|AUTOINCREMENT|COLLATE)\b", re.I
)


def _structure(sql: str) -> tuple[list[tuple[int, int]], int] | None:
    """The spans of the comma-separated items inside a statement's first parenthesis,
    and where the text after its closing one starts; None when it does not close."""
    depth, items, begin = 0, [], -1
    for m in _STRUCTURE.finditer(sql):
        mark = m.group(1)
        if mark is None:
            continue
        if mark == "(":
            depth += 1
            if depth == 1 and begin < 0:
                begin = m.end()
        elif mark == ")" and depth:
            depth -= 1
            if depth == 0:
                items.append((begin, m.start()))
                return items, m.end()
        elif mark == "," and depth == 1:
            items.append((begin, m.start()))
            begin = m.end()
    return None


def _unquote(token: _Token) -> str:
    text = token.text
    if token.kind == "quoted" and text[0] in "\"`'":
        return text[1:-1].replace(text[0] * 2, text[0])
    if token.kind == "quoted":  # [name]
        return text[1:-1]
    return text


def _closing(tokens: list[_Token], open_at: int) -> int:
    depth = 0
    for i in range(open_at, len(tokens)):
        if tokens[i].text == "(":
            depth += 1
        elif tokens[i].text == ")":
            depth -= 1
            if depth == 0:
                return i
    return len(tokens) - 1


def _split(tokens: list[_Token]) -> Iterator[list[_Token]]:
    """Comma-separated items at the top level of a parenthesized list."""
    depth = 0
    item: list[_Token] = []
    for token in tokens:
        if token.text == "," and depth == 0:
            yield item
            item = []
            continue
        depth += token.text == "("
        depth -= token.text == ")"
        item.append(token)
    if item:
        yield item


class _CreateTable:
    """What a CREATE TABLE statement names that SQLite's pragmas do not report."""

    def __init__(self) -> None:
        self.primary_key_name: str | None = None
        #: a table PRIMARY KEY's `ON CONFLICT x`, as `sqlite_on_conflict`
        self.primary_key_options: tuple[tuple[str, Any], ...] = ()
        #: name, columns and the `ON CONFLICT x` of a table UNIQUE (a column's: none)
        self.uniques: list[tuple[str | None, tuple[str, ...], tuple[tuple[str, Any], ...]]] = []
        self.checks: list[tuple[str | None, str]] = []
        #: (columns, lower-case referenced table) -> (name, deferrable, initially)
        self.foreign_keys: dict[tuple[tuple[str, ...], str], tuple[Any, Any, Any]] = {}
        self.generated: dict[str, str] = {}
        #: a column's `COLLATE name` (the pragmas do not report it)
        self.collations: dict[str, str] = {}
        #: the table's dialect keywords its text states (`sqlite_autoincrement`, ...)
        self.options: dict[str, bool] = {}


def _parse_create_table(sql: str) -> _CreateTable:
    """What the statement says beyond the pragmas. Only the items that have a clause to
    read are tokenized (in a wide table, most columns are a name and a type)."""
    shape = _structure(sql)
    if shape is None:  # not a statement SQLite would have kept: read it all
        return _parse_all(sql)
    result = _CreateTable()
    spans, rest = shape
    for start, end in spans:
        if not _CLAUSE_WORDS.search(sql, start, end):
            continue
        _read_item(sql, _tokens(sql, start, end), result)
    _table_keywords([t.word() for t in _tokens(sql, rest)], result)
    return result


def _table_keywords(after: list[str], result: _CreateTable) -> None:
    """The options written after the closing parenthesis."""
    if "ROWID" in after:  # WITHOUT ROWID
        result.options["sqlite_with_rowid"] = False
    if "STRICT" in after and "strict" in _TABLE_KEYWORDS:
        result.options["sqlite_strict"] = True


def _parse_all(sql: str) -> _CreateTable:
    """`_parse_create_table` over every token."""
    result = _CreateTable()
    tokens = _tokens(sql)
    start = next((i for i, t in enumerate(tokens) if t.text == "("), None)
    if start is None:
        return result
    end = _closing(tokens, start)
    for item in _split(tokens[start + 1 : end]):
        _read_item(sql, item, result)
    _table_keywords([t.word() for t in tokens[end + 1 :]], result)
    return result


def _read_item(sql: str, item: list[_Token], result: _CreateTable) -> None:
    """One item between the parentheses: a table constraint, or a column's clauses."""
    if not item:
        return
    if item[0].word() in _CONSTRAINT_WORDS:
        for constraint in _constraints(item):
            _table_constraint(sql, constraint, result)
    else:
        _column_constraints(sql, item, result)


_CONSTRAINT_WORDS = frozenset({"CONSTRAINT", "PRIMARY", "UNIQUE", "CHECK", "FOREIGN"})


def _constraints(item: list[_Token]) -> Iterator[list[_Token]]:
    """The table constraints of one item: SQLite takes them without a comma between
    (`CHECK (x) UNIQUE (y)`), each starting with one of `_CONSTRAINT_WORDS`."""
    current: list[_Token] = []
    depth = 0
    for token in item:
        named = len(current) == 2 and current[0].word() == "CONSTRAINT"
        if depth == 0 and token.word() in _CONSTRAINT_WORDS and current and not named:
            yield current
            current = []
        depth += (token.text == "(") - (token.text == ")")
        current.append(token)
    if current:
        yield current


#: the table keywords this SQLAlchemy's SQLite dialect accepts (`strict` since 2.0.37)
_TABLE_KEYWORDS = frozenset(
    next((args for kind, args in SQLiteDialect.construct_arguments or [] if kind is sa.Table), {})
)


def _inner(sql: str, tokens: list[_Token], open_at: int) -> tuple[str, int]:
    """The text between the parenthesis at `open_at` and its match, and the match."""
    close = _closing(tokens, open_at)
    if close <= open_at + 1:
        return "", close
    return sql[tokens[open_at + 1].start : tokens[close - 1].end].strip(), close


def _names(tokens: list[_Token], open_at: int) -> tuple[tuple[str, ...], int]:
    close = _closing(tokens, open_at)
    items = _split(tokens[open_at + 1 : close])
    return tuple(_unquote(item[0]) for item in items if item), close


def _table_constraint(sql: str, item: list[_Token], result: _CreateTable) -> None:
    name = None
    i = 0
    if item[0].word() == "CONSTRAINT" and len(item) > 1:
        name, i = _unquote(item[1]), 2
    if i >= len(item):
        return
    kind = item[i].word()
    paren = next((j for j in range(i, len(item)) if item[j].text == "("), None)
    if paren is None:
        return
    if kind == "PRIMARY":
        result.primary_key_name = name
        result.primary_key_options = _on_conflict(item, _closing(item, paren) + 1)
    elif kind == "UNIQUE":
        columns, close = _names(item, paren)
        result.uniques.append((name, columns, _on_conflict(item, close + 1)))
    elif kind == "CHECK":
        result.checks.append((name, _inner(sql, item, paren)[0]))
    elif kind == "FOREIGN":
        columns, close = _names(item, paren)
        _references(item, close + 1, columns, name, result)


def _on_conflict(item: list[_Token], at: int) -> tuple[tuple[str, Any], ...]:
    """A table constraint's `ON CONFLICT x` at token `at`, as SQLAlchemy's keyword."""
    words = [t.word() for t in item[at : at + 3]]
    if len(words) == 3 and words[:2] == ["ON", "CONFLICT"]:
        return (("sqlite_on_conflict", words[2]),)
    return ()


def _column_constraints(sql: str, item: list[_Token], result: _CreateTable) -> None:
    column = _unquote(item[0])
    name = None
    i = 1
    while i < len(item):
        word = item[i].word()
        if word == "CONSTRAINT" and i + 1 < len(item):
            name = _unquote(item[i + 1])
            i += 2
            continue
        if word == "PRIMARY":
            result.primary_key_name = name
        elif word == "UNIQUE":
            result.uniques.append((name, (column,), ()))
        elif word in ("CHECK", "AS") and i + 1 < len(item) and item[i + 1].text == "(":
            text, close = _inner(sql, item, i + 1)
            if word == "CHECK":
                result.checks.append((name, text))
            else:
                result.generated[column] = text
            i = close
        elif word == "REFERENCES":
            _references(item, i, (column,), name, result)
        elif word == "AUTOINCREMENT":
            result.options["sqlite_autoincrement"] = True
        elif word == "COLLATE" and i + 1 < len(item):
            result.collations[column] = _unquote(item[i + 1])
            i += 1
        elif item[i].text == "(":
            i = _closing(item, i)
        name = None if word not in ("NOT", "NULL") else name
        i += 1


def _references(
    item: list[_Token],
    at: int,
    columns: tuple[str, ...],
    name: str | None,
    result: _CreateTable,
) -> None:
    """`REFERENCES t (...) ... [NOT] DEFERRABLE [INITIALLY x]` from token `at` on."""
    if at + 1 >= len(item) or item[at].word() != "REFERENCES":
        return
    ref_table = _unquote(item[at + 1]).lower()
    words = [t.word() for t in item[at + 2 :]]
    deferrable = initially = None
    if "DEFERRABLE" in words:
        d = words.index("DEFERRABLE")
        deferrable = not (d > 0 and words[d - 1] == "NOT")
        if d + 2 < len(words) and words[d + 1] == "INITIALLY":
            initially = words[d + 2]
    result.foreign_keys[(columns, ref_table)] = (name, deferrable, initially)


def _parse_create_index(sql: str) -> tuple[list[str], str | None]:
    """The entries of CREATE INDEX ... ON t (entries) [WHERE predicate], as written."""
    tokens = _tokens(sql)
    on = next((i for i, t in enumerate(tokens) if t.word() == "ON"), None)
    paren = next((i for i in range(on or 0, len(tokens)) if tokens[i].text == "("), None)
    if on is None or paren is None:
        return [], None
    close = _closing(tokens, paren)
    entries = []
    for part in _split(tokens[paren + 1 : close]):
        while len(part) > 1 and part[-1].word() in ("ASC", "DESC"):
            part = part[:-1]
        entries.append(sql[part[0].start : part[-1].end] if part else "")
    where = None
    if close + 1 < len(tokens) and tokens[close + 1].word() == "WHERE":
        where = sql[tokens[close + 1].end :].strip().rstrip(";").strip() or None
    return entries, where
