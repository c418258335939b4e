"""A report's outputs, the same for the simulator and the what-if: the text on stdout, then the JSON file
and, when wanted and matplotlib is there, the PNG chart, each path said as it is written."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Protocol


class Report(Protocol):
    """What a report module gives (simulator.report, loyalty_local.whatif.report)."""

    def render(self, summary: dict[str, Any]) -> str: ...

    def write_json(self, summary: dict[str, Any], path: Path) -> None: ...

    def chart(self, summary: dict[str, Any], path: Path) -> None: ...


def publish(report: Report, summary: dict[str, Any], out: Path, stem: str, *, with_chart: bool) -> None:
    """Print the rendered summary, write `<out>/<stem>.json` and (with_chart) `<out>/<stem>.png`."""
    print(report.render(summary))
    path = out / f"{stem}.json"
    report.write_json(summary, path)
    print(f"Summary: {path}")
    if not with_chart:
        return
    try:
        report.chart(summary, out / f"{stem}.png")
        print(f"Chart: {out / f'{stem}.png'}")
    except ImportError:
        print("Chart skipped: matplotlib is missing (pip install -e '.[sim]')", file=sys.stderr)
