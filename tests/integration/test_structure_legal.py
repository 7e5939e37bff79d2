"""The structure's legal identity (legal form, share capital, RCS / RM) on its settings page: French checks, the
journal, and its way onto the documents: the piece PDF and the Factur-X of a company print it under the seller's
name, and the cached document is made again when it changes (its content key hashes what the document shows)."""
from __future__ import annotations

import html
import io
import re
from decimal import Decimal

import pytest
from lxml import etree
from pypdf import PdfReader

from sqlalchemy import select

from chorus_chain import demo
from chorus_chain.documents.from_pieces import party_of
from chorus_chain.domain.legal_identity import clean_registration
from chorus_chain.extensions import db
from chorus_chain.models import GeneratedDocument, Structure
from tests import factories
from tests.integration.pieces_world import deposit, rows, world
# `app` and `demo_world` are fixtures: this module runs on a database holding the demo.
from tests.integration.test_marches_visibility import app, demo_world  # noqa: F401
from tests.integration.pieces_world import logged_in as pw_logged_in

HX = {"HX-Request": "true"}


@pytest.fixture
def t(app, db):
    return factories.team(app)


def _text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def plain(text: str) -> str:
    return re.sub(r"[\s\u00a0\u202f\u2009]+", " ", text)


def _settings(structure: Structure, **changes) -> dict:
    """The whole settings form as the page would post it for `structure`, with `changes`."""
    data = {"name": structure.name, "address_line": structure.address_line, "postal_code": structure.postal_code,
            "city": structure.city, "vat_number": structure.vat_number or "", "size_class": structure.size_class,
            "routing_requirement": structure.routing_requirement, "legal_form": "", "share_capital": "",
            "registration": ""}
    if structure.is_public:
        data["is_public"] = "y"
    data.update(changes)
    return data


def _siren_spaced(siret: str) -> str:
    return f"{siret[:3]} {siret[3:6]} {siret[6:9]}"


# --- The settings page ------------------------------------------------------------------------------------------------

def test_the_settings_page_offers_the_legal_mentions(app, client, t):
    factories.login(client, t.gp)
    page = _text(client.get(f"{t.base}/parametres"))
    assert "Mentions légales des factures" in page and "R. 123-237" in page
    for label in ("Forme juridique", "Capital social (€)", "Immatriculation (RCS ou RM)"):
        assert label in page
    assert '<datalist id="legal-forms">' in page and '<option value="SARL">' in page
    assert 'list="legal-forms"' in page


def test_saving_the_legal_identity_stores_it_and_journals_old_and_new(app, client, t):
    factories.login(client, t.admin)
    registration = f"RCS Angers {_siren_spaced(t.siret)}"
    structure = factories.reload(app, Structure, t.structure.id)
    response = client.post(f"{t.base}/parametres", data=_settings(
        structure, legal_form=" SAS ", share_capital="50 000", registration=f"  RCS  Angers {_siren_spaced(t.siret)}"))
    assert response.status_code == 302
    s = factories.reload(app, Structure, t.structure.id)
    assert (s.legal_form, s.share_capital, s.registration) == ("SAS", Decimal("50000.00"), registration)
    [event] = factories.events(app, t.structure, "structure.updated")
    assert event.account_id == t.admin.id
    assert event.detail["changes"] == {"legal_form": {"old": None, "new": "SAS"},
                                       "share_capital": {"old": None, "new": "50000.00"},
                                       "registration": {"old": None, "new": registration}}
    journal = plain(_text(client.get(f"{t.base}/journal")))
    assert "Capital social : — → 50 000,00 €" in journal
    assert f"Immatriculation (RCS / RM) : — → {registration}" in journal
    # Shown again as people write it, and saved again unchanged: nothing new in the journal.
    page = _text(client.get(f"{t.base}/parametres"))
    assert re.search(r'name="share_capital"[^>]*value="50[\u202f\u00a0 ]000,00"', page), page
    again = _settings(s, legal_form="SAS", share_capital="50\u202f000,00", registration=registration)
    assert client.post(f"{t.base}/parametres", data=again).status_code == 302
    assert len(factories.events(app, t.structure, "structure.updated")) == 1


def test_emptying_the_fields_removes_the_legal_identity(app, client, t):
    with app.app_context():
        row = db.session.get(Structure, t.structure.id)
        row.legal_form, row.share_capital, row.registration = "EURL", Decimal("5000"), "RM 49"
        db.session.commit()
    factories.login(client, t.gp)
    response = client.post(f"{t.base}/parametres", data=_settings(factories.reload(app, Structure, t.structure.id)))
    assert response.status_code == 302
    s = factories.reload(app, Structure, t.structure.id)
    assert (s.legal_form, s.share_capital, s.registration) == (None, None, None)
    [event] = factories.events(app, t.structure, "structure.updated")
    assert event.detail["changes"]["share_capital"] == {"old": "5000.00", "new": None}


@pytest.mark.parametrize("changes, field, message", [
    ({"share_capital": "-1 000"}, "share_capital", "Le capital social ne peut pas être négatif."),
    ({"share_capital": "1 000,505"}, "share_capital", "Capital social avec trop de décimales"),
    ({"share_capital": "mille euros"}, "share_capital", "Capital social illisible"),
    ({"registration": "RCS Angers 123 456 789"}, "registration", "n'est pas le SIREN de la structure"),
    ({"registration": "R" * 121}, "registration", "120 caractères au plus."),
    ({"legal_form": "S" * 61}, "legal_form", "60 caractères au plus."),
])
def test_bad_legal_identity_is_refused_field_by_field_and_changes_nothing(app, client, t, changes, field, message):
    factories.login(client, t.gp)
    structure = factories.reload(app, Structure, t.structure.id)
    data = _settings(structure, legal_form="SAS", share_capital="10 000", name="Durand Bâtiment SAS") | changes
    response = client.post(f"{t.base}/parametres", data=data)
    assert response.status_code == 422
    page = _text(response)
    assert f'id="{field}-error"' in page and message in page
    s = factories.reload(app, Structure, t.structure.id)
    assert (s.name, s.legal_form, s.share_capital, s.registration) == ("Durand Bâtiment", None, None, None)
    assert factories.events(app, t.structure, "structure.updated") == []


def test_only_the_organisation_right_changes_the_legal_identity(app, client, t):
    factories.login(client, t.viewer)
    structure = factories.reload(app, Structure, t.structure.id)
    assert client.post(f"{t.base}/parametres", data=_settings(structure, legal_form="SAS")).status_code == 403
    factories.login(client, t.gp)
    neighbour = factories.reload(app, Structure, t.neighbour.id)
    assert client.post(f"/s/{t.neighbour.siret}/parametres",
                       data=_settings(neighbour, legal_form="SAS")).status_code == 404
    assert factories.reload(app, Structure, t.structure.id).legal_form is None
    assert factories.reload(app, Structure, t.neighbour.id).legal_form is None


# --- On the documents -------------------------------------------------------------------------------------------------

def _client_as(app, who):
    return pw_logged_in(app, who)


def _document(app, client, who, piece_id: int, kind: str) -> tuple[GeneratedDocument, bytes]:
    """Ask for the document (jobs run inline in the tests), then download the file the row points at."""
    assert client.post(f"/s/{who.siret}/documents/pieces/{piece_id}/{'pdf' if kind == 'piece_pdf' else kind}",
                       headers=HX).status_code == 200
    row = max(rows(app, GeneratedDocument, GeneratedDocument.piece_id == piece_id, GeneratedDocument.kind == kind),
              key=lambda found: found.id)
    assert row.status == "done", row.error
    response = client.get(f"/s/{who.siret}/documents/{row.id}/fichier")
    assert response.status_code == 200
    return row, response.data


def _pdf_text(content: bytes) -> str:
    return plain("\n".join(page.extract_text() or "" for page in PdfReader(io.BytesIO(content)).pages))


def test_the_seller_legal_identity_is_printed_and_a_change_makes_the_document_again(app):
    from chorus_chain.documents.einvoice_in import read_einvoice

    w = world(app, kind="services")
    piece_id = deposit(app, w, w.st1, "A9", "ST-0051", ht="6570.00")
    with app.app_context():  # the commune states its form: a public body's documents still print nothing of it
        moa = db.session.get(Structure, w.moa.structure_id)
        moa.legal_form = "Collectivité territoriale"
        db.session.commit()
    client = _client_as(app, w.st1)  # the gestionnaire of the sous-traitant
    seller = factories.reload(app, Structure, w.st1.structure_id)
    registration = f"RCS Cholet {_siren_spaced(seller.siret)}"
    assert client.post(f"/s/{w.st1.siret}/parametres", data=_settings(
        seller, legal_form="SARL", share_capital="20000", registration=registration)).status_code == 302

    first, content = _document(app, client, w.st1, piece_id, "piece_pdf")
    text = _pdf_text(content)
    sentence = f"SARL au capital de 20 000,00 € — {registration}"
    assert sentence in text and text.index(w.st1.name) < text.index(sentence)
    assert "Commune de Test" in text and "Collectivité" not in text  # the public buyer prints none

    _, facturx = _document(app, client, w.st1, piece_id, "facturx")
    read = read_einvoice("st.pdf", facturx, claims_facturx=True)
    assert read.xsd_valid is True and read.seller.siret == w.st1.siret
    root = etree.fromstring(facturx_xml(facturx))
    ns = {"ram": "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100"}
    assert [plain(text) for text in root.xpath("//ram:SellerTradeParty/ram:Description/text()", namespaces=ns)] == [
        sentence]
    assert root.xpath("//ram:BuyerTradeParty/ram:Description", namespaces=ns) == []

    # The capital changes: the same request now names other data, so a new document is made, with the new figure.
    seller = factories.reload(app, Structure, w.st1.structure_id)
    assert client.post(f"/s/{w.st1.siret}/parametres", data=_settings(
        seller, legal_form="SARL", share_capital="35 000", registration=registration)).status_code == 302
    second, content = _document(app, client, w.st1, piece_id, "piece_pdf")
    assert second.id != first.id and second.content_key != first.content_key
    text = _pdf_text(content)
    assert f"SARL au capital de 35 000,00 € — {registration}" in text and "20 000,00" not in text


def test_the_demo_companies_have_a_legal_identity_and_the_commune_prints_none(app, demo_world):
    with app.app_context():
        found = {row.siret: row for row in db.session.scalars(
            select(Structure).where(Structure.siret.in_([c.siret for c in demo.COMPANIES])))}
        for company in demo.COMPANIES:
            row = found[company.siret]
            if company.is_public:
                assert (row.legal_form, row.share_capital, row.registration) == (
                    "Collectivité territoriale", None, None)
                assert party_of(row).legal_mention == ""
            else:
                assert row.legal_form and row.registration, company.key
                assert clean_registration(row.registration, row.siret[:9]) == row.registration  # its own SIREN
                assert plain(party_of(row).legal_mention).startswith(row.legal_form)
        mandataire = found[next(c.siret for c in demo.COMPANIES if c.key == "mandataire")]
        assert plain(party_of(mandataire).legal_mention) == "SAS au capital de 120 000,00 € — RCS Angers 402 290 837"


def facturx_xml(pdf: bytes) -> bytes:
    import facturx

    _, xml = facturx.get_facturx_xml_from_pdf(io.BytesIO(pdf))
    return xml
