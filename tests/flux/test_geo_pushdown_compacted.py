"""geo pushdown on a compacted store (points clustered by series key and time, series
ids renumbered): results must stay exactly the unpushed ones, also when writes and
deletes follow the compaction (the cached cell tokens must notice)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from test_geo_pushdown import (
    ALL,
    BIRDS,
    CITY,
    REGIONS,
    _incident_lines,
    _lines,
    assert_close,
    assert_same,
    run,
    run_mode,
)

from fluxlab.flux.stdlib import geo_pushdown
from fluxlab.model.lineprotocol import decode
from fluxlab.storage import Store

SHAPES = [
    "{lat: 41.76, lon: -72.68, radius: 30.0}",
    "{minLat: 48.5, minLon: 2.0, maxLat: 49.0, maxLon: 2.8}",
    "{points: [{lat: 41.5, lon: -73.0}, {lat: 42.2, lon: -72.7}, {lat: 41.6, lon: -72.2}]}",
]


def _compacted(path: Path, bucket: str, lines: list[str]) -> Store:
    decoded = decode("\n".join(lines).encode())
    assert not decoded.errors
    store = Store(path)
    store.create_bucket(bucket)
    store.write(bucket, decoded.batches)
    report = store.compact()
    assert report.rows == sum(b.num_rows for b in decoded.batches) and store.check().ok
    return store


@pytest.fixture(scope="module")
def birds(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    with _compacted(tmp_path_factory.mktemp("geo_compacted") / "s", "birds", _lines()) as s:
        yield s


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    path = tmp_path_factory.mktemp("geo_compacted_city") / "s"
    with _compacted(path, "city", _incident_lines()) as s:
        yield s


@pytest.mark.parametrize("strict", ["true", "false"])
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("source", [BIRDS, ALL])
def test_filter_rows_after_compaction_equals_unpushed(
    birds: Store, source: str, shape: str, strict: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    query = f"{source} |> geo.filterRows(region: {shape}, strict: {strict})"
    pushed = run(birds, query, True, monkeypatch)
    assert_same(pushed, run(birds, query, False, monkeypatch))
    assert sum(t.height for t in pushed) > 0


@pytest.mark.parametrize("region", REGIONS[:3])
@pytest.mark.parametrize("agg", ['count(column: "case")', 'mean(column: "w")'])
def test_pushed_aggregate_after_compaction_equals_unpushed(
    city: Store, region: str, agg: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    query = (f"{CITY} |> geo.filterRows(region: {region}) |> group(columns: [\"neighborhood\"])"
             f" |> {agg}")
    pushed = run_mode(city, query, "agg", monkeypatch)
    assert_close(pushed, run_mode(city, query, "plain", monkeypatch))
    assert pushed.tables


def test_writes_and_deletes_after_compaction_are_seen(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """New series (a new cell) after a compaction, a delete emptying series, and a second
    compaction that renumbers again: each query equals the unpushed one."""
    query = f"{BIRDS} |> geo.filterRows(region: {SHAPES[0]})"
    with _compacted(tmp_path / "s", "birds", _lines()) as store:
        first = run(store, query, True, monkeypatch)
        assert_same(first, run(store, query, False, monkeypatch))
        t = 1_700_000_000_000_000_000 + 7
        new = decode(f"migration,id=b9,s2_cell_id=89e6f54 lat=41.77,lon=-72.69 {t}".encode())
        store.write("birds", new.batches)
        after_write = run(store, query, True, monkeypatch)
        assert_same(after_write, run(store, query, False, monkeypatch))
        assert sum(x.height for x in after_write) == sum(x.height for x in first) + 1
        store.delete("birds", start_ns=0, stop_ns=2**62, predicate='id="b0"')
        assert store.compact().rows > 0
        after_compact = run(store, query, True, monkeypatch)
        assert_same(after_compact, run(store, query, False, monkeypatch))
        assert after_compact.tables and all("b0" not in x.key_values for x in after_compact)


@pytest.mark.parametrize("runs", [1, 3, 50])
def test_code_then_time_order_equals_lexsort(runs: int) -> None:
    """The radix-sort shortcut gives lexsort's permutation whether the rows come in
    (code, time) runs, as from a compacted store, or shuffled (runs=50)."""
    rng = np.random.default_rng(runs)
    code = np.repeat(np.arange(40, dtype=np.uint16), 25)
    time = np.tile(np.arange(25, dtype=np.int64) * 7, 40) + rng.integers(0, 3, 1000)
    time = time + np.arange(1000) * 10**6 % 11  # distinct times per code
    pieces = np.array_split(np.arange(1000), runs)
    rng.shuffle(pieces)
    perm = np.concatenate(pieces)
    got = geo_pushdown._by_code_then_time(code[perm], time[perm])
    want = np.lexsort((time[perm], code[perm]))
    assert (code[perm][got] == code[perm][want]).all()
    assert (time[perm][got] == time[perm][want]).all()
