"""The corpus manifest (projects.toml), read into typed records."""

from __future__ import annotations

import dataclasses
import tomllib
from pathlib import Path

MANIFEST = Path(__file__).with_name("projects.toml")
BACKENDS = ("sqlite", "postgresql", "mysql")


@dataclasses.dataclass(frozen=True)
class Project:
    name: str
    version: str
    requirements: tuple[str, ...]
    models: tuple[str, ...]
    backends: tuple[str, ...]
    env: dict[str, str]
    notes: str
    venv: str  # the venv folder under the cache; entries with equal requirements may share one


def load(path: Path = MANIFEST) -> list[Project]:
    """Every project of the manifest, in its order."""
    with path.open("rb") as handle:
        data = tomllib.load(handle)
    projects = []
    for entry in data["project"]:
        unknown = set(entry["backends"]) - set(BACKENDS)
        if unknown:
            raise ValueError(f"{entry['name']}: unknown backends {sorted(unknown)}")
        projects.append(
            Project(
                name=entry["name"],
                version=entry["version"],
                requirements=tuple(entry["requirements"]),
                models=tuple(entry["models"]),
                backends=tuple(entry["backends"]),
                env=dict(entry.get("env", {})),
                notes=entry.get("notes", ""),
                venv=entry.get("venv", f"{entry['name']}-{entry['version']}"),
            )
        )
    return projects


def find(name: str, path: Path = MANIFEST) -> Project:
    for project in load(path):
        if project.name == name:
            return project
    raise KeyError(name)
