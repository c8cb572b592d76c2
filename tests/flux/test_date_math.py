"""Packages date, math, timezone and the experimental aggregates/time helpers."""

from __future__ import annotations

import math

import pytest

from fluxlab.flux import run
from fluxlab.flux.errors import FluxRuntimeError


def value(expr: str, *, prelude: str = "") -> object:
    """Evaluate one Flux expression through array.from and return the cell."""
    src = f"""
import "array"
import "date"
import "math"
import "timezone"
import "experimental"
option now = () => 2021-03-01T00:00:00Z
{prelude}
array.from(rows: [{{v: {expr}}}])
"""
    (stream,) = run(src).values()
    return stream.tables[0].df["v"][0]


def ts(expr: str, **kw: str) -> str:
    got = value(expr, **kw)
    return got.strftime("%Y-%m-%dT%H:%M:%S.%fZ")  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("fn", "expected"),
    [
        ("second", 5),
        ("minute", 4),
        ("hour", 3),
        ("weekDay", 3),  # 2021-06-30 is a Wednesday
        ("monthDay", 30),
        ("yearDay", 181),
        ("month", 6),
        ("year", 2021),
        ("week", 26),
        ("quarter", 2),
        ("millisecond", 123),
        ("microsecond", 123456),
        ("nanosecond", 123456789),
    ],
)
def test_date_parts(fn: str, expected: int) -> None:
    assert value(f"date.{fn}(t: 2021-06-30T03:04:05.123456789Z)") == expected


def test_date_parts_use_location_and_durations() -> None:
    assert value("date.hour(t: 2021-06-30T03:00:00Z, location: timezone.fixed(offset: -5h))") == 22
    assert value("date.month(t: -1mo)") == 2  # now() - 1mo
    assert value("date.millisecond(t: duration(v: -3))") == 999


def test_date_truncate_add_sub_scale_time() -> None:
    assert ts("date.truncate(t: 2021-06-30T03:04:05Z, unit: 1mo)") == "2021-06-01T00:00:00.000000Z"
    assert ts("date.truncate(t: 2021-06-30T03:04:05Z, unit: 1w)") == "2021-06-24T00:00:00.000000Z"
    assert ts("date.add(d: 1mo, to: 2021-01-31T00:00:00Z)") == "2021-02-28T00:00:00.000000Z"
    assert ts("date.sub(d: 1d, from: 2021-03-01T00:00:00Z)") == "2021-02-28T00:00:00.000000Z"
    assert ts("date.add(to: now(), d: date.scale(d: 1h, n: 3))") == "2021-03-01T03:00:00.000000Z"
    kolkata = 'option location = timezone.location(name: "Asia/Kolkata")'
    assert (
        ts("date.time(t: 2021-03-01T00:00:00Z)", prelude=kolkata) == "2021-03-01T05:30:00.000000Z"
    )


def test_date_truncate_daily_in_a_zone() -> None:
    got = ts(
        "date.truncate(t: 2021-06-30T03:00:00Z, unit: 1d, "
        'location: timezone.location(name: "America/New_York"))'
    )
    assert got == "2021-06-29T04:00:00.000000Z"


def test_date_rejects_bad_argument() -> None:
    with pytest.raises(FluxRuntimeError, match="time or a duration"):
        value('date.hour(t: "noon")')


def test_math_functions_follow_go() -> None:
    assert value("math.round(x: 2.5)") == 3.0
    assert value("math.round(x: -2.5)") == -3.0
    assert value("math.roundtoeven(x: 2.5)") == 2.0
    assert value("math.pow(x: 2.0, y: 10.0)") == 1024.0
    assert value("math.mMax(x: 1.0, y: 3.0)") == 3.0
    assert math.isnan(value("math.mMin(x: math.NaN(), y: 3.0)"))  # type: ignore[arg-type]
    assert value("math.log(x: 0.0)") == -math.inf
    assert math.isnan(value("math.sqrt(x: -1.0)"))  # type: ignore[arg-type]
    assert value("math.pi") == pytest.approx(math.pi)
    assert value("math.abs(x: -2.0)") == 2.0


def test_math_in_map_runs_vectorized_and_row_wise_alike() -> None:
    src = """
import "array"
import "math"
array.from(rows: [{_value: 1.5}, {_value: -2.5}, {_value: 4.0}])
    |> map(fn: (r) => ({r with r: math.round(x: r._value), m: math.mMax(x: r._value, y: 0.0)}))
"""
    (stream,) = run(src).values()
    df = stream.tables[0].df
    assert df["r"].to_list() == [2.0, -3.0, 4.0]
    assert df["m"].to_list() == [1.5, 0.0, 4.0]


def test_experimental_time_helpers() -> None:
    assert ts("experimental.addDuration(d: 3mo, to: now())") == "2021-06-01T00:00:00.000000Z"
    assert ts("experimental.subDuration(d: 1h, from: -1d)") == "2021-02-27T23:00:00.000000Z"


EXP = """
import "array"
import "experimental"
data = array.from(rows: [
    {_time: 2021-01-01T00:00:00Z, _value: 1.0, h: "a"},
    {_time: 2021-01-01T00:00:10Z, _value: 3.0, h: "a"},
    {_time: 2021-01-01T00:00:30Z, _value: 8.0, h: "a"},
]) |> range(start: 2021-01-01T00:00:00Z, stop: 2021-01-01T00:01:00Z) |> group(columns: ["h"])
"""


def test_experimental_aggregates_and_set() -> None:
    out = run(
        EXP + 'data |> experimental.mean() |> yield(name: "m")\n'
        'data |> experimental.spread() |> yield(name: "s")\n'
        'data |> experimental.set(o: {h: "b", extra: 1}) |> yield(name: "x")'
    )
    assert out["m"].tables[0].df["_value"].to_list() == [4.0]
    assert out["s"].tables[0].df["_value"].to_list() == [7.0]
    x = out["x"].tables[0]
    assert x.df["h"].unique().to_list() == ["b"] and x.df["extra"].to_list() == [1, 1, 1]


def test_experimental_align_time_keeps_spacing() -> None:
    out = run(EXP + "data |> experimental.alignTime(alignTo: 2000-01-01T00:00:00Z)")
    (stream,) = out.values()
    secs = [t.timestamp() for t in stream.tables[0].df["_time"].to_list()]
    assert [s - secs[0] for s in secs] == [0, 10, 30]
    assert stream.tables[0].df["_time"][0].year == 2000


def test_experimental_table_fill_and_aggregate_rate() -> None:
    src = """
import "array"
import "experimental/table"
import "experimental/aggregate"
data = array.from(rows: [
    {_time: 2021-01-01T00:00:00Z, _value: 1, h: "a"},
    {_time: 2021-01-01T00:00:10Z, _value: 3, h: "a"},
    {_time: 2021-01-01T00:00:20Z, _value: 5, h: "a"},
    {_time: 2021-01-01T00:00:30Z, _value: 7, h: "a"},
]) |> range(start: 2021-01-01T00:00:00Z, stop: 2021-01-01T00:01:00Z) |> group(columns: ["h"])
data |> window(every: 30s, createEmpty: true) |> filter(fn: (r) => r._value > 6, onEmpty: "keep")
     |> table.fill() |> yield(name: "filled")
data |> aggregate.rate(every: 30s, groupColumns: ["h"]) |> yield(name: "rate")
"""
    out = run(src)
    filled = sorted(((t.height, t.df["_value"].to_list()) for t in out["filled"]), key=str)
    assert filled == [(1, [7]), (1, [None])]
    rate = out["rate"].tables[0].df
    assert rate["_value"].to_list() == [pytest.approx(0.2), pytest.approx(0.2)]
