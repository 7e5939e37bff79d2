"""The API's rows: clients of a structure (OAuth2 client credentials), their short-lived tokens, the answers kept for
`Idempotency-Key` replays, and the journal of every call (who, what, when, how it ended).

Secrets and tokens are random (256 bits) and stored as their SHA-256 only: a slow password hash buys nothing against
a secret nobody chose, and the token check runs on every call.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from chorus_chain.domain import rights as rights_rules
from chorus_chain.models.accounts import Account
from chorus_chain.models.base import Base, check_in, utcnow
from chorus_chain.models.structures import Structure


class ApiClient(Base):
    """A program acting for one structure, with rights among the portal's (never more than the gestionnaire's)."""

    __tablename__ = "api_client"
    __table_args__ = tuple(
        CheckConstraint(check_in(f"right_{d}", rights_rules.LEVELS), name=f"right_{d}") for d in rights_rules.DOMAINS
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    structure_id: Mapped[int] = mapped_column(ForeignKey("structure.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    client_id: Mapped[str] = mapped_column(String(40), unique=True)  # public identifier ("cc_...")
    secret_hash: Mapped[str] = mapped_column(String(64))  # SHA-256 hex of the secret shown once
    right_emises: Mapped[str] = mapped_column(String(12), default="none")
    right_travaux: Mapped[str] = mapped_column(String(12), default="none")
    right_recues: Mapped[str] = mapped_column(String(12), default="none")
    right_organisation: Mapped[str] = mapped_column(String(12), default="none")
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    created_by_id: Mapped[int] = mapped_column(ForeignKey("account.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None]

    structure: Mapped[Structure] = relationship(lazy="raise")
    created_by: Mapped[Account] = relationship(lazy="raise")

    def rights(self) -> dict[str, str]:
        return {d: getattr(self, f"right_{d}") for d in rights_rules.DOMAINS}

    def active(self, now: datetime) -> bool:
        return self.revoked_at is None and self.expires_at > now


class ApiToken(Base):
    """A bearer token (client credentials grant): valid until `expires_at` and while its client is active."""

    __tablename__ = "api_token"

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("api_client.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    expires_at: Mapped[datetime]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    client: Mapped[ApiClient] = relationship(lazy="raise")


class ApiIdempotencyKey(Base):
    """The first answer to a POST carrying an `Idempotency-Key`: a replay gets it back, another body is refused."""

    __tablename__ = "api_idempotency_key"
    __table_args__ = (UniqueConstraint("client_id", "key", name="uq_api_idempotency_client_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("api_client.id"))
    key: Mapped[str] = mapped_column(String(200))
    request_hash: Mapped[str] = mapped_column(String(64))  # SHA-256 of method, path and body
    status_code: Mapped[int]
    content_type: Mapped[str] = mapped_column(String(100))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ApiCall(Base):
    """One call of the API, journalled with the client's name as it was (the client may be renamed or revoked)."""

    __tablename__ = "api_call"
    __table_args__ = (
        Index("ix_api_call_structure_at", "structure_id", "at"),
        CheckConstraint("status_code >= 100", name="status_code"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    structure_id: Mapped[int] = mapped_column(ForeignKey("structure.id"))
    client_id: Mapped[int] = mapped_column(ForeignKey("api_client.id"), index=True)
    client_name: Mapped[str] = mapped_column(String(100))
    method: Mapped[str] = mapped_column(String(10))
    path: Mapped[str] = mapped_column(String(300))
    status_code: Mapped[int]
    at: Mapped[datetime] = mapped_column(default=utcnow)


class DepositBatch(Base):
    """A batch deposit (a « flux »): one request, many pieces, each with its own result (`items`: [{"index",
    "reference", "status": "created" | "refused", "piece_id", "number", "problems": [{"field", "message"}]}]).
    Shown in the portal (« Dépôts par lot ») as well as answered to the client."""

    __tablename__ = "deposit_batch"
    __table_args__ = (Index("ix_deposit_batch_structure_at", "structure_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    structure_id: Mapped[int] = mapped_column(ForeignKey("structure.id"))
    client_id: Mapped[int | None] = mapped_column(ForeignKey("api_client.id"))
    client_name: Mapped[str] = mapped_column(String(100))
    source: Mapped[str] = mapped_column(String(10))  # "json" or "zip"
    total: Mapped[int]
    created: Mapped[int]
    refused: Mapped[int]
    items: Mapped[list] = mapped_column(JSON)
    at: Mapped[datetime] = mapped_column(default=utcnow)
