"""The one interface the CLI, the HTTP server and the Python API talk to.

Like ibis: a single abstract `Backend` with plug-in implementations, so a command
written once works on the embedded DuckDB store and on InfluxDB 2 / Cloud. Methods
take and return the shared model types (PointBatch, Arrow tables, nanosecond ints),
never a backend's own objects, so callers cannot grow a dependency on one of them.
"""

from __future__ import annotations

import abc
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, ClassVar, Literal, Self

import pyarrow as pa

from fluxlab.model.lineprotocol import LineError, decode
from fluxlab.model.points import FieldType, PointBatch

OnCollision = Literal["keep-last", "keep-first", "error"]


class BackendError(Exception):
    """A failure the user can act on; the message says what happened and what to do."""


class NotSupported(BackendError):
    """The operation exists in the interface but this backend cannot do it (yet)."""


@dataclass(frozen=True)
class BucketInfo:
    """A bucket as every backend describes it (retention 0 = keep forever)."""

    name: str
    org: str
    description: str = ""
    retention_ns: int = 0
    id: str | None = None


@dataclass(frozen=True)
class WriteSummary:
    """What a write did; `detail` keeps the backend's full result (e.g. storage.WriteResult).

    `line_errors` holds the line protocol lines that were rejected before writing
    (model.lineprotocol.LineError: source, line, column, text, message).
    """

    points_written: int
    rows_rejected: int = 0
    detail: Any = None
    line_errors: tuple[LineError, ...] = ()


class Backend(abc.ABC):
    """Buckets, writes, deletes, queries and schema exploration on one data store."""

    kind: ClassVar[str]
    """Short name shown to users: "embedded" or "influxdb2"."""

    @property
    @abc.abstractmethod
    def location(self) -> str:
        """Where the data lives (a directory or a URL), for messages."""

    # -- buckets -------------------------------------------------------------------
    @abc.abstractmethod
    def create_bucket(
        self, name: str, *, org: str | None = None, description: str = "", retention_ns: int = 0
    ) -> BucketInfo: ...

    @abc.abstractmethod
    def list_buckets(self, org: str | None = None) -> list[BucketInfo]: ...

    @abc.abstractmethod
    def get_bucket(self, name: str) -> BucketInfo: ...

    @abc.abstractmethod
    def update_bucket(
        self,
        name: str,
        *,
        new_name: str | None = None,
        description: str | None = None,
        retention_ns: int | None = None,
    ) -> BucketInfo: ...

    @abc.abstractmethod
    def delete_bucket(self, name: str) -> None: ...

    def ensure_bucket(self, name: str, *, org: str | None = None) -> BucketInfo:
        """The bucket, created with defaults when missing (what `demo` and scripts want)."""
        for bucket in self.list_buckets(org):
            if bucket.name == name:
                return bucket
        return self.create_bucket(name, org=org)

    # -- data ----------------------------------------------------------------------
    @abc.abstractmethod
    def write(
        self,
        bucket: str,
        batches: Iterable[PointBatch],
        *,
        on_collision: OnCollision = "keep-last",
    ) -> WriteSummary:
        """Write columnar batches; the unit every reader and the server produce."""

    def write_line_protocol(
        self,
        bucket: str,
        data: bytes | str,
        *,
        precision: str = "ns",
        source: str = "<input>",
    ) -> WriteSummary:
        """Decode line protocol and write the valid lines; bad lines come back as errors.

        This is what an HTTP write endpoint or a notebook needs: InfluxDB's own
        behaviour (a partial write plus the reasons), with line and column numbers.
        """
        decoded = decode(data, precision=precision, source=source)
        if decoded.batches:
            summary = self.write(bucket, decoded.batches)
        else:
            summary = WriteSummary(points_written=0)
        return replace(
            summary,
            rows_rejected=summary.rows_rejected + len(decoded.errors),
            line_errors=tuple(decoded.errors),
        )

    @abc.abstractmethod
    def ingest(self, bucket: str, source: Any, **options: Any) -> Any:
        """Run the ingest pipeline (read, map, clean, account) from a file or text stream.

        `source` is a path or a text stream; options are those of `fluxlab.ingest`
        (format, mapping, precision, max_errors, rejects_path, dry_run, sort,
        on_collision, progress). Returns the ingest account.
        """

    @abc.abstractmethod
    def delete(
        self, bucket: str, *, start_ns: int, stop_ns: int, predicate: str | None = None
    ) -> None:
        """Delete points in [start, stop) matching an InfluxDB delete predicate."""

    # -- queries -------------------------------------------------------------------
    def sql(self, query: str) -> pa.Table:
        """Run SQL over buckets (tables are "bucket"."measurement")."""
        raise NotSupported(f"SQL queries are not available on the {self.kind} backend; use Flux")

    def flux(self, query: str) -> list[pa.Table]:
        """Run a Flux query; one Arrow table per result table."""
        raise NotSupported(f"Flux queries are not available on the {self.kind} backend yet")

    def flux_csv(self, query: str) -> str:
        """Run a Flux query and return InfluxDB 2's annotated CSV."""
        raise NotSupported(f"Flux queries are not available on the {self.kind} backend yet")

    # -- schema --------------------------------------------------------------------
    @abc.abstractmethod
    def measurements(self, bucket: str) -> list[str]: ...

    @abc.abstractmethod
    def field_keys(self, bucket: str, measurement: str | None = None) -> dict[str, FieldType]: ...

    @abc.abstractmethod
    def tag_keys(self, bucket: str, measurement: str | None = None) -> list[str]: ...

    @abc.abstractmethod
    def tag_values(self, bucket: str, key: str, measurement: str | None = None) -> list[str]: ...

    # -- lifetime ------------------------------------------------------------------
    @abc.abstractmethod
    def close(self) -> None: ...

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def run_ingest(target: Any, bucket: str, source: Any, **options: Any) -> Any:
    """Run `fluxlab.ingest` from a path or a text stream into a store-shaped target."""
    from fluxlab import ingest

    if isinstance(source, str | Path):
        return ingest.ingest_file(target, bucket, Path(source), **options)
    return ingest.ingest_stream(target, bucket, source, **options)
