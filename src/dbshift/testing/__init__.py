"""dbshift under pytest: migrated databases per test, a data-migration helper and the
built-in checks (docs/pytest.md).

The plugin pytest loads (entry point `pytest11`) is `dbshift_pytest`, a module outside
this package that imports nothing of dbshift until a test asks for one of its fixtures
or the checks are turned on. What it then needs lives here: `databases.py` (the
server, the migrated template and its clones), `migrator.py` (`Migrator`) and
`checks.py` (the checks, also importable as test functions).
"""

from __future__ import annotations

from dbshift.testing.migrator import Migrator

__all__ = ["Migrator"]
