"""Deleting points: by time range and series predicate, and by retention period.

A delete removes whole rows (every field of the matching points), as InfluxDB does.
Series rows stay (like InfluxDB's series index until compaction): readers only see
series through their points.
The caller runs these inside one transaction, so a delete is all or nothing.
"""

from __future__ import annotations

from collections.abc import Callable

import duckdb

from fluxlab.storage.catalog import SERIES_ID, Catalog, Measurement
from fluxlab.storage.errors import PredicateError
from fluxlab.storage.predicate import (
    Predicate,
    keys_of,
    parse_delete_predicate,
    sql_ident,
    sql_string,
    to_sql,
)
from fluxlab.storage.sqltime import retention_cutoff, ts


def parse_for_delete(predicate: str | Predicate | None) -> Predicate | None:
    """InfluxDB delete text or a Predicate; `_field` is refused as InfluxDB does."""
    parsed = parse_delete_predicate(predicate) if isinstance(predicate, str) else predicate
    if "_field" in keys_of(parsed):
        raise PredicateError(
            "InfluxDB does not support deleting by _field; delete by measurement and tags"
        )
    return parsed


def delete_points(
    con: duckdb.DuckDBPyConnection,
    measurements: list[Measurement],
    start_ns: int,
    stop_ns: int,
    predicate: Predicate | None,
) -> int:
    """Delete rows in [start_ns, stop_ns) whose series match; returns rows removed."""
    removed = 0
    for m in measurements:
        where = [f"time >= {ts(start_ns)}", f"time < {ts(stop_ns)}"]
        if predicate is not None:
            # the predicate is evaluated on the series table only; points go by series id
            chosen = to_sql(predicate, _series(m))
            where.append(
                f"{SERIES_ID} IN (SELECT {SERIES_ID} FROM {sql_ident(m.series)} WHERE {chosen})"
            )
        sql = f"DELETE FROM {sql_ident(m.table)} WHERE {' AND '.join(where)}"
        removed += int(con.execute(sql).fetchall()[0][0])
    return removed


def expire(con: duckdb.DuckDBPyConnection, catalog: Catalog, now_ns: int | None) -> int:
    """Delete rows older than each bucket's retention period; returns rows removed."""
    removed = 0
    for bucket in catalog.buckets.values():
        cutoff = retention_cutoff(bucket, now_ns)
        if cutoff is None:
            continue
        for m in catalog.measurements_of(bucket):
            sql = f"DELETE FROM {sql_ident(m.table)} WHERE time < {ts(cutoff)}"
            removed += int(con.execute(sql).fetchall()[0][0])
    return removed


def _series(m: Measurement) -> Callable[[str], str | None]:
    """Resolve predicate keys of one measurement: its name and its tag columns."""

    def resolve(key: str) -> str | None:
        if key == "_measurement":
            return sql_string(m.name)
        col = m.tags.get(key)
        return col.name if col else None

    return resolve
