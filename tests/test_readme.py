"""The README's tables and quick start are generated from, and checked against, the code."""

from __future__ import annotations

from pathlib import Path

from streams.docs import settings_table, topics_table

README = (Path(__file__).parent.parent / "README.md").read_text()


def test_configuration_table_is_true() -> None:
    assert settings_table() in README


def test_topic_table_is_true() -> None:
    assert topics_table() in README


def test_quick_start_is_two_make_commands() -> None:
    quick_start = README.split("## Quick start")[1].split("##")[0]
    commands = [
        line.split("#")[0].strip() for line in quick_start.splitlines() if line.startswith("make ")
    ]
    assert commands == ["make demo", "make test"]
    makefile = (Path(__file__).parent.parent / "Makefile").read_text()
    assert "\ndemo:" in makefile and "\ntest:" in makefile


def test_benchmark_table_is_the_committed_report() -> None:
    import json

    from bench.run import readme_table

    report = json.loads((Path(__file__).parent.parent / "bench" / "report.json").read_text())
    assert readme_table(report) in README, "run make bench, then paste bench.run.readme_table"


def test_targeting_table_is_the_committed_report() -> None:
    import json

    from bench.targeting import readme_table

    report = json.loads((Path(__file__).parent.parent / "bench" / "targeting.json").read_text())
    assert readme_table(report) in README, "run make bench-targeting, then paste its table"


def test_ablation_table_is_the_committed_report() -> None:
    import json

    from bench.targeting import ablation_table

    report = json.loads(
        (Path(__file__).parent.parent / "bench" / "targeting_ablations.json").read_text()
    )
    assert ablation_table(report) in README, "run make bench-targeting, then paste it"
