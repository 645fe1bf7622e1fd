"""Whether a default expression is evaluated once or per row.

PostgreSQL (from 11) adds a column with a non-volatile default without touching the
rows: the value is computed once and stored in the catalog. A volatile default
(`random()`, `gen_random_uuid()`, `nextval()`, any function declared VOLATILE, which is
what CREATE FUNCTION declares unless told otherwise) is computed per row, so the table
is rewritten under an ACCESS EXCLUSIVE lock.

The linter cannot ask the server, so it reads the expression's function calls: a call
is safe only when it is a builtin known to be IMMUTABLE or STABLE, or a function the
migrations declared IMMUTABLE/STABLE themselves. Anything else, a user function of
unknown volatility included, counts as volatile: better a finding too many than a
table rewrite nobody expected.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

#: PostgreSQL builtins that are IMMUTABLE or STABLE (pg_proc.provolatile 'i' or 's';
#: tests/test_lint_volatility.py checks the list against a live server). Lower case.
SAFE_BUILTINS = frozenset(
    {
        # time: STABLE, evaluated once per statement
        "now",
        "transaction_timestamp",
        "statement_timestamp",
        "timezone",
        "date_trunc",
        "date_part",
        "age",
        "make_date",
        "make_time",
        "make_timestamp",
        "make_timestamptz",
        "make_interval",
        "to_timestamp",
        "to_date",
        "to_char",
        "to_number",
        # text
        "lower",
        "upper",
        "initcap",
        "length",
        "substr",
        "left",
        "right",
        "btrim",
        "ltrim",
        "rtrim",
        "lpad",
        "rpad",
        "replace",
        "split_part",
        "regexp_replace",
        "concat",
        "concat_ws",
        "format",
        "md5",
        "sha256",
        "encode",
        "decode",
        "quote_ident",
        # json, arrays, ranges
        "to_json",
        "to_jsonb",
        "json_build_object",
        "json_build_array",
        "jsonb_build_object",
        "jsonb_build_array",
        "jsonb_object",
        "jsonb_strip_nulls",
        "array_fill",
        "array_to_string",
        "string_to_array",
        "int4range",
        "int8range",
        "numrange",
        "daterange",
        "tsrange",
        "tstzrange",
        "to_tsvector",
        # numbers
        "abs",
        "round",
        "trunc",
        "floor",
        "ceil",
        "ceiling",
        # session
        "current_setting",
        "current_database",
        "current_schema",
        "txid_current",
        "pg_current_xact_id",
    }
)

#: words followed by a parenthesis that are syntax, not a function call
_SYNTAX = frozenset(
    {
        "cast",
        "coalesce",
        "nullif",
        "greatest",
        "least",
        "row",
        "array",
        "extract",
        "trim",
        "position",
        "overlay",
        "substring",
        "exists",
        "in",
        "and",
        "or",
        "not",
        "any",
        "all",
        "some",
        "when",
        "then",
        "else",
        "case",
        "values",
        "interval",
        # sqlglot writes now() and CURRENT_TIMESTAMP as CURRENT_TIMESTAMP(...)
        "current_timestamp",
        "current_date",
        "current_time",
        "localtime",
        "localtimestamp",
    }
)

_STRING = re.compile(r"'(?:[^']|'')*'")
_CALL = re.compile(
    r'(?P<before>::\s*|\bAS\s+)?(?P<name>(?:(?:"[^"]+"|[A-Za-z_][\w$]*)\s*\.\s*)?'
    r'(?:"[^"]+"|[A-Za-z_][\w$]*))\s*\(',
    re.IGNORECASE,
)


def calls(expression: str) -> list[str]:
    """The functions `expression` calls, lower case (schema-qualified as written), in
    order; casts (`::varchar(10)`, `AS numeric(5)`) and syntax (`CAST(`, `COALESCE(`)
    are not calls."""
    text = _STRING.sub("''", expression)
    found = []
    for match in _CALL.finditer(text):
        if match["before"]:
            continue  # a type with a modifier: ::varchar(10), CAST(x AS numeric(5, 2))
        name = re.sub(r"\s*\.\s*", ".", match["name"]).replace('"', "").lower()
        if name not in _SYNTAX:
            found.append(name)
    return found


def volatile_call(expression: str | None, declared: Mapping[str, str] | None = None) -> str | None:
    """The first call in `expression` that may be volatile, or None when every call is
    known to be evaluated once. `declared` maps the functions the migrations created
    (bare and schema-qualified names, lower case) to their declared volatility."""
    if expression is None:
        return None
    declared = declared or {}
    for name in calls(expression):
        bare = name.rpartition(".")[2]
        volatility = declared.get(name) or declared.get(bare)
        if volatility in ("immutable", "stable"):
            continue
        if (
            volatility is None
            and bare in SAFE_BUILTINS
            and bare == name.removeprefix("pg_catalog.")
        ):
            continue
        return name
    return None
