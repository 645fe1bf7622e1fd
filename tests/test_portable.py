"""A generated migration carries everything its DDL depends on (issue 10).

A project's `@compiles` hook on a type decides the DDL `create_all` writes; the
migration `make` writes must give the same DDL in a process that never imports the
project (`dbshift upgrade` from CI, say). Every step runs the real CLI in its own
process; the project's models log each process that imports them, so the test sees
that upgrading did not.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa
from hypothesis import given, settings
from hypothesis import strategies as st

import dbshift
from tests.autogen_support import _difference, created_schema, schema_of
from tests.conftest import ScratchDatabases
from tests.helpers import run_process

ALL = ("sqlite", "postgresql", "mysql")

HOOKED_MODELS = '''
import os
import pathlib

import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles

with pathlib.Path(__file__).with_name("imports.log").open("a") as log:
    log.write(f"{os.getpid()}\\n")


@compiles(sa.DateTime, "mysql")  # what dagster does
def _datetime(element, compiler, **kw):
    return "DATETIME(6)"


class Money(sa.Numeric):
    """Compiled as its base class is: through the hook below."""

    cache_ok = True


@compiles(sa.Numeric)  # a "default" hook: every backend
def _numeric(element, compiler, **kw):
    return "NUMERIC(20, 4)"


class Label(sa.types.TypeDecorator):
    impl = sa.String(40)
    cache_ok = True


@compiles(Label, "sqlite")  # a name SQLAlchemy has no type for: kept as text
def _label(element, compiler, **kw):
    return "STRING"


metadata = sa.MetaData()
sa.Table(
    "events",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("at", sa.DateTime),
    sa.Column("amount", Money),
    sa.Column("label", Label),
)
'''


def _project(folder: Path, url: str, models: str, backends: tuple[str, ...] = ()) -> Path:
    dbshift.init(folder)
    (folder / "models.py").write_text(models)
    lines = [f'url = "{url}"', 'migrations = "migrations"', 'models = ["models:metadata"]']
    if backends:
        lines.append("backends = " + json.dumps(list(backends)))
    (folder / "dbshift.toml").write_text("\n".join(lines) + "\n")
    return folder


def _run(folder: Path, *args: str, code: int = 0) -> str:
    done = run_process(list(args), folder)
    assert done.returncode == code, done.stdout + done.stderr
    return done.stdout + done.stderr


def _python(folder: Path, source: str) -> None:
    """Run `source` in a fresh interpreter in the project (which may import models)."""
    import subprocess

    done = subprocess.run(
        [sys.executable, "-c", source], cwd=folder, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stdout + done.stderr


def _created(folder: Path, scratch: ScratchDatabases) -> str:
    """`create_all` of the project's models, in a process that imports them."""
    url = scratch.create()
    _python(
        folder,
        "import sqlalchemy as sa, models\n"
        f"engine = sa.create_engine({url!r})\n"
        "models.metadata.create_all(engine)\n"
        "engine.dispose()\n",
    )
    return schema_of(url)


def _upgrade_without_the_project(folder: Path, url: str) -> None:
    log = folder / "imports.log"
    log.write_text("")
    _run(folder, "--url", url, "upgrade", "head")
    assert log.read_text() == "", "upgrading imported the project's models"


def _exact(folder: Path, url: str, scratch: ScratchDatabases, migration: Path) -> None:
    """The database is what `create_all` makes, and nothing is left to do: from the
    migrations (make --check) and from the database (diff)."""
    after, expected = schema_of(url), _created(folder, scratch)
    assert after == expected, migration.read_text() + _difference(after, expected)
    _run(folder, "--url", url, "make", "--check")
    _python(
        folder,
        "import dbshift\n"
        f"config = dbshift.Config.load(url={url!r})\n"
        "found = dbshift.diff(config)\n"
        "assert found == [], found\n",
    )


@pytest.mark.slow
def test_a_compiles_hook_is_written_into_the_migration(
    db_url: str, scratch: ScratchDatabases, tmp_path: Path
) -> None:
    folder = _project(tmp_path / "proj", db_url, HOOKED_MODELS)
    _run(folder, "make", "-m", "events", "--no-input")
    (migration,) = (folder / "migrations").glob("*.py")
    text = migration.read_text()
    assert "models" not in text.replace("dbshift", ""), "the file must not need the project"
    _upgrade_without_the_project(folder, db_url)
    _exact(folder, db_url, scratch, migration)
    name = sa.make_url(db_url).get_backend_name()
    expected = {
        "sqlite": {"at": "DATETIME", "amount": "NUMERIC(20, 4)", "label": "STRING"},
        "postgresql": {
            "at": "timestamp without time zone",
            "amount": "numeric(20,4)",
            "label": "character varying(40)",
        },
        "mysql": {"at": "datetime(6)", "amount": "decimal(20,4)", "label": "varchar(40)"},
    }[name]
    assert _client_types(db_url, "events", tuple(expected)) == expected


@pytest.mark.slow
def test_a_compiles_hook_on_one_backend_is_a_variant_in_a_history_for_several(
    backend: str, db_url: str, scratch: ScratchDatabases, tmp_path: Path
) -> None:
    dev = f"sqlite:///{tmp_path / 'dev.sqlite'}"
    folder = _project(tmp_path / "proj", dev, HOOKED_MODELS, ALL)
    _run(folder, "make", "-m", "events", "--no-input")
    (migration,) = (folder / "migrations").glob("*.py")
    text = migration.read_text()
    assert "DATETIME(fsp=6)" in text and "with_variant" in text, text
    _upgrade_without_the_project(folder, db_url)
    _exact(folder, db_url, scratch, migration)
    _run(folder, "make", "--check")  # every backend, from the migrations


def _client_types(url: str, table: str, wanted: tuple[str, ...]) -> dict[str, str]:
    """The column types as the backend's own command-line client shows them."""
    import subprocess

    parsed = sa.make_url(url)
    if parsed.get_backend_name() == "sqlite":
        query = f"SELECT name, type FROM pragma_table_info('{table}')"
        command = ["sqlite3", "-separator", "|", str(parsed.database), query]
    elif parsed.get_backend_name() == "postgresql":
        query = "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute "
        query += f"WHERE attrelid = '{table}'::regclass AND attnum > 0"
        command = ["psql", "-At", "-F", "|", "-h", str(parsed.host), "-U", str(parsed.username)]
        command += ["-d", str(parsed.database), "-c", query]
    else:
        query = (
            "SELECT column_name, column_type FROM information_schema.columns "
            f"WHERE table_schema = '{parsed.database}' AND table_name = '{table}'"
        )
        command = ["mariadb", "-N", "-B", "-h", str(parsed.host), "-u", str(parsed.username)]
        command += ["-e", query]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    rows = [line.replace("\t", "|").split("|") for line in out.splitlines() if line]
    return {name: kind for name, kind in rows if name in wanted}


@pytest.mark.parametrize("backend_name", ["sqlite", "postgresql", "mysql", "mariadb"])
def test_types_without_hooks_resolve_as_before(backend_name: str) -> None:
    """No hook: the type is the model's (the dispatcher check finds nothing)."""
    from dbshift.dialects.backends import compiled_by_hook, offline_dialect, resolve_type

    dialect = offline_dialect(backend_name)
    for type_ in (sa.DateTime(), sa.Numeric(10, 2), sa.String(5), sa.JSON(), sa.Integer()):
        assert not compiled_by_hook(type_, dialect)
        assert resolve_type(type_, dialect) is type_


# -- ddl_if: what create_all creates on one backend and not another ------------------------


def _conditional_models(rule: object = None) -> sa.MetaData:
    """prefect's shape: a GIN index on PostgreSQL only; a check on two backends; a
    unique constraint whose callable rule leaves MySQL out."""
    from sqlalchemy.dialects import postgresql

    def not_on_mysql(ddl: object, target: object, bind: object, **kw: object) -> bool:
        return getattr(kw["dialect"], "name", None) != "mysql"

    metadata = sa.MetaData()
    table = sa.Table(
        "runs",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("tags", sa.JSON().with_variant(postgresql.JSONB(), "postgresql")),
        sa.Column("qty", sa.Integer),
        sa.Column("code", sa.String(8)),
        sa.CheckConstraint("qty >= 0", name="ck_runs_qty").ddl_if(dialect=("postgresql", "mysql")),
        sa.UniqueConstraint("code", name="uq_runs_code").ddl_if(callable_=rule or not_on_mysql),
    )
    sa.Index("ix_runs_tags", table.c.tags, postgresql_using="gin").ddl_if(dialect="postgresql")
    sa.Index("ix_runs_qty", table.c.qty)
    return metadata


def test_ddl_if_objects_are_made_where_create_all_makes_them(
    backend: str, db_url: str, scratch: ScratchDatabases, tmp_path: Path
) -> None:
    from tests.autogen_support import Loop

    loop = Loop(db_url, tmp_path, scratch)
    path = loop.step(_conditional_models(), "runs")  # upgrade = create_all, fixed point
    assert path is not None
    text = path.read_text()
    name = sa.make_url(db_url).get_dialect().name
    assert ("ix_runs_tags" in text) == (name == "postgresql"), text
    assert ("ck_runs_qty" in text) == (name in ("postgresql", "mysql")), text
    assert ("uq_runs_code" in text) == (name != "mysql"), text
    assert dbshift.diff(loop.config(_conditional_models())) == []
    loop.back(_conditional_models())


def test_ddl_if_objects_on_some_backends_are_refused_naming_them(tmp_path: Path) -> None:
    from dbshift.errors import UsageError

    dbshift.init(tmp_path / "proj")
    config = dbshift.Config(
        url=f"sqlite:///{tmp_path / 'dev.sqlite'}",
        migrations=tmp_path / "proj" / "migrations",
        models=[_conditional_models()],
        backends=ALL,
    )
    for check in (False, True):
        with pytest.raises(UsageError) as raised:
            dbshift.api.make_report(config, "runs", check=check)
        message = raised.value.message
        assert "table runs: index ix_runs_tags only on postgresql" in message, message
        assert "table runs: check constraint ck_runs_qty only on postgresql" in message
        assert "table runs: unique constraint uq_runs_code not on mysql" in message
        assert raised.value.exit_code == 2
    assert list((tmp_path / "proj" / "migrations").iterdir()) == []
    item = next(i for i in dbshift.api.check(config).items if i.name == "models")
    assert item.status == "failed" and "ix_runs_tags only on postgresql" in item.detail


def test_a_ddl_if_callable_that_needs_a_connection_is_a_config_error(tmp_path: Path) -> None:
    from dbshift.errors import ConfigError

    def by_server(ddl: object, target: object, bind: sa.Connection, **kw: object) -> bool:
        return bind.dialect.server_version_info is not None

    dbshift.init(tmp_path / "proj")
    config = dbshift.Config(
        url=f"sqlite:///{tmp_path / 'dev.sqlite'}",
        migrations=tmp_path / "proj" / "migrations",
        models=[_conditional_models(by_server)],
    )
    with pytest.raises(ConfigError, match="constraint uq_runs_code on table runs") as raised:
        dbshift.make(config, "runs")
    assert "without a database connection" in raised.value.message
    assert list((tmp_path / "proj" / "migrations").iterdir()) == []


HAND_WRITTEN = """
def upgrade(op):
    if op.dialect == "postgresql":
        op.create_index("ix_runs_tags", "runs", ["tags"], postgresql_using="gin")
    if op.dialect in ("postgresql", "mysql"):
        op.create_check_constraint("ck_runs_qty", "runs", "qty >= 0")
    if op.dialect != "mysql":
        op.create_unique_constraint("uq_runs_code", "runs", ["code"])
"""


def test_what_some_backends_get_is_written_by_hand_under_op_dialect(
    backend: str, db_url: str, scratch: ScratchDatabases, tmp_path: Path
) -> None:
    """The way out the refusal names: the common part made, the rest by hand; each
    backend replays its own operations, so the history is exact on every one."""
    folder = tmp_path / "proj"
    dbshift.init(folder)
    dev = f"sqlite:///{tmp_path / 'dev.sqlite'}"
    common = _conditional_models()
    runs = common.tables["runs"]
    for item in [*runs.indexes, *runs.constraints]:
        if item._ddl_if is not None:
            (runs.indexes if isinstance(item, sa.Index) else runs.constraints).discard(item)
    config = dbshift.Config(
        url=dev, migrations=folder / "migrations", models=[common], backends=ALL
    )
    assert dbshift.make(config, "runs") is not None
    extra = dbshift.new(config, "runs on some backends")
    text = extra.read_text()
    extra.write_text(text[: text.index("def upgrade(op):")] + HAND_WRITTEN.lstrip())
    dbshift.api.rehash(config)
    full = config.replace(models=[_conditional_models()])
    assert dbshift.api.make_report(full, check=True).operations == ()
    assert "ix_runs_tags" in dbshift.api.sql(full, dialect="postgresql")
    assert "ix_runs_tags" not in dbshift.api.sql(full, dialect="mysql")
    here = full.replace(url=db_url, backends=())
    dbshift.api.upgrade(here, "head")
    after, expected = schema_of(db_url), created_schema(_conditional_models(), scratch)
    assert after == expected, _difference(after, expected)
    assert dbshift.diff(here) == []
    assert dbshift.api.make_report(here, check=True).operations == ()


def test_a_ddl_if_index_added_to_an_existing_table_is_refused_naming_it(tmp_path: Path) -> None:
    from dbshift.errors import UsageError

    dbshift.init(tmp_path / "proj")
    plain = _conditional_models(lambda *args, **kw: True)
    runs = plain.tables["runs"]
    for item in [*runs.indexes, *runs.constraints]:
        if item._ddl_if is not None:
            (runs.indexes if isinstance(item, sa.Index) else runs.constraints).discard(item)
    config = dbshift.Config(
        url=f"sqlite:///{tmp_path / 'dev.sqlite'}",
        migrations=tmp_path / "proj" / "migrations",
        models=[plain],
        backends=ALL,
    )
    assert dbshift.make(config, "runs") is not None
    later = config.replace(models=[_conditional_models(lambda *args, **kw: True)])
    with pytest.raises(UsageError, match='only on postgresql: create index "ix_runs_tags"'):
        dbshift.make(later, "tags index")
    assert len(list((tmp_path / "proj" / "migrations").glob("*.py"))) == 1


# -- SQL in a history for several backends: each gets its own quoting ---------------------

HOSTILE = 'odd "col` x'


def _ledger(index_expression: bool = False) -> sa.MetaData:
    metadata = sa.MetaData()
    table = sa.Table(
        "ledger",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("order", sa.Integer),
        sa.Column(HOSTILE, sa.Integer),
        sa.CheckConstraint(sa.column("order") >= 0, name="ck_ledger_order"),
        sa.CheckConstraint(sa.column(HOSTILE) < 100, name="ck_ledger_hostile"),
        sa.CheckConstraint(sa.column("order") < 1000),  # unnamed: matched by its place
    )
    if index_expression:  # MariaDB has no expression indexes; MySQL 8 has
        sa.Index("ix_ledger_abs", sa.func.abs(table.c.order))
    return metadata


def _rejected(url: str, values: dict[str, int]) -> bool:
    """Whether the database refuses the row (a check that holds)."""
    engine = sa.create_engine(url, poolclass=sa.NullPool)
    table = _ledger().tables["ledger"]
    try:
        with engine.begin() as conn:
            conn.execute(table.insert().values(values))
            conn.execute(table.delete())
        return False
    except sa.exc.DBAPIError:
        return True
    finally:
        engine.dispose()


def test_expressions_are_quoted_for_each_backend_in_one_history(
    backend: str, db_url: str, scratch: ScratchDatabases, tmp_path: Path
) -> None:
    dbshift.init(tmp_path / "proj")
    config = dbshift.Config(
        url=f"sqlite:///{tmp_path / 'dev.sqlite'}",
        migrations=tmp_path / "proj" / "migrations",
        models=[_ledger()],
        backends=ALL,
    )
    path = dbshift.make(config, "ledger")
    assert path is not None
    assert "op.sql(" in path.read_text()
    here = config.replace(url=db_url)
    dbshift.api.upgrade(here, "head")
    after, expected = schema_of(db_url), created_schema(_ledger(), scratch)
    assert after == expected, path.read_text() + _difference(after, expected)
    assert dbshift.diff(here.replace(backends=())) == []
    assert dbshift.api.make_report(here, check=True).operations == ()
    # the checks hold: `'order' >= 0` (a string on MariaDB) would let -1 in
    assert not _rejected(db_url, {"id": 1, "order": 0, HOSTILE: 99})
    assert _rejected(db_url, {"id": 2, "order": -1, HOSTILE: 0})
    assert _rejected(db_url, {"id": 3, "order": 0, HOSTILE: 100})
    assert _rejected(db_url, {"id": 4, "order": 1000, HOSTILE: 0})


def test_an_index_expression_replays_as_each_backend_writes_it(tmp_path: Path) -> None:
    """No server: the file restates the expression per backend, and each backend's
    replay of it is what its models give (`make --check` clean for all)."""
    from dbshift.migrations.loader import load
    from dbshift.migrations.scripts import read_script

    dbshift.init(tmp_path / "proj")
    config = dbshift.Config(
        url=f"sqlite:///{tmp_path / 'dev.sqlite'}",
        migrations=tmp_path / "proj" / "migrations",
        models=[_ledger(index_expression=True)],
        backends=ALL,
    )
    path = dbshift.make(config, "ledger")
    assert path is not None
    assert dbshift.api.make_report(config, check=True).operations == ()
    written = {}
    for name in ALL:
        (_create_table, create_index) = load(read_script(path), name).upgrade
        written[name] = create_index.index.columns  # type: ignore[attr-defined]
    assert written == {
        "sqlite": ('abs("order")',),
        "postgresql": ('abs("order")',),
        "mysql": ("abs(`order`)",),
    }
    # offline SQL is recorded for its dialect too
    assert "CHECK (`order` >= 0)" in dbshift.api.sql(config, dialect="mysql")
    assert 'CHECK ("order" >= 0)' in dbshift.api.sql(config, dialect="postgresql")


@pytest.mark.slow
def test_a_history_written_before_the_hook_was_honoured_is_found_out(tmp_path: Path) -> None:
    """A file made by an older dbshift says `sa.DateTime()`, which a process without
    the project writes as DATETIME: `make --check` (run with the project imported, so
    the hook is live) still sees that MySQL needs DATETIME(6)."""
    dev = f"sqlite:///{tmp_path / 'dev.sqlite'}"
    folder = _project(tmp_path / "proj", dev, HOOKED_MODELS, ALL)
    _run(folder, "make", "-m", "events", "--no-input")
    (migration,) = (folder / "migrations").glob("*.py")
    text = migration.read_text()
    old = text.replace('.with_variant(mysql.DATETIME(fsp=6), "mysql")', "")
    assert old != text, text
    migration.write_text(old)
    _run(folder, "rehash")
    out = _run(folder, "make", "--check", code=1)
    assert "mysql" in out and "at" in out, out


TRAVELLING_MODELS = """
import sqlalchemy as sa

from geo import Point

metadata = sa.MetaData()
sa.Table("places", metadata, sa.Column("id", sa.Integer, primary_key=True), sa.Column("at", Point()))
"""

GEO = """
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.types import UserDefinedType


class Point(UserDefinedType):
    cache_ok = True

    def get_col_spec(self, **kw):
        return "POINT_PLAIN"


@compiles(Point, "sqlite")
def _point(element, compiler, **kw):
    return "POINT_HOOKED"
"""


@pytest.mark.slow
@pytest.mark.backends("sqlite")
def test_a_hook_that_comes_with_the_type_the_file_imports_is_kept(
    backend: str, db_url: str, scratch: ScratchDatabases, tmp_path: Path
) -> None:
    """A library's (or project's) own type is imported by the migration, and the hook
    in its package with it: the file names the type, and upgrade gets the hooked DDL."""
    folder = _project(tmp_path / "proj", db_url, TRAVELLING_MODELS)
    (folder / "geo.py").write_text(GEO)
    _run(folder, "make", "-m", "places", "--no-input")
    (migration,) = (folder / "migrations").glob("*.py")
    assert "geo.Point()" in migration.read_text(), migration.read_text()
    _run(folder, "upgrade", "head")
    _exact(folder, db_url, scratch, migration)
    assert _client_types(db_url, "places", ("at",)) == {"at": "POINT_HOOKED"}


class _Hooked(sa.types.TypeEngine[object]):
    """A test type whose DDL on every backend is whatever `_HOOK_TEXT` holds."""

    __visit_name__ = "dbshift_test_hooked"


_HOOK_TEXT = ["INTEGER"]


def _hooked_ddl(element: object, compiler: object, **kw: object) -> str:
    return _HOOK_TEXT[0]


from sqlalchemy.ext.compiler import compiles  # noqa: E402

compiles(_Hooked)(_hooked_ddl)

_TYPES = (
    sa.Integer(),
    sa.BigInteger(),
    sa.SmallInteger(),
    sa.String(30),
    sa.Numeric(12, 3),
    sa.DateTime(timezone=True),
    sa.DateTime(),
    sa.Text(),
    sa.LargeBinary(),
    sa.Float(),
    sa.Date(),
    sa.Time(),
    sa.JSON(),
    sa.Uuid(),
)


@settings(max_examples=80, deadline=None)
@given(
    backend_name=st.sampled_from(["sqlite", "postgresql", "mysql", "mariadb"]),
    written=st.one_of(
        st.sampled_from(_TYPES),
        st.sampled_from(["STRING", "POINT_Z", "DATETIME(6)", "DOUBLE PRECISION", "CITEXT"]),
    ),
)
def test_a_hooked_type_becomes_one_that_writes_the_hooks_ddl_by_itself(
    backend_name: str, written: object
) -> None:
    """Whatever DDL a hook gives (a real type's, or any text), the resolved type writes
    the same DDL with no hook at all: a backend type read from it, or the text."""
    from dbshift.dialects.backends import compiled_by_hook, offline_dialect, resolve_type
    from dbshift.schema.sqltypes import DeclaredType

    dialect = offline_dialect(backend_name)
    if isinstance(written, sa.types.TypeEngine):
        try:
            text = str(written.compile(dialect=dialect))
        except sa.exc.CompileError:
            return  # a type this backend has no DDL for
    else:
        text = str(written)
    _HOOK_TEXT[0] = text
    assert compiled_by_hook(_Hooked(), dialect)
    resolved = resolve_type(_Hooked(), dialect)
    assert not compiled_by_hook(resolved, dialect)
    canonical = " ".join(str(resolved.compile(dialect=dialect)).upper().replace(", ", ",").split())
    assert canonical == " ".join(text.upper().replace(", ", ",").split())
    if isinstance(written, sa.types.TypeEngine):
        assert not isinstance(resolved, DeclaredType), (text, resolved)


@pytest.mark.backends("postgresql")
def test_a_postgresql_option_is_written_for_postgresql_whatever_the_url(
    backend: str, db_url: str, scratch: ScratchDatabases, tmp_path: Path
) -> None:
    """`postgresql_where=` is SQL only PostgreSQL reads: made with a MySQL URL (no
    server needed) it is still quoted PostgreSQL's way."""

    def models() -> sa.MetaData:
        metadata = _ledger()
        table = metadata.tables["ledger"]
        sa.Index("ix_ledger_live", table.c.id, postgresql_where=sa.column("order") > 0)
        return metadata

    dbshift.init(tmp_path / "proj")
    config = dbshift.Config(
        url="mysql+pymysql://root@127.0.0.1:1/nowhere",
        migrations=tmp_path / "proj" / "migrations",
        models=[models()],
        backends=("mysql", "postgresql"),
    )
    path = dbshift.make(config, "ledger")
    assert path is not None
    assert 'postgresql_where=sa.text("\\"order\\" > 0")' in path.read_text(), path.read_text()
    here = config.replace(url=db_url, backends=())
    dbshift.api.upgrade(here, "head")
    after, expected = schema_of(db_url), created_schema(models(), scratch)
    assert after == expected, path.read_text() + _difference(after, expected)
    assert dbshift.diff(here) == []
    assert dbshift.api.make_report(config.replace(url=db_url), check=True).operations == ()
