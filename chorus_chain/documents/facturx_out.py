"""Factur-X out: the UN/CEFACT CII XML of an invoice (EN 16931 profile) and the PDF/A-3b that carries it.

Why these fields where they are (CHORUS.md §8, Chorus Pro routing):
- BT-10 buyer reference (`ram:BuyerReference`) = the buyer's code service;
- BT-12 contract (`ram:ContractReferencedDocument`) = the marché number;
- BT-13 purchase order (`ram:BuyerOrderReferencedDocument`) = the engagement juridique;
- BT-23 business process (`ram:BusinessProcessSpecifiedDocumentContextParameter`) = the Chorus cadre, when known;
- BT-30 / BT-47 legal registration identifiers = the SIRETs, scheme `0002` (ISO 6523 ICD of the French SIRENE);
  the SIRET and not only the SIREN because Chorus Pro identifies and routes by SIRET (the SIREN is its first 9 digits);
- BT-33 seller additional legal information (`ram:SellerTradeParty/ram:Description`) = the sentence printed under
  the seller's name ("SAS au capital de 50 000,00 € — RCS Angers 512 345 678"), when known;
- BT-31 / BT-48 VAT identifiers, scheme `VA`;
- VAT category `S` with its rate, or `AE` (reverse charge) at 0 % with the exemption reason "Autoliquidation" and
  the code VATEX-EU-AE under autoliquidation (CGI art. 283-2 nonies);
- type code 380 (commercial invoice) or 381 (credit note), a credit note pointing at its invoice (BT-25/BT-26);
- the French mandatory mentions travel as notes: PMD (late-payment penalties), PMT (40 € fee), AAB (no discount).

The XML is built with lxml element by element in the order the XSD imposes, and `facturx_pdf` hands it to the
`factur-x` library, which checks it against the EN 16931 XSD and embeds it as `factur-x.xml` (AFRelationship
Data) with the Factur-X XMP metadata into the PDF/A-3b that WeasyPrint rendered.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import facturx
from lxml import etree

from chorus_chain.documents.model import InvoiceDoc, Party, vat_breakdown
from chorus_chain.documents.render import render_pdf
from chorus_chain.documents.templates import invoice_html

NS_RSM = "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100"
NS_RAM = "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100"
NS_UDT = "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100"
NS_QDT = "urn:un:unece:uncefact:data:standard:QualifiedDataType:100"
NSMAP = {"rsm": NS_RSM, "ram": NS_RAM, "udt": NS_UDT, "qdt": NS_QDT}

GUIDELINE_EN16931 = "urn:cen.eu:en16931:2017"
TYPE_CODES = {"FACTURE": "380", "AVOIR": "381"}
SCHEME_SIRET = "0002"
PAYMENT_MEANS_CREDIT_TRANSFER = "30"
CURRENCY = "EUR"
AUTOLIQUIDATION_REASON = "Autoliquidation"
AUTOLIQUIDATION_REASON_CODE = "VATEX-EU-AE"
FACTURX_XMP_PRODUCER = "pypdf"
"""What the factur-x library writes as pdf:Producer in the XMP; the Info dictionary must say the same (PDF/A)."""


def _ram(parent: etree._Element, name: str, text: str | None = None, **attrs: str) -> etree._Element:
    element = etree.SubElement(parent, f"{{{NS_RAM}}}{name}", attrs)
    if text is not None:
        element.text = text
    return element


def _date(parent: etree._Element, name: str, day: date) -> None:
    holder = _ram(parent, name)
    etree.SubElement(holder, f"{{{NS_UDT}}}DateTimeString", format="102").text = day.strftime("%Y%m%d")


def _amount(value: Decimal) -> str:
    """Two decimals, a dot, no grouping: "12345.60"."""
    return f"{value:.2f}"


def _plain(value: Decimal) -> str:
    """A quantity, price or rate without trailing zeros and without exponent: "85.5", "20", "1450"."""
    text = format(value.normalize(), "f")
    return text if text not in ("-0", "") else "0"


def _party(parent: etree._Element, name: str, party: Party, *, seller: bool = False) -> None:
    node = _ram(parent, name)
    _ram(node, "Name", party.name)
    if seller and party.legal_mention:  # BT-33 exists for the seller only; the XSD wants it right after the name
        _ram(node, "Description", party.legal_mention)
    legal = _ram(node, "SpecifiedLegalOrganization")
    _ram(legal, "ID", party.siret, schemeID=SCHEME_SIRET)
    address = _ram(node, "PostalTradeAddress")
    _ram(address, "PostcodeCode", party.address.postcode)
    for tag, line in zip(("LineOne", "LineTwo", "LineThree"), party.address.lines, strict=False):
        _ram(address, tag, line)
    _ram(address, "CityName", party.address.city)
    _ram(address, "CountryID", party.address.country)
    if party.vat_number:
        tax = _ram(node, "SpecifiedTaxRegistration")
        _ram(tax, "ID", party.vat_number, schemeID="VA")


def _notes(document: etree._Element, doc: InvoiceDoc) -> None:
    notes = [(doc.late_penalty_terms, "PMD"), (doc.flat_fee_terms, "PMT"), (doc.early_payment_terms, "AAB")]
    if doc.is_autoliquidation:
        notes.insert(0, ("Autoliquidation : TVA due par le preneur (article 283, 2 nonies du CGI).", "TXD"))
    for content, subject in notes:
        note = _ram(document, "IncludedNote")
        _ram(note, "Content", content)
        _ram(note, "SubjectCode", subject)


def _line(transaction: etree._Element, index: int, doc: InvoiceDoc) -> None:
    line = doc.lines[index]
    item = _ram(transaction, "IncludedSupplyChainTradeLineItem")
    _ram(_ram(item, "AssociatedDocumentLineDocument"), "LineID", str(index + 1))
    _ram(_ram(item, "SpecifiedTradeProduct"), "Name", line.designation)
    agreement = _ram(item, "SpecifiedLineTradeAgreement")
    _ram(_ram(agreement, "NetPriceProductTradePrice"), "ChargeAmount", _plain(line.unit_price_ht))
    _ram(_ram(item, "SpecifiedLineTradeDelivery"), "BilledQuantity", _plain(line.quantity), unitCode=line.unit)
    settlement = _ram(item, "SpecifiedLineTradeSettlement")
    tax = _ram(settlement, "ApplicableTradeTax")
    _ram(tax, "TypeCode", "VAT")
    _ram(tax, "CategoryCode", "AE" if doc.is_autoliquidation else "S")
    _ram(tax, "RateApplicablePercent", _plain(line.vat_percent))
    summation = _ram(settlement, "SpecifiedTradeSettlementLineMonetarySummation")
    _ram(summation, "LineTotalAmount", _amount(line.amount_ht))


def _agreement(transaction: etree._Element, doc: InvoiceDoc) -> None:
    agreement = _ram(transaction, "ApplicableHeaderTradeAgreement")
    if doc.service_code:
        _ram(agreement, "BuyerReference", doc.service_code)  # BT-10
    _party(agreement, "SellerTradeParty", doc.seller, seller=True)
    _party(agreement, "BuyerTradeParty", doc.buyer)
    if doc.engagement_number:
        _ram(_ram(agreement, "BuyerOrderReferencedDocument"), "IssuerAssignedID", doc.engagement_number)  # BT-13
    _ram(_ram(agreement, "ContractReferencedDocument"), "IssuerAssignedID", doc.marche_reference)  # BT-12


def _delivery(transaction: etree._Element, doc: InvoiceDoc) -> None:
    delivery = _ram(transaction, "ApplicableHeaderTradeDelivery")
    if doc.delivery_date:
        _date(_ram(delivery, "ActualDeliverySupplyChainEvent"), "OccurrenceDateTime", doc.delivery_date)


def _settlement(transaction: etree._Element, doc: InvoiceDoc) -> None:
    settlement = _ram(transaction, "ApplicableHeaderTradeSettlement")
    _ram(settlement, "InvoiceCurrencyCode", CURRENCY)
    if doc.iban:
        means = _ram(settlement, "SpecifiedTradeSettlementPaymentMeans")
        _ram(means, "TypeCode", PAYMENT_MEANS_CREDIT_TRANSFER)
        _ram(_ram(means, "PayeePartyCreditorFinancialAccount"), "IBANID", doc.iban)
        if doc.bic:
            _ram(_ram(means, "PayeeSpecifiedCreditorFinancialInstitution"), "BICID", doc.bic)
    for item in vat_breakdown(doc):
        tax = _ram(settlement, "ApplicableTradeTax")
        _ram(tax, "CalculatedAmount", _amount(item.tax))
        _ram(tax, "TypeCode", "VAT")
        if item.category == "AE":
            _ram(tax, "ExemptionReason", AUTOLIQUIDATION_REASON)
        _ram(tax, "BasisAmount", _amount(item.base_ht))
        _ram(tax, "CategoryCode", item.category)
        if item.category == "AE":
            _ram(tax, "ExemptionReasonCode", AUTOLIQUIDATION_REASON_CODE)
        _ram(tax, "RateApplicablePercent", _plain(item.percent))
    terms = _ram(settlement, "SpecifiedTradePaymentTerms")
    _ram(terms, "Description", doc.payment_terms)
    _date(terms, "DueDateDateTime", doc.due_date)
    summation = _ram(settlement, "SpecifiedTradeSettlementHeaderMonetarySummation")
    _ram(summation, "LineTotalAmount", _amount(doc.total_ht))
    _ram(summation, "TaxBasisTotalAmount", _amount(doc.total_ht))
    _ram(summation, "TaxTotalAmount", _amount(doc.total_tva), currencyID=CURRENCY)
    _ram(summation, "GrandTotalAmount", _amount(doc.total_ttc))
    _ram(summation, "DuePayableAmount", _amount(doc.total_ttc))
    if doc.original_invoice_number:
        referenced = _ram(settlement, "InvoiceReferencedDocument")  # BT-25 / BT-26
        _ram(referenced, "IssuerAssignedID", doc.original_invoice_number)
        if doc.original_invoice_date:
            holder = _ram(referenced, "FormattedIssueDateTime")
            etree.SubElement(holder, f"{{{NS_QDT}}}DateTimeString", format="102").text = (
                doc.original_invoice_date.strftime("%Y%m%d"))


def build_cii_tree(doc: InvoiceDoc) -> etree._Element:
    """The CII document as an lxml element (see the module docstring for the mapping)."""
    root = etree.Element(f"{{{NS_RSM}}}CrossIndustryInvoice", nsmap=NSMAP)
    context = etree.SubElement(root, f"{{{NS_RSM}}}ExchangedDocumentContext")
    if doc.cadre:
        _ram(_ram(context, "BusinessProcessSpecifiedDocumentContextParameter"), "ID", doc.cadre)  # BT-23
    _ram(_ram(context, "GuidelineSpecifiedDocumentContextParameter"), "ID", GUIDELINE_EN16931)  # BT-24

    document = etree.SubElement(root, f"{{{NS_RSM}}}ExchangedDocument")
    _ram(document, "ID", doc.number)
    _ram(document, "TypeCode", TYPE_CODES[doc.invoice_type.value])
    _date(document, "IssueDateTime", doc.issue_date)
    _notes(document, doc)

    transaction = etree.SubElement(root, f"{{{NS_RSM}}}SupplyChainTradeTransaction")
    for index in range(len(doc.lines)):
        _line(transaction, index, doc)
    _agreement(transaction, doc)
    _delivery(transaction, doc)
    _settlement(transaction, doc)
    return root


def build_cii_xml(doc: InvoiceDoc) -> bytes:
    """The Factur-X (EN 16931) CII XML of `doc`, UTF-8 with an XML declaration."""
    return etree.tostring(build_cii_tree(doc), xml_declaration=True, encoding="UTF-8", pretty_print=True)


def facturx_pdf(doc: InvoiceDoc) -> bytes:
    """The invoice PDF rendered as PDF/A-3b with its CII XML embedded (Factur-X, level EN 16931). The `factur-x`
    library checks the XML against the XSD before embedding it (an invalid XML raises, nothing is produced)."""
    kind = "Avoir" if doc.is_credit_note else "Facture"
    metadata = {
        "author": doc.seller.name,
        "keywords": "Factur-X, " + kind,
        "title": f"{doc.seller.name} : {kind} {doc.number}",
        "subject": f"Factur-X {kind.lower()} {doc.number} du {doc.issue_date:%d/%m/%Y} émise par {doc.seller.name}",
    }
    pdf = render_pdf(invoice_html(doc), pdfa=True, producer=FACTURX_XMP_PRODUCER)
    return facturx.generate_from_binary(
        pdf, build_cii_xml(doc), flavor="factur-x", level="en16931", check_xsd=True,
        pdf_metadata=metadata, lang="fr-FR",
    )
