"""Per-series partial aggregates in one SQL pass, for Flux's grouped aggregate pushdown.

`store.scan_aggregate` computes one aggregate per requested group. Flux pushdown of
`group(columns:) |> count/sum/mean` needs a little more to reproduce the unpushed
result exactly: the output order of groups follows the order in which they first
appear in the series-ordered stream, and a group key holds only the tag columns a
series has. So the store returns one row per series and field (and per time bucket
when `bucket_ns` is given, for `truncateTimeColumn |> group(columns: ["_time"])`)
with count, sum, min and max of `_value`; the Flux layer combines those few rows
into the groups (thousands of rows instead of millions). This reuses the scan's SQL
(scan.union_sql: time range, retention, predicate) so what is counted is exactly
what `store.scan` would return.
"""

from __future__ import annotations

import pyarrow as pa

from fluxlab.model.points import FieldType
from fluxlab.storage import scan as scans
from fluxlab.storage.predicate import And, Cmp, Not, Or, Predicate, evaluate
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
) -> list[tuple[FieldType, pa.Table]]:
    """(value type, table) per stored value type; columns _measurement, _field, the tag
    keys (null where a series lacks the tag), `_time` (start of the epoch-aligned
    `bucket_ns` bucket, int64 ns) when bucketed, then count and, for numeric types,
    sum, min and max of the values. Empty types are left out."""
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
            sql, names = _partials_sql(request, branches, tag_keys, ftype, bucket_ns)
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
) -> tuple[str, list[str]]:
    group = ["c0", "c1", *(f"c{i}" for i in range(4, 4 + len(tag_keys)))]
    names = ["_measurement", "_field", *tag_keys]
    select = list(group)
    if bucket_ns is not None:
        t = "epoch_ns(c2)"
        select.append(f"({t} - ((({t} % {bucket_ns}) + {bucket_ns}) % {bucket_ns})) AS tb")
        group.append("tb")
        names.append("_time")
    select.append("count(c3)::BIGINT")
    names.append("count")
    if ftype in _SUM_TYPES:
        select += [f"sum(c3)::{_SUM_TYPES[ftype]}", "min(c3)", "max(c3)"]
        names += ["sum", "min", "max"]
    inner = scans.union_sql(request, branches, tag_keys)
    sql = f"SELECT {', '.join(select)} FROM ({inner}) GROUP BY {', '.join(group)}"
    return sql, names


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
