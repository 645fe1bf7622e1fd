"""Operations as the Python a person would write in a migration: one `op` call each,
written by the operation itself (`Operation.render_python`) with the pieces of
`dbshift.ops.rendering`; this module puts a file's calls and imports together."""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from dbshift.ops import Operation
from dbshift.ops.context import OfflineContext
from dbshift.ops.rendering import INDENT, RenderContext
from dbshift.schema.snapshot import Snapshot


class Renderer(RenderContext):
    """Renders operations; collects the imports they need."""

    def body(self, operations: Sequence[Operation]) -> str:
        if not operations:
            return INDENT + "pass"
        return "\n".join(self.operation(op) for op in operations)

    def import_lines(self) -> list[str]:
        plain = sorted(i for i in self.imports if i.startswith("import "))
        froms = sorted(i for i in self.imports if i.startswith("from "))
        return plain + froms

    def operation(self, op: Operation) -> str:
        return "\n".join(INDENT + line for line in op.render_python(self))


def sql_body(operations: Sequence[Operation], before: Snapshot, dialect: sa.engine.Dialect) -> str:
    """The statements `operations` compile to from `before` on `dialect`, one per line:
    the body of a SQL migration (`make --sql`, `baseline --sql`)."""
    ctx = OfflineContext(dialect, before)
    for op in operations:
        ctx.run(op)
    return "".join(f"{statement};\n" for statement in ctx.take())
