"""The fast paths of `formatting` (amounts from a precomputed pattern, days cached, instants as day + time) write
exactly what Babel writes, for any value."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

from babel.dates import format_date, format_datetime
from babel.numbers import format_currency, format_decimal
from hypothesis import given, settings
from hypothesis import strategies as st

from chorus_chain import formatting

amounts = st.one_of(
    st.decimals(min_value=Decimal("-1e15"), max_value=Decimal("1e15"), allow_nan=False, allow_infinity=False,
                places=2),
    st.decimals(min_value=Decimal("-1e9"), max_value=Decimal("1e9"), allow_nan=False, allow_infinity=False,
                places=4),  # rounding to cents, half to even like Babel
    st.integers(min_value=-10**12, max_value=10**12),
)


@settings(max_examples=400, deadline=None)
@given(amounts)
def test_money_is_babels_currency_format(value):
    assert formatting.money(value) == format_currency(Decimal(value), "EUR", locale="fr_FR")


def test_money_edges_are_babels():
    for text in ("0", "-0", "0.005", "0.015", "-0.004", "-0.005", "999.995", "1000", "-1234567.891", "1E+3",
                 "123456789012345678.99", "0.000001"):
        assert formatting.money(Decimal(text)) == format_currency(Decimal(text), "EUR", locale="fr_FR"), text
    assert formatting.money(None) == "—"


def test_money_kept_per_value_is_babels_for_equal_values_and_signed_zeros():
    """An amount's text is kept per value (`formatting._money_kept`): equal values of other exponents, written again
    or after one another, are Babel's text; the zeros of both signs (equal, not the same text) are not kept."""
    for texts in (("1234.5", "1234.50", "1234.5000", "1.2345E+3"), ("-0.004", "-0.0040"), ("0.00", "-0.00", "0"),
                  ("-12.345", "-12.3450")):
        for _ in range(2):
            for text in texts:
                assert formatting.money(Decimal(text)) == format_currency(Decimal(text), "EUR", locale="fr_FR"), text
    assert formatting.money(Decimal("-0.00")) != formatting.money(Decimal("0.00"))


def _babel_number(value, digits):
    return format_decimal(value, format=f"#,##0.{'0' * digits}" if digits else "#,##0", locale="fr_FR")


@settings(max_examples=400, deadline=None)
@given(amounts, st.integers(min_value=0, max_value=4))
def test_number_is_babels_decimal_format(value, digits):
    assert formatting.number(value, digits) == _babel_number(value, digits)


def test_number_edges_are_babels():
    for text in ("0", "-0", "0.5", "1.5", "2.5", "-0.4", "-0.6", "0.125", "99.995", "1E+3", "1E-9",
                 "123456789012345678.99", "33.3333333"):
        for digits in (0, 1, 2, 3):
            assert formatting.number(Decimal(text), digits) == _babel_number(Decimal(text), digits), (text, digits)
    assert formatting.number(1.25, 1) == _babel_number(1.25, 1)  # not a Decimal: Babel's own way
    assert formatting.number(None) == "—"


def test_day_is_babels_for_every_day_of_two_years():
    day = date(2025, 1, 1)
    while day < date(2027, 1, 1):
        for style in ("medium", "long", "short"):
            expected = format_date(day, format=style, locale="fr_FR")
            expected = formatting.premier(expected, day.day)
            assert formatting.day(day, style) == expected
        day += timedelta(days=1)


@settings(max_examples=400, deadline=None)
@given(st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1)))
def test_instant_is_babels_day_and_time(value):
    value = value.replace(tzinfo=timezone.utc)
    expected = format_datetime(value, format="d MMM y 'à' HH:mm", tzinfo=formatting.PARIS, locale="fr_FR")
    assert formatting.instant(value) == formatting.premier(expected, value.astimezone(formatting.PARIS).day)


def test_instant_across_the_summer_time_change():
    # 2026-03-29 01:30 UTC is 03:30 in Paris (the clocks jumped at 02:00); 00:30 UTC was 01:30.
    assert formatting.instant(datetime(2026, 3, 29, 0, 30, tzinfo=timezone.utc)) == "29 mars 2026 à 01:30"
    assert formatting.instant(datetime(2026, 3, 29, 1, 30, tzinfo=timezone.utc)) == "29 mars 2026 à 03:30"
    assert formatting.instant(datetime(2026, 4, 30, 22, 5, tzinfo=timezone.utc)) == "1er mai 2026 à 00:05"
