"""Password hashing (argon2id), for the web's log-in and the command line alike; no Flask."""

from __future__ import annotations

import functools
import secrets
import string

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()
# Letters and digits only: a password handed out in a CSV must reach the student as written,
# and a cell starting with "-" (as token_urlsafe's may) is quoted against spreadsheet formulas.
PASSWORD_ALPHABET = string.ascii_letters + string.digits
PASSWORD_LENGTH = 14  # about 83 bits


def new_password() -> str:
    """A random password to hand out (one-time passwords, the demo's accounts)."""
    return "".join(secrets.choice(PASSWORD_ALPHABET) for _ in range(PASSWORD_LENGTH))


def hash_password(password: str) -> str:
    """An argon2id hash of ``password``."""
    return _hasher.hash(password)


@functools.cache
def _dummy_hash() -> str:
    """A hash no password matches, verified for unknown accounts so they take as long."""
    return _hasher.hash(secrets.token_hex(16))


def verify_hash(stored: str | None, password: str) -> bool:
    """True when ``password`` matches ``stored``; with no stored hash (an unknown account, or
    one without a password) it never matches, after the same argon2 work as a real check."""
    try:
        return _hasher.verify(stored or _dummy_hash(), password) and stored is not None
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored: str) -> bool:
    """Whether a stored hash was made with older argon2 parameters than today's."""
    return _hasher.check_needs_rehash(stored)
