"""The hygiene rules DS612-DS619: what their docs claim about the servers holds on the
servers, the opt-in rule is off until configured, and the enum order the linter tracks
is the order PostgreSQL keeps."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dbshift.facts import Fact
from dbshift.linter.model import SchemaState
from dbshift.linter.sqlfacts import facts_from_sql
from tests.helpers import Project

BASE = """
op.create_table(
    "users",
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("name", sa.Text),
)
"""


@pytest.fixture
def offline(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Project:
    return Project(tmp_path, "postgresql+psycopg://postgres@127.0.0.1:1/none", capsys)


def _codes(project: Project) -> set[str]:
    report = project.cli("lint", "--all", "--dialect", "postgresql", "--json").json
    return {f["code"] for f in report["findings"]}


def test_require_schema_is_off_until_enabled(offline: Project) -> None:
    offline.python("base", BASE, "pass")
    toml = offline.root / "dbshift.toml"
    assert "DS619" not in _codes(offline)
    toml.write_text('[lint]\nenable = ["ds619"]\n')
    assert "DS619" in _codes(offline)
    offline.python("qualified", 'op.add_column("users", sa.Column("age", sa.Text), schema="s")')
    report = offline.cli("lint", "--all", "--dialect", "postgresql", "--json").json
    flagged = {f["migration"] for f in report["findings"] if f["code"] == "DS619"}
    assert flagged == {p.stem for p in offline.migrations.glob("*_base.py")}
    # enabled and disabled: disable wins
    toml.write_text('[lint]\nenable = ["DS619"]\ndisable = ["DS619"]\n')
    assert "DS619" not in _codes(offline)
    toml.write_text('[lint]\nenable = ["DS998"]\n')
    assert "DS998" in offline.fails(2, "lint", "--all").err
    toml.write_text('[lint]\nenable = "DS619"\n')
    assert "`enable` must be a list" in offline.fails(2, "lint", "--all").err


def test_the_rule_list_says_which_rules_are_opt_in(offline: Project) -> None:
    rules = offline.ok("lint", "--rules", "--json").json
    opt_in = {r["code"] for r in rules if r["opt_in"]}
    assert opt_in == {"DS619"}


def test_duplicate_assignment_fails_on_postgresql_and_is_dead_elsewhere(
    engine: sa.Engine, backend: str
) -> None:
    """DS618's claim: PostgreSQL refuses the statement; the others keep the last value."""
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE dup (id INTEGER PRIMARY KEY, a INTEGER)"))
        conn.execute(sa.text("INSERT INTO dup VALUES (1, 0)"))
    statement = sa.text("UPDATE dup SET a = 1, a = 2 WHERE id = 1")
    with engine.begin() as conn:
        if backend == "postgresql":
            with pytest.raises(sa.exc.ProgrammingError, match="multiple assignments"):
                conn.execute(statement)
            return
        conn.execute(statement)
        assert conn.execute(sa.text("SELECT a FROM dup")).scalar_one() == 2
    [fact] = facts_from_sql(statement.text, "postgresql")
    assert fact.assigned == ("a", "a")


def test_unquoted_names_fold_and_quoted_ones_do_not() -> None:
    [fact] = facts_from_sql('UPDATE t SET A = 1, "A" = 2, (b, "B") = (1, 2)', "postgresql")
    assert fact.assigned == ("a", "A", "b", "B")


_VALUES = st.lists(st.text("abcdefgh", min_size=1, max_size=3), min_size=1, max_size=4, unique=True)


@pytest.mark.backends("postgresql")
@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    start=_VALUES,
    added=st.lists(
        st.tuples(
            st.text("ijklmn", min_size=1, max_size=3),
            st.sampled_from(["", "BEFORE", "AFTER"]),
            st.integers(0, 10),
        ),
        max_size=4,
    ),
)
def test_enum_order_tracked_is_the_order_postgresql_keeps(
    engine: sa.Engine, start: list[str], added: list[tuple[str, str, int]]
) -> None:
    """The schema state DS617 reads follows ADD VALUE ... BEFORE/AFTER as PostgreSQL does."""
    state = SchemaState()
    statements = [f"CREATE TYPE hyp AS ENUM ({', '.join(repr(v) for v in start)})"]
    values = list(start)
    for value, where, pick in added:
        if value in values:
            continue
        neighbour = values[pick % len(values)]
        tail = f" {where} '{neighbour}'" if where else ""
        statements.append(f"ALTER TYPE hyp ADD VALUE '{value}'{tail}")
        values.append(value)
    for statement in statements:
        for fact in facts_from_sql(statement, "postgresql"):
            state.apply(fact)
    with engine.begin() as conn:
        conn.execute(sa.text("DROP TYPE IF EXISTS hyp"))
        for statement in statements:
            conn.execute(sa.text(statement))
        kept = conn.execute(
            sa.text(
                "SELECT enumlabel FROM pg_enum WHERE enumtypid = 'hyp'::regtype "
                "ORDER BY enumsortorder"
            )
        ).scalars()
        assert state.enums["hyp"] == tuple(kept)
        conn.execute(sa.text("DROP TYPE hyp"))


def test_an_op_call_adds_before_like_the_operation_does() -> None:
    state = SchemaState(enums={"mood": ("happy", "sad")})
    state.apply(Fact("add_enum_value", name="mood", values=("meh",), position="sad"))
    state.apply(Fact("add_enum_value", name="mood", values=("zen",)))
    assert state.enums["mood"] == ("happy", "meh", "sad", "zen")


def _sql_codes(sql: str) -> set[str]:
    from dbshift.linter.engine import check
    from dbshift.linter.model import MigrationFacts, Target

    facts = tuple((fact, 1) for fact in facts_from_sql(sql, "postgresql"))
    info = MigrationFacts("m", "m.sql", "sql", True, facts)
    return {f.code for f in check(info, Target("postgresql"), SchemaState())}


def test_a_reference_is_compared_with_the_key_it_resolves_to() -> None:
    """DS620 follows a bare `REFERENCES t` to t's primary key, a table referring to
    itself, and says nothing when the referred table is unknown."""
    assert "DS620" in _sql_codes(
        "CREATE TABLE tree (id BIGINT PRIMARY KEY, parent INT REFERENCES tree)"
    )
    assert "DS620" not in _sql_codes(
        "CREATE TABLE tree (id INT PRIMARY KEY, parent INT REFERENCES tree)"
    )
    assert "DS620" not in _sql_codes("CREATE TABLE t (id BIGINT, u INT REFERENCES elsewhere)")
    assert "DS620" in _sql_codes(
        "CREATE TABLE a (id BIGINT PRIMARY KEY);\n"
        "CREATE TABLE b (id BIGINT PRIMARY KEY, a_id INT);\n"
        "ALTER TABLE b ADD CONSTRAINT b_a FOREIGN KEY (a_id) REFERENCES a (id)"
    )
