"""PostgreSQL: the standard `ALTER` forms, plus `USING` for type changes."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy.types import TypeEngine

from dbshift.dialects.base import DialectRules, type_sql

if TYPE_CHECKING:
    from dbshift.ops.base import ExecutionContext


class PostgreSQLRules(DialectRules):
    name = "postgresql"

    def already_applied(self, sql: str, error: BaseException) -> bool:
        """Never for `CONCURRENTLY`: a concurrent index build that was cut off leaves
        an INVALID index behind, which "already exists" too."""
        if "CONCURRENTLY" in sql.upper():
            return False
        return super().already_applied(sql, error)

    def alter_type(
        self, ctx: ExecutionContext, head: str, type_: TypeEngine[Any], using: str | None
    ) -> None:
        """`USING expr` converts existing values PostgreSQL cannot cast implicitly
        (e.g. text to integer); it is SQL written by the migration, as in Alembic."""
        clause = f"{head} TYPE {type_sql(ctx.dialect, type_)}"
        ctx.emit(clause + (f" USING {using}" if using else ""))
