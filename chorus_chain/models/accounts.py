"""User accounts (comptes utilisateurs): a person's login, attached to one or more structures."""
from __future__ import annotations

from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column
from werkzeug.security import check_password_hash, generate_password_hash

from chorus_chain.models.base import Base, utcnow


class Account(UserMixin, Base):
    __tablename__ = "account"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)  # connection e-mail, stored lower-case
    contact_email: Mapped[str | None] = mapped_column(String(254))
    first_name: Mapped[str] = mapped_column(String(100))
    last_name: Mapped[str] = mapped_column(String(100))
    phone: Mapped[str | None] = mapped_column(String(30))
    password_hash: Mapped[str] = mapped_column(String(255))
    activated_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[datetime | None]
    # Bumped on password change/reset: every other session of the account is then logged out.
    session_version: Mapped[int] = mapped_column(default=1)
    # Operators of the platform (support); not a structure role.
    is_operator: Mapped[bool] = mapped_column(default=False)

    @property
    def is_active(self) -> bool:  # flask-login: an account that is not activated cannot log in
        return self.activated_at is not None

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()

    def get_id(self) -> str:
        return f"{self.id}:{self.session_version}"

    def set_password(self, password: str) -> None:
        self.password_hash = generate_password_hash(password)  # scrypt, salted

    def check_password(self, password: str) -> bool:
        return check_password_hash(self.password_hash, password)

    @property
    def notification_email(self) -> str:
        return self.contact_email or self.email
