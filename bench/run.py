"""dbshift benchmarks against the physical limit, Alembic and yoyo; writes bench/RESULTS.md.

    .venv/bin/python bench/run.py [--quick] [--backends sqlite,postgresql,mariadb] [--profile]
        [--only apply,status,check,counts] [--count N] [--output FILE]   (see --help)

Every tool runs as a whole process (what a deployment runs), on a freshly created
database, in one run of this script, so ratios compare like with like on a noisy
machine. The peers (Alembic, yoyo-migrations) run from their own virtualenv (default
/tmp/peers, created when missing); they are never dependencies of dbshift. Nothing here
belongs in the test suite.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import hashlib
import importlib.metadata
import json
import os
import platform
import resource
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path
from types import FrameType
from typing import Any

import roundtrips  # bench/roundtrips.py: the counting proxy and the SQLite tracer
import sqlalchemy as sa

from dbshift.migrations import sumfile
from dbshift.migrations.scripts import scan

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
PYTHON = sys.executable
DBSHIFT = str(Path(PYTHON).parent / "dbshift")
PEERS = Path(os.environ.get("DBSHIFT_BENCH_PEERS", "/tmp/peers"))
PEERS_PY = str(PEERS / "bin" / "python")
ALEMBIC = [PEERS_PY, "-m", "alembic"]
YOYO = [PEERS_PY, "-m", "yoyo"]
ADMIN_URLS = {
    "postgresql": os.environ.get(
        "DBSHIFT_BENCH_POSTGRESQL_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
    ),
    "mariadb": os.environ.get("DBSHIFT_BENCH_MARIADB_URL", "mysql+pymysql://root@127.0.0.1:3306/"),
}
BACKENDS = ("sqlite", "postgresql", "mariadb")
#: status / no-op upgrade are measured where the brief asks for them
STATUS_BACKENDS = ("sqlite", "postgresql")
APPLY_TOOLS = ("raw", "dbshift", "alembic", "yoyo")
#: what --only chooses among
PARTS = ("apply", "status", "check", "counts")
#: a second `dbshift upgrade` of the same folder into a fresh database (`reapply_once`)
REAPPLY = "dbshift re-apply"
APPLY_TARGET = 1.15
#: ms per migration above the SQLAlchemy bound (issue 14)
ABOVE_BOUND_TARGET = 0.3
STATUS_TARGET = 1.5
#: dbshift's migration-header cache re-reads files changed within 2 s of its writing
HEADER_CACHE_WINDOW = 2.2


class BenchError(Exception):
    """A clear, expected failure: printed without a traceback."""


# -- environment ---------------------------------------------------------------------


def child_env(pycache: Path) -> dict[str, str]:
    """The environment of every measured process.

    Bytecode goes to one private prefix, for every tool alike: an installed package has
    its .pyc files, and this machine sets PYTHONDONTWRITEBYTECODE=1, which would make the
    editable dbshift (and nothing else) recompile itself at every start. Migration files
    are compiled on their first run, as in a real deployment; the warm-up runs compile the
    tools themselves.
    """
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = str(pycache)
    env.pop("DBSHIFT_ENV", None)
    env.pop("PYTHONPROFILEIMPORTTIME", None)
    return env


ENV: dict[str, str] = {}


@dataclasses.dataclass(frozen=True)
class Timing:
    """One process: wall time and the CPU time it used (user + system), in seconds."""

    wall: float
    cpu: float


def run(
    cmd: Sequence[str], cwd: Path | None = None, what: str = "", env: dict[str, str] | None = None
) -> float:
    """Run one process to completion; its wall time in seconds. Fails loudly."""
    return run_timed(cmd, cwd, what, env).wall


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_timed(
    cmd: Sequence[str], cwd: Path | None = None, what: str = "", env: dict[str, str] | None = None
) -> Timing:
    """`run`, with the CPU time of the process (this script runs one at a time, so the
    growth of its waited-for children's total is that process's own)."""
    cpu_before = _children_cpu()
    started = time.perf_counter()
    proc = subprocess.Popen(
        list(cmd),
        cwd=cwd,
        env=ENV if env is None else env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        stdout, stderr = proc.communicate()
    except BaseException:  # interrupted: stop the child before its database is dropped
        proc.kill()
        proc.wait()
        raise
    elapsed = time.perf_counter() - started
    cpu = _children_cpu() - cpu_before
    if proc.returncode:
        output = (stderr.strip() or stdout.strip())[-3000:]
        raise BenchError(
            f"{what or 'benchmark command'} failed (exit {proc.returncode}):\n"
            f"  {' '.join(cmd)[:300]}\n{output}"
        )
    return Timing(elapsed, cpu)


def ensure_peers() -> None:
    check = [PEERS_PY, "-c", "import alembic, yoyo, psycopg, pymysql"]
    if Path(PEERS_PY).exists() and subprocess.run(check, capture_output=True).returncode == 0:
        return
    print(f"installing the peers into {PEERS} ...", flush=True)
    if not Path(PEERS_PY).exists():
        subprocess.run(["python3", "-m", "venv", str(PEERS)], check=True)
    packages = ["alembic", "yoyo-migrations", "psycopg[binary]", "pymysql"]
    done = subprocess.run([str(PEERS / "bin" / "pip"), "install", "-q", *packages])
    if done.returncode or subprocess.run(check, capture_output=True).returncode:
        raise BenchError(f"could not install the peers ({', '.join(packages)}) into {PEERS}")


# -- databases -----------------------------------------------------------------------


def admin_engine(backend: str) -> sa.Engine:
    args = {"connect_timeout": 5}
    return sa.create_engine(
        ADMIN_URLS[backend], isolation_level="AUTOCOMMIT", poolclass=sa.NullPool, connect_args=args
    )


def check_server(backend: str, requested: Sequence[str]) -> str:
    """The server's version, or a clear error when it cannot be reached."""
    if backend == "sqlite":
        return f"SQLite {sqlite3.sqlite_version}"
    try:
        with admin_engine(backend).connect() as conn:
            version = str(conn.exec_driver_sql("SELECT VERSION()").scalar())
    except sa.exc.SQLAlchemyError as error:
        url = sa.make_url(ADMIN_URLS[backend]).render_as_string(hide_password=True)
        others = ",".join(b for b in requested if b != backend) or "sqlite"
        raise BenchError(
            f"{backend} is not reachable at {url}: {str(getattr(error, 'orig', None) or error).strip()}\n"
            f"Start it, point DBSHIFT_BENCH_{backend.upper()}_URL at a server, or leave it "
            f"out with --backends {others}."
        ) from None
    if backend == "postgresql":
        return "PostgreSQL " + version.split()[1]
    return ("MariaDB " if "mariadb" in version.lower() else "MySQL ") + version.split("-")[0]


@contextmanager
def database(backend: str, work: Path) -> Iterator[str]:
    """A freshly created empty database, dropped afterwards; its SQLAlchemy URL."""
    if backend == "sqlite":
        path = work / f"dbshift_bench_{uuid.uuid4().hex[:10]}.db"
        try:
            yield f"sqlite:///{path}"
        finally:
            for leftover in work.glob(path.name + "*"):
                leftover.unlink()
        return
    name = f"dbshift_bench_{uuid.uuid4().hex[:10]}"
    engine = admin_engine(backend)
    with engine.connect() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE {name}")
    try:
        yield sa.make_url(ADMIN_URLS[backend]).set(database=name).render_as_string(False)
    finally:
        force = " WITH (FORCE)" if backend == "postgresql" else ""
        try:
            with engine.connect() as conn:
                conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name}{force}")
        except sa.exc.SQLAlchemyError as error:  # do not hide the error that got us here
            print(f"WARNING: could not drop {backend} database {name}: {error}", file=sys.stderr)
        engine.dispose()


def count_schema(backend: str, url: str) -> tuple[int, int]:
    """(tables named t<N>, indexes named ix_t<N>_name) in the database at url."""
    queries = {
        "sqlite": (
            "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name LIKE 't%'",
            "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name LIKE 'ix_t%'",
        ),
        "postgresql": (
            "SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND tablename LIKE 't%'",
            "SELECT count(*) FROM pg_indexes WHERE schemaname = 'public' AND indexname LIKE 'ix_t%'",
        ),
        "mariadb": (
            "SELECT count(*) FROM information_schema.tables "
            "WHERE table_schema = DATABASE() AND table_name LIKE 't%'",
            "SELECT count(DISTINCT table_name, index_name) FROM information_schema.statistics "
            "WHERE table_schema = DATABASE() AND index_name LIKE 'ix_t%'",
        ),
    }[backend]
    engine = sa.create_engine(url, poolclass=sa.NullPool)
    try:
        with engine.connect() as conn:
            tables, indexes = (int(conn.execute(sa.text(q)).scalar() or 0) for q in queries)
    finally:
        engine.dispose()
    return tables, indexes


def sqlite_ddl(url: str) -> list[str]:
    """The CREATE statements SQLite stored for the benchmark's tables and indexes."""
    with sqlite3.connect(url.removeprefix("sqlite:///")) as conn:
        rows = conn.execute(
            "SELECT sql FROM sqlite_master WHERE name LIKE 't%' OR name LIKE 'ix_t%' ORDER BY name"
        ).fetchall()
    return [" ".join(str(sql).split()) for (sql,) in rows]


# -- generated projects -----------------------------------------------------------------


def migration_ids(count: int) -> list[str]:
    """Ids that sort by creation time, one second apart."""
    start = datetime.datetime(2026, 1, 1)
    return [
        (start + datetime.timedelta(seconds=n)).strftime(f"%Y%m%dT%H%M%S_t{n}")
        for n in range(count)
    ]


def fk_column(n: int) -> str:
    return f', sa.Column("prev_id", sa.Integer, sa.ForeignKey("t{n - 1}.id"))' if n else ""


def create_code(n: int) -> str:
    return (
        f'    op.create_table("t{n}", sa.Column("id", sa.Integer, primary_key=True){fk_column(n)}, '
        f'sa.Column("name", sa.String(50)))\n'
        f'    op.create_index("ix_t{n}_name", "t{n}", ["name"])\n'
    )


def dbshift_project(folder: Path, count: int) -> Path:
    """A migrations folder of `count` Python migrations, each on top of the previous one."""
    folder.mkdir(parents=True)
    parents: list[str] = []
    for n, migration_id in enumerate(migration_ids(count)):
        (folder / f"{migration_id}.py").write_text(
            f'"""create t{n}"""\n\nparents = {parents!r}\n\nimport sqlalchemy as sa\n\n\n'
            f"def upgrade(op):\n{create_code(n)}\n\n"
            f'def downgrade(op):\n    op.drop_table("t{n}")\n'
        )
        parents = [migration_id]
    sumfile.write(folder, scan(folder))  # as `dbshift new` would have kept it
    return folder


def alembic_project(template: Path, folder: Path, count: int, url: str) -> Path:
    """A real Alembic project (from `alembic init -t generic`) with `count` revisions.

    Its env.py gets `transaction_per_migration=True`, so that every tool runs one
    transaction per migration, as raw does. Returns the alembic.ini path.
    """
    shutil.copytree(template, folder)
    ini = folder / "alembic.ini"
    lines = ini.read_text().splitlines()
    lines = [f"sqlalchemy.url = {url}" if x.startswith("sqlalchemy.url") else x for x in lines]
    ini.write_text("\n".join(lines) + "\n")
    env_py = folder / "scripts" / "env.py"
    source = env_py.read_text()
    patched = source.replace(
        "connection=connection, target_metadata=target_metadata",
        "connection=connection, target_metadata=target_metadata, transaction_per_migration=True",
    )
    if patched == source:
        raise BenchError("alembic's generic env.py changed: cannot set transaction_per_migration")
    env_py.write_text(patched)
    versions = folder / "scripts" / "versions"
    versions.mkdir(exist_ok=True)
    previous: str | None = None
    for n in range(count):
        revision = hashlib.sha1(f"t{n}".encode()).hexdigest()[:12]
        (versions / f"{revision}_create_t{n}.py").write_text(
            f'"""create t{n}\n\nRevision ID: {revision}\nRevises: {previous or ""}\n"""\n'
            "from typing import Sequence, Union\n\nfrom alembic import op\nimport sqlalchemy as sa\n\n\n"
            f'revision: str = "{revision}"\n'
            f"down_revision: Union[str, Sequence[str], None] = {previous!r}\n"
            "branch_labels: Union[str, Sequence[str], None] = None\n"
            "depends_on: Union[str, Sequence[str], None] = None\n\n\n"
            f"def upgrade() -> None:\n{create_code(n)}\n\n"
            f'def downgrade() -> None:\n    op.drop_table("t{n}")\n'
        )
        previous = revision
    return ini


def yoyo_project(folder: Path, steps: list[tuple[str, str]]) -> Path:
    """yoyo step files running the given SQL, each depending on the previous one."""
    folder.mkdir(parents=True)
    previous = None
    for n, (create, index) in enumerate(steps):
        name = f"{n:05d}_t{n}"
        depends = f"__depends__ = {{{previous!r}}}\n" if previous else ""
        (folder / f"{name}.py").write_text(
            f'"""create t{n}"""\nfrom yoyo import step\n\n{depends}\n'
            f"steps = [step({create!r}), step({index!r})]\n"
        )
        previous = name
    return folder


def compiled_ddl(backend: str, count: int) -> list[tuple[str, str]]:
    """Per step, the CREATE TABLE and CREATE INDEX SQLAlchemy emits for the dialect."""
    dialect = sa.make_url(f"{'mysql' if backend == 'mariadb' else backend}://").get_dialect()()
    steps = []
    for n in range(count):
        metadata = sa.MetaData()
        columns: list[sa.Column[Any]] = [sa.Column("id", sa.Integer, primary_key=True)]
        if n:
            sa.Table(f"t{n - 1}", metadata, sa.Column("id", sa.Integer, primary_key=True))
            columns.append(sa.Column("prev_id", sa.Integer, sa.ForeignKey(f"t{n - 1}.id")))
        columns.append(sa.Column("name", sa.String(50)))
        table = sa.Table(f"t{n}", metadata, *columns)
        index = sa.Index(f"ix_t{n}_name", table.c.name)
        create = str(sa.schema.CreateTable(table).compile(dialect=dialect)).strip()
        steps.append((create, str(sa.schema.CreateIndex(index).compile(dialect=dialect)).strip()))
    return steps


# The physical limit: the same DDL through the DB-API driver, no SQLAlchemy, one
# transaction per step plus a one-row bookkeeping insert.
RAW_SCRIPT = """\
import json, sys
backend, url, path = sys.argv[1:4]
with open(path) as f:
    steps = json.load(f)
if backend == "sqlite":
    import sqlite3
    conn = sqlite3.connect(url.removeprefix("sqlite:///"), isolation_level=None)
    mark = "?"
elif backend == "postgresql":
    import psycopg
    conn = psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True)
    mark = "%s"
else:
    import pymysql
    from urllib.parse import urlsplit
    u = urlsplit(url)
    conn = pymysql.connect(host=u.hostname, port=u.port or 3306, user=u.username,
                           password=u.password or "", database=u.path.lstrip("/"), autocommit=True)
    mark = "%s"
cur = conn.cursor()
cur.execute("CREATE TABLE raw_history (id VARCHAR(64) PRIMARY KEY, applied_at TIMESTAMP)")
insert = f"INSERT INTO raw_history (id, applied_at) VALUES ({mark}, CURRENT_TIMESTAMP)"
for n, (create, index) in enumerate(steps):
    cur.execute("BEGIN")
    cur.execute(create)
    cur.execute(index)
    cur.execute(insert, (f"t{n}",))
    cur.execute("COMMIT")
conn.close()
"""

# The floor of any SQLAlchemy-based tool: start Python, import SQLAlchemy, connect, read.
FLOOR_SCRIPT = (
    "import sys, sqlalchemy as sa\n"
    "engine = sa.create_engine(sys.argv[1])\n"
    "with engine.connect() as conn:\n"
    "    conn.execute(sa.text('SELECT 1')).first()\n"
)


# -- benchmark 1: apply from empty --------------------------------------------------------


@dataclasses.dataclass
class Work:
    root: Path
    alembic_template: Path
    raw_script: Path
    serial: int = 0
    #: the migrations folder of the last `dbshift` apply command (re-applied after it)
    last_project: Path | None = None

    def fresh(self, stem: str) -> Path:
        """A new, unused path: every apply gets never-compiled migration files."""
        self.serial += 1
        return self.root / f"{stem}_{self.serial}"


def apply_command(
    tool: str, backend: str, count: int, work: Work, steps_file: Path, url: str
) -> list[str]:
    """The command applying `count` migrations with `tool`; projects are freshly written."""
    if tool == "raw":
        return [PYTHON, str(work.raw_script), backend, url, str(steps_file)]
    if tool == "dbshift":
        folder = work.last_project = dbshift_project(work.fresh("dbshift"), count)
        return [DBSHIFT, "--url", url, "--migrations", str(folder), "upgrade"]
    if tool == "alembic":
        ini = alembic_project(work.alembic_template, work.fresh("alembic"), count, url)
        return [*ALEMBIC, "-c", str(ini), "upgrade", "head"]
    steps = json.loads(steps_file.read_text())[:count]
    folder = yoyo_project(work.fresh("yoyo"), steps)
    yoyo_url = url.replace("mysql+pymysql://", "mysql://")
    return [*YOYO, "apply", "--batch", "--no-config-file", "--database", yoyo_url, str(folder)]


def apply_once(
    tool: str, backend: str, count: int, work: Work, steps_file: Path
) -> tuple[Timing, list[str]]:
    """Time one tool applying `count` migrations to a fresh database and check the result;
    (its timing, on SQLite the DDL text SQLite stored)."""
    with database(backend, work.root) as url:
        cmd = apply_command(tool, backend, count, work, steps_file, url)
        elapsed = run_timed(cmd, what=f"{tool} applying {count} migrations on {backend}")
        found = count_schema(backend, url)
        if found != (count, count):
            raise BenchError(
                f"{tool} on {backend}: expected {count} tables and indexes, found {found}"
            )
        return elapsed, sqlite_ddl(url) if backend == "sqlite" else []


def fixed_costs(backend: str, work: Work) -> tuple[Timing, Timing]:
    """(raw's fixed part: its script with no steps, the SQLAlchemy floor) on a fresh database."""
    empty = work.root / "no_steps.json"
    empty.write_text("[]")
    with database(backend, work.root) as url:
        command = [PYTHON, str(work.raw_script), backend, url, str(empty)]
        raw = run_timed(command, what="raw, no steps")
    with database(backend, work.root) as url:
        floor = run_timed([PYTHON, "-c", FLOOR_SCRIPT, url], what="floor script")
    return raw, floor


def warm_up(backends: Sequence[str], work: Work) -> None:
    """Apply 3 migrations with every tool on every backend: compiles each tool's own code
    into the bytecode prefix and fails early when anything is broken."""
    for backend in backends:
        steps_file = work.root / f"warmup_{backend}.json"
        steps_file.write_text(json.dumps(compiled_ddl(backend, 3)))
        for tool in APPLY_TOOLS:
            apply_once(tool, backend, 3, work, steps_file)
        fixed_costs(backend, work)


def reapply_once(backend: str, count: int, work: Work, folder: Path) -> Timing:
    """A second `dbshift upgrade` of an applied migrations folder into a fresh database, as
    the next CI job, test database or tenant runs it: a fresh process, with whatever
    dbshift keeps on disk warm. The files are first let age past the header cache's racy
    window and one untimed upgrade (into a throwaway database) writes every cache, so the
    timed run is the steady state whichever run a cache is written by."""
    aged(folder)
    cmd = [DBSHIFT, "--migrations", str(folder), "upgrade"]
    with database(backend, work.root) as url:
        run([DBSHIFT, "--url", url, *cmd[1:]], what=f"dbshift re-apply warm-up on {backend}")
    with database(backend, work.root) as url:
        command = [DBSHIFT, "--url", url, *cmd[1:]]
        elapsed = run_timed(command, what=f"dbshift re-apply on {backend}")
        found = count_schema(backend, url)
    if found != (count, count):
        raise BenchError(f"dbshift re-apply on {backend}: expected {count} tables, found {found}")
    return elapsed


def apply_benchmark(
    backend: str, count: int, runs: int, work: Work, warnings: list[str]
) -> dict[str, float]:
    """Medians of `runs` rounds; each round runs every tool once, in a rotating order,
    re-applies dbshift's migrations (`reapply_once`) and measures the fixed costs (raw
    with no steps, the SQLAlchemy floor). Wall times under each key, the processes' CPU
    times under `cpu_key(key)`."""
    steps_file = work.root / f"steps_{backend}_{count}.json"
    steps_file.write_text(json.dumps(compiled_ddl(backend, count)))
    keys = (*APPLY_TOOLS, REAPPLY, "raw fixed", "floor")
    times: dict[str, list[Timing]] = {key: [] for key in keys}
    for round_ in range(runs):
        order = APPLY_TOOLS[round_ % 4 :] + APPLY_TOOLS[: round_ % 4]
        ddl: dict[str, list[str]] = {}
        for tool in order:
            elapsed, ddl[tool] = apply_once(tool, backend, count, work, steps_file)
            times[tool].append(elapsed)
            print(f"  {backend} {tool}: {elapsed.wall:.2f} s, CPU {elapsed.cpu:.2f} s", flush=True)
            if tool == "dbshift" and work.last_project is not None:
                elapsed = reapply_once(backend, count, work, work.last_project)
                times[REAPPLY].append(elapsed)
                print(
                    f"  {backend} {REAPPLY}: {elapsed.wall:.2f} s, CPU {elapsed.cpu:.2f} s",
                    flush=True,
                )
        raw_fixed, floor = fixed_costs(backend, work)
        times["raw fixed"].append(raw_fixed)
        times["floor"].append(floor)
        for tool in APPLY_TOOLS[1:]:
            if ddl[tool] != ddl["raw"] and round_ == 0:
                diff = next((a, b) for a, b in zip(ddl[tool], ddl["raw"], strict=False) if a != b)
                warnings.append(
                    f"{tool} does not emit raw's DDL on SQLite: {diff[0]!r} vs {diff[1]!r}"
                )
    walls = {key: statistics.median(t.wall for t in found) for key, found in times.items()}
    cpus = {cpu_key(key): statistics.median(t.cpu for t in found) for key, found in times.items()}
    return walls | cpus


def cpu_key(key: str) -> str:
    """Where `apply_benchmark` keeps the CPU time measured beside the wall time `key`."""
    return f"{key}, CPU"


# -- benchmark 2: status and no-op upgrade ------------------------------------------------


STATUS_COLUMNS = (
    "floor",
    "dbshift status",
    "dbshift no-op upgrade",
    "dbshift status, cold",
    "alembic current",
    "alembic no-op upgrade",
)


def status_benchmark(
    backend: str, count: int, runs: int, work: Work, project: Path, written_at: float
) -> dict[str, float]:
    """Whole-process `status` and no-op `upgrade` with `count` applied migrations."""
    with database(backend, work.root) as url:
        base = [DBSHIFT, "--url", url, "--migrations", str(project)]
        run([*base, "stamp", "heads"], what=f"dbshift stamp heads ({count}, {backend})")
        # Steady state means files older than the header cache's racy window, then one
        # run that writes the cache.
        time.sleep(max(0.0, written_at + HEADER_CACHE_WINDOW - time.time()))
        run([*base, "status"], what="dbshift status (warm-up)")
        run([PYTHON, "-c", FLOOR_SCRIPT, url], what="floor script")
        header_cache = project / "__pycache__" / "dbshift-headers.marshal"

        def cold_status() -> float:
            header_cache.unlink(missing_ok=True)
            return run([*base, "status"], what="dbshift status (cold)")

        measures: dict[str, Callable[[], float]] = {
            "floor": lambda: run([PYTHON, "-c", FLOOR_SCRIPT, url], what="floor script"),
            "dbshift status": lambda: run([*base, "status"], what="dbshift status"),
            "dbshift no-op upgrade": lambda: run([*base, "upgrade"], what="dbshift upgrade"),
            "dbshift status, cold": cold_status,
        }
        times: dict[str, list[float]] = {key: [] for key in measures}
        for round_ in range(runs):
            keys = list(measures)
            for key in keys[round_ % len(keys) :] + keys[: round_ % len(keys)]:
                times[key].append(measures[key]())
        # Alembic: stamping imports every revision file, which also compiles them into
        # the bytecode prefix, so the timed runs below are Alembic's steady state.
        ini = alembic_project(work.alembic_template, work.fresh("alembic_status"), count, url)
        alembic = [*ALEMBIC, "-c", str(ini)]
        run([*alembic, "stamp", "head"], what=f"alembic stamp head ({count}, {backend})")
        alembic_runs = runs if count <= 1000 else 1
        times["alembic current"] = [
            run([*alembic, "current"], what="alembic current") for _ in range(alembic_runs)
        ]
        times["alembic no-op upgrade"] = [
            run([*alembic, "upgrade", "head"], what="alembic upgrade") for _ in range(alembic_runs)
        ]
    return {key: statistics.median(t) for key, t in times.items()}


# -- benchmark 3: check at head ------------------------------------------------------------

CHECK_COMMANDS = {
    "dbshift check": ["check"],
    "dbshift check --database": ["check", "--database"],
}


def aged(folder: Path) -> None:
    """Wait until every file of `folder` is older than the header cache's racy window."""
    newest = max(p.stat().st_mtime for p in folder.iterdir() if p.is_file())
    time.sleep(max(0.0, newest + HEADER_CACHE_WINDOW - time.time()))


def check_benchmark(backend: str, count: int, runs: int, work: Work) -> dict[str, float]:
    """Whole-process `dbshift check` and `dbshift check --database` on a database at head
    (`count` migrations applied), the steady state: files older than the header cache's
    window, one warm-up run of each first. Medians of `runs`, in a rotating order."""
    folder = dbshift_project(work.fresh("check"), count)
    with database(backend, work.root) as url:
        base = [DBSHIFT, "--url", url, "--migrations", str(folder)]
        run([*base, "upgrade"], what=f"dbshift upgrade ({count}, {backend})")
        aged(folder)
        for key, args in CHECK_COMMANDS.items():
            run([*base, *args], what=f"{key} (warm-up, {backend})")
        times: dict[str, list[float]] = {key: [] for key in CHECK_COMMANDS}
        keys = list(CHECK_COMMANDS)
        for round_ in range(runs):
            for key in keys[round_ % len(keys) :] + keys[: round_ % len(keys)]:
                times[key].append(run([*base, *CHECK_COMMANDS[key]], what=f"{key} ({backend})"))
    return {key: statistics.median(t) for key, t in times.items()}


# -- benchmark 4: what every tool sends to the database (counts, not timed) ------------------


def count_small(count: int) -> int:
    """The smaller run of the counts: per migration is the difference between it and
    `count`'s, divided by the difference in size. 10 migrations (fewer below 20) is past
    the drivers' one-time steps, e.g. psycopg preparing a statement on its 5th execution."""
    return max(1, min(10, count // 2))


@dataclasses.dataclass
class Counted:
    """Round-trip counts of one backend: per apply tool, and per check command."""

    apply: dict[str, roundtrips.PerMigration]
    check: dict[str, roundtrips.Traffic]
    #: where the statements read from the client's SQL and the server's count disagree
    warnings: list[str]


def counted_run(
    backend: str,
    work: Work,
    counter: roundtrips.Proxy | None,
    url: str,
    command: Callable[[str], list[str]],
    what: str,
) -> roundtrips.Traffic:
    """Run `command(url)` with everything it sends to the database counted: through the
    proxy (servers) or the SQLite tracer."""
    if counter is None:
        env, prefix = roundtrips.sqlite_tracer_env(work.root, ENV, "run")
        run(command(url), what=what, env=env)
        return roundtrips.read_sqlite_traces(prefix)
    counter.take()  # nothing from before this run
    run(command(counter.url(url)), what=what)
    traffic = counter.take()
    server = traffic.server_statements
    if server is not None and server != len(traffic.statements):
        MISCOUNTS.append(
            f"{what}: {len(traffic.statements)} statements read from the SQL sent, "
            f"{server} reported by the server"
        )
    return traffic


#: count_benchmark's warnings (counted_run appends)
MISCOUNTS: list[str] = []


def count_benchmark(backend: str, count: int, work: Work) -> Counted:
    """Every tool applying count_small(count) and `count` migrations, counted (the
    per-migration figures are the difference), then `check` at head."""
    small = count_small(count)
    MISCOUNTS.clear()
    with ExitStack() as stack:
        counter = None
        if backend != "sqlite":
            counter = stack.enter_context(roundtrips.proxy(backend, ADMIN_URLS[backend]))
        apply: dict[str, roundtrips.PerMigration] = {}
        for tool in APPLY_TOOLS:
            traffic: dict[int, roundtrips.Traffic] = {}
            for n in (small, count):
                steps_file = work.root / f"count_steps_{backend}_{n}.json"
                steps_file.write_text(json.dumps(compiled_ddl(backend, n)))
                with database(backend, work.root) as url:

                    def command(
                        target: str, tool: str = tool, n: int = n, steps: Path = steps_file
                    ) -> list[str]:
                        return apply_command(tool, backend, n, work, steps, target)

                    what = f"{tool} applying {n} migrations on {backend} (counted)"
                    traffic[n] = counted_run(backend, work, counter, url, command, what)
                    if count_schema(backend, url) != (n, n):
                        raise BenchError(f"{what}: the schema is not complete")
            apply[tool] = roundtrips.per_migration(traffic[small], traffic[count], small, count)
        check: dict[str, roundtrips.Traffic] = {}
        folder = dbshift_project(work.fresh("count_check"), count)
        with database(backend, work.root) as url:
            base = [DBSHIFT, "--migrations", str(folder)]
            run([DBSHIFT, "--url", url, *base[1:], "upgrade"], what="dbshift upgrade (check)")
            aged(folder)
            for key, args in CHECK_COMMANDS.items():
                run([DBSHIFT, "--url", url, *base[1:], *args], what=f"{key} (warm-up)")

                def check_command(target: str, args: list[str] = args) -> list[str]:
                    return [DBSHIFT, "--url", target, *base[1:], *args]

                what = f"{key} on {backend} (counted)"
                check[key] = counted_run(backend, work, counter, url, check_command, what)
    return Counted(apply, check, list(MISCOUNTS))


# -- profiling (--profile) --------------------------------------------------------------


def profile(work: Work, count: int, large: Path) -> str:
    """cProfile of `dbshift upgrade` (apply, SQLite) and `-X importtime` + cProfile of
    `dbshift status` with the large project; the text report."""
    import io
    import pstats

    out: list[str] = []

    def top(prof: Path, title: str, n: int = 25) -> None:
        for key in ("tottime", "cumulative"):
            buffer = io.StringIO()
            stats = pstats.Stats(str(prof), stream=buffer)
            stats.strip_dirs().sort_stats(key).print_stats(n)
            out.append(f"### {title}, by {key}\n\n```\n{buffer.getvalue().strip()}\n```\n")

    with database("sqlite", work.root) as url:
        folder = dbshift_project(work.fresh("dbshift_profile"), count)
        prof = work.root / "upgrade.prof"
        cmd = [PYTHON, "-m", "cProfile", "-o", str(prof), "-m", "dbshift"]
        run([*cmd, "--url", url, "--migrations", str(folder), "upgrade"], what="profiled upgrade")
        top(prof, f"dbshift upgrade, {count} migrations, SQLite")
    with database("sqlite", work.root) as url:
        base = ["--url", url, "--migrations", str(large)]
        run([DBSHIFT, *base, "stamp", "heads"])
        run([DBSHIFT, *base, "status"])
        prof = work.root / "status.prof"
        run([PYTHON, "-m", "cProfile", "-o", str(prof), "-m", "dbshift", *base, "status"])
        top(prof, "dbshift status, large project, SQLite")
        dbshift_imports = import_times([PYTHON, "-m", "dbshift", *base, "status"])
        floor_imports = import_times([PYTHON, "-c", FLOOR_SCRIPT, url])
        extra = {m: t for m, t in dbshift_imports.items() if m not in floor_imports}
        total = sum(self_us for self_us, _ in extra.values()) / 1000
        table = "\n".join(
            f"{self_us / 1000:7.1f} ms self {cum_us / 1000:7.1f} ms cumulative  {module}"
            for module, (self_us, cum_us) in sorted(extra.items(), key=lambda x: -x[1][0])[:20]
        )
        out.append(
            f"### -X importtime: what `dbshift status` imports beyond the floor\n\n"
            f"{len(extra)} modules, {total:.1f} ms self time in all (top 20 by self time):\n\n"
            f"```\n{table}\n```\n"
        )
    return "\n".join(out)


def import_times(cmd: list[str]) -> dict[str, tuple[int, int]]:
    """-X importtime of a process: module -> (self, cumulative) microseconds."""
    done = subprocess.run(
        [cmd[0], "-X", "importtime", *cmd[1:]], env=ENV, capture_output=True, text=True
    )
    times = {}
    for line in done.stderr.splitlines():
        parts = line.removeprefix("import time:").split("|")
        if len(parts) == 3 and parts[0].strip().isdigit():
            times[parts[2].strip()] = (int(parts[0]), int(parts[1]))
    return times


# -- report ---------------------------------------------------------------------------------


def version_of(python: str, distribution: str) -> str:
    code = f"import importlib.metadata as m; print(m.version({distribution!r}))"
    done = subprocess.run([python, "-c", code], capture_output=True, text=True)
    return done.stdout.strip() if done.returncode == 0 else "n/a"


def environment(servers: dict[str, str]) -> list[str]:
    cpu = "unknown CPU"
    with Path("/proc/cpuinfo").open() as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    git = _git("log", "-1", "--format=%h (%cd)", "--date=iso")
    dirty = _git("status", "--porcelain", "--", "src")
    return [
        f"- machine: {len(os.sched_getaffinity(0))} cores (nproc), {cpu}, {platform.platform()}",
        f"- Python {platform.python_version()} (both virtualenvs)",
        f"- servers: {', '.join(servers.values())}",
        f"- dbshift {importlib.metadata.version('dbshift')} at commit {git}"
        + (" (plus uncommitted changes in src/)" if dirty else ""),
        f"- dbshift's virtualenv: SQLAlchemy {sa.__version__}, "
        f"psycopg {importlib.metadata.version('psycopg')}, "
        f"PyMySQL {importlib.metadata.version('pymysql')}",
        f"- peers' virtualenv ({PEERS}): alembic {version_of(PEERS_PY, 'alembic')}, "
        f"yoyo-migrations {version_of(PEERS_PY, 'yoyo-migrations')}, "
        f"SQLAlchemy {version_of(PEERS_PY, 'sqlalchemy')}, "
        f"psycopg {version_of(PEERS_PY, 'psycopg')}, PyMySQL {version_of(PEERS_PY, 'pymysql')}",
    ]


def sqlalchemy_bound(r: dict[str, float], key: Callable[[str], str] = str) -> float:
    """Raw plus the fixed start-up cost of SQLAlchemy (floor minus raw's own start-up);
    `key=cpu_key`: the same in CPU time."""
    return r[key("raw")] - r[key("raw fixed")] + r[key("floor")]


def seconds(value: float) -> str:
    return f"{value:.2f} s" if value >= 1 else f"{value * 1000:.0f} ms"


def verdict(ok: bool) -> str:
    return "**met**" if ok else "**missed**"


def report(
    args: argparse.Namespace,
    env_lines: list[str],
    warnings: list[str],
    apply: dict[str, dict[str, float]],
    status: dict[tuple[str, int], dict[str, float]],
    checks: dict[str, dict[str, float]],
    counts: dict[str, Counted],
    show_counts: bool,
    runs: int,
    status_runs: int,
    elapsed: float,
) -> str:
    count, large = args.count, args.large
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    command = "bench/run.py" + (" --quick" if args.quick else "")
    lines = [
        "# dbshift benchmark results",
        "",
        f"<!-- Generated by {command}; re-running it overwrites this file. -->",
        "",
        f"Generated by `.venv/bin/python {command}` on {now}, in {elapsed / 60:.1f} minutes. "
        "Every tool runs as a whole process on a freshly created database; the numbers are "
        f"medians of {runs} run(s) (apply) and {status_runs} run(s) (status), and every ratio "
        "compares medians measured in this same run. The machine has 2 shared, noisy cores: "
        "read the ratios, not the absolute seconds.",
        "",
        "## Machine and versions",
        "",
        *env_lines,
        "",
    ]
    if warnings:
        lines += ["**Warnings:**", "", *[f"- {w}" for w in warnings], ""]
    if apply:
        lines += apply_section(apply, count)
    if status:
        lines += status_section(status, count, large, status_runs)
    if checks:
        lines += check_section(checks, count, status_runs, counts)
    if counts and show_counts:
        lines += counts_section(counts, count, git_commit())
    lines += [
        "## What this means",
        "",
        "Verdicts compare the ratios as printed (two decimals) with the targets; on this "
        "machine a ratio within about 5% of a target can land on either side from run to run.",
        "",
    ]
    lines += conclusions(apply, status, count, large)
    if args.quick:
        lines += ["", "_Quick mode: single runs; rerun without `--quick` for medians._"]
    return "\n".join(lines) + "\n"


def apply_section(apply: dict[str, dict[str, float]], count: int) -> list[str]:
    lines = [
        f"## 1. Apply {count} migrations to an empty database",
        "",
        "Each migration creates a table with a foreign key to the previous table, and an index. "
        "*raw* runs the same DDL (compiled by SQLAlchemy for the dialect; on SQLite checked "
        "identical to what every tool stored) through the DB-API driver (sqlite3, psycopg, "
        "PyMySQL) without SQLAlchemy, one transaction per step plus a one-row bookkeeping "
        "insert: the physical limit. `dbshift upgrade`, `alembic upgrade head` (a project made "
        f"by `alembic init`, with `transaction_per_migration=True`, {count} revision files) and "
        f"`yoyo apply --batch` ({count} Python step files) run with their default output; "
        "migration files are new to every run (compiled on first use, as in a deployment). "
        f"Target: dbshift at most {APPLY_TARGET}x raw.",
        "",
        "*SQLAlchemy bound* is raw plus the fixed cost of any SQLAlchemy-based tool: raw - "
        "(raw's script with no steps) + (the floor of 2.: Python importing SQLAlchemy and "
        "connecting). It is what a tool with zero per-migration overhead would take.",
        "",
        f"*{REAPPLY}* is a second `dbshift upgrade` of the same {count} migrations into "
        "another fresh database, in a fresh process, as the next CI job, test database or "
        "tenant runs it: the files older than the header cache's racy window and one untimed "
        "upgrade before it, so whatever dbshift keeps on disk (header cache, the migrations' "
        "bytecode) is warm.",
        "",
        "| backend | raw | dbshift | dbshift re-apply | alembic | yoyo | SQLAlchemy bound |",
        "|---|---|---|---|---|---|---|",
    ]
    tools = (*APPLY_TOOLS[1:2], REAPPLY, *APPLY_TOOLS[2:])
    for backend, r in apply.items():
        cells = [f"{seconds(r[t])} ({r[t] / r['raw']:.2f}x)" for t in tools]
        bound = sqlalchemy_bound(r)
        lines.append(
            f"| {backend} | {seconds(r['raw'])} | {' | '.join(cells)} | "
            f"{seconds(bound)} ({bound / r['raw']:.2f}x) |"
        )
    lines += [
        "",
        f"Per-migration cost above the SQLAlchemy bound, (tool - bound) / {count}: what each "
        "tool spends per migration beyond the DDL, its bookkeeping row and the fixed start-up "
        "of any SQLAlchemy-based tool (yoyo does not import SQLAlchemy: its figure can be "
        "below what it really spends). Issue 14's target for dbshift: at most 0.3 ms.",
        "",
        "| backend | dbshift | dbshift re-apply | alembic | yoyo |",
        "|---|---|---|---|---|",
    ]
    for backend, r in apply.items():
        cells = [f"{above_bound(r, t, count):.2f} ms" for t in tools]
        lines.append(f"| {backend} | {' | '.join(cells)} |")
    lines += [
        "",
        "The same runs in CPU time: user + system time of each tool's process (medians), and "
        f"in brackets the CPU per migration above the SQLAlchemy bound's own, (tool - bound) "
        f"/ {count} (yoyo's can be below zero: it does not import SQLAlchemy). The wall "
        "times above also hold what the server and the disk took, which "
        "on this shared machine vary from run to run by more than the tools differ; this is "
        "each tool's own work, and it varies far less. (The servers' work differs by the "
        "bookkeeping statements counted in the round-trip section below.)",
        "",
        "| backend | raw | dbshift | dbshift re-apply | alembic | yoyo | SQLAlchemy bound |",
        "|---|---|---|---|---|---|---|",
    ]
    for backend, r in apply.items():
        cells = [
            f"{seconds(r[cpu_key(t)])} ({above_bound(r, t, count, cpu_key):.2f} ms)" for t in tools
        ]
        lines.append(
            f"| {backend} | {seconds(r[cpu_key('raw')])} | {' | '.join(cells)} | "
            f"{seconds(sqlalchemy_bound(r, cpu_key))} |"
        )
    return [*lines, ""]


def above_bound(
    r: dict[str, float], tool: str, count: int, key: Callable[[str], str] = str
) -> float:
    """Milliseconds per migration `tool` spends above the SQLAlchemy bound (`key=cpu_key`:
    CPU milliseconds above the bound's CPU)."""
    return (r[key(tool)] - sqlalchemy_bound(r, key)) / count * 1000


def status_section(
    status: dict[tuple[str, int], dict[str, float]], count: int, large: int, status_runs: int
) -> list[str]:
    lines = [
        "## 2. `status` and a no-op `upgrade` with every migration applied",
        "",
        "The history is filled with `dbshift stamp heads` (Alembic: `alembic stamp head`). "
        "*floor* is a bare `python -c` process that imports SQLAlchemy, connects with "
        "`create_engine` and reads one row: no SQLAlchemy-based tool can start below it. "
        "*dbshift status* and *no-op upgrade* are the steady state: the files are older than "
        "dbshift's header cache (`migrations/__pycache__`), which a previous run wrote. *status, "
        "cold* deletes that cache first, as on a fresh checkout or container. Alembic is "
        "measured warm too (its revision files already byte-compiled), "
        f"{status_runs} runs at {count} and once at {large}. "
        f"Target: dbshift at most {STATUS_TARGET}x the floor at {large} migrations.",
        "",
        "| backend | migrations | floor | dbshift status | dbshift no-op upgrade | "
        "dbshift status, cold | alembic current | alembic no-op upgrade |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for (backend, n), r in status.items():
        cells = [f"{seconds(r[k])} ({r[k] / r['floor']:.2f}x)" for k in STATUS_COLUMNS[1:]]
        lines.append(f"| {backend} | {n} | {seconds(r['floor'])} | {' | '.join(cells)} |")

    growth_lines = []
    for backend in {b for b, _ in status}:
        if (backend, count) not in status or (backend, large) not in status:
            continue
        small, big = status[(backend, count)], status[(backend, large)]
        for key in ("dbshift status", "dbshift no-op upgrade", "dbshift status, cold"):
            extra_small = small[key] - small["floor"]
            extra_big = big[key] - big["floor"]
            marginal = (big[key] - small[key]) / (large - count) * 1e6
            ratio = f"{extra_big / extra_small:.1f}" if extra_small > 0.005 else "n/a (≈ floor)"
            growth_lines.append(
                f"| {backend} | {key} | {seconds(extra_small)} | {seconds(extra_big)} | "
                f"{ratio} | {marginal:.0f} µs |"
            )
    if growth_lines:
        lines += [
            "",
            f"Growth of dbshift's own cost (time above the floor) from {count} to {large} "
            f"migrations; {large / count:.0f} would be exactly linear in the number of migrations, "
            "less means a fixed part dominates:",
            "",
            f"| backend | command | above floor at {count} | above floor at {large} | "
            f"ratio {large}/{count} | per extra migration |",
            "|---|---|---|---|---|---|",
            *sorted(growth_lines),
        ]
    return [*lines, ""]


def check_section(
    checks: dict[str, dict[str, float]], count: int, runs: int, counts: dict[str, Counted]
) -> list[str]:
    lines = [
        "## 3. `check` at head",
        "",
        f"`dbshift check` and `dbshift check --database` (also the database: nothing pending, "
        f"applied checksums intact) with {count} migrations applied, whole processes, the "
        f"header cache warm; medians of {runs}. *connections* and *history reads* are counted "
        "through the proxy or the SQLite tracer (see the round-trip section). Target: one "
        "connection and one history read.",
        "",
        "| backend | command | time | connections | history reads | statements | round trips |",
        "|---|---|---|---|---|---|---|",
    ]
    for backend, r in checks.items():
        for key, elapsed in r.items():
            traffic = counts[backend].check.get(key) if backend in counts else None
            cells = "n/a | n/a | n/a | n/a" if traffic is None else check_counts(traffic)
            lines.append(f"| {backend} | `{key}` | {seconds(elapsed)} | {cells} |")
    return [*lines, ""]


COUNTS_SECTION = "## Round trips per migration (counts)"
#: the order of dbshift's statement kinds in the report (roundtrips.kind names them)
KIND_ORDER = (
    "begin",
    "lock",
    "lock (BEGIN IMMEDIATE)",
    "history read",
    "history read + SET LOCAL",
    "SET",
    "DDL",
    "partial row insert",
    "history insert",
    "log insert",
    "journal update",
    "history update (applied)",
    "history delete",
    "history + log write",
    "commit",
)


def counts_section(counts: dict[str, Counted], count: int, commit: str) -> list[str]:
    today = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d")
    small = count_small(count)
    lines = [
        COUNTS_SECTION,
        "",
        f"Counted on {today} at dbshift commit {commit} (the last one changing src/), by "
        "`bench/run.py` (`--only counts` "
        "rewrites this section alone): counts do not depend on the machine's load. Every tool "
        f"applies {small} and {count} migrations to empty databases; per migration is the "
        f"difference divided by {count - small}, *fixed* what a run costs besides its "
        "migrations (connecting, the tool's own tables and reads). PostgreSQL and MariaDB go "
        "through a counting TCP proxy (`bench/roundtrips.py`): *statements* are the SQL "
        "statements sent (Query messages split at semicolons, Execute messages; COM_QUERY "
        "packets), *round trips* the client's bursts the server answered (a pipeline sent "
        "before the first answer is one). "
        "SQLite has no server: a tracer counts the statements SQLite runs "
        "(`set_trace_callback`), each one call into the library. On PostgreSQL the "
        "statements read from the SQL are checked against the server's own count "
        "(CommandComplete, EmptyQueryResponse and ErrorResponse messages).",
        "",
        *[f"- **Warning:** {w}" for c in counts.values() for w in c.warnings],
        *([""] if any(c.warnings for c in counts.values()) else []),
        "| backend | tool | statements per migration | round trips per migration | "
        "fixed statements | fixed round trips | connections |",
        "|---|---|---|---|---|---|---|",
    ]
    number = roundtrips.number
    for backend, c in counts.items():
        for tool, m in c.apply.items():
            lines.append(
                f"| {backend} | {tool} | {number(m.statements)} | {number(m.round_trips)} | "
                f"{number(m.fixed_statements)} | {number(m.fixed_round_trips)} | {m.connections} |"
            )
    lines += [
        "",
        "Statements per migration by kind (`roundtrips.kind`, from the SQL text and dbshift's "
        "bookkeeping tables' names, so the other tools' bookkeeping is *other*): *lock* the "
        "migration lock (on SQLite the `BEGIN IMMEDIATE` that takes the write lock), *history "
        "read* the history-and-lease re-check (*+ SET LOCAL*: with the migration's timeouts "
        "set by the same query, PostgreSQL), *SET* session or local settings, *partial row "
        "insert* the `partial` row written before the first statement where SQL is literal "
        "(MariaDB), *journal update* MariaDB's progress line after each statement, *history "
        "update (applied)* the partial row turned applied, which also records the last "
        "statement (MariaDB), *history insert* / *history delete* the history row, *history "
        "+ log write* the row and its log event in one statement (PostgreSQL); and the "
        "protocol messages per migration:",
        "",
        "| backend | tool | statements by kind | messages |",
        "|---|---|---|---|",
    ]
    for backend, c in counts.items():
        for tool, m in c.apply.items():
            messages = ", ".join(
                f"{k} {number(v)}" for k, v in m.messages.items() if abs(v) >= 0.005
            )
            kinds = roundtrips.kinds_text(m.kinds, KIND_ORDER)
            lines.append(f"| {backend} | {tool} | {kinds} | {messages} |")
    lines += [
        "",
        f"`check` at head ({count} migrations applied), one run of each command:",
        "",
        "| backend | command | connections | history reads | statements | round trips |",
        "|---|---|---|---|---|---|",
    ]
    for backend, c in counts.items():
        for key, traffic in c.check.items():
            lines.append(f"| {backend} | `{key}` | {check_counts(traffic)} |")
    return [*lines, ""]


def check_counts(traffic: roundtrips.Traffic) -> str:
    """connections | history reads | statements | round trips, as table cells."""
    reads = sum(roundtrips.kind(x) == "history read" for x in traffic.statements)
    return f"{traffic.connections} | {reads} | {len(traffic.statements)} | {traffic.round_trips}"


def git_commit() -> str:
    """The commit measured (the last one that changed src/: a bench-only commit measures
    the same dbshift), and whether src/ had changes beyond it."""
    head = _git("log", "-1", "--format=%h", "--", "src")
    dirty = _git("status", "--porcelain", "--", "src")
    return head + (" (plus uncommitted changes in src/)" if dirty else "")


def _git(*args: str) -> str:
    """What `git -C <repo> <args>` prints, stripped."""
    done = subprocess.run(["git", "-C", str(REPO), *args], capture_output=True, text=True)
    return done.stdout.strip()


def write_counts_section(path: Path, text: str) -> None:
    """Replace the round-trip section of RESULTS.md, or insert it before "What this means"
    (else before the sections of the other scripts, else at the end)."""
    old = path.read_text() if path.exists() else "# dbshift benchmark results\n"
    lines = old.splitlines(keepends=True)
    start = next((i for i, x in enumerate(lines) if x.rstrip() == COUNTS_SECTION), None)
    if start is not None:
        end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), None)
        end = len(lines) if end is None else end
        before, after = lines[:start], lines[end:]
    else:
        marks = ("## What this means", "## Autogenerate", "## Lint")
        at = next((i for i, x in enumerate(lines) if x.rstrip() in marks), len(lines))
        before, after = lines[:at], lines[at:]
    path.write_text("".join(before) + text + ("\n" + "".join(after) if after else ""))


def conclusions(
    apply: dict[str, dict[str, float]],
    status: dict[tuple[str, int], dict[str, float]],
    count: int,
    large: int,
) -> list[str]:
    out = []
    for backend, r in apply.items():
        ratio = r["dbshift"] / r["raw"]
        bound = sqlalchemy_bound(r) / r["raw"]
        peers = ", ".join(f"{t} {r[t] / r['raw']:.2f}x" for t in ("alembic", "yoyo"))
        text = (
            f"- Apply {count} on {backend}: dbshift {ratio:.2f}x raw, target {APPLY_TARGET}x "
            f"{verdict(round(ratio, 2) <= APPLY_TARGET)} ({peers}). Importing SQLAlchemy alone puts any "
            f"SQLAlchemy-based tool at {bound:.2f}x here"
        )
        if bound > APPLY_TARGET:
            text += ", so the target cannot be met on this backend by a tool built on SQLAlchemy"
        extra = above_bound(r, "dbshift", count)
        text += (
            f"; dbshift spends {extra:.2f} ms per migration above that bound, target "
            f"{ABOVE_BOUND_TARGET} ms {verdict(round(extra, 2) <= ABOVE_BOUND_TARGET)} (alembic "
            f"{above_bound(r, 'alembic', count):.2f} ms, yoyo {above_bound(r, 'yoyo', count):.2f} "
            f"ms). Re-applying the same migrations: {r[REAPPLY] / r['raw']:.2f}x raw, "
            f"{above_bound(r, REAPPLY, count):.2f} ms per migration above the bound"
            + (
                ", cheaper than the first apply."
                if r[REAPPLY] < r["dbshift"]
                else ", **not cheaper** than the first apply."
            )
        )
        cpu = {t: above_bound(r, t, count, cpu_key) for t in (*APPLY_TOOLS[1:], REAPPLY)}
        text += (
            f" In CPU time per migration above the bound: dbshift {cpu['dbshift']:.2f} ms "
            f"(re-apply {cpu[REAPPLY]:.2f} ms), alembic {cpu['alembic']:.2f} ms, yoyo "
            f"{cpu['yoyo']:.2f} ms."
        )
        out.append(text)
    for (backend, n), r in status.items():
        if n != large:
            continue
        worst = max(r["dbshift status"], r["dbshift no-op upgrade"]) / r["floor"]
        cold = r["dbshift status, cold"] / r["floor"]
        out.append(
            f"- `status` / no-op `upgrade` with {n} migrations on {backend}: dbshift at most "
            f"{worst:.2f}x the floor, target {STATUS_TARGET}x {verdict(round(worst, 2) <= STATUS_TARGET)}; "
            f"without its header cache {cold:.2f}x "
            f"({'within' if round(cold, 2) <= STATUS_TARGET else 'over'} the target). Alembic: "
            f"`current` {r['alembic current'] / r['floor']:.1f}x, no-op `upgrade head` "
            f"{r['alembic no-op upgrade'] / r['floor']:.1f}x."
        )
        small = status.get((backend, count))
        if small is not None:
            above_small = small["dbshift status"] - small["floor"]
            above_big = r["dbshift status"] - r["floor"]
            per = (r["dbshift status"] - small["dbshift status"]) / (n - count) * 1e6
            linear = above_small > 0 and above_big / above_small <= (n / count) * 1.2
            out.append(
                f"  Growth: `status` costs {seconds(above_small)} above the floor at {count} and "
                f"{seconds(above_big)} at {n} (about {per:.0f} µs per extra migration): "
                + (
                    "no worse than linear."
                    if linear
                    else "**superlinear** (or too noisy to tell: rerun)."
                )
            )
    return out


# -- main -------------------------------------------------------------------------------


def on_sigterm(_signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt  # unwinds through the `database` context managers


#: sections of RESULTS.md written by other scripts or by hand (floor.py's reading), kept
KEPT_HEADINGS = ("Apply: the floors", "Autogenerate")


def kept_sections(path: Path) -> str:
    """The sections other scripts write into the same file (autogen.py's, the floors
    read from floor.py), kept: everything from the first of them on."""
    try:
        previous = path.read_text()
    except OSError:
        return ""
    found = [i for i in (previous.find(f"\n## {h}") for h in KEPT_HEADINGS) if i >= 0]
    start = min(found, default=-1)
    return "\n" + previous[start:].lstrip("\n") if start >= 0 else ""


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one run each (3 for status)")
    parser.add_argument(
        "--backends",
        default=",".join(BACKENDS),
        help="comma-separated subset of sqlite,postgresql,mariadb (MariaDB: apply only)",
    )
    parser.add_argument("--count", type=int, default=500, help="migrations to apply (500)")
    parser.add_argument("--large", type=int, default=5000, help="large project size (5000)")
    parser.add_argument("--runs", type=int, help="apply runs (default 3, --quick 1)")
    parser.add_argument("--status-runs", type=int, help="status runs (default 5, --quick 3)")
    parser.add_argument(
        "--only",
        default=",".join(PARTS),
        help="comma-separated subset of apply (with the re-apply), status, check, counts "
        "(round trips, connections: counted, not timed). With every part the report "
        "rewrites --output; `--only counts` rewrites only its section of it; any other "
        "subset is printed, and written only to an --output given explicitly",
    )
    parser.add_argument(
        "--output", type=Path, help="the report (default bench/RESULTS.md, see --only)"
    )
    parser.add_argument(
        "--profile", action="store_true", help="also profile dbshift (bench/work/profile.md)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    args = parser.parse_args()
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    unknown = set(backends) - set(BACKENDS)
    if unknown or not backends:
        parser.error(f"--backends: choose among {', '.join(BACKENDS)}")
    only = [part for part in PARTS if part in {p.strip() for p in args.only.split(",")}]
    if not only or set(args.only.replace(" ", "").split(",")) - set(PARTS):
        parser.error(f"--only: choose among {', '.join(PARTS)}")
    if args.count < 2 and "counts" in only:
        parser.error("--count: at least 2 for the counts")
    runs = args.runs or (1 if args.quick else 3)
    status_runs = args.status_runs or (3 if args.quick else 5)
    if not Path(DBSHIFT).exists():
        raise BenchError(f"no dbshift next to {PYTHON}: run this with dbshift's .venv/bin/python")
    signal.signal(signal.SIGTERM, on_sigterm)
    started = time.perf_counter()

    servers = {backend: check_server(backend, backends) for backend in backends}
    ensure_peers()
    env_lines = environment(servers)
    print("\n".join(env_lines), flush=True)

    root = Path(tempfile.mkdtemp(prefix="dbshift_bench_"))
    try:
        ENV.update(child_env(root / "pycache"))
        template_parent = root / "alembic_template"
        template_parent.mkdir()
        run(
            [*ALEMBIC, "init", "-t", "generic", "scripts"], cwd=template_parent, what="alembic init"
        )
        raw_script = root / "raw.py"
        raw_script.write_text(RAW_SCRIPT)
        work = Work(root, template_parent, raw_script)

        # Projects for benchmark 2, written first so they age past the header-cache window.
        status_sizes = (args.count, args.large)
        projects: dict[int, Path] = {}
        if "status" in only or args.profile:
            projects = {n: dbshift_project(root / f"status_{n}", n) for n in status_sizes}
        written_at = time.time()

        if only != ["counts"]:
            print(
                "warm-up (compiles every tool; 3 migrations per tool and backend) ...", flush=True
            )
            warm_up(backends, work)

        warnings: list[str] = []
        apply: dict[str, dict[str, float]] = {}
        for backend in backends if "apply" in only else ():
            print(f"apply {args.count} migrations on {backend}, {runs} run(s) ...", flush=True)
            apply[backend] = apply_benchmark(backend, args.count, runs, work, warnings)
        for warning in warnings:
            print("WARNING:", warning, flush=True)

        status: dict[tuple[str, int], dict[str, float]] = {}
        for backend in (b for b in STATUS_BACKENDS if b in backends and "status" in only):
            for n in status_sizes:
                print(f"status / no-op upgrade with {n} on {backend} ...", flush=True)
                r = status_benchmark(backend, n, status_runs, work, projects[n], written_at)
                status[(backend, n)] = r
                print("  " + ", ".join(f"{k} {v:.3f} s" for k, v in r.items()), flush=True)

        checks: dict[str, dict[str, float]] = {}
        for backend in backends if "check" in only else ():
            print(
                f"check at head ({args.count}) on {backend}, {status_runs} run(s) ...", flush=True
            )
            checks[backend] = check_benchmark(backend, args.count, status_runs, work)
            print("  " + ", ".join(f"{k} {v:.3f} s" for k, v in checks[backend].items()))

        counts: dict[str, Counted] = {}
        for backend in backends if "counts" in only or "check" in only else ():
            print(f"counting round trips on {backend} (1 and {args.count}) ...", flush=True)
            counts[backend] = count_benchmark(backend, args.count, work)

        elapsed = time.perf_counter() - started
        output = args.output or HERE / "RESULTS.md"
        if only == ["counts"]:
            text = "\n".join(counts_section(counts, args.count, git_commit()))
            write_counts_section(output, text)
            print("\n" + text)
            print(f"wrote the {COUNTS_SECTION.removeprefix('## ')} section of {output}")
        else:
            text = report(
                args,
                env_lines,
                warnings,
                apply,
                status,
                checks,
                counts,
                "counts" in only,
                runs,
                status_runs,
                elapsed,
            )
            print("\n" + text)
            if only == list(PARTS) or args.output:
                output.write_text(text + kept_sections(output))
                print(f"wrote {output}")
        if args.profile:
            text = profile(work, args.count, projects[args.large])
            saved = HERE / "work" / "profile.md"
            saved.parent.mkdir(exist_ok=True)
            saved.write_text(text)
            print(text)
            print(f"profile saved to {saved} (not committed)")
    finally:
        if args.keep:
            print(f"work folder kept: {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BenchError as error:
        sys.exit(f"bench: {error}")
    except KeyboardInterrupt:
        sys.exit("bench: interrupted (databases dropped)")
