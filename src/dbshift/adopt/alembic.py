"""An Alembic (or Flask-Migrate) project, read and converted to dbshift migrations.

Nothing here imports Alembic or runs the project's code: `alembic.ini` is read with
`configparser` (as Alembic reads it, `%(here)s` included), `env.py` and every revision
with `ast`. A revision's text is carried over as it is: its docstring (the message), its
imports and helpers, the bodies of `upgrade()` and `downgrade()`; what changes is

- the `parents = [...]` header from `down_revision` (a tuple for a merge) and
  `depends_on` (extra parents: dbshift applies a parent first, as Alembic applies a
  dependency first), and comment lines naming the Alembic revision, its file and its
  branch labels, which a later reader (and `adopt` itself, on the database) maps by;
- `from alembic import op` goes, and `def upgrade() -> None:` becomes
  `def upgrade(op):` (dbshift passes `op` in), as does `downgrade`; where helpers use
  the module's `op`, the import becomes `from dbshift.ops.current import op`, which
  stands for the `op` of the migration function running (as Alembic's proxy does);
- the `revision` / `down_revision` / `branch_labels` / `depends_on` assignments go.

What cannot be carried over that way is refused, naming the file and the line: other
imports from Alembic (`context`, `alembic.operations`), module-level code that uses
`op` as the file is imported, `upgrade` with parameters (Flask-Migrate's multi-database
template), values that are not literals.
"""

from __future__ import annotations

import ast
import configparser
import dataclasses
import io
import os
import re
import tokenize
import tomllib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol, TypeVar

import sqlalchemy as sa

from dbshift.errors import ConfigError, UsageError

#: the tool's name, as the `adopt` event and `applied_by` write it
TOOL = "alembic"
DEFAULT_VERSION_TABLE = "alembic_version"

#: a dbshift id Alembic's own can be used as: a file stem the folder scan reads, no
#: target word (`head`, `base`) and nothing a target would parse as `+N` / `-N`
_ID_OK = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_]*$")
_TARGET_WORDS = frozenset({"head", "heads", "base"})
#: the header line every converted file carries, read back by the takeover
HEADER = "# alembic revision: "
_HEADER_LINE = re.compile(r"^# alembic revision: (\S+)", re.MULTILINE)
_IDENTIFIERS = ("revision", "down_revision", "branch_labels", "depends_on")
_IDENTIFIERS_COMMENT = "# revision identifiers, used by Alembic."


class AdoptError(UsageError):
    """Something in the Alembic project dbshift cannot convert (exit 2): nothing was
    written. The message names the file (and line)."""


class _Read(Protocol):
    @property
    def path(self) -> Path: ...


_R = TypeVar("_R", bound=_Read)


def add_once(found: dict[str, _R], key: str, item: _R, what: str, hint: str) -> None:
    """`item` under `key`, refused when another file has that id already (both tools
    refuse it too): the message names both files."""
    other = found.get(key)
    if other is not None:
        raise AdoptError(f"{item.path}: {what} {key} is also {other.path}", hint=hint)
    found[key] = item


def future_imports(tree: ast.Module, text: str) -> tuple[list[str], set[int]]:
    """A converted file's `from __future__` imports, which Python takes only before any
    other statement: their text, for the header ahead of `parents = [...]`, and their
    lines (0-based) to leave out where they were (both converters)."""
    found: list[str] = []
    lines: set[int] = set()
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.module == "__future__":
            found.append(ast.get_source_segment(text, node) or "")
            lines.update(range(node.lineno - 1, node.end_lineno or node.lineno))
    return found, lines


@dataclasses.dataclass(frozen=True)
class AlembicProject:
    """Where an Alembic project's revisions and version table are."""

    ini: Path | None  # alembic.ini (None: [tool.alembic] in pyproject.toml)
    script_location: Path
    version_locations: tuple[Path, ...]
    recursive: bool
    version_table: str
    version_table_schema: str | None

    def revision_files(self) -> list[Path]:
        found: list[Path] = []
        for folder in self.version_locations:
            if not folder.is_dir():
                raise ConfigError(
                    f"Alembic versions folder not found: {folder}",
                    hint="check script_location / version_locations in alembic.ini",
                )
            pattern = "**/*.py" if self.recursive else "*.py"
            found += [
                p
                for p in folder.glob(pattern)
                if p.is_file() and not p.name.startswith(("__", "."))
            ]
        return sorted(found)


@dataclasses.dataclass(frozen=True)
class Revision:
    """One Alembic revision file, read with `ast`."""

    path: Path
    revision: str
    down_revision: tuple[str, ...]
    branch_labels: tuple[str, ...]
    depends_on: tuple[str, ...]
    text: str
    tree: ast.Module


@dataclasses.dataclass(frozen=True)
class Converted:
    """A converted revision: the dbshift migration to write."""

    id: str  # the dbshift id (the file's stem)
    origin: str  # the other tool's id (Alembic revision, yoyo migration)
    source: Path  # the other tool's file
    text: str
    suffix: str = ".py"  # ".sql" for a yoyo SQL migration

    @property
    def name(self) -> str:
        return f"{self.id}{self.suffix}"


# -- finding the project -------------------------------------------------------------------


def find(start: Path | None = None) -> Path | None:
    """The Alembic configuration under `start` (a file, or a folder holding
    `alembic.ini`, `migrations/alembic.ini` (Flask-Migrate) or a pyproject.toml with
    `[tool.alembic]`), or None."""
    base = Path.cwd() if start is None else start
    if base.is_file():
        return base
    for candidate in (base / "alembic.ini", base / "migrations" / "alembic.ini"):
        if candidate.is_file():
            return candidate
    pyproject = base / "pyproject.toml"
    if pyproject.is_file() and "alembic" in _pyproject_tool(pyproject):
        return pyproject
    return None


def _pyproject_tool(path: Path) -> dict[str, Any]:
    try:
        tool = tomllib.loads(path.read_text(encoding="utf-8")).get("tool", {})
    except (OSError, tomllib.TOMLDecodeError):
        return {}
    return tool if isinstance(tool, dict) else {}


def read_project(
    path: Path, *, version_table: str | None = None, version_table_schema: str | None = None
) -> AlembicProject:
    """The project `path` (alembic.ini or pyproject.toml) configures. `version_table`
    and `version_table_schema` override what `env.py` says (or could not be read)."""
    path = path.resolve()
    here = path.parent
    if path.name == "pyproject.toml":
        section = _pyproject_tool(path).get("alembic", {})
        options = {}
        for key, value in section.items():  # lists (version_locations) one a line
            text = "\n".join(map(str, value)) if isinstance(value, list) else str(value)
            options[key] = text.replace("%(here)s", str(here))
            if isinstance(value, list) and key == "version_locations":
                options["path_separator"] = "newline"
        ini = None
    else:
        parser = configparser.ConfigParser(defaults={"here": str(here)})
        try:
            parser.read(path, encoding="utf-8")
        except configparser.Error as error:
            raise AdoptError(
                f"{path}: cannot read it: {str(error).splitlines()[0]}",
                hint="fix the file so that Alembic itself can read it",
            ) from None
        options = dict(parser.items("alembic")) if parser.has_section("alembic") else {}
        ini = path
    location = options.get("script_location")
    if location is None:
        if (here / "env.py").is_file():  # Flask-Migrate sets it to the ini's own folder
            location = str(here)
        else:
            raise AdoptError(
                f"{path}: no script_location in [alembic]",
                hint="point dbshift adopt at the alembic.ini of the project",
            )
    script = _folder(location, here)
    versions = options.get("version_locations")
    if versions:
        locations = tuple(_folder(p, here) for p in _split(versions, options))
    else:
        locations = (script / "versions",)
    recursive = options.get("recursive_version_locations", "false").strip().lower() in (
        "true",
        "1",
        "yes",
        "on",
    )
    given = {"version_table": version_table, "version_table_schema": version_table_schema}
    table, schema = _env_version_table(script / "env.py", options, given)
    return AlembicProject(
        ini,
        script,
        locations,
        recursive,
        version_table or table or DEFAULT_VERSION_TABLE,
        version_table_schema if version_table_schema is not None else schema,
    )


def _folder(location: str, here: Path) -> Path:
    location = location.strip()
    if ":" in location and not os.path.isabs(location) and not Path(location).exists():
        drive = re.match(r"^[A-Za-z]:[\\/]", location)
        if drive is None:
            raise AdoptError(
                f"script_location {location!r} names a package resource",
                hint="give the folder's path in alembic.ini (dbshift reads files, not packages)",
            )
    folder = Path(os.path.expanduser(location))
    if not folder.is_absolute():
        # Alembic takes it relative to the working directory, which is the ini's folder
        # when its commands run as documented; prefer that one, fall back to the cwd
        folder = here / folder if (here / folder).exists() else Path.cwd() / folder
    return folder.resolve()


def _split(value: str, options: Mapping[str, str]) -> list[str]:
    separator = options.get("path_separator") or options.get("version_path_separator")
    spelled = {"os": os.pathsep, "space": " ", "newline": "\n", ":": ":", ";": ";"}
    if separator is None:  # Alembic's legacy splitting: spaces and commas
        parts = re.split(r"[\s,]+", value)
    elif separator.strip() in spelled:
        sep = spelled[separator.strip()]
        parts = value.split() if sep == " " else value.split(sep)
    else:
        parts = value.split(separator)
    return [p.strip() for p in parts if p.strip()]


def _env_version_table(
    env: Path, options: Mapping[str, str], given: Mapping[str, str | None]
) -> tuple[str | None, str | None]:
    """`version_table` and `version_table_schema` as `env.py` passes them to
    `context.configure(...)`: a literal, or `config.get_main_option("key")` read from
    alembic.ini. Anything else is refused, unless `given` (the flags) has it."""
    if not env.is_file():
        return None, None
    try:
        tree = ast.parse(env.read_text(encoding="utf-8"), str(env))
    except SyntaxError as error:
        raise AdoptError(
            f"{env}:{error.lineno}: cannot parse env.py", hint="fix the syntax error"
        ) from None
    found: dict[str, set[str | None]] = {"version_table": set(), "version_table_schema": set()}
    for node in ast.walk(tree):
        if not (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "configure"
        ):
            continue
        for keyword in node.keywords:
            if keyword.arg in found and given.get(keyword.arg) is None:
                found[keyword.arg].add(_setting(keyword.value, options, env, keyword.arg))
    chosen: list[str | None] = []
    for key, values in found.items():
        if len(values) > 1:
            raise AdoptError(
                f"{env}: context.configure() is given different {key} values",
                hint=f"pass the one in use as --{key.replace('_', '-')}",
            )
        chosen.append(next(iter(values), None))
    return chosen[0], chosen[1]


def _setting(value: ast.expr, options: Mapping[str, str], env: Path, key: str) -> str | None:
    if isinstance(value, ast.Constant) and (value.value is None or isinstance(value.value, str)):
        return value.value
    if (
        isinstance(value, ast.Call)
        and isinstance(value.func, ast.Attribute)
        and value.func.attr == "get_main_option"
        and value.args
        and isinstance(value.args[0], ast.Constant)
    ):
        name = str(value.args[0].value)
        if name in options:
            return options[name]
        if len(value.args) > 1 and isinstance(value.args[1], ast.Constant):
            default = value.args[1].value
            return default if default is None or isinstance(default, str) else None
        return None
    raise AdoptError(
        f"{env}:{value.lineno}: {key}= is computed ({ast.unparse(value)}), not a literal",
        hint=f"pass its value as --{key.replace('_', '-')}",
    )


# -- reading revisions ---------------------------------------------------------------------


def read_revisions(project: AlembicProject) -> list[Revision]:
    revisions: dict[str, Revision] = {}
    for path in project.revision_files():
        found = read_revision(path)
        add_once(
            revisions, found.revision, found, "revision",
            "Alembic refuses this too: give one of them another revision id",
        )  # fmt: skip
    return list(revisions.values())


def read_revision(path: Path) -> Revision:
    text = path.read_text(encoding="utf-8")
    try:
        tree = ast.parse(text, str(path))
    except SyntaxError as error:
        raise AdoptError(
            f"{path}:{error.lineno}: cannot parse the revision", hint="fix the syntax error"
        ) from None
    values: dict[str, Any] = {}
    for node in tree.body:
        target, value = _assignment(node)
        if target in _IDENTIFIERS and value is not None:
            try:
                values[target] = ast.literal_eval(value)
            except ValueError:
                raise AdoptError(
                    f"{path}:{node.lineno}: {target} is not a literal",
                    hint="write it as Alembic's template does: a string, a tuple or None",
                ) from None
    revision = values.get("revision")
    if not isinstance(revision, str) or not revision:
        raise AdoptError(
            f"{path}: no `revision = '...'` at the top level",
            hint="every file in the versions folder must be an Alembic revision",
        )
    return Revision(
        path,
        revision,
        _ids(values.get("down_revision"), path, "down_revision"),
        _ids(values.get("branch_labels"), path, "branch_labels"),
        _ids(values.get("depends_on"), path, "depends_on"),
        text,
        tree,
    )


def _assignment(node: ast.stmt) -> tuple[str | None, ast.expr | None]:
    if isinstance(node, ast.Assign) and len(node.targets) == 1:
        target = node.targets[0]
        return (target.id if isinstance(target, ast.Name) else None), node.value
    if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
        return node.target.id, node.value
    return None, None


def _ids(value: Any, path: Path, key: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise AdoptError(
        f"{path}: {key} must be a string, a tuple of strings or None, not {value!r}",
        hint="fix the revision file",
    )


# -- converting ----------------------------------------------------------------------------


def convert(
    project: AlembicProject,
    taken: Iterable[str] = (),
    naming_convention: Mapping[str, str] | None = None,
) -> list[Converted]:
    """Every revision of the project as a dbshift migration, parents resolved, in no
    particular order. `taken`: ids of dbshift migrations that are not converted ones (a
    mapped id avoids them). `naming_convention`: the target metadata's, which Alembic
    applied to the operations' names; written into every file so dbshift's `op` applies
    it too. Raises `AdoptError` on the first thing it cannot convert."""
    revisions = read_revisions(project)
    ids = _dbshift_ids([r.revision for r in revisions], set(taken))
    labels = {label: r.revision for r in revisions for label in r.branch_labels}
    known = {r.revision for r in revisions}
    converted = []
    for rev in revisions:
        parents: list[str] = []
        for parent in rev.down_revision:
            if parent not in known:
                raise AdoptError(
                    f"{rev.path}: down_revision {parent} is no revision of the project",
                    hint="restore the missing revision file",
                )
            parents.append(ids[parent])
        for dependency in rev.depends_on:
            target = dependency if dependency in known else labels.get(dependency)
            if target is None:
                matches = [k for k in known if k.startswith(dependency)]
                target = matches[0] if len(matches) == 1 else None
            if target is None:
                raise AdoptError(
                    f"{rev.path}: depends_on {dependency} is no revision or branch label",
                    hint="fix depends_on in the revision file",
                )
            if ids[target] not in parents:
                parents.append(ids[target])
        base = project.script_location
        where = rev.path.relative_to(base) if rev.path.is_relative_to(base) else rev.path
        text = convert_text(rev, parents, where.as_posix(), naming_convention)
        converted.append(Converted(ids[rev.revision], rev.revision, rev.path, text))
    return converted


def _dbshift_ids(revisions: Sequence[str], taken: set[str]) -> dict[str, str]:
    """Alembic's id where dbshift can use it, else a mapped one (`alembic_<id with
    every other character an underscore>`, numbered if taken)."""
    chosen: dict[str, str] = {}
    used = set(taken)
    for rev in sorted(revisions, key=lambda r: (not _usable(r), r)):
        if _usable(rev) and rev not in used:
            new = rev
        else:
            stem = re.sub(r"[^A-Za-z0-9_]+", "_", rev).strip("_") or "revision"
            new, n = f"alembic_{stem}", 1
            while new in used:
                n += 1
                new = f"alembic_{stem}_{n}"
        used.add(new)
        chosen[rev] = new
    return chosen


#: above the `naming_convention` line of a converted file
CONVENTION_COMMENT = "# the models' naming convention, which Alembic applied to these names"


def models_convention(metadatas: Sequence[sa.MetaData]) -> dict[str, str] | None:
    """The naming convention of the models (Alembic's `target_metadata`) when it is
    not SQLAlchemy's default; None when it is. Refused when the models disagree, or
    when it has keys or values a converted file cannot state as text (constraint
    classes, callables): then it is for the user to write."""
    found = {_plain_convention(m) for m in metadatas}
    if len(found) > 1:
        raise AdoptError(
            "the configured models have different naming conventions",
            hint="adopt one project's models at a time (set `models` to its metadata)",
        )
    convention = next(iter(found), ())
    default = tuple(sorted(sa.sql.schema.DEFAULT_NAMING_CONVENTION.items()))
    return dict(convention) if convention and convention != default else None


def _plain_convention(metadata: sa.MetaData) -> tuple[tuple[str, str], ...]:
    pairs = metadata.naming_convention.items()
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in pairs):
        raise AdoptError(
            "the models' naming convention has keys or values that are not text "
            "(constraint classes or functions)",
            hint="give it string keys and %-templates, or unset `models` and write "
            "naming_convention = {...} into the converted files yourself",
        )
    return tuple(sorted((str(k), str(v)) for k, v in pairs))


def _usable(rev: str) -> bool:
    return bool(_ID_OK.match(rev)) and rev.lower() not in _TARGET_WORDS


def convert_text(
    rev: Revision,
    parents: Sequence[str],
    where: str,
    naming_convention: Mapping[str, str] | None = None,
) -> str:
    """The dbshift migration for one revision (see the module's docstring)."""
    tree, text = rev.tree, rev.text
    lines = text.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    _refuse_shared_lines(rev)
    alias = _op_alias(rev)
    drop: set[int] = set()  # 0-based lines to leave out
    docstring = ""
    body = tree.body
    first = body[0] if body else None
    if (
        isinstance(first, ast.Expr)
        and isinstance(first.value, ast.Constant)
        and isinstance(first.value.value, str)
    ):
        end = first.end_lineno or first.lineno
        segment = "".join(lines[first.lineno - 1 : end])
        drop.update(range(first.lineno - 1, end))
        docstring = _docstring(segment, first.value.value)
    if not docstring:
        docstring = f'"""alembic revision {rev.revision}"""\n'
    future, future_lines = future_imports(tree, text)
    drop.update(future_lines)
    functions: dict[str, ast.FunctionDef] = {}
    imports: list[int] = []  # 0-based first lines of the Alembic imports
    for node in body:
        name, _ = _assignment(node)
        if name in _IDENTIFIERS:
            drop.update(range(node.lineno - 1, node.end_lineno or node.lineno))
            before = node.lineno - 2
            if before >= 0 and lines[before].strip() == _IDENTIFIERS_COMMENT:
                drop.add(before)
        elif isinstance(node, ast.ImportFrom | ast.Import) and _imports_alembic(node):
            drop.update(range(node.lineno - 1, node.end_lineno or node.lineno))
            imports.append(node.lineno - 1)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name in (
            "upgrade",
            "downgrade",
        ):
            if isinstance(node, ast.AsyncFunctionDef) or _has_parameters(node):
                raise AdoptError(
                    f"{rev.path}:{node.lineno}: {node.name}() takes parameters "
                    f"({ast.unparse(node.args)}); dbshift calls it with op alone",
                    hint="a Flask-Migrate multi-database revision is not converted yet: "
                    "convert each database's functions by hand",
                )
            functions[node.name] = node
    if "upgrade" not in functions:
        raise AdoptError(
            f"{rev.path}: no upgrade() function", hint="every Alembic revision has one"
        )
    replace: dict[int, str] = {}  # 0-based lines written instead
    if _uses_global_op(rev, alias, functions):
        named = "" if alias == "op" else f" as {alias}"
        replace[imports[0]] = f"from dbshift.ops.current import op{named}\n"
    signatures = {_signature_span(rev, node): node.name for node in functions.values()}
    out: list[str] = []
    removed = False  # a line was left out since the last line of text: blank runs shrink
    for index, line in enumerate(lines):
        if index in replace:
            out.append(replace[index])
            continue
        if index in drop:
            removed = True
            continue
        if not line.strip():
            if removed and len(out) >= 2 and not out[-1].strip() and not out[-2].strip():
                continue
        else:
            removed = False
        span = next((s for s in signatures if s[0] == index), None)
        if span is not None:
            start, col, end, end_col = span
            name = signatures[span]
            indent = line[:col]
            rest = lines[end][end_col:]
            out.append(f"{indent}def {name}({alias}):{rest}")
            drop.update(range(start, end + 1))
            continue
        out.append(line)
    rest = "".join(out).lstrip("\n")
    header = [docstring.rstrip("\n"), *future, f"{HEADER}{rev.revision} (converted from {where})"]
    if rev.down_revision:
        header.append(f"# alembic down_revision: {', '.join(rev.down_revision)}")
    if rev.branch_labels:
        header.append(f"# alembic branch_labels: {', '.join(rev.branch_labels)}")
    if rev.depends_on:
        header.append(f"# alembic depends_on: {', '.join(rev.depends_on)} (dbshift parents)")
    listed = ", ".join(f'"{p}"' for p in parents)
    settings = f"parents = [{listed}]\n"
    if naming_convention:
        pairs = ", ".join(f"{k!r}: {v!r}" for k, v in sorted(naming_convention.items()))
        settings += f"{CONVENTION_COMMENT}\nnaming_convention = {{{pairs}}}\n"
    return "\n".join(header) + f"\n\n{settings}\n" + rest


def _docstring(segment: str, value: str) -> str:
    stripped = segment.strip()
    if stripped.startswith(('"""', "'''")):
        return stripped + "\n"
    escaped = value.replace("\\", "\\\\").replace('"""', '\\"\\"\\"')
    return f'"""{escaped}"""\n'


def _imports_alembic(node: ast.Import | ast.ImportFrom) -> bool:
    if isinstance(node, ast.ImportFrom):
        return node.module == "alembic" or (node.module or "").startswith("alembic.")
    return any(a.name == "alembic" or a.name.startswith("alembic.") for a in node.names)


def _op_alias(rev: Revision) -> str:
    """The name the revision gives Alembic's `op` (`from alembic import op [as x]`);
    any other import from Alembic is refused."""
    alias = "op"
    for node in ast.walk(rev.tree):
        if not isinstance(node, ast.Import | ast.ImportFrom) or not _imports_alembic(node):
            continue
        if node not in rev.tree.body:
            raise AdoptError(
                f"{rev.path}:{node.lineno}: imports Alembic inside a function",
                hint="import what it needs from sqlalchemy; dbshift passes op to "
                "upgrade(op) and downgrade(op)",
            )
        names = node.names
        if isinstance(node, ast.ImportFrom) and node.module == "alembic":
            others = [a.name for a in names if a.name != "op"]
            if not others:
                alias = names[0].asname or "op"
                continue
            what = f"alembic.{others[0]}"
        else:
            what = ast.unparse(node)
        raise AdoptError(
            f"{rev.path}:{node.lineno}: uses {what}, which a dbshift migration has no "
            "equivalent of",
            hint="rewrite that part with op (docs/migrations.md) before adopting; "
            "`op.get_context()` and `op.get_bind()` are dbshift's too",
        )
    return alias


def _has_parameters(node: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    a = node.args
    return bool(a.posonlyargs or a.args or a.kwonlyargs or a.vararg or a.kwarg)


def _uses_global_op(rev: Revision, alias: str, functions: Mapping[str, ast.FunctionDef]) -> bool:
    """Whether code outside upgrade and downgrade (a helper they call) uses the module's
    `op`: the converted file then imports `dbshift.ops.current.op`, which stands for the
    `op` of the migration function running. Code that would use it at import, when no
    migration runs, is refused."""
    uses = False
    for node in rev.tree.body:
        if node in functions.values():
            continue
        for inner, in_function in _names(node, alias):
            if not in_function:
                raise AdoptError(
                    f"{rev.path}:{inner.lineno}: module level code uses Alembic's global "
                    f"{alias} as the file is imported, when no migration runs",
                    hint=f"move it into upgrade({alias}) or a function that upgrade calls",
                )
            uses = True
    return uses


def _names(node: ast.AST, alias: str, in_function: bool = False) -> Iterator[tuple[ast.Name, bool]]:
    """The uses of `alias` in `node` that mean the module's name, each with whether it
    is inside a function (run when called, not at import); a function whose parameter
    is `alias` has its own."""
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
        a = node.args
        if alias in {p.arg for p in (*a.posonlyargs, *a.args, *a.kwonlyargs)}:
            return
        for default in (*a.defaults, *a.kw_defaults):  # evaluated at definition
            if default is not None:
                yield from _names(default, alias, in_function)
        body = node.body if isinstance(node.body, list) else [node.body]
        for statement in body:
            yield from _names(statement, alias, True)
        return
    if isinstance(node, ast.Name) and node.id == alias:
        yield node, in_function
    for child in ast.iter_child_nodes(node):
        yield from _names(child, alias, in_function)


def _refuse_shared_lines(rev: Revision) -> None:
    """Statements are removed line by line: two top-level statements on one line
    (`a = 1; b = 2`) would go together."""
    previous = 0
    for node in rev.tree.body:
        if node.lineno == previous:
            raise AdoptError(
                f"{rev.path}:{node.lineno}: several statements on one line",
                hint="put each top-level statement on a line of its own",
            )
        previous = node.end_lineno or node.lineno


def _signature_span(rev: Revision, node: ast.FunctionDef) -> tuple[int, int, int, int]:
    """(first line, its column, last line, the column after the `:`), 0-based lines,
    of a function's `def ...:` (annotations, line breaks and comments included)."""
    start = node.lineno - 1
    if node.decorator_list:
        raise AdoptError(
            f"{rev.path}:{node.decorator_list[0].lineno}: {node.name}() has decorators",
            hint="dbshift calls upgrade(op) and downgrade(op) as they are: remove them",
        )
    lines = rev.text.splitlines(keepends=True)
    chunk = "".join(lines[start:])
    depth = 0
    seen_paren = False
    for token in tokenize.generate_tokens(io.StringIO(chunk).readline):
        if token.type != tokenize.OP:
            continue
        if token.string in "([{":
            depth += 1
            seen_paren = True
        elif token.string in ")]}":
            depth -= 1
        elif token.string == ":" and depth == 0 and seen_paren:
            row, col = token.end
            return start, node.col_offset, start + row - 1, col
    raise AssertionError("a parsed function has a signature")


def origins(texts: Mapping[str, str]) -> dict[str, str]:
    """The Alembic revision each converted migration names in its header, by dbshift
    id (`texts`: each migration's text, by id); migrations without one are left out."""
    found = {}
    for migration_id, text in texts.items():
        body = text.find("\ndef ")
        match = _HEADER_LINE.search(text, 0, len(text) if body == -1 else body)
        if match is not None:
            found[migration_id] = match.group(1)
    return found
