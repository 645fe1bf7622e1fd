"""Autogenerate reaches its fixed point for what servers rewrite: types stored as another
type (MariaDB's `BLOB(100)` is a TINYBLOB), defaults stored in another spelling
(`false` is 0), index parts read back in another form (FULLTEXT, DESC, prefix lengths)
and names cut to the server's limit.

Each case runs the exactness loop (`Loop.step`: make + upgrade equals `create_all`, and
`make` again finds nothing against the migrations and against the database), then
downgrades to an empty schema."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.dialects import mysql

import dbshift
from dbshift.dialects import backend_for
from dbshift.ops import DropIndex
from dbshift.ops.context import OfflineContext
from dbshift.schema.introspect import introspect
from dbshift.schema.models import snapshot_from_metadata
from dbshift.schema.snapshot import Index
from tests.autogen_support import NAMING, Loop, schema_of
from tests.conftest import SERVER_URLS, ScratchDatabases, require_backend

C = sa.Column
Build = Callable[[sa.MetaData], object]


Item = sa.Column[object] | sa.Index | sa.Constraint


def one_table(items: Callable[[], list[Item]]) -> Build:
    """A table `things` holding `items` (made anew for each metadata)."""

    def build(metadata: sa.MetaData) -> None:
        sa.Table("things", metadata, C("id", sa.Integer, primary_key=True), *items())

    return build


def to_fixed_point(loop: Loop, build: Build) -> sa.MetaData:
    metadata = sa.MetaData(naming_convention=NAMING)
    build(metadata)
    empty = schema_of(loop.url)
    loop.step(metadata)
    assert dbshift.diff(loop.config(metadata), against="migrations") == []
    loop.back(metadata)
    assert schema_of(loop.url) == empty
    return metadata


def _parent_and_child(metadata: sa.MetaData) -> None:
    sa.Table("parents", metadata, C("id", sa.Integer, primary_key=True), C("code", sa.Integer))
    sa.Table(
        "children",
        metadata,
        C("id", sa.Integer, primary_key=True),
        C("parent_id", sa.ForeignKey("parents.id")),  # InnoDB adds an index for it
        C("other_id", sa.ForeignKey("parents.id"), index=True),  # an index of its own
        C("a", sa.Integer),
        C("b", sa.Integer),
        sa.Index("ix_children_b_a", "b", "a"),
        sa.UniqueConstraint("a", "b"),
    )


def _unnamed_foreign_keys(metadata: sa.MetaData) -> None:
    """No naming convention: the server numbers them in the order they are written."""
    plain = sa.MetaData()
    sa.Table("parents", plain, C("id", sa.Integer, primary_key=True))
    sa.Table(
        "children",
        plain,
        C("id", sa.Integer, primary_key=True),
        *(C(f"p{i}", sa.ForeignKey("parents.id")) for i in range(4)),
    )
    for table in plain.tables.values():
        table.to_metadata(metadata)


def _long_names(metadata: sa.MetaData) -> None:
    """Names the naming convention makes longer than 64 (MySQL) or 63 (PostgreSQL)."""
    parent = "parent_table_with_quite_a_long_name"
    sa.Table(parent, metadata, C("id", sa.Integer, primary_key=True))
    sa.Table(
        "child_table_with_quite_a_long_name_too",
        metadata,
        C("id", sa.Integer, primary_key=True),
        C(f"{parent}_id", sa.ForeignKey(f"{parent}.id"), index=True),
        C("a_column_name_long_enough_to_make_the_unique_name_too_long", sa.Integer, unique=True),
    )


PORTABLE: dict[str, Build] = {
    "binary sizes": one_table(
        lambda: [
            C("small", sa.LargeBinary(length=100)),
            C("regular", sa.LargeBinary(length=70000 - 4465)),
            C("medium", sa.LargeBinary(length=70000)),
            C("large", sa.LargeBinary(length=2**24)),
            C("plain", sa.LargeBinary()),
        ]
    ),
    "text kinds": one_table(
        lambda: [C("doc", sa.JSON), C("doc2", sa.JSON, nullable=False), C("body", sa.UnicodeText)]
    ),
    "numbers": one_table(
        lambda: [
            C("single", sa.Float(10)),
            C("double", sa.Float(40)),
            C("real", sa.REAL),
            C("precise", sa.DOUBLE_PRECISION),
            C("dec", sa.Numeric),
            C("dec12", sa.Numeric(12)),
            C("dec12_2", sa.DECIMAL(12, 2)),
            C("dec5", sa.DECIMAL(5)),
            C("big", sa.BigInteger, server_default="-1"),
        ]
    ),
    "char": one_table(lambda: [C("one", sa.CHAR), C("three", sa.CHAR(3))]),
    "false and true defaults": one_table(
        lambda: [
            C("a", sa.Boolean, server_default=sa.false()),
            C("b", sa.Boolean, server_default=sa.sql.expression.false(), nullable=False),
            C("c", sa.Boolean, server_default=sa.text("false")),
            C("d", sa.Boolean, server_default=sa.true()),
            C("e", sa.Boolean, server_default=sa.text("TRUE")),
            C("f", sa.Boolean, server_default="0"),
            C("g", sa.Boolean, server_default="1", nullable=False),
        ]
    ),
    "other defaults": one_table(
        lambda: [
            C("n", sa.Integer, server_default="5"),
            C("quoted", sa.String(20), server_default="it's"),
            C("empty", sa.String(5), server_default=""),
            C("money", sa.Numeric(5, 2), server_default="1.50"),
            C("now", sa.DateTime, server_default=sa.func.now()),
            C("now2", sa.DateTime, server_default=sa.text("CURRENT_TIMESTAMP")),
            C("unset", sa.String(10), server_default=sa.text("NULL")),
        ]
    ),
    "index order and uniques": _parent_and_child,
    "unnamed foreign keys": _unnamed_foreign_keys,
    "long names": _long_names,
    "descending index": one_table(
        lambda: [
            C("a", sa.Integer),
            C("b", sa.Integer),
            sa.Index("ix_things_desc", sa.desc("a"), "b"),
        ]
    ),
}


@pytest.mark.parametrize("case", PORTABLE)
def test_portable_models_reach_the_fixed_point(loop: Loop, case: str) -> None:
    to_fixed_point(loop, PORTABLE[case])


MYSQL: dict[str, Build] = {
    "blob and text types": one_table(
        lambda: [
            C("tb", mysql.TINYBLOB),
            C("mb", mysql.MEDIUMBLOB),
            C("lb", mysql.LONGBLOB),
            C("tt", mysql.TINYTEXT),
            C("mt", mysql.MEDIUMTEXT),
            C("lt", mysql.LONGTEXT),
            C("t63", sa.Text(63)),
            C("t64", sa.Text(64)),
            C("t16384", sa.Text(16384)),
            C("t4m", sa.Text(2**22)),
            C("latin", mysql.TEXT(300, charset="latin1")),
        ]
    ),
    "doubles, bits, years, ints": one_table(
        lambda: [
            C("d", mysql.DOUBLE),
            C("dp", sa.DOUBLE_PRECISION),
            C("d12", mysql.DOUBLE(12, 3)),
            C("f10", mysql.FLOAT(10, 2)),
            C("y", mysql.YEAR),
            C("y4", mysql.YEAR(4)),
            C("bit", mysql.BIT),
            C("bit8", mysql.BIT(8)),
            C("u", mysql.INTEGER(unsigned=True)),
            C("z", mysql.SMALLINT(display_width=4, zerofill=True)),
            C("t", mysql.TINYINT(3)),
            C("m", mysql.MEDIUMINT),
            C("dec", mysql.DECIMAL(8, 3, unsigned=True)),
        ]
    ),
    "national characters": one_table(lambda: [C("nc", sa.NCHAR(4)), C("nv", sa.NVARCHAR(5))]),
    "collations": one_table(
        lambda: [
            C("bin", sa.String(20, collation="utf8mb4_bin")),
            C("general", sa.String(20, collation="utf8mb4_general_ci")),
            C("old_utf8", sa.String(20, collation="utf8_bin")),
            C("binary", mysql.VARCHAR(10, binary=True)),
            C("ascii", mysql.CHAR(3, ascii=True)),
        ]
    ),
    "timestamps": one_table(
        lambda: [
            C("created", mysql.TIMESTAMP, server_default=sa.func.now()),
            C("maybe", mysql.TIMESTAMP(fsp=6), nullable=True),
            C(
                "updated",
                sa.TIMESTAMP,
                server_default=sa.text("CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP"),
            ),
            C("at", mysql.DATETIME(fsp=6)),
            C("enum", mysql.ENUM("m", "n'o")),
            C("set", mysql.SET("p", "q", "r")),
            C("touched", sa.DateTime, server_default=sa.func.now(), server_onupdate=sa.func.now()),
        ]
    ),
    "prefix lengths": one_table(
        lambda: [
            C("a", sa.String(200)),
            C("b", sa.String(200)),
            C("c", sa.Text),
            sa.Index("ix_things_a", "a", mysql_length=10),
            sa.Index("ix_things_a_b", "a", "b", mysql_length={"a": 5, "b": 7}),
            sa.Index("ix_things_c", "c", mysql_length=20),
            sa.Index("ix_things_b_a", "b", "a", mysql_length={"b": 5}),
            sa.Index("ix_things_b_c", "b", "c", mysql_length=8),
        ]
    ),
    # a prefix as long as the column is the whole column: the server keeps no prefix
    # (dagster's `Index(..., mysql_length=32)` on a String(32) column)
    "prefix as long as the column": one_table(
        lambda: [
            C("key", sa.String(32)),
            C("kind", sa.String(20)),
            C("c", sa.Text),
            sa.Index("ix_things_key", "key", mysql_length=32),
            sa.Index("ix_things_kind_key", "kind", "key", mysql_length={"kind": 20, "key": 8}),
            sa.Index("ix_things_c_key", "c", "key", mysql_length=32),
            # a prefix on a column that is no string: the server takes it and keeps none
            # (dagster's runs table, a DATETIME(6) with a prefix of 8)
            C("at", mysql.DATETIME(fsp=6)),
            C("code", sa.BINARY(4)),
            sa.Index("ix_things_kind_at", "kind", "at", mysql_length={"kind": 10, "at": 8}),
            sa.Index("ix_things_code", "code", mysql_length=4),
        ]
    ),
    "index kinds": one_table(
        lambda: [
            C("a", sa.Integer),
            C("s", sa.String(100)),
            C("body", sa.Text),
            sa.Index("ix_things_hash", "a", mysql_using="hash"),
            sa.Index("ix_things_btree", "s", mysql_using="btree"),
            sa.Index("ix_things_text", "s", "body", mysql_prefix="FULLTEXT"),
        ]
    ),
}


@pytest.mark.backends("mysql")
@pytest.mark.parametrize("case", MYSQL)
def test_mysql_models_reach_the_fixed_point(loop: Loop, case: str) -> None:
    to_fixed_point(loop, MYSQL[case])


def _show_create(url: str) -> dict[str, list[str]]:
    """`SHOW CREATE TABLE` of every table, from the `mariadb` client: an outside oracle."""
    parsed = sa.make_url(url)
    client = shutil.which("mariadb") or shutil.which("mysql")
    assert client is not None
    base = [client, "-h", parsed.host or "127.0.0.1", "-P", str(parsed.port or 3306)]
    base += ["-u", parsed.username or "root", "-N", "-B", "-r", parsed.database or ""]
    names = subprocess.run([*base, "-e", "SHOW TABLES"], capture_output=True, text=True)
    found = {}
    for name in names.stdout.split():
        if name.startswith("dbshift_"):
            continue
        shown = subprocess.run(
            [*base, "-e", f"SHOW CREATE TABLE `{name}`"], capture_output=True, text=True
        )
        # the order of keys is the order they were added in, which means nothing
        head, *body, tail = shown.stdout.split("\t", 1)[1].strip().split("\n")
        found[name] = [head, *sorted(line.rstrip(",") for line in body), tail]
    return found


@pytest.mark.backends("mysql")
@pytest.mark.skipif(not (shutil.which("mariadb") or shutil.which("mysql")), reason="no client")
def test_show_create_table_agrees_with_create_all(loop: Loop, scratch: ScratchDatabases) -> None:
    """What the server itself prints after make + upgrade is what it prints after
    `create_all`, line for line, for every MySQL case above."""
    metadata = sa.MetaData(naming_convention=NAMING)
    for i, build in enumerate([*MYSQL.values(), PORTABLE["binary sizes"]]):
        part = sa.MetaData(naming_convention=NAMING)
        build(part)
        for table in part.tables.values():
            copy = table.to_metadata(metadata, name=f"{table.name}_{i}"[:64])
            for index in copy.indexes:
                index.name = f"{index.name}_{i}"
    loop.step(metadata)
    fresh = scratch.create()
    engine = sa.create_engine(fresh, poolclass=sa.NullPool)
    metadata.create_all(engine)
    engine.dispose()
    assert _show_create(loop.url) == _show_create(fresh)


@pytest.mark.backends("mysql")
def test_real_changes_are_still_found(loop: Loop) -> None:
    """What compares loosely still tells apart what the server stores differently."""
    v1 = sa.MetaData(naming_convention=NAMING)
    one_table(
        lambda: [
            C("data", sa.LargeBinary(100)),
            C("note", sa.Text(60)),
            C("code", sa.String(10, collation="utf8mb4_bin")),
            C("flag", sa.Boolean, server_default=sa.false()),
            C("s", sa.String(100)),
            sa.Index("ix_things_s", "s"),
        ]
    )(v1)
    loop.step(v1)
    v2 = sa.MetaData(naming_convention=NAMING)
    one_table(
        lambda: [
            C("data", sa.LargeBinary(1000)),
            C("note", sa.Text(1000)),
            C("code", sa.String(10, collation="utf8mb4_unicode_ci")),
            C("flag", sa.Boolean, server_default=sa.true()),
            C("s", sa.String(100)),
            sa.Index("ix_things_s", "s", mysql_prefix="FULLTEXT"),
        ]
    )(v2)
    found = sorted(str(op) for op in dbshift.diff(loop.config(v2)))
    assert found == [
        'alter column "things"."code": type String(length=10, collation=\'utf8mb4_unicode_ci\')',
        'alter column "things"."data": type LargeBinary(length=1000)',
        'alter column "things"."flag": default true',
        'alter column "things"."note": type Text(length=1000)',
        'create index "ix_things_s" on "things"',
        'drop index "ix_things_s" on "things"',
    ]
    loop.step(v2)
    loop.back(v2)


# -- the server as the oracle of what it stores ---------------------------------------

_BOUNDARIES = [1, 63, 64, 85, 86, 255, 256, 16383, 16384, 21845, 21846, 65535, 65536]
_BOUNDARIES += [4194303, 4194304, 5592405, 5592406, 16777215, 16777216, 2**32 - 1]
_CHARSETS = [None, "latin1", "utf8mb3", "utf8mb4", "ucs2"]


@pytest.fixture(scope="module")
def mysql_url(tmp_path_factory: pytest.TempPathFactory) -> object:
    require_backend("mysql")
    scratch = ScratchDatabases("mysql", tmp_path_factory.mktemp("oracle"))
    yield scratch.create()
    scratch.drop_all()


@pytest.mark.backends("mysql")
@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["blob", "text"]),
            st.one_of(st.sampled_from(_BOUNDARIES), st.integers(1, 2**32 - 1)),
            st.sampled_from(_CHARSETS),
        ),
        min_size=1,
        max_size=25,
    )
)
def test_sizes_compare_as_the_server_stores_them(
    mysql_url: str, columns: list[tuple[str, int, str | None]]
) -> None:
    """Create BLOB(n) and TEXT(n) columns, read back what the server made of them: the
    model's type and the stored one are the same type, and differ from the next size
    up or down; where the character set is stated, the normalizer predicts the stored
    type exactly."""
    metadata = sa.MetaData()
    declared: dict[str, sa.types.TypeEngine[object]] = {}
    for i, (kind, n, charset) in enumerate(columns):
        type_: sa.types.TypeEngine[object]
        if kind == "blob":
            type_ = sa.LargeBinary(n)
        else:
            type_ = mysql.TEXT(n, charset=charset) if charset else sa.Text(n)
        declared[f"c{i}"] = type_
    sa.Table("sizes", metadata, *(C(name, t) for name, t in declared.items()))
    engine = sa.create_engine(mysql_url, poolclass=sa.NullPool)
    try:
        metadata.create_all(engine)
        with engine.connect() as conn:
            stored = introspect(conn).tables["sizes"]
            norm = backend_for(conn.dialect).normalizer(conn.dialect)
    finally:
        metadata.drop_all(engine)
        engine.dispose()
    sizes = ["TINY", "", "MEDIUM", "LONG"]
    for name, type_ in declared.items():
        column = stored.column(name)
        assert column is not None
        assert norm.same_type(column.type, type_), (name, type_, column.type)
        kind, n, charset = columns[int(name[1:])]
        family = "BLOB" if kind == "blob" else "TEXT"
        got = norm.type(column.type).split()[0]
        if kind == "blob" or charset is not None:
            assert norm.type(type_).split()[0] == got
        for size in sizes:
            other = getattr(mysql, f"{size}{family}")()
            if f"{size}{family}" != got:
                assert not norm.same_type(column.type, other), (column.type, other)


def test_unknown_character_set_text_matches_only_sizes_some_set_gives() -> None:
    """`TEXT(n)` with no character set: the stored size depends on the table's set
    (1 to 4 bytes a character), so each of those sizes matches, and no other."""
    dialect = sa.make_url(SERVER_URLS["mysql"]).get_dialect()()
    norm = backend_for(dialect).normalizer(dialect)
    assert norm.same_type(mysql.TINYTEXT(), sa.Text(63))
    assert not norm.same_type(mysql.TEXT(), sa.Text(63))
    assert norm.same_type(mysql.TINYTEXT(), sa.Text(100))  # latin1
    assert norm.same_type(mysql.TEXT(), sa.Text(100))  # utf8mb4
    assert not norm.same_type(mysql.MEDIUMTEXT(), sa.Text(100))
    assert norm.same_type(mysql.MEDIUMTEXT(), sa.Text(20000))
    assert not norm.same_type(mysql.TINYTEXT(), sa.Text(20000))


def _indexed_later(with_index: bool, covering: bool = False) -> sa.MetaData:
    metadata = sa.MetaData(naming_convention=NAMING)
    sa.Table("parents", metadata, C("id", sa.Integer, primary_key=True))
    items: list[Item] = []
    if with_index:
        columns = ("parent_id", "rank") if covering else ("parent_id",)
        items.append(sa.Index("ix_children_explicit", *columns))
    sa.Table(
        "children",
        metadata,
        C("id", sa.Integer, primary_key=True),
        C("parent_id", sa.ForeignKey("parents.id")),
        C("rank", sa.Integer),
        *items,
    )
    return metadata


@pytest.mark.parametrize("covering", [False, True], ids=["same columns", "covering"])
def test_explicit_index_on_a_foreign_key_added_and_dropped(loop: Loop, covering: bool) -> None:
    """InnoDB keeps an index named after a foreign key while no other index serves it,
    drops it when one is created, and refuses to drop the last one that serves it."""
    loop.step(_indexed_later(False))
    loop.step(_indexed_later(True, covering))
    loop.step(_indexed_later(False))
    loop.back(_indexed_later(False))
    loop.back(_indexed_later(True, covering))
    loop.back(_indexed_later(False))


def test_offline_sql_creates_the_key_index_before_dropping_the_last_one() -> None:
    """`make --sql` and `dbshift sql` write the same statements as a live run; with
    another index serving the key, the drop alone."""
    dialect = sa.make_url("mysql+pymysql://").get_dialect()()
    before = snapshot_from_metadata([_indexed_later(True)], dialect)
    ctx = OfflineContext(dialect, before)
    ctx.run(DropIndex("ix_children_explicit", "children"))
    assert ctx.take() == [
        "CREATE INDEX fk_children_parent_id ON children (parent_id)",
        "DROP INDEX ix_children_explicit ON children",
    ]
    children = before.tables["children"]
    served = children.replace(indexes=(*children.indexes, Index("ix_other", ("parent_id",))))
    ctx = OfflineContext(dialect, before.with_table(served))
    ctx.run(DropIndex("ix_children_explicit", "children"))
    assert ctx.take() == ["DROP INDEX ix_children_explicit ON children"]
