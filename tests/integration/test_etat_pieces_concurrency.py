"""Two MOA users validate the same état d'acompte at the same instant (PostgreSQL, real commits on separate
connections): one validates it, the other is told; one A19, one set of payable lines. Two clerks paying the last
euros of a line at once: one payment, the other told what is left."""
from __future__ import annotations

import pytest

from chorus_chain.models import Piece
from chorus_chain.models.etat_pieces import LinePayment, PayableLine
from chorus_chain.models.money import EtatAcompte
from chorus_chain.operations import OperationError
from chorus_chain.operations import marches as marche_ops
from chorus_chain.operations.etat_pieces import moa as moa_ops
from chorus_chain.operations.etat_pieces import paying
from tests.integration.etat_pieces_world import at, issue, month_of_may, open_etat, pay
from tests.integration.pieces_world import count, rows, world
from tests.integration.test_etats_concurrency import live_app  # noqa: F401 - the fixture
from tests.integration.test_pieces_concurrency import acting_call, at_once

pytestmark = pytest.mark.postgres


def test_two_moa_users_validate_the_same_etat_at_once_and_two_clerks_pay_one_line(live_app):  # noqa: F811
    app = live_app
    w = world(app)
    month_of_may(app, w)
    etat_id = open_etat(app, w, "2026-05", at("2026-05-22"))
    issue(app, w, etat_id, at("2026-05-23"))

    def validate(account, structure):
        access = marche_ops.access_for(structure, w.marche_id)
        return moa_ops.validate(access, etat_id, account, structure, now=at("2026-05-26")).validated_piece_id

    results = at_once(acting_call(app, w.moa, validate), acting_call(app, w.moa, validate))
    refused = [r for r in results if isinstance(r, OperationError)]
    assert len(refused) == 1 and "a déjà été validé" in refused[0].message, results
    assert count(app, Piece, Piece.cadre == "A19", Piece.marche_id == w.marche_id) == 1
    assert count(app, PayableLine, PayableLine.etat_acompte_id == etat_id) == 4
    assert rows(app, EtatAcompte, EtatAcompte.id == etat_id)[0].validated_at is not None

    line = next(row for row in rows(app, PayableLine, PayableLine.etat_acompte_id == etat_id)
                if row.name == w.st1.name)
    pay(app, w, etat_id, line.id, service_fait="2026-06-01", mandat="2026-06-02")

    def pay_all(account, structure):
        access = marche_ops.access_for(structure, w.marche_id)
        return paying.record_payment(access, etat_id, line.id, account, structure, amount=str(line.amount),
                                     paid_on="2026-06-03", now=at("2026-06-03")).amount

    results = at_once(acting_call(app, w.moa, pay_all), acting_call(app, w.moa, pay_all))
    refused = [r for r in results if isinstance(r, OperationError)]
    assert len(refused) == 1 and "déjà payée en entier" in refused[0].message, results
    assert count(app, LinePayment, LinePayment.line_id == line.id) == 1
