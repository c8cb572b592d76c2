"""difference, derivative, running sums, moving averages, momentum and state functions."""

from __future__ import annotations

import polars as pl
import pytest

from fluxlab.flux import run
from fluxlab.flux.context import Context
from fluxlab.flux.errors import FluxRuntimeError
from fluxlab.flux.stdlib import transforms as tr
from fluxlab.flux.table import TIME_TYPE, Stream

CTX = Context()


def series_stream(values: list, *, key: str = "a", seconds: list[int] | None = None) -> Stream:
    n = len(values)
    secs = seconds if seconds is not None else [10 * i for i in range(n)]
    times = (pl.Series(secs, dtype=pl.Int64) * 10**9).cast(TIME_TYPE)
    df = pl.DataFrame({"k": [key] * n, "_time": times, "_value": values})
    return Stream.from_frame(df, ["k"])


def values(s: Stream, column: str = "_value") -> list:
    return [v for t in s for v in t.df[column].to_list()]


def test_difference_rules() -> None:
    s = series_stream([1, 5, None, 3, 10])
    assert values(tr.difference(CTX, s)) == [4, None, -2, 7]
    assert values(tr.difference(CTX, s, nonNegative=True)) == [4, None, None, 7]
    assert values(tr.difference(CTX, s, keepFirst=True)) == [None, 4, None, -2, 7]
    assert values(tr.difference(CTX, s, nonNegative=True, initialZero=True)) == [4, None, 3, 7]


def test_difference_of_uint_is_int_and_time_columns_are_refused() -> None:
    s = series_stream(pl.Series([5, 3], dtype=pl.UInt64).to_list())
    s = Stream(t.with_df(t.df.with_columns(pl.col("_value").cast(pl.UInt64))) for t in s)
    out = tr.difference(CTX, s)
    assert out.tables[0].df.schema["_value"] == pl.Int64 and values(out) == [-2]
    with pytest.raises(FluxRuntimeError, match="elapsed"):
        tr.difference(CTX, s, columns=["_time"])


def test_derivative_per_second_skips_nulls_and_repeated_times() -> None:
    s = series_stream([1.0, 2.0, None, 8.0, 9.0], seconds=[0, 10, 20, 30, 30])
    assert values(tr.derivative(CTX, s)) == pytest.approx([0.1, None, 0.3], nan_ok=True)
    neg = series_stream([5.0, 1.0, 3.0])
    assert values(tr.derivative(CTX, neg, nonNegative=True)) == [None, 0.2]


def test_cumulative_sum_repeats_sum_on_nulls_and_increase() -> None:
    s = series_stream([1, None, 2, 4])
    assert values(tr.cumulativeSum(CTX, s)) == [1, 1, 3, 7]
    counter = series_stream([1.0, 3.0, 0.0, 2.0])
    assert values(tr.increase(CTX, counter)) == [0.0, 2.0, 2.0, 4.0]


def test_elapsed_in_units() -> None:
    s = series_stream([1, 2, 3], seconds=[0, 60, 180])
    assert values(tr.elapsed(CTX, s), "elapsed") == [60, 120]
    from fluxlab.flux.values import Duration

    assert values(tr.elapsed(CTX, s, unit=Duration.of_ns(60 * 10**9)), "elapsed") == [1, 2]


def test_moving_average_and_short_tables() -> None:
    s = series_stream([1, 2, None, 4, 5])
    assert values(tr.movingAverage(CTX, s, 2)) == [1.5, 2.0, 4.0, 4.5]
    assert values(tr.movingAverage(CTX, series_stream([1, 3]), 5)) == [2.0]


def test_exponential_moving_average_seeds_with_mean() -> None:
    s = series_stream([1.0, 2.0, 3.0, 4.0, None, 5.0])
    k = 2 / 3
    first = 1.5
    second = 3.0 * k + first * (1 - k)
    third = 4.0 * k + second * (1 - k)
    fifth = 5.0 * k + third * (1 - k)
    assert values(tr.exponentialMovingAverage(CTX, s, 2)) == pytest.approx(
        [first, second, third, third, fifth]
    )
    assert values(tr.exponentialMovingAverage(CTX, series_stream([2.0, 4.0]), 5)) == [3.0]


def test_double_and_triple_ema_row_counts() -> None:
    s = series_stream([float(v) for v in range(1, 11)])
    assert len(values(tr.doubleEMA(CTX, s, 3))) == 10 - 2 * 2
    assert len(values(tr.tripleEMA(CTX, s, 3))) == 10 - 3 * 2
    assert len(values(tr.tripleExponentialDerivative(CTX, s, 3))) == 10 - 3 * 2 - 1
    # a straight line is reproduced exactly by DEMA once warmed up
    assert values(tr.doubleEMA(CTX, s, 3))[-1] == pytest.approx(10.0, abs=0.2)


def test_momentum_indicators() -> None:
    s = series_stream([1.0, 2.0, 1.0, 3.0])
    cmo = values(tr.chandeMomentumOscillator(CTX, s, 2))
    assert cmo == pytest.approx([0.0, 100 * (2 - 1) / 3])
    assert values(tr.kaufmansER(CTX, s, 2)) == pytest.approx([0.0, 1 / 3])
    assert (
        len(values(tr.relativeStrengthIndex(CTX, series_stream([1.0, 2.0, 3.0, 2.0, 4.0]), 2))) == 3
    )


def test_kaufmans_ama_drops_first_n_rows() -> None:
    s = series_stream([float(v) for v in range(20)])
    out = values(tr.kaufmansAMA(CTX, s, 5))
    assert len(out) == 15 and all(a < b for a, b in zip(out, out[1:], strict=False))


def test_histogram_quantile_interpolates_in_bucket() -> None:
    df = pl.DataFrame(
        {"k": ["a"] * 4, "le": [0.1, 0.2, 0.5, float("inf")], "_value": [2.0, 6.0, 10.0, 10.0]}
    )
    s = Stream.from_frame(df, ["k"])
    assert values(tr.histogramQuantile(CTX, s, 0.5)) == pytest.approx([0.1 + 0.1 * (5 - 2) / 4])
    assert values(tr.histogramQuantile(CTX, s, 1.0)) == [float("inf")]  # last bound, as Flux
    flat = Stream.from_frame(
        pl.DataFrame({"k": ["a"] * 3, "le": [1.0, 2.0, 3.0], "_value": [2.0, 2.0, 4.0]}), ["k"]
    )
    assert values(tr.histogramQuantile(CTX, flat, 0.5)) == [2.0]  # last bucket reaching the rank
    bad = Stream.from_frame(
        pl.DataFrame({"k": ["a"] * 2, "le": [1.0, 2.0], "_value": [3.0, 1.0]}), ["k"]
    )
    with pytest.raises(FluxRuntimeError, match="monotonic"):
        tr.histogramQuantile(CTX, bad, 0.5)
    assert len(tr.histogramQuantile(CTX, bad, 0.5, onNonmonotonic="drop")) == 0


STATE = """
import "array"
array.from(rows: [
    {_time: 2021-01-01T00:00:00Z, _value: 90.0},
    {_time: 2021-01-01T00:00:10Z, _value: 95.0},
    {_time: 2021-01-01T00:00:20Z, _value: 10.0},
    {_time: 2021-01-01T00:00:30Z, _value: 99.0},
])
"""


def test_state_duration_and_count_through_flux() -> None:
    dur = run(STATE + "|> stateDuration(fn: (r) => r._value > 80.0)")
    assert values(next(iter(dur.values())), "stateDuration") == [0, 10, -1, 0]
    cnt = run(STATE + '|> stateCount(fn: (r) => r._value > 80.0, column: "n")')
    assert values(next(iter(cnt.values())), "n") == [1, 2, -1, 1]


def test_timed_moving_average_through_flux() -> None:
    src = """
import "array"
array.from(rows: [
    {_time: 2021-01-01T00:00:00Z, _value: 1.0},
    {_time: 2021-01-01T00:00:10Z, _value: 3.0},
]) |> range(start: 2021-01-01T00:00:00Z, stop: 2021-01-01T00:00:20Z)
   |> timedMovingAverage(every: 10s, period: 20s)
"""
    out = next(iter(run(src).values()))
    assert values(out) == [1.0, 2.0, 3.0]


def test_histogram_counts_cumulatively_with_bins() -> None:
    src = """
import "array"
array.from(rows: [{_value: 1.0}, {_value: 2.5}, {_value: 7.0}, {_value: 3.0}])
    |> histogram(bins: linearBins(start: 1.0, width: 2.0, count: 3))
"""
    (stream,) = run(src).values()
    df = stream.tables[0].df
    assert df["le"].to_list() == [1.0, 3.0, 5.0, float("inf")]
    assert df["_value"].to_list() == [1.0, 3.0, 3.0, 4.0]
    src_norm = src.replace("count: 3))", "count: 3), normalize: true)")
    (norm,) = run(src_norm).values()
    assert norm.tables[0].df["_value"].to_list() == [0.25, 0.75, 0.75, 1.0]


def test_log_bins() -> None:
    bins = "logarithmicBins(start: 1.0, factor: 10.0, count: 3)"
    src = f'import "array"\narray.from(rows: [{{v: {bins}[2], n: length(arr: {bins})}}])'
    (stream,) = run(src).values()
    assert stream.tables[0].df.row(0) == (100.0, 4)
