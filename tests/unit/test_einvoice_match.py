"""The e-invoice read from a file against the form: every disagreement in French with its field, nothing when they
agree, values absent from the file never compared; and the form values an import fills."""
from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal

from chorus_chain.documents import samples
from chorus_chain.documents.einvoice_in import read_einvoice
from chorus_chain.documents.facturx_out import build_cii_xml
from chorus_chain.domain.einvoice_match import PieceFacts, compare, form_values

D = Decimal
READ = read_einvoice("f.xml", build_cii_xml(samples.invoice()), claims_facturx=False)
AGREEING = PieceFacts(
    number="f-2026-0117", piece_type="FACTURE", issue_date=date(2026, 11, 28), montant_ht=D("13565.71"),
    montant_tva=D("2593.14"), montant_ttc=D("16158.85"), autoliquidation=False, emitter_siret="44306184110004",
    recipient_siret="21690123110002", service_code="SERV-TECH-01", engagement_number="EJ-2026-000731",
    marche_reference="2026-VIL-014")


def test_a_file_that_agrees_with_the_form_gives_nothing() -> None:
    assert compare(READ, AGREEING) == []  # the number compared as Chorus Pro keys it: case ignored


def test_each_disagreement_is_a_french_sentence_on_its_field() -> None:
    facts = replace(AGREEING, number="F-2026-0118", piece_type="AVOIR", issue_date=date(2026, 11, 27),
                    montant_ht=D("14000.00"), montant_tva=D("2800.00"), montant_ttc=D("16800.00"),
                    autoliquidation=True, emitter_siret="83040512210002", recipient_siret="51234567910008",
                    service_code=None, engagement_number="EJ-1", marche_reference="2026-VIL-015")
    found = [(m.field, m.message_fr) for m in compare(READ, facts)]
    assert found == [
        ("number", "Le numéro de facture du fichier (« F-2026-0117 ») diffère de celui du formulaire "
                   "(« F-2026-0118 »)."),
        ("piece_type", "Le fichier est une facture, le formulaire un avoir."),
        ("issue_date", "La date d'émission du fichier (28/11/2026) diffère de celle du formulaire (27/11/2026)."),
        ("montant_ht", "Le montant HT du fichier (13\u202f565,71\u00a0€) diffère de celui du formulaire "
                       "(14\u202f000,00\u00a0€)."),
        ("montant_tva", "Le montant de TVA du fichier (2\u202f593,14\u00a0€) diffère de celui du formulaire "
                        "(2\u202f800,00\u00a0€)."),
        ("montant_ttc", "Le montant TTC du fichier (16\u202f158,85\u00a0€) diffère de celui du formulaire "
                        "(16\u202f800,00\u00a0€)."),
        ("vat_regime", "Le formulaire est en autoliquidation mais le fichier porte une TVA (catégorie autre que AE)."),
        (None, "Le vendeur du fichier (SIRET 44306184110004) n'est pas votre structure (SIRET 83040512210002) : "
               "déposez une facture émise par votre structure."),
        ("recipient_siret", "Le SIRET de l'acheteur du fichier (« 21690123110002 ») diffère de celui du formulaire "
                            "(« 51234567910008 »)."),
        ("service_code", "Le code service (BT-10) du fichier (« SERV-TECH-01 ») diffère de celui du formulaire "
                         "(vide)."),
        ("engagement_number", "Le numéro d'engagement (BT-13) du fichier (« EJ-2026-000731 ») diffère de celui du "
                              "formulaire (« EJ-1 »)."),
        (None, "Le numéro de marché (BT-12) du fichier (« 2026-VIL-014 ») diffère de celui du marché de la pièce "
               "(« 2026-VIL-015 »)."),
    ]


def test_what_the_file_does_not_carry_is_not_compared() -> None:
    bare = replace(READ, number=None, issue_date=None, total_ht=None, total_tva=None, total_ttc=None,
                   vat_breakdown=(), service_code=None, purchase_order=None, contract_reference=None,
                   seller=replace(READ.seller, siret=None), buyer=replace(READ.buyer, siret=None))
    different = replace(AGREEING, number="X", montant_ttc=D("1.00"), autoliquidation=True, emitter_siret="1")
    assert compare(bare, different) == []


def test_an_amount_differing_by_one_cent_is_caught() -> None:
    found = compare(READ, replace(AGREEING, montant_ttc=D("16158.86")))
    assert [m.field for m in found] == ["montant_ttc"]


def test_autoliquidation_read_from_category_ae() -> None:
    doc = samples.invoice(autoliquidation=True)
    read = read_einvoice("st.xml", build_cii_xml(doc), claims_facturx=False)
    values = form_values(read)
    assert values["vat_regime"] == "autoliquidation" and values["montant_tva"] == "0.00"
    facts = replace(AGREEING, number="ST-2026-0042", montant_ht=D("6570.00"), montant_tva=D("0.00"),
                    montant_ttc=D("6570.00"), emitter_siret=doc.seller.siret, recipient_siret=doc.buyer.siret,
                    service_code="TRAVAUX", autoliquidation=False)
    assert [m.field for m in compare(read, facts)] == ["vat_regime"]


def test_form_values_of_an_import() -> None:
    assert form_values(READ) == {
        "number": "F-2026-0117", "piece_type": "FACTURE", "issue_date": "2026-11-28", "montant_ht": "13565.71",
        "montant_tva": "2593.14", "montant_ttc": "16158.85", "vat_regime": "normal",
        "recipient_siret": "21690123110002", "service_code": "SERV-TECH-01", "engagement_number": "EJ-2026-000731",
    }
