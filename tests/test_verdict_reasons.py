"""Verdicts of a warm-started model: reasons an officer can read, rules and valuation verbatim."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from schemas import AvroCodec, Pseudonymiser
from scorers.history import read_history, warm_start
from scorers.model import RiskModel
from scorers.rules import RuleBook
from simulator import HubWorld, export_csv, personal_values
from streams.cli import cli
from streams.runtime import build_scoring_service
from streams.scoring import ScoringService
from streams.settings import Settings

KEY = Settings().pseudonym_key.get_secret_value().encode()
VALUATION = re.compile(
    r"^declared [\d.,]+ EUR/kg; median for HS \d{4,6} from [A-Z]{2} is [\d.,]+ EUR/kg"
)


@pytest.fixture(scope="module")
def warm_service(tmp_path_factory: pytest.TempPathFactory) -> ScoringService:
    history = tmp_path_factory.mktemp("history") / "courier.csv"
    export_csv(
        history, HubWorld(seed=5), datetime(2026, 1, 1, tzinfo=UTC), n_rows=6000, stream="courier"
    )
    model = RiskModel(seed=1, rulebook=RuleBook.from_yaml())
    report = warm_start(model, read_history(history), Pseudonymiser(KEY))
    assert report.learned == {"courier": 6000} and report.skipped == 0
    return build_scoring_service(Settings(topic_prefix="unit"), model)


def _verdict(service: ScoringService, record: dict[str, Any]) -> dict[str, Any]:
    codec = AvroCodec()
    result = service.process(
        "unit.courier.events", 0, 0, None, codec.encode("CourierConsignment", record)
    )
    assert result.rejected is None, result
    return codec.decode("RiskVerdict", result.outbound[0].value)


def test_undervaluation_shows_the_reference_price_verbatim(warm_service: ScoringService) -> None:
    world = HubWorld(seed=9)
    start = datetime(2026, 2, 1, tzinfo=UTC)
    found = 0
    for i in range(4000):
        event = world.event("courier", "hub_LEJ", start + timedelta(seconds=i))
        if event.truth.pattern != "undervaluation":
            continue
        verdict = _verdict(warm_service, event.record)
        texts = [r["text"] for r in verdict["reasons"] if r["code"] == "valuation.under"]
        found += bool(texts and VALUATION.match(texts[0]))
    assert found >= 5, "undervalued consignments name the declared and the reference price"


def test_rule_hit_reason_is_verbatim_and_always_inspected(warm_service: ScoringService) -> None:
    record = dict(
        HubWorld(seed=2).event("courier", "hub_LEJ", datetime.now(UTC)).record, origin_country="KP"
    )
    verdict = _verdict(warm_service, record)
    texts = [r["text"] for r in verdict["reasons"]]
    assert "Goods from a sanctioned origin (KP): inspection required" in texts
    assert verdict["level"] == "physical_inspection" and verdict["selection_kind"] == "rule"
    assert verdict["propensity"] == 1.0


def test_reasons_never_carry_personal_values(warm_service: ScoringService) -> None:
    world = HubWorld(seed=4)
    for _ in range(300):
        record = world.event("courier", "hub_CGN", datetime.now(UTC)).record
        verdict = _verdict(warm_service, record)
        assert verdict["reasons"], "at least one reason"
        text = " ".join(r["text"] for r in verdict["reasons"])
        assert not {v for v in personal_values(record, "courier") if v in text}
        assert "px_" not in text, "no pseudonym tokens in officer-facing text either"


def test_unknown_hs_code_falls_back_instead_of_failing(warm_service: ScoringService) -> None:
    record = dict(
        HubWorld(seed=2).event("courier", "hub_LEJ", datetime.now(UTC)).record, hs_code="990199"
    )
    verdict = _verdict(warm_service, record)
    assert 0.0 <= verdict["score"] <= 1.0 and verdict["reasons"]


def test_bad_rule_book_is_reported_with_its_line(tmp_path: Path) -> None:
    bad = tmp_path / "rules.yaml"
    bad.write_text(
        "rules:\n  - id: x\n    stream: courier\n    when: {value_eur: {gt_: 3}}\n"
        "    severity: 2\n    reason: r\n"
    )
    result = CliRunner().invoke(cli, ["rules", "check", str(bad)])
    assert result.exit_code == 1
    assert "line 4" in result.output and "gt_" in result.output
    assert "severity" in result.output
    good = CliRunner().invoke(cli, ["rules", "check", "scorers/rules/default.yaml"])
    assert good.exit_code == 0 and "all valid" in good.output
