"""Rejected rows: one Arrow schema for every reader, and the rejects file they go to.

A reject keeps everything a user needs to fix and re-load the row: the source file,
the physical line number, the column and value that failed, why, and the raw line.
Readers build rejects as Arrow tables (vectorized, even when a whole file is bad);
the writer appends them to a CSV file so nothing is ever silently dropped.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa
import pyarrow.csv as pacsv

REJECT_SCHEMA = pa.schema(
    [
        ("source", pa.string()),
        ("line", pa.int64()),
        ("column", pa.string()),
        ("value", pa.string()),
        ("reason", pa.string()),
        ("raw", pa.string()),
    ]
)
"""Columns of the rejects file, in order."""


def empty_rejects() -> pa.Table:
    return REJECT_SCHEMA.empty_table()


def make_rejects(
    source: str,
    lines: list[int],
    columns: list[str],
    values: list[str | None],
    reasons: list[str],
    raws: list[str | None],
) -> pa.Table:
    """Rejects from Python lists (for the rare per-row slow paths)."""
    if not lines:
        return empty_rejects()
    return pa.table(
        {
            "source": pa.array([source] * len(lines), pa.string()),
            "line": pa.array(lines, pa.int64()),
            "column": pa.array(columns, pa.string()),
            "value": pa.array(values, pa.string()),
            "reason": pa.array(reasons, pa.string()),
            "raw": pa.array(raws, pa.string()),
        },
        schema=REJECT_SCHEMA,
    )


def rejects_from_frame(frame: pl.DataFrame, source: str) -> pa.Table:
    """Rejects from a Polars frame with columns line, column, value, reason, raw."""
    out = frame.select(
        pl.lit(source, pl.String).alias("source"),
        pl.col("line").cast(pl.Int64),
        pl.col("column").cast(pl.String),
        pl.col("value").cast(pl.String),
        pl.col("reason").cast(pl.String),
        pl.col("raw").cast(pl.String),
    )
    return out.to_arrow().cast(REJECT_SCHEMA)


def reject_to_text(row: dict[str, Any]) -> str:
    """One reject as the message a user reads: where, what, why."""
    value = "" if row["value"] is None else f" value {row['value']!r}:"
    return f"{row['source']}:{row['line']}: column {row['column']!r}:{value} {row['reason']}"


class RejectsWriter:
    """Appends reject tables to a CSV file, created on the first reject (none → no file)."""

    def __init__(self, path: str | Path | None) -> None:
        self.path = Path(path) if path is not None else None
        self._writer: pacsv.CSVWriter | None = None
        self.count = 0

    def write(self, rejects: pa.Table) -> None:
        if rejects.num_rows == 0:
            return
        self.count += rejects.num_rows
        if self.path is None:
            return
        if self._writer is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._writer = pacsv.CSVWriter(str(self.path), REJECT_SCHEMA)
        self._writer.write_table(rejects.cast(REJECT_SCHEMA))

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None
