"""`make --safe`: PostgreSQL changes written the way that does not block the application,
applied for real, exact both ways, and clean for the locking rules."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa

import dbshift
from dbshift.api import make_report
from dbshift.errors import DbshiftError
from tests.autogen_support import NAMING, created_schema, schema_of
from tests.conftest import ScratchDatabases

#: the locking rules whose safe alternatives `--safe` writes (docs/lint.md)
SAFE_RULES = {"DS301", "DS302", "DS303", "DS304", "DS305", "DS306", "DS309", "DS314", "DS322"}


def models(
    *extra: sa.Index | sa.Constraint | sa.ForeignKey, name_nullable: bool = True
) -> sa.MetaData:
    metadata = sa.MetaData(naming_convention=NAMING)
    sa.Table("orgs", metadata, sa.Column("id", sa.Integer, primary_key=True))
    sa.Table(
        "users",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("org_id", sa.Integer, *[e for e in extra if isinstance(e, sa.ForeignKey)]),
        sa.Column("email", sa.String(100)),
        sa.Column("name", sa.String(50), nullable=name_nullable),
        sa.Column("score", sa.Integer),
        *[e for e in extra if not isinstance(e, sa.ForeignKey)],
    )
    return metadata


EVOLUTIONS: dict[str, Callable[[], sa.MetaData]] = {
    "index": lambda: models(sa.Index("ix_users_email", "email")),
    "foreign key": lambda: models(sa.ForeignKey("orgs.id")),
    "check": lambda: models(sa.CheckConstraint("score >= 0", name="score_positive")),
    "not null": lambda: models(name_nullable=False),
    "unique": lambda: models(sa.UniqueConstraint("email")),
}


class Chain:
    """A project on a PostgreSQL database with rows in `users`."""

    def __init__(self, url: str, tmp_path: Path, start: sa.MetaData, rows: int = 500) -> None:
        self.url = url
        self.folder = tmp_path / "migrations"
        self.folder.mkdir()
        start_path = dbshift.make(self.config(start), "start")
        assert start_path is not None
        self.start_path = start_path
        dbshift.upgrade(self.config(start), "head")
        self.execute(
            "INSERT INTO orgs (id) VALUES (1), (2)",
            "INSERT INTO users (id, org_id, email, name, score) "
            "SELECT g, 1 + g % 2, 'u' || g || '@x.org', 'n' || g, g "
            f"FROM generate_series(1, {int(rows)}) g",
        )
        self.start_schema = schema_of(url)

    def config(self, metadata: sa.MetaData, **extra: object) -> dbshift.Config:
        return dbshift.Config(url=self.url, migrations=self.folder, models=[metadata], **extra)

    def execute(self, *statements: str) -> None:
        engine = sa.create_engine(self.url, poolclass=sa.NullPool)
        try:
            with engine.begin() as conn:
                for statement in statements:
                    conn.execute(sa.text(statement))
        finally:
            engine.dispose()


@pytest.mark.backends("postgresql")
@pytest.mark.parametrize("kind", EVOLUTIONS)
def test_each_rewrite_is_exact_both_ways_and_lint_clean(
    kind: str, db_url: str, tmp_path: Path, scratch: ScratchDatabases
) -> None:
    chain = Chain(db_url, tmp_path, models())
    target = EVOLUTIONS[kind]()
    config = chain.config(target)
    result = make_report(config, "change", safe=True)
    assert result.paths
    assert not [f for f in result.findings if f.code in SAFE_RULES]
    dbshift.upgrade(config, "head")
    assert schema_of(db_url) == created_schema(target, scratch)
    assert dbshift.make(config, "again") is None
    report = dbshift.lint(config, every=True, dialect="postgresql")
    new = {p.stem for p in result.paths}
    assert not [f for f in report.findings if f.migration in new and f.code in SAFE_RULES]
    dbshift.downgrade(config, chain.start_path.stem)
    assert schema_of(db_url) == chain.start_schema


@pytest.mark.backends("postgresql")
def test_safe_files_say_what_they_do(db_url: str, tmp_path: Path) -> None:
    chain = Chain(db_url, tmp_path, models(sa.Index("ix_users_name", "name")))
    target = models(
        sa.ForeignKey("orgs.id"),
        sa.CheckConstraint("score >= 0", name="score_positive"),
        sa.UniqueConstraint("email"),
        sa.Index("ix_users_score", "score"),
        name_nullable=False,
    )
    paths = make_report(chain.config(target), "tighten users", safe=True).paths
    names = [p.stem.split("_", 1)[1] for p in paths]
    assert names == [
        "tighten_users_drop_concurrently",
        "tighten_users",
        "tighten_users_concurrently",
        "tighten_users_validate",
    ]
    drop, main, build, validate = (p.read_text() for p in paths)
    assert "transactional = False" in drop and "postgresql_concurrently=True" in drop
    assert "transactional = False" not in main
    assert main.count("postgresql_not_valid=True") == 3  # the FK, the check, NOT NULL's
    assert "transactional = False" in build
    assert 'op.drop_invalid_index("ix_users_score")' in build
    assert 'op.drop_invalid_index("uq_users_email")' in build
    assert 'postgresql_using_index="uq_users_email"' in validate
    assert validate.count("op.validate_constraint(") == 3
    dbshift.upgrade(chain.config(target), "head")
    assert dbshift.make(chain.config(target), "again") is None


@pytest.mark.backends("postgresql")
def test_failed_concurrent_build_is_cleaned_up_on_the_next_run(
    db_url: str, tmp_path: Path, scratch: ScratchDatabases
) -> None:
    chain = Chain(db_url, tmp_path, models())
    chain.execute("UPDATE users SET email = 'same@x.org' WHERE id <= 2")
    target = models(sa.Index("ix_users_email", "email", unique=True))
    config = chain.config(target)
    dbshift.make(config, "unique email", safe=True)
    with pytest.raises(DbshiftError):
        dbshift.upgrade(config, "head")
    invalid = "SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE NOT i.indisvalid"
    assert _rows(db_url, invalid) == [("ix_users_email",)]
    chain.execute("UPDATE users SET email = 'u' || id || '@x.org'")
    dbshift.upgrade(config, "head")
    assert _rows(db_url, invalid) == []
    assert schema_of(db_url) == created_schema(target, scratch)


@pytest.mark.backends("postgresql")
def test_writer_is_never_blocked_while_the_safe_chain_runs(db_url: str, tmp_path: Path) -> None:
    """Every migration session waits at most 2 s for a lock (set on the database); the
    writer's worst insert must stay well under that."""
    chain = Chain(db_url, tmp_path, models(), rows=50_000)
    database = sa.make_url(db_url).database
    chain.execute(f"ALTER DATABASE {database} SET lock_timeout = '2s'")
    target = models(
        sa.ForeignKey("orgs.id"),
        sa.CheckConstraint("score >= 0", name="score_positive"),
        sa.UniqueConstraint("email"),
        sa.Index("ix_users_score", "score"),
        name_nullable=False,
    )
    config = chain.config(target, runner_lock_timeout=2)
    dbshift.make(config, "tighten users", safe=True)
    latencies: list[float] = []
    stop = threading.Event()

    def write() -> None:
        engine = sa.create_engine(db_url, poolclass=sa.NullPool)
        try:
            with engine.connect() as conn:
                conn.execute(sa.text("SET lock_timeout = '10s'"))
                conn.commit()
                row = 100_000
                while not stop.is_set():
                    row += 1
                    began = time.monotonic()
                    conn.execute(
                        sa.text(
                            "INSERT INTO users (id, org_id, email, name, score) "
                            "VALUES (:id, 1, :email, 'w', 1)"
                        ),
                        {"id": row, "email": f"w{row}@x.org"},
                    )
                    conn.commit()
                    latencies.append(time.monotonic() - began)
        finally:
            engine.dispose()

    writer = threading.Thread(target=write)
    writer.start()
    try:
        time.sleep(0.3)
        dbshift.upgrade(config, "head")
        time.sleep(0.3)
    finally:
        stop.set()
        writer.join()
    assert len(latencies) > 20
    assert max(latencies) < 1.0, f"worst insert took {max(latencies):.2f}s"
    assert dbshift.make(config, "again") is None


@pytest.mark.backends("sqlite", "mysql")
def test_safe_elsewhere_is_a_note_and_the_same_file(db_url: str, tmp_path: Path) -> None:
    folder = tmp_path / "migrations"
    folder.mkdir()
    start = models()
    config = dbshift.Config(url=db_url, migrations=folder, models=[start])
    dbshift.make(config, "start")
    target = models(sa.Index("ix_users_email", "email"), name_nullable=False)
    config = dbshift.Config(url=db_url, migrations=folder, models=[target])
    plain = make_report(config, "change")
    assert plain.path is not None
    plain_text = plain.path.read_text()
    plain.path.unlink()
    dbshift.rehash(config)
    safe = make_report(config, "change", safe=True)
    assert safe.path is not None and safe.paths == (safe.path,)
    assert safe.path.read_text() == plain_text
    assert any("--safe changes nothing" in note for note in safe.notes)


def _rows(url: str, sql: str) -> list[tuple[object, ...]]:
    engine = sa.create_engine(url, poolclass=sa.NullPool)
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(sa.text(sql))]
    finally:
        engine.dispose()


def test_the_new_operations_render_their_postgresql_sql_offline() -> None:
    from sqlalchemy.dialects import postgresql

    from dbshift.ops import (
        AddCheckConstraint,
        AddForeignKey,
        AddUniqueConstraint,
        CreateIndex,
        CreateTable,
        DropInvalidIndex,
        ValidateConstraint,
    )
    from dbshift.ops.base import inverse
    from dbshift.ops.context import OfflineContext
    from dbshift.schema.snapshot import Check, Column, ForeignKey, Index, Snapshot, Table, Unique

    users = Table("users", columns=(Column("id", sa.Integer()), Column("email", sa.String(9))))
    base = CreateTable(users).apply(Snapshot())
    index = Index("uq_users_email", ("email",), unique=True)
    operations = [
        AddForeignKey("users", ForeignKey("fk_u", ("id",), "orgs", ("id",)), not_valid=True),
        AddCheckConstraint("users", Check("ck_u", "id > 0"), not_valid=True),
        ValidateConstraint("ck_u", "users"),
        DropInvalidIndex("uq_users_email"),
        CreateIndex("users", index, concurrently=True),
        AddUniqueConstraint("users", Unique("uq_users_email", ("email",)), using_index=index.name),
    ]
    ctx = OfflineContext(postgresql.dialect(), base)
    for op in operations:
        ctx.run(op)
    assert ctx.take() == [
        "ALTER TABLE users ADD CONSTRAINT fk_u FOREIGN KEY(id) REFERENCES orgs (id) NOT VALID",
        "ALTER TABLE users ADD CONSTRAINT ck_u CHECK (id > 0) NOT VALID",
        "ALTER TABLE users VALIDATE CONSTRAINT ck_u",
        "CREATE UNIQUE INDEX CONCURRENTLY uq_users_email ON users (email)",
        "ALTER TABLE users ADD CONSTRAINT uq_users_email UNIQUE USING INDEX uq_users_email",
    ]
    after = base
    for op in operations:
        after = op.apply(after)
    table = after.table("users")
    assert table is not None
    assert [u.name for u in table.uniques] == ["uq_users_email"] and not table.indexes
    undone = after
    for op in inverse(operations, base):
        undone = op.apply(undone)
    assert undone == base


@pytest.mark.backends("postgresql")
def test_cli_safe_flag_and_config_key(
    db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.helpers import Project

    project = Project(tmp_path, db_url, capsys)
    (tmp_path / "safe_models.py").write_text(
        "import sqlalchemy as sa\n"
        "start = sa.MetaData()\n"
        'sa.Table("t", start, sa.Column("id", sa.Integer, primary_key=True), sa.Column("x", sa.Integer))\n'
        "indexed = sa.MetaData()\n"
        't = sa.Table("t", indexed, sa.Column("id", sa.Integer, primary_key=True), sa.Column("x", sa.Integer))\n'
        'sa.Index("ix_t_x", t.c.x)\n'
    )
    toml = tmp_path / "dbshift.toml"
    settings = toml.read_text()
    toml.write_text(settings + 'models = ["safe_models:start"]\n')
    project.ok("make", "-m", "start")
    project.ok("upgrade")
    toml.write_text(settings + 'models = ["safe_models:indexed"]\n')
    made = project.ok("make", "-m", "index x", "--safe")
    assert "index_x_concurrently.py" in made.out
    next(project.migrations.glob("*_index_x_concurrently.py")).unlink()
    project.ok("rehash")
    toml.write_text(settings + 'models = ["safe_models:indexed"]\nsafe = true\n')
    made = project.ok("make", "-m", "index x")
    assert "index_x_concurrently.py" in made.out
    project.ok("upgrade")
    assert "No changes" in project.ok("make", "-m", "again").out


def test_a_not_null_check_validated_in_a_later_migration_makes_set_not_null_cheap() -> None:
    from dbshift.linter import Target, lint_operations
    from dbshift.linter.facts import facts_from_operation
    from dbshift.linter.model import SchemaState
    from dbshift.ops import CreateTable, ExecuteSQL
    from dbshift.schema.snapshot import Column, Table

    state = SchemaState()
    for fact in facts_from_operation(
        CreateTable(Table("users", columns=(Column("name", sa.Text()),)))
    ):
        state.apply(fact)
    first = [ExecuteSQL("ALTER TABLE users ADD CONSTRAINT ck CHECK (name IS NOT NULL) NOT VALID")]
    second = [
        ExecuteSQL("ALTER TABLE users VALIDATE CONSTRAINT ck"),
        ExecuteSQL("ALTER TABLE users ALTER COLUMN name SET NOT NULL"),
    ]
    target = Target("postgresql", (15,))
    assert "DS306" in {f.code for f in lint_operations(second, target, before=state.copy())}
    assert not {f.code for f in lint_operations(first, target, before=state)} & SAFE_RULES
    for op in first:
        for fact in facts_from_operation(op):
            state.apply(fact)
    assert not {f.code for f in lint_operations(second, target, before=state)} & SAFE_RULES
