"""``riskstream demo``: broker, topics, worker, learner, officer workbench, hub and authority
simulators, live summary.

Every part runs as it would in production (separate processes talking over Kafka); the
demo only starts them, prints what comes out of the output topics, and stops them all.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import IO, TextIO

from streams.admin import create_topics
from streams.broker import EmbeddedBroker, free_port
from streams.console import OutputWatcher, print_block, render, snapshot
from streams.settings import Settings

# Short group timings for a broker on this machine (Apache Kafka wants >= 6 s sessions).
LOCAL_TIMINGS = {
    "RISKSTREAM_SESSION_TIMEOUT_S": "2.0",
    "RISKSTREAM_HEARTBEAT_INTERVAL_S": "0.5",
}


def riskstream_command(*args: str) -> list[str]:
    """The CLI of this very installation, whatever the PATH says."""
    return [sys.executable, "-m", "streams.cli", *args]


@contextmanager
def child(
    command: list[str], env: dict[str, str], log: IO[bytes] | None
) -> Iterator[subprocess.Popen[bytes]]:
    """Run a child process for the duration of the block, and always reap it."""
    process = subprocess.Popen(command, env=env, stdout=log, stderr=log, start_new_session=True)
    try:
        yield process
    finally:
        stop_process(process)


def stop_process(process: subprocess.Popen[bytes], timeout_s: float = 10.0) -> None:
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout_s)


def _terminate_on_sigterm(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _wait_for_http(url: str, process: subprocess.Popen[bytes], timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and process.poll() is None:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"the workbench did not answer at {url}; see its log")


def start_workbench(
    stack: ExitStack, env: dict[str, str], workdir: str
) -> tuple[str, str, str, int]:
    """Start the officer workbench on a fresh case store with a demo supervisor; return its
    URL, the demo password, the system token of the simulated authority and its metrics port."""
    port, metrics_port = free_port(), free_port()
    password, token = secrets.token_urlsafe(9), secrets.token_urlsafe(32)
    wb_env = {
        **env,
        "RISKSTREAM_WORKBENCH_DATABASE_URL": f"sqlite:///{workdir}/workbench.sqlite3",
        "RISKSTREAM_WORKBENCH_PORT": str(port),
        "RISKSTREAM_WORKBENCH_SYSTEM_TOKEN": token,
        "RISKSTREAM_METRICS_PORT": str(metrics_port),
    }
    subprocess.run(
        riskstream_command("workbench", "add-officer", "demo", "--supervisor",
                           "--password-stdin"),
        input=f"{password}\n".encode(), env=wb_env, check=True, capture_output=True,
    )
    log = stack.enter_context(open(os.path.join(workdir, "workbench.log"), "wb"))  # noqa: SIM115
    process = stack.enter_context(child(riskstream_command("workbench"), wb_env, log))
    url = f"http://127.0.0.1:{port}"
    _wait_for_http(f"{url}/healthz", process)
    return url, password, token, metrics_port


def run_demo(
    duration_s: float | None,
    rate_scale: float = 1.0,
    metrics_port: int | None = None,
    bootstrap: str | None = None,
    interval_s: float = 5.0,
    out: TextIO = sys.stdout,
    unattended_after_s: float = 10.0,
) -> int:
    """Run the whole pipeline until ``duration_s`` elapses or Ctrl-C; return an exit code."""
    signal.signal(signal.SIGTERM, _terminate_on_sigterm)
    with ExitStack() as stack:
        if bootstrap is None:
            broker = stack.enter_context(EmbeddedBroker())
            bootstrap = broker.bootstrap
            print_block(out, f"embedded broker on {bootstrap}")
        workdir = stack.enter_context(tempfile.TemporaryDirectory(prefix="riskstream-demo-"))
        metrics_port = metrics_port or free_port()
        env = {
            **os.environ,
            **LOCAL_TIMINGS,
            "RISKSTREAM_KAFKA_BOOTSTRAP": bootstrap,
            "RISKSTREAM_DATA_DIR": os.path.join(workdir, "worker"),
            "RISKSTREAM_METRICS_PORT": str(metrics_port),
        }
        settings = Settings(kafka_bootstrap=bootstrap)
        for report in create_topics(settings):
            print_block(out, f"topic {report.name}: {report.action}")
        worker_log = stack.enter_context(open(os.path.join(workdir, "worker.log"), "wb"))
        stack.enter_context(child(riskstream_command("worker"), env, worker_log))
        learner_log = stack.enter_context(open(os.path.join(workdir, "learner.log"), "wb"))
        learner_port, simulator_port = free_port(), free_port()
        learner_env = {**env, "RISKSTREAM_METRICS_PORT": str(learner_port),
                       "RISKSTREAM_WORKER_ID": "learner-1"}
        stack.enter_context(child(riskstream_command("learner"), learner_env, learner_log))
        print_block(
            out,
            f"scorer worker and learner started; metrics on "
            f"http://127.0.0.1:{metrics_port}/metrics (scorer), "
            f"http://127.0.0.1:{learner_port}/metrics (learner), "
            f"http://127.0.0.1:{simulator_port}/metrics (simulator)",
        )
        url, password, token, workbench_port = start_workbench(stack, env, workdir)
        print_block(
            out,
            f"officer workbench on {url} : log in as demo / {password} (supervisor, every "
            f"hub); metrics on http://127.0.0.1:{workbench_port}/metrics",
        )
        sim_args = ["simulate", "--rate-scale", str(rate_scale), "--workbench-url", url,
                    "--outcome-delay", str(unattended_after_s)]
        sim_env = {**env, "RISKSTREAM_METRICS_PORT": str(simulator_port),
                   "RISKSTREAM_WORKBENCH_SYSTEM_TOKEN": token}
        stack.enter_context(child(riskstream_command(*sim_args), sim_env, None))
        print_block(
            out,
            "hub and inspection-authority simulators started; the authority answers the cases "
            f"nobody claims within {unattended_after_s:g} s; Ctrl-C stops",
        )
        watcher = OutputWatcher(settings)
        stack.callback(watcher.close)
        started = last = time.monotonic()
        previous = None
        try:
            while duration_s is None or time.monotonic() - started < duration_s:
                watcher.drain()
                if time.monotonic() - last >= interval_s:
                    now = time.monotonic()
                    print_block(out, render(watcher.tally, previous, now - last))
                    previous, last = snapshot(watcher.tally), now
        except KeyboardInterrupt:
            print_block(out, "stopping...")
        watcher.drain()
        print_block(
            out, "final:\n" + render(watcher.tally, previous, max(time.monotonic() - last, 1e-3))
        )
    print_block(out, "stopped: broker, worker, learner, workbench and simulators are down")
    return 0
