"""Signed snapshots: verified before loading, refused clearly, chunked and reassembled."""

from __future__ import annotations

import hashlib
import hmac
import json
import random
import struct
from datetime import UTC, datetime
from typing import Any

import pytest

import learning.snapshot as snapshot
from learning.snapshot import (
    MAGIC,
    Reassembler,
    SnapshotError,
    chunk,
    schema_fingerprint,
    seal,
    unseal,
)
from scorers.model import RiskModel

KEY = b"0123456789abcdef0123456789abcdef"
CREATED = datetime(2026, 1, 5, 9, tzinfo=UTC)
SIDE_EFFECTS: list[str] = []


class Booby:
    """Unpickling this runs code: it must never happen for an unverified snapshot."""

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        return SIDE_EFFECTS.append, ("unpickled",)


def reseal(blob: bytes, change: dict[str, Any], key: bytes = KEY) -> bytes:
    """The same snapshot with header fields changed, validly signed (an insider's forgery
    or a snapshot from another version)."""
    (size,) = struct.unpack_from(">I", blob, len(MAGIC))
    start = len(MAGIC) + 4
    header = {**json.loads(blob[start:start + size]), **change}
    encoded = json.dumps(header).encode()
    signed = MAGIC + struct.pack(">I", len(encoded)) + encoded + blob[start + size:-32]
    return signed + hmac.new(key, signed, hashlib.sha256).digest()


def test_round_trip_of_a_model_with_its_header() -> None:
    model = RiskModel(seed=3, version="lrn-o5-s10")
    blob = seal(model, KEY, {"model_version": model.version, "created_at": CREATED,
                             "offsets": {"scored": 11, "outcomes": 6}})
    meta, loaded = unseal(blob, KEY)
    assert isinstance(loaded, RiskModel) and loaded.version == "lrn-o5-s10"
    assert meta["offsets"] == {"scored": 11, "outcomes": 6}
    assert meta["created_at"] == CREATED.isoformat() and meta["river"] == model.river_version
    assert meta["schema_fingerprint"] == schema_fingerprint() and len(schema_fingerprint()) == 64
    assert meta["compression"] == "zlib" and meta["body_bytes"] > 0


def test_every_tampered_byte_is_refused_before_unpickling() -> None:
    blob = seal([Booby()], b"another-key-another-key-another!")
    rng = random.Random(1)
    for position in [0, 9, 20, len(blob) // 2, len(blob) - 33, len(blob) - 1,
                     *rng.sample(range(len(blob)), 30)]:
        tampered = bytearray(blob)
        tampered[position] ^= 0x01
        with pytest.raises(SnapshotError):
            unseal(bytes(tampered), b"another-key-another-key-another!")
    with pytest.raises(SnapshotError, match="signature does not verify: wrong key"):
        unseal(blob, KEY)
    assert SIDE_EFFECTS == []


@pytest.mark.parametrize("keep", [0, 5, 12, 40, -1, -32, -33])
def test_truncated_snapshots_are_refused(keep: int) -> None:
    blob = seal({"a": 1}, KEY)
    with pytest.raises(SnapshotError):
        unseal(blob[:keep], KEY)


def test_other_format_and_river_versions_are_refused_by_name() -> None:
    blob = seal({"a": 1}, KEY)
    with pytest.raises(SnapshotError, match="format 2 is not supported: this riskstream reads "
                                            "format 1"):
        unseal(reseal(blob, {"format": 2}), KEY)
    installed = RiskModel().river_version
    with pytest.raises(SnapshotError, match=f"made with river 0.21.0, but river {installed} is "
                                            "installed"):
        unseal(reseal(blob, {"river": "0.21.0"}), KEY)
    with pytest.raises(SnapshotError, match="does not match its header"):
        unseal(reseal(blob, {"body_bytes": 3}), KEY)


def test_a_signed_body_that_cannot_load_is_a_snapshot_error() -> None:
    blob = seal({"a": 1}, KEY)
    (size,) = struct.unpack_from(">I", blob, len(MAGIC))
    start = len(MAGIC) + 4 + size
    garbage = b"\x00" * (len(blob) - 32 - start)
    signed = blob[:start] + garbage
    with pytest.raises(SnapshotError, match="cannot be loaded"):
        unseal(signed + hmac.new(KEY, signed, hashlib.sha256).digest(), KEY)


def test_keys_and_meta_are_checked_when_sealing() -> None:
    with pytest.raises(SnapshotError, match="at least 16 bytes"):
        seal({}, b"short")
    with pytest.raises(SnapshotError, match="not JSON-able"):
        seal({}, KEY, {"offsets": {1, 2}})
    with pytest.raises(SnapshotError, match="cannot pickle"):
        seal(lambda: None, KEY)
    with pytest.raises(SnapshotError, match="not a riskstream snapshot"):
        unseal(b"PK\x03\x04" + bytes(60), KEY)


def test_chunks_reassemble_in_any_order_with_duplicates() -> None:
    blob = seal(RiskModel(seed=1), KEY)
    pieces = chunk(blob, max_bytes=512)
    assert len(pieces) > 10 and all(len(p) <= 512 for p in pieces)
    rng = random.Random(3)
    shuffled = pieces + rng.sample(pieces, 5)
    rng.shuffle(shuffled)
    assembler = Reassembler()
    results = [assembler.add(p) for p in shuffled]
    done = [r for r in results if r is not None]
    assert done == [blob] and assembler.duplicates == 5 and assembler.completed == 1
    assert assembler.add(pieces[0]) is None and assembler.missing() == {}
    assert unseal(done[0], KEY)[1].seed == 1


def test_gaps_are_reported_and_an_incomplete_snapshot_is_abandoned() -> None:
    first, second = seal({"n": 1}, KEY), seal({"n": 2}, KEY)
    a, b = chunk(first, 120), chunk(second, 120)
    assembler = Reassembler(max_in_flight=1)
    for piece in a[:2] + a[3:]:
        assert assembler.add(piece) is None
    ident = hashlib.sha256(first).hexdigest()[:32]
    assert assembler.missing() == {ident: [2]}
    done = [assembler.add(p) for p in b]
    assert done[-1] == second and assembler.abandoned == 1 and assembler.missing() == {}


def test_corrupt_or_inconsistent_chunks_are_refused() -> None:
    pieces = chunk(b"x" * 500, 100)
    assembler = Reassembler()
    assembler.add(pieces[0])
    with pytest.raises(SnapshotError, match="different content"):
        assembler.add(pieces[0][:-1] + b"y")
    with pytest.raises(SnapshotError, match="not a riskstream snapshot chunk"):
        assembler.add(b"X" * 60)
    with pytest.raises(SnapshotError, match="shorter than its header"):
        assembler.add(b"RS")
    wrong = bytearray(pieces[1])
    wrong[-1] ^= 1
    assembler = Reassembler()
    for piece in [pieces[0], bytes(wrong), *pieces[2:]]:
        last = piece
        if piece is not pieces[-1]:
            assembler.add(piece)
    with pytest.raises(SnapshotError, match="reassembled to other bytes"):
        assembler.add(last)
    with pytest.raises(SnapshotError, match="exceed the 40-byte chunk header"):
        chunk(b"abc", 40)
    [empty] = chunk(b"", 100)
    assert Reassembler().add(empty) == b""
    assert snapshot.FORMAT_VERSION == 1
