"""The workbench in a real browser (Debian's chromium, headless, driven by Playwright) over a
real scorer, learner and workbench on the embedded broker.

An officer logs in, sees a selected consignment with its reasons, claims it and records a
seizure (with a double click, then a browser retry). Then: the InspectionOutcome is on
Kafka exactly once; the learner learned it, because the model version of the next verdict
moves; and after a restart of the workbench the case still shows closed. No page ever shows
a personal value of the consignment.
"""

from __future__ import annotations

import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from tools import require_tools
from workbench_helpers import PASSWORD, metric, wait_for

from schemas import AvroCodec
from simulator import HubWorld, personal_values
from streams.broker import free_port
from streams.testing import Deployment
from workbench.cases import get_case
from workbench.database import connect, migrate
from workbench.officers import add_officer

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

# without these, a headless chromium on a machine with no network hangs on connections
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]
CODEC = AvroCodec()


def _consignment(world: HubWorld) -> dict[str, Any]:
    """A courier consignment to hub_LEJ from a sanctioned origin: always inspected."""
    record = dict(world.event("courier", "hub_LEJ", datetime.now(UTC)).record)
    record["origin_country"] = "IR"
    return record


@contextmanager
def _workbench(deployment: Deployment, env: dict[str, str]) -> Iterator[str]:
    with deployment.process("workbench", name="workbench", **env) as process:
        url = f"http://127.0.0.1:{env['RISKSTREAM_WORKBENCH_PORT']}"

        def up() -> bool:
            assert process.poll() is None, (deployment.workdir / "workbench.log").read_text()
            with urllib.request.urlopen(f"{url}/healthz", timeout=2) as answer:
                return bool(answer.status == 200)

        wait_for(up, 30)
        yield url


def test_an_officer_records_a_seizure_in_a_browser_once_and_the_model_learns_it(
    deployment: Deployment, tmp_path: Path
) -> None:
    chromium = require_tools("chromium")["chromium"]
    from playwright.sync_api import expect, sync_playwright

    started = time.monotonic()
    store = f"sqlite:///{tmp_path}/cases.sqlite3"
    engine = connect(store)
    migrate(engine)
    add_officer(engine, "olga", PASSWORD, ["hub_LEJ"])
    topology, producer = deployment.topology, deployment.producer()
    scorer_port = free_port()
    wb_env = {"RISKSTREAM_WORKBENCH_DATABASE_URL": store,
              "RISKSTREAM_WORKBENCH_PORT": str(free_port()),
              "RISKSTREAM_METRICS_PORT": str(free_port())}
    world = HubWorld(seed=11)
    consignment = _consignment(world)
    event_id = consignment["event_id"]
    secrets = {value for value in personal_values(consignment, "courier") if len(value) >= 4}

    def publish(record: dict[str, Any]) -> None:
        producer.produce(topology.events("courier"),
                         CODEC.encode("CourierConsignment", record),
                         key=record["event_id"].encode())
        producer.flush(10)

    with (
        deployment.process("worker", name="worker", RISKSTREAM_METRICS_PORT=str(scorer_port)),
        deployment.process("learner", name="learner", RISKSTREAM_WORKER_ID="learner-1",
                           RISKSTREAM_SNAPSHOT_EVERY_S="0.5"),
        sync_playwright() as playwright,
    ):
        browser = playwright.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"),  # a fresh profile
            executable_path=chromium, headless=True, args=CHROMIUM_ARGS,
        )
        page = browser.new_page()
        with _workbench(deployment, wb_env) as url:
            publish(consignment)
            wait_for(lambda: get_case(engine, event_id) is not None, 30)
            before = get_case(engine, event_id)
            assert before is not None and before.selection_kind == "rule"

            page.goto(f"{url}/")  # sends the browser to log in first
            page.fill("input[name=username]", "olga")
            page.fill("input[name=password]", PASSWORD)
            page.click("#login")
            waybill = consignment["air_waybill"]
            expect(page.locator(f"tr[data-event-id='{event_id}']")).to_contain_text(waybill)
            queue_html = page.content()
            page.click(f"text={waybill}")
            expect(page.locator("#reasons")).to_contain_text("sanctioned origin (IR)")
            expect(page.locator("#level")).to_have_text("physical inspection")
            expect(page.locator("#model-version")).to_have_text(before.model_version or "")
            case_html = page.content()
            page.click("#claim")
            expect(page.locator("#claimed-by")).to_have_text("olga")
            page.check("input[value=seizure]")
            page.fill("textarea[name=note]", "3.2 kg of undeclared tobacco in the lamp bases")
            page.dblclick("#record")  # the officer clicks twice
            expect(page.locator("#state")).to_have_text("closed")
            expect(page.locator("#result")).to_have_text("Seizure")
            # ... and the browser sends the form once more (a retry after a timeout)
            token = page.input_value("input[name=csrf_token] >> nth=0")
            retry = page.request.post(f"{url}/cases/{event_id}/outcome", max_redirects=0,
                                      form={"csrf_token": token, "result": "seizure"})
            assert retry.status == 303

            # 1. exactly one InspectionOutcome on Kafka, keyed by the event id
            outcomes = deployment.read_topic(topology.outcomes, until=2, timeout_s=8.0)
            assert [(m.key() or b"").decode() for m in outcomes] == [event_id]
            published = CODEC.decode("InspectionOutcome", outcomes[0].value())
            assert (published["result"], published["severity"], published["officer_unit"]) == (
                "seizure", 2, "unit_LEJ")

            # 2. the learner learned it: the scorer swaps to a model with one outcome more,
            # and the next selected consignment shows the new version in the workbench
            wait_for(lambda: metric(scorer_port, "riskstream_model_outcomes_learned") >= 1, 30)
            following = _consignment(world)
            publish(following)
            wait_for(lambda: get_case(engine, following["event_id"]) is not None, 30)
            after = get_case(engine, following["event_id"])
            assert after is not None and after.model_version != before.model_version
            assert "-o1-" in (after.model_version or ""), after.model_version
            page.goto(f"{url}/cases/{following['event_id']}")
            expect(page.locator("#model-version")).to_have_text(after.model_version or "")
            print(f"model version {before.model_version} -> {after.model_version}")

        # 3. the case is closed after a restart of the workbench, and nothing was sent again
        with _workbench(deployment, wb_env) as url:
            page.goto(f"{url}/cases/{event_id}")
            expect(page.locator("#state")).to_have_text("closed")
            expect(page.locator("#closed-by")).to_have_text("olga")
            assert "lamp bases" in page.locator(".note").inner_text()
            time.sleep(1.0)  # the restarted outbox had its chance to send anything again
            assert len(deployment.read_topic(topology.outcomes, idle_s=1.0)) == 1
        browser.close()

    for html in (queue_html, case_html):
        leaked = [value for value in secrets if value in html]
        assert not leaked, f"a page shows personal values: {leaked}"
    engine.dispose()
    print(f"browser test took {time.monotonic() - started:.1f} s")
