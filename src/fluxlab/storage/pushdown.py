"""Per-series partial aggregates in one SQL pass, for Flux's grouped aggregate pushdown.

`store.scan_aggregate` computes one aggregate per requested group. Flux pushdown of
`group(columns:) |> count/sum/mean` needs a little more to reproduce the unpushed
result exactly: the output order of groups follows the order in which they first
appear in the series-ordered stream, and a group key holds only the tag columns a
series has. So the store returns one row per series and field (and per time bucket
when `bucket_ns` is given, for `truncateTimeColumn |> group(columns: ["_time"])`)
with count, sum, min and max of `_value`; the Flux layer combines those few rows
into the groups (thousands of rows instead of millions). Points are aggregated by
their integer series id first and only the result rows are joined to the series
table (tag values, predicate), with the scan's own time conditions (retention
included) and predicate SQL, so what is counted is exactly what `store.scan` returns.
"""

from __future__ import annotations

import polars as pl
import pyarrow as pa

from fluxlab.model.points import FieldType
from fluxlab.storage import scan as scans
from fluxlab.storage.catalog import SERIES_ID, Column, Measurement
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
    sum, min and max of the values. Empty types are left out. `values=False` leaves
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
            names += ["sum", "min", "max"]
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
        inner += [f"sum({col.name})::{_SUM_TYPES[ftype]} AS _s", f"min({col.name}) AS _lo",
                  f"max({col.name}) AS _hi"]
        outer += ["_s", "_lo", "_hi"]
    where = [f"{col.name} IS NOT NULL"]
    where += time_conditions(request.bucket, request.start_ns, request.stop_ns)
    points = (
        f"SELECT {', '.join(inner)} FROM {sql_ident(m.table)} WHERE {' AND '.join(where)} "
        f"GROUP BY {', '.join(group)}"
    )

    def resolve(key: str) -> str | None:
        if key == "_measurement":
            return sql_string(m.name)
        if key == "_field":
            return sql_string(col.key)
        tag = m.tags.get(key)
        return tag.name if tag else None

    condition = to_sql(request.predicate, resolve) if request.predicate is not None else "TRUE"
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

RANKS = "_fl_series_ranks"


def series_key_expr(measurement: str, tags: list[str]) -> pl.Expr:
    """InfluxDB's series key text `m,k1=v1,k2=v2` (sorted keys, absent tags left out)."""
    parts = [pl.lit(measurement)]
    for tag in sorted(tags):
        parts.append(pl.concat_str([pl.lit(f",{tag}="), pl.col(tag)]).fill_null(""))
    return pl.concat_str(parts)


def bucket_totals(
    store: Store,
    bucket: str,
    *,
    start_ns: int | None,
    stop_ns: int | None,
    predicate: Predicate | None,
    bucket_ns: int,
) -> tuple[FieldType, pa.Table] | None:
    """Per epoch-aligned time bucket: `_time` (ns), count, sum (numeric types) and
    `first_rank`, the smallest (series key, field) rank among the points in it.

    `truncateTimeColumn |> group(columns: ["_time"])` meets its groups in series order,
    then time: `first_rank` gives that order without grouping millions of points by
    series. Ranks are computed from the small series tables (exact string order of the
    series keys) and joined to the points by integer series id. None when the matching
    fields have several value types (they cannot share a group).
    """
    with store._mutex:
        request = store._request(bucket, start_ns, stop_ns, None, None, predicate)
        typed = {
            ftype: [b for b in branches if _may_match(predicate, b) is not False]
            for ftype, branches in scans.branches_by_type(request).items()
        }
        typed = {t: b for t, b in typed.items() if b}
        if len(typed) != 1:
            return None
        ftype, branches = next(iter(typed.items()))
        ranks = _branch_ranks(store, request, branches)
        store._con.register(RANKS, ranks)
        try:
            sql = _bucket_sql(request, branches, ftype, bucket_ns)
            table = scans._run(store._con, sql)
        finally:
            store._con.unregister(RANKS)
        names = ["_time", "count", *(["sum"] if ftype in _SUM_TYPES else []), "first_rank"]
        return ftype, table.rename_columns(names)


def _branch_ranks(
    store: Store, request: scans.ScanRequest, branches: list[scans.Branch]
) -> pa.Table:
    """(branch number, sid, rank) for every series of the branches that passes the
    predicate; rank orders (series key, field) like the Flux layer's table order."""
    frames = []
    for number, branch in enumerate(branches):
        m, col = branch.measurement, branch.field
        tags = sorted(m.tags)
        select = [SERIES_ID, *(f"{m.tags[k].name}" for k in tags)]

        def resolve(key: str, m: Measurement = m, col: Column = col) -> str | None:
            if key == "_measurement":
                return sql_string(m.name)
            if key == "_field":
                return sql_string(col.key)
            tag = m.tags.get(key)
            return tag.name if tag else None

        condition = to_sql(request.predicate, resolve) if request.predicate else "TRUE"
        sql = f"SELECT {', '.join(select)} FROM {sql_ident(m.series)} WHERE {condition}"
        arrow = scans._run(store._con, sql).rename_columns(["sid", *tags])
        frame = pl.from_arrow(arrow)
        assert isinstance(frame, pl.DataFrame)
        frames.append(frame.select(
            pl.lit(number, pl.Int64).alias("b"),
            pl.col("sid").cast(pl.Int64),
            series_key_expr(m.name, tags).alias("key"),
            pl.lit(col.key).alias("field"),
        ))
    ranked = pl.concat(frames).sort(["key", "field"]).with_row_index("rk")
    return ranked.select("b", "sid", pl.col("rk").cast(pl.Int64)).to_arrow()


def _bucket_start(t: str, bucket_ns: int, start_ns: int | None) -> str:
    """SQL for the start of the epoch-aligned bucket holding `t` (ns). DuckDB's `//`
    truncates toward zero, which is the floor only for t >= 0: when the scan's start
    bound guarantees that, the plain division (much cheaper) is used."""
    if start_ns is not None and start_ns >= 0:
        return f"({t} // {bucket_ns}) * {bucket_ns}"
    return f"({t} - ((({t} % {bucket_ns}) + {bucket_ns}) % {bucket_ns}))"


def _bucket_sql(
    request: scans.ScanRequest, branches: list[scans.Branch], ftype: FieldType, bucket_ns: int
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
        parts.append(
            f"SELECT {_bucket_start(t, bucket_ns, request.start_ns)} AS tb, "
            f"{', '.join(values)}, min(r.rk) AS rk FROM {sql_ident(m.table)} p "
            f"JOIN {RANKS} r ON p.{SERIES_ID} = r.sid AND r.b = {number} "
            f"WHERE {' AND '.join(where)} GROUP BY tb"
        )
    sums = f", sum(s)::{_SUM_TYPES[ftype]}" if numeric else ""
    return (
        f"SELECT tb, sum(n)::BIGINT{sums}, min(rk) FROM ({' UNION ALL '.join(parts)}) "
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

    def resolve(key: str) -> str | None:
        if key == "_measurement":
            return sql_string(m.name)
        if key == "_field":
            return sql_string(col.key)
        tag = m.tags.get(key)
        return tag.name if tag else None

    condition = to_sql(request.predicate, resolve) if request.predicate is not None else "TRUE"
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
