"""Runs the rules: over a list of operations (what `make` and `check` will call), or over
migration files in graph order with the schema each one starts from.

Python migrations are loaded through the one replay (`migrations/replay.py`: each once
per dialect, and a derived downgrade judged on the schema `Replay.schema_before` gives,
the migration's own history); SQL migrations are parsed into facts here, never loaded."""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from dbshift.config import Config
from dbshift.errors import ConfigError
from dbshift.facts import Fact
from dbshift.linter.facts import facts_from_operation
from dbshift.linter.locks import lock_level
from dbshift.linter.model import (
    SEVERITIES,
    Context,
    Finding,
    LintReport,
    MigrationFacts,
    Rule,
    SchemaState,
    Severity,
    Target,
)
from dbshift.linter.rules import load_rules
from dbshift.linter.sqlfacts import statement_facts
from dbshift.linter.suppress import Suppression, python_suppressions, sql_suppressions
from dbshift.migrations.graph import Graph
from dbshift.migrations.replay import Replay
from dbshift.migrations.scripts import Script, sql_sections
from dbshift.migrations.sqlsplit import SplitRefused, split_sql
from dbshift.ops import Operation
from dbshift.ops.tables import CreateTable
from dbshift.ops.types import CreateEnum
from dbshift.schema.snapshot import Snapshot

UNUSED = "DS609"


@dataclasses.dataclass(frozen=True)
class Settings:
    """Rule configuration (`[lint]` in dbshift.toml): rules turned off, opt-in rules
    turned on, severities changed."""

    disable: frozenset[str] = frozenset()
    severity: Mapping[str, Severity] = dataclasses.field(default_factory=dict)
    #: opt-in rules to run (they are off otherwise)
    enable: frozenset[str] = frozenset()

    def runs(self, code: str) -> bool:
        """Whether rule `code` reports: not disabled, and enabled when it is opt-in."""
        if code in self.disable:
            return False
        return code not in _opt_in() or code in self.enable

    @classmethod
    def from_config(cls, table: Mapping[str, Any] | None) -> Settings:
        """`[lint]` as `Config` checked its shape; here the codes are checked against the
        registry, so that a typo is an error rather than a silent no-op."""
        table = table or {}
        rules = load_rules()
        disable = frozenset(str(code).upper() for code in table.get("disable") or ())
        enable = frozenset(str(code).upper() for code in table.get("enable") or ())
        severity: dict[str, Severity] = {}
        for code, level in (table.get("severity") or {}).items():
            if level not in SEVERITIES:
                raise ConfigError(
                    f"[lint] severity of {code}: {level!r} is not one of {', '.join(SEVERITIES)}",
                    hint='e.g. severity = { DS601 = "error" }',
                )
            severity[str(code).upper()] = level
        for code in [*disable, *enable, *severity]:
            if code not in rules:
                raise ConfigError(
                    f"[lint]: unknown rule code {code!r}",
                    hint="see `dbshift lint --rules` or docs/lint.md for the codes",
                )
        return cls(disable, severity, enable)

    @classmethod
    def of(cls, config: Config) -> Settings:
        """The settings for a project: `[lint]`, and DS312 (no lock_timeout) off while
        the runner sets one itself (`table_lock_timeout`, on by default), DS323 (no
        statement_timeout) off when `statement_timeout` is configured."""
        settings = cls.from_config(config.lint)
        off = set(settings.disable)
        if config.table_lock_timeout:
            off.add("DS312")
        if config.statement_timeout is not None:
            off.add("DS323")
        return dataclasses.replace(settings, disable=frozenset(off))


def lint_operations(
    operations: Sequence[Operation],
    target: Target,
    *,
    before: SchemaState | None = None,
    transactional: bool = True,
    migration: str = "",
    file: str = "",
    lines: Sequence[int] = (),
    settings: Settings | None = None,
    reversible: bool = True,
) -> list[Finding]:
    """Findings for operations about to run (e.g. those `make` just generated), on the
    schema `before` them. No suppressions: there is no file to read them from."""
    facts = tuple(
        (fact, lines[i] if i < len(lines) else 0)
        for i, op in enumerate(operations)
        for fact in facts_from_operation(op, target.backend)
    )
    info = MigrationFacts(migration, file, "python", transactional, facts, reversible)
    state = before.copy() if before is not None else SchemaState()
    return _apply_settings(check(info, target, state), settings)


def state_from_snapshot(snapshot: Snapshot, backend: str) -> SchemaState:
    """What the linter knows of a schema given as a snapshot: the schema `make` starts
    from, read the way the operations that would create it are read."""
    state = SchemaState()
    creations: list[Operation] = [CreateEnum(e) for e in snapshot.enums.values()]
    creations += [CreateTable(t) for t in snapshot.tables.values()]
    for op in creations:
        for fact in facts_from_operation(op, backend):
            state.apply(fact)
    return state


def check(migration: MigrationFacts, target: Target, state: SchemaState) -> list[Finding]:
    """Every rule that applies to `target`, over one migration's facts, each judged on
    the schema before it; `state` is advanced past the migration (copy it to keep it)."""
    rules = _rules_for(target)
    created: set[str] = set()
    earlier: list[Fact] = []
    findings: list[Finding] = []
    for fact, line in migration.facts:
        ctx = Context(target, migration, state, created, earlier)
        for rule in rules:
            if rule.check is not None:
                message = rule.check(fact, ctx)
                if message is not None:
                    lock = lock_level(fact, target) if ctx.existing(fact) else None
                    findings.append(_finding(rule, migration, line, message, target, lock))
        if fact.kind == "create_table" and fact.key:
            created.add(fact.key)
        state.apply(fact)
        earlier.append(fact)
    for rule in rules:
        if rule.check_migration is not None:
            for line, message in rule.check_migration(migration, target):
                findings.append(_finding(rule, migration, line, message, target))
    return findings


@functools.lru_cache(maxsize=1)
def _opt_in() -> frozenset[str]:
    """The codes of the opt-in rules (the registry does not change once loaded)."""
    return frozenset(code for code, rule in load_rules().items() if rule.opt_in)


@functools.lru_cache(maxsize=16)
def _rules_for(target: Target) -> tuple[Rule, ...]:
    """The rules that apply to `target` (the registry does not change once loaded)."""
    return tuple(r for r in load_rules().values() if r.applies_to(target))


def _finding(
    rule: Rule,
    m: MigrationFacts,
    line: int,
    message: str,
    target: Target,
    lock: str | None = None,
) -> Finding:
    return Finding(
        rule.code,
        rule.severity,
        rule.category,
        m.id,
        m.file,
        line,
        message,
        target.backend,
        rule.name,
        lock,
    )


def _apply_settings(findings: Iterable[Finding], settings: Settings | None) -> list[Finding]:
    """The findings the settings let through, at the severity they give; without
    settings, the defaults (opt-in rules off)."""
    settings = settings or Settings()
    return [
        dataclasses.replace(f, severity=settings.severity.get(f.code, f.severity))
        for f in findings
        if settings.runs(f.code)
    ]


# -- migration files ---------------------------------------------------------------------


def lint_scripts(
    scripts: Sequence[Script],
    graph: Graph,
    selected: Iterable[str],
    targets: Sequence[Target],
    *,
    settings: Settings | None = None,
    selection: str = "",
) -> LintReport:
    """Lint the `selected` migrations for each target. The migrations before them are
    read too (not checked), so that each selected one is judged on the schema it starts
    from: an index on a table made by an earlier migration is an existing table. The
    rules' `SchemaState` follows the facts of every migration read before, in the
    graph's order; whether a downgrade can be derived (DS604) is the replay's answer, on
    the migration's own ancestors."""
    chosen = set(selected)
    by_id = {s.id: s for s in scripts}
    wanted = graph.ancestors(chosen) if chosen else set()
    order = graph.topo_order(wanted)
    # one replay per dialect the migrations record for: targets that share one (MySQL
    # and MariaDB, two versions of a server) load each migration once
    replays: dict[str, Replay] = {}
    findings: list[Finding] = []
    for target in targets:
        dialect = _dialect(target)
        replay = replays.get(dialect)
        if replay is None:
            replay = replays[dialect] = Replay(by_id, graph, dialect, op_lines=True)
        state = SchemaState()
        for migration_id in order:
            script = by_id[migration_id]
            if migration_id in chosen:
                info = _read(script, target, replay)
                raw = check(info, target, state)  # which advances the state
                findings.extend(_suppressed(raw, script, info, target))
            else:
                for fact, _line in _facts(script, target, replay):
                    state.apply(fact)
    findings = _apply_settings(findings, settings)
    rank = {t.backend: i for i, t in enumerate(targets)}
    findings.sort(key=lambda f: (f.migration, f.line, f.code, rank.get(f.backend, 0)))
    linted = tuple(i for i in order if i in chosen)
    return LintReport(linted, tuple(targets), tuple(_dedupe(findings)), selection)


def _dialect(target: Target) -> str:
    """The SQLAlchemy dialect name a target's migrations record and split for (MariaDB is
    `mysql` to SQLAlchemy)."""
    return "mysql" if target.backend == "mariadb" else target.backend


def _dedupe(findings: list[Finding]) -> list[Finding]:
    """One finding per problem: the same message on several backends is one finding whose
    `backend` lists them (`postgresql, mysql`)."""
    merged: dict[tuple[object, ...], Finding] = {}
    for f in findings:
        key = (f.code, f.migration, f.line, f.message)
        if key in merged:
            seen = merged[key]
            if f.backend not in seen.backend.split(", "):
                merged[key] = dataclasses.replace(seen, backend=f"{seen.backend}, {f.backend}")
        else:
            merged[key] = f
    return list(merged.values())


def _facts(script: Script, target: Target, replay: Replay) -> tuple[tuple[Fact, int], ...]:
    """A migration's facts with their source lines: a SQL migration's up section parsed,
    a Python migration's upgrade as `replay` loaded it."""
    if script.kind == "sql":
        return _sql_facts(script.path.read_text(encoding="utf-8"), target)
    code = replay.code(script.id)
    return tuple(
        (fact, code.op_lines[i] if i < len(code.op_lines) else 0)
        for i, op in enumerate(code.upgrade)
        for fact in facts_from_operation(op, target.backend)
    )


def _read(script: Script, target: Target, replay: Replay) -> MigrationFacts:
    """What the rules see of a migration they judge: its facts, and whether it has a
    downgrade (written, or for a Python migration derived as the runner would)."""
    if script.kind == "sql":
        text = script.path.read_text(encoding="utf-8")
        facts = _sql_facts(text, target)
        has_downgrade = reversible = _has_down_section(text, target)
    else:
        facts = _facts(script, target, replay)
        has_downgrade = replay.code(script.id).downgrade is not None
        reversible = has_downgrade or _derivable(replay, script.id)
    return MigrationFacts(
        script.id,
        script.location,
        script.kind,
        script.transactional,
        facts,
        reversible,
        has_downgrade,
        statement_timeout=script.statement_timeout,
    )


def _derivable(replay: Replay, migration_id: str) -> bool:
    """Whether `downgrade` could derive the Python migration's inverse: `Replay.walk`
    going down derives it on `Replay.schema_before`, the schema its own ancestors build
    (not other branches')."""
    try:
        next(replay.walk([migration_id], "down"))
    except Exception:  # IrreversibleMigration; a definition that cannot be known; or an
        # ancestor that cannot be loaded (a SQL file the splitter refuses), where the
        # runner's downgrade stops too
        return False
    return True


def _sql_facts(text: str, target: Target) -> tuple[tuple[Fact, int], ...]:
    """A SQL migration's up section (`text` is the file) read into facts, parsed and not
    executed, each on the line of its statement's first token."""
    (up_text, up_line), _down = sql_sections(text)
    facts: list[tuple[Fact, int]] = []
    try:
        statements = split_sql(up_text, _dialect(target), first_line=up_line)
    except SplitRefused as refused:  # `upgrade` refuses it too: one finding, on its line
        statements = []
        facts.append(
            (Fact("unparsable", sql=up_text.strip(), problem=refused.problem), refused.line)
        )
    for statement in statements:
        line = _first_code_line(statement.text, statement.line)
        facts.extend((fact, line) for fact in statement_facts(statement, target.backend))
    return tuple(facts)


def _has_down_section(text: str, target: Target) -> bool:
    """Whether a SQL migration's `-- dbshift:down` section (`text` is the file) reverts
    anything: an empty one (what `new --sql` writes) does not; one the splitter refuses
    is not empty (`downgrade` reports it)."""
    _up, down = sql_sections(text)
    try:
        return down is not None and bool(split_sql(down[0], _dialect(target), first_line=down[1]))
    except SplitRefused:
        return True


def _first_code_line(text: str, line: int) -> int:
    """The line of a statement's first token (after the comments directly above it)."""
    for offset, content in enumerate(text.splitlines()):
        stripped = content.strip()
        if stripped and not stripped.startswith("--"):
            return line + offset
    return line


def _suppressed(
    findings: list[Finding], script: Script, info: MigrationFacts, target: Target
) -> list[Finding]:
    """`findings` minus those silenced by comments, plus one DS609 per comment that
    silenced nothing."""
    source = script.path.read_text(encoding="utf-8")
    suppressions = (
        python_suppressions(source)
        if script.kind == "python"
        else sql_suppressions(source, _sql_spans(source))
    )
    if not suppressions:
        return findings
    used: set[Suppression] = set()
    kept = []
    for finding in findings:
        hit = [
            s
            for s in suppressions
            if s.code == finding.code and (s.file_wide or finding.line in s.covers)
        ]
        if hit:
            used.update(hit)
        else:
            kept.append(finding)
    rules = load_rules()
    unused_rule = rules[UNUSED]
    for s in suppressions:
        rule = rules.get(s.code)
        if rule is not None and not rule.applies_to(target):
            continue  # a suppression for another backend's rule
        if s not in used and s.code != UNUSED:
            known = "" if rule is not None else " (no such rule)"
            kept.append(
                Finding(
                    UNUSED,
                    unused_rule.severity,
                    unused_rule.category,
                    info.id,
                    info.file,
                    s.line,
                    f"suppression of {s.code}{known} matches no finding",
                    target.backend,
                    unused_rule.name,
                )
            )
    return kept


def _sql_spans(source: str) -> list[tuple[int, int]]:
    (up_text, up_line), _down = sql_sections(source)
    spans = []
    for statement in split_sql(up_text, "default", first_line=up_line):
        spans.append((statement.line, statement.line + statement.text.count("\n")))
    return spans
