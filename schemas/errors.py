"""The one error type of the Avro layer.

Every failure to encode, frame, resolve or validate a record becomes a :class:`CodecError`
with a ``kind`` that says which stage failed, so callers can route it (dead letter, metric
label) without parsing text. Messages name the field and the problem, never the value of a
personal field, because they end up in logs and dead letters.
"""

from __future__ import annotations

from typing import Any, Literal, get_args

ErrorKind = Literal["framing", "unknown_schema", "schema", "validation", "oversized", "sealing"]
ERROR_KINDS: tuple[str, ...] = get_args(ErrorKind)


class CodecError(ValueError):
    """A record that cannot be encoded, decoded or accepted.

    ``kind`` is one of ``framing`` (not Confluent-framed Avro), ``unknown_schema`` (schema id
    or name not known), ``schema`` (body does not match the schema), ``validation`` (decoded
    but semantically wrong), ``oversized`` and ``sealing`` (a sealed payload that the key does
not open). ``field`` names the offending field when known;
    ``event_id`` is set once the record was decoded far enough to know it.

    >>> err = CodecError("validation", "field gross_weight_kg must be positive, got -1.0",
    ...                  field="gross_weight_kg")
    >>> err.kind, err.field, str(err)
    ('validation', 'gross_weight_kg', 'field gross_weight_kg must be positive, got -1.0')
    >>> isinstance(err, ValueError)
    True
    """

    def __init__(
        self,
        kind: ErrorKind,
        message: str,
        *,
        field: str | None = None,
        event_id: str | None = None,
    ) -> None:
        if kind not in ERROR_KINDS:
            raise ValueError(f"unknown CodecError kind {kind!r}, expected one of {ERROR_KINDS}")
        super().__init__(message)
        self.kind: ErrorKind = kind
        self.message = message
        self.field = field
        self.event_id = event_id

    def __reduce__(self) -> tuple[Any, ...]:
        # Keyword attributes survive pickling (errors cross process boundaries in workers).
        return (self.__class__, (self.kind, self.message), self.__dict__)
