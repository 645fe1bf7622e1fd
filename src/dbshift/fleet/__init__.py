"""Fleets: one history applied to many databases and tenant schemas, in parallel,
resumable, reported (docs/fleet.md).

    from dbshift import Config
    from dbshift.fleet import fleet_upgrade

    report = fleet_upgrade(Config.load(), schemas="tenant_*", jobs=8)
    print(report.to_json())

Every function takes the `[fleet]` settings of the configuration, with keywords over
them (the names of `[fleet]`'s keys: `urls`, `schemas`, `databases`, `sqlite`, `query`,
`control_url`, `exclude`, `search_path`, `jobs`, `per_server`, `fail_fast`,
`max_failures`, `canary`), `shard="I/N"` for one slice, and an `observer` told as
targets start and finish. A target's failure is in its result, never raised: usage
and configuration errors (and the files' own: a broken graph, `dbshift.sum`) raise
before any target runs.

Called in the main thread, each of them listens for SIGINT and SIGTERM while it runs:
the first starts no more targets and stops the running ones between two migrations
(the report says what each applied, status `interrupted`, exit code 130 or 143); a
second raises `dbshift.errors.Interrupted` at once.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from dbshift.config import Config
from dbshift.fleet import run as running
from dbshift.fleet import settings as fleet_settings
from dbshift.fleet import targets as targeting
from dbshift.fleet.report import FleetReport, TargetResult, merge, read_reports
from dbshift.fleet.run import Observer
from dbshift.fleet.targets import Target
from dbshift.migrations.project import Project
from dbshift.runner.cache import Shelf

if TYPE_CHECKING:
    from dbshift.linter import LintReport

__all__ = [
    "FleetLint",
    "FleetReport",
    "Observer",
    "Target",
    "TargetResult",
    "fleet_downgrade",
    "fleet_lint",
    "fleet_stamp",
    "fleet_status",
    "fleet_targets",
    "fleet_upgrade",
    "merge",
    "read_reports",
]


def fleet_targets(config: Config, *, shard: str | None = None, **flags: Any) -> list[Target]:
    """The targets the settings name (of one shard, `I/N`), in their stable order."""
    return _targets(config, fleet_settings.read(config, **flags), shard)


def fleet_upgrade(
    config: Config,
    revision: str = "head",
    *,
    dry_run: bool = False,
    shard: str | None = None,
    observer: Observer | None = None,
    **flags: Any,
) -> FleetReport:
    """`upgrade` on every target (docs/fleet.md): each at most once at a time, under its
    own runner lock; a failed target is reported, and the others go on unless the
    policy (`fail_fast`, `max_failures`, `canary`) stops the run."""
    return _migrating("upgrade", config, revision, dry_run, shard, observer, flags)


def fleet_downgrade(
    config: Config,
    revision: str,
    *,
    dry_run: bool = False,
    shard: str | None = None,
    observer: Observer | None = None,
    **flags: Any,
) -> FleetReport:
    """`downgrade` to `revision` (`-1`, an id, `base`) on every target."""
    return _migrating("downgrade", config, revision, dry_run, shard, observer, flags)


def fleet_stamp(
    config: Config,
    revision: str,
    *,
    shard: str | None = None,
    observer: Observer | None = None,
    **flags: Any,
) -> FleetReport:
    """`stamp` every target at `revision`, running no migration."""
    return _migrating("stamp", config, revision, False, shard, observer, flags)


def fleet_status(
    config: Config,
    *,
    shard: str | None = None,
    observer: Observer | None = None,
    command: str = "status",
    **flags: Any,
) -> FleetReport:
    """Where every target stands: at_head, behind (`behind`: by how many migrations),
    partial, locked (a runner holds its lock), or failed (unreachable, integrity)."""
    chosen = fleet_settings.read(config, **flags)
    targets = _targets(config, chosen, shard)
    project, _ = Project.audited(config)
    # each target's status would settle `dbshift.sum` (rewrite it, from every thread):
    # the targets get the project without its unrecorded changes, settled once after
    job = running.status_job(dataclasses.replace(project, unrecorded=()))
    report = running.run(command, targets, job, chosen.policy, observer=observer, shard=shard)
    if not report.failures:
        project.settle()
    return report


@dataclasses.dataclass(frozen=True)
class FleetLint:
    """`fleet_lint`: the lint report, once for every server version the fleet runs, and
    the report of the targets read for it (a target that could not be read is failed)."""

    lint: LintReport
    targets: FleetReport

    def exit_code(self, fail_on: str = "error") -> int:
        """A target's failure (the lint is then incomplete) first; else 1 when a finding
        is at `fail_on` or above; else 0."""
        return self.targets.exit_code or (1 if self.lint.fails(fail_on) else 0)


def fleet_lint(
    config: Config,
    range_: str | None = None,
    *,
    every: bool = False,
    since: str | None = None,
    baseline: bool = True,
    shard: str | None = None,
    observer: Observer | None = None,
    **flags: Any,
) -> FleetLint:
    """`lint` once for the whole fleet (docs/fleet.md): the migrations pending on any
    target (or `range_`, `every`, `since`, as `dbshift lint` takes them), checked for each
    distinct server and version among the targets. Each target's history is read for
    the pending ones; with a range, one target per server is enough."""
    # lazy: status start-up: the linter (and sqlglot), for `fleet lint` alone
    from dbshift.linter.run import Choice, lint_selection
    from dbshift.linter.select import Selection, select

    chosen = fleet_settings.read(config, **flags)
    project = Project.read(config)
    targets = _targets(config, chosen, shard)
    by_range = bool(range_ or every or since)
    # what the files alone choose (no database is read): the range, or every migration
    # (the pending ones are taken from it below), and the servers of `[lint]`
    files = select(
        config.replace(url=None),
        project.scripts,
        project.graph,
        Choice(range_=range_, every=every or not by_range, since=since),
    )
    servers: dict[str, Any] = {}
    surveyed = running.run(
        "lint",
        _one_per_server(targets) if by_range else targets,
        running.survey_job(project, servers),
        chosen.policy,
        observer=observer,
        shard=shard,
    )
    found = {server for each in servers.values() for server in each}
    live = tuple(sorted(found, key=lambda server: server.label))
    selection = files
    if not by_range:
        read = [r for r in surveyed.results if not r.failed]
        wanted = {m for r in read for m in r.migrations}
        behind = sum(1 for r in read if r.migrations)
        selection = Selection(
            tuple(i for i in files.ids if i in wanted),
            files.targets,
            f"pending on {behind} of {len(surveyed.results)} targets",
        )
    if live:
        selection = dataclasses.replace(selection, targets=live)
    return FleetLint(lint_selection(project, selection, baseline=baseline), surveyed)


def _one_per_server(targets: list[Target]) -> list[Target]:
    """The first target of each server: enough to read which server and version it is."""
    first: dict[str, Target] = {}
    for target in targets:
        first.setdefault(target.server, target)
    return list(first.values())


def _migrating(
    command: str,
    config: Config,
    revision: str,
    dry_run: bool,
    shard_spec: str | None,
    observer: Observer | None,
    flags: dict[str, Any],
) -> FleetReport:
    chosen = fleet_settings.read(config, **flags)
    project = Project.read(config)  # once, before any connection; refused here if broken
    running.check_revision(project, command, revision)
    targets = _targets(config, chosen, shard_spec)
    stop = running.Stop()
    job = running.migrate_job(project, Shelf(), command, revision, dry_run, stop=stop)
    report = running.run(
        command, targets, job, chosen.policy, observer=observer, shard=shard_spec, stop=stop
    )
    if not report.failures and not dry_run:
        project.settle()
    return report


def _targets(
    config: Config, chosen: fleet_settings.FleetSettings, shard_spec: str | None
) -> list[Target]:
    return targeting.shard(targeting.discover(config, chosen), shard_spec)
