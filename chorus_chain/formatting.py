"""French formats of amounts, dates and instants (Babel), as template filters.

Babel reads its locale data and parses its pattern on every call (about 0.4 ms for one amount): a page of 25 rows and
its panels formatted a few hundred values, a third of the Tableau de bord's CPU (bench/page_cpu.py). So the hot ones
are done once: an amount is written with the fr_FR currency pattern taken from Babel at import (grouping, signs,
separators), a day's text is cached per day, and an instant is its day's text plus the local time. The tests compare
each fast path with Babel itself over many values (tests/unit/test_formatting_fast.py).
"""
from __future__ import annotations

import re
from datetime import date, datetime
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from functools import lru_cache
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_datetime
from babel.numbers import (format_currency, format_decimal, get_decimal_symbol, get_group_symbol,
                           get_minus_sign_symbol)

from chorus_chain.domain import units

LOCALE = "fr_FR"
PARIS = ZoneInfo("Europe/Paris")

_CENT = Decimal("0.01")
# What Babel writes around the digits of an amount in euros, read from Babel once: « 1 234,56 € » (a narrow no-break
# space between the groups, a no-break space before the sign), « -12,50 € ».
_GROUP = get_group_symbol(LOCALE)
_MINUS = get_minus_sign_symbol(LOCALE)
_UNIT_TEXT = format_currency(Decimal("0"), "EUR", locale=LOCALE).replace("0,00", "", 1)  # "\xa0€"
_EUR_PATTERN = format_currency(Decimal("1234.5"), "EUR", locale=LOCALE) == f"1{_GROUP}234,50{_UNIT_TEXT}"


def money(value: Decimal | int | None) -> str:
    if value is None:
        return "—"
    if type(value) is Decimal and value and value.is_finite():
        return _money_kept(value)
    return _money(value)


@lru_cache(maxsize=8192)
def _money_kept(value: Decimal) -> str:
    """An amount's text kept per value: the Tableau de bord writes the same few hundred amounts on every request
    (its tables' sums, its rows). Equal decimals write the same text whatever their exponent (`quantize`), but a
    zero's sign is not part of its equality (-0.00 == 0.00): zeros, and anything else than a finite decimal, are
    written each time."""
    return _money(value)


def _money(value) -> str:
    amount = Decimal(value)
    if not _EUR_PATTERN or not amount.is_finite():
        return format_currency(amount, "EUR", locale=LOCALE)  # a Babel whose pattern differs: its own way
    try:
        cents = amount.quantize(_CENT, rounding=ROUND_HALF_EVEN)  # Babel rounds half to even too
    except InvalidOperation:  # beyond the decimal context's precision: Babel says what it says
        return format_currency(amount, "EUR", locale=LOCALE)
    whole, fraction = f"{abs(cents):.2f}".split(".")
    grouped = f"{int(whole):,}".replace(",", _GROUP)
    return f"{_MINUS if cents.is_signed() else ''}{grouped},{fraction}{_UNIT_TEXT}"


_DECIMAL = get_decimal_symbol(LOCALE)
_NUMBER_PATTERN = format_decimal(Decimal("-1234.5"), format="#,##0.00", locale=LOCALE) == f"{_MINUS}1{_GROUP}234{_DECIMAL}50"
_PLACES = {digits: Decimal(1).scaleb(-digits) for digits in range(7)}


def number(value, digits: int = 2) -> str:
    """A figure with `digits` decimals, grouped as Babel's fr_FR pattern « #,##0.00 » writes it. The Tableau de bord
    writes one per sous-traitant line (its share of the DC4): Babel parsed the pattern on each call, about 0.2 ms.
    So the pattern's symbols are read from Babel once (as for `money`), Babel kept for what is not a plain number."""
    if value is None:
        return "—"
    if not _NUMBER_PATTERN or digits not in _PLACES or not isinstance(value, (Decimal, int)) or isinstance(value, bool):
        return _babel_number(value, digits)
    amount = Decimal(value)
    if not amount.is_finite():
        return _babel_number(value, digits)
    try:
        rounded = amount.quantize(_PLACES[digits], rounding=ROUND_HALF_EVEN)  # Babel rounds half to even too
    except InvalidOperation:  # beyond the decimal context's precision: Babel says what it says
        return _babel_number(value, digits)
    whole, _, fraction = f"{abs(rounded):.{digits}f}".partition(".")
    grouped = f"{int(whole):,}".replace(",", _GROUP)
    return f"{_MINUS if rounded.is_signed() else ''}{grouped}{_DECIMAL + fraction if digits else ''}"


def _babel_number(value, digits: int) -> str:
    return format_decimal(value, format=f"#,##0.{'0' * digits}" if digits else "#,##0", locale=LOCALE)


def price(value) -> str:
    """A unit price: two decimals as for any amount, up to four when the bordereau has them ("30,00", "12,3456"),
    never a trailing zero beyond the cents (not « 30,0000 »)."""
    if value is None:
        return "—"
    return format_decimal(value, format="#,##0.00##", locale=LOCALE)


def exact(value) -> str:
    """A coefficient or a ratio as precise as it is, without trailing zeros ("0,125", not « 0,1250 »)."""
    if value is None:
        return "—"
    return format_decimal(value, format="#,##0.##########", locale=LOCALE)


_FIRST = re.compile(r"(?<!\d)1(?= \D)")


def premier(text: str, day_of_month: int) -> str:
    """French typography writes the first day of a month « 1er » (« le 1er mars 2026 »), never « 1 mars »."""
    return _FIRST.sub("1er", text, count=1) if day_of_month == 1 else text


def day(value: date | datetime | None, style: str = "medium") -> str:
    if value is None:
        return "—"
    if isinstance(value, datetime):
        value = value.astimezone(PARIS).date()
    return _day_text(value, style)


@lru_cache(maxsize=8192)
def _day_text(value: date, style: str) -> str:
    """A day's text does not change: a page lists the same few hundred days again and again."""
    return premier(format_date(value, format=style, locale=LOCALE), value.day)


# « 6 déc. 2026 à 09:30 » is the medium day's pattern (d MMM y) followed by « à HH:mm »: checked at import, else Babel.
_INSTANT_IS_DAY_AND_TIME = format_datetime(datetime(2026, 3, 1, 7, 5, tzinfo=PARIS), format="d MMM y 'à' HH:mm",
                                           tzinfo=PARIS, locale=LOCALE) == "1 mars 2026 à 07:05"


def instant(value: datetime | None) -> str:
    if value is None:
        return "—"
    local = value.astimezone(PARIS)
    if _INSTANT_IS_DAY_AND_TIME:
        return f"{_day_text(local.date(), 'medium')} à {local:%H:%M}"
    text = format_datetime(value, format="d MMM y 'à' HH:mm", tzinfo=PARIS, locale=LOCALE)
    return premier(text, local.day)


def measure(value) -> str:
    """A quantity or a percentage as people write it: up to three decimals, none that is a trailing zero
    ("1 360", "12,5", "33,333")."""
    if value is None:
        return "—"
    return format_decimal(value, format="#,##0.###", locale=LOCALE)


def measure_input(value) -> str:
    """A quantity or a percentage in an input, as typed back: comma decimals, no trailing zero, no grouping (so that
    what the server reads is what the user sees: "1360", "12,5")."""
    if value is None:
        return ""
    return format_decimal(value, format="0.###", locale=LOCALE)


def unit(value: str | None) -> str:
    """A unit of measure as French typography writes it: "m2" → "m²", "m3" → "m³" (`domain.units`)."""
    return units.typeset(value)


def month(value: str | None) -> str:
    """ "2026-03" → "mars 2026"."""
    if not value:
        return "—"
    from chorus_chain.domain.money import month_fr

    return month_fr(value)


def register(app) -> None:
    app.add_template_filter(money)
    app.add_template_filter(measure)
    app.add_template_filter(price)
    app.add_template_filter(exact)
    app.add_template_filter(measure_input)
    app.add_template_filter(unit)
    app.add_template_filter(month)
    app.add_template_filter(number)
    app.add_template_filter(day)
    app.add_template_filter(instant)
    from chorus_chain import help_ui

    help_ui.register(app)
    from chorus_chain import amount_ui

    amount_ui.register(app)
