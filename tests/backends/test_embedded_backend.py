"""EmbeddedBackend on a real DuckDB store in tmp_path."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa

from fluxlab.backends import connect
from fluxlab.backends.config import default_store_path
from fluxlab.backends.embedded import EmbeddedBackend
from fluxlab.model.points import FieldType, PointBatch


def cpu_batch() -> PointBatch:
    table = pa.table({
        "time": pa.array([1_000, 2_000, 3_000], pa.int64()),
        "host": pa.array(["a", "b", "a"]),
        "usage": pa.array([1.5, 2.5, 3.5]),
        "count": pa.array([3, 4, 5], pa.int64()),
    })
    return PointBatch("cpu", table, tags=("host",), fields=("usage", "count"))


def test_connect_defaults_to_embedded_store_in_user_data_dir() -> None:
    with connect() as backend:
        assert isinstance(backend, EmbeddedBackend)
        assert backend.path == default_store_path()
    assert default_store_path().is_dir()


def test_bucket_lifecycle(tmp_path: Path) -> None:
    with connect(store=tmp_path / "s") as backend:
        created = backend.create_bucket("air", description="pm", retention_ns=3600 * 10**9)
        assert (created.name, created.org, created.retention_ns) == ("air", "default", 3600 * 10**9)
        assert backend.ensure_bucket("air") == created
        renamed = backend.update_bucket("air", new_name="air2", description="pm2.5")
        assert (renamed.name, renamed.description) == ("air2", "pm2.5")
        assert [b.name for b in backend.list_buckets()] == ["air2"]
        backend.delete_bucket("air2")
        assert backend.list_buckets() == []


def test_write_query_schema_and_delete(tmp_path: Path) -> None:
    with EmbeddedBackend(tmp_path / "s") as backend:
        backend.create_bucket("m")
        summary = backend.write("m", [cpu_batch()])
        assert summary.rows_rejected == 0
        assert summary.detail.points_written == summary.points_written > 0
        assert backend.measurements("m") == ["cpu"]
        assert backend.field_keys("m", "cpu") == {
            "usage": FieldType.FLOAT, "count": FieldType.INTEGER,
        }
        assert backend.tag_keys("m", "cpu") == ["host"]
        assert backend.tag_values("m", "host") == ["a", "b"]

        backend.delete("m", start_ns=0, stop_ns=2_500, predicate='host="a"')
        rows = backend.sql('SELECT host, usage FROM "m"."cpu" ORDER BY usage').to_pylist()
        assert rows == [{"host": "b", "usage": 2.5}, {"host": "a", "usage": 3.5}]


def test_data_survives_reopening(tmp_path: Path) -> None:
    with EmbeddedBackend(tmp_path / "s") as backend:
        backend.create_bucket("m")
        backend.write("m", [cpu_batch()])
    with EmbeddedBackend(tmp_path / "s", read_only=True) as backend:
        assert backend.sql('SELECT count(*) AS n FROM "m"."cpu"').column("n")[0].as_py() == 3


def test_flux_runs_on_the_embedded_engine(tmp_path: Path) -> None:
    query = 'from(bucket: "m") |> range(start: 0) |> filter(fn: (r) => r._field == "count")'
    with EmbeddedBackend(tmp_path / "s") as backend:
        backend.create_bucket("m")
        backend.write("m", [cpu_batch()])
        tables = backend.flux(query)
        text = backend.flux_csv(query)
    assert [t.column("host")[0].as_py() for t in tables] == ["a", "b"]
    assert [t.column("_value").to_pylist() for t in tables] == [[3, 5], [4]]
    assert [t.column("table")[0].as_py() for t in tables] == [0, 1]
    assert {t.column("result")[0].as_py() for t in tables} == {"_result"}
    assert "#datatype" in text and "#default,_result" in text and "\r\n,,1," in text


def test_write_line_protocol_keeps_good_lines_and_reports_bad_ones(tmp_path: Path) -> None:
    text = "cpu,host=a usage=1 1000\ncpu,host=a usage= 2000\ncpu,host=b usage=3 3000\n"
    with EmbeddedBackend(tmp_path / "s") as backend:
        backend.create_bucket("m")
        summary = backend.write_line_protocol("m", text, source="body")
        hosts = backend.sql('SELECT host FROM "m"."cpu" ORDER BY host').column("host")
    assert hosts.to_pylist() == ["a", "b"]
    assert summary.rows_rejected == 1
    (bad,) = summary.line_errors
    assert (bad.source, bad.line) == ("body", 2) and "usage" in bad.message
