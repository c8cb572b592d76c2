"""Field type conflicts caught before the store, so every rejected row keeps its line.

InfluxDB rejects a point whose field already exists with another type (in the bucket,
or earlier in the same write). The store enforces that too, but only reports counts
and an example; checking here, per batch and vectorized, lets the rejects file list
every such row with its line, field and value.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from fluxlab.ingest.csvblocks import LINE_COLUMN
from fluxlab.ingest.rejects import REJECT_SCHEMA, empty_rejects
from fluxlab.model.points import FieldType, PointBatch


class TypeGuard:
    """Remembers each measurement's field types: the store's, then the first seen here.

    The bucket's schema is read once, up front: during the write the store is busy
    (and locked) consuming our batches, so it must not be queried from the reader.
    """

    def __init__(self, store: Any | None, bucket: str | None) -> None:
        self._known: dict[str, dict[str, FieldType]] = {}
        if store is not None and bucket is not None:
            try:
                for measurement in store.measurements(bucket):
                    self._known[measurement] = dict(store.field_keys(bucket, measurement))
            except Exception:  # unknown bucket: the write itself reports it
                self._known = {}

    def _types(self, measurement: str) -> dict[str, FieldType]:
        return self._known.setdefault(measurement, {})

    def check(self, batch: PointBatch, source: str) -> tuple[PointBatch | None, pa.Table]:
        """Split a batch into rows that keep their types and rejects for the others."""
        known = self._types(batch.measurement)
        types = batch.field_types()
        clashing = [f for f, t in types.items() if f in known and known[f] != t]
        for name, ftype in types.items():
            if name not in clashing and batch.table.column(name).null_count < batch.num_rows:
                known.setdefault(name, ftype)
        if not clashing:
            return batch, empty_rejects()
        table = batch.table
        first_bad = pa.nulls(table.num_rows, pa.string())
        value = pa.nulls(table.num_rows, pa.string())
        reason = pa.nulls(table.num_rows, pa.string())
        for name in reversed(clashing):  # the first clashing field wins the report
            present = pc.is_valid(table.column(name))
            message = (
                f'field type conflict: field "{name}" on measurement "{batch.measurement}" '
                f"is {types[name]} here but already {known[name]}; rename the field or "
                f"declare it as {known[name]}"
            )
            first_bad = pc.if_else(present, pa.scalar(name), first_bad)
            value = pc.if_else(present, pc.cast(table.column(name), pa.string()), value)
            reason = pc.if_else(present, pa.scalar(message), reason)
        bad = pc.is_valid(first_bad)
        rows = table.filter(bad)
        rejects = pa.table(
            {
                "source": pa.array([source] * rows.num_rows, pa.string()),
                "line": rows.column(LINE_COLUMN) if LINE_COLUMN in rows.column_names
                else pa.nulls(rows.num_rows, pa.int64()),
                "column": first_bad.filter(bad),
                "value": value.filter(bad),
                "reason": reason.filter(bad),
                "raw": pa.nulls(rows.num_rows, pa.string()),
            },
            schema=REJECT_SCHEMA,
        )
        kept = table.filter(pc.invert(bad)).drop_columns(clashing)
        fields = tuple(f for f in batch.fields if f not in clashing)
        if kept.num_rows == 0 or not fields:
            return None, rejects
        return PointBatch(batch.measurement, kept, batch.tags, fields), rejects
