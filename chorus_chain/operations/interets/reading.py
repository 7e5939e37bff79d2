"""What the pages show of the interest owed after late payments, each read through the one access predicate: a
clock is read through its piece (`access.visible_to`; on the Tableau de bord, the structure's rows of the read model,
which are exactly the pieces it sees), so only the structures that see the payee's projet de décompte see its
interest and its 45 days.

The figures are the ones the engine stored on each `LinePayment` when the payment was recorded; nothing here
computes interest.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache

from sqlalchemy import Integer, bindparam, func, select

from chorus_chain import access
from chorus_chain.domain import deadlines as clocks
from chorus_chain.domain.money import CarriedInterest
from chorus_chain.extensions import db
from chorus_chain.models import Deadline, Marche, Piece, Structure
from chorus_chain.models.board import BoardRow
from chorus_chain.models.etat_pieces import LatePaymentRules, LinePayment, PayableLine
from chorus_chain.models.money import ETAT_SUFFIXES, EtatAcompte
from chorus_chain.operations.board_reading import counts
from chorus_chain.operations.board_reading.planning import opaque_limit

ZERO = Decimal("0.00")
STATE_LABELS = {
    "paid": "payés",
    "to_pay": "à payer",
    "lapsed": "délai de 45 jours dépassé",
}


@dataclass(frozen=True, slots=True)
class DueClock:
    """An interest clock as the panels show it (`Deadline`'s columns)."""

    id: int
    due_at: datetime


@dataclass(frozen=True, slots=True)
class DuePayment(LatePaymentRules):
    """A late payment as the panels show it (`LinePayment`'s columns, its figures the engine's, stored)."""

    amount: Decimal
    paid_on: date
    days_late: int
    interest: Decimal
    flat_fee: Decimal
    interest_paid_on: date | None


@dataclass(frozen=True, slots=True)
class DueLine:
    id: int
    name: str


@dataclass(frozen=True, slots=True)
class DueEtat:
    id: int
    label: str  # « 4 », « 4 bis » (`EtatAcompte.label`)


@dataclass(frozen=True, slots=True)
class DuePiece:
    id: int
    number: str


@dataclass(frozen=True, slots=True)
class DueMarche:
    id: int
    reference: str


@dataclass(frozen=True)
class InterestDue:
    """The interest and flat fee of one late payment, with its 45-day clock (the piece page's: the rows; the
    Tableau de bord's panels: `Due*` plain values of what they show, `unpaid_for`)."""

    deadline: Deadline | DueClock
    payment: LinePayment | DuePayment
    line: PayableLine | DueLine
    etat: EtatAcompte | DueEtat
    piece: Piece | DuePiece | None = None
    marche: Marche | DueMarche | None = None
    payee_name: str | None = None

    @property
    def amount(self) -> Decimal:
        return self.payment.late_total

    @property
    def last_day(self) -> date:
        """The last day the buyer may pay them (R2192-36): the principal's payment day + 45 days."""
        return self.payment.interest_last_day

    def state(self, now: datetime) -> str:
        if self.payment.interest_paid_on is not None:
            return "paid"
        return "lapsed" if clocks.is_expired(self.deadline.due_at, now) else "to_pay"

    def countdown(self, now: datetime) -> str:
        return clocks.countdown_fr(clocks.INTERETS, self.deadline.due_at, now)


def _rows(query, params: dict | None = None) -> list[tuple]:
    return db.session.execute(query, params).all()


def _base():
    return (select(Deadline, LinePayment, PayableLine, EtatAcompte)
            .join(LinePayment, LinePayment.id == Deadline.line_payment_id)
            .join(PayableLine, PayableLine.id == LinePayment.line_id)
            .join(EtatAcompte, EtatAcompte.id == PayableLine.etat_acompte_id)
            .where(Deadline.kind == clocks.INTERETS))


def dues_of_pieces(piece_ids: Iterable[int]) -> dict[int, list[InterestDue]]:
    """piece id → the interest clocks hung on it, oldest payment first (one query). The caller passes pieces the
    structure sees (the piece page's)."""
    ids = list(piece_ids)
    if not ids:
        return {}
    found: dict[int, list[InterestDue]] = {}
    for deadline, payment, line, etat in _rows(_base().where(Deadline.piece_id.in_(ids))
                                               .order_by(LinePayment.paid_on, LinePayment.id)):
        found.setdefault(deadline.piece_id, []).append(InterestDue(deadline, payment, line, etat))
    return found


# The panels of `unpaid_for` (`board.rows.CLOCK_PANELS`): the buyer's side, the companies owed the interest.
TO_PAY = "interest_to_pay"
OWED = "interest_owed"


def unpaid_for(structure: Structure, panel: str, works: bool | None = None,
               limit: int = 8) -> tuple[list[InterestDue], int, int | None]:
    """The interest still unpaid (running or lapsed) on the pieces this structure sees in one of the panel's parts
    (`TO_PAY`: "moa", "paiement"; `OWED`: "emitter", "titulaire"), earliest due first (then the clock's id), how
    many there are and, beyond `counts.CAP` pieces owing some, « plus de CAP » (`more_than`; the count is then not
    exact): one query.

    Through the read model: each of the structure's board rows carries its piece's first unpaid interest clock for
    the panel (`<panel>_clock_id`, `<panel>_due`, kept in the transaction of each change), with a partial index.
    The first `limit` pieces in that order hold the first `limit` clocks (a piece's first clock comes before its
    others, and `limit` pieces ahead of a clock each hold a clock ahead of it), so the rows read are those pieces'
    clocks; the count, the clocks of at most CAP + 1 pieces. Before, every interest clock of the platform was joined
    to the structure's access rows and counted by a window."""
    return unpaid_of(_rows(unpaid_statement(panel, works, limit), {"structure_id": structure.id}), limit)


def unpaid_of(rows, limit: int) -> tuple[list[InterestDue], int, int | None]:
    """`unpaid_for`'s answer from the rows of its statement (`unpaid_statement`), however they were read."""
    count_limit = counts.count_limit(0, limit)
    if not rows:
        return [], 0, None
    pieces, total = rows[0][-2:]
    more_than = counts.CAP if pieces >= count_limit else None
    return [InterestDue(DueClock(clock_id, due_at), DuePayment(amount, paid_on, days_late, interest, flat_fee, None),
                        DueLine(line_id, name), DueEtat(etat_id, f"{number} {ETAT_SUFFIXES[suffix]}".strip()),
                        DuePiece(piece_id, piece_number), DueMarche(marche_id, reference), name)
            for (clock_id, due_at, amount, paid_on, days_late, interest, flat_fee, line_id, name, etat_id, number,
                 suffix, piece_id, piece_number, marche_id, reference, _, _) in rows], int(total), more_than


# Where a row of `unpaid_statement` holds its clock's id and due instant (its order: due, then id).
UNPAID_ID_AT, UNPAID_DUE_AT = 0, 1


@lru_cache(maxsize=32)
def unpaid_statement(panel: str, works: bool | None, limit: int):
    """`unpaid_for`'s statement, the structure bound at execution: built once per process for each panel, rights'
    variant and size (its subqueries and their cache key cost about as much as running it, on every Tableau de bord:
    bench/page_cpu.py). The SQL is the same."""
    clock_id = BoardRow.__table__.c[f"{panel}_clock_id"]
    due = BoardRow.__table__.c[f"{panel}_due"]
    # The partial index's predicate.
    conditions = [BoardRow.structure_id == bindparam("structure_id", type_=Integer), clock_id.is_not(None)]
    if works is not None:
        conditions.append(BoardRow.works == works)

    def first_pieces(count: int):
        return (select(BoardRow.piece_id).where(*conditions).order_by(due, clock_id)
                .limit(opaque_limit(count)).scalar_subquery())

    count_limit = counts.count_limit(0, limit)
    unpaid = [Deadline.kind == clocks.INTERETS, LinePayment.interest_paid_on.is_(None)]
    capped_pieces = first_pieces(count_limit)
    pieces_counted = (select(func.count()).select_from(
        select(BoardRow.piece_id).where(*conditions).order_by(due, clock_id).limit(opaque_limit(count_limit))
        .subquery("capped")).scalar_subquery())
    clocks_counted = (select(func.count()).select_from(Deadline)
                      .join(LinePayment, LinePayment.id == Deadline.line_payment_id)
                      .where(Deadline.piece_id.in_(capped_pieces), *unpaid).scalar_subquery())
    # The columns the panels show, plain: the six entities whole were about 120 columns to describe and convert on
    # every Tableau de bord, most often for no row at all (bench/page_cpu.py).
    return access.built_once(
        select(Deadline.id, Deadline.due_at, LinePayment.amount, LinePayment.paid_on, LinePayment.days_late,
               LinePayment.interest, LinePayment.flat_fee, PayableLine.id, PayableLine.name, EtatAcompte.id,
               EtatAcompte.number, EtatAcompte.suffix, Piece.id, Piece.number, Marche.id, Marche.reference,
               pieces_counted, clocks_counted)
        .join(LinePayment, LinePayment.id == Deadline.line_payment_id)
        .join(PayableLine, PayableLine.id == LinePayment.line_id)
        .join(EtatAcompte, EtatAcompte.id == PayableLine.etat_acompte_id)
        .join(Piece, Piece.id == Deadline.piece_id).join(Marche, Marche.id == Piece.marche_id)
        .where(Deadline.kind == clocks.INTERETS, Deadline.piece_id.in_(first_pieces(limit)),
               LinePayment.interest_paid_on.is_(None))
        .order_by(Deadline.due_at, Deadline.id).limit(limit))


def unpaid_by_payee(marche_id: int, etat_ids: Iterable[int] | None = None) -> dict[int, list[LinePayment]]:
    """payee party id → the late payments of the marché's monthly états whose interest is still unpaid (the final
    état carries them, `operations.etats_acompte`): oldest first, one query. Not filtered by structure: the final
    état is the marché's, and each page reads its lines through `etat_pieces.reading`."""
    query = (select(PayableLine.payee_party_id, LinePayment)
             .join(PayableLine, PayableLine.id == LinePayment.line_id)
             .join(EtatAcompte, EtatAcompte.id == PayableLine.etat_acompte_id)
             .where(PayableLine.marche_id == marche_id, EtatAcompte.final.is_(False),
                    LinePayment.interest_paid_on.is_(None), LinePayment.interest + LinePayment.flat_fee > 0)
             .order_by(LinePayment.paid_on, LinePayment.id))
    if etat_ids is not None:
        query = query.where(EtatAcompte.id.in_(list(etat_ids)))
    found: dict[int, list[LinePayment]] = {}
    for party_id, payment in _rows(query):
        found.setdefault(party_id, []).append(payment)
    return found


def carried_into_final(marche_id: int) -> dict[int, list[CarriedInterest]]:
    """The engine's input for the final état (`domain.money.dgd.carry_unpaid_interest`): per payee (its party id is
    its beneficiary key), the interest and flat fee of each late payment still unpaid — the figures stored with the
    payment, not computed again. Two queries."""
    unpaid = unpaid_by_payee(marche_id)
    line_ids = {payment.line_id for payments in unpaid.values() for payment in payments}
    labels = dict(db.session.execute(
        select(PayableLine.id, EtatAcompte).join(EtatAcompte, EtatAcompte.id == PayableLine.etat_acompte_id)
        .where(PayableLine.id.in_(line_ids))).all()) if line_ids else {}
    return {party_id: [CarriedInterest(p.paid_on, labels[p.line_id].label, p.interest, p.flat_fee) for p in payments]
            for party_id, payments in unpaid.items()}
