"""The price schedule of a marché (bordereau des prix / DPGF): lines entered by hand or imported from a CSV or XLSX
sheet (preview first, nothing written; then confirm, all or nothing), and each line's party (a co-traitant's or a
sous-traitant's part; no party: the titulaire / mandataire's).

Who may change it: the marché's MOA, MOE and titulaire / mandataire (the parties that see the whole chain), with the
"Factures de travaux – modification" right (checked by the views). Everyone else confirmed on the marché reads the
lines of the parties it sees (its own branch), never a sibling's prices.

A line a deposited projet de décompte uses keeps its price, its nature and its party for ever (the décompte was
claimed on them; changing a price is an avenant, not an edit): it may not be deleted either. A line used only by a
draft may change: the draft's figures are then stale, and the deposit's pre-flight check asks to save the décompte
again (`operations.decomptes.deposit_problems`).

Operations flush, never commit; each change is recorded as a MarcheEvent.
"""
from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select

from chorus_chain import access as tenant_access
from chorus_chain.domain.money import schedule as rules
from chorus_chain.domain.statuses import Status
from chorus_chain.extensions import db
from chorus_chain.graph import ROLE_LABELS, Role
from chorus_chain.models import Account, MarcheParty, Piece, Structure
from chorus_chain.models.money import Decompte, DecompteLine, PriceLine
from chorus_chain.operations import OperationError
from chorus_chain.operations import marches as marches_ops
from chorus_chain.operations.chain import FULL_VIEW_ROLES

EDITOR_ROLES = FULL_VIEW_ROLES  # MOA, MOE, titulaire, mandataire
PARTY_ROLES = (Role.COTRAITANT, Role.SOUS_TRAITANT)  # the parts a line may be given to
MAX_IMPORT_BYTES = 2 * 1024 * 1024  # a 5 000-line DPGF is a few hundred kilobytes
MAX_UNCOMPRESSED_BYTES = 40 * 1024 * 1024  # an XLSX is a zip: refuse a bomb before openpyxl inflates it
MAX_SHEET_ROWS = 4 * rules.MAX_LINES  # titles, blank rows and subtotals included
IMPORT_EXTENSIONS = (".csv", ".txt", ".xlsx")


# ---------------------------------------------------------------------------------------------------------------------
# Reading


@dataclass
class Group:
    """A total of lines: per lot or per party."""

    label: str
    count: int = 0
    total_ht: Decimal = Decimal("0.00")
    part_ttc: Decimal | None = None  # a party's part of the marché (DC4 or groupement), for comparison


@dataclass
class Schedule:
    """The bordereau as one structure sees it."""

    access: marches_ops.MarcheAccess
    lines: list[PriceLine]
    can_edit: bool
    used_ids: set[int]
    parties: list[MarcheParty]  # the parties lines may be given to (for the editors' select)
    by_lot: list[Group] = field(default_factory=list)
    by_party: list[Group] = field(default_factory=list)

    @property
    def total_ht(self) -> Decimal:
        return sum((line.amount_ht for line in self.lines), Decimal("0.00"))

    def party_label(self, party_id: int | None) -> str:
        if party_id is None:
            return "Titulaire / mandataire"
        row = marches_ops.access_row(self.access, party_id)
        return f"{row.name} ({ROLE_LABELS[row.role]})" if row else "—"


def is_editor(access: marches_ops.MarcheAccess) -> bool:
    return bool(access.own_roles() & set(EDITOR_ROLES))


def _lines(marche_id: int) -> list[PriceLine]:
    return list(db.session.scalars(select(PriceLine).where(PriceLine.marche_id == marche_id)
                                   .order_by(PriceLine.position, PriceLine.id)))


def visible_lines(access: marches_ops.MarcheAccess, lines: Iterable[PriceLine]) -> list[PriceLine]:
    """Every line for the MOA, the MOE and the holder; for anyone else the lines of its own part and of the parts
    below it (its sous-traitants'); the holder's own lines, with no party, are not theirs to read."""
    if access.full:
        return list(lines)
    mine = _own_and_below(access)
    return [line for line in lines if line.party_id in mine]


def _own_and_below(access: marches_ops.MarcheAccess) -> set[int]:
    """The structure's own parties and every party under them (its sous-traitants, theirs...): never the
    contractors above, whose prices are not theirs to read, nor a sibling."""
    found = {row.id for row in access.own}
    grew = True
    while grew:
        below = {row.id for row in access.rows if row.parent_id in found and row.id not in found}
        found |= below
        grew = bool(below)
    return found


def used_line_ids(marche_id: int, structure_id: int) -> set[int]:
    """The lines a deposited (non-draft) projet de décompte uses, read as the editing structure through the one access
    predicate (`access.visible_to`), never across tenants.

    Why that is every deposited décompte for an editor (the only callers: the MOA, the MOE and the holder editing
    the bordereau): a décompte belongs to a PDM of a public cadre (`decomptes.PDM_CADRES`, never a private invoice),
    whose route ends at the MOE and the MOA, and whose access rows include every contractor above its emitter, so
    the titulaire or the mandataire (graph.visible_structures). What the editor learns is which of the marché's own
    lines — all of which it reads — are locked: no figure of a piece it does not see."""
    with tenant_access.tenant(structure_id):
        return set(db.session.scalars(
            select(DecompteLine.price_line_id).join(Decompte, Decompte.id == DecompteLine.decompte_id)
            .join(Piece, Piece.id == Decompte.piece_id)
            .where(Decompte.marche_id == marche_id, Piece.status != Status.BROUILLON.value,
                   tenant_access.visible_to(structure_id))).all())


def assignable_parties(access: marches_ops.MarcheAccess) -> list[MarcheParty]:
    return [row for row in access.rows if row.role in PARTY_ROLES and row.is_active]


def schedule_for(structure: Structure, marche_id: int) -> Schedule | None:
    """The bordereau this structure sees (None when it has no confirmed role on the marché: the view answers 404),
    with totals per lot and per party. Right needed: travaux consultation."""
    access = marches_ops.access_for(structure, marche_id)
    if access is None or not access.confirmed:
        return None
    lines = visible_lines(access, _lines(marche_id))
    editor = is_editor(access)
    schedule = Schedule(access, lines, editor, used_line_ids(marche_id, structure.id) if editor else set(),
                        assignable_parties(access) if editor else [])
    lots: dict[str, Group] = {}
    parties: dict[int | None, Group] = {}
    for line in lines:
        lot = lots.setdefault(line.lot, Group(f"Lot {line.lot}" if line.lot else "Sans lot"))
        party = parties.setdefault(line.party_id, Group(schedule.party_label(line.party_id)))
        for group in (lot, party):
            group.count += 1
            group.total_ht += line.amount_ht
    for party_id, group in parties.items():
        row = marches_ops.access_row(access, party_id) if party_id else None
        group.part_ttc = row.montant_ttc if row else None
    schedule.by_lot = list(lots.values())
    schedule.by_party = list(parties.values())
    return schedule


# ---------------------------------------------------------------------------------------------------------------------
# Changing lines by hand


def _editor_access(structure: Structure, marche_id: int) -> marches_ops.MarcheAccess:
    """The marché locked for a change of its bordereau; refused unless the structure is its MOA, MOE or holder."""
    access = marches_ops.access_for(structure, marche_id, lock=True)
    if access is None or not access.confirmed:
        raise OperationError("Ce marché n'existe pas ou vous n'y avez pas de rôle confirmé.")
    if not is_editor(access):
        raise OperationError("Seuls le maître d'ouvrage, le maître d'œuvre et le titulaire (ou le mandataire) "
                             "modifient le bordereau des prix du marché.")
    return access


def _line_of(marche_id: int, line_id: int) -> PriceLine:
    line = db.session.get(PriceLine, line_id)
    if line is None or line.marche_id != marche_id:
        raise OperationError("Cette ligne n'est pas au bordereau de ce marché.")
    return line


_ERROR_FIELDS = (("référence", "reference"), ("désignation", "designation"), ("quantité", "quantity"),
                 ("prix unitaire", "unit_price_ht"), ("montant", "amount_ht"), ("forfait", "amount_ht"),
                 ("lot", "lot"), ("unité", "unit"), ("le montant", "amount_ht"))


def _refusal(errors: list[str]) -> OperationError:
    """The first problem of a line as an OperationError on its form field."""
    message = errors[0]
    field_name = next((name for prefix, name in _ERROR_FIELDS if message.startswith(prefix)), None)
    return OperationError(message[:1].upper() + message[1:] + ".", field=field_name)


def _checked(raw: Mapping[str, Any]) -> rules.ScheduleLine:
    lump = str(raw.get("lump_sum") or "").lower() in ("1", "true", "on", "y", "yes", "oui")
    if lump:
        line, errors = rules.build_line(lot=raw.get("lot"), reference=raw.get("reference"),
                                        designation=raw.get("designation"), unit=raw.get("unit"),
                                        amount_ht=raw.get("amount_ht"), lump_sum=True)
    else:
        line, errors = rules.build_line(lot=raw.get("lot"), reference=raw.get("reference"),
                                        designation=raw.get("designation"), unit=raw.get("unit"),
                                        quantity=raw.get("quantity"), unit_price_ht=raw.get("unit_price_ht"),
                                        lump_sum=False)
    if errors:
        raise _refusal(errors)
    return line


def _party_id(access: marches_ops.MarcheAccess, value: Any) -> int | None:
    text = str(value or "").strip()
    if not text:
        return None
    party = next((row for row in assignable_parties(access) if str(row.id) == text), None)
    if party is None:
        raise OperationError("Choisissez un co-traitant ou un sous-traitant de ce marché.", field="party_id")
    return party.id


def _reference_taken(marche_id: int, reference: str, except_id: int | None = None) -> bool:
    query = select(PriceLine.id).where(PriceLine.marche_id == marche_id,
                                       func.lower(PriceLine.reference) == reference.lower())
    if except_id is not None:
        query = query.where(PriceLine.id != except_id)
    return db.session.scalar(query.limit(1)) is not None


def _next_position(marche_id: int) -> int:
    return (db.session.scalar(select(func.max(PriceLine.position)).where(PriceLine.marche_id == marche_id)) or 0) + 1


def add_line(account: Account, structure: Structure, marche_id: int, raw: Mapping[str, Any], *,
             now: datetime) -> PriceLine:
    """Add a line by hand. `raw`: lot, reference, designation, unit, quantity and unit_price_ht (or lump_sum and
    amount_ht), party_id (optional). French numbers accepted ("1 234,50"). Right: travaux modification."""
    access = _editor_access(structure, marche_id)
    checked = _checked(raw)
    if _reference_taken(marche_id, checked.reference):
        raise OperationError(f"La référence « {checked.reference} » figure déjà au bordereau.", field="reference")
    line = PriceLine(marche_id=marche_id, party_id=_party_id(access, raw.get("party_id")),
                     position=_next_position(marche_id), created_at=now)
    _apply(line, checked)
    db.session.add(line)
    db.session.flush()
    marches_ops.record(access.marche, "price_line.added", account=account, structure=structure,
                       reference=line.reference, amount_ht=line.amount_ht)
    return line


def _apply(line: PriceLine, checked: rules.ScheduleLine) -> None:
    line.lot, line.reference, line.designation, line.unit = (checked.lot, checked.reference, checked.designation,
                                                             checked.unit)
    line.quantity, line.unit_price_ht = checked.quantity, checked.unit_price_ht
    line.lump_sum, line.amount_ht = checked.lump_sum, checked.amount_ht


def _used_message(line: PriceLine, what: str) -> str:
    return (f"La ligne « {line.reference} » figure dans un projet de décompte déjà envoyé : {what}. Une "
            "modification de prix passe par un avenant au marché, saisi comme une nouvelle ligne.")


def update_line(account: Account, structure: Structure, marche_id: int, line_id: int, raw: Mapping[str, Any], *,
                now: datetime) -> PriceLine:
    """Change a line (same fields as add_line, all of them). A line used by a deposited décompte keeps its quantity,
    unit price, amount, nature and party. Right: travaux modification."""
    access = _editor_access(structure, marche_id)
    line = _line_of(marche_id, line_id)
    checked = _checked(raw)
    party_id = _party_id(access, raw.get("party_id")) if "party_id" in raw else line.party_id
    if _reference_taken(marche_id, checked.reference, except_id=line.id):
        raise OperationError(f"La référence « {checked.reference} » figure déjà au bordereau.", field="reference")
    price_changed = (checked.lump_sum != line.lump_sum or checked.amount_ht != line.amount_ht
                     or checked.quantity != line.quantity or checked.unit_price_ht != line.unit_price_ht)
    if (price_changed or party_id != line.party_id) and line.id in used_line_ids(marche_id, structure.id):
        raise OperationError(_used_message(line, "son prix, sa quantité et son attributaire ne changent plus"),
                             field="unit_price_ht" if price_changed else "party_id")
    before = line.amount_ht
    _apply(line, checked)
    line.party_id = party_id
    db.session.flush()
    marches_ops.record(access.marche, "price_line.changed", account=account, structure=structure,
                       reference=line.reference, amount_ht_before=before, amount_ht=line.amount_ht)
    return line


def delete_line(account: Account, structure: Structure, marche_id: int, line_id: int, *, now: datetime) -> None:
    """Remove a line no deposited décompte uses (a draft's figures for it go with it). Right: travaux
    modification."""
    access = _editor_access(structure, marche_id)
    line = _line_of(marche_id, line_id)
    if line.id in used_line_ids(marche_id, structure.id):
        raise OperationError(_used_message(line, "elle ne peut plus être supprimée"))
    # Only drafts count it (checked above): their figures for it go, and their deposit asks to save them again.
    for row in db.session.scalars(select(DecompteLine).where(DecompteLine.price_line_id == line.id)):
        db.session.delete(row)
    db.session.flush()
    reference = line.reference
    db.session.delete(line)
    db.session.flush()
    marches_ops.record(access.marche, "price_line.deleted", account=account, structure=structure,
                       reference=reference)


def assign_lines(account: Account, structure: Structure, marche_id: int, line_ids: Iterable[Any],
                 party_id: Any, *, now: datetime) -> int:
    """Give lines to a party's part (a co-traitant or a sous-traitant of the marché; empty: back to the titulaire /
    mandataire). Lines a deposited décompte uses keep their party. Returns how many lines changed. Right: travaux
    modification."""
    access = _editor_access(structure, marche_id)
    target = _party_id(access, party_id)
    ids = set()
    for value in line_ids:
        try:
            ids.add(int(value))
        except (TypeError, ValueError):
            continue
    if not ids:
        raise OperationError("Cochez les lignes à attribuer.", field="line_ids")
    lines = [line for line in _lines(marche_id) if line.id in ids]
    if len(lines) != len(ids):
        raise OperationError("Certaines lignes cochées ne sont pas au bordereau de ce marché.", field="line_ids")
    used = used_line_ids(marche_id, structure.id)
    locked = [line.reference for line in lines if line.id in used and line.party_id != target]
    if locked:
        raise OperationError(f"Ces lignes figurent dans un projet de décompte déjà envoyé et gardent leur "
                             f"attributaire : {', '.join(locked)}.", field="line_ids")
    changed = 0
    for line in lines:
        if line.party_id != target:
            line.party_id = target
            changed += 1
    db.session.flush()
    marches_ops.record(access.marche, "price_line.assigned", account=account, structure=structure,
                       party_id=target, references=[line.reference for line in lines])
    return changed


# ---------------------------------------------------------------------------------------------------------------------
# Importing a sheet


class ImportRefused(OperationError):
    """The sheet cannot be imported: `result` holds every line's errors (shown in the preview table)."""

    def __init__(self, result: rules.SheetResult) -> None:
        count = len(result.errors)
        first = result.errors[0].message_fr if result.errors else ""
        super().__init__(f"Rien n'est importé : {count} erreur{'s' if count > 1 else ''} à corriger dans le "
                         f"fichier (première : {first}).", field="file")
        self.result = result


def read_upload(name: str, content: bytes) -> list[list[Any]]:
    """The rows of an uploaded sheet: a CSV (separator ";" or "," or tab, sniffed; UTF-8, or Windows-1252 as a
    French Excel saves it) or the first sheet of an XLSX workbook (openpyxl, read-only, values not formulas).
    Refuses an unknown format, an empty or oversized file, and an XLSX that is not one (OperationError on "file")."""
    lower = (name or "").strip().lower()
    if not lower.endswith(IMPORT_EXTENSIONS):
        hint = " Enregistrez-le au format .xlsx." if lower.endswith((".xls", ".ods")) else ""
        raise OperationError(f"Format non reconnu : importez un fichier CSV ou XLSX (Excel).{hint}", field="file")
    if not content:
        raise OperationError("Le fichier est vide.", field="file")
    if len(content) > MAX_IMPORT_BYTES:
        raise OperationError(f"Le fichier pèse {len(content) / 1024 / 1024:.1f} Mo : {MAX_IMPORT_BYTES // 1024 // 1024} "
                             "Mo au plus pour un bordereau.".replace(".", ",", 1), field="file")
    if lower.endswith(".xlsx"):
        return _xlsx_rows(content)
    return _csv_rows(content)


def _csv_rows(content: bytes) -> list[list[Any]]:
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            text = content.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:  # pragma: no cover - cp1252 decodes almost anything; kept for the rare undefined bytes
        raise OperationError("Le fichier CSV n'est pas lisible (encodage inconnu) : enregistrez-le en UTF-8.",
                             field="file")
    if "\x00" in text:
        raise OperationError("Ce fichier n'est pas un CSV (contenu binaire).", field="file")
    sample = text[:8192]
    try:
        dialect = csv.Sniffer().sniff(sample, delimiters=";,\t")
        delimiter = dialect.delimiter
    except csv.Error:
        first = sample.splitlines()[0] if sample else ""
        delimiter = max(";,\t", key=first.count)
    rows = []
    for row in csv.reader(io.StringIO(text, newline=""), delimiter=delimiter):
        rows.append(row)
        if len(rows) > MAX_SHEET_ROWS:
            raise OperationError(f"Le fichier compte plus de {MAX_SHEET_ROWS} lignes : ce n'est pas un bordereau "
                                 "importable en une fois.", field="file")
    return rows


def _xlsx_rows(content: bytes) -> list[list[Any]]:
    from openpyxl import load_workbook  # imported here: only the import of an XLSX needs it

    unreadable = OperationError("Ce fichier XLSX est illisible : ouvrez-le dans votre tableur et enregistrez-le de "
                                "nouveau au format .xlsx (ou en CSV).", field="file")
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            inflated = sum(info.file_size for info in archive.infolist())
    except zipfile.BadZipFile:
        raise unreadable from None
    if inflated > MAX_UNCOMPRESSED_BYTES:
        raise OperationError("Ce fichier XLSX est anormalement volumineux une fois décompressé : il est refusé.",
                             field="file")
    try:
        workbook = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except Exception:  # openpyxl raises many kinds (KeyError, InvalidFileException, XML errors...)
        raise unreadable from None
    try:
        if not workbook.worksheets:
            raise unreadable
        rows = []
        for row in workbook.worksheets[0].iter_rows(values_only=True):
            rows.append(list(row))
            if len(rows) > MAX_SHEET_ROWS:
                raise OperationError(f"La feuille compte plus de {MAX_SHEET_ROWS} lignes : ce n'est pas un "
                                     "bordereau importable en une fois.", field="file")
        return rows
    except OperationError:
        raise
    except Exception:
        raise unreadable from None
    finally:
        workbook.close()


def preview_import(structure: Structure, marche_id: int, name: str, content: bytes) -> rules.SheetResult:
    """Read an uploaded sheet against the bordereau, writing nothing: its lines, or every line's errors (a
    reference already in the bordereau is one). Right: travaux modification (editors only)."""
    access = marches_ops.access_for(structure, marche_id)
    if access is None or not access.confirmed or not is_editor(access):
        raise OperationError("Seuls le maître d'ouvrage, le maître d'œuvre et le titulaire (ou le mandataire) "
                             "modifient le bordereau des prix du marché.")
    rows = read_upload(name, content)
    existing = [line.reference for line in _lines(marche_id)]
    return rules.read_sheet(rows, existing_references=existing)


def confirm_import(account: Account, structure: Structure, marche_id: int, name: str, content: bytes, *,
                   now: datetime) -> list[PriceLine]:
    """Import the sheet's lines, all or nothing: the sheet is read again (what was previewed is what is written, or
    the changes since are caught) and any error refuses the whole import (ImportRefused, with every error).
    Right: travaux modification."""
    access = _editor_access(structure, marche_id)
    rows = read_upload(name, content)
    result = rules.read_sheet(rows, existing_references=[line.reference for line in _lines(marche_id)])
    if not result.ok:
        raise ImportRefused(result)
    position = _next_position(marche_id)
    created = []
    for offset, checked in enumerate(result.lines):
        line = PriceLine(marche_id=marche_id, party_id=None, position=position + offset, created_at=now)
        _apply(line, checked)
        db.session.add(line)
        created.append(line)
    db.session.flush()
    marches_ops.record(access.marche, "price_schedule.imported", account=account, structure=structure,
                       file=name[:100], lines=len(created), total_ht=result.total_ht)
    return created


# ---------------------------------------------------------------------------------------------------------------------
# From the preview to the confirmation
#
# The confirmation must import exactly the file that was previewed, without asking for it again. A clean preview
# therefore keeps the file's bytes in the content-addressed file store (append-only, as for the pieces' files: they
# stay as the record of what was imported) and hands the page a signed, short-lived token naming them; a preview
# with errors keeps nothing. No price line is written before the confirmation.

IMPORT_TOKEN_MAX_AGE = 24 * 3600
_TOKEN_SALT = "price-schedule-import"


def _serializer():
    from flask import current_app
    from itsdangerous import URLSafeTimedSerializer

    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=_TOKEN_SALT)


def stage_import(structure: Structure, marche_id: int, name: str, content: bytes, *,
                 now: datetime) -> tuple[rules.SheetResult, str | None]:
    """Preview an uploaded sheet (`preview_import`); when it is clean, keep its bytes for the confirmation and
    return the token the confirmation posts back (None when there are errors). Right: travaux modification."""
    import hashlib

    from sqlalchemy.dialects import postgresql, sqlite

    from chorus_chain.models import StoredFile
    from chorus_chain.operations.pieces_records import is_postgresql

    result = preview_import(structure, marche_id, name, content)
    if not result.ok:
        return result, None
    sha = hashlib.sha256(content).hexdigest()
    insert = postgresql.insert if is_postgresql() else sqlite.insert
    db.session.execute(insert(StoredFile).values(sha256=sha, size=len(content), content=bytes(content),
                                                 created_at=now).on_conflict_do_nothing(index_elements=["sha256"]))
    token = _serializer().dumps({"sha": sha, "name": name[:200], "marche": marche_id, "structure": structure.id})
    return result, token


def confirm_staged_import(account: Account, structure: Structure, marche_id: int, token: str, *,
                          now: datetime) -> list[PriceLine]:
    """Import the file a clean preview kept (`stage_import`'s token), all or nothing (`confirm_import`)."""
    from itsdangerous import BadSignature, SignatureExpired

    from chorus_chain.models import StoredFile

    try:
        data = _serializer().loads(token or "", max_age=IMPORT_TOKEN_MAX_AGE)
    except SignatureExpired:
        raise OperationError("Cet aperçu date de plus de 24 heures : importez le fichier de nouveau.",
                             field="file") from None
    except BadSignature:
        raise OperationError("Importez d'abord le fichier pour en voir l'aperçu.", field="file") from None
    if data.get("marche") != marche_id or data.get("structure") != structure.id:
        raise OperationError("Cet aperçu ne concerne pas ce marché : importez le fichier de nouveau.", field="file")
    content = db.session.scalar(select(StoredFile.content).where(StoredFile.sha256 == data["sha"]))
    if content is None:
        raise OperationError("Le fichier de l'aperçu est introuvable : importez-le de nouveau.", field="file")
    return confirm_import(account, structure, marche_id, data["name"], content, now=now)
