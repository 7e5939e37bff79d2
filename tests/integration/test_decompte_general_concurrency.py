"""Two MOA users establish the same décompte général at the same instant, then two users of the titulaire sign it at
the same instant, one with reservations and one without (PostgreSQL, real commits on separate connections): one
A20, one signature, one A8, one set of payable lines; the others are told. World:
tests/integration/decompte_general_world.py."""
from __future__ import annotations

import pytest

from chorus_chain.models import Piece
from chorus_chain.models.decompte_general import DecompteGeneral
from chorus_chain.models.etat_pieces import PayableLine
from chorus_chain.operations import OperationError
from chorus_chain.operations import marches as marche_ops
from chorus_chain.operations.decompte_general import dg as dg_ops
from chorus_chain.operations.decompte_general import signature as signature_ops
from tests.integration.decompte_general_world import days, establish_pdg, final_etat
from tests.integration.pieces_world import count, rows, world
from tests.integration.test_etats_concurrency import live_app  # noqa: F401 - the fixture
from tests.integration.test_pieces_concurrency import acting_call, at_once

pytestmark = pytest.mark.postgres


def test_one_dg_and_one_signature_whatever_the_clicks_at_once(live_app):  # noqa: F811
    app = live_app
    w = world(app)
    etat_id = final_etat(app, w)
    establish_pdg(app, w, etat_id, days(1))

    def notify(account, structure):
        access = marche_ops.access_for(structure, w.marche_id)
        return dg_ops.establish_dg(access, etat_id, account, structure, now=days(2)).dg_piece_id

    results = at_once(acting_call(app, w.moa, notify), acting_call(app, w.moa, notify))
    refused = [r for r in results if isinstance(r, OperationError)]
    assert len(refused) == 1 and "déjà établi et notifié" in refused[0].message, results
    assert count(app, Piece, Piece.cadre == "A20", Piece.marche_id == w.marche_id) == 1

    def sign(with_reservations: bool):
        def call(account, structure):
            access = marche_ops.access_for(structure, w.marche_id)
            return signature_ops.sign(access, etat_id, account, structure, with_reservations=with_reservations,
                                      reservations="Révision contestée", claimed_amount="1500",
                                      now=days(5)).signature
        return call

    results = at_once(acting_call(app, w.mandataire, sign(True)), acting_call(app, w.mandataire, sign(False)))
    refused = [r for r in results if isinstance(r, OperationError)]
    assert len(refused) == 1 and "déjà été signé" in refused[0].message, results
    [row] = rows(app, DecompteGeneral, DecompteGeneral.etat_acompte_id == etat_id)
    assert row.signature in results
    assert count(app, Piece, Piece.cadre == "A8", Piece.marche_id == w.marche_id) == 1
    assert count(app, PayableLine, PayableLine.etat_acompte_id == etat_id) == 1
