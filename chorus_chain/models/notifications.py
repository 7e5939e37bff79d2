"""In-app notifications (the bell) and each account's preferences per kind of notification.

A notification belongs to one account *as a member of one structure* (the tenant): the bell of /s/<siret>/ shows the
notifications of that structure only, and PostgreSQL's row-level security keeps it so (migration 0003).
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from chorus_chain.models.base import Base, check_in, utcnow

# kind → French label (the preferences page lists them in this order).
NOTIFICATION_KINDS: dict[str, str] = {
    "piece_to_act": "Une pièce attend une action de votre structure",
    "piece_status": "Une pièce de votre structure change de statut",
    "deadline_reminder": "Rappel avant une échéance",
    "deadline_expired": "Échéance dépassée (validation tacite, retard, paiement en retard)",
    "receipt_slip": "Un paiement attendu recule de plus d'une semaine (Trésorerie)",
}


class Notification(Base):
    __tablename__ = "notification"
    __table_args__ = (
        CheckConstraint(check_in("kind", NOTIFICATION_KINDS), name="kind"),
        Index("ix_notification_account_structure", "account_id", "structure_id", "read_at"),
        # The bell's panel: an account's unread notifications in a structure, newest first — read backwards, the
        # five it shows, not every unread one sorted (issue 20; migration 0028).
        Index("ix_notification_unread", "account_id", "structure_id", "created_at", "id",
              postgresql_where=text("read_at IS NULL"), sqlite_where=text("read_at IS NULL")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id"))
    structure_id: Mapped[int] = mapped_column(ForeignKey("structure.id"))
    piece_id: Mapped[int | None] = mapped_column(ForeignKey("piece.id"), index=True)
    kind: Mapped[str] = mapped_column(String(30))
    text: Mapped[str] = mapped_column(String(500))
    url: Mapped[str] = mapped_column(String(300), default="")  # a path inside the application (/s/<siret>/...)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    read_at: Mapped[datetime | None]
    # A digest of the deadline sweep (`operations.bell_digest`): its pieces' own lines, [{piece_id, text, url}];
    # None for a notification about one piece.
    items: Mapped[list | None] = mapped_column(JSON)


class NotificationPreference(Base):
    """How an account wants one kind of notification; no row = both in-app and by e-mail."""

    __tablename__ = "notification_preference"
    __table_args__ = (
        UniqueConstraint("account_id", "kind", name="uq_notification_preference_account_kind"),
        CheckConstraint(check_in("kind", NOTIFICATION_KINDS), name="kind"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id"))
    kind: Mapped[str] = mapped_column(String(30))
    by_email: Mapped[bool] = mapped_column(default=True)
    in_app: Mapped[bool] = mapped_column(default=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
