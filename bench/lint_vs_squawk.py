"""dbshift lint beside squawk on the same SQL; writes the "Lint" section of bench/RESULTS.md.

The material is our own case set (tests/lint_cases.py): for every squawk rule, bad cases
its intent should flag and good cases it should leave alone. Each case's SQL is linted by
squawk (the PyPI `squawk-cli`, in its own virtualenv, never a dependency of dbshift) as a
file, with `--assume-in-transaction` when dbshift would run the migration in a transaction,
and by dbshift as a migration after the cases' base schema. Per squawk rule the table says
how many bad cases each tool flags and how many good cases each leaves quiet; the
deliberate differences are listed with their reasons (docs/lint.md says the same).

Second, the outside measurement: squawk's own per-rule test cases, read at run time from
a local snapshot of the squawk repository (`--squawk-repo`, a bare git directory; see
bench/squawk_tests.py; nothing of squawk is copied into dbshift). squawk 2.70's verdict on
each case is its label; the subsection counts per rule the bad cases dbshift flags with
the codes our cases give the rule's intent and the good cases it leaves quiet, and lists
every disagreement. Without the snapshot the subsection says so and the rest runs.

Then speed: `dbshift lint --all` on a project of 1,000 migrations (half SQL, half Python),
as a whole process, median of the runs, beside squawk on the 500 SQL files.

    .venv/bin/python bench/lint_vs_squawk.py [--runs 5] [--output bench/RESULTS.md]
        [--squawk-repo /work/.mirror/sbdchd+squawk/repo]
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
from squawk_tests import SquawkTest, extract  # noqa: E402

from dbshift.migrations.sqlsplit import SplitRefused, SqlStatement, split_sql  # noqa: E402
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


def squawk_rules(
    files: Sequence[Path], in_transaction: bool, include: Sequence[str] = ()
) -> dict[str, set[str]]:
    """The squawk rules that fire on each file (by path), with the opt-in rules `include`."""
    if not files:
        return {}
    cmd = [str(SQUAWK), "--reporter", "json", "--pg-version", "16"]
    cmd += [f"--include={rule}" for rule in include]
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


def _ratio(hits: int, rows: Sequence[object]) -> str:
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


# -- squawk's own test cases (read from a snapshot of its repository) ----------------------

SQUAWK_REPO = Path("/work/.mirror/sbdchd+squawk/repo")
#: squawk rules of its repository that 2.70's CLI reports under other names
CLI_NAMES = {"require-timeout-settings": ("require-lock-timeout", "require-statement-timeout")}
OWN_SECTION = "### On squawk's own test cases"
#: squawk's opt-in rules, on for its own tests (each test enables the rule it tests)
OPT_IN = ("require-table-schema",)
#: squawk's comment that turns --assume-in-transaction off for a file
NO_TRANSACTION = "squawk-disable-assume-in-transaction"
#: the dbshift codes of intents our cases have no bad case for (dbshift's runner sets the
#: lock timeout, DS312 is off by default, DS323 is info; DS619 is opt-in)
OWN_CODES = {
    "require-lock-timeout": {"DS312"},
    "require-statement-timeout": {"DS323"},
    "require-table-schema": {"DS619"},
}
#: the rules about a file's own BEGIN / COMMIT: their tests keep them
TRANSACTION_RULES = ("transaction-nesting", "ban-uncommitted-transaction")
_BEGIN = {("BEGIN",), ("BEGIN", "TRANSACTION"), ("BEGIN", "WORK"), ("START", "TRANSACTION")}
_COMMIT = {("COMMIT",), ("COMMIT", "TRANSACTION"), ("COMMIT", "WORK"), ("END",)}


def mapped_codes() -> dict[str, frozenset[str]]:
    """squawk rule -> the dbshift codes our bad cases for its intent require."""
    codes: dict[str, set[str]] = {}
    for case in CASES:
        if case.bad:
            codes.setdefault(case.intent, set()).update(case.codes)
    for rule, own in OWN_CODES.items():
        codes.setdefault(rule, set()).update(own)
    for rule, names in CLI_NAMES.items():
        codes[rule] = set().union(*(codes.get(name, set()) for name in names))
    return {rule: frozenset(found) for rule, found in codes.items()}


@dataclasses.dataclass(frozen=True)
class OwnRow:
    test: SquawkTest
    #: squawk 2.70 reports the test's rule on its SQL (the label: bad when it does)
    squawk_fires: bool
    #: dbshift's findings (code, severity) on the same SQL as a migration
    findings: tuple[tuple[str, str], ...]
    #: the dbshift codes that cover the rule's intent (tests/lint_cases.py)
    codes: frozenset[str]
    #: the other squawk rules 2.70 reports on the same SQL
    others: frozenset[str] = frozenset()

    @property
    def warned(self) -> list[str]:
        return sorted({c for c, sev in self.findings if sev in ("warning", "error")})

    @property
    def mapped(self) -> bool:
        """dbshift reports one of the rule's own codes (at any severity)."""
        return any(c in self.codes for c, _ in self.findings)

    @property
    def agrees(self) -> bool:
        if self.squawk_fires:
            return self.mapped or (not self.codes and bool(self.warned))
        return not self.warned


@dataclasses.dataclass(frozen=True)
class AsMigration:
    """A squawk test's SQL as dbshift migrations: `given` (or None) before the case."""

    sql: str
    transactional: bool
    given: str | None = None


def _transactions(statements: Sequence[SqlStatement]) -> list[list[str]] | None:
    """The bodies of a file made only of BEGIN ... COMMIT blocks, else None."""
    blocks: list[list[str]] = []
    current: list[str] | None = None
    for statement in statements:
        kind = statement.keywords[:2]
        if kind in _BEGIN and current is None:
            current = []
        elif kind in _COMMIT and current:
            blocks.append(current)
            current = None
        elif kind in _BEGIN or kind in _COMMIT or current is None:
            return None
        else:
            current.append(statement.text)
    return blocks if blocks and current is None else None


def as_migration(test: SquawkTest) -> AsMigration:
    """The test's SQL as a dbshift migration: in a transaction where the test assumes
    one (and the file does not turn that off). A file made of BEGIN ... COMMIT blocks runs as transactional migrations without
    those statements (dbshift owns the transaction), the last block the case and the
    ones before it a `given` migration, except for the rules about those statements."""
    sql = test.sql.strip()
    plain = AsMigration(sql, test.assume_in_transaction and NO_TRANSACTION not in sql)
    if test.rule in TRANSACTION_RULES:
        return plain
    try:
        blocks = _transactions(split_sql(sql, "postgresql"))
    except SplitRefused:
        return plain
    if blocks is None:
        return plain
    earlier = [text for block in blocks[:-1] for text in block]
    given = ";\n".join(earlier) + ";" if earlier else None
    return AsMigration(";\n".join(blocks[-1]) + ";", True, given)


def _fires(rule: str, fired: set[str]) -> bool:
    return any(name in fired for name in CLI_NAMES.get(rule, (rule,)))


def compare_own(work: Path, tests: Sequence[SquawkTest]) -> list[OwnRow]:
    """squawk 2.70 and dbshift on each squawk test's SQL, PostgreSQL 16 for both; dbshift
    runs the migration in a transaction exactly where the test assumes one."""
    files: dict[bool, list[Path]] = {True: [], False: []}
    for number, test in enumerate(tests):
        path = work / f"squawk_{number:03d}.sql"
        path.write_text(test.sql)
        files[test.assume_in_transaction].append(path)
    fired = squawk_rules(files[True], True, OPT_IN) | squawk_rules(files[False], False, OPT_IN)
    codes = mapped_codes()
    rows = []
    for number, test in enumerate(tests):
        migration = as_migration(test)
        case = Case(
            test.rule,
            True,
            migration.sql,
            transactional=migration.transactional,
            given=migration.given,
        )
        found = lint_case(work / f"squawk_project_{number:03d}", case, "sql")
        rules = fired[str(work / f"squawk_{number:03d}.sql")]
        findings = tuple(sorted({(f.code, f.severity) for f in found}))
        own = codes.get(test.rule, frozenset())
        others = frozenset(rules - set(CLI_NAMES.get(test.rule, (test.rule,))))
        rows.append(OwnRow(test, _fires(test.rule, rules), findings, own, others))
    return rows


def own_table(rows: Sequence[OwnRow]) -> list[str]:
    rules: dict[str, list[OwnRow]] = {}
    for row in rows:
        rules.setdefault(row.test.rule, []).append(row)
    lines = [
        "| squawk rule | dbshift rules | bad (2.70 fires) | dbshift flags: its codes "
        "| any warning/error | good (2.70 quiet) | dbshift quiet: no warning/error "
        "| none of its codes |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for rule, group in [*sorted(rules.items()), ("**all**", list(rows))]:
        bads = [r for r in group if r.squawk_fires]
        goods = [r for r in group if not r.squawk_fires]
        codes = ", ".join(sorted(group[0].codes)) if rule != "**all**" else ""
        cells = [
            str(len(bads)),
            _ratio(sum(r.mapped for r in bads), bads),
            _ratio(sum(bool(r.warned) for r in bads), bads),
            str(len(goods)),
            _ratio(sum(not r.warned for r in goods), goods),
            _ratio(sum(not r.mapped for r in goods), goods),
        ]
        lines.append(f"| {rule} | {codes or '-'} | " + " | ".join(cells) + " |")
    return lines


def _first_line(sql: str) -> str:
    lines = [line.strip() for line in sql.splitlines() if line.strip()]
    statements = [line for line in lines if not line.startswith("--")]
    return (statements or lines or [""])[0][:90]


def _said(row: OwnRow) -> str:
    said = ", ".join(f"{c} ({sev})" for c, sev in row.findings)
    return f"dbshift: {said}" if said else "dbshift: nothing"


#: squawk rules that fire on most SQL (dbshift's runner makes them unnecessary, or opt-in)
NOISE = frozenset(
    {"prefer-robust-stmts", "require-lock-timeout", "require-statement-timeout", *OPT_IN}
)


def _disagreement(row: OwnRow) -> str:
    other = sorted(row.others - NOISE)
    others = f"; squawk also reports {', '.join(other)}" if other else ""
    drift = "; the snapshot expects findings" if row.test.expects_findings else ""
    return (
        f"- `{_first_line(row.test.sql)}` ({row.test.rule}, {row.test.name}): "
        f"{_said(row)}{others}{drift if not row.squawk_fires else ''}"
    )


def own_disagreements(rows: Sequence[OwnRow]) -> list[str]:
    """The disagreements in three lists: bad cases dbshift does not flag with the rule's
    codes, good cases it flags with them, good cases where it reports only other rules."""
    missed = [r for r in rows if r.squawk_fires and not r.agrees]
    own = [r for r in rows if not r.squawk_fires and r.mapped and r.warned]
    other = [r for r in rows if not r.squawk_fires and not r.agrees and not r.mapped]
    return [
        f"Bad cases dbshift does not flag with the rule's own codes ({len(missed)}):",
        "",
        *map(_disagreement, missed),
        "",
        f"Good cases dbshift flags with the rule's own codes ({len(own)}):",
        "",
        *(map(_disagreement, own) if own else ["- none"]),
        "",
        f"Good cases where dbshift reports only other rules' findings ({len(other)}):",
        "",
        *map(_disagreement, other),
    ]


def own_drift(rows: Sequence[OwnRow]) -> list[str]:
    """Tests whose snapshot expectation 2.70 on PostgreSQL 16 does not meet."""
    lines = []
    for row in rows:
        if row.test.expects_findings == row.squawk_fires:
            continue
        expected = "findings" if row.test.expects_findings else "none"
        version = (
            ""
            if row.test.pg_version == 15
            else f", test written for PostgreSQL {row.test.pg_version}"
        )
        lines.append(
            f"- {row.test.name} (`{_first_line(row.test.sql)}`): the test expects {expected}, "
            f"2.70 {'fires' if row.squawk_fires else 'is quiet'}{version}"
        )
    return lines


def own_section(work: Path, git_dir: Path) -> list[str]:
    head = [OWN_SECTION, ""]
    if not (git_dir / "HEAD").exists():
        return [*head, f"Skipped: no squawk repository at {git_dir} (give one with --squawk-repo)."]
    extracted = extract(git_dir)
    rows = compare_own(work, extracted.tests)
    bads = [r for r in rows if r.squawk_fires]
    goods = [r for r in rows if not r.squawk_fires]
    drift = own_drift(rows)
    return [
        *head,
        f"{len(rows)} lint calls with literal SQL in the `#[test]` functions of squawk's "
        f"crates/squawk_linter/src/rules/*.rs at commit {extracted.commit}, read from the "
        f"repository at run time (nothing of squawk is copied here); "
        f"{len(extracted.skipped)} test functions have no literal SQL and are skipped. Each "
        "case is labelled by squawk 2.70's own verdict for the test's rule on PostgreSQL 16 "
        "(`--assume-in-transaction` where the test assumes one); dbshift lints the same SQL "
        "as a migration with a project's defaults, without a database (tables the SQL names "
        "may be unknown to it), in a transaction where the test assumes one or the file "
        "is made of BEGIN ... COMMIT blocks (then without those statements, as dbshift owns "
        "the transaction, and the blocks before the last as an earlier migration; the tests "
        "of transaction-nesting and ban-uncommitted-transaction keep them). A bad case counts as flagged when dbshift reports one of the codes our cases "
        "give the rule's intent (tests/lint_cases.py; DS312, DS323 and DS619 for the timeout "
        "and schema rules, at any severity); a good case as quiet when dbshift reports no "
        "warning or error at all (the last column: none of the rule's own codes).",
        "",
        f"Summary: dbshift flags {sum(r.mapped for r in bads)} of {len(bads)} bad cases with "
        f"the rule's own codes ({sum(bool(r.warned) for r in bads)} with any warning or "
        f"error) and stays quiet on {sum(not r.warned for r in goods)} of {len(goods)} good "
        f"ones ({sum(not r.mapped for r in goods)} without the rule's own codes).",
        "",
        *own_table(rows),
        "",
        f"Disagreements ({sum(not r.agrees for r in rows)}):",
        "",
        *own_disagreements(rows),
        "",
        f"Tests whose expectation squawk 2.70 on PostgreSQL 16 does not meet ({len(drift)}; the "
        "repository is newer than 2.70, and some tests set another version):",
        "",
        *(drift or ["- none"]),
    ]


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
    parser.add_argument(
        "--squawk-repo",
        type=Path,
        default=SQUAWK_REPO,
        metavar="GIT_DIR",
        help="a (bare) git directory of the squawk repository, for its own test cases",
    )
    args = parser.parse_args()
    version = ensure_squawk()
    with tempfile.TemporaryDirectory(prefix="dbshift-lint-bench-") as tmp:
        work = Path(tmp)
        rows = compare(work)
        own = own_section(work, args.squawk_repo)
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
            *own,
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
