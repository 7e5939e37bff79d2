"""What the assistant may know of a structure's data, read under the same access as the pages.

Every piece is found with `access.visible_to(structure)` (the one access predicate: emitter or access row) and kept
only when the member holds consultation on its rights domain — exactly what `pieces.show` lets through (404 / 403).
So a number the structure may not see, or may not read, comes back as no piece at all: the assistant then answers
exactly as for a number that does not exist (no « this piece exists but… »). Clocks are read only for the pieces so
found. Nothing here bypasses the tenant (no `system_access`).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import func, or_, select
from sqlalchemy.orm import joinedload

from chorus_chain.access import visible_to
from chorus_chain.assistant.reading import compact, number_groups, same_number
from chorus_chain.blueprints.pieces import display
from chorus_chain.domain import deadlines as clocks
from chorus_chain.domain import statuses
from chorus_chain.domain import transitions as T
from chorus_chain.extensions import db
from chorus_chain.help_ui import PAID
from chorus_chain.models import Deadline, Marche, MarcheParty, Piece, PieceEvent, Structure
from chorus_chain.operations.pieces_records import rights_domain

MAX_CANDIDATES = 6  # pieces listed when asking back

CanRead = Callable[[str], bool]  # rights domain → may the member read it (tenancy.has_right(domain, "consultation"))


@dataclass(frozen=True)
class ClockFacts:
    kind: str
    label: str
    due_at: datetime
    countdown: str
    expiry_effect: str
    overdue: bool


@dataclass(frozen=True)
class PieceFacts:
    """One piece as the structure's pages show it, in words."""

    id: int
    number: str
    kind_label: str
    marche_id: int
    marche_reference: str
    emitter_name: str
    own: bool
    works: bool
    status: str
    status_label: str
    explanation: str
    draft: bool
    paid: bool
    refused_for_good: bool
    waiting: str  # « Validation par le mandataire : Durand Bâtiment SAS. »
    waiting_on_me: bool
    clocks: tuple[ClockFacts, ...]
    reason: str | None  # the reason given when it came into its status (refusal, recycling, suspension)
    comment: str | None
    reason_by: str | None  # who gave it
    montant_ttc: Decimal
    paid_on: object
    paid_amount: Decimal | None
    dgp_days: int
    route_steps: tuple[str, ...]

    def clock(self, kind: str) -> ClockFacts | None:
        return next((c for c in self.clocks if c.kind == kind), None)


def _readable(pieces, structure_id: int, can_read: CanRead) -> list[Piece]:
    return [p for p in pieces if can_read(rights_domain(p, structure_id))]


def _query(structure_id: int, *conditions, limit: int = 50):
    return db.session.scalars(
        select(Piece).where(visible_to(structure_id), *conditions)
        .options(joinedload(Piece.marche), joinedload(Piece.emitter_structure))
        .order_by(func.coalesce(Piece.deposited_at, Piece.created_at).desc(), Piece.id.desc()).limit(limit)).all()


def _compact_column():
    column = Piece.number_key
    for sign in "-_/.":
        column = func.replace(column, sign, "")
    return column


def pieces_numbered(structure: Structure, typed: str, can_read: CanRead) -> list[Piece]:
    """The pieces the structure may read whose number is the typed one, as a person reads numbers (case, separators
    and leading zeros aside: « pl 2026 2 » is PL-2026-002). Several when two emitters use the same number."""
    groups = number_groups(typed)
    if not groups:
        return []
    pattern = "%".join(groups)  # every group in order; "%" also absorbs leading zeros and separators
    found = _query(structure.id, or_(_compact_column() == compact(typed), Piece.number_key.like(f"%{pattern}%")))
    return _readable([p for p in found if same_number(typed, p.number)], structure.id, can_read)


def piece_by_id(structure: Structure, piece_id: int | None, can_read: CanRead) -> Piece | None:
    if not piece_id:
        return None
    found = _readable(_query(structure.id, Piece.id == piece_id, limit=1), structure.id, can_read)
    return found[0] if found else None


def pieces_matching(structure: Structure, can_read: CanRead, *, statuses_in=None, amounts=(), dates=(),
                    sirets=(), marche_id: int | None = None, own_first: bool = True) -> list[Piece]:
    """The structure's readable pieces with these statuses / amounts / deposit dates / emitters, newest first."""
    conditions = []
    if statuses_in:
        conditions.append(Piece.status.in_([s.value if hasattr(s, "value") else s for s in statuses_in]))
    if amounts:
        conditions.append(or_(Piece.montant_ht.in_(amounts), Piece.montant_ttc.in_(amounts),
                              Piece.paid_amount.in_(amounts)))
    if sirets:
        conditions.append(Piece.emitter_structure.has(Structure.siret.in_(sirets)))
    if marche_id is not None:
        conditions.append(Piece.marche_id == marche_id)
    found = _readable(_query(structure.id, *conditions, limit=200), structure.id, can_read)
    if dates:
        wanted = set(dates)
        found = [p for p in found if p.deposited_at and display_day(p.deposited_at) in wanted
                 or p.issue_date in wanted]
    if own_first:
        found.sort(key=lambda p: p.emitter_structure_id != structure.id)
    return found


def display_day(instant: datetime):
    from chorus_chain.formatting import PARIS

    return instant.astimezone(PARIS).date()


def marche_named(structure: Structure, typed: str) -> Marche | None:
    """A marché on which the structure holds a confirmed part, by its reference (case and separators aside)."""
    wanted = compact(typed)
    rows = db.session.scalars(
        select(Marche).join(MarcheParty, MarcheParty.marche_id == Marche.id)
        .where(MarcheParty.structure_id == structure.id, MarcheParty.status == "confirmed")).unique().all()
    return next((m for m in rows if compact(m.reference) == wanted), None)


def _waiting_on(piece: Piece, structure_id: int) -> bool:
    step = T.current_step(piece.status) if not piece.is_draft else T.EMITTER
    if step in (None, T.SYSTEM):
        return False
    if step == T.EMITTER:
        return piece.emitter_structure_id == structure_id
    if step == T.TITULAIRE:
        from chorus_chain.operations.pieces_records import holder_structure_id

        return holder_structure_id(piece.marche_id) == structure_id
    return any(s.get("structure_id") == structure_id for s in piece.route or () if s["step"] == step)


def facts_of(piece: Piece, structure: Structure, now: datetime) -> PieceFacts:
    """The piece in words (three small queries: names, the event that brought its status, its open clocks)."""
    names = display.structure_names(piece)
    event = db.session.scalars(
        select(PieceEvent).where(PieceEvent.piece_id == piece.id, PieceEvent.to_status == piece.status,
                                 or_(PieceEvent.from_status.is_(None), PieceEvent.from_status != piece.status))
        .order_by(PieceEvent.seq.desc()).limit(1)).first()  # what brought it here (not an acknowledgement)
    reason = comment = by = None
    if event is not None and (event.reason or event.comment):
        reason, comment = display.reason_text(event.reason), event.comment
        by = names.get(event.structure_id) if event.structure_id else "la plateforme"
    open_clocks = db.session.scalars(select(Deadline).where(Deadline.piece_id == piece.id,
                                                            Deadline.done_at.is_(None)).order_by(Deadline.due_at))
    clock_facts = tuple(
        ClockFacts(d.kind, clocks.DEADLINES[d.kind].label, d.due_at, clocks.countdown_fr(d.kind, d.due_at, now),
                   clocks.DEADLINES[d.kind].expiry_effect, clocks.is_expired(d.due_at, now))
        for d in open_clocks)
    code = statuses.as_status(piece.status)
    return PieceFacts(
        id=piece.id, number=piece.number, kind_label=display.piece_kind(piece), marche_id=piece.marche_id,
        marche_reference=piece.marche.reference, emitter_name=piece.emitter_structure.name,
        own=piece.emitter_structure_id == structure.id, works=piece.works, status=piece.status,
        status_label=statuses.label(piece.status), explanation=statuses.explanation(piece.status),
        draft=piece.is_draft, paid=code in PAID, refused_for_good=display.is_refused_for_good(piece.status),
        waiting=display.waiting_text(piece, names), waiting_on_me=_waiting_on(piece, structure.id),
        clocks=clock_facts, reason=reason, comment=comment, reason_by=by, montant_ttc=piece.montant_ttc,
        paid_on=piece.paid_on, paid_amount=piece.paid_amount, dgp_days=piece.marche.dgp_days,
        route_steps=piece.route_steps)
