"""RecordPacker: exact round trips, compact sizes, bounded tables, clear errors."""

from __future__ import annotations

import math
import pickle
import struct
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from learning.packing import RecordPacker
from learning.testing import learner_feed

AT = datetime(2026, 1, 5, 9, 30, 15, 123456, tzinfo=UTC)


def same(a: Any, b: Any) -> bool:
    """Equal value for value and type for type; NaN equals NaN, -0.0 differs from 0.0."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, float):
        return struct.pack("<d", a) == struct.pack("<d", b)
    return bool(a == b)


@pytest.fixture(scope="module")
def scored() -> list[dict[str, Any]]:
    return [r for topic, r in learner_feed(300, seed=11) if topic == "scored"]


def test_realistic_records_round_trip_exactly_and_compactly(scored: list[dict[str, Any]]) -> None:
    packer = RecordPacker()
    blobs = [packer.pack(record) for record in scored]
    assert all(same(packer.unpack(b), r) for b, r in zip(blobs, scored, strict=True))
    average = sum(map(len, blobs)) / len(blobs)
    naive = sum(len(pickle.dumps(r)) for r in scored) / len(scored)
    assert average < 240, average
    assert average < naive / 4
    assert [packer.event_id_of(b) for b in blobs] == [r["event_id"] for r in scored]


def test_same_records_in_same_order_give_same_bytes(scored: list[dict[str, Any]]) -> None:
    first, second = RecordPacker(), RecordPacker()
    assert [first.pack(r) for r in scored] == [second.pack(r) for r in scored]


def test_pickled_packer_unpacks_what_it_packed_before(scored: list[dict[str, Any]]) -> None:
    packer = RecordPacker()
    blobs = [packer.pack(r) for r in scored[:100]]
    copy = pickle.loads(pickle.dumps(packer))
    assert all(same(copy.unpack(b), r) for b, r in zip(blobs, scored[:100], strict=True))


EDGE_VALUES: dict[str, Any] = {
    "zero": 0.0,
    "negative_zero": -0.0,
    "nan": math.nan,
    "inf": math.inf,
    "minus_inf": -math.inf,
    "tiny": 5e-324,
    "huge": 1.7976931348623157e308,
    "whole_big": 3e9,
    "whole_mid": -40000.0,
    "short_decimal": -0.74,
    "decimal_32": 63.0752,
    "long_decimal": 0.1234567,
    "third": 1 / 3,
    "int_small": -3,
    "int_16": 30000,
    "int_32": -2_000_000_000,
    "int_64": 2**62,
    "money": Decimal("1234.50"),
    "money_exp": Decimal("1E+3"),
    "true": True,
    "false": False,
    "none": None,
    "empty": "",
    "unicode": "Kühlschrank \u2013 冷蔵庫",
    "long_text": "x" * 300,
    "token": "px_8c39cb8b6493c9066072",
    "tokens": "px_8c39cb8b6493c9066072|px_0000000000000000000f",
    "upper_token": "px_8C39CB8B6493C9066072",
    "odd_token": "px_abc",
    "not_hex": "px_zz",
    "bare_prefix": "px_",
    "uneven_tokens": "px_ab|px_abcd",
    "time": AT,
    "time_later": AT + timedelta(days=3, milliseconds=7),
    "time_offset": datetime(2026, 1, 5, 11, tzinfo=timezone(timedelta(hours=2))),
    "nested": {"deeper": {"a": 1.5}, "empty": {}},
}


@pytest.mark.parametrize("event_id", [
    "courier-7-000000001", "abc", "0042", "id-" + "9" * 25, "a9b-12",
    "3fa85f64-5717-4562-b3fc-2c963f66afa6", "x" * 70 + "1",
])
def test_edge_values_and_ids_round_trip(event_id: str) -> None:
    packer = RecordPacker()
    record = {"event_id": event_id, **EDGE_VALUES}
    assert same(packer.unpack(packer.pack(record)), record)


def test_interning_and_shapes_are_bounded() -> None:
    packer = RecordPacker(max_interned=3, max_shapes=1)
    records = [{"event_id": f"e{i}", f"key{i % 3}": f"value {i}"} for i in range(40)]
    blobs = [packer.pack(r) for r in records]
    assert packer.interned == 3 and packer.shapes == 1
    assert all(same(packer.unpack(b), r) for b, r in zip(blobs, records, strict=True))
    bounded = RecordPacker(max_interned=0)
    assert bounded.unpack(bounded.pack({"event_id": "x", "hub": "h"})) == {
        "event_id": "x", "hub": "h"}


@pytest.mark.parametrize(("record", "fragment"), [
    ({"score": 1.0}, "without a string event_id"),
    ({"event_id": "e1", "seen": datetime(2026, 1, 5)}, "event e1: field seen is a naive"),  # noqa: DTZ001
    ({"event_id": "e1", "tags": ["secret-name"]}, "event e1: field tags of type list"),
    ({"event_id": "e1", "n": 2**70}, "event e1: field n is an integer beyond 64 bits"),
    ({"event_id": "e1", 7: "secret-name"}, "event e1: key of type int"),
])
def test_unkeepable_records_are_rejected_without_quoting_values(
    record: dict[Any, Any], fragment: str
) -> None:
    with pytest.raises(ValueError, match=fragment) as caught:
        RecordPacker().pack(record)
    assert "secret-name" not in str(caught.value)


leaf = st.one_of(
    st.none(), st.booleans(), st.floats(allow_nan=False),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.text(max_size=80),
    st.builds(lambda b: "px_" + b.hex(), st.binary(min_size=1, max_size=12)),
)


@settings(max_examples=150, deadline=None)
@given(
    st.dictionaries(st.text(max_size=12), leaf, max_size=12),
    st.dictionaries(st.text(max_size=12), leaf, max_size=6),
    st.text(min_size=1, max_size=30),
)
def test_any_flat_record_with_a_map_round_trips(
    top: dict[str, Any], nested: dict[str, Any], event_id: str
) -> None:
    record = {**top, "event_id": event_id, "features": nested}
    packer = RecordPacker(max_interned=8)
    first = packer.pack(record)
    assert same(packer.unpack(first), record)
    assert same(packer.unpack(packer.pack(record)), record)  # now with interned strings
