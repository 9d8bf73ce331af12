"""Who is acting: a plain value the services check permissions against and write into the audit."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Actor:
    user_id: int
    username: str
    display_name: str
    role: str  # domain.roles.Role value
