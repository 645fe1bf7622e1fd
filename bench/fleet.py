"""Fleet benchmark (issue 16): N PostgreSQL tenant schemas and M MariaDB databases, K
migrations each, with `dbshift fleet upgrade`, against one single-target `dbshift
upgrade` of the same migrations and against the loop users write today (a shell loop of
`dbshift upgrade --url ...`, one process per target).

    .venv/bin/python bench/fleet.py [--schemas 100,1000] [--databases 20,200]
        [--migrations 20] [--jobs 4] [--loop-limit 50] [--output FILE]

Each size runs on a fresh database (`dbshift_bench_fleet_<random>`, dropped afterwards,
also on Ctrl-C) and fresh MariaDB databases. Every tool runs as a whole process; the
figures are its wall time, and its CPU time (user + system, of that process alone:
`os.wait4`) and peak memory (max RSS), which a busy machine disturbs less than the wall
time. The shell loop is timed over at most `--loop-limit` targets and its per-target
time given (the loop is linear by construction). Alembic's multi-tenant recipe (one
process looping over the schemas in its env.py, each on its own connection with the
schema first on `search_path` and its version table in it) runs from the peers'
virtualenv (`DBSHIFT_BENCH_PEERS`, default /tmp/peers; left out without it). Nothing
here belongs in the test suite.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa

from dbshift.migrations import sumfile
from dbshift.migrations.scripts import scan

PYTHON = sys.executable
DBSHIFT = str(Path(PYTHON).parent / "dbshift")
PG_ADMIN = os.environ.get(
    "DBSHIFT_BENCH_POSTGRESQL_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
MARIADB_ADMIN = os.environ.get("DBSHIFT_BENCH_MARIADB_URL", "mysql+pymysql://root@127.0.0.1:3306/")


@dataclasses.dataclass(frozen=True)
class Measured:
    wall: float
    cpu: float
    max_rss_mb: float
    #: the database server's CPU time meanwhile (None where it cannot be read)
    server: float | None = None


def _proc_cpu(pid: int, children: bool) -> float:
    """A process's CPU seconds from /proc: its own (user + system, all its threads),
    or with `children` those of its children it has reaped (a PostgreSQL backend's
    time reaches the postmaster's when the backend exits)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    start = 13 if children else 11  # cutime, cstime / utime, stime (fields 14-17)
    return (int(fields[start]) + int(fields[start + 1])) / os.sysconf("SC_CLK_TCK")


def server_clock(url: str) -> Callable[[], float] | None:
    """The local server's CPU time so far, if it runs on this machine and /proc shows
    it: PostgreSQL's exited backends (the postmaster's reaped children; each target's
    connection closes when it is done), MariaDB's one process. None elsewhere."""
    engine = sa.create_engine(url, poolclass=sa.NullPool)
    try:
        with engine.connect() as conn:
            if engine.dialect.name == "postgresql":
                folder = conn.exec_driver_sql("SHOW data_directory").scalar()
                pid = int((Path(str(folder)) / "postmaster.pid").read_text().split()[0])
                children = True
            else:
                pid_file = conn.exec_driver_sql("SELECT @@pid_file").scalar()
                pid = int(Path(str(pid_file)).read_text().split()[0])
                children = False
        _proc_cpu(pid, children)
    except (OSError, ValueError, IndexError, sa.exc.DBAPIError):
        return None
    finally:
        engine.dispose()
    return lambda: _proc_cpu(pid, children)


def run(
    args: Sequence[str],
    cwd: Path,
    env: dict[str, str] | None = None,
    server: Callable[[], float] | None = None,
) -> Measured:
    """One process, timed: wall, its own CPU time and peak memory, and the server's CPU
    time meanwhile when `server` reads it."""
    before = server() if server else None
    started = time.perf_counter()
    process = subprocess.Popen(
        list(args), cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        error = process.stderr.read().decode() if process.stderr else ""
        raise SystemExit(f"{' '.join(args)} exited {process.returncode}: {error.strip()}")
    if process.stderr:
        process.stderr.close()
    used = server() - before if server and before is not None else None
    return Measured(wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, used)


def loop_total(parts: list[Measured], wall: float) -> Measured:
    """A loop of processes as one: CPU and server time summed, the peak memory."""
    servers = [m.server for m in parts]
    server = None if None in servers else sum(s for s in servers if s is not None)
    return Measured(wall, sum(m.cpu for m in parts), max(m.max_rss_mb for m in parts), server)


def write_project(root: Path, url: str, count: int, fleet: str) -> None:
    """`count` static Python migrations (a table, then a column), and `[fleet]`."""
    migrations = root / "migrations"
    migrations.mkdir(parents=True)
    parent: list[str] = []
    for i in range(count):
        migration_id = f"20260101T{i:06d}_step"
        body = f"parents = {parent!r}\nimport sqlalchemy as sa\n\n\ndef upgrade(op):\n" + (
            f'    op.create_table("t{i}", sa.Column("id", sa.Integer, primary_key=True))\n'
            if i % 2 == 0
            else f'    op.add_column("t{i - 1}", sa.Column("c{i}", sa.String(40)))\n'
        )
        (migrations / f"{migration_id}.py").write_text(body)
        parent = [migration_id]
    sumfile.write(migrations, scan(migrations))
    (root / "dbshift.toml").write_text(f'url = "{url}"\n[fleet]\n{fleet}\n')


@contextmanager
def pg_database(schemas: int) -> Iterator[str]:
    name = f"dbshift_bench_fleet_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(PG_ADMIN, poolclass=sa.NullPool)
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text(f"CREATE DATABASE {name}"))
    url = sa.make_url(PG_ADMIN).set(database=name).render_as_string(False)
    engine = sa.create_engine(url, poolclass=sa.NullPool)
    with engine.begin() as conn:
        for i in range(schemas):
            conn.execute(sa.text(f"CREATE SCHEMA tenant_{i:05d}"))
    engine.dispose()
    try:
        yield url
    finally:
        with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(sa.text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        admin.dispose()


@contextmanager
def mariadb_databases(count: int) -> Iterator[tuple[str, list[str]]]:
    prefix = f"dbshift_bench_fleet_{uuid.uuid4().hex[:6]}"
    names = [f"{prefix}_{i:05d}" for i in range(count)]
    admin = sa.create_engine(MARIADB_ADMIN, poolclass=sa.NullPool)
    try:
        with admin.connect() as conn:
            for name in names:
                conn.execute(sa.text(f"CREATE DATABASE {name}"))
        url = sa.make_url(MARIADB_ADMIN).set(database=names[0]).render_as_string(False)
        yield url, names
    finally:
        with admin.connect() as conn:
            for name in names:
                conn.execute(sa.text(f"DROP DATABASE IF EXISTS {name}"))
        admin.dispose()


def bench_pg(size: int, migrations: int, jobs: int, loop_limit: int) -> list[str]:
    rows = []
    with tempfile.TemporaryDirectory() as tmp, pg_database(size) as url:
        root = Path(tmp) / "fleet"
        write_project(root, url, migrations, 'schemas = "tenant_*"')
        clock = server_clock(url)
        fleet = run([DBSHIFT, "fleet", "upgrade", "--jobs", str(jobs)], root, server=clock)
        rows.append(_row(f"PostgreSQL, {size} schemas", "dbshift fleet upgrade", fleet, size))
    with tempfile.TemporaryDirectory() as tmp, pg_database(1) as url:
        root = Path(tmp) / "single"
        write_project(root, url, migrations, 'schemas = "tenant_*"')
        tenant = f"{url}?options=-csearch_path%3Dtenant_00000"
        single = run(
            [DBSHIFT, "--url", tenant, "--schema", "tenant_00000", "upgrade"],
            root,
            server=server_clock(url),
        )
        rows.append(_row("PostgreSQL, 1 schema", "dbshift upgrade (one target)", single, 1))
    loop = min(size, loop_limit)
    with tempfile.TemporaryDirectory() as tmp, pg_database(loop) as url:
        root = Path(tmp) / "loop"
        write_project(root, url, migrations, 'schemas = "tenant_*"')
        clock, parts, started = server_clock(url), [], time.perf_counter()
        for i in range(loop):
            tenant = f"{url}?options=-csearch_path%3Dtenant_{i:05d}"
            command = [DBSHIFT, "--url", tenant, "--schema", f"tenant_{i:05d}", "upgrade"]
            parts.append(run(command, root, server=clock))
        looped = loop_total(parts, time.perf_counter() - started)
        rows.append(
            _row(f"PostgreSQL, {loop} schemas", "shell loop of dbshift upgrade", looped, loop)
        )
    return rows


PEERS_PY = str(Path(os.environ.get("DBSHIFT_BENCH_PEERS", "/tmp/peers")) / "bin" / "python")

#: Alembic's multi-tenant loop: one process, each tenant schema on its own connection
#: with the schema first on search_path and the version table in it
ALEMBIC_ENV = """
import sqlalchemy as sa
from alembic import context

engine = sa.create_engine(context.config.get_main_option("sqlalchemy.url"), poolclass=sa.NullPool)
with engine.connect() as conn:
    schemas = [r[0] for r in conn.execute(sa.text(
        "SELECT nspname FROM pg_namespace WHERE nspname LIKE 'tenant\\_%' ORDER BY 1"))]
for schema in schemas:
    with engine.connect() as connection:
        connection.execute(sa.text(f'SET search_path TO "{schema}", public'))
        connection.commit()
        context.configure(
            connection=connection, version_table_schema=schema, transaction_per_migration=True
        )
        with context.begin_transaction():
            context.run_migrations()
engine.dispose()
"""


def alembic_project(root: Path, url: str, count: int) -> None:
    """The same migrations as Alembic revisions, and the tenant loop as its env.py."""
    scripts = root / "scripts"
    (scripts / "versions").mkdir(parents=True)
    (root / "alembic.ini").write_text(
        f"[alembic]\nscript_location = {scripts}\nsqlalchemy.url = {url}\n"
    )
    (scripts / "env.py").write_text(ALEMBIC_ENV)
    previous = None
    for i in range(count):
        revision = f"r{i:04d}"
        body = (
            f'op.create_table("t{i}", sa.Column("id", sa.Integer, primary_key=True))'
            if i % 2 == 0
            else f'op.add_column("t{i - 1}", sa.Column("c{i}", sa.String(40)))'
        )
        (scripts / "versions" / f"{revision}.py").write_text(
            f"import sqlalchemy as sa\nfrom alembic import op\n\nrevision = {revision!r}\n"
            f"down_revision = {previous!r}\nbranch_labels = None\ndepends_on = None\n\n\n"
            f"def upgrade():\n    {body}\n"
        )
        previous = revision


def bench_alembic(size: int, migrations: int) -> list[str]:
    check = subprocess.run([PEERS_PY, "-c", "import alembic, psycopg"], capture_output=True)
    if check.returncode:
        print(f"(Alembic left out: no {PEERS_PY} with alembic and psycopg)", file=sys.stderr)
        return []
    with tempfile.TemporaryDirectory() as tmp, pg_database(size) as url:
        root = Path(tmp) / "alembic"
        alembic_project(root, url, migrations)
        looped = run([PEERS_PY, "-m", "alembic", "upgrade", "head"], root, server=server_clock(url))
        return [_row(f"PostgreSQL, {size} schemas", "Alembic multi-tenant loop", looped, size)]


def bench_mariadb(size: int, migrations: int, jobs: int, loop_limit: int) -> list[str]:
    rows = []
    with tempfile.TemporaryDirectory() as tmp, mariadb_databases(size) as (url, names):
        root = Path(tmp) / "fleet"
        prefix = names[0].rsplit("_", 1)[0]
        write_project(root, url, migrations, f'databases = "{prefix}_*"')
        clock = server_clock(url)
        fleet = run([DBSHIFT, "fleet", "upgrade", "--jobs", str(jobs)], root, server=clock)
        rows.append(_row(f"MariaDB, {size} databases", "dbshift fleet upgrade", fleet, size))
    loop = min(size, loop_limit)
    with tempfile.TemporaryDirectory() as tmp, mariadb_databases(loop) as (url, names):
        root = Path(tmp) / "loop"
        write_project(root, url, migrations, 'databases = "none"')
        clock, parts, started = server_clock(url), [], time.perf_counter()
        for name in names:
            target = sa.make_url(url).set(database=name).render_as_string(False)
            parts.append(run([DBSHIFT, "--url", target, "upgrade"], root, server=clock))
        looped = loop_total(parts, time.perf_counter() - started)
        rows.append(
            _row(f"MariaDB, {loop} databases", "shell loop of dbshift upgrade", looped, loop)
        )
    with tempfile.TemporaryDirectory() as tmp, mariadb_databases(1) as (url, names):
        root = Path(tmp) / "single"
        write_project(root, url, migrations, 'databases = "none"')
        single = run([DBSHIFT, "upgrade"], root, server=server_clock(url))
        rows.append(_row("MariaDB, 1 database", "dbshift upgrade (one target)", single, 1))
    return rows


def _row(what: str, tool: str, measured: Measured, targets: int) -> str:
    server = "n/a" if measured.server is None else f"{measured.server / targets * 1000:.0f}"
    return (
        f"| {what} | {tool} | {measured.wall:.2f} | {targets / measured.wall:.1f} | "
        f"{measured.wall / targets * 1000:.0f} | {measured.cpu:.2f} | "
        f"{measured.cpu / targets * 1000:.0f} | {server} | {measured.max_rss_mb:.0f} |"
    )


SECTION = "## Fleets: one history over many tenants (bench/fleet.py)"

HEADER = (
    "| targets | tool | wall s | targets/s | wall ms/target | CPU s | CPU ms/target "
    "| server CPU ms/target | max RSS MB |\n"
    "|---|---|---|---|---|---|---|---|---|"
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--schemas", default="100,1000", help="PostgreSQL schema counts")
    parser.add_argument("--databases", default="20,200", help="MariaDB database counts")
    parser.add_argument("--migrations", type=int, default=20)
    parser.add_argument("--jobs", type=int, default=4)
    parser.add_argument("--loop-limit", type=int, default=50)
    parser.add_argument(
        "--output",
        type=Path,
        default=Path(__file__).parent / "RESULTS.md",
        help="the report whose Fleets section is replaced (default bench/RESULTS.md)",
    )
    options = parser.parse_args()
    rows = []
    for size in (int(s) for s in options.schemas.split(",") if s):
        rows += bench_pg(size, options.migrations, options.jobs, options.loop_limit)
        rows += bench_alembic(size, options.migrations)
    for size in (int(s) for s in options.databases.split(",") if s):
        rows += bench_mariadb(size, options.migrations, options.jobs, options.loop_limit)
    table = "\n".join([HEADER, *rows])
    print(table)
    # bench/autogen.py's: replaces one `## ` section, kept when bench/run.py rewrites
    from autogen import write_section

    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    write_section(
        options.output,
        f"{SECTION}\n\n<!-- Generated by bench/fleet.py; re-running it replaces this section only. -->\n\n"
        f"{time.strftime('%Y-%m-%d')}, commit {commit}, load average before the run {load}; "
        f"{options.migrations} migrations per target, `--jobs {options.jobs}`; CPU is each "
        "process's own (`wait4`).\n\n"
        f"{table}\n",
        SECTION,
    )


if __name__ == "__main__":
    main()
