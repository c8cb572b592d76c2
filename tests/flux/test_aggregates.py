"""Universe aggregates and selectors on hand-built streams and through Flux programs."""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest

from fluxlab.flux import run
from fluxlab.flux.context import Context
from fluxlab.flux.errors import FluxRuntimeError, FluxTypeError
from fluxlab.flux.stdlib import aggregates as agg
from fluxlab.flux.table import TIME_TYPE, Stream, Table

CTX = Context()


def stream(rows: dict[str, list], key: list[str]) -> Stream:
    return Stream.from_frame(pl.DataFrame(rows), key)


def by_key(s: Stream) -> dict[tuple, list[dict]]:
    return {t.key_values: t.df.to_dicts() for t in s}


@pytest.fixture
def two_tables() -> Stream:
    s = stream(
        {"k": ["a", "a", "a", "b", "b"], "_value": [3, 1, 2, None, 5], "t": [1, 2, 3, 4, 5]}, ["k"]
    )
    s.tables.append(Table(("k",), ("c",), s.tables[0].df.head(0)))  # an empty table
    return s


def test_count_counts_nulls_and_gives_zero_for_empty_tables(two_tables: Stream) -> None:
    out = by_key(agg.count(CTX, two_tables))
    assert out == {
        ("a",): [{"k": "a", "_value": 3}],
        ("b",): [{"k": "b", "_value": 2}],
        ("c",): [{"k": "c", "_value": 0}],
    }
    assert all(t.df.schema["_value"] == pl.Int64 for t in agg.count(CTX, two_tables))


def test_sum_keeps_type_and_is_null_without_values(two_tables: Stream) -> None:
    out = agg.sum_(CTX, two_tables)
    assert [t.df["_value"].to_list() for t in out] == [[6], [5], [None]]
    assert out.tables[0].df.schema["_value"] == pl.Int64


def test_mean_is_double_and_drops_non_key_columns(two_tables: Stream) -> None:
    out = agg.mean(CTX, two_tables)
    assert out.tables[0].df.columns == ["k", "_value"]
    assert out.tables[0].df["_value"].to_list() == [2.0]
    assert out.tables[2].df["_value"].to_list() == [None]


def test_stddev_modes_and_spread(two_tables: Stream) -> None:
    assert agg.stddev(CTX, two_tables).tables[0].df["_value"][0] == pytest.approx(1.0)
    pop = agg.stddev(CTX, two_tables, mode="population").tables[0].df["_value"][0]
    assert pop == pytest.approx(math.sqrt(2 / 3))
    assert agg.spread(CTX, two_tables).tables[0].df["_value"].to_list() == [2]
    with pytest.raises(FluxRuntimeError, match="mode"):
        agg.stddev(CTX, two_tables, mode="bogus")


def test_numeric_aggregate_rejects_strings() -> None:
    s = stream({"k": ["a"], "_value": ["x"]}, ["k"])
    with pytest.raises(FluxTypeError, match='mean: column "_value" is string'):
        agg.mean(CTX, s)


def test_missing_column_is_reported() -> None:
    s = stream({"k": ["a"], "_value": [1]}, ["k"])
    with pytest.raises(FluxRuntimeError, match='column "nope" does not exist'):
        agg.count(CTX, s, column="nope")


def test_selectors_keep_rows_and_skip_nulls(two_tables: Stream) -> None:
    first = by_key(agg.first(CTX, two_tables))
    assert first[("b",)] == [{"k": "b", "_value": 5, "t": 5}]
    assert first[("c",)] == []
    assert agg.last(CTX, two_tables).tables[0].df["t"].to_list() == [3]
    assert agg.min_(CTX, two_tables).tables[0].df["t"].to_list() == [2]
    assert agg.max_(CTX, two_tables).tables[0].df["t"].to_list() == [1]


def test_max_picks_first_of_ties() -> None:
    s = stream({"k": ["a"] * 3, "_value": [5, 7, 7], "t": [1, 2, 3]}, ["k"])
    assert agg.max_(CTX, s).tables[0].df["t"].to_list() == [2]


def test_quantile_methods() -> None:
    s = stream({"k": ["a"] * 6, "_value": [55.0, 15, 25, 5, 105, 45], "t": list(range(6))}, ["k"])
    sel = agg.quantile(CTX, s, 0.5, method="exact_selector").tables[0].df
    assert sel["_value"].to_list() == [25.0] and sel["t"].to_list() == [2]
    assert agg.quantile(CTX, s, 0.5, method="exact_mean").tables[0].df["_value"][0] == 35.0
    # t-digest with singleton centroids interpolates at q*n - 0.5
    assert agg.quantile(CTX, s, 0.75).tables[0].df["_value"][0] == pytest.approx(55.0)
    # compression 1 merges everything into one centroid: the mean
    assert agg.median(CTX, s, compression=1.0).tables[0].df["_value"][0] == pytest.approx(250 / 6)
    with pytest.raises(FluxRuntimeError, match="unknown method"):
        agg.quantile(CTX, s, 0.5, method="nope")


def test_exact_selector_gives_null_row_for_empty_table() -> None:
    empty = Table(
        ("k",),
        ("a",),
        pl.DataFrame({"k": [], "_value": []}, schema={"k": pl.String, "_value": pl.Float64}),
    )
    out = agg.quantile(CTX, Stream([empty]), 0.5, method="exact_selector").tables[0].df
    assert out.to_dicts() == [{"k": "a", "_value": None}]


def test_tdigest_matches_closed_form_for_small_inputs() -> None:
    values = np.random.default_rng(3).normal(size=300)
    ordered = np.sort(values)
    for q in (0.0, 0.25, 0.5, 0.9, 1.0):
        pos = min(max(q * values.size - 0.5, 0), values.size - 1)
        lo, hi = math.floor(pos), math.ceil(pos)
        expected = ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)
        assert agg.TDigest(1000).extend(values).quantile(q) == pytest.approx(expected)


def test_tdigest_large_input_is_close_to_exact() -> None:
    values = np.random.default_rng(4).uniform(0, 100, size=20_000)
    assert agg.TDigest(100).extend(values).quantile(0.5) == pytest.approx(
        np.median(values), abs=1.0
    )


def test_mode_returns_all_ties_sorted() -> None:
    s = stream({"k": ["a"] * 6, "_value": [70, 48, 33, 63, 48, 63]}, ["k"])
    assert agg.mode(CTX, s).tables[0].df["_value"].to_list() == [48, 63]


def test_distinct_and_unique() -> None:
    s = stream({"k": ["a"] * 4, "_value": [1, None, 1, 2], "t": [1, 2, 3, 4]}, ["k"])
    assert agg.distinct(CTX, s).tables[0].df.to_dicts() == [
        {"k": "a", "_value": 1},
        {"k": "a", "_value": None},
        {"k": "a", "_value": 2},
    ]
    assert agg.unique(CTX, s).tables[0].df["t"].to_list() == [1, 2, 4]


def test_top_bottom_sample_tail() -> None:
    s = stream({"k": ["a"] * 5, "_value": [3, None, 9, 1, 9], "t": [1, 2, 3, 4, 5]}, ["k"])
    assert agg.top(CTX, s, 2).tables[0].df["t"].to_list() == [3, 5]
    assert agg.bottom(CTX, s, 2).tables[0].df["t"].to_list() == [2, 4]  # null sorts first
    assert agg.sample(CTX, s, 2, pos=1).tables[0].df["t"].to_list() == [2, 4]
    assert agg.tail(CTX, s, 2, offset=1).tables[0].df["t"].to_list() == [3, 4]


def test_covariance_and_pearson() -> None:
    s = stream({"k": ["a"] * 4, "x": [1.0, 2.0, 3.0, 4.0], "y": [2.0, 4.0, 6.0, 8.5]}, ["k"])
    cov = agg.covariance(CTX, s, ["x", "y"]).tables[0].df["_value"][0]
    assert cov == pytest.approx(np.cov([1, 2, 3, 4], [2, 4, 6, 8.5])[0, 1])
    r = agg.covariance(CTX, s, ["x", "y"], pearsonr=True).tables[0].df["_value"][0]
    assert r == pytest.approx(np.corrcoef([1, 2, 3, 4], [2, 4, 6, 8.5])[0, 1])


def test_integral_trapezoids_per_unit() -> None:
    times = (pl.Series([0, 10, 20], dtype=pl.Int64) * 10**9).cast(TIME_TYPE)
    s = Stream.from_frame(
        pl.DataFrame({"k": ["a"] * 3, "_time": times, "_value": [1.0, 3.0, None]}), ["k"]
    )
    assert agg.integral(CTX, s).tables[0].df["_value"][0] == pytest.approx(20.0)


def test_highest_max_regroups_then_ranks() -> None:
    s = stream(
        {
            "m": ["A", "A", "B", "B", "C"],
            "h": ["x", "y", "x", "x", "z"],
            "_value": [10, 20, 30, 5, 25],
        },
        ["m"],
    )
    out = agg.highestMax(CTX, s, 2, groupColumns=["h"])
    assert len(out) == 1 and out.tables[0].key == ()
    assert out.tables[0].df["_value"].to_list() == [30, 25]
    low = agg.lowestAverage(CTX, s, 1, groupColumns=["h"]).tables[0].df
    assert low["_value"].to_list() == [15.0] and low["h"].to_list() == ["x"]


FLUX_DATA = """
import "array"
data = array.from(rows: [
    {_time: 2021-01-01T00:00:00Z, _value: 1.0, host: "a"},
    {_time: 2021-01-01T00:00:10Z, _value: 4.0, host: "a"},
    {_time: 2021-01-01T00:00:00Z, _value: 10.0, host: "b"},
]) |> group(columns: ["host"])
"""


def test_aggregates_through_flux_programs() -> None:
    out = run(FLUX_DATA + 'data |> mean() |> yield(name: "m")\ndata |> count() |> yield(name: "c")')
    means = {t.key_values: t.df["_value"].to_list() for t in out["m"]}
    assert means == {("a",): [2.5], ("b",): [10.0]}
    assert sorted(v for t in out["c"] for v in t.df["_value"]) == [1, 2]
