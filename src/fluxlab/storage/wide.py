"""Pivoted ("wide") scans: one row per series and time with every field as a column.

Why: `store.scan` returns InfluxDB's long format (one row per field value), which a
Flux query that wants `lat` and `lon` side by side (`geo.toRows`, `geo.filterRows`)
immediately pivots back. The points tables are already wide in fields (tags come from
the series table by a join on the series id), so reading them as they are skips both
the unpivot in SQL and the pivot in Polars.

Semantics match the long scan exactly: a field value is part of the result when it
is not null, inside the time range (and retention), and the predicate holds for its
row with `_field` set to that field's key (so `_field` predicates select columns);
a row is returned when at least one of its fields survives. `tag_in` restricts a tag
to a set of values through a semi-join on a registered Arrow table, which stays fast
for thousands of values (an OR chain of comparisons does not).

Uses the store's connection, catalog and mutex (read-only): the store engineer owns
store.py; this module only reads.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

from fluxlab.storage.catalog import SERIES_ID, Measurement
from fluxlab.storage.errors import StoreError
from fluxlab.storage.predicate import Predicate, sql_ident, sql_string, to_sql
from fluxlab.storage.sqltime import time_conditions
from fluxlab.storage.store import Store

UTC_NS = pa.timestamp("ns", tz="UTC")
_names = itertools.count()


SERIES_COLUMN = "__series"
"""Last column of a WidePart table: the series id (equal ids = equal tag sets)."""


@dataclass(frozen=True)
class WidePart:
    """One measurement's rows: `_time`, tag keys, field keys (sorted), SERIES_COLUMN.

    With `scan_wide(..., tags_in_rows=False)` the rows hold no tag columns (`_time`,
    fields, SERIES_COLUMN) and `series` holds SERIES_COLUMN and the tag keys, one row
    per series: the tag strings are not repeated on every point.
    """

    measurement: str
    tags: tuple[str, ...]
    fields: tuple[str, ...]
    table: pa.Table
    series: pa.Table | None = None


@dataclass(frozen=True)
class TagIn:
    """Keep rows whose tag `key` is one of `values` (rows without the tag are dropped)."""

    key: str
    values: Sequence[str] | pa.Array


def _field_conditions(
    m: Measurement, request_time: list[str], predicate: Predicate | None
) -> dict[str, str]:
    """SQL condition per field column: value present, in range, predicate true for it."""
    out = {}
    for key in sorted(m.fields):
        col = m.fields[key]

        def resolve(name: str, field_key: str = key) -> str | None:
            if name == "_measurement":
                return sql_string(m.name)
            if name == "_field":
                return sql_string(field_key)
            tag = m.tags.get(name)
            return tag.name if tag else None

        parts = [f"{col.name} IS NOT NULL", *request_time]
        if predicate is not None:
            parts.append(to_sql(predicate, resolve))
        out[key] = " AND ".join(parts)
    return out


def _tag_filter(m: Measurement, tag_in: TagIn | None, view: str | None) -> str | None:
    """SQL restricting the tag to the registered values; None when it drops every row."""
    if tag_in is None:
        return "TRUE"
    col = m.tags.get(tag_in.key)
    if col is None:
        return None
    return f"{col.name} IN (SELECT v FROM {view})"


def _from(m: Measurement) -> str:
    """FROM clause with time, tag and field columns under their physical names (points
    joined to their series table, see `Measurement.from_sql`)."""
    return m.from_sql()


def _measurements(store: Store, bucket: str) -> list[Measurement]:
    catalog = store._catalog  # noqa: SLF001 - read-only use of the store's catalog cache
    return catalog.measurements_of(catalog.bucket(bucket))


def _run(store: Store, sql: str) -> pa.Table:
    try:
        return store._con.sql(sql).to_arrow_table()  # noqa: SLF001
    except Exception as exc:  # duckdb.Error: e.g. a bad regex in the predicate
        raise StoreError(f"wide scan failed: {exc}") from exc


class _Registered:
    """A temporary Arrow view of the wanted tag values, unregistered on exit."""

    def __init__(self, store: Store, tag_in: TagIn | None) -> None:
        self.store = store
        self.name = f"_fl_tag_in_{next(_names)}" if tag_in is not None else None
        self.values = pa.table({"v": pa.array(tag_in.values, pa.string())}) if tag_in else None

    def __enter__(self) -> str | None:
        if self.name is not None:
            self.store._con.register(self.name, self.values)  # noqa: SLF001
        return self.name

    def __exit__(self, *exc: object) -> None:
        if self.name is not None:
            self.store._con.unregister(self.name)  # noqa: SLF001


def scan_wide(
    store: Store,
    bucket: str,
    *,
    start_ns: int | None = None,
    stop_ns: int | None = None,
    predicate: Predicate | None = None,
    tag_in: TagIn | None = None,
    tags_in_rows: bool = True,
) -> list[WidePart]:
    """Wide rows of every measurement with data (see module docstring), in no order.

    Field columns left entirely null are dropped; tag columns are kept (null = the row
    has no such tag). `tags_in_rows=False` returns tags per series (see WidePart).
    """
    with store._mutex:  # noqa: SLF001 - one DuckDB call at a time, as the store does
        bucket_obj = store._catalog.bucket(bucket)  # noqa: SLF001
        when = time_conditions(bucket_obj, start_ns, stop_ns)
        parts = []
        with _Registered(store, tag_in) as view:
            for m in _measurements(store, bucket):
                part = _scan_measurement(store, m, when, predicate, tag_in, view, tags_in_rows)
                if part is not None:
                    parts.append(part)
        return parts


def _scan_measurement(
    store: Store,
    m: Measurement,
    when: list[str],
    predicate: Predicate | None,
    tag_in: TagIn | None,
    view: str | None,
    tags_in_rows: bool = True,
) -> WidePart | None:
    tag_sql = _tag_filter(m, tag_in, view)
    conditions = _field_conditions(m, when, predicate)
    if tag_sql is None or not conditions:
        return None
    source = _from(m)
    if tag_in is not None:
        # The few matching series first, then their points by integer id: DuckDB
        # builds the join's hash table on them and probes the points once.
        series, points = sql_ident(m.series), sql_ident(m.table)
        source = (f"(SELECT * FROM {series} WHERE {tag_sql}) AS s JOIN {points} AS p "
                  f"ON p.{SERIES_ID} = s.{SERIES_ID}")
    tags = sorted(m.tags)
    fields = list(conditions)
    select = [f"time AS c0, {'p.' if tag_in is not None else ''}{SERIES_ID} AS c_sid"]
    if tags_in_rows:
        select += [f"{m.tags[k].name} AS c{i}" for i, k in enumerate(tags, start=1)]
    start = 1 + len(tags)
    select += [
        f"CASE WHEN {conditions[k]} THEN {m.fields[k].name} END AS c{i}"
        for i, k in enumerate(fields, start=start)
    ]
    any_field = " OR ".join(f"({c})" for c in conditions.values())
    sql = f"SELECT {', '.join(select)} FROM {source} WHERE {any_field}"
    table = _run(store, sql)
    if table.num_rows == 0:
        return None
    row_tags = tags if tags_in_rows else []
    table = table.rename_columns(["_time", SERIES_COLUMN, *row_tags, *fields])
    table = table.set_column(0, "_time", table.column(0).cast(UTC_NS))
    present = [f for f in fields if table.column(f).null_count < table.num_rows]
    table = table.select(["_time", *row_tags, *present, SERIES_COLUMN])
    series = None if tags_in_rows else _series_tags(store, m, tags, tag_sql)
    return WidePart(m.name, tuple(tags), tuple(present), table, series)


def _series_tags(store: Store, m: Measurement, tags: list[str], where: str = "TRUE") -> pa.Table:
    """SERIES_COLUMN and the tag keys of the series of the measurement that pass the
    tag filter `where` (only those can have rows in the scan)."""
    select = [f"{SERIES_ID} AS c_sid", *(f"{m.tags[k].name} AS c{i}"
                                         for i, k in enumerate(tags, start=1))]
    table = _run(store, f"SELECT {', '.join(select)} FROM {sql_ident(m.series)} WHERE {where}")
    return table.rename_columns([SERIES_COLUMN, *tags])


def distinct_tag_values(
    store: Store,
    bucket: str,
    key: str,
    *,
    start_ns: int | None = None,
    stop_ns: int | None = None,
    predicate: Predicate | None = None,
) -> pa.Array:
    """Distinct values of a tag over the series of the measurements a scan with the same
    bounds returns rows from; [] when it returns no rows.

    Read from the series tables (one row per tag set, not per point), so the values
    are a superset of those on the returned rows (series are not filtered by time or
    tag predicates). None is among them when a series lacks the tag, or when such a
    measurement has no tag key at all.
    """
    with store._mutex:  # noqa: SLF001
        bucket_obj = store._catalog.bucket(bucket)  # noqa: SLF001
        when = time_conditions(bucket_obj, start_ns, stop_ns)
        values: list[pa.Array] = []
        for m in _measurements(store, bucket):
            conditions = _field_conditions(m, when, predicate)
            if not conditions:
                continue
            any_field = " OR ".join(f"({c})" for c in conditions.values())
            if _run(store, f"SELECT 1 FROM {_from(m)} WHERE {any_field} LIMIT 1").num_rows == 0:
                continue
            col = m.tags.get(key)
            if col is None:
                values.append(pa.nulls(1, pa.string()))
                continue
            table = _run(store, f"SELECT DISTINCT {col.name} FROM {sql_ident(m.series)}")
            values.append(table.column(0).combine_chunks().cast(pa.string()))
        if not values:
            return pa.array([], pa.string())
        return pa.concat_arrays(values).unique()


# ----------------------------------------------------------------------------- circle aggregates


@dataclass(frozen=True)
class Circle:
    """A spherical cap as S2 tests it: unit-vector centre, squared chord `limit`, and the
    `slack` around it inside which the caller decides rows exactly (rounding band)."""

    x: float
    y: float
    z: float
    limit: float
    slack: float
    lat: float = 0.0
    lon: float = 0.0
    box: tuple[float, float] | None = None
    """(half height, half width) in degrees of a lat/lon box around (lat, lon) known
    to lie inside the circle: rows in it skip the trigonometry."""


@dataclass(frozen=True)
class CirclePartials:
    """Per-series partial aggregates of the rows a wide scan returns, for one measurement.

    `partials`: SERIES_COLUMN; `has:<field>` (the series has a value of that field in
    the scan, so its pivoted table has the column) for every field; `n` (rows clearly
    inside the circle), `c` and `s` (count and sum of `value` over them; `s` only when
    asked); `n_band` (rows in the rounding band). `band`: SERIES_COLUMN, lat, lon and
    `value` of the band rows (None when there are none). `series`: see WidePart.
    """

    measurement: str
    tags: tuple[str, ...]
    fields: tuple[str, ...]
    partials: pa.Table
    series: pa.Table
    band: pa.Table | None
    value_type: str = ""
    """The `value` field's type name (FieldType value: "float", "integer", ...)."""


def circle_partials(
    store: Store,
    bucket: str,
    *,
    start_ns: int | None,
    stop_ns: int | None,
    predicate: Predicate | None,
    tag_in: TagIn | None,
    circle: Circle,
    value: str,
    with_sum: bool,
) -> list[CirclePartials] | None:
    """`scan_wide` rows inside `circle` (lat/lon fields in degrees), aggregated per series
    in SQL; None when a measurement with rows lacks the lat, lon or `value` field."""
    with store._mutex:  # noqa: SLF001
        bucket_obj = store._catalog.bucket(bucket)  # noqa: SLF001
        when = time_conditions(bucket_obj, start_ns, stop_ns)
        parts: list[CirclePartials] = []
        with _Registered(store, tag_in) as view:
            for m in _measurements(store, bucket):
                conditions = _field_conditions(m, when, predicate)
                tag_sql = _tag_filter(m, tag_in, view)
                if tag_sql is None or not conditions:
                    continue
                if not {"lat", "lon", value} <= set(conditions):
                    any_field = " OR ".join(f"({c})" for c in conditions.values())
                    if _run(store, f"SELECT 1 FROM {_from(m)} WHERE ({any_field}) AND "
                                   f"{tag_sql} LIMIT 1").num_rows:
                        return None
                    continue
                part = _circle_measurement(store, m, conditions, tag_sql, circle, value,
                                           with_sum)
                if part.partials.num_rows:
                    parts.append(part)
        return parts


def _circle_measurement(
    store: Store, m: Measurement, conditions: dict[str, str], tag_sql: str, circle: Circle,
    value: str, with_sum: bool,
) -> CirclePartials:
    fields = list(conditions)
    any_field = " OR ".join(f"({c})" for c in conditions.values())
    present = [f"CASE WHEN {conditions[k]} THEN {m.fields[k].name} END AS v{i}"
               for i, k in enumerate(fields)]
    lat, lon, val = (f"v{fields.index(k)}" for k in ("lat", "lon", value))
    chord = (f"(cos(radians({lat})) * cos(radians({lon})) - ({circle.x!r})) ** 2 + "
             f"(cos(radians({lat})) * sin(radians({lon})) - ({circle.y!r})) ** 2 + "
             f"(sin(radians({lat})) - ({circle.z!r})) ** 2")
    if circle.box is not None:
        h, w = circle.box
        chord = (f"CASE WHEN abs({lat} - ({circle.lat!r})) <= {h!r} AND "
                 f"abs({lon} - ({circle.lon!r})) <= {w!r} THEN 0.0 ELSE {chord} END")
    source, sid = _from(m), SERIES_ID
    if tag_sql != "TRUE":  # matching series first, then their points (as _scan_measurement)
        series, points = sql_ident(m.series), sql_ident(m.table)
        source = (f"(SELECT * FROM {series} WHERE {tag_sql}) AS s JOIN {points} AS p "
                  f"ON p.{SERIES_ID} = s.{SERIES_ID}")
        sid = f"p.{SERIES_ID}"
    rows = (f"WITH r AS (SELECT {sid} AS sid, {', '.join(present)} FROM {source} "
            f"WHERE {any_field}), d AS (SELECT *, {chord} AS d2 FROM r)")
    inside = f"d2 <= {circle.limit - circle.slack!r}"
    band = f"abs(d2 - {circle.limit!r}) <= {circle.slack!r}"
    select = ["sid", *(f"bool_or(v{i} IS NOT NULL) AS h{i}" for i in range(len(fields))),
              f"count(*) FILTER (WHERE {inside}) AS n",
              f"count({val}) FILTER (WHERE {inside}) AS c",
              f"count(*) FILTER (WHERE {band}) AS n_band"]
    if with_sum:
        select.append(f"sum({val}) FILTER (WHERE {inside}) AS s")
    table = _run(store, f"{rows} SELECT {', '.join(select)} FROM d GROUP BY sid")
    names = [SERIES_COLUMN, *(f"has:{k}" for k in fields), "n", "c", "n_band"]
    table = table.rename_columns([*names, "s"] if with_sum else names)
    band_rows = None
    if pc.sum(table.column("n_band")).as_py():
        band_rows = _run(store, f"{rows} SELECT sid, {lat}, {lon}, {val} FROM d WHERE {band}")
        band_rows = band_rows.rename_columns([SERIES_COLUMN, "lat", "lon", "value"])
    tags = sorted(m.tags)
    value_type = m.fields[value].field_type
    return CirclePartials(m.name, tuple(tags), tuple(fields), table,
                          _series_tags(store, m, tags, tag_sql), band_rows,
                          value_type.value if value_type is not None else "")
