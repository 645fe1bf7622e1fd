"""Models that resolve differently per backend, as real projects write them: a UUID
`TypeDecorator` choosing its type in `load_dialect_impl`, a `BigInteger` primary key
that is `INTEGER` on SQLite (so it is the rowid), a PostgreSQL enum, JSON that is JSONB
on PostgreSQL."""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect

from tests.autogen_support import NAMING


class GUID(sa.types.TypeDecorator[uuid.UUID]):
    """The common recipe: native UUID on PostgreSQL, hex text on SQLite, 16 bytes
    elsewhere. Its `impl` is what none of them use."""

    impl = sa.types.BINARY(16)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> sa.types.TypeEngine[Any]:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(postgresql.UUID())
        if dialect.name == "sqlite":
            return dialect.type_descriptor(sa.CHAR(32))
        return dialect.type_descriptor(sa.BINARY(16))


BigId = sa.BigInteger().with_variant(sqlite.INTEGER(), "sqlite")
Document = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def models(step: int = 1) -> sa.MetaData:
    """Step 1 creates everything; step 2 adds a GUID and a JSON column and widens one."""
    metadata = sa.MetaData(naming_convention=NAMING)
    sa.Table(
        "accounts",
        metadata,
        sa.Column("id", BigId, primary_key=True),
        sa.Column("uid", GUID(), nullable=False, unique=True),
        sa.Column("state", sa.Enum("active", "closed", name="account_state"), nullable=False),
        sa.Column("data", Document),
        sa.Column("name", sa.String(50 if step == 1 else 80)),
    )
    events = [
        sa.Column("id", BigId, primary_key=True),
        sa.Column("account_id", BigId, sa.ForeignKey("accounts.id"), nullable=False),
        sa.Column("payload", Document, nullable=False),
    ]
    if step > 1:
        events += [sa.Column("ref", GUID()), sa.Column("extra", Document)]
    sa.Table("events", metadata, *events)
    return metadata
