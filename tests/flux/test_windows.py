"""window, aggregateWindow, truncateTimeColumn, timeShift and local-clock helpers."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from fluxlab.flux import run
from fluxlab.flux.errors import FluxRuntimeError
from fluxlab.flux.stdlib.timezone import from_local, to_local
from fluxlab.flux.table import Stream
from fluxlab.flux.values import Duration


def ns(text: str) -> int:
    when = dt.datetime.fromisoformat(text)
    return int(when.timestamp()) * 10**9


def bounds(stream: Stream) -> list[tuple[str, str, int]]:
    """(_start, _stop, rows) per table, as ISO strings in UTC."""
    out = []
    for t in stream:
        kd = t.key_dict()
        start = t.df["_start"][0] if t.height else kd["_start"]
        stop = t.df["_stop"][0] if t.height else kd["_stop"]
        out.append((_iso(start), _iso(stop), t.height))
    return sorted(out)


def _iso(value: object) -> str:
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    from fluxlab.flux.values import Time

    assert isinstance(value, Time)
    return dt.datetime.fromtimestamp(value.ns / 1e9, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def one(source: str) -> Stream:
    results = run(source)
    assert len(results) == 1
    return next(iter(results.values()))


DATA = """
import "array"
import "timezone"
data = array.from(rows: [
    {_time: 2021-01-01T00:00:00Z, _value: 1.0},
    {_time: 2021-01-01T00:00:05Z, _value: 2.0},
    {_time: 2021-01-01T00:00:25Z, _value: 4.0},
]) |> range(start: 2021-01-01T00:00:00Z, stop: 2021-01-01T00:00:40Z)
"""


def test_window_assigns_rows_and_adds_bounds_to_key() -> None:
    out = one(DATA + "data |> window(every: 10s)")
    assert bounds(out) == [
        ("2021-01-01T00:00:00Z", "2021-01-01T00:00:10Z", 2),
        ("2021-01-01T00:00:20Z", "2021-01-01T00:00:30Z", 1),
    ]
    assert set(out.tables[0].key) == {"_start", "_stop"}


def test_window_create_empty_covers_the_range() -> None:
    out = one(DATA + "data |> window(every: 10s, createEmpty: true)")
    assert [rows for *_, rows in bounds(out)] == [2, 0, 1, 0]


def test_window_period_longer_than_every_repeats_rows_and_clips_to_range() -> None:
    out = one(DATA + "data |> window(every: 10s, period: 20s)")
    assert bounds(out) == [
        ("2021-01-01T00:00:00Z", "2021-01-01T00:00:10Z", 2),  # [-10s, 10s) clipped
        ("2021-01-01T00:00:00Z", "2021-01-01T00:00:20Z", 2),
        ("2021-01-01T00:00:10Z", "2021-01-01T00:00:30Z", 1),
        ("2021-01-01T00:00:20Z", "2021-01-01T00:00:40Z", 1),
    ]


def test_window_calendar_months_with_offset() -> None:
    src = """
import "array"
array.from(rows: [{_time: 2020-02-10T00:00:00Z, _value: 1},
                  {_time: 2020-03-31T23:00:00Z, _value: 2}])
    |> range(start: 2020-01-01T00:00:00Z, stop: 2020-06-01T00:00:00Z)
    |> window(every: 1mo, offset: -2h)
"""
    assert bounds(one(src)) == [
        ("2020-01-31T22:00:00Z", "2020-02-29T22:00:00Z", 1),
        ("2020-03-31T22:00:00Z", "2020-04-30T22:00:00Z", 1),
    ]


def test_window_daily_in_a_dst_zone_follows_local_midnight() -> None:
    src = """
import "array"
import "timezone"
option location = timezone.location(name: "America/Los_Angeles")
array.from(rows: [{_time: 2017-03-12T03:00:00-07:00}])
    |> range(start: 2017-01-01T00:00:00Z, stop: 2018-01-01T00:00:00Z)
    |> window(every: 1d)
"""
    # the day DST starts is 23 hours long
    assert bounds(one(src)) == [("2017-03-12T08:00:00Z", "2017-03-13T07:00:00Z", 1)]


def test_window_requires_every_or_period() -> None:
    with pytest.raises(FluxRuntimeError, match="every or period"):
        run(DATA + "data |> window()")


def test_aggregate_window_fills_empty_windows_and_restores_range_bounds() -> None:
    out = one(DATA + "data |> aggregateWindow(every: 10s, fn: mean)")
    (table,) = out.tables
    assert table.df["_value"].to_list() == [1.5, None, 4.0, None]
    times = table.df["_time"].cast(pl.Int64).to_list()
    assert times == [ns(f"2021-01-01T00:00:{s:02d}+00:00") for s in (10, 20, 30, 40)]
    assert table.df["_start"].cast(pl.Int64).unique().to_list() == [ns("2021-01-01T00:00:00+00:00")]


def test_aggregate_window_count_time_src_and_no_empty() -> None:
    out = one(
        DATA
        + 'data |> aggregateWindow(every: 10s, fn: count, timeSrc: "_start", createEmpty: false)'
    )
    df = out.tables[0].df
    assert df["_value"].to_list() == [2, 1]
    assert df["_time"].cast(pl.Int64).to_list() == [
        ns("2021-01-01T00:00:00+00:00"),
        ns("2021-01-01T00:00:20+00:00"),
    ]


def test_aggregate_window_with_a_lambda_fn() -> None:
    src = (
        DATA
        + "data |> aggregateWindow(every: 20s, "
        + "fn: (tables=<-, column) => tables |> max(column: column))"
    )
    assert one(src).tables[0].df["_value"].to_list() == [2.0, 4.0]


def test_truncate_time_column_weeks_start_on_thursday() -> None:
    src = """
import "array"
array.from(rows: [{_time: 2021-06-15T12:34:56Z, _value: 1}]) |> truncateTimeColumn(unit: 1w)
"""
    (table,) = one(src).tables
    assert table.df["_time"].cast(pl.Int64).to_list() == [
        ns("2021-06-10T00:00:00+00:00")
    ]  # a Thursday


def test_time_shift_moves_all_time_columns() -> None:
    out = one(DATA + "data |> timeShift(duration: 1h)")
    df = out.tables[0].df
    assert df["_start"].cast(pl.Int64)[0] == ns("2021-01-01T01:00:00+00:00")
    assert df["_time"].cast(pl.Int64).to_list()[0] == ns("2021-01-01T01:00:00+00:00")


def test_local_clock_round_trip_and_dst_gap() -> None:
    loc = {"zone": "America/Los_Angeles", "offset": Duration()}
    instants = pl.Series([ns("2017-03-12T09:45:00+00:00"), ns("2017-11-05T09:45:00+00:00")])
    assert from_local(to_local(instants, loc), loc).to_list()[0] == instants[0]
    gap = pl.Series([ns("2017-03-12T02:30:00+00:00")])  # 02:30 local does not exist
    assert from_local(gap, loc).to_list() == [ns("2017-03-12T10:00:00+00:00")]
    ambiguous = pl.Series([ns("2017-11-05T01:30:00+00:00")])  # earliest instant wins
    assert from_local(ambiguous, loc).to_list() == [ns("2017-11-05T08:30:00+00:00")]


def _frames(stream: Stream) -> dict[tuple, pl.DataFrame]:
    out = {}
    for t in stream:
        ident = tuple(sorted((k, str(v)) for k, v in zip(t.key, t.df.row(0), strict=False)))
        out[tuple(sorted(t.key)), ident] = t.df.select(sorted(t.df.columns))
    return out


@pytest.mark.parametrize(
    "fn",
    ["count", "sum", "mean", "median", "spread", "stddev", "skew", "first", "last", "min", "max"],
)
@pytest.mark.parametrize("time_src", ["_stop", "_start"])
def test_fast_aggregate_window_matches_the_general_path(fn: str, time_src: str) -> None:
    from fluxlab.flux.context import Context
    from fluxlab.flux.registry import PACKAGES
    from fluxlab.flux.stdlib.windows import aggregateWindow
    from fluxlab.flux.table import TIME_TYPE

    start = ns("2021-01-01T00:00:00+00:00")
    secs = [0, 3, 4, 15, 31, 33, 0, 1, 52]
    df = pl.DataFrame(
        {
            "host": ["a"] * 6 + ["b"] * 3,
            "_time": (pl.Series(secs, dtype=pl.Int64) * 10**9 + start).cast(TIME_TYPE),
            "_value": [1.0, None, 2.0, 7.0, 3.0, 3.5, None, None, 9.0],
        }
    ).with_columns(
        pl.lit(start).cast(TIME_TYPE).alias("_start"),
        pl.lit(start + 60 * 10**9).cast(TIME_TYPE).alias("_stop"),
    )
    tables = Stream.from_frame(df, ["host", "_start", "_stop"])
    native = PACKAGES["universe"][fn]

    def wrapped(ctx: object, args: dict) -> Stream:  # not a NativeFunction: general path
        return native(ctx, args)

    every = Duration.of_ns(10 * 10**9)
    fast = aggregateWindow(Context(), tables, every, native, timeSrc=time_src)
    slow = aggregateWindow(Context(), tables, every, wrapped, timeSrc=time_src)
    assert _frames(fast).keys() == _frames(slow).keys()
    for k, frame in _frames(fast).items():
        assert frame.equals(_frames(slow)[k], null_equal=True), (fn, k)


def test_fast_median_runs_the_digest_for_large_windows() -> None:
    import numpy as np

    from fluxlab.flux.context import Context
    from fluxlab.flux.registry import PACKAGES
    from fluxlab.flux.stdlib.aggregates import TDigest
    from fluxlab.flux.stdlib.windows import aggregateWindow
    from fluxlab.flux.table import TIME_TYPE

    start = ns("2021-01-01T00:00:00+00:00")
    values = np.random.default_rng(7).normal(size=3000)
    df = pl.DataFrame(
        {
            "_time": (pl.Series(np.arange(3000), dtype=pl.Int64) * 10**9 + start).cast(TIME_TYPE),
            "_value": values,
        }
    ).with_columns(
        pl.lit(start).cast(TIME_TYPE).alias("_start"),
        pl.lit(start + 3600 * 10**9).cast(TIME_TYPE).alias("_stop"),
    )
    tables = Stream.from_frame(df, ["_start", "_stop"])
    out = aggregateWindow(
        Context(), tables, Duration.of_ns(3600 * 10**9), PACKAGES["universe"]["median"]
    )
    expected = TDigest(1000).extend(values).quantile(0.5)
    assert out.tables[0].df["_value"].to_list() == [pytest.approx(expected)]


def test_hour_selection_wraps_midnight() -> None:
    src = """
import "array"
array.from(rows: [
    {_time: 2021-01-01T01:00:00Z, _value: 1},
    {_time: 2021-01-01T12:00:00Z, _value: 2},
    {_time: 2021-01-01T23:00:00Z, _value: 3},
]) |> hourSelection(start: 22, stop: 2)
"""
    assert one(src).tables[0].df["_value"].to_list() == [1, 3]


def test_time_weighted_average_uses_linear_edges() -> None:
    src = """
import "array"
array.from(rows: [
    {_time: 2021-01-01T00:00:10Z, _value: 1.0},
    {_time: 2021-01-01T00:00:30Z, _value: 3.0},
]) |> range(start: 2021-01-01T00:00:00Z, stop: 2021-01-01T00:01:00Z)
   |> timeWeightedAvg(unit: 1s)
"""
    # linear through (10, 1) and (30, 3): 0 at t=0 and 6 at t=60 -> mean 3
    assert one(src).tables[0].df["_value"].to_list() == [pytest.approx(3.0)]
