"""Turning a migration file into operations: the only place that imports migration code.

The one replay (`replay.py`: the runner, offline SQL, `make`, the linter), `show` and
`make`'s lint of the file it just wrote call this, and only for the migrations they
need; listing and status stop at the header (`scripts.py`).
"""

from __future__ import annotations

import dataclasses
import functools
import re
import sys
import traceback
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

from dbshift.errors import DbshiftError, Interrupted, MigrationError
from dbshift.migrations.scripts import Script, sql_sections
from dbshift.migrations.sqlsplit import SqlStatement, split_sql
from dbshift.ops import Operation, current
from dbshift.ops.live import RunLive
from dbshift.ops.recorder import NeedsDatabase, Op


@dataclasses.dataclass(frozen=True)
class MigrationCode:
    """The operations a migration records. Its downgrade is recorded only when asked
    for (upgrades never need it); `downgrade` is None when none is written."""

    script: Script
    upgrade: tuple[Operation, ...]
    record_downgrade: Callable[[], tuple[Operation, ...] | None] = dataclasses.field(
        repr=False, compare=False
    )
    #: for SQL migrations: the source line of each upgrade / downgrade operation
    up_lines: tuple[int, ...] = ()
    down_lines: tuple[int, ...] = ()
    #: the source line of each upgrade operation, Python and SQL alike (the `op.` call
    #: of a Python migration); 0 where unknown
    op_lines: tuple[int, ...] = ()
    #: for SQL migrations: a `-- dbshift:down` marker is there, with no statement under
    #: it (what `dbshift new --sql` writes), as opposed to no marker at all
    empty_down: bool = False

    @functools.cached_property
    def downgrade(self) -> tuple[Operation, ...] | None:
        return self.record_downgrade()


def load(script: Script, dialect_name: str = "default", *, lines: bool = False) -> MigrationCode:
    """A migration's operations; with `lines`, also the line of each Python `op.` call
    (`op_lines`, for the linter: noting them costs a frame walk per call, which runs
    and replays do without; SQL migrations always have their statements' lines)."""
    if script.kind == "sql":
        return _load_sql(script, dialect_name)
    return _load_python(script, dialect_name, lines)


def _load_sql(script: Script, dialect_name: str) -> MigrationCode:
    text = script.path.read_text(encoding="utf-8")
    (up_text, up_line), down = sql_sections(text)
    try:
        up = split_sql(up_text, dialect_name, first_line=up_line)
        down_statements = split_sql(down[0], dialect_name, first_line=down[1]) if down else None
    except MigrationError as error:
        raise MigrationError(
            f"{script.name}: {error.message}", migration=script.id, hint=error.hint
        ) from None
    down_ops = _executed(down_statements) if down_statements else None
    return MigrationCode(
        script,
        _executed(up),
        lambda: down_ops,
        up_lines=tuple(s.line for s in up),
        down_lines=tuple(s.line for s in down_statements or ()),
        op_lines=tuple(s.line for s in up),
        empty_down=down is not None and not down_statements,
    )


def _load_python(script: Script, dialect_name: str, lines: bool) -> MigrationCode:
    module = import_module(script.path, script.id)
    upgrade = getattr(module, "upgrade", None)
    if not callable(upgrade):
        raise MigrationError(
            f"{script.name}: no `def upgrade(op)` function",
            migration=script.id,
            hint="a Python migration defines upgrade(op) and optionally downgrade(op)",
        )
    downgrade = getattr(module, "downgrade", None)
    convention = _naming_convention(script, module)
    operations, op_lines = _record_lines(script, upgrade, dialect_name, convention, lines=lines)
    return MigrationCode(
        script,
        operations,
        lambda: (
            _record(script, downgrade, dialect_name, convention) if callable(downgrade) else None
        ),
        op_lines=op_lines,
    )


def _naming_convention(script: Script, module: ModuleType) -> dict[str, Any] | None:
    """The migration's module-level `naming_convention` (an Alembic project's target
    metadata's, which `op` applies as Alembic does), or None."""
    convention = getattr(module, "naming_convention", None)
    if convention is None:
        return None
    if not isinstance(convention, Mapping):
        raise MigrationError(
            f"{script.name}: naming_convention is a {type(convention).__name__}, not a dict",
            migration=script.id,
            hint="give the dict of a MetaData's naming_convention, e.g. "
            "naming_convention = metadata.naming_convention",
        )
    return dict(convention)


def _executed(statements: Sequence[SqlStatement]) -> tuple[Operation, ...]:
    """One raw-SQL operation per statement of a SQL migration."""
    recorder = Op()
    for statement in statements:
        recorder.execute(statement.text)
    return tuple(recorder.operations)


def _record(
    script: Script, fn: Any, dialect_name: str, convention: dict[str, Any] | None = None
) -> tuple[Operation, ...]:
    return _record_lines(script, fn, dialect_name, convention, lines=False)[0]


def _record_lines(
    script: Script,
    fn: Any,
    dialect_name: str,
    convention: dict[str, Any] | None = None,
    *,
    lines: bool = True,
) -> tuple[tuple[Operation, ...], tuple[int, ...]]:
    """The operations `fn(op)` records and, with `lines`, the line of each call.

    A body that asks the database something while it is recorded (`NeedsDatabase`; or
    one that fails after being handed a stand-in connection, which a library such as
    `sa.inspect` cannot use) is recorded as one `RunLive` operation: it runs against the
    database when the migration runs (`ops/live.py`)."""
    source = str(script.path) if lines else None
    recorder = Op(
        dialect_name,
        source=source,
        transactional=script.transactional,
        naming_convention=convention,
    )
    try:
        current.call(fn, recorder)
    except NeedsDatabase as asked:
        return _live(script, fn, dialect_name, asked.asked, convention)
    except DbshiftError as error:
        raise MigrationError(
            f"{_where(script, error)}: {error.message}", migration=script.id, hint=error.hint
        ) from error
    except KeyboardInterrupt as stop:
        raise interrupted(script.path, stop) from None
    except BaseException as error:  # SystemExit too: the migration failed, not the run
        if recorder.handed is not None and not isinstance(error, SystemExit):
            return _live(script, fn, dialect_name, recorder.handed, convention)
        raise code_failed(script.path, script.id, error) from error
    return tuple(recorder.operations), tuple(recorder.lines)


def _live(
    script: Script,
    fn: Any,
    dialect_name: str,
    asked: str,
    convention: dict[str, Any] | None,
) -> tuple[tuple[Operation, ...], tuple[int, ...]]:
    line = getattr(getattr(fn, "__code__", None), "co_firstlineno", 0)
    conventions = tuple(convention.items()) if convention else ()
    return (RunLive(fn, script.name, dialect_name, asked, conventions),), (line,)


def import_module(path: Path, migration_id: str) -> ModuleType:
    """Import a migration file under a private module name.

    The file is compiled from its source and run as a module of that name, not through
    the import system's file loader: that one would look for, read and write a `.pyc`
    per migration (thousands of files, each used once per run), which costs more than
    compiling these small files does. Tracebacks, `__file__` and `inspect` see the file
    as an import would."""
    name = "dbshift_migration_" + re.sub(r"\W", "_", migration_id)
    module = ModuleType(name)
    module.__file__ = str(path)
    sys.modules[name] = module
    try:
        source = path.read_bytes()
        # dont_inherit: not this module's `from __future__` flags
        code = compile(source, str(path), "exec", dont_inherit=True)
        exec(code, module.__dict__)
    except OSError as error:
        sys.modules.pop(name, None)
        raise MigrationError(
            f"{path.name}: cannot be read: {error.strerror or error}",
            migration=migration_id,
            hint="a Python migration is a .py file dbshift can read; check its permissions",
        ) from None
    except KeyboardInterrupt as stop:
        sys.modules.pop(name, None)
        raise interrupted(path, stop) from None
    except BaseException as error:  # SystemExit too: the migration failed, not the run
        sys.modules.pop(name, None)
        problem, hint = _import_problem(path, error)
        raise MigrationError(problem, migration=migration_id, hint=hint) from error
    return module


def interrupted(path: Path, stop: KeyboardInterrupt) -> Interrupted:
    """A Ctrl-C, SIGTERM or KeyboardInterrupt while migration code was read: no
    statement had run."""
    signal_name = stop.signal_name if isinstance(stop, Interrupted) else "SIGINT"
    return Interrupted(
        signal_name,
        f"{_where_path(path, stop)} interrupted by {signal_name} while it was loaded: nothing ran",
    )


def code_failed(path: Path, migration_id: str, error: BaseException) -> MigrationError:
    """Migration code raised `error` (an exception, `sys.exit()`, any BaseException but
    a Ctrl-C): one line naming the file and the line in it where known."""
    return MigrationError(
        f"{_where_path(path, error)}: {_describe(error)}",
        migration=migration_id,
        hint=_CODE_HINT,
    )


_CODE_HINT = "fix the migration; run with --debug for the traceback"


def _describe(error: BaseException) -> str:
    if isinstance(error, SystemExit):
        return f"called sys.exit({error.code!r}) (migration code must not end the process)"
    return f"{type(error).__name__}: {_first_line(error)}"


def _import_problem(path: Path, error: BaseException) -> tuple[str, str]:
    """One line saying why a migration file did not import, and what to do."""
    if isinstance(error, ModuleNotFoundError):
        problem = f"imports {error.name!r}, which is not installed"
        return f"{_where_path(path, error)}: {problem}", f"install {error.name} or fix the import"
    if isinstance(error, SyntaxError):
        return f"{path.name}:{error.lineno}: syntax error: {error.msg}", "fix the Python syntax"
    return f"{_where_path(path, error)}: {_describe(error)}", _CODE_HINT


def _where(script: Script, error: BaseException) -> str:
    return _where_path(script.path, error)


def _where_path(path: Path, error: BaseException) -> str:
    """`file:line` of the deepest frame of the traceback that is in the migration file."""
    line = None
    for frame in traceback.extract_tb(error.__traceback__):
        if Path(frame.filename) == path:
            line = frame.lineno
    return f"{path.name}:{line}" if line else path.name


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else ""
