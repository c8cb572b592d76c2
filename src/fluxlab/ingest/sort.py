"""External time sort: inputs larger than memory come out ordered by time, in batches.

Batches are staged as Parquet files in a temporary directory (grouped by
measurement and exact schema), then DuckDB reads each group back `ORDER BY time,
_line` under a memory limit, spilling to its temp directory when the data does
not fit. `_line` as the tie-breaker keeps the input order of equal timestamps, so
last-write-wins collisions resolve exactly as they would unsorted.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from fluxlab.ingest.csvblocks import LINE_COLUMN
from fluxlab.model.points import TIME_COLUMN, PointBatch

DEFAULT_MEMORY_LIMIT = "512MB"
OUTPUT_BATCH_ROWS = 256 * 1024


@dataclass
class _Group:
    measurement: str
    tags: tuple[str, ...]
    fields: tuple[str, ...]
    schema: pa.Schema
    files: list[Path] = field(default_factory=list)


def sort_by_time(
    batches: Iterable[PointBatch],
    *,
    memory_limit: str = DEFAULT_MEMORY_LIMIT,
    temp_dir: str | Path | None = None,
    batch_rows: int = OUTPUT_BATCH_ROWS,
) -> Iterator[PointBatch]:
    """Yield the rows of `batches` ordered by (time, _line), per measurement and schema."""
    work = Path(tempfile.mkdtemp(prefix="fluxlab-sort-", dir=temp_dir))
    try:
        groups = _stage(batches, work)
        if not groups:
            return
        con = _connect(work, memory_limit)
        try:
            for group in groups:
                yield from _read_sorted(con, group, batch_rows)
        finally:
            con.close()
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _stage(batches: Iterable[PointBatch], work: Path) -> list[_Group]:
    groups: dict[tuple[object, ...], _Group] = {}
    for batch in batches:
        if batch.num_rows == 0:
            continue
        table = batch.table
        if LINE_COLUMN not in table.column_names:
            table = table.append_column(LINE_COLUMN, pa.array([0] * table.num_rows, pa.int64()))
        key = (batch.measurement, batch.tags, batch.fields, table.schema)
        group = groups.get(key)
        if group is None:
            group = groups[key] = _Group(batch.measurement, batch.tags, batch.fields, table.schema)
        path = work / f"g{list(groups).index(key)}_{len(group.files)}.parquet"
        pq.write_table(table, path, compression="lz4")
        group.files.append(path)
    return list(groups.values())


def _connect(work: Path, memory_limit: str) -> duckdb.DuckDBPyConnection:
    spill = work / "spill"
    spill.mkdir()
    con = duckdb.connect(
        config={
            "memory_limit": memory_limit,
            "temp_directory": str(spill),
            "autoinstall_known_extensions": False,
            "autoload_known_extensions": False,
        }
    )
    return con


def _read_sorted(
    con: duckdb.DuckDBPyConnection, group: _Group, batch_rows: int
) -> Iterator[PointBatch]:
    files = ", ".join("'" + str(p).replace("'", "''") + "'" for p in group.files)
    query = (
        f"SELECT * FROM read_parquet([{files}]) "
        f'ORDER BY "{TIME_COLUMN}", "{LINE_COLUMN}"'
    )
    reader = con.sql(query).to_arrow_reader(batch_rows)
    for record_batch in reader:
        table = pa.Table.from_batches([record_batch]).cast(group.schema)
        yield PointBatch(group.measurement, table, group.tags, group.fields)
