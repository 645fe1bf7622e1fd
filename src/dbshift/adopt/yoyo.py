"""A yoyo-migrations project, read and converted to dbshift migrations.

Nothing here imports yoyo or runs the project's code: `yoyo.ini` is read with
`configparser` (`%(here)s` and environment variables interpolated, as yoyo does), each
step file as text (`.sql`) or with `ast` (`.py`).

- The sources are read as yoyo reads them: each folder in `sources` order, its `.py` and
  `.sql` files sorted by name, `NAME.rollback.sql` the rollback of `NAME.sql`. The
  migration id is the file name without its extension.
- yoyo applies the migrations in a topological order of their `depends`, the file order
  where depends leave it free (`order`). A converted migration's parents are its
  depends; one without depends follows the migration yoyo applies just before it, so
  dbshift applies them in yoyo's order (and never sees a cycle yoyo would not).
- A `.sql` step becomes a SQL migration: yoyo's statements under `-- dbshift:up`, the
  rollback file's under `-- dbshift:down` (yoyo runs them in the file's order too), and
  `-- transactional: false` kept.
- A `.py` step keeps its text; `from yoyo import step, group` goes, and the file binds
  `step`, `group` and `transaction` to `dbshift.adopt.steps.Steps`, which collects the
  steps as yoyo's collector does. `upgrade(op)` runs them through `op.run` (each step's
  SQL or callable on the migration's connection, the callable given the DB-API
  connection yoyo gives it), `downgrade(op)` their rollbacks in reverse.

Refused, naming the file: post-apply hooks (yoyo runs them after every apply, dbshift
has no such thing), depends on a migration no source has, a cycle, a `.py` file that
does not parse, imports other parts of yoyo, or computes `__depends__` /
`__transactional__`.
"""

from __future__ import annotations

import ast
import configparser
import dataclasses
import heapq
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from dbshift.adopt.alembic import AdoptError, Converted, add_once, future_imports
from dbshift.migrations.scripts import DOWN_MARKER, UP_MARKER

TOOL = "yoyo"
DEFAULT_MIGRATION_TABLE = "_yoyo_migration"
CONFIG_NAME = "yoyo.ini"
#: the header line every converted file carries, read back by the takeover
HEADER = "yoyo migration: "
_HEADER_LINE = re.compile(r"^(?:#|--) yoyo migration: (\S+)", re.MULTILINE)
_ID_OK = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_]*$")
_TARGET_WORDS = frozenset({"head", "heads", "base"})
_YOYO_NAMES = frozenset({"step", "group", "transaction"})
#: the comment lines a converted SQL header must not carry as its message
_DIRECTIVE_LIKE = re.compile(
    r"^\s*(parents|transactional|lock_timeout|statement_timeout|backends|dbshift)\s*:", re.I
)
_SQL_DIRECTIVE = re.compile(r"^\s*--\s*(transactional|depends)\s*:\s*(.*)$")
_COMMENT_OR_EMPTY = re.compile(r"^(\s*|\s*--.*)$")
#: the name the converted file gives its step collector
COLLECTOR = "_yoyo_steps"
#: top-level names a dbshift Python migration reads as its settings (or calls)
_RESERVED = frozenset(
    {
        "parents",
        "transactional",
        "lock_timeout",
        "statement_timeout",
        "backends",
        "naming_convention",
        "upgrade",
        "downgrade",
    }
)


@dataclasses.dataclass(frozen=True)
class YoyoProject:
    """Where a yoyo project's migrations and migration table are."""

    config: Path | None  # yoyo.ini (None: a folder given on the command line)
    sources: tuple[Path, ...]
    migration_table: str


@dataclasses.dataclass(frozen=True)
class Step:
    """One yoyo migration file."""

    path: Path
    id: str
    depends: tuple[str, ...]
    transactional: bool
    message: str
    #: SQL: the statements after the directives; Python: the file's text
    body: str
    #: SQL: the rollback file's statements (None: no rollback file)
    rollback: str | None = None
    #: Python: the tree, and the names it imports from yoyo
    tree: ast.Module | None = None


# -- finding the project -------------------------------------------------------------------


def find(start: Path | None = None) -> Path | None:
    """The yoyo configuration or folder under `start`: `start` itself when it is a
    yoyo.ini (or an .ini with `sources` and no `[alembic]`), `start/yoyo.ini`, or a
    folder of yoyo steps given as `start`; None otherwise. Without `start`, only the
    working directory's yoyo.ini."""
    if start is None:
        here = Path.cwd() / CONFIG_NAME
        return here if here.is_file() else None
    if start.is_file():
        return start if _is_yoyo_ini(start) else None
    if (start / CONFIG_NAME).is_file():
        return start / CONFIG_NAME
    if start.is_dir() and not (start / "alembic.ini").is_file() and _has_steps(start):
        return start
    return None


def _is_yoyo_ini(path: Path) -> bool:
    if path.name == CONFIG_NAME:
        return True
    if path.suffix != ".ini":
        return False
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return False
    return bool(re.search(r"^\s*sources\s*[=:]", text, re.M)) and "[alembic]" not in text


def _has_steps(folder: Path) -> bool:
    if (folder / "env.py").is_file():  # an Alembic script folder
        return False
    for path in folder.iterdir():
        if path.suffix == ".sql" and path.is_file():
            return True
        if path.suffix == ".py" and path.is_file():
            try:
                text = path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError):
                continue
            if re.search(r"^\s*from yoyo import|^\s*step\(", text, re.M):
                return True
    return False


def read_project(path: Path, *, migration_table: str | None = None) -> YoyoProject:
    """The project `path` (a yoyo.ini or a folder of steps) configures."""
    path = path.resolve()
    if path.is_dir():
        return YoyoProject(None, (path,), migration_table or DEFAULT_MIGRATION_TABLE)
    here = path.parent
    defaults = {k.lower(): v.replace("%", "%%") for k, v in os.environ.items()}
    defaults["here"] = str(here).replace("%", "%%")
    parser = configparser.ConfigParser(defaults=defaults)
    try:
        with path.open(encoding="utf-8") as handle:
            parser.read_file(handle)
        options = {
            k: parser.get("DEFAULT", k, fallback="")
            for k in ("sources", "migration_table", "%include", "%inherit")
        }
    except (OSError, UnicodeDecodeError, configparser.Error) as error:
        first = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise AdoptError(
            f"{path}: cannot read it: {first}",
            hint="fix the file so that yoyo itself can read it, or give the migrations "
            "folder instead: dbshift adopt path/to/migrations",
        ) from None
    if options["%include"] or options["%inherit"]:
        raise AdoptError(
            f"{path}: uses %include / %inherit, which dbshift does not follow",
            hint="give the migrations folder instead: dbshift adopt path/to/migrations "
            "(and --version-table if migration_table is not the default)",
        )
    sources = options["sources"].split()
    if not sources:
        raise AdoptError(
            f"{path}: no sources in [DEFAULT]",
            hint="set sources = <folder> in yoyo.ini, or give the migrations folder: "
            "dbshift adopt path/to/migrations",
        )
    folders = []
    for source in sources:
        if source.startswith("package:"):
            raise AdoptError(
                f"{path}: source {source!r} names a package resource",
                hint="give the folder's path in yoyo.ini (dbshift reads files, not packages)",
            )
        folder = Path(os.path.expanduser(source))
        if not folder.is_absolute():  # yoyo takes it from the working directory
            folder = here / folder if (here / folder).exists() else Path.cwd() / folder
        if not folder.is_dir():
            raise AdoptError(
                f"{path}: the source folder {source} does not exist",
                hint="check sources in yoyo.ini (run dbshift adopt where yoyo runs)",
            )
        folders.append(folder.resolve())
    table = options["migration_table"].strip()
    if table in ("", "None"):
        table = DEFAULT_MIGRATION_TABLE
    return YoyoProject(path, tuple(folders), migration_table or table)


# -- reading the steps ---------------------------------------------------------------------


def read_steps(project: YoyoProject) -> list[Step]:
    """Every migration of the project, in the order yoyo reads them (not yet sorted)."""
    steps: dict[str, Step] = {}
    for folder in project.sources:
        for path in sorted(folder.iterdir(), key=lambda p: str(p)):
            name = path.name
            if not path.is_file() or path.suffix not in (".py", ".sql"):
                continue
            if name.endswith(".rollback.sql") or name.startswith(("_tmp_yoyonew", ".")):
                continue
            if name == "__init__.py":
                continue
            if name.startswith("post-apply"):
                raise AdoptError(
                    f"{path}: a post-apply hook (yoyo runs it after every apply); dbshift "
                    "has no such thing",
                    hint="move what it does into a migration, or out of the migrations "
                    "folder, then adopt",
                )
            step = read_step(path)
            add_once(steps, step.id, step, "migration", "yoyo refuses this too: rename one of them")
    return list(steps.values())


def read_step(path: Path) -> Step:
    stem = path.name[: -len(path.suffix)]
    if not stem or any(c.isspace() or not c.isprintable() for c in stem):
        raise AdoptError(
            f"{path}: the migration id {stem!r} has blanks or control characters",
            hint="rename the file (and its row in the yoyo table) before adopting",
        )
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise AdoptError(
            f"{path}: not UTF-8 text (byte {error.start})", hint="save the file as UTF-8"
        ) from None
    if path.suffix == ".sql":
        return _read_sql(path, stem, text)
    return _read_python(path, stem, text)


def _split_directives(text: str) -> tuple[dict[str, str], list[str], str]:
    """(directives, leading comment lines, the rest): yoyo's reading of a SQL file's
    first lines."""
    lines = text.splitlines()
    directives: dict[str, str] = {}
    comments: list[str] = []
    index = len(lines)
    for number, line in enumerate(lines):
        match = _SQL_DIRECTIVE.match(line)
        if match:
            key, value = match.groups()
            directives[key] = f"{directives[key]} {value}" if key in directives else value
        elif _COMMENT_OR_EMPTY.match(line):
            comments.append(line.strip().removeprefix("--").strip())
        else:
            index = number
            break
    return directives, comments, "\n".join(lines[index:])


def _read_sql(path: Path, stem: str, text: str) -> Step:
    directives, comments, body = _split_directives(text)
    value = directives.get("transactional", "true").strip().lower()
    if value not in ("true", "false"):
        raise AdoptError(
            f"{path}: -- transactional: must be true or false, not {value!r}",
            hint="yoyo refuses it too: write -- transactional: false",
        )
    rollback_path = path.with_name(f"{stem}.rollback.sql")
    rollback = None
    if rollback_path.is_file():
        try:
            rollback = _split_directives(rollback_path.read_text(encoding="utf-8"))[2]
        except UnicodeDecodeError as error:
            raise AdoptError(
                f"{rollback_path}: not UTF-8 text (byte {error.start})",
                hint="save the file as UTF-8",
            ) from None
    for where, sql in ((path, body), (rollback_path, rollback or "")):
        for number, line in enumerate(sql.splitlines(), start=1):
            if line.strip().lower().startswith(("-- dbshift:", "--dbshift:")):
                raise AdoptError(
                    f"{where}: line {number} is a dbshift section marker",
                    hint="remove the `-- dbshift:` comment from the yoyo file",
                )
    message = next((c for c in comments if c), "")
    return Step(
        path,
        stem,
        tuple(d for d in directives.get("depends", "").split() if d),
        value == "true",
        message,
        body,
        rollback,
    )


def _read_python(path: Path, stem: str, text: str) -> Step:
    try:
        tree = ast.parse(text, str(path))
    except SyntaxError as error:
        raise AdoptError(
            f"{path}:{error.lineno}: cannot parse the migration", hint="fix the syntax error"
        ) from None
    values: dict[str, object] = {}
    for node in tree.body:
        target, value = _assignment(node)
        if target in ("__depends__", "__transactional__") and value is not None:
            try:
                values[target] = ast.literal_eval(value)
            except ValueError:
                raise AdoptError(
                    f"{path}:{node.lineno}: {target} is not a literal",
                    hint="write it as a literal (a set of ids; True or False)",
                ) from None
    for inner in ast.walk(tree):
        if isinstance(inner, ast.Name) and inner.id == COLLECTOR:
            raise AdoptError(
                f"{path}:{inner.lineno}: uses the name {COLLECTOR}, which the converted file needs",
                hint="rename it",
            )
        if not isinstance(inner, ast.Import | ast.ImportFrom) or not _imports_yoyo(inner):
            continue
        if inner not in tree.body:
            raise AdoptError(
                f"{path}:{inner.lineno}: imports yoyo inside a function",
                hint="import step and group at the top of the file",
            )
        names = [a.name for a in inner.names]
        if not (
            isinstance(inner, ast.ImportFrom)
            and inner.module == "yoyo"
            and all(n in _YOYO_NAMES for n in names)
        ):
            raise AdoptError(
                f"{path}:{inner.lineno}: uses {ast.unparse(inner)}, beyond yoyo's step() "
                "and group()",
                hint="a converted migration has only step, group and transaction: rewrite "
                "that part before adopting",
            )
    for node in tree.body:
        target, _ = _assignment(node)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            target = node.name
        if target in _RESERVED:
            raise AdoptError(
                f"{path}:{node.lineno}: defines {target}, a name a dbshift migration reads "
                "as its own",
                hint="rename it in the yoyo file before adopting",
            )
    depends = values.get("__depends__", ())
    if isinstance(depends, str):
        depends = (depends,)
    if not isinstance(depends, list | tuple | set | frozenset) or not all(
        isinstance(d, str) for d in depends
    ):
        raise AdoptError(
            f"{path}: __depends__ must be a set of migration ids, not {depends!r}",
            hint="write __depends__ = {'0001_first'}",
        )
    transactional = values.get("__transactional__", True)
    if not isinstance(transactional, bool):
        raise AdoptError(
            f"{path}: __transactional__ must be True or False, not {transactional!r}",
            hint="write __transactional__ = False",
        )
    message = ast.get_docstring(tree) or ""
    first = message.strip().splitlines()[0] if message.strip() else ""
    return Step(path, stem, tuple(sorted(depends)), transactional, first, text, tree=tree)


def _assignment(node: ast.stmt) -> tuple[str | None, ast.expr | None]:
    if isinstance(node, ast.Assign) and len(node.targets) == 1:
        target = node.targets[0]
        return (target.id if isinstance(target, ast.Name) else None), node.value
    if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
        return node.target.id, node.value
    return None, None


def _imports_yoyo(node: ast.Import | ast.ImportFrom) -> bool:
    if isinstance(node, ast.ImportFrom):
        return node.module == "yoyo" or (node.module or "").startswith("yoyo.")
    return any(a.name == "yoyo" or a.name.startswith("yoyo.") for a in node.names)


# -- ordering ------------------------------------------------------------------------------


def order(steps: Sequence[Step]) -> list[Step]:
    """The order yoyo applies `steps` in: a topological sort of their depends, which
    takes the earliest-read migration whenever several are free."""
    index = {s.id: n for n, s in enumerate(steps)}
    for step in steps:
        for dependency in step.depends:
            if dependency not in index:
                raise AdoptError(
                    f"{step.path}: depends on {dependency}, which is no migration of the project",
                    hint="restore the missing migration file, or fix the depends",
                )
    waiting = {s.id: set(s.depends) for s in steps}  # depending on itself: a cycle
    children: dict[str, list[str]] = {s.id: [] for s in steps}
    for step in steps:
        for dependency in waiting[step.id]:
            children[dependency].append(step.id)
    ready = [index[i] for i, deps in waiting.items() if not deps]
    heapq.heapify(ready)
    out: list[Step] = []
    while ready:
        step = steps[heapq.heappop(ready)]
        out.append(step)
        for child in children[step.id]:
            waiting[child].discard(step.id)
            if not waiting[child]:
                heapq.heappush(ready, index[child])
    if len(out) < len(steps):
        stuck = sorted((s for s in steps if waiting[s.id]), key=lambda s: index[s.id])
        raise AdoptError(
            f"{stuck[0].path}: circular depends among "
            + ", ".join(s.id for s in stuck[:5])
            + (" ..." if len(stuck) > 5 else ""),
            hint="yoyo refuses this too: fix the depends",
        )
    return out


# -- converting ----------------------------------------------------------------------------


def convert(project: YoyoProject, taken: Iterable[str] = ()) -> list[Converted]:
    """Every migration of the project as a dbshift migration, in yoyo's order. `taken`:
    ids of dbshift migrations that are not converted ones. Raises `AdoptError` on the
    first thing it cannot convert."""
    steps = order(read_steps(project))
    ids = _dbshift_ids([s.id for s in steps], set(taken))
    converted = []
    previous: Step | None = None
    for step in steps:
        if step.depends:
            parents = [ids[d] for d in step.depends]
        else:
            parents = [ids[previous.id]] if previous is not None else []
        where = _relative(step.path, project)
        if step.tree is None:
            text, suffix = convert_sql(step, parents, where), ".sql"
        else:
            text, suffix = convert_python(step, parents, where), ".py"
        converted.append(Converted(ids[step.id], step.id, step.path, text, suffix))
        previous = step
    return converted


def _relative(path: Path, project: YoyoProject) -> str:
    """The file's path for the header comment: from the project's folder, or its name
    alone where a folder's name has control characters."""
    base = project.config.parent if project.config is not None else project.sources[0].parent
    shown = (path.relative_to(base) if path.is_relative_to(base) else path).as_posix()
    return shown if shown.isprintable() else path.name


def _dbshift_ids(migrations: Sequence[str], taken: set[str]) -> dict[str, str]:
    """yoyo's id where dbshift can use it as one (a file stem of letters, digits and
    `_`, no target word), else every other character an underscore (`yoyo_` before a
    target word or a leading `_`), numbered if taken."""
    chosen: dict[str, str] = {}
    used = set(taken)
    for mid in sorted(migrations, key=lambda m: (not _usable(m), m)):
        if _usable(mid) and mid not in used:
            new = mid
        else:
            stem = re.sub(r"[^A-Za-z0-9_]+", "_", mid).strip("_") or "migration"
            if not _usable(stem):
                stem = f"yoyo_{stem}"
            new, n = stem, 1
            while new in used:
                n += 1
                new = f"{stem}_{n}"
        used.add(new)
        chosen[mid] = new
    return chosen


def _usable(mid: str) -> bool:
    return bool(_ID_OK.match(mid)) and mid.lower() not in _TARGET_WORDS


def _message(step: Step) -> str:
    message = step.message.strip()
    if not message or _DIRECTIVE_LIKE.match(message):
        return f"yoyo migration {step.id}"
    return message


def convert_sql(step: Step, parents: Sequence[str], where: str) -> str:
    """A `.sql` step as a dbshift SQL migration (see the module's docstring)."""
    header = [
        f"-- {_message(step)}",
        f"-- {HEADER}{step.id} (converted from {where})",
    ]
    if step.depends:
        header.append(f"-- yoyo depends: {' '.join(step.depends)} (dbshift parents)")
    header.append(f"-- parents: {' '.join(parents)}".rstrip())
    if not step.transactional:
        header.append("-- transactional: false")
    up = step.body.strip("\n")
    text = "\n".join(header) + f"\n\n{UP_MARKER}\n" + (f"{up}\n" if up else "")
    if step.rollback is not None and step.rollback.strip():
        text += f"\n{DOWN_MARKER}\n{step.rollback.strip(chr(10))}\n"
    return text


def convert_python(step: Step, parents: Sequence[str], where: str) -> str:
    """A `.py` step as a dbshift Python migration (see the module's docstring)."""
    assert step.tree is not None
    lines = step.body.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    drop: set[int] = set()
    previous = 0
    for node in step.tree.body:
        if node.lineno == previous:
            raise AdoptError(
                f"{step.path}:{node.lineno}: several statements on one line",
                hint="put each top-level statement on a line of its own",
            )
        previous = node.end_lineno or node.lineno
        span = range(node.lineno - 1, node.end_lineno or node.lineno)
        name, _ = _assignment(node)
        is_docstring = (
            node is step.tree.body[0]
            and isinstance(node, ast.Expr)
            and isinstance(node.value, ast.Constant)
            and isinstance(node.value.value, str)
        )
        if (
            name in ("__depends__", "__transactional__")
            or is_docstring
            or (isinstance(node, ast.Import | ast.ImportFrom) and _imports_yoyo(node))
        ):
            drop.update(span)
    aliases = _aliases(step.tree)
    first = step.tree.body[0] if step.tree.body else None
    if ast.get_docstring(step.tree) and first is not None:
        head = ast.get_source_segment(step.body, first) or '""""""'
    else:
        head = f'"""{_message(step)}"""'
    future, future_lines = future_imports(step.tree, step.body)
    drop.update(future_lines)
    header = [head, *future]
    header.append(f"# {HEADER}{step.id} (converted from {where})")
    if step.depends:
        header.append(f"# yoyo depends: {', '.join(step.depends)} (dbshift parents)")
    listed = ", ".join(f'"{p}"' for p in parents)
    header.append(f"parents = [{listed}]")
    if not step.transactional:
        header.append("transactional = False")
    binding = [
        "",
        "from dbshift.adopt.steps import Steps",
        "",
        "# yoyo's step() and group(): the steps this file declares, collected in order",
        f"{COLLECTOR} = Steps()",
    ]
    for local, yoyo_name in sorted(aliases.items()):
        attr = "group" if yoyo_name == "transaction" else yoyo_name
        binding.append(f"{local} = {COLLECTOR}.{attr}")
    rest = "".join(line for n, line in enumerate(lines) if n not in drop).strip("\n")
    tail = [
        "",
        "",
        "def upgrade(op):",
        f"    op.run({COLLECTOR}.apply)",
    ]
    if _has_rollback(step.tree, aliases):
        tail += ["", "", "def downgrade(op):", f"    op.run({COLLECTOR}.rollback)"]
    return "\n".join(header + binding) + "\n\n\n" + rest + "\n" + "\n".join(tail) + "\n"


def _aliases(tree: ast.Module) -> dict[str, str]:
    """The names the file calls yoyo's functions by (local name -> yoyo's): those it
    imports, and yoyo's own names, which yoyo also puts in every migration's module."""
    found = {name: name for name in _YOYO_NAMES}
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.module == "yoyo":
            for alias in node.names:
                found[alias.asname or alias.name] = alias.name
    return found


def _has_rollback(tree: ast.Module, aliases: Mapping[str, str]) -> bool:
    """Whether any step() call may pass a rollback (a second argument or `rollback=`);
    without one, yoyo's rollback runs nothing, and the converted file has no
    downgrade (dbshift refuses to downgrade it)."""
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)):
            continue
        if aliases.get(node.func.id) != "step":
            continue
        if len(node.args) > 1 or any(isinstance(a, ast.Starred) for a in node.args):
            return True
        if any(k.arg in ("rollback", None) for k in node.keywords):
            return True
    return False


def origins(texts: Mapping[str, str]) -> dict[str, str]:
    """The yoyo migration each converted migration names in its header, by dbshift id
    (`texts`: each migration's text, by id); migrations without one are left out."""
    found = {}
    for migration_id, text in texts.items():
        end = len(text)
        for marker in ("\ndef ", f"\n{UP_MARKER}"):
            at = text.find(marker)
            if at != -1:
                end = min(end, at)
        match = _HEADER_LINE.search(text, 0, end)
        if match is not None:
            found[migration_id] = match.group(1)
    return found
