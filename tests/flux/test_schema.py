"""influxdata/influxdb/schema and v1 functions, reading through the `_from` option."""

from __future__ import annotations

import polars as pl

from fluxlab.flux.context import Context
from fluxlab.flux.interpreter import Interpreter
from fluxlab.flux.parser import parse
from fluxlab.flux.table import TIME_TYPE, Stream

T0 = 1_527_018_796_000_000_000  # 2018-05-22T19:53:16Z

ROWS = pl.DataFrame({
    "_time": [T0, T0, T0, T0, T0],
    "_measurement": ["cpu", "cpu", "cpu", "swap", "swap"],
    "host": ["h.local", "h.global", "h.local", "h.local", "h.local"],
    "cpu": ["cpu0", "cpu1", "cpu0", None, None],
    "partition": [None, None, None, "/dev/sda1", "/dev/sdb1"],
    "_field": ["usage_idle", "usage_idle", "usage_user", "used_percent", "used_percent"],
    "_value": [1.0, 2.0, 3.0, 4.0, 5.0],
}).with_columns(pl.col("_time").cast(TIME_TYPE))


def bucket() -> Stream:
    cpu = ROWS.filter(pl.col("_measurement") == "cpu").drop("partition")
    swap = ROWS.filter(pl.col("_measurement") == "swap").drop("cpu")
    return Stream([
        *Stream.from_frame(cpu, ["_measurement", "_field", "host", "cpu"]),
        *Stream.from_frame(swap, ["_measurement", "_field", "host", "partition"]),
    ])


PRELUDE = """import "influxdata/influxdb/schema"
import "influxdata/influxdb/v1"
option schema._from = (bucket) => data
start = 2018-05-22T19:53:00Z
stop = 2018-05-22T19:54:00Z
"""


def values(query: str) -> list[str]:
    interp = Interpreter(Context())
    interp.globals.define("data", bucket())
    result = interp.run(parse(PRELUDE + query))["_result"]
    return sorted(v for t in result for v in t.df.get_column("_value").to_list())


def test_tag_values_and_measurement_tag_values() -> None:
    assert values('schema.tagValues(bucket: "b", tag: "host", start, stop)') == [
        "h.global", "h.local"]
    assert values('schema.measurementTagValues(bucket: "b", measurement: "swap", '
                  'tag: "partition", start, stop)') == ["/dev/sda1", "/dev/sdb1"]
    assert values('schema.tagValues(bucket: "b", tag: "cpu", '
                  'predicate: (r) => r._field == "used_percent", start, stop)') == []


def test_tag_keys_with_and_without_predicate() -> None:
    everything = values('schema.tagKeys(bucket: "b", start, stop)')
    assert everything == ["_field", "_measurement", "_start", "_stop", "cpu", "host",
                          "partition"]
    cpu = values('schema.tagKeys(bucket: "b", predicate: (r) => r._measurement == "cpu", '
                 'start, stop)')
    assert cpu == ["_field", "_measurement", "_start", "_stop", "cpu", "host"]
    assert values('schema.measurementTagKeys(bucket: "b", measurement: "cpu", start, stop)') == cpu


def test_field_keys_measurements_and_v1_aliases() -> None:
    assert values('schema.fieldKeys(bucket: "b", start, stop)') == [
        "usage_idle", "usage_user", "used_percent"]
    assert values('v1.measurementFieldKeys(bucket: "b", measurement: "cpu", start, stop)') == [
        "usage_idle", "usage_user"]
    assert values('schema.measurements(bucket: "b", start, stop)') == ["cpu", "swap"]


def test_fields_as_cols_pivots_fields_per_series() -> None:
    interp = Interpreter(Context())
    interp.globals.define("data", bucket())
    out = interp.run(parse(PRELUDE + "data |> v1.fieldsAsCols()"))["_result"]
    cpu0 = [t for t in out if t.key_dict().get("cpu") == "cpu0"][0]
    assert cpu0.key == ("_measurement", "host", "cpu")
    assert cpu0.df.select("usage_idle", "usage_user").to_dict(as_series=False) == {
        "usage_idle": [1.0], "usage_user": [3.0]}


def test_schema_functions_read_the_embedded_store(tmp_path) -> None:
    import pyarrow as pa

    from fluxlab.model.points import PointBatch
    from fluxlab.storage import Store

    store = Store(tmp_path / "store")
    store.create_bucket("b")
    cpu = pa.table({"time": pa.array([1, 2], pa.int64()), "host": ["a", "b"],
                    "usage": [1.0, 2.0]})
    disk = pa.table({"time": pa.array([1], pa.int64()), "path": ["/"], "free": [5]})
    store.write("b", [PointBatch("cpu", cpu, ("host",), ("usage",)),
                      PointBatch("disk", disk, ("path",), ("free",))])
    def run(query: str) -> list[str]:
        interp = Interpreter(Context(source=store))
        out = interp.run(parse('import "influxdata/influxdb/schema"\n' + query))["_result"]
        return sorted(v for t in out for v in t.df.get_column("_value").to_list())

    window = "start: 1970-01-01T00:00:00Z, stop: 1970-01-02T00:00:00Z"
    assert run(f'schema.measurements(bucket: "b", {window})') == ["cpu", "disk"]
    assert run(f'schema.measurementTagValues(bucket: "b", measurement: "cpu", tag: "host", '
               f'{window})') == ["a", "b"]
    assert run(f'schema.measurementFieldKeys(bucket: "b", measurement: "disk", {window})') == [
        "free"]
    store.close()
