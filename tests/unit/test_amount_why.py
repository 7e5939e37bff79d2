"""The one rule of a piece's two amounts (domain.amount_why): the amount requested, the amount to pay, why they
differ and where it was decided — from the record the deciding operation stored, with the engine's figures."""
from __future__ import annotations

from decimal import Decimal as D

from chorus_chain.domain import amount_why as rule

# The demo's third état, as the engine froze it: the marché's column and Durand's (the mandataire carries the VAT
# its autoliquidating sous-traitant Leroy does not charge).
MARCHE = {"ttc": {"this": "280080.00"}, "revision": {"this": "0.00"}, "retenue": {"this": "14004.00"},
          "avance_repayment": {"this": "12012.90"}, "penalties": {"this": "0.00"}, "avance_paid": {"this": "0.00"},
          "amount_due": {"this": "254063.10"}, "works_ht": {"this": "233400.00"}}
DURAND = {**MARCHE, "ttc": {"this": "189360.00"}, "retenue": {"this": "9468.00"}, "amount_due": {"this": "167879.10"}}


def etat(columns, **kwargs):
    return rule.etat_record(etat_id=3, marche_id=1, label="3", month="2026-10", final=False, columns=columns,
                            **kwargs)


def test_same_amounts_or_no_decision_say_nothing():
    assert not rule.explain(D("9600.00"), None, None, piece_id=2).differs
    same = rule.explain(D("9600.00"), D("9600.00"), rule.partial_record("x", None), piece_id=2)
    assert not same.differs and same.reason == "" and same.target is None and same.to_pay == D("9600.00")


def test_the_a15_pays_the_marches_column_less_retenue_and_advance():
    why = rule.explain(D("280080.00"), D("254063.10"), etat(MARCHE), piece_id=21)
    assert why.differs and why.to_pay == D("254063.10") and why.accepted_label == "Montant à payer"
    assert why.reason == ("État d'acompte n° 3 du maître d'œuvre : retenue de garantie et remboursement de "
                          "l'avance.")
    assert why.steps == (rule.Step("Retenue de garantie", D("-14004.00")),
                         rule.Step("Remboursement de l'avance", D("-12012.90")))
    # The steps are the engine's figures: they lead from one amount to the other, to the cent.
    assert why.requested + sum(s.amount for s in why.steps) == why.accepted
    assert why.target == rule.Target("etats.show", {"marche_id": 1, "etat_id": 3}, "marche-title",
                                     "l'état d'acompte n° 3")


def test_a_projet_de_decompte_points_at_its_company_in_the_etat():
    record = etat(DURAND, beneficiary_key=4, beneficiary_name="Durand Bâtiment SAS")
    why = rule.explain(D("176400.00"), D("167879.10"), record, piece_id=17)
    assert why.target.anchor == "b-4"
    assert why.steps[0] == rule.Step("Montant TTC admis dans l'état", D("189360.00"))
    assert "TVA autoliquidée de ses sous-traitants" in why.reason
    assert why.steps[0].amount + sum(s.amount for s in why.steps[1:]) == why.accepted


def test_the_moes_corrections_and_the_revision_are_named():
    corrected = etat({**DURAND, "ttc": {"this": "182400.00"}, "amount_due": {"this": "160867.10"}},
                     beneficiary_key=4, corrected=True)
    why = rule.explain(D("187200.00"), D("160867.10"), corrected, piece_id=12)
    assert why.reason.startswith("État d'acompte n° 3 du maître d'œuvre : montants corrigés par le maître d'œuvre")
    assert "TVA autoliquidée" not in why.reason
    revised = etat({**MARCHE, "revision": {"this": "1200.00"}}, beneficiary_key=5)
    assert "révision des prix" in rule.explain(D("1.00"), D("2.00"), revised, piece_id=1).reason


def test_an_advance_paid_with_the_acompte_is_added_and_the_final_etat_is_the_decompte_general():
    record = rule.etat_record(etat_id=9, marche_id=1, label="9", month=None, final=True,
                              columns={"ttc": "1000.00", "avance_paid": "50.00", "amount_due": "1050.00"})
    why = rule.explain(D("1000.00"), D("1050.00"), record, piece_id=40)
    assert why.steps == (rule.Step("Avance versée", D("50.00")),)
    assert why.reason == "Décompte général du maître d'œuvre : avance versée avec cet acompte."
    assert why.target.label == "le décompte général"


def test_a_partial_validation_quotes_its_reason_and_links_the_history():
    why = rule.explain(D("8400.00"), D("7800.00"),
                       rule.partial_record("Lot 06 : 6 blocs-portes posés sur 7 ce mois.", None), piece_id=5)
    assert why.accepted_label == "Montant accepté" and why.steps == ()
    assert why.reason == "Validée partiellement par le donneur d'ordre : « Lot 06 : 6 blocs-portes posés sur 7 ce mois »."
    assert why.target == rule.Target("pieces.show", {"piece_id": 5}, "piece-timeline", "la décision dans l'historique")


def test_an_amount_decided_before_the_records_sends_to_the_history():
    why = rule.explain(D("100.00"), D("90.00"), None, piece_id=7)
    assert why.differs and why.target.anchor == "piece-timeline" and why.reason
