"""How the Tableau de bord's list reads its keys (`operations.dashboard.page_read`, issue 20): through the sort's index
when an index holds the filters before the sort, else the filtered rows sorted when they are at most CAP and one
filter has an index, else the structure's rows in the sort's order sifted when the filters are equalities of the
rollups' dimensions, else the sort's index again (more than CAP rows kept: the walk stops soon)."""
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


@pytest.mark.parametrize("sort_key", [key.lstrip("-") for key in SORTS])
def test_every_sort_under_a_status_walks_its_index(sort_key):
    # (structure, status, sort column, piece) for each sort (migrations 0038, 0041; the status's own order is
    # (structure, status, piece)): the page's entries, whatever the status's rows — not sifted, not sorted.
    filters = Filters(status="A_VALIDER_1")
    for total in (3, FEW, MANY, None):
        assert page_read(filters, None, sort_key, total) == lists.WALK


@pytest.mark.parametrize("sort_key", ["numero", "montant", "statut", "marche"])
@pytest.mark.parametrize("filters", [Filters(marche_id=4), Filters(party_id=9),
                                     Filters(number="F12"), Filters(deposited_from=date(2026, 1, 1))])
def test_another_sort_under_an_indexed_filter_reads_the_filtered_rows_up_to_cap(filters, sort_key):
    assert page_read(filters, None, sort_key, FEW) == lists.FILTERED
    # Beyond CAP: an equality of the rollups' dimensions sifts the structure's rows in the sort's order; a number or
    # a period (not counted beyond CAP anyway) walks the sort's index.
    many = lists.SIFTED if filters.number is None and filters.deposited_from is None else lists.WALK
    assert page_read(filters, None, sort_key, MANY) == many
    assert page_read(filters, None, sort_key, None) == lists.WALK  # « plus de CAP »: not counted


def test_more_than_cap_rows_of_an_equality_beside_the_cadre_or_the_rights_are_sifted():
    assert page_read(Filters(party_id=9, cadre="A10"), None, "montant", MANY) == lists.SIFTED
    assert page_read(Filters(party_id=9), True, "montant", MANY) == lists.SIFTED
    # The equality's index in the sort's order, the rights or the cadre filtered along it: walked.
    assert page_read(Filters(party_id=9), True, "date", MANY) == lists.WALK
    assert page_read(Filters(status="A_VALIDER_1", cadre=""), None, "statut", MANY) == lists.WALK
    assert page_read(Filters(status="A_VALIDER_1", cadre="A10"), None, "montant", MANY) == lists.WALK
    assert page_read(Filters(status="A_VALIDER_1"), True, "numero", MANY) == lists.WALK
    assert page_read(Filters(marche_id=4, status="A_VALIDER_1"), None, "date", MANY) == lists.SIFTED
    assert page_read(Filters(status="A_VALIDER_1", number="F"), None, "montant", MANY) == lists.WALK


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


def test_a_sift_looks_at_a_quarter_of_the_filtered_rows_at_most_cap_at_least_a_page():
    assert lists.sift_rows(None, 25) == lists.SIFT_ROWS == counts.CAP
    assert lists.sift_rows(27_480, 25) == counts.CAP
    assert lists.sift_rows(1_214, 25) == 303
    assert lists.sift_rows(40, 25) == 26


@pytest.mark.parametrize("filters, order", [
    (Filters(deposited_from=date(2026, 1, 1), deposited_to=date(2026, 1, 31)), ("sort_date", "piece_id")),
    (Filters(deposited_to=date(2026, 1, 31), status="A_VALIDER_1"), ("sort_date", "piece_id")),
    (Filters(number="F12"), ("number_key", "piece_id")),
    (Filters(number="F12", deposited_from=date(2026, 1, 1)), ("number_key", "piece_id")),
])
def test_a_capped_count_reads_the_range_of_its_filters_in_the_index_order(monkeypatch, filters, order):
    # A period's count reads its range of the date's index in order, stopping at CAP + 1: read without an order,
    # PostgreSQL took a month's whole range by a bitmap (12–19 thousand entries at a million pieces).
    from types import SimpleNamespace

    from chorus_chain.operations import dashboard

    seen = []
    monkeypatch.setattr(counts, "capped_groups", lambda conditions, params, along=(): seen.append(along) or None)
    monkeypatch.setattr(dashboard, "_number_order", lambda: True)
    assert dashboard.overview(SimpleNamespace(id=7), filters, None).more_than == counts.CAP
    assert [tuple(column.name for column in along) for along in seen] == [order]
