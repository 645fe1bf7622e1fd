"""The operator classes PostgreSQL 15 itself (schema `pg_catalog`) makes the default of
their access method for their type, by access method.

The server keeps the class an index column was built with; introspection reports it only
when it is not such a default (`pg_opclass.opcdefault`), since a model that names no
class gets the default. A model that names a default class explicitly (the SQLAlchemy
docs' `"id": "int4_ops"`) is therefore compared as naming none. Extensions' defaults
(btree_gist's `gist_int4_ops`) are not listed: a model naming one keeps it, and the
index is re-created until the model names no class there.
"""

from __future__ import annotations


def _set(words: str) -> frozenset[str]:
    return frozenset(words.split())


DEFAULT_OPCLASSES: dict[str, frozenset[str]] = {
    "brin": _set(
        """
        bit_minmax_ops box_inclusion_ops bpchar_minmax_ops bytea_minmax_ops
        char_minmax_ops date_minmax_ops float4_minmax_ops float8_minmax_ops
        inet_inclusion_ops int2_minmax_ops int4_minmax_ops int8_minmax_ops
        interval_minmax_ops macaddr8_minmax_ops macaddr_minmax_ops
        name_minmax_ops numeric_minmax_ops oid_minmax_ops pg_lsn_minmax_ops
        range_inclusion_ops text_minmax_ops tid_minmax_ops time_minmax_ops
        timestamp_minmax_ops timestamptz_minmax_ops timetz_minmax_ops
        uuid_minmax_ops varbit_minmax_ops
        """
    ),
    "btree": _set(
        """
        array_ops bit_ops bool_ops bpchar_ops bytea_ops char_ops date_ops
        enum_ops float4_ops float8_ops inet_ops int2_ops int4_ops int8_ops
        interval_ops jsonb_ops macaddr8_ops macaddr_ops money_ops multirange_ops
        name_ops numeric_ops oid_ops oidvector_ops pg_lsn_ops range_ops
        record_ops text_ops tid_ops time_ops timestamp_ops timestamptz_ops
        timetz_ops tsquery_ops tsvector_ops uuid_ops varbit_ops xid8_ops
        """
    ),
    "gin": _set(
        """
        array_ops jsonb_ops tsvector_ops
        """
    ),
    "gist": _set(
        """
        box_ops circle_ops multirange_ops point_ops poly_ops range_ops
        tsquery_ops tsvector_ops
        """
    ),
    "hash": _set(
        """
        aclitem_ops array_ops bool_ops bpchar_ops bytea_ops char_ops cid_ops
        date_ops enum_ops float4_ops float8_ops inet_ops int2_ops int4_ops
        int8_ops interval_ops jsonb_ops macaddr8_ops macaddr_ops multirange_ops
        name_ops numeric_ops oid_ops oidvector_ops pg_lsn_ops range_ops
        record_ops text_ops tid_ops time_ops timestamp_ops timestamptz_ops
        timetz_ops uuid_ops xid8_ops xid_ops
        """
    ),
    "spgist": _set(
        """
        box_ops inet_ops poly_ops quad_point_ops range_ops text_ops
        """
    ),
}
