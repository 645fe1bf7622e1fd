"""The blog's models: `dbshift make` compares them with the migrations' schema."""

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(100), index=True, unique=True)
    created_at = mapped_column(sa.DateTime, server_default=sa.text("CURRENT_TIMESTAMP"))
    email: Mapped[str | None] = mapped_column(sa.String(200))


class Post(Base):
    __tablename__ = "posts"

    id: Mapped[int] = mapped_column(primary_key=True)
    author_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    title: Mapped[str] = mapped_column(sa.String(200))
    body: Mapped[str | None] = mapped_column(sa.Text)

    __table_args__ = (sa.Index("ix_posts_author", "author_id"),)
