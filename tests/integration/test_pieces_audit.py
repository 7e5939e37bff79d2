"""The audit trail: every change an append-only, hash-chained event; `flask audit verify` proves the chains whole,
the statuses those the transition table gives, the deposited facts unchanged — and names the first break. (A row
changed by a superuser is in test_pieces_concurrency.py: it needs a committed database.)"""
from __future__ import annotations

from decimal import Decimal

from chorus_chain.domain import audit_chain
from chorus_chain.domain import transitions as T
from chorus_chain.models import PieceEvent
from chorus_chain.operations.audit import check_piece, verify_pieces
from tests.integration.pieces_world import act, deposit, later, piece, rows, world


def _history(app):
    w = world(app)
    paid = deposit(app, w, w.mandataire, "A4", "PDM-1")
    for who, action, inputs in ((w.moe, "take", {}), (w.moe, "issue_etat_acompte", {"amount": "1100,00"}),
                                (w.moa, "moa_take", {}), (w.moa, "moa_validate", {}),
                                (w.moa, "mark_service_fait", {}), (w.moa, "mark_mandatee", {}),
                                (w.moa, "mark_paid", {"amount": "1100,00", "paid_on": "2026-03-02"})):
        act(app, who, paid, action, now=later(1), **inputs)
    refused = deposit(app, w, w.st1, "A10", "F-1")
    act(app, w.mandataire, refused, "refuse", reason="non_conforme")
    return w, paid, refused


def test_every_change_is_a_chained_event_and_verify_says_so(app, db):
    w, paid, refused = _history(app)
    result = _verify(app)
    assert result.ok and result.pieces == 2
    events = rows(app, PieceEvent, PieceEvent.piece_id == paid, order_by=PieceEvent.seq)
    assert [e.seq for e in events] == list(range(len(events)))
    assert events[0].prev_hash == audit_chain.GENESIS
    assert all(b.prev_hash == a.hash for a, b in zip(events, events[1:]))
    assert piece(app, paid).head_hash == events[-1].hash
    assert T.replay(events, piece(app, paid).route_steps).value == "MISE_EN_PAIEMENT"
    paid_event = events[-1]
    assert (paid_event.action, paid_event.amount, paid_event.actor, paid_event.actor_siret) == \
        ("mark_paid", Decimal("1100.00"), paid_event.actor, w.moa.siret)


def _verify(app):
    with app.test_request_context():
        return verify_pieces()


def _loaded(app, piece_id):
    return piece(app, piece_id), rows(app, PieceEvent, PieceEvent.piece_id == piece_id, order_by=PieceEvent.seq)


def test_check_piece_finds_each_kind_of_break(app, db):
    """The same check `flask audit verify` runs, on copies altered in memory (the database refuses the changes)."""
    _, paid, _ = _history(app)
    row, events = _loaded(app, paid)
    assert check_piece(row, events, "x") is None

    forged = list(events)
    forged[3] = _copy(events[3], reason="doublon")
    found = check_piece(row, forged, "x")
    assert found.seq == 3 and "empreinte invalide" in found.message

    assert "la chaîne s'arrête" in check_piece(row, events[:-1], "x").message
    swapped = events[:2] + [events[3], events[2]] + events[4:]
    assert "numéro d'ordre inattendu" in check_piece(row, swapped, "x").message

    row.status = "MANDATEE"
    assert "l'historique mène à MISE_EN_PAIEMENT" in check_piece(row, events, "x").message
    row.status = "MISE_EN_PAIEMENT"
    row.montant_ttc = row.montant_ttc + 1
    assert "montant_ttc" in check_piece(row, events, "x").message


def _copy(event: PieceEvent, **changes) -> PieceEvent:
    fields = {c.key: getattr(event, c.key) for c in PieceEvent.__table__.columns}
    fields.update(changes)
    return PieceEvent(**fields)


def test_cli_audit_verify(app, db):
    _history(app)
    result = app.test_cli_runner().invoke(args=["audit", "verify"])
    assert result.exit_code == 0 and "2 pièce(s)" in result.output and "intactes" in result.output
