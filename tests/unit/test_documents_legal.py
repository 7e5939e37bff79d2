"""The seller's legal identity (C. com. R. 123-237): the rules of the three fields, the sentence they make, where the
documents print it (invoice, credit note, projet de décompte: under the seller's name, nothing when unknown or for
a public body), its Factur-X BT-33 (XSD-valid, read back by our importer) and the fingerprint that changes with it."""

from __future__ import annotations

import io
import re
from dataclasses import replace
from decimal import Decimal
from types import SimpleNamespace

import facturx
import pypdf
import pytest
from lxml import etree

from chorus_chain.documents import samples
from chorus_chain.documents.einvoice_in import read_einvoice
from chorus_chain.documents.facturx_out import build_cii_xml, facturx_pdf
from chorus_chain.documents.fingerprint import fingerprint
from chorus_chain.documents.from_pieces import party_of
from chorus_chain.documents.model import DocumentDataError, InvoiceDoc, Party, vat_breakdown
from chorus_chain.documents.render import render_pdf
from chorus_chain.documents.templates import invoice_pdf, render_html
from chorus_chain.domain.legal_identity import (
    InvalidLegalIdentity,
    clean_legal_form,
    clean_registration,
    clean_share_capital,
    legal_mention,
)

D = Decimal
SENTENCE = "SAS au capital de 50 000,00 € — RCS Lyon 443 061 841"
NS = {"ram": "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100",
      "rsm": "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100"}
SELLER_PATH = "rsm:SupplyChainTradeTransaction/ram:ApplicableHeaderTradeAgreement/ram:SellerTradeParty"
BUYER_PATH = "rsm:SupplyChainTradeTransaction/ram:ApplicableHeaderTradeAgreement/ram:BuyerTradeParty"


def plain(text: str) -> str:
    """French spaces (no-break, narrow no-break) made plain and runs collapsed: what pypdf gives back varies."""
    return re.sub(r"[\s\u00a0\u202f\u2009]+", " ", text)


def pdf_text(pdf: bytes) -> str:
    return plain("\n".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(pdf)).pages))


def company(**fields) -> Party:
    """The samples' seller described by the three fields instead of its ready-made sentence."""
    values = {"legal_info": "", "legal_form": "SAS", "share_capital": D("50000"),
              "registration": "RCS Lyon 443 061 841"} | fields
    return replace(samples.SELLER, **values)


def invoice_with(seller: Party, *, credit_note: bool = False) -> InvoiceDoc:
    return replace(samples.invoice(credit_note=credit_note), seller=seller)


def structure(**fields) -> SimpleNamespace:
    values = {"name": "Durand Bâtiment SAS", "siret": "44306184110004", "address_line": "12 quai des Carmes",
              "postal_code": "49000", "city": "Angers", "vat_number": None, "is_public": False,
              "legal_form": "SAS", "share_capital": D("50000.00"), "registration": "RCS Lyon 443 061 841"} | fields
    return SimpleNamespace(**values)


# ---------------------------------------------------------------------------------------------------------------------
# The rules and the sentence


def test_the_sentence_joins_form_capital_and_registration() -> None:
    assert plain(legal_mention("SAS", D("50000"), "RCS Lyon 443 061 841")) == SENTENCE
    assert plain(legal_mention("SARL", D("1500.5"), None)) == "SARL au capital de 1 500,50 €"
    assert legal_mention("EI", None, "523 060 911 RM 49") == "EI — 523 060 911 RM 49"
    assert plain(legal_mention(None, D("1000"), "RCS Angers 402 290 837")) == (
        "Capital social : 1 000,00 € — RCS Angers 402 290 837")
    assert legal_mention(" ", None, "") == legal_mention(None, None, None) == ""


@pytest.mark.parametrize(("typed", "expected"), [
    ("50 000", D("50000.00")), ("1 500,50 €", D("1500.50")), ("1.234,50", D("1234.50")), ("0", D("0.00")),
    ("50\u202f000,00", D("50000.00")), ("", None), (None, None),
])
def test_share_capital_reads_french_amounts(typed, expected) -> None:
    assert clean_share_capital(typed) == expected


@pytest.mark.parametrize(("typed", "message"), [
    ("-1", "ne peut pas être négatif"), ("12,345", "trop de décimales"), ("cinquante", "illisible"),
])
def test_share_capital_refusals_are_french_and_name_the_field(typed, message) -> None:
    with pytest.raises(InvalidLegalIdentity, match=message) as refused:
        clean_share_capital(typed)
    assert refused.value.field == "share_capital"


def test_registration_is_one_line_of_120_characters_whose_number_is_the_siren() -> None:
    assert clean_registration("  RCS   Lyon\n443 061 841 ", "443061841") == "RCS Lyon 443 061 841"
    assert clean_registration("RM 49", "443061841") == "RM 49"
    assert clean_registration("", "443061841") is None
    with pytest.raises(InvalidLegalIdentity, match="n'est pas le SIREN de la structure") as refused:
        clean_registration("RCS Lyon 443 061 842", "443061841")
    assert refused.value.field == "registration"
    with pytest.raises(InvalidLegalIdentity, match="120 caractères"):
        clean_registration("R" * 121, "443061841")


def test_legal_form_is_one_line_of_60_characters() -> None:
    assert clean_legal_form("  SCOP SA   à capital variable ") == "SCOP SA à capital variable"
    assert clean_legal_form("") is None
    with pytest.raises(InvalidLegalIdentity, match="60 caractères") as refused:
        clean_legal_form("S" * 61)
    assert refused.value.field == "legal_form"


def test_a_party_capital_has_cents_at_most() -> None:
    with pytest.raises(DocumentDataError):
        company(share_capital=D("50000.001"))
    assert company().legal_mention == legal_mention("SAS", D("50000"), "RCS Lyon 443 061 841")
    assert replace(samples.SELLER, legal_form="SARL").legal_mention == samples.SELLER.legal_info  # ready-made wins


# ---------------------------------------------------------------------------------------------------------------------
# From the structure to the party


def test_a_company_structure_brings_its_legal_identity() -> None:
    party = party_of(structure())
    assert (party.legal_form, party.share_capital, party.registration) == (
        "SAS", D("50000.00"), "RCS Lyon 443 061 841")
    assert plain(party.legal_mention) == SENTENCE


def test_a_public_structure_prints_no_legal_identity() -> None:
    party = party_of(structure(name="Commune de Villeurbanne", siret="21690123110002", is_public=True,
                              legal_form="Collectivité territoriale", share_capital=None, registration=None))
    assert party.legal_mention == "" and party.legal_form is None


def test_a_structure_without_legal_identity_prints_nothing() -> None:
    party = party_of(structure(legal_form=None, share_capital=None, registration=""))
    assert party.legal_mention == ""


def test_the_fingerprint_changes_with_the_legal_identity() -> None:
    base = invoice_with(company())
    assert fingerprint(base) != fingerprint(invoice_with(company(share_capital=D("60000"))))
    assert fingerprint(base) != fingerprint(invoice_with(company(registration="RM 69")))
    assert fingerprint(base) != fingerprint(invoice_with(company(legal_form="SARL")))
    assert fingerprint(base) == fingerprint(invoice_with(company()))


# ---------------------------------------------------------------------------------------------------------------------
# The PDFs


@pytest.mark.parametrize("credit_note", [False, True], ids=["facture", "avoir"])
def test_invoice_and_credit_note_print_the_sentence_under_the_seller_name(credit_note: bool) -> None:
    text = pdf_text(invoice_pdf(invoice_with(company(), credit_note=credit_note)))
    assert SENTENCE in text
    assert text.index("Bâtiments Rhône-Alpes SAS") < text.index(SENTENCE) < text.index("12 rue de la Charité")
    assert text.count("RCS Lyon 443 061 841") == 1  # the public buyer prints none


def test_projet_de_decompte_prints_the_sentence_under_the_seller_name() -> None:
    doc = invoice_with(company(legal_form="EURL", share_capital=D("5000"), registration="RCS Lyon 443 061 841"))
    html = render_html("piece.html", doc=doc, issuer=doc.seller, title="Projet de décompte mensuel",
                       heading="PROJET DE DÉCOMPTE MENSUEL", piece_number=doc.number, fingerprint=fingerprint(doc),
                       vat=vat_breakdown(doc))
    text = pdf_text(render_pdf(html))
    assert "PROJET DE DÉCOMPTE MENSUEL" in text
    assert "EURL au capital de 5 000,00 € — RCS Lyon 443 061 841" in text


def test_an_unknown_legal_identity_prints_no_empty_line() -> None:
    seller = company(legal_form=None, share_capital=None, registration=None)
    html = invoice_with(seller)
    rendered = render_html("invoice.html", doc=html, issuer=seller, title="Facture", piece_number=html.number,
                           fingerprint=fingerprint(html), vat=vat_breakdown(html))
    assert 'class="legal"' not in rendered
    assert "capital" not in pdf_text(render_pdf(rendered))


# ---------------------------------------------------------------------------------------------------------------------
# Factur-X


def test_factur_x_carries_the_sentence_as_bt33_of_the_seller_only() -> None:
    xml = build_cii_xml(invoice_with(company()))
    root = etree.fromstring(xml)
    [description] = root.xpath(f"{SELLER_PATH}/ram:Description/text()", namespaces=NS)
    assert plain(description) == SENTENCE
    assert root.xpath(f"{BUYER_PATH}/ram:Description", namespaces=NS) == []
    # BT-30: the legal registration identifier stays the SIRET (scheme 0002), whose first nine digits are the SIREN.
    assert root.xpath(f"{SELLER_PATH}/ram:SpecifiedLegalOrganization/ram:ID/text()", namespaces=NS) == [
        "44306184110004"]
    assert facturx.xml_check_xsd(xml, flavor="factur-x", level="en16931") is True


def test_factur_x_without_legal_identity_has_no_bt33() -> None:
    xml = build_cii_xml(invoice_with(company(legal_form=None, share_capital=None, registration=None)))
    assert etree.fromstring(xml).xpath(f"{SELLER_PATH}/ram:Description", namespaces=NS) == []
    assert facturx.xml_check_xsd(xml, flavor="factur-x", level="en16931") is True


def test_factur_x_with_bt33_reads_back_through_the_importer() -> None:
    doc = invoice_with(company())
    pdf = facturx_pdf(doc)
    read = read_einvoice(f"{doc.number}.pdf", pdf, claims_facturx=True)
    assert read.xsd_valid is True and read.missing == [] and read.warnings == []
    assert (read.number, read.seller.siret, read.seller.name) == (doc.number, doc.seller.siret, doc.seller.name)
    assert (read.total_ht, read.total_tva, read.total_ttc) == (doc.total_ht, doc.total_tva, doc.total_ttc)
    assert SENTENCE in pdf_text(pdf)
