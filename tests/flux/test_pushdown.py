"""Grouped aggregate pushdown (`group |> count/sum/mean`, `truncateTimeColumn |> group |>
count`, `aggregateWindow`) on a real store: results must equal the unpushed path.

The unpushed path is forced by a filter the store cannot translate (`(r) => true`): it
keeps every row but makes the scan materialize, so the same query text runs both ways.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pyarrow as pa
import pytest

from fluxlab import flux
from fluxlab.flux.errors import FluxError
from fluxlab.model.points import PointBatch
from fluxlab.storage import Cmp, Store
from fluxlab.storage import pushdown as storage_pushdown

T0 = 1_700_000_000_000_000_000  # 2023-11-14T22:13:20Z
DAY = 86_400 * 10**9
RANGE = 'range(start: 2023-11-10T00:00:00Z, stop: 2023-12-20T12:00:00Z)'
NO_PUSH = " |> filter(fn: (r) => true)"


def _batch(rng: np.random.Generator, n: int, with_host: bool) -> PointBatch:
    times = T0 + rng.integers(0, 30 * DAY, n) // 10**9 * 10**9  # unsorted, second precision
    hosts = np.array(["a", "b", "c"])[rng.integers(0, 3, n)]
    columns: dict[str, Any] = {
        "time": pa.array(times, pa.int64()),
        "region": pa.array(np.array(["east", "west"])[rng.integers(0, 2, n)]),
        "n": pa.array(rng.integers(-50, 100, n), pa.int64()),
        "v": pa.array(rng.normal(10, 3, n)),
        "s": pa.array([f"x{i}" for i in range(n)]),
    }
    tags: tuple[str, ...] = ("region",)
    if with_host:
        columns["host"] = pa.array(hosts)
        tags = ("host", "region")
    return PointBatch("m", pa.table(columns), tags, ("n", "v", "s"))


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    path: Path = tmp_path_factory.mktemp("pushdown") / "store"
    rng = np.random.default_rng(5)
    with Store(path) as s:
        s.create_bucket("b")
        s.write("b", [_batch(rng, 3000, True), _batch(rng, 400, False)])
        other = pa.table({"time": pa.array([T0 + 5, T0 + DAY], pa.int64()),
                          "host": ["a", "z"], "v": [1.5, 2.5]})
        s.write("b", PointBatch("other", other, ("host",), ("v",)))
        yield s


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Counts real calls of the store's partial-aggregate scan (proves the push happened)."""
    seen: list[str] = []
    for name in ("series_partials", "bucket_totals", "series_presence", "measurements_present",
                 "group_totals", "tag_values_present"):
        real = getattr(storage_pushdown, name)

        def counting(*args: Any, _real: Any = real, _name: str = name, **kwargs: Any) -> Any:
            seen.append(_name)
            return _real(*args, **kwargs)

        monkeypatch.setattr(storage_pushdown, name, counting)
    return seen


def _dump(results: dict[str, Any]) -> list[tuple[Any, ...]]:
    return [
        (name, t.key, t.key_values, list(t.df.schema.items()), t.df.rows())
        for name, stream in results.items()
        for t in stream
    ]


def _same(a: Any, b: Any) -> bool:
    """Equal, floats to 1e-12 relative (the store sums in another order than Polars)."""
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-12) or (math.isnan(a) and math.isnan(b))
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return a == b


def both(store: Store, where: str, tail: str) -> tuple[list[Any], list[Any]]:
    head = f'from(bucket: "b") |> {RANGE}{where}'
    pushed = _dump(flux.run(head + tail, source_store=store))
    unpushed = _dump(flux.run(head + NO_PUSH + tail, source_store=store))
    return pushed, unpushed


M_FIELD = ' |> filter(fn: (r) => r._measurement == "m" and r._field == "{}")'


@pytest.mark.parametrize("fn", ["count", "sum", "mean"])
@pytest.mark.parametrize("field", ["n", "v"])
def test_group_by_tag_then_aggregate(store: Store, calls: list[str], fn: str, field: str) -> None:
    pushed, unpushed = both(store, M_FIELD.format(field), f' |> group(columns: ["host"]) |> {fn}()')
    assert calls, "the aggregate was not pushed down"
    assert len(pushed) == 4  # hosts a, b, c and the series without a host tag
    assert pushed[-1][1] == ()  # no host tag: the key is empty, as in the unpushed path
    assert _same(pushed, unpushed)


def test_group_by_several_columns_keeps_key_order(store: Store, calls: list[str]) -> None:
    tail = ' |> group(columns: ["region", "_measurement", "host", "_start"]) |> sum()'
    pushed, unpushed = both(store, ' |> filter(fn: (r) => r._field == "v")', tail)
    assert calls
    assert pushed[0][1] == ("region", "_measurement", "host", "_start")
    assert _same(pushed, unpushed)


def test_count_then_top(store: Store, calls: list[str]) -> None:
    tail = ' |> group(columns: ["host", "region"]) |> count() |> group() |> top(n: 3)'
    pushed, unpushed = both(store, M_FIELD.format("s"), tail)
    assert calls
    assert len(pushed[0][4]) == 3
    assert pushed == unpushed


@pytest.mark.parametrize("fn", ["sum", "mean"])
@pytest.mark.parametrize("columns", ['"_time"', '"host", "_time"'])
def test_truncate_group_by_time_sum_mean(
    store: Store, calls: list[str], fn: str, columns: str
) -> None:
    tail = f" |> truncateTimeColumn(unit: 1d) |> group(columns: [{columns}]) |> {fn}()"
    pushed, unpushed = both(store, M_FIELD.format("v"), tail)
    assert calls
    assert _same(pushed, unpushed)


def test_truncate_group_by_time_over_two_measurements(store: Store, calls: list[str]) -> None:
    where = ' |> filter(fn: (r) => r._field == "v")'  # m (with and without host) and other
    tail = ' |> truncateTimeColumn(unit: 1d) |> group(columns: ["_time"]) |> count()'
    pushed, unpushed = both(store, where, tail)
    assert calls
    assert pushed == unpushed


def test_truncate_group_by_time_count(store: Store, calls: list[str]) -> None:
    tail = ' |> truncateTimeColumn(unit: 1w) |> group(columns: ["_time"]) |> count()'
    pushed, unpushed = both(store, M_FIELD.format("n"), tail)
    assert calls
    assert len(pushed) == 6  # the weeks (epoch weeks start on Thursday) touched by the data
    assert pushed == unpushed
    assert sum(t[4][0][1] for t in pushed) == 3400


@pytest.mark.parametrize(
    "tail",
    [
        " |> aggregateWindow(every: 1w, fn: count)",
        " |> aggregateWindow(every: 1d, fn: sum)",
        " |> aggregateWindow(every: 3d, fn: mean, createEmpty: false)",
        " |> group() |> aggregateWindow(every: 1w, fn: count)",
        " |> group() |> aggregateWindow(every: 2d, fn: mean, createEmpty: false)",
        ' |> group(columns: ["host"]) |> aggregateWindow(every: 1w, fn: sum)',
    ],
)
def test_aggregate_window(store: Store, calls: list[str], tail: str) -> None:
    pushed, unpushed = both(store, M_FIELD.format("n"), tail)
    assert calls
    assert pushed and _same(pushed, unpushed)


def test_aggregate_window_over_two_value_types_keeps_table_order(
    store: Store, calls: list[str]
) -> None:
    where = ' |> filter(fn: (r) => r._field == "n" or r._field == "v")'
    pushed, unpushed = both(store, where, " |> aggregateWindow(every: 1w, fn: mean)")
    assert calls
    assert _same(pushed, unpushed)


def test_deferred_group_followed_by_other_functions_runs_normally(
    store: Store, calls: list[str]
) -> None:
    tail = ' |> group(columns: ["host"]) |> sort(columns: ["_time"]) |> limit(n: 2) |> count()'
    pushed, unpushed = both(store, M_FIELD.format("n"), tail)
    assert not calls  # sort is not pushable: the group ran for real
    assert pushed == unpushed and len(pushed) == 4


def test_filter_after_group_is_not_moved_into_the_scan(store: Store, calls: list[str]) -> None:
    tail = ' |> group(columns: ["host"]) |> filter(fn: (r) => r.region == "east") |> count()'
    pushed, unpushed = both(store, M_FIELD.format("n"), tail)
    assert pushed == unpushed
    assert sum(t[4][0][-1] for t in pushed) < 3400


def test_sum_of_strings_still_fails_like_flux(store: Store) -> None:
    query = f'from(bucket: "b") |> {RANGE}{M_FIELD.format("s")} |> group(columns: ["host"])'
    for text in (query + " |> sum()", query.replace(M_FIELD.format("s"), M_FIELD.format("s")
                                                    + NO_PUSH) + " |> sum()"):
        with pytest.raises(FluxError, match="string"):
            flux.run(text, source_store=store)


def test_mixed_value_types_in_one_group_are_not_pushed(store: Store, calls: list[str]) -> None:
    where = ' |> filter(fn: (r) => r._field == "n" or r._field == "v")'
    head = f'from(bucket: "b") |> {RANGE}{where} |> group(columns: ["host"]) |> count()'
    with pytest.raises(FluxError):
        flux.run(head, source_store=store)
    assert calls  # tried, found two value types, gave the query back to the real functions


def test_empty_range_gives_no_tables(store: Store) -> None:
    text = ('from(bucket: "b") |> range(start: 2000-01-01T00:00:00Z, stop: 2000-01-02T00:00:00Z)'
            ' |> group(columns: ["host"]) |> count()')
    assert flux.run(text, source_store=store)["_result"].tables == []


SINCE = "start: 2023-11-01T00:00:00Z"
UNPUSHED = ", predicate: (r) => true)"  # a predicate the store cannot translate


@pytest.mark.parametrize(
    ("call", "unpushed"),
    [
        (f'schema.tagValues(bucket: "b", tag: "host", {SINCE})',
         f'schema.tagValues(bucket: "b", tag: "host", {SINCE}{UNPUSHED}'),
        (f'schema.tagValues(bucket: "b", tag: "region", {SINCE})',
         f'schema.tagValues(bucket: "b", tag: "region", {SINCE}{UNPUSHED}'),
        (f'schema.measurements(bucket: "b", {SINCE})',
         f'schema.tagValues(bucket: "b", tag: "_measurement", {SINCE}{UNPUSHED}'),
        (f'schema.fieldKeys(bucket: "b", {SINCE})',
         f'schema.fieldKeys(bucket: "b", {SINCE}{UNPUSHED}'),
        (f'schema.measurementTagValues(bucket: "b", measurement: "other", tag: "host", {SINCE})',
         f'schema.tagValues(bucket: "b", tag: "host", {SINCE}, predicate: (r) =>'
         ' r._measurement == "other" and true)'),
    ],
)
def test_schema_tag_values_are_pushed(
    store: Store, calls: list[str], call: str, unpushed: str
) -> None:
    head = 'import "influxdata/influxdb/schema"\n'
    pushed = _dump(flux.run(head + call, source_store=store))
    assert calls
    assert pushed == _dump(flux.run(head + unpushed, source_store=store))
    assert len(pushed) == 1 and pushed[0][1] == ()
    assert pushed[0][4]  # some values


def test_schema_tag_values_of_a_missing_tag_is_empty(store: Store) -> None:
    text = ('import "influxdata/influxdb/schema"\n'
            'schema.tagValues(bucket: "b", tag: "nope", start: 2023-11-01T00:00:00Z)')
    assert flux.run(text, source_store=store)["_result"].tables == []


@pytest.mark.parametrize("predicate", [None, "host", "field"])
def test_series_presence_equals_value_free_partials(store: Store, predicate: str | None) -> None:
    """series_presence (one aggregate per measurement) finds the same (series, field)
    rows as series_partials(values=False) (one per field and value type)."""
    from fluxlab.storage.predicate import Or

    pred = {None: None, "host": Cmp("host", "==", "a"),
            "field": Or([Cmp("_field", "==", "v"), Cmp("_measurement", "==", "other")])}[predicate]
    bounds = {"start_ns": T0 + 3, "stop_ns": T0 + 2 * DAY, "predicate": pred}
    want = pl.concat([pl.from_arrow(t) for _, t in
                      storage_pushdown.series_partials(store, "b", values=False, **bounds)],
                     how="diagonal_relaxed")
    got = pl.from_arrow(storage_pushdown.series_presence(store, "b", **bounds))
    assert want.height > 0
    assert sorted(got.select(want.columns).rows(), key=repr) == sorted(want.rows(), key=repr)
    names = storage_pushdown.measurements_present(store, "b", **bounds)
    if predicate == "host":
        assert names is None  # depends on tags: left to the series path
    else:
        assert sorted(names) == sorted(set(want.get_column("_measurement")))


@pytest.mark.parametrize("names", [["cpu", "cpu_x", "cpux"], ["a", "a b", "a-b"]])
def test_schema_measurements_order_equals_unpushed(tmp_path: Path, names: list[str]) -> None:
    """Measurement order follows series keys, also when one name continues another."""
    with Store(tmp_path / "s") as s:
        s.create_bucket("m")
        for i, name in enumerate(names):
            rows = pa.table({"time": pa.array([T0 + i], pa.int64()), "t": [None if i else "x"],
                             "v": [1.0]})
            s.write("m", PointBatch(name, rows, ("t",), ("v",)))
        head = 'import "influxdata/influxdb/schema"\n'
        pushed = _dump(flux.run(head + f'schema.measurements(bucket: "m", {SINCE})',
                                source_store=s))
        plain = _dump(flux.run(head + f'schema.tagValues(bucket: "m", tag: "_measurement", '
                               f'{SINCE}{UNPUSHED}', source_store=s))
        assert pushed == plain and len(pushed) == 1


@pytest.mark.parametrize("start", ["1969-12-20T00:00:00Z", "1970-01-01T00:00:00Z"])
def test_time_buckets_before_and_after_1970(tmp_path: Path, calls: list[str], start: str) -> None:
    """Bucket starts are floors also for negative times (the plain division, used when
    the range starts at or after 1970, truncates toward zero)."""
    times = [-12 * DAY - 5, -3 * DAY + 1, -1, 0, 1, 2 * DAY + 7, 9 * DAY]
    with Store(tmp_path / "s") as s:
        s.create_bucket("b")
        rows = pa.table({"time": pa.array(times, pa.int64()), "v": [1.0] * len(times)})
        s.write("b", PointBatch("m", rows, (), ("v",)))
        head = f'from(bucket: "b") |> range(start: {start}, stop: 1970-02-01T00:00:00Z)'
        for tail in (' |> truncateTimeColumn(unit: 1w) |> group(columns: ["_time"]) |> count()',
                     " |> group() |> aggregateWindow(every: 1w, fn: count)"):
            pushed = _dump(flux.run(head + tail, source_store=s))
            assert pushed == _dump(flux.run(head + NO_PUSH + tail, source_store=s))
            assert pushed
    assert calls


# ----------------------------------------------------------------------------- one-statement shapes

V_ANY = ' |> filter(fn: (r) => r._field == "v")'  # measurements m (with/without host) and other


@pytest.mark.parametrize(
    ("where", "tail"),
    [
        (M_FIELD.format("n"), ' |> group(columns: ["region"]) |> sum()'),
        (M_FIELD.format("v"), ' |> group(columns: ["region", "_start"]) |> mean()'),
        (M_FIELD.format("s"), " |> group() |> count()"),
        (V_ANY, ' |> group(columns: ["_measurement"]) |> count()'),
        (V_ANY, ' |> group(columns: ["_field", "host"]) |> sum()'),
        (M_FIELD.format("n") + ' |> filter(fn: (r) => r.host != "a")',
         ' |> group(columns: ["region"]) |> sum()'),
        (' |> filter(fn: (r) => r._field == "n" and r.host =~ /^[ab]$/)',
         ' |> group(columns: ["host", "region"]) |> count()'),
    ],
)
def test_group_totals_in_one_statement(
    store: Store, calls: list[str], where: str, tail: str
) -> None:
    pushed, unpushed = both(store, where, tail)
    assert calls == ["group_totals"]
    assert pushed and _same(pushed, unpushed)


@pytest.mark.parametrize(
    "tail",
    [
        ' |> group(columns: ["region"]) |> sum() |> filter(fn: (r) => r._value > 0)',
        ' |> group(columns: ["host", "region"]) |> sum() |> filter(fn: (r) => r._value > 2000)',
        ' |> group(columns: ["region"]) |> sum() |> filter(fn: (r) => r.region == "east")',
        ' |> group(columns: ["region"]) |> sum() |> filter(fn: (r) => r._value < -1000000000)',
        ' |> group(columns: ["region"]) |> sum()'
        ' |> filter(fn: (r) => r._value > 0, onEmpty: "keep")',
        ' |> group(columns: ["host", "region"]) |> count() |> group() |> top(n: 3)',
        ' |> group(columns: ["host", "region"]) |> count() |> group(columns: ["region"])',
        ' |> group(columns: ["region"]) |> count() |> group() |> sort(columns: ["region"])',
        ' |> group(columns: ["region"]) |> count() |> filter(fn: (r) => r._value > 1)'
        ' |> group() |> limit(n: 1)',
        ' |> group(columns: ["region"]) |> mean() |> map(fn: (r) => ({r with x: 1}))',
    ],
)
def test_steps_after_a_pushed_aggregate_equal_the_general_path(
    store: Store, calls: list[str], tail: str
) -> None:
    """filter/group() run once over the grouped frame; other steps read its tables."""
    pushed, unpushed = both(store, M_FIELD.format("n"), tail)
    assert calls
    assert _same(pushed, unpushed)


def test_a_pushed_aggregate_stays_one_frame_until_read(store: Store) -> None:
    from fluxlab.flux.stdlib.grouped_frame import GroupedFrame

    text = f'from(bucket: "b") |> {RANGE}{M_FIELD.format("n")} |> group(columns: ["region"])'
    result = flux.run(text + " |> sum() |> filter(fn: (r) => r._value > 0)", source_store=store)
    stream = result["_result"]
    assert isinstance(stream, GroupedFrame)
    assert [t.key for t in stream.tables] == [("region",)] * stream.frame().height
    # a group key tag absent in some series: several table schemas, plain tables
    absent = flux.run(text.replace('"region"', '"host"') + " |> sum()", source_store=store)
    assert not isinstance(absent["_result"], GroupedFrame)


@pytest.mark.parametrize(
    "predicate",
    [
        "(r) => r.region == \"east\"",
        "(r) => r._field == \"v\"",
        "(r) => r._measurement == \"other\" or r.region == \"west\"",
        "(r) => r._field == \"s\" and r.region == \"west\"",  # _field with a tag: series path
        "(r) => r.host !~ /a/",
    ],
)
@pytest.mark.parametrize("tag", ["host", "region"])
def test_schema_tag_values_with_predicates(
    store: Store, calls: list[str], predicate: str, tag: str
) -> None:
    head = 'import "influxdata/influxdb/schema"\n'
    call = f'schema.tagValues(bucket: "b", tag: "{tag}", {SINCE}, predicate: {predicate}'
    pushed = _dump(flux.run(head + call + ")", source_store=store))
    mixed = "_field" in predicate and "region" in predicate  # declined: series path
    assert calls == ["tag_values_present", *(["series_presence"] if mixed else [])]
    unpushed_call = call.replace("predicate: (r) => ", "predicate: (r) => true and (") + ")"
    plain = _dump(flux.run(head + unpushed_call + ")", source_store=store))
    assert pushed == plain


def test_unranked_window_totals_apply_tag_predicates(store: Store, calls: list[str]) -> None:
    where = M_FIELD.format("n") + ' |> filter(fn: (r) => r.host == "a" or r.region == "west")'
    pushed, unpushed = both(store, where, " |> group() |> aggregateWindow(every: 1w, fn: sum)")
    assert calls
    assert pushed and _same(pushed, unpushed)


@pytest.mark.parametrize(
    ("where", "tail", "ranked"),
    [
        (M_FIELD.format("n"), ' |> group() |> sort(columns: ["_time"])', False),
        (V_ANY, ' |> group() |> sort(columns: ["_value", "_time"], desc: true)', False),
        (M_FIELD.format("n"), ' |> group() |> sort(columns: ["_value"])', True),
        (M_FIELD.format("n"), " |> group()", True),
        (M_FIELD.format("n"), ' |> filter(fn: (r) => r._value > 110) |> group()'
         ' |> sort(columns: ["_time"])', True),
        (V_ANY, "", True),
    ],
)
def test_time_buckets_skip_series_ranks_only_when_a_sort_decides_the_order(
    store: Store, monkeypatch: pytest.MonkeyPatch, where: str, tail: str, ranked: bool
) -> None:
    seen: list[bool] = []
    real = storage_pushdown.bucket_totals

    def recording(*args: Any, **kwargs: Any) -> Any:
        seen.append(kwargs["ranked"])
        return real(*args, **kwargs)

    monkeypatch.setattr(storage_pushdown, "bucket_totals", recording)
    head = ' |> truncateTimeColumn(unit: 1d) |> group(columns: ["_time"]) |> count()'
    pushed, unpushed = both(store, where, head + tail)
    assert seen == [ranked]
    assert pushed and pushed == unpushed
