"""Secrets at rest: Fernet encryption with key rotation, and constant-time comparison."""

from __future__ import annotations

import hmac
import json
from collections.abc import Iterable, Mapping

from cryptography.fernet import Fernet, InvalidToken, MultiFernet


class Vault:
    """Encrypts with the first key, decrypts with any (``ENCRYPTION_KEYS``, newest first)."""

    def __init__(self, keys: Iterable[str]) -> None:
        fernets = [Fernet(key.strip().encode()) for key in keys if key.strip()]
        if not fernets:
            raise ValueError("at least one Fernet key is needed")
        self._fernet = MultiFernet(fernets)

    def encrypt(self, plaintext: str) -> str:
        """Return the token for ``plaintext``."""
        return self._fernet.encrypt(plaintext.encode()).decode()

    def encrypt_optional(self, plaintext: str | None) -> str | None:
        """Return the token for ``plaintext``, or None when there is nothing to encrypt."""
        return self.encrypt(plaintext) if plaintext else None

    def decrypt(self, token: str) -> str:
        """Return the plaintext of ``token``.

        :raises InvalidToken: no configured key opens it.
        """
        return self._fernet.decrypt(token.encode()).decode()

    def encrypt_mapping(self, values: Mapping[str, str]) -> str:
        """Encrypt a string mapping (config vars) as one token."""
        return self.encrypt(json.dumps(dict(values), sort_keys=True))

    def decrypt_mapping(self, token: str | None) -> dict[str, str]:
        """Decrypt a token made by :meth:`encrypt_mapping`; None gives an empty mapping."""
        return json.loads(self.decrypt(token)) if token else {}

    def rotate(self, token: str) -> str:
        """Re-encrypt ``token`` under the newest key."""
        return self._fernet.rotate(token.encode()).decode()


def secrets_equal(given: str, expected: str) -> bool:
    """Compare two secrets in constant time."""
    return hmac.compare_digest(given.encode(), expected.encode())


__all__ = ["InvalidToken", "Vault", "secrets_equal"]
