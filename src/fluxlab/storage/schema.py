"""Schema exploration: measurements, field keys, tag keys and tag values.

Keys come from the catalog (cheap); measurements and tag values look at the stored,
unexpired points so deleted or expired data does not show up.
"""

from __future__ import annotations

import duckdb

from fluxlab.model.points import FieldType
from fluxlab.storage.catalog import SERIES_ID, Bucket, Measurement
from fluxlab.storage.predicate import sql_ident
from fluxlab.storage.sqltime import time_conditions


def measurements_with_points(
    con: duckdb.DuckDBPyConnection,
    bucket: Bucket,
    measurements: list[Measurement],
    start_ns: int | None,
    stop_ns: int | None,
) -> list[str]:
    where = " AND ".join(time_conditions(bucket, start_ns, stop_ns)) or "TRUE"
    names = []
    for m in measurements:
        sql = f"SELECT EXISTS (SELECT 1 FROM {sql_ident(m.table)} WHERE {where})"
        if con.execute(sql).fetchall()[0][0]:
            names.append(m.name)
    return names


def field_keys(measurements: list[Measurement]) -> dict[str, FieldType]:
    """Field keys and types sorted by key (first measurement wins if types differ)."""
    keys: dict[str, FieldType] = {}
    for m in measurements:
        for key, col in m.fields.items():
            assert col.field_type is not None
            keys.setdefault(key, col.field_type)
    return dict(sorted(keys.items()))


def tag_keys(measurements: list[Measurement]) -> list[str]:
    return sorted({key for m in measurements for key in m.tags})


def tag_values(
    con: duckdb.DuckDBPyConnection, bucket: Bucket, measurements: list[Measurement], key: str
) -> list[str]:
    """Distinct values of a tag among stored, unexpired points, sorted."""
    where = " AND ".join(time_conditions(bucket, None, None)) or "TRUE"
    parts = []
    for m in measurements:
        col = m.tags.get(key)
        if col is None:
            continue
        # values come from the small series table; the semi-join keeps only series that
        # still have (unexpired) points, as deletes leave their series rows behind
        parts.append(
            f"SELECT DISTINCT {col.name} AS v FROM {sql_ident(m.series)} "
            f"WHERE {col.name} IS NOT NULL AND {SERIES_ID} IN "
            f"(SELECT {SERIES_ID} FROM {sql_ident(m.table)} WHERE {where})"
        )
    if not parts:
        return []
    rows = con.execute(f"SELECT DISTINCT v FROM ({' UNION ALL '.join(parts)}) ORDER BY v")
    return [r[0] for r in rows.fetchall()]
