"""The décompte général as documents (issue 12, end of contract): one row per final état, following it from the
MOE's projet de décompte général (A17) to the MOA's décompte général (A20), the titulaire's signature and the
décompte général et définitif (A8) the paying office pays.

Why a row of its own rather than columns of `etat_acompte`: only the final état has it, and what it holds — the
signature deadline (a legal instant), the signature and the mémoire en réclamation with the amount still in dispute —
belongs to the end of contract, not to a monthly acompte. The money stays the engine's: the final état's frozen
result (`EtatAcompte.result`) and the payable lines written at the signature (`PayableLine`, on the final état).

- `signature_due_at`: the notification of the DG plus 30 days (CCAG Travaux 2021 art. 12.4, `domain.deadlines`
  DG_SIGNATURE); the same instant as the clock that opens on the A20.
- `signature`: "sans_reserve" | "avec_reserves" (signed by the holder), "tacite" (deemed accepted: the clock ran out).
- With reservations: `reservations` (the mémoire's text), `claimed_amount` (the sums the titulaire claims beyond the
  DG: the disputed part, never paid through the lines), `memoire_file_id` (its optional file, attached to the A8),
  `dispute_status` "open" while nobody settled it.
"""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import CheckConstraint, ForeignKey, Numeric, String
from sqlalchemy.orm import Mapped, mapped_column

from chorus_chain.models.base import Base, check_in, utcnow

SIGNATURES = ("sans_reserve", "avec_reserves", "tacite")
DISPUTE_STATUSES = ("open",)
RESERVATIONS_MAX = 4000


class DecompteGeneral(Base):
    __tablename__ = "decompte_general"
    __table_args__ = (
        CheckConstraint(f"signature IS NULL OR {check_in('signature', SIGNATURES)}", name="signature"),
        # Reservations come with their mémoire (text and amount claimed); nothing else has one.
        CheckConstraint(f"dispute_status IS NULL OR {check_in('dispute_status', DISPUTE_STATUSES)}",
                        name="dispute_status"),
        CheckConstraint("COALESCE(signature, '') = 'avec_reserves' OR (reservations IS NULL AND claimed_amount IS NULL"
                        " AND dispute_status IS NULL)", name="no_reservations"),
        CheckConstraint("COALESCE(signature, '') <> 'avec_reserves' OR (reservations IS NOT NULL AND claimed_amount "
                        "IS NOT NULL)", name="reservations"),
        CheckConstraint("claimed_amount IS NULL OR claimed_amount > 0", name="claimed_amount"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    marche_id: Mapped[int] = mapped_column(ForeignKey("marche.id"), index=True)
    etat_acompte_id: Mapped[int] = mapped_column(ForeignKey("etat_acompte.id"), unique=True)  # the final état
    pdg_piece_id: Mapped[int] = mapped_column(ForeignKey("piece.id"))  # the MOE's A17
    pdg_at: Mapped[datetime] = mapped_column(default=utcnow)
    pdg_by_id: Mapped[int] = mapped_column(ForeignKey("account.id"))
    dg_piece_id: Mapped[int | None] = mapped_column(ForeignKey("piece.id"))  # the MOA's A20
    dg_notified_at: Mapped[datetime | None]
    dg_by_id: Mapped[int | None] = mapped_column(ForeignKey("account.id"))
    signature_due_at: Mapped[datetime | None]
    signature: Mapped[str | None] = mapped_column(String(15))
    signed_at: Mapped[datetime | None]
    signed_by_id: Mapped[int | None] = mapped_column(ForeignKey("account.id"))
    dgd_piece_id: Mapped[int | None] = mapped_column(ForeignKey("piece.id"))  # the A8 to the paying office
    reservations: Mapped[str | None] = mapped_column(String(RESERVATIONS_MAX))
    claimed_amount: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    memoire_file_id: Mapped[int | None] = mapped_column(ForeignKey("piece_file.id"))
    dispute_status: Mapped[str | None] = mapped_column(String(10))

    @property
    def signed(self) -> bool:
        return self.signature is not None
