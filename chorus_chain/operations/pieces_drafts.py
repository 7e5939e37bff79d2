"""Drafts, files, the pre-flight check and the deposit of a piece (see `operations.pieces` for the whole API).

A draft (`BROUILLON`) is saved, not sent: only its emitter sees it, nothing is routed, no clock runs. `deposit`
sends it: the pre-flight check first (what would come back "à recycler" is caught before it leaves), then the route
is frozen from the chain graph, the access rows are written, the transition table moves it to its first step, the
clocks start and whoever must act is notified — all in the caller's transaction, flushed, never committed.
"""
from __future__ import annotations

import hashlib
import mimetypes
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from chorus_chain import graph
from chorus_chain.domain import amounts as amount_rules
from chorus_chain.domain import dates as date_rules
from chorus_chain.domain import attachments as attachment_rules
from chorus_chain.domain import identifiers, numbering, statuses
from chorus_chain.domain import transitions as T
from chorus_chain.domain import cadres
from chorus_chain.domain.cadres import CADRES, is_works_piece
from chorus_chain.domain import money
from chorus_chain.extensions import db
from chorus_chain.graph import ROLE_LABELS, Role
from chorus_chain.models import (
    Account,
    BankAccount,
    Marche,
    MarcheParty,
    Piece,
    PieceFile,
    StoredFile,
    Structure,
)
from chorus_chain.models.pieces import PAYMENT_MODES, VAT_REGIMES
from chorus_chain.operations import OperationError
from chorus_chain.operations import chain as chain_ops
from chorus_chain.operations import pieces_records as records
from chorus_chain.operations.deposits.context import DepositContext
from chorus_chain.operations.marches import access_for, marche_start, today

# ---------------------------------------------------------------------------------------------------------------------
# Values


@dataclass(frozen=True)
class UploadedFile:
    """A file as received: its name as the user's system gave it, and its bytes (a view builds it from a
    werkzeug FileStorage: `UploadedFile(storage.filename or "", storage.read())`)."""

    name: str
    content: bytes


@dataclass(frozen=True)
class Problem:
    """One thing the pre-flight check found: a French sentence and the form field it concerns (None: the piece)."""

    message_fr: str
    field: str | None = None


class PreflightRefused(OperationError):
    """The deposit (or resend) is refused: `problems` lists every problem found; the message and field are the
    first one's."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__(problems[0].message_fr, field=problems[0].field)
        self.problems = problems


@dataclass(frozen=True)
class DepositChoice:
    """Something a structure may deposit on a marché: as which party, which cadre (None: its private invoice to its
    contractor), with a French label, and the route it would take (graph Steps)."""

    party_id: int
    role: str
    cadre: str | None
    label: str
    steps: list[graph.Step] = field(default_factory=list)

    @property
    def code(self) -> str:
        return self.cadre or "privée"


# ---------------------------------------------------------------------------------------------------------------------
# What a structure may deposit, and the draft's pre-filled fields


def deposit_choices(structure: Structure, marche_id: int) -> list[DepositChoice]:
    """What this structure may deposit on the marché, for each of its confirmed parties: the cadres the chain opens
    to it (graph.allowed_cadres), and the private invoice of a sous-traitant without paiement direct. A cadre whose
    route needs a party the marché does not have yet is left out. Empty when it has no confirmed row.
    Right needed (views): "emises" (services) or "travaux" (works) modification."""
    access = access_for(structure, marche_id)
    if access is None or access.chain is None:
        return []
    choices = []
    for row in access.own:
        for cadre in chain_ops.deposit_cadres(access.chain, row.id):
            try:
                steps = graph.route(access.chain, row.id, cadre)
            except graph.IncompleteChainError:
                continue
            label = CADRES[cadre].label if cadre else "Facture à l'entreprise donneuse d'ordre (hors Chorus Pro)"
            choices.append(DepositChoice(row.id, row.role, cadre, label, steps))
    return choices


def _recipient(chain: graph.Chain, rows_by_id: dict[int, MarcheParty], steps: list[graph.Step]
               ) -> MarcheParty:
    """The party the piece is addressed to: the last public step of its route (the paying office, or the MOA for an
    end-of-contract piece), or the contractor of a private invoice."""
    return rows_by_id[steps[-1].party_key]


def draft_defaults(structure: Structure, marche_id: int, party_id: int, cadre: str | None) -> dict[str, Any]:
    """The fields a new draft starts with, from the marché and the chain: recipient SIRET, service code and
    engagement number of the marché (none for a private invoice), VAT regime (autoliquidation for a works
    sous-traitant), the structure's default bank account, payment by transfer. OperationError when the party may not
    deposit this cadre."""
    access = access_for(structure, marche_id)
    row = next((r for r in access.own if r.id == party_id), None) if access and access.chain else None
    if row is None:
        raise OperationError("Vous n'êtes pas partie à ce marché à ce titre.", field="party_id")
    try:
        steps = graph.route(access.chain, row.id, cadre)
    except ValueError as error:
        raise OperationError(str(error), field="cadre") from None
    recipient = _recipient(access.chain, {r.id: r for r in access.rows}, steps)
    marche = access.marche
    public = cadre is not None
    service_code = None
    if public:
        service_code = recipient.service_code or (
            marche.paying_service_code if recipient.role == Role.PAYING_OFFICE else marche.moa_service_code)
    bank = db.session.scalar(select(BankAccount).where(
        BankAccount.structure_id == structure.id, BankAccount.active.is_(True))
        .order_by(BankAccount.is_default.desc(), BankAccount.id))
    return {
        "party_id": row.id, "cadre": cadre or "", "piece_type": "FACTURE",
        "vat_regime": "autoliquidation" if graph.autoliquidation(access.chain, row.id) else "normal",
        "recipient_siret": recipient.siret, "service_code": service_code or "",
        "engagement_number": (marche.engagement_number or "") if public else "",
        "bank_account_id": bank.id if bank else None, "payment_mode": "virement",
    }


# ---------------------------------------------------------------------------------------------------------------------
# Reading the form


@dataclass
class DraftFields:
    party: MarcheParty
    cadre: str | None
    piece_type: str
    number: str
    number_key: str
    issue_date: date
    totals: amount_rules.Totals
    vat_regime: str
    recipient_siret: str
    service_code: str | None
    engagement_number: str | None
    bank_account_id: int | None
    payment_mode: str
    original_piece_id: int | None
    previous_piece_id: int | None


def _text(raw: Mapping[str, Any], name: str) -> str:
    value = raw.get(name)
    return "" if value is None else str(value).strip()


def _optional_id(raw: Mapping[str, Any], name: str, message: str) -> int | None:
    value = _text(raw, name)
    if not value:
        return None
    try:
        return int(value)
    except ValueError:
        raise OperationError(message, field=name) from None


def parse_day(value: Any, field_name: str, label: str) -> date:
    """A date from a form ("YYYY-MM-DD") or a date; OperationError otherwise."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = "" if value is None else str(value).strip()
    if not text:
        raise OperationError(f"Indiquez {label}.", field=field_name)
    try:
        return date_rules.parse_iso_day(text)
    except date_rules.ImplausibleDate as error:
        raise OperationError(f"{label[0].upper()}{label[1:]} : {str(error)[0].lower()}{str(error)[1:]}",
                             field=field_name) from None
    except ValueError:
        raise OperationError(f"{label[0].upper()}{label[1:]} n'est pas une date valide (AAAA-MM-JJ).",
                             field=field_name) from None


def _parse(structure: Structure, marche_id: int, raw: Mapping[str, Any], now: datetime,
           ctx: DepositContext | None = None) -> DraftFields:
    """Check and convert a draft's fields; the first problem is refused (OperationError with its field)."""
    access = access_for(structure, marche_id)
    if access is None or not access.own:
        raise OperationError("Vous n'êtes pas partie à ce marché.")
    party_id = _optional_id(raw, "party_id", "Choisissez à quel titre vous déposez la pièce.")
    if party_id is None and len(access.own) == 1:
        party_id = access.own[0].id
    party = next((row for row in access.own if row.id == party_id), None)
    if party is None:
        raise OperationError("Choisissez à quel titre vous déposez la pièce.", field="party_id")
    cadre = _text(raw, "cadre").upper() or None
    if cadre not in chain_ops.deposit_cadres(access.chain, party.id):
        allowed = [c or "facture privée" for c in chain_ops.deposit_cadres(access.chain, party.id)]
        raise OperationError(
            f"Ce type de pièce n'est pas ouvert à votre structure ({ROLE_LABELS[party.role]}) sur ce marché. "
            f"Possibles : {', '.join(allowed) if allowed else 'aucun'}.", field="cadre")
    piece_type = _text(raw, "piece_type").upper() or "FACTURE"
    if piece_type not in amount_rules.PIECE_TYPES:
        raise OperationError("Choisissez facture ou avoir.", field="piece_type")
    try:
        number = numbering.clean_piece_number(_text(raw, "number"))
    except numbering.NumberRefused as error:
        raise OperationError(error.message_fr, field=error.field) from None
    issue_date = parse_day(raw.get("issue_date"), "issue_date", "la date d'émission")
    if issue_date > today(now):
        raise OperationError("La date d'émission ne peut pas être dans le futur.", field="issue_date")
    start = marche_start(access.marche)
    if start is not None and issue_date < start:
        raise OperationError(f"La date d'émission ({issue_date:%d/%m/%Y}) précède le marché (son mois zéro commence "
                             f"le {start:%d/%m/%Y}) : vérifiez-la.", field="issue_date")
    oldest = date_rules.prescription_start(today(now))
    if issue_date < oldest:
        raise OperationError(f"La date d'émission ({issue_date:%d/%m/%Y}) est trop ancienne : une créance sur une "
                             f"personne publique est prescrite après quatre ans (avant le {oldest:%d/%m/%Y}).",
                             field="issue_date")
    vat_regime = _text(raw, "vat_regime") or (
        "autoliquidation" if graph.autoliquidation(access.chain, party.id) else "normal")
    if vat_regime not in VAT_REGIMES:
        raise OperationError("Choisissez le régime de TVA.", field="vat_regime")
    amounts = [raw.get(name) for name in ("montant_ht", "montant_tva", "montant_ttc")]
    if cadre in cadres.DECOMPTE_CADRES and all(value in (None, "") for value in amounts):
        amounts = ["0.00"] * 3  # a projet de décompte's amounts come from its décompte, entered next
    try:
        totals = amount_rules.check_deposit_amounts(
            *amounts,
            autoliquidation=vat_regime == "autoliquidation", piece_type=piece_type)
    except amount_rules.AmountRefused as error:
        raise OperationError(error.message_fr, field=error.field) from None
    routing = parse_routing(raw)
    payment_mode = _text(raw, "payment_mode") or "virement"
    if payment_mode not in PAYMENT_MODES:
        raise OperationError("Choisissez le mode de paiement.", field="payment_mode")
    bank_account_id = _optional_id(raw, "bank_account_id", "Choisissez un compte bancaire de votre structure.")
    if bank_account_id is not None:
        bank = ctx.bank_account(bank_account_id) if ctx is not None else db.session.get(BankAccount, bank_account_id)
        if bank is None or bank.structure_id != structure.id or not bank.active:
            raise OperationError("Choisissez un compte bancaire actif de votre structure.", field="bank_account_id")
    original_piece_id = _optional_id(raw, "original_piece_id", "Choisissez la facture d'origine.")
    if piece_type == "FACTURE" and original_piece_id is not None:
        raise OperationError("Seul un avoir fait référence à une facture d'origine.", field="original_piece_id")
    previous_piece_id = _optional_id(raw, "previous_piece_id", "Choisissez la pièce précédente du dossier.")
    for name, ident in (("original_piece_id", original_piece_id), ("previous_piece_id", previous_piece_id)):
        if ident is not None:
            other = db.session.scalar(select(Piece).where(Piece.id == ident))  # visible to the tenant only
            if other is None or other.marche_id != marche_id or other.is_draft:
                raise OperationError("Cette pièce n'existe pas sur ce marché ou n'a pas été envoyée.", field=name)
    return DraftFields(party, cadre, piece_type, number, numbering.number_key(number), issue_date, totals,
                       vat_regime, routing["recipient_siret"], routing["service_code"], routing["engagement_number"],
                       bank_account_id, payment_mode, original_piece_id, previous_piece_id)


def parse_routing(raw: Mapping[str, Any]) -> dict[str, str | None]:
    """The routing fields of a piece (recipient SIRET, service code, engagement number ≤ 50 characters), checked."""
    try:
        recipient_siret = identifiers.clean_siret(_text(raw, "recipient_siret"))
    except identifiers.InvalidIdentifier as error:
        raise OperationError(str(error), field="recipient_siret") from None
    service_code = _text(raw, "service_code") or None
    if service_code is not None and len(service_code) > 100:
        raise OperationError("Le code service compte 100 caractères au plus.", field="service_code")
    engagement_number = _text(raw, "engagement_number") or None
    if engagement_number is not None and len(engagement_number) > 50:
        raise OperationError(f"Le numéro d'engagement compte {len(engagement_number)} caractères : 50 au plus.",
                             field="engagement_number")
    return {"recipient_siret": recipient_siret, "service_code": service_code,
            "engagement_number": engagement_number}


def _number_taken(structure_id: int, key: str, except_id: int | None = None) -> Piece | None:
    query = select(Piece).where(Piece.emitter_structure_id == structure_id, Piece.number_key == key)
    if except_id is not None:
        query = query.where(Piece.id != except_id)
    return db.session.scalar(query)


def _duplicate(number: str, other: Piece) -> OperationError:
    return OperationError(
        f"Vous avez déjà utilisé le numéro « {other.number} » : un numéro de pièce n'est jamais réutilisé, même "
        "après un rejet. Choisissez un autre numéro.", field="number")


def _apply(piece: Piece, fields: DraftFields) -> None:
    piece.emitter_party_id = fields.party.id
    piece.cadre = fields.cadre
    piece.works = is_works_piece(fields.cadre, db.session.get(Marche, piece.marche_id).kind)
    piece.piece_type = fields.piece_type
    piece.number, piece.number_key = fields.number, fields.number_key
    piece.issue_date = fields.issue_date
    piece.montant_ht, piece.montant_tva, piece.montant_ttc = fields.totals.ht, fields.totals.tva, fields.totals.ttc
    piece.vat_regime = fields.vat_regime
    piece.recipient_siret = fields.recipient_siret
    piece.service_code, piece.engagement_number = fields.service_code, fields.engagement_number
    piece.bank_account_id, piece.payment_mode = fields.bank_account_id, fields.payment_mode
    piece.original_piece_id, piece.previous_piece_id = fields.original_piece_id, fields.previous_piece_id


def _insert_or_duplicate(piece: Piece, number: str) -> None:
    """Flush the piece in a savepoint: a concurrent draft that took the same number at the same instant is refused
    like any duplicate (the unique key covers every piece ever created by this emitter)."""
    try:
        with db.session.begin_nested():
            db.session.add(piece)
            db.session.flush()
    except IntegrityError:
        raise OperationError(
            f"Vous avez déjà utilisé le numéro « {number} » : un numéro de pièce n'est jamais réutilisé, "
            "même après un rejet. Choisissez un autre numéro.", field="number") from None


# ---------------------------------------------------------------------------------------------------------------------
# Drafts


def create_draft(account: Account, structure: Structure, marche_id: int, raw: Mapping[str, Any], *,
                 main_file: UploadedFile | None = None, attachments: Iterable[UploadedFile] = (),
                 now: datetime, ctx: DepositContext | None = None) -> Piece:
    """Save a draft (BROUILLON, not sent) of a piece of this structure on the marché, with its files.

    `raw` holds the form's fields (strings, or typed values): party_id (optional when the structure is one party),
    cadre ("A10"…, "" for a private invoice), piece_type (FACTURE/AVOIR), number, issue_date, montant_ht,
    montant_tva, montant_ttc (as typed: "1 234,56"), vat_regime (normal/autoliquidation; default from the chain),
    recipient_siret, service_code, engagement_number, bank_account_id, payment_mode, original_piece_id (a credit
    note's invoice), previous_piece_id (the piece this one follows in a dossier).
    Refuses with OperationError(message, field) and leaves nothing behind. Right needed: "emises" (services) or
    "travaux" (works) modification. Records the creation as the piece's first event.
    `ctx`: the deposits' prepared context a batch shares (`deposits.DepositContext`); one of its own otherwise."""
    ctx = ctx if ctx is not None else DepositContext(structure)
    piece = prepare_draft(account, structure, marche_id, raw, now=now, ctx=ctx)
    _insert_or_duplicate(piece, piece.number)
    ctx.created(piece)
    record_creation(piece, account, structure, now, ctx)
    if main_file is not None:
        add_files(piece, [main_file], role="main", account=account, now=now, ctx=ctx)
    attachments = list(attachments)
    if attachments:
        add_files(piece, attachments, role="attachment", account=account, now=now, ctx=ctx)
    db.session.flush()
    return piece


def prepare_draft(account: Account, structure: Structure, marche_id: int, raw: Mapping[str, Any], *, now: datetime,
                  ctx: DepositContext) -> Piece:
    """The draft `create_draft` saves, checked and built, not yet added to the session (a batch checks all its
    pieces before writing any). OperationError as `create_draft`."""
    fields = _parse(structure, marche_id, raw, now, ctx)
    other = ctx.number_user(structure.id, fields.number_key)
    if other is not None:
        raise _duplicate(fields.number, other)
    piece = Piece(marche_id=marche_id, emitter_structure_id=structure.id, status=statuses.INITIAL_STATUS.value,
                  created_by_id=account.id, created_at=now, updated_at=now)
    _apply(piece, fields)
    return piece


def record_creation(piece: Piece, account: Account, structure: Structure, now: datetime,
                    ctx: DepositContext | None) -> None:
    """The creation of a draft, its first event."""
    records.record_event(piece, action=T.Action.CREATE, actor_step=T.EMITTER, from_status=None,
                         to_status=statuses.INITIAL_STATUS, account=account, structure=structure, now=now, ctx=ctx)


def _own_draft(structure: Structure, piece_id: int) -> Piece:
    piece = records.load_for_update(piece_id)
    if piece is None or piece.emitter_structure_id != structure.id:
        raise OperationError("Cette pièce n'existe pas ou n'est pas une pièce de votre structure.")
    if not piece.is_draft:
        raise OperationError(f"Cette pièce a déjà été envoyée (statut actuel : {statuses.label(piece.status)}) : "
                             "elle ne se modifie plus. Rechargez la page.")
    return piece


def update_draft(account: Account, structure: Structure, piece_id: int, raw: Mapping[str, Any], *,
                 main_file: UploadedFile | None = None, attachments: Iterable[UploadedFile] = (),
                 now: datetime) -> Piece:
    """Change a draft (only in BROUILLON): the same fields as `create_draft`, all of them (a form posts them all);
    a new `main_file` replaces the main document, `attachments` are added. Right: as create_draft."""
    piece = _own_draft(structure, piece_id)
    fields = _parse(structure, piece.marche_id, raw, now)
    other = _number_taken(structure.id, fields.number_key, except_id=piece.id)
    if other is not None:
        raise _duplicate(fields.number, other)
    _apply(piece, fields)
    piece.updated_at = now
    if main_file is not None:
        add_files(piece, [main_file], role="main", account=account, now=now)
    attachments = list(attachments)
    if attachments:
        add_files(piece, attachments, role="attachment", account=account, now=now)
    records.flush_piece()
    return piece


def remove_file(account: Account, structure: Structure, piece_id: int, file_id: int, *, now: datetime) -> None:
    """Remove a file from a draft (a deposited piece keeps its files for ever). Right: as create_draft."""
    piece = _own_draft(structure, piece_id)
    row = db.session.scalar(select(PieceFile).where(PieceFile.id == file_id, PieceFile.piece_id == piece.id))
    if row is None:
        raise OperationError("Ce fichier n'est pas joint à cette pièce.")
    if row.role == "main":
        piece.main_sha256 = None
    db.session.delete(row)
    piece.updated_at = now
    records.flush_piece()


# ---------------------------------------------------------------------------------------------------------------------
# Files


def files_of(piece_id: int) -> list[PieceFile]:
    return list(db.session.scalars(select(PieceFile).where(PieceFile.piece_id == piece_id).order_by(PieceFile.id)))


def file_content(piece_id: int, file_id: int) -> tuple[PieceFile, bytes] | None:
    """A file of a piece the current tenant sees, with its bytes (for a download: serve it as an attachment with
    `X-Content-Type-Options: nosniff`), or None. Right: consultation in the piece's domain."""
    row = db.session.scalar(select(PieceFile).where(PieceFile.id == file_id, PieceFile.piece_id == piece_id))
    if row is None:
        return None
    content = db.session.scalar(select(StoredFile.content).where(StoredFile.sha256 == row.sha256))
    return row, content


def _content_type(name: str) -> str:
    return mimetypes.guess_type(name, strict=False)[0] or "application/octet-stream"


def add_files(piece: Piece, files: Iterable[UploadedFile], *, role: str, account: Account | None,
              now: datetime, ctx: DepositContext | None = None) -> list[PieceFile]:
    """Check and store files of a piece (domain.attachments: name ≤ 50 characters without path parts, allowed
    extension, content matching it, not empty, < 10 Mo each, ≤ 120 Mo for all the files of the piece, no two with
    the same name). role "main": one PDF, replacing the draft's previous main document; "attachment" or
    "completion" (documents sent to complete a suspended piece). The bytes go into the database (deduplicated by
    SHA-256), so a rolled-back change leaves nothing. Refuses with OperationError(field "main_file" / "files")."""
    existing = ctx.files_of(piece.id) if ctx is not None else files_of(piece.id)
    rows, replaced = prepare_files(piece, files, role=role, account=account, now=now, existing=existing)
    if replaced:
        for row in replaced:
            db.session.delete(row)
            if ctx is not None:
                ctx.files[piece.id].remove(row)
        db.session.flush()
    store_files(rows, now=now, ctx=ctx)
    if ctx is not None:
        ctx.files[piece.id].extend(row for row, _ in rows)
    db.session.flush()
    return [row for row, _ in rows]


def prepare_files(piece: Piece, files: Iterable[UploadedFile], *, role: str, account: Account | None,
                  now: datetime, existing: list[PieceFile]) -> tuple[list[tuple[PieceFile, bytes]], list[PieceFile]]:
    """The checks of `add_files`, and the rows it would add (with their bytes) and the rows they replace: nothing
    written. Sets the piece's `main_sha256` for a main document."""
    files = list(files)
    form_field = "main_file" if role == "main" else "files"
    try:
        if role == "main":
            if len(files) != 1:
                raise OperationError("Joignez un seul document principal (PDF).", field=form_field)
            names = [attachment_rules.check_main_document(files[0].name, files[0].content)]
        else:
            names = attachment_rules.check_attachments([(f.name, f.content) for f in files])
    except attachment_rules.AttachmentRefused as error:
        raise OperationError(error.message_fr, field=form_field) from None
    replaced = [row for row in existing if row.role == "main"] if role == "main" else []
    kept = [row for row in existing if row not in replaced]
    taken = {row.name.casefold() for row in kept}
    for name in names:
        if name.casefold() in taken:
            raise OperationError(f"Un fichier s'appelle déjà « {name} » sur cette pièce : renommez-le.",
                                 field=form_field)
    total = sum(row.size for row in kept) + sum(len(f.content) for f in files)
    if total > attachment_rules.TOTAL_MAX_BYTES:
        mb = attachment_rules.MB
        raise OperationError(
            f"Les fichiers de la pièce pèseraient ensemble {total / mb:.1f} Mo : Chorus Pro accepte "
            f"{attachment_rules.TOTAL_MAX_BYTES // mb} Mo au plus par pièce.".replace(".", ",", 1),
            field=form_field)
    if replaced and not piece.is_draft:
        raise OperationError("Le document principal d'une pièce envoyée ne change plus.", field=form_field)
    rows = []
    for name, upload in zip(names, files, strict=True):
        content = bytes(upload.content)
        sha = hashlib.sha256(content).hexdigest()
        rows.append((PieceFile(piece_id=piece.id, role=role, name=name, content_type=_content_type(name),
                               size=len(content), sha256=sha, added_by_id=account.id if account else None,
                               added_at=now), content))
        if role == "main":
            piece.main_sha256 = sha
    return rows, replaced


def store_files(rows: list[tuple[PieceFile, bytes]], *, now: datetime, ctx: DepositContext | None = None) -> None:
    """Write prepared files: their bytes once per content (INSERT ... ON CONFLICT DO NOTHING, one statement for
    all), and their rows (added to the session)."""
    contents = {row.sha256: content for row, content in rows
                if ctx is None or row.sha256 not in ctx.stored}  # the same bytes twice in a batch are stored once
    if contents:
        insert = postgresql.insert if records.is_postgresql() else sqlite.insert
        db.session.execute(insert(StoredFile).on_conflict_do_nothing(index_elements=["sha256"]),
                           [{"sha256": sha, "size": len(content), "content": content, "created_at": now}
                            for sha, content in contents.items()])
    db.session.add_all([row for row, _ in rows])
    if ctx is not None:
        ctx.stored.update(contents)
        ctx.contents.update(contents)


# ---------------------------------------------------------------------------------------------------------------------
# Pre-flight check


@dataclass
class RouteContext:
    marche: Marche
    rows_by_id: dict[int, MarcheParty]
    chain: graph.Chain
    steps: list[graph.Step] | None


def route_context(piece: Piece, problems: list[Problem]) -> RouteContext:
    marche = db.session.get(Marche, piece.marche_id)
    rows = chain_ops.rows_of(marche)
    chain = chain_ops.chain_of(marche, rows)
    steps = None
    if piece.emitter_party_id not in chain.parties:
        problems.append(Problem("Votre rôle sur ce marché a été retiré : la pièce ne peut plus être envoyée.",
                                "party_id"))
    else:
        try:
            steps = graph.route(chain, piece.emitter_party_id, piece.cadre)
        except graph.IncompleteChainError as error:
            problems.append(Problem(f"{error} La pièce ne peut pas encore être envoyée.", None))
        except ValueError as error:
            problems.append(Problem(str(error), "cadre"))
    return RouteContext(marche, {row.id: row for row in rows}, chain, steps)


_STEP_LABELS = {
    T.STEP_VALIDATION_1: "valideur", T.STEP_VALIDATION_2: "second valideur", T.STEP_MOE: "maître d'œuvre",
    T.STEP_MOA: "maître d'ouvrage", T.STEP_PAIEMENT: "service financier",
    T.STEP_CONTRACTOR: "entreprise donneuse d'ordre",
}


def routing_problems(piece: Piece, ctx: RouteContext, day: date, prepared: DepositContext | None = None
                     ) -> list[Problem]:
    """What would make the piece come back "à recycler": a recipient SIRET that is not the route's recipient, a
    service code unknown, inactive or out of its validity dates, a service code or engagement number missing where
    the recipient's settings (or the service) demand one."""
    problems: list[Problem] = []
    if not ctx.steps:
        return problems
    recipient = _recipient(ctx.chain, ctx.rows_by_id, ctx.steps)
    if piece.recipient_siret != recipient.siret:
        problems.append(Problem(
            f"Le SIRET destinataire {piece.recipient_siret} n'est pas celui du destinataire de cette pièce sur le "
            f"marché : {recipient.name} ({ROLE_LABELS[recipient.role]}, SIRET {recipient.siret}). Envoyée ainsi, "
            "elle reviendrait « à recycler ».", "recipient_siret"))
        return problems
    if piece.cadre is None or recipient.structure_id is None:
        return problems  # a private invoice: no Chorus routing
    if prepared is None:  # the resend's check (pieces_actions), alone
        prepared = DepositContext(db.session.get(Structure, piece.emitter_structure_id))
    structure = prepared.structure_of(recipient.structure_id)
    service = None
    if piece.service_code:
        service = prepared.service(structure.id, piece.service_code)
        if service is None:
            problems.append(Problem(f"{structure.name} n'a pas de service de code « {piece.service_code} » : "
                                    "vérifiez le code service.", "service_code"))
        elif not service.is_valid_on(day):
            state = "est inactif" if not service.active else "n'est pas valide à cette date"
            problems.append(Problem(f"Le service « {service.code} » ({service.name}) de {structure.name} {state} : "
                                    "la pièce ne peut pas lui être adressée.", "service_code"))
    requirement = structure.routing_requirement
    if requirement == "code_service" and not piece.service_code:
        problems.append(Problem(f"{structure.name} exige un code service sur les pièces qu'elle reçoit.",
                                "service_code"))
    if requirement == "engagement" and not piece.engagement_number:
        problems.append(Problem(f"{structure.name} exige un numéro d'engagement juridique sur les pièces qu'elle "
                                "reçoit.", "engagement_number"))
    if requirement == "one_of" and not (piece.service_code or piece.engagement_number):
        problems.append(Problem(f"{structure.name} exige un code service ou un numéro d'engagement juridique.",
                                "service_code"))
    if service is not None and service.engagement_required and not piece.engagement_number \
            and requirement != "engagement":
        problems.append(Problem(f"Le service « {service.code} » de {structure.name} exige un numéro d'engagement "
                                "juridique.", "engagement_number"))
    return problems


def party_problems(piece: Piece, ctx: RouteContext) -> list[Problem]:
    problems = []
    emitter = ctx.rows_by_id.get(piece.emitter_party_id)
    if emitter is None or emitter.status != "confirmed" or emitter.structure_id != piece.emitter_structure_id:
        problems.append(Problem("Votre rôle sur ce marché n'est pas confirmé : la pièce ne peut pas être envoyée.",
                                "party_id"))
    for step in ctx.steps or ():
        row = ctx.rows_by_id[step.party_key]
        if row.status != "confirmed" or row.structure_id is None:
            problems.append(Problem(
                f"{row.name} ({_STEP_LABELS[step.step]} de cette pièce) n'a pas encore confirmé son rôle sur le "
                "marché : la pièce ne pourrait pas lui parvenir.", None))
    return problems


def _amount_problems(piece: Piece, ctx: RouteContext, prepared: DepositContext) -> list[Problem]:
    problems = []
    try:
        totals = amount_rules.check_deposit_amounts(piece.montant_ht, piece.montant_tva, piece.montant_ttc,
                                                    autoliquidation=piece.vat_regime == "autoliquidation",
                                                    piece_type=piece.piece_type)
    except amount_rules.AmountRefused as error:
        return [Problem(error.message_fr, error.field)]
    if piece.emitter_party_id in ctx.chain.parties and graph.autoliquidation(ctx.chain, piece.emitter_party_id) \
            and piece.vat_regime != "autoliquidation":
        problems.append(Problem("Sous-traitant de travaux, vous facturez en autoliquidation : sans TVA, la mention "
                                "« Autoliquidation » est imprimée.", "vat_regime"))
    if piece.piece_type == "AVOIR":
        problems += _credit_note_problems(piece, totals, prepared)
    else:
        problems += _dc4_ceiling_problems(piece, ctx, prepared)
    return problems


def _dc4_ceiling_problems(piece: Piece, ctx: RouteContext, prepared: DepositContext) -> list[Problem]:
    """A sous-traitant never asks for more than its acte spécial (DC4, as amended): the money engine's ceiling rule
    (`check_dc4_ceiling`, the one the état d'acompte applies), on the TTC of every piece it has deposited on the
    marché and not had refused, credit notes deducted, plus this one."""
    party = ctx.rows_by_id.get(piece.emitter_party_id)
    if party is None or party.role != Role.SOUS_TRAITANT or party.montant_ttc is None:
        return []
    # The piece itself is a draft (BROUILLON): never counted here.
    asked = prepared.asked_ttc(party.id, [statuses.Status.BROUILLON.value, *_REFUSED])
    try:
        money.check_dc4_ceiling(party.name, Decimal(asked) + piece.montant_ttc, party.montant_ttc, True)
    except money.MoneyError as error:
        return [Problem(error.message, "montant_ttc")]
    return []


def _credit_note_problems(piece: Piece, totals: amount_rules.Totals, prepared: DepositContext) -> list[Problem]:
    original = db.session.scalar(select(Piece).where(Piece.id == piece.original_piece_id)) \
        if piece.original_piece_id else None
    if original is None:
        return [Problem("Un avoir fait référence à la facture qu'il crédite : choisissez-la.", "original_piece_id")]
    if original.emitter_structure_id != piece.emitter_structure_id or original.piece_type != "FACTURE" \
            or original.marche_id != piece.marche_id or original.is_draft:
        return [Problem("La facture d'origine doit être une facture envoyée par votre structure sur ce marché.",
                        "original_piece_id")]
    credited = db.session.scalar(select(func.coalesce(func.sum(Piece.montant_ttc), 0)).where(
        Piece.original_piece_id == original.id, Piece.id != piece.id, Piece.piece_type == "AVOIR",
        Piece.status.not_in([statuses.Status.BROUILLON.value, *_REFUSED]))) or Decimal("0")
    credited = Decimal(credited) + prepared.pending_credit.get(original.id, Decimal("0"))  # a batch's, unwritten
    try:
        amount_rules.check_credit_note(
            totals, amount_rules.Totals(original.montant_ht, original.montant_tva, original.montant_ttc),
            already_credited_ttc=Decimal(credited), original_autoliquidation=original.vat_regime == "autoliquidation",
            autoliquidation=piece.vat_regime == "autoliquidation")
    except amount_rules.AmountRefused as error:
        return [Problem(error.message_fr, error.field)]
    return []


# Final statuses that end a piece without payment (its amounts are not due).
_REFUSED = tuple(s.value for s in statuses.FINAL_STATUSES
                 if s not in (statuses.Status.MISE_EN_PAIEMENT, statuses.Status.PAYEE_CONTRACTANT,
                              statuses.Status.ASSOCIEE))


def preflight(piece: Piece, now: datetime) -> list[Problem]:
    """Everything that would stop the deposit, in French, each with its form field (empty: ready to send):
    the emitter's role confirmed and the cadre open to it (graph.allowed_cadres), the route complete and every party
    on it confirmed (validators included), the recipient SIRET, service code and engagement number as the recipient
    demands (`routing_problems`), amounts consistent (domain.amounts; autoliquidation for a works sous-traitant), the
    main PDF present, a bank account for a transfer, a credit note's original invoice of the same emitter (and not
    credited beyond its amount), a follow-up piece's previous piece deposited on the same marché.
    Read-only. Right needed: consultation in the piece's domain (the page shows it before sending)."""
    return _preflight(piece, now, DepositContext(db.session.get(Structure, piece.emitter_structure_id)))[0]


def _preflight(piece: Piece, now: datetime, prepared: DepositContext) -> tuple[list[Problem], RouteContext]:
    problems: list[Problem] = []
    ctx = route_context(piece, problems)
    problems += party_problems(piece, ctx)
    problems += routing_problems(piece, ctx, today(now), prepared)
    problems += _amount_problems(piece, ctx, prepared)
    # A projet de décompte entered line by line: unjustified lines, stale figures (late import: decomptes drives the
    # drafts of this module).
    from chorus_chain.operations import decomptes
    problems += decomptes.deposit_problems(piece, prepared)
    files = prepared.files_of(piece.id)
    if not any(row.role == "main" for row in files):
        problems.append(Problem("Joignez le document principal de la pièce (PDF).", "main_file"))
    # The e-invoice files (a Factur-X main PDF, CII/UBL XML attachments) must agree with the form. Imported here:
    # that module builds on this one.
    from chorus_chain.operations.einvoice_import import einvoice_problems

    problems += einvoice_problems(piece, ctx.marche, prepared)
    if piece.payment_mode == "virement":
        bank = prepared.bank_account(piece.bank_account_id) if piece.bank_account_id else None
        if bank is None or bank.structure_id != piece.emitter_structure_id or not bank.active:
            problems.append(Problem("Choisissez le compte bancaire sur lequel vous serez payé (coordonnées bancaires "
                                    "de votre structure).", "bank_account_id"))
    if piece.previous_piece_id is not None:
        previous = db.session.scalar(select(Piece).where(Piece.id == piece.previous_piece_id))
        if previous is None or previous.marche_id != piece.marche_id or previous.is_draft:
            problems.append(Problem("La pièce précédente du dossier doit être une pièce envoyée de ce marché.",
                                    "previous_piece_id"))
    return problems, ctx


# ---------------------------------------------------------------------------------------------------------------------
# Deposit


def frozen_route(ctx: RouteContext) -> list[dict[str, Any]]:
    """The route as stored on the piece: who acts, in order, with the party's structure as it is now."""
    return [{"party_id": step.party_key, "structure_id": ctx.rows_by_id[step.party_key].structure_id,
             "siret": step.siret, "role": step.role, "step": step.step} for step in ctx.steps]


def deposit_facts(piece: Piece, files: list[PieceFile] | None = None) -> dict[str, Any]:
    """What the deposit event's hash covers besides the status: the deposited number, amounts and files, the
    routing data and the route (`flask audit verify` compares them with the piece)."""
    return {
        "number": piece.number, "type": piece.piece_type, "cadre": piece.cadre,
        "montant_ht": piece.montant_ht, "montant_tva": piece.montant_tva, "montant_ttc": piece.montant_ttc,
        "vat_regime": piece.vat_regime, "issue_date": piece.issue_date, "main_sha256": piece.main_sha256,
        "files": [{"name": row.name, "role": row.role, "sha256": row.sha256}
                  for row in (files_of(piece.id) if files is None else sorted(files, key=lambda row: row.id))],
        "recipient_siret": piece.recipient_siret, "service_code": piece.service_code,
        "engagement_number": piece.engagement_number, "dossier": piece.dossier_number,
        "route": [f"{step['step']}:{step['siret']}" for step in piece.route],
    }


def deposit(piece_id: int, account: Account, structure: Structure, *, now: datetime,
            ctx: DepositContext | None = None) -> Piece:
    """Send a draft. The row is locked first (SELECT ... FOR UPDATE on PostgreSQL), so the same draft submitted twice
    (a double click, two tabs) is deposited once: the second gets "Cette pièce a déjà été envoyée".

    Then: `preflight` (PreflightRefused with every problem), the route frozen from graph.route, the dossier number
    (the previous piece's, or a new DOS-YYYY-NNNNNN), access rows from graph.visible_structures (plus the holder
    of the marché where the route asks for its signature), transitions.perform(deposit) with one hash-chained event
    per transition, the clocks opened (domain.deadlines.clock_changes), and whoever must act notified.
    Right needed: "emises" (services) or "travaux" (works) modification.

    `ctx`: the deposits' prepared context a batch shares (`deposits.DepositContext`, whose `finish` its owner calls);
    one of its own otherwise. A piece created through the same context is not locked again: it was inserted by this
    transaction, which no other sees yet."""
    own = ctx is None
    ctx = ctx if ctx is not None else DepositContext(structure)
    piece = ctx.pieces[piece_id] if piece_id in ctx.new_pieces else records.load_for_update(piece_id)
    if piece is None or piece.emitter_structure_id != structure.id:
        raise OperationError("Cette pièce n'existe pas ou n'est pas une pièce de votre structure.")
    if not piece.is_draft:
        raise OperationError(f"Cette pièce a déjà été envoyée (statut actuel : {statuses.label(piece.status)}). "
                             "Rechargez la page.")
    route_ctx = check_deposit(piece, now, ctx)
    ctx.count_asked(piece)
    transitions, access = route_deposit(piece, route_ctx, now)
    records.insert_access(access)
    record_deposit(piece, transitions, account=account, structure=structure, now=now, ctx=ctx)
    records.flush_piece()
    if own:
        ctx.finish()
    db.session.flush()
    return piece


# The three steps of a deposit, shared by `deposit` (one piece) and a batch (`deposits.batch`, which runs each step
# for all its pieces: the checks before writing anything, then the access rows of all in one statement, then the
# events, clocks and notifications flushed together).


def check_deposit(piece: Piece, now: datetime, ctx: DepositContext) -> RouteContext:
    """The pre-flight check before the deposit: PreflightRefused with every problem found. Nothing written."""
    problems, route_ctx = _preflight(piece, now, ctx)
    if problems:
        raise PreflightRefused(problems)
    return route_ctx


def route_deposit(piece: Piece, route_ctx: RouteContext, now: datetime
                  ) -> tuple[list[T.Transition], list[dict[str, Any]]]:
    """Freeze the route, the deposit instant and the dossier number on the piece; the transitions of the deposit and
    the access rows to write (`records.insert_access`) before they are recorded."""
    route = frozen_route(route_ctx)
    steps = tuple(step["step"] for step in route)
    try:
        transitions = T.perform(piece.status, T.Action.DEPOSIT, T.EMITTER, steps, cadre=piece.cadre)
    except T.TransitionRefused as error:  # pragma: no cover - a draft may always be deposited
        raise OperationError(error.message_fr, field=error.field) from None
    piece.route = route
    piece.deposited_at = now
    piece.updated_at = now
    # A follow-up piece joins its previous piece's dossier, a credit note its invoice's; else a new dossier.
    linked_id = piece.previous_piece_id or piece.original_piece_id
    linked = db.session.scalar(select(Piece).where(Piece.id == linked_id)) if linked_id else None
    piece.dossier_number = (linked.dossier_number if linked is not None and linked.dossier_number
                            else numbering.format_dossier_number(today(now).year, piece.id))
    holder = records.holder_structure_id(piece.marche_id)
    grants = records.grants(route_ctx.chain, piece.emitter_party_id, piece.cadre, route, holder)
    return transitions, records.access_rows(piece, grants, now)


def record_deposit(piece: Piece, transitions: list[T.Transition], *, account: Account, structure: Structure,
                   now: datetime, ctx: DepositContext) -> None:
    """The deposit's hash-chained events (the first one covering `deposit_facts`), the statuses, the clocks, and
    whoever must act told. The piece's access rows are written (webhooks ask who sees it)."""
    facts = deposit_facts(piece, ctx.files_of(piece.id))
    for index, transition in enumerate(transitions):
        records.record_transition(piece, transition, account=account, structure=structure, now=now,
                                  extra=facts if index == 0 else None, ctx=ctx)
        piece.status = transition.to_status.value
        records.apply_clock_changes(piece, transition, now)
    records.announce(piece, transitions, account=account, structure=structure, now=now, ctx=ctx)
