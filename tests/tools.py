"""Debian tools the tests need, installed with apt-get when missing (CI runs as root)."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess

import pytest

PACKAGE_OF = {
    "prometheus": "prometheus",
    "promtool": "prometheus",
    "docker-compose": "docker-compose",
    "chromium": "chromium",
}


def require_tools(*binaries: str) -> dict[str, str]:
    """Paths of Debian tools, installed with apt-get when missing (CI runs as root)."""
    missing = [name for name in binaries if shutil.which(name) is None]
    if missing:
        apt = shutil.which("apt-get")
        packages = sorted({PACKAGE_OF[name] for name in missing})
        if apt is None:
            pytest.skip(f"{', '.join(missing)} missing and no apt-get to install {packages}")
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        for command in (
            [apt, "update"],
            [apt, "install", "-y", "--no-install-recommends", *packages],
        ):
            done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=900)
            if done.returncode != 0:
                pytest.fail(
                    f"{' '.join(command)} failed ({done.returncode}): {done.stderr[-2000:]}"
                )
    found = {name: shutil.which(name) for name in binaries}
    assert all(found.values()), f"still missing after apt-get install: {found}"
    return {name: str(path) for name, path in found.items()}


def postgres_bin() -> str | None:
    """The folder of a PostgreSQL server's initdb and pg_ctl on this machine, if any (never
    installed by the tests: a database server is used only where the machine has one)."""
    for folder in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if os.access(os.path.join(folder, "initdb"), os.X_OK):
            return folder
    initdb = shutil.which("initdb")
    return os.path.dirname(os.path.realpath(initdb)) if initdb else None
