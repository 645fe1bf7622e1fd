"""Autogenerate benchmarks: dbshift's diff, introspection and `make` against Alembic.

    .venv/bin/python bench/autogen.py [--quick] [--runs N] [--backends sqlite,postgresql,mariadb]
        [--only diff,introspect,make] [--profile]

1. Compare a 300-table model with a database at head and with an empty database:
   `dbshift.diff(Config(...))` against Alembic's `compare_metadata`, on every backend.
2. Introspect a 1,000-table PostgreSQL schema: `dbshift.schema.introspect.introspect(conn)`.
3. `dbshift make` with no database: 500 Python migrations replayed in memory.

Each measurement is one fresh process (the peers from their own virtualenv, as in
run.py); the timed part is measured inside it, after the imports. Writes the
"Autogenerate" section of bench/RESULTS.md and leaves the rest of the file alone.
Parts of dbshift that do not exist yet are reported as "n/a" instead of failing.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any

import run as shared  # bench/run.py: databases, servers, peers, environment
import sqlalchemy as sa

HERE = shared.HERE
PYTHON = shared.PYTHON
DBSHIFT = shared.DBSHIFT
PEERS_PY = shared.PEERS_PY
BenchError = shared.BenchError

BACKENDS = shared.BACKENDS
CASES = ("at head", "empty")
#: "alembic ops" is `produce_migrations`, what `alembic revision --autogenerate` runs:
#: compare_metadata produces the same operations, then converts them into diff tuples
TOOLS = ("dbshift", "alembic", "alembic ops")
DIFF_TABLES = 300
INTROSPECT_TABLES = 1000
MAKE_MIGRATIONS = 500
#: Alembic / dbshift, at least
#: issue 14: at least 10x on every backend
DIFF_TARGETS = {"sqlite": 10.0, "postgresql": 10.0, "mariadb": 10.0}
INTROSPECT_TARGET = 1.0  # seconds
MAKE_TARGET = 1.0  # seconds
SECTION = "## Autogenerate"

ENV: dict[str, str] = {}


# -- generated models -------------------------------------------------------------------

MODELS_HEADER = '''\
"""{count} generated tables for bench/autogen.py."""

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, mapped_column


class Base(DeclarativeBase):
    pass
'''


def wide_table(n: int) -> str:
    """Table t<n>: 8 columns of mixed types, 2 indexes, a unique constraint and a
    nullable foreign key to the previous table (t0 points at itself)."""
    previous = max(n - 1, 0)
    return f"""

class T{n}(Base):
    __tablename__ = "t{n}"
    __table_args__ = (
        sa.Index("ix_t{n}_name", "name"),
        sa.Index("ix_t{n}_prev_created", "prev_id", "created_at"),
        sa.UniqueConstraint("name", "price", name="uq_t{n}_name_price"),
    )

    id = mapped_column(sa.Integer, primary_key=True)
    name = mapped_column(sa.String(100), nullable=False)
    body = mapped_column(sa.Text, nullable=True)
    active = mapped_column(sa.Boolean, nullable=False)
    created_at = mapped_column(sa.DateTime, nullable=False)
    price = mapped_column(sa.Numeric(10, 2), nullable=True)
    score = mapped_column(sa.Float, nullable=True)
    prev_id = mapped_column(
        sa.Integer, sa.ForeignKey("t{previous}.id", name="fk_t{n}_prev"), nullable=True
    )
"""


def narrow_table(n: int) -> str:
    """Table t<n> exactly as run.py's migration number n creates it."""
    fk = f'\n    prev_id = mapped_column(sa.Integer, sa.ForeignKey("t{n - 1}.id"), nullable=True)'
    return f"""

class T{n}(Base):
    __tablename__ = "t{n}"
    __table_args__ = (sa.Index("ix_t{n}_name", "name"),)

    id = mapped_column(sa.Integer, primary_key=True){fk if n else ""}
    name = mapped_column(sa.String(50), nullable=True)
"""


def narrow_core_table(n: int) -> str:
    """The same table as a Core `sa.Table`: no ORM class to build at import."""
    fk = f'\n    sa.Column("prev_id", sa.Integer, sa.ForeignKey("t{n - 1}.id")),' if n else ""
    return f"""
t{n} = sa.Table(
    "t{n}",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),{fk}
    sa.Column("name", sa.String(50)),
    sa.Index("ix_t{n}_name", "name"),
)
"""


CORE_HEADER = '''\
"""{count} generated tables for bench/autogen.py, as Core tables."""

import sqlalchemy as sa

metadata = sa.MetaData()
'''


def write_models(folder: Path, module: str, count: int, shape: str = "wide") -> Path:
    """Write `<module>.py`: `count` tables of a shape, "wide" (benchmarks 1 and 2),
    "narrow" (run.py's migrations, declarative) or "narrow core" (the same, Core tables)."""
    header, table = {
        "wide": (MODELS_HEADER, wide_table),
        "narrow": (MODELS_HEADER, narrow_table),
        "narrow core": (CORE_HEADER, narrow_core_table),
    }[shape]
    source = header.format(count=count) + "".join(table(n) for n in range(count))
    path = folder / f"{module}.py"
    path.write_text(source)
    return path


def load_metadata(folder: Path, module: str) -> sa.MetaData:
    """The metadata of a generated module, imported in this process (for create_all)."""
    sys.path.insert(0, str(folder))
    try:
        loaded = __import__(module)
    finally:
        sys.path.remove(str(folder))
    metadata: sa.MetaData = loaded.Base.metadata
    return metadata


def create_all(url: str, metadata: sa.MetaData, batch: int = 50) -> None:
    """`metadata.create_all`, one transaction per `batch` tables: one transaction creating
    1,000 tables can exhaust PostgreSQL's lock table (max_locks_per_transaction)."""
    engine = sa.create_engine(url, poolclass=sa.NullPool)
    tables = metadata.sorted_tables
    try:
        for start in range(0, len(tables), batch):
            metadata.create_all(engine, tables=tables[start : start + batch], checkfirst=False)
    finally:
        engine.dispose()


# -- measured processes -----------------------------------------------------------------

# One comparison, in a fresh process of either virtualenv. Timed: engine creation,
# connecting, reading the database and comparing. Not timed: starting Python, importing
# SQLAlchemy, the tool and the models module. dbshift.diff opens its own connection, so
# Alembic's timed part opens one too.
DIFF_SCRIPT = """\
import importlib, json, re, sys, time
tool, url, folder, module = sys.argv[1:5]
sys.path.insert(0, folder)
import sqlalchemy as sa
metadata = importlib.import_module(module).Base.metadata
# The database driver is an import too: loaded here for both tools, not timed.
sa.make_url(url).get_dialect().import_dbapi()

if tool.startswith("alembic"):
    from alembic.autogenerate import compare_metadata, produce_migrations
    from alembic.migration import MigrationContext

    def compare():
        engine = sa.create_engine(url)
        with engine.connect() as conn:
            context = MigrationContext.configure(conn)
            if tool == "alembic":
                diffs = compare_metadata(context, metadata)
            else:
                diffs = produce_migrations(context, metadata).upgrade_ops.ops
        engine.dispose()
        return diffs
else:
    import dbshift
    # imports dbshift defers are still "after imports", the backend's own modules too
    # (Alembic's `alembic.autogenerate` imports every backend's implementation)
    backend = sa.make_url(url).get_backend_name()
    package = "mysql" if backend == "mariadb" else backend
    backend_modules = [f"dbshift.dialects.{package}.{m}" for m in ("introspect", "normalize", "connect")]
    for lazy in ("dbshift.autogen", "dbshift.schema.introspect", "dbshift.schema.models", *backend_modules):
        try:
            importlib.import_module(lazy)
        except ImportError:
            pass
    config = dbshift.Config(url=url, models=[module + ":Base"])

    def compare():
        return dbshift.diff(config)

profile = None
if len(sys.argv) > 5 and sys.argv[5] == "profile":  # --profile: where the timed part goes
    import cProfile
    profile = cProfile.Profile()
    profile.enable()
started = time.perf_counter()
result = compare()
elapsed = time.perf_counter() - started
if profile is not None:
    import pstats
    profile.disable()
    pstats.Stats(profile, stream=sys.stderr).sort_stats("cumulative").print_stats(40)
    pstats.Stats(profile, stream=sys.stderr).sort_stats("cumulative").print_stats("<module>")

SCHEMA_TYPES = (sa.Table, sa.Column, sa.Index, sa.Constraint)

def describe(item):
    if isinstance(item, list):
        return "; ".join(describe(i) for i in item)
    if not isinstance(item, tuple):  # a dbshift operation
        return type(item).__name__ + ": " + str(item)
    parts = []
    for part in item:
        if isinstance(part, SCHEMA_TYPES):
            parts.append(f"{type(part).__name__}({getattr(part, 'name', '')})")
        elif isinstance(part, dict):
            parts.append("{" + ", ".join(f"{k}: {v!r}" for k, v in part.items()) + "}")
        else:
            parts.append(repr(part))
    return "(" + ", ".join(parts) + ")"

def kind(item):
    while isinstance(item, (list, tuple)) and item:
        item = item[0]
    return item if isinstance(item, str) else type(item).__name__

print(json.dumps({
    "seconds": elapsed,
    "kinds": {k: sum(1 for r in result if kind(r) == k) for k in {kind(r) for r in result}},
    "items": [describe(r)[:300] for r in result],
}))
"""

# Introspection of every table, on a connection opened (and initialised) before timing.
# The reference is SQLAlchemy's own bulk reflection, `MetaData.reflect`.
INTROSPECT_SCRIPT = """\
import json, sys, time
tool, url = sys.argv[1:3]
import sqlalchemy as sa
if tool == "dbshift":
    from dbshift.schema.introspect import introspect
    def read(conn):
        return len(introspect(conn).tables)
else:
    def read(conn):
        metadata = sa.MetaData()
        metadata.reflect(conn)
        return len(metadata.tables)
engine = sa.create_engine(url)
with engine.connect() as conn:
    conn.exec_driver_sql("SELECT 1")
    started = time.perf_counter()
    tables = read(conn)
    elapsed = time.perf_counter() - started
print(json.dumps({"seconds": elapsed, "tables": tables}))
"""


def child(cmd: Sequence[str], what: str, cwd: Path | None = None) -> dict[str, Any]:
    """Run a measuring process; the JSON object it printed last."""
    done = subprocess.run(list(cmd), cwd=cwd, env=ENV, capture_output=True, text=True)
    if done.returncode:
        output = (done.stderr.strip() or done.stdout.strip())[-3000:]
        raise BenchError(f"{what} failed (exit {done.returncode}):\n{output}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def python_of(tool: str) -> str:
    return PEERS_PY if tool.startswith("alembic") else PYTHON


def dbshift_has(attribute: str) -> bool:
    """Whether the dbshift being measured has `module:attribute` yet (others write it now)."""
    module, _, name = attribute.partition(":")
    code = f"import {module}; {module}.{name}"
    return subprocess.run([PYTHON, "-c", code], env=ENV, capture_output=True).returncode == 0


# -- benchmark 1: diff against a database -------------------------------------------------


@dataclasses.dataclass
class DiffResult:
    """Medians per (case, tool), and what each tool reported (from the first run)."""

    seconds: dict[tuple[str, str], float] = dataclasses.field(default_factory=dict)
    kinds: dict[tuple[str, str], dict[str, int]] = dataclasses.field(default_factory=dict)
    items: dict[tuple[str, str], list[str]] = dataclasses.field(default_factory=dict)


def diff_benchmark(
    backend: str, root: Path, metadata: sa.MetaData, runs: int, tools: Sequence[str]
) -> DiffResult:
    """Every tool on a database at head and on an empty one; `root` holds the models
    module (and the SQLite files)."""
    result = DiffResult()
    for case in CASES:
        with shared.database(backend, root) as url:
            if case == "at head":
                create_all(url, metadata)
            times: dict[str, list[float]] = {tool: [] for tool in tools}
            for round_ in range(runs):
                order = list(tools[round_ % len(tools) :]) + list(tools[: round_ % len(tools)])
                for tool in order:
                    cmd = [
                        python_of(tool),
                        "-c",
                        DIFF_SCRIPT,
                        tool,
                        url,
                        str(root),
                        "benchmodels",
                    ]
                    out = child(cmd, f"{tool} diff ({backend}, {case})", cwd=root)
                    times[tool].append(out["seconds"])
                    result.kinds.setdefault((case, tool), out["kinds"])
                    result.items.setdefault((case, tool), out["items"])
            for tool in tools:
                result.seconds[(case, tool)] = statistics.median(times[tool])
                found = ", ".join(f"{k} {v}" for k, v in sorted(result.kinds[(case, tool)].items()))
                print(
                    f"  {backend}, {case}, {tool}: {result.seconds[(case, tool)]:.3f} s "
                    f"({found or 'no changes'})",
                    flush=True,
                )
    return result


def profile_diffs(root: Path, backends: Sequence[str]) -> None:
    """`--profile`: one profiled dbshift diff of a database at head per backend, its
    cProfile table printed (the timed part only: engine, connection, reading, comparing)."""
    write_models(root, "benchmodels", DIFF_TABLES)
    metadata = load_metadata(root, "benchmodels")
    for backend in backends:
        with shared.database(backend, root) as url:
            create_all(url, metadata)
            cmd = [PYTHON, "-c", DIFF_SCRIPT, "dbshift", url, str(root), "benchmodels", "profile"]
            done = subprocess.run(cmd, cwd=root, env=ENV, capture_output=True, text=True)
            if done.returncode:
                raise BenchError(f"profiled diff on {backend} failed:\n{done.stderr[-3000:]}")
            seconds = json.loads(done.stdout.strip().splitlines()[-1])["seconds"]
            print(f"== {backend}, at head: {seconds * 1000:.0f} ms under cProfile", flush=True)
            print(done.stderr, flush=True)


def patterns(items: Sequence[str]) -> list[tuple[str, int]]:
    """Reported items with table numbers folded (t12 -> t<N>), most frequent first."""
    folded = Counter(re.sub(r"(?<![A-Za-z0-9])t\d+(?=\b|_)", "t<N>", item) for item in items)
    folded = Counter({re.sub(r"_t\d+_", "_t<N>_", k): v for k, v in folded.items()})
    return folded.most_common()


# -- benchmark 2: introspection -------------------------------------------------------------


def introspect_benchmark(root: Path, runs: int, tools: Sequence[str]) -> dict[str, float]:
    """Medians of reading every table of a 1,000-table PostgreSQL database."""
    metadata = load_metadata(root, "benchmodels_1000")
    times: dict[str, list[float]] = {tool: [] for tool in tools}
    with shared.database("postgresql", root) as url:
        print(f"  creating {INTROSPECT_TABLES} tables ...", flush=True)
        create_all(url, metadata)
        for round_ in range(runs):
            for tool in list(tools[round_ % len(tools) :]) + list(tools[: round_ % len(tools)]):
                out = child([PYTHON, "-c", INTROSPECT_SCRIPT, tool, url], f"{tool} introspection")
                if out["tables"] < INTROSPECT_TABLES:
                    raise BenchError(
                        f"{tool} found {out['tables']} tables, not {INTROSPECT_TABLES}"
                    )
                times[tool].append(out["seconds"])
    medians = {tool: statistics.median(t) for tool, t in times.items()}
    print("  " + ", ".join(f"{k} {v:.3f} s" for k, v in medians.items()), flush=True)
    return medians


# -- benchmark 3: make with no database -----------------------------------------------------


#: `make`'s models, as ORM users and Core users write them: (module, attribute, shape)
MAKE_MODELS = {
    "declarative": ("makemodels", "Base", "narrow"),
    "core": ("coremodels", "metadata", "narrow core"),
}


def make_project(root: Path, variant: str) -> Path:
    """500 migrations (run.py's), models equal to their result plus table t500, and a
    dbshift.toml whose URL names an SQLite file that does not exist."""
    module, attribute, shape = MAKE_MODELS[variant]
    project = root / f"make_{variant}"
    project.mkdir()
    shared.dbshift_project(project / "migrations", MAKE_MIGRATIONS)
    write_models(project, module, MAKE_MIGRATIONS + 1, shape)
    (project / "dbshift.toml").write_text(
        f'url = "sqlite:///{project / "missing.db"}"\n'
        'migrations = "migrations"\n'
        f'models = ["{module}:{attribute}"]\n'
    )
    return project


def project_files(folder: Path) -> list[Path]:
    """The files of a project, less dbshift's caches (`__pycache__`), which stay warm."""
    return [p for p in folder.rglob("*") if p.is_file() and "__pycache__" not in p.parts]


@contextmanager
def restored(folder: Path) -> Iterator[None]:
    """Put the folder's files back as they were (make writes a migration, maybe more)."""
    before = {p: p.read_bytes() for p in project_files(folder)}
    try:
        yield
    finally:
        for path in [p for p in project_files(folder) if p not in before]:
            path.unlink()
        for path, content in before.items():
            if not path.exists() or path.read_bytes() != content:
                path.write_bytes(content)


def make_once(project: Path, cold: bool = False) -> float:
    """One timed `dbshift make`; checks it wrote t500 only and never touched the database.
    `cold`: without dbshift's replay cache, so every migration is imported and replayed."""
    migrations = project / "migrations"
    if cold:
        for cache in (migrations / "__pycache__").glob("dbshift-replay-*"):
            cache.unlink()
    with restored(project):  # the next run starts from the same 500 files
        before = set(migrations.glob("*.py"))
        started = time.perf_counter()
        done = subprocess.run(
            [DBSHIFT, "make", "-m", "bench", "--no-input"],
            cwd=project,
            env=ENV,
            capture_output=True,
            text=True,
        )
        elapsed = time.perf_counter() - started
        if done.returncode:
            output = (done.stderr.strip() or done.stdout.strip())[-3000:]
            raise BenchError(f"dbshift make failed (exit {done.returncode}):\n{output}")
        new = [p for p in migrations.glob("*.py") if p not in before]
        if len(new) != 1 or '"t500"' not in new[0].read_text():
            raise BenchError(f"dbshift make: expected one migration creating t500, got {new}")
        if '"t499"' in new[0].read_text():
            raise BenchError("dbshift make: the new migration also touches t499")
        if (project / "missing.db").exists():
            raise BenchError("dbshift make created the database file: it must not need one")
    return elapsed


def make_floor(project: Path, module: str) -> float:
    """`python -c 'import sqlalchemy, <models>'` in the project: what no tool can avoid."""
    started = time.perf_counter()
    subprocess.run([PYTHON, "-c", f"import sqlalchemy, {module}"], cwd=project, env=ENV, check=True)
    return time.perf_counter() - started


def make_benchmark(root: Path, runs: int, available: bool) -> dict[str, float]:
    """Medians of the floor and `dbshift make`, per kind of models module."""
    projects = {variant: make_project(root, variant) for variant in MAKE_MODELS}
    time.sleep(shared.HEADER_CACHE_WINDOW)  # files older than dbshift's header-cache window
    measures: dict[str, Callable[[], float]] = {}
    for variant, project in projects.items():
        module = MAKE_MODELS[variant][0]
        measures[f"floor, {variant}"] = partial(make_floor, project, module)
        if available:
            measures[f"make, {variant}"] = partial(make_once, project)
            measures[f"make, {variant}, cold"] = partial(make_once, project, cold=True)
    for measure in measures.values():
        measure()  # warm-up: compiles the modules, writes dbshift's header cache
    times: dict[str, list[float]] = {key: [] for key in measures}
    keys = list(measures)
    for round_ in range(runs):
        for key in keys[round_ % len(keys) :] + keys[: round_ % len(keys)]:
            times[key].append(measures[key]())
    medians = {key: statistics.median(t) for key, t in times.items()}
    print("  " + ", ".join(f"{k} {v:.3f} s" for k, v in medians.items()), flush=True)
    return medians


# -- report -----------------------------------------------------------------------------------


def seconds(value: float | None) -> str:
    return "n/a" if value is None else shared.seconds(value)


def verdict(ok: bool) -> str:
    return shared.verdict(ok)


def ratio(theirs: float, ours: float | None) -> str:
    return "n/a" if ours is None else f"{theirs / ours:.1f}x"


def operations(kinds: dict[str, int] | None) -> str:
    if kinds is None:
        return "n/a"
    return ", ".join(f"{v} {k}" for k, v in sorted(kinds.items())) or "none"


def diff_section(diffs: dict[str, DiffResult], runs: int) -> list[str]:
    lines = [
        f"### 1. Compare a {DIFF_TABLES}-table model with a database",
        "",
        f"Each table has 8 columns (Integer primary key, String(100), Text, Boolean, DateTime, "
        "Numeric(10,2), Float, and a nullable Integer foreign key to the previous table), 2 "
        "indexes and a unique constraint. *at head*: the database made by "
        "`metadata.create_all`, so nothing should be reported; *empty*: a new database. "
        "`dbshift.diff(Config(url=..., models=['benchmodels:Base']))` against Alembic's "
        "`compare_metadata(MigrationContext.configure(conn), metadata)`. Each measurement is "
        "one fresh process; timed inside it: creating the engine, connecting, reading the "
        "database and comparing (not Python's start, the imports, the database driver's "
        "included, which both tools would otherwise load inside `create_engine`, or the "
        f"models module's import). Medians of {runs}; the ratio is Alembic / dbshift. Alembic runs with its "
        "defaults (types compared, server defaults not). `compare_metadata` builds Alembic's "
        "operations and then converts them into diff tuples, copying SQLAlchemy objects; "
        "*alembic ops* is `produce_migrations(context, metadata)`, the operations alone, "
        "which is what `alembic revision --autogenerate` computes (context, not a target).",
        "",
        "| backend | database | dbshift | alembic | alembic / dbshift | target | alembic ops | alembic ops / dbshift | reported: dbshift | reported: alembic |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for backend, r in diffs.items():
        for case in CASES:
            ours = r.seconds.get((case, "dbshift"))
            theirs, ops = r.seconds[(case, "alembic")], r.seconds[(case, "alembic ops")]
            lines.append(
                f"| {backend} | {case} | {seconds(ours)} | {seconds(theirs)} | "
                f"{ratio(theirs, ours)} | ≥ {DIFF_TARGETS[backend]:.0f}x | {seconds(ops)} | "
                f"{ratio(ops, ours)} | {operations(r.kinds.get((case, 'dbshift')))} | "
                f"{operations(r.kinds[(case, 'alembic')])} |"
            )
    false = [
        (b, r.items[("at head", t)], t)
        for b, r in diffs.items()
        for t in TOOLS
        if r.items.get(("at head", t))
    ]
    if not false:
        lines += ["", "Nothing was reported on the database at head (no false positives)."]
    else:
        lines += [
            "",
            "What the tools reported on the database at head (all false positives; table "
            "numbers folded into t<N>):",
            "",
        ]
        for backend, items, tool in false:
            lines.append(f"- {tool} on {backend}, {len(items)} in all:")
            lines += [f"  - {count}x `{item}`" for item, count in patterns(items)[:15]]
    return lines


def introspect_section(result: dict[str, float], runs: int) -> list[str]:
    ours = result.get("dbshift")
    return [
        f"### 2. Introspect a {INTROSPECT_TABLES:,}-table PostgreSQL schema",
        "",
        "Same table shape. `dbshift.schema.introspect.introspect(conn)` against SQLAlchemy's "
        "own bulk reflection, `MetaData().reflect(conn)` (context, not a target), on a "
        f"connection opened before timing; one fresh process per measurement, medians of {runs}.",
        "",
        "| dbshift introspect | SQLAlchemy MetaData.reflect | target |",
        "|---|---|---|",
        f"| {seconds(ours)} | {seconds(result['sqlalchemy'])} | < {INTROSPECT_TARGET:.0f} s |",
    ]


def make_section(result: dict[str, float], runs: int) -> list[str]:
    lines = [
        "### 3. `dbshift make` with no database",
        "",
        f"{MAKE_MIGRATIONS} Python migrations (run.py's: each creates a table with a foreign "
        "key to the previous one and an index) and a models module equal to their result "
        f"plus one table; `dbshift make -m bench --no-input` with a `url` naming an SQLite "
        "file that does not exist, timed as a whole process (the migrations compiled and "
        "dbshift's header cache written by a warm-up run). The check: exactly one new "
        f"migration, creating t{MAKE_MIGRATIONS}, and no database file. The models module comes "
        f"in two forms: *declarative* ({MAKE_MIGRATIONS + 1} ORM classes on a `DeclarativeBase`) "
        "and *core* (the same tables as `sa.Table` on a `MetaData`). *floor*: `python -c "
        "'import sqlalchemy, <models module>'`, the part no tool can avoid. "
        f"Medians of {runs}.",
        "",
        "*cold*: the replay cache (`migrations/__pycache__/dbshift-replay-*.pickle`, written "
        "by the previous `make`) deleted first, so all 500 migrations are imported and "
        "replayed; the plain column is the everyday case, where only new migrations are.",
        "",
        "| models | floor | dbshift make | above the floor | make, cold | above the floor | target |",
        "|---|---|---|---|---|---|---|",
    ]
    for variant in MAKE_MODELS:
        floor, ours = result[f"floor, {variant}"], result.get(f"make, {variant}")
        cold = result.get(f"make, {variant}, cold")
        above = seconds(None if ours is None else ours - floor)
        above_cold = seconds(None if cold is None else cold - floor)
        lines.append(
            f"| {variant} | {seconds(floor)} | {seconds(ours)} | {above} | {seconds(cold)} "
            f"| {above_cold} | < {MAKE_TARGET:.0f} s |"
        )
    return lines


def conclusions(
    diffs: dict[str, DiffResult], introspect: dict[str, float] | None, make: dict[str, float] | None
) -> list[str]:
    out = []
    for backend, r in diffs.items():
        for case in CASES:
            ours = r.seconds.get((case, "dbshift"))
            if ours is None:
                out.append(f"- Diff on {backend}, {case}: dbshift.diff does not exist yet.")
                continue
            speedup = r.seconds[(case, "alembic")] / ours
            target = DIFF_TARGETS[backend]
            out.append(
                f"- Diff on {backend}, {case}: dbshift {speedup:.1f}x faster than Alembic's "
                f"`compare_metadata`, target {target:.0f}x {verdict(round(speedup, 1) >= target)} "
                f"({ratio(r.seconds[(case, 'alembic ops')], ours)} against `produce_migrations`)."
            )
            if case == "at head" and r.kinds.get((case, "dbshift")):
                out.append(
                    f"  **dbshift reports changes on a database at head** ({operations(r.kinds[(case, 'dbshift')])})."
                )
    if introspect is not None:
        ours = introspect.get("dbshift")
        out.append(
            f"- Introspection of {INTROSPECT_TABLES:,} tables: "
            + (
                "dbshift.schema.introspect does not exist yet."
                if ours is None
                else f"{seconds(ours)}, target < {INTROSPECT_TARGET:.0f} s "
                f"{verdict(ours < INTROSPECT_TARGET)}."
            )
        )
    for variant in MAKE_MODELS if make is not None else ():
        assert make is not None
        floor, ours = make[f"floor, {variant}"], make.get(f"make, {variant}")
        text = f"- `make` with {MAKE_MIGRATIONS} migrations and no database, {variant} models: "
        if ours is None:
            text += "the command does not exist yet."
        else:
            text += (
                f"{seconds(ours)} ({seconds(ours - floor)} above the floor), "
                f"target < {MAKE_TARGET:.0f} s {verdict(ours < MAKE_TARGET)}."
            )
        if floor >= MAKE_TARGET:
            text += (
                f" Importing SQLAlchemy and this models module alone takes {seconds(floor)}: "
                "no tool can meet the target with it."
            )
        out.append(text)
    return out


def section(
    args: argparse.Namespace,
    env_lines: list[str],
    diffs: dict[str, DiffResult],
    introspect: dict[str, float] | None,
    make: dict[str, float] | None,
    runs: int,
    elapsed: float,
) -> str:
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    command = "bench/autogen.py" + (" --quick" if args.quick else "")
    lines = [
        SECTION,
        "",
        f"<!-- Generated by {command}; re-running it replaces this section only. -->",
        "",
        f"Generated by `.venv/bin/python {command}` on {now}, in {elapsed / 60:.1f} minutes, "
        "on the machine below (2 shared, noisy cores: read the ratios, not the absolute "
        "seconds). Every ratio compares medians measured in this same run.",
        "",
        *env_lines,
        "- load average (1, 5, 15 min) when the run ended: "
        + ", ".join(f"{load:.2f}" for load in os.getloadavg())
        + (" (above 2: other work shared the 2 cores)" if os.getloadavg()[0] > 2 else ""),
        "",
    ]
    if diffs:
        lines += [*diff_section(diffs, runs), ""]
    if introspect is not None:
        lines += [*introspect_section(introspect, runs), ""]
    if make is not None:
        lines += [*make_section(make, runs), ""]
    lines += ["### What this means", "", *conclusions(diffs, introspect, make)]
    if args.quick:
        lines += ["", f"_Quick mode: medians of {runs}; rerun without `--quick` for 5._"]
    return "\n".join(lines) + "\n"


def write_section(path: Path, text: str, section: str = SECTION) -> None:
    """Replace `section` of RESULTS.md (up to the next `## `), or append it; bench/run.py
    keeps every section from the Autogenerate one on when it rewrites the file."""
    old = path.read_text() if path.exists() else "# dbshift benchmark results\n"
    lines = old.splitlines(keepends=True)
    start = next((i for i, line in enumerate(lines) if line.rstrip() == section), None)
    if start is None:
        path.write_text(old.rstrip("\n") + "\n\n" + text)
        return
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
    rest = "".join(lines[end:])
    path.write_text("".join(lines[:start]) + text + ("\n" + rest if rest else ""))


# -- main -------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="medians of 3 instead of 5")
    parser.add_argument(
        "--backends",
        default=",".join(BACKENDS),
        help="comma-separated subset of sqlite,postgresql,mariadb (introspection: PostgreSQL)",
    )
    parser.add_argument("--runs", type=int, help="runs per measurement (default 5, --quick 3)")
    parser.add_argument(
        "--only", default="diff,introspect,make", help="comma-separated subset of the benchmarks"
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="print cProfile's view of dbshift's timed diff (at head) on each backend, "
        "and stop; writes nothing",
    )
    parser.add_argument("--output", type=Path, default=HERE / "RESULTS.md")
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    args = parser.parse_args()
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    if set(backends) - set(BACKENDS) or not backends:
        parser.error(f"--backends: choose among {', '.join(BACKENDS)}")
    only = {b.strip() for b in args.only.split(",") if b.strip()}
    if only - {"diff", "introspect", "make"} or not only:
        parser.error("--only: choose among diff, introspect, make")
    runs = args.runs or (3 if args.quick else 5)
    if not Path(DBSHIFT).exists():
        raise BenchError(f"no dbshift next to {PYTHON}: run this with dbshift's .venv/bin/python")
    signal.signal(signal.SIGTERM, shared.on_sigterm)
    started = time.perf_counter()

    servers = {backend: shared.check_server(backend, backends) for backend in backends}
    shared.ensure_peers()
    env_lines = shared.environment(servers)
    print("\n".join(env_lines), flush=True)

    root = Path(tempfile.mkdtemp(prefix="dbshift_autogen_"))
    try:
        ENV.update(shared.child_env(root / "pycache"))
        shared.ENV.update(ENV)
        has_diff = dbshift_has("dbshift:diff")
        has_introspect = dbshift_has("dbshift.schema.introspect:introspect")
        has_make = (
            subprocess.run([DBSHIFT, "make", "--help"], env=ENV, capture_output=True).returncode
            == 0
        )
        missing = [
            name
            for name, present in (
                ("dbshift.diff", has_diff),
                ("introspect", has_introspect),
                ("make", has_make),
            )
            if not present
        ]
        if missing:
            print(f"not in dbshift yet, reported as n/a: {', '.join(missing)}", flush=True)

        if args.profile:
            profile_diffs(root, backends)
            return 0
        diffs: dict[str, DiffResult] = {}
        if "diff" in only:
            write_models(root, "benchmodels", DIFF_TABLES)
            metadata = load_metadata(root, "benchmodels")
            diff_tools = TOOLS if has_diff else TOOLS[1:]
            for backend in backends:
                print(f"diff of {DIFF_TABLES} tables on {backend}, {runs} run(s) ...", flush=True)
                diffs[backend] = diff_benchmark(backend, root, metadata, runs, diff_tools)

        introspect = None
        if "introspect" in only and "postgresql" in backends:
            print(f"introspect {INTROSPECT_TABLES} tables on postgresql ...", flush=True)
            write_models(root, "benchmodels_1000", INTROSPECT_TABLES)
            readers = ("dbshift", "sqlalchemy") if has_introspect else ("sqlalchemy",)
            introspect = introspect_benchmark(root, runs, readers)

        make = None
        if "make" in only:
            print(f"make with {MAKE_MIGRATIONS} migrations, no database ...", flush=True)
            make = make_benchmark(root, runs, has_make)

        text = section(
            args, env_lines, diffs, introspect, make, runs, time.perf_counter() - started
        )
        write_section(args.output, text)
        print("\n" + text)
        print(f"wrote the {SECTION.removeprefix('## ')} section of {args.output}")
    finally:
        if args.keep:
            print(f"work folder kept: {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except shared.BenchError as error:
        sys.exit(f"bench: {error}")
    except KeyboardInterrupt:
        sys.exit("bench: interrupted (databases dropped)")
