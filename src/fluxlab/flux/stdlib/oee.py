"""Package "experimental/oee": overall equipment effectiveness (availability x
performance x quality) per table.

Each production event's state lasts until the next event, the last one until the
table's `_stop`; `runTime` sums the time spent in `runningState`. Part counters are
cumulative, so the parts made in the table are last minus first:
    availability = runTime / plannedTime
    performance  = idealCycleTime * parts / runTime
    quality      = (parts - bad parts) / parts
    oee          = availability * performance * quality
The output has one row per table: its group key, `_time` = `_stop`, the four ratios and
`runTime` (int nanoseconds).
"""

from __future__ import annotations

from typing import Any

import polars as pl

from fluxlab.flux.errors import FluxRuntimeError
from fluxlab.flux.registry import builtin
from fluxlab.flux.stdlib.shape_common import require_stream
from fluxlab.flux.table import TIME_TYPE, Stream, Table
from fluxlab.flux.values import Duration

_PKG = "experimental/oee"


def _ns(d: Any, name: str) -> int:
    if not isinstance(d, Duration) or not d.is_fixed():
        raise FluxRuntimeError(f"oee: {name} must be a duration without months")
    return d.total_ns()


def _need(df: pl.DataFrame, columns: tuple[str, ...], what: str) -> None:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise FluxRuntimeError(f"oee.{what}: input tables need column(s) {', '.join(missing)}")


def _run_time(df: pl.DataFrame, running_state: Any) -> tuple[int, Any]:
    """Nanoseconds spent in the running state, and the table's _stop."""
    ordered = df.sort("_time")
    times = ordered.get_column("_time").cast(pl.Int64)
    stops = ordered.get_column("_stop").cast(pl.Int64)
    until = times.shift(-1).fill_null(stops)
    running = ordered.get_column("state") == running_state
    run = int(((until - times) * running.cast(pl.Int64)).sum())
    return run, ordered.get_column("_stop")[-1]


def _parts(df: pl.DataFrame) -> tuple[float, float]:
    """Parts made and bad parts made over the table (cumulative counters)."""
    ordered = df.sort("_time")
    part = ordered.get_column("partCount").cast(pl.Float64)
    bad = ordered.get_column("badCount").cast(pl.Float64)
    return float(part[-1] - part[0]), float(bad[-1] - bad[0])


def _result(table: Table, stop: Any, run: int, parts: float, bad: float,
            planned_ns: int, ideal_ns: int) -> Table:
    availability = run / planned_ns if planned_ns else float("nan")
    performance = ideal_ns * parts / run if run else float("nan")
    quality = (parts - bad) / parts if parts else float("nan")
    row = {k: v for k, v in table.key_dict().items()}
    key_df = table.df.select(table.key).head(1) if table.key else pl.DataFrame()
    values = pl.DataFrame(
        {
            "_time": pl.Series([stop], dtype=TIME_TYPE),
            "availability": [availability],
            "oee": [availability * performance * quality],
            "performance": [performance],
            "quality": [quality],
            "runTime": pl.Series([run], dtype=pl.Int64),
        }
    )
    df = pl.concat([key_df, values], how="horizontal") if row else values
    return Table(table.key, table.key_values, df)


@builtin(_PKG, name="APQ", pipe="tables")
def apq(ctx: Any, tables: Any, runningState: Any, plannedTime: Any,  # noqa: N803
        idealCycleTime: Any) -> Stream:  # noqa: N803
    """APQ and OEE of each table of state/partCount/badCount events."""
    planned, ideal = _ns(plannedTime, "plannedTime"), _ns(idealCycleTime, "idealCycleTime")
    out = []
    for table in require_stream(tables, "tables", "oee.APQ"):
        if table.df.height == 0:
            continue
        _need(table.df, ("_time", "_stop", "state", "partCount", "badCount"), "APQ")
        run, stop = _run_time(table.df, runningState)
        parts, bad = _parts(table.df)
        out.append(_result(table, stop, run, parts, bad, planned, ideal))
    return Stream(out)


@builtin(_PKG, name="computeAPQ")
def compute_apq(ctx: Any, productionEvents: Any, partEvents: Any,  # noqa: N803
                runningState: Any, plannedTime: Any, idealCycleTime: Any) -> Stream:  # noqa: N803
    """APQ and OEE from separate production-state and part-count streams (matched by key)."""
    planned, ideal = _ns(plannedTime, "plannedTime"), _ns(idealCycleTime, "idealCycleTime")
    production = require_stream(productionEvents, "productionEvents", "oee.computeAPQ")
    parts_by_key = {
        (t.key, t.key_values): t
        for t in require_stream(partEvents, "partEvents", "oee.computeAPQ")
        if t.df.height
    }
    out = []
    for table in production:
        part_table = parts_by_key.get((table.key, table.key_values))
        if table.df.height == 0 or part_table is None:
            continue
        _need(table.df, ("_time", "_stop", "state"), "computeAPQ")
        _need(part_table.df, ("_time", "partCount", "badCount"), "computeAPQ")
        run, stop = _run_time(table.df, runningState)
        parts, bad = _parts(part_table.df)
        out.append(_result(table, stop, run, parts, bad, planned, ideal))
    return Stream(out)
