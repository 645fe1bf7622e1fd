"""The floor of the guarantees' own round trips: what the statements dbshift adds to
each migration (beyond raw's DDL, transaction and one-row bookkeeping insert) cost at
the bare DB-API driver, with no SQLAlchemy and no dbshift Python in the way.

    .venv/bin/python bench/floor.py [--backends sqlite,postgresql,mariadb] [--repeat 300]

It applies a few migrations with dbshift, records every statement it sends (a
`before_cursor_execute` hook: the exact SQL and parameters the driver got), keeps the
statements of one migration, and replays them through the driver alone, `--repeat`
times, in fresh databases: once all of them (dbshift's statements at the driver), once
without the ones raw does not send (raw's equivalent). Their difference per migration is
the floor: what a tool keeping dbshift's guarantees spends at least, however fast its
Python is. Wall time (a round trip waits for the server) and the client's CPU time, both
printed; on a shared machine read them as an estimate. Not part of the test suite.
"""

from __future__ import annotations

import argparse
import re
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from run import database, dbshift_project

from dbshift import api
from dbshift.config import Config


def capture(url: str, folder: Path) -> list[tuple[str, Any]]:
    """Every (statement, parameters) dbshift's upgrade sent to the driver."""
    sent: list[tuple[str, Any]] = []

    def hook(_conn: Any, _cursor: Any, statement: str, params: Any, *_: Any) -> None:
        sent.append((statement, params))

    def commit(_conn: Any) -> None:
        sent.append(("COMMIT", None))

    sa.event.listen(sa.engine.Engine, "before_cursor_execute", hook)
    sa.event.listen(sa.engine.Engine, "commit", commit)
    try:
        api.upgrade(Config(url=url, migrations=folder))
    finally:
        sa.event.remove(sa.engine.Engine, "before_cursor_execute", hook)
        sa.event.remove(sa.engine.Engine, "commit", commit)
    return sent


def one_migration(sent: list[tuple[str, Any]], table: str) -> list[tuple[str, Any]]:
    """The statements of the migration that creates `table`: from the statement before
    its CREATE TABLE that starts its transaction to its last bookkeeping write."""
    start = next(
        i
        for i, (s, _) in enumerate(sent)
        if f'TABLE "{table}"' in s or f"TABLE `{table}`" in s or f"TABLE {table} " in s
    )
    nxt = next(i for i, (s, _) in enumerate(sent) if i > start and "CREATE TABLE" in s)
    # after the previous migration's last commit, up to this one's last
    begin = max(i for i in range(start) if sent[i][0] == "COMMIT") + 1
    end = max(i for i in range(nxt) if sent[i][0] == "COMMIT") + 1
    return sent[begin:end]


def _bookkeeping_write(sql: str) -> bool:
    return bool(re.match(r"\s*(WITH|INSERT|UPDATE|DELETE)\b", sql)) and "dbshift_" in sql


def raw_sends(sql: str) -> bool:
    """What raw sends too: the DDL and the BEGIN (its commit is the replay's own)."""
    return is_ddl(sql) or sql.strip().upper().startswith("BEGIN")


def is_ddl(sql: str) -> bool:
    return bool(re.match(r"\s*(CREATE|ALTER|DROP)\b", sql))


def replay(
    url: str, statements: list[tuple[str, Any]], repeat: int, subsets: dict[str, Any]
) -> dict[str, tuple[float, float]]:
    """(wall ms, CPU ms) per migration for each subset of `statements` (the ones its
    predicate accepts), sent through the bare driver `repeat` times, the subsets taking
    turns (so that the machine's load falls on each alike), each migration's table and
    index renamed apart and its history row's id made unique; the medians."""
    engine = sa.create_engine(url)
    raw = engine.raw_connection()
    dbapi = raw.driver_connection
    assert dbapi is not None
    cursor = dbapi.cursor()
    kept = {name: [(s, p) for s, p in statements if keep(s)] for name, keep in subsets.items()}
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in subsets}
    try:
        for n in range(repeat):
            for name, chosen in kept.items():
                tag = f"{name}{n}"
                batch = [(_rename(s, tag), _unique(p, tag)) for s, p in chosen]
                t0, c0 = time.perf_counter(), time.process_time()
                for sql, params in batch:
                    if sql == "COMMIT":
                        dbapi.commit()
                    elif params:
                        cursor.execute(sql, params)
                    else:
                        cursor.execute(sql)
                    if cursor.description is not None:
                        cursor.fetchall()
                if chosen[-1][0] != "COMMIT":
                    dbapi.commit()
                times[name].append((time.perf_counter() - t0, time.process_time() - c0))
    finally:
        raw.close()
        engine.dispose()
    return {
        name: (
            statistics.median(w for w, _ in got) * 1000,
            statistics.median(c for _, c in got) * 1000,
        )
        for name, got in times.items()
    }


def _rename(sql: str, n: str) -> str:
    """The migration's own table and index (not the table it references) renamed apart."""
    return (
        re.sub(r"\b(ix_)?t2(?=\b|_)", lambda m: f"{m.group(1) or ''}f{n}_t2", sql)
        if is_ddl(sql)
        else sql
    )


def _unique(params: Any, n: str) -> Any:
    if isinstance(params, dict):
        return {
            k: (f"{v}~{n}" if isinstance(v, str) and re.search(r"_t\d+$", v) else v)
            for k, v in params.items()
        }
    if isinstance(params, (tuple, list)):
        return type(params)(
            f"{v}~{n}" if isinstance(v, str) and re.search(r"_t\d+$", v) else v for v in params
        )
    return params


def work_floor(folder: Path, dialect: sa.Dialect) -> dict[str, float]:
    """CPU ms per migration of the work any tool that runs these Python migrations with
    SQLAlchemy DDL does before its first round trip, with no bookkeeping at all: compile
    the file, run its `upgrade` against a recorder that only builds the `sa.Table` (and
    the stand-in of the table its foreign key names, which `REFERENCES` needs), compile
    CREATE TABLE and CREATE INDEX for the dialect."""
    import types

    files = sorted(folder.glob("*.py"))
    sources = [(f, f.read_bytes()) for f in files]
    tables: list[sa.Table] = []
    indexes: list[sa.Index] = []

    class Recorder:
        def create_table(self, name: str, *items: Any) -> None:
            table = sa.Table(name, sa.MetaData(), *items)
            for fk in table.foreign_keys:
                ref, column = fk.target_fullname.split(".")
                sa.Table(ref, table.metadata, sa.Column(column, sa.Integer))
            tables.append(table)

        def create_index(self, name: str, table: str, columns: list[str]) -> None:
            indexes.append(sa.Index(name, *(tables[-1].c[c] for c in columns)))

    t0 = time.process_time()
    codes = [compile(source, str(f), "exec", dont_inherit=True) for f, source in sources]
    t1 = time.process_time()
    recorder = Recorder()
    for code in codes:
        module = types.ModuleType("m")
        exec(code, module.__dict__)
        module.upgrade(recorder)
    t2 = time.process_time()
    for table in tables:
        str(sa.schema.CreateTable(table).compile(dialect=dialect))
    t3 = time.process_time()
    for index in indexes:
        str(sa.schema.CreateIndex(index).compile(dialect=dialect))
    t4 = time.process_time()
    n = len(files) / 1000
    return {
        "compile the file": (t1 - t0) / n,
        "run upgrade: columns, Table, stand-in": (t2 - t1) / n,
        "compile CREATE TABLE": (t3 - t2) / n,
        "compile CREATE INDEX": (t4 - t3) / n,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--backends", default="sqlite,postgresql,mariadb")
    parser.add_argument("--repeat", type=int, default=300)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="dbshift_floor_"))
    try:
        big = dbshift_project(work / "many", 500)
        names = {"sqlite": "sqlite", "postgresql": "postgresql", "mariadb": "mysql"}
        for backend in args.backends.split(","):
            dialect = sa.dialects.registry.load(names[backend])()
            runs = [work_floor(big, dialect) for _ in range(3)]
            parts = {what: min(r[what] for r in runs) for what in runs[0]}
            print(
                f"\n{backend}: the SQLAlchemy work of one migration, CPU ms (500 migrations, best of 3):"
            )
            for what, ms in parts.items():
                print(f"  {what:40} {ms:.3f}")
            print(f"  {'in all':40} {sum(parts.values()):.3f}")
        folder = dbshift_project(work / "migrations", 4)
        for backend in args.backends.split(","):
            with database(backend, work) as url:
                statements = one_migration(capture(url, folder), "t2")
                report(backend, url, statements, args.repeat)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


def report(backend: str, url: str, statements: list[tuple[str, Any]], repeat: int) -> None:
    print(f"\n{backend}: one migration's statements, as dbshift sends them:")
    for sql, _ in statements:
        print("   ", " ".join(sql.split())[:110])
    inserts = [s for s, _ in statements if _bookkeeping_write(s)]
    first = inserts[-1] if inserts else None

    def raw_too(sql: str) -> bool:  # raw: the DDL and one bookkeeping insert
        return raw_sends(sql) or sql is first

    got = replay(url, statements, repeat, {"d": lambda s: True, "r": raw_too})
    full, bare = got["d"], got["r"]
    # raw commits once too: the migration's last COMMIT is not an extra
    kinds = len(statements) - sum(1 for s, _ in statements if raw_too(s)) - 1
    print(
        f"  all dbshift's statements at the driver: {full[0]:.3f} ms wall, "
        f"{full[1]:.3f} ms CPU per migration (medians)"
    )
    print(
        f"  raw's (DDL + one insert):               {bare[0]:.3f} ms wall, "
        f"{bare[1]:.3f} ms CPU per migration"
    )
    print(
        f"  floor of the {kinds} extra statements:       {full[0] - bare[0]:.3f} ms wall, "
        f"{full[1] - bare[1]:.3f} ms CPU per migration"
    )


if __name__ == "__main__":
    sys.exit(main())
