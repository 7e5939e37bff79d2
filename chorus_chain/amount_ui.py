"""The one rule of a piece's two amounts (domain.amount_why) as template globals, for the macros of
templates/_amount_macros.html: every page that shows a piece's amount explains it the same way, from the row alone
(`Piece.accepted_why`), so a list adds no query."""
from __future__ import annotations

from flask import url_for

from chorus_chain.domain import amount_why


def amount_why_of(piece) -> amount_why.AmountWhy:
    """`piece`: a Piece, or a row of a read model carrying the same fields (`piece_id` for its id); a row without the
    stored why still shows both amounts and sends to the piece's history."""
    piece_id = getattr(piece, "piece_id", None) or piece.id
    return amount_why.explain(piece.montant_ttc, piece.accepted_amount, getattr(piece, "accepted_why", None),
                              piece_id=piece_id)


def amount_target_url(target: amount_why.Target) -> str:
    return url_for(target.endpoint, _anchor=target.anchor, **target.params)


def register(app) -> None:
    app.add_template_global(amount_why_of)
    app.add_template_global(amount_target_url)
