"""Migration files on disk: scanning, header parsing as text, ids and checksums.

Listing, status and history read only this: they never import a migration. A Python
migration's header is its docstring (the message) followed by top-level `parents = [...]`
and optionally `transactional = False`; a SQL migration's header is the comment block
before `-- dbshift:up`, holding `-- parents: ...` and optionally `-- transactional: false`.
Either may set `lock_timeout` and `statement_timeout` for its statements (Python
`lock_timeout = "2s"`, SQL `-- lock_timeout: 2s`), overriding the configuration, and
name the backends `make` wrote it for (`backends = ["sqlite", "postgresql"]`, SQL
`-- backends: postgresql`): `upgrade` on another backend warns.
"""

from __future__ import annotations

import hashlib
import marshal
import os
import re
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal, NamedTuple

from dbshift.config import BACKENDS, parse_duration
from dbshift.errors import ConfigError, GraphError, IntegrityError
from dbshift.files import read_with_status, write_atomic

Kind = Literal["python", "sql"]
SUFFIXES: Mapping[str, Kind] = {".py": "python", ".sql": "sql"}
#: the file recording every migration's checksum (`migrations/sumfile.py`)
SUM_FILE = "dbshift.sum"
UP_MARKER = "-- dbshift:up"
DOWN_MARKER = "-- dbshift:down"

_ID_TIME = "%Y%m%dT%H%M%S"
_ID_TIME_RE = re.compile(r"^(\d{8}T\d{6})")
_PY_PARENTS = re.compile(r"^parents[ \t]*=[ \t]*", re.MULTILINE)
_PY_TRANSACTIONAL = re.compile(r"^transactional[ \t]*=(.*)$", re.MULTILINE)
_LEADING_SPACE = re.compile(r"\s*")
_PY_STRING = re.compile(r"""\s*(?:"([^"\\]*)"|'([^'\\]*)')\s*(?:,|$)""")
_SQL_PARENTS_LINE = re.compile(r"^[ \t]*--[ \t]*parents[ \t]*:[ \t]*([^\r\n]*)", re.I | re.M)
_PY_TIMEOUT = re.compile(r"^(lock_timeout|statement_timeout)[ \t]*=(.*)$", re.MULTILINE)
_PY_BACKENDS = re.compile(r"^backends[ \t]*=(.*)$", re.MULTILINE)
_SQL_DIRECTIVE = re.compile(
    r"^--\s*(parents|transactional|lock_timeout|statement_timeout|backends)\s*:(.*)$",
    re.IGNORECASE,
)


class Script(NamedTuple):
    """One migration file, known from its header alone.

    A named tuple rather than a frozen dataclass: every command builds one per file,
    thousands of them, and a frozen dataclass's `__init__` costs four times as much
    (each field set through `object.__setattr__`)."""

    id: str
    location: str  # the file's path (a plain string: thousands are read per command)
    kind: Kind
    parents: tuple[str, ...]
    message: str
    transactional: bool
    checksum: str
    #: the file's own `lock_timeout` / `statement_timeout` in seconds (0: none), or None
    #: where the configuration's applies
    lock_timeout: float | None = None
    statement_timeout: float | None = None
    #: the backends `make` wrote it for; None for a file that does not say (hand-written)
    backends: tuple[str, ...] | None = None

    @property
    def path(self) -> Path:
        return Path(self.location)

    @property
    def name(self) -> str:
        return os.path.basename(self.location)


def checksum(content: bytes) -> str:
    """SHA-256 of the content with line endings normalized, so a CRLF checkout matches."""
    if b"\r" in content:
        content = content.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    return hashlib.sha256(content).hexdigest()


def require_folder(folder: Path) -> None:
    """Refuse a migrations folder that does not exist (exit 2)."""
    if not folder.is_dir():
        raise ConfigError(
            f"migrations folder not found: {folder}",
            hint="run `dbshift init`, or point --migrations at the folder",
        )


def scan(folder: Path) -> list[Script]:
    """Every migration in `folder`, sorted by id. Raises on unreadable headers and
    duplicate ids; the graph checks parents and cycles."""
    require_folder(folder)
    found: dict[str, Script] = {}
    cache = _HeaderCache(folder)
    for entry in _migration_files(folder):
        script = cache.get(entry)
        if script is None:  # one open gives the content and the status the cache keeps
            content, status = read_with_status(entry.path)
            script = cache.put(entry.name, status, script_of(entry.path, entry.name, content))
        other = found.get(script.id)
        if other is not None:
            raise GraphError(
                f"duplicate migration id {script.id}: {other.name} and {script.name}",
                hint="rename or remove one of the two files",
            )
        found[script.id] = script
    cache.save()
    return [found[key] for key in sorted(found)]


class _HeaderCache:
    """What the headers and checksums of unchanged files were, as git's index does.

    A file is unchanged when its size, inode, mtime and ctime are those recorded; the
    kernel sets ctime on every change (a forged mtime included). Files changed within
    two seconds of the cache being written are always read again ("racy" entries).
    The cache lives in `__pycache__`; where it cannot be written, it is not used."""

    VERSION = 3
    RACY_NS = 2_000_000_000

    def __init__(self, folder: Path) -> None:
        self.path = folder / "__pycache__" / "dbshift-headers.marshal"
        self.entries: dict[str, tuple[Any, ...]] = {}
        self.trusted_before = 0
        self.dirty = False
        self.seen: set[str] = set()
        try:
            version, written, entries = marshal.loads(self.path.read_bytes())
            if version == self.VERSION:
                self.entries, self.trusted_before = entries, written - self.RACY_NS
        except (OSError, ValueError, EOFError, TypeError):
            pass

    @staticmethod
    def _key(st: os.stat_result) -> tuple[int, int, int, int]:
        return st.st_size, st.st_ino, st.st_mtime_ns, st.st_ctime_ns

    def get(self, entry: os.DirEntry[str]) -> Script | None:
        self.seen.add(entry.name)
        cached = self.entries.get(entry.name)
        if cached is None:
            return None
        key = self._key(entry.stat())
        if cached[0] != key or max(key[2], key[3]) >= self.trusted_before:
            return None
        kind, parents, message, transactional, digest, lock, statement, backends = cached[1:]
        stem = entry.name.rpartition(".")[0]
        return Script(
            stem,
            entry.path,
            kind,
            parents,
            message,
            transactional,
            digest,
            lock,
            statement,
            backends,
        )

    def put(self, name: str, status: os.stat_result, script: Script) -> Script:
        """Remember `script`, read from the file whose status (taken as it was read)
        is `status`."""
        s = script
        self.entries[name] = (
            self._key(status),
            s.kind,
            s.parents,
            s.message,
            s.transactional,
            s.checksum,
            s.lock_timeout,
            s.statement_timeout,
            s.backends,
        )
        self.dirty = True
        return script

    def save(self) -> None:
        stale = set(self.entries) - self.seen
        if not (self.dirty or stale):
            return
        for name in stale:
            del self.entries[name]
        write_cache(self.path, marshal.dumps((self.VERSION, time.time_ns(), self.entries)))


class CleanSums:
    """The last clean verdict on `dbshift.sum` (see `sumfile.audit`), in `__pycache__`:
    the sum file's identity (size, inode, mtime, ctime; dbshift replaces the file, so
    every write changes the inode) and a digest of every file's path and checksum. When
    both are unchanged, so is the verdict: the chain of hashes (thousands of them) is
    not recomputed, and `sumfile` is not even imported."""

    def __init__(self, folder: Path, scripts: Sequence[Script]) -> None:
        self.path = folder / "__pycache__" / "dbshift-sum.marshal"
        try:
            st = os.stat(folder / SUM_FILE)
            key: tuple[int, ...] = (st.st_size, st.st_ino, st.st_mtime_ns, st.st_ctime_ns)
        except OSError:
            key = ()
        listing = "".join([f"{s.location}\0{s.checksum}\n" for s in scripts])
        self.state = (key, hashlib.sha256(listing.encode()).digest())

    def hit(self) -> bool:
        if not self.state[0]:
            return False
        try:
            return bool(marshal.loads(self.path.read_bytes()) == self.state)
        except (OSError, ValueError, EOFError, TypeError):
            return False

    def save(self) -> None:
        if self.state[0]:
            write_cache(self.path, marshal.dumps(self.state))


def write_cache(path: Path, data: bytes) -> None:
    """Replace a cache file in `__pycache__` atomically (readers never see half of it).
    A read-only checkout just has no cache: every run does the work again."""
    try:
        path.parent.mkdir(exist_ok=True)
        write_atomic(path, data)
    except OSError:
        pass


def _migration_files(folder: Path) -> Iterator[os.DirEntry[str]]:
    with os.scandir(folder) as entries:
        for entry in entries:
            name = entry.name
            if name[0] in "._" or not entry.is_file():
                continue
            if name.endswith((".py", ".sql")):
                yield entry


def read_script(path: str | Path, name: str | None = None) -> Script:
    location = os.fspath(path)
    return script_of(location, name or os.path.basename(location), read_with_status(location)[0])


def script_of(location: str, name: str, content: bytes) -> Script:
    """The migration `name` at `location` known from its `content` (read once)."""
    stem, _, suffix = name.rpartition(".")
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise IntegrityError(
            f"{name}: not UTF-8 text (byte {exc.start})", hint="save the file as UTF-8"
        ) from None
    kind = SUFFIXES["." + suffix]
    parse = _parse_python_header if kind == "python" else _parse_sql_header
    message, parents, transactional, timeouts, backends = parse(text, name)
    return Script(
        id=stem,
        location=location,
        kind=kind,
        parents=parents,
        message=message,
        transactional=transactional,
        checksum=checksum(content),
        lock_timeout=timeouts.get("lock_timeout"),
        statement_timeout=timeouts.get("statement_timeout"),
        backends=backends,
    )


def _header_error(name: str, line: int, problem: str, hint: str) -> IntegrityError:
    return IntegrityError(f"{name}:{line}: {problem}", hint=hint)


_Header = tuple[str, tuple[str, ...], bool, dict[str, float], tuple[str, ...] | None]


def _timeout(name: str, line: int, key: str, value: str, example: str) -> float:
    try:
        return parse_duration(value)
    except ValueError:
        raise _header_error(
            name,
            line,
            f"{key} must be a duration such as 2s or 500ms, not {value!r}",
            f"write {example.format(key=key)} (0 or off: no limit)",
        ) from None


def _parse_python_header(text: str, name: str) -> _Header:
    body = text.find("\ndef ")  # the header ends where the code begins
    header = text if body == -1 else text[:body]
    transactional = True
    # each setting's regex runs only where its keyword occurs (most headers have none)
    flag = _PY_TRANSACTIONAL.search(header) if "transactional" in header else None
    if flag is not None:
        value = _code(flag.group(1)).strip()
        if value not in ("True", "False"):
            raise _header_error(
                name,
                header.count("\n", 0, flag.start()) + 1,
                f"transactional must be True or False, not {value!r}",
                "write `transactional = False` for a migration that runs outside a transaction",
            )
        transactional = value == "True"
    timeouts = {}
    for setting in _PY_TIMEOUT.finditer(header) if "_timeout" in header else ():
        key, value = setting.group(1), _code(setting.group(2)).strip()
        line = header.count("\n", 0, setting.start()) + 1
        literal = value[1:-1] if value[:1] == value[-1:] and value[:1] in "\"'" else value
        timeouts[key] = _timeout(name, line, key, literal or value, '`{key} = "2s"`')
    backends = None
    listed = _PY_BACKENDS.search(header) if "backends" in header else None
    if listed is not None:
        line = header.count("\n", 0, listed.start()) + 1
        rest = header[listed.start(1) :]
        close = rest.find("]") if rest.lstrip().startswith("[") else -1
        value = rest[: close + 1] if close != -1 else listed.group(1)  # a list over lines
        backends = _parse_backends(" ".join(_code(p) for p in value.split("\n")), name, line)
    found = _PY_PARENTS.search(header)
    if found is None:
        raise _header_error(
            name,
            1,
            "no `parents = [...]` line in the header",
            "add `parents = []` for a first migration, or the ids it builds on",
        )
    line = header.count("\n", 0, found.start()) + 1
    start = found.end()
    closer = {"[": "]", "(": ")"}.get(header[start : start + 1])
    close = header.find(closer, start) if closer else -1
    if close == -1:  # not a bracketed list: the rest of the line
        close = header.find("\n", start)
        value = header[start:] if close == -1 else header[start:close]
    else:
        value = header[start : close + 1]
    if "\n" in value or "#" in value:  # a list over lines, or comments in it
        value = " ".join(_code(part) for part in value.split("\n"))
    parents = _parse_parent_list(value, name, line)
    return _docstring_first_line(text), parents, transactional, timeouts, backends


def python_parents(text: str, name: str) -> tuple[str, ...]:
    """The parents a Python migration's text names (its header read as `scan` reads
    it), for a file not written yet."""
    return _parse_python_header(text, name)[1]


def _parse_backends(value: str, name: str, line: int) -> tuple[str, ...]:
    """`["sqlite", "postgresql"]` (Python) or `sqlite, postgresql` (SQL): known names."""
    body = value.strip()
    if body[:1] + body[-1:] in ("[]", "()"):
        body = body[1:-1]
    names = tuple(n.strip().strip("\"'") for n in body.split(",") if n.strip())
    unknown = [n for n in names if n not in BACKENDS]
    if unknown:
        raise _header_error(
            name,
            line,
            f"unknown backend {unknown[0]!r} in the backends line",
            f"name backends among {', '.join(BACKENDS)}, or remove the line",
        )
    return names


def replace_parents(text: str, kind: Kind, parents: Sequence[str]) -> str:
    """The migration's text with its header naming `parents` (for `dbshift rebase`);
    everything else, line endings included, is kept."""
    if kind == "python":
        body = text.find("\ndef ")
        found = _PY_PARENTS.search(text, 0, len(text) if body == -1 else body)
        assert found is not None, "the header was parsed before"
        rest = text[found.end() :]
        closer = {"[": "]", "(": ")"}.get(rest[:1])
        end = found.end() + (rest.index(closer) + 1 if closer else len(rest.split("\n", 1)[0]))
        listed = ", ".join(f'"{p}"' for p in parents)
        return f"{text[: found.end()]}[{listed}]{text[end:]}"
    match = _SQL_PARENTS_LINE.search(text)
    assert match is not None, "the header was parsed before"
    return f"{text[: match.start(1)]}{', '.join(parents)}{text[match.end(1) :]}"


def _code(line: str) -> str:
    """A header line without its comment (ids never contain `#`)."""
    return line.split("#", 1)[0]


def _parse_parent_list(value: str, name: str, line: int) -> tuple[str, ...]:
    body = value.strip()
    if len(body) < 2 or body[0] + body[-1] not in ("[]", "()"):
        raise _header_error(
            name,
            line,
            f"cannot read parents {value.strip()!r}",
            'parents must be a literal list of ids, e.g. parents = ["20260101T000000_init"]',
        )
    inner, parents, pos = body[1:-1], [], 0
    while pos < len(inner) and inner[pos:].strip():
        match = _PY_STRING.match(inner, pos)
        if not match:
            raise _header_error(
                name,
                line,
                f"cannot read parents {value.strip()!r}",
                'parents must be a literal list of quoted ids, e.g. ["20260101T000000_init"]',
            )
        parents.append(match.group(1) if match.group(1) is not None else match.group(2))
        pos = match.end()
    return tuple(parents)


def _docstring_first_line(text: str) -> str:
    leading = _LEADING_SPACE.match(text)  # the docstring may follow blank lines
    start = leading.end() if leading else 0
    for quote in ('"""', "'''"):
        if text.startswith(quote, start):
            end = text.find(quote, start + 3)
            body = text[start + 3 : end] if end != -1 else ""
            first = body.strip().split("\n", 1)[0].strip()
            if "\\" in first:  # unescape, as written by `writer.render_python`
                first = re.sub(r"\\(.)", r"\1", first)
            return first
    return ""


def _parse_sql_header(text: str, name: str) -> _Header:
    message = ""
    parents: tuple[str, ...] | None = None
    transactional = True
    timeouts: dict[str, float] = {}
    backends = None
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if line.lower().startswith(UP_MARKER):
            break
        if not line:
            continue
        if not line.startswith("--"):
            raise _header_error(
                name,
                number,
                "SQL before the `-- dbshift:up` marker",
                "put statements under `-- dbshift:up` (and `-- dbshift:down`)",
            )
        match = _SQL_DIRECTIVE.match(line)
        if match is None:
            message = message or line[2:].strip()
            continue
        key, value = match.group(1).lower(), match.group(2).strip()
        if key == "parents":
            parents = tuple(p for p in re.split(r"[\s,]+", value) if p)
        elif key == "backends":
            backends = _parse_backends(value, name, number)
        elif key != "transactional":
            timeouts[key] = _timeout(name, number, key, value, "`-- {key}: 2s`")
        elif value.lower() in ("true", "false"):
            transactional = value.lower() == "true"
        else:
            raise _header_error(
                name,
                number,
                f"transactional must be true or false, not {value!r}",
                "write `-- transactional: false`",
            )
    else:
        raise _header_error(
            name, 1, "no `-- dbshift:up` marker", "start the statements with `-- dbshift:up`"
        )
    if parents is None:
        raise _header_error(
            name,
            1,
            "no `-- parents:` line in the header",
            "add `-- parents:` (empty for a first migration) naming the ids it builds on",
        )
    return message, parents, transactional, timeouts, backends


def sql_sections(text: str) -> tuple[tuple[str, int], tuple[str, int] | None]:
    """The up and down sections of a SQL migration, each with its first line number."""
    lines = text.splitlines(keepends=True)
    up_at = down_at = None
    for index, line in enumerate(lines):
        marker = line.strip().lower()
        if marker.startswith(UP_MARKER) and up_at is None:
            up_at = index
        elif marker.startswith(DOWN_MARKER) and down_at is None:
            down_at = index
    assert up_at is not None, "the header parser guarantees an up marker"
    end = down_at if down_at is not None and down_at > up_at else len(lines)
    up = ("".join(lines[up_at + 1 : end]), up_at + 2)
    if down_at is None:
        return up, None
    down_end = up_at if up_at > down_at else len(lines)
    return up, ("".join(lines[down_at + 1 : down_end]), down_at + 2)


def slugify(message: str, limit: int = 40) -> str:
    slug = re.sub(r"[^a-z0-9]+", "_", message.lower()).strip("_")
    return slug[:limit].rstrip("_")


def new_id(message: str, existing: Iterable[str], now: datetime | None = None) -> str:
    """A fresh id that sorts after every existing one: `20261123T181500_add_users`.

    Ids carry the creation second; when that second is taken (a script creating many
    migrations at once) the next free second is used, so creation order is kept."""
    moment = (now or datetime.now(UTC)).replace(microsecond=0, tzinfo=None)
    latest = max((m.group(1) for i in existing if (m := _ID_TIME_RE.match(i))), default=None)
    if latest is not None:
        last = datetime.strptime(latest, _ID_TIME)
        if last >= moment:
            moment = last + timedelta(seconds=1)
    slug = slugify(message)
    stamp = moment.strftime(_ID_TIME)
    return f"{stamp}_{slug}" if slug else stamp
