"""Keyed pseudonymisation of personal fields, applied once on ingest.

Every field a schema marks ``"personal": true`` is replaced by a token
``"px_" + HMAC-SHA256(key, normalised value)[:20 hex]``. The token is stable, so the same
shipper or traveller still joins across events (entity risk profiles work), but without the
key it cannot be reversed or recomputed from a guessed name. Values are normalised first
(Unicode NFKC, whitespace collapsed, case folded) so that ``" Jane  DOE"`` and ``"jane doe"``
are one person.

The authority's own categorical declaration fields (the ``attributes`` map) may hold personal
values too (an owner's name, a personal tax number): the names given as
``personal_attributes`` are tokenised the same way, the others stay as they are.

Key rotation: a new key gives new tokens. During a grace period the previous keys are kept,
and :meth:`Pseudonymiser.tokens_for` returns the old tokens too, so profiles built under the
old key can be carried over.
"""

from __future__ import annotations

import hashlib
import hmac
import unicodedata
from collections.abc import Iterable, Mapping
from typing import Any

from schemas import catalog
from schemas.errors import CodecError

TOKEN_PREFIX = "px_"
TOKEN_HEX_CHARS = 20
MIN_KEY_BYTES = 16
#: The map of the authority's own categorical fields; ``personal_attributes`` are tokenised.
ATTRIBUTES = "attributes"


def normalise(value: str) -> str:
    """Return the form of a personal value that is hashed.

    >>> normalise("  Jane\\t DOE ")
    'jane doe'
    """
    return " ".join(unicodedata.normalize("NFKC", value).split()).casefold()


class Pseudonymiser:
    """Replace personal fields by keyed tokens.

    ``key`` is the current secret (at least 16 bytes); ``previous_keys`` are the keys still
    honoured during a rotation grace period, newest first; ``personal_attributes`` names the
    entries of the ``attributes`` map that are personal.

    >>> p = Pseudonymiser(key=b"example-key-not-a-real-secret!!!")
    >>> p.token("Jane Doe")
    'px_8c39cb8b6493c9066072'
    >>> p.token("  JANE   doe ") == p.token("Jane Doe")
    True
    >>> item = {"event_id": "evt-1", "sender_name": "Jane Doe", "addressee_phone": None}
    >>> p.apply("PostalItem", item)
    {'event_id': 'evt-1', 'sender_name': 'px_8c39cb8b6493c9066072', 'addressee_phone': None}
    >>> item["sender_name"]
    'Jane Doe'
    >>> p = Pseudonymiser(key=b"example-key-not-a-real-secret!!!",
    ...                   personal_attributes={"owner"})
    >>> p.apply("PostalItem", {"attributes": {"owner": "Jane Doe", "tax_type": "B"}})
    {'attributes': {'owner': 'px_8c39cb8b6493c9066072', 'tax_type': 'B'}}
    >>> rotated = Pseudonymiser(key=b"the-next-key-not-a-real-secret!!",
    ...                         previous_keys=(b"example-key-not-a-real-secret!!!",))
    >>> rotated.tokens_for("Jane Doe")[1]
    'px_8c39cb8b6493c9066072'
    """

    def __init__(
        self,
        key: bytes,
        previous_keys: tuple[bytes, ...] = (),
        personal_attributes: Iterable[str] = (),
    ) -> None:
        for k in (key, *previous_keys):
            if not isinstance(k, bytes) or len(k) < MIN_KEY_BYTES:
                raise ValueError(f"pseudonymisation keys must be at least {MIN_KEY_BYTES} bytes")
        self.key = key
        self.previous_keys = tuple(previous_keys)
        self.personal_attributes = frozenset(personal_attributes)

    def __repr__(self) -> str:
        # Never print the keys.
        return f"Pseudonymiser(key=<secret>, previous_keys=<{len(self.previous_keys)} secret>)"

    @staticmethod
    def _token(key: bytes, value: str) -> str:
        digest = hmac.new(key, normalise(value).encode("utf-8"), hashlib.sha256).hexdigest()
        return TOKEN_PREFIX + digest[:TOKEN_HEX_CHARS]

    def token(self, value: str) -> str:
        """Return the token of ``value`` under the current key."""
        return self._token(self.key, value)

    def tokens_for(self, value: str) -> tuple[str, ...]:
        """Return the tokens of ``value`` under the current key, then each previous key."""
        return tuple(self._token(k, value) for k in (self.key, *self.previous_keys))

    def apply(self, name: str, record: Mapping[str, Any]) -> dict[str, Any]:
        """Return a copy of ``record`` with every personal field of schema ``name`` tokenised.

        ``None`` stays ``None``; the input is not changed.
        """
        return self._apply(self.key, name, record)

    @property
    def rotating(self) -> bool:
        """True during a rotation grace period (some previous key is still honoured)."""
        return bool(self.previous_keys)

    def apply_previous(self, name: str, record: Mapping[str, Any]) -> dict[str, Any] | None:
        """``record`` tokenised under the newest previous key, or ``None`` outside a rotation.

        The scorer compares it with :meth:`apply`'s result to tell the learner which old token
        each subject had, so risk profiles move to the new tokens as subjects reappear.

        >>> new = Pseudonymiser(key=b"the-next-key-not-a-real-secret!!",
        ...                     previous_keys=(b"example-key-not-a-real-secret!!!",))
        >>> new.apply_previous("PostalItem", {"sender_name": "Jane Doe"})
        {'sender_name': 'px_8c39cb8b6493c9066072'}
        """
        if not self.previous_keys:
            return None
        return self._apply(self.previous_keys[0], name, record)

    def subject_tokens(self, values: Iterable[str]) -> list[str]:
        """Every token a subject's personal ``values`` have under any honoured key (erasure).

        >>> p = Pseudonymiser(key=b"example-key-not-a-real-secret!!!")
        >>> p.subject_tokens(["Jane Doe", " jane  DOE", "P1234567"])
        ['px_8c39cb8b6493c9066072', 'px_3019a75431d0d1bfd8b2']
        """
        tokens: dict[str, None] = {}  # ordered and without repeats
        for value in values:
            tokens.update(dict.fromkeys(self.tokens_for(value)))
        return list(tokens)

    def _apply(self, key: bytes, name: str, record: Mapping[str, Any]) -> dict[str, Any]:
        out = dict(record)
        for field in catalog.personal_fields(name):
            value = out.get(field)
            if value is None:
                continue
            if not isinstance(value, str):
                raise CodecError(
                    "validation",
                    f"field {field} must be a string to be pseudonymised, "
                    f"got {type(value).__name__}",
                    field=field,
                )
            out[field] = self._token(key, value)
        attributes = out.get(ATTRIBUTES)
        if self.personal_attributes and isinstance(attributes, Mapping):
            out[ATTRIBUTES] = {
                name: self._personal_attribute(key, name, value)
                if name in self.personal_attributes
                else value
                for name, value in attributes.items()
            }
        return out

    def _personal_attribute(self, key: bytes, name: str, value: Any) -> str:
        if not isinstance(value, str):
            raise CodecError(
                "validation",
                f"field {ATTRIBUTES}: {name} must be a string to be pseudonymised, "
                f"got {type(value).__name__}",
                field=ATTRIBUTES,
            )
        return self._token(key, value)
