"""App passwords and API keys for Subsonic apps (pure: no web framework, no database).

Token authentication sends md5(password + salt), so the server must be able to read the password it checks: an
app password is therefore kept encrypted (Fernet: AES-128-CBC with an HMAC-SHA256 tag) under a key derived from
the server's secret, never in plain text and never the account password (which stays an Argon2 hash). An API
key is only compared, so only its SHA-256 is kept.
"""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

# Easy to type on a phone: lower-case letters and digits without look-alikes (0/o, 1/l/i).
ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
GROUPS, GROUP_LEN = 4, 5  # 20 characters, about 99 bits
SECRET_FILE = "credentials.secret"


class UnreadableSecret(Exception):
    """The stored ciphertext does not open with this server's secret (the secret changed, or the row was edited)."""


def new_app_password() -> str:
    """``xxxxx-xxxxx-xxxxx-xxxxx`` from :data:`ALPHABET`."""
    return "-".join("".join(secrets.choice(ALPHABET) for _ in range(GROUP_LEN)) for _ in range(GROUPS))


def new_api_key() -> str:
    return secrets.token_urlsafe(32)


def key_hash(api_key: str) -> str:
    return hashlib.sha256(api_key.encode("utf-8")).hexdigest()


class Vault:
    """Encrypts and decrypts app passwords with a key derived from the server's secret (any length, ≥ 8)."""

    def __init__(self, secret: str) -> None:
        key = base64.urlsafe_b64encode(hashlib.sha256(b"musicrec app passwords\x00" + secret.encode()).digest())
        self._fernet = Fernet(key)

    def seal(self, plain: str) -> str:
        return self._fernet.encrypt(plain.encode("utf-8")).decode("ascii")

    def open(self, sealed: str) -> str:
        try:
            return self._fernet.decrypt(sealed.encode("ascii")).decode("utf-8")
        except (InvalidToken, ValueError) as exc:
            raise UnreadableSecret from exc


def local_secret(var_dir: Path) -> str:
    """The secret kept in ``var_dir`` (local mode), created on first use, readable by its owner only.

    Created with O_EXCL, so that two processes starting together agree on one secret.
    """
    path = var_dir / SECRET_FILE
    var_dir.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    else:
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_urlsafe(32))
    for _ in range(50):  # the other process may be between creating and writing it
        text = path.read_text().strip()
        if text:
            return text
        import time

        time.sleep(0.02)
    raise RuntimeError(f"{path} is empty")
