"""Schema operations as data, and the `op` recorder migrations receive."""

from dbshift.ops.base import ExecutionContext, Operation
from dbshift.ops.columns import AddColumn, AlterColumn, DropColumn, RenameColumn
from dbshift.ops.constraints import AddConstraint, CreateIndex, DropConstraint, DropIndex
from dbshift.ops.raw import BulkInsert, ExecuteSQL, RunPython
from dbshift.ops.tables import CreateTable, DropTable, RenameTable

__all__ = [
    "AddColumn",
    "AddConstraint",
    "AlterColumn",
    "BulkInsert",
    "CreateIndex",
    "CreateTable",
    "DropColumn",
    "DropConstraint",
    "DropIndex",
    "DropTable",
    "ExecuteSQL",
    "ExecutionContext",
    "Operation",
    "RenameColumn",
    "RenameTable",
    "RunPython",
]
