"""The marché export's `pieces` (docs/contracts/marche-export.md), validated against the JSON Schema, and the
demo marché's pieces in every interesting state, driven through the operations."""
from __future__ import annotations

import re

from sqlalchemy import select

from chorus_chain import demo
from chorus_chain.domain import transitions as T
from chorus_chain.extensions import db
from chorus_chain.models import Marche, Piece, PieceEvent
from chorus_chain.operations.audit import verify_pieces
from chorus_chain.operations.export import marche_export
from tests.integration.pieces_world import NOW, act, acting, create, deposit, later, rows, world
from tests.integration.test_marches_visibility import schema

AMOUNT = re.compile(r"^-?\d+\.\d{2}$")


def _export(app, who, marche_id):
    with acting(app, who):  # a tenant page: the export lists the pieces this reader sees
        return marche_export(db.session.get(Marche, marche_id), NOW, who.structure_id)


def test_export_lists_the_deposited_pieces_with_clocks_and_events(app, db):
    import jsonschema

    w = world(app)
    pdm = deposit(app, w, w.mandataire, "A4", "PDM-1", ht="1234.50")
    act(app, w.moe, pdm, "take", now=later(1))
    st = deposit(app, w, w.st1, "A10", "F-1")
    ea = deposit(app, w, w.moe, "A15", "EA-1", previous_piece_id=str(pdm))
    create(app, w, w.cotraitant, "A13", "DRAFT-1")  # a draft is not sent: not exported
    document = _export(app, w.moa, w.marche_id)
    jsonschema.validate(document, schema())
    pieces = {p["number"]: p for p in document["pieces"]}
    assert set(pieces) == {"PDM-1", "F-1", "EA-1"}
    first = pieces["PDM-1"]
    assert (first["cadre"], first["emitter_siret"], first["type"], first["status"]) == \
        ("A4", w.mandataire.siret, "FACTURE", "PRISE_EN_COMPTE_MOE")
    assert (first["montant_ht"], first["montant_tva"], first["montant_ttc"]) == ("1234.50", "246.90", "1481.40")
    assert all(AMOUNT.match(p[k]) for p in pieces.values() for k in ("montant_ht", "montant_tva", "montant_ttc"))
    assert first["deposited_at"] == NOW.isoformat() and first["previous"] is None and first["decompte"] is None
    assert pieces["EA-1"]["previous"] == "PDM-1" and pieces["EA-1"]["dossier"] == first["dossier"]
    assert {(d["kind"], d["done_at"]) for d in first["deadlines"]} == {("moe", None), ("paiement", None)}
    assert [e["action"] for e in first["events"]] == ["create", "deposit", "take"]
    assert first["events"][0]["from"] is None and first["events"][2]["actor_siret"] == w.moe.siret
    stored = rows(app, PieceEvent, PieceEvent.piece_id == pdm, order_by=PieceEvent.seq)
    assert [e["hash"] for e in first["events"]] == [e.hash for e in stored]
    assert pieces["F-1"]["montant_tva"] == "0.00"  # autoliquidation
    assert st and ea


def test_export_records_the_system_as_the_actor_of_a_tacit_validation(app, db):
    from chorus_chain.operations.deadlines import sweep

    w = world(app)
    deposit(app, w, w.st1, "A10", "F-1")
    with app.test_request_context():
        sweep(later(15))
        db.session.commit()
    document = _export(app, w.mandataire, w.marche_id)
    tacit = next(e for e in document["pieces"][0]["events"] if e["action"] == "tacit_validation")
    assert (tacit["actor"], tacit["actor_siret"]) == ("system", None) and "Délai de validation" in tacit["reason"]


def test_demo_has_pieces_in_every_interesting_state(app, db):
    import jsonschema

    with app.app_context():
        demo.seed()
        db.session.commit()
        demo.seed()  # idempotent
        db.session.commit()
    with app.test_request_context():
        from chorus_chain.access import system_access

        with system_access("test: the demo's pieces"):
            # The demo marché's own pieces: a test that commits outside its transaction (test_structure_legal's
            # document test) may have left another marché's piece in this worker's database.
            demo_marche_id = db.session.scalar(select(Marche.id).where(Marche.reference == demo.DEMO_MARCHE))
            pieces = db.session.scalars(select(Piece).where(Piece.marche_id == demo_marche_id)
                                        .order_by(Piece.id)).all()
            statuses = {p.number: p.status for p in pieces}
            for piece in pieces:
                events = db.session.scalars(select(PieceEvent).where(PieceEvent.piece_id == piece.id)
                                            .order_by(PieceEvent.seq)).all()
                assert T.replay(events, piece.route_steps, cadre=piece.cadre) == piece.status, piece.number
            tacit = db.session.scalar(select(PieceEvent).where(PieceEvent.action == "tacit_validation"))
            assert tacit.actor == "system"
            marche = db.session.scalar(select(Marche).where(Marche.reference == demo.DEMO_MARCHE))
            document = marche_export(marche, NOW, None)  # the operator's view: every piece
        assert verify_pieces().ok
    from chorus_chain.demo_money import MONTHS

    # The projets de décompte of the demo's three months, the A15 each of their états d'acompte deposited, and the
    # A19 of the two the MOA validated (the last one waits at the MOA).
    validated = len([m for m in MONTHS if m.paid is not None])
    monthly = sum(len(m.cumul) for m in MONTHS) + len(MONTHS) + validated
    assert len(pieces) == len(demo.DEMO_PIECES) + monthly
    assert len([p for p in pieces if p.cadre == "A15"]) == len(MONTHS)
    assert len([p for p in pieces if p.cadre == "A19"]) == validated
    # A works PDM reaches the MOA and the paying office only inside an état (issue 12): the demo's are validated
    # with theirs (the A15 then ASSOCIEE, its A19 taking over) and paid line by line. The paying office's return
    # branches on a piece of its own (à recycler, suspendue then complétée, rejetée) are proven by
    # tests/integration/test_pieces_pages_actions.py.
    assert {"A_VALIDER_1", "A_VALIDER_2", "REFUSEE_1", "A_ASSOCIER_MOE", "A_ASSOCIER_MOA", "ASSOCIEE",
            "MISE_EN_PAIEMENT", "ACCEPTEE_CONTRACTANT"} <= set(statuses.values())
    jsonschema.validate(document, schema())
    assert len(document["pieces"]) == len(demo.DEMO_PIECES) + monthly
    near = next(p for p in document["pieces"] if p["number"] == "PL-2026-002")
    assert near["status"] == "A_VALIDER_1" and [d["kind"] for d in near["deadlines"]] == ["validation_1"]
