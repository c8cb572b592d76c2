"""Per-series partial aggregates in one SQL pass, for Flux's grouped aggregate pushdown.

`store.scan_aggregate` computes one aggregate per requested group. Flux pushdown of
`group(columns:) |> count/sum/mean` needs a little more to reproduce the unpushed
result exactly: the output order of groups follows the order in which they first
appear in the series-ordered stream, and a group key holds only the tag columns a
series has. So the store returns one row per series and field (and per time bucket
when `bucket_ns` is given, for `truncateTimeColumn |> group(columns: ["_time"])`)
with count and sum of `_value`; the Flux layer combines those few rows into the
groups (thousands of rows instead of millions). Points are aggregated by their
integer series id first and only the result rows are joined to the series table (tag
values, predicate), with the scan's own time conditions (retention included) and
predicate SQL, so what is counted is exactly what `store.scan` returns.

The common shapes go further and run as ONE statement that returns the finished
groups already in the unpushed order (`group_totals`, `bucket_totals`,
`tag_values_present`): series ranks come from a window over the small series tables
in the same statement, so a query costs one DuckDB round trip and no Python-side
regrouping (on small stores that fixed cost was most of the query).
"""

from __future__ import annotations

from collections.abc import Callable

import pyarrow as pa

from fluxlab.model.points import FieldType
from fluxlab.storage import scan as scans
from fluxlab.storage.catalog import SERIES_ID, Measurement
from fluxlab.storage.predicate import (
    And,
    Cmp,
    Not,
    Or,
    Predicate,
    evaluate,
    sql_ident,
    sql_string,
    to_sql,
)
from fluxlab.storage.sqltime import time_conditions
from fluxlab.storage.store import Store

_SUM_TYPES = {FieldType.FLOAT: "DOUBLE", FieldType.INTEGER: "BIGINT", FieldType.UNSIGNED: "UBIGINT"}


def series_partials(
    store: Store,
    bucket: str,
    *,
    start_ns: int | None,
    stop_ns: int | None,
    predicate: Predicate | None = None,
    bucket_ns: int | None = None,
    values: bool = True,
) -> list[tuple[FieldType, pa.Table]]:
    """(value type, table) per stored value type; columns _measurement, _field, the tag
    keys (null where a series lacks the tag), `_time` (start of the epoch-aligned
    `bucket_ns` bucket, int64 ns) when bucketed, then count and, for numeric types,
    sum of the values (what count/sum/mean need; min and max would double the cost). Empty types are left out. `values=False` leaves
    out the value columns (and count): just which series have points in range, which
    is all schema.tagValues needs."""
    if bucket_ns is not None and bucket_ns <= 0:
        raise ValueError(f"bucket_ns must be positive, got {bucket_ns}")
    with store._mutex:  # the store serializes every use of its DuckDB connection
        request = store._request(bucket, start_ns, stop_ns, None, None, predicate)
        out = []
        for ftype, all_branches in scans.branches_by_type(request).items():
            branches = [b for b in all_branches if _may_match(predicate, b) is not False]
            if not branches:
                continue
            tag_keys = scans.tag_keys_of(branches)
            sql, names = _partials_sql(request, branches, tag_keys, ftype, bucket_ns, values)
            table = scans._run(store._con, sql)
            if table.num_rows:
                out.append((ftype, table.rename_columns(names)))
        return out


def _partials_sql(
    request: scans.ScanRequest,
    branches: list[scans.Branch],
    tag_keys: list[str],
    ftype: FieldType,
    bucket_ns: int | None,
    values: bool = True,
) -> tuple[str, list[str]]:
    """Aggregate each branch's points by series id (integers: cheap), then join the few
    result rows to the series table for the tag values and the predicate."""
    names = ["_measurement", "_field", *tag_keys]
    if bucket_ns is not None:
        names.append("_time")
    if values:
        names.append("count")
        if ftype in _SUM_TYPES:
            names.append("sum")
    parts = [_branch_partials(request, b, tag_keys, ftype, bucket_ns, values) for b in branches]
    return " UNION ALL ".join(parts), names


def _branch_partials(
    request: scans.ScanRequest,
    branch: scans.Branch,
    tag_keys: list[str],
    ftype: FieldType,
    bucket_ns: int | None,
    values: bool = True,
) -> str:
    m, col = branch.measurement, branch.field
    group = [SERIES_ID]
    inner = [SERIES_ID]
    outer = [sql_string(m.name), sql_string(col.key)]
    outer += [m.tags[k].name if k in m.tags else "NULL::VARCHAR" for k in tag_keys]
    if bucket_ns is not None:
        t = "epoch_ns(time)"
        inner.append(f"{_bucket_start(t, bucket_ns, request.start_ns)} AS _tb")
        group.append("_tb")
        outer.append("_tb")
    if values:
        inner.append(f"count({col.name})::BIGINT AS _n")
        outer.append("_n")
    if values and ftype in _SUM_TYPES:
        inner.append(f"sum({col.name})::{_SUM_TYPES[ftype]} AS _s")
        outer.append("_s")
    where = [f"{col.name} IS NOT NULL"]
    where += time_conditions(request.bucket, request.start_ns, request.stop_ns)
    points = (
        f"SELECT {', '.join(inner)} FROM {sql_ident(m.table)} WHERE {' AND '.join(where)} "
        f"GROUP BY {', '.join(group)}"
    )

    condition = to_sql(request.predicate, scans.key_resolver(m, col)) if request.predicate is not None else "TRUE"
    return (
        f"SELECT {', '.join(outer)} FROM ({points}) JOIN {sql_ident(m.series)} "
        f"USING ({SERIES_ID}) WHERE {condition}"
    )


def _may_match(predicate: Predicate | None, branch: scans.Branch) -> bool | None:
    """Three-valued: can rows of this (measurement, field) branch pass the predicate?

    False prunes the branch before SQL is built (a `_field == "x"` filter then reads one
    column instead of running a no-op aggregate per value type); None means "depends
    on tags".
    """
    if predicate is None:
        return True
    if isinstance(predicate, Cmp):
        if predicate.key not in ("_measurement", "_field"):
            return None
        value = branch.measurement.name if predicate.key == "_measurement" else branch.field.key
        return evaluate(predicate, {predicate.key: value})
    if isinstance(predicate, Not):
        inner = _may_match(predicate.item, branch)
        return None if inner is None else not inner
    results = [_may_match(item, branch) for item in predicate.items]
    if isinstance(predicate, And):
        return False if False in results else (None if None in results else True)
    assert isinstance(predicate, Or)
    return True if True in results else (None if None in results else False)


# ----------------------------------------------------------------------------- time buckets

def is_numeric(ftype: FieldType) -> bool:
    """Can values of this type be summed (float, integer, unsigned)?"""
    return ftype in _SUM_TYPES


def bucket_value_type(
    store: Store,
    bucket: str,
    *,
    start_ns: int | None,
    stop_ns: int | None,
    predicate: Predicate | None,
) -> FieldType | None:
    """The one value type of the fields `predicate` may select (from the catalog, no
    scan), or None when there are several or none: what bucket_totals will find."""
    with store._mutex:
        request = store._request(bucket, start_ns, stop_ns, None, None, predicate)
        found = _one_value_type(request, predicate)
        return found[0] if found is not None else None


def _typed_branches(
    request: scans.ScanRequest, predicate: Predicate | None
) -> dict[FieldType, list[scans.Branch]]:
    """Branches per value type, without those the predicate rules out by name."""
    typed = {
        ftype: [b for b in branches if _may_match(predicate, b) is not False]
        for ftype, branches in scans.branches_by_type(request).items()
    }
    return {t: b for t, b in typed.items() if b}


def _one_value_type(
    request: scans.ScanRequest, predicate: Predicate | None
) -> tuple[FieldType, list[scans.Branch]] | None:
    """(type, branches) when the selected fields share one value type: only then can
    their points meet in one group; None otherwise (the caller's general path decides)."""
    typed = _typed_branches(request, predicate)
    return next(iter(typed.items())) if len(typed) == 1 else None


def _known_columns(columns: list[str], tag_keys: list[str]) -> list[str]:
    """The group columns the scanned points have (others are absent from every table)."""
    return [c for c in columns if c in ("_measurement", "_field") or c in tag_keys]


def _group_keys_sql(branch: scans.Branch, columns: list[str]) -> list[str]:
    """`<column> AS g<i>` per group column for one branch (NULL where the series lack it)."""
    resolve = _resolver(branch)
    return [f"{resolve(c) or 'NULL::VARCHAR'} AS g{i}" for i, c in enumerate(columns)]


def _table_order_sql(branch: scans.Branch) -> str:
    """{series key, field}: the order in which the Flux layer lists a branch's tables."""
    m, col = branch.measurement, branch.field
    return f"{{'k': {_series_key_sql(m)}, 'f': {sql_string(col.key)}}}"


def bucket_totals(
    store: Store,
    bucket: str,
    *,
    start_ns: int | None,
    stop_ns: int | None,
    predicate: Predicate | None,
    bucket_ns: int,
    ranked: bool = True,
) -> tuple[FieldType, pa.Table] | None:
    """Per epoch-aligned time bucket: `_time` (ns), count, sum (numeric types) and, when
    `ranked`, `first_rank`: the smallest (series key, field) rank among its points.

    `truncateTimeColumn |> group(columns: ["_time"])` meets its groups in series order,
    then time: `first_rank` gives that order without grouping millions of points by
    series. Ranks are computed in the same statement over the small series tables
    (exact string order of the series keys) and joined to the points by integer series
    id. Callers that need no order (one merged table) pass `ranked=False`: the points
    then meet the series table only when tags decide the predicate. None when the
    matching fields have several value types (they cannot share a group).
    """
    with store._mutex:
        request = store._request(bucket, start_ns, stop_ns, None, None, predicate)
        found = _one_value_type(request, predicate)
        if found is None:
            return None
        ftype, branches = found
        table = scans._run(store._con, _bucket_sql(request, branches, ftype, bucket_ns, ranked))
        names = ["_time", "count", *(["sum"] if ftype in _SUM_TYPES else []),
                 *(["first_rank"] if ranked else [])]
        return ftype, table.rename_columns(names)


def _resolver(branch: scans.Branch) -> Callable[[str], str | None]:
    return scans.key_resolver(branch.measurement, branch.field)


def _series_condition(request: scans.ScanRequest, branch: scans.Branch) -> str:
    """The predicate as SQL over the branch's series table (tags as columns)."""
    if request.predicate is None:
        return "TRUE"
    return to_sql(request.predicate, _resolver(branch))


def _ranks_cte(request: scans.ScanRequest, branches: list[scans.Branch]) -> str:
    """`r(b, sid, rk)`: every series of the branches that passes the predicate, ranked
    by (series key, field) like the Flux layer's table order."""
    ranked = [
        f"SELECT {number} AS b, {SERIES_ID}, {_series_key_sql(b.measurement)} AS k, "
        f"{sql_string(b.field.key)} AS f FROM {sql_ident(b.measurement.series)} "
        f"WHERE {_series_condition(request, b)}"
        for number, b in enumerate(branches)
    ]
    return (f"r AS (SELECT b, {SERIES_ID}, row_number() OVER (ORDER BY k, f) AS rk "
            f"FROM ({' UNION ALL '.join(ranked)}))")


def _bucket_start(t: str, bucket_ns: int, start_ns: int | None) -> str:
    """SQL for the start of the epoch-aligned bucket holding `t` (ns). DuckDB's `//`
    truncates toward zero, which is the floor only for t >= 0: when the scan's start
    bound guarantees that, the plain division (much cheaper) is used."""
    if start_ns is not None and start_ns >= 0:
        return f"({t} // {bucket_ns}) * {bucket_ns}"
    return f"({t} - ((({t} % {bucket_ns}) + {bucket_ns}) % {bucket_ns}))"


def _bucket_sql(
    request: scans.ScanRequest, branches: list[scans.Branch], ftype: FieldType, bucket_ns: int,
    ranked: bool,
) -> str:
    numeric = ftype in _SUM_TYPES
    parts = []
    for number, branch in enumerate(branches):
        m, col = branch.measurement, branch.field
        t = "epoch_ns(p.time)"
        where = [f"p.{col.name} IS NOT NULL"]
        where += time_conditions(request.bucket, request.start_ns, request.stop_ns, "p.time")
        values = [f"count(p.{col.name})::BIGINT AS n"]
        if numeric:
            values.append(f"sum(p.{col.name})::{_SUM_TYPES[ftype]} AS s")
        source = f"{sql_ident(m.table)} p"
        if ranked:
            values.append("min(r.rk) AS rk")
            source += f" JOIN r ON p.{SERIES_ID} = r.{SERIES_ID} AND r.b = {number}"
        elif _may_match(request.predicate, branch) is not True:
            where.append(f"p.{SERIES_ID} IN (SELECT {SERIES_ID} FROM {sql_ident(m.series)} "
                         f"WHERE {_series_condition(request, branch)})")
        parts.append(
            f"SELECT {_bucket_start(t, bucket_ns, request.start_ns)} AS tb, "
            f"{', '.join(values)} FROM {source} WHERE {' AND '.join(where)} GROUP BY tb"
        )
    sums = f", sum(s)::{_SUM_TYPES[ftype]}" if numeric else ""
    ranks = ", min(rk)" if ranked else ""
    cte = f"WITH {_ranks_cte(request, branches)} " if ranked else ""
    return (
        f"{cte}SELECT tb, sum(n)::BIGINT{sums}{ranks} FROM ({' UNION ALL '.join(parts)}) "
        "GROUP BY tb"
    )


# ----------------------------------------------------------------------------- series presence


def series_presence(
    store: Store,
    bucket: str,
    *,
    start_ns: int | None,
    stop_ns: int | None,
    predicate: Predicate | None = None,
) -> pa.Table | None:
    """The rows of `series_partials(..., values=False)`, all value types in one table
    (_measurement, _field, tag keys), from one aggregate per measurement rather than one
    per field and value type: a series' points in range are grouped once by integer id,
    with a flag per field telling whether it has a value there. None when nothing
    matches."""
    with store._mutex:
        request = store._request(bucket, start_ns, stop_ns, None, None, predicate)
        branches = [b for bs in scans.branches_by_type(request).values() for b in bs
                    if _may_match(predicate, b) is not False]
        if not branches:
            return None
        tag_keys = scans.tag_keys_of(branches)
        when = time_conditions(request.bucket, request.start_ns, request.stop_ns)
        ctes, selects = [], []
        for i, name in enumerate(dict.fromkeys(b.measurement.name for b in branches)):
            mine = [b for b in branches if b.measurement.name == name]
            m = mine[0].measurement
            flags = ", ".join(f"bool_or({b.field.name} IS NOT NULL) AS h{k}"
                              for k, b in enumerate(mine))
            ctes.append(
                f"p{i} AS MATERIALIZED (SELECT {SERIES_ID}, {flags} FROM {sql_ident(m.table)}"
                f" WHERE {' AND '.join(when) or 'TRUE'} GROUP BY {SERIES_ID})")
            for k, b in enumerate(mine):
                selects.append(_presence_select(request, b, tag_keys, f"p{i}", k))
        sql = f"WITH {', '.join(ctes)} {' UNION ALL '.join(selects)}"
        table = scans._run(store._con, sql)
        if not table.num_rows:
            return None
        return table.rename_columns(["_measurement", "_field", *tag_keys])


def _presence_select(request: scans.ScanRequest, branch: scans.Branch, tag_keys: list[str],
                     cte: str, k: int) -> str:
    m, col = branch.measurement, branch.field
    outer = [sql_string(m.name), sql_string(col.key)]
    outer += [m.tags[t].name if t in m.tags else "NULL::VARCHAR" for t in tag_keys]

    condition = to_sql(request.predicate, scans.key_resolver(m, col)) if request.predicate is not None else "TRUE"
    return (f"SELECT {', '.join(outer)} FROM {cte} JOIN {sql_ident(m.series)} "
            f"USING ({SERIES_ID}) WHERE h{k} AND ({condition})")


def measurements_present(
    store: Store,
    bucket: str,
    *,
    start_ns: int | None,
    stop_ns: int | None,
    predicate: Predicate | None = None,
) -> list[str] | None:
    """Measurements with a point in range whose field passes the predicate, when the
    predicate names only _measurement/_field (else None: it depends on tags). One
    `LIMIT 1` probe per measurement: it stops at the first matching point."""
    with store._mutex:
        request = store._request(bucket, start_ns, stop_ns, None, None, predicate)
        by_measurement: dict[str, list[scans.Branch]] = {}
        for bs in scans.branches_by_type(request).values():
            for b in bs:
                match = _may_match(predicate, b)
                if match is None:
                    return None
                if match:
                    by_measurement.setdefault(b.measurement.name, []).append(b)
        when = time_conditions(request.bucket, request.start_ns, request.stop_ns)
        out = []
        for name, branches in by_measurement.items():
            any_field = " OR ".join(f"{b.field.name} IS NOT NULL" for b in branches)
            where = " AND ".join([f"({any_field})", *when])
            table = sql_ident(branches[0].measurement.table)
            if scans._run(store._con, f"SELECT 1 FROM {table} WHERE {where} LIMIT 1").num_rows:
                out.append(name)
        return out


# ----------------------------------------------------------------------------- group totals


def group_totals(
    store: Store,
    bucket: str,
    *,
    start_ns: int | None,
    stop_ns: int | None,
    predicate: Predicate | None,
    columns: list[str],
    with_count: bool = True,
    with_sum: bool = False,
) -> tuple[FieldType, list[str], pa.Table] | None:
    """`group(columns:) |> count/sum/mean` as ONE SQL statement returning one row per group.

    (value type, tag keys of the scanned fields, table). The table has the group
    columns that exist (`_measurement`, `_field`, tag keys; in `columns` order, null
    where a series lacks the tag), then `count` (when `with_count`) and `sum` (when
    `with_sum` and the type is numeric), rows ordered by the smallest (series key,
    field) of each group: the order in which the unpushed path meets the groups.
    Points are aggregated by integer series id first; only those few rows meet the
    series table (tags, predicate, series key). None when the matching fields have
    several value types (the caller's general path decides).
    """
    with store._mutex:  # the store serializes every use of its DuckDB connection
        request = store._request(bucket, start_ns, stop_ns, None, None, predicate)
        found = _one_value_type(request, predicate)
        if found is None:
            return None
        ftype, branches = found
        tag_keys = scans.tag_keys_of(branches)
        known = _known_columns(columns, tag_keys)
        summed = with_sum and ftype in _SUM_TYPES
        counted = with_count or not summed  # a count tells which series have values
        sql = _group_totals_sql(request, branches, known, counted, ftype if summed else None)
        table = scans._run(store._con, sql)
        names = [*known, *(["count"] if counted else []), *(["sum"] if summed else [])]
        return ftype, tag_keys, table.rename_columns(names)


def _group_totals_sql(
    request: scans.ScanRequest,
    branches: list[scans.Branch],
    columns: list[str],
    counted: bool,
    sum_type: FieldType | None,
) -> str:
    """Per branch: totals per series id over the points, joined to the series rows
    that pass the predicate; series without a value in range are dropped before the
    groups are formed and ordered by their smallest {series key, field}."""
    groups = [f"g{i}" for i in range(len(columns))]
    when = " AND ".join(time_conditions(request.bucket, request.start_ns, request.stop_ns))
    totals = [*(["n"] if counted else []), *(["s"] if sum_type is not None else [])]
    ctes, bodies = [], []
    for number, branch in enumerate(branches):
        m, col = branch.measurement, branch.field
        values = [f"count({col.name}) AS n"] if counted else []
        if sum_type is not None:
            values.append(f"sum({col.name}) AS s")
        ctes.append(
            f"p{number} AS (SELECT {SERIES_ID}, {', '.join(values)} FROM {sql_ident(m.table)}"
            f" WHERE {when or 'TRUE'} GROUP BY {SERIES_ID})"
        )
        keys = _group_keys_sql(branch, columns)
        present = "p.n > 0" if counted else "p.s IS NOT NULL"
        bodies.append(
            f"SELECT {''.join(k + ', ' for k in keys)}{', '.join('p.' + t for t in totals)}, "
            f"{_table_order_sql(branch)} AS o "
            f"FROM p{number} p JOIN {sql_ident(m.series)} USING ({SERIES_ID}) "
            f"WHERE {present} AND {_series_condition(request, branch)}"
        )
    sums = [*(["sum(n)::BIGINT"] if counted else []),
            *([f"sum(s)::{_SUM_TYPES[sum_type]}"] if sum_type is not None else [])]
    grouping = f" GROUP BY {', '.join(groups)}" if groups else " HAVING count(*) > 0"
    return (
        f"WITH {', '.join(ctes)} SELECT {''.join(g + ', ' for g in groups)}{', '.join(sums)} "
        f"FROM ({' UNION ALL '.join(bodies)}){grouping} ORDER BY min(o)"
    )


EXTREMES = ("max", "min")


def group_extremes(
    store: Store,
    bucket: str,
    *,
    start_ns: int | None,
    stop_ns: int | None,
    predicate: Predicate | None,
    columns: list[str],
    fn: str,
) -> tuple[list[str], pa.Table] | None:
    """`group(columns:) |> max()` (or min) as ONE statement: the chosen point of each group.

    (tag keys, table). Flux's selector returns the first row of the group
    table holding the extreme value; that table lists its series in (series key, field)
    order, each in time order, so the winner is the series with the extreme value and
    the smallest key, at the earliest time it has that value. Extremes are found per
    integer series id first; only those rows meet the series tables. Table columns:
    `_measurement`, `_field`, `_time` (ns), `_value`, the tag keys (sorted), and
    `complete` (every series of the group has every tag key: otherwise the group's
    table has other columns and the caller's general path must run); rows in the order
    the unpushed path meets the groups. None for several value types or a non-numeric one.
    """
    if fn not in EXTREMES:
        raise ValueError(f"fn must be one of {EXTREMES}")
    with store._mutex:
        request = store._request(bucket, start_ns, stop_ns, None, None, predicate)
        found = _one_value_type(request, predicate)
        if found is None:
            return None
        ftype, branches = found
        if not is_numeric(ftype):
            return None
        tag_keys = scans.tag_keys_of(branches)
        sql = _extremes_sql(request, branches, _known_columns(columns, tag_keys), tag_keys, fn)
        table = scans._run(store._con, sql)
        names = ["_measurement", "_field", "_time", "_value", *tag_keys, "complete"]
        return tag_keys, table.rename_columns(names)


def _extremes_sql(
    request: scans.ScanRequest, branches: list[scans.Branch], columns: list[str],
    tag_keys: list[str], fn: str,
) -> str:
    when = " AND ".join(time_conditions(request.bucket, request.start_ns, request.stop_ns))
    when_x = " AND ".join(
        time_conditions(request.bucket, request.start_ns, request.stop_ns, column="x.time"))
    groups = [f"g{i}" for i in range(len(columns))]
    ctes, bodies, times = [], [], []
    for number, branch in enumerate(branches):
        m, col = branch.measurement, branch.field
        ctes.append(
            f"p{number} AS (SELECT {SERIES_ID}, {fn}({col.name}) AS v FROM {sql_ident(m.table)}"
            f" WHERE {when or 'TRUE'} AND {col.name} IS NOT NULL GROUP BY {SERIES_ID})"
        )
        keys = _group_keys_sql(branch, columns)
        tags = [f"{m.tags[k].name if k in m.tags else 'NULL::VARCHAR'} AS t{i}"
                for i, k in enumerate(tag_keys)]
        complete = " AND ".join(
            f"{m.tags[k].name} IS NOT NULL" if k in m.tags else "FALSE" for k in tag_keys
        ) or "TRUE"
        bodies.append(
            f"SELECT {''.join(k + ', ' for k in keys)}{number} AS b, p.{SERIES_ID}, p.v, "
            f"{sql_string(m.name)} AS meas, {sql_string(col.key)} AS fld, "
            f"{''.join(t + ', ' for t in tags)}({complete}) AS all_tags, "
            f"{_table_order_sql(branch)} AS o "
            f"FROM p{number} p JOIN {sql_ident(m.series)} USING ({SERIES_ID}) "
            f"WHERE {_series_condition(request, branch)}"
        )
        times.append(
            f"WHEN w.b = {number} THEN (SELECT epoch_ns(min(x.time)) FROM {sql_ident(m.table)} x "
            f"WHERE x.{SERIES_ID} = w.{SERIES_ID} AND x.{col.name} = w.v"
            f"{' AND ' + when_x if when_x else ''})"
        )
    part = f"PARTITION BY {', '.join(groups)} " if groups else ""
    direction = "DESC" if fn == "max" else "ASC"
    ranked = (
        f"SELECT *, row_number() OVER ({part}ORDER BY v {direction}, o) AS rn, "
        f"min(o) OVER ({part.strip()}) AS first_seen, "
        f"bool_and(all_tags) OVER ({part.strip()}) AS complete "
        f"FROM ({' UNION ALL '.join(bodies)})"
    )
    tag_out = "".join(f"w.t{i}, " for i in range(len(tag_keys)))
    return (
        f"WITH {', '.join(ctes)}, w AS (SELECT * FROM ({ranked}) WHERE rn = 1) "
        f"SELECT w.meas, w.fld, CASE {' '.join(times)} END, w.v, {tag_out}w.complete "
        f"FROM w ORDER BY w.first_seen"
    )


def _series_key_sql(m: Measurement) -> str:
    """SQL for InfluxDB's series key text `m,k1=v1,...` (sorted keys, absent tags left
    out); DuckDB compares strings bytewise, like the Flux layer's `_series_order`."""
    parts = [sql_string(m.name)]
    for key in sorted(m.tags):
        parts.append(f"coalesce({sql_string(f',{key}=')} || {m.tags[key].name}, '')")
    return " || ".join(parts)


# ----------------------------------------------------------------------------- tag values


def tag_values_present(
    store: Store,
    bucket: str,
    *,
    start_ns: int | None,
    stop_ns: int | None,
    predicate: Predicate | None,
    tag: str,
) -> list[str] | None:
    """Distinct values of tag key `tag` among the series with a matching point in range,
    in the order of each value's first series key (the unpushed path's order), from
    ONE statement: the series ids in range (grouped integers), semi-joined to the small
    series table. None when the predicate mixes `_field` with tags (then which fields
    a series has in range matters per field: the caller uses series_presence)."""
    with store._mutex:
        request = store._request(bucket, start_ns, stop_ns, None, None, predicate)
        by_field = predicate is not None and _mentions(predicate, "_field")
        chosen: dict[str, list[scans.Branch]] = {}
        for branches in scans.branches_by_type(request).values():
            for b in branches:
                match = _may_match(predicate, b)
                if match is None and by_field:
                    return None
                if match is not False:
                    chosen.setdefault(b.measurement.name, []).append(b)
        when = time_conditions(request.bucket, request.start_ns, request.stop_ns)
        parts = []
        for i, branches in enumerate(chosen.values()):
            m = branches[0].measurement
            if tag not in m.tags:
                continue
            any_field = " OR ".join(f"{b.field.name} IS NOT NULL" for b in branches)
            points = (f"p{i} AS MATERIALIZED (SELECT {SERIES_ID} FROM {sql_ident(m.table)} "
                      f"WHERE ({any_field}) AND {' AND '.join(when) or 'TRUE'} "
                      f"GROUP BY {SERIES_ID})")

            def resolve(key: str, m: Measurement = m) -> str | None:
                if key == "_measurement":
                    return sql_string(m.name)
                column = m.tags.get(key)
                return column.name if column else None

            condition = "TRUE" if by_field else to_sql(request.predicate, resolve)
            value = m.tags[tag].name
            parts.append((points, (
                f"SELECT {value} AS v, {_series_key_sql(m)} AS k FROM p{i} "
                f"JOIN {sql_ident(m.series)} USING ({SERIES_ID}) "
                f"WHERE {value} IS NOT NULL AND {condition}")))
        if not parts:
            return []
        sql = (f"WITH {', '.join(p for p, _ in parts)} SELECT v FROM "
               f"({' UNION ALL '.join(s for _, s in parts)}) GROUP BY v ORDER BY min(k)")
        return scans._run(store._con, sql).column(0).to_pylist()


def _mentions(predicate: Predicate, key: str) -> bool:
    """Does the predicate compare `key` anywhere?"""
    if isinstance(predicate, Cmp):
        return predicate.key == key
    if isinstance(predicate, Not):
        return _mentions(predicate.item, key)
    return any(_mentions(item, key) for item in predicate.items)
