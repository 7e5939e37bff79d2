"""The marché's money clauses of issue 16 (part B), worked examples through the database: a guarantee replacing the
retenue of one company for an amount, a sous-traitant declining its advance, the pace of the advance repayment.

Sources: R2191-36 (a garantie à première demande or a caution personnelle et solidaire may replace the retenue; its
amount is at most the retenue it replaces), the CCAG-Travaux 2021 art. 11.? on its completion when the marché grows
(the retenue is otherwise held on what it does not cover); R2191-11 (the advance is repaid at the pace the marché
fixes), R2193-18 (the titulaire's advance is on the marché less the parts paid directly to sous-traitants), R2193-19
(a sous-traitant is paid its advance only at its request); CHORUS.md §6b.

The world: tests/integration/etats_world.py — groupement conjoint, 1 000 000 € HT, TVA 20 %, retenue 5 %, firm
prices; the mandataire's own part 356 000 HT (its sous-traitants st1 96 000 and sibling 48 000 in paiement direct,
reverse-charged), the co-traitant's 446 000 (st_co 54 000). NOW = 2 March 2026.
"""
from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import select

from chorus_chain.domain import money as engine
from chorus_chain.extensions import db
from chorus_chain.models import AvanceRepaymentAmount, Marche, MarcheEvent, MarcheParty, RetenueGuarantee
from chorus_chain.operations import OperationError
from chorus_chain.operations import etats_acompte as etat_ops
from chorus_chain.operations import money as adapter
from chorus_chain.operations.money_clauses import avance as avance_ops
from chorus_chain.operations.money_clauses import guarantees as guarantee_ops
from tests.integration.etats_world import NOW, as_moe, price_line, setup_marche, taken_pdm
from tests.integration.pieces_world import count, system, world

D = Decimal


def _column(result: dict, key: int, column: str, when: str = "to_date") -> str:
    beneficiary = next(b for b in result["beneficiaries"] if b["key"] == key)
    return beneficiary["columns"][column][when]


def _etat(app, w, month: str, *, issue: bool = True) -> dict:
    """The MOE opens the état of `month`, computes it and (by default) issues it; returns the engine's figures."""
    def run(access, account, structure):
        etat = etat_ops.open_etat(access, account, structure, month, now=NOW)
        result = etat_ops.compute(access.marche, etat).result.to_dict()
        if issue:
            etat_ops.issue(access, etat.id, account, structure, now=NOW)
        return result
    return as_moe(app, w, run)


def _as_moa(app, w, fn):
    return as_moe(app, w, fn, who=w.moa)


def _add_guarantee(app, w, **raw):
    return _as_moa(app, w, lambda access, account, structure: guarantee_ops.add_guarantee(
        account, structure, access, raw, now=NOW).id)


# ---------------------------------------------------------------------------------------------------------------------
# 1. A guarantee replacing the retenue of one company, for an amount


def test_a_caution_covering_the_initial_part_leaves_the_retenue_held_on_the_rest_only(app, db):
    """The mandataire's caution personnelle et solidaire, given on 10 February 2026, covers 6 000,00 € of retenue:
    5 % of the first 100 000 € HT of its works (100 000 × 1,2 × 5 % = 6 000), say its part before an avenant that
    raised it. The retenue is then held only on the works beyond them.

    (Once the `avenants` model lands, the same example reads: the caution sized on the initial marché, the retenue
    held on the avenant only — the amount is what ties the guarantee to the initial marché.)"""
    w = world(app)
    line = price_line(app, w, "M1", w.mandataire.party_id, quantity="1000", unit_price="200")
    # January: 400 m² × 200 = 80 000 HT; no guarantee yet → retenue 5 % × 80 000 × 1,2 = 4 800,00.
    taken_pdm(app, w, w.mandataire, "PDM-1", month="2026-01", measures={line: "400"})
    january = _etat(app, w, "2026-01")
    key = w.mandataire.party_id
    assert _column(january, key, "retenue") == "4800.00"

    guarantee_id = _add_guarantee(app, w, party_id=str(key), kind="caution", given_on="2026-02-10", amount="6 000,00")

    # February: cumulative 550 m² × 200 = 110 000 HT; retenue computed 5 % × 110 000 × 1,2 = 6 600,00;
    # held 6 600 − 6 000 = 600,00 = 5 % × (110 000 − 100 000) × 1,2, the works beyond what the caution covers.
    # This month: 600 − 4 800 = −4 200,00: what January held on the covered part is given back.
    taken_pdm(app, w, w.mandataire, "PDM-2", month="2026-02", measures={line: "550"})
    february = _etat(app, w, "2026-02")
    assert _column(february, key, "retenue") == "600.00"
    assert _column(february, key, "retenue", "this") == "-4200.00"
    # TTC this month 30 000 × 1,2 = 36 000; due 36 000 − (−4 200) = 40 200,00.
    assert _column(february, key, "amount_due", "this") == "40200.00"
    lines = next(b for b in february["beneficiaries"] if b["key"] == key)["columns"]["retenue"]["lines"]
    assert any("caution personnelle et solidaire du 10/02/2026" in line["formula"] for line in lines)
    # The other beneficiaries are untouched; the guarantee is journalled.
    with system(app):
        assert db.session.get(RetenueGuarantee, guarantee_id).amount == D("6000.00")
        event = db.session.scalar(select(MarcheEvent).where(MarcheEvent.kind == "retenue.guarantee"))
        assert (event.party_id, event.detail["guarantee_kind"], event.detail["amount"]) == (key, "caution", "6000.00")


def test_a_caution_sized_on_the_initial_marche_leaves_the_retenue_held_on_the_avenant_only(app, db):
    """Issue 16's worked example, with a real avenant: the mandataire's caution personnelle et solidaire (10 February
    2026) covers the retenue of its initial part, 5 % × 356 000 × 1,20 = 21 360,00 €. Avenant n° 1 (1 March 2026)
    adds 100 000 € HT to its part (new lump-sum line M2). The caution does not grow with the avenant, so the retenue
    is held on the avenant's works only (R2191-36: the guarantee replaces the retenue for the amount it covers;
    CCAG-Travaux 2021: the retenue is otherwise held on what it does not cover)."""
    from types import SimpleNamespace

    from chorus_chain.models import PriceLine
    from chorus_chain.operations import avenants

    w = world(app)
    key = w.mandataire.party_id
    m1 = price_line(app, w, "M1", key, amount="356000.00")
    _add_guarantee(app, w, party_id=str(key), kind="caution", given_on="2026-02-10", amount="21 360,00")

    # État of February: M1 at 50 % = 178 000 HT. Retenue computed 5 % × 178 000 × 1,20 = 10 680,00, all covered by
    # the caution (10 680 ≤ 21 360): held 0,00.
    taken_pdm(app, w, w.mandataire, "PDM-1", month="2026-02", measures={m1: "50"})
    february = _etat(app, w, "2026-02")
    assert _column(february, key, "retenue") == "0.00"

    def record(access, account, structure):
        row = avenants.record_avenant(account, structure, access, {
            "signed_on": "2026-03-01", "amount_ht": "100 000,00", "party_id": str(key), "objet": "Extension du préau",
            "new_reference": "M2", "new_designation": "Préau, extension", "new_amount": "100 000,00"}, now=NOW)
        return SimpleNamespace(id=row.id)
    _as_moa(app, w, record)
    with system(app):
        m2 = db.session.scalar(select(PriceLine.id).where(PriceLine.marche_id == w.marche_id,
                                                           PriceLine.reference == "M2"))

    # État of March: M1 done (356 000) and M2 at 50 % (50 000): cumulative 406 000 HT. Retenue computed
    # 5 % × 406 000 × 1,20 = 24 360,00; the caution covers 21 360,00; held 3 000,00 = 5 % × 50 000 × 1,20, exactly
    # the retenue on the avenant's works. This month: 3 000 − 0 = 3 000,00.
    taken_pdm(app, w, w.mandataire, "PDM-2", month="2026-03", measures={m1: "100", m2: "50"})
    march = _etat(app, w, "2026-03")
    assert _column(march, key, "retenue") == "3000.00"
    assert _column(march, key, "retenue", "this") == "3000.00"
    # Works this month 228 000 HT × 1,20 = 273 600 TTC; due 273 600 − 3 000 = 270 600,00 (no advance on this marché).
    assert _column(march, key, "amount_due", "this") == "270600.00"


def test_a_guarantee_for_the_whole_retenue_of_one_company_holds_nothing_on_it_only(app, db):
    w = world(app)
    m_line = price_line(app, w, "M1", w.mandataire.party_id, quantity="1000", unit_price="200")
    c_line = price_line(app, w, "C1", w.cotraitant.party_id, quantity="1000", unit_price="100")
    _add_guarantee(app, w, party_id=str(w.cotraitant.party_id), kind="gapd", given_on="2026-01-05", amount="")
    taken_pdm(app, w, w.mandataire, "PDM-1", month="2026-01", measures={m_line: "100"})
    taken_pdm(app, w, w.cotraitant, "PDM-C1", month="2026-01", measures={c_line: "100"})
    result = _etat(app, w, "2026-01", issue=False)
    # mandataire: 5 % × 20 000 × 1,2 = 1 200,00 held; co-traitant: 5 % × 10 000 × 1,2 = 600 replaced → 0,00.
    assert _column(result, w.mandataire.party_id, "retenue") == "1200.00"
    assert _column(result, w.cotraitant.party_id, "retenue") == "0.00"


@pytest.mark.parametrize("raw, message", [
    ({"given_on": "2025-12-31"}, "ne peut pas précéder le marché"),
    ({"given_on": "2026-03-03"}, "ne peut pas être datée dans le futur"),
    ({"given_on": "15/02/2026"}, "Indiquez la date de la garantie"),
    ({"kind": "hypotheque"}, "garantie à première demande ou une caution"),
    ({"party_id": "moe"}, "Choisissez une entreprise payée par l'acheteur"),
    ({"amount": "22 800,01"}, "dépasse la retenue de garantie qu'elle remplace : 22\u202f800,00\u00a0€ au plus"),
    ({"amount": "-5"}, "positif"),
])
def test_bad_guarantees_are_refused_in_french_and_change_nothing(app, db, raw, message):
    """The marché's mois zéro is January 2026 (revisable): a guarantee dated the day before is refused. The
    mandataire's retenue is at most 5 % × (356 000 × 1,2 + 20 % × 144 000 of VAT it self-assesses on st1 and
    sibling) = 5 % × 456 000 = 22 800,00."""
    w = world(app)
    setup_marche(app, w, price_form="revisable", revision_a=D("0.1250"), revision_index="BT01",
                 revision_base_month="2026-01")
    if raw.get("party_id") == "moe":
        raw = {**raw, "party_id": str(w.moe.party_id)}
    fields = {"party_id": str(w.mandataire.party_id), "kind": "caution", "given_on": "2026-02-01", "amount": "",
              **raw}
    with pytest.raises(OperationError, match=message):
        _add_guarantee(app, w, **fields)
    assert count(app, RetenueGuarantee) == 0
    assert count(app, MarcheEvent, MarcheEvent.kind == "retenue.guarantee") == 0


def test_only_the_moa_records_a_guarantee(app, db):
    w = world(app)
    with pytest.raises(OperationError, match="Seul le maître d'ouvrage"):
        as_moe(app, w, lambda access, account, structure: guarantee_ops.add_guarantee(
            account, structure, access, {"party_id": str(w.mandataire.party_id), "kind": "gapd",
                                         "given_on": "2026-02-01"}, now=NOW), who=w.mandataire)
    assert count(app, RetenueGuarantee) == 0


# ---------------------------------------------------------------------------------------------------------------------
# 2. A sous-traitant declines its advance


def _advances(app, w) -> dict[int, engine.Explained]:
    with system(app):
        marche = db.session.get(Marche, w.marche_id)
        beneficiaries = adapter.beneficiaries_of(marche)
        terms = adapter.terms_of(marche, beneficiaries)
        return {b.key: engine.avance_of(terms, beneficiaries, b) for b in beneficiaries}


def test_a_sous_traitant_declines_its_advance_and_its_contractor_gets_none_on_its_part(app, db):
    """Advance 5 %, 12 months. The mandataire's advance is on its part less the parts paid directly to st1 and
    sibling (R2193-18): 5 % × (356 000 × 1,2 + 20 % × 144 000) = 5 % × 456 000 = 22 800,00 — whether st1 takes its
    own or not. st1 declines (R2193-19): its 5 % × 96 000 = 4 800,00 is not paid, to anyone. The marché's advances:
    22 800 + 0 + 2 400 (sibling) + 27 300 (co-traitant: 5 % × (446 000 × 1,2 + 20 % × 54 000)) + 2 700 (st_co)
    = 55 200,00 = 5 % × 1 200 000 − 4 800."""
    w = world(app)
    setup_marche(app, w, avance_rate=D("5.00"))
    before = _advances(app, w)
    assert before[w.st1.party_id].value == D("4800.00")

    declined = as_moe(app, w, lambda access, account, structure: avance_ops.set_avance_declined(
        account, structure, access, w.st1.party_id, True, now=NOW), who=w.st1)
    assert declined is True
    after = _advances(app, w)
    assert after[w.st1.party_id].value == D("0.00")
    assert "R2193-19" in after[w.st1.party_id].lines[0].formula
    mandataire = after[w.mandataire.party_id]
    assert mandataire.value == D("22800.00") == before[w.mandataire.party_id].value
    assert mandataire.lines[0].result == D("356000.00")  # the part that opens the advance, and the page says why
    assert "R2193-18" in mandataire.lines[0].formula
    assert sum((a.value for a in after.values()), D(0)) == D("55200.00")
    assert count(app, MarcheEvent, MarcheEvent.kind == "avance.declined", MarcheEvent.party_id == w.st1.party_id) == 1

    # The first état carries it: st1's advance paid is 0,00.
    line = price_line(app, w, "S1", w.st1.party_id, quantity="96", unit_price="1000")
    taken_pdm(app, w, w.st1, "ST-1", month="2026-01", measures={line: "10"})
    result = _etat(app, w, "2026-01")
    assert _column(result, w.st1.party_id, "avance_paid") == "0.00"
    assert _column(result, w.mandataire.party_id, "avance_paid") == "22800.00"
    # Once an état is issued the choice is closed (it would move money already counted).
    with pytest.raises(OperationError, match="déjà émis"):
        as_moe(app, w, lambda access, account, structure: avance_ops.set_avance_declined(
            account, structure, access, w.st1.party_id, False, now=NOW), who=w.st1)


def test_only_a_sous_traitant_declines_and_only_itself_or_the_moa(app, db):
    w = world(app)
    setup_marche(app, w, avance_rate=D("5.00"))
    with pytest.raises(OperationError, match="Seul un sous-traitant"):
        _as_moa(app, w, lambda access, account, structure: avance_ops.set_avance_declined(
            account, structure, access, w.cotraitant.party_id, True, now=NOW))
    with pytest.raises(OperationError, match="Seuls le sous-traitant et le maître d'ouvrage"):
        as_moe(app, w, lambda access, account, structure: avance_ops.set_avance_declined(
            account, structure, access, w.st1.party_id, True, now=NOW), who=w.mandataire)
    with system(app):
        assert not any(row.avance_declined for row in db.session.scalars(select(MarcheParty)))


# ---------------------------------------------------------------------------------------------------------------------
# 3. The pace of the advance repayment


def _pace_world(app, basis: str):
    """Advance 5 %; the pace: linear from 30 % to 100 % executed, on `basis`. January: the mandataire 300 000 HT of
    works (1 500 m² × 200), the co-traitant 100 000 HT (1 000 m² × 100)."""
    w = world(app)
    setup_marche(app, w, avance_rate=D("5.00"))
    _as_moa(app, w, lambda access, account, structure: avance_ops.set_pace(
        account, structure, access, {"basis": basis, "start": "30", "end": "100"}, now=NOW))
    m_line = price_line(app, w, "M1", w.mandataire.party_id, quantity="2000", unit_price="200")
    c_line = price_line(app, w, "C1", w.cotraitant.party_id, quantity="2000", unit_price="100")
    taken_pdm(app, w, w.mandataire, "PDM-1", month="2026-01", measures={m_line: "1500"})
    taken_pdm(app, w, w.cotraitant, "PDM-C1", month="2026-01", measures={c_line: "1000"})
    return w, _etat(app, w, "2026-01", issue=False)


def test_both_repayment_paces_on_the_same_data(app, db):
    """Advances: mandataire 22 800,00, co-traitant 27 300,00 (see above).

    Own part: the mandataire executed 300 000 / 356 000 = 0,842697; share (0,842697 − 0,30) / 0,70 = 0,775281;
    repaid 22 800 × 0,775281 = 17 676,40. The co-traitant executed 100 000 / 446 000 = 0,224215 < 30 %: 0,00.

    Whole marché: executed (300 000 + 100 000) / 1 000 000 = 0,40; share (0,40 − 0,30) / 0,70 = 1/7 for every
    advance: mandataire 22 800 / 7 = 3 257,142… → 3 257,14; co-traitant 27 300 / 7 = 3 900,00."""
    w, own = _pace_world(app, "own_part")
    assert _column(own, w.mandataire.party_id, "avance_repayment") == "17676.40"
    assert _column(own, w.cotraitant.party_id, "avance_repayment") == "0.00"

    w2, whole = _pace_world(app, "whole_marche")
    assert _column(whole, w2.mandataire.party_id, "avance_repayment") == "3257.14"
    assert _column(whole, w2.cotraitant.party_id, "avance_repayment") == "3900.00"
    lines = next(b for b in whole["beneficiaries"] if b["key"] == w2.mandataire.party_id)["columns"][
        "avance_repayment"]["lines"]
    assert lines[0]["label"].startswith("Exécution du marché")
    assert count(app, MarcheEvent, MarcheEvent.kind == "avance.pace") == 2


def test_a_schedule_of_fixed_amounts_repays_what_the_marche_says_each_month(app, db):
    """The mandataire repays its 22 800,00 by 5 000,00 in January and 7 000,00 in February (the rest at the
    décompte général); the co-traitant keeps the linear schedule (65 % → 80 %: nothing at 100 000 / 446 000)."""
    w = world(app)
    setup_marche(app, w, avance_rate=D("5.00"))
    rows = _as_moa(app, w, lambda access, account, structure: avance_ops.set_fixed_amounts(
        account, structure, access, str(w.mandataire.party_id), "2026-01 : 5 000,00\n2026-02 : 7 000", now=NOW))
    assert rows == [("2026-01", D("5000.00")), ("2026-02", D("7000.00"))]
    m_line = price_line(app, w, "M1", w.mandataire.party_id, quantity="2000", unit_price="200")
    taken_pdm(app, w, w.mandataire, "PDM-1", month="2026-01", measures={m_line: "100"})
    january = _etat(app, w, "2026-01")
    assert _column(january, w.mandataire.party_id, "avance_repayment") == "5000.00"
    assert _column(january, w.cotraitant.party_id, "avance_repayment") == "0.00"
    taken_pdm(app, w, w.mandataire, "PDM-2", month="2026-02", measures={m_line: "200"})
    february = _etat(app, w, "2026-02")
    assert _column(february, w.mandataire.party_id, "avance_repayment") == "12000.00"  # 5 000 + 7 000
    assert _column(february, w.mandataire.party_id, "avance_repayment", "this") == "7000.00"


@pytest.mark.parametrize("raw, message", [
    ({"start": "65", "end": "60"}, "ne peut pas précéder ni égaler son début"),
    ({"start": "50", "end": "50"}, "ne peut pas précéder ni égaler son début"),
    ({"start": "70", "end": "90"}, "au plus tard à 65"),
    ({"start": "10", "end": "60"}, "entre 65 % \\(exclu\\) et 100"),
    ({"start": "10", "end": "101"}, "entre 65 % \\(exclu\\) et 100"),
    ({"basis": "moitie"}, "Choisissez si le remboursement"),
    ({"start": "dix"}, "Indiquez un nombre"),
])
def test_a_bad_pace_is_refused_in_french_and_changes_nothing(app, db, raw, message):
    w = world(app)
    fields = {"basis": "whole_marche", "start": "50", "end": "90", **raw}
    with pytest.raises(OperationError, match=message):
        _as_moa(app, w, lambda access, account, structure: avance_ops.set_pace(
            account, structure, access, fields, now=NOW))
    with system(app):
        marche = db.session.get(Marche, w.marche_id)
        assert (marche.avance_repayment_basis, marche.avance_repayment_start, marche.avance_repayment_end) == \
            ("own_part", D("65.00"), D("80.00"))
    assert count(app, MarcheEvent, MarcheEvent.kind == "avance.pace") == 0


@pytest.mark.parametrize("text, message", [
    ("2026-01 5000", "Ligne 1 : écrivez « AAAA-MM : montant »"),
    ("2026-13 : 5 000", "Ligne 1 : Ce mois n'est pas valide"),
    ("2026-01 : 1 000\n2026-01 : 2 000", "Ligne 2 : le mois 2026-01 figure deux fois"),
    ("2026-01 : 0", "Ligne 1 : le montant doit être positif"),
    ("2026-01 : 20 000\n2026-02 : 2 800,01", "dépasse l'avance"),
])
def test_a_bad_schedule_of_amounts_is_refused_in_french_and_changes_nothing(app, db, text, message):
    w = world(app)
    setup_marche(app, w, avance_rate=D("5.00"))
    with pytest.raises(OperationError, match=message):
        _as_moa(app, w, lambda access, account, structure: avance_ops.set_fixed_amounts(
            account, structure, access, str(w.mandataire.party_id), text, now=NOW))
    assert count(app, AvanceRepaymentAmount) == 0


# ---------------------------------------------------------------------------------------------------------------------
# The pages: « Retenue et avance », the fiche d'identité, the export


def _login(app, client, who):
    from chorus_chain.models import Account
    from tests import factories
    with app.app_context():
        factories.login(client, db.session.get(Account, who.account_id))


def _text(response) -> str:
    """The page's text as read: entities decoded, runs of white space as one space."""
    import html
    import re
    return re.sub(r"[ \t\r\n]+", " ", html.unescape(response.get_data(as_text=True)))


def test_the_pages_enter_show_and_export_the_clauses_and_refuse_bad_input_in_french(app, client, db):
    w = world(app)
    setup_marche(app, w, avance_rate=D("5.00"))
    # st1 declines its advance on its own page.
    _login(app, client, w.st1)
    st_base = f"/s/{w.st1.siret}/marches/{w.marche_id}/retenue-et-avance"
    page = _text(client.get(st_base))
    assert "moins les parts payées directement à ses sous-traitants" in page and "R2193-18" in page
    # a sous-traitant sees its own line only, not its contractor's amounts
    assert w.mandataire.name not in page.split("Avance de chaque bénéficiaire")[1].split("Rythme")[0]
    assert client.post(f"{st_base}/avance/{w.st1.party_id}", data={"decision": "decline"}).status_code == 302
    assert "refusée par le sous-traitant" in _text(client.get(st_base))

    client = app.test_client()
    _login(app, client, w.moa)
    base = f"/s/{w.moa.siret}/marches/{w.marche_id}/retenue-et-avance"
    page = _text(client.get(base))
    # The MOA sees every beneficiary's advance and why: the mandataire's part 356 000,00 opens 22 800,00.
    assert f"Part ouvrant droit à l'avance ({w.mandataire.name})" in page
    assert "22\u202f800,00\u00a0€" in page
    # Bad input: a guarantee in the future, a pace ending before it starts → 422, French, nothing changed.
    bad = client.post(f"{base}/garanties", data={"party_id": w.mandataire.party_id, "kind": "caution",
                                                 "given_on": "2099-01-01", "amount": "6 000"})
    assert bad.status_code == 422 and "ne peut pas être datée dans le futur" in _text(bad)
    bad = client.post(f"{base}/rythme", data={"basis": "own_part", "start": "60", "end": "50"})
    assert bad.status_code == 422 and "ne peut pas précéder ni égaler son début" in _text(bad)
    assert count(app, RetenueGuarantee) == 0
    # Good input.
    assert client.post(f"{base}/garanties", data={"party_id": w.mandataire.party_id, "kind": "caution",
                                                  "given_on": "2026-02-10", "amount": "6 000,00"}).status_code == 302
    assert client.post(f"{base}/rythme", data={"basis": "whole_marche", "start": "30",
                                               "end": "100"}).status_code == 302
    assert client.post(f"{base}/echeancier", data={"party_id": w.cotraitant.party_id,
                                                   "schedule": "2026-03 : 1 000,00"}).status_code == 302
    page = _text(client.get(base))
    assert "caution personnelle et solidaire" in page and "6\u202f000,00\u00a0€" in page
    assert "linéaire de 30 % à 100 % d'exécution, selon l'exécution de l'ensemble du marché" in page
    fiche = _text(client.get(f"/s/{w.moa.siret}/marches/{w.marche_id}/fiche"))
    assert "couvrant 6\u202f000,00\u00a0€ de retenue" in fiche
    assert "refusée par le sous-traitant" in fiche and "remboursée par montants fixes" in fiche
    export = client.get(f"/s/{w.moa.siret}/marches/{w.marche_id}/export.json").get_json()
    assert export["marche"]["retenue_guarantees"] == [{"siret": w.mandataire.siret, "kind": "caution",
                                                       "given_on": "2026-02-10", "amount": "6000.00"}]
    assert export["marche"]["avance_repayment"] == {
        "basis": "whole_marche", "start": "30.00", "end": "100.00",
        "fixed_amounts": [{"siret": w.cotraitant.siret, "month": "2026-03", "amount": "1000.00"}]}
    assert next(p for p in export["parties"] if p["siret"] == w.st1.siret)["avance_declined"] is True
    # The MOE reads the page but changes nothing there.
    client = app.test_client()
    _login(app, client, w.moe)
    moe_base = f"/s/{w.moe.siret}/marches/{w.marche_id}/retenue-et-avance"
    assert client.get(moe_base).status_code == 200
    refused = client.post(f"{moe_base}/rythme", data={"basis": "own_part", "start": "65", "end": "80"})
    assert refused.status_code == 422 and "Seul le maître d'ouvrage" in _text(refused)
