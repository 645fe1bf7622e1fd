"""The names MariaDB gives keys nobody named, found by the corpus (Keystone's
`local_user`): an unnamed unique key is named after its first column, and so is the
index InnoDB makes for a foreign key no key serves, with `_2`, `_3` when the name is
taken, in the order of the CREATE TABLE. `make` must write unique constraints and
foreign keys in the order `create_all` does, so the names come out the same; and a
database `create_all` made (an index `user_id_2` for the foreign key) must be found
equal to the models, on every backend."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa

import dbshift
from tests.autogen_support import Loop


def _user(metadata: sa.MetaData) -> None:
    sa.Table(
        "user",
        metadata,
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("domain_id", sa.String(64), nullable=False),
        sa.UniqueConstraint("id", "domain_id"),
    )


def _fk() -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["user_id", "domain_id"], ["user.id", "user.domain_id"], ondelete="CASCADE"
    )


def _columns() -> list[sa.Column[str]]:
    return [
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("user_id", sa.String(64), nullable=False),
        sa.Column("domain_id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
    ]


def unique_first() -> sa.MetaData:
    """Keystone's: the unique key takes `user_id`, the foreign key's index `user_id_2`."""
    metadata = sa.MetaData()
    _user(metadata)
    sa.Table(
        "local_user",
        metadata,
        *_columns(),
        sa.UniqueConstraint("user_id"),
        sa.UniqueConstraint("domain_id", "name"),
        _fk(),
    )
    return metadata


def foreign_key_first() -> sa.MetaData:
    """The other way round: the foreign key's index is `user_id`, the unique key
    `user_id_2`."""
    metadata = sa.MetaData()
    _user(metadata)
    sa.Table("local_user", metadata, *_columns(), _fk(), sa.UniqueConstraint("user_id"))
    return metadata


def twice_unique() -> sa.MetaData:
    """Two unnamed unique keys on one column, then the foreign key: `user_id`,
    `user_id_2`, `user_id_3`."""
    metadata = sa.MetaData()
    _user(metadata)
    sa.Table(
        "local_user",
        metadata,
        *_columns(),
        sa.UniqueConstraint("user_id"),
        sa.UniqueConstraint("user_id"),
        _fk(),
    )
    return metadata


MODELS = [unique_first, foreign_key_first, twice_unique]


@pytest.mark.parametrize("models", MODELS)
def test_make_names_them_as_create_all_does(
    models: Callable[[], sa.MetaData], loop: Loop, backend: str, engine: sa.Engine
) -> None:
    loop.step(models(), "users")
    if backend == "mysql":
        with engine.connect() as conn:
            names = conn.scalars(
                sa.text(
                    "SELECT DISTINCT index_name FROM information_schema.statistics "
                    "WHERE table_schema = DATABASE() AND table_name = 'local_user'"
                )
            ).all()
        assert "user_id_2" in names, names


@pytest.mark.parametrize("models", MODELS)
def test_a_database_create_all_made_matches_the_models(
    models: Callable[[], sa.MetaData], db_url: str, engine: sa.Engine, tmp_path: Path
) -> None:
    metadata = models()
    metadata.create_all(engine)
    config = dbshift.Config(url=db_url, migrations=tmp_path / "migrations", models=[metadata])
    assert dbshift.diff(config, against="database") == []
