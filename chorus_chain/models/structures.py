"""Structures (the tenants), their members (rattachements), services and bank details."""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import CheckConstraint, ForeignKey, Index, Numeric, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from chorus_chain.domain import rights as rights_rules
from chorus_chain.models.accounts import Account
from chorus_chain.models.base import Base, check_in, utcnow

SIZE_CLASSES = ("micro", "pme", "eti", "ge")
ROUTING_REQUIREMENTS = ("none", "code_service", "engagement", "one_of")
RATTACHEMENT_STATUSES = ("pending", "approved", "refused", "detached")


class Structure(Base):
    __tablename__ = "structure"
    __table_args__ = (
        CheckConstraint(check_in("size_class", SIZE_CLASSES), name="size_class"),
        CheckConstraint(check_in("routing_requirement", ROUTING_REQUIREMENTS), name="routing_requirement"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    siret: Mapped[str] = mapped_column(String(14), unique=True)
    name: Mapped[str] = mapped_column(String(200), index=True)
    is_public: Mapped[bool] = mapped_column(default=False)
    address_line: Mapped[str] = mapped_column(String(200), default="")
    postal_code: Mapped[str] = mapped_column(String(10), default="")
    city: Mapped[str] = mapped_column(String(100), default="")
    vat_number: Mapped[str | None] = mapped_column(String(20))
    size_class: Mapped[str] = mapped_column(String(5), default="pme")
    routing_requirement: Mapped[str] = mapped_column(String(12), default="none")
    # The seller's legal identity a company prints on its invoices and letters (C. com. R. 123-237, CGI ann. II
    # art. 242 nonies A): "SAS", share capital in euros, "RCS Angers 512 345 678" / "RM 49". All optional: a public
    # body or a sole trader may have none of them (domain.legal_identity composes the printed sentence).
    legal_form: Mapped[str | None] = mapped_column(String(60))
    share_capital: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    registration: Mapped[str | None] = mapped_column(String(120))
    gestionnaire_id: Mapped[int] = mapped_column(ForeignKey("account.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    gestionnaire: Mapped[Account] = relationship(lazy="raise")

    @property
    def siret_display(self) -> str:
        s = self.siret
        return f"{s[:3]} {s[3:6]} {s[6:9]} {s[9:]}"


class Rattachement(Base):
    """An account's membership of a structure, with its rights per domain."""

    __tablename__ = "rattachement"
    __table_args__ = (
        UniqueConstraint("account_id", "structure_id", name="account_structure"),
        CheckConstraint(check_in("status", RATTACHEMENT_STATUSES), name="status"),
        *(
            CheckConstraint(check_in(f"right_{d}", rights_rules.LEVELS), name=f"right_{d}")
            for d in rights_rules.DOMAINS
        ),
        Index("ix_rattachement_structure_status", "structure_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id"))
    structure_id: Mapped[int] = mapped_column(ForeignKey("structure.id"))
    status: Mapped[str] = mapped_column(String(10), default="pending")
    message: Mapped[str] = mapped_column(String(500), default="")
    requested_at: Mapped[datetime] = mapped_column(default=utcnow)
    decided_at: Mapped[datetime | None]
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("account.id"))
    right_emises: Mapped[str] = mapped_column(String(12), default="consultation")
    right_travaux: Mapped[str] = mapped_column(String(12), default="consultation")
    right_recues: Mapped[str] = mapped_column(String(12), default="consultation")
    right_organisation: Mapped[str] = mapped_column(String(12), default="none")

    account: Mapped[Account] = relationship(foreign_keys=[account_id], lazy="raise")
    structure: Mapped[Structure] = relationship(lazy="raise")

    def rights(self) -> dict[str, str]:
        return {d: getattr(self, f"right_{d}") for d in rights_rules.DOMAINS}


class Service(Base):
    """A sub-unit of a structure, with the code service suppliers put on their invoices."""

    __tablename__ = "service"
    __table_args__ = (UniqueConstraint("structure_id", "code", name="structure_code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    structure_id: Mapped[int] = mapped_column(ForeignKey("structure.id"), index=True)
    code: Mapped[str] = mapped_column(String(100))
    name: Mapped[str] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(default=True)
    valid_from: Mapped[date | None]
    valid_to: Mapped[date | None]
    engagement_required: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    def is_valid_on(self, day: date) -> bool:
        return (
            self.active
            and (self.valid_from is None or self.valid_from <= day)
            and (self.valid_to is None or day <= self.valid_to)
        )


class ServiceMember(Base):
    __tablename__ = "service_member"
    __table_args__ = (UniqueConstraint("service_id", "account_id", name="service_account"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    service_id: Mapped[int] = mapped_column(ForeignKey("service.id"), index=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id"))

    account: Mapped[Account] = relationship(lazy="raise")


class BankAccount(Base):
    """Coordonnées bancaires. Deactivated, never deleted: past pieces point at them."""

    __tablename__ = "bank_account"

    id: Mapped[int] = mapped_column(primary_key=True)
    structure_id: Mapped[int] = mapped_column(ForeignKey("structure.id"), index=True)
    label: Mapped[str] = mapped_column(String(100))
    iban: Mapped[str] = mapped_column(String(34))  # compact form, no spaces
    bic: Mapped[str] = mapped_column(String(11))
    is_default: Mapped[bool] = mapped_column(default=False)
    affactureur: Mapped[bool] = mapped_column(default=False)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    @property
    def iban_display(self) -> str:
        return " ".join(self.iban[i : i + 4] for i in range(0, len(self.iban), 4))

    @property
    def iban_masked(self) -> str:
        return f"{self.iban[:4]} •••• •••• {self.iban[-4:]}"
