"""The "join" package (join.tables, inner, left, right, full, time) and experimental.join.

Both compare only tables with the same group key and keep that key. The row
matching runs as one Polars join per pair of tables on the columns named by the
`on` predicate (which Flux restricts to `l.a == r.b and ...`); only the `as`/`fn`
function, which builds each output record, is called once per output row. Output
rows are in the order of the join values, as Flux's sort-merge join emits them. In
outer joins the missing side is a "default record": the table's group-key columns
with their values and every other column null.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import polars as pl

from fluxlab.flux import ast
from fluxlab.flux.errors import FluxRuntimeError
from fluxlab.flux.registry import builtin
from fluxlab.flux.stdlib.records import frame_records, key_record, records_frame
from fluxlab.flux.stdlib.shape_common import KeyId, key_id, require_stream
from fluxlab.flux.table import Stream, Table

_METHODS = ("inner", "left", "right", "full")
_LI = "__fluxlab_li"
_RI = "__fluxlab_ri"

Pairs = list[tuple[str, str]]


# ------------------------------------------------------------------------------ `on` predicate


def _function_body(fn: Any) -> ast.Expression:
    node = getattr(fn, "node", None)
    if not isinstance(node, ast.FunctionExpression):
        raise FluxRuntimeError("join: on must be a Flux function (l, r) => l.a == r.b")
    body = node.body
    if isinstance(body, ast.Block):
        returns = [s for s in body.body if isinstance(s, ast.ReturnStatement)]
        if len(body.body) != 1 or not returns:
            raise FluxRuntimeError("join: the body of on must be a single boolean expression")
        body = returns[0].argument
    return body


def _property(node: ast.Expression) -> tuple[str, str] | None:
    """(parameter, column) for `l.col` or `l["col"]`."""
    if isinstance(node, ast.MemberExpression) and isinstance(node.object, ast.Identifier):
        return node.object.name, node.property
    if (isinstance(node, ast.IndexExpression) and isinstance(node.array, ast.Identifier)
            and isinstance(node.index, ast.StringLiteral)):
        return node.array.name, node.index.value
    return None


def _equalities(node: ast.Expression, out: Pairs) -> None:
    if isinstance(node, ast.LogicalExpression) and node.operator == "and":
        _equalities(node.left, out)
        _equalities(node.right, out)
        return
    if isinstance(node, ast.BinaryExpression) and node.operator == "==":
        a, b = _property(node.left), _property(node.right)
        if a and b and {a[0], b[0]} == {"l", "r"}:
            left, right = (a, b) if a[0] == "l" else (b, a)
            out.append((left[1], right[1]))
            return
    raise FluxRuntimeError(
        "join: on must compare properties of l and r with == joined by `and`, "
        "e.g. (l, r) => l._time == r._time and l.id == r.id"
    )


def join_pairs(on: Any) -> Pairs:
    """The (left column, right column) pairs of an `on` predicate."""
    pairs: Pairs = []
    _equalities(_function_body(on), pairs)
    return pairs


# ------------------------------------------------------------------------------ row matching


def _default_record(table: Table | None, key: dict[str, Any]) -> dict[str, Any]:
    if table is None:
        return dict(key)
    rec = dict.fromkeys(table.df.columns)
    rec.update(key)
    return rec


def _with_join_columns(table: Table | None, columns: list[str], names: list[str],
                       index: str) -> pl.DataFrame:
    """Row index plus the join columns renamed to `names` (null when a column is missing)."""
    if table is None:
        return pl.DataFrame(schema={index: pl.UInt32, **dict.fromkeys(names, pl.Null)})
    df = table.df.with_row_index(index)
    exprs = [pl.col(c).alias(n) if c in df.columns else pl.lit(None).alias(n)
             for c, n in zip(columns, names, strict=True)]
    return df.select(pl.col(index), *exprs)


def _matches(left: Table | None, right: Table | None, pairs: Pairs, method: str) -> pl.DataFrame:
    """Row-index pairs (nullable on the unmatched side), sorted by the join values."""
    lcols = [f"__l{i}" for i in range(len(pairs))]
    rcols = [f"__r{i}" for i in range(len(pairs))]
    lf = _with_join_columns(left, [lc for lc, _ in pairs], lcols, _LI)
    rf = _with_join_columns(right, [rc for _, rc in pairs], rcols, _RI)
    if left is None or right is None:
        joined = _one_sided(lf, rf, method)
    else:
        try:
            joined = lf.join(rf, left_on=lcols, right_on=rcols, how=method, coalesce=False,
                             maintain_order="left_right")
        except (pl.exceptions.SchemaError, pl.exceptions.ComputeError,
                pl.exceptions.InvalidOperationError) as exc:
            raise FluxRuntimeError(f"join: join columns have different types ({exc})") from exc
    if joined.height == 0:
        return pl.DataFrame(schema={_LI: pl.UInt32, _RI: pl.UInt32})
    sort_keys = [pl.coalesce(pl.col(lc), pl.col(rc)).alias(lc)
                 for lc, rc in zip(lcols, rcols, strict=True)]
    return joined.with_columns(sort_keys).sort(lcols, maintain_order=True, nulls_last=True)


def _one_sided(lf: pl.DataFrame, rf: pl.DataFrame, method: str) -> pl.DataFrame:
    """Outer-join rows when one side has no table with this group key."""
    keep_left = method in ("left", "full") and lf.height
    keep_right = method in ("right", "full") and rf.height
    if keep_left:
        return lf.with_columns(pl.lit(None, dtype=pl.UInt32).alias(_RI),
                               *(pl.lit(None).alias(c.replace("__l", "__r")) for c in lf.columns
                                 if c.startswith("__l") and c != _LI))
    if keep_right:
        return rf.with_columns(pl.lit(None, dtype=pl.UInt32).alias(_LI),
                               *(pl.lit(None).alias(c.replace("__r", "__l")) for c in rf.columns
                                 if c.startswith("__r") and c != _RI))
    return pl.DataFrame()


def join_tables(ctx, left: Stream, right: Stream, pairs: Pairs, method: str,
                build: Callable[[dict[str, Any], dict[str, Any]], dict[str, Any]]) -> Stream:
    """Join tables with equal group keys; `build(l, r)` makes each output record."""
    if method not in _METHODS:
        raise FluxRuntimeError(f"join: method must be one of {', '.join(_METHODS)}, got {method!r}")
    lefts: dict[KeyId, Table] = {key_id(t): t for t in left}
    rights: dict[KeyId, Table] = {key_id(t): t for t in right}
    order = list(lefts) + [k for k in rights if k not in lefts]
    out = []
    for kid in order:
        lt, rt = lefts.get(kid), rights.get(kid)
        if lt is None and method in ("inner", "left"):
            continue
        if rt is None and method in ("inner", "right"):
            continue
        table = lt if lt is not None else rt
        assert table is not None
        matches = _matches(lt, rt, pairs, method)
        if matches.height == 0:
            continue  # no output rows, so no output schema either
        key = key_record(table)
        lrecs = frame_records(lt.df) if lt is not None else []
        rrecs = frame_records(rt.df) if rt is not None else []
        ldefault, rdefault = _default_record(lt, key), _default_record(rt, key)
        records = [
            build(lrecs[li] if li is not None else ldefault, rrecs[ri] if ri is not None else rdefault)
            for li, ri in zip(matches.get_column(_LI).to_list(), matches.get_column(_RI).to_list(),
                              strict=True)
        ]
        out.append(_output_table(table, records_frame(records)))
    return Stream(out)


def _output_table(input_table: Table, df: pl.DataFrame) -> Table:
    """The joined rows under the input group key (key columns the records dropped are not kept)."""
    kept = [(c, v) for c, v in zip(input_table.key, input_table.key_values, strict=True)
            if c in df.columns]
    return Table(tuple(c for c, _ in kept), tuple(v for _, v in kept), df)


def _as_builder(ctx, fn: Any, left_name: str = "l", right_name: str = "r"):
    def build(lrec: dict[str, Any], rrec: dict[str, Any]) -> dict[str, Any]:
        result = ctx.call(fn, **{left_name: lrec, right_name: rrec})
        if not isinstance(result, dict):
            raise FluxRuntimeError("join: the as function must return a record")
        return result

    return build


# ------------------------------------------------------------------------------ registrations


@builtin("join", name="tables", pipe="left")
def tables_(ctx, left: Stream, right: Stream, on: Any, method: str, **kw: Any) -> Stream:
    """join.tables(left, right, on, as, method)."""
    as_fn = kw.get("as")
    if as_fn is None:
        raise FluxRuntimeError("join.tables: missing required argument as")
    require_stream(left, "left", "join")
    require_stream(right, "right", "join")
    return join_tables(ctx, left, right, join_pairs(on), method, _as_builder(ctx, as_fn))


def _method_function(method: str):
    def fn(ctx, left: Stream, right: Stream, on: Any, **kw: Any) -> Stream:
        return tables_(ctx, left, right, on, method, **kw)

    fn.__name__ = method
    fn.__doc__ = f"join.{method}(left, right, on, as): join.tables with method {method!r}."
    return fn


for _method in _METHODS:
    builtin("join", name=_method, pipe="left")(_method_function(_method))


@builtin("join", name="time", pipe="left")
def time_(ctx, left: Stream, right: Stream, method: str = "inner", **kw: Any) -> Stream:
    """join.time(left, right, as, method): join on `_time`."""
    as_fn = kw.get("as")
    if as_fn is None:
        raise FluxRuntimeError("join.time: missing required argument as")
    return join_tables(ctx, left, right, [("_time", "_time")], method, _as_builder(ctx, as_fn))


@builtin("experimental", name="join")
def experimental_join(ctx, left: Stream, right: Stream, fn: Any) -> Stream:
    """experimental.join: inner join of tables with equal group keys on `_time`."""
    require_stream(left, "left", "experimental.join")
    require_stream(right, "right", "experimental.join")
    joined = join_tables(ctx, left, right, [("_time", "_time")], "inner",
                         _as_builder(ctx, fn, "left", "right"))
    lefts = {key_id(t): t for t in left}
    for t in joined:
        source = lefts.get(key_id(t))
        if source is None or len(t.key) != len(source.key) or not _keeps_key(source, t):
            raise FluxRuntimeError("experimental.join: argument 'fn' may not modify group key")
    return joined


def _keeps_key(source: Table, output: Table) -> bool:
    """Whether every output row still holds the source table's group-key values."""
    if not source.key:
        return True
    expected = source.df.head(1).select(source.key)
    return output.df.select(source.key).join(expected, on=list(source.key), how="anti",
                                             nulls_equal=True).height == 0
