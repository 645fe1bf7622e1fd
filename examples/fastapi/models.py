"""The heroes' tables, as SQLModel classes: `dbshift make` compares them with the
migrations' schema (dbshift.toml's `models`)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum

import sqlalchemy as sa
from sqlmodel import Field, SQLModel


class Power(StrEnum):
    strength = "strength"
    speed = "speed"
    flight = "flight"


class Team(SQLModel, table=True):
    __tablename__ = "teams"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=100, unique=True)
    headquarters: str


class HeroBase(SQLModel):
    name: str = Field(max_length=100, index=True)
    secret_name: str
    age: int | None = Field(default=None, index=True)
    power: Power = Power.strength
    rating: Decimal = Field(default=Decimal("0"), max_digits=5, decimal_places=2)
    team_id: int | None = Field(default=None, foreign_key="teams.id", ondelete="SET NULL")


class Hero(HeroBase, table=True):
    __tablename__ = "heroes"

    id: int | None = Field(default=None, primary_key=True)
    created_at: datetime = Field(
        default_factory=lambda: datetime.now(UTC),
        sa_column_kwargs={"server_default": sa.text("CURRENT_TIMESTAMP")},
    )


class HeroCreate(HeroBase):
    pass
