"""Business inputs that must be refused with a French message saying what is wrong, storing nothing (issue 13):
each test compares the row count of every table before and after the refused request or operation."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from chorus_chain.operations import OperationError
from chorus_chain.operations import decomptes as decompte_ops
from chorus_chain.operations import pieces as piece_ops
from tests.integration.db_counts import changed, row_counts
from tests.integration.etats_world import price_line, setup_marche
from tests.integration.pieces_world import (
    NOW,
    acting,
    act,
    create,
    deposit,
    later,
    logged_in,
    world,
)
from tests.integration.test_marches import MARCHE_FORM, company, marche_id_of, text


def _refused(app, call, *words: str) -> str:
    """Run `call` (an operation); it must raise OperationError (or PreflightRefused) naming every word, and
    leave every table as it was."""
    before = row_counts(app)
    with pytest.raises(OperationError) as caught:
        call()
    problems = getattr(caught.value, "problems", None)
    message = " ".join(p.message_fr for p in problems) if problems else caught.value.message
    for word in words:
        assert word in message, message
    assert changed(before, row_counts(app)) == {}
    return message


def _post_refused(app, client, url: str, data: dict, *words: str, status: int = 422) -> str:
    before = row_counts(app)
    response = client.post(url, data=data)
    page = text(response)
    assert response.status_code == status, page[:800]
    for word in words:
        assert word in page
    assert changed(before, row_counts(app)) == {}
    return page


def _deposit(app, w, who, piece_id, now=NOW):
    with acting(app, who) as (account, structure):
        piece_ops.deposit(piece_id, account, structure, now=now)


# --- VAT -------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("rate", ["33", "7", "19,6"])
def test_a_marche_at_a_vat_rate_france_does_not_have_is_refused(app, db, rate):
    moa = company(app, "Commune de Villefranche", public=True, services=("TECH", "FIN"))
    _post_refused(app, moa.client, f"{moa.base}/nouveau", {**MARCHE_FORM, "tva_rate": rate},
                  "n'existe pas en France", "5,5 %")
    assert marche_id_of(app, MARCHE_FORM["reference"]) is None


@pytest.mark.parametrize("rate", ["20", "10", "5,5", "2,1", "0"])
def test_the_french_vat_rates_are_accepted(app, db, rate):
    moa = company(app, "Commune de Villefranche", public=True, services=("TECH", "FIN"))
    assert moa.client.post(f"{moa.base}/nouveau", data={**MARCHE_FORM, "tva_rate": rate}).status_code == 302


def test_an_invoice_whose_vat_exceeds_twenty_percent_is_refused(app, db):
    w = world(app, kind="services")
    _refused(app, lambda: create(app, w, w.mandataire, "A1", "F-33", ht="1000.00", tva="330.00"),
             "trop grande", "20 %")
    # A mix of rates (works at 10 % and 20 %) stays possible: 150 € of VAT on 1 000 € HT.
    assert create(app, w, w.mandataire, "A1", "F-MIX", ht="1000.00", tva="150.00")


def test_a_number_too_large_says_so(app, db):
    moa = company(app, "Commune de Villefranche", public=True, services=("TECH", "FIN"))
    page = _post_refused(app, moa.client, f"{moa.base}/nouveau", {**MARCHE_FORM, "montant_ht": "9" * 20},
                         "trop grand")
    assert "Indiquez un nombre" not in page


# --- the DC4 ceiling on every deposit ----------------------------------------------------------------------------


def test_a_sous_traitant_invoice_beyond_its_dc4_is_refused(app, db):
    w = world(app, kind="services")  # st1: 96 000 € TTC
    piece_id = create(app, w, w.st1, "A9", "ST-1", ht="90000.00")  # 108 000 € TTC
    _refused(app, lambda: _deposit(app, w, w.st1, piece_id), "plafond", "DC4", "12\u202f000,00")


def test_the_ceiling_counts_what_was_already_asked(app, db):
    w = world(app, kind="services")
    deposit(app, w, w.st1, "A9", "ST-1", ht="50000.00")  # 60 000 € TTC
    second = create(app, w, w.st1, "A9", "ST-2", ht="40000.00")  # 48 000 more: 108 000 > 96 000
    _refused(app, lambda: _deposit(app, w, w.st1, second), "plafond", "108\u202f000,00")
    third = create(app, w, w.st1, "A9", "ST-3", ht="30000.00")  # 36 000 more: 96 000, the ceiling itself
    _deposit(app, w, w.st1, third)


def test_a_sous_traitant_pdm_beyond_its_dc4_is_refused(app, db):
    w = world(app)  # works: st1 is autoliquidated, 96 000 € TTC
    piece_id = create(app, w, w.st1, "A10", "PDM-1", ht="97000.00")
    _refused(app, lambda: _deposit(app, w, w.st1, piece_id), "plafond")


def _api_refused(app, client, path: str, body: dict, headers: dict, *words: str, status: int = 422) -> dict:
    """An API call refused in problem+json naming every word; nothing stored but the journal of calls (api.core
    writes a row for every call, refused or not)."""
    before = row_counts(app)
    response = client.post(path, json=body, headers=headers)
    assert response.status_code == status, response.get_data(as_text=True)[:800]
    assert response.content_type.startswith("application/problem+json")
    said = response.get_data(as_text=True)
    for word in words:
        assert word in said, said
    assert {t: v for t, v in changed(before, row_counts(app)).items() if t != "api_call"} == {}
    return response.get_json()


def test_a_deposit_beyond_the_dc4_through_the_api_is_refused(app, db, client):
    """POST /pieces with `envoyer`, and a batch (each piece refused on its own, the batch answered): the same
    ceiling as the portal's deposit."""
    import base64

    from tests.integration.pieces_world import PDF
    from tests.integration.api_world import bearer
    from tests.integration.pieces_world import draft_form

    w = world(app, kind="services")  # st1: 96 000 € TTC
    auth = bearer(app, client, w.st1.structure_id, w.st1.account_id)
    form = draft_form(app, w, w.st1, "A9", "ST-API-1", ht="90000.00")  # 108 000 € TTC
    body = {"marche_id": w.marche_id, "partie_id": w.st1.party_id, "cadre": "A9", "numero": "ST-API-1",
            "date_emission": form["issue_date"], "montant_ht": form["montant_ht"], "montant_tva": form["montant_tva"],
            "montant_ttc": form["montant_ttc"], "siret_destinataire": form["recipient_siret"],
            "code_service": form["service_code"] or None, "numero_engagement": form["engagement_number"] or None,
            "compte_bancaire_id": form["bank_account_id"], "envoyer": True,
            "fichier": {"nom": "st.pdf", "contenu_base64": base64.b64encode(PDF).decode()}}
    _api_refused(app, client, "/api/v1/pieces", body, auth, "plafond", "DC4")
    before = row_counts(app)
    report = client.post("/api/v1/depots/lot", json={"pieces": [body]}, headers=auth)
    assert report.status_code < 500, report.get_data(as_text=True)[:800]
    assert "plafond" in report.get_data(as_text=True)
    # The batch keeps its report (deposit_batch: what was refused and why), nothing else.
    assert {t: v for t, v in changed(before, row_counts(app)).items() if t not in ("api_call", "deposit_batch")} == {}


def test_an_imported_einvoice_beyond_the_dc4_is_refused(app, db, client):
    """The e-invoice import sent at once through the API (POST /depots/facture-electronique, `envoyer`): the draft it
    would create goes with the refused deposit."""
    import base64
    from dataclasses import replace

    from chorus_chain.documents import samples
    from chorus_chain.documents.facturx_out import facturx_pdf
    from tests.integration.api_world import bearer
    from tests.integration.test_einvoice_import import invoice_doc

    w = world(app, kind="services")  # st1: 96 000 € TTC
    deposit(app, w, w.st1, "A9", "ST-1", ht="75000.00")  # 90 000 € TTC asked: the sample (16 158,85 €) exceeds it
    seller = replace(samples.SELLER, name=w.st1.name, siret=w.st1.siret)
    pdf = facturx_pdf(invoice_doc(app, w, seller=seller, number="FX-ST1-1"))
    auth = bearer(app, client, w.st1.structure_id, w.st1.account_id)
    body = {"fichier": {"nom": "FX-ST1-1.pdf", "contenu_base64": base64.b64encode(pdf).decode()},
            "marche_id": w.marche_id, "partie_id": w.st1.party_id, "cadre": "A9", "envoyer": True}
    _api_refused(app, client, "/api/v1/depots/facture-electronique", body, auth, "plafond")


# --- projets de décompte -------------------------------------------------------------------------------------------


def _pdm_with_bordereau(app, w):
    line = price_line(app, w, "L1", w.st1.party_id, quantity="100", unit_price="100.00")
    piece_id = create(app, w, w.st1, "A10", "PDM-1", montant_ht="", montant_tva="", montant_ttc="")
    return line, piece_id


def test_a_works_pdm_without_its_decompte_is_refused_where_there_is_a_bordereau(app, db):
    w = world(app)
    price_line(app, w, "L1", w.st1.party_id, quantity="100", unit_price="100.00")
    piece_id = create(app, w, w.st1, "A10", "PDM-1", ht="1000.00")  # a total and a PDF, no décompte
    _refused(app, lambda: _deposit(app, w, w.st1, piece_id), "bordereau", "décompte")


def test_a_pdm_without_bordereau_needs_no_decompte(app, db):
    w = world(app)
    price_line(app, w, "L9", w.sibling.party_id, quantity="10", unit_price="100.00")  # another company's part
    piece_id = create(app, w, w.st1, "A10", "PDM-1", ht="1000.00")
    _deposit(app, w, w.st1, piece_id)


@pytest.mark.parametrize("field", ["justification", "line"])
def test_a_one_character_justification_is_refused(app, db, field):
    w = world(app)
    line, piece_id = _pdm_with_bordereau(app, w)
    raw = {"month": "2026-02", f"m_{line}": "120"}  # 120 % of the line: justifiable, so a justification is read
    raw[f"j_{line}" if field == "line" else "justification"] = "x"

    def save():
        with acting(app, w.st1) as (account, structure):
            decompte_ops.save_decompte(account, structure, piece_id, raw, now=NOW)

    _refused(app, save, "trop courte", "10 caractères")


# --- dates ----------------------------------------------------------------------------------------------------------


def test_an_invoice_dated_before_the_marche_is_refused(app, db):
    w = world(app, kind="services")
    setup_marche(app, w, revision_base_month="2026-01")
    _refused(app, lambda: create(app, w, w.mandataire, "A1", "F-OLD", issue_date="2025-12-31"),
             "précède le marché", "01/01/2026")


@pytest.mark.parametrize("issued, word", [("2019-05-02", "prescrite"), ("1970-01-01", "trop ancienne"),
                                          ("9999-12-31", "trop lointaine")])
def test_an_absurdly_old_or_far_issue_date_is_refused(app, db, issued, word):
    w = world(app, kind="services")
    _refused(app, lambda: create(app, w, w.mandataire, "A1", "F-OLD", issue_date=issued), word)


def _mandated(app, w):
    piece_id = deposit(app, w, w.mandataire, "A4", "PDM-1", ht="10000.00", now=later(1))
    for who, action in ((w.moe, "take"), (w.moe, "issue_etat_acompte"), (w.moa, "moa_take"),
                        (w.moa, "moa_validate"), (w.moa, "mark_service_fait"), (w.moa, "mark_mandatee")):
        act(app, who, piece_id, action, now=later(2))
    return piece_id


def test_a_payment_above_the_amount_due_is_refused(app, db):
    w = world(app)
    piece_id = _mandated(app, w)  # 12 000 € TTC due
    _refused(app, lambda: act(app, w.moa, piece_id, "mark_paid", now=later(3), amount="12000,01",
                              paid_on=later(3).date().isoformat()), "trop grand", "12\u202f000,00")
    assert act(app, w.moa, piece_id, "mark_paid", now=later(3), amount="12000,00",
               paid_on=later(3).date().isoformat())


def test_a_payment_dated_before_the_deposit_is_refused(app, db):
    w = world(app)
    piece_id = _mandated(app, w)
    _refused(app, lambda: act(app, w.moa, piece_id, "mark_paid", now=later(3), amount="12000,00",
                              paid_on=NOW.date().isoformat()), "précède l'envoi")


def test_a_reception_before_the_marche_is_refused(app, db):
    moa = company(app, "Commune de Villefranche", public=True, services=("TECH", "FIN"))
    assert moa.client.post(f"{moa.base}/nouveau", data=MARCHE_FORM).status_code == 302  # mois zéro 2025-01
    marche_id = marche_id_of(app, MARCHE_FORM["reference"])
    _post_refused(app, moa.client, f"{moa.base}/{marche_id}/reception", {"reception_on": "2024-12-31"},
                  "ne peut pas précéder le marché")
    _post_refused(app, moa.client, f"{moa.base}/{marche_id}/reception", {"reception_on": "0001-01-01"},
                  "trop ancienne")


def test_an_index_value_or_an_etat_for_a_future_month_is_refused(app, db):
    w = world(app)
    setup_marche(app, w, price_form="revisable", revision_a=Decimal("0.125"), revision_index="BT01",
                 revision_base_month="2026-01")
    client = logged_in(app, w.moe)
    base = f"/s/{w.moe.siret}/marches/{w.marche_id}/etats"
    next_year = f"{date.today().year + 1}-01"
    _post_refused(app, client, f"{base}/indices", {"month": next_year, "value": "131,3"}, "mois à venir")
    _post_refused(app, client, f"{base}/indices", {"month": "9999-01", "value": "131,3"}, "trop lointaine")
    _post_refused(app, client, f"{base}/", {"month": next_year}, "mois à venir")


# --- the chain -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("public", ["moa", "moe"])
def test_the_moa_or_the_moe_cannot_be_declared_sous_traitant(app, db, public):
    w = world(app)
    client = logged_in(app, w.mandataire)
    siret = getattr(w, public).siret
    _post_refused(app, client, f"/s/{w.mandataire.siret}/marches/{w.marche_id}/sous-traitants/nouveau", {
        "parent_id": str(w.mandataire.party_id), "siret": siret, "dc4_nature": "Peinture",
        "montant_ttc": "1000,00", "iban": "FR7630006000011234567890189", "bic": "AGRIFRPPXXX"},
        "il ne peut pas en être sous-traitant")
