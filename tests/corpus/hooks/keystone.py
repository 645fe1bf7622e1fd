"""Keystone declares its tables in the SQL modules of each subsystem's backends
(keystone/<subsystem>/backends/sql.py or sql_model.py) on one ModelBase, which its alembic
env.py takes as target_metadata; its own loader imports whichever driver is configured. The
hook imports every such module found in the installed package (never its tests)."""

from __future__ import annotations

import importlib
import pkgutil

import keystone
from keystone.common.sql import core


def _model_modules() -> list[str]:
    names = []
    for info in pkgutil.walk_packages(keystone.__path__, "keystone."):
        parts = info.name.split(".")
        if "tests" in parts or len(parts) < 3 or not parts[-2].endswith("backends"):
            continue
        if parts[-1] in ("sql", "sql_model"):
            names.append(info.name)
    return sorted(names)


for _name in _model_modules():
    importlib.import_module(_name)
metadata = core.ModelBase.metadata
