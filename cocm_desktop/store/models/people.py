"""Staff users and patients."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Boolean, Date, DateTime, ForeignKey, Integer, String, Text, false
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, Versioned, Voidable, utcnow


class User(Versioned, Base):
    """A person who signs in. Their key slot lives in the sidecar under the same username."""

    __tablename__ = "user"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(32))  # domain.roles.Role value
    credentials: Mapped[str | None] = mapped_column(String(64))  # e.g. "MD", "LCSW"
    npi: Mapped[str | None] = mapped_column(String(10))  # billing practitioners
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    deactivated_at: Mapped[datetime | None] = mapped_column(DateTime)
    # Set when the clinic lead chose this password (new user, reset, reactivation); cleared when
    # the person changes it themselves. Sign-in asks for a new password while it is set.
    password_must_change: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class Patient(Voidable, Versioned, Base):
    """A patient entered twice is voided (the duplicate stays, and counts nowhere)."""

    __tablename__ = "patient"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    mrn: Mapped[str] = mapped_column(String(32), unique=True)
    family_name: Mapped[str] = mapped_column(String(200))
    given_name: Mapped[str] = mapped_column(String(200))
    date_of_birth: Mapped[date] = mapped_column(Date)
    sex: Mapped[str | None] = mapped_column(String(16))
    phone: Mapped[str | None] = mapped_column(String(40))
    portal: Mapped[bool] = mapped_column(Boolean, default=False)
    preferred_contact: Mapped[str | None] = mapped_column(String(120))
    payer_rule_set_id: Mapped[int | None] = mapped_column(ForeignKey("payer_rule_set.id"))
    payer_name: Mapped[str | None] = mapped_column(String(120))
    member_id: Mapped[str | None] = mapped_column(String(64))
    # Last visit with the treating practice before enrollment: decides whether an initiating
    # visit is required (new patient, or not seen in the prior 12 months).
    last_seen_on: Mapped[date | None] = mapped_column(Date)
    notes: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))

    @property
    def display_name(self) -> str:
        return f"{self.family_name}, {self.given_name}"
