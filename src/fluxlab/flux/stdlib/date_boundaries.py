"""Packages "experimental/date/boundaries" (and its older name "date/boundaries").

Each function returns {start, stop}: the UTC instants of local midnights in
`option location`, relative to `now()`. Days are calendar days on the local clock, so
a day that crosses a daylight-saving change lasts 23 or 25 hours. A weekday function
(`monday()`...) gives the most recent such day strictly before today.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import polars as pl

from fluxlab.flux.errors import FluxTypeError
from fluxlab.flux.registry import builtin
from fluxlab.flux.stdlib.timezone import from_local, to_local
from fluxlab.flux.values import Time

_PACKAGES = ("experimental/date/boundaries", "date/boundaries")
_EPOCH = dt.date(1970, 1, 1)
_DAY_NS = 86_400 * 10**9
_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def _today(ctx: Any) -> dt.date:
    """The local calendar date of now() in the query's location."""
    local_ns = int(to_local(pl.Series([ctx.now.ns], dtype=pl.Int64), ctx.location)[0])
    return _EPOCH + dt.timedelta(days=local_ns // _DAY_NS)


def _span(ctx: Any, start: dt.date, stop: dt.date) -> dict[str, Time]:
    """{start, stop} at the local midnights of two dates."""
    local = pl.Series([(d - _EPOCH).days * _DAY_NS for d in (start, stop)], dtype=pl.Int64)
    instants = from_local(local, ctx.location).to_list()
    return {"start": Time(int(instants[0])), "stop": Time(int(instants[1]))}


def _int(value: Any, fname: str, param: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise FluxTypeError(f"boundaries.{fname}: {param} must be an int")
    return int(value)


def _register(name: str, fn: Any) -> None:
    for package in _PACKAGES:
        builtin(package, name)(fn)


def yesterday(ctx: Any) -> dict[str, Time]:
    today = _today(ctx)
    return _span(ctx, today - dt.timedelta(days=1), today)


def week(ctx: Any, start_sunday: bool = False, week_offset: int = 0) -> dict[str, Time]:
    """The week holding today (Monday-based unless start_sunday), shifted by week_offset."""
    today = _today(ctx)
    first = 6 if start_sunday else 0  # Python weekday numbers: Monday 0 ... Sunday 6
    back = (today.weekday() - first) % 7
    start = today - dt.timedelta(days=back) + dt.timedelta(weeks=_int(week_offset, "week", "week_offset"))
    return _span(ctx, start, start + dt.timedelta(days=7))


def month(ctx: Any, month_offset: int = 0) -> dict[str, Time]:
    """The calendar month holding today, shifted by month_offset months."""
    today = _today(ctx)
    index = today.year * 12 + today.month - 1 + _int(month_offset, "month", "month_offset")
    start = dt.date(index // 12, index % 12 + 1, 1)
    stop = dt.date((index + 1) // 12, (index + 1) % 12 + 1, 1)
    return _span(ctx, start, stop)


def _weekday_function(number: int) -> Any:
    def last_weekday(ctx: Any) -> dict[str, Time]:
        today = _today(ctx)
        back = (today.weekday() - number - 1) % 7 + 1  # 1..7 days: never today itself
        day = today - dt.timedelta(days=back)
        return _span(ctx, day, day + dt.timedelta(days=1))

    return last_weekday


_register("yesterday", yesterday)
_register("week", week)
_register("month", month)
for _number, _name in enumerate(_WEEKDAYS):
    _register(_name, _weekday_function(_number))
