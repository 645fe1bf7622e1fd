"""Crash safety of every file dbshift writes: SIGKILL at random moments leaves each file
whole (its old text or its new text) and no temporary file dbshift would read."""

from __future__ import annotations

import ast
import os
import random
import shutil
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dbshift.files import temporary_name, write_atomic
from tests.helpers import Project

TABLE = 'op.create_table("{0}", sa.Column("id", sa.Integer, primary_key=True))'


def files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


def start(args: list[str], cwd: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "dbshift", *args],
        cwd=cwd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def watch_until_changed(path: Path, process: subprocess.Popen[bytes]) -> None:
    """Return as soon as `path` is no longer the file it was (size, time or inode)."""
    first = path.stat()
    key = (first.st_size, first.st_mtime_ns, first.st_ino)
    while process.poll() is None:
        now = path.stat()
        if (now.st_size, now.st_mtime_ns, now.st_ino) != key:
            return


def _temporary(path: Path) -> bool:
    """A name `write_atomic` writes to before its rename (`files.temporary_name`)."""
    return path.name.startswith(".") and path.name.endswith(".tmp")


def no_stray_migrations(before: dict[str, bytes], after: dict[str, bytes]) -> None:
    """What dbshift reads as a migration (a .py/.sql not starting with . or _) is one
    that was there before or a whole new one; temporary files are hidden names."""
    for name in set(after) - set(before):
        if name.startswith("."):
            assert _temporary(Path(name)), name
            continue
        assert name.endswith((".py", ".sql")), name
        text = after[name].decode("utf-8")
        compile(text, name, "exec")  # whole: a cut-short file would not end its template
        assert "def upgrade(op)" in text, text


@pytest.mark.slow
@pytest.mark.backends("sqlite")
def test_sigkill_during_rebase_leaves_every_file_old_or_new(project: Project) -> None:
    base = project.python("users", TABLE.format("users"))
    project.python("a1", TABLE.format("a1"))
    padding = "# padding to widen the write window\n" * 900_000  # ~33 MB
    moved = project.python("b1", TABLE.format("b1"), parents=[base], header=padding)
    folder = project.migrations
    old = files(folder)
    reference = project.root.parent / "reference"
    shutil.copytree(project.root, reference)
    began = time.monotonic()
    assert (
        subprocess.run([sys.executable, "-m", "dbshift", "rebase", moved], cwd=reference).returncode
        == 0
    )
    duration = time.monotonic() - began
    new = files(reference / "migrations")
    assert new[f"{moved}.py"] != old[f"{moved}.py"] and new["dbshift.sum"] != old["dbshift.sum"]
    rng = random.Random(11)
    target = folder / f"{moved}.py"
    for attempt in range(10):
        process = start(["rebase", moved], project.root)
        if attempt % 2:  # anywhere in the run
            time.sleep(rng.uniform(0.0, duration * 1.1))
        else:  # just as the file starts to change: the moment a plain write is cut short
            watch_until_changed(target, process)
            time.sleep(rng.uniform(0.0, 0.02))
        process.send_signal(signal.SIGKILL)
        process.wait()
        after = files(folder)
        for name, text in old.items():
            assert after[name] in (text, new[name]), (name, len(after[name]))
        no_stray_migrations(old, after)
        for name in set(after) - set(old):
            (folder / name).unlink()
        for name, text in old.items():
            (folder / name).write_bytes(text)


@pytest.mark.slow
@pytest.mark.backends("sqlite")
def test_sigkill_during_new_and_init_leaves_whole_files(project: Project) -> None:
    project.python("users", TABLE.format("users"))
    folder = project.migrations
    rng = random.Random(7)
    for _ in range(6):
        before = files(folder)
        process = start(["new", "-m", "killed"], project.root)
        time.sleep(rng.uniform(0.0, 1.5))
        process.send_signal(signal.SIGKILL)
        process.wait()
        after = files(folder)
        no_stray_migrations(before, after)
        assert after["dbshift.sum"].endswith(b"\n")
    for attempt in range(4):
        target = project.root.parent / f"init{attempt}"
        process = start(["init", str(target)], project.root)
        time.sleep(rng.uniform(0.0, 1.0))
        process.send_signal(signal.SIGKILL)
        process.wait()
        toml = target / "dbshift.toml"
        if toml.exists():
            assert toml.read_text().endswith('# url = "${PRODUCTION_DATABASE_URL}"\n')
        if target.exists():  # a kill mid-write may leave a hidden temporary, never read
            left = sorted(target.iterdir())
            assert all(p.name == "dbshift.toml" or p.is_dir() or _temporary(p) for p in left), left


def test_write_atomic_replaces_whole_keeps_the_mode_and_cleans_up(tmp_path: Path) -> None:
    path = tmp_path / "20260101T000000_x.py"
    write_atomic(path, "one\r\n")
    assert path.read_bytes() == b"one\r\n"  # exactly as given
    os.chmod(path, 0o640)
    write_atomic(path, b"two")
    assert path.read_bytes() == b"two" and stat.S_IMODE(path.stat().st_mode) == 0o640
    with pytest.raises(FileExistsError):
        write_atomic(path, "three", exclusive=True)
    assert path.read_bytes() == b"two"
    write_atomic(tmp_path / "new.sql", "x", exclusive=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["20260101T000000_x.py", "new.sql"]
    hidden = temporary_name(path).name
    assert hidden.startswith(".") and hidden.endswith(".tmp")


def test_every_file_dbshift_writes_goes_through_write_atomic() -> None:
    """The mechanism, guarded: outside `dbshift.files`, no module writes, moves or opens
    a file for writing itself (a direct write is what SIGKILL cuts short)."""
    import dbshift

    package = Path(dbshift.__file__).parent
    found = []
    for path in sorted(package.rglob("*.py")):
        if path == package / "files.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Call) and _writes(node):
                found.append(f"{path.relative_to(package)}:{node.lineno}")
    assert not found, found


def _writes(call: ast.Call) -> bool:
    """`p.write_text(...)`, `p.write_bytes(...)`, `p.touch()`, `os.replace/rename(...)`,
    `shutil.move/copy*(...)`, or `open(...)` / `p.open(...)` with a writing mode."""
    func = call.func
    if isinstance(func, ast.Attribute):
        owner = func.value.id if isinstance(func.value, ast.Name) else None
        if func.attr in ("write_text", "write_bytes", "touch"):
            return True
        if owner == "os" and func.attr in ("replace", "rename", "open"):
            return True
        if owner == "shutil" and func.attr in ("move", "copy", "copyfile", "copy2"):
            return True
        modes = call.args[:1] if func.attr == "open" else []
    elif isinstance(func, ast.Name) and func.id == "open":
        modes = call.args[1:2]
    else:
        return False
    modes += [k.value for k in call.keywords if k.arg == "mode"]
    return any(isinstance(m, ast.Constant) and set(str(m.value)) & set("wax+") for m in modes)
