"""`from |> range |> filter |> group(columns:)` read straight into group tables must equal
the general path (one table per series, then `group`), in tables, keys, columns and rows."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest

from fluxlab import flux
from fluxlab.flux.stdlib import from_store
from fluxlab.model.points import PointBatch
from fluxlab.storage import Store

T0 = 1_700_000_000_000_000_000
RANGE = "range(start: 2023-11-10T00:00:00Z, stop: 2023-12-20T00:00:00Z)"
NO_SHORTCUT = " |> filter(fn: (r) => true)"  # a residual filter: the general path
# tag values whose byte order differs from column-by-column order ("a b" < "a," < "ab")
HOSTS = np.array(["a", "a b", "ab", "a!", "B", "é"])


def _batch(rng: np.random.Generator, measurement: str, n: int, fields: tuple[str, ...]) -> PointBatch:
    columns: dict[str, Any] = {
        "time": pa.array(T0 + rng.integers(0, 20 * 86_400, n) * 10**9, pa.int64()),
        "host": pa.array(HOSTS[rng.integers(0, len(HOSTS), n)]),
        "region": pa.array(np.array(["east", "west", "north"])[rng.integers(0, 3, n)]),
    }
    for name in fields:
        columns[name] = pa.array(np.round(rng.normal(10, 3, n), 1))  # ties for max/min
    return PointBatch(measurement, pa.table(columns), ("host", "region"), fields)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    path: Path = tmp_path_factory.mktemp("group-read") / "store"
    rng = np.random.default_rng(11)
    with Store(path) as s:
        s.create_bucket("b")
        s.write("b", [_batch(rng, "cpu", 2500, ("x", "y")), _batch(rng, "disk", 800, ("x",))])
        yield s


def _spy(monkeypatch: pytest.MonkeyPatch, module: Any, name: str,
         judge: Callable[[Any], bool]) -> list[bool]:
    """Replace `module.name` by a wrapper recording `judge(result)` of every call."""
    seen: list[bool] = []
    real = getattr(module, name)

    def spy(*args: Any, **kwargs: Any) -> Any:
        out = real(*args, **kwargs)
        seen.append(judge(out))
        return out

    monkeypatch.setattr(module, name, spy)
    return seen


@pytest.fixture
def shortcut(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Records whether each read took the direct group path."""
    return _spy(monkeypatch, from_store, "_grouped_directly", lambda out: out is not None)


def _dump(results: dict[str, Any]) -> list[tuple[Any, ...]]:
    return [(name, t.key, t.key_values, list(t.df.schema.items()), t.df.rows())
            for name, stream in results.items() for t in stream]


@pytest.mark.parametrize("tail", [
    ' |> group(columns: ["region"]) |> spread()',
    " |> group() |> first()",
    ' |> group(columns: ["host", "_field"]) |> last()',
    ' |> group(columns: ["region", "_measurement"]) |> top(n: 3)',
    ' |> group(columns: ["_field", "nope"]) |> sort(columns: ["_value"]) |> limit(n: 4)',
    ' |> group(columns: ["host"]) |> keep(columns: ["_time", "_value", "host", "region"])',
])
@pytest.mark.parametrize("where", ["", ' |> filter(fn: (r) => r._field == "x")'])
def test_direct_group_read_equals_the_general_path(
    store: Store, shortcut: list[bool], tail: str, where: str
) -> None:
    head = f'from(bucket: "b") |> {RANGE}{where}'
    direct = _dump(flux.run(head + tail, source_store=store))
    general = _dump(flux.run(head + NO_SHORTCUT + tail, source_store=store))
    assert shortcut[0] is True and shortcut[1] is False
    assert direct == general
    assert direct


def test_series_with_other_tag_sets_take_the_general_path(
    tmp_path: Path, shortcut: list[bool]
) -> None:
    rng = np.random.default_rng(3)
    with Store(tmp_path / "s") as s:
        s.create_bucket("b")
        s.write("b", _batch(rng, "cpu", 300, ("x",)))
        lone = pa.table({"time": pa.array([T0 + 7], pa.int64()), "x": [1.0]})
        s.write("b", PointBatch("cpu", lone, (), ("x",)))
        head = f'from(bucket: "b") |> {RANGE}'
        for tail in (' |> group(columns: ["region"]) |> first()',
                     ' |> group(columns: ["region"]) |> max()'):
            direct = _dump(flux.run(head + tail, source_store=s))
            general = _dump(flux.run(head + NO_SHORTCUT + tail, source_store=s))
            assert direct == general
    assert shortcut[0] is False  # first(): read, but not straight into groups
    assert shortcut[-2:] == [False, False]  # max(): SQL gave up (tag sets differ), then read


@pytest.fixture
def extremes(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Records whether `group |> max/min` was answered by the store's SQL."""
    from fluxlab.storage import pushdown

    def answered(out: Any) -> bool:
        complete = out[1].column("complete").to_pylist() if out is not None else []
        return bool(complete) and all(complete)

    return _spy(monkeypatch, pushdown, "group_extremes", answered)


@pytest.mark.parametrize("fn", ["max", "min"])
@pytest.mark.parametrize("columns", ['["region"]', '["host"]', "[]", '["_field", "host"]',
                                     '["_measurement", "nope", "_start"]'])
@pytest.mark.parametrize("where", ["", ' |> filter(fn: (r) => r._field == "x")',
                                   ' |> filter(fn: (r) => r.host == "a b" or r.host == "a")'])
def test_group_extremes_from_sql_equal_the_general_path(
    store: Store, extremes: list[bool], fn: str, columns: str, where: str
) -> None:
    head = f'from(bucket: "b") |> {RANGE}{where}'
    tail = f" |> group(columns: {columns}) |> {fn}()"
    pushed = _dump(flux.run(head + tail, source_store=store))
    general = _dump(flux.run(head + NO_SHORTCUT + tail, source_store=store))
    assert extremes == [True]
    assert pushed == general and pushed


def test_group_extremes_keep_the_first_of_tied_rows(tmp_path: Path, extremes: list[bool]) -> None:
    second = 10**9
    times = [T0 + 3 * second, T0 + second, T0 + 2 * second, T0 + second]
    table = pa.table({"time": pa.array(times, pa.int64()), "host": ["b", "b", "a b", "a"],
                      "region": ["e", "e", "e", "e"], "x": [5.0, 5.0, 5.0, 4.0]})
    with Store(tmp_path / "s") as s:
        s.create_bucket("b")
        s.write("b", PointBatch("cpu", table, ("host", "region"), ("x",)))
        query = f'from(bucket: "b") |> {RANGE} |> group(columns: ["region"]) |> max()'
        pushed = _dump(flux.run(query, source_store=s))
        general = _dump(flux.run(query.replace(" |> group", NO_SHORTCUT + " |> group"),
                                 source_store=s))
    assert extremes == [True]
    assert pushed == general
    row = pushed[0][4][0]
    winner = datetime.fromtimestamp((T0 + 2 * second) // second, UTC)
    assert "a b" in row and row[2] == winner  # series "a b" sorts before "b" in keys
