"""Reading a question (chorus_chain.assistant.reading): numbers typed loosely, typos, no accents; intents."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from chorus_chain.assistant import reading as R
from chorus_chain.domain.statuses import Status


@pytest.mark.parametrize("question, code", [
    ("ou en est ma facture PL-2026-002 ?", "PL-2026-002"),
    ("où en est la pl 2026 002 svp", "PL-2026-002"),
    ("qui doit valider la pl2026002", "PL2026002"),
    ("la DB 2026 1 a ete payee ?", "DB-2026-1"),
    ("facture F12", "F12"),
    ("ma facture 2026/0143-B", "2026/0143-B"),
])
def test_piece_numbers_are_read_however_they_are_typed(question, code):
    assert R.read(question).codes[0] == code


@pytest.mark.parametrize("typed, number", [
    ("PL-2026-2", "PL-2026-002"), ("pl 2026 002", "PL-2026-002"), ("PL2026002", "PL-2026-002"),
    ("pl_2026_02", "PL-2026-002"),
])
def test_a_number_is_the_same_number_whatever_its_separators_and_leading_zeros(typed, number):
    assert R.same_number(typed, number)


@pytest.mark.parametrize("typed, number", [("PL-2026-003", "PL-2026-002"), ("PL-2026-02", "DB-2026-002"),
                                           ("PL-2025-002", "PL-2026-002")])
def test_different_numbers_stay_different(typed, number):
    assert not R.same_number(typed, number)


def test_words_are_not_piece_numbers():
    assert R.read("comment valider la facture d'un sous-traitant").codes == ()
    assert R.read("facture de 9 600,00 € du 3/11/2026").codes == ()


@pytest.mark.parametrize("question, intent", [
    ("ou en est ma facture", R.WHERE),
    ("pourquoi est elle a recyler", R.WHY),  # typo
    ("quand serais je payer", R.WHEN_PAID),
    ("qui doit valider ma facture", R.WHO),
    ("que veut dire mise a disposition", R.MEANS),
    ("comment deposer un avoir", R.HOW),
    ("je veux parler a un conseiller", R.AGENT),
    ("pourqoi ma facture est rejete", R.WHY),  # typo
])
def test_intents(question, intent):
    assert R.read(question).intent == intent


def test_statuses_amounts_dates_and_sirets_are_read():
    reading = R.read("ma facture rejetée de 9 600,00 € deposee le 3 novembre, SIRET 512 013 186 00014",
                     today=date(2026, 12, 6))
    assert Status.REJETEE in reading.statuses
    assert reading.amounts == (Decimal("9600.00"),)
    assert date(2026, 11, 3) in reading.dates
    assert reading.sirets == ("51201318600014",)


def test_the_search_text_leaves_the_way_of_asking_out():
    assert R.search_text(R.read("comment on fait pour deposer un projet de decompte")) == \
        "deposer un projet de decompte"
