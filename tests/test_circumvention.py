"""Circumvention signals: found where a world plants them, silent where it does not.

The slow tests replay a declaration world of :mod:`simulator.worlds` with the three patterns
planted (express couriers, seed 1, 30% of its rows: 10,500 declarations, 12 months of
history and 6 live at a 5% budget) and its clean counterpart (the same declarations, routes
and habitual importers, nothing planted) through the production replay, as
``bench/circumvention.py`` does for the README's figures. Measured on this world:

==========================  ===========  =========  ======  ===================  =====
check                       recall       precision  reason  clean world fires    bound
                                                            on (live rows)
==========================  ===========  =========  ======  ===================  =====
``circumvention.route``     1.00         0.58       1.00    1.12%                2.5%
``circumvention.surge``     0.81         0.96       1.00    0.00%                0.2%
``circumvention.switch``    0.13 live;   0.83       1.00    0.06% (2 of 3,380)   0.5%
                            0.33 (1 of 3)
                            told of the
                            finding;
                            0.76 (39 of
                            51) history
==========================  ===========  =========  ======  ===================  =====

The route check's clean-world alarms are the 1% of honest consolidations at a listed hub.
Each check's reason is in the verdict of every planted declaration it fired on; no reason
carries a token or a trader's id. On a benchmark world (no routes, the packaged book, every
finding learnt) the checks fire on no declaration.
"""

from __future__ import annotations

import hashlib
import pickle
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bench.circumvention import (
    SIGNAL_OF,
    Seen,
    detection,
    examples,
    false_alarms,
    replay,
)
from learning.learner import Learner
from schemas import Pseudonymiser
from scorers.circumvention import (
    NAMES,
    CircumventionBook,
    CircumventionChecks,
    CircumventionFileError,
)
from scorers.ensemble import StreamEnsemble
from scorers.history import SCHEMAS, record_of
from scorers.model import RiskModel
from simulator.circumvention import PATTERNS
from simulator.worlds import World, generate
from streams.replay.mapping import ReplayMapping

PRESET, SEED, SCALE = "express_courier", 1, 0.3
REASONS = {
    "circumvention.route": re.compile(
        r"^declared origin [A-Z]{2}, dispatched (from [A-Z]{3} \([A-Z]{2}\) )?via [A-Z]{3}"
        r"( in [A-Z]{2})?, a re-labelling hub$"
    ),
    "circumvention.surge": re.compile(
        r"^origin [A-Z]{2} is new for HS \d{4}: [\d.]+% of its recent traffic against "
        r"[\d.]+% before duties rose on [A-Z]{2} \(\d{4}-\d{2}-\d{2}\)$"
    ),
    "circumvention.switch": re.compile(
        r"^(shipper|consignee|importer|sender) switched (origin [A-Z]{2} -> [A-Z]{2}|"
        r"HS heading \d{4} -> \d{4}) (\d+ days? after|the same day as) a finding$"
    ),
}
#: sha256 of today's worlds (CSV and mapping, seed 1, 5% of the rows), before circumvention
#: existed: a world without the option must stay byte for byte what the benchmark replays
UNCHANGED = {
    "national_imports": "f8949475454dd55db5b0dab6f973e1a853fc0779d8d03653853f6f3cbe550ad5",
    "express_courier": "46ade488b599ec52daf0e7868e207b41a4fa7bc82e600e458981e318ddf94eb9",
    "postal_smallparcels": "1f3741667f693ab9888bb11bb413db9b5f611996f5344497979222d2a7cf803c",
}


# -- the worlds --------------------------------------------------------------------------------


@pytest.mark.parametrize("preset", sorted(UNCHANGED))
def test_worlds_without_circumvention_are_byte_for_byte_as_before(
    preset: str, tmp_path: Path
) -> None:
    world = generate(preset, 1, 0.05)
    world.write_csv(tmp_path / "w.csv")
    world.write_mapping(tmp_path / "m.yaml")
    digest = hashlib.sha256((tmp_path / "w.csv").read_bytes()
                            + (tmp_path / "m.yaml").read_bytes()).hexdigest()
    assert digest == UNCHANGED[preset]
    assert world.circumvention is None and "route" not in world.columns


def test_planting_touches_only_the_planted_declarations() -> None:
    clean = generate(PRESET, 2, 0.1, circumvention=())
    planted = generate(PRESET, 2, 0.1, circumvention=PATTERNS)
    assert clean.circumvention is not None and planted.circumvention is not None
    assert set(clean.circumvention.patterns) == {""}
    marks = planted.circumvention.patterns
    assert {m for m in marks if m} == set(PATTERNS)
    for mark, before, after in zip(marks, clean.rows, planted.rows, strict=True):
        if not mark:
            assert before == after
        else:
            assert after["fraud"] in ("0", "1") and after != before
    assert planted.circumvention.book == clean.circumvention.book
    assert CircumventionBook.from_dict(planted.circumvention.book).switch_within_days == 30
    assert set(ReplayMapping.from_dict(planted.mapping).named_columns()) <= set(planted.columns)
    assert generate(PRESET, 2, 0.1, circumvention=PATTERNS).rows == planted.rows
    with pytest.raises(ValueError, match="unknown circumvention pattern"):
        generate(PRESET, 2, 0.1, circumvention=("smurfing",))


# -- the book ---------------------------------------------------------------------------------


def test_the_packaged_book_loads_and_a_bad_one_names_every_problem() -> None:
    book = CircumventionBook.from_yaml()
    assert book.hub_airports and book.measures and book.switch_within_days == 30
    with pytest.raises(CircumventionFileError) as error:
        CircumventionBook.from_text(
            "relabelling_hubs: {airports: [HKG, QQQ, 12], countries: [NO]}\n"
            "trade_defence: [{heading: '72', origin: China, since: '2025-13-01'}]\n"
            "switch_after_finding: {within_days: -1}\nwatchlists: {}\n"
        )
    problems = "\n".join(error.value.problems)
    for expected in ("QQQ is not in the airport table", "12 is not an IATA", "False is not a "
                     "country", "'72' must be an HS heading", "'China' is not a country",
                     "'2025-13-01' is not a date", "within_days: -1", "watchlists: unknown"):
        assert expected in problems, (expected, problems)
    custom = CircumventionBook.from_text("relabelling_hubs: {airports: [{QQQ: AE}]}")
    assert custom.hub_airports == {"QQQ": "AE"}


# -- privacy ----------------------------------------------------------------------------------


def _trader_events(token: str) -> Iterator[dict[str, Any]]:
    """A consignee who always declares HS 7208 from CN, then a finding, then a switch."""
    for day in range(1, 7):
        yield {"origin_country": "CN", "hs_code": "72081000", "consignee_id": token,
               "event_time": datetime(2025, 3, day, 9, tzinfo=UTC)}


def _checks(model: RiskModel) -> CircumventionChecks:
    checks = model.ensemble("courier").circumvention
    assert checks is not None
    return checks


def _traffic_at_large(model: RiskModel) -> None:
    """Other consignees' declarations, of other origins: a habit is judged against them (a
    trader declaring as everybody does has none)."""
    for n in range(40):
        model.observe("courier", model.assess("courier", {
            "origin_country": ("DE", "US", "JP")[n % 3], "hs_code": "72081000",
            "consignee_id": f"px_a{n}", "event_time": datetime(2025, 3, 1, 8, tzinfo=UTC)}))


def _caught(model: RiskModel, token: str) -> dict[str, Any]:
    _traffic_at_large(model)
    for record in _trader_events(token):
        assessment = model.assess("courier", record)
        model.observe("courier", assessment)
    model.learn_outcome("courier", assessment.features, assessment.entities,
                        assessment.sub_scores, True, day=20_152)
    return {"origin_country": "VN", "hs_code": "72081000", "consignee_id": token,
            "event_time": datetime(2025, 3, 9, 9, tzinfo=UTC)}


def test_switch_records_follow_erasure_retention_and_key_rotation() -> None:
    book = CircumventionBook.from_text("switch_after_finding: {within_days: 30}")
    model = RiskModel(seed=1, circumvention=book)
    switch = _checks(model).switch
    later = _caught(model, "px_subject")
    assessment = model.assess("courier", later)
    assert assessment.sub_scores["circumvention.switch"] == pytest.approx(0.9)
    assert [r.text for r in assessment.reasons if r.code == "circumvention.switch"] == [
        "consignee switched origin CN -> VN 3 days after a finding"]

    # key rotation: the records move to the subject's new token, and still fire
    model.carry_over("courier", {"consignee": "px_rotated"}, {"consignee": "px_subject"})
    assert "px_subject" not in switch.habits["consignee"]
    rotated = model.assess("courier", {**later, "consignee_id": "px_rotated"})
    assert "circumvention.switch" in rotated.sub_scores

    # erasure drops them (the returned count stays the profile keys' alone)
    model.erase({"px_rotated"})
    assert "px_rotated" not in switch.habits["consignee"]
    assert "px_rotated" not in switch.findings["consignee"]
    assert "circumvention.switch" not in model.assess(
        "courier", {**later, "consignee_id": "px_rotated"}).sub_scores

    # retention: records older than the cut-off day go with the profile keys
    _caught(model, "px_other")
    model.forget_older_than({"courier": 20_200, "postal": 20_200, "passenger": 20_200})
    assert not switch.habits["consignee"] and not switch.findings["consignee"]
    assert all("px_" not in str(m) for m in switch.traffic.values())  # counts hold no token


def test_the_learners_erasure_reaches_the_switch_records() -> None:
    book = CircumventionBook.from_text("switch_after_finding: {within_days: 30}")
    learner = Learner(RiskModel(seed=1, circumvention=book))
    _caught(learner.model, "px_subject")
    assert "px_subject" in _checks(learner.model).switch.findings["consignee"]
    request = {"request_id": "erasure-7", "requested_at": datetime(2025, 3, 10, tzinfo=UTC),
               "tokens": ["px_subject"]}
    learner.on_erasure(request, offset=0)
    switch = _checks(learner.model).switch
    assert "px_subject" not in switch.findings["consignee"]
    assert "px_subject" not in switch.habits["consignee"]


def test_without_a_switch_window_no_trader_record_is_kept() -> None:
    model = RiskModel(seed=1)  # an empty book
    _caught(model, "px_subject")
    assert not _checks(model).switch.habits and not _checks(model).switch.findings


def test_a_snapshot_from_before_the_checks_loads_and_can_be_configured() -> None:
    ensemble = StreamEnsemble("courier", seed=1)
    state = dict(ensemble.__dict__)
    del state["circumvention"], state["circumvention_book"]
    state["stacker"].prefix_weights = (("profile.", 0.5),)
    old = StreamEnsemble.__new__(StreamEnsemble)
    old.__setstate__(pickle.loads(pickle.dumps(state)))
    record = {"origin_country": "VN", "route": ["HKG", "LEJ"], "hs_code": "851712"}
    assert "circumvention.route" not in old.assess(record).sub_scores  # an empty book
    old.configure_circumvention(CircumventionBook.from_text("relabelling_hubs: {airports: "
                                                            "[HKG]}"))
    assessment = old.assess(record)
    assert assessment.sub_scores["circumvention.route"] == pytest.approx(0.95)
    assert old.stacker.weight("circumvention.route") == pytest.approx(0.6)
    assert [r.text for r in assessment.reasons if r.code == "circumvention.route"] == [
        "declared origin VN, dispatched via HKG, a re-labelling hub"]


# -- detection and false alarms, through the production replay ---------------------------------


@pytest.fixture(scope="module")
def replayed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    work = tmp_path_factory.mktemp("circumvention")
    planted = generate(PRESET, SEED, SCALE, circumvention=PATTERNS)
    clean = generate(PRESET, SEED, SCALE, circumvention=())
    history, live = replay(planted, work)
    _, clean_live = replay(clean, work)
    return {"world": planted, "history": history, "live": live, "clean": clean_live,
            "detection": detection(planted, live, history), "false": false_alarms(clean_live)}


def _report(replayed: dict[str, Any], pattern: str) -> dict[str, float]:
    figures: dict[str, float] = replayed["detection"][pattern]
    print(f"\n{SIGNAL_OF[pattern]}: " + ", ".join(f"{k} {v:.3f}" for k, v in figures.items())
          + f"; clean world fires on {100 * replayed['false'][SIGNAL_OF[pattern]]:.2f}%")
    return figures


def _reasons_read_right(replayed: dict[str, Any], signal: str) -> None:
    shown = [s.reasons[signal] for s in replayed["live"] if signal in s.reasons]
    assert shown, f"no verdict names {signal}"
    for text in shown:
        assert REASONS[signal].match(text), text


@pytest.mark.slow
def test_route_check_finds_relabelled_goods(replayed: dict[str, Any]) -> None:
    figures = _report(replayed, "relabelled_route")
    assert figures["planted"] >= 30 and figures["recall"] >= 0.9
    assert figures["recall_history"] >= 0.9
    # the rest it fires on are honest consolidations at a listed hub (1% of declarations)
    assert figures["precision"] >= 0.4
    assert figures["reason_shown"] >= 0.95
    _reasons_read_right(replayed, "circumvention.route")
    assert replayed["false"]["circumvention.route"] <= 0.025


@pytest.mark.slow
def test_surge_check_finds_the_new_origin_after_the_duty(replayed: dict[str, Any]) -> None:
    figures = _report(replayed, "origin_surge")
    # the first weeks after the measure are missed: 30 declarations of the heading since
    # its start are needed to judge shares, about three weeks at this world's volume
    assert figures["planted"] >= 30 and figures["recall"] >= 0.65
    assert figures["precision"] >= 0.85
    assert figures["reason_shown"] >= 0.95
    _reasons_read_right(replayed, "circumvention.surge")
    assert replayed["false"]["circumvention.surge"] <= 0.002


@pytest.mark.slow
def test_switch_check_finds_traders_switching_after_a_finding(
    replayed: dict[str, Any],
) -> None:
    figures = _report(replayed, "switch_after_finding")
    # where every finding is known (the history) it finds most switches; it misses traders
    # too new to have a habit. Live, it can only know of findings on inspected declarations.
    assert figures["planted_history"] >= 30 and figures["recall_history"] >= 0.75
    # live it is told of a handful of findings before a switch (3 here; with the budget
    # ledger's picks 1 of them switched where it looked): it must find one, not a share
    assert figures["told"] >= 2 and figures["recall_told"] * figures["told"] >= 1
    assert figures["precision"] >= 0.4
    assert figures["reason_shown"] >= 0.95
    _reasons_read_right(replayed, "circumvention.switch")
    assert replayed["false"]["circumvention.switch"] <= 0.005


@pytest.mark.slow
def test_reasons_never_carry_a_token_or_a_traders_id(replayed: dict[str, Any]) -> None:
    world: World = replayed["world"]
    ids = {row[column] for row in world.rows for column in ("importer", "declarant", "seller")}
    seen: list[Seen] = [*replayed["history"], *replayed["live"], *replayed["clean"]]
    texts = [text for s in seen for text in s.reasons.values()]
    assert len(texts) > 100
    for text in texts:
        assert "px_" not in text
        assert not ids.intersection(re.findall(r"[A-Z]{3}\d+", text)), text
    print("\n" + "\n".join(f"{code}: {text}" for code, text in examples(seen).items()))


def test_checks_stay_silent_on_a_benchmark_world() -> None:
    """A targeting-benchmark world (no routes; the packaged book: its measures and hubs;
    every declaration learnt with its label, so every finding is known)."""
    world = generate("national_imports", 1, 0.1)
    mapping = ReplayMapping.from_dict(world.mapping)
    model = RiskModel(seed=1, circumvention=CircumventionBook.from_yaml())
    pseudonymiser = Pseudonymiser(b"test-circumvention-key-0123456789")
    fired = 0
    for line, cells in enumerate(world.rows, start=2):
        row = mapping.row(cells, line)
        record = pseudonymiser.apply(SCHEMAS["courier"], record_of("courier", row.fields))
        assessment = model.assess("courier", record)
        fired += any(name in assessment.sub_scores for name in NAMES)
        model.observe("courier", assessment)
        model.learn_outcome("courier", assessment.features, assessment.entities,
                            assessment.sub_scores, row.label)
    print(f"\nfired on {fired} of {len(world.rows)} declarations")
    assert fired == 0


def test_readme_table_is_the_committed_report() -> None:
    import json

    from bench.circumvention import REPORT, table

    readme = (Path(__file__).parent.parent / "README.md").read_text()
    report = json.loads(REPORT.read_text())
    assert table(report) in readme, "run python -m bench.circumvention, then paste its table"
