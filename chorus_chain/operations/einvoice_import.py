"""E-invoices in: a Factur-X PDF, a CII or a UBL XML pre-fills the deposit form, is kept as the piece's original, and
must agree with the form before the piece is sent.

The flow (views: blueprints/pieces_import):
1. `read_upload` reads the uploaded file (documents.einvoice_in, then the attachment rules of domain.attachments for
   its name). A hostile or malformed file is refused with a French message (OperationError, field "fichier") before
   anything is written: no draft, no stored file, no event.
2. `preview` matches what was read with this application: the seller must be this structure, the marché is found by
   its reference (BT-12) among the structure's marchés (otherwise the user chooses it), the deposit choice (party and
   cadre) is found by the cadre the file names (BT-23) or is the only one, and the recipient SIRET, service code
   (BT-10) and engagement (BT-13) are compared with the marché's routing data. Read-only.
3. `create_draft_from_import` / `reimport_into_draft` save an ordinary draft from the (possibly corrected) form with
   the original file: a Factur-X is the main document; an XML is kept as an attachment, because the main document of
   a piece is a PDF (domain.attachments.check_main_document, a Chorus Pro rule) — the user adds the invoice's PDF
   (on the import page or later on the draft page; the pre-flight check asks for it).
4. `einvoice_problems` (called by the pre-flight check of every draft) re-reads the draft's e-invoice files from their
   stored bytes and lists every disagreement with the draft (domain.einvoice_match) — so nothing has to be remembered
   between the import and the deposit, and a file attached by hand is checked the same way.

Which files are "the e-invoice" of a draft: the main PDF when it carries Factur-X data, and every XML attachment
that is a CII or UBL invoice. A plain PDF, or an XML attachment that is not an invoice, is not compared.

Between the preview and "Créer le brouillon" the file travels back in the page (base64 in a hidden field) rather than
being stored: an abandoned preview leaves nothing behind, and the file posted back is read and checked again exactly
as an upload is (the hidden field is no more trusted than the upload was).
"""
from __future__ import annotations

import base64
import binascii
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime
from threading import Lock

from sqlalchemy import select

from chorus_chain.documents.einvoice_in import DocumentRefused, ReadInvoice, read_einvoice
from chorus_chain.domain import attachments as attachment_rules
from chorus_chain.domain import einvoice_match
from chorus_chain.domain.amounts import format_fr
from chorus_chain.extensions import db
from chorus_chain.models import Account, Marche, Piece, PieceFile, StoredFile, Structure
from chorus_chain.operations import OperationError
from chorus_chain.operations import pieces_drafts as drafts
from chorus_chain.operations.marches import marches_of

FIELD = "fichier"
SOURCE_LABELS = {"factur-x": "Factur-X (PDF avec XML CII)", "cii": "XML CII (Factur-X)", "ubl": "XML UBL 2.1"}


# ---------------------------------------------------------------------------------------------------------------------
# Reading an upload


def read_upload(upload: drafts.UploadedFile | None) -> ReadInvoice:
    """What the uploaded e-invoice says, or OperationError (field "fichier") in French. A PDF is always taken as a
    claimed Factur-X: importing a PDF without invoice data would pre-fill nothing. Pure: writes nothing."""
    if upload is None:
        raise OperationError("Choisissez le fichier de la facture électronique (PDF Factur-X, XML CII ou UBL).",
                             field=FIELD)
    try:
        read = read_einvoice(upload.name, upload.content, claims_facturx=True)
        # The reader checked the content; the name must also be one Chorus Pro accepts (≤ 50 characters, no path,
        # no control character), since the file is kept as it is.
        attachment_rules.check_attachment(upload.name, upload.content)
    except DocumentRefused as error:
        raise OperationError(error.message_fr, field=FIELD) from None
    except attachment_rules.AttachmentRefused as error:
        raise OperationError(error.message_fr, field=FIELD) from None
    return read


def is_pdf(upload: drafts.UploadedFile) -> bool:
    return attachment_rules.extension_of(upload.name.strip()) == "pdf"


def encode_upload(upload: drafts.UploadedFile) -> str:
    return base64.b64encode(upload.content).decode("ascii")


def decode_upload(name: str | None, data: str | None) -> drafts.UploadedFile:
    """The file posted back by the preview page, or OperationError: it is then read again like any upload."""
    try:
        content = base64.b64decode((data or "").encode("ascii"), validate=True)
    except (binascii.Error, ValueError, UnicodeEncodeError):
        content = b""
    if not name or not content:
        raise OperationError("Le fichier importé n'a pas été retransmis : importez-le de nouveau.", field=FIELD)
    return drafts.UploadedFile(name, content)


# ---------------------------------------------------------------------------------------------------------------------
# The preview


@dataclass(frozen=True)
class Check:
    """One comparison of the file with this application: `ok` None when the file does not carry the value."""

    label: str
    in_file: str | None
    expected: str | None
    ok: bool | None
    note: str | None = None


@dataclass
class ImportPreview:
    read: ReadInvoice
    upload: drafts.UploadedFile
    marches: list[Marche]
    marche: Marche | None = None
    marche_by_reference: bool = False
    choices: list[drafts.DepositChoice] = field(default_factory=list)
    choice: drafts.DepositChoice | None = None
    values: dict = field(default_factory=dict)
    checks: list[Check] = field(default_factory=list)
    blocking: list[str] = field(default_factory=list)
    piece: Piece | None = None
    changes: list[einvoice_match.Mismatch] = field(default_factory=list)

    @property
    def rows(self) -> list[tuple[str, str | None]]:
        return read_rows(self.read)

    @property
    def is_pdf(self) -> bool:
        return is_pdf(self.upload)

    @property
    def ready(self) -> bool:
        return not self.blocking and self.marche is not None and self.choice is not None


def _amount(value) -> str | None:
    return format_fr(value) if value is not None else None


def _day(value) -> str | None:
    return value.strftime("%d/%m/%Y") if value is not None else None


def read_rows(read: ReadInvoice) -> list[tuple[str, str | None]]:
    """What was read, as (French label, shown value or None when absent), in the order of the form."""
    kind = {"FACTURE": "Facture", "AVOIR": "Avoir"}.get(read.invoice_type or "", None)
    vat = None
    if read.vat_breakdown:
        vat = ", ".join(f"{item.category or '?'}" + (f" {item.percent.normalize():f} %" if item.percent is not None
                                                      else "") for item in read.vat_breakdown)
        if read.autoliquidation:
            vat += " → autoliquidation"
    return [
        ("Format", SOURCE_LABELS.get(read.source_format, read.source_format)),
        ("Nature", f"{kind} (code {read.type_code})" if kind else read.type_code),
        ("Numéro", read.number),
        ("Date d'émission", _day(read.issue_date)),
        ("Date d'échéance", _day(read.due_date)),
        ("Montant HT", _amount(read.total_ht)),
        ("Montant de TVA", _amount(read.total_tva)),
        ("Montant TTC", _amount(read.total_ttc)),
        ("Catégories de TVA", vat),
        ("Vendeur", read.seller.name),
        ("SIRET du vendeur", read.seller.siret),
        ("N° de TVA du vendeur", read.seller.vat_number),
        ("Acheteur", read.buyer.name),
        ("SIRET de l'acheteur", read.buyer.siret),
        ("Code service (BT-10)", read.service_code),
        ("N° de marché (BT-12)", read.contract_reference),
        ("N° d'engagement juridique (BT-13)", read.purchase_order),
        ("Cadre de facturation (BT-23)", read.business_process),
        ("Facture d'origine (avoir)", read.original_invoice_number),
        ("Lignes", str(len(read.lines)) if read.lines else None),
    ]


def _same(a: str | None, b: str | None) -> bool:
    return "".join((a or "").split()).upper() == "".join((b or "").split()).upper()


def _marche_by_reference(marches: list[Marche], reference: str | None) -> Marche | None:
    if not reference:
        return None
    return next((marche for marche in marches if _same(marche.reference, reference)), None)


def _pick_choice(choices: list[drafts.DepositChoice], read: ReadInvoice, party_id: int | None,
                 cadre: str | None, chosen: bool) -> drafts.DepositChoice | None:
    """The deposit choice the user picked, else the one whose cadre the file names (BT-23), else the only one."""
    if chosen:
        return next((c for c in choices if c.party_id == party_id and (c.cadre or "") == (cadre or "")), None)
    by_cadre = [c for c in choices if c.cadre and _same(c.cadre, read.business_process)]
    if len(by_cadre) == 1:
        return by_cadre[0]
    return choices[0] if len(choices) == 1 else None


def _seller_check(structure: Structure, read: ReadInvoice) -> tuple[Check, str | None]:
    seller = read.seller.siret
    if seller is None:
        return Check("Vendeur = votre structure", None, structure.siret, None,
                     "Le fichier ne donne pas le SIRET du vendeur : vérifiez qu'il s'agit bien de votre facture."), None
    if seller != structure.siret:
        return (Check("Vendeur = votre structure", seller, structure.siret, False),
                f"Le vendeur de cette facture ({read.seller.name or 'nom absent'}, SIRET {seller}) n'est pas votre "
                f"structure ({structure.name}, SIRET {structure.siret}) : vous ne pouvez importer que les factures "
                "émises par votre structure.")
    return Check("Vendeur = votre structure", seller, structure.siret, True), None


def _routing_checks(read: ReadInvoice, marche: Marche, defaults: dict) -> list[Check]:
    """The file's routing data against what the marché says for this choice (draft_defaults)."""
    checks = []
    reference = read.contract_reference
    checks.append(Check("N° de marché (BT-12)", reference, marche.reference,
                        None if not reference else _same(reference, marche.reference),
                        None if reference else "Absent du fichier."))
    for label, in_file, key in (("SIRET du destinataire", read.buyer.siret, "recipient_siret"),
                                ("Code service (BT-10)", read.service_code, "service_code"),
                                ("N° d'engagement juridique (BT-13)", read.purchase_order, "engagement_number")):
        expected = defaults.get(key) or None
        if not in_file:
            note = "Absent du fichier : la valeur du marché est reprise." if expected else "Absent du fichier."
            checks.append(Check(label, None, expected, None, note))
        else:
            ok = _same(in_file, expected) if expected else None
            note = None if ok is not False else ("La valeur du fichier est reprise dans le formulaire ; si elle est "
                                                 "fausse, la pièce reviendrait « à recycler ».")
            checks.append(Check(label, in_file, expected, ok, note))
    return checks


def preview(structure: Structure, upload: drafts.UploadedFile | None, *, marche_id: int | None = None,
            party_id: int | None = None, cadre: str | None = None, chosen: bool = False,
            allowed=lambda choice, marche: True) -> ImportPreview:
    """Read the file and match it with this structure's marchés (see the module's docstring). `marche_id`, and
    `party_id`/`cadre` when `chosen`, are the user's choices on the preview page; `allowed(choice, marche)` filters
    the deposit choices by the member's rights. OperationError for a refused file. Read-only.
    Right needed: "emises" or "travaux" modification (views)."""
    read = read_upload(upload)
    marches = [marche for marche, _rows in marches_of(structure)]
    result = ImportPreview(read=read, upload=upload, marches=marches)
    seller_check, refusal = _seller_check(structure, read)
    result.checks.append(seller_check)
    if refusal:
        result.blocking.append(refusal)
    found = _marche_by_reference(marches, read.contract_reference)
    if marche_id is not None:
        result.marche = next((m for m in marches if m.id == marche_id), None)
    else:
        result.marche, result.marche_by_reference = found, found is not None
    if result.marche is None:
        return result
    result.choices = [c for c in drafts.deposit_choices(structure, result.marche.id) if allowed(c, result.marche)]
    result.choice = _pick_choice(result.choices, read, party_id, cadre, chosen)
    if result.choice is None:
        return result
    defaults = drafts.draft_defaults(structure, result.marche.id, result.choice.party_id, result.choice.cadre)
    result.checks += _routing_checks(read, result.marche, defaults)
    result.values = {**defaults, **einvoice_match.form_values(read)}
    return result


def preview_for_draft(structure: Structure, piece: Piece, upload: drafts.UploadedFile | None,
                      current: dict) -> ImportPreview:
    """A new file for a saved draft: what was read, and what it would change in the draft (`current`: the draft's
    form values). OperationError for a refused file. Read-only."""
    read = read_upload(upload)
    marche = db.session.get(Marche, piece.marche_id)
    result = ImportPreview(read=read, upload=upload, marches=[marche], marche=marche, piece=piece)
    seller_check, refusal = _seller_check(structure, read)
    result.checks.append(seller_check)
    if refusal:
        result.blocking.append(refusal)
    defaults = drafts.draft_defaults(structure, marche.id, piece.emitter_party_id, piece.cadre)
    result.checks += _routing_checks(read, marche, defaults)
    result.changes = einvoice_match.compare(read, facts_of(piece, structure, marche))
    result.values = {**current, **einvoice_match.form_values(read)}
    return result


# ---------------------------------------------------------------------------------------------------------------------
# Saving the draft


def _check_seller(structure: Structure, read: ReadInvoice) -> None:
    refusal = _seller_check(structure, read)[1]
    if refusal:
        raise OperationError(refusal, field=FIELD)


def create_draft_from_import(account: Account, structure: Structure, marche_id: int, raw: dict,
                             upload: drafts.UploadedFile, *, main_pdf: drafts.UploadedFile | None = None,
                             now: datetime) -> Piece:
    """A draft from the import form (`raw`: the draft form's fields, as `create_draft` takes them) with the original
    file: a Factur-X as the main document; an XML as an attachment, with `main_pdf` (the invoice's PDF) as the main
    document when given. The file is read again first (it came back from the page). Refuses with OperationError and
    leaves nothing behind. Right needed: as create_draft."""
    read = read_upload(upload)
    _check_seller(structure, read)
    if is_pdf(upload):
        if main_pdf is not None:
            raise OperationError("La Factur-X importée est déjà le document principal.", field="main_file")
        return drafts.create_draft(account, structure, marche_id, raw, main_file=upload, now=now)
    return drafts.create_draft(account, structure, marche_id, raw, main_file=main_pdf, attachments=[upload],
                               now=now)


def reimport_into_draft(account: Account, structure: Structure, piece_id: int, raw: dict,
                        upload: drafts.UploadedFile, *, now: datetime) -> Piece:
    """A saved draft takes the (corrected) form's fields and the new file: a Factur-X replaces the main document;
    an XML replaces the draft's previous XML e-invoices (so that one invoice is compared, not an old one too).
    Right needed: as update_draft."""
    read = read_upload(upload)
    _check_seller(structure, read)
    if is_pdf(upload):
        return drafts.update_draft(account, structure, piece_id, raw, main_file=upload, now=now)
    for row, _read in einvoice_files(piece_id):
        if row.role == "attachment":
            drafts.remove_file(account, structure, piece_id, row.id, now=now)
    return drafts.update_draft(account, structure, piece_id, raw, attachments=[upload], now=now)


# ---------------------------------------------------------------------------------------------------------------------
# Before sending: the files must agree with the draft

_CACHE_SIZE = 128
_cache: OrderedDict[tuple[str, str], ReadInvoice | None] = OrderedDict()
_cache_lock = Lock()


def _read_stored(row: PieceFile, contents: dict[str, bytes] | None = None) -> ReadInvoice | None:
    """What a stored file says as an e-invoice, None when it is not one. The reading depends only on the bytes
    (addressed by their SHA-256) and the extension, so it is kept per process: the draft page runs the pre-flight
    check on every display, and a Factur-X takes tens of milliseconds to read."""
    extension = attachment_rules.extension_of(row.name)
    key = (row.sha256, extension)
    with _cache_lock:
        if key in _cache:
            _cache.move_to_end(key)
            return _cache[key]
    content = (contents or {}).get(row.sha256)
    if content is None:
        content = db.session.scalar(select(StoredFile.content).where(StoredFile.sha256 == row.sha256))
    try:
        read = read_einvoice(row.name, content or b"", claims_facturx=False)
    except DocumentRefused:
        read = None  # not an e-invoice we can read (an XML of another kind, a protected PDF…): nothing to compare
    if read is not None and read.source_format == "pdf":
        read = None
    with _cache_lock:
        _cache[key] = read
        while len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
    return read


def einvoice_files(piece_id: int, prepared=None) -> list[tuple[PieceFile, ReadInvoice]]:
    """The draft's e-invoice files with what they say: the main PDF if it is a Factur-X, the XML attachments that are
    CII or UBL invoices. `prepared` (a `deposits.DepositContext`) knows the files of the pieces it created."""
    found = []
    rows = drafts.files_of(piece_id) if prepared is None else prepared.files_of(piece_id)
    for row in rows:
        extension = attachment_rules.extension_of(row.name)
        if (row.role == "main" and extension == "pdf") or (row.role == "attachment" and extension == "xml"):
            read = _read_stored(row, prepared.contents if prepared is not None else None)
            if read is not None:
                found.append((row, read))
    return found


def facts_of(piece: Piece, structure: Structure, marche: Marche) -> einvoice_match.PieceFacts:
    return einvoice_match.PieceFacts(
        number=piece.number, piece_type=piece.piece_type, issue_date=piece.issue_date,
        montant_ht=piece.montant_ht, montant_tva=piece.montant_tva, montant_ttc=piece.montant_ttc,
        autoliquidation=piece.vat_regime == "autoliquidation", emitter_siret=structure.siret,
        recipient_siret=piece.recipient_siret, service_code=piece.service_code,
        engagement_number=piece.engagement_number, marche_reference=marche.reference)


def einvoice_problems(piece: Piece, marche: Marche, prepared=None) -> list[drafts.Problem]:
    """Every disagreement between the draft and its e-invoice files, as pre-flight problems (empty when the draft has
    none, or they agree). Read-only."""
    found = einvoice_files(piece.id, prepared)
    if not found:
        return []
    emitter = (prepared.structure_of(piece.emitter_structure_id) if prepared is not None
               else db.session.get(Structure, piece.emitter_structure_id))
    facts = facts_of(piece, emitter, marche)
    problems = []
    for row, read in found:
        prefix = f"« {row.name} » : " if len(found) > 1 else ""
        problems += [drafts.Problem(prefix + mismatch.message_fr, mismatch.field)
                     for mismatch in einvoice_match.compare(read, facts)]
    return problems
