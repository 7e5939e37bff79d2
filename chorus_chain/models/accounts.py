"""User accounts (comptes utilisateurs): a person's login, attached to one or more structures."""
from __future__ import annotations

from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import ForeignKey, String
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

    # The secret of the login session this account object was loaded for (not a column): set at login and by the
    # user loader, it makes flask-login's session value and « remember me » cookie name that one server-side record.
    login_secret = None  # str | None; a plain attribute, not mapped

    def get_id(self) -> str:
        return f"{self.id}:{self.session_version}:{self.login_secret or ''}"

    def set_password(self, password: str) -> None:
        self.password_hash = generate_password_hash(password)  # scrypt, salted

    def check_password(self, password: str) -> bool:
        return check_password_hash(self.password_hash, password)

    @property
    def notification_email(self) -> str:
        return self.contact_email or self.email


class LoginSession(Base):
    """One login, server side (issue 13): the session cookie and the « remember me » cookie both carry its secret
    (only its SHA-256 is stored), and every request checks the record. Logout revokes it, so a cookie captured before
    logout stops working at once; it also ends at `expires_at`, which the application sets (REMEMBER_DAYS for « se
    souvenir de moi », SESSION_HOURS otherwise), whatever a cookie claims."""

    __tablename__ = "login_session"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"), index=True)
    secret_hash: Mapped[str] = mapped_column(String(64), unique=True)
    remember: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
