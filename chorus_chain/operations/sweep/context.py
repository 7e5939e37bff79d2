"""The prepared context of a batch of the sweep: what the steps of its deadlines read, read once for the batch.

Nothing here decides anything: the rules stay in `pieces_deadlines` (what an expired clock does), `pieces_actions.
system_act` (the transition), `pieces_records` (events, clocks, announcements) and the domain. The context answers
their reads — the batch's pieces locked in one statement (SKIP LOCKED: a piece a user holds is left for the next
sweep), their open clocks, the number of their next event, their marchés, their holders and the structures they
name, who is told (members and preferences of all those structures), the webhooks' subscribers — and keeps what they
write for the end of the batch, set-based (issue 20): the changes of the pieces and clocks it read in one UPDATE per
table and set of columns, then the events, the clocks it opened and the in-app notifications in one INSERT each
(`operations.bulk`); the e-mails, one per person (`operations.mail_digest`), are written by `deadlines.apply_due`.
About twenty statements a batch, whatever its size. One context per batch and transaction: never kept beyond the
batch's commit.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, inspect, select
from sqlalchemy.types import JSON

from chorus_chain.domain import deadlines as clocks
from chorus_chain.extensions import db
from chorus_chain.models import Deadline, MailMessage, Marche, Piece, PieceEvent, Structure
from chorus_chain.models.pieces import PieceRules
from chorus_chain.operations import board, bulk, webhooks
from chorus_chain.operations import pieces_records as records
from chorus_chain.operations.notifications import Audience, BatchNotices
from chorus_chain.operations.sweep.reads import BatchReads, holders_of


@dataclass
class OpenClocks:
    """The open clocks (deadline rows) of a set of pieces, read at once; `records.close_clocks` and
    `records.open_clock` keep it true as the batch closes and opens them. The clocks the batch opens are not added
    to the session: `new` keeps them for the batch's end, which inserts them in one statement."""

    by_piece: dict[int, list[Deadline]] = field(default_factory=dict)
    new: list[Deadline] = field(default_factory=list)

    @classmethod
    def read(cls, piece_ids: Iterable[int]) -> OpenClocks:
        ids = list(piece_ids)
        found = cls({piece_id: [] for piece_id in ids})
        if ids:
            for row in db.session.scalars(select(Deadline).where(bulk.among(Deadline.piece_id, ids),
                                                                 Deadline.done_at.is_(None))
                                          .order_by(Deadline.id)):
                found.by_piece[row.piece_id].append(row)
        return found

    def open_of(self, piece_id: int, kinds: Iterable[str]) -> list[Deadline]:
        kinds = set(kinds)
        return [row for row in self.by_piece[piece_id] if row.kind in kinds and row.done_at is None]

    def opened(self, deadline: Deadline) -> None:
        self.by_piece.setdefault(deadline.piece_id, []).append(deadline)
        self.new.append(deadline)

    def new_rows(self) -> list[dict[str, Any]]:
        """The clocks opened since the last call, as rows to insert (closed already, some of them)."""
        rows = [{"kind": d.kind, "piece_id": d.piece_id, "due_at": d.due_at, "done_at": d.done_at,
                 "created_at": d.created_at, "reminders_sent": list(d.reminders_sent or []),
                 "marche_party_id": None, "line_payment_id": None} for d in self.new]
        self.new.clear()
        return rows


@dataclass
class BatchRows:
    """Rows a batch writes at its end, per table, each table in one statement (`operations.bulk`): the events of
    its pieces, the clocks it opened. They are written by Core, so the read model is told of their pieces here."""

    by_table: dict[Any, list[dict[str, Any]]] = field(default_factory=dict)

    def add(self, model, values: dict[str, Any]) -> None:
        self.by_table.setdefault(model.__table__, []).append(values)

    def write(self) -> int:
        written = 0
        for table, rows in self.by_table.items():
            written += bulk.insert_rows(table, rows)
            board.touch(row["piece_id"] for row in rows if row.get("piece_id") is not None)
        self.by_table.clear()
        return written


class SweptPiece(PieceRules):
    """A piece of the batch as a plain row (PostgreSQL): its columns under the ORM's attribute names, so the steps
    read and set the same attributes as on a `Piece` (and `PieceRules` answers `route_steps`), and `Adopted` writes
    what they changed. Why (bench/deadline_sweep.py, issue 20): each batch loaded its 500 pieces as ORM objects
    only to snapshot and expunge them at once (`Adopted`: the batch writes them itself) — identity map, instance
    state, loader and expunge's cascade per piece, for rows nothing else in the session ever sees. Its relationships
    are not there (the model's are `lazy="raise"`: no step reads one)."""

    model = Piece

    def __init__(self, values: dict[str, Any]) -> None:
        self.__dict__.update(values)

    @classmethod
    def attributes(cls) -> tuple[str, ...]:
        """The mapped column attributes of the piece, in the mapper's order."""
        return tuple(_columns(inspect(Piece)))


@dataclass
class Adopted:
    """Rows the batch read and changes, taken out of the session (PostgreSQL): the steps change them as they would
    change any row, and the batch's end writes what changed, one UPDATE per table and set of columns
    (`operations.bulk.update_rows`) — the ORM's flush wrote them one by one (the piece's version counter makes
    every update a statement of its own), a third of a batch's time in bench/deadline_sweep.py's profile.
    A row's values are compared with what was read: the steps assign new values, never change one in place."""

    rows: dict[int, tuple[Any, dict[str, Any]]] = field(default_factory=dict)  # id(row) -> (row, values read)

    def adopt(self, rows: Iterable[Any]) -> None:
        for row in rows:
            if id(row) not in self.rows:
                self.rows[id(row)] = (row, _values(row))
                if not isinstance(row, SweptPiece):  # a plain row was never in the session
                    db.session.expunge(row)

    def write(self, statuses: dict[int, str] | None = None) -> int:
        """Write what changed since it was read (or last written); returns how many rows. `statuses`: the batch's
        pieces' statuses now, by id: a clock whose only change is its expiry, which leaves its piece's board rows
        as they were (`domain.deadlines.counts_after_expiry`: a lapsed délai global de paiement), does not make its
        piece stale."""
        changes: dict[Any, list[dict[str, Any]]] = {}
        current: dict[Any, list[dict[str, Any]]] = {}  # per table, each changed row's values now, by column
        touched: set[int] = set()
        for key, (row, before) in self.rows.items():
            now = _values(row)
            changed = {name: value for name, value in now.items() if name not in before or value != before[name]}
            if not changed:
                continue
            mapper = _mapper_of(row)
            columns = _columns(mapper)
            if mapper.version_id_col is not None:  # the piece's optimistic counter moves as the ORM moves it
                version = next(attr for attr, name in columns.items() if name == mapper.version_id_col.name)
                changed[version] = (before[version] or 0) + 1
                setattr(row, version, changed[version])
                now = _values(row)
            changes.setdefault(mapper.local_table, []).append(
                {"id": row.id, **{columns[attr]: value for attr, value in changed.items()}})
            current.setdefault(mapper.local_table, []).append({columns[attr]: value for attr, value in now.items()})
            if not _expiry_only(row, changed, before, statuses or {}):
                touched.add(row.id if mapper.class_ is Piece else row.piece_id)
            self.rows[key] = (row, now)
        for table, rows in changes.items():
            bulk.update_rows(table, _one_set_of_columns(table, rows, current[table]))
        touched.discard(None)
        board.touch(touched)  # a Core update: the read model's flush hook does not see it
        return sum(len(rows) for rows in changes.values())


def _expiry_only(row, changed: dict[str, Any], before: dict[str, Any], statuses: dict[int, str]) -> bool:
    """The row is an open clock whose only change is its end, and its expiry leaves the read model as it was."""
    return (isinstance(row, Deadline) and changed.keys() == {"done_at"} and before.get("done_at") is None
            and row.piece_id in statuses and clocks.counts_after_expiry(row.kind, statuses[row.piece_id]))


def _one_set_of_columns(table, changes: list[dict[str, Any]], current: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The changes of a table's rows, each completed with its own current values for the columns the others
    changed, so that they make one set of columns (one UPDATE, `bulk.update_rows`) rather than one per combination
    (bench/deadline_sweep.py: a batch changed its pieces in three sets of columns — the status, a clock's start
    instant, both — three UPDATEs of the same table). Rewriting a column with its own value changes nothing:
    the value travels as exactly as a changed one (instants in ISO, amounts as text). A JSON column is never
    rewritten so (its stored text would be re-serialised), nor a column the row did not load: such a row keeps its
    own set."""
    names = set().union(*(row.keys() for row in changes)) - {"id"}
    completed = []
    for change, now in zip(changes, current):
        missing = names - change.keys()
        if missing <= now.keys() and not any(isinstance(table.columns[name].type, JSON) for name in missing):
            change = {**change, **{name: now[name] for name in missing}}
        completed.append(change)
    return completed


_COLUMNS: dict[Any, dict[str, str]] = {}


def _columns(mapper) -> dict[str, str]:
    """A mapped class's attribute names → their columns' names."""
    if mapper not in _COLUMNS:
        _COLUMNS[mapper] = {prop.key: prop.columns[0].name for prop in mapper.column_attrs}
    return _COLUMNS[mapper]


_MAPPERS: dict[type, Any] = {}


def _mapper_of(row):
    """The mapper of an ORM row, or of a plain row's model; kept per class (`inspect` of each row, twice per row and
    batch, was a tenth of the batch's Python in bench/deadline_sweep.py's profile)."""
    kind = type(row)
    mapper = _MAPPERS.get(kind)
    if mapper is None:
        mapper = _MAPPERS[kind] = inspect(row.model if isinstance(row, SweptPiece) else kind)
    return mapper


def _values(row) -> dict[str, Any]:
    """The row's loaded column values by attribute (its instance dict: what the ORM loaded and what was set since),
    a copy."""
    columns = _columns(_mapper_of(row))
    return {attr: value for attr, value in row.__dict__.items() if attr in columns}


@dataclass
class SweepContext(BatchReads):
    """What the deadlines of one batch read (see the module)."""

    pieces: dict[int, Any] = field(default_factory=dict)  # the batch's pieces this transaction locked (SweptPiece)
    seq: dict[int, int] = field(default_factory=dict)  # next event number of each locked piece
    clocks: OpenClocks = field(default_factory=OpenClocks)
    marches: dict[int, Marche] = field(default_factory=dict)  # held: `records.marche_of` finds them in the session
    structures: dict[int, Structure] = field(default_factory=dict)
    audience: dict[Any, Any] = field(default_factory=dict)  # notify's reads: members, preferences
    mails: list[MailMessage] = field(default_factory=list)  # queued here, their outbox rows written by `finish`
    notifications: list[dict] = field(default_factory=list)  # in-app rows, inserted by `finish`
    rows: BatchRows = field(default_factory=BatchRows)  # events, written by `finish`
    adopted: Adopted = field(default_factory=Adopted)  # pieces and clocks read, their changes written by `finish`
    holders: dict[int, int | None] = field(default_factory=dict)  # marché -> its holder's structure
    notices: BatchNotices = field(init=False)  # the clocks' alerts, told through `audience`

    def __post_init__(self) -> None:
        self.notices = BatchNotices(self.audience)

    @classmethod
    def prepare(cls, deadlines: Iterable[Deadline], told: BatchReads | None = None) -> SweepContext:
        """Lock the pieces of these deadlines (those another transaction holds are skipped: `locked` answers None
        for them) and read what their steps need, a statement each: events' numbers, open clocks, marchés, their
        holders, the structures named, their members and preferences, the webhooks' subscribers. `told`: the
        batch's alerts-only expiries (`expiries.Expiries`), whose structures and audience (who they tell, and
        `notify`'s cache) this context shares: what they read is not read again."""
        ctx = cls()
        if told is not None:
            ctx.audience, ctx.notices = told.audience, told.notices
        piece_ids = sorted({row.piece_id for row in deadlines if row.piece_id is not None})
        if not piece_ids:
            return ctx
        if records.is_postgresql():
            # Plain rows (`SweptPiece`), locked SKIP LOCKED; the batch writes their changes itself (`Adopted`).
            attributes = SweptPiece.attributes()
            query = (select(*(getattr(Piece, name) for name in attributes)).where(bulk.among(Piece.id, piece_ids))
                     .order_by(Piece.id).with_for_update(skip_locked=True))
            ctx.pieces = {row.id: SweptPiece(dict(zip(attributes, row))) for row in db.session.execute(query)}
        else:  # SQLite: ORM pieces, flushed by the session (no row locks there, nor adoption)
            ctx.pieces = {piece.id: piece for piece in db.session.scalars(
                select(Piece).where(Piece.id.in_(piece_ids)).order_by(Piece.id)
                .execution_options(populate_existing=True))}
        locked = list(ctx.pieces)
        if not locked:
            return ctx
        ctx.seq = {piece_id: 0 for piece_id in locked}
        ctx.seq.update({piece_id: top + 1 for piece_id, top in db.session.execute(
            select(PieceEvent.piece_id, func.max(PieceEvent.seq)).where(bulk.among(PieceEvent.piece_id, locked))
            .group_by(PieceEvent.piece_id))})
        ctx.clocks = OpenClocks.read(locked)
        marche_ids = {piece.marche_id for piece in ctx.pieces.values()}
        ctx.marches = {row.id: row for row in db.session.scalars(select(Marche).where(
            bulk.among(Marche.id, sorted(marche_ids))))}
        ctx.holders = holders_of(marche_ids)
        named = {piece.emitter_structure_id for piece in ctx.pieces.values()}
        named |= {step["structure_id"] for piece in ctx.pieces.values() for step in piece.route or ()}
        named |= {holder for holder in ctx.holders.values() if holder is not None}
        known = told.structures if told is not None else {}
        ctx.structures = {structure_id: known[structure_id] for structure_id in sorted(named) if structure_id in known}
        unknown = named - known.keys()
        if unknown:
            ctx.structures.update({row.id: row for row in db.session.scalars(
                select(Structure).where(bulk.among(Structure.id, sorted(unknown))))})
        # Who is told: the members and preferences of every structure the batch names, in two queries (the rule
        # stays notifications.members_allowed), together with the expiries' (`Audience.extend`); the webhooks'
        # subscribers of its marchés in one.
        prepared = ctx.audience.get("prepared")
        if prepared is None:
            ctx.audience["prepared"] = Audience(ctx.structures)
        else:
            prepared.extend(ctx.structures)
        webhooks.prefetch_candidates(marche_ids)
        if records.is_postgresql():
            ctx.adopted.adopt([*ctx.pieces.values(), *deadlines,
                               *(row for rows in ctx.clocks.by_piece.values() for row in rows)])
        return ctx

    # -- reads ---------------------------------------------------------------------------------------------------

    def locked(self, piece_id: int) -> Any:
        """The piece, locked for this transaction; None when another transaction holds it (the next sweep)."""
        return self.pieces.get(piece_id)

    def next_seq(self, piece_id: int) -> int | None:
        """The number of the piece's next event (None: a piece this context did not lock; ask the database)."""
        return self.seq.get(piece_id)

    def recorded(self, piece_id: int, seq: int) -> None:
        if piece_id in self.seq:
            self.seq[piece_id] = seq + 1

    # -- writes kept for the end ---------------------------------------------------------------------------------

    def finish(self) -> None:
        """Write what waits for the end of the batch: the changes of the rows it read (pieces, the clocks it closed:
        the ORM's flush, whose updates come before the clocks it opened meet the unique open index), then its
        events and the clocks it opened, one statement each, then the in-app notifications (one statement) and the
        e-mails' rows."""
        from chorus_chain.operations.notifications import write_later

        db.session.flush()
        self.adopted.write({piece_id: piece.status for piece_id, piece in self.pieces.items()})
        for row in self.clocks.new_rows():
            self.rows.add(Deadline, row)
        self.rows.write()
        write_later(self.notifications, self.mails)
