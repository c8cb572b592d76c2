"""`from(bucket:)` over the embedded store, with `range` and `filter` pushdown.

`from()` returns a `StoreSource`: a stream that has not read anything yet. `range()`
and `filter()` applied directly to it refine the scan (time bounds, and a
storage predicate on `_measurement`/`_field`/tags translated from the filter
lambda) instead of running; the first function that looks at the tables triggers
one `store.scan()`. A filter that cannot be translated completely is also applied
to the scanned rows.

Translated tag comparisons follow InfluxDB's storage engine, as a real InfluxDB 2
does when it pushes the same filter down: a series without the tag compares as if
the tag were the empty string (so `r.host != "a"` keeps series that have no host).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl
import pyarrow as pa

from fluxlab.flux import ast
from fluxlab.flux.context import Context
from fluxlab.flux.errors import FluxRuntimeError
from fluxlab.flux.registry import builtin
from fluxlab.flux.scope import Closure
from fluxlab.flux.table import TIME_TYPE, Stream, Table
from fluxlab.flux.values import Duration, Regex, Time
from fluxlab.storage.predicate import And, Cmp, Not, Or, Predicate


@dataclass
class ScanPlan:
    bucket: str
    start: Time | None = None
    stop: Time | None = None
    predicate: Predicate | None = None
    residual_filters: list[Any] = field(default_factory=list)  # applied after the scan
    ops: list[tuple[str, Any]] = field(default_factory=list)  # pending group/truncate, replayed


class StoreSource(Stream):
    """A lazily read `from()` stream; reading `.tables` performs the scan."""

    def __init__(self, ctx: Context, plan: ScanPlan) -> None:  # noqa: D107
        self.ctx = ctx
        self.plan = plan
        self._tables: list[Table] | None = None

    @property  # type: ignore[override]
    def tables(self) -> list[Table]:
        if self._tables is None:
            self._tables = self._read()
        return self._tables

    @tables.setter
    def tables(self, value: list[Table]) -> None:
        self._tables = value

    def _read(self) -> list[Table]:
        """The tables this source stands for; called once, on first use."""
        return list(read_plan(self.ctx, self.plan))

    def refined(self, **changes: Any) -> StoreSource:
        plan = ScanPlan(**{**self.plan.__dict__, **changes})
        return StoreSource(self.ctx, plan)

    @property
    def pending(self) -> bool:
        """Not read yet and still a plain scan: range/filter (and geo) may refine the plan.

        False once a group/truncate is deferred in `plan.ops`: refining the scan then
        would apply after those, which is only done by push_aggregate (see `unread`).
        """
        return self._tables is None and not self.plan.ops

    @property
    def unread(self) -> bool:
        """Nothing read yet (deferred ops may be pending)."""
        return self._tables is None

    def __repr__(self) -> str:
        return f"StoreSource({self.plan})"


class DerivedSource(StoreSource):
    """Rows a pushed-down step computes from a scan, not read yet; no longer a plain scan
    (`pending` is False), so only its own `push_chain` may refine it further."""

    @property
    def pending(self) -> bool:
        return False


@builtin("universe", "from")
def from_(
    ctx: Context,
    bucket: str | None = None,
    bucketID: str | None = None,  # noqa: N803
    host: str | None = None,
    org: str | None = None,
    orgID: str | None = None,  # noqa: N803
    token: str | None = None,
) -> Stream:
    """Read a bucket of the embedded store (lazily: see module docstring)."""
    if host is not None:
        raise FluxRuntimeError("from(host:) is not supported: this engine reads its own store")
    name = bucket or bucketID
    if not name:
        raise FluxRuntimeError("from: give bucket (or bucketID)")
    if ctx.source is None:
        raise FluxRuntimeError("from: no storage is attached to this query")
    try:
        ctx.source.get_bucket(name)
    except KeyError as exc:
        raise FluxRuntimeError(f"from: {exc}") from exc
    return StoreSource(ctx, ScanPlan(name))


@builtin("universe")
def buckets(ctx: Context, host: str | None = None, org: str | None = None, **_: Any) -> Stream:
    """One table listing the store's buckets (name, id, organizationID, retention)."""
    if ctx.source is None:
        raise FluxRuntimeError("buckets: no storage is attached to this query")
    rows = ctx.source.list_buckets()
    df = pl.DataFrame(
        {
            "name": [b.name for b in rows],
            "id": [str(b.id) for b in rows],
            "organizationID": [b.org for b in rows],
            "retentionPolicy": [None] * len(rows),
            "retentionPeriod": [b.retention_ns for b in rows],
        },
        schema={
            "name": pl.String,
            "id": pl.String,
            "organizationID": pl.String,
            "retentionPolicy": pl.String,
            "retentionPeriod": pl.Int64,
        },
    )
    return Stream([Table((), (), df)])


# ----------------------------------------------------------------------------- reading


def read_plan(ctx: Context, plan: ScanPlan) -> Stream:
    if plan.start is None:
        raise FluxRuntimeError(
            f'cannot submit unbounded read to "{plan.bucket}"; try bounding from() with range()'
        )
    ctx.check_time()
    arrow_tables = ctx.source.scan(
        plan.bucket,
        start_ns=plan.start.ns,
        stop_ns=plan.stop.ns if plan.stop else None,
        predicate=plan.predicate,
    )
    _check_row_cap(ctx, sum(t.num_rows for t in arrow_tables), plan.bucket)
    grouped = _grouped_directly(arrow_tables, plan)
    if grouped is not None:
        return _replay_ops(ctx, grouped, plan.ops[1:])
    tables: list[Table] = []
    for arrow in arrow_tables:
        frame = pl.from_arrow(arrow)
        assert isinstance(frame, pl.DataFrame)
        tables.extend(_series_tables(frame, plan))
    tables.sort(key=_series_order)
    stream = Stream(tables)
    for fn in plan.residual_filters:
        from fluxlab.flux.stdlib.core import filter_

        stream = filter_(ctx, stream, fn)
    return _replay_ops(ctx, stream, plan.ops)


def _replay_ops(ctx: Context, stream: Stream, ops: list[tuple[str, Any]]) -> Stream:
    """Run the deferred group/keep/truncateTimeColumn calls for real (nothing was pushed)."""
    from fluxlab.flux.stdlib.core import group, keep
    from fluxlab.flux.stdlib.windows import truncateTimeColumn

    for name, arg in ops:
        if name == "group":
            stream = group(ctx, stream, columns=list(arg), mode="by")
        elif name == "keep":
            stream = keep(ctx, stream, columns=list(arg))
        else:
            stream = truncateTimeColumn(ctx, stream, unit=arg)
    return stream


def _check_row_cap(ctx: Context, rows: int, bucket: str) -> None:
    """Stop before a scan's rows are split into tables when they exceed the query's cap
    (`LimitedContext.max_rows`): splitting and later steps multiply the memory used."""
    cap = getattr(ctx, "max_rows", None)
    if cap is not None and rows > cap:
        from fluxlab.flux.limits import QueryLimitError

        raise QueryLimitError(
            f'query read {rows:,} rows from bucket "{bucket}", more than its limit of '
            f"{cap:,} rows; narrow the range() or filter(), aggregate earlier, or raise the limit"
        )


def _series_order(table: Table) -> tuple[bytes, str]:
    """InfluxDB's output order: series key (measurement, sorted tags), then field."""
    key = table.key_dict()
    tags = sorted(k for k in key if not k.startswith("_"))
    series = str(key.get("_measurement")) + "".join(f",{k}={key[k]}" for k in tags)
    return series.encode(), str(key.get("_field"))


def _long_frame(frame: pl.DataFrame, plan: ScanPlan) -> tuple[pl.DataFrame, list[str]]:
    """Scan rows with `_start`/`_stop` and InfluxDB's column order; and the tag keys."""
    assert plan.start is not None and plan.stop is not None
    fixed = ("_measurement", "_field", "_time", "_value")
    tags = sorted(c for c in frame.columns if c not in fixed)
    bounds = [
        pl.lit(plan.start.ns, pl.Int64).cast(TIME_TYPE).alias("_start"),
        pl.lit(plan.stop.ns, pl.Int64).cast(TIME_TYPE).alias("_stop"),
    ]
    frame = frame.select(
        [*bounds, pl.col("_time").cast(TIME_TYPE), "_value", "_field", "_measurement", *tags]
    )
    return frame, tags


def _series_tables(frame: pl.DataFrame, plan: ScanPlan) -> list[Table]:
    """One table per series and field, with InfluxDB's column order and group key."""
    frame, tags = _long_frame(frame, plan)
    out = []
    # A series has a tag in every row or in none: split once per pattern of present
    # tags (few), drop the absent tag columns there, then split into series.
    pattern = pl.concat_str([pl.col(t).is_not_null().cast(pl.String) for t in tags]) if tags \
        else pl.lit("")
    for (_,), same in frame.with_columns(pattern.alias("__tags")).partition_by(
        "__tags", maintain_order=True, include_key=False, as_dict=True
    ).items():
        present = [t for t in tags if same.get_column(t)[0] is not None]
        same = same.drop([t for t in tags if t not in present])
        key = ("_start", "_stop", "_field", "_measurement", *sorted(present))
        for part in same.partition_by(["_measurement", "_field", *present], maintain_order=True):
            out.append(Table.from_frame(part, key))
    return out


def _grouped_directly(arrow_tables: list[pa.Table], plan: ScanPlan) -> Stream | None:
    """`from |> range |> filter |> group(columns:)` read straight into the group tables.

    Why: splitting 10M rows into one table per series (258K series) only for `group` to
    merge them again took 10 s and GBs. When every series has the same tag keys and one
    value type (a single scan table), `group` over the series tables (in series order)
    is the same as one partition of all rows in series order; anything else (or a scan
    whose series are not contiguous) returns None and takes the general path.
    """
    if plan.residual_filters or not plan.ops or plan.ops[0][0] != "group":
        return None
    if len(arrow_tables) != 1:
        return None
    raw = pl.from_arrow(arrow_tables[0])
    assert isinstance(raw, pl.DataFrame)
    frame, tags = _long_frame(raw, plan)
    nulls = {t: frame.get_column(t).null_count() for t in tags}
    if any(0 < n < frame.height for n in nulls.values()):
        return None  # series with different tag sets: their tables differ in columns
    present = [t for t in tags if nulls[t] == 0]
    frame = frame.drop([t for t in tags if nulls[t]])
    ordered = _in_series_order(frame, present)
    if ordered is None:
        return None
    columns = plan.ops[0][1]
    return Stream.from_frame(ordered, [c for c in columns if c in ordered.columns])


def _in_series_order(frame: pl.DataFrame, tags: list[str]) -> pl.DataFrame | None:
    """Rows reordered so series come in `_series_order` (rows of a series keep their
    order); None when a series is not one contiguous run of rows (then the general path
    sorts tables). Only the first row of each run is compared and sorted."""
    series_cols = ["_measurement", *tags, "_field"]
    changed = pl.any_horizontal([pl.col(c).ne_missing(pl.col(c).shift(1)) for c in series_cols])
    # row 0 differs from the null before it, so the first run starts at 0
    starts = np.flatnonzero(frame.select(changed.fill_null(True)).to_series().to_numpy())
    heads = frame.select(series_cols).gather(starts)
    series = pl.concat_str(
        [pl.col("_measurement").cast(pl.String),
         *[pl.lit(f",{t}=") + pl.col(t).cast(pl.String) for t in tags]]
    )
    keys = heads.select(series.alias("s"), pl.col("_field").cast(pl.String).alias("f"))
    keys = keys.with_row_index("run").sort(["s", "f"], maintain_order=True)
    repeated = keys.select(
        ((pl.col("s") == pl.col("s").shift(1)) & (pl.col("f") == pl.col("f").shift(1))).any()
    ).item()
    if repeated:
        return None
    order = keys.get_column("run").to_numpy().astype(np.int64)
    if (order == np.arange(order.size)).all():
        return frame
    lengths = np.diff(np.append(starts, frame.height))[order]
    begin = starts[order]
    first_out = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    index = np.arange(frame.height, dtype=np.int64) + np.repeat(begin - first_out, lengths)
    return frame[index]


# ----------------------------------------------------------------------------- pushdown


def push_range(source: StoreSource, start: Time, stop: Time) -> StoreSource | None:
    """`from |> range`: bounds go into the scan (only the first range is pushed)."""
    if not source.pending or source.plan.start is not None or source.plan.ops:
        return None
    return source.refined(start=start, stop=stop)


def push_filter(ctx: Context, source: StoreSource, fn: Any) -> StoreSource | None:
    """`from |> range |> filter`: translate the lambda into a storage predicate."""
    plan = source.plan
    if not source.pending or plan.start is None or plan.residual_filters or plan.ops:
        return None
    translated = translate_filter(ctx, fn)
    if translated is None:
        return source.refined(residual_filters=[fn])
    predicate, exact = translated
    if source.plan.predicate is not None:
        predicate = And([source.plan.predicate, predicate])
    combined = predicate
    return source.refined(predicate=combined, residual_filters=[] if exact else [fn])


def translate_filter(ctx: Context, fn: Any) -> tuple[Predicate, bool] | None:
    """(predicate, exact) for a `(r) => ...` lambda, or None when nothing translates.

    The predicate keeps a superset of the rows the lambda keeps; `exact` says the
    whole lambda was translated (with InfluxDB's absent-tag rule, see module doc).
    """
    if not isinstance(fn, Closure) or len(fn.params) != 1:
        return None
    body = fn.node.body
    if isinstance(body, ast.Block):
        if len(body.body) != 1 or not isinstance(body.body[0], ast.ReturnStatement):
            return None
        body = body.body[0].argument
    return _Translator(ctx, fn).translate(body)


class _Translator:
    def __init__(self, ctx: Context, fn: Closure) -> None:
        self.ctx = ctx
        self.fn = fn
        self.param = fn.params[0]

    def translate(self, node: ast.Expression) -> tuple[Predicate, bool] | None:
        if isinstance(node, ast.LogicalExpression):
            left, right = self.translate(node.left), self.translate(node.right)
            if node.operator == "and":
                parts = [p for p in (left, right) if p is not None]
                if not parts:
                    return None
                exact = left is not None and right is not None and left[1] and right[1]
                pred = parts[0][0] if len(parts) == 1 else And([parts[0][0], parts[1][0]])
                return pred, exact
            if left is None or right is None:
                return None
            return Or([left[0], right[0]]), left[1] and right[1]
        if isinstance(node, ast.UnaryExpression) and node.operator == "not":
            inner = self.translate(node.argument)
            if inner is None or not inner[1]:
                return None
            return Not(inner[0]), True
        if isinstance(node, ast.BinaryExpression):
            return self._comparison(node)
        return None

    def _comparison(self, node: ast.BinaryExpression) -> tuple[Predicate, bool] | None:
        if node.operator not in ("==", "!=", "=~", "!~"):
            return None
        key = self._column(node.left)
        other = node.right
        if key is None and node.operator in ("==", "!="):
            key, other = self._column(node.right), node.left
        if key is None or key in ("_time", "_value", "_start", "_stop"):
            return None
        value = self._constant(other)
        if node.operator in ("=~", "!~"):
            if not isinstance(value, Regex):
                return None
            text = value.source
        elif isinstance(value, str):
            text = value
        else:
            return None
        return Cmp(key, node.operator, text), True

    def _column(self, node: ast.Expression) -> str | None:
        if isinstance(node, ast.MemberExpression) and isinstance(node.object, ast.Identifier):
            return node.property if node.object.name == self.param else None
        if (
            isinstance(node, ast.IndexExpression)
            and isinstance(node.array, ast.Identifier)
            and node.array.name == self.param
            and isinstance(node.index, ast.StringLiteral)
        ):
            return node.index.value
        return None

    def _constant(self, node: ast.Expression) -> Any:
        if isinstance(node, ast.StringLiteral):
            return node.value
        if isinstance(node, ast.RegexpLiteral | ast.Identifier | ast.MemberExpression):
            from fluxlab.flux.compile import _uses

            if _uses(node, self.param) or self.ctx.interpreter is None:
                return None
            try:
                return self.ctx.interpreter.eval(node, self.fn.scope)
            except Exception:  # noqa: BLE001 - anything odd: just do not push down
                return None
        return None


# ----------------------------------------------------------------------------- aggregates

PUSHABLE_AGGREGATES = frozenset({"count", "sum", "mean", "first", "last"})
_SELECTORS = frozenset({"first", "last"})


def push_aggregate(
    ctx: Context, source: StoreSource, fn_name: str, args: dict[str, Any]
) -> Stream | None:
    """`from |> range |> filter |> count()` (sum, mean, first, last) computed in the store.

    Returns None (the caller then runs the function normally) unless the chain is
    fully pushed down and the call uses only default arguments.
    """
    chain = getattr(source, "push_chain", None)
    if chain is not None:  # a source refined past the scan (geo_pushdown.CircleRows)
        return chain(ctx, fn_name, args)
    plan = source.plan
    if not source.unread or plan.start is None or plan.residual_filters:
        return None
    if fn_name == "group":
        return _defer_group(ctx, source, args)
    if fn_name == "keep":
        return _defer_keep(ctx, source, args)
    if fn_name == "distinct":
        return _push_distinct(ctx, source, args)
    if any(name == "keep" for name, _ in plan.ops):
        return None
    if fn_name == "truncateTimeColumn":
        return _defer_truncate(ctx, source, args)
    if fn_name == "aggregateWindow":
        return _push_aggregate_window(ctx, source, args)
    if plan.ops:
        return _push_grouped(ctx, source, fn_name, args)
    if fn_name not in PUSHABLE_AGGREGATES:
        return None
    if plan.residual_filters or any(v != "_value" for v in args.values()):
        return None
    if set(args) - {"column"}:
        return None
    assert plan.stop is not None
    tag_keys = sorted(ctx.source.tag_keys(plan.bucket))
    try:
        arrow_tables = ctx.source.scan_aggregate(
            plan.bucket,
            group_by=["_measurement", "_field", *tag_keys],
            fn=fn_name,
            start_ns=plan.start.ns,
            stop_ns=plan.stop.ns,
            predicate=plan.predicate,
        )
    except Exception as exc:  # noqa: BLE001 - storage errors become Flux errors
        raise FluxRuntimeError(f"{fn_name}: {exc}") from exc
    tables: list[Table] = []
    for arrow in arrow_tables:
        frame = pl.from_arrow(arrow)
        assert isinstance(frame, pl.DataFrame)
        tables.extend(_aggregate_tables(frame, plan, tag_keys, fn_name in _SELECTORS))
    tables.sort(key=_series_order)
    return Stream(tables)


def _aggregate_tables(
    frame: pl.DataFrame, plan: ScanPlan, tags: list[str], selector: bool
) -> list[Table]:
    assert plan.start is not None and plan.stop is not None
    bounds = [
        pl.lit(plan.start.ns, pl.Int64).cast(TIME_TYPE).alias("_start"),
        pl.lit(plan.stop.ns, pl.Int64).cast(TIME_TYPE).alias("_stop"),
    ]
    if selector:
        columns = [*bounds, "_time", "_value", "_field", "_measurement", *tags]
    else:
        columns = [*bounds, "_field", "_measurement", *tags, "_value"]
    frame = frame.select(columns)
    out = []
    for part in frame.partition_by(["_measurement", "_field", *tags], maintain_order=True):
        part = part.drop([t for t in tags if part.get_column(t).null_count() == part.height])
        present = [t for t in tags if t in part.columns]
        out.append(Table.from_frame(part, ("_start", "_stop", "_field", "_measurement", *present)))
    return out


# ----------------------------------------------------------------------------- grouped aggregates

GROUPED_AGGREGATES = frozenset({"count", "sum", "mean"})
_CONSTANT_COLUMNS = ("_start", "_stop")
_TIME_KEY = "_time"


def _defer_group(ctx: Context, source: StoreSource, args: dict[str, Any]) -> StoreSource | None:
    """`|> group(columns: [...])` on a pending scan: remembered, run or pushed later.

    Only mode "by" with series columns (_measurement, _field, tags, _start, _stop, and
    _time after truncateTimeColumn) is deferred; anything else runs normally.
    """
    plan = source.plan
    columns = args.get("columns", [])
    if set(args) - {"columns", "mode"} or args.get("mode", "by") != "by":
        return None
    if not isinstance(columns, list) or not all(isinstance(c, str) for c in columns):
        return None
    if any(name == "group" for name, _ in plan.ops) or "_value" in columns:
        return None
    if any(name == "keep" for name, _ in plan.ops) and columns:
        return None  # only `keep |> group() |> distinct` (schema.tagValues) is pushed
    truncated = any(name == "truncate" for name, _ in plan.ops)
    if _TIME_KEY in columns and not truncated:
        return None
    return source.refined(ops=[*plan.ops, ("group", tuple(columns))])


def _defer_truncate(
    ctx: Context, source: StoreSource, args: dict[str, Any]
) -> StoreSource | None:
    """`|> truncateTimeColumn(unit:)` with a fixed unit in UTC: deferred (see _defer_group)."""
    unit = args.get("unit")
    if set(args) - {"unit"} or source.plan.ops or not isinstance(unit, Duration):
        return None
    if not unit.is_fixed() or unit.total_ns() <= 0 or not _utc(ctx):
        return None
    return source.refined(ops=[("truncate", unit)])


def _utc(ctx: Context) -> bool:
    location = ctx.location
    offset = location.get("offset")
    no_offset = offset is None or (isinstance(offset, Duration) and offset == Duration())
    return location.get("zone") in ("UTC", "", None) and no_offset


def _push_grouped(
    ctx: Context, source: StoreSource, fn_name: str, args: dict[str, Any]
) -> Stream | None:
    """`[truncateTimeColumn |>] group(columns:) |> count/sum/mean` from per-series partials.

    The store returns one row per series, field (and time bucket); they are combined
    here in the order the unpushed path would first meet each group (series order,
    then time), so the tables, keys, columns and types are the same.
    """
    from fluxlab.storage.pushdown import series_partials

    plan = source.plan
    groups = [arg for name, arg in plan.ops if name == "group"]
    if not groups or set(args) - {"column"} or args.get("column", "_value") != "_value":
        return None
    if fn_name in GROUP_EXTREMES and plan.ops == [("group", groups[0])]:
        return _push_group_extremes(ctx, source, list(groups[0]), fn_name)
    if fn_name not in GROUPED_AGGREGATES:
        return None
    columns = list(groups[0])
    truncate = next((arg for name, arg in plan.ops if name == "truncate"), None)
    bucket_ns = truncate.total_ns() if truncate is not None and _TIME_KEY in columns else None
    assert plan.start is not None and plan.stop is not None
    if bucket_ns is not None and columns == [_TIME_KEY]:
        return _push_time_buckets(ctx, source, bucket_ns, fn_name)
    if bucket_ns is None:
        totals = _push_group_totals(ctx, source, columns, fn_name)
        if totals is not None:
            return totals
    try:
        partials = series_partials(
            ctx.source, plan.bucket, start_ns=plan.start.ns, stop_ns=plan.stop.ns,
            predicate=plan.predicate, bucket_ns=bucket_ns,
        )
    except Exception as exc:  # noqa: BLE001 - storage errors become Flux errors
        raise FluxRuntimeError(f"{fn_name}: {exc}") from exc
    if len(partials) > 1:
        return None  # several value types would meet in one group: let Flux report it
    if not partials:
        return Stream()
    ftype, arrow = partials[0]
    if fn_name in ("sum", "mean") and "sum" not in arrow.column_names:
        return None  # sum of strings/booleans: the unpushed path raises Flux's error
    frame = pl.from_arrow(arrow)
    assert isinstance(frame, pl.DataFrame)
    return _combine_partials(frame, plan, columns, fn_name)


GROUP_EXTREMES = frozenset({"max", "min"})


def _push_group_extremes(
    ctx: Context, source: StoreSource, columns: list[str], fn_name: str
) -> Stream | None:
    """`group(columns:) |> max()/min()`: the chosen row of each group from one SQL
    statement (storage.pushdown.group_extremes); None (general path) when the store
    cannot answer it exactly: several or non-numeric value types, or a group whose
    series differ in tag keys (its table would have other columns)."""
    from fluxlab.storage.pushdown import group_extremes

    plan = source.plan
    assert plan.start is not None and plan.stop is not None
    try:
        found = group_extremes(
            ctx.source, plan.bucket, start_ns=plan.start.ns, stop_ns=plan.stop.ns,
            predicate=plan.predicate, columns=columns, fn=fn_name,
        )
    except Exception as exc:  # noqa: BLE001 - storage errors become Flux errors
        raise FluxRuntimeError(f"{fn_name}: {exc}") from exc
    if found is None:
        return None
    _tags, arrow = found
    chosen = pl.from_arrow(arrow)
    assert isinstance(chosen, pl.DataFrame)
    if chosen.height == 0:
        return Stream()
    if not chosen.get_column("complete").all():
        return None
    frame, _ = _long_frame(chosen.drop("complete"), plan)
    # one row per group and distinct groups: splitting by the key gives one table each
    return Stream.from_frame(frame, [c for c in columns if c in frame.columns])


def _push_group_totals(
    ctx: Context, source: StoreSource, columns: list[str], fn_name: str
) -> Stream | None:
    """`group(columns:) |> count/sum/mean` from one SQL statement (see group_totals): the
    store returns one row per group already in the unpushed path's order, so only the
    `_value` and the constant `_start`/`_stop` columns are added here. None when the
    store declines (several value types): the partials path below decides then."""
    from fluxlab.storage.pushdown import group_totals

    plan = source.plan
    assert plan.start is not None and plan.stop is not None
    if len(set(columns)) != len(columns):
        return None  # a repeated column: left to the partials path
    try:
        found = group_totals(
            ctx.source, plan.bucket, start_ns=plan.start.ns, stop_ns=plan.stop.ns,
            predicate=plan.predicate, columns=columns, with_count=fn_name != "sum",
            with_sum=fn_name != "count",
        )
    except Exception as exc:  # noqa: BLE001 - storage errors become Flux errors
        raise FluxRuntimeError(f"{fn_name}: {exc}") from exc
    if found is None:
        return None
    _, tags, arrow = found
    if fn_name in ("sum", "mean") and "sum" not in arrow.column_names:
        return None  # sum of strings/booleans: the unpushed path raises Flux's error
    if arrow.num_rows == 0:
        return Stream()
    frame = pl.from_arrow(arrow)
    assert isinstance(frame, pl.DataFrame)
    known = {"_measurement", "_field", *tags, *_CONSTANT_COLUMNS}
    keys = [c for c in columns if c in known]
    value = {
        "count": pl.col("count"),
        "sum": pl.col("sum"),
        "mean": pl.col("sum").cast(pl.Float64) / pl.col("count"),
    }[fn_name].alias("_value")
    bounds = {"_start": plan.start.ns, "_stop": plan.stop.ns}
    frame = frame.select(
        [pl.lit(bounds[k], pl.Int64).cast(TIME_TYPE).alias(k) if k in bounds else pl.col(k)
         for k in keys] + [value]
    )
    from fluxlab.flux.stdlib.grouped_frame import GroupedFrame

    return GroupedFrame.of(ctx, source, frame, keys)


def _combine_partials(
    frame: pl.DataFrame, plan: ScanPlan, columns: list[str], fn_name: str
) -> Stream:
    assert plan.start is not None and plan.stop is not None
    tags = [c for c in frame.columns if c not in ("_measurement", "_field", "_time", "count",
                                                  "sum", "min", "max")]
    frame = _with_series_rank(frame, tags)
    order = ["__rank", _TIME_KEY] if _TIME_KEY in frame.columns else ["__rank"]
    frame = frame.sort(order)
    bounds = {
        "_start": pl.lit(plan.start.ns, pl.Int64).cast(TIME_TYPE),
        "_stop": pl.lit(plan.stop.ns, pl.Int64).cast(TIME_TYPE),
    }
    known = {"_measurement", "_field", _TIME_KEY, *tags, *bounds}
    keys = [c for c in columns if c in known]
    frame = frame.with_columns(
        [expr.alias(name) for name, expr in bounds.items() if name in keys]
        + ([pl.col(_TIME_KEY).cast(TIME_TYPE)] if _TIME_KEY in frame.columns else [])
    )
    value = {
        "count": pl.col("count").sum().cast(pl.Int64),
        "sum": pl.col("sum").sum().cast(frame.schema.get("sum", pl.Float64)),
        "mean": (pl.col("sum").sum().cast(pl.Float64) / pl.col("count").sum()),
    }[fn_name].alias("_value")
    if not keys:
        out = frame.select(value)
        return Stream([Table((), (), out)])
    reduced = frame.group_by(keys, maintain_order=True).agg(value)
    tables = []
    for part in reduced.partition_by(keys, maintain_order=True):
        present = [k for k in keys if part.get_column(k)[0] is not None]
        tables.append(Table.from_frame(part.select([*present, "_value"]), present))
    return Stream(tables)


def _with_series_rank(frame: pl.DataFrame, tags: list[str]) -> pl.DataFrame:
    """`__rank`: position of each row's (series, field) in `_series_order`.

    Computed on the distinct series (hundreds) and joined back, not per partial row.
    """
    ident = ["_measurement", "_field", *tags]
    parts = [pl.col("_measurement")]
    for tag in sorted(tags):
        parts.append(pl.concat_str([pl.lit(f",{tag}="), pl.col(tag)]).fill_null(""))
    series = frame.select(ident).unique().with_columns(pl.concat_str(parts).alias("__series"))
    series = series.sort(["__series", "_field"]).with_row_index("__rank").drop("__series")
    return frame.join(series, on=ident, how="left", nulls_equal=True)


# ----------------------------------------------------------------------------- aggregateWindow

_WINDOW_FNS = {"count", "sum", "mean"}


def _push_aggregate_window(
    ctx: Context, source: StoreSource, args: dict[str, Any]
) -> Stream | None:
    """`[group(columns:) |>] aggregateWindow(every:, fn: count|sum|mean)` in the store.

    Only the defaults of the other parameters (UTC, no offset, period = every,
    _value, timeSrc _stop, timeDst _time) are pushed. Output: per group (or series)
    one row per window of [start, stop), empty windows included unless createEmpty is
    false, columns like the unpushed fast path (key columns, _start, _stop, _value,
    _time = window stop clipped to the range).
    """
    from fluxlab.flux.registry import NativeFunction
    from fluxlab.storage.pushdown import series_partials

    plan = source.plan
    every, fn = args.get("every"), args.get("fn")
    create_empty = args.get("createEmpty", True)
    if set(args) - {"every", "fn", "createEmpty"} or not isinstance(create_empty, bool):
        return None
    if not isinstance(fn, NativeFunction) or fn.package != "universe" or fn.name not in _WINDOW_FNS:
        return None
    if not isinstance(every, Duration) or not every.is_fixed() or every.total_ns() <= 0:
        return None
    if any(name != "group" for name, _ in plan.ops) or not _utc(ctx):
        return None
    assert plan.start is not None and plan.stop is not None
    every_ns = every.total_ns()
    lo, hi = plan.start.ns, plan.stop.ns
    if hi <= lo or (hi - lo) // every_ns > 5_000_000:
        return None
    if plan.ops == [("group", ())]:  # one table: totals per window, no series needed
        return _window_totals(ctx, plan, fn.name, every_ns, create_empty)
    try:
        partials = series_partials(
            ctx.source, plan.bucket, start_ns=lo, stop_ns=hi, predicate=plan.predicate,
            bucket_ns=every_ns,
        )
    except Exception as exc:  # noqa: BLE001 - storage errors become Flux errors
        raise FluxRuntimeError(f"aggregateWindow: {exc}") from exc
    groups = [arg for name, arg in plan.ops if name == "group"]
    if not partials:
        return Stream()
    if len(partials) > 1 and groups:
        return None
    if fn.name != "count" and any("sum" not in a.column_names for _, a in partials):
        return None
    frames = []
    for _, arrow in partials:
        frame = pl.from_arrow(arrow)
        assert isinstance(frame, pl.DataFrame)
        frames.append(frame)
    tags = sorted({c for f in frames for c in f.columns} - {
        "_measurement", "_field", "_time", "count", "sum", "min", "max"})
    tables: list[tuple[int, tuple[str, ...], Table]] = []
    for type_index, frame in enumerate(frames):
        frame = frame.with_columns([pl.lit(None, pl.String).alias(t) for t in tags
                                    if t not in frame.columns])
        frame = _with_series_rank(frame, tags)
        if groups:
            keys = [c for c in groups[0] if c in {"_measurement", "_field", *tags}]
        else:
            keys = ["_field", "_measurement", *tags]
        for table in _window_tables(frame, keys, fn.name, every_ns, lo, hi, create_empty):
            tables.append((type_index, table.key, table))
    if not groups:
        tables.sort(key=lambda item: _series_order(item[2]))
    return Stream(t for _, _, t in _by_first_seen_schema(tables))


def _by_first_seen_schema(
    tables: list[tuple[int, tuple[str, ...], Table]],
) -> list[tuple[int, tuple[str, ...], Table]]:
    """The unpushed path reduces tables schema by schema (input value type and key
    columns), in the order each schema first appears: a stable regrouping of the list."""
    order: dict[tuple[int, tuple[str, ...]], int] = {}
    for type_index, key, _ in tables:
        order.setdefault((type_index, key), len(order))
    return sorted(tables, key=lambda item: order[(item[0], item[1])])


def _window_tables(
    frame: pl.DataFrame,
    keys: list[str],
    fn_name: str,
    every_ns: int,
    lo: int,
    hi: int,
    create_empty: bool,
) -> list[Table]:
    """One table per group: every window's aggregate, in window order."""
    value = {
        "count": pl.col("count").sum().cast(pl.Int64),
        "sum": pl.col("sum").sum().cast(frame.schema.get("sum", pl.Float64)),
        "mean": pl.col("sum").sum().cast(pl.Float64) / pl.col("count").sum(),
    }[fn_name].alias("_value")
    frame = frame.sort(["__rank", "_time"])
    group_cols = [*keys, "__g"]
    frame = frame.with_columns(pl.struct(keys).rank("dense").alias("__g") if keys
                               else pl.lit(0).alias("__g"))
    reduced = frame.group_by([*group_cols, "_time"], maintain_order=True).agg(value)
    windows = pl.DataFrame(
        {"_time": pl.int_range(lo // every_ns, (hi - 1) // every_ns + 1, eager=True) * every_ns}
    )
    bounds = [
        pl.lit(lo, pl.Int64).cast(TIME_TYPE).alias("_start"),
        pl.lit(hi, pl.Int64).cast(TIME_TYPE).alias("_stop"),
    ]
    out = []
    for part in reduced.partition_by("__g", maintain_order=True):
        ident = part.select(keys).head(1)
        if create_empty:
            part = windows.join(part.drop(keys), on="_time", how="left")
            if fn_name == "count":
                part = part.with_columns(pl.col("_value").fill_null(0))
            part = part.sort("_time")
        else:
            part = part.sort("_time")
        stop = pl.min_horizontal(pl.col("_time") + every_ns, pl.lit(hi)).cast(TIME_TYPE)
        present = [k for k in keys if ident.get_column(k)[0] is not None]
        body = part.select(
            [pl.lit(ident.get_column(k)[0], pl.String).alias(k) for k in present]
            + bounds + [pl.col("_value"), stop.alias("_time")]
        )
        out.append(Table.from_frame(body, (*present, "_start", "_stop")))
    return out


# ----------------------------------------------------------------------------- tag values


def _defer_keep(ctx: Context, source: StoreSource, args: dict[str, Any]) -> StoreSource | None:
    """`|> keep(columns: [tag])` on a plain scan: the first step of schema.tagValues."""
    columns = args.get("columns")
    if set(args) != {"columns"} or source.plan.ops or not isinstance(columns, list):
        return None
    if len(columns) != 1 or not isinstance(columns[0], str):
        return None
    name = columns[0]
    if name not in ("_measurement", "_field") and name not in ctx.source.tag_keys(
        source.plan.bucket
    ):
        return None
    return source.refined(ops=[("keep", (name,))])


def _push_distinct(ctx: Context, source: StoreSource, args: dict[str, Any]) -> Stream | None:
    """`keep(columns: [tag]) |> group() |> distinct(column: tag)`: one table of the tag's
    values in the order the unpushed path meets them (series order)."""
    from fluxlab.storage.pushdown import (
        measurements_present,
        series_presence,
        tag_values_present,
    )

    plan = source.plan
    if len(plan.ops) != 2 or plan.ops[1] != ("group", ()) or plan.ops[0][0] != "keep":
        return None
    tag = plan.ops[0][1][0]
    if set(args) - {"column"} or args.get("column", "_value") != tag:
        return None
    assert plan.start is not None and plan.stop is not None
    bounds = {"start_ns": plan.start.ns, "stop_ns": plan.stop.ns, "predicate": plan.predicate}
    try:
        if tag == "_measurement":
            names = _measurement_values(measurements_present(ctx.source, plan.bucket, **bounds))
            if names is not None:
                return _value_table(pl.Series("_value", names, pl.String))
        elif tag != "_field":
            values = tag_values_present(ctx.source, plan.bucket, tag=tag, **bounds)
            if values is not None:
                return _value_table(pl.Series("_value", values, pl.String))
        presence = series_presence(ctx.source, plan.bucket, **bounds)
    except Exception as exc:  # noqa: BLE001 - storage errors become Flux errors
        raise FluxRuntimeError(f"distinct: {exc}") from exc
    if presence is None:
        return Stream()
    frame = pl.from_arrow(presence)
    assert isinstance(frame, pl.DataFrame)
    tags = [c for c in frame.columns if c not in ("_measurement", "_field")]
    if tag not in frame.columns:
        return Stream()
    ranked = _with_series_rank(frame, tags).sort("__rank")
    return _value_table(ranked.get_column(tag).drop_nulls().unique(maintain_order=True))


def _value_table(values: pl.Series) -> Stream:
    """distinct's one table of `_value`s (no table when there are none)."""
    if values.len() == 0:
        return Stream()
    return Stream([Table((), (), pl.DataFrame({"_value": values.cast(pl.String)}))])


def _measurement_values(names: list[str] | None) -> list[str] | None:
    """Measurement names in the order of their first series key (`name` or
    `name,tag=...`, as the unpushed path ranks them). Sorting `name + ","` gives that
    order unless a name holds a character sorting at or before "," (then one name may
    continue another and the order depends on tags: None, use the series)."""
    if names is None or any(min(n, default="~") <= "," for n in names):
        return None
    return sorted(names, key=lambda n: n + ",")


def _push_time_buckets(
    ctx: Context, source: StoreSource, bucket_ns: int, fn_name: str
) -> Stream | None:
    """`truncateTimeColumn |> group(columns: ["_time"]) |> count/sum/mean`: one total per
    time bucket, tables in the order the unpushed path meets them (see bucket_totals).

    The store query runs when the result is first needed, and without the series ranks
    when only `group() |> sort(columns: ["_time"])` follows (see grouped_frame)."""
    from fluxlab.flux.stdlib.grouped_frame import GroupedFrame
    from fluxlab.storage.pushdown import bucket_totals, bucket_value_type, is_numeric

    plan = source.plan
    assert plan.start is not None and plan.stop is not None
    bounds = {"start_ns": plan.start.ns, "stop_ns": plan.stop.ns, "predicate": plan.predicate}
    try:
        ftype = bucket_value_type(ctx.source, plan.bucket, **bounds)
    except Exception as exc:  # noqa: BLE001 - storage errors become Flux errors
        raise FluxRuntimeError(f"{fn_name}: {exc}") from exc
    if ftype is None or (fn_name != "count" and not is_numeric(ftype)):
        return None  # several value types, or sums of strings: the unpushed path decides
    value = {
        "count": pl.col("count").cast(pl.Int64),
        "sum": pl.col("sum"),
        "mean": pl.col("sum").cast(pl.Float64) / pl.col("count"),
    }[fn_name].alias("_value")

    def load(ordered: bool) -> pl.DataFrame:
        try:
            found = bucket_totals(ctx.source, plan.bucket, bucket_ns=bucket_ns,
                                  ranked=ordered, **bounds)
        except Exception as exc:  # noqa: BLE001 - storage errors become Flux errors
            raise FluxRuntimeError(f"{fn_name}: {exc}") from exc
        if found is None or found[0] != ftype:
            raise FluxRuntimeError(f"{fn_name}: the store changed during the query")
        frame = pl.from_arrow(found[1])
        assert isinstance(frame, pl.DataFrame)
        if ordered:
            frame = frame.sort(["first_rank", "_time"])
        return frame.select(pl.col("_time").cast(TIME_TYPE), value)

    return GroupedFrame(ctx, source, [_TIME_KEY], load)


def _window_totals(
    ctx: Context, plan: ScanPlan, fn_name: str, every_ns: int, create_empty: bool
) -> Stream | None:
    """`group() |> aggregateWindow(every:, fn:)`: per-window totals from the store."""
    from fluxlab.storage.pushdown import bucket_totals

    assert plan.start is not None and plan.stop is not None
    lo, hi = plan.start.ns, plan.stop.ns
    try:
        found = bucket_totals(ctx.source, plan.bucket, start_ns=lo, stop_ns=hi,
                              predicate=plan.predicate, bucket_ns=every_ns, ranked=False)
    except Exception as exc:  # noqa: BLE001 - storage errors become Flux errors
        raise FluxRuntimeError(f"aggregateWindow: {exc}") from exc
    if found is None:
        return None
    _, arrow = found
    if fn_name != "count" and "sum" not in arrow.column_names:
        return None
    frame = pl.from_arrow(arrow)
    assert isinstance(frame, pl.DataFrame)
    if frame.height == 0:
        return Stream()
    frame = frame.with_columns(pl.lit(0, pl.UInt32).alias("__rank"))
    return Stream(_window_tables(frame, [], fn_name, every_ns, lo, hi, create_empty))
