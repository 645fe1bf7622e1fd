"""Schema operations as data, and the `op` recorder migrations receive."""

from dbshift.ops.base import ExecutionContext, Operation
from dbshift.ops.columns import AddColumn, AlterColumn, DropColumn, RenameColumn
from dbshift.ops.constraints import (
    AddCheckConstraint,
    AddConstraint,
    AddForeignKey,
    AddPrimaryKey,
    AddUniqueConstraint,
    CreateIndex,
    DropConstraint,
    DropIndex,
    DropInvalidIndex,
    ValidateConstraint,
    add_constraint,
)
from dbshift.ops.raw import BulkInsert, ExecuteSQL, RunPython
from dbshift.ops.tables import CreateTable, DropTable, RenameTable, SetTableComment
from dbshift.ops.types import (
    AddEnumValue,
    CreateEnum,
    CreateSequence,
    DropEnum,
    DropSequence,
    SetEnumValues,
)

__all__ = [
    "AddCheckConstraint",
    "AddColumn",
    "AddConstraint",
    "AddEnumValue",
    "AddForeignKey",
    "AddPrimaryKey",
    "AddUniqueConstraint",
    "AlterColumn",
    "BulkInsert",
    "CreateEnum",
    "CreateIndex",
    "CreateSequence",
    "CreateTable",
    "DropColumn",
    "DropConstraint",
    "DropEnum",
    "DropIndex",
    "DropInvalidIndex",
    "DropSequence",
    "DropTable",
    "ExecuteSQL",
    "ExecutionContext",
    "Operation",
    "RenameColumn",
    "RenameTable",
    "RunPython",
    "SetEnumValues",
    "SetTableComment",
    "ValidateConstraint",
    "add_constraint",
]
