"""One virtualenv per corpus project, outside the repository, reused while its pins hold.

Each holds the project's pinned requirements, the drivers and Alembic (the comparison
tool: a dependency of the corpus only, never of dbshift) and dbshift's own runtime
dependencies. dbshift itself is not installed: every run puts this checkout's `src/` first
on `PYTHONPATH` (`path()`), so one venv serves any clone or worktree, and a run always
tests the tree it was started from.
A stamp file records what was installed; a venv whose stamp differs is rebuilt.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.corpus.manifest import Project

REPO = Path(__file__).resolve().parents[2]
CACHE = Path(os.environ.get("DBSHIFT_CORPUS_CACHE", Path.home() / ".cache" / "dbshift-corpus"))
#: installed into every venv next to the project (exact pins, like the projects)
COMMON = ("alembic==1.20.1", "psycopg[binary]==3.3.9", "PyMySQL==1.2.4")
STAMP = "dbshift-corpus.json"


def path() -> str:
    """`PYTHONPATH` for a run in a corpus venv: this checkout's dbshift, then its tests."""
    return os.pathsep.join([str(REPO / "src"), str(REPO)])


def venv_dir(project: Project) -> Path:
    return CACHE / project.venv


def python(project: Project) -> Path:
    return venv_dir(project) / "bin" / "python"


def _wanted(project: Project) -> dict[str, object]:
    digest = hashlib.sha256(json.dumps([project.requirements, COMMON]).encode()).hexdigest()
    return {"requirements": list(project.requirements), "common": list(COMMON), "id": digest}


def is_ready(project: Project) -> bool:
    stamp = venv_dir(project) / STAMP
    if not stamp.is_file() or not python(project).is_file():
        return False
    return bool(json.loads(stamp.read_text()) == _wanted(project))


def build(project: Project, *, log: Path | None = None) -> Path:
    """Create (or reuse) the project's venv; returns its folder. Raises on a failed install."""
    target = venv_dir(project)
    CACHE.mkdir(parents=True, exist_ok=True)
    with (CACHE / f"{project.venv}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # two test workers never build one venv at once
        if not is_ready(project):
            _install(project, target, log)
    return target


def _install(project: Project, target: Path, log: Path | None) -> None:
    if target.exists():
        shutil.rmtree(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    out = log.open("w") if log else subprocess.DEVNULL
    try:
        subprocess.run([sys.executable, "-m", "venv", str(target)], check=True)
        pip = [str(python(project)), "-m", "pip", "install", "-q", "--no-input"]
        subprocess.run([*pip, *project.requirements, *COMMON], check=True, stdout=out, stderr=out)
        # dbshift's own runtime dependencies, without letting them move the project's pins
        subprocess.run(
            [*pip, "click>=8.1", "rich>=13.0", "sqlglot>=25"], check=True, stdout=out, stderr=out
        )
    finally:
        if log:
            out.close()  # type: ignore[union-attr]
    (target / STAMP).write_text(json.dumps(_wanted(project)))


def installed(project: Project) -> dict[str, str]:
    """name -> version of the distributions in the project's venv (for the results)."""
    result = subprocess.run(
        [str(python(project)), "-m", "pip", "list", "--format=json"],
        capture_output=True,
        text=True,
        check=True,
    )
    return {row["name"].lower(): row["version"] for row in json.loads(result.stdout)}
