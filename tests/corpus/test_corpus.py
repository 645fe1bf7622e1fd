"""The corpus as tests: each project/backend pair must pass the four properties with dbshift.

Slow (a venv per project, then a few dozen real databases), so it runs only with
DBSHIFT_CORPUS=1: `DBSHIFT_CORPUS=1 pytest -m corpus -n 2 tests/corpus`. Missing venvs
are built first (cached under ~/.cache/dbshift-corpus/). Where the project's own
create_all fails on a backend, `make` must refuse cleanly instead. Alembic's results are
reported by `python -m tests.corpus run`, not asserted here.
"""

from __future__ import annotations

import os

import pytest

from tests.conftest import require_backend
from tests.corpus import manifest, venvs
from tests.corpus.__main__ import run_pair

ENABLED = os.environ.get("DBSHIFT_CORPUS") == "1"
PAIRS = [
    pytest.param(project, backend, id=f"{project.name}-{backend}")
    for project in manifest.load()
    for backend in manifest.BACKENDS
]

pytestmark = pytest.mark.corpus


@pytest.mark.parametrize(("project", "backend"), PAIRS)
def test_pair(project: manifest.Project, backend: str) -> None:
    if not ENABLED:
        pytest.skip("corpus: set DBSHIFT_CORPUS=1 to run it (builds venvs; see README Tests)")
    require_backend(backend)
    venvs.build(project, log=venvs.CACHE / f"{project.name}.log")
    result = run_pair(project, backend, "dbshift")
    if result["create_all"].startswith("create_all fails"):
        assert result["dbshift"]["refusal"] == "pass", result["create_all"]
        return
    assert result["create_all"] == "pass"
    failures = {p: v for p, v in result["dbshift"].items() if v != "pass"}
    assert not failures, failures
