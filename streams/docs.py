"""Tables for the README, generated from the code so the documentation cannot drift.

``tests/test_readme.py`` checks that the README contains exactly these tables.
"""

from __future__ import annotations

from pydantic import SecretStr

from streams.settings import Settings
from streams.topology import DAY_MS, Topology


def settings_table() -> str:
    rows = ["| variable | default | meaning |", "|---|---|---|"]
    for name, field in Settings.model_fields.items():
        default = field.default_factory() if field.default_factory else field.default  # type: ignore[call-arg]
        shown = ("(secret)" if isinstance(default, SecretStr)
                 else "(unset)" if default is None else f"`{default}`")
        rows.append(f"| `RISKSTREAM_{name.upper()}` | {shown} | {field.description or ''} |")
    return "\n".join(rows)


def topics_table() -> str:
    rows = [
        "| topic | key | schema | partitions | retention | carries |",
        "|---|---|---|---|---|---|",
    ]
    for spec in Topology().specs():
        rows.append(
            f"| `{spec.name}` | {spec.key} | {spec.schema} | {spec.partitions} "
            f"| {_retention(spec.config)} | {spec.purpose} |"
        )
    return "\n".join(rows)


def _retention(config: dict[str, str]) -> str:
    if config.get("cleanup.policy") == "compact":
        return "compacted"
    if "retention.ms" in config:
        return f"{int(config['retention.ms']) / DAY_MS:g} days"
    return "broker default"


def _replace_table(text: str, table: str) -> str:
    header = table.splitlines()[0]
    start = text.index(header)
    end = text.find("\n\n", start)
    return text[:start] + table + (text[end:] if end != -1 else "\n")


def update_readme(path: str = "README.md") -> None:
    """Rewrite the README's generated tables in place (``python -m streams.docs``)."""
    with open(path, encoding="utf-8") as handle:
        text = handle.read()
    for table in (settings_table(), topics_table()):
        text = _replace_table(text, table)
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(text)


if __name__ == "__main__":
    update_readme()
