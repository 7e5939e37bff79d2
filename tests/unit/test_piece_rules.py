"""What a piece answers from its status and route is written once (`models.pieces.PieceRules`): the model and every
plain row the dashboards read instead of it answer by that rule, not by a copy that could drift from it."""
from datetime import datetime, timezone
from decimal import Decimal

import pytest

from chorus_chain.models.pieces import Piece, PieceRules
from chorus_chain.operations.board_reading.lists import ListedPiece
from chorus_chain.operations.dashboard import ClockPiece
from chorus_chain.operations.tracker.reading import SentPiece


@pytest.mark.parametrize("shape", [Piece, ListedPiece, ClockPiece, SentPiece])
def test_every_shape_of_a_piece_answers_by_the_one_rule(shape):
    assert issubclass(shape, PieceRules)
    assert shape.is_draft is PieceRules.is_draft and shape.route_steps is PieceRules.route_steps


@pytest.mark.parametrize("status, draft", [("BROUILLON", True), ("DEPOSEE", False), ("PAYEE", False)])
def test_a_listed_piece_is_a_draft_by_its_status(status, draft):
    listed = ListedPiece(1, "F-1", None, "FACTURE", status, Decimal("10.00"), None, None,
                         None if draft else datetime(2026, 1, 5, tzinfo=timezone.utc))
    assert listed.is_draft is draft
