"""A vectorized path for the common shape of `reduce` reducers.

`reduce` is a sequential fold, so in general each row is a Flux call. But most
reducers only accumulate sums or carry a value through, e.g.
`(r, accumulator) => ({sum: r._value + accumulator.sum, n: accumulator.n + 1, last: r._value})`.
When every property is either `accumulator.P + <expr of r>` (same name P) or an
expression that ignores the accumulator, the final accumulator is the identity plus a
column sum, or the expression's value on the last row, computed with Polars. Anything
else (nulls, type changes, other operators, blocks) returns None and the caller folds
row by row, which keeps Flux's exact semantics. Registers no Flux functions.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import polars as pl

from fluxlab.flux import ast
from fluxlab.flux.compile import NotCompilable
from fluxlab.flux.errors import FluxError
from fluxlab.flux.scope import Closure
from fluxlab.flux.stdlib.records import polars_type, series_values
from fluxlab.flux.table import Table

ACC = "accumulator"


def _uses(node: Any, name: str) -> bool:
    """Whether an AST subtree mentions the identifier `name`."""
    if isinstance(node, ast.Identifier):
        return node.name == name
    if isinstance(node, list):
        return any(_uses(n, name) for n in node)
    if dataclasses.is_dataclass(node):
        return any(_uses(getattr(node, f.name), name) for f in dataclasses.fields(node))
    return False


def _accumulated(value: ast.Expression, name: str) -> ast.Expression | None:
    """E for `accumulator.name + E` or `E + accumulator.name` (E free of accumulator)."""
    if not (isinstance(value, ast.BinaryExpression) and value.operator == "+"):
        return None
    for acc, other in ((value.left, value.right), (value.right, value.left)):
        if (isinstance(acc, ast.MemberExpression) and isinstance(acc.object, ast.Identifier)
                and acc.object.name == ACC and acc.property == name and not _uses(other, ACC)):
            return other
    return None


def _plan(fn: Any) -> list[tuple[str, str, ast.Expression]] | None:
    if not isinstance(fn, Closure) or set(fn.params) != {"r", ACC}:
        return None
    body = fn.node.body
    if not isinstance(body, ast.ObjectExpression) or body.with_ is not None:
        return None
    plan = []
    for prop in body.properties:
        value = prop.value or ast.Identifier(prop.name)
        summed = _accumulated(value, prop.name)
        if summed is not None:
            plan.append((prop.name, "sum", summed))
        elif not _uses(value, ACC):
            plan.append((prop.name, "last", value))
        else:
            return None
    return plan


def _column(ctx, fn: Closure, expr: ast.Expression, df: pl.DataFrame) -> pl.Series | None:
    row_fn = Closure(ast.FunctionExpression([ast.Property(ast.Identifier("r"))], expr), fn.scope)
    try:
        compiled = ctx.row_function(row_fn).compile_value(df)
        series = df.select(compiled.expr.alias("v")).get_column("v")
    except (NotCompilable, pl.exceptions.PolarsError, FluxError):
        return None
    if series.len() != df.height:
        series = series.gather([0] * df.height) if series.len() == 1 else None
    return series


def vector_reduce(ctx, table: Table, fn: Any, identity: dict[str, Any]) -> dict[str, Any] | None:
    """The final accumulator of `reduce` over a non-empty table, or None to fold row-wise."""
    plan = _plan(fn)
    if plan is None or table.height == 0 or {p[0] for p in plan} != set(identity):
        return None
    result: dict[str, Any] = {}
    for name, how, expr in plan:
        series = _column(ctx, fn, expr, table.df)
        if series is None or series.null_count():
            return None
        if identity[name] is None or series.dtype != polars_type(identity[name]):
            return None  # a type change: let the row-wise fold report it as Flux does
        if how == "sum":
            total = series.sum()
            if isinstance(identity[name], bool) or not isinstance(total, int | float):
                return None
            result[name] = identity[name] + total
        else:
            result[name] = series_values(series.tail(1))[0]
    return result
