"""SCRAM-SHA-256 verifiers (RFC 5802/7677), so a password never travels to the server in clear.

PostgreSQL accepts `ALTER ROLE … PASSWORD 'SCRAM-SHA-256$…'` as an already-hashed password; the
server then authenticates with it exactly as if it had hashed the password itself.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import unicodedata

ITERATIONS = 4096  # PostgreSQL's default scram_iterations


def _saslprep(password: str) -> bytes:
    # SASLprep is NFKC plus a few mappings; PostgreSQL itself falls back to the raw bytes when a
    # password does not prepare. Our passwords are NFKC-normalised at entry (services.passwords).
    return unicodedata.normalize("NFKC", password).encode("utf-8")


def verifier(password: str, *, salt: bytes | None = None, iterations: int = ITERATIONS) -> str:
    salt = salt or os.urandom(16)
    salted = hashlib.pbkdf2_hmac("sha256", _saslprep(password), salt, iterations)
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    stored_key = hashlib.sha256(client_key).digest()
    server_key = hmac.new(salted, b"Server Key", hashlib.sha256).digest()

    def b64(b: bytes) -> str:
        return base64.b64encode(b).decode("ascii")

    return f"SCRAM-SHA-256${iterations}:{b64(salt)}${b64(stored_key)}:{b64(server_key)}"
