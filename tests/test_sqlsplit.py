"""Splitting SQL migrations into statements, per dialect."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dbshift.errors import MigrationError
from dbshift.migrations.sqlsplit import split_sql


def texts(source: str, dialect: str = "default") -> list[str]:
    return [s.text for s in split_sql(source, dialect)]


@pytest.mark.parametrize(
    ("dialect", "source", "expected"),
    [
        ("default", "select 1; select 2", ["select 1", "select 2"]),
        ("default", "select 'a;b', 'it''s;'; select 2;", ["select 'a;b', 'it''s;'", "select 2"]),
        (
            "default",
            'select "we;ird""id" from t; select 2',
            ['select "we;ird""id" from t', "select 2"],
        ),
        ("default", "select 1; -- trailing; comment\n", ["select 1"]),
        ("default", "/* only; a comment */", []),
        ("sqlite", "select [a;b] from t; select `c;d`", ["select [a;b] from t", "select `c;d`"]),
        ("postgresql", "select 'a\\'; select 2", ["select 'a\\'", "select 2"]),
        ("postgresql", "select E'it\\'s;'; select 2", ["select E'it\\'s;'", "select 2"]),
        (
            "postgresql",
            "select 1 /* a /* nested; */ still; */; select 2",
            ["select 1 /* a /* nested; */ still; */", "select 2"],
        ),
        (
            "postgresql",
            "select $1::int; select a$b$c from t",
            ["select $1::int", "select a$b$c from t"],
        ),
        ("postgresql", "select 1 # 2; select 3", ["select 1 # 2", "select 3"]),
        (
            "mysql",
            "select 'it\\'s;'; select \"a;\\\"b\"; select 1 # c; d\n",
            ["select 'it\\'s;'", 'select "a;\\"b"', "select 1 # c; d"],
        ),
        ("mysql", "select /*!40101 1; */ 2; select 3", ["select /*!40101 1; */ 2", "select 3"]),
    ],
)
def test_quoting_and_comments(dialect: str, source: str, expected: list[str]) -> None:
    assert texts(source, dialect) == expected


def test_postgresql_function_bodies() -> None:
    source = (
        "CREATE FUNCTION f() RETURNS trigger AS $body$\nBEGIN\n  NEW.x := 'a;b';\n  RETURN NEW;\nEND;\n"
        "$body$ LANGUAGE plpgsql;\n"
        "CREATE FUNCTION g() RETURNS int AS $$ SELECT 1; $$ LANGUAGE sql;\n"
        "CREATE FUNCTION h(a int) RETURNS int LANGUAGE sql\nBEGIN ATOMIC\n  SELECT 1;\n"
        "  SELECT CASE WHEN a > 1 THEN 2 ELSE 3 END;\nEND;\nBEGIN; COMMIT;"
    )
    result = split_sql(source, "postgresql")
    assert [s.line for s in result] == [1, 7, 8, 13, 13]
    assert result[0].text.endswith("$body$ LANGUAGE plpgsql")
    assert result[2].text.endswith("END")
    assert [s.text for s in result[3:]] == ["BEGIN", "COMMIT"]


def test_sqlite_trigger_bodies() -> None:
    source = (
        "CREATE TRIGGER t AFTER INSERT ON a BEGIN\n"
        "  UPDATE b SET x = CASE WHEN NEW.y THEN 1 ELSE 2 END;\n  DELETE FROM c;\nEND;\nSELECT 1;"
    )
    assert texts(source, "sqlite") == [source[: source.rindex("END;") + 3], "SELECT 1"]


def test_mysql_delimiter_and_compound_statements() -> None:
    source = (
        "DELIMITER //\nCREATE PROCEDURE p()\nBEGIN\n  SELECT 1;\n  SELECT 2;\nEND//\nDELIMITER ;\n"
        "CREATE TRIGGER t BEFORE INSERT ON x FOR EACH ROW BEGIN\n"
        "  IF NEW.a IS NULL THEN SET NEW.a = 1; END IF;\n"
        "  WHILE 0 DO SELECT 1; END WHILE;\nEND;\n"
        "DROP TABLE IF EXISTS y;\nSELECT IF(1, 2, 3);"
    )
    result = split_sql(source, "mysql")
    assert [s.line for s in result] == [2, 8, 12, 13]
    assert result[0].text.startswith("CREATE PROCEDURE") and result[0].text.endswith("END")
    assert result[1].text.endswith("END WHILE;\nEND")
    assert [s.text for s in result[2:]] == ["DROP TABLE IF EXISTS y", "SELECT IF(1, 2, 3)"]


def test_line_numbers_count_from_first_line() -> None:
    result = split_sql("\n\nselect 1;\n-- about two\nselect\n2;", first_line=10)
    assert [(s.line, s.text) for s in result] == [(12, "select 1"), (13, "-- about two\nselect\n2")]


@pytest.mark.parametrize(
    ("dialect", "source", "what", "line"),
    [
        ("default", "select 1;\nselect 'oops", "quoted string", 2),
        ("default", 'select 1;\n\nselect "oops', "quoted identifier", 3),
        ("postgresql", "select $$ never closed", "dollar-quoted string", 1),
        ("postgresql", "select 1 /* /* */", "block comment", 1),
        ("sqlite", "select [oops", "[identifier]", 1),
    ],
)
def test_unterminated_input(dialect: str, source: str, what: str, line: int) -> None:
    with pytest.raises(MigrationError) as caught:
        split_sql(source, dialect)
    assert caught.value.message == f"line {line}: unterminated {what}"
    assert caught.value.hint


# -- properties ---------------------------------------------------------------------------

_WORDS = st.sampled_from(["select", "x", "from", "t", "1", "+", "(", ")", ",", "where", "=", "$1"])
_NASTY = st.text(alphabet="ab;'\"-/*$\n ", max_size=12)


def _string(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _identifier(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


@st.composite
def statements(draw: st.DrawFn, dialect: str) -> str:
    parts = []
    for _ in range(draw(st.integers(1, 6))):
        kind = draw(st.sampled_from(["word", "string", "identifier", "comment", "dollar"]))
        if kind == "word":
            parts.append(draw(_WORDS))
        elif kind == "string":
            text = draw(_NASTY)
            parts.append(_string(text.replace("\\", "")))
        elif kind == "identifier":
            parts.append(_identifier(draw(_NASTY)))
        elif kind == "comment":
            parts.append("/* " + draw(_NASTY).replace("*", "").replace("/", "") + " */")
        elif dialect == "postgresql":
            body = draw(_NASTY).replace("$", "")
            parts.append(f"$q${body}$q$")
    return "select " + " ".join(parts).strip()


@settings(max_examples=300)
@given(st.data(), st.sampled_from(["default", "sqlite", "postgresql", "mysql"]))
def test_split_returns_the_statements_joined(data: st.DataObject, dialect: str) -> None:
    wanted = data.draw(st.lists(statements(dialect), min_size=1, max_size=6))
    separators = data.draw(
        st.lists(
            st.sampled_from([";\n", ";", " ;\n\n", ";\n-- note; here\n"]),
            min_size=len(wanted),
            max_size=len(wanted),
        )
    )
    source = "".join(s + sep for s, sep in zip(wanted, separators, strict=True))
    result = split_sql(source, dialect)
    assert [_without_note(s.text) for s in result] == [w.strip() for w in wanted]
    again = split_sql(";\n".join(s.text for s in result), dialect)
    assert [s.text for s in again] == [s.text for s in result]
    for statement in result:
        assert statement.text.splitlines()[0].strip() in source.splitlines()[statement.line - 1]


def _without_note(text: str) -> str:
    return text.removeprefix("-- note; here\n")
