"""Names a naming convention makes longer than the backend takes are cut as `create_all`
cuts them (a hash suffix), for every kind of name, the primary key's too (found by the
corpus: Galaxy's `"pk": "%(table_name)s_pkey"` on a 62-character table name)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from tests.autogen_support import Loop

CONVENTION = {
    "pk": "%(table_name)s_pkey",
    "uq": "%(table_name)s_%(column_0_name)s_key",
    "ix": "ix_%(table_name)s_%(column_0_name)s",
    "fk": "%(table_name)s_%(column_0_name)s_fkey",
}
LONG = "workflow_invocation_step_output_dataset_collection_association"  # 62 characters


def models() -> sa.MetaData:
    metadata = sa.MetaData(naming_convention=CONVENTION)
    sa.Table("parent", metadata, sa.Column("id", sa.Integer, primary_key=True))
    sa.Table(
        LONG,
        metadata,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("code", sa.String(20), unique=True),
        sa.Column("parent_id", sa.ForeignKey("parent.id"), index=True),
    )
    return metadata


def test_long_convention_names_are_cut_as_create_all_cuts_them(loop: Loop) -> None:
    """`make` writes the table (no refusal), and the result is what create_all makes,
    with nothing left to change (Loop.step checks both)."""
    assert loop.step(models(), "long names") is not None


@pytest.mark.backends("postgresql")
def test_a_long_primary_key_name_is_cut_on_postgresql(loop: Loop, engine: sa.Engine) -> None:
    loop.step(models(), "long names")
    query = (
        "SELECT conname FROM pg_constraint WHERE contype = 'p' AND conrelid = CAST(:t AS regclass)"
    )
    with engine.connect() as conn:
        name = conn.scalar(sa.text(query), {"t": LONG})
    assert name != f"{LONG}_pkey"[:63], "cut with a hash suffix, as create_all does"
    assert name.startswith(LONG[:40]) and len(name) <= 63
