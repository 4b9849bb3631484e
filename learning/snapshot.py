"""Signed snapshots: a model or the whole learner state as bytes that can cross a network.

Unpickling runs code, so a snapshot read from Kafka must be proven to come from our learner
before it is loaded. :func:`seal` writes::

    magic (8 bytes) | header length (4 bytes, big-endian) | header (JSON) | body | HMAC (32)

The header says what the body is: format version, riskstream, River and Python versions, a
fingerprint of the ``ScoredRecord`` and ``InspectionOutcome`` schemas, the input offsets,
creation time, model version, body length and compression. The body is a zlib-compressed
pickle. The HMAC-SHA256 covers everything before it.

:func:`unseal` verifies the HMAC *before* it parses anything else, then refuses a snapshot
of another format version or made with another River version (River pickles break across
releases), and only then decompresses and unpickles. Every refusal is a
:class:`SnapshotError` with a message that says what to do.

Snapshots can outgrow a broker's message limit (Apache Kafka defaults to about 1 MB):
:func:`chunk` cuts one into numbered pieces that carry the snapshot id (a hash of the whole),
their index and the count, and :class:`Reassembler` puts them back together in any order,
ignoring duplicates, reporting gaps, and checking the whole against its id.

>>> key = b"k" * 32
>>> blob = seal({"weights": [0.5, -1.0]}, key, {"model_version": "learner-o10-s99"})
>>> meta, obj = unseal(blob, key)
>>> obj, meta["model_version"], meta["format"]
({'weights': [0.5, -1.0]}, 'learner-o10-s99', 1)
>>> unseal(blob, b"x" * 32)
Traceback (most recent call last):
...
learning.snapshot.SnapshotError: snapshot signature does not verify: wrong key, or the snapshot was altered or truncated
"""  # noqa: E501

from __future__ import annotations

import gc
import hashlib
import hmac
import json
import pickle
import platform
import struct
import zlib
from collections import OrderedDict
from collections.abc import Mapping
from datetime import UTC, datetime
from functools import cache
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as package_version
from typing import Any

from schemas import catalog
from schemas.registry import canonical_form

__all__ = [
    "FORMAT_VERSION",
    "Reassembler",
    "SnapshotError",
    "chunk",
    "schema_fingerprint",
    "seal",
    "unseal",
]

FORMAT_VERSION = 1
MAGIC = b"RSSNAP\r\n"
CHUNK_MAGIC = b"RSCHUNK1"
_LENGTH = struct.Struct(">I")
_CHUNK = struct.Struct(">8s16sIIQ")  # magic, snapshot id, index, count, total bytes
_TAG_BYTES = 32
_MIN_KEY_BYTES = 16
_MAX_HEADER_BYTES = 1 << 20


class SnapshotError(Exception):
    """A snapshot or chunk that cannot be made, trusted or loaded; the message says why."""


def _installed(package: str) -> str:
    try:
        return package_version(package)
    except PackageNotFoundError:
        return "unknown"


@cache
def schema_fingerprint() -> str:
    """SHA-256 over the canonical forms of the two input schemas of the learner."""
    forms = "\n".join(
        canonical_form(catalog.raw_schema(name)) for name in ("ScoredRecord", "InspectionOutcome")
    )
    return hashlib.sha256(forms.encode("utf-8")).hexdigest()


def _check_key(key: bytes) -> bytes:
    if not isinstance(key, bytes | bytearray) or len(key) < _MIN_KEY_BYTES:
        raise SnapshotError(
            f"snapshot key must be at least {_MIN_KEY_BYTES} bytes (32 random bytes "
            "recommended)"
        )
    return bytes(key)


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


def seal(obj: Any, key: bytes, meta: Mapping[str, Any] | None = None, level: int = 1) -> bytes:
    """Pickle, compress and sign ``obj``; ``meta`` (JSON-able) joins the header.

    ``meta`` usually carries ``offsets``, ``model_version``, ``kind`` and ``created_at`` (a
    UTC datetime; now when missing). The versions, schema fingerprint, body length and
    compression are filled in here and cannot be overridden.
    """
    key = _check_key(key)
    try:
        body = zlib.compress(pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL), level)
    except (pickle.PicklingError, TypeError, AttributeError) as exc:
        raise SnapshotError(f"cannot pickle {type(obj).__name__} for a snapshot: {exc}") from None
    header: dict[str, Any] = {"created_at": datetime.now(UTC)}
    header.update(meta or {})
    header.update(
        {
            "format": FORMAT_VERSION,
            "riskstream": _installed("riskstream"),
            "river": _installed("river"),
            "python": platform.python_version(),
            "schema_fingerprint": schema_fingerprint(),
            "body_bytes": len(body),
            "compression": "zlib",
            "serialisation": "pickle",
        }
    )
    try:
        encoded = json.dumps(_jsonable(header), sort_keys=True).encode("utf-8")
    except (TypeError, ValueError) as exc:
        raise SnapshotError(f"snapshot meta is not JSON-able: {exc}") from None
    signed = MAGIC + _LENGTH.pack(len(encoded)) + encoded + body
    return signed + hmac.new(key, signed, hashlib.sha256).digest()


def unseal(blob: bytes | bytearray | memoryview, key: bytes) -> tuple[dict[str, Any], Any]:
    """Verify, check and load a snapshot: ``(header, object)``, or :class:`SnapshotError`."""
    key = _check_key(key)
    data = bytes(blob)
    least = len(MAGIC) + _LENGTH.size + _TAG_BYTES
    if len(data) < least or not data.startswith(MAGIC):
        raise SnapshotError(
            f"not a riskstream snapshot ({len(data)} bytes, magic {data[:len(MAGIC)]!r})"
        )
    signed, tag = data[:-_TAG_BYTES], data[-_TAG_BYTES:]
    if not hmac.compare_digest(hmac.new(key, signed, hashlib.sha256).digest(), tag):
        raise SnapshotError(
            "snapshot signature does not verify: wrong key, or the snapshot was altered or "
            "truncated"
        )
    (size,) = _LENGTH.unpack_from(signed, len(MAGIC))
    start = len(MAGIC) + _LENGTH.size
    if size > _MAX_HEADER_BYTES or start + size > len(signed):
        raise SnapshotError(f"snapshot header of {size} bytes does not fit the snapshot")
    try:
        header: dict[str, Any] = json.loads(signed[start:start + size])
    except (UnicodeDecodeError, ValueError):
        raise SnapshotError("snapshot header is not valid JSON") from None
    if header.get("format") != FORMAT_VERSION:
        raise SnapshotError(
            f"snapshot format {header.get('format')!r} is not supported: this riskstream "
            f"reads format {FORMAT_VERSION}"
        )
    installed = _installed("river")
    if header.get("river") != installed:
        raise SnapshotError(
            f"snapshot was made with river {header.get('river')}, but river {installed} is "
            "installed: River pickles break across releases; install the same river version "
            "or retrain from the topics"
        )
    body = signed[start + size:]
    if header.get("body_bytes") != len(body) or header.get("compression") != "zlib":
        raise SnapshotError(
            f"snapshot body of {len(body)} bytes does not match its header "
            f"({header.get('body_bytes')!r} bytes, {header.get('compression')!r})"
        )
    collecting = gc.isenabled()
    # Loading creates a model's worth of objects: each allocation burst would start a full
    # collection over the whole heap (in a replay, 3x the time of the load itself)
    gc.disable()
    try:
        obj = pickle.loads(zlib.decompress(body))
    except Exception as exc:  # the signature held, so this is a version or code mismatch
        raise SnapshotError(
            f"signed snapshot cannot be loaded ({type(exc).__name__}: {exc}); made by "
            f"riskstream {header.get('riskstream')} on Python {header.get('python')}"
        ) from None
    finally:
        if collecting:
            gc.enable()
    return header, obj


# -- chunks --------------------------------------------------------------------------------


def _snapshot_id(blob: bytes) -> bytes:
    return hashlib.sha256(blob).digest()[:16]


def chunk(blob: bytes | bytearray | memoryview, max_bytes: int) -> list[bytes]:
    """Cut ``blob`` into chunks of at most ``max_bytes`` each, header included.

    >>> pieces = chunk(b"abcdefghij" * 10, max_bytes=_CHUNK.size + 40)
    >>> len(pieces), max(len(p) for p in pieces) - _CHUNK.size
    (3, 40)
    """
    data = bytes(blob)
    room = max_bytes - _CHUNK.size
    if room < 1:
        raise SnapshotError(f"max_bytes must exceed the {_CHUNK.size}-byte chunk header")
    count = max(1, -(-len(data) // room))
    if count > 0xFFFF_FFFF:
        raise SnapshotError(f"snapshot of {len(data)} bytes needs too many chunks")
    ident = _snapshot_id(data)
    return [
        _CHUNK.pack(CHUNK_MAGIC, ident, index, count, len(data))
        + data[index * room:(index + 1) * room]
        for index in range(count)
    ]


class _Assembly:
    def __init__(self, count: int, total: int) -> None:
        self.count = count
        self.total = total
        self.pieces: dict[int, bytes] = {}


class Reassembler:
    """Put chunked snapshots back together, in any order, duplicates ignored.

    Parameters
    ----------
    max_in_flight
        Snapshots assembled at once; when a further one starts, the oldest incomplete one
        is dropped and counted in ``abandoned`` (its chunks had a gap).

    Examples
    --------
    >>> blob = bytes(range(256)) * 4
    >>> pieces = chunk(blob, max_bytes=300)
    >>> assembler = Reassembler()
    >>> [assembler.add(p) is not None for p in (pieces[3], pieces[0], pieces[0], pieces[2])]
    [False, False, False, False]
    >>> len(pieces), assembler.missing(), assembler.duplicates
    (4, {'785b0751fc2c53dc14a4ce3d800e69ef': [1]}, 1)
    >>> assembler.add(pieces[1]) == blob, assembler.add(pieces[1]), assembler.duplicates
    (True, None, 2)
    """

    def __init__(self, max_in_flight: int = 2) -> None:
        if max_in_flight < 1:
            raise SnapshotError(f"max_in_flight must be >= 1, got {max_in_flight!r}")
        self.max_in_flight = max_in_flight
        self._in_flight: OrderedDict[bytes, _Assembly] = OrderedDict()
        self._completed: OrderedDict[bytes, None] = OrderedDict()
        self.completed = 0
        self.duplicates = 0
        self.abandoned = 0

    def add(self, piece: bytes | bytearray | memoryview) -> bytes | None:
        """Take one chunk; the whole snapshot once its last chunk arrived, else None."""
        data = bytes(piece)
        if len(data) < _CHUNK.size:
            raise SnapshotError(f"chunk of {len(data)} bytes is shorter than its header")
        magic, ident, index, count, total = _CHUNK.unpack_from(data)
        if magic != CHUNK_MAGIC:
            raise SnapshotError(f"not a riskstream snapshot chunk (magic {magic!r})")
        if not 0 <= index < count:
            raise SnapshotError(f"chunk {index} of {count} of snapshot {ident.hex()} is corrupt")
        if ident in self._completed:
            self.duplicates += 1
            return None
        assembly = self._in_flight.get(ident)
        if assembly is None:
            while len(self._in_flight) >= self.max_in_flight:
                self._in_flight.popitem(last=False)
                self.abandoned += 1
            assembly = self._in_flight[ident] = _Assembly(count, total)
        if (assembly.count, assembly.total) != (count, total):
            raise SnapshotError(f"chunks of snapshot {ident.hex()} disagree on its size")
        payload = data[_CHUNK.size:]
        known = assembly.pieces.get(index)
        if known is not None:
            if known != payload:
                raise SnapshotError(f"chunk {index} of snapshot {ident.hex()} arrived twice "
                                    "with different content")
            self.duplicates += 1
            return None
        assembly.pieces[index] = payload
        if len(assembly.pieces) < count:
            return None
        del self._in_flight[ident]
        whole = b"".join(assembly.pieces[i] for i in range(count))
        if len(whole) != total or _snapshot_id(whole) != ident:
            raise SnapshotError(f"snapshot {ident.hex()} reassembled to other bytes than sent")
        self._completed[ident] = None
        while len(self._completed) > 16:
            self._completed.popitem(last=False)
        self.completed += 1
        return whole

    def missing(self) -> dict[str, list[int]]:
        """Chunk indices still missing, by snapshot id (hex), for incomplete snapshots."""
        return {
            ident.hex(): [i for i in range(a.count) if i not in a.pieces]
            for ident, a in self._in_flight.items()
        }
