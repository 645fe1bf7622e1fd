"""The lint rules. Each rule lives in the module of its category and registers itself
with `@rule(...)` (`registry.py`); importing this package imports every category, and
`RULES` lists them by code."""

from __future__ import annotations

from dbshift.linter.model import Rule
from dbshift.linter.rules import compat, data_loss, hygiene, mysql, postgresql, sqlite
from dbshift.linter.rules.registry import EXAMPLE_BASE, RULES, About, migration_rule, rule


def load_rules() -> dict[str, Rule]:
    """Every rule, keyed by code."""
    return dict(sorted(RULES.items()))


__all__ = [
    "EXAMPLE_BASE",
    "RULES",
    "About",
    "compat",
    "data_loss",
    "hygiene",
    "load_rules",
    "migration_rule",
    "mysql",
    "postgresql",
    "rule",
    "sqlite",
]
