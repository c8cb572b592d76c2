"""holtWinters: bucketing onto an even grid, forecasts of series with an exact model,
and the empty result for series too short to fit."""

from __future__ import annotations

from typing import Any

import pytest

from fluxlab.flux import run
from fluxlab.flux.compile import frame_records
from fluxlab.flux.errors import FluxError
from fluxlab.flux.values import Time

HOUR = 3600 * 10**9
T0 = 1_600_000_000 * 10**9  # 2020-09-13T12:26:40Z


def _series(values: list[float], step_h: float = 1.0) -> str:
    rows = ", ".join(
        f'{{_time: time(v: {T0 + int(i * step_h * HOUR)}), _value: {v}, tag: "a"}}'
        for i, v in enumerate(values)
    )
    return f'import "array"\narray.from(rows: [{rows}]) |> group(columns: ["tag"])\n'


def tables(source: str) -> list[tuple[dict[str, Any], list[dict[str, Any]]]]:
    stream = next(iter(run(source).values()))
    return [(t.key_dict(), frame_records(t.df)) for t in stream]


def test_linear_trend_continues() -> None:
    src = _series([float(v) for v in range(1, 11)]) + "  |> holtWinters(n: 3, interval: 1h)"
    [(key, rows)] = tables(src)
    assert key == {"tag": "a"}
    assert [r["_value"] for r in rows] == pytest.approx([11.0, 12.0, 13.0], rel=1e-4)
    assert [r["_time"] for r in rows] == [Time(T0 + k * HOUR) for k in (10, 11, 12)]
    assert set(rows[0]) == {"tag", "_time", "_value"}


def test_repeating_season_is_continued() -> None:
    pattern = [2.0, 4.0, 1.0, 3.0]
    src = _series(pattern * 4) + "  |> holtWinters(n: 6, interval: 1h, seasonality: 4)"
    [(_, rows)] = tables(src)
    assert [r["_value"] for r in rows] == pytest.approx(pattern + pattern[:2], rel=1e-4)


def test_with_fit_adds_fitted_values_before_the_forecasts() -> None:
    src = _series([float(v) for v in range(1, 11)])
    src += "  |> holtWinters(n: 2, interval: 1h, withFit: true)"
    [(_, rows)] = tables(src)
    assert len(rows) == 9 + 2  # one-step fits for points 2..10, then the forecasts
    assert rows[0]["_time"] == Time(T0 + HOUR)
    assert rows[0]["_value"] == pytest.approx(2.0, rel=1e-4)


def test_values_are_bucketed_first_value_wins_and_gaps_are_filled() -> None:
    # 30-min data on a 1h grid: buckets keep 1, 3, 5, ... (every other value), then
    # the trend of +2 per hour continues
    src = _series([float(v) for v in range(1, 21)], step_h=0.5)
    src += "  |> holtWinters(n: 1, interval: 1h)"
    [(_, rows)] = tables(src)
    assert rows[0]["_value"] == pytest.approx(21.0, rel=1e-4)
    assert rows[0]["_time"] == Time(T0 + 10 * HOUR)


def test_too_short_series_gives_an_empty_key_only_table() -> None:
    src = _series([1.0, 2.0, 3.0]) + "  |> holtWinters(n: 3, interval: 1h, seasonality: 4)"
    assert tables(src) == [({"tag": "a"}, [])]
    stream = next(iter(run(src).values()))
    assert stream.tables[0].df.columns == ["tag"]


def test_bad_interval_is_rejected() -> None:
    with pytest.raises(FluxError, match="interval"):
        run(_series([1.0, 2.0]) + "  |> holtWinters(n: 1, interval: 1mo)")
