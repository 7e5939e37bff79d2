"""French formats of amounts, dates and instants (Babel), as template filters."""
from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_datetime
from babel.numbers import format_currency, format_decimal

LOCALE = "fr_FR"
PARIS = ZoneInfo("Europe/Paris")


def money(value: Decimal | int | None) -> str:
    if value is None:
        return "—"
    return format_currency(Decimal(value), "EUR", locale=LOCALE)


def number(value, digits: int = 2) -> str:
    if value is None:
        return "—"
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
    return premier(format_date(value, format=style, locale=LOCALE), value.day)


def instant(value: datetime | None) -> str:
    if value is None:
        return "—"
    text = format_datetime(value, format="d MMM y 'à' HH:mm", tzinfo=PARIS, locale=LOCALE)
    return premier(text, value.astimezone(PARIS).day)


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


_UNITS = {"m2": "m²", "m3": "m³", "ml": "ml", "u": "u", "ens": "ens."}


def unit(value: str | None) -> str:
    """A unit of measure as French typography writes it: "m2" → "m²", "m3" → "m³"."""
    if not value:
        return ""
    return _UNITS.get(value.strip().lower(), value)


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
