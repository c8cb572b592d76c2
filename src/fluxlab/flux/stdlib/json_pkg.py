"""Packages "json" (encode) and "experimental/json" (parse).

Encoding follows Go's encoding of Flux values: records and dictionaries become
objects, arrays lists, times RFC 3339 strings (nanosecond precision, trailing zeros
dropped), durations their Flux text, floats without a trailing ".0" when integral.
Parsing maps JSON objects to records and every JSON number to a float, as Flux does.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from typing import Any

from fluxlab.flux.errors import FluxRuntimeError, FluxTypeError
from fluxlab.flux.operators import format_duration
from fluxlab.flux.registry import builtin
from fluxlab.flux.values import Duration, Regex, Time, type_name


def _rfc3339(t: Time) -> str:
    secs, frac = divmod(t.ns, 10**9)
    base = dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(seconds=secs)
    text = base.strftime("%Y-%m-%dT%H:%M:%S")
    if frac:
        text += "." + f"{frac:09d}".rstrip("0")
    return text + "Z"


def _plain(value: Any) -> Any:
    """A structure the json module can write, holding Go's textual forms."""
    match value:
        case None | bool() | str():
            return value
        case float():
            if math.isnan(value) or math.isinf(value):
                raise FluxRuntimeError(f"json.encode: unsupported float value {value}")
            return int(value) if value.is_integer() and abs(value) < 1e21 else value
        case int():
            return int(value)
        case Time():
            return _rfc3339(value)
        case Duration():
            return format_duration(value)
        case Regex():
            return value.source
        case bytes():
            return value.decode("utf-8", errors="replace")
        case dict():
            return {str(k): _plain(v) for k, v in value.items()}
        case list():
            return [_plain(v) for v in value]
    raise FluxTypeError(f"json.encode: cannot encode a value of type {type_name(value)}")


def encode_json(v: Any, *, sort_keys: bool = False) -> bytes:
    """Compact JSON bytes of a Flux value (Go's textual forms for times, floats...)."""
    text = json.dumps(_plain(v), separators=(",", ":"), ensure_ascii=False, sort_keys=sort_keys)
    return text.encode("utf-8")


@builtin("json")
def encode(ctx: Any, v: Any) -> bytes:
    """v as compact JSON bytes."""
    return encode_json(v)


def _flux_value(value: Any) -> Any:
    match value:
        case bool() | None | str():
            return value
        case int() | float():
            return float(value)
        case dict():
            return {k: _flux_value(v) for k, v in value.items()}
        case list():
            return [_flux_value(v) for v in value]
    return value


def parse_json(data: Any, fname: str) -> Any:
    """The Flux value of JSON bytes (objects -> records, numbers -> float)."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    if not isinstance(data, bytes):
        raise FluxTypeError(f"{fname}: data must be bytes, got {type_name(data)}")
    try:
        return _flux_value(json.loads(data))
    except ValueError as err:
        raise FluxRuntimeError(f"{fname}: invalid JSON: {err}") from None


@builtin("experimental/json")
def parse(ctx: Any, data: Any) -> Any:
    """The Flux value of JSON bytes."""
    return parse_json(data, "json.parse")
