"""Autogenerate on real databases: each case Alembic gets wrong, and the everyday loop."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

import dbshift
from dbshift.cli import main
from tests.autogen_support import NAMING, Loop, schema_of


def users(metadata: sa.MetaData, *extra: sa.Column[object] | sa.Index, **kw: str) -> sa.Table:
    return sa.Table(
        "users",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("email", sa.String(100), nullable=False),
        *extra,
        **kw,
    )


def test_everyday_loop_up_down_up(loop: Loop) -> None:
    v1 = sa.MetaData(naming_convention=NAMING)
    users(v1, sa.Column("name", sa.String(50)), sa.Index("ix_users_email", "email"))
    loop.step(v1)
    v2 = sa.MetaData(naming_convention=NAMING)
    users(
        v2,
        sa.Column("name", sa.String(80), nullable=False, server_default="anonymous"),
        sa.Column("age", sa.Integer),
        sa.CheckConstraint("age >= 0", name="age_positive"),
        sa.Index("ix_users_email", "email", unique=True),
        comment="people",
    )
    loop.step(v2)
    loop.back(v2)
    loop.back(v1)
    assert loop.states == [schema_of(loop.url)]
    loop.step(v2)


def test_custom_type_renders_as_its_impl_and_runs(loop: Loop) -> None:
    class JSONText(sa.types.TypeDecorator[object]):
        impl = sa.Text
        cache_ok = True

    class Cents(sa.types.TypeDecorator[int]):
        impl = sa.Numeric(12, 2)
        cache_ok = True

    metadata = sa.MetaData(naming_convention=NAMING)
    users(metadata, sa.Column("data", JSONText), sa.Column("balance", Cents))
    path = loop.step(metadata)
    assert path is not None
    source = path.read_text()
    assert "JSONText" not in source and "sa.Text()" in source
    assert "sa.Numeric(precision=12, scale=2)" in source
    spec = importlib.util.spec_from_file_location("generated", path)
    assert spec and spec.loader
    spec.loader.exec_module(importlib.util.module_from_spec(spec))  # imports cleanly


def test_foreign_key_cycle_is_created_and_dropped(loop: Loop) -> None:
    metadata = sa.MetaData(naming_convention=NAMING)
    sa.Table(
        "teams",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("captain_id", sa.ForeignKey("players.id", use_alter=True)),
        sa.Column("parent_id", sa.ForeignKey("teams.id", ondelete="CASCADE")),
    )
    sa.Table(
        "players",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("team_id", sa.ForeignKey("teams.id")),
    )
    loop.step(metadata)
    loop.back(metadata)


def test_sequence_stays_a_sequence(loop: Loop, backend: str) -> None:
    metadata = sa.MetaData(naming_convention=NAMING)
    seq = sa.Sequence("order_numbers", start=100, metadata=metadata)
    sa.Table(
        "orders",
        metadata,
        sa.Column("id", sa.Integer, seq, primary_key=True),
        sa.Column("note", sa.String(20)),
    )
    path = loop.step(metadata)
    assert path is not None
    source = path.read_text()
    if backend == "sqlite":
        assert "create_sequence" not in source
    else:
        assert 'op.create_sequence("order_numbers", start=100)' in source
        assert "autoincrement=False" in source
    loop.back(metadata)
    assert '"sequences": {}' in schema_of(loop.url)


@pytest.mark.backends("postgresql")
def test_enum_types_created_extended_and_dropped(loop: Loop) -> None:
    v1 = sa.MetaData(naming_convention=NAMING)
    users(v1, sa.Column("mood", sa.Enum("happy", "sad", name="mood")))
    loop.step(v1)
    v2 = sa.MetaData(naming_convention=NAMING)
    users(v2, sa.Column("mood", sa.Enum("happy", "meh", "sad", "angry", name="mood")))
    path = loop.step(v2)
    assert path is not None
    source = path.read_text()
    assert 'op.add_enum_value("mood", "meh", before="sad")' in source
    assert 'op.add_enum_value("mood", "angry")' in source
    loop.back(v2)
    loop.back(v1)
    assert '"enums": {}' in schema_of(loop.url)
    loop.step(v1)  # the type was really gone: creating it again works


def test_indexed_foreign_key_downgrades_on_every_backend(loop: Loop) -> None:
    v1 = sa.MetaData(naming_convention=NAMING)
    sa.Table("teams", v1, sa.Column("id", sa.Integer, primary_key=True))
    loop.step(v1)
    v2 = sa.MetaData(naming_convention=NAMING)
    sa.Table("teams", v2, sa.Column("id", sa.Integer, primary_key=True))
    users(v2, sa.Column("team_id", sa.ForeignKey("teams.id"), index=True))
    sa.Table(
        "members",
        v2,
        sa.Column("team_id", sa.ForeignKey("teams.id"), primary_key=True),
        sa.Column("user_id", sa.ForeignKey("users.id"), primary_key=True),
        sa.Index("ix_members_user", "user_id", "team_id"),
    )
    loop.step(v2)
    loop.back(v2)
    v3 = sa.MetaData(naming_convention=NAMING)
    sa.Table("teams", v3, sa.Column("id", sa.Integer, primary_key=True))
    users(v3, sa.Column("team_id", sa.Integer, index=True))
    loop.step(v2)
    loop.step(v3)  # drops the foreign key, keeps the index
    loop.back(v3)


def test_no_false_differences_on_a_create_all_database(
    db_url: str, tmp_path: Path, backend: str
) -> None:
    """Spellings the server changes: float/double, int/integer, boolean/tinyint(1),
    defaults quoted or cast, names the backend chose, MariaDB's implicit FK index."""
    metadata = sa.MetaData()
    sa.Table("teams", metadata, sa.Column("id", sa.Integer, primary_key=True))
    sa.Table(
        "things",
        metadata,
        sa.Column("id", sa.BigInteger, primary_key=True),
        sa.Column("ratio", sa.Float, server_default="0.5"),
        sa.Column("real", sa.Float(precision=24)),
        sa.Column("price", sa.Numeric(10, 2), server_default=sa.text("0")),
        sa.Column("flag", sa.Boolean, nullable=False),
        sa.Column("count", sa.SmallInteger, server_default="0"),
        sa.Column("label", sa.String(30), server_default="none"),
        sa.Column("body", sa.Text),
        sa.Column("at", sa.DateTime, server_default=sa.func.current_timestamp()),
        sa.Column("day", sa.Date),
        sa.Column("team_id", sa.ForeignKey("teams.id", ondelete="CASCADE")),
        sa.Column("kind", sa.Enum("a", "b", name="kind")),
        sa.UniqueConstraint("label"),
        sa.CheckConstraint("count >= 0"),
        sa.Index("ix_things_lower_label", sa.func.lower(sa.column("label")))
        if backend != "mysql"
        else sa.Index("ix_things_day", "day"),
    )
    engine = sa.create_engine(db_url, poolclass=sa.NullPool)
    metadata.create_all(engine)
    engine.dispose()
    config = dbshift.Config(url=db_url, migrations=tmp_path, models=[metadata])
    assert [str(op) for op in dbshift.diff(config)] == []


def test_rename_is_asked_decided_by_flag_and_never_guessed(loop: Loop) -> None:
    v1 = sa.MetaData(naming_convention=NAMING)
    users(v1, sa.Column("name", sa.String(50)))
    loop.step(v1)
    config = loop.config(v1)
    engine = sa.create_engine(loop.url, poolclass=sa.NullPool)
    with engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO users (id, email, name) VALUES (1, 'a@b', 'Ann')"))
    v2 = sa.MetaData(naming_convention=NAMING)
    users(v2, sa.Column("full_name", sa.String(50)))
    config = loop.config(v2)
    ops = dbshift.diff(config, against="migrations")
    assert [str(op) for op in ops] == [
        'drop column "users"."name"',
        'add column "users"."full_name"',
    ]
    asked: list[tuple[str, str, str]] = []

    def yes(kind: str, old: str, new: str) -> bool:
        asked.append((kind, old, new))
        return True

    path = dbshift.make(config, message="rename", decide=yes)
    assert asked == [("column", "users.name", "full_name")]
    assert path is not None and "op.rename_column" in path.read_text()
    dbshift.upgrade(config)
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT full_name FROM users")).scalar() == "Ann"
    engine.dispose()
    dbshift.downgrade(config, "-1")
    path.unlink()
    path = dbshift.make(config, message="rename", renames=["users.name=full_name"])
    assert path is not None and "op.rename_column" in path.read_text()


def test_cli_make_check_and_no_changes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "models.py").write_text(
        "import sqlalchemy as sa\n"
        "metadata = sa.MetaData()\n"
        "sa.Table('users', metadata, sa.Column('id', sa.Integer, primary_key=True),\n"
        "         sa.Column('name', sa.String(20)))\n"
    )
    (tmp_path / "dbshift.toml").write_text(
        'url = "sqlite:///nowhere/app.db"\nmigrations = "migrations"\nmodels = ["models:metadata"]\n'
    )
    (tmp_path / "migrations").mkdir()
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))

    def run(*args: str) -> tuple[int, str]:
        try:
            main(list(args))
        except SystemExit as done:
            out = capsys.readouterr()
            return int(done.code or 0), out.out + out.err
        raise AssertionError("main() returned")

    assert run("make", "--check") == (1, run("make", "--check")[1])
    code, out = run("make", "-m", "users", "--no-input")
    assert code == 0 and "create table" in out, out
    assert not (tmp_path / "nowhere").exists()  # no database was needed
    code, out = run("make", "-m", "nothing", "--no-input")
    assert (code, out.strip()) == (0, "No changes (compared with the migrations)")
    assert run("make", "--check")[0] == 0
    assert len(list((tmp_path / "migrations").glob("*.py"))) == 1
    code, out = run("make", "--json", "--check")
    assert code == 0 and '"operations": []' in out


def test_make_sql_writes_dialect_ddl(tmp_path: Path) -> None:
    metadata = sa.MetaData()
    users(metadata)
    config = dbshift.Config(
        url="postgresql://nobody@nowhere/db", migrations=tmp_path, models=[metadata]
    )
    path = dbshift.make(config, message="users", sql=True)
    assert path is not None and path.suffix == ".sql"
    text = path.read_text()
    assert "CREATE TABLE users" in text and "SERIAL" in text
    assert text.index("-- dbshift:down") < text.index("DROP TABLE users")


def test_generated_files_compile_and_format_hook_runs(tmp_path: Path) -> None:
    metadata = sa.MetaData()
    users(metadata, sa.Column('we"ird`name', sa.String(10), comment="it's \\ odd\n"))
    config = dbshift.Config(
        url="sqlite:///x.db",
        migrations=tmp_path,
        models=[metadata],
        format=f'{sys.executable} -c \'import sys; open(sys.argv[1], "a").write("# formatted\\n")\'',
    )
    path = dbshift.make(config, message="odd names")
    assert path is not None
    compile(path.read_text(), str(path), "exec")
    assert path.read_text().endswith("# formatted\n")
    subprocess.run(
        [sys.executable, "-c", f"import runpy; runpy.run_path({str(path)!r})"], check=True
    )


def test_replay_cache_imports_only_new_migrations_and_notices_edits(tmp_path: Path) -> None:
    marker = tmp_path / "imported.txt"
    folder = tmp_path / "migrations"
    folder.mkdir()
    (folder / "20260101T000001_users.py").write_text(
        '"""users"""\n\nparents = []\n\nimport sqlalchemy as sa\n\n'
        f"open({str(marker)!r}, 'a').write('x')\n\n\n"
        "def upgrade(op):\n"
        "    op.create_table('users', sa.Column('id', sa.Integer, primary_key=True))\n"
    )
    metadata = sa.MetaData()
    users(metadata)
    config = dbshift.Config(url="sqlite:///unused.db", migrations=folder, models=[metadata])
    dbshift.rehash(config)
    first = dbshift.make(config, message="email")
    assert first is not None and marker.read_text() == "x"
    assert dbshift.make(config, message="again") is None
    assert marker.read_text() == "x", "the unchanged migration was imported again"
    first.unlink()  # a changed set of migrations, and an edit, are both noticed
    path = folder / "20260101T000001_users.py"
    path.write_text(path.read_text().replace("sa.Integer", "sa.BigInteger"))
    second = dbshift.make(config, message="email")
    assert second is not None and marker.read_text() == "xx"
    assert "existing_type=sa.BigInteger()" in second.read_text()


def test_identity_columns(loop: Loop, backend: str) -> None:
    metadata = sa.MetaData(naming_convention=NAMING)
    sa.Table(
        "events",
        metadata,
        sa.Column("id", sa.BigInteger, sa.Identity(always=True, start=10), primary_key=True),
        sa.Column("name", sa.String(20)),
    )
    path = loop.step(metadata)
    assert path is not None
    if backend == "postgresql":
        assert "sa.Identity(always=True, start=10)" in path.read_text()
        assert '"identity": {"always": true' in loop.states[-1]
    loop.back(metadata)


def test_table_rename_keeps_rows_and_notes_without_flag(loop: Loop) -> None:
    v1 = sa.MetaData(naming_convention=NAMING)
    users(v1)
    sa.Table(
        "posts",
        v1,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("author", sa.ForeignKey("users.id", name="fk_author")),
    )
    loop.step(v1)
    engine = sa.create_engine(loop.url, poolclass=sa.NullPool)
    with engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO users (id, email) VALUES (1, 'a@b')"))
    v2 = sa.MetaData(naming_convention=NAMING)
    sa.Table(
        "people",
        v2,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("email", sa.String(100), nullable=False),
    )
    sa.Table(
        "posts",
        v2,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("author", sa.ForeignKey("people.id", name="fk_author")),
    )
    report = dbshift.api.make_report(loop.config(v2), "guess", check=True)
    assert [str(op) for op in report.operations] == [
        'drop constraint "fk_author" from "posts"',
        'drop table "users"',
        'create table "people"',
        'add foreign key "fk_author" to "posts"',
    ]
    assert report.notes and "--rename users=people" in report.notes[0]
    path = dbshift.make(loop.config(v2), message="rename", renames=["users=people"])
    assert path is not None
    upgrade = path.read_text().split("def downgrade")[0]
    assert upgrade.count("op.") == 1 and 'op.rename_table("users", "people")' in upgrade
    dbshift.upgrade(loop.config(v2))
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT email FROM people")).scalar() == "a@b"
    engine.dispose()


def test_example_blog_models_match_its_migrations(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The README's example: raw SQL in its migrations, so make compares with the
    database at head."""
    import shutil

    example = Path(__file__).parent.parent / "examples" / "blog"
    project = tmp_path / "blog"
    shutil.copytree(example, project, ignore=shutil.ignore_patterns("*.db", "__pycache__"))
    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.chdir(project)
    monkeypatch.syspath_prepend(str(project))
    monkeypatch.delitem(sys.modules, "models", raising=False)
    for args, code in ((["make", "--check"], 2), (["upgrade"], 0), (["make", "--check"], 0)):
        with pytest.raises(SystemExit) as done:
            main(args)
        out = capsys.readouterr()
        assert done.value.code == code, out.out + out.err
    assert out.out.strip() == "No changes (compared with the database)"


@pytest.mark.parametrize(
    ("toml", "args", "code", "message"),
    [
        ('models = ["nowhere.models:Base"]', ["make", "-m", "x"], 2, "cannot import models"),
        ('models = ["models:Missing"]', ["make", "-m", "x"], 2, "has no attribute 'Missing'"),
        ("", ["make", "-m", "x"], 2, "no models configured"),
        ('models = ["models:metadata"]', ["make", "--rename", "oops", "-m", "x"], 2, "--rename"),
        ('models = ["models:metadata"]', ["make"], 2, "needs a message"),
    ],
)
def test_make_bad_input_is_one_line_and_writes_nothing(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    toml: str,
    args: list[str],
    code: int,
    message: str,
) -> None:
    (tmp_path / "models.py").write_text(
        "import sqlalchemy as sa\nmetadata = sa.MetaData()\n"
        "sa.Table('t', metadata, sa.Column('id', sa.Integer, primary_key=True))\n"
    )
    (tmp_path / "dbshift.toml").write_text(f'url = "sqlite:///app.db"\n{toml}\n')
    (tmp_path / "migrations").mkdir()
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "models", raising=False)
    with pytest.raises(SystemExit) as done:
        main(args)
    out = capsys.readouterr()
    assert done.value.code == code
    lines = out.err.strip().splitlines()
    assert len(lines) == 1 and message in lines[0] and "hint:" in lines[0], out.err
    assert "Traceback" not in out.err + out.out
    assert list((tmp_path / "migrations").iterdir()) == []
    assert not (tmp_path / "app.db").exists()


def test_dropping_an_unnamed_constraint_is_a_clear_error(tmp_path: Path) -> None:
    v1 = sa.MetaData()
    sa.Table("teams", v1, sa.Column("id", sa.Integer, primary_key=True))
    users(v1, sa.Column("team_id", sa.ForeignKey("teams.id")))
    config = dbshift.Config(url="sqlite:///unused.db", migrations=tmp_path, models=[v1])
    assert dbshift.make(config, message="first") is not None
    v2 = sa.MetaData()
    sa.Table("teams", v2, sa.Column("id", sa.Integer, primary_key=True))
    users(v2, sa.Column("team_id", sa.Integer))
    with pytest.raises(dbshift.UsageError) as error:
        dbshift.make(config.replace(models=[v2]), message="drop it")
    assert "unnamed foreign key on team_id" in error.value.message
    assert "naming_convention" in (error.value.hint or "")
    assert len(list(tmp_path.glob("*.py"))) == 1


def test_renamed_column_carries_the_foreign_keys_to_it(loop: Loop) -> None:
    v1 = sa.MetaData(naming_convention=NAMING)
    sa.Table("teams", v1, sa.Column("code", sa.String(10), primary_key=True))
    users(v1, sa.Column("team", sa.ForeignKey("teams.code")))
    loop.step(v1)
    v2 = sa.MetaData(naming_convention=NAMING)
    sa.Table("teams", v2, sa.Column("slug", sa.String(10), primary_key=True))
    users(v2, sa.Column("team", sa.ForeignKey("teams.slug", name="fk_users_team")))
    path = dbshift.make(loop.config(v2), message="rename", renames=["teams.code=slug"])
    assert path is not None
    upgrade = path.read_text().split("def downgrade")[0]
    assert upgrade.count("op.") == 1 and "op.rename_column" in upgrade, upgrade


def test_expressions_bound_to_the_table_compare_as_the_server_prints_them(
    loop: Loop, backend: str
) -> None:
    """`t.c.x > 0` and `sa.func.lower(t.c.x)` name the table and hold bound values;
    the server prints neither."""
    metadata = sa.MetaData(naming_convention=NAMING)
    table = users(metadata, sa.Column("age", sa.Integer))
    table.append_constraint(sa.CheckConstraint(table.c.age >= 18, name="adult"))
    if backend != "mysql":  # MariaDB has no expression indexes
        sa.Index("ix_users_lower_email", sa.func.lower(table.c.email))
    path = loop.step(metadata)
    assert path is not None and "users." not in path.read_text().split("def downgrade")[0]


def test_make_and_diff_leave_sys_path_as_they_found_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The project's folder is on `sys.path` only while the models are imported, also
    when their import fails; the modules imported stay imported."""
    (tmp_path / "scoped_models.py").write_text(
        "import sqlalchemy as sa\nmetadata = sa.MetaData()\n"
        "sa.Table('t', metadata, sa.Column('id', sa.Integer, primary_key=True))\n"
    )
    (tmp_path / "scoped_broken.py").write_text("raise RuntimeError('broken models')\n")
    (tmp_path / "dbshift.toml").write_text(
        f'url = "sqlite:///{tmp_path / "app.db"}"\nmodels = ["scoped_models:metadata"]\n'
    )
    (tmp_path / "migrations").mkdir()
    for name in ("scoped_models", "scoped_broken"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    config = dbshift.Config.load(tmp_path / "dbshift.toml")
    before = list(sys.path)
    assert str(tmp_path) not in before
    assert dbshift.diff(config, against="migrations") != []
    assert sys.path == before and "scoped_models" in sys.modules
    assert dbshift.make(config, "first").exists()
    assert sys.path == before
    with pytest.raises(dbshift.ConfigError, match="cannot import models 'scoped_broken'"):
        dbshift.make(config.replace(models=["scoped_broken:metadata"]), "broken")
    assert sys.path == before
