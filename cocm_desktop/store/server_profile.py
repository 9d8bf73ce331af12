"""A workstation's connection profile for the clinic server: where it is and which CA to trust.

Never a password, never PHI: host, port, database name and the clinic CA certificate's path (the
certificate itself is public). Saved as small JSON, written whole (temp name + rename).
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from urllib.parse import quote

from .errors import StoreError
from .files import fsync_dir

PROFILE_VERSION = 1
PROFILE_SUFFIX = ".json"


def is_profile_path(path: Path | str) -> bool:
    """A connection profile (…json) rather than a clinic file (…db)."""
    return Path(path).suffix.lower() == PROFILE_SUFFIX


@dataclass(frozen=True)
class ServerProfile:
    host: str
    port: int
    dbname: str
    ca_cert: Path
    name: str = "Clinic server"
    source: Path | None = field(default=None, compare=False)  # the file it was loaded from

    def __post_init__(self) -> None:
        if not self.host or any(c in self.host for c in " /?#@"):
            raise StoreError(f"The clinic server's host name “{self.host}” is not valid.")
        if not 1 <= int(self.port) <= 65535:
            raise StoreError(f"The clinic server's port {self.port} is not a valid port number.")
        if not self.dbname or not self.dbname.replace("_", "").replace("-", "").isalnum():
            raise StoreError(f"The clinic server's database name “{self.dbname}” is not valid.")

    @property
    def label(self) -> str:
        """What the user sees: "clinic server db on host:port"."""
        return f"{self.dbname} on {self.host}:{self.port}"

    def dsn(self, user: str | None = None) -> str:
        """A libpq URI with TLS checked against the clinic CA (no password: psycopg takes it apart)."""
        who = f"{quote(user, safe='')}@" if user else ""
        return (
            f"postgresql://{who}{self.host}:{self.port}/{quote(self.dbname, safe='')}"
            f"?sslmode=verify-full&sslrootcert={quote(str(self.ca_cert), safe='/:')}"
        )

    def connect_args(self, user: str, password: str) -> dict[str, object]:
        """Keyword arguments for psycopg.connect: verify-full TLS only, never plaintext."""
        return {
            "host": self.host,
            "port": int(self.port),
            "dbname": self.dbname,
            "user": user,
            "password": password,
            "sslmode": "verify-full",
            "sslrootcert": str(self.ca_cert),
            "connect_timeout": 5,
            "application_name": "cocm-desktop",
        }

    def to_json(self) -> str:
        data = asdict(self)
        data.pop("source", None)
        data["ca_cert"] = str(self.ca_cert)
        data["version"] = PROFILE_VERSION
        return json.dumps(data, indent=2, sort_keys=True) + "\n"

    def save(self, path: Path) -> None:
        path = Path(path)
        tmp = path.with_name(f".{path.name}.tmp")
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(self.to_json())
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
        fsync_dir(path.parent)

    @classmethod
    def load(cls, path: Path | str) -> ServerProfile:
        path = Path(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise StoreError(f"There is no connection profile at “{path}”.") from None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError):
            raise StoreError(f"“{path.name}” is not a CoCM Desktop connection profile.") from None
        if not isinstance(data, dict) or data.get("version") != PROFILE_VERSION:
            raise StoreError(f"“{path.name}” is not a CoCM Desktop connection profile.")
        try:
            ca = Path(str(data["ca_cert"]))
            if not ca.is_absolute():
                ca = (path.parent / ca).resolve()
            return cls(
                host=str(data["host"]),
                port=int(data["port"]),
                dbname=str(data["dbname"]),
                ca_cert=ca,
                name=str(data.get("name") or "Clinic server"),
                source=path.absolute(),
            )
        except (KeyError, TypeError, ValueError):
            raise StoreError(f"The connection profile “{path.name}” is incomplete.") from None
