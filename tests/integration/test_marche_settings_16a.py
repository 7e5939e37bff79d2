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
