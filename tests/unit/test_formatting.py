"""French formats of the template filters."""
from __future__ import annotations

from decimal import Decimal

import pytest

from chorus_chain import formatting


@pytest.mark.parametrize("value, text", [
    (Decimal("1360.000"), "1\u202f360"), (Decimal("12.500"), "12,5"), (Decimal("33.333"), "33,333"),
    (Decimal("0"), "0"), (None, "—"),
])
def test_measure_drops_trailing_zeros(value, text):
    assert formatting.measure(value) == text


def test_money_and_month():
    assert formatting.money(Decimal("1234.5")) == "1\u202f234,50\u00a0€"
    assert formatting.month("2026-02") == "février 2026" and formatting.month(None) == "—"
