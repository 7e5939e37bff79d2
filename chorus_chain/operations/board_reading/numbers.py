"""The Tableau de bord's number search as a range of the number: the numbers starting with a text are those between
the text and its successor (the text with its last character moved one code point up), in an order where a text
sorts before every longer text it begins — the byte order of the C collation, that of `C.UTF-8` (code points), in
which the project's databases are created (tests/faults/harness.py: `--locale=C.UTF-8`), and SQLite's BINARY.

The range, not LIKE alone: under row-level security PostgreSQL runs a condition inside an index only when its
operator is leakproof (it could otherwise leak other tenants' rows through an error), before the policy's own
condition. The comparisons of text (`>=`, `<`) are leakproof; LIKE is not, nor are the trigram operators. The LIKE
stays as well, so that no row outside the prefix is ever returned; a database created in a linguistic collation
(where « ST-20 » may sort outside [« ST-2 », « ST-3 »)) could miss rows: create it in C.UTF-8, as the tests do.
Pure: no database, no Flask.
"""
from __future__ import annotations

from sqlalchemy import and_

# The highest code point: a text ending with it has no successor (the range is then left open above).
LAST_CODE_POINT = 0x10FFFF


def successor(prefix: str) -> str | None:
    """The smallest text above every text starting with `prefix` in code point order: its last character one up
    (« ST-2 » → « ST-3 »); None when there is none (an empty prefix, or one ending with the last code point)."""
    if not prefix or ord(prefix[-1]) >= LAST_CODE_POINT:
        return None
    following = ord(prefix[-1]) + 1
    if 0xD800 <= following <= 0xDFFF:  # surrogates are no characters: jump over them
        following = 0xE000
    return prefix[:-1] + chr(following)


def starting_with(column, prefix: str):
    """`column` starts with `prefix`: a range of it (an index range under row-level security) and the LIKE that
    makes it exact."""
    bounds = [column >= prefix]
    above = successor(prefix)
    if above is not None:
        bounds.append(column < above)
    return and_(*bounds, column.startswith(prefix, autoescape=True))
