"""SQL fragments for time conditions shared by scans, deletes and schema queries."""

from __future__ import annotations

import time

from fluxlab.storage.catalog import Bucket


def ts(ns: int) -> str:
    """A TIMESTAMP_NS literal from integer nanoseconds."""
    return f"make_timestamp_ns({int(ns)})"


def retention_cutoff(bucket: Bucket, now_ns: int | None = None) -> int | None:
    """Oldest time still inside the bucket's retention period (None: keep forever)."""
    if bucket.retention_ns <= 0:
        return None
    return (time.time_ns() if now_ns is None else now_ns) - bucket.retention_ns


def time_conditions(
    bucket: Bucket, start_ns: int | None, stop_ns: int | None, column: str = "time"
) -> list[str]:
    """[start, stop) plus the retention cut-off, so expired points are never read."""
    conditions = []
    cutoff = retention_cutoff(bucket)
    lower = max(v for v in (start_ns, cutoff) if v is not None) if (
        start_ns is not None or cutoff is not None
    ) else None
    if lower is not None:
        conditions.append(f"{column} >= {ts(lower)}")
    if stop_ns is not None:
        conditions.append(f"{column} < {ts(stop_ns)}")
    return conditions
