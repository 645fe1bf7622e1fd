"""Security: a URL's password never reaches any output, and every identifier is quoted
through the dialect, so a hostile name creates exactly that object and nothing else."""

from __future__ import annotations

import io
import logging
import sys
import traceback
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

import dbshift
from dbshift.config import mask_url, redact
from dbshift.schema.introspect import introspect
from dbshift.schema.snapshot import Snapshot
from tests.conftest import ASYNC_DRIVERS, SERVER_URLS, ScratchDatabases, with_driver
from tests.helpers import Project, run_process

SECRET = "s3cr3t-P4ss"


def admin_engine(backend: str) -> sa.Engine:
    return sa.create_engine(SERVER_URLS[backend], poolclass=sa.NullPool).execution_options(
        isolation_level="AUTOCOMMIT"
    )


@pytest.fixture
def secret_url(backend: str, db_url: str, scratch: ScratchDatabases) -> Iterator[str]:
    """The test database through a role (PostgreSQL) or user (MariaDB) whose password is
    SECRET; on SQLite, whose URLs carry no password, the plain URL."""
    if backend == "sqlite":
        yield db_url
        return
    name = f"dbshift_sec_{uuid.uuid4().hex[:8]}"
    database = sa.make_url(db_url).database
    admin = admin_engine(backend)
    with admin.connect() as conn:
        if backend == "postgresql":
            conn.execute(sa.text(f"CREATE ROLE {name} LOGIN PASSWORD '{SECRET}'"))
            conn.execute(sa.text(f"ALTER DATABASE {database} OWNER TO {name}"))
        else:
            conn.execute(sa.text(f"CREATE USER '{name}'@'%' IDENTIFIED BY '{SECRET}'"))
            conn.execute(sa.text(f"GRANT ALL ON `{database}`.* TO '{name}'@'%'"))
    try:
        url = sa.make_url(db_url).set(username=name, password=SECRET)
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            if backend == "postgresql":  # the role owns the database and what is in it
                conn.execute(sa.text(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)"))
                conn.execute(sa.text(f"DROP ROLE IF EXISTS {name}"))
            else:
                conn.execute(sa.text(f"DROP USER IF EXISTS '{name}'@'%'"))
        admin.dispose()


@pytest.fixture
def project(
    tmp_path: Path,
    secret_url: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> Project:
    project = Project(tmp_path / "proj", secret_url, capsys)
    module = f"secmodels_{uuid.uuid4().hex[:8]}"
    (project.root / f"{module}.py").write_text(
        "import sqlalchemy as sa\nmetadata = sa.MetaData()\n"
        "sa.Table('m', metadata, sa.Column('id', sa.Integer, primary_key=True))\n"
    )
    with (project.root / "dbshift.toml").open("a") as toml:
        toml.write(f'models = ["{module}:metadata"]\n')
    monkeypatch.syspath_prepend(str(project.root))
    return project


def no_secret(*texts: str) -> None:
    for text in texts:
        assert SECRET not in text, text


def test_no_command_prints_the_password(project: Project, backend: str) -> None:
    """Every command, plain and --json, succeeding and failing."""
    base = project.python("base", 'op.create_table("t", sa.Column("id", sa.Integer))')
    masked = backend != "sqlite"
    runs = [
        project.ok("new", "-m", "second"),
        project.ok("--json", "new", "-m", "third"),
        project.ok("status"),
        project.ok("--json", "status"),
        project.ok("upgrade", "--dry-run"),
        project.ok("upgrade"),
        project.ok("history"),
        project.ok("--json", "history"),
        project.ok("heads"),
        project.ok("--json", "heads"),
        project.ok("show", base),
        project.ok("--json", "show", base),
        project.ok("downgrade", "-1"),
        project.ok("--json", "downgrade", base),
        project.ok("stamp", "head"),
        project.ok("--json", "stamp", base),
        project.ok("--json", "upgrade"),
        project.ok("repair"),
        project.ok("--json", "repair"),
        project.ok("sql"),
        project.ok("sql", "-o", "out.sql"),
        project.ok("make", "-m", "from models", "--allow-drop-all"),
        project.ok("--json", "make", "--check"),
    ]
    project.python("branch", 'op.execute("SELECT 1")', parents=[base])
    runs += [
        project.fails(1, "status", "--check"),
        project.ok("merge"),
        project.ok("--json", "-q", "upgrade"),
    ]
    project.sql("broken", "CREATE TABEL oops (id INTEGER);")
    runs += [project.fails(3, "upgrade"), project.fails(3, "--json", "upgrade")]
    verbose = project.ok("-v", "history")
    assert "sqlalchemy.engine.Engine: SELECT dbshift_history.id" in verbose.err
    assert not logging.getLogger("sqlalchemy.engine").handlers  # -v cleans up after itself
    runs.append(verbose)
    for result in runs:
        no_secret(result.out, result.err)
    no_secret((project.root / "out.sql").read_text())
    status = project.ok("status").out
    assert ("***@" in status) is masked, status
    assert ('"url": "' + project.url.replace(SECRET, "***")) in project.ok("--json", "status").out


def test_failures_on_the_server_hide_the_password(
    project: Project, backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A wrong database name and a migration whose own error message holds the URL."""
    if backend != "sqlite":
        wrong = sa.make_url(project.url).set(database="dbshift_no_such_database")
        url = wrong.render_as_string(hide_password=False)
        for args in (["status"], ["--json", "upgrade"], ["history"]):
            result = project.fails(3, "--url", url, *args)
            no_secret(result.out, result.err)
            assert "***" in result.out + result.err
    project.python("leaky", "import os\nraise RuntimeError('cannot use ' + os.environ['LEAKY'])")
    monkeypatch.setenv("LEAKY", project.url)
    for args in (["upgrade"], ["--json", "upgrade"]):
        result = project.fails(3, *args)
        no_secret(result.out, result.err)


@pytest.mark.slow
def test_verbose_logs_and_debug_tracebacks_hide_the_password(
    project: Project, backend: str
) -> None:
    """`-v` logs every statement and `--debug` prints tracebacks: real processes, since
    logging is configured once per process."""
    project.python("base", 'op.create_table("t", sa.Column("id", sa.Integer))')
    outputs = [run_process(["-v", "upgrade"], project.root)]
    project.python("broken", 'op.execute("CREATE TABEL oops (id INTEGER)")')
    outputs.append(run_process(["-v", "--debug", "upgrade"], project.root))
    leaky = "import os\nraise ValueError(os.environ['LEAKY'])"
    project.python("boom", leaky, parents=["20260101T000001_base"])
    args = ["-v", "--debug", "upgrade", "20260101T000003_boom"]
    outputs.append(run_process(args, project.root, env={"LEAKY": project.url}))
    assert [o.returncode for o in outputs] == [0, 3, 3], [o.stderr for o in outputs]
    assert "sqlalchemy.engine" in outputs[0].stderr and "Traceback" in outputs[1].stderr
    for result in outputs:
        no_secret(result.stdout, result.stderr)


UNREACHABLE = [
    f"postgresql+psycopg://u:{SECRET}@127.0.0.1:1/x",
    f"mysql+pymysql://u:{SECRET}@127.0.0.1:1/x",
    f"postgresql+psycopg://u:{SECRET.replace('-', ' ')}@127.0.0.1:1/x",  # a space in it
    f"postgresql+psycopg://u:{SECRET.replace('-', '%2D')}@127.0.0.1:1/x",  # percent-encoded
    f"postgresql+psycopg://u@127.0.0.1:1/x?password={SECRET}",
    f"postgresql+psycopg://u:{SECRET}@127.0.0.1:notaport/x",  # malformed
    f"postgresql+pg8000://u:{SECRET}@127.0.0.1:1/x",  # missing driver
    f"oracle9://u:{SECRET}@127.0.0.1:1/x",  # unknown dialect
    f"postgresql+psycopg://u:{SECRET}@[::1/x",  # unparsable
    f"postgresql+asyncpg://u:{SECRET}@127.0.0.1:1/x",  # async
    f"sqlite+aiosqlite://u:{SECRET}@/nonexistent/x.db",  # nonsense, but never printed
]


@pytest.mark.backends("sqlite")
@pytest.mark.parametrize("url", UNREACHABLE)
def test_errors_about_a_url_hide_its_password(project: Project, url: str) -> None:
    secret_forms = {SECRET, SECRET.replace("-", " "), SECRET.replace("-", "%2D")}
    results = [
        project.cli("--url", url, "status"),
        project.cli("--json", "--url", url, "upgrade"),
        project.cli("make", "--dev-url", url, "-m", "x"),
    ]
    for result in results:
        assert result.code in (2, 3), result.err
        for secret in secret_forms:
            assert secret not in result.out + result.err, result.out + result.err
    with pytest.raises(dbshift.DbshiftError) as raised:
        dbshift.status(dbshift.Config(url=url, migrations=project.migrations))
    error = raised.value
    shown = str(error) + repr(error) + "".join(traceback.format_exception(error))
    for secret in secret_forms:
        assert secret not in shown, shown


@pytest.mark.backends("sqlite")
def test_debug_traceback_of_a_connection_error_hides_the_password(project: Project) -> None:
    result = run_process(["--debug", "--url", UNREACHABLE[0], "status"], project.root)
    assert result.returncode == 3 and "Traceback" in result.stderr
    no_secret(result.stdout, result.stderr)


#: a password with a raw `@`: SQLAlchemy would send `sec` and a host `hunter22@...`
AT_SECRET = "sec@hunter22"
AT_FRAGMENTS = ("sec@hunter22", "sec%40hunter22", "hunter22", "sec")


def no_fragment(*texts: str) -> None:
    for text in texts:
        for fragment in AT_FRAGMENTS:
            assert fragment not in text, text


@pytest.fixture
def at_login(backend: str, db_url: str) -> Iterator[sa.URL]:
    """The test database through a role or user whose password is AT_SECRET."""
    name = f"dbshift_at_{uuid.uuid4().hex[:8]}"
    database = sa.make_url(db_url).database
    admin = admin_engine(backend)
    with admin.connect() as conn:
        if backend == "postgresql":
            conn.execute(sa.text(f"CREATE ROLE {name} LOGIN PASSWORD '{AT_SECRET}'"))
            conn.execute(sa.text(f"ALTER DATABASE {database} OWNER TO {name}"))
        else:
            conn.execute(sa.text(f"CREATE USER '{name}'@'%' IDENTIFIED BY '{AT_SECRET}'"))
            conn.execute(sa.text(f"GRANT ALL ON `{database}`.* TO '{name}'@'%'"))
    try:
        yield sa.make_url(db_url).set(username=name, password=AT_SECRET)
    finally:
        with admin.connect() as conn:
            if backend == "postgresql":
                conn.execute(sa.text(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)"))
                conn.execute(sa.text(f"DROP ROLE IF EXISTS {name}"))
            else:
                conn.execute(sa.text(f"DROP USER IF EXISTS '{name}'@'%'"))
        admin.dispose()


@pytest.mark.backends("postgresql", "mysql")
def test_a_password_with_a_raw_at_is_refused_masked_and_works_encoded(
    tmp_path: Path,
    at_login: sa.URL,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Every way a URL reaches dbshift (--url, DATABASE_URL through dbshift.toml,
    make --dev-url, --json) refuses the raw spelling before any driver sees it, naming
    the URL masked; the `%40` spelling the hint asks for logs in (MariaDB checks it)."""
    encoded = at_login.render_as_string(hide_password=False)
    assert "sec%40hunter22@" in encoded
    raw = encoded.replace("sec%40hunter22", AT_SECRET)
    masked = encoded.replace("sec%40hunter22", "***")
    project = Project(tmp_path / "proj", "${DATABASE_URL}", capsys)
    module = f"atmodels_{uuid.uuid4().hex[:8]}"
    (project.root / f"{module}.py").write_text(
        "import sqlalchemy as sa\nmetadata = sa.MetaData()\n"
        "sa.Table('m', metadata, sa.Column('id', sa.Integer, primary_key=True))\n"
    )
    with (project.root / "dbshift.toml").open("a") as toml:
        toml.write(f'models = ["{module}:metadata"]\n')
    monkeypatch.syspath_prepend(str(project.root))
    project.python("base", 'op.create_table("t", sa.Column("id", sa.Integer))')
    monkeypatch.setenv("DATABASE_URL", raw)
    refused = [
        project.fails(2, "status"),
        project.fails(2, "upgrade"),
        project.fails(2, "--url", raw, "upgrade"),
        project.fails(2, "--url", raw, "history"),
        project.fails(2, "--json", "--url", raw, "upgrade"),
        project.fails(2, "--json", "status"),
    ]
    if at_login.get_backend_name() in ASYNC_DRIVERS:  # the async API parses it alike
        async_raw = with_driver(encoded, "async").replace("sec%40hunter22", AT_SECRET)
        refused.append(project.fails(2, "--url", async_raw, "upgrade"))
        masked_async = with_driver(encoded, "async").replace("sec%40hunter22", "***")
        assert masked_async in refused[-1].err, refused[-1].err
    monkeypatch.setenv("DATABASE_URL", encoded)
    refused.append(project.fails(2, "make", "-m", "x", "--dev-url", raw))
    refused.append(project.fails(2, "--json", "make", "--check", "--dev-url", raw))
    for result in refused:
        no_fragment(result.out, result.err)
        shown = result.out + result.err
        assert "ambiguous database URL '" in shown and "%40" in shown, shown
        assert masked.split("://", 1)[1] in shown, shown
        if not result.out:
            assert len(result.err.strip().splitlines()) == 1, result.err
    with sa.create_engine(encoded, poolclass=sa.NullPool).connect() as conn:
        assert "t" not in sa.inspect(conn).get_table_names()  # nothing ran
    worked = [
        project.ok("upgrade"),
        project.ok("--json", "status"),
        project.ok("--url", encoded, "history"),
        project.ok("make", "-m", "m table", "--dev-url", encoded, "--allow-drop-all"),
    ]
    for result in worked:
        no_fragment(result.out, result.err)
    assert f'"url": "{masked}"' in worked[1].out, worked[1].out
    with sa.create_engine(encoded, poolclass=sa.NullPool).connect() as conn:
        assert "t" in sa.inspect(conn).get_table_names()


# -- identifiers ---------------------------------------------------------------------

#: one name per quote character a dialect might use, each trying to end its quoting
TABLES = ['x"; DROP TABLE y; --', "x`; DROP TABLE y; --", "x'; DROP TABLE y; --"]
COLUMNS = ['c"; DROP TABLE y; --', "c`; DROP TABLE y; --", "c'; DROP TABLE y; --"]
VALUES = ["it's", 'b"c', "x'); DROP TABLE y; --"]


def canary(project: Project) -> None:
    engine = project.engine()
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE y (id INTEGER)"))
        conn.execute(sa.text("INSERT INTO y (id) VALUES (7)"))
    engine.dispose()


def schema(project: Project) -> Snapshot:
    """The database as dbshift introspects it (SQLAlchemy's MySQL reflection doubles a
    backtick in the names it reports, so `sa.inspect` cannot be the judge there)."""
    engine = project.engine()
    try:
        with engine.connect() as conn:
            return introspect(conn)
    finally:
        engine.dispose()


def user_tables(project: Project) -> set[str]:
    return set(schema(project).tables) - {"dbshift_history", "dbshift_log", "dbshift_lock"}


def columns(snapshot: Snapshot, table: str) -> list[str]:
    found = snapshot.table(table)
    assert found is not None, table
    return [c.name for c in found.columns]


def test_hostile_names_in_a_hand_written_migration(project: Project) -> None:
    """Every `op` call that names something, upgraded, then downgraded through the
    derived inverse (which re-creates dropped columns and indexes from the replay)."""
    canary(project)
    calls, inserts, deletes, drops = [], [], [], []
    for i, (table, column) in enumerate(zip(TABLES, COLUMNS, strict=True)):
        first, other = f"{table} {i}", f"{table} ref"
        calls += [
            f"op.create_table({first!r}, sa.Column('id', sa.Integer, primary_key=True),"
            f" sa.Column({column!r}, sa.String(30)), sa.Column('n', sa.Integer))",
            f"op.add_column({first!r}, sa.Column({column + ' 2'!r}, sa.Integer))",
            f"op.create_index({'ix ' + column!r}, {first!r}, [{column!r}])",
            f"op.create_unique_constraint({'uq ' + column!r}, {first!r}, [{column + ' 2'!r}])",
            f"op.rename_column({first!r}, {column + ' 2'!r}, {column + ' 3'!r})",
            f"op.alter_column({first!r}, {column!r}, type_=sa.String(40), nullable=True,"
            f" existing_type=sa.String(30))",
            f"op.create_check_constraint({'ck ' + column!r}, {first!r}, 'n >= 0')",
            f"op.rename_table({first!r}, {table!r})",
            f"op.create_table({other!r}, sa.Column('id', sa.Integer, primary_key=True),"
            f" sa.Column({column!r}, sa.Integer))",
            f"op.create_foreign_key({'fk ' + column!r}, {other!r}, {table!r}, [{column!r}],"
            " ['id'])",
        ]
        rows = f"sa.table({table!r}, sa.column('id'), sa.column({column!r}))"
        inserts.append(f"op.bulk_insert({rows}, [{{'id': 1, {column!r}: {column!r}}}])")
        deletes.append(f"op.execute(sa.delete({rows}))")
        drops += [
            f"op.drop_constraint({'fk ' + column!r}, {other!r}, type_='foreignkey')",
            f"op.drop_index({'ix ' + column!r}, {table!r})",
            f"op.drop_column({table!r}, {column + ' 3'!r})",
        ]
    project.python("hostile", "\n".join(calls))
    project.python("rows", "\n".join(inserts), downgrade="\n".join(deletes))
    project.python("drops", "\n".join(drops))
    created = {"y", *TABLES, *(f"{table} ref" for table in TABLES)}
    project.ok("upgrade", "20260101T000002_rows")
    assert user_tables(project) == created
    assert project.query("SELECT id FROM y") == [(7,)]
    snapshot = before_drops = schema(project)
    engine = project.engine()
    quote = engine.dialect.identifier_preparer.quote
    engine.dispose()
    for table, column in zip(TABLES, COLUMNS, strict=True):
        assert columns(snapshot, table) == ["id", column, "n", column + " 3"]
        assert [c.name for c in snapshot.tables[table].checks] == ["ck " + column]
        assert "ix " + column in {ix.name for ix in snapshot.tables[table].indexes}
        assert [fk.name for fk in snapshot.tables[f"{table} ref"].foreign_keys] == ["fk " + column]
        assert project.query(f"SELECT {quote(column)} FROM {quote(table)}") == [(column,)]
    project.ok("upgrade")
    snapshot = schema(project)
    for table, column in zip(TABLES, COLUMNS, strict=True):
        assert columns(snapshot, table) == ["id", column, "n"]
        assert snapshot.tables[f"{table} ref"].foreign_keys == ()
    project.ok("downgrade", "-1")
    assert schema(project).to_json() == before_drops.to_json()
    project.ok("downgrade", "base")
    assert user_tables(project) == {"y"}
    assert project.query("SELECT id FROM y") == [(7,)]


@pytest.mark.parametrize("kind", ["py", "sql"])
def test_hostile_names_in_models_for_make(project: Project, backend: str, kind: str) -> None:
    """`make` writes the names into Python (repr) or SQL (the dialect's quoting, which
    the statement splitter must read back: the names hold `;` and `--`)."""
    canary(project)
    sqlite = backend == "sqlite"  # which has no comments
    module = f"hostile_{uuid.uuid4().hex[:8]}"
    lines = ["import sqlalchemy as sa", "metadata = sa.MetaData()"]
    for table, column in zip(TABLES, COLUMNS, strict=True):
        lines += [
            f"t = sa.Table({table!r}, metadata, sa.Column('id', sa.Integer, primary_key=True),",
            f"    sa.Column({column!r}, sa.String(30), server_default={column!r},",
            f"              comment={column!r}))",
            f"sa.Index({'ix ' + column!r}, t.c[{column!r}])",
        ]
    if not sqlite:  # a sequence, enum values with quotes (and a named type on PostgreSQL)
        lines += [
            f"sa.Table({'e' + TABLES[0]!r}, metadata, sa.Column('id', sa.Integer,"
            f" sa.Sequence({'s' + TABLES[0]!r}), primary_key=True),",
            f"    sa.Column('kind', sa.Enum(*{VALUES!r}, name={'e' + TABLES[2]!r})))",
        ]
    (project.root / f"{module}.py").write_text("\n".join(lines) + "\n")
    as_sql = ["--sql"] if kind == "sql" else []
    project.ok("--models", f"{module}:metadata", "make", "-m", "hostile", *as_sql)
    (path,) = project.migrations.glob(f"*_hostile.{kind}")
    if kind == "py":
        compile(path.read_text(), str(path), "exec")  # the names went into valid Python
    project.ok("upgrade")
    assert user_tables(project) == {"y", *TABLES} | (set() if sqlite else {"e" + TABLES[0]})
    snapshot = schema(project)
    if not sqlite:
        assert set(snapshot.sequences) == {"s" + TABLES[0]}
        kind = snapshot.tables["e" + TABLES[0]].column("kind")
        assert kind is not None and list(getattr(kind.type, "enums", ())) == VALUES, kind
    if backend == "postgresql":
        assert set(snapshot.enums) == {"e" + TABLES[2]}
        assert list(snapshot.enums["e" + TABLES[2]].values) == VALUES
    engine = project.engine()
    quote = engine.dialect.identifier_preparer.quote
    for table, column in zip(TABLES, COLUMNS, strict=True):
        assert columns(snapshot, table) == ["id", column]
        found = snapshot.tables[table].column(column)
        assert found is not None and found.comment == (None if sqlite else column), found
        with engine.begin() as conn:  # the default, a string literal, is the name itself
            conn.execute(sa.text(f"INSERT INTO {quote(table)} (id) VALUES (1)"))
            value = conn.execute(sa.text(f"SELECT {quote(column)} FROM {quote(table)}"))
            assert value.scalar() == column
    engine.dispose()
    if kind == "py":  # (a SQL migration makes `make` compare with the database, canary too)
        project.ok("--models", f"{module}:metadata", "make", "--check")
    project.ok("downgrade", "base")
    assert user_tables(project) == {"y"}
    assert project.query("SELECT id FROM y") == [(7,)]
    del sys.modules[module]


def test_a_configuration_prints_without_its_password() -> None:
    config = dbshift.Config(url=f"postgresql://u:{SECRET}@h/x")
    assert SECRET not in repr(config) and "u:***@h/x" in repr(config)
    assert config.url == f"postgresql://u:{SECRET}@h/x"


@pytest.mark.parametrize(
    ("url", "masked"),
    [
        (f"postgresql://u:{SECRET}@h/x", "postgresql://u:***@h/x"),
        ("postgresql://u:s3cr3t P4ss@h/x", "postgresql://u:***@h/x"),
        ("postgresql://u:a%40b%3Ac@h/x", "postgresql://u:***@h/x"),
        (
            f"postgresql://u@h/x?sslmode=require&password={SECRET}",
            "postgresql://u@h/x?sslmode=require&password=***",
        ),
        ("postgresql://postgres:postgres@h/x", "postgresql://postgres:***@h/x"),
        ("postgresql://u:p@ss@h/x?application_name=a", "postgresql://u:***@h/x?application_name=a"),
        ("postgresql://u:sec@hunter22@h/x", "postgresql://u:***@h/x"),
        ("postgresql://u@x:sec@hunter22@h/x", "postgresql://u@x:***@h/x"),
        ("sqlite:////tmp/a:b@c.db", "sqlite:////tmp/a:b@c.db"),
        # malformed (no `://`): no driver reads them, but a message may repeat them
        (f"postgres//u:{SECRET}@h/x", "postgres//u:***@h/x"),
        (f"u:{SECRET}@h/x", "u:***@h/x"),
    ],
)
def test_mask_url(url: str, masked: str) -> None:
    assert mask_url(url) == masked


def test_redact_masks_the_password_in_every_spelling_but_not_inside_words() -> None:
    url = "postgresql://u:a b%2Fc@h/x"  # the password is "a b/c"
    assert redact("got a b/c, a b%2Fc and a+b%2Fc", url) == "got ***, *** and ***"
    assert redact("postgresql is up", "postgresql://postgres:postgres@h/x") == "postgresql is up"


def test_a_check_on_a_column_whose_name_needs_quoting(project: Project) -> None:
    """An expression object (`sa.column("order") >= 0`) is written for the backend that
    runs it: with ANSI double quotes, MariaDB/MySQL would read `"order"` as a string and
    the check would compare a string with 0."""
    project.python(
        "check",
        'op.create_table("t", sa.Column("id", sa.Integer, primary_key=True),'
        ' sa.Column("order", sa.Integer))\n'
        'op.create_check_constraint("ck_order", "t", sa.column("order") >= 0)',
    )
    project.ok("upgrade")
    engine = project.engine()
    quote = engine.dialect.identifier_preparer.quote
    try:
        with engine.begin() as conn:
            conn.execute(sa.text(f"INSERT INTO t (id, {quote('order')}) VALUES (1, 5)"))
        with pytest.raises(sa.exc.DBAPIError), engine.begin() as conn:
            conn.execute(sa.text(f"INSERT INTO t (id, {quote('order')}) VALUES (2, -1)"))
    finally:
        engine.dispose()


def test_redact_masks_every_piece_of_a_password_with_a_raw_at() -> None:
    """What the drivers print when SQLAlchemy split `sec@hunter22` at its first `@`."""
    url = "postgresql://u:sec@hunter22@127.0.0.1/db"
    psycopg = "failed to resolve host 'hunter22@127.0.0.1': Name or service not known"
    pymysql = "(2003) Can't connect to MySQL server on 'hunter22@127.0.0.1'"
    for text in (psycopg, pymysql, "password sec rejected", "sec%40hunter22"):
        no_fragment(redact(text, url))
    assert redact(psycopg, url).startswith("failed to resolve host '***@127.0.0.1'")


@pytest.mark.parametrize("command", [dbshift.status, dbshift.upgrade])
def test_the_api_refuses_a_raw_at_before_connecting(
    tmp_path: Path, command: Callable[[dbshift.Config], object]
) -> None:
    config = dbshift.Config(url="postgresql://u:sec@hunter22@127.0.0.1/x", migrations=tmp_path)
    with pytest.raises(dbshift.ConfigError) as raised:
        command(config)
    error = raised.value
    no_fragment(str(error), repr(error), error.hint or "")
    assert "ambiguous database URL 'postgresql://u:***@127.0.0.1/x'" in str(error)


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.backends("sqlite")
def test_text_from_files_is_never_read_as_terminal_markup(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A migration's message and a lint finding's names go into rich tables on a
    terminal: printed as written, never as markup (`[/]` alone would make rich raise)."""
    from dbshift.cli.report import Reporter
    from dbshift.config import Config

    hostile = "[bold red]loud[/] [/nope] [link=file:///etc/passwd]x[/link]"
    migration = project.python("m", "op.execute('UPDATE \"[/x]\" SET a = 1')")
    path = project.migrations / f"{migration}.py"
    path.write_text(path.read_text().replace('"""m"""', f'"""{hostile}"""', 1))
    project.record_sums()
    config = Config.load(project.root / "dbshift.toml")
    monkeypatch.setenv("COLUMNS", "400")  # one line per row
    out = _Terminal()
    Reporter(out=out).history(dbshift.history(config))
    assert hostile in out.getvalue()
    out = _Terminal()
    Reporter(out=out).linted(dbshift.lint(config, every=True, dialect="postgresql"))
    assert "DS106" in out.getvalue() and '"[/x]"' in out.getvalue()
