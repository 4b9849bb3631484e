"""Pseudonymisation: keyed, deterministic, normalised tokens, and no personal value left over."""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator
from typing import Any

import pytest
from schema_examples import example

from schemas import SCHEMA_NAMES, AvroCodec, CodecError, Pseudonymiser, catalog
from schemas.pseudonymise import normalise

KEY = b"test-key-0123456789abcdef-riskst"
OTHER_KEY = b"another-key-0123456789abcdef-rsk"
TOKEN = re.compile(r"px_[0-9a-f]{20}")


def strings_in(value: Any) -> Iterator[str]:
    """Every string anywhere in a record: values, nested lists and maps (keys too)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from strings_in(key)
            yield from strings_in(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from strings_in(item)


def test_tokens_are_deterministic_and_keyed() -> None:
    p = Pseudonymiser(KEY)
    assert p.token("Marta Kowalski") == Pseudonymiser(KEY).token("Marta Kowalski")
    assert TOKEN.fullmatch(p.token("Marta Kowalski"))
    assert p.token("Marta Kowalski") != Pseudonymiser(OTHER_KEY).token("Marta Kowalski")
    assert p.token("Marta Kowalski") != p.token("Marta Kowalska")


def _fullwidth(text: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)


@pytest.mark.parametrize(
    ("variant", "canonical"),
    [
        ("marta kowalski", "Marta Kowalski"),
        ("  MARTA   KOWALSKI ", "Marta Kowalski"),
        ("Marta\tKowalski\n", "Marta Kowalski"),
        (_fullwidth("Marta Kowalski"), "Marta Kowalski"),
        ("Jose\u0301 N\u0303un\u0303ez", "José Ñuñez"),  # decomposed accents
    ],
)
def test_the_same_person_written_differently_joins(variant: str, canonical: str) -> None:
    p = Pseudonymiser(KEY)
    assert variant != canonical
    assert normalise(variant) == normalise(canonical)
    assert p.token(variant) == p.token(canonical)


@pytest.mark.parametrize("name", SCHEMA_NAMES)
def test_no_clear_personal_value_is_left(name: str) -> None:
    record = example(name)
    before = copy.deepcopy(record)
    out = Pseudonymiser(KEY).apply(name, record)
    assert record == before  # input not mutated
    assert out is not record
    clear = [record[f] for f in catalog.personal_fields(name) if record.get(f) is not None]
    for text in strings_in(out):
        for value in clear:
            assert value not in text and normalise(value) not in normalise(text)
    for field in catalog.personal_fields(name):
        if record.get(field) is None:
            assert out[field] is None
        else:
            assert TOKEN.fullmatch(out[field])
    untouched = set(record) - set(catalog.personal_fields(name))
    assert {k: out[k] for k in untouched} == {k: record[k] for k in untouched}


@pytest.mark.parametrize("name", ["CourierConsignment", "PostalItem", "PassengerRecord"])
def test_pseudonymised_events_still_encode_and_validate(name: str) -> None:
    codec = AvroCodec()
    out = Pseudonymiser(KEY).apply(name, example(name))
    assert codec.decode(name, codec.encode(name, out)) == out


def test_rotation_maps_new_tokens_to_old_ones() -> None:
    old = Pseudonymiser(OTHER_KEY)
    rotated = Pseudonymiser(KEY, previous_keys=(OTHER_KEY,))
    tokens = rotated.tokens_for("Marta Kowalski")
    assert tokens == (rotated.token("Marta Kowalski"), old.token("Marta Kowalski"))
    assert Pseudonymiser(KEY).tokens_for("x") == (Pseudonymiser(KEY).token("x"),)


def test_keys_are_not_shown_and_must_be_long_enough() -> None:
    p = Pseudonymiser(KEY, previous_keys=(OTHER_KEY,))
    assert KEY.decode() not in repr(p) and OTHER_KEY.decode() not in repr(p)
    with pytest.raises(ValueError, match="at least 16 bytes"):
        Pseudonymiser(b"short")
    with pytest.raises(ValueError, match="at least 16 bytes"):
        Pseudonymiser(KEY, previous_keys=(b"short",))


def test_a_personal_field_of_the_wrong_type_is_named_not_shown() -> None:
    record = {**example("PassengerRecord"), "document_number": 123456789}
    with pytest.raises(CodecError) as info:
        Pseudonymiser(KEY).apply("PassengerRecord", record)
    assert info.value.field == "document_number"
    assert "123456789" not in str(info.value)


def test_validation_never_quotes_a_personal_value(monkeypatch: pytest.MonkeyPatch) -> None:
    # Make a personal field subject to a rule; its value must still stay out of the message.
    from schemas import validation

    rule = validation.Rule("traveller_name", "must be short", lambda v: len(v) < 3)
    monkeypatch.setattr(validation, "RULES", (*validation.RULES, rule))
    validation._plan.cache_clear()
    try:
        with pytest.raises(CodecError) as info:
            validation.validate("PassengerRecord", example("PassengerRecord"))
    finally:
        validation._plan.cache_clear()
    assert str(info.value) == "field traveller_name must be short"
