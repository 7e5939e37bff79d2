"""Decimal numbers as people type them in France, one reader for the whole application.

"1234,5", "1 234,50" (any kind of space between thousands), "1.234,50", "1234.5", an optional "€" or "%"; a float
(what a spreadsheet cell gives) through its shortest repr. Extra decimals are refused, never rounded away. The callers
(the price schedule, the marché's terms, the MOE's admitted figures...) add their own French wording around the
reason this module gives.
"""
from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

NUMBER_MAX = Decimal("99999999999")  # what Numeric(14, 3) holds before the point, and more than any real line


class DecimalRefused(ValueError):
    """A number that cannot be read: `reason_fr` says why, in a form that follows "quantité ..."."""

    def __init__(self, reason_fr: str) -> None:
        super().__init__(reason_fr)
        self.reason_fr = reason_fr


_SPACES = re.compile("[\u0020\u00a0\u202f\u2009]+")
_CURRENCY = re.compile(r"\s*(€|eur|euros?|%)\s*$", re.IGNORECASE)
_PLAIN = re.compile(r"^(?P<sign>[+-]?)(?P<int>\d{1,3}(?: \d{3})+|\d+)(?:[.,](?P<dec>\d+))?$", re.ASCII)
_DOTTED = re.compile(r"^(?P<sign>[+-]?)(?P<int>\d{1,3}(?:\.\d{3})+),(?P<dec>\d+)$", re.ASCII)
_FLOAT_NOISE = Decimal("1e-9")


def read_decimal(value: Any, places: int) -> Decimal | None:
    """The Decimal a cell holds, with at most `places` decimals, or None for an empty cell; DecimalRefused otherwise.

    Text as a French spreadsheet shows it: "1234,5", "1 234,50" (any kind of space between thousands), "1.234,50",
    "1234.5", an optional "€" or "%". A float (what openpyxl gives for a numeric cell) is read through its shortest
    repr, and float noise below a billionth (12.300000000000001) is dropped; real extra decimals are refused, never
    rounded away: better to ask than to pay a thousandth too much on 5 000 lines."""
    if value is None or isinstance(value, bool):
        if value is None:
            return None
        raise DecimalRefused("illisible")
    if isinstance(value, int):
        number = Decimal(value)
    elif isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise DecimalRefused("illisible")
        number = Decimal(repr(value))
        rounded = number.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
        if abs(number - rounded) < _FLOAT_NOISE:
            number = rounded
    elif isinstance(value, Decimal):
        if not value.is_finite():
            raise DecimalRefused("illisible")
        number = value
    else:
        text = _CURRENCY.sub("", _SPACES.sub(" ", str(value)).strip()).strip()
        if not text:
            return None
        match = _PLAIN.match(text) or _DOTTED.match(text)
        if match is None:
            raise DecimalRefused(f"illisible « {str(value).strip()} »")
        digits = match["int"].replace(" ", "").replace(".", "")
        try:
            number = Decimal(f"{match['sign']}{digits}.{match['dec'] or '0'}")
        except InvalidOperation:  # pragma: no cover - the patterns only let digits through
            raise DecimalRefused(f"illisible « {str(value).strip()} »") from None
    exponent = number.normalize().as_tuple().exponent
    if isinstance(exponent, int) and -exponent > places:
        raise DecimalRefused(f"avec trop de décimales « {shown(number)} » ({places} au plus)")
    if abs(number) > NUMBER_MAX:
        raise DecimalRefused(f"trop élevée « {shown(number)} »")
    return number.quantize(Decimal(1).scaleb(-places)) + 0  # + 0: -0 becomes 0


def shown(number: Decimal) -> str:
    """A number as the messages quote it: "1234,5", "−2"."""
    return format(number.normalize(), "f").replace(".", ",").replace("-", "−")
