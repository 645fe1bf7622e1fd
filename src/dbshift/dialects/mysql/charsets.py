"""MariaDB's and MySQL's character sets and the names of their collations: data the
backend's limits (`make` refuses collations it has not, and keys too long) and its
normalizer read. A module of its own, without imports of the backend, so that those
parts can import it without a cycle (as `flavour.py`).
"""

from __future__ import annotations

from dbshift.dialects.limits import collations

#: the character sets of MariaDB 10.11 and MySQL 8, with the most bytes a character takes
#: (`information_schema.character_sets.maxlen`; `utf8` is `utf8mb3` on both)
_ONE_BYTE = (
    "armscii8 ascii binary cp1250 cp1251 cp1256 cp1257 cp850 cp852 cp866 dec8 geostd8 greek "
    "hebrew hp8 keybcs2 koi8r koi8u latin1 latin2 latin5 latin7 macce macroman swe7 tis620"
)
CHARSET_BYTES = {
    **dict.fromkeys(_ONE_BYTE.split(" "), 1),
    **dict.fromkeys(("big5", "cp932", "euckr", "gb2312", "gbk", "sjis", "ucs2"), 2),
    **dict.fromkeys(("eucjpms", "ujis", "utf8", "utf8mb3"), 3),
    **dict.fromkeys(("gb18030", "utf16", "utf16le", "utf32", "utf8mb4"), 4),
}
#: every collation is named after its character set (`utf8mb4_unicode_ci`), but
#: `binary` and MariaDB's `uca1400_*`, which serve several sets
COLLATIONS = collations(
    "binary", prefixes=(*(f"{charset}_" for charset in CHARSET_BYTES), "uca1400_")
)
#: the character set a column has when neither it nor its table names one: the server's
#: default, utf8mb4 on MySQL 8 and on MariaDB as distributions configure it (a model for
#: a latin1 server says so: `mysql_charset="latin1"`)
DEFAULT_CHARSET = "utf8mb4"
