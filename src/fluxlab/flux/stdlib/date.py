"""Package "date": calendar parts of a time, truncation and calendar arithmetic.

Every function takes `t` as a time or a duration (a duration means `now() + t`) and
reads the time on the local clock of `location` (default: `option location`).
These are scalar functions (called from row functions such as `map`).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import polars as pl

from fluxlab.flux.errors import FluxRuntimeError, FluxTypeError
from fluxlab.flux.operators import add_duration
from fluxlab.flux.registry import builtin, register_value
from fluxlab.flux.stdlib.timezone import UTC_ZONE, from_local, parse_location, to_local
from fluxlab.flux.values import Duration, Time, type_name

_EPOCH = dt.datetime(1970, 1, 1)
_NS = 10**9


def _location(ctx: Any, location: Any) -> Any:
    return location if location is not None else getattr(ctx, "location", None)


def _instant(ctx: Any, t: Any, fname: str) -> Time:
    """A time argument, or now() + a duration argument."""
    if isinstance(t, Time):
        return t
    if isinstance(t, Duration):
        return add_duration(ctx.now, t)
    raise FluxTypeError(f"date.{fname}: t must be a time or a duration, got {type_name(t)}")


def _local_ns(ctx: Any, t: Any, location: Any, fname: str) -> int:
    ns = _instant(ctx, t, fname).ns
    zone, offset = parse_location(_location(ctx, location))
    if zone == UTC_ZONE and not offset.months:  # the common case, without Polars
        return ns + (-offset.nanoseconds if offset.negative else offset.nanoseconds)
    return int(to_local(pl.Series([ns], dtype=pl.Int64), _location(ctx, location))[0])


def _local(ctx: Any, t: Any, location: Any, fname: str) -> tuple[dt.datetime, int]:
    """The local clock time as a naive datetime (second precision) and the ns fraction."""
    local = _local_ns(ctx, t, location, fname)
    secs, frac = divmod(local, _NS)
    return _EPOCH + dt.timedelta(seconds=secs), frac


def _part(name: str, extract: Any) -> None:
    def impl(ctx: Any, t: Any, location: Any = None) -> int:
        clock, frac = _local(ctx, t, location, name)
        return int(extract(clock, frac))

    impl.__name__ = name
    impl.__doc__ = f"date.{name}: the {name} of t on the local clock."
    builtin("date", name)(impl)


_part("second", lambda c, f: c.second)
_part("minute", lambda c, f: c.minute)
_part("hour", lambda c, f: c.hour)
_part("weekDay", lambda c, f: (c.weekday() + 1) % 7)
_part("monthDay", lambda c, f: c.day)
_part("yearDay", lambda c, f: c.timetuple().tm_yday)
_part("month", lambda c, f: c.month)
_part("year", lambda c, f: c.year)
_part("week", lambda c, f: c.isocalendar()[1])
_part("quarter", lambda c, f: (c.month - 1) // 3 + 1)
_part("millisecond", lambda c, f: f // 1_000_000)
_part("microsecond", lambda c, f: f // 1_000)
_part("nanosecond", lambda c, f: f)


@builtin("date")
def time(ctx: Any, t: Any, location: Any = None) -> Time:
    """The local clock reading of t (a time, or now() + a duration) as a time value."""
    return Time(_local_ns(ctx, t, location, "time"))


@builtin("date")
def truncate(ctx: Any, t: Any, unit: Duration, location: Any = None) -> Time:
    """Start of the `unit` window (calendar units in the location) holding t."""
    from fluxlab.flux.stdlib.windows import WindowSpec, truncate_series

    if not isinstance(unit, Duration):
        raise FluxTypeError("date.truncate: unit must be a duration")
    ns = _instant(ctx, t, "truncate").ns
    spec = WindowSpec(unit, unit, Duration(), _location(ctx, location))
    out = truncate_series(pl.Series([ns], dtype=pl.Int64), spec).cast(pl.Int64)
    return Time(int(out[0]))


def shift_time(ctx: Any, d: Duration, t: Any, location: Any, sign: int, fname: str) -> Time:
    if not isinstance(d, Duration):
        raise FluxTypeError(f"date.{fname}: d must be a duration")
    loc = _location(ctx, location)
    local = _local_ns(ctx, t, loc, fname)
    moved = add_duration(Time(local), d, sign).ns
    return Time(int(from_local(pl.Series([moved], dtype=pl.Int64), loc)[0]))


@builtin("date")
def add(ctx: Any, d: Duration, to: Any, location: Any = None) -> Time:
    """`to + d` with calendar units taken on the local clock."""
    return shift_time(ctx, d, to, location, 1, "add")


@builtin("date")
def sub(ctx: Any, d: Duration, from_: Any = None, location: Any = None, **kw: Any) -> Time:
    """`from - d` with calendar units taken on the local clock."""
    start = kw.pop("from", from_)
    if start is None:
        raise FluxRuntimeError('date.sub: missing required argument "from"')
    return shift_time(ctx, d, start, location, -1, "sub")


@builtin("date")
def scale(ctx: Any, d: Duration, n: int) -> Duration:
    """d multiplied by n."""
    if not isinstance(d, Duration) or not isinstance(n, int):
        raise FluxTypeError("date.scale: d must be a duration and n an int")
    negative = d.negative != (n < 0)
    return Duration(d.months * abs(n), d.nanoseconds * abs(n), negative)


for _name, _value in {
    "Sunday": 0,
    "Monday": 1,
    "Tuesday": 2,
    "Wednesday": 3,
    "Thursday": 4,
    "Friday": 5,
    "Saturday": 6,
    "January": 1,
    "February": 2,
    "March": 3,
    "April": 4,
    "May": 5,
    "June": 6,
    "July": 7,
    "August": 8,
    "September": 9,
    "October": 10,
    "November": 11,
    "December": 12,
}.items():
    register_value("date", _name, _value)
