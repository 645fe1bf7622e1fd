"""`Backend.scratch()`: throwaway databases created, cloned and dropped on each backend
(the pytest plugin's per-test databases, `dbshift.dialects.scratch`)."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa

from dbshift.dialects import backend_for
from dbshift.schema.introspect import introspect
from tests.conftest import SERVER_URLS


def server_of(backend: str, tmp_path: Path) -> sa.URL:
    if backend == "sqlite":
        return sa.make_url(f"sqlite:///{tmp_path / 'server'}")
    return sa.make_url(SERVER_URLS[backend])


def fill(url: sa.URL) -> None:
    metadata = sa.MetaData()
    parent = sa.Table("parent", metadata, sa.Column("id", sa.Integer, primary_key=True))
    sa.Table(
        "child",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("parent_id", sa.Integer, sa.ForeignKey(parent.c.id), nullable=False),
        sa.Column("price", sa.Integer, nullable=False),
        sa.Column("double", sa.Integer, sa.Computed("price * 2", persisted=True)),
        sa.Column("note", sa.String(20), server_default="50% off: now"),
        sa.Index("ix_child_price", "price"),
    )
    engine = sa.create_engine(url, poolclass=sa.NullPool)
    with engine.begin() as conn:
        metadata.create_all(conn)
        conn.execute(sa.text("INSERT INTO parent (id) VALUES (1)"))
        conn.execute(sa.text("INSERT INTO child (parent_id, price) VALUES (1, 10), (1, 20)"))
    engine.dispose()


def contents(url: sa.URL) -> tuple[object, ...]:
    engine = sa.create_engine(url, poolclass=sa.NullPool)
    with engine.connect() as conn:
        schema = repr(introspect(conn))  # types compare by identity, their reprs by value
        rows = conn.execute(sa.text("SELECT * FROM child ORDER BY id")).all()
    engine.dispose()
    return schema, [tuple(r) for r in rows]


def test_a_clone_copies_schema_and_rows_and_is_its_own(backend: str, tmp_path: Path) -> None:
    server = server_of(backend, tmp_path)
    scratch = backend_for(server.get_backend_name()).scratch()
    template, copy = (f"dbshift_s_{uuid.uuid4().hex[:10]}" for _ in range(2))
    made = [template]
    try:
        source = scratch.create(server, template)
        fill(source)
        clone = scratch.cloner(server, template)
        assert clone is not None
        made.append(copy)
        copied = clone(copy)
        assert copied != source
        assert contents(copied) == contents(source)
        engine = sa.create_engine(copied, poolclass=sa.NullPool)
        with engine.begin() as conn:  # the counter and the foreign key came along
            conn.execute(sa.text("INSERT INTO child (parent_id, price) VALUES (1, 30)"))
            assert conn.execute(sa.text("SELECT MAX(id) FROM child")).scalar() == 3
        engine.dispose()
        assert len(contents(source)[1]) == 2
    finally:
        for name in made:
            scratch.drop(server, name)
    if backend == "sqlite":
        assert not list(tmp_path.iterdir())
    else:
        engine = sa.create_engine(server, poolclass=sa.NullPool)
        with engine.connect() as conn:
            found = (
                sa.inspect(conn).get_schema_names()
                if backend == "mysql"
                else [r[0] for r in conn.execute(sa.text("SELECT datname FROM pg_database"))]
            )
        engine.dispose()
        assert not set(made) & set(found)


@pytest.mark.backends("mysql")
def test_mariadb_declines_to_clone_a_view(backend: str, tmp_path: Path) -> None:
    """A view's text names the template's database (`SHOW CREATE VIEW`): no clone,
    and each database is then migrated from empty."""
    server = server_of(backend, tmp_path)
    scratch = backend_for(server.get_backend_name()).scratch()
    name = f"dbshift_s_{uuid.uuid4().hex[:10]}"
    try:
        engine = sa.create_engine(scratch.create(server, name), poolclass=sa.NullPool)
        with engine.begin() as conn:
            conn.execute(sa.text("CREATE TABLE t (id INT PRIMARY KEY)"))
            conn.execute(sa.text("CREATE VIEW v AS SELECT id FROM t"))
        engine.dispose()
        assert scratch.cloner(server, name) is None
    finally:
        scratch.drop(server, name)
