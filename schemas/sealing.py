"""Sealing of dead letters' raw payloads: the one place a personal value may sit in clear.

A rejected event is kept whole so it can be repaired and replayed, but it was rejected before
it could be pseudonymised, so its bytes may hold names, addresses or document numbers. The
dead letter therefore carries them sealed (``PayloadProtection`` ``sealed``): encrypted and
authenticated with Fernet (AES-128-CBC plus HMAC-SHA256, from the ``cryptography`` package)
under a key derived from the dead-letter secret. Whoever repairs dead letters holds that
secret and opens them with ``riskstream deadletter open``; everybody else who reads the topic
sees ciphertext. ``clear`` keeps the bytes as they came, ``dropped`` keeps none.

>>> seal = PayloadSeal(b"example-dead-letter-secret-0001")
>>> sealed = seal.seal(b"\\x00\\x00\\x00\\x00\\x07Jane Doe")
>>> b"Jane" in sealed, seal.open(sealed)
(False, b'\\x00\\x00\\x00\\x00\\x07Jane Doe')
>>> PayloadSeal(b"another-secret-of-32-bytes-00002").open(sealed)
Traceback (most recent call last):
...
schemas.errors.CodecError: sealed payload does not open with this key (wrong key or altered)
"""

from __future__ import annotations

import base64
from typing import Literal

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from schemas.errors import CodecError

Protection = Literal["sealed", "clear", "dropped"]
MIN_SECRET_BYTES = 16


class PayloadSeal:
    """Seal and open raw payloads with a key derived from ``secret`` (at least 16 bytes)."""

    def __init__(self, secret: bytes) -> None:
        if len(secret) < MIN_SECRET_BYTES:
            raise ValueError(f"the dead-letter secret must be at least {MIN_SECRET_BYTES} bytes")
        # HKDF: a secret of any form becomes a key used for this purpose only.
        key = HKDF(
            algorithm=hashes.SHA256(), length=32, salt=None, info=b"riskstream dead-letter payload"
        ).derive(secret)
        self._fernet = Fernet(base64.urlsafe_b64encode(key))

    def __repr__(self) -> str:
        return "PayloadSeal(<secret>)"

    def seal(self, raw: bytes) -> bytes:
        """Encrypt and authenticate ``raw``."""
        return self._fernet.encrypt(raw)

    def open(self, sealed: bytes) -> bytes:
        """Return the bytes ``sealed`` was made from; :class:`CodecError` if it does not open."""
        try:
            return self._fernet.decrypt(sealed)
        except InvalidToken:
            raise CodecError(
                "sealing", "sealed payload does not open with this key (wrong key or altered)"
            ) from None

    @staticmethod
    def sealed_size(size: int) -> int:
        """Bytes a sealed payload of ``size`` bytes takes (base64 of version, time, IV,
        padded ciphertext and HMAC), so a dead letter can be cut to fit before sealing.

        >>> PayloadSeal.sealed_size(0), PayloadSeal.sealed_size(100)
        (100, 228)
        """
        body = _FERNET_HEAD + (size // 16 + 1) * 16
        return (body + 2) // 3 * 4

    @staticmethod
    def max_plain_size(sealed_limit: int) -> int:
        """The largest payload whose sealed form fits in ``sealed_limit`` bytes.

        >>> n = PayloadSeal.max_plain_size(1000)
        >>> n, PayloadSeal.sealed_size(n) <= 1000 < PayloadSeal.sealed_size(n + 1)
        (687, True)
        """
        blocks = ((sealed_limit // 4) * 3 - _FERNET_HEAD) // 16
        return max(0, blocks * 16 - 1)


_FERNET_HEAD = 1 + 8 + 16 + 32  # version, timestamp, IV and HMAC around the ciphertext
