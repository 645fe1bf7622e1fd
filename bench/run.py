"""dbshift benchmarks against the physical limit, Alembic and yoyo; writes bench/RESULTS.md.

    .venv/bin/python bench/run.py [--quick]

Every tool runs as a whole process (what a deployment runs), on fresh databases, in
one run of this script, so ratios compare like with like on a noisy machine. The peers
live in their own virtualenv (default /tmp/peers, created when missing); they are
never dependencies of dbshift.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa

HERE = Path(__file__).resolve().parent
PYTHON = sys.executable
DBSHIFT = [PYTHON, "-m", "dbshift"]
PG_ADMIN = os.environ.get(
    "DBSHIFT_BENCH_POSTGRESQL_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
PEERS = Path(os.environ.get("DBSHIFT_BENCH_PEERS", "/tmp/peers"))


# -- databases ------------------------------------------------------------------------


@contextmanager
def database(backend: str, work: Path) -> Iterator[str]:
    """A fresh empty database; its SQLAlchemy URL (psycopg driver on PostgreSQL)."""
    if backend == "sqlite":
        path = work / f"bench_{uuid.uuid4().hex[:8]}.db"
        yield f"sqlite:///{path}"
        path.unlink(missing_ok=True)
        return
    name = f"dbshift_bench_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT", poolclass=sa.NullPool)
    with admin.connect() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE {name}")
    try:
        yield sa.make_url(PG_ADMIN).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.dispose()


# -- generated projects -------------------------------------------------------------------


def ids(count: int) -> list[str]:
    return [f"20260101T{n // 3600:02d}{n // 60 % 60:02d}{n % 60:02d}_t{n}" for n in range(count)]


def ddl(dialect_name: str, count: int) -> list[tuple[str, str]]:
    """Per step: the CREATE TABLE and CREATE INDEX dbshift emits, compiled once."""
    dialect = sa.make_url(f"{dialect_name}://").get_dialect()()
    steps = []
    for n in range(count):
        metadata = sa.MetaData()
        if n:
            sa.Table(f"t{n - 1}", metadata, sa.Column("id", sa.Integer, primary_key=True))
        columns = [sa.Column("id", sa.Integer, primary_key=True), sa.Column("name", sa.String(50))]
        if n:
            columns.insert(1, sa.Column("prev_id", sa.Integer, sa.ForeignKey(f"t{n - 1}.id")))
        table = sa.Table(f"t{n}", metadata, *columns)
        index = sa.Index(f"ix_t{n}_name", table.c.name)
        create = str(sa.schema.CreateTable(table).compile(dialect=dialect)).strip()
        steps.append((create, str(sa.schema.CreateIndex(index).compile(dialect=dialect))))
    return steps


def dbshift_project(folder: Path, count: int) -> None:
    folder.mkdir(parents=True)
    previous: list[str] = []
    for n, migration_id in enumerate(ids(count)):
        fk = f', sa.Column("prev_id", sa.Integer, sa.ForeignKey("t{n - 1}.id"))' if n else ""
        (folder / f"{migration_id}.py").write_text(
            f'"""create t{n}"""\n\nparents = {previous!r}\n\nimport sqlalchemy as sa\n\n\n'
            f"def upgrade(op):\n"
            f'    op.create_table("t{n}", sa.Column("id", sa.Integer, primary_key=True){fk}, '
            f'sa.Column("name", sa.String(50)))\n'
            f'    op.create_index("ix_t{n}_name", "t{n}", ["name"])\n'
        )
        previous = [migration_id]


def alembic_project(folder: Path, count: int, url: str) -> None:
    versions = folder / "versions"
    versions.mkdir(parents=True)
    (folder / "alembic.ini").write_text(
        f"[alembic]\nscript_location = {folder}\nsqlalchemy.url = {url}\n"
    )
    (folder / "env.py").write_text(
        "from alembic import context\nfrom sqlalchemy import engine_from_config, pool\n"
        "config = context.config\n"
        "engine = engine_from_config(config.get_section(config.config_ini_section), "
        "prefix='sqlalchemy.', poolclass=pool.NullPool)\n"
        "with engine.connect() as connection:\n"
        "    context.configure(connection=connection, transaction_per_migration=True)\n"
        "    with context.begin_transaction():\n"
        "        context.run_migrations()\n"
    )
    (folder / "script.py.mako").write_text("")
    previous = None
    for n in range(count):
        revision = f"r{n:05d}"
        fk = f', sa.Column("prev_id", sa.Integer, sa.ForeignKey("t{n - 1}.id"))' if n else ""
        (versions / f"{revision}.py").write_text(
            f'"""create t{n}"""\nrevision = "{revision}"\ndown_revision = {previous!r}\n'
            "branch_labels = None\ndepends_on = None\n"
            "from alembic import op\nimport sqlalchemy as sa\n\n\ndef upgrade():\n"
            f'    op.create_table("t{n}", sa.Column("id", sa.Integer, primary_key=True){fk}, '
            f'sa.Column("name", sa.String(50)))\n'
            f'    op.create_index("ix_t{n}_name", "t{n}", ["name"])\n\n\n'
            f'def downgrade():\n    op.drop_table("t{n}")\n'
        )
        previous = revision


def yoyo_project(folder: Path, steps: list[tuple[str, str]]) -> None:
    folder.mkdir(parents=True)
    previous = None
    for n, (create, index) in enumerate(steps):
        name = f"{n:05d}_t{n}"
        depends = f"__depends__ = {{{previous!r}}}\n" if previous else ""
        (folder / f"{name}.py").write_text(
            f"from yoyo import step\n{depends}steps = [step({create!r}), step({index!r})]\n"
        )
        previous = name


RAW_SCRIPT = """
import json, sys, time
backend, url, path = sys.argv[1:4]
steps = json.load(open(path))
if backend == "sqlite":
    import sqlite3
    conn = sqlite3.connect(url.removeprefix("sqlite:///"), isolation_level=None)
    begin = "BEGIN"
else:
    import psycopg
    conn = psycopg.connect(url.replace("postgresql+psycopg", "postgresql"), autocommit=True)
    begin = "BEGIN"
cur = conn.cursor()
cur.execute("CREATE TABLE history (id VARCHAR(255) PRIMARY KEY, applied_at TIMESTAMP)")
for n, (create, index) in enumerate(steps):
    cur.execute(begin)
    cur.execute(create)
    cur.execute(index)
    cur.execute("INSERT INTO history VALUES ('t%d', CURRENT_TIMESTAMP)" % n)
    cur.execute("COMMIT")
"""

FLOOR_SCRIPT = (
    "import sys, sqlalchemy as sa; e = sa.create_engine(sys.argv[1]); c = e.connect(); "
    "c.execute(sa.text('SELECT 1')).scalar()"
)


# -- measuring ------------------------------------------------------------------------------


def timed(cmd: list[str], cwd: Path | None = None) -> float:
    started = time.perf_counter()
    done = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if done.returncode:
        raise SystemExit(f"benchmark command failed: {' '.join(cmd[:6])}...\n{done.stderr[-2000:]}")
    return elapsed


def median_of(runs: int, fn: Callable[[], float]) -> float:
    return statistics.median(fn() for _ in range(runs))


def peers_ready() -> bool:
    if (PEERS / "bin" / "alembic").exists() and (PEERS / "bin" / "yoyo").exists():
        return True
    print(f"creating the peers' virtualenv in {PEERS} ...", flush=True)
    subprocess.run([sys.executable, "-m", "venv", str(PEERS)], check=True)
    pip = [str(PEERS / "bin" / "pip"), "install", "-q"]
    done = subprocess.run([*pip, "alembic", "yoyo-migrations", "psycopg[binary]"])
    return done.returncode == 0


def apply_benchmark(backend: str, count: int, runs: int, work: Path) -> dict[str, float]:
    import json

    steps = ddl("postgresql" if backend == "postgresql" else "sqlite", count)
    steps_file = work / f"steps_{backend}.json"
    steps_file.write_text(json.dumps(steps))
    (work / "raw.py").write_text(RAW_SCRIPT)
    project = work / f"dbshift_{backend}"
    if not project.exists():
        dbshift_project(project, count)
    yoyo_dir = work / f"yoyo_{backend}"
    if not yoyo_dir.exists():
        yoyo_project(yoyo_dir, steps)
    results: dict[str, list[float]] = {"raw": [], "dbshift": [], "alembic": [], "yoyo": []}
    for _ in range(runs):
        with database(backend, work) as url:
            results["raw"].append(
                timed([PYTHON, str(work / "raw.py"), backend, url, str(steps_file)])
            )
        with database(backend, work) as url:
            results["dbshift"].append(
                timed([*DBSHIFT, "--url", url, "--migrations", str(project), "-q", "upgrade"])
            )
        with database(backend, work) as url:
            folder = work / f"alembic_{uuid.uuid4().hex[:6]}"
            alembic_project(folder, count, url)
            results["alembic"].append(
                timed(
                    [
                        str(PEERS / "bin" / "alembic"),
                        "-c",
                        str(folder / "alembic.ini"),
                        "upgrade",
                        "head",
                    ]
                )
            )
            shutil.rmtree(folder)
        with database(backend, work) as url:
            yoyo_url = url.replace("postgresql+psycopg://", "postgresql+psycopg://")
            results["yoyo"].append(
                timed(
                    [
                        str(PEERS / "bin" / "yoyo"),
                        "apply",
                        "--batch",
                        "--no-config-file",
                        "--database",
                        yoyo_url,
                        str(yoyo_dir),
                    ]
                )
            )
    return {tool: statistics.median(times) for tool, times in results.items()}


def status_benchmark(
    backend: str, count: int, runs: int, work: Path, alembic: bool
) -> dict[str, float]:
    project = work / f"status_{backend}_{count}"
    if not project.exists():
        dbshift_project(project, count)
    with database(backend, work) as url:
        base = [*DBSHIFT, "--url", url, "--migrations", str(project), "-q"]
        timed([*base, "stamp", "heads"])
        # Steady state: migration files older than the header cache's 2-second racy
        # window (files written just now are always re-read), and one warm-up run.
        time.sleep(2.1)
        timed([*base, "status"])
        results = {
            "floor": median_of(runs, lambda: timed([PYTHON, "-c", FLOOR_SCRIPT, url])),
            "dbshift status": median_of(runs, lambda: timed([*base, "status"])),
            "dbshift upgrade (no-op)": median_of(runs, lambda: timed([*base, "upgrade"])),
        }
        if alembic:
            folder = work / f"alembic_status_{backend}_{count}"
            alembic_project(folder, count, url)
            ini = str(folder / "alembic.ini")
            alembic_bin = str(PEERS / "bin" / "alembic")
            timed([alembic_bin, "-c", ini, "stamp", "head"])
            alembic_runs = runs if count <= 500 else 1
            results["alembic current"] = median_of(
                alembic_runs, lambda: timed([alembic_bin, "-c", ini, "current"])
            )
            results["alembic upgrade (no-op)"] = median_of(
                alembic_runs, lambda: timed([alembic_bin, "-c", ini, "upgrade", "head"])
            )
            shutil.rmtree(folder)
    return results


# -- report -----------------------------------------------------------------------------------


def versions() -> str:
    def version(cmd: list[str]) -> str:
        done = subprocess.run(cmd, capture_output=True, text=True)
        return (
            (done.stdout or done.stderr).strip().splitlines()[-1] if done.returncode == 0 else "n/a"
        )

    peers = str(PEERS / "bin" / "python")
    yoyo = "import importlib.metadata as m; print(m.version('yoyo-migrations'))"
    return (
        f"- machine: {os.cpu_count()} cores, {platform.platform()}, Python {platform.python_version()}\n"
        f"- SQLAlchemy {sa.__version__}, dbshift {version([*DBSHIFT, '--version'])}\n"
        f"- peers: alembic {version([peers, '-c', 'import alembic; print(alembic.__version__)'])}, "
        f"yoyo {version([peers, '-c', yoyo])}\n"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="one run each, smaller 'large' project"
    )
    parser.add_argument("--output", default=str(HERE / "RESULTS.md"))
    parser.add_argument("--count", type=int, default=500, help="migrations to apply")
    args = parser.parse_args()
    runs = 1 if args.quick else 3
    count, large = args.count, (2000 if args.quick else 5000) * args.count // 500
    if not peers_ready():
        raise SystemExit("could not install the peers (alembic, yoyo-migrations)")
    # Measure dbshift as installed from a wheel: with bytecode, like SQLAlchemy and the
    # peers (pip compiles those at install; an editable checkout with
    # PYTHONDONTWRITEBYTECODE=1 would otherwise recompile dbshift at every start).
    import compileall

    import dbshift

    compileall.compile_dir(str(Path(dbshift.__file__).parent), quiet=1)
    lines = [
        "# Benchmark results",
        "",
        f"Generated by `bench/run.py{' --quick' if args.quick else ''}` on "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}. Medians of {runs} run(s); every "
        "tool runs as a whole process on a fresh database; ratios are against the baseline "
        "measured in the same run. dbshift is byte-compiled first, as an installed wheel is.",
        "",
        versions(),
    ]
    with tempfile.TemporaryDirectory(prefix="dbshift_bench_") as tmp:
        work = Path(tmp)
        lines += [
            f"## Apply {count} migrations from empty",
            "",
            "Each migration creates a table with a foreign key to the previous one and an index. "
            "`raw` runs the same DDL through the driver, one transaction per step with a bookkeeping "
            "insert: the physical limit. Target: dbshift at most 1.15x raw.",
            "",
            "| backend | raw | dbshift | alembic | yoyo |",
            "|---|---|---|---|---|",
        ]
        for backend in ("sqlite", "postgresql"):
            print(f"apply {count} on {backend} ...", flush=True)
            r = apply_benchmark(backend, count, runs, work)
            lines.append(
                f"| {backend} | {r['raw']:.2f} s | {r['dbshift']:.2f} s ({r['dbshift'] / r['raw']:.2f}x) | "
                f"{r['alembic']:.2f} s ({r['alembic'] / r['raw']:.2f}x) | {r['yoyo']:.2f} s ({r['yoyo'] / r['raw']:.2f}x) |"
            )
        lines += [
            "",
            "## `status` and a no-op `upgrade` with every migration applied",
            "",
            "Steady state: the migration files are older than the header cache's 2-second window. "
            "The floor is a bare process that imports SQLAlchemy, connects and reads one row: "
            f"no SQLAlchemy-based tool can go below it. Target: dbshift at most 1.5x the floor at {large}.",
            "",
            "| backend | migrations | floor | dbshift status | dbshift no-op upgrade | alembic current | alembic no-op upgrade |",
            "|---|---|---|---|---|---|---|",
        ]
        for backend in ("sqlite", "postgresql"):
            for n in (count, large):
                print(f"status with {n} on {backend} ...", flush=True)
                r = status_benchmark(backend, n, 5 if not args.quick else 3, work, alembic=True)
                floor = r["floor"]

                def cell(key: str, r: dict[str, float] = r, floor: float = floor) -> str:
                    return f"{r[key]:.3f} s ({r[key] / floor:.2f}x)" if key in r else "n/a"

                lines.append(
                    f"| {backend} | {n} | {floor:.3f} s | {cell('dbshift status')} | "
                    f"{cell('dbshift upgrade (no-op)')} | {cell('alembic current')} | {cell('alembic upgrade (no-op)')} |"
                )
    Path(args.output).write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
