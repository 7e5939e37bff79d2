"""« Montants par entreprise » read from its own read model (issue 20, `operations.board.money`): a line per company
under the structure's parties, folded by the compaction, the deltas not folded yet added at read — the panel's
lines and totals are those the companies' rollup gives, whatever is folded, and its statement reads neither the
parties nor the rollup (its rows bounded by the lines it shows, not by the structure's companies)."""
from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import event, insert, select

from chorus_chain import access
from chorus_chain.extensions import db
from chorus_chain.models import BoardMoneyDelta, BoardMoneyLine, BoardPartyCount, MarcheParty
from chorus_chain.operations import board
from chorus_chain.operations.board import money
from chorus_chain.operations.board_reading import parties
from tests.integration import pieces_world as pw

NEW = 10  # companies added under the mandataire: 13 lines with its co-traitant and its two sous-traitants


@pytest.fixture
def w(app, db):
    w = pw.world(app)
    with app.app_context():
        mandataire = db.session.get(MarcheParty, w.mandataire.party_id)
        for index in range(NEW):
            db.session.add(MarcheParty(marche_id=w.marche_id, structure_id=None, siret=f"{90000000000000 + index}",
                                       name=f"Entreprise {index:02d}", role="sous_traitant",
                                       parent_id=mandataire.id, montant_ttc=Decimal(1000 * (index + 1)),
                                       status="confirmed"))
        db.session.commit()  # the session hook writes their lines (`money.refresh_lines`)
    return w


def _ranked(lines: dict[int, list], limit: int):
    """The panel computed by hand: party → [accepted, reference, name, invoiced, validated, paid]."""
    order = sorted(lines, key=lambda party: (money.attention(lines[party][0], lines[party][3]),
                                             -(lines[party][4] - lines[party][5]), lines[party][1], lines[party][2],
                                             party))
    shown = [(party, *lines[party][3:]) for party in order[:limit]]
    rest = [sum((lines[party][index] for party in order[limit:]), Decimal(0)) for index in (3, 4, 5)]
    return shown, (len(order) - len(shown), *rest)


def _from_rollup(structure_id: int) -> dict[int, list]:
    """Each company under the structure's parties with board_party_count's sums (what the panel read before)."""
    found = {}
    for row in db.session.execute(money.members(party_ids=None)):
        if row.structure_id != structure_id:
            continue
        sums = db.session.execute(select(BoardPartyCount.sent_ttc, BoardPartyCount.validated_ttc, BoardPartyCount.paid)
                                  .where(BoardPartyCount.structure_id == structure_id,
                                         BoardPartyCount.marche_id == row.marche_id,
                                         BoardPartyCount.emitter_party_id == row.party_id)).all()
        found[row.party_id] = [row.accepted, row.reference, row.name,
                               *(sum((Decimal(s[index]) for s in sums), Decimal(0)) for index in range(3))]
    return found


def _from_lines(structure_id: int) -> dict[int, list]:
    """The stored lines with the deltas not folded yet, added by hand."""
    found = {line.party_id: [line.accepted, line.reference, line.name, line.invoiced, line.validated, line.paid]
             for line in db.session.scalars(select(BoardMoneyLine).where(BoardMoneyLine.structure_id == structure_id))}
    for delta in db.session.scalars(select(BoardMoneyDelta).where(BoardMoneyDelta.structure_id == structure_id)):
        if delta.emitter_party_id in found:
            for index, value in ((3, delta.sent_ttc), (4, delta.validated_ttc), (5, delta.paid)):
                found[delta.emitter_party_id][index] += value
    return found


def _panel(structure_id: int, limit: int):
    panel = parties.money_lines(structure_id, limit)
    rest = panel.rest
    return ([(line.party_id, line.invoiced, line.validated, line.paid) for line in panel.lines],
            (rest.count, rest.invoiced, rest.validated, rest.paid))


def test_the_panel_ranks_its_lines_with_the_deltas_not_folded_yet(app, w):
    sibling = pw.deposit(app, w, w.sibling, "A10", "MON-1", ht="1000.00")
    pw.act(app, w.mandataire, sibling, "validate")
    pw.deposit(app, w, w.st1, "A10", "MON-2", ht="500.00")
    structure_id = w.mandataire.structure_id
    with pw.system(app):
        # The transitions' deltas are not folded yet: the panel adds them, and is what the rollup gives.
        assert db.session.scalar(select(BoardMoneyDelta.id).where(BoardMoneyDelta.structure_id == structure_id))
        expected = _from_rollup(structure_id)
        assert len(expected) == NEW + 3
        for limit in range(1, NEW + 4):
            assert _panel(structure_id, limit) == _ranked(expected, limit), limit
        board.compact()
        assert not db.session.scalar(select(BoardMoneyDelta.id).where(BoardMoneyDelta.structure_id == structure_id))
        folded = _panel(structure_id, parties.PANEL_LINES)
        assert folded == _ranked(expected, parties.PANEL_LINES)
        assert folded[0][0][0] == w.sibling.party_id  # the most validated and not paid
    pw.assert_board_exact(app)
    # Deltas that move the folded first line down (its validated amount paid) and one company up past the others
    # (validated, not paid): the panel's first lines are those of every line with its deltas, not of the index.
    with app.test_request_context(), access.system_access("test: deltas not folded yet"):
        last = max(_from_lines(structure_id), key=lambda party: party if party != w.sibling.party_id else 0)
        db.session.execute(insert(BoardMoneyDelta), [
            {"structure_id": structure_id, "emitter_party_id": w.sibling.party_id, "sent_ttc": 0,
             "validated_ttc": 0, "paid": Decimal("1200.00")},
            {"structure_id": structure_id, "emitter_party_id": last, "sent_ttc": Decimal("700.00"),
             "validated_ttc": Decimal("700.00"), "paid": 0},
            {"structure_id": structure_id + 1000, "emitter_party_id": last, "sent_ttc": 1, "validated_ttc": 1,
             "paid": 1}])  # another structure's: not this panel's
        lines = _from_lines(structure_id)
        for limit in range(1, NEW + 4):
            assert _panel(structure_id, limit) == _ranked(lines, limit), limit
        assert _panel(structure_id, 1)[0][0][0] == last
        db.session.rollback()


def test_a_companys_change_rewrites_its_line(app, w):
    """A DC4's amount lowered under what was invoiced, a name changed: the line follows in the transaction of the
    change (its ceiling passed: first on the panel); the recompute agrees, before and after the fold."""
    sibling = pw.deposit(app, w, w.sibling, "A10", "MON-3", ht="500.00")
    pw.act(app, w.mandataire, sibling, "validate")
    with app.app_context():
        party = db.session.get(MarcheParty, w.sibling.party_id)
        party.montant_ttc, party.name = Decimal("100.00"), "Carrelage Test renommée"
        db.session.commit()
    pw.assert_board_exact(app)
    with pw.system(app):
        # Its invoiced amount still a delta: the panel ranks it first with it; folded, so does the index.
        assert _panel(w.mandataire.structure_id, 1)[0][0][0] == w.sibling.party_id
        board.compact()
        line = db.session.get(BoardMoneyLine, (w.mandataire.structure_id, w.sibling.party_id))
        assert (line.attention, line.accepted, line.name) == (0, Decimal("100.00"), "Carrelage Test renommée")
        assert _panel(w.mandataire.structure_id, 1)[0][0][0] == w.sibling.party_id
    pw.assert_board_exact(app)


def test_the_panel_is_one_statement_on_its_own_read_model(app, w):
    """Neither the parties nor the companies' rollup: the statement reads the lines it shows and one row of
    totals, whatever the number of companies under the structure (before: each of them probed in the rollup)."""
    statements = []

    def seen(conn, cursor, statement, *args):
        statements.append(statement)

    with app.test_request_context(), access.tenant(w.mandataire.structure_id):
        engine = db.session.get_bind()
        event.listen(engine, "before_cursor_execute", seen)
        try:
            panel = parties.money_lines(w.mandataire.structure_id, parties.PANEL_LINES)
        finally:
            event.remove(engine, "before_cursor_execute", seen)
    reads = [statement for statement in statements if "board_money_line" in statement]
    assert len(reads) == 1, statements
    assert "marche_party" not in reads[0] and "board_party_count" not in reads[0]
    assert panel.total == NEW + 3


def test_the_recompute_finds_a_wrong_line_and_corrects_it(app, w):
    pw.deposit(app, w, w.st1, "A10", "MON-4", ht="500.00")
    structure_id = w.mandataire.structure_id
    with pw.system(app):
        line = db.session.get(BoardMoneyLine, (structure_id, w.sibling.party_id))
        line.validated, line.to_pay = line.validated + 1, line.to_pay + 1
        db.session.delete(db.session.get(BoardMoneyLine, (structure_id, w.st1.party_id)))
    assert pw.board_differences(app).coarse_different["board_money_line"] == 3  # two lines, their totals
    with app.test_request_context():
        board.recompute()
        db.session.commit()
    pw.assert_board_exact(app)
    with pw.system(app):
        assert _panel(structure_id, NEW + 3) == _ranked(_from_rollup(structure_id), NEW + 3)
