"""InfluxDB 2 / Cloud behind the Backend interface, through the official influxdb-client.

Why this exists: when data outgrows one machine, users set `INFLUX_URL`/`INFLUX_TOKEN`/
`INFLUX_ORG` and every command goes to a real server instead of a home-made cluster.
Writes are columnar batches encoded to line protocol in bulk (never a `Point` per row)
and sent in bounded chunks with one synchronous request each, so a failure names the
chunk and nothing is buffered out of sight.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from influxdb_client import BucketRetentionRules, InfluxDBClient, WritePrecision
from influxdb_client.client.write_api import SYNCHRONOUS
from influxdb_client.rest import ApiException
from urllib3.exceptions import HTTPError

from fluxlab.backends.base import (
    Backend,
    BackendError,
    BucketInfo,
    NotSupported,
    OnCollision,
    WriteSummary,
    run_ingest,
)
from fluxlab.model.lineprotocol import encode_batch
from fluxlab.model.points import FieldType, PointBatch

LINES_PER_REQUEST = 5_000
"""InfluxDB's own guidance: batches of about 5,000 lines per write request."""

_FLUX_TYPES: dict[str, FieldType] = {
    "double": FieldType.FLOAT,
    "long": FieldType.INTEGER,
    "unsignedLong": FieldType.UNSIGNED,
    "string": FieldType.STRING,
    "boolean": FieldType.BOOLEAN,
}


class InfluxDB2Backend(Backend):
    """Talks to one InfluxDB 2 server and organisation."""

    kind = "influxdb2"

    def __init__(self, url: str, *, token: str | None, org: str, timeout_ms: int = 30_000) -> None:
        self.url = url
        self.org = org
        self._client = InfluxDBClient(url=url, token=token or "", org=org, timeout=timeout_ms)
        self._writer = self._client.write_api(write_options=SYNCHRONOUS)

    @property
    def location(self) -> str:
        return f"{self.url} (org {self.org})"

    # -- buckets -------------------------------------------------------------------
    def create_bucket(
        self, name: str, *, org: str | None = None, description: str = "", retention_ns: int = 0
    ) -> BucketInfo:
        with self._errors(f"create bucket {name!r}"):
            created = self._client.buckets_api().create_bucket(
                bucket_name=name,
                org=org or self.org,
                description=description or None,
                retention_rules=_retention_rules(retention_ns),
            )
        return self._info(created, org or self.org)

    def list_buckets(self, org: str | None = None) -> list[BucketInfo]:
        with self._errors("list buckets"):
            found = self._client.buckets_api().find_buckets(org=org or self.org, limit=100)
        return [self._info(b, org or self.org) for b in (found.buckets or [])]

    def get_bucket(self, name: str) -> BucketInfo:
        return self._info(self._find(name), self.org)

    def update_bucket(
        self,
        name: str,
        *,
        new_name: str | None = None,
        description: str | None = None,
        retention_ns: int | None = None,
    ) -> BucketInfo:
        bucket = self._find(name)
        if new_name is not None:
            bucket.name = new_name
        if description is not None:
            bucket.description = description
        if retention_ns is not None:
            bucket.retention_rules = _retention_rules(retention_ns)
        with self._errors(f"update bucket {name!r}"):
            updated = self._client.buckets_api().update_bucket(bucket)
        return self._info(updated, self.org)

    def delete_bucket(self, name: str) -> None:
        bucket = self._find(name)
        with self._errors(f"delete bucket {name!r}"):
            self._client.buckets_api().delete_bucket(bucket.id)

    # -- data ----------------------------------------------------------------------
    def write(
        self,
        bucket: str,
        batches: Iterable[PointBatch],
        *,
        on_collision: OnCollision = "keep-last",
    ) -> WriteSummary:
        if on_collision != "keep-last":
            raise NotSupported(
                f"InfluxDB 2 always keeps the last write for a series+field+time; "
                f"--on-collision {on_collision} needs the embedded store"
            )
        written = 0
        for lines, count in _line_chunks(batches):
            with self._errors(f"write to bucket {bucket!r}"):
                self._writer.write(
                    bucket=bucket, org=self.org, record=lines, write_precision=WritePrecision.NS
                )
            written += count
        return WriteSummary(points_written=written)

    def ingest(self, bucket: str, source: Any, **options: Any) -> Any:
        return run_ingest(_RemoteWriteTarget(self), bucket, source, **options)

    def delete(
        self, bucket: str, *, start_ns: int, stop_ns: int, predicate: str | None = None
    ) -> None:
        with self._errors(f"delete from bucket {bucket!r}"):
            self._client.delete_api().delete(
                start=rfc3339_ns(start_ns),
                stop=rfc3339_ns(stop_ns),
                predicate=predicate or "",
                bucket=bucket,
                org=self.org,
            )

    # -- queries -------------------------------------------------------------------
    def sql(self, query: str) -> pa.Table:
        raise NotSupported(
            "InfluxDB 2 has no SQL endpoint; use a Flux query, or --store for the embedded store"
        )

    def flux(self, query: str) -> list[pa.Table]:
        with self._errors("run the Flux query"):
            tables = self._client.query_api().query(query, org=self.org)
        return [_flux_table_to_arrow(t) for t in tables]

    def flux_csv(self, query: str) -> str:
        with self._errors("run the Flux query"):
            response = self._client.query_api().query_raw(query, org=self.org)
            try:
                return response.data.decode("utf-8")
            finally:
                response.release_conn()

    # -- schema (InfluxDB's own schema package does the work server-side) -----------
    def measurements(self, bucket: str) -> list[str]:
        return self._values(f'schema.measurements(bucket: {_flux_string(bucket)})')

    def field_keys(self, bucket: str, measurement: str | None = None) -> dict[str, FieldType]:
        where = f" |> filter(fn: (r) => r._measurement == {_flux_string(measurement)})" if (
            measurement
        ) else ""
        query = (
            f"from(bucket: {_flux_string(bucket)}) |> range(start: 0){where}"
            ' |> keep(columns: ["_field", "_value"]) |> group(columns: ["_field"])'
            " |> first() |> group()"
        )
        with self._errors("read field keys"):
            tables = self._client.query_api().query(query, org=self.org)
        types: dict[str, FieldType] = {}
        for table in tables:
            value_type = next((c.data_type for c in table.columns if c.label == "_value"), "")
            for record in table.records:
                types[str(record["_field"])] = _FLUX_TYPES.get(value_type, FieldType.STRING)
        return types

    def tag_keys(self, bucket: str, measurement: str | None = None) -> list[str]:
        pred = _measurement_predicate(measurement)
        keys = self._values(f"schema.tagKeys(bucket: {_flux_string(bucket)}{pred})")
        return [k for k in keys if not k.startswith("_")]

    def tag_values(self, bucket: str, key: str, measurement: str | None = None) -> list[str]:
        pred = _measurement_predicate(measurement)
        return self._values(
            f"schema.tagValues(bucket: {_flux_string(bucket)}, tag: {_flux_string(key)}{pred})"
        )

    def close(self) -> None:
        self._writer.close()
        self._client.close()

    # -- helpers -------------------------------------------------------------------
    def _values(self, call: str) -> list[str]:
        query = f'import "influxdata/influxdb/schema"\n{call}'
        with self._errors("read the schema"):
            tables = self._client.query_api().query(query, org=self.org)
        return [str(r.get_value()) for t in tables for r in t.records]

    def _find(self, name: str) -> Any:
        with self._errors(f"find bucket {name!r}"):
            bucket = self._client.buckets_api().find_bucket_by_name(name)
        if bucket is None:
            raise BackendError(
                f"bucket {name!r} not found on {self.url}; list them with `fluxlab bucket list`"
            )
        return bucket

    def _info(self, bucket: Any, org: str) -> BucketInfo:
        rules = bucket.retention_rules or []
        seconds = next((r.every_seconds for r in rules if r.every_seconds), 0)
        return BucketInfo(
            name=bucket.name,
            org=org,
            description=bucket.description or "",
            retention_ns=int(seconds) * 1_000_000_000,
            id=bucket.id,
        )

    def _errors(self, action: str) -> _ServerErrors:
        return _ServerErrors(action, self.url)


class _ServerErrors:
    """Turns client/HTTP exceptions into one-line BackendErrors naming the action."""

    def __init__(self, action: str, url: str) -> None:
        self.action, self.url = action, url

    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type: type | None, exc: BaseException | None, tb: object) -> bool:
        if exc is None or isinstance(exc, BackendError):
            return False
        if isinstance(exc, ApiException):
            detail = _api_message(exc)
            raise BackendError(
                f"InfluxDB at {self.url} refused to {self.action}: HTTP {exc.status} {detail}"
            ) from exc
        if isinstance(exc, HTTPError | OSError):
            raise BackendError(
                f"cannot reach InfluxDB at {self.url} to {self.action}: {exc}; "
                "check INFLUX_URL / the profile's url"
            ) from exc
        return False


class _RemoteWriteTarget:
    """What the ingest pipeline writes to when the destination is InfluxDB 2.

    The ingest layer writes through a small store-shaped object; this one forwards
    batches to the server so files are read, mapped and accounted exactly as for the
    embedded store.
    """

    def __init__(self, backend: InfluxDB2Backend) -> None:
        self.backend = backend

    def write(self, bucket: str, batches: Iterable[PointBatch], **kwargs: Any) -> Any:
        summary = self.backend.write(bucket, batches, **kwargs)
        return RemoteWriteResult(points_written=summary.points_written)

    def field_keys(self, bucket: str, measurement: str | None = None) -> dict[str, FieldType]:
        """Existing field types, so type conflicts are rejected with a reason before sending."""
        return self.backend.field_keys(bucket, measurement)


@dataclass
class _RemoteCollisions:
    """InfluxDB 2 does not report overwrites; the account shows zero, not a guess."""

    within_input: int = 0
    with_existing: int = 0
    examples: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class RemoteWriteResult:
    """A store WriteResult look-alike for writes that went to InfluxDB 2."""

    points_written: int
    rows_rejected: int = 0
    conflicts: list[Any] = field(default_factory=list)
    collisions: _RemoteCollisions = field(default_factory=_RemoteCollisions)


def _line_chunks(batches: Iterable[PointBatch]) -> Iterator[tuple[str, int]]:
    """Line protocol text in chunks of at most LINES_PER_REQUEST points (rows whose
    fields are all null have no line and are not counted)."""
    for batch in batches:
        for start in range(0, batch.num_rows, LINES_PER_REQUEST):
            part = batch.table.slice(start, LINES_PER_REQUEST)
            lines = encode_batch(PointBatch(batch.measurement, part, batch.tags, batch.fields))
            if len(lines) == 0:
                continue
            as_list = pa.ListArray.from_arrays(pa.array([0, len(lines)], pa.int32()), lines)
            yield pc.binary_join(as_list, "\n")[0].as_py(), len(lines)


def rfc3339_ns(ns: int) -> str:
    """Nanoseconds since the epoch as RFC 3339 with all nine fraction digits (what /delete takes)."""
    seconds, frac = divmod(ns, 1_000_000_000)
    stamp = dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(seconds=seconds)
    return stamp.strftime("%Y-%m-%dT%H:%M:%S") + f".{frac:09d}Z"


def _retention_rules(retention_ns: int) -> list[BucketRetentionRules]:
    if retention_ns <= 0:
        return []
    return [BucketRetentionRules(type="expire", every_seconds=retention_ns // 1_000_000_000)]


def _flux_string(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("${", "\\${")
    return f'"{escaped}"'


def _measurement_predicate(measurement: str | None) -> str:
    if not measurement:
        return ""
    return f", predicate: (r) => r._measurement == {_flux_string(measurement)}"


def _api_message(exc: ApiException) -> str:
    import json

    body = exc.body.decode() if isinstance(exc.body, bytes) else (exc.body or "")
    try:
        return str(json.loads(body).get("message", body))
    except (ValueError, AttributeError):
        return str(body or exc.reason)


def _flux_table_to_arrow(table: Any) -> pa.Table:
    """A client FluxTable as Arrow (query results are small; the server did the work)."""
    labels = [c.label for c in table.columns]
    columns = {label: [r.values.get(label) for r in table.records] for label in labels}
    return pa.table(columns)
