"""Wide scans (one row per series and time, fields as columns) agree with the long scan."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pytest

from fluxlab.model.lineprotocol import decode
from fluxlab.storage import Store
from fluxlab.storage.predicate import Cmp, Or
from fluxlab.storage.wide import SERIES_COLUMN, TagIn, distinct_tag_values, scan_wide

LINES = """\
cpu,host=a,cell=89c4 usage=1.5,temp=40i 10
cpu,host=a,cell=89c4 usage=2.5 20
cpu,host=b,cell=89c5 temp=41i 10
cpu,host=c usage=9.0 30
mem,host=a used=7i 10
"""


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store(tmp_path / "s") as s:
        s.create_bucket("b")
        decoded = decode(LINES.encode())
        assert not decoded.errors
        s.write("b", decoded.batches)
        yield s


def _long_values(store: Store, **kw: object) -> set[tuple]:
    out = set()
    for t in store.scan("b", start_ns=0, stop_ns=100, **kw):  # type: ignore[arg-type]
        for row in t.to_pylist():
            out.add((row["_measurement"], row.get("host"), row["_field"],
                     row["_time"].value if hasattr(row["_time"], "value") else row["_time"],
                     row["_value"]))
    return out


def _wide_values(parts: list) -> set[tuple]:
    out = set()
    for p in parts:
        for row in p.table.to_pylist():
            for f in p.fields:
                if row[f] is not None:
                    t = row["_time"]
                    out.add((p.measurement, row.get("host"), f,
                             t.value if hasattr(t, "value") else t, row[f]))
    return out


def test_wide_scan_holds_the_same_values_as_the_long_scan(store: Store) -> None:
    parts = scan_wide(store, "b", start_ns=0, stop_ns=100)
    assert {p.measurement for p in parts} == {"cpu", "mem"}
    cpu = next(p for p in parts if p.measurement == "cpu")
    assert cpu.fields == ("temp", "usage") and cpu.tags == ("cell", "host")
    assert cpu.table.column_names[-1] == SERIES_COLUMN
    assert _wide_values(parts) == _long_values(store)


def test_field_predicates_select_columns_per_value(store: Store) -> None:
    pred = Or([Cmp("_field", "==", "usage"), Cmp("host", "==", "b")])
    parts = scan_wide(store, "b", start_ns=0, stop_ns=100, predicate=pred)
    assert _wide_values(parts) == _long_values(store, predicate=pred)
    assert {p.measurement for p in parts} == {"cpu"}  # mem's host=a, field used: no row


def test_tag_in_keeps_only_listed_values_and_drops_untagged_series(store: Store) -> None:
    parts = scan_wide(store, "b", start_ns=0, stop_ns=100, tag_in=TagIn("cell", ["89c4"]))
    (cpu,) = parts
    assert set(cpu.table.column("cell").to_pylist()) == {"89c4"}
    assert cpu.table.num_rows == 2


def test_time_range_is_half_open(store: Store) -> None:
    parts = scan_wide(store, "b", start_ns=10, stop_ns=20)
    assert {r["_time"].value if hasattr(r["_time"], "value") else r["_time"]
            for p in parts for r in p.table.to_pylist()} == {10}


def test_distinct_values_flag_series_without_the_tag(store: Store) -> None:
    values = distinct_tag_values(store, "b", "cell", start_ns=0, stop_ns=100)
    assert isinstance(values, pa.Array)
    assert set(values.to_pylist()) == {"89c4", "89c5", None}  # host=c and mem lack it
    only_cpu = distinct_tag_values(store, "b", "cell", start_ns=0, stop_ns=100,
                                   predicate=Cmp("_measurement", "==", "cpu"))
    assert None in only_cpu.to_pylist()  # host=c
    assert len(distinct_tag_values(store, "b", "cell", start_ns=50, stop_ns=60)) == 0
