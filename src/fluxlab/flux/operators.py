"""Flux operator semantics on scalar values: arithmetic, comparison, durations.

Used by the interpreter for row-wise evaluation; the Polars compiler (`compile.py`)
mirrors these rules for whole columns. Nulls propagate: any operator with a null
operand gives null (logical `and`/`or` are handled by the interpreter).
"""

from __future__ import annotations

import calendar
import datetime as dt
import math
import re
from collections.abc import Callable
from typing import Any

from fluxlab.flux.errors import FluxRuntimeError, FluxTypeError
from fluxlab.flux.values import Duration, Regex, Time, Unsigned, type_name

INT_MIN, INT_MAX = -(2**63), 2**63 - 1
UINT_MAX = 2**64 - 1

UNIT_NS = {
    "w": 7 * 86_400 * 10**9,
    "d": 86_400 * 10**9,
    "h": 3_600 * 10**9,
    "m": 60 * 10**9,
    "s": 10**9,
    "ms": 10**6,
    "us": 10**3,
    "µs": 10**3,
    "ns": 1,
}
UNIT_MONTHS = {"y": 12, "mo": 1}
_DURATION_PART = re.compile(r"(\d+)(mo|ms|us|µs|ns|y|w|d|h|m|s)")


class TypedNull:
    """A null that remembers its type (`debug.null(type: "float")`), so a column made
    only of such nulls still gets a type. Everywhere else it behaves as null."""

    __slots__ = ("kind",)

    def __init__(self, kind: str) -> None:
        self.kind = kind

    def __bool__(self) -> bool:
        return False

    def __repr__(self) -> str:
        return f"null({self.kind})"


def is_null(value: Any) -> bool:
    return value is None or isinstance(value, TypedNull)


def strip_null(value: Any) -> Any:
    """`value`, with a typed null replaced by None."""
    return None if isinstance(value, TypedNull) else value


# ----------------------------------------------------------------------------- durations


def duration_from_parts(parts: list[tuple[int, str]]) -> Duration:
    """A duration from literal magnitude/unit pairs (`1mo2d` -> [(1,"mo"),(2,"d")])."""
    months = ns = 0
    for magnitude, unit in parts:
        if unit in UNIT_MONTHS:
            months += magnitude * UNIT_MONTHS[unit]
        elif unit in UNIT_NS:
            ns += magnitude * UNIT_NS[unit]
        else:
            raise FluxRuntimeError(f"unknown duration unit {unit!r}")
    return Duration(months, ns, False)


def parse_duration(text: str) -> Duration:
    """Parse duration text such as `-1h30m` or `1mo`."""
    body = text.strip()
    negative = body.startswith("-")
    body = body.lstrip("+-")
    parts = _DURATION_PART.findall(body)
    if not body or "".join(m + u for m, u in parts) != body:
        raise FluxRuntimeError(f"invalid duration {text!r}")
    d = duration_from_parts([(int(m), u) for m, u in parts])
    return -d if negative else d


def format_duration(d: Duration) -> str:
    """Flux's text form of a duration (`1mo2d3h`, `0s` for zero)."""
    out = []
    if d.months:
        years, months = divmod(d.months, 12)
        out += [f"{years}y"] if years else []
        out += [f"{months}mo"] if months else []
    rest = d.nanoseconds
    for unit in ("w", "d", "h", "m", "s", "ms", "us", "ns"):
        count, rest = divmod(rest, UNIT_NS[unit])
        if count:
            out.append(f"{count}{unit}")
    text = "".join(out) or "0s"
    return f"-{text}" if d.negative and text != "0s" else text


def add_duration(t: Time, d: Duration, scale: int = 1) -> Time:
    """`t + scale*d` with calendar months (day clamped to the month's last day)."""
    sign = -scale if d.negative else scale
    ns = t.ns
    if d.months:
        ns = _add_months(ns, sign * d.months)
    return Time(ns + sign * d.nanoseconds)


def _add_months(ns: int, months: int) -> int:
    secs, frac = divmod(ns, 10**9)
    base = dt.datetime(1970, 1, 1) + dt.timedelta(seconds=secs)
    total = base.year * 12 + (base.month - 1) + months
    year, month0 = divmod(total, 12)
    day = min(base.day, calendar.monthrange(year, month0 + 1)[1])
    moved = base.replace(year=year, month=month0 + 1, day=day)
    delta = moved - dt.datetime(1970, 1, 1)
    return (delta.days * 86_400 + delta.seconds) * 10**9 + frac


# ----------------------------------------------------------------------------- arithmetic


def check_int(value: int) -> int:
    if not INT_MIN <= value <= INT_MAX:
        raise FluxRuntimeError("integer overflow")
    return value


def _int_div(a: int, b: int) -> int:
    if b == 0:
        raise FluxRuntimeError("integer divide by zero")
    q = abs(a) // abs(b)
    return check_int(q if (a >= 0) == (b >= 0) else -q)


def _int_mod(a: int, b: int) -> int:
    if b == 0:
        raise FluxRuntimeError("integer divide by zero")
    return a - b * _int_div(a, b)


def _float_div(a: float, b: float) -> float:
    if b == 0:
        if a == 0 or math.isnan(a):
            return math.nan
        return math.copysign(math.inf, a) * (1 if math.copysign(1, b) > 0 else -1)
    return a / b


def _float_mod(a: float, b: float) -> float:
    return math.fmod(a, b) if b != 0 else math.nan


_INT_OPS: dict[str, Callable[[int, int], int]] = {
    "+": lambda a, b: check_int(a + b),
    "-": lambda a, b: check_int(a - b),
    "*": lambda a, b: check_int(a * b),
    "/": _int_div,
    "%": _int_mod,
    "^": lambda a, b: check_int(a**b) if b >= 0 else 0,
}
_FLOAT_OPS: dict[str, Callable[[float, float], float]] = {
    "+": lambda a, b: a + b,
    "-": lambda a, b: a - b,
    "*": lambda a, b: a * b,
    "/": _float_div,
    "%": _float_mod,
    "^": lambda a, b: _float_pow(a, b),
}


def _float_pow(a: float, b: float) -> float:
    try:
        return math.pow(a, b)
    except (OverflowError, ValueError):
        return math.inf if a > 0 else math.nan


def _uint_op(op: str, a: int, b: int) -> Unsigned:
    if op in ("/", "%") and b == 0:
        raise FluxRuntimeError("unsigned integer divide by zero")
    result = {
        "+": lambda: a + b,
        "-": lambda: a - b,
        "*": lambda: a * b,
        "/": lambda: a // b,
        "%": lambda: a % b,
        "^": lambda: a**b,
    }[op]()
    return Unsigned(result % (UINT_MAX + 1))


def arithmetic(op: str, a: Any, b: Any) -> Any:
    """`a op b` for + - * / % ^ on Flux values (same types, no implicit casts)."""
    if is_null(a) or is_null(b):
        return None
    kind_a, kind_b = type_name(a), type_name(b)
    if kind_a == kind_b:
        if kind_a == "int":
            return _INT_OPS[op](a, b)
        if kind_a == "float":
            return _FLOAT_OPS[op](a, b)
        if kind_a == "uint":
            return _uint_op(op, a, b)
        if kind_a == "string" and op == "+":
            return a + b
        if kind_a == "duration" and op in "+-":
            return _duration_sum(a, b if op == "+" else -b)
    if op in "+-" and kind_a == "time" and kind_b == "duration":
        return add_duration(a, b, 1 if op == "+" else -1)
    if op == "+" and kind_a == "duration" and kind_b == "time":
        return add_duration(b, a)
    if op == "-" and kind_a == kind_b == "time":
        return Duration.of_ns(a.ns - b.ns)
    raise FluxTypeError(f"unsupported operand types for {op}: {kind_a} and {kind_b}")


def _duration_sum(a: Duration, b: Duration) -> Duration:
    def signed(d: Duration) -> tuple[int, int]:
        s = -1 if d.negative else 1
        return s * d.months, s * d.nanoseconds

    (am, an), (bm, bn) = signed(a), signed(b)
    months, ns = am + bm, an + bn
    if months and ns and (months < 0) != (ns < 0):
        raise FluxRuntimeError("duration with mixed signs cannot be represented")
    negative = months < 0 or ns < 0
    return Duration(abs(months), abs(ns), negative)


def negate(value: Any) -> Any:
    """Unary minus."""
    if is_null(value):
        return None
    if isinstance(value, (bool, str, Time, Unsigned)):
        raise FluxTypeError(f"cannot negate a value of type {type_name(value)}")
    if isinstance(value, int):
        return check_int(-value)
    return -value


# ----------------------------------------------------------------------------- comparison


def _ordering_key(value: Any) -> tuple[str, Any]:
    kind = type_name(value)
    if kind in ("int", "uint", "float"):
        return "number", value
    if kind == "time":
        return "time", value.ns
    if kind == "duration":
        sign = -1 if value.negative else 1
        return "duration", (sign * value.months, sign * value.nanoseconds)
    return kind, value


def compare(op: str, a: Any, b: Any) -> bool | None:
    """`a op b` for == != < <= > >= =~ !~; null operands give null."""
    a, b = strip_null(a), strip_null(b)
    if op in ("=~", "!~"):
        return regex_match(a, b, negate=op == "!~")
    if a is None or b is None:
        return None
    (ka, va), (kb, vb) = _ordering_key(a), _ordering_key(b)
    if ka != kb:
        if op in ("==", "!="):
            return op == "!="
        raise FluxTypeError(f"cannot compare {type_name(a)} with {type_name(b)}")
    if op == "==":
        return va == vb
    if op == "!=":
        return va != vb
    if ka in ("bool", "record", "array", "dict"):
        raise FluxTypeError(f"{type_name(a)} values are not ordered")
    try:
        return {"<": va < vb, "<=": va <= vb, ">": va > vb, ">=": va >= vb}[op]
    except TypeError as exc:
        raise FluxTypeError(f"cannot compare {type_name(a)} with {type_name(b)}") from exc


def regex_match(value: Any, pattern: Any, *, negate: bool = False) -> bool | None:
    if value is None:
        return None
    if not isinstance(value, str) or not isinstance(pattern, Regex):
        raise FluxTypeError(
            f"regex match needs a string and a regexp, got {type_name(value)} and "
            f"{type_name(pattern)}"
        )
    found = pattern.compiled.search(value) is not None
    return not found if negate else found
