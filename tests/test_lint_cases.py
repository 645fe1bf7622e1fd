"""The squawk-intent cases (tests/lint_cases.py) in SQL and Python-op form: a bad case
gets its findings, a good case no warning or error beyond the ones it names."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.lint_cases import CASES, Case
from tests.lint_support import lint_case

FORMS = [(case, "sql") for case in CASES] + [(case, "python") for case in CASES if case.python]


@pytest.mark.parametrize(("case", "form"), FORMS, ids=[f"{c.name}:{f}" for c, f in FORMS])
def test_case(tmp_path: Path, case: Case, form: str) -> None:
    findings = lint_case(tmp_path, case, form)
    found = {f.code for f in findings}
    if case.bad:
        assert case.codes <= found, [f"{f.code} {f.message}" for f in findings]
    else:
        loud = {f.code for f in findings if f.severity in ("warning", "error")}
        assert loud <= case.codes, [f"{f.code} {f.message}" for f in findings]


def test_every_intent_has_a_bad_case_or_a_reason() -> None:
    """Each squawk rule covered by at least one bad case, or by a documented difference."""
    by_intent: dict[str, list[Case]] = {}
    for case in CASES:
        by_intent.setdefault(case.intent, []).append(case)
    for intent, cases in by_intent.items():
        assert any(c.bad for c in cases) or all(c.differs for c in cases), intent
