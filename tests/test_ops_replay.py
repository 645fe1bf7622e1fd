"""Replay in memory: any sequence of operations, reversed, returns to where it started."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from dbshift.ops import Operation
from dbshift.schema.snapshot import Snapshot, Table
from tests.test_ops import record

START = Snapshot()
for _operation in record(
    """
op.create_table("p", sa.Column("id", sa.Integer, primary_key=True))
op.create_table(
    "t",
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("v", sa.String(40)),
    sa.Column("w", sa.Integer, nullable=False, server_default="0"),
    sa.CheckConstraint("w >= 0", name="ck_w"),
)
op.create_index("ix_v_w", "t", ["v", "w"])
"""
):
    START = _operation.apply(START)

Guard = Callable[[Table], bool]


def has(*columns: str) -> Guard:
    return lambda t: all(t.column(c) is not None for c in columns)


def lacks(column: str) -> Guard:
    return lambda t: t.column(column) is None


def no_constraint(name: str) -> Guard:
    return lambda t: all(
        x.name != name for x in (*t.indexes, *t.uniques, *t.checks, *t.foreign_keys)
    )


STEPS: list[tuple[str, Guard]] = [
    ('op.add_column("t", sa.Column("a", sa.Integer))', lacks("a")),
    ('op.drop_column("t", "v")', has("v")),
    ('op.drop_column("t", "w")', has("w")),
    ('op.alter_column("t", "v", type_=sa.Text())', has("v")),
    ('op.alter_column("t", "v", nullable=False, server_default="x")', has("v")),
    ('op.alter_column("t", "w", comment="why")', has("w")),
    ('op.rename_column("t", "v", "x")', lambda t: has("v")(t) and lacks("x")(t)),
    ('op.rename_column("t", "x", "v")', lambda t: has("x")(t) and lacks("v")(t)),
    ('op.create_index("ix_w", "t", ["w"])', lambda t: has("w")(t) and no_constraint("ix_w")(t)),
    (
        'op.create_unique_constraint("uq_v", "t", ["v"])',
        lambda t: has("v")(t) and no_constraint("uq_v")(t),
    ),
    (
        'op.create_foreign_key("fk_w", "t", "p", ["w"], ["id"])',
        lambda t: has("w")(t) and no_constraint("fk_w")(t),
    ),
    ('op.drop_constraint("ck_w", "t", type_="check")', lambda t: not no_constraint("ck_w")(t)),
    ('op.drop_index("ix_v_w", "t")', lambda t: not no_constraint("ix_v_w")(t)),
    ('op.create_table_comment("t", "a table")', lambda t: True),
]


def canonical(snapshot: Snapshot) -> Any:
    """A snapshot with order that carries no meaning taken out (re-added columns go last)."""
    return {
        key: (
            sorted(repr(c) for c in t.columns),
            t.primary_key,
            sorted(map(repr, t.indexes)),
            sorted(map(repr, t.uniques)),
            sorted(map(repr, t.foreign_keys)),
            sorted(map(repr, t.checks)),
            t.comment,
        )
        for key, t in snapshot.tables.items()
    }


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(range(len(STEPS))), max_size=8))
def test_any_sequence_reversed_returns_to_the_start(choices: list[int]) -> None:
    state, done = START, []
    for choice in choices:
        step, possible = STEPS[choice]
        table = state.table("t")
        assert table is not None
        if not possible(table):
            continue
        (operation,) = record(step)
        done.append((operation, state))
        state = operation.apply(state)
    undo: list[Operation] = [r for o, before in reversed(done) for r in o.reverse(before)]
    for operation in undo:
        state = operation.apply(state)
    assert canonical(state) == canonical(START)


def test_renames_follow_references() -> None:
    state = START
    for operation in record(
        'op.create_foreign_key("fk_w", "t", "p", ["w"], ["id"])\n'
        'op.rename_column("p", "id", "pid")\n'
        'op.rename_table("p", "parent")'
    ):
        state = operation.apply(state)
    t = state.table("t")
    assert t is not None
    [fk] = t.foreign_keys
    assert (fk.ref_table, fk.ref_columns) == ("parent", ("pid",))


def test_dropping_a_column_drops_what_uses_it() -> None:
    (drop,) = record('op.drop_column("t", "w")')
    t = drop.apply(START).table("t")
    assert t is not None
    assert (t.indexes, t.checks) == ((), ())
    restored = drop.apply(START)
    for operation in drop.reverse(START):
        restored = operation.apply(restored)
    assert canonical(restored) == canonical(START)


def test_index_keywords_that_name_columns_follow_them() -> None:
    """A rename renames the column in INCLUDE and in `postgresql_ops`/`mysql_length`
    keys; a drop drops the index that INCLUDEs it (as PostgreSQL does), and its reverse
    brings the index back."""
    state = START
    for operation in record(
        'op.create_index("ix_w", "t", ["w"], postgresql_include=["v"])\n'
        'op.create_index("ix_v", "t", ["v"], postgresql_ops={"v": "varchar_pattern_ops"},'
        ' mysql_length={"v": 10}, postgresql_with={"v": 1})\n'
        'op.rename_column("t", "v", "x")'
    ):
        state = operation.apply(state)
    t = state.table("t")
    assert t is not None
    indexes = {i.name: dict(i.options) for i in t.indexes}
    assert indexes["ix_w"]["postgresql_include"] == ["x"]
    assert indexes["ix_v"]["postgresql_ops"] == {"x": "varchar_pattern_ops"}
    assert indexes["ix_v"]["mysql_length"] == {"x": 10}
    assert indexes["ix_v"]["postgresql_with"] == {"v": 1}  # parameters, not columns
    (drop,) = record('op.drop_column("t", "x")')
    dropped = drop.apply(state).table("t")
    assert dropped is not None
    assert {i.name for i in dropped.indexes} == set()
    restored = drop.apply(state)
    for operation in drop.reverse(state):
        restored = operation.apply(restored)
    assert canonical(restored) == canonical(state)
