"""The demo's works pieces are projets de décompte entered line by line, like its three months' (issue 15: « a works
piece must start from its décompte »): each has its décompte's lines, its amounts are the engine's figures from those
lines, a partial validation accepts the engine's value of the lines its validator admits, and the piece page shows
the lines to whoever must act on it (its donneur d'ordre, the MOE, the MOA) and to its emitter."""
from __future__ import annotations

import re
from decimal import Decimal

import pytest
from sqlalchemy import select

from chorus_chain import demo
from chorus_chain.access import system_access
from chorus_chain.domain.money import schedule as rules
from chorus_chain.extensions import db
from chorus_chain.models import Marche, MarcheParty, Piece
from chorus_chain.models.money import Decompte, DecompteLine, EtatAcompte, PriceLine
from chorus_chain.operations import decomptes
from tests.integration.test_marches_visibility import client_for

WORKS = [s for s in demo.DEMO_PIECES if s.is_works]


@pytest.fixture(scope="module")
def app(demo_app):
    return demo_app


def _lines(decompte: Decompte | None) -> dict[str, tuple[DecompteLine, PriceLine]]:
    if decompte is None:
        return {}
    return {line.reference: (row, line) for row, line in db.session.execute(
        select(DecompteLine, PriceLine).join(PriceLine, PriceLine.id == DecompteLine.price_line_id)
        .where(DecompteLine.decompte_id == decompte.id))}


def _terms(line: PriceLine) -> rules.PriceTerms:
    return rules.PriceTerms(line.lump_sum, line.amount_ht, line.quantity, line.unit_price_ht)


def _measure(row: DecompteLine, line: PriceLine) -> Decimal:
    return row.percent if line.lump_sum else row.quantity


def _cumul(decompte: Decompte | None, lines: dict) -> rules.Cumul:
    works = sum((row.amount_ht for row, _ in lines.values()), Decimal("0.00"))
    extras = {name: getattr(decompte, name) if decompte is not None else Decimal("0.00") for name in rules.EXTRAS}
    return rules.Cumul(works=works, **extras)


def test_the_demo_has_five_works_pieces_each_a_projet_de_decompte_of_a_month():
    assert [s.number for s in WORKS] == ["PL-2026-001", "PL-2026-002", "ME-2026-001", "DB-2026-004", "MB-2026-001"]
    assert all(s.cadre in decomptes.PDM_CADRES and s.cumul and s.ht is None for s in WORKS)
    assert all(not s.is_works and s.ht for s in demo.DEMO_PIECES if s not in WORKS)  # the private invoices


def test_every_works_piece_has_its_lines_and_the_engines_amounts(app, db):
    with app.app_context(), system_access("tests: the demo's works pieces"):
        marche = db.session.scalar(select(Marche).where(Marche.reference == demo.DEMO_MARCHE))
        pieces = db.session.scalars(select(Piece).where(Piece.marche_id == marche.id,
                                                        Piece.cadre.in_(list(decomptes.PDM_CADRES)))).all()
        numbers = {p.number for p in pieces}
        assert {s.number for s in WORKS} <= numbers and len(numbers) == 12  # and the months' 7 PDMs
        for piece in pieces:
            decompte = db.session.scalar(select(Decompte).where(Decompte.piece_id == piece.id))
            assert decompte is not None, piece.number
            lines = _lines(decompte)
            party = db.session.get(MarcheParty, piece.emitter_party_id)
            assert set(lines) == {line.reference for line in decomptes.party_lines(marche.id, party)}, piece.number
            for reference, (row, line) in lines.items():  # each line valued by the engine
                assert row.amount_ht == rules.pdm_line_amount(_terms(line), _measure(row, line)), reference
            previous = decomptes.previous_decompte(party.id, decompte.month, except_piece_id=piece.id)
            amount = rules.pdm_amount(_cumul(decompte, lines), _cumul(previous, _lines(previous)))
            tva = rules.vat_of(amount.montant_ht, marche.tva_rate,
                               autoliquidation=piece.vat_regime == "autoliquidation")
            assert (piece.montant_ht, piece.montant_tva, piece.montant_ttc) == (
                amount.montant_ht, tva, amount.montant_ht + tva), piece.number
            assert piece.montant_ht > 0
        by_number = {p.number: p for p in pieces}
        for scenario in WORKS:  # the cumul typed is the cumul stored, the others kept from last month
            lines = _lines(db.session.scalar(select(Decompte).where(Decompte.piece_id == by_number[scenario.number].id)))
            for reference, typed in scenario.cumul:
                row, line = lines[reference]
                assert _measure(row, line) == Decimal(typed), (scenario.number, reference)


def test_the_story_of_each_works_piece_is_told_from_its_decompte(app, db):
    with app.app_context(), system_access("tests: the demo's works pieces"):
        marche = db.session.scalar(select(Marche).where(Marche.reference == demo.DEMO_MARCHE))
        third = db.session.scalar(select(EtatAcompte).where(EtatAcompte.marche_id == marche.id,
                                                            EtatAcompte.number == 3))
        pieces = {p.number: p for p in db.session.scalars(select(Piece).where(Piece.marche_id == marche.id))}
        months = {number: db.session.scalar(select(Decompte.month).where(Decompte.piece_id == piece.id))
                  for number, piece in pieces.items()}
        status = {number: piece.status for number, piece in pieces.items()}
        year, month = map(int, third.month.split("-"))
        fourth = f"{year + 1:04d}-01" if month == 12 else f"{year:04d}-{month + 1:02d}"
        for scenario in WORKS:
            assert months[scenario.number] == (third.month if scenario.month == 3 else fourth), scenario.number
        # Leroy's month 3 at the MOE's (tacitly validated), its month 4 at the mandataire's; Martin's first month 3
        # refused, the one it deposited next in état n° 3 with Durand's; Bernard's at the mandataire's; Durand's
        # month 4 at the MOE's. None of the five is in an état.
        assert status["PL-2026-001"] == status["DB-2026-004"] == "A_ASSOCIER_MOE"
        assert status["PL-2026-002"] == "A_VALIDER_1" and status["MB-2026-001"] == "A_VALIDER_2"
        assert status["ME-2026-001"] == "REFUSEE_1" and months["ME-PDM-03"] == third.month
        assert db.session.scalars(select(Decompte).where(
            Decompte.piece_id.in_([pieces[s.number].id for s in WORKS]),
            Decompte.etat_acompte_id.is_not(None))).all() == []
        in_third = {pieces_number for pieces_number, piece in pieces.items() if db.session.scalar(
            select(Decompte.etat_acompte_id).where(Decompte.piece_id == piece.id)) == third.id}
        assert in_third == {"DB-PDM-03", "ME-PDM-03"}
        # Bernard's partial validation: Martin admits 6 of the 7 blocs-portes; it accepts the engine's value of that
        # line at 6 (its first décompte: nothing before), under autoliquidation (no VAT).
        bernard = pieces["MB-2026-001"]
        row, line = _lines(db.session.scalar(select(Decompte).where(Decompte.piece_id == bernard.id)))["MI-01"]
        assert _measure(row, line) == Decimal("7") and bernard.vat_regime == "autoliquidation"
        admitted = rules.pdm_amount(rules.Cumul(works=rules.pdm_line_amount(_terms(line), Decimal("6"))),
                                    rules.Cumul(works=Decimal("0.00")))
        assert bernard.accepted_amount == admitted.montant_ht < bernard.montant_ttc
        assert "6 blocs-portes posés sur 7" in bernard.accepted_why["reason"]


# Who must see a works piece's lines: its emitter, its donneur d'ordre(s), the MOE and the MOA.
VIEWERS = {"PL-2026-001": ["st_platrerie", "mandataire", "moe", "moa"],
           "PL-2026-002": ["st_platrerie", "mandataire", "moe", "moa"],
           "ME-2026-001": ["cotraitant", "mandataire", "moe", "moa"],
           "DB-2026-004": ["mandataire", "moe", "moa"],
           "MB-2026-001": ["st_menuiserie", "cotraitant", "mandataire", "moe", "moa"]}


def test_the_piece_page_shows_the_lines_to_whoever_acts_on_it(app, db):
    assert set(VIEWERS) == {s.number for s in WORKS}
    with app.app_context(), system_access("tests: the demo's works pieces"):
        ids = {p.number: p.id for p in db.session.scalars(select(Piece).where(Piece.number.in_(VIEWERS)))}
    clients = {key: client_for(app, key)[0] for key in {k for keys in VIEWERS.values() for k in keys}}
    for scenario in WORKS:
        for key in VIEWERS[scenario.number]:
            siret = next(c.siret for c in demo.COMPANIES if c.key == key)
            response = clients[key].get(f"/s/{siret}/pieces/{ids[scenario.number]}")
            assert response.status_code == 200, (scenario.number, key)
            page = response.get_data(as_text=True)
            lines = page[page.index('id="piece-decompte"'):]
            lines = lines[:lines.index("</section>")]
            for reference, _ in scenario.cumul:
                assert re.search(rf">\s*{reference}\s*<", lines), (scenario.number, key, reference)
