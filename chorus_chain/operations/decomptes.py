"""The figures of a projet de décompte (PDM: A4, A10, A13; final: A7, A14), cumulative since the start: one line per
price line of the depositor's part, plus approvisionnements, primes, débours and réfactions (CHORUS.md §6.1).

- The depositor's part: a co-traitant's or a sous-traitant's lines are those given to its party; the titulaire /
  mandataire's are its own and those given to no one.
- The form starts from the same party's previous décompte (the latest deposited one of an earlier month, not
  refused): its cumul per line, and its extras. A line left empty keeps last month's cumul.
- Saving writes the `Decompte` row and its `DecompteLine`s, then sets the draft's amounts through
  `pieces_drafts.update_draft` (the one way a draft changes): montant HT = this cumul − the previous one, VAT per the
  piece's regime (none under autoliquidation). A claim that would be negative is refused in French.
- A line beyond 100 % of its quantity, or below last month's cumul, may be saved but not sent without a
  justification: `deposit_problems` (called by the deposit's pre-flight check) lists what stops it, and also a
  décompte gone stale (bordereau or previous décompte changed since it was saved).

Only the claimed figures live here; the MOE's admission (`admitted_*`) belongs to the états d'acompte.
Operations flush, never commit.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from chorus_chain.domain import amounts as amount_rules
from chorus_chain.domain import cadres
from chorus_chain.domain import text as text_rules
from chorus_chain.domain import statuses
from chorus_chain.domain.money import MoneyError
from chorus_chain.domain.money import schedule as rules
from chorus_chain.domain.money.rounding import check_month, month_fr
from chorus_chain.extensions import db
from chorus_chain.graph import Role
from chorus_chain.models import Account, Marche, MarcheParty, Piece, Structure
from chorus_chain.models.money import Decompte, DecompteLine, PriceLine
from chorus_chain.operations import OperationError
from chorus_chain.operations import pieces_drafts
from chorus_chain.operations import pieces_records as records

# cadre → is it a projet de décompte final
PDM_CADRES = cadres.DECOMPTE_CADRES
JUSTIFICATION_MAX = 500
# A décompte of one of these statuses does not count as "the previous one": it was refused for good.
_NOT_COUNTED = frozenset(s.value for s in statuses.FINAL_STATUSES
                         if s not in (statuses.Status.MISE_EN_PAIEMENT, statuses.Status.PAYEE_CONTRACTANT,
                                      statuses.Status.ASSOCIEE)) | {statuses.Status.BROUILLON.value}


def is_decompte_piece(piece: Piece) -> bool:
    return piece.cadre in PDM_CADRES


# ---------------------------------------------------------------------------------------------------------------------
# Reading


@dataclass
class Row:
    """One line of the form: the price line, last month's cumul, this month's (as stored or typed), its value."""

    line: PriceLine
    previous: Decimal | None
    measure: Decimal
    amount: Decimal
    previous_amount: Decimal
    progress: Decimal | None
    problems: list[rules.PdmProblem]
    justification: str = ""
    typed: str | None = None  # what was typed, when the form comes back with an error

    @property
    def needs_justification(self) -> bool:
        return any(p.justifiable for p in self.problems)

    @property
    def unjustified(self) -> bool:
        return self.needs_justification and not self.justification.strip()


@dataclass
class Sheet:
    """A PDM's figures as the page shows them."""

    piece: Piece
    marche: Marche
    party: MarcheParty
    decompte: Decompte | None
    previous: Decompte | None
    month: str
    final: bool
    rows: list[Row]
    extras: dict[str, Decimal]
    previous_extras: dict[str, Decimal]
    amount: rules.PdmAmount | None = None
    amount_error: str | None = None
    justification: str = ""
    problems: list[str] = field(default_factory=list)

    @property
    def month_label(self) -> str:
        return month_fr(self.month)

    @property
    def previous_label(self) -> str | None:
        return month_fr(self.previous.month) if self.previous is not None else None


def party_lines(marche_id: int, party: MarcheParty) -> list[PriceLine]:
    """The price lines of a party's part: its own; for the titulaire / mandataire, also the lines given to no one."""
    query = select(PriceLine).where(PriceLine.marche_id == marche_id)
    if party.role in Role.HOLDERS:
        query = query.where((PriceLine.party_id.is_(None)) | (PriceLine.party_id == party.id))
    else:
        query = query.where(PriceLine.party_id == party.id)
    return list(db.session.scalars(query.order_by(PriceLine.position, PriceLine.id)))


def _has_lines(marche_id: int, party: MarcheParty, prepared) -> bool:
    if prepared is None:
        return bool(party_lines(marche_id, party))
    if party.id not in prepared.lines:
        prepared.lines[party.id] = bool(party_lines(marche_id, party))
    return prepared.lines[party.id]


def _counted(party_id: int, *, before: str | None = None, from_month: str | None = None,
             except_piece_id: int | None = None) -> Decompte | None:
    """The latest décompte of the party that counts (deposited, not refused), before a month or from a month on."""
    query = (select(Decompte).join(Piece, Piece.id == Decompte.piece_id)
             .where(Decompte.party_id == party_id, Piece.status.not_in(_NOT_COUNTED)))
    if before is not None:
        query = query.where(Decompte.month < before)
    if from_month is not None:
        query = query.where(Decompte.month >= from_month)
    if except_piece_id is not None:
        query = query.where(Decompte.piece_id != except_piece_id)
    return db.session.scalar(query.order_by(Decompte.month.desc(), Decompte.id.desc()).limit(1))


def previous_decompte(party_id: int, month: str, *, except_piece_id: int | None = None) -> Decompte | None:
    """The same party's latest décompte of a month before `month`, deposited and not refused (None: the first)."""
    return _counted(party_id, before=month, except_piece_id=except_piece_id)


def _lines_of(decompte: Decompte | None) -> dict[int, DecompteLine]:
    if decompte is None:
        return {}
    return {row.price_line_id: row for row in db.session.scalars(
        select(DecompteLine).where(DecompteLine.decompte_id == decompte.id))}


def _measure_of(row: DecompteLine | None, line: PriceLine) -> Decimal | None:
    if row is None:
        return None
    value = row.percent if line.lump_sum else row.quantity
    return value if value is not None else (row.quantity if line.lump_sum else row.percent)


def _extras_of(decompte: Decompte | None) -> dict[str, Decimal]:
    return {name: (getattr(decompte, name) if decompte is not None else Decimal("0.00")) for name in rules.EXTRAS}


def _cumul(rows: list[Row], extras: Mapping[str, Decimal], *, previous: bool = False) -> rules.Cumul:
    works = sum(((row.previous_amount if previous else row.amount) for row in rows), Decimal("0.00"))
    return rules.Cumul(works=works, **extras)


def _previous_amount(line: PriceLine, row: DecompteLine | None) -> Decimal:
    return row.amount_ht if row is not None else Decimal("0.00")


def _default_month(piece: Piece, previous: Decompte | None) -> str:
    issued = piece.issue_date or date.today()
    month = f"{issued.year:04d}-{issued.month:02d}"
    if previous is not None and previous.month >= month:
        year, mon = int(previous.month[:4]), int(previous.month[5:])
        year, mon = (year + 1, 1) if mon == 12 else (year, mon + 1)
        month = f"{year:04d}-{mon:02d}"
    return month


def _own_decompte_piece(structure: Structure, piece_id: int, *, lock: bool) -> Piece:
    piece = records.load_for_update(piece_id) if lock else db.session.get(Piece, piece_id)
    if piece is None or piece.emitter_structure_id != structure.id:
        raise OperationError("Cette pièce n'existe pas ou n'est pas une pièce de votre structure.")
    if not is_decompte_piece(piece):
        raise OperationError("Seul un projet de décompte (A4, A10, A13, A7, A14) porte un décompte par ligne de "
                             "prix.")
    return piece


def sheet_for(piece: Piece) -> Sheet:
    """The décompte of a PDM piece as stored (or, before its first save, pre-filled from the previous décompte),
    valued and checked. Read-only. Right: consultation in the piece's domain (the view checks it)."""
    marche = db.session.get(Marche, piece.marche_id)
    party = db.session.get(MarcheParty, piece.emitter_party_id)
    decompte = db.session.scalar(select(Decompte).where(Decompte.piece_id == piece.id))
    if decompte is not None:
        month = decompte.month
        previous = previous_decompte(party.id, month, except_piece_id=piece.id)
    else:
        previous = _counted(party.id, except_piece_id=piece.id)
        month = _default_month(piece, previous)
    stored = _lines_of(decompte)
    before = _lines_of(previous)
    rows = []
    for line in party_lines(piece.marche_id, party):
        previous_measure = _measure_of(before.get(line.id), line)
        own = stored.get(line.id)
        if own is not None:
            measure = _measure_of(own, line)
        else:
            measure = previous_measure if previous_measure is not None else Decimal("0")
        rows.append(_row(line, previous_measure, measure, before.get(line.id),
                         justification=(own.justification or "") if own is not None else ""))
    extras = _extras_of(decompte) if decompte is not None else _extras_of(previous)
    sheet = Sheet(piece, marche, party, decompte, previous, month, PDM_CADRES[piece.cadre], rows, extras,
                  _extras_of(previous), justification=(decompte.justification or "") if decompte else "")
    _value(sheet)
    return sheet


def _row(line: PriceLine, previous: Decimal | None, measure: Decimal, previous_row: DecompteLine | None, *,
         justification: str = "", typed: str | None = None) -> Row:
    terms = _terms(line)
    return Row(line, previous, measure, rules.pdm_line_amount(terms, measure), _previous_amount(line, previous_row),
               rules.progress_percent(terms, measure),
               rules.pdm_line_problems(terms, measure, previous, reference=line.reference, unit=line.unit),
               justification, typed)


def _terms(line: PriceLine) -> rules.PriceTerms:
    return rules.PriceTerms(line.lump_sum, line.amount_ht, line.quantity, line.unit_price_ht)


def _value(sheet: Sheet) -> None:
    try:
        sheet.amount = rules.pdm_amount(_cumul(sheet.rows, sheet.extras),
                                        _cumul(sheet.rows, sheet.previous_extras, previous=True))
    except MoneyError as error:
        sheet.amount_error = error.message


# ---------------------------------------------------------------------------------------------------------------------
# Saving


def _text(raw: Mapping[str, Any], name: str) -> str:
    value = raw.get(name)
    return "" if value is None else str(value).strip()


def _draft_raw(piece: Piece) -> dict[str, Any]:
    """The draft's fields as its form would post them (update_draft takes them all)."""
    return {
        "party_id": piece.emitter_party_id, "cadre": piece.cadre or "", "piece_type": piece.piece_type,
        "number": piece.number, "issue_date": piece.issue_date, "vat_regime": piece.vat_regime,
        "recipient_siret": piece.recipient_siret, "service_code": piece.service_code or "",
        "engagement_number": piece.engagement_number or "", "payment_mode": piece.payment_mode,
        "bank_account_id": piece.bank_account_id or "", "original_piece_id": piece.original_piece_id or "",
        "previous_piece_id": piece.previous_piece_id or "",
    }


def save_decompte(account: Account, structure: Structure, piece_id: int, raw: Mapping[str, Any], *,
                  now: datetime) -> Sheet:
    """Save the décompte of a draft PDM and set the draft's amounts from it.

    `raw`: month ("AAAA-MM"), for each price line of the depositor's part `m_<line id>` (cumulative quantity, or %
    for a lump sum; empty: last month's cumul) and `j_<line id>` (its justification), the cumulative
    approvisionnements, primes, debours, refactions (French amounts), and a general `justification`.
    Refused with OperationError(message, field) — nothing kept: a negative quantity (a deduction is a réfaction), an
    unreadable figure, a month not after the previous décompte's, a claim below zero. Right: travaux modification."""
    piece = _own_decompte_piece(structure, piece_id, lock=True)
    sheet = _computed(piece, raw)
    marche = sheet.marche
    decompte = _store(piece, sheet.party, sheet.month, sheet.rows, sheet.extras, sheet.justification, now)
    montant = sheet.amount.montant_ht
    tva = rules.vat_of(montant, marche.tva_rate, autoliquidation=piece.vat_regime == "autoliquidation")
    values = _draft_raw(piece)
    values.update(montant_ht=montant, montant_tva=tva, montant_ttc=montant + tva)
    pieces_drafts.update_draft(account, structure, piece.id, values, now=now)
    db.session.flush()
    sheet.decompte = decompte
    return sheet


def preview_decompte(structure: Structure, piece_id: int, raw: Mapping[str, Any]) -> Sheet:
    """What `save_decompte` would save, computed and written nowhere (the page recomputes progress, amounts and
    the justifications needed as the user types). Same refusals. Right: travaux modification."""
    piece = _own_decompte_piece(structure, piece_id, lock=False)
    return _computed(piece, raw, preview=True)


def _computed(piece: Piece, raw: Mapping[str, Any], *, preview: bool = False) -> Sheet:
    """The sheet of the figures typed. A total the engine refuses (a cumul below the previous décompte's) refuses
    the save; a preview still answers every row computed from what is typed, the refusal as the sheet's
    `amount_error` — as `sheet_for` does —, so that the rows never keep amounts of figures since replaced."""
    if not piece.is_draft:
        raise OperationError("Ce projet de décompte est déjà envoyé : ses chiffres ne changent plus.")
    party = db.session.get(MarcheParty, piece.emitter_party_id)
    marche = db.session.get(Marche, piece.marche_id)
    try:
        month = check_month(_text(raw, "month"), "month")
    except MoneyError as error:
        raise OperationError(error.message, field="month") from None
    later = _counted(party.id, from_month=month, except_piece_id=piece.id)
    if later is not None:
        raise OperationError(f"Un projet de décompte {_of(later.month)} a déjà été envoyé : celui-ci doit porter sur "
                             "un mois suivant.", field="month")
    previous = previous_decompte(party.id, month, except_piece_id=piece.id)
    before = _lines_of(previous)
    rows = []
    for line in party_lines(piece.marche_id, party):
        name = f"m_{line.id}"
        try:
            typed = rules.read_measure(raw.get(name), _terms(line))
        except MoneyError as error:
            raise OperationError(f"Ligne {line.reference} : {error.message[:1].lower()}{error.message[1:]}",
                                 field=name) from None
        previous_measure = _measure_of(before.get(line.id), line)
        measure = typed if typed is not None else (previous_measure or Decimal("0"))
        justification = _text(raw, f"j_{line.id}")
        if len(justification) > JUSTIFICATION_MAX:
            raise OperationError(f"Ligne {line.reference} : la justification fait {JUSTIFICATION_MAX} caractères au "
                                 "plus.", field=f"j_{line.id}")
        problem = text_rules.justification_problem(justification)
        if problem:
            raise OperationError(f"Ligne {line.reference} : {problem[0].lower()}{problem[1:]}", field=f"j_{line.id}")
        row = _row(line, previous_measure, measure, before.get(line.id), justification=justification)
        refused = next((p for p in row.problems if not p.justifiable), None)
        if refused is not None:
            raise OperationError(refused.message_fr, field=name)
        rows.append(row)
    extras = {}
    for name in rules.EXTRAS:
        label = f"Le cumul des {rules.EXTRA_LABELS[name].lower()}"
        try:
            extras[name] = amount_rules.parse_amount(_text(raw, name) or "0", field=name, label=label)
        except amount_rules.AmountRefused as error:
            message = error.message_fr
            if name != "refactions" and "négatif" in message:
                message += " Une déduction se saisit en réfaction."
            raise OperationError(message, field=name) from None
    previous_extras = _extras_of(previous)
    amount, amount_error = None, None
    try:
        amount = rules.pdm_amount(_cumul(rows, extras), _cumul(rows, previous_extras, previous=True))
    except MoneyError as error:
        if not preview:
            raise OperationError(error.message, field=error.field) from None
        amount_error = error.message
    justification = _text(raw, "justification")
    problem = text_rules.justification_problem(justification)
    if problem:
        raise OperationError(problem, field="justification")
    decompte = db.session.scalar(select(Decompte).where(Decompte.piece_id == piece.id))
    return Sheet(piece, marche, party, decompte, previous, month, PDM_CADRES[piece.cadre], rows, extras,
                 previous_extras, amount=amount, amount_error=amount_error, justification=justification)


def _of(month: str) -> str:
    label = month_fr(month)
    return f"d'{label}" if label[0] in "aeiouéèêàâîôûy" else f"de {label}"


def _store(piece: Piece, party: MarcheParty, month: str, rows: list[Row], extras: Mapping[str, Decimal],
           justification: str, now: datetime) -> Decompte:
    decompte = db.session.scalar(select(Decompte).where(Decompte.piece_id == piece.id))
    if decompte is None:
        decompte = Decompte(piece_id=piece.id, marche_id=piece.marche_id, party_id=party.id, created_at=now)
        db.session.add(decompte)
    decompte.party_id = party.id
    decompte.month = month
    decompte.final = PDM_CADRES[piece.cadre]
    for name, value in extras.items():
        setattr(decompte, name, value)
    decompte.justification = justification or None
    db.session.flush()
    existing = _lines_of(decompte)
    kept = set()
    for row in rows:
        line = row.line
        stored = existing.get(line.id)
        if stored is None:
            stored = DecompteLine(decompte_id=decompte.id, price_line_id=line.id)
            db.session.add(stored)
        stored.quantity, stored.percent = (None, row.measure) if line.lump_sum else (row.measure, None)
        stored.amount_ht = row.amount
        stored.justification = row.justification or None
        kept.add(line.id)
    for price_line_id, stored in existing.items():  # a line given to another party since: no longer this one's
        if price_line_id not in kept:
            db.session.delete(stored)
    db.session.flush()
    return decompte


# ---------------------------------------------------------------------------------------------------------------------
# Before the deposit


def deposit_problems(piece: Piece, prepared=None) -> list[pieces_drafts.Problem]:
    """What stops a PDM draft whose décompte was entered from being sent: each line beyond 100 % or going backwards
    without its justification; a décompte gone stale (a price line or the previous décompte changed since it was
    saved); the piece's amounts differing from the décompte's. A PDM without a décompte entered line by line (a PDF
    and a total) is refused where the marché's bordereau gives its emitter lines (issue 13), and left to the other
    checks where it gives none.

    `prepared` (a `deposits.DepositContext`): a piece it created has no décompte yet, and whether the bordereau gives
    a party lines is read once for a batch."""
    if not is_decompte_piece(piece):
        return []
    new = prepared is not None and piece.id in prepared.new_pieces
    decompte = None if new else db.session.scalar(select(Decompte).where(Decompte.piece_id == piece.id))
    if decompte is None:
        party = db.session.get(MarcheParty, piece.emitter_party_id)
        if party is not None and _has_lines(piece.marche_id, party, prepared):
            # The marché has a bordereau with lines for this company: its projet de décompte is entered line by
            # line (the MOE checks each quantity against it), not only as a PDF and a total.
            return [pieces_drafts.Problem(
                "Ce marché a un bordereau des prix : saisissez le décompte de ce projet, ligne par ligne (« Saisir "
                "le décompte »), avant de l'envoyer.", "decompte")]
        return []
    sheet = sheet_for(piece)
    problems = []
    later = _counted(sheet.party.id, from_month=decompte.month, except_piece_id=piece.id)
    if later is not None:
        problems.append(pieces_drafts.Problem(
            f"Un projet de décompte {_of(later.month)} a déjà été envoyé : celui-ci doit porter sur un mois "
            "suivant (changez son mois dans le décompte).", "decompte"))
    for row in sheet.rows:
        if row.unjustified:
            for problem in row.problems:
                if problem.justifiable:
                    problems.append(pieces_drafts.Problem(problem.message_fr, "decompte"))
        elif any(not p.justifiable for p in row.problems):
            problems += [pieces_drafts.Problem(p.message_fr, "decompte") for p in row.problems if not p.justifiable]
    stored = _lines_of(decompte)
    stale = any(stored.get(row.line.id) is None or stored[row.line.id].amount_ht != row.amount for row in sheet.rows)
    stale = stale or any(line_id not in {row.line.id for row in sheet.rows} for line_id in stored)
    if sheet.amount_error:
        problems.append(pieces_drafts.Problem(sheet.amount_error, "decompte"))
    elif stale or sheet.amount is None or sheet.amount.montant_ht != piece.montant_ht:
        problems.append(pieces_drafts.Problem(
            "Le décompte n'est plus à jour (le bordereau des prix ou le décompte précédent a changé depuis son "
            "enregistrement) : ouvrez le décompte et enregistrez-le de nouveau.", "decompte"))
    return problems
