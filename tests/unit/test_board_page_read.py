"""How the Tableau de bord's list reads its keys (`operations.dashboard.page_read`, issue 20): through the sort's index
when an index holds the filters before the sort, else the filtered rows sorted when they are at most CAP and one
filter has an index, else the sort's index again (more than CAP rows kept: the walk stops soon)."""
from datetime import date

import pytest

from chorus_chain.operations.board_reading import counts, lists
from chorus_chain.operations.dashboard import SORTS, Filters, page_read

FEW, MANY = counts.CAP, counts.CAP + 1


@pytest.mark.parametrize("sort_key", [key.lstrip("-") for key in SORTS])
def test_without_filters_every_sort_walks_its_index(sort_key):
    assert page_read(Filters(), None, sort_key, MANY) == lists.WALK
    assert page_read(Filters(), None, sort_key, 3) == lists.WALK


@pytest.mark.parametrize("filters", [Filters(marche_id=4), Filters(party_id=9), Filters(status="A_VALIDER_1"),
                                     Filters(deposited_from=date(2026, 1, 1)),
                                     Filters(status="A_VALIDER_1", deposited_to=date(2026, 3, 1))])
def test_the_newest_first_under_one_indexed_filter_walks_its_index(filters):
    # (structure, marché | company | status, sort_date, piece): the page's entries, whatever the rows' number.
    assert page_read(filters, None, "date", MANY) == page_read(filters, None, "date", 3) == lists.WALK


@pytest.mark.parametrize("sort_key", ["numero", "montant", "statut", "marche"])
@pytest.mark.parametrize("filters", [Filters(marche_id=4), Filters(party_id=9), Filters(status="A_VALIDER_1"),
                                     Filters(number="F12"), Filters(deposited_from=date(2026, 1, 1))])
def test_another_sort_under_an_indexed_filter_reads_the_filtered_rows_up_to_cap(filters, sort_key):
    assert page_read(filters, None, sort_key, FEW) == lists.FILTERED
    assert page_read(filters, None, sort_key, MANY) == lists.WALK
    assert page_read(filters, None, sort_key, None) == lists.WALK  # « plus de CAP »: not counted


def test_two_equalities_or_a_number_are_no_index_of_the_date_order():
    assert page_read(Filters(marche_id=4, status="A_VALIDER_1"), None, "date", FEW) == lists.FILTERED
    assert page_read(Filters(number="F12"), None, "date", FEW) == lists.FILTERED


def test_filters_no_index_holds_walk_the_sort_index():
    # The member's `works` and the cadre are columns of no index: the filtered rows would be the structure's.
    assert page_read(Filters(cadre="A10"), None, "montant", 3) == lists.WALK
    assert page_read(Filters(), True, "date", 3) == lists.WALK
    assert page_read(Filters(cadre=""), False, "numero", 3) == lists.WALK
    # With an indexed filter beside them, that filter's rows are read.
    assert page_read(Filters(cadre="A10", marche_id=4), None, "date", 3) == lists.FILTERED
    assert page_read(Filters(status="A_VALIDER_1"), True, "date", 3) == lists.FILTERED
