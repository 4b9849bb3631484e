"""A throwaway PostgreSQL server for the case-store tests, where the machine has one.

It runs from the machine's own server binaries (``/usr/lib/postgresql/*/bin``) on loopback
in a temporary folder, as ``nobody`` when the tests run as root (initdb refuses root), and
is stopped at the end of the session. Without server binaries the store tests run on SQLite
only and the PostgreSQL ones skip, saying so.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from tools import postgres_bin

from streams.broker import free_port

NO_SERVER = ("no PostgreSQL server binaries (initdb, pg_ctl) on this machine: the case-store "
             "tests ran on SQLite only")


def _as_server_user(command: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return command
    return ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", *command]


@contextmanager
def postgres_server() -> Iterator[str]:
    """A running server; yields its admin URL (user ``riskstream``, trust on loopback)."""
    folder = postgres_bin()
    if folder is None:
        raise FileNotFoundError(NO_SERVER)
    root = tempfile.mkdtemp(prefix="riskstream-pg-")
    data, sockets = os.path.join(root, "data"), os.path.join(root, "run")
    os.makedirs(sockets)
    if os.geteuid() == 0:
        nobody = pwd.getpwnam("nobody")
        os.chmod(root, 0o755)
        for path in (root, sockets):
            os.chown(path, nobody.pw_uid, nobody.pw_gid)
    port = free_port()
    run = {"check": True, "capture_output": True, "timeout": 120}
    try:
        subprocess.run(_as_server_user([
            f"{folder}/initdb", "-D", data, "-A", "trust", "-U", "riskstream", "-E", "UTF8",
            "--no-sync",
        ]), **run)  # type: ignore[call-overload]
        options = (f"-c listen_addresses=127.0.0.1 -p {port} -k {sockets} -c fsync=off "
                   "-c synchronous_commit=off -c full_page_writes=off")
        subprocess.run(_as_server_user([
            f"{folder}/pg_ctl", "-D", data, "-o", options, "-l", os.path.join(root, "log"),
            "-w", "-t", "60", "start",
        ]), **run)  # type: ignore[call-overload]
        yield f"postgresql+psycopg://riskstream@127.0.0.1:{port}/postgres"
    finally:
        if os.path.isdir(data):
            subprocess.run(_as_server_user([f"{folder}/pg_ctl", "-D", data, "-m", "immediate",
                                            "-w", "stop"]), capture_output=True, timeout=60)
        shutil.rmtree(root, ignore_errors=True)


def fresh_database(admin_url: str) -> str:
    """A new, empty database on the server; its URL."""
    import psycopg

    name = f"t_{uuid.uuid4().hex[:12]}"
    plain = admin_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(plain, autocommit=True) as connection:
        connection.execute(f"CREATE DATABASE {name}")
    return admin_url.rsplit("/", 1)[0] + f"/{name}"
