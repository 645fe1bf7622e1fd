"""Every concrete operation renders, yields lint facts, executes and reverses.

Parametrized over the operation classes themselves (found through `__subclasses__`), each
built from its entry in EXAMPLES: a class added without an example fails
`test_every_operation_has_an_example` instead of being skipped.
"""

from __future__ import annotations

import dataclasses
import inspect
import textwrap
from collections.abc import Iterator, Sequence
from typing import Any, cast

import pytest
import sqlalchemy as sa
from sqlalchemy.types import TypeEngine

from dbshift.autogen.render import Renderer
from dbshift.config import Config
from dbshift.database import create_engine
from dbshift.dialects import backend_for
from dbshift.errors import IrreversibleMigration
from dbshift.facts import Fact
from dbshift.linter.facts import facts_from_operation
from dbshift.ops import (
    AddCheckConstraint,
    AddColumn,
    AddEnumValue,
    AddForeignKey,
    AddPrimaryKey,
    AddUniqueConstraint,
    AlterColumn,
    BulkInsert,
    CreateEnum,
    CreateIndex,
    CreateSequence,
    CreateTable,
    DropColumn,
    DropConstraint,
    DropEnum,
    DropIndex,
    DropInvalidIndex,
    DropSequence,
    DropTable,
    ExecuteSQL,
    Operation,
    RenameColumn,
    RenameTable,
    RunPython,
    SetEnumValues,
    SetTableComment,
    ValidateConstraint,
)
from dbshift.ops.context import OnlineContext
from dbshift.ops.live import RunLive
from dbshift.ops.recorder import Op
from dbshift.schema.snapshot import (
    Check,
    Column,
    Enum,
    ForeignKey,
    Index,
    PrimaryKey,
    Snapshot,
    Table,
    Unique,
)
from dbshift.schema.snapshot import (
    Sequence as SequenceDef,
)

#: the schema every example starts from
BASE = """
op.create_table(
    "parent",
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("code", sa.String(20), nullable=False),
)
op.create_table(
    "child",
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("parent_id", sa.Integer),
    sa.Column("note", sa.String(50)),
)
"""


def touch(connection: sa.Connection) -> None:
    connection.execute(sa.text("SELECT 1"))


def inspecting(op: Op) -> None:
    """An Alembic-style body: reads the catalog, then chooses an operation by it."""
    if "note" in {c["name"] for c in sa.inspect(op.get_bind()).get_columns("child")}:
        op.add_column("child", sa.Column("extra", sa.Integer))


@dataclasses.dataclass(frozen=True)
class Example:
    op: Operation
    #: the kinds of the facts it gives, in order ("other": no rule is about it)
    kinds: tuple[str, ...]
    #: `op` calls run after BASE and before it
    setup: str = ""
    #: False: `make` never writes it and no call could restate it (render_python raises
    #: TypeError)
    renders: bool = True
    #: False: reverse raises IrreversibleMigration (raw SQL, rows, Python code)
    reversible: bool = True


EXAMPLES: dict[type[Operation], Example] = {
    CreateTable: Example(
        CreateTable(
            Table(
                "extra",
                (Column("id", sa.Integer(), nullable=False), Column("label", sa.String(30))),
                primary_key=PrimaryKey(("id",)),
            )
        ),
        ("create_table",),
    ),
    DropTable: Example(DropTable("child"), ("drop_table",)),
    RenameTable: Example(RenameTable("child", "kid"), ("rename_table",)),
    SetTableComment: Example(SetTableComment("parent", "the parents"), ("other",)),
    AddColumn: Example(AddColumn("child", Column("extra", sa.Integer())), ("add_column",)),
    DropColumn: Example(DropColumn("child", "note"), ("drop_column",)),
    RenameColumn: Example(RenameColumn("child", "note", "remark"), ("rename_column",)),
    AlterColumn: Example(
        AlterColumn(
            "child", "note", nullable=False, existing=Column("note", sa.String(50), nullable=True)
        ),
        ("set_not_null",),
    ),
    CreateIndex: Example(
        CreateIndex("child", Index("ix_child_note", ("note",))), ("create_index",)
    ),
    DropIndex: Example(
        DropIndex("ix_child_note", "child"),
        ("drop_index",),
        setup='op.create_index("ix_child_note", "child", ["note"])',
    ),
    DropInvalidIndex: Example(DropInvalidIndex("ix_child_note"), ("drop_index",)),
    AddForeignKey: Example(
        AddForeignKey("child", ForeignKey("fk_child_parent", ("parent_id",), "parent", ("id",))),
        ("add_foreign_key",),
    ),
    AddUniqueConstraint: Example(
        AddUniqueConstraint("parent", Unique("uq_parent_code", ("code",))), ("add_unique",)
    ),
    AddCheckConstraint: Example(
        AddCheckConstraint("child", Check("ck_child_note", "note <> ''")), ("add_check",)
    ),
    AddPrimaryKey: Example(
        AddPrimaryKey("bare", PrimaryKey(("k",), "pk_bare")),
        ("add_primary_key",),
        setup='op.create_table("bare", sa.Column("k", sa.Integer, nullable=False))',
    ),
    DropConstraint: Example(
        DropConstraint("uq_parent_code", "parent", "unique"),
        ("drop_constraint",),
        setup='op.create_unique_constraint("uq_parent_code", "parent", ["code"])',
    ),
    ValidateConstraint: Example(
        ValidateConstraint("ck_parent_code", "parent"),
        ("validate_constraint",),
        setup='op.create_check_constraint("ck_parent_code", "parent", "code <> \'\'")',
    ),
    CreateEnum: Example(CreateEnum(Enum("mood", ("sad", "happy"))), ("create_enum",)),
    DropEnum: Example(
        DropEnum("mood"), ("drop_enum",), setup='op.create_enum("mood", ["sad", "happy"])'
    ),
    AddEnumValue: Example(
        AddEnumValue("mood", "calm", before="happy"),
        ("add_enum_value",),
        setup='op.create_enum("mood", ["sad", "happy"])',
    ),
    SetEnumValues: Example(
        SetEnumValues("mood", ("sad", "happy", "calm")),
        ("set_enum_values",),
        setup='op.create_enum("mood", ["sad", "happy"])',
    ),
    CreateSequence: Example(CreateSequence(SequenceDef("counter", start=10)), ("other",)),
    DropSequence: Example(
        DropSequence("counter"),
        ("drop_sequence",),
        setup='op.create_sequence("counter", start=10)',
    ),
    ExecuteSQL: Example(
        ExecuteSQL("UPDATE parent SET code = 'x' WHERE id = 0"), ("update",), reversible=False
    ),
    BulkInsert: Example(
        BulkInsert(
            sa.table("parent", sa.column("id"), sa.column("code")), ({"id": 1, "code": "a"},)
        ),
        ("insert",),
        renders=False,
        reversible=False,
    ),
    RunPython: Example(RunPython(touch), ("run_python",), renders=False, reversible=False),
    RunLive: Example(
        RunLive(inspecting, "20260101T000001_live.py", asked="op.get_bind().execute"),
        ("run_python",),
        renders=False,
        reversible=False,
    ),
}


def subclasses(root: type) -> Iterator[type]:
    children: list[type] = root.__subclasses__()
    for cls in children:
        yield cls
        yield from subclasses(cls)


def concrete_operations(module: str = "dbshift.") -> set[type[Operation]]:
    """Every non-abstract subclass of `Operation` defined in a module whose name starts
    with `module` (dbshift's own, by default)."""
    return {
        cast("type[Operation]", cls)
        for cls in subclasses(Operation)
        if not inspect.isabstract(cls) and cls.__module__.startswith(module)
    }


OPERATIONS = sorted(concrete_operations(), key=lambda cls: cls.__name__)
ids = [cls.__name__ for cls in OPERATIONS]


def example(cls: type[Operation]) -> Example:
    if cls not in EXAMPLES:
        pytest.fail(f"{cls.__name__} has no entry in EXAMPLES")
    return EXAMPLES[cls]


def test_every_operation_has_an_example() -> None:
    missing = sorted(cls.__name__ for cls in set(OPERATIONS) - EXAMPLES.keys())
    assert not missing, f"operations without an entry in EXAMPLES: {', '.join(missing)}"
    stale = sorted(cls.__name__ for cls in EXAMPLES.keys() - set(OPERATIONS))
    assert not stale, f"EXAMPLES entries that are not concrete operations: {', '.join(stale)}"
    assert all(type(e.op) is cls for cls, e in EXAMPLES.items())


def test_the_registry_sees_a_new_operation_class() -> None:
    """The collection is what makes a forgotten example fail: a subclass of a subclass,
    defined anywhere, is found; one left abstract is not."""

    class Probe(DropTable):
        pass

    class Base(Operation):
        pass

    found = concrete_operations(__name__)
    assert Probe in found
    assert Base not in found


# -- rendering --------------------------------------------------------------------------


def comparable(value: Any) -> Any:
    """`value` with SQLAlchemy types (which compare by identity) replaced by their repr,
    through dataclasses (their compared fields), tuples, lists and mappings."""
    if isinstance(value, TypeEngine):
        return ("type", repr(value))
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = [f for f in dataclasses.fields(value) if f.compare]
        return (type(value), tuple(comparable(getattr(value, f.name)) for f in fields))
    if isinstance(value, (tuple, list)):
        return type(value)(comparable(v) for v in value)
    if isinstance(value, dict) or hasattr(value, "items"):
        return tuple(sorted((k, comparable(v)) for k, v in value.items()))
    return value


def record(code: str) -> list[Operation]:
    op = Op()
    exec(code, {"op": op, "sa": sa})
    return op.operations


@pytest.mark.parametrize("cls", OPERATIONS, ids=ids)
def test_renders_as_a_call_that_records_it_again(cls: type[Operation]) -> None:
    case = example(cls)
    renderer = Renderer()
    if not case.renders:
        with pytest.raises(TypeError, match=f"cannot render {cls.__name__} as Python"):
            renderer.operation(case.op)
        return
    call = textwrap.dedent(renderer.operation(case.op))
    assert call.startswith("op.")
    code = "\n".join([*renderer.import_lines(), call])
    recorded = record(code)
    assert comparable(recorded) == [comparable(case.op)], code
    assert Renderer().operation(recorded[0]) == renderer.operation(case.op)


# -- lint facts -------------------------------------------------------------------------


@pytest.mark.parametrize("cls", OPERATIONS, ids=ids)
def test_gives_lint_facts(cls: type[Operation]) -> None:
    case = example(cls)
    read: list[str] = []

    def read_sql(sql: str) -> list[Fact]:
        read.append(sql)
        return facts_from_operation(ExecuteSQL(sql))

    facts = case.op.lint_facts(read_sql)
    assert isinstance(facts, list)
    assert all(isinstance(f, Fact) for f in facts)
    assert tuple(f.kind for f in facts) == case.kinds
    assert facts_from_operation(case.op) == facts
    assert bool(read) == isinstance(case.op, ExecuteSQL)


# -- execution and reversal -------------------------------------------------------------


@pytest.fixture
def db(db_url: str) -> Iterator[sa.Engine]:
    """An engine configured exactly as the runner's (SQLite: transactional DDL)."""
    engine: sa.Engine = create_engine(Config(url=db_url))
    yield engine
    engine.dispose()


def run(engine: sa.Engine, operations: Sequence[Operation]) -> None:
    """Execute like the runner: one transaction (statement by statement where the backend
    has no transactional DDL), or none for an operation that refuses one."""
    for operation in operations:
        with engine.connect() as conn:
            if not operation.transactional or not backend_for(conn.dialect).transactional_ddl:
                conn = conn.execution_options(isolation_level="AUTOCOMMIT")
            with conn.begin():
                operation.execute(OnlineContext(conn))


def replayed(operations: Sequence[Operation], snapshot: Snapshot | None = None) -> Snapshot:
    state = snapshot if snapshot is not None else Snapshot()
    for operation in operations:
        state = operation.apply(state)
    return state


@pytest.mark.parametrize("cls", OPERATIONS, ids=ids)
def test_executes_and_reverses(cls: type[Operation], db: sa.Engine) -> None:
    case = example(cls)
    setup = record(BASE + case.setup)
    run(db, setup)
    before = replayed(setup)
    run(db, [case.op])
    if not case.reversible:
        with pytest.raises(IrreversibleMigration):
            case.op.reverse(before)
        return
    undo = list(case.op.reverse(before))
    assert all(isinstance(u, Operation) for u in undo)
    assert comparable(replayed(undo, case.op.apply(before))) == comparable(before)
    run(db, undo)
