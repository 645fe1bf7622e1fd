"""What a column type change does to the stored values, per backend."""

from __future__ import annotations

from dbshift.facts import INTEGER_RANK, TypeInfo

_TEXTUAL = ("varchar", "char", "text")


def narrows(old: TypeInfo, new: TypeInfo) -> bool:
    """True when some values of `old` do not fit `new` (they are cut, or the change fails)."""
    if old.name in INTEGER_RANK and new.name in INTEGER_RANK:
        return INTEGER_RANK[new.name] < INTEGER_RANK[old.name]
    if old.name in _TEXTUAL and new.name in ("varchar", "char"):
        if new.length is None:
            return False
        return old.name == "text" or old.length is None or new.length < old.length
    if old.name == "numeric" and new.name == "numeric":
        if new.length is None:
            return False
        if old.length is None:
            return True
        old_int = old.length - (old.scale or 0)
        new_int = new.length - (new.scale or 0)
        return new_int < old_int or (new.scale or 0) < (old.scale or 0)
    if old.name in ("float", "numeric") and new.name in INTEGER_RANK:
        return True
    if old.name in ("enum", "set") and new.name == old.name:
        return not set(old.values) <= set(new.values)
    return False


def rewrites_postgresql(old: TypeInfo | None, new: TypeInfo) -> bool:
    """Whether PostgreSQL rewrites the table (and its indexes) for this change. Binary
    compatible changes only check, or do nothing: a longer varchar, varchar to text, a
    numeric with more precision and the same scale."""
    if old is None:
        return True
    if old == new:
        return False
    if old.name == "varchar" and new.name == "varchar":
        return new.length is not None and (old.length is None or new.length < old.length)
    if old.name in ("varchar", "char") and new.name == "text":
        return old.name == "char"
    if old.name == "text" and new.name == "varchar" and new.length is None:
        return False
    if old.name == "numeric" and new.name == "numeric":
        if new.length is None:
            return False
        return old.length is None or new.length < old.length or (new.scale or 0) != (old.scale or 0)
    return True


def copies_mysql(old: TypeInfo | None, new: TypeInfo) -> bool:
    """Whether MySQL/MariaDB must use ALGORITHM=COPY for this change. In place: a longer
    VARCHAR whose length prefix keeps its size (both under 256 bytes, or both over, at
    4 bytes a character in utf8mb4). Enum and set changes are judged by DS403."""
    if old is None:
        return True
    if old == new:
        return False
    if old.name == "varchar" and new.name == "varchar" and old.length and new.length:
        if new.length < old.length:
            return True
        return (old.length * 4 <= 255) != (new.length * 4 <= 255)
    return True


def enum_change_copies(old: TypeInfo, new: TypeInfo) -> bool:
    """MySQL changes an ENUM/SET in place only when values are appended at the end and
    the storage size stays the same (up to 255 enum members, 8 set members)."""
    if old.values != new.values[: len(old.values)]:
        return True
    limit = 255 if new.name == "enum" else 8
    return (len(old.values) <= limit) != (len(new.values) <= limit)
