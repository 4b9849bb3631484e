"""Deployment files and metric catalogue, without a broker: compose, scrape config, dashboards.

The Debian tools these tests need (``docker-compose``, ``promtool``; ``prometheus`` for the
live tests) are installed by :func:`require_tools` when missing, as CI runs as root.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import tomllib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import REGISTRY, generate_latest
from tools import require_tools

from learning.challenger import with_learning_rate
from learning.learner import Learner, LearnerConfig
from schemas import AvroCodec
from scorers.model import RiskModel
from simulator import HubWorld
from simulator.geography import COUNTRIES
from streams import metrics
from streams.dashboard_png import expressions
from streams.runtime import build_scoring_service
from streams.settings import Settings
from streams.topology import STREAM_SCHEMAS, Topology

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
DASHBOARDS = sorted((DEPLOY / "grafana" / "dashboards").glob("*.json"))
DATASOURCE_UID = "riskstream-prometheus"


@pytest.fixture(scope="session")
def tools() -> dict[str, str]:
    return require_tools("docker-compose", "promtool")


@pytest.fixture(scope="module")
def compose(tools: dict[str, str]) -> dict[str, Any]:
    """docker-compose.yml as docker-compose resolves it, the simulation profile included."""
    done = subprocess.run(
        [tools["docker-compose"], "--profile", "simulation", "config"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={k: v for k, v in os.environ.items() if not k.startswith("RISKSTREAM_")},
    )
    assert done.returncode == 0, done.stderr
    resolved: dict[str, Any] = yaml.safe_load(done.stdout)
    return resolved


def _dashboard(path: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return loaded


def _panels(board: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for panel in board["panels"]:
        yield panel
        yield from panel.get("panels", [])


def _container_path(service: dict[str, Any], host_path: Path) -> str:
    for volume in service.get("volumes", []):
        source, target = str(volume).split(":")[:2]
        if Path(source).resolve() == host_path.resolve():
            return target
    raise AssertionError(f"{host_path} is not mounted in {service}")


def test_compose_file_validates(tools: dict[str, str]) -> None:
    done = subprocess.run(
        [
            tools["docker-compose"],
            "-f",
            "docker-compose.yml",
            "--profile",
            "simulation",
            "config",
            "-q",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr


def test_compose_has_the_stack_of_the_issue(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert set(services) >= {
        "kafka",
        "topics",
        "scorer",
        "learner",
        "simulator",
        "prometheus",
        "grafana",
        "workbench",
        "postgres",
    }
    kafka = services["kafka"]
    assert kafka["image"].startswith("apache/kafka:")
    assert kafka["environment"]["KAFKA_PROCESS_ROLES"] == "broker,controller"  # KRaft
    assert "/opt/kafka/bin/kafka-broker-api-versions.sh" in " ".join(kafka["healthcheck"]["test"])
    assert services["topics"]["command"] == ["topics", "create"]
    assert services["topics"]["depends_on"]["kafka"]["condition"] == "service_healthy"
    assert services["learner"]["command"] == ["learner"]
    assert services["simulator"]["command"][0] == "simulate"
    assert services["simulator"]["profiles"] == ["simulation"]
    assert services["scorer"]["command"] == ["worker"]
    assert "container_name" not in services["scorer"], "a fixed name would stop --scale"
    assert not services["scorer"].get("ports"), "published ports would stop --scale"
    for name in ("scorer", "learner", "simulator"):
        assert (
            services[name]["depends_on"]["topics"]["condition"] == "service_completed_successfully"
        )
        assert services[name]["environment"]["RISKSTREAM_KAFKA_BOOTSTRAP"] == "kafka:19092"
    # the workbench keeps its cases in the postgres service; the simulated authority answers
    # through it the cases no officer claimed
    workbench = services["workbench"]
    assert workbench["command"] == ["workbench"]
    assert workbench["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert workbench["environment"]["RISKSTREAM_WORKBENCH_DATABASE_URL"].startswith(
        "postgresql+psycopg://riskstream:")
    assert services["postgres"]["image"].startswith("postgres:")
    simulator = services["simulator"]
    assert "http://workbench:8080" in simulator["command"]
    assert simulator["depends_on"]["workbench"]["condition"] == "service_healthy"
    assert (simulator["environment"]["RISKSTREAM_WORKBENCH_SYSTEM_TOKEN"]
            == workbench["environment"]["RISKSTREAM_WORKBENCH_SYSTEM_TOKEN"])


def test_compose_scrape_config_and_dashboards_agree(compose: dict[str, Any]) -> None:
    services = compose["services"]
    # Prometheus runs the scrape config of deploy/ and is reachable where Grafana looks.
    prometheus = services["prometheus"]
    config_path = _container_path(prometheus, DEPLOY / "prometheus" / "prometheus.yml")
    assert f"--config.file={config_path}" in prometheus["command"]
    scrape = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    targets: dict[str, tuple[str, int]] = {}
    for job in scrape["scrape_configs"]:
        for sd in job.get("dns_sd_configs", []):
            for name in sd["names"]:
                targets[name] = (job["job_name"], int(sd["port"]))
    # Every riskstream process is scraped on the port it serves /metrics on.
    for name in ("scorer", "learner", "simulator", "workbench"):
        service = services[name]
        assert name in targets, f"service {name} is not scraped"
        job, port = targets[name]
        assert job == f"riskstream-{name}"
        assert int(service["environment"]["RISKSTREAM_METRICS_PORT"]) == port
        assert service["environment"]["RISKSTREAM_METRICS_ADDR"] == "0.0.0.0"
        assert str(port) in [str(p) for p in service["expose"]]
    assert set(targets) <= set(services), f"scrape targets without a service: {targets}"

    grafana = services["grafana"]
    provisioning = _container_path(grafana, DEPLOY / "grafana" / "provisioning")
    dashboards_dir = _container_path(grafana, DEPLOY / "grafana" / "dashboards")
    assert provisioning == "/etc/grafana/provisioning"
    sources = yaml.safe_load(
        (DEPLOY / "grafana" / "provisioning" / "datasources" / "prometheus.yaml").read_text()
    )["datasources"]
    assert [s["uid"] for s in sources] == [DATASOURCE_UID]
    url = re.fullmatch(r"http://([\w-]+):(\d+)", sources[0]["url"])
    assert url is not None, sources[0]["url"]
    assert url.group(1) in services
    assert int(url.group(2)) in [int(p["target"]) for p in services[url.group(1)]["ports"]]
    providers = yaml.safe_load(
        (DEPLOY / "grafana" / "provisioning" / "dashboards" / "riskstream.yaml").read_text()
    )["providers"]
    assert [p["options"]["path"] for p in providers] == [dashboards_dir]
    home = grafana["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    assert home == f"{dashboards_dir}/operations.json"
    # Dashboards filter processes by the job names of the scrape config.
    jobs = {job["job_name"] for job in scrape["scrape_configs"]}
    for path in DASHBOARDS:
        for _, expr in expressions(_dashboard(path)):
            for pattern in re.findall(r'job=~"([^"]+)"', expr):
                assert any(re.fullmatch(pattern, job) for job in jobs), (path.name, pattern)


def test_prometheus_config_is_valid(tools: dict[str, str]) -> None:
    done = subprocess.run(
        [tools["promtool"], "check", "config", str(DEPLOY / "prometheus" / "prometheus.yml")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_dockerfile_installs_every_package() -> None:
    packages = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"][
        "packages"
    ]["find"]["include"]
    dockerfile = (ROOT / "Dockerfile").read_text()
    copied = set(re.findall(r"^COPY (\w+) \./\1$", dockerfile, flags=re.M))
    assert {p.rstrip("*") for p in packages} <= copied, dockerfile


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.name)
def test_dashboard_is_complete(path: Path) -> None:
    board = _dashboard(path)
    assert board["uid"] in {"riskstream-operations", "riskstream-model-data"}
    variables = {v["name"]: v for v in board["templating"]["list"]}
    assert set(variables) >= {"stream", "hub"}
    for var in variables.values():
        assert var["datasource"]["uid"] == DATASOURCE_UID
        assert var["definition"].startswith("label_values(")
    ids = [panel["id"] for panel in _panels(board)]
    assert len(ids) == len(set(ids))
    panels = [p for p in _panels(board) if p["type"] != "row"]
    assert panels
    for panel in panels:
        what = f"{path.name}: panel {panel['title']!r}"
        assert panel["datasource"]["uid"] == DATASOURCE_UID, what
        assert panel["fieldConfig"]["defaults"]["unit"], f"{what} has no unit"
        assert len(panel.get("description", "")) > 30, f"{what} has no description"
        assert panel["targets"], what
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == DATASOURCE_UID, what
            assert target["expr"].strip(), what
        pos = panel["gridPos"]
        assert pos["x"] + pos["w"] <= 24, what
    if board["uid"] == "riskstream-operations":
        rows = [p["title"].split(":")[0] for p in board["panels"] if p["type"] == "row"]
        assert rows == [
            "Flow", "Decisions", "Correctness", "Drift", "Green lane", "Workbench", "Plumbing"
        ]


def _catalogue_names() -> set[str]:
    """Every sample name the riskstream processes can expose."""
    names: set[str] = set()
    suffixes = {
        "counter": ("_total",),
        "histogram": ("_bucket", "_count", "_sum"),
        "info": ("_info",),
        "gauge": ("",),
    }
    for role in metrics.ROLES:
        for collector in role.members:
            for family in collector.describe():
                names |= {family.name + suffix for suffix in suffixes[family.type]}
    model = RiskModel(seed=1)
    collector = metrics.LearnerCollector()
    collector.learner = Learner(model, LearnerConfig(), with_learning_rate(model, 0.1))
    for family in collector.collect():
        names |= {sample.name for sample in family.samples}
    return names


def test_every_dashboard_metric_is_in_the_catalogue() -> None:
    known = _catalogue_names() | {"process_resident_memory_bytes", "process_cpu_seconds_total"}
    for path in DASHBOARDS:
        for title, expr in expressions(_dashboard(path)):
            for name in re.findall(r"\b((?:riskstream|process)_[a-z_]+)", expr):
                assert name in known, f"{path.name}: {title!r} uses unknown metric {name}"


def test_metric_names_follow_the_conventions() -> None:
    for role in metrics.ROLES:
        for collector in role.members:
            for family in collector.describe():
                name = family.name
                assert name.startswith("riskstream_"), name
                assert not re.search(r"_(ms|millis|milliseconds|percent|kb|mb)(_|$)", name), name
                if family.type == "histogram":
                    assert name.endswith(("_seconds", "_ratio")), name
            for label in getattr(collector, "_labelnames", ()):
                assert label in metrics.LABEL_NAMES, (collector, label)


def test_every_simulated_country_has_a_region() -> None:
    for country in COUNTRIES.values():
        assert metrics.origin_group(country.alpha2) != metrics.OTHER, country
        assert metrics.origin_group(country.alpha3) == metrics.origin_group(country.alpha2)
    assert metrics.origin_group("ZZ") == metrics.OTHER
    assert set(metrics.ORIGIN_GROUPS) == {
        "eu", "europe_other", "east_asia", "south_asia", "middle_east", "africa", "americas",
        "oceania", "other",
    }  # fmt: skip


def test_scoring_and_outcomes_fill_the_catalogue_and_pass_promtool(
    tools: dict[str, str],
) -> None:
    """Score real simulator events and learn their outcomes: the series appear, promtool is
    content, and a passenger with late, incomplete API data shows per carrier."""
    metrics.SCORER.activate()
    metrics.LEARNER_PROCESS.activate()
    metrics.SIMULATOR.activate()
    metrics.preinitialise()
    metrics.preinitialise_learner()
    settings = Settings()
    topology = Topology.from_settings(settings)
    service = build_scoring_service(settings)
    codec = AvroCodec()
    world = HubWorld(seed=3)
    at = datetime.now(UTC)

    def sample(name: str, **labels: str) -> float:
        return REGISTRY.get_sample_value(name, labels) or 0.0

    before_late = sample("riskstream_passenger_data_late_total", carrier="ZZ")
    before_verdicts = sample(
        "riskstream_disparity_verdicts_total",
        stream="postal",
        hub="hub_FRA",
        origin_group="east_asia",
    )
    for n in range(120):
        stream = ("courier", "postal", "passenger")[n % 3]
        event = world.event(
            stream, {"courier": "hub_LEJ", "postal": "hub_FRA", "passenger": "hub_MUC"}[stream], at
        )
        record = dict(event.record)
        if stream == "postal":
            record["origin_country"] = "CN"
        if stream == "passenger" and n % 2:
            record.update(
                carrier="ZZ", api_received_before_departure_s=-60, mandatory_fields_missing=2
            )
        result = service.process(
            topology.events(stream), 0, n, b"k", codec.encode(STREAM_SCHEMAS[stream], record)
        )
        metrics.record_scoring(result, 2e-5, at.timestamp())
        scored = {
            "event_id": record["event_id"], "stream": stream, "hub": record["hub"],
            "level": "physical_inspection", "decided_at": at,
            "features": dict(result.features or {}),
        }  # fmt: skip
        metrics.record_learner_input("scored", scored)
        outcome = {
            "event_id": record["event_id"], "stream": stream, "result": "seizure",
            "recovered_amount": Decimal("12.50"), "outcome_time": at + timedelta(hours=2),
        }  # fmt: skip
        metrics.record_learner_input("outcomes", outcome)

    assert sample("riskstream_passenger_data_late_total", carrier="ZZ") - before_late == 20
    assert sample("riskstream_passenger_data_incomplete_total", carrier="ZZ") >= 20
    assert (
        sample(
            "riskstream_disparity_verdicts_total",
            stream="postal",
            hub="hub_FRA",
            origin_group="east_asia",
        )
        - before_verdicts
        == 40
    )
    assert sample("riskstream_disparity_outcomes_total", stream="postal", hub="hub_FRA",
                  origin_group="east_asia", finding="true") >= 40  # fmt: skip
    assert sample("riskstream_inspection_turnaround_seconds_count", stream="courier") >= 40
    assert sample("riskstream_revenue_recovered_euros_total", stream="postal") >= 500.0
    assert sample("riskstream_inspection_capacity_ratio", stream="postal", hub="hub_FRA") == 0.05

    exposition = generate_latest(REGISTRY)
    done = subprocess.run(
        [tools["promtool"], "check", "metrics"], input=exposition, capture_output=True, timeout=60
    )
    assert done.returncode == 0, (done.stdout + done.stderr).decode()


def test_learner_ledger_is_bounded_and_skips_releases() -> None:
    ledger = metrics.InspectionLedger(limit=3)
    at = datetime(2026, 1, 5, tzinfo=UTC)
    for n in range(10):
        level = "release" if n % 2 else "document_check"
        ledger.note({"event_id": f"e{n}", "stream": "courier", "hub": "hub_LEJ",
                     "decided_at": at, "level": level, "features": {}})  # fmt: skip
    assert len(ledger) == 3
    assert ledger.take("e1") is None, "a released event never gets an outcome"
    assert ledger.take("e2") is None, "the oldest inspected events went first"
    assert ledger.take("e8") == ("courier", "hub_LEJ", "other", "document_check", at.timestamp())


def test_readme_catalogue_is_the_code() -> None:
    assert metrics.catalogue_table() in (ROOT / "README.md").read_text()


def test_readme_override_for_an_existing_cluster_works(
    tools: dict[str, str], tmp_path: Path
) -> None:
    """The README's docker-compose.override.yml points every riskstream service elsewhere."""
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Running on Apache Kafka")[1]
    snippet = re.search(r"```yaml\n(# docker-compose.override.yml\n.*?)```", section, re.S)
    assert snippet, "the README shows a docker-compose.override.yml"
    override = tmp_path / "docker-compose.override.yml"
    override.write_text(snippet.group(1))
    done = subprocess.run(
        [tools["docker-compose"], "-f", str(ROOT / "docker-compose.yml"), "-f", str(override),
         "--project-directory", str(ROOT), "config"],
        capture_output=True, text=True, timeout=60,
        env={**os.environ, "RISKSTREAM_SASL_PASSWORD": "s3cret"},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    services = yaml.safe_load(done.stdout)["services"]
    for name in ("topics", "scorer", "learner"):
        env = services[name]["environment"]
        assert env["RISKSTREAM_KAFKA_BOOTSTRAP"].startswith("kafka1.example.org:9093"), name
        assert env["RISKSTREAM_SASL_PASSWORD"] == "s3cret"
        assert env["RISKSTREAM_METRICS_PORT"] == "9100", "the base settings are kept"
