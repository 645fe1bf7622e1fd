"""`split_sql` against the database clients, on SQL files from other projects.

    python -m tests.corpus.sqlsplit setup --mirror OWNER/NAME=GIT_DIR ...   fill the cache
    python -m tests.corpus.sqlsplit run [--backend B] [--show N]           print the numbers

The files are third-party, so they are never committed: `setup` copies them out of git
clones (any recent clone of each repository in `SOURCES`) into
~/.cache/dbshift-corpus/sql/ (or $DBSHIFT_CORPUS_CACHE/sql/), and the tests in
test_sqlsplit_corpus.py skip, saying why, when the cache is empty.

Oracles, each the client's own statement boundaries:

* psql: the file run with `psql -f` against `recorders` (a listener that records each
  `Query` message psql sends). Lines that are psql meta-commands (`\\set`, `\\d+`, ...)
  and `COPY ... FROM stdin` blocks with their data are taken out of the file first, for
  psql and dbshift alike: dbshift refuses them (see `_refusal`), psql would run them.
* mariadb: the file piped into the `mariadb` client against `recorders` (each
  `COM_QUERY`), `DELIMITER` handled by the client.
* sqlite3: `sqlite3.complete_statement` (a statement ends at the first `;` that
  completes it) on every file, and the `sqlite3` shell on a fresh in-memory database with
  `.trace --profile`, which prints each statement the library prepared and ran (the
  shell groups lines until `sqlite3_complete`, SQLite's parser then ends each statement);
  statements SQLite runs internally are dropped, and files where the shell reports an
  error are left out of that oracle (after an error the shell drops the rest of its
  input group).

Statements are compared without comments and whitespace (the clients drop or keep
comments at the edges differently) and without the trailing `;`.
"""

from __future__ import annotations

import argparse
import dataclasses
import difflib
import fnmatch
import re
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterable
from pathlib import Path

from dbshift.errors import MigrationError
from dbshift.migrations.sqlsplit import split_sql
from tests.corpus import recorders, venvs

CACHE = venvs.CACHE / "sql"


@dataclasses.dataclass(frozen=True)
class Source:
    backend: str
    repo: str
    patterns: tuple[str, ...]  # fnmatch globs over the repository's paths (* spans /)


SOURCES = [
    Source("postgresql", "postgres/postgres", ("src/test/regress/sql/*.sql",)),
    Source("mysql", "mysql/mysql-sys", ("*.sql",)),
    Source("mysql", "DTStack/dt-sql-parser", ("test/parser/mysql/syntax/fixtures/*.sql",)),
    Source("sqlite", "kovidgoyal/calibre", ("resources/*.sql",)),
    Source("sqlite", "zotero/zotero", ("resource/schema/*.sql",)),
    Source("sqlite", "codeschool/sqlite-parser", ("test/sql/*.sql",)),
]

BACKENDS = ("postgresql", "mysql", "sqlite")


def files(backend: str) -> list[Path]:
    """The cached files of one backend, sorted."""
    return sorted((CACHE / backend).rglob("*.sql"))


# -- setup --------------------------------------------------------------------------------


def setup(mirrors: dict[str, Path]) -> int:
    for source in SOURCES:
        git_dir = mirrors.get(source.repo)
        if git_dir is None:
            print(f"skip {source.repo}: no --mirror {source.repo}=GIT_DIR given")
            continue
        listing = subprocess.run(
            ["git", "--git-dir", str(git_dir), "ls-tree", "-r", "--name-only", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.splitlines()
        wanted = [p for p in listing if any(fnmatch.fnmatch(p, g) for g in source.patterns)]
        target = CACHE / source.backend / source.repo.replace("/", "+")
        for path in wanted:
            blob = subprocess.run(
                ["git", "--git-dir", str(git_dir), "show", f"HEAD:{path}"],
                capture_output=True,
                check=True,
            ).stdout
            out = target / path
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_bytes(blob)
        print(f"{source.repo}: {len(wanted)} files -> {target}")
    return 0


# -- normalising the inputs (psql's client-side commands) ---------------------------------

_META_LINE = re.compile(r"^[ \t]*\\.*$\n?", re.MULTILINE)
_COPY_STDIN = re.compile(r"^[ \t]*COPY\b[^;]*\bFROM\s+STD(?:IN|OUT)\b[^;]*;[^\n]*\n", re.I | re.M)
_COPY_END = re.compile(r"^\\\.[ \t]*$\n?", re.MULTILINE)
_COPY_STDOUT = re.compile(r"^[ \t]*COPY\b[^;]*\bTO\s+STDOUT\b[^;]*;[^\n]*\n?", re.I | re.M)
_SEND_META = re.compile(r"\s*\\(?:g|gx|gset|gexec|gdesc|crosstabview)\b[^'\n]*$", re.MULTILINE)


def without_psql_commands(sql: str) -> str:
    """`sql` without what only psql understands: COPY FROM stdin with its data, COPY TO
    stdout, lines of meta-commands; a query ended by `\\g`/`\\gset`/... ends with `;`."""
    while True:
        copy = _COPY_STDIN.search(sql)
        if copy is None:
            break
        end = _COPY_END.search(sql, copy.end())
        stop = len(sql) if end is None else end.end()
        sql = sql[: copy.start()] + sql[stop:]
    sql = _COPY_STDOUT.sub("", sql)
    sql = _SEND_META.sub(";", sql)
    return _META_LINE.sub("", sql)


# -- the oracles --------------------------------------------------------------------------


#: meta-commands that would make psql wait, loop, or touch this machine (`\\!` runs a
#: shell): a file still holding one after `without_psql_commands` is not given to psql
_PSQL_UNSAFE = re.compile(r"\\(?:!|(?:watch|prompt|o|out|w|write|copy|i|ir|include|setenv|cd)\b)")


def psql_statements(sql: str, scratch: Path) -> list[str] | None:
    if _PSQL_UNSAFE.search(_blanked(sql, "postgresql")):
        return None
    path = scratch / "input.sql"
    path.write_text(sql, encoding="utf-8", errors="surrogateescape")
    with recorders.recording("postgresql") as (port, queries):
        conninfo = f"host=127.0.0.1 port={port} user=u dbname=d sslmode=disable gssencmode=disable"
        command = ["psql", "-X", "-q", "-o", "/dev/null", "-f", str(path), conninfo]
        try:
            subprocess.run(command, stdin=subprocess.DEVNULL, capture_output=True, timeout=60)
        except subprocess.TimeoutExpired:
            return None
    return list(queries)


def mariadb_statements(sql: str, scratch: Path) -> list[str]:
    path = scratch / "input.sql"
    path.write_text(sql, encoding="utf-8", errors="surrogateescape")
    client = shutil.which("mariadb") or "mysql"
    with recorders.recording("mysql") as (port, queries), path.open("rb") as stdin:
        command = [client, "--no-defaults", "-h", "127.0.0.1", "-P", str(port), "-u", "u"]
        command += ["--protocol=tcp", "--skip-ssl", "--force", "d"]
        subprocess.run(command, stdin=stdin, capture_output=True, timeout=120, check=False)
    # `USE db` is the client's own command: it asks `SELECT DATABASE()` first
    return [q for i, q in enumerate(queries) if not _use_probe(queries, i)]


def _use_probe(queries: list[str], index: int) -> bool:
    following = queries[index + 1] if index + 1 < len(queries) else ""
    return queries[index] == "SELECT DATABASE()" and following.startswith("USE ")


def complete_statements(sql: str) -> list[str]:
    """Statements as `sqlite3.complete_statement` ends them (at the first `;` that
    completes the text since the previous end)."""
    statements, start = [], 0
    for index, char in enumerate(sql):
        if char == ";" and sqlite3.complete_statement(sql[start : index + 1]):
            statements.append(sql[start:index])
            start = index + 1
    statements.append(sql[start:])
    return statements


_TRACED = re.compile(r"; -- \d+ ns\n")
_EXPLAIN = re.compile(r"[\s;]*EXPLAIN\s+(?!QUERY\s+PLAN\b)", re.IGNORECASE)

#: the sibling files an application schema expects to have run, run by the shell before
#: tracing starts (`-init`); calibre's FTS and notes schemas need its own tokenizer (a C
#: extension), so the shell rejects them and they stay left out
SQLITE_PRELUDES = {"zotero+zotero/resource/schema/triggers.sql": ("system.sql", "userdata.sql")}


def _prelude(path: Path) -> str:
    key = path.relative_to(CACHE / "sqlite").as_posix() if path.is_relative_to(CACHE) else ""
    parts = SQLITE_PRELUDES.get(key, ())
    return "\n".join((path.parent / part).read_text(encoding="utf-8") for part in parts)


def sqlite_cli_statements(sql: str, scratch: Path, prelude: str = "") -> list[str] | None:
    """What the sqlite3 shell prepared and ran; None when the shell reported an error
    (or ran for 20 s: a few of SQLite's test files compute for long)."""
    path = scratch / "input.sql"
    path.write_text(sql, encoding="utf-8", errors="surrogateescape")
    with path.open("rb") as stdin:
        (scratch / "prelude.sql").write_text(prelude, encoding="utf-8")
        command = ["sqlite3", "-batch", "-init", str(scratch / "prelude.sql")]
        command += ["-cmd", ".output /dev/null"]
        command += ["-cmd", ".trace stdout --profile --plain", ":memory:"]
        try:
            # in the scratch folder: SQLite's test files ATTACH and write files of their own
            done = subprocess.run(
                command, stdin=stdin, capture_output=True, timeout=20, cwd=scratch
            )
        except subprocess.TimeoutExpired:
            return None
    if done.returncode or done.stderr:
        return None
    traced = _TRACED.split(done.stdout.decode("utf-8", "surrogateescape"))
    # the trace also shows what SQLite runs inside a statement (ANALYZE reading its
    # stats, FTS maintaining its shadow tables): text that is nowhere in the file
    # an EXPLAIN (not EXPLAIN QUERY PLAN) runs twice: the shell reads it once to indent
    # its output
    whole, kept, rerun = fingerprint(sql, "sqlite"), [], ""
    for text in traced:
        if fingerprint(text, "sqlite") not in whole:
            continue
        if text == rerun:
            rerun = ""
            continue
        kept.append(text)
        rerun = text if _EXPLAIN.match(text) else ""
    return kept


# -- comparing ----------------------------------------------------------------------------

_STRING = r"'(?:[^']|'')*'"
_STRING_BACKSLASH = r"'(?:[^'\\]|\\.|'')*'"
_IDENT = r'"(?:[^"]|"")*"'
#: per backend: lexemes kept whole, comments dropped (a PostgreSQL /* is handled apart:
#: its comments nest; a MySQL /*! ... */ is code, so only its markers are kept whole)
_LEXEMES = {
    "postgresql": (
        rf"[Ee]{_STRING_BACKSLASH}|{_STRING}|{_IDENT}|\$(?P<tag>\w*)\$.*?\$(?P=tag)\$",
        r"--[^\r\n]*",
    ),
    "mysql": (
        rf"{_STRING_BACKSLASH}|\"(?:[^\"\\]|\\.|\"\")*\"|`(?:[^`]|``)*`|/\*M?!\d*",
        r"--(?=\s)[^\n]*|#[^\n]*|/\*.*?\*/",
    ),
    "sqlite": (rf"{_STRING}|{_IDENT}|`(?:[^`]|``)*`|\[[^\]]*\]", r"--[^\n]*|/\*.*?\*/"),
}
_PG_COMMENT_MARK = re.compile(r"/\*|\*/")


def fingerprint(text: str, backend: str) -> str:
    """`text` without comments, whitespace or `;` at its ends: what two splits of the
    same statement have in common."""
    kept, dropped = _LEXEMES[backend]
    lexer = re.compile(rf"(?P<keep>{kept})|(?P<drop>{dropped})|\s+|.", re.DOTALL)
    parts, pos = [], 0
    while pos < len(text):
        if backend == "postgresql" and text.startswith("/*", pos):
            pos = _after_nested_comment(text, pos)
            continue
        match = lexer.match(text, pos)
        assert match is not None
        pos = match.end()
        if match.group("drop") is None and not match.group().isspace():
            parts.append(match.group())
    return "".join(parts).strip(";")


def _blanked(text: str, backend: str) -> str:
    """`text` with its strings, quoted names and comments blanked out (what is left is
    what a client could read as its own commands)."""
    kept, dropped = _LEXEMES[backend]
    lexer = re.compile(rf"(?P<keep>{kept})|(?P<drop>{dropped})", re.DOTALL)
    return lexer.sub(" ", text)


def _after_nested_comment(text: str, pos: int) -> int:
    depth, scan = 0, pos
    for mark in _PG_COMMENT_MARK.finditer(text, pos):
        depth += 1 if mark.group() == "/*" else -1
        scan = mark.end()
        if not depth:
            return scan
    return len(text)


@dataclasses.dataclass
class Comparison:
    """One file, one oracle."""

    path: Path
    ours: list[str]
    theirs: list[str]

    @property
    def agreeing(self) -> int:
        matcher = difflib.SequenceMatcher(None, self.ours, self.theirs, autojunk=False)
        return sum(block.size for block in matcher.get_matching_blocks())

    @property
    def agrees(self) -> bool:
        return self.ours == self.theirs

    def first_difference(self) -> str:
        matcher = difflib.SequenceMatcher(None, self.ours, self.theirs, autojunk=False)
        for tag, i1, i2, j1, j2 in matcher.get_opcodes():
            if tag != "equal":
                return f"ours {self.ours[i1:i2][:3]!r}\n    theirs {self.theirs[j1:j2][:3]!r}"
        return ""


def _prints(statements: Iterable[str], backend: str) -> list[str]:
    return [p for p in (fingerprint(s, backend) for s in statements) if p]


def _ours(sql: str, backend: str) -> list[str] | MigrationError:
    try:
        return [s.text for s in split_sql(sql, backend)]
    except MigrationError as error:
        return error


@dataclasses.dataclass
class Report:
    """Everything measured for one backend and oracle."""

    oracle: str
    comparisons: list[Comparison] = dataclasses.field(default_factory=list)
    #: files dbshift refuses as a whole (path, message): psql meta-commands left mid-line
    refused: list[tuple[Path, str]] = dataclasses.field(default_factory=list)
    #: files refused as they are, compared once without psql's commands (path, message)
    normalised: list[tuple[Path, str]] = dataclasses.field(default_factory=list)
    #: refusals whose line holds no client command (path, message): should stay empty
    misplaced: list[tuple[Path, str]] = dataclasses.field(default_factory=list)
    #: files the oracle could not be asked about (path, why)
    left_out: list[tuple[Path, str]] = dataclasses.field(default_factory=list)

    def summary(self) -> str:
        statements = sum(len(c.theirs) for c in self.comparisons)
        agreeing = sum(c.agreeing for c in self.comparisons)
        files_ok = sum(c.agrees for c in self.comparisons)
        return (
            f"{self.oracle}: {len(self.comparisons)} files, {files_ok} agree; "
            f"{statements} statements, {agreeing} agree; "
            f"{len(self.normalised)} compared without client commands, "
            f"{len(self.refused)} refused, {len(self.left_out)} left out"
        )


#: an oracle: (the SQL, the file it came from, a scratch folder) -> its statements, or
#: None when it cannot tell
Oracle = Callable[[str, Path, Path], "list[str] | None"]


def compare(backend: str, scratch: Path, paths: list[Path] | None = None) -> list[Report]:
    """Every cached file of `backend` against that backend's oracles."""
    paths = files(backend) if paths is None else paths
    if backend == "postgresql":
        psql: Oracle = lambda sql, _, scratch: psql_statements(sql, scratch)  # noqa: E731
        return [_compare(paths, "psql", backend, scratch, psql, without_psql_commands)]
    if backend == "mysql":
        client: Oracle = lambda sql, _, scratch: mariadb_statements(sql, scratch)  # noqa: E731
        return [_compare(paths, "mariadb", backend, scratch, client)]
    complete: Oracle = lambda sql, _, __: complete_statements(sql)  # noqa: E731
    shell: Oracle = lambda sql, path, scratch: sqlite_cli_statements(  # noqa: E731
        sql, scratch, _prelude(path)
    )
    return [
        _compare(paths, "complete_statement", backend, scratch, complete),
        _compare(paths, "sqlite3 shell", backend, scratch, shell),
    ]


def _compare(
    paths: list[Path],
    oracle: str,
    backend: str,
    scratch: Path,
    ask: Oracle,
    prepare: Callable[[str], str] | None = None,
) -> Report:
    report = Report(oracle)
    for path in paths:
        sql = path.read_text(encoding="utf-8", errors="surrogateescape")
        if prepare is not None:  # both sides get the same text: the client's own commands out
            as_is = _ours(sql, backend)
            if isinstance(as_is, MigrationError):
                _check_refusal(report, path, sql, as_is)
                report.normalised.append((path, str(as_is)))
            sql = prepare(sql)
        ours = _ours(sql, backend)
        if isinstance(ours, MigrationError):
            _check_refusal(report, path, sql, ours)
            report.refused.append((path, str(ours)))
            continue
        theirs = ask(sql, path, scratch)
        if theirs is None:
            report.left_out.append((path, f"{oracle} could not be asked (an error, a hang)"))
            continue
        report.comparisons.append(
            Comparison(path, _prints(ours, backend), _prints(theirs, backend))
        )
    return report


_REFUSED_LINE = re.compile(r"^line (\d+): ")
_CLIENT_LINE = re.compile(r"\\|\bSTD(?:IN|OUT)\b|^\s*SOURCE\b", re.IGNORECASE)


def _check_refusal(report: Report, path: Path, sql: str, error: MigrationError) -> None:
    """Note a refusal; a client-command refusal must name a line holding one."""
    message = str(error)
    line = _REFUSED_LINE.match(message)
    if "meta-command" in message or "client" in message:
        text = sql.splitlines()[int(line.group(1)) - 1] if line else ""
        if not _CLIENT_LINE.search(text):
            report.misplaced.append((path, message))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.corpus.sqlsplit")
    commands = parser.add_subparsers(dest="command", required=True)
    setup_parser = commands.add_parser("setup")
    setup_parser.add_argument("--mirror", action="append", default=[], metavar="REPO=GIT_DIR")
    run_parser = commands.add_parser("run")
    run_parser.add_argument("--backend", action="append", choices=BACKENDS)
    run_parser.add_argument("--show", type=int, default=5, help="differences shown per oracle")
    args = parser.parse_args(argv)
    if args.command == "setup":
        mirrors = dict(item.split("=", 1) for item in args.mirror)
        return setup({repo: Path(path) for repo, path in mirrors.items()})
    import tempfile

    with tempfile.TemporaryDirectory() as scratch:
        for backend in args.backend or BACKENDS:
            for report in compare(backend, Path(scratch)):
                print(f"{backend} {report.summary()}")
                differing = [c for c in report.comparisons if not c.agrees]
                for comparison in differing[: args.show]:
                    print(
                        f"  {comparison.path.relative_to(CACHE)}:\n    {comparison.first_difference()}"
                    )
                for path, message in report.refused[: args.show]:
                    print(f"  refused {path.relative_to(CACHE)}: {message}")
                for path, message in report.misplaced:
                    print(f"  MISPLACED refusal {path.relative_to(CACHE)}: {message}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
