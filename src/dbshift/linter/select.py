"""Which migrations `dbshift lint` checks, and for which server.

By default those not yet applied to the configured database (whose server version is
then read too); or a range of the graph, every migration, or those whose files were
added since a git ref (what a pull request adds).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy import exc

from dbshift import database, git
from dbshift.config import Config, mask_url
from dbshift.errors import ConfigError, DatabaseError, UsageError
from dbshift.history import History, HistoryRow
from dbshift.linter.model import BACKENDS, Target, parse_version
from dbshift.migrations.graph import Graph
from dbshift.migrations.scripts import Script, require_folder

if TYPE_CHECKING:
    import subprocess

#: what is linted when neither a database nor --dialect says which backend
DEFAULT_BACKENDS = ("postgresql", "mysql", "sqlite")


@dataclasses.dataclass(frozen=True)
class Selection:
    ids: tuple[str, ...]
    targets: tuple[Target, ...]
    #: how the migrations were chosen, for the report
    description: str


@dataclasses.dataclass(frozen=True, kw_only=True)
class Choice:
    """What `dbshift lint` is asked for: `range_` (`FROM:TO`, `:TO` or one id), `every`
    migration, or those added `since` a git ref (one at most; none: the pending ones),
    and which server to check for (`dialect`, `server_version`)."""

    range_: str | None = None
    every: bool = False
    since: str | None = None
    dialect: str | None = None
    server_version: str | None = None


def select(
    config: Config,
    scripts: Sequence[Script],
    graph: Graph,
    choice: Choice,
    *,
    connected: sa.Connection | None = None,
    observed: Sequence[HistoryRow] | None = None,
) -> Selection:
    """The migrations `choice` asks for. The pending ones are read on `connected` when
    given (else on a connection of their own), from `observed` when the history was
    already read on it (`check` reads it once for every item)."""
    range_, every, since = choice.range_, choice.every, choice.since
    dialect, server_version = choice.dialect, choice.server_version
    settings: Mapping[str, Any] = config.lint
    version_text = server_version or _text(settings.get("server_version"))
    version = _version(version_text) if version_text else None
    backend = dialect or _text(settings.get("dialect"))
    if backend is None and config.url_text:
        backend = _backend_of_url(config.url_text)
    if sum(bool(x) for x in (range_, every, since)) > 1:
        raise UsageError(
            "give one of RANGE, --all and --since", hint="each chooses the migrations linted"
        )
    if every:
        ids, description = graph.topo_order(), "all migrations"
    elif since:
        ids, description = (
            _added_since(since, config.migrations_dir, scripts),
            f"added since {since}",
        )
    elif range_:
        ids, description = _range(graph, range_), range_
    else:
        ids, live = _pending(config, graph, connected, observed)
        description = f"pending on {mask_url(config.url_text)}"
        if live.backend and not dialect:
            backend = live.backend
        if live.version and not server_version and backend == live.backend:
            version = live.version
    if backend is not None and backend not in BACKENDS:
        raise UsageError(
            f"unknown dialect {backend!r}", hint="use postgresql, mysql, mariadb or sqlite"
        )
    targets = (
        (Target(backend, version),) if backend else tuple(Target(b, None) for b in DEFAULT_BACKENDS)
    )
    return Selection(tuple(ids), targets, description)


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _version(text: str) -> tuple[int, ...]:
    try:
        return parse_version(text)
    except ValueError:
        raise UsageError(
            f"invalid server version {text!r}", hint="write it as 15, 10.11 or 8.0.36"
        ) from None


def _backend_of_url(url: str) -> str | None:
    try:
        name = sa.make_url(url).get_backend_name()
    except Exception:
        return None
    return name if name in BACKENDS else None


def _range(graph: Graph, range_: str) -> list[str]:
    """`FROM:TO` (what comes after FROM up to TO), `:TO`, or one migration id."""
    if ":" not in range_:
        return [graph.resolve(range_)]
    start, _, target = range_.partition(":")
    applied = graph.ancestors([graph.resolve(start)]) if start else set()
    return graph.plan_up(applied, target or "head")


@dataclasses.dataclass(frozen=True)
class _Server:
    backend: str | None
    version: tuple[int, ...] | None


def _pending(
    config: Config,
    graph: Graph,
    connected: sa.Connection | None,
    observed: Sequence[HistoryRow] | None,
) -> tuple[list[str], _Server]:
    """The migrations not applied yet, read from the history as `status` reads it, and
    the server they will run on."""
    if not config.url:
        raise ConfigError(
            "no database URL configured: `dbshift lint` checks the migrations pending on it",
            hint="pass --url, or lint without a database: --all, --since REF or a range",
        )

    known = set(graph.topo_order())

    def job(conn: sa.Connection) -> tuple[list[str], _Server]:
        rows = observed
        if rows is None:
            rows = History(config.table_prefix, config.schema).rows(conn)
        applied = {r.id for r in rows if r.applied and r.id in known}
        live = Target.of(conn.dialect, live=True)
        backend = live.backend if live.backend in BACKENDS else None
        return graph.plan_up(applied, "heads"), _Server(backend, live.version)

    try:
        if connected is None:
            return database.run(config, job)
        try:
            return job(connected)
        except exc.DBAPIError as error:
            raise database.database_error(config, error) from error
    except DatabaseError as error:
        raise DatabaseError(
            f"cannot read the pending migrations: {error.message}",
            hint="lint without a database with --all, --since REF or a range",
        ) from error


def _added_since(ref: str, folder: Path, scripts: Sequence[Script]) -> list[str]:
    """Migrations whose files git shows as added since `ref` (committed or not). The
    trees are compared (`git diff REF`): no merge base is needed, only REF's commit."""
    require_ref(folder, ref)
    names = _git(folder, "diff", "--name-only", "--diff-filter=A", ref, "--", ".")
    names += _git(folder, "ls-files", "--others", "--exclude-standard", "--", ".")
    added = {Path(n).name for n in names}
    return [s.id for s in scripts if s.name in added]


def require_ref(folder: Path, ref: str) -> None:
    """Refuse (exit 2) a `--since` ref that git cannot resolve to a commit here, saying
    how to fetch it. The usual cause is a CI checkout: GitHub's actions/checkout clones
    one commit of one branch by default, so `origin/main` is not there at all."""
    if ref.startswith("-"):
        raise UsageError(f"--since {ref}: not a git ref", hint="give a branch, tag or commit")
    require_folder(folder)  # git would say "cannot change to" it
    found = _run_git(folder, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
    if found.returncode == 0:
        return
    if found.stderr.strip():  # not a work tree, or git itself failed
        _git(folder, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
    shallow = _git(folder, "rev-parse", "--is-shallow-repository") == ["true"]
    where = (
        "this clone is shallow (it holds only the last commit(s) it checked out, as CI "
        "checkouts do by default)"
        if shallow
        else "no branch, tag or commit of this repository has that name"
    )
    raise UsageError(
        f"--since {ref}: git has no such commit here: {where}",
        hint=f"fetch it first: {_fetch_command(folder, ref, shallow)}; in GitHub Actions, "
        "give actions/checkout `fetch-depth: 0`",
    )


def _fetch_command(folder: Path, ref: str, shallow: bool) -> str:
    """The git command that brings `ref` here: its remote branch when it names one
    (`origin/main`), else more of the history."""
    remote, _, branch = ref.partition("/")
    if branch and remote in _git(folder, "remote"):
        # the refspec in full: a single-branch clone would fetch into FETCH_HEAD only
        return f"`git fetch --depth=1 {remote} {branch}:refs/remotes/{ref}`"
    if shallow:
        return "`git fetch --deepen=100` (or `git fetch --unshallow`)"
    return f"`git fetch origin {ref}`"


def _run_git(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    try:
        return git.run(folder, *args, timeout=60)
    except git.GitFailed as error:
        raise UsageError(
            f"--since needs git: {error.reason}",
            hint="install git, or lint without it: --all or a range",
        ) from None


def _git(folder: Path, *args: str) -> list[str]:
    """The lines git prints; its first error line (exit 2) when it fails."""
    done = _run_git(folder, *args)
    if done.returncode != 0:
        first = (done.stderr.strip().splitlines() or ["git failed"])[0]
        hint = (
            "--since compares git commits: run it in a git work tree"
            if "not a git repository" in first
            else "check the ref given to --since"
        )
        raise UsageError(f"git {args[0]}: {first}", hint=hint)
    return [line for line in done.stdout.splitlines() if line.strip()]
