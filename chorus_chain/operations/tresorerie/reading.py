"""What the forecast reads, for one structure, under its tenant — the only module of the package that touches the
database. A fixed number of queries whatever the data (at most nine):

1. the structure's confirmed parties (which marchés it receives on, which it pays on);
2. the pieces in flight it sees (`access.visible_to`), with their marché;
3. which of those projets de décompte an issued état d'acompte carries (the engine's payable of the état speaks for
   them; once validated, its line);
4. the history: the events of the pieces it sees over the last eighteen months (at most the `HISTORY_PIECES` most
   recent, found in its rows of the dashboards' read model) — a buyer's habits are learnt from the pieces this
   structure may see, never from a neighbour's;
5. the unpaid lines of validated états: those paid to it, and those it pays as maître d'ouvrage or paying office
   (the rule of `etat_pieces.reading`: never a neighbour's line);
6. the public side of the marchés concerned (who pays a line);
7. the names of the structures on the routes;
8. the rate table, whenever a public payment is in the forecast (the engine's interest if it is late).
"""
from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from functools import cache

from sqlalchemy import DateTime, Text, bindparam, case, cast, func, or_, select, type_coerce

from flask import current_app

from chorus_chain import access, plan_cache
from chorus_chain.access import current_tenant, is_system, visible_to
from chorus_chain.domain import commercial_terms as commercial
from chorus_chain.domain.money import MoneyError, late_payment_interest
from chorus_chain.domain.transitions import Action, PDM_CADRES
from chorus_chain.extensions import db
from chorus_chain.graph import Role
from chorus_chain.models import Marche, MarcheParty, Piece, PieceAccess, PieceEvent, Structure
from chorus_chain.models.board import BoardRow
from chorus_chain.operations.board_reading.planning import opaque_limit
from chorus_chain.models.etat_pieces import EtatAcomptePdm, PayableLine
from chorus_chain.models.money import EtatAcompte
from chorus_chain.operations import interest as interest_ops
from chorus_chain.operations.marches import PARIS, start_of_day
from chorus_chain.operations.private_invoices import overdue as private_terms
from chorus_chain.operations.tresorerie import periods as periods_rules
from chorus_chain.operations.tresorerie import stages as st
from chorus_chain.operations.tresorerie.flows import Flow
from chorus_chain.formatting import measure, money as format_eur
from chorus_chain.operations.retenue import release_of
from chorus_chain.operations.structures import names_of
from chorus_chain.operations.tresorerie.forecast import Expectation, Part, Position, StageAhead, expect, position_of
from chorus_chain.operations.tresorerie import habits_cache
from chorus_chain.operations.tresorerie.habits import Habit, Observation, learn

HISTORY_DAYS = 540  # eighteen months of habits
HISTORY_PIECES = 1000  # at most, the most recent: a median needs tens of pieces per counterpart, not thousands
# The pieces whose money the forecast follows: invoices, projets de décompte, private invoices (cadre None).
MONEY_CADRES = ("A1", "A9", "A12", "A4", "A10", "A13", "A7", "A14")
STAGE_NOW = {
    st.VALIDATION_1: "à valider par le donneur d'ordre",
    st.VALIDATION_2: "à valider par le mandataire",
    st.MOE: "chez le maître d'œuvre",
    st.MOA: "dans un état d'acompte, chez le maître d'ouvrage",
    st.PAIEMENT: "chez le comptable",
    st.CONTRACTOR: "chez l'entreprise donneuse d'ordre",
}
_MEASURED = set().union(*st.ENTRY.values())
_ENDING = set().union(*st.EXIT.values())
ZERO = Decimal("0.00")


def day_of(instant) -> date | None:
    return None if instant is None else instant.astimezone(PARIS).date()


@dataclass(frozen=True)
class Undated:
    """Money with no date yet: a retenue de garantie before the réception, an advance still to be repaid."""

    incoming: bool
    marche_reference: str
    counterpart: str
    label: str
    amount: Decimal
    text: str


@dataclass
class Forecast:
    today: date
    flows: list[Flow]
    periods: list = field(default_factory=list)
    later: list[Flow] = field(default_factory=list)
    alerts: list[Flow] = field(default_factory=list)
    undated: list[Undated] = field(default_factory=list)  # retenues before the réception, advances to repay

    @property
    def receipts(self) -> Decimal:
        return sum((f.amount for f in self.flows if f.incoming), ZERO)

    @property
    def payments(self) -> Decimal:
        return sum((f.amount for f in self.flows if not f.incoming), ZERO)

    def by_marche(self) -> list[tuple[str, str, Decimal, Decimal]]:
        """(marché, counterpart, receipts, payments), in the order of the marchés then counterparts."""
        found: dict[tuple[str, str], list[Decimal]] = defaultdict(lambda: [ZERO, ZERO])
        for flow in self.flows:
            found[(flow.marche_reference, flow.counterpart)][0 if flow.incoming else 1] += flow.amount
        return [(m, c, r, p) for (m, c), (r, p) in sorted(found.items())]


ALL_DOMAINS = frozenset({"travaux", "emises", "recues"})


def forecast_for(structure: Structure, today: date, domains: frozenset[str] = ALL_DOMAINS) -> Forecast:
    """Everything the structure expects to receive and to pay, with expected dates, on `today`; only the amounts of
    the rights domains the member may read (`domains`: a works piece or line needs "travaux", an invoice "emises"
    for its emitter, "recues" for whoever pays it — `pieces_records.rights_domain`)."""
    parties = db.session.execute(select(MarcheParty.id, MarcheParty.marche_id, MarcheParty.role).where(
        MarcheParty.structure_id == structure.id, MarcheParty.status == "confirmed")).all()
    own_parties = [row.id for row in parties]
    paying_marches = sorted({row.marche_id for row in parties if row.role in (Role.MOA, Role.PAYING_OFFICE)})

    pieces = _pieces_in_flight(structure.id)
    terms = private_terms.terms_of(p.emitter_party_id for p, _ in pieces if p.cadre is None)
    carried = _carried_by_issued_etat([p.id for p, _ in pieces])
    lines = _open_lines(own_parties, paying_marches)
    # The habits are read only when there is money to date: a maître d'œuvre, who neither receives nor pays the
    # pieces it sees, does not fold thousands of them for an empty page.
    history = (history_for(structure.id, today, [p.id for p, _ in pieces]) if pieces or lines
               else History({}, {}))
    public = _public_side({m.id for _, m in pieces} | {m.id for _, _, m in lines})
    names = names_of({step.get("structure_id") for p, _ in pieces for step in p.route or ()}
                   | {p.emitter_structure_id for p, _ in pieces}
                   | {sid for sides in public.values() for sid, _ in sides.values()})

    flows = []
    in_etat: dict[tuple[int, int | None], list[Flow]] = defaultdict(list)
    etats: dict[int, EtatAcompte] = {}
    for piece, marche in pieces:
        etat, payee = carried.get(piece.id, (None, None))
        if etat is not None and etat.validated_at is not None:
            continue  # its line of the validated état speaks for it (below)
        flow = _piece_flow(structure.id, piece, marche, history, names, today, terms)
        if flow is None:
            continue
        if etat is not None:
            etats[etat.id] = etat
            in_etat[(etat.id, payee)].append(flow)
        else:
            flows.append(flow)
    for (etat_id, payee), members in in_etat.items():
        flow = _etat_flow(etats[etat_id], payee, members)
        if flow.amount > 0:  # a payee with nothing this month has no line: nothing to expect
            flows.append(flow)
    for line, etat, marche in lines:
        flows.append(_line_flow(line, etat, marche, line.payee_party_id in own_parties, public.get(marche.id, {}),
                                names, history.habits, today))
    held, undated = _retenues_and_advances(parties, paying_marches, public, names, today)
    flows += held
    flows = _with_interest([flow for flow in flows if flow.domain in domains])
    flows.sort(key=lambda f: (f.expected, f.marche_reference, f.label))
    found = Forecast(today, flows, undated=[u for u in undated if "travaux" in domains])
    found.periods, found.later = periods_rules.spread(flows, today)
    found.alerts = periods_rules.alerts(flows, today)
    return found


# --- the history -----------------------------------------------------------------------------------------------------

@dataclass
class History:
    habits: Mapping[tuple[int | None, str], Habit]
    entered: Mapping[tuple[int, str], date]  # (piece, stage) → the day its money last entered that stage


class _LastEntered(Mapping):
    """(piece, stage) → the day (Paris) its money last entered that stage, from the instants `history_for` read: a
    day is worked out when asked — a page asks for the stages of the few pieces it shows, of the thousand read."""

    def __init__(self, instants: dict[tuple[int, str], datetime]):
        self._instants = instants

    def __getitem__(self, key) -> date:
        return _day_of_read(self._instants[key])

    def __iter__(self):
        return iter(self._instants)

    def __len__(self) -> int:
        return len(self._instants)


# The history's instants as the driver gives them: PostgreSQL's are aware already, and converting thousands of them
# to UTC (`UTCDateTime`) before reading their day was a third of the payment tracker's CPU (bench/page_cpu.py).
_READ_INSTANT = DateTime(timezone=True)


def _day_of_read(instant: datetime) -> date:
    """The day (Paris) of an instant read as `_READ_INSTANT`: SQLite forgets the offset of the UTC it stored."""
    return day_of(instant if instant.tzinfo is not None else instant.replace(tzinfo=timezone.utc))


def history_for(structure_id: int, today: date, piece_ids=None) -> History:
    """The habits of every counterpart, learnt from the pieces the structure sees, and the day each of `piece_ids`
    (all of the sample when None) last entered each stage.

    The habits are kept a short while per structure and day (`habits_cache`): a statistic over a thousand pieces,
    not worth 13 500 event rows per request. Kept and reused only while working for that very structure (its tenant,
    not across tenants); the days the pieces entered their stages are always read fresh (`_entered_of`)."""
    cache = habits_cache.of(current_app)
    shared = cache is not None and piece_ids is not None and current_tenant() == structure_id and not is_system()
    key = (structure_id, today)
    if shared:
        habits = cache.get(key)
        if habits is not None:
            return History(habits, _LastEntered(_entered_of(structure_id, today, piece_ids)))
    history = _history_read(structure_id, today)
    if shared:
        history.habits = cache.put(key, history.habits)
    return history


def _history_read(structure_id: int, today: date) -> History:
    """The habits of every counterpart, learnt from the pieces the structure sees (one query).

    Bounded whatever the platform's size: the `HISTORY_PIECES` pieces it saw deposited most recently within
    `HISTORY_DAYS` (habits are a recent median; a maître d'ouvrage of a hundred marchés must not read a hundred
    thousand events to draw its page), and PostgreSQL folds each piece's events into one row: per stage, the day it
    first entered it, the day it last entered it, the day it first left it (`stages.ENTRY` / `EXIT`, the rule of
    `habits.observe`), the payment's own day for a payment. The pieces: `history_pieces`. Planned for its structure
    at each execution (`plan_cache.custom_plan`): its generic plan took 88 ms instead of 15 for the sous-traitant at
    1 000 000 pieces (the bench README, session 10)."""
    columns = []
    for stage in st.ORDER:
        entry = PieceEvent.to_status.in_(st.ENTRY[stage])
        exit_ = PieceEvent.action.in_(st.EXIT[stage])
        columns += [type_coerce(func.min(case((entry, PieceEvent.at))), _READ_INSTANT),
                    type_coerce(func.max(case((entry, PieceEvent.at))), _READ_INSTANT),
                    type_coerce(func.min(case((exit_, PieceEvent.at))), _READ_INSTANT)]
    paid = func.min(case((PieceEvent.action == Action.MARK_PAID, PieceEvent.paid_on)))
    # The route as its text: the pieces of a marché share a few routes, each decoded once below (decoding a
    # thousand JSON routes was another third of the tracker's CPU).
    rows = db.session.execute(plan_cache.custom_plan(
        select(Piece.id, cast(Piece.route, Text), paid, *columns).join(PieceEvent, PieceEvent.piece_id == Piece.id)
        .where(*history_pieces(structure_id, today),
               or_(PieceEvent.to_status.in_(_MEASURED), PieceEvent.action.in_(_ENDING)))
        .group_by(Piece.id))).all()  # the route depends on the primary key (PostgreSQL, SQLite)
    observations = []
    entered: dict[tuple[int, str], datetime] = {}
    routes: dict[str | None, dict[str, int | None]] = {}
    for piece_id, route_text, paid_on, *instants in rows:
        counterparts = routes.get(route_text)
        if counterparts is None:
            route = json.loads(route_text) if route_text is not None else None
            counterparts = routes[route_text] = {step["step"]: step.get("structure_id") for step in route or ()}
        for k, stage in enumerate(st.ORDER):
            first_in, last_in, first_out = instants[3 * k: 3 * k + 3]
            if last_in is not None:
                entered[(piece_id, stage)] = last_in
            if first_in is None or first_out is None or st.STEP_OF_STAGE[stage] not in counterparts:
                continue
            if first_out >= first_in:  # both aware (PostgreSQL) or both naive UTC (SQLite)
                out = (paid_on if stage in (st.PAIEMENT, st.CONTRACTOR) and paid_on is not None
                       else _day_of_read(first_out))
                observations.append(Observation(counterparts[st.STEP_OF_STAGE[stage]], stage,
                                                (out - _day_of_read(first_in)).days))
    return History(learn(observations), _LastEntered(entered))


def habits_for(structure_id: int, today: date) -> Mapping[tuple[int | None, str], Habit]:
    """The habits of every counterpart alone (`history_for`'s, kept a short while per structure and day under the
    same conditions), for a page that works out the days its pieces entered their stages from events it read
    (`last_entered`: the payment tracker)."""
    cache = habits_cache.of(current_app)
    shared = cache is not None and current_tenant() == structure_id and not is_system()
    key = (structure_id, today)
    if shared:
        habits = cache.get(key)
        if habits is not None:
            return habits
    habits = _history_read(structure_id, today).habits
    return cache.put(key, habits) if shared else habits


def last_entered(events) -> dict[tuple[int, str], datetime]:
    """(piece, stage) → the instant the piece last entered the stage, from its events ((piece id, to_status, at),
    any order): what `_entered_of` reads in SQL, for the events of pieces among the history's sample."""
    found: dict[tuple[int, str], datetime] = {}
    for piece_id, to_status, at in events:
        for stage in _STAGES_ENTERED.get(to_status, ()):
            key = (piece_id, stage)
            if key not in found or at > found[key]:
                found[key] = at
    return found


# A status → the stages its entry enters (`stages.ENTRY` inverted).
_STAGES_ENTERED: dict[str, tuple[str, ...]] = {
    status: tuple(stage for stage in st.ORDER if status in st.ENTRY[stage]) for status in _MEASURED}


def _entered_of(structure_id: int, today: date, piece_ids) -> dict[tuple[int, str], datetime]:
    """(piece, stage) → the instant the piece last entered the stage, for `piece_ids` among the history's pieces
    (`history_pieces`: the same sample as `_history_read`, so a kept habit changes nothing of what a page shows).
    One query, bounded by the pieces shown."""
    ids = sorted(set(piece_ids))
    if not ids:
        return {}
    rows = db.session.execute(_entered_statement(), {"piece_ids": ids, "structure_id": structure_id,
                                                     "since": _history_since(today)}).all()
    return {(piece_id, stage): instant for piece_id, *instants in rows
            for stage, instant in zip(st.ORDER, instants) if instant is not None}


@cache
def _entered_statement():
    """`_entered_of`'s statement, its pieces, structure and period bound: built once per process
    (`access.built_once`) — the payment tracker runs it on every Tableau de bord of a sous-traitant, and building
    its seven aggregates, the sample's subquery, their criteria and cache key was most of its cost."""
    columns = [type_coerce(func.max(case((PieceEvent.to_status.in_(st.ENTRY[stage]), PieceEvent.at))),
                           _READ_INSTANT) for stage in st.ORDER]
    return access.built_once(
        select(Piece.id, *columns).join(PieceEvent, PieceEvent.piece_id == Piece.id)
        .where(Piece.id.in_(bindparam("piece_ids", expanding=True)),
               *_history_conditions(bindparam("structure_id"), bindparam("since")),
               PieceEvent.to_status.in_(_MEASURED))
        .group_by(Piece.id))


def _history_since(today: date) -> datetime:
    return start_of_day(today - timedelta(days=HISTORY_DAYS))


def history_since(today: date) -> datetime:
    """The first instant of the period the history's pieces are deposited in (`history_pieces`)."""
    return _history_since(today)


def history_sample(structure_id):
    """The `HISTORY_PIECES` pieces the structure saw most recently (`history_pieces`, before the period's bound), as
    a subquery of their ids: `structure_id` a value or a bound parameter."""
    return (select(BoardRow.piece_id).where(BoardRow.structure_id == structure_id)
            .order_by(BoardRow.sort_date.desc(), BoardRow.piece_id.desc()).limit(opaque_limit(HISTORY_PIECES))
            .scalar_subquery())


def history_pieces(structure_id: int, today: date) -> list:
    """The conditions on `Piece` of the pieces the habits are learnt from (`history_for`): the `HISTORY_PIECES`
    pieces the structure saw deposited most recently within `HISTORY_DAYS`.

    The pieces it sees are its rows of the dashboards' read model (`board_row`: exactly the access predicate), read
    newest first from the structure's date index alone — a backward index-only scan of `HISTORY_PIECES` entries —,
    then those deposited within the period kept: a deposited piece's sort date is its deposit, so the most recent
    rows that fall in the period are the period's most recent rows; the structure's own drafts among them are left
    out (they have no history). The sample's entries, not every piece deposited on the platform in eighteen months
    probed for visibility (issue 20). The limit is hidden from the planner (`planning.opaque_limit`): larger than
    its estimate of the structure's rows (misled by the row-level security filter), it made PostgreSQL read every
    row of the structure and sort them."""
    return _history_conditions(structure_id, _history_since(today))


def _history_conditions(structure_id, since) -> list:
    """`history_pieces`' conditions for a structure and the period's first instant (values, or bound parameters)."""
    return [Piece.id.in_(history_sample(structure_id)), Piece.deposited_at >= since]


# --- pieces ----------------------------------------------------------------------------------------------------------

def _pieces_in_flight(structure_id: int) -> list[tuple[Piece, Marche]]:
    """The pieces in flight whose money the structure receives or pays (`_direction` decides, row by row): those it
    emitted, and those whose route makes it the contractor, the paying office or the maître d'ouvrage (its access
    row's roles). Among what it sees (`visible_to`): a maître d'œuvre sees hundreds of pieces it neither receives nor
    pays, and does not load them."""
    pays = select(PieceAccess.id).where(
        PieceAccess.piece_id == Piece.id, PieceAccess.structure_id == structure_id,
        or_(*(PieceAccess.roles.contains(f" {role} ") for role in ("contractor", "paiement", "moa")))).exists()
    return list(db.session.execute(
        select(Piece, Marche).join(Marche, Marche.id == Piece.marche_id)
        .where(visible_to(structure_id), or_(Piece.emitter_structure_id == structure_id, pays),
               Piece.status.in_(st.IN_FLIGHT), or_(Piece.cadre.is_(None), Piece.cadre.in_(MONEY_CADRES)))
        .order_by(Piece.id)).all())


def _carried_by_issued_etat(piece_ids: list[int]) -> dict[int, tuple[EtatAcompte, int | None]]:
    """piece → (the issued état that carries it, the party whose line pays it)."""
    if not piece_ids:
        return {}
    return {piece_id: (etat, payee) for piece_id, etat, payee in db.session.execute(
        select(EtatAcomptePdm.piece_id, EtatAcompte, EtatAcomptePdm.payee_party_id)
        .join(EtatAcompte, EtatAcompte.id == EtatAcomptePdm.etat_acompte_id)
        .where(EtatAcomptePdm.piece_id.in_(piece_ids), EtatAcompte.status == "issued"))}


def _etat_flow(etat: EtatAcompte, payee: int | None, members: list[Flow]) -> Flow:
    """The projets de décompte of one payee carried by an état the MOA has not validated yet, as one amount: the
    engine's payable for that payee in the état's frozen result (what its line will carry), not the sum of what the
    pieces claimed — after retenue, advance repayment and the MOE's corrections (DESIGN.md §3 rule 10)."""
    from dataclasses import replace

    first = min(members, key=lambda f: (f.expected, f.piece_id or 0))
    payable = next((p for p in (etat.result or {}).get("payables", ()) if p.get("payee_key") == payee), None)
    if payable is not None:
        amount, basis = Decimal(payable["this"]), "montant de l'état d'acompte émis (calcul du moteur)"
    else:
        amount, basis = sum((f.amount for f in members), ZERO), first.amount_basis
    numbers = ", ".join(f.label.split(" ", 3)[-1] for f in members)
    dues = [f.legal_due for f in members if f.legal_due is not None]
    return replace(first, kind="etat", label=f"État d'acompte n° {etat.label} ({numbers})", amount=amount,
                   amount_basis=basis, legal_due=min(dues) if dues else None, piece_id=None, etat_id=etat.id,
                   key=f"etat:{etat.id}:{payee}")


def _term(piece: Piece, terms: dict[int, commercial.Term] | None) -> commercial.Term:
    """A private invoice's payment term (agreed by its emitter with its contractor, or the legal 30 days)."""
    return (terms or {}).get(piece.emitter_party_id, commercial.Term())


def _terms(piece: Piece, marche: Marche, terms: dict[int, commercial.Term] | None) -> st.Terms:
    """The legal figures of a piece's stages: the marché's, and for a private invoice the days to its due date."""
    if piece.cadre is not None or piece.issue_date is None:
        return st.Terms(marche.dgp_days, marche.moe_days)
    days = (_term(piece, terms).due(piece.issue_date) - piece.issue_date).days
    return st.Terms(marche.dgp_days, marche.moe_days, contractor_days=days)


def _direction(structure_id: int, piece: Piece) -> bool | None:
    """True: the structure receives this money; False: it pays it; None: neither (it only sees it pass)."""
    if piece.emitter_structure_id == structure_id:
        return True
    steps = {step["step"]: step.get("structure_id") for step in piece.route or ()}
    if steps.get("contractor") == structure_id or steps.get("paiement") == structure_id:
        return False
    if steps.get("moa") == structure_id and "paiement" not in steps:
        return False
    return None


def _piece_flow(structure_id: int, piece: Piece, marche: Marche, history: History, names: dict[int, str],
                today: date, terms: dict[int, commercial.Term] | None = None) -> Flow | None:
    incoming = _direction(structure_id, piece)
    if incoming is None:
        return None
    stage = st.STAGE_OF_STATUS[piece.status]
    works = piece.cadre in PDM_CADRES
    entered = history.entered.get((piece.id, stage)) or day_of(
        piece.received_by_moe_at if stage == st.MOE else piece.received_at if stage == st.PAIEMENT else None
    ) or day_of(piece.deposited_at) or today
    route = [(step["step"], step.get("structure_id"), names.get(step.get("structure_id"))) for step in piece.route or ()]
    position = position_of(route, piece.status, entered, _terms(piece, marche, terms), works=works)
    if position is None:
        return None
    expectation = expect(position, history.habits, today)
    amount = piece.accepted_amount if piece.accepted_amount is not None else piece.montant_ttc
    basis = "montant admis" if piece.accepted_amount is not None else "montant demandé TTC"
    private = piece.cadre is None
    if private:
        legal_due, dgp_start = _term(piece, terms).due(piece.issue_date), None
    else:
        dgp_start = day_of(piece.received_by_moe_at if works else piece.received_at)
        legal_due = dgp_start + timedelta(days=marche.dgp_days) if dgp_start else None
    if incoming:
        payer = next((step for step in reversed(route) if step[0] in ("paiement", "contractor", "moa")), None)
        counterpart = (payer[2] if payer and payer[2] else "le payeur")
    else:
        counterpart = names.get(piece.emitter_structure_id) or "l'entreprise"
    kind_word = "Projet de décompte" if works else "Facture"
    return Flow(incoming=incoming, kind="private" if private else "piece", marche_id=marche.id,
                marche_reference=marche.reference, counterpart=counterpart, label=f"{kind_word} {piece.number}",
                amount=amount, amount_basis=basis, stage_now=STAGE_NOW[stage], expectation=expectation,
                legal_due=legal_due, piece_id=piece.id, key=f"piece:{piece.id}",
                domain="travaux" if piece.works else "emises" if incoming else "recues",
                interest=None if private else _Pending(dgp_start, marche.dgp_days))


# --- lines of validated états ----------------------------------------------------------------------------------------

def _open_lines(own_parties: list[int], paying_marches: list[int]) -> list[tuple[PayableLine, EtatAcompte, Marche]]:
    if not own_parties and not paying_marches:
        return []
    return list(db.session.execute(
        select(PayableLine, EtatAcompte, Marche)
        .join(EtatAcompte, EtatAcompte.id == PayableLine.etat_acompte_id)
        .join(Marche, Marche.id == PayableLine.marche_id)
        .where(EtatAcompte.status == "issued", EtatAcompte.validated_at.is_not(None), PayableLine.paid_on.is_(None),
               PayableLine.amount > 0,
               or_(PayableLine.payee_party_id.in_(own_parties or [0]),
                   PayableLine.marche_id.in_(paying_marches or [0])))
        .order_by(PayableLine.id)).all())


def _public_side(marche_ids: set[int]) -> dict[int, dict[str, tuple[int | None, str]]]:
    """marché → role → (structure id, name) of its MOA, MOE and paying office."""
    if not marche_ids:
        return {}
    found: dict[int, dict[str, tuple[int | None, str]]] = defaultdict(dict)
    for marche_id, role, structure_id, name in db.session.execute(
            select(MarcheParty.marche_id, MarcheParty.role, MarcheParty.structure_id, MarcheParty.name)
            .where(MarcheParty.marche_id.in_(marche_ids), MarcheParty.role.in_(Role.PUBLIC),
                   MarcheParty.status != "declined")):
        found[marche_id][role] = (structure_id, name)
    return found


def _line_flow(line: PayableLine, etat: EtatAcompte, marche: Marche, incoming: bool,
               public: dict[str, tuple[int | None, str]], names: dict[int, str], habits, today: date) -> Flow:
    validated = day_of(etat.validated_at)
    payer_id, payer_name = public.get(Role.PAYING_OFFICE) or public.get(Role.MOA) or (None, "le comptable")
    payer_name = names.get(payer_id) or payer_name
    ahead = (StageAhead(st.PAIEMENT, payer_id, payer_name, max((line.due_on - validated).days, 1)),)
    # The paying office's steps on the line (service fait, mandat) move nothing in time here: its habit is measured
    # from the validation to the payment, as the pieces that follow the lines record it.
    expectation = expect(Position(ahead, validated), habits, today)
    state = {"to_pay": "validée, à payer", "service_fait": "service fait constaté", "mandated": "mandatée",
             "partly_paid": "payée en partie"}.get(line.state, "à payer")
    return Flow(incoming=incoming, kind="line", marche_id=marche.id, marche_reference=marche.reference,
                counterpart=payer_name if incoming else line.name,
                label=f"État d'acompte n° {etat.label}" + ("" if incoming else f", ligne de {line.name}"),
                amount=line.remaining, amount_basis="ligne de l'état d'acompte validé", stage_now=state,
                expectation=expectation, legal_due=line.due_on, etat_id=etat.id, key=f"line:{line.id}",
                interest=_Pending(line.dgp_started_on, marche.dgp_days))


# --- interest --------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Pending:
    """What the engine needs for the interest of a public payment: the start of its délai global de paiement."""

    dgp_start: date | None
    dgp_days: int


def _with_interest(flows: list[Flow]) -> list[Flow]:
    """The late-payment interest and flat fee the engine computes if each public payment is made on its expected
    day (CHORUS.md §5, §6b): what the MOA would owe, what the company would be owed. The rate table is read once,
    whenever a public payment is forecast; a half-year without a known rate leaves the figure out."""
    from dataclasses import replace

    late = [f for f in flows if isinstance(f.interest, _Pending) and f.interest.dgp_start is not None
            and f.expected > f.interest.dgp_start + timedelta(days=f.interest.dgp_days)]
    # Read whenever a public payment is in the forecast, late or not: the page's queries stay the same in number
    # whatever the dates (one short table).
    table = interest_ops.rate_table() if any(isinstance(f.interest, _Pending) for f in flows) else None
    late_ids = {id(f) for f in late}
    found = []
    for flow in flows:
        value = None
        if id(flow) in late_ids:
            try:
                result = late_payment_interest(table, receipt=flow.interest.dgp_start,
                                               dgp_days=flow.interest.dgp_days, payment=flow.expected,
                                               net_payable_ttc=flow.amount)
                value = result.interest + result.flat_fee
            except MoneyError:
                value = None
        found.append(replace(flow, interest=value))
    return found


# --- the payment tracker ---------------------------------------------------------------------------------------------

def tracker_expectations(structure_id: int, items, names: dict[int, str], today: date, *,
                         entered: dict[tuple[int, str], datetime] | None = None,
                         terms: dict[int, commercial.Term] | None = None) -> dict[int, object]:
    """piece id → the expected payment of each of the structure's own pieces on its payment tracker (the
    Tableau de bord): the same rule as the Trésorerie page. `items`: (piece, marché, its line of a validated état or
    None). A piece paid, refused or returned has none. Two queries (the history, the private invoices' terms), or
    none but the habits' when the tracker read them with its pieces: `entered`, the instants its pieces last entered
    their stages (`last_entered`, for the pieces of the history's sample), and `terms`, the private invoices'
    emitters' agreed terms (`private_terms.terms_of`'s)."""
    if not items:
        return {}
    if entered is None:
        history = history_for(structure_id, today, [piece.id for piece, _, _ in items])
    else:
        history = History(habits_for(structure_id, today), _LastEntered(entered))
    if terms is None:
        terms = private_terms.terms_of(piece.emitter_party_id for piece, _, _ in items if piece.cadre is None)
    found = {}
    for piece, marche, line in items:
        route = [(step["step"], step.get("structure_id"), names.get(step.get("structure_id")))
                 for step in piece.route or ()]
        if line is not None:
            if not line.payable or line.paid_on is not None:
                continue
            payer = next(((sid, name) for step, sid, name in route if step == "paiement"), (None, None))
            validated = day_of(line.created_at) or line.dgp_started_on  # the line is written at the validation
            ahead = (StageAhead(st.PAIEMENT, payer[0], payer[1], max((line.due_on - validated).days, 1)),)
            found[piece.id] = expect(Position(ahead, validated), history.habits, today)
            continue
        if piece.status not in st.IN_FLIGHT:
            continue
        stage = st.STAGE_OF_STATUS[piece.status]
        entered = history.entered.get((piece.id, stage)) or day_of(piece.deposited_at) or today
        position = position_of(route, piece.status, entered, _terms(piece, marche, terms),
                               works=piece.cadre in PDM_CADRES)
        if position is not None:
            found[piece.id] = expect(position, history.habits, today)
    return found


# --- retenue de garantie and advance -----------------------------------------------------------------------------------

BENEFICIARY_ROLES = (Role.TITULAIRE, Role.MANDATAIRE, Role.COTRAITANT, Role.SOUS_TRAITANT)


def _latest_etats(marche_ids: set[int]) -> list[tuple[EtatAcompte, Marche]]:
    """The last issued état d'acompte of each marché (its result carries the cumulative retenue and advance): one
    query."""
    if not marche_ids:
        return []
    latest = (select(func.max(EtatAcompte.id)).where(EtatAcompte.marche_id.in_(marche_ids),
                                                      EtatAcompte.status == "issued")
              .group_by(EtatAcompte.marche_id))
    return list(db.session.execute(select(EtatAcompte, Marche).join(Marche, Marche.id == EtatAcompte.marche_id)
                                   .where(EtatAcompte.id.in_(latest)).order_by(Marche.reference)).all())


def _retenues_and_advances(parties, paying_marches: list[int], public, names: dict[int, str],
                           today: date) -> tuple[list[Flow], list[Undated]]:
    """The retenue de garantie held to date (the engine's cumulative figure of the last issued état) and when it is
    released (réception + the guarantee period, `retenue.release_of`), then paid within the délai global de
    paiement; the advance paid and what is left to repay from the next acomptes. Only the structure's own
    beneficiaries — every beneficiary for the maître d'ouvrage and the paying office."""
    own = {row.id for row in parties if row.role in BENEFICIARY_ROLES}
    paying = set(paying_marches)
    marche_ids = {row.marche_id for row in parties if row.id in own} | paying
    flows: list[Flow] = []
    undated: list[Undated] = []
    for etat, marche in _latest_etats(marche_ids):
        release = release_of(marche)
        payer_id, payer = (public.get(marche.id, {}).get(Role.PAYING_OFFICE)
                           or public.get(marche.id, {}).get(Role.MOA) or (None, "le maître d'ouvrage"))
        payer = names.get(payer_id) or payer
        for b in (etat.result or {}).get("beneficiaries", ()):
            key = b.get("key")
            incoming = key in own
            if not incoming and marche.id not in paying:
                continue
            columns = b.get("columns", {})
            retenue = Decimal((columns.get("retenue") or {}).get("to_date", "0.00"))
            avance_paid = Decimal((columns.get("avance_paid") or {}).get("to_date", "0.00"))
            repaid = Decimal((columns.get("avance_repayment") or {}).get("to_date", "0.00"))
            counterpart = payer if incoming else b.get("name", "—")
            if retenue > 0 and release is not None and not release.replaced_by_guarantee:
                due = release.release_on + timedelta(days=marche.dgp_days)
                text = (f"La retenue de garantie est libérée à la fin du délai de garantie (réception le "
                        f"{release.reception_on:%d/%m/%Y}, plus {release.guarantee_months} mois : le "
                        f"{release.release_on:%d/%m/%Y}) s'il ne reste pas de réserves, puis payée dans le délai "
                        f"global de paiement de {marche.dgp_days} jours.")
                parts = (Part(st.PAIEMENT, None, marche.dgp_days, marche.dgp_days, 0, False, 0),)
                flows.append(Flow(incoming=incoming, kind="retenue", marche_id=marche.id,
                                  marche_reference=marche.reference, counterpart=counterpart,
                                  label=f"Retenue de garantie{'' if incoming else ' de ' + b.get('name', '')}",
                                  amount=retenue, amount_basis=f"retenue cumulée à l'état d'acompte n° {etat.label}",
                                  stage_now="retenue jusqu'à la fin de la garantie",
                                  expectation=Expectation(due, release.release_on, due, parts, text),
                                  legal_due=due, etat_id=etat.id, key=f"retenue:{marche.id}:{key}"))
            elif retenue > 0 and release is None:
                undated.append(Undated(incoming, marche.reference, counterpart, "Retenue de garantie", retenue,
                                       f"Retenue cumulée à l'état d'acompte n° {etat.label}. Elle est libérée "
                                       f"{marche.guarantee_months} mois après la réception des travaux, qui n'est "
                                       "pas encore prononcée : pas encore de date."))
            if avance_paid - repaid > 0:
                undated.append(Undated(not incoming, marche.reference, counterpart, "Avance à rembourser",
                                       avance_paid - repaid,
                                       f"Avance versée {format_eur(avance_paid)}, déjà remboursée "
                                       f"{format_eur(repaid)} : le reste est déduit des prochains acomptes, de "
                                       f"{measure(marche.avance_repayment_start)} % à "
                                       f"{measure(marche.avance_repayment_end)} % d'exécution "
                                       f"{'du marché' if marche.avance_repayment_basis == 'whole_marche' else 'de sa part'}"
                                       " (réglages du marché), pas versé en une fois."))
    return flows, undated
