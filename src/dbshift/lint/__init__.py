"""The migration linter: rules over operations and raw SQL, per backend and version.

`lint_operations` checks operations in memory (what `make` and `check` call);
`lint_scripts` checks migration files in graph order; `dbshift.api.lint` picks the
migrations (pending, a range, added since a git ref) and the server.
"""

import sys
import types
from typing import Any

from dbshift.lint.engine import Settings, lint_operations, lint_scripts
from dbshift.lint.facts import Fact, facts_from_operation
from dbshift.lint.model import Finding, LintReport, Rule, SchemaState, Target, parse_version
from dbshift.lint.rules import load_rules

__all__ = [
    "Fact",
    "Finding",
    "LintReport",
    "Rule",
    "SchemaState",
    "Settings",
    "Target",
    "facts_from_operation",
    "lint_operations",
    "lint_scripts",
    "load_rules",
    "parse_version",
]


class _CallableModule(types.ModuleType):
    """`dbshift.lint(config, ...)` is the API function; importing this package makes
    Python set the attribute `dbshift.lint` to the package, so the package calls it."""

    def __call__(self, *args: Any, **kwargs: Any) -> LintReport:
        from dbshift.api import lint

        return lint(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
