"""What the pages read about pieces: the boxes (émises, reçues, à traiter) paginated by the database, one piece, its
dossier and timeline. Every query runs under the current tenant's criteria (chorus_chain.access) and names the
structure explicitly too, so that it also holds under system access.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import and_, case, exists, func, or_, select
from sqlalchemy.orm import aliased, joinedload, selectinload

from chorus_chain.access import visible_to
from chorus_chain.domain import deadlines as clocks
from chorus_chain.domain import statuses
from chorus_chain.domain import transitions as T
from chorus_chain.domain.statuses import Status
from chorus_chain.extensions import db
from chorus_chain.models import Deadline, Marche, Piece, PieceAccess, PieceEvent, Structure
from chorus_chain.operations import OperationError
from chorus_chain.operations.pieces_records import roles_text

BOXES = ("emises", "recues", "a_traiter")
PER_PAGE_MAX = 100

# The statuses in which each actor is the one the piece waits on (transitions.WAITING_ON): the "à traiter" box.
AWAITING: dict[str, tuple[str, ...]] = {
    actor: tuple(status.value for status, waiting in T.WAITING_ON.items() if waiting == actor)
    for actor in T.ACTORS if actor != T.SYSTEM
}


@dataclass(frozen=True)
class PieceRow:
    """One line of a box: the piece, its marché's reference, its emitter's name and its next open clock."""

    piece: Piece
    marche_reference: str
    emitter_name: str
    emitter_siret: str
    next_deadline: Deadline | None


@dataclass(frozen=True)
class PiecePage:
    """A page of pieces and how many there are. With `more_than` (a count capped at `board_reading.counts.CAP`, the
    page says « plus de … »), `total` is only a lower bound: the rows counted, at least one past this page when
    there is a next one — so `pages` still offers the next page, never a last page it does not know."""

    items: list[PieceRow]
    total: int
    page: int
    per_page: int
    more_than: int | None = None

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


# The parts a projet de décompte reaches only inside the état d'acompte that carries it (issue 12): the MOA validates
# the état (its A15), the paying office pays its lines (its A19) — the PDM is not one more piece to handle alone.
INSIDE_ETAT = (T.STEP_MOA, T.STEP_PAIEMENT)


def carried_by_an_etat():
    """The piece is a projet de décompte an issued état carries (correlated on `Piece`)."""
    from chorus_chain.models.etat_pieces import EtatAcomptePdm
    from chorus_chain.models.money import EtatAcompte

    return exists().where(EtatAcomptePdm.piece_id == Piece.id, EtatAcompte.id == EtatAcomptePdm.etat_acompte_id,
                          EtatAcompte.status == "issued").correlate(Piece)


# The rules below are written once, as SQL conditions on `Piece` and on a column holding a structure's id or its
# access roles, so that the boxes here and the dashboards' read model (operations.board, which copies them per
# structure into board_row) say the same thing.

def plays(roles, *actors: str):
    """The access roles (`PieceAccess.roles`, or a column holding them) name one of these actors."""
    return or_(*(roles.like(f"%{roles_text([actor])}%") for actor in actors))


def draft_of(structure_id):
    """The piece is a draft of this structure (an id or a column): it waits on its emitter, who alone sees it."""
    return and_(Piece.emitter_structure_id == structure_id, Piece.status == Status.BROUILLON.value)


def waiting_as(roles) -> list[tuple[str, object]]:
    """(actor, condition) for each actor the piece may wait on: the roles name it and the status waits on it — but
    for the MOA and the paying office a projet de décompte carried by an état, which reaches them inside that état
    (its A15 or A19 is listed instead)."""
    return [(actor, and_(plays(roles, actor), Piece.status.in_(statuses),
                         *((~carried_by_an_etat(),) if actor in INSIDE_ETAT else ())))
            for actor, statuses in AWAITING.items() if statuses]


def _awaiting(structure_id: int):
    """The pieces waiting on this structure: its drafts, and those whose status waits on a part it plays (its
    access row's roles; see `waiting_as`)."""
    return or_(
        draft_of(structure_id),
        exists().where(PieceAccess.piece_id == Piece.id, PieceAccess.structure_id == structure_id,
                       or_(*(condition for _, condition in waiting_as(PieceAccess.roles)))),
    )


# A contractor validated the piece: expressly, partially or by its silence (the sous-traitants' money).
VALIDATING_ACTIONS = (T.Action.VALIDATE, T.Action.VALIDATE_PARTIALLY, T.Action.TACIT_VALIDATION)


def validated_by_a_contractor():
    """A validating event exists on the piece (correlated on `Piece`)."""
    return exists().where(PieceEvent.piece_id == Piece.id,
                          PieceEvent.action.in_(VALIDATING_ACTIONS)).correlate(Piece)


def signed_ttc():
    """A piece's amount TTC counted in a sum: a credit note (avoir) takes money back."""
    return case((Piece.piece_type == "AVOIR", -Piece.montant_ttc), else_=Piece.montant_ttc)


def sent(status=Piece.status):
    """The piece was sent and not refused for good (its money may still come): a status column's condition."""
    return and_(status != Status.BROUILLON.value, status.not_in(statuses.REFUSED_STATUSES))


def under_way(status=Piece.status):
    """The piece is neither a draft nor final: a status column's condition."""
    return and_(status != Status.BROUILLON.value, status.not_in([s.value for s in statuses.FINAL_STATUSES]))


def sort_date():
    """The lists' "newest first": the deposit, or the creation of a draft."""
    return func.coalesce(Piece.deposited_at, Piece.created_at)


def box_condition(structure_id: int, box: str):
    """The SQL condition of a box for a structure."""
    if box == "emises":
        return Piece.emitter_structure_id == structure_id
    if box == "recues":
        return and_(Piece.status != Status.BROUILLON.value, exists().where(
            PieceAccess.piece_id == Piece.id, PieceAccess.structure_id == structure_id,
            PieceAccess.reason != "emitter"))
    if box == "a_traiter":
        return _awaiting(structure_id)
    raise ValueError(f"unknown box {box!r}")


def pieces_for(structure: Structure, *, box: str, marche_id: int | None = None,
               status: str | Iterable[str] | None = None, cadre: str | None = None, works: bool | None = None,
               number: str | None = None, dossier: str | None = None, deposited_from: datetime | None = None,
               deposited_to: datetime | None = None, page: int = 1, per_page: int = 25) -> PiecePage:
    """A page of one box of the structure, paginated by the database (LIMIT/OFFSET and one COUNT): newest first,
    except "a_traiter", most urgent first (earliest open deadline; pieces without a clock after, newest first).

    Boxes: "emises" (its own pieces, drafts included), "recues" (pieces it sees as validator, MOE, MOA, paying
    office, contractor or holder), "a_traiter" (its drafts, and the pieces whose status waits on a part it plays).
    Filters: marche_id, status (one code or several), cadre ("" for private invoices), works (True: works pieces
    only — the rights domain "travaux"; False: the others), number (contains, case ignored), dossier (exact),
    deposited between two instants. Three queries whatever the page size (rows, count, next clocks).
    Right needed: consultation in the box's domain ("emises" / "recues", and "travaux" for works pieces; filter
    with `works` to what the member may see)."""
    if box not in BOXES:
        raise ValueError(f"box must be one of {BOXES}")
    page, per_page = max(1, int(page)), min(max(1, int(per_page)), PER_PAGE_MAX)
    conditions = [box_condition(structure.id, box), visible_to(structure.id)]
    if marche_id is not None:
        conditions.append(Piece.marche_id == marche_id)
    if status:
        conditions.append(Piece.status.in_([status] if isinstance(status, str) else list(status)))
    if cadre is not None:
        conditions.append(Piece.cadre.is_(None) if cadre == "" else Piece.cadre == cadre)
    if works is not None:
        conditions.append(Piece.works.is_(works))
    if number:
        conditions.append(Piece.number_key.contains(number.strip().upper(), autoescape=True))
    if dossier:
        conditions.append(Piece.dossier_number == dossier.strip().upper())
    if deposited_from is not None:
        conditions.append(Piece.deposited_at >= deposited_from)
    if deposited_to is not None:
        conditions.append(Piece.deposited_at < deposited_to)
    total = db.session.scalar(select(func.count()).select_from(Piece).where(*conditions))
    emitter = Structure
    rows = db.session.execute(
        select(Piece, Marche.reference, emitter.name, emitter.siret)
        .join(Marche, Marche.id == Piece.marche_id).join(emitter, emitter.id == Piece.emitter_structure_id)
        .where(*conditions)
        .order_by(*_order(box))
        .limit(per_page).offset((page - 1) * per_page)).all()
    next_clock = _next_deadlines([row[0].id for row in rows])
    items = [PieceRow(piece, reference, name, siret, next_clock.get(piece.id)) for piece, reference, name, siret
             in rows]
    return PiecePage(items, total, page, per_page)


def counting_clock(piece=Piece):
    """The piece's clocks (Deadline rows) the pages count as its own — its next clock, the clock panels': the open
    ones, and the délai global de paiement the sweep ended at its due instant while the piece is still in a status it
    runs in (`domain.deadlines.counts_after_expiry`, the same rule in Python: the sweep relies on both agreeing) —
    the piece's latest DGP: one that ended earlier, the piece having left those statuses and come back, is not.
    `piece`: the Piece (or a selectable with its `status`) the condition correlates to."""
    later = aliased(Deadline)
    return or_(Deadline.done_at.is_(None),
               and_(Deadline.kind == clocks.PAIEMENT,
                    piece.status.in_(sorted(status.value for status in clocks.PAIEMENT_STATUSES)),
                    ~exists().where(later.piece_id == Deadline.piece_id, later.kind == clocks.PAIEMENT,
                                    later.id > Deadline.id)))


def _order(box: str) -> list:
    newest = [sort_date().desc(), Piece.id.desc()]
    if box != "a_traiter":
        return newest
    next_due = (select(func.min(Deadline.due_at))
                .where(Deadline.piece_id == Piece.id, counting_clock())
                .correlate(Piece).scalar_subquery())
    return [next_due.is_(None), next_due.asc(), *newest]


def _next_deadlines(piece_ids: list[int]) -> dict[int, Deadline]:
    if not piece_ids:
        return {}
    found: dict[int, Deadline] = {}
    for deadline in db.session.scalars(select(Deadline).join(Piece, Piece.id == Deadline.piece_id).where(
            Deadline.piece_id.in_(piece_ids), counting_clock()).order_by(Deadline.due_at, Deadline.id)):
        found.setdefault(deadline.piece_id, deadline)
    return found


def piece_for(structure: Structure, piece_id: int) -> Piece | None:
    """The piece if this structure sees it (None: the view answers 404), with its marché, emitter, bank account
    and files loaded. Right needed: consultation in the piece's domain."""
    return db.session.scalar(
        select(Piece).where(Piece.id == piece_id, visible_to(structure.id))
        .options(joinedload(Piece.marche), joinedload(Piece.emitter_structure), joinedload(Piece.bank_account),
                 selectinload(Piece.files)))


def get_or_refuse(structure: Structure, piece_id: int) -> Piece:
    piece = piece_for(structure, piece_id)
    if piece is None:
        raise OperationError("Cette pièce n'existe pas ou vous n'y avez pas accès.")
    return piece


@dataclass(frozen=True)
class TimelineEntry:
    piece: Piece
    event: PieceEvent


@dataclass(frozen=True)
class Dossier:
    """A piece's dossier as the structure sees it: its pieces in order (previous first) and every event of them,
    in time order (the piece page's timeline), with the open and closed clocks of each piece."""

    number: str | None
    pieces: list[Piece]
    timeline: list[TimelineEntry]
    deadlines: dict[int, list[Deadline]] = field(default_factory=dict)


def dossier_of(piece: Piece, structure: Structure | None = None) -> Dossier:
    """The linked pieces of the piece's dossier (same dossier number, or the piece alone for a draft) that the
    structure sees (default: the current tenant's criteria), with their events and clocks: four queries.
    Right needed: consultation in the piece's domain."""
    conditions = [Piece.dossier_number == piece.dossier_number] if piece.dossier_number else [Piece.id == piece.id]
    if structure is not None:
        conditions.append(visible_to(structure.id))
    pieces = list(db.session.scalars(
        select(Piece).where(*conditions).options(joinedload(Piece.emitter_structure))
        .order_by(func.coalesce(Piece.deposited_at, Piece.created_at), Piece.id)))
    by_id = {p.id: p for p in pieces}
    events = db.session.scalars(select(PieceEvent).where(PieceEvent.piece_id.in_(list(by_id)))
                                .order_by(PieceEvent.at, PieceEvent.piece_id, PieceEvent.seq)).all()
    deadlines: dict[int, list[Deadline]] = {}
    for deadline in db.session.scalars(select(Deadline).where(Deadline.piece_id.in_(list(by_id)))
                                       .order_by(Deadline.due_at, Deadline.id)):
        deadlines.setdefault(deadline.piece_id, []).append(deadline)
    return Dossier(piece.dossier_number, pieces, [TimelineEntry(by_id[e.piece_id], e) for e in events], deadlines)
