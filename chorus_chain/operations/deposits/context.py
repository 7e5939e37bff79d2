"""The prepared context of deposits: what one structure's deposits in one request read, read once.

Nothing here decides anything: the rules stay in `pieces_drafts` (the form, the pre-flight check, the deposit),
`pieces_records` (events, clocks, access rows, notifications) and the domain. The context only answers the reads
those rules make, and remembers what they wrote about the pieces created through it (their files, their events'
numbers), so that a batch of a hundred pieces on one marché asks the database once for what is the same for all.

Its answers are valid for the request that made it: a context is never kept beyond one.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import case, func, select

from chorus_chain.extensions import db
from chorus_chain.models import (
    BankAccount,
    MailMessage,
    Piece,
    PieceFile,
    Service,
    Structure,
)


@dataclass
class DepositContext:
    """What the deposits of `structure` in this request read (see the module)."""

    structure: Structure
    structures: dict[int, Structure] = field(default_factory=dict)
    services: dict[tuple[int, str], Service | None] = field(default_factory=dict)
    files: dict[int, list[PieceFile]] = field(default_factory=dict)  # by piece id: every file of the piece
    contents: dict[str, bytes] = field(default_factory=dict)  # by SHA-256: the bytes of the files added here
    new_pieces: set[int] = field(default_factory=set)  # created through this context: no décompte, no other writer
    seq: dict[int, int] = field(default_factory=dict)  # next event number of a piece whose events are counted here
    lines: dict[int, bool] = field(default_factory=dict)  # party id → whether the bordereau gives it lines
    asked: dict[int, Decimal] = field(default_factory=dict)  # party id → TTC asked on the marché (DC4 ceiling)
    pending_credit: dict[int, Decimal] = field(default_factory=dict)  # invoice id → TTC credited by a batch's
    # credit notes checked and not yet written (`deposits.batch`)
    audience: dict[Any, Any] = field(default_factory=dict)  # notify's reads: members, preferences
    numbers: dict[str, Piece | None] = field(default_factory=dict)  # number key → the piece that uses it
    mails: list[MailMessage] = field(default_factory=list)  # queued here, their outbox rows written by `finish`
    notifications: list[dict] = field(default_factory=list)  # in-app rows, inserted by `finish`
    created_ids: list[int] = field(default_factory=list)  # the pieces created here, in order
    pieces: dict[int, Piece] = field(default_factory=dict)  # the pieces created here, held
    stored: set[str] = field(default_factory=set)  # SHA-256 of the file contents stored in this transaction
    _bank_accounts: dict[int, BankAccount] | None = None

    # -- reads ---------------------------------------------------------------------------------------------------

    def structure_of(self, structure_id: int) -> Structure:
        if structure_id == self.structure.id:
            return self.structure
        if structure_id not in self.structures:
            self.structures[structure_id] = db.session.get(Structure, structure_id)
        return self.structures[structure_id]

    def bank_account(self, bank_account_id: int) -> BankAccount | None:
        """One of the structure's bank accounts (all read at once), or None when it is not one of them."""
        if self._bank_accounts is None:
            self._bank_accounts = {row.id: row for row in db.session.scalars(
                select(BankAccount).where(BankAccount.structure_id == self.structure.id))}
        return self._bank_accounts.get(bank_account_id)

    def service(self, structure_id: int, code: str) -> Service | None:
        """The recipient's service of that code: all its services read at once."""
        if (structure_id, code) not in self.services:
            for row in db.session.scalars(select(Service).where(Service.structure_id == structure_id)):
                self.services[(structure_id, row.code)] = row
            self.services.setdefault((structure_id, code), None)
        return self.services[(structure_id, code)]

    def files_of(self, piece_id: int) -> list[PieceFile]:
        if piece_id not in self.files:
            self.files[piece_id] = list(db.session.scalars(
                select(PieceFile).where(PieceFile.piece_id == piece_id).order_by(PieceFile.id)))
        return self.files[piece_id]

    def number_user(self, structure_id: int, key: str) -> Piece | None:
        """The piece of the structure using this number key (`prefetch_numbers` reads a batch's keys at once)."""
        if key not in self.numbers:
            self.prefetch_numbers(structure_id, [key])
        return self.numbers[key]

    def prefetch_numbers(self, structure_id: int, keys: Iterable[str]) -> None:
        keys = [key for key in set(keys) if key not in self.numbers]
        if not keys:
            return
        for piece in db.session.scalars(select(Piece).where(Piece.emitter_structure_id == structure_id,
                                                            Piece.number_key.in_(keys))):
            self.numbers[piece.number_key] = piece
        for key in keys:
            self.numbers.setdefault(key, None)

    def asked_ttc(self, party_id: int, not_counted: Iterable[str]) -> Decimal:
        """What a party has asked on its marché (signed TTC of its pieces not in the `not_counted` statuses): read
        once, then kept up to date by `count_asked` as this context deposits its pieces."""
        if party_id not in self.asked:
            signed = case((Piece.piece_type == "AVOIR", -Piece.montant_ttc), else_=Piece.montant_ttc)
            self.asked[party_id] = Decimal(db.session.scalar(select(func.coalesce(func.sum(signed), 0)).where(
                Piece.emitter_party_id == party_id, Piece.status.not_in(list(not_counted)))) or 0)
        return self.asked[party_id]

    # -- what the operations tell it -----------------------------------------------------------------------------

    def created(self, piece: Piece) -> None:
        """A piece created through this context: it has no file, no décompte and one event to come (seq 0)."""
        self.new_pieces.add(piece.id)
        self.pieces[piece.id] = piece
        self.created_ids.append(piece.id)
        self.files[piece.id] = []
        self.seq[piece.id] = 0
        self.numbers[piece.number_key] = piece

    def next_seq(self, piece_id: int) -> int | None:
        """The number of the piece's next event when this context counts them (None: ask the database)."""
        return self.seq.get(piece_id)

    def recorded(self, piece_id: int, seq: int) -> None:
        if piece_id in self.seq:
            self.seq[piece_id] = seq + 1

    def count_asked(self, piece: Piece) -> None:
        if piece.emitter_party_id in self.asked:
            signed = -piece.montant_ttc if piece.piece_type == "AVOIR" else piece.montant_ttc
            self.asked[piece.emitter_party_id] += signed

    def mark(self) -> tuple[int, int, int]:
        """Where a savepoint (or the check of a batch's piece) starts (see `rolled_back`)."""
        return len(self.mails), len(self.created_ids), len(self.notifications)

    def rolled_back(self, mark: tuple[int, int, int], *, written: bool = True) -> None:
        """What started at `mark` is undone: what was remembered of it is forgotten (its pieces' files, events and
        numbers, its e-mails and in-app rows). `written`: a savepoint was rolled back, so what the database holds
        changed too (the contents stored, the amounts asked: read again if needed)."""
        mails, created, notifications = mark
        del self.mails[mails:]
        del self.notifications[notifications:]
        gone = set(self.created_ids[created:])
        del self.created_ids[created:]
        self.new_pieces -= gone
        if written:
            self.stored.clear()
            self.asked.clear()
        for piece_id in gone:
            self.pieces.pop(piece_id, None)
            self.files.pop(piece_id, None)
            self.seq.pop(piece_id, None)
        self.numbers = {key: piece for key, piece in self.numbers.items() if piece is None or piece.id not in gone}

    # -- writes kept for the end ---------------------------------------------------------------------------------

    def finish(self) -> None:
        """Write what waits for the end: the in-app notifications (one INSERT), the outbox rows of the e-mails
        queued here (`notifications.write_later`)."""
        from chorus_chain.operations.notifications import write_later

        write_later(self.notifications, self.mails)
