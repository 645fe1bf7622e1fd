"""One project/backend pair: the four properties, for dbshift and for Alembic.

Runs inside the project's venv (`python -m tests.corpus.pair PROJECT BACKEND`, cwd the
repository) and prints one JSON object. Every database is created fresh, uniquely named,
and dropped afterwards. The properties:

- p1: `make` into an empty migrations folder, then `upgrade`, gives the schema
  `metadata.create_all()` gives on a fresh database (compared as the client dumps it);
- p2: a second `make --check` finds nothing, against the replayed migrations and against
  the live database;
- p3: `downgrade base` leaves nothing but the tool's own bookkeeping;
- p4: `upgrade` again gives the schema of the first upgrade;
- p5 (dbshift only: Alembic has no such command): `baseline` of a database the models
  were created in, then `upgrade` of a fresh database from that one migration, gives the
  schema `create_all()` gives, and `drift` finds nothing against the migrations and the
  models.

Each value is "pass", "fail: <why>" or "not run: <why>".
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import os
import re
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from tests.corpus import dumps, manifest

REPO = Path(__file__).resolve().parents[2]
SERVERS = {
    "postgresql": os.environ.get(
        "DBSHIFT_TEST_POSTGRESQL_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
    ),
    "mysql": os.environ.get("DBSHIFT_TEST_MYSQL_URL", "mysql+pymysql://root@127.0.0.1:3306/test"),
}
PROPERTIES = ("p1", "p2", "p3", "p4")
TIMEOUT = 600


def load_metadata(specs: tuple[str, ...] | list[str]) -> list[sa.MetaData]:
    """The distinct MetaData objects the `module:attr` specs name (as dbshift reads them)."""
    found: list[sa.MetaData] = []
    for spec in specs:
        module, _, attr = spec.partition(":")
        obj: Any = importlib.import_module(module)
        for part in attr.split("."):
            obj = getattr(obj, part)
        metadata = obj if isinstance(obj, sa.MetaData) else obj.metadata
        if all(metadata is not seen for seen in found):
            found.append(metadata)
    return found


class Scratch:
    """Fresh, uniquely named databases on one backend, all dropped at the end."""

    def __init__(self, backend: str, folder: Path) -> None:
        self.backend = backend
        self.folder = folder
        self.names: list[str] = []

    def create(self) -> str:
        name = f"corpus_db_{uuid.uuid4().hex[:12]}"  # not dbshift_*: see dumps.BOOKKEEPING
        if self.backend == "sqlite":
            return f"sqlite:///{self.folder / name}.sqlite"
        self._admin(f"CREATE DATABASE {name}")
        self.names.append(name)
        url = sa.make_url(SERVERS[self.backend]).set(database=name)
        return url.render_as_string(hide_password=False)

    def drop_all(self) -> None:
        for name in self.names:
            force = " WITH (FORCE)" if self.backend == "postgresql" else ""
            self._admin(f"DROP DATABASE IF EXISTS {name}{force}")

    def _admin(self, statement: str) -> None:
        engine = sa.create_engine(SERVERS[self.backend], poolclass=sa.NullPool)
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(sa.text(statement))
        engine.dispose()


def _first_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines and lines[-1].startswith("error:") else (lines[0] if lines else "")


def _error(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}"[:300]


def _env(project: manifest.Project) -> dict[str, str]:
    env = dict(os.environ)
    env.update(project.env)
    # this checkout's dbshift and tests, whatever tree built the venv
    here = os.pathsep.join([str(REPO / "src"), str(REPO)])
    env["PYTHONPATH"] = os.pathsep.join([here, env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env.pop("DBSHIFT_ENV", None)
    return env


def _compare(expected: list[str], actual: list[str]) -> str:
    if expected == actual:
        return "pass"
    return "fail: " + " ; ".join(dumps.differences(expected, actual))


#: SQLite's own table behind AUTOINCREMENT: it cannot be dropped, so it is not "left"
_SQLITE_INTERNAL = "CREATE TABLE sqlite_sequence(name,seq)"


def _nothing_left(state: list[str]) -> str:
    state = [statement for statement in state if statement != _SQLITE_INTERNAL]
    if not state:
        return "pass"
    return "fail: left " + " ; ".join(s.splitlines()[0] for s in state[:8])


class Dbshift:
    """dbshift driven through its real CLI, one process per command, like a user."""

    def __init__(self, project: manifest.Project, url: str, work: Path) -> None:
        self.env = _env(project)
        self.work = work
        work.mkdir()
        (work / "migrations").mkdir()
        models = ", ".join(json.dumps(spec) for spec in project.models)
        (work / "dbshift.toml").write_text(
            f'url = {json.dumps(url)}\nmigrations = "migrations"\nmodels = [{models}]\n'
        )

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "dbshift", *args],
            cwd=self.work,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
        )

    def live_diff(self) -> subprocess.CompletedProcess[str]:
        code = (
            "import dbshift, sys\n"
            "ops = dbshift.diff(dbshift.Config.load('dbshift.toml'))\n"
            "print(' / '.join(repr(op).split(', existing=')[0][:200] for op in ops))\n"
            "sys.exit(1 if ops else 0)\n"
        )
        return subprocess.run(
            [sys.executable, "-c", code],
            cwd=self.work,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
        )


_MESSAGE = re.compile(r"^([\w.]+(Error|Exception|Failure|Detected)\w*: |error: |FAILED: )")


def _failed(step: str, done: subprocess.CompletedProcess[str]) -> str:
    """The step, its exit code and the line of its output that says what went wrong."""
    text = [
        line.strip() for line in (done.stderr + "\n" + done.stdout).splitlines() if line.strip()
    ]
    messages = [line for line in text if _MESSAGE.match(line)]
    tail = messages[-1] if messages else (text[-1] if text else "")
    return f"fail: {step} exit {done.returncode}: {tail}"[:400]


def run_dbshift(
    project: manifest.Project, backend: str, scratch: Scratch, oracle: list[str], tmp: Path
) -> dict[str, str]:
    result = dict.fromkeys(PROPERTIES, "not run: an earlier step failed")
    url = scratch.create()
    tool = Dbshift(project, url, tmp / "dbshift")
    made = tool.run("make", "-m", "initial", "--no-input")
    if made.returncode != 0:
        result["p1"] = _failed("make", made)
        return result
    up = tool.run("upgrade")
    if up.returncode != 0:
        result["p1"] = _failed("upgrade", up)
        return result
    first = dumps.dump(backend, url)
    result["p1"] = _compare(oracle, first)
    again = tool.run("make", "--check", "--no-input")
    live = tool.live_diff()
    problems = []
    if again.returncode != 0:
        problems.append("against migrations: " + (again.stdout + again.stderr).strip()[:300])
    if live.returncode != 0:
        problems.append("against the database: " + (live.stdout + live.stderr).strip()[:700])
    result["p2"] = "pass" if not problems else "fail: " + " ; ".join(problems).replace("\n", " / ")
    down = tool.run("downgrade", "base")
    if down.returncode != 0:
        result["p3"] = _failed("downgrade", down)
        return result
    result["p3"] = _nothing_left(dumps.dump(backend, url))
    up = tool.run("upgrade")
    if up.returncode != 0:
        result["p4"] = _failed("upgrade", up)
        return result
    result["p4"] = _compare(first, dumps.dump(backend, url))
    return result


def run_baseline(
    project: manifest.Project,
    backend: str,
    scratch: Scratch,
    metadatas: list[sa.MetaData],
    oracle: list[str],
    tmp: Path,
) -> str:
    """p5: the first migration `baseline` writes from a create_all database rebuilds it."""
    source = scratch.create()
    engine = sa.create_engine(source, poolclass=sa.NullPool)
    try:
        for metadata in metadatas:
            metadata.create_all(engine)
    finally:
        engine.dispose()
    tool = Dbshift(project, source, tmp / "baseline")
    for step in (("baseline",), ("drift",)):
        done = tool.run(*step)
        if done.returncode != 0:
            return _failed(step[0], done)
    target = scratch.create()
    up = tool.run("--url", target, "upgrade")
    if up.returncode != 0:
        return _failed("upgrade from the baseline", up)
    return _compare(oracle, dumps.dump(backend, target))


def refusal(project: manifest.Project, scratch: Scratch, tmp: Path) -> dict[str, str]:
    """Where create_all fails, `make` is expected to refuse: exit 2, one `error:` line."""
    tool = Dbshift(project, scratch.create(), tmp / "dbshift")
    made = tool.run("make", "-m", "initial", "--no-input")
    lines = [line for line in made.stderr.splitlines() if line.strip()]
    written = sorted(p.name for p in (tool.work / "migrations").iterdir())
    ok = made.returncode == 2 and len(lines) == 1 and lines[0].startswith("error:") and not written
    verdict = (
        "pass"
        if ok
        else f"fail: exit {made.returncode}, {len(lines)} stderr lines: "
        + (lines[-1] if lines else " / ".join(made.stdout.strip().splitlines()[:3]))
    )
    return {"refusal": verdict[:400]}


ENV_PY = '''\
"""Alembic's env.py, the minimal online form its tutorial shows."""
from alembic import context
from sqlalchemy import engine_from_config, pool

from tests.corpus.pair import load_metadata

target_metadata = load_metadata({specs!r})
connectable = engine_from_config(
    context.config.get_section(context.config.config_ini_section, {{}}),
    prefix="sqlalchemy.",
    poolclass=pool.NullPool,
)
with connectable.connect() as connection:
    context.configure(connection=connection, target_metadata=target_metadata)
    with context.begin_transaction():
        context.run_migrations()
'''


def run_alembic(
    project: manifest.Project, backend: str, scratch: Scratch, oracle: list[str], tmp: Path
) -> dict[str, str]:
    """Alembic's autogenerate with its defaults (compare_type on, server defaults off),
    through its own CLI. p2 is `alembic check` against the database (Alembic has no replay)."""
    result = dict.fromkeys(PROPERTIES, "not run: an earlier step failed")
    url = scratch.create()
    work = tmp / "alembic"
    work.mkdir()
    env = _env(project)

    def alembic(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "alembic", *args],
            cwd=work,
            env=env,
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
        )

    init = alembic("init", "migrations")
    if init.returncode != 0:
        result["p1"] = _failed("alembic init", init)
        return result
    ini = work / "alembic.ini"
    ini.write_text(
        "\n".join(
            f"sqlalchemy.url = {url.replace('%', '%%')}"
            if line.startswith("sqlalchemy.url")
            else line
            for line in ini.read_text().splitlines()
        )
    )
    (work / "migrations" / "env.py").write_text(ENV_PY.format(specs=list(project.models)))
    steps = [
        ("revision", ("revision", "--autogenerate", "-m", "initial")),
        ("upgrade", ("upgrade", "head")),
    ]
    for step, args in steps:
        done = alembic(*args)
        if done.returncode != 0:
            result["p1"] = _failed(f"alembic {step}", done)
            return result
    first = dumps.dump(backend, url)
    result["p1"] = _compare(oracle, first)
    check = alembic("check")
    result["p2"] = "pass" if check.returncode == 0 else _failed("alembic check", check)
    down = alembic("downgrade", "base")
    if down.returncode != 0:
        result["p3"] = _failed("alembic downgrade", down)
        return result
    result["p3"] = _nothing_left(dumps.dump(backend, url))
    up = alembic("upgrade", "head")
    if up.returncode != 0:
        result["p4"] = _failed("alembic upgrade", up)
        return result
    result["p4"] = _compare(first, dumps.dump(backend, url))
    return result


@contextlib.contextmanager
def _scratch(backend: str) -> Iterator[tuple[Scratch, Path]]:
    with tempfile.TemporaryDirectory(prefix="dbshift-corpus-") as folder:
        scratch = Scratch(backend, Path(folder))
        try:
            yield scratch, Path(folder)
        finally:
            scratch.drop_all()


def run_pair(project: manifest.Project, backend: str, tools: tuple[str, ...]) -> dict[str, Any]:
    os.environ.update(project.env)
    result: dict[str, Any] = {
        "project": project.name,
        "version": project.version,
        "backend": backend,
        "claimed": backend in project.backends,
        "sqlalchemy": sa.__version__,
        "create_all": "pass",
    }
    with _scratch(backend) as (scratch, tmp):
        try:
            metadatas = load_metadata(project.models)
        except Exception as exc:
            result["create_all"] = f"models do not import: {_error(exc)}"
            return result
        result["tables"] = sum(len(md.tables) for md in metadatas)
        engine = sa.create_engine(scratch.create(), poolclass=sa.NullPool)
        try:
            for metadata in metadatas:
                metadata.create_all(engine)
            oracle = dumps.dump(backend, engine.url.render_as_string(hide_password=False))
        except Exception as exc:
            result["create_all"] = f"create_all fails: {_error(exc)}"
            if "dbshift" in tools:
                result["dbshift"] = refusal(project, scratch, tmp)
            return result
        finally:
            engine.dispose()
        for name, runner in (("dbshift", run_dbshift), ("alembic", run_alembic)):
            if name in tools:
                try:
                    result[name] = runner(project, backend, scratch, oracle, tmp)
                    if name == "dbshift":
                        result[name]["p5"] = run_baseline(
                            project, backend, scratch, metadatas, oracle, tmp
                        )
                except Exception as exc:  # the harness itself must not hide a result
                    result[name] = {"p1": f"fail: harness error {_error(exc)}"}
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("project")
    parser.add_argument("backend", choices=manifest.BACKENDS)
    parser.add_argument("--tools", default="dbshift,alembic")
    args = parser.parse_args(argv)
    project = manifest.find(args.project)
    result = run_pair(project, args.backend, tuple(args.tools.split(",")))
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
