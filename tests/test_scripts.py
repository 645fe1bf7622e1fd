"""Migration files: headers parsed as text, ids, checksums, duplicate ids."""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dbshift.errors import ConfigError, GraphError, IntegrityError
from dbshift.migrations.scripts import checksum, new_id, read_script, scan, sql_sections
from dbshift.migrations.writer import render_python, render_sql

PY = '''"""create users

Longer text.
"""

parents = [
    "20260101T000000_a",  # the first
    '20260101T000001_b',
]
transactional = False

import sqlalchemy as sa


def upgrade(op):
    parents = ["not", "this"]
'''


def test_python_header(tmp_path: Path) -> None:
    path = tmp_path / "20260102T000000_users.py"
    path.write_text(PY)
    script = read_script(path)
    assert script.id == "20260102T000000_users"
    assert script.message == "create users"
    assert script.parents == ("20260101T000000_a", "20260101T000001_b")
    assert script.transactional is False
    assert script.kind == "python"


def test_sql_header_and_sections(tmp_path: Path) -> None:
    path = tmp_path / "20260102T000000_users.sql"
    path.write_text(
        "-- create users\n-- parents: a, b\n-- transactional: false\n\n"
        "-- dbshift:up\nCREATE TABLE u (id int);\n-- dbshift:down\nDROP TABLE u;\n"
    )
    script = read_script(path)
    assert (script.message, script.parents, script.transactional) == (
        "create users",
        ("a", "b"),
        False,
    )
    (up, up_line), down = sql_sections(path.read_text())
    assert up.strip() == "CREATE TABLE u (id int);" and up_line == 6
    assert down is not None and down[0].strip() == "DROP TABLE u;" and down[1] == 8


def test_rendered_templates_parse_back(tmp_path: Path) -> None:
    (tmp_path / "1_a.py").write_text(render_python('say "hi"\\ there', ["p1", "p2"]))
    (tmp_path / "2_b.sql").write_text(render_sql("sql one", ["1_a"]))
    first, second = scan(tmp_path)
    assert first.parents == ("p1", "p2") and first.message == 'say "hi"\\ there'
    assert second.parents == ("1_a",) and second.message == "sql one"


@pytest.mark.parametrize(
    ("name", "content", "fragment"),
    [
        ("x.py", '"""m"""\n\ndef upgrade(op):\n    pass\n', "x.py:1: no `parents = [...]`"),
        ("x.py", '"""m"""\nparents = compute()\n', "x.py:2: cannot read parents"),
        ("x.py", '"""m"""\nparents = [a]\n', "x.py:2: cannot read parents"),
        ("x.py", '"""m"""\nparents = []\ntransactional = maybe\n', "x.py:3: transactional"),
        ("x.sql", "-- m\n-- parents:\nSELECT 1;\n", "x.sql:3: SQL before"),
        ("x.sql", "-- m\n-- parents:\n", "no `-- dbshift:up` marker"),
        ("x.sql", "-- m\n-- dbshift:up\nSELECT 1;\n", "no `-- parents:` line"),
        ("x.sql", "-- m\n-- parents:\n-- transactional: perhaps\n-- dbshift:up\n", "x.sql:3"),
    ],
)
def test_unreadable_headers_name_file_and_line(
    tmp_path: Path, name: str, content: str, fragment: str
) -> None:
    (tmp_path / name).write_text(content)
    with pytest.raises(IntegrityError) as caught:
        scan(tmp_path)
    assert fragment in caught.value.message
    assert caught.value.hint
    assert "\n" not in caught.value.message


def test_duplicate_ids(tmp_path: Path) -> None:
    (tmp_path / "a1.py").write_text('"""m"""\nparents = []\n')
    (tmp_path / "a1.sql").write_text("-- m\n-- parents:\n-- dbshift:up\n")
    with pytest.raises(
        GraphError, match=r"duplicate migration id a1: a1\.(py|sql) and a1\.(py|sql)"
    ):
        scan(tmp_path)


def test_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="migrations folder not found"):
        scan(tmp_path / "nope")


def test_ignores_private_and_other_files(tmp_path: Path) -> None:
    (tmp_path / "__init__.py").write_text("")
    (tmp_path / "_helpers.py").write_text("x = 1")
    (tmp_path / "README.md").write_text("hi")
    (tmp_path / "dbshift.sum").write_text("")
    assert scan(tmp_path) == []


def test_checksum_ignores_line_endings_only() -> None:
    text = b"line one\nline two\n"
    assert checksum(text) == checksum(text.replace(b"\n", b"\r\n"))
    assert checksum(text) == checksum(text.replace(b"\n", b"\r"))
    assert checksum(text) != checksum(b"line one\nline tw0\n")
    assert checksum(text) != checksum(b"line one\n\nline two\n")


def test_ids_keep_creation_order_within_one_second() -> None:
    now = datetime(2026, 11, 23, 18, 15, 0)
    ids: list[str] = []
    for n in range(50):
        ids.append(new_id(f"step {n}", ids, now=now))
    assert ids == sorted(ids)
    assert len(set(ids)) == 50
    assert ids[0] == "20261123T181500_step_0"


@given(st.text(max_size=80))
def test_ids_are_safe_file_names(message: str) -> None:
    migration_id = new_id(message, [], now=datetime(2026, 1, 1))
    assert migration_id.startswith("20260101T000000")
    assert all(c.isascii() and (c.isalnum() or c == "_" or c == "T") for c in migration_id)


def test_header_cache_is_used_and_never_hides_an_edit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os
    import time

    from dbshift.migrations import scripts as module

    path = tmp_path / "20260101T000000_a.py"
    path.write_text('"""one"""\nparents = []\n')
    time.sleep(2.1)  # older than the racy window of the cache written next
    first = scan(tmp_path)
    assert (tmp_path / "__pycache__" / "dbshift-headers.marshal").exists()

    def no_reads(*args: object) -> None:
        raise AssertionError("an unchanged file was read again")

    with monkeypatch.context() as patched:
        patched.setattr(module, "read_with_status", no_reads)
        patched.setattr(module, "read_script", no_reads)
        assert scan(tmp_path) == first  # served from the cache

    stat = path.stat()
    path.write_text('"""two"""\nparents = []\n')  # same size
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # and the old mtime
    (edited,) = scan(tmp_path)
    assert edited.message == "two" and edited.checksum != first[0].checksum


def test_read_only_folder_still_scans(tmp_path: Path) -> None:
    (tmp_path / "20260101T000000_a.py").write_text('"""one"""\nparents = []\n')
    (tmp_path / "__pycache__").write_text("not a folder")  # the cache cannot be written
    assert [s.message for s in scan(tmp_path)] == ["one"]


def test_a_cold_scan_opens_each_file_once_and_its_status_keys_the_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without a header cache each file is opened once, for its content and its status
    together; that status is what the cache keeps, so the next scan opens none."""
    import time

    from dbshift import files
    from dbshift.migrations import scripts as module

    for n in range(3):
        parents = f'["20260101T00000{n - 1}_m"]' if n else "[]"
        (tmp_path / f"20260101T00000{n}_m.py").write_text(f'"""m{n}"""\nparents = {parents}\n')
    time.sleep(2.1)  # older than the racy window of the cache written next
    opened: list[str] = []

    def counted(path: str) -> tuple[bytes, os.stat_result]:
        opened.append(os.path.basename(path))
        return files.read_with_status(path)

    monkeypatch.setattr(module, "read_with_status", counted)
    first = scan(tmp_path)
    assert sorted(opened) == sorted(p.name for p in tmp_path.glob("*.py"))
    opened.clear()
    assert scan(tmp_path) == first and opened == []


def test_read_with_status_gives_the_whole_file_and_its_own_status(tmp_path: Path) -> None:
    from dbshift.files import read_with_status

    for size in (0, 1, 70_000):
        path = tmp_path / f"f{size}"
        path.write_bytes(bytes(range(256)) * (size // 256) + b"x" * (size % 256))
        content, status = read_with_status(str(path))
        on_disk = path.stat()
        assert content == path.read_bytes() and len(content) == size
        assert (status.st_ino, status.st_size, status.st_mtime_ns) == (
            on_disk.st_ino,
            on_disk.st_size,
            on_disk.st_mtime_ns,
        )


SETTINGS = """'''set'''
parents = ["20260101T000000_plain"]  # after plain
transactional = False
lock_timeout = "2s"
statement_timeout = "500ms"
backends = ["sqlite",
    "postgresql"]
"""
PLAIN = (
    '\n\n   """plain one\n\nmore"""\nparents = []\n\ndef upgrade(op):\n    lock_timeout = "9s"\n'
)


def test_header_settings_are_read_where_they_are_and_defaulted_where_not(
    tmp_path: Path,
) -> None:
    """Each setting of a Python header (each looked for only where its keyword occurs)
    and the defaults of a header that names none (the code below it does not count)."""
    (tmp_path / "20260101T000000_plain.py").write_text(PLAIN)
    (tmp_path / "20260101T000001_set.py").write_text(SETTINGS)
    plain, settings = scan(tmp_path)
    assert (plain.message, plain.parents, plain.transactional) == ("plain one", (), True)
    assert (plain.lock_timeout, plain.statement_timeout, plain.backends) == (None, None, None)
    assert (settings.message, settings.parents) == ("set", ("20260101T000000_plain",))
    assert settings.transactional is False
    assert (settings.lock_timeout, settings.statement_timeout) == (2.0, 0.5)
    assert settings.backends == ("sqlite", "postgresql")
