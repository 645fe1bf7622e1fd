"""`create_table` and `add_column` create the named enum types their columns need, as
Alembic's `create_table` does on PostgreSQL (found adopting optuna 5.0.0's migrations:
its first revision's `create_table("studies", ..., sa.Enum(..., name="studydirection"))`
failed with `type "studydirection" does not exist`). A type that is there already (an
`op.create_enum` before it, as `make` writes it, or an earlier table's) is left alone;
a derived downgrade drops the types the operation created, and no others.

Alembic itself is the oracle for the first test: the same body runs under it on a
database of its own, and the schemas, rows and enum types must be the same."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.conftest import ScratchDatabases, with_driver
from tests.helpers import Project, connected
from tests.test_alembic_ops import run_alembic, run_dbshift, schema_of

#: Alembic-valid on every backend: a second table naming an existing type says
#: create_type=False, which Alembic needs (it would CREATE TYPE again) and dbshift
#: does not
ALEMBIC_BODY = """
from sqlalchemy.dialects import postgresql

class Level(sa.TypeDecorator):
    impl = sa.Enum("low", "high", name="level")
    cache_ok = True

op.create_table('study',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('direction', sa.Enum('MINIMIZE', 'MAXIMIZE', name='direction'), nullable=False),
    sa.Column('level', Level(), nullable=True),
    sa.Column('kind', sa.Enum('a', 'b', name='kind', native_enum=False), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_study')),
)
op.create_table('trial',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('direction',
              postgresql.ENUM('MINIMIZE', 'MAXIMIZE', name='direction', create_type=False)),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_trial')),
)
"""

#: rows the enum columns take, in both databases
ROWS = (
    "INSERT INTO study (id, direction, level, kind) VALUES (1, 'MAXIMIZE', 'high', 'b')",
    "INSERT INTO trial (id, direction) VALUES (7, 'MINIMIZE')",
)


def enum_types(url: str) -> list[tuple[str, list[str]]]:
    """The enum types of the database and their values, as PostgreSQL's catalog has
    them; none where the backend has no enum types."""

    def read(conn: sa.Connection) -> list[tuple[str, list[str]]]:
        if conn.dialect.name != "postgresql":
            return []
        rows = conn.execute(
            sa.text(
                "SELECT t.typname::text, array_agg(e.enumlabel::text ORDER BY e.enumsortorder) "
                "FROM pg_type t JOIN pg_enum e ON e.enumtypid = t.oid "
                "GROUP BY t.typname ORDER BY t.typname"
            )
        )
        return [(name, list(values)) for name, values in rows]

    return connected(url, read)


def insert(url: str, *rows: str) -> None:
    def run(conn: sa.Connection) -> None:
        for row in rows:
            conn.execute(sa.text(row))
        conn.commit()

    connected(url, run)


def on_postgresql(project: Project) -> bool:
    return project.url.startswith("postgresql")


def test_create_table_creates_the_types_alembic_creates(
    tmp_path: Path, scratch: ScratchDatabases, capsys: pytest.CaptureFixture[str]
) -> None:
    project, alembic_url = Project(tmp_path / "proj", scratch.create(), capsys), scratch.create()
    run_alembic(alembic_url, ALEMBIC_BODY)
    run_dbshift(project, ALEMBIC_BODY)
    insert(project.url, *ROWS)
    insert(alembic_url, *ROWS)
    assert schema_of(project.url) == schema_of(alembic_url)
    assert enum_types(project.url) == enum_types(alembic_url)
    if on_postgresql(project):  # what the body did, so that two equal failures cannot pass
        assert enum_types(project.url) == [
            ("direction", ["MINIMIZE", "MAXIMIZE"]),
            ("level", ["low", "high"]),
        ]
    assert project.query("SELECT direction, level, kind FROM study") == [("MAXIMIZE", "high", "b")]
    # the derived downgrade drops the tables and the two types the first one created
    project.ok("downgrade", "base")
    assert enum_types(project.url) == [] and not project.tables() & {"study", "trial"}
    project.ok("upgrade")  # and the history runs again
    insert(project.url, *ROWS)


def test_a_type_already_there_is_not_created_again(project: Project) -> None:
    """`make`'s way (an `op.create_enum` before the table), and a later table naming
    the same type without create_type=False."""
    first = project.python(
        "mood",
        'op.create_enum("mood", ["sad", "happy"])\n'
        'op.create_table("person", sa.Column("id", sa.Integer, primary_key=True),\n'
        '    sa.Column("mood", sa.Enum("sad", "happy", name="mood")))',
    )
    project.python(
        "pet",
        'op.create_table("pet", sa.Column("id", sa.Integer, primary_key=True),\n'
        '    sa.Column("mood", sa.Enum("sad", "happy", name="mood")))',
    )
    script = project.ok("sql").out
    assert script.count("CREATE TYPE") == (1 if on_postgresql(project) else 0), script
    project.ok("upgrade")
    insert(project.url, "INSERT INTO pet (id, mood) VALUES (1, 'happy')")
    expected = [("mood", ["sad", "happy"])] if on_postgresql(project) else []
    assert enum_types(project.url) == expected
    # undoing the second table leaves the type its first user needs
    project.ok("downgrade", first)
    assert "pet" not in project.tables() and enum_types(project.url) == expected
    project.ok("downgrade", "base")
    assert enum_types(project.url) == []


def test_add_column_creates_a_new_type_and_its_downgrade_drops_it(
    tmp_path: Path, scratch: ScratchDatabases, driver: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Through the async drivers too: the type is looked up on the migration's
    connection."""
    project = Project(tmp_path / "proj", with_driver(scratch.create(), driver), capsys)
    project.python("box", 'op.create_table("box", sa.Column("id", sa.Integer, primary_key=True))')
    project.python(
        "shade",
        'op.add_column("box", sa.Column("shade", sa.Enum("dark", "light", name="shade")))',
    )
    script = project.ok("sql").out
    if on_postgresql(project):
        assert script.index("CREATE TYPE shade AS ENUM ('dark', 'light')") < script.index(
            "ADD COLUMN shade"
        )
    project.ok("upgrade")
    insert(project.url, "INSERT INTO box (id, shade) VALUES (1, 'dark')")
    if on_postgresql(project):
        assert enum_types(project.url) == [("shade", ["dark", "light"])]
    project.ok("downgrade", "-1")
    columns = connected(project.url, lambda c: sa.inspect(c).get_columns("box"))
    assert [c["name"] for c in columns] == ["id"] and enum_types(project.url) == []


MODELS = """
import sqlalchemy as sa

metadata = sa.MetaData()
sa.Table("study", metadata, sa.Column("id", sa.Integer, primary_key=True),
         sa.Column("direction", sa.Enum("MINIMIZE", "MAXIMIZE", name="direction")))
"""


def test_the_replayed_schema_has_the_types_so_make_finds_nothing(project: Project) -> None:
    """The snapshot replay builds knows the type the table created: `make` compares
    the models with it and writes no `create_enum` for a type that is there."""
    (project.root / "models.py").write_text(MODELS)
    with (project.root / "dbshift.toml").open("a") as toml:
        toml.write('models = ["models:metadata"]\n')
    project.python(
        "study",
        'op.create_table("study", sa.Column("id", sa.Integer, primary_key=True),\n'
        '    sa.Column("direction", sa.Enum("MINIMIZE", "MAXIMIZE", name="direction")))',
    )
    project.ok("make", "--check")
    project.ok("upgrade")
    project.ok("make", "--check")
