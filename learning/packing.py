"""Compact, exact bytes for scored records and outcomes that wait in memory.

A million scored records wait for their outcomes at any time. As dicts of dicts they take
over a kilobyte each; :class:`RecordPacker` packs one into about 200 bytes and unpacks it to
a dict equal to the one it was given, value for value and type for type:

* the keys of a record and of its nested maps (its *shape*) are interned once per shape, so
  a record stores a 2-byte shape id instead of its feature names;
* every value is a 4-bit tag plus a payload as small as the value allows: booleans and
  ``None`` have none, whole numbers 1 to 4 bytes, short decimals such as ``0.74`` or
  ``63.0752`` a scaled integer (checked to give back the very same double), anything else 8
  bytes; a second time in a record is kept as milliseconds after the first when it can be;
* short strings (hub, HS codes, origin, descriptions) are interned up to ``max_interned``
  distinct values; pseudonymised tokens (``px_`` + hex, or several joined by ``|``) are kept
  as raw digest bytes, at less than half their text size; further strings inline;
* an event id such as ``courier-7-000000001`` is an interned prefix and a number.

Both tables are bounded, so memory stays bounded whatever the traffic. Interned ids are
given in first-seen order, so the same records in the same order give the same bytes.

>>> from datetime import UTC, datetime
>>> packer = RecordPacker()
>>> record = {"event_id": "courier-7-000000001", "stream": "courier", "score": 0.0731,
...           "features": {"weight_kg": 0.74, "pieces": 2.0, "aeo": False, "hs6": "851712"},
...           "entities": {"shipper": "px_8c39cb8b6493c9066072"},
...           "decided_at": datetime(2026, 1, 5, 9, 30, tzinfo=UTC)}
>>> blob = packer.pack(record)
>>> len(blob), packer.unpack(blob) == record, packer.event_id_of(blob)
(44, True, 'courier-7-000000001')
"""

from __future__ import annotations

import json
import math
import struct
import sys
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from itertools import chain
from typing import Any

from schemas.pseudonymise import TOKEN_PREFIX

__all__ = ["RecordPacker"]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_POW10 = tuple(10**k for k in range(7))
_INLINE_SHAPE = 0xFFFF
_DIGITS = "0123456789"
# A key's floats are tried as short decimals for the first _DECIMAL_TRIAL values, then only
# while at least one in _DECIMAL_PAYS of them turned out to be one.
_DECIMAL_TRIAL = 64
_DECIMAL_PAYS = 8

# 4-bit value tags; T_EXT is followed by a second nibble naming a rarer kind, T_D16 and
# T_D32 by a nibble with the number of decimal digits.
(
    T_NONE, T_FALSE, T_TRUE, T_F64, T_F8, T_F16, T_D16, T_D32,
    T_S8, T_S16, T_TOKEN, T_STR8, T_TIME, T_TIME_MS, T_F32, T_EXT,
) = range(16)
(X_EVENT_ID, X_I8, X_I16, X_I32, X_I64, X_S32, X_STR32, X_DECIMAL) = range(8)
# how an event id is kept: raw bytes, interned prefix + decimal number, or a UUID
(ID_RAW, ID_NUMBERED, ID_NUMBERED64) = range(3)

_B = struct.Struct("<b")
_H = struct.Struct("<h")
_HU = struct.Struct("<H")
_HUB = struct.Struct("<HB")
_I = struct.Struct("<i")
_IU = struct.Struct("<I")
_Q = struct.Struct("<q")
_QU = struct.Struct("<Q")
_D = struct.Struct("<d")
_INTS = {X_I8: (_B, 1), X_I16: (_H, 2), X_I32: (_I, 4), X_I64: (_Q, 8)}
_NIBBLES = tuple((byte >> 4, byte & 15) for byte in range(256))

Shape = tuple[Any, ...]
"""Keys of a record in order; a nested map is ``(key, shape)`` instead of ``key``."""


class RecordPacker:
    """Pack flat records with nested maps into compact bytes and back, exactly.

    Parameters
    ----------
    max_interned
        Distinct strings interned at most; further strings are stored inline.
    max_interned_length
        Strings longer than this (in characters) are always stored inline.
    max_shapes
        Distinct key layouts interned at most; further layouts travel inline as JSON.

    Values may be ``None``, ``bool``, ``int`` (64-bit), ``float``, ``str``, ``Decimal``, a
    timezone-aware ``datetime`` (microsecond precision) or a nested mapping of those with
    string keys. The record must carry a string ``event_id``.

    Examples
    --------
    >>> packer = RecordPacker(max_interned=2)
    >>> blobs = [packer.pack({"event_id": f"e{i}", "hub": hub, "score": 1 / 3})
    ...          for i, hub in enumerate(["hub_LEJ", "hub_FRA", "hub_CGN", "hub_LEJ"])]
    >>> [len(b) for b in blobs], packer.interned
    ([22, 29, 29, 22], 2)
    >>> packer.unpack(blobs[2])
    {'event_id': 'e2', 'hub': 'hub_CGN', 'score': 0.3333333333333333}
    """

    def __init__(
        self,
        max_interned: int = 65_536,
        max_interned_length: int = 64,
        max_shapes: int = 4_096,
    ) -> None:
        for name, value in (
            ("max_interned", max_interned),
            ("max_interned_length", max_interned_length),
            ("max_shapes", max_shapes),
        ):
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ValueError(f"{name} must be a whole number >= 0, got {value!r}")
        if max_shapes >= _INLINE_SHAPE:
            raise ValueError(f"max_shapes must be below {_INLINE_SHAPE}, got {max_shapes}")
        self.max_interned = max_interned
        self.max_interned_length = max_interned_length
        self.max_shapes = max_shapes
        self._string_ids: dict[str, int] = {}
        self._strings: list[str] = []
        self._shape_ids: dict[Shape, int] = {}
        self._shapes: list[Shape] = []
        # per key: [floats tried as short decimals, of which were]; decides only size
        self._decimal_tries: dict[str, list[int]] = {}
        self._plans: dict[int, tuple[list[tuple[int, str, int]], int]] = {}

    @property
    def interned(self) -> int:
        """How many distinct strings are interned."""
        return len(self._strings)

    @property
    def shapes(self) -> int:
        """How many distinct key layouts are interned."""
        return len(self._shapes)

    # -- packing ---------------------------------------------------------------------------

    def pack(self, record: Mapping[str, Any]) -> bytes:
        """Return ``record`` as compact bytes; raise ``ValueError`` for what cannot be kept."""
        event_id = record.get("event_id")
        if not isinstance(event_id, str) or not event_id:
            raise ValueError("record without a string event_id cannot be kept")
        tags: list[int] = []
        values = bytearray()
        shape = self._pack_map(record, tags, values, event_id, [None], top=True)
        shape_id = self._shape_ids.get(shape)
        if shape_id is None:
            _check_keys(shape, event_id)
        if shape_id is None and len(self._shapes) < self.max_shapes:
            shape_id = len(self._shapes)
            self._shape_ids[shape] = shape_id
            self._shapes.append(shape)
        out = self._pack_event_id(event_id)
        if shape_id is None:
            inline = json.dumps(shape, separators=(",", ":")).encode("utf-8")
            out += _HU.pack(_INLINE_SHAPE) + _IU.pack(len(inline)) + inline
        else:
            out += _HU.pack(shape_id)
        if len(tags) & 1:
            tags.append(0)
        nibbles = bytes([high << 4 | low for high, low in zip(tags[::2], tags[1::2], strict=True)])
        if len(nibbles) < 0xFF:
            out.append(len(nibbles))
        else:
            out.append(0xFF)
            out += _IU.pack(len(nibbles))
        out += nibbles
        out += values
        return bytes(out)

    def _pack_event_id(self, event_id: str) -> bytearray:
        prefix = event_id.rstrip(_DIGITS)
        width = len(event_id) - len(prefix)
        if 0 < width <= 19:
            prefix_id = self._intern(prefix)
            if prefix_id is not None and prefix_id <= 0xFFFF:
                number = int(event_id[len(prefix):])
                if number <= 0xFFFF_FFFF:
                    return bytearray(b"%c" % ID_NUMBERED + _HUB.pack(prefix_id, width)
                                     + _IU.pack(number))
                return bytearray(b"%c" % ID_NUMBERED64 + _HUB.pack(prefix_id, width)
                                 + _QU.pack(number))
        raw = event_id.encode("utf-8")
        if len(raw) > 0xFFFF:
            raise ValueError(f"event id of {len(raw)} bytes is too long to keep")
        return bytearray(b"%c" % ID_RAW + _HU.pack(len(raw)) + raw)

    def _intern(self, value: str) -> int | None:
        string_id = self._string_ids.get(value)
        if (
            string_id is None
            and len(value) <= self.max_interned_length
            and len(self._strings) < self.max_interned
        ):
            string_id = len(self._strings)
            self._string_ids[value] = string_id
            self._strings.append(value)
        return string_id

    def _pack_map(
        self,
        mapping: Mapping[str, Any],
        tags: list[int],
        out: bytearray,
        event_id: str,
        last_time: list[int | None],
        top: bool = False,
    ) -> Shape:
        keys: list[Any] = list(mapping)
        string_ids = self._string_ids
        decimal_tries = self._decimal_tries
        tag = tags.append
        pack_byte, pack_double = _B.pack, _D.pack
        for index, (key, value) in enumerate(mapping.items()):
            kind = type(value)
            if kind is float:  # the common case first, inline: this runs 50 times a record
                if value.is_integer():
                    if -0x80 <= value < 0x80 and (
                        value != 0.0 or math.copysign(1.0, value) > 0.0
                    ):
                        tag(T_F8)
                        out += pack_byte(int(value))
                    else:
                        self._pack_float(value, tags, out)
                    continue
                # try a short decimal only where it paid off: most scores never are one
                tried = decimal_tries.get(key)
                if tried is None:
                    tried = decimal_tries[key] = [0, 0]
                if tried[0] < _DECIMAL_TRIAL or tried[1] * _DECIMAL_PAYS >= tried[0]:
                    tried[0] += 1
                    tried[1] += self._pack_float(value, tags, out)
                else:
                    tag(T_F64)
                    out += pack_double(value)
            elif kind is str:
                string_id = string_ids.get(value)
                if string_id is not None and string_id <= 0xFF:
                    tag(T_S8)
                    out.append(string_id)
                elif top and key == "event_id" and value == event_id:
                    tags += (T_EXT, X_EVENT_ID)
                else:
                    self._pack_str(value, tags, out)
            elif kind is bool:
                tag(T_TRUE if value else T_FALSE)
            elif kind is dict or isinstance(value, Mapping):
                keys[index] = (key, self._pack_map(value, tags, out, event_id, last_time))
            else:
                self._pack_other(value, tags, out, event_id, key, last_time)
        return tuple(keys)

    def _pack_other(
        self,
        value: Any,
        tags: list[int],
        out: bytearray,
        event_id: str,
        key: str,
        last_time: list[int | None],
    ) -> None:
        if value is None:
            tags.append(T_NONE)
        elif type(value) is int:
            for ext, (packer, _) in _INTS.items():
                bound = 1 << (8 * packer.size - 1)
                if -bound <= value < bound:
                    tags += (T_EXT, ext)
                    out += packer.pack(value)
                    return
            raise ValueError(f"event {event_id}: field {key} is an integer beyond 64 bits")
        elif isinstance(value, datetime):
            if value.tzinfo is None or value.utcoffset() is None:
                raise ValueError(f"event {event_id}: field {key} is a naive datetime; "
                                 "times must be timezone-aware UTC")
            micros = (value - _EPOCH) // _MICROSECOND
            previous = last_time[0]
            last_time[0] = micros
            if previous is not None:
                millis, rest = divmod(micros - previous, 1000)
                if not rest and -0x8000_0000 <= millis < 0x8000_0000:
                    tags.append(T_TIME_MS)
                    out += _I.pack(millis)
                    return
            tags.append(T_TIME)
            out += _Q.pack(micros)
        elif isinstance(value, Decimal):
            text = str(value).encode("ascii")
            if len(text) > 0xFF:
                raise ValueError(f"event {event_id}: field {key} is a decimal too long to keep")
            tags += (T_EXT, X_DECIMAL)
            out.append(len(text))
            out += text
        else:
            raise ValueError(f"event {event_id}: field {key} of type {type(value).__name__} "
                             "cannot be kept (numbers, strings, booleans, times, maps only)")

    @staticmethod
    def _pack_float(value: float, tags: list[int], out: bytearray) -> bool:
        """Pack a float as a whole number, a short decimal or a double; True unless double."""
        if value.is_integer() and -0x8000_0000 <= value < 0x8000_0000:
            if value == 0.0:  # only -0.0 gets here: it keeps its sign as a double
                tags.append(T_F64)
                out += _D.pack(value)
                return False
            if -0x8000 <= value < 0x8000:
                tags.append(T_F16)
                out += _H.pack(int(value))
            else:
                tags.append(T_F32)
                out += _I.pack(int(value))
            return True
        text = repr(value)
        dot = text.find(".")
        digits = len(text) - dot - 1
        # a short decimal: scaled to an integer, kept only if it gives back the same double
        if dot > 0 and 0 < digits <= 6 and len(text) <= 13 and "e" not in text:
            mantissa = int(text[:dot] + text[dot + 1:])
            if mantissa / _POW10[digits] == value:
                if -0x8000 <= mantissa < 0x8000:
                    tags += (T_D16, digits)
                    out += _H.pack(mantissa)
                    return True
                if -0x8000_0000 <= mantissa < 0x8000_0000:
                    tags += (T_D32, digits)
                    out += _I.pack(mantissa)
                    return True
        tags.append(T_F64)
        out += _D.pack(value)
        return False

    def _pack_str(self, value: str, tags: list[int], out: bytearray) -> None:
        string_id = self._string_ids.get(value)
        if string_id is None:
            if value.startswith(TOKEN_PREFIX) and self._pack_token(value, tags, out):
                return
            string_id = self._intern(value)
        if string_id is None:
            raw = value.encode("utf-8")
            if len(raw) <= 0xFF:
                tags.append(T_STR8)
                out.append(len(raw))
            else:
                tags += (T_EXT, X_STR32)
                out += _IU.pack(len(raw))
            out += raw
        elif string_id <= 0xFF:
            tags.append(T_S8)
            out.append(string_id)
        elif string_id <= 0xFFFF:
            tags.append(T_S16)
            out += _HU.pack(string_id)
        else:
            tags += (T_EXT, X_S32)
            out += _IU.pack(string_id)

    @staticmethod
    def _pack_token(value: str, tags: list[int], out: bytearray) -> bool:
        """Keep ``px_<hex>`` (or several joined by ``|``) as raw bytes; False if it is not."""
        parts = value.split("|")
        prefix = len(TOKEN_PREFIX)
        size = len(parts[0]) - prefix
        if len(parts) > 0xFF or size <= 0 or size % 2 or size > 2 * 0xFF:
            return False
        raw = bytearray()
        for part in parts:
            if not part.startswith(TOKEN_PREFIX) or len(part) - prefix != size:
                return False
            digits = part[prefix:]
            try:
                digest = bytes.fromhex(digits)
            except ValueError:
                return False
            if digest.hex() != digits:  # upper case or spaces would not come back the same
                return False
            raw += digest
        tags.append(T_TOKEN)
        out.append(len(parts))
        out.append(size // 2)
        out += raw
        return True

    # -- unpacking -------------------------------------------------------------------------

    def event_id_of(self, blob: bytes | bytearray | memoryview) -> str:
        """The event id of a packed record, without unpacking the rest."""
        return self._unpack_event_id(memoryview(blob))[0]

    def _unpack_event_id(self, buffer: memoryview) -> tuple[str, int]:
        mode = buffer[0]
        if mode == ID_RAW:
            size = _HU.unpack_from(buffer, 1)[0]
            return bytes(buffer[3:3 + size]).decode("utf-8"), 3 + size
        prefix_id, width = _HUB.unpack_from(buffer, 1)
        if mode == ID_NUMBERED:
            number, end = _IU.unpack_from(buffer, 4)[0], 8
        else:
            number, end = _QU.unpack_from(buffer, 4)[0], 12
        return self._strings[prefix_id] + str(number).zfill(width), end

    def unpack(self, blob: bytes | bytearray | memoryview) -> dict[str, Any]:
        """Return the record packed in ``blob`` (by this packer or a pickled copy of it)."""
        buffer = memoryview(blob)
        event_id, pos = self._unpack_event_id(buffer)
        shape_id = _HU.unpack_from(buffer, pos)[0]
        pos += 2
        if shape_id == _INLINE_SHAPE:
            length = _IU.unpack_from(buffer, pos)[0]
            shape = _shape_from_json(json.loads(bytes(buffer[pos + 4:pos + 4 + length])))
            pos += 4 + length
            plan, maps = _plan(shape)
        else:
            planned = self._plans.get(shape_id)
            if planned is None:
                planned = self._plans[shape_id] = _plan(self._shapes[shape_id])
            plan, maps = planned
        count = buffer[pos]
        pos += 1
        if count == 0xFF:
            count = _IU.unpack_from(buffer, pos)[0]
            pos += 4
        tags = list(chain.from_iterable(map(_NIBBLES.__getitem__, buffer[pos:pos + count])))
        pos += count
        containers: list[dict[str, Any]] = [{} for _ in range(maps)]
        strings = self._strings
        unpack_double, unpack_short, unpack_byte = _D.unpack_from, _H.unpack_from, _B.unpack_from
        at = 0
        last_time = 0
        for parent, key, child in plan:
            if child:  # a nested map, filled by the entries that follow
                containers[parent][key] = containers[child]
                continue
            tag = tags[at]
            at += 1
            value: Any
            if tag == T_F64:
                value = unpack_double(buffer, pos)[0]
                pos += 8
            elif tag == T_S8:
                value = strings[buffer[pos]]
                pos += 1
            elif tag == T_F8:
                value = float(unpack_byte(buffer, pos)[0])
                pos += 1
            elif tag <= T_TRUE:
                value = (None, False, True)[tag]
            elif tag == T_D16:
                value = unpack_short(buffer, pos)[0] / _POW10[tags[at]]
                at += 1
                pos += 2
            elif tag == T_D32:
                value = _I.unpack_from(buffer, pos)[0] / _POW10[tags[at]]
                at += 1
                pos += 4
            elif tag == T_S16:
                value = strings[_HU.unpack_from(buffer, pos)[0]]
                pos += 2
            elif tag == T_TOKEN:
                number, width = buffer[pos], buffer[pos + 1]
                pos += 2
                value = "|".join(
                    TOKEN_PREFIX + bytes(buffer[pos + i * width:pos + (i + 1) * width]).hex()
                    for i in range(number)
                )
                pos += number * width
            elif tag == T_STR8:
                length = buffer[pos]
                value = bytes(buffer[pos + 1:pos + 1 + length]).decode("utf-8")
                pos += 1 + length
            elif tag == T_F16:
                value = float(unpack_short(buffer, pos)[0])
                pos += 2
            elif tag == T_F32:
                value = float(_I.unpack_from(buffer, pos)[0])
                pos += 4
            elif tag == T_TIME:
                last_time = _Q.unpack_from(buffer, pos)[0]
                value = _EPOCH + last_time * _MICROSECOND
                pos += 8
            elif tag == T_TIME_MS:
                last_time += _I.unpack_from(buffer, pos)[0] * 1000
                value = _EPOCH + last_time * _MICROSECOND
                pos += 4
            else:  # T_EXT
                value, pos = self._unpack_ext(tags[at], buffer, pos, event_id)
                at += 1
            containers[parent][key] = value
        return containers[0]

    def _unpack_ext(
        self, ext: int, buffer: memoryview, pos: int, event_id: str
    ) -> tuple[Any, int]:
        if ext == X_EVENT_ID:
            return event_id, pos
        if ext in _INTS:
            unpacker, width = _INTS[ext]
            return unpacker.unpack_from(buffer, pos)[0], pos + width
        if ext == X_S32:
            return self._strings[_IU.unpack_from(buffer, pos)[0]], pos + 4
        if ext == X_STR32:
            length = _IU.unpack_from(buffer, pos)[0]
            return bytes(buffer[pos + 4:pos + 4 + length]).decode("utf-8"), pos + 4 + length
        if ext == X_DECIMAL:
            length = buffer[pos]
            text = bytes(buffer[pos + 1:pos + 1 + length]).decode("ascii")
            return Decimal(text), pos + 1 + length
        raise ValueError(f"event {event_id}: packed record is corrupt (tag {ext})")

    # -- accounting ------------------------------------------------------------------------

    def memory_bytes(self) -> int:
        """Approximate bytes held by the interning tables."""
        strings = sum(sys.getsizeof(s) for s in self._strings)
        return (
            strings
            + sys.getsizeof(self._strings)
            + sys.getsizeof(self._string_ids)
            + sys.getsizeof(self._shapes)
            + sys.getsizeof(self._shape_ids)
            + sum(_shape_bytes(shape) for shape in self._shapes)
        )

    def __repr__(self) -> str:
        return (
            f"RecordPacker(max_interned={self.max_interned}, "
            f"max_interned_length={self.max_interned_length}, max_shapes={self.max_shapes})"
        )


def _check_keys(shape: Shape, event_id: str) -> None:
    for key in shape:
        if type(key) is tuple:
            _check_keys(key[1], event_id)
        elif not isinstance(key, str):
            raise ValueError(f"event {event_id}: key of type {type(key).__name__} cannot be "
                             "kept, keys must be strings")


def _plan(shape: Shape) -> tuple[list[tuple[int, str, int]], int]:
    """Flatten a shape for unpacking: ``(map, key, child map or 0)`` in packing order."""
    plan: list[tuple[int, str, int]] = []
    maps = 1

    def walk(keys: Shape, parent: int) -> None:
        nonlocal maps
        for key in keys:
            if type(key) is tuple:
                child = maps
                maps += 1
                plan.append((parent, key[0], child))
                walk(key[1], child)
            else:
                plan.append((parent, key, 0))

    walk(shape, 0)
    return plan, maps


def _shape_from_json(loaded: list[Any]) -> Shape:
    return tuple(
        (item[0], _shape_from_json(item[1])) if isinstance(item, list) else item
        for item in loaded
    )


def _shape_bytes(shape: Shape) -> int:
    # key strings are shared with the records that made them; count the tuples only
    return sys.getsizeof(shape) + sum(
        _shape_bytes(key[1]) for key in shape if type(key) is tuple
    )
