"""advanced-alchemy ships base classes and column types, not models: one concrete model
per kind of base (UUID v4, audit, BigInt, Identity) and per type the docs show (GUID,
DateTimeUTC, JsonB, Bool, BigIntIdentity), plus a plain association Table, as an
application using it declares them. Its naming convention comes with the bases."""

from __future__ import annotations

import datetime
import uuid

import sqlalchemy as sa
from advanced_alchemy.base import BigIntAuditBase, IdentityAuditBase, UUIDAuditBase, UUIDBase
from advanced_alchemy.types import GUID, BigIntIdentity, Bool, DateTimeUTC, JsonB
from sqlalchemy.orm import Mapped, mapped_column, relationship


class Author(UUIDBase):
    name: Mapped[str] = mapped_column(sa.String(100))
    dob: Mapped[datetime.date | None]
    books: Mapped[list[Book]] = relationship(back_populates="author")


class Book(UUIDAuditBase):
    title: Mapped[str] = mapped_column(sa.String(200), index=True)
    author_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("author.id", ondelete="CASCADE"))
    author: Mapped[Author] = relationship(back_populates="books")


class Tag(BigIntAuditBase):
    name: Mapped[str] = mapped_column(sa.String(50), unique=True)
    extra: Mapped[dict[str, object]] = mapped_column(JsonB, default=dict)
    active: Mapped[bool] = mapped_column(Bool, default=True)


class Event(IdentityAuditBase):
    happened_at: Mapped[datetime.datetime] = mapped_column(DateTimeUTC(timezone=True))
    sequence_no: Mapped[int] = mapped_column(BigIntIdentity)
    ref: Mapped[uuid.UUID | None] = mapped_column(GUID)


book_tag = sa.Table(
    "book_tag",
    UUIDBase.metadata,
    sa.Column("book_id", GUID, sa.ForeignKey("book.id"), primary_key=True),
    sa.Column("tag_id", sa.BigInteger, sa.ForeignKey("tag.id"), primary_key=True),
)

metadata = UUIDBase.metadata
