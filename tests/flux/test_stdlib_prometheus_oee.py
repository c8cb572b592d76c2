"""experimental/prometheus.histogramQuantile, experimental/oee, array's piped form and
testing.loadMem, with expected values worked out by hand."""

from __future__ import annotations

import math
from typing import Any

import pytest

from fluxlab.flux import run
from fluxlab.flux.compile import frame_records
from fluxlab.flux.errors import FluxError


def tables(source: str) -> list[tuple[dict[str, Any], list[dict[str, Any]]]]:
    stream = next(iter(run(source).values()))
    return [(t.key_dict(), frame_records(t.df)) for t in stream]


def _histogram(buckets: list[tuple[str, float]], org: str = "a", when: str = "00:00:10") -> str:
    return "".join(
        f'{{_measurement: "m", _field: "h", org: "{org}", le: "{le}", '
        f"_time: 2021-01-01T{when}Z, _value: {count}}}, "
        for le, count in buckets
    )


def _quantile(rows: str, q: float, extra: str = "") -> list[tuple[dict[str, Any], list[Any]]]:
    src = 'import "array"\nimport "experimental/prometheus"\n'
    src += f"array.from(rows: [{rows}])\n"
    src += '  |> group(columns: ["_measurement", "_field", "org", "le"])\n'
    src += f"  |> prometheus.histogramQuantile(quantile: {q}{extra})"
    return [(k, [r["_value"] for r in rs]) for k, rs in tables(src)]


BUCKETS = [("1", 20.0), ("2", 60.0), ("4", 90.0), ("+Inf", 100.0)]


def test_quantile_interpolates_inside_the_bucket() -> None:
    # rank 0.5*100 = 50 falls in (1, 2]: 1 + (2-1) * (50-20)/(60-20) = 1.75
    [(key, values)] = _quantile(_histogram(BUCKETS), 0.5)
    assert values == [pytest.approx(1.75)]
    assert key == {"_measurement": "m", "_field": "h", "org": "a", "quantile": "0.5"}


def test_quantile_edges() -> None:
    # lowest bucket starts at 0: rank 10 -> 0 + 1 * 10/20
    assert _quantile(_histogram(BUCKETS), 0.1)[0][1] == [pytest.approx(0.5)]
    # rank 95 is in the +Inf bucket: the highest finite bound
    assert _quantile(_histogram(BUCKETS), 0.95)[0][1] == [4.0]


def test_one_row_per_time_and_series() -> None:
    rows = _histogram(BUCKETS, "a", "00:00:10") + _histogram(BUCKETS, "a", "00:00:20")
    rows += _histogram([("1", 0.0), ("+Inf", 0.0)], "b")
    found = dict((k["org"], v) for k, v in _quantile(rows, 0.5))
    assert found["a"] == [pytest.approx(1.75), pytest.approx(1.75)]
    assert found["b"] == [None]  # no observations


def test_nonmonotonic_counts() -> None:
    rows = _histogram([("1", 30.0), ("2", 20.0), ("+Inf", 40.0)])
    with pytest.raises(FluxError, match="not monotonically increasing"):
        _quantile(rows, 0.5)
    assert _quantile(rows, 0.5, ', onNonmonotonic: "drop"') == []
    # forced counts 30, 30, 40: rank 20 is in the first bucket -> 1 * 20/30
    [(_, values)] = _quantile(rows, 0.5, ', onNonmonotonic: "force"')
    assert values == [pytest.approx(2 / 3)]


def test_metric_version_1_reads_bounds_from_field_and_skips_sum_and_count() -> None:
    src = 'import "array"\nimport "experimental/prometheus"\narray.from(rows: ['
    for field, value in [("1", 20.0), ("2", 60.0), ("+Inf", 100.0), ("sum", 123.0),
                         ("count", 100.0)]:
        src += f'{{_measurement: "m", _field: "{field}", _time: 2021-01-01T00:00:00Z, '
        src += f"_value: {value}}}, "
    src += '])\n  |> group(columns: ["_measurement", "_field"])\n'
    src += "  |> prometheus.histogramQuantile(quantile: 0.5, metricVersion: 1)"
    [(key, rows)] = tables(src)
    assert key == {"_measurement": "m", "quantile": "0.5"}
    assert rows[0]["_value"] == pytest.approx(1.75)


# ------------------------------------------------------------------------------ oee

EVENTS = """
#datatype,string,long,dateTime:RFC3339,string,long,long
#group,false,false,false,false,false,false
#default,_result,,,,,
,result,table,_time,state,partCount,badCount
,,0,2021-01-01T00:00:00Z,running,100,0
,,0,2021-01-01T02:00:00Z,idle,160,2
,,0,2021-01-01T03:00:00Z,running,160,2
"""


def test_apq_ratios() -> None:
    src = f'import "testing"\nimport "experimental/oee"\ndata = "{EVENTS}"\n'
    src += "testing.loadMem(csv: data)\n"
    src += "  |> range(start: 2021-01-01T00:00:00Z, stop: 2021-01-01T04:00:00Z)\n"
    src += '  |> oee.APQ(runningState: "running", plannedTime: 4h, idealCycleTime: 1m)'
    [(key, [row])] = tables(src)
    assert set(key) == {"_start", "_stop"}
    run_ns = 3 * 3600 * 10**9  # 00-02 and 03-04 (until _stop) are running
    assert row["runTime"] == run_ns
    assert row["availability"] == pytest.approx(0.75)
    assert row["performance"] == pytest.approx(60 * 60 / (3 * 3600))  # 60 parts x 1 min / 3h
    assert row["quality"] == pytest.approx(58 / 60)
    assert row["oee"] == pytest.approx(0.75 * (1 / 3) * (58 / 60))


def test_compute_apq_takes_states_and_parts_from_two_streams() -> None:
    rng = "range(start: 2021-01-01T00:00:00Z, stop: 2021-01-01T04:00:00Z)"
    src = f'import "testing"\nimport "experimental/oee"\ndata = "{EVENTS}"\n'
    src += f'states = testing.loadMem(csv: data) |> {rng} |> keep(columns: ["_start", "_stop", '
    src += '"_time", "state"])\n'
    src += f"parts = testing.loadMem(csv: data) |> {rng} |> drop(columns: [\"state\"])\n"
    src += "oee.computeAPQ(productionEvents: states, partEvents: parts, "
    src += 'runningState: "running", plannedTime: 4h, idealCycleTime: 1m)'
    [(_, [row])] = tables(src)
    assert row["availability"] == pytest.approx(0.75)
    assert row["quality"] == pytest.approx(58 / 60)
    assert not math.isnan(row["oee"])


# ------------------------------------------------------------------ array piping


def test_array_functions_take_the_array_piped_or_named() -> None:
    src = 'import "array"\n'
    src += "a = [3, 1] |> array.concat(v: [2]) |> array.filter(fn: (x) => x > 1)\n"
    src += "array.from(rows: array.map(arr: a, fn: (x) => ({v: x * 10})))"
    [(_, rows)] = tables(src)
    assert [r["v"] for r in rows] == [30, 20]
