"""PostgreSQL index properties read back as the models state them (issue 10: aiida-core's
`postgresql_ops={"label": "varchar_pattern_ops"}` indexes were dropped and re-created by
every `make` against the database).

Every property PostgreSQL stores and an `sa.Index` can state: operator classes (by
column key and by expression label), access method, INCLUDE columns, storage parameters,
tablespace, NULLS NOT DISTINCT, predicate, order, collation. make + upgrade equals
`create_all` and `make` finds nothing afterwards, on every backend (SQLite and MariaDB
ignore PostgreSQL's keywords); on PostgreSQL a change of any one property is exactly one
drop and one create of that index, and `pg_indexes.indexdef` (the server's own text)
says the migrations built what `create_all` builds.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

import dbshift
from dbshift.dialects.postgresql.opclasses import DEFAULT_OPCLASSES
from dbshift.schema.introspect import introspect
from tests.autogen_support import NAMING, Loop, schema_of
from tests.conftest import ScratchDatabases, with_driver
from tests.helpers import connected

C = sa.Column
#: each index's keywords by name, changed one at a time by the tests below
Kwargs = dict[str, dict[str, Any]]

PORTABLE: Kwargs = {
    # aiida-core's form: the default method named, a pattern operator class
    "ix_pat": {"postgresql_using": "btree", "postgresql_ops": {"label": "varchar_pattern_ops"}},
    # keyed by the column's key, not its name
    "ix_key": {"postgresql_ops": {"code_key": "text_pattern_ops"}},
    "ix_hash": {"postgresql_using": "hash"},
    "ix_cover": {
        "postgresql_include": ["label"],
        "postgresql_with": {"fillfactor": 70},
        "postgresql_tablespace": "pg_default",
    },
    "ix_dedup": {"postgresql_with": {"deduplicate_items": False}},
    "ix_brin": {"postgresql_using": "brin", "postgresql_with": {"pages_per_range": 32}},
    "ix_where": {"postgresql_where": sa.text("n > 0")},
    "ix_nnd": {"unique": True, "postgresql_nulls_not_distinct": True},
    "ix_conc": {},
}

#: what each portable index is on
_ON = {
    "ix_pat": ("label",),
    "ix_key": ("code_key",),
    "ix_hash": ("n",),
    "ix_cover": ("n",),
    "ix_dedup": ("code_key",),
    "ix_brin": ("m",),
    "ix_where": ("label", "n"),
    "ix_nnd": ("m", "code_key"),
    "ix_conc": ("m", "n"),
}


def portable(metadata: sa.MetaData, changed: Kwargs | None = None) -> sa.Table:
    """A table every backend can create, with PostgreSQL's index keywords on it."""
    table = sa.Table(
        "things",
        metadata,
        C("id", sa.Integer, primary_key=True),
        C("label", sa.String(40)),
        C("code", sa.String(20), key="code_key"),
        C("n", sa.Integer),
        C("m", sa.Integer),
    )
    for name, kwargs in PORTABLE.items():
        sa.Index(name, *[table.c[c] for c in _ON[name]], **(changed or {}).get(name, kwargs))
    sa.Index("ix_desc", table.c.n.desc(), table.c.label)
    return table


def pg_only(metadata: sa.MetaData, changed: Kwargs | None = None) -> None:
    """Expressions, collations, NULLS order and the other access methods."""
    table = sa.Table(
        "docs",
        metadata,
        C("id", sa.Integer, primary_key=True),
        C("label", sa.String(40)),
        C("body", sa.Text),
        C("doc", postgresql.JSONB),
        C("span", postgresql.INT4RANGE),
        C("n", sa.Integer),
    )
    lower = sa.func.lower(table.c.label)
    entries: dict[str, tuple[Callable[[], list[Any]], dict[str, Any]]] = {
        "ix_lower": (
            lambda: [lower.label("lower_label"), table.c.n],
            {"postgresql_ops": {"lower_label": "text_pattern_ops", "n": "int4_ops"}},
        ),
        "ix_gin": (
            lambda: [table.c.doc],
            {
                "postgresql_using": "gin",
                "postgresql_ops": {"doc": "jsonb_path_ops"},
                "postgresql_with": {"fastupdate": "off"},
            },
        ),
        "ix_gist": (lambda: [table.c.span], {"postgresql_using": "gist"}),
        "ix_spgist": (lambda: [table.c.body], {"postgresql_using": "spgist"}),
        "ix_coll": (lambda: [table.c.label.collate("C"), table.c.n], {}),
        "ix_coll_desc": (lambda: [table.c.body.collate("C").desc()], {}),
        "ix_coll_expr": (lambda: [sa.func.lower(table.c.body).collate("POSIX")], {}),
        "ix_nulls": (
            lambda: [table.c.n.asc().nulls_first(), table.c.label.desc().nulls_last()],
            {},
        ),
    }
    for name, (parts, kwargs) in entries.items():
        sa.Index(name, *parts(), **(changed or {}).get(name, kwargs))


def models(backend: str, changed: Kwargs | None = None) -> sa.MetaData:
    metadata = sa.MetaData(naming_convention=NAMING)
    portable(metadata, changed)
    if backend == "postgresql":
        pg_only(metadata, changed)
    return metadata


def indexdefs(url: str) -> dict[str, str]:
    """The server's own text of every index (the outside oracle)."""
    return connected(
        url,
        lambda conn: dict(
            conn.execute(  # type: ignore[arg-type]
                sa.text(
                    "SELECT indexname, indexdef FROM pg_indexes "
                    "WHERE schemaname = 'public' AND tablename NOT LIKE 'dbshift%'"
                )
            ).all()
        ),
    )


def test_index_options_reach_the_fixed_point(
    loop: Loop, backend: str, scratch: ScratchDatabases
) -> None:
    metadata = models(backend)
    empty = schema_of(loop.url)
    path = loop.step(metadata)
    assert path is not None
    assert dbshift.diff(loop.config(metadata), against="migrations") == []
    assert "postgresql_ops={'label': 'varchar_pattern_ops'}" in path.read_text()
    # CONCURRENTLY is how a statement runs (create_all cannot run it in a transaction),
    # not part of the index: a model asking for it matches the index built without
    concurrently = models(backend, {"ix_conc": {"postgresql_concurrently": True}})
    assert dbshift.diff(loop.config(concurrently)) == []
    assert dbshift.make(loop.config(concurrently), message="same") is None
    # naming a default operator class is naming none: both build the same index
    default: Kwargs = {"ix_hash": {"postgresql_using": "hash", "postgresql_ops": {"n": "int4_ops"}}}
    if backend == "postgresql":
        default["ix_lower"] = {"postgresql_ops": {"lower_label": "pg_catalog.text_pattern_ops"}}
    assert dbshift.diff(loop.config(models(backend, default))) == []
    if backend == "postgresql":
        made = indexdefs(loop.url)
        other = scratch.create()
        engine = sa.create_engine(other, poolclass=sa.NullPool)
        metadata.create_all(engine)
        engine.dispose()
        assert made == indexdefs(other)
        assert "(label varchar_pattern_ops)" in made["ix_pat"]
        assert "(code text_pattern_ops)" in made["ix_key"]
        assert "lower((label)::text) text_pattern_ops, n)" in made["ix_lower"]
        assert "USING gin (doc jsonb_path_ops) WITH (fastupdate=off)" in made["ix_gin"]
        assert "INCLUDE (label) WITH (fillfactor='70')" in made["ix_cover"]
        assert 'label COLLATE "C", n' in made["ix_coll"]
        assert 'body COLLATE "C" DESC' in made["ix_coll_desc"]
        assert 'lower(body) COLLATE "POSIX"' in made["ix_coll_expr"]
        assert "NULLS NOT DISTINCT" in made["ix_nnd"]
    loop.back(metadata)
    assert schema_of(loop.url) == empty


#: one property of one index changed, on PostgreSQL
CHANGES: list[tuple[str, dict[str, Any]]] = [
    ("ix_pat", {"postgresql_ops": {"label": "text_pattern_ops"}}),
    ("ix_pat", {"postgresql_using": "btree"}),
    ("ix_key", {}),
    ("ix_hash", {"postgresql_using": "btree"}),
    ("ix_cover", {**PORTABLE["ix_cover"], "postgresql_include": ["label", "m"]}),
    ("ix_cover", {**PORTABLE["ix_cover"], "postgresql_with": {"fillfactor": 80}}),
    ("ix_dedup", {"postgresql_with": {"deduplicate_items": True}}),
    ("ix_brin", {"postgresql_using": "brin", "postgresql_with": {"pages_per_range": 16}}),
    ("ix_where", {"postgresql_where": sa.text("n > 1")}),
    ("ix_nnd", {"unique": True}),
    ("ix_lower", {"postgresql_ops": {"n": "int4_ops"}}),
    ("ix_lower", {"postgresql_ops": {"lower_label": "varchar_pattern_ops", "n": "int4_ops"}}),
    ("ix_gin", {"postgresql_using": "gin"}),
    ("ix_gin", {"postgresql_using": "gin", "postgresql_ops": {"doc": "jsonb_path_ops"}}),
    ("ix_spgist", {"postgresql_using": "spgist", "postgresql_ops": {"body": "text_pattern_ops"}}),
    ("ix_gist", {"postgresql_using": "spgist"}),
]


@pytest.mark.backends("postgresql")
def test_a_change_of_each_property_is_one_drop_and_create(loop: Loop, backend: str) -> None:
    base = models(backend)
    loop.step(base)
    for name, kwargs in CHANGES:
        changed = models(backend, {name: kwargs})
        table = next(t.name for t in changed.tables.values() if name in {i.name for i in t.indexes})
        unique = "unique " if kwargs.get("unique") else ""
        found = sorted(str(op) for op in dbshift.diff(loop.config(changed)))
        assert found == [
            f'create {unique}index "{name}" on "{table}"',
            f'drop index "{name}" on "{table}"',
        ]


@pytest.mark.backends("postgresql")
def test_a_change_of_collation_or_order_is_found_and_spellings_are_not(
    loop: Loop, backend: str
) -> None:
    loop.step(models(backend))
    changed = sa.MetaData(naming_convention=NAMING)
    portable(changed)
    table = sa.Table(
        "docs",
        changed,
        C("id", sa.Integer, primary_key=True),
        C("label", sa.String(40)),
        C("body", sa.Text),
        C("doc", postgresql.JSONB),
        C("span", postgresql.INT4RANGE),
        C("n", sa.Integer),
    )
    lower = sa.func.lower(table.c.label).label("lower_label")
    sa.Index("ix_lower", lower, table.c.n, postgresql_ops={"lower_label": "text_pattern_ops"})
    sa.Index(
        "ix_gin",
        table.c.doc,
        postgresql_using="gin",
        postgresql_ops={"doc": "jsonb_path_ops"},
        postgresql_with={"fastupdate": False},  # off, spelled as a boolean
    )
    sa.Index("ix_gist", table.c.span, postgresql_using="gist")
    sa.Index("ix_spgist", table.c.body, postgresql_using="spgist")
    sa.Index("ix_coll", table.c.label.collate("POSIX"), table.c.n)
    sa.Index("ix_coll_desc", table.c.body.collate("C"))
    sa.Index("ix_coll_expr", sa.func.lower(table.c.body))
    sa.Index("ix_nulls", table.c.n.asc().nulls_first(), table.c.label.desc())
    found = sorted(str(op) for op in dbshift.diff(loop.config(changed)))
    assert found == sorted(
        f'{verb} index "{name}" on "docs"'
        for name in ("ix_coll", "ix_coll_desc", "ix_coll_expr", "ix_nulls")
        for verb in ("create", "drop")
    )


@pytest.mark.backends("postgresql")
def test_index_options_read_alike_through_every_driver(
    db_url: str, driver: str, backend: str
) -> None:
    engine = sa.create_engine(db_url, poolclass=sa.NullPool)
    models(backend).create_all(engine)
    engine.dispose()
    expected = connected(db_url, introspect)
    got = connected(with_driver(db_url, driver), introspect)
    assert got.to_json() == expected.to_json()
    indexes = {i.name: i for t in got.tables.values() for i in t.indexes}
    assert dict(indexes["ix_pat"].options) == {"postgresql_ops": {"label": "varchar_pattern_ops"}}
    assert dict(indexes["ix_lower"].options)["postgresql_ops"] == {
        indexes["ix_lower"].columns[0]: "text_pattern_ops"  # int4_ops is n's default
    }
    assert dict(indexes["ix_cover"].options) == {
        "postgresql_include": ("label",),
        "postgresql_with": {"fillfactor": "70"},
    }
    assert dict(indexes["ix_gin"].options)["postgresql_with"] == {"fastupdate": "off"}
    assert indexes["ix_coll"].columns == ('label COLLATE "C"', "n")
    assert indexes["ix_coll_desc"].columns == ('body COLLATE "C" DESC',)


@pytest.mark.backends("postgresql")
def test_default_operator_classes_are_the_servers(db_url: str, backend: str) -> None:
    """The table of default classes the comparison drops is what the server says."""
    rows = connected(
        db_url,
        lambda conn: conn.execute(
            sa.text(
                "SELECT am.amname::text, oc.opcname::text FROM pg_catalog.pg_opclass oc "
                "JOIN pg_catalog.pg_am am ON am.oid = oc.opcmethod "
                "JOIN pg_catalog.pg_namespace n ON n.oid = oc.opcnamespace "
                "WHERE oc.opcdefault AND n.nspname = 'pg_catalog'"
            )
        ).all(),
    )
    server: dict[str, set[str]] = {}
    for method, name in rows:
        server.setdefault(method, set()).add(name)
    assert {k: set(v) for k, v in DEFAULT_OPCLASSES.items()} == server


def test_a_renamed_column_keeps_its_operator_class_and_inclusion(loop: Loop, backend: str) -> None:
    """Renaming a column renames it in the keywords that name columns too, as the
    server does: the migration is a rename alone, and replay equals the database."""
    loop.step(models(backend))
    renamed = sa.MetaData(naming_convention=NAMING)
    table = sa.Table(
        "things",
        renamed,
        C("id", sa.Integer, primary_key=True),
        C("title", sa.String(40)),
        C("code", sa.String(20), key="code_key"),
        C("n", sa.Integer),
        C("m", sa.Integer),
    )
    on = {**_ON, "ix_pat": ("title",), "ix_where": ("title", "n")}
    kwargs = {**PORTABLE, "ix_pat": {"postgresql_ops": {"title": "varchar_pattern_ops"}}}
    kwargs["ix_cover"] = {**PORTABLE["ix_cover"], "postgresql_include": ["title"]}
    for name, options in kwargs.items():
        sa.Index(name, *[table.c[c] for c in on[name]], **options)
    sa.Index("ix_desc", table.c.n.desc(), table.c.title)
    if backend == "postgresql":
        pg_only(renamed)
    path = loop.step(renamed, renames=["things.label=title"])
    assert path is not None
    assert "index" not in path.read_text().split("def downgrade")[0]
    assert dbshift.diff(loop.config(renamed), against="migrations") == []


@pytest.mark.backends("postgresql")
def test_sql_migrations_state_every_property(loop: Loop, backend: str) -> None:
    """`make --sql` writes the same CREATE INDEX statements as `create_all`."""
    metadata = models(backend)
    path = dbshift.make(loop.config(metadata), message="sql", sql=True)
    assert path is not None and path.suffix == ".sql"
    text = " ".join(path.read_text().split())
    for fragment in (
        "ix_pat ON things USING btree (label varchar_pattern_ops)",
        "ix_lower ON docs (lower(label) text_pattern_ops, n int4_ops)",
        "ix_cover ON things (n) INCLUDE (label) WITH (fillfactor = 70) TABLESPACE pg_default",
        "ix_gin ON docs USING gin (doc jsonb_path_ops) WITH (fastupdate = off)",
        'ix_coll ON docs (label COLLATE "C", n)',
        "ix_nulls ON docs (n ASC NULLS FIRST, label DESC NULLS LAST)",
        "ix_nnd ON things (m, code) NULLS NOT DISTINCT",
    ):
        assert fragment in text
    dbshift.upgrade(loop.config(metadata), "head")
    assert dbshift.diff(loop.config(metadata)) == []
