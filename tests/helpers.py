"""A migration project on disk, driven through the real CLI entry point."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest
import sqlalchemy as sa

from dbshift.cli import main
from dbshift.database import is_async
from dbshift.errors import DbshiftError
from dbshift.migrations import sumfile
from dbshift.migrations.scripts import scan

T = TypeVar("T")


@dataclasses.dataclass
class Result:
    code: int
    out: str
    err: str

    @property
    def json(self) -> Any:
        return json.loads(self.out)


class Project:
    """A folder with dbshift.toml and migrations, pointing at one test database."""

    def __init__(self, root: Path, url: str, capsys: pytest.CaptureFixture[str]) -> None:
        self.root = root
        self.url = url
        self.capsys = capsys
        self.migrations = root / "migrations"
        self.migrations.mkdir(parents=True, exist_ok=True)
        (root / "dbshift.toml").write_text(f'url = "{url}"\nrunner_lock_timeout = 10\n')
        self._counter = 0

    def cli(self, *args: str) -> Result:
        """Run `dbshift ARGS` in-process from the project folder."""
        self.capsys.readouterr()
        cwd = os.getcwd()
        os.chdir(self.root)
        try:
            main(list(args))
        except SystemExit as done:
            code = int(done.code or 0)
        finally:
            os.chdir(cwd)
        captured = self.capsys.readouterr()
        return Result(code, captured.out, captured.err)

    def ok(self, *args: str) -> Result:
        result = self.cli(*args)
        assert result.code == 0, (
            f"dbshift {' '.join(args)} exited {result.code}: {result.err}{result.out}"
        )
        return result

    def fails(self, code: int, *args: str) -> Result:
        result = self.cli(*args)
        assert result.code == code, (
            f"expected exit {code}, got {result.code}: {result.err}{result.out}"
        )
        assert "Traceback" not in result.err + result.out
        return result

    def _next_id(self, name: str) -> str:
        self._counter += 1
        return f"20260101T{self._counter:06d}_{name}"

    def python(
        self,
        name: str,
        upgrade: str,
        downgrade: str | None = None,
        parents: list[str] | None = None,
        header: str = "",
    ) -> str:
        """Write a Python migration whose parents default to the previous one."""
        parents = self._default_parents() if parents is None else parents
        migration_id = self._next_id(name)
        body = f'"""{name}"""\n\nparents = {parents!r}\n{header}\nimport sqlalchemy as sa\n\n\n'
        body += "def upgrade(op):\n" + _indent(upgrade)
        if downgrade is not None:
            body += "\n\ndef downgrade(op):\n" + _indent(downgrade)
        (self.migrations / f"{migration_id}.py").write_text(body)
        self.record_sums()
        return migration_id

    def sql(
        self,
        name: str,
        up: str,
        down: str | None = None,
        parents: list[str] | None = None,
        header: str = "",
    ) -> str:
        parents = self._default_parents() if parents is None else parents
        migration_id = self._next_id(name)
        text = f"-- {name}\n-- parents: {', '.join(parents)}\n{header}\n-- dbshift:up\n{up}\n"
        if down is not None:
            text += f"-- dbshift:down\n{down}\n"
        (self.migrations / f"{migration_id}.sql").write_text(text)
        self.record_sums()
        return migration_id

    def record_sums(self) -> None:
        """Write dbshift.sum as `dbshift new` would have (the tests write files directly).
        A folder that cannot be scanned (a test's deliberately broken file) is left alone."""
        with contextlib.suppress(DbshiftError):
            sumfile.write(self.migrations, scan(self.migrations))

    def _default_parents(self) -> list[str]:
        ids = sorted(p.stem for p in self.migrations.iterdir() if p.suffix in (".py", ".sql"))
        return ids[-1:]

    def engine(self) -> sa.Engine:
        return sa.create_engine(self.url, poolclass=sa.NullPool)

    def tables(self) -> set[str]:
        engine = self.engine()
        try:
            return set(sa.inspect(engine).get_table_names())
        finally:
            engine.dispose()

    def columns(self, table: str) -> list[str]:
        engine = self.engine()
        try:
            return [c["name"] for c in sa.inspect(engine).get_columns(table)]
        finally:
            engine.dispose()

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        engine = self.engine()
        try:
            with engine.connect() as conn:
                return [tuple(r) for r in conn.execute(sa.text(sql))]
        finally:
            engine.dispose()

    def applied(self) -> list[str]:
        if "dbshift_history" not in self.tables():
            return []
        return [
            r[0]
            for r in self.query(
                "SELECT id FROM dbshift_history WHERE state = 'applied' ORDER BY id"
            )
        ]

    def fingerprint(self) -> tuple[Any, ...]:
        """Everything a failed command must leave untouched: schema, history, files."""
        engine = self.engine()
        try:
            inspector = sa.inspect(engine)
            schema = tuple(
                (
                    t,
                    tuple(
                        (c["name"], str(c["type"]), c["nullable"]) for c in inspector.get_columns(t)
                    ),
                )
                for t in sorted(inspector.get_table_names())
            )
        finally:
            engine.dispose()
        history = (
            tuple(self.query("SELECT id, checksum, state FROM dbshift_history ORDER BY id"))
            if "dbshift_history" in {t for t, _ in schema}
            else ()
        )
        files = tuple(
            sorted(
                (p.name, p.read_bytes())
                for p in self.root.rglob("*")
                if p.is_file() and p.suffix in (".py", ".sql", ".toml", ".sum")
            )
        )
        return schema, history, files


def run_process(
    args: list[str], cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """`python -m dbshift ARGS` as a real process."""
    return subprocess.run(
        [sys.executable, "-m", "dbshift", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=120,
    )


def _indent(code: str) -> str:
    return "".join(
        f"    {line}\n" if line.strip() else "\n" for line in code.strip("\n").splitlines()
    )


def connected(url: str, fn: Callable[[sa.Connection], T]) -> T:
    """`fn(connection)` through the URL's own driver: async drivers (asyncpg,
    aiosqlite, asyncmy) through `run_sync`, as dbshift drives them."""
    if not is_async(sa.make_url(url)):
        engine = sa.create_engine(url, poolclass=sa.NullPool)
        try:
            with engine.connect() as conn:
                return fn(conn)
        finally:
            engine.dispose()

    async def run() -> T:
        from sqlalchemy.ext.asyncio import create_async_engine

        async_engine = create_async_engine(url, poolclass=sa.NullPool)
        try:
            async with async_engine.connect() as conn:
                result: T = await conn.run_sync(fn)
                return result
        finally:
            await async_engine.dispose()

    return asyncio.run(run())


#: of `dbshift.dialects`, the backend lookup alone: flags and limits, which import a
#: backend's rules, lock, normalizer and introspection only when asked (`status` asks it
#: for the history's timestamp type, the engine's options and the splitter's lexicon),
#: and MariaDB's connection factory (PyMySQL without loading the CA bundle for nothing)
BACKEND_LOOKUP = frozenset(
    {"dbshift.dialects", "dbshift.dialects.backend", "dbshift.dialects.limits"}
    | {f"dbshift.dialects.{name}" for name in ("postgresql", "mysql", "sqlite")}
    | {"dbshift.dialects.mysql.flavour", "dbshift.dialects.mysql.charsets"}
    | {"dbshift.dialects.mysql.connect"}
)
