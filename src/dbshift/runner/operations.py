"""The operations a step runs: its migration's code, loaded once per run, or, for a
downgrade it does not write, the inverse of its upgrade (`derive_downgrade`).

Loading imports the operation modules: done on first use, never for listing, status or
history.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import TYPE_CHECKING

from dbshift.errors import IrreversibleMigration
from dbshift.migrations.graph import Graph
from dbshift.migrations.scripts import Script
from dbshift.runner.plan import Step

if TYPE_CHECKING:
    from dbshift.migrations.loader import MigrationCode
    from dbshift.ops import Operation
    from dbshift.schema.snapshot import Snapshot


class Operations:
    """The migrations' code for one backend, each file loaded at most once."""

    def __init__(self, scripts: Mapping[str, Script], graph: Graph, backend: str) -> None:
        self.scripts = scripts
        self.graph = graph
        self.backend = backend
        self._code: dict[str, MigrationCode] = {}

    def load(self, script: Script) -> MigrationCode:
        from dbshift.migrations import loader

        code = self._code.get(script.id)
        if code is None:
            code = self._code[script.id] = loader.load(script, self.backend)
        return code

    def of(self, step: Step) -> Sequence[Operation]:
        """What `step` runs: its upgrade, its downgrade, or the upgrade's inverse."""
        code = self.load(step.script)
        if step.direction == "up":
            return code.upgrade
        if code.downgrade is not None:
            return code.downgrade
        return derive_downgrade(code, self.replay(self.graph.ancestors([step.id], inclusive=False)))

    def lines(self, step: Step) -> tuple[int, ...]:
        """The lines of the step's statements in its file, as far as its loaded code
        tells (() before it is loaded, or when it does not)."""
        code = self._code.get(step.id)
        if code is None:
            return ()
        return code.up_lines if step.direction == "up" else code.down_lines

    def replay(self, ids: Collection[str]) -> Snapshot:
        """The schema the given migrations build, replayed in memory."""
        from dbshift.schema.snapshot import Snapshot

        snapshot = Snapshot()
        for migration_id in self.graph.topo_order(ids):
            for op in self.load(self.scripts[migration_id]).upgrade:
                snapshot = op.apply(snapshot)
        return snapshot


def derive_downgrade(code: MigrationCode, before: Snapshot) -> tuple[Operation, ...]:
    """The inverse of a migration's operations, last first, or IrreversibleMigration."""
    name = code.script.name
    if code.script.kind == "sql":
        by_hand = (
            f", or revert it by hand and record that with `dbshift repair --rolled-back "
            f"{code.script.id}`"
        )
        if code.empty_down:
            raise IrreversibleMigration(
                f"the `-- dbshift:down` section of {name} is empty",
                migration=code.script.id,
                hint="write the statements that undo the up section under it" + by_hand,
            )
        raise IrreversibleMigration(
            f"{name} has no `-- dbshift:down` section",
            migration=code.script.id,
            hint="add `-- dbshift:down` after the up section, with the statements that undo "
            "it" + by_hand,
        )
    from dbshift.ops.base import inverse

    try:
        return tuple(inverse(code.upgrade, before))
    except IrreversibleMigration as error:
        raise IrreversibleMigration(
            f"{name}: {error.message}",
            migration=code.script.id,
            hint=error.hint or "write a downgrade(op) function in the migration",
        ) from None
