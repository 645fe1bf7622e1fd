"""What a rule needs to know about one change, whether it was written as an `op` call or
as raw SQL: the same change gives the same `Fact` either way.

The fact types live in `dbshift.facts`. Each operation gives its own
(`Operation.lint_facts`); raw SQL is parsed into them by `dbshift.linter.sqlfacts`.
"""

from __future__ import annotations

from dbshift.facts import Fact
from dbshift.linter.sqlfacts import facts_from_sql
from dbshift.ops import Operation


def facts_from_operation(op: Operation, dialect: str = "postgresql") -> list[Fact]:
    """The facts of one operation. Raw SQL (`op.execute("...")`) is parsed for
    `dialect`; Python code (`op.run`) is one opaque fact."""
    return op.lint_facts(lambda sql: facts_from_sql(sql, dialect))
