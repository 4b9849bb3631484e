"""Render a Grafana dashboard of riskstream to a PNG, from real Prometheus query results.

Grafana is not needed: the dashboard JSON in ``deploy/grafana/dashboards`` says which PromQL
each panel runs, with which unit and legend; this module runs the same queries against a
Prometheus server and draws the panels with matplotlib in the dashboard's own grid layout.
The README's picture of the operations dashboard is made this way from a demo run, and you
can make the same picture of your own deployment::

    python -m streams.dashboard_png --prometheus http://localhost:9090 \\
        --out docs/operations-dashboard.png --minutes 30

Template variables (``$stream``, ``$hub``) default to all values (``.*``); ``--var
stream=postal`` narrows them. ``$__rate_interval`` becomes what Grafana would use: four scrape
intervals, at least one step plus one scrape interval.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

DEFAULT_DASHBOARD = (
    Path(__file__).resolve().parent.parent / "deploy" / "grafana" / "dashboards" / "operations.json"
)
COLUMNS = 24  # Grafana's grid width
INCH_PER_COLUMN = 0.75
INCH_PER_ROW = 0.36  # one grid unit of height (30 px in Grafana)
BACKGROUND, PANEL, TEXT, MUTED, GRID = "#111217", "#181b1f", "#ccccdc", "#8e8e9e", "#2c3038"
PALETTE = (
    "#73bf69", "#f2cc0c", "#8ab8ff", "#ff780a", "#f2495c", "#5794f2", "#b877d9", "#705da0",
    "#37872d", "#fade2a", "#447ebc", "#c15c17", "#890f02", "#0a437c", "#6d1f62", "#584477",
)  # fmt: skip
MAX_LEGEND = 8


class DashboardError(RuntimeError):
    """A dashboard or a Prometheus answer that cannot be rendered; the message says why."""


@dataclass
class Series:
    """One series of a query result: its labels and (unix time, value) points."""

    labels: dict[str, str]
    points: list[tuple[float, float]]

    @property
    def last(self) -> float:
        for _, value in reversed(self.points):
            if not math.isnan(value):
                return value
        return math.nan


@dataclass
class PanelData:
    """What one panel showed: its series per target, with their legends."""

    title: str
    kind: str
    unit: str
    series: list[tuple[str, Series]] = field(default_factory=list)


class Prometheus:
    """The two query endpoints of Prometheus' HTTP API, with plain urllib."""

    def __init__(self, url: str, timeout_s: float = 30.0) -> None:
        self.url = url.rstrip("/")
        self.timeout_s = timeout_s

    def _get(self, path: str, params: Mapping[str, str]) -> Any:
        query = urllib.parse.urlencode(params)
        request = f"{self.url}{path}?{query}"
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                answer = json.load(response)
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode(errors="replace")[:500]
            raise DashboardError(
                f"Prometheus at {self.url} refused {params.get('query')!r}: {detail}"
            ) from None
        except (urllib.error.URLError, OSError) as exc:
            raise DashboardError(f"cannot reach Prometheus at {self.url}: {exc}") from None
        if answer.get("status") != "success":
            raise DashboardError(f"Prometheus answered {answer.get('error')!r} to {params}")
        return answer["data"]

    def query_range(self, expr: str, start: float, end: float, step: float) -> list[Series]:
        data = self._get(
            "/api/v1/query_range",
            {"query": expr, "start": f"{start:.3f}", "end": f"{end:.3f}", "step": f"{step:g}"},
        )
        return [
            Series(dict(item["metric"]), [(float(t), float(v)) for t, v in item["values"]])
            for item in data["result"]
        ]

    def query(self, expr: str, at: float) -> list[Series]:
        data = self._get("/api/v1/query", {"query": expr, "time": f"{at:.3f}"})
        if data["resultType"] != "vector":
            raise DashboardError(f"{expr!r} gives a {data['resultType']}, not a vector")
        return [
            Series(dict(item["metric"]), [(float(item["value"][0]), float(item["value"][1]))])
            for item in data["result"]
        ]


def load_dashboard(path: str | Path) -> dict[str, Any]:
    """Read a Grafana dashboard JSON file."""
    try:
        loaded: dict[str, Any] = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DashboardError(
            f"no dashboard at {path}: pass --dashboard deploy/grafana/dashboards/NAME.json"
        ) from None
    except json.JSONDecodeError as exc:
        raise DashboardError(f"{path} is not valid JSON: {exc}") from None
    if not isinstance(loaded.get("panels"), list):
        raise DashboardError(f"{path} has no panels: is it a Grafana dashboard?")
    return loaded


def panels_of(dashboard: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Every panel with queries, rows' nested panels included, in grid order."""
    found: list[dict[str, Any]] = []
    for panel in dashboard["panels"]:
        found += [panel, *panel.get("panels", [])]
    return [p for p in found if p.get("targets")]


def expressions(dashboard: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(panel title, PromQL) of every query in the dashboard, as written.

    >>> board = {"panels": [{"type": "row", "panels": []},
    ...          {"title": "Events", "targets": [{"expr": "sum(rate(x[5m]))"}]}]}
    >>> expressions(board)
    [('Events', 'sum(rate(x[5m]))')]
    """
    return [
        (str(panel.get("title", "")), str(target["expr"]))
        for panel in panels_of(dashboard)
        for target in panel["targets"]
        if target.get("expr")
    ]


def rate_interval(scrape_interval_s: float, step_s: float) -> str:
    """Grafana's ``$__rate_interval``: max(4 scrapes, one step plus one scrape).

    >>> rate_interval(5, 15), rate_interval(1, 2)
    ('20s', '4s')
    """
    return f"{math.ceil(max(4 * scrape_interval_s, step_s + scrape_interval_s))}s"


def expand(expr: str, variables: Mapping[str, str], rate: str) -> str:
    """Substitute dashboard variables the way Grafana would before querying.

    >>> expand('rate(x{stream=~"$stream"}[$__rate_interval])', {"stream": ".*"}, "20s")
    'rate(x{stream=~".*"}[20s])'
    """
    expr = expr.replace("$__rate_interval", rate).replace("${__rate_interval}", rate)

    def value(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        return variables.get(name, ".*")

    return re.sub(r"\$\{(\w+)\}|\$(\w+)", value, expr)


def legend(template: str, labels: Mapping[str, str]) -> str:
    """A series' name from the target's legendFormat.

    >>> legend("p99 {{stream}}", {"stream": "postal"}), legend("", {"a": "1", "b": "2"})
    ('p99 postal', 'a=1, b=2')
    """
    if not template:
        return ", ".join(f"{k}={v}" for k, v in sorted(labels.items()) if k != "__name__")
    return re.sub(r"\{\{\s*(\w+)\s*\}\}", lambda m: labels.get(m.group(1), ""), template).strip()


def format_value(value: float, unit: str) -> str:
    """A value in a Grafana unit, as a short readable string.

    >>> format_value(0.0042, "s"), format_value(0.153, "percentunit"), format_value(2.5e6, "bytes")
    ('4.2 ms', '15.3%', '2.38 MiB')
    >>> format_value(1250, "ops"), format_value(12.5, "currencyEUR"), format_value(math.nan, "s")
    ('1.25k/s', '€12.50', '-')
    """
    if math.isnan(value) or math.isinf(value):
        return "-"
    if unit == "percentunit":
        return f"{value * 100:.3g}%"
    if value == 0 and unit in ("s", "bytes"):
        return "0"
    if unit == "s":
        magnitude = abs(value)
        for limit, divisor, suffix in (
            (1e-3, 1e-6, "µs"), (1.0, 1e-3, "ms"), (120.0, 1.0, "s"), (7200.0, 60.0, "min"),
            (172800.0, 3600.0, "h"),
        ):  # fmt: skip
            if magnitude < limit:
                return f"{value / divisor:.3g} {suffix}"
        return f"{value / 86400.0:.3g} d"
    if unit == "bytes":
        for power, suffix in ((3, "GiB"), (2, "MiB"), (1, "KiB")):
            if abs(value) >= 1024**power:
                return f"{value / 1024**power:.3g} {suffix}"
        return f"{value:.0f} B"
    if unit == "currencyEUR":
        return f"€{_si(value)}" if abs(value) >= 1000 else f"€{value:.2f}"
    if unit == "bool":
        return "true" if value else "false"
    if unit == "ops":
        return f"{_si(value)}/s"
    return _si(value)


def _si(value: float) -> str:
    for power, suffix in ((9, "G"), (6, "M"), (3, "k")):
        if abs(value) >= 10**power:
            return f"{value / 10**power:.3g}{suffix}"
    return f"{value:.3g}"


def fetch(
    prometheus: Prometheus,
    dashboard: Mapping[str, Any],
    end: float,
    minutes: float,
    scrape_interval_s: float = 5.0,
    variables: Mapping[str, str] | None = None,
) -> list[PanelData]:
    """Run every panel's queries over the last ``minutes`` before ``end``."""
    start = end - minutes * 60.0
    step = max(1.0, math.ceil(minutes * 60.0 / 240.0))
    rate = rate_interval(scrape_interval_s, step)
    chosen = dict(variables or {})
    results = []
    for panel in panels_of(dashboard):
        data = PanelData(
            str(panel.get("title", "")),
            str(panel.get("type", "timeseries")),
            str(panel.get("fieldConfig", {}).get("defaults", {}).get("unit", "short")),
        )
        for target in panel["targets"]:
            expr = expand(str(target["expr"]), chosen, rate)
            if target.get("instant"):
                found = prometheus.query(expr, end)
            else:
                found = prometheus.query_range(expr, start, end, step)
            for series in found:
                data.series.append(
                    (legend(str(target.get("legendFormat", "")), series.labels), series)
                )
        results.append(data)
    return results


# -- drawing ---------------------------------------------------------------------------------


def _style_axes(ax: Any) -> None:
    ax.set_facecolor(PANEL)
    for spine in ax.spines.values():
        spine.set_visible(False)
    ax.tick_params(colors=MUTED, labelsize=6.5, length=0)


def _legend_columns(width: int) -> int:
    return 3 if width >= 8 else 2


def _margins(data: PanelData, width: int) -> tuple[float, float]:
    """Left and bottom margins of a panel's plot, in inches (room for ticks and legend)."""
    if data.kind == "stat" or not data.series:
        return 0.12, 0.12
    if data.kind == "bargauge":
        return 0.95, 0.12
    rows = math.ceil(min(len(data.series), MAX_LEGEND) / _legend_columns(width))
    return 0.6, 0.3 + 0.13 * rows


def _draw_timeseries(ax: Any, data: PanelData, width: int) -> None:
    from matplotlib.dates import DateFormatter
    from matplotlib.ticker import FuncFormatter

    ax.grid(True, color=GRID, linewidth=0.5)
    ranked = sorted(
        data.series,
        key=lambda item: -abs(item[1].last) if not math.isnan(item[1].last) else math.inf,
    )
    for n, (name, series) in enumerate(ranked):
        times = [datetime.fromtimestamp(t, UTC) for t, _ in series.points]
        values = [v for _, v in series.points]
        dashed = name.startswith("capacity")
        ax.plot(
            times,
            values,
            color=PALETTE[n % len(PALETTE)],
            linewidth=1.0,
            linestyle="--" if dashed else "-",
            label=name if n < MAX_LEGEND else None,
        )
    ax.xaxis.set_major_formatter(DateFormatter("%H:%M", tz=UTC))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: format_value(v, data.unit)))
    ax.yaxis.set_major_locator(_few_ticks())
    if data.series:
        handles, labels = ax.get_legend_handles_labels()
        if len(ranked) > MAX_LEGEND:
            labels[-1] = f"{labels[-1]} (+{len(ranked) - MAX_LEGEND} more)"
        ax.legend(
            handles, labels, loc="upper left", bbox_to_anchor=(0.0, -0.1), fontsize=5.5,
            frameon=False, labelcolor=TEXT, ncol=_legend_columns(width), handlelength=1.2,
            borderaxespad=0.0, columnspacing=1.0,
        )  # fmt: skip


def _few_ticks() -> Any:
    from matplotlib.ticker import MaxNLocator

    return MaxNLocator(nbins=4)


def _bars_from(data: PanelData) -> list[tuple[str, float]]:
    bars = [(name, series.last) for name, series in data.series]
    if bars and all(series.labels.keys() == {"le"} for _, series in data.series):
        # cumulative histogram buckets: bar per bucket, "a-b"
        ordered = sorted(data.series, key=lambda item: float(item[1].labels["le"]))
        bars, below, lower = [], 0.0, "0"
        for _, series in ordered:
            bound = series.labels["le"]
            value = series.last
            bars.append((f"{lower}-{bound}" if bound != "+Inf" else f">{lower}", value - below))
            below, lower = value, bound
        return bars
    return sorted(bars, key=lambda bar: -bar[1] if not math.isnan(bar[1]) else math.inf)


def _draw_bars(ax: Any, data: PanelData) -> None:
    bars = _bars_from(data)[:12]
    names = [name for name, _ in bars][::-1]
    values = [0.0 if math.isnan(value) else value for _, value in bars][::-1]
    ax.barh(range(len(values)), values, color=PALETTE[0], height=0.7)
    ax.set_yticks(range(len(values)), names, fontsize=6, color=TEXT)
    ax.set_xticks([])
    top = max(values, default=0.0) or 1.0
    for y, value in enumerate(values):
        ax.text(value + top * 0.02, y, format_value(value, data.unit), va="center",
                fontsize=6, color=TEXT)  # fmt: skip
    ax.set_xlim(0, top * 1.35)
    ax.set_ylim(-0.6, max(len(values), 6) - 0.4)  # a few bars keep the height of many


def _draw_stat(ax: Any, data: PanelData) -> None:
    ax.set_xticks([])
    ax.set_yticks([])
    if not data.series:
        return
    _, series = data.series[0]
    values = [v for _, v in series.points]
    if len(values) > 1:
        ax.fill_between(range(len(values)), values, color=PALETTE[0], alpha=0.15)
        ax.plot(range(len(values)), values, color=PALETTE[0], linewidth=0.8)
    ax.text(0.5, 0.5, format_value(series.last, data.unit), transform=ax.transAxes,
            ha="center", va="center", fontsize=20, color=PALETTE[0], fontweight="bold")  # fmt: skip


def render(
    dashboard: Mapping[str, Any],
    panels: Sequence[PanelData],
    out: str | Path,
    subtitle: str = "",
) -> Path:
    """Draw ``panels`` (from :func:`fetch`) in the dashboard's grid; write a PNG to ``out``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import FancyBboxPatch

    grid = [p for p in dashboard["panels"]]
    bottom = max((p["gridPos"]["y"] + p["gridPos"]["h"] for p in grid), default=1)
    header = 2.2  # grid units for the title
    width_in = COLUMNS * INCH_PER_COLUMN
    height_in = (bottom + header) * INCH_PER_ROW
    fig = plt.figure(figsize=(width_in, height_in), dpi=110, facecolor=BACKGROUND)
    fig.text(0.008, 1 - 0.9 / (bottom + header), str(dashboard.get("title", "")), color=TEXT,
             fontsize=14, fontweight="bold", va="center")  # fmt: skip
    if subtitle:
        fig.text(0.008, 1 - 1.7 / (bottom + header), subtitle, color=MUTED, fontsize=8,
                 va="center")  # fmt: skip
    by_title = {data.title: data for data in panels}

    def box(pos: Mapping[str, int], pad: float = 0.12) -> tuple[float, float, float, float]:
        left = (pos["x"] + pad) / COLUMNS
        width = (pos["w"] - 2 * pad) / COLUMNS
        top = 1 - (pos["y"] + header + pad) / (bottom + header)
        height = (pos["h"] - 2 * pad) / (bottom + header)
        return (left, top - height, width, height)

    for panel in grid:
        pos = panel["gridPos"]
        if panel.get("type") == "row":
            fig.text(pos["x"] / COLUMNS + 0.004, 1 - (pos["y"] + header + 0.55) / (bottom + header),
                     str(panel.get("title", "")), color=TEXT, fontsize=10.5, va="center",
                     fontweight="bold")  # fmt: skip
            continue
        data = by_title.get(str(panel.get("title", "")))
        if data is None:
            continue
        inner = box(pos)
        left_in, bottom_in = _margins(data, pos["w"])
        ax = fig.add_axes(
            (
                inner[0] + left_in / width_in,
                inner[1] + bottom_in / height_in,
                inner[2] - (left_in + 0.15) / width_in,
                inner[3] - (bottom_in + 0.38) / height_in,
            )
        )
        _style_axes(ax)
        fig.text(inner[0] + 0.1 / width_in, inner[1] + inner[3] - 0.2 / height_in, data.title,
                 color=TEXT, fontsize=8.5, fontweight="bold", va="center")  # fmt: skip
        fig.patches.append(
            FancyBboxPatch(
                inner[:2], inner[2], inner[3], boxstyle="round,pad=0,rounding_size=0.003",
                transform=fig.transFigure, facecolor=PANEL, edgecolor=GRID, linewidth=0.5,
                zorder=-1,
            )
        )  # fmt: skip
        if not data.series:
            ax.text(0.5, 0.5, "no data", transform=ax.transAxes, ha="center", va="center",
                    color=MUTED, fontsize=9)  # fmt: skip
            ax.set_xticks([])
            ax.set_yticks([])
        elif data.kind == "bargauge":
            _draw_bars(ax, data)
        elif data.kind == "stat":
            _draw_stat(ax, data)
        else:
            _draw_timeseries(ax, data, pos["w"])
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, facecolor=BACKGROUND)
    plt.close(fig)
    return path


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m streams.dashboard_png",
        description="Render a riskstream Grafana dashboard to PNG from Prometheus query results.",
    )
    parser.add_argument(
        "--prometheus", required=True, help="Prometheus URL, e.g. http://localhost:9090"
    )
    parser.add_argument("--out", required=True, type=Path, help="PNG file to write")
    parser.add_argument("--dashboard", type=Path, default=DEFAULT_DASHBOARD, help="dashboard JSON")
    parser.add_argument("--minutes", type=float, default=15.0, help="time range, ending now")
    parser.add_argument("--end", type=float, default=None, help="end of the range (unix seconds)")
    parser.add_argument(
        "--scrape-interval", type=float, default=5.0, help="Prometheus' scrape interval, seconds"
    )
    parser.add_argument(
        "--var", action="append", default=[], metavar="NAME=REGEX",
        help="value of a dashboard variable (default: all)",
    )  # fmt: skip
    args = parser.parse_args(argv)
    variables = {}
    for item in args.var:
        name, sep, value = item.partition("=")
        if not sep:
            parser.error(f"--var {item!r}: expected NAME=REGEX, e.g. stream=postal")
        variables[name] = value
    end = args.end if args.end is not None else time.time()
    try:
        dashboard = load_dashboard(args.dashboard)
        panels = fetch(
            Prometheus(args.prometheus), dashboard, end, args.minutes, args.scrape_interval,
            variables,
        )  # fmt: skip
    except DashboardError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    stamp = datetime.fromtimestamp(end, UTC).strftime("%Y-%m-%d %H:%M UTC")
    subtitle = f"{args.minutes:g} minutes to {stamp}, from {args.prometheus}"
    path = render(dashboard, panels, args.out, subtitle)
    empty = [data.title for data in panels if not data.series]
    print(f"wrote {path}: {len(panels)} panels, {len(panels) - len(empty)} with data")
    for title in empty:
        print(f"  no data: {title}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
