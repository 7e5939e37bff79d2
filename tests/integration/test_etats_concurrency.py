"""Two MOE users issue the same état d'acompte at the same instant (PostgreSQL, real commits on separate
connections): one issues it, the other is told; each PDM takes the action once."""
from __future__ import annotations

import pytest

from chorus_chain.models import PieceEvent
from chorus_chain.models.money import EtatAcompte
from chorus_chain.operations import OperationError
from chorus_chain.operations import etats_acompte as ops
from chorus_chain.operations import marches as marche_ops
from tests.conftest import live_application
from tests.integration.etats_world import NOW, as_moe, price_line, taken_pdm
from tests.integration.pieces_world import count, rows, world
from tests.integration.test_pieces_concurrency import acting_call, at_once

pytestmark = pytest.mark.postgres


@pytest.fixture(scope="module")
def live_app():
    """The application on its own database, migrated; no outer transaction: commits are real."""
    yield from live_application("chorus_etats_live")


def test_two_moe_users_issue_the_same_etat_at_once(live_app):
    app = live_app
    w = world(app)
    line = price_line(app, w, "M1", w.mandataire.party_id, quantity="100", unit_price="200")
    pdm = taken_pdm(app, w, w.mandataire, "PDM-1", month="2026-02", measures={line: "50"})
    etat_id = as_moe(app, w, lambda access, account, structure: ops.open_etat(access, account, structure, "2026-02",
                                                                               now=NOW).id)

    def issue(account, structure):
        access = marche_ops.access_for(structure, w.marche_id)
        return ops.issue(access, etat_id, account, structure, now=NOW).status

    # Two members of the MOE's structure, two connections, the same instant.
    results = at_once(acting_call(app, w.moe, issue), acting_call(app, w.moe, issue))
    issued = [r for r in results if r == "issued"]
    refused = [r for r in results if isinstance(r, OperationError)]
    assert len(issued) == 1 and len(refused) == 1, results
    assert "a déjà été émis" in refused[0].message
    assert [e.status for e in rows(app, EtatAcompte, EtatAcompte.id == etat_id)] == ["issued"]
    assert count(app, PieceEvent, PieceEvent.piece_id == pdm, PieceEvent.action == "issue_etat_acompte") == 1
