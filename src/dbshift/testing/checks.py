"""The built-in checks of the pytest plugin, each a test function over the plugin's
fixtures (docs/pytest.md). `--dbshift-checks` (or the `dbshift_checks` ini option)
collects them as `dbshift-checks::test_*` items; a test module may import them instead:

    from dbshift.testing.checks import test_single_head, test_upgrade

Each failure is one message naming the migration and what is wrong, without a
traceback into dbshift.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import NoReturn, TypeVar

import pytest
import sqlalchemy as sa

from dbshift import api, database
from dbshift.autogen import database_snapshot
from dbshift.autogen.compare import diff
from dbshift.config import Config
from dbshift.errors import DbshiftError
from dbshift.migrations.project import Project
from dbshift.schema.snapshot import Snapshot
from dbshift.testing.databases import Databases, Template, engine_for

T = TypeVar("T")

__all__ = [
    "test_downgrade_to_base",
    "test_lint",
    "test_models_match",
    "test_single_head",
    "test_up_down_consistency",
    "test_upgrade",
]


def test_single_head(dbshift_project: Config) -> None:
    """The migrations have one head (two heads are two histories a deploy must merge)."""
    heads = _attempt(lambda: Project.read(dbshift_project).graph.heads, dbshift_project)
    if len(heads) > 1:
        _fail(
            f"{len(heads)} heads: {', '.join(heads)}",
            "join them with `dbshift merge` (or move one branch after the other: `dbshift rebase`)",
        )


def test_upgrade(dbshift_project: Config, dbshift_databases: Databases) -> None:
    """Every migration applies, from an empty database to its head (or heads)."""
    config = dbshift_project.replace(url=dbshift_databases.empty())
    _attempt(lambda: api.upgrade(config, "heads"), config)


def test_models_match(dbshift_project: Config, dbshift_template: Template) -> None:
    """The models declare what the migrations build: nothing for `dbshift make` to
    write. Where the migrations replay in memory, on every backend `backends` configures
    (or the server's); where one runs raw SQL or reads the database, on the test
    database at head (the real DDL on the real server)."""
    if not dbshift_project.models:
        pytest.skip("no `models` configured")
    databases = Databases(dbshift_template.server)
    server = dbshift_template.server.backend.name
    try:
        config = dbshift_project.replace(url=databases.keep(dbshift_template.fresh()))
        if _replays(config):
            operations = _attempt(lambda: api.diff(config, against="migrations"), config)
            where = ", ".join(dbshift_project.backends) or server
        else:
            operations = _attempt(lambda: api.diff(config, against="database"), config)
            where = f"the {server} test database at head"
    finally:
        databases.close()
    if operations:
        _fail(
            f"the models differ from what the migrations build (on {where}):\n"
            + "\n".join(f"  - {op.describe()}" for op in operations),
            "write the missing migration with `dbshift make`",
        )


def _replays(config: Config) -> bool:
    """Whether the migrations replay in memory (none runs raw DDL or reads the
    database), so that every configured backend can be compared without a server."""
    return _attempt(
        lambda: Project.read(config).replayed(database.offline_dialect(config)) is not None,
        config,
    )


def test_up_down_consistency(dbshift_project: Config, dbshift_databases: Databases) -> None:
    """Each migration, in order on one database: upgrade, downgrade, upgrade again. Its
    downgrade must run and leave the schema as it was before, and the second upgrade
    build what the first one built."""
    config = dbshift_project.replace(url=dbshift_databases.empty())
    order = _attempt(lambda: Project.read(config).graph.topo_order(), config)
    with engine_for(config.require_url()) as engine:
        before = _schema(engine, config)
        for migration in order:
            _step(partial(api.upgrade, config, migration), config, migration, "its upgrade fails")
            after = _schema(engine, config)
            _step(partial(api.downgrade, config, "-1"), config, migration, "its downgrade fails")
            _same(engine, _schema(engine, config), before, migration, "after its downgrade")
            _step(
                partial(api.upgrade, config, migration),
                config,
                migration,
                "its upgrade fails after its downgrade",
            )
            _same(engine, _schema(engine, config), after, migration, "upgraded again")
            before = after


def test_downgrade_to_base(dbshift_project: Config, dbshift_databases: Databases) -> None:
    """Upgraded to head, then downgraded to base, the database holds nothing the
    migrations made (the bookkeeping tables aside)."""
    config = dbshift_project.replace(url=dbshift_databases.empty())
    _attempt(lambda: api.upgrade(config, "heads"), config)
    _attempt(lambda: api.downgrade(config, "base"), config)
    with engine_for(config.require_url()) as engine:
        left = _names(_schema(engine, config))
    if left:
        makers = _makers(dbshift_project.replace(url=dbshift_databases.empty()), left)
        _fail(
            "downgraded to base, the database still holds "
            + ", ".join(
                f"{name} (made by {makers[name]})" if name in makers else name for name in left
            ),
            "the downgrade of the migration that made each must drop it",
        )


def _names(schema: Snapshot) -> list[str]:
    return [
        *(f"table {name}" for name in schema.tables),
        *(f"enum {name}" for name in schema.enums),
        *(f"sequence {name}" for name in schema.sequences),
    ]


def _makers(config: Config, names: list[str]) -> dict[str, str]:
    """The migration after whose upgrade each of `names` first exists, on an empty
    database upgraded one migration at a time (only when the check fails)."""
    found: dict[str, str] = {}
    order = Project.read(config).graph.topo_order()
    with engine_for(config.require_url()) as engine:
        for migration in order:
            api.upgrade(config, migration)
            for name in _names(_schema(engine, config)):
                if name in names:
                    found.setdefault(name, migration)
    return found


def test_lint(dbshift_project: Config, dbshift_lint_fail_on: str | None) -> None:
    """No lint finding at or above the threshold (`--dbshift-lint-fail-on`, else the
    project's `[lint] fail_on`, else error) in any migration, for the servers the
    project's `[lint]` names (all three without), the lint baseline applied."""
    threshold = dbshift_lint_fail_on or str(dbshift_project.lint.get("fail_on", "error"))
    config = dbshift_project.replace(url=None)
    report = _attempt(lambda: api.lint(config, every=True), config)
    failing = report.failing(threshold)
    if failing:
        _fail(
            f"{len(failing)} lint finding(s) at {threshold} or above:\n"
            + "\n".join(
                f"  {f.migration} (line {f.line}, {f.backend}): {f.severity} {f.code} {f.message}"
                for f in failing
            ),
            "see `dbshift lint --every`; accept one where it is meant with "
            "`# dbshift: ignore[CODE]`, or all with the lint baseline (docs/lint.md)",
        )


# -- helpers -------------------------------------------------------------------------------


def _attempt(run: Callable[[], T], config: Config) -> T:
    return _step(run, config, "", "")


def _step(run: Callable[[], T], config: Config, migration: str, what: str) -> T:
    """`run()`; a dbshift error fails the test with its message (naming `migration`
    and `what` failed, when given), outside the `except` so that pytest shows no
    chain of exceptions."""
    try:
        return run()
    except DbshiftError as error:
        failed = error
    prefix = f"{migration}: {what}: " if migration else ""
    _fail(prefix + config.redact(failed.message), config.redact(failed.hint or ""))


def _schema(engine: sa.Engine, config: Config) -> Snapshot:
    with engine.connect() as conn:
        return database_snapshot(conn, config)


def _same(engine: sa.Engine, found: Snapshot, wanted: Snapshot, migration: str, when: str) -> None:
    """Fail naming `migration` where `found` is not `wanted` (as `make` compares)."""
    if found == wanted:
        return
    operations = diff(found, wanted, engine.dialect, live=True).operations
    if operations:
        _fail(
            f"{migration}: {when}, the schema differs; to match, it would need:\n"
            + "\n".join(f"  - {op.describe()}" for op in operations),
            "its downgrade must undo exactly what its upgrade does",
        )


def _fail(message: str, hint: str = "") -> NoReturn:
    pytest.fail(message + (f"\n  hint: {hint}" if hint else ""), pytrace=False)
