"""The Tableau de bord's keyset cursor (operations.board_reading.cursor): what `encode` writes, `decode` reads back
with its type; anything else (a hand-edited URL) is None, so the list starts at the top."""
from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal

import pytest

from chorus_chain.operations.board_reading import cursor


@pytest.mark.parametrize("key, value", [
    ("date", datetime(2026, 3, 2, 9, 30, 15, 123456, tzinfo=timezone.utc)),
    ("numero", "F-2026/0042 É"),
    ("montant", Decimal("-1234.50")),
    ("statut", "A_VALIDER_1"),
    ("marche", "M-12-travaux"),
])
def test_a_cursor_reads_back_what_it_wrote(key, value):
    text = cursor.encode(key, value, 987654)
    assert cursor.decode(key, text) == (value, 987654)
    assert "=" not in text and "/" not in text and "+" not in text  # as is in a URL


@pytest.mark.parametrize("text", [None, "", "nope", "e30", "W251bGwsMV0", "WyJ4IiwxXQ", "WyIxIiwidHdvIl0",
                                  "WyJOYU4iLDFd", "WyIyMDI2LTAzLTAyVDA5OjMwOjAwIiwxXQ", "WyIxIix0cnVlXQ"])
def test_anything_else_is_no_cursor(text):
    for key in ("date", "montant"):
        assert cursor.decode(key, text) is None
    assert cursor.decode("inconnu", cursor.encode("numero", "A", 1)) is None
