"""New migration files: the text of a Python or SQL migration (`render_python`,
`render_sql`) and the one way a new one is written (`write_new`: never over an existing
file). `new` and `merge` (`migrations/edit.py`) write the empty templates; `make`
(`autogen/make.py`) fills them with the rendered operations, the downgrade (or none, to
have it derived) and the `backends` and `transactional` header lines. `rebase` edits
an existing file's `parents` line in `migrations/edit.py`, not here."""

from __future__ import annotations

import shlex
import subprocess
from collections.abc import Sequence
from pathlib import Path

from dbshift.errors import ConfigError, UsageError
from dbshift.files import write_atomic

PYTHON_TEMPLATE = '''"""{message}"""

parents = [{parents}]
{header}
{imports}


def upgrade(op):
{upgrade}


def downgrade(op):
{downgrade}
'''

PYTHON_NO_DOWNGRADE_TEMPLATE = '''"""{message}"""

parents = [{parents}]

import sqlalchemy as sa


def upgrade(op):
{upgrade}


# No downgrade(op): dbshift derives it from upgrade, or refuses to downgrade when an
# operation cannot be reversed (op.execute, op.run, ...). Write one to take over.
'''

SQL_TEMPLATE = """-- {message}
-- parents: {parents}

-- dbshift:up
{upgrade}
-- dbshift:down
{downgrade}"""


def render_python(
    message: str,
    parents: Sequence[str],
    upgrade: str = "    pass",
    downgrade: str | None = None,
    imports: Sequence[str] = ("import sqlalchemy as sa",),
    *,
    transactional: bool = True,
    backends: Sequence[str] = (),
) -> str:
    """A Python migration. `downgrade=None` leaves it out, so dbshift derives it;
    `transactional=False` marks it to run outside a transaction (`CONCURRENTLY`);
    `backends` are those `make` wrote it for (`upgrade` elsewhere warns)."""
    quoted = ", ".join(f'"{p}"' for p in parents)
    text = _one_line(message).replace("\\", "\\\\").replace('"', '\\"')
    if downgrade is None:
        return PYTHON_NO_DOWNGRADE_TEMPLATE.format(message=text, parents=quoted, upgrade=upgrade)
    return PYTHON_TEMPLATE.format(
        message=text,
        parents=quoted,
        upgrade=upgrade,
        downgrade=downgrade,
        header=_backends_line(backends) + ("" if transactional else "transactional = False\n"),
        imports="\n".join(imports),
    )


def render_sql(
    message: str,
    parents: Sequence[str],
    upgrade: str = "",
    downgrade: str = "",
    *,
    backends: Sequence[str] = (),
) -> str:
    text = SQL_TEMPLATE.format(
        message=_one_line(message), parents=", ".join(parents), upgrade=upgrade, downgrade=downgrade
    )
    if not backends:
        return text
    head, _, rest = text.partition("\n\n")
    return f"{head}\n-- backends: {', '.join(backends)}\n\n{rest}"


def _backends_line(backends: Sequence[str]) -> str:
    if not backends:
        return ""
    names = ", ".join(f'"{name}"' for name in backends)  # validated names: no quotes
    return f"backends = [{names}]\n"


def write_new(folder: Path, migration_id: str, kind: str, content: str) -> Path:
    """Write a new migration file; never overwrite one."""
    if not folder.is_dir():
        raise ConfigError(
            f"migrations folder not found: {folder}",
            hint="run `dbshift init`, or point --migrations at the folder",
        )
    path = folder / f"{migration_id}.{'sql' if kind == 'sql' else 'py'}"
    try:
        write_atomic(path, content, exclusive=True)
    except FileExistsError:
        raise UsageError(f"{path.name} already exists", hint="try again") from None
    except OSError as exc:
        raise ConfigError(
            f"cannot write {path}: {exc.strerror}",
            hint="check that the migrations folder is writable",
        ) from None
    return path


def _one_line(message: str) -> str:
    return " ".join(message.split())


def run_format(format_command: str | None, path: Path) -> None:
    """Run the configured `format` command (e.g. "ruff format") on a file `make` or
    `baseline` wrote."""
    if not format_command:
        return
    command = [*shlex.split(format_command), str(path)]
    try:
        done = subprocess.run(command, capture_output=True, text=True, check=False)
    except OSError as error:
        raise ConfigError(
            f"format command {command[0]!r} failed to start: {error.strerror}",
            hint=f"{path.name} was written unformatted; fix `format` in dbshift.toml",
        ) from None
    if done.returncode != 0:
        first = (done.stderr or done.stdout).strip().splitlines()
        raise ConfigError(
            f"format command failed on {path.name}: {first[0] if first else done.returncode}",
            hint="the file was written; fix `format` in dbshift.toml",
        )
