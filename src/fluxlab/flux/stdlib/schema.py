"""Packages "influxdata/influxdb/schema" and "influxdata/influxdb/v1" (schema exploration).

These mirror Flux's own definitions, which are written in Flux on top of universe
functions: e.g. `tagValues` is `_from(bucket) |> range |> filter(predicate) |>
keep([tag]) |> group() |> distinct(column: tag)`. The same pipeline is built here by
calling the registered universe functions, so behaviour stays identical to a query
written by hand. `_from` is the package option Flux uses to make these testable: a
program can replace it (`option schema._from = (bucket) => ...`); by default it is
the universe `from`.
"""

from __future__ import annotations

from typing import Any

from fluxlab.flux import ast
from fluxlab.flux.errors import FluxRuntimeError, UnsupportedError
from fluxlab.flux.registry import PACKAGES, builtin
from fluxlab.flux.scope import Closure
from fluxlab.flux.table import Stream
from fluxlab.flux.values import Duration

SCHEMA = "influxdata/influxdb/schema"
V1 = "influxdata/influxdb/v1"
_DEFAULT_START = Duration(0, 30 * 86_400 * 1_000_000_000, negative=True)


def _universe(ctx, name: str, **args: Any) -> Any:
    fn = PACKAGES.get("universe", {}).get(name)
    if fn is None:
        raise UnsupportedError(f"unsupported function {name} (needed by the schema package)")
    return ctx.call(fn, **args)


def _from(ctx, bucket: str) -> Stream:
    """The `_from` option of the schema package, else universe `from`."""
    for key in (f"{SCHEMA}._from", "schema._from"):
        if key in ctx.options:
            return ctx.call(ctx.options[key], bucket=bucket)
    return _universe(ctx, "from", bucket=bucket)


def _ranged(ctx, bucket: str, predicate: Any, start: Any, stop: Any) -> Stream:
    data = _from(ctx, bucket)
    data = _universe(ctx, "range", tables=data, start=start, stop=ctx.now if stop is None else stop)
    if predicate is not None:
        data = _universe(ctx, "filter", tables=data, fn=predicate)
    return data


def _tag_values(ctx, bucket: str, tag: str, predicate: Any = None,
                start: Any = _DEFAULT_START, stop: Any = None) -> Stream:
    data = _ranged(ctx, bucket, predicate, start, stop)
    data = _universe(ctx, "keep", tables=data, columns=[tag])
    data = _universe(ctx, "group", tables=data)
    return _universe(ctx, "distinct", tables=data, column=tag)


def _tag_keys(ctx, bucket: str, predicate: Any = None,
              start: Any = _DEFAULT_START, stop: Any = None) -> Stream:
    data = _ranged(ctx, bucket, predicate, start, stop)
    data = _universe(ctx, "keys", tables=data)
    data = _universe(ctx, "keep", tables=data, columns=["_value"])
    return _universe(ctx, "distinct", tables=data)


def _measurement_is(ctx, measurement: str) -> Closure:
    """The Flux predicate `(r) => r._measurement == measurement` as a real closure, so
    `filter` can push it down into the storage scan like a hand-written one."""
    body = ast.BinaryExpression(
        "==", ast.MemberExpression(ast.Identifier("r"), "_measurement"),
        ast.StringLiteral(measurement),
    )
    node = ast.FunctionExpression([ast.Property(ast.Identifier("r"))], body)
    interp = ctx.interpreter
    if interp is None:
        raise FluxRuntimeError("the schema package needs an interpreter in its context")
    return Closure(node, interp.globals, name="predicate")


def _register(package: str) -> None:
    """Register the schema functions under one package path."""

    @builtin(package, name="fieldsAsCols", pipe="tables")
    def fields_as_cols(ctx, tables: Stream) -> Stream:
        """Pivot fields into columns: pivot(rowKey: ["_time"], columnKey: ["_field"])."""
        return _universe(ctx, "pivot", tables=tables, rowKey=["_time"], columnKey=["_field"],
                         valueColumn="_value")

    @builtin(package, name="tagValues")
    def tag_values(ctx, bucket: str, tag: str, predicate: Any = None,
                   start: Any = _DEFAULT_START, stop: Any = None) -> Stream:
        """Distinct values of one tag."""
        return _tag_values(ctx, bucket, tag, predicate, start, stop)

    @builtin(package, name="tagKeys")
    def tag_keys(ctx, bucket: str, predicate: Any = None,
                 start: Any = _DEFAULT_START, stop: Any = None) -> Stream:
        """Distinct group-key column labels of the series matching `predicate`."""
        return _tag_keys(ctx, bucket, predicate, start, stop)

    @builtin(package, name="measurementTagValues")
    def measurement_tag_values(ctx, bucket: str, measurement: str, tag: str,
                               start: Any = _DEFAULT_START, stop: Any = None) -> Stream:
        """Distinct values of a tag within one measurement."""
        return _tag_values(ctx, bucket, tag, _measurement_is(ctx, measurement), start, stop)

    @builtin(package, name="measurementTagKeys")
    def measurement_tag_keys(ctx, bucket: str, measurement: str,
                             start: Any = _DEFAULT_START, stop: Any = None) -> Stream:
        """Tag keys of one measurement."""
        return _tag_keys(ctx, bucket, _measurement_is(ctx, measurement), start, stop)

    @builtin(package, name="fieldKeys")
    def field_keys(ctx, bucket: str, predicate: Any = None,
                   start: Any = _DEFAULT_START, stop: Any = None) -> Stream:
        """Distinct field keys (tagValues of `_field`)."""
        return _tag_values(ctx, bucket, "_field", predicate, start, stop)

    @builtin(package, name="measurementFieldKeys")
    def measurement_field_keys(ctx, bucket: str, measurement: str,
                               start: Any = _DEFAULT_START, stop: Any = None) -> Stream:
        """Field keys of one measurement."""
        return _tag_values(ctx, bucket, "_field", _measurement_is(ctx, measurement), start, stop)

    @builtin(package, name="measurements")
    def measurements(ctx, bucket: str, start: Any = _DEFAULT_START, stop: Any = None) -> Stream:
        """Distinct measurement names."""
        return _tag_values(ctx, bucket, "_measurement", None, start, stop)


_register(SCHEMA)
_register(V1)
