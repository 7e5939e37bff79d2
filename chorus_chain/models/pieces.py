"""Pièces de facturation: the piece itself, its files (stored in the database), its hash-chained events and the access
rows that say which structures see it (DESIGN.md §3 rules 4 and 5).

- `Piece`: one invoice, credit note or projet de décompte of a marché. Its route (who acts after the deposit) is
  frozen at the deposit from the chain graph; its deposited facts (number, amounts, main file) can never change once
  it left the draft (a PostgreSQL trigger refuses it, see migration 0003). `version` is an optimistic-concurrency
  counter (SQLAlchemy `version_id_col`); on PostgreSQL the operations also lock the row (`SELECT ... FOR UPDATE`).
- `StoredFile`: the bytes, addressed by SHA-256 (one row per distinct content). In the database, so that a
  rolled-back deposit leaves nothing behind; append-only (trigger).
- `PieceFile`: a file of a piece (main PDF, attachment, completion) pointing at its stored content.
- `PieceEvent`: append-only (trigger), one per status change, hash-chained per piece (`domain.audit_chain`); the
  piece keeps the last hash (`head_hash`) so that a chain cut short is caught by `flask audit verify`.
- `PieceAccess`: one row per (piece, structure) that may see the piece, written from the graph at the deposit. The
  ORM criteria (`chorus_chain.access`) and PostgreSQL's row-level security both read it.
"""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    JSON,
    CheckConstraint,
    ForeignKey,
    Index,
    LargeBinary,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from chorus_chain.domain.amounts import PIECE_TYPES
from chorus_chain.domain.cadres import CADRES
from chorus_chain.domain.statuses import ALL_STATUSES
from chorus_chain.models.accounts import Account
from chorus_chain.models.base import Base, check_in, utcnow
from chorus_chain.models.marches import Marche, MarcheParty
from chorus_chain.models.structures import BankAccount, Structure

Money = Numeric(14, 2)
STATUS_LENGTH = 50
VAT_REGIMES = ("normal", "autoliquidation")
# Chorus Pro's payment modes (ESPECE and REPORT left out: no public works payment is made so).
PAYMENT_MODES = ("virement", "prelevement", "cheque", "autre")
PAYMENT_MODE_LABELS = {"virement": "Virement", "prelevement": "Prélèvement", "cheque": "Chèque", "autre": "Autre"}
FILE_ROLES = ("main", "attachment", "completion")
# Why a structure sees a piece: the emitter, a step of its route, the holder of the marché who signs a décompte
# général ("titulaire"), or a contractor above the emitter that is not on the route ("contractor_above").
ACCESS_REASONS = ("emitter", "validation_1", "validation_2", "moe", "moa", "paiement", "contractor", "titulaire",
                  "contractor_above")


class StoredFile(Base):
    """The bytes of a file, once per distinct content (SHA-256). Never updated nor deleted (trigger)."""

    __tablename__ = "stored_file"

    id: Mapped[int] = mapped_column(primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    size: Mapped[int]
    content: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class PieceRules:
    """What a piece answers from its `status` and `route`, for the model and for the plain rows the dashboards read
    instead of it (`dashboard.ClockPiece`, `tracker.reading.SentPiece`): written once."""

    __slots__ = ()

    @property
    def route_steps(self) -> tuple[str, ...]:
        """The step names of the frozen route, in order (empty for a draft)."""
        return tuple(step["step"] for step in self.route or ())

    @property
    def is_draft(self) -> bool:
        return self.status == "BROUILLON"


class Piece(PieceRules, Base):
    __tablename__ = "piece"
    __table_args__ = (
        # A number is unique per depositor, case ignored, among every piece it ever created: never reused.
        UniqueConstraint("emitter_structure_id", "number_key", name="uq_piece_emitter_number"),
        CheckConstraint(check_in("status", ALL_STATUSES), name="status"),
        CheckConstraint(check_in("piece_type", PIECE_TYPES), name="piece_type"),
        CheckConstraint(check_in("vat_regime", VAT_REGIMES), name="vat_regime"),
        CheckConstraint(check_in("payment_mode", PAYMENT_MODES), name="payment_mode"),
        CheckConstraint(f"cadre IS NULL OR {check_in('cadre', CADRES)}", name="cadre"),
        CheckConstraint("montant_ht >= 0 AND montant_tva >= 0 AND montant_ttc >= 0", name="amounts"),
        CheckConstraint("vat_regime = 'normal' OR montant_tva = 0", name="autoliquidation_without_vat"),
        CheckConstraint("status = 'BROUILLON' OR (deposited_at IS NOT NULL AND route IS NOT NULL)",
                        name="deposited"),
        CheckConstraint("version >= 1", name="version"),
        Index("ix_piece_marche_status", "marche_id", "status"),
        Index("ix_piece_dossier_number", "dossier_number"),
        # A party's pieces (the titulaire's view of its sous-traitants' money, the payment tracker).
        Index("ix_piece_emitter_party", "emitter_party_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    marche_id: Mapped[int] = mapped_column(ForeignKey("marche.id"))
    emitter_party_id: Mapped[int] = mapped_column(ForeignKey("marche_party.id"))
    emitter_structure_id: Mapped[int] = mapped_column(ForeignKey("structure.id"))
    cadre: Mapped[str | None] = mapped_column(String(3))  # None: a private invoice (rang 2+, no paiement direct)
    works: Mapped[bool]  # a works piece (rights domain "travaux"; never refused for an amount disagreement)
    piece_type: Mapped[str] = mapped_column(String(7), default="FACTURE")
    number: Mapped[str] = mapped_column(String(20))
    number_key: Mapped[str] = mapped_column(String(20))  # domain.numbering.number_key: upper case
    status: Mapped[str] = mapped_column(String(STATUS_LENGTH), default="BROUILLON")
    # Frozen at the deposit: [{"party_id", "structure_id", "siret", "role", "step"}, ...] (graph.route)
    route: Mapped[list | None] = mapped_column(JSON)
    montant_ht: Mapped[Decimal] = mapped_column(Money)
    montant_tva: Mapped[Decimal] = mapped_column(Money)
    montant_ttc: Mapped[Decimal] = mapped_column(Money)
    vat_regime: Mapped[str] = mapped_column(String(15), default="normal")
    accepted_amount: Mapped[Decimal | None] = mapped_column(Money)  # partial validation, or the MOE's admitted amount
    # Why accepted_amount differs from montant_ttc, written by the operation that decided it (domain.amount_why):
    # every page explains a piece's two amounts from its row alone.
    accepted_why: Mapped[dict | None] = mapped_column(JSON)
    issue_date: Mapped[date]
    recipient_siret: Mapped[str] = mapped_column(String(14))
    service_code: Mapped[str | None] = mapped_column(String(100))
    engagement_number: Mapped[str | None] = mapped_column(String(50))  # ≤ 50 characters [sure]
    bank_account_id: Mapped[int | None] = mapped_column(ForeignKey("bank_account.id"))
    payment_mode: Mapped[str] = mapped_column(String(12), default="virement")
    original_piece_id: Mapped[int | None] = mapped_column(ForeignKey("piece.id"))  # the invoice a credit note credits
    previous_piece_id: Mapped[int | None] = mapped_column(ForeignKey("piece.id"))  # the piece this one follows
    dossier_number: Mapped[str | None] = mapped_column(String(20))  # DOS-YYYY-NNNNNN, shared by a dossier's pieces
    main_sha256: Mapped[str | None] = mapped_column(String(64))  # the main PDF, immutable once deposited
    deposited_at: Mapped[datetime | None]
    received_by_moe_at: Mapped[datetime | None]
    received_at: Mapped[datetime | None]  # start of the current délai global de paiement
    paid_on: Mapped[date | None]
    paid_amount: Mapped[Decimal | None] = mapped_column(Money)
    head_hash: Mapped[str | None] = mapped_column(String(64))  # hash of the last event
    version: Mapped[int] = mapped_column(default=1)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("account.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    __mapper_args__ = {"version_id_col": version}

    marche: Mapped[Marche] = relationship(lazy="raise")
    emitter_party: Mapped[MarcheParty] = relationship(lazy="raise")
    emitter_structure: Mapped[Structure] = relationship(lazy="raise")
    bank_account: Mapped[BankAccount | None] = relationship(lazy="raise")
    created_by: Mapped[Account] = relationship(lazy="raise")
    original: Mapped[Piece | None] = relationship(foreign_keys=[original_piece_id], remote_side=[id], lazy="raise")
    previous: Mapped[Piece | None] = relationship(foreign_keys=[previous_piece_id], remote_side=[id], lazy="raise")
    files: Mapped[list[PieceFile]] = relationship(back_populates="piece", lazy="raise", order_by="PieceFile.id")


class PieceFile(Base):
    __tablename__ = "piece_file"
    __table_args__ = (
        CheckConstraint(check_in("role", FILE_ROLES), name="role"),
        CheckConstraint("size > 0", name="size"),
        # One main document per piece.
        Index("ux_piece_file_main", "piece_id", unique=True, postgresql_where=text("role = 'main'"),
              sqlite_where=text("role = 'main'")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    piece_id: Mapped[int] = mapped_column(ForeignKey("piece.id"), index=True)
    role: Mapped[str] = mapped_column(String(12))
    name: Mapped[str] = mapped_column(String(100))
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int]
    sha256: Mapped[str] = mapped_column(ForeignKey("stored_file.sha256"))
    added_by_id: Mapped[int | None] = mapped_column(ForeignKey("account.id"))
    added_at: Mapped[datetime] = mapped_column(default=utcnow)

    piece: Mapped[Piece] = relationship(back_populates="files", lazy="raise")


class PieceEvent(Base):
    """One status change (or the draft's creation, or an acknowledgement), never updated nor deleted (trigger).

    Everything the hash covers is a column of the row itself (the actor's e-mail and SIRET as they were), so that
    `flask audit verify` rebuilds the payload from this row alone (`operations.pieces_records.payload_of`)."""

    __tablename__ = "piece_event"
    __table_args__ = (
        UniqueConstraint("piece_id", "seq", name="uq_piece_event_piece_seq"),
        CheckConstraint(check_in("to_status", ALL_STATUSES), name="to_status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    piece_id: Mapped[int] = mapped_column(ForeignKey("piece.id"))
    seq: Mapped[int]  # 0 for the creation of the draft
    at: Mapped[datetime]
    account_id: Mapped[int | None] = mapped_column(ForeignKey("account.id"))  # None: the system
    actor: Mapped[str] = mapped_column(String(254))  # the account's e-mail at the time, or "system"
    structure_id: Mapped[int | None] = mapped_column(ForeignKey("structure.id"))
    actor_siret: Mapped[str | None] = mapped_column(String(14))
    actor_step: Mapped[str] = mapped_column(String(20))  # emitter, a route step, titulaire or system
    action: Mapped[str] = mapped_column(String(30))
    from_status: Mapped[str | None] = mapped_column(String(STATUS_LENGTH))
    to_status: Mapped[str] = mapped_column(String(STATUS_LENGTH))
    reason: Mapped[str | None] = mapped_column(String(1000))
    comment: Mapped[str | None] = mapped_column(Text)
    amount: Mapped[Decimal | None] = mapped_column(Money)
    paid_on: Mapped[date | None]
    extra: Mapped[dict | None] = mapped_column(JSON)  # action-specific facts (deposited amounts, file hashes...)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class PieceAccess(Base):
    """A structure that may see a piece. `reason` is its main reason; `roles` every actor name it holds on the
    piece, space-separated and padded (" moa paiement "), which the "à traiter" box matches against the status."""

    __tablename__ = "piece_access"
    __table_args__ = (
        UniqueConstraint("piece_id", "structure_id", name="uq_piece_access_piece_structure"),
        CheckConstraint(check_in("reason", ACCESS_REASONS), name="reason"),
        Index("ix_piece_access_structure", "structure_id", "piece_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    piece_id: Mapped[int] = mapped_column(ForeignKey("piece.id"))
    structure_id: Mapped[int] = mapped_column(ForeignKey("structure.id"))
    reason: Mapped[str] = mapped_column(String(20))
    roles: Mapped[str] = mapped_column(String(120), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
