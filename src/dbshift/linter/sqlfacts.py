"""Raw SQL parsed into facts with sqlglot (imported only here and in
`dbshift.linter.typetext`, inside functions: `lint` is the one command that needs it, so
`status` and `upgrade` never pay for it).

A statement sqlglot cannot parse becomes an `unparsable` fact, and one it parses but
dbshift does not recognise an `unknown_sql` fact: rules report both, nothing is skipped
silently.
"""

from __future__ import annotations

import re
from typing import Any

from dbshift.errors import MigrationError
from dbshift.facts import ColumnFact, Fact, Reference
from dbshift.linter import sqlwords
from dbshift.linter.typetext import SERIALS, builtin_type, sqlglot_module, type_from_node
from dbshift.migrations.sqlsplit import SqlStatement, split_sql
from dbshift.migrations.txcontrol import is_transaction_control

_DIALECTS = {"postgresql": "postgres", "mysql": "mysql", "mariadb": "mysql", "sqlite": "sqlite"}

# Statements sqlglot keeps as an opaque `Command`, recognised by their words.
_ADD_VALUE = re.compile(
    r"^\s*ALTER\s+TYPE\s+(?P<name>[\w.\"]+)\s+ADD\s+VALUE\s+(IF\s+NOT\s+EXISTS\s+)?"
    r"'(?P<value>(?:[^']|'')*)'(\s+(?P<where>BEFORE|AFTER)\s+'(?P<pos>(?:[^']|'')*)')?",
    re.IGNORECASE,
)
_USING_INDEX = re.compile(
    r"^\s*ALTER\s+TABLE\s+(ONLY\s+)?(?P<table>[\w.\"]+)\s+ADD\s+(CONSTRAINT\s+(?P<name>[\w\"]+)\s+)?"
    r"(?P<kind>UNIQUE|PRIMARY\s+KEY)\s+USING\s+INDEX\s+(?P<index>[\w\"]+)",
    re.IGNORECASE,
)
_VALIDATE = re.compile(
    r"^\s*ALTER\s+TABLE\s+(ONLY\s+)?(?P<table>[\w.\"]+)\s+VALIDATE\s+CONSTRAINT\s+(?P<name>[\w\"]+)",
    re.IGNORECASE,
)
_HARMLESS = re.compile(
    r"^\s*(COMMENT|GRANT|REVOKE|ANALYZE|PRAGMA|SELECT|BEGIN|COMMIT|CREATE\s+(EXTENSION|FUNCTION|"
    r"OR\s+REPLACE|TRIGGER|VIEW|SEQUENCE)|DROP\s+TRIGGER)\b",
    re.IGNORECASE,
)
_LEADING_COMMENTS = re.compile(r"^(\s*(--[^\n]*(\n|$)|/\*.*?\*/))*\s*", re.DOTALL)


def facts_from_sql(sql: str, dialect: str = "postgresql") -> list[Fact]:
    """The facts of one or more SQL statements, for `dialect` (a SQLAlchemy name). Text
    the splitter refuses (an unterminated string, a psql meta-command, `COPY ... FROM
    STDIN`) is one unparsable fact carrying the splitter's reason, as `upgrade` would
    refuse it."""
    try:
        split = split_sql(sql, dialect)
    except MigrationError as refused:
        text = _strip(sql)
        return [Fact("unparsable", sql=text, problem=refused.message)] if text else []
    return [fact for statement in split for fact in statement_facts(statement, dialect)]


def statement_facts(statement: SqlStatement, dialect: str = "postgresql") -> list[Fact]:
    """The facts of one statement the splitter already cut (a `.sql` migration's): not
    split again, which could cut a body a `DELIMITER` kept whole."""
    text = _strip(statement.text)
    return _facts_of(text, statement.keywords, dialect) if text else []


def _strip(sql: str) -> str:
    return _LEADING_COMMENTS.sub("", sql).strip().rstrip(";").strip()


def _facts_of(text: str, keywords: tuple[str, ...], dialect: str) -> list[Fact]:
    """One statement's facts. sqlglot reads BEGIN/COMMIT as harmless, but here they end
    a transaction; PostgreSQL statements sqlglot does not model, or fails on, are read
    word by word (`dbshift.linter.sqlwords`) before the statement counts as unparsable."""
    if is_transaction_control(keywords):
        return [Fact("transaction_control", sql=" ".join(text.split()))]
    read = _DIALECTS.get(dialect, "postgres")
    postgres = read == "postgres"
    if postgres and (unmodelled := sqlwords.read_unmodelled(text, keywords)) is not None:
        return unmodelled
    sqlglot = sqlglot_module()
    try:
        statements = sqlglot.parse(text, read=read)
    except sqlglot.errors.SqlglotError as error:
        fallback = sqlwords.read_fallback(text, keywords) if postgres else None
        if fallback is not None:
            return fallback
        return [Fact("unparsable", sql=text, problem=_problem(error))]
    facts: list[Fact] = []
    for statement in statements:
        if statement is not None:
            facts.extend(_statement(statement, text))
    if postgres and any(f.kind == "unknown_sql" for f in facts):
        return sqlwords.read_fallback(text, keywords) or facts
    return facts


def _problem(error: Exception) -> str:
    """sqlglot's first complaint, without its token dump."""
    details = getattr(error, "errors", None) or []
    if details and isinstance(details[0], dict) and details[0].get("description"):
        text = str(details[0]["description"])
        text = re.sub(r"<Token token_type: TokenType\.(\w+), text: ([^,]*),.*?>", r"\2", text)
        return text.splitlines()[0]
    lines = str(error).strip().splitlines()
    return lines[0] if lines else type(error).__name__


def _statement(node: Any, text: str) -> list[Fact]:
    # lazy: sqlglot, for `lint` alone (see the module's docstring)
    from sqlglot import exp

    if isinstance(node, exp.Create):
        return _create(node, text)
    if isinstance(node, exp.Drop):
        return _drop(node, text)
    if isinstance(node, exp.Alter):
        return _alter(node, text)
    if isinstance(node, exp.TruncateTable):
        cascade = str(node.args.get("option") or "").upper() == "CASCADE"
        return [Fact("truncate", *_table(t), cascade=cascade, sql=text) for t in node.expressions]
    if isinstance(node, exp.Delete | exp.Update):
        kind = "delete" if isinstance(node, exp.Delete) else "update"
        assigned = _assigned(node) if kind == "update" else ()
        return [
            Fact(
                kind,
                *_table(node.this),
                has_where=node.args.get("where") is not None,
                assigned=assigned,
                sql=text,
            )
        ]
    if isinstance(node, exp.Insert):
        schema = node.this if isinstance(node.this, exp.Schema) else None
        target = schema.this if schema is not None else node.this
        conflict = node.args.get("conflict")
        return [
            Fact(
                "insert",
                *_table(target),
                sql=text,
                inserted=_names_as_compared(schema.expressions) if schema is not None else (),
                assigned=_assigned(conflict) if conflict is not None else (),
            )
        ]
    if isinstance(node, exp.Set):
        return _set(node, text)
    if isinstance(node, exp.Command):
        return _command(node, text)
    if isinstance(node, exp.Select | exp.Pragma) or _HARMLESS.match(text):
        return [Fact("other", sql=text)]
    return [Fact("unknown_sql", sql=text, problem=f"{type(node).__name__} statement")]


def _assigned(node: Any) -> tuple[str, ...]:
    """The columns an UPDATE's SET assigns, in order (`SET (a, b) = ...` gives both),
    named as the server compares them: an unquoted name folded to lower case."""
    # lazy: sqlglot, for `lint` alone (see the module's docstring)
    from sqlglot import exp

    targets: list[Any] = []
    for item in node.expressions:
        target = item.this if isinstance(item, exp.EQ) else None
        targets += target.expressions if isinstance(target, exp.Tuple) else [target]
    return _names_as_compared(targets)


def _names_as_compared(nodes: Any) -> tuple[str, ...]:
    """Column (or identifier) nodes' names as the server compares them: an unquoted name
    folded to lower case; other nodes left out."""
    # lazy: sqlglot, for `lint` alone (see the module's docstring)
    from sqlglot import exp

    names = []
    for node in nodes:
        identifier = node.this if isinstance(node, exp.Column) else node
        if isinstance(identifier, exp.Identifier):
            names.append(identifier.name if identifier.quoted else identifier.name.lower())
    return tuple(names)


def _table(node: Any) -> tuple[str | None, str | None]:
    # lazy: sqlglot, for `lint` alone (see the module's docstring)
    from sqlglot import exp

    if isinstance(node, exp.Schema):
        node = node.this
    if isinstance(node, exp.Table):
        return (node.name or None, node.db or None)
    return (None, None)


def _create(node: Any, text: str) -> list[Fact]:
    # lazy: sqlglot, for `lint` alone (see the module's docstring)
    from sqlglot import exp

    kind = (node.args.get("kind") or "").upper()
    if kind == "TABLE" and isinstance(node.this, exp.Schema):
        table, schema = _table(node.this)
        pk_cols: set[str] = set()
        for item in node.this.expressions:
            if isinstance(item, exp.PrimaryKey):
                pk_cols.update(_names(item.expressions))
            elif isinstance(item, exp.Constraint):
                for inner in item.expressions:
                    if isinstance(inner, exp.PrimaryKey):
                        pk_cols.update(_names(inner.expressions))
        columns = tuple(
            _column(c, pk_cols) for c in node.this.expressions if isinstance(c, exp.ColumnDef)
        )
        references = tuple(_references(node.this.expressions))
        return [
            Fact("create_table", table, schema, columns=columns, references=references, sql=text)
        ]
    if kind == "TABLE":  # CREATE TABLE ... AS SELECT
        table, schema = _table(node.this)
        return [Fact("create_table", table, schema, sql=text)]
    if kind == "INDEX" and isinstance(node.this, exp.Index):
        index = node.this
        table, schema = _table(index.args.get("table"))
        params = index.args.get("params")
        cols = tuple(
            o.this.name
            if isinstance(o, exp.Ordered) and isinstance(o.this, exp.Column)
            else o.sql()
            for o in (params.args.get("columns") or [] if params else [])
        )
        return [
            Fact(
                "create_index",
                table,
                schema,
                name=index.name or None,
                concurrently=bool(node.args.get("concurrently")),
                unique=bool(node.args.get("unique")),
                on_columns=cols,
                sql=text,
            )
        ]
    if kind == "TYPE":
        expression = node.args.get("expression")
        name, schema = _table(node.this)
        if isinstance(expression, exp.DataType) and expression.this == exp.DataType.Type.ENUM:
            values = tuple(e.name for e in expression.expressions)
            return [Fact("create_enum", schema=schema, name=name, values=values, sql=text)]
        return [Fact("other_ddl", name=name, sql=text)]
    if kind == "SCHEMA":
        return [Fact("other_ddl", sql=text)]
    return [Fact("other", sql=text)]


def _drop(node: Any, text: str) -> list[Fact]:
    kind = (node.args.get("kind") or "").upper()
    facts: list[Fact] = []
    for target in node.args.get("tables") or node.expressions or [None]:
        table, schema = _table(target)
        if kind == "TABLE":
            cascade = bool(node.args.get("cascade"))
            facts.append(Fact("drop_table", table, schema, cascade=cascade, sql=text))
        elif kind == "INDEX":
            on = node.args.get("cluster")
            owner, owner_schema = _table(on.this) if on is not None else (None, schema)
            facts.append(
                Fact(
                    "drop_index",
                    owner,
                    owner_schema,
                    name=table,
                    concurrently=bool(node.args.get("concurrently")),
                    sql=text,
                )
            )
        elif kind == "SCHEMA":
            facts.append(Fact("drop_schema", name=schema or table, sql=text))
        elif kind == "TYPE":
            cascade = bool(node.args.get("cascade"))
            facts.append(Fact("drop_enum", schema=schema, name=table, cascade=cascade, sql=text))
        elif kind == "DATABASE":
            facts.append(Fact("drop_database", name=table, sql=text))
        elif kind == "SEQUENCE":
            facts.append(Fact("drop_sequence", schema=schema, name=table, sql=text))
        elif kind in ("VIEW", "FUNCTION", "PROCEDURE"):
            scope = "MATERIALIZED VIEW" if node.args.get("materialized") else kind
            cascade = bool(node.args.get("cascade"))
            facts.append(
                Fact(
                    "drop_object", schema=schema, name=table, scope=scope, cascade=cascade, sql=text
                )
            )
        else:
            facts.append(Fact("other_ddl", sql=text))
    return facts


def _alter(node: Any, text: str) -> list[Fact]:
    # lazy: sqlglot, for `lint` alone (see the module's docstring)
    from sqlglot import exp

    kind = (node.args.get("kind") or "").upper()
    if kind != "TABLE":
        return [_alter_object(node, kind, text)]
    table, schema = _table(node.this)
    algorithm = None
    for option in node.args.get("options") or []:
        if isinstance(option, exp.AlgorithmProperty):
            algorithm = option.name.upper()
    common: dict[str, Any] = {"table": table, "schema": schema, "sql": text, "algorithm": algorithm}
    not_valid = bool(node.args.get("not_valid"))
    facts: list[Fact] = []
    for action in node.args.get("actions") or []:
        if isinstance(action, exp.ColumnDef):
            column = _column(action, set())
            references = tuple(_references([action]))
            facts.append(
                Fact(
                    "add_column",
                    column=column.name,
                    columns=(column,),
                    references=references,
                    **common,
                )
            )
        elif isinstance(action, exp.Drop):
            kind = (action.args.get("kind") or "").upper()
            names = [e.name for e in action.args.get("tables") or action.expressions]
            for name in names:
                if kind == "COLUMN":
                    facts.append(Fact("drop_column", column=name, **common))
                elif kind in ("CONSTRAINT", "PRIMARY KEY", "FOREIGN KEY", "CHECK"):
                    facts.append(Fact("drop_constraint", name=name, **common))
                elif kind == "INDEX":
                    facts.append(Fact("drop_index", name=name, **common))
                else:
                    facts.append(Fact("other_ddl", **common))
        elif isinstance(action, exp.AlterColumn):
            facts.extend(_alter_column(action, common))
        elif isinstance(action, exp.ModifyColumn):  # MySQL MODIFY / CHANGE
            column = _column(action.this, set())
            old_name = action.args.get("rename_from")
            if old_name is not None and old_name.name != column.name:
                facts.append(
                    Fact("rename_column", column=old_name.name, new_name=column.name, **common)
                )
            facts.append(Fact("alter_type", column=column.name, new_type=column.type, **common))
            # MODIFY restates the whole column: without NOT NULL it becomes nullable,
            # without DEFAULT it loses its default
            nullness = "drop_not_null" if column.nullable else "set_not_null"
            facts.append(Fact(nullness, column=column.name, **common))
            if column.default is None and not column.generated:  # AUTO_INCREMENT restated
                facts.append(Fact("drop_default", column=column.name, **common))
            else:
                facts.append(
                    Fact("set_default", column=column.name, default=column.default, **common)
                )
        elif isinstance(action, exp.RenameColumn):
            facts.append(
                Fact(
                    "rename_column",
                    column=action.this.name,
                    new_name=action.args["to"].name,
                    **common,
                )
            )
        elif isinstance(action, exp.AlterRename):
            facts.append(Fact("rename_table", new_name=action.this.name, **common))
        elif isinstance(action, exp.DropPrimaryKey):
            facts.append(Fact("drop_primary_key", **common))
        elif isinstance(action, exp.AddConstraint):
            for constraint in action.expressions:
                facts.append(_constraint(constraint, not_valid, common))
        else:
            facts.append(Fact("other_ddl", **common))
    return facts


def _alter_object(node: Any, kind: str, text: str) -> Fact:
    """ALTER VIEW / INDEX / ... : a rename (`RENAME TO`), else DDL no rule reads."""
    # lazy: sqlglot, for `lint` alone (see the module's docstring)
    from sqlglot import exp

    actions = node.args.get("actions") or []
    name, schema = _table(node.this)
    if len(actions) == 1 and isinstance(actions[0], exp.AlterRename) and name:
        new_name = actions[0].this.name
        return Fact(
            "rename_object", schema=schema, name=name, new_name=new_name, scope=kind, sql=text
        )
    return Fact("other_ddl", sql=text)


def _alter_column(action: Any, common: dict[str, Any]) -> list[Fact]:
    column = action.name
    if action.args.get("dtype") is not None:
        return [
            Fact(
                "alter_type", column=column, new_type=type_from_node(action.args["dtype"]), **common
            )
        ]
    if action.args.get("allow_null") is False:
        return [Fact("set_not_null", column=column, **common)]
    if action.args.get("allow_null") is True:
        return [Fact("drop_not_null", column=column, **common)]
    if action.args.get("drop"):  # DROP DEFAULT
        return [Fact("drop_default", column=column, **common)]
    if action.args.get("default") is not None:
        default = _expression(action.args["default"])
        return [Fact("set_default", column=column, default=default, **common)]
    return [Fact("other_ddl", column=column, **common)]


def _constraint(constraint: Any, not_valid: bool, common: dict[str, Any]) -> Fact:
    # lazy: sqlglot, for `lint` alone (see the module's docstring)
    from sqlglot import exp

    name = None
    inner = constraint
    if isinstance(constraint, exp.Constraint):
        name = constraint.name or None
        inner = constraint.expressions[0] if constraint.expressions else constraint
    if isinstance(inner, exp.ForeignKey):
        return Fact(
            "add_foreign_key",
            name=name,
            not_valid=not_valid,
            on_columns=tuple(_names(inner.expressions)),
            references=tuple(_references([inner])),
            **common,
        )
    if isinstance(inner, exp.CheckColumnConstraint):
        return Fact(
            "add_check", name=name, not_valid=not_valid, condition=inner.this.sql(), **common
        )
    if isinstance(inner, exp.UniqueColumnConstraint):
        cols = tuple(_names(inner.this.expressions)) if isinstance(inner.this, exp.Schema) else ()
        return Fact("add_unique", name=name, on_columns=cols, **common)
    if isinstance(inner, exp.IndexColumnConstraint):  # MySQL ALTER TABLE ... ADD INDEX
        return Fact(
            "create_index",
            name=inner.name or None,
            on_columns=tuple(_names(inner.expressions)),
            **common,
        )
    if isinstance(inner, exp.PrimaryKey | exp.PrimaryKeyColumnConstraint):
        return Fact(
            "add_primary_key", name=name, on_columns=tuple(_names(inner.expressions)), **common
        )
    return Fact("other_ddl", name=name, **common)


def _set(node: Any, text: str) -> list[Fact]:
    # lazy: sqlglot, for `lint` alone (see the module's docstring)
    from sqlglot import exp

    facts = []
    for item in node.expressions:
        target = item.this.this if isinstance(item.this, exp.EQ) else item.this
        setting = target.name.lower() if target is not None else ""
        facts.append(Fact("set", setting=setting, sql=text))
    return facts


def _command(node: Any, text: str) -> list[Fact]:
    match = _ADD_VALUE.match(text)
    if match:
        schema, bare = _dotted(match["name"])
        return [
            Fact(
                "add_enum_value",
                schema=schema,
                name=bare,
                values=(match["value"].replace("''", "'"),),
                position=match["pos"].replace("''", "'") if match["pos"] else None,
                after=(match["where"] or "").upper() == "AFTER",
                sql=text,
            )
        ]
    match = _USING_INDEX.match(text)
    if match:
        schema, bare = _dotted(match["table"])
        kind = "add_unique" if match["kind"].upper() == "UNIQUE" else "add_primary_key"
        name = match["name"].replace('"', "") if match["name"] else None
        return [Fact(kind, bare, schema, name=name, using_index=True, sql=text)]
    match = _VALIDATE.match(text)
    if match:
        schema, bare = _dotted(match["table"])
        return [
            Fact(
                "validate_constraint",
                bare,
                schema,
                name=match["name"].replace('"', ""),
                sql=text,
            )
        ]
    if _HARMLESS.match(text):
        return [Fact("other", sql=text)]
    words = " ".join(text.split()[:3])
    return [Fact("unknown_sql", sql=text, problem=f"statement `{words} ...` is not understood")]


def _dotted(name: str) -> tuple[str | None, str]:
    """The schema (None without one) and the name of a `schema.name` the regular
    expressions above matched, double quotes dropped."""
    schema, _, bare = name.replace('"', "").rpartition(".")
    return schema or None, bare


def _references(items: Any) -> list[Reference]:
    """The foreign keys among a table's items: a column's `REFERENCES`, a table-level
    `FOREIGN KEY (...) REFERENCES` (named or not)."""
    # lazy: sqlglot, for `lint` alone (see the module's docstring)
    from sqlglot import exp

    found: list[Reference] = []
    for item in items:
        if isinstance(item, exp.Constraint):
            found += _references(item.expressions)
        elif isinstance(item, exp.ForeignKey):
            target = _referred(item.args.get("reference"), tuple(_names(item.expressions)))
            found += [target] if target else []
        elif isinstance(item, exp.ColumnDef):
            for constraint in item.args.get("constraints") or []:
                kind = constraint.args.get("kind")
                if isinstance(kind, exp.Reference):
                    target = _referred(kind, (item.name,))
                    found += [target] if target else []
    return found


def _referred(reference: Any, columns: tuple[str, ...]) -> Reference | None:
    # lazy: sqlglot, for `lint` alone (see the module's docstring)
    from sqlglot import exp

    if not isinstance(reference, exp.Reference):
        return None
    node = reference.this
    ref_columns = tuple(_names(node.expressions)) if isinstance(node, exp.Schema) else ()
    table, schema = _table(node)
    return Reference(columns, table, schema, ref_columns) if table else None


def _names(expressions: Any) -> list[str]:
    return [e.name for e in expressions]


def _column(node: Any, pk_cols: set[str]) -> ColumnFact:
    # lazy: sqlglot, for `lint` alone (see the module's docstring)
    from sqlglot import exp

    column: dict[str, Any] = {"primary_key": node.name in pk_cols}
    for constraint in node.args.get("constraints") or []:
        kind = constraint.args.get("kind")
        if isinstance(kind, exp.NotNullColumnConstraint):
            column["nullable"] = bool(kind.args.get("allow_null"))
        elif isinstance(kind, exp.DefaultColumnConstraint):
            column["default"] = _expression(kind.this)
        elif isinstance(kind, exp.PrimaryKeyColumnConstraint):
            column["primary_key"] = True
        elif isinstance(kind, exp.UniqueColumnConstraint):
            column["unique"] = True
        elif isinstance(kind, exp.Reference):
            column["inline_reference"] = True
        elif isinstance(kind, exp.ComputedColumnConstraint):  # GENERATED ALWAYS AS (...) STORED
            column["computed"] = _expression(kind.this)
            persisted = kind.args.get("persisted")  # MySQL's STORED / VIRTUAL
            column["stored"] = True if persisted is None else bool(persisted)
        elif isinstance(kind, exp.GeneratedAsIdentityColumnConstraint) and kind.expression:
            column["computed"] = _expression(kind.expression)  # GENERATED ALWAYS AS (...)
        elif isinstance(kind, exp.AutoIncrementColumnConstraint):
            column["generated"] = True
        elif isinstance(kind, exp.GeneratedAsIdentityColumnConstraint):
            column["generated"] = column["identity"] = True
    type_node = builtin_type(node.args.get("kind"))
    if isinstance(type_node, exp.DataType) and type_node.this.name in SERIALS:
        column["generated"] = True
    if column["primary_key"]:
        column["nullable"] = False
    return ColumnFact(node.name, type_from_node(type_node), **column)


def _expression(node: Any) -> str:
    """An expression as PostgreSQL spells it (the generic dialect renames functions:
    `gen_random_uuid()` would read `UUID()`); only the PostgreSQL rules read them."""
    return str(node.sql(dialect="postgres"))
