"""The Tableau de bord's interest panels (« Intérêts moratoires à payer », « … qui vous sont dus ») read through the
read model (issue 20: board_row's first unpaid interest clock per piece and panel, `interets.reading.unpaid_for`)
answer what the former query on the source tables answered — every unpaid interest clock the structure sees in one
of the panel's parts, earliest due first — for every structure of the world, with and without the `works` scope,
at each step: running, lapsed at the sweep, paid (after it lapsed: only the payment changes, not the clock); and
the read model stays what `flask board recompute --check` recomputes."""
from __future__ import annotations

from sqlalchemy import exists, or_

from chorus_chain.access import visible_to
from chorus_chain.extensions import db
from chorus_chain.models import Deadline, Piece, PieceAccess
from chorus_chain.models.etat_pieces import LinePayment
from chorus_chain.operations import board, dashboard
from chorus_chain.operations.board_reading import counts
from chorus_chain.operations.interets import reading as interets_reading
from chorus_chain.operations.pieces_records import roles_text
from tests.integration.etat_pieces_world import at, pay
from tests.integration.pieces_world import acting, rows, system
from tests.integration.test_interets import _interest_paid, _validated_may
from tests.integration.test_pieces_deadlines import sweep

PANEL_ROLES = {interets_reading.TO_PAY: ("moa", "paiement"), interets_reading.OWED: ("emitter", "titulaire")}
# The clock panel each interest panel is read with on the Tableau de bord (`dashboard.clocks_and_interest`).
PAIRED = {interets_reading.TO_PAY: "payment", interets_reading.OWED: "corrections"}
ACTORS = ("moa", "moe", "mandataire", "cotraitant", "st1", "sibling", "st_co", "st2")


def old_unpaid_for(structure, roles, works=None) -> list[int]:
    """The former query (before the read model carried the interest clocks): every unpaid interest clock joined to
    the pieces the structure sees with one of `roles` on its access row, earliest due first."""
    as_role = exists().where(PieceAccess.piece_id == Piece.id, PieceAccess.structure_id == structure.id,
                             or_(*[PieceAccess.roles.like(f"%{roles_text([role])}%") for role in roles]))
    conditions = [LinePayment.interest_paid_on.is_(None), as_role, visible_to(structure.id)]
    if works is not None:
        conditions.append(Piece.works.is_(works))
    return [row[0].id for row in db.session.execute(
        interets_reading._base().add_columns(Piece).join(Piece, Piece.id == Deadline.piece_id).where(*conditions)
        .order_by(Deadline.due_at, Deadline.id))]


def same_as_before(app, w) -> int:
    """Compare both readings for every structure, panel, scope and a short and a long panel; the clocks seen."""
    seen = 0
    for name in ACTORS:
        with acting(app, getattr(w, name)) as (_, structure):
            for panel, roles in PANEL_ROLES.items():
                for works in (None, True, False):
                    expected = old_unpaid_for(structure, roles, works)
                    for limit in (1, 8):
                        found, total, more_than = interets_reading.unpaid_for(structure, panel, works, limit)
                        assert [due.deadline.id for due in found] == expected[:limit], (name, panel, works, limit)
                        assert (total, more_than) == (len(expected), None), (name, panel, works)
                        assert all(due.piece is not None and due.marche is not None for due in found)
                        # Read with its part's clock panel, in one statement (the Tableau de bord's): the same.
                        clocks, interest = dashboard.clocks_and_interest(structure, PAIRED[panel], panel, works, limit)
                        assert interest == (found, total, more_than), (name, panel, works, limit)
                        assert clocks == dashboard.open_clocks(structure, PAIRED[panel], works, limit), (name, panel)
                    seen += len(expected) if works is None else 0
    with system(app):
        assert board.recompute(check=True).total == 0
    return seen


def test_the_interest_panels_read_what_the_former_query_read(app, db, monkeypatch):
    w, pdm, etat_id, lines = _validated_may(app)
    st1, st_co = lines[w.st1.name], lines[w.st_co.name]
    # st1's line (due 19 June) paid in two late parts: two clocks on its projet; st_co's (due 20 June) late: one.
    pay(app, w, etat_id, st1.id, service_fait="2026-06-01", mandat="2026-06-05", amount="2000.00",
        paid_on="2026-06-22")
    pay(app, w, etat_id, st1.id, amount="2560.00", paid_on="2026-06-29")
    pay(app, w, etat_id, st_co.id, service_fait="2026-06-02", mandat="2026-06-30", amount="5130.00",
        paid_on="2026-07-06")
    assert len(rows(app, Deadline, Deadline.kind == "interets_moratoires")) == 3
    assert same_as_before(app, w) > 0
    # The first of st1's clocks lapses (6 August): still owed, still listed.
    sweep(app, at("2026-08-07"))
    lapsed = rows(app, Deadline, Deadline.kind == "interets_moratoires", order_by=Deadline.due_at)[0]
    assert lapsed.done_at is not None
    assert same_as_before(app, w) > 0
    # Paid after it lapsed: the payment changes, its clock does not — the panels drop it all the same.
    [first, _second] = rows(app, LinePayment, LinePayment.line_id == st1.id, order_by=LinePayment.id)
    _interest_paid(app, w, etat_id, st1.id, first.id, "2026-08-10", at("2026-08-10"))
    with acting(app, w.moa) as (_, structure):
        found, total, _ = interets_reading.unpaid_for(structure, interets_reading.TO_PAY, None, 8)
        assert lapsed.id not in [due.deadline.id for due in found] and total == 2
    assert same_as_before(app, w) > 0
    # Beyond the cap (pieces owing interest): « plus de CAP », the rows the same.
    monkeypatch.setattr(counts, "CAP", 1)
    with acting(app, w.moa) as (_, structure):
        expected = old_unpaid_for(structure, PANEL_ROLES[interets_reading.TO_PAY])
        found, _total, more_than = interets_reading.unpaid_for(structure, interets_reading.TO_PAY, None, 1)
        assert more_than == 1 and [due.deadline.id for due in found] == expected[:1]
        _, together = dashboard.clocks_and_interest(structure, "payment", interets_reading.TO_PAY, None, 1)
        assert together == (found, _total, more_than)
