"""The prepared context of a batch of the sweep: what the steps of its deadlines read, read once for the batch.

Nothing here decides anything: the rules stay in `pieces_deadlines` (what an expired clock does), `pieces_actions.
system_act` (the transition), `pieces_records` (events, clocks, announcements) and the domain. The context answers
their reads — the batch's pieces locked in one statement (SKIP LOCKED: a piece a user holds is left for the next
sweep), their open clocks, the number of their next event, their marchés and the structures they name, who is told
— and keeps what they write for the end of the batch (in-app notifications in one INSERT, the e-mails' outbox rows in
one flush). One context per batch and transaction: never kept beyond the batch's commit.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select

from chorus_chain.extensions import db
from chorus_chain.models import Deadline, MailMessage, Marche, Piece, PieceEvent, Structure
from chorus_chain.operations import pieces_records as records


@dataclass
class OpenClocks:
    """The open clocks (deadline rows) of a set of pieces, read at once; `records.close_clocks` and
    `records.open_clock` keep it true as the batch closes and opens them."""

    by_piece: dict[int, list[Deadline]] = field(default_factory=dict)

    @classmethod
    def read(cls, piece_ids: Iterable[int]) -> OpenClocks:
        ids = list(piece_ids)
        found = cls({piece_id: [] for piece_id in ids})
        if ids:
            for row in db.session.scalars(select(Deadline).where(Deadline.piece_id.in_(ids),
                                                                 Deadline.done_at.is_(None))
                                          .order_by(Deadline.id)):
                found.by_piece[row.piece_id].append(row)
        return found

    def open_of(self, piece_id: int, kinds: Iterable[str]) -> list[Deadline]:
        kinds = set(kinds)
        return [row for row in self.by_piece[piece_id] if row.kind in kinds and row.done_at is None]

    def opened(self, deadline: Deadline) -> None:
        self.by_piece.setdefault(deadline.piece_id, []).append(deadline)


@dataclass
class SweepContext:
    """What the deadlines of one batch read (see the module)."""

    pieces: dict[int, Piece] = field(default_factory=dict)  # the batch's pieces this transaction locked
    seq: dict[int, int] = field(default_factory=dict)  # next event number of each locked piece
    clocks: OpenClocks = field(default_factory=OpenClocks)
    marches: dict[int, Marche] = field(default_factory=dict)  # held: `records.marche_of` finds them in the session
    structures: dict[int, Structure] = field(default_factory=dict)
    audience: dict[Any, Any] = field(default_factory=dict)  # notify's reads: members, preferences
    mails: list[MailMessage] = field(default_factory=list)  # queued here, their outbox rows written by `finish`
    notifications: list[dict] = field(default_factory=list)  # in-app rows, inserted by `finish`

    @classmethod
    def prepare(cls, deadlines: Iterable[Deadline]) -> SweepContext:
        """Lock the pieces of these deadlines (those another transaction holds are skipped: `locked` answers None
        for them) and read what their steps need: four statements, or five with the structures they name."""
        ctx = cls()
        piece_ids = sorted({row.piece_id for row in deadlines if row.piece_id is not None})
        if not piece_ids:
            return ctx
        query = (select(Piece).where(Piece.id.in_(piece_ids)).order_by(Piece.id)
                 .execution_options(populate_existing=True))
        if records.is_postgresql():
            query = query.with_for_update(skip_locked=True)
        ctx.pieces = {piece.id: piece for piece in db.session.scalars(query)}
        locked = list(ctx.pieces)
        if not locked:
            return ctx
        ctx.seq = {piece_id: 0 for piece_id in locked}
        ctx.seq.update({piece_id: top + 1 for piece_id, top in db.session.execute(
            select(PieceEvent.piece_id, func.max(PieceEvent.seq)).where(PieceEvent.piece_id.in_(locked))
            .group_by(PieceEvent.piece_id))})
        ctx.clocks = OpenClocks.read(locked)
        marche_ids = {piece.marche_id for piece in ctx.pieces.values()}
        ctx.marches = {row.id: row for row in db.session.scalars(select(Marche).where(Marche.id.in_(marche_ids)))}
        named = {piece.emitter_structure_id for piece in ctx.pieces.values()}
        named |= {step["structure_id"] for piece in ctx.pieces.values() for step in piece.route or ()}
        ctx.structures = {row.id: row for row in db.session.scalars(select(Structure).where(Structure.id.in_(named)))}
        return ctx

    # -- reads ---------------------------------------------------------------------------------------------------

    def locked(self, piece_id: int) -> Piece | None:
        """The piece, locked for this transaction; None when another transaction holds it (the next sweep)."""
        return self.pieces.get(piece_id)

    def structure_of(self, structure_id: int) -> Structure:
        if structure_id not in self.structures:
            self.structures[structure_id] = db.session.get(Structure, structure_id)
        return self.structures[structure_id]

    def next_seq(self, piece_id: int) -> int | None:
        """The number of the piece's next event (None: a piece this context did not lock; ask the database)."""
        return self.seq.get(piece_id)

    def recorded(self, piece_id: int, seq: int) -> None:
        if piece_id in self.seq:
            self.seq[piece_id] = seq + 1

    # -- writes kept for the end ---------------------------------------------------------------------------------

    def finish(self) -> None:
        """Write what waits for the end of the batch: the in-app notifications and the e-mails' outbox rows."""
        from chorus_chain.operations.notifications import write_later

        write_later(self.notifications, self.mails)
