"""One migration history for several backends: `make` resolves each column type per
backend (TypeDecorator.load_dialect_impl, with_variant) and, with several backends
configured, writes one file that gives on every backend what `create_all` gives there.

The proof: generate once with a SQLite URL for sqlite, postgresql and mysql, then on
each real backend upgrade, compare with `create_all` on a fresh database (both read back
by introspection), and find nothing more to do with that backend's URL.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import sqlalchemy as sa
from hypothesis import given, settings
from hypothesis import strategies as st

import dbshift
from dbshift.migrations.scripts import read_script
from tests.autogen_support import NAMING, Loop, _difference, created_schema, schema_of
from tests.backends_models import models
from tests.conftest import ScratchDatabases, with_driver
from tests.helpers import Project

ALL = ("sqlite", "postgresql", "mysql")


def _generate(folder: Path, *steps: int, url: str | None = None) -> list[Path]:
    """The migrations for `steps` of the models, made with a SQLite URL (or `url`) for
    ALL."""
    dbshift.init(folder)
    url = url or f"sqlite:///{folder / 'dev.sqlite'}"
    written = []
    for step in steps:
        config = dbshift.Config(
            url=url, migrations=folder / "migrations", models=[models(step)], backends=ALL
        )
        path = dbshift.make(config, f"step {step}")
        assert path is not None
        written.append(path)
    return written


def _config(url: str, folder: Path, step: int, **extra: object) -> dbshift.Config:
    return dbshift.Config(url=url, migrations=folder / "migrations", models=[models(step)], **extra)


def _is_rowid(url: str, table: str) -> bool:
    """SQLite: the table's `id` is its rowid (an alias), as `INTEGER PRIMARY KEY` is."""
    engine = sa.create_engine(url, poolclass=sa.NullPool)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text(f"DELETE FROM {table}"))
            columns = [r[1] for r in conn.execute(sa.text(f"PRAGMA table_info({table})"))]
            values = ", ".join("'x'" if c != "id" else "NULL" for c in columns)
            names = ", ".join(columns)
            conn.execute(sa.text("PRAGMA foreign_keys = OFF"))
            conn.execute(sa.text(f"INSERT INTO {table} ({names}) VALUES ({values})"))
            row = conn.execute(sa.text(f"SELECT rowid, id FROM {table}")).one()
            conn.execute(sa.text(f"DELETE FROM {table}"))
            return bool(row[0] == row[1] and row[1] is not None)
    finally:
        engine.dispose()


def test_one_history_generated_once_is_exact_on_every_backend(
    backend: str, db_url: str, scratch: ScratchDatabases, tmp_path: Path
) -> None:
    first, second = _generate(tmp_path / "proj", 1, 2)
    assert read_script(first).backends == ALL
    text = first.read_text()
    assert 'backends = ["sqlite", "postgresql", "mysql"]' in text
    assert "op.create_enum(" in text  # made on SQLite, needed on PostgreSQL
    folder = tmp_path / "proj"
    for step, path in ((1, first), (2, second)):
        config = _config(db_url, folder, step)
        report = dbshift.api.upgrade(config, path.stem)
        assert report.warnings == (), "the file names this backend"
        after = schema_of(db_url)
        expected = created_schema(models(step), scratch)
        assert after == expected, path.read_text() + _difference(after, expected)
        assert dbshift.diff(config) == [], "the database differs from the models"
    # the migrations match the models on each backend's URL, alone and with the others
    again = dbshift.api.make_report(_config(db_url, folder, 2, backends=ALL), check=True)
    assert again.operations == (), again.by_backend
    assert dbshift.api.make_report(_config(db_url, folder, 2), check=True).operations == ()
    if backend == "sqlite":
        assert _is_rowid(db_url, "accounts") and _is_rowid(db_url, "events")
    assert (
        _client_types(db_url, "accounts")
        == {
            "sqlite": {"id": "INTEGER", "uid": "CHAR(32)", "data": "JSON"},
            "postgresql": {"id": "bigint", "uid": "uuid", "data": "jsonb"},
            "mysql": {"id": "bigint(20)", "uid": "binary(16)", "data": "longtext"},
        }[backend]
    )


def _client_types(url: str, table: str) -> dict[str, str]:
    """The types of `table`'s id, uid and data columns as the backend's own command-line
    client shows them (an oracle independent of SQLAlchemy)."""
    import subprocess

    parsed = sa.make_url(url)
    wanted = ("id", "uid", "data")
    if parsed.get_backend_name() == "sqlite":
        command = [
            "sqlite3",
            str(parsed.database),
            f"SELECT name, type FROM pragma_table_info('{table}')",
        ]
    elif parsed.get_backend_name() == "postgresql":
        query = (
            "SELECT column_name, data_type FROM information_schema.columns "
            f"WHERE table_name = '{table}'"
        )
        command = ["psql", "-At", "-F", "|", "-h", str(parsed.host), "-U", str(parsed.username)]
        command += ["-d", str(parsed.database), "-c", query]
    else:
        query = (
            "SELECT column_name, column_type FROM information_schema.columns "
            f"WHERE table_schema = '{parsed.database}' AND table_name = '{table}'"
        )
        command = ["mariadb", "-N", "-B", "-h", str(parsed.host), "-u", str(parsed.username)]
        command += ["-e", query.replace("|", "")]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    rows = [line.replace("\t", "|").split("|") for line in out.splitlines() if line]
    return {name: kind for name, kind in rows if name in wanted}


def test_the_same_models_on_one_backend_are_exact(
    backend: str, db_url: str, scratch: ScratchDatabases, tmp_path: Path
) -> None:
    loop = Loop(db_url, tmp_path, scratch)
    path = loop.step(models(1), "create")
    assert path is not None
    name = sa.make_url(db_url).get_dialect().name
    assert read_script(path).backends == (name,)
    assert "with_variant" not in path.read_text(), "one backend: each type as it resolves"
    loop.step(models(2), "grow")
    if backend == "sqlite":
        assert _is_rowid(db_url, "accounts")
    loop.back(models(2))
    loop.back(models(1))


def test_a_variant_and_a_plain_type_are_not_confused_by_the_type_cache() -> None:
    """The normalizer caches by class and public attributes; a variant mapping is
    private, so it compares the type as it resolves on the backend."""
    from sqlalchemy.dialects import postgresql, sqlite

    from dbshift.dialects import backend_for
    from dbshift.dialects.backends import offline_dialect

    for name, expected in (("sqlite", "INTEGER"), ("postgresql", "BIGINT")):
        variant = sqlite.INTEGER().with_variant(sa.BigInteger(), "postgresql")
        norm = backend_for(name).normalizer(offline_dialect(name))
        assert (norm.type(sqlite.INTEGER()), norm.type(variant)) == ("INTEGER", expected)
        norm = backend_for(name).normalizer(offline_dialect(name))  # the other order: a fresh cache
        assert (norm.type(variant), norm.type(sqlite.INTEGER())) == (expected, "INTEGER")
    norm = backend_for("postgresql").normalizer(offline_dialect("postgresql"))
    assert norm.type(sa.JSON()) == "JSON"
    assert norm.type(sa.JSON().with_variant(postgresql.JSONB(), "postgresql")) == "JSONB"


@pytest.mark.backends("postgresql")
def test_an_enum_made_on_sqlite_alone_runs_on_postgresql_with_a_warning(
    backend: str, db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`dbshift init` defaults to SQLite; an enum column made there creates its type,
    so the same file upgrades PostgreSQL (which it was not made for: a warning)."""
    project = Project(tmp_path / "proj", f"sqlite:///{tmp_path / 'dev.sqlite'}", capsys)
    metadata = sa.MetaData()
    sa.Table(
        "tickets",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("status", sa.Enum("open", "done", name="ticket_status")),
    )
    config = dbshift.Config(url=project.url, migrations=project.migrations, models=[metadata])
    path = dbshift.make(config, "tickets")
    assert path is not None and "op.create_enum(" in path.read_text()
    assert read_script(path).backends == ("sqlite",)
    assert dbshift.api.make_report(config, check=True).operations == ()  # enums: no live diff
    production = config.replace(url=db_url)
    report = dbshift.api.upgrade(production, "head")
    assert len(report.warnings) == 1 and path.name in report.warnings[0]
    assert "sqlite, not postgresql" in report.warnings[0]
    assert dbshift.api.make_report(production, check=True).operations == ()
    engine = sa.create_engine(db_url, poolclass=sa.NullPool)
    with engine.connect() as conn:
        kinds = conn.execute(sa.text("SELECT typname FROM pg_type WHERE typtype = 'e'"))
        assert [r[0] for r in kinds] == ["ticket_status"]
    engine.dispose()


def _cli_project(tmp_path: Path, url: str, capsys: pytest.CaptureFixture[str]) -> Project:
    project = Project(tmp_path / "proj", url, capsys)
    (project.root / "shop_models.py").write_text(
        "import sqlalchemy as sa\n"
        "metadata = sa.MetaData()\n"
        "sa.Table('items', metadata, sa.Column('id', sa.Integer, primary_key=True),\n"
        "         sa.Column('price', sa.Numeric(10, 2).with_variant(sa.Float(), 'sqlite')))\n"
    )
    toml = project.root / "dbshift.toml"
    toml.write_text(toml.read_text() + 'models = ["shop_models:metadata"]\n')
    return project


def test_upgrade_on_another_backend_warns_once_and_hand_written_files_never(
    backend: str,
    db_url: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    project = _cli_project(tmp_path, db_url, capsys)
    monkeypatch.syspath_prepend(str(project.root))
    other = "postgresql" if backend != "postgresql" else "sqlite"
    project.python("by_hand", 'op.create_table("notes", sa.Column("id", sa.Integer))')
    project.python("made_elsewhere", "pass", header=f'backends = ["{other}"]\n')
    project.python("made_elsewhere_too", "pass", header=f'backends = ["{other}"]\n')
    result = project.ok("upgrade")
    warnings = [line for line in result.err.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1, result.err
    assert "made_elsewhere.py and 1 more were generated for" in warnings[0]
    assert "by_hand" not in warnings[0]
    assert "applied 3 migration(s)" in result.out
    project.python("made_here", "pass", header=f'backends = ["{other}", "{_name(db_url)}"]\n')
    assert "warning:" not in project.ok("upgrade").err


def _name(url: str) -> str:
    return sa.make_url(url).get_dialect().name


def test_make_with_several_backends_writes_variants_only_where_types_differ(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    project = _cli_project(tmp_path, f"sqlite:///{tmp_path / 'dev.sqlite'}", capsys)
    monkeypatch.syspath_prepend(str(project.root))
    result = project.ok("make", "-m", "items", "--backend", "sqlite", "--backend", "postgresql")
    assert "compared on 2 backends (sqlite: 1 change(s), postgresql: 1 change(s))" in result.out
    path = next(project.migrations.glob("*_items.py"))
    text = path.read_text()
    assert 'sa.Float().with_variant(sa.Numeric(precision=10, scale=2), "postgresql")' in text
    assert 'sa.Column("id", sa.Integer()' in text  # the same everywhere: plain
    project.ok("make", "--check", "--backend", "sqlite", "--backend", "postgresql")
    # SQL is one dialect's: refused with two backends, and nothing is written
    (project.root / "shop_models.py").write_text(
        (project.root / "shop_models.py").read_text().replace("'items'", "'things'")
    )
    monkeypatch.delitem(__import__("sys").modules, "shop_models", raising=False)
    before = sorted(p.name for p in project.migrations.iterdir())
    failed = project.fails(
        2, "make", "--sql", "-m", "x", "--backend", "sqlite", "--backend", "postgresql"
    )
    assert failed.err.startswith("error: make --sql writes one dialect's SQL")
    assert sorted(p.name for p in project.migrations.iterdir()) == before
    project.ok("make", "--sql", "-m", "things", "--allow-drop-all")  # items is gone
    sql = next(project.migrations.glob("*_things.sql"))
    assert "-- backends: sqlite\n" in sql.read_text()
    assert read_script(sql).backends == ("sqlite",)


@pytest.mark.parametrize(
    ("setting", "shown"),
    [('["sqlite", "oracle"]', "'oracle'"), ('"postgres"', "'postgres'"), ("[1]", "[1]")],
)
def test_unknown_backends_are_a_config_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], setting: str, shown: str
) -> None:
    project = Project(tmp_path / "proj", f"sqlite:///{tmp_path / 'dev.sqlite'}", capsys)
    toml = project.root / "dbshift.toml"
    toml.write_text(toml.read_text() + f"backends = {setting}\n")
    result = project.fails(2, "make", "--check")
    assert result.err.startswith("error: ") and shown in result.err, result.err
    assert "sqlite, postgresql, mysql, mariadb" in result.err
    assert len(result.err.strip().splitlines()) == 1


def test_the_urls_backend_must_be_among_the_backends(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    project = _cli_project(tmp_path, f"sqlite:///{tmp_path / 'dev.sqlite'}", capsys)
    monkeypatch.syspath_prepend(str(project.root))
    result = project.fails(2, "make", "-m", "x", "--backend", "postgresql")
    assert "the URL's backend sqlite is not in backends (postgresql)" in result.err
    assert list(project.migrations.glob("*.py")) == []
    flag = project.fails(2, "make", "-m", "x", "--backend", "sqlite", "--backend", "oracle")
    assert "unknown backend 'oracle'" in flag.err and "mariadb" in flag.err
    assert project.fails(2, "check", "--backend", "pg").err.startswith("error: ")
    assert list(project.migrations.glob("*.py")) == []


def test_backends_that_need_different_migrations_are_refused(tmp_path: Path) -> None:
    """A sequence feeds a column where the backend has sequences (PostgreSQL), while
    SQLite autoincrements it: no single file is right on both."""
    metadata = sa.MetaData()
    sa.Table(
        "orders",
        metadata,
        sa.Column("id", sa.Integer, sa.Sequence("order_ids"), primary_key=True),
    )
    folder = tmp_path / "proj"
    dbshift.init(folder)
    config = dbshift.Config(
        url=f"sqlite:///{folder / 'dev.sqlite'}",
        migrations=folder / "migrations",
        models=[metadata],
        backends=("sqlite", "postgresql"),
    )
    with pytest.raises(dbshift.UsageError) as raised:
        dbshift.make(config, "orders")
    assert "orders.id: autoincrement is True on sqlite, False on postgresql" in str(raised.value)
    assert list((folder / "migrations").glob("*.py")) == []
    assert dbshift.make(config.replace(backends=("sqlite",)), "orders") is not None


@pytest.mark.backends("sqlite")
def test_check_names_the_backend_whose_schema_differs(tmp_path: Path) -> None:
    """A file made for SQLite alone leaves the GUID column CHAR(32) on PostgreSQL too:
    `check` with both backends finds it, on postgresql only."""
    folder = tmp_path / "proj"
    dbshift.init(folder)
    config = _config(f"sqlite:///{folder / 'dev.sqlite'}", folder, 1)
    assert dbshift.make(config, "sqlite only") is not None
    both = config.replace(backends=("sqlite", "postgresql"))
    report = dbshift.check(both)
    item = next(i for i in report.items if i.name == "models")
    assert item.status == "failed" and "on postgresql:" in item.detail
    assert item.problems and all(p.startswith("postgresql: ") for p in item.problems)
    assert any('"accounts"."uid"' in p or "accounts" in p for p in item.problems)
    found = dbshift.api.make_report(both, check=True)
    assert dict(found.by_backend)["sqlite"] == ()
    ok = next(i for i in dbshift.check(config).items if i.name == "models")
    assert ok.status == "ok"
    # diff against the migrations sees the same, per backend
    assert dbshift.diff(both, against="migrations") != []
    assert dbshift.diff(config, against="migrations") == []


def test_a_project_copied_between_backends_keeps_its_header(tmp_path: Path) -> None:
    """The header is read as text: listing never imports the migration."""
    (path,) = _generate(tmp_path / "proj", 1)
    copy = tmp_path / "copy.py"
    shutil.copy(path, copy)
    copy.write_text(copy.read_text().replace("import sqlalchemy as sa", "import no_such_module"))
    assert read_script(copy).backends == ALL


def _two_step_config(url: str, folder: Path, metadata: sa.MetaData) -> dbshift.Config:
    return dbshift.Config(
        url=url,
        migrations=folder / "migrations",
        models=[metadata],
        backends=("sqlite", "postgresql"),
    )


def _notes_models(step: int) -> sa.MetaData:
    """Step 2 changes what only one backend sees: PostgreSQL's variant of `body` (JSON to
    JSONB) and a column comment (SQLite keeps none)."""
    from sqlalchemy.dialects import postgresql

    body = sa.JSON() if step == 1 else sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
    metadata = sa.MetaData()
    sa.Table(
        "notes",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("body", body),
        sa.Column("title", sa.String(40), comment=None if step == 1 else "shown in lists"),
    )
    return metadata


@pytest.mark.backends("sqlite", "postgresql")
def test_a_change_one_backend_sees_is_written_once_and_harmless_elsewhere(
    backend: str, db_url: str, scratch: ScratchDatabases, tmp_path: Path
) -> None:
    folder = tmp_path / "proj"
    dbshift.init(folder)
    dev = f"sqlite:///{folder / 'dev.sqlite'}"
    assert dbshift.make(_two_step_config(dev, folder, _notes_models(1)), "notes")
    config = _two_step_config(dev, folder, _notes_models(2))
    found = dbshift.api.make_report(config, check=True)
    by_backend = dict(found.by_backend)
    assert by_backend["sqlite"] == (), "SQLite sees neither change"
    assert len(by_backend["postgresql"]) == 2
    path = dbshift.make(config, "jsonb and a comment")
    assert path is not None
    text = path.read_text()
    upgrade = text.split("def downgrade")[0]
    assert upgrade.count("op.alter_column(") == 2, text
    assert 'postgresql_using="body::JSONB"' in text
    production = _two_step_config(db_url, folder, _notes_models(2))
    dbshift.upgrade(production, "head")
    expected = created_schema(_notes_models(2), scratch)
    assert schema_of(db_url) == expected, text + _difference(schema_of(db_url), expected)
    assert dbshift.api.make_report(production, check=True).operations == ()


def test_a_backends_line_naming_an_unknown_backend_is_a_header_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = Project(tmp_path / "proj", f"sqlite:///{tmp_path / 'dev.sqlite'}", capsys)
    odd = project.python("odd", "pass", header='backends = ["sqlite", "oracle"]\n')
    result = project.fails(4, "status")
    assert f"{odd}.py:4: unknown backend 'oracle' in the backends line" in result.err
    (project.migrations / f"{odd}.py").unlink()
    odd_sql = project.sql("odd_sql", "SELECT 1;", header="-- backends: postgres\n")
    result = project.fails(4, "status")
    assert f"{odd_sql}.sql:3: unknown backend 'postgres'" in result.err


def test_async_drivers_warn_too(backend: str, db_url: str, tmp_path: Path) -> None:
    import asyncio

    import dbshift.aio

    folder = tmp_path / "proj"
    dbshift.init(folder)
    other = "sqlite" if backend == "mysql" else "mysql"
    (folder / "migrations" / "20260101T000001_made.py").write_text(
        f'"""made"""\n\nparents = []\nbackends = ["{other}"]\n\n\ndef upgrade(op):\n    pass\n'
    )
    config = dbshift.Config(url=with_driver(db_url, "async"), migrations=folder / "migrations")
    dbshift.rehash(config)
    told: list[str] = []

    class Listener:
        def step_started(self, step: object, index: int, total: int) -> None:
            pass

        def step_finished(self, result: object) -> None:
            pass

        def warned(self, text: str) -> None:
            told.append(text)

    report = asyncio.run(dbshift.aio.upgrade(config, listener=Listener()))
    assert report.done == ["20260101T000001_made"]
    assert told == list(report.warnings) and len(told) == 1
    assert f"generated for {other}, not {_name(db_url)}" in told[0]


_PORTABLE = [
    sa.Integer(),
    sa.BigInteger(),
    sa.SmallInteger(),
    sa.String(20),
    sa.String(200),
    sa.Text(),
    sa.CHAR(32),
    sa.Numeric(10, 2),
    sa.Float(),
    sa.Boolean(),
    sa.Date(),
    sa.DateTime(),
    sa.DateTime(timezone=True),
    sa.JSON(),
    sa.LargeBinary(),
    sa.Uuid(),
]


def _own_types(name: str) -> list[sa.types.TypeEngine[object]]:
    from sqlalchemy.dialects import mysql, postgresql, sqlite

    own: dict[str, list[sa.types.TypeEngine[object]]] = {
        "sqlite": [sqlite.INTEGER(), sqlite.DATETIME()],
        "postgresql": [postgresql.JSONB(), postgresql.UUID(), postgresql.BYTEA()],
        "mysql": [mysql.BINARY(16), mysql.LONGTEXT(), mysql.TINYINT(1)],
    }
    return [*_PORTABLE, *own[name]]


@given(st.data())
@settings(max_examples=150, deadline=None)
def test_a_merged_type_renders_to_code_that_is_each_backends_type(data: st.DataObject) -> None:
    """Whatever type each backend resolves to, the code `make` writes builds a type
    whose DDL on every backend is that backend's, with a variant only where the
    primary's DDL differs."""
    from sqlalchemy.dialects import mysql, postgresql, sqlite

    from dbshift.autogen.backends import merged_type
    from dbshift.autogen.render import Renderer
    from dbshift.dialects.backends import offline_dialect, type_ddl

    names = data.draw(st.permutations(ALL))
    chosen = {n: data.draw(st.sampled_from(_own_types(n)), label=n) for n in names}
    dialects = {n: offline_dialect(n) for n in names}
    primary, *others = names
    merged = merged_type(chosen[primary], [(dialects[n], chosen[n]) for n in others])
    code = Renderer().type_code(merged)
    built = eval(code, {"sa": sa, "postgresql": postgresql, "mysql": mysql, "sqlite": sqlite})
    for name in names:
        assert type_ddl(built, dialects[name]) == type_ddl(chosen[name], dialects[name]), code
    for name in others:
        same = type_ddl(chosen[primary], dialects[name]) == type_ddl(chosen[name], dialects[name])
        assert (f'"{name}"' not in code) is same, code


def _cycle() -> sa.MetaData:
    metadata = sa.MetaData(naming_convention=NAMING)
    sa.Table(
        "teams",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("captain_id", sa.ForeignKey("players.id", use_alter=True)),
    )
    sa.Table(
        "players",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("team_id", sa.ForeignKey("teams.id")),
    )
    return metadata


def test_a_foreign_key_cycle_made_on_sqlite_for_all_backends_runs_on_each(
    backend: str, db_url: str, scratch: ScratchDatabases, tmp_path: Path
) -> None:
    """SQLite alone creates a cycle's foreign keys inline; a file for every backend adds
    the closing one afterwards (SQLite rebuilds the table for it), and drops it first."""
    folder = tmp_path / "proj"
    dbshift.init(folder)
    dev = f"sqlite:///{folder / 'dev.sqlite'}"
    made = dbshift.Config(url=dev, migrations=folder / "migrations", models=[_cycle()])
    path = dbshift.make(made.replace(backends=ALL), "cycle")
    assert path is not None and "op.create_foreign_key(" in path.read_text()
    config = made.replace(url=db_url)
    dbshift.upgrade(config, "head")
    assert schema_of(db_url) == created_schema(_cycle(), scratch)
    assert dbshift.api.make_report(config.replace(backends=ALL), check=True).operations == ()
    dbshift.downgrade(config, "base")
    assert schema_of(db_url) == schema_of(scratch.create())


@pytest.mark.backends("sqlite")
def test_a_history_without_create_enum_is_one_make_finds_complete(
    backend: str, tmp_path: Path
) -> None:
    """A history written before enums were recorded on SQLite has no create_enum: its
    `create_table` creates the type where it is needed (PostgreSQL, as Alembic's does),
    so the replayed schema has it and `make --check` on SQLite finds nothing to add."""
    folder = tmp_path / "proj"
    dbshift.init(folder)
    (folder / "migrations" / "20260101T000001_tickets.py").write_text(
        '"""tickets"""\n\nparents = []\n\nimport sqlalchemy as sa\n\n\ndef upgrade(op):\n'
        '    op.create_table("tickets", sa.Column("id", sa.Integer, primary_key=True),\n'
        '                    sa.Column("status", sa.Enum("open", "done", name="ticket_status")))\n'
    )
    metadata = sa.MetaData()
    sa.Table(
        "tickets",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("status", sa.Enum("open", "done", name="ticket_status")),
    )
    config = dbshift.Config(
        url=f"sqlite:///{folder / 'dev.sqlite'}",
        migrations=folder / "migrations",
        models=[metadata],
    )
    dbshift.rehash(config)
    found = dbshift.api.make_report(config, check=True)
    assert [op.describe() for op in found.operations] == []


@pytest.mark.backends("mysql")
def test_mysql_and_mariadb_are_the_url_schemes_names(
    backend: str, db_url: str, scratch: ScratchDatabases, tmp_path: Path
) -> None:
    """SQLAlchemy gives a MariaDB server behind `mysql+pymysql://` the `mysql` dialect
    and behind `mariadb+pymysql://` the `mariadb` one, and a variant applies only under
    its own name: a file made for `mariadb` is exact through the mariadb URL, and warns
    through the mysql one."""
    mariadb_url = db_url.replace("mysql+pymysql://", "mariadb+pymysql://")
    title = sa.String(10).with_variant(sa.Text(), "mariadb")
    metadata = sa.MetaData()
    sa.Table(
        "posts", metadata, sa.Column("id", sa.Integer, primary_key=True), sa.Column("title", title)
    )
    for url, name, stored in ((db_url, "mysql", "VARCHAR(10)"), (mariadb_url, "mariadb", "TEXT")):
        engine = sa.create_engine(url, poolclass=sa.NullPool)
        with engine.connect() as conn:
            assert conn.dialect.name == name and getattr(conn.dialect, "is_mariadb", False)
            assert title.compile(dialect=conn.dialect) == stored
        engine.dispose()
    folder = tmp_path / "proj"
    dbshift.init(folder)
    dev = f"sqlite:///{folder / 'dev.sqlite'}"
    made = dbshift.Config(url=dev, migrations=folder / "migrations", models=[metadata])
    path = dbshift.make(made.replace(backends=("sqlite", "mariadb")), "posts")
    assert (
        path is not None
        and 'sa.String(length=10).with_variant(sa.Text(), "mariadb")' in path.read_text()
    )
    on_mariadb = made.replace(url=mariadb_url)
    assert dbshift.upgrade(on_mariadb).warnings == ()
    reference = scratch.create().replace("mysql+pymysql://", "mariadb+pymysql://")
    engine = sa.create_engine(reference, poolclass=sa.NullPool)
    metadata.create_all(engine)
    engine.dispose()
    assert schema_of(mariadb_url) == schema_of(reference)
    assert '"TEXT()"' in schema_of(mariadb_url)
    assert dbshift.api.make_report(on_mariadb, check=True).operations == ()
    fresh = scratch.create()
    warned = dbshift.upgrade(made.replace(url=fresh), "head").warnings
    assert len(warned) == 1 and "generated for sqlite, mariadb, not mysql" in warned[0]


def test_sqlalchemy_utils_uuid_types_made_once_are_exact_on_every_backend(
    backend: str, db_url: str, scratch: ScratchDatabases, tmp_path: Path
) -> None:
    """sqlalchemy-utils' `UUIDType`, as published on PyPI: native UUID on PostgreSQL,
    BINARY(16) or CHAR(32) elsewhere, chosen in its `load_dialect_impl`."""
    utils = pytest.importorskip("sqlalchemy_utils")

    def metadata() -> sa.MetaData:
        metadata = sa.MetaData(naming_convention=NAMING)
        sa.Table(
            "sessions",
            metadata,
            sa.Column("id", utils.UUIDType(), primary_key=True),
            sa.Column("token", utils.UUIDType(binary=False), nullable=False, unique=True),
        )
        return metadata

    folder = tmp_path / "proj"
    dbshift.init(folder)
    made = dbshift.Config(
        url=f"sqlite:///{folder / 'dev.sqlite'}",
        migrations=folder / "migrations",
        models=[metadata()],
        backends=ALL,
    )
    path = dbshift.make(made, "sessions")
    assert path is not None and "sqlalchemy_utils" not in path.read_text()
    config = made.replace(url=db_url, models=[metadata()])
    dbshift.upgrade(config, "head")
    expected = created_schema(metadata(), scratch)
    assert schema_of(db_url) == expected, path.read_text() + _difference(
        schema_of(db_url), expected
    )
    assert dbshift.api.make_report(config, check=True).operations == ()
    if backend != "sqlite":  # SQLite reads BINARY(16) back as NUMERIC(16), its affinity
        assert dbshift.diff(config) == []


def test_a_backends_list_over_several_lines_with_comments_is_read(tmp_path: Path) -> None:
    path = tmp_path / "20260101T000000_x.py"
    path.write_text(
        '"""x"""\n\nparents = []\nbackends = [\n    "sqlite",  # dev\n    "postgresql",\n]\n\n\n'
        "def upgrade(op):\n    pass\n"
    )
    assert read_script(path).backends == ("sqlite", "postgresql")
    path.write_text('"""x"""\n\nparents = []\nbackends = []\n\n\ndef upgrade(op):\n    pass\n')
    assert read_script(path).backends == ()


def test_made_with_a_postgresql_url_it_is_exact_on_every_backend_too(
    backend: str, db_url: str, scratch: ScratchDatabases, tmp_path: Path
) -> None:
    """The primary backend's types are written plain, the others' as variants; no
    database is needed to make them (the URL points nowhere)."""
    folder = tmp_path / "proj"
    (path,) = _generate(folder, 2, url="postgresql+psycopg://nobody@127.0.0.1:1/nowhere")
    assert 'sa.Column("uid", sa.UUID().with_variant(' in path.read_text()
    config = _config(db_url, folder, 2)
    dbshift.upgrade(config, "head")
    expected = created_schema(models(2), scratch)
    assert schema_of(db_url) == expected, path.read_text() + _difference(
        schema_of(db_url), expected
    )
    assert dbshift.api.make_report(config.replace(backends=ALL), check=True).operations == ()
    if backend == "sqlite":
        assert _is_rowid(db_url, "accounts")
