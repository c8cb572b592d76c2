"""Saved analyses: the tutorials' queries as Flux files shipped in the package.

Each `analyses/NAME.flux` is written to be pasted as-is into the InfluxDB UI or a
Grafana panel: it reads the dashboard's `v.timeRangeStart` / `v.timeRangeStop`.
Those variables exist only inside the UI, so when fluxlab runs a file locally it
defines `v` right after the imports, with a default range from the file's
`// fluxlab: range` header line (overridable with --start/--stop).

Header lines (comments, so the file stays valid Flux everywhere):

    // title: Cases by city
    // dataset: ct-school-covid
    // fluxlab: range 2020-01-01T00:00:00Z now()
"""

from __future__ import annotations

import importlib.resources
import re
from dataclasses import dataclass

_HEADER = re.compile(r"^//\s*(title|dataset|fluxlab|about):\s*(.*)$")
_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2}))?$")


class AnalysisError(ValueError):
    """Unknown analysis or unusable range."""


@dataclass(frozen=True)
class Analysis:
    name: str
    title: str
    dataset: str
    about: str
    text: str
    start: str
    stop: str

    def local_query(self, start: str | None = None, stop: str | None = None) -> str:
        """The query with `v` defined after the imports (what the UI would inject)."""
        lines = self.text.splitlines()
        last_import = max((i for i, line in enumerate(lines) if line.startswith("import ")),
                          default=-1)
        range_start = flux_time(start or self.start)
        range_stop = flux_time(stop or self.stop)
        define = (
            f"v = {{timeRangeStart: {range_start}, timeRangeStop: {range_stop}, "
            "windowPeriod: 1h}"
        )
        return "\n".join([*lines[: last_import + 1], define, *lines[last_import + 1 :]]) + "\n"


def flux_time(text: str) -> str:
    """A range bound as Flux: RFC 3339 (a bare date becomes midnight UTC), now(), or -30d."""
    text = text.strip()
    if text == "now()" or re.fullmatch(r"-\d+[smhdwy]", text):
        return text
    if _RFC3339.match(text):
        return text if "T" in text else f"{text}T00:00:00Z"
    raise AnalysisError(
        f"time {text!r}: use RFC 3339 (2020-01-01T00:00:00Z), a date (2020-01-01), "
        "a relative duration (-30d) or now()"
    )


def analysis_names() -> list[str]:
    folder = importlib.resources.files("fluxlab.datasets") / "analyses"
    return sorted(p.name.removesuffix(".flux") for p in folder.iterdir() if p.name.endswith(".flux"))


def load_analysis(name: str) -> Analysis:
    resource = importlib.resources.files("fluxlab.datasets") / "analyses" / f"{name}.flux"
    if not resource.is_file():
        raise AnalysisError(
            f"unknown analysis {name!r}; saved analyses: {', '.join(analysis_names())}"
        )
    text = resource.read_text(encoding="utf-8")
    meta: dict[str, str] = {}
    for line in text.splitlines():
        match = _HEADER.match(line.strip())
        if match:
            meta.setdefault(match.group(1), match.group(2).strip())
    bounds = meta.get("fluxlab", "range 1970-01-01T00:00:00Z now()").split()
    start, stop = (bounds[1], bounds[2]) if len(bounds) == 3 else ("1970-01-01T00:00:00Z", "now()")
    return Analysis(
        name=name,
        title=meta.get("title", name),
        dataset=meta.get("dataset", ""),
        about=meta.get("about", ""),
        text=text,
        start=start,
        stop=stop,
    )


def all_analyses() -> list[Analysis]:
    return [load_analysis(n) for n in analysis_names()]
