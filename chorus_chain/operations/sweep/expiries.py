"""Alerts-only expiries in the deadline sweep (issue 20): the clocks whose expiry is no action — a lapsed délai
global de paiement, late-payment interest left unpaid, the end of the contest of the MOE's corrections — applied
as one set-based step per batch.

Such an expiry changes nothing of its piece: the clock is done and, when it still ran, whom it names is alerted
(`pieces_deadlines.apply_piece_deadline` says the same for one deadline, and stays the rule: the batch path calls
its `payment_awaited` and `alert_expiry`). Two thirds of what falls due after a night are such expiries
(bench/deadline_sweep.py: 14 277 lapsed DGPs of 21 028 due), and each went through the transitions' machinery —
its piece loaded and locked as an ORM object with its events' numbers, open clocks and marché, its row snapshot and
compared at the end — to write one `done_at`. Here a batch's share of them costs a fixed number of statements,
whatever their number (`Expiries.apply`): one locks their pieces and reads what the alerts say of them, one (when
it holds interest clocks) the interest paid, one marks them done, and the audience is read once — the marchés'
holders, the structures named, their members and preferences. No ORM object per deadline; the only per-deadline
Python is the alert's text, told to the batch's digests (`bell_digest`, `mail_digest`) at the deadline's turn in
the batch (`Expiries.tell`), so the digests list what they list in the order the one-by-one path told it.

**Locks.** The deadline rows are the batch's (`deadlines.due`: FOR UPDATE SKIP LOCKED). The pieces are locked
FOR SHARE SKIP LOCKED: nothing of them is written, but the status the expiry reads must be the status at the
alert. A user paying the piece holds it (`records.load_for_update`'s FOR UPDATE, or its UPDATE's own lock) until
the payment commits: SKIP LOCKED leaves that deadline open, and the next sweep finds the clock closed by the
payment — a payment under way is never alerted as late. A payment beginning after the lock waits for this batch's
commit (one batch, as with FOR UPDATE) and then sees the clock done. FOR SHARE rather than FOR UPDATE: the rows
other transactions insert about the piece (their foreign keys' checks take KEY SHARE) do not wait for the batch.
The interest clocks' payments (`line_payment`) are locked FOR SHARE SKIP LOCKED too: the paying office records
the interest paid holding that row (`interets.paying`), not the piece — the one-by-one path, reading
`interest_paid_on` unlocked, alerted an interest payment under way as unpaid; here it waits for the next sweep.

**Read model.** A lapsed DGP of a piece whose status the DGP runs in moves nothing of it (`domain.deadlines.
counts_after_expiry`, session 11); any other expiry makes its piece's board rows stale (`board.touch`), refreshed
in the batch's commit, as `sweep.context.Adopted` does for the transitions' path.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm.attributes import set_committed_value

from chorus_chain import formatting
from chorus_chain.domain import deadlines as clocks
from chorus_chain.domain import transitions as T
from chorus_chain.extensions import db
from chorus_chain.models import Deadline, Piece, Structure
from chorus_chain.models.etat_pieces import LinePayment
from chorus_chain.models.pieces import PieceRules
from chorus_chain.operations import board, bulk
from chorus_chain.operations import pieces_records as records
from chorus_chain.operations.notifications import Audience, BatchNotices
from chorus_chain.operations.sweep.reads import BatchReads, holders_of
from chorus_chain.operations.pieces_deadlines import PIECE_KINDS, alert_expiry, payment_awaited

# The clocks of a piece whose expiry is no action (`expiry_action` None): alerts only.
ALERTS_ONLY = frozenset(kind for kind in PIECE_KINDS if clocks.expiry_action(kind) is None)


def partition(deadlines: Iterable[Deadline]) -> tuple[list[Deadline], list[Deadline]]:
    """(the alerts-only expiries, the rest) of a batch, each in the batch's order. A piece that also has a clock
    with an action in the batch keeps all its deadlines on the transitions' path: a transition earlier in the batch
    may end its DGP's run, and the one-by-one order decides."""
    deadlines = list(deadlines)
    acting = {row.piece_id for row in deadlines if row.kind not in ALERTS_ONLY}
    alerts, rest = [], []
    for row in deadlines:
        alone = row.kind in ALERTS_ONLY and row.piece_id is not None and row.piece_id not in acting
        (alerts if alone else rest).append(row)
    return alerts, rest


@dataclass(frozen=True, slots=True)
class ExpiredPiece(PieceRules):
    """What an alert reads of a piece (`alert_expiry`, `records.notify_actors`), as a plain row."""

    id: int
    status: str
    route: list | None
    cadre: str | None
    number: str
    emitter_structure_id: int
    marche_id: int
    works: bool


_PIECE_COLUMNS = (Piece.id, Piece.status, Piece.route, Piece.cadre, Piece.number, Piece.emitter_structure_id,
                  Piece.marche_id, Piece.works)


@dataclass
class Expiries(BatchReads):
    """A batch's alerts-only expiries, applied (`apply`), their alerts told at each one's turn (`tell`). It answers
    `records.notify_actors`' reads as `SweepContext` does (`holder_of`, `structure_of`, `audience`)."""

    now: datetime
    outcome: dict[int, bool | None] = field(default_factory=dict)  # deadline id -> alerted / moot / None: busy
    pieces: dict[int, ExpiredPiece] = field(default_factory=dict)
    holders: dict[int, int | None] = field(default_factory=dict)
    structures: dict[int, Structure] = field(default_factory=dict)
    audience: dict[Any, Any] = field(default_factory=dict)  # notify's cache: who is told, read once
    mails: list = field(default_factory=list)  # unused inside the batch's digests (notify_actors passes them on)
    notifications: list = field(default_factory=list)
    due_texts: dict[datetime, str] = field(default_factory=dict)
    notices: BatchNotices = field(init=False)  # the alerts, told through `audience` (`records.notify_actors`)

    def __post_init__(self) -> None:
        self.notices = BatchNotices(self.audience)

    @classmethod
    def apply(cls, deadlines: list[Deadline], now: datetime) -> Expiries:
        """Lock these deadlines' pieces (SKIP LOCKED: a piece a user holds leaves its deadline open), decide which
        still ran, mark every deadline not left open done at `now`, and read who their alerts tell."""
        found = cls(now)
        found.outcome = dict.fromkeys((row.id for row in deadlines), None)
        if not deadlines:
            return found
        postgresql = records.is_postgresql()
        query = select(*_PIECE_COLUMNS).where(bulk.among(Piece.id, sorted({row.piece_id for row in deadlines}))) \
            .order_by(Piece.id)
        if postgresql:
            query = query.with_for_update(read=True, skip_locked=True)
        found.pieces = {row.id: ExpiredPiece(*row) for row in db.session.execute(query)}
        payments = sorted({row.line_payment_id for row in deadlines
                           if row.kind == clocks.INTERETS and row.line_payment_id is not None})
        paid: dict[int, bool] = {}
        if payments:
            query = select(LinePayment.id, LinePayment.interest_paid_on).where(bulk.among(LinePayment.id, payments)) \
                .order_by(LinePayment.id)
            if postgresql:
                query = query.with_for_update(read=True, skip_locked=True)
            paid = {payment_id: paid_on is not None for payment_id, paid_on in db.session.execute(query)}
        done: list[Deadline] = []
        stale: set[int] = set()
        alerted: dict[int, set[str]] = {}  # piece id -> the kinds of its clocks that alert
        for row in deadlines:
            piece = found.pieces.get(row.piece_id)
            if piece is None or (row.kind == clocks.INTERETS and row.line_payment_id is not None
                                 and row.line_payment_id not in paid):
                continue  # held by a user (the piece, or the interest's payment): the next sweep
            found.outcome[row.id] = runs = _still_runs(row, piece, paid)
            if runs:
                alerted.setdefault(piece.id, set()).add(row.kind)
            done.append(row)
            if not clocks.counts_after_expiry(row.kind, piece.status):
                stale.add(piece.id)
        if done:
            db.session.execute(update(Deadline).where(bulk.among(Deadline.id, [row.id for row in done]))
                               .values(done_at=now).execution_options(synchronize_session=False))
            for row in done:  # the session's rows say what the database now holds (no flush of them)
                set_committed_value(row, "done_at", now)
        board.touch(stale)
        found._read_audience(alerted)
        return found

    def _read_audience(self, alerted: dict[int, set[str]]) -> None:
        """The holders of the alerted pieces' marchés (when a clock alerts the titulaire), the structures the alerts
        tell (those playing the actors each clock names: `records.structures_playing`, as `notify_actors` asks),
        their members and preferences: a statement each, for the batch. Only those told: the members of every
        structure a piece names were most of the batch's reads (bench/deadline_sweep.py's profile)."""
        if not alerted:
            return
        actors = {piece_id: {actor for kind in kinds for actor in clocks.DEADLINES[kind].alert_on_expiry}
                  for piece_id, kinds in alerted.items()}
        if any(T.TITULAIRE in named for named in actors.values()):
            marche_ids = sorted({self.pieces[piece_id].marche_id for piece_id, named in actors.items()
                                 if T.TITULAIRE in named})
            self.holders = holders_of(marche_ids)
        named = {structure_id for piece_id, piece_actors in actors.items() for actor in piece_actors
                 for structure_id in records.structures_playing(self.pieces[piece_id], actor, self)}
        self.structures = {row.id: row for row in db.session.scalars(
            select(Structure).where(bulk.among(Structure.id, sorted(named))))}
        self.audience["prepared"] = Audience(self.structures)

    # -- the alerts, each at its deadline's turn ----------------------------------------------------------------

    def tell(self, deadline: Deadline) -> bool | None:
        """Alert whom this deadline's clock names if it still ran; returns whether it alerted (True), was moot
        (False, done), or was left open for the next sweep (None: its piece or payment held by a user)."""
        outcome = self.outcome[deadline.id]
        if outcome:
            due_text = self.due_texts.get(deadline.due_at)
            if due_text is None:
                due_text = self.due_texts[deadline.due_at] = formatting.instant(deadline.due_at)
            alert_expiry(self.pieces[deadline.piece_id], deadline.kind, due_text, self.now, self)
        return outcome


def _still_runs(deadline: Deadline, piece: ExpiredPiece, paid: dict[int, bool]) -> bool:
    """Whether the expired clock still ran (its alert goes out) or was answered in time (moot): the payment still
    awaited, the interest still unpaid; the contest's end always."""
    if deadline.kind == clocks.PAIEMENT:
        return payment_awaited(piece)
    if deadline.kind == clocks.INTERETS:
        return not paid.get(deadline.line_payment_id, False)
    return True
