"""The embedded time-series store: buckets of measurements in one DuckDB file.

Layout: `<dir>/fluxlab.duckdb` (catalog + per measurement a series table of tag sets
and a points table keyed by series id and time, see catalog.py),
`<dir>/store.lock` (process lock), `<dir>/tmp/` (DuckDB spill files).
See TEAM.md for the contract; module docstrings of write.py and scan.py for the
algorithms.
"""

from __future__ import annotations

import contextlib
import functools
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from types import TracebackType
from typing import Concatenate, ParamSpec, TypeVar

import duckdb
import pyarrow as pa

from fluxlab.model.points import FieldType, PointBatch
from fluxlab.storage import scan as scans
from fluxlab.storage import schema
from fluxlab.storage.batches import chunked, screen
from fluxlab.storage.catalog import Bucket, Catalog, Measurement
from fluxlab.storage.check import check_store
from fluxlab.storage.compact import CompactReport, compact_store
from fluxlab.storage.delete import delete_points, expire, parse_for_delete
from fluxlab.storage.engine import EngineSettings, open_database
from fluxlab.storage.errors import BatchError, ReadOnlyError, StoreError
from fluxlab.storage.lock import StoreLock
from fluxlab.storage.predicate import Predicate
from fluxlab.storage.results import CheckReport, WriteResult
from fluxlab.storage.sqltime import retention_cutoff
from fluxlab.storage.usersql import UserSql
from fluxlab.storage.write import MODES, ChunkWriter

DEFAULT_CHUNK_ROWS = 500_000
CHECKPOINT_ROWS = 5_000_000  # see Store._checkpoint_every
T = TypeVar("T")
P = ParamSpec("P")


def serialized(method: Callable[Concatenate[Store, P], T]) -> Callable[Concatenate[Store, P], T]:
    """One call at a time per Store: a DuckDB connection must not be shared by threads
    concurrently (the HTTP server calls the store from worker threads)."""

    @functools.wraps(method)
    def call(self: Store, *args: P.args, **kwargs: P.kwargs) -> T:
        with self._mutex:
            return method(self, *args, **kwargs)

    return call


class Store:
    """One store directory; see TEAM.md "Store" for the public API."""

    def __init__(
        self,
        path: str | Path,
        *,
        read_only: bool = False,
        allow_external: bool = False,
        memory_limit: str = "256MB",
        threads: int = 2,
        chunk_rows: int = DEFAULT_CHUNK_ROWS,
    ) -> None:
        self.path = Path(path)
        self.read_only = read_only
        self.chunk_rows = chunk_rows
        self._rows_since_checkpoint = 0
        self._mutex = threading.RLock()
        if self.path.exists() and not self.path.is_dir():
            raise StoreError(f"store path {self.path} is a file; give a directory")
        if not read_only:
            self.path.mkdir(parents=True, exist_ok=True)
        elif not self.path.is_dir():
            raise StoreError(f"no store at {self.path}: the directory does not exist")
        self._lock = StoreLock(self.path, shared=read_only)
        try:
            settings = EngineSettings(threads, memory_limit, allow_external)
            self._con = open_database(self.path, read_only=read_only, settings=settings)
        except BaseException:
            self._lock.release()
            raise
        try:
            if not read_only:
                Catalog.create_tables(self._con)
            Catalog.check_format(self._con, str(self.path))
            self._catalog = Catalog.load(self._con)
        except BaseException:
            self._con.close()
            self._lock.release()
            raise
        self._user_sql = UserSql(self._con)
        self._last_write_id = 0
        self._closed = False

    # --- lifecycle -------------------------------------------------------------------
    @serialized
    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            if not self.read_only:
                self._con.execute("CHECKPOINT")
            self._con.close()
        finally:
            self._lock.release()

    def __enter__(self) -> Store:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # --- buckets -----------------------------------------------------------------------
    @serialized
    def create_bucket(
        self, name: str, *, org: str = "default", description: str = "", retention_ns: int = 0
    ) -> Bucket:
        self._require_writable()
        return self._in_transaction(
            lambda: self._catalog.create_bucket(self._con, name, org, description, retention_ns)
        )

    @serialized
    def get_bucket(self, name: str) -> Bucket:
        return self._catalog.bucket(name)

    @serialized
    def list_buckets(self, org: str | None = None) -> list[Bucket]:
        buckets = sorted(self._catalog.buckets.values(), key=lambda b: b.name)
        return [b for b in buckets if org is None or b.org == org]

    @serialized
    def update_bucket(
        self,
        name: str,
        *,
        new_name: str | None = None,
        description: str | None = None,
        retention_ns: int | None = None,
    ) -> Bucket:
        self._require_writable()
        return self._in_transaction(
            lambda: self._catalog.update_bucket(
                self._con, name, new_name, description, retention_ns
            )
        )

    @serialized
    def delete_bucket(self, name: str) -> None:
        self._require_writable()
        self._in_transaction(lambda: self._catalog.delete_bucket(self._con, name))

    # --- writing ---------------------------------------------------------------------------
    @serialized
    def write(
        self,
        bucket: str,
        batches: Iterable[PointBatch] | PointBatch,
        *,
        on_collision: str = "keep-last",
    ) -> WriteResult:
        """Store batches; every input row is counted as written or rejected.

        Commits every chunk (chunk_rows rows) so a crash loses at most the chunk in
        flight; with on_collision="error" the whole call is one transaction and any
        collision rolls it all back (CollisionError).
        """
        self._require_writable()
        if on_collision not in MODES:
            raise StoreError(f"on_collision must be one of {MODES}, got {on_collision!r}")
        if isinstance(batches, PointBatch):
            batches = [batches]
        target = self._catalog.bucket(bucket)
        result = WriteResult()
        writer = ChunkWriter(
            self._con, self._catalog, on_collision, self._next_write_id(), result.collisions
        )
        whole = on_collision == "error"
        try:
            if whole:
                self._con.execute("BEGIN TRANSACTION")
            for chunk in chunked(batches, self.chunk_rows):
                self._write_chunk(target, chunk, writer, result, commit=not whole)
            if whole:
                self._con.execute("COMMIT")
        except BaseException:
            self._rollback()
            raise
        return result

    def _write_chunk(
        self,
        bucket: Bucket,
        chunk: PointBatch,
        writer: ChunkWriter,
        result: WriteResult,
        *,
        commit: bool,
    ) -> None:
        if not chunk.measurement:
            raise BatchError("a batch has an empty measurement name; every point needs one")
        result.rows_input += chunk.num_rows
        existing = self._catalog.measurements.get(bucket.id, {}).get(chunk.measurement)
        screened = screen(chunk, existing, retention_cutoff(bucket))
        for conflict in screened.conflicts:
            result.add_conflict(conflict)
        result.rows_type_conflict += screened.rejected_conflicts
        result.rows_without_fields += screened.without_fields
        result.rows_beyond_retention += screened.beyond_retention
        result.rows_rejected += (
            screened.rejected_conflicts + screened.without_fields + screened.beyond_retention
        )
        if screened.batch.num_rows == 0:
            return
        if commit:
            self._con.execute("BEGIN TRANSACTION")
        m = self._catalog.ensure_measurement(self._con, bucket, chunk.measurement)
        writer.write(m, screened.batch)
        if commit:
            self._con.execute("COMMIT")
            self._checkpoint_every(screened.batch.num_rows)
        result.points_written += screened.batch.num_rows

    def _checkpoint_every(self, rows: int) -> None:
        """CHECKPOINT after every CHECKPOINT_ROWS committed rows.

        Why: committed appends stay in DuckDB's buffer pool as table blocks that cannot
        be evicted until a checkpoint, and large appends bypass the WAL size that would
        trigger one, so a long write (a 5 GB CSV: 41M rows) filled the memory limit and
        failed with "failed to pin block" after ~30M rows.
        """
        self._rows_since_checkpoint += rows
        if self._rows_since_checkpoint >= CHECKPOINT_ROWS:
            self._con.execute("CHECKPOINT")
            self._rows_since_checkpoint = 0

    def _next_write_id(self) -> int:
        """Unique per write call: tells collisions with this call's own rows apart."""
        self._last_write_id = max(time.time_ns(), self._last_write_id + 1)
        return self._last_write_id

    # --- deleting ----------------------------------------------------------------------------
    @serialized
    def delete(
        self,
        bucket: str,
        *,
        start_ns: int,
        stop_ns: int,
        predicate: str | Predicate | None = None,
    ) -> int:
        """Delete points in [start_ns, stop_ns) whose series match; returns rows removed.

        `predicate` is InfluxDB delete syntax (`_measurement="cpu" AND host="a"`) or a
        Predicate; `_field` is refused as in InfluxDB (all fields of a point go).
        """
        self._require_writable()
        target = self._catalog.bucket(bucket)
        parsed = parse_for_delete(predicate)
        chosen = self._catalog.measurements_of(target)
        return self._in_transaction(
            lambda: delete_points(self._con, chosen, start_ns, stop_ns, parsed)
        )

    @serialized
    def enforce_retention(self, now_ns: int | None = None) -> int:
        """Delete points older than each bucket's retention period; returns rows removed."""
        self._require_writable()
        return self._in_transaction(lambda: expire(self._con, self._catalog, now_ns))

    # --- reading ---------------------------------------------------------------------------
    @serialized
    def scan(
        self,
        bucket: str,
        *,
        start_ns: int | None = None,
        stop_ns: int | None = None,
        measurement: str | None = None,
        fields: Sequence[str] | None = None,
        predicate: Predicate | None = None,
    ) -> list[pa.Table]:
        """Long-format tables (see TEAM.md), one per value type; expired points hidden."""
        return scans.scan(
            self._con, self._request(bucket, start_ns, stop_ns, measurement, fields, predicate)
        )

    @serialized
    def scan_aggregate(
        self,
        bucket: str,
        *,
        group_by: Sequence[str],
        fn: str,
        window_ns: int | None = None,
        start_ns: int | None = None,
        stop_ns: int | None = None,
        measurement: str | None = None,
        fields: Sequence[str] | None = None,
        predicate: Predicate | None = None,
    ) -> list[pa.Table]:
        """Aggregates computed in DuckDB; semantics in scan.scan_aggregate's docstring."""
        request = self._request(bucket, start_ns, stop_ns, measurement, fields, predicate)
        return scans.scan_aggregate(self._con, request, group_by, fn, window_ns)

    def _request(
        self,
        bucket: str,
        start_ns: int | None,
        stop_ns: int | None,
        measurement: str | None,
        fields: Sequence[str] | None,
        predicate: Predicate | None,
    ) -> scans.ScanRequest:
        target = self._catalog.bucket(bucket)
        measurements = [
            m
            for m in self._catalog.measurements_of(target)
            if measurement is None or m.name == measurement
        ]
        return scans.ScanRequest(target, measurements, start_ns, stop_ns, fields, predicate)

    @serialized
    def measurements(
        self, bucket: str, start_ns: int | None = None, stop_ns: int | None = None
    ) -> list[str]:
        """Measurements with at least one point in range (not just in the catalog)."""
        target = self._catalog.bucket(bucket)
        chosen = self._catalog.measurements_of(target)
        return schema.measurements_with_points(self._con, target, chosen, start_ns, stop_ns)

    @serialized
    def field_keys(self, bucket: str, measurement: str | None = None) -> dict[str, FieldType]:
        """Field keys and their types (from the catalog, sorted by key)."""
        return schema.field_keys(self._selected(bucket, measurement))

    @serialized
    def tag_keys(self, bucket: str, measurement: str | None = None) -> list[str]:
        return schema.tag_keys(self._selected(bucket, measurement))

    @serialized
    def tag_values(self, bucket: str, key: str, measurement: str | None = None) -> list[str]:
        """Distinct values of a tag among stored (unexpired) points, sorted."""
        target = self._catalog.bucket(bucket)
        return schema.tag_values(self._con, target, self._selected(bucket, measurement), key)

    def _selected(self, bucket: str, measurement: str | None) -> list[Measurement]:
        target = self._catalog.bucket(bucket)
        return [
            m
            for m in self._catalog.measurements_of(target)
            if measurement is None or m.name == measurement
        ]

    @serialized
    def sql(self, query: str) -> pa.Table:
        """Read-only user SQL; tables are "bucket"."measurement" (see usersql.py)."""
        return self._user_sql.run(self._catalog, query)

    @serialized
    def check(self) -> CheckReport:
        return check_store(self._con, self._catalog)

    @serialized
    def compact(
        self, bucket: str | None = None, measurement: str | None = None, *, force: bool = False
    ) -> CompactReport:
        """Cluster points by series key and time so scans of a few series skip the rest
        (see compact.py); atomic per measurement, skips measurements unchanged since."""
        self._require_writable()
        return compact_store(
            self._con, self._catalog, self._in_transaction,
            bucket=bucket, measurement=measurement, force=force,
        )

    # --- helpers -----------------------------------------------------------------------------
    def _require_writable(self) -> None:
        if self._closed:
            raise StoreError(f"store {self.path} is closed")
        if self.read_only:
            raise ReadOnlyError(f"store {self.path} was opened read-only; reopen it to write")

    def _in_transaction(self, action: Callable[[], T]) -> T:
        self._con.execute("BEGIN TRANSACTION")
        try:
            value = action()
            self._con.execute("COMMIT")
        except BaseException:
            self._rollback()
            raise
        return value

    def _rollback(self) -> None:
        """Undo the open transaction and reload the catalog cache it may have changed."""
        with contextlib.suppress(duckdb.Error):  # no transaction was open
            self._con.execute("ROLLBACK")
        self._catalog = Catalog.load(self._con)

