"""External Objects' service credentials: generated, stored as slow hashes, checked fast.

Usernames are 32 hex characters, passwords 32 letters and digits (the shapes Heroku's
External Objects hands out). The store keeps ``scrypt$<n>$<r>$<p>$<salt hex>$<hash hex>``
(RFC 7914 via :func:`hashlib.scrypt`, n=2**14, r=8, p=1: tens of milliseconds a guess).

Every OData request carries the password (HTTP Basic), so a process remembers the
passwords it has verified, under an HMAC with a per-process random key of the stored hash and
the password: a repeat request costs one HMAC, and a reset or revoke (a new stored hash)
misses the memory at once.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import string
import threading
from collections import OrderedDict
from collections.abc import Callable
from datetime import datetime

from flask import current_app

from marketplace.models._types import utcnow

SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
PASSWORD_ALPHABET = string.ascii_letters + string.digits
CLOCK_EXTENSION = "odata_clock"

Clock = Callable[[], datetime]


def now() -> datetime:
    """The current time: the app's injected clock (``app.extensions["odata_clock"]``, for
    tests) or the wall clock."""
    clock: Clock = current_app.extensions.get(CLOCK_EXTENSION, utcnow)
    return clock()


def new_username() -> str:
    """32 hex characters."""
    return secrets.token_hex(16)


def new_password() -> str:
    """32 letters and digits (about 190 bits)."""
    return "".join(secrets.choice(PASSWORD_ALPHABET) for _ in range(32))


def hash_password(password: str) -> str:
    """The stored form of ``password``."""
    salt = secrets.token_bytes(16)
    digest = _scrypt(password, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${salt.hex()}${digest.hex()}"


def verify_password(password: str, stored: str | None) -> bool:
    """Whether ``password`` matches the stored hash (constant-time comparison)."""
    if not stored:
        return False
    memo = _MEMORY.key(stored, password)
    if _MEMORY.has(memo):
        return True
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        computed = _scrypt(password, bytes.fromhex(salt), int(n), int(r), int(p))
    except ValueError:
        return False
    ok = hmac.compare_digest(computed, bytes.fromhex(digest))
    if ok:
        _MEMORY.add(memo)
    return ok


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(
        password.encode("utf-8", "surrogatepass"),
        salt=salt,
        n=n,
        r=r,
        p=p,
        dklen=32,
        maxmem=64 * 1024 * 1024,
    )


class _VerifiedMemory:
    """A bounded set of HMAC(process key, stored hash + password) of verified passwords."""

    size = 1024

    def __init__(self) -> None:
        self._key = secrets.token_bytes(32)
        self._seen: OrderedDict[bytes, None] = OrderedDict()
        self._lock = threading.Lock()

    def key(self, stored: str, password: str) -> bytes:
        message = stored.encode() + b"\0" + password.encode("utf-8", "surrogatepass")
        return hmac.new(self._key, message, hashlib.sha256).digest()

    def has(self, memo: bytes) -> bool:
        with self._lock:
            if memo in self._seen:
                self._seen.move_to_end(memo)
                return True
        return False

    def add(self, memo: bytes) -> None:
        with self._lock:
            self._seen[memo] = None
            while len(self._seen) > self.size:
                self._seen.popitem(last=False)


_MEMORY = _VerifiedMemory()
