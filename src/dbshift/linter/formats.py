"""Findings in the formats CI systems read: GitHub Actions annotations and SARIF 2.1.0.
Pure functions returning text or data; the CLI's reporter prints them."""

from __future__ import annotations

import os
from typing import Any

from dbshift._version import __version__
from dbshift.linter.model import LintReport
from dbshift.linter.rules import load_rules

_GITHUB_LEVEL = {"error": "error", "warning": "warning", "info": "notice"}
_SARIF_LEVEL = {"error": "error", "warning": "warning", "info": "note"}


def _relative(path: str) -> str:
    """Paths relative to the working directory (the repository root in CI)."""
    try:
        return os.path.relpath(path).replace(os.sep, "/")
    except ValueError:  # another drive on Windows
        return path


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def annotation(title: str, message: str, level: str = "error") -> str:
    """One GitHub Actions annotation without a file (`dbshift drift`, `check`'s items):
    `::error title=...::message`, escaped as the runner reads it."""
    return f"::{level} title={_escape_property(title)}::{_escape_data(message)}"


def github(report: LintReport) -> str:
    """One `::error file=...,line=...,title=...::message` line per finding."""
    lines = []
    for f in report.findings:
        props = f"file={_escape_property(_relative(f.file))},line={max(f.line, 1)}"
        props += f",title={_escape_property(f'{f.code} {f.rule} ({f.backend})')}"
        lines.append(f"::{_GITHUB_LEVEL[f.severity]} {props}::{_escape_data(f.message)}")
    return "\n".join(lines)


def sarif(report: LintReport) -> dict[str, Any]:
    """A SARIF 2.1.0 log with one run: the rules that fired, and their results."""
    rules = load_rules()
    used = sorted({f.code for f in report.findings})
    index = {code: i for i, code in enumerate(used)}
    descriptors = [
        {
            "id": code,
            "name": rules[code].name,
            "shortDescription": {"text": rules[code].summary},
            "fullDescription": {"text": rules[code].why},
            "help": {"text": f"{rules[code].why} Instead: {rules[code].instead}"},
            "defaultConfiguration": {"level": _SARIF_LEVEL[rules[code].severity]},
            "properties": {"category": rules[code].category},
        }
        for code in used
    ]
    results = [
        {
            "ruleId": f.code,
            "ruleIndex": index[f.code],
            "level": _SARIF_LEVEL[f.severity],
            "message": {"text": f.message},
            "locations": [
                {
                    "physicalLocation": {
                        "artifactLocation": {"uri": _relative(f.file)},
                        "region": {"startLine": max(f.line, 1)},
                    }
                }
            ],
            "properties": {
                "migration": f.migration,
                "backend": f.backend,
                "category": f.category,
            },
        }
        for f in report.findings
    ]
    return {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "dbshift",
                        "version": __version__,
                        "rules": descriptors,
                    }
                },
                "results": results,
            }
        ],
    }
