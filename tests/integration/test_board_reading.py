"""The dashboards read their read model (issue 20): every figure and every list they show from `board_row` /
`board_count` equals what the former queries on the source tables (pieces, access rows, events, clocks) answered, on
random worlds — drafts, deposits at random ages, validations, partial validations, refusals, the MOE's and MOA's
steps, payments, a private invoice, tacit validations by the sweep — for every structure of the world, with and
without the rights' `works` scope and each filter, every sort walked page by page with the keyset cursors, forwards
and back.

The former queries are kept here, as they stood before issue 20, as the oracle: they read the pieces themselves.
"""
from __future__ import annotations

import html
import random
from contextlib import contextmanager
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import and_, case, exists, func, or_, select

from chorus_chain.access import visible_to
from chorus_chain.blueprints.dashboard import views as dashboard_views
from chorus_chain.domain import deadlines as clocks
from chorus_chain.domain import statuses
from chorus_chain.domain import transitions as T
from chorus_chain.domain.statuses import Status
from chorus_chain.extensions import db
from chorus_chain.graph import Role
from chorus_chain.models import Deadline, Marche, MarcheParty, Piece, PieceAccess, PieceEvent, Structure
from chorus_chain.models.base import utcnow
from chorus_chain.operations import dashboard
from chorus_chain.operations.board.rows import CLOCK_PANELS as ALL_CLOCK_PANELS
from chorus_chain.operations.interets import reading as interets_reading
from chorus_chain.operations.private_invoices import overdue as private_overdue
from chorus_chain.operations.tresorerie import reading as tresorerie
from chorus_chain.operations.board_reading import counts, lists, marches
from chorus_chain.operations import pieces_queries
from chorus_chain.operations.pieces_queries import pieces_for
from chorus_chain.operations.pieces_records import roles_text
from tests.integration import pieces_world as pw

# The clock panels of open clocks (`dashboard.open_clocks`); the interest panels, whose clocks are their late
# payments' unpaid interest, have their own oracle (test_interest_panels).
CLOCK_PANELS = {name: panel for name, panel in ALL_CLOCK_PANELS.items() if not panel.unpaid_interest}
# The interest panel each clock panel is read with on the Tableau de bord (`dashboard.clocks_and_interest`).
PAIRED_INTEREST = {"corrections": interets_reading.OWED, "payment": interets_reading.TO_PAY}

# The Tableau de bord's waiting panels by name (the field of `dashboard.Panels` each fills) → their statuses.
WAITING_PANELS = {name: statuses for panels in dashboard.WAITING_PANELS.values() for name, statuses in panels}

ACTORS = ("moa", "moe", "mandataire", "cotraitant", "st1", "sibling", "st_co", "st2")


# --- The former queries (before issue 20), on the source tables ------------------------------------------------------

def _signed():
    return case((Piece.piece_type == "AVOIR", -Piece.montant_ttc), else_=Piece.montant_ttc)


def old_scope(structure, filters: dashboard.Filters, works):
    conditions = [visible_to(structure.id)]
    if works is not None:
        conditions.append(Piece.works.is_(works))
    if filters.marche_id is not None:
        conditions.append(Piece.marche_id == filters.marche_id)
    if filters.party_id is not None:
        conditions.append(Piece.emitter_party_id == filters.party_id)
    if filters.cadre is not None:
        conditions.append(Piece.cadre.is_(None) if filters.cadre == "" else Piece.cadre == filters.cadre)
    if filters.status:
        conditions.append(Piece.status == filters.status)
    if filters.deposited_from is not None:
        conditions.append(Piece.deposited_at >= dashboard._start(filters.deposited_from))
    if filters.deposited_to is not None:
        conditions.append(Piece.deposited_at < dashboard._start(filters.deposited_to + timedelta(days=1)))
    if filters.number:  # « starts with » since issue 20 (« contains » before: board_reading.numbers says why)
        conditions.append(Piece.number_key.startswith(filters.number.strip().upper(), autoescape=True))
    return conditions


def old_overview(structure, filters, works):
    conditions = old_scope(structure, filters, works)
    by_status = {status: (count, Decimal(amount)) for status, count, amount in db.session.execute(
        select(Piece.status, func.count(), func.coalesce(func.sum(_signed()), 0))
        .where(*conditions).group_by(Piece.status))}
    under_way = and_(Piece.status != Status.BROUILLON.value,
                     Piece.status.not_in([s.value for s in statuses.FINAL_STATUSES]))
    by_marche = {marche_id: (reference, count, Decimal(amount), Decimal(paid), waiting)
                 for marche_id, reference, count, amount, paid, waiting in db.session.execute(
        select(Marche.id, Marche.reference, func.count(Piece.id), func.coalesce(func.sum(_signed()), 0),
               func.coalesce(func.sum(Piece.paid_amount), 0), func.count(case((under_way, Piece.id))))
        .join(Marche, Marche.id == Piece.marche_id).where(*conditions).group_by(Marche.id, Marche.reference))}
    return by_status, by_marche


def old_list(structure, filters, works, key, descending):
    column = {"numero": Piece.number_key, "date": func.coalesce(Piece.deposited_at, Piece.created_at),
              "montant": Piece.montant_ttc, "statut": Piece.status, "marche": Marche.reference}[key]
    return list(db.session.scalars(
        select(Piece.id).join(Marche, Marche.id == Piece.marche_id).where(*old_scope(structure, filters, works))
        .order_by(column.desc() if descending else column.asc(), Piece.id.desc() if descending else Piece.id)))


def old_tacit(structure, works):
    as_validator = exists().where(
        PieceAccess.piece_id == Piece.id, PieceAccess.structure_id == structure.id,
        or_(PieceAccess.roles.like(f"%{roles_text([T.STEP_VALIDATION_1])}%"),
            PieceAccess.roles.like(f"%{roles_text([T.STEP_VALIDATION_2])}%")))
    conditions = [PieceEvent.action == T.Action.TACIT_VALIDATION, as_validator, visible_to(structure.id)]
    if works is not None:
        conditions.append(Piece.works.is_(works))
    return [tuple(row) for row in db.session.execute(
        select(Piece.id, Piece.number, Structure.name, Marche.reference, Piece.montant_ttc, PieceEvent.at)
        .join(Piece, Piece.id == PieceEvent.piece_id).join(Structure, Structure.id == Piece.emitter_structure_id)
        .join(Marche, Marche.id == Piece.marche_id).where(*conditions)
        .order_by(PieceEvent.at.desc(), PieceEvent.id.desc()))]


def old_subcontractors(structure):
    mine = select(MarcheParty.id).where(MarcheParty.structure_id == structure.id, MarcheParty.status == "confirmed")
    sent = and_(Piece.status != Status.BROUILLON.value, Piece.status.not_in(dashboard.REFUSED))
    validated = exists().where(PieceEvent.piece_id == Piece.id, PieceEvent.action.in_(pieces_queries.VALIDATING_ACTIONS))
    return [tuple(row) for row in db.session.execute(
        select(MarcheParty.id, func.coalesce(func.sum(case((sent, _signed()))), 0),
               func.coalesce(func.sum(case((and_(sent, validated),
                                               func.coalesce(Piece.accepted_amount, Piece.montant_ttc)))), 0),
               func.coalesce(func.sum(case((Piece.status.in_(dashboard.PAID), Piece.paid_amount))), 0))
        .join(Marche, Marche.id == MarcheParty.marche_id)
        .outerjoin(Piece, and_(Piece.emitter_party_id == MarcheParty.id, visible_to(structure.id)))
        .where(MarcheParty.parent_id.in_(mine), MarcheParty.status == "confirmed",
               MarcheParty.role.in_((Role.SOUS_TRAITANT, Role.COTRAITANT)))
        .group_by(MarcheParty.id, Marche.reference, MarcheParty.name)
        .order_by(Marche.reference, MarcheParty.name, MarcheParty.id))]


def old_tracker(structure, works):
    conditions = [Piece.emitter_structure_id == structure.id, Piece.status != Status.BROUILLON.value]
    if works is not None:
        conditions.append(Piece.works.is_(works))
    return list(db.session.scalars(select(Piece.id).where(*conditions)
                                   .order_by(Piece.deposited_at.desc(), Piece.id.desc())))


def piece_s_clock(deadline: Deadline, piece: Piece) -> bool:
    """Whether the pages count this clock as the piece's, stated from the domain here: open, or a délai global de
    paiement the sweep ended while the piece is in a status its DGP runs in on its route (`running_in`), the latest
    DGP of the piece (the payment still awaited, now late: issue 20, the sweep leaves it on the rows)."""
    if deadline.done_at is None:
        return True
    if deadline.kind != clocks.PAIEMENT or piece.status not in {
            status.value for status in clocks.running_in(clocks.PAIEMENT, piece.route_steps, cadre=piece.cadre)}:
        return False
    return deadline.id == db.session.scalar(select(func.max(Deadline.id)).where(
        Deadline.piece_id == piece.id, Deadline.kind == clocks.PAIEMENT))


def old_open_clocks(structure, kind, roles, works):
    """The clock panels before the read model carried their clocks: every clock of the kind the pages count as its
    piece's (`piece_s_clock`) joined to the pieces the structure sees in one of the parts."""
    as_role = exists().where(PieceAccess.piece_id == Piece.id, PieceAccess.structure_id == structure.id,
                             or_(*[PieceAccess.roles.like(f"%{roles_text([role])}%") for role in roles]))
    conditions = [Deadline.kind == kind, as_role, visible_to(structure.id)]
    if works is not None:
        conditions.append(Piece.works.is_(works))
    return [(piece.id, marche_id, name, deadline.id) for deadline, piece, marche_id, name in db.session.execute(
        select(Deadline, Piece, Marche.id, Structure.name)
        .select_from(Deadline).join(Piece, Piece.id == Deadline.piece_id)
        .join(Marche, Marche.id == Piece.marche_id).join(Structure, Structure.id == Piece.emitter_structure_id)
        .where(*conditions).order_by(Deadline.due_at, Deadline.id)) if piece_s_clock(deadline, piece)]


def old_history(structure, today):
    """The pieces the Trésorerie's habits are learnt from, on the source tables: the `HISTORY_PIECES` most recent
    pieces the structure sees (the access predicate on every piece) by their sort date within eighteen months, its
    drafts then left out. Before the read model the drafts took no place among them; in a world smaller than
    `HISTORY_PIECES` both rules give every piece deposited in the period."""
    since = tresorerie.start_of_day(today - timedelta(days=tresorerie.HISTORY_DAYS))
    sort_date = func.coalesce(Piece.deposited_at, Piece.created_at)
    recent = (select(Piece.id, Piece.deposited_at).where(visible_to(structure.id), sort_date >= since)
              .order_by(sort_date.desc(), Piece.id.desc()).limit(tresorerie.HISTORY_PIECES))
    return {piece_id for piece_id, deposited_at in db.session.execute(recent) if deposited_at is not None}


def old_overdue(structure, today, limit=100):
    """The unpaid private invoices past due, on the source tables: every unpaid private invoice of the platform the
    structure sees (the access predicate), those it issued or pays, each due under its emitter's agreed term (the
    domain's rule, in Python), most overdue first (earliest due, then id). (Before the read model the page took the
    first `4 × limit` by invoice date and kept the late ones: the same rows whenever one term applies.)"""
    from chorus_chain.domain import commercial_terms as commercial
    from chorus_chain.operations.private_invoices import overdue

    rows = list(db.session.execute(
        select(Piece, Structure.name).join(Structure, Structure.id == Piece.emitter_structure_id)
        .where(visible_to(structure.id), Piece.cadre.is_(None), Piece.status.in_(overdue.UNPAID))))
    terms = overdue.terms_of(piece.emitter_party_id for piece, _name in rows)
    found = []
    for piece, name in rows:
        ours = piece.emitter_structure_id == structure.id
        if not (ours or any(step.get("structure_id") == structure.id for step in piece.route or ())):
            continue
        due = terms.get(piece.emitter_party_id, commercial.Term()).due(piece.issue_date)
        days = commercial.days_overdue(due, today, paid=False)
        if days > 0:
            found.append((piece.id, due, days, ours, name))
    found.sort(key=lambda row: (row[1], row[0]))
    return found[:limit]


def old_filter_parties(structure):
    emitted_visible = exists().where(Piece.emitter_party_id == MarcheParty.id, visible_to(structure.id))
    return [tuple(row) for row in db.session.execute(
        select(MarcheParty.id, MarcheParty.name, MarcheParty.role, Marche.reference)
        .join(Marche, Marche.id == MarcheParty.marche_id)
        .where(MarcheParty.role.in_(Role.CONTRACTORS),
               or_(and_(MarcheParty.structure_id == structure.id, MarcheParty.status == "confirmed"),
                   emitted_visible))
        .order_by(Marche.reference, MarcheParty.name, MarcheParty.id))]


# --- A random world ----------------------------------------------------------------------------------------------

def _try(app, who, piece_id, action, when, **inputs) -> bool:
    """The action if the piece allows it now (a random walk meets refusals: they change nothing)."""
    from chorus_chain.operations import OperationError

    try:
        pw.act(app, who, piece_id, action, now=when, **inputs)
        return True
    except OperationError:
        return False


def random_world(app, w, seed: int, pieces: int = 24) -> None:
    rng = random.Random(seed)
    now = utcnow()
    for n in range(pieces):
        age = rng.uniform(0, 40)
        when = now - timedelta(days=age)
        ht = f"{rng.randint(1, 15) * 100}.00"  # within every DC4 ceiling of the world, whatever the draw
        kind = rng.choice(("st1", "st1", "sibling", "st_co", "mandataire", "cotraitant", "private", "draft"))
        number = f"R{seed}-{n:03d}"
        if kind == "draft":
            author, cadre = rng.choice(((w.st1, "A10"), (w.mandataire, "A4")))
            pw.create(app, w, author, cadre, number, now=when, ht=ht)
            continue
        if kind == "private":
            piece_id = pw.deposit(app, w, w.st2, None, number, now=when, ht=ht)
            step = rng.random()
            if step < 0.4:
                _try(app, w.st1, piece_id, "validate", when + timedelta(hours=1))
            elif step < 0.7:
                if _try(app, w.st1, piece_id, "validate_partially", when + timedelta(hours=1),
                        amount=str(int(Decimal(ht) * Decimal("0.8"))), reason="Métré"):
                    _try(app, w.st1, piece_id, "mark_paid", when + timedelta(hours=2),
                         amount=str(int(Decimal(ht) * Decimal("0.8"))), paid_on=(when + timedelta(hours=2)).date()
                         .isoformat())
            continue
        author = {"st1": w.st1, "sibling": w.sibling, "st_co": w.st_co, "mandataire": w.mandataire,
                  "cotraitant": w.cotraitant}[kind]
        cadre = {"mandataire": "A4", "cotraitant": "A13"}.get(kind, "A10")
        piece_id = pw.deposit(app, w, author, cadre, number, now=when, ht=ht)
        step = when + timedelta(hours=1)
        fate = rng.random()
        if fate < 0.15:
            continue  # waits on its validator (or goes tacit at the sweep)
        if fate < 0.25:
            for validator in (w.cotraitant, w.mandataire):
                _try(app, validator, piece_id, "refuse", step, reason="non_conforme", comment="Non réalisé")
            continue
        for validator in (w.cotraitant, w.mandataire):
            if rng.random() < 0.3:
                _try(app, validator, piece_id, "validate_partially", step,
                     amount=str(int(Decimal(ht) * Decimal("0.9"))), reason="Métré")
            else:
                _try(app, validator, piece_id, "validate", step)
        if fate < 0.45:
            continue
        _try(app, w.moe, piece_id, "take", step + timedelta(hours=1))
        if fate < 0.6:
            continue
        # Corrected amounts sometimes: the titulaire's 30 days to contest them (a clock panel).
        _try(app, w.moe, piece_id, "issue_etat_acompte", step + timedelta(hours=2), contest=rng.random() < 0.4)
        if fate < 0.75:
            continue
        _try(app, w.moa, piece_id, "moa_take", step + timedelta(hours=3))
        _try(app, w.moa, piece_id, "moa_validate", step + timedelta(hours=4))
    # A private invoice its contractor has not answered yet: unpaid past its due date in every world.
    pw.deposit(app, w, w.st2, None, f"R{seed}-OPEN", now=now - timedelta(days=1), ht="300.00")
    # The payment term st2 agreed with st1, set after its invoices (their due dates move with it: board_row's
    # private_due, refreshed in the same transaction), « fin de mois » or not, or none (the legal 30 days).
    term = rng.choice(((None, False), (1, False), (10, True), (45, True), (60, False)))
    with pw.system(app):
        party = db.session.get(MarcheParty, w.st2.party_id)
        party.commercial_term_days, party.commercial_term_end_of_month = term
        db.session.commit()
    with pw.system(app):
        from chorus_chain.operations import deadlines as sweep_ops

        sweep_ops.sweep(now=now)


# --- The comparison ------------------------------------------------------------------------------------------------

def shown(row) -> tuple:
    """What the Tableau de bord shows of a listed row (a `Piece` or the read model's `ListedPiece`)."""
    p, clock = row.piece, row.next_deadline
    return (p.id, p.number, p.cadre, p.piece_type, p.status, p.montant_ttc, p.accepted_amount, p.accepted_why,
            p.deposited_at, p.is_draft, row.marche_reference, row.emitter_name, row.emitter_siret,
            (clock.kind, clock.due_at) if clock else None)


def old_shown(piece_ids) -> list[tuple]:
    """`shown` of these pieces, read from the pieces themselves, their marché, emitter and earliest clock
    (`piece_s_clock`)."""
    found = []
    for piece_id in piece_ids:
        piece = db.session.get(Piece, piece_id)
        emitter = db.session.get(Structure, piece.emitter_structure_id)
        clock = next((deadline for deadline in db.session.scalars(
            select(Deadline).where(Deadline.piece_id == piece_id).order_by(Deadline.due_at, Deadline.id))
            if piece_s_clock(deadline, piece)), None)
        found.append(shown(pieces_queries.PieceRow(piece, db.session.get(Marche, piece.marche_id).reference,
                                                   emitter.name, emitter.siret, clock)))
    return found


def _walk(structure, filters, works, key, descending, per_page=4):
    """Every page of the new list, forwards with « apres », then back with « avant »: (ids forwards, pages back)."""
    forwards, pages, after = [], [], None
    while True:
        page = dashboard.piece_list(structure, filters, works, sort=("-" if descending else "") + key, after=after,
                                    per_page=per_page)
        pages.append([row.piece.id for row in page.items])
        forwards += pages[-1]
        if page.after is None:
            break
        after = page.after
    # Back from the last page: each « avant » page is the page before it.
    backwards, before = [pages[-1]], page.before
    while before is not None:
        page = dashboard.piece_list(structure, filters, works, sort=("-" if descending else "") + key, before=before,
                                    per_page=per_page)
        backwards.insert(0, [row.piece.id for row in page.items])
        before = page.before
    return forwards, pages, backwards


def _reference(marche_id: int) -> str:
    return db.session.get(Marche, marche_id).reference


def _compare_money(structure, old_sub, key) -> int:
    """« Montants par entreprise »: the whole list, walked page by page both ways, is the former list; the panel is
    its lines to look at first (ceiling passed, in sight, most to pay) and the others summed, to the cent."""
    lines = {line.party_id: line for line in dashboard.subcontractor_page(structure, per_page=100).lines}
    assert [(line.party_id, line.invoiced, line.validated, line.paid) for line in lines.values()] == old_sub, key
    pages, after = [], None
    while True:
        page = dashboard.subcontractor_page(structure, after=after, per_page=2)
        pages.append([line.party_id for line in page.lines])
        if page.after is None:
            break
        after = page.after
    assert [p for ids in pages for p in ids] == [row[0] for row in old_sub], key
    backwards, before = [pages[-1]], page.before
    while before is not None:
        page = dashboard.subcontractor_page(structure, before=before, per_page=2)
        backwards.insert(0, [line.party_id for line in page.lines])
        before = page.before
    assert backwards == pages, key
    for limit in (1, 2, 100):
        panel = dashboard.subcontractors(structure, limit=limit)
        ranked = sorted(lines.values(), key=lambda line: ({"over": 0, "near": 1}.get(line.ceiling, 2), -line.to_pay,
                                                          line.marche_reference, line.name, line.party_id))
        assert [line.party_id for line in panel.lines] == [line.party_id for line in ranked[:limit]], (key, limit)
        assert panel.total == len(old_sub) and panel.rest.count == max(0, len(old_sub) - limit)
        for figure in ("invoiced", "validated", "paid"):
            shown = sum((getattr(line, figure) for line in panel.lines), Decimal("0"))
            assert shown + getattr(panel.rest, figure) == sum((row[("invoiced", "validated", "paid").index(figure)
                                                               + 1] for row in old_sub), Decimal("0")), (key, figure)
    return 4


@contextmanager
def _history_size(size: int):
    kept = tresorerie.HISTORY_PIECES
    tresorerie.HISTORY_PIECES = size
    try:
        yield
    finally:
        tresorerie.HISTORY_PIECES = kept


def compare(app, w) -> int:
    """Asserts old == new for every structure, scope and filter; returns the number of comparisons made."""
    compared = 0
    clocks_seen = {name: 0 for name in CLOCK_PANELS}
    overdue_seen = 0
    with pw.system(app):
        marche_ids = [w.marche_id]
        parties = list(db.session.scalars(select(MarcheParty.id).where(MarcheParty.marche_id == w.marche_id)))
        numbers = [n for n in db.session.scalars(select(Piece.number_key).order_by(Piece.id))]
        days = sorted({d.date() for d in db.session.scalars(select(Piece.deposited_at)) if d})
    # The start of every number, of many, of a few (lower case too), the whole number; nothing.
    fragments = [numbers[0][:5], numbers[-1], numbers[0][:3], numbers[-1][:-1].lower(), "ZZZ"]
    filter_sets = [dashboard.Filters()] + [dashboard.Filters(marche_id=m) for m in marche_ids] \
        + [dashboard.Filters(party_id=p) for p in parties] \
        + [dashboard.Filters(cadre=c) for c in ("A10", "A4", "A13", "")] \
        + [dashboard.Filters(cadre=c, status=s) for c in ("A10", "")
           for s in ("A_VALIDER_1", "A_ASSOCIER_MOE", "TRANSMISE_CONTRACTANT")] \
        + [dashboard.Filters(status=s.value) for s in Status] \
        + [dashboard.Filters(number=f) for f in fragments]
    if days:
        filter_sets += [dashboard.Filters(deposited_from=days[len(days) // 2]),
                        dashboard.Filters(deposited_to=days[len(days) // 2], cadre="A10"),
                        dashboard.Filters(deposited_from=days[0], deposited_to=days[-1], number=fragments[2])]
    for key in ACTORS:
        who = getattr(w, key)
        with pw.acting(app, who) as (_, structure):
            for works in (None, True, False):
                # The Synthèse's work list and the waiting panels: the "à traiter" box, same order, same count —
                # the panels also read all together, in one statement (`lists.waiting_panels`), whole and cut.
                together = {size: lists.waiting_panels(structure.id, WAITING_PANELS, works=works, per_page=size)
                            for size in (100, 2)}
                for wanted in (None, dashboard.VALIDATION_WAITING, dashboard.MOE_TO_TAKE, dashboard.MOE_TO_ISSUE,
                               dashboard.MOA_TO_VALIDATE, dashboard.PAYMENT_TO_PROCESS):
                    old = pieces_for(structure, box="a_traiter", works=works, status=list(wanted) if wanted else None,
                                     per_page=100)
                    new = dashboard.work_list(structure, works=works, status=list(wanted) if wanted else None,
                                              per_page=100).page
                    assert [r.piece.id for r in new.items] == [r.piece.id for r in old.items], (key, works, wanted)
                    assert new.total == old.total
                    # The next clock as the row shows it (kind, due instant): the Synthèse reads it from the
                    # read model's row (synthese.reading), the box from the piece's open deadlines.
                    assert [(r.marche_reference, r.emitter_name, r.emitter_siret,
                             (r.next_deadline.kind, r.next_deadline.due_at) if r.next_deadline else None)
                            for r in new.items] == \
                        [(r.marche_reference, r.emitter_name, r.emitter_siret,
                          (r.next_deadline.kind, r.next_deadline.due_at) if r.next_deadline else None)
                         for r in old.items]
                    compared += 1
                    if wanted is None:
                        continue
                    name = next(name for name, statuses in WAITING_PANELS.items() if statuses == wanted)
                    for size, panels in together.items():
                        panel = panels[name]
                        assert panel.total == old.total, (key, works, name)
                        # Plain rows: the board row's copy of what the panel shows, and of the next clock.
                        assert [shown(r) for r in panel.items] == [shown(r) for r in old.items[:size]], \
                            (key, works, name, size)
                    compared += 1
                # The counts and amounts, by status and by marché, for each filter.
                for filters in filter_sets:
                    old_status, old_marche = old_overview(structure, filters, works)
                    new = dashboard.overview(structure, filters, works)
                    assert new.more_than is None
                    assert {r.status: (r.count, r.amount_ttc) for r in new.by_status} == old_status, \
                        (key, works, filters)
                    # « Par marché »: the marchés with the most under way (then the most pieces, the newest), at
                    # most CARD_LINES, each as the pieces say; the others summed.
                    ranked = sorted(old_marche, key=lambda m: (-old_marche[m][4], -old_marche[m][1], -m))
                    shown_ids = ranked[:marches.CARD_LINES]
                    assert [(r.marche_id, r.reference, r.count, r.amount_ttc, r.paid, r.waiting)
                            for r in new.by_marche] == [(m, *old_marche[m]) for m in shown_ids], \
                        (key, works, filters)
                    rest = [old_marche[m] for m in ranked[marches.CARD_LINES:]]
                    assert new.other_marches == marches.OtherMarches(
                        len(rest), sum(r[1] for r in rest), sum((r[2] for r in rest), Decimal("0.00")),
                        sum((r[3] for r in rest), Decimal("0.00")), sum(r[4] for r in rest)), (key, works, filters)
                    if filters == dashboard.Filters():
                        # The whole list, by reference, page by page.
                        walked, after = [], None
                        while True:
                            page = dashboard.marche_page(structure, works, after=after, per_page=1)
                            walked += [(r.marche_id, r.reference, r.count, r.amount_ttc, r.paid, r.waiting)
                                       for r in page.lines]
                            if not page.after:
                                break
                            after = page.after
                        assert walked == sorted(((m, *v) for m, v in old_marche.items()),
                                                key=lambda row: (row[1], row[0])), (key, works)
                        # And back from the last page by the « avant » cursors, down to the first.
                        back, before = [], page.before
                        while before:
                            page = dashboard.marche_page(structure, works, before=before, per_page=1)
                            back += [r.marche_id for r in reversed(page.lines)]
                            before = page.before
                        assert back == [row[0] for row in walked[-2::-1]], (key, works)
                    compared += 1
                # The list: every sort, both directions, walked by the cursors.
                for filters in (dashboard.Filters(), dashboard.Filters(cadre="A10"),
                                dashboard.Filters(number=fragments[0])):
                    for sort_key in dashboard.SORTS:
                        for descending in (False, True):
                            expected = old_list(structure, filters, works, sort_key, descending)
                            forwards, pages, backwards = _walk(structure, filters, works, sort_key, descending)
                            assert forwards == expected, (key, works, filters, sort_key, descending)
                            if sort_key == "date" and descending:  # what each row shows: the piece's own figures
                                page = dashboard.piece_list(structure, filters, works, sort="-date", per_page=100)
                                assert [shown(r) for r in page.items] == old_shown(expected[:100]), (key, works)
                            assert backwards == pages, (key, works, filters, sort_key, descending)
                            compared += 1
                # The panels.
                new_tacit = [(r.piece_id, r.number, r.emitter_name, r.marche_reference, r.amount_ttc, r.at)
                             for r in dashboard.tacit_validations(structure, works, limit=100)]
                assert new_tacit == old_tacit(structure, works), (key, works)
                # Read with the waiting panels (the Tableau de bord's one statement), whole and cut: the same
                # tacit rows, and the same panels as read without them.
                for size in (100, 2):
                    read = lists.panels_read(structure.id, WAITING_PANELS, works=works, per_page=size, tacit=True)
                    assert read.tacit == old_tacit(structure, works)[:size], (key, works, size)
                    alone = lists.waiting_panels(structure.id, WAITING_PANELS, works=works, per_page=size)
                    assert {name: ([r.piece.id for r in page.items], page.total, page.more_than)
                            for name, page in read.pages.items()} == {
                        name: ([r.piece.id for r in page.items], page.total, page.more_than)
                        for name, page in alone.items()}, (key, works, size)
                tracked = [t.piece.id for t in dashboard.payment_tracker(structure, works, limit=100)]
                assert tracked == old_tracker(structure, works), (key, works)
                for name, panel in CLOCK_PANELS.items():
                    rows, total, more_than = dashboard.open_clocks(structure, name, works, limit=100)
                    expected = old_open_clocks(structure, panel.kind, panel.roles, works)
                    assert [(r.piece.id, r.marche.id, r.emitter_name, r.deadline.id) for r in rows] == expected, \
                        (key, works, name)
                    assert (total, more_than) == (len(expected), None)
                    clocks_seen[name] += len(expected)
                    short, short_total, _ = dashboard.open_clocks(structure, name, works, limit=2)
                    assert [r.deadline.id for r in short] == [row[3] for row in expected[:2]]
                    assert short_total == len(expected)
                    # Read with its part's interest panel, in one statement (the Tableau de bord's): the same.
                    for size in (100, 2):
                        together, _ = dashboard.clocks_and_interest(structure, name, PAIRED_INTEREST[name], works,
                                                                    size)
                        assert together == dashboard.open_clocks(structure, name, works, limit=size), (key, name)
                compared += 4
            old_sub = [(p, Decimal(i), Decimal(v), Decimal(paid)) for p, i, v, paid in old_subcontractors(structure)]
            compared += _compare_money(structure, old_sub, key)
            offered = dashboard.filter_parties(structure)
            assert offered.complete and offered.parties == old_filter_parties(structure), key
            for marche_id in marche_ids:
                assert dashboard.filter_parties(structure, marche_id).parties == [
                    p for p in old_filter_parties(structure) if p[3] == _reference(marche_id)], key
            # The private invoices unpaid past their due date (today, and two months on: all of them).
            today = utcnow().date()
            for day in (today, today + timedelta(days=60)):
                found = [(o.piece.id, o.due, o.days, o.owed_to_us, o.emitter_name)
                         for o in private_overdue.overdue_for(structure, day, limit=100)]
                assert found == old_overdue(structure, day), (key, day)
                overdue_seen += len(found)
                compared += 1
            # The Trésorerie's habits (and the tracker's): learnt from the same pieces, hence the same figures.
            for size in (tresorerie.HISTORY_PIECES, 5):  # the whole small world, then its five most recent
                with _history_size(size):
                    sample = set(db.session.scalars(select(Piece.id).where(
                        *tresorerie.history_pieces(structure.id, today))))
                    assert sample == old_history(structure, today), (key, size)
                compared += 1
    # The world had clocks in both panels (else the comparison proved nothing about them).
    assert all(clocks_seen.values()) and overdue_seen, (clocks_seen, overdue_seen)
    return compared


@pytest.fixture
def w(app, db):
    return pw.world(app)


@pytest.mark.parametrize("seed, card_lines", [(20, None), (2026, 0)])
def test_the_read_model_answers_what_the_pieces_answer(app, w, seed, card_lines, monkeypatch):
    if card_lines is not None:  # « Par marché » shows no marché: every one is summed in « N autres marchés »
        monkeypatch.setattr(marches, "CARD_LINES", card_lines)
    random_world(app, w, seed)
    with pw.system(app):
        assert db.session.scalar(select(func.count()).select_from(Piece)) > 10
    assert compare(app, w) > 1000


def test_a_count_beyond_the_cap_says_more_than_and_sums_nothing(app, w, monkeypatch):
    for n in range(5):
        pw.deposit(app, w, w.st1, "A10", f"CAP-{n}", now=utcnow() - timedelta(days=n))
    monkeypatch.setattr(counts, "CAP", 3)
    with pw.acting(app, w.mandataire) as (_, structure):
        capped = dashboard.overview(structure, dashboard.Filters(number="CAP"), None)
        assert capped.more_than == 3 and capped.by_status == [] and capped.total is None
        page = dashboard.piece_list(structure, dashboard.Filters(number="CAP"), None, per_page=2, counted=capped)
        assert page.more_than == 3 and len(page.items) == 2 and page.after
        # The rollups count exactly whatever their size (no period, no number).
        assert dashboard.overview(structure, dashboard.Filters(), None).total == 5
        narrowed = dashboard.overview(structure, dashboard.Filters(number="CAP-1"), None)
        assert narrowed.more_than is None and narrowed.total == 1


def test_the_waiting_counts_say_more_than_beyond_the_cap_and_the_synthese_pages_go_on(app, w, monkeypatch):
    """The waiting panels' and the Synthèse's counts read at most CAP + 1 rows: exact up to CAP, « plus de CAP »
    beyond; the Synthèse's pages still go on past the cap, to the last row, in the box's order."""
    for n in range(5):  # five A10 of the sous-traitant waiting on the mandataire's validation
        pw.deposit(app, w, w.st1, "A10", f"WAIT-{n}", now=utcnow() - timedelta(days=n))
    validations = {"validations": dashboard.VALIDATION_WAITING}
    with pw.acting(app, w.mandataire) as (_, structure):
        expected = [r.piece.id for r in pieces_for(structure, box="a_traiter", per_page=100).items]
        assert len(expected) == 5
        for cap in (5, 10):  # at or below the cap: exact, as before
            monkeypatch.setattr(counts, "CAP", cap)
            panel = lists.waiting_panels(structure.id, validations, per_page=2)["validations"]
            assert (panel.total, panel.more_than, len(panel.items)) == (5, None, 2)
            work = dashboard.work_list(structure, works=None, per_page=2).page
            assert (work.total, work.more_than, work.pages) == (5, None, 3)
            alone = lists.waiting_page(structure.id, statuses=list(dashboard.VALIDATION_WAITING), per_page=2)
            assert (alone.total, alone.more_than) == (5, None)
        monkeypatch.setattr(counts, "CAP", 3)
        panel = lists.waiting_panels(structure.id, validations, per_page=2)["validations"]
        assert panel.more_than == 3 and [r.piece.id for r in panel.items] == expected[:2]
        assert lists.waiting_page(structure.id, statuses=list(dashboard.VALIDATION_WAITING), per_page=2).more_than == 3
        walked, page = [], 1
        while True:  # « page suivante » while the page says there is one
            work = dashboard.work_list(structure, works=None, page=page, per_page=2).page
            walked += [r.piece.id for r in work.items]
            if page < 3:
                assert work.more_than == 3 and work.pages > page, page
            else:  # the last page read one past the cap anyway: exact there
                assert (work.more_than, work.total, work.pages) == (None, 5, 3)
            if page >= work.pages:
                break
            page += 1
        assert walked == expected and page == 3
        # An old link past the last page: the count alone, capped as well.
        past = dashboard.work_list(structure, works=None, page=9, per_page=2).page
        assert past.items == [] and past.total == 5 and past.more_than is None
    # The pages say it, in the page's own words (pages of two rows: a page reads one past itself anyway).
    monkeypatch.setattr(dashboard_views, "WORK_PER_PAGE", 2)
    monkeypatch.setattr(dashboard, "PANEL_SIZE", 2)
    client = pw.logged_in(app, w.mandataire)
    synthese = html.unescape(client.get(f"/s/{w.mandataire.siret}/synthese").get_data(as_text=True))
    assert "Plus de 3 pièces à traiter — page 1 (" in synthese or "Plus de 3 pièces à traiter — page 1<" in synthese
    assert "Page 1</span>" in synthese and 'rel="next"' in synthese
    last = html.unescape(client.get(f"/s/{w.mandataire.siret}/synthese?page=3").get_data(as_text=True))
    assert "5 pièces à traiter — page 3 sur 3" in last and "Page 3 sur 3</span>" in last and 'rel="next"' not in last
    board = html.unescape(client.get(f"/s/{w.mandataire.siret}/tableau-de-bord").get_data(as_text=True))
    assert "Plus de 3 pièces dans la synthèse" in board and "Les 5 pièces" not in board
    monkeypatch.setattr(counts, "CAP", 5)
    board = html.unescape(client.get(f"/s/{w.mandataire.siret}/tableau-de-bord").get_data(as_text=True))
    assert "Les 5 pièces dans la synthèse" in board and "Plus de" not in board.split("Les 5 pièces")[0][-200:]


def test_the_clock_panels_count_says_more_than_beyond_the_cap(app, w, monkeypatch):
    """The clock panels' count reads at most CAP + 1 entries of the panel's index: exact up to CAP, « plus de CAP »
    beyond, the rows shown the same; the page says it in its words."""
    for n in range(4):  # four état-bound A10 of the sous-traitant, each with the MOE's corrections to contest
        piece_id = pw.deposit(app, w, w.st1, "A10", f"CLK-{n}", now=utcnow() - timedelta(days=n))
        for validator in (w.cotraitant, w.mandataire):
            _try(app, validator, piece_id, "validate", utcnow())
        _try(app, w.moe, piece_id, "take", utcnow())
        _try(app, w.moe, piece_id, "issue_etat_acompte", utcnow(), contest=True)
    with pw.acting(app, w.moe) as (_, structure):
        expected = old_open_clocks(structure, CLOCK_PANELS["corrections"].kind, CLOCK_PANELS["corrections"].roles,
                                   None)
        assert len(expected) == 4
        monkeypatch.setattr(counts, "CAP", 4)  # at the cap: exact
        rows, total, more_than = dashboard.open_clocks(structure, "corrections", None, limit=2)
        assert (total, more_than) == (4, None) and [r.deadline.id for r in rows] == [e[3] for e in expected[:2]]
        monkeypatch.setattr(counts, "CAP", 3)  # beyond: « plus de 3 », the same rows
        rows, total, more_than = dashboard.open_clocks(structure, "corrections", None, limit=2)
        assert more_than == 3 and [r.deadline.id for r in rows] == [e[3] for e in expected[:2]]
    monkeypatch.setattr(dashboard, "PANEL_SIZE", 2)
    client = pw.logged_in(app, w.moe)
    board = html.unescape(client.get(f"/s/{w.moe.siret}/tableau-de-bord").get_data(as_text=True))
    assert "Et d'autres : plus de 3 en tout." in board
    monkeypatch.setattr(counts, "CAP", 1000)
    board = html.unescape(client.get(f"/s/{w.moe.siret}/tableau-de-bord").get_data(as_text=True))
    assert "Et 2 autre(s)." in board and "plus de 3" not in board


@pytest.mark.parametrize("code_points", [True, False])
def test_the_number_search_matches_the_start_of_the_number(app, w, monkeypatch, code_points):
    """`code_points` False: the range compared COLLATE "C", as in a database of a linguistic collation
    (test_board_number_collation): the same pieces, through the same lists and counts."""
    monkeypatch.setattr(dashboard, "_number_order", lambda: code_points)
    for number in ("7", "71", "F-77", "F_7", "FX7"):
        pw.deposit(app, w, w.st1, "A10", number)
    with pw.acting(app, w.st1) as (_, structure):
        short = dashboard.piece_list(structure, dashboard.Filters(number=" 7"), None, sort="numero")
        assert [r.piece.number for r in short.items] == ["7", "71"]
        longer = dashboard.piece_list(structure, dashboard.Filters(number="f-7"), None)
        assert [r.piece.number for r in longer.items] == ["F-77"]
        # Its end or its middle is not its start (« contains » could not be served by an index under RLS).
        assert dashboard.overview(structure, dashboard.Filters(number="-77"), None).total == 0
        assert dashboard.overview(structure, dashboard.Filters(number="77"), None).total == 0
        # LIKE's wildcard typed (« _ », which a number may hold) is a character, not a wildcard.
        for typed, found in (("F_", ["F_7"]), ("F", ["F-77", "FX7", "F_7"])):
            page = dashboard.piece_list(structure, dashboard.Filters(number=typed), None, sort="numero")
            assert [r.piece.number for r in page.items] == found, typed


def test_a_number_range_ends_where_the_prefix_does():
    from chorus_chain.operations.board_reading import numbers

    assert numbers.successor("ST-2") == "ST-3"
    assert numbers.successor("F9") == "F:"
    assert numbers.successor("A\ud7ff") == "A\ue000"  # the surrogates are no characters
    assert numbers.successor("") is None and numbers.successor("A\U0010ffff") is None


def test_the_filter_offers_a_bounded_list_of_companies(app, w, monkeypatch):
    """Beyond OFFER_MAX companies the select offers those of the marché chosen, or only the company already chosen
    — when the structure may see it (never a sibling typed in the URL)."""
    from chorus_chain.operations.board_reading import parties

    pw.deposit(app, w, w.st1, "A10", "OFF-1")
    pw.deposit(app, w, w.sibling, "A10", "OFF-2")
    with pw.acting(app, w.mandataire) as (_, structure):
        every = dashboard.filter_parties(structure)
        assert every.complete and {w.st1.party_id, w.sibling.party_id} <= {p[0] for p in every.parties}
        monkeypatch.setattr(parties, "OFFER_MAX", 1)
        bounded = dashboard.filter_parties(structure)
        assert not bounded.complete and bounded.parties == []
        assert dashboard.filter_parties(structure, chosen=w.sibling.party_id).parties == [
            p for p in every.parties if p[0] == w.sibling.party_id]
        assert dashboard.filter_parties(structure, w.marche_id).parties == every.parties
    monkeypatch.setattr(parties, "OFFER_MAX", 0)
    with pw.acting(app, w.st1) as (_, structure):
        assert not dashboard.filter_parties(structure).complete
        assert dashboard.filter_parties(structure, chosen=w.sibling.party_id).parties == []
        assert [p[0] for p in dashboard.filter_parties(structure, chosen=w.st1.party_id).parties] == [w.st1.party_id]


def test_the_holders_money_panel_shows_the_lines_to_look_at_first_and_sums_the_others(app, w):
    """« Montants par entreprise » bounded: a DC4 ceiling passed first, then one in sight, then the most validated
    and not yet paid; the others summed — shown + rest = the engine's totals of every company under the holder."""
    near = pw.deposit(app, w, w.st1, "A10", "MON-1", ht="90000.00")  # 94 % of st1's DC4 (96 000 €, autoliquidation)
    sibling = pw.deposit(app, w, w.sibling, "A10", "MON-2", ht="1000.00")
    pw.act(app, w.mandataire, sibling, "validate")
    with pw.acting(app, w.mandataire) as (_, structure):
        whole = dashboard.subcontractor_page(structure).lines
        panel = dashboard.subcontractors(structure, limit=2)
        assert len(whole) > 2 and panel.total == len(whole) and panel.rest.count == len(whole) - 2
        assert panel.lines[0].party_id == w.st1.party_id and panel.lines[0].ceiling == "near"
        assert panel.lines[1].party_id == w.sibling.party_id and panel.lines[1].to_pay > 0
        for figure in ("invoiced", "validated", "paid"):
            assert sum(getattr(line, figure) for line in panel.lines) + getattr(panel.rest, figure) == \
                sum(getattr(line, figure) for line in whole)
    assert near


def test_a_cursor_from_a_hand_edited_url_starts_at_the_top(app, w):
    for n in range(3):
        pw.deposit(app, w, w.st1, "A10", f"CUR-{n}", now=utcnow() - timedelta(days=n))
    with pw.acting(app, w.st1) as (_, structure):
        top = dashboard.piece_list(structure, dashboard.Filters(), None, per_page=2)
        for garbage in ("nope", "e30", "WyJ4IiwxXQ", "W251bGwsMV0"):
            page = dashboard.piece_list(structure, dashboard.Filters(), None, per_page=2, after=garbage)
            assert [r.piece.id for r in page.items] == [r.piece.id for r in top.items] and page.before is None


def test_every_read_of_the_list_gives_the_former_list_on_every_filter_and_sort(app, w, monkeypatch):
    """The list's keys read through the sort's index (WALK), as the filtered rows sorted (FILTERED: what
    `dashboard.page_read` picks for a filter without an index in the sort's order and at most CAP rows) or as the
    structure's rows sifted (SIFTED, beyond CAP: a page found among the first `sift_rows` rows of the sort, else
    FILTERED — both ways taken here, with three (a page, at least) and CAP rows sifted) give the same pages, walked both ways, as
    the former query on the pieces — whatever `page_read` would pick."""
    days = [utcnow() - timedelta(days=n) for n in range(5)]
    for n, day in enumerate(days):
        pw.deposit(app, w, w.st1, "A10", f"RD-{n}", ht=f"{100 + 7 * (n % 3)}.00", now=day)
    refused = pw.deposit(app, w, w.st1, "A10", "RD-X", now=days[2])
    pw.act(app, w.mandataire, refused, "validate")
    with pw.acting(app, w.mandataire) as (_, structure):
        seen = old_list(structure, dashboard.Filters(), None, "date", True)
        marche_id = db.session.get(Piece, seen[0]).marche_id
        statuses_seen = {db.session.get(Piece, piece_id).status for piece_id in seen}
        filter_sets = [dashboard.Filters(marche_id=marche_id), dashboard.Filters(party_id=w.st1.party_id)] \
            + [dashboard.Filters(status=s) for s in sorted(statuses_seen)]
        compared = 0
        for filters in filter_sets:
            for sort_key in dashboard.SORTS:
                for descending in (False, True):
                    expected = old_list(structure, filters, None, sort_key, descending)
                    for read in (lists.WALK, lists.FILTERED):
                        walked = _walk_read(structure, filters, sort_key, descending, read)
                        assert walked == expected, (filters, sort_key, descending, read)
                    for sift_rows in (3, counts.CAP):  # three: a page of two and the next row
                        monkeypatch.setattr(lists, "SIFT_ROWS", sift_rows)
                        walked = _walk_read(structure, filters, sort_key, descending, lists.SIFTED)
                        assert walked == expected, (filters, sort_key, descending, sift_rows)
                    compared += 1
        assert compared == len(filter_sets) * len(dashboard.SORTS) * 2 and len(statuses_seen) >= 2


def _walk_read(structure, filters, sort_key, descending, read, per_page=2) -> list[int]:
    """Every page of the list read as `read` says, forwards by « apres », then checked backwards by « avant »."""
    conditions, params = dashboard.bound_scope(structure, filters, None)
    pages, after = [], None
    while True:
        page = lists.board_page(structure.id, conditions, sort_key, descending, after=after, per_page=per_page,
                                params=params, read=read)
        pages.append([row.piece.id for row in page.items])
        if page.after is None:
            break
        after = page.after
    backwards, before = [pages[-1]], page.before
    while before is not None:
        page = lists.board_page(structure.id, conditions, sort_key, descending, before=before, per_page=per_page,
                                params=params, read=read)
        backwards.insert(0, [row.piece.id for row in page.items])
        before = page.before
    assert backwards == pages
    return [piece_id for ids in pages for piece_id in ids]


def test_the_filtered_reads_run_statements_built_once_whatever_the_values(app, w, monkeypatch):
    """The Tableau de bord's filtered overview and list run the same statement objects for the same filters with
    other values — built once per process and shape of the filters, the values bound (building a statement, its
    tenant's criteria and its cache key on every request cost more CPU than running it: bench/page_cpu.py) — and
    each answers for its own values, as the former queries on the pieces."""
    from sqlalchemy.orm import Session

    days = [utcnow() - timedelta(days=d) for d in (30, 20, 10)]
    for n, when in enumerate(days):
        pw.deposit(app, w, w.st1, "A10", f"BO{n}-1", now=when)
        pw.deposit(app, w, w.st1, "A10", f"BO{n}-2", now=when)
    executed = []
    execute = Session.execute
    monkeypatch.setattr(Session, "execute", lambda self, statement, *a, **k: executed.append(statement)
                        or execute(self, statement, *a, **k))
    with pw.acting(app, w.mandataire) as (_, structure):
        statuses_seen = sorted({db.session.get(Piece, piece_id).status
                                for piece_id in old_list(structure, dashboard.Filters(), None, "date", True)})
        shapes = [[dashboard.Filters(number=f"BO{n}") for n in range(3)],
                  [dashboard.Filters(deposited_from=day.date(), deposited_to=day.date()) for day in days],
                  [dashboard.Filters(status=status) for status in statuses_seen],
                  [dashboard.Filters(party_id=w.st1.party_id, status=status) for status in statuses_seen]]
        for filter_sets in shapes:
            statements = []
            for filters in filter_sets:
                executed.clear()
                overview = dashboard.overview(structure, filters, None)
                page = dashboard.piece_list(structure, filters, None, sort="-date", counted=overview)
                statements.append([id(statement) for statement in executed])
                expected = old_list(structure, filters, None, "date", True)
                assert [row.piece.id for row in page.items] == expected and overview.total == len(expected)
            assert all(ids == statements[0] for ids in statements), filter_sets
    assert len(shapes[0]) == 3 and len(statuses_seen) >= 1
