"""E-invoices in: a corpus of hostile and malformed files, each refused with a French message (DocumentRefused and
nothing else), without reading a file or opening a socket; and the files we must accept (UBL 2.1 invoice and credit
note, a CII, a plain PDF when no Factur-X is claimed), with what they say and what they miss."""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import pypdf
import pytest
from pypdf.generic import ArrayObject, DecodedStreamObject, DictionaryObject, NameObject, TextStringObject

from chorus_chain.documents import samples
from chorus_chain.documents.einvoice_in import (
    PDF_MAX_BYTES,
    XML_MAX_BYTES,
    DocumentRefused,
    ReadInvoice,
    read_einvoice,
)
from chorus_chain.documents.facturx_out import build_cii_xml
from chorus_chain.documents.render import render_pdf

D = Decimal
CII = build_cii_xml(samples.invoice())
CII_TEXT = CII.decode("utf-8")

UBL_INVOICE = """<?xml version="1.0" encoding="UTF-8"?>
<Invoice xmlns="urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"
         xmlns:cac="urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"
         xmlns:cbc="urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2">
  <cbc:CustomizationID>urn:cen.eu:en16931:2017</cbc:CustomizationID>
  <cbc:ProfileID>A1</cbc:ProfileID>
  <cbc:ID>UBL-2026-0007</cbc:ID>
  <cbc:IssueDate>2026-11-20</cbc:IssueDate>
  <cbc:DueDate>2026-12-20</cbc:DueDate>
  <cbc:InvoiceTypeCode>380</cbc:InvoiceTypeCode>
  <cbc:Note>Pénalités de retard : BCE + 8 points. Indemnité forfaitaire : 40 €.</cbc:Note>
  <cbc:DocumentCurrencyCode>EUR</cbc:DocumentCurrencyCode>
  <cbc:BuyerReference>SERV-TECH-01</cbc:BuyerReference>
  <cac:OrderReference><cbc:ID>EJ-2026-000731</cbc:ID></cac:OrderReference>
  <cac:ContractDocumentReference><cbc:ID>2026-VIL-014</cbc:ID></cac:ContractDocumentReference>
  <cac:AccountingSupplierParty>
    <cac:Party>
      <cbc:EndpointID schemeID="0009">44306184110004</cbc:EndpointID>
      <cac:PartyName><cbc:Name>BRA</cbc:Name></cac:PartyName>
      <cac:PostalAddress>
        <cbc:StreetName>12 rue de la Charité</cbc:StreetName>
        <cbc:CityName>Lyon</cbc:CityName>
        <cbc:PostalZone>69002</cbc:PostalZone>
        <cac:Country><cbc:IdentificationCode>FR</cbc:IdentificationCode></cac:Country>
      </cac:PostalAddress>
      <cac:PartyTaxScheme>
        <cbc:CompanyID>FR64443061841</cbc:CompanyID>
        <cac:TaxScheme><cbc:ID>VAT</cbc:ID></cac:TaxScheme>
      </cac:PartyTaxScheme>
      <cac:PartyLegalEntity>
        <cbc:RegistrationName>Bâtiments Rhône-Alpes SAS</cbc:RegistrationName>
        <cbc:CompanyID schemeID="0002">44306184110004</cbc:CompanyID>
      </cac:PartyLegalEntity>
    </cac:Party>
  </cac:AccountingSupplierParty>
  <cac:AccountingCustomerParty>
    <cac:Party>
      <cac:PartyIdentification><cbc:ID schemeID="0009">21690123110002</cbc:ID></cac:PartyIdentification>
      <cac:PostalAddress>
        <cbc:CityName>Villeurbanne</cbc:CityName>
        <cbc:PostalZone>69100</cbc:PostalZone>
        <cac:Country><cbc:IdentificationCode>FR</cbc:IdentificationCode></cac:Country>
      </cac:PostalAddress>
      <cac:PartyLegalEntity><cbc:RegistrationName>Commune de Villeurbanne</cbc:RegistrationName></cac:PartyLegalEntity>
    </cac:Party>
  </cac:AccountingCustomerParty>
  <cac:PaymentMeans>
    <cbc:PaymentMeansCode>30</cbc:PaymentMeansCode>
    <cac:PayeeFinancialAccount>
      <cbc:ID>FR7630006000011234567890189</cbc:ID>
      <cac:FinancialInstitutionBranch><cbc:ID>AGRIFRPP</cbc:ID></cac:FinancialInstitutionBranch>
    </cac:PayeeFinancialAccount>
  </cac:PaymentMeans>
  <cac:PaymentTerms><cbc:Note>Virement à 30 jours</cbc:Note></cac:PaymentTerms>
  <cac:TaxTotal>
    <cbc:TaxAmount currencyID="EUR">210.00</cbc:TaxAmount>
    <cac:TaxSubtotal>
      <cbc:TaxableAmount currencyID="EUR">1000.00</cbc:TaxableAmount>
      <cbc:TaxAmount currencyID="EUR">200.00</cbc:TaxAmount>
      <cac:TaxCategory><cbc:ID>S</cbc:ID><cbc:Percent>20</cbc:Percent><cac:TaxScheme><cbc:ID>VAT</cbc:ID></cac:TaxScheme></cac:TaxCategory>
    </cac:TaxSubtotal>
    <cac:TaxSubtotal>
      <cbc:TaxableAmount currencyID="EUR">100.00</cbc:TaxableAmount>
      <cbc:TaxAmount currencyID="EUR">10.00</cbc:TaxAmount>
      <cac:TaxCategory><cbc:ID>S</cbc:ID><cbc:Percent>10</cbc:Percent><cac:TaxScheme><cbc:ID>VAT</cbc:ID></cac:TaxScheme></cac:TaxCategory>
    </cac:TaxSubtotal>
  </cac:TaxTotal>
  <cac:LegalMonetaryTotal>
    <cbc:LineExtensionAmount currencyID="EUR">1100.00</cbc:LineExtensionAmount>
    <cbc:TaxExclusiveAmount currencyID="EUR">1100.00</cbc:TaxExclusiveAmount>
    <cbc:TaxInclusiveAmount currencyID="EUR">1310.00</cbc:TaxInclusiveAmount>
    <cbc:PayableAmount currencyID="EUR">1310.00</cbc:PayableAmount>
  </cac:LegalMonetaryTotal>
  <cac:InvoiceLine>
    <cbc:ID>1</cbc:ID>
    <cbc:InvoicedQuantity unitCode="MTK">40</cbc:InvoicedQuantity>
    <cbc:LineExtensionAmount currencyID="EUR">1000.00</cbc:LineExtensionAmount>
    <cac:Item>
      <cbc:Name>Enduit de façade</cbc:Name>
      <cac:ClassifiedTaxCategory><cbc:ID>S</cbc:ID><cbc:Percent>20</cbc:Percent><cac:TaxScheme><cbc:ID>VAT</cbc:ID></cac:TaxScheme></cac:ClassifiedTaxCategory>
    </cac:Item>
    <cac:Price><cbc:PriceAmount currencyID="EUR">25.00</cbc:PriceAmount></cac:Price>
  </cac:InvoiceLine>
  <cac:InvoiceLine>
    <cbc:ID>2</cbc:ID>
    <cbc:InvoicedQuantity unitCode="LS">1</cbc:InvoicedQuantity>
    <cbc:LineExtensionAmount currencyID="EUR">100.00</cbc:LineExtensionAmount>
    <cac:Item>
      <cbc:Name>Rampe d'accès</cbc:Name>
      <cac:ClassifiedTaxCategory><cbc:ID>S</cbc:ID><cbc:Percent>10</cbc:Percent><cac:TaxScheme><cbc:ID>VAT</cbc:ID></cac:TaxScheme></cac:ClassifiedTaxCategory>
    </cac:Item>
    <cac:Price><cbc:PriceAmount currencyID="EUR">100.00</cbc:PriceAmount></cac:Price>
  </cac:InvoiceLine>
</Invoice>
"""

UBL_CREDIT_NOTE = """<?xml version="1.0" encoding="UTF-8"?>
<CreditNote xmlns="urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2"
            xmlns:cac="urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"
            xmlns:cbc="urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2">
  <cbc:CustomizationID>urn:cen.eu:en16931:2017</cbc:CustomizationID>
  <cbc:ID>AV-UBL-01</cbc:ID>
  <cbc:IssueDate>2026-12-01</cbc:IssueDate>
  <cbc:CreditNoteTypeCode>381</cbc:CreditNoteTypeCode>
  <cbc:DocumentCurrencyCode>EUR</cbc:DocumentCurrencyCode>
  <cac:BillingReference><cac:InvoiceDocumentReference><cbc:ID>UBL-2026-0007</cbc:ID></cac:InvoiceDocumentReference></cac:BillingReference>
  <cac:AccountingSupplierParty><cac:Party>
    <cac:PartyLegalEntity><cbc:RegistrationName>Électricité Dupont SARL</cbc:RegistrationName>
      <cbc:CompanyID schemeID="0002">83040512210002</cbc:CompanyID></cac:PartyLegalEntity>
  </cac:Party></cac:AccountingSupplierParty>
  <cac:AccountingCustomerParty><cac:Party>
    <cac:PartyLegalEntity><cbc:RegistrationName>Bâtiments Rhône-Alpes SAS</cbc:RegistrationName>
      <cbc:CompanyID schemeID="0002">44306184110004</cbc:CompanyID></cac:PartyLegalEntity>
  </cac:Party></cac:AccountingCustomerParty>
  <cac:PaymentMeans><cbc:PaymentMeansCode>30</cbc:PaymentMeansCode><cbc:PaymentDueDate>2026-12-01</cbc:PaymentDueDate></cac:PaymentMeans>
  <cac:TaxTotal>
    <cbc:TaxAmount currencyID="EUR">0.00</cbc:TaxAmount>
    <cac:TaxSubtotal>
      <cbc:TaxableAmount currencyID="EUR">500.00</cbc:TaxableAmount>
      <cbc:TaxAmount currencyID="EUR">0.00</cbc:TaxAmount>
      <cac:TaxCategory><cbc:ID>AE</cbc:ID><cbc:Percent>0</cbc:Percent><cbc:TaxExemptionReason>Autoliquidation</cbc:TaxExemptionReason><cac:TaxScheme><cbc:ID>VAT</cbc:ID></cac:TaxScheme></cac:TaxCategory>
    </cac:TaxSubtotal>
  </cac:TaxTotal>
  <cac:LegalMonetaryTotal>
    <cbc:LineExtensionAmount currencyID="EUR">500.00</cbc:LineExtensionAmount>
    <cbc:TaxExclusiveAmount currencyID="EUR">500.00</cbc:TaxExclusiveAmount>
    <cbc:TaxInclusiveAmount currencyID="EUR">500.00</cbc:TaxInclusiveAmount>
    <cbc:PayableAmount currencyID="EUR">500.00</cbc:PayableAmount>
  </cac:LegalMonetaryTotal>
  <cac:CreditNoteLine>
    <cbc:ID>1</cbc:ID>
    <cbc:CreditedQuantity unitCode="C62">2</cbc:CreditedQuantity>
    <cbc:LineExtensionAmount currencyID="EUR">500.00</cbc:LineExtensionAmount>
    <cac:Item><cbc:Name>Tableau divisionnaire repris</cbc:Name>
      <cac:ClassifiedTaxCategory><cbc:ID>AE</cbc:ID><cbc:Percent>0</cbc:Percent><cac:TaxScheme><cbc:ID>VAT</cbc:ID></cac:TaxScheme></cac:ClassifiedTaxCategory>
    </cac:Item>
    <cac:Price><cbc:PriceAmount currencyID="EUR">250.00</cbc:PriceAmount></cac:Price>
  </cac:CreditNoteLine>
</CreditNote>
"""


# ---------------------------------------------------------------------------------------------------------------------
# Builders of hostile files


def _plain_pdf() -> bytes:
    return render_pdf("<p>Facture scannée</p>")


PLAIN_PDF = _plain_pdf()


def _pdf_with(attachments: dict[str, bytes]) -> bytes:
    writer = pypdf.PdfWriter(clone_from=pypdf.PdfReader(io.BytesIO(PLAIN_PDF)))
    for name, data in attachments.items():
        writer.add_attachment(name, data)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _pdf_with_compressed(name: str, data: bytes) -> bytes:
    """A PDF whose embedded file is Flate-compressed: a few kilobytes that inflate to `len(data)` bytes."""
    writer = pypdf.PdfWriter(clone_from=pypdf.PdfReader(io.BytesIO(PLAIN_PDF)))
    stream = DecodedStreamObject()
    stream.set_data(data)
    stream = stream.flate_encode()
    stream[NameObject("/Type")] = NameObject("/EmbeddedFile")
    stream_ref = writer._add_object(stream)
    filespec = DictionaryObject({
        NameObject("/Type"): NameObject("/Filespec"), NameObject("/F"): TextStringObject(name),
        NameObject("/UF"): TextStringObject(name),
        NameObject("/EF"): DictionaryObject({NameObject("/F"): stream_ref, NameObject("/UF"): stream_ref}),
    })
    names = ArrayObject([TextStringObject(name), writer._add_object(filespec)])
    writer._root_object[NameObject("/Names")] = DictionaryObject(
        {NameObject("/EmbeddedFiles"): DictionaryObject({NameObject("/Names"): names})})
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _encrypted_pdf() -> bytes:
    writer = pypdf.PdfWriter(clone_from=pypdf.PdfReader(io.BytesIO(_pdf_with({"factur-x.xml": CII}))))
    writer.encrypt(user_password="secret", owner_password="owner")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<lolz>&lol9;</lolz>
"""
XXE_FILE = (b'<?xml version="1.0"?>\n<!DOCTYPE r [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>\n'
            + CII.split(b"?>", 1)[1].replace(b"<ram:ID>F-2026-0117</ram:ID>", b"<ram:ID>&xxe;</ram:ID>", 1))
XXE_HTTP = b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "http://127.0.0.1:9/x">]><r>&x;</r>'
PARAMETER_ENTITY = (b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY % p SYSTEM "file:///etc/passwd">'
                    b'<!ENTITY % e "<!ENTITY &#x25; x SYSTEM \'http://127.0.0.1:9/?%p;\'>">%e;%x;]><r/>')
EXTERNAL_DTD = b'<?xml version="1.0"?><!DOCTYPE Invoice SYSTEM "http://127.0.0.1:9/ubl.dtd"><Invoice/>'
HARMLESS_DOCTYPE = b'<?xml version="1.0"?><!DOCTYPE r><r/>'
XINCLUDE = (b'<?xml version="1.0"?><rsm:CrossIndustryInvoice xmlns:rsm="urn:un:unece:uncefact:data:standard:'
            b'CrossIndustryInvoice:100" xmlns:xi="http://www.w3.org/2001/XInclude">'
            b'<xi:include href="file:///etc/passwd" parse="text"/></rsm:CrossIndustryInvoice>')


def _oversized_xml() -> bytes:
    head, tail = CII.split(b"</rsm:CrossIndustryInvoice>")
    return head + b"<!--" + b"x" * XML_MAX_BYTES + b"-->" + b"</rsm:CrossIndustryInvoice>" + tail


def _nested(depth: int) -> bytes:
    return b'<?xml version="1.0" encoding="UTF-8"?>' + b"<a>" * depth + b"</a>" * depth


def _many_elements(count: int) -> bytes:
    return b"<r>" + b"<a/>" * count + b"</r>"


def _cii(old: str, new: str) -> bytes:
    assert old in CII_TEXT
    return CII_TEXT.replace(old, new, 1).encode("utf-8")


def _ubl(old: str, new: str) -> bytes:
    assert old in UBL_INVOICE
    return UBL_INVOICE.replace(old, new, 1).encode("utf-8")


@dataclass(frozen=True)
class Hostile:
    name: str
    filename: str
    content: bytes
    claims_facturx: bool = False
    expect: str = ""
    """A fragment the French message must contain."""


CORPUS: list[Hostile] = [
    Hostile("billion laughs", "lol.xml", BILLION_LAUGHS, expect="DOCTYPE"),
    Hostile("external entity file:///etc/passwd in a CII", "xxe.xml", XXE_FILE, expect="DOCTYPE"),
    Hostile("external entity over http", "xxe-http.xml", XXE_HTTP, expect="DOCTYPE"),
    Hostile("parameter entities (out-of-band exfiltration)", "oob.xml", PARAMETER_ENTITY, expect="DOCTYPE"),
    Hostile("external DTD", "dtd.xml", EXTERNAL_DTD, expect="DOCTYPE"),
    Hostile("any DOCTYPE at all", "doctype.xml", HARMLESS_DOCTYPE, expect="DOCTYPE"),
    Hostile("XInclude of /etc/passwd", "xinclude.xml", XINCLUDE, expect="XInclude"),
    Hostile("XML over 5 Mo", "gros.xml", _oversized_xml(), expect="volumineux"),
    Hostile("XML nested 200 levels deep", "profond.xml", _nested(200), expect="profondément"),
    Hostile("XML nested 100 000 levels deep", "tres-profond.xml", _nested(100_000), expect="profondément"),
    Hostile("XML with 60 000 elements", "nombreux.xml", _many_elements(60_000), expect="trop d'éléments"),
    Hostile("malformed XML", "casse.xml", CII[:-200], expect="bien formé"),
    Hostile("non-UTF-8 garbage", "latin.xml", b"<?xml version='1.0'?><r>\xff\xfe\xe9t\xe9</r>", expect="UTF-8"),
    Hostile("UTF-16 XML", "utf16.xml", CII_TEXT.replace("UTF-8", "UTF-16").encode("utf-16"), expect="UTF-16"),
    Hostile("XML declaring ISO-8859-1", "iso.xml", b"<?xml version='1.0' encoding='ISO-8859-1'?><r/>",
            expect="ISO-8859-1"),
    Hostile("NUL bytes in XML", "nul.xml", b"<r>\x00\x00</r>", expect="octets nuls"),
    Hostile("UBL with a wrong namespace", "ubl3.xml",
            _ubl("schema:xsd:Invoice-2", "schema:xsd:Invoice-3"), expect="UBL 2.1"),
    Hostile("CII with a wrong namespace", "cii.xml",
            _cii("CrossIndustryInvoice:100", "CrossIndustryInvoice:99"), expect="espace de noms"),
    Hostile("ZUGFeRD 1.0", "zugferd.xml",
            b'<rsm:CrossIndustryDocument xmlns:rsm="urn:ferd:CrossIndustryDocument:invoice:1p0"/>',
            expect="ZUGFeRD"),
    Hostile("an XML that is not an invoice", "page.xml", b"<html><body>Bonjour</body></html>",
            expect="n'est pas une facture"),
    Hostile("CII amount with a French comma", "virgule.xml",
            _cii("<ram:GrandTotalAmount>16158.85", "<ram:GrandTotalAmount>16 158,85"), expect="décimal"),
    Hostile("CII amount NaN", "nan.xml", _cii("<ram:TaxBasisTotalAmount>13565.71",
                                               "<ram:TaxBasisTotalAmount>NaN"), expect="décimal"),
    Hostile("UBL amount in scientific notation", "exp.xml",
            _ubl('<cbc:TaxInclusiveAmount currencyID="EUR">1310.00', '<cbc:TaxInclusiveAmount currencyID="EUR">1.31E3'),
            expect="décimal"),
    Hostile("UBL quantity that is text", "qte.xml",
            _ubl('unitCode="MTK">40<', 'unitCode="MTK">quarante<'), expect="quantité"),
    Hostile("a total with three decimals", "millimes.xml",
            _cii("<ram:GrandTotalAmount>16158.85", "<ram:GrandTotalAmount>16158.851"), expect="deux décimales"),
    Hostile("an impossible date", "date.xml", _cii(">20261128<", ">20261340<"), expect="date"),
    Hostile("a date in an unsupported format", "format.xml", _cii('format="102">20261128<', 'format="610">202611<'),
            expect="format"),
    Hostile("an over-long value", "long.xml", _cii("<ram:ID>F-2026-0117</ram:ID>",
                                                    "<ram:ID>" + "F" * 5000 + "</ram:ID>"), expect="longue"),
    Hostile("a plain PDF claimed as Factur-X", "facture.pdf", PLAIN_PDF, claims_facturx=True, expect="Factur-X"),
    Hostile("a PDF whose factur-x.xml is a billion laughs", "bombe.pdf", _pdf_with({"factur-x.xml": BILLION_LAUGHS}),
            claims_facturx=True, expect="DOCTYPE"),
    Hostile("a PDF whose factur-x.xml reads /etc/passwd", "xxe.pdf", _pdf_with({"factur-x.xml": XXE_FILE}),
            claims_facturx=False, expect="DOCTYPE"),
    Hostile("a PDF carrying a hostile XML under another name", "annexe.pdf",
            _pdf_with({"annexe.xml": PARAMETER_ENTITY}), expect="DOCTYPE"),
    Hostile("a PDF whose factur-x.xml is not CII", "ubl.pdf", _pdf_with({"factur-x.xml": UBL_INVOICE.encode()}),
            claims_facturx=True, expect="Factur-X"),
    Hostile("a PDF whose factur-x.xml inflates to 40 Mo", "gonfle.pdf",
            _pdf_with_compressed("factur-x.xml", b"<r>" + b" " * (40 * 1024 * 1024) + b"</r>"),
            claims_facturx=True, expect="volumineux"),
    Hostile("a PDF whose factur-x.xml inflates beyond pypdf's limit", "bombe-zip.pdf",
            _pdf_with_compressed("factur-x.xml", b" " * (100 * 1024 * 1024)), claims_facturx=True,
            expect="PDF"),
    Hostile("an encrypted PDF", "chiffre.pdf", _encrypted_pdf(), claims_facturx=True, expect="protégé"),
    Hostile("a garbage PDF", "dechet.pdf", b"%PDF-1.7\n" + bytes(range(256)) * 40, expect="endommagé"),
    Hostile("a truncated PDF", "coupe.pdf", PLAIN_PDF[:300], expect="PDF"),
    Hostile("a PDF of 10 Mo", "enorme.pdf", PLAIN_PDF + b"\n%" + b"x" * PDF_MAX_BYTES, expect="volumineux"),
    Hostile("a PDF named .xml", "facture.xml", PLAIN_PDF, expect="c'est un PDF"),
    Hostile("an XML named .pdf", "facture.pdf", CII, claims_facturx=True, expect="extension"),
    Hostile("a Windows executable named .pdf", "facture.pdf", b"MZ\x90\x00" + b"\x00" * 200, expect="programme"),
    Hostile("a ZIP named .xml", "facture.xml", b"PK\x03\x04" + b"\x00" * 100, expect="ZIP"),
    Hostile("an empty file", "facture.xml", b"", expect="vide"),
    Hostile("a Word document", "facture.docx", b"PK\x03\x04", expect=".docx"),
    Hostile("no extension", "facture", CII, expect=".pdf ou .xml"),
]


# ---------------------------------------------------------------------------------------------------------------------
# The process is watched: no file read outside Python's own, no socket.

def _side_effects(events) -> list[str]:
    """Sockets, and files opened for anything but reading or outside the installed packages."""
    found = []
    for event, args in events:
        if event.startswith(("socket.", "urllib.")):
            found.append(event)
        elif event == "open":
            path, mode = str(args[0]), args[1] or "r"
            if any(flag in str(mode) for flag in "wax+") or "site-packages" not in path:
                found.append(f"open {path} {mode}")
    return found


def test_the_corpus_has_at_least_twenty_hostile_files() -> None:
    assert len(CORPUS) >= 20
    assert len({item.name for item in CORPUS}) == len(CORPUS)


@pytest.mark.parametrize("hostile", CORPUS, ids=[item.name for item in CORPUS])
def test_hostile_file_is_refused_cleanly_in_french(hostile: Hostile, io_events) -> None:
    with pytest.raises(DocumentRefused) as refused:
        read_einvoice(hostile.filename, hostile.content, claims_facturx=hostile.claims_facturx)
    message = refused.value.message_fr
    assert message == str(refused.value) and refused.value.field == "fichier"
    assert hostile.expect in message
    assert message[0].isupper() and message.endswith(".")
    assert "Error" not in message and "Traceback" not in message
    assert _side_effects(io_events) == []


def test_refusals_leave_the_input_untouched() -> None:
    content = bytearray(XXE_FILE)
    with pytest.raises(DocumentRefused):
        read_einvoice("xxe.xml", bytes(content), claims_facturx=False)
    assert bytes(content) == XXE_FILE


# ---------------------------------------------------------------------------------------------------------------------
# What must be accepted


def test_a_ubl_invoice_is_read(io_events) -> None:
    read = read_einvoice("ubl.xml", UBL_INVOICE.encode(), claims_facturx=False)
    assert isinstance(read, ReadInvoice) and read.source_format == "ubl"
    assert (read.number, read.invoice_type, read.type_code) == ("UBL-2026-0007", "FACTURE", "380")
    assert (read.issue_date, read.due_date) == (date(2026, 11, 20), date(2026, 12, 20))
    assert (read.seller.name, read.seller.siret, read.seller.vat_number) == (
        "Bâtiments Rhône-Alpes SAS", "44306184110004", "FR64443061841")
    assert (read.buyer.name, read.buyer.siret, read.buyer.vat_number) == (
        "Commune de Villeurbanne", "21690123110002", None)
    assert (read.service_code, read.contract_reference, read.purchase_order, read.business_process) == (
        "SERV-TECH-01", "2026-VIL-014", "EJ-2026-000731", "A1")
    assert (read.total_ht, read.total_tva, read.total_ttc, read.amount_due, read.currency) == (
        D("1100.00"), D("210.00"), D("1310.00"), D("1310.00"), "EUR")
    assert [(v.category, v.percent, v.base_ht, v.tax) for v in read.vat_breakdown] == [
        ("S", D("20"), D("1000.00"), D("200.00")), ("S", D("10"), D("100.00"), D("10.00"))]
    assert [(line.designation, line.quantity, line.unit, line.unit_price_ht, line.vat_percent, line.amount_ht)
            for line in read.lines] == [
        ("Enduit de façade", D("40"), "MTK", D("25.00"), D("20"), D("1000.00")),
        ("Rampe d'accès", D("1"), "LS", D("100.00"), D("10"), D("100.00"))]
    assert (read.iban, read.bic) == ("FR7630006000011234567890189", "AGRIFRPP")
    assert read.xsd_valid is True
    assert read.missing == []
    assert read.warnings == []
    assert _side_effects(io_events) == []


def test_a_ubl_credit_note_under_autoliquidation_is_read() -> None:
    read = read_einvoice("avoir.xml", UBL_CREDIT_NOTE.encode(), claims_facturx=False)
    assert (read.number, read.invoice_type, read.original_invoice_number) == ("AV-UBL-01", "AVOIR", "UBL-2026-0007")
    assert read.due_date == date(2026, 12, 1)
    assert read.autoliquidation and read.vat_category == "AE"
    assert read.vat_breakdown[0].exemption_reason == "Autoliquidation"
    assert (read.total_ht, read.total_tva, read.total_ttc) == (D("500.00"), D("0.00"), D("500.00"))
    assert read.lines[0].quantity == D("2") and read.lines[0].unit == "C62"
    assert read.xsd_valid is True
    assert "code service (BT-10)" in read.missing and "numéro de marché (BT-12)" in read.missing
    assert "numéro de TVA du vendeur" in read.missing


def test_a_plain_pdf_without_factur_x_claim_is_kept_with_everything_missing() -> None:
    read = read_einvoice("scan.PDF", PLAIN_PDF, claims_facturx=False)
    assert read.source_format == "pdf" and read.number is None and read.total_ttc is None
    assert read.missing[:3] == ["numéro de la facture", "type de document (facture ou avoir)", "date d'émission"]
    assert len(read.content_sha256) == 64


def test_missing_and_inconsistent_data_are_reported_in_french() -> None:
    xml = _cii("<ram:BuyerReference>SERV-TECH-01</ram:BuyerReference>", "").decode()
    xml = xml.replace("<ram:GrandTotalAmount>16158.85", "<ram:GrandTotalAmount>16158.86")
    xml = xml.replace('<ram:ID schemeID="0002">44306184110004', '<ram:ID schemeID="0002">44306184110005')
    read = read_einvoice("incomplet.xml", xml.encode(), claims_facturx=False)
    assert "code service (BT-10)" in read.missing and "SIRET du vendeur" in read.missing
    assert "Le montant TTC lu n'est pas égal au HT plus la TVA." in read.warnings
    assert "Le SIRET du vendeur lu (44306184110005) n'est pas valide." in read.warnings


def test_a_cii_that_breaks_its_xsd_is_read_but_flagged() -> None:
    xml = _cii("<ram:TypeCode>380</ram:TypeCode>", "<ram:TypeCode>380</ram:TypeCode><ram:Surprise/>")
    read = read_einvoice("f.xml", xml, claims_facturx=False)
    assert read.number == "F-2026-0117" and read.xsd_valid is False
    assert any("schéma" in warning for warning in read.warnings)


def test_a_utf8_bom_and_an_upper_case_extension_are_fine() -> None:
    read = read_einvoice("C:\\Factures\\F.XML", b"\xef\xbb\xbf" + CII, claims_facturx=False)
    assert read.number == "F-2026-0117" and read.source_format == "cii"
