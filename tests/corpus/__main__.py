"""`python -m tests.corpus setup|run|table`: build the venvs, run the pairs, print the table.

    python -m tests.corpus setup [--project X]...       build/reuse the venvs, one at a time
    python -m tests.corpus run [--project X]... [--backend Y]... [--tools dbshift,alembic]
    python -m tests.corpus table [--markdown]            the table of the last results

Results are kept in ~/.cache/dbshift-corpus/results.json, or the file the environment
variable DBSHIFT_CORPUS_RESULTS names (one entry per pair, replaced when that pair runs
again), so a partial run adds to the table; two people running the corpus at once on one
machine give each run a results file of its own.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from tests.corpus import manifest, venvs

RESULTS = Path(os.environ.get("DBSHIFT_CORPUS_RESULTS", venvs.CACHE / "results.json"))


def _selected(names: list[str] | None) -> list[manifest.Project]:
    projects = manifest.load()
    if names:
        unknown = set(names) - {p.name for p in projects}
        if unknown:
            raise SystemExit(f"error: unknown project(s) {sorted(unknown)}")
        projects = [p for p in projects if p.name in names]
    return projects


def setup(names: list[str] | None) -> int:
    failed = 0
    for project in _selected(names):
        start = time.monotonic()
        log = venvs.CACHE / f"{project.name}.log"
        ready = venvs.is_ready(project)
        try:
            venvs.build(project, log=log)
        except subprocess.CalledProcessError:
            failed += 1
            print(f"{project.name}: install failed, see {log}", flush=True)
            continue
        took = "cached" if ready else f"{time.monotonic() - start:.0f}s"
        print(f"{project.name} {project.version}: {venvs.venv_dir(project)} ({took})", flush=True)
    return 1 if failed else 0


def run_pair(project: manifest.Project, backend: str, tools: str) -> dict[str, Any]:
    """One pair, in the project's venv; the JSON it prints, or what went wrong."""
    done = subprocess.run(
        [
            str(venvs.python(project)),
            "-m",
            "tests.corpus.pair",
            project.name,
            backend,
            "--tools",
            tools,
        ],
        cwd=venvs.REPO,
        capture_output=True,
        text=True,
        timeout=3600,
        env={**os.environ, "PYTHONPATH": venvs.path()},
    )
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        tail = (done.stderr.strip().splitlines() or [""])[-1]
        return {"project": project.name, "version": project.version, "backend": backend,
                "create_all": f"harness error: {tail}"}  # fmt: skip
    result: dict[str, Any] = json.loads(lines[-1])
    return result


def load_results() -> dict[str, dict[str, Any]]:
    if not RESULTS.is_file():
        return {}
    data: dict[str, dict[str, Any]] = json.loads(RESULTS.read_text())
    return data


TOOLS = ("dbshift", "alembic")


def run(names: list[str] | None, backends: list[str] | None, tools: str) -> int:
    results = load_results()
    for project in _selected(names):
        if not venvs.is_ready(project):
            print(
                f"{project.name}: no venv (python -m tests.corpus setup --project {project.name})"
            )
            continue
        for backend in backends or manifest.BACKENDS:
            start = time.monotonic()
            result = run_pair(project, backend, tools)
            result["seconds"] = round(time.monotonic() - start)
            key = f"{project.name}/{backend}"
            # a run of some tools keeps the other tools' last results for the pair
            kept = {
                t: v
                for t, v in results.get(key, {}).items()
                if t in TOOLS and t not in tools.split(",")
            }
            results[key] = {**kept, **result}
            RESULTS.write_text(json.dumps(results, indent=1, sort_keys=True))
            print(_row(result), flush=True)
    return 0


def _mark(value: str | None) -> str:
    if value is None:
        return "-"
    if value == "pass":
        return "pass"
    return "FAIL" if value.startswith("fail") else "-"


def _row(result: dict[str, Any]) -> str:
    head = f"{result['project']} {result['version']} {result['backend']}"
    if result.get("create_all") != "pass":
        refusal = result.get("dbshift", {}).get("refusal")
        return f"{head}: {result.get('create_all')} | make refuses: {refusal}"
    cells = []
    for tool in ("dbshift", "alembic"):
        props = result.get(tool, {})
        cells.append(tool + " " + " ".join(_mark(props.get(p)) for p in ("p1", "p2", "p3", "p4")))
    return f"{head}: " + " | ".join(cells)


def table(markdown: bool) -> int:
    results = load_results()
    order = {p.name: i for i, p in enumerate(manifest.load())}
    rows = sorted(
        results.values(),
        key=lambda r: (order.get(r["project"], 99), manifest.BACKENDS.index(r["backend"])),
    )
    if not markdown:
        for result in rows:
            print(_row(result))
        return 0
    print(
        "| project | version | backend | SQLAlchemy | dbshift p1 p2 p3 p4 | Alembic p1 p2 p3 p4 |"
    )
    print("|---|---|---|---|---|---|")
    for r in rows:
        if not r.get("claimed", True):
            r = {**r, "backend": r["backend"] + " (not claimed)"}
        if r.get("create_all") != "pass":
            refusal = r.get("dbshift", {}).get("refusal", "-")
            what = f"{r.get('create_all')}; make refuses: {_mark(refusal)}"
            print(
                f"| {r['project']} | {r['version']} | {r['backend']} | {r.get('sqlalchemy', '')} | {what} | |"
            )
            continue
        cells = [
            " ".join(_mark(r.get(tool, {}).get(p)) for p in ("p1", "p2", "p3", "p4"))
            for tool in ("dbshift", "alembic")
        ]
        print(
            f"| {r['project']} | {r['version']} | {r['backend']} | {r['sqlalchemy']} | {cells[0]} | {cells[1]} |"
        )
    print()
    print(_summary(rows))
    print()
    for r in rows:
        for tool in ("dbshift", "alembic"):
            for prop, value in sorted(r.get(tool, {}).items()):
                if value != "pass" and not value.startswith("not run"):
                    print(f"- {r['project']}/{r['backend']} {tool} {prop}: {_short(value)}")
    return 0


def _short(text: str, limit: int = 320) -> str:
    text = re.sub(r"/tmp/dbshift-corpus-\w+/", "", text).replace("|", "\\|")
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _summary(rows: list[dict[str, Any]]) -> str:
    """How many pairs each tool passes, all four properties (a refusal counts for dbshift
    where create_all fails, and is not counted for Alembic, which was not run there)."""
    creatable = [r for r in rows if r.get("create_all") == "pass"]
    refused = [r for r in rows if r.get("create_all", "").startswith("create_all fails")]

    def clean(r: dict[str, Any], tool: str) -> bool:
        return all(r.get(tool, {}).get(p) == "pass" for p in ("p1", "p2", "p3", "p4"))

    dbshift = sum(clean(r, "dbshift") for r in creatable)
    refusals = sum(r.get("dbshift", {}).get("refusal") == "pass" for r in refused)
    alembic = sum(clean(r, "alembic") for r in creatable)
    return (
        f"{len(rows)} pairs; create_all works on {len(creatable)}. All four properties: "
        f"dbshift {dbshift}/{len(creatable)}, Alembic {alembic}/{len(creatable)}. "
        f"Where create_all fails ({len(refused)}), make refuses cleanly on {refusals}."
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.corpus")
    sub = parser.add_subparsers(dest="command", required=True)
    p_setup = sub.add_parser("setup", help="build or reuse the venvs")
    p_setup.add_argument("--project", action="append")
    p_run = sub.add_parser("run", help="run the pairs and print a row each")
    p_run.add_argument("--project", action="append")
    p_run.add_argument("--backend", action="append", choices=manifest.BACKENDS)
    p_run.add_argument("--tools", default="dbshift,alembic")
    p_table = sub.add_parser("table", help="the table of the last results")
    p_table.add_argument("--markdown", action="store_true")
    args = parser.parse_args(argv)
    if args.command == "setup":
        return setup(args.project)
    if args.command == "run":
        return run(args.project, args.backend, args.tools)
    return table(args.markdown)


if __name__ == "__main__":
    sys.exit(main())
