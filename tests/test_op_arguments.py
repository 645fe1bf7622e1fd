"""Keyword arguments of `op.*`: a typo is an error naming the argument, the call and the
migration's line, never an ignored keyword and a migration that "succeeds" having done
nothing. Dialect keywords pass only when a SQLAlchemy dialect declares them."""

from __future__ import annotations

import inspect
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from dbshift.errors import MigrationError
from dbshift.ops.recorder import Op, _Batch
from tests.helpers import Project

BASE = """
op.create_table(
    "t",
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("c", sa.Integer),
    sa.Column("d", sa.String(20)),
)
op.create_index("ix_t_c", "t", ["c"])
"""

#: one realistic call per method, each with a misspelt keyword: (method, code, typo,
#: the name the hint suggests)
TYPOS: list[tuple[str, str, str, str | None]] = [
    (
        "create_table",
        'op.create_table("u", sa.Column("id", sa.Integer), coment="x")',
        "coment",
        "comment",
    ),
    ("drop_table", 'op.drop_table("t", shema=None)', "shema", "schema"),
    ("rename_table", 'op.rename_table("t", "u", shema=None)', "shema", "schema"),
    ("add_column", 'op.add_column("t", sa.Column("x", sa.Integer), shema=None)', "shema", "schema"),
    ("drop_column", 'op.drop_column("t", "c", shema=None)', "shema", "schema"),
    ("rename_column", 'op.rename_column("t", "c", "e", shema=None)', "shema", "schema"),
    ("alter_column", 'op.alter_column("t", "c", nulable=False)', "nulable", "nullable"),
    ("create_index", 'op.create_index("ix2", "t", ["d"], uniqe=True)', "uniqe", "unique"),
    ("drop_index", 'op.drop_index("ix_t_c", "t", if_exist=True)', "if_exist", "if_exists"),
    (
        "create_foreign_key",
        'op.create_foreign_key("fk", "t", "t", ["c"], ["id"], ondelet="CASCADE")',
        "ondelet",
        "ondelete",
    ),
    (
        "create_unique_constraint",
        'op.create_unique_constraint("uq", "t", ["c"], postgresql_using_idx="ix_t_c")',
        "postgresql_using_idx",
        "postgresql_using_index",
    ),
    (
        "create_check_constraint",
        'op.create_check_constraint("ck", "t", "c > 0", postgresql_not_vaild=True)',
        "postgresql_not_vaild",
        "postgresql_not_valid",
    ),
    ("validate_constraint", 'op.validate_constraint("ck", "t", shema=None)', "shema", "schema"),
    ("drop_invalid_index", 'op.drop_invalid_index("ix_t_c", shema=None)', "shema", "schema"),
    (
        "create_primary_key",
        'op.create_primary_key("pk", "t", ["id"], shema=None)',
        "shema",
        "schema",
    ),
    ("drop_constraint", 'op.drop_constraint("uq", "t", type="unique")', "type", "type_"),
    ("create_enum", 'op.create_enum("mood", ["a"], shema=None)', "shema", "schema"),
    ("drop_enum", 'op.drop_enum("mood", shema=None)', "shema", "schema"),
    ("add_enum_value", 'op.add_enum_value("mood", "b", befor="a")', "befor", "before"),
    ("set_enum_values", 'op.set_enum_values("mood", ["a"], shema=None)', "shema", "schema"),
    ("create_sequence", 'op.create_sequence("s", incremnt=2)', "incremnt", "increment"),
    ("drop_sequence", 'op.drop_sequence("s", shema=None)', "shema", "schema"),
    (
        "create_table_comment",
        'op.create_table_comment("t", "x", existing_coment=None)',
        "existing_coment",
        "existing_comment",
    ),
    (
        "drop_table_comment",
        'op.drop_table_comment("t", existing_coment=None)',
        "existing_coment",
        "existing_comment",
    ),
    ("execute", 'op.execute("SELECT 1", parms={})', "parms", "params"),
    (
        "bulk_insert",
        'op.bulk_insert(sa.table("t", sa.column("id")), [{"id": 1}], multi_insert=False)',
        "multi_insert",
        "multiinsert",
    ),
    ("run", "op.run(lambda connection: None, atomic=True)", "atomic", None),
    ("get_bind", "op.get_bind(bind=None)", "bind", None),
    ("get_context", "op.get_context(bind=None)", "bind", None),
    ("f", 'op.create_index(op.f("ix_t_c2", nme=1), "t", ["c"])', "nme", None),
    (
        "inline_literal",
        'op.execute(sa.table("t", sa.column("c")).delete().where('
        'sa.column("c") == op.inline_literal(1, typ=sa.Integer)))',
        "typ",
        "type_",
    ),
    (
        "batch_alter_table",
        'with op.batch_alter_table("t", recreat="always") as batch_op:\n    pass',
        "recreat",
        "recreate",
    ),
    # dialect keywords: only those SQLAlchemy's dialects declare for the construct
    (
        "create_index",
        'op.create_index("ix2", "t", ["d"], postgresql_usign="hash")',
        "postgresql_usign",
        "postgresql_using",
    ),
    (
        "create_index",
        'op.create_index("ix2", "t", ["d"], mysql_lenght=5)',
        "mysql_lenght",
        "mysql_length",
    ),
    (
        "create_table",
        'op.create_table("u", sa.Column("id", sa.Integer), sqlite_without_rowid=True)',
        "sqlite_without_rowid",
        "sqlite_with_rowid",
    ),
    (
        "sql",
        'op.execute("UPDATE t SET c = 1 WHERE " + op.sql("1 = 1", postgres="TRUE"))',
        "postgres",
        "postgresql",
    ),
]

#: the same through `batch_alter_table`'s `batch_op`
BATCH_TYPOS: list[tuple[str, str, str, str | None]] = [
    (name, f'with op.batch_alter_table("t") as batch_op:\n    {call}', typo, hint)
    for name, call, typo, hint in [
        (
            "add_column",
            'batch_op.add_column(sa.Column("x", sa.Integer), insert_befor="c")',
            "insert_befor",
            "insert_before",
        ),
        (
            "drop_column",
            'batch_op.drop_column("c", mssql_drop_check=True)',
            "mssql_drop_check",
            None,
        ),
        ("alter_column", 'batch_op.alter_column("c", nulable=False)', "nulable", "nullable"),
        ("create_index", 'batch_op.create_index("ix2", ["d"], uniqe=True)', "uniqe", "unique"),
        (
            "drop_index",
            'batch_op.drop_index("ix_t_c", postgresql_concurently=True)',
            "postgresql_concurently",
            "postgresql_concurrently",
        ),
        (
            "create_foreign_key",
            'batch_op.create_foreign_key("fk", "t", ["c"], ["id"], ondelet="CASCADE")',
            "ondelet",
            "ondelete",
        ),
        (
            "create_unique_constraint",
            'batch_op.create_unique_constraint("uq", ["c"], deferable=True)',
            "deferable",
            None,
        ),
        (
            "create_check_constraint",
            'batch_op.create_check_constraint("ck", "c > 0", postgresql_not_vaild=True)',
            "postgresql_not_vaild",
            "postgresql_not_valid",
        ),
        ("drop_constraint", 'batch_op.drop_constraint("uq", type="unique")', "type", "type_"),
        (
            "create_primary_key",
            'batch_op.create_primary_key("pk", ["id"], shema=None)',
            "shema",
            None,
        ),
        (
            "create_table_comment",
            'batch_op.create_table_comment("x", existing_coment=None)',
            "existing_coment",
            "existing_comment",
        ),
        (
            "drop_table_comment",
            "batch_op.drop_table_comment(existing_coment=None)",
            "existing_coment",
            "existing_comment",
        ),
        ("execute", 'batch_op.execute("SELECT 1", parms={})', "parms", "params"),
        ("f", 'batch_op.create_index(batch_op.f("ix2", nme=1), ["d"])', "nme", None),
        (
            "inline_literal",
            'batch_op.execute(sa.text("SELECT :v").bindparams(v=batch_op.inline_literal(1, typ=None)))',
            "typ",
            "type_",
        ),
        ("get_bind", "batch_op.get_bind(bind=None)", "bind", None),
        ("get_context", "batch_op.get_context(bind=None)", "bind", None),
    ]
]


def _public(cls: type) -> set[str]:
    return {n for n, f in vars(cls).items() if not n.startswith("_") and inspect.isfunction(f)}


def test_every_method_is_in_the_catalogue() -> None:
    assert {name for name, *_ in TYPOS} == _public(Op)
    assert {name for name, *_ in BATCH_TYPOS} == _public(_Batch)


@pytest.mark.parametrize("cls", [Op, _Batch])
def test_every_method_rejects_an_unknown_keyword(cls: type) -> None:
    """Whatever a method's own arguments, the keyword check comes first."""
    for name in sorted(_public(cls)):
        receiver = Op() if cls is Op else _Batch(Op(), "t", None)
        with pytest.raises(MigrationError, match=rf"{name}\(\) got an unknown argument 'zzz'"):
            getattr(receiver, name)(zzz=1)
        assert receiver.operations == [] if cls is Op else receiver._op.operations == []


def test_declared_dialect_keywords_pass() -> None:
    op = Op()
    op.create_index(
        "ix",
        "t",
        ["a"],
        postgresql_using="btree",
        postgresql_where=sa.text("a > 0"),
        mysql_length=5,
        mariadb_prefix="FULLTEXT",
        sqlite_where=sa.text("a > 0"),
    )
    op.create_table("t", sa.Column("a", sa.Integer), mysql_engine="InnoDB", sqlite_strict=True)
    op.create_check_constraint("ck", "t", "a > 0", postgresql_not_valid=True)
    op.create_foreign_key("fk", "t", "u", ["a"], ["id"], postgresql_not_valid=True)
    op.drop_index("ix", "t", postgresql_concurrently=True)
    op.alter_column(
        "t", "a", type_=sa.BigInteger, existing_type=sa.Integer, existing_autoincrement=False
    )
    with op.batch_alter_table("t", recreate="always") as batch_op:
        batch_op.alter_column("a", nullable=False, existing_type=sa.Integer)
    assert len(op.operations) == 7


def test_an_alter_column_that_changes_nothing_is_an_error() -> None:
    op = Op()
    with pytest.raises(MigrationError, match=r"op.alter_column\('t', 'c'\) changes nothing"):
        op.alter_column("t", "c", existing_type=sa.Integer, existing_nullable=True)
    with pytest.raises(MigrationError, match="changes nothing"):
        op.alter_column("t", "c", new_column_name="c")
    assert op.operations == []


def _migration_line(path: Path, typo: str) -> int:
    lines = path.read_text().splitlines()
    return next(n for n, line in enumerate(lines, 1) if f"{typo}=" in line)


@pytest.mark.slow
def test_a_typo_fails_the_upgrade_and_changes_nothing(
    tmp_path: Path, db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    project = Project(tmp_path, db_url, capsys)
    project.python("base", BASE)
    project.ok("upgrade")
    calls = [
        *TYPOS,
        *BATCH_TYPOS,
        ("alter_column", 'op.alter_column("t", "c", existing_type=sa.Integer)', "", None),
    ]
    for name, call, typo, suggestion in calls:
        migration = project.python(
            "typo", f'op.add_column("t", sa.Column("y", sa.Integer))\n{call}'
        )
        path = project.migrations / f"{migration}.py"
        before = project.fingerprint()
        result = project.fails(3, "upgrade")
        message = result.err.strip()
        if typo:
            where = f"{path.name}:{_migration_line(path, typo)}:"
            assert message.startswith(f"error: {where} "), message
            assert f"{name}() got an unknown argument '{typo}'" in message, message
        else:
            assert "op.alter_column('t', 'c') changes nothing" in message, message
        if suggestion:
            assert f"(hint: did you mean '{suggestion}'?)" in message, message
        assert len(message.splitlines()) == 1 and "(hint: " in message, message
        assert project.fingerprint() == before, call
        assert project.columns("t") == ["id", "c", "d"]
        path.unlink()
        project.record_sums()


@pytest.mark.backends("sqlite")
def test_commands_that_load_migrations_report_the_typo(
    tmp_path: Path, db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """`make` replays the migrations, `lint` and `sql` load them: each names the typo."""
    models = tmp_path / "typo_models.py"
    models.write_text(
        "import sqlalchemy as sa\nmetadata = sa.MetaData()\n"
        'sa.Table("t", metadata, sa.Column("id", sa.Integer, primary_key=True))\n'
    )
    project = Project(tmp_path, db_url, capsys)
    with (tmp_path / "dbshift.toml").open("a") as toml:
        toml.write('models = ["typo_models:metadata"]\n')
    project.python("base", BASE)
    migration = project.python("typo", 'op.alter_column("t", "c", nulable=False)')
    line = _migration_line(project.migrations / f"{migration}.py", "nulable")
    before = project.fingerprint()
    for args in (
        ["make", "-m", "x", "--no-input"],
        ["make", "--check"],
        ["lint", "--all"],
        ["sql"],
    ):
        result = project.fails(3, *args)
        assert f"{migration}.py:{line}: op.alter_column() got an unknown argument 'nulable'" in (
            result.err
        ), (args, result.err)
        assert project.fingerprint() == before


CHECK_IMPORTS = """
import sys
import sqlalchemy as sa
from dbshift.ops.recorder import Op

op = Op("sqlite")
op.create_table("t", sa.Column("id", sa.Integer, primary_key=True))
op.create_index("ix", "t", ["id"], unique=True)
print(sorted(m for m in sys.modules if m.startswith("sqlalchemy.dialects.")))
op.create_index("ix2", "t", ["id"], postgresql_using="btree")
print(sorted(m for m in sys.modules if m.startswith("sqlalchemy.dialects.")))
"""


def test_other_dialects_are_read_only_for_a_dialect_keyword() -> None:
    """Recording calls without dialect keywords imports no SQLAlchemy dialect (each
    costs start-up time); the first dialect keyword reads them all, to check it."""
    done = subprocess.run(
        [sys.executable, "-c", CHECK_IMPORTS], capture_output=True, text=True, check=True
    )
    before, after = (eval(line) for line in done.stdout.splitlines())
    assert not any(
        m.startswith(("sqlalchemy.dialects.postgresql", "sqlalchemy.dialects.mysql"))
        for m in before
    )
    assert {"sqlalchemy.dialects.postgresql", "sqlalchemy.dialects.mysql"} <= set(after)
