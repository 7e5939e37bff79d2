"""Issue 16 (part A), worked examples through the database: the settings and events of a marché's real life.

The world: tests/integration/etats_world.py (groupement conjoint, 1 000 000 € HT, TVA 20 %, retenue 5 %, no advance
unless a test says so, firm prices). NOW = 2 March 2026.

Sources:
- penalties: CCAG Travaux 2021, « le titulaire est exonéré des pénalités dont le montant total ne dépasse pas
  1 000 euros HT pour l'ensemble du marché » (CHORUS.md §6b);
- payment deadline: CCP R2192-10 (30 days for the State and local authorities, 50 for public hospitals), R2192-11
  (60 for public companies) — ceilings: « ne peut être supérieur à »;
- DC4: loi 75-1334 art. 6 and CCP R2193-3 ff. (the acte spécial states the amount of the part paid directly and its
  conditions of payment, among them its price revision: CHORUS.md §1 "DC4 / acte spécial");
"""
from __future__ import annotations

from decimal import Decimal

from chorus_chain.extensions import db
from chorus_chain.models.money import EtatAcompte
from chorus_chain.operations import etats_acompte as ops
from tests.integration.etats_world import NOW, as_moe, price_line, setup_marche, taken_pdm
from tests.integration.pieces_world import system, world


def _this(result: dict, key: int, column: str) -> str:
    beneficiary = next(b for b in result["beneficiaries"] if b["key"] == key)
    return beneficiary["columns"][column]["this"]


def _open(app, w, month: str) -> int:
    return as_moe(app, w, lambda access, account, structure: ops.open_etat(access, account, structure, month,
                                                                            now=NOW).id)


def _issue(app, w, etat_id: int) -> dict:
    as_moe(app, w, lambda access, account, structure: ops.issue(access, etat_id, account, structure, now=NOW))
    with system(app):
        return db.session.get(EtatAcompte, etat_id).result


def _penalise(app, w, etat_id: int, **penalty) -> None:
    def add(access, account, structure):
        etat = ops.get_etat(access.marche, etat_id)
        ops.add_penalty(access, etat, account, party_id=w.mandataire.party_id, **penalty)
    as_moe(app, w, add)


def test_a_penalty_total_of_exactly_1000_euros_is_exempt_and_the_next_one_deducts_everything(app, db):
    w = world(app)
    setup_marche(app, w, penalty_daily_amount=Decimal("100.00"))
    line = price_line(app, w, "M1", w.mandataire.party_id, amount="100000.00")
    key = w.mandataire.party_id

    # État n° 1 (February): works 20 % × 100 000 = 20 000,00; VAT 4 000,00; TTC 24 000,00; retenue 5 % × 24 000 =
    # 1 200,00. Penalties: 10 days × 100 € = 1 000,00 € HT — the total does not exceed 1 000 € HT: exempt, 0,00.
    # Amount due = 24 000 − 1 200 − 0 = 22 800,00.
    taken_pdm(app, w, w.mandataire, "PDM-1", month="2026-02", measures={line: "20"})
    etat1 = _open(app, w, "2026-02")
    _penalise(app, w, etat1, label="Retard de 10 jours", days="10")
    result1 = _issue(app, w, etat1)
    assert [_this(result1, key, c) for c in ("ttc", "retenue", "penalties", "amount_due")] == \
        ["24000.00", "1200.00", "0.00", "22800.00"]
    lines = next(b for b in result1["beneficiaries"] if b["key"] == key)["columns"]["penalties"]["lines"]
    assert any("ne dépassant pas" in line["formula"] for line in lines)

    # État n° 2 (March): works 30 000 (+10 000): TTC +12 000, retenue +600. One more day late: 11 × 100 =
    # 1 100,00 > 1 000 → the whole 1 100,00 is deducted now. Due = 12 000 − 600 − 1 100 = 10 300,00.
    taken_pdm(app, w, w.mandataire, "PDM-2", month="2026-03", measures={line: "30"})
    etat2 = _open(app, w, "2026-03")
    _penalise(app, w, etat2, label="Retard d'un jour", days="1")
    result2 = _issue(app, w, etat2)
    assert [_this(result2, key, c) for c in ("ttc", "retenue", "penalties", "amount_due")] == \
        ["12000.00", "600.00", "1100.00", "10300.00"]


# ---------------------------------------------------------------------------------------------------------------------
# A payment deadline of any number of days up to the buyer's ceiling (CCP R2192-10, R2192-11)


def test_a_45_day_payment_deadline_for_another_buyer_runs_45_days_and_a_local_authority_cannot_have_it(app, db):
    from chorus_chain.models import Deadline, Marche, MarcheEvent
    from tests.integration.pieces_world import deposit, rows
    from tests.integration.test_marches import MARCHE_FORM, company, count, marche_id_of, text

    # Through the form: a public company (« autre acheteur », ceiling 60 days) sets 45 days.
    buyer = company(app, "Régie des eaux", public=True, services=("TECH", "FIN"))
    created = buyer.client.post(f"{buyer.base}/nouveau", data={
        **MARCHE_FORM, "buyer_category": "entreprise_publique", "dgp_days": "45"})
    assert created.status_code == 302
    marche_id = marche_id_of(app, MARCHE_FORM["reference"])
    with system(app):
        marche = db.session.get(Marche, marche_id)
        assert (marche.buyer_category, marche.dgp_days) == ("entreprise_publique", 45)
    shown = text(buyer.client.get(f"{buyer.base}/{marche_id}"))
    assert "45 jours" in shown and "60 jours au plus" in shown

    # The same 45 days for a local authority (ceiling 30) or 55 for a hospital (ceiling 50): refused in French,
    # field-level, 422, nothing created.
    for category, days, message in (
            ("collectivite_territoriale", "45", "30 jours au plus pour les collectivités territoriales"),
            ("etablissement_public_de_sante", "55", "50 jours au plus pour les établissements publics de santé")):
        before = count(app, Marche), count(app, MarcheEvent)
        refused = buyer.client.post(f"{buyer.base}/nouveau", data={
            **MARCHE_FORM, "reference": f"M-{category}", "buyer_category": category, "dgp_days": days})
        assert refused.status_code == 422
        assert message in text(refused)
        assert (count(app, Marche), count(app, MarcheEvent)) == before

    # The clock: a PDM deposited on a marché of 45 days — the DGP runs from the MOE's receipt (NOW) for 45 days:
    # 2 March 2026 09:00 UTC + 45 days = 16 April 2026 09:00 UTC; interest would start the day after.
    w = world(app)
    setup_marche(app, w, buyer_category="entreprise_publique", dgp_days=45)
    works = deposit(app, w, w.mandataire, "A4", "PDM-45")
    dgp = rows(app, Deadline, Deadline.piece_id == works, Deadline.kind == "paiement")
    assert len(dgp) == 1 and dgp[0].due_at == NOW.replace(month=4, day=16)


# ---------------------------------------------------------------------------------------------------------------------
# A DC4 ceiling with or without price revision, as the sous-traitant's acte spécial says


def _revisable_month_with_st1_at_its_ceiling(app, w) -> int:
    """A revisable marché (a = 0,125, BT01, mois zéro January 2026: I0 = 130,0; February I = 132,6) where st1
    (DC4 96 000 €, reverse-charged: an amount without VAT) claims all of its 96 units at 1 000 € in February."""
    from tests.integration.etats_world import index_value

    setup_marche(app, w, price_form="revisable", revision_a=Decimal("0.1250"), revision_index="BT01",
                 revision_base_month="2026-01")
    index_value(app, w, "2026-01", "130.0")
    index_value(app, w, "2026-02", "132.6")
    line = price_line(app, w, "S1", w.st1.party_id, quantity="96", unit_price="1000")
    taken_pdm(app, w, w.st1, "ST-1", month="2026-02", measures={line: "96"})
    return _open(app, w, "2026-02")


def _st1_ceiling(app, w, includes_revision: bool) -> None:
    from chorus_chain.models import MarcheParty
    with system(app):
        db.session.get(MarcheParty, w.st1.party_id).dc4_ceiling_includes_revision = includes_revision


def test_a_dc4_overrun_is_allowed_only_because_the_acte_special_excludes_the_revision(app, db):
    w = world(app)
    etat_id = _revisable_month_with_st1_at_its_ceiling(app, w)
    compute = (lambda access, a, s: ops.compute(access.marche, ops.get_etat(access.marche, etat_id)))
    # C = 0,125 + 0,875 × 132,6 / 130,0 = 0,125 + 0,875 × 1,02 = 1,0175 → rounded up to the thousandth 1,018;
    # st1's revision = 96 000 × (1,018 − 1) = 1 728,00; no VAT (autoliquidation): 97 728,00 to date.

    # The acte spécial's ceiling includes the revision (the default): 97 728,00 > 96 000,00 → refused, explained.
    refused = as_moe(app, w, compute)
    assert refused.result is None
    assert "dépasse le plafond de son acte spécial (DC4)" in refused.error.message
    assert "révision des prix comprise" in refused.error.message

    # The acte spécial states its amount « hors révision »: base prices 96 000,00 ≤ 96 000,00 → allowed; st1 is paid
    # 97 728,00 less its retenue 5 % × 96 000 = 4 800,00 (the retenue excludes the revision) = 92 928,00.
    _st1_ceiling(app, w, includes_revision=False)
    allowed = as_moe(app, w, compute)
    assert allowed.error is None
    result = allowed.result.to_dict()
    key = w.st1.party_id
    assert [_this(result, key, c) for c in ("works_ht", "revision", "ttc", "retenue", "amount_due")] == \
        ["96000.00", "1728.00", "97728.00", "4800.00", "92928.00"]
    # The export carries the setting (and validates against the contract's schema).
    from chorus_chain.models import Marche
    from chorus_chain.operations import export as export_ops
    with system(app):
        data = export_ops.marche_export(db.session.get(Marche, w.marche_id), NOW, None)
    st1 = next(p for p in data["parties"] if p["name"] == "Plâtrerie Test")
    assert st1["dc4_ceiling_includes_revision"] is False
    assert data["marche"]["buyer_category"] == "collectivite_territoriale"
    _validate_export(data)


def _validate_export(data: dict) -> None:
    import json
    from pathlib import Path

    import jsonschema
    schema = json.loads((Path(__file__).parents[2] / "docs/contracts/marche-export.schema.json").read_text())
    jsonschema.validate(data, schema)


def test_the_contractor_declares_a_dc4_hors_revision_it_is_journalled_and_shown(app, db):
    from chorus_chain.models import MarcheEvent
    from tests.integration.test_marches import company, groupement, party_row, text
    from tests.integration.test_marches_dc4 import declare

    w = groupement(app)
    leroy, petit = company(app, "Plâtrerie Leroy"), company(app, "Peinture Petit")
    assert declare(w, w.mandataire, w.mandataire_party, leroy, dc4_excludes_revision="y").status_code == 302
    assert declare(w, w.mandataire, w.mandataire_party, petit, montant="12 000,00").status_code == 302
    hors = party_row(app, w.marche_id, leroy.siret, "sous_traitant")
    comprise = party_row(app, w.marche_id, petit.siret, "sous_traitant")
    assert (hors.dc4_ceiling_includes_revision, comprise.dc4_ceiling_includes_revision) == (False, True)
    with system(app):
        event = db.session.query(MarcheEvent).filter_by(party_id=hors.id, kind="dc4.declared").one()
        assert event.detail["ceiling_includes_revision"] is False
    page = text(w.moa.client.get(f"{w.moa.base}/{w.marche_id}/parties/{hors.id}"))
    assert "hors révision des prix : le montant du DC4 plafonne les travaux aux prix de base" in page


# ---------------------------------------------------------------------------------------------------------------------
# Modifications de marché (avenants)
#
# Sources: CCP R2194-1 ff. (modifications of a marché); R2191-7 (the advance is computed on the initial amount of the
# marché) and R2191-10 (its amount does not move with the modifications); CHORUS.md §6b "Advance amount" and
# "Advance repayment" (pace measured on the part as it stands).


def _avenant(app, w, raw: dict):
    from chorus_chain.operations import avenants
    from tests.integration.etats_world import NOW as now

    from types import SimpleNamespace

    def record(access, account, structure):
        row = avenants.record_avenant(account, structure, access, raw, now=now)
        return SimpleNamespace(id=row.id, number=row.number, montant_before_ht=row.montant_before_ht,
                               montant_after_ht=row.montant_after_ht, dc4_avenant_id=row.dc4_avenant_id)
    return as_moe(app, w, record, who=w.moa)


def _mandataire_avance(result: dict, key: int) -> str:
    return next(b for b in result["beneficiaries"] if b["key"] == key)["avance"]["value"]


def test_an_avenant_in_the_middle_of_the_marche_leaves_the_advance_and_paces_the_repayment_on_the_new_part(app, db):
    from chorus_chain.models import Dc4Avenant, Marche, MarcheAvenant, MarcheEvent, MarcheParty
    from chorus_chain.models.money import PriceLine

    w = world(app)
    setup_marche(app, w, avance_rate=Decimal("5.00"))
    key = w.mandataire.party_id
    m1 = price_line(app, w, "M1", key, amount="356000.00")

    # The mandataire's part: 600 000 TTC = 500 000 HT less its reverse-charged sous-traitants st1 (96 000) and
    # sibling (48 000) = 356 000 HT. Its advance: 5 % × (356 000 × 1,20 + 20 % × (96 000 + 48 000)) =
    # 5 % × (427 200 + 28 800) = 5 % × 456 000 = 22 800,00.
    # État n° 1 (February): M1 at 50 % = 178 000,00 → 50 % executed < 65 %: no repayment.
    taken_pdm(app, w, w.mandataire, "PDM-1", month="2026-02", measures={m1: "50"})
    result1 = _issue(app, w, _open(app, w, "2026-02"))
    assert _mandataire_avance(result1, key) == "22800.00"
    assert _this(result1, key, "avance_repayment") == "0.00"

    # Avenant n° 1, signed 1 March 2026: +100 000,00 € HT on the mandataire's part, a new lump-sum line M2.
    # The marché: 1 000 000 → 1 100 000 HT; the mandataire's part TTC 600 000 + 120 000 = 720 000 → 600 000 HT less
    # 144 000 = 456 000 HT.
    avenant = _avenant(app, w, {"signed_on": "2026-03-01", "amount_ht": "100 000,00", "party_id": str(key),
                                "objet": "Extension du préau", "new_reference": "M2",
                                "new_designation": "Préau, extension", "new_amount": "100 000,00"})
    assert (avenant.number, avenant.montant_before_ht, avenant.montant_after_ht) == \
        (1, Decimal("1000000.00"), Decimal("1100000.00"))
    with system(app):
        assert db.session.get(Marche, w.marche_id).montant_ht == Decimal("1100000.00")
        assert db.session.get(MarcheParty, key).montant_ttc == Decimal("720000.00")
        m2 = db.session.query(PriceLine).filter_by(marche_id=w.marche_id, reference="M2").one()
        assert (m2.amount_ht, m2.avenant_id, m2.party_id) == (Decimal("100000.00"), avenant.id, key)
        event = db.session.query(MarcheEvent).filter_by(marche_id=w.marche_id, kind="marche.avenant").one()
        assert event.detail["amount_ht"] == "100000.00" and event.detail["montant_after_ht"] == "1100000.00"
        assert db.session.query(Dc4Avenant).count() == 0
        m2_id = m2.id

    # État n° 2 (March): M1 at 90 % = 320 400,00, M2 not started. Δ works = 142 400,00.
    # - the advance does not move: still 22 800,00 (on the modified part it would be 5 % × (456 000 × 1,20 +
    #   28 800) = 28 800,00);
    # - execution on the part as modified: 320 400 / 456 000 = 70,26 % (1/19 above 65 %): repayment target
    #   22 800 × (1/19) / 15 % = 22 800 × 20/57 = 8 000,00 (on the initial part it would be 90 % → 22 800,00);
    # - retenue 5 % × 142 400 × 1,20 = 8 544,00; due = 142 400 × 1,20 − 8 544 − 8 000 = 154 336,00.
    taken_pdm(app, w, w.mandataire, "PDM-2", month="2026-03", measures={m1: "90", m2_id: "0"})
    result2 = _issue(app, w, _open(app, w, "2026-03"))
    assert _mandataire_avance(result2, key) == "22800.00"
    assert [_this(result2, key, c) for c in ("works_ht", "retenue", "avance_repayment", "amount_due")] == \
        ["142400.00", "8544.00", "8000.00", "154336.00"]
    avance_lines = next(b for b in result2["beneficiaries"] if b["key"] == key)["avance"]["lines"]
    assert any("part initiale" in line["label"] and "R2191-7" in line["formula"] for line in avance_lines)

    # Amount still to execute after each état, on the part as modified: the mandataire 456 000 − 320 400 =
    # 135 600,00 HT (after état n° 1: 356 000 − 178 000 = 178 000,00); the marché 1 100 000 − 320 400 = 779 600,00
    # (nobody else has worked yet).
    mandataire2 = next(b for b in result2["beneficiaries"] if b["key"] == key)
    assert mandataire2["remaining"]["value"] == "135600.00"
    assert next(b for b in result1["beneficiaries"] if b["key"] == key)["remaining"]["value"] == "178000.00"
    assert result2["remaining"]["value"] == "779600.00" and result1["remaining"]["value"] == "822000.00"
    # … on the état's page (the MOE's) and in its document (the A15's PDF is rendered from this HTML).
    from chorus_chain.models import EtatAcompte as EtatRow
    from chorus_chain.documents.etat_doc import etat_acompte_html
    from chorus_chain.operations import documents as documents_ops
    with system(app):
        etat_row = db.session.query(EtatRow).filter_by(marche_id=w.marche_id, number=2).one()
        html_doc = etat_acompte_html(documents_ops.etat_doc(etat_row, db.session.get(Marche, w.marche_id),
                                                            frozen=True))
        etat_page_url = f"/s/{w.moe.siret}/marches/{w.marche_id}/etats/{etat_row.id}"
    flat = html_doc.replace("\u202f", " ").replace("\xa0", " ")
    assert "Reste à exécuter HT" in flat and "135 600,00" in flat and "779 600,00" in flat
    from tests.integration.pieces_world import logged_in as _logged_in
    from tests.integration.test_marches import text as _text
    import re
    etat_page = re.sub(r"<[^>]+>", "", _text(_logged_in(app, w.moe).get(etat_page_url)))
    etat_page = etat_page.replace("\u202f", " ").replace("\xa0", " ")
    assert "Reste à exécuter après cet état : 135 600,00" in etat_page
    assert "Reste à exécuter du marché après cet état : 779 600,00" in etat_page

    # The avenants page shows the initial and the modified amounts to the MOA and to a co-traitant.
    from tests.integration.pieces_world import logged_in
    from tests.integration.test_marches import text
    page = text(logged_in(app, w.moa).get(f"/s/{w.moa.siret}/marches/{w.marche_id}/avenants"))
    assert "1 000 000,00" in page.replace("\u202f", " ").replace("\xa0", " ")
    assert "Extension du préau" in page and "Enregistrer l'avenant" in page
    other = text(logged_in(app, w.st1).get(f"/s/{w.st1.siret}/marches/{w.marche_id}/avenants"))
    assert "Extension du préau" in other and "Enregistrer l'avenant" not in other
    assert "part d'une autre entreprise" in other  # st1 does not read its contractor's amounts
    with system(app):
        assert db.session.query(MarcheAvenant).count() == 1
        from chorus_chain.operations import export as export_ops
        data = export_ops.marche_export(db.session.get(Marche, w.marche_id), NOW, None)
    _validate_export(data)
    assert (data["marche"]["montant_ht"], data["marche"]["montant_initial_ht"]) == ("1100000.00", "1000000.00")
    assert [(a["number"], a["amount_ht"], a["objet"], a["lines"][0]["reference"]) for a in data["marche"]["avenants"]] \
        == [(1, "100000.00", "Extension du préau", "M2")]
    assert [e["remaining_ht"] for e in data["etats"]] == ["822000.00", "779600.00"]


def test_an_avenant_below_what_is_paid_or_beyond_the_chain_is_refused_in_french_and_changes_nothing(app, db):
    import pytest

    from chorus_chain.models import Marche, MarcheAvenant, MarcheEvent, MarcheParty
    from chorus_chain.models.money import PriceLine
    from chorus_chain.operations import OperationError
    from tests.integration.pieces_world import count, logged_in
    from tests.integration.test_marches import text

    w = world(app)
    key = w.mandataire.party_id
    m1 = price_line(app, w, "M1", key, amount="356000.00")
    taken_pdm(app, w, w.mandataire, "PDM-1", month="2026-02", measures={m1: "80"})  # 284 800,00 certified
    _issue(app, w, _open(app, w, "2026-02"))

    def snapshot():
        with system(app):
            return (db.session.get(Marche, w.marche_id).montant_ht,
                    [(p.id, p.montant_ttc) for p in db.session.query(MarcheParty).order_by(MarcheParty.id)],
                    [(line.reference, line.amount_ht) for line in db.session.query(PriceLine).order_by(PriceLine.id)],
                    count(app, MarcheAvenant), count(app, MarcheEvent))

    before = snapshot()
    # The mandataire's part 356 000 HT, 284 800 already certified: −100 000 would leave 256 000 < 284 800.
    with pytest.raises(OperationError, match="en dessous des 284"):
        _avenant(app, w, {"signed_on": "2026-03-01", "amount_ht": "-100 000", "party_id": str(key),
                          "objet": "Suppression du préau"})
    # The marché 1 000 000 HT: −800 000 would leave 200 000 < 284 800 certified.
    with pytest.raises(OperationError, match="en dessous des 284.*déjà réglés"):
        _avenant(app, w, {"signed_on": "2026-03-01", "amount_ht": "-800 000", "objet": "Réduction"})
    # The mandataire's part TTC 600 000 − 480 000 = 120 000 would be below its sous-traitants' 144 000: the chain's
    # rule (a sous-traitance within its contractor's part).
    with pytest.raises(OperationError):
        _avenant(app, w, {"signed_on": "2026-03-01", "amount_ht": "-400 000", "party_id": str(key),
                          "objet": "Réduction de la part"})
    # st1's part is its DC4 (96 000, reverse-charged): +10 000 without an acte spécial modificatif is refused.
    with pytest.raises(OperationError, match="acte spécial"):
        _avenant(app, w, {"signed_on": "2026-03-01", "amount_ht": "10 000", "party_id": str(w.st1.party_id),
                          "objet": "Cloisons supplémentaires"})
    # Lines that do not make the avenant: +5 000 on M1 for an avenant of +6 000.
    with pytest.raises(OperationError, match="bordereau des prix doit rester égal"):
        _avenant(app, w, {"signed_on": "2026-03-01", "amount_ht": "6 000", "party_id": str(key), "objet": "x",
                          f"line_{m1}": "361 000"})
    assert snapshot() == before

    # Through the page: French, field-level, 422, nothing changed.
    client = logged_in(app, w.moa)
    response = client.post(f"/s/{w.moa.siret}/marches/{w.marche_id}/avenants", data={
        "signed_on": "2026-03-01", "amount_ht": "-800 000", "objet": "Réduction", "party_id": ""})
    assert response.status_code == 422
    assert "en dessous des" in text(response) and 'id="amount_ht-error"' in text(response)
    assert snapshot() == before

    # With its acte spécial modified, st1's +10 000 passes: its DC4 96 000 → 106 000 (a Dc4Avenant, related).
    from chorus_chain.models import Dc4Avenant
    avenant = _avenant(app, w, {"signed_on": "2026-03-01", "amount_ht": "10 000", "party_id": str(w.st1.party_id),
                                "objet": "Cloisons supplémentaires", "modifies_dc4": True})
    with system(app):
        dc4 = db.session.get(Dc4Avenant, avenant.dc4_avenant_id)
        assert (dc4.old_montant_ttc, dc4.new_montant_ttc) == (Decimal("96000.00"), Decimal("106000.00"))
        assert db.session.get(MarcheParty, w.st1.party_id).montant_ttc == Decimal("106000.00")
