"""Passwords, session tokens and account-name rules (pure: no web framework, no database).

Passwords are hashed with Argon2id (argon2-cffi's RFC 9106 low-memory profile).
Session tokens are 256 random bits; only their SHA-256 is ever stored, so a
leaked database does not leak usable sessions.
"""

from __future__ import annotations

import hashlib
import re
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

USERNAME_RE = re.compile(r"^[a-zA-Z0-9_.-]{3,32}$")
PASSWORD_MIN_LENGTH = 8
PASSWORD_MAX_LENGTH = 1024  # bounds the hashing work one request can ask for
# Imported Taste Profile listeners are named ``msd_<id>``: nobody may register such a name.
RESERVED_PREFIXES = ("msd_",)

_hasher = PasswordHasher()
_dummy_hash: str | None = None


def use_hasher(hasher: PasswordHasher) -> PasswordHasher:
    """Swap the hasher (tests use cheap parameters); returns the previous one."""
    global _hasher, _dummy_hash
    previous, _hasher, _dummy_hash = _hasher, hasher, None
    return previous


def _dummy() -> str:
    """Verified against when the username is unknown, so both cases cost the same time."""
    global _dummy_hash
    if _dummy_hash is None:
        _dummy_hash = _hasher.hash(secrets.token_urlsafe(16))
    return _dummy_hash


def username_problem(name: str) -> str | None:
    """Why ``name`` cannot be a username, or None when it can."""
    if not USERNAME_RE.fullmatch(name):
        return "3 to 32 characters: letters, digits, '_', '.', '-'"
    if name.lower().startswith(RESERVED_PREFIXES):
        return "names starting with 'msd_' are reserved for imported listeners"
    return None


def normalize_username(name: str) -> str:
    """Usernames are case-insensitive: stored and looked up in lower case."""
    return name.strip().lower()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(stored_hash: str | None, password: str) -> bool:
    """True when ``password`` matches; an account without a hash never matches (same cost either way)."""
    try:
        return _hasher.verify(stored_hash or _dummy(), password) and stored_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str) -> bool:
    """True when the hash was made with weaker parameters than the current ones."""
    try:
        return _hasher.check_needs_rehash(stored_hash)
    except InvalidHashError:
        return True


def new_token() -> str:
    """A fresh session token: 32 random bytes (256 bits), URL-safe base64."""
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    """The hex SHA-256 stored in ``sessions.token_hash``."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def generate_password() -> str:
    """A password for demo accounts when none is configured (printed once, stored only hashed)."""
    return secrets.token_urlsafe(15)
