"""Every rule fires on its failing examples and stays quiet on its near misses, on each
backend it covers, in Python and in SQL form (the examples are those of docs/lint.md)."""

from __future__ import annotations

from pathlib import Path

import pytest

from dbshift.linter import load_rules
from dbshift.linter.model import Example, Rule
from tests.lint_support import lint_folder, write_base, write_example

RULES = load_rules()


def _cases(kind: str) -> list[object]:
    cases = []
    for rule in RULES.values():
        examples: tuple[Example, ...] = rule.fires if kind == "fires" else rule.passes
        for n, example in enumerate(examples):
            for backend in sorted(rule.backends):
                if not example.for_backend(backend):
                    continue
                forms = []
                if example.python is not None:
                    forms.append("python")
                if example.sql_for(backend) is not None:
                    forms.append("sql")
                for form in forms:
                    cases.append(
                        pytest.param(
                            rule, example, backend, form, id=f"{rule.code}-{n}-{backend}-{form}"
                        )
                    )
    return cases


def _codes(tmp_path: Path, example: Example, backend: str, form: str) -> list[str]:
    folder = tmp_path / "migrations"
    write_base(folder)
    migration_id = write_example(folder, example, form, backend)
    findings = lint_folder(folder, backend, example.version, [migration_id])
    return [f.code for f in findings]


@pytest.mark.parametrize(("rule", "example", "backend", "form"), _cases("fires"))
def test_rule_fires(tmp_path: Path, rule: Rule, example: Example, backend: str, form: str) -> None:
    assert rule.code in _codes(tmp_path, example, backend, form)


@pytest.mark.parametrize(("rule", "example", "backend", "form"), _cases("passes"))
def test_near_miss_does_not_fire(
    tmp_path: Path, rule: Rule, example: Example, backend: str, form: str
) -> None:
    assert rule.code not in _codes(tmp_path, example, backend, form)


def test_every_rule_has_examples_on_every_backend_it_covers() -> None:
    assert len(RULES) >= 30
    for rule in RULES.values():
        assert rule.fires and rule.passes, rule.code
        assert rule.category in ("data-loss", "backward-incompatible", "locking", "hygiene")
        for backend in rule.backends:
            assert any(
                (e.python or e.sql_for(backend)) and e.for_backend(backend) for e in rule.fires
            ), (rule.code, backend)


def test_docs_list_every_rule_as_the_registry_has_it() -> None:
    from dbshift.linter import doc

    committed = (Path(__file__).parent.parent / "docs" / "lint.md").read_text()
    assert doc.updated(committed) == committed, "run: python -m dbshift.linter.doc docs/lint.md"
    for code in RULES:
        assert f"### {code}" in committed
