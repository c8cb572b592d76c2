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

import polars as pl

from fluxlab.flux import ast
from fluxlab.flux.context import Context
from fluxlab.flux.errors import FluxRuntimeError
from fluxlab.flux.registry import builtin
from fluxlab.flux.scope import Closure
from fluxlab.flux.table import TIME_TYPE, Stream, Table
from fluxlab.flux.values import Regex, Time
from fluxlab.storage.predicate import And, Cmp, Not, Or, Predicate


@dataclass
class ScanPlan:
    bucket: str
    start: Time | None = None
    stop: Time | None = None
    predicate: Predicate | None = None
    residual_filters: list[Any] = field(default_factory=list)  # applied after the scan


class StoreSource(Stream):
    """A lazily read `from()` stream; reading `.tables` performs the scan."""

    def __init__(self, ctx: Context, plan: ScanPlan) -> None:  # noqa: D107
        self.ctx = ctx
        self.plan = plan
        self._tables: list[Table] | None = None

    @property  # type: ignore[override]
    def tables(self) -> list[Table]:
        if self._tables is None:
            self._tables = list(read_plan(self.ctx, self.plan))
        return self._tables

    @tables.setter
    def tables(self, value: list[Table]) -> None:
        self._tables = value

    def refined(self, **changes: Any) -> StoreSource:
        plan = ScanPlan(**{**self.plan.__dict__, **changes})
        return StoreSource(self.ctx, plan)

    @property
    def pending(self) -> bool:
        return self._tables is None

    def __repr__(self) -> str:
        return f"StoreSource({self.plan})"


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
    return stream


def _series_order(table: Table) -> tuple[bytes, str]:
    """InfluxDB's output order: series key (measurement, sorted tags), then field."""
    key = table.key_dict()
    tags = sorted(k for k in key if not k.startswith("_"))
    series = str(key.get("_measurement")) + "".join(f",{k}={key[k]}" for k in tags)
    return series.encode(), str(key.get("_field"))


def _series_tables(frame: pl.DataFrame, plan: ScanPlan) -> list[Table]:
    """One table per series and field, with InfluxDB's column order and group key."""
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
    out = []
    for part in frame.partition_by(["_measurement", "_field", *tags], maintain_order=True):
        present = [t for t in tags if part.get_column(t).null_count() < part.height]
        part = part.drop([t for t in tags if t not in present])
        key = ("_start", "_stop", "_field", "_measurement", *sorted(present))
        out.append(Table.from_frame(part, key))
    return out


# ----------------------------------------------------------------------------- pushdown


def push_range(source: StoreSource, start: Time, stop: Time) -> StoreSource | None:
    """`from |> range`: bounds go into the scan (only the first range is pushed)."""
    if not source.pending or source.plan.start is not None:
        return None
    return source.refined(start=start, stop=stop)


def push_filter(ctx: Context, source: StoreSource, fn: Any) -> StoreSource | None:
    """`from |> range |> filter`: translate the lambda into a storage predicate."""
    if not source.pending or source.plan.start is None or source.plan.residual_filters:
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
    plan = source.plan
    if fn_name not in PUSHABLE_AGGREGATES or not source.pending or plan.start is None:
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
