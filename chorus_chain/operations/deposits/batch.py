"""A batch of new pieces (the API's « flux »), each created and sent, or refused with its reasons and nothing left of
it, through the portal's own steps (`pieces_drafts`: prepare_draft, prepare_files, check_deposit, route_deposit,
record_deposit — the single `create_draft` and `deposit` run the same steps for one piece).

Set-based on PostgreSQL: every piece is checked before anything is written (a refused piece never reaches the
database), the accepted ones are numbered in one allocation (their ids drawn from the sequence in one statement),
then written together — the pieces in one INSERT, their files in one, their access rows in one, their events,
clocks, statuses, notifications and e-mails in one flush. The writes run in a savepoint: should the database still
refuse them (another request took one of the numbers at the same instant), the batch starts again one piece at a
time, each in its own savepoint, and the piece that lost the race is refused like any duplicate. Elsewhere (SQLite)
the batch runs one piece at a time.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from chorus_chain.extensions import db
from chorus_chain.models import Account, Piece, Structure
from chorus_chain.operations import OperationError
from chorus_chain.operations import pieces_drafts as drafts
from chorus_chain.operations import pieces_records as records
from chorus_chain.operations.deposits.context import DepositContext


@dataclass
class Item:
    """One piece of a batch: the draft form's fields (`create_draft`'s `raw`), its files, and whether to send it."""

    marche_id: int
    raw: Mapping[str, Any]
    main_file: drafts.UploadedFile | None = None
    attachments: list[drafts.UploadedFile] = field(default_factory=list)
    send: bool = False


@dataclass
class Outcome:
    """What became of an item: the piece created (and sent), or the refusal (an OperationError; a PreflightRefused
    lists every problem)."""

    piece: Piece | None
    error: OperationError | None = None


def create_many(account: Account, structure: Structure, items: Sequence[Item], *, now: datetime,
                ctx: DepositContext) -> list[Outcome]:
    """Create (and send) each item as `create_draft` and `deposit` would, one outcome per item in order. Rights as
    theirs (the caller checks them). The caller calls `ctx.finish()` at the end."""
    if not items:
        return []
    if not records.is_postgresql():
        return [_one(account, structure, item, now, ctx) for item in items]
    ids = allocate_piece_ids(len(items))
    outcomes: list[Outcome | None] = [None] * len(items)
    accepted: list[tuple[Piece, list, Any]] = []
    for index, (item, piece_id) in enumerate(zip(items, ids, strict=True)):
        mark = ctx.mark()
        try:
            piece, rows, route_ctx = _checked(account, structure, item, piece_id, now, ctx)
        except OperationError as error:
            ctx.rolled_back(mark, written=False)
            outcomes[index] = Outcome(None, error)
            continue
        accepted.append((piece, rows, route_ctx))
        outcomes[index] = Outcome(piece)
    try:
        with db.session.begin_nested():
            _write(account, structure, accepted, now, ctx)
    except IntegrityError:
        # Another request used one of the numbers since they were checked: one piece at a time, each refused or
        # created on its own (ids drawn above and not used are a gap in the sequence, as after any rollback).
        retry = DepositContext(structure)
        outcomes = [_one(account, structure, item, now, retry) for item in items]
        ctx.mails, ctx.notifications = retry.mails, retry.notifications
    return outcomes


def allocate_piece_ids(count: int) -> list[int]:
    """`count` new ids of the piece table's sequence, in one statement."""
    sequence = func.pg_get_serial_sequence("piece", "id")
    return list(db.session.scalars(select(func.nextval(sequence)).select_from(func.generate_series(1, count))))


def _checked(account: Account, structure: Structure, item: Item, piece_id: int, now: datetime,
             ctx: DepositContext) -> tuple[Piece, list, Any]:
    """The piece built and checked (the draft's form, its files, the pre-flight check when it is sent): nothing
    written; what `_write` needs."""
    piece = drafts.prepare_draft(account, structure, item.marche_id, item.raw, now=now, ctx=ctx)
    piece.id = piece_id
    ctx.created(piece)
    rows: list = []
    if item.main_file is not None:
        rows += drafts.prepare_files(piece, [item.main_file], role="main", account=account, now=now,
                                     existing=[])[0]
    if item.attachments:
        rows += drafts.prepare_files(piece, item.attachments, role="attachment", account=account, now=now,
                                     existing=[row for row, _ in rows])[0]
    ctx.files[piece.id] = [row for row, _ in rows]
    ctx.contents.update({row.sha256: content for row, content in rows})
    route_ctx = None
    if item.send:
        route_ctx = drafts.check_deposit(piece, now, ctx)
        # The next pieces' checks count this one, not yet written: the DC4 ceiling, a credit note's invoice.
        ctx.count_asked(piece)
        if piece.piece_type == "AVOIR" and piece.original_piece_id is not None:
            ctx.pending_credit[piece.original_piece_id] = \
                ctx.pending_credit.get(piece.original_piece_id, Decimal("0")) + piece.montant_ttc
    return piece, rows, route_ctx


def _write(account: Account, structure: Structure, accepted: list[tuple[Piece, list, Any]], now: datetime,
           ctx: DepositContext) -> None:
    if not accepted:
        return
    db.session.add_all([piece for piece, _, _ in accepted])
    db.session.flush()  # the pieces first: everything below points at them
    drafts.store_files([row for _, rows, _ in accepted for row in rows], now=now, ctx=ctx)
    db.session.flush()  # the files' ids: the deposit's event covers the files in their order
    access: list[dict[str, Any]] = []
    sent = []
    with db.session.no_autoflush:
        for piece, _, route_ctx in accepted:
            drafts.record_creation(piece, account, structure, now, ctx)
            if route_ctx is not None:
                transitions, rows = drafts.route_deposit(piece, route_ctx, now)
                access += rows
                sent.append((piece, transitions))
        ctx.pending_credit.clear()  # written below: the database counts them from here on
        records.insert_access(access)  # before the transitions: their webhooks ask who sees the piece
        for piece, transitions in sent:
            drafts.record_deposit(piece, transitions, account=account, structure=structure, now=now, ctx=ctx)
    records.flush_piece()


def _one(account: Account, structure: Structure, item: Item, now: datetime, ctx: DepositContext) -> Outcome:
    """One item in its own savepoint: `create_draft` then `deposit`, or refused with nothing left of it."""
    mark = ctx.mark()
    savepoint = db.session.begin_nested()
    try:
        piece = drafts.create_draft(account, structure, item.marche_id, item.raw, main_file=item.main_file,
                                    attachments=item.attachments, now=now, ctx=ctx)
        if item.send:
            piece = drafts.deposit(piece.id, account, structure, now=now, ctx=ctx)
    except OperationError as error:
        savepoint.rollback()
        ctx.rolled_back(mark)
        return Outcome(None, error)
    savepoint.commit()
    return Outcome(piece)
