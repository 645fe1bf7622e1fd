"""The one replay (`dbshift.migrations.replay`): what a walk yields in each direction,
the schema a derived downgrade starts from, raw DDL, loading each file once, its layer;
the linter judging a derived downgrade by it; and the runner and offline SQL reverting a
branched history alike on every backend."""

from __future__ import annotations

import ast
import itertools
from pathlib import Path

import pytest
import sqlalchemy as sa

from dbshift.errors import IrreversibleMigration
from dbshift.linter import Target, lint_scripts
from dbshift.migrations.graph import Graph
from dbshift.migrations.replay import Replay, raw_ddl, replayed
from dbshift.migrations.scripts import scan
from dbshift.migrations.sqlsplit import split_sql
from dbshift.ops import AddColumn, BulkInsert, DropColumn, ExecuteSQL, Operation, RunPython
from dbshift.schema.snapshot import Snapshot
from tests.helpers import Project

TABLE = """
op.create_table(
    "t",
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("x", sa.Integer, nullable=True),
    sa.Column("y", sa.String(20), nullable=True),
)
"""
WIDEN_X = 'op.alter_column("t", "x", type_=sa.BigInteger(), existing_type=sa.Integer())'


def _spy(marker: Path, name: str) -> str:
    """A line of migration code that notes, in `marker`, each time the file is imported."""
    return f"open({str(marker)!r}, 'a').write({name + ' '!r})\n"


def _replay(project: Project) -> Replay:
    scripts = {s.id: s for s in scan(project.migrations)}
    return Replay(scripts, Graph({i: s.parents for i, s in scripts.items()}), "sqlite")


@pytest.fixture
def files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Project:
    """Migration files only: nothing here connects."""
    return Project(tmp_path, "sqlite:///unused.db", capsys)


def _branched(project: Project) -> dict[str, str]:
    """root makes t(id, x, y); `widen` (x to bigint) and `drop_x` branch off it; `merge`
    joins them; `drop_y` follows. Only `widen` writes a downgrade."""
    ids = {"root": project.python("root", TABLE)}
    ids["widen"] = project.python(
        "widen",
        WIDEN_X,
        'op.alter_column("t", "x", type_=sa.Integer(), existing_type=sa.BigInteger())',
        parents=[ids["root"]],
    )
    ids["drop_x"] = project.python("drop_x", 'op.drop_column("t", "x")', parents=[ids["root"]])
    ids["merge"] = project.python("merge", "pass", parents=[ids["widen"], ids["drop_x"]])
    ids["drop_y"] = project.python("drop_y", 'op.drop_column("t", "y")')
    return ids


def test_a_walk_up_tracks_the_schema_from_migration_to_migration(files: Project) -> None:
    ids = _branched(files)
    replay = _replay(files)
    order = replay.graph.topo_order()
    steps = list(replay.walk(order, "up", Snapshot()))
    assert [s.id for s in steps] == order
    assert steps[0].before == Snapshot()
    for earlier, later in itertools.pairwise(steps):
        assert later.before is earlier.after
    for step in steps:
        assert step.operations == replay.code(step.id).upgrade and not step.derived
    table = steps[-1].after.table("t")
    assert table is not None and [c.name for c in table.columns] == ["id"]
    assert steps[-1].after.to_json() == replay.schema(ids.values()).to_json()


def test_a_derived_downgrade_starts_from_its_own_ancestors(files: Project) -> None:
    """Its upgrade's schema is its ancestors replayed in the graph's order: `drop_x`
    restores x as root made it, not as the `widen` branch (earlier in the graph's
    order, not its ancestor) left it."""
    ids = _branched(files)
    replay = _replay(files)
    (step,) = replay.walk([ids["drop_x"]], "down")
    assert step.derived
    (restore,) = step.operations
    assert isinstance(restore, AddColumn) and restore.column.name == "x"
    assert isinstance(restore.column.type, sa.Integer)
    assert not isinstance(restore.column.type, sa.BigInteger)
    (written,) = replay.walk([ids["widen"]], "down")
    assert not written.derived and written.operations == replay.code(ids["widen"]).downgrade


def test_the_schema_before_each_migration_is_its_ancestors_replayed(files: Project) -> None:
    """`Replay.schema_before` keeps each chain's schemas; it must give what replaying the
    ancestors anew gives, for every migration, whatever was asked before."""
    ids = _branched(files)
    graph = _replay(files).graph
    for asked_first in (list(ids.values()), list(ids.values())[::-1]):
        replay = _replay(files)
        for migration_id in asked_first:
            expected = _replay(files).schema(graph.ancestors([migration_id], inclusive=False))
            assert replay.schema_before(migration_id).to_json() == expected.to_json(), migration_id
    after_merge = _replay(files).schema_before(ids["drop_y"]).table("t")
    assert after_merge is not None and [c.name for c in after_merge.columns] == ["id", "y"]


def test_a_walk_down_of_the_whole_history_loads_each_file_once(files: Project) -> None:
    marker = files.root / "imported"
    files.python("table", _spy(marker, "table") + TABLE)
    names = ["a", "b", "c"]
    for name in names:
        files.python(
            name,
            _spy(marker, name)
            + 'op.drop_column("t", "x")\nop.add_column("t", sa.Column("x", sa.Text))',
        )
    replay = _replay(files)
    order = replay.graph.topo_order()
    start = replay.schema(order)
    steps = list(replay.walk(order[:0:-1], "down", start))
    assert all(s.derived for s in steps)
    assert [type(op) for op in steps[0].operations] == [DropColumn, AddColumn]
    first, restore = steps[-1].operations[1], steps[0].operations[1]
    assert isinstance(first, AddColumn) and isinstance(first.column.type, sa.Integer)
    assert isinstance(restore, AddColumn) and isinstance(restore.column.type, sa.Text)
    table = steps[-1].after.table("t")
    column = table.column("x") if table is not None else None
    assert column is not None and isinstance(column.type, sa.Integer)  # as `table` made it
    assert sorted(marker.read_text().split()) == sorted(["table", *names])


def test_a_sql_migration_without_down_is_refused_before_anything_else_loads(
    files: Project,
) -> None:
    marker = files.root / "imported"
    files.python("first", _spy(marker, "first") + TABLE)
    child = files.sql("second", "ALTER TABLE t ADD COLUMN z INTEGER;")
    with pytest.raises(IrreversibleMigration, match="has no `-- dbshift:down` section"):
        list(_replay(files).walk([child], "down"))
    assert not marker.exists()


def test_downgrade_refuses_a_sql_migration_without_down_before_importing_any(
    project: Project,
) -> None:
    marker = project.root / "imported"
    project.python("first", _spy(marker, "first") + TABLE)
    project.sql("second", "ALTER TABLE t ADD COLUMN z INTEGER;")
    project.ok("upgrade")
    assert marker.read_text().split() == ["first"]
    before = project.fingerprint()
    error = project.fails(3, "downgrade", "base").err
    assert "has no `-- dbshift:down` section" in error and "hint:" in error
    assert project.fingerprint() == before
    assert marker.read_text().split() == ["first"]  # not imported again to be replayed


def test_a_walk_loads_a_migration_only_when_it_reaches_it(files: Project) -> None:
    """`make`'s replay stops at the first raw DDL: what comes after is not imported."""
    marker = files.root / "imported"
    files.python("first", TABLE)
    files.sql("raw", "CREATE TABLE r (id INTEGER PRIMARY KEY);", "DROP TABLE r;")
    files.python("last", _spy(marker, "last") + 'op.drop_column("t", "y")')
    scripts = scan(files.migrations)
    graph = Graph({s.id: s.parents for s in scripts})
    dialect = sa.create_engine("sqlite://").dialect
    assert replayed(scripts, graph, files.migrations, dialect) is None
    assert not marker.exists()


def test_the_linter_judges_a_derived_downgrade_as_downgrade_derives_it(files: Project) -> None:
    """DS604 (no downgrade, none derivable) is judged on `Replay.schema_before`, the
    migration's own history, as `downgrade` derives it, and not on everything linted
    before it in the graph's order. `left` and `right` both drop t.x, `make_u` and
    `drop_v` branch off root too: before, `right` was judged after `left` had dropped x
    (irreversible) and `drop_v` after `make_u` had made u (reversible); `downgrade`
    restores x for `right` and knows no u for `drop_v`."""
    root = files.python("root", TABLE, 'op.drop_table("t")')
    ids = {
        "left": files.python("left", 'op.drop_column("t", "x")', parents=[root]),
        "right": files.python("right", 'op.drop_column("t", "x")', parents=[root]),
        "make_u": files.python(
            "make_u",
            'op.create_table("u", sa.Column("id", sa.Integer, primary_key=True),\n'
            '    sa.Column("v", sa.Integer, nullable=True))',
            'op.drop_table("u")',
            parents=[root],
        ),
        "drop_v": files.python("drop_v", 'op.drop_column("u", "v")', parents=[root]),
    }
    scripts = scan(files.migrations)
    graph = Graph({s.id: s.parents for s in scripts})
    assert graph.topo_order() == [root, *ids.values()]
    report = lint_scripts(scripts, graph, graph.topo_order(), [Target("sqlite")])
    flagged = {f.migration for f in report.findings if f.code == "DS604"}
    assert flagged == {ids["drop_v"]}, report.findings
    replay = _replay(files)
    for name, migration_id in ids.items():
        try:
            next(replay.walk([migration_id], "down"))
        except IrreversibleMigration:
            assert migration_id in flagged, name
        else:
            assert migration_id not in flagged, name


def test_lint_loads_each_migration_once_per_dialect(files: Project) -> None:
    """MySQL and MariaDB (two versions too) record the same operations: `lint` loads each
    file once for them all, and judging DS604 on the replayed ancestors loads no file
    again."""
    marker = files.root / "imported"
    files.python("table", _spy(marker, "table") + TABLE, 'op.drop_table("t")')
    files.python("drop_x", _spy(marker, "drop_x") + 'op.drop_column("t", "x")')
    scripts = scan(files.migrations)
    graph = Graph({s.id: s.parents for s in scripts})
    targets = [Target("mysql"), Target("mariadb"), Target("mysql", (5, 7))]
    report = lint_scripts(scripts, graph, graph.topo_order(), targets)
    assert "DS604" not in {f.code for f in report.findings}, report.findings
    assert sorted(marker.read_text().split()) == ["drop_x", "table"]


@pytest.mark.parametrize(
    ("operation", "changes_schema"),
    [
        (ExecuteSQL("CREATE TABLE r (id int)"), True),
        (ExecuteSQL("-- why\n/* more */\n  alter table r add column z int"), True),
        (ExecuteSQL("DROP INDEX ix"), True),
        (ExecuteSQL("RENAME TABLE a TO b"), True),
        (ExecuteSQL("COMMENT ON TABLE r IS 'x'"), True),
        (ExecuteSQL(sa.text("CREATE INDEX ix ON r (id)")), True),
        (ExecuteSQL("INSERT INTO r (id) VALUES (1)"), False),
        (ExecuteSQL("UPDATE r SET id = 2 -- then CREATE"), False),
        (ExecuteSQL("-- DROP TABLE r\nDELETE FROM r"), False),
        (ExecuteSQL("created_at_refresh()"), False),
        (BulkInsert(sa.table("r", sa.column("id")), ({"id": 1},)), False),
        (RunPython(print), False),
    ],
)
def test_raw_ddl_is_what_replay_cannot_follow(operation: Operation, changes_schema: bool) -> None:
    assert raw_ddl([operation]) is changes_schema


FORBIDDEN = ("dbshift.runner", "dbshift.autogen", "dbshift.api", "dbshift.offline", "dbshift.cli")


def _imported(tree: ast.AST) -> list[str]:
    """The dbshift modules (and names in them) a module's code imports when it runs: at
    the top or in a function, not under `if TYPE_CHECKING:` (annotations only)."""
    found: list[str] = []
    todo = [tree]
    while todo:
        node = todo.pop()
        if isinstance(node, ast.If) and getattr(node.test, "id", None) == "TYPE_CHECKING":
            todo.extend(node.orelse)
            continue
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found += [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        todo.extend(ast.iter_child_nodes(node))
    return [name for name in found if name.startswith("dbshift.")]


def test_replay_stays_in_the_migrations_layer() -> None:
    """`migrations/replay.py` and every dbshift module it imports, lazily or not, import
    nothing from the runner, autogen, the API, offline SQL or the CLI."""
    import dbshift

    root = Path(dbshift.__file__).parent
    seen: set[str] = set()
    todo = ["dbshift.migrations.replay"]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        base = root.joinpath(*name.split(".")[1:])
        path = base / "__init__.py" if base.is_dir() else base.with_suffix(".py")
        if not path.exists():  # a name imported from a module, not a module
            continue
        for module in _imported(ast.parse(path.read_text(encoding="utf-8"))):
            assert not module.startswith(FORBIDDEN), f"{name} imports {module}"
            todo.append(module)
    assert {"dbshift.migrations.loader", "dbshift.ops.base", "dbshift.schema.snapshot"} <= seen


def test_runner_and_offline_sql_revert_a_branched_history_alike(
    project: Project, scratch: object
) -> None:
    """One replay, one set of rules: `downgrade` and `sql --down` revert the same
    derived downgrades (across a merge) to the same database, where offline SQL started
    from a database its own script built."""
    ids = _branched(project)
    project.ok("upgrade")
    head = ids["drop_y"]
    up = project.ok("sql").out
    down = project.ok("sql", "--down", f"{head}:{ids['root']}").out
    assert down.index(ids["drop_y"]) < down.index(ids["merge"]) < down.index(ids["drop_x"])
    other_url = scratch.create()  # type: ignore[attr-defined]
    engine = sa.create_engine(other_url, poolclass=sa.NullPool)
    try:
        with engine.connect() as conn:
            if engine.dialect.name == "sqlite":
                conn.connection.driver_connection.isolation_level = None  # type: ignore[union-attr]
            for script in (up, down):
                for statement in split_sql(script, engine.dialect.name):
                    conn.exec_driver_sql(statement.text)
            conn.commit()
        project.ok("downgrade", ids["root"])
        online, offline = sa.inspect(project.engine()), sa.inspect(engine)
        shape = [(c["name"], str(c["type"])) for c in online.get_columns("t")]
        assert [c["name"] for c in online.get_columns("t")] == ["id", "y", "x"]
        assert [(c["name"], str(c["type"])) for c in offline.get_columns("t")] == shape
        other = Project(project.root.parent / "other", other_url, project.capsys)
        for path in project.migrations.glob("*.*"):
            (other.migrations / path.name).write_bytes(path.read_bytes())
        assert other.applied() == project.applied() == [ids["root"]]
    finally:
        engine.dispose()
