"""The Tableau de bord's number search as a range of the number: the numbers starting with a text are those between
the text and its successor (the text with its last character moved one code point up), in an order where a text
sorts before every longer text it begins — the byte order of the C collation, that of `C.UTF-8` (code points), in
which the project's databases are created (tests/faults/harness.py: `--locale=C.UTF-8`), and SQLite's BINARY.

The range, not LIKE alone: under row-level security PostgreSQL runs a condition inside an index only when its
operator is leakproof (it could otherwise leak other tenants' rows through an error), before the policy's own
condition. The comparisons of text (`>=`, `<`) are leakproof; LIKE is not, nor are the trigram operators. The LIKE
stays as well, so that no row outside the prefix is ever returned.

A database created in a linguistic collation (fr_FR.UTF-8, en_US.UTF-8, an ICU locale) sorts « : » before the
digits: « F9-001 » falls above « F: », outside the range of « F9 », and was missed. There the range is compared
`COLLATE "C"` (`code_points=False`, as `board_reading.collation` finds the column): every number starting with the
prefix is in it again. The comparisons stay leakproof (the same functions, another collation), but the index, built
in the column's collation, no longer serves the range: it narrows the structure, and the range and the LIKE filter its
rows. A deployment in such a collation that searches numbers in large structures wants an index of
(structure_id, number_key COLLATE "C") — a migration, not made here (the project's databases are C.UTF-8).
Pure: no database, no Flask.
"""
from __future__ import annotations

from sqlalchemy import and_, bindparam

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


def _ordered(column, code_points: bool):
    """`column` as the range compares it: as it is when its collation sorts by code point, else `COLLATE "C"`."""
    return column if code_points else column.collate("C")


def starting_with(column, prefix: str, code_points: bool = True):
    """`column` starts with `prefix`: a range of it (an index range under row-level security) and the LIKE that
    makes it exact. `code_points`: whether the column's collation sorts by code point (see the module)."""
    ordered = _ordered(column, code_points)
    bounds = [ordered >= prefix]
    above = successor(prefix)
    if above is not None:
        bounds.append(ordered < above)
    return and_(*bounds, column.startswith(prefix, autoescape=True))


# The bound parameters of `bound_starting_with`, whose values `prefix_params` gives.
NUMBER_FROM, NUMBER_TO, NUMBER_LIKE = "number_from", "number_to", "number_like"


def escaped(prefix: str) -> str:
    """`prefix` for LIKE … ESCAPE '/': its '/', '%' and '_' taken literally (what `autoescape=True` binds)."""
    return prefix.replace("/", "//").replace("%", "/%").replace("_", "/_")


def bound_starting_with(column, bounded_above: bool, code_points: bool = True):
    """`starting_with` with the prefix's values bound at execution (`prefix_params`), for a statement built once per
    process: the same SQL, one shape with the range's upper bound and one without (a prefix with no successor), each
    in the column's collation or `COLLATE "C"` (`code_points`, see the module)."""
    ordered = _ordered(column, code_points)
    bounds = [ordered >= bindparam(NUMBER_FROM)]
    if bounded_above:
        bounds.append(ordered < bindparam(NUMBER_TO))
    return and_(*bounds, column.startswith(bindparam(NUMBER_LIKE), escape="/"))


def prefix_params(prefix: str) -> dict[str, str]:
    """The values of `bound_starting_with`'s parameters for `prefix` (`NUMBER_TO` only when it has a successor)."""
    params = {NUMBER_FROM: prefix, NUMBER_LIKE: escaped(prefix)}
    above = successor(prefix)
    if above is not None:
        params[NUMBER_TO] = above
    return params
