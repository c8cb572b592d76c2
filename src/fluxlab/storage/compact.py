"""Compaction: cluster each points table by series key and time, as InfluxDB's TSM files are.

Why: points are stored in write order, so the points of one series (and of all series of
one `s2_cell_id` cell) are spread over the whole table and every scan restricted to a few
series still reads every row group. After compaction:
- series ids are renumbered in series-key order (tag values in sorted tag-key order,
  absent tags first), so series sharing a tag-value prefix get contiguous ids;
- the points table is rewritten ordered by (series id, time), so DuckDB's per-row-group
  min/max of `sid` (zone maps) let a scan of a few series skip the other row groups;
- series left without points (after deletes) are dropped, as InfluxDB drops them from its
  index at compaction.

Each measurement is rewritten in one DuckDB transaction (new tables built, old ones
dropped, new ones renamed, then COMMIT): a crash leaves either the old or the new layout,
never a mix. A measurement that has not changed since its last compaction (same row
count, last write id and series count, recorded in `_fl_meta`) is skipped.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

import duckdb

from fluxlab.storage.catalog import SERIES_ID, WRITE_ID_COLUMN, Catalog, Measurement
from fluxlab.storage.errors import StoreError
from fluxlab.storage.predicate import sql_ident, sql_string
from fluxlab.storage.usersql import STORE_CATALOG

T = TypeVar("T")
Transaction = Callable[[Callable[[], T]], T]
"""Runs an action in one transaction (the store's `_in_transaction`)."""

SID_MAP = "_fl_sid_map"
NEW_SUFFIX = "_compacting"
META_PREFIX = "compacted:"


@dataclass(frozen=True)
class MeasurementCompaction:
    """What compaction did to one measurement."""

    bucket: str
    measurement: str
    rows: int
    series: int
    series_removed: int
    seconds: float
    skipped: bool = False
    """True when the measurement was already compacted and unchanged since."""


@dataclass
class CompactReport:
    """Result of `Store.compact`: totals plus one entry per measurement."""

    measurements: list[MeasurementCompaction] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def rows(self) -> int:
        return sum(m.rows for m in self.measurements if not m.skipped)

    @property
    def series(self) -> int:
        return sum(m.series for m in self.measurements if not m.skipped)

    @property
    def skipped(self) -> int:
        return sum(1 for m in self.measurements if m.skipped)

    def __str__(self) -> str:
        done = len(self.measurements) - self.skipped
        return (
            f"compacted {done} measurement(s): {self.rows:,} points, {self.series:,} series "
            f"in {self.seconds:.2f} s ({self.skipped} already compacted)"
        )


def compact_store(
    con: duckdb.DuckDBPyConnection,
    catalog: Catalog,
    in_transaction: Transaction,
    *,
    bucket: str | None = None,
    measurement: str | None = None,
    force: bool = False,
) -> CompactReport:
    """Compact the chosen measurements, one transaction each; CHECKPOINT at the end so the
    dropped tables' blocks are freed and the WAL does not hold the rewrite."""
    chosen = choose(catalog, bucket, measurement)
    report = CompactReport()
    started = time.perf_counter()
    live = [m for ms in catalog.measurements.values() for m in ms.values()]
    in_transaction(lambda: forget_stale(con, live))
    for bucket_name, m in chosen:
        report.measurements.append(
            in_transaction(lambda b=bucket_name, m=m: _compact_one(con, b, m, force))
        )
    if report.rows:
        con.execute("CHECKPOINT")
    report.seconds = time.perf_counter() - started
    return report


def choose(
    catalog: Catalog, bucket: str | None, measurement: str | None
) -> list[tuple[str, Measurement]]:
    """(bucket name, measurement) pairs to compact; a named measurement must exist."""
    buckets = [catalog.bucket(bucket)] if bucket is not None else sorted(
        catalog.buckets.values(), key=lambda b: b.name
    )
    chosen = [
        (b.name, m)
        for b in buckets
        for m in catalog.measurements_of(b)
        if measurement is None or m.name == measurement
    ]
    if measurement is not None and not chosen:
        where = f"bucket {bucket!r}" if bucket is not None else "any bucket"
        raise StoreError(
            f"measurement {measurement!r} not found in {where}; list them with "
            "`fluxlab store info`"
        )
    return chosen


def _compact_one(
    con: duckdb.DuckDBPyConnection, bucket: str, m: Measurement, force: bool
) -> MeasurementCompaction:
    started = time.perf_counter()
    signature = _signature(con, m)
    rows, series = int(signature.split(":")[0]), int(signature.split(":")[2])
    if not force and _recorded_signature(con, m) == signature:
        return MeasurementCompaction(bucket, m.name, rows, series, 0, 0.0, skipped=True)
    kept = _build_sid_map(con, m)
    _rewrite(con, m.series, _series_select(m), order="x.new")
    _rewrite(con, m.table, _points_select(m), order='x.new, p."time"')
    con.execute(f"DROP TABLE {SID_MAP}")  # on failure the rollback removes it
    m.next_sid = kept  # ids are now 0..kept-1
    _record_signature(con, m, _signature(con, m))
    seconds = time.perf_counter() - started
    return MeasurementCompaction(bucket, m.name, rows, kept, series - kept, seconds)


def _build_sid_map(con: duckdb.DuckDBPyConnection, m: Measurement) -> int:
    """Temp table (old sid -> new sid) over the series that still have points, numbered in
    series-key order; returns how many there are."""
    order = [f"{m.tags[k].name} NULLS FIRST" for k in sorted(m.tags)] or [SERIES_ID]
    con.execute(
        f"CREATE TEMP TABLE {SID_MAP} AS SELECT {SERIES_ID} AS old, "
        f"(row_number() OVER (ORDER BY {', '.join(order)}) - 1)::BIGINT AS new "
        f"FROM {sql_ident(m.series)} WHERE {SERIES_ID} IN "
        f"(SELECT DISTINCT {SERIES_ID} FROM {sql_ident(m.table)})"
    )
    return int(con.execute(f"SELECT count(*) FROM {SID_MAP}").fetchall()[0][0])


def _series_select(m: Measurement) -> Callable[[list[str]], str]:
    def select(columns: list[str]) -> str:
        values = [f"x.new AS {SERIES_ID}" if c == SERIES_ID else f"s.{sql_ident(c)}"
                  for c in columns]
        return (
            f"SELECT {', '.join(values)} FROM {sql_ident(m.series)} s "
            f"JOIN {SID_MAP} x ON s.{SERIES_ID} = x.old"
        )

    return select


def _points_select(m: Measurement) -> Callable[[list[str]], str]:
    def select(columns: list[str]) -> str:
        values = [f"x.new AS {SERIES_ID}" if c == SERIES_ID else f"p.{sql_ident(c)}"
                  for c in columns]
        return (
            f"SELECT {', '.join(values)} FROM {sql_ident(m.table)} p "
            f"JOIN {SID_MAP} x ON p.{SERIES_ID} = x.old"
        )

    return select


def _rewrite(
    con: duckdb.DuckDBPyConnection, table: str, select: Callable[[list[str]], str], order: str
) -> None:
    """Replace `table` by a copy with the same columns (types, NOT NULL) filled by
    `select(column names)` in `order`: create, fill, drop the old one, rename."""
    columns = con.execute(
        "SELECT column_name, data_type, is_nullable FROM duckdb_columns() "
        "WHERE database_name = ? AND schema_name = 'main' AND table_name = ? "
        "ORDER BY column_index",
        [STORE_CATALOG, table],
    ).fetchall()
    names = [str(c[0]) for c in columns]
    ddl = ", ".join(
        f"{sql_ident(name)} {dtype}{'' if nullable else ' NOT NULL'}"
        for name, dtype, nullable in columns
    )
    new = table + NEW_SUFFIX
    con.execute(f"DROP TABLE IF EXISTS {sql_ident(new)}")
    con.execute(f"CREATE TABLE {sql_ident(new)} ({ddl})")
    quoted = ", ".join(sql_ident(n) for n in names)
    con.execute(f"INSERT INTO {sql_ident(new)} ({quoted}) {select(names)} ORDER BY {order}")
    con.execute(f"DROP TABLE {sql_ident(table)}")
    con.execute(f"ALTER TABLE {sql_ident(new)} RENAME TO {sql_ident(table)}")


def _signature(con: duckdb.DuckDBPyConnection, m: Measurement) -> str:
    """rows:last write id:series: changes with every write, delete and new series."""
    rows, last = con.execute(
        f"SELECT count(*), coalesce(max({WRITE_ID_COLUMN}), 0) FROM {sql_ident(m.table)}"
    ).fetchall()[0]
    series = con.execute(f"SELECT count(*) FROM {sql_ident(m.series)}").fetchall()[0][0]
    return f"{int(rows)}:{int(last)}:{int(series)}"


def _meta_key(m: Measurement) -> str:
    return f"{META_PREFIX}{m.id}:{m.table}"


def _recorded_signature(con: duckdb.DuckDBPyConnection, m: Measurement) -> str | None:
    rows = con.execute("SELECT value FROM _fl_meta WHERE key = ?", [_meta_key(m)]).fetchall()
    return str(rows[0][0]) if rows else None


def _record_signature(con: duckdb.DuckDBPyConnection, m: Measurement, signature: str) -> None:
    con.execute("DELETE FROM _fl_meta WHERE key = ?", [_meta_key(m)])
    con.execute("INSERT INTO _fl_meta VALUES (?, ?)", [_meta_key(m), signature])


def forget_stale(con: duckdb.DuckDBPyConnection, live: list[Measurement]) -> None:
    """Drop recorded signatures of measurements that no longer exist (ids can be reused)."""
    keep = [sql_string(_meta_key(m)) for m in live]
    known = f" AND key NOT IN ({', '.join(keep)})" if keep else ""
    con.execute(f"DELETE FROM _fl_meta WHERE key LIKE '{META_PREFIX}%'{known}")
