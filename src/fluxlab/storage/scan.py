"""Scans in InfluxDB's long ("Flux") format, generated as SQL over the stored points.

Each stored field column is unpivoted by one SELECT branch (`'f' AS _field, f AS
_value ... WHERE f IS NOT NULL`) over the points joined to their series (tag columns
come from the small series table, see catalog.py); branches of the same value type are
combined with UNION ALL so DuckDB applies the time range, tag predicates and projection inside each
branch (only requested field columns are read). `_measurement` and `_field` are SQL
literals inside a branch, so predicates on them fold to constants.

Result columns get positional aliases in SQL and their real names in Arrow, because
tag keys may clash in DuckDB's case-insensitive namespace.

Sorting: the long format is ordered by measurement, tags, field, time. Instead of sorting
millions of rows by strings, each branch carries integer sort keys: the measurement's
and field's rank (literals: branch lists are built in name order) and the series' rank
by its tag values, computed over the small series table with the same ORDER BY, so the
order is identical to sorting by the strings.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import duckdb
import pyarrow as pa

from fluxlab.model.points import FieldType
from fluxlab.storage.catalog import SERIES_ID, Bucket, Column, Measurement
from fluxlab.storage.errors import StoreError
from fluxlab.storage.predicate import Predicate, sql_ident, sql_string, to_sql
from fluxlab.storage.sqltime import time_conditions

TYPE_ORDER = list(FieldType)
UTC_NS = pa.timestamp("ns", tz="UTC")
AGGREGATES = ("count", "sum", "mean", "min", "max", "first", "last")


@dataclass(frozen=True)
class ScanRequest:
    """What to read: a bucket's measurements, a time range, fields and a predicate."""

    bucket: Bucket
    measurements: Sequence[Measurement]
    start_ns: int | None = None
    stop_ns: int | None = None
    fields: Sequence[str] | None = None
    predicate: Predicate | None = None


@dataclass(frozen=True)
class Branch:
    measurement: Measurement
    field: Column


def branches_by_type(request: ScanRequest) -> dict[FieldType, list[Branch]]:
    """The (measurement, field) pairs to read, grouped by field type."""
    wanted = None if request.fields is None else set(request.fields)
    groups: dict[FieldType, list[Branch]] = {}
    for m in request.measurements:
        for key in sorted(m.fields):
            col = m.fields[key]
            if wanted is not None and key not in wanted:
                continue
            assert col.field_type is not None
            groups.setdefault(col.field_type, []).append(Branch(m, col))
    return {t: groups[t] for t in TYPE_ORDER if t in groups}


def tag_keys_of(branches: list[Branch]) -> list[str]:
    return sorted({key for b in branches for key in b.measurement.tags})


def branch_sql(
    request: ScanRequest,
    branch: Branch,
    tag_keys: list[str],
    ranks: tuple[int, int] | None = None,
) -> str:
    """One SELECT producing _measurement, _field, _time, _value, tags... (aliases c0..).

    With `ranks` (measurement rank, field rank) three integer sort keys k0, k1 (series
    rank) and k2 follow the tag columns.
    """
    m, col = branch.measurement, branch.field
    resolve = key_resolver(m, col)

    select = [
        f"{sql_string(m.name)} AS c0",
        f"{sql_string(col.key)} AS c1",
        "time AS c2",
        f"{col.name} AS c3",
    ]
    for i, key in enumerate(tag_keys, start=4):
        tag = m.tags.get(key)
        select.append(f"{tag.name if tag else 'NULL::VARCHAR'} AS c{i}")
    source = m.from_sql()
    if ranks is not None:
        select += [f"{ranks[0]} AS k0", "_o AS k1", f"{ranks[1]} AS k2"]
        source = _ranked_source(m, tag_keys)
    where = [f"{col.name} IS NOT NULL"]
    where += time_conditions(request.bucket, request.start_ns, request.stop_ns)
    if request.predicate is not None:
        where.append(to_sql(request.predicate, resolve))
    return f"SELECT {', '.join(select)} FROM {source} WHERE {' AND '.join(where)}"


def _ranked_source(m: Measurement, tag_keys: list[str]) -> str:
    """Points joined to their series, with the series' rank `_o` in tag order."""
    order = ", ".join(f"{m.tags[k].name} NULLS FIRST" for k in tag_keys if k in m.tags)
    ranked = (
        f"(SELECT *, row_number() OVER ({'ORDER BY ' + order if order else ''}) AS _o "
        f"FROM {sql_ident(m.series)})"
    )
    return f"{sql_ident(m.table)} JOIN {ranked} USING ({SERIES_ID})"


def union_sql(
    request: ScanRequest, branches: list[Branch], tag_keys: list[str], *, ranked: bool = False
) -> str:
    """UNION ALL of the branches; `ranked` adds the integer sort keys (see module doc)."""
    if not ranked:
        return " UNION ALL ".join(branch_sql(request, b, tag_keys) for b in branches)
    names = sorted({b.measurement.name for b in branches})
    keys = sorted({b.field.key for b in branches})
    return " UNION ALL ".join(
        branch_sql(request, b, tag_keys, (names.index(b.measurement.name), keys.index(b.field.key)))
        for b in branches
    )


def scan(con: duckdb.DuckDBPyConnection, request: ScanRequest) -> list[pa.Table]:
    """Long-format tables, one per value type, sorted by measurement, tags (absent tag
    first, as it compares like ""), field, time. Empty tables are left out."""
    tables = []
    for branches in branches_by_type(request).values():
        tag_keys = tag_keys_of(branches)
        columns = ", ".join(f"c{i}" for i in range(4 + len(tag_keys)))
        inner = union_sql(request, branches, tag_keys, ranked=True)
        sql = f"SELECT {columns} FROM ({inner}) ORDER BY k0, k1, k2, c2"
        table = _run(con, sql)
        if table.num_rows == 0:
            continue
        names = ["_measurement", "_field", "_time", "_value", *tag_keys]
        table = table.rename_columns(names)
        tables.append(table.set_column(2, "_time", table.column(2).cast(UTC_NS)))
    return tables


def scan_aggregate(
    con: duckdb.DuckDBPyConnection,
    request: ScanRequest,
    group_by: Sequence[str],
    fn: str,
    window_ns: int | None = None,
) -> list[pa.Table]:
    """Aggregate `_value` per group (and per time window); one table per value type.

    Semantics follow Flux: rows are grouped by the `group_by` columns (any of
    `_measurement`, `_field` or tag keys; a tag a measurement lacks is null); with
    `window_ns` each group is further split into epoch-aligned windows whose `_start`
    and `_stop` are clipped to the scan range, like `window()` after `range()`.
    Output columns: the group columns, then `_start`/`_stop` when windowed, then
    `_time` for first/last (time of the chosen point), then `_value`. Null values are
    never stored, so count counts points. Sums keep the field type (integer overflow
    raises); mean is always float; sum/mean of string or boolean fields is an error.
    Rows are sorted by the group columns, then window start.
    """
    if fn not in AGGREGATES:
        raise StoreError(f"unknown aggregate {fn!r}; use one of {', '.join(AGGREGATES)}")
    if window_ns is not None and window_ns <= 0:
        raise StoreError(f"window must be a positive duration in ns, got {window_ns}")
    tables = []
    for ftype, branches in branches_by_type(request).items():
        if fn in ("sum", "mean") and ftype in (FieldType.STRING, FieldType.BOOLEAN):
            raise StoreError(f"cannot {fn} {ftype} fields; filter them out first")
        tag_keys = tag_keys_of(branches)
        inner = union_sql(request, branches, tag_keys)
        sql, names, time_cols = _aggregate_sql(inner, tag_keys, group_by, fn, ftype, window_ns,
                                               request)
        table = _run(con, sql)
        if table.num_rows == 0:
            continue
        table = table.rename_columns(names)
        for name in time_cols:
            i = names.index(name)
            table = table.set_column(i, name, table.column(i).cast(pa.int64()).cast(UTC_NS))
        tables.append(table)
    return tables


def _run(con: duckdb.DuckDBPyConnection, sql: str) -> pa.Table:
    try:
        return con.sql(sql).to_arrow_table()
    except duckdb.Error as exc:  # e.g. an invalid regular expression in a predicate
        raise StoreError(f"scan failed: {exc}") from exc


def _aggregate_sql(
    inner: str,
    tag_keys: list[str],
    group_by: Sequence[str],
    fn: str,
    ftype: FieldType,
    window_ns: int | None,
    request: ScanRequest,
) -> tuple[str, list[str], list[str]]:
    position = {"_measurement": "c0", "_field": "c1"}
    position.update({key: f"c{i}" for i, key in enumerate(tag_keys, start=4)})
    select, group, names, time_cols = [], [], [], []
    for i, key in enumerate(group_by):
        source = position.get(key, "NULL::VARCHAR")
        select.append(f"{source} AS g{i}")
        group.append(f"g{i}")
        names.append(key)
    if window_ns is not None:
        t = "epoch_ns(c2)"
        start = f"({t} - ((({t} % {window_ns}) + {window_ns}) % {window_ns}))"
        lo = f"greatest({start}, {request.start_ns})" if request.start_ns is not None else start
        stop = f"({start} + {window_ns})"
        hi = f"least({stop}, {request.stop_ns})" if request.stop_ns is not None else stop
        select += [f"{lo} AS _ws", f"{hi} AS _we"]
        group += ["_ws", "_we"]
        names += ["_start", "_stop"]
        time_cols += ["_start", "_stop"]
    value = _aggregate_expr(fn, ftype)
    if fn in ("first", "last"):
        select.append(f"epoch_ns({'min' if fn == 'first' else 'max'}(c2)) AS _t")
        names.append("_time")
        time_cols.append("_time")
    select.append(f"{value} AS _v")
    names.append("_value")
    group_clause = f" GROUP BY {', '.join(group)}" if group else ""
    order = f" ORDER BY {', '.join(g + ' NULLS FIRST' for g in group)}" if group else ""
    having = "" if group else " HAVING count(*) > 0"  # no rows: no table, as in Flux
    sql = f"SELECT {', '.join(select)} FROM ({inner}){group_clause}{having}{order}"
    return sql, names, time_cols


def _aggregate_expr(fn: str, ftype: FieldType) -> str:
    if fn == "count":
        return "count(c3)::BIGINT"
    if fn == "mean":
        return "avg(c3)::DOUBLE"
    if fn == "sum":
        cast = {FieldType.FLOAT: "DOUBLE", FieldType.INTEGER: "BIGINT"}.get(ftype, "UBIGINT")
        return f"sum(c3)::{cast}"
    if fn in ("min", "max"):
        return f"{fn}(c3)"
    return f"{'arg_min' if fn == 'first' else 'arg_max'}(c3, c2)"


def key_resolver(m: Measurement, col: Column) -> Callable[[str], str | None]:
    """SQL for a predicate key within one (measurement, field): `_measurement`/`_field`
    are literals, tags are series-table columns, a tag the measurement lacks is None
    (compares as "")."""

    def resolve(key: str) -> str | None:
        if key == "_measurement":
            return sql_string(m.name)
        if key == "_field":
            return sql_string(col.key)
        tag = m.tags.get(key)
        return tag.name if tag else None

    return resolve
