"""What the payment tracker reads: the structure's own deposited pieces, newest first, each with all it shows, in
one statement (`sent`), and their events' facts in a second (`events`).

Before (issue 20, session 12) the tracker ran six statements — the pieces and their marchés as ORM entities, the
events, the names of the structures of their routes, the états d'acompte carrying them (each `EtatAcompte` whole, its
frozen result decoded), the day each entered its stage (a third query on the events), the payment terms of the
private invoices' emitters — about a third of a sous-traitant's Tableau de bord (bench/page_cpu.py). Now the names,
the carrying état, the emitter's agreed term and whether the piece is in the Trésorerie's sample of history are
columns of the pieces' statement, and the days the pieces entered their stages are worked out from the events read
anyway (`tresorerie.reading.last_entered`): two statements, plain rows.

Every table is read under the tenant's criteria and row-level security, as the six statements were: a name, an état
or a term the structure may not read is missing from its row as it was from its query.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import Decimal
from functools import cache, lru_cache

from sqlalchemy import ARRAY, Integer, and_, bindparam, cast, func, literal_column, null, select
from sqlalchemy.orm import aliased

from chorus_chain import access
from chorus_chain.domain import commercial_terms as commercial
from chorus_chain.domain.transitions import PDM_CADRES
from chorus_chain.extensions import db
from chorus_chain.models import Marche, MarcheParty, Piece, PieceEvent, Structure
from chorus_chain.models.board import BoardRow
from chorus_chain.models.pieces import PieceRules
from chorus_chain.models.etat_pieces import EtatAcomptePdm
from chorus_chain.models.money import ETAT_SUFFIXES, EtatAcompte
from chorus_chain.operations import structures
from chorus_chain.operations.board_reading.lists import SHOWN, NextClock
from chorus_chain.operations.tresorerie import reading as tresorerie


@dataclass(frozen=True, slots=True)
class SentPiece(PieceRules):
    """A sent piece as the tracker shows it and the Trésorerie's rule reads it (the attributes of a `Piece` they use:
    `amount_ui.amount_why_of`, `display.waiting_text`, `tresorerie.reading.tracker_expectations`)."""

    id: int
    number: str
    cadre: str | None
    piece_type: str
    status: str
    montant_ttc: Decimal
    accepted_amount: Decimal | None
    accepted_why: dict | None
    deposited_at: datetime | None
    issue_date: date | None
    route: list | None
    emitter_structure_id: int
    emitter_party_id: int


@dataclass(frozen=True, slots=True)
class SentMarche:
    """What the tracker reads of a piece's marché: its reference, and the legal days of its stages (`_terms`)."""

    id: int
    reference: str
    dgp_days: int
    moe_days: int


@dataclass(frozen=True, slots=True)
class CarryingEtat:
    """The issued état d'acompte carrying a projet de décompte: what the tracker says of it, and whose line pays it."""

    id: int
    label: str  # « 4 », « 4 bis » (`EtatAcompte.label`)
    validated_at: datetime | None
    payee_party_id: int | None
    # Its line is paid to one of the reader's confirmed parties: the tracker shows that line, never a neighbour's
    # (probed with the état by the payee's primary key, not against the reader's parties read whole).
    payee_is_own: bool


@dataclass(frozen=True, slots=True)
class Sent:
    piece: SentPiece
    marche: SentMarche
    next_clock: NextClock | None
    etat: CarryingEtat | None
    term: commercial.Term | None  # the emitter's agreed term (a private invoice), None when its party is not read
    in_history: bool  # among the Trésorerie's sample (`tresorerie.reading.history_pieces`)
    names: dict[int, str]  # the structures of its route (and the reader's own): id → name


def sent(structure_id: int, works: bool | None, limit: int, today: date) -> list[Sent]:
    """The structure's own deposited pieces, newest first, at most `limit`, each with its marché, its next clock (as
    its board row keeps it), the issued état carrying it, its emitter's agreed term, whether the Trésorerie's sample
    holds it and the names of its route: one statement."""
    params = {"structure_id": structure_id, "since": tresorerie.history_since(today)}
    if works is not None:
        params["works"] = works
    found: dict[int, Sent] = {}
    postgresql = db.session.get_bind().dialect.name == "postgresql"
    for row in db.session.execute(_sent_statement(works is not None, limit, postgresql), params):
        (piece_id, number, cadre, piece_type, status, montant, accepted, why, deposited_at, issue_date, route,
         emitter_structure_id, emitter_party_id, marche_id, reference, dgp_days, moe_days, next_kind, next_due,
         etat_id, etat_number, etat_suffix, validated_at, payee, payee_is_own, term_party, term_days,
         term_end_of_month, in_history, names) = row
        piece = SentPiece(piece_id, number, cadre, piece_type, status, montant, accepted, why, deposited_at,
                          issue_date, route, emitter_structure_id, emitter_party_id)
        etat = None
        if etat_id is not None and cadre in PDM_CADRES:
            etat = CarryingEtat(etat_id, f"{etat_number} {ETAT_SUFFIXES[etat_suffix]}".strip(), validated_at, payee,
                                bool(payee_is_own))
        # A piece carried by two issued états comes twice: the last row wins, as the carried états' dict did.
        found[piece_id] = Sent(piece, SentMarche(marche_id, reference, dgp_days, moe_days),
                               NextClock(next_kind, next_due) if next_due is not None else None, etat,
                               commercial.Term.agreed(term_days, term_end_of_month) if term_party is not None
                               else None, bool(in_history),
                               {int(key): name for key, name in names.items()} if names else {})
    if not postgresql:  # the embedded SQLite (`make run`): the route's names read by a statement of their own
        names = structures.names_of({step.get("structure_id") for row in found.values()
                                     for step in row.piece.route or ()} | {structure_id})
        return [replace(row, names=names) for row in found.values()]
    return list(found.values())


# `ix_board_row_emitted`'s predicate on the reason (models.board.EMITTED), as SQL.
EMITTER_REASON = "'emitter'"


@lru_cache(maxsize=8)
def _sent_statement(by_works: bool, limit: int, postgresql: bool = True):
    """`sent`'s statement, the structure, its sample's period (and the member's `works`) bound: built once per
    process (`access.built_once`).

    The keys first, from `ix_board_row_emitted` (emitter, structure, deposit; partial on the emitter's deposited
    rows, whose predicate the conditions repeat as constants so that a generic plan may use it) read backwards — in
    one step with the joins PostgreSQL misestimated the rows (the RLS policy repeats the structure's equality) and
    sorted all of the structure's own pieces —, then each piece by primary key with its board row, its marché, the carrying état
    (`ix_etat_acompte_pdm_piece_id`) with its payee's party (by primary key: is it one of the structure's?), its
    emitter's party (by primary key) and the names of its route (by primary key: a JSON object, one column)."""
    structure_id = bindparam("structure_id", type_=Integer)
    conditions = [BoardRow.emitter_structure_id == structure_id, BoardRow.structure_id == structure_id,
                  BoardRow.deposited_at.is_not(None),  # deposited: not a draft (a draft has no deposit instant)
                  # The emitter's row (`rows.board_select` names it so, and no other), as the index's predicate
                  # says it: a literal, not a parameter, which the planner could not match with it.
                  BoardRow.reason == literal_column(EMITTER_REASON)]
    if by_works:
        conditions.append(BoardRow.works == bindparam("works"))
    keys = (select(BoardRow.piece_id.label("piece_id"), BoardRow.deposited_at.label("deposited_at"))
            .where(*conditions).order_by(BoardRow.deposited_at.desc(), BoardRow.piece_id.desc()).limit(limit)
            .subquery("own_keys"))
    payee = aliased(MarcheParty, name="payee")
    carried = (select(EtatAcomptePdm.piece_id, EtatAcompte.id, EtatAcompte.number, EtatAcompte.suffix,
                      EtatAcompte.validated_at, EtatAcomptePdm.payee_party_id,
                      and_(payee.structure_id == structure_id, payee.status == "confirmed").label("payee_is_own"))
               .join(EtatAcompte, EtatAcompte.id == EtatAcomptePdm.etat_acompte_id)
               .outerjoin(payee, payee.id == EtatAcomptePdm.payee_party_id)
               .where(EtatAcompte.status == "issued").subquery("carried"))
    term = aliased(MarcheParty, name="emitter_party")
    # The structures of the route: its steps' `structure_id`s (and the reader's own, whom « l'émetteur » names).
    steps = func.json_array_elements(Piece.route).table_valued("value").alias("step")
    route_ids = (select(func.array_agg(cast(steps.c.value.op("->>")("structure_id"), Integer)))
                 .select_from(steps).scalar_subquery())
    # The ids unnested, each joined to its structure by primary key: « IN the route OR = the reader » read every
    # structure of the platform for each piece, « IN (a set-returning function) » was estimated at a hundred ids, a
    # hash of them all, and `id = ANY (the array)` filtered every structure through the array built again for each
    # (240 rows a piece at 100 000 pieces, 2 400 at a million, unless planned as probes).
    # PostgreSQL's JSON and array functions: on SQLite no names here, `sent` reads them after (`names_of`).
    ids = (func.unnest(func.array_append(route_ids, structure_id)).table_valued("id")
           .render_derived(name="route_ids"))
    names = (select(func.json_object_agg(Structure.id, Structure.name)).select_from(ids)
             .join(Structure, Structure.id == ids.c.id)
             .correlate(Piece).scalar_subquery()) if postgresql else null()
    in_history = and_(Piece.id.in_(tresorerie.history_sample(structure_id)),
                      Piece.deposited_at >= bindparam("since"))
    return access.built_once(
        select(Piece.id, Piece.number, Piece.cadre, Piece.piece_type, Piece.status, Piece.montant_ttc,
               Piece.accepted_amount, Piece.accepted_why, Piece.deposited_at, Piece.issue_date, Piece.route,
               Piece.emitter_structure_id, Piece.emitter_party_id, Marche.id, Marche.reference, Marche.dgp_days,
               Marche.moe_days, SHOWN.next_kind, SHOWN.next_due, carried.c.id, carried.c.number, carried.c.suffix,
               carried.c.validated_at, carried.c.payee_party_id, carried.c.payee_is_own, term.id,
               term.commercial_term_days, term.commercial_term_end_of_month, in_history, names)
        .select_from(keys)
        .join(SHOWN, and_(SHOWN.structure_id == structure_id, SHOWN.piece_id == keys.c.piece_id))
        .join(Piece, Piece.id == keys.c.piece_id).join(Marche, Marche.id == Piece.marche_id)
        .outerjoin(carried, carried.c.piece_id == Piece.id)
        .outerjoin(term, term.id == Piece.emitter_party_id)
        .order_by(keys.c.deposited_at.desc(), keys.c.piece_id.desc()))


def events(piece_ids: list[int]):
    """The events' facts the milestones and the stages' entries read, as plain rows (not the whole event: its
    payload, its hash chain), in each piece's order: one statement."""
    postgresql = db.session.get_bind().dialect.name == "postgresql"
    return db.session.execute(_events_statement(postgresql), {"piece_ids": piece_ids}).all()


@cache
def _events_statement(postgresql: bool = True):
    """The tracker's events of a page of pieces: built once per process (`access.built_once`).

    On PostgreSQL the pieces are one array (`unnest`), each probing `uq_piece_event_piece_seq` for its events: one
    prepared statement whatever the number of pieces, whose generic plan is its custom plan (the array's elements
    estimated at ten by both, the page's at most `dashboard.PANEL_SIZE`), so PostgreSQL keeps it. It was marked
    `plan_cache.custom_plan` (session 11: a generic plan of the former statement read 547 423 rows instead of 48 at
    1 000 000 pieces), then parsed and planned on every page — more of its CPU than its execution. SQLite (`make
    run`) has no arrays: an IN list there."""
    columns = (PieceEvent.piece_id, PieceEvent.action, PieceEvent.actor_step, PieceEvent.from_status,
               PieceEvent.to_status, PieceEvent.at, PieceEvent.amount, PieceEvent.paid_on)
    if not postgresql:
        return access.built_once(
            select(*columns).where(PieceEvent.piece_id.in_(bindparam("piece_ids", expanding=True)))
            .order_by(PieceEvent.piece_id, PieceEvent.seq))
    # The array read through a subquery (an InitPlan): the planner then counts ten elements under the custom plan as
    # under the generic one. Read directly, the custom plan counted the page's pieces (eight), so the generic plan
    # (ten) always cost more and PostgreSQL planned the statement again at every execution (pg_prepared_statements:
    # no generic plan after eleven).
    array = select(cast(bindparam("piece_ids"), ARRAY(Integer))).scalar_subquery()
    pieces = func.unnest(array).table_valued("piece_id").render_derived(name="tracked")
    return access.built_once(
        select(*columns).select_from(pieces).join(PieceEvent, PieceEvent.piece_id == pieces.c.piece_id)
        .order_by(PieceEvent.piece_id, PieceEvent.seq))
