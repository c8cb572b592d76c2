"""Points of one measurement as a wide Polars frame (time, tags, fields), from any backend.

The embedded store already keeps each measurement as a wide table, so one SQL scan
returns it; InfluxDB 2 returns Flux's narrow tables, which are pivoted on `_time` by the
query itself (the `v1.fieldsAsCols()` shape) before they leave the server.
"""

from __future__ import annotations

import polars as pl
import pyarrow as pa

from fluxlab.backends.base import Backend


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _flux_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def load_points(backend: Backend, bucket: str, measurement: str) -> pl.DataFrame:
    """All points of `measurement` in `bucket`, one row per series and time.

    The time column is `time` (nanoseconds, UTC) whichever backend served it.
    """
    if backend.kind == "embedded":
        table = backend.sql(f"SELECT * FROM {_quote(bucket)}.{_quote(measurement)}")
        frame = pl.from_arrow(table)
    else:
        query = (
            f"from(bucket: {_flux_string(bucket)})\n"
            "  |> range(start: 0)\n"
            f"  |> filter(fn: (r) => r._measurement == {_flux_string(measurement)})\n"
            '  |> pivot(rowKey: ["_time"], columnKey: ["_field"], valueColumn: "_value")\n'
            '  |> drop(columns: ["_start", "_stop", "_measurement"])\n'
            '  |> rename(columns: {_time: "time"})'
        )
        tables = [t for t in backend.flux(query) if t.num_rows]
        frame = pl.from_arrow(pa.concat_tables(tables, promote_options="permissive")) if tables else pl.DataFrame()
    assert isinstance(frame, pl.DataFrame)
    if "time" in frame.columns and frame.schema["time"].is_temporal():
        frame = frame.with_columns(
            pl.col("time").dt.cast_time_unit("ns").dt.replace_time_zone(None).cast(pl.Int64)
        )
    return frame
