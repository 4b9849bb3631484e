"""`riskstream warm-start`: history CSV in, signed snapshot out, and the worker scores with it."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from learning.snapshot import SnapshotError
from streams.cli import cli
from streams.runtime import build_scoring_service
from streams.settings import Settings


def test_export_warm_start_and_score_with_the_snapshot(tmp_path: Path) -> None:
    runner = CliRunner()
    history = tmp_path / "postal.csv"
    exported = runner.invoke(
        cli,
        [
            "simulate",
            "--export-csv",
            str(history),
            "--rows",
            "3000",
            "--stream",
            "postal",
            "--seed",
            "3",
        ],
    )
    assert exported.exit_code == 0, exported.output
    with history.open("a") as handle:  # one unreadable row is skipped and reported, not fatal
        handle.write("postal-bad,not-a-time,postal,hub_FRA\n")
    snapshot = tmp_path / "model.snapshot"
    trained = runner.invoke(cli, ["warm-start", str(history), "--out", str(snapshot)])
    assert trained.exit_code == 0, trained.output
    assert "learned {'postal': 3000}" in trained.output
    assert "skipped 1" in trained.output and "row 3001" in trained.output

    service = build_scoring_service(Settings(model_file=str(snapshot)))
    assert service.model.version == "warm-3000"
    assert service.model.counters["postal"]["outcomes"] == 3000

    tampered = tmp_path / "tampered.snapshot"
    blob = bytearray(snapshot.read_bytes())
    blob[len(blob) // 2] ^= 0xFF
    tampered.write_bytes(bytes(blob))
    with pytest.raises(SnapshotError):
        build_scoring_service(Settings(model_file=str(tampered)))
    with pytest.raises(SnapshotError):
        build_scoring_service(
            Settings(model_file=str(snapshot), snapshot_key="another-key-0123456789")
        )
