"""The rule registry: `RULES` by code, and the decorators each rule registers itself with
(`@rule(...)`, `@migration_rule(...)`). The category modules import it; the package
imports them."""

from __future__ import annotations

from collections.abc import Callable
from typing import NotRequired, TypedDict, Unpack

from dbshift.linter.model import Category, Check, Example, MigrationCheck, Rule, Severity

RULES: dict[str, Rule] = {}

#: the schema every rule example runs against (the body of a first migration's upgrade)
EXAMPLE_BASE = """\
op.create_table(
    "users",
    sa.Column("id", sa.BigInteger, primary_key=True),
    sa.Column("email", sa.String(200), nullable=False),
    sa.Column("name", sa.String(100)),
    sa.Column("score", sa.Integer, server_default="0"),
    sa.Column("status", sa.Enum("new", "active", name="user_status")),
    sa.Column("created_at", sa.DateTime(timezone=True)),
)
op.create_index("ix_users_name", "users", ["name"])
op.create_table("events", sa.Column("id", sa.BigInteger), sa.Column("payload", sa.Text))
op.create_enum("mood", ["happy", "sad"])
"""


class About(TypedDict):
    """A rule's documentation (docs/lint.md is generated from it); `fires` and `passes`
    are its test cases too."""

    summary: str
    why: str
    instead: str
    fires: tuple[Example, ...]
    passes: tuple[Example, ...]
    versions: NotRequired[str]  # the server versions it applies to, in words
    opt_in: NotRequired[bool]  # off unless `[lint] enable` lists it


def rule(
    code: str,
    name: str,
    severity: Severity,
    category: Category,
    backends: frozenset[str],
    **about: Unpack[About],
) -> Callable[[Check], Check]:
    """Register `fn(fact, context) -> message | None` as rule `code`."""

    def register(fn: Check) -> Check:
        _add(_rule(code, name, severity, category, backends, about, check=fn))
        return fn

    return register


def migration_rule(
    code: str,
    name: str,
    severity: Severity,
    category: Category,
    backends: frozenset[str],
    **about: Unpack[About],
) -> Callable[[MigrationCheck], MigrationCheck]:
    """Register `fn(migration, target) -> [(line, message)]`: a rule over a whole migration."""

    def register(fn: MigrationCheck) -> MigrationCheck:
        _add(_rule(code, name, severity, category, backends, about, check_migration=fn))
        return fn

    return register


def _rule(
    code: str,
    name: str,
    severity: Severity,
    category: Category,
    backends: frozenset[str],
    about: About,
    *,
    check: Check | None = None,
    check_migration: MigrationCheck | None = None,
) -> Rule:
    return Rule(
        code,
        name,
        severity,
        category,
        backends,
        about.get("versions", "all"),
        about["summary"],
        about["why"],
        about["instead"],
        about["fires"],
        about["passes"],
        check=check,
        check_migration=check_migration,
        opt_in=about.get("opt_in", False),
    )


def _add(new: Rule) -> None:
    assert new.code not in RULES, f"duplicate rule code {new.code}"
    RULES[new.code] = new
