"""The embedded backend: the DuckDB store (and, later, the Flux engine) in this process.

It is a thin adapter: the store already speaks the model's types, so this class maps
names, turns the store's buckets into `BucketInfo`, and routes ingest through the
same pipeline the InfluxDB 2 backend uses.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pyarrow as pa

from fluxlab.backends.base import (
    Backend,
    BucketInfo,
    OnCollision,
    WriteSummary,
    run_ingest,
)
from fluxlab.model.points import FieldType, PointBatch
from fluxlab.storage import Store


class EmbeddedBackend(Backend):
    """A `fluxlab.storage.Store` directory behind the Backend interface."""

    kind = "embedded"

    def __init__(self, path: Path | str, *, org: str = "default", read_only: bool = False) -> None:
        self.path = Path(path)
        self.org = org
        self.store = Store(self.path, read_only=read_only)
        self.limits: Any = None  # fluxlab.flux.limits.QueryLimits; None = the defaults

    @property
    def location(self) -> str:
        return str(self.path)

    # -- buckets -------------------------------------------------------------------
    def create_bucket(
        self, name: str, *, org: str | None = None, description: str = "", retention_ns: int = 0
    ) -> BucketInfo:
        bucket = self.store.create_bucket(
            name, org=org or self.org, description=description, retention_ns=retention_ns
        )
        return bucket_info(bucket)

    def list_buckets(self, org: str | None = None) -> list[BucketInfo]:
        return [bucket_info(b) for b in self.store.list_buckets(org=org)]

    def get_bucket(self, name: str) -> BucketInfo:
        return bucket_info(self.store.get_bucket(name))

    def update_bucket(
        self,
        name: str,
        *,
        new_name: str | None = None,
        description: str | None = None,
        retention_ns: int | None = None,
    ) -> BucketInfo:
        bucket = self.store.update_bucket(
            name, new_name=new_name, description=description, retention_ns=retention_ns
        )
        return bucket_info(bucket)

    def delete_bucket(self, name: str) -> None:
        self.store.delete_bucket(name)

    # -- data ----------------------------------------------------------------------
    def write(
        self,
        bucket: str,
        batches: Iterable[PointBatch],
        *,
        on_collision: OnCollision = "keep-last",
    ) -> WriteSummary:
        result = self.store.write(bucket, batches, on_collision=on_collision)
        return WriteSummary(
            points_written=result.points_written,
            rows_rejected=result.rows_rejected,
            detail=result,
        )

    def ingest(self, bucket: str, source: Any, **options: Any) -> Any:
        return run_ingest(self.store, bucket, source, **options)

    def delete(
        self, bucket: str, *, start_ns: int, stop_ns: int, predicate: str | None = None
    ) -> None:
        self.store.delete(bucket, start_ns=start_ns, stop_ns=stop_ns, predicate=predicate)

    # -- queries -------------------------------------------------------------------
    def sql(self, query: str) -> pa.Table:
        return self.store.sql(query)

    def flux(self, query: str) -> list[pa.Table]:
        """Run Flux with the embedded engine; each table leads with `result` and `table`
        columns, as in InfluxDB's annotated CSV, so results of several yields stay apart."""
        tables = []
        for result, stream in self._run_flux(query).items():
            for index, table in enumerate(stream):
                arrow = table.df.to_arrow()
                rows = arrow.num_rows
                arrow = arrow.add_column(0, "table", pa.repeat(pa.scalar(index, pa.int64()), rows))
                arrow = arrow.add_column(0, "result", pa.repeat(pa.scalar(result), rows))
                tables.append(arrow)
        return tables

    def flux_csv(self, query: str) -> str:
        """InfluxDB 2-compatible annotated CSV, encoded by the Flux engine itself."""
        from fluxlab.flux.results import encode

        return encode(self._run_flux(query))

    def _run_flux(self, query: str) -> dict[str, Any]:
        """Run Flux under the per-query time, memory and row limits (a runaway query
        stops with a clear error instead of exhausting the machine)."""
        from fluxlab.flux.limits import QueryLimits, run_limited

        return run_limited(query, store=self.store, limits=self.limits or QueryLimits())

    # -- schema --------------------------------------------------------------------
    def measurements(self, bucket: str) -> list[str]:
        return self.store.measurements(bucket)

    def field_keys(self, bucket: str, measurement: str | None = None) -> dict[str, FieldType]:
        return self.store.field_keys(bucket, measurement)

    def tag_keys(self, bucket: str, measurement: str | None = None) -> list[str]:
        return self.store.tag_keys(bucket, measurement)

    def tag_values(self, bucket: str, key: str, measurement: str | None = None) -> list[str]:
        return self.store.tag_values(bucket, key, measurement)

    def close(self) -> None:
        self.store.close()


def bucket_info(bucket: Any) -> BucketInfo:
    """The store's Bucket as the backend-neutral BucketInfo."""
    return BucketInfo(
        name=bucket.name,
        org=getattr(bucket, "org", "default"),
        description=getattr(bucket, "description", "") or "",
        retention_ns=int(getattr(bucket, "retention_ns", 0) or 0),
        id=str(bucket.id) if getattr(bucket, "id", None) is not None else None,
    )
