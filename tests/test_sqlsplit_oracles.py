"""The splitter against the clients themselves: psql's own split (what `psql -e` echoes
as it sends each query, and what it sends to a recording listener), the mariadb client's
(what it sends to one), and `sqlite3.complete_statement`. The same oracles on other
projects' SQL files: tests/corpus/test_sqlsplit_corpus.py."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
from pathlib import Path

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dbshift.migrations.sqlsplit import split_sql
from tests.corpus.sqlsplit import fingerprint, mariadb_statements, psql_statements

PSQL = shutil.which("psql")

#: cases psql splits otherwise than a naive `;` split would
PG_CASES = [
    "CREATE RULE r AS ON INSERT TO t DO ALSO (INSERT INTO a VALUES (1); INSERT INTO b VALUES (2));",
    "SELECT 1 -- a comment ended by a bare carriage return\r;\nSELECT 2;",
    "SELECT (1, (2; 3)); SELECT ')' || (4);",
    "SELECT $$;$$, ($x$ ; $x$);\nSELECT 'a;(' ;",
    "SELECT (1 /* ; ( */ ;\n2);",
]

# Fragments a statement is made of; the `;` inside parentheses must not end it.
_FRAGMENT = st.sampled_from(
    ["SELECT", " ", "1", "(", ")", "(;)", "'(;'", "$$;)$$", "/* ; */", "-- ;(\r", "-- ;\n", ","]
)


def _psql(database: str, path: Path, *options: str) -> subprocess.CompletedProcess[bytes]:
    assert PSQL is not None
    command = [PSQL, "-X", "-q", "-h", "127.0.0.1", "-U", "postgres", "-d", database]
    return subprocess.run(
        [*command, *options, "-f", str(path)], capture_output=True, timeout=60, check=False
    )


def _check(db_url: str, tmp_path: Path, sql: str) -> None:
    """Same number of statements as psql sends (each query prints one row or one
    error: the inputs are one-row SELECTs or broken), and each of ours, whitespace
    aside, is what psql echoes next as it sends it (psql also sends a comment before
    the `;`, which we drop)."""
    database = str(sa.engine.make_url(db_url).database)
    path = tmp_path / "input.sql"
    path.write_bytes(sql.encode())
    echo = _psql(database, path, "-e", "-o", "/dev/null")
    errors, echoed = echo.stderr.decode().count("ERROR:"), echo.stdout.decode()
    rows = len(_psql(database, path, "-A", "-t").stdout.decode().splitlines())
    ours = split_sql(sql, "postgresql")
    flat, at = "".join(echoed.split()), 0
    for statement in ours:
        text = "".join(statement.text.split())
        found = flat.find(text, at)
        assert found >= 0, (statement.text, echoed)
        at = found + len(text)
    assert len(ours) == errors + rows, echoed


@pytest.mark.backends("postgresql")
@pytest.mark.parametrize("sql", PG_CASES)
def test_postgresql_split_is_psqls(db_url: str, tmp_path: Path, sql: str) -> None:
    _check(db_url, tmp_path, sql)


@pytest.mark.backends("postgresql")
@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(st.lists(_FRAGMENT, min_size=1, max_size=8).map(" ".join), min_size=1, max_size=4))
def test_postgresql_split_is_psqls_generated(
    db_url: str, tmp_path_factory: pytest.TempPathFactory, bodies: list[str]
) -> None:
    # every statement starts with a word and is terminated, so psql drops nothing
    sql = "".join(f"SELECT 0, {body}\n;\n" for body in bodies)
    _check(db_url, tmp_path_factory.mktemp("psql"), sql)


@pytest.mark.parametrize(
    "sql",
    [
        "EXPLAIN CREATE TRIGGER g AFTER INSERT ON t BEGIN SELECT 1; END; SELECT 2;",
        "EXPLAIN CREATE TEMP TRIGGER g AFTER INSERT ON t BEGIN SELECT 1; SELECT 2; END;",
        "EXPLAIN SELECT 1; SELECT 2;",
    ],
)
def test_sqlite_split_is_complete_statements(sql: str) -> None:
    """A statement ends exactly where `sqlite3.complete_statement` first says so."""
    ends, start = [], 0
    for index, char in enumerate(sql):
        if char == ";" and sqlite3.complete_statement(sql[start : index + 1]):
            ends.append(sql[start:index].strip())
            start = index + 1
    assert [s.text for s in split_sql(sql, "sqlite")] == ends


# -- through the recording listeners: the client's own boundaries, no server involved ------

#: psql follows the server's `standard_conforming_strings` (the listener reports it back
#: as the server would) from the next line on; U&'...' and B'...' never have backslash
#: escapes
PG_RECORDED_CASES = [
    "select 'a\\';\nset standard_conforming_strings = off;\nselect 'b\\';c'; select 2;",
    "SET standard_conforming_strings TO off;\nselect U&'\\' UESCAPE '!', B'1\\';\n"
    "RESET standard_conforming_strings;\nselect 'd\\'; select 3;",
]
#: the mariadb client with DELIMITER, compound bodies and executable comments
MYSQL_RECORDED_CASES = [
    "DELIMITER //\nCREATE PROCEDURE p() BEGIN SELECT 1; SELECT ';'; END//\n"
    "DELIMITER ;\nSELECT 'a\\';' /*!50001 , 1 */;\n# c;\nSELECT 2 -- x;\n;",
    "DELIMITER $$\nCREATE TRIGGER t BEFORE INSERT ON x FOR EACH ROW\nBEGIN\n"
    "  IF NEW.a THEN SET NEW.b = 1; END IF;\nEND$$\nCREATE EVENT e ON SCHEDULE EVERY 1 DAY "
    "DO BEGIN DELETE FROM x; END$$\nDELIMITER ;\nUSE test;\nSELECT 3;",
]


@pytest.mark.skipif(PSQL is None, reason="psql is not installed")
@pytest.mark.parametrize("sql", PG_RECORDED_CASES)
def test_postgresql_split_is_what_psql_sends(tmp_path: Path, sql: str) -> None:
    sent = psql_statements(sql, tmp_path)
    assert sent is not None
    theirs = [fingerprint(q, "postgresql") for q in sent]
    assert [fingerprint(s.text, "postgresql") for s in split_sql(sql, "postgresql")] == theirs


@pytest.mark.skipif(
    shutil.which("mariadb") is None and shutil.which("mysql") is None,
    reason="the mariadb/mysql client is not installed",
)
@pytest.mark.parametrize("sql", MYSQL_RECORDED_CASES)
def test_mariadb_split_is_what_the_client_sends(tmp_path: Path, sql: str) -> None:
    theirs = [fingerprint(q, "mysql") for q in mariadb_statements(sql, tmp_path)]
    assert [fingerprint(s.text, "mysql") for s in split_sql(sql, "mariadb")] == theirs
