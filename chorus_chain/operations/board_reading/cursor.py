"""The keyset cursor of the Tableau de bord's list: the sort value and the piece id of a row, carried by the URL
(« apres » / « avant ») so that the next page starts right after the last row seen through the sort's index, whatever
the page's depth. Pure: no database, no Flask."""
from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime
from decimal import Decimal, InvalidOperation

# The type of each sort's value (the keys of operations.dashboard.SORTS). The amount's is board_row's
# `montant_cents`, written in the URL as the amount in euros (« 1234.50 », as before migration 0043).
KINDS = {"date": "datetime", "numero": "text", "montant": "cents", "statut": "text", "marche": "text"}
CENT = Decimal("0.01")
MAX_CENTS = 10 ** 18


def encode(sort_key: str, value, piece_id: int) -> str:
    """An opaque, URL-safe text for (value, piece id) of a sort."""
    if KINDS[sort_key] == "datetime":
        shown = value.isoformat()
    elif KINDS[sort_key] == "cents":
        shown = str(Decimal(int(value)).scaleb(-2))
    else:
        shown = str(value)
    raw = json.dumps([shown, int(piece_id)], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode(sort_key: str, text: str | None):
    """(value, piece id) from `encode`'s text, or None for anything else (a hand-edited URL starts at the top)."""
    if not text or sort_key not in KINDS:
        return None
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        shown, piece_id = json.loads(raw)
        if not isinstance(shown, str) or not isinstance(piece_id, int) or isinstance(piece_id, bool):
            return None
        kind = KINDS[sort_key]
        if kind == "datetime":
            value = datetime.fromisoformat(shown)
            if value.tzinfo is None:
                return None
        elif kind == "cents":
            amount = Decimal(shown)
            if not amount.is_finite() or amount != amount.quantize(CENT):
                return None
            value = int(amount.scaleb(2))
            if abs(value) >= MAX_CENTS:  # beyond any amount (numeric(14, 2)), and beyond a bigint's range
                return None
        else:
            value = shown
    except (ValueError, TypeError, binascii.Error, InvalidOperation, UnicodeDecodeError):
        return None
    return value, piece_id
