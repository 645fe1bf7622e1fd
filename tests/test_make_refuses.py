"""`make` refuses models that a backend cannot create, and model sets that are surely
a mistake (no tables; dropping every table), before writing anything.

Each refusal is proved against the real server: with the check switched off, the
migration `make` would write fails at upgrade on exactly the backends that refuse it
(or, PostgreSQL's long names, is silently truncated), and succeeds on the others.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import mysql

import dbshift
from dbshift import autogen
from dbshift.autogen.validate import validate_models
from dbshift.dialects import backend_for
from dbshift.errors import ConfigError, UsageError
from dbshift.schema.models import snapshot_from_metadata
from tests.helpers import Project

LONG = "t" * 70


def _parent(md: sa.MetaData, *extra: sa.SchemaItem) -> sa.Table:
    return sa.Table(
        "parent",
        md,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("code", sa.Integer),
        *extra,
    )


def _child(md: sa.MetaData, target: str, name: str = "child", fk: str | None = None) -> sa.Table:
    return sa.Table(
        name,
        md,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("x", sa.Integer, sa.ForeignKey(target, name=fk)),
    )


def _jsonb_column(md: sa.MetaData) -> None:
    from sqlalchemy.dialects import postgresql

    _parent(md, sa.Column("doc", postgresql.JSONB))  # aiida-core's models


def _varchar_without_length(md: sa.MetaData) -> None:
    _parent(md, sa.Column("name", sa.String()))  # prefect's models


def _indexed_varchar_without_length(md: sa.MetaData) -> None:
    """Galaxy's `worker_process.app_type`: the key's size is not known, the type is
    refused."""
    _parent(md, sa.Column("name", sa.String()), sa.Index("ix_name", "name", "code"))


def _deferrable_fk(md: sa.MetaData) -> None:
    _parent(md)
    sa.Table(
        "child",
        md,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "x", sa.Integer, sa.ForeignKey("parent.id", deferrable=True, initially="DEFERRED")
        ),
    )


def _index_without_columns(md: sa.MetaData) -> None:
    _parent(md, sa.Index("ix_nothing"))


def _table_without_columns(md: sa.MetaData) -> None:
    _parent(md)
    sa.Table("hollow", md)


def _fk_to_plain_column(md: sa.MetaData) -> None:
    _parent(md)
    _child(md, "parent.code")


def _fk_to_indexed_column(md: sa.MetaData) -> None:
    _parent(md, sa.Index("ix_parent_code", "code"))
    _child(md, "parent.code")


def _fk_to_missing_table(md: sa.MetaData) -> None:
    _child(md, "missing.id")


def _fk_to_missing_column(md: sa.MetaData) -> None:
    _parent(md)
    _child(md, "parent.nope")


def _index_names_clash_across_tables(md: sa.MetaData) -> None:
    _parent(md, sa.Index("ix_code", "code"))
    sa.Table("other", md, sa.Column("code", sa.Integer), sa.Index("ix_code", "code"))


def _unique_named_as_another_tables_index(md: sa.MetaData) -> None:
    _parent(md, sa.UniqueConstraint("code", name="code_key"))
    sa.Table("other", md, sa.Column("code", sa.Integer), sa.Index("code_key", "code"))


def _index_named_as_a_table(md: sa.MetaData) -> None:
    _parent(md)
    sa.Table("other", md, sa.Column("code", sa.Integer), sa.Index("parent", "code"))


def _checks_of_one_name(md: sa.MetaData) -> None:
    _parent(
        md,
        sa.CheckConstraint("code > 0", name="ck_code"),
        sa.CheckConstraint("code < 100", name="ck_code"),
    )


def _foreign_keys_of_one_name(md: sa.MetaData) -> None:
    _parent(md)
    _child(md, "parent.id", "child_a", fk="fk_parent")
    _child(md, "parent.id", "child_b", fk="fk_parent")


def _check_named_as_a_foreign_key(md: sa.MetaData) -> None:
    _parent(md)
    table = _child(md, "parent.id", fk="same_name")
    table.append_constraint(sa.CheckConstraint("x > 0", name="same_name"))


def _typed_child(md: sa.MetaData, type_: sa.types.TypeEngine[int]) -> None:
    _parent(md)
    sa.Table(
        "child",
        md,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("x", type_, sa.ForeignKey("parent.id")),
    )


def _fk_from_a_bigger_integer(md: sa.MetaData) -> None:
    _typed_child(md, sa.BigInteger())


def _fk_from_an_unsigned_integer(md: sa.MetaData) -> None:
    _typed_child(md, mysql.INTEGER(unsigned=True))


def _fk_from_the_same_integer_spelt_otherwise(md: sa.MetaData) -> None:
    _typed_child(md, mysql.INTEGER(display_width=11))


def _long_table_name(md: sa.MetaData) -> None:
    sa.Table(LONG, md, sa.Column("id", sa.Integer, primary_key=True))


def _long_convention_name(md: sa.MetaData) -> None:
    """SQLAlchemy shortens this name for the backend, and so does the model snapshot."""
    md.naming_convention = {"ix": "ix_%(table_name)s_%(column_0_N_name)s"}
    sa.Table("t" * 40, md, sa.Column("c" * 30, sa.Integer, index=True))


def _long_in_bytes(md: sa.MetaData) -> None:
    """40 characters, 80 bytes: too long for PostgreSQL, not for MariaDB."""
    sa.Table("é" * 40, md, sa.Column("id", sa.Integer, primary_key=True))


def _enum_named_as_a_table(md: sa.MetaData) -> None:
    sa.Table(
        "mood",
        md,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("m", sa.Enum("sad", "ok", name="mood")),
    )


def _wide(md: sa.MetaData, *extra: sa.SchemaItem, **table: Any) -> sa.Table:
    return sa.Table(
        "wide",
        md,
        sa.Column("id", sa.Integer, primary_key=True),
        *[sa.Column(name, sa.String(250)) for name in ("a", "b", "c", "d")],
        *extra,
        **table,
    )


def _long_index(md: sa.MetaData) -> None:
    """Airflow's `ti_state_lkp` and Nova's `migrations` indexes: 4 x 250 utf8mb4
    characters take 4000 bytes of InnoDB's 3072."""
    _wide(md, sa.Index("ix_wide", "a", "b", "c", "d"))


def _long_primary_key(md: sa.MetaData) -> None:
    sa.Table("wide", md, sa.Column("code", sa.String(800), primary_key=True))


def _key_of(md: sa.MetaData, characters: int) -> None:
    sa.Table(
        "wide",
        md,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(characters)),
        sa.Column("n", sa.Integer),
        sa.Index("ix_name_n", "name", "n"),
    )


def _key_of_3072_bytes(md: sa.MetaData) -> None:
    _key_of(md, 767)  # 767 x 4 + an INTEGER's 4


def _key_of_3076_bytes(md: sa.MetaData) -> None:
    _key_of(md, 768)


def _long_key_in_utf8mb3(md: sa.MetaData) -> None:
    """The fix Airflow makes for MariaDB (utf8mb3_bin ids), given per backend: 3000
    bytes on MariaDB, and no collation elsewhere."""
    narrow = sa.String(250).with_variant(
        mysql.VARCHAR(250, collation="utf8mb3_bin"), "mysql", "mariadb"
    )
    sa.Table(
        "wide",
        md,
        sa.Column("id", sa.Integer, primary_key=True),
        *[sa.Column(name, narrow) for name in ("a", "b", "c", "d")],
        sa.Index("ix_wide", "a", "b", "c", "d"),
    )


def _long_key_of_a_latin1_table(md: sa.MetaData) -> None:
    _wide(md, sa.Index("ix_wide", "a", "b", "c", "d"), mysql_charset="latin1")


def _long_key_of_prefixes(md: sa.MetaData) -> None:
    _wide(md, sa.Index("ix_wide", "a", "b", "c", "d", mysql_length={"a": 100, "b": 100}))


def _long_unique(md: sa.MetaData) -> None:
    """MariaDB builds it as a hash of the columns (`USING HASH`); MySQL refuses it."""
    _wide(md, sa.UniqueConstraint("a", "b", "c", "d", name="uq_wide"))


def _long_one_column_index(md: sa.MetaData) -> None:
    """MariaDB cuts it to the 768 characters that fit (a note, not an error)."""
    sa.Table(
        "wide",
        md,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("a", sa.String(1000)),
        sa.Index("ix_a", "a"),
    )


def _collated(md: sa.MetaData, type_: sa.types.TypeEngine[str]) -> None:
    sa.Table("named", md, sa.Column("id", sa.Integer, primary_key=True), sa.Column("c", type_))


def _mariadb_collation(md: sa.MetaData) -> None:
    """Airflow imported as configured for MySQL (`utf8mb3_bin` ids) on another backend."""
    _collated(md, sa.String(20, collation="utf8mb3_bin"))


def _sqlite_collation(md: sa.MetaData) -> None:
    _collated(md, sa.String(20, collation="NOCASE"))


def _postgresql_collation(md: sa.MetaData) -> None:
    _collated(md, sa.String(20, collation="C"))


def _collation_per_backend(md: sa.MetaData) -> None:
    _collated(
        md,
        sa.String(20)
        .with_variant(sa.String(20, collation="utf8mb3_bin"), "mysql", "mariadb")
        .with_variant(sa.String(20, collation="NOCASE"), "sqlite")
        .with_variant(sa.String(20, collation="C"), "postgresql"),
    )


@dataclasses.dataclass(frozen=True)
class Case:
    models: Callable[[sa.MetaData], None]
    #: what the upgrade does on each backend with the check off: "fails", "ok" or
    #: "truncated" (PostgreSQL shortens the name and the schema never matches)
    servers: dict[str, str]
    #: the words the refusal names the culprit with
    fragment: str


def _on(refusing: str, other: str = "ok") -> dict[str, str]:
    return {b: ("fails" if b in refusing.split() else other) for b in BACKENDS}


BACKENDS = ("sqlite", "postgresql", "mysql")

CASES: dict[str, Case] = {
    "a type the backend has not": Case(
        _jsonb_column,
        {"sqlite": "ok", "postgresql": "ok", "mysql": "fails"},
        "table 'parent': column 'doc': MariaDB/MySQL cannot store JSONB(",
    ),
    "a VARCHAR without a length": Case(
        _varchar_without_length,
        _on("mysql"),
        "table 'parent': column 'name': MariaDB/MySQL cannot store String(): VARCHAR requires a length",
    ),
    "an indexed VARCHAR without a length": Case(
        _indexed_varchar_without_length,
        _on("mysql"),
        "table 'parent': column 'name': MariaDB/MySQL cannot store String(): VARCHAR requires a length",
    ),
    "a deferrable foreign key": Case(
        _deferrable_fk, _on("mysql"), "table 'child': foreign key (x) is DEFERRABLE: MariaDB/MySQL"
    ),
    "index without columns": Case(
        _index_without_columns,
        _on("sqlite postgresql mysql"),
        "table 'parent': index 'ix_nothing' has no columns",
    ),
    "table without columns": Case(
        _table_without_columns, _on("sqlite mysql"), "table 'hollow' has no columns"
    ),
    "foreign key to a plain column": Case(
        _fk_to_plain_column,
        _on("postgresql mysql"),
        "table 'child': foreign key (x) references parent (code), which",
    ),
    "foreign key to an indexed column": Case(
        _fk_to_indexed_column,
        _on("postgresql"),
        "references parent (code), which is neither its primary key nor unique",
    ),
    "foreign key to a missing table": Case(
        _fk_to_missing_table,
        _on("postgresql mysql"),
        "references table 'missing', which the models do not define",
    ),
    "foreign key to a missing column": Case(
        _fk_to_missing_column,
        _on("postgresql mysql"),
        "references parent.nope, which does not exist",
    ),
    "foreign key from a bigger integer": Case(
        _fk_from_a_bigger_integer,
        _on("mysql"),
        "column 'x' is BIGINT but parent.id is INTEGER",
    ),
    "foreign key from an unsigned integer": Case(
        _fk_from_an_unsigned_integer,
        _on("mysql"),
        "column 'x' is INTEGER UNSIGNED but parent.id is INTEGER",
    ),
    "foreign key from the same integer, spelt otherwise": Case(
        _fk_from_the_same_integer_spelt_otherwise, _on(""), ""
    ),
    "index names clash across tables": Case(
        _index_names_clash_across_tables,
        _on("postgresql sqlite"),
        "table 'parent': index 'ix_code' has the name of an index of table 'other'",
    ),
    "unique named as another table's index": Case(
        _unique_named_as_another_tables_index,
        _on("postgresql"),
        "'code_key' has the name of",
    ),
    "index named as a table": Case(
        _index_named_as_a_table,
        _on("postgresql sqlite"),
        "table 'other': index 'parent' has the name of a table",
    ),
    "two checks of one name": Case(
        _checks_of_one_name,
        _on("postgresql mysql"),
        "table 'parent': check constraint 'ck_code' has the name of a check constraint",
    ),
    "two foreign keys of one name in a schema": Case(
        _foreign_keys_of_one_name,
        _on("mysql"),
        "foreign key 'fk_parent' has the name of a foreign key of table 'child_a'",
    ),
    "a check named as a foreign key": Case(
        _check_named_as_a_foreign_key,
        _on("postgresql mysql"),
        "'same_name' has the name of",
    ),
    "a table name too long": Case(
        _long_table_name,
        {"sqlite": "ok", "postgresql": "truncated", "mysql": "fails"},
        f"table {LONG!r}: table name {LONG!r} is longer than the",
    ),
    "a naming convention's name too long": Case(
        _long_convention_name,
        _on(""),  # make cuts it as create_all does: nothing to refuse
        "index name 'ix_tttttttttttttttttttttttttttttttttttttttt_ccc",
    ),
    "a name too long in bytes": Case(
        _long_in_bytes,
        {"sqlite": "ok", "postgresql": "truncated", "mysql": "ok"},
        "is longer than the 63 bytes PostgreSQL allows: it truncates it",
    ),
    "an index key too long for InnoDB": Case(
        _long_index,
        _on("mysql"),
        "table 'wide': index 'ix_wide' is a key of 4000 bytes (a 1000, b 1000, c 1000, "
        "d 1000), longer than the 3072 bytes MariaDB/MySQL allows",
    ),
    "a primary key too long for InnoDB": Case(
        _long_primary_key,
        _on("mysql"),
        "table 'wide': primary key (code) is a key of 3200 bytes",
    ),
    "a key of exactly 3072 bytes": Case(_key_of_3072_bytes, _on(""), ""),
    "a key of 3076 bytes": Case(
        _key_of_3076_bytes,
        _on("mysql"),
        "index 'ix_name_n' is a key of 3076 bytes (name 3072, n 4)",
    ),
    "a long key in utf8mb3 on MariaDB only": Case(_long_key_in_utf8mb3, _on(""), ""),
    "a long key of a latin1 table": Case(_long_key_of_a_latin1_table, _on(""), ""),
    "a long key made short by prefixes": Case(_long_key_of_prefixes, _on(""), ""),
    "a long unique key (MariaDB hashes it)": Case(_long_unique, _on(""), ""),
    "a long one-column index (MariaDB cuts it)": Case(_long_one_column_index, _on(""), ""),
    "a MariaDB collation": Case(
        _mariadb_collation,
        _on("sqlite postgresql"),
        "table 'named': column 'c': collation 'utf8mb3_bin' is not one",
    ),
    "SQLite's NOCASE collation": Case(
        _sqlite_collation,
        _on("postgresql mysql"),
        "table 'named': column 'c': collation 'NOCASE' is not one",
    ),
    "PostgreSQL's C collation": Case(
        _postgresql_collation,
        _on("sqlite mysql"),
        "table 'named': column 'c': collation 'C' is not one",
    ),
    "a collation per backend (with_variant)": Case(_collation_per_backend, _on(""), ""),
    "an enum type named as a table": Case(
        _enum_named_as_a_table,
        {"sqlite": "ok", "postgresql": "fails", "mysql": "ok"},
        "enum type 'mood' has the name of a table",
    ),
}


def _models_project(tmp_path: Path, url: str, capsys: pytest.CaptureFixture[str]) -> Project:
    project = Project(tmp_path, url, capsys)
    return project


def _config(project: Project, md: sa.MetaData) -> dbshift.Config:
    return dbshift.Config(url=project.url, migrations=project.migrations, models=[md])


@pytest.mark.parametrize("case", sorted(CASES))
def test_make_refuses_what_the_server_refuses(
    case: str,
    backend: str,
    db_url: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    bad = CASES[case]
    md = sa.MetaData()
    bad.models(md)
    project = _models_project(tmp_path, db_url, capsys)
    config = _config(project, md)
    before = project.fingerprint()
    outcome = bad.servers[backend]
    if outcome != "ok":
        for check in (False, True):
            with pytest.raises(UsageError) as refused:
                dbshift.make(config, message="bad", check=check)
            assert bad.fragment in refused.value.message, refused.value.message
            assert refused.value.exit_code == 2 and refused.value.hint
        with pytest.raises(UsageError):
            dbshift.diff(config, against="migrations")
        models = next(i for i in dbshift.check(config).items if i.name == "models")
        assert models.status == "failed" and bad.fragment in models.detail, models
        assert project.fingerprint() == before
    # the oracle: what the server does with the migration make would otherwise write
    monkeypatch.setattr(autogen, "validate_models", lambda *args, **kwargs: None)
    assert dbshift.make(config, message="unchecked") is not None
    (project.root / "dbshift.toml").write_text(f'url = "{db_url}"\n')
    result = project.cli("upgrade")
    if outcome == "fails":
        assert result.code == 3, result.err + result.out
    else:
        assert result.code == 0, result.err + result.out
        # PostgreSQL created a table of a shorter name than the models'
        assert (set(md.tables) <= project.tables()) == (outcome == "ok")


def test_the_catalogue_covers_each_backend() -> None:
    for backend in BACKENDS:
        assert any(c.servers[backend] == "fails" for c in CASES.values()), backend
        assert any(c.servers[backend] == "ok" for c in CASES.values()), backend


# -- no models, and dropping every table --------------------------------------------------


def _module(tmp_path: Path, text: str) -> str:
    name = f"app_{uuid.uuid4().hex[:8]}"
    (tmp_path / f"{name}.py").write_text(text)
    return name


EMPTY = "import sqlalchemy as sa\n\ndb = sa.MetaData()\n# the models live in another module, never imported here\n"


def test_an_empty_model_target_is_an_error(
    backend: str,
    db_url: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.syspath_prepend(str(tmp_path))
    module = _module(tmp_path, EMPTY)
    project = Project(tmp_path, db_url, capsys)
    with (tmp_path / "dbshift.toml").open("a") as toml:
        toml.write(f'models = ["{module}:db"]\n')
    for existing in (False, True):
        if existing:  # an existing project, where the empty models would drop everything
            project.python("users", 'op.create_table("users", sa.Column("id", sa.Integer))')
            project.ok("upgrade")
        before = project.fingerprint()
        for args in (["make", "-m", "x", "--no-input"], ["make", "--check"], ["check"]):
            result = project.fails(2, *args)
            message = result.err.strip()
            assert message.startswith(f"error: {module}:db has no tables (hint: import the "), (
                message
            )
            assert f"in {module}, or list them in `models`" in message, message
        assert project.fingerprint() == before
    config = dbshift.Config.load(tmp_path / "dbshift.toml")
    with pytest.raises(ConfigError, match=f"{module}:db has no tables"):
        dbshift.diff(config)
    with pytest.raises(ConfigError, match="the models given \\(MetaData\\) have no tables"):
        dbshift.make(config.replace(models=[sa.MetaData()]), message="x")
    path = dbshift.make(config, message="drop all", allow_drop_all=True)
    assert path is not None and 'op.drop_table("users")' in path.read_text()


def test_dropping_every_table_needs_allow_drop_all(
    backend: str,
    db_url: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Models pointing at the wrong `MetaData`: every current table would go."""
    monkeypatch.syspath_prepend(str(tmp_path))
    module = _module(
        tmp_path,
        "import sqlalchemy as sa\n\nmetadata = sa.MetaData()\n"
        'sa.Table("unrelated", metadata, sa.Column("id", sa.Integer, primary_key=True))\n',
    )
    project = Project(tmp_path, db_url, capsys)
    with (tmp_path / "dbshift.toml").open("a") as toml:
        toml.write(f'models = ["{module}:metadata"]\n')
    project.python(
        "two",
        'op.create_table("users", sa.Column("id", sa.Integer, primary_key=True))\n'
        'op.create_table("posts", sa.Column("id", sa.Integer, primary_key=True))',
    )
    project.ok("upgrade")
    before = project.fingerprint()
    for args in (["make", "-m", "x", "--no-input"], ["make", "--check"]):
        message = project.fails(2, *args).err.strip()
        assert message.startswith(
            "error: the models would drop every table of the current schema (2: posts, users)"
        ), message
        assert "--allow-drop-all" in message, message
    report = project.fails(1, "check", "--json").json
    models = next(item for item in report["checks"] if item["name"] == "models")
    assert models["status"] == "failed" and "drop every table" in models["detail"], models
    assert project.fingerprint() == before
    made = project.ok("make", "-m", "replace", "--no-input", "--allow-drop-all")
    assert "drop table" in made.out.lower(), made.out
    project.ok("upgrade")
    assert project.tables() - {"dbshift_history", "dbshift_log", "dbshift_lock"} >= {"unrelated"}
    assert not project.tables() & {"users", "posts"}


def test_a_default_the_backend_cannot_write_is_refused(
    backend: str, db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A project's SQL function with a compilation for one backend only (prefect's
    `GenerateUUID`): on the others `make` names the column instead of crashing."""
    from sqlalchemy.ext.compiler import compiles
    from sqlalchemy.sql.functions import FunctionElement

    class new_id(FunctionElement[str]):
        name = "new_id"
        inherit_cache = True

    @compiles(new_id, "postgresql")
    def _pg(element: new_id, compiler: object, **kw: object) -> str:
        return "gen_random_uuid()"

    md = sa.MetaData()
    _parent(md, sa.Column("uid", sa.String(36), server_default=new_id()))
    project = _models_project(tmp_path, db_url, capsys)
    before = project.fingerprint()
    if backend == "postgresql":
        assert dbshift.make(_config(project, md), message="ok") is not None
        return
    with pytest.raises(UsageError) as refused:
        dbshift.make(_config(project, md), message="bad")
    assert refused.value.message.startswith("parent.uid: SQLAlchemy cannot write it for "), (
        refused.value.message
    )
    assert "new_id" in refused.value.message and "object at 0x" not in refused.value.message
    assert refused.value.exit_code == 2
    assert project.fingerprint() == before


@pytest.mark.parametrize("models", [_long_unique, _long_one_column_index])
def test_mysql_refuses_the_long_keys_mariadb_keeps(models: Callable[[sa.MetaData], None]) -> None:
    """One backend serves both servers: a `mariadb://` dialect (or a live one reaching
    MariaDB) keeps long unique keys and one-column indexes, MySQL 8 refuses them."""
    md = sa.MetaData()
    models(md)
    mariadb = mysql.dialect()
    mariadb.is_mariadb = True
    for dialect, refused in ((mariadb, False), (mysql.dialect(), True)):
        snapshot = snapshot_from_metadata([md], dialect)
        limits = backend_for(dialect).limits_for(dialect)
        if not refused:
            validate_models(snapshot, limits, dialect)
            continue
        with pytest.raises(UsageError, match="bytes MariaDB/MySQL allows"):
            validate_models(snapshot, limits, dialect)
