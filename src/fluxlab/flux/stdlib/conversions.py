"""Universe type conversions: int(), float(), string(), bool(), time(), duration(),
uint() on values, and toInt()/toFloat()/... on the `_value` column of tables."""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Callable
from typing import Any

import numpy as np
import polars as pl

from fluxlab.flux.context import Context
from fluxlab.flux.errors import FluxRuntimeError, FluxTypeError
from fluxlab.flux.operators import (
    UINT_MAX,
    TypedNull,
    check_int,
    format_duration,
    parse_duration,
)
from fluxlab.flux.registry import builtin
from fluxlab.flux.table import DURATION_TYPE, TIME_TYPE, Stream
from fluxlab.flux.values import Duration, Time, Unsigned, type_name

_RFC3339 = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})?)?$"
)


# ----------------------------------------------------------------------------- text forms


def format_float(value: float) -> str:
    """Go's strconv.FormatFloat(v, 'f', -1, 64)."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return np.format_float_positional(value, unique=True, trim="-")


def format_time(t: Time) -> str:
    """RFC3339Nano in UTC without trailing fractional zeros (`string(v: t)`)."""
    secs, frac = divmod(t.ns, 1_000_000_000)
    base = dt.datetime(1970, 1, 1) + dt.timedelta(seconds=secs)
    text = base.strftime("%Y-%m-%dT%H:%M:%S")
    if frac:
        text += "." + f"{frac:09d}".rstrip("0")
    return text + "Z"


def format_time_fixed(t: Time) -> str:
    """UTC with all nine fractional digits, as string interpolation writes times."""
    secs, frac = divmod(t.ns, 1_000_000_000)
    base = dt.datetime(1970, 1, 1) + dt.timedelta(seconds=secs)
    return base.strftime("%Y-%m-%dT%H:%M:%S") + f".{frac:09d}Z"


def parse_time(text: str) -> Time:
    """An RFC3339 (or date-only) string as a Time."""
    m = _RFC3339.match(text.strip())
    if not m:
        raise FluxRuntimeError(f"cannot parse {text!r} as an RFC3339 time")
    year, month, day, hh, mm, ss, frac, zone = m.groups()
    base = dt.datetime(int(year), int(month), int(day), int(hh or 0), int(mm or 0), int(ss or 0))
    delta = base - dt.datetime(1970, 1, 1)
    ns = (delta.days * 86_400 + delta.seconds) * 1_000_000_000
    ns += int((frac or "0").ljust(9, "0"))
    if zone and zone != "Z":
        sign = 1 if zone[0] == "+" else -1
        ns -= sign * (int(zone[1:3]) * 3600 + int(zone[4:6]) * 60) * 1_000_000_000
    return Time(ns)


def string_of(value: Any) -> str:
    match value:
        case bool():
            return "true" if value else "false"
        case str():
            return value
        case float():
            return format_float(value)
        case int():
            return str(int(value))
        case Time():
            return format_time(value)
        case Duration():
            return format_duration(value)
        case bytes():
            return value.decode("utf-8", errors="replace")
    raise FluxTypeError(f"cannot convert a value of type {type_name(value)} to string")


def _bytes_of(v: Any) -> bytes:
    if isinstance(v, bytes):
        return v
    if isinstance(v, str):
        return v.encode("utf-8")
    raise FluxTypeError(f"cannot convert a value of type {type_name(v)} to bytes")


# ----------------------------------------------------------------------------- scalar conversions


def _int_of(v: Any) -> int:
    match v:
        case bool():
            return int(v)
        case str():
            try:
                return check_int(int(v.strip(), 10))
            except ValueError:
                raise FluxRuntimeError(f"cannot convert string {v!r} to int") from None
        case float():
            if math.isnan(v) or math.isinf(v):
                raise FluxRuntimeError(f"cannot convert float {v} to int")
            return check_int(int(v))
        case int():
            return check_int(int(v))
        case Time():
            return v.ns
        case Duration():
            return v.total_ns()
    raise FluxTypeError(f"cannot convert a value of type {type_name(v)} to int")


def _uint_of(v: Any) -> Unsigned:
    match v:
        case Unsigned():
            return v  # already a uint: values above the int range must not go through int
        case str():
            try:
                n = int(v.strip(), 10)
            except ValueError:
                raise FluxRuntimeError(f"cannot convert string {v!r} to uint") from None
            if not 0 <= n <= UINT_MAX:
                raise FluxRuntimeError(f"cannot convert string {v!r} to uint: out of range")
            return Unsigned(n)
        case float():
            if math.isnan(v) or math.isinf(v) or v < 0:
                raise FluxRuntimeError(f"cannot convert float {v} to uint")
            return Unsigned(int(v) % (UINT_MAX + 1))
    return Unsigned(_int_of(v) % (UINT_MAX + 1))


def _float_of(v: Any) -> float:
    match v:
        case bool():
            return 1.0 if v else 0.0
        case str():
            try:
                return float(v.strip())
            except ValueError:
                raise FluxRuntimeError(f"cannot convert string {v!r} to float") from None
        case float():
            return v
        case int():
            return float(v)
    raise FluxTypeError(f"cannot convert a value of type {type_name(v)} to float")


def _bool_of(v: Any) -> bool:
    match v:
        case bool():
            return v
        case str() if v in ("true", "false"):
            return v == "true"
        case int() | float() if v in (0, 1):
            return v == 1
    raise FluxRuntimeError(f"cannot convert {type_name(v)} {v!r} to bool")


def _time_of(v: Any) -> Time:
    match v:
        case Time():
            return v
        case str():
            return parse_time(v)
        case bool():
            pass
        case int():
            return Time(int(v))
    raise FluxTypeError(f"cannot convert a value of type {type_name(v)} to time")


def _duration_of(v: Any) -> Duration:
    match v:
        case Duration():
            return v
        case str():
            return parse_duration(v)
        case bool():
            pass
        case int():
            return Duration.of_ns(int(v))
    raise FluxTypeError(f"cannot convert a value of type {type_name(v)} to duration")


def _null_safe(convert: Callable[[Any], Any]) -> Callable[[Context, Any], Any]:
    def impl(ctx: Context, v: Any) -> Any:
        return None if v is None else convert(v)

    return impl


for _name, _conv in {
    "int": _int_of,
    "uint": _uint_of,
    "float": _float_of,
    "string": string_of,
    "bool": _bool_of,
    "time": _time_of,
    "duration": _duration_of,
    "bytes": _bytes_of,
}.items():
    builtin("universe", _name)(_null_safe(_conv))


# ----------------------------------------------------------------------------- column conversions


def convert_series(series: pl.Series, target: str) -> pl.Series:
    """Convert a column to a Flux type: whole-column casts where Polars matches Flux
    exactly, the exact per-value conversion otherwise (and for values a cast rejects,
    so the error message is Flux's)."""
    fast = _fast_conversion(series, target)
    if fast is not None:
        return fast
    return _convert_rowwise(series, target)


def _fast_conversion(series: pl.Series, target: str) -> pl.Series | None:
    from fluxlab.flux.results import format_float_series, format_times, parse_times

    source = series.dtype
    numeric = (pl.Int64, pl.UInt64, pl.Float64)
    try:
        if target == "float" and (source in numeric or source == pl.Boolean):
            return series.cast(pl.Float64)
        if target == "float" and source == pl.String:
            return series.str.strip_chars().cast(pl.Float64, strict=True)
        if target == "int" and source in (pl.Int64, pl.Boolean):
            return series.cast(pl.Int64)
        if target == "int" and source in (pl.Float64, pl.String, pl.UInt64):
            return series.cast(pl.Int64, strict=True)  # float truncates toward zero, as Go
        if target == "int" and isinstance(source, pl.Datetime):
            return series.dt.epoch("ns")
        if target == "uint" and source in (pl.UInt64, pl.Boolean):
            return series.cast(pl.UInt64)
        if target == "string" and source in (pl.String, pl.Int64, pl.UInt64):
            return series.cast(pl.String)
        if target == "string" and source == pl.Float64:
            return format_float_series(series)
        if target == "string" and source == pl.Boolean:
            return series.replace_strict({True: "true", False: "false"}, return_dtype=pl.String)
        if target == "string" and isinstance(source, pl.Datetime):
            return series.to_frame().select(format_times(pl.col(series.name))).to_series()
        if target == "bool" and source == pl.Boolean:
            return series
        if target == "bool" and source == pl.String and series.is_in(["true", "false"]).all():
            return series == "true"
        if target == "time" and isinstance(source, pl.Datetime):
            return series
        if target == "time" and source == pl.String:
            return parse_times(series)
        if target == "time" and source == pl.Int64:
            return series.cast(TIME_TYPE)
    except (pl.exceptions.PolarsError, ValueError):
        return None
    return None


def _convert_rowwise(series: pl.Series, target: str) -> pl.Series:
    from fluxlab.flux.compile import frame_records, series_from_values

    conv = {
        "int": _int_of,
        "uint": _uint_of,
        "float": _float_of,
        "string": string_of,
        "bool": _bool_of,
        "time": _time_of,
        "duration": _duration_of,
    }[target]
    name = series.name
    values = [r[name] for r in frame_records(series.to_frame())]
    out = series_from_values(name, [None if v is None else conv(v) for v in values])
    dtype = {"time": TIME_TYPE, "duration": DURATION_TYPE, "int": pl.Int64, "uint": pl.UInt64,
             "float": pl.Float64, "string": pl.String, "bool": pl.Boolean}[target]
    return out.cast(dtype)


def _value_converter(target: str) -> Callable[..., Stream]:
    def impl(ctx: Context, tables: Stream) -> Stream:
        out = []
        for t in tables:
            if "_value" not in t.columns:
                raise FluxRuntimeError(f"to{target.title()}: table has no _value column")
            col = convert_series(t.df.get_column("_value"), target)
            out.append(t.with_df(t.df.with_columns(col.alias("_value"))))
        return Stream(out)

    return impl


for _target in ("int", "uint", "float", "string", "bool", "time", "duration"):
    _fname = "to" + {"uint": "UInt"}.get(_target, _target.title())
    builtin("universe", _fname, pipe="tables")(_value_converter(_target))


# ----------------------------------------------------------------------------- types package

_TYPE_NAMES = {"string", "bytes", "int", "uint", "float", "bool", "time", "duration", "regexp"}


@builtin("types")
def isType(ctx: Context, v: Any, type: str) -> bool:  # noqa: N802, A002
    """Whether `v` has the named basic type (`types.isType`)."""
    if type not in _TYPE_NAMES:
        raise FluxRuntimeError(f"types.isType: unknown type {type!r}")
    return _has_type(v, type)


@builtin("universe", "isType")
def universe_is_type(ctx: Context, v: Any, type: str) -> bool:  # noqa: A002
    """Universe `isType`: like `types.isType`, but an unknown type name is simply no match
    (the reference returns false for a misspelt name rather than failing the query)."""
    return _has_type(v, type)


def _has_type(v: Any, type_: str) -> bool:
    """Whether a non-null `v` is of the Flux basic type `type_`."""
    if v is None or isinstance(v, TypedNull):
        return False
    return type_name(v) == type_


@builtin("types")
def isNumeric(ctx: Context, v: Any) -> bool:  # noqa: N802
    return type_name(v) in ("int", "uint", "float")
