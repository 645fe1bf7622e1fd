"""dbshift lint beside squawk on the same SQL; writes the "Lint" section of bench/RESULTS.md.

The material is our own case set (tests/lint_cases.py): for every squawk rule, bad cases
its intent should flag and good cases it should leave alone. Each case's SQL is linted by
squawk (the PyPI `squawk-cli`, in its own virtualenv, never a dependency of dbshift) as a
file, with `--assume-in-transaction` when dbshift would run the migration in a transaction,
and by dbshift as a migration after the cases' base schema. Per squawk rule the table says
how many bad cases each tool flags and how many good cases each leaves quiet; the
deliberate differences are listed with their reasons (docs/lint.md says the same).

Then speed: `dbshift lint --all` on a project of 1,000 migrations (half SQL, half Python),
as a whole process, median of the runs, beside squawk on the 500 SQL files.

    .venv/bin/python bench/lint_vs_squawk.py [--runs 5] [--output bench/RESULTS.md]
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:0] = [str(ROOT), str(HERE)]

from autogen import write_section  # noqa: E402

from tests.lint_cases import CASES, Case  # noqa: E402
from tests.lint_support import lint_case  # noqa: E402

SQUAWK_VERSION = "2.70.0"
SQUAWK_VENV = Path(os.environ.get("DBSHIFT_BENCH_SQUAWK", "/tmp/squawk"))
SQUAWK = SQUAWK_VENV / "bin" / "squawk"
DBSHIFT = Path(sys.executable).parent / "dbshift"
SECTION = "## Lint: dbshift beside squawk"


def ensure_squawk() -> str:
    if not SQUAWK.exists():
        subprocess.run([sys.executable, "-m", "venv", str(SQUAWK_VENV)], check=True)
        pip = [str(SQUAWK_VENV / "bin" / "pip"), "install", "-q", f"squawk-cli=={SQUAWK_VERSION}"]
        subprocess.run(pip, check=True)
    done = subprocess.run([str(SQUAWK), "--version"], capture_output=True, text=True, check=True)
    return done.stdout.strip()


def squawk_rules(files: Sequence[Path], in_transaction: bool) -> dict[str, set[str]]:
    """The squawk rules that fire on each file (by path)."""
    if not files:
        return {}
    cmd = [str(SQUAWK), "--reporter", "json", "--pg-version", "16"]
    cmd.append("--assume-in-transaction" if in_transaction else "--no-assume-in-transaction")
    done = subprocess.run([*cmd, *map(str, files)], capture_output=True, text=True)
    fired: dict[str, set[str]] = {str(f): set() for f in files}
    for item in json.loads(done.stdout or "[]"):
        fired.setdefault(item["file"], set()).add(item["rule_name"])
    return fired


@dataclasses.dataclass(frozen=True)
class Row:
    case: Case
    #: the squawk rules that fire on the case's SQL
    squawk_rules: frozenset[str]
    #: dbshift reports the case: a bad case's codes all found, or a good case has a
    #: warning or error it does not allow
    dbshift_flags: bool

    @property
    def squawk_flags(self) -> bool:
        return self.case.intent in self.squawk_rules


def compare(work: Path) -> list[Row]:
    files: dict[bool, list[Path]] = {True: [], False: []}
    for number, case in enumerate(CASES):
        path = work / f"case_{number:03d}.sql"
        path.write_text(case.sql + "\n")
        files[case.transactional].append(path)
    fired = squawk_rules(files[True], True) | squawk_rules(files[False], False)
    rows = []
    for number, case in enumerate(CASES):
        findings = lint_case(work / f"project_{number:03d}", case, "sql")
        if case.bad:
            flags = case.codes <= {f.code for f in findings}
        else:
            flags = any(
                f.severity in ("warning", "error") and f.code not in case.codes for f in findings
            )
        rules = frozenset(fired[str(work / f"case_{number:03d}.sql")])
        rows.append(Row(case, rules, flags))
    return rows


def _ratio(hits: int, rows: Sequence[Row]) -> str:
    return f"{hits}/{len(rows)}" if rows else "-"


def table(rows: Sequence[Row]) -> list[str]:
    """Per squawk rule: bad cases each tool flags, good cases each leaves quiet."""
    intents: dict[str, list[Row]] = {}
    for row in rows:
        intents.setdefault(row.case.intent, []).append(row)
    lines = [
        "| squawk rule | dbshift rules | bad: squawk flags | bad: dbshift flags "
        "| good: squawk quiet | good: dbshift quiet |",
        "|---|---|---|---|---|---|",
    ]
    for intent, group in [*intents.items(), ("**all**", list(rows))]:
        bads = [r for r in group if r.case.bad]
        goods = [r for r in group if not r.case.bad]
        codes = sorted({c for r in bads for c in r.case.codes}) if intent != "**all**" else []
        cells = [
            _ratio(sum(r.squawk_flags for r in bads), bads),
            _ratio(sum(r.dbshift_flags for r in bads), bads),
            _ratio(sum(not r.squawk_flags for r in goods), goods),
            _ratio(sum(not r.dbshift_flags for r in goods), goods),
        ]
        lines.append(f"| {intent} | {', '.join(codes) or '-'} | " + " | ".join(cells) + " |")
    return lines


def differences(rows: Sequence[Row]) -> list[str]:
    lines = []
    for row in rows:
        if row.case.differs:
            judged = "bad" if row.case.bad else "good"
            said = "flags it" if row.squawk_flags else "is quiet"
            verdict = f"dbshift: {judged}, squawk {said}"
            first = row.case.sql.splitlines()[0]
            lines.append(f"- `{first}` ({row.case.intent}, {verdict}): {row.case.differs}")
    return lines


def noise(rows: Sequence[Row]) -> list[str]:
    """squawk's rules that fire on cases written for another rule's intent."""
    counts: dict[str, int] = {}
    for row in rows:
        for rule in row.squawk_rules - {row.case.intent}:
            counts[rule] = counts.get(rule, 0) + 1
    return [f"`{rule}` {n}" for rule, n in sorted(counts.items(), key=lambda kv: -kv[1])]


# -- speed: lint --all on 1,000 migrations ---------------------------------------------------

STATEMENTS = (
    "CREATE TABLE t{n} (id bigint PRIMARY KEY, name text, at timestamptz);",
    "ALTER TABLE t{p} ADD COLUMN c{n} integer;",
    "CREATE INDEX ix_t{p}_{n} ON t{p} (name);",
    "ALTER TABLE t{p} ADD CONSTRAINT ck_{n} CHECK (id > 0) NOT VALID;",
)


def big_project(folder: Path, count: int) -> None:
    (folder / "migrations").mkdir(parents=True)
    (folder / "dbshift.toml").write_text('url = "sqlite:///unused.db"\n')
    parent = ""
    for n in range(count):
        migration_id = f"2026{n:010d}_m{n}"
        p = max(n - 1 - (n % 4), 0) if n % 4 else n
        sql = STATEMENTS[n % 4].format(n=n, p=p)
        if n % 2:
            parents = f"[{parent!r}]" if parent else "[]"
            body = f'"""m{n}"""\n\nparents = {parents}\n\n\ndef upgrade(op):\n'
            body += f"    op.execute({sql!r})\n\n\ndef downgrade(op):\n    pass\n"
            (folder / "migrations" / f"{migration_id}.py").write_text(body)
        else:
            text = f"-- m{n}\n-- parents: {parent}\n\n-- dbshift:up\n{sql}\n-- dbshift:down\nSELECT 1;\n"
            (folder / "migrations" / f"{migration_id}.sql").write_text(text)
        parent = migration_id
    subprocess.run([str(DBSHIFT), "rehash"], cwd=folder, capture_output=True)


def timed(cmd: Sequence[str], cwd: Path, runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(cmd, cwd=cwd, capture_output=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def speed(work: Path, runs: int) -> list[str]:
    project = work / "big"
    big_project(project, 1000)
    done = subprocess.run(
        [str(DBSHIFT), "lint", "--all", "--dialect", "postgresql", "--format", "json"],
        cwd=project,
        capture_output=True,
        text=True,
    )
    if done.returncode not in (0, 1):
        raise SystemExit(f"dbshift lint --all failed:\n{done.stderr[-2000:]}")
    dbshift = timed([str(DBSHIFT), "lint", "--all", "--dialect", "postgresql"], project, runs)
    sql_files = sorted(str(p) for p in (project / "migrations").glob("*.sql"))
    squawk = timed([str(SQUAWK), "--pg-version", "16", *sql_files], project, runs)
    return [
        "| what | median |",
        "|---|---|",
        f"| `dbshift lint --all --dialect postgresql`, 1,000 migrations | {dbshift:.2f} s |",
        f"| `squawk` on the 500 SQL files among them | {squawk:.2f} s |",
        "",
        "Target: under 2 s for 1,000 migrations.",
    ]


def commit() -> str:
    done = subprocess.run(
        ["git", "log", "-1", "--format=%h (%ci)"], cwd=ROOT, capture_output=True, text=True
    )
    return done.stdout.strip() or "unknown"


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="runs per timing (median)")
    parser.add_argument("--output", type=Path, default=HERE / "RESULTS.md")
    args = parser.parse_args()
    version = ensure_squawk()
    with tempfile.TemporaryDirectory(prefix="dbshift-lint-bench-") as tmp:
        work = Path(tmp)
        rows = compare(work)
        timing = speed(work, args.runs)
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    text = "\n".join(
        [
            SECTION,
            "",
            f"Generated by `.venv/bin/python bench/lint_vs_squawk.py` on {now}, dbshift at "
            f"commit {commit()}, beside {version} (PyPI `squawk-cli`), PostgreSQL 16 assumed by "
            f"both. {len(CASES)} cases of our own (tests/lint_cases.py), one or more bad and good "
            "cases per squawk rule; dbshift lints each as a migration after the cases' base "
            "schema with a project's default settings, squawk lints the same SQL as a file "
            "(`--assume-in-transaction` where dbshift runs the migration in a transaction).",
            "",
            *table(rows),
            "",
            "Deliberate differences (each also in docs/lint.md):",
            "",
            *differences(rows),
            "",
            "squawk rules firing on cases written for another rule (mostly `prefer-robust-stmts` "
            "and the timeout rules, which dbshift's runner makes unnecessary): "
            + ", ".join(noise(rows))
            + ".",
            "",
            "### Speed",
            "",
            *timing,
            "",
        ]
    )
    write_section(args.output, text, SECTION)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
