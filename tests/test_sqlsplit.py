"""Splitting SQL migrations into statements, per dialect (pure Python, no database)."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dbshift.errors import MigrationError
from dbshift.migrations.sqlsplit import SqlStatement, split_sql

DIALECTS = ("default", "postgresql", "mysql", "mariadb", "sqlite")


def texts(source: str, dialect: str = "default") -> list[str]:
    return [s.text for s in split_sql(source, dialect)]


# -- the basics, every dialect ------------------------------------------------------------


@pytest.mark.parametrize("dialect", DIALECTS)
def test_basics_in_every_dialect(dialect: str) -> None:
    assert split_sql("select 1; select 2", dialect) == [
        SqlStatement("select 1", 1),
        SqlStatement("select 2", 1),
    ]
    assert texts("  select 1  ;\n\n  select 2  \n", dialect) == ["select 1", "select 2"]
    assert texts("select 'a;b', 'it''s;'; select 2;", dialect) == [
        "select 'a;b', 'it''s;'",
        "select 2",
    ]
    assert texts("select 1 -- not; here\n, 2; select 3", dialect) == [
        "select 1 -- not; here\n, 2",
        "select 3",
    ]
    assert texts("select /* a; b */ 1; select 2", dialect) == ["select /* a; b */ 1", "select 2"]
    assert texts("", dialect) == []
    assert texts(" ;; \n ; ", dialect) == []
    assert texts("-- only; a comment\n/* and; another */\n", dialect) == []


@pytest.mark.parametrize("dialect", ["default", "postgresql", "sqlite"])
def test_double_quotes_are_identifiers(dialect: str) -> None:
    assert texts('select "we;ird""id" from t; select 2', dialect) == [
        'select "we;ird""id" from t',
        "select 2",
    ]


def test_generic_sql() -> None:
    # no backslash escapes, no backticks, brackets, # comments or dollar quotes
    assert texts("select 'a\\'; select 2") == ["select 'a\\'", "select 2"]
    assert texts("select `a;b`") == ["select `a", "b`"]
    assert texts("select [a;b]") == ["select [a", "b]"]
    assert texts("select 1 # x; select 2") == ["select 1 # x", "select 2"]
    assert texts("select $$a;b$$") == ["select $$a", "b$$"]
    # an unknown dialect name is generic; a driver suffix is ignored
    assert texts("select `a;b`", "mssql") == ["select `a", "b`"]
    assert texts("select $$a;b$$", "postgresql+psycopg") == ["select $$a;b$$"]


# -- PostgreSQL --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        # standard strings have no backslash escapes
        ("select 'a\\'; select 2", ["select 'a\\'", "select 2"]),
        # E'...' strings do, in either case, and '' still doubles
        ("select E'it\\'s;', e'\\\\'; select 2", ["select E'it\\'s;', e'\\\\'", "select 2"]),
        ("select E'a''b;c'; select 2", ["select E'a''b;c'", "select 2"]),
        ("select one'x;y'; select 2", ["select one'x;y'", "select 2"]),
        # block comments nest
        (
            "select 1 /* a /* nested; */ still; */ + 1; select 2",
            ["select 1 /* a /* nested; */ still; */ + 1", "select 2"],
        ),
        # dollar quoting, with and without a tag; $1 is a parameter, a$b an identifier
        ("select $$a;'b$$, 1; select 2", ["select $$a;'b$$, 1", "select 2"]),
        ("select $x$ $$; $x$; select 2", ["select $x$ $$; $x$", "select 2"]),
        ("select $_1$;$_1$; select 2", ["select $_1$;$_1$", "select 2"]),
        (
            "select $1::int, $2; select a$b$c, a$$ from t",
            ["select $1::int, $2", "select a$b$c, a$$ from t"],
        ),
        # # is an operator, not a comment; -- always starts one
        ("select 1 # 2; select 3", ["select 1 # 2", "select 3"]),
        ("select 1--2; \n; select 3", ["select 1", "select 3"]),
        (
            "select U&'d\\0061t;a', B'01', X'1f'; select 2",
            ["select U&'d\\0061t;a', B'01', X'1f'", "select 2"],
        ),
    ],
)
def test_postgresql_lexing(source: str, expected: list[str]) -> None:
    assert texts(source, "postgresql") == expected


def test_postgresql_function_bodies() -> None:
    source = (
        "CREATE FUNCTION f() RETURNS trigger AS $body$\n"
        "BEGIN\n"
        "  NEW.x := 'a;b';\n"
        "  RETURN NEW;\n"
        "END;\n"
        "$body$ LANGUAGE plpgsql;\n"
        "CREATE FUNCTION g() RETURNS int AS $$ SELECT 1; $$ LANGUAGE sql;\n"
        "CREATE OR REPLACE FUNCTION h(a int) RETURNS int LANGUAGE sql\n"
        "BEGIN ATOMIC\n"
        "  SELECT 1;\n"
        "  SELECT CASE WHEN a > 1 THEN 2 ELSE (CASE a WHEN 0 THEN 3 END) END;\n"
        "END;\n"
        "CREATE PROCEDURE p() BEGIN ATOMIC INSERT INTO t VALUES (1); END;\n"
        "BEGIN; COMMIT;"
    )
    result = split_sql(source, "postgresql")
    assert [s.line for s in result] == [1, 7, 8, 13, 14, 14]
    assert result[0].text.startswith("CREATE FUNCTION f()")
    assert result[0].text.endswith("$body$ LANGUAGE plpgsql")
    assert result[1].text == "CREATE FUNCTION g() RETURNS int AS $$ SELECT 1; $$ LANGUAGE sql"
    assert result[2].text.startswith("CREATE OR REPLACE") and result[2].text.endswith(" END;\nEND")
    assert result[3].text == "CREATE PROCEDURE p() BEGIN ATOMIC INSERT INTO t VALUES (1); END"
    assert [s.text for s in result[4:]] == ["BEGIN", "COMMIT"]


def test_generic_begin_atomic() -> None:
    source = (
        "CREATE TRIGGER t AFTER INSERT ON a FOR EACH ROW BEGIN ATOMIC DELETE FROM b; END; SELECT 1"
    )
    assert texts(source) == [source[: source.index("; SELECT")], "SELECT 1"]


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("select 1;\n\\set x 1\nselect :x;", "line 2: \\set is a psql meta-command, not SQL"),
        ("select 1 \\gset\n", "line 1: \\gset is a psql meta-command, not SQL"),
        ("select 1 \\; select 2;", "line 1: \\; is a psql meta-command, not SQL"),
        ("\n\n  \\d+ t", "line 3: \\d+ is a psql meta-command, not SQL"),
        ("select 'a' \\", "line 1: \\ is a psql meta-command, not SQL"),
        (
            "copy t (a, b) from stdin;\n1\t'x\n\\.\n",
            "line 1: COPY ... FROM STDIN moves rows through the client (psql), "
            "which a migration does not have",
        ),
        (
            "select 1;\nCOPY (select 1)\n  TO STDOUT with csv;",
            "line 3: COPY ... TO STDOUT moves rows through the client (psql), "
            "which a migration does not have",
        ),
    ],
)
def test_postgresql_refuses_psql_client_commands(source: str, message: str) -> None:
    """What only psql can do (meta-commands, COPY data through the client) is refused
    before anything runs, naming its line; its data lines are never read as SQL."""
    with pytest.raises(MigrationError) as caught:
        split_sql(source, "postgresql")
    assert caught.value.message == message
    assert caught.value.hint and "\n" not in caught.value.hint


def test_postgresql_backslashes_inside_tokens_are_not_commands() -> None:
    source = (
        "select 'a\\', E'\\\\', $$\\set$$, \"x\\y\" /* \\d */ -- \\g\n, 1;"
        " copy t from '/srv/stdin.csv'; copy t to '/tmp/x'; select 'from stdin'"
    )
    assert texts(source, "postgresql") == [
        "select 'a\\', E'\\\\', $$\\set$$, \"x\\y\" /* \\d */ -- \\g\n, 1",
        "copy t from '/srv/stdin.csv'",
        "copy t to '/tmp/x'",
        "select 'from stdin'",
    ]
    # other dialects: not psql's business (MySQL has backslash escapes of its own)
    assert texts("select 1 \\g x; select 2") == ["select 1 \\g x", "select 2"]


@given(st.integers(0, 5), st.sampled_from(["\\set a 1", "\\i x.sql", "\\.", "select 1 \\g"]))
def test_postgresql_meta_command_line_is_named(before: int, command: str) -> None:
    source = "select 'x\\';\n" * before + "/* \\ */ " + command + "\nselect 2;"
    with pytest.raises(MigrationError, match=rf"^line {before + 1}: \\"):
        split_sql(source, "postgresql")


def test_postgresql_follows_standard_conforming_strings() -> None:
    """With it off the server (and psql, told by the server) read backslash escapes in
    '...'; U&'...', B'...' and X'...' never have them."""
    source = (
        "select 'a\\';\n"
        "SET standard_conforming_strings = off;\n"
        "select 'b\\'; still'; select U&'\\' UESCAPE '!', B'1\\', X'f\\';\n"
        "set session standard_conforming_strings to 'on';\n"
        "select 'c\\';\n"
        "set local standard_conforming_strings to off;\n"
        "select 'd\\';x';\n"
        "reset all;\n"
        "select 'e\\'"
    )
    assert texts(source, "postgresql") == [
        "select 'a\\'",
        "SET standard_conforming_strings = off",
        "select 'b\\'; still'",
        "select U&'\\' UESCAPE '!', B'1\\', X'f\\'",
        "set session standard_conforming_strings to 'on'",
        "select 'c\\'",
        "set local standard_conforming_strings to off",
        "select 'd\\';x'",
        "reset all",
        "select 'e\\'",
    ]
    # a SET of another parameter, or one inside a string, changes nothing
    assert texts(
        "set x = 'standard_conforming_strings = off'; select 'f\\'; select 1", "postgresql"
    ) == [
        "set x = 'standard_conforming_strings = off'",
        "select 'f\\'",
        "select 1",
    ]


# -- MySQL and MariaDB --------------------------------------------------------------------


@pytest.mark.parametrize("dialect", ["mysql", "mariadb"])
@pytest.mark.parametrize(
    ("source", "expected"),
    [
        # backslash escapes in both kinds of strings; "..." is a string
        (
            'select \'it\\\'s;\', \'a\\\\\'; select "a;\\"b", "c""d;"; select 2',
            ["select 'it\\'s;', 'a\\\\'", 'select "a;\\"b", "c""d;"', "select 2"],
        ),
        ("select _utf8mb4'x\\';y', N'z'; select 2", ["select _utf8mb4'x\\';y', N'z'", "select 2"]),
        # backtick identifiers, doubled
        ("select `a;``b` from t; select 2", ["select `a;``b` from t", "select 2"]),
        # # comments; -- is a comment only before whitespace
        ("select 1 # c; d\n; select 2", ["select 1", "select 2"]),
        ("select 1--1; select 2 --\n; select 3 -- x;\n", ["select 1--1", "select 2", "select 3"]),
        ("select 1 --\tx;\n; select 2", ["select 1", "select 2"]),
        # executable comments are code
        ("select /*!40101 1; */ 2; select 3", ["select /*!40101 1; */ 2", "select 3"]),
        (
            "/*!40101 SET NAMES utf8mb4 */;\n/*M!100100 SET x=1 */;",
            ["/*!40101 SET NAMES utf8mb4 */", "/*M!100100 SET x=1 */"],
        ),
        # block comments do not nest; brackets and $ are nothing special
        ("select 1 /* a /* b; */ + 1; select 2", ["select 1 /* a /* b; */ + 1", "select 2"]),
        ("select $$a;b$$", ["select $$a", "b$$"]),
        ("select [a;b]", ["select [a", "b]"]),
    ],
)
def test_mysql_lexing(dialect: str, source: str, expected: list[str]) -> None:
    assert texts(source, dialect) == expected


def test_mysql_delimiter() -> None:
    source = (
        "-- the procedure\n"
        "DELIMITER //\n"
        "CREATE PROCEDURE p()\n"
        "BEGIN\n"
        "  SELECT 'a//b';  -- //\n"
        "  SELECT 2;\n"
        "END //\n"
        "select 1 //\n"
        "  delimiter $$  \n"
        "CREATE FUNCTION f() RETURNS INT RETURN 1$$\n"
        "CREATE TRIGGER t BEFORE INSERT ON x FOR EACH ROW BEGIN SET NEW.a = 1; END$$\n"
        "DELIMITER ;\n"
        "select 3; select 4"
    )
    result = split_sql(source, "mysql")
    assert [s.line for s in result] == [3, 8, 10, 11, 13, 13]
    assert result[0].text == (
        "CREATE PROCEDURE p()\nBEGIN\n  SELECT 'a//b';  -- //\n  SELECT 2;\nEND"
    )
    assert [s.text for s in result[1:]] == [
        "select 1",
        "CREATE FUNCTION f() RETURNS INT RETURN 1",
        "CREATE TRIGGER t BEFORE INSERT ON x FOR EACH ROW BEGIN SET NEW.a = 1; END",
        "select 3",
        "select 4",
    ]


def test_mysql_delimiter_only_at_the_start_of_a_statement_and_line() -> None:
    assert texts("select 1, delimiter; select 2", "mysql") == ["select 1, delimiter", "select 2"]
    assert texts("select\nDELIMITER //\n;", "mysql") == ["select\nDELIMITER //"]
    assert texts("DELIMITER;", "mysql") == ["DELIMITER"]
    assert texts("DELIMITER ;;\nselect 1;;", "mysql") == ["select 1"]
    # only MySQL clients know the command
    assert texts("DELIMITER //\nselect 1;", "postgresql") == ["DELIMITER //\nselect 1"]


def test_mysql_delimiter_ends_statements_inside_words_but_not_strings() -> None:
    source = "DELIMITER $$\nselect 'a$$b', `c$$`, x$$select END$$"
    assert texts(source, "mysql") == ["select 'a$$b', `c$$`, x", "select END"]


def test_mysql_compound_statements_without_delimiter() -> None:
    procedure = (
        "CREATE DEFINER=`root`@`localhost` PROCEDURE p(IN n INT)\n"
        "BEGIN\n"
        "  DECLARE i INT DEFAULT 0;\n"
        "  DECLARE done INT DEFAULT 0;\n"
        "  DECLARE CONTINUE HANDLER FOR NOT FOUND SET done = 1;\n"
        "  DECLARE EXIT HANDLER FOR SQLEXCEPTION BEGIN ROLLBACK; END;\n"
        "  DROP TABLE IF EXISTS tmp;\n"
        "  CREATE TABLE IF NOT EXISTS tmp (a INT);\n"
        "  IF NOT done THEN SET i = 1; ELSEIF n > 2 THEN SET i = 2; ELSE SET i = 3; END IF;\n"
        "  IF (n > 1) THEN SET i = IF(n > 2, 1, 2); END IF;\n"
        "  SET @s = REPEAT('x', 3);\n"
        "  lbl: LOOP\n"
        "    SET i = i + 1;\n"
        "    IF i > n THEN LEAVE lbl; END IF;\n"
        "  END LOOP lbl;\n"
        "  WHILE i > 0 DO SET i = i - 1; END WHILE;\n"
        "  REPEAT SET i = i + 1; UNTIL i > 3 END REPEAT;\n"
        "  CASE n WHEN 1 THEN SELECT CASE WHEN i THEN IF(i, 1, 2) ELSE 0 END; ELSE BEGIN END; END CASE;\n"
        "  SELECT (CASE WHEN i THEN 1 END) FROM tmp;\n"
        "END"
    )
    trigger = (
        "CREATE TRIGGER t BEFORE INSERT ON x FOR EACH ROW\n"
        "  IF NEW.a IS NULL THEN SET NEW.a = 1; SET NEW.b = 2; END IF"
    )
    single = "CREATE TRIGGER u BEFORE UPDATE ON x FOR EACH ROW SET NEW.a = CASE WHEN 1 THEN 2 END"
    event = (
        "CREATE EVENT e ON SCHEDULE EVERY 1 DAY DO BEGIN DELETE FROM log; OPTIMIZE TABLE log; END"
    )
    function = (
        "CREATE OR REPLACE FUNCTION f(a INT) RETURNS INT DETERMINISTIC\n"
        "BEGIN\n  DECLARE b INT;\n  SET b = a * 2;\n  RETURN b;\nEND"
    )
    anonymous = "BEGIN NOT ATOMIC\n  FOR i IN 1..3 DO INSERT INTO t VALUES (i); END FOR;\nEND"
    statements = [procedure, trigger, single, event, function, anonymous]
    plain = [
        "CREATE TABLE event (begin INT, end INT)",
        "BEGIN",
        "INSERT INTO t VALUES (1)",
        "COMMIT",
    ]
    source = ";\n".join(statements + plain) + ";"
    for dialect in ("mysql", "mariadb"):
        assert texts(source, dialect) == statements + plain


def test_mysql_without_compound_header_splits_at_every_semicolon() -> None:
    assert texts("SELECT 1; BEGIN; SELECT 2; END;", "mysql") == [
        "SELECT 1",
        "BEGIN",
        "SELECT 2",
        "END",
    ]


@pytest.mark.parametrize("dialect", ["mysql", "mariadb"])
def test_mysql_refuses_the_source_command(dialect: str) -> None:
    with pytest.raises(MigrationError) as caught:
        split_sql("select 1;\n  source ./views/x.sql;\nselect 2", dialect)
    assert caught.value.message == "line 2: SOURCE is a mysql client command, not SQL"
    assert texts("select source from t; select 1 source", dialect) == [
        "select source from t",
        "select 1 source",
    ]


# -- SQLite ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("select [a;b] from t; select `c;``d`", ["select [a;b] from t", "select `c;``d`"]),
        ("select 'a\\'; select \"x;\\\"", ["select 'a\\'", 'select "x;\\"']),
        ("select 1 /* a /* b; */ + 1; select 2", ["select 1 /* a /* b; */ + 1", "select 2"]),
        ("select $a, @b, :c; select ?1", ["select $a, @b, :c", "select ?1"]),
    ],
)
def test_sqlite_lexing(source: str, expected: list[str]) -> None:
    assert texts(source, "sqlite") == expected


def test_sqlite_trigger_bodies() -> None:
    first = (
        "CREATE TRIGGER t AFTER INSERT ON a BEGIN\n"
        "  UPDATE b SET x = CASE WHEN NEW.y THEN 1 ELSE 2 END;\n"
        "  INSERT INTO log VALUES ('END;');\n"
        "  DELETE FROM c WHERE z = (CASE NEW.y WHEN 1 THEN 2 END);\n"
        "END"
    )
    second = "CREATE TEMP TRIGGER IF NOT EXISTS u BEFORE DELETE ON a BEGIN SELECT RAISE(ABORT, 'no'); END"
    source = f"{first};\n{second};\nSELECT 1; BEGIN; END;"
    result = split_sql(source, "sqlite")
    assert [s.text for s in result] == [first, second, "SELECT 1", "BEGIN", "END"]
    assert [s.line for s in result] == [1, 6, 7, 7, 7]


# -- leading comments and line numbers -----------------------------------------------------


def test_leading_comments_directly_above_are_kept() -> None:
    source = (
        "-- file header\n"
        "\n"
        "-- dbshift:ignore DS001\n"
        "-- another line\n"
        "ALTER TABLE t ADD x INT;  -- trailing, dropped\n"
        "/* block; */ ALTER TABLE t ADD y INT; /* same line */ SELECT 1\n"
        "-- after the last token, dropped\n"
        ";\n"
        "-- paragraph\n"
        "\n"
        "SELECT 2 /* dropped */;\n"
        "-- orphan at the end\n"
    )
    result = split_sql(source, "postgresql")
    assert result == [
        SqlStatement("-- dbshift:ignore DS001\n-- another line\nALTER TABLE t ADD x INT", 3),
        SqlStatement("/* block; */ ALTER TABLE t ADD y INT", 6),
        SqlStatement("/* same line */ SELECT 1", 6),
        SqlStatement("SELECT 2", 11),
    ]


def test_multiline_block_comment_above_a_statement() -> None:
    source = "SELECT 1; /* trailing\n still */\n/*\n * about two\n */\nSELECT 2"
    assert split_sql(source) == [
        SqlStatement("SELECT 1", 1),
        SqlStatement("/*\n * about two\n */\nSELECT 2", 3),
    ]


def test_line_numbers_count_from_first_line() -> None:
    result = split_sql("\n\nselect 1;\n-- about two\nselect\n2;", first_line=10)
    assert [(s.line, s.text) for s in result] == [(12, "select 1"), (13, "-- about two\nselect\n2")]


def test_line_numbers_skip_newlines_inside_tokens() -> None:
    source = "select 'a\nb';\r\nselect $$\n\n$$;\r\n\r\n/* x\n */ select 3; select\n4"
    result = split_sql(source, "postgresql")
    assert [s.line for s in result] == [1, 3, 7, 8]
    assert result[1].text == "select $$\n\n$$"


# -- errors ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("dialect", "source", "message"),
    [
        ("default", "select 1;\nselect 'oops;", "line 2: unterminated string"),
        ("default", 'select 1;\n\nselect "oops;', "line 3: unterminated quoted identifier"),
        ("postgresql", "select 'a\\';\nselect '", "line 2: unterminated string"),
        ("postgresql", "select E'a\\'; select 1", "line 1: unterminated string"),
        (
            "postgresql",
            "\nselect $$ never; closed $ $",
            "line 2: unterminated dollar-quoted string $$",
        ),
        ("postgresql", "select $fn$ x $FN$", "line 1: unterminated dollar-quoted string $fn$"),
        ("postgresql", "select 1 /* /* */", "line 1: unterminated block comment"),
        ("default", "select 1 /*\n\n", "line 1: unterminated block comment"),
        ("mysql", "select 'a\\'", "line 1: unterminated string"),
        ("mysql", 'select "a\\\\\\"', "line 1: unterminated string"),
        ("mysql", "select `a``", "line 1: unterminated quoted identifier"),
        ("sqlite", "select `a", "line 1: unterminated quoted identifier"),
        ("sqlite", "select\n[oops", "line 2: unterminated [identifier]"),
        ("mysql", "DELIMITER\nselect 1", "line 1: DELIMITER without a terminator"),
        ("mysql", "DELIMITER \\\\", "line 1: DELIMITER cannot contain a backslash"),
    ],
)
def test_errors(dialect: str, source: str, message: str) -> None:
    with pytest.raises(MigrationError) as caught:
        split_sql(source, dialect, first_line=1)
    assert caught.value.message == message
    assert str(caught.value) == message and "\n" not in message
    assert caught.value.hint and "\n" not in caught.value.hint


def test_error_lines_count_from_first_line() -> None:
    with pytest.raises(MigrationError, match=r"^line 42: unterminated string$"):
        split_sql("select 1;\n\nselect 'x", first_line=40)


def test_pathological_inputs_stay_linear() -> None:
    size = 100_000
    assert len(split_sql("/*" * size + "*/" * size + " select 1", "postgresql")) == 1
    assert len(split_sql("select '" + "\\'" * size + "'", "mysql")) == 1
    assert len(split_sql("select '" + "''" * size + "'")) == 1
    assert len(split_sql("select 1;" * size)) == size
    assert split_sql("-- x\n" * size) == []
    with pytest.raises(MigrationError):
        split_sql("select '" + "\\" * size, "mysql")
    with pytest.raises(MigrationError):
        split_sql("/*" * size, "postgresql")


# -- properties --------------------------------------------------------------------------

_WORDS = st.sampled_from(
    ["x", "from", "t", "1", "+", "(", ")", ",", "where", "=", "$1", "2.5", "a.b", "<>", "%"]
)
_NASTY = st.text(alphabet="ab;'\"`-/*$#\\[]\n ", max_size=12)
_PROPERTY_DIALECTS = st.sampled_from(["default", "postgresql", "mysql", "sqlite"])


@st.composite
def _fragment(draw: st.DrawFn, dialect: str) -> str:
    text = draw(_NASTY)
    kinds = ["word", "string", "identifier", "block comment", "line comment"]
    if dialect == "postgresql":
        kinds += ["dollar", "escape string"]
    if dialect == "mysql":
        kinds += ["double-quoted string", "executable comment"]
    if dialect == "sqlite":
        kinds += ["bracket"]
    kind = draw(st.sampled_from(kinds))
    if kind == "word":
        return draw(_WORDS)
    if kind == "string":
        if dialect == "mysql":
            return (
                "'"
                + text.replace("\\", "\\\\").replace("'", draw(st.sampled_from(["''", "\\'"])))
                + "'"
            )
        return "'" + text.replace("'", "''") + "'"
    if kind == "double-quoted string":
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if kind == "escape string":
        return "E'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"
    if kind == "identifier":
        quote = "`" if dialect == "mysql" or (dialect == "sqlite" and draw(st.booleans())) else '"'
        return quote + text.replace(quote, quote * 2) + quote
    if kind == "bracket":
        return "[" + text.replace("]", "") + "]"
    if kind == "block comment":
        return "/* " + text.replace("*", "").replace("/", "") + " */"
    if kind == "executable comment":
        return "/*!40101 " + text.replace("*", "").replace("/", "") + " */"
    if kind == "line comment":
        return "-- " + text.replace("\n", "").replace("\r", "") + "\n"
    tag = draw(st.sampled_from(["", "q", "body_1"]))
    return f"${tag}$" + text.replace("$", "") + f"${tag}$"


@st.composite
def _statement(draw: st.DrawFn, dialect: str) -> str:
    parts = ["select", *draw(st.lists(_fragment(dialect), max_size=6)), draw(_WORDS)]
    depth = 0  # PostgreSQL: a `;` inside parentheses does not end a statement (as psql)
    for part in parts:
        depth = depth + 1 if part == "(" else max(depth - 1, 0) if part == ")" else depth
    return " ".join(parts + [")"] * depth)


@dataclasses.dataclass
class _Piece:
    gap: str  # before the statement (after the previous terminator)
    lead: str  # comments directly above it
    body: str
    trailing: str  # after its `;`, on the same line


@st.composite
def _script(draw: st.DrawFn, dialect: str) -> list[_Piece]:
    pieces = []
    for index in range(draw(st.integers(1, 6))):
        lead = draw(
            st.sampled_from(
                ["", "-- lead; 'x\n", "/* lead; */ ", "/* a\n b; */\n", "-- one\n-- two;\n"]
            )
        )
        gaps = ["\n", "\n\n", " \n\t\n  ", "\n-- orphan; 'x\n\n", "\n/* orphan */\n\n"]
        if not lead:
            gaps += ["", " ", "\t"]
        gap = draw(st.sampled_from(gaps)) if index or draw(st.booleans()) else ""
        trailing = draw(st.sampled_from(["", " ", " -- trailing; 'x", " /* trailing; */"]))
        pieces.append(_Piece(gap, lead, draw(_statement(dialect)), trailing))
    return pieces


@pytest.mark.slow
@settings(max_examples=400)
@given(st.data(), _PROPERTY_DIALECTS)
def test_split_finds_the_statements_joined(data: st.DataObject, dialect: str) -> None:
    pieces = data.draw(_script(dialect))
    final_semicolon = data.draw(st.booleans())
    source, expected, carried = "", [], ""
    for index, piece in enumerate(pieces):
        if carried and "\n" not in piece.gap:
            # a block comment after the previous `;` with this statement on its line
            at = source.rindex(carried)
            expected.append(
                SqlStatement(carried + piece.gap + piece.body, source.count("\n", 0, at) + 1)
            )
        else:
            line = (source + piece.gap).count("\n") + 1
            expected.append(SqlStatement(piece.lead + piece.body, line))
        source += piece.gap + piece.lead + piece.body
        carried = ""
        if index < len(pieces) - 1 or final_semicolon:
            source += ";" + piece.trailing
            carried = piece.trailing.strip() if "/*" in piece.trailing else ""
            if piece.trailing.startswith(" --"):
                source += "\n"
    first_line = data.draw(st.integers(1, 1000))
    result = split_sql(source, dialect, first_line=first_line)
    assert result == [dataclasses.replace(s, line=s.line + first_line - 1) for s in expected]
    again = split_sql(";\n".join(s.text for s in result), dialect)
    assert [s.text for s in again] == [s.text for s in result]


@settings(max_examples=300)
@given(st.text(alphabet="ab ;'\"`-/*$#\\[]\nE", max_size=40), st.sampled_from(DIALECTS))
def test_any_input_splits_or_raises_migration_error(source: str, dialect: str) -> None:
    try:
        result = split_sql(source, dialect)
    except MigrationError as error:
        assert error.message.startswith("line ") and "\n" not in error.message
        return
    cursor = 0
    for statement in result:
        assert statement.text and statement.text == statement.text.strip()
        found = source.find(statement.text, cursor)
        assert found >= 0
        assert statement.line >= source.count("\n", 0, cursor) + 1
        cursor = found + len(statement.text)
