"""Crash-safe file writes: every file dbshift writes goes through `write_atomic`; and
`read_with_status`, a file's bytes and its status from one open; `copy_scratch` for the
throwaway copies of the pytest plugin's SQLite databases.

A process killed mid-write (SIGKILL, power loss) must leave each file whole, old text or
new, never empty or cut short: the text goes to a temporary file in the same folder, is
fsynced, and is renamed over the target. The temporary name starts with `.` and ends in
`.tmp`, so one left behind is never read as a migration (or anything else dbshift reads).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
from pathlib import Path


def temporary_name(path: Path) -> Path:
    """A fresh sibling of `path` that no reader of the folder takes for a real file."""
    return path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")


def read_with_status(path: str) -> tuple[bytes, os.stat_result]:
    """A file's content and its status (`fstat` of the same open file, so both belong
    to one inode), in as few system calls as Python allows: one open, one fstat, the
    reads, one close, and no buffered file object."""
    descriptor = os.open(path, os.O_RDONLY)
    try:
        status = os.fstat(descriptor)
        # One byte more than the size: exactly the size back is the whole file (a file
        # changed since has another ctime, so a cache keyed by this status reads it
        # again); more (it grew) or less (a short read) is read on to the end.
        content = os.read(descriptor, status.st_size + 1)
        if len(content) != status.st_size:
            chunks = [content]
            while chunk := os.read(descriptor, 1 << 16):
                chunks.append(chunk)
            content = b"".join(chunks)
    finally:
        os.close(descriptor)
    return content, status


def write_atomic(path: Path, data: str | bytes, *, exclusive: bool = False) -> None:
    """Replace (or with `exclusive`, create, failing with FileExistsError if it exists)
    `path` with `data` whole; text is written as UTF-8 exactly as given (no newline
    translation). A replaced file keeps its permissions; a new one gets the umask's."""
    payload = data.encode("utf-8") if isinstance(data, str) else data
    temporary = temporary_name(path)
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        if exclusive:
            _link_new(temporary, path)
        else:
            with contextlib.suppress(FileNotFoundError):
                os.chmod(temporary, os.stat(path).st_mode & 0o7777)
            os.replace(temporary, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
    _fsync_folder(path.parent)


def copy_scratch(source: Path, target: Path) -> None:
    """Copy `source` to a new file `target`, which must not exist: for throwaway files
    (the SQLite scratch databases of the pytest plugin), so neither atomic nor fsynced."""
    with open(source, "rb") as reading, open(target, "xb") as writing:
        shutil.copyfileobj(reading, writing, 1 << 20)


def _link_new(temporary: Path, path: Path) -> None:
    """Give the written file its name only if that name is free (atomically: a hard link
    fails on an existing name); where hard links are not supported, check and rename."""
    try:
        os.link(temporary, path)
    except FileExistsError:
        raise
    except OSError:
        if path.exists():
            raise FileExistsError(str(path)) from None
        os.replace(temporary, path)


def _fsync_folder(folder: Path) -> None:
    """Make the rename itself durable; not every platform can open a folder."""
    try:
        descriptor = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        with contextlib.suppress(OSError):
            os.fsync(descriptor)
    finally:
        os.close(descriptor)
