"""Helpers for storage tests: batches built with pyarrow, scan rows as dicts."""

from __future__ import annotations

import pyarrow as pa

from fluxlab.model.points import PointBatch


def make_batch(
    measurement: str,
    times: list[int],
    tags: dict[str, list[str | None]] | None = None,
    fields: dict[str, pa.Array | list] | None = None,
    lines: list[int] | None = None,
) -> PointBatch:
    """A PointBatch from plain lists; field lists are typed by pyarrow's inference."""
    tags = tags or {}
    fields = fields or {}
    columns: dict[str, pa.Array] = {"time": pa.array(times, pa.int64())}
    for key, values in tags.items():
        columns[key] = pa.array(values, pa.string())
    for key, values in fields.items():
        columns[key] = values if isinstance(values, pa.Array) else pa.array(values)
    if lines is not None:
        columns["_line"] = pa.array(lines, pa.int64())
    return PointBatch(measurement, pa.table(columns), tuple(tags), tuple(fields))


def rows(tables: list[pa.Table]) -> list[dict]:
    """All rows of scan output as dicts with _time as int ns (easy to compare)."""
    out = []
    for table in tables:
        for name in ("_time", "_start", "_stop"):
            if name in table.column_names:
                i = table.column_names.index(name)
                table = table.set_column(i, name, table.column(i).cast(pa.int64()))
        out.extend(table.to_pylist())
    return out
