"""The `array` package: array.from() builds a table from records; array helpers."""

from __future__ import annotations

from typing import Any

from fluxlab.flux.compile import records_frame
from fluxlab.flux.context import Context
from fluxlab.flux.errors import FluxTypeError
from fluxlab.flux.registry import PACKAGES, builtin, register_value
from fluxlab.flux.table import Stream, Table
from fluxlab.flux.values import type_name


@builtin("array", "from")
def from_(ctx: Context, rows: Any) -> Stream:
    """One ungrouped table whose rows are the given records."""
    if not isinstance(rows, list):
        raise FluxTypeError(f"array.from: rows must be an array of records, got {type_name(rows)}")
    for row in rows:
        if not isinstance(row, dict):
            raise FluxTypeError(f"array.from: every row must be a record, got {type_name(row)}")
    return Stream([Table((), (), records_frame(rows))])


def _array(value: Any, fn_name: str) -> list[Any]:
    if not isinstance(value, list):
        raise FluxTypeError(f"{fn_name}: arr must be an array, got {type_name(value)}")
    return value


@builtin("array", pipe="arr")
def map(ctx: Context, arr: Any, fn: Any) -> list[Any]:  # noqa: A001
    return [ctx.call(fn, x=x) for x in _array(arr, "array.map")]


@builtin("array", pipe="arr")
def filter(ctx: Context, arr: Any, fn: Any) -> list[Any]:  # noqa: A001
    return [x for x in _array(arr, "array.filter") if ctx.call(fn, x=x) is True]


@builtin("array", pipe="arr")
def concat(ctx: Context, arr: Any, v: Any) -> list[Any]:
    return [*_array(arr, "array.concat"), *_array(v, "array.concat")]


# `experimental/array` is the older home of the same functions.
for _name in ("from", "map", "filter", "concat"):
    register_value("experimental/array", _name, PACKAGES["array"][_name])
