"""The migration linter: rules over operations and raw SQL, per backend and version.

`lint_operations` checks operations in memory (what `make` and `check` call);
`lint_scripts` checks migration files in graph order; `dbshift.lint` (the API
function) picks the migrations (pending, a range, added since a git ref) and the server.
The package is not named `lint`: importing it would replace that function on `dbshift`.
"""

from dbshift.facts import Fact
from dbshift.linter.engine import Settings, lint_operations, lint_scripts
from dbshift.linter.facts import facts_from_operation
from dbshift.linter.model import Finding, LintReport, Rule, SchemaState, Target, parse_version
from dbshift.linter.rules import load_rules

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
