"""Bad input: one line naming the culprit with a hint, the documented exit code, no
traceback unless --debug, and the database and files exactly as they were."""

from __future__ import annotations

import ast
import dataclasses
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa

import dbshift
from dbshift import errors
from tests.helpers import Project, run_process

PYTHON = [sys.executable, "-m", "dbshift"]

TABLE = 'op.create_table("t", sa.Column("id", sa.Integer, primary_key=True))'
BASE = "20260101T000001_base"


@pytest.fixture
def project(tmp_path: Path, db_url: str, capsys: pytest.CaptureFixture[str]) -> Project:
    project = Project(tmp_path / "proj", db_url, capsys)
    project.python("base", TABLE)
    project.ok("upgrade")
    return project


def _malformed_file(name: str, text: str) -> Callable[[Project], None]:
    """A file written by hand, malformed on purpose (the helpers only write good ones)."""
    return lambda p: (p.migrations / name).write_text(text)


def _toml(text: str) -> Callable[[Project], None]:
    """Replace dbshift.toml; `{url}` is the test database's URL."""
    return lambda p: (p.root / "dbshift.toml").write_text(text.replace("{url}", p.url))


def _applied(write: Callable[[Project], object]) -> Callable[[Project], None]:
    """Write a migration with `write`, then apply it."""

    def setup(p: Project) -> None:
        write(p)
        p.ok("upgrade")

    return setup


def _no_database(p: Project) -> None:
    """Point the configuration at a database that does not exist on the same server."""
    if p.url.startswith("sqlite"):
        url = "sqlite:////nonexistent-dbshift-dir/app.db"
    else:
        url = p.url.rsplit("/", 1)[0] + "/dbshift_no_such_database"
    (p.root / "dbshift.toml").write_text(f'url = "{url}"\n')


def _edit_sums(p: Project, edit: Callable[[str], str]) -> None:
    path = p.migrations / "dbshift.sum"
    path.write_text(edit(path.read_text()))


def _nothing(p: Project) -> None:
    pass


def _git(p: Project, *args: str) -> None:
    who = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com"}
    who |= {"GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com"}
    env = {**os.environ, **who}
    subprocess.run(["git", *args], cwd=p.root, env=env, check=True, capture_output=True)


def _applied_on_another_branch(p: Project) -> None:
    """A migration applied from branch `feature`, then `main` checked out without it."""
    (p.root / ".gitignore").write_text("__pycache__/\n")
    _git(p, "init", "-q", "-b", "main")
    _git(p, "add", "-A")
    _git(p, "commit", "-qm", "base")
    _git(p, "checkout", "-qb", "feature")
    p.python("feature", 'op.execute("SELECT 1")')
    _git(p, "add", "-A")
    _git(p, "commit", "-qm", "feature")
    p.ok("upgrade")
    _git(p, "checkout", "-q", "main")


def _models(text: str) -> Callable[[Project], None]:
    """Models for `make`: a module of its own (never one imported before) holding `text`."""

    def setup(p: Project) -> None:
        module = f"bad_models_{uuid.uuid4().hex[:8]}"
        (p.root / f"{module}.py").write_text("import sqlalchemy as sa\n" + text)
        with (p.root / "dbshift.toml").open("a") as toml:
            toml.write(f'models = ["{module}:db"]\n')

    return setup


def _strict_table_then_varchar(p: Project) -> None:
    """A STRICT table (applied), then a migration giving it a type STRICT refuses."""
    p.python(
        "strict",
        'op.execute("CREATE TABLE s (id INTEGER PRIMARY KEY, n INT) STRICT")\n'
        'op.execute("INSERT INTO s VALUES (1, 2)")',
    )
    p.ok("upgrade")
    p.python("widen", 'op.alter_column("s", "n", type_=sa.String(9))')


@dataclasses.dataclass(frozen=True)
class Case:
    setup: Callable[[Project], object]
    args: list[str]
    code: int
    #: text the one-line message must contain (it names the culprit)
    fragment: str
    #: the case reaches the database: run it on every backend, not only SQLite
    database: bool = False
    #: text the hint must contain, where the hint is what the case is about
    hint: str = ""


CASES: dict[str, Case] = {
    # -- headers and the graph (checked before the sum file and the database) ---------
    "malformed header: python without parents": Case(
        _malformed_file("20270101T000000_x.py", '"""x"""\ndef upgrade(op):\n    pass\n'),
        ["upgrade"],
        4,
        "20270101T000000_x.py:1: no `parents",
    ),
    "malformed header: parents not a literal": Case(
        _malformed_file("20270101T000000_x.py", '"""x"""\nparents = get()\n'),
        ["status"],
        4,
        "20270101T000000_x.py:2: cannot read parents",
    ),
    "malformed header: parents not a list of ids": Case(
        _malformed_file("20270101T000000_x.py", '"""x"""\nparents = [1, 2]\n'),
        ["heads"],
        4,
        "20270101T000000_x.py",
    ),
    "malformed header: sql without parents": Case(
        _malformed_file("20270101T000000_x.sql", "-- x\n-- dbshift:up\nSELECT 1;\n"),
        ["heads"],
        4,
        "20270101T000000_x.sql",
    ),
    "malformed header: transactional not a bool": Case(
        _malformed_file(
            "20270101T000000_x.py",
            f'"""x"""\nparents = ["{BASE}"]\ntransactional = "no"\n',
        ),
        ["heads"],
        4,
        "20270101T000000_x.py:3",
    ),
    "malformed header: empty python file": Case(
        _malformed_file("20270101T000000_x.py", ""), ["heads"], 4, "20270101T000000_x.py:1"
    ),
    "malformed header: not utf-8": Case(
        lambda p: (p.migrations / "20270101T000000_x.py").write_bytes(b"\xff\xfe\x00 oops"),
        ["heads"],
        4,
        "20270101T000000_x.py: not UTF-8",
    ),
    "malformed header: sql down section without an up section": Case(
        _malformed_file("20270101T000000_x.sql", "-- x\n-- parents:\n-- dbshift:down\nSELECT 1;\n"),
        ["heads"],
        4,
        "20270101T000000_x.sql:4",
    ),
    "migration that is its own parent": Case(
        _malformed_file("20270101T000000_x.py", '"""x"""\nparents = ["20270101T000000_x"]\n'),
        ["upgrade"],
        4,
        "cycle: 20270101T000000_x.py -> 20270101T000000_x.py",
    ),
    "missing parent": Case(
        _malformed_file("20270101T000000_x.py", '"""x"""\nparents = ["20200101T000000_gone"]\n'),
        ["upgrade"],
        4,
        "20200101T000000_gone",
    ),
    "cycle": Case(
        lambda p: (
            _malformed_file("20270101T000000_a.py", '"""a"""\nparents = ["20270101T000001_b"]\n')(
                p
            ),
            _malformed_file("20270101T000001_b.py", '"""b"""\nparents = ["20270101T000000_a"]\n')(
                p
            ),
        ),
        ["upgrade"],
        4,
        "cycle",
    ),
    "duplicate id": Case(
        _malformed_file(f"{BASE}.sql", "-- dup\n-- parents:\n-- dbshift:up\nSELECT 1;\n"),
        ["heads"],
        4,
        f"duplicate migration id {BASE}",
    ),
    # -- dbshift.sum (checked after the graph, before the database) -------------------
    "tampered sum file": Case(
        lambda p: _edit_sums(p, lambda text: text.replace(" ", " x", 2)),
        ["upgrade"],
        4,
        "dbshift.sum was edited by hand",
    ),
    "missing sum file": Case(
        lambda p: (p.migrations / "dbshift.sum").unlink(),
        ["status"],
        4,
        "migrations/dbshift.sum is missing",
    ),
    "unreadable sum file": Case(
        lambda p: _edit_sums(p, lambda text: text + "garbage\n"),
        ["heads"],
        4,
        "cannot read line 'garbage'",
    ),
    "sum file with conflict markers": Case(
        lambda p: _edit_sums(p, lambda text: f"<<<<<<< HEAD\n{text}=======\n{text}>>>>>>> b\n"),
        ["upgrade"],
        4,
        "git conflict markers",
    ),
    "older migration edited": Case(
        lambda p: (
            p.python("next", 'op.execute("SELECT 1")'),
            _malformed_file(f"{BASE}.py", (p.migrations / f"{BASE}.py").read_text() + "#\n")(p),
        ),
        ["upgrade"],
        4,
        f"{BASE}.py changed since dbshift.sum recorded it",
    ),
    "rebase with one head": Case(_nothing, ["rebase"], 2, "nothing to rebase"),
    # -- status and history report integrity problems (and their one line), exit 4 ----
    "status with a tampered sum file": Case(
        lambda p: _edit_sums(p, lambda text: text.replace(" ", " x", 2)),
        ["status"],
        4,
        "dbshift.sum was edited by hand",
    ),
    "history with an older migration edited": Case(
        lambda p: (
            p.python("next", 'op.execute("SELECT 1")'),
            _malformed_file(f"{BASE}.py", (p.migrations / f"{BASE}.py").read_text() + "#\n")(p),
        ),
        ["history"],
        4,
        f"{BASE}.py changed since dbshift.sum recorded it (and 1 more",
        database=True,
    ),
    "status with a deleted applied migration": Case(
        lambda p: ((p.migrations / f"{BASE}.py").unlink(), p.record_sums()),
        ["status"],
        4,
        f"applied migration {BASE} has no file in the migrations folder",
        database=True,
    ),
    # -- targets ---------------------------------------------------------------------
    "ambiguous prefix": Case(
        lambda p: p.python("other", 'op.execute("SELECT 1")'),
        ["upgrade", "2026"],
        2,
        "ambiguous",
        database=True,
    ),
    "unknown target": Case(_nothing, ["upgrade", "nonexistent"], 2, "nonexistent", database=True),
    "downgrade needs a target": Case(_nothing, ["downgrade"], 2, "downgrade needs a TARGET"),
    "head with several heads": Case(
        lambda p: (
            p.python("l", 'op.execute("SELECT 1")', parents=[BASE]),
            p.python("r", 'op.execute("SELECT 1")', parents=[BASE]),
        ),
        ["upgrade", "head"],
        2,
        "2 heads",
        database=True,
    ),
    "downgrade to a migration that is not applied": Case(
        lambda p: p.python("later", 'op.execute("SELECT 1")'),
        ["downgrade", "20260101T000002_later"],
        2,
        "20260101T000002_later is not applied",
        database=True,
    ),
    "downgrade to a migration on a branch that is not applied": Case(
        lambda p: (
            _applied(lambda p: p.python("l", 'op.execute("SELECT 1")', parents=[BASE]))(p),
            p.python("r", 'op.execute("SELECT 1")', parents=[BASE]),
        ),
        ["downgrade", "20260101T000003_r"],
        2,
        "20260101T000003_r is not applied",
        database=True,
    ),
    "target below the first migration": Case(
        _nothing, ["downgrade", f"{BASE}-2"], 2, "goes below the first migration", database=True
    ),
    "upgrade with a negative relative target": Case(
        _nothing, ["upgrade", "-1"], 2, "-N reverts migrations", database=True
    ),
    "relative target that is not a number": Case(
        _nothing, ["upgrade", "+x"], 2, "invalid target '+x'", database=True
    ),
    "stamp of an unknown target": Case(
        _nothing, ["stamp", "nonexistent"], 2, "unknown migration 'nonexistent'", database=True
    ),
    "show of an unknown id": Case(
        _nothing, ["show", "nonexistent"], 2, "unknown migration 'nonexistent'", database=True
    ),
    "repair of an unrecorded migration": Case(
        _nothing,
        ["repair", "--rolled-back", "nothing_like_it"],
        2,
        "is not recorded",
        database=True,
    ),
    # -- migrations that fail --------------------------------------------------------
    "sql syntax error": Case(
        lambda p: p.sql("bad", "CREATE TABEL oops (id INTEGER);"),
        ["upgrade"],
        3,
        "CREATE TABEL oops",
        database=True,
    ),
    "unterminated sql string": Case(
        lambda p: p.sql("q", "INSERT INTO t VALUES ('oops);"),
        ["upgrade"],
        3,
        "unterminated",
        database=True,
    ),
    "python exception": Case(
        lambda p: p.python("boom", "raise ValueError('no good')"),
        ["upgrade"],
        3,
        "ValueError: no good",
        database=True,
    ),
    "missing import": Case(
        lambda p: p.python("imp", "import not_a_module_anywhere"),
        ["upgrade"],
        3,
        "not_a_module_anywhere",
        database=True,
    ),
    "sys.exit() at a migration's import": Case(
        lambda p: p.python("ex", "pass", header="import sys\nsys.exit(0)\n"),
        ["upgrade"],
        3,
        "20260101T000002_ex.py:5: called sys.exit(0)",
        database=True,
    ),
    "sys.exit() in upgrade(op)": Case(
        lambda p: p.python("ex", "import sys\nsys.exit('stop')"),
        ["upgrade"],
        3,
        "20260101T000002_ex.py:10: called sys.exit('stop')",
        database=True,
    ),
    "a BaseException raised in upgrade(op)": Case(
        lambda p: p.python("ex", "class Stop(BaseException):\n    pass\nraise Stop('halt')"),
        ["upgrade"],
        3,
        "20260101T000002_ex.py:11: Stop: halt",
        database=True,
    ),
    "sys.exit() in op.run, the first statement": Case(
        lambda p: p.python("ex", "import sys\nop.run(lambda conn: sys.exit(1))"),
        ["upgrade"],
        3,
        "20260101T000002_ex.py:10: called sys.exit(1)",
        database=True,
    ),
    "an exception raised in op.run": Case(
        lambda p: p.python("ex", "op.run(lambda conn: {}['missing'])"),
        ["upgrade"],
        3,
        "20260101T000002_ex.py:9: KeyError: 'missing'",
        database=True,
    ),
    "KeyboardInterrupt raised in upgrade(op)": Case(
        lambda p: p.python("ex", "raise KeyboardInterrupt"),
        ["upgrade"],
        130,
        "20260101T000002_ex.py:9 interrupted by SIGINT while it was loaded: nothing ran",
        database=True,
    ),
    "python syntax error": Case(
        lambda p: p.python("syn", "op.create_table(("),
        ["upgrade"],
        3,
        "syntax error",
        database=True,
    ),
    "no upgrade function": Case(
        # a valid header written by hand, as a new head outside git: dbshift.sum lets it
        # through (it records such a file once a command succeeds), so the loader speaks
        _malformed_file("20270101T000000_x.py", f'"""x"""\nparents = ["{BASE}"]\n'),
        ["upgrade"],
        3,
        "no `def upgrade(op)`",
        database=True,
    ),
    "downgrade of an irreversible python migration": Case(
        _applied(lambda p: p.python("raw", 'op.execute("UPDATE t SET id = id")')),
        ["downgrade", "-1"],
        3,
        "20260101T000002_raw.py",
        database=True,
    ),
    "downgrade of a sql migration without a down section": Case(
        _applied(lambda p: p.sql("raw", "UPDATE t SET id = id;")),
        ["downgrade", "base"],
        3,
        "20260101T000002_raw.sql has no `-- dbshift:down` section",
        database=True,
    ),
    "downgrade of a sql migration with an empty down section": Case(
        _applied(lambda p: p.sql("raw", "UPDATE t SET id = id;", down="")),
        ["downgrade", "base"],
        3,
        "the `-- dbshift:down` section of 20260101T000002_raw.sql is empty",
        database=True,
        hint="write the statements that undo the up section",
    ),
    "a root migration over tables that already exist": Case(
        lambda p: p.sql("again", "CREATE TABLE t (id INTEGER);", parents=[]),
        ["upgrade", "heads"],
        3,
        "20260101T000002_again.sql:5: upgrade failed at `CREATE TABLE t",
        database=True,
        hint="`dbshift stamp 20260101T000002_again`",
    ),
    "single transaction with a non-transactional migration": Case(
        lambda p: p.python("ix", 'op.execute("SELECT 1")', header="transactional = False\n"),
        ["upgrade", "--single-transaction"],
        2,
        "--single-transaction",
        database=True,
    ),
    # -- applied migrations changed ----------------------------------------------------
    "edited applied migration": Case(
        lambda p: (p.migrations / f"{BASE}.py").write_text(
            (p.migrations / f"{BASE}.py").read_text() + "# x\n"
        ),
        ["upgrade"],
        4,
        "was edited after it was applied",
        database=True,
    ),
    "deleted applied migration": Case(
        lambda p: (p.migrations / f"{BASE}.py").unlink(),
        ["upgrade"],
        4,
        "has no file",
        database=True,
        hint=f"`dbshift repair --rolled-back {BASE}`",
    ),
    "applied migration whose file is on another git branch": Case(
        _applied_on_another_branch,
        ["upgrade"],
        4,
        "20260101T000002_feature.py exists on branch feature",
        database=True,
        hint="check out feature (or merge it)",
    ),
    # -- configuration ---------------------------------------------------------------
    "invalid toml": Case(_toml("url = ["), ["status"], 2, "invalid TOML"),
    "missing config file": Case(
        _nothing, ["-c", "nope.toml", "status"], 2, "configuration file not found: nope.toml"
    ),
    "no url configured": Case(_toml(""), ["status"], 2, "no database URL configured"),
    "unknown environment": Case(
        _nothing, ["--env", "nope", "status"], 2, "unknown environment 'nope'"
    ),
    "environments not a table": Case(
        _toml('url = "{url}"\nenvironments = 3\n'), ["status"], 2, "`environments` must be"
    ),
    "unknown config key": Case(
        _toml('url = "{url}"\nlock_timout = 3\n'), ["status"], 2, "unknown key 'lock_timout'"
    ),
    "config runner_lock_timeout not a number": Case(
        _toml('url = "{url}"\nrunner_lock_timeout = "soon"\n'),
        ["status"],
        2,
        "invalid runner_lock_timeout 'soon'",
    ),
    "config url of the wrong type": Case(
        _toml("url = 5\n"), ["status"], 2, "`url` must be a string"
    ),
    "config runner_lock_timeout of the wrong type": Case(
        _toml('url = "{url}"\nrunner_lock_timeout = [1]\n'),
        ["status"],
        2,
        "`runner_lock_timeout` must be",
    ),
    "config runner_lock_timeout of the wrong type, under its old name": Case(
        _toml('url = "{url}"\nlock_timeout = [1]\n'), ["status"], 2, "`lock_timeout` must be"
    ),
    "config runner_lock_timeout under both names": Case(
        _toml('url = "{url}"\nlock_timeout = 1\nrunner_lock_timeout = 2\n'),
        ["status"],
        2,
        "both `lock_timeout` and `runner_lock_timeout` are given",
    ),
    "config migrations of the wrong type": Case(
        _toml('url = "{url}"\nmigrations = ["a"]\n'), ["status"], 2, "migrations"
    ),
    "config table_prefix invalid": Case(
        _toml('url = "{url}"\ntable_prefix = "x; drop"\n'), ["status"], 2, "table_prefix"
    ),
    "unset environment variable in config": Case(
        _toml('url = "${DBSHIFT_TEST_UNSET_VARIABLE}"\n'),
        ["status"],
        2,
        "DBSHIFT_TEST_UNSET_VARIABLE is not set",
    ),
    "missing migrations folder": Case(
        _nothing, ["--migrations", "nowhere", "status"], 2, "migrations folder not found"
    ),
    "negative lock timeout": Case(
        _nothing,
        ["--runner-lock-timeout", "-1", "upgrade"],
        2,
        "runner_lock_timeout must not be negative",
    ),
    "lock timeout not finite": Case(
        _nothing,
        ["--runner-lock-timeout", "nan", "upgrade"],
        2,
        "runner_lock_timeout must be a finite number",
    ),
    "lock timeout under the old and the new flag": Case(
        _nothing,
        ["--lock-timeout", "1", "--runner-lock-timeout", "2", "upgrade"],
        2,
        "both --lock-timeout and --runner-lock-timeout are given",
    ),
    "lock timeout not a number": Case(
        _nothing, ["--runner-lock-timeout", "soon", "upgrade"], 2, "'soon' is not a valid float"
    ),
    # -- URLs and servers ------------------------------------------------------------
    "malformed url": Case(_nothing, ["--url", "not a url", "status"], 2, "invalid database URL"),
    "url with an unknown dialect": Case(
        _nothing,
        ["--url", "oracle9://u:hunter22@h/x", "status"],
        2,
        "unknown database dialect 'oracle9'",
    ),
    "url with an unknown driver": Case(
        _nothing,
        ["--url", "postgresql+nodriver://u:hunter22@h/x", "status"],
        2,
        "unknown database driver 'postgresql+nodriver'",
    ),
    "missing driver": Case(
        _nothing,
        ["--url", "postgresql+pg8000://u:hunter22@localhost/x", "status"],
        2,
        "driver 'postgresql+pg8000' is not available",
    ),
    "unreachable server": Case(
        _nothing,
        ["--url", "postgresql+psycopg://u:hunter22@127.0.0.1:1/x", "status"],
        3,
        "u:***@127.0.0.1:1",
    ),
    "unreachable server through an async driver": Case(
        _nothing,
        ["--url", "postgresql+asyncpg://u:hunter22@127.0.0.1:1/x", "status"],
        3,
        "cannot connect to postgresql+asyncpg://u:***@127.0.0.1:1/x",
    ),
    "host name that does not resolve": Case(
        _nothing,
        ["--url", "mysql+pymysql://u:hunter22@nonexistent.invalid/x", "status"],
        3,
        "nonexistent.invalid",
    ),
    "url with a raw @ in its password": Case(
        _nothing,
        ["--url", "postgresql+psycopg://u:sec@hunter22@127.0.0.1:1/x", "status"],
        2,
        "ambiguous database URL 'postgresql+psycopg://u:***@127.0.0.1:1/x'",
    ),
    "url with a raw @ in its user name": Case(
        _nothing,
        ["--url", "mysql+pymysql://u@x:hunter22@127.0.0.1:1/x", "status"],
        2,
        "ambiguous database URL 'mysql+pymysql://u@x:***@127.0.0.1:1/x'",
    ),
    "configured url with a raw @ in its password": Case(
        _toml('url = "postgresql+psycopg://u:sec@hunter22@127.0.0.1:1/x"\n'),
        ["upgrade"],
        2,
        "more than one '@' before the host",
    ),
    "database that does not exist": Case(_no_database, ["upgrade"], 3, "database error", True),
    "bookkeeping schema that does not exist": Case(
        lambda p: p.python("more", TABLE.replace('"t"', '"t2"')),
        ["--schema", "dbshift_nope", "upgrade"],
        3,
        "the schema of the bookkeeping tables, 'dbshift_nope', does not exist",
        database=True,
        hint="create it, or correct --schema",
    ),
    # -- the command line ------------------------------------------------------------
    "unknown command": Case(_nothing, ["upgrad"], 2, "No such command 'upgrad'"),
    "unknown option to a command": Case(
        _nothing, ["upgrade", "--dry"], 2, "No such option '--dry'. Did you mean '--dry-run'?"
    ),
    "new without message": Case(_nothing, ["new"], 2, "--message"),
    "new with an empty message": Case(_nothing, ["new", "-m", " "], 2, "needs a message"),
    "merge with one head": Case(_nothing, ["merge"], 2, "nothing to merge", database=True),
    "check --since outside a git work tree": Case(
        _nothing, ["check", "--since", "main"], 2, "git rev-parse: fatal: not a git repository"
    ),
    "lint --since a ref that is not one": Case(
        _nothing, ["lint", "--since", "-p"], 2, "--since -p: not a git ref"
    ),
    "check --since with no migrations folder": Case(
        _nothing,
        ["--migrations", "nowhere", "check", "--since", "main"],
        2,
        "migrations folder not found",
    ),
    "config [lint] dialect unknown": Case(
        _toml('url = "{url}"\n[lint]\ndialect = "oracle9"\n'),
        ["lint", "--all"],
        2,
        "`dialect` must be postgresql, mysql, mariadb or sqlite, not 'oracle9'",
    ),
    "sql for an unknown dialect": Case(
        _nothing, ["sql", "--dialect", "oracle9"], 2, "unknown dialect 'oracle9'"
    ),
    # -- migration code and models ------------------------------------------------------
    "migration: an op keyword misspelt": Case(
        lambda p: p.python("typo", 'op.alter_column("t", "id", nulable=False)'),
        ["upgrade"],
        3,
        "op.alter_column() got an unknown argument 'nulable'",
        database=True,
    ),
    "migration: an alter_column that changes nothing": Case(
        lambda p: p.python("noop", 'op.alter_column("t", "id", existing_type=sa.Integer)'),
        ["upgrade"],
        3,
        "op.alter_column('t', 'id') changes nothing",
        database=True,
    ),
    "models with no tables": Case(
        _models("db = sa.MetaData()\n"), ["make", "-m", "x", "--no-input"], 2, ":db has no tables"
    ),
    "COMMIT in a transactional sql migration": Case(
        lambda p: p.sql(
            "commit", "CREATE TABLE half (id INTEGER);\nCOMMIT;\nCREATE TABLE half (id INTEGER);"
        ),
        ["upgrade"],
        3,
        "_commit.sql:6: `COMMIT` ends or starts a transaction",
        database=True,
    ),
    "ROLLBACK in op.execute in a transactional python migration": Case(
        lambda p: p.python("rollback", 'op.execute("CREATE TABLE half (id INTEGER); ROLLBACK")'),
        ["upgrade"],
        3,
        "_rollback.py: `ROLLBACK` ends or starts a transaction",
        database=True,
    ),
    "SQLite rebuild that would break a STRICT table": Case(
        _strict_table_then_varchar,
        ["upgrade"],
        3,
        "cannot rebuild table s: STRICT allows no type VARCHAR(9) (column n)",
    ),
    "models no database can create": Case(
        _models(
            "db = sa.MetaData()\n"
            'sa.Table("t", db, sa.Column("id", sa.Integer, primary_key=True), sa.Index("ix"))\n'
        ),
        ["make", "-m", "x", "--no-input"],
        2,
        "table 't': index 'ix' has no columns",
    ),
}


def test_the_catalogue_is_complete() -> None:
    assert len(CASES) >= 40


def _error_classes(tree: ast.Module) -> set[str]:
    names = {n for n in dir(errors) if isinstance(getattr(errors, n), type)}
    names = {n for n in names if issubclass(getattr(errors, n), errors.DbshiftError)}
    found = {  # subclasses defined elsewhere (one level is what the code has)
        node.name
        for node in ast.walk(tree)
        if isinstance(node, ast.ClassDef)
        and any(isinstance(b, ast.Name) and b.id in names for b in node.bases)
    }
    return names | found


def test_every_error_dbshift_raises_has_a_hint() -> None:
    """The one line always says what to do: every DbshiftError built in the source
    passes `hint=` (or forwards keyword arguments that hold one)."""
    source = Path(dbshift.__file__).parent
    trees = {path: ast.parse(path.read_text()) for path in sorted(source.rglob("*.py"))}
    classes = set().union(*(_error_classes(tree) for tree in trees.values()))
    missing = []
    for path, tree in trees.items():
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            name = getattr(func, "id", None) or getattr(func, "attr", None)
            keywords = {k.arg for k in node.keywords}
            if name in classes and not keywords & {"hint", None}:
                missing.append(f"{path.relative_to(source)}:{node.lineno}: {name}")
    assert missing == []


@pytest.mark.parametrize(
    "case",
    [
        pytest.param(name, marks=() if CASES[name].database else pytest.mark.backends("sqlite"))
        for name in sorted(CASES)
    ],
)
def test_bad_input(project: Project, case: str) -> None:
    bad = CASES[case]
    bad.setup(project)
    before = project.fingerprint()
    result = project.fails(bad.code, *bad.args)
    message = result.err.strip()
    assert bad.fragment in message, message
    assert bad.hint in message.partition("(hint: ")[2], message
    assert "hunter22" not in result.err + result.out
    assert len(message.splitlines()) == 1, message
    assert message.startswith("error: ") and "(hint: " in message, message
    assert project.fingerprint() == before


@pytest.mark.backends("sqlite")
@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_as_json(project: Project, case: str) -> None:
    """With --json the same error is one JSON object on stdout, and stderr stays empty."""
    bad = CASES[case]
    bad.setup(project)
    result = project.fails(bad.code, "--json", *bad.args)
    error = result.json["error"]
    assert error["exit_code"] == bad.code and bad.fragment in error["message"], error
    assert error["hint"] and issubclass(getattr(errors, error["type"]), errors.DbshiftError)
    assert bad.hint in error["hint"], error
    assert result.err == ""


@pytest.mark.backends("sqlite")
def test_traceback_only_with_debug(project: Project) -> None:
    project.python("boom", "raise ValueError('no good')")
    quiet = run_process(["upgrade"], project.root)
    assert quiet.returncode == 3 and "Traceback" not in quiet.stderr
    loud = run_process(["--debug", "upgrade"], project.root)
    assert loud.returncode == 3 and "Traceback" in loud.stderr and "ValueError" in loud.stderr


@pytest.mark.backends("sqlite")
def test_json_errors(project: Project) -> None:
    result = project.fails(2, "--json", "upgrade", "nonexistent")
    error = result.json["error"]
    assert error["exit_code"] == 2 and "nonexistent" in error["message"] and error["hint"]


@pytest.mark.backends("sqlite")
def test_click_usage_errors_are_json_too(project: Project) -> None:
    error = project.fails(2, "--json", "show").json["error"]
    assert error == {
        "message": "Missing argument 'MIGRATION'.",
        "hint": "see `dbshift show --help`",
        "exit_code": 2,
        "type": "UsageError",
    }


@pytest.mark.backends("mysql")
def test_wrong_password_mysql(project: Project) -> None:
    user = f"dbshift_pw_{uuid.uuid4().hex[:8]}"
    database = sa.make_url(project.url).database
    admin = sa.create_engine(project.url, poolclass=sa.NullPool)
    with admin.begin() as conn:
        conn.execute(sa.text(f"CREATE USER '{user}'@'%' IDENTIFIED BY 'right-P4ss'"))
        conn.execute(sa.text(f"GRANT ALL ON `{database}`.* TO '{user}'@'%'"))
    try:
        url = sa.make_url(project.url).set(username=user, password="wrong-secret")
        before = project.fingerprint()
        result = project.fails(3, "--url", url.render_as_string(hide_password=False), "upgrade")
        message = result.err.strip()
        assert f"Access denied for user '{user}'" in message and "***" in message, message
        assert len(message.splitlines()) == 1 and "(hint: " in message
        assert "wrong-secret" not in result.err + result.out
        assert project.fingerprint() == before
        right = url.set(password="right-P4ss").render_as_string(hide_password=False)
        project.ok("--url", right, "status")
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f"DROP USER IF EXISTS '{user}'@'%'"))
        admin.dispose()


@pytest.mark.backends("postgresql")
def test_wrong_password_postgresql(project: Project) -> None:
    """The test server trusts every connection from 127.0.0.1 (pg_hba `trust`), so it
    never checks a password: a wrong one is accepted. What fails whatever pg_hba says is
    a role that does not exist; the password in that URL is masked all the same."""
    role = f"dbshift_pw_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(project.url, poolclass=sa.NullPool)
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text(f"CREATE ROLE {role} LOGIN PASSWORD 'right-P4ss'"))
    try:
        url = sa.make_url(project.url).set(username=role, password="wrong-secret")
        trusted = project.cli("--url", url.render_as_string(hide_password=False), "heads")
        assert trusted.code == 0, "the server checks passwords: test a wrong one directly"
        missing = url.set(username=f"{role}_missing")
        before = project.fingerprint()
        result = project.fails(3, "--url", missing.render_as_string(hide_password=False), "upgrade")
        message = result.err.strip()
        assert f'role "{role}_missing" does not exist' in message, message
        assert f"{role}_missing:***@" in message and "(hint: " in message
        assert len(message.splitlines()) == 1
        assert "wrong-secret" not in result.err + result.out
        assert project.fingerprint() == before
    finally:
        with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(sa.text(f"DROP ROLE IF EXISTS {role}"))
        admin.dispose()


@pytest.mark.backends("sqlite")
def test_new_in_a_read_only_folder(project: Project) -> None:
    """We run as root, which writes anywhere. `setpriv` drops every capability (root
    then obeys permission bits like any user) and runs `dbshift new` as a real process
    on a folder with mode 0555: the folder is not writable for its owner either."""
    if shutil.which("setpriv") is None:
        pytest.skip("setpriv (util-linux) is not installed: cannot drop root's capabilities")
    src = str(Path(dbshift.__file__).parent.parent)
    env = {"PYTHONPATH": os.pathsep.join([src, os.environ.get("PYTHONPATH", "")])}
    before = project.fingerprint()
    project.migrations.chmod(0o555)
    try:
        result = subprocess.run(
            ["setpriv", "--bounding-set=-all", "--inh-caps=-all", *PYTHON, "new", "-m", "x"],
            cwd=project.root,
            capture_output=True,
            text=True,
            env={**os.environ, **env},
            timeout=120,
        )
    finally:
        project.migrations.chmod(0o755)
    message = result.stderr.strip()
    assert result.returncode == 2, message
    assert message.startswith("error: cannot write ") and "Permission denied" in message
    assert "(hint: check that the migrations folder is writable)" in message
    assert len(message.splitlines()) == 1 and "Traceback" not in message
    assert project.fingerprint() == before


@pytest.mark.backends("postgresql")
@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ("CREATE TABLE a (id INTEGER);\n\\set n 1\n", "line 6: \\set is a psql meta-command"),
        (
            "CREATE TABLE a (id INTEGER);\nCOPY a FROM stdin;\n1\n\\.\n",
            "line 6: COPY ... FROM STDIN moves rows through the client (psql)",
        ),
    ],
)
def test_psql_client_commands_refused_before_anything_runs(
    project: Project, body: str, fragment: str
) -> None:
    """A .sql file written for psql is refused when loaded, naming its line: nothing of
    it runs (the CREATE TABLE before it included)."""
    project.sql("psql", body)
    before = project.fingerprint()
    message = project.fails(3, "upgrade").err.strip()
    assert "_psql.sql: " + fragment in message and "(hint: " in message, message
    assert len(message.splitlines()) == 1
    assert project.fingerprint() == before


@pytest.mark.backends("mysql")
def test_mysql_source_command_refused_before_anything_runs(project: Project) -> None:
    project.sql("src", "CREATE TABLE a (id INTEGER);\nSOURCE ./more.sql;\n")
    before = project.fingerprint()
    message = project.fails(3, "upgrade").err.strip()
    assert "_src.sql: line 6: SOURCE is a mysql client command, not SQL" in message, message
    assert project.fingerprint() == before
