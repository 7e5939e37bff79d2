"""A keyset page of a list that is not the Tableau de bord's pieces (« Par marché », « Montants par entreprise »):
the rows after (or before) the cursor in the order of a key of plain values (texts and ids), cut by the database to
one more row than the page shows — that row only says whether there is a page beyond. The cursors are the keys of
the page's first and last rows, carried by the URL as an opaque, URL-safe text.

The Tableau de bord's list has its own cursor (`cursor`: a sort's value of several types, then the piece id).
"""
from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sqlalchemy import Select, tuple_

from chorus_chain.extensions import db


def encode(key: Sequence[str | int]) -> str:
    raw = json.dumps(list(key), separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode(text: str | None, kinds: Sequence[type]) -> tuple | None:
    """The key from `encode`'s text when each value has its kind (`str` or `int`), else None (anything hand-edited
    starts the list at the top)."""
    if not text:
        return None
    try:
        values = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError):
        return None
    if not isinstance(values, list) or len(values) != len(kinds):
        return None
    # JSON's true is a Python int: a boolean is never an id.
    if not all(isinstance(value, kind) and not isinstance(value, bool) for value, kind in zip(values, kinds)):
        return None
    return tuple(values)


@dataclass(frozen=True)
class Window:
    """The page's rows in the key's order, and the cursors of the pages around it (None: no such page)."""

    rows: list
    before: str | None
    after: str | None


def window(query: Select, columns: Sequence, kinds: Sequence[type], key_of: Callable[[object], Sequence],
           *, after: str | None, before: str | None, per_page: int) -> Window:
    """One page of `query` ordered on `columns` (ascending), starting after the cursor `after` or ending before the
    cursor `before` (`after` wins when both are given); `key_of(row)` is a row's key, the values of `columns`."""
    after_mark = decode(after, kinds)
    before_mark = decode(before, kinds) if after_mark is None else None
    key = tuple_(*columns)
    if after_mark is not None:
        query = query.where(key > tuple_(*after_mark))
    elif before_mark is not None:
        query = query.where(key < tuple_(*before_mark))
    backwards = before_mark is not None
    # Backwards, the rows just before the cursor are the first of the descending order: read so, then turned back.
    order = [column.desc() for column in columns] if backwards else list(columns)
    rows = db.session.execute(query.order_by(*order).limit(per_page + 1)).all()
    more = len(rows) > per_page
    rows = rows[:per_page]
    if backwards:
        rows.reverse()
    first = encode(key_of(rows[0])) if rows else None
    last = encode(key_of(rows[-1])) if rows else None
    if backwards:
        return Window(rows, first if more else None, last)
    return Window(rows, first if after_mark is not None else None, last if more else None)
