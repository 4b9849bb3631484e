"""The synthetic world: schema fidelity, determinism, rates and learnable, drifting truth."""

from __future__ import annotations

import collections
import io
import re
import statistics
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import fastavro
import pytest
from fastavro.validation import validate

from simulator import (
    BASE,
    DEFAULT_RATES,
    DRIFTED,
    STREAMS,
    HubWorld,
    SimEvent,
    load_avsc,
    personal_fields,
    personal_values,
    scale_rates,
)
from simulator.catalogue import GOODS, UNITS_PER_EUR
from simulator.geography import LATE_API_CARRIERS

START = datetime(2025, 1, 6, 6, tzinfo=UTC)
DRIFT_AT = START + timedelta(minutes=5)
SECONDS = 600.0


@pytest.fixture(scope="module")
def sample() -> list[SimEvent]:
    """Ten simulated minutes at the default rates, drifting half way (~78k events)."""
    world = HubWorld(seed=3, drift_at=DRIFT_AT)
    return list(world.events(START, SECONDS, DEFAULT_RATES))


def of(sample: list[SimEvent], stream: str) -> list[SimEvent]:
    return [event for event in sample if event.stream == stream]


def illicit_share(events: list[SimEvent]) -> float:
    return sum(event.truth.illicit for event in events) / max(1, len(events))


def value_per_kg_eur(record: dict[str, Any]) -> float:
    value = float(record["declared_value"]) / UNITS_PER_EUR[record["currency"]]
    return value / float(record["gross_weight_kg"])


# -- the data contract -------------------------------------------------------------------------


def _datetimes(record: dict[str, Any]) -> list[datetime]:
    return [value for value in record.values() if isinstance(value, datetime)]


@pytest.mark.parametrize("stream", STREAMS)
def test_records_match_their_avro_schema(sample: list[SimEvent], stream: str) -> None:
    schema = fastavro.parse_schema(load_avsc(stream))
    field_names = {field["name"] for field in load_avsc(stream)["fields"]}
    events = of(sample, stream)
    # every illicit event (all patterns, both regimes) plus a slice of licit traffic
    checked = [e for e in events if e.truth.illicit] + events[:3000]
    for event in checked:
        record = event.record
        assert set(record) == field_names, event.event_id
        assert validate(record, schema, strict=True), event.event_id
        for at in _datetimes(record):
            assert at.tzinfo is UTC and at.microsecond % 1000 == 0, (event.event_id, at)
        for value in record.values():
            if isinstance(value, Decimal):
                assert value.as_tuple().exponent == -2 and value > 0, (event.event_id, value)
    # a binary round trip gives the record back unchanged
    for event in checked[:500]:
        buffer = io.BytesIO()
        fastavro.schemaless_writer(buffer, schema, event.record, strict=True)
        buffer.seek(0)
        assert fastavro.schemaless_reader(buffer, schema, schema) == event.record


def test_event_ids_are_unique_and_readable(sample: list[SimEvent]) -> None:
    ids = [event.event_id for event in sample]
    assert len(set(ids)) == len(ids)
    assert all(re.fullmatch(rf"{e.stream}-3-\d{{9}}", e.event_id) for e in sample[:1000])


def test_personal_values_cover_the_marked_fields(sample: list[SimEvent]) -> None:
    for stream in STREAMS:
        event = of(sample, stream)[0]
        found = personal_values(event.record)
        assert found == personal_values(event.record, stream)
        expected = {str(event.record[name]) for name in personal_fields(stream)
                    if event.record[name] is not None}
        assert found == expected and found


def test_passenger_times_tell_a_consistent_story(sample: list[SimEvent]) -> None:
    for event in of(sample, "passenger"):
        r = event.record
        received = r["event_time"]
        assert r["departure_time"] - received == timedelta(
            seconds=r["api_received_before_departure_s"])
        if r["booking_time"] is not None:
            assert r["booking_time"] < r["departure_time"]
        if r["check_in_time"] is not None:
            assert r["check_in_time"] <= min(received, r["departure_time"])
            if r["booking_time"] is not None:
                assert r["booking_time"] <= r["check_in_time"]
        itinerary = r["itinerary"]
        assert r["departure_airport"] in itinerary
        if r["one_way"]:
            assert itinerary[-1] == r["arrival_airport"]
        else:
            assert itinerary[0] == itinerary[-1] != r["arrival_airport"] in itinerary
        nulls = (r["date_of_birth"] is None) + (r["nationality"] is None)
        assert r["mandatory_fields_missing"] >= nulls


# -- determinism -------------------------------------------------------------------------------


def _first(world: HubWorld, n: int, rates: Any = DEFAULT_RATES) -> list[SimEvent]:
    events = world.events(START, 3600.0, rates)
    return [next(events) for _ in range(n)]


def test_same_seed_same_world_different_seed_different_world() -> None:
    first, again = _first(HubWorld(seed=11), 3000), _first(HubWorld(seed=11), 3000)
    assert first == again
    other = _first(HubWorld(seed=12), 3000)
    assert [e.record for e in first] != [e.record for e in other]
    assert {e.event_time for e in first} != {e.event_time for e in other}


def test_streams_do_not_disturb_each_other() -> None:
    courier_only = {"courier": DEFAULT_RATES["courier"]}
    alone = _first(HubWorld(seed=5), 500, courier_only)
    mixed = [e for e in _first(HubWorld(seed=5), 3000) if e.stream == "courier"][:500]
    strip = [{k: v for k, v in e.record.items() if k != "event_id"} for e in alone]
    assert strip == [{k: v for k, v in e.record.items() if k != "event_id"} for e in mixed]
    assert [e.truth for e in alone] == [e.truth for e in mixed]


def test_naive_times_and_unknown_streams_are_refused() -> None:
    world = HubWorld()
    with pytest.raises(ValueError, match="timezone-aware"):
        world.event("courier", "hub_LEJ", datetime(2025, 1, 6))  # noqa: DTZ001
    with pytest.raises(ValueError, match="unknown stream 'sea'"):
        world.event("sea", "hub_HAM", START)
    with pytest.raises(ValueError, match="rate for postal at hub_FRA"):
        list(world.schedule(START, 1.0, {"postal": {"hub_FRA": -1.0}}))
    with pytest.raises(ValueError, match="illicit_rate"):
        HubWorld(illicit_rate=1.5)


# -- rates -------------------------------------------------------------------------------------


def test_schedule_keeps_the_configured_rates_over_an_hour() -> None:
    rates = scale_rates(DEFAULT_RATES, 0.25)
    arrivals = list(HubWorld(seed=2).schedule(START, 3600.0, rates))
    times = [at for at, _, _ in arrivals]
    assert times == sorted(times)
    assert times[0] >= START and times[-1] < START + timedelta(hours=1)
    counts = collections.Counter((stream, hub) for _, stream, hub in arrivals)
    for stream, hubs in rates.items():
        for hub, rate in hubs.items():
            assert counts[stream, hub] == pytest.approx(rate * 3600, rel=0.03), (stream, hub)
    assert set(counts) == {(s, h) for s, hubs in rates.items() for h in hubs}


def test_default_hubs() -> None:
    assert {s: sorted(h) for s, h in DEFAULT_RATES.items()} == {
        "courier": ["hub_CGN", "hub_LEJ"],
        "postal": ["hub_FRA", "hub_LEJ"],
        "passenger": ["hub_FRA", "hub_MUC"],
    }


def test_illicit_rate_follows_the_setting(sample: list[SimEvent]) -> None:
    for stream in STREAMS:
        assert illicit_share(of(sample, stream)) == pytest.approx(0.04, abs=0.008), stream
    busy = list(HubWorld(seed=4, illicit_rate=0.12).events(START, 120.0, DEFAULT_RATES))
    assert illicit_share(busy) == pytest.approx(0.12, abs=0.015)
    clean = list(HubWorld(seed=4, illicit_rate=0.0).events(START, 30.0, DEFAULT_RATES))
    assert not any(event.truth.illicit for event in clean)


def test_truth_is_consistent(sample: list[SimEvent]) -> None:
    for event in sample:
        truth = event.truth
        if not truth.illicit:
            assert (truth.pattern, truth.result, truth.severity, truth.recovered_eur) == (
                "none", "no_finding", 0, Decimal("0.00"))
            continue
        assert truth.result in ("seizure", "revenue_adjustment")
        assert 1 <= truth.severity <= 3 and truth.regime in ("base", "drifted")
        assert (truth.recovered_eur > 0) == (truth.result == "revenue_adjustment")


# -- learnable patterns ------------------------------------------------------------------------


def test_undervalued_goods_sit_far_below_licit_prices_for_their_hs_code(
    sample: list[SimEvent],
) -> None:
    prices: dict[str, dict[bool, list[float]]] = collections.defaultdict(
        lambda: {True: [], False: []})
    for event in of(sample, "courier"):
        if event.truth.pattern in ("undervaluation", "none"):
            prices[event.record["hs_code"][:6]][event.truth.illicit].append(
                value_per_kg_eur(event.record))
    compared = 0
    for hs6, groups in prices.items():
        if len(groups[True]) >= 20 and len(groups[False]) >= 50:
            compared += 1
            ratio = statistics.median(groups[True]) / statistics.median(groups[False])
            assert ratio < 0.25, (hs6, ratio)
    assert compared >= 5


def test_misclassified_descriptions_contradict_their_hs_chapter(sample: list[SimEvent]) -> None:
    chapters: dict[str, set[str]] = collections.defaultdict(set)
    for goods in GOODS:
        for text in goods.descriptions:
            chapters[text.lower()].add(goods.chapter)

    def matches(record: dict[str, Any]) -> bool:
        text = record["goods_description"].lower().split(", ")[0]
        return record["hs_code"][:2] in chapters[text]

    courier = of(sample, "courier")
    licit = [e for e in courier if not e.truth.illicit]
    wrong = [e for e in courier if e.truth.pattern == "misclassification"]
    assert len(wrong) > 100
    assert sum(matches(e.record) for e in licit) / len(licit) > 0.95
    assert not any(matches(e.record) for e in wrong)


def test_repeat_offenders_recur_and_carry_risk(sample: list[SimEvent]) -> None:
    courier = [e for e in of(sample, "courier") if e.event_time < DRIFT_AT]
    offences = collections.Counter(
        e.record["shipper_id"] for e in courier if e.truth.pattern == "repeat_offender")
    regulars = {shipper for shipper, count in offences.items() if count >= 5}
    assert len(regulars) >= 5
    theirs = [e for e in courier if e.record["shipper_id"] in regulars]
    assert illicit_share(theirs) > max(0.5, 10 * illicit_share(courier))
    # offenders also show up clean sometimes, so an entity profile is a rate, not a flag
    assert any(not e.truth.illicit for e in theirs)
    travellers = collections.Counter(
        e.record["document_number"] for e in of(sample, "passenger")
        if e.truth.pattern == "repeat_offender")
    assert travellers.most_common(1)[0][1] >= 5


def test_aeo_traders_are_mostly_licit(sample: list[SimEvent]) -> None:
    courier = of(sample, "courier")
    certified = [e for e in courier if e.record["aeo_status"] != "none"]
    assert len(certified) > 1000
    assert illicit_share(certified) < 0.3 * illicit_share(courier)


def _short_notice_cash(record: dict[str, Any]) -> bool:
    booked = record["booking_time"]
    return (record["payment_form"] == "cash" and booked is not None
            and record["departure_time"] - booked < timedelta(hours=48))


def test_short_notice_cash_bookings_are_enriched_for_illicit(sample: list[SimEvent]) -> None:
    passengers = of(sample, "passenger")
    flagged = [e for e in passengers if _short_notice_cash(e.record)]
    assert len(flagged) > 100
    assert illicit_share(flagged) > 10 * illicit_share(passengers)
    # before the drift; afterwards couriers book like ordinary travellers (see regimes.py)
    couriers = [e for e in passengers
                if e.truth.pattern == "cash_short_notice" and e.truth.regime == "base"]
    assert sum(e.record["one_way"] for e in couriers) / len(couriers) > 0.5
    assert statistics.mean(e.record["baggage_count"] for e in couriers) < statistics.mean(
        e.record["baggage_count"] for e in passengers if not e.truth.illicit)


def test_late_api_is_risk_on_punctual_carriers_and_noise_on_charters(
    sample: list[SimEvent],
) -> None:
    passengers = of(sample, "passenger")

    def late(e: SimEvent) -> bool:
        r = e.record
        return bool(r["api_received_before_departure_s"] < 0 or r["mandatory_fields_missing"] >= 2)

    charters = [e for e in passengers if e.record["carrier"] in LATE_API_CARRIERS]
    licit_charters = [e for e in charters if not e.truth.illicit]
    assert sum(late(e) for e in licit_charters) / len(licit_charters) > 0.2
    punctual_late = [e for e in passengers
                     if late(e) and e.record["carrier"] not in LATE_API_CARRIERS]
    charter_late = [e for e in charters if late(e)]
    assert illicit_share(punctual_late) > 3 * illicit_share(charter_late)


# -- drift -------------------------------------------------------------------------------------


def _share(events: list[SimEvent], keep: Any) -> float:
    return sum(bool(keep(e)) for e in events) / max(1, len(events))


def test_smugglers_change_commodity_and_routes_at_the_drift(sample: list[SimEvent]) -> None:
    before = [e for e in sample if e.event_time < DRIFT_AT]
    after = [e for e in sample if e.event_time >= DRIFT_AT]

    def undervalued(events: list[SimEvent]) -> list[SimEvent]:
        return [e for e in events if e.stream == "courier" and e.truth.pattern == "undervaluation"]

    from_china = lambda e: e.record["origin_country"] in ("CN", "HK")  # noqa: E731
    assert _share(undervalued(before), from_china) > 0.9
    assert _share(undervalued(after), from_china) < 0.2
    assert _share(undervalued(after), lambda e: e.record["origin_country"] == "TR") > 0.5

    def cash(events: list[SimEvent]) -> list[SimEvent]:
        return [e for e in events if e.truth.pattern == "cash_short_notice"]

    old_sources = lambda e: e.record["itinerary"][0] in BASE.cash_source_airports  # noqa: E731
    new_sources = lambda e: e.record["itinerary"][0] in DRIFTED.cash_source_airports  # noqa: E731
    assert _share(cash(before), old_sources) == 1.0
    assert _share(cash(after), new_sources) > 0.8

    def mix(events: list[SimEvent]) -> dict[str, float]:
        patterns = collections.Counter(e.truth.pattern for e in events
                                       if e.stream == "courier" and e.truth.illicit)
        total = sum(patterns.values())
        return {pattern: count / total for pattern, count in patterns.items()}

    old, new = mix(before), mix(after)
    distance = sum(abs(old.get(p, 0) - new.get(p, 0)) for p in old.keys() | new.keys()) / 2
    assert distance > 0.08


def test_no_drift_without_drift_at() -> None:
    world = HubWorld(seed=3)
    late = START + timedelta(days=30)
    events = list(world.events(late, 30.0, {"courier": {"hub_LEJ": 200.0}}))
    assert all(e.truth.regime in ("", "base") for e in events)


def test_smugglers_hide_behind_trusted_parties_only_when_asked_and_after_the_drift() -> None:
    rates = {"courier": {"hub_LEJ": 20.0}, "postal": {"hub_FRA": 5.0},
             "passenger": {"hub_FRA": 5.0}}
    plain = list(HubWorld(seed=3, drift_at=DRIFT_AT).events(START, SECONDS, rates))
    abused = list(HubWorld(seed=3, drift_at=DRIFT_AT, trusted_abuse=0.5).events(
        START, SECONDS, rates))
    # until the drift, and without it, the world is the same event for event
    before = sum(e.event_time < DRIFT_AT for e in plain)
    assert [e.record for e in abused[:before]] == [e.record for e in plain[:before]]
    certified = [e for e in of(abused[before:], "courier") if e.record["aeo_status"] != "none"]
    # about half the illicit consignments now come from AEO traders, and the truth is kept
    illicit = of([e for e in abused[before:] if e.truth.illicit], "courier")
    share = sum(e.record["aeo_status"] != "none" for e in illicit) / len(illicit)
    assert 0.35 < share < 0.6
    assert illicit_share(certified) > 0.01
    # disguised records are still valid records of their stream
    schemas = {stream: fastavro.parse_schema(load_avsc(stream)) for stream in STREAMS}
    smuggled = [e for e in abused[before:] if e.truth.illicit]
    assert {e.stream for e in smuggled} == set(STREAMS)
    for event in smuggled:
        assert validate(event.record, schemas[event.stream], strict=True), event.event_id


# -- speed -------------------------------------------------------------------------------------


def test_generation_is_fast_enough_for_live_traffic() -> None:
    world = HubWorld(seed=9)
    began = time.perf_counter()
    count = sum(1 for _ in world.events(START, 200.0, DEFAULT_RATES))  # ~26k events
    elapsed = time.perf_counter() - began
    # about 18 us per event here; the bound only catches an order-of-magnitude regression
    assert count / elapsed > 5000, f"{count / elapsed:.0f} events/s"
