"""A live deployment scraped by a real Prometheus: dashboards, promtool, privacy of labels.

One module-scoped run per broker (the embedded one, then Apache Kafka): scorer worker,
learner and the hub/authority simulator as real processes, each serving /metrics, and
Debian's Prometheus (installed by the tests when missing) scraping them every second with
the job names of ``deploy/prometheus/prometheus.yml``. The tests query it while everything
still runs.
"""

from __future__ import annotations

import json
import re
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from test_observability_deploy import DASHBOARDS, DEPLOY, require_tools

from schemas import AvroCodec
from simulator import personal_values
from streams.broker import free_port
from streams.dashboard_png import Prometheus, expand, expressions, fetch, load_dashboard, render
from streams.demo import stop_process
from streams.metrics import LABEL_NAMES
from streams.testing import Deployment, new_deployment
from streams.topology import STREAM_SCHEMAS

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

RUN_S = 30.0  # of traffic before the tests query; outcomes come 1 s after their verdict
# ... or only this long, once every target is up and every dashboard query has a series
# (at 8-12 s here): 900-1,030 events then, for the label scan's 500
READY_S = 15.0
JOBS = ("riskstream-scorer", "riskstream-learner", "riskstream-simulator",
        "riskstream-workbench")
# More exploration than the default, so that random picks, and the rates and AUCs that need
# them, have data within seconds.
EXPLORATION = {"RISKSTREAM_INSPECTION_RATES": '{"*": 0.15}', "RISKSTREAM_RANDOM_SHARE": "0.4"}


@dataclass
class LiveStack:
    deployment: Deployment
    prometheus: Prometheus
    ports: dict[str, int]
    workdir: Path

    def exposition(self, job: str) -> str:
        url = f"http://127.0.0.1:{self.ports[job]}/metrics"
        with urllib.request.urlopen(url, timeout=10) as response:
            text: str = response.read().decode()
        return text


def scrape_config(ports: dict[str, int], prometheus_port: int) -> dict[str, object]:
    """deploy/prometheus/prometheus.yml with loopback targets and a 1 s scrape interval."""
    config = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    config["global"] = {"scrape_interval": "1s", "evaluation_interval": "1s"}
    for job in config["scrape_configs"]:
        job.pop("dns_sd_configs", None)
        port = prometheus_port if job["job_name"] == "prometheus" else ports[job["job_name"]]
        job["static_configs"] = [{"targets": [f"127.0.0.1:{port}"]}]
    return config


def _wait_ready(prometheus: Prometheus, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"prometheus exited: {log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(f"{prometheus.url}/-/ready", timeout=2) as answer:
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    pytest.fail(f"prometheus not ready after 30 s: {log.read_text()[-2000:]}")


def _value(prometheus: Prometheus, expr: str) -> float:
    found = prometheus.query(expr, time.time())
    return found[0].last if found else 0.0


@pytest.fixture(scope="module", params=[
    pytest.param("embedded", id="embedded"),
    pytest.param("apache_kafka", id="apache_kafka", marks=pytest.mark.apache_kafka),
])
def live(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveStack]:
    tools = require_tools("prometheus", "promtool")
    workdir = tmp_path_factory.mktemp("observability")
    # the session broker of the parameter: the same stack runs on each
    running = request.getfixturevalue("broker" if request.param == "embedded" else "apache_kafka")
    deployment = new_deployment(running.bootstrap, workdir)
    ports = {job: free_port() for job in JOBS}
    prometheus_port = free_port()
    config = workdir / "prometheus.yml"
    config.write_text(yaml.safe_dump(scrape_config(ports, prometheus_port)))
    log = workdir / "prometheus.log"
    with open(log, "wb") as sink:
        server = subprocess.Popen(
            [
                tools["prometheus"],
                f"--config.file={config}",
                f"--storage.tsdb.path={workdir / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{prometheus_port}",
                "--log.level=warn",
            ],
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    prometheus = Prometheus(f"http://127.0.0.1:{prometheus_port}")
    try:
        _wait_ready(prometheus, server, log)
        port = {job: str(ports[job]) for job in JOBS}
        with (
            deployment.process(
                "worker", name="worker", RISKSTREAM_METRICS_PORT=port["riskstream-scorer"],
                **EXPLORATION,
            ),
            deployment.process(
                "learner", name="learner", RISKSTREAM_METRICS_PORT=port["riskstream-learner"],
                RISKSTREAM_WORKER_ID="learner-1", **EXPLORATION,
            ),
            deployment.process(
                "simulate", "--rate-scale", "0.5", "--outcome-delay", "1", name="simulator",
                RISKSTREAM_METRICS_PORT=port["riskstream-simulator"],
            ),
            # the officer workbench: its cases are closed by the simulator's outcomes
            deployment.process(
                "workbench", name="workbench", RISKSTREAM_WORKBENCH_PORT=str(free_port()),
                RISKSTREAM_METRICS_PORT=port["riskstream-workbench"],
                RISKSTREAM_WORKBENCH_DATABASE_URL=f"sqlite:///{workdir}/workbench.sqlite3",
            ),
        ):  # fmt: skip
            started = time.monotonic()
            # traffic, learned outcomes and a model swap, then a few more scrapes
            while time.monotonic() - started < RUN_S + 60:
                learned = _value(prometheus, "sum(riskstream_learner_outcomes_total)")
                swapped = _value(prometheus, "sum(riskstream_model_swaps_total)")
                ran = time.monotonic() - started
                ready = ran >= RUN_S or (
                    ran >= READY_S and all_up(prometheus) and not empty_queries(prometheus))
                if learned > 50 and swapped > 0 and ready:
                    break
                time.sleep(1.0)
            time.sleep(2.0)
            yield LiveStack(deployment, prometheus, ports, workdir)
    finally:
        stop_process(server)


def up_by_job(prometheus: Prometheus) -> dict[str, float]:
    return {s.labels["job"]: s.last for s in prometheus.query("up", time.time())}


def all_up(prometheus: Prometheus) -> bool:
    return up_by_job(prometheus) == {**dict.fromkeys(JOBS, 1.0), "prometheus": 1.0}


def empty_queries(prometheus: Prometheus) -> list[str]:
    """The dashboards' queries and template variables without a series now."""
    empty = []
    for path in DASHBOARDS:
        board = load_dashboard(path)
        queries = expressions(board) + [
            (f"variable {v['name']}", _variable_query(v["definition"]))
            for v in board["templating"]["list"]
        ]
        for title, expr in queries:
            concrete = expand(expr, {}, "15s")
            if not prometheus.query(concrete, time.time()):
                empty.append(f"{path.name}: {title}: {concrete}")
    return empty


def test_every_dashboard_query_returns_a_series(live: LiveStack) -> None:
    assert up_by_job(live.prometheus) == {**dict.fromkeys(JOBS, 1.0), "prometheus": 1.0}
    for path in DASHBOARDS:
        board = load_dashboard(path)
        assert set(_every_expr(board)) == {expr for _, expr in expressions(board)}, path
    empty = empty_queries(live.prometheus)
    assert not empty, "queries without a series:\n" + "\n".join(empty)


def _every_expr(node: object) -> Iterator[str]:
    """Every "expr" anywhere in a dashboard (panels, annotations...)."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "expr" and isinstance(value, str):
                yield value
            else:
                yield from _every_expr(value)
    elif isinstance(node, list):
        for item in node:
            yield from _every_expr(item)


def _variable_query(definition: str) -> str:
    """The PromQL behind ``label_values(METRIC, LABEL)``: the metric itself."""
    match = re.fullmatch(r"label_values\((.+),\s*(\w+)\)", definition)
    assert match, definition
    return f"count by ({match.group(2)}) ({match.group(1)})"


@pytest.mark.parametrize("job", JOBS)
def test_promtool_finds_no_problem_in_a_live_exposition(live: LiveStack, job: str) -> None:
    exposition = live.exposition(job)
    assert "riskstream_build_info" in exposition
    done = subprocess.run(
        [require_tools("promtool")["promtool"], "check", "metrics"],
        input=exposition.encode(),
        capture_output=True,
        timeout=60,
    )
    assert done.returncode == 0, (done.stdout + done.stderr).decode()


def _labels(exposition: str) -> list[tuple[str, str, str]]:
    """(metric, label, value) of every sample in a text exposition."""
    found = []
    for line in exposition.splitlines():
        if line.startswith("#") or "{" not in line:
            continue
        name, _, rest = line.partition("{")
        body = rest.rsplit("}", 1)[0]
        for label, value in re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', body):
            found.append((name, label, value))
    return found


def test_no_label_value_carries_an_id_or_a_personal_value(live: LiveStack) -> None:
    """Scan every process's labels against what the simulator sent: ids, personal values,
    and the pseudonyms that replaced them."""
    codec = AvroCodec()
    topology = live.deployment.topology
    published = {
        s.labels["stream"]: int(s.last)
        for s in live.prometheus.query(
            "sum by (stream) (riskstream_simulator_events_published_total)", time.time()
        )
    }
    scored = int(_value(live.prometheus, "sum(riskstream_verdicts_total)"))
    secrets: set[str] = set()
    events = 0
    for stream, schema in STREAM_SCHEMAS.items():
        # the simulator is still publishing: read what it had published when we asked
        for message in live.deployment.read_topic(topology.events(stream), until=published[stream]):
            record = codec.decode(schema, message.value())
            events += 1
            secrets |= personal_values(record, stream)
            secrets |= {
                str(record[field])
                for field in ("event_id", "air_waybill", "item_id", "flight_number")
                if record.get(field)
            }
    codes: set[str] = set()  # HS codes, routes, origins: checked as whole label values
    for message in live.deployment.read_topic(topology.scored, until=scored):
        for kind, value in codec.decode("ScoredRecord", message.value())["entities"].items():
            if value.startswith("px_"):
                secrets.add(value)
            elif kind in ("hs6", "hs4", "hs2", "route", "origin"):  # carrier is a bounded label
                codes.add(value)
    assert events > 500 and len(secrets) > 1000, (events, len(secrets))
    # a 4-digit HS heading may occur inside a random topic prefix by chance: codes must not
    # *be* a label value, personal values and ids must not occur anywhere in one
    secrets = {s for s in secrets if len(s) >= 4}
    for job in JOBS:
        labels = _labels(live.exposition(job))
        assert labels
        for metric, label, value in labels:
            if metric.startswith("riskstream_"):  # python_* and process_* are the client's
                assert label in LABEL_NAMES | {"le"}, f"{job}: {metric} has label {label}"
                assert len(value) <= 40, f"{job}: {metric}{{{label}={value!r}}} is unbounded"
            # a carrier code can equal a country code ("ET"): carriers are a bounded label
            as_code = value in codes and label != "carrier"
            leaked = [s for s in secrets if s in value] + ([value] if as_code else [])
            assert not leaked, f"{job}: {metric}{{{label}={value!r}}} carries {leaked[:3]}"


def test_dashboard_png_from_live_prometheus(live: LiveStack) -> None:
    dashboard = load_dashboard(DEPLOY / "grafana" / "dashboards" / "operations.json")
    panels = fetch(live.prometheus, dashboard, time.time(), minutes=2, scrape_interval_s=1)
    assert panels and all(panel.series for panel in panels), [
        panel.title for panel in panels if not panel.series
    ]
    out = render(dashboard, panels, live.workdir / "operations.png", "live test")
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert out.stat().st_size > 50_000
    summary = json.dumps({p.title: len(p.series) for p in panels})
    assert "Events consumed" in summary
