"""Guard tests that keep the layout of `src/dbshift` standing (issue 13, docs/architecture.md).

Import graph: which modules of dbshift import which, read with `ast` from the source
(nothing is imported). An import counts for the module it names: `import a.b` and
`from a import b` (with `b` a module) depend on `a.b`, `from a.b import name` on `a.b`;
the parent packages Python initialises on the way are not edges.
"""

from __future__ import annotations

import ast
import dataclasses
import itertools
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from dbshift.config import BACKENDS
from tests.helpers import BACKEND_LOOKUP

SRC = Path(__file__).resolve().parent.parent / "src"
PACKAGE = SRC / "dbshift"


# -- the import graph ------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Import:
    """One module named by an import statement of a dbshift module."""

    importer: str
    imported: str
    line: int
    #: executed when the importer is imported (not inside a function, not type-only)
    module_level: bool
    #: under `if TYPE_CHECKING:` (never executed)
    type_only: bool


def module_names() -> dict[str, Path]:
    names = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(SRC).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        names[".".join(parts)] = path
    return names


MODULES = module_names()


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _statements(
    body: list[ast.stmt], *, in_function: bool, type_only: bool
) -> Iterator[tuple[ast.Import | ast.ImportFrom, bool, bool]]:
    """Every import statement in `body`, with whether it runs inside a function and
    whether it is type-only. Class bodies run at import time, as module code does."""
    for node in body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node, in_function, type_only
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            yield from _statements(node.body, in_function=True, type_only=type_only)
        elif isinstance(node, ast.If) and _is_type_checking(node.test):
            yield from _statements(node.body, in_function=in_function, type_only=True)
            yield from _statements(node.orelse, in_function=in_function, type_only=type_only)
        else:  # if, for, while, try, with, match: their statements run where they stand
            for child in ast.iter_child_nodes(node):
                if isinstance(child, ast.stmt):
                    inner = [child]
                elif isinstance(child, (ast.ExceptHandler, ast.match_case)):
                    inner = child.body
                else:
                    continue
                yield from _statements(inner, in_function=in_function, type_only=type_only)


def _targets(importer: str, node: ast.Import | ast.ImportFrom) -> Iterator[str]:
    if isinstance(node, ast.Import):
        for alias in node.names:
            yield alias.name
        return
    if node.level:  # relative: from the importer's package, one level up per extra dot
        base = importer.split(".")
        if MODULES[importer].name != "__init__.py":
            base.pop()
        base = base[: len(base) - (node.level - 1)]
        package = ".".join(base + ([node.module] if node.module else []))
    else:
        package = node.module or ""
    for alias in node.names:
        submodule = f"{package}.{alias.name}"
        yield submodule if submodule in MODULES else package


def imports() -> list[Import]:
    found = []
    for name, path in MODULES.items():
        tree = ast.parse(path.read_text(), str(path))
        for node, in_function, type_only in _statements(
            tree.body, in_function=False, type_only=False
        ):
            for target in _targets(name, node):
                found.append(
                    Import(
                        name,
                        target,
                        node.lineno,
                        module_level=not in_function and not type_only,
                        type_only=type_only,
                    )
                )
    return found


#: every import statement of dbshift, and those of dbshift's own modules
ALL_IMPORTS = imports()
IMPORTS = [e for e in ALL_IMPORTS if e.imported == "dbshift" or e.imported.startswith("dbshift.")]


def graph(edges: list[Import]) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {name: set() for name in MODULES}
    for edge in edges:
        out[edge.importer].add(edge.imported)
    return out


def strongly_connected(out: dict[str, set[str]]) -> list[frozenset[str]]:
    """The modules that import each other, directly or not (Tarjan): every component
    of more than one module holds a cycle."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(out.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.add(member)
                if member == node:
                    break
            if len(component) > 1 or node in out.get(node, ()):
                components.append(frozenset(component))

    for node in sorted(out):
        if node not in index:
            visit(node)
    return components


def a_cycle(out: dict[str, set[str]], component: frozenset[str]) -> list[str]:
    """One cycle through the component's first module, shortest first (breadth-first)."""
    start = min(component)
    paths = {start: [start]}
    queue = [start]
    while queue:
        node = queue.pop(0)
        for nxt in sorted(out[node] & component):
            if nxt == start:
                return [*paths[node], start]
            if nxt not in paths:
                paths[nxt] = [*paths[node], nxt]
                queue.append(nxt)
    raise AssertionError(f"no cycle in {sorted(component)}")


def describe(out: dict[str, set[str]], component: frozenset[str]) -> str:
    lines = {(e.importer, e.imported): e.line for e in reversed(IMPORTS) if not e.type_only}
    cycle = a_cycle(out, component)
    steps = [f"{a} (line {lines[(a, b)]}) -> {b}" for a, b in itertools.pairwise(cycle)]
    return f"{sorted(component)}:\n    " + "\n    ".join(steps)


def test_no_import_cycles_among_module_level_imports() -> None:
    """Importing any module of dbshift first finds every module it needs complete."""
    out = graph([e for e in IMPORTS if e.module_level])
    found = [describe(out, c) for c in sorted(strongly_connected(out), key=sorted)]
    assert not found, "import cycles:\n" + "\n".join(found)


# Cycles that an import inside a function hides: the modules import each other once
# their functions run. Issue 13 removed them all (the last: the lint facts and the two
# SQL readers); the test below fails when one appears. An entry would be the set of
# modules that import each other, and the list only shrinks.
KNOWN_CYCLES: set[frozenset[str]] = set()


def test_imports_inside_functions_hide_only_the_known_cycles() -> None:
    out = graph([e for e in IMPORTS if not e.type_only])
    found = set(strongly_connected(out))
    new = [describe(out, c) for c in sorted(found - KNOWN_CYCLES, key=sorted)]
    assert not new, "import cycles (through imports inside functions):\n" + "\n".join(new)
    gone = [sorted(c) for c in KNOWN_CYCLES - found]
    assert not gone, f"no longer a cycle, take it out of KNOWN_CYCLES: {gone}"


LOW_LAYERS = ("dbshift.ops", "dbshift.schema", "dbshift.dialects")
HIGH_LAYERS = (
    "dbshift.api",
    "dbshift.aio",
    "dbshift.runner",
    "dbshift.autogen",
    "dbshift.jobs",
    "dbshift.checks",
)


def test_the_runner_imports_no_command_above_it() -> None:
    """The runner serves the commands (the API, the jobs, `check`, `make`, `adopt`, the
    CLI, the Flask group): none of them is imported by it (type-only imports aside)."""
    above = ("dbshift.api", "dbshift.aio", "dbshift.jobs", "dbshift.checks", "dbshift.cli")
    above += ("dbshift.adopt", "dbshift.autogen", "dbshift.flask", "dbshift.linter")
    wrong = [
        f"{e.importer} line {e.line} imports {e.imported}"
        for e in IMPORTS
        if not e.type_only and _under(e.importer, ("dbshift.runner",)) and _under(e.imported, above)
    ]
    assert not wrong, "\n".join(wrong)


def test_the_fleet_is_imported_by_the_cli_alone_and_imports_no_command_above_it() -> None:
    """`fleet/` sits under the CLI, over the jobs and the runner (docs/architecture.md):
    only `cli` imports it, and it imports neither the CLI nor the API."""
    fleet = ("dbshift.fleet",)
    wrong = [
        f"{e.importer} line {e.line} imports {e.imported}"
        for e in IMPORTS
        if not e.type_only
        and (
            (_under(e.imported, fleet) and not _under(e.importer, (*fleet, "dbshift.cli")))
            or (
                _under(e.importer, fleet)
                and _under(e.imported, ("dbshift.cli", "dbshift.api", "dbshift.aio"))
            )
        )
    ]
    assert not wrong, "\n".join(wrong)


def _under(name: str, packages: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in packages)


def test_low_layers_import_nothing_from_the_commands() -> None:
    """Operations, schema and backends serve every consumer: none of them imports from
    the API, the runner, the CLI, the autogenerate or the jobs, at module level or
    inside a function (type-only imports aside)."""
    wrong = [
        f"{e.importer} line {e.line} imports {e.imported}"
        for e in IMPORTS
        if not e.type_only and _under(e.importer, LOW_LAYERS) and _under(e.imported, HIGH_LAYERS)
    ]
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("import dbshift.ops.base\n", {("dbshift.ops.base", True)}),
        ("from dbshift.ops import base\n", {("dbshift.ops.base", True)}),
        ("from dbshift.ops import Operation\n", {("dbshift.ops", True)}),
        ("from . import base\n", {("dbshift.ops.base", True)}),
        ("from .base import Operation\n", {("dbshift.ops.base", True)}),
        ("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import dbshift.api\n", set()),
        ("def f():\n    from dbshift import api\n", {("dbshift.api", False)}),
        ("class C:\n    import dbshift.api\n", {("dbshift.api", True)}),
        ("try:\n    import dbshift.api\nexcept ImportError:\n    pass\n", {("dbshift.api", True)}),
    ],
)
def test_the_graph_reads_each_kind_of_import(source: str, expected: set[tuple[str, bool]]) -> None:
    """The reader above, on small sources as if they were `dbshift/ops/columns.py`."""
    tree = ast.parse(source)
    found = {
        (target, in_function is False)
        for node, in_function, type_only in _statements(
            tree.body, in_function=False, type_only=False
        )
        if not type_only
        for target in _targets("dbshift.ops.columns", node)
        if target.startswith("dbshift.")
    }
    assert found == expected


# -- what `status` and `history` import --------------------------------------------------

HEAVY = (
    "dbshift.ops",
    "dbshift.schema",
    "dbshift.dialects",
    "dbshift.autogen",
    "dbshift.linter",
    "dbshift.runner",
    "dbshift.checks",
    "dbshift.offline",
    "dbshift.migrations.loader",
    "sqlglot",
)


def _project(tmp_path: Path, *commands: list[str]) -> None:
    """An SQLite project in `tmp_path`, after running `commands` (each a process)."""
    (tmp_path / "dbshift.toml").write_text(f'url = "sqlite:///{tmp_path / "db.sqlite"}"\n')
    (tmp_path / "migrations").mkdir(exist_ok=True)
    for args in commands:
        subprocess.run([sys.executable, "-m", "dbshift", *args], cwd=tmp_path, check=True)


def _imports_of(tmp_path: Path, *commands: list[str]) -> tuple[str, list[str], list[str]]:
    """`commands` run one after the other through `dbshift.cli.main` in one new process
    in `tmp_path`, each succeeding: (their output, every module then imported, the
    imported files that are migration code)."""
    code = (
        "import os, sys\nfrom dbshift.cli import main\n"
        f"for args in {[list(c) for c in commands]!r}:\n"
        "    try:\n        main(args)\n    except SystemExit as done:\n"
        "        assert not done.code, (args, done.code)\n"
        "here = os.path.realpath('migrations')\n"
        "files = [str(getattr(m, '__file__', None) or '') for m in list(sys.modules.values())]\n"
        "print('migration code:', *[f for f in files if os.path.realpath(f).startswith(here)])\n"
        "print('imported:', *sorted(sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    output, _, imported = done.stdout.rpartition("imported:")
    output, _, migration_code = output.rpartition("migration code:")
    return output + done.stderr, imported.split(), migration_code.split()


def test_status_and_history_import_no_migration_code_linter_or_sqlglot(tmp_path: Path) -> None:
    """The commands that only read the history and the files' headers stay light: the
    imports inside functions that keep them so are marked `# lazy:` (also
    tests/test_resume.py, on a partial migration, and tests/test_lint_cli.py)."""
    _project(tmp_path, ["new", "-m", "first"], ["upgrade"], ["new", "-m", "second", "--sql"])
    output, imported, migration_code = _imports_of(tmp_path, ["status"], ["history"])
    assert "second" in output  # status listed the pending migration
    assert "dbshift.history" in imported and "dbshift.migrations.scripts" in imported
    heavy = [name for name in imported if _under(name, HEAVY) and name not in BACKEND_LOOKUP]
    assert not heavy and not migration_code, heavy + migration_code


#: what an upgrade with nothing pending must not import: it runs no operation, replays
#: nothing and keeps no statements (the runner's own modules it does import)
RUNS_STEPS = (
    "dbshift.ops",
    "dbshift.schema",
    "dbshift.dialects.base",
    "dbshift.migrations.loader",
    "dbshift.migrations.replay",
    "dbshift.migrations.txcontrol",
    "dbshift.runner.journal",
    "dbshift.runner.cache",
    "dbshift.autogen",
    "dbshift.linter",
    "sqlglot",
)


def test_an_upgrade_with_nothing_pending_imports_no_operation_code(tmp_path: Path) -> None:
    """Every pod of a deployment runs `upgrade` at every start, and nearly always finds
    nothing to do: it reads the history and the headers, like `status`, and imports
    nothing that loads or runs a migration. A pending one still runs (second half)."""
    _project(tmp_path, ["new", "-m", "first"], ["upgrade"])
    output, imported, migration_code = _imports_of(tmp_path, ["upgrade"])
    assert "nothing to do" in output
    assert "dbshift.runner.execute" in imported
    assert [name for name in imported if _under(name, RUNS_STEPS)] == [] == migration_code
    _project(tmp_path, ["new", "-m", "second"])
    output, imported, migration_code = _imports_of(tmp_path, ["upgrade"])
    assert "applied 1 migration" in output and migration_code
    assert "dbshift.ops.context" in imported and "dbshift.migrations.loader" in imported


def test_the_program_freezes_its_imports_for_the_collector_and_the_library_does_not(
    tmp_path: Path,
) -> None:
    """`python -m dbshift` (and the console script, the same `cli.run`) moves what its
    imports built out of the cyclic collector's reach; importing dbshift and calling
    the CLI's `main` as a library leaves the collector alone."""
    from importlib.metadata import entry_points

    (script,) = [e for e in entry_points(group="console_scripts") if e.name == "dbshift"]
    assert script.value == "dbshift.cli:run"
    report = "import atexit, gc, sys\natexit.register(lambda: print(gc.get_freeze_count()))\n"
    as_program = report + (
        "import runpy\nsys.argv = ['dbshift', '--version']\n"
        "runpy.run_module('dbshift', run_name='__main__', alter_sys=True)\n"
    )
    as_library = report + (
        "import dbshift.api\nfrom dbshift.cli import main\n"
        "try:\n    main(['--version'])\nexcept SystemExit:\n    pass\n"
    )
    frozen = []
    for code in (as_program, as_library):
        done = subprocess.run(
            [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True
        )
        assert done.returncode == 0, done.stderr
        frozen.append(int(done.stdout.split()[-1]))
    assert frozen[0] > 10_000 and frozen[1] == 0, frozen


# -- imports inside functions --------------------------------------------------------------


def _says_why(lines: list[str], index: int) -> bool:
    """Whether the import at `lines[index]` stands under a `# lazy: <why>` comment (of
    one line or more), the imports and blank lines between them being one block."""
    for line in reversed(lines[:index]):
        text = line.strip()
        if text.startswith("# lazy: "):
            return True
        if text and not text.startswith(("import ", "from ", "#")):
            return False
    return False


def test_every_import_inside_a_function_says_why() -> None:
    """An import inside a function is there for a reason (the start-up of `status` and
    `history`, an optional dependency, a cycle), written on the line above it (or above
    the block of imports it is in, blank lines between them allowed) as
    `# lazy: <why>`; any other import belongs at the top of its module."""
    unmarked: dict[str, list[int]] = {}
    for e in ALL_IMPORTS:
        if e.module_level or e.type_only:
            continue
        if not _says_why(MODULES[e.importer].read_text().splitlines(), e.line - 1):
            unmarked.setdefault(e.importer, []).append(e.line)
    assert not unmarked, f"imports inside functions without a `# lazy: <why>` line: {unmarked}"


# -- backend names -------------------------------------------------------------------------
# Code outside the backend packages (`dbshift/dialects/`) reads a `Backend`'s flags and
# methods (`dbshift.dialects.backend_for`), never a backend's name: a new backend is then
# a new package plus flags, not a hunt for `dialect.name == "..."` through the code.

BACKEND_PACKAGES = PACKAGE / "dialects"
#: backend names, and the other spelling a name check might use
NAMES = frozenset({*BACKENDS, "postgres"})
_COMPARISONS = (ast.Eq, ast.NotEq, ast.In, ast.NotIn, ast.Is, ast.IsNot)


def _outside_backend_packages() -> Iterator[Path]:
    for path in sorted(PACKAGE.rglob("*.py")):
        if BACKEND_PACKAGES not in path.parents:
            yield path


def _names_a_backend(node: ast.expr) -> bool:
    """A backend's name as a string, or a tuple, list or set holding one."""
    if isinstance(node, ast.Constant):
        return isinstance(node.value, str) and node.value.lower() in NAMES
    if isinstance(node, ast.Tuple | ast.List | ast.Set):
        return any(_names_a_backend(e) for e in node.elts)
    return False


def _is_a_name(node: ast.expr) -> bool:
    """`x.name`, or `url.get_backend_name()`."""
    if isinstance(node, ast.Attribute):
        return node.attr == "name"
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "get_backend_name"
    )


def name_checks(tree: ast.AST) -> Iterator[tuple[int, str]]:
    """(line, what) of each comparison of a `.name` with a backend name, and each use
    of `is_mariadb` (attribute, name or string, as in `getattr(d, "is_mariadb")`)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare) and isinstance(node.ops[0], _COMPARISONS):
            sides = [node.left, *node.comparators]
            if any(_is_a_name(s) for s in sides) and any(_names_a_backend(s) for s in sides):
                yield node.lineno, ast.unparse(node)
        elif isinstance(node, ast.Attribute) and node.attr == "is_mariadb":
            yield node.lineno, ast.unparse(node)
        elif isinstance(node, ast.Name) and node.id == "is_mariadb":
            yield node.lineno, node.id
        elif isinstance(node, ast.Constant) and node.value == "is_mariadb":
            yield node.lineno, repr(node.value)


def test_no_backend_name_checks_outside_the_backend_packages() -> None:
    found = [
        f"{path.relative_to(SRC)}:{line}: {what}"
        for path in _outside_backend_packages()
        for line, what in name_checks(ast.parse(path.read_text(), str(path)))
    ]
    assert not found, (
        "backend-name checks outside src/dbshift/dialects/ (read a flag or a method of "
        "`dbshift.dialects.backend_for(...)` instead):\n" + "\n".join(found)
    )


def test_the_guard_finds_what_it_guards_against() -> None:
    """The scan itself: each form it must catch, and the forms that are data."""
    caught = """
if dialect.name == "postgresql": pass
if conn.dialect.name in ("mysql", "mariadb"): pass
if ctx.dialect.name != "sqlite": pass
if "postgres" == rules.name: pass
if url.get_backend_name() == "sqlite": pass
flag = getattr(dialect, "is_mariadb", False)
flag = dialect.is_mariadb
"""
    lines = [line for line, _ in name_checks(ast.parse(caught))]
    assert sorted(lines) == [2, 3, 4, 5, 6, 7, 8]
    data = """
if column.name == "id": pass
variants = {"sqlite": a, "postgresql": b}
typ = sa.JSON().with_variant(JSONB(), "postgresql")
if table.name in names: pass
"""
    assert list(name_checks(ast.parse(data))) == []


def test_every_supported_backend_has_a_package() -> None:
    """Each name `config.BACKENDS` accepts is served by a backend package's `Backend`,
    and each backend package serves at least one."""
    from dbshift.dialects import backend_for

    for name in BACKENDS:
        backend = backend_for(name)
        assert name in backend.names, name
        package = BACKEND_PACKAGES / backend.name
        assert (package / "__init__.py").is_file(), package
        assert type(backend).__module__ == f"dbshift.dialects.{backend.name}"
