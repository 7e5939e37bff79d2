"""The adapter from the money rows to the engine's inputs (chorus_chain/operations/money.py), through the database.

The world is tests/integration/pieces_world.py's groupement conjoint (see tests/integration/etats_world.py for its
parts: 356 000 + 446 000 + 96 000 + 48 000 + 54 000 = 1 000 000 € HT)."""
from __future__ import annotations

from decimal import Decimal

import pytest

from chorus_chain.domain import money as engine
from chorus_chain.extensions import db
from chorus_chain.models import Marche, MarcheParty
from chorus_chain.models.money import EtatAcompte
from chorus_chain.operations import OperationError
from chorus_chain.operations import money as adapter
from tests.integration.etats_world import index_value, price_line, setup_marche, taken_pdm
from tests.integration.pieces_world import system, world


def _marche(w) -> Marche:
    return db.session.get(Marche, w.marche_id)


def test_terms_turn_percents_into_fractions_and_read_every_setting(app, db):
    w = world(app)
    setup_marche(app, w, retenue_rate=Decimal("3.00"), avance_rate=Decimal("35.00"), avance_guarantee=True,
                 avance_repayment_end=Decimal("100.00"), duration_months=18, price_form="revisable",
                 revision_a=Decimal("0.1250"), revision_index="BT01", revision_base_month="2026-01",
                 penalty_daily_amount=Decimal("150.00"), penalty_exemption=False)
    with system(app):
        terms = adapter.terms_of(_marche(w))
    assert terms.montant_ht == Decimal("1000000.00") and terms.tva_rate == Decimal("0.2")
    assert terms.retenue.rate == Decimal("0.03") and terms.retenue.replaced == frozenset()
    assert (terms.avance.rate, terms.avance.guarantee) == (Decimal("0.35"), True)
    # Repayment: linear from 65 % to 100 % executed → at 82.5 % half the advance is repaid.
    assert terms.avance.schedule.fraction(Decimal("0.825")) == Decimal("0.5")
    assert terms.duration_months == 18 and terms.groupement == "conjoint"
    assert terms.revision == engine.RevisionTerms(Decimal("0.1250"), "BT01", "2026-01")
    assert terms.penalties.daily_amount == Decimal("150.00") and terms.penalties.exemption_threshold_ht is None


def test_a_guarantee_replaces_the_retenue_of_every_beneficiary(app, db):
    w = world(app)
    setup_marche(app, w, retenue_replaced_by_guarantee=True)
    with system(app):
        terms = adapter.terms_of(_marche(w))
    assert terms.retenue.replaced == {w.mandataire.party_id, w.cotraitant.party_id, w.st1.party_id,
                                      w.sibling.party_id, w.st_co.party_id}
    with system(app):  # by default: firm prices, CCAG penalties with the 1 000 € exemption
        plain = adapter.terms_of(_marche(world(app)))
    assert plain.revision is None and plain.penalties.exemption_threshold_ht == Decimal("1000")


@pytest.mark.parametrize("fields, message", [
    ({"retenue_rate": Decimal("6.00")}, "dépasse le plafond légal de 5"),
    ({"avance_rate": Decimal("35.00")}, "qu'avec une garantie à première demande"),
    ({"avance_rate": Decimal("3.00")}, "ne peut être inférieur à 5"),
    ({"revision_index": "BT01"}, "indiquez la partie fixe a et le mois zéro"),
])
def test_illegal_rates_are_refused_in_french(app, db, fields, message):
    # The database's CHECK constraints refuse the first two as well; a marché being edited (not flushed yet) is what
    # reaches the adapter with them.
    marche = Marche(reference="X", objet="x", kind="travaux", montant_ht=Decimal("100000.00"),
                    tva_rate=Decimal("20.00"), retenue_rate=Decimal("5.00"), avance_rate=Decimal("0.00"),
                    duration_months=12, avance_guarantee=False, avance_repayment_end=Decimal("80.00"),
                    penalty_exemption=True, groupement="none", retenue_replaced_by_guarantee=False)
    for name, value in fields.items():
        setattr(marche, name, value)
    with pytest.raises(OperationError) as refused:
        adapter.terms_of(marche)
    assert message in refused.value.message


def test_beneficiaries_are_the_holder_cotraitants_and_paiement_direct_sous_traitants(app, db):
    w = world(app)
    with system(app):
        found = {b.key: b for b in adapter.beneficiaries_of(_marche(w))}
    # st2 (rang 2, paid by st1) is not a beneficiary: its work is inside st1's part.
    assert set(found) == {w.mandataire.party_id, w.cotraitant.party_id, w.st1.party_id, w.sibling.party_id,
                          w.st_co.party_id}
    m, c, s1 = found[w.mandataire.party_id], found[w.cotraitant.party_id], found[w.st1.party_id]
    # 600 000 TTC / 1.2 = 500 000 HT, less st1 (96 000) and sibling (48 000): 356 000.
    assert (m.role, m.part_ht) == ("mandataire", Decimal("356000.00"))
    assert (c.role, c.part_ht) == ("cotraitant", Decimal("446000.00"))  # 500 000 − st_co 54 000
    assert (s1.role, s1.part_ht, s1.dc4_ceiling_ttc) == ("sous_traitant", Decimal("96000.00"), Decimal("96000.00"))
    assert s1.autoliquidation and s1.paiement_direct and s1.contractor_key == w.mandataire.party_id
    assert found[w.st_co.party_id].contractor_key == w.cotraitant.party_id
    assert sum(b.part_ht for b in found.values()) == Decimal("1000000.00")


def test_a_complete_price_schedule_decides_the_parts(app, db):
    w = world(app)
    # A complete bordereau: 300 000 + 50 000 + 452 000 + 90 000 + 6 000 + 48 000 + 54 000 = 1 000 000 € HT. Its lines
    # give the mandataire 350 000 (a line without party is the holder's), the co-traitant 452 000 (not the 446 000
    # of the chain amounts), st1 96 000 (its own 90 000 + st2's 6 000: st2 is rang 2, paid by st1).
    price_line(app, w, "M1", None, amount="300000.00")
    price_line(app, w, "M2", w.mandataire.party_id, quantity="250", unit_price="200")  # 50 000
    price_line(app, w, "C1", w.cotraitant.party_id, amount="452000.00")
    price_line(app, w, "S1", w.st1.party_id, amount="90000.00")
    price_line(app, w, "S2", w.st2.party_id, amount="6000.00")
    price_line(app, w, "SB", w.sibling.party_id, amount="48000.00")
    price_line(app, w, "SC", w.st_co.party_id, amount="54000.00")
    with system(app):
        parts = {b.key: b.part_ht for b in adapter.beneficiaries_of(_marche(w))}
    assert parts == {w.mandataire.party_id: Decimal("350000.00"), w.cotraitant.party_id: Decimal("452000.00"),
                     w.st1.party_id: Decimal("96000.00"), w.sibling.party_id: Decimal("48000.00"),
                     w.st_co.party_id: Decimal("54000.00")}
    assert sum(parts.values()) == Decimal("1000000.00")


def test_parts_that_do_not_add_up_are_refused_with_the_engines_message(app, db):
    w = world(app)
    with system(app):
        db.session.get(MarcheParty, w.cotraitant.party_id).montant_ttc = Decimal("590000.00")
    with system(app), pytest.raises(OperationError) as refused:
        adapter.beneficiaries_of(_marche(w))
    # 590 000 / 1.2 = 491 666.67; − 54 000 = 437 666.67; + 356 000 + 198 000 = 991 666,67.
    assert "La somme des parts des bénéficiaires (991\u202f666,67\u00a0€ HT) diffère du montant du marché" \
        in refused.value.message
    with system(app):
        assert len(adapter.beneficiaries_of(_marche(w), check=False)) == 5  # the penalty form still lists them


def test_index_table_reads_the_values_and_their_status(app, db):
    w = world(app)
    with system(app):
        assert adapter.index_table_of(_marche(w)) is None  # firm prices
    setup_marche(app, w, revision_a=Decimal("0.15"), revision_index="BT01", revision_base_month="2026-01")
    index_value(app, w, "2026-01", "130.0")
    index_value(app, w, "2026-02", "131.3", definitive=False)
    with system(app):
        table = adapter.index_table_of(_marche(w))
    assert table.name == "BT01"
    assert table.get("2026-01") == engine.IndexValue("2026-01", Decimal("130.0000"), engine.IndexStatus.DEFINITIVE)
    assert table.get("2026-02").status is engine.IndexStatus.PROVISIONAL
    with pytest.raises(engine.MissingIndexError, match="Indice BT01 manquant pour le mois de mars 2026"):
        table.get("2026-03")


def test_decompte_keeps_claimed_and_admitted_and_carries_the_silent_beneficiaries(app, db):
    from chorus_chain.models.money import Decompte, DecompteLine

    w = world(app)
    line = price_line(app, w, "M1", w.mandataire.party_id, quantity="100", unit_price="200")
    pdm = taken_pdm(app, w, w.mandataire, "PDM-1", month="2026-02", measures={line: "50"},
                    approvisionnements="1500,00", primes="300,00")
    with system(app):
        decompte_id = db.session.scalar(db.select(Decompte.id).where(Decompte.piece_id == pdm))
    with system(app):
        row = db.session.get(Decompte, decompte_id)
        row.admitted_approvisionnements = Decimal("1000.00")
        db.session.scalar(db.select(DecompteLine).where(DecompteLine.decompte_id == decompte_id)) \
            .admitted_amount_ht = Decimal("8000.00")
    with system(app):
        marche = _marche(w)
        beneficiaries = adapter.beneficiaries_of(marche)
        mensuel = adapter.decompte_of(marche, 1, "2026-02", adapter.load_decomptes([decompte_id]), [], beneficiaries)
    key = w.mandataire.party_id
    assert mensuel.part(key) == engine.PartDecompte(key, travaux=Decimal("8000.00"),
                                                    approvisionnements=Decimal("1000.00"), primes=Decimal("300.00"))
    assert mensuel.claimed == (engine.PartDecompte(key, travaux=Decimal("10000.00"),
                                                   approvisionnements=Decimal("1500.00"), primes=Decimal("300.00")),)
    # Everyone else claimed nothing: zero, no issued état yet to carry from.
    assert mensuel.part(w.cotraitant.party_id) == engine.PartDecompte(w.cotraitant.party_id)
    assert len(mensuel.parts) == 5


def test_previous_state_is_the_last_issued_etat(app, db):
    w = world(app)
    state = engine.CumulState(2, "2026-03", ((w.mandataire.party_id, engine.Figures(works_ht=Decimal("5.00"))),))
    with system(app):
        marche = _marche(w)
        assert adapter.previous_state(marche) is None
        moe = db.session.get(MarcheParty, w.moe.party_id)
        for number, status, result in ((1, "issued", {"state": {**state.to_dict(), "number": 1}}),
                                       (2, "issued", {"state": state.to_dict()}), (3, "draft", None)):
            db.session.add(EtatAcompte(marche_id=marche.id, number=number, month="2026-03", status=status,
                                       result=result, created_by_id=w.moe.account_id))
        assert moe is not None
    with system(app):
        assert adapter.previous_state(_marche(w)) == state
        assert adapter.previous_state(_marche(w), before_number=2).number == 1
