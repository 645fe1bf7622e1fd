"""`split_sql` against psql, the mariadb client and sqlite3 on other projects' SQL files.

Runs only with DBSHIFT_CORPUS=1 and a filled cache (`python -m tests.corpus.sqlsplit
setup --mirror ...`, see tests/corpus/sqlsplit.py): `DBSHIFT_CORPUS=1 pytest -m corpus
tests/corpus/test_sqlsplit_corpus.py`. No server is needed: psql and mariadb talk to
the recording listeners of tests/corpus/recorders.py.

Every file must split as the client splits it, except the ones named below with the
reason; a difference anywhere else fails, naming the file and the first statement
that differs.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.corpus import sqlsplit

pytestmark = pytest.mark.corpus

ENABLED = os.environ.get("DBSHIFT_CORPUS") == "1"

#: files whose statements differ from the client's, and why (not a boundary: both
#: sides have the same number of statements, the text differs)
EXPECTED_DIFFERENCES = {
    "psql": {
        "src/test/regress/sql/create_function_c.sql": "psql interpolates :'LAST_ERROR_MESSAGE'",
        "src/test/regress/sql/event_trigger_login.sql": "psql interpolates :'DBNAME'",
    },
    "mariadb": {
        "test/parser/mysql/syntax/fixtures/utility.sql": "HELP is the client's: it sends help '...'",
    },
}
#: files dbshift refuses even without psql's whole-line commands: psql's own tests, a
#: meta-command in the middle of a line (`\g (format=csv)`, `\bind`, `\;`)
EXPECTED_REFUSALS = {
    "psql": {
        "src/test/regress/sql/psql.sql",
        "src/test/regress/sql/psql_pipeline.sql",
        "src/test/regress/sql/transactions.sql",
    },
    "mariadb": {"sys_56.sql", "sys_57.sql"},  # SOURCE ./file.sql
}
CLIENTS = {"postgresql": "psql", "mysql": "mariadb", "sqlite": "sqlite3"}


def _name(path: Path) -> str:
    """The path inside its repository."""
    return path.relative_to(sqlsplit.CACHE).as_posix().split("/", 2)[2]


@pytest.mark.parametrize("backend", sqlsplit.BACKENDS)
def test_split_is_the_clients(backend: str, tmp_path: Path) -> None:
    if not ENABLED:
        pytest.skip("corpus: set DBSHIFT_CORPUS=1 to run it (see tests/corpus/sqlsplit.py)")
    if not sqlsplit.files(backend):
        pytest.skip(
            f"corpus: no {backend} files in {sqlsplit.CACHE / backend}; fill it with "
            "`python -m tests.corpus.sqlsplit setup --mirror OWNER/NAME=GIT_DIR ...`"
        )
    client = CLIENTS[backend]
    if shutil.which(client) is None and not (client == "mariadb" and shutil.which("mysql")):
        pytest.skip(f"corpus: the {client} client is not installed")
    for report in sqlsplit.compare(backend, tmp_path):
        expected = EXPECTED_DIFFERENCES.get(report.oracle, {})
        differing = {_name(c.path): c for c in report.comparisons if not c.agrees}
        unexpected = {n: c.first_difference() for n, c in differing.items() if n not in expected}
        assert not unexpected, f"{report.oracle}: {unexpected}"
        for name in set(differing) & set(expected):
            comparison = differing[name]
            assert len(comparison.ours) == len(comparison.theirs), (name, expected[name])
        refused = {_name(path) for path, _ in report.refused}
        assert refused == EXPECTED_REFUSALS.get(report.oracle, set()), report.refused
        assert not report.misplaced, report.misplaced
        # the oracle did answer on most files (the shell rejects SQLite's own error tests)
        minimum = 0.25 if report.oracle == "sqlite3 shell" else 0.95
        assert len(report.comparisons) >= minimum * len(sqlsplit.files(backend)), report.summary()
