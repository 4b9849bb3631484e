"""The inspection authority: who finds what, when, and always the same answer per event."""

from __future__ import annotations

import random
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import fastavro
import pytest
from fastavro.validation import validate

from simulator import InspectionAuthority, OutcomeQueue, Truth, load_avsc

AT = datetime(2025, 1, 6, 9, tzinfo=UTC)
SMUGGLED = Truth(True, "undervaluation", "revenue_adjustment", Decimal("120.50"), 1, "base")
SEIZED = Truth(True, "risky_route", "seizure", Decimal("0.00"), 3, "base")
CLEAN = Truth(False)
IDS = [f"courier-0-{n:09d}" for n in range(3000)]


def found_share(authority: InspectionAuthority, truth: Truth, level: str) -> float:
    found = 0
    for event_id in IDS:
        answer = authority.inspect(event_id, "courier", truth, level, AT)
        assert answer is not None
        found += answer[1]["result"] != "no_finding"
    return found / len(IDS)


def test_release_gives_no_outcome() -> None:
    authority = InspectionAuthority()
    assert all(authority.inspect(i, "courier", SEIZED, "release", AT) is None for i in IDS[:50])


def test_physical_inspection_finds_most_illicit_and_nothing_on_licit() -> None:
    authority = InspectionAuthority(seed=1, detection_rate=0.9)
    assert found_share(authority, SMUGGLED, "physical_inspection") == pytest.approx(0.9, abs=0.03)
    assert found_share(authority, CLEAN, "physical_inspection") == 0.0
    _, outcome = next(
        answer for i in IDS
        if (answer := authority.inspect(i, "postal", SEIZED, "physical_inspection", AT))
        and answer[1]["result"] != "no_finding"
    )
    assert (outcome["result"], outcome["severity"], outcome["recovered_amount"]) == (
        "seizure", 3, Decimal("0.00"))


def test_document_check_finds_less_and_only_paper_trouble() -> None:
    authority = InspectionAuthority(seed=1, document_detection_rate=0.3)
    assert found_share(authority, SMUGGLED, "document_check") == pytest.approx(0.3, abs=0.04)
    results = {authority.inspect(i, "courier", SEIZED, "document_check", AT)[1]["result"]  # type: ignore[index]
               for i in IDS[:300]}
    assert results == {"no_finding", "documentary_irregularity"}
    revenue = [authority.inspect(i, "courier", SMUGGLED, "document_check", AT)[1]  # type: ignore[index]
               for i in IDS[:300]]
    assert {o["result"] for o in revenue} == {"no_finding", "revenue_adjustment"}
    assert all(o["recovered_amount"] == Decimal("120.50") for o in revenue
               if o["result"] == "revenue_adjustment")


def test_answers_depend_on_the_event_not_on_the_order() -> None:
    shuffled = IDS[:500]
    random.Random(3).shuffle(shuffled)
    forward = {i: InspectionAuthority(seed=4).inspect(i, "courier", SMUGGLED,
                                                      "physical_inspection", AT)
               for i in IDS[:500]}
    authority = InspectionAuthority(seed=4)
    backward = {i: authority.inspect(i, "courier", SMUGGLED, "physical_inspection", AT)
                for i in shuffled}
    assert forward == backward
    other = {i: InspectionAuthority(seed=5).inspect(i, "courier", SMUGGLED,
                                                    "physical_inspection", AT)
             for i in IDS[:500]}
    assert other != forward


def test_outcome_is_due_after_the_delay_and_matches_the_schema() -> None:
    schema = fastavro.parse_schema(load_avsc("riskstream.InspectionOutcome"))
    authority = InspectionAuthority(seed=2, delay_s=3600.0)
    for event_id in IDS[:200]:
        answer = authority.inspect(event_id, "passenger", SEIZED, "physical_inspection", AT,
                                   hub="hub_FRA")
        assert answer is not None
        due, outcome = answer
        assert due == AT + timedelta(hours=1) == outcome["outcome_time"]
        assert outcome["event_id"] == event_id and outcome["stream"] == "passenger"
        assert re.fullmatch(r"unit_FRA_[1-4]", outcome["officer_unit"])
        assert validate(outcome, schema, strict=True)
    jittery = InspectionAuthority(seed=2, delay_s=60.0, delay_jitter_s=30.0)
    dues = {jittery.inspect(i, "courier", CLEAN, "document_check", AT)[0]  # type: ignore[index]
            for i in IDS[:100]}
    assert len(dues) > 50
    assert all(AT + timedelta(seconds=60) <= due < AT + timedelta(seconds=90) for due in dues)


def test_bad_input_is_refused_with_the_culprit() -> None:
    authority = InspectionAuthority()
    with pytest.raises(ValueError, match="event courier-0-7: unknown control level 'x-ray'"):
        authority.inspect("courier-0-7", "courier", CLEAN, "x-ray", AT)
    with pytest.raises(ValueError, match="timezone-aware"):
        authority.inspect("courier-0-7", "courier", CLEAN, "document_check",
                          datetime(2025, 1, 6))  # noqa: DTZ001
    with pytest.raises(ValueError, match="event postal-1: unknown stream 'mail'"):
        authority.inspect("postal-1", "mail", CLEAN, "document_check", AT)
    with pytest.raises(ValueError, match="detection_rate"):
        InspectionAuthority(detection_rate=1.2)


def test_outcome_queue_releases_due_outcomes_in_time_order() -> None:
    queue = OutcomeQueue()
    assert queue.pop_due(AT) == [] and queue.next_due() is None
    for seconds, name in ((30, "c"), (10, "a"), (20, "b"), (10, "a2"), (99, "late")):
        queue.push(AT + timedelta(seconds=seconds), {"event_id": name})
    assert queue.next_due() == AT + timedelta(seconds=10)
    assert [o["event_id"] for o in queue.pop_due(AT + timedelta(seconds=30))] == [
        "a", "a2", "b", "c"]
    assert len(queue) == 1
    assert [o["event_id"] for o in queue.pop_due(AT + timedelta(days=1))] == ["late"]
    assert len(queue) == 0
