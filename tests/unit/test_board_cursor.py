"""The Tableau de bord's keyset cursor (operations.board_reading.cursor): what `encode` writes, `decode` reads back
with its type; anything else (a hand-edited URL) is None, so the list starts at the top."""
from __future__ import annotations

import base64
import json
from datetime import datetime, timezone
from decimal import Decimal

import pytest

from chorus_chain.operations.board_reading import cursor


@pytest.mark.parametrize("key, value", [
    ("date", datetime(2026, 3, 2, 9, 30, 15, 123456, tzinfo=timezone.utc)),
    ("numero", "F-2026/0042 É"),
    ("montant", -123450),  # board_row's montant_cents (migration 0043)
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


def test_the_amount_is_written_in_euros_and_read_back_in_cents():
    # The URL carries the amount as it did when the sort's key was montant_ttc (« 1234.50 »): a link written before
    # migration 0043 still starts where it did, and the pages' links are the same text.
    before_0042 = base64.urlsafe_b64encode(json.dumps([str(Decimal("1234.50")), 7], separators=(",", ":")).encode())
    assert cursor.encode("montant", 123450, 7) == before_0042.decode().rstrip("=")
    assert cursor.decode("montant", cursor.encode("montant", 0, 3)) == (0, 3)


@pytest.mark.parametrize("shown", ["1234.505", "1e400", "-1e30", "Infinity", "12,5"])
def test_an_amount_that_is_no_whole_cents_is_no_cursor(shown):
    # Not a bigint of cents: a hand-edited URL starts at the top rather than failing in the database.
    text = base64.urlsafe_b64encode(json.dumps([shown, 7]).encode()).decode().rstrip("=")
    assert cursor.decode("montant", text) is None
