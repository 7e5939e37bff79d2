"""Units of measure as French typography writes them ("m2" → "m²"): a pure table, used by the pages
(`formatting.unit`) and by the messages the money rules write (`domain.money.schedule`)."""
from __future__ import annotations

UNITS = {"m2": "m²", "m3": "m³", "ml": "ml", "u": "u", "ens": "ens."}


def typeset(value: str | None) -> str:
    """The unit as printed; an unknown unit as typed."""
    if not value:
        return ""
    return UNITS.get(value.strip().lower(), value)
