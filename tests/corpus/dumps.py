"""The oracle: each backend's own client dumps the schema, normalized as little as possible.

dbshift's introspection is never used to judge dbshift. Every normalization below is a
place a difference could hide, so each is listed (and repeated in docs/autogenerate.md):

- N1 all backends: the dump is split into statements at a `;` that ends a line, and the
  statements are sorted (creation order is not schema);
- N2 all backends: statements naming a bookkeeping table (`dbshift_*`, `alembic_version`)
  are dropped, with the sequences, keys and indexes that belong to them;
- N3 all backends: blank lines and leading/trailing whitespace of each line are dropped;
- N4 PostgreSQL: pg_dump's session preamble (`SET ...;`, `SELECT pg_catalog.set_config`,
  `--` comment lines, and the `\\restrict`/`\\unrestrict` lines with their random key) is
  dropped;
- N5 MariaDB: mariadb-dump's whole-line version comments are dropped (the
  `/*!40101 SET character_set_client ... */;` lines around each table and the
  `/*M!999999\\- enable the sandbox mode */` first line);
- N6 SQLite: runs of spaces and tabs inside a line become one space (SQLite keeps the
  CREATE text verbatim, so whitespace is all that differs between equal schemas);
- N7 all backends: inside a CREATE TABLE, the table-level constraint and key lines
  (`PRIMARY KEY`, `UNIQUE`, `FOREIGN KEY`, `CHECK`, `CONSTRAINT`, `KEY`, `INDEX`) are
  sorted after the columns and lose their trailing comma; columns keep their order (a
  SQLite table's text lists its constraints in the order they were declared, MariaDB its
  keys in the order they were added, and neither order is part of the schema).
"""

from __future__ import annotations

import collections
import os
import re
import subprocess

import sqlalchemy as sa

BOOKKEEPING = re.compile(r"\b(dbshift_\w+|alembic_version)\b")
_PG_NOISE = re.compile(r"^(SET |SELECT pg_catalog\.set_config|--|\\restrict|\\unrestrict)")
_MARIADB_NOISE = re.compile(r"^/\*M?!\d+.*\*/;?$")


def dump(backend: str, url: str) -> list[str]:
    """The schema of the database at `url` as the backend's client prints it, normalized."""
    text = _client_dump(backend, sa.make_url(url))
    lines = [line.strip() for line in text.splitlines()]
    if backend == "postgresql":
        lines = [line for line in lines if not _PG_NOISE.match(line)]
    elif backend == "mysql":
        lines = [line for line in lines if not _MARIADB_NOISE.match(line)]
    else:
        lines = [re.sub(r"[ \t]+", " ", line) for line in lines]
    statements = re.split(r";\n", "\n".join(line for line in lines if line) + "\n")
    kept = [s.strip() for s in statements if s.strip() and not BOOKKEEPING.search(s)]
    return sorted(_canonical(s) for s in kept)


_CONSTRAINT_LINE = re.compile(r"^(PRIMARY KEY|UNIQUE|FOREIGN KEY|CHECK|CONSTRAINT|KEY|INDEX)\b")


def _canonical(statement: str) -> str:
    """N7: a CREATE TABLE's columns in order, then its constraint lines sorted."""
    head, *body = statement.splitlines()
    if not head.upper().startswith("CREATE TABLE") or len(body) < 2:
        return statement
    *inner, tail = body
    lines = [line.rstrip(",").rstrip() for line in inner]
    columns = [line for line in lines if not _CONSTRAINT_LINE.match(line)]
    constraints = sorted(line for line in lines if _CONSTRAINT_LINE.match(line))
    return "\n".join([head, *columns, *constraints, tail])


def _client_dump(backend: str, url: sa.engine.URL) -> str:
    env = dict(os.environ)
    if backend == "sqlite":
        command = ["sqlite3", str(url.database), ".schema"]
    elif backend == "postgresql":
        env["PGPASSWORD"] = url.password or ""
        command = [
            "pg_dump", "--schema-only", "--no-owner", "--no-privileges",
            "-h", url.host or "127.0.0.1", "-p", str(url.port or 5432),
            "-U", url.username or "postgres", str(url.database),
        ]  # fmt: skip
    else:
        env["MYSQL_PWD"] = url.password or ""
        command = [
            "mariadb-dump", "--no-data", "--compact", "--skip-comments", "--skip-dump-date",
            "-h", url.host or "127.0.0.1", "-P", str(url.port or 3306),
            "-u", url.username or "root", str(url.database),
        ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=120)
    if done.returncode != 0:
        raise RuntimeError(f"{command[0]} failed: {done.stderr.strip()}")
    return done.stdout


def differences(expected: list[str], actual: list[str], limit: int = 12) -> list[str]:
    """The lines in which two dumps differ, each with the statement it belongs to:
    `-` only in `expected` (the create_all oracle), `+` only in `actual`."""

    def tagged(statements: list[str]) -> collections.Counter[tuple[str, str]]:
        counter: collections.Counter[tuple[str, str]] = collections.Counter()
        for statement in statements:
            head, *rest = statement.splitlines()
            for line in rest or [""]:
                counter[(head, line)] += 1
        return counter

    want, got = tagged(expected), tagged(actual)
    out = [f"- {head} | {line}".rstrip(" |") for head, line in sorted((want - got).elements())]
    out += [f"+ {head} | {line}".rstrip(" |") for head, line in sorted((got - want).elements())]
    if not out and expected != actual:
        out = [
            "same lines in another order: "
            + " ; ".join(
                a.splitlines()[0] for a, b in zip(expected, actual, strict=False) if a != b
            )
        ]
    if len(out) > limit:
        out = [*out[:limit], f"... {len(out) - limit} more"]
    return out
