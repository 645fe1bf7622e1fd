"""The migration files of a configuration, as the commands see them: their headers,
their graph and what `dbshift.sum` says of them.

`status` and `history` build one on every call, so the modules only some commands need
(the sum file's parser when the cache misses, the replay, the runner) are imported by
the method that uses them, not here."""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import sqlalchemy as sa

from dbshift import integrity
from dbshift.config import Config
from dbshift.errors import IntegrityError
from dbshift.integrity import Problem, refusal
from dbshift.migrations.graph import Graph
from dbshift.migrations.scripts import CleanSums, Script, scan

if TYPE_CHECKING:
    from dbshift.runner import Listener, Runner
    from dbshift.schema.snapshot import Snapshot

T = TypeVar("T")
R = TypeVar("R")


@dataclasses.dataclass(frozen=True)
class Project:
    """The migration files of a configuration, read from their headers only."""

    config: Config
    scripts: tuple[Script, ...]
    graph: Graph
    #: changes git has not committed that `dbshift.sum` does not record yet (a head
    #: being written): tolerated, and recorded by `settle` once a command succeeds
    unrecorded: tuple[tuple[str, str], ...] = ()
    #: what the audit of `dbshift.sum` found wrong (`audited`); None: not audited
    sum_errors: tuple[IntegrityError, ...] | None = None

    @classmethod
    def read(cls, config: Config, *, check_sums: bool = True) -> Project:
        """The headers, the graph, and (unless `check_sums=False`, for the commands
        that rewrite it) the verdict of `dbshift.sum`, which raises IntegrityError."""
        if not check_sums:
            return cls._scanned(config)
        return cls.audited(config)[0].sound()

    @classmethod
    def audited(cls, config: Config) -> tuple[Project, tuple[Problem, ...]]:
        """The headers, the graph, and what `dbshift.sum` finds wrong, unraised: for
        the commands that report problems rather than refuse (`status`, `history`).
        Header and graph errors still raise: without a graph there is no report."""
        project = cls._scanned(config).with_sums()
        return project, project.sum_problems()

    def with_sums(self) -> Project:
        """This project with `dbshift.sum` audited (`sum_errors`, `unrecorded`), once."""
        if self.sum_errors is not None:
            return self
        scripts, folder = self.scripts, self.config.migrations_dir
        if CleanSums(folder, scripts).hit():
            return dataclasses.replace(self, sum_errors=())
        # lazy: status start-up: only a cache miss parses dbshift.sum
        from dbshift.migrations import sumfile

        found = sumfile.audit(folder, scripts, self.graph.heads)
        return dataclasses.replace(self, unrecorded=found.unrecorded, sum_errors=found.errors)

    def sum_problems(self) -> tuple[Problem, ...]:
        """What the audit of `dbshift.sum` found, as `status` reports it."""
        return tuple(integrity.from_sums(self.with_sums().sum_errors or ()))

    def sound(self) -> Project:
        """This project, audited, when `dbshift.sum` agrees with the files; else the
        IntegrityError every command but `status` and `history` refuses with."""
        audited = self.with_sums()
        error = refusal(audited.sum_problems(), "`dbshift status` marks every one")
        if error is not None:
            raise error
        return audited

    @classmethod
    def _scanned(cls, config: Config) -> Project:
        scripts = tuple(scan(config.migrations_dir))
        graph = Graph({s.id: s.parents for s in scripts}, files={s.id: s.name for s in scripts})
        return cls(config, scripts, graph)

    def settle(self) -> None:
        """Record uncommitted changes in `dbshift.sum` after a command succeeded (a
        failed command leaves every file as it was). A read-only folder is left alone."""
        if self.unrecorded:
            # lazy: status start-up: only unrecorded changes rewrite it
            from dbshift.migrations import sumfile

            with contextlib.suppress(OSError):
                sumfile.write(self.config.migrations_dir, self.scripts)

    def settled(self, job: Callable[[T], R]) -> Callable[[T], R]:
        """`job`, followed by `settle` when it returns."""

        def run(arg: T) -> R:
            result = job(arg)
            self.settle()
            return result

        return run

    def write_sums(self) -> Path:
        """Rewrite `dbshift.sum` from the files as they are now."""
        # lazy: status start-up: `rehash` alone writes it
        from dbshift.migrations import sumfile

        return sumfile.write(self.config.migrations_dir, scan(self.config.migrations_dir))

    def script(self, ref: str) -> Script:
        wanted = self.graph.resolve(ref)
        return next(s for s in self.scripts if s.id == wanted)

    def replayed(self, dialect: sa.engine.Dialect) -> Snapshot | None:
        """The schema the migrations build, or None when one runs raw DDL."""
        # lazy: status start-up: the replay loads migration code
        from dbshift.migrations.replay import replayed

        return replayed(self.scripts, self.graph, self.config.migrations_dir, dialect)

    def runner(self, conn: sa.Connection, listener: Listener | None = None) -> Runner:
        # lazy: status start-up: the runner executes migration code
        from dbshift.runner import Runner

        return Runner(self.config, conn, self.scripts, self.graph, listener)
