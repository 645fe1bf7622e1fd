"""The Alembic converter on revision files written here (no Alembic run): what it
carries over, what it changes, what it refuses; and `dbshift.aio.adopt` on a version
table made by hand. The real projects are in tests/test_adopt.py (slow)."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from types import ModuleType

import pytest
import sqlalchemy as sa

import dbshift.aio
import dbshift.api
from dbshift.adopt import alembic
from dbshift.adopt.alembic import AdoptError
from dbshift.config import Config
from dbshift.errors import IntegrityError, MigrationError, UsageError
from dbshift.migrations.scripts import read_script
from dbshift.ops import current
from dbshift.ops.recorder import Op
from tests.conftest import with_driver

REVISION = '''\
"""create users

Revision ID: {rev}
Revises: {down}
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = {rev!r}
down_revision: Union[str, Sequence[str], None] = {down!r}
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

TABLE = "users"  # module-level code stays


def upgrade(
) -> None:  # the signature may span lines
    """Upgrade schema."""
    op.create_table(
        TABLE,
        sa.Column("id", sa.Integer, primary_key=True),
    )

    def helper(o):
        return o

    helper(op).create_index("ix_users_id", TABLE, ["id"])


def downgrade() -> None: op.drop_table(TABLE)
'''


def alembic_project(root: Path, env: str = "", ini: str = "") -> Path:
    (root / "alembic" / "versions").mkdir(parents=True)
    (root / "alembic" / "env.py").write_text(env or "from alembic import context\n")
    path = root / "alembic.ini"
    path.write_text(f"[alembic]\nscript_location = %(here)s/alembic\n{ini}")
    return path


def revision(root: Path, rev: str, down: str | None, text: str | None = None) -> Path:
    path = root / "alembic" / "versions" / f"{rev.replace('.', '_')}_x.py"
    path.write_text(text if text is not None else REVISION.format(rev=rev, down=down))
    return path


def test_a_revision_is_carried_over_with_op_passed_in(tmp_path: Path) -> None:
    ini = alembic_project(tmp_path)
    source = revision(tmp_path, "ab12", None)
    revision(tmp_path, "cd34", "ab12")
    converted = {c.id: c for c in alembic.convert(alembic.read_project(ini))}
    assert set(converted) == {"ab12", "cd34"}
    text = converted["cd34"].text
    assert text.startswith('"""create users\n\nRevision ID: cd34\nRevises: ab12\n"""\n')
    assert "# alembic revision: cd34 (converted from versions/cd34_x.py)\n" in text
    assert '\nparents = ["ab12"]\n' in text
    assert "from alembic" not in text and "revision: str" not in text
    assert "down_revision: Union" not in text and "used by Alembic" not in text
    assert "def upgrade(op):  # the signature may span lines\n" in text
    assert "def downgrade(op): op.drop_table(TABLE)\n" in text
    # the body, helpers and module-level code are the original's, line for line
    original = source.read_text()
    body = original[
        original.index('    """Upgrade schema."""') : original.index("\n\ndef downgrade")
    ]
    assert body in text and 'TABLE = "users"  # module-level code stays' in text
    # dbshift reads it as a migration: message and parents from the header
    path = tmp_path / "cd34.py"
    path.write_text(text)
    script = read_script(path)
    assert (script.message, script.parents) == ("create users", ("ab12",))
    compile(text, "cd34.py", "exec")


def test_from_future_imports_stay_first(tmp_path: Path) -> None:
    """Python takes `from __future__` only before every other statement: it goes into
    the header ahead of `parents` (optuna 5.0.0's revisions import annotations so)."""
    ini = alembic_project(tmp_path)
    revision(tmp_path, "ab12", None)
    future = REVISION.format(rev="cd34", down="ab12").replace(
        '"""\nfrom typing', '"""\n\nfrom __future__ import annotations\n\nfrom typing'
    )
    revision(tmp_path, "cd34", "ab12", future)
    text = {c.id: c for c in alembic.convert(alembic.read_project(ini))}["cd34"].text
    compile(text, "cd34.py", "exec")
    assert text.count("from __future__ import annotations") == 1
    assert text.index("from __future__") < text.index("\nparents = [")
    path = tmp_path / "cd34.py"
    path.write_text(text)
    script = read_script(path)
    assert (script.message, script.parents) == ("create users", ("ab12",))


def test_ids_dbshift_cannot_use_are_mapped_and_named_in_the_header(tmp_path: Path) -> None:
    ini = alembic_project(tmp_path)
    revision(tmp_path, "2024-01.a", None)
    revision(tmp_path, "head", "2024-01.a")
    converted = {c.origin: c for c in alembic.convert(alembic.read_project(ini))}
    assert converted["2024-01.a"].id == "alembic_2024_01_a"
    assert converted["head"].id == "alembic_head"
    assert '\nparents = ["alembic_2024_01_a"]\n' in converted["head"].text
    found = alembic.origins({c.id: c.text for c in converted.values()})
    assert found == {"alembic_2024_01_a": "2024-01.a", "alembic_head": "head"}


def test_helpers_that_use_the_global_op_get_the_running_one(tmp_path: Path) -> None:
    """Alembic's `op` is a proxy to the running migration's operations; a converted file
    whose helpers use it imports dbshift's equivalent, and only then."""
    ini = alembic_project(tmp_path)
    revision(
        tmp_path,
        "a1",
        None,
        "from alembic import op as o\nrevision = 'a1'\ndown_revision = None\n\n"
        "def _make(name):\n    o.execute(f'SELECT {name}')\n\n"
        "class Steps:\n    def run(self):\n        _make(2)\n\n"
        "def upgrade():\n    _make(1)\n    Steps().run()\n",
    )
    revision(tmp_path, "b2", "a1")
    converted = {c.origin: c for c in alembic.convert(alembic.read_project(ini))}
    text = converted["a1"].text
    assert "from dbshift.ops.current import op as o\n" in text and "def upgrade(o):" in text
    assert "dbshift.ops.current" not in converted["b2"].text
    module = ModuleType("converted_a1")
    exec(compile(text, "a1.py", "exec"), module.__dict__)
    recorder = Op("postgresql")
    current.call(module.upgrade, recorder)
    assert [str(o) for o in recorder.operations] == ["execute SELECT 1", "execute SELECT 2"]


def test_the_current_op_outside_a_migration_function_says_so() -> None:
    with pytest.raises(MigrationError, match="outside a running upgrade"):
        current.op.execute("SELECT 1")


def test_an_op_alias_becomes_the_parameter(tmp_path: Path) -> None:
    ini = alembic_project(tmp_path)
    revision(
        tmp_path,
        "a1",
        None,
        "from alembic import op as alembic_op\nrevision = 'a1'\ndown_revision = None\n\n"
        "def upgrade():\n    alembic_op.execute('SELECT 1')\n",
    )
    (converted,) = alembic.convert(alembic.read_project(ini))
    assert "def upgrade(alembic_op):\n    alembic_op.execute('SELECT 1')\n" in converted.text
    assert converted.text.startswith('"""alembic revision a1"""\n')


@pytest.mark.parametrize(
    ("body", "refused"),
    [
        (
            "from alembic import op, context\nrevision = 'a1'\ndef upgrade():\n    pass\n",
            "uses alembic.context",
        ),
        (
            "from alembic import op\nrevision = 'a1'\ndef upgrade(engine_name):\n    pass\n",
            "upgrade() takes parameters (engine_name)",
        ),
        (
            "from alembic import op\nrevision = 'a1'\nop.execute('x')\ndef upgrade():\n    pass\n",
            "module level code uses Alembic's global op as the file is imported",
        ),
        (
            "from alembic import op\nrevision = 'a1'\ndef helper(name=op.f('x')):\n"
            "    pass\ndef upgrade():\n    helper()\n",
            "module level code uses Alembic's global op",
        ),
        ("from alembic import op\nrevision = 'a1'\n", "no upgrade() function"),
        ("import sqlalchemy as sa\ndef upgrade():\n    pass\n", "no `revision = '...'`"),
        ("revision = 'a1'; down_revision = None\ndef upgrade():\n    pass\n", "several statements"),
        ("revision = 'a1'\ndown_revision = 'zz'\ndef upgrade():\n    pass\n", "down_revision zz"),
        ("revision = 'a' + 'b'\ndef upgrade():\n    pass\n", "revision is not a literal"),
    ],
)
def test_what_cannot_be_carried_over_is_refused_naming_the_file(
    tmp_path: Path, body: str, refused: str
) -> None:
    ini = alembic_project(tmp_path)
    path = revision(tmp_path, "a1", None, body)
    with pytest.raises(AdoptError) as caught:
        alembic.convert(alembic.read_project(ini))
    assert str(path) in caught.value.message and refused in caught.value.message
    assert caught.value.hint and caught.value.exit_code == 2


def test_nothing_is_written_when_one_revision_is_refused(tmp_path: Path) -> None:
    ini = alembic_project(tmp_path)
    revision(tmp_path, "a1", None)
    revision(tmp_path, "b2", "a1")
    revision(tmp_path, "c3", "b2", "revision = 'c3'\ndown_revision = 'b2'\n")
    config = Config(migrations=tmp_path / "db")
    with pytest.raises(AdoptError, match="no upgrade"):
        dbshift.api.adopt(config, ini)
    assert not (tmp_path / "db").exists()


def test_two_files_with_one_revision_id_are_refused_naming_both(tmp_path: Path) -> None:
    ini = alembic_project(tmp_path)
    first = revision(tmp_path, "a1", None)
    second = tmp_path / "alembic" / "versions" / "copy_of_a1.py"
    second.write_text(first.read_text())
    config = Config(migrations=tmp_path / "db")
    with pytest.raises(AdoptError, match="revision a1 is also") as refused:
        dbshift.api.adopt(config, ini)
    assert first.name in str(refused.value) and second.name in str(refused.value)
    assert not (tmp_path / "db").exists()


def test_the_version_table_as_env_py_configures_it(tmp_path: Path) -> None:
    env = (
        "from alembic import context\nconfig = context.config\n"
        "context.configure(url='x', version_table='vt', version_table_schema="
        "config.get_main_option('vschema'))\n"
    )
    ini = alembic_project(tmp_path, env, "vschema = audit\n")
    project = alembic.read_project(ini)
    assert (project.version_table, project.version_table_schema) == ("vt", "audit")


def test_a_computed_version_table_is_refused_unless_given(tmp_path: Path) -> None:
    env = (
        "from alembic import context\nimport os\ncontext.configure(version_table=os.environ['T'])\n"
    )
    ini = alembic_project(tmp_path, env)
    with pytest.raises(AdoptError, match="is computed") as caught:
        alembic.read_project(ini)
    assert "--version-table" in (caught.value.hint or "")
    assert alembic.read_project(ini, version_table="given").version_table == "given"


def test_version_locations_and_flask_migrate_layout(tmp_path: Path) -> None:
    ini = alembic_project(
        tmp_path,
        ini="version_locations = %(here)s/one;%(here)s/two\npath_separator = ;\n",
    )
    assert alembic.read_project(ini).version_locations == (
        (tmp_path / "one").resolve(),
        (tmp_path / "two").resolve(),
    )
    flask = tmp_path / "app" / "migrations"
    flask.mkdir(parents=True)
    (flask / "env.py").write_text("")
    (flask / "alembic.ini").write_text("[alembic]\n# template used to generate migration files\n")
    assert alembic.find(tmp_path / "app") == flask / "alembic.ini"
    project = alembic.read_project(flask / "alembic.ini")
    assert project.script_location == flask.resolve()
    assert project.version_locations == (flask.resolve() / "versions",)


def test_aio_adopt_takes_over_through_the_async_engine(
    tmp_path: Path, backend: str, db_url: str
) -> None:
    """The version table here is made by hand, as Alembic makes it; the real thing is
    tests/test_adopt.py."""
    ini = alembic_project(tmp_path)
    revision(tmp_path, "ab12", None)
    revision(tmp_path, "cd34", "ab12")
    engine = sa.create_engine(db_url, poolclass=sa.NullPool)
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)"))
        conn.execute(sa.text("INSERT INTO alembic_version VALUES ('cd34')"))
        conn.execute(sa.text("CREATE TABLE users (id INTEGER PRIMARY KEY)"))
        conn.execute(sa.text("CREATE INDEX ix_users_id ON users (id)"))
    engine.dispose()
    config = Config(url=with_driver(db_url, "async"), migrations=tmp_path / "db")
    report = asyncio.run(dbshift.aio.adopt(config, ini))
    assert report.recorded == ("ab12", "cd34") and report.heads == ("cd34",)
    status = dbshift.api.status(Config(url=db_url, migrations=tmp_path / "db"))
    assert status.pending == () and {r.applied_by for r in status.applied} == {
        "adopted from alembic"
    }
    again = asyncio.run(dbshift.aio.adopt(config, ini, drop_alembic_version=True))
    assert again.recorded == () and again.dropped
    engine = sa.create_engine(db_url, poolclass=sa.NullPool)
    try:
        assert not sa.inspect(engine).has_table("alembic_version")
    finally:
        engine.dispose()


@pytest.mark.backends("sqlite")
def test_a_deploy_without_the_alembic_folder_takes_over_from_the_headers(
    tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    ini = alembic_project(tmp_path)
    revision(tmp_path, "ab12", None)
    revision(tmp_path, "cd34", "ab12")
    config = Config(url=db_url, migrations=tmp_path / "db")
    files = dbshift.api.adopt(config, ini, files_only=True)
    assert [p.name for p in files.written] == ["ab12.py", "cd34.py"] and not files.took_over
    engine = sa.create_engine(db_url, poolclass=sa.NullPool)
    with engine.begin() as conn:
        assert not sa.inspect(conn).has_table("dbshift_history")  # --files-only: no database
        conn.execute(sa.text("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)"))
        conn.execute(sa.text("INSERT INTO alembic_version VALUES ('ab12')"))
    engine.dispose()
    (tmp_path / "alembic.ini").unlink()
    monkeypatch.chdir(tmp_path)
    report = dbshift.api.adopt(config)
    assert report.source is None and report.recorded == ("ab12",) and report.heads == ("ab12",)
    assert dbshift.api.status(config).pending == ("cd34",)


def test_two_deploys_adopting_at_once_record_it_once(
    tmp_path: Path, backend: str, db_url: str
) -> None:
    """The takeover runs under the runner lock: the second deploy finds the rows the
    first wrote, records nothing and logs nothing."""
    ini = alembic_project(tmp_path)
    revision(tmp_path, "ab12", None)
    revision(tmp_path, "cd34", "ab12")
    config = Config(url=db_url, migrations=tmp_path / "db", runner_lock_timeout=30)
    dbshift.api.adopt(config, ini, files_only=True)
    engine = sa.create_engine(db_url, poolclass=sa.NullPool)
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)"))
        conn.execute(sa.text("INSERT INTO alembic_version VALUES ('cd34')"))
    barrier = threading.Barrier(2)
    reports: list[dbshift.api.AdoptReport] = []

    def deploy() -> None:
        barrier.wait()
        reports.append(dbshift.api.adopt(config, ini))

    threads = [threading.Thread(target=deploy) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(len(r.recorded) for r in reports) == [0, 2]
    assert sorted(r.logged for r in reports) == [False, True]
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT id FROM dbshift_history ORDER BY id")).all()
        events = conn.execute(
            sa.text("SELECT count(*) FROM dbshift_log WHERE event = 'adopt'")
        ).scalar()
    engine.dispose()
    assert [r[0] for r in rows] == ["ab12", "cd34"] and events == 1


@pytest.mark.backends("sqlite")
def test_what_the_takeover_refuses(tmp_path: Path, db_url: str) -> None:
    ini = alembic_project(tmp_path)
    revision(tmp_path, "ab12", None)
    config = Config(url=db_url, migrations=tmp_path / "db")
    with pytest.raises(UsageError, match="no alembic_version table in the database"):
        dbshift.api.adopt(config, ini)
    engine = sa.create_engine(db_url, poolclass=sa.NullPool)
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)"))
        conn.execute(sa.text("INSERT INTO alembic_version VALUES ('zz99')"))
    with pytest.raises(IntegrityError, match="names revision zz99, which no converted"):
        dbshift.api.adopt(config, ini)
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE alembic_version SET version_num = 'ab12'"))
    assert dbshift.api.adopt(config, ini).recorded == ("ab12",)
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE dbshift_history SET checksum = 'x'"))
    with pytest.raises(IntegrityError, match=r"ab12\.py is recorded in the history with another"):
        dbshift.api.adopt(config, ini)
    engine.dispose()


def test_pyproject_tool_alembic(tmp_path: Path) -> None:
    """Alembic 1.16+ reads `[tool.alembic]`; its `version_locations` is a list there."""
    (tmp_path / "pyproject.toml").write_text(
        '[tool.alembic]\nscript_location = "%(here)s/alembic"\n'
        'version_locations = ["%(here)s/alembic/versions", "%(here)s/more"]\n'
    )
    (tmp_path / "alembic" / "versions").mkdir(parents=True)
    (tmp_path / "more").mkdir()
    revision(tmp_path, "ab12", None)
    (tmp_path / "more" / "x_b.py").write_text(REVISION.format(rev="cd34", down="ab12"))
    (tmp_path / "alembic" / "versions" / ".#ab12_x.py").write_text("not python")
    found = alembic.find(tmp_path)
    assert found == tmp_path / "pyproject.toml"
    converted = alembic.convert(alembic.read_project(found))
    assert sorted(c.id for c in converted) == ["ab12", "cd34"]


CONVENTION_MODELS = """\
import sqlalchemy as sa

metadata = sa.MetaData(naming_convention={
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
})
sa.Table(
    "things", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("code", sa.String(20), unique=True),
    sa.Column("n", sa.Integer, sa.CheckConstraint("n > 0", name="positive")),
)
"""

CONVENTION_REVISION = '''\
"""things"""
from alembic import op
import sqlalchemy as sa

revision = "a1"
down_revision = None


def upgrade():
    op.create_table(
        "things",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("code", sa.String(20)),
        sa.Column("n", sa.Integer),
        sa.UniqueConstraint("code"),
        sa.CheckConstraint("n > 0", name="positive"),
    )
'''


def test_the_models_naming_convention_is_carried_into_the_converted_files(
    tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Alembic names what a revision creates by its target metadata's convention (a
    plain name too, where the template has %(constraint_name)s): the converted file
    states the models' convention, so dbshift's op gives the same names."""
    ini = alembic_project(tmp_path)
    revision(tmp_path, "a1", None, CONVENTION_REVISION)
    (tmp_path / "conventional.py").write_text(CONVENTION_MODELS)
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    config = Config(url=db_url, migrations=tmp_path / "db", models=["conventional:metadata"])
    dbshift.api.adopt(config, ini, files_only=True)
    text = (tmp_path / "db" / "a1.py").read_text()
    assert f"{alembic.CONVENTION_COMMENT}\nnaming_convention = {{" in text
    dbshift.api.upgrade(config)
    engine = sa.create_engine(db_url, poolclass=sa.NullPool)
    with engine.connect() as conn:
        found = sa.inspect(conn)
        checks = {c["name"] for c in found.get_check_constraints("things")}
        uniques = {u["name"] for u in found.get_unique_constraints("things")}
    engine.dispose()
    assert "ck_things_positive" in checks and "uq_things_code" in uniques
    assert dbshift.api.make_report(config, check=True).operations == ()


def test_a_naming_convention_that_is_not_text_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ini = alembic_project(tmp_path)
    revision(tmp_path, "a1", None, CONVENTION_REVISION)
    (tmp_path / "classkeys.py").write_text(
        "import sqlalchemy as sa\n"
        "metadata = sa.MetaData(naming_convention={sa.UniqueConstraint: 'uq_%(table_name)s'})\n"
        "sa.Table('things', metadata, sa.Column('id', sa.Integer, primary_key=True))\n"
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    config = Config(migrations=tmp_path / "db", models=["classkeys:metadata"])
    with pytest.raises(AdoptError, match="naming convention has keys or values"):
        dbshift.api.adopt(config, ini, files_only=True)
    assert not (tmp_path / "db").exists()
