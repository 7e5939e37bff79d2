"""The release date of the retenue de garantie (domain.guarantee): réception + the guarantee period."""
from datetime import date
from decimal import Decimal

import pytest

from chorus_chain.domain.guarantee import guarantee_release


def test_one_year_after_the_reception_by_default():
    release = guarantee_release(date(2026, 3, 15), 12, retenue_rate=Decimal("5.00"), replaced_by_guarantee=False)
    assert release.release_on == date(2027, 3, 15)
    assert not release.due(date(2027, 3, 14)) and release.due(date(2027, 3, 15)) and release.due(date(2027, 4, 1))
    assert release.sentence(date(2027, 1, 1)) == (
        "La retenue de garantie sera libérable le 15 mars 2027 (réception le 15 mars 2026 + 12 mois de délai de "
        "garantie), si aucune réserve ne reste à lever.")
    assert release.sentence(date(2027, 3, 15)).startswith("La retenue de garantie est libérable depuis le 15 mars 2027")


def test_end_of_month_and_other_periods():
    # 31 August + 6 months: there is no 31 February, the last day of February.
    assert guarantee_release(date(2025, 8, 31), 6, retenue_rate=Decimal("3"),
                             replaced_by_guarantee=False).release_on == date(2026, 2, 28)
    # 29 February + 12 months → 28 February; a period of 0 months: releasable at the réception.
    assert guarantee_release(date(2024, 2, 29), 12, retenue_rate=Decimal("5"),
                             replaced_by_guarantee=False).release_on == date(2025, 2, 28)
    assert guarantee_release(date(2026, 5, 4), 0, retenue_rate=Decimal("5"),
                             replaced_by_guarantee=False).release_on == date(2026, 5, 4)


def test_replaced_by_a_guarantee_nothing_withheld_or_no_reception_yet():
    replaced = guarantee_release(date(2026, 3, 15), 12, retenue_rate=Decimal("5"), replaced_by_guarantee=True)
    assert replaced.replaced_by_guarantee and replaced.release_on == date(2027, 3, 15)
    assert replaced.sentence(date(2026, 4, 1)).startswith("La garantie qui remplace la retenue de garantie sera")
    # A guarantee replacing a retenue is released even when the rate field says 0.
    assert guarantee_release(date(2026, 3, 15), 12, retenue_rate=Decimal("0"), replaced_by_guarantee=True)
    assert guarantee_release(date(2026, 3, 15), 12, retenue_rate=Decimal("0"), replaced_by_guarantee=False) is None
    assert guarantee_release(None, 12, retenue_rate=Decimal("5"), replaced_by_guarantee=False) is None
    with pytest.raises(ValueError):
        guarantee_release(date(2026, 3, 15), -1, retenue_rate=Decimal("5"), replaced_by_guarantee=False)
