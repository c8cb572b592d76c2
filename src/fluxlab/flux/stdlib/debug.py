"""The `internal/debug` package: helpers the Flux test suite uses to shape plans."""

from __future__ import annotations

from typing import Any

from fluxlab.flux.context import Context
from fluxlab.flux.errors import FluxRuntimeError
from fluxlab.flux.operators import TypedNull
from fluxlab.flux.registry import builtin
from fluxlab.flux.table import Stream

_NULL_TYPES = ("string", "bytes", "int", "uint", "float", "bool", "time", "duration", "regexp")


@builtin("internal/debug", "pass", pipe="tables")
def pass_(ctx: Context, tables: Stream) -> Stream:
    """Returns its input unchanged."""
    return tables


@builtin("internal/debug", pipe="tables")
def opaque(ctx: Context, tables: Stream) -> Stream:
    """Returns its input unchanged (in Flux it blocks planner rewrites)."""
    return tables


@builtin("internal/debug", pipe="tables")
def slurp(ctx: Context, tables: Stream) -> Stream:
    """Returns its input unchanged (in Flux it buffers every table first)."""
    return tables


@builtin("internal/debug", pipe="tables")
def sink(ctx: Context, tables: Stream) -> Stream:
    """Consumes its input and produces no tables."""
    return Stream()


@builtin("internal/debug", "null")
def null(ctx: Context, type: str | None = None) -> Any:  # noqa: A002
    """A null value, typed when `type` is given (so array.from can type the column)."""
    if type is None:
        return None
    if type not in _NULL_TYPES:
        raise FluxRuntimeError(f"debug.null: unknown type {type!r}")
    return TypedNull(type)


@builtin("internal/debug", "feature")
def feature(ctx: Context, key: str) -> Any:
    """Feature flags are all unset in this engine."""
    return None
