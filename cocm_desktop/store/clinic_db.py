"""Either engine behind one name: what services, the demo generator and the app hold open."""

from __future__ import annotations

from typing import TypeAlias

from .database import Database
from .server_database import ServerDatabase

ClinicDatabase: TypeAlias = Database | ServerDatabase


def is_server(db: ClinicDatabase) -> bool:
    return isinstance(db, ServerDatabase)

