"""The one definition of the dashboards' read model: a set-based SELECT building the `board_row` rows of a set of
pieces (or of every piece) from the source tables, and the rollup measures of a row.

Written with SQLAlchemy Core on `Piece` itself, so that the rules it copies per structure are the very conditions
the boxes use (`pieces_queries.waiting_as`, `draft_of`, `carried_by_an_etat`, `plays`, `validated_by_a_contractor`,
`signed_ttc`, `sent`, `under_way`): a rule is never written twice. It runs on PostgreSQL and on SQLite (`make run`).
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import (BigInteger, Integer, Numeric, and_, any_, case, exists, func, literal, or_, select,
                        type_coerce, union_all)
from sqlalchemy.sql.elements import BindParameter
from sqlalchemy.types import ARRAY

from chorus_chain.domain import deadlines as clocks
from chorus_chain.domain import transitions as T
from chorus_chain.models import (BoardCount, BoardRow, Deadline, LinePayment, Marche, Piece, PieceAccess, PieceEvent,
                                 Structure)
from chorus_chain.operations import pieces_queries as rules
from chorus_chain.operations.private_invoices import due_sql
from chorus_chain.operations.private_invoices.overdue import UNPAID as UNPAID_PRIVATE

ZERO = literal(0, Numeric(14, 2))
CENT = Decimal("0.01")
# The columns of board_row, in the order the SELECT gives them.
COLUMNS = tuple(column.name for column in BoardRow.__table__.columns)
# A bucket of board_count, and its measures.
BUCKET = ("structure_id", "marche_id", "emitter_party_id", "cadre", "works", "status")
MEASURES = ("n", "signed_ttc", "paid", "sent_ttc", "validated_ttc", "under_way")


@dataclass(frozen=True)
class ClockPanel:
    """A panel of the Tableau de bord listing the open clocks of one kind on the pieces a structure sees in one of
    some parts (its actor names on the piece's access row), earliest due first. board_row carries that clock —
    `<name>_clock_id`, `<name>_due` — on the rows of those structures only: the panel reads its own rows through a
    partial index, not every piece with a clock."""

    name: str
    kind: str
    roles: tuple[str, ...]
    # The clocks listed: the piece's clocks (`pieces_queries.counting_clock`: the open ones, and a délai global de
    # paiement lapsed while the payment is awaited — the panel shows it overdue), or, for the interest of a late
    # payment, those whose interest is unpaid — running or lapsed (the sweep ends a clock at its 45th day; the
    # interest stays owed).
    unpaid_interest: bool = False


# The MOA's and the paying office's délais globaux de paiement; the MOE's corrections the titulaire may still contest
# (the MOE sees whom it waits on, the holder what it has left to answer). A piece has at most one open clock of each
# of these kinds (models.deadlines: ux_deadline_open_piece_kind).
CLOCK_PANELS = {
    "payment": ClockPanel("payment", clocks.PAIEMENT, (T.STEP_MOA, T.STEP_PAIEMENT)),
    "corrections": ClockPanel("corrections", clocks.CONTEST_MOE_CORRECTIONS, (T.STEP_MOE, T.EMITTER, T.TITULAIRE)),
    # The interest of late payments still unpaid (R2192-36: 45 days), on the buyer's side and on the companies owed
    # it (`interets.reading.unpaid_for`). A piece may hold several such clocks (one per late payment): board_row
    # carries its first, in the panels' order (due, id) — enough to find the first pieces of a panel.
    "interest_to_pay": ClockPanel("interest_to_pay", clocks.INTERETS, (T.STEP_MOA, T.STEP_PAIEMENT),
                                  unpaid_interest=True),
    "interest_owed": ClockPanel("interest_owed", clocks.INTERETS, (T.EMITTER, T.TITULAIRE), unpaid_interest=True),
}


def unpaid_interest():
    """The clock's late payment still owes its interest and flat fee (`LinePayment.interest_paid_on` unset)."""
    return exists().where(LinePayment.id == Deadline.line_payment_id, LinePayment.interest_paid_on.is_(None))


def _viewers(own):
    """(piece_id, structure_id, roles, reason, and the piece's own values: `own`'s columns) of every structure that
    sees the pieces of `own` (`_piece_values`): exactly the access predicate — its access rows, and the emitter, which
    has none while the piece is a draft.

    Each branch starts from `own`, the pieces' rows, and finds their viewers by index. Why (PostgreSQL): the planner
    puts a join of two sets each filtered by the same array of pieces at a row or so; joined to the viewers
    afterwards, `own` was the inner side of a nested loop, rescanned for each of a batch's 2 060 viewer rows — a
    million rows compared, 3.5 × the statement's time."""
    values = [own.c[name] for name in own.c.keys() if name != "piece_id"]
    access = (select(own.c.piece_id, PieceAccess.structure_id, PieceAccess.roles, PieceAccess.reason, *values)
              .join_from(own, PieceAccess, PieceAccess.piece_id == own.c.piece_id))
    emitter = (select(own.c.piece_id, Piece.emitter_structure_id, literal(""), literal("emitter"), *values)
               .join_from(own, Piece, Piece.id == own.c.piece_id)
               .where(~exists().where(PieceAccess.piece_id == Piece.id,
                                      PieceAccess.structure_id == Piece.emitter_structure_id)))
    return union_all(access, emitter).subquery("viewer")


def _among(column, piece_ids):
    """`column IN piece_ids`; an array parameter (PostgreSQL: `maintain.refresh`'s statement) as `column = ANY(…)`."""
    if isinstance(piece_ids, BindParameter) and isinstance(piece_ids.type, ARRAY):
        return column == any_(piece_ids)
    return column.in_(piece_ids)


def _piece_values(piece_ids):
    """The values of a board row that are the piece's own, whoever sees it — its next clock, its tacit validation,
    whether a contractor validated it, the clock of each panel, a private invoice's due date — one row per piece
    (`piece_id` and a column per value), for `board_select` to hand to the rows of the viewers it concerns.

    Why (bench/explain_refresh.py, issue 20): each value is a correlated sub-plan, and written in the rows' SELECT
    it ran once per viewer row — ~4 per piece, 13 552 sub-plan loops for a sweep's batch of 500 pieces. A WITH,
    MATERIALIZED on PostgreSQL: computed once, never pulled up into the rows' query (which would evaluate the
    sub-plans per viewer row again); the viewers' two branches both read it (`_viewers`)."""
    # The clocks the pages count as the piece's: the open ones, and a délai global de paiement the sweep ended
    # while the payment is still awaited (`rules.counting_clock`): its expiry leaves the rows as they were.
    open_clocks = and_(Deadline.piece_id == Piece.id, rules.counting_clock())
    values = {
        "next_due": select(func.min(Deadline.due_at)).where(open_clocks).correlate(Piece).scalar_subquery(),
        "next_kind": (select(Deadline.kind).where(open_clocks).order_by(Deadline.due_at, Deadline.id).limit(1)
                      .correlate(Piece).scalar_subquery()),
        "tacit_at": (select(func.max(PieceEvent.at)).where(PieceEvent.piece_id == Piece.id,
                                                           PieceEvent.action == T.Action.TACIT_VALIDATION)
                     .correlate(Piece).scalar_subquery()),
        "validated": rules.validated_by_a_contractor(),
        # An unpaid private invoice's due date (the viewers it concerns: `board_select`).
        "private_due": case((and_(Piece.cadre.is_(None), Piece.status.in_(UNPAID_PRIVATE),
                                  Piece.issue_date.is_not(None)),
                             due_sql.agreed_due(Piece.issue_date, Piece.emitter_party_id))),
    }
    for panel in CLOCK_PANELS.values():
        of_kind = (and_(Deadline.piece_id == Piece.id, Deadline.kind == panel.kind, unpaid_interest())
                   if panel.unpaid_interest else and_(open_clocks, Deadline.kind == panel.kind))
        for column, value in (("clock_id", Deadline.id), ("due", Deadline.due_at)):
            values[f"{panel.name}_{column}"] = (select(value).where(of_kind).order_by(Deadline.due_at, Deadline.id)
                                                .limit(1).correlate(Piece).scalar_subquery())
    # The names its rows show of its marché and its emitter, read once per piece too (not per viewer row).
    emitter = Structure.__table__.alias("emitter")
    statement = (select(Piece.id.label("piece_id"), Marche.reference.label("marche_reference"),
                        emitter.c.name.label("emitter_name"), emitter.c.siret.label("emitter_siret"),
                        *(value.label(name) for name, value in values.items()))
                 .join(Marche, Marche.id == Piece.marche_id)
                 .join(emitter, emitter.c.id == Piece.emitter_structure_id))
    if piece_ids is not None:
        statement = statement.where(_among(Piece.id, piece_ids))
    return statement.cte("piece_value").prefix_with("MATERIALIZED", dialect="postgresql")


def board_select(piece_ids=None):
    """The board rows of these pieces (an iterable of ids, or a SELECT of ids; None: every piece), columns in
    `COLUMNS` order. Reads across tenants: run it under system access (operations.board.refresh)."""
    # The pieces' own values ride along with each of their viewers (`_viewers`); the CASEs below decide, viewer by
    # viewer, which of them its row carries.
    viewer = _viewers(_piece_values(piece_ids))
    tacit_at = case((rules.plays(viewer.c.roles, T.STEP_VALIDATION_1, T.STEP_VALIDATION_2), viewer.c.tacit_at))
    # Each panel's clock on the rows of the structures playing one of the panel's parts only.
    panel_clocks = {f"{panel.name}_{column}": case((rules.plays(viewer.c.roles, *panel.roles),
                                                     viewer.c[f"{panel.name}_{column}"]))
                    for panel in CLOCK_PANELS.values() for column in ("clock_id", "due")}
    # An unpaid private invoice's due date, on the rows of the company owed (its emitter) and of the one that must pay
    # it (its contractor, the route's one step): the « échues, non payées » panel of both (`private_invoices.overdue`).
    private_due = case((or_(viewer.c.structure_id == Piece.emitter_structure_id,
                            rules.plays(viewer.c.roles, T.STEP_CONTRACTOR)), viewer.c.private_due))
    draft = rules.draft_of(viewer.c.structure_id)
    waiting_role = case((draft, literal(T.EMITTER)),
                        *((condition, literal(actor)) for actor, condition in rules.waiting_as(viewer.c.roles)))
    columns = {
        "structure_id": viewer.c.structure_id,
        "piece_id": Piece.id,
        "marche_id": Piece.marche_id,
        "marche_reference": viewer.c.marche_reference,
        "emitter_party_id": Piece.emitter_party_id,
        "emitter_structure_id": Piece.emitter_structure_id,
        "emitter_name": viewer.c.emitter_name,
        "emitter_siret": viewer.c.emitter_siret,
        "number": Piece.number,
        "number_key": Piece.number_key,
        "dossier_number": Piece.dossier_number,
        "cadre": Piece.cadre,
        "works": Piece.works,
        "piece_type": Piece.piece_type,
        "status": Piece.status,
        "roles": viewer.c.roles,
        "reason": viewer.c.reason,
        "sort_date": rules.sort_date(),
        "deposited_at": Piece.deposited_at,
        "montant_ttc": Piece.montant_ttc,
        "signed_ttc": rules.signed_ttc(),
        "accepted_amount": Piece.accepted_amount,
        "paid_amount": Piece.paid_amount,
        "waiting": waiting_role.is_not(None),
        "waiting_role": waiting_role,
        "next_due": viewer.c.next_due,
        "next_kind": viewer.c.next_kind,
        "tacit_at": tacit_at,
        "validated": viewer.c.validated,
        **panel_clocks,
        "private_due": private_due,
        "montant_cents": in_cents(Piece.montant_ttc),
    }
    assert set(columns) == set(COLUMNS), "board_select must give every column of board_row"
    return (select(*(columns[name].label(name) for name in COLUMNS))
            .select_from(viewer)
            .join(Piece, Piece.id == viewer.c.piece_id))


def in_cents(amount):
    """An amount of two decimals as a whole number of cents (board_row's `montant_cents`, the amount sort's key).
    Rounded before the cast: SQLite may hold 12.34 as 1233.999…, which a cast alone truncates."""
    return func.round(amount * 100).cast(BigInteger)


def measures(row) -> dict:
    """A board row's contribution to its bucket of board_count, as SQL expressions on `row` (board_row, or any
    selectable with its columns): n, signed_ttc, paid, sent_ttc, validated_ttc, under_way."""
    money = Numeric(14, 2)
    sent = rules.sent(row.c.status)
    return {
        "n": literal(1, Integer),
        "signed_ttc": type_coerce(row.c.signed_ttc, money),
        "paid": func.coalesce(row.c.paid_amount, ZERO),
        "sent_ttc": case((sent, row.c.signed_ttc), else_=ZERO),
        "validated_ttc": case((and_(sent, row.c.validated),
                               func.coalesce(row.c.accepted_amount, row.c.montant_ttc)), else_=ZERO),
        "under_way": case((rules.under_way(row.c.status), literal(1, Integer)), else_=literal(0, Integer)),
    }


def bucket(row) -> dict:
    """The bucket of board_count a board row counts in (a private invoice's cadre is "": no NULL in a key)."""
    return {name: (func.coalesce(row.c.cadre, "") if name == "cadre" else row.c[name]) for name in BUCKET}


def grouped(row, where=None):
    """SELECT bucket, SUM(measures) FROM row [WHERE …] GROUP BY bucket: the rollups `row` adds up to."""
    keys = bucket(row)
    statement = select(*(column.label(name) for name, column in keys.items()),
                       *(func.sum(column).label(name) for name, column in measures(row).items()))
    if where is not None:
        statement = statement.where(where)
    return statement.group_by(*keys.values())


def money(value):
    """A sum read back from either database, as an exact amount (SQLite may hand back a float)."""
    if value is None:
        return 0
    if isinstance(value, int):
        return value
    return Decimal(str(value)).quantize(CENT)


def grouped_deltas(where=None):
    """SELECT bucket, SUM(measures) FROM board_count GROUP BY bucket: what the stored deltas add up to."""
    counts = BoardCount.__table__
    keys = [counts.c[name] for name in BUCKET]
    statement = select(*keys, *(func.sum(counts.c[name]).label(name) for name in MEASURES))
    if where is not None:
        statement = statement.where(where)
    return statement.group_by(*keys)
