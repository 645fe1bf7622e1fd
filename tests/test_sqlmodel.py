"""SQLModel's own column types (AutoString, its DateTime, the Enum and Numeric it picks
from annotations) through the autogenerate round trip: models -> make -> upgrade -> the
database is the models, and make again finds nothing; on each backend, and in one file
written for every backend (where AutoString without a length is VARCHAR(255) on
MariaDB/MySQL and unbounded elsewhere)."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import StrEnum
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

import dbshift
from tests.autogen_support import Loop


class Mood(StrEnum):
    calm = "calm"
    busy = "busy"


def _models(version: int) -> sa.MetaData:
    """The models at `version` (1, then 2), on a metadata of their own (SQLModel's global
    one refuses a second definition of a table)."""

    class Base(SQLModel, registry=registry()):
        pass

    class Owner(Base, table=True):
        __tablename__ = "sm_owners"

        id: int | None = Field(default=None, primary_key=True)
        name: str = Field(max_length=80, unique=True)
        bio: str | None = None  # AutoString, no length

    class Item(Base, table=True):
        __tablename__ = "sm_items"

        id: int | None = Field(default=None, primary_key=True)
        code: uuid.UUID = Field(default_factory=uuid.uuid4, unique=True)
        title: str = Field(index=True)
        price: Decimal = Field(default=Decimal(0), max_digits=8, decimal_places=2)
        weight: float | None = None
        active: bool = True
        mood: Mood = Mood.calm
        made_on: date | None = None
        seen_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
        owner_id: int | None = Field(default=None, foreign_key="sm_owners.id", ondelete="CASCADE")
        if version >= 2:
            note: str | None = Field(default=None, max_length=300)
            tag: str | None = Field(default=None, index=True)

    return Base.metadata


def test_sqlmodel_types_round_trip(loop: Loop) -> None:
    first = loop.step(_models(1), "items")
    assert first is not None and "AutoString" not in first.read_text()
    assert loop.step(_models(2), "note and tag") is not None  # on PostgreSQL, a chain
    loop.back(_models(2))


def test_one_file_for_every_backend(tmp_path: Path) -> None:
    (tmp_path / "migrations").mkdir()
    config = dbshift.Config(
        url=f"sqlite:///{tmp_path / 'x.db'}",
        migrations=tmp_path / "migrations",
        models=[_models(2)],
        backends=("sqlite", "postgresql", "mysql", "mariadb"),
    )
    path = dbshift.make(config, message="all")
    assert path is not None
    text = path.read_text()
    assert 'sa.String().with_variant(sa.String(length=255), "mariadb", "mysql")' in text, text
    assert "AutoString" not in text and "sqlmodel" not in text
    assert dbshift.make(config, message="again") is None
