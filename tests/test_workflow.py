"""The everyday workflow through the CLI, on SQLite, PostgreSQL and MariaDB."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import Project

USERS = """
op.create_table(
    "users",
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(100), nullable=False),
)
op.create_index("ix_users_name", "users", ["name"])
"""


def test_new_upgrade_status_downgrade(project: Project) -> None:
    created = Path(project.ok("new", "-m", "create users").out.split()[-1])
    assert created.parent == project.migrations and created.suffix == ".py"
    text = created.read_text().replace(
        "def upgrade(op):\n    pass",
        "def upgrade(op):\n" + "".join(f"    {line}\n" for line in USERS.strip().splitlines()),
    )
    created.write_text(
        text.replace(
            "def downgrade(op):\n    pass", 'def downgrade(op):\n    op.drop_table("users")'
        )
    )

    status = project.fails(1, "status", "--check", "--json").json
    assert status["pending"] == [created.stem] and status["applied"] == []

    project.ok("upgrade")
    assert "users" in project.tables()
    status = project.ok("status", "--check", "--json").json
    assert status["current"] == [created.stem] == status["heads"]
    assert status["pending"] == []
    (row,) = status["applied"]
    assert row["id"] == created.stem and len(row["checksum"]) == 64 and row["applied_at"]

    project.ok("downgrade", "-1")
    assert "users" not in project.tables()
    assert project.ok("status", "--json").json["pending"] == [created.stem]


def test_history_rows_record_who_when_how_long(project: Project) -> None:
    first = project.python("users", USERS)
    project.ok("upgrade")
    ((migration_id, checksum, state, by, version, duration),) = project.query(
        "SELECT id, checksum, state, applied_by, dbshift_version, duration_ms FROM dbshift_history"
    )
    assert (migration_id, state, version) == (first, "applied", "0.1.0")
    assert "@" in by and duration >= 0 and len(checksum) == 64
    project.ok("downgrade", "base")
    events = project.query("SELECT event, migration_id FROM dbshift_log ORDER BY seq")
    assert events == [("upgrade", first), ("downgrade", first)]


def test_derived_downgrade_restores_dropped_column(project: Project) -> None:
    project.python("users", USERS)
    project.python(
        "add email", 'op.add_column("users", sa.Column("email", sa.String(200), nullable=True))'
    )
    project.python(
        "drop name", 'op.drop_index("ix_users_name", "users")\nop.drop_column("users", "name")'
    )
    project.ok("upgrade")
    assert project.columns("users") == ["id", "email"]
    project.ok("downgrade", "-1")
    assert sorted(project.columns("users")) == ["email", "id", "name"]
    project.ok("downgrade", "-1")
    assert sorted(project.columns("users")) == ["id", "name"]
    project.ok("downgrade", "base")
    assert "users" not in project.tables()
    project.ok("upgrade")
    assert project.columns("users") == ["id", "email"]


def test_irreversible_downgrade_changes_nothing(project: Project) -> None:
    project.python("users", USERS)
    project.python("seed", "op.execute(\"INSERT INTO users (id, name) VALUES (1, 'a')\")")
    project.ok("upgrade")
    before = project.fingerprint()
    result = project.fails(3, "downgrade", "base")
    assert "seed" in result.err and "hint:" in result.err
    assert project.fingerprint() == before


def test_sql_migrations_up_and_down(project: Project, backend: str) -> None:
    project.sql(
        "things",
        "CREATE TABLE things (id INTEGER PRIMARY KEY, note VARCHAR(50) DEFAULT 'a;b');\n"
        "INSERT INTO things (id) VALUES (1); -- a comment; with a semicolon\n",
        "DROP TABLE things;",
    )
    if backend == "postgresql":
        project.sql(
            "function",
            "CREATE FUNCTION add_one(i integer) RETURNS integer AS $$\n"
            "BEGIN\n  RETURN i + 1;\nEND;\n$$ LANGUAGE plpgsql;",
            "DROP FUNCTION add_one(integer);",
        )
    project.ok("upgrade")
    assert project.query("SELECT id, note FROM things") == [(1, "a;b")]
    project.ok("downgrade", "base")
    assert "things" not in project.tables()


def test_failed_migration_is_rolled_back_and_named(project: Project, backend: str) -> None:
    good = project.python("users", USERS)
    bad = project.sql(
        "broken", "CREATE TABLE extra (id INTEGER);\nCREATE TABLE users (id INTEGER);"
    )
    result = project.fails(3, "upgrade")
    assert bad in result.err and "CREATE TABLE users" in result.err
    assert project.applied() == [good]
    status = project.cli("status", "--json").json
    if backend == "mysql":
        # MariaDB committed the first statement: status says so honestly.
        assert "extra" in project.tables()
        (partial,) = status["partial"]
        assert partial["id"] == bad and partial["statements_done"] == 1
        again = project.fails(3, "upgrade")  # resumes at the failing statement
        assert "CREATE TABLE users" in again.err and "resume" in again.err
        project.ok("repair", "--rolled-back", bad)
    else:
        assert "extra" not in project.tables()
        assert status["partial"] == [] and status["pending"] == [bad]


def test_edited_or_deleted_applied_migration_stops_everything(project: Project) -> None:
    first = project.python("users", USERS)
    project.ok("upgrade")
    project.python("more", 'op.add_column("users", sa.Column("x", sa.Integer))')
    path = project.migrations / f"{first}.py"
    path.write_text(path.read_text() + "\n# edited\n")
    before = project.fingerprint()
    result = project.fails(4, "upgrade")
    assert f"{first}.py changed since dbshift.sum recorded it" in result.err
    assert project.fingerprint() == before
    # Accepting the edit takes two deliberate steps: the files, then the database.
    project.ok("rehash")
    result = project.fails(4, "upgrade")
    assert f"{first}.py was edited after it was applied" in result.err
    assert project.fails(4, "status").out.count("INTEGRITY") == 1

    assert project.ok("repair", "--json").json["changes"] == [
        {"id": first, "action": "accepted new checksum"}
    ]
    project.ok("upgrade")
    assert "x" in project.columns("users")

    # Line endings alone are not an edit.
    path.write_bytes(path.read_bytes().replace(b"\n", b"\r\n"))
    project.ok("upgrade")

    leaf = sorted(project.migrations.glob("*_more.py"))[0]
    leaf.unlink()
    result = project.fails(4, "upgrade")
    assert f"applied migration {leaf.stem} has no file" in result.err
    path.unlink()
    assert project.fails(4, "status").out.count("has no file in the migrations folder") == 2


def test_branches_heads_and_merge(project: Project) -> None:
    root = project.python(
        "root", 'op.create_table("a", sa.Column("id", sa.Integer, primary_key=True))'
    )
    left = project.python(
        "left",
        'op.create_table("b", sa.Column("id", sa.Integer, primary_key=True))',
        parents=[root],
    )
    right = project.python(
        "right",
        'op.create_table("c", sa.Column("id", sa.Integer, primary_key=True))',
        parents=[root],
    )
    assert project.ok("heads", "--json").json == {"heads": [left, right]}
    result = project.fails(2, "upgrade")
    assert left in result.err and right in result.err
    project.ok("upgrade", left)
    assert project.applied() == [root, left]
    project.ok("upgrade", "heads")
    assert project.applied() == [root, left, right]
    merged = Path(project.ok("merge", "-m", "join").out.split()[-1])
    assert project.ok("heads", "--json").json == {"heads": [merged.stem]}
    project.ok("upgrade")
    history = project.ok("history", "--json").json["migrations"]
    assert [e["id"] for e in history] == [root, left, right, merged.stem]
    assert all(e["applied"] for e in history)
    assert history[-1]["parents"] == [left, right] and history[-1]["head"]
    project.ok("downgrade", left)
    assert project.applied() == [root, left]


def test_targets_prefixes_and_relative_steps(project: Project) -> None:
    ids = [
        project.python(
            f"t{n}", f'op.create_table("t{n}", sa.Column("id", sa.Integer, primary_key=True))'
        )
        for n in range(4)
    ]
    project.ok("upgrade", "+2")
    assert project.applied() == ids[:2]
    project.ok("upgrade", ids[2][:15])  # a unique prefix
    assert project.applied() == ids[:3]
    project.ok("downgrade", "-2")
    assert project.applied() == ids[:1]
    project.ok("upgrade", f"{ids[0]}+2")
    assert project.applied() == ids[:3]
    assert project.fails(2, "upgrade", "20260101T").err.startswith("error: ambiguous")
    assert "unknown" in project.fails(2, "upgrade", "nope").err
    assert "not applied" in project.fails(2, "downgrade", ids[3]).err


def test_dry_run_changes_nothing(project: Project) -> None:
    first = project.python("users", USERS)
    before = project.fingerprint()
    plan = project.ok("upgrade", "--dry-run", "--json").json
    assert [s["id"] for s in plan["plan"]] == [first] and plan["dry_run"] and plan["results"] == []
    assert "would apply" in project.ok("upgrade", "--dry-run").out
    assert project.fingerprint() == before


def test_stamp_records_without_running(project: Project) -> None:
    first = project.python("users", USERS)
    second = project.python("more", 'op.add_column("users", sa.Column("x", sa.Integer))')
    project.ok("stamp", first)
    assert project.applied() == [first] and "users" not in project.tables()
    project.ok("stamp", "heads")
    assert project.applied() == [first, second]
    project.ok("stamp", "base")
    assert project.applied() == []
    assert [e for (e,) in project.query("SELECT event FROM dbshift_log")] == ["stamp"] * 4


def test_show(project: Project) -> None:
    first = project.python("users", USERS)
    info = project.ok("show", first[:16], "--json").json
    assert info["id"] == first and info["upgrade"][0].startswith("create table")
    assert info["downgrade"] is None and info["applied"] is None
    assert "derived from upgrade" in project.ok("show", first).out


@pytest.mark.backends("postgresql", "sqlite")
def test_single_transaction_rolls_back_the_whole_plan(project: Project) -> None:
    project.python("users", USERS)
    project.python("more", 'op.add_column("users", sa.Column("x", sa.Integer))')
    project.sql("broken", "SELECT * FROM no_such_table;")
    project.fails(3, "upgrade", "--single-transaction")
    assert project.applied() == [] and "users" not in project.tables()
    project.fails(3, "upgrade")
    assert len(project.applied()) == 2


@pytest.mark.backends("mysql")
def test_single_transaction_refused_where_ddl_commits(project: Project) -> None:
    project.python("users", USERS)
    assert "commits DDL implicitly" in project.fails(2, "upgrade", "--single-transaction").err
    assert project.applied() == []


@pytest.mark.backends("postgresql")
def test_non_transactional_migration(project: Project) -> None:
    project.python("users", USERS)
    project.python(
        "concurrent index",
        'op.create_index("ix_users_id_name", "users", ["id", "name"],\n'
        "                postgresql_concurrently=True)",
        header="transactional = False\n",
    )
    project.ok("upgrade")
    assert ("ix_users_id_name",) in project.query(
        "SELECT indexname FROM pg_indexes WHERE tablename = 'users'"
    )


def test_data_migration_with_op_run(project: Project) -> None:
    project.python("users", USERS)
    project.python(
        "fill",
        "def fill(conn):\n"
        "    conn.execute(sa.text(\n"
        "        \"INSERT INTO users (id, name) VALUES (1, 'ada'), (2, 'bob')\"))\n"
        "op.run(fill)",
        downgrade='op.execute("DELETE FROM users")',
    )
    project.ok("upgrade")
    assert project.query("SELECT name FROM users ORDER BY id") == [("ada",), ("bob",)]
    project.ok("downgrade", "-1")
    assert project.query("SELECT count(*) FROM users") == [(0,)]


def test_bulk_insert(project: Project) -> None:
    project.python(
        "seed",
        'users = op.create_table("users", sa.Column("id", sa.Integer, primary_key=True), '
        'sa.Column("name", sa.String(50)))\n'
        'op.bulk_insert(sa.table("users", sa.column("id"), sa.column("name")), '
        '[{"id": 1, "name": "x\'; DROP TABLE users; --"}, {"id": 2, "name": "b"}])',
    )
    project.ok("upgrade")
    assert project.query("SELECT name FROM users ORDER BY id") == [
        ("x'; DROP TABLE users; --",),
        ("b",),
    ]


@pytest.mark.backends("sqlite")
def test_init_writes_a_working_project(
    tmp_path: Path, db_url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    project = Project(tmp_path / "unused", db_url, capsys)
    fresh = tmp_path / "fresh"
    project.root = tmp_path
    assert project.ok("init", str(fresh)).out.strip() == f"created {fresh / 'dbshift.toml'}"
    assert (fresh / "migrations").is_dir()
    assert 'url = "${DATABASE_URL:-sqlite:///app.db}"' in (fresh / "dbshift.toml").read_text()
    project.fails(2, "init", str(fresh))  # never overwrites a configuration
    monkeypatch.setenv("DATABASE_URL", db_url)
    project.root = fresh
    path = Path(project.ok("new", "-m", "first", "--sql").out.split()[-1])
    assert path.suffix == ".sql" and path.parent == fresh / "migrations"
    project.ok("upgrade")
    assert project.ok("status", "--json").json["current"] == [path.stem]


@pytest.mark.backends("postgresql")
def test_bookkeeping_tables_in_their_own_schema(project: Project) -> None:
    project.python("users", USERS)
    with project.engine().begin() as conn:
        conn.exec_driver_sql("CREATE SCHEMA ops")
    project.ok("--schema", "ops", "upgrade")
    located = project.query(
        "SELECT table_schema, table_name FROM information_schema.tables "
        "WHERE table_name LIKE 'dbshift_%' OR table_name = 'users' ORDER BY 2"
    )
    assert located == [
        ("ops", "dbshift_history"),
        ("ops", "dbshift_lock"),
        ("ops", "dbshift_log"),
        ("public", "users"),
    ]
    assert project.ok("--schema", "ops", "status", "--json").json["pending"] == []
    assert (
        len(project.ok("status", "--json").json["pending"]) == 1
    )  # another prefix/schema, another history


@pytest.mark.backends("sqlite")
def test_reading_commands_never_import_migrations(project: Project, tmp_path: Path) -> None:
    marker = tmp_path / "imported"
    first = project.python("users", USERS)
    (project.migrations / "20260101T000009_spy.py").write_text(
        f'"""spy"""\n\nparents = ["{first}"]\n\n'
        f"open({str(marker)!r}, 'w').close()  # runs when imported\n\n\n"
        "def upgrade(op):\n    pass\n"
    )
    project.ok("upgrade", "+1")
    for command in (
        ["status"],
        ["history"],
        ["heads"],
        ["upgrade", "--dry-run"],
        ["status", "--json"],
    ):
        project.ok(*command)
        assert not marker.exists(), f"`dbshift {' '.join(command)}` imported a migration"
    project.ok("upgrade")
    assert marker.exists()  # running it does import it, of course
